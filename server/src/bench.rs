//! `server bench codes`: a benchmark program, not a test. On the database
//! of DATABASE_URL (a fresh `codebook_bench` database is made on that
//! cluster, so nothing else is touched) it imports the FY2024 ICD-10-CM
//! release into an empty organization, then the April 2026 release over it
//! with delete-missing, and prints both times and the versions written;
//! then, with more than 1,000,000 codes in other organizations, it prints
//! p50/p99 of a list page, a code-prefix search and a word search in that
//! organization, through the same service and row-level security as a
//! request.
use anyhow::{bail, Context as _};
use app::backend::codes::{self, import::ImportOptions};
use app::backend::{jwt::JwtKeys, tokens, AppState, OrgContext};
use app::model::codes::CodeFilter;
use app::model::orgs::OrgSlug;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::{DatabaseUrls, Settings};
use crate::startup::Database;

const DATABASE: &str = "codebook_bench";
/// Other organizations, each holding a copy of the 2026 release.
const OTHER_ORGS: usize = 14;
const SAMPLES: usize = 200;

pub async fn codes(settings: &Settings, data_dir: &Path) -> anyhow::Result<()> {
    let owner_url = std::env::var("DATABASE_URL").context(
        "Set DATABASE_URL to a PostgreSQL server the benchmark may create a database on",
    )?;
    let bench_url = recreate_database(&owner_url).await?;
    let urls = DatabaseUrls {
        owner: Some(bench_url),
        app: None,
    };
    let db = Database::open(settings, &urls, true).await?;
    let state = AppState::new(
        db.app_pool.clone(),
        settings.mode,
        settings.mailer()?,
        String::new(),
        JwtKeys::new(tokens::generate().as_bytes()),
    );
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

/// A fresh benchmark database on the cluster of `owner_url`.
async fn recreate_database(owner_url: &str) -> anyhow::Result<String> {
    let admin = sqlx::PgPool::connect(owner_url).await?;
    // A constant name, not input: identifiers cannot be bound.
    sqlx::query(&format!("drop database if exists {DATABASE} with (force)"))
        .execute(&admin)
        .await?;
    sqlx::query(&format!("create database {DATABASE}"))
        .execute(&admin)
        .await?;
    admin.close().await;
    let mut url = url::Url::parse(owner_url)?;
    url.set_path(&format!("/{DATABASE}"));
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

/// `../shared/data` from the repository, where the releases live.
pub fn default_data_dir() -> PathBuf {
    PathBuf::from("../shared/data")
}
