//! License files: `GET …/allocations/{allocation_id}/license-file` downloads an
//! allocation's signed file, and `GET /v1/license-file-keys` publishes the public
//! keys that verify them.
//!
//! A file is rendered from the read model on each download, never stored: its
//! content is a function of the allocation's current revision (the license
//! version at which it was issued), and its signature is deterministic, so the
//! same revision always gives the same bytes. A moved or returned allocation's
//! file, or an older revision, is void: 410, pointing to its successor if any.

use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ledger_domain::keys::Keyring;
use ledger_domain::license_file::{self, FileIdentity, LicenseFileContent, SignError, VendorName};
use ledger_domain::{AccountId, AllocationId, BindingType, HostId, LicenseId};
use ledger_projections::license_view::AllocationRow;
use ledger_projections::queries::license_files::FileSource;
use ledger_projections::queries::{self, LicenseDetails};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::app::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{if_none_match_hits, path_param, QueryParams};
use crate::http::openapi::{AllocationPath, LicenseFileErrors, MinPosition, QueryErrors};
use crate::http::routes::read_options;
use crate::signing_keys::PublishedKeys;

/// The license-file routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(download))
        .routes(routes!(keys))
}

/// Which issued file to download.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileRevision {
    /// The license version the file was issued at (the allocation's
    /// `file_revisions`); default the current file. An older one answers 410.
    #[param(minimum = 1)]
    pub revision: Option<i64>,
}

/// What signing needs: the configured keys and the vendor daemon name.
#[derive(Debug, Clone)]
pub struct LicenseFiles {
    /// Signing and verify-only keys.
    pub keyring: Arc<Keyring>,
    /// `VENDOR` and the `INCREMENT` vendor field.
    pub vendor: VendorName,
}

fn file_url(account: AccountId, license: LicenseId, allocation: uuid::Uuid) -> String {
    format!("/v1/accounts/{account}/licenses/{license}/allocations/{allocation}/license-file")
}

/// An allocation's signed license file, in FlexNet's text format.
///
/// The same allocation state gives the same bytes. A void file (the allocation
/// moved or was returned, or a renewal or upgrade re-issued it) answers 410 with
/// its successor in `replaced_by` and a `Link: <…>; rel="successor-version"`.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/licenses/{license_id}/allocations/{allocation_id}/license-file",
    operation_id = "download_license_file",
    tag = "license-files",
    params(AllocationPath, FileRevision, MinPosition),
    responses(
        (status = 200, description = "The license file", body = String,
            content_type = "text/plain; charset=utf-8",
            headers(
                ("ETag" = String, description = "The file's strong ETag; `If-None-Match` with it answers 304"),
                ("Content-Disposition" = String, description = "attachment; filename=\"<feature>-<allocation id>.lic\""),
            )),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        LicenseFileErrors,
    ),
)]
async fn download(
    State(state): State<AppState>,
    Path((account_id, license_id, allocation_id)): Path<(String, String, String)>,
    params: QueryParams,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    params.only(&["revision", "min_position"])?;
    let account: AccountId = path_param("account_id", &account_id)?;
    let license: LicenseId = path_param("license_id", &license_id)?;
    let allocation: AllocationId = path_param("allocation_id", &allocation_id)?;
    let revision = params.get("revision", |raw| {
        raw.parse::<i64>()
            .ok()
            .filter(|r| *r >= 1)
            .ok_or_else(|| "a license file revision: a whole number from 1".to_owned())
    })?;
    read_options::wait_for_min_position(&state, &params).await?;
    let details = queries::license(&state.pool, account.0, license.0)
        .await
        .context("reading the license")?
        .ok_or_else(|| ApiError::NotFound("no such license or allocation".into()))?;
    let row = details
        .allocations
        .iter()
        .find(|a| a.allocation_id == allocation.0)
        .ok_or_else(|| ApiError::NotFound("no such license or allocation".into()))?;
    let revision = revision.unwrap_or(row.file_revision);
    if !row.file_revisions.contains(&revision) {
        return Err(ApiError::NotFound(format!(
            "allocation {allocation} was never issued a license file at revision {revision}"
        )));
    }
    if row.status != "live" || revision != row.file_revision {
        return Err(void(account, license, &details, row, revision));
    }
    let content = content(&state, account, &FileSource::of(&details.license, row))?;
    let text = license_file::sign(&content, &state.license_files.keyring).map_err(sign_error)?;
    let filename = format!("{}-{}.lic", details.license.feature, row.allocation_id);
    file_answer(text, &filename, &headers)
}

/// A signing failure as an answer: 503 when no key can sign.
pub(super) fn sign_error(error: SignError) -> ApiError {
    match error {
        SignError::NoSigningKey => ApiError::SigningUnavailable,
        other => ApiError::Internal(other.into()),
    }
}

/// A license file's answer: its text (or 304 when `request`'s `If-None-Match`
/// names it), its strong ETag — the SHA-256 of its bytes, so it changes exactly
/// when they do — and saved as `filename`.
pub(super) fn file_answer(
    text: String,
    filename: &str,
    request: &HeaderMap,
) -> Result<Response, ApiError> {
    let etag = format!("\"{:x}\"", Sha256::digest(text.as_bytes()));
    let fresh = if_none_match_hits(request, &etag);
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        text.into_response()
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ),
        (header::ETAG, etag),
        // Every use asks again: the file may have been made void since.
        (header::CACHE_CONTROL, "private, no-cache".to_owned()),
    ] {
        let value = HeaderValue::try_from(value).map_err(anyhow::Error::from)?;
        headers.insert(name, value);
    }
    Ok(response)
}

/// The 410 for a void file: why, and where its successor is.
fn void(
    account: AccountId,
    license: LicenseId,
    details: &LicenseDetails,
    row: &AllocationRow,
    revision: i64,
) -> ApiError {
    let (successor, why) = match row.status.as_str() {
        "live" => (
            Some(row.allocation_id),
            format!("revision {} replaced it", row.file_revision),
        ),
        "moved" => (
            row.replaced_by,
            "the allocation moved to another license server".to_owned(),
        ),
        _ => (None, "the allocation was returned".to_owned()),
    };
    let replaced_by = successor.map(|id| {
        let href = file_url(account, license, id);
        let current = details
            .allocations
            .iter()
            .find(|a| a.allocation_id == id)
            .map(|a| a.file_revision);
        json!({"allocation_id": id, "revision": current, "href": href})
    });
    let mut members = serde_json::Map::new();
    members.insert("allocation_id".into(), json!(row.allocation_id));
    members.insert("revision".into(), json!(revision));
    members.insert("allocation_status".into(), json!(row.status));
    members.insert("replaced_by".into(), json!(replaced_by));
    ApiError::Gone {
        code: "license-file-void",
        detail: format!(
            "the license file of allocation {} at revision {revision} is void: {why}",
            row.allocation_id
        ),
        members,
        successor: successor.map(|id| file_url(account, license, id)),
    }
}

/// A file's content from what the read model holds of its allocation.
pub(super) fn content(
    state: &AppState,
    account: AccountId,
    source: &FileSource,
) -> Result<LicenseFileContent, ApiError> {
    let binding_type = BindingType::parse(&source.binding_type)
        .map_err(|e| anyhow::anyhow!("license {}: {e}", source.license_id))?;
    Ok(LicenseFileContent {
        identity: FileIdentity {
            account_id: account,
            license_id: LicenseId(source.license_id),
            allocation_id: AllocationId(source.allocation_id),
            revision: source.file_revision,
        },
        binding_type,
        host: HostId::recorded(&source.host),
        vendor: state.license_files.vendor.clone(),
        feature: source.feature.clone(),
        maintenance_until: source.maintenance_until,
        expires_on: source.expires_on,
        // The column's CHECK keeps it at 1 or more.
        count: u32::try_from(source.quantity).unwrap_or(0),
        trial: source.trial,
        overdraft_percent: state.allowance.percent(&source.feature),
        issued_at: source.file_issued_at,
        order_number: source.order_number.clone(),
        access_code: source.access_code.clone(),
    })
}

/// The public keys license files are signed with, by key id, for anyone who
/// verifies files offline.
#[utoipa::path(
    get,
    path = "/v1/license-file-keys",
    operation_id = "list_license_file_keys",
    tag = "license-files",
    responses((status = 200, description = "Every configured key, oldest first", body = PublishedKeys), QueryErrors),
)]
async fn keys(
    State(state): State<AppState>,
    params: QueryParams,
) -> Result<Json<PublishedKeys>, ApiError> {
    params.only(&[])?;
    Ok(Json(PublishedKeys::of(&state.license_files.keyring)))
}
