//! The `ledger` command line: the binary's entry point and every subcommand that
//! is not a long-running role.
//!
//! - [`entry`]: reads settings, starts telemetry, runs the subcommand;
//! - [`args`]: the arguments, parsed by clap;
//! - [`admin`]: `ledger admin`, accounts and tokens;
//! - [`demo`]: `ledger demo`, a demo account loaded through the real commands;
//! - [`verify`]: `ledger verify license-file`, offline.
//!
//! The auditors' subcommands live with what they check, in [`crate::integrity`].

pub mod admin;
pub mod args;
pub mod demo;
pub mod entry;
pub mod verify;
