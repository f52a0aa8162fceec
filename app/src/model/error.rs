//! The one error type that crosses the wire. The backend maps its own errors
//! to it once; REST answers with it as JSON, server functions carry it to the
//! UI, which shows `message` next to `field` when there is one.
use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// Stable, machine-readable error codes. Clients may match on these; never
/// rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ErrorCode {
    /// The request itself is malformed: a missing or undecodable argument,
    /// a broken JSON body, a NUL byte. Well-formed but invalid values are
    /// `Validation`, with the field they concern.
    BadRequest,
    /// The body is over the server's limit.
    PayloadTooLarge,
    Validation,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    LimitReached,
    RateLimited,
    AccountLocked,
    OrganizationInactive,
    /// REST: the route exists, but not with this method.
    MethodNotAllowed,
    /// REST: the `If-Match` of a change names a version that is not the
    /// current one any more; nothing was changed.
    PreconditionFailed,
    /// REST: a change that must name the version it is based on
    /// (`If-Match`) did not.
    PreconditionRequired,
    /// The database could not be reached (restarting, say): try again in
    /// a moment (`Retry-After`).
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::Validation => 422,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::Forbidden | ErrorCode::OrganizationInactive => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict | ErrorCode::LimitReached => 409,
            ErrorCode::RateLimited => 429,
            ErrorCode::AccountLocked => 423,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::PreconditionFailed => 412,
            ErrorCode::PreconditionRequired => 428,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::Validation => "validation",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::LimitReached => "limit_reached",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::AccountLocked => "account_locked",
            ErrorCode::OrganizationInactive => "organization_inactive",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::PreconditionFailed => "precondition_failed",
            ErrorCode::PreconditionRequired => "precondition_required",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
    /// The input field the error is about, so the form can show it there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::Validation,
            message: message.into(),
            field: Some(field.to_owned()),
        }
    }

    pub fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_owned());
        self
    }

    pub fn unauthenticated() -> Self {
        Self::new(ErrorCode::Unauthenticated, "Please log in to continue.")
    }

    /// The message for `field`, if this error is about that field.
    pub fn message_for(&self, field: &str) -> Option<String> {
        (self.field.as_deref() == Some(field)).then(|| self.message.clone())
    }

    /// The message when the error is not about any one field.
    pub fn form_message(&self) -> Option<String> {
        self.field.is_none().then(|| self.message.clone())
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    /// Errors of the server-function machinery rather than of our code. On
    /// the server, arguments that do not decode are the caller's fault: 400
    /// `bad_request`, with serde's words for what is wrong.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let error = match value {
            ServerFnErrorErr::Request(_) => AppError::new(
                ErrorCode::Internal,
                "Could not reach the server. Check your connection and try again.",
            ),
            ServerFnErrorErr::Args(e) | ServerFnErrorErr::MissingArg(e) => AppError::new(
                ErrorCode::BadRequest,
                format!("The request is malformed: {e}"),
            ),
            // On the server this is the request body failing to decode; in
            // the browser, a response that did not.
            ServerFnErrorErr::Deserialization(e) if cfg!(feature = "ssr") => AppError::new(
                ErrorCode::BadRequest,
                format!("The request is malformed: {e}"),
            ),
            _ => AppError::new(
                ErrorCode::Internal,
                "Something went wrong. Please try again.",
            ),
        };
        // The server-function machinery answers 500 to any error it makes
        // itself; the server's `server_fn_status` layer gives the response
        // the status of the code instead.
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_serialize_as_their_stable_names() {
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::PayloadTooLarge,
            ErrorCode::Validation,
            ErrorCode::Unauthenticated,
            ErrorCode::Forbidden,
            ErrorCode::NotFound,
            ErrorCode::Conflict,
            ErrorCode::LimitReached,
            ErrorCode::RateLimited,
            ErrorCode::AccountLocked,
            ErrorCode::OrganizationInactive,
            ErrorCode::MethodNotAllowed,
            ErrorCode::PreconditionFailed,
            ErrorCode::PreconditionRequired,
            ErrorCode::Unavailable,
            ErrorCode::Internal,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn a_field_error_is_shown_only_next_to_its_field() {
        let e = AppError::validation("email", "bad");
        assert_eq!(e.message_for("email").as_deref(), Some("bad"));
        assert_eq!(e.message_for("password"), None);
        assert_eq!(e.form_message(), None);
    }
}
