//! `/codes/new`: a new code. On success the server sends the browser to the
//! new code's page, with or without JavaScript.
use leptos::prelude::*;
use leptos_meta::Title;

use super::{CodeFields, Draft};
use crate::api::codes::CreateCode;
use crate::ui::actions::form_action;
use crate::ui::components::{action_error, FormError, SubmitButton};

#[component]
pub fn NewCodePage() -> impl IntoView {
    let create = form_action::<CreateCode>();
    let error = action_error(create);
    // After a refused save the page comes back with what was typed.
    view! {
        <Title text="New code · Codebook"/>
        <main class="page narrow">
            <p><a href="/codes">"← All codes"</a></p>
            <h1>"New code"</h1>
            <ActionForm action=create attr:class="stack">
                <FormError error/>
                <CodeFields prefix="new" values=Draft::typed_or(Draft::new_code) default_severity_choice=true error/>
                <SubmitButton label="Create code" pending_label="Creating…" pending=create.pending()/>
            </ActionForm>
        </main>
    }
}
