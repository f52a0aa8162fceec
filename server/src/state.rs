//! What the server's handlers share.
use app::backend::AppState;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

/// What axum handlers share; Leptos takes its options from it, REST
/// handlers the application state. A handle: axum clones it for every
/// request.
#[derive(Clone)]
pub struct ServerState(std::sync::Arc<ServerParts>);

/// What a `ServerState` holds.
pub struct ServerParts {
    pub leptos_options: LeptosOptions,
    pub app: AppState,
    /// What `GET /metrics` asks scrapers for (`Settings::metrics_token`).
    pub metrics_token: Option<String>,
}

impl ServerState {
    pub fn new(parts: ServerParts) -> Self {
        Self(std::sync::Arc::new(parts))
    }
}

impl std::ops::Deref for ServerState {
    type Target = ServerParts;

    fn deref(&self) -> &ServerParts {
        &self.0
    }
}

impl FromRef<ServerState> for LeptosOptions {
    fn from_ref(state: &ServerState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<ServerState> for AppState {
    fn from_ref(state: &ServerState) -> Self {
        state.app.clone()
    }
}
