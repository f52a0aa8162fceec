//! The dashboard of the current organization.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use crate::api::orgs::get_dashboard;
use crate::model::orgs::Dashboard;
use crate::model::ErrorCode;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_dashboard());
    view! {
        <Title text="Dashboard · Codebook"/>
        <main class="page">
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(d) => view! { <DashboardView d/> }.into_any(),
                        Err(e) if e.code == ErrorCode::Unauthenticated => {
                            view! { <Redirect path="/login"/> }.into_any()
                        }
                        Err(e) => view! { <div class="form-error" role="alert">{e.message}</div> }.into_any(),
                    }
                })}
            </Suspense>
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
            <span class="badge">{d.organization.plan.clone()}</span>
        </p>
        <section aria-labelledby="members-heading">
            <h2 id="members-heading">"Members " <span class="count">{count}</span></h2>
            <table class="table">
                <thead>
                    <tr><th scope="col">"Name"</th><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Joined"</th></tr>
                </thead>
                <tbody>
                    {d.members.into_iter().map(|m| view! {
                        <tr>
                            <td>{m.name}</td>
                            <td>{m.email}</td>
                            <td>{m.role.label()}</td>
                            <td><time datetime=m.joined_at.to_rfc3339()>{m.joined_at.format("%Y-%m-%d").to_string()}</time></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
