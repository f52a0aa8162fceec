//! Building the application: database (embedded or given), migrations, the
//! restricted-role check, and the axum router.
pub use crate::state::{ServerParts, ServerState};
use anyhow::Context as _;
use app::backend::{db, jwt::JwtKeys, mode::Mode, AppState};
use app::{shell, App};
use axum::extract::State;
use axum::http::{request::Parts, HeaderName, StatusCode};
use axum::routing::get;
use axum::{middleware, Router};
use leptos::nonce::Nonce;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use sqlx::PgPool;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::{check_production_database, DatabaseUrls, Settings};
use crate::embedded_pg::EmbeddedPostgres;
use crate::security::Edge;
use crate::{body_limit, metrics, security, telemetry};
use app::backend::webhooks::worker::{Deliverer, Worker as WebhookWorker};

/// The database the embedded cluster serves the application from.
const EMBEDDED_DATABASE: &str = "codebook";

/// Both connections the server holds, where delivery workers connect, and
/// the embedded cluster if it runs one (stopped when this is dropped).
pub struct Database {
    pub owner_pool: PgPool,
    pub app_pool: PgPool,
    worker_url: String,
    pub embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects (starting the embedded cluster when no DATABASE_URL is
    /// set), migrates as the owner if asked, and connects the application
    /// as its restricted role, refusing a role that would bypass RLS.
    pub async fn open(
        settings: &Settings,
        urls: &DatabaseUrls,
        migrate: bool,
    ) -> anyhow::Result<Self> {
        check_production_database(settings.mode, urls)?;
        let (owner_url, embedded) = match &urls.owner {
            Some(url) => (url.clone(), None),
            None => {
                let data_dir = settings.data_dir.clone();
                let fsync = settings.embedded_fsync;
                let pg =
                    tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&data_dir, fsync))
                        .await??;
                create_database_if_missing(&pg.url("postgres"), EMBEDDED_DATABASE).await?;
                (pg.url(EMBEDDED_DATABASE), Some(pg))
            }
        };
        let owner_pool = db::connect(&owner_url, 2).await?;
        if migrate {
            db::migrate(&owner_pool).await?;
        }
        let role_url = |given: &Option<String>, role| match given {
            Some(url) => Ok(url.clone()),
            None => db::role_url(&owner_url, role),
        };
        let app_url = role_url(&urls.app, db::APP_ROLE)?;
        let worker_url = role_url(&urls.worker, db::WORKER_ROLE)?;
        let app_pool = db::connect(&app_url, settings.max_connections)
            .await
            .context("Failed to connect as the application role")?;
        db::ensure_restricted_role(&app_pool).await?;
        Ok(Self {
            owner_pool,
            app_pool,
            worker_url,
            embedded,
        })
    }

    /// A pool of the delivery workers' role, for the processes that
    /// deliver webhooks (only they connect as it).
    pub async fn worker_pool(&self, max_connections: u32) -> anyhow::Result<PgPool> {
        let pool = db::connect(&self.worker_url, max_connections)
            .await
            .context("Failed to connect as the delivery workers' role (see WORKER_DATABASE_URL)")?;
        db::ensure_restricted_role(&pool).await?;
        Ok(pool)
    }
}

/// Connections a process's delivery worker holds: it claims and records
/// in batches, with no transaction open while it sends.
pub const WORKER_CONNECTIONS: u32 = 4;

async fn create_database_if_missing(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let admin = db::connect(admin_url, 1).await?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(name)
            .fetch_one(&admin)
            .await?;
    if !exists {
        // A name from our own constant, not user input: identifiers cannot be bound.
        sqlx::query(&format!("create database \"{name}\""))
            .execute(&admin)
            .await
            .context("Failed to create the embedded database")?;
    }
    admin.close().await;
    Ok(())
}

pub fn router(state: ServerState) -> Router {
    let routes = generate_route_list(App);
    let edge = Edge::new(state.app.mode, &state.app.public_url);
    let app_state = state.app.clone();
    let context = move || {
        provide_context(app_state.clone());
        provide_context(app::api::CallerCache::default());
        use_csp_nonce();
    };
    let options = state.leptos_options.clone();
    let request_id = HeaderName::from_static(app::api_request_id_header());
    let pool = state.app.pool.clone();
    let metrics_route = metrics::route(
        move || queue_depths(pool.clone()),
        state.metrics_token.clone(),
    );
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", metrics_route)
        .merge(crate::rest::router(&state.app))
        .merge(app::backend::codes::routes())
        .merge(app::backend::releases::export::routes())
        .merge(app::backend::audit::export::routes())
        .merge(app::backend::live::routes())
        .nest_service(
            &format!("/{}", options.site_pkg_dir),
            crate::site::pkg_service(&options),
        )
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            ServerState,
            _,
        >(context, shell))
        .with_state(state)
        // Innermost: it reads an error's body before compression.
        .layer(middleware::from_fn(crate::server_fn_status::fix_status))
        // Inside the router, so each request is counted under its route.
        .layer(middleware::from_fn(metrics::track_requests))
        // Layers run bottom to top on the way in: the request id and its
        // span first, the body last.
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn(body_limit::limit_body))
        .layer(middleware::from_fn_with_state(
            edge.clone(),
            security::refuse_cross_site,
        ));
    if edge.mode == Mode::Production {
        router = router.layer(middleware::from_fn(security::hide_dev_routes));
    }
    router
        .layer(middleware::from_fn_with_state(
            edge,
            security::security_headers,
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(telemetry::request_span::<axum::body::Body>),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(middleware::from_fn(telemetry::drop_unacceptable_request_id))
}

/// Hands the nonce `security::security_headers` put in this request's CSP
/// to Leptos, which writes it on the hydration and resource scripts
/// (replacing the random one leptos_axum provides by default).
fn use_csp_nonce() {
    if let Some(nonce) = use_context::<Parts>().and_then(|p| p.extensions.get::<Nonce>().cloned()) {
        provide_context(nonce);
    }
}

/// The queues' depths for `/metrics`: what waits in the outbox, the
/// deliveries due and waiting to retry, the jobs due.
async fn queue_depths(pool: PgPool) -> Result<Vec<(&'static str, i64)>, sqlx::Error> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("select queue, depth from webhook_queue_depths(now())")
            .fetch_all(&pool)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(queue, depth)| metrics::queue_name(&queue).map(|name| (name, depth)))
        .collect())
}

/// Ready when the database answers.
async fn readyz(State(state): State<ServerState>) -> (StatusCode, &'static str) {
    match sqlx::query("select 1").execute(&state.app.pool).await {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    database: Database,
    jobs: app::backend::jobs::worker::Worker,
    webhooks: Option<WebhookWorker>,
    api_key_usage: app::backend::api_keys::UsageFlusher,
    live: app::backend::live::LiveFeed,
    live_listener: tokio::task::JoinHandle<()>,
    imports: app::backend::codes::import_slots::ImportSlots,
}

impl Application {
    pub async fn build(
        settings: &Settings,
        urls: &DatabaseUrls,
        leptos_options: LeptosOptions,
    ) -> anyhow::Result<Self> {
        settings.check_for_serving(urls, leptos_options.site_addr)?;
        let jwt = jwt_keys(settings)?;
        let database = Database::open(settings, urls, settings.migrate_on_start).await?;
        let listener = TcpListener::bind(leptos_options.site_addr)
            .await
            .with_context(|| format!("Failed to listen on {}", leptos_options.site_addr))?;
        let public_url = match settings.public_url.trim() {
            "" => format!("http://{}", listener.local_addr()?),
            url => url.to_owned(),
        };
        let mut app = AppState::new(
            database.app_pool.clone(),
            settings.mode,
            settings.mailer()?,
            public_url,
            jwt,
        )
        .with_trusted_proxies(settings.trusted_proxies()?)
        .with_webhooks(settings.webhooks()?)
        .with_max_imports(settings.max_imports);
        if settings.mode == Mode::Development {
            app = app.with_platform_admins(settings.platform_admin_emails());
        }
        metrics::describe();
        let state = ServerState::new(ServerParts {
            leptos_options,
            app,
            metrics_token: settings.metrics_token(),
        });
        let jobs = start_job_worker(&state.app);
        let api_key_usage = state.app.api_keys.start_flushing(state.app.pool.clone());
        let webhooks = match settings.webhook_worker {
            true => {
                let pool = database.worker_pool(WORKER_CONNECTIONS).await?;
                Some(start_webhook_worker(pool, &state.app))
            }
            false => None,
        };
        let live = state.app.live.clone();
        let live_listener = tokio::spawn(app::backend::live::listen(
            state.app.pool.clone(),
            live.clone(),
        ));
        let imports = state.app.imports.clone();
        Ok(Self {
            listener,
            imports,
            router: router(state),
            database,
            jobs,
            webhooks,
            api_key_usage,
            live,
            live_listener,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn app_pool(&self) -> PgPool {
        self.database.app_pool.clone()
    }

    /// A pool of the delivery workers' role (for a test to deliver with).
    pub async fn worker_pool(&self) -> anyhow::Result<PgPool> {
        self.database.worker_pool(WORKER_CONNECTIONS).await
    }

    /// The imports this process runs at once (a test may take them all).
    pub fn import_slots(&self) -> app::backend::codes::import_slots::ImportSlots {
        self.imports.clone()
    }

    /// Serves until SIGINT/SIGTERM, then stops the embedded cluster, if any.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Self {
            listener,
            router,
            database,
            jobs,
            webhooks,
            api_key_usage,
            live,
            live_listener,
            imports: _,
        } = self;
        tracing::info!(addr = %listener.local_addr()?, "listening");
        let stopping = shutdown_signal();
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            stopping.await;
            // Open event streams end, or the server would wait on them.
            live.close();
        })
        .await?;
        live_listener.abort();
        // The requests under way finish and are recorded, then both stop.
        if let Some(webhooks) = webhooks {
            webhooks.stop().await;
        }
        jobs.stop().await;
        api_key_usage.stop().await;
        database.app_pool.close().await;
        database.owner_pool.close().await;
        drop(database.embedded);
        Ok(())
    }
}

/// Background jobs (mail) run inside the server too, so one process is a
/// whole deployment; `server worker` runs more of them alone.
fn start_job_worker(state: &AppState) -> app::backend::jobs::worker::Worker {
    use app::backend::jobs::{runner::Runner, worker::Worker};
    Worker::start(Runner::from_state(state))
}

/// Webhook deliveries run inside the server too (unless `webhook-worker`
/// is off); `server worker` runs more of them alone.
pub fn start_webhook_worker(worker_pool: PgPool, state: &AppState) -> WebhookWorker {
    WebhookWorker::start(Deliverer::new(worker_pool, state.webhooks.clone()))
}

/// The JWT key from `JWT_SECRET`. Production refuses to start without a
/// real one; development makes a random one (tokens then end with the
/// process).
fn jwt_keys(settings: &Settings) -> anyhow::Result<JwtKeys> {
    match std::env::var("JWT_SECRET").ok().filter(|s| !s.is_empty()) {
        Some(secret) if secret.len() >= 32 => Ok(JwtKeys::new(secret.as_bytes())),
        Some(_) => anyhow::bail!("JWT_SECRET must be at least 32 bytes long"),
        None if settings.mode == Mode::Production => {
            anyhow::bail!("JWT_SECRET must be set in production (at least 32 random bytes)")
        }
        None => {
            tracing::info!(
                "JWT_SECRET is not set: using a random key for this process (development)"
            );
            Ok(JwtKeys::new(app::backend::tokens::generate().as_bytes()))
        }
    }
}

/// SIGINT or SIGTERM: what stops the server and a lone worker. Both are
/// caught from the moment this is called rather than from its first poll:
/// a worker whose work is done at once would otherwise die of a signal
/// sent meanwhile, without stopping.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (mut terminate, mut interrupt) = signals;
            let received = async |signal: &mut Option<tokio::signal::unix::Signal>| match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            };
            tokio::select! {
                _ = received(&mut terminate) => {},
                _ = received(&mut interrupt) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down");
    }
}

/// Leptos settings from `[package.metadata.leptos]` in the settings file,
/// with `LEPTOS_*` environment overrides.
pub fn leptos_options(config_path: &std::path::Path) -> anyhow::Result<LeptosOptions> {
    let path: PathBuf = config_path.to_path_buf();
    let conf = get_configuration(Some(path.to_str().context("config path is not UTF-8")?))
        .with_context(|| format!("Failed to read Leptos settings from {}", path.display()))?;
    let mut options = conf.leptos_options;
    crate::site::use_hashed_names(&mut options)?;
    Ok(options)
}
