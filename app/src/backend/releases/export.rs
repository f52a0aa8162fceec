//! A release as a file (CSV in the import's format, or JSON) and a changelog
//! as a file people attach to release notes (Markdown, CSV). Plain links,
//! so they work without JavaScript and from scripts holding a bearer token.
use axum::extract::{FromRef, Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;

use super::changelog::{self, Changelog};
use super::{all_codes, find};
pub use crate::backend::codes::export::Format;
use crate::backend::{spreadsheet, AppState, OrgContext, Plans, Result};
use crate::model::releases::{ChangeKind, ChangelogEnd, CodeChange, ReleaseName, ReleasedCodeOut};
use crate::model::Permission;

/// A `csv::Writer` over a `Vec` fails only when memory does.
const IN_MEMORY: &str = "writing into memory";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangelogFormat {
    Markdown,
    Csv,
}

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    AppState: FromRef<S>,
{
    let release = |format| {
        get(
            move |ctx: OrgContext, state: State<AppState>, name: Path<String>| {
                release_route(ctx, state, name, format)
            },
        )
    };
    let changelog = |format| {
        get(
            move |ctx: OrgContext,
                  state: State<AppState>,
                  name: Path<String>,
                  query: Query<HashMap<String, String>>| {
                changelog_route(ctx, state, name, query, format)
            },
        )
    };
    Router::new()
        .route("/releases/{name}/export.csv", release(Format::Csv))
        .route("/releases/{name}/export.json", release(Format::Json))
        .route(
            "/releases/{name}/changelog.md",
            changelog(ChangelogFormat::Markdown),
        )
        .route(
            "/releases/{name}/changelog.csv",
            changelog(ChangelogFormat::Csv),
        )
}

async fn release_route(
    ctx: OrgContext,
    State(state): State<AppState>,
    Path(name): Path<String>,
    format: Format,
) -> Result<Response> {
    release_file(&ctx, &state, &ReleaseName::parse(&name)?, format).await
}

async fn changelog_route(
    ctx: OrgContext,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    format: ChangelogFormat,
) -> Result<Response> {
    let to = ChangelogEnd::parse(params.get("to").map(String::as_str).unwrap_or(""))?;
    changelog_file(&ctx, &state, &ReleaseName::parse(&name)?, &to, format).await
}

/// The release's codes as a download.
pub async fn release_file(
    ctx: &OrgContext,
    state: &AppState,
    name: &ReleaseName,
    format: Format,
) -> Result<Response> {
    let mut tx = ctx
        .begin_planned_as(&state.pool, Permission::ReadCodes, Plans::Generic)
        .await?;
    let release = find(&mut tx, name).await?;
    let codes = all_codes(&mut tx, release.id).await?;
    tx.commit().await?;
    let (body, content_type, extension) = match format {
        Format::Csv => (codes_csv(&codes), "text/csv; charset=utf-8", "csv"),
        Format::Json => (codes_json(&codes), "application/json", "json"),
    };
    Ok(download(
        body,
        content_type,
        &format!("codes-{name}.{extension}"),
    ))
}

/// The changelog as a download.
pub async fn changelog_file(
    ctx: &OrgContext,
    state: &AppState,
    from: &ReleaseName,
    to: &ChangelogEnd,
    format: ChangelogFormat,
) -> Result<Response> {
    let log = changelog::compute(ctx, state, from, to).await?;
    let file = format!("changelog-{from}-to-{}", to.as_str());
    Ok(match format {
        ChangelogFormat::Markdown => download(
            markdown(&log).into_bytes(),
            "text/markdown; charset=utf-8",
            &format!("{file}.md"),
        ),
        ChangelogFormat::Csv => download(
            changes_csv(&log),
            "text/csv; charset=utf-8",
            &format!("{file}.csv"),
        ),
    })
}

fn download(body: Vec<u8>, content_type: &'static str, file_name: &str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Release names hold only letters, digits, `.`, `-` and `_`.
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    response
}

const ACTIVE: [&str; 2] = ["false", "true"];

/// The codes in the import's CSV format, so a release imports back as it is.
fn codes_csv(codes: &[ReleasedCodeOut]) -> Vec<u8> {
    crate::backend::codes::export::csv_lines(codes.iter().map(|c| &c.content), true)
}

fn codes_json(codes: &[ReleasedCodeOut]) -> Vec<u8> {
    // Ids, numbers, strings: nothing that fails to serialize.
    serde_json::to_vec(codes).expect(IN_MEMORY)
}

/// One line per code: how it changed, and its content at the newer end
/// (at the older one for a removed code).
pub fn changes_csv(log: &Changelog) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = [
        "change",
        "code",
        "description",
        "category",
        "severity",
        "active",
        "changed_fields",
        "previous_description",
    ];
    spreadsheet::write_row(&mut writer, header).expect(IN_MEMORY);
    for change in &log.changes {
        let Some(shown) = change.after.as_ref().or(change.before.as_ref()) else {
            continue;
        };
        let c = &shown.content;
        let fields = changed_fields(change).join(" ");
        let previous = match (&change.before, change.kind) {
            (Some(before), ChangeKind::Changed) if before.content.description != c.description => {
                before.content.description.as_str()
            }
            _ => "",
        };
        let cells = [
            change.kind.as_str(),
            c.code.as_str(),
            &c.description,
            &c.category,
            c.severity.as_str(),
            ACTIVE[usize::from(c.active)],
            &fields,
            previous,
        ];
        spreadsheet::write_row(&mut writer, cells).expect(IN_MEMORY);
    }
    writer.into_inner().expect(IN_MEMORY)
}

fn changed_fields(change: &CodeChange) -> Vec<&str> {
    change
        .diff
        .as_ref()
        .map(|d| d.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// The changelog as Markdown release notes: counts, then each kind of
/// change with its codes.
pub fn markdown(log: &Changelog) -> String {
    let to = match &log.to {
        ChangelogEnd::Release(name) => format!("release {name}"),
        ChangelogEnd::Live => "the live catalogue".to_owned(),
    };
    let c = log.counts;
    let mut out = format!(
        "# Changes from release {} to {to}\n\n{} added, {} removed, {} changed.\n",
        log.from, c.added, c.removed, c.changed
    );
    for (kind, title, count) in [
        (ChangeKind::Added, "Added", c.added),
        (ChangeKind::Removed, "Removed", c.removed),
        (ChangeKind::Changed, "Changed", c.changed),
    ] {
        if count == 0 {
            continue;
        }
        out.push_str(&format!("\n## {title} ({count})\n\n"));
        for change in log.changes.iter().filter(|ch| ch.kind == kind) {
            out.push_str(&markdown_line(change));
            out.push('\n');
        }
    }
    out
}

fn markdown_line(change: &CodeChange) -> String {
    let shown = change.after.as_ref().or(change.before.as_ref());
    let description = shown
        .map(|c| escape(&c.content.description))
        .unwrap_or_default();
    let mut line = format!("- `{}` {description}", change.code);
    if let Some(diff) = &change.diff {
        let parts: Vec<String> = diff
            .iter()
            .map(|(field, values)| {
                format!(
                    "{field}: {} → {}",
                    escape(&plain(&values.old)),
                    escape(&plain(&values.new))
                )
            })
            .collect();
        line.push_str(&format!(" ({})", parts.join("; ")));
    }
    line
}

/// A diff value as people read it: text without its JSON quotes.
fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Text with Markdown's markup characters escaped, so a description
/// renders as written.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if "\\`*_{}[]()<>#+-!|~".contains(ch) {
            out.push('\\');
        }
        out.push(if ch == '\n' || ch == '\r' { ' ' } else { ch });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::codes::{CodeContent, CodeValue, FieldChange, Severity};
    use crate::model::releases::ChangeCounts;
    use crate::model::CodeId;

    fn code(code: &str, description: &str) -> ReleasedCodeOut {
        ReleasedCodeOut {
            id: CodeId::from_u128(1),
            content: CodeContent {
                code: CodeValue::from_stored(code.into()),
                description: description.into(),
                category: "Injury".into(),
                severity: Severity::High,
                active: true,
            },
            version: 1,
        }
    }

    fn log() -> Changelog {
        let mut diff = crate::model::codes::Diff::new();
        diff.insert(
            "description".into(),
            FieldChange {
                old: "Old *bold*".into(),
                new: "New".into(),
            },
        );
        Changelog {
            from: ReleaseName::parse("2024").unwrap(),
            to: ChangelogEnd::Live,
            counts: ChangeCounts {
                added: 1,
                removed: 0,
                changed: 1,
            },
            changes: vec![
                CodeChange {
                    kind: ChangeKind::Added,
                    code_id: CodeId::from_u128(1),
                    code: "A00".into(),
                    before: None,
                    after: Some(code("A00", "=cmd|' /C calc'!A0")),
                    diff: None,
                },
                CodeChange {
                    kind: ChangeKind::Changed,
                    code_id: CodeId::from_u128(2),
                    code: "B01".into(),
                    before: Some(code("B01", "Old *bold*")),
                    after: Some(code("B01", "New")),
                    diff: Some(diff),
                },
            ],
        }
    }

    #[test]
    fn markdown_release_notes_count_then_list_each_kind() {
        let text = markdown(&log());
        assert!(text.starts_with(
            "# Changes from release 2024 to the live catalogue\n\n1 added, 0 removed, 1 changed.\n"
        ));
        assert!(text.contains("## Added (1)\n\n- `A00` =cmd\\|' /C calc'\\!A0\n"));
        assert!(!text.contains("## Removed"));
        assert!(text.contains("- `B01` New (description: Old \\*bold\\* → New)"));
    }

    #[test]
    fn the_changelog_csv_is_guarded_and_names_what_changed() {
        let text = String::from_utf8(changes_csv(&log())).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "change,code,description,category,severity,active,changed_fields,previous_description"
        );
        assert_eq!(lines[1], "added,A00,'=cmd|' /C calc'!A0,Injury,high,true,,");
        assert_eq!(
            lines[2],
            "changed,B01,New,Injury,high,true,description,Old *bold*"
        );
    }

    #[test]
    fn a_release_exports_in_the_import_format() {
        let text = String::from_utf8(codes_csv(&[code("S72.0", "Fracture, neck")])).unwrap();
        assert_eq!(
            text,
            "code,description,category,severity,active\nS72.0,\"Fracture, neck\",Injury,high,true\n"
        );
    }
}
