//! `/settings`: name, slug and deletion of the current organization;
//! `/organizations/new`: another organization.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::orgs::{CreateOrganization, DeleteOrganization, UpdateOrganization};
use crate::model::accounts::CurrentOrganization;
use crate::model::Permission;
use crate::ui::actions::form_action;
use crate::ui::components::{
    action_error, field_error, FormError, Loaded, SubmitButton, TextField,
};
use crate::ui::layout::current_user_resource;

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <Title text="Organization settings · Codebook"/>
        <main class="page narrow">
            <h1>"Organization settings"</h1>
            <Loaded resource=current_user_resource() let:user>
                {match user.and_then(|u| u.organization) {
                    Some(org) => view! { <SettingsForms org/> }.into_any(),
                    None => view! { <div class="form-error" role="alert">"No current organization."</div> }.into_any(),
                }}
            </Loaded>
        </main>
    }
}

#[component]
fn SettingsForms(org: CurrentOrganization) -> impl IntoView {
    let update = form_action::<UpdateOrganization>();
    let delete = form_action::<DeleteOrganization>();
    let update_error = action_error(update);
    let delete_error = action_error(delete);
    let may_edit = org.role.can(Permission::ManageSettings);
    let may_delete = org.role.can(Permission::DeleteOrganization);
    let confirm_label = format!("Type {} to confirm", org.slug);
    view! {
        <Show when=move || !may_edit>
            <p class="muted">"Only admins and owners can change these settings."</p>
        </Show>
        <ActionForm action=update attr:class="stack">
            <FormError error=update_error/>
            <div class="field">
                <label for="org-name">"Name"</label>
                <input id="org-name" name="name" value=org.name.clone() required disabled=!may_edit/>
                {move || field_error(update_error, "name").get().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
            </div>
            <div class="field">
                <label for="org-slug">"Slug"</label>
                <input id="org-slug" name="slug" value=org.slug.to_string() required disabled=!may_edit aria-describedby="org-slug-hint"/>
                <p class="field-hint" id="org-slug-hint">"Lower-case letters and digits joined by dashes."</p>
                {move || field_error(update_error, "slug").get().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
            </div>
            {may_edit.then(|| view! { <SubmitButton label="Save settings" pending_label="Saving…" pending=update.pending()/> })}
        </ActionForm>
        {may_delete.then(|| view! {
            <section class="danger-zone" aria-labelledby="delete-heading">
                <h2 id="delete-heading">"Delete this organization"</h2>
                <p>"This removes the organization and all its data for good: members, invitations, audit log."</p>
                <ActionForm action=delete attr:class="stack">
                    <FormError error=delete_error/>
                    <TextField label=confirm_label.clone() name="confirmation" autocomplete="off" error=field_error(delete_error, "confirmation")/>
                    <button type="submit" class="danger">"Delete organization"</button>
                </ActionForm>
            </section>
        })}
    }
}

#[component]
pub fn NewOrganizationPage() -> impl IntoView {
    let create = form_action::<CreateOrganization>();
    let error = action_error(create);
    view! {
        <Title text="New organization · Codebook"/>
        <main class="page narrow">
            <h1>"New organization"</h1>
            <p class="lead">"You will be its owner."</p>
            // Wait for the signed-in user like every other signed-in page, so
            // the server answers a signed-out visitor with the layout's
            // redirect, never with a bare form.
            <Loaded resource=current_user_resource() let:_user>
                <ActionForm action=create attr:class="stack" attr:novalidate=true>
                    <FormError error/>
                    <TextField label="Organization name" name="name" autocomplete="organization" error=field_error(error, "name")/>
                    <SubmitButton label="Create organization" pending_label="Creating…" pending=create.pending()/>
                </ActionForm>
            </Loaded>
        </main>
    }
}
