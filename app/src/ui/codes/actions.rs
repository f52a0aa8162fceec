//! The changes a code's page makes (edit, delete, restore, comments),
//! shared by its parts: the page itself and its history.
use leptos::prelude::*;

use super::Draft;
use crate::api::codes::{
    AddComment, DeleteCode, DeleteComment, EditComment, RestoreCode, UpdateCode,
};
use crate::ui::actions::form_action;

/// Every change this page can make; each answers with a redirect back to
/// the code's page.
#[derive(Clone, Copy)]
pub(super) struct CodeActions {
    pub update: ServerAction<UpdateCode>,
    pub delete: ServerAction<DeleteCode>,
    pub restore: ServerAction<RestoreCode>,
    pub comment: ServerAction<AddComment>,
    pub edit_comment: ServerAction<EditComment>,
    pub delete_comment: ServerAction<DeleteComment>,
    /// The last edit the running app sent: the version it was based on and
    /// what was typed (the action forgets its input once answered).
    pub(super) last_edit: RwSignal<Option<(i32, Draft)>>,
    /// Whether the edit form holds typing not yet saved.
    pub(super) editing: RwSignal<bool>,
}

impl CodeActions {
    pub(super) fn new() -> Self {
        let update = form_action::<UpdateCode>();
        let last_edit = RwSignal::new(None);
        let editing = RwSignal::new(false);
        Effect::new(move |_| {
            if let Some(sent) = update.input().get() {
                last_edit.set(Some((sent.version, Draft::from(&sent))));
            }
        });
        // Answered: the form is rebuilt from what the server now holds.
        Effect::watch(
            move || update.version().get(),
            move |_, _, _| editing.set(false),
            false,
        );
        CodeActions {
            update,
            delete: form_action(),
            restore: form_action(),
            comment: form_action(),
            edit_comment: form_action(),
            delete_comment: form_action(),
            last_edit,
            editing,
        }
    }
}

impl From<&UpdateCode> for Draft {
    fn from(sent: &UpdateCode) -> Self {
        Draft {
            code: sent.code.clone(),
            description: sent.description.clone(),
            category: sent.category.clone(),
            severity: sent.severity.clone().unwrap_or_default(),
            active: sent.active.is_some(),
            comment: sent.comment.clone().unwrap_or_default(),
        }
    }
}
