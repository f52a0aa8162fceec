//! The flash of the page being shown (`model::flash`): what the last form
//! left for it. The server render takes it from the request and hands it
//! to the browser with the page; after that, each time the app moves to
//! another page or a form answers, the browser asks the server for the
//! flash of the page it now shows.
use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::model::flash::{Flash, Typed};
use crate::ui::resource::Json;

#[derive(Clone, Copy)]
struct PageFlash(RwSignal<Option<Flash>>);

/// Provides the page's flash to the components of every page; inside the
/// router, as it follows the location.
#[component]
pub fn PageFlashScope(children: Children) -> impl IntoView {
    let flash = RwSignal::new(flash_of_first_page());
    let location = use_location();
    let shown = move || (location.pathname.get(), crate::ui::actions::data_version());
    Effect::watch(
        shown,
        move |(path, _), before, _| {
            // Another page: the last one's flash is gone. The same page,
            // reloaded after a form: its flash stays until a new one comes.
            if before.is_some_and(|(before, _)| before != path) {
                flash.set(None);
            }
            let path = path.clone();
            leptos::task::spawn_local(async move {
                if let Ok(Some(taken)) = crate::api::flash::take_page_flash(path).await {
                    flash.set(Some(taken));
                }
            });
        },
        false,
    );
    provide_context(PageFlash(flash));
    children()
}

/// The server takes the flash of the page it renders; the browser reads
/// the same value from the page as it hydrates it.
fn flash_of_first_page() -> Option<Flash> {
    SharedValue::<_, Json>::new_with_encoding(|| {
        #[cfg(feature = "ssr")]
        let flash = crate::api::server::take_flash();
        #[cfg(not(feature = "ssr"))]
        let flash = None;
        flash
    })
    .into_inner()
}

/// The page's flash, as it is when a component is built (what the form
/// typed before the server refused it).
pub fn page_flash() -> Option<Flash> {
    use_context::<PageFlash>().and_then(|flash| flash.0.get_untracked())
}

/// The page's flash, followed as it changes (what a form just did).
fn current_flash() -> Option<Flash> {
    use_context::<PageFlash>().and_then(|flash| flash.0.get())
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

/// The secret the last form made, while the page shows it.
pub fn flash_secret() -> Option<String> {
    current_flash().and_then(|flash| flash.secret().map(str::to_owned))
}

/// The notice the last form left, while the page shows it.
pub fn flash_notice() -> Option<String> {
    current_flash().and_then(|flash| flash.notice().map(str::to_owned))
}

/// Forgets the flash (the person has read it and closed it).
pub fn dismiss_flash() {
    if let Some(flash) = use_context::<PageFlash>() {
        flash.0.set(None);
    }
}

/// What the last form did, said once, as a toast that does not move the
/// page.
#[component]
pub fn FlashNotice() -> impl IntoView {
    view! {
        <div class="toasts">
            {move || flash_notice().map(|notice| view! { <p class="notice flash toast" role="status">{notice}</p> })}
        </div>
    }
}
