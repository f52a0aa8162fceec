use crate::model::audit::AuditAction;
use crate::model::OrgId;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::audit::{self, AuditEvent};
use super::db::Plans;
use super::error::ResultExt as _;
use super::sessions::SessionUser;
use super::{Actor, AppState, Error, OrgContext, OrgTx, RequestMeta, Result};
use crate::model::accounts::DisplayName;
use crate::model::orgs::{Dashboard, OrgOut, OrgSlug, Plan, Usage};
use crate::model::{Permission, Role};

#[derive(sqlx::FromRow)]
struct OrgRow {
    id: OrgId,
    name: String,
    slug: OrgSlug,
    plan: Plan,
    active: bool,
}

impl From<OrgRow> for OrgOut {
    fn from(r: OrgRow) -> Self {
        OrgOut {
            id: r.id,
            name: r.name,
            slug: r.slug,
            plan: r.plan,
            active: r.active,
        }
    }
}

/// Creates an organization with a slug made from its name, adding a short
/// suffix when that slug is taken.
pub async fn create(conn: &mut PgConnection, name: &DisplayName) -> Result<OrgOut> {
    let id = OrgId::new_v4();
    // Row-level security lets a transaction create (and read back) only
    // the organization it works in.
    sqlx::query("select set_config('app.org_id', $1, true)")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    let base = OrgSlug::from_name(name.as_str());
    for attempt in 0..20 {
        let slug = if attempt == 0 {
            base.clone()
        } else {
            base.with_suffix(&Uuid::new_v4().simple().to_string()[..6])
        };
        let row: Option<OrgRow> = sqlx::query_as(
            "insert into organizations (id, name, slug) values ($1, $2, $3)
             on conflict (slug) do nothing
             returning id, name, slug, plan, active",
        )
        .bind(id)
        .bind(name.as_str())
        .bind(&slug)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = row {
            return Ok(row.into());
        }
    }
    Err(Error::Internal(anyhow::anyhow!("no free slug for {base}")))
}

pub async fn get(tx: &mut OrgTx) -> Result<OrgOut> {
    let row: OrgRow =
        sqlx::query_as("select id, name, slug, plan, active from organizations where id = $1")
            .bind(tx.org_id())
            .fetch_optional(tx.conn())
            .await?
            .ok_or(Error::NotFound)?;
    Ok(row.into())
}

/// Makes `org_id` the session's current organization, if the user is a
/// member of it; otherwise not found, as for any other tenant's id.
pub async fn switch(pool: &sqlx::PgPool, user: &SessionUser, org_id: OrgId) -> Result<()> {
    let mut tx = super::db::begin_as_user(pool, user.user_id).await?;
    let member: bool = sqlx::query_scalar(
        "select exists (select 1 from memberships where user_id = $1 and organization_id = $2)",
    )
    .bind(user.user_id)
    .bind(org_id)
    .fetch_one(&mut *tx)
    .await?;
    if !member {
        return Err(Error::NotFound);
    }
    super::sessions::set_current_organization(&mut tx, user.session_id, org_id).await?;
    tx.commit().await?;
    Ok(())
}

/// A new organization with the user as its owner; it becomes the session's
/// current organization.
pub async fn create_for_user(
    pool: &sqlx::PgPool,
    user: &SessionUser,
    name: &str,
    meta: RequestMeta,
) -> Result<OrgOut> {
    let name = DisplayName::parse("name", name)?;
    let mut tx = super::db::begin_as_user(pool, user.user_id).await?;
    let org = create(&mut tx, &name).await?;
    let mut tx = OrgTx::bind(tx, org.id, Actor::User(user.user_id), meta).await?;
    super::members::add(&mut tx, user.user_id, Role::Owner).await?;
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::OrganizationCreated, "organization", org.id)
            .after(json!({"name": org.name, "slug": org.slug})),
    )
    .await?;
    super::sessions::set_current_organization(tx.conn(), user.session_id, org.id).await?;
    tx.commit().await?;
    Ok(org)
}

/// The dashboard: the organization, its members and its usage.
pub async fn dashboard(ctx: &OrgContext, state: &AppState) -> Result<Dashboard> {
    ctx.require(Permission::ReadMembers).await?;
    // Each statement's best plan is the same for every organization (rows
    // by organization through its index): planning them on every view cost
    // more than running them.
    let mut tx = ctx.begin_planned(&state.pool, Plans::Generic).await?;
    let organization = get(&mut tx).await?;
    let members = super::members::list(&mut tx).await?;
    let usage = usage(&mut tx).await?;
    let recent_changes = super::codes::recent_changes(&mut tx, 10).await?;
    tx.commit().await?;
    Ok(Dashboard {
        organization,
        role: ctx.member_role()?,
        members,
        usage,
        recent_changes,
    })
}

/// Renames the organization and/or changes its slug.
pub async fn update(ctx: &OrgContext, state: &AppState, name: &str, slug: &str) -> Result<OrgOut> {
    ctx.require(Permission::ManageSettings).await?;
    let name = DisplayName::parse("name", name)?;
    let slug = OrgSlug::parse(slug)?;
    let mut tx = ctx.begin(&state.pool).await?;
    let before = get(&mut tx).await?;
    let row: OrgRow = sqlx::query_as(
        "update organizations set name = $2, slug = $3 where id = $1
         returning id, name, slug, plan, active",
    )
    .bind(tx.org_id())
    .bind(name.as_str())
    .bind(&slug)
    .fetch_one(tx.conn())
    .await
    .on_constraint("organizations_slug_key", || {
        Error::conflict("slug", "That slug is taken. Choose another.")
    })?;
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::OrganizationUpdated, "organization", before.id)
            .before(json!({"name": before.name, "slug": before.slug}))
            .after(json!({"name": row.name, "slug": row.slug})),
    )
    .await?;
    tx.commit().await?;
    Ok(row.into())
}

/// Deletes the organization and all its data (owners only). The caller
/// types the slug to confirm.
pub async fn delete(ctx: &OrgContext, state: &AppState, confirmation: &str) -> Result<()> {
    ctx.require(Permission::DeleteOrganization).await?;
    if confirmation.trim() != ctx.org_slug.as_str() {
        return Err(Error::Validation {
            field: Some("confirmation".into()),
            message: format!("Type {} to confirm.", ctx.org_slug),
        });
    }
    let mut tx = ctx.begin(&state.pool).await?;
    sqlx::query("delete from organizations where id = $1")
        .bind(tx.org_id())
        .execute(tx.conn())
        .await?;
    // Its audit log goes with it; the platform log keeps the fact.
    let event = super::audit::platform::PlatformEvent::new(AuditAction::OrganizationDeleted)
        .organization(ctx.org_id, ctx.org_slug.as_str())
        .details(json!({"name": ctx.org_name}));
    super::audit::platform::record(tx.conn(), ctx.actor, &ctx.meta, event).await?;
    tx.commit().await?;
    tracing::warn!(org_id = %ctx.org_id, slug = %ctx.org_slug, actor = ?ctx.actor, "organization deleted");
    Ok(())
}

/// Usage of each limit.
pub async fn usage(tx: &mut OrgTx) -> Result<Usage> {
    let limits = super::limits::current(tx).await?;
    let seats = super::limits::seats_taken(tx).await?;
    let codes: i32 = sqlx::query_scalar("select code_count from organizations where id = $1")
        .bind(tx.org_id())
        .fetch_one(tx.conn())
        .await?;
    Ok(Usage {
        seats,
        codes: i64::from(codes),
        webhooks: super::webhooks::endpoint_count(tx).await?,
        api_keys: super::api_keys::live_count(tx).await?,
        limits,
    })
}
