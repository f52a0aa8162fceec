//! Releases: `/releases` (the list, and "Cut release" for managers and up),
//! `/releases/:name` (its codes, searched like the live list, and its
//! files) and `/releases/:name/changelog` (what changed since, with the
//! Markdown and CSV downloads). Files are plain links (`rel=external`), so
//! the router leaves them to the browser.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::releases::{list_releases, release_changelog, release_codes, CutRelease};
use crate::model::codes::{encode_query_value, CodeFilter};
use crate::model::releases::{
    ChangeKind, ChangelogOut, CodeChange, ReleaseOut, ReleasedCodePage, MAX_DESCRIPTION_LEN,
    MAX_NAME_LEN,
};
use crate::model::{AppError, Permission};
use crate::ui::actions::form_action;
use crate::ui::codes::Viewer;
use crate::ui::components::{
    action_error, field_error, item_load_error, DataTable, DateTime, FormError, Loaded, NotFound,
    SubmitButton, TextField,
};
use crate::ui::resource::page_resource;

#[component]
pub fn ReleasesPage() -> impl IntoView {
    let cut = form_action::<CutRelease>();
    let releases = page_resource(|| (), |_| list_releases());
    view! {
        <Title text="Releases · Codebook"/>
        <main class="page">
            <h1>"Releases"</h1>
            <p class="lead">
                "A release is a named snapshot of every live code at its current version. It never changes: browse it, export it, and see what changed since."
            </p>
            <section aria-labelledby="releases-heading">
                <h2 id="releases-heading">"All releases"</h2>
                <Loaded resource=releases let:list>
                    <ReleaseTable list/>
                </Loaded>
            </section>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let viewer = Viewer::load().await;
                    viewer.can(Permission::PublishReleases).then(|| view! { <CutForm cut/> })
                })}
            </Transition>
        </main>
    }
}

#[component]
fn ReleaseTable(list: Vec<ReleaseOut>) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|release| {
            let by = release.created_by.clone().unwrap_or_else(|| "a former member".into());
            view! {
                <tr data-release=release.name.to_string()>
                    <th scope="row"><a href=format!("/releases/{}", release.name)>{release.name.to_string()}</a></th>
                    <td>{release.code_count}</td>
                    <td><DateTime at=release.created_at/> <span class="muted">" by " {by}</span></td>
                    <td>{release.description.clone()}</td>
                </tr>
            }
            .into_any()
        })
        .collect();
    view! {
        <DataTable
            class="releases"
            testid="releases"
            caption="Releases, newest first"
            caption_hidden=true
            headers=["Release", "Codes", "Cut", "Description"]
            rows
            empty="No releases yet. Cut one to freeze the catalogue as it is now."
            scroll=true
        />
    }
}

#[component]
fn CutForm(cut: ServerAction<CutRelease>) -> impl IntoView {
    let error = action_error(cut);
    view! {
        <section aria-labelledby="cut-heading" class="panel">
            <h2 id="cut-heading">"Cut release"</h2>
            <ActionForm action=cut attr:class="stack">
                <FormError error/>
                <TextField
                    id="release-name"
                    label="Name"
                    name="name"
                    maxlength=MAX_NAME_LEN as u32
                    autocomplete="off"
                    hint="Letters, digits, dots, dashes and underscores, e.g. 2026.2."
                    error=field_error(error, "name")
                />
                <TextField
                    id="release-description"
                    label="Description"
                    name="description"
                    required=false
                    maxlength=MAX_DESCRIPTION_LEN as u32
                    error=field_error(error, "description")
                />
                <SubmitButton label="Cut release" pending_label="Cutting…" pending=cut.pending()/>
            </ActionForm>
        </section>
    }
}

fn release_not_found(error: AppError) -> AnyView {
    let not_found = NotFound {
        heading: Some("Not found"),
        message: "There is no such release in this organization. ",
        back: ("/releases", "Back to the releases"),
    };
    item_load_error(error, not_found, Some("Release"))
}

#[component]
pub fn ReleasePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let filter = Memo::new(move |_| CodeFilter::from_params(|key| query.read().get(key)));
    let page = page_resource(
        move || (name.get(), filter.get()),
        |(name, filter)| release_codes(name, filter),
    );
    view! {
        <Title text=move || format!("Release {} · Codebook", name.get())/>
        <main class="page">
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let filter = filter.get_untracked();
                    match page.await {
                        Ok(page) => view! { <ReleaseView page filter/> }.into_any(),
                        Err(error) => release_not_found(error),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn ReleaseView(page: ReleasedCodePage, filter: CodeFilter) -> impl IntoView {
    let release = page.release.clone();
    let name = release.name.to_string();
    let base = format!("/releases/{name}");
    let q = filter.q.clone().unwrap_or_default();
    let next = page.next.as_ref().map(|after| {
        format!(
            "{base}?q={}&after={}",
            encode_query_value(&q),
            encode_query_value(after)
        )
    });
    let pager = view! {
        <nav aria-label="Release pages" class="pager">
            {filter.after.is_some().then(|| view! { <a href=base.clone()>"First page"</a> })}
            {next.map(|href| view! { <a href=href rel="next">"Next page"</a> })}
        </nav>
    };
    let rows = page
        .codes
        .into_iter()
        .map(|code| {
            let c = code.content;
            view! {
                <tr data-code=c.code.to_string()>
                    <th scope="row"><a href=format!("/codes/{}", code.id)>{c.code.to_string()}</a></th>
                    <td>{c.description}</td>
                    <td>{c.category}</td>
                    <td>{c.severity.as_str()}</td>
                    <td>{if c.active { "yes" } else { "no" }}</td>
                    <td>{code.version}</td>
                </tr>
            }
            .into_any()
        })
        .collect();
    view! {
        <h1>"Release " {name.clone()}</h1>
        <p class="lead">
            {release.code_count} " codes, cut " <DateTime at=release.created_at/>
            {release.created_by.clone().map(|by| view! { " by " {by} })} ". "
            {release.description.clone()}
        </p>
        <div class="actions">
            <a href=format!("{base}/changelog") class="button">"Changes since this release"</a>
            <a href=format!("{base}/export.csv") rel="external" download="">"Export CSV"</a>
            <a href=format!("{base}/export.json") rel="external" download="">"Export JSON"</a>
        </div>
        <Form method="GET" action=base.clone() attr:class="filters" attr:role="search">
            <TextField id="release-q" label="Search this release" name="q" required=false value=q.clone()
                hint="Words of the description, or a code prefix such as S72."/>
            <button type="submit">"Search"</button>
        </Form>
        <DataTable
            class="codes"
            testid="release-codes"
            caption=format!("Codes of release {name}")
            caption_hidden=true
            headers=["Code", "Description", "Category", "Severity", "Active", "Version"]
            rows
            empty="No codes match."
            pager=pager.into_any()
            scroll=true
        />
    }
}

#[component]
pub fn ChangelogPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let to = Memo::new(move |_| query.read().get("to").unwrap_or_else(|| "live".into()));
    let cursor = Memo::new(move |_| query.read().get("cursor"));
    let log = page_resource(
        move || (name.get(), to.get(), cursor.get()),
        |(name, to, cursor)| release_changelog(name, to, cursor),
    );
    let releases = page_resource(|| (), |_| list_releases());
    view! {
        <Title text=move || format!("Changes since {} · Codebook", name.get())/>
        <main class="page">
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let others = releases.await.unwrap_or_default();
                    match log.await {
                        Ok(log) => view! { <ChangelogView log others/> }.into_any(),
                        Err(error) => release_not_found(error),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn ChangelogView(log: ChangelogOut, others: Vec<ReleaseOut>) -> impl IntoView {
    let from = log.from.to_string();
    let to_label = if log.to == "live" {
        "the live catalogue".to_owned()
    } else {
        format!("release {}", log.to)
    };
    let base = format!("/releases/{from}");
    let to = encode_query_value(&log.to);
    let next = log
        .next_cursor
        .as_ref()
        .map(|c| format!("{base}/changelog?to={to}&cursor={}", encode_query_value(c)));
    let c = log.counts;
    let choices = std::iter::once(("live".to_owned(), "The live catalogue".to_owned()))
        .chain(
            others
                .into_iter()
                .filter(|r| r.name.as_str() != from)
                .map(|r| (r.name.to_string(), format!("Release {}", r.name))),
        )
        .map(|(value, label)| {
            let selected = value == log.to;
            view! { <option value=value selected=selected>{label}</option> }
        })
        .collect_view();
    let rows = log
        .changes
        .into_iter()
        .map(|change| view! { <ChangeRow change/> }.into_any())
        .collect();
    let pager = view! {
        <nav aria-label="Changelog pages" class="pager">
            {next.map(|href| view! { <a href=href rel="next">"More changes"</a> })}
        </nav>
    };
    view! {
        <h1>"Changes from release " {from.clone()} " to " {to_label.clone()}</h1>
        <p class="lead" data-testid="change-counts">
            {format!("{} added, {} removed, {} changed.", c.added, c.removed, c.changed)}
        </p>
        <Form method="GET" action=format!("{base}/changelog") attr:class="filters">
            <div class="field">
                <label for="changelog-to">"Compare with"</label>
                <select id="changelog-to" name="to">{choices}</select>
            </div>
            <button type="submit">"Compare"</button>
        </Form>
        <div class="actions">
            <a href=format!("{base}/changelog.md?to={to}") rel="external" download="">"Download Markdown"</a>
            <a href=format!("{base}/changelog.csv?to={to}") rel="external" download="">"Download CSV"</a>
        </div>
        <DataTable
            class="changelog"
            testid="changelog"
            caption=format!("Changes from release {from} to {to_label}")
            caption_hidden=true
            headers=["Code", "Change", "Description", "What changed"]
            rows
            empty="Nothing changed."
            pager=pager.into_any()
            scroll=true
        />
    }
}

#[component]
fn ChangeRow(change: CodeChange) -> impl IntoView {
    let shown = change.after.as_ref().or(change.before.as_ref());
    let description = shown
        .map(|c| c.content.description.clone())
        .unwrap_or_default();
    let what = change
        .diff
        .as_ref()
        .map(|diff| diff.keys().cloned().collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    let kind = match change.kind {
        ChangeKind::Added => "Added",
        ChangeKind::Removed => "Removed",
        ChangeKind::Changed => "Changed",
    };
    view! {
        <tr data-code=change.code.clone() data-change=change.kind.as_str()>
            <th scope="row"><a href=format!("/codes/{}", change.code_id)>{change.code.clone()}</a></th>
            <td>{kind}</td>
            <td>{description}</td>
            <td>{what}</td>
        </tr>
    }
}
