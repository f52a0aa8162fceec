//! `cargo xtask build`: the one build of Codebook, with plain cargo.
//!
//! It compiles the hydrate wasm (size profile) and the server at the same
//! time, in two target folders so neither waits for the other's lock; runs
//! wasm-bindgen as a library at the locked version and binaryen's
//! `wasm-opt`; and publishes the site with content-hashed, pre-gzipped
//! files. `make run`, `make test` and the Playwright server all use what it
//! builds, so the binary the tests run is the binary people run.
//! cargo-leptos (`make dev`) reads the same settings from Cargo.toml.

mod budget;
mod bundle;
mod modules;
mod settings;
mod site;
mod split;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use settings::{workspace_root, Settings};

#[derive(Parser)]
#[command(about = "Builds Codebook with plain cargo")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// The site (wasm, script, stylesheet, assets) and the server binary.
    Build {
        /// Build the server with the `release` profile (for production)
        /// instead of `dev`, the profile `make run` and the tests share.
        #[arg(long)]
        release: bool,
    },
    /// Only the site.
    Site,
    /// The cycles of the crates' module graphs (there should be none).
    Modules,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let root = workspace_root();
    if let Task::Modules = cli.command {
        let cycles = modules::report(&root)?;
        for cycle in &cycles {
            println!("{cycle}");
        }
        anyhow::ensure!(cycles.is_empty(), "{} module cycles", cycles.len());
        println!("no module cycles");
        return Ok(());
    }
    let settings = Settings::load(&root)?;
    let target_dir = target_dir(&root);
    let started = Instant::now();
    match cli.command {
        Task::Build { release } => {
            let profile = if release { "release" } else { "dev" };
            let server = spawn_server_build(&settings, &target_dir, profile)?;
            let site = build_site(&settings, &target_dir);
            let server = wait(server, "the server build");
            site?;
            server?;
        }
        Task::Site => build_site(&settings, &target_dir)?,
        Task::Modules => unreachable!("answered above"),
    }
    eprintln!("xtask: done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// `CARGO_TARGET_DIR` as cargo itself would read it (the Makefile sets it
/// to a folder outside the clone), else the workspace's `target`.
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// A cargo command with the environment a plain `cargo build` in a shell
/// would have. `cargo run` hands this program its package's variables
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, …); passed on, they would dirty
/// every build script that watches one (ring's does) and rebuild half the
/// dependencies between `cargo xtask build` and `cargo nextest run`.
fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_set_by_cargo_run) {
            command.env_remove(name);
        }
    }
    command
}

fn is_set_by_cargo_run(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "CARGO",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_CRATE_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_RUSTC_CURRENT_DIR",
        "CARGO_TARGET_TMPDIR",
        "OUT_DIR",
    ];
    EXACT.contains(&name) || name.starts_with("CARGO_PKG_") || name.starts_with("CARGO_BIN_")
}

fn spawn_server_build(
    settings: &Settings,
    target_dir: &Path,
    profile: &str,
) -> anyhow::Result<Child> {
    cargo()
        .args([
            "build",
            "--package",
            &settings.bin_package,
            "--profile",
            profile,
        ])
        .env("CARGO_TARGET_DIR", target_dir)
        .spawn()
        .context("could not start cargo")
}

fn wait(mut child: Child, what: &str) -> anyhow::Result<()> {
    let status = child.wait()?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// The wasm builds in its own target folder: cargo locks a target folder
/// for the whole of a build, and the server builds beside it.
fn build_site(settings: &Settings, target_dir: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let wasm_target_dir = target_dir.join("wasm");
    let wasm_build = cargo()
        .args(["build", "--lib", "--package", &settings.lib_package])
        .args([
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            &settings.wasm_profile,
        ])
        .env("CARGO_TARGET_DIR", &wasm_target_dir)
        .spawn()
        .context("could not start cargo")?;
    wait(wasm_build, "the wasm build")?;
    let wasm = wasm_target_dir
        .join("wasm32-unknown-unknown")
        .join(profile_dir(&settings.wasm_profile))
        .join(format!("{}.wasm", settings.lib_package.replace('-', "_")));
    let compiled = started.elapsed();

    let split_dir = wasm_target_dir.join("split");
    let bindgen_dir = wasm_target_dir.join("bindgen");
    let input = site::content_hash(&std::fs::read(&wasm).context("reading the compiled wasm")?);
    // Splitting and wasm-opt take a minute: they are skipped when the
    // compiled wasm is the one the published files were made from.
    let marker = bindgen_dir.join("made-from.txt");
    let split = if std::fs::read_to_string(&marker).is_ok_and(|made_from| made_from == input) {
        eprintln!("xtask: the wasm is unchanged; reusing its split and glue");
        split::Split::read(&split_dir)?
    } else {
        let _ = std::fs::remove_dir_all(&bindgen_dir);
        let split = split::Split::run(&wasm, &split_dir)?;
        let was_split = started.elapsed();
        site::bindgen(&split.main, &settings.output_name, &bindgen_dir)?;
        let bound = started.elapsed();
        let main = bindgen_dir.join(format!("{}_bg.wasm", settings.output_name));
        let wasms: Vec<_> = std::iter::once(main)
            .chain(split.chunks.values().cloned())
            .collect();
        site::optimise_all(&wasms)?;
        std::fs::write(&marker, &input)?;
        eprintln!(
            "xtask: wasm compiled in {:.1} s, split into {} chunks in {:.1} s, wasm-bindgen {:.1} s, wasm-opt {:.1} s",
            compiled.as_secs_f64(),
            split.chunks.len(),
            (was_split - compiled).as_secs_f64(),
            (bound - was_split).as_secs_f64(),
            (started.elapsed() - bound).as_secs_f64(),
        );
        split
    };
    let hashed = site::publish(settings, &bindgen_dir, &split)?;
    eprintln!(
        "xtask: site published in {} after {:.1} s\n{}",
        settings.site_root.display(),
        started.elapsed().as_secs_f64(),
        budget::Report::of(settings, &hashed)?,
    );
    Ok(())
}

#[cfg(test)]
#[test]
fn only_what_cargo_run_sets_is_dropped_from_child_builds() {
    for set in [
        "CARGO_MANIFEST_DIR",
        "CARGO_PKG_NAME",
        "CARGO_BIN_NAME",
        "CARGO",
    ] {
        assert!(is_set_by_cargo_run(set), "{set}");
    }
    for kept in [
        "CARGO_TARGET_DIR",
        "CARGO_HOME",
        "CARGO_TERM_COLOR",
        "CARGO_BUILD_JOBS",
        "PATH",
    ] {
        assert!(!is_set_by_cargo_run(kept), "{kept}");
    }
}

/// The folder cargo writes a profile's artifacts to.
fn profile_dir(profile: &str) -> &str {
    match profile {
        "dev" | "test" => "debug",
        "bench" => "release",
        other => other,
    }
}
