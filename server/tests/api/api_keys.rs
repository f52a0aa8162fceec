//! API keys: made and managed by admins through server functions, used by
//! programs on `/api/v1`.
use app::model::api_keys::{ApiKeyOut, ApiKeyWithSecret, Scope};
use app::model::codes::{CodeOut, VersionOut};
use app::model::{ApiKeyId, ErrorCode, OrgId};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::api_key_forms::regex_lite_match;
use crate::helpers::{app_error, body_of, spawn_app, Page, RestErrorBody, TestApp};
use crate::rest::api_error;

pub const ALL_SCOPES: [&str; 6] = [
    "codes:read",
    "codes:write",
    "members:read",
    "invitations:manage",
    "webhooks:manage",
    "audit:read",
];

pub struct Key {
    pub id: ApiKeyId,
    pub secret: String,
}

impl TestApp {
    pub async fn create_api_key(&self, client: &Client, name: &str, scopes: &[&str]) -> Key {
        self.create_api_key_with(client, name, scopes, &[]).await
    }

    pub async fn create_api_key_with(
        &self,
        client: &Client,
        name: &str,
        scopes: &[&str],
        extra: &[(&str, &str)],
    ) -> Key {
        let response = self.try_create_api_key(client, name, scopes, extra).await;
        let made: ApiKeyWithSecret = body_of(response).await;
        Key {
            id: made.key.id,
            secret: made.secret,
        }
    }

    pub async fn try_create_api_key(
        &self,
        client: &Client,
        name: &str,
        scopes: &[&str],
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = vec![("name", name.to_owned())];
        form.extend(scopes.iter().map(|s| ("scopes[]", (*s).to_owned())));
        form.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        self.call(client, "api_keys/create", &form).await
    }

    pub async fn api_keys(&self, client: &Client) -> Vec<ApiKeyOut> {
        body_of(self.call(client, "api_keys/list", &[]).await).await
    }

    /// A request to the REST API with `key`.
    pub async fn with_key(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = Client::new()
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request sent")
    }

    pub async fn get_with_key(&self, key: &str, path: &str) -> reqwest::Response {
        self.with_key(key, Method::GET, path, None).await
    }
}

/// An owner of an organization with room for many keys (the free plan
/// allows two).
pub(crate) async fn owner_without_key_limit(app: &TestApp) -> (Client, OrgId) {
    let (user, client) = app.signed_up_user().await;
    let org_id = app.org_id_of(&user.email).await;
    sqlx::query("update organizations set max_api_keys = 100 where id = $1")
        .bind(org_id)
        .execute(&app.db.superuser)
        .await
        .unwrap();
    (client, org_id)
}

pub(crate) async fn owner_with_key(app: &TestApp, scopes: &[&str]) -> (Client, OrgId, Key) {
    let (client, org_id) = owner_without_key_limit(app).await;
    let key = app.create_api_key(&client, "CI sync", scopes).await;
    (client, org_id, key)
}

#[tokio::test]
async fn a_new_key_is_shown_once_stored_as_a_hash_and_listed_by_its_prefix() {
    let app = spawn_app().await;
    let (client, org_id, key) = owner_with_key(&app, &["codes:read"]).await;

    let shape = regex_lite_match(&key.secret);
    assert!(shape, "{}", key.secret);
    let stored: (Vec<u8>, String) =
        sqlx::query_as("select key_hash, prefix from api_keys where organization_id = $1")
            .bind(org_id)
            .fetch_one(&app.db.superuser)
            .await
            .unwrap();
    assert_eq!(stored.0, Sha256::digest(key.secret.as_bytes()).to_vec());
    assert!(key.secret.starts_with(&stored.1) && stored.1.len() == "cb_live_".len() + 8);

    let listed = app.api_keys(&client).await;
    assert_eq!(listed.len(), 1);
    let text = serde_json::to_string(&listed).unwrap();
    assert!(!text.contains(&key.secret[stored.1.len()..]), "{text}");
    assert_eq!(listed[0].prefix, stored.1);
    assert_eq!(listed[0].scopes, [Scope::CodesRead]);
    assert_eq!(listed[0].request_count, 0);
    assert!(listed[0].created_by.is_some());
}

#[tokio::test]
async fn a_key_works_on_the_api_and_its_usage_is_recorded() {
    let app = spawn_app().await;
    let (client, _, key) = owner_with_key(&app, &["codes:read"]).await;

    for _ in 0..2 {
        let response = app.get_with_key(&key.secret, "/api/v1/codes").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().contains_key("x-request-id"));
        assert_eq!(response.headers()["ratelimit-limit"], "600");
    }

    let listed = app.api_keys(&client).await;
    assert_eq!(listed[0].request_count, 2);
    assert_eq!(listed[0].last_used_ip.as_deref(), Some("127.0.0.1"));
    assert!(listed[0].last_used_at.is_some());
}

/// One operation of the API per permission a scope can grant, each
/// harmless or refused before it does anything when the key lacks it.
pub(crate) struct Operation {
    method: Method,
    path: &'static str,
    body: Option<Value>,
    /// The scopes that allow it; every other scope gets 403.
    allowed_by: &'static [&'static str],
}

pub(crate) fn operations() -> Vec<Operation> {
    vec![
        Operation {
            method: Method::GET,
            path: "/api/v1/codes",
            body: None,
            allowed_by: &["codes:read"],
        },
        Operation {
            method: Method::POST,
            path: "/api/v1/codes",
            body: Some(json!({"code": "", "description": ""})),
            allowed_by: &["codes:write"],
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/codes/export",
            body: None,
            allowed_by: &["codes:write"],
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/members",
            body: None,
            allowed_by: &["members:read"],
        },
        Operation {
            method: Method::POST,
            path: "/api/v1/invitations",
            body: Some(json!({"email": "not an email", "role": "member"})),
            allowed_by: &["invitations:manage"],
        },
        // The addresses of people invited are not for every reader.
        Operation {
            method: Method::GET,
            path: "/api/v1/invitations",
            body: None,
            allowed_by: &["invitations:manage"],
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/webhooks",
            body: None,
            allowed_by: &["webhooks:manage"],
        },
        Operation {
            method: Method::POST,
            path: "/api/v1/webhooks",
            body: Some(json!({"url": "not a url"})),
            allowed_by: &["webhooks:manage"],
        },
        Operation {
            method: Method::GET,
            path: "/api/v1/audit",
            body: None,
            allowed_by: &["audit:read"],
        },
    ]
}

#[tokio::test]
async fn each_scope_allows_exactly_its_operations_and_nothing_more() {
    let app = spawn_app().await;
    let (client, org_id) = owner_without_key_limit(&app).await;

    for scope in ALL_SCOPES {
        let key = app.create_api_key(&client, scope, &[scope]).await;
        for op in operations() {
            let response = app
                .with_key(&key.secret, op.method.clone(), op.path, op.body.clone())
                .await;
            let status = response.status();
            let body = response.text().await.unwrap();
            if op.allowed_by.contains(&scope) {
                assert!(
                    status != StatusCode::FORBIDDEN
                        && status != StatusCode::UNAUTHORIZED
                        && !status.is_server_error(),
                    "{scope} should allow {} {}: {status} {body}",
                    op.method,
                    op.path
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{scope} should not allow {} {}: {body}",
                    op.method,
                    op.path
                );
                let error: RestErrorBody =
                    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
                assert_eq!(error.error.code, ErrorCode::Forbidden);
            }
        }
    }

    // Nothing was made by the refused writes, and every refusal is in the
    // audit log under the key that was refused.
    assert_eq!(app.count("codes").await, 0);
    let refusals: i64 = sqlx::query_scalar(
        "select count(*) from audit_log
         where organization_id = $1 and action = 'permission.denied'
           and actor_kind = 'api_key' and outcome = 'failure'",
    )
    .bind(org_id)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    let expected: usize = ALL_SCOPES
        .iter()
        .map(|scope| {
            operations()
                .iter()
                .filter(|op| !op.allowed_by.contains(scope))
                .count()
        })
        .sum();
    assert_eq!(refusals as usize, expected);
}

#[tokio::test]
async fn an_expired_revoked_or_rotated_out_key_gets_401() {
    let app = spawn_app().await;
    let (client, _, expired) = owner_with_key(&app, &["codes:read"]).await;
    let revoked = app
        .create_api_key(&client, "revoked", &["codes:read"])
        .await;
    let rotated_now = app
        .create_api_key(&client, "rotated now", &["codes:read"])
        .await;
    let rotated_later = app
        .create_api_key(&client, "rotated later", &["codes:read"])
        .await;
    for key in [&expired, &revoked, &rotated_now, &rotated_later] {
        let response = app.get_with_key(&key.secret, "/api/v1/codes").await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    sqlx::query("update api_keys set expires_at = now() - interval '1 second' where id = $1")
        .bind(expired.id)
        .execute(&app.db.superuser)
        .await
        .unwrap();
    let response = app
        .call(
            &client,
            "api_keys/revoke",
            &[("id", revoked.id.to_string())],
        )
        .await;
    assert!(response.status().is_success() || response.status().is_redirection());
    let now = rotate(&app, &client, rotated_now.id, "0").await;
    let later = rotate(&app, &client, rotated_later.id, "24").await;

    for key in [&expired, &revoked, &rotated_now] {
        let response = app.get_with_key(&key.secret, "/api/v1/codes").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(api_error(response).await.1.code, ErrorCode::Unauthenticated);
    }
    // Within its grace period the old key still works, beside the new one.
    for key in [&rotated_later.secret, &now, &later] {
        let response = app.get_with_key(key, "/api/v1/codes").await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    // A rotated key cannot be rotated again; a revoked one neither.
    let response = app
        .call(
            &client,
            "api_keys/rotate",
            &[("id", rotated_later.id.to_string())],
        )
        .await;
    assert_eq!(app_error(response).await.code, ErrorCode::Conflict);
}

pub(crate) async fn rotate(
    app: &TestApp,
    client: &Client,
    id: ApiKeyId,
    grace_hours: &str,
) -> String {
    let response = app
        .call(
            client,
            "api_keys/rotate",
            &[("id", id.to_string()), ("grace_hours", grace_hours.into())],
        )
        .await;
    body_of::<ApiKeyWithSecret>(response).await.secret
}

#[tokio::test]
async fn a_malformed_or_unknown_key_gets_401_without_reaching_the_database_rows() {
    let app = spawn_app().await;
    let (_, _, key) = owner_with_key(&app, &["codes:read"]).await;
    let mut tampered = key.secret.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();

    for bad in [
        tampered.as_str(),
        "cb_live_",
        "cb_live_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_000000",
    ] {
        let response = app.get_with_key(bad, "/api/v1/codes").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{bad}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }
    let count: i64 = sqlx::query_scalar("select request_count from api_keys where id = $1")
        .bind(key.id)
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_key_cannot_call_server_functions_or_act_as_a_user() {
    let app = spawn_app().await;
    let (_, _, key) = owner_with_key(&app, &ALL_SCOPES).await;

    let response = Client::new()
        .post(format!("{}/api/codes/list", app.address))
        .bearer_auth(&key.secret)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app.get_with_key(&key.secret, "/api/v1/me").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let (_, error) = api_error(response).await;
    assert!(
        error
            .message
            .contains("API keys act for their organization"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_key_of_one_organization_never_reaches_another_organizations_data() {
    let app = spawn_app().await;
    let (_, _, key_a) = owner_with_key(&app, &ALL_SCOPES).await;
    let (_, _, key_b) = owner_with_key(&app, &ALL_SCOPES).await;
    let created = app
        .with_key(
            &key_a.secret,
            Method::POST,
            "/api/v1/codes",
            Some(json!({"code": "A01.1", "description": "Paratyphoid fever A"})),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let code: CodeOut = body_of(created).await;
    let id = code.id;

    for (method, path, body) in [
        (Method::GET, format!("/api/v1/codes/{id}"), None),
        (Method::GET, format!("/api/v1/codes/{id}/versions"), None),
        (Method::GET, format!("/api/v1/codes/{id}/comments"), None),
        (Method::DELETE, format!("/api/v1/codes/{id}"), None),
    ] {
        let response = app
            .with_key(&key_b.secret, method.clone(), &path, body)
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} {path}");
    }
    let list: Page<CodeOut> = body_of(app.get_with_key(&key_b.secret, "/api/v1/codes").await).await;
    assert!(
        !list
            .items
            .iter()
            .any(|c| c.id == id || c.content.code.as_str() == "A01.1"),
        "{list:?}"
    );
    let still: CodeOut = body_of(
        app.get_with_key(&key_a.secret, &format!("/api/v1/codes/{id}"))
            .await,
    )
    .await;
    assert_eq!(still.deleted_at, None, "{still:?}");
}

#[tokio::test]
async fn what_a_key_writes_names_the_key_as_its_actor() {
    let app = spawn_app().await;
    let (_, org_id, key) = owner_with_key(&app, &["codes:read", "codes:write"]).await;

    let created = app
        .with_key(
            &key.secret,
            Method::POST,
            "/api/v1/codes",
            Some(json!({"code": "B20", "description": "HIV disease"})),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let code: CodeOut = body_of(created).await;

    let version: (String, Option<ApiKeyId>) = sqlx::query_as(
        "select actor_kind::text, actor_id from code_versions where organization_id = $1",
    )
    .bind(org_id)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(version, ("api_key".to_owned(), Some(key.id)));
    let audit: (String, Option<ApiKeyId>) = sqlx::query_as(
        "select actor_kind::text, actor_id from audit_log
         where organization_id = $1 and action = 'code.created'",
    )
    .bind(org_id)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(audit, ("api_key".to_owned(), Some(key.id)));

    // The history names the key for people.
    let versions: Page<VersionOut> = body_of(
        app.get_with_key(&key.secret, &format!("/api/v1/codes/{}/versions", code.id))
            .await,
    )
    .await;
    let [created] = &versions.items[..] else {
        panic!("one version: {versions:?}");
    };
    assert_eq!(created.actor.kind, "api_key");
    assert!(
        created
            .actor
            .name
            .as_deref()
            .is_some_and(|name| name.contains("CI sync")),
        "{:?}",
        created.actor
    );
}

#[tokio::test]
async fn only_admins_and_owners_manage_keys_and_refusals_are_audited() {
    let app = spawn_app().await;
    let (user, owner) = app.signed_up_user().await;
    let org_id = app.org_id_of(&user.email).await;
    let key = app.create_api_key(&owner, "owner's", &["codes:read"]).await;
    let (_, admin, _) = app.member_of(org_id, "admin").await;
    // An admin manages the owner's key: keys belong to the organization.
    let response = app
        .call(&admin, "api_keys/revoke", &[("id", key.id.to_string())])
        .await;
    assert!(
        !response.status().is_client_error(),
        "{}",
        response.status()
    );

    for role in ["manager", "member", "viewer"] {
        let (_, client, _) = app.member_of(org_id, role).await;
        for (endpoint, form) in [
            ("api_keys/list", vec![]),
            (
                "api_keys/create",
                vec![("name", "x".to_owned()), ("scopes[]", "codes:read".into())],
            ),
            ("api_keys/revoke", vec![("id", key.id.to_string())]),
        ] {
            let response = app.call(&client, endpoint, &form).await;
            assert_eq!(
                app_error(response).await.code,
                ErrorCode::Forbidden,
                "{role} {endpoint}"
            );
        }
    }
    let refusals: i64 = sqlx::query_scalar(
        "select count(*) from audit_log
         where organization_id = $1 and action = 'permission.denied' and actor_kind = 'user'
           and resource_id = 'ManageApiKeys'",
    )
    .bind(org_id)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(refusals, 9);
}

#[tokio::test]
async fn a_key_of_another_organization_cannot_be_managed_by_id() {
    let app = spawn_app().await;
    let (_, _, key_a) = owner_with_key(&app, &["codes:read"]).await;
    let (_, client_b) = app.signed_up_user().await;

    for endpoint in ["api_keys/revoke", "api_keys/rotate"] {
        let response = app
            .call(&client_b, endpoint, &[("id", key_a.id.to_string())])
            .await;
        assert_eq!(
            app_error(response).await.code,
            ErrorCode::NotFound,
            "{endpoint}"
        );
    }
    let response = app.get_with_key(&key_a.secret, "/api/v1/codes").await;
    assert_eq!(response.status(), StatusCode::OK);
}
