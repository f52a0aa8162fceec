//! `bench audit-export`: an organization's audit log of 1,000 and of
//! 100,000 entries exported as CSV and NDJSON over HTTP, with the bytes,
//! the time and the process's peak memory (see [`run`]).
use anyhow::{bail, Context as _};
use std::time::Instant;

use app::model::{OrgId, UserId};

use crate::support::{
    app_state, create_org, fresh_database, memory_kib, reset_peak_memory, session_cookie,
};
use server::config::Settings;
use server::startup::Database;

const AUDIT_DATABASE: &str = "codebook_bench_audit";

/// `server bench audit-export`: on a fresh `codebook_bench_audit` database,
/// seeds 1,000 audit entries into one organization and `entries` into
/// another (bulk SQL as the owner: contiguous seqs and a consistent chain
/// head, though not real hashes, which an export does not check), serves
/// the app in this process, downloads each organization's CSV and NDJSON
/// export over real HTTP as an owner (the body read and thrown away), and
/// prints the bytes, the time and this process's peak resident memory
/// (VmHWM, reset before each download where /proc/self/clear_refs allows).
pub async fn run(settings: &Settings, entries: u64) -> anyhow::Result<()> {
    let db = fresh_database(settings, AUDIT_DATABASE).await?;

    let user_id = UserId::new_v4();
    sqlx::query(
        "insert into users (id, email, name, password_hash) values ($1, 'bench@example.com', 'Bench', 'x')",
    )
    .bind(user_id)
    .execute(&db.owner_pool)
    .await?;
    let mut orgs = Vec::new();
    for (slug, n) in [("bench-audit-small", 1_000u64), ("bench-audit", entries)] {
        create_org(&db, slug).await?;
        let org_id: OrgId = sqlx::query_scalar("select id from organizations where slug = $1")
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
    let router = server::startup::router(server::startup::ServerState::new(
        server::startup::ServerParts {
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
async fn seed_audit(db: &Database, org_id: OrgId, user_id: UserId, n: u64) -> anyhow::Result<()> {
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
