//! `/platform/security`: the platform's security events, for platform
//! admins: what happens before anyone is known to belong to an
//! organization (log-ins with an email that has no account). Newest first,
//! fifty to a page, kept 90 days.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::platform::platform_security_events;
use crate::model::audit::{SecurityEventOut, SecurityEventPage};
use crate::ui::components::{DataTable, DateTime, Loaded};
use crate::ui::resource::page_resource;

fn page_href(before: Option<i64>) -> String {
    match before {
        Some(before) => format!("/platform/security?before={before}"),
        None => "/platform/security".to_owned(),
    }
}

#[component]
pub fn PlatformSecurityPage() -> impl IntoView {
    let query = use_query_map();
    let before = Memo::new(move |_| {
        query
            .read()
            .get("before")
            .and_then(|b| b.trim().parse::<i64>().ok())
    });
    let data = page_resource(move || before.get(), platform_security_events);
    view! {
        <Title text="Security events · Codebook"/>
        <main class="page">
            <h1>"Security events"</h1>
            <p class="lead">
                "Events that belong to no organization, such as log-in attempts with an email that has no account. Kept for 90 days."
            </p>
            <Loaded resource=data let:page>
                <EventTable page before=before.get_untracked()/>
            </Loaded>
        </main>
    }
}

#[component]
fn EventTable(page: SecurityEventPage, before: Option<i64>) -> impl IntoView {
    let pager = view! {
        <nav aria-label="Security event pages" class="pager">
            {before.is_some().then(|| view! { <a href=page_href(None)>"Newest"</a> })}
            {page.newer.map(|cursor| view! { <a href=page_href(Some(cursor)) rel="prev">"Newer events"</a> })}
            {page.older.map(|cursor| view! { <a href=page_href(Some(cursor)) rel="next">"Older events"</a> })}
        </nav>
    };
    let rows = page
        .events
        .into_iter()
        .map(|event| view! { <EventRow event/> }.into_any())
        .collect();
    view! {
        <DataTable
            class="security-events"
            testid="security-events"
            caption="Security events, newest first"
            caption_hidden=true
            headers=["When", "Event", "Email", "IP address", "User agent", "Request id"]
            rows
            empty="No security events."
            pager=pager.into_any()
            scroll=true
        />
    }
}

#[component]
fn EventRow(event: SecurityEventOut) -> impl IntoView {
    let dash = || "—".to_owned();
    let label = event.kind_label().to_owned();
    let email = event.email.clone().unwrap_or_default();
    view! {
        <tr data-kind=event.kind.clone() data-email=email>
            <th scope="row"><DateTime at=event.occurred_at/></th>
            <td>{label}</td>
            <td>{event.email.unwrap_or_else(dash)}</td>
            <td>{event.ip.unwrap_or_else(dash)}</td>
            <td>{event.user_agent.unwrap_or_else(dash)}</td>
            <td class="mono">{event.request_id.unwrap_or_else(dash)}</td>
        </tr>
    }
}
