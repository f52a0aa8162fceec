//! Webhooks: endpoints an organization registers, and the delivery of its
//! events to them, at least once and signed per Standard Webhooks.
//!
//! The path of an event: a change writes it to the outbox in its own
//! transaction; a trigger fans it out, in that same statement, to one
//! delivery per subscribed endpoint; a worker (`worker`) claims due
//! deliveries with `FOR UPDATE SKIP LOCKED` under a lease with a fencing
//! token (putting each attempt on the log as sending), sends them outside
//! any transaction (`delivery`), no more at once to an endpoint than it
//! takes, and records the answer, which retries, dead-letters or disables
//! as it says.
//! This module holds what people do: manage endpoints, read the log,
//! replay, send a test event.
mod client;
pub mod delivery;
pub mod secrets;
pub mod signing;
pub mod ssrf;
pub mod worker;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::audit::{self, AuditEvent};
use super::outbox::{self, EventType};
use super::{limits, AppState, Error, OrgContext, OrgTx, Result};
use crate::model::audit::AuditAction;
use crate::model::webhooks::{
    message_id, AttemptOut, AttemptOutcome, DeliveryDetail, DeliveryFilter, DeliveryOut,
    DeliveryPage, DeliveryStatus, EndpointDraft, EndpointHealth, EndpointInput, EndpointOut,
    EndpointWithSecret, ReplayOut, TestSendOut, DELIVERY_PAGE_SIZE,
};
use crate::model::Permission;
use secrets::SigningSecret;

pub use client::Webhooks;
pub use worker::Deliverer;

/// Where workers are told that deliveries are due.
pub const CHANNEL: &str = "webhook_deliveries";
/// How long the previous secret keeps signing after a rotation.
const ROTATION_OVERLAP: Duration = Duration::hours(24);

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: Uuid,
    url: String,
    description: String,
    event_types: Vec<String>,
    enabled: bool,
    disabled_reason: Option<String>,
    timeout_seconds: i32,
    max_retries: i32,
    max_in_flight: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    failing_since: Option<DateTime<Utc>>,
    previous_secret_expires_at: Option<DateTime<Utc>>,
    succeeded: i64,
    failed: i64,
    waiting: i64,
}

impl From<EndpointRow> for EndpointOut {
    fn from(r: EndpointRow) -> Self {
        Self {
            id: r.id,
            url: r.url,
            description: r.description,
            event_types: r.event_types,
            enabled: r.enabled,
            disabled_reason: r.disabled_reason,
            timeout_seconds: r.timeout_seconds,
            max_retries: r.max_retries,
            max_in_flight: r.max_in_flight,
            created_at: r.created_at,
            updated_at: r.updated_at,
            failing_since: r.failing_since,
            previous_secret_expires_at: r.previous_secret_expires_at,
            health: EndpointHealth {
                succeeded: r.succeeded,
                failed: r.failed,
                waiting: r.waiting,
            },
        }
    }
}

/// An endpoint with its last day's attempts and its waiting deliveries.
const SELECT_ENDPOINTS: &str = "
    select e.id, e.url, e.description, e.event_types, e.enabled, e.disabled_reason,
           e.timeout_seconds, e.max_retries, e.max_in_flight, e.created_at, e.updated_at,
           e.failing_since,
           case when e.previous_secret_expires_at > now() then e.previous_secret_expires_at end
               as previous_secret_expires_at,
           coalesce(h.succeeded, 0) as succeeded, coalesce(h.failed, 0) as failed,
           (select count(*) from webhook_deliveries d
             where d.organization_id = e.organization_id and d.endpoint_id = e.id
               and d.status in ('pending', 'retrying')) as waiting
    from webhook_endpoints e
    left join lateral (
        select count(*) filter (where a.outcome = 'succeeded') as succeeded,
               -- Not one still under way, nor one its worker cut off.
               count(*) filter (where a.outcome = 'failed') as failed
        from webhook_attempts a
        where a.organization_id = e.organization_id and a.endpoint_id = e.id
          and a.started_at > now() - interval '24 hours'
    ) h on true
    where e.organization_id = $1";

pub async fn list(ctx: &OrgContext, state: &AppState) -> Result<Vec<EndpointOut>> {
    ctx.require(Permission::ReadWebhooks).await?;
    let mut tx = ctx.begin(&state.pool).await?;
    let rows: Vec<EndpointRow> =
        sqlx::query_as(&format!("{SELECT_ENDPOINTS} order by e.created_at, e.id"))
            .bind(tx.org_id())
            .fetch_all(tx.conn())
            .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn get(ctx: &OrgContext, state: &AppState, id: Uuid) -> Result<EndpointOut> {
    ctx.require(Permission::ReadWebhooks).await?;
    let mut tx = ctx.begin(&state.pool).await?;
    let endpoint = find(&mut tx, id).await?;
    tx.commit().await?;
    Ok(endpoint)
}

async fn find(tx: &mut OrgTx, id: Uuid) -> Result<EndpointOut> {
    let row: Option<EndpointRow> = sqlx::query_as(&format!("{SELECT_ENDPOINTS} and e.id = $2"))
        .bind(tx.org_id())
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    row.map(Into::into).ok_or(Error::NotFound)
}

/// The checked settings, with the URL judged by the SSRF guard (resolving
/// its host) before any transaction opens.
async fn check(state: &AppState, input: &EndpointInput) -> Result<EndpointDraft> {
    let draft = input.check()?;
    state
        .webhooks
        .guard
        .check(&draft.url)
        .await
        .map_err(|refusal| Error::Validation {
            field: Some("url".into()),
            message: refusal.to_string(),
        })?;
    Ok(draft)
}

pub async fn create(
    ctx: &OrgContext,
    state: &AppState,
    input: EndpointInput,
) -> Result<EndpointWithSecret> {
    ctx.require(Permission::ManageWebhooks).await?;
    let draft = check(state, &input).await?;
    let mut tx = ctx.begin(&state.pool).await?;
    ensure_endpoint_allowed(&mut tx).await?;
    let id = Uuid::new_v4();
    let secret = SigningSecret::generate();
    sqlx::query(
        "insert into webhook_endpoints (organization_id, id, url, description, event_types,
             timeout_seconds, max_retries, max_in_flight, secret)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tx.org_id())
    .bind(id)
    .bind(&draft.url)
    .bind(&draft.description)
    .bind(&draft.event_types)
    .bind(draft.timeout_seconds)
    .bind(draft.max_retries)
    .bind(draft.max_in_flight)
    .bind(state.webhooks.key.seal(&secret, tx.org_id(), id))
    .execute(tx.conn())
    .await?;
    let endpoint = find(&mut tx, id).await?;
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::WebhookCreated, "webhook", id).after(settings_json(&endpoint)),
    )
    .await?;
    tx.commit().await?;
    Ok(EndpointWithSecret {
        endpoint,
        secret: secret.reveal(),
    })
}

/// The organization's endpoints, as counted against the plan's limit.
pub async fn endpoint_count(tx: &mut OrgTx) -> Result<i64> {
    let count =
        sqlx::query_scalar("select count(*) from webhook_endpoints where organization_id = $1")
            .bind(tx.org_id())
            .fetch_one(tx.conn())
            .await?;
    Ok(count)
}

/// Refuses one more endpoint at the plan's limit; the organization's row
/// stays locked until the transaction ends, so parallel creations queue.
async fn ensure_endpoint_allowed(tx: &mut OrgTx) -> Result<()> {
    let Some(max) = limits::lock(tx).await?.webhooks else {
        return Ok(());
    };
    if endpoint_count(tx).await? >= i64::from(max) {
        return Err(Error::LimitReached(format!(
            "Organization has reached its webhook endpoint limit ({max})."
        )));
    }
    Ok(())
}

fn settings_json(e: &EndpointOut) -> Value {
    json!({
        "url": e.url,
        "description": e.description,
        "event_types": e.event_types,
        "enabled": e.enabled,
        "timeout_seconds": e.timeout_seconds,
        "max_retries": e.max_retries,
        "max_in_flight": e.max_in_flight,
    })
}

pub async fn update(
    ctx: &OrgContext,
    state: &AppState,
    id: Uuid,
    input: EndpointInput,
) -> Result<EndpointOut> {
    ctx.require(Permission::ManageWebhooks).await?;
    let draft = check(state, &input).await?;
    let mut tx = ctx.begin(&state.pool).await?;
    let before = find(&mut tx, id).await?;
    sqlx::query(
        "update webhook_endpoints
            set url = $3, description = $4, event_types = $5, timeout_seconds = $6,
                max_retries = $7, max_in_flight = $8, updated_at = now()
          where organization_id = $1 and id = $2",
    )
    .bind(tx.org_id())
    .bind(id)
    .bind(&draft.url)
    .bind(&draft.description)
    .bind(&draft.event_types)
    .bind(draft.timeout_seconds)
    .bind(draft.max_retries)
    .bind(draft.max_in_flight)
    .execute(tx.conn())
    .await?;
    let after = find(&mut tx, id).await?;
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::WebhookUpdated, "webhook", id)
            .before(settings_json(&before))
            .after(settings_json(&after)),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn delete(ctx: &OrgContext, state: &AppState, id: Uuid) -> Result<()> {
    ctx.require(Permission::ManageWebhooks).await?;
    let mut tx = ctx.begin(&state.pool).await?;
    let before = find(&mut tx, id).await?;
    sqlx::query("delete from webhook_endpoints where organization_id = $1 and id = $2")
        .bind(tx.org_id())
        .bind(id)
        .execute(tx.conn())
        .await?;
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::WebhookDeleted, "webhook", id).before(settings_json(&before)),
    )
    .await?;
    tx.commit().await
}

pub async fn set_enabled(
    ctx: &OrgContext,
    state: &AppState,
    id: Uuid,
    enabled: bool,
) -> Result<EndpointOut> {
    ctx.require(Permission::ManageWebhooks).await?;
    let mut tx = ctx.begin(&state.pool).await?;
    find(&mut tx, id).await?;
    switch(&mut tx, id, enabled, None).await?;
    let endpoint = find(&mut tx, id).await?;
    tx.commit().await?;
    Ok(endpoint)
}

/// Turns an endpoint on (with a clean slate) or off (its waiting
/// deliveries become skipped: replayable, not lost), with an audit entry.
async fn switch(tx: &mut OrgTx, id: Uuid, enabled: bool, reason: Option<&str>) -> Result<()> {
    sqlx::query(
        "update webhook_endpoints
            set enabled = $3, disabled_reason = $4, updated_at = now(),
                failing_since = case when $3 then null else failing_since end
          where organization_id = $1 and id = $2",
    )
    .bind(tx.org_id())
    .bind(id)
    .bind(enabled)
    .bind(reason)
    .execute(tx.conn())
    .await?;
    if !enabled {
        // Not the ones a worker holds: their attempt is under way. An
        // attempt of theirs still sending lost its worker with its lease.
        sqlx::query(
            "with skipped as (
                 update webhook_deliveries
                    set status = 'skipped', next_attempt_at = null, updated_at = now()
                  where organization_id = $1 and endpoint_id = $2
                    and status in ('pending', 'retrying')
                    and (locked_until is null or locked_until <= now())
                 returning organization_id, id
             )
             update webhook_attempts a set outcome = 'interrupted', error = $3
               from skipped s
              where a.organization_id = s.organization_id and a.delivery_id = s.id
                and a.outcome = 'sending'",
        )
        .bind(tx.org_id())
        .bind(id)
        .bind(worker::INTERRUPTED)
        .execute(tx.conn())
        .await?;
    }
    let action = if enabled {
        AuditAction::WebhookEnabled
    } else {
        AuditAction::WebhookDisabled
    };
    let mut event = AuditEvent::new(action, "webhook", id);
    if let Some(reason) = reason {
        event = event.after(json!({ "reason": reason }));
    }
    audit::record(tx, event).await?;
    Ok(())
}

/// Disables an endpoint the system gave up on (410 Gone, or failing for
/// days), and tells the organization's owners and admins by mail.
pub async fn disable_for(
    state_pool: &sqlx::PgPool,
    org_id: Uuid,
    id: Uuid,
    reason: &str,
) -> Result<()> {
    let mut tx = OrgTx::begin(
        state_pool,
        org_id,
        super::Actor::System,
        super::RequestMeta::default(),
    )
    .await?;
    let still_enabled: Option<(String,)> = sqlx::query_as(
        "select url from webhook_endpoints where organization_id = $1 and id = $2 and enabled for update",
    )
    .bind(org_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    let Some((url,)) = still_enabled else {
        return tx.commit().await;
    };
    switch(&mut tx, id, false, Some(reason)).await?;
    tell_admins(&mut tx, &url, reason).await?;
    tx.commit().await
}

async fn tell_admins(tx: &mut OrgTx, url: &str, reason: &str) -> Result<()> {
    use super::jobs::{self, Job, MailJob};
    use super::mail::Mail;
    let admins: Vec<(String, String)> = sqlx::query_as(
        "select u.email, o.name from memberships m
         join users u on u.id = m.user_id
         join organizations o on o.id = m.organization_id
         where m.organization_id = $1 and m.role in ('owner', 'admin')",
    )
    .bind(tx.org_id())
    .fetch_all(tx.conn())
    .await?;
    for (email, org_name) in admins {
        let mail = Mail {
            to: email,
            subject: format!("A webhook endpoint of {org_name} was disabled"),
            text: format!(
                "Codebook disabled the webhook endpoint {url} of {org_name}.\n\n\
                 Why: {reason}\n\n\
                 Events for it are recorded as skipped while it is disabled. Once the \
                 receiver works again, enable the endpoint on its page and replay what it missed."
            ),
        };
        jobs::enqueue(
            tx.conn(),
            &Job::Mail(MailJob {
                mail,
                invitation: None,
            }),
        )
        .await?;
    }
    Ok(())
}

/// A new secret; the old one keeps signing (alongside) for 24 hours so
/// receivers can switch without losing a delivery.
pub async fn rotate_secret(
    ctx: &OrgContext,
    state: &AppState,
    id: Uuid,
) -> Result<EndpointWithSecret> {
    ctx.require(Permission::ManageWebhooks).await?;
    let mut tx = ctx.begin(&state.pool).await?;
    find(&mut tx, id).await?;
    let secret = SigningSecret::generate();
    sqlx::query(
        "update webhook_endpoints
            set previous_secret = secret, previous_secret_expires_at = now() + $4::interval,
                secret = $3, updated_at = now()
          where organization_id = $1 and id = $2",
    )
    .bind(tx.org_id())
    .bind(id)
    .bind(state.webhooks.key.seal(&secret, tx.org_id(), id))
    .bind(format!("{} seconds", ROTATION_OVERLAP.num_seconds()))
    .execute(tx.conn())
    .await?;
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::WebhookSecretRotated, "webhook", id),
    )
    .await?;
    let endpoint = find(&mut tx, id).await?;
    tx.commit().await?;
    Ok(EndpointWithSecret {
        endpoint,
        secret: secret.reveal(),
    })
}

/// Sends a `webhook.test` event to the endpoint now, from this request,
/// and records it as a delivery like any other (it is not retried).
pub async fn send_test(ctx: &OrgContext, state: &AppState, id: Uuid) -> Result<TestSendOut> {
    ctx.require(Permission::ManageWebhooks).await?;
    let mut tx = ctx.begin(&state.pool).await?;
    let endpoint = find(&mut tx, id).await?;
    let event_id = outbox::enqueue(
        &mut tx,
        EventType::WebhookTest,
        json!({ "endpoint_id": id, "message": "A test event from Codebook." }),
    )
    .await?;
    let delivery_id = Uuid::new_v4();
    sqlx::query(
        "insert into webhook_deliveries
             (organization_id, id, endpoint_id, event_id, event_type, status, attempts, tries)
         values ($1, $2, $3, $4, 'webhook.test', 'pending', 1, 1)",
    )
    .bind(tx.org_id())
    .bind(delivery_id)
    .bind(id)
    .bind(event_id)
    .execute(tx.conn())
    .await?;
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::WebhookTestSent, "webhook", id),
    )
    .await?;
    let (payload, secrets) = signing_material(&mut tx, state, id, event_id).await?;
    tx.commit().await?;

    // No transaction is open while the receiver takes its time.
    let body = serde_json::to_vec(&payload).map_err(anyhow::Error::new)?;
    let msg_id = message_id(event_id);
    let started_at = Utc::now();
    let sent = delivery::send(
        &state.webhooks.client,
        &state.webhooks.guard,
        &delivery::Outgoing {
            url: &endpoint.url,
            timeout: std::time::Duration::from_secs(endpoint.timeout_seconds as u64),
            message_id: &msg_id,
            body: &body,
            secrets: &secrets,
        },
    )
    .await;
    let verdict = if sent.succeeded() {
        delivery::Verdict::Succeeded
    } else {
        delivery::Verdict::Dead
    };
    let mut tx = ctx.begin(&state.pool).await?;
    worker::record_test_send(
        &mut tx,
        &worker::Finished {
            organization_id: ctx.org_id,
            delivery_id,
            lease: 0,
            attempt: 1,
            started_at,
            sent: sent.clone(),
            verdict,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(TestSendOut {
        delivery_id,
        request_headers: sent.request_headers,
        request_body: String::from_utf8_lossy(&body).into_owned(),
        status_code: sent.status_code.map(i32::from),
        succeeded: verdict == delivery::Verdict::Succeeded,
        response_body: sent.response_body,
        error: sent.error,
        duration_ms: sent.duration_ms,
    })
}

/// The event's payload and the secrets that sign it now.
async fn signing_material(
    tx: &mut OrgTx,
    state: &AppState,
    endpoint_id: Uuid,
    event_id: Uuid,
) -> Result<(Value, Vec<SigningSecret>)> {
    let (payload, secret, previous): (Value, Vec<u8>, Option<Vec<u8>>) = sqlx::query_as(
        "select o.payload, e.secret,
                case when e.previous_secret_expires_at > now() then e.previous_secret end
         from webhook_endpoints e
         join outbox o on o.organization_id = e.organization_id and o.id = $3
         where e.organization_id = $1 and e.id = $2",
    )
    .bind(tx.org_id())
    .bind(endpoint_id)
    .bind(event_id)
    .fetch_one(tx.conn())
    .await?;
    let secrets = worker::open_secrets(
        &state.webhooks.key,
        tx.org_id(),
        endpoint_id,
        &secret,
        previous.as_deref(),
    )?;
    Ok((payload, secrets))
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: Uuid,
    endpoint_id: Uuid,
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
    endpoint_id: Uuid,
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
fn parse_cursor(raw: &str) -> Result<(DateTime<Utc>, Uuid)> {
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
    endpoint_id: Uuid,
    id: Uuid,
) -> Result<DeliveryDetail> {
    ctx.require(Permission::ReadWebhooks).await?;
    let mut tx = ctx.begin(&state.pool).await?;
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

async fn find_delivery(tx: &mut OrgTx, endpoint_id: Uuid, id: Uuid) -> Result<DeliveryRow> {
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

async fn ensure_enabled(tx: &mut OrgTx, endpoint_id: Uuid) -> Result<()> {
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
    endpoint_id: Uuid,
    id: Uuid,
) -> Result<DeliveryOut> {
    ctx.require(Permission::ManageWebhooks).await?;
    let mut tx = ctx.begin(&state.pool).await?;
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
    endpoint_id: Uuid,
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

async fn requeue(tx: &mut OrgTx, condition: &str, id: Uuid) -> Result<()> {
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
        let id = Uuid::new_v4();
        let (at, back) = parse_cursor(&format!("1700000000000000_{id}")).unwrap();
        assert_eq!((at.timestamp(), back), (1_700_000_000, id));
        assert!(parse_cursor("x_y").is_err());
        assert!(parse_cursor("99999999999999999999_").is_err());
    }
}
