//! Server-only code: database and tenancy, authentication, and one service
//! module per area. Server functions (`crate::api`) and the REST API call
//! these; nothing here knows about HTTP beyond `RequestMeta`.
pub mod accounts;
pub mod actor;
pub mod api_keys;
pub mod audit;
pub mod caller;
pub mod codes;
pub mod context;
pub mod cookies;
pub mod db;
pub mod error;
pub mod flash;
pub mod invitations;
pub mod jobs;
pub mod jwt;
pub mod limits;
pub mod live;
pub mod mail;
pub mod members;
pub mod mode;
pub mod orgs;
pub mod outbox;
pub mod passwords;
pub mod platform;
pub mod releases;
pub mod request;
pub mod sessions;
pub mod spreadsheet;
pub mod state;
pub mod throttle;
pub mod tokens;
pub mod webhooks;

pub use actor::{Actor, RequestMeta};
pub use context::{Grant, OrgContext};
pub use db::{OrgTx, Plans};
pub use error::{Error, Result};
pub use state::AppState;
