//! The frame of every signed-in page: header with the organization and the
//! user, and the page below.
use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};

use crate::api::accounts::{get_current_user, LogOut};
use crate::model::accounts::CurrentUser;

#[component]
pub fn SignedInLayout() -> impl IntoView {
    let user = Resource::new(|| (), |_| get_current_user());
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(user)) => {
                        provide_context(user.clone());
                        view! {
                            <Header user/>
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
fn Header(user: CurrentUser) -> impl IntoView {
    let log_out = ServerAction::<LogOut>::new();
    let org_name = user.organization.as_ref().map(|o| o.name.clone());
    view! {
        <header class="top">
            <A href="/dashboard" attr:class="brand">"Codebook"</A>
            <span class="org" data-testid="current-org">{org_name}</span>
            <nav aria-label="Account" class="account">
                <span class="user">{user.name}</span>
                <ActionForm action=log_out attr:class="inline">
                    <button type="submit" class="link">"Log out"</button>
                </ActionForm>
            </nav>
        </header>
    }
}
