//! The HTTP edge: the axum application and everything that only exists because
//! requests arrive over HTTP.
//!
//! - [`app`]: shared state, the router and its middleware;
//! - [`gate`] and [`rate_limit`]: every routed request's bearer token, role,
//!   account and rate, checked before its handler;
//! - [`routes`]: one module per resource;
//! - [`console`]: the web console's static files at `/console`, outside the
//!   gate and the API document;
//! - [`idempotency`]: `Idempotency-Key` answers kept in PostgreSQL;
//! - [`conditional`]: conditional GETs of an account's pages (`ETag`, 304);
//! - [`read_cache`]: those pages kept in memory while their account has not
//!   moved, as the projector's notices tell;
//! - [`extract`] and [`error`]: input checked by name, failures as problem+json;
//!   [`json_body`]: a body's JSON with whole numbers read as integers;
//! - [`openapi`] and [`openapi_access`]: the OpenAPI document, generated from the
//!   handlers and from the access policy;
//! - [`request_metrics`]: HTTP answers counted by route template and status;
//! - [`csv`]: spreadsheet-safe CSV;
//! - [`in_flight`]: the requests being handled, counted for a graceful stop;
//! - [`serve`]: the listener and its graceful stop.

pub mod app;
pub mod conditional;
pub mod console;
pub mod csv;
pub mod error;
pub mod extract;
pub mod gate;
pub mod idempotency;
pub mod in_flight;
pub mod json_body;
pub mod openapi;
pub mod openapi_access;
pub mod rate_limit;
pub mod read_cache;
pub mod request_metrics;
pub mod routes;
pub mod serve;
