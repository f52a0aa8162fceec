//! The OpenAPI 3.1 document: every resource's part, the conventions
//! (bearer scheme, common error responses) and the route that serves it.
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{self, RefOr};
use utoipa::OpenApi;

use app::model::ErrorCode;

use super::{ErrorBody, ErrorDetail, ErrorDetails, RESOURCES};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Codebook REST API",
        version = "1",
        description = "The REST API of Codebook: an organization's diagnostic codes under version \
control, their comments, import and export, members, invitations and webhooks.\n\n\
**Authentication**: `Authorization: Bearer <token>`, where the token is an access token from \
`POST /api/v1/auth/token` (15 minutes, bound to a session) or an API key of the organization \
(`cb_live_…`). Every call works on the caller's organization; another organization's ids are \
not found (404).\n\n\
**Errors** are always `{\"error\": {\"code\", \"message\", \"details\"}}` with the status of \
their code (`ErrorCode`); `details.field` names the input a `validation` error is about.\n\n\
**Concurrency**: a code's `ETag` is its current version (`\"3\"`); `PATCH /api/v1/codes/{code_id}` \
requires it in `If-Match` (428 without, 412 when the code has moved on, and nothing changes).\n\n\
**Pagination**: lists that page return `next_cursor`; pass it back as `cursor` for the next \
page (null on the last one).\n\n\
**Limits**: request bodies are capped at 256 KiB (413), but `POST /api/v1/codes/import`, which \
takes CSV files up to 64 MiB. Every response carries an `X-Request-Id` header (a client may \
send its own, up to 64 characters of `[A-Za-z0-9._-]`).\n\n\
**API keys** carry scopes (`codes:read`, `codes:write`, `members:read`, `invitations:manage`, \
`webhooks:manage`, `audit:read`); an operation outside them is 403. Each key has a rate limit \
per minute: its responses carry `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` and \
`RateLimit-Policy`, and a request past the limit gets 429 with `Retry-After`. A revoked, expired \
or rotated-out key gets 401."
    ),
    components(schemas(ErrorBody, ErrorDetail, ErrorDetails, ErrorCode)),
    modifiers(&Conventions),
    tags(
        (name = "auth", description = "Access tokens and the caller."),
        (name = "codes", description = "Diagnostic codes, their versions and diffs."),
        (name = "comments", description = "Comments on the versions of a code."),
        (name = "import and export", description = "Bulk CSV import (an upsert, all or nothing) and streamed CSV/JSON export."),
        (name = "releases", description = "Immutable releases of the catalogue, their codes and files, and changelogs between them."),
        (name = "members", description = "Members of the organization (read only)."),
        (name = "invitations", description = "Invitations to join the organization."),
        (name = "webhooks", description = "Webhook endpoints, their deliveries, replays and test sends."),
        (name = "audit", description = "The organization's tamper-evident audit log: browse, export, verify."),
    ),
    security(("bearer" = [])),
)]
struct ApiDoc;

/// The OpenAPI 3.1 document of the whole API, built once.
pub fn openapi() -> &'static openapi::OpenApi {
    static DOC: OnceLock<openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        for resource in RESOURCES {
            doc.merge((resource.openapi)());
        }
        document_common_errors(&mut doc);
        doc
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "auth",
    operation_id = "get_openapi",
    summary = "This document",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.", content_type = "application/json", body = Object)),
)]
pub(super) async fn openapi_json() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| openapi().to_json().unwrap_or_default());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.as_str(),
    )
        .into_response()
}

/// The bearer scheme, and the document's own operation.
struct Conventions;

impl utoipa::Modify for Conventions {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description = Some(
            "An access token from `POST /api/v1/auth/token` (a JWT) or an API key (`cb_live_…`)."
                .into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        let own: openapi::OpenApi = OwnDoc::openapi();
        doc.merge(own);
    }
}

#[derive(OpenApi)]
#[openapi(paths(openapi_json))]
struct OwnDoc;

/// The error responses every operation may give, added to each where it
/// applies unless the operation documents its own: 400 (undecodable
/// input), 401/403 (with a credential), 404 (with an id in the path),
/// 413/415/422 (with a body), 429 (rate limits), 503 (the database
/// unreachable).
fn document_common_errors(doc: &mut openapi::OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let has_id = path.contains('{');
        let operations = [
            item.get.as_mut(),
            item.post.as_mut(),
            item.put.as_mut(),
            item.patch.as_mut(),
            item.delete.as_mut(),
        ];
        for operation in operations.into_iter().flatten() {
            let public = operation
                .security
                .as_ref()
                .is_some_and(|s| s.iter().all(is_empty_requirement));
            let has_body = operation.request_body.is_some();
            let mut add = |status: u16, description: &str| {
                operation
                    .responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| RefOr::T(error_response(status, description)));
            };
            add(400, "The request does not decode: a malformed id, query parameter, header or JSON body.");
            if !public {
                add(401, "No credential, or one that is invalid or expired.");
                add(403, "The caller's role or the key's scopes do not allow this, or the organization is deactivated.");
            }
            if has_id {
                add(
                    404,
                    "There is no such resource in the caller's organization.",
                );
            }
            if has_body {
                add(
                    413,
                    "The body is over the limit (256 KiB; 64 MiB for the import).",
                );
                add(415, "The body is not of the documented content type.");
                add(422, "The body is well-formed but a value is not acceptable; `details.field` names it.");
            }
            add(
                429,
                "Too many requests; `Retry-After` says when to try again.",
            );
            add(
                503,
                "The database could not be reached; `Retry-After` says when to try again.",
            );
        }
    }
}

fn is_empty_requirement(requirement: &openapi::security::SecurityRequirement) -> bool {
    serde_json::to_value(requirement).is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty()))
}

/// An error response of the uniform shape.
fn error_response(status: u16, description: &str) -> openapi::Response {
    let content = openapi::ContentBuilder::new()
        .schema(Some(openapi::Ref::from_schema_name("ErrorBody")))
        .build();
    let mut builder = openapi::ResponseBuilder::new()
        .description(description)
        .content("application/json", content);
    if status == 429 || status == 503 {
        builder = builder.header(
            "Retry-After",
            openapi::HeaderBuilder::new()
                .schema(
                    openapi::ObjectBuilder::new()
                        .schema_type(openapi::schema::Type::Integer)
                        .minimum(Some(0)),
                )
                .description(Some("Seconds to wait before trying again."))
                .build(),
        );
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_every_operation_named_and_its_errors() {
        let doc = serde_json::to_value(openapi()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let mut ids = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path}"));
                assert!(ids.insert(id.to_owned()), "operation id {id} twice");
                let responses = op["responses"].as_object().unwrap();
                assert!(responses.contains_key("400"), "{method} {path}");
                if path.contains('{') {
                    assert!(responses.contains_key("404"), "{method} {path}");
                }
            }
        }
        let patch = &doc["paths"]["/api/v1/codes/{code_id}"]["patch"]["responses"];
        assert!(patch.get("412").is_some() && patch.get("428").is_some());
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }
}
