//! Everything the browser and the server share: model types, server
//! functions, and the Leptos UI. `backend` is compiled for the server only.
#![recursion_limit = "256"]

pub mod api;
pub mod model;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod backend;

pub use ui::{shell, App};

/// The header that carries each request's id, set by the server's request-id
/// layer and recorded in logs and audit entries.
pub fn api_request_id_header() -> &'static str {
    "x-request-id"
}
