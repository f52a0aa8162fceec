//! `/codes`: search and browse the codes. The whole state of the list is in
//! the URL (`?q=fracture&severity=high&after=…`), so a search is a link, the
//! back button works, and the form works without JavaScript.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Form, hooks::use_query_map};

use super::{active_label, load_error, when, Viewer};
use crate::api::codes::list_codes;
use crate::model::codes::{CodeFilter, CodeOut, CodePage, Severity, SortOrder};
use crate::model::Permission;
use crate::ui::components::{DataTable, TextField};
use crate::ui::resource::page_resource;

#[component]
pub fn CodesPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| CodeFilter::from_params(|name| query.read().get(name)));
    let data = page_resource(move || filter.get(), list_codes);
    view! {
        <Title text="Codes · Codebook"/>
        <main class="page">
            <h1>"Codes"</h1>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move { view! { <Actions viewer=Viewer::load().await filter/> } })}
            </Transition>
            <SearchForm filter/>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(page) => view! { <CodeTable page filter=filter.get_untracked()/> }.into_any(),
                        Err(e) => load_error(e),
                    }
                })}
            </Transition>
        </main>
    }
}

/// What the viewer's role allows from here: new code, import, export.
#[component]
fn Actions(viewer: Viewer, filter: Memo<CodeFilter>) -> impl IntoView {
    let export = move |format: &str| {
        let query = CodeFilter {
            after: None,
            ..filter.get()
        }
        .to_query();
        format!("/codes/export.{format}?{query}")
    };
    let bulk = viewer.can(Permission::BulkImportExport);
    view! {
        <nav aria-label="Code actions" class="toolbar">
            {viewer.can(Permission::WriteCodes).then(|| view! { <a href="/codes/new" class="button">"New code"</a> })}
            {bulk.then(|| view! {
                <a href="/codes/import" class="button">"Import"</a>
                <a href="/codes/imports">"Import history"</a>
                // Files, not pages: `rel=external` keeps the router from
                // handling them as a code id.
                <a href=move || export("csv") rel="external" download>"Export CSV"</a>
                <a href=move || export("json") rel="external" download>"Export JSON"</a>
            })}
        </nav>
    }
}

/// The search form: a GET form onto this page, so its answer is a link.
/// In the running app the list follows the words as they are typed.
#[component]
fn SearchForm(filter: Memo<CodeFilter>) -> impl IntoView {
    let f = move || filter.get();
    let search_as_typed = search_while_typing(filter);
    view! {
        <Form method="GET" action="" noscroll=true attr:class="code-search" attr:role="search" attr:aria-label="Codes">
            <TextField
                id="code-q"
                label="Search"
                name="q"
                kind="search"
                required=false
                value=move || f().q.unwrap_or_default()
                hint="Words of the description (fract femur), or the start of a code (S72.0)."
                class:grow=true
                on:input=search_as_typed
            />
            <TextField id="code-category" label="Category" name="category" required=false value=move || f().category.unwrap_or_default()/>
            <div class="field">
                <label for="code-severity">"Severity"</label>
                <select id="code-severity" name="severity">
                    <option value="" selected=move || f().severity.is_none()>"Any"</option>
                    {Severity::ALL
                        .into_iter()
                        .map(|s| view! { <option value=s.as_str() selected=move || f().severity == Some(s)>{s.label()}</option> })
                        .collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="code-active">"Status"</label>
                <select id="code-active" name="active">
                    <option value="" selected=move || f().active.is_none()>"Any"</option>
                    <option value="true" selected=move || f().active == Some(true)>"Active"</option>
                    <option value="false" selected=move || f().active == Some(false)>"Inactive"</option>
                </select>
            </div>
            <div class="field">
                <label for="code-sort">"Sort by"</label>
                <select id="code-sort" name="sort">
                    <option value="code" selected=move || f().sort == SortOrder::Code>"Code"</option>
                    <option value="updated" selected=move || f().sort == SortOrder::Updated>"Last change"</option>
                </select>
            </div>
            <div class="field checkbox">
                <input id="code-deleted" type="checkbox" name="deleted" value="true" checked=move || f().deleted/>
                <label for="code-deleted">"Show deleted"</label>
            </div>
            <button type="submit" class="primary">"Search"</button>
        </Form>
    }
}

/// An empty catalogue says how to fill it: an import of a release file, or
/// one code at a time.
#[component]
fn EmptyCatalogue() -> impl IntoView {
    view! {
        <div class="notice-box empty-state" role="status">
            <p><strong>"No codes yet."</strong></p>
            <p>
                "Start from a release: " <a href="/codes/import">"import a CSV file"</a>
                " with the header " <code>"code,description,category"</code>
                " (the ICD-10-CM order files, gzipped or not, have this shape), or "
                <a href="/codes/new">"add a code"</a> " by hand."
            </p>
        </div>
    }
}

/// How long typing must pause before the list follows it.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const SEARCH_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

/// Submits the search form once typing pauses, so the list and the address
/// follow the query; each pause is a step of the back button. Nothing is
/// sent when the list already shows what was typed (the search button was
/// pressed meanwhile).
fn search_while_typing(filter: Memo<CodeFilter>) -> impl Fn(leptos::ev::Event) + Copy + 'static {
    let waiting = StoredValue::new(None::<TimeoutHandle>);
    move |ev: leptos::ev::Event| {
        if let Some(handle) = waiting.get_value() {
            handle.clear();
        }
        #[cfg(feature = "hydrate")]
        {
            let input = event_target::<web_sys::HtmlInputElement>(&ev);
            let submit = move || {
                let shown = filter.try_get_untracked().map(|f| f.q.unwrap_or_default());
                if shown.is_some_and(|shown| shown != input.value()) {
                    if let Some(form) = input.form() {
                        let _ = form.request_submit();
                    }
                }
            };
            waiting.set_value(set_timeout_with_handle(submit, SEARCH_PAUSE).ok());
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, filter);
    }
}

#[component]
fn CodeTable(page: CodePage, filter: CodeFilter) -> impl IntoView {
    let first = CodeFilter {
        after: None,
        ..filter.clone()
    };
    let next = page.next.clone().map(|after| CodeFilter {
        after: Some(after),
        ..filter.clone()
    });
    let on_later_page = filter.after.is_some();
    let caption = if filter.deleted {
        "Deleted codes"
    } else {
        "Codes"
    };
    if page.codes.is_empty() {
        if filter == CodeFilter::default() {
            return view! { <EmptyCatalogue/> }.into_any();
        }
        return view! {
            <p class="notice" role="status">"No codes match."</p>
            {on_later_page.then(|| view! { <p><a href=format!("?{}", first.to_query())>"First page"</a></p> })}
        }
        .into_any();
    }
    let pager = view! {
        <nav aria-label="Pages" class="pager">
            {on_later_page.then(|| view! { <a href=format!("?{}", first.to_query())>"First page"</a> })}
            {next.map(|next| view! { <a href=format!("?{}", next.to_query()) rel="next">"Next page"</a> })}
        </nav>
    };
    let rows = page
        .codes
        .into_iter()
        .map(|code| view! { <CodeRow code/> }.into_any())
        .collect();
    view! {
        <DataTable
            class="codes"
            testid="codes"
            caption
            caption_hidden=true
            headers=["Code", "Description", "Category", "Severity", "Status", "Last change"]
            rows
            pager=pager.into_any()
            scroll=true
        />
    }
    .into_any()
}

#[component]
fn CodeRow(code: CodeOut) -> impl IntoView {
    let content = code.content;
    view! {
        <tr data-code=content.code.to_string()>
            <th scope="row"><a href=format!("/codes/{}", code.id)>{content.code.to_string()}</a></th>
            <td>{content.description}</td>
            <td>{content.category}</td>
            <td>{content.severity.label()}</td>
            <td>
                {active_label(content.active)}
                {code.deleted_at.is_some().then(|| view! { " · " <span class="badge deleted">"Deleted"</span> })}
            </td>
            <td>
                {when(code.updated_at)}
                {code.updated_by.map(|name| format!(" by {name}"))}
            </td>
        </tr>
    }
}
