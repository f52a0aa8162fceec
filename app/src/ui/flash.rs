//! The flash of the page being rendered (`model::flash`): taken once per
//! page by `App`, and shown by the secret dialog and the notice line.
use leptos::prelude::*;

use crate::model::flash::{Flash, Typed};

#[derive(Clone)]
struct PageFlash(Option<Flash>);

/// Takes this request's flash, if it is for this page, for the page's
/// components to show.
pub fn provide_page_flash() {
    #[cfg(feature = "ssr")]
    let flash = crate::api::server::take_flash();
    #[cfg(not(feature = "ssr"))]
    let flash = None;
    provide_context(PageFlash(flash));
}

pub fn page_flash() -> Option<Flash> {
    use_context::<PageFlash>().and_then(|flash| flash.0)
}

/// What `read` makes of the form the server refused, when this page is its
/// answer.
pub fn refused_form<T>(read: impl FnOnce(Typed<'_>) -> Option<T>) -> Option<T> {
    page_flash().and_then(|flash| flash.typed().and_then(read))
}

/// The value typed into field `name` of a form the server refused, when
/// this page is its answer.
pub fn typed_value(name: &str) -> Option<String> {
    refused_form(|form| Some(form.value(name)))
}

/// What the last form did, said once at the top of the page it led to.
#[component]
pub fn FlashNotice() -> impl IntoView {
    page_flash().and_then(|flash| {
        flash
            .notice()
            .map(|notice| view! { <p class="notice flash" role="status">{notice.to_owned()}</p> })
    })
}
