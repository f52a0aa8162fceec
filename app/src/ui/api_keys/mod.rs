//! `/api-keys` (admins and owners): the organization's keys with their
//! usage, "Create key", and per key "Rotate" and "Revoke". A new key shows
//! once, in a dialog on the page the form leads back to.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::api_keys::{list_api_keys, CreateApiKey, RevokeApiKey, RotateApiKey};
use crate::model::api_keys::{
    ApiKeyOut, Scope, DEFAULT_RATE_LIMIT_PER_MINUTE, DEFAULT_ROTATION_GRACE_HOURS, MAX_EXPIRY_DAYS,
    MAX_RATE_LIMIT_PER_MINUTE, MAX_ROTATION_GRACE_HOURS,
};
use crate::ui::actions::form_action;
use crate::ui::components::{
    action_error, field_error, DataTable, DateTime, FieldError, FormError, Loaded, SubmitButton,
    TextField,
};
use crate::ui::resource::page_resource;
use crate::ui::secret::SecretDialog;

const KEY_NOTE: &str = "Programs send it as the header Authorization: Bearer <key>.";

#[derive(Clone, Copy)]
struct KeyActions {
    rotate: ServerAction<RotateApiKey>,
    revoke: ServerAction<RevokeApiKey>,
}

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let create = form_action::<CreateApiKey>();
    let actions = KeyActions {
        rotate: form_action(),
        revoke: form_action(),
    };
    let keys = page_resource(|| (), |_| list_api_keys());
    view! {
        <Title text="API keys · Codebook"/>
        <main class="page">
            <h1>"API keys"</h1>
            <p class="lead">
                "Keys let programs use the " <a href="/docs/api">"REST API"</a>
                " for this organization. They belong to the organization, not to the person who made them."
            </p>
            <SecretDialog title="API key" note=KEY_NOTE/>
            <section aria-labelledby="keys-heading">
                <h2 id="keys-heading">"Keys"</h2>
                <Loaded resource=keys let:list>
                    <KeyTable list actions/>
                </Loaded>
            </section>
            <CreateKey create/>
        </main>
    }
}

#[component]
fn KeyTable(list: Vec<ApiKeyOut>, actions: KeyActions) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|key| view! { <KeyRow key actions/> }.into_any())
        .collect();
    view! {
        <FormError error=action_error(actions.rotate)/>
        <FormError error=action_error(actions.revoke)/>
        <DataTable
            class="api-keys"
            testid="api-keys"
            caption="API keys"
            caption_hidden=true
            headers=["Name", "Key", "Scopes", "Status", "Last used", "Requests", "Created", "Actions"]
            rows
            empty="No API keys yet."
            scroll=true
        />
    }
}

#[component]
fn KeyRow(key: ApiKeyOut, actions: KeyActions) -> impl IntoView {
    let scopes = key
        .scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let last_used = match (key.last_used_at, key.last_used_ip.clone()) {
        (Some(at), ip) => view! {
            <DateTime at/>
            {ip.map(|ip| view! { <span class="muted">" from " {ip}</span> })}
        }
        .into_any(),
        (None, _) => view! { <span class="muted">"Never"</span> }.into_any(),
    };
    let created_by = key
        .created_by
        .clone()
        .unwrap_or_else(|| "a former member".into());
    let manageable = key.live && key.replaced_by.is_none();
    view! {
        <tr data-key-name=key.name.clone() data-key-prefix=key.prefix.clone()>
            <th scope="row">{key.name.clone()}</th>
            <td><code>{key.prefix.clone()} "…"</code></td>
            <td>{scopes}</td>
            <td data-testid="key-status">{key.status()}</td>
            <td data-testid="key-last-used">{last_used}</td>
            <td data-testid="key-requests">{key.request_count}</td>
            <td><DateTime at=key.created_at date_only=true/> <span class="muted">" by " {created_by}</span></td>
            <td>
                {manageable.then(|| view! {
                    <RotateForm key=key.clone() rotate=actions.rotate/>
                    <RevokeForm key=key.clone() revoke=actions.revoke/>
                })}
            </td>
        </tr>
    }
}

/// Rotation behind a disclosure: how long the old key keeps working.
#[component]
fn RotateForm(key: ApiKeyOut, rotate: ServerAction<RotateApiKey>) -> impl IntoView {
    let error = action_error(rotate);
    let id = key.id.to_string();
    view! {
        <details class="row-action">
            <summary>"Rotate " <span class="visually-hidden">{key.name.clone()}</span> "…"</summary>
            <ActionForm action=rotate attr:class="stack">
                <input type="hidden" name="id" value=id.clone()/>
                <TextField
                    id=format!("grace-{id}")
                    label="Old key keeps working for (hours)"
                    name="grace_hours"
                    kind="number"
                    min=0
                    max=MAX_ROTATION_GRACE_HOURS
                    required=false
                    value=DEFAULT_ROTATION_GRACE_HOURS.to_string()
                    hint=format!("0 stops it now; at most {MAX_ROTATION_GRACE_HOURS}.")
                    error=field_error(error, "grace_hours")
                />
                <button type="submit">"Rotate key"</button>
            </ActionForm>
        </details>
    }
}

/// Revocation behind a disclosure and a checkbox that must be ticked.
#[component]
fn RevokeForm(key: ApiKeyOut, revoke: ServerAction<RevokeApiKey>) -> impl IntoView {
    let id = key.id.to_string();
    let confirm_id = format!("confirm-revoke-{id}");
    view! {
        <details class="row-action">
            <summary>"Revoke " <span class="visually-hidden">{key.name.clone()}</span> "…"</summary>
            <ActionForm action=revoke attr:class="stack">
                <input type="hidden" name="id" value=id/>
                <div class="field checkbox">
                    <input id=confirm_id.clone() type="checkbox" required/>
                    <label for=confirm_id>"Yes, stop this key now"</label>
                </div>
                <button type="submit" class="danger">"Revoke key"</button>
            </ActionForm>
        </details>
    }
}

/// A new key; the page the form leads back to shows it once.
#[component]
fn CreateKey(create: ServerAction<CreateApiKey>) -> impl IntoView {
    let error = action_error(create);
    view! {
        <section aria-labelledby="create-key-heading" class="panel">
            <h2 id="create-key-heading">"Create key"</h2>
            <ActionForm action=create attr:class="stack">
                <FormError error/>
                <TextField id="key-name" label="Name" name="name" maxlength=100 autocomplete="off" error=field_error(error, "name")/>
                <fieldset class="scopes">
                    <legend>"Scopes"</legend>
                    {Scope::ALL
                        .into_iter()
                        .map(|scope| {
                            let id = format!("scope-{}", scope.as_str().replace(':', "-"));
                            view! {
                                <div class="field checkbox">
                                    <input id=id.clone() type="checkbox" name="scopes[]" value=scope.as_str()/>
                                    <label for=id>
                                        <code>{scope.as_str()}</code> " " <span class="muted">{scope.description()}</span>
                                    </label>
                                </div>
                            }
                        })
                        .collect_view()}
                    <FieldError error=field_error(error, "scopes") id="key-scopes-error".to_owned()/>
                </fieldset>
                <TextField
                    id="key-expiry"
                    label="Expires after (days)"
                    name="expires_in_days"
                    kind="number"
                    min=1
                    max=MAX_EXPIRY_DAYS
                    required=false
                    value=""
                    hint="Empty: never."
                    error=field_error(error, "expires_in_days")
                />
                <TextField
                    id="key-rate-limit"
                    label="Rate limit (requests per minute)"
                    name="rate_limit_per_minute"
                    kind="number"
                    min=1
                    max=MAX_RATE_LIMIT_PER_MINUTE
                    required=false
                    value=DEFAULT_RATE_LIMIT_PER_MINUTE.to_string()
                    hint=format!("Requests past it get 429 until the minute is over; 1 to {MAX_RATE_LIMIT_PER_MINUTE}.")
                    error=field_error(error, "rate_limit_per_minute")
                />
                <SubmitButton label="Create key" pending_label="Creating…" pending=create.pending()/>
            </ActionForm>
        </section>
    }
}
