//! A secret shown once: a webhook's signing secret after it is made or
//! rotated, a new API key. The server never shows it again (it keeps a
//! hash or a sealed copy), so the dialog says so and offers to copy it.
//! The form that made it hands it to its page as a flash; the page shows it,
//! with or without JavaScript.
use leptos::prelude::*;

use crate::ui::flash::{dismiss_flash, flash_secret};

/// The field that holds the secret, which the copy button reads.
const SECRET_FIELD_ID: &str = "one-time-secret";

/// What the status line says when the secret could only be selected.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const SELECTED_ONLY: &str = "The secret is selected: press Ctrl+C (⌘C on a Mac) to copy it.";

/// Shows the secret the page's flash holds, if any. "Done" closes it; the
/// flash is spent already.
#[component]
pub fn SecretDialog(
    /// The dialog's heading and the field's label ("Signing secret").
    title: &'static str,
    /// What the holder does with it, after "shown only once".
    note: &'static str,
) -> impl IntoView {
    move || flash_secret().map(|value| view! { <SecretPanel value title note/> })
}

#[component]
fn SecretPanel(value: String, title: &'static str, note: &'static str) -> impl IntoView {
    // The keyboard (and the screen reader) go to the secret at once: it is
    // the one thing on the page that must not be missed.
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
                <label for=SECRET_FIELD_ID>{title}</label>
                <div class="secret-row">
                    <input
                        id=SECRET_FIELD_ID
                        type="text"
                        readonly
                        autocomplete="off"
                        spellcheck="false"
                        autofocus
                        value=value
                    />
                    <CopySecret/>
                </div>
            </div>
            // Without JavaScript, loading the page again closes it.
            <form method="get" on:submit=|ev| {
                ev.prevent_default();
                dismiss_flash();
            }>
                <button type="submit" class="primary">"Done: I have stored it"</button>
            </form>
        </section>
    }
}

/// The copy button and what it did. Hidden until the browser runs it:
/// without JavaScript there is nothing to press, and the field is there to
/// select by hand.
#[component]
fn CopySecret() -> impl IntoView {
    let ready = RwSignal::new(false);
    let copied = RwSignal::new(None::<&'static str>);
    Effect::new(move |_| {
        ready.set(true);
        select_secret();
    });
    view! {
        <button type="button" hidden=move || !ready.get() on:click=move |_| copy_secret(copied)>"Copy"</button>
        <p class="notice" role="status">{move || copied.get()}</p>
    }
}

/// Focuses the secret and selects it, ready to be copied by hand.
#[cfg(feature = "hydrate")]
fn select_secret() -> Option<web_sys::HtmlInputElement> {
    use wasm_bindgen::JsCast as _;

    let el = document()
        .get_element_by_id(SECRET_FIELD_ID)?
        .dyn_into::<web_sys::HtmlInputElement>()
        .ok()?;
    // Focus fails only on an element no longer in the page.
    let _ = el.focus();
    el.select();
    Some(el)
}

#[cfg(not(feature = "hydrate"))]
fn select_secret() {}

/// Copies the secret to the clipboard; where the browser refuses (no
/// clipboard API, no permission), leaves it selected and says how to copy.
#[cfg(feature = "hydrate")]
fn copy_secret(copied: RwSignal<Option<&'static str>>) {
    use wasm_bindgen::{closure::Closure, JsValue};

    // Selected first, so the fallback is already in place.
    let Some(el) = select_secret() else {
        return;
    };
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
fn copy_secret(_: RwSignal<Option<&'static str>>) {}

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
