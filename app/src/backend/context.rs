//! The organization a request works on, resolved fresh on every request
//! from the caller: membership and role are read from the database each
//! time, so a role change or removal applies to the very next request.
use sqlx::PgPool;
use uuid::Uuid;

use super::sessions::SessionUser;
use super::{db, Actor, Error, OrgTx, RequestMeta, Result};
use crate::model::orgs::OrgSlug;
use crate::model::{Permission, Role};

#[derive(Debug, Clone)]
pub struct OrgContext {
    pub org_id: Uuid,
    pub org_name: String,
    pub org_slug: OrgSlug,
    pub role: Role,
    /// Who acts: a member now; an API key of the organization later.
    pub actor: Actor,
    /// How the actor is named to people (in mail, say).
    pub actor_name: String,
    pub meta: RequestMeta,
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
    organization_id: Uuid,
    name: String,
    slug: OrgSlug,
    active: bool,
    role: Role,
}

impl OrgContext {
    /// The session's current organization if the user still belongs to it,
    /// else the organization they joined first.
    pub async fn resolve(pool: &PgPool, user: SessionUser, meta: RequestMeta) -> Result<Self> {
        let mut tx = db::begin_as_user(pool, user.user_id).await?;
        let row: Option<MembershipRow> = sqlx::query_as(
            "select m.organization_id, o.name, o.slug, o.active, m.role
             from memberships m join organizations o on o.id = m.organization_id
             where m.user_id = $1
             order by (m.organization_id = $2) desc nulls last, m.created_at, o.name
             limit 1",
        )
        .bind(user.user_id)
        .bind(user.current_organization_id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let row = row
            .ok_or_else(|| Error::Forbidden("You are not a member of any organization.".into()))?;
        if !row.active {
            return Err(Error::OrganizationInactive);
        }
        Ok(Self {
            org_id: row.organization_id,
            org_name: row.name,
            org_slug: row.slug,
            role: row.role,
            actor: Actor::User(user.user_id),
            actor_name: user.name,
            meta,
        })
    }

    /// The server's operator at the command line, acting on the
    /// organization with `slug` with every permission (the actor is
    /// `System` in versions and audit entries).
    pub async fn operator(pool: &PgPool, slug: &OrgSlug) -> Result<Self> {
        let (org_id, name): (Uuid, String) =
            sqlx::query_as("select id, name from organizations where slug = $1")
                .bind(slug)
                .fetch_optional(pool)
                .await?
                .ok_or(Error::NotFound)?;
        Ok(Self {
            org_id,
            org_name: name,
            org_slug: slug.clone(),
            role: Role::Owner,
            actor: Actor::System,
            actor_name: "Codebook operator".into(),
            meta: RequestMeta::default(),
        })
    }

    /// The member acting, when a person acts (not a key).
    pub fn user_id(&self) -> Option<Uuid> {
        self.actor.user_id()
    }

    /// Whether `user_id` is the one acting.
    pub fn is_user(&self, user_id: Uuid) -> bool {
        self.user_id() == Some(user_id)
    }

    /// Refuses what the member's role does not allow.
    pub fn require(&self, permission: Permission) -> Result<()> {
        if self.role.can(permission) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "Your role ({}) does not allow this.",
                self.role.label()
            )))
        }
    }

    /// A transaction on this organization's data, as this actor.
    pub async fn begin(&self, pool: &PgPool) -> Result<OrgTx> {
        OrgTx::begin(pool, self.org_id, self.actor, self.meta.clone()).await
    }
}
