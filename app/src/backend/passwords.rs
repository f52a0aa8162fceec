//! Argon2id password hashing, off the async runtime and bounded: hashes run
//! on a few threads of their own, at low CPU priority, so a flood of
//! log-ins queues here and takes the CPU only when requests leave it idle
//! (measured by `server bench load`: the list's p99 with 100 people
//! logging in at once).
use anyhow::Context as _;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

use super::{Error, Result};
use crate::model::accounts::{Password, MAX_PASSWORD_LEN};

/// Nice 10: the scheduler gives this thread a tenth of the share of a
/// request's thread when both want the CPU. (On Linux a thread has its own
/// nice value; elsewhere hashes run at normal priority.)
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its arguments; `0` is this thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

/// OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19_456;
const PASSES: u32 = 2;
const LANES: u32 = 1;
/// How long a request waits for a hashing slot before it is turned away.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// A hash or verification to run on a password thread.
type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct PasswordHasher {
    slots: Arc<Semaphore>,
    jobs: std::sync::mpsc::Sender<Job>,
    /// Verified against when the account does not exist, so the answer
    /// takes as long as for a real account.
    dummy_hash: Arc<String>,
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes on this thread, blocking it (seeding a benchmark); requests go
/// through [`PasswordHasher`], which bounds how many run at once.
pub fn hash_now(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("Failed to hash password")?
        .to_string())
}

fn verify_now(password: &str, hash: &str) -> anyhow::Result<bool> {
    let parsed = PasswordHash::new(hash)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("Stored password hash is malformed")?;
    Ok(argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// Refuses a password longer than any we accept, before it costs a hashing
/// slot: every path that hashes or verifies (log-in, the current password
/// of a change, the REST token endpoint) goes through here.
fn refuse_oversized(password: &str) -> Result<()> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(Error::Validation {
            field: Some("password".into()),
            message: format!("Use at most {MAX_PASSWORD_LEN} bytes."),
        });
    }
    Ok(())
}

impl PasswordHasher {
    /// `threads` password threads (at least one); a request waits at most
    /// [`QUEUE_TIMEOUT`] for one.
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for n in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("password-{n}"))
                .spawn(move || {
                    lower_this_threads_priority();
                    // Ends when every hasher (and so every sender) is gone.
                    loop {
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => break,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                })
                .expect("a password thread starts");
        }
        Self {
            slots: Arc::new(Semaphore::new(threads)),
            jobs,
            dummy_hash: Arc::new(hash_now("codebook-dummy-password").expect("hashing works")),
        }
    }

    async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T> {
        let _slot = tokio::time::timeout(QUEUE_TIMEOUT, self.slots.acquire())
            .await
            .map_err(|_| {
                Error::RateLimited(
                    "The server is busy signing people in. Try again in a moment.".into(),
                )
            })?
            .context("Password hasher was shut down")?;
        let span = tracing::Span::current();
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = done.send(span.in_scope(work));
            }))
            .map_err(|_| Error::Internal(anyhow::anyhow!("the password threads are gone")))?;
        result
            .await
            .context("Password hashing task failed")?
            .map_err(Error::Internal)
    }

    pub async fn hash(&self, password: &Password) -> Result<String> {
        refuse_oversized(password.expose())?;
        let password = password.expose().to_owned();
        self.run_blocking(move || hash_now(&password)).await
    }

    /// Checks `password` against `hash`, or against a dummy hash when there
    /// is no account, so both cases cost the same.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool> {
        refuse_oversized(password)?;
        let known = hash.is_some();
        let hash = hash
            .map(str::to_owned)
            .unwrap_or_else(|| self.dummy_hash.as_ref().clone());
        let password = password.to_owned();
        let matches = self
            .run_blocking(move || verify_now(&password, &hash))
            .await?;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_the_required_cost() {
        let hash = hash_now("correct horse battery").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_now("correct horse battery", &hash).unwrap());
        assert!(!verify_now("wrong horse battery", &hash).unwrap());
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies_even_with_the_dummy_password() {
        let hasher = PasswordHasher::new(1);
        assert!(!hasher
            .verify("codebook-dummy-password", None)
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn an_oversized_password_is_refused_before_hashing() {
        let hasher = PasswordHasher::new(1);
        let long = "x".repeat(MAX_PASSWORD_LEN + 1);
        let hash = hash_now("correct horse battery").unwrap();
        for known in [Some(hash.as_str()), None] {
            match hasher.verify(&long, known).await {
                Err(Error::Validation { field, .. }) => {
                    assert_eq!(field.as_deref(), Some("password"))
                }
                other => panic!("expected a validation error, got {other:?}"),
            }
        }
        assert!(hasher
            .verify(&"x".repeat(MAX_PASSWORD_LEN), None)
            .await
            .is_ok());
    }
}
