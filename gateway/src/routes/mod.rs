//! HTTP routes, one module per resource, each exposing `router()`.

pub mod asset_components;
pub mod health;
pub mod key_cursor;
pub mod landing_page;
pub mod license_files;
pub mod license_servers;
pub mod licenses;
pub mod read_options;
pub mod search;
pub mod search_params;
pub mod usage;
