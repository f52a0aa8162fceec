//! The history of a code, on its page: the versions newest first with who,
//! when, why and what changed; a side-by-side comparison of any two
//! versions (`?from=1&to=3`, a GET form, so it is a link); restoring an
//! older version; and comments on each version.
use crate::model::CodeId;
use leptos::prelude::*;
use leptos_router::{components::Form, hooks::use_query_map};

use super::actions::CodeActions;
use super::diff::{side, word_diff, Change, Segment};
use super::{active_label, when, Viewer};
use crate::model::codes::{CodeContent, CodeHistory, CommentOut, VersionOut};
use crate::model::{AppError, Permission};
use crate::ui::components::{action_error, DataTable, Header, TextArea, TextField};

#[component]
pub(super) fn History(history: CodeHistory, viewer: Viewer, actions: CodeActions) -> impl IntoView {
    let CodeHistory {
        code,
        versions,
        comments,
    } = history;
    let newest = versions.first().map(|v| v.version).unwrap_or(code.version);
    let numbers: Vec<i32> = versions.iter().map(|v| v.version).collect();
    let errors = [
        action_error(actions.restore),
        action_error(actions.comment),
        action_error(actions.edit_comment),
        action_error(actions.delete_comment),
    ];
    let error = Signal::derive(move || errors.iter().find_map(|e| e.get()));
    view! {
        <section aria-labelledby="history-heading" class="history">
            <h2 id="history-heading">"History"</h2>
            <AnyError error/>
            <Compare numbers versions=versions.clone()/>
            <ol class="timeline" data-testid="timeline">
                {versions
                    .into_iter()
                    .map(|v| {
                        let on_this: Vec<CommentOut> = comments
                            .iter()
                            .filter(|c| c.version == v.version)
                            .cloned()
                            .collect();
                        let older = v.version < newest;
                        view! { <VersionItem code_id=code.id v comments=on_this older viewer actions/> }
                    })
                    .collect_view()}
            </ol>
        </section>
    }
    .into_any()
}

/// Any error of the history's actions, whatever field it names: their
/// forms are small, and there may be many of them on the page.
#[component]
fn AnyError(error: Signal<Option<AppError>>) -> impl IntoView {
    view! {
        <Show when=move || error.get().is_some()>
            <div class="form-error" role="alert">{move || error.get().map(|e| e.message)}</div>
        </Show>
    }
}

#[component]
fn VersionItem(
    code_id: CodeId,
    v: VersionOut,
    comments: Vec<CommentOut>,
    older: bool,
    viewer: Viewer,
    actions: CodeActions,
) -> impl IntoView {
    let n = v.version;
    let who = v
        .actor
        .name
        .clone()
        .unwrap_or_else(|| match v.actor.kind.as_str() {
            "api_key" => "an API key".to_owned(),
            "system" => "the system".to_owned(),
            _ => "someone no longer here".to_owned(),
        });
    let changed: Vec<String> = v
        .diff
        .as_ref()
        .map(|d| d.keys().cloned().collect())
        .unwrap_or_default();
    let may_restore = older && viewer.can(Permission::RestoreCodes);
    view! {
        <li class="version" id=format!("version-{n}") data-version=n.to_string()>
            <h3>{format!("Version {n} · {}", v.change.label())}</h3>
            <p class="meta">"By " {who} ", " {when(v.created_at)}</p>
            {v.comment.clone().map(|c| view! { <p class="change-comment">"Why: " {c}</p> })}
            {(!changed.is_empty()).then(|| view! { <p class="changed">"Changed: " {changed.join(", ")}</p> })}
            {may_restore.then(|| view! { <RestoreVersion code_id version=n actions/> })}
            <Comments code_id version=n comments viewer actions/>
        </li>
    }
    .into_any()
}

/// Restore behind a disclosure, as a confirmation that needs no script.
#[component]
fn RestoreVersion(code_id: CodeId, version: i32, actions: CodeActions) -> impl IntoView {
    let comment_id = format!("restore-{version}-comment");
    view! {
        <details class="restore">
            <summary>"Restore this version"</summary>
            <ActionForm action=actions.restore attr:class="stack">
                <p>{format!(
                    "The content of version {version} becomes current again, as a new version; the history stays as it is."
                )}</p>
                <input type="hidden" name="id" value=code_id.to_string()/>
                <input type="hidden" name="version" value=version.to_string()/>
                // Not refilled: a refused edit of the code also sends a comment.
                <TextField id=comment_id label="Why" label_note="(optional)" name="comment" maxlength=1000 required=false keep_typed=false/>
                <button type="submit" class="primary">{format!("Yes, restore version {version}")}</button>
            </ActionForm>
        </details>
    }
    .into_any()
}

#[component]
fn Comments(
    code_id: CodeId,
    version: i32,
    comments: Vec<CommentOut>,
    viewer: Viewer,
    actions: CodeActions,
) -> impl IntoView {
    let may_comment = viewer.can(Permission::Comment);
    if comments.is_empty() && !may_comment {
        return ().into_any();
    }
    let body_id = format!("comment-on-{version}");
    let count = comments.len();
    view! {
        <div class="comments">
            <h4>{format!("Comments on version {version}")} " " <span class="count">{count}</span></h4>
            {(count > 0).then(|| view! {
                <ul class="comment-list">
                    {comments.into_iter().map(|c| view! { <CommentItem c viewer actions/> }).collect_view()}
                </ul>
            })}
            {may_comment.then(|| view! {
                <details class="add-comment">
                    <summary>{format!("Comment on version {version}")}</summary>
                    <ActionForm action=actions.comment attr:class="stack">
                        <input type="hidden" name="code_id" value=code_id.to_string()/>
                        <input type="hidden" name="version" value=version.to_string()/>
                        <TextArea id=body_id label=format!("Your comment on version {version}") name="body" maxlength=5000/>
                        <button type="submit" class="primary">"Add comment"</button>
                    </ActionForm>
                </details>
            })}
        </div>
    }
    .into_any()
}

#[component]
fn CommentItem(c: CommentOut, viewer: Viewer, actions: CodeActions) -> impl IntoView {
    let mine = c.author_id.is_some() && c.author_id == viewer.user_id;
    let may_delete = mine || viewer.can(Permission::ModerateComments);
    let author = c.author.clone().unwrap_or_else(|| "A former member".into());
    let edit_id = format!("edit-comment-{}", c.id);
    view! {
        <li class="comment" id=format!("comment-{}", c.id)>
            <p class="meta">
                <strong>{author}</strong> ", " {when(c.created_at)}
                {c.edited_at.map(|_| " (edited)")}
            </p>
            <p class="comment-body">{c.body.clone()}</p>
            {mine.then(|| view! {
                <details class="edit-comment">
                    <summary>"Edit comment"</summary>
                    <ActionForm action=actions.edit_comment attr:class="stack">
                        <input type="hidden" name="id" value=c.id.to_string()/>
                        <TextArea id=edit_id label="Your comment" name="body" maxlength=5000 value=c.body.clone()/>
                        <button type="submit" class="primary">"Save comment"</button>
                    </ActionForm>
                </details>
            })}
            {may_delete.then(|| view! {
                <ActionForm action=actions.delete_comment attr:class="inline">
                    <input type="hidden" name="id" value=c.id.to_string()/>
                    <button type="submit" class="link danger-link">"Delete comment"</button>
                </ActionForm>
            })}
        </li>
    }
    .into_any()
}

/// Two version pickers (a GET form onto this page) and, when the URL names
/// two versions, their snapshots side by side.
#[component]
fn Compare(numbers: Vec<i32>, versions: Vec<VersionOut>) -> impl IntoView {
    if numbers.len() < 2 {
        return ().into_any();
    }
    let query = use_query_map();
    let picked = move |name: &str| {
        query
            .read()
            .get(name)
            .and_then(|v| v.trim().parse::<i32>().ok())
    };
    // Default: the newest change against the version before it.
    let (newest, previous) = (numbers[0], numbers[1]);
    let from = move || picked("from").unwrap_or(previous);
    let to = move || picked("to").unwrap_or(newest);
    let from_options = version_options(&numbers, from);
    let to_options = version_options(&numbers, to);
    let shown = move || {
        let (a, b) = (picked("from")?, picked("to")?);
        let find = |n: i32| versions.iter().find(|v| v.version == n).cloned();
        Some(match (find(a), find(b)) {
            (Some(a), Some(b)) => view! { <DiffTable a b/> }.into_any(),
            _ => view! { <div class="form-error" role="alert">"This code has no such version."</div> }.into_any(),
        })
    };
    view! {
        <div class="compare-block">
            <h3>"Compare versions"</h3>
            <Form method="GET" action="" attr:class="compare-form">
                <div class="field">
                    <label for="compare-from">"From"</label>
                    <select id="compare-from" name="from">{from_options}</select>
                </div>
                <div class="field">
                    <label for="compare-to">"To"</label>
                    <select id="compare-to" name="to">{to_options}</select>
                </div>
                <button type="submit">"Compare"</button>
            </Form>
            {shown}
        </div>
    }
    .into_any()
}

fn version_options(
    numbers: &[i32],
    selected: impl Fn() -> i32 + Copy + Send + Sync + 'static,
) -> impl IntoView {
    numbers
        .iter()
        .map(|&n| view! { <option value=n.to_string() selected=move || selected() == n>{format!("Version {n}")}</option> })
        .collect_view()
}

/// Reads one text field of a snapshot.
type TextOf = fn(&CodeContent) -> String;

/// Two snapshots side by side, changed fields named, changed words marked.
#[component]
fn DiffTable(a: VersionOut, b: VersionOut) -> impl IntoView {
    let text_rows: [(&str, TextOf); 3] = [
        ("Code", |c| c.code.to_string()),
        ("Description", |c| c.description.clone()),
        ("Category", |c| c.category.clone()),
    ];
    let plain_rows = [
        (
            "Severity",
            a.snapshot.severity.label().to_owned(),
            b.snapshot.severity.label().to_owned(),
        ),
        (
            "Status",
            active_label(a.snapshot.active).to_owned(),
            active_label(b.snapshot.active).to_owned(),
        ),
        ("Deleted", yes_no(a.deleted), yes_no(b.deleted)),
    ];
    let caption = format!("Version {} and version {} compared", a.version, b.version);
    let headers = [
        Header::from("Field"),
        format!("Version {}", a.version).into(),
        format!("Version {}", b.version).into(),
    ];
    let text_rows = text_rows.into_iter().map(|(label, get)| {
        let (old, new) = (get(&a.snapshot), get(&b.snapshot));
        let segments = word_diff(&old, &new);
        view! {
            <tr class:differs=old != new>
                <th scope="row">{label} {(old != new).then(changed_tag)}</th>
                <td><DiffText segments=side(&segments, true)/></td>
                <td><DiffText segments=side(&segments, false)/></td>
            </tr>
        }
        .into_any()
    });
    let plain_rows = plain_rows.into_iter().map(|(label, old, new)| {
        let differs = old != new;
        view! {
            <tr class:differs=differs>
                <th scope="row">{label} {differs.then(changed_tag)}</th>
                <td>{old}</td>
                <td>{new}</td>
            </tr>
        }
        .into_any()
    });
    let rows = text_rows.chain(plain_rows).collect();
    view! { <DataTable class="compare" testid="compare" caption headers rows scroll=true/> }
        .into_any()
}

fn changed_tag() -> impl IntoView {
    view! { " " <span class="tag">"changed"</span> }
}

fn yes_no(flag: bool) -> String {
    if flag { "Yes" } else { "No" }.to_owned()
}

/// A text with its changed words marked as removed or added: `<del>` and
/// `<ins>`, with words for screen readers and a style that is not only a
/// colour.
#[component]
pub(super) fn DiffText(segments: Vec<Segment>) -> impl IntoView {
    segments
        .into_iter()
        .map(|s| match s.change {
            Change::Same => s.text.into_any(),
            Change::Removed => view! { <del><span class="visually-hidden">"[removed: "</span>{s.text}<span class="visually-hidden">"]"</span></del> }.into_any(),
            Change::Added => view! { <ins><span class="visually-hidden">"[added: "</span>{s.text}<span class="visually-hidden">"]"</span></ins> }.into_any(),
        })
        .collect_view()
}
