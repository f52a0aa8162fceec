//! `bench codes`: on a fresh `codebook_bench` database it imports the
//! FY2024 ICD-10-CM release into an empty organization, then the April 2026
//! release over it with delete-missing, and prints both times and the
//! versions written, cutting a release after each, the changelog between
//! the two releases, a read of the whole change feed, and undoing the 2026
//! import (then importing it again); an import
//! changing 3,000 codes on a fresh connection
//! and on one that first edited 200 of them one at a time; then, with more
//! than 1,000,000 codes in other organizations, it prints p50/p99 of a list
//! page, a code-prefix search and a word search in that organization,
//! through the same service and row-level security as a request.
use anyhow::bail;
use app::backend::codes::{self, feed, import::ImportOptions, import_history};
use app::backend::releases::{self, changelog};
use app::backend::{AppState, OrgContext};
use app::model::codes::{CodeFilter, ImportSummary};
use app::model::releases::{ChangelogEnd, ReleaseForm, ReleaseName};
use std::path::Path;
use std::time::{Duration, Instant};

use app::model::CodeId;

use crate::support::{
    app_state, app_state_on, copy_codes, create_org, fresh_database, ms, percentiles,
};
use server::config::Settings;
use server::startup::Database;

const DATABASE: &str = "codebook_bench";
/// Other organizations, each holding a copy of the 2026 release.
const OTHER_ORGS: usize = 14;
const SAMPLES: usize = 200;

pub async fn run(settings: &Settings, data_dir: &Path) -> anyhow::Result<()> {
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
    timed_cut(&ctx, &state, "2024").await?;
    let upgrade = timed_import(&ctx, &state, &file_2026, "icd10cm-2026.csv.gz", true).await?;
    timed_cut(&ctx, &state, "2026").await?;
    releases_and_feed(&ctx, &state).await?;
    timed_undo(&ctx, &state, &upgrade).await?;
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

/// Cuts the release `name` of every live code, timed.
async fn timed_cut(ctx: &OrgContext, state: &AppState, name: &str) -> anyhow::Result<()> {
    let form = ReleaseForm {
        name: name.to_owned(),
        description: String::new(),
    };
    let started = Instant::now();
    let release = releases::cut(ctx, state, &form)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "   cut release {name}: {} codes in {:.2} s",
        release.code_count,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The changelog between the two releases, and the whole change feed read
/// a thousand versions at a time, as a mirror starting from nothing does.
async fn releases_and_feed(ctx: &OrgContext, state: &AppState) -> anyhow::Result<()> {
    let (from, to) = (
        ReleaseName::parse("2024").map_err(|e| anyhow::anyhow!("{}", e.message))?,
        ChangelogEnd::parse("2026").map_err(|e| anyhow::anyhow!("{}", e.message))?,
    );
    let started = Instant::now();
    let log = changelog::compute(ctx, state, &from, &to)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let c = log.counts;
    println!(
        "   changelog 2024 → 2026: {} added, {} removed, {} changed in {:.2} s",
        c.added,
        c.removed,
        c.changed,
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let (mut cursor, mut read) = (String::new(), 0);
    loop {
        let page = feed::read(ctx, state, Some(&cursor), None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if page.items.is_empty() {
            break;
        }
        read += page.items.len();
        cursor = page.next_cursor;
    }
    println!(
        "   change feed: {read} versions read from the start in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Undoes the 2024 → 2026 upgrade, timed, and checks the live catalogue is
/// release 2024 again.
async fn timed_undo(
    ctx: &OrgContext,
    state: &AppState,
    upgrade: &ImportSummary,
) -> anyhow::Result<()> {
    let Some(id) = upgrade.import_id else {
        bail!("the upgrade was not recorded");
    };
    let started = Instant::now();
    let undone = import_history::undo(ctx, state, id, false)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "   undo of the 2026 import: {} reverted, {} deleted, {} restored in {:.2} s",
        undone.reverted,
        undone.deleted,
        undone.restored,
        started.elapsed().as_secs_f64()
    );
    let (from, to) = (
        ReleaseName::parse("2024").map_err(|e| anyhow::anyhow!("{}", e.message))?,
        ChangelogEnd::Live,
    );
    let left = changelog::compute(ctx, state, &from, &to)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .counts;
    if (left.added, left.removed, left.changed) != (0, 0, 0) {
        bail!("after the undo the catalogue differs from release 2024: {left:?}");
    }
    Ok(())
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
    let first: Vec<(CodeId, String)> =
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
) -> anyhow::Result<ImportSummary> {
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
        "   {name}{}: {:.2} s — {} created, {} updated, {} restored, {} deleted, {} unchanged",
        if delete_missing {
            " (delete missing)"
        } else {
            ""
        },
        started.elapsed().as_secs_f64(),
        s.created,
        s.updated,
        s.restored,
        s.deleted,
        s.unchanged
    );
    Ok(s)
}
