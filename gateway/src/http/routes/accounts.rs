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
use utoipa::openapi::schema::{
    AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::RefOr;
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
    /// A name for people: 1 to 200 characters, not all of them white space, none
    /// of them control characters; kept trimmed. (The pattern is
    /// [`accounts::check_name`]: no Unicode `Cc`, and one character outside
    /// Unicode `White_Space`, which trimming takes.)
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
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

/// What a new token grants. Documented by hand ([`NewToken::schema`]): which
/// members it takes depends on its role.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Its role in the account (`admin` tokens come from `ledger admin issue-token`).
    pub role: Role,
    /// Who will hold it, recorded as the actor of its commands.
    pub subject: String,
    /// The license server's host: required for `license_server`, refused otherwise.
    pub host: Option<String>,
    /// Hours it is valid; default [`DEFAULT_VALID_FOR_HOURS`].
    pub valid_for_hours: Option<u32>,
}

impl utoipa::PartialSchema for NewToken {
    /// One shape per kind of role, so that a request the schema admits is one the
    /// handler accepts: an account role without `host`, or `license_server` with it.
    fn schema() -> RefOr<Schema> {
        let text = |min: usize, max: usize, description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(min))
                .max_length(Some(max))
                .pattern(Some("^[!-~]+$"))
                .description(Some(description))
        };
        let shape = |roles: &[Role], host: bool| {
            let shape = ObjectBuilder::new()
                .property(
                    "role",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(roles.iter().map(|role| role.as_str())))
                        .description(Some("Its role in the account.")),
                )
                .required("role")
                .property(
                    "subject",
                    text(
                        1,
                        128,
                        "Who will hold it, recorded as the actor of its commands: 1 to 128 \
                         printable characters without spaces, e.g. `portal-backend` or \
                         `alice@example.com`.",
                    ),
                )
                .required("subject")
                .property(
                    "valid_for_hours",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::Array(vec![Type::Integer, Type::Null]))
                        .minimum(Some(1))
                        .maximum(Some(MAX_VALID_FOR_HOURS))
                        .description(Some(
                            "Hours it is valid: 1 to 8,760 (a year); absent or null, 720 (30 days).",
                        )),
                )
                .additional_properties(Some(AdditionalProperties::FreeForm(false)));
            if host {
                shape
                    .property(
                        "host",
                        text(
                            1,
                            253,
                            "The license server's host, the only one it reports for.",
                        ),
                    )
                    .required("host")
            } else {
                shape.property(
                    "host",
                    ObjectBuilder::new()
                        .schema_type(Type::Null)
                        .description(Some(
                            "Absent or null: only a `license_server` names a host.",
                        )),
                )
            }
        };
        OneOfBuilder::new()
            .description(Some(
                "What a new token grants: a role of the account (`admin` tokens belong to \
                 no account: `ledger admin issue-token`), and for `license_server` its host.",
            ))
            .item(shape(&[Role::Portal, Role::ReadOnly, Role::Auditor], false))
            .item(shape(&[Role::LicenseServer], true))
            .into()
    }
}

impl ToSchema for NewToken {}

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
