//! The command palette: Ctrl-K (⌘K on a Mac), or the sidebar's "Go to…",
//! opens a box that jumps to any page, or to any code by its code or the
//! words of its description. The browser only: without JavaScript the
//! sidebar and the codes search do the same.
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::model::codes::{CodeFilter, CodeOut};

/// Where the palette can jump, as people call the pages.
const PAGES: &[(&str, &str)] = &[
    ("Dashboard", "/dashboard"),
    ("Codes", "/codes"),
    ("New code", "/codes/new"),
    ("Import codes", "/codes/import"),
    ("Import history", "/codes/imports"),
    ("Releases", "/releases"),
    ("Members", "/members"),
    ("Webhooks", "/webhooks"),
    ("API keys", "/api-keys"),
    ("Audit log", "/audit"),
    ("Settings", "/settings"),
    ("Your account", "/account"),
    ("New organization", "/organizations/new"),
];

/// Codes the palette lists at most.
const CODES_SHOWN: usize = 8;

/// One thing the palette can jump to.
#[derive(Clone, PartialEq)]
struct Target {
    label: String,
    detail: Option<String>,
    href: String,
}

fn matching_pages(query: &str) -> Vec<Target> {
    let query = query.trim().to_lowercase();
    PAGES
        .iter()
        .filter(|(label, _)| label.to_lowercase().contains(&query))
        .map(|(label, href)| Target {
            label: (*label).to_owned(),
            detail: Some("Page".to_owned()),
            href: (*href).to_owned(),
        })
        .collect()
}

fn code_target(code: CodeOut) -> Target {
    Target {
        label: code.content.code.to_string(),
        detail: Some(code.content.description),
        href: format!("/codes/{}", code.id),
    }
}

/// The button and the shortcut that open the palette; the palette itself
/// is a chunk of its own, fetched the first time it opens.
#[component]
pub fn CommandPalette() -> impl IntoView {
    let open = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        let listener = window_event_listener(leptos::ev::keydown, move |ev| {
            if (ev.ctrl_key() || ev.meta_key()) && ev.key().eq_ignore_ascii_case("k") {
                ev.prevent_default();
                open.set(true);
            }
        });
        on_cleanup(move || listener.remove());
    }
    // Without JavaScript there is nothing to open: the button shows once
    // the browser runs the app (and the shortcut listens).
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    view! {
        <button type="button" class="link palette-open" hidden=move || !ready.get() on:click=move |_| open.set(true)>
            "Go to…" <kbd>"Ctrl K"</kbd>
        </button>
        <Show when=move || open.get()>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move { palette(open).await })}
            </Suspense>
        </Show>
    }
}

/// How long typing must pause before the palette asks the server for codes.
const SEARCH_PAUSE: std::time::Duration = std::time::Duration::from_millis(150);

#[lazy]
async fn palette(open: RwSignal<bool>) -> AnyView {
    // What is typed filters the pages at once; the codes search follows it
    // once typing pauses, so a word typed quickly is one request, not six.
    let query = RwSignal::new(String::new());
    let searched = RwSignal::new(String::new());
    let pending = StoredValue::new(None::<TimeoutHandle>);
    let type_query = move |typed: String| {
        query.set(typed.clone());
        if let Some(handle) = pending.get_value() {
            handle.clear();
        }
        let handle = set_timeout_with_handle(move || searched.set(typed), SEARCH_PAUSE).ok();
        pending.set_value(handle);
    };
    on_cleanup(move || {
        if let Some(handle) = pending.try_get_value().flatten() {
            handle.clear();
        }
    });
    let active = RwSignal::new(0_usize);
    // The box has the keyboard as soon as it shows (`autofocus` only acts
    // on a document's first load). The palette is built before it is put
    // into the page, where focusing it does nothing: it is focused on the
    // next frame, once it is there.
    let input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = input.get() {
            request_animation_frame(move || {
                let _ = input.focus();
            });
        }
    });
    let codes = LocalResource::new(move || {
        let words = searched.get();
        async move {
            if words.trim().chars().count() < 2 {
                return Vec::new();
            }
            let filter = CodeFilter {
                q: Some(words),
                ..CodeFilter::default()
            };
            crate::api::codes::list_codes(filter)
                .await
                .map(|page| {
                    page.codes
                        .into_iter()
                        .take(CODES_SHOWN)
                        .map(code_target)
                        .collect()
                })
                .unwrap_or_default()
        }
    });
    let targets = Memo::new(move |_| {
        let mut all = matching_pages(&query.get());
        all.extend(codes.get().unwrap_or_default());
        all
    });
    let navigate = use_navigate();
    // Closing drops this palette and everything it owns: last.
    let go = Callback::new(move |href: String| {
        navigate(&href, Default::default());
        open.set(false);
    });
    let on_key = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "Escape" => open.set(false),
        "ArrowDown" => {
            ev.prevent_default();
            active.update(|i| *i = (*i + 1).min(targets.get_untracked().len().saturating_sub(1)));
        }
        "ArrowUp" => {
            ev.prevent_default();
            active.update(|i| *i = i.saturating_sub(1));
        }
        "Enter" => {
            ev.prevent_default();
            if let Some(target) = targets.get_untracked().get(active.get_untracked()) {
                go.run(target.href.clone());
            }
        }
        _ => {}
    };
    view! {
            <div class="palette-backdrop" on:click=move |_| open.set(false)></div>
            <div class="palette" role="dialog" aria-modal="true" aria-label="Go to">
                <input
                    type="search"
                    class="palette-input"
                    aria-label="Go to a page, or a code by its code or words"
                    placeholder="A page, a code, or words of a description"
                    node_ref=input
                    on:input=move |ev| {
                        type_query(event_target_value(&ev));
                        active.set(0);
                    }
                    on:keydown=on_key
                />
                <ul class="palette-results" aria-label="Matches">
                    <For
                        each=move || targets.get().into_iter().enumerate()
                        key=|(i, target)| (*i, target.href.clone())
                        children=move |(i, target)| {
                            let href = target.href.clone();
                            view! {
                                <li class:active=move || active.get() == i>
                                    <a href=target.href.clone() on:click=move |ev| {
                                        ev.prevent_default();
                                        go.run(href.clone());
                                    }>
                                        <strong>{target.label.clone()}</strong>
                                        {target.detail.clone().map(|d| view! { " " <span class="palette-detail">{d}</span> })}
                                    </a>
                                </li>
                            }
                        }
                    />
                </ul>
            </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_match_any_part_of_their_name_ignoring_case() {
        let found: Vec<String> = matching_pages("KEY").into_iter().map(|t| t.href).collect();
        assert_eq!(found, ["/api-keys"]);
        assert_eq!(matching_pages("").len(), PAGES.len());
        assert!(matching_pages("nothing like this").is_empty());
    }
}
