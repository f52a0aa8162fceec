//! `/audit/:seq`: one entry of the audit log with every field it holds and
//! hashes: who, what, to which resource, the values before and after, the
//! request it came from, and its link in the chain.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::{actor_href, load_error, resource_href, OutcomeBadge};
use crate::api::audit::get_audit_entry;
use crate::model::audit::{label_of, AuditEntryOut, ACTOR_KINDS};
use crate::model::{AppError, ErrorCode};
use crate::ui::components::DateTime;
use crate::ui::resource::page_resource;

/// The entry a route parameter names, or the not-found error the page shows
/// for an address that cannot name one.
fn parse_seq(raw: Option<String>) -> Result<i64, AppError> {
    raw.and_then(|s| s.parse::<i64>().ok())
        .filter(|seq| *seq > 0)
        .ok_or_else(|| AppError::new(ErrorCode::NotFound, "There is no such entry."))
}

#[component]
pub fn AuditEntryPage() -> impl IntoView {
    let params = use_params_map();
    let seq = Memo::new(move |_| parse_seq(params.read().get("seq")));
    let entry = page_resource(
        move || seq.get(),
        |seq| async move { get_audit_entry(seq?).await },
    );
    view! {
        <Title text="Audit entry · Codebook"/>
        <main class="page">
            <p><a href="/audit">"← Audit log"</a></p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match entry.await {
                        Ok(entry) => view! { <EntryView entry/> }.into_any(),
                        Err(error) => view! { <h1>"Audit entry"</h1> {load_error(error)} }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

/// JSON as people read it: indented, keys as stored.
fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

#[component]
fn EntryView(entry: AuditEntryOut) -> impl IntoView {
    let seq = entry.seq;
    let actor_link = actor_href(&entry.actor);
    let actor_label = entry.actor.label();
    let actor_kind = label_of(&ACTOR_KINDS, &entry.actor.kind);
    let resource_link = resource_href(&entry.resource_type, entry.resource_id.as_deref());
    let exact_time = entry
        .occurred_at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let dash = || "—".to_owned();
    view! {
        <h1>{format!("Entry {seq}: {}", entry.action)}</h1>
        <dl class="values" data-testid="audit-entry">
            <dt>"Entry"</dt>
            <dd>{seq}</dd>
            <dt>"Id"</dt>
            <dd class="mono">{entry.id.to_string()}</dd>
            <dt>"When"</dt>
            <dd><DateTime at=entry.occurred_at/> " " <span class="muted mono">{exact_time}</span></dd>
            <dt>"Actor"</dt>
            <dd>
                <a href=actor_link>{actor_label}</a>
                " " <span class="muted">{format!("({actor_kind})")}</span>
                {entry.actor.id.map(|id| view! { " " <span class="muted mono">{id.to_string()}</span> })}
            </dd>
            <dt>"Action"</dt>
            <dd><code>{entry.action.clone()}</code></dd>
            <dt>"Resource"</dt>
            <dd>
                <a href=resource_link>{entry.resource_type.clone()}</a>
                {entry.resource_id.clone().map(|id| view! { " " <span class="mono">{id}</span> })}
            </dd>
            <dt>"Outcome"</dt>
            <dd><OutcomeBadge outcome=entry.outcome.clone()/></dd>
            <dt>"IP address"</dt>
            <dd>{entry.ip.clone().unwrap_or_else(dash)}</dd>
            <dt>"User agent"</dt>
            <dd>{entry.user_agent.clone().unwrap_or_else(dash)}</dd>
            <dt>"Request id"</dt>
            <dd class="mono">{entry.request_id.clone().unwrap_or_else(dash)}</dd>
            <dt>"Hash"</dt>
            <dd class="mono hash" data-testid="audit-hash">{entry.hash.clone()}</dd>
            <dt>"Previous hash"</dt>
            <dd class="mono hash">{entry.prev_hash.clone()}</dd>
        </dl>
        <section aria-labelledby="before-heading">
            <h2 id="before-heading">"Before"</h2>
            {match &entry.before {
                Some(value) => view! { <pre class="payload" data-testid="audit-before">{pretty(value)}</pre> }.into_any(),
                None => view! { <p class="muted">"Nothing recorded."</p> }.into_any(),
            }}
        </section>
        <section aria-labelledby="after-heading">
            <h2 id="after-heading">"After"</h2>
            {match &entry.after {
                Some(value) => view! { <pre class="payload" data-testid="audit-after">{pretty(value)}</pre> }.into_any(),
                None => view! { <p class="muted">"Nothing recorded."</p> }.into_any(),
            }}
        </section>
        <nav aria-label="Neighbouring entries" class="pager">
            {(seq > 1).then(|| view! { <a href=format!("/audit/{}", seq - 1) rel="prev">"Previous entry"</a> })}
            <a href=format!("/audit/{}", seq + 1) rel="next">"Next entry"</a>
        </nav>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_positive_numbers_name_an_entry() {
        assert_eq!(parse_seq(Some("12".into())).unwrap(), 12);
        for bad in ["0", "-1", "x", "1.5", ""] {
            assert_eq!(
                parse_seq(Some(bad.into())).unwrap_err().code,
                ErrorCode::NotFound
            );
        }
        assert!(parse_seq(None).is_err());
    }

    #[test]
    fn json_is_indented_for_reading() {
        let value = serde_json::json!({"code": "A00", "active": true});
        assert!(pretty(&value).contains("\n  \"active\": true"));
    }
}
