//! Row-level security: every table with an `organization_id` is closed to
//! every organization but the one set in the transaction.
use app::model::{OrgId, SessionId, UserId};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::helpers::spawn_app;

/// Every base table in `public` with an `organization_id` column.
async fn tenant_tables(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "select c.table_name::text from information_schema.columns c
         join information_schema.tables t using (table_schema, table_name)
         where c.table_schema = 'public' and c.column_name = 'organization_id'
           and t.table_type = 'BASE TABLE'
         order by 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn every_tenant_table_forces_row_level_security_with_a_policy() {
    let app = spawn_app().await;
    let tables = tenant_tables(&app.db.superuser).await;
    for expected in ["memberships", "audit_log", "outbox"] {
        assert!(
            tables.iter().any(|t| t == expected),
            "{expected} missing from {tables:?}"
        );
    }
    for table in &tables {
        let row = sqlx::query(
            "select c.relrowsecurity, c.relforcerowsecurity,
                    (select count(*) from pg_policies p where p.schemaname = 'public' and p.tablename = c.relname) as policies
             from pg_class c join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = 'public' and c.relname = $1",
        )
        .bind(table)
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
        assert!(
            row.get::<bool, _>("relrowsecurity"),
            "{table} has RLS disabled"
        );
        assert!(
            row.get::<bool, _>("relforcerowsecurity"),
            "{table} does not FORCE RLS"
        );
        assert!(row.get::<i64, _>("policies") > 0, "{table} has no policy");
    }
}

/// Counts `table`'s rows visible to the application with `org` set (or
/// none), in total and of organization `of`.
async fn visible(pool: &PgPool, table: &str, org: Option<OrgId>, of: OrgId) -> (i64, i64) {
    let mut tx = pool.begin().await.unwrap();
    if let Some(org) = org {
        sqlx::query("select set_config('app.org_id', $1, true)")
            .bind(org.to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    // Table names come from the catalog, not from input.
    let total: i64 = sqlx::query_scalar(&format!("select count(*) from {table}"))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let of_org: i64 = sqlx::query_scalar(&format!(
        "select count(*) from {table} where organization_id = $1"
    ))
    .bind(of)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    (total, of_org)
}

#[tokio::test]
async fn an_organization_sees_none_of_another_organizations_rows() {
    let app = crate::helpers::spawn_app_without_webhook_worker().await;
    let (a, a_client) = app.signed_up_user().await;
    let (b, b_client) = app.signed_up_user().await;
    // Give every tenant table rows of both organizations.
    for (client, email) in [
        (&a_client, "for-a@example.com"),
        (&b_client, "for-b@example.com"),
    ] {
        // Nothing listens there: each delivery's attempt fails, and is kept.
        app.create_endpoint(
            client,
            &format!("http://127.0.0.1:{}/hook", closed_port()),
            &[],
        )
        .await;
        assert!(app
            .invite(client, email, "member")
            .await
            .status()
            .is_success());
        app.create_api_key(client, "tenancy", &["codes:read"]).await;
        let code = app.create_code(client, "S72.0", "Fracture of femur").await;
        let comment = app
            .call(
                client,
                "codes/comment",
                &[
                    ("code_id", code.id.to_string()),
                    ("version", "1".into()),
                    ("body", "Checked".into()),
                ],
            )
            .await;
        assert!(comment.status().is_success());
        let imported = app
            .import_csv(
                client,
                b"code,description,category\nB01,Varicella,Infectious\n".to_vec(),
                "file_name=tenancy.csv",
            )
            .await;
        assert!(imported.status().is_success());
        let release = app
            .call(client, "releases/cut", &[("name", "tenancy".into())])
            .await;
        assert!(release.status().is_success());
    }
    assert!(app.deliver_webhooks_at(chrono::Utc::now()).await > 0);
    let (org_a, org_b) = (app.org_id_of(&a.email).await, app.org_id_of(&b.email).await);

    for table in tenant_tables(&app.db.superuser).await {
        let (a_total, a_own) = visible(&app.app_pool, &table, Some(org_a), org_a).await;
        assert!(
            a_own > 0,
            "{table}: organization A should have rows for this test to mean anything"
        );
        assert_eq!(a_total, a_own, "{table}: A sees rows that are not its own");

        let (b_total, b_sees_of_a) = visible(&app.app_pool, &table, Some(org_b), org_a).await;
        assert_eq!(b_sees_of_a, 0, "{table}: B sees A's rows");
        let b_own: i64 = sqlx::query_scalar(&format!(
            "select count(*) from {table} where organization_id = $1"
        ))
        .bind(org_b)
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
        assert_eq!(b_total, b_own, "{table}: B sees rows that are not its own");

        let (none_total, _) = visible(&app.app_pool, &table, None, org_a).await;
        assert_eq!(
            none_total, 0,
            "{table}: rows visible with no organization set"
        );
    }
}

#[tokio::test]
async fn the_application_cannot_write_into_another_organization() {
    let app = spawn_app().await;
    let (a, _) = app.signed_up_user().await;
    let (b, _) = app.signed_up_user().await;
    let (org_a, org_b) = (app.org_id_of(&a.email).await, app.org_id_of(&b.email).await);

    let mut tx = app.app_pool.begin().await.unwrap();
    sqlx::query("select set_config('app.org_id', $1, true)")
        .bind(org_b.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let error = sqlx::query("insert into outbox (organization_id, id, event_type, payload) values ($1, $2, 'x.y', '{}')")
        .bind(org_a)
        .bind(Uuid::new_v4())
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("row-level security"), "{error}");
    drop(tx);

    let mut tx = app.app_pool.begin().await.unwrap();
    sqlx::query("select set_config('app.org_id', $1, true)")
        .bind(org_b.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let changed = sqlx::query("update memberships set role = 'viewer' where organization_id = $1")
        .bind(org_a)
        .execute(&mut *tx)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(changed, 0, "B changed A's memberships");
}

#[tokio::test]
async fn an_organization_always_keeps_an_owner() {
    let app = spawn_app().await;
    let (a, _) = app.signed_up_user().await;
    let org = app.org_id_of(&a.email).await;

    let error = sqlx::query("update memberships set role = 'admin' where organization_id = $1")
        .bind(org)
        .execute(&app.db.superuser)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("at least one owner"), "{error}");
    let error = sqlx::query("delete from users where email = $1")
        .bind(&a.email)
        .execute(&app.db.superuser)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("at least one owner"), "{error}");

    // Deleting the organization itself takes its memberships with it.
    sqlx::query("delete from organizations where id = $1")
        .bind(org)
        .execute(&app.db.superuser)
        .await
        .unwrap();
}

async fn refused(
    app: &crate::helpers::TestApp,
    user: UserId,
    org: OrgId,
    statement: &str,
) -> String {
    let mut tx = app.as_app(Some(user), Some(org)).await;
    sqlx::query(statement)
        .bind(user)
        .execute(&mut *tx)
        .await
        .expect_err(statement)
        .to_string()
}

#[tokio::test]
async fn the_application_role_cannot_touch_users_beyond_what_it_uses() {
    let app = spawn_app().await;
    let (a, _) = app.signed_up_user().await;
    let (user_id, org) = (
        app.user_id_of(&a.email).await,
        app.org_id_of(&a.email).await,
    );

    for statement in [
        "delete from users where id = $1",
        "update users set is_platform_admin = true where id = $1",
        "update users set password_hash = 'chosen' where id = $1",
        "update organizations set audit_head_seq = 0 where $1::uuid is not null",
    ] {
        let error = refused(&app, user_id, org, statement).await;
        assert!(error.contains("permission denied"), "{statement}: {error}");
    }
}

#[tokio::test]
async fn the_application_role_cannot_create_tables_nor_temporary_ones() {
    let app = spawn_app().await;
    for statement in [
        "create table public.planted (x int)",
        "create temporary table planted (x int)",
    ] {
        let error = sqlx::query(statement)
            .execute(&app.app_pool)
            .await
            .expect_err(statement)
            .to_string();
        assert!(error.contains("permission denied"), "{statement}: {error}");
    }
}

#[tokio::test]
async fn a_user_reads_but_cannot_change_their_memberships_in_other_organizations() {
    let app = spawn_app().await;
    let (a, _) = app.signed_up_user().await;
    let (b, _) = app.signed_up_user().await;
    let (org_a, org_b) = (app.org_id_of(&a.email).await, app.org_id_of(&b.email).await);
    let a_id = app.user_id_of(&a.email).await;
    // A is also a member of B's organization.
    sqlx::query(
        "insert into memberships (organization_id, user_id, role) values ($1, $2, 'member')",
    )
    .bind(org_b)
    .bind(a_id)
    .execute(&app.db.superuser)
    .await
    .unwrap();

    let mut tx = app.as_app(Some(a_id), Some(org_a)).await;
    let seen: i64 = sqlx::query_scalar("select count(*) from memberships where user_id = $1")
        .bind(a_id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(seen, 2, "the switcher lists both");
    for statement in [
        "update memberships set role = 'viewer' where organization_id = $1 and user_id = $2",
        "delete from memberships where organization_id = $1 and user_id = $2",
    ] {
        let changed = sqlx::query(statement)
            .bind(org_b)
            .bind(a_id)
            .execute(&mut *tx)
            .await;
        assert!(
            matches!(changed, Ok(ref done) if done.rows_affected() == 0),
            "{statement}: {changed:?}"
        );
    }
    tx.commit().await.unwrap();
    let role: Option<String> = sqlx::query_scalar(
        "select role::text from memberships where organization_id = $1 and user_id = $2",
    )
    .bind(org_b)
    .bind(a_id)
    .fetch_optional(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(role.as_deref(), Some("member"));
}

#[tokio::test]
async fn every_security_definer_function_pins_its_search_path() {
    let app = spawn_app().await;
    let functions: Vec<(String, Option<Vec<String>>)> = sqlx::query_as(
        "select p.proname::text, p.proconfig from pg_proc p
         where p.prosecdef and p.pronamespace = 'public'::regnamespace",
    )
    .fetch_all(&app.db.superuser)
    .await
    .unwrap();
    assert!(functions.len() >= 5, "{functions:?}");
    for (name, config) in functions {
        assert!(
            config
                .unwrap_or_default()
                .iter()
                .any(|c| c == "search_path=pg_catalog, public, pg_temp"),
            "{name}"
        );
    }
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A page reads its caller's session and memberships in one statement
/// (`session_caller`, a definer function past the memberships' row-level
/// security): it answers with every organization of the token's holder,
/// by name, and nobody else's; with none for a user without any; with
/// nothing for an unknown or revoked session.
#[tokio::test]
async fn the_session_caller_answers_for_the_tokens_holder_only() {
    use app::backend::sessions::{self, SessionToken};
    use app::backend::RequestMeta;

    let app = spawn_app().await;
    let (ada, _) = app.signed_up_user().await;
    let (bob, _) = app.signed_up_user().await;
    let ada_id = app.user_id_of(&ada.email).await;
    // A second organization of Ada's, named to sort first.
    let second = OrgId::new_v4();
    sqlx::query("insert into organizations (id, name, slug) values ($1, 'AAA first', $2)")
        .bind(second)
        .bind(format!("aaa-{}", &second.0.simple().to_string()[..8]))
        .execute(&app.db.superuser)
        .await
        .unwrap();
    sqlx::query(
        "insert into memberships (organization_id, user_id, role) values ($1, $2, 'viewer')",
    )
    .bind(second)
    .bind(ada_id)
    .execute(&app.db.superuser)
    .await
    .unwrap();

    let mut conn = app.app_pool.acquire().await.unwrap();
    let meta = RequestMeta::default();
    let token = sessions::create(&mut conn, ada_id, None, sessions::Lifetime::Workday, &meta)
        .await
        .unwrap();
    let (user, memberships) = sessions::authenticate_with_memberships(&app.app_pool, &token)
        .await
        .unwrap()
        .expect("a live session");
    assert_eq!(user.user_id, ada_id);
    let orgs: Vec<OrgId> = memberships.iter().map(|m| m.organization.id).collect();
    assert_eq!(orgs, vec![second, app.org_id_of(&ada.email).await]);
    assert!(!orgs.contains(&app.org_id_of(&bob.email).await));

    // A user without any organization is still signed in, with none.
    let loner = UserId::new_v4();
    sqlx::query(
        "insert into users (id, email, name, password_hash)
         values ($1, $2, 'Loner', 'not a hash')",
    )
    .bind(loner)
    .bind(format!("loner-{}@example.com", loner.0.simple()))
    .execute(&app.db.superuser)
    .await
    .unwrap();
    let loner_token = sessions::create(&mut conn, loner, None, sessions::Lifetime::Workday, &meta)
        .await
        .unwrap();
    let (user, memberships) = sessions::authenticate_with_memberships(&app.app_pool, &loner_token)
        .await
        .unwrap()
        .expect("a live session");
    assert_eq!((user.user_id, memberships.len()), (loner, 0));

    // Unknown or revoked: nobody.
    let unknown = SessionToken::generate();
    assert!(
        sessions::authenticate_with_memberships(&app.app_pool, &unknown)
            .await
            .unwrap()
            .is_none()
    );
    let session_id: SessionId = sqlx::query_scalar("select id from sessions where token_hash = $1")
        .bind(token.hash())
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
    sessions::revoke(&mut conn, session_id).await.unwrap();
    assert!(
        sessions::authenticate_with_memberships(&app.app_pool, &token)
            .await
            .unwrap()
            .is_none()
    );
}
