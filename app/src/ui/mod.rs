//! Components and pages, one folder per area.
pub mod accounts;
pub mod actions;
pub mod api_keys;
pub mod audit;
pub mod codes;
pub mod components;
pub mod dev;
pub mod flash;
pub mod invitations;
pub mod layout;
pub mod live;
pub mod members;
pub mod orgs;
pub mod palette;
pub mod platform;
pub mod releases;
pub mod resource;
pub mod secret;
pub mod webhooks;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::{
    components::{ParentRoute, Redirect, Route, Router, Routes},
    lazy_route, path, Lazy, LazyRoute, SsrMode,
};

use accounts::{AccountPage, ForgotPasswordPage, LoginPage, ResetPasswordPage, SignUpPage};
use api_keys::ApiKeysPage;
use audit::{AuditEntryPage, AuditLogPage, AuditVerifyPage};
use codes::{CodePage, CodesPage, ImportCodesPage, ImportsPage, NewCodePage, UndoImportPage};
use components::PageErrorBoundary;
use dev::DevMailPage;
use flash::PageFlashScope;
use invitations::AcceptInvitationPage;
use layout::SignedInLayout;
use members::MembersPage;
use orgs::{DashboardPage, NewOrganizationPage, SettingsPage};
use platform::{PlatformOrganizationsPage, PlatformSecurityPage};
use releases::{ChangelogPage, ReleasePage, ReleasesPage};
use webhooks::{WebhookDeliveryPage, WebhookPage, WebhooksPage};

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let stylesheet = stylesheet_href(&options);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="stylesheet" href=stylesheet/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The stylesheet's URL: under its content hash when the build wrote a
/// hash file (`cargo xtask build`), found where leptos finds the script's
/// and the wasm's (the server points `hash_file` at the site's).
pub fn stylesheet_href(options: &LeptosOptions) -> String {
    let (pkg, name) = (&options.site_pkg_dir, &options.output_name);
    let hash = options
        .hash_files
        .then(|| std::fs::read_to_string(&*options.hash_file).ok())
        .flatten()
        .and_then(|hashes| {
            hashes.lines().find_map(|line| {
                let (file, hash) = line.split_once(':')?;
                (file.trim() == "css").then(|| hash.trim().to_owned())
            })
        });
    match hash {
        Some(hash) => format!("/{pkg}/{name}.{hash}.css"),
        None => format!("/{pkg}/{name}.css"),
    }
}

/// Each page is a lazy route: its view is compiled into a wasm chunk of its
/// own, which the browser fetches when the page is first shown (the server
/// preloads it with the page it renders), so the first load of any page is
/// the shell and that page's chunk.
macro_rules! lazy_pages {
    ($($route:ident => $page:ident),* $(,)?) => {$(
        struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(this: Self) -> AnyView {
                let _ = this;
                view! { <$page/> }.into_any()
            }
        }
    )*};
}

lazy_pages! {
    SignUpRoute => SignUpPage,
    LoginRoute => LoginPage,
    ForgotPasswordRoute => ForgotPasswordPage,
    ResetPasswordRoute => ResetPasswordPage,
    AcceptInvitationRoute => AcceptInvitationPage,
    DevMailRoute => DevMailPage,
    DashboardRoute => DashboardPage,
    CodesRoute => CodesPage,
    NewCodeRoute => NewCodePage,
    ImportCodesRoute => ImportCodesPage,
    ImportsRoute => ImportsPage,
    UndoImportRoute => UndoImportPage,
    CodeRoute => CodePage,
    ReleasesRoute => ReleasesPage,
    ReleaseRoute => ReleasePage,
    ChangelogRoute => ChangelogPage,
    MembersRoute => MembersPage,
    WebhooksRoute => WebhooksPage,
    ApiKeysRoute => ApiKeysPage,
    WebhookRoute => WebhookPage,
    WebhookDeliveryRoute => WebhookDeliveryPage,
    AuditLogRoute => AuditLogPage,
    AuditVerifyRoute => AuditVerifyPage,
    AuditEntryRoute => AuditEntryPage,
    AccountRoute => AccountPage,
    SettingsRoute => SettingsPage,
    NewOrganizationRoute => NewOrganizationPage,
    PlatformOrganizationsRoute => PlatformOrganizationsPage,
    PlatformSecurityRoute => PlatformSecurityPage,
}

/// How the server renders every route: each page waits for its data before
/// the server answers, so that redirects and status codes are real HTTP
/// ones and a browser without JavaScript gets the whole page.
const PAGE_RENDERING: SsrMode = SsrMode::Async;

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    actions::provide_data_version();
    // An error thrown while a page renders shows a message in its place
    // (errors a page expects show where they happen, through `Loaded` and
    // `FormError`).
    view! {
        <Router>
            <RouteForReloads/>
            <PageFlashScope>
            <PageErrorBoundary>
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=|| view! { <Redirect path="/dashboard"/> } ssr=PAGE_RENDERING/>
                    <Route path=path!("/signup") view={Lazy::<SignUpRoute>::new()} ssr=PAGE_RENDERING/>
                    <Route path=path!("/login") view={Lazy::<LoginRoute>::new()} ssr=PAGE_RENDERING/>
                    <Route path=path!("/forgot-password") view={Lazy::<ForgotPasswordRoute>::new()} ssr=PAGE_RENDERING/>
                    <Route path=path!("/reset-password/:token") view={Lazy::<ResetPasswordRoute>::new()} ssr=PAGE_RENDERING/>
                    <Route path=path!("/invite/:token") view={Lazy::<AcceptInvitationRoute>::new()} ssr=PAGE_RENDERING/>
                    <Route path=path!("/dev/mail") view={Lazy::<DevMailRoute>::new()} ssr=PAGE_RENDERING/>
                    <ParentRoute path=path!("") view=SignedInLayout ssr=PAGE_RENDERING>
                        <Route path=path!("/dashboard") view={Lazy::<DashboardRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route path=path!("/codes") view={Lazy::<CodesRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route path=path!("/codes/new") view={Lazy::<NewCodeRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route path=path!("/codes/import") view={Lazy::<ImportCodesRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route path=path!("/codes/imports") view={Lazy::<ImportsRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route path=path!("/codes/imports/:id") view={Lazy::<UndoImportRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route path=path!("/codes/:id") view={Lazy::<CodeRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route path=path!("/releases") view={Lazy::<ReleasesRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route path=path!("/releases/:name") view={Lazy::<ReleaseRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route path=path!("/releases/:name/changelog") view={Lazy::<ChangelogRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route path=path!("/members") view={Lazy::<MembersRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route path=path!("/webhooks") view={Lazy::<WebhooksRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route path=path!("/api-keys") view={Lazy::<ApiKeysRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route path=path!("/webhooks/:id") view={Lazy::<WebhookRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route
                            path=path!("/webhooks/:id/deliveries/:delivery_id")
                            view={Lazy::<WebhookDeliveryRoute>::new()}
                            ssr=PAGE_RENDERING
                        />
                        <Route path=path!("/audit") view={Lazy::<AuditLogRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route path=path!("/audit/verify") view={Lazy::<AuditVerifyRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route path=path!("/audit/:seq") view={Lazy::<AuditEntryRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route path=path!("/account") view={Lazy::<AccountRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route path=path!("/settings") view={Lazy::<SettingsRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route path=path!("/organizations/new") view={Lazy::<NewOrganizationRoute>::new()} ssr=PAGE_RENDERING/>
                        <Route
                            path=path!("/platform/organizations")
                            view={Lazy::<PlatformOrganizationsRoute>::new()}
                            ssr=PAGE_RENDERING
                        />
                        <Route path=path!("/platform/security") view={Lazy::<PlatformSecurityRoute>::new()} ssr=PAGE_RENDERING/>
                    </ParentRoute>
                </Routes>
            </PageErrorBoundary>
            </PageFlashScope>
        </Router>
    }
}

/// Where the router is going, as `<html data-route>`, from the moment a
/// link is followed (the address bar changes only once the page is ready):
/// when the wasm of that page is gone, because the tab outlived two
/// deploys, the link module (`xtask/src/bundle.rs`) loads this address from
/// the server instead.
#[component]
fn RouteForReloads() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        let location = leptos_router::hooks::use_location();
        Effect::new(move |_| {
            let search = location.search.get();
            let href = format!(
                "{}{}{search}{}",
                location.pathname.get(),
                if search.is_empty() { "" } else { "?" },
                location.hash.get()
            );
            if let Some(html) = document().document_element() {
                let _ = html.set_attribute("data-route", &href);
            }
        });
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found · Codebook"/>
        <main class="page narrow">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address."</p>
            <p><a href="/dashboard">"Go to your dashboard"</a></p>
        </main>
    }
}
