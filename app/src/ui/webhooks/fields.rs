//! The settings of an endpoint as a form shows them: in "Add endpoint" on
//! the list and in the settings form of an endpoint's page.
use leptos::prelude::*;

use crate::model::flash::Typed;
use crate::model::webhooks::{
    EndpointOut, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_SECONDS, EVENT_TYPES,
    MAX_IN_FLIGHT, MAX_RETRIES, MAX_TIMEOUT_SECONDS,
};
use crate::model::AppError;
use crate::ui::components::{described_by, field_error, FieldError, TextField};

/// What the form starts with: an endpoint's settings, or the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Settings {
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    /// As typed (a refused save shows it again), so text.
    pub timeout_seconds: String,
    pub max_retries: String,
    pub max_in_flight: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            url: String::new(),
            description: String::new(),
            event_types: Vec::new(),
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS.to_string(),
            max_retries: DEFAULT_MAX_RETRIES.to_string(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT.to_string(),
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
            max_in_flight: e.max_in_flight.to_string(),
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
            max_in_flight: form.value("max_in_flight"),
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
        max_in_flight,
    } = values;
    // `values` already holds what a refused form typed (`keep_typed=false`).
    view! {
        <TextField
            id=id("url")
            label="Endpoint URL"
            name="url"
            kind="url"
            maxlength=2048
            autocomplete="off"
            value=url
            hint="Where Codebook posts each event, for example https://example.com/hooks/codebook."
            error=field_error(error, "url")
            keep_typed=false
        />
        <TextField
            id=id("description")
            label="Description"
            label_note="(optional)"
            name="description"
            maxlength=500
            required=false
            value=description
            error=field_error(error, "description")
            keep_typed=false
        />
        <fieldset class="event-types" aria-describedby=described_by(Some(id("events-hint")), id("events-error"), field_error(error, "event_types"))>
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
            <FieldError error=field_error(error, "event_types") id=id("events-error")/>
        </fieldset>
        <TextField
            id=id("timeout")
            label="Timeout (seconds)"
            name="timeout_seconds"
            kind="number"
            min=1
            max=MAX_TIMEOUT_SECONDS
            required=false
            value=timeout_seconds
            hint=format!("How long to wait for an answer: 1 to {MAX_TIMEOUT_SECONDS}.")
            error=field_error(error, "timeout_seconds")
            keep_typed=false
        />
        <TextField
            id=id("retries")
            label="Max retries"
            name="max_retries"
            kind="number"
            min=0
            max=MAX_RETRIES
            required=false
            value=max_retries
            hint=format!("How often a failed delivery is tried again, at growing intervals: 0 to {MAX_RETRIES}.")
            error=field_error(error, "max_retries")
            keep_typed=false
        />
        <TextField
            id=id("max-in-flight")
            label="Requests at once"
            name="max_in_flight"
            kind="number"
            min=1
            max=MAX_IN_FLIGHT
            required=false
            value=max_in_flight
            hint=format!("How many deliveries are sent to this endpoint at the same time: 1 to {MAX_IN_FLIGHT}. Raise it only if the receiver handles that many connections at once.")
            error=field_error(error, "max_in_flight")
            keep_typed=false
        />
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
        assert_eq!(settings.max_in_flight, "4");
        assert!(settings.event_types.is_empty());
    }
}
