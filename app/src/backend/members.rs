use crate::model::audit::AuditAction;
use crate::model::UserId;
use serde_json::json;

use super::audit::{self, AuditEvent};
use super::error::ResultExt as _;
use super::outbox::{self, EventType};
use super::{AppState, Error, OrgContext, OrgTx, Result};
use crate::model::members::{MemberOut, MembersPage};
use crate::model::{Permission, Role};

#[derive(sqlx::FromRow)]
struct MemberRow {
    user_id: UserId,
    name: String,
    email: String,
    role: Role,
    joined_at: chrono::DateTime<chrono::Utc>,
}

/// Adds a user to the transaction's organization.
pub async fn add(tx: &mut OrgTx, user_id: UserId, role: Role) -> Result<()> {
    sqlx::query("insert into memberships (organization_id, user_id, role) values ($1, $2, $3)")
        .bind(tx.org_id())
        .bind(user_id)
        .bind(role)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The members page: everyone, and who is looking.
pub async fn page(ctx: &OrgContext, state: &AppState) -> Result<MembersPage> {
    let mut tx = ctx.begin_as(&state.pool, Permission::ReadMembers).await?;
    let members = list(&mut tx).await?;
    tx.commit().await?;
    Ok(MembersPage {
        members,
        // An API key reading the list sees it as the least role would.
        my_role: ctx.member_role().unwrap_or(Role::Viewer),
        my_user_id: ctx.user_id(),
    })
}

/// Members of the transaction's organization, highest role first.
pub async fn list(tx: &mut OrgTx) -> Result<Vec<MemberOut>> {
    let rows: Vec<MemberRow> = sqlx::query_as(
        "select m.user_id, u.name, u.email, m.role, m.created_at as joined_at
         from memberships m join users u on u.id = m.user_id
         where m.organization_id = $1
         order by m.role, lower(u.name), u.email",
    )
    .bind(tx.org_id())
    .fetch_all(tx.conn())
    .await?;
    Ok(rows.into_iter().map(MemberOut::from).collect())
}

impl From<MemberRow> for MemberOut {
    fn from(r: MemberRow) -> Self {
        MemberOut {
            user_id: r.user_id,
            name: r.name,
            email: r.email,
            role: r.role,
            joined_at: r.joined_at,
        }
    }
}

/// The role of `user_id` in the transaction's organization; not found when
/// they are not a member (of this organization: RLS hides the others).
async fn role_of(tx: &mut OrgTx, user_id: UserId) -> Result<Role> {
    sqlx::query_scalar(
        "select role from memberships where organization_id = $1 and user_id = $2 for update",
    )
    .bind(tx.org_id())
    .bind(user_id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or(Error::NotFound)
}

fn last_owner() -> Error {
    Error::Conflict {
        field: None,
        message: "An organization must keep at least one owner. Make someone else owner first."
            .into(),
    }
}

/// Gives a member another role, within what the caller's role allows.
#[tracing::instrument(skip(ctx, state), fields(org_id = %ctx.org_id))]
pub async fn change_role(
    ctx: &OrgContext,
    state: &AppState,
    user_id: UserId,
    new_role: Role,
) -> Result<MemberOut> {
    let mut tx = ctx.begin_as(&state.pool, Permission::ManageMembers).await?;
    let old_role = role_of(&mut tx, user_id).await?;
    if !ctx.grant.can_manage(old_role) || !ctx.grant.can_assign(new_role) {
        return Err(Error::Forbidden(format!(
            "{} cannot change a {} into a {}.",
            ctx.grant.label(),
            old_role.label(),
            new_role.label()
        )));
    }
    if old_role != new_role {
        sqlx::query("update memberships set role = $3 where organization_id = $1 and user_id = $2")
            .bind(tx.org_id())
            .bind(user_id)
            .bind(new_role)
            .execute(tx.conn())
            .await
            .on_constraint("memberships_last_owner", last_owner)?;
        let change = json!({"user_id": user_id, "old_role": old_role, "new_role": new_role});
        audit::record(
            &mut tx,
            AuditEvent::new(AuditAction::MemberRoleChanged, "member", user_id)
                .before(json!({"role": old_role}))
                .after(json!({"role": new_role})),
        )
        .await?;
        outbox::enqueue(&mut tx, EventType::MemberRoleChanged, change).await?;
    }
    let member = get(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(member)
}

/// The acting member leaves the organization (refused for its last owner).
pub async fn leave(ctx: &OrgContext, state: &AppState) -> Result<()> {
    let user_id = ctx
        .user_id()
        .ok_or_else(|| Error::Forbidden("Only a member can leave an organization.".into()))?;
    remove(ctx, state, user_id).await
}

/// Removes a member (or, for `user_id` = the caller, leaves).
#[tracing::instrument(skip(ctx, state), fields(org_id = %ctx.org_id))]
pub async fn remove(ctx: &OrgContext, state: &AppState, user_id: UserId) -> Result<()> {
    let leaving = ctx.is_user(user_id);
    if !leaving {
        ctx.require(Permission::ManageMembers).await?;
    }
    let mut tx = ctx.begin(&state.pool).await?;
    let role = role_of(&mut tx, user_id).await?;
    if !leaving && !ctx.grant.can_manage(role) {
        return Err(Error::Forbidden(format!(
            "{} cannot remove a {}.",
            ctx.grant.label(),
            role.label()
        )));
    }
    sqlx::query("delete from memberships where organization_id = $1 and user_id = $2")
        .bind(tx.org_id())
        .bind(user_id)
        .execute(tx.conn())
        .await
        .on_constraint("memberships_last_owner", last_owner)?;
    let action = if leaving {
        AuditAction::MemberLeft
    } else {
        AuditAction::MemberRemoved
    };
    audit::record(
        &mut tx,
        AuditEvent::new(action, "member", user_id).before(json!({"role": role})),
    )
    .await?;
    outbox::enqueue(
        &mut tx,
        EventType::MemberRemoved,
        json!({"user_id": user_id, "role": role, "left": leaving}),
    )
    .await?;
    tx.commit().await
}

async fn get(tx: &mut OrgTx, user_id: UserId) -> Result<MemberOut> {
    let row: MemberRow = sqlx::query_as(
        "select m.user_id, u.name, u.email, m.role, m.created_at as joined_at
         from memberships m join users u on u.id = m.user_id
         where m.organization_id = $1 and m.user_id = $2",
    )
    .bind(tx.org_id())
    .bind(user_id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or(Error::NotFound)?;
    Ok(row.into())
}
