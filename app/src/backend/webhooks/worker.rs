//! Delivery workers: claim due deliveries, send them, record what happened.
//!
//! Any number of workers (inside `serve`, or alone as `server worker`)
//! share the work through `webhook_claim`, which takes rows with
//! `FOR UPDATE SKIP LOCKED`, round-robin across endpoints, leases each for
//! its timeout plus a margin under a new fencing token, and puts its attempt
//! on the log as sending. A worker that dies leaves its claims to run out
//! and be claimed again (at least once); the next claim marks the attempt
//! it cut off as interrupted, so the log shows every request that may have
//! reached the receiver. `webhook_record` stores an answer only if its
//! token is still the delivery's, so a worker that outlived its lease cannot
//! overwrite a newer attempt. No transaction is open while a request is on
//! the wire.
//!
//! A worker wakes on `NOTIFY webhook_deliveries` (sent when deliveries are
//! committed), when one of its requests finishes, and on a short poll for
//! retries falling due. It keeps at most `max_in_flight` requests going in
//! all, and to each endpoint no more than the endpoint's own
//! `max_in_flight`: a receiver with a short listen queue is not overrun, and
//! a slow one fills its few slots while the others' deliveries go on.
use crate::model::{DeliveryId, EndpointId, OrgId};
use chrono::{DateTime, Duration, Utc};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::collections::HashMap;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use uuid::Uuid;

use super::delivery::{self, Outgoing, Sent, Verdict};
use super::secrets::{SecretKey, SigningSecret};
use super::{disable_for, Webhooks, CHANNEL};
use crate::backend::{OrgTx, Result};
use crate::model::webhooks::message_id;

/// An endpoint whose every attempt has failed for this long is disabled.
pub const FAILING_LIMIT: Duration = Duration::days(5);
/// How often history past its retention is pruned.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);
const PRUNE_BATCH: i32 = 1000;
/// Finished jobs are kept this long for diagnosis.
const JOB_RETENTION: Duration = Duration::days(30);
/// The error of an attempt cut off with its worker; `webhook_claim` writes
/// the same words.
pub const INTERRUPTED: &str = "The worker sending it stopped before it recorded the answer.";

#[derive(Debug, Clone)]
pub struct Settings {
    /// Requests one worker keeps going at once, to all endpoints (each
    /// endpoint's own `max_in_flight` caps what goes to it).
    pub max_in_flight: usize,
    /// Deliveries claimed per round trip.
    pub batch: usize,
    /// The backstop when no notification comes: retries falling due.
    pub poll: std::time::Duration,
    /// How long a claim outlasts the endpoint's timeout: the time to record
    /// the answer. A worker that dies holds its deliveries this much past
    /// their timeout before another worker may take them up.
    pub lease_margin: std::time::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            batch: 128,
            poll: std::time::Duration::from_millis(1000),
            lease_margin: std::time::Duration::from_secs(10),
        }
    }
}

/// A delivery a worker holds, with all it needs to send it.
#[derive(Debug, sqlx::FromRow)]
pub struct Claimed {
    pub organization_id: OrgId,
    pub delivery_id: DeliveryId,
    pub endpoint_id: EndpointId,
    pub event_id: Uuid,
    pub event_type: String,
    pub lease: i64,
    pub attempt: i32,
    pub tries: i32,
    pub url: String,
    pub timeout_seconds: i32,
    pub max_retries: i32,
    pub secret: Vec<u8>,
    pub previous_secret: Option<Vec<u8>>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub payload: serde_json::Value,
    pub event_created_at: DateTime<Utc>,
}

/// An attempt made, to be recorded.
#[derive(Debug, Clone)]
pub struct Finished {
    pub organization_id: OrgId,
    pub delivery_id: DeliveryId,
    pub lease: i64,
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub sent: Sent,
    pub verdict: Verdict,
}

/// An endpoint's state after its attempts were recorded.
#[derive(Debug, sqlx::FromRow)]
pub struct EndpointAfter {
    pub organization_id: OrgId,
    pub endpoint_id: EndpointId,
    pub failing_since: Option<DateTime<Utc>>,
    pub gone: bool,
}

/// The endpoint's current secret, and its previous one while it still signs.
pub fn open_secrets(
    key: &SecretKey,
    org_id: OrgId,
    endpoint_id: EndpointId,
    secret: &[u8],
    previous: Option<&[u8]>,
) -> Result<Vec<SigningSecret>> {
    let mut secrets = vec![key.open(secret, org_id, endpoint_id)?];
    if let Some(previous) = previous {
        secrets.push(key.open(previous, org_id, endpoint_id)?);
    }
    Ok(secrets)
}

/// Records attempts in one statement; those whose lease was lost are
/// dropped there.
pub async fn record(pool: &PgPool, finished: &[Finished]) -> Result<Vec<EndpointAfter>> {
    if finished.is_empty() {
        return Ok(Vec::new());
    }
    let attempts: Vec<serde_json::Value> = finished.iter().map(attempt_json).collect();
    Ok(sqlx::query_as("select * from webhook_record($1)")
        .bind(serde_json::Value::Array(attempts))
        .fetch_all(pool)
        .await?)
}

/// Records the one attempt of a test send, made by a request of the
/// organization `tx` works in (the workers' `record` is not the
/// application's to call).
pub async fn record_test_send(tx: &mut OrgTx, finished: &Finished) -> Result<()> {
    sqlx::query("select webhook_record_test_send($1)")
        .bind(attempt_json(finished))
        .execute(tx.conn())
        .await?;
    Ok(())
}

fn attempt_json(f: &Finished) -> serde_json::Value {
    let headers: Vec<[&str; 2]> = f
        .sent
        .request_headers
        .iter()
        .map(|(name, value)| [name.as_str(), value.as_str()])
        .collect();
    serde_json::json!({
        "organization_id": f.organization_id,
        "delivery_id": f.delivery_id,
        "lease": f.lease,
        "attempt": f.attempt,
        "started_at": f.started_at,
        "duration_ms": f.sent.duration_ms,
        "status_code": f.sent.status_code,
        "response_body": f.sent.response_body,
        "error": f.sent.error,
        "request_headers": headers,
        "outcome": f.verdict.status(),
        "next_attempt_at": f.verdict.next_attempt_at(),
        "gone": f.verdict == Verdict::Gone,
    })
}

/// Claims, sends and records deliveries for every organization.
#[derive(Clone)]
pub struct Deliverer {
    pool: PgPool,
    webhooks: Webhooks,
    settings: Settings,
}

impl Deliverer {
    pub fn new(pool: PgPool, webhooks: Webhooks) -> Self {
        Self {
            pool,
            webhooks,
            settings: Settings::default(),
        }
    }

    pub fn with_settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Claims up to `limit` due deliveries, none beyond an endpoint's
    /// `max_in_flight` counting the requests `busy` says this worker
    /// already has going to it, and puts their attempts on the log.
    pub async fn claim(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        busy: &[(EndpointId, usize)],
    ) -> Result<Vec<Claimed>> {
        let endpoints: Vec<EndpointId> = busy.iter().map(|(id, _)| *id).collect();
        let counts: Vec<i32> = busy
            .iter()
            .map(|(_, n)| i32::try_from(*n).unwrap_or(i32::MAX))
            .collect();
        Ok(
            sqlx::query_as("select * from webhook_claim($1, $2, $3, $4, $5)")
                .bind(now)
                .bind(i32::try_from(limit).unwrap_or(i32::MAX))
                .bind(endpoints)
                .bind(counts)
                .bind(self.settings.lease_margin.as_secs_f64())
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Makes one attempt at a claimed delivery. `now` is the worker's
    /// clock (tests move it); the signature's timestamp is the wall clock's.
    pub async fn attempt(webhooks: &Webhooks, claimed: Claimed, now: DateTime<Utc>) -> Finished {
        let previous = claimed.previous_secret.as_deref().filter(|_| {
            claimed
                .previous_secret_expires_at
                .is_some_and(|at| at > now)
        });
        let sent = match open_secrets(
            &webhooks.key,
            claimed.organization_id,
            claimed.endpoint_id,
            &claimed.secret,
            previous,
        ) {
            Ok(secrets) => {
                let body = serde_json::to_vec(&claimed.payload).unwrap_or_default();
                let msg_id = message_id(claimed.event_id);
                delivery::send(
                    &webhooks.client,
                    &webhooks.guard,
                    &Outgoing {
                        url: &claimed.url,
                        timeout: std::time::Duration::from_secs(
                            claimed.timeout_seconds.clamp(1, 300) as u64,
                        ),
                        message_id: &msg_id,
                        body: &body,
                        secrets: &secrets,
                    },
                )
                .await
            }
            Err(e) => {
                tracing::error!(error = %e, endpoint_id = %claimed.endpoint_id, "cannot open a webhook secret");
                Sent {
                    duration_ms: 0,
                    status_code: None,
                    response_body: None,
                    error: Some("The endpoint's secret could not be opened on this server.".into()),
                    retry_after: None,
                    request_headers: Vec::new(),
                }
            }
        };
        let verdict = Verdict::judge(&sent, claimed.tries, claimed.max_retries, now);
        metrics::counter!("webhook_deliveries_total", "result" => verdict.metric_label())
            .increment(1);
        metrics::histogram!("webhook_attempt_duration_seconds")
            .record(f64::from(sent.duration_ms) / 1000.0);
        Finished {
            organization_id: claimed.organization_id,
            delivery_id: claimed.delivery_id,
            lease: claimed.lease,
            attempt: claimed.attempt,
            started_at: now,
            sent,
            verdict,
        }
    }

    /// Records attempts, then disables the endpoints that answered 410 or
    /// have failed for five days.
    pub async fn record(&self, finished: &[Finished], now: DateTime<Utc>) -> Result<()> {
        for endpoint in record(&self.pool, finished).await? {
            let reason = if endpoint.gone {
                Some("The receiver answered 410 Gone: the endpoint no longer exists.".to_owned())
            } else {
                endpoint
                    .failing_since
                    .filter(|since| now - *since >= FAILING_LIMIT)
                    .map(|since| {
                        format!(
                            "Every delivery has failed since {} (5 days).",
                            since.format("%Y-%m-%d %H:%M UTC")
                        )
                    })
            };
            if let Some(reason) = reason {
                tracing::warn!(endpoint_id = %endpoint.endpoint_id, %reason, "disabling a webhook endpoint");
                disable_for(
                    &self.pool,
                    endpoint.organization_id,
                    endpoint.endpoint_id,
                    &reason,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Sends everything due at `now`, round after round, until nothing is
    /// left that no other worker holds; returns the attempts made. What
    /// tests call, with their own clock.
    pub async fn deliver_due(&self, now: DateTime<Utc>) -> Result<usize> {
        let mut made = 0;
        loop {
            let claimed = self.claim(now, self.settings.batch, &[]).await?;
            if claimed.is_empty() {
                return Ok(made);
            }
            let mut sends = JoinSet::new();
            for c in claimed {
                let webhooks = self.webhooks.clone();
                sends.spawn(async move { Self::attempt(&webhooks, c, now).await });
            }
            let finished: Vec<Finished> = sends.join_all().await;
            made += finished.len();
            self.record(&finished, now).await?;
        }
    }

    /// Removes history past each organization's retention, a batch at a
    /// time, old finished jobs and old security events; returns the
    /// webhook events removed.
    pub async fn prune(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut removed = 0u64;
        loop {
            let n: i32 = sqlx::query_scalar("select webhook_prune($1, $2)")
                .bind(now)
                .bind(PRUNE_BATCH)
                .fetch_one(&self.pool)
                .await?;
            removed += n as u64;
            if n < PRUNE_BATCH {
                break;
            }
        }
        sqlx::query(
            "delete from jobs where id in (
                 select id from jobs where coalesce(done_at, failed_at) < $1 limit 10000)",
        )
        .bind(now - JOB_RETENTION)
        .execute(&self.pool)
        .await?;
        // The platform's security events are kept 90 days.
        crate::backend::audit::security::prune(&self.pool).await?;
        Ok(removed)
    }
}

/// A running delivery worker; `stop` lets the requests under way finish
/// and records them, then ends it.
pub struct Worker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Worker {
    pub fn start(deliverer: Deliverer) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(work(deliverer, stopped));
        Self { stop, task }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the webhook worker ended abnormally");
        }
    }

    /// Ends it at once, as a crash would: the requests under way are
    /// dropped and their answers never recorded.
    pub async fn abort(self) {
        self.task.abort();
        // Cancelled, not failed: nothing to report.
        let _ = self.task.await;
    }
}

/// Requests under way, and how many go to each endpoint.
struct InFlight {
    sends: JoinSet<(EndpointId, Finished)>,
    per_endpoint: HashMap<EndpointId, usize>,
    finished: Vec<Finished>,
}

impl InFlight {
    /// The endpoints with requests under way, and how many each.
    fn busy(&self) -> Vec<(EndpointId, usize)> {
        self.per_endpoint.iter().map(|(id, n)| (*id, *n)).collect()
    }

    fn done(&mut self, endpoint_id: EndpointId, finished: Finished) {
        if let Some(n) = self.per_endpoint.get_mut(&endpoint_id) {
            *n -= 1;
            if *n == 0 {
                self.per_endpoint.remove(&endpoint_id);
            }
        }
        self.finished.push(finished);
    }

    fn collect_ready(&mut self) {
        while let Some(result) = self.sends.try_join_next() {
            match result {
                Ok((endpoint_id, finished)) => self.done(endpoint_id, finished),
                // Its lease runs out and another attempt is made.
                Err(e) => tracing::error!(error = %e, "a webhook send task failed"),
            }
        }
    }
}

async fn work(deliverer: Deliverer, mut stopped: watch::Receiver<bool>) {
    let mut listener = listen(&deliverer.pool).await;
    tracing::info!(listening = listener.is_some(), "webhook worker started");
    let settings = deliverer.settings.clone();
    let mut in_flight = InFlight {
        sends: JoinSet::new(),
        per_endpoint: HashMap::new(),
        finished: Vec::new(),
    };
    let mut last_prune: Option<std::time::Instant> = None;
    let mut stopping = false;
    loop {
        in_flight.collect_ready();
        let finished = std::mem::take(&mut in_flight.finished);
        let mut claimed_all_asked = false;
        if stopping {
            record_finished(&deliverer, &finished).await;
            if in_flight.sends.is_empty() {
                break;
            }
        } else {
            // Both at once: one round trip's wait instead of two per pass.
            // A delivery just sent cannot be claimed again before it is
            // recorded: its lease has not run out.
            let (_, all) = tokio::join!(
                record_finished(&deliverer, &finished),
                claim_more(&deliverer, &settings, &mut in_flight)
            );
            claimed_all_asked = all;
            if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(std::time::Instant::now());
                if let Err(e) = deliverer.prune(Utc::now()).await {
                    tracing::error!(error = ?e, "pruning webhook history failed");
                }
            }
        }
        if claimed_all_asked {
            // More may be due right now.
            continue;
        }
        tokio::select! {
            _ = stopped.changed(), if !stopping => stopping = true,
            Some(result) = in_flight.sends.join_next(), if !in_flight.sends.is_empty() => {
                match result {
                    Ok((endpoint_id, finished)) => in_flight.done(endpoint_id, finished),
                    Err(e) => tracing::error!(error = %e, "a webhook send task failed"),
                }
            }
            _ = woken(&mut listener), if !stopping => {}
            _ = tokio::time::sleep(settings.poll), if !stopping => {}
        }
    }
    tracing::info!("webhook worker stopped");
}

async fn record_finished(deliverer: &Deliverer, finished: &[Finished]) {
    if let Err(e) = deliverer.record(finished, Utc::now()).await {
        // Not recorded: their leases run out and they are sent again.
        tracing::error!(error = ?e, count = finished.len(), "recording webhook attempts failed");
    }
}

/// Claims as many deliveries as there are free slots and starts sending
/// them; true when it got all it asked for (so more may be waiting).
async fn claim_more(deliverer: &Deliverer, settings: &Settings, in_flight: &mut InFlight) -> bool {
    let free = settings.max_in_flight.saturating_sub(in_flight.sends.len());
    let want = free.min(settings.batch);
    if want == 0 {
        return false;
    }
    let busy = in_flight.busy();
    let now = Utc::now();
    let claimed = match deliverer.claim(now, want, &busy).await {
        Ok(claimed) => claimed,
        Err(e) => {
            tracing::error!(error = ?e, "claiming webhook deliveries failed");
            return false;
        }
    };
    let got = claimed.len();
    for c in claimed {
        let endpoint_id = c.endpoint_id;
        *in_flight.per_endpoint.entry(endpoint_id).or_default() += 1;
        let webhooks = deliverer.webhooks.clone();
        in_flight.sends.spawn(async move {
            let finished = Deliverer::attempt(&webhooks, c, Utc::now()).await;
            (endpoint_id, finished)
        });
    }
    got == want
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let mut listener = match PgListener::connect_with(pool).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(error = %e, "webhook worker cannot listen; polling only");
            return None;
        }
    };
    match listener.listen(CHANNEL).await {
        Ok(()) => Some(listener),
        Err(e) => {
            tracing::warn!(error = %e, "webhook worker cannot listen; polling only");
            None
        }
    }
}

/// Returns on a notification; never without a listener (the poll wakes
/// the loop then). A failed receive waits a moment: the listener
/// reconnects on the next call.
async fn woken(listener: &mut Option<PgListener>) {
    match listener {
        Some(listener) => {
            if listener.recv().await.is_err() {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        }
        None => std::future::pending().await,
    }
}
