//! `/platform/organizations`: every organization, for platform admins; and
//! `/platform/security` (`security.rs`), the platform's security events.
mod security;

pub use security::PlatformSecurityPage;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{Form, A},
    hooks::use_query_map,
};

use crate::api::platform::{
    platform_organizations, SetOrganizationActive, SetOrganizationLimits, SetOrganizationPlan,
};
use crate::model::orgs::Plan;
use crate::model::platform::{OrgAdminPage, OrgAdminRow};
use crate::ui::actions::form_action;
use crate::ui::components::{action_error, DataTable, DateTime, FormError, Loaded};
use crate::ui::resource::page_resource;

#[derive(Clone, Copy)]
struct Actions {
    active: ServerAction<SetOrganizationActive>,
    plan: ServerAction<SetOrganizationPlan>,
    limits: ServerAction<SetOrganizationLimits>,
}

#[component]
pub fn PlatformOrganizationsPage() -> impl IntoView {
    let query = use_query_map();
    let search = move || query.read().get("q").unwrap_or_default();
    let page = move || {
        query
            .read()
            .get("page")
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(1)
    };
    let actions = Actions {
        active: form_action(),
        plan: form_action(),
        limits: form_action(),
    };
    let data = page_resource(
        move || (search(), page()),
        |(q, page)| platform_organizations(q, page),
    );
    view! {
        <Title text="Organizations · Codebook"/>
        <main class="page">
            <h1>"Organizations"</h1>
            <Form method="GET" action="" attr:class="search">
                <label for="org-search">"Search by name or slug"</label>
                <input id="org-search" type="search" name="q" value=search/>
                <button type="submit">"Search"</button>
            </Form>
            <FormError error=action_error(actions.active)/>
            <FormError error=action_error(actions.plan)/>
            <FormError error=action_error(actions.limits)/>
            <Loaded resource=data let:page>
                <OrgTable page actions search=search()/>
            </Loaded>
        </main>
    }
}

#[component]
fn OrgTable(page: OrgAdminPage, actions: Actions, search: String) -> impl IntoView {
    let pages = ((page.total.max(1) - 1) / i64::from(page.page_size) + 1) as u32;
    let link = move |p: u32| format!("?q={}&page={p}", urlencode(&search));
    let pager = view! {
        <nav aria-label="Pages" class="pager">
            {(page.page > 1).then(|| view! { <A href=link(page.page - 1)>"Previous"</A> })}
            <span>{format!("Page {} of {pages}", page.page)}</span>
            {(page.page < pages).then(|| view! { <A href=link(page.page + 1)>"Next"</A> })}
        </nav>
    };
    let rows = page
        .rows
        .into_iter()
        .map(|row| view! { <OrgRow row actions/> }.into_any())
        .collect();
    view! {
        <p class="muted">{format!("{} organizations", page.total)}</p>
        <DataTable
            testid="organizations"
            headers=["Organization", "Members", "Plan", "Status", "Limit overrides", "Created"]
            rows
            pager=pager.into_any()
        />
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
fn OrgRow(row: OrgAdminRow, actions: Actions) -> impl IntoView {
    let id = row.id.to_string();
    let (id2, id3) = (id.clone(), id.clone());
    let current_plan = row.plan;
    let number = |v: Option<i32>| v.map(|n| n.to_string()).unwrap_or_default();
    let plan_label = format!("Plan of {}", row.name);
    let status_label = if row.active {
        format!("Deactivate {}", row.name)
    } else {
        format!("Activate {}", row.name)
    };
    view! {
        <tr data-slug=row.slug.to_string()>
            <td><strong>{row.name.clone()}</strong><br/><span class="muted">{row.slug.to_string()}</span></td>
            <td>{row.members}{(row.pending_invitations > 0).then(|| format!(" (+{} invited)", row.pending_invitations))}</td>
            <td>
                <ActionForm action=actions.plan attr:class="inline">
                    <input type="hidden" name="organization_id" value=id.clone()/>
                    <label class="visually-hidden" for=format!("plan-{id}")>{plan_label}</label>
                    <select id=format!("plan-{id}") name="plan">
                        {Plan::ALL
                            .into_iter()
                            .map(|p| view! { <option value=p.as_str() selected=p == current_plan>{p.label()}</option> })
                            .collect_view()}
                    </select>
                    <button type="submit">"Change plan"</button>
                </ActionForm>
            </td>
            <td>
                <span class=if row.active { "badge" } else { "badge inactive" }>{if row.active { "Active" } else { "Inactive" }}</span>
                <ActionForm action=actions.active attr:class="inline">
                    <input type="hidden" name="organization_id" value=id2/>
                    <input type="hidden" name="active" value=(!row.active).to_string()/>
                    <button type="submit" class=if row.active { "danger" } else { "" }>{status_label}</button>
                </ActionForm>
            </td>
            <td>
                <ActionForm action=actions.limits attr:class="limits">
                    <input type="hidden" name="organization_id" value=id3/>
                    <label>"Members" <input type="number" min="0" name="max_members" value=number(row.max_members) placeholder="plan"/></label>
                    <label>"Codes" <input type="number" min="0" name="max_codes" value=number(row.max_codes) placeholder="plan"/></label>
                    <label>"Webhooks" <input type="number" min="0" name="max_webhooks" value=number(row.max_webhooks) placeholder="plan"/></label>
                    <label>"API keys" <input type="number" min="0" name="max_api_keys" value=number(row.max_api_keys) placeholder="plan"/></label>
                    <button type="submit">"Save limits"</button>
                </ActionForm>
            </td>
            <td><DateTime at=row.created_at date_only=true/></td>
        </tr>
    }
}
