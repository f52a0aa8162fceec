//! Releases of the caller's organization: list, cut, browse, changelog,
//! delete.
use leptos::prelude::*;

use crate::model::codes::CodeFilter;
use crate::model::releases::{ChangelogOut, ReleaseOut, ReleasedCodePage};
use crate::model::AppError;

#[server(endpoint = "releases/list")]
pub async fn list_releases() -> Result<Vec<ReleaseOut>, AppError> {
    use crate::backend::releases;
    super::server::in_org(async |ctx, state| releases::list(ctx, state).await).await
}

#[server(endpoint = "releases/cut")]
pub async fn cut_release(
    name: String,
    #[server(default)] description: String,
) -> Result<ReleaseOut, AppError> {
    use crate::backend::releases;
    use crate::model::releases::ReleaseForm;
    let form = ReleaseForm { name, description };
    let cut =
        super::server::in_org(async |ctx, state| releases::cut(ctx, state, &form).await).await?;
    super::server::redirect_with_notice(
        &format!("/releases/{}", cut.name),
        format!("Release {} cut with {} codes.", cut.name, cut.code_count),
    );
    Ok(cut)
}

/// A page of the release's codes, filtered and searched like the live list.
#[server(endpoint = "releases/codes")]
pub async fn release_codes(
    name: String,
    #[server(default)] filter: CodeFilter,
) -> Result<ReleasedCodePage, AppError> {
    use crate::backend::releases;
    use crate::model::releases::ReleaseName;
    let name = ReleaseName::parse(&name).map_err(|_| not_found())?;
    super::server::in_org(async |ctx, state| releases::codes(ctx, state, &name, &filter).await)
        .await
}

/// The changelog from the release `name` to `to` (another release's name,
/// or `live`), a page at a time.
#[server(endpoint = "releases/changelog")]
pub async fn release_changelog(
    name: String,
    #[server(default)] to: String,
    #[server(default)] cursor: Option<String>,
) -> Result<ChangelogOut, AppError> {
    use crate::backend::releases::changelog;
    use crate::model::releases::{ChangelogEnd, ReleaseName};
    let from = ReleaseName::parse(&name).map_err(|_| not_found())?;
    let to = ChangelogEnd::parse(&to)?;
    super::server::in_org(async |ctx, state| {
        changelog::page(ctx, state, &from, &to, cursor.as_deref()).await
    })
    .await
}

#[server(endpoint = "releases/delete")]
pub async fn delete_release(name: String) -> Result<(), AppError> {
    use crate::backend::releases;
    use crate::model::releases::ReleaseName;
    let name = ReleaseName::parse(&name).map_err(|_| not_found())?;
    super::server::in_org(async |ctx, state| releases::delete(ctx, state, &name).await).await?;
    super::server::redirect_with_notice("/releases", format!("Release {name} deleted."));
    Ok(())
}

/// A name no release can have names none.
#[cfg(feature = "ssr")]
fn not_found() -> AppError {
    AppError::new(
        crate::model::ErrorCode::NotFound,
        "There is no such release in this organization.",
    )
}
