//! `/webhooks/:id`: one endpoint. Its state and health; for managers the
//! controls (send a test event, rotate the secret, enable or disable); the
//! delivery log (`log.rs`); the settings form; and delete.
//!
//! Every form here is a plain one whose answer is a redirect: back here
//! (a rotated secret shows once, in a dialog), to the test event's delivery
//! page, or after delete to the list.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::fields::{EndpointFields, Settings};
use super::log::{DeliveryLog, ReplayFailedForm};
use crate::ui::secret::SecretDialog;

const ROTATED_NOTE: &str =
    "The previous secret keeps signing for 24 hours, so receivers can switch over.";
use super::{health_text, load_error, parse_id, EnabledBadge};
use crate::api::webhooks::{
    get_webhook, list_deliveries, DeleteWebhook, ReplayFailed, RotateWebhookSecret,
    SendTestWebhook, SetWebhookEnabled, UpdateWebhook,
};
use crate::model::webhooks::{DeliveryFilter, EndpointOut};
use crate::model::{AppError, Permission};
use crate::ui::actions::form_action;
use crate::ui::codes::Viewer;
use crate::ui::components::{action_error, DateTime, FormError, SubmitButton};
use crate::ui::resource::page_resource;

/// Every change this page can make.
#[derive(Clone, Copy)]
pub(super) struct EndpointActions {
    pub update: ServerAction<UpdateWebhook>,
    pub enable: ServerAction<SetWebhookEnabled>,
    pub rotate: ServerAction<RotateWebhookSecret>,
    pub test: ServerAction<SendTestWebhook>,
    pub replay_failed: ServerAction<ReplayFailed>,
    pub delete: ServerAction<DeleteWebhook>,
}

impl EndpointActions {
    fn new() -> Self {
        EndpointActions {
            update: form_action(),
            enable: form_action(),
            rotate: form_action(),
            test: form_action(),
            replay_failed: form_action(),
            delete: form_action(),
        }
    }
}

/// The log's filter, from the page's query string (`?status=dead&before=…`).
fn filter_from_query(get: impl Fn(&str) -> Option<String>) -> DeliveryFilter {
    let text = |name: &str| {
        get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    DeliveryFilter {
        status: text("status"),
        before: text("before"),
    }
}

#[component]
pub fn WebhookPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = Memo::new(move |_| parse_id(params.read().get("id")));
    let filter = Memo::new(move |_| filter_from_query(|name| query.read().get(name)));
    let actions = EndpointActions::new();
    let endpoint = page_resource(move || id.get(), |id| async move { get_webhook(id?).await });
    let deliveries = page_resource(
        move || (id.get(), filter.get()),
        |(id, filter)| async move { list_deliveries(id?, filter).await },
    );
    // Three parts, each waiting for what it shows: the endpoint above and
    // below, the log (which a filter reloads alone) in between.
    view! {
        <Title text="Webhook endpoint · Codebook"/>
        <main class="page">
            <p><a href="/webhooks">"← All webhooks"</a></p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let viewer = Viewer::load().await;
                    match endpoint.await {
                        Ok(endpoint) => view! { <EndpointHeader endpoint viewer actions/> }.into_any(),
                        Err(e) => load_error(e),
                    }
                })}
            </Transition>
            <Transition fallback=|| ()>
                {move || {
                    // Read before waiting: the page may be gone after.
                    let (filter, id) = (filter.get_untracked(), id.get_untracked());
                    Suspend::new(async move {
                    let viewer = Viewer::load().await;
                    match (id, deliveries.await) {
                        (Ok(id), Ok(page)) => view! {
                            <DeliveryLog endpoint_id=id page filter/>
                            {viewer.can(Permission::ManageWebhooks).then(|| view! { <ReplayFailedForm endpoint_id=id action=actions.replay_failed/> })}
                        }
                            .into_any(),
                        // The endpoint's part has said it is not there.
                        (Err(_), _) | (_, Err(AppError { code: crate::model::ErrorCode::NotFound, .. })) => ().into_any(),
                        (_, Err(e)) => view! { <div class="form-error" role="alert">{e.message}</div> }.into_any(),
                    }
                })}}
            </Transition>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let viewer = Viewer::load().await;
                    let manage = viewer.can(Permission::ManageWebhooks);
                    match endpoint.await {
                        Ok(endpoint) if manage => view! { <SettingsForm endpoint=endpoint.clone() actions/> <DeleteForm endpoint actions/> }.into_any(),
                        _ => ().into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

/// The endpoint's heading, state and health, and the controls.
#[component]
fn EndpointHeader(
    endpoint: EndpointOut,
    viewer: Viewer,
    actions: EndpointActions,
) -> impl IntoView {
    let events = if endpoint.event_types.is_empty() {
        "All events".to_owned()
    } else {
        endpoint.event_types.join(", ")
    };
    let waiting = endpoint.health.waiting;
    let description = (!endpoint.description.is_empty()).then(|| endpoint.description.clone());
    view! {
        <h1 class="webhook-url">{endpoint.url.clone()}</h1>
        {description.map(|d| view! { <p class="lead">{d}</p> })}
        <dl class="values" data-testid="endpoint-summary">
            <dt>"Status"</dt>
            <dd><EnabledBadge endpoint=endpoint.clone()/></dd>
            <dt>"Health"</dt>
            <dd>
                {health_text(&endpoint.health)}
                {(waiting > 0).then(|| format!(" · {waiting} waiting"))}
            </dd>
            {endpoint.failing_since.map(|at| view! { <dt>"Failing since"</dt><dd><DateTime at/></dd> })}
            <dt>"Events"</dt>
            <dd>{events}</dd>
            <dt>"Timeout"</dt>
            <dd>{format!("{} s", endpoint.timeout_seconds)}</dd>
            <dt>"Max retries"</dt>
            <dd>{endpoint.max_retries}</dd>
            <dt>"Requests at once"</dt>
            <dd>{endpoint.max_in_flight}</dd>
            {endpoint.previous_secret_expires_at.map(|at| view! {
                <dt>"Previous secret"</dt>
                <dd>"Also signs until " <DateTime at/></dd>
            })}
            <dt>"Created"</dt>
            <dd><DateTime at=endpoint.created_at/></dd>
        </dl>
        {viewer.can(Permission::ManageWebhooks).then(|| view! {
            <Controls endpoint=endpoint.clone() actions/>
            <SecretDialog title="Signing secret" note=ROTATED_NOTE/>
        })}
    }
}

/// Send a test event, rotate the secret, enable or disable.
#[component]
fn Controls(endpoint: EndpointOut, actions: EndpointActions) -> impl IntoView {
    let id = endpoint.id.to_string();
    let (test_id, rotate_id) = (id.clone(), id.clone());
    let (enable_label, enable_to) = if endpoint.enabled {
        ("Disable endpoint", false)
    } else {
        ("Enable endpoint", true)
    };
    view! {
        <section aria-labelledby="controls-heading" class="panel">
            <h2 id="controls-heading">"Controls"</h2>
            <FormError error=action_error(actions.test)/>
            <FormError error=action_error(actions.rotate)/>
            <FormError error=action_error(actions.enable)/>
            <div class="toolbar">
                <ActionForm action=actions.test attr:class="inline">
                    <input type="hidden" name="id" value=test_id/>
                    <SubmitButton label="Send test event" pending_label="Sending…" pending=actions.test.pending()/>
                </ActionForm>
                <ActionForm action=actions.rotate attr:class="inline">
                    <input type="hidden" name="id" value=rotate_id/>
                    <button type="submit">"Rotate secret"</button>
                </ActionForm>
                <ActionForm action=actions.enable attr:class="inline">
                    <input type="hidden" name="id" value=id/>
                    <input type="hidden" name="enabled" value=enable_to.to_string()/>
                    <button type="submit">{enable_label}</button>
                </ActionForm>
            </div>
            <p class="field-hint">
                "A test event is a webhook.test sent now, once, whatever events the endpoint takes. "
                "A rotated secret is shown once; the previous one keeps signing for 24 hours. "
                "Events that happen while the endpoint is disabled are logged as skipped, to replay later."
            </p>
        </section>
    }
}

#[component]
fn SettingsForm(endpoint: EndpointOut, actions: EndpointActions) -> impl IntoView {
    let error = action_error(actions.update);
    let values = Settings::typed_or(|| Settings::from(&endpoint));
    view! {
        <section aria-labelledby="settings-heading" class="panel">
            <h2 id="settings-heading">"Settings"</h2>
            <ActionForm action=actions.update attr:class="stack">
                <input type="hidden" name="id" value=endpoint.id.to_string()/>
                <FormError error/>
                <EndpointFields prefix="edit-webhook" values error/>
                <SubmitButton label="Save settings" pending_label="Saving…" pending=actions.update.pending()/>
            </ActionForm>
        </section>
    }
}

/// Delete behind a confirmation that works with and without JavaScript: a
/// disclosure, then a checkbox that must be ticked.
#[component]
fn DeleteForm(endpoint: EndpointOut, actions: EndpointActions) -> impl IntoView {
    let error = action_error(actions.delete);
    view! {
        <section class="danger-zone" aria-labelledby="delete-webhook-heading">
            <h2 id="delete-webhook-heading">"Delete this endpoint"</h2>
            <p>"Its delivery log goes with it, and it receives nothing more."</p>
            <details>
                <summary>"Delete endpoint…"</summary>
                <ActionForm action=actions.delete attr:class="stack">
                    <FormError error/>
                    <input type="hidden" name="id" value=endpoint.id.to_string()/>
                    <div class="field checkbox">
                        // No name: the server needs only the id; the browser
                        // refuses to send the form while it is unticked.
                        <input id="confirm-delete-webhook" type="checkbox" required/>
                        <label for="confirm-delete-webhook">"Yes, delete this endpoint and its log"</label>
                    </div>
                    <button type="submit" class="danger">"Delete endpoint"</button>
                </ActionForm>
            </details>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_log_filter_comes_from_the_query_string() {
        let filter = filter_from_query(query(&[("status", "dead"), ("before", "17_x")]));
        assert_eq!(filter.status.as_deref(), Some("dead"));
        assert_eq!(filter.before.as_deref(), Some("17_x"));
    }

    #[test]
    fn blank_filters_mean_the_whole_log() {
        let filter = filter_from_query(query(&[("status", ""), ("before", "  ")]));
        assert_eq!(filter, DeliveryFilter::default());
    }
}
