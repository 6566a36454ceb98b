//! `/v1/accounts` and `/v1/accounts/{account_id}/tokens`: admins create accounts and
//! issue their tokens (`ledger admin …` does the same from the command line).

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use ledger_domain::usage::ServerHost;
use ledger_domain::AccountId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::accounts::{self, Account, IssueTokenError};
use crate::auth::token::{IssueError, TokenRequest};
use crate::auth::{Caller, Role};
use crate::http::app::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{path_param, ApiJson, QueryParams};
use crate::http::openapi::{AccountPath, AdminErrors};

/// The admin routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(issue_token))
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// A name for people: 1 to 200 characters (trimmed).
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
}

/// Every account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accounts {
    /// Oldest first.
    pub accounts: Vec<Account>,
}

/// Creates an account; its id is in the answer and in `Location`.
#[utoipa::path(
    post,
    path = "/v1/accounts",
    operation_id = "create_account",
    tag = "accounts",
    request_body = NewAccount,
    responses((status = 201, description = "Created", body = Account), AdminErrors),
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewAccount>,
) -> Result<Response, ApiError> {
    let name = accounts::check_name(&body.name).map_err(|e| ApiError::bad_request("name", e))?;
    let account = accounts::create(&state.pool, name, &caller.subject)
        .await
        .context("creating the account")?;
    let location = format!("/v1/accounts/{}", account.account_id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(account),
    )
        .into_response())
}

/// Every account.
#[utoipa::path(
    get,
    path = "/v1/accounts",
    operation_id = "list_accounts",
    tag = "accounts",
    responses((status = 200, description = "Every account", body = Accounts), AdminErrors),
)]
async fn list(
    State(state): State<AppState>,
    params: QueryParams,
) -> Result<Json<Accounts>, ApiError> {
    params.only(&[])?;
    Ok(Json(Accounts {
        accounts: accounts::list(&state.pool)
            .await
            .context("listing the accounts")?,
    }))
}

/// What a new token grants.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Its role in the account (`admin` tokens come from `ledger admin issue-token`).
    pub role: Role,
    /// Who will hold it, recorded as the actor of its commands: 1 to 128 printable
    /// characters without spaces, e.g. `portal-backend` or `alice@example.com`.
    #[schema(min_length = 1, max_length = 128, pattern = "^[!-~]+$")]
    pub subject: String,
    /// The license server's host: required for `license_server`, refused otherwise.
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 253,
        pattern = "^[!-~]+$"
    )]
    pub host: Option<String>,
    /// Hours it is valid: 1 to 8,760 (a year); default 720 (30 days).
    #[schema(nullable = false, minimum = 1, maximum = 8760)]
    pub valid_for_hours: Option<u32>,
}

/// A token, shown once: the ledger keeps only what it grants.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewTokenIssued {
    /// The bearer token (`Authorization: Bearer <token>`). A secret.
    pub token: String,
    /// Its id (`jti`), recorded with every event it causes.
    pub token_id: Uuid,
    /// Its account.
    pub account_id: Uuid,
    /// Its role.
    pub role: Role,
    /// Its subject.
    pub subject: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Longest a token may be valid.
pub const MAX_VALID_FOR_HOURS: u32 = 8760;
/// How long a token is valid when not told.
pub const DEFAULT_VALID_FOR_HOURS: u32 = 720;

/// Issues a token of the account in the path.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/tokens",
    operation_id = "issue_token",
    tag = "accounts",
    params(AccountPath),
    request_body = NewToken,
    responses((status = 201, description = "Issued", body = NewTokenIssued), AdminErrors),
)]
async fn issue_token(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    caller: Caller,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<Response, ApiError> {
    let account: AccountId = path_param("account_id", &account_id)?;
    if body.role == Role::Admin {
        return Err(ApiError::bad_request(
            "role",
            "admin tokens belong to no account; issue them with `ledger admin issue-token`",
        ));
    }
    let host = match (body.role, body.host.as_deref()) {
        (Role::LicenseServer, Some(host)) => Some(
            ServerHost::parse(host).map_err(|e| ApiError::bad_request("host", e.to_string()))?,
        ),
        (Role::LicenseServer, None) => {
            return Err(ApiError::bad_request(
                "host",
                "a license_server token names its host",
            ))
        }
        (_, Some(_)) => {
            return Err(ApiError::bad_request(
                "host",
                "only a license_server token names a host",
            ))
        }
        (_, None) => None,
    };
    let hours = body.valid_for_hours.unwrap_or(DEFAULT_VALID_FOR_HOURS);
    if !(1..=MAX_VALID_FOR_HOURS).contains(&hours) {
        return Err(ApiError::bad_request(
            "valid_for_hours",
            format!("1 to {MAX_VALID_FOR_HOURS}"),
        ));
    }
    let request = TokenRequest {
        subject: body.subject,
        role: body.role,
        account: Some(account),
        host,
        valid_for: chrono::Duration::hours(hours.into()),
    };
    let issued =
        accounts::issue_token(&state.pool, &state.auth.verifier, &request, &caller.subject)
            .await
            .map_err(|error| match error {
                IssueTokenError::NoSuchAccount => ApiError::NotFound("no such account".into()),
                IssueTokenError::Issue(IssueError::Invalid(detail)) => {
                    ApiError::bad_request("subject", detail)
                }
                IssueTokenError::Issue(IssueError::NoSigningKey) => {
                    ApiError::TokenSigningUnavailable
                }
                IssueTokenError::Store(error) => {
                    ApiError::Internal(anyhow::Error::new(error).context("issuing the token"))
                }
            })?;
    Ok((
        StatusCode::CREATED,
        Json(NewTokenIssued {
            token: issued.token,
            token_id: issued.token_id,
            account_id: account.0,
            role: request.role,
            subject: request.subject,
            expires_at: issued.expires_at,
        }),
    )
        .into_response())
}
