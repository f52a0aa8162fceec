//! API keys of the caller's organization: list, create (the key is in the
//! answer and nowhere else ever), rotate and revoke.
use crate::model::ApiKeyId;
use leptos::prelude::*;

use crate::model::api_keys::{ApiKeyOut, ApiKeyWithSecret};
use crate::model::AppError;

#[server(endpoint = "api_keys/list")]
pub async fn list_api_keys() -> Result<Vec<ApiKeyOut>, AppError> {
    use crate::backend::api_keys;
    super::server::in_org(async |ctx, state| api_keys::list(ctx, state).await).await
}

#[server(endpoint = "api_keys/create")]
pub async fn create_api_key(
    name: String,
    #[server(default)] scopes: Vec<String>,
    #[server(default)] expires_in_days: Option<String>,
    #[server(default)] rate_limit_per_minute: Option<String>,
) -> Result<ApiKeyWithSecret, AppError> {
    use crate::backend::api_keys;
    use crate::model::api_keys::ApiKeyForm;
    let form = ApiKeyForm {
        name,
        scopes,
        expires_in_days,
        rate_limit_per_minute,
    };
    let made =
        super::server::in_org(async |ctx, state| api_keys::create(ctx, state, form).await).await?;
    super::server::redirect_with_secret("/api-keys", &made.secret);
    Ok(made)
}

/// A new key with the same settings; the old one works for `grace_hours`
/// more (default 24, at most 168; 0 stops it now).
#[server(endpoint = "api_keys/rotate")]
pub async fn rotate_api_key(
    id: ApiKeyId,
    #[server(default)] grace_hours: Option<String>,
) -> Result<ApiKeyWithSecret, AppError> {
    use crate::backend::api_keys;
    let made = super::server::in_org(async |ctx, state| {
        api_keys::rotate(ctx, state, id, grace_hours.as_deref()).await
    })
    .await?;
    super::server::redirect_with_secret("/api-keys", &made.secret);
    Ok(made)
}

#[server(endpoint = "api_keys/revoke")]
pub async fn revoke_api_key(id: ApiKeyId) -> Result<ApiKeyOut, AppError> {
    use crate::backend::api_keys;
    let revoked =
        super::server::in_org(async |ctx, state| api_keys::revoke(ctx, state, id).await).await?;
    leptos_axum::redirect("/api-keys");
    Ok(revoked)
}
