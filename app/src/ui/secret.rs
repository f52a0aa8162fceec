//! A secret shown once: a webhook's signing secret after it is made or
//! rotated, a new API key. The server never shows it again (it keeps a
//! hash or a sealed copy), so the dialog says so and offers to copy it.
use leptos::html::Input;
use leptos::prelude::*;

/// What the status line says when the secret could only be selected.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const SELECTED_ONLY: &str = "The secret is selected: press Ctrl+C (⌘C on a Mac) to copy it.";

/// Shows `secret` while it holds one; "Done" empties it. Only an action in
/// the browser fills it, so the server always renders nothing here (and
/// hydration finds nothing either).
#[component]
pub fn SecretDialog(
    secret: RwSignal<Option<String>>,
    /// The dialog's heading and the field's label ("Signing secret").
    title: &'static str,
    /// What the holder does with it, after "shown only once".
    note: &'static str,
) -> impl IntoView {
    move || {
        secret
            .get()
            .map(|value| view! { <SecretPanel value title note secret/> })
    }
}

#[component]
fn SecretPanel(
    value: String,
    title: &'static str,
    note: &'static str,
    secret: RwSignal<Option<String>>,
) -> impl IntoView {
    let input = NodeRef::<Input>::new();
    let copied = RwSignal::new(None::<&'static str>);
    // Take the keyboard (and the screen reader) to the secret at once: it
    // is the one thing on the page that must not be missed.
    Effect::new(move |_| {
        if input.get().is_some() {
            select_secret(input);
        }
    });
    view! {
        <section
            role="dialog"
            class="panel secret-dialog"
            aria-labelledby="secret-heading"
            aria-describedby="secret-once"
            data-testid="secret-dialog"
        >
            <h2 id="secret-heading">{title}</h2>
            <p id="secret-once">"This secret is shown only once. " {note}</p>
            <div class="field">
                <label for="one-time-secret">{title}</label>
                <div class="secret-row">
                    <input
                        id="one-time-secret"
                        type="text"
                        readonly
                        autocomplete="off"
                        spellcheck="false"
                        value=value
                        node_ref=input
                    />
                    <button type="button" on:click=move |_| copy_secret(input, copied)>"Copy"</button>
                </div>
            </div>
            <p class="notice" role="status">{move || copied.get()}</p>
            <button type="button" class="primary" on:click=move |_| secret.set(None)>
                "Done: I have stored it"
            </button>
        </section>
    }
}

/// Focuses the secret and selects it, ready to be copied by hand.
#[cfg(feature = "hydrate")]
fn select_secret(input: NodeRef<Input>) {
    if let Some(el) = input.get() {
        // Focus fails only on an element no longer in the page.
        let _ = el.focus();
        el.select();
    }
}

#[cfg(not(feature = "hydrate"))]
fn select_secret(_: NodeRef<Input>) {}

/// Copies the secret to the clipboard; where the browser refuses (no
/// clipboard API, no permission), leaves it selected and says how to copy.
#[cfg(feature = "hydrate")]
fn copy_secret(input: NodeRef<Input>, copied: RwSignal<Option<&'static str>>) {
    use wasm_bindgen::{closure::Closure, JsValue};

    let Some(el) = input.get() else {
        return;
    };
    // Selected first, so the fallback is already in place.
    select_secret(input);
    let Some(written) = write_to_clipboard(&el.value()) else {
        copied.set(Some(SELECTED_ONLY));
        return;
    };
    let done: Closure<dyn FnMut(JsValue)> =
        Closure::once(move |_: JsValue| copied.set(Some("Copied to the clipboard.")));
    let refused: Closure<dyn FnMut(JsValue)> =
        Closure::once(move |_: JsValue| copied.set(Some(SELECTED_ONLY)));
    let _ = written.then2(&done, &refused);
    // The promise holds them until it settles, which may be after this
    // returns; leaking two small closures per click is the simple, safe
    // choice (dropping one the promise still calls would trap).
    done.forget();
    refused.forget();
}

#[cfg(not(feature = "hydrate"))]
fn copy_secret(_: NodeRef<Input>, _: RwSignal<Option<&'static str>>) {}

/// `navigator.clipboard.writeText(text)`, when the browser offers it. Read
/// through `Reflect`, as this crate does not enable web-sys's clipboard
/// bindings (and a page on plain http elsewhere than localhost has none).
#[cfg(feature = "hydrate")]
fn write_to_clipboard(text: &str) -> Option<js_sys::Promise> {
    use js_sys::{Function, Promise, Reflect};
    use wasm_bindgen::{JsCast as _, JsValue};

    let navigator = Reflect::get(&window(), &JsValue::from_str("navigator")).ok()?;
    let clipboard = Reflect::get(&navigator, &JsValue::from_str("clipboard"))
        .ok()
        .filter(JsValue::is_object)?;
    let write_text = Reflect::get(&clipboard, &JsValue::from_str("writeText"))
        .ok()?
        .dyn_into::<Function>()
        .ok()?;
    write_text
        .call1(&clipboard, &JsValue::from_str(text))
        .ok()?
        .dyn_into::<Promise>()
        .ok()
}
