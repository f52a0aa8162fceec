//! The organization a request works on, resolved fresh on every request
//! from the caller: membership and role are read from the database each
//! time, so a role change or removal applies to the very next request.
use crate::model::{OrgId, UserId};
use sqlx::PgPool;

use super::audit::{self, AuditEvent};
use super::db::Plans;
use super::sessions::Membership;
use super::sessions::SessionUser;
use super::{Actor, Error, OrgTx, RequestMeta, Result};
use crate::model::api_keys::Scopes;
use crate::model::audit::AuditAction;
use crate::model::orgs::OrgSlug;
use crate::model::{Permission, Role};

/// What the actor may do: a member what their role allows, an API key what
/// its scopes grant.
#[derive(Debug, Clone, PartialEq)]
pub enum Grant {
    Role(Role),
    Scopes(Scopes),
}

impl Grant {
    pub fn can(&self, permission: Permission) -> bool {
        match self {
            Grant::Role(role) => role.can(permission),
            Grant::Scopes(scopes) => scopes.grants(permission),
        }
    }

    /// Whether the actor may change the role of, or remove, a member with
    /// `target`. Only people manage people.
    pub fn can_manage(&self, target: Role) -> bool {
        match self {
            Grant::Role(role) => role.can_manage(target),
            Grant::Scopes(_) => false,
        }
    }

    /// Whether the actor may give `role` to someone by invitation: a key
    /// that may invite, roles below admin only (no scope grants admin).
    pub fn can_assign(&self, role: Role) -> bool {
        match self {
            Grant::Role(mine) => mine.can_assign(role),
            Grant::Scopes(scopes) => {
                scopes.grants(Permission::InviteMembers) && role.rank() < Role::Admin.rank()
            }
        }
    }

    /// How the grant is named in a refusal.
    pub fn label(&self) -> String {
        match self {
            Grant::Role(role) => format!("Your role ({})", role.label()),
            Grant::Scopes(scopes) => {
                format!("This API key's scopes ({})", scopes.names().join(", "))
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct OrgContext {
    pub org_id: OrgId,
    pub org_name: String,
    pub org_slug: OrgSlug,
    pub grant: Grant,
    /// Who acts: a member, or one of the organization's API keys.
    pub actor: Actor,
    /// How the actor is named to people (in mail, say).
    pub actor_name: String,
    pub meta: RequestMeta,
    /// Where refusals are recorded.
    pool: PgPool,
}

impl OrgContext {
    /// The session's current organization if the user still belongs to it,
    /// else the organization they joined first.
    pub async fn resolve(pool: &PgPool, user: SessionUser, meta: RequestMeta) -> Result<Self> {
        let memberships = super::sessions::memberships(pool, user.user_id).await?;
        Self::among(pool, user, &memberships, meta)
    }

    /// `resolve`, from memberships already read (a page reads them once
    /// for its organization and its switcher).
    pub fn among(
        pool: &PgPool,
        user: SessionUser,
        memberships: &[Membership],
        meta: RequestMeta,
    ) -> Result<Self> {
        let current = memberships
            .iter()
            .find(|m| Some(m.organization.id) == user.current_organization_id)
            .or_else(|| {
                memberships.iter().min_by(|a, b| {
                    (a.joined_at, &a.organization.name).cmp(&(b.joined_at, &b.organization.name))
                })
            })
            .ok_or_else(|| Error::Forbidden("You are not a member of any organization.".into()))?;
        let org = &current.organization;
        if !org.active {
            return Err(Error::OrganizationInactive);
        }
        Ok(Self {
            org_id: org.id,
            org_name: org.name.clone(),
            org_slug: org.slug.clone(),
            grant: Grant::Role(org.role),
            actor: Actor::User(user.user_id),
            actor_name: user.name,
            meta,
            pool: pool.clone(),
        })
    }

    /// The server's operator at the command line, acting on the
    /// organization with `slug` with every permission (the actor is
    /// `System` in versions and audit entries).
    pub async fn operator(pool: &PgPool, slug: &OrgSlug) -> Result<Self> {
        // The command line names organizations by slug before it works
        // in one, which row-level security would hide.
        let (org_id, name): (OrgId, String) =
            sqlx::query_as("select id, name from organization_by_slug($1)")
                .bind(slug)
                .fetch_optional(pool)
                .await?
                .ok_or(Error::NotFound)?;
        Ok(Self {
            org_id,
            org_name: name,
            org_slug: slug.clone(),
            grant: Grant::Role(Role::Owner),
            actor: Actor::System,
            actor_name: "Codebook operator".into(),
            meta: RequestMeta::default(),
            pool: pool.clone(),
        })
    }

    /// One of the organization's API keys, acting with its scopes.
    pub fn api_key(
        pool: &PgPool,
        key: &super::api_keys::AuthenticatedKey,
        meta: RequestMeta,
    ) -> Self {
        Self {
            org_id: key.organization_id,
            org_name: key.organization_name.clone(),
            org_slug: key.organization_slug.clone(),
            grant: Grant::Scopes(key.scopes.clone()),
            actor: Actor::ApiKey(key.id),
            actor_name: format!("API key “{}”", key.name),
            meta,
            pool: pool.clone(),
        }
    }

    /// The member's role, for what only people do (the pages of the app).
    pub fn member_role(&self) -> Result<Role> {
        match &self.grant {
            Grant::Role(role) => Ok(*role),
            Grant::Scopes(_) => Err(Error::Forbidden(
                "API keys cannot do this; sign in as a member.".into(),
            )),
        }
    }

    /// The member acting, when a person acts (not a key).
    pub fn user_id(&self) -> Option<UserId> {
        self.actor.user_id()
    }

    /// Whether `user_id` is the one acting.
    pub fn is_user(&self, user_id: UserId) -> bool {
        self.user_id() == Some(user_id)
    }

    /// Refuses what the actor's grant does not allow, and records the
    /// refusal in the organization's audit log (in its own transaction: the
    /// request's work, if any, never happens).
    pub async fn require(&self, permission: Permission) -> Result<()> {
        if self.grant.can(permission) {
            return Ok(());
        }
        self.record_refusal(permission).await;
        Err(Error::Forbidden(format!(
            "{} does not allow this.",
            self.grant.label()
        )))
    }

    async fn record_refusal(&self, permission: Permission) {
        let grant = match &self.grant {
            Grant::Role(role) => serde_json::json!({"role": role}),
            Grant::Scopes(scopes) => serde_json::json!({"scopes": scopes.names()}),
        };
        let event = AuditEvent::new(
            AuditAction::PermissionDenied,
            "permission",
            format!("{permission:?}"),
        )
        .after(grant);
        if self.refusals_flooding().await {
            tracing::warn!(actor = ?self.actor, ?permission, "refusal not audited: too many this minute");
            return;
        }
        self.record_failure(event).await;
    }

    /// Whether this actor has been refused so often this minute that
    /// another audit entry would only flood the chain.
    async fn refusals_flooding(&self) -> bool {
        let subject = format!(
            "{}:{}",
            self.org_id,
            self.actor
                .id()
                .map_or_else(|| "system".to_owned(), |id| id.to_string())
        );
        let counted = async {
            let mut conn = self.pool.acquire().await?;
            super::throttle::hit(
                &mut conn,
                super::throttle::AUDITED_REFUSALS_PER_ACTOR,
                &subject,
            )
            .await
        };
        counted.await.is_err()
    }

    /// Records a refused attempt (a permission, a rate limit) as a failure
    /// in a transaction of its own. The caller must have ended any
    /// transaction of the request first, or its locks could block this
    /// one. A refusal that cannot be recorded (the database is down, say)
    /// is logged; the caller is refused either way.
    pub async fn record_failure(&self, event: AuditEvent) {
        let action = event.action.clone();
        let recorded = async {
            let mut tx = self.begin(&self.pool).await?;
            audit::record(&mut tx, event.failed()).await?;
            tx.commit().await
        };
        if let Err(error) = recorded.await {
            tracing::error!(%error, %action, "could not record a refused attempt");
        }
    }

    /// A transaction on this organization's data, as this actor.
    pub async fn begin(&self, pool: &PgPool) -> Result<OrgTx> {
        OrgTx::begin(pool, self.org_id, self.actor, self.meta.clone()).await
    }

    /// `begin`, for statements planned once whatever their values
    /// (`Plans::Generic`).
    pub async fn begin_planned(&self, pool: &PgPool, plans: Plans) -> Result<OrgTx> {
        OrgTx::begin_planned(pool, self.org_id, self.actor, self.meta.clone(), plans).await
    }

    /// The organization's transaction, for a caller allowed `permission`
    /// (refused, and the refusal audited, otherwise): the one way to check
    /// and open in one step, so no work starts before its check.
    pub async fn begin_as(&self, pool: &PgPool, permission: Permission) -> Result<OrgTx> {
        self.require(permission).await?;
        self.begin(pool).await
    }

    /// `begin_as`, with `begin_planned`'s plans.
    pub async fn begin_planned_as(
        &self,
        pool: &PgPool,
        permission: Permission,
        plans: Plans,
    ) -> Result<OrgTx> {
        self.require(permission).await?;
        self.begin_planned(pool, plans).await
    }
}
