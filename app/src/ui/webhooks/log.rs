//! An endpoint's delivery log: newest first, filtered by status through the
//! query string (a plain GET form, so it works without JavaScript), fifty
//! to a page; and the bulk replay of failed and skipped deliveries.
use crate::model::EndpointId;
use leptos::prelude::*;

use super::{last_response, log_href};
use crate::api::webhooks::ReplayFailed;
use crate::model::webhooks::{DeliveryFilter, DeliveryOut, DeliveryPage, DeliveryStatus};
use crate::ui::components::{
    action_error, field_error, DataTable, DateTime, FormError, SubmitButton, TextField,
};

#[component]
pub(super) fn DeliveryLog(
    endpoint_id: EndpointId,
    page: DeliveryPage,
    filter: DeliveryFilter,
) -> impl IntoView {
    let status = filter.status.clone().unwrap_or_default();
    let next = page
        .next
        .as_deref()
        .map(|cursor| log_href(endpoint_id, filter.status.as_deref(), Some(cursor)));
    let first = filter
        .before
        .is_some()
        .then(|| log_href(endpoint_id, filter.status.as_deref(), None));
    view! {
        <section aria-labelledby="deliveries-heading">
            <h2 id="deliveries-heading">"Deliveries"</h2>
            <form method="get" action=format!("/webhooks/{endpoint_id}") class="toolbar" role="search">
                <div class="field">
                    <label for="delivery-status">"Status"</label>
                    <select id="delivery-status" name="status">
                        <option value="" selected=status.is_empty()>"All"</option>
                        {DeliveryStatus::ALL
                            .into_iter()
                            .map(|s| {
                                view! { <option value=s.as_str() selected=status == s.as_str()>{s.label()}</option> }
                            })
                            .collect_view()}
                    </select>
                </div>
                <button type="submit">"Filter"</button>
            </form>
            <DeliveryTable items=page.items/>
            <nav aria-label="Delivery pages" class="pager">
                {first.map(|href| view! { <a href=href>"Newest"</a> })}
                {next.map(|href| view! { <a href=href rel="next">"Older deliveries"</a> })}
            </nav>
        </section>
    }
}

#[component]
fn DeliveryTable(items: Vec<DeliveryOut>) -> impl IntoView {
    let rows = items
        .into_iter()
        .map(|delivery| view! { <DeliveryRow delivery/> }.into_any())
        .collect();
    view! {
        <DataTable
            class="deliveries"
            testid="deliveries"
            caption="Deliveries, newest first"
            caption_hidden=true
            headers=["Event", "Status", "Attempts", "Last response", "Created", "Next attempt"]
            rows
            empty="No deliveries."
            scroll=true
        />
    }
}

#[component]
fn DeliveryRow(delivery: DeliveryOut) -> impl IntoView {
    let href = format!(
        "/webhooks/{}/deliveries/{}",
        delivery.endpoint_id, delivery.id
    );
    let response = last_response(&delivery);
    view! {
        <tr data-status=delivery.status.as_str()>
            <th scope="row">
                <a href=href>{delivery.event_type.clone()}</a>
                <span class="muted mono">" " {delivery.message_id.clone()}</span>
            </th>
            <td><StatusBadge status=delivery.status/></td>
            <td>{delivery.attempts}</td>
            <td>{response}</td>
            <td><DateTime at=delivery.created_at/></td>
            <td>{delivery.next_attempt_at.map(|at| view! { <DateTime at/> })}</td>
        </tr>
    }
}

/// A delivery's status in words.
#[component]
pub(super) fn StatusBadge(status: DeliveryStatus) -> impl IntoView {
    let class = match status {
        DeliveryStatus::Succeeded => "badge",
        DeliveryStatus::Dead => "badge danger",
        _ => "badge inactive",
    };
    view! { <span class=class>{status.label()}</span> }
}

/// Sends again every failed or skipped delivery whose event happened in a
/// time range (the browser's local fields are read as UTC, and say so).
#[component]
pub(super) fn ReplayFailedForm(
    endpoint_id: EndpointId,
    action: ServerAction<ReplayFailed>,
) -> impl IntoView {
    let error = action_error(action);
    view! {
        <section aria-labelledby="replay-heading" class="panel">
            <h2 id="replay-heading">"Replay failed deliveries"</h2>
            <p class="field-hint">
                "Sends again every failed or skipped delivery whose event happened in the range (times in UTC)."
            </p>
            <ActionForm action attr:class="stack">
                <FormError error/>
                <input type="hidden" name="endpoint_id" value=endpoint_id.to_string()/>
                <TextField id="replay-since" label="From (UTC)" name="since" kind="datetime-local" error=field_error(error, "since")/>
                <TextField id="replay-until" label="Until (UTC)" name="until" kind="datetime-local" error=field_error(error, "until")/>
                <SubmitButton label="Replay failed deliveries" pending_label="Queuing…" pending=action.pending()/>
            </ActionForm>
        </section>
    }
}
