//! The delivery log people read and replay: an endpoint's deliveries, one
//! delivery with its attempts, and replays of one or of every failed one
//! in a time range.
use crate::model::{DeliveryId, EndpointId};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{find, CHANNEL};
use crate::backend::audit::{self, AuditEvent};
use crate::backend::{AppState, Error, OrgContext, OrgTx, Result};
use crate::model::audit::AuditAction;
use crate::model::webhooks::{
    message_id, AttemptOut, AttemptOutcome, DeliveryDetail, DeliveryFilter, DeliveryOut,
    DeliveryPage, DeliveryStatus, ReplayOut, DELIVERY_PAGE_SIZE,
};
use crate::model::Permission;

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: DeliveryId,
    endpoint_id: EndpointId,
    event_id: Uuid,
    event_type: String,
    status: DeliveryStatus,
    attempts: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_status_code: Option<i32>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<DeliveryRow> for DeliveryOut {
    fn from(r: DeliveryRow) -> Self {
        Self {
            id: r.id,
            endpoint_id: r.endpoint_id,
            message_id: message_id(r.event_id),
            event_type: r.event_type,
            status: r.status,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            last_status_code: r.last_status_code,
            last_error: r.last_error,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const SELECT_DELIVERIES: &str = "
    select id, endpoint_id, event_id, event_type, status, attempts, next_attempt_at,
           last_status_code, last_error, created_at, updated_at
    from webhook_deliveries";

/// An endpoint's deliveries, newest first, a page at a time.
pub async fn deliveries(
    ctx: &OrgContext,
    state: &AppState,
    endpoint_id: EndpointId,
    filter: DeliveryFilter,
) -> Result<DeliveryPage> {
    ctx.require(Permission::ReadWebhooks).await?;
    let status = match filter.status.as_deref().map(str::trim) {
        None | Some("") | Some("all") => None,
        Some(raw) => Some(DeliveryStatus::parse(raw).ok_or_else(|| Error::Validation {
            field: Some("status".into()),
            message: format!("`{raw}` is not a delivery status."),
        })?),
    };
    let before = filter.before.as_deref().map(parse_cursor).transpose()?;
    let mut tx = ctx.begin(&state.pool).await?;
    find(&mut tx, endpoint_id).await?;
    let mut rows: Vec<DeliveryRow> = sqlx::query_as(&format!(
        "{SELECT_DELIVERIES}
         where organization_id = $1 and endpoint_id = $2
           and ($3::webhook_delivery_status is null or status = $3)
           and ($4::timestamptz is null or (created_at, id) < ($4, $5))
         order by created_at desc, id desc
         limit $6"
    ))
    .bind(tx.org_id())
    .bind(endpoint_id)
    .bind(status)
    .bind(before.map(|(at, _)| at))
    .bind(before.map(|(_, id)| id))
    .bind(DELIVERY_PAGE_SIZE + 1)
    .fetch_all(tx.conn())
    .await?;
    tx.commit().await?;
    let more = rows.len() as i64 > DELIVERY_PAGE_SIZE;
    rows.truncate(DELIVERY_PAGE_SIZE as usize);
    let next = more
        .then(|| {
            rows.last()
                .map(|r| format!("{}_{}", r.created_at.timestamp_micros(), r.id))
        })
        .flatten();
    Ok(DeliveryPage {
        items: rows.into_iter().map(Into::into).collect(),
        next,
    })
}

/// `<microseconds since the epoch>_<id>`, as `deliveries` hands out.
fn parse_cursor(raw: &str) -> Result<(DateTime<Utc>, DeliveryId)> {
    let bad = || Error::Validation {
        field: Some("before".into()),
        message: "This page link is not valid; go back to the first page.".into(),
    };
    let (micros, id) = raw.split_once('_').ok_or_else(bad)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    attempt: i32,
    outcome: AttemptOutcome,
    started_at: DateTime<Utc>,
    duration_ms: i32,
    status_code: Option<i32>,
    response_body: Option<String>,
    error: Option<String>,
    request_headers: sqlx::types::Json<Vec<(String, String)>>,
    succeeded: bool,
}

pub async fn delivery(
    ctx: &OrgContext,
    state: &AppState,
    endpoint_id: EndpointId,
    id: DeliveryId,
) -> Result<DeliveryDetail> {
    let mut tx = ctx.begin_as(&state.pool, Permission::ReadWebhooks).await?;
    let endpoint = find(&mut tx, endpoint_id).await?;
    let row = find_delivery(&mut tx, endpoint_id, id).await?;
    let payload: Value =
        sqlx::query_scalar("select payload from outbox where organization_id = $1 and id = $2")
            .bind(tx.org_id())
            .bind(row.event_id)
            .fetch_one(tx.conn())
            .await?;
    let attempts: Vec<AttemptRow> = sqlx::query_as(
        "select attempt, outcome, started_at, duration_ms, status_code, response_body, error,
                request_headers, succeeded
         from webhook_attempts where organization_id = $1 and delivery_id = $2
         order by attempt desc",
    )
    .bind(tx.org_id())
    .bind(id)
    .fetch_all(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(DeliveryDetail {
        delivery: row.into(),
        endpoint_url: endpoint.url,
        payload: serde_json::to_string(&payload).map_err(anyhow::Error::new)?,
        attempts: attempts
            .into_iter()
            .map(|a| AttemptOut {
                attempt: a.attempt,
                started_at: a.started_at,
                duration_ms: a.duration_ms,
                status_code: a.status_code,
                response_body: a.response_body,
                error: a.error,
                request_headers: a.request_headers.0,
                succeeded: a.succeeded,
                outcome: a.outcome,
            })
            .collect(),
    })
}

async fn find_delivery(
    tx: &mut OrgTx,
    endpoint_id: EndpointId,
    id: DeliveryId,
) -> Result<DeliveryRow> {
    sqlx::query_as(&format!(
        "{SELECT_DELIVERIES} where organization_id = $1 and endpoint_id = $2 and id = $3"
    ))
    .bind(tx.org_id())
    .bind(endpoint_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or(Error::NotFound)
}

async fn ensure_enabled(tx: &mut OrgTx, endpoint_id: EndpointId) -> Result<()> {
    if find(tx, endpoint_id).await?.enabled {
        Ok(())
    } else {
        Err(Error::Conflict {
            field: None,
            message: "This endpoint is disabled. Enable it first, then replay.".into(),
        })
    }
}

/// Queues one finished delivery again, due now, with a fresh allowance of
/// retries. One already on its way is refused.
pub async fn replay(
    ctx: &OrgContext,
    state: &AppState,
    endpoint_id: EndpointId,
    id: DeliveryId,
) -> Result<DeliveryOut> {
    let mut tx = ctx
        .begin_as(&state.pool, Permission::ManageWebhooks)
        .await?;
    ensure_enabled(&mut tx, endpoint_id).await?;
    let row = find_delivery(&mut tx, endpoint_id, id).await?;
    if !row.status.replayable() {
        return Err(Error::Conflict {
            field: None,
            message: "This delivery is still on its way; it can be replayed once it has succeeded or failed.".into(),
        });
    }
    requeue(&mut tx, "id = $2", id).await?;
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::WebhookDeliveryReplayed, "webhook_delivery", id)
            .after(json!({ "endpoint_id": endpoint_id, "event_type": row.event_type })),
    )
    .await?;
    let replayed = find_delivery(&mut tx, endpoint_id, id).await?;
    tx.commit().await?;
    Ok(replayed.into())
}

/// Queues again every dead or skipped delivery of the endpoint whose event
/// happened in [since, until).
pub async fn replay_failed(
    ctx: &OrgContext,
    state: &AppState,
    endpoint_id: EndpointId,
    since: &str,
    until: &str,
) -> Result<ReplayOut> {
    ctx.require(Permission::ManageWebhooks).await?;
    let since = parse_instant("since", since)?;
    let until = parse_instant("until", until)?;
    if since >= until {
        return Err(Error::Validation {
            field: Some("until".into()),
            message: "The end must come after the start.".into(),
        });
    }
    let mut tx = ctx.begin(&state.pool).await?;
    ensure_enabled(&mut tx, endpoint_id).await?;
    let queued = sqlx::query(
        "update webhook_deliveries
            set status = 'pending', tries = 0, next_attempt_at = now(), updated_at = now()
          where organization_id = $1 and endpoint_id = $2 and status in ('dead', 'skipped')
            and created_at >= $3 and created_at < $4",
    )
    .bind(tx.org_id())
    .bind(endpoint_id)
    .bind(since)
    .bind(until)
    .execute(tx.conn())
    .await?
    .rows_affected() as i64;
    notify_workers(&mut tx).await?;
    audit::record(
        &mut tx,
        AuditEvent::new(
            AuditAction::WebhookDeliveriesReplayed,
            "webhook",
            endpoint_id,
        )
        .after(json!({ "since": since, "until": until, "queued": queued })),
    )
    .await?;
    tx.commit().await?;
    Ok(ReplayOut { queued })
}

/// An instant as RFC 3339, or as a browser's `datetime-local` (read as UTC).
fn parse_instant(field: &str, raw: &str) -> Result<DateTime<Utc>> {
    let raw = raw.trim();
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
                .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
                .map(|t| t.and_utc())
        })
        .map_err(|_| Error::Validation {
            field: Some(field.into()),
            message: "Enter a date and time, like 2026-11-23T14:30.".into(),
        })
}

async fn requeue(tx: &mut OrgTx, condition: &str, id: DeliveryId) -> Result<()> {
    sqlx::query(&format!(
        "update webhook_deliveries
            set status = 'pending', tries = 0, next_attempt_at = now(), updated_at = now()
          where organization_id = $1 and {condition}"
    ))
    .bind(tx.org_id())
    .bind(id)
    .execute(tx.conn())
    .await?;
    notify_workers(tx).await
}

/// Wakes the workers when the transaction commits.
async fn notify_workers(tx: &mut OrgTx) -> Result<()> {
    sqlx::query("select pg_notify($1, '')")
        .bind(CHANNEL)
        .execute(tx.conn())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_read_rfc3339_and_datetime_local() {
        let at = parse_instant("since", "2026-11-23T14:30").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-11-23T14:30:00+00:00");
        let at = parse_instant("since", "2026-11-23T14:30:00+01:00").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-11-23T13:30:00+00:00");
        let error = parse_instant("until", "yesterday").unwrap_err();
        assert!(matches!(error, Error::Validation { field: Some(f), .. } if f == "until"));
    }

    #[test]
    fn a_page_cursor_reads_back_and_junk_is_refused() {
        let id = DeliveryId::new_v4();
        let (at, back) = parse_cursor(&format!("1700000000000000_{id}")).unwrap();
        assert_eq!((at.timestamp(), back), (1_700_000_000, id));
        assert!(parse_cursor("x_y").is_err());
        assert!(parse_cursor("99999999999999999999_").is_err());
    }
}
