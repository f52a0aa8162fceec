use serde::Serialize;
use std::net::IpAddr;
use uuid::Uuid;

use crate::model::{ApiKeyId, UserId};

/// Facts about the request that every audit entry records.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestMeta {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

/// Who is acting: what versions, audit entries and events name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User(UserId),
    /// A program calling the REST API with one of the organization's keys.
    ApiKey(ApiKeyId),
    /// Before anyone is identified: a failed log-in, say.
    Anonymous,
    /// The server itself, or an operator at the command line.
    System,
}

/// The kinds of actor, as stored (`actor_kind` in the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type)]
#[sqlx(type_name = "actor_kind", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    ApiKey,
    Anonymous,
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::ApiKey => "api_key",
            ActorKind::Anonymous => "anonymous",
            ActorKind::System => "system",
        }
    }
}

impl Actor {
    pub fn kind(&self) -> ActorKind {
        match self {
            Actor::User(_) => ActorKind::User,
            Actor::ApiKey(_) => ActorKind::ApiKey,
            Actor::Anonymous => ActorKind::Anonymous,
            Actor::System => ActorKind::System,
        }
    }

    pub fn id(&self) -> Option<Uuid> {
        match self {
            Actor::User(UserId(id)) | Actor::ApiKey(ApiKeyId(id)) => Some(*id),
            Actor::Anonymous | Actor::System => None,
        }
    }

    /// The user behind the action, when a person acts.
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Actor::User(id) => Some(*id),
            Actor::ApiKey(_) | Actor::Anonymous | Actor::System => None,
        }
    }
}
