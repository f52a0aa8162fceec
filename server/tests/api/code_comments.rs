//! Comments on codes: who may write, edit and delete them.
use app::model::codes::CommentOut;
use app::model::CommentId;

use crate::codes::id_of;
use crate::helpers::{body_of, spawn_app, TestApp};

impl TestApp {
    /// Comments on version 1 of code `id`; returns the comment's id.
    async fn comment_on(&self, client: &reqwest::Client, id: &str, body: &str) -> CommentId {
        let response = self
            .call(
                client,
                "codes/comment",
                &[
                    ("code_id", id.to_owned()),
                    ("version", "1".into()),
                    ("body", body.into()),
                ],
            )
            .await;
        let comment: CommentOut = body_of(response).await;
        comment.id
    }
}

#[tokio::test]
async fn comments_are_edited_by_their_author_and_deleted_by_author_or_admin() {
    let app = spawn_app().await;
    let (owner_user, owner) = app.signed_up_user().await;
    let org = app.org_id_of(&owner_user.email).await;
    let (_, member, _) = app.member_of(org, "member").await;
    let (_, other, _) = app.member_of(org, "member").await;
    let code = app.create_code(&owner, "S72.0", "Fracture").await;
    let id = id_of(&code);

    let comment_id = app.comment_on(&member, &id, "Looks right").await;

    let edit_form = [("id", comment_id.to_string()), ("body", "Edited".into())];
    let delete_form = [("id", comment_id.to_string())];
    let edited_by_other = app.call(&other, "codes/comment_edit", &edit_form).await;
    assert_eq!(edited_by_other.status().as_u16(), 403);
    let edited = app.call(&member, "codes/comment_edit", &edit_form).await;
    assert!(edited.status().is_success());
    let deleted_by_other = app.call(&other, "codes/comment_delete", &delete_form).await;
    assert_eq!(deleted_by_other.status().as_u16(), 403);
    let deleted_by_owner = app.call(&owner, "codes/comment_delete", &delete_form).await;
    assert!(deleted_by_owner.status().is_success());
    assert_eq!(app.count_where("code_comments", org).await, 0);
}

#[tokio::test]
async fn a_member_made_a_viewer_can_no_longer_delete_their_own_comment() {
    let app = spawn_app().await;
    let (owner_user, owner) = app.signed_up_user().await;
    let org = app.org_id_of(&owner_user.email).await;
    let (_, member, member_id) = app.member_of(org, "member").await;
    let code = app.create_code(&owner, "S72.0", "Fracture").await;
    let comment_id = app.comment_on(&member, &id_of(&code), "Mine").await;

    let demoted = app.change_role(&owner, member_id, "viewer").await;
    assert!(demoted.status().is_success());
    let deleted = app
        .call(
            &member,
            "codes/comment_delete",
            &[("id", comment_id.to_string())],
        )
        .await;

    assert_eq!(deleted.status().as_u16(), 403);
    assert_eq!(app.count_where("code_comments", org).await, 1);
}
