//! `/account`: the signed-in user's profile, sessions and password.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::accounts::{
    list_sessions, ChangePassword, DeleteAccount, RevokeOtherSessions, RevokeSession,
};
use crate::model::accounts::SessionOut;
use crate::ui::actions::form_action;
use crate::ui::components::{
    action_error, field_error, DataTable, DateTime, FormError, Header, Loaded, SubmitButton,
    TextField,
};
use crate::ui::layout::current_user_resource;
use crate::ui::resource::page_resource;

#[component]
pub fn AccountPage() -> impl IntoView {
    let revoke = form_action::<RevokeSession>();
    let revoke_others = form_action::<RevokeOtherSessions>();
    let change = form_action::<ChangePassword>();
    let sessions = page_resource(|| (), |_| list_sessions());
    let change_error = action_error(change);
    view! {
        <Title text="Your account · Codebook"/>
        <main class="page">
            <h1>"Your account"</h1>
            <Loaded resource=current_user_resource() let:user>
                {user.map(|u| view! { <p class="lead">{u.name}" · "{u.email}</p> })}
            </Loaded>
            <section class="panel" aria-labelledby="sessions-heading">
                <h2 id="sessions-heading">"Sessions"</h2>
                <FormError error=action_error(revoke)/>
                <Loaded resource=sessions let:list>
                    <SessionList list revoke/>
                </Loaded>
                <ActionForm action=revoke_others>
                    <button type="submit" class="danger">"Log out all other sessions"</button>
                </ActionForm>
            </section>
            <section class="panel" aria-labelledby="password-heading">
                <h2 id="password-heading">"Change password"</h2>
                <ActionForm action=change attr:class="stack" attr:novalidate=true>
                    <FormError error=change_error/>
                    <TextField
                        label="Current password"
                        name="current_password"
                        kind="password"
                        autocomplete="current-password"
                        error=field_error(change_error, "current_password")
                    />
                    <TextField
                        label="New password"
                        name="new_password"
                        kind="password"
                        autocomplete="new-password"
                        hint="At least 10 characters. Your other sessions will be logged out."
                        error=field_error(change_error, "new_password")
                    />
                    <SubmitButton label="Change password" pending_label="Changing…" pending=change.pending()/>
                </ActionForm>
            </section>
            <DeleteAccountForm/>
        </main>
    }
}

/// Deleting the account, behind a disclosure and the password. The server
/// refuses while the user is the last owner of an organization and names
/// it; on success it signs out and sends to the sign-up page.
#[component]
fn DeleteAccountForm() -> impl IntoView {
    let delete = form_action::<DeleteAccount>();
    let error = action_error(delete);
    view! {
        <section class="danger-zone" aria-labelledby="delete-account-heading">
            <h2 id="delete-account-heading">"Delete your account"</h2>
            <p>
                "Your memberships and sessions end. What you wrote stays in your organizations, "
                "no longer linked to an account. An organization you are the last owner of needs "
                "another owner first."
            </p>
            <details open=move || error.get().is_some()>
                <summary>"Delete account…"</summary>
                <ActionForm action=delete attr:class="stack" attr:novalidate=true>
                    <FormError error/>
                    <TextField
                        label="Your password, to confirm"
                        name="password"
                        kind="password"
                        autocomplete="current-password"
                        error=field_error(error, "password")
                    />
                    <button type="submit" class="danger">"Delete my account"</button>
                </ActionForm>
            </details>
        </section>
    }
}

#[component]
fn SessionList(list: Vec<SessionOut>, revoke: ServerAction<RevokeSession>) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|s| view! { <SessionRow s revoke/> }.into_any())
        .collect();
    view! {
        <DataTable
            testid="sessions"
            headers=[Header::from("Device"), "IP address".into(), "Last seen".into(), Header::hidden("Actions")]
            rows
        />
    }
}

#[component]
fn SessionRow(s: SessionOut, revoke: ServerAction<RevokeSession>) -> impl IntoView {
    let device = s.device();
    view! {
        <tr>
            <td>{device}{s.current.then_some(" (current session)")}</td>
            <td>{s.ip.clone().unwrap_or_default()}</td>
            <td><DateTime at=s.last_seen_at/></td>
            <td>
                {(!s.current).then(|| view! {
                    <ActionForm action=revoke attr:class="inline">
                        <input type="hidden" name="id" value=s.id.to_string()/>
                        <button type="submit" class="danger">"Revoke"</button>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}
