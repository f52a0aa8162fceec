//! The members page: everyone's role, and the changes the viewer's role
//! allows (the same rules the server enforces, from `model::roles`).
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use crate::api::members::{list_members, ChangeMemberRole, LeaveOrganization, RemoveMember};
use crate::model::members::{MemberOut, MembersPage as Page};
use crate::model::{ErrorCode, Role};
use crate::ui::components::{action_error, FormError};
use crate::ui::invitations::{may_invite, InvitePanel};
use crate::ui::layout::reload_after;

#[component]
pub fn MembersPage() -> impl IntoView {
    let change = ServerAction::<ChangeMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let leave = ServerAction::<LeaveOrganization>::new();
    reload_after(leave, "/dashboard");
    // Reload the list after every change.
    let data = Resource::new(
        move || (change.version().get(), remove.version().get()),
        |_| list_members(),
    );
    let change_error = action_error(change);
    let remove_error = action_error(remove);
    let leave_error = action_error(leave);
    view! {
        <Title text="Members · Codebook"/>
        <main class="page">
            <h1>"Members"</h1>
            <FormError error=change_error/>
            <FormError error=remove_error/>
            <FormError error=leave_error/>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(page) => {
                            let my_role = page.my_role;
                            view! {
                                <MemberTable page change remove/>
                                {may_invite(my_role).then(|| view! { <InvitePanel my_role/> })}
                            }
                                .into_any()
                        }
                        Err(e) if e.code == ErrorCode::Unauthenticated => {
                            view! { <Redirect path="/login"/> }.into_any()
                        }
                        Err(e) => view! { <div class="form-error" role="alert">{e.message}</div> }.into_any(),
                    }
                })}
            </Suspense>
            <section class="danger-zone" aria-labelledby="leave-heading">
                <h2 id="leave-heading">"Leave this organization"</h2>
                <ActionForm action=leave>
                    <button type="submit" class="danger">"Leave organization"</button>
                </ActionForm>
            </section>
        </main>
    }
}

#[component]
fn MemberTable(
    page: Page,
    change: ServerAction<ChangeMemberRole>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
    let me = page.my_role;
    let my_id = page.my_user_id;
    view! {
        <table class="table" data-testid="members">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Email"</th>
                    <th scope="col">"Role"</th>
                    <th scope="col">"Joined"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {page
                    .members
                    .into_iter()
                    .map(|m| {
                        let manageable = Some(m.user_id) != my_id && me.can_manage(m.role);
                        view! { <MemberRow m me manageable change remove/> }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn MemberRow(
    m: MemberOut,
    me: Role,
    manageable: bool,
    change: ServerAction<ChangeMemberRole>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
    let user_id = m.user_id.to_string();
    let remove_user_id = user_id.clone();
    let role_label = format!("Role of {}", m.name);
    let remove_label = format!("Remove {}", m.name);
    let select_id = format!("role-{}", m.user_id);
    let assignable: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| me.can_assign(*r))
        .collect();
    view! {
        <tr data-email=m.email.clone()>
            <td>{m.name.clone()}</td>
            <td>{m.email.clone()}</td>
            <td>
                {if manageable {
                    let current = m.role;
                    view! {
                        <ActionForm action=change attr:class="inline">
                            <input type="hidden" name="user_id" value=user_id/>
                            <label for=select_id.clone() class="visually-hidden">{role_label}</label>
                            <select id=select_id name="role">
                                {assignable
                                    .into_iter()
                                    .map(|r| view! { <option value=r.as_str() selected=r == current>{r.label()}</option> })
                                    .collect_view()}
                            </select>
                            <button type="submit">"Change role"</button>
                        </ActionForm>
                    }
                        .into_any()
                } else {
                    view! { <span>{m.role.label()}</span> }.into_any()
                }}
            </td>
            <td>
                <time datetime=m.joined_at.to_rfc3339()>{m.joined_at.format("%Y-%m-%d").to_string()}</time>
            </td>
            <td>
                {manageable.then(|| {
                    view! {
                        <ActionForm action=remove attr:class="inline">
                            <input type="hidden" name="user_id" value=remove_user_id/>
                            <button type="submit" class="danger">{remove_label}</button>
                        </ActionForm>
                    }
                })}
            </td>
        </tr>
    }
}
