//! The embedded default database: with no DATABASE_URL the server runs its
//! own PostgreSQL cluster in a local folder, from the machine's PostgreSQL
//! binaries, listening only on loopback, and stops it on exit.
use anyhow::{bail, Context as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    cluster_dir: PathBuf,
    port: u16,
    /// PostgreSQL refuses to run as root; as root we run it as `postgres`.
    run_as: Option<String>,
}

/// `initdb` and `pg_ctl` on PATH, else the newest `/usr/lib/postgresql/*/bin`.
fn find_bin_dir() -> anyhow::Result<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(dir) = std::env::split_paths(&path).find(|d| has_tools(d)) {
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir).context(
        "No DATABASE_URL is set and no PostgreSQL server binaries (initdb, pg_ctl) were found \
         on PATH or in /usr/lib/postgresql/*/bin. Install PostgreSQL (Debian/Ubuntu: \
         `apt-get install postgresql`) or set DATABASE_URL to a running server.",
    )
}

fn free_loopback_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl EmbeddedPostgres {
    /// Creates the cluster under `data_dir/postgres` if it is new, then
    /// starts it on a free loopback port. `fsync` off is for throw-away test
    /// clusters only: a crash can then corrupt the data.
    pub fn start(data_dir: &Path, fsync: bool) -> anyhow::Result<Self> {
        let bin_dir = find_bin_dir()?;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("Failed to create {}", data_dir.display()))?;
        let data_dir = data_dir.canonicalize()?;
        let pg = Self {
            bin_dir,
            cluster_dir: data_dir.join("postgres"),
            port: free_loopback_port()?,
            run_as: is_root().then(|| "postgres".to_owned()),
        };
        if let Some(user) = &pg.run_as {
            // The server process must own its folder and reach it.
            pg.run(Command::new("chown").args(["-R", user]).arg(&data_dir))?;
        }
        if !pg.cluster_dir.join("PG_VERSION").exists() {
            tracing::info!(dir = %pg.cluster_dir.display(), "creating the embedded PostgreSQL cluster");
            pg.run(pg.tool("initdb").arg("-D").arg(&pg.cluster_dir).args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-instructions",
            ]))?;
        }
        pg.stop_stale();
        let log = data_dir.join("postgres.log");
        pg.run(
            pg.tool("pg_ctl")
                .arg("-D")
                .arg(&pg.cluster_dir)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-o"])
                .arg(format!(
                    "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync={}",
                    pg.port,
                    if fsync { "on" } else { "off" }
                ))
                .arg("start"),
        )
        .with_context(|| format!("Embedded PostgreSQL did not start; see {}", log.display()))?;
        tracing::info!(port = pg.port, fsync, "embedded PostgreSQL is running");
        Ok(pg)
    }

    /// The superuser's URL for `database`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn tool(&self, name: &str) -> Command {
        let program = self.bin_dir.join(name);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    fn run(&self, command: &mut Command) -> anyhow::Result<Output> {
        let output = command
            .output()
            .with_context(|| format!("Failed to run {command:?}"))?;
        if !output.status.success() {
            bail!(
                "{command:?} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(output)
    }

    /// A server left running by a killed process would hold the folder.
    fn stop_stale(&self) {
        if self.cluster_dir.join("postmaster.pid").exists() {
            let _ = self.run(
                self.tool("pg_ctl")
                    .arg("-D")
                    .arg(&self.cluster_dir)
                    .args(["-m", "fast", "-w", "stop"]),
            );
        }
    }

    pub fn stop(&self) {
        match self.run(
            self.tool("pg_ctl")
                .arg("-D")
                .arg(&self.cluster_dir)
                .args(["-m", "fast", "-w", "stop"]),
        ) {
            Ok(_) => tracing::info!("embedded PostgreSQL stopped"),
            Err(e) => tracing::warn!(error = %e, "could not stop embedded PostgreSQL"),
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}
