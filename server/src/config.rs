//! Runtime settings. Non-secret settings live in the `[codebook]` table of
//! `Leptos.toml` and each can be overridden by an environment variable
//! `CODEBOOK_<KEY>` (`data-dir` → `CODEBOOK_DATA_DIR`). Secrets come only
//! from the environment: `DATABASE_URL`, `APP_DATABASE_URL`.
use anyhow::bail;
use anyhow::Context as _;
use app::backend::mail::{Mailer, SmtpSettings};
use app::backend::mode::Mode;
use app::backend::request::TrustedProxies;
use app::backend::webhooks::secrets::SecretKey;
use app::backend::webhooks::ssrf::{AllowedNetworks, Guard};
use app::backend::webhooks::Webhooks;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default, deny_unknown_fields)]
pub struct Settings {
    /// `development` (the embedded default: plain-HTTP cookies, the first
    /// user becomes platform admin) or `production`.
    pub mode: Mode,
    /// Development listens on loopback only unless this is set: a
    /// development instance has trust-auth PostgreSQL, a /dev/mail page
    /// and a platform admin for whoever signs up first.
    pub allow_remote: bool,
    /// Where the embedded PostgreSQL cluster lives when no DATABASE_URL is set.
    pub data_dir: PathBuf,
    /// Whether the embedded cluster syncs to disk. Only a throw-away test
    /// cluster (the test script's, the browser tests') turns it off.
    pub embedded_fsync: bool,
    /// Connections in the application's pool.
    pub max_connections: u32,
    /// CSV imports this process runs at once; more are answered 429 with
    /// `Retry-After` (each holds its file, its rows and a transaction).
    pub max_imports: usize,
    /// `pretty` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// Run pending migrations at start (`server migrate` runs them alone).
    pub migrate_on_start: bool,
    /// The address people reach the app at, for links in mail. Empty: the
    /// listen address.
    pub public_url: String,
    /// The sender of every mail.
    pub mail_from: String,
    /// SMTP server, `smtp://host:587` (STARTTLS) or `smtps://host:465`;
    /// credentials in SMTP_USERNAME / SMTP_PASSWORD. Empty: mail is written
    /// to `mail-outbox-dir` instead.
    pub smtp_url: String,
    /// The folder of `.eml` files when no SMTP server is configured.
    pub mail_outbox_dir: PathBuf,
    /// Comma-separated emails that become platform admins when they sign
    /// up. Development only (whoever signs up first with such an address
    /// would be admin); production refuses to start with any and uses
    /// `server admin grant <email>`.
    pub platform_admins: String,
    /// Comma-separated IPs and CIDR ranges of reverse proxies whose
    /// `X-Forwarded-For` names the client. Empty: the TCP peer is the client.
    pub trusted_proxies: String,
    /// Comma-separated IPs and CIDR ranges webhooks may be sent to although
    /// they are not public addresses (an internal relay, say). Development
    /// adds loopback (127.0.0.0/8, ::1) to it.
    pub webhook_allowed_networks: String,
    /// Whether webhook URLs may be plain `http://`. Development always may.
    pub webhook_allow_http: bool,
    /// The bearer token scrapers send to `GET /metrics`. Empty: open in
    /// development, closed in production.
    pub metrics_token: String,
    /// Whether `serve` delivers webhooks itself. Off: only `server worker`
    /// processes do (and tests that drive deliveries with their own clock).
    pub webhook_worker: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: Mode::Development,
            allow_remote: false,
            data_dir: PathBuf::from(".data"),
            embedded_fsync: true,
            max_connections: 20,
            max_imports: app::backend::codes::import_slots::DEFAULT_MAX_IMPORTS,
            log_format: LogFormat::Pretty,
            migrate_on_start: true,
            public_url: String::new(),
            mail_from: "Codebook <no-reply@codebook.localhost>".into(),
            smtp_url: String::new(),
            mail_outbox_dir: PathBuf::from(".data/mail"),
            platform_admins: String::new(),
            trusted_proxies: String::new(),
            webhook_allowed_networks: String::new(),
            webhook_allow_http: false,
            metrics_token: String::new(),
            webhook_worker: true,
        }
    }
}

/// The database the server talks to, from the environment.
#[derive(Debug, Clone, Default)]
pub struct DatabaseUrls {
    /// The schema owner's connection, for migrations. Unset: embedded.
    pub owner: Option<String>,
    /// The restricted role's connection. Unset: derived from `owner`.
    pub app: Option<String>,
    /// The delivery workers' role's connection. Unset: derived from `owner`.
    pub worker: Option<String>,
}

impl DatabaseUrls {
    pub fn from_env() -> Self {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Self {
            owner: get("DATABASE_URL"),
            app: get("APP_DATABASE_URL"),
            worker: get("WORKER_DATABASE_URL"),
        }
    }
}

impl Settings {
    /// Refuses settings that would serve an open instance: production needs
    /// its own database, a mail server, its public URL and no e-mail list
    /// of admins (JWT_SECRET is checked where the key is made); development
    /// stays on loopback unless `allow-remote` says otherwise.
    pub fn check_for_serving(&self, urls: &DatabaseUrls, listen: SocketAddr) -> anyhow::Result<()> {
        self.trusted_proxies()?;
        match self.mode {
            Mode::Production => {
                check_production_database(self.mode, urls)?;
                if self.smtp_url.trim().is_empty() {
                    bail!(
                        "Refusing to start: production needs a mail server. Set `smtp-url` \
                         (CODEBOOK_SMTP_URL), e.g. smtps://mail.example.com:465"
                    );
                }
                let public_url = self.public_url.trim();
                if public_url.is_empty() {
                    bail!(
                        "Refusing to start: production needs `public-url` (CODEBOOK_PUBLIC_URL), \
                         the address people reach the app at, e.g. https://codebook.example.com"
                    );
                }
                if !public_url.starts_with("https://") {
                    // Production cookies are `Secure`: over plain HTTP no
                    // browser would keep a session.
                    bail!(
                        "Refusing to start: in production `public-url` must start with https:// \
                         (got `{public_url}`)"
                    );
                }
                if !self.platform_admin_emails().is_empty() {
                    bail!(
                        "Refusing to start: `platform-admins` (CODEBOOK_PLATFORM_ADMINS) is for \
                         development only, as whoever signs up first with such an address would \
                         become admin. Empty it and run `server admin grant <email>` for an \
                         existing account instead."
                    );
                }
            }
            Mode::Development => {
                if !listen.ip().is_loopback() && !self.allow_remote {
                    bail!(
                        "Refusing to start: development mode listens on loopback only, and {listen} \
                         is not. A development instance lets the first sign-up become platform \
                         admin and shows all mail at /dev/mail. Set `mode = \"production\"`, or \
                         `allow-remote = true` (CODEBOOK_ALLOW_REMOTE=true) if you mean it."
                    );
                }
            }
        }
        Ok(())
    }

    /// The `trusted-proxies` setting, parsed.
    pub fn trusted_proxies(&self) -> anyhow::Result<TrustedProxies> {
        TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("Invalid `trusted-proxies` setting: {e}"))
    }

    /// Where webhooks may go: public HTTPS addresses, plus what the
    /// settings allow; development adds loopback over plain HTTP, so a
    /// receiver on the same machine works out of the box.
    pub fn webhook_guard(&self) -> anyhow::Result<Guard> {
        let mut networks = self.webhook_allowed_networks.clone();
        let mut allow_http = self.webhook_allow_http;
        if self.mode == Mode::Development {
            networks.push_str(",127.0.0.0/8,::1");
            allow_http = true;
        }
        let allowed = AllowedNetworks::parse(&networks)
            .map_err(|e| anyhow::anyhow!("Invalid `webhook-allowed-networks` setting: {e}"))?;
        Ok(Guard::new(allowed, allow_http))
    }

    /// The key that seals webhook secrets: `CODEBOOK_WEBHOOK_KEY` (base64 of
    /// 32 random bytes), which production requires; development makes one
    /// in the data folder the first time.
    pub fn webhook_key(&self) -> anyhow::Result<SecretKey> {
        match std::env::var("CODEBOOK_WEBHOOK_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty())
        {
            Some(key) => SecretKey::from_base64(&key).context("Invalid CODEBOOK_WEBHOOK_KEY"),
            None if self.mode == Mode::Production => bail!(
                "Refusing to start: production needs CODEBOOK_WEBHOOK_KEY, the key that seals \
                 webhook secrets (base64 of 32 random bytes: `openssl rand -base64 32`)"
            ),
            None => SecretKey::load_or_create(&self.data_dir.join("webhook.key")),
        }
    }

    /// Webhook sending as these settings configure it.
    pub fn webhooks(&self) -> anyhow::Result<Webhooks> {
        Webhooks::new(self.webhook_key()?, self.webhook_guard()?)
    }

    /// The token `GET /metrics` asks for: none in development when unset;
    /// in production an unset token locks the endpoint.
    pub fn metrics_token(&self) -> Option<String> {
        match (self.mode, self.metrics_token.trim()) {
            (Mode::Development, "") => None,
            (_, token) => Some(token.to_owned()),
        }
    }

    /// The `platform-admins` emails, normalised.
    pub fn platform_admin_emails(&self) -> Vec<String> {
        self.platform_admins
            .split(',')
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty())
            .collect()
    }

    /// SMTP when `smtp-url` is set, else the outbox folder.
    pub fn mailer(&self) -> anyhow::Result<Mailer> {
        if self.smtp_url.trim().is_empty() {
            return Mailer::outbox(&self.mail_outbox_dir, &self.mail_from);
        }
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let smtp = SmtpSettings {
            url: self.smtp_url.clone(),
            username: env("SMTP_USERNAME"),
            password: env("SMTP_PASSWORD"),
        };
        Mailer::smtp(&smtp, &self.mail_from)
    }

    /// Reads `[codebook]` from `path` (if the file exists) and applies the
    /// `CODEBOOK_*` environment overrides.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let file = match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("Failed to read {}", path.display())),
        };
        Self::from_sources(file.as_deref(), |key| std::env::var(key).ok()).with_context(|| {
            format!(
                "Invalid settings in {} or CODEBOOK_* variables",
                path.display()
            )
        })
    }

    fn from_sources(
        file: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let mut table = match toml::Value::try_from(Settings::default())? {
            toml::Value::Table(t) => t,
            _ => unreachable!("settings serialize to a table"),
        };
        if let Some(text) = file {
            let doc: toml::Table = text.parse()?;
            if let Some(toml::Value::Table(section)) = doc.get("codebook") {
                for (k, v) in section {
                    table.insert(k.clone(), v.clone());
                }
            }
        }
        let keys: Vec<String> = table.keys().cloned().collect();
        for key in keys {
            let var = format!("CODEBOOK_{}", key.replace('-', "_").to_uppercase());
            if let Some(raw) = env(&var) {
                table.insert(key, env_value(&raw));
            }
        }
        Ok(toml::Value::Table(table).try_into()?)
    }
}

/// Production never runs on the embedded cluster: it has trust
/// authentication and lives in a local folder.
pub fn check_production_database(mode: Mode, urls: &DatabaseUrls) -> anyhow::Result<()> {
    if mode == Mode::Production && urls.owner.is_none() {
        bail!(
            "Refusing to start: production needs DATABASE_URL (the schema owner's connection); \
             the embedded PostgreSQL cluster is for development only"
        );
    }
    Ok(())
}

/// An environment value as TOML: numbers and booleans as such, anything
/// else as a string.
fn env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_table() && !v.is_array())
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_overrides_the_file() {
        let file = "[codebook]\nmode = \"production\"\nmax-connections = 5\n";
        let s = Settings::from_sources(Some(file), |k| {
            (k == "CODEBOOK_MAX_CONNECTIONS").then(|| "7".to_owned())
        })
        .unwrap();
        assert_eq!(s.mode, Mode::Production);
        assert_eq!(s.max_connections, 7);
        assert_eq!(s.data_dir, PathBuf::from(".data"));
    }

    #[test]
    fn an_unknown_or_malformed_setting_is_an_error() {
        assert!(Settings::from_sources(Some("[codebook]\nnope = 1\n"), |_| None).is_err());
        assert!(
            Settings::from_sources(None, |k| (k == "CODEBOOK_MODE").then(|| "chaos".into()))
                .is_err()
        );
    }

    #[test]
    fn strings_from_the_environment_stay_strings() {
        let s = Settings::from_sources(None, |k| {
            (k == "CODEBOOK_DATA_DIR").then(|| "/tmp/x y".into())
        })
        .unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/tmp/x y"));
    }

    /// cargo-leptos reads Cargo.toml and the server reads Leptos.toml; the
    /// two must agree on where the site is and what it is called.
    #[test]
    fn leptos_toml_agrees_with_the_cargo_leptos_metadata() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let cargo: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
        let leptos: toml::Table = std::fs::read_to_string(root.join("Leptos.toml"))
            .unwrap()
            .parse()
            .unwrap();
        let build = &cargo["workspace"]["metadata"]["leptos"][0];
        let run = &leptos["package"]["metadata"]["leptos"];
        assert_eq!(build["name"], run["output-name"]);
        for key in ["site-root", "site-pkg-dir", "site-addr", "reload-port"] {
            assert_eq!(build[key], run[key], "{key}");
        }
        Settings::from_sources(
            Some(&std::fs::read_to_string(root.join("Leptos.toml")).unwrap()),
            |_| None,
        )
        .expect("Leptos.toml's [codebook] table is valid");
    }
}
