//! Harness for the black-box tests: each test gets a fresh database, a fresh
//! JetStream stream and subject prefix, and the real `ledger` binary on port 0,
//! so tests run in parallel without seeing each other's data.
//!
//! # Layout
//! - [`env`]: a test's own database, stream, prefix, keys and tokens.
//! - [`process`]: the `ledger` binary started, killed, or run as a subcommand.
//! - [`api`]: an account's HTTP client and the purchases tests start from;
//!   [`seeding`]: an account made through `ledger admin` and the API, as an
//!   operator and a portal would, and the waits until the ledger covers it.
//! - [`files`]: license files downloaded raw (headers, 304s) and verified with
//!   `ledger verify license-file`.
//! - [`evidence`]: the store, the stream and the read models read back, and the
//!   exactly-once check across them.
//! - [`own_nats`]: a NATS server of the test's own, to kill or restart;
//!   [`own_postgres`]: a PostgreSQL cluster of its own, to crash and restart.
//! - [`health`]: a process's readiness, status and metrics, and waits for them.
//! - [`monitoring`]: the dashboard and alert rules of `deploy/monitoring/`, and
//!   `promtool` to check them.
//! - [`analytics`]: the worked analytics consumer of the README.
//! - [`bench`]: the benchmark harness (`ledger-bench`), and the plain cqrs-es
//!   peer it measures the ledger against (`ledger-peer`).
//! - [`soak`]: the soak and fault harness (`ledger-soak`).
//! - [`fuzz`]: the HTTP contract fuzzed with schemathesis (`ledger-fuzz`).
//! - [`console`]: the web console driven in Debian's chromium with Playwright.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod analytics;
pub mod api;
pub mod bench;
pub mod console;
pub mod env;
pub mod evidence;
pub mod files;
pub mod fuzz;
pub mod health;
pub mod monitoring;
pub mod own_nats;
pub mod own_postgres;
pub mod process;
pub mod seeding;
pub mod soak;

pub use api::*;
pub use env::*;
pub use evidence::*;
pub use files::*;
pub use ledger_gateway::auth::{Role, Verifier};
pub use own_nats::*;
pub use own_postgres::*;
pub use process::*;
