//! What sending webhooks needs, made once per process.
use super::delivery;
use super::secrets::SecretKey;
use super::ssrf::{AllowedNetworks, Guard};

/// What sending webhooks needs, shared by requests (test sends, URL checks)
/// and workers: the key that seals secrets, the SSRF guard, and one HTTP
/// client whose resolver is that guard.
#[derive(Clone)]
pub struct Webhooks {
    pub key: SecretKey,
    pub guard: Guard,
    pub client: reqwest::Client,
}

impl Webhooks {
    pub fn new(key: SecretKey, guard: Guard) -> anyhow::Result<Self> {
        let client = guard
            .client_builder()
            .user_agent(delivery::USER_AGENT_VALUE)
            .connect_timeout(std::time::Duration::from_secs(10))
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(Self { key, guard, client })
    }

    /// Strict and forgetful: public HTTPS addresses only, and a key that
    /// dies with the process. What a state gets until the server configures
    /// its own.
    pub fn strict_ephemeral() -> Self {
        Self::new(
            SecretKey::ephemeral(),
            Guard::new(AllowedNetworks::default(), false),
        )
        .expect("a default HTTP client builds")
    }
}
