//! The dashboard of the current organization, its settings, and new
//! organizations.
mod settings;

pub use settings::{NewOrganizationPage, SettingsPage};

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::orgs::get_dashboard;
use crate::model::codes::RecentChange;
use crate::model::members::MemberOut;
use crate::model::orgs::{Dashboard, Usage};
use crate::ui::components::{DataTable, DateTime, Loaded};
use crate::ui::resource::page_resource;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let data = page_resource(|| (), |_| get_dashboard());
    view! {
        <Title text="Dashboard · Codebook"/>
        <main class="page">
            <Loaded resource=data error_heading="Dashboard" let:d>
                <DashboardView d/>
            </Loaded>
        </main>
    }
}

#[component]
fn DashboardView(d: Dashboard) -> impl IntoView {
    let count = d.members.len();
    view! {
        <h1>{d.organization.name.clone()}</h1>
        <p class="lead">
            "You are " <strong>{d.role.label()}</strong> " of this organization · plan "
            <span class="badge">{d.organization.plan.label()}</span>
        </p>
        <UsageBars usage=d.usage.clone()/>
        <CodesSummary usage=d.usage.clone() changes=d.recent_changes.clone()/>
        <section aria-labelledby="members-heading">
            <h2 id="members-heading">"Members " <span class="count">{count}</span></h2>
            <DataTable headers=["Name", "Email", "Role", "Joined"] rows=member_rows(d.members)/>
        </section>
    }
}

fn member_rows(members: Vec<MemberOut>) -> Vec<AnyView> {
    members
        .into_iter()
        .map(|m| {
            view! {
                <tr>
                    <td>{m.name}</td>
                    <td>{m.email}</td>
                    <td>{m.role.label()}</td>
                    <td><DateTime at=m.joined_at date_only=true/></td>
                </tr>
            }
            .into_any()
        })
        .collect()
}

/// How many codes there are, and what changed last, each change linking to
/// its code's page.
#[component]
fn CodesSummary(usage: Usage, changes: Vec<RecentChange>) -> impl IntoView {
    let count = match usage.limits.codes {
        Some(max) => format!("{} of {max} codes", usage.codes),
        None => format!("{} codes", usage.codes),
    };
    view! {
        <section aria-labelledby="codes-heading" class="codes-summary">
            <h2 id="codes-heading">"Codes"</h2>
            <p><span data-testid="code-count">{count}</span> " · " <a href="/codes">"Browse the codes"</a></p>
            <h3>"Recent changes"</h3>
            {if changes.is_empty() {
                view! { <p class="muted">"No changes yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="recent-changes" data-testid="recent-changes">
                        {changes.into_iter().map(|c| view! {
                            <li>
                                <a href=format!("/codes/{}", c.code_id)>{c.code}</a>
                                {format!(" · {} (version {})", c.change.label(), c.version)}
                                {c.actor.map(|a| format!(" by {a}"))}
                                ", "
                                <time datetime=c.created_at.to_rfc3339()>{c.created_at.format("%Y-%m-%d %H:%M UTC").to_string()}</time>
                            </li>
                        }).collect_view()}
                    </ul>
                }
                    .into_any()
            }}
        </section>
    }
}

/// Usage against each plan limit.
#[component]
fn UsageBars(usage: Usage) -> impl IntoView {
    let rows = [
        (
            "Members (with pending invitations)",
            usage.seats,
            usage.limits.members,
        ),
        ("Codes", usage.codes, usage.limits.codes),
        ("Webhooks", usage.webhooks, usage.limits.webhooks),
        ("API keys", usage.api_keys, usage.limits.api_keys),
    ];
    view! {
        <section aria-labelledby="usage-heading" class="usage">
            <h2 id="usage-heading">"Usage"</h2>
            {rows
                .into_iter()
                .enumerate()
                .map(|(i, (label, used, limit))| {
                    let id = format!("usage-{i}");
                    let text = match limit {
                        Some(max) => format!("{used} of {max}"),
                        None => format!("{used} (unlimited)"),
                    };
                    view! {
                        <div class="usage-row">
                            <label for=id.clone()>{label}</label>
                            <progress id=id max=limit.unwrap_or(0).max(1).to_string() value=used.to_string()>{text.clone()}</progress>
                            <span class="muted">{text}</span>
                        </div>
                    }
                })
                .collect_view()}
        </section>
    }
}
