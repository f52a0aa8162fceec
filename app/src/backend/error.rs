//! The backend's one error type. Each variant maps to a stable `ErrorCode`;
//! internal errors keep their cause chain for the log and show the user only
//! a request id.
use crate::model::{AppError, ErrorCode};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Validation {
        field: Option<String>,
        message: String,
    },
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    /// Not found, with a message that says why (a used invitation, say).
    #[error("{0}")]
    Gone(String),
    #[error("{message}")]
    Conflict {
        field: Option<String>,
        message: String,
    },
    /// An undo refused because codes changed after the import it would
    /// undo: the first of them, and how many there are.
    #[error("{}", crate::model::codes::changed_since_message(named, *count))]
    ChangedSince {
        named: Vec<crate::model::codes::ChangedSince>,
        count: u64,
    },
    #[error("{0}")]
    LimitReached(String),
    #[error("{0}")]
    AccountLocked(String),
    #[error("Email or password is incorrect.")]
    InvalidCredentials,
    #[error("{0}")]
    RateLimited(String),
    #[error("This organization has been deactivated. Contact your platform administrator.")]
    OrganizationInactive,
    /// PostgreSQL broke a deadlock by aborting this transaction (SQLSTATE
    /// 40P01): nothing of it was written, and running it again goes
    /// through.
    #[error("Another change reached the same data at the same moment, so nothing was changed. Try again.")]
    Deadlock,
    /// The database connection failed (PostgreSQL restarting, a connection
    /// cut while idle): the caller may try again.
    #[error("The database could not be reached. Try again in a moment.")]
    Unavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        Error::Conflict {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Validation { .. } => ErrorCode::Validation,
            Error::Unauthenticated => ErrorCode::Unauthenticated,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::NotFound | Error::Gone(_) => ErrorCode::NotFound,
            Error::Conflict { .. } | Error::ChangedSince { .. } | Error::Deadlock => {
                ErrorCode::Conflict
            }
            Error::LimitReached(_) => ErrorCode::LimitReached,
            Error::AccountLocked(_) => ErrorCode::AccountLocked,
            Error::InvalidCredentials => ErrorCode::Unauthenticated,
            Error::RateLimited(_) => ErrorCode::RateLimited,
            Error::OrganizationInactive => ErrorCode::OrganizationInactive,
            Error::Unavailable => ErrorCode::Unavailable,
            Error::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The wire form. Internal errors are logged here, once, with their
    /// whole cause chain and the request id the user is shown.
    pub fn into_app_error(self, request_id: Option<&str>) -> AppError {
        let code = self.code();
        match self {
            Error::Internal(e) => {
                let request_id = request_id.unwrap_or("unknown");
                tracing::error!(request_id, error = ?e, "internal error");
                AppError::new(
                    code,
                    format!("Something went wrong (request id {request_id})."),
                )
            }
            Error::Validation { field, message } | Error::Conflict { field, message } => AppError {
                code,
                message,
                field,
            },
            Error::Unauthenticated => AppError::unauthenticated(),
            Error::NotFound => AppError::new(code, "Not found."),
            other => AppError::new(code, other.to_string()),
        }
    }
}

impl From<AppError> for Error {
    /// Validation errors from the shared model types.
    fn from(e: AppError) -> Self {
        match e.code {
            ErrorCode::Validation => Error::Validation {
                field: e.field,
                message: e.message,
            },
            _ => Error::Internal(anyhow::anyhow!("{}", e.message)),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if matches!(&e, sqlx::Error::Database(db) if db.code().as_deref() == Some("40P01")) {
            tracing::info!(error = %e, "transaction aborted to break a deadlock");
            return Error::Deadlock;
        }
        if is_connection_failure(&e) {
            tracing::warn!(error = %e, "database unavailable");
            return Error::Unavailable;
        }
        Error::Internal(anyhow::Error::new(e))
    }
}

impl Error {
    /// Whether PostgreSQL broke a deadlock by aborting this transaction
    /// (SQLSTATE 40P01): run again, it goes through.
    pub fn is_deadlock(&self) -> bool {
        matches!(self, Error::Deadlock)
    }
}

/// Whether `e` is the connection failing rather than the statement: the
/// socket, the pool, or PostgreSQL closing the session (SQLSTATE class 08,
/// connection exception, and 57P, a shutdown, a terminated backend, an
/// idle session cut; not 57014, a cancelled statement).
fn is_connection_failure(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

/// Turns the violation of one named constraint into a domain error, leaving
/// every other database error internal.
pub trait ResultExt<T> {
    fn on_constraint(self, name: &str, map: impl FnOnce() -> Error) -> Result<T>;
}

impl<T> ResultExt<T> for std::result::Result<T, sqlx::Error> {
    fn on_constraint(self, name: &str, map: impl FnOnce() -> Error) -> Result<T> {
        self.map_err(|e| match &e {
            sqlx::Error::Database(db) if db.constraint() == Some(name) => map(),
            _ => e.into(),
        })
    }
}

impl<T> ResultExt<T> for Result<T> {
    fn on_constraint(self, name: &str, map: impl FnOnce() -> Error) -> Result<T> {
        self.map_err(|e| match e {
            Error::Internal(inner) => match inner.downcast_ref::<sqlx::Error>() {
                Some(sqlx::Error::Database(db)) if db.constraint() == Some(name) => map(),
                _ => Error::Internal(inner),
            },
            other => other,
        })
    }
}

/// REST handlers and extractors answer with the uniform JSON error:
/// `{"error": {"code", "message", "details"}}` and the code's status.
impl axum::response::IntoResponse for Error {
    fn into_response(self) -> axum::response::Response {
        // The request id is on the request's span, which the log line carries.
        self.into_app_error(None).into_response()
    }
}

impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        let status = http::StatusCode::from_u16(self.code.http_status())
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        let details = self
            .field
            .as_ref()
            .map(|field| serde_json::json!({ "field": field }));
        let body = serde_json::json!({
            "error": {"code": self.code, "message": self.message, "details": details}
        });
        let mut response = (status, axum::Json(body)).into_response();
        if status == http::StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
