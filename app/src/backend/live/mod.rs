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
use crate::model::OrgId;
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
use sqlx::PgPool;
use tokio::sync::{broadcast, watch};

mod feed;
pub use feed::{listen, Heard, LiveFeed, CHANNEL};

use crate::backend::{AppState, Grant, OrgContext, Result};
use crate::model::live::{LiveChange, CHANGE_EVENT, RESYNC_EVENT};
use crate::model::Permission;

/// Events a reconnecting page may replay; past that it resyncs.
const REPLAY_LIMIT: i64 = 200;
/// How often an idle stream says it is alive, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long one stream lasts. The caller is checked when a stream opens;
/// ending it now and then makes the browser reconnect (replaying what it
/// missed), so a removed member or a revoked session stops hearing soon.
const STREAM_LIFETIME: Duration = Duration::from_secs(300);

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
    org: OrgId,
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
