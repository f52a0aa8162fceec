//! The members page: everyone's role, and the changes the viewer's role
//! allows (the same rules the server enforces, from `model::roles`).
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::members::{list_members, ChangeMemberRole, LeaveOrganization, RemoveMember};
use crate::model::members::{MemberOut, MembersPage as Page};
use crate::model::Role;
use crate::ui::actions::form_action;
use crate::ui::components::{action_error, DataTable, DateTime, FormError, Header, Loaded};
use crate::ui::invitations::{may_invite, Invitations, InvitePanel};
use crate::ui::resource::page_resource;

#[component]
pub fn MembersPage() -> impl IntoView {
    let change = form_action::<ChangeMemberRole>();
    let remove = form_action::<RemoveMember>();
    let leave = form_action::<LeaveOrganization>();
    let data = page_resource(|| (), |_| list_members());
    let invitations = Invitations::load();
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
            <Loaded resource=data let:page>
                {
                    let my_role = page.my_role;
                    let sole_owner = is_sole_owner(&page);
                    view! {
                        <MemberTable page change remove/>
                        {may_invite(my_role).then(|| view! { <InvitePanel my_role invitations/> })}
                        <LeaveSection leave sole_owner/>
                    }
                }
            </Loaded>
        </main>
    }
}

/// Whether the viewer is the organization's only owner, who may not leave
/// (an organization always keeps an owner).
fn is_sole_owner(page: &Page) -> bool {
    let owners = page
        .members
        .iter()
        .filter(|m| m.role == Role::Owner)
        .count();
    page.my_role == Role::Owner && owners == 1
}

/// Leaving, or for the only owner why they cannot: a button that could only
/// fail would tell them nothing.
#[component]
fn LeaveSection(leave: ServerAction<LeaveOrganization>, sole_owner: bool) -> impl IntoView {
    view! {
        <section class="danger-zone" aria-labelledby="leave-heading">
            <h2 id="leave-heading">"Leave this organization"</h2>
            {if sole_owner {
                view! {
                    <p data-testid="sole-owner">
                        "You are the only owner; make someone else owner before leaving."
                    </p>
                }
                    .into_any()
            } else {
                view! {
                    <ActionForm action=leave>
                        <button type="submit" class="danger">"Leave organization"</button>
                    </ActionForm>
                }
                    .into_any()
            }}
        </section>
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
    let rows = page
        .members
        .into_iter()
        .map(|m| {
            let manageable = Some(m.user_id) != my_id && me.can_manage(m.role);
            view! { <MemberRow m me manageable change remove/> }.into_any()
        })
        .collect();
    view! {
        <DataTable
            testid="members"
            headers=[Header::from("Name"), "Email".into(), "Role".into(), "Joined".into(), Header::hidden("Actions")]
            rows
        />
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
                <DateTime at=m.joined_at date_only=true/>
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

#[cfg(test)]
mod tests {
    use super::*;

    fn member(role: Role) -> MemberOut {
        MemberOut {
            user_id: crate::model::UserId::from_u128(id_for(role)),
            name: format!("{role:?}"),
            email: format!("{role:?}@example.com").to_lowercase(),
            role,
            joined_at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        }
    }

    fn id_for(role: Role) -> u128 {
        Role::ALL.iter().position(|r| *r == role).unwrap() as u128 + 1
    }

    fn page(my_role: Role, roles: &[Role]) -> Page {
        let members: Vec<MemberOut> = roles.iter().map(|r| member(*r)).collect();
        Page {
            my_user_id: Some(members[0].user_id),
            members,
            my_role,
        }
    }

    #[test]
    fn the_only_owner_is_told_they_cannot_leave() {
        assert!(is_sole_owner(&page(
            Role::Owner,
            &[Role::Owner, Role::Member]
        )));
    }

    #[test]
    fn an_owner_beside_another_owner_may_leave() {
        let mut two_owners = page(Role::Owner, &[Role::Owner, Role::Member]);
        two_owners.members[1].role = Role::Owner;
        assert!(!is_sole_owner(&two_owners));
    }

    #[test]
    fn a_member_may_leave_an_organization_with_one_owner() {
        assert!(!is_sole_owner(&page(
            Role::Member,
            &[Role::Member, Role::Owner]
        )));
    }
}
