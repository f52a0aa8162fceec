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
//! This module holds what people do with endpoints (manage them, send a
//! test event); `deliveries` what they do with the log (read, replay).
mod client;
pub mod deliveries;
pub mod delivery;
pub mod secrets;
pub mod signing;
pub mod ssrf;
pub mod worker;

use crate::model::{DeliveryId, EndpointId, OrgId};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::audit::{self, AuditEvent};
use super::outbox::{self, EventType};
use super::{limits, AppState, Error, OrgContext, OrgTx, Result};
use crate::model::audit::AuditAction;
use crate::model::webhooks::{
    message_id, EndpointDraft, EndpointForm, EndpointHealth, EndpointOut, EndpointWithSecret,
    TestSendOut,
};
use crate::model::Permission;
use secrets::SigningSecret;

pub use client::Webhooks;
pub use deliveries::{deliveries, delivery, replay, replay_failed};
pub use worker::Deliverer;

/// Where workers are told that deliveries are due.
pub const CHANNEL: &str = "webhook_deliveries";
/// How long the previous secret keeps signing after a rotation.
const ROTATION_OVERLAP: Duration = Duration::hours(24);

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: EndpointId,
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
    let mut tx = ctx.begin_as(&state.pool, Permission::ReadWebhooks).await?;
    let rows: Vec<EndpointRow> =
        sqlx::query_as(&format!("{SELECT_ENDPOINTS} order by e.created_at, e.id"))
            .bind(tx.org_id())
            .fetch_all(tx.conn())
            .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn get(ctx: &OrgContext, state: &AppState, id: EndpointId) -> Result<EndpointOut> {
    let mut tx = ctx.begin_as(&state.pool, Permission::ReadWebhooks).await?;
    let endpoint = find(&mut tx, id).await?;
    tx.commit().await?;
    Ok(endpoint)
}

async fn find(tx: &mut OrgTx, id: EndpointId) -> Result<EndpointOut> {
    let row: Option<EndpointRow> = sqlx::query_as(&format!("{SELECT_ENDPOINTS} and e.id = $2"))
        .bind(tx.org_id())
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    row.map(Into::into).ok_or(Error::NotFound)
}

/// The checked settings, with the URL judged by the SSRF guard (resolving
/// its host) before any transaction opens.
async fn check(state: &AppState, input: &EndpointForm) -> Result<EndpointDraft> {
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
    input: EndpointForm,
) -> Result<EndpointWithSecret> {
    ctx.require(Permission::ManageWebhooks).await?;
    let draft = check(state, &input).await?;
    let mut tx = ctx.begin(&state.pool).await?;
    ensure_endpoint_allowed(&mut tx).await?;
    let id = EndpointId::new_v4();
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
    id: EndpointId,
    input: EndpointForm,
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

pub async fn delete(ctx: &OrgContext, state: &AppState, id: EndpointId) -> Result<()> {
    // A worker locks a delivery, then (recording its attempt) the endpoint
    // by foreign key; the delete locks in the same order, but a delivery
    // fanned out meanwhile can still cross it: PostgreSQL then aborts one
    // side, and ours simply runs again.
    for _ in 0..2 {
        match delete_once(ctx, state, id).await {
            Err(e) if e.is_deadlock() => tracing::info!("deleting an endpoint met a worker; again"),
            done => return done,
        }
    }
    delete_once(ctx, state, id).await
}

async fn delete_once(ctx: &OrgContext, state: &AppState, id: EndpointId) -> Result<()> {
    let mut tx = ctx
        .begin_as(&state.pool, Permission::ManageWebhooks)
        .await?;
    let before = find(&mut tx, id).await?;
    // Its deliveries first, as a worker locks them, so that a worker
    // holding one finishes before the endpoint row is taken.
    sqlx::query(
        "select 1 from webhook_deliveries where organization_id = $1 and endpoint_id = $2
         order by id for update",
    )
    .bind(tx.org_id())
    .bind(id)
    .execute(tx.conn())
    .await?;
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
    id: EndpointId,
    enabled: bool,
) -> Result<EndpointOut> {
    let mut tx = ctx
        .begin_as(&state.pool, Permission::ManageWebhooks)
        .await?;
    find(&mut tx, id).await?;
    switch(&mut tx, id, enabled, None).await?;
    let endpoint = find(&mut tx, id).await?;
    tx.commit().await?;
    Ok(endpoint)
}

/// Turns an endpoint on (with a clean slate) or off (its waiting
/// deliveries become skipped: replayable, not lost), with an audit entry.
async fn switch(tx: &mut OrgTx, id: EndpointId, enabled: bool, reason: Option<&str>) -> Result<()> {
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
    org_id: OrgId,
    id: EndpointId,
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
    id: EndpointId,
) -> Result<EndpointWithSecret> {
    let mut tx = ctx
        .begin_as(&state.pool, Permission::ManageWebhooks)
        .await?;
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
pub async fn send_test(ctx: &OrgContext, state: &AppState, id: EndpointId) -> Result<TestSendOut> {
    let mut tx = ctx
        .begin_as(&state.pool, Permission::ManageWebhooks)
        .await?;
    let endpoint = find(&mut tx, id).await?;
    let event_id = outbox::enqueue(
        &mut tx,
        EventType::WebhookTest,
        json!({ "endpoint_id": id, "message": "A test event from Codebook." }),
    )
    .await?;
    let delivery_id = DeliveryId::new_v4();
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
    endpoint_id: EndpointId,
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
