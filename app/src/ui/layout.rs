//! The frame of every signed-in page: header with the organization and the
//! user, and the page below.
use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};

use crate::api::accounts::{get_current_user, LogOut};
use crate::api::orgs::{my_organizations, SwitchOrganization};
use crate::model::accounts::CurrentUser;
use crate::model::orgs::MyOrganization;
use crate::model::AppError;
use crate::ui::actions::form_action;
use crate::ui::components::LoadError;
use crate::ui::flash::FlashNotice;
use crate::ui::palette::CommandPalette;
use crate::ui::resource::{held_page_resource, PageResource};

/// The signed-in user, loaded once by the layout and shared with its pages.
#[derive(Clone, Copy)]
pub struct CurrentUserResource(pub PageResource<Result<Option<CurrentUser>, AppError>>);

/// The signed-in user as the layout loaded it, for pages that show the user
/// or the current organization (wait for it with `Loaded`).
pub fn current_user_resource() -> PageResource<Result<Option<CurrentUser>, AppError>> {
    expect_context::<CurrentUserResource>().0
}

/// The current user from the layout's resource, awaited (for pages that
/// only need who is looking, such as what their role allows).
pub async fn current_user() -> Option<CurrentUser> {
    let resource = use_context::<CurrentUserResource>()?;
    resource.0.await.ok().flatten()
}

#[component]
pub fn SignedInLayout() -> impl IntoView {
    // Others' changes do not concern who is signed in: these follow the
    // forms only (a switch, a rename).
    let user = held_page_resource(|| (), |_| get_current_user());
    let orgs = held_page_resource(|| (), |_| my_organizations());
    provide_context(CurrentUserResource(user));
    crate::ui::live::listen_for_changes();
    // The page sits outside the header's Transition: a Suspend may run again
    // when its resources resolve, and a page built inside it would be built
    // twice on the server, so its resources would not match in the browser.
    view! {
        <div class="app-shell">
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match user.await {
                        Ok(Some(user)) => {
                            let orgs = orgs.await.unwrap_or_default();
                            view! { <Header user orgs/> }.into_any()
                        }
                        Ok(None) => view! { <Redirect path="/login"/> }.into_any(),
                        Err(error) => view! { <LoadError error/> }.into_any(),
                    }
                })}
            </Transition>
            <div class="app-content">
                <FlashNotice/>
                <Outlet/>
            </div>
        </div>
    }
}

#[component]
fn Header(user: CurrentUser, orgs: Vec<MyOrganization>) -> impl IntoView {
    let log_out = form_action::<LogOut>();
    let org_name = user.organization.as_ref().map(|o| o.name.clone());
    let current = user.organization.as_ref().map(|o| o.id);
    let can_read_audit = user
        .organization
        .as_ref()
        .is_some_and(|o| o.role.can(crate::model::Permission::ReadAudit));
    let can_manage_keys = user
        .organization
        .as_ref()
        .is_some_and(|o| o.role.can(crate::model::Permission::ManageApiKeys));
    let role = user.organization.as_ref().map(|o| o.role.label());
    let is_platform_admin = user.is_platform_admin;
    // The sidebar: on a phone its navigation folds into a "Menu" (a
    // disclosure, so it works without JavaScript too).
    view! {
        <header class="top sidebar">
            <div class="sidebar-head">
                <A href="/dashboard" attr:class="brand">"Codebook"</A>
                <OrgMenu org_name role orgs current/>
                <CommandPalette/>
            </div>
            <details class="nav-menu">
                <summary>"Menu"</summary>
                <nav aria-label="Main" class="main-nav">
                    <NavGroup label="Catalogue">
                        <A href="/dashboard">"Dashboard"</A>
                        <A href="/codes">"Codes"</A>
                        <A href="/releases">"Releases"</A>
                    </NavGroup>
                    <NavGroup label="Team">
                        <A href="/members">"Members"</A>
                    </NavGroup>
                    <NavGroup label="Integrations">
                        <A href="/webhooks">"Webhooks"</A>
                        {can_manage_keys.then(|| view! { <A href="/api-keys">"API keys"</A> })}
                        // A server page, not a route of the app: a plain link.
                        <a href="/docs/api" rel="external">"API reference"</a>
                    </NavGroup>
                    <NavGroup label="Administration">
                        {can_read_audit.then(|| view! { <A href="/audit">"Audit log"</A> })}
                        <A href="/settings">"Settings"</A>
                        {is_platform_admin.then(|| view! {
                            <A href="/platform/organizations">"Organizations"</A>
                            <A href="/platform/security">"Security events"</A>
                        })}
                    </NavGroup>
                </nav>
                <nav aria-label="Account" class="account">
                    <A href="/account" attr:class="user">{user.name}</A>
                    <ActionForm action=log_out attr:class="inline">
                        <button type="submit" class="link">"Log out"</button>
                    </ActionForm>
                </nav>
            </details>
        </header>
    }
}

/// A labelled group of the sidebar's links.
#[component]
fn NavGroup(label: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="nav-group" role="group" aria-label=label>
            <span class="nav-heading" aria-hidden="true">{label}</span>
            {children()}
        </div>
    }
}

/// The current organization with the caller's role in it, opening on the
/// others to switch to and on "New organization". A disclosure of plain
/// forms: it works without JavaScript too.
#[component]
fn OrgMenu(
    org_name: Option<String>,
    role: Option<&'static str>,
    orgs: Vec<MyOrganization>,
    current: Option<crate::model::OrgId>,
) -> impl IntoView {
    let switch = form_action::<SwitchOrganization>();
    let others: Vec<_> = orgs
        .into_iter()
        .filter(|o| Some(o.id) != current)
        .map(|o| {
            view! {
                <li>
                    <ActionForm action=switch>
                        <input type="hidden" name="organization_id" value=o.id.to_string()/>
                        <button type="submit" class="org-choice">
                            <span>{o.name}</span>
                            <span class="role">{o.role.label()}</span>
                        </button>
                    </ActionForm>
                </li>
            }
        })
        .collect();
    let choices = (!others.is_empty()).then(|| {
        view! { <ul class="org-choices" aria-label="Switch to">{others}</ul> }
    });
    view! {
        <details class="org-menu">
            <summary>
                <span class="org" data-testid="current-org">{org_name}</span>
                {role.map(|role| view! { <span class="role">{role}</span> })}
            </summary>
            <div class="org-menu-body">
                {choices}
                <A href="/organizations/new" attr:class="org-new">"New organization"</A>
            </div>
        </details>
    }
}
