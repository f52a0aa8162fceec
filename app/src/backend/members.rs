use uuid::Uuid;

use super::{OrgTx, Result};
use crate::model::{members::MemberOut, Role};

#[derive(sqlx::FromRow)]
struct MemberRow {
    user_id: Uuid,
    name: String,
    email: String,
    role: Role,
    joined_at: chrono::DateTime<chrono::Utc>,
}

/// Adds a user to the transaction's organization.
pub async fn add(tx: &mut OrgTx, user_id: Uuid, role: Role) -> Result<()> {
    sqlx::query("insert into memberships (organization_id, user_id, role) values ($1, $2, $3)")
        .bind(tx.org_id())
        .bind(user_id)
        .bind(role)
        .execute(tx.conn())
        .await?;
    Ok(())
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
    Ok(rows
        .into_iter()
        .map(|r| MemberOut {
            user_id: r.user_id,
            name: r.name,
            email: r.email,
            role: r.role,
            joined_at: r.joined_at,
        })
        .collect())
}
