//! Sign-up, log-in, password reset and the account page.
mod account;
mod reset;

pub use account::AccountPage;
pub use reset::{ForgotPasswordPage, ResetPasswordPage};

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::accounts::{LogIn, SignUp};
use crate::ui::actions::form_action;
use crate::ui::components::{action_error, field_error, FormError, SubmitButton, TextField};

#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = form_action::<SignUp>();
    let error = action_error(action);
    view! {
        <Title text="Create your account · Codebook"/>
        <main class="page narrow">
            <h1>"Create your account"</h1>
            <p class="lead">"You will be the owner of a new organization."</p>
            <ActionForm action=action attr:class="stack" attr:novalidate=true>
                <FormError error/>
                <TextField label="Your name" name="name" autocomplete="name" error=field_error(error, "name")/>
                <TextField label="Email" name="email" kind="email" autocomplete="email" error=field_error(error, "email")/>
                <TextField
                    label="Password"
                    name="password"
                    kind="password"
                    autocomplete="new-password"
                    hint="At least 10 characters."
                    error=field_error(error, "password")
                />
                <TextField
                    label="Organization name"
                    name="organization"
                    autocomplete="organization"
                    error=field_error(error, "organization")
                />
                <SubmitButton label="Create account" pending_label="Creating account…" pending=action.pending()/>
            </ActionForm>
            <p>"Already have an account? " <A href="/login">"Log in"</A></p>
        </main>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = form_action::<LogIn>();
    let error = action_error(action);
    let query = leptos_router::hooks::use_query_map();
    let after_reset = move || query.read().get("reset").is_some();
    view! {
        <Title text="Log in · Codebook"/>
        <main class="page narrow">
            <h1>"Log in"</h1>
            <Show when=after_reset>
                <p class="notice" role="status">"Your password was changed and every session logged out. Log in with the new one."</p>
            </Show>
            <ActionForm action=action attr:class="stack" attr:novalidate=true>
                <FormError error/>
                <TextField label="Email" name="email" kind="email" autocomplete="username" error=field_error(error, "email")/>
                <TextField
                    label="Password"
                    name="password"
                    kind="password"
                    autocomplete="current-password"
                    error=field_error(error, "password")
                />
                <div class="field checkbox">
                    <input type="checkbox" id="field-remember" name="remember" value="on"/>
                    <label for="field-remember">"Remember me for 30 days"</label>
                </div>
                <SubmitButton label="Log in" pending_label="Logging in…" pending=action.pending()/>
            </ActionForm>
            <p><A href="/forgot-password">"Forgot your password?"</A></p>
            <p>"New to Codebook? " <A href="/signup">"Create an account"</A></p>
        </main>
    }
}
