//! HTTP routes, one module per resource, each exposing `router()`: an
//! `OpenApiRouter` whose every route is registered with `routes!(handler)` from the
//! handler's `#[utoipa::path]`, so it is documented (see [`crate::http::openapi`], where
//! a new module's router is merged in).

pub mod accounts;
pub mod asset_components;
pub mod bulk;
pub mod health;
pub mod history;
pub mod integrity;
pub mod key_cursor;
pub mod landing_page;
pub mod license_files;
pub mod license_servers;
pub mod licenses;
pub mod metrics;
pub mod ndjson;
pub mod read_options;
pub mod search;
pub mod search_params;
pub mod server_license_file;
pub mod transparency;
pub mod usage;
