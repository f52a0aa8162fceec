//! What this process hears of changes: one listening connection on the
//! `codebook_live` channel, handed to every open stream through a
//! broadcast channel.
use crate::model::OrgId;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::{broadcast, watch};

use crate::model::live::LiveChange;

/// The PostgreSQL channel the outbox trigger notifies.
pub const CHANNEL: &str = "codebook_live";
/// Notifications a slow stream may fall behind by before it is told to
/// resync; 64 bytes each.
const BUFFERED: usize = 4096;

/// What the listener hears: one organization's change, or (no
/// organization) that changes may have been missed.
#[derive(Debug, Clone)]
pub struct Heard {
    pub(super) org: Option<OrgId>,
    pub(super) change: Option<LiveChange>,
}

/// The process's broadcast of what its listener hears, and the word that
/// the process is stopping (open streams end then, or a graceful shutdown
/// would wait for them forever).
#[derive(Clone)]
pub struct LiveFeed {
    pub(super) heard: broadcast::Sender<Arc<Heard>>,
    pub(super) closing: watch::Sender<bool>,
}

impl Default for LiveFeed {
    fn default() -> Self {
        LiveFeed {
            heard: broadcast::channel(BUFFERED).0,
            closing: watch::channel(false).0,
        }
    }
}

impl LiveFeed {
    /// Ends every open stream; browsers reconnect to another process.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    fn publish(&self, heard: Heard) {
        // No open stream is no error.
        let _ = self.heard.send(Arc::new(heard));
    }
}

/// A notification's payload, as the trigger writes it.
#[derive(Deserialize)]
struct Notification {
    org: OrgId,
    #[serde(flatten)]
    change: LiveChange,
}

/// Listens for changes until the process ends, reconnecting after a lost
/// connection (and telling every stream to resync, as notifications sent
/// meanwhile are lost).
pub async fn listen(pool: PgPool, feed: LiveFeed) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match listen_once(&pool, &feed).await {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(%error, "live changes: listening failed; reconnecting");
                feed.publish(Heard {
                    org: None,
                    change: None,
                });
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn listen_once(pool: &PgPool, feed: &LiveFeed) -> sqlx::Result<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    // A lost connection is an error here, not a silent reconnect, so the
    // streams hear that they may have missed changes.
    listener.ignore_pool_close_event(false);
    listener.listen(CHANNEL).await?;
    loop {
        let Some(notification) = listener.try_recv().await? else {
            return Err(sqlx::Error::PoolClosed);
        };
        match serde_json::from_str::<Notification>(notification.payload()) {
            Ok(n) => feed.publish(Heard {
                org: Some(n.org),
                change: Some(n.change),
            }),
            Err(error) => tracing::error!(%error, "live changes: unreadable notification"),
        }
    }
}
