use std::ops::Deref;
use std::sync::Arc;

use sqlx::PgPool;

use super::api_keys::KeyGate;
use super::jwt::JwtKeys;
use super::mail::Mailer;
use super::mode::Mode;
use super::passwords::PasswordHasher;
use super::request::TrustedProxies;
use super::webhooks::secrets::SecretKey;
use super::webhooks::Webhooks;

/// What every request handler and server function shares: a handle,
/// cloned for every request (by axum, and into each page's context), so a
/// clone is one reference count, not a copy of the settings.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What an `AppState` holds.
#[derive(Clone)]
pub struct Shared {
    /// Connected as the restricted application role.
    pub pool: PgPool,
    pub mode: Mode,
    pub passwords: PasswordHasher,
    pub mailer: Mailer,
    /// The address people reach the app at, for links in mail.
    pub public_url: String,
    pub jwt: JwtKeys,
    /// Emails that become platform admins when they sign up (development
    /// only: production refuses to start with any).
    pub platform_admins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// The key that seals webhook secrets, the SSRF guard and the client
    /// that sends. Strict with a process-long key until the server sets
    /// the instance's own (`with_webhooks`).
    pub webhooks: Webhooks,
    /// Seals flash cookies: derived from the webhook key, so the instance
    /// has one key to keep, and what one seals never opens as the other's.
    pub flash_key: SecretKey,
    /// API keys presented to this process: their leases and usage.
    pub api_keys: KeyGate,
    /// Changes heard from the database, for open pages (`/events`).
    pub live: super::live::LiveFeed,
    /// The imports this process runs at once.
    pub imports: super::codes::import_slots::ImportSlots,
}

fn flash_key_of(webhooks: &Webhooks) -> SecretKey {
    webhooks.key.derive("codebook flash cookie v1")
}

impl AppState {
    pub fn new(pool: PgPool, mode: Mode, mailer: Mailer, public_url: String, jwt: JwtKeys) -> Self {
        // Half the cores: the other half always has requests to serve.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let webhooks = Webhooks::strict_ephemeral();
        Self(Arc::new(Shared {
            pool,
            mode,
            passwords: PasswordHasher::new(cores / 2),
            mailer,
            public_url: public_url.trim_end_matches('/').to_owned(),
            jwt,
            platform_admins: Vec::new(),
            trusted_proxies: TrustedProxies::default(),
            flash_key: flash_key_of(&webhooks),
            webhooks,
            api_keys: KeyGate::default(),
            live: Default::default(),
            imports: Default::default(),
        }))
    }

    /// The settings, to change while the state is being set up (before a
    /// server shares it; a clone made earlier keeps its own copy).
    fn shared_mut(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.0)
    }

    pub fn with_platform_admins(mut self, emails: Vec<String>) -> Self {
        self.shared_mut().platform_admins = emails;
        self
    }

    pub fn with_trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.shared_mut().trusted_proxies = proxies;
        self
    }

    pub fn with_max_imports(mut self, at_once: usize) -> Self {
        self.shared_mut().imports = super::codes::import_slots::ImportSlots::new(at_once);
        self
    }

    pub fn with_webhooks(mut self, webhooks: Webhooks) -> Self {
        let shared = self.shared_mut();
        shared.flash_key = flash_key_of(&webhooks);
        shared.webhooks = webhooks;
        self
    }

    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    /// Cookies are `Secure` everywhere but a development instance, which is
    /// served over plain HTTP on localhost.
    pub fn secure_cookies(&self) -> bool {
        self.mode == Mode::Production
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
