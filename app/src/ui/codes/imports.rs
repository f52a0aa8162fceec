//! The import history (`/codes/imports`): every import that wrote, newest
//! first, with who ran it and its counts; and an import's undo page
//! (`/codes/imports/:id`), which shows what undoing it would do (or the
//! codes that changed since and stop it) before the manager confirms.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::Viewer;
use crate::api::codes::{list_imports, preview_import_undo, UndoImport};
use crate::model::codes::{encode_query_value, ImportOut, ImportPage, UndoOut};
use crate::model::{AppError, ImportId, Permission};
use crate::ui::actions::form_action;
use crate::ui::components::{
    action_error, item_load_error, DataTable, DateTime, FormError, LoadError, NotFound,
    SubmitButton,
};
use crate::ui::resource::page_resource;

#[component]
pub fn ImportsPage() -> impl IntoView {
    let query = use_query_map();
    let cursor = Memo::new(move |_| query.read().get("cursor"));
    let page = page_resource(move || cursor.get(), list_imports);
    view! {
        <Title text="Import history · Codebook"/>
        <main class="page">
            <p><a href="/codes">"← All codes"</a></p>
            <h1>"Import history"</h1>
            <p class="lead">
                "Every import that wrote codes, newest first. A manager can undo one as a single step, as long as none of its codes changed after it."
            </p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let can_undo = Viewer::load().await.can(Permission::UndoImports);
                    let first = cursor.get_untracked().is_none();
                    match page.await {
                        Ok(page) => view! { <ImportTable page first can_undo/> }.into_any(),
                        Err(error) => view! { <LoadError error/> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

fn actor_name(import: &ImportOut) -> String {
    import
        .created_by
        .name
        .clone()
        .unwrap_or_else(|| "a former member".into())
}

#[component]
fn ImportTable(page: ImportPage, first: bool, can_undo: bool) -> impl IntoView {
    let pager = view! {
        <nav aria-label="Import history pages" class="pager">
            {(!first).then(|| view! { <a href="/codes/imports">"Newest imports"</a> })}
            {page.next.map(|cursor| view! {
                <a href=format!("/codes/imports?cursor={}", encode_query_value(&cursor)) rel="next">"Older imports"</a>
            })}
        </nav>
    };
    let rows = page
        .imports
        .into_iter()
        .map(|import| {
            let by = actor_name(&import);
            let state = match &import.undone {
                Some(undone) => view! { "Undone " <DateTime at=undone.at/> }.into_any(),
                None if can_undo => view! {
                    <a href=format!("/codes/imports/{}", import.id) aria-label=format!("Undo the import of {}", import.file_name)>"Undo…"</a>
                }
                .into_any(),
                None => "—".into_any(),
            };
            view! {
                <tr data-import=import.id.to_string()>
                    <th scope="row">{import.file_name.clone()}</th>
                    <td><DateTime at=import.created_at/> <span class="muted">" by " {by}</span></td>
                    <td>{import.created}</td>
                    <td>{import.updated}</td>
                    <td>{import.restored}</td>
                    <td>{import.deleted}</td>
                    <td>{state}</td>
                </tr>
            }
            .into_any()
        })
        .collect();
    view! {
        <DataTable
            class="imports"
            testid="imports"
            caption="Imports, newest first"
            caption_hidden=true
            headers=["File", "Imported", "Created", "Updated", "Restored", "Deleted", "Undo"]
            rows
            empty="No imports yet."
            pager=pager.into_any()
            scroll=true
        />
    }
}

fn import_not_found(error: AppError) -> AnyView {
    let not_found = NotFound {
        heading: Some("Not found"),
        message: "There is no such import in this organization. ",
        back: ("/codes/imports", "Back to the import history"),
    };
    item_load_error(error, not_found, Some("Undo an import"))
}

#[component]
pub fn UndoImportPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<ImportId>().ok())
    });
    let preview = page_resource(
        move || id.get(),
        |id| async move {
            match id {
                Some(id) => preview_import_undo(id).await,
                None => Err(AppError::new(
                    crate::model::ErrorCode::NotFound,
                    "Not found.",
                )),
            }
        },
    );
    view! {
        <Title text="Undo an import · Codebook"/>
        <main class="page narrow">
            <p><a href="/codes/imports">"← Import history"</a></p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match preview.await {
                        Ok(plan) => view! { <UndoView plan/> }.into_any(),
                        Err(error) => import_not_found(error),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn UndoView(plan: UndoOut) -> impl IntoView {
    let import = plan.import.clone();
    let by = actor_name(&import);
    let summary = [
        ("Codes it created", import.created),
        ("Codes it updated", import.updated),
        ("Codes it restored", import.restored),
        ("Codes it deleted", import.deleted),
    ];
    let outcome = match (&import.undone, plan.changed_since_count) {
        (Some(undone), _) => {
            let who = undone
                .by
                .name
                .clone()
                .unwrap_or_else(|| "a former member".into());
            view! {
                <p class="notice" role="status">"This import was undone " <DateTime at=undone.at/> " by " {who} "."</p>
            }
            .into_any()
        }
        (None, 0) => view! { <UndoForm plan=plan.clone()/> }.into_any(),
        (None, _) => view! { <ChangedSinceList plan=plan.clone()/> }.into_any(),
    };
    view! {
        <h1>"Undo the import of " {import.file_name.clone()}</h1>
        <p class="lead">"Imported " <DateTime at=import.created_at/> " by " {by} "."</p>
        <dl class="values">
            {summary.into_iter().map(|(label, n)| view! { <dt>{label}</dt><dd>{n}</dd> }).collect_view()}
        </dl>
        {outcome}
    }
}

#[component]
fn UndoForm(plan: UndoOut) -> impl IntoView {
    let undo = form_action::<UndoImport>();
    let error = action_error(undo);
    let id = plan.import.id.to_string();
    let nothing = plan.reverted + plan.deleted + plan.restored == 0;
    view! {
        <section class="panel" aria-labelledby="undo-heading" data-testid="undo-plan">
            <h2 id="undo-heading">"What undoing it does"</h2>
            <p>
                {if nothing {
                    "It wrote no codes: undoing it changes nothing but marks it undone.".to_owned()
                } else {
                    format!(
                        "Each code it touched gets one new version with its content from before the import: {} reverted, {} deleted, {} restored. Webhooks get one event per code.",
                        plan.reverted, plan.deleted, plan.restored
                    )
                }}
            </p>
            <Transition fallback=|| ()>
                {move || {
                    let id = id.clone();
                    Suspend::new(async move {
                        if Viewer::load().await.can(Permission::UndoImports) {
                            view! {
                                <ActionForm action=undo attr:class="stack">
                                    <FormError error/>
                                    <input type="hidden" name="id" value=id/>
                                    <SubmitButton label="Undo import" pending_label="Undoing…" pending=undo.pending()/>
                                </ActionForm>
                            }
                            .into_any()
                        } else {
                            view! { <p class="notice">"Only managers, admins and owners can undo imports."</p> }.into_any()
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn ChangedSinceList(plan: UndoOut) -> impl IntoView {
    let more = plan
        .changed_since_count
        .saturating_sub(plan.changed_since.len() as u64);
    let rows = plan
        .changed_since
        .into_iter()
        .map(|c| {
            view! {
                <tr data-code=c.code.to_string()>
                    <th scope="row"><a href=format!("/codes/{}", c.id)>{c.code.to_string()}</a></th>
                    <td>{c.imported_version}</td>
                    <td>{c.version}</td>
                </tr>
            }
            .into_any()
        })
        .collect();
    view! {
        <section class="panel" aria-labelledby="blocked-heading" data-testid="undo-blocked">
            <h2 id="blocked-heading">"This import cannot be undone"</h2>
            <p class="form-error" role="alert">
                {format!(
                    "{} of its codes changed after it. Undoing it would overwrite those changes, so it is refused; revert or re-import them first.",
                    plan.changed_since_count
                )}
            </p>
            <DataTable
                caption="Codes changed since the import"
                headers=["Code", "Version the import wrote", "Version now"]
                rows
                scroll=true
            />
            {(more > 0).then(|| view! { <p class="muted">{format!("and {more} more.")}</p> })}
        </section>
    }
}
