//! Forgot / reset password.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_params_map};

use crate::api::accounts::{RequestPasswordReset, ResetPassword};
use crate::ui::actions::form_action;
use crate::ui::components::{action_error, field_error, FormError, SubmitButton, TextField};
use crate::ui::flash::flash_notice;

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = form_action::<RequestPasswordReset>();
    let error = action_error(action);
    // The form's answer comes back here, saying so.
    let sent = flash_notice;
    view! {
        <Title text="Forgot your password · Codebook"/>
        <main class="page narrow">
            <h1>"Forgot your password?"</h1>
            {move || match sent() {
                Some(sent) => view! { <p role="status">{sent}</p> }.into_any(),
                None => view! {
                    <p class="lead">"We will mail you a link to choose a new one."</p>
                    <ActionForm action=action attr:class="stack" attr:novalidate=true>
                        <FormError error/>
                        <TextField label="Email" name="email" kind="email" autocomplete="email" error=field_error(error, "email")/>
                        <SubmitButton label="Send reset link" pending_label="Sending…" pending=action.pending()/>
                    </ActionForm>
                }
                .into_any(),
            }}
            <p><A href="/login">"Back to log in"</A></p>
        </main>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let action = form_action::<ResetPassword>();
    let error = action_error(action);
    view! {
        <Title text="Choose a new password · Codebook"/>
        <main class="page narrow">
            <h1>"Choose a new password"</h1>
            <ActionForm action=action attr:class="stack" attr:novalidate=true>
                <FormError error/>
                <input type="hidden" name="token" value=token/>
                <TextField
                    label="New password"
                    name="password"
                    kind="password"
                    autocomplete="new-password"
                    hint="At least 10 characters. Every session of your account will be logged out."
                    error=field_error(error, "password")
                />
                <SubmitButton label="Set new password" pending_label="Saving…" pending=action.pending()/>
            </ActionForm>
        </main>
    }
}
