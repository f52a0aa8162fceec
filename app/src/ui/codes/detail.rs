//! `/codes/:id`: a code's current values, its edit form, delete and
//! restore, and below them its history (`history.rs`).
//!
//! An edit carries the version it was based on. When someone saved in
//! between, the server refuses it as a conflict; the page then reloads the
//! code and shows the user's unsaved values beside the current version,
//! keeps their values in the form and bases it on the current version, so
//! saving again merges. The refused edit comes back from the server as the
//! page's flash (`Flash::Typed`) after a plain form post, and from the
//! action's own input in the running app.
//!
//! Someone else's change to the code shows at once (`ui::live`), unless
//! the edit form is being typed into: then the page keeps the form and says
//! what changed; saving offers the merge as above.
use crate::model::CodeId;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::actions::CodeActions;
use super::diff::{side, word_diff};
use super::history::{DiffText, History};
use super::{active_label, load_error, merge, when, CodeFields, Draft, FieldFate, Viewer};
use crate::api::codes::get_code_history;
use crate::model::codes::{CodeHistory, CodeOut};
use crate::model::flash::Typed;
use crate::model::live::LiveChange;
use crate::model::{AppError, ErrorCode, Permission};
use crate::ui::components::{action_error, DataTable, FormError, Header, SubmitButton, TextField};
use crate::ui::flash::refused_form;
use crate::ui::live::last_change;
use crate::ui::resource::held_page_resource;

#[component]
pub fn CodePage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<CodeId>().ok())
    });
    let actions = CodeActions::new();
    // Read again when someone else changes this code, unless its edit form
    // is being typed into (`changed_meanwhile` then says so).
    let reloads = RwSignal::new(0_u64);
    let changed_meanwhile = RwSignal::new(None::<LiveChange>);
    let data = held_page_resource(
        move || (id.get(), reloads.get()),
        |(id, _)| async move {
            match id {
                Some(id) => get_code_history(id).await,
                None => Err(AppError::new(ErrorCode::NotFound, "There is no such code.")),
            }
        },
    );
    // A save refused because the code moved on: read it again, to merge.
    Effect::watch(
        move || actions.update.version().get(),
        move |_, _, _| {
            let stale = actions
                .update
                .value()
                .with_untracked(|answer| matches!(answer, Some(Err(error)) if is_stale(error)));
            if stale {
                reloads.update(|n| *n += 1);
            }
        },
        false,
    );
    Effect::watch(
        last_change,
        move |change, _, _| {
            let Some(change) = change.as_ref() else {
                return;
            };
            if !id
                .get_untracked()
                .is_some_and(|id| change.concerns_code(id))
            {
                return;
            }
            if actions.editing.get_untracked() {
                changed_meanwhile.set(Some(change.clone()));
            } else {
                changed_meanwhile.set(None);
                reloads.update(|n| *n += 1);
            }
        },
        false,
    );
    // The edit the server refused, if that is what led here (with the
    // version it was based on), to merge onto the current version.
    let sent = refused_form(refused_edit);
    view! {
        <Title text="Code · Codebook"/>
        <main class="page">
            <p><a href="/codes">"← All codes"</a></p>
            {move || changed_meanwhile.get().map(|change| view! { <ChangedMeanwhile change/> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || {
                    let sent = sent.clone().or_else(|| actions.last_edit.get_untracked());
                    Suspend::new(async move {
                        let viewer = Viewer::load().await;
                        match data.await {
                            Ok(history) => view! { <CodeView history viewer actions sent/> }.into_any(),
                            Err(e) => load_error(e),
                        }
                    })
                }}
            </Transition>
        </main>
    }
}

/// Someone saved the code while the edit form was being typed into.
#[component]
fn ChangedMeanwhile(change: LiveChange) -> impl IntoView {
    let by = change.by.unwrap_or_else(|| "someone else".to_owned());
    let version = change
        .version
        .map(|v| format!(" (version {v})"))
        .unwrap_or_default();
    view! {
        <p class="notice-box live-change" aria-live="polite" data-testid="changed-meanwhile">
            {format!("This code was changed by {by}{version} while you were editing. ")}
            "Your edit is kept: saving it shows both and merges them."
        </p>
    }
}

/// The refused edit in a flash: the version it was based on, and the draft.
fn refused_edit(form: Typed<'_>) -> Option<(i32, Draft)> {
    let version = form.value("version").parse().ok()?;
    Some((version, Draft::from_typed(form)))
}

/// The edit was refused because the code moved on.
fn is_stale(error: &AppError) -> bool {
    error.code == ErrorCode::Conflict && error.field.as_deref() == Some("version")
}

#[component]
fn CodeView(
    history: CodeHistory,
    viewer: Viewer,
    actions: CodeActions,
    sent: Option<(i32, Draft)>,
) -> impl IntoView {
    let code = history.code.clone();
    let name = code.content.code.to_string();
    let deleted = code.deleted_at.is_some();
    let update_error = action_error(actions.update).get_untracked();
    let refused = update_error.as_ref().and(sent);
    let current = Draft::from(&code.content);
    let base = refused.as_ref().and_then(|(based_on, _)| {
        history
            .versions
            .iter()
            .find(|v| v.version == *based_on)
            .map(|v| Draft::from(&v.snapshot))
    });
    // After a conflict the form holds the user's edit merged onto the
    // current version; after any other refusal, just what they typed.
    let stale = update_error.filter(is_stale);
    let (form_values, fates) = match (&stale, &refused, &base) {
        (Some(_), Some((_, yours)), Some(base)) => {
            let (merged, fates) = merge(base, yours, &current);
            (Some(merged), Some(fates))
        }
        (_, Some((_, yours)), _) => (Some(yours.clone()), None),
        _ => (None, None),
    };
    let typed = refused.map(|(_, yours)| yours);
    let conflict = stale.map(|e| (e, typed, fates));
    let last_live = history
        .versions
        .iter()
        .find(|v| !v.deleted)
        .map(|v| v.version);
    view! {
        <h1>
            {name.clone()}
            {deleted.then(|| view! { " " <span class="badge deleted">"Deleted"</span> })}
        </h1>
        <p class="lead">
            "Version " {code.version} " · last changed " {when(code.updated_at)}
            {code.updated_by.clone().map(|n| format!(" by {n}"))}
        </p>
        {conflict.map(|(error, typed, fates)| view! { <ConflictPanel error typed fates code=code.clone()/> })}
        <CurrentValues code=code.clone()/>
        {if deleted {
            viewer
                .can(Permission::RestoreCodes)
                .then(|| last_live.map(|version| view! { <RestoreDeleted id=code.id version name=name.clone() actions/> }))
                .flatten()
                .into_any()
        } else {
            view! {
                {viewer.can(Permission::WriteCodes).then(|| view! { <EditForm code=code.clone() values=form_values actions/> })}
                {viewer.can(Permission::DeleteCodes).then(|| view! { <DeleteForm code=code.clone() actions/> })}
            }
                .into_any()
        }}
        <History history viewer actions/>
    }
    .into_any()
}

#[component]
fn CurrentValues(code: CodeOut) -> impl IntoView {
    let c = code.content;
    view! {
        <section aria-labelledby="current-heading" class="panel">
            <h2 id="current-heading">"Current version " <span class="count">{code.version}</span></h2>
            <dl class="values" data-testid="current-values">
                <dt>"Code"</dt><dd>{c.code.to_string()}</dd>
                <dt>"Description"</dt><dd>{c.description}</dd>
                <dt>"Category"</dt><dd>{if c.category.is_empty() { "—".to_owned() } else { c.category }}</dd>
                <dt>"Severity"</dt><dd>{c.severity.label()}</dd>
                <dt>"Status"</dt><dd>{active_label(c.active)}</dd>
            </dl>
        </section>
    }
    .into_any()
}

/// The user's unsaved values beside the version someone else saved.
#[component]
fn ConflictPanel(
    error: AppError,
    typed: Option<Draft>,
    fates: Option<[FieldFate; 5]>,
    code: CodeOut,
) -> impl IntoView {
    let current = Draft::from(&code.content);
    view! {
        <section class="conflict" aria-labelledby="conflict-heading">
            <h2 id="conflict-heading">"Someone else saved this code first"</h2>
            <div class="form-error" role="alert">{error.message}</div>
            {typed.map(|yours| view! {
                <p>"Your changes are in the form below, merged onto version " {code.version}
                    ": fields only someone else changed now hold their values. Check the fields marked “both changed”, then save again."</p>
                <ConflictTable yours current fates version=code.version/>
            })}
        </section>
    }
    .into_any()
}

/// Each field's value in the refused edit beside its current value.
#[component]
fn ConflictTable(
    yours: Draft,
    current: Draft,
    fates: Option<[FieldFate; 5]>,
    version: i32,
) -> impl IntoView {
    let rows = [
        ("Code", yours.code, current.code, true),
        ("Description", yours.description, current.description, true),
        ("Category", yours.category, current.category, true),
        (
            "Severity",
            severity_label(&yours.severity),
            severity_label(&current.severity),
            false,
        ),
        (
            "Status",
            active_label(yours.active).to_owned(),
            active_label(current.active).to_owned(),
            false,
        ),
    ];
    let rows = rows
        .into_iter()
        .enumerate()
        .map(|(i, (label, mine, theirs, text))| {
            let fate = fates.map(|f| f[i]);
            view! { <CompareRow label mine theirs text fate/> }.into_any()
        })
        .collect();
    view! {
        <DataTable
            class="compare"
            testid="conflict"
            caption="Your changes and the current version"
            caption_hidden=true
            headers=[Header::from("Field"), "Your changes".into(), format!("Current version ({version})").into()]
            rows
            scroll=true
        />
    }
}

fn severity_label(raw: &str) -> String {
    raw.parse::<crate::model::codes::Severity>()
        .map(|s| s.label().to_owned())
        .unwrap_or_else(|_| "Unchanged".to_owned())
}

/// One field of the conflict view: the user's value and the current one,
/// words that differ marked (in text too, not by colour alone).
#[component]
fn CompareRow(
    label: &'static str,
    mine: String,
    theirs: String,
    text: bool,
    /// Who changed the field, when the base version is known.
    fate: Option<FieldFate>,
) -> impl IntoView {
    let differs = mine.trim() != theirs.trim();
    let tag = match fate {
        Some(fate) => fate.label(),
        None => differs.then_some("differs"),
    };
    let segments = word_diff(theirs.trim(), mine.trim());
    let (mine_view, theirs_view) = if text && differs {
        (
            view! { <DiffText segments=side(&segments, false)/> }.into_any(),
            view! { <DiffText segments=side(&segments, true)/> }.into_any(),
        )
    } else {
        (mine.into_any(), theirs.into_any())
    };
    view! {
        <tr class:differs=differs>
            <th scope="row">
                {label}
                {tag.map(|tag| view! { " " <span class="tag">{tag}</span> })}
            </th>
            <td>{mine_view}</td>
            <td>{theirs_view}</td>
        </tr>
    }
    .into_any()
}

#[component]
fn EditForm(code: CodeOut, values: Option<Draft>, actions: CodeActions) -> impl IntoView {
    let error = action_error(actions.update);
    let values = values.unwrap_or_else(|| Draft::from(&code.content));
    view! {
        <section aria-labelledby="edit-heading" class="panel" on:input=move |_| actions.editing.set(true)>
            <h2 id="edit-heading">"Edit"</h2>
            <ActionForm action=actions.update attr:class="stack">
                <input type="hidden" name="id" value=code.id.to_string()/>
                <input type="hidden" name="version" value=code.version.to_string()/>
                <FormError error=Signal::derive(move || error.get().filter(|e| !is_stale(e)))/>
                <CodeFields prefix="edit" values default_severity_choice=false error/>
                <SubmitButton label="Save changes" pending_label="Saving…" pending=actions.update.pending()/>
            </ActionForm>
        </section>
    }
    .into_any()
}

/// Delete behind a confirmation that works with and without JavaScript: a
/// disclosure, then a checkbox that must be ticked.
#[component]
fn DeleteForm(code: CodeOut, actions: CodeActions) -> impl IntoView {
    let error = action_error(actions.delete);
    let name = code.content.code.to_string();
    view! {
        <section class="danger-zone" aria-labelledby="delete-heading">
            <h2 id="delete-heading">"Delete"</h2>
            <p>"A deleted code keeps its history and can be restored."</p>
            <details>
                <summary>{format!("Delete {name}…")}</summary>
                <ActionForm action=actions.delete attr:class="stack">
                    <FormError error/>
                    <input type="hidden" name="id" value=code.id.to_string()/>
                    <input type="hidden" name="version" value=code.version.to_string()/>
                    <div class="field checkbox">
                        // No name: the server needs only the id; the browser
                        // refuses to send the form while it is unticked.
                        <input id="confirm-delete" type="checkbox" required/>
                        <label for="confirm-delete">{format!("Yes, delete {name}")}</label>
                    </div>
                    // Not refilled: a refused edit of the code also sends a comment.
                    <TextField id="delete-comment" label="Why" label_note="(optional)" name="comment" maxlength=1000 required=false keep_typed=false/>
                    <button type="submit" class="danger">"Delete code"</button>
                </ActionForm>
            </details>
        </section>
    }
    .into_any()
}

/// A deleted code comes back with the content of its last live version.
#[component]
fn RestoreDeleted(id: CodeId, version: i32, name: String, actions: CodeActions) -> impl IntoView {
    let error = action_error(actions.restore);
    view! {
        <section class="panel" aria-labelledby="restore-heading">
            <h2 id="restore-heading">"This code is deleted"</h2>
            <p>{format!("Restoring brings back {name} as it was in version {version}, as a new version.")}</p>
            <ActionForm action=actions.restore attr:class="stack">
                <FormError error/>
                <input type="hidden" name="id" value=id.to_string()/>
                <input type="hidden" name="version" value=version.to_string()/>
                <button type="submit" class="primary">{format!("Restore {name}")}</button>
            </ActionForm>
        </section>
    }
    .into_any()
}
