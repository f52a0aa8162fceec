//! Log-in throttling. Every attempt first takes a numbered slot in one
//! atomic upsert; only the first `limit` slots of a window get their
//! password checked, so 20 parallel guesses check at most `limit`
//! passwords. Reaching the limit locks the key for the lock period.
use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use super::Result;

/// Five failures in fifteen minutes lock an account for fifteen minutes.
pub const ACCOUNT_LIMIT: i32 = 5;
/// An address may fail this often in the window (many people share one).
pub const IP_LIMIT: i32 = 50;
pub const WINDOW: Duration = Duration::minutes(15);
pub const LOCK: Duration = Duration::minutes(15);

pub enum Slot {
    Granted,
    Locked { until: DateTime<Utc> },
}

/// Takes the next attempt slot for `key`.
pub async fn take_slot(pool: &PgPool, key: &str, limit: i32) -> Result<Slot> {
    let (attempts, locked_until): (i32, Option<DateTime<Utc>>) = sqlx::query_as(
        "insert into login_throttles as t (key, attempts, window_started)
         values ($1, 1, now())
         on conflict (key) do update set
             attempts = case
                 when t.locked_until <= now() or (t.locked_until is null and t.window_started <= now() - $2::interval)
                 then 1 else t.attempts + 1 end,
             window_started = case
                 when t.locked_until <= now() or (t.locked_until is null and t.window_started <= now() - $2::interval)
                 then now() else t.window_started end,
             locked_until = case when t.locked_until <= now() then null else t.locked_until end
         returning attempts, locked_until",
    )
    .bind(key)
    .bind(format!("{} seconds", WINDOW.num_seconds()))
    .fetch_one(pool)
    .await?;
    if let Some(until) = locked_until {
        return Ok(Slot::Locked { until });
    }
    if attempts > limit {
        // Parallel attempts past the limit: the lock is being set by the
        // attempt that failed last; report the full period.
        return Ok(Slot::Locked {
            until: Utc::now() + LOCK,
        });
    }
    Ok(Slot::Granted)
}

/// The attempt failed: at the limit, the key is locked.
pub async fn record_failure(pool: &PgPool, key: &str, limit: i32) -> Result<Option<DateTime<Utc>>> {
    let locked_until: Option<DateTime<Utc>> = sqlx::query_scalar(
        "update login_throttles set locked_until = now() + $3::interval
         where key = $1 and attempts >= $2 and locked_until is null
         returning locked_until",
    )
    .bind(key)
    .bind(limit)
    .bind(format!("{} seconds", LOCK.num_seconds()))
    .fetch_optional(pool)
    .await?;
    Ok(locked_until)
}

/// Gives back the slot of a successful attempt.
pub async fn release_slot(pool: &PgPool, key: &str) -> Result<()> {
    sqlx::query("update login_throttles set attempts = greatest(attempts - 1, 0) where key = $1")
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

/// The attempt succeeded: the key starts afresh.
pub async fn clear(pool: &PgPool, key: &str) -> Result<()> {
    sqlx::query("delete from login_throttles where key = $1")
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

pub fn account_key(user_id: uuid::Uuid) -> String {
    format!("account:{user_id}")
}

pub fn ip_key(ip: std::net::IpAddr) -> String {
    format!("ip:{ip}")
}
