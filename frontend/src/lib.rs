//! The browser entry point: hydrate the page the server rendered; from then
//! on the app's router moves between pages without loading a document.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // Proof for the browser tests that this page's wasm loaded and
    // hydrated it: a page that did not never gets the attribute (a failed
    // hydration panics before this line).
    if let Some(html) = leptos::prelude::document().document_element() {
        let _ = html.set_attribute("data-hydrated", "");
    }
}
