//! The `server` command line.
use anyhow::{bail, Context as _};
use app::backend::{accounts, audit, jobs};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

use crate::config::{DatabaseUrls, Settings};
use crate::embedded_pg::EmbeddedPostgres;
use crate::startup::{self, Application, Database};

#[derive(Debug, Parser)]
#[command(
    name = "server",
    version,
    about = "Codebook: diagnostic codes under version control"
)]
pub struct Cli {
    /// The settings file: `[package.metadata.leptos]` and `[codebook]`.
    #[arg(
        long,
        env = "CODEBOOK_CONFIG",
        default_value = "Leptos.toml",
        global = true
    )]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the application (the default).
    Serve,
    /// Run pending database migrations and exit.
    Migrate,
    /// Start the embedded PostgreSQL cluster in the background and print
    /// its superuser URL (used by the test script on machines without a
    /// PostgreSQL server), or stop it.
    EmbeddedDb {
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        stop: bool,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Import a CSV file of codes (`code,description,category[,severity,
    /// active]`, plain or gzipped) into an organization: an upsert, all or
    /// nothing.
    Import {
        /// The organization's slug.
        #[arg(long)]
        org: String,
        /// The file to import.
        file: PathBuf,
        /// Delete every live code the file does not name.
        #[arg(long)]
        delete_missing: bool,
        /// Print what would change and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Releases of an organization's catalogue.
    Release {
        #[command(subcommand)]
        command: ReleaseCommand,
    },
    /// Run background jobs (mail) and webhook deliveries until stopped,
    /// without serving the application; `serve` runs the same workers
    /// inside it.
    Worker {
        /// Serve Prometheus metrics of the deliveries (counts by result,
        /// attempt latency) at `http://<IP:PORT>/metrics`, e.g.
        /// 127.0.0.1:9464, behind `metrics-token` as `serve`'s are (in
        /// production an unset token keeps them closed). None unless given.
        #[arg(long, value_name = "IP:PORT")]
        metrics_addr: Option<std::net::SocketAddr>,
    },
    /// Platform administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk an organization's hash chain (or the platform's) up to its
    /// recorded head and report the first broken or missing entry.
    Verify {
        /// The organization's slug.
        #[arg(
            long,
            required_unless_present = "platform",
            conflicts_with = "platform"
        )]
        org: Option<String>,
        /// The platform log: organization deletions and deactivations.
        #[arg(long)]
        platform: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Cut a release of every live code at its current version.
    Cut {
        /// The organization's slug.
        #[arg(long)]
        org: String,
        /// Unique in the organization, e.g. 2026.2.
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List the organization's releases, newest first.
    List {
        #[arg(long)]
        org: String,
    },
    /// Print the changelog from a release to another one (or to the live
    /// catalogue) as Markdown, or as CSV.
    Changelog {
        #[arg(long)]
        org: String,
        /// The older release.
        from: String,
        /// Another release, or `live`.
        #[arg(long, default_value = "live")]
        to: String,
        #[arg(long)]
        csv: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make a user a platform admin.
    Grant { email: String },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(&cli.config)?;
    crate::telemetry::init(settings.log_format);
    let urls = DatabaseUrls::from_env();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let options = startup::leptos_options(&cli.config)?;
            Application::build(&settings, &urls, options)
                .await?
                .run_until_stopped()
                .await
        }
        Command::Migrate => {
            Database::open(&settings, &urls, true).await?;
            println!("migrations are up to date");
            Ok(())
        }
        Command::EmbeddedDb { data_dir, stop } => {
            let pg = EmbeddedPostgres::start(&data_dir, settings.embedded_fsync)?;
            if stop {
                drop(pg);
            } else {
                println!("{}", pg.url("postgres"));
                // pg_ctl runs the cluster detached; leave it running.
                std::mem::forget(pg);
            }
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify { org, platform },
        } => {
            let db = Database::open(&settings, &urls, settings.migrate_on_start).await?;
            let (name, report) = match org {
                Some(org) if !platform => {
                    let slug = app::model::orgs::OrgSlug::parse(&org)
                        .map_err(|_| anyhow::anyhow!("`{org}` is not an organization slug"))?;
                    let org_id = app::backend::OrgContext::operator(&db.app_pool, &slug)
                        .await
                        .map_err(|_| anyhow::anyhow!("No organization with slug `{org}`"))?
                        .org_id;
                    (org, audit::verify(&db.app_pool, org_id).await)
                }
                _ => (
                    "the platform".to_owned(),
                    audit::platform::verify(&db.app_pool).await,
                ),
            };
            let report = report
                .map_err(|e| anyhow::anyhow!("{e}"))
                .context("Failed to read the audit log")?;
            match report.first_broken {
                None => {
                    println!("ok: {} entries verified for {name}", report.entries_checked);
                    Ok(())
                }
                Some(broken) => {
                    println!("broken at seq {}: {}", broken.seq, broken.reason);
                    bail!("the audit chain of {name} is broken at seq {}", broken.seq)
                }
            }
        }
        Command::Import {
            org,
            file,
            delete_missing,
            dry_run,
        } => import_codes(&settings, &urls, &org, &file, delete_missing, dry_run).await,
        Command::Release { command } => release(&settings, &urls, command).await,
        Command::Worker { metrics_addr } => {
            // Caught before any work starts (see `shutdown_signal`).
            let stop = startup::shutdown_signal();
            let exporter = match metrics_addr {
                Some(addr) => {
                    let exporter =
                        crate::metrics::Exporter::start(addr, settings.metrics_token()).await?;
                    // The address bound, which port 0 leaves to the system.
                    println!("metrics at http://{}/metrics", exporter.local_addr());
                    Some(exporter)
                }
                None => None,
            };
            let db = Database::open(&settings, &urls, settings.migrate_on_start).await?;
            let runner = jobs::runner::Runner::new(
                db.app_pool.clone(),
                settings.mailer()?,
                &settings.public_url,
            );
            let worker = jobs::worker::Worker::start(runner);
            let deliverer = app::backend::webhooks::worker::Deliverer::new(
                db.worker_pool(startup::WORKER_CONNECTIONS).await?,
                settings.webhooks()?,
            );
            let webhooks = app::backend::webhooks::worker::Worker::start(deliverer);
            // The requests and the job under way finish, then the workers stop.
            stop.await;
            webhooks.stop().await;
            worker.stop().await;
            if let Some(exporter) = exporter {
                exporter.stop().await;
            }
            Ok(())
        }
        Command::Admin {
            command: AdminCommand::Grant { email },
        } => {
            let db = Database::open(&settings, &urls, settings.migrate_on_start).await?;
            // The application role may not set the flag; the operator's
            // connection (DATABASE_URL) owns the schema.
            accounts::grant_platform_admin(&db.owner_pool, &email)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{email} is now a platform admin");
            Ok(())
        }
    }
}

/// An operator at the command line, working in the organization `org`,
/// and the application's state to work with.
async fn operator(
    settings: &Settings,
    urls: &DatabaseUrls,
    org: &str,
) -> anyhow::Result<(app::backend::OrgContext, app::backend::AppState)> {
    let slug = app::model::orgs::OrgSlug::parse(org)
        .map_err(|_| anyhow::anyhow!("`{org}` is not an organization slug"))?;
    let db = Database::open(settings, urls, settings.migrate_on_start).await?;
    let ctx = app::backend::OrgContext::operator(&db.app_pool, &slug)
        .await
        .map_err(|_| anyhow::anyhow!("No organization with slug `{org}`"))?;
    let state = app::backend::AppState::new(
        db.app_pool.clone(),
        settings.mode,
        settings.mailer()?,
        String::new(),
        app::backend::jwt::JwtKeys::new(app::backend::tokens::generate().as_bytes()),
    );
    Ok((ctx, state))
}

async fn release(
    settings: &Settings,
    urls: &DatabaseUrls,
    command: ReleaseCommand,
) -> anyhow::Result<()> {
    use app::backend::releases::{self, changelog, export};
    use app::model::releases::{ChangelogEnd, ReleaseForm, ReleaseName};
    let failed = |e: app::backend::Error| anyhow::anyhow!("{e}");
    match command {
        ReleaseCommand::Cut {
            org,
            name,
            description,
        } => {
            let (ctx, state) = operator(settings, urls, &org).await?;
            let form = ReleaseForm { name, description };
            let release = releases::cut(&ctx, &state, &form).await.map_err(failed)?;
            println!(
                "release {} cut with {} codes",
                release.name, release.code_count
            );
        }
        ReleaseCommand::List { org } => {
            let (ctx, state) = operator(settings, urls, &org).await?;
            for release in releases::list(&ctx, &state).await.map_err(failed)? {
                println!(
                    "{}\t{}\t{} codes\t{}",
                    release.name,
                    release.created_at.to_rfc3339(),
                    release.code_count,
                    release.description
                );
            }
        }
        ReleaseCommand::Changelog { org, from, to, csv } => {
            let (ctx, state) = operator(settings, urls, &org).await?;
            let from = ReleaseName::parse(&from).map_err(|e| anyhow::anyhow!("{}", e.message))?;
            let to = ChangelogEnd::parse(&to).map_err(|e| anyhow::anyhow!("{}", e.message))?;
            let log = changelog::compute(&ctx, &state, &from, &to)
                .await
                .map_err(failed)?;
            let text = if csv {
                String::from_utf8(export::changes_csv(&log))?
            } else {
                export::markdown(&log)
            };
            print!("{text}");
        }
    }
    Ok(())
}

async fn import_codes(
    settings: &Settings,
    urls: &DatabaseUrls,
    org: &str,
    file: &std::path::Path,
    delete_missing: bool,
    dry_run: bool,
) -> anyhow::Result<()> {
    use app::backend::codes::import::{import, ImportOptions};
    let bytes =
        std::fs::read(file).with_context(|| format!("Failed to read {}", file.display()))?;
    let (ctx, state) = operator(settings, urls, org).await?;
    let options = ImportOptions {
        file_name: file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        delete_missing,
        dry_run,
    };
    let started = std::time::Instant::now();
    let report = import(&ctx, &state, &bytes, options)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if !report.errors.is_empty() {
        for error in &report.errors {
            eprintln!("line {}: {}", error.line, error.message);
        }
        bail!("{} bad rows; nothing was imported", report.errors.len());
    }
    let s = report.summary.unwrap_or_default();
    println!(
        "{}{} rows: {} created, {} updated, {} restored, {} deleted, {} unchanged ({:.1} s)",
        if s.dry_run { "dry run: " } else { "" },
        s.rows,
        s.created,
        s.updated,
        s.restored,
        s.deleted,
        s.unchanged,
        started.elapsed().as_secs_f64()
    );
    if let Some(id) = s.import_id {
        println!("import {id} (undo: POST /api/v1/imports/{id}/undo, or the import history page)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_takes_an_address_for_its_metrics() {
        let cli =
            Cli::try_parse_from(["server", "worker", "--metrics-addr", "127.0.0.1:9464"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Worker { metrics_addr: Some(addr) }) if addr.port() == 9464
        ));
        let cli = Cli::try_parse_from(["server", "worker"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Worker { metrics_addr: None })
        ));
        assert!(Cli::try_parse_from(["server", "worker", "--metrics-addr", "9464"]).is_err());
    }
}
