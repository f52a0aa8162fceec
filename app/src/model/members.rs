use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Role;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberOut {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

/// The members page: the list, and who is looking, so the page offers only
/// what their role allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersPage {
    pub members: Vec<MemberOut>,
    pub my_role: Role,
    pub my_user_id: Uuid,
}
