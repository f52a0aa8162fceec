//! Server functions, one file per area. Each is thin: find the caller,
//! check what they may do, call a backend service, map its error.
pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod codes;
pub mod dev;
pub mod flash;
pub mod invitations;
pub mod members;
pub mod orgs;
pub mod platform;
pub mod releases;
pub mod webhooks;

#[cfg(feature = "ssr")]
pub(crate) mod server;
#[cfg(feature = "ssr")]
pub use server::CallerCache;
