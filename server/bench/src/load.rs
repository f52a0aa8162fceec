//! `bench load`: Codebook at scale, measured against PostgreSQL's own
//! ceiling in the same run.
//!
//! On the `codebook_load` database of DATABASE_URL's cluster (seeded once
//! with `--orgs` organizations × the April 2026 ICD-10-CM release, codes and
//! their CREATE versions through bulk SQL, and reused by later runs), it
//! starts the `server` binary built beside this one as the server (`serve`, a child process on a
//! free loopback port) and drives it for `--seconds` per scenario at
//! `--connections` keep-alive connections: a list page, a point get, a
//! code-prefix search, word searches, the server-rendered codes page and
//! every other signed-in page, edits, and the list again while 100 people
//! log in. For the list, the get and the word search it then runs
//! `pgbench` with the same SQL, as the application role with the same
//! `set_config` a request makes, and prints the ratio. Requests/s, p50,
//! p99 and max latency, errors, and the server's resident memory.
use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use app::backend::codes::{self, search::WordPlan};
use app::backend::{api_keys, OrgContext};
use app::model::api_keys::ApiKeyForm;
use app::model::codes::SortOrder;
use app::model::orgs::OrgSlug;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use rand::seq::SliceRandom as _;
use rand::Rng as _;
use uuid::Uuid;

use app::model::{CodeId, OrgId, UserId};

use crate::support::{app_state, fresh_database, ms, session_cookie};
use server::config::{DatabaseUrls, Settings};
use server::startup::Database;

const DATABASE: &str = "codebook_load";
/// Every load organization's owner signs in with this.
const PASSWORD: &str = "load-test-password-1";

/// Word searches: common, middling and rare words, single and two-word,
/// and a prefix (counts are codes of the 2026 release holding them).
pub const WORDS: &[&str] = &[
    "unspecified",        // 23,711
    "fracture",           // 17,881
    "fracture femur",     // 2,500 or so
    "left ankle",         //
    "diabetes",           // 481
    "type 2 diabetes",    //
    "pregnancy",          // 759
    "malignant neoplasm", //
    "pneumonia",          // 72
    "asthma",             // 19
    "sepsis",             // 50
    "fract",              // a prefix of three words
];

/// What `--only` may name: each scenario, or `seed` to seed and stop.
pub const SCENARIOS: [&str; 9] = [
    "list",
    "get",
    "prefix",
    "words",
    "codes-page",
    "pages",
    "writes",
    "logins",
    "seed",
];

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub orgs: usize,
    pub seconds: u64,
    pub connections: usize,
    pub logins: usize,
    pub reseed: bool,
    /// Only these scenarios (by name); empty: all.
    pub only: Vec<String>,
}

/// What one organization of the load gives the load generator.
struct Tenant {
    org_id: OrgId,
    key: String,
    cookie: String,
    email: String,
}

/// A code to read or edit.
#[derive(Clone, sqlx::FromRow)]
struct Sample {
    organization_id: OrgId,
    id: CodeId,
    code_key: String,
}

struct World {
    base: String,
    server_pid: u32,
    tenants: Vec<Tenant>,
    samples: Vec<Sample>,
    by_org: HashMap<OrgId, usize>,
}

impl World {
    fn tenant_of(&self, org: OrgId) -> &Tenant {
        &self.tenants[self.by_org[&org]]
    }
    fn any_tenant(&self) -> &Tenant {
        self.tenants
            .choose(&mut rand::thread_rng())
            .expect("tenants")
    }
    fn any_sample(&self) -> &Sample {
        self.samples
            .choose(&mut rand::thread_rng())
            .expect("samples")
    }
}

pub async fn run(settings: &Settings, data_dir: &Path, options: LoadOptions) -> anyhow::Result<()> {
    let db = open_seeded(settings, data_dir, &options).await?;
    if options.only == ["seed"] {
        return Ok(());
    }
    let state = app_state(settings, &db)?;
    let owner_url = database_url()?;

    // Keys and sessions are made anew by every run.
    sqlx::query("delete from api_keys where organization_id in (select id from organizations where slug like 'load-%')")
        .execute(&db.owner_pool)
        .await?;
    let orgs: Vec<(OrgId, String, UserId, String)> = sqlx::query_as(
        "select o.id, o.slug, u.id, u.email from organizations o
         join memberships m on m.organization_id = o.id
         join users u on u.id = m.user_id
         where o.slug like 'load-%' order by o.slug",
    )
    .fetch_all(&db.owner_pool)
    .await?;
    let mut tenants = Vec::with_capacity(orgs.len());
    for (org_id, slug, user_id, email) in orgs {
        let slug = OrgSlug::parse(&slug).map_err(|e| anyhow::anyhow!("{}", e.message))?;
        let ctx = OrgContext::operator(&db.app_pool, &slug)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let key = api_keys::create(
            &ctx,
            &state,
            ApiKeyForm {
                name: "load".into(),
                scopes: vec!["codes:read".into(), "codes:write".into()],
                expires_in_days: None,
                rate_limit_per_minute: Some("100000".into()),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let cookie = session_cookie(&db, user_id, org_id).await?;
        tenants.push(Tenant {
            org_id,
            key: key.secret,
            cookie,
            email,
        });
    }
    let samples: Vec<Sample> = sqlx::query_as(
        "select organization_id, id, code_key from codes tablesample system (0.1)
         where organization_id in (select id from organizations where slug like 'load-%')
           and deleted_at is null",
    )
    .fetch_all(&db.owner_pool)
    .await?;
    if samples.is_empty() {
        bail!("no codes to sample: reseed with --reseed");
    }
    let by_org = tenants
        .iter()
        .enumerate()
        .map(|(i, t)| (t.org_id, i))
        .collect();

    // The seed's (or the last run's) dirty pages are written now, not by
    // the checkpointer in the middle of a scenario.
    if let Err(e) = sqlx::query("checkpoint").execute(&db.owner_pool).await {
        println!("   (no checkpoint before measuring: {e})");
    }
    let port = free_port()?;
    let mut server = start_server(&owner_url, port)?;
    let base = format!("http://127.0.0.1:{port}");
    wait_until_up(&base).await?;
    let world = Arc::new(World {
        base,
        server_pid: server.id(),
        tenants,
        samples,
        by_org,
    });
    println!(
        "== load: {} organizations, {} codes; {} connections, {} s per scenario; server pid {}",
        world.tenants.len(),
        count_codes(&db).await?,
        options.connections,
        options.seconds,
        server.id()
    );
    let wanted = |name: &str| options.only.is_empty() || options.only.iter().any(|o| o == name);
    let pid = server.id();
    let duration = Duration::from_secs(options.seconds);
    let c = options.connections;

    let pg_samples = PgbenchSamples::new(&world, 16);
    if wanted("list") {
        let http = drive(&world, c, duration, list_request).await;
        report("list page (API, 50 rows, keyset)", &http, pid);
        let pg = pgbench(&owner_url, &pg_samples.list(), c, duration)?;
        ratio(&http, pg);
    }
    if wanted("get") {
        let http = drive(&world, c, duration, get_request).await;
        report("point get (API)", &http, pid);
        let pg = pgbench(&owner_url, &pg_samples.get(), c, duration)?;
        ratio(&http, pg);
    }
    if wanted("prefix") {
        let http = drive(&world, c, duration, prefix_request).await;
        report("code-prefix search (API)", &http, pid);
    }
    if wanted("words") {
        let http = drive(&world, c, duration, word_request).await;
        report("word search (API, 12 queries)", &http, pid);
        let scripts = pg_samples.words(&db, &state).await?;
        let pg = pgbench(&owner_url, &scripts, c, duration)?;
        ratio(&http, pg);
    }
    if wanted("codes-page") {
        let http = drive(&world, c, duration, |w, client| {
            page_request(w, client, "/codes")
        })
        .await;
        report("codes page (HTML, 50 rows)", &http, pid);
    }
    if wanted("pages") {
        for path in [
            "/dashboard",
            "/codes?q=fracture+femur",
            "/members",
            "/webhooks",
            "/api-keys",
            "/audit",
            "/account",
            "/settings",
        ] {
            let seconds = duration.min(Duration::from_secs(5));
            let http = drive(&world, c, seconds, move |w, client| {
                page_request(w, client, path)
            })
            .await;
            report(&format!("page {path}"), &http, pid);
        }
    }
    if wanted("writes") {
        let http = drive(&world, c, duration, edit_request).await;
        report("edit a code (API, GET + PATCH with If-Match)", &http, pid);
    }
    if wanted("logins") {
        let logins = tokio::spawn(log_ins(world.clone(), options.logins, duration));
        let http = drive(&world, c, duration, list_request).await;
        let logged_in = logins.await?;
        report(
            &format!("list page during {} concurrent log-ins", options.logins),
            &http,
            pid,
        );
        println!(
            "   log-ins: {} done ({:.1}/s), {} refused or failed, p50 {:.0} ms, p99 {:.0} ms",
            logged_in.ok,
            logged_in.per_second(),
            logged_in.errors,
            ms(logged_in.p50()),
            ms(logged_in.at(0.99))
        );
        if let Some(e) = &logged_in.first_error {
            println!("   first log-in error: {e}");
        }
    }
    println!(
        "   server peak resident memory (VmHWM): {:.1} MiB",
        process_memory_kib(pid, "VmHWM:") as f64 / 1024.0
    );
    server.kill().ok();
    server.wait().ok();
    db.app_pool.close().await;
    db.owner_pool.close().await;
    Ok(())
}

fn database_url() -> anyhow::Result<String> {
    let owner = std::env::var("DATABASE_URL").context(
        "Set DATABASE_URL to a PostgreSQL server the benchmark may create a database on",
    )?;
    let mut url = url::Url::parse(&owner)?;
    url.set_path(&format!("/{DATABASE}"));
    Ok(url.to_string())
}

/// The load database, seeded unless it already holds the organizations.
async fn open_seeded(
    settings: &Settings,
    data_dir: &Path,
    options: &LoadOptions,
) -> anyhow::Result<Database> {
    let url = database_url()?;
    let existing = if options.reseed {
        None
    } else {
        seeded_orgs(&url).await
    };
    if existing == Some(options.orgs as i64) {
        let urls = DatabaseUrls {
            owner: Some(url),
            app: None,
            worker: None,
        };
        return Database::open(settings, &urls, true).await;
    }
    let db = fresh_database(settings, DATABASE).await?;
    seed(&db, data_dir, options.orgs).await?;
    Ok(db)
}

async fn seeded_orgs(url: &str) -> Option<i64> {
    let pool = sqlx::PgPool::connect(url).await.ok()?;
    let n = sqlx::query_scalar(
        "select count(*) from organizations where slug like 'load-%'
           and exists (select from pg_tables where tablename = 'load_seeded')",
    )
    .fetch_one(&pool)
    .await
    .ok();
    pool.close().await;
    n
}

/// `orgs` organizations, each with an owner and the whole 2026 release
/// (codes, CREATE versions, their words), one transaction each; the words
/// are written sorted, each organization's together, with the per-row
/// trigger off — the index then grows at its end instead of everywhere.
async fn seed(db: &Database, data_dir: &Path, orgs: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let release = read_release(&data_dir.join("icd10cm-2026.csv.gz"))?;
    let pool = &db.owner_pool;
    sqlx::query("create unlogged table seed_codes (code text, description text, category text)")
        .execute(pool)
        .await?;
    let (c, (d, k)): (Vec<String>, (Vec<String>, Vec<String>)) =
        release.into_iter().map(|(c, d, k)| (c, (d, k))).unzip();
    sqlx::query("insert into seed_codes select * from unnest($1::text[], $2::text[], $3::text[])")
        .bind(&c)
        .bind(&d)
        .bind(&k)
        .execute(pool)
        .await?;
    let hash = app::backend::passwords::hash_now(PASSWORD)?;
    for i in 1..=orgs {
        let mut tx = pool.begin().await?;
        sqlx::query("alter table codes disable trigger code_words_insert")
            .execute(&mut *tx)
            .await?;
        let org_id = OrgId::new_v4();
        let user_id = UserId::new_v4();
        sqlx::query(
            "insert into organizations (id, name, slug, plan) values ($1, $2, $3, 'enterprise')",
        )
        .bind(org_id)
        .bind(format!("Load {i}"))
        .bind(format!("load-{i}"))
        .execute(&mut *tx)
        .await?;
        sqlx::query("insert into users (id, email, name, password_hash) values ($1, $2, $3, $4)")
            .bind(user_id)
            .bind(format!("load-{i}@example.com"))
            .bind(format!("Load owner {i}"))
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "insert into memberships (organization_id, user_id, role) values ($1, $2, 'owner')",
        )
        .bind(org_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "insert into codes (organization_id, id, code, description, category, severity,
                                version, created_by_kind, updated_by_kind)
             select $1, gen_random_uuid(), code, description, category, 'medium', 1,
                    'system', 'system'
             from seed_codes",
        )
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "insert into code_versions (organization_id, code_id, version, change, snapshot, actor_kind)
             select organization_id, id, 1, 'create',
                    jsonb_build_object('code', code, 'description', description,
                                       'category', category, 'severity', severity,
                                       'active', active, 'deleted', false),
                    'system'
             from codes where organization_id = $1",
        )
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "insert into code_words (organization_id, word, code_key)
             select c.organization_id, w.word, c.code_key
             from codes c cross join lateral unnest(tsvector_to_array(c.search)) as w (word)
             where c.organization_id = $1
             order by 2, 3",
        )
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "update organizations set code_count = (select count(*) from codes where organization_id = $1)
             where id = $1",
        )
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("alter table codes enable trigger code_words_insert")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if i % 10 == 0 || i == orgs {
            println!(
                "   seeded {i} of {orgs} organizations in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    sqlx::query("drop table seed_codes").execute(pool).await?;
    for table in ["codes", "code_versions", "code_words"] {
        sqlx::query(&format!("vacuum analyze {table}"))
            .execute(pool)
            .await?;
    }
    sqlx::query("create table load_seeded (at timestamptz default now())")
        .execute(pool)
        .await?;
    println!("   seeded in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// `(code, description, category)` of a gzipped release file.
fn read_release(path: &Path) -> anyhow::Result<Vec<(String, String, String)>> {
    let file = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    let mut reader = csv::Reader::from_reader(flate2::read::GzDecoder::new(file));
    reader
        .records()
        .map(|r| {
            let r = r?;
            Ok((r[0].to_owned(), r[1].to_owned(), r[2].to_owned()))
        })
        .collect()
}

async fn count_codes(db: &Database) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("select sum(code_count)::bigint from organizations")
            .fetch_one(&db.owner_pool)
            .await?,
    )
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The `server` binary built beside this one (`cargo build --release -p
/// server -p bench`), serving the load database on `port` as production
/// would run it, with request logs at `warn` (a line per request would be
/// the logger's benchmark).
fn start_server(owner_url: &str, port: u16) -> anyhow::Result<std::process::Child> {
    let exe = std::env::current_exe()?.with_file_name("server");
    if !exe.is_file() {
        bail!(
            "no server binary at {}: build it with `cargo build --release -p server -p bench`",
            exe.display()
        );
    }
    Ok(std::process::Command::new(exe)
        .arg("serve")
        .env("DATABASE_URL", owner_url)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .env("CODEBOOK_WEBHOOK_WORKER", "false")
        // The log-ins come "from" many addresses (X-Forwarded-For), as 100
        // people would: from one address, more than 50 at once are refused
        // by the log-in throttle, by design.
        .env("CODEBOOK_TRUSTED_PROXIES", "127.0.0.1/32")
        .stdout(Stdio::null())
        .spawn()?)
}

async fn wait_until_up(base: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("the server did not answer /healthz within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One request of a scenario: what it sends and whether its answer is
/// the expected one.
struct Call {
    request: reqwest::RequestBuilder,
    /// For an edit: the organization, path and body of the PATCH to send
    /// with the GET's ETag.
    then_patch: Option<(OrgId, String, String)>,
}

fn api(world: &World, client: &reqwest::Client, org: OrgId, path: &str) -> reqwest::RequestBuilder {
    client
        .get(format!("{}{path}", world.base))
        .bearer_auth(&world.tenant_of(org).key)
}

fn list_request(world: &World, client: &reqwest::Client) -> Call {
    let s = world.any_sample();
    let after = URL_SAFE_NO_PAD.encode(format!("c:{}", s.code_key));
    Call {
        request: api(
            world,
            client,
            s.organization_id,
            &format!("/api/v1/codes?after={after}"),
        ),
        then_patch: None,
    }
}

fn get_request(world: &World, client: &reqwest::Client) -> Call {
    let s = world.any_sample();
    Call {
        request: api(
            world,
            client,
            s.organization_id,
            &format!("/api/v1/codes/{}", s.id),
        ),
        then_patch: None,
    }
}

fn prefix_request(world: &World, client: &reqwest::Client) -> Call {
    let s = world.any_sample();
    let prefix: String = s.code_key.chars().take(3).collect();
    Call {
        request: api(
            world,
            client,
            s.organization_id,
            &format!("/api/v1/codes?q={prefix}"),
        ),
        then_patch: None,
    }
}

fn word_request(world: &World, client: &reqwest::Client) -> Call {
    let t = world.any_tenant();
    let q = WORDS.choose(&mut rand::thread_rng()).expect("words");
    Call {
        request: api(
            world,
            client,
            t.org_id,
            &format!("/api/v1/codes?q={}", q.replace(' ', "+")),
        ),
        then_patch: None,
    }
}

fn page_request(world: &World, client: &reqwest::Client, path: &str) -> Call {
    let t = world.any_tenant();
    Call {
        request: client
            .get(format!("{}{path}", world.base))
            .header("cookie", &t.cookie),
        then_patch: None,
    }
}

fn edit_request(world: &World, client: &reqwest::Client) -> Call {
    let s = world.any_sample();
    let path = format!("/api/v1/codes/{}", s.id);
    let n: u32 = rand::thread_rng().gen();
    Call {
        request: api(world, client, s.organization_id, &path),
        then_patch: Some((
            s.organization_id,
            path,
            format!(
                "{{\"comment\": \"load {n}\", \"active\": {}}}",
                n.is_multiple_of(2)
            ),
        )),
    }
}

/// What a scenario measured.
#[derive(Default)]
struct Outcome {
    latencies: Vec<Duration>,
    errors: u64,
    ok: u64,
    /// Edits refused because another edit of the same code won (412).
    conflicts: u64,
    took: Duration,
    cpu: CpuSeconds,
    first_error: Option<String>,
}

impl Outcome {
    fn per_second(&self) -> f64 {
        self.ok as f64 / self.took.as_secs_f64()
    }
    fn at(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        self.latencies[((self.latencies.len() as f64 * q) as usize).min(self.latencies.len() - 1)]
    }
    fn p50(&self) -> Duration {
        self.at(0.50)
    }
    fn merge(&mut self, other: Outcome) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.ok += other.ok;
        self.conflicts += other.conflicts;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// `connections` loops, each on its own keep-alive connection, sending
/// `make`'s requests one after another for `duration`.
async fn drive(
    world: &Arc<World>,
    connections: usize,
    duration: Duration,
    make: impl Fn(&World, &reqwest::Client) -> Call + Send + Sync + Copy + 'static,
) -> Outcome {
    let started = Instant::now();
    let cpu_before = CpuSeconds::now(world.server_pid);
    let deadline = started + duration;
    let loops = (0..connections).map(|_| {
        let world = world.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("a client");
            let mut out = Outcome::default();
            while Instant::now() < deadline {
                let call = make(&world, &client);
                let sent = Instant::now();
                let result = send(&world, &client, call).await;
                let latency = sent.elapsed();
                match result {
                    Ok(Answer::Done) => {
                        out.ok += 1;
                        out.latencies.push(latency);
                    }
                    Ok(Answer::Conflict) => {
                        out.conflicts += 1;
                        out.latencies.push(latency);
                    }
                    Err(e) => {
                        out.errors += 1;
                        out.first_error.get_or_insert(e.to_string());
                    }
                }
            }
            out
        })
    });
    let mut total = gather(loops, started).await;
    total.cpu = CpuSeconds::now(world.server_pid).since(&cpu_before);
    total
}

/// The loops' outcomes as one, latencies sorted, over the time since
/// `started`.
async fn gather(
    loops: impl Iterator<Item = tokio::task::JoinHandle<Outcome>>,
    started: Instant,
) -> Outcome {
    let mut total = Outcome::default();
    for handle in futures::future::join_all(loops).await {
        total.merge(handle.expect("a load loop"));
    }
    total.took = started.elapsed();
    total.latencies.sort();
    total
}

/// An answer that is not the one expected, with the start of its body.
fn refusal(status: reqwest::StatusCode, body: &[u8]) -> anyhow::Error {
    anyhow::anyhow!(
        "{status}: {}",
        String::from_utf8_lossy(&body[..body.len().min(200)])
    )
}

enum Answer {
    Done,
    /// 412: another edit of the code came first; nothing changed.
    Conflict,
}

async fn send(world: &World, client: &reqwest::Client, call: Call) -> anyhow::Result<Answer> {
    let response = call.request.send().await?;
    let status = response.status();
    let etag = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.bytes().await?;
    if !status.is_success() {
        return Err(refusal(status, &body));
    }
    if let Some((org, path, patch)) = call.then_patch {
        let response = client
            .patch(format!("{}{path}", world.base))
            .bearer_auth(&world.tenant_of(org).key)
            .header("if-match", etag.context("an ETag")?)
            .header("content-type", "application/json")
            .body(patch)
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?;
        if status == reqwest::StatusCode::PRECONDITION_FAILED {
            return Ok(Answer::Conflict);
        }
        if !status.is_success() {
            return Err(refusal(status, &body));
        }
    }
    Ok(Answer::Done)
}

/// `n` people logging in at once, over and over, for `duration`.
async fn log_ins(world: Arc<World>, n: usize, duration: Duration) -> Outcome {
    let started = Instant::now();
    let deadline = started + duration;
    let loops = (0..n).map(|i| {
        let world = world.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client");
            let email = world.tenants[i % world.tenants.len()].email.clone();
            let mut out = Outcome::default();
            while Instant::now() < deadline {
                let sent = Instant::now();
                let response = client
                    .post(format!("{}/api/accounts/log_in", world.base))
                    .header(
                        "x-forwarded-for",
                        format!("10.0.{}.{}", i / 250, 1 + i % 250),
                    )
                    .form(&[("email", email.as_str()), ("password", PASSWORD)])
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().is_success() || r.status().is_redirection() => {
                        out.ok += 1;
                        out.latencies.push(sent.elapsed());
                    }
                    Ok(r) => {
                        out.errors += 1;
                        let status = r.status();
                        let body = r.bytes().await.unwrap_or_default();
                        out.first_error
                            .get_or_insert(refusal(status, &body).to_string());
                    }
                    Err(e) => {
                        out.errors += 1;
                        out.first_error.get_or_insert(e.to_string());
                    }
                }
            }
            out
        })
    });
    gather(loops, started).await
}

fn report(name: &str, out: &Outcome, pid: u32) {
    println!(
        "{name:<46} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  errors {}  RSS {:.0} MiB",
        out.per_second(),
        ms(out.p50()),
        ms(out.at(0.99)),
        ms(out.latencies.last().copied().unwrap_or_default()),
        out.errors,
        process_memory_kib(pid, "VmRSS:") as f64 / 1024.0,
    );
    if out.conflicts > 0 {
        println!(
            "   {} edits lost a race to another edit of the same code (412, nothing changed)",
            out.conflicts
        );
    }
    let seconds = out.took.as_secs_f64();
    println!(
        "   CPU over the scenario: server {:.0}%, load generator {:.0}%, PostgreSQL and the rest {:.0}% (of 100% per core)",
        out.cpu.server / seconds * 100.0,
        out.cpu.generator / seconds * 100.0,
        out.cpu.rest / seconds * 100.0,
    );
    if let Some(e) = &out.first_error {
        println!("   first error: {e}");
    }
}

fn ratio(http: &Outcome, pg: Pgbench) {
    println!(
        "{:<46} {:>8.0} tps    p50 {:>6.2} ms  p99 {:>6.2} ms  → API/pgbench {:.2}",
        "  pgbench, the same SQL",
        pg.tps,
        pg.p50_ms,
        pg.p99_ms,
        http.per_second() / pg.tps
    );
}

/// CPU time used so far by the server, by this process (the load
/// generator) and by the whole machine besides (PostgreSQL, mostly).
#[derive(Debug, Clone, Copy, Default)]
struct CpuSeconds {
    server: f64,
    generator: f64,
    rest: f64,
}

impl CpuSeconds {
    fn now(server_pid: u32) -> Self {
        let server = process_cpu_seconds(&format!("/proc/{server_pid}/stat"));
        let generator = process_cpu_seconds("/proc/self/stat");
        Self {
            server,
            generator,
            rest: machine_cpu_seconds() - server - generator,
        }
    }

    fn since(&self, before: &Self) -> Self {
        Self {
            server: self.server - before.server,
            generator: self.generator - before.generator,
            rest: self.rest - before.rest,
        }
    }
}

/// utime + stime of a process, in seconds (clock ticks of 1/100 s).
fn process_cpu_seconds(stat: &str) -> f64 {
    let text = std::fs::read_to_string(stat).unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = text
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Busy CPU time of the whole machine (all but idle and iowait), seconds.
fn machine_cpu_seconds() -> f64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = text.lines().next() else {
        return 0.0;
    };
    let values: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let busy: f64 = values
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    busy / 100.0
}

fn process_memory_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// pgbench scripts: each a transaction as a request makes it (the
/// organization set with `set_config`, then the query), with the values of
/// one sampled request written in; a run picks among them at random.
struct PgbenchSamples<'w> {
    world: &'w World,
    n: usize,
}

impl<'w> PgbenchSamples<'w> {
    fn new(world: &'w World, n: usize) -> Self {
        Self { world, n }
    }

    fn script(org: OrgId, sql: &str) -> String {
        format!(
            "begin;\nselect set_config('app.org_id', '{org}', true), set_config('app.user_id', '', true);\n{};\ncommit;\n",
            sql.split_whitespace().collect::<Vec<_>>().join(" ")
        )
    }

    fn picks(&self) -> Vec<&'w Sample> {
        let mut rng = rand::thread_rng();
        (0..self.n)
            .map(|_| self.world.samples.choose(&mut rng).expect("samples"))
            .collect()
    }

    fn list(&self) -> Vec<String> {
        self.picks()
            .into_iter()
            .map(|s| {
                Self::script(
                    s.organization_id,
                    &format!(
                        "{} where c.organization_id = '{}' and c.deleted_at is null and c.code_key > {} order by c.code_key limit 51",
                        codes::SELECT_CODE,
                        s.organization_id,
                        literal(&s.code_key)
                    ),
                )
            })
            .collect()
    }

    fn get(&self) -> Vec<String> {
        self.picks()
            .into_iter()
            .map(|s| {
                Self::script(
                    s.organization_id,
                    &format!(
                        "{} where c.organization_id = '{}' and c.id = '{}'",
                        codes::SELECT_CODE,
                        s.organization_id,
                        s.id
                    ),
                )
            })
            .collect()
    }

    /// Each query of [`WORDS`] in a random organization: the plan query,
    /// then the page query of the plan it chose, as `list::fetch_page`
    /// builds them (first page, code order, live codes).
    async fn words(
        &self,
        db: &Database,
        state: &app::backend::AppState,
    ) -> anyhow::Result<Vec<String>> {
        let mut scripts = Vec::new();
        for q in WORDS {
            let tenant = self.world.any_tenant();
            let slug: String = sqlx::query_scalar("select slug from organizations where id = $1")
                .bind(tenant.org_id)
                .fetch_one(&db.owner_pool)
                .await?;
            let slug = OrgSlug::parse(&slug).map_err(|e| anyhow::anyhow!("{}", e.message))?;
            let ctx = OrgContext::operator(&db.app_pool, &slug)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let (words, plan) = codes::search::plan_of(&ctx, state, q)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("   word search {q:?}: {}", describe(&plan));
            let org = tenant.org_id;
            let array = |items: &[String]| {
                format!(
                    "array[{}]::text[]",
                    items
                        .iter()
                        .map(|w| literal(w))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let ends: Vec<String> = words.iter().map(|w| format!("{w}{}", char::MAX)).collect();
            let plan_sql = codes::search::PLAN_SQL
                .replace("$1", &format!("'{org}'"))
                .replace("$2::text[]", &array(&words))
                .replace("$3::text[]", &array(&ends))
                .replace("$4", &codes::search::FEW.to_string())
                .replace("$5", &(codes::search::SOME_WORDS + 1).to_string())
                .replace(
                    "$6",
                    &codes::search::counts_needed(words.len(), SortOrder::Code).to_string(),
                );
            let tsquery = words
                .iter()
                .map(|w| format!("{w}:*"))
                .collect::<Vec<_>>()
                .join(" & ");
            let conditions = format!(
                "c.deleted_at is null and c.search @@ to_tsquery('simple', {})",
                literal(&tsquery)
            );
            let base = format!("{} where c.organization_id = '{org}'", codes::SELECT_CODE);
            let page_sql = match &plan {
                WordPlan::NoMatch => "select 1".to_owned(),
                // `codes::list::walk`, written out.
                WordPlan::Walk(walked) => format!(
                    "select c.id, c.code, c.description, c.category, c.severity, c.active,
                            c.version, c.created_at, c.updated_at, u.name as updated_by, c.deleted_at
                     from (select distinct on (x.code_key) x.* from unnest({}) as d (word)
                       cross join lateral (
                       select c.code_key, c.id, c.code, c.description, c.category, c.severity,
                              c.active, c.version, c.created_at, c.updated_at, c.updated_by,
                              c.updated_by_kind, c.deleted_at
                       from code_words w
                       join codes c on c.organization_id = w.organization_id and c.code_key = w.code_key
                       where w.organization_id = '{org}' and w.word = d.word and {conditions}
                       order by w.code_key limit 51) x order by x.code_key limit 51) c
                     left join users u on u.id = c.updated_by and c.updated_by_kind = 'user'
                     order by c.code_key",
                    array(walked)
                ),
                WordPlan::Candidates(prefix) => format!(
                    "{base} and c.code_key = any(array(
                       select w.code_key from code_words w where w.organization_id = '{org}'
                       and w.word >= {} and w.word < {}))
                     and {conditions} order by c.code_key limit 51",
                    literal(prefix),
                    literal(&format!("{prefix}{}", char::MAX))
                ),
                WordPlan::Scan => format!("{base} and {conditions} order by c.code_key limit 51"),
            };
            scripts.push(Self::script(org, &format!("{plan_sql};\n{page_sql}")));
        }
        Ok(scripts)
    }
}

fn describe(plan: &WordPlan) -> String {
    match plan {
        WordPlan::NoMatch => "no word matches".into(),
        WordPlan::Walk(words) => format!("walk {}", words.join(", ")),
        WordPlan::Candidates(prefix) => format!("candidates of {prefix}*"),
        WordPlan::Scan => "scan in code order".into(),
    }
}

/// A SQL string literal (the values are ours: codes and words of the data).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

struct Pgbench {
    tps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Runs pgbench on `scripts` (picked at random, equal weights) as the
/// application role, prepared statements, `connections` clients on 2
/// threads, and reads its tps and latency percentiles from its log.
fn pgbench(
    owner_url: &str,
    scripts: &[String],
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Pgbench> {
    let dir = tempfile_dir()?;
    let mut args = vec![
        "-n".to_owned(),
        "-M".into(),
        "prepared".into(),
        "-c".into(),
        connections.to_string(),
        "-j".into(),
        "2".into(),
        "-T".into(),
        duration.as_secs().to_string(),
        "-l".into(),
        "--log-prefix".into(),
        dir.join("log").display().to_string(),
    ];
    for (i, script) in scripts.iter().enumerate() {
        let path = dir.join(format!("script{i}.sql"));
        std::fs::write(&path, script)?;
        args.push("-f".into());
        args.push(path.display().to_string());
    }
    let mut url = url::Url::parse(owner_url)?;
    url.set_username("codebook_app").ok();
    url.set_password(None).ok();
    args.push(url.to_string());
    let output = std::process::Command::new("pgbench")
        .args(&args)
        .current_dir(&dir)
        .output()
        .context("pgbench (Debian's postgresql-client) is needed")?;
    if !output.status.success() {
        bail!(
            "pgbench failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let tps = stdout
        .lines()
        .find(|l| l.starts_with("tps ="))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse::<f64>().ok())
        .context("pgbench printed no tps")?;
    // Per-transaction log lines: client, transaction, latency (µs), ...
    let mut latencies: Vec<u64> = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("log"))
        {
            for line in std::fs::read_to_string(&path)?.lines() {
                if let Some(us) = line.split_whitespace().nth(2).and_then(|v| v.parse().ok()) {
                    latencies.push(us);
                }
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    Ok(Pgbench {
        tps,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
    })
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("codebook-pgbench-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
