//! The gate every routed request passes before its handler (and before an
//! idempotent replay): authenticate the bearer token, spend one request of its rate
//! limit, check the route's [`Access`] and the path's account, then hand the
//! [`Caller`] to the handler.

use std::time::Instant;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use chrono::Utc;
use uuid::Uuid;

use crate::auth::token::TokenError;
use crate::auth::{policy, Access, Caller, Role};
use crate::http::app::AppState;
use crate::http::error::ApiError;

/// Runs the gate; a refused request never reaches its handler.
pub async fn middleware(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    match admit(&state, &request) {
        Ok(Some(caller)) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Ok(None) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

/// The caller a request is admitted as (`None` for a public route), or why not.
fn admit(state: &AppState, request: &Request) -> Result<Option<Caller>, ApiError> {
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
        .unwrap_or_default();
    let Some(access) = policy::access(request.method(), template) else {
        // The gate runs before the route's method fallback: a method the policy does
        // not give this route is not served here, whatever handler might exist.
        if policy::is_known(template) {
            return Err(ApiError::MethodNotAllowed);
        }
        tracing::error!(route = template, method = %request.method(), "route has no access policy");
        return Err(ApiError::Forbidden("this route is open to no token".into()));
    };
    if access == Access::Public {
        return Ok(None);
    }
    let token = bearer_token(request.headers())?;
    let caller = state
        .auth
        .verifier
        .verify_with(token, Utc::now(), &state.auth.verified)
        .inspect_err(|reason| tracing::info!(%reason, "token refused"))
        .map_err(ApiError::Unauthenticated)?;
    state
        .auth
        .limiter
        .take(&caller.token_id, Instant::now())
        .map_err(|wait| ApiError::RateLimited {
            retry_after_s: wait.as_secs_f64().ceil().max(1.0) as u64,
        })?;
    match access {
        Access::Public => {}
        Access::Admin if caller.role == Role::Admin => {}
        Access::Admin => {
            return Err(ApiError::Forbidden(format!(
                "a token of role `{}` cannot administer accounts",
                caller.role
            )))
        }
        Access::Account(permission) => {
            if !caller.role.may(permission) {
                return Err(ApiError::Forbidden(format!(
                    "a token of role `{}` cannot do this",
                    caller.role
                )));
            }
            // Another account's routes answer like a missing resource, whether that
            // account exists or not: nothing tells a caller what others hold.
            if let Some(account) = path_account(request.uri().path()) {
                if caller.account.map(|own| own.0) != Some(account) {
                    return Err(ApiError::NotFound(
                        "nothing here for this token's account".into(),
                    ));
                }
            }
        }
    }
    Ok(Some(caller))
}

/// The token of `Authorization: Bearer <token>`.
fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::Unauthenticated(TokenError::Missing));
    };
    value
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or(ApiError::Unauthenticated(TokenError::Malformed))
}

/// The `{account_id}` of `/v1/accounts/{account_id}/…` when it is a UUID; a
/// malformed one is left for the handler to refuse as bad input.
fn path_account(path: &str) -> Option<Uuid> {
    let mut segments = path.trim_start_matches('/').split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some("v1"), Some("accounts"), Some(account)) => Uuid::parse_str(account).ok(),
        _ => None,
    }
}

/// The authenticated caller of a request, as the middleware left it.
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or(ApiError::Unauthenticated(TokenError::Missing))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_bearer_scheme_is_required_and_case_insensitive() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            headers
        };
        assert_eq!(bearer_token(&with("Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer_token(&with("bearer  abc ")).unwrap(), "abc");
        for bad in ["Basic abc", "Bearer", "Bearer  ", "abc"] {
            assert!(matches!(
                bearer_token(&with(bad)),
                Err(ApiError::Unauthenticated(TokenError::Malformed))
            ));
        }
        assert!(matches!(
            bearer_token(&HeaderMap::new()),
            Err(ApiError::Unauthenticated(TokenError::Missing))
        ));
    }

    #[test]
    fn the_account_comes_from_the_path() {
        let account = Uuid::from_u128(9);
        assert_eq!(
            path_account(&format!("/v1/accounts/{account}/licenses")),
            Some(account)
        );
        assert_eq!(path_account("/v1/accounts/nope/licenses"), None);
        assert_eq!(path_account("/v1/accounts"), None);
    }
}
