//! Benchmark programs, not tests.
//!
//! `server bench codes`: on the database of DATABASE_URL (a fresh
//! `codebook_bench` database is made on that cluster, so nothing else is
//! touched) it imports the FY2024 ICD-10-CM release into an empty
//! organization, then the April 2026 release over it with delete-missing,
//! and prints both times and the versions written; an import changing
//! 3,000 codes on a fresh connection and on one that first edited 200 of
//! them one at a time; then, with more than
//! 1,000,000 codes in other organizations, it prints p50/p99 of a list page,
//! a code-prefix search and a word search in that organization, through the
//! same service and row-level security as a request.
//!
//! `server bench webhooks`: on a fresh `codebook_bench_webhooks` database,
//! one organization with one endpoint on a local receiver, and one delivery
//! worker; 10,000 events are written to the outbox as the application role
//! and it prints deliveries per second and event-to-delivery latency
//! (commit of the event's transaction to the receiver reading the request).
//!
//! `server bench audit-export`: an organization's audit log of 1,000 and of
//! 100,000 entries exported as CSV and NDJSON over HTTP, with the bytes,
//! the time and the process's peak memory (see `audit_export`).
//!
//! `server bench load`: 7.5 million codes over HTTP against pgbench (see
//! `load`).
pub mod load;

use anyhow::{bail, Context as _};
use app::backend::codes::{self, import::ImportOptions};
use app::backend::webhooks::secrets::SecretKey;
use app::backend::webhooks::ssrf::{AllowedNetworks, Guard};
use app::backend::webhooks::{worker, Deliverer, Webhooks};
use app::backend::{jwt::JwtKeys, sessions, tokens, AppState, OrgContext, RequestMeta};
use app::model::codes::CodeFilter;
use app::model::orgs::OrgSlug;
use app::model::webhooks::{message_id, EndpointInput};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use std::collections::hash_map::{Entry, HashMap};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::config::{DatabaseUrls, Settings};
use crate::startup::Database;

const DATABASE: &str = "codebook_bench";
const WEBHOOKS_DATABASE: &str = "codebook_bench_webhooks";
/// Other organizations, each holding a copy of the 2026 release.
const OTHER_ORGS: usize = 14;
const SAMPLES: usize = 200;

pub async fn codes(settings: &Settings, data_dir: &Path) -> anyhow::Result<()> {
    let db = fresh_database(settings, DATABASE).await?;
    let state = app_state(settings, &db)?;
    let org = create_org(&db, "bench").await?;
    let ctx = OrgContext::operator(&db.app_pool, &org)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let file_2024 = std::fs::read(data_dir.join("icd10cm-2024.csv.gz"))?;
    let file_2026 = std::fs::read(data_dir.join("icd10cm-2026.csv.gz"))?;
    println!(
        "== import ({} and {} bytes gzipped)",
        file_2024.len(),
        file_2026.len()
    );
    timed_import(&ctx, &state, &file_2024, "icd10cm-2024.csv.gz", false).await?;
    timed_import(&ctx, &state, &file_2026, "icd10cm-2026.csv.gz", true).await?;
    let versions: Vec<(String, i64)> =
        sqlx::query_as("select change::text, count(*) from code_versions group by 1 order by 1")
            .fetch_all(&db.owner_pool)
            .await?;
    for (change, count) in versions {
        println!("   versions {change:<8} {count:>7}");
    }

    import_after_single_edits(settings, &db).await?;

    println!("== {OTHER_ORGS} other organizations × the 2026 release");
    let started = Instant::now();
    for i in 0..OTHER_ORGS {
        let other = create_org(&db, &format!("bench-other-{i}")).await?;
        copy_codes(&db, &org, &other).await?;
    }
    sqlx::query("analyze codes").execute(&db.owner_pool).await?;
    let total: i64 = sqlx::query_scalar("select count(*) from codes")
        .fetch_one(&db.owner_pool)
        .await?;
    println!(
        "   {total} codes in all, seeded in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    println!("== latency in one organization ({SAMPLES} runs each, as the application role)");
    let scenarios: [(&str, CodeFilter); 5] = [
        ("list page (first)", CodeFilter::default()),
        ("code prefix S72.0", filter("S72.0")),
        ("word search \"fracture femur\"", filter("fracture femur")),
        ("word search \"diabetes\"", filter("diabetes")),
        ("word search \"fract\"", filter("fract")),
    ];
    for (name, filter) in scenarios {
        let mut times = Vec::with_capacity(SAMPLES);
        let mut found = 0;
        for _ in 0..SAMPLES {
            let started = Instant::now();
            let page = codes::list(&ctx, &state, filter.clone())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            times.push(started.elapsed());
            found = page.codes.len();
        }
        let (p50, p99) = percentiles(&mut times);
        println!(
            "   {name:<32} p50 {:>7.2} ms   p99 {:>7.2} ms   ({found} rows on the page)",
            ms(p50),
            ms(p99)
        );
    }
    db.app_pool.close().await;
    db.owner_pool.close().await;
    Ok(())
}

fn filter(q: &str) -> CodeFilter {
    CodeFilter {
        q: Some(q.to_owned()),
        ..CodeFilter::default()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentiles(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    (at(0.50), at(0.99))
}

/// Codes in the import that follows single edits.
const EDITED_IMPORT: usize = 3_000;
const SINGLE_EDITS: usize = 200;

/// An import changing `EDITED_IMPORT` codes, on a connection that has just
/// made them and on one that has then also edited `SINGLE_EDITS` of them
/// one at a time (PostgreSQL keeps plans per connection, so each run has
/// a pool of one connection of its own).
async fn import_after_single_edits(settings: &Settings, db: &Database) -> anyhow::Result<()> {
    println!(
        "== an import changing {EDITED_IMPORT} codes, fresh and after {SINGLE_EDITS} single edits"
    );
    let fresh = timed_update_import(settings, db, "bench-fresh", 0).await?;
    let edited = timed_update_import(settings, db, "bench-edited", SINGLE_EDITS).await?;
    println!(
        "   fresh connection {:.2} s   after {SINGLE_EDITS} edits {:.2} s   ({:.1}×)",
        fresh.as_secs_f64(),
        edited.as_secs_f64(),
        edited.as_secs_f64() / fresh.as_secs_f64()
    );
    Ok(())
}

async fn timed_update_import(
    settings: &Settings,
    db: &Database,
    slug: &str,
    single_edits: usize,
) -> anyhow::Result<Duration> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with((*db.app_pool.connect_options()).clone())
        .await?;
    let state = app_state_on(settings, pool.clone())?;
    let org = create_org(db, slug).await?;
    let ctx = OrgContext::operator(&pool, &org)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let file_of = |label: &str| {
        let mut csv = String::from("code,description,category\n");
        for i in 0..EDITED_IMPORT {
            csv.push_str(&format!("E{i:04},{label} disorder number {i},Endocrine\n"));
        }
        csv.into_bytes()
    };
    let import = |file: Vec<u8>| {
        let (ctx, state) = (ctx.clone(), state.clone());
        async move {
            codes::import::import(&ctx, &state, &file, ImportOptions::default())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))
        }
    };
    import(file_of("Old")).await?;
    let first: Vec<(Uuid, String)> =
        sqlx::query_as("select c.id, c.code from codes c join organizations o on o.id = c.organization_id where o.slug = $1 order by c.code_key limit $2")
            .bind(&org)
            .bind(single_edits as i64)
            .fetch_all(&db.owner_pool)
            .await?;
    for (id, code) in first {
        let input = codes::CodeInput {
            code,
            description: "Edited by hand".to_owned(),
            category: "Endocrine".to_owned(),
            severity: None,
            active: true,
            comment: None,
        };
        codes::update(&ctx, &state, id, 1, input)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let started = Instant::now();
    let report = import(file_of("New")).await?;
    let took = started.elapsed();
    let updated = report.summary.map_or(0, |s| s.updated);
    if updated != EDITED_IMPORT as u64 {
        bail!("the import updated {updated} codes, not {EDITED_IMPORT}");
    }
    pool.close().await;
    Ok(took)
}

async fn timed_import(
    ctx: &OrgContext,
    state: &AppState,
    file: &[u8],
    name: &str,
    delete_missing: bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let report = codes::import::import(
        ctx,
        state,
        file,
        ImportOptions {
            file_name: name.to_owned(),
            delete_missing,
            dry_run: false,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(s) = report.summary else {
        bail!("{name} has bad rows: {:?}", report.errors.first());
    };
    println!(
        "   {name}{}: {:.2} s — {} created, {} updated, {} deleted, {} unchanged",
        if delete_missing {
            " (delete missing)"
        } else {
            ""
        },
        started.elapsed().as_secs_f64(),
        s.created,
        s.updated,
        s.deleted,
        s.unchanged
    );
    Ok(())
}

const EVENTS: usize = 10_000;
const EVENTS_PER_TRANSACTION: usize = 100;
/// The bench fails if not every event has arrived by then.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);

/// How the webhooks bench offers its events, and worker settings to
/// explore (`None` keeps the worker's default).
#[derive(Debug, Clone, Default)]
pub struct WebhooksOptions {
    /// Events per second written to the outbox; `None`: as fast as one
    /// connection commits them.
    pub rate: Option<u32>,
    pub max_in_flight: Option<usize>,
    pub per_endpoint: Option<usize>,
    pub batch: Option<usize>,
}

/// A `webhook-id` and when the receiver had read the whole request.
type Received = (String, Instant);

pub async fn webhooks(settings: &Settings, options: WebhooksOptions) -> anyhow::Result<()> {
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
        EndpointInput {
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

/// The application's state on a benchmark's database, with a throw-away
/// JWT key and no public URL.
fn app_state(settings: &Settings, db: &Database) -> anyhow::Result<AppState> {
    app_state_on(settings, db.app_pool.clone())
}

fn app_state_on(settings: &Settings, pool: sqlx::PgPool) -> anyhow::Result<AppState> {
    Ok(AppState::new(
        pool,
        settings.mode,
        settings.mailer()?,
        String::new(),
        JwtKeys::new(tokens::generate().as_bytes()),
    ))
}

/// A benchmark's own database on the `DATABASE_URL` server, dropped and
/// made anew, migrated and opened as the app would open it.
async fn fresh_database(settings: &Settings, name: &str) -> anyhow::Result<Database> {
    let owner_url = std::env::var("DATABASE_URL").context(
        "Set DATABASE_URL to a PostgreSQL server the benchmark may create a database on",
    )?;
    let urls = DatabaseUrls {
        owner: Some(recreate_database(&owner_url, name).await?),
        app: None,
        worker: None,
    };
    Database::open(settings, &urls, true).await
}

/// A fresh benchmark database `name` on the cluster of `owner_url`.
async fn recreate_database(owner_url: &str, name: &str) -> anyhow::Result<String> {
    let admin = sqlx::PgPool::connect(owner_url).await?;
    // One of our constants, not input: identifiers cannot be bound.
    sqlx::query(&format!("drop database if exists {name} with (force)"))
        .execute(&admin)
        .await?;
    sqlx::query(&format!("create database {name}"))
        .execute(&admin)
        .await?;
    admin.close().await;
    let mut url = url::Url::parse(owner_url)?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// An enterprise organization (no limits), made as the owner.
async fn create_org(db: &Database, slug: &str) -> anyhow::Result<OrgSlug> {
    sqlx::query(
        "insert into organizations (id, name, slug, plan) values (gen_random_uuid(), $1, $1, 'enterprise')",
    )
    .bind(slug)
    .execute(&db.owner_pool)
    .await?;
    OrgSlug::parse(slug).map_err(|e| anyhow::anyhow!("{}", e.message))
}

/// Copies every code of `from` into `to` with its CREATE version, in bulk.
async fn copy_codes(db: &Database, from: &OrgSlug, to: &OrgSlug) -> anyhow::Result<()> {
    let mut tx = db.owner_pool.begin().await?;
    sqlx::query(
        "create temp table copied on commit drop as
         select gen_random_uuid() as new_id, c.*
         from codes c join organizations o on o.id = c.organization_id
         where o.slug = $1 and c.deleted_at is null",
    )
    .bind(from)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into codes (organization_id, id, code, description, category, severity, active,
                            version, created_by_kind, updated_by_kind)
         select o.id, c.new_id, c.code, c.description, c.category, c.severity, c.active, 1,
                'system', 'system'
         from copied c, organizations o where o.slug = $1",
    )
    .bind(to)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into code_versions (organization_id, code_id, version, change, snapshot, actor_kind)
         select o.id, c.new_id, 1, 'create',
                jsonb_build_object('code', c.code, 'description', c.description,
                                   'category', c.category, 'severity', c.severity,
                                   'active', c.active, 'deleted', false),
                'system'
         from copied c, organizations o where o.slug = $1",
    )
    .bind(to)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "update organizations set code_count = (select count(*) from copied) where slug = $1",
    )
    .bind(to)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The repository's `data/`, where the two ICD-10-CM releases live.
pub fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

const AUDIT_DATABASE: &str = "codebook_bench_audit";

/// `server bench audit-export`: on a fresh `codebook_bench_audit` database,
/// seeds 1,000 audit entries into one organization and `entries` into
/// another (bulk SQL as the owner: contiguous seqs and a consistent chain
/// head, though not real hashes, which an export does not check), serves
/// the app in this process, downloads each organization's CSV and NDJSON
/// export over real HTTP as an owner (the body read and thrown away), and
/// prints the bytes, the time and this process's peak resident memory
/// (VmHWM, reset before each download where /proc/self/clear_refs allows).
pub async fn audit_export(settings: &Settings, entries: u64) -> anyhow::Result<()> {
    let db = fresh_database(settings, AUDIT_DATABASE).await?;

    let user_id = Uuid::new_v4();
    sqlx::query(
        "insert into users (id, email, name, password_hash) values ($1, 'bench@example.com', 'Bench', 'x')",
    )
    .bind(user_id)
    .execute(&db.owner_pool)
    .await?;
    let mut orgs = Vec::new();
    for (slug, n) in [("bench-audit-small", 1_000u64), ("bench-audit", entries)] {
        create_org(&db, slug).await?;
        let org_id: Uuid = sqlx::query_scalar("select id from organizations where slug = $1")
            .bind(slug)
            .fetch_one(&db.owner_pool)
            .await?;
        sqlx::query(
            "insert into memberships (organization_id, user_id, role) values ($1, $2, 'owner')",
        )
        .bind(org_id)
        .bind(user_id)
        .execute(&db.owner_pool)
        .await?;
        let started = Instant::now();
        seed_audit(&db, org_id, user_id, n).await?;
        println!(
            "   seeded {n} entries into {slug} in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        orgs.push((org_id, n));
    }
    sqlx::query("analyze audit_log")
        .execute(&db.owner_pool)
        .await?;

    // The app, served in this process on a free loopback port.
    let state = app_state(settings, &db)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = crate::startup::router(crate::startup::ServerState::new(
        crate::startup::ServerParts {
            leptos_options: leptos::prelude::LeptosOptions::builder()
                .output_name("codebook")
                .site_root("target/site")
                .site_addr(addr)
                .build(),
            app: state,
            metrics_token: None,
        },
    ));
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });

    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!("== audit export over HTTP ({build} build), as the organizations' owner");
    let resets = reset_peak_memory();
    if !resets {
        println!("   (cannot reset VmHWM here: each peak is the process's since it started)");
    }
    for (org_id, n) in orgs {
        for format in ["csv", "ndjson"] {
            let cookie = session_cookie(&db, user_id, org_id).await?;
            reset_peak_memory();
            let before = memory_kib("VmRSS:");
            let started = Instant::now();
            let (bytes, lines) =
                download(addr, &format!("/audit/export.{format}"), &cookie).await?;
            let took = started.elapsed();
            let peak = memory_kib("VmHWM:");
            println!(
                "   {n:>7} entries {format:<6} {bytes:>11} bytes {lines:>7} lines in {:>6.2} s ({:>6.1} MB/s); RSS before {:>6.1} MiB, peak {:>6.1} MiB",
                took.as_secs_f64(),
                bytes as f64 / 1e6 / took.as_secs_f64(),
                before as f64 / 1024.0,
                peak as f64 / 1024.0,
            );
        }
    }
    server.abort();
    db.app_pool.close().await;
    db.owner_pool.close().await;
    Ok(())
}

/// `n` entries after the organization's head, in one statement, with its
/// head moved to the last; the head trigger is off meanwhile (the hashes
/// are stand-ins: `sha256(seq)`, each entry's `prev_hash` its
/// predecessor's).
async fn seed_audit(db: &Database, org_id: Uuid, user_id: Uuid, n: u64) -> anyhow::Result<()> {
    let mut tx = db.owner_pool.begin().await?;
    sqlx::query("alter table audit_log disable trigger audit_log_advance_head")
        .execute(&mut *tx)
        .await?;
    let head: i64 = sqlx::query_scalar("select audit_head_seq from organizations where id = $1")
        .bind(org_id)
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query(
        "insert into audit_log (organization_id, seq, id, occurred_at, actor_kind, actor_id,
             action, resource_type, resource_id, outcome, before, after, ip, user_agent,
             request_id, prev_hash, hash)
         select $1, s, gen_random_uuid(), now() - make_interval(secs => ($4 - g)::float8),
                'user', $2,
                (array['code.created', 'code.updated', 'code.deleted', 'user.login'])[1 + g % 4],
                case when g % 4 = 3 then 'user' else 'code' end,
                gen_random_uuid()::text,
                case when g % 50 = 0 then 'failure'::audit_outcome else 'success' end,
                case when g % 4 = 1 then jsonb_build_object('code', 'A' || g, 'description',
                     'Cholera due to Vibrio cholerae 01, biovar cholerae', 'severity', 'medium') end,
                jsonb_build_object('code', 'A' || g, 'description',
                     'Cholera due to Vibrio cholerae 01, biovar eltor', 'severity', 'high',
                     'category', 'Certain infectious and parasitic diseases', 'active', true),
                '203.0.113.7',
                'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0',
                md5(g::text),
                case when s = 1 then decode(repeat('00', 32), 'hex') else sha256(int8send(s - 1)) end,
                sha256(int8send(s))
         from generate_series(1, $4::bigint) g, lateral (select $3::bigint + g as s) seqs",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(head)
    .bind(n as i64)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "update organizations set audit_head_seq = $2, audit_head_hash = sha256(int8send($2))
         where id = $1",
    )
    .bind(org_id)
    .bind(head + n as i64)
    .execute(&mut *tx)
    .await?;
    sqlx::query("alter table audit_log enable trigger audit_log_advance_head")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// A new session of `user_id` in `org_id`, as the `Cookie` header value a
/// browser on plain HTTP would send.
async fn session_cookie(db: &Database, user_id: Uuid, org_id: Uuid) -> anyhow::Result<String> {
    let mut conn = db.owner_pool.acquire().await?;
    let token = sessions::create(
        &mut conn,
        user_id,
        Some(org_id),
        sessions::Lifetime::Workday,
        &RequestMeta::default(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(format!(
        "{}={}",
        sessions::cookie_name(false),
        token.as_str()
    ))
}

/// Resets VmHWM to the current RSS; false where the kernel does not allow it.
fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A `/proc/self/status` figure in KiB (`VmRSS:`, `VmHWM:`), 0 if absent.
fn memory_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// GETs `path` over plain HTTP/1.1 and reads the whole body, keeping none
/// of it: returns the body's bytes (chunked framing removed) and its lines.
async fn download(
    addr: std::net::SocketAddr,
    path: &str,
    cookie: &str,
) -> anyhow::Result<(u64, u64)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!(
                "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await?;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    // The head first.
    let head_end = loop {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            bail!("the server closed the connection before answering");
        }
        pending.extend_from_slice(&buffer[..n]);
        if let Some(at) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&pending[..head_end]).to_ascii_lowercase();
    if !head.starts_with("http/1.1 200") {
        bail!(
            "the export answered {}",
            head.lines().next().unwrap_or_default()
        );
    }
    let chunked = head.contains("transfer-encoding: chunked");
    pending.drain(..head_end);
    let mut tally = Tally::default();
    if !chunked {
        tally.add(&pending);
        loop {
            let n = stream.read(&mut buffer).await?;
            if n == 0 {
                return Ok((tally.bytes, tally.lines));
            }
            tally.add(&buffer[..n]);
        }
    }
    // Chunked: `<hex size>\r\n<data>\r\n`…, ending with a zero size.
    loop {
        if let Some(line_end) = pending.windows(2).position(|w| w == b"\r\n") {
            let size_text = String::from_utf8_lossy(&pending[..line_end]);
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .context("a chunk size")?;
            if size == 0 {
                return Ok((tally.bytes, tally.lines));
            }
            let needed = line_end + 2 + size + 2;
            if pending.len() >= needed {
                tally.add(&pending[line_end + 2..line_end + 2 + size]);
                pending.drain(..needed);
                continue;
            }
        }
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            bail!("the export ended before its last chunk");
        }
        pending.extend_from_slice(&buffer[..n]);
    }
}

/// Bytes and lines of a body seen so far.
#[derive(Default)]
struct Tally {
    bytes: u64,
    lines: u64,
}

impl Tally {
    fn add(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        self.lines += data.iter().filter(|b| **b == b'\n').count() as u64;
    }
}
