//! Others' changes, as they happen: the signed-in layout opens one
//! `EventSource` on `/events` (the browser reconnects it by itself, sending
//! the last event's id, and the server replays what was missed). Each
//! change makes the pages read their data again (`ui::actions`); a page
//! that holds what someone is typing reads `last_change` instead and says
//! what changed.
use leptos::prelude::*;

use crate::model::live::LiveChange;

#[derive(Clone, Copy)]
struct LastChange(RwSignal<Option<LiveChange>>);

/// Listens for the organization's changes while the signed-in pages are
/// shown (in the browser only).
pub fn listen_for_changes() {
    let last = RwSignal::new(None);
    provide_context(LastChange(last));
    #[cfg(feature = "hydrate")]
    browser::listen(last);
}

/// The last change someone made, followed.
pub fn last_change() -> Option<LiveChange> {
    use_context::<LastChange>().and_then(|last| last.0.get())
}

#[cfg(feature = "hydrate")]
mod browser {
    use futures_util::stream::{select, StreamExt as _};
    use gloo_net::eventsource::futures::EventSource;
    use leptos::prelude::*;

    use crate::model::live::{LiveChange, CHANGE_EVENT, RESYNC_EVENT};
    use crate::ui::actions::live_version_counter;

    /// How long after a change the pages read their data again, gathering
    /// the changes that come meanwhile.
    const RELOAD_PAUSE: std::time::Duration = std::time::Duration::from_millis(150);

    pub(super) fn listen(last: RwSignal<Option<LiveChange>>) {
        let Ok(mut source) = EventSource::new("/events") else {
            return;
        };
        let (Ok(changes), Ok(resyncs)) = (
            source.subscribe(CHANGE_EVENT),
            source.subscribe(RESYNC_EVENT),
        ) else {
            return;
        };
        let counter = live_version_counter();
        let reload_due = std::rc::Rc::new(std::cell::Cell::new(false));
        leptos::task::spawn_local(async move {
            let mut events = select(changes, resyncs);
            // The browser reconnects by itself after a lost connection (the
            // server replays what was missed); an error here means it gave
            // up, or the layout closed the source.
            while let Some(Ok((name, message))) = events.next().await {
                let change = (name == CHANGE_EVENT)
                    .then(|| message.data().as_string())
                    .flatten()
                    .and_then(|data| serde_json::from_str::<LiveChange>(&data).ok());
                // Signals of pages gone refuse the value: the loop ends.
                if change.is_some() && last.try_set(change).is_some() {
                    break;
                }
                // One edit is several events (the code's, the audit
                // entry's), and a busy organization sends many a second:
                // pages read again once per burst, not once per event.
                let Some(counter) = counter else { continue };
                if !reload_due.replace(true) {
                    let reload_due = reload_due.clone();
                    set_timeout(
                        move || {
                            reload_due.set(false);
                            counter.try_update(|n| *n += 1);
                        },
                        RELOAD_PAUSE,
                    );
                }
            }
        });
        // The stream ends with the signed-in pages (log out).
        let source = send_wrapper::SendWrapper::new(source);
        on_cleanup(move || drop(source));
    }
}
