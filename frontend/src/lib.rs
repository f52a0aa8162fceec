//! The browser entry point. Pages are rendered by the server and stay as
//! they are; only the islands in them (`#[island]` components of `app`)
//! come to life here, which leptos's island script does after this returns.
// The islands are exported from `app`; linking it is what puts them in the
// wasm.
extern crate app;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    // Proof for the browser tests that this page's wasm loaded and ran: a
    // page whose wasm failed never gets the attribute.
    if let Some(html) = leptos::prelude::document().document_element() {
        let _ = html.set_attribute("data-hydrated", "");
    }
}
