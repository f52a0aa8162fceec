//! `bench webhooks`: on a fresh `codebook_bench_webhooks` database, one
//! organization with one endpoint on a local receiver, and one delivery
//! worker; 10,000 events are written to the outbox as the application role
//! and it prints deliveries per second and event-to-delivery latency
//! (commit of the event's transaction to the receiver reading the request).
use anyhow::bail;
use app::backend::webhooks::secrets::SecretKey;
use app::backend::webhooks::ssrf::{AllowedNetworks, Guard};
use app::backend::webhooks::{worker, Deliverer, Webhooks};
use app::backend::OrgContext;
use app::model::webhooks::{message_id, EndpointForm};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use std::collections::hash_map::{Entry, HashMap};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::support::{app_state, create_org, fresh_database, ms, percentiles};
use server::config::Settings;

const WEBHOOKS_DATABASE: &str = "codebook_bench_webhooks";
const EVENTS: usize = 10_000;
const EVENTS_PER_TRANSACTION: usize = 100;
/// The bench fails if not every event has arrived by then.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);

/// How the webhooks bench offers its events, and worker settings to
/// explore (`None` keeps the worker's default).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Events per second written to the outbox; `None`: as fast as one
    /// connection commits them.
    pub rate: Option<u32>,
    pub max_in_flight: Option<usize>,
    pub per_endpoint: Option<usize>,
    pub batch: Option<usize>,
}

/// A `webhook-id` and when the receiver had read the whole request.
type Received = (String, Instant);

pub async fn run(settings: &Settings, options: Options) -> anyhow::Result<()> {
    let db = fresh_database(settings, WEBHOOKS_DATABASE).await?;
    // Plain HTTP to loopback: the receiver is on this machine.
    let hooks = Webhooks::new(
        SecretKey::ephemeral(),
        Guard::new(
            AllowedNetworks::parse("127.0.0.0/8").map_err(|e| anyhow::anyhow!(e))?,
            true,
        ),
    )?;
    let state = app_state(settings, &db)?.with_webhooks(hooks.clone());
    let org = create_org(&db, "bench").await?;
    let ctx = OrgContext::operator(&db.app_pool, &org)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    // The receiver: answers 204 at once and reports each request.
    let (sink, mut received) = mpsc::unbounded_channel::<Received>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let receiver = tokio::spawn(async move {
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(sink);
        axum::serve(listener, app).await
    });
    app::backend::webhooks::create(
        &ctx,
        &state,
        EndpointForm {
            url: format!("http://127.0.0.1:{port}/hook"),
            description: String::new(),
            event_types: vec![],
            timeout_seconds: None,
            max_retries: None,
            // The endpoint's own cap on requests at once.
            max_in_flight: options.per_endpoint.map(|n| n.to_string()),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;

    let defaults = worker::Settings::default();
    let worker_settings = worker::Settings {
        max_in_flight: options.max_in_flight.unwrap_or(defaults.max_in_flight),
        batch: options.batch.unwrap_or(defaults.batch),
        ..defaults
    };
    println!("== webhooks: {EVENTS} events, 1 endpoint, 1 worker");
    println!(
        "   worker: {} in flight at most, {} per endpoint, claims of {}; {} application connections",
        worker_settings.max_in_flight,
        options
            .per_endpoint
            .unwrap_or(app::model::webhooks::DEFAULT_MAX_IN_FLIGHT as usize),
        worker_settings.batch,
        settings.max_connections
    );
    let worker = worker::Worker::start(
        Deliverer::new(db.worker_pool(8).await?, hooks.clone()).with_settings(worker_settings),
    );

    match options.rate {
        Some(rate) => println!("   events offered at {rate}/s, {EVENTS_PER_TRANSACTION} a transaction"),
        None => println!(
            "   events offered as fast as one connection commits them, {EVENTS_PER_TRANSACTION} a transaction"
        ),
    }
    let enqueue = tokio::spawn(enqueue_events(
        db.app_pool.clone(),
        ctx.clone(),
        options.rate,
    ));
    tokio::pin!(enqueue);
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    // The first arrival of every message, ours or not: the endpoint's
    // creation wrote an `audit.logged` event in its transaction, which is
    // delivered too.
    let mut first: HashMap<String, Instant> = HashMap::with_capacity(EVENTS + 1);
    let mut duplicates = 0usize;
    let mut committed: Option<Vec<(Uuid, Instant)>> = None;
    // Our events not yet received, once they are all committed.
    let mut waiting: Option<HashSet<String>> = None;
    while waiting.as_ref().is_none_or(|w| !w.is_empty()) {
        tokio::select! {
            done = &mut enqueue, if committed.is_none() => {
                let (events, took) = done??;
                println!(
                    "   enqueued {} events in {} transactions in {:.2} s",
                    events.len(),
                    EVENTS / EVENTS_PER_TRANSACTION,
                    took.as_secs_f64()
                );
                waiting = Some(
                    events
                        .iter()
                        .map(|(id, _)| message_id(*id))
                        .filter(|id| !first.contains_key(id))
                        .collect(),
                );
                committed = Some(events);
            }
            message = received.recv() => {
                let Some((id, at)) = message else {
                    bail!("the receiver stopped");
                };
                if let Some(waiting) = &mut waiting {
                    waiting.remove(&id);
                }
                note(&mut first, &mut duplicates, id, at);
            }
            _ = tokio::time::sleep_until(deadline) => {
                bail!(
                    "{} of {EVENTS} events not delivered after {} s",
                    waiting.map_or(EVENTS, |w| w.len()),
                    DELIVERY_TIMEOUT.as_secs()
                );
            }
        }
    }
    let events = committed.expect("the loop ends once enqueued");
    // Each of our events' commit and arrival.
    let timeline: Vec<(Instant, Instant)> = events
        .iter()
        .map(|(id, committed_at)| (*committed_at, first[&message_id(*id)]))
        .collect();
    let started = timeline.iter().map(|(c, _)| *c).min().expect("events");
    let finished = timeline.iter().map(|(_, r)| *r).max().expect("events");
    let took = finished.saturating_duration_since(started);
    let mut latencies: Vec<Duration> = timeline
        .iter()
        .map(|(c, r)| r.saturating_duration_since(*c))
        .collect();
    let (p50, p99) = percentiles(&mut latencies);
    println!(
        "delivered {} in {:.2} s: {:.0} deliveries/s",
        events.len(),
        took.as_secs_f64(),
        events.len() as f64 / took.as_secs_f64()
    );
    println!(
        "event-to-delivery latency: p50 {:.0} ms, p99 {:.0} ms (max {:.0} ms)",
        ms(p50),
        ms(p99),
        ms(*latencies.last().expect("sorted latencies"))
    );

    // The requests under way finish and are recorded; whatever arrived
    // meanwhile is in the channel by then.
    worker.stop().await;
    while let Ok((id, at)) = received.try_recv() {
        note(&mut first, &mut duplicates, id, at);
    }
    println!("duplicate deliveries: {duplicates}");
    println!(
        "   ({} other deliveries: events the setup wrote)",
        first.len() - EVENTS
    );
    receiver.abort();

    let mut tx = ctx
        .begin(&db.app_pool)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (succeeded, deliveries): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where status = 'succeeded'), count(*) from webhook_deliveries",
    )
    .fetch_one(tx.conn())
    .await?;
    let attempts: i64 = sqlx::query_scalar("select count(*) from webhook_attempts")
        .fetch_one(tx.conn())
        .await?;
    tx.commit().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("   recorded: {succeeded} of {deliveries} deliveries succeeded, {attempts} attempts");

    db.app_pool.close().await;
    db.owner_pool.close().await;
    Ok(())
}

/// Keeps the first arrival of each message; counts the others.
fn note(first: &mut HashMap<String, Instant>, duplicates: &mut usize, id: String, at: Instant) {
    match first.entry(id) {
        Entry::Occupied(_) => *duplicates += 1,
        Entry::Vacant(slot) => {
            slot.insert(at);
        }
    }
}

async fn receive(
    State(sink): State<mpsc::UnboundedSender<Received>>,
    headers: HeaderMap,
    _body: axum::body::Bytes,
) -> StatusCode {
    let at = Instant::now();
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let _ = sink.send((id, at));
    StatusCode::NO_CONTENT
}

/// Writes the events as the application does: the restricted role, in
/// transactions bound to the organization (row-level security checks every
/// row), `EVENTS_PER_TRANSACTION` `code.created` events in each, with the
/// body `outbox::enqueue` gives them, at `rate` events a second if given. The outbox trigger fans each
/// statement out to deliveries and notifies the worker at commit. Returns
/// each event's id with the instant its transaction had committed, and the
/// time it all took.
async fn enqueue_events(
    pool: sqlx::PgPool,
    ctx: OrgContext,
    rate: Option<u32>,
) -> anyhow::Result<(Vec<(Uuid, Instant)>, Duration)> {
    let started = Instant::now();
    // A transaction is begun on each tick: the load offered, not a wait
    // for anything.
    let mut ticks = rate.map(|rate| {
        let period =
            Duration::from_secs_f64(EVENTS_PER_TRANSACTION as f64 / f64::from(rate.max(1)));
        tokio::time::interval(period)
    });
    let mut committed = Vec::with_capacity(EVENTS);
    for batch in 0..EVENTS / EVENTS_PER_TRANSACTION {
        if let Some(ticks) = &mut ticks {
            ticks.tick().await;
        }
        let from = (batch * EVENTS_PER_TRANSACTION) as i32;
        let to = from + EVENTS_PER_TRANSACTION as i32 - 1;
        let mut tx = ctx.begin(&pool).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "insert into outbox (organization_id, id, event_type, payload)
             select $1, gen_random_uuid(), 'code.created',
                    jsonb_build_object(
                        'type', 'code.created',
                        'timestamp', now(),
                        'data', jsonb_build_object(
                            'id', gen_random_uuid(),
                            'version', 1,
                            'code', jsonb_build_object(
                                'code', 'Z' || lpad(n::text, 5, '0'),
                                'description', 'Benchmark code ' || n,
                                'category', 'Benchmark',
                                'severity', 'medium',
                                'active', true)))
             from generate_series($2::integer, $3::integer) as n
             returning id",
        )
        .bind(tx.org_id())
        .bind(from)
        .bind(to)
        .fetch_all(tx.conn())
        .await?;
        tx.commit().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let at = Instant::now();
        committed.extend(ids.into_iter().map(|id| (id, at)));
    }
    Ok((committed, started.elapsed()))
}
