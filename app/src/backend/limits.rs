//! Plan limits, checked inside the inserting transaction: the
//! organization's row is locked first, so concurrent inserts into one
//! organization queue up and cannot overshoot.
use crate::model::OrgId;

use super::{Error, OrgTx, Result};
use crate::model::orgs::{Limits, Plan};

#[derive(sqlx::FromRow)]
struct LimitRow {
    plan: Plan,
    max_members: Option<i32>,
    max_codes: Option<i32>,
    max_webhooks: Option<i32>,
    max_api_keys: Option<i32>,
}

/// The organization's limits (plan, then overrides), locking its row
/// until the transaction ends.
pub async fn lock(tx: &mut OrgTx) -> Result<Limits> {
    read(tx, true).await
}

/// The organization's limits, without locking.
pub async fn current(tx: &mut OrgTx) -> Result<Limits> {
    read(tx, false).await
}

async fn read(tx: &mut OrgTx, lock: bool) -> Result<Limits> {
    let statement = if lock {
        "select plan, max_members, max_codes, max_webhooks, max_api_keys from organizations where id = $1 for update"
    } else {
        "select plan, max_members, max_codes, max_webhooks, max_api_keys from organizations where id = $1"
    };
    let row: LimitRow = sqlx::query_as(statement)
        .bind(tx.org_id())
        .fetch_optional(tx.conn())
        .await?
        .ok_or(Error::NotFound)?;
    let plan = row.plan.limits();
    let pick = |o: Option<i32>, d: Option<u32>| o.map(|v| v.max(0) as u32).or(d);
    Ok(Limits {
        members: pick(row.max_members, plan.members),
        codes: pick(row.max_codes, plan.codes),
        webhooks: pick(row.max_webhooks, plan.webhooks),
        api_keys: pick(row.max_api_keys, plan.api_keys),
    })
}

/// Members plus open invitations: what counts against the member limit.
pub async fn seats_taken(tx: &mut OrgTx) -> Result<i64> {
    let org: OrgId = tx.org_id();
    Ok(sqlx::query_scalar(
        "select (select count(*) from memberships where organization_id = $1)
              + (select count(*) from invitations
                 where organization_id = $1 and accepted_at is null and revoked_at is null
                   and expires_at > now())",
    )
    .bind(org)
    .fetch_one(tx.conn())
    .await?)
}

/// Refuses one more member when the organization is at its limit.
pub async fn ensure_seat_available(tx: &mut OrgTx) -> Result<()> {
    let limits = lock(tx).await?;
    if let Some(max) = limits.members {
        if seats_taken(tx).await? >= i64::from(max) {
            return Err(Error::LimitReached(format!(
                "Organization has reached its member limit ({max}). Pending invitations count too."
            )));
        }
    }
    Ok(())
}

/// Takes `n` more codes from the organization's allowance, or refuses when
/// that would pass its limit. One conditional update of the organization's
/// counter: concurrent writers queue on its row, and each re-checks the
/// condition on the row as the one before left it, so none overshoots.
pub async fn reserve_codes(tx: &mut OrgTx, n: i64) -> Result<()> {
    if n <= 0 {
        return Ok(());
    }
    let limit = current(tx).await?.codes;
    let reserved: Option<i32> = sqlx::query_scalar(
        "update organizations set code_count = code_count + $2
         where id = $1 and ($3::bigint is null or code_count + $2 <= $3)
         returning code_count",
    )
    .bind(tx.org_id())
    .bind(n)
    .bind(limit.map(i64::from))
    .fetch_optional(tx.conn())
    .await?;
    match (reserved, limit) {
        (Some(_), _) => Ok(()),
        (None, Some(max)) => Err(Error::LimitReached(format!(
            "Organization has reached its code limit ({max})."
        ))),
        (None, None) => Err(Error::NotFound),
    }
}

/// Gives `n` codes back (they were deleted).
pub async fn release_codes(tx: &mut OrgTx, n: i64) -> Result<()> {
    if n > 0 {
        sqlx::query(
            "update organizations set code_count = greatest(code_count - $2, 0) where id = $1",
        )
        .bind(tx.org_id())
        .bind(n)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}
