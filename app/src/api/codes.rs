//! Diagnostic codes: list, read with history, create, edit, delete,
//! restore, comments on versions, and the import history with undo. Each
//! is one service call in the caller's organization; file import and
//! export are plain routes (`backend::codes::routes`) as they stream.
// A code's form has eight fields; the server macro makes a function of them
// on both sides.
#![allow(clippy::too_many_arguments)]
use crate::model::{CodeId, CommentId, ImportId};
use leptos::prelude::*;

use crate::model::codes::{
    CodeFilter, CodeHistory, CodeOut, CodePage, CommentOut, ImportPage, UndoOut,
};
use crate::model::AppError;

/// A code form as typed (and `more` fields), for the form to show again
/// when the server refuses it.
#[cfg(feature = "ssr")]
fn typed_code<const N: usize>(
    input: &crate::backend::codes::CodeInput,
    more: [(&str, Option<String>); N],
) -> crate::model::flash::Flash {
    let fields = [
        ("code", Some(input.code.clone())),
        ("description", Some(input.description.clone())),
        ("category", Some(input.category.clone())),
        ("severity", input.severity.clone()),
        ("active", input.active.then(|| "on".to_owned())),
        ("comment", input.comment.clone()),
    ];
    crate::model::flash::typed(fields.into_iter().chain(more))
}

/// A checkbox as a form posts it: present ("on") when ticked.
#[cfg(feature = "ssr")]
fn ticked(value: &Option<String>) -> bool {
    value
        .as_deref()
        .is_some_and(|v| matches!(v, "on" | "true" | "1" | "yes"))
}

#[server(endpoint = "codes/list")]
pub async fn list_codes(#[server(default)] filter: CodeFilter) -> Result<CodePage, AppError> {
    use crate::backend::codes;
    super::server::in_org(async |ctx, state| codes::list(ctx, state, filter).await).await
}

#[server(endpoint = "codes/history")]
pub async fn get_code_history(id: CodeId) -> Result<CodeHistory, AppError> {
    use crate::backend::codes;
    super::server::in_org(async |ctx, state| codes::history(ctx, state, id).await).await
}

#[server(endpoint = "codes/create")]
pub async fn create_code(
    code: String,
    description: String,
    #[server(default)] category: String,
    #[server(default)] severity: Option<String>,
    #[server(default)] active: Option<String>,
    #[server(default)] comment: Option<String>,
) -> Result<CodeOut, AppError> {
    use crate::backend::codes::{self, CodeInput};
    let input = CodeInput {
        code,
        description,
        category,
        severity,
        active: ticked(&active),
        comment,
    };
    let draft = typed_code(&input, []);
    let created =
        super::server::in_org(async |ctx, state| codes::create(ctx, state, input).await).await;
    let created = super::server::keep_typed_on_error(created, "/codes/new", || draft)?;
    leptos_axum::redirect(&format!("/codes/{}", created.id));
    Ok(created)
}

/// Saves an edit made from `version`; refused as a conflict when the code
/// has moved on since.
#[server(endpoint = "codes/update")]
pub async fn update_code(
    id: CodeId,
    version: i32,
    code: String,
    description: String,
    #[server(default)] category: String,
    #[server(default)] severity: Option<String>,
    #[server(default)] active: Option<String>,
    #[server(default)] comment: Option<String>,
) -> Result<CodeOut, AppError> {
    use crate::backend::codes::{self, CodeInput};
    let input = CodeInput {
        code,
        description,
        category,
        severity,
        active: ticked(&active),
        comment,
    };
    // The edit as typed, so a refused one (a conflict above all) comes back
    // to the form to be merged or mended.
    let draft = typed_code(&input, [("version", Some(version.to_string()))]);
    let page = format!("/codes/{id}");
    let updated = super::server::in_org(async |ctx, state| {
        codes::update(ctx, state, id, version, input).await
    })
    .await;
    let updated = super::server::keep_typed_on_error(updated, &page, || draft)?;
    super::server::redirect_with_notice(&page, format!("Saved as version {}.", updated.version));
    Ok(updated)
}

#[server(endpoint = "codes/delete")]
pub async fn delete_code(
    id: CodeId,
    #[server(default)] version: Option<i32>,
    #[server(default)] comment: Option<String>,
) -> Result<CodeOut, AppError> {
    use crate::backend::codes;
    let deleted = super::server::in_org(async |ctx, state| {
        codes::delete(ctx, state, id, version, comment).await
    })
    .await?;
    leptos_axum::redirect(&format!("/codes/{id}"));
    Ok(deleted)
}

/// Makes version `version` of the code current again, as a new version.
#[server(endpoint = "codes/restore")]
pub async fn restore_code(
    id: CodeId,
    version: i32,
    #[server(default)] comment: Option<String>,
) -> Result<CodeOut, AppError> {
    use crate::backend::codes;
    let restored = super::server::in_org(async |ctx, state| {
        codes::restore(ctx, state, id, version, comment).await
    })
    .await?;
    leptos_axum::redirect(&format!("/codes/{id}"));
    Ok(restored)
}

#[server(endpoint = "codes/comment")]
pub async fn add_comment(
    code_id: CodeId,
    version: i32,
    body: String,
) -> Result<CommentOut, AppError> {
    use crate::backend::codes::comments;
    let comment = super::server::in_org(async |ctx, state| {
        comments::add(ctx, state, code_id, version, &body).await
    })
    .await?;
    leptos_axum::redirect(&format!("/codes/{code_id}#comment-{}", comment.id));
    Ok(comment)
}

#[server(endpoint = "codes/comment_edit")]
pub async fn edit_comment(id: CommentId, body: String) -> Result<CommentOut, AppError> {
    use crate::backend::codes::comments;
    super::server::in_org(async |ctx, state| comments::edit(ctx, state, id, &body).await).await
}

#[server(endpoint = "codes/comment_delete")]
pub async fn delete_comment(id: CommentId) -> Result<(), AppError> {
    use crate::backend::codes::comments;
    super::server::in_org(async |ctx, state| comments::delete(ctx, state, id).await).await
}

/// A page of the import history, newest first.
#[server(endpoint = "codes/imports")]
pub async fn list_imports(
    #[server(default)] cursor: Option<String>,
) -> Result<ImportPage, AppError> {
    use crate::backend::codes::import_history;
    super::server::in_org(async |ctx, state| {
        import_history::list(ctx, state, cursor.as_deref()).await
    })
    .await
}

/// What undoing the import would do, or why it cannot be done.
#[server(endpoint = "codes/import_undo_preview")]
pub async fn preview_import_undo(id: ImportId) -> Result<UndoOut, AppError> {
    use crate::backend::codes::import_history;
    super::server::in_org(async |ctx, state| import_history::undo(ctx, state, id, true).await).await
}

/// Undoes the import, then shows the history with what was done.
#[server(endpoint = "codes/import_undo")]
pub async fn undo_import(id: ImportId) -> Result<UndoOut, AppError> {
    use crate::backend::codes::import_history;
    let undone =
        super::server::in_org(async |ctx, state| import_history::undo(ctx, state, id, false).await)
            .await?;
    super::server::redirect_with_notice(
        "/codes/imports",
        format!(
            "The import of {} is undone: {} codes reverted, {} deleted, {} restored.",
            undone.import.file_name, undone.reverted, undone.deleted, undone.restored
        ),
    );
    Ok(undone)
}
