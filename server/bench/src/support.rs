//! What the benchmarks share: their databases, the application's state on
//! them, sessions, memory figures and percentiles.
use anyhow::Context as _;
use app::backend::{jwt::JwtKeys, sessions, tokens, AppState, RequestMeta};
use app::model::orgs::OrgSlug;
use std::path::PathBuf;
use std::time::Duration;

use app::model::{OrgId, UserId};

use server::config::{DatabaseUrls, Settings};
use server::startup::Database;

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) fn percentiles(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    (at(0.50), at(0.99))
}

/// The application's state on a benchmark's database, with a throw-away
/// JWT key and no public URL.
pub(crate) fn app_state(settings: &Settings, db: &Database) -> anyhow::Result<AppState> {
    app_state_on(settings, db.app_pool.clone())
}

pub(crate) fn app_state_on(settings: &Settings, pool: sqlx::PgPool) -> anyhow::Result<AppState> {
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
pub(crate) async fn fresh_database(settings: &Settings, name: &str) -> anyhow::Result<Database> {
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
pub(crate) async fn recreate_database(owner_url: &str, name: &str) -> anyhow::Result<String> {
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
pub(crate) async fn create_org(db: &Database, slug: &str) -> anyhow::Result<OrgSlug> {
    sqlx::query(
        "insert into organizations (id, name, slug, plan) values (gen_random_uuid(), $1, $1, 'enterprise')",
    )
    .bind(slug)
    .execute(&db.owner_pool)
    .await?;
    OrgSlug::parse(slug).map_err(|e| anyhow::anyhow!("{}", e.message))
}

/// Copies every code of `from` into `to` with its CREATE version, in bulk.
pub(crate) async fn copy_codes(db: &Database, from: &OrgSlug, to: &OrgSlug) -> anyhow::Result<()> {
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

/// A new session of `user_id` in `org_id`, as the `Cookie` header value a
/// browser on plain HTTP would send.
pub(crate) async fn session_cookie(
    db: &Database,
    user_id: UserId,
    org_id: OrgId,
) -> anyhow::Result<String> {
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
pub(crate) fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A `/proc/self/status` figure in KiB (`VmRSS:`, `VmHWM:`), 0 if absent.
pub(crate) fn memory_kib(field: &str) -> u64 {
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
