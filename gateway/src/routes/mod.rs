//! HTTP routes, one module per resource, each exposing `router()`.

pub mod health;
pub mod landing_page;
pub mod licenses;
pub mod read_options;
