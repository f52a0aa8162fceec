//! `/webhooks`: the organization's endpoints with their health at a
//! glance, and "Add endpoint" for those who may manage them. A new
//! endpoint's secret shows once, in a dialog on the page the form leads
//! back to.
use leptos::prelude::*;
use leptos_meta::Title;

use super::fields::{EndpointFields, Settings};
use crate::ui::secret::SecretDialog;

const NEW_NOTE: &str = "Receivers check the webhook-signature header of each request with it.";
use super::{health_text, EnabledBadge};
use crate::api::webhooks::{list_webhooks, CreateWebhook};
use crate::model::webhooks::EndpointOut;
use crate::model::Permission;
use crate::ui::actions::form_action;
use crate::ui::codes::Viewer;
use crate::ui::components::{action_error, DataTable, FormError, Loaded, SubmitButton};
use crate::ui::resource::page_resource;

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let create = form_action::<CreateWebhook>();
    let endpoints = page_resource(|| (), |_| list_webhooks());
    view! {
        <Title text="Webhooks · Codebook"/>
        <main class="page">
            <h1>"Webhooks"</h1>
            <p class="lead">
                "Codebook posts every change to these endpoints as it happens, signed, and tries again when they fail."
            </p>
            <section aria-labelledby="endpoints-heading">
                <h2 id="endpoints-heading">"Endpoints"</h2>
                <Loaded resource=endpoints let:list>
                    <EndpointTable list/>
                </Loaded>
            </section>
            <SecretDialog title="Signing secret" note=NEW_NOTE/>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let viewer = Viewer::load().await;
                    viewer.can(Permission::ManageWebhooks).then(|| view! { <AddEndpoint create/> })
                })}
            </Transition>
        </main>
    }
}

#[component]
fn EndpointTable(list: Vec<EndpointOut>) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|endpoint| view! { <EndpointRow endpoint/> }.into_any())
        .collect();
    view! {
        <DataTable
            class="webhooks"
            testid="webhooks"
            caption="Webhook endpoints"
            caption_hidden=true
            headers=["Endpoint", "Events", "Status", "Health"]
            rows
            empty="No endpoints yet."
            scroll=true
        />
    }
}

#[component]
fn EndpointRow(endpoint: EndpointOut) -> impl IntoView {
    let events = if endpoint.event_types.is_empty() {
        "All events".to_owned()
    } else {
        endpoint.event_types.join(", ")
    };
    let description = (!endpoint.description.is_empty()).then(|| endpoint.description.clone());
    view! {
        <tr data-url=endpoint.url.clone()>
            <th scope="row">
                <a href=format!("/webhooks/{}", endpoint.id) class="webhook-url">{endpoint.url.clone()}</a>
                {description.map(|d| view! { <p class="muted endpoint-description">{d}</p> })}
            </th>
            <td>{events}</td>
            <td><EnabledBadge endpoint=endpoint.clone()/></td>
            <td>{health_text(&endpoint.health)}</td>
        </tr>
    }
}

/// A new endpoint; the page the form leads back to shows its secret once.
#[component]
fn AddEndpoint(create: ServerAction<CreateWebhook>) -> impl IntoView {
    let error = action_error(create);
    view! {
        <section aria-labelledby="add-endpoint-heading" class="panel">
            <h2 id="add-endpoint-heading">"Add endpoint"</h2>
            <ActionForm action=create attr:class="stack">
                <FormError error/>
                <EndpointFields prefix="new-webhook" values=Settings::typed_or(Settings::default) error/>
                <SubmitButton label="Add endpoint" pending_label="Adding…" pending=create.pending()/>
            </ActionForm>
        </section>
    }
}
