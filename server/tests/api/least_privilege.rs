//! What the application role can do by itself, as SQL run with its
//! credentials (a bug, an injection) would try it: `app.user_id` and
//! `app.org_id` are settings it sets freely, so the definer functions that
//! act as a person take the holder's session token (its hash) as proof,
//! `organizations` is closed like a tenant table, and the functions that
//! work on every organization's deliveries are the workers' role's alone.
use app::model::{OrgId, UserId};
use sha2::{Digest, Sha256};

use crate::helpers::{new_client, NewUser, TestApp};

/// A user signed up with a client of their own, and their session token's
/// hash, read from the cookie the sign-up set.
struct Person {
    id: UserId,
    email: String,
    proof: Vec<u8>,
}

async fn person(app: &TestApp) -> Person {
    let user = NewUser::random();
    let response = app.sign_up(&new_client(), &user).await;
    assert!(response.status().is_success());
    let token = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("codebook_session="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    Person {
        id: app.user_id_of(&user.email).await,
        email: user.email,
        proof: Sha256::digest(token.as_bytes()).to_vec(),
    }
}

/// The error `statement` fails with, run as the application role claiming
/// to be `user`.
async fn refusal(
    app: &TestApp,
    user: Option<UserId>,
    org: Option<OrgId>,
    statement: &str,
    proof: &[u8],
) -> String {
    let mut tx = app.as_app(user, org).await;
    let result = sqlx::query(statement).bind(proof).execute(&mut *tx).await;
    match result {
        Ok(done) => panic!("`{statement}` was allowed ({} rows)", done.rows_affected()),
        Err(e) => e.to_string(),
    }
}

async fn password_hash_of(app: &TestApp, user: UserId) -> String {
    sqlx::query_scalar("select password_hash from users where id = $1")
        .bind(user)
        .fetch_one(&app.db.superuser)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_app_role_cannot_read_the_hashes_that_definer_functions_take_as_proof() {
    let app = crate::helpers::spawn_app().await;
    let ada = person(&app).await;

    for statement in [
        "select count(*) from sessions where token_hash = $1",
        "select count(*) from password_resets where token_hash = $1",
    ] {
        let error = refusal(&app, Some(ada.id), None, statement, &ada.proof).await;
        assert!(error.contains("permission denied"), "{statement}: {error}");
    }
}

#[tokio::test]
async fn the_platform_list_needs_a_platform_admins_token_whoever_the_role_claims_to_be() {
    let app = crate::helpers::spawn_app().await;
    // The first user of a development instance is platform admin.
    let admin = person(&app).await;
    let user = person(&app).await;
    let list = "select * from platform_organizations($1, '', 10, 0)";

    let claimed = refusal(&app, Some(admin.id), None, list, &user.proof).await;
    assert!(
        claimed.contains("only platform administrators"),
        "{claimed}"
    );
    let forged = refusal(&app, Some(admin.id), None, list, &[7u8; 32]).await;
    assert!(forged.contains("no live session"), "{forged}");

    let mut tx = app.as_app(Some(user.id), None).await;
    let listed = sqlx::query(list)
        .bind(&admin.proof)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
}

#[tokio::test]
async fn a_password_or_an_account_changes_only_for_the_holder_of_its_session() {
    let app = crate::helpers::spawn_app().await;
    let victim = person(&app).await;
    let attacker = person(&app).await;
    let victim_hash = password_hash_of(&app, victim.id).await;

    // Claiming to be the victim changes the attacker's own password.
    let mut tx = app.as_app(Some(victim.id), None).await;
    sqlx::query("select set_own_password($1, 'chosen')")
        .bind(&attacker.proof)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(password_hash_of(&app, victim.id).await, victim_hash);
    assert_eq!(password_hash_of(&app, attacker.id).await, "chosen");

    let forged = refusal(
        &app,
        Some(victim.id),
        None,
        "select set_own_password($1, 'chosen')",
        &[1u8; 32],
    )
    .await;
    assert!(forged.contains("no live session"), "{forged}");
    let deleted = refusal(
        &app,
        Some(victim.id),
        None,
        "select * from delete_own_account($1)",
        &[2u8; 32],
    )
    .await;
    assert!(deleted.contains("no live session"), "{deleted}");
    assert_eq!(app.user_id_of(&victim.email).await, victim.id);

    // A revoked session proves nothing any more.
    sqlx::query("update sessions set revoked_at = now() where user_id = $1")
        .bind(attacker.id)
        .execute(&app.db.superuser)
        .await
        .unwrap();
    let revoked = refusal(
        &app,
        Some(attacker.id),
        None,
        "select set_own_password($1, 'again')",
        &attacker.proof,
    )
    .await;
    assert!(revoked.contains("no live session"), "{revoked}");
}

#[tokio::test]
async fn the_app_role_sees_and_changes_only_its_own_organization_and_never_its_plan() {
    let app = crate::helpers::spawn_app().await;
    let admin = person(&app).await;
    let member = person(&app).await;
    let (own, other) = (
        app.org_id_of(&member.email).await,
        app.org_id_of(&admin.email).await,
    );

    let mut tx = app.as_app(Some(member.id), Some(own)).await;
    let visible: Vec<OrgId> = sqlx::query_scalar("select id from organizations")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(visible, [own]);
    let renamed = sqlx::query("update organizations set name = 'Taken' where id = $1")
        .bind(other)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(renamed.rows_affected(), 0);
    let removed = sqlx::query("delete from organizations where id = $1")
        .bind(other)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(removed.rows_affected(), 0);
    tx.commit().await.unwrap();

    for statement in [
        "update organizations set plan = 'enterprise' where id = $1",
        "update organizations set active = false where id = $1",
        "update organizations set max_codes = 1000000 where id = $1",
    ] {
        let mut tx = app.as_app(Some(member.id), Some(own)).await;
        let error = sqlx::query(statement)
            .bind(own)
            .execute(&mut *tx)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("permission denied"), "{statement}: {error}");
    }
    let upgrade = "select platform_set_organization_plan($1, '00000000-0000-0000-0000-000000000000'::uuid, 'enterprise')";
    let not_admin = refusal(&app, Some(admin.id), Some(own), upgrade, &member.proof).await;
    assert!(
        not_admin.contains("only platform administrators"),
        "{not_admin}"
    );

    let mut tx = app.as_app(Some(admin.id), Some(own)).await;
    let changed: bool =
        sqlx::query_scalar("select platform_set_organization_plan($1, $2, 'enterprise')")
            .bind(&admin.proof)
            .bind(own)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert!(changed);
    let names: Vec<(String, String)> = sqlx::query_as(
        "select name, plan::text from organizations where id in ($1, $2) order by id = $1 desc",
    )
    .bind(own)
    .bind(other)
    .fetch_all(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(names[0].1, "enterprise");
    assert_ne!(names[1].0, "Taken");
}

#[tokio::test]
async fn only_the_workers_role_leases_records_and_prunes_deliveries() {
    let app = crate::helpers::spawn_app().await;
    let ada = person(&app).await;
    let org = app.org_id_of(&ada.email).await;
    let statements = [
        "select * from webhook_claim(now(), 10, '{}'::uuid[], '{}'::int[], 10)",
        "select * from webhook_record('[]'::jsonb)",
        "select webhook_prune(now(), 10)",
    ];

    for statement in statements {
        let mut tx = app.as_app(Some(ada.id), Some(org)).await;
        let error = sqlx::query(statement)
            .execute(&mut *tx)
            .await
            .expect_err(statement)
            .to_string();
        assert!(error.contains("permission denied"), "{statement}: {error}");
    }
    for statement in statements {
        sqlx::query(statement)
            .execute(&app.worker_pool)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}
