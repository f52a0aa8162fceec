//! Live changes for open pages: `GET /events`, a stream of server-sent
//! events of the caller's organization.
//!
//! Every statement that writes outbox events notifies the channel
//! `codebook_live` at commit (migration `live_changes`). Each app process
//! listens on one connection (`listen`) and hands what it hears to a
//! broadcast channel (`LiveFeed`); each open stream keeps what belongs to
//! its caller's organization and what the caller's role may read. A stream
//! that fell behind, or a process that lost its listening connection, tells
//! its pages to read their data again (`resync`) rather than pretend.
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
use futures_util::stream::{self, Stream};
use futures_util::StreamExt as _;
use serde::Deserialize;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use super::{AppState, Grant, OrgContext, Result};
use crate::model::live::{LiveChange, CHANGE_EVENT, RESYNC_EVENT};
use crate::model::Permission;

/// The PostgreSQL channel the outbox trigger notifies.
pub const CHANNEL: &str = "codebook_live";
/// Notifications a slow stream may fall behind by before it is told to
/// resync; 64 bytes each.
const BUFFERED: usize = 4096;
/// Events a reconnecting page may replay; past that it resyncs.
const REPLAY_LIMIT: i64 = 200;
/// How often an idle stream says it is alive, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long one stream lasts. The caller is checked when a stream opens;
/// ending it now and then makes the browser reconnect (replaying what it
/// missed), so a removed member or a revoked session stops hearing soon.
const STREAM_LIFETIME: Duration = Duration::from_secs(300);

/// What the listener hears: one organization's change, or (no
/// organization) that changes may have been missed.
#[derive(Debug, Clone)]
pub struct Heard {
    org: Option<Uuid>,
    change: Option<LiveChange>,
}

/// The process's broadcast of what its listener hears, and the word that
/// the process is stopping (open streams end then, or a graceful shutdown
/// would wait for them forever).
#[derive(Clone)]
pub struct LiveFeed {
    heard: broadcast::Sender<Arc<Heard>>,
    closing: watch::Sender<bool>,
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
    org: Uuid,
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

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    AppState: FromRef<S>,
{
    Router::new().route("/events", get(events))
}

/// Whether the caller may hear of an event of this type: what they could
/// read anyway.
fn may_hear(grant: &Grant, change: &LiveChange) -> bool {
    let needed = match change.area() {
        None | Some("code" | "comment") => Permission::ReadCodes,
        Some("member") => Permission::ReadMembers,
        Some("webhook") => Permission::ReadWebhooks,
        Some(_) => Permission::ReadAudit,
    };
    grant.can(needed)
}

async fn events(
    ctx: OrgContext,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = std::result::Result<Event, Infallible>>>> {
    ctx.require(Permission::ReadCodes).await?;
    // Subscribed before the replay is read, so nothing falls between them.
    let receiver = state.live.heard.subscribe();
    let closing = state.live.closing.subscribe();
    let replay = match last_event_id(&headers) {
        Some(seen) => replay_after(&ctx, &state.pool, seen).await?,
        None => Vec::new(),
    };
    let org = ctx.org_id;
    let grant = ctx.grant.clone();
    let ends = tokio::time::Instant::now() + STREAM_LIFETIME;
    let live = stream::unfold((receiver, closing), move |(mut receiver, mut closing)| {
        let grant = grant.clone();
        async move {
            let event = tokio::select! {
                event = next_event(&mut receiver, &mut closing, org, &grant) => event?,
                _ = tokio::time::sleep_until(ends) => return None,
            };
            Some((event, (receiver, closing)))
        }
    });
    let stream = stream::iter(replay).chain(live).map(Ok);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// The next event for a stream of `org`'s changes; none once the process
/// is stopping.
async fn next_event(
    receiver: &mut broadcast::Receiver<Arc<Heard>>,
    closing: &mut watch::Receiver<bool>,
    org: Uuid,
    grant: &Grant,
) -> Option<Event> {
    loop {
        let heard = tokio::select! {
            heard = receiver.recv() => heard,
            _ = closing.wait_for(|closing| *closing) => return None,
        };
        match heard {
            Ok(heard) => match (&heard.org, &heard.change) {
                (Some(o), Some(change)) if *o == org && may_hear(grant, change) => {
                    return Some(change_event(change));
                }
                (None, _) => return Some(resync_event()),
                _ => {}
            },
            Err(broadcast::error::RecvError::Lagged(_)) => return Some(resync_event()),
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers
        .get("last-event-id")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|seq: &i64| *seq >= 0)
}

fn change_event(change: &LiveChange) -> Event {
    Event::default()
        .event(CHANGE_EVENT)
        .id(change.seq.to_string())
        .json_data(change)
        .unwrap_or_else(|_| resync_event())
}

fn resync_event() -> Event {
    Event::default().event(RESYNC_EVENT).data("")
}

/// The organization's events after `seen`, one by one, as the caller may
/// hear them; a resync when there are more than a page should replay.
async fn replay_after(ctx: &OrgContext, pool: &PgPool, seen: i64) -> Result<Vec<Event>> {
    let mut tx = ctx.begin(pool).await?;
    let rows: Vec<(i64, String, Option<String>, Option<String>)> = sqlx::query_as(
        "select live_seq, event_type, payload -> 'data' ->> 'id', payload -> 'data' ->> 'version'
         from outbox
         where organization_id = $1 and live_seq > $2
         order by live_seq
         limit $3",
    )
    .bind(ctx.org_id)
    .bind(seen)
    .bind(REPLAY_LIMIT + 1)
    .fetch_all(tx.conn())
    .await?;
    tx.commit().await?;
    if rows.len() as i64 > REPLAY_LIMIT {
        return Ok(vec![resync_event()]);
    }
    Ok(rows
        .into_iter()
        .map(|(seq, event_type, resource_id, version)| {
            let is_code = event_type.starts_with("code.");
            LiveChange {
                seq,
                code_id: resource_id
                    .filter(|_| is_code)
                    .and_then(|id| id.parse().ok()),
                version: version.and_then(|v| v.parse().ok()),
                event_type: Some(event_type),
                by: None,
                count: 1,
            }
        })
        .filter(|change| may_hear(&ctx.grant, change))
        .map(|change| change_event(&change))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;

    fn change(event_type: &str) -> LiveChange {
        LiveChange {
            seq: 7,
            event_type: Some(event_type.to_owned()),
            code_id: None,
            version: None,
            by: None,
            count: 1,
        }
    }

    #[test]
    fn a_viewer_hears_of_codes_and_members_but_not_of_the_audit_log() {
        let viewer = Grant::Role(Role::Viewer);
        assert!(may_hear(&viewer, &change("code.updated")));
        assert!(may_hear(&viewer, &change("member.joined")));
        assert!(!may_hear(&viewer, &change("audit.logged")));
        assert!(may_hear(&Grant::Role(Role::Owner), &change("audit.logged")));
    }

    #[test]
    fn the_last_event_id_is_a_sequence_number_or_nothing() {
        let mut headers = HeaderMap::new();
        assert_eq!(last_event_id(&headers), None);
        headers.insert("last-event-id", "42".parse().unwrap());
        assert_eq!(last_event_id(&headers), Some(42));
        headers.insert("last-event-id", "-1".parse().unwrap());
        assert_eq!(last_event_id(&headers), None);
        headers.insert("last-event-id", "abc".parse().unwrap());
        assert_eq!(last_event_id(&headers), None);
    }
}
