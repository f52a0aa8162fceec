//! Members, invitations and webhooks through the REST API, end to end.
use app::model::members::{InvitationOut, MemberOut};
use app::model::webhooks::{
    DeliveryDetail, DeliveryOut, DeliveryStatus, EndpointOut, EndpointWithSecret, ReplayOut,
    TestSendOut,
};
use app::model::Role;
use reqwest::{header, Method};
use serde_json::json;

use crate::helpers::{body_of, spawn_app, Page};
use crate::rest::{api_error, Api};

#[tokio::test]
async fn members_are_read_through_the_api() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    let org_id = app.org_id_of(&api.user.email).await;
    let (viewer, _, viewer_id) = app.member_of(org_id, "viewer").await;

    let list: Page<MemberOut> = body_of(api.get("/api/v1/members").await).await;
    let roles: Vec<Role> = list.items.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::Owner, Role::Viewer]);
    let one: MemberOut = body_of(api.get(&format!("/api/v1/members/{viewer_id}")).await).await;
    assert_eq!(one.email, viewer.email);
    let stranger = uuid::Uuid::new_v4();
    assert_eq!(
        api_error(api.get(&format!("/api/v1/members/{stranger}")).await)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn invitations_are_created_listed_resent_and_revoked_through_the_api() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;

    let created = api
        .post(
            "/api/v1/invitations",
            json!({"email": "grace@example.com", "role": "manager"}),
        )
        .await;
    assert_eq!(created.status().as_u16(), 201);
    let location = created.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let invitation: InvitationOut = body_of(created).await;
    assert_eq!(invitation.role, Role::Manager);
    let first_link = app.invitation_token_for("grace@example.com").await;

    let read: InvitationOut = body_of(api.get(&location).await).await;
    assert_eq!(read.id, invitation.id);
    let list: Page<InvitationOut> = body_of(api.get("/api/v1/invitations").await).await;
    assert_eq!(list.items.len(), 1);

    let resent = api.post(&format!("{location}/resend"), json!({})).await;
    assert_eq!(resent.status().as_u16(), 200);
    assert_ne!(
        app.invitation_token_for("grace@example.com").await,
        first_link
    );

    let bad_role = api
        .post(
            "/api/v1/invitations",
            json!({"email": "x@example.com", "role": "emperor"}),
        )
        .await;
    assert_eq!(api_error(bad_role).await.0, 422);
    let bad_email = api
        .post(
            "/api/v1/invitations",
            json!({"email": "not an email", "role": "viewer"}),
        )
        .await;
    let (status, body) = api_error(bad_email).await;
    assert_eq!((status, body.field()), (422, Some("email")));

    assert_eq!(api.delete(&location).await.status().as_u16(), 204);
    let list: Page<InvitationOut> = body_of(api.get("/api/v1/invitations").await).await;
    assert!(list.items.is_empty());
    assert_eq!(api_error(api.delete(&location).await).await.0, 404);
}

#[tokio::test]
async fn webhook_endpoints_and_their_deliveries_are_managed_through_the_api() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    // Nothing listens there: the test send fails, which is recorded.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/hook",
        closed.local_addr().unwrap().port()
    );
    drop(closed);

    let created = api
        .post(
            "/api/v1/webhooks",
            json!({"url": url, "event_types": ["code.created"], "timeout_seconds": 2}),
        )
        .await;
    assert_eq!(created.status().as_u16(), 201);
    let location = created.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let created: EndpointWithSecret = body_of(created).await;
    assert!(created.secret.starts_with("whsec_"));
    assert_eq!(created.endpoint.max_retries, 8);

    let patched = api
        .request(Method::PATCH, &location)
        .json(&json!({"description": "CRM", "max_retries": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status().as_u16(), 200);
    let patched: EndpointOut = body_of(patched).await;
    assert_eq!(
        (
            patched.description.as_str(),
            patched.max_retries,
            patched.timeout_seconds
        ),
        ("CRM", 3, 2)
    );
    assert_eq!(patched.event_types, ["code.created"]);
    let out_of_range = api
        .request(Method::PATCH, &location)
        .json(&json!({"timeout_seconds": 301}))
        .send()
        .await
        .unwrap();
    let (status, body) = api_error(out_of_range).await;
    assert_eq!((status, body.field()), (422, Some("timeout_seconds")));

    let disabled: EndpointOut =
        body_of(api.post(&format!("{location}/disable"), json!({})).await).await;
    assert!(!disabled.enabled);
    let enabled: EndpointOut =
        body_of(api.post(&format!("{location}/enable"), json!({})).await).await;
    assert!(enabled.enabled);
    let patched: EndpointOut = body_of(
        api.request(Method::PATCH, &location)
            .json(&json!({"enabled": false, "max_retries": 4}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((patched.enabled, patched.max_retries), (false, 4));
    let patched: EndpointOut = body_of(
        api.request(Method::PATCH, &location)
            .json(&json!({"enabled": true}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(patched.enabled);
    let rotated: EndpointWithSecret = body_of(
        api.post(&format!("{location}/rotate-secret"), json!({}))
            .await,
    )
    .await;
    assert_ne!(rotated.secret, created.secret);
    assert!(rotated.endpoint.previous_secret_expires_at.is_some());

    let test: TestSendOut = body_of(api.post(&format!("{location}/test"), json!({})).await).await;
    assert!(!test.succeeded);
    let delivery_id = test.delivery_id;

    let log: Page<DeliveryOut> =
        body_of(api.get(&format!("{location}/deliveries?status=dead")).await).await;
    assert_eq!(log.items[0].id, delivery_id);
    assert_eq!(log.next_cursor, None);
    let detail: DeliveryDetail = body_of(
        api.get(&format!("{location}/deliveries/{delivery_id}"))
            .await,
    )
    .await;
    assert_eq!(detail.attempts.len(), 1);
    let bad_cursor = api
        .get(&format!("{location}/deliveries?cursor=nonsense"))
        .await;
    let (status, body) = api_error(bad_cursor).await;
    assert_eq!((status, body.field()), (422, Some("cursor")));

    let replayed = api
        .post(
            &format!("{location}/deliveries/{delivery_id}/replay"),
            json!({}),
        )
        .await;
    assert_eq!(replayed.status().as_u16(), 200);
    let replayed: DeliveryOut = body_of(replayed).await;
    assert_eq!(replayed.status, DeliveryStatus::Pending);

    let range = api
        .post(
            &format!("{location}/replay-failed"),
            json!({"since": "2020-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(range.status().as_u16(), 200);
    // Only the answer's shape is checked here: a count.
    let _: ReplayOut = body_of(range).await;
    let backwards = api
        .post(
            &format!("{location}/replay-failed"),
            json!({"since": "2100-01-01T00:00:00Z", "until": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(api_error(backwards).await.0, 422);

    let list: Page<EndpointOut> = body_of(api.get("/api/v1/webhooks").await).await;
    assert_eq!(list.items.len(), 1);
    assert_eq!(api.delete(&location).await.status().as_u16(), 204);
    assert_eq!(api_error(api.get(&location).await).await.0, 404);
}
