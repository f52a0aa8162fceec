//! `/codes/import`: upload a CSV file (plain or gzipped). The browser sends
//! the file itself with XMLHttpRequest to `POST /codes/import`, as that is
//! what reports upload progress; a bar shows the bytes sent, then the page
//! waits for the server, then shows what was written or the bad rows.
//!
//! Without JavaScript the page says so and points to the command line: a
//! plain form could only post the file wrapped in multipart, which the
//! import route does not read.
use leptos::html::Input;
use leptos::prelude::*;
use leptos_meta::Title;

use super::Viewer;
use crate::model::codes::{ImportReport, ImportSummary, RowError};
use crate::model::Permission;
use crate::ui::components::DataTable;

/// Where an upload is. (Only the browser ever sends, so the server build
/// never makes the middle states.)
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Upload {
    Idle,
    Sending {
        sent: f64,
        total: f64,
    },
    /// Every byte is sent; the server reads and writes.
    Processing {
        total: f64,
    },
    Done {
        report: ImportReport,
        total: f64,
    },
    Failed(String),
}

#[component]
pub fn ImportCodesPage() -> impl IntoView {
    view! {
        <Title text="Import codes · Codebook"/>
        <main class="page narrow">
            <p><a href="/codes">"← All codes"</a></p>
            <h1>"Import codes"</h1>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    if Viewer::load().await.can(Permission::BulkImportExport) {
                        view! { <ImportForm/> }.into_any()
                    } else {
                        view! { <p class="notice">"Only managers, admins and owners can import codes."</p> }.into_any()
                    }
                })}
            </Transition>
        </main>
    }
}

/// The form; it sends only from the browser.
#[component]
fn ImportForm() -> impl IntoView {
    let state = RwSignal::new(Upload::Idle);
    // Effects run only in a browser that runs the app: until then (and
    // forever without JavaScript) the form is disabled and says why.
    let scripted = RwSignal::new(false);
    Effect::new(move |_| scripted.set(true));
    let file = NodeRef::<Input>::new();
    let delete_missing = NodeRef::<Input>::new();
    let dry_run = NodeRef::<Input>::new();
    let busy = move || {
        matches!(
            state.get(),
            Upload::Sending { .. } | Upload::Processing { .. }
        )
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy() {
            return;
        }
        let checked = |r: NodeRef<Input>| r.get().is_some_and(|i| i.checked());
        start(file, checked(delete_missing), checked(dry_run), state);
    };
    view! {
        <p class="lead">
            "A CSV file with the header " <code>"code,description,category"</code>
            " and optionally " <code>"severity"</code> " and " <code>"active"</code>
            ", plain or gzipped. Codes in the file are created or updated; unchanged ones are left alone. "
            "If any row is bad, nothing is written and the bad rows are listed."
        </p>
        <Show when=move || !scripted.get()>
            <div class="notice-box" role="note">
                <p>"Importing in the browser needs JavaScript, to send the file and show its progress."</p>
                <p>"Without it, import on the server's command line: "
                    <code>"server import --org <slug> FILE [--delete-missing] [--dry-run]"</code></p>
            </div>
        </Show>
        <form class="stack" on:submit=on_submit>
            <div class="field">
                <label for="import-file">"File"</label>
                <input
                    id="import-file"
                    type="file"
                    name="file"
                    accept=".csv,.gz,text/csv,application/gzip"
                    required
                    node_ref=file
                />
            </div>
            <div class="field checkbox">
                <input id="import-delete-missing" type="checkbox" node_ref=delete_missing/>
                <label for="import-delete-missing">"Delete codes missing from the file"</label>
            </div>
            <div class="field checkbox">
                <input id="import-dry-run" type="checkbox" node_ref=dry_run/>
                <label for="import-dry-run">"Dry run: count what would change, write nothing"</label>
            </div>
            <button type="submit" class="primary" disabled=move || !scripted.get() || busy() aria-busy=move || busy().to_string()>
                "Import"
            </button>
        </form>
        <Progress state/>
        <Outcome state/>
    }
}

/// The upload's bar: bytes sent, then an indeterminate bar while the server
/// works, then full.
#[component]
fn Progress(state: RwSignal<Upload>) -> impl IntoView {
    let view_of = move || match state.get() {
        Upload::Idle | Upload::Failed(_) => None,
        Upload::Sending { sent, total } => {
            let percent = if total > 0.0 {
                sent / total * 100.0
            } else {
                0.0
            };
            Some((
                Some((sent, total.max(1.0))),
                format!(
                    "Uploading… {percent:.0}% ({} of {})",
                    size(sent),
                    size(total)
                ),
            ))
        }
        Upload::Processing { total } => {
            Some((None, format!("Uploaded {}. Processing…", size(total))))
        }
        Upload::Done { total, .. } => Some((
            Some((total.max(1.0), total.max(1.0))),
            format!("Uploaded {}.", size(total)),
        )),
    };
    move || {
        view_of().map(|(value, text)| {
            let bar = match value {
                Some((value, max)) => view! {
                    <progress id="import-progress" max=max.to_string() value=value.to_string() aria-describedby="import-progress-text">{text.clone()}</progress>
                }
                .into_any(),
                None => view! {
                    <progress id="import-progress" aria-describedby="import-progress-text">{text.clone()}</progress>
                }
                .into_any(),
            };
            view! {
                <div class="upload">
                    <label for="import-progress">"Upload"</label>
                    {bar}
                    <p id="import-progress-text" class="muted" role="status">{text}</p>
                </div>
            }
        })
    }
}

fn size(bytes: f64) -> String {
    if bytes >= 1_048_576.0 {
        format!("{:.1} MB", bytes / 1_048_576.0)
    } else if bytes >= 1024.0 {
        format!("{:.1} KB", bytes / 1024.0)
    } else {
        format!("{bytes:.0} bytes")
    }
}

#[component]
fn Outcome(state: RwSignal<Upload>) -> impl IntoView {
    move || match state.get() {
        Upload::Done { report, .. } => match report.summary {
            Some(summary) if report.errors.is_empty() => view! { <Summary summary/> }.into_any(),
            _ => view! { <BadRows errors=report.errors/> }.into_any(),
        },
        Upload::Failed(message) => {
            view! { <div class="form-error" role="alert">{message}</div> }.into_any()
        }
        _ => ().into_any(),
    }
}

#[component]
fn Summary(summary: ImportSummary) -> impl IntoView {
    let heading = if summary.dry_run {
        "Dry run: nothing was written"
    } else {
        "Import done"
    };
    let rows = [
        ("Rows in the file", summary.rows),
        ("Created", summary.created),
        ("Updated", summary.updated),
        ("Restored", summary.restored),
        ("Deleted", summary.deleted),
        ("Unchanged", summary.unchanged),
    ];
    view! {
        <section class="panel" aria-labelledby="import-result" data-testid="import-summary">
            <h2 id="import-result">{heading}</h2>
            {summary.dry_run.then(|| view! { <p>"These are the changes the file would make."</p> })}
            <dl class="values">
                {rows.into_iter().map(|(label, n)| view! { <dt>{label}</dt><dd>{n}</dd> }).collect_view()}
            </dl>
            <p>
                <a href="/codes">"See the codes"</a>
                {summary.import_id.map(|id| view! {
                    " · " <a href=format!("/codes/imports/{id}")>"Undo this import"</a>
                })}
            </p>
        </section>
    }
}

#[component]
fn BadRows(errors: Vec<RowError>) -> impl IntoView {
    let count = errors.len();
    let rows = errors
        .into_iter()
        .map(|e| view! { <tr><td>{e.line}</td><td>{e.message}</td></tr> }.into_any())
        .collect();
    view! {
        <section class="panel" aria-labelledby="import-result" data-testid="import-errors">
            <h2 id="import-result">"Nothing was imported"</h2>
            <p class="form-error" role="alert">
                {format!("{count} {} of the file cannot be read; fix {} and import again.",
                    if count == 1 { "row" } else { "rows" },
                    if count == 1 { "it" } else { "them" })}
            </p>
            <DataTable caption="Bad rows" caption_hidden=true headers=["Line", "Problem"] rows scroll=true/>
        </section>
    }
}

/// Sends the chosen file; the browser only (the server never runs it).
#[cfg(feature = "hydrate")]
fn start(file: NodeRef<Input>, delete_missing: bool, dry_run: bool, state: RwSignal<Upload>) {
    if let Err(message) = send(file, delete_missing, dry_run, state) {
        state.set(Upload::Failed(message));
    }
}

#[cfg(not(feature = "hydrate"))]
fn start(_: NodeRef<Input>, _: bool, _: bool, _: RwSignal<Upload>) {}

#[cfg(feature = "hydrate")]
fn send(
    file: NodeRef<Input>,
    delete_missing: bool,
    dry_run: bool,
    state: RwSignal<Upload>,
) -> Result<(), String> {
    use wasm_bindgen::{closure::Closure, JsCast as _};
    use web_sys::{ProgressEvent, XmlHttpRequest};

    let failed = |_| "The browser could not send the file.".to_owned();
    let file = file
        .get()
        .and_then(|input| input.files())
        .and_then(|files| files.get(0))
        .ok_or_else(|| "Choose a file first.".to_owned())?;
    let total = file.size();
    let url = format!(
        "/codes/import?file_name={}&delete_missing={delete_missing}&dry_run={dry_run}",
        String::from(js_sys::encode_uri_component(&file.name()))
    );
    let xhr = XmlHttpRequest::new().map_err(failed)?;
    xhr.open_with_async("POST", &url, true).map_err(failed)?;
    xhr.set_request_header("Accept", "application/json")
        .map_err(failed)?;
    xhr.set_request_header("Content-Type", "application/octet-stream")
        .map_err(failed)?;

    let on_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |e: ProgressEvent| {
        let total = if e.length_computable() {
            e.total()
        } else {
            total
        };
        state.set(Upload::Sending {
            sent: e.loaded(),
            total,
        });
    });
    let on_sent = Closure::<dyn FnMut()>::new(move || state.set(Upload::Processing { total }));
    let answered = xhr.clone();
    let on_load = Closure::<dyn FnMut()>::new(move || {
        let status = answered.status().unwrap_or(0);
        let body = answered.response_text().ok().flatten().unwrap_or_default();
        state.set(outcome(status, &body, total));
    });
    let on_error = Closure::<dyn FnMut()>::new(move || {
        state.set(Upload::Failed(
            "The upload failed. Check your connection and try again.".into(),
        ))
    });
    let upload = xhr.upload().map_err(failed)?;
    upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    upload.set_onload(Some(on_sent.as_ref().unchecked_ref()));
    xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
    xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    // The request holds these until it ends; one upload at a time, so
    // leaking its four small closures is the simple, safe choice (dropping
    // them while a handler may still run would trap).
    on_progress.forget();
    on_sent.forget();
    on_load.forget();
    on_error.forget();

    state.set(Upload::Sending { sent: 0.0, total });
    xhr.send_with_opt_blob(Some(file.as_ref()))
        .map_err(failed)?;
    Ok(())
}

/// What the server's answer means for the page.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn outcome(status: u16, body: &str, total: f64) -> Upload {
    if matches!(status, 200 | 422) {
        if let Ok(report) = serde_json::from_str::<ImportReport>(body) {
            return Upload::Done { report, total };
        }
    }
    if status == 413 {
        return Upload::Failed("The file is too large (at most 64 MB).".into());
    }
    match serde_json::from_str::<crate::model::AppError>(body) {
        Ok(error) => Upload::Failed(error.message),
        Err(_) => Upload::Failed(format!(
            "The server could not import the file (HTTP {status}). Please try again."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_with_bad_rows_lists_them_and_an_error_shows_its_message() {
        let body = r#"{"summary":null,"errors":[{"line":3,"message":"code: Enter the code."}]}"#;
        match outcome(422, body, 10.0) {
            Upload::Done { report, .. } => assert_eq!(report.errors[0].line, 3),
            other => panic!("{other:?}"),
        }
        let forbidden = r#"{"code":"forbidden","message":"Managers only."}"#;
        assert_eq!(
            outcome(403, forbidden, 10.0),
            Upload::Failed("Managers only.".into())
        );
        assert!(matches!(outcome(502, "<html>", 1.0), Upload::Failed(m) if m.contains("502")));
    }
}
