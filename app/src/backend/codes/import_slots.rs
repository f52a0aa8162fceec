//! How many imports one process runs at once: a place is taken before the
//! work starts and given back when it ends, and a caller who finds none is
//! told when to come back.
use crate::backend::Error;

/// Imports one process runs at once unless configured otherwise: each
/// holds its file, every row and the organization's codes in memory, and
/// one long transaction.
pub const DEFAULT_MAX_IMPORTS: usize = 2;
/// How long a refused import is told to wait before trying again.
const BUSY_RETRY_AFTER_SECONDS: u32 = 30;

/// The imports this process may run at once.
#[derive(Clone, Debug)]
pub struct ImportSlots(std::sync::Arc<tokio::sync::Semaphore>);

/// One running import's place; given back when dropped.
pub struct ImportSlot(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

impl ImportSlots {
    pub fn new(at_once: usize) -> Self {
        Self(std::sync::Arc::new(tokio::sync::Semaphore::new(
            at_once.max(1),
        )))
    }

    /// A place for one more import, or a 429 when every one is taken: the
    /// caller is told to come back (`with_retry_after`) rather than queued
    /// with its file in memory.
    pub fn try_take(&self) -> Result<ImportSlot, Error> {
        self.0
            .clone()
            .try_acquire_owned()
            .map(ImportSlot)
            .map_err(|_| {
                Error::RateLimited(format!(
                    "The server is running as many imports as it takes at once. Try again in {BUSY_RETRY_AFTER_SECONDS} seconds."
                ))
            })
    }
}

impl Default for ImportSlots {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_IMPORTS)
    }
}

/// `response`, with `Retry-After` when it is a 429 (every import slot was
/// taken).
pub fn with_retry_after(mut response: axum::response::Response) -> axum::response::Response {
    if response.status() == axum::http::StatusCode::TOO_MANY_REQUESTS {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(BUSY_RETRY_AFTER_SECONDS),
        );
    }
    response
}
