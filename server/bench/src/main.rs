//! Codebook's benchmark programs. They print figures; they are not tests,
//! and the production server does not carry them.
//!
//! Each runs on the PostgreSQL cluster of `DATABASE_URL`, in a database of
//! its own that it makes (so nothing else is touched):
//!
//! - `bench codes` ([`codes`]): both ICD-10-CM imports, an import after
//!   single edits, then list and search beside a million other codes.
//! - `bench webhooks` ([`webhooks`]): 10,000 events to a local receiver.
//! - `bench audit-export` ([`audit_export`]): audit exports over HTTP, with
//!   the process's peak memory.
//! - `bench load` ([`load`]): 7.5 million codes over HTTP against pgbench,
//!   with the `server` binary built beside this one as the server.
use clap::{Parser, Subcommand};
use std::path::PathBuf;

use server::config::Settings;

mod audit_export;
mod codes;
mod load;
mod support;
mod webhooks;

/// The server's allocator, so that in-process figures match production.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "bench", about = "Codebook's benchmark programs (not tests)")]
struct Cli {
    /// The settings file, as the server reads it.
    #[arg(
        long,
        env = "CODEBOOK_CONFIG",
        default_value = "Leptos.toml",
        global = true
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import both ICD-10-CM releases, then time list and search with over
    /// a million codes in other organizations (a fresh `codebook_bench`
    /// database).
    Codes {
        /// The folder holding icd10cm-2024.csv.gz and icd10cm-2026.csv.gz.
        #[arg(long, default_value_os_t = support::default_data_dir())]
        data_dir: PathBuf,
    },
    /// Deliver 10,000 events to a local receiver through one endpoint and
    /// one worker, and print deliveries per second and event-to-delivery
    /// latency p50/p99 (a fresh `codebook_bench_webhooks` database). The
    /// worker options override its defaults, to explore.
    Webhooks {
        /// Events per second to write (default: as fast as they commit);
        /// latency at a load below the throughput, not behind a backlog.
        #[arg(long)]
        rate: Option<u32>,
        /// Requests the worker keeps going at once.
        #[arg(long)]
        max_in_flight: Option<usize>,
        /// Requests the worker keeps going to one endpoint at once.
        #[arg(long)]
        per_endpoint: Option<usize>,
        /// Deliveries claimed per round trip.
        #[arg(long)]
        batch: Option<usize>,
    },
    /// Export an organization's audit log of 1,000 and of `--entries`
    /// entries as CSV and NDJSON over HTTP, and print bytes, seconds and
    /// the process's peak memory (a fresh `codebook_bench_audit` database).
    AuditExport {
        #[arg(long, default_value_t = 100_000)]
        entries: u64,
    },
    /// Seed (once) `--orgs` organizations × the 2026 release into a
    /// `codebook_load` database, start the `server` binary built beside
    /// this one on it, drive it at `--connections` for `--seconds` per
    /// scenario, and print requests/s, p50/p99/max, errors, memory, and
    /// pgbench's figures for the same SQL beside the API's.
    Load {
        #[arg(long, default_value_t = 100)]
        orgs: usize,
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// People logging in at once during the last scenario.
        #[arg(long, default_value_t = 100)]
        logins: usize,
        /// Drop the load database and seed it again.
        #[arg(long)]
        reseed: bool,
        /// Only these scenarios (repeated, or separated by commas): list,
        /// get, prefix, words, codes-page, pages, writes, logins; `seed`
        /// alone only seeds.
        #[arg(
            long = "only",
            value_delimiter = ',',
            value_parser = clap::builder::PossibleValuesParser::new(load::SCENARIOS)
        )]
        only: Vec<String>,
        #[arg(long, default_value_os_t = support::default_data_dir())]
        data_dir: PathBuf,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(&cli.config)?;
    server::telemetry::init(settings.log_format);
    match cli.command {
        Command::Codes { data_dir } => codes::run(&settings, &data_dir).await,
        Command::Webhooks {
            rate,
            max_in_flight,
            per_endpoint,
            batch,
        } => {
            let options = webhooks::Options {
                rate,
                max_in_flight,
                per_endpoint,
                batch,
            };
            webhooks::run(&settings, options).await
        }
        Command::AuditExport { entries } => audit_export::run(&settings, entries).await,
        Command::Load {
            orgs,
            seconds,
            connections,
            logins,
            reseed,
            only,
            data_dir,
        } => {
            let options = load::LoadOptions {
                orgs,
                seconds,
                connections,
                logins,
                reseed,
                only,
            };
            load::run(&settings, &data_dir, options).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only_of(args: &[&str]) -> Result<Vec<String>, clap::Error> {
        let cli = Cli::try_parse_from(["bench", "load"].iter().chain(args))?;
        match cli.command {
            Command::Load { only, .. } => Ok(only),
            other => panic!("not a load bench: {other:?}"),
        }
    }

    #[test]
    fn the_load_bench_takes_its_scenarios_as_a_list_and_refuses_unknown_ones() {
        assert_eq!(
            only_of(&["--only", "list,words"]).unwrap(),
            ["list", "words"]
        );
        assert_eq!(
            only_of(&["--only", "list", "--only", "logins"]).unwrap(),
            ["list", "logins"]
        );
        assert!(only_of(&[]).unwrap().is_empty());
        let unknown = only_of(&["--only", "list,word"]).unwrap_err().to_string();
        assert!(unknown.contains("word"), "{unknown}");
    }
}
