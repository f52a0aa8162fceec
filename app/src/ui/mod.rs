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
pub mod platform;
pub mod resource;
pub mod secret;
pub mod webhooks;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::{
    components::{ParentRoute, Redirect, Route, Router, Routes},
    path, SsrMode,
};

use accounts::{AccountPage, ForgotPasswordPage, LoginPage, ResetPasswordPage, SignUpPage};
use api_keys::ApiKeysPage;
use audit::{AuditEntryPage, AuditLogPage, AuditVerifyPage};
use codes::{CodePage, CodesPage, ImportCodesPage, NewCodePage};
use components::PageErrorBoundary;
use dev::DevMailPage;
use flash::PageFlashScope;
use invitations::AcceptInvitationPage;
use layout::SignedInLayout;
use members::MembersPage;
use orgs::{DashboardPage, NewOrganizationPage, SettingsPage};
use platform::{PlatformOrganizationsPage, PlatformSecurityPage};
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

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    actions::provide_data_version();
    // Every page waits for its data before the server answers, so that
    // redirects and status codes are real HTTP ones and a browser without
    // JavaScript gets the whole page. An error thrown while a page renders
    // shows a message in its place (errors a page expects show where they
    // happen, through `Loaded` and `FormError`).
    view! {
        <Router>
            <PageFlashScope>
            <PageErrorBoundary>
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=|| view! { <Redirect path="/dashboard"/> } ssr=SsrMode::Async/>
                    <Route path=path!("/signup") view=SignUpPage ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                    <Route path=path!("/forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async/>
                    <Route path=path!("/reset-password/:token") view=ResetPasswordPage ssr=SsrMode::Async/>
                    <Route path=path!("/invite/:token") view=AcceptInvitationPage ssr=SsrMode::Async/>
                    <Route path=path!("/dev/mail") view=DevMailPage ssr=SsrMode::Async/>
                    <ParentRoute path=path!("") view=SignedInLayout ssr=SsrMode::Async>
                        <Route path=path!("/dashboard") view=DashboardPage ssr=SsrMode::Async/>
                        <Route path=path!("/codes") view=CodesPage ssr=SsrMode::Async/>
                        <Route path=path!("/codes/new") view=NewCodePage ssr=SsrMode::Async/>
                        <Route path=path!("/codes/import") view=ImportCodesPage ssr=SsrMode::Async/>
                        <Route path=path!("/codes/:id") view=CodePage ssr=SsrMode::Async/>
                        <Route path=path!("/members") view=MembersPage ssr=SsrMode::Async/>
                        <Route path=path!("/webhooks") view=WebhooksPage ssr=SsrMode::Async/>
                        <Route path=path!("/api-keys") view=ApiKeysPage ssr=SsrMode::Async/>
                        <Route path=path!("/webhooks/:id") view=WebhookPage ssr=SsrMode::Async/>
                        <Route
                            path=path!("/webhooks/:id/deliveries/:delivery_id")
                            view=WebhookDeliveryPage
                            ssr=SsrMode::Async
                        />
                        <Route path=path!("/audit") view=AuditLogPage ssr=SsrMode::Async/>
                        <Route path=path!("/audit/verify") view=AuditVerifyPage ssr=SsrMode::Async/>
                        <Route path=path!("/audit/:seq") view=AuditEntryPage ssr=SsrMode::Async/>
                        <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async/>
                        <Route path=path!("/settings") view=SettingsPage ssr=SsrMode::Async/>
                        <Route path=path!("/organizations/new") view=NewOrganizationPage ssr=SsrMode::Async/>
                        <Route
                            path=path!("/platform/organizations")
                            view=PlatformOrganizationsPage
                            ssr=SsrMode::Async
                        />
                        <Route path=path!("/platform/security") view=PlatformSecurityPage ssr=SsrMode::Async/>
                    </ParentRoute>
                </Routes>
            </PageErrorBoundary>
            </PageFlashScope>
        </Router>
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
