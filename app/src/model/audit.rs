//! What the audit log records, as a closed list: each action has one stable
//! name (stored, hashed and filtered on), and no service can invent a new
//! spelling of an old one.
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! audit_actions {
    ($($variant:ident => $name:literal,)*) => {
        /// Every action the audit log records.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum AuditAction {
            $(
                #[serde(rename = $name)]
                $variant,
            )*
        }

        impl AuditAction {
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)*];

            /// The stable name, as stored: `area.verb_in_past_tense`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)*
                }
            }
        }
    };
}

audit_actions! {
    UserSignedUp => "user.signed_up",
    UserLogin => "user.login",
    UserLogout => "user.logout",
    UserSessionRevoked => "user.session_revoked",
    UserSessionsRevoked => "user.sessions_revoked",
    UserPasswordChanged => "user.password_changed",
    UserPasswordResetRequested => "user.password_reset_requested",
    UserPasswordReset => "user.password_reset",
    UserDeleted => "user.deleted",
    OrganizationCreated => "organization.created",
    OrganizationUpdated => "organization.updated",
    OrganizationActivated => "organization.activated",
    OrganizationDeactivated => "organization.deactivated",
    OrganizationDeleted => "organization.deleted",
    OrganizationPlanChanged => "organization.plan_changed",
    OrganizationLimitsChanged => "organization.limits_changed",
    MemberInvited => "member.invited",
    MemberInvitationResent => "member.invitation_resent",
    MemberInvitationRevoked => "member.invitation_revoked",
    MemberJoined => "member.joined",
    MemberRoleChanged => "member.role_changed",
    MemberRemoved => "member.removed",
    MemberLeft => "member.left",
    CodeCreated => "code.created",
    CodeUpdated => "code.updated",
    CodeDeleted => "code.deleted",
    CodeRestored => "code.restored",
    CodesImported => "codes.imported",
    CommentCreated => "comment.created",
    CommentEdited => "comment.edited",
    CommentDeleted => "comment.deleted",
    PlatformAdminGranted => "platform_admin.granted",
    WebhookCreated => "webhook.created",
    WebhookUpdated => "webhook.updated",
    WebhookDeleted => "webhook.deleted",
    WebhookEnabled => "webhook.enabled",
    WebhookDisabled => "webhook.disabled",
    WebhookSecretRotated => "webhook.secret_rotated",
    WebhookTestSent => "webhook.test_sent",
    WebhookDeliveryReplayed => "webhook.delivery_replayed",
    WebhookDeliveriesReplayed => "webhook.deliveries_replayed",
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_are_unique_and_serialize_as_stored() {
        let mut names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), AuditAction::ALL.len());
        for action in AuditAction::ALL {
            assert_eq!(
                serde_json::to_string(action).unwrap(),
                format!("\"{}\"", action.as_str())
            );
            assert!(action.as_str().contains('.'));
        }
    }
}
