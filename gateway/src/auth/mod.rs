//! Authentication and authorization: every request but the health probes, the
//! OpenAPI document and the public license-file keys carries a bearer token (an
//! Ed25519-signed JWT, [`token`]); its role must allow the route ([`policy`]) and
//! its account must be the one in the path, else the answer is the same 404 a
//! missing resource gets. Requests are rate-limited per token. Accounts and the
//! tokens issued for them are kept in PostgreSQL ([`accounts`]).
//!
//! Nothing here speaks HTTP: the request gate that applies these rules is
//! [`crate::http::gate`], and `ledger admin` issues tokens from the command line.

pub mod accounts;
pub mod policy;
pub mod token;
pub mod verified;

use serde::{Deserialize, Serialize};

pub use policy::{Access, Permission};
pub use token::{Caller, Verifier};

/// What a token may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Role {
    /// A portal backend: reads and changes its account.
    Portal,
    /// Reads its account: read models, files and history.
    ReadOnly,
    /// Reads its account's history only.
    Auditor,
    /// One license server: reports usage for its own host, nothing else.
    LicenseServer,
    /// Creates accounts and issues tokens; reads no account's data.
    Admin,
}

impl Role {
    /// The role's name in tokens and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Portal => "portal",
            Self::ReadOnly => "read_only",
            Self::Auditor => "auditor",
            Self::LicenseServer => "license_server",
            Self::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
