//! Who may call which route: each route (its method and path template) needs one
//! permission, and each role holds a fixed set of them. Anything not named here
//! is refused, so a new route is closed until it is given a permission.

use http::Method;

use crate::auth::Role;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token: health probes, the API document, public keys.
    Public,
    /// A token of the path's `{account_id}` holding the permission.
    Account(Permission),
    /// An admin token.
    Admin,
}

/// A thing a token may do within its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read models: licenses, landing page, search, exports, usage, license files.
    ReadModels,
    /// License commands, single and bulk.
    Change,
    /// Usage reports (a license server: only for its own host).
    ReportUsage,
    /// History, time travel, the event export and integrity checks.
    ReadHistory,
}

impl Role {
    /// Whether this role holds `permission` in its account.
    pub fn may(self, permission: Permission) -> bool {
        use Permission::{ReadHistory, ReadModels, ReportUsage};
        match self {
            Self::Portal => true,
            Self::ReadOnly => matches!(permission, ReadModels | ReadHistory),
            Self::Auditor => permission == ReadHistory,
            Self::LicenseServer => permission == ReportUsage,
            Self::Admin => false,
        }
    }
}

const ACCOUNT_PREFIX: &str = "/v1/accounts/{account_id}";

/// What `method` on the route `template` (as axum matched it) needs; `None` for a
/// route this policy does not know, which is refused.
pub fn access(method: &Method, template: &str) -> Option<Access> {
    let is_get = method == Method::GET || method == Method::HEAD;
    let is_post = method == Method::POST;
    match template {
        // Probes and metrics hold no account's data: route templates, counts, lags.
        "/health/live"
        | "/health/ready"
        | "/health/status"
        | "/metrics"
        | "/openapi.json"
        | "/v1/license-file-keys"
            if is_get =>
        {
            Some(Access::Public)
        }
        // The transparency log's heads and consistency proofs hold sizes and hashes
        // only; witnesses, who hold no account, read them.
        "/v1/log/keys"
        | "/v1/log/checkpoint"
        | "/v1/log/checkpoints"
        | "/v1/log/consistency-proof"
            if is_get =>
        {
            Some(Access::Public)
        }
        // A cosignature authenticates itself: it must verify with a configured
        // witness key.
        "/v1/log/cosignatures" if is_post => Some(Access::Public),
        "/v1/accounts" => (is_get || is_post).then_some(Access::Admin),
        "/v1/accounts/{account_id}/tokens" => is_post.then_some(Access::Admin),
        _ => {
            let rest = template.strip_prefix(ACCOUNT_PREFIX)?;
            let permission = if is_post {
                if rest.starts_with("/usage-reports") {
                    Permission::ReportUsage
                } else {
                    Permission::Change
                }
            } else if is_get {
                if is_history(rest) {
                    Permission::ReadHistory
                } else {
                    Permission::ReadModels
                }
            } else {
                return None;
            };
            Some(Access::Account(permission))
        }
    }
}

/// Whether the policy gives `template` any method at all.
pub fn is_known(template: &str) -> bool {
    [Method::GET, Method::POST]
        .iter()
        .any(|method| access(method, template).is_some())
}

/// Routes that read the event store rather than the read models.
fn is_history(rest: &str) -> bool {
    rest.starts_with("/history/")
        || rest.ends_with("/history")
        || rest.ends_with("/state")
        || rest == "/events.ndjson"
        || rest == "/integrity"
        || rest == "/inclusion-proof"
        || rest == "/inclusion-proofs.ndjson"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(method: Method, rest: &str) -> Option<Access> {
        access(&method, &format!("{ACCOUNT_PREFIX}{rest}"))
    }

    #[test]
    fn routes_need_what_they_touch() {
        use Permission::{Change, ReadHistory, ReadModels, ReportUsage};
        let expected = [
            (Method::GET, "/licenses", ReadModels),
            (Method::GET, "/landing-page", ReadModels),
            (Method::GET, "/exports/licenses.csv", ReadModels),
            (
                Method::GET,
                "/licenses/{license_id}/allocations/{allocation_id}/license-file",
                ReadModels,
            ),
            (
                Method::GET,
                "/license-servers/{host}/license-file",
                ReadModels,
            ),
            (Method::POST, "/licenses", Change),
            (Method::POST, "/licenses/{license_id}/renew", Change),
            (Method::POST, "/bulk/allocate", Change),
            (Method::POST, "/usage-reports", ReportUsage),
            (Method::POST, "/usage-reports/batch", ReportUsage),
            (Method::GET, "/licenses/{license_id}/history", ReadHistory),
            (Method::GET, "/licenses/{license_id}/state", ReadHistory),
            (
                Method::GET,
                "/license-servers/{host}/usage/{day}/history",
                ReadHistory,
            ),
            (Method::GET, "/history/landing-page", ReadHistory),
            (Method::GET, "/events.ndjson", ReadHistory),
            (Method::GET, "/integrity", ReadHistory),
            (Method::GET, "/inclusion-proof", ReadHistory),
            (Method::GET, "/inclusion-proofs.ndjson", ReadHistory),
        ];
        for (method, rest, permission) in expected {
            assert_eq!(
                account(method.clone(), rest),
                Some(Access::Account(permission)),
                "{method} {rest}"
            );
        }
        assert_eq!(access(&Method::GET, "/health/ready"), Some(Access::Public));
        assert_eq!(access(&Method::GET, "/health/status"), Some(Access::Public));
        assert_eq!(access(&Method::GET, "/metrics"), Some(Access::Public));
        assert_eq!(
            access(&Method::GET, "/v1/log/consistency-proof"),
            Some(Access::Public)
        );
        assert_eq!(access(&Method::POST, "/v1/log/checkpoints"), None);
        assert_eq!(access(&Method::POST, "/v1/accounts"), Some(Access::Admin));
        assert_eq!(
            access(&Method::POST, "/v1/accounts/{account_id}/tokens"),
            Some(Access::Admin)
        );
    }

    #[test]
    fn unknown_routes_and_methods_are_closed() {
        assert_eq!(access(&Method::GET, "/v2/anything"), None);
        assert_eq!(account(Method::DELETE, "/licenses/{license_id}"), None);
        assert_eq!(access(&Method::POST, "/health/live"), None);
        assert!(is_known("/health/live"));
        assert_eq!(
            access(&Method::GET, "/v1/accounts/{account_id}/tokens"),
            None
        );
        assert!(!is_known("/v2/anything"));
    }

    #[test]
    fn each_role_holds_its_permissions_only() {
        use Permission::{Change, ReadHistory, ReadModels, ReportUsage};
        let all = [ReadModels, Change, ReportUsage, ReadHistory];
        let held = |role: Role| all.into_iter().filter(|p| role.may(*p)).collect::<Vec<_>>();
        assert_eq!(held(Role::Portal), all);
        assert_eq!(held(Role::ReadOnly), [ReadModels, ReadHistory]);
        assert_eq!(held(Role::Auditor), [ReadHistory]);
        assert_eq!(held(Role::LicenseServer), [ReportUsage]);
        assert_eq!(held(Role::Admin), []);
    }
}
