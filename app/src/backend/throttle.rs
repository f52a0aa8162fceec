//! Log-in throttling (and, at the end, rate limits of other requests). Every attempt first takes a numbered slot in one
//! atomic upsert; only the first `limit` slots of a window get their
//! password checked, so 20 parallel guesses check at most `limit`
//! passwords. Reaching the limit locks the key for the lock period.
use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use super::mode::Mode;
use super::{Error, RequestMeta, Result};

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

pub fn account_key(user_id: crate::model::UserId) -> String {
    format!("account:{user_id}")
}

pub fn ip_key(ip: std::net::IpAddr) -> String {
    format!("ip:{ip}")
}

/// A limit on how often something may be asked for: at most `limit`
/// requests per `window` for one subject (an address, an email, an
/// organization). Counted in fixed windows by one atomic upsert.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// The key prefix, e.g. `sign_up:ip`.
    pub name: &'static str,
    pub limit: i32,
    pub window: Duration,
    /// What the refusal says is being limited.
    pub what: &'static str,
}

const HOUR: Duration = Duration::hours(1);

/// Refusals of one actor in one organization that go into its audit log
/// per minute: enough to show a pattern, too few for a script to flood the
/// chain (each entry takes the chain's lock). Past it they are only logged.
pub const AUDITED_REFUSALS_PER_ACTOR: RateLimit = RateLimit {
    name: "audited_refusals",
    limit: 30,
    window: Duration::minutes(1),
    what: "refusals recorded",
};

pub const SIGN_UP_PER_ADDRESS: RateLimit = RateLimit {
    name: "sign_up:ip",
    limit: 10,
    window: HOUR,
    what: "sign-ups from your network",
};
pub const RESET_REQUEST_PER_ADDRESS: RateLimit = RateLimit {
    name: "reset_request:ip",
    limit: 20,
    window: HOUR,
    what: "password reset requests from your network",
};
pub const RESET_REQUEST_PER_EMAIL: RateLimit = RateLimit {
    name: "reset_request:email",
    limit: 5,
    window: HOUR,
    what: "password reset requests for this address",
};
/// Reset links are unguessable; this bounds the password hashing a client
/// can make the server do with made-up ones.
pub const RESET_PER_ADDRESS: RateLimit = RateLimit {
    name: "reset:ip",
    limit: 20,
    window: HOUR,
    what: "password resets from your network",
};
pub const INVITE_PER_ADDRESS: RateLimit = RateLimit {
    name: "invite:ip",
    limit: 100,
    window: HOUR,
    what: "invitations from your network",
};
pub const INVITE_PER_ORGANIZATION: RateLimit = RateLimit {
    name: "invite:org",
    limit: 50,
    window: HOUR,
    what: "invitations from this organization",
};
/// Across organizations: nobody's inbox is flooded by invitations.
pub const INVITE_PER_EMAIL: RateLimit = RateLimit {
    name: "invite:email",
    limit: 3,
    window: HOUR,
    what: "invitations to this address",
};

/// Counts one request of `subject` against `limit` on `conn`, refusing it
/// past the limit. On the request's own transaction the count rolls back
/// with a request that fails for another reason; on the pool it stays.
pub async fn hit(conn: &mut sqlx::PgConnection, limit: RateLimit, subject: &str) -> Result<()> {
    let (hits, window_started): (i32, DateTime<Utc>) = sqlx::query_as(
        "insert into rate_limits as r (key, hits, window_started)
         values ($1, 1, now())
         on conflict (key) do update set
             hits = case when r.window_started <= now() - $2::interval then 1 else r.hits + 1 end,
             window_started = case when r.window_started <= now() - $2::interval
                                   then now() else r.window_started end
         returning hits, window_started",
    )
    .bind(format!("{}:{subject}", limit.name))
    .bind(format!("{} seconds", limit.window.num_seconds()))
    .fetch_one(conn)
    .await?;
    if hits > limit.limit {
        return Err(Error::RateLimited(format!(
            "Too many {}. Try again after {} UTC.",
            limit.what,
            (window_started + limit.window).format("%H:%M")
        )));
    }
    Ok(())
}

/// Counts a request against a per-address limit. A development instance
/// serves its developer (and the browser tests) from this machine: its
/// loopback address is not limited, or a test run would lock itself out.
pub async fn hit_address(
    conn: &mut sqlx::PgConnection,
    mode: Mode,
    limit: RateLimit,
    meta: &RequestMeta,
) -> Result<()> {
    match meta.ip {
        Some(ip) if !(mode == Mode::Development && ip.is_loopback()) => {
            hit(conn, limit, &ip.to_string()).await
        }
        _ => Ok(()),
    }
}
