//! The browser entry point: hydrate the page the server rendered (once the
//! chunk of its lazy route has arrived); from then on the app's router
//! moves between pages without loading a document, fetching each page's
//! chunk the first time it is shown.
use leptos::prelude::document;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    wasm_bindgen_futures::spawn_local(async {
        let Some(body) = document().body() else {
            return;
        };
        leptos::mount::hydrate_from_async(body, app::App)
            .await
            .forget();
        // Proof for the browser tests that this page's wasm loaded and
        // hydrated it: a page that did not never gets the attribute (a
        // failed hydration panics before this line).
        if let Some(html) = document().document_element() {
            let _ = html.set_attribute("data-hydrated", "");
        }
    });
}
