use serde::Serialize;
use std::net::IpAddr;
use uuid::Uuid;

/// Facts about the request that every audit entry records.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestMeta {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

/// Who is acting. API keys arrive with the REST API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User(Uuid),
    /// Before anyone is identified: a failed log-in, say.
    Anonymous,
    /// The server itself, or an operator at the command line.
    System,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::User(_) => "user",
            Actor::Anonymous => "anonymous",
            Actor::System => "system",
        }
    }

    pub fn id(&self) -> Option<Uuid> {
        match self {
            Actor::User(id) => Some(*id),
            Actor::Anonymous | Actor::System => None,
        }
    }
}
