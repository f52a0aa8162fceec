use super::{InvitationId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Role;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberOut {
    pub user_id: UserId,
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
    /// The member looking, if a person is looking.
    pub my_user_id: Option<UserId>,
}

/// An open invitation, as admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InvitationOut {
    pub id: InvitationId,
    pub email: String,
    pub role: Role,
    pub invited_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Why the invitation mail could not be delivered, if it could not.
    pub mail_error: Option<String>,
}

/// What the invitation link shows before it is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationPreview {
    pub organization: String,
    pub email: String,
    pub role: Role,
    /// An account with the invited email exists (log in to accept).
    pub account_exists: bool,
    /// The signed-in user's email, if someone is signed in.
    pub signed_in_as: Option<String>,
}
