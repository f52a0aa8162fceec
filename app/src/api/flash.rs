//! The flash a form's answer left for a page (`model::flash`), for the
//! running app: the server render takes it itself (`ui::flash`), the
//! browser asks for it after it moved to another page or a form answered.
use leptos::prelude::*;

use crate::model::flash::Flash;
use crate::model::AppError;

/// Takes the flash for the page at `path`, if the browser holds one: it is
/// sealed to that page, and taking it clears it.
#[server(endpoint = "flash/take")]
pub async fn take_page_flash(path: String) -> Result<Option<Flash>, AppError> {
    Ok(super::server::take_flash_for(&path))
}
