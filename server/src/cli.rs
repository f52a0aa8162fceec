//! The `server` command line.
use anyhow::{bail, Context as _};
use app::backend::{accounts, audit, jobs, orgs};
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
    /// Run background jobs (mail) until stopped, without serving HTTP;
    /// `serve` runs the same worker inside the server.
    Worker,
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
            let pg = EmbeddedPostgres::start(&data_dir)?;
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
                    let org_id = orgs::find_id_by_slug(&db.app_pool, &org)
                        .await
                        .map_err(|_| anyhow::anyhow!("No organization with slug `{org}`"))?;
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
        Command::Worker => {
            let db = Database::open(&settings, &urls, settings.migrate_on_start).await?;
            let runner = jobs::Runner::new(
                db.app_pool.clone(),
                settings.mailer()?,
                &settings.public_url,
            );
            let worker = jobs::Worker::start(runner);
            stop_signal().await;
            worker.stop().await;
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

/// SIGINT or SIGTERM: the job under way finishes, then the worker stops.
async fn stop_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("stopping the job worker");
}
