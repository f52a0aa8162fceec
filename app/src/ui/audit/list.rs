//! `/audit`: the organization's audit log, newest first, fifty entries to a
//! page, "Newer"/"Older" links. The filters are a GET form onto this page
//! (`?action=code.updated&from=…&before=…`), so a filtered view is a link,
//! works without JavaScript, and a bad value comes back with its message
//! beside its field. The exports take the same filters.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Form, hooks::use_query_map};

use super::{actor_href, list_href, load_error, resource_href, OutcomeBadge};
use crate::api::audit::list_audit;
use crate::model::audit::{
    parse_moment, AuditAction, AuditEntryOut, AuditFilter, AuditPage, ACTOR_KINDS, OUTCOMES,
};
use crate::model::{AppError, ErrorCode};
use crate::ui::components::{DataTable, DateTime, TextField};
use crate::ui::resource::page_resource;

#[component]
pub fn AuditLogPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| AuditFilter::from_params(|name| query.read().get(name)));
    let before = Memo::new(move |_| {
        query
            .read()
            .get("before")
            .and_then(|b| b.trim().parse::<i64>().ok())
    });
    let data = page_resource(
        move || (filter.get(), before.get()),
        |(filter, before)| list_audit(filter, before),
    );
    view! {
        <Title text="Audit log · Codebook"/>
        <main class="page">
            <h1>"Audit log"</h1>
            <p class="lead">
                "Every change and sign-in in this organization. Each entry is linked to the one before it by its hash, so a changed or missing entry shows when the chain is verified."
            </p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let filter = filter.get_untracked();
                    let before = before.get_untracked();
                    match data.await {
                        Ok(page) => view! {
                            <Actions filter=filter.clone()/>
                            <FilterForm filter=filter.clone() error=None/>
                            <EntryTable page filter before/>
                        }
                            .into_any(),
                        Err(error) if error.code == ErrorCode::Validation => view! {
                            <FilterForm filter error=Some(error)/>
                        }
                            .into_any(),
                        Err(error) => load_error(error),
                    }
                })}
            </Transition>
        </main>
    }
}

/// Verify, and the exports of what the filter shows (files, not pages:
/// `rel=external` keeps the router from handling them).
#[component]
fn Actions(filter: AuditFilter) -> impl IntoView {
    let query = filter.to_query(None);
    let export = move |format: &str| {
        if query.is_empty() {
            format!("/audit/export.{format}")
        } else {
            format!("/audit/export.{format}?{query}")
        }
    };
    view! {
        <nav aria-label="Audit log actions" class="toolbar">
            <a href="/audit/verify" class="button">"Verify the chain"</a>
            <a href=export("csv") rel="external" download>"Export CSV"</a>
            <a href=export("ndjson") rel="external" download>"Export NDJSON"</a>
            <span class="field-hint">"Exports hold every entry the filters match, oldest first."</span>
        </nav>
    }
}

/// What a date field shows: the moment as a `datetime-local` value, or the
/// text as typed when it is not one (then its error is beside it).
fn moment_value(field: &str, raw: &Option<String>, end: bool) -> (&'static str, String) {
    match raw.as_deref() {
        None => ("datetime-local", String::new()),
        Some(raw) => match parse_moment(field, raw, end) {
            Ok(at) => ("datetime-local", at.format("%Y-%m-%dT%H:%M").to_string()),
            Err(_) => ("text", raw.to_owned()),
        },
    }
}

/// The filters: a GET form onto this page.
#[component]
fn FilterForm(filter: AuditFilter, error: Option<AppError>) -> impl IntoView {
    let error_of = move |field: &str| error.as_ref().and_then(|e| e.message_for(field));
    let (from_type, from_value) = moment_value("from", &filter.from, false);
    let (to_type, to_value) = moment_value("to", &filter.to, true);
    let kinds = ACTOR_KINDS.to_vec();
    let actions = AuditAction::ALL
        .iter()
        .map(|a| (a.as_str(), a.as_str()))
        .collect();
    let outcomes = OUTCOMES.to_vec();
    view! {
        <Form method="GET" action="" attr:class="code-search audit-filter" attr:role="search" attr:aria-label="Audit log filters">
            <SelectFilter id="audit-actor-kind" name="actor_kind" label="Actor type" options=kinds selected=filter.actor_kind.clone() error=error_of("actor_kind")/>
            <TextField id="audit-actor-id" name="actor_id" label="Actor id" value=filter.actor_id.clone().unwrap_or_default() required=false error=error_of("actor_id")/>
            <SelectFilter id="audit-action" name="action" label="Action" options=actions selected=filter.action.clone() error=error_of("action")/>
            <TextField id="audit-resource-type" name="resource_type" label="Resource type" value=filter.resource_type.clone().unwrap_or_default() required=false error=error_of("resource_type")/>
            <TextField id="audit-resource-id" name="resource_id" label="Resource id" value=filter.resource_id.clone().unwrap_or_default() required=false error=error_of("resource_id")/>
            <SelectFilter id="audit-outcome" name="outcome" label="Outcome" options=outcomes selected=filter.outcome.clone() error=error_of("outcome")/>
            <TextField id="audit-from" name="from" label="From (UTC)" kind=from_type value=from_value required=false error=error_of("from")/>
            <TextField id="audit-to" name="to" label="Until (UTC)" kind=to_type value=to_value required=false error=error_of("to")/>
            <button type="submit" class="primary">"Filter"</button>
            {(!filter.is_empty()).then(|| view! { <a href="/audit">"Clear filters"</a> })}
        </Form>
    }
}

/// A labelled choice among `options` (value, label), "Any" first, with its
/// error beside it.
#[component]
fn SelectFilter(
    id: &'static str,
    name: &'static str,
    label: &'static str,
    options: Vec<(&'static str, &'static str)>,
    selected: Option<String>,
    error: Option<String>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    let invalid = error.is_some();
    let selected = selected.unwrap_or_default();
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <select
                id=id
                name=name
                aria-invalid=invalid.to_string()
                aria-describedby=invalid.then(|| error_id.clone())
            >
                <option value="" selected=selected.is_empty()>"Any"</option>
                {options
                    .into_iter()
                    .map(|(value, label)| view! { <option value=value selected=selected == value>{label}</option> })
                    .collect_view()}
            </select>
            {error.map(|message| view! { <p class="field-error" id=error_id.clone() role="alert">{message}</p> })}
        </div>
    }
}

#[component]
fn EntryTable(page: AuditPage, filter: AuditFilter, before: Option<i64>) -> impl IntoView {
    let newer = page.newer.map(|cursor| list_href(&filter, Some(cursor)));
    let older = page.older.map(|cursor| list_href(&filter, Some(cursor)));
    let newest = before.is_some().then(|| list_href(&filter, None));
    let pager = view! {
        <nav aria-label="Audit log pages" class="pager">
            {newest.map(|href| view! { <a href=href>"Newest"</a> })}
            {newer.map(|href| view! { <a href=href rel="prev">"Newer entries"</a> })}
            {older.map(|href| view! { <a href=href rel="next">"Older entries"</a> })}
        </nav>
    };
    let empty = if filter.is_empty() && before.is_none() {
        "No entries yet."
    } else {
        "No entries match."
    };
    let rows = page
        .entries
        .into_iter()
        .map(|entry| view! { <EntryRow entry/> }.into_any())
        .collect();
    view! {
        <DataTable
            class="audit"
            testid="audit-entries"
            caption="Audit log entries, newest first"
            caption_hidden=true
            headers=["Entry", "When", "Actor", "Action", "Resource", "Outcome", "IP address"]
            rows
            empty
            pager=pager.into_any()
            scroll=true
        />
    }
}

#[component]
fn EntryRow(entry: AuditEntryOut) -> impl IntoView {
    let actor_link = actor_href(&entry.actor);
    let actor_label = entry.actor.label();
    let resource_link = resource_href(&entry.resource_type, entry.resource_id.as_deref());
    let resource_label = match &entry.resource_id {
        Some(id) => format!("{} {id}", entry.resource_type),
        None => entry.resource_type.clone(),
    };
    let outcome = entry.outcome.clone();
    view! {
        <tr data-seq=entry.seq data-action=entry.action.clone() data-outcome=outcome>
            <th scope="row"><a href=format!("/audit/{}", entry.seq)>{format!("#{}", entry.seq)}</a></th>
            <td><DateTime at=entry.occurred_at/></td>
            <td><a href=actor_link title="Everything this actor did">{actor_label}</a></td>
            <td><code>{entry.action.clone()}</code></td>
            <td><a href=resource_link title="Everything done to this resource">{resource_label}</a></td>
            <td><OutcomeBadge outcome=entry.outcome/></td>
            <td>{entry.ip.unwrap_or_else(|| "—".to_owned())}</td>
        </tr>
    }
}
