//! The `server` command line.
use anyhow::{bail, Context as _};
use app::backend::{accounts, audit, orgs};
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
    /// Platform administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk an organization's hash chain and report the first broken entry.
    Verify {
        /// The organization's slug.
        #[arg(long)]
        org: String,
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
            command: AuditCommand::Verify { org },
        } => {
            let db = Database::open(&settings, &urls, settings.migrate_on_start).await?;
            let org_id = orgs::find_id_by_slug(&db.app_pool, &org)
                .await
                .map_err(|_| anyhow::anyhow!("No organization with slug `{org}`"))?;
            let report = audit::verify(&db.app_pool, org_id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))
                .context("Failed to read the audit log")?;
            match report.first_broken {
                None => {
                    println!("ok: {} entries verified for {org}", report.entries_checked);
                    Ok(())
                }
                Some(broken) => {
                    println!("broken at seq {}: {}", broken.seq, broken.reason);
                    bail!("the audit chain of {org} is broken at seq {}", broken.seq)
                }
            }
        }
        Command::Admin {
            command: AdminCommand::Grant { email },
        } => {
            let db = Database::open(&settings, &urls, settings.migrate_on_start).await?;
            accounts::grant_platform_admin(&db.app_pool, &email)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{email} is now a platform admin");
            Ok(())
        }
    }
}
