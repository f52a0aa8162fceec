//! The Codebook server: configuration, the command line, the embedded
//! database and the HTTP application.
pub mod body_limit;
pub mod cli;
pub mod config;
pub mod embedded_pg;
pub mod metrics;
pub mod rest;
pub mod security;
pub mod server_fn_status;
pub mod site;
pub mod startup;
pub mod state;
pub mod telemetry;
