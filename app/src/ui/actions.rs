//! The forms' server actions, and when a page reads its data again.
//!
//! A form's answer usually redirects back to the page it was on, which the
//! router does not load again (the address did not change). So every
//! succeeded action bumps a counter, the data version, which every page
//! resource and the page's flash follow: the page reads its data again and
//! shows what the form did. A change someone else made (`ui::live`) bumps
//! a second counter, which page resources follow unless the page holds
//! what it shows (an editor being typed into). On the server, and while the
//! browser hydrates, both are 0.
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::model::AppError;

#[derive(Clone, Copy)]
struct DataVersion(RwSignal<u64>);

#[derive(Clone, Copy)]
struct LiveVersion(RwSignal<u64>);

/// Provides the data versions to the whole app.
pub fn provide_data_version() {
    provide_context(DataVersion(RwSignal::new(0)));
    provide_context(LiveVersion(RwSignal::new(0)));
}

/// The data version, followed (0 outside the app).
pub fn data_version() -> u64 {
    use_context::<DataVersion>().map_or(0, |version| version.0.get())
}

/// The version of others' changes, followed (0 outside the app).
pub fn live_version() -> u64 {
    use_context::<LiveVersion>().map_or(0, |version| version.0.get())
}

/// What to bump when someone changed the organization's data, so pages
/// read theirs again (for the listener, which runs outside any page).
pub fn live_version_counter() -> Option<RwSignal<u64>> {
    use_context::<LiveVersion>().map(|version| version.0)
}

/// A form's server action: `ActionForm` posts it from the running app, and
/// without JavaScript the same form posts and the server redirects.
///
/// Once it succeeded the data version is bumped, two animation frames
/// later (the router follows the answer's redirect in the first), unless
/// the answer led to another page: that page loads its own data, and the
/// one left behind must not start loading again while it goes. A refusal
/// changed nothing: the page keeps the form and its error.
pub fn form_action<S>() -> ServerAction<S>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    let action = ServerAction::<S>::new();
    let data = use_context::<DataVersion>();
    // Taken once: the action's own getters fail once a page drawn again
    // has disposed it, while its answer is still coming in.
    let (answered, answer) = (action.version(), action.value());
    Effect::watch(
        move || answered.get(),
        move |_, _, _| {
            let succeeded = answer.with_untracked(|answer| matches!(answer, Some(Ok(_))));
            if let (true, Some(data)) = (succeeded, data) {
                let answered_on = current_path();
                after_the_redirect(move || {
                    if current_path() == answered_on {
                        data.0.update(|n| *n += 1);
                    }
                });
            }
        },
        false,
    );
    action
}

fn after_the_redirect(then: impl FnOnce() + 'static) {
    request_animation_frame(move || request_animation_frame(then));
}

/// The path the browser shows (none on the server, where actions do not
/// answer).
fn current_path() -> Option<String> {
    #[cfg(feature = "hydrate")]
    return window().location().pathname().ok();
    #[cfg(not(feature = "hydrate"))]
    None
}
