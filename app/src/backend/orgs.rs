use sqlx::PgConnection;
use uuid::Uuid;

use super::sessions::SessionUser;
use super::{Error, OrgTx, Result};
use crate::model::accounts::DisplayName;
use crate::model::orgs::{slugify, MyOrganization, OrgOut};

#[derive(sqlx::FromRow)]
struct OrgRow {
    id: Uuid,
    name: String,
    slug: String,
    plan: String,
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
    let base = slugify(name.as_str());
    for attempt in 0..20 {
        let slug = if attempt == 0 {
            base.clone()
        } else {
            let suffix = &Uuid::new_v4().simple().to_string()[..6];
            format!(
                "{}-{suffix}",
                &base[..base.len().min(41)].trim_end_matches('-')
            )
        };
        let row: Option<OrgRow> = sqlx::query_as(
            "insert into organizations (id, name, slug) values ($1, $2, $3)
             on conflict (slug) do nothing
             returning id, name, slug, plan::text as plan, active",
        )
        .bind(Uuid::new_v4())
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
    let row: OrgRow = sqlx::query_as(
        "select id, name, slug, plan::text as plan, active from organizations where id = $1",
    )
    .bind(tx.org_id())
    .fetch_optional(tx.conn())
    .await?
    .ok_or(Error::NotFound)?;
    Ok(row.into())
}

pub async fn find_id_by_slug(pool: &sqlx::PgPool, slug: &str) -> Result<Uuid> {
    sqlx::query_scalar("select id from organizations where slug = $1")
        .bind(slug)
        .fetch_optional(pool)
        .await?
        .ok_or(Error::NotFound)
}

/// The organizations a user belongs to, for the switcher.
pub async fn list_for_user(pool: &sqlx::PgPool, user_id: Uuid) -> Result<Vec<MyOrganization>> {
    let mut tx = super::db::begin_as_user(pool, user_id).await?;
    let rows: Vec<MyOrganization> = sqlx::query_as(
        "select o.id, o.name, o.slug, m.role, o.active
         from memberships m join organizations o on o.id = m.organization_id
         where m.user_id = $1
         order by lower(o.name), o.slug",
    )
    .bind(user_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Makes `org_id` the session's current organization, if the user is a
/// member of it; otherwise not found, as for any other tenant's id.
pub async fn switch(pool: &sqlx::PgPool, user: &SessionUser, org_id: Uuid) -> Result<()> {
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
