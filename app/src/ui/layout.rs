//! The frame of every signed-in page: header with the organization and the
//! user, and the page below.
use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};

use crate::api::accounts::{get_current_user, LogOut};
use crate::api::orgs::{my_organizations, SwitchOrganization};
use crate::model::accounts::CurrentUser;
use crate::model::orgs::MyOrganization;

#[component]
pub fn SignedInLayout() -> impl IntoView {
    let user = Resource::new(|| (), |_| get_current_user());
    let orgs = Resource::new(|| (), |_| my_organizations());
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(user)) => {
                        let orgs = orgs.await.unwrap_or_default();
                        provide_context(user.clone());
                        view! {
                            <Header user orgs/>
                            <Outlet/>
                        }
                            .into_any()
                    }
                    Ok(None) => view! { <Redirect path="/login"/> }.into_any(),
                    Err(e) => view! {
                        <main class="page narrow"><div class="form-error" role="alert">{e.message}</div></main>
                    }
                        .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Header(user: CurrentUser, orgs: Vec<MyOrganization>) -> impl IntoView {
    let log_out = ServerAction::<LogOut>::new();
    let org_name = user.organization.as_ref().map(|o| o.name.clone());
    let current = user.organization.as_ref().map(|o| o.id);
    view! {
        <header class="top">
            <A href="/dashboard" attr:class="brand">"Codebook"</A>
            <span class="org" data-testid="current-org">{org_name}</span>
            {(orgs.len() > 1).then(|| view! { <OrgSwitcher orgs current/> })}
            <nav aria-label="Main" class="main-nav">
                <A href="/dashboard">"Dashboard"</A>
                <A href="/members">"Members"</A>
                <A href="/settings">"Settings"</A>
                <A href="/organizations/new">"New organization"</A>
                {user.is_platform_admin.then(|| view! { <A href="/platform/organizations">"Organizations"</A> })}
            </nav>
            <nav aria-label="Account" class="account">
                <A href="/account" attr:class="user">{user.name}</A>
                <ActionForm action=log_out attr:class="inline">
                    <button type="submit" class="link">"Log out"</button>
                </ActionForm>
            </nav>
        </header>
    }
}

/// Changes the session's current organization; a plain form, so it works
/// without JavaScript too.
#[component]
fn OrgSwitcher(orgs: Vec<MyOrganization>, current: Option<uuid::Uuid>) -> impl IntoView {
    let switch = ServerAction::<SwitchOrganization>::new();
    view! {
        <ActionForm action=switch attr:class="inline switcher">
            <label for="org-switcher" class="visually-hidden">"Organization"</label>
            <select id="org-switcher" name="organization_id">
                {orgs
                    .into_iter()
                    .map(|o| {
                        let selected = Some(o.id) == current;
                        view! { <option value=o.id.to_string() selected=selected>{o.name}</option> }
                    })
                    .collect_view()}
            </select>
            <button type="submit">"Switch"</button>
        </ActionForm>
    }
}
