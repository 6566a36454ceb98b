//! License files: the FlexNet-style text a license server loads, one per live
//! allocation (or one per server, holding all of them: [`server_file`]), signed
//! with Ed25519 so anyone holding the public keys can check it offline. Pure:
//! keys and the issue instant are passed in; nothing here reads configuration,
//! the clock or randomness.
//!
//! # The file
//!
//! ```text
//! # licensing-ledger license file
//! # account: <uuid>
//! # license: <uuid>
//! # allocation: <uuid>
//! # revision: 3
//! # issued: 2026-11-22T10:00:00Z
//! SERVER this_host HOSTNAME=CTXSRV01
//! VENDOR CITRIX
//! USE_SERVER
//! INCREMENT XDT_ENT_UD CITRIX 2027.0131 permanent 800 \
//!   VENDOR_STRING=;LT=Retail;ODP=10 \
//!   ISSUED=22-nov-2026 NOTICE="Order ORD-1" SN=LA-0001234567-12345:1 START=22-nov-2026 \
//!   SIGN="k1:<base64 of the 64-byte Ed25519 signature>"
//! ```
//!
//! The host id keyword follows the binding type (`HOSTNAME=`, `ETHERNET=`,
//! `DISK_SERIAL_NUM=`, `ID=`); the version is the maintenance date; the expiry is
//! `permanent` or the last valid day; `ISSUED`/`START` are the UTC date the file's
//! revision was issued. Values with spaces, quotes or backslashes are quoted, with
//! `\"` and `\\` escapes ([`tokens`]).
//!
//! # Signing
//!
//! Each `INCREMENT` line's `SIGN` is an Ed25519 signature over the line's
//! [`canonical`] form, which covers the key id, the host id and the line's other
//! tokens. Comments are not signed. Which key signs is decided by [`crate::keys`].
//!
//! # Layout
//! - [`tokens`]: lines, continuations, tokens and quoting.
//! - [`model`]: the content of a file and how it is written.
//! - [`canonical`]: the signed bytes.
//! - [`parse`]: reading a file back.
//! - [`sign`]: signing and verifying; [`errors`]: what can fail.
//! - [`server_file`]: every allocation on one license server in one file.

pub mod canonical;
pub mod errors;
pub mod model;
pub mod parse;
pub mod server_file;
pub mod sign;
pub mod tokens;

#[cfg(test)]
mod tests;

pub use errors::{IncrementAt, SignError, VerifyError};
pub use model::{FileIdentity, LicenseFileContent, VendorName};
pub use server_file::sign_server_file;
pub use sign::{sign, sign_token, verify, VerifiedFile, VerifiedIncrement};
