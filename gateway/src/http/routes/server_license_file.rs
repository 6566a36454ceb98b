//! `GET /v1/accounts/{account_id}/license-servers/{host}/license-file`: the
//! portal's "Download all licenses" — one signed file holding every live
//! allocation on a license server, which `lmreread -all` reads in.
//!
//! Its `INCREMENT` lines are the allocations' own (the same tokens and signature
//! as each allocation's file), so it is rendered from the read model on each
//! download like them, never stored, and the same allocations always give the
//! same bytes. One read fetches every allocation on the host, along the index of
//! live allocations by host; signing (one Ed25519 signature per allocation) runs
//! off the async workers, since a server may hold thousands.

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use ledger_domain::license_file;
use ledger_domain::{AccountId, BindingType};
use ledger_projections::queries::license_files::server_file_sources;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::app::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{path_param, QueryParams};
use crate::http::openapi::{BindingTypeName, MinPosition, ServerFileErrors};
use crate::http::routes::license_files::{content, file_answer, sign_error};
use crate::http::routes::license_servers::{check_host, HostPath};
use crate::http::routes::read_options;

/// The route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(download_server_file))
}

/// Which of a host's allocations a file holds.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServerFileQuery {
    /// Only allocations of licenses with this binding type. Needed only when the
    /// host holds allocations of several (a file has one host id): without it,
    /// such a host answers 409 `several-host-ids`.
    #[param(inline)]
    pub binding_type: Option<BindingTypeName>,
}

/// Every live allocation on one license server, in one signed license file.
///
/// The `SERVER`, `VENDOR` and `USE_SERVER` lines once, then one `INCREMENT` per
/// live allocation, by license id then allocation id, each exactly as in the
/// allocation's own file (same signature), after comments naming its license,
/// allocation and revision. The same allocations give the same bytes. A host with
/// no live allocation in the account is 404, as `GET /license-servers/{host}` is.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/license-servers/{host}/license-file",
    operation_id = "download_license_server_file",
    tag = "license-files",
    params(HostPath, ServerFileQuery, MinPosition),
    responses(
        (status = 200, description = "The license server's file", body = String,
            content_type = "text/plain; charset=utf-8",
            headers(
                ("ETag" = String, description = "The file's strong ETag; `If-None-Match` with it answers 304"),
                ("Content-Disposition" = String, description = "attachment; filename=\"<host>.lic\" (characters other than letters, digits, `.`, `_` and `-` as `_`)"),
            )),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        ServerFileErrors,
    ),
)]
async fn download_server_file(
    State(state): State<AppState>,
    Path((account_id, host)): Path<(String, String)>,
    params: QueryParams,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    params.only(&["binding_type", "min_position"])?;
    let account: AccountId = path_param("account_id", &account_id)?;
    check_host(&host)?;
    let binding_type = params.get("binding_type", |raw| {
        BindingType::parse(raw)
            .map(|binding| binding.as_str())
            .map_err(|e| e.to_string())
    })?;
    read_options::wait_for_min_position(&state, &params).await?;
    let sources = server_file_sources(&state.pool, account.0, &host, binding_type)
        .await
        .context("reading the server's allocations")?;
    if sources.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no live allocation on license server `{host}`{}",
            binding_type.map_or_else(String::new, |b| format!(" of binding type {b}"))
        )));
    }
    let mut binding_types: Vec<String> = sources.iter().map(|s| s.binding_type.clone()).collect();
    binding_types.sort();
    binding_types.dedup();
    if binding_types.len() > 1 {
        return Err(ApiError::SeveralHostIds {
            host,
            binding_types,
        });
    }
    let contents = sources
        .iter()
        .map(|source| content(&state, account, source))
        .collect::<Result<Vec<_>, _>>()?;
    let keyring = state.license_files.keyring.clone();
    let text =
        tokio::task::spawn_blocking(move || license_file::sign_server_file(&contents, &keyring))
            .await
            .context("signing the server's file")?
            .map_err(sign_error)?;
    file_answer(text, &format!("{}.lic", file_name(&host)), &headers)
}

/// `host` as a file name: letters, digits, `.`, `_` and `-` kept, anything else
/// (a quote, a slash, a space) as `_`.
fn file_name(host: &str) -> String {
    host.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_becomes_a_file_name_that_cannot_break_its_header() {
        assert_eq!(file_name("CTXSRV01.corp"), "CTXSRV01.corp");
        assert_eq!(file_name("a\"b/c d\\e"), "a_b_c_d_e");
        assert_eq!(file_name("0a1b2c3d4e5f"), "0a1b2c3d4e5f");
    }
}
