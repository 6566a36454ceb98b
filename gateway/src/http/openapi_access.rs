//! The access rules in the OpenAPI document, taken from [`policy`] itself so the
//! document cannot disagree with the gate: a `bearer` security scheme (JWT), on
//! each operation the roles that may call it as the requirement's scopes (OpenAPI
//! 3.1 allows role names there), no requirement on public operations, and the
//! 401, 403 and 429 answers every protected operation may give.

use axum::http::Method;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::OpenApi;

use crate::auth::{policy, Access, Role};

/// The name of the security scheme.
const SCHEME: &str = "bearer";

const ROLES: [Role; 5] = [
    Role::Portal,
    Role::ReadOnly,
    Role::Auditor,
    Role::LicenseServer,
    Role::Admin,
];

/// Adds the scheme and each operation's requirement.
pub struct BearerTokens;

impl utoipa::Modify for BearerTokens {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An Ed25519-signed JWT (`alg: EdDSA`) issued by `ledger admin issue-token` \
                         or `POST /v1/accounts/{account_id}/tokens`.",
                    ))
                    .build(),
            ),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (Method::GET, &mut item.get),
                (Method::POST, &mut item.post),
                (Method::PUT, &mut item.put),
                (Method::PATCH, &mut item.patch),
                (Method::DELETE, &mut item.delete),
            ];
            for (method, operation) in operations {
                if let Some(operation) = operation {
                    describe(operation, policy::access(&method, path));
                }
            }
        }
    }
}

/// The roles that pass `access` (none for a public operation).
pub fn roles_for(access: Access) -> Vec<Role> {
    ROLES
        .into_iter()
        .filter(|role| match access {
            Access::Public => false,
            Access::Admin => *role == Role::Admin,
            Access::Account(permission) => role.may(permission),
        })
        .collect()
}

fn describe(operation: &mut Operation, access: Option<Access>) {
    match access {
        Some(Access::Public) => operation.security = Some(vec![SecurityRequirement::default()]),
        Some(access) => {
            let roles = roles_for(access);
            operation.security = Some(vec![SecurityRequirement::new(
                SCHEME,
                roles.iter().map(|role| role.as_str()),
            )]);
            let mut statuses = vec![401, 403, 429];
            if matches!(access, Access::Account(_)) {
                // Another account's resources answer 404 like missing ones.
                statuses.push(404);
            }
            for (status, response) in crate::http::openapi::problems(&statuses) {
                operation
                    .responses
                    .responses
                    .entry(status)
                    .or_insert(response);
            }
        }
        // A route the gate refuses to everyone; the gateway's tests fail on it.
        None => operation.security = Some(vec![SecurityRequirement::new(SCHEME, ["none"])]),
    }
}
