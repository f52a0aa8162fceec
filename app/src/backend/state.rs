use sqlx::PgPool;

use super::jwt::JwtKeys;
use super::mail::Mailer;
use super::passwords::PasswordHasher;

/// Whether this instance runs for development (the embedded default) or in
/// production. It decides cookie `Secure` and who becomes platform admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Development,
    Production,
}

/// What every request handler and server function shares.
#[derive(Clone)]
pub struct AppState {
    /// Connected as the restricted application role.
    pub pool: PgPool,
    pub mode: Mode,
    pub passwords: PasswordHasher,
    pub mailer: Mailer,
    /// The address people reach the app at, for links in mail.
    pub public_url: String,
    pub jwt: JwtKeys,
    /// Emails that become platform admins when they sign up.
    pub platform_admins: Vec<String>,
}

impl AppState {
    pub fn new(pool: PgPool, mode: Mode, mailer: Mailer, public_url: String, jwt: JwtKeys) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            pool,
            mode,
            passwords: PasswordHasher::new(cores),
            mailer,
            public_url: public_url.trim_end_matches('/').to_owned(),
            jwt,
            platform_admins: Vec::new(),
        }
    }

    pub fn with_platform_admins(mut self, emails: Vec<String>) -> Self {
        self.platform_admins = emails;
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
