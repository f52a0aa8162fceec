//! Plain types shared by the browser and the server.
//!
//! A type's name says which way it travels: a form posts a `*Form` (text as
//! typed), which `check` turns into a `*Draft`; the REST API takes an `*In`
//! to create and a `*Patch` to change; the server answers with an `*Out`
//! (a `*WithSecret` when it carries a secret shown once, a `*Page` for a
//! page of them); a query string is a `*Filter`. Ids are newtypes
//! ([`ids`]), so two of them cannot be swapped.
pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod codes;
pub mod error;
pub mod flash;
pub mod ids;
pub mod live;
pub mod members;
pub mod orgs;
pub mod platform;
pub mod releases;
pub mod roles;
pub mod webhooks;

pub use error::{AppError, ErrorCode};
pub use ids::{
    ApiKeyId, CodeId, CommentId, DeliveryId, EndpointId, ImportId, InvitationId, OrgId, ReleaseId,
    SessionId, UserId,
};
pub use roles::{Permission, Role};
