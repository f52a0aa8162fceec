//! Roles and the one permission matrix, used by the UI to hide what a role
//! cannot do and by the server to refuse it.
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Roles in an organization, highest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(
    feature = "ssr",
    sqlx(type_name = "member_role", rename_all = "lowercase")
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Role {
    Owner,
    Admin,
    Manager,
    Member,
    Viewer,
}

/// Everything a member may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    ReadCodes,
    ReadMembers,
    WriteCodes,
    Comment,
    DeleteCodes,
    RestoreCodes,
    BulkImportExport,
    /// Cut a release of the catalogue.
    PublishReleases,
    /// Delete a release (releases are otherwise never changed).
    DeleteReleases,
    /// Undo an import as one step.
    UndoImports,
    ReadWebhooks,
    ManageWebhooks,
    InviteMembers,
    ManageMembers,
    ManageApiKeys,
    ReadAudit,
    ManageSettings,
    /// Delete other people's comments.
    ModerateComments,
    /// Make someone owner or admin.
    GrantAdmin,
    DeleteOrganization,
    TransferOwnership,
}

impl Permission {
    pub const ALL: [Permission; 21] = [
        Permission::ReadCodes,
        Permission::ReadMembers,
        Permission::WriteCodes,
        Permission::Comment,
        Permission::DeleteCodes,
        Permission::RestoreCodes,
        Permission::BulkImportExport,
        Permission::PublishReleases,
        Permission::DeleteReleases,
        Permission::UndoImports,
        Permission::ReadWebhooks,
        Permission::ManageWebhooks,
        Permission::InviteMembers,
        Permission::ManageMembers,
        Permission::ManageApiKeys,
        Permission::ReadAudit,
        Permission::ManageSettings,
        Permission::ModerateComments,
        Permission::GrantAdmin,
        Permission::DeleteOrganization,
        Permission::TransferOwnership,
    ];
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Admin,
        Role::Manager,
        Role::Member,
        Role::Viewer,
    ];

    /// Higher is more powerful.
    pub fn rank(self) -> u8 {
        match self {
            Role::Owner => 5,
            Role::Admin => 4,
            Role::Manager => 3,
            Role::Member => 2,
            Role::Viewer => 1,
        }
    }

    /// The lowest role that holds `permission`.
    fn minimum_for(permission: Permission) -> Role {
        use Permission::*;
        match permission {
            ReadCodes | ReadMembers => Role::Viewer,
            WriteCodes | Comment | ReadWebhooks => Role::Member,
            DeleteCodes | RestoreCodes | BulkImportExport | PublishReleases | UndoImports
            | ManageWebhooks => Role::Manager,
            InviteMembers | ManageMembers | ManageApiKeys | ReadAudit | ManageSettings
            | ModerateComments | DeleteReleases => Role::Admin,
            GrantAdmin | DeleteOrganization | TransferOwnership => Role::Owner,
        }
    }

    pub fn can(self, permission: Permission) -> bool {
        self.rank() >= Role::minimum_for(permission).rank()
    }

    /// Whether a member with this role may change the role of, or remove,
    /// a member who has `target`: owners anyone, admins those below admin.
    pub fn can_manage(self, target: Role) -> bool {
        match self {
            Role::Owner => true,
            Role::Admin => target.rank() < Role::Admin.rank(),
            _ => false,
        }
    }

    /// Whether a member with this role may give `role` to someone, by
    /// invitation or role change: owner and admin only by owners, the rest
    /// by admins.
    pub fn can_assign(self, role: Role) -> bool {
        if role.rank() >= Role::Admin.rank() {
            self.can(Permission::GrantAdmin)
        } else {
            self.can(Permission::ManageMembers)
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Admin => "Admin",
            Role::Manager => "Manager",
            Role::Member => "Member",
            Role::Viewer => "Viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    #[test]
    fn each_role_holds_the_permissions_of_the_roles_below_it() {
        for pair in Role::ALL.windows(2) {
            let (higher, lower) = (pair[0], pair[1]);
            for p in Permission::ALL {
                if lower.can(p) {
                    assert!(higher.can(p), "{higher} lacks {p:?} that {lower} has");
                }
            }
        }
    }

    #[test]
    fn the_matrix_matches_the_spec() {
        assert!(Role::Viewer.can(ReadCodes) && !Role::Viewer.can(WriteCodes));
        assert!(Role::Member.can(WriteCodes) && !Role::Member.can(DeleteCodes));
        assert!(Role::Manager.can(ManageWebhooks) && !Role::Manager.can(InviteMembers));
        assert!(Role::Admin.can(ReadAudit) && !Role::Admin.can(GrantAdmin));
        assert!(Role::Manager.can(PublishReleases) && !Role::Member.can(PublishReleases));
        assert!(Role::Admin.can(DeleteReleases) && !Role::Manager.can(DeleteReleases));
        assert!(Role::Manager.can(UndoImports) && !Role::Member.can(UndoImports));
        assert!(Role::Owner.can(DeleteOrganization));
    }

    #[test]
    fn admins_manage_and_assign_only_roles_below_admin() {
        assert!(Role::Admin.can_manage(Role::Manager) && !Role::Admin.can_manage(Role::Admin));
        assert!(!Role::Admin.can_manage(Role::Owner));
        assert!(Role::Admin.can_assign(Role::Member) && !Role::Admin.can_assign(Role::Admin));
        assert!(Role::Owner.can_manage(Role::Owner) && Role::Owner.can_assign(Role::Owner));
        for lower in [Role::Manager, Role::Member, Role::Viewer] {
            assert!(!lower.can_manage(Role::Viewer) && !lower.can_assign(Role::Viewer));
        }
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("superuser".parse::<Role>().is_err());
    }
}
