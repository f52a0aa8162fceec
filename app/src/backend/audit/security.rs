//! The platform's security events: what happens before anyone is known to
//! belong to an organization, so that no organization's chain can hold it
//! (today: a log-in attempt with an email that has no account). Written by
//! the application, read only by platform admins (checked here by
//! `PlatformAdmin`, and by the table's row-level security on `app.user_id`),
//! never changed; kept 90 days (`prune`, run with the webhook history's).
use chrono::{DateTime, Utc};
use sqlx::types::ipnetwork::IpNetwork;
use sqlx::PgPool;

use crate::backend::platform::PlatformAdmin;
use crate::backend::{db, Error, RequestMeta, Result};
use crate::model::audit::{
    SecurityEventOut, SecurityEventPage, MAX_AUDIT_PAGE_SIZE, UNKNOWN_EMAIL_LOGIN,
};

/// The longest an email address can be; what was typed is cut there.
const MAX_EMAIL_CHARS: usize = 254;
/// Events removed per statement by `prune`.
const PRUNE_BATCH: i32 = 10_000;

/// What was typed as an email, as it is kept: trimmed, lower-cased,
/// without control characters, at most `MAX_EMAIL_CHARS` characters.
fn bounded_email(typed: &str) -> String {
    typed
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .flat_map(char::to_lowercase)
        .take(MAX_EMAIL_CHARS)
        .collect()
}

/// Records an event of `kind` (`area.what_happened`) with the request's
/// address, user agent and id.
pub async fn record(
    pool: &PgPool,
    kind: &str,
    email: Option<&str>,
    meta: &RequestMeta,
) -> Result<()> {
    sqlx::query(
        "insert into security_events (kind, email, ip, user_agent, request_id)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(kind)
    .bind(email.map(bounded_email))
    .bind(meta.ip.map(IpNetwork::from))
    .bind(&meta.user_agent)
    .bind(&meta.request_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// A log-in attempt with an email that has no account.
pub async fn record_unknown_email_login(
    pool: &PgPool,
    typed_email: &str,
    meta: &RequestMeta,
) -> Result<()> {
    record(pool, UNKNOWN_EMAIL_LOGIN, Some(typed_email), meta).await
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    occurred_at: DateTime<Utc>,
    kind: String,
    email: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
}

impl From<EventRow> for SecurityEventOut {
    fn from(r: EventRow) -> Self {
        SecurityEventOut {
            id: r.id,
            occurred_at: r.occurred_at,
            kind: r.kind,
            email: r.email,
            ip: r.ip,
            user_agent: r.user_agent,
            request_id: r.request_id,
        }
    }
}

/// Up to `limit` events, newest first, older than `cursor` (an id).
pub async fn list(
    admin: &PlatformAdmin<'_>,
    cursor: Option<i64>,
    limit: i64,
) -> Result<SecurityEventPage> {
    if !(1..=MAX_AUDIT_PAGE_SIZE).contains(&limit) {
        return Err(Error::Validation {
            field: Some("limit".into()),
            message: format!("Ask for 1 to {MAX_AUDIT_PAGE_SIZE} events."),
        });
    }
    // Row-level security shows the table to platform admins only, as named
    // by app.user_id.
    let mut tx = db::begin_as_user(admin.pool(), admin.user_id()).await?;
    let mut rows: Vec<EventRow> = sqlx::query_as(
        "select id, occurred_at, kind, email, host(ip) as ip, user_agent, request_id
         from security_events
         where id < coalesce($1, 9223372036854775807)
         order by id desc
         limit $2",
    )
    .bind(cursor)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    let older = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let newer = match cursor {
        None => None,
        Some(before) => {
            let newest_here = rows.first().map_or(before - 1, |r| r.id);
            let top: Option<i64> = sqlx::query_scalar(
                "select max(id) from (select id from security_events
                                       where id > $1 order by id limit $2) newer",
            )
            .bind(newest_here)
            .bind(limit)
            .fetch_one(&mut *tx)
            .await?;
            top.map(|top| top + 1)
        }
    };
    tx.commit().await?;
    Ok(SecurityEventPage {
        events: rows.into_iter().map(SecurityEventOut::from).collect(),
        older,
        newer,
    })
}

/// Forgets events older than 90 days (the database's clock decides); returns
/// how many went.
pub async fn prune(pool: &PgPool) -> Result<u64> {
    let mut removed = 0u64;
    loop {
        let n: i32 = sqlx::query_scalar("select security_events_prune($1)")
            .bind(PRUNE_BATCH)
            .fetch_one(pool)
            .await?;
        removed += n as u64;
        if n < PRUNE_BATCH {
            return Ok(removed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_emails_are_kept_trimmed_lower_cased_and_bounded() {
        assert_eq!(bounded_email("  Eve@Example.COM "), "eve@example.com");
        assert_eq!(bounded_email("a\nb\u{7}@x"), "ab@x");
        let long = "é".repeat(400);
        assert_eq!(bounded_email(&long).chars().count(), MAX_EMAIL_CHARS);
    }
}
