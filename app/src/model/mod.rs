//! Plain types shared by the browser and the server.
pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod codes;
pub mod error;
pub mod flash;
pub mod live;
pub mod members;
pub mod orgs;
pub mod platform;
pub mod roles;
pub mod webhooks;

pub use error::{AppError, ErrorCode};
pub use roles::{Permission, Role};
