//! Inviting people (on the members page) and accepting an invitation.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_params_map};

use crate::api::invitations::{
    list_invitations, preview_invitation, AcceptInvitation, InviteMember, ResendInvitation,
    RevokeInvitation,
};
use crate::model::members::{InvitationOut, InvitationPreview};
use crate::model::{AppError, Permission, Role};
use crate::ui::actions::form_action;
use crate::ui::components::{
    action_error, field_error, DataTable, DateTime, FormError, Header, Loaded, SubmitButton,
    TextField,
};
use crate::ui::flash::typed_value;
use crate::ui::resource::{page_resource, PageResource};

/// The invitations part of the members page: its data and its forms,
/// made by the page itself, outside the part it draws again after a change
/// (a load or an answer under way is never left to a part that is gone).
#[derive(Clone, Copy)]
pub struct Invitations {
    list: PageResource<Result<Vec<InvitationOut>, AppError>>,
    invite: ServerAction<InviteMember>,
    resend: ServerAction<ResendInvitation>,
    revoke: ServerAction<RevokeInvitation>,
}

impl Invitations {
    pub fn load() -> Self {
        Invitations {
            list: page_resource(|| (), |_| list_invitations()),
            invite: form_action(),
            resend: form_action(),
            revoke: form_action(),
        }
    }
}

/// The invite form and the open invitations, for those who may invite.
#[component]
pub fn InvitePanel(my_role: Role, invitations: Invitations) -> impl IntoView {
    let Invitations {
        list: invitations,
        invite,
        resend,
        revoke,
    } = invitations;
    let error = action_error(invite);
    // A refused invitation comes back with its role still chosen.
    let chosen = typed_value("role")
        .and_then(|role| role.parse::<Role>().ok())
        .unwrap_or(Role::Member);
    let assignable: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| my_role.can_assign(*r))
        .collect();
    view! {
        <section aria-labelledby="invite-heading" class="panel">
            <h2 id="invite-heading">"Invite someone"</h2>
            <ActionForm action=invite attr:class="stack" attr:novalidate=true>
                <FormError error/>
                <TextField label="Email address" name="email" kind="email" autocomplete="off" error=field_error(error, "email")/>
                <div class="field">
                    <label for="invite-role">"Role"</label>
                    <select id="invite-role" name="role">
                        {assignable
                            .into_iter()
                            .map(|r| view! { <option value=r.as_str() selected=r == chosen>{r.label()}</option> })
                            .collect_view()}
                    </select>
                </div>
                <SubmitButton label="Send invitation" pending_label="Sending…" pending=invite.pending()/>
            </ActionForm>
            <h3>"Pending invitations"</h3>
            <FormError error=action_error(resend)/>
            <FormError error=action_error(revoke)/>
            <Loaded resource=invitations let:list>
                <InvitationList list resend revoke/>
            </Loaded>
        </section>
    }
}

#[component]
fn InvitationList(
    list: Vec<InvitationOut>,
    resend: ServerAction<ResendInvitation>,
    revoke: ServerAction<RevokeInvitation>,
) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="muted">"No pending invitations."</p> }.into_any();
    }
    let rows = list
        .into_iter()
        .map(|invitation| view! { <InvitationRow invitation resend revoke/> }.into_any())
        .collect();
    view! {
        <DataTable
            testid="invitations"
            headers=[Header::from("Email"), "Role".into(), "Expires".into(), Header::hidden("Actions")]
            rows
        />
    }
    .into_any()
}

#[component]
fn InvitationRow(
    invitation: InvitationOut,
    resend: ServerAction<ResendInvitation>,
    revoke: ServerAction<RevokeInvitation>,
) -> impl IntoView {
    let id = invitation.id.to_string();
    let revoke_id = id.clone();
    view! {
        <tr data-email=invitation.email.clone()>
            <td>
                {invitation.email.clone()}
                {invitation.mail_error.clone().map(|e| view! { <p class="field-error">{format!("Mail not delivered: {e}")}</p> })}
            </td>
            <td>{invitation.role.label()}</td>
            <td><DateTime at=invitation.expires_at date_only=true/></td>
            <td>
                <ActionForm action=resend attr:class="inline">
                    <input type="hidden" name="id" value=id/>
                    <button type="submit">"Resend"</button>
                </ActionForm>
                " "
                <ActionForm action=revoke attr:class="inline">
                    <input type="hidden" name="id" value=revoke_id/>
                    <button type="submit" class="danger">"Revoke"</button>
                </ActionForm>
            </td>
        </tr>
    }
}

/// Whether `role` may see the invite panel at all.
pub fn may_invite(role: Role) -> bool {
    role.can(Permission::InviteMembers)
}

/// `/invite/:token`: who invites you where, and how to accept.
#[component]
pub fn AcceptInvitationPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let preview = page_resource(token, preview_invitation);
    view! {
        <Title text="Invitation · Codebook"/>
        <main class="page narrow">
            <Loaded resource=preview error_heading="Invitation not valid" let:p>
                <AcceptForm p token=token()/>
            </Loaded>
        </main>
    }
}

#[component]
fn AcceptForm(p: InvitationPreview, token: String) -> impl IntoView {
    let accept = form_action::<AcceptInvitation>();
    let error = action_error(accept);
    let heading = format!("Join {}", p.organization);
    let summary = format!(
        "You are invited to join {} as {}.",
        p.organization,
        p.role.label()
    );
    let body = match (&p.signed_in_as, p.account_exists) {
        (Some(me), _) if *me == p.email => view! {
            <ActionForm action=accept attr:class="stack">
                <FormError error/>
                <input type="hidden" name="token" value=token/>
                <SubmitButton label="Accept invitation" pending_label="Joining…" pending=accept.pending()/>
            </ActionForm>
        }
            .into_any(),
        (Some(me), _) => view! {
            <div class="form-error" role="alert">
                {format!("This invitation is for {}, but you are logged in as {me}. Log out and log in as {} to accept it.", p.email, p.email)}
            </div>
        }
            .into_any(),
        (None, true) => view! {
            <p>{format!("An account for {} exists. ", p.email)} <A href="/login">"Log in"</A> " and open this link again to accept."</p>
        }
            .into_any(),
        (None, false) => view! {
            <p>{format!("Create your account for {} to accept.", p.email)}</p>
            <ActionForm action=accept attr:class="stack" attr:novalidate=true>
                <FormError error/>
                <input type="hidden" name="token" value=token/>
                <TextField label="Your name" name="name" autocomplete="name" error=field_error(error, "name")/>
                <TextField
                    label="Password"
                    name="password"
                    kind="password"
                    autocomplete="new-password"
                    hint="At least 10 characters."
                    error=field_error(error, "password")
                />
                <SubmitButton label="Create account and join" pending_label="Joining…" pending=accept.pending()/>
            </ActionForm>
        }
            .into_any(),
    };
    view! {
        <h1>{heading}</h1>
        <p class="lead">{summary}</p>
        {body}
    }
}
