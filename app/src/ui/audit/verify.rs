//! `/audit/verify`: walks the organization's hash chain from its first
//! entry to its recorded head and says whether it is intact, how many
//! entries were checked and, if it is broken, where and why (what
//! `server audit verify --org <slug>` prints).
use leptos::prelude::*;
use leptos_meta::Title;

use super::load_error;
use crate::api::audit::verify_audit;
use crate::model::audit::AuditVerifyOut;
use crate::ui::resource::page_resource;

#[component]
pub fn AuditVerifyPage() -> impl IntoView {
    let report = page_resource(|| (), |_| verify_audit());
    view! {
        <Title text="Verify the audit log · Codebook"/>
        <main class="page">
            <p><a href="/audit">"← Audit log"</a></p>
            <h1>"Verify the audit log"</h1>
            <p class="lead">
                "Each entry holds the hash of the one before it, and the organization keeps the hash of the newest. Checking recomputes every hash in order: an entry changed, removed or added out of turn breaks the chain from there on."
            </p>
            <Transition fallback=|| view! { <p class="loading">"Checking every entry…"</p> }>
                {move || Suspend::new(async move {
                    match report.await {
                        Ok(report) => view! { <Report report/> }.into_any(),
                        Err(error) => load_error(error),
                    }
                })}
            </Transition>
        </main>
    }
}

fn entries(n: u64) -> String {
    if n == 1 {
        "1 entry".to_owned()
    } else {
        format!("{n} entries")
    }
}

#[component]
fn Report(report: AuditVerifyOut) -> impl IntoView {
    match report.first_broken {
        None => view! {
            <p class="notice" role="status" data-testid="verify-result" data-intact="true">
                {format!("The chain is intact: {} checked.", entries(report.entries_checked))}
            </p>
            <p><a href="/audit/verify">"Check again"</a></p>
        }
        .into_any(),
        Some(broken) => view! {
            <div class="form-error" role="alert" data-testid="verify-result" data-intact="false" data-broken-seq=broken.seq>
                <p>
                    <strong>{format!("The chain is broken at entry {}", broken.seq)}</strong>
                    {format!(": {}.", broken.reason.trim_end_matches('.'))}
                </p>
                <p>{format!("{} before it checked and intact.", entries(report.entries_checked))}</p>
            </div>
            <p>
                <a href=format!("/audit/{}", broken.seq)>{format!("Open entry {}", broken.seq)}</a>
                " · "
                <a href="/audit/verify">"Check again"</a>
            </p>
        }
        .into_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::audit::BrokenLinkOut;

    fn render(report: AuditVerifyOut) -> String {
        Owner::new().with(|| view! { <Report report/> }.to_html())
    }

    #[test]
    fn an_intact_chain_says_how_many_entries_were_checked() {
        let html = render(AuditVerifyOut {
            entries_checked: 12,
            first_broken: None,
        });
        assert!(
            html.contains("The chain is intact: 12 entries checked."),
            "{html}"
        );
    }

    #[test]
    fn a_broken_chain_names_the_entry_and_the_reason() {
        let html = render(AuditVerifyOut {
            entries_checked: 2,
            first_broken: Some(BrokenLinkOut {
                seq: 3,
                reason: "hash does not match the entry's contents".into(),
            }),
        });
        assert!(html.contains("The chain is broken at entry 3"), "{html}");
        assert!(html.contains("hash does not match"), "{html}");
        assert!(html.contains(r#"href="/audit/3""#), "{html}");
    }
}
