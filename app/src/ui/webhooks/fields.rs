//! The settings of an endpoint as a form shows them: in "Add endpoint" on
//! the list and in the settings form of an endpoint's page.
use leptos::prelude::*;

use crate::model::flash::Typed;
use crate::model::webhooks::{
    EndpointOut, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_SECONDS, EVENT_TYPES, MAX_RETRIES,
    MAX_TIMEOUT_SECONDS,
};
use crate::model::AppError;
use crate::ui::codes::FieldError;

/// What the form starts with: an endpoint's settings, or the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Settings {
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    /// As typed (a refused save shows it again), so text.
    pub timeout_seconds: String,
    pub max_retries: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            url: String::new(),
            description: String::new(),
            event_types: Vec::new(),
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS.to_string(),
            max_retries: DEFAULT_MAX_RETRIES.to_string(),
        }
    }
}

impl From<&EndpointOut> for Settings {
    fn from(e: &EndpointOut) -> Self {
        Settings {
            url: e.url.clone(),
            description: e.description.clone(),
            event_types: e.event_types.clone(),
            timeout_seconds: e.timeout_seconds.to_string(),
            max_retries: e.max_retries.to_string(),
        }
    }
}

impl Settings {
    /// What the form starts with: what was typed, when the server refused
    /// it and this page is the answer, else `otherwise`.
    pub fn typed_or(otherwise: impl FnOnce() -> Settings) -> Settings {
        crate::ui::flash::refused_form(|form| Some(Settings::from_typed(form)))
            .unwrap_or_else(otherwise)
    }

    fn from_typed(form: Typed<'_>) -> Settings {
        Settings {
            url: form.value("url"),
            description: form.value("description"),
            event_types: form.values("event_types").map(str::to_owned).collect(),
            timeout_seconds: form.value("timeout_seconds"),
            max_retries: form.value("max_retries"),
        }
    }
}

/// The event types a person may subscribe to: `webhook.test` goes only to
/// the endpoint tested, whatever it subscribes to, so it is not offered.
pub(super) fn subscribable_events() -> impl Iterator<Item = &'static str> {
    EVENT_TYPES
        .into_iter()
        .filter(|event| *event != "webhook.test")
}

/// The ids that describe a field: its hint, and its error while it has one.
fn described_by(
    error: Signal<Option<AppError>>,
    field: &'static str,
    error_id: String,
    hint_id: Option<String>,
) -> impl Fn() -> Option<String> + Send + Sync + 'static {
    move || {
        let has_error = error.get().and_then(|e| e.message_for(field)).is_some();
        let ids: Vec<String> = hint_id
            .iter()
            .chain(has_error.then_some(&error_id))
            .cloned()
            .collect();
        // No attribute at all rather than an empty reference list.
        (!ids.is_empty()).then(|| ids.join(" "))
    }
}

fn invalid(
    error: Signal<Option<AppError>>,
    field: &'static str,
) -> impl Fn() -> String + Send + Sync + 'static {
    move || {
        error
            .get()
            .is_some_and(|e| e.field.as_deref() == Some(field))
            .to_string()
    }
}

/// The fields of an endpoint, filled in from `values`.
#[component]
pub(super) fn EndpointFields(
    /// Prefix of the ids, so two forms on a page never share one.
    prefix: &'static str,
    values: Settings,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let id = move |name: &str| format!("{prefix}-{name}");
    let Settings {
        url,
        description,
        event_types,
        timeout_seconds,
        max_retries,
    } = values;
    view! {
        <div class="field">
            <label for=id("url")>"Endpoint URL"</label>
            <input
                id=id("url")
                name="url"
                type="url"
                required
                maxlength="2048"
                autocomplete="off"
                value=url
                aria-invalid=invalid(error, "url")
                aria-describedby=described_by(error, "url", id("url-error"), Some(id("url-hint")))
            />
            <p class="field-hint" id=id("url-hint")>
                "Where Codebook posts each event, for example https://example.com/hooks/codebook."
            </p>
            <FieldError error field="url" id=id("url-error")/>
        </div>
        <div class="field">
            <label for=id("description")>"Description " <span class="muted">"(optional)"</span></label>
            <input
                id=id("description")
                name="description"
                type="text"
                maxlength="500"
                value=description
                aria-invalid=invalid(error, "description")
                aria-describedby=described_by(error, "description", id("description-error"), None)
            />
            <FieldError error field="description" id=id("description-error")/>
        </div>
        <fieldset class="event-types" aria-describedby=described_by(error, "event_types", id("events-error"), Some(id("events-hint")))>
            <legend>"Events"</legend>
            <p class="field-hint" id=id("events-hint")>"Tick none to receive every event."</p>
            <div class="event-type-list">
                {subscribable_events()
                    .map(|event| {
                        let checkbox_id = id(&format!("event-{}", event.replace('.', "-")));
                        let checked = event_types.iter().any(|e| e == event);
                        view! {
                            <div class="field checkbox">
                                <input id=checkbox_id.clone() type="checkbox" name="event_types[]" value=event checked=checked/>
                                <label for=checkbox_id>{event}</label>
                            </div>
                        }
                    })
                    .collect_view()}
            </div>
            <FieldError error field="event_types" id=id("events-error")/>
        </fieldset>
        <NumberField
            id=id("timeout")
            label="Timeout (seconds)"
            name="timeout_seconds"
            min=1
            max=MAX_TIMEOUT_SECONDS
            value=timeout_seconds
            hint=format!("How long to wait for an answer: 1 to {MAX_TIMEOUT_SECONDS}.")
            error
        />
        <NumberField
            id=id("retries")
            label="Max retries"
            name="max_retries"
            min=0
            max=MAX_RETRIES
            value=max_retries
            hint=format!("How often a failed delivery is tried again, at growing intervals: 0 to {MAX_RETRIES}.")
            error
        />
    }
}

/// A whole number in a range, with its hint and its error.
#[component]
pub(crate) fn NumberField(
    id: String,
    label: &'static str,
    name: &'static str,
    min: i32,
    max: i32,
    value: String,
    hint: String,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let (hint_id, error_id) = (format!("{id}-hint"), format!("{id}-error"));
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name
                type="number"
                inputmode="numeric"
                min=min.to_string()
                max=max.to_string()
                value=value
                aria-invalid=invalid(error, name)
                aria-describedby=described_by(error, name, error_id.clone(), Some(hint_id.clone()))
            />
            <p class="field-hint" id=hint_id>{hint}</p>
            <FieldError error field=name id=error_id/>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_is_offered_but_the_test_event() {
        let offered: Vec<&str> = subscribable_events().collect();
        assert_eq!(offered.len(), EVENT_TYPES.len() - 1);
        assert!(offered.contains(&"code.created"));
        assert!(!offered.contains(&"webhook.test"));
    }

    #[test]
    fn a_new_endpoint_starts_with_the_defaults_and_every_event() {
        let settings = Settings::default();
        assert_eq!(
            settings.timeout_seconds,
            DEFAULT_TIMEOUT_SECONDS.to_string()
        );
        assert_eq!(settings.max_retries, DEFAULT_MAX_RETRIES.to_string());
        assert!(settings.event_types.is_empty());
    }
}
