//! Accounts and issued tokens, as the admin subcommand and the admin routes keep
//! them in PostgreSQL. A token is recorded when it is issued — what it grants,
//! never the token — so an operator can list who holds access to an account.

use chrono::{DateTime, Utc};
use ledger_domain::AccountId;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::token::{IssueError, IssuedToken, TokenRequest};
use crate::auth::Verifier;

/// An account of the ledger.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Account {
    /// Its id, the `{account_id}` of every route of its data.
    pub account_id: Uuid,
    /// A name for people.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// An account name: 1 to 200 characters, no control characters, not blank.
pub fn check_name(name: &str) -> Result<&str, &'static str> {
    let trimmed = name.trim();
    // Counted before trimming, as the document's `maxLength` counts.
    if trimmed.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        Err("1 to 200 characters, not blank, without control characters")
    } else {
        Ok(trimmed)
    }
}

/// Creates an account named `name` (already checked) on behalf of `created_by`.
pub async fn create(pool: &PgPool, name: &str, created_by: &str) -> sqlx::Result<Account> {
    sqlx::query_as(
        "INSERT INTO accounts (account_id, name, created_by) VALUES ($1, $2, $3)
         RETURNING account_id, name, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(name)
    .bind(created_by)
    .fetch_one(pool)
    .await
}

/// Every account, oldest first.
pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<Account>> {
    sqlx::query_as(
        "SELECT account_id, name, created_at FROM accounts ORDER BY created_at, account_id",
    )
    .fetch_all(pool)
    .await
}

/// Whether `account` exists.
pub async fn exists(pool: &PgPool, account: AccountId) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM accounts WHERE account_id = $1)")
        .bind(account.0)
        .fetch_one(pool)
        .await
}

/// Why a token was not issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueTokenError {
    /// The account does not exist.
    #[error("no such account")]
    NoSuchAccount,
    /// The request breaks the role's rules, or no key can sign.
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// Signs a token for `request` and records that it was issued by `issued_by`.
/// The account must exist (admin tokens have none).
pub async fn issue_token(
    pool: &PgPool,
    verifier: &Verifier,
    request: &TokenRequest,
    issued_by: &str,
) -> Result<IssuedToken, IssueTokenError> {
    if let Some(account) = request.account {
        if !exists(pool, account).await? {
            return Err(IssueTokenError::NoSuchAccount);
        }
    }
    let now = Utc::now();
    let issued = verifier.issue(request, now)?;
    sqlx::query(
        "INSERT INTO issued_tokens
            (token_id, account_id, role, subject, host, issued_at, expires_at, issued_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(issued.token_id)
    .bind(request.account.map(|account| account.0))
    .bind(request.role.as_str())
    .bind(&request.subject)
    .bind(request.host.as_ref().map(|host| host.as_str().to_owned()))
    .bind(now)
    .bind(issued.expires_at)
    .bind(issued_by)
    .execute(pool)
    .await?;
    Ok(issued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(check_name("  Acme Corp "), Ok("Acme Corp"));
        assert!(check_name("   ").is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_name(&"x".repeat(201)).is_err());
        assert!(check_name(&"é".repeat(200)).is_ok());
    }
}
