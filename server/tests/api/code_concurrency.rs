//! Codes under concurrent writers: one winner per version, contiguous
//! versions, and the plan's code limit under parallel creates.
use app::model::codes::{CodeHistory, CodeOut};
use app::model::ErrorCode;
use futures::future::join_all;

use crate::helpers::{app_error, body_of, spawn_app};

use crate::codes::*;

#[tokio::test]
async fn of_32_concurrent_edits_from_one_version_exactly_one_wins() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    let code = app.create_code(&client, "S72.0", "Fracture of femur").await;
    let id = id_of(&code);

    let responses = join_all((0..32).map(|i| {
        let (app, client, id) = (&app, &client, &id);
        async move {
            app.update_code(client, id, 1, &format!("Edit number {i}"))
                .await
        }
    }))
    .await;

    let mut wins = Vec::new();
    let mut conflicts = 0;
    for response in responses {
        match response.status().as_u16() {
            200 => wins.push(body_of::<CodeOut>(response).await),
            409 => {
                assert_eq!(app_error(response).await.code, ErrorCode::Conflict);
                conflicts += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((wins.len(), conflicts), (1, 31));
    let history: CodeHistory = body_of(app.code_history(&client, &id).await).await;
    assert_eq!(
        history.code.content.description,
        wins[0].content.description
    );
    assert_eq!(app.versions_of(&id).await.len(), 2);
}

#[tokio::test]
async fn versions_stay_contiguous_under_32_concurrent_editors() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    let code = app.create_code(&client, "S72.0", "Fracture of femur").await;
    let id = id_of(&code);

    join_all((0..32).map(|i| {
        let (app, client, id) = (&app, &client, &id);
        async move {
            // Each editor reloads and tries again until its edit lands.
            loop {
                let current: CodeHistory = body_of(app.code_history(client, id).await).await;
                let version = i64::from(current.code.version);
                let response = app
                    .update_code(client, id, version, &format!("Editor {i}"))
                    .await;
                match response.status().as_u16() {
                    200 => break,
                    409 => continue,
                    other => panic!("unexpected status {other}"),
                }
            }
        }
    }))
    .await;

    let numbers: Vec<i32> = app
        .versions_of(&id)
        .await
        .into_iter()
        .map(|v| v.0)
        .collect();
    assert_eq!(numbers, (1..=33).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_code_limit_holds_under_50_parallel_creates() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    let org = app.org_id_of(&user.email).await;
    sqlx::query("update organizations set max_codes = 5 where id = $1")
        .bind(org)
        .execute(&app.db.superuser)
        .await
        .unwrap();
    for i in 0..4 {
        app.create_code(&client, &format!("A0{i}"), "Filler").await;
    }

    let responses = join_all((0..50).map(|i| {
        let (app, client) = (&app, &client);
        async move {
            app.call(
                client,
                "codes/create",
                &code_form(&format!("B{i:02}"), "Racer"),
            )
            .await
        }
    }))
    .await;

    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses.iter().all(|s| *s == 200 || *s == 409));
    assert_eq!(app.count_where("codes", org).await, 5);
    let refused = responses
        .into_iter()
        .find(|r| r.status().as_u16() == 409)
        .unwrap();
    let error = app_error(refused).await;
    assert_eq!(error.code, ErrorCode::LimitReached);
    assert_eq!(
        error.message,
        "Organization has reached its code limit (5)."
    );
}
