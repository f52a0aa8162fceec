//! Prometheus metrics: the process-wide recorder, a request-tracking
//! middleware and the `GET /metrics` scrape endpoint, which `serve` mounts
//! on its router and `server worker --metrics-addr` serves alone
//! (`Exporter`).
//!
//! Wiring, in short:
//! ```ignore
//! metrics::describe();
//! let app = Router::new()
//!     .route("/metrics", metrics::route(depths, config.metrics_token.clone()))
//!     // ...every other route...
//!     // `layer` on the Router (not around it) so `MatchedPath` is known.
//!     .layer(axum::middleware::from_fn(metrics::track_requests));
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use anyhow::Context as _;
use axum::extract::{MatchedPath, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";
pub const WEBHOOK_DELIVERIES_TOTAL: &str = "webhook_deliveries_total";
pub const WEBHOOK_ATTEMPT_DURATION_SECONDS: &str = "webhook_attempt_duration_seconds";
pub const QUEUE_DEPTH: &str = "queue_depth";

/// Prometheus text exposition format, the one every scraper understands.
const EXPOSITION_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// Label for anything that would otherwise make label values unbounded
/// (unmatched paths, extension methods).
const OTHER: &str = "other";

/// From 1 ms (a cached read) to 10 s (past any sane request timeout).
const HTTP_DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Webhook receivers are slow and remote: from 5 ms up to the 5 minute
/// ceiling, so timeouts land in a bucket rather than only in `+Inf`.
const WEBHOOK_DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// The process-wide Prometheus handle. The first call installs the global
/// `metrics` recorder; later calls (e.g. every test server in one test
/// binary) return the same handle.
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(install_recorder)
}

/// Installs the recorder globally. If some other recorder already owns the
/// global slot we still return a working (if empty) handle: a missing
/// metric must never take the server down.
fn install_recorder() -> PrometheusHandle {
    let recorder = builder_with_buckets().build_recorder();
    let handle = recorder.handle();
    if let Err(error) = ::metrics::set_global_recorder(recorder) {
        eprintln!("metrics: global recorder already installed, /metrics will be empty: {error}");
    }
    handle
}

fn builder_with_buckets() -> PrometheusBuilder {
    // Only fails on an empty bucket list, which our constants are not; if
    // that ever changes, histograms fall back to summaries instead of panicking.
    try_builder_with_buckets().unwrap_or_else(|error| {
        eprintln!("metrics: invalid histogram buckets, using summaries: {error}");
        PrometheusBuilder::new()
    })
}

fn try_builder_with_buckets() -> Result<PrometheusBuilder, BuildError> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(HTTP_REQUEST_DURATION_SECONDS.to_owned()),
            HTTP_DURATION_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full(WEBHOOK_ATTEMPT_DURATION_SECONDS.to_owned()),
            WEBHOOK_DURATION_BUCKETS,
        )
}

/// Registers help texts so `/metrics` carries `# HELP` lines. Safe to call
/// more than once (the first description wins).
pub fn describe() {
    // Describing before a recorder exists is silently lost.
    recorder();
    ::metrics::describe_counter!(
        HTTP_REQUESTS_TOTAL,
        "HTTP requests answered, by method, matched route and status code."
    );
    ::metrics::describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        ::metrics::Unit::Seconds,
        "Time to produce an HTTP response, by method and matched route."
    );
    ::metrics::describe_counter!(
        WEBHOOK_DELIVERIES_TOTAL,
        "Webhook delivery attempts by result: succeeded, retrying, dead or gone."
    );
    ::metrics::describe_histogram!(
        WEBHOOK_ATTEMPT_DURATION_SECONDS,
        ::metrics::Unit::Seconds,
        "Duration of one webhook delivery attempt, including the receiver's response time."
    );
    ::metrics::describe_gauge!(
        QUEUE_DEPTH,
        "Rows waiting in a queue at scrape time: webhook_deliveries_due, \
         webhook_deliveries_retrying or jobs_due."
    );
}

/// Middleware (`axum::middleware::from_fn(track_requests)`) counting every
/// response and timing it, labelled by the route template rather than the
/// raw path so label cardinality stays bounded.
pub async fn track_requests(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = route_label(&req);

    let response = next.run(req).await;

    let status = response.status().as_u16().to_string();
    ::metrics::counter!(
        HTTP_REQUESTS_TOTAL,
        "method" => method,
        "route" => route.clone(),
        "status" => status
    )
    .increment(1);
    ::metrics::histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        "method" => method,
        "route" => route
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// Clients can send any token as a method; only the standard ones are
/// worth a label of their own.
fn method_label(method: &Method) -> &'static str {
    const STANDARD: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    STANDARD
        .iter()
        .find(|standard| *standard == method)
        .map_or(OTHER, |standard| standard.as_str())
}

fn route_label(req: &Request) -> String {
    req.extensions()
        .get::<MatchedPath>()
        .map_or_else(|| OTHER.to_owned(), |matched| matched.as_str().to_owned())
}

/// What a queue-depth callback may return: the depths, or a `Result` of
/// them. On `Err` the gauges are left untouched and the scrape still
/// succeeds; log the error inside the callback if it matters.
pub trait QueueDepths {
    fn into_depths(self) -> Option<Vec<(&'static str, i64)>>;
}

impl QueueDepths for Vec<(&'static str, i64)> {
    fn into_depths(self) -> Option<Vec<(&'static str, i64)>> {
        Some(self)
    }
}

impl<E> QueueDepths for Result<Vec<(&'static str, i64)>, E> {
    fn into_depths(self) -> Option<Vec<(&'static str, i64)>> {
        self.ok()
    }
}

/// `GET /metrics`: refreshes the `queue_depth{queue}` gauges from `depths`,
/// then renders every metric. With `token`, scrapers must send
/// `Authorization: Bearer <token>`; an empty token locks the endpoint
/// rather than opening it.
pub fn route<S, F, Fut>(depths: F, token: Option<String>) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: QueueDepths,
{
    axum::routing::get(move |headers: HeaderMap| {
        let depths = depths.clone();
        let token = token.clone();
        async move {
            if let Some(expected) = token.as_deref() {
                if !bearer_matches(&headers, expected) {
                    return unauthorized();
                }
            }
            if let Some(depths) = depths().await.into_depths() {
                set_queue_depths(depths);
            }
            render()
        }
    })
}

/// `GET /metrics` on a listener of its own, for a process that serves
/// nothing else (`server worker`): what its deliveries did, counted and
/// timed. Queue depths are the web process's to report: they are the
/// database's, not this process's.
pub struct Exporter {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Exporter {
    /// Installs the recorder and listens on `addr` (port 0: any free one,
    /// see `local_addr`). With `token`, scrapers must send it as for the
    /// web process's `/metrics`.
    pub async fn start(addr: SocketAddr, token: Option<String>) -> anyhow::Result<Self> {
        describe();
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("Failed to listen for metrics on {addr}"))?;
        let addr = listener.local_addr()?;
        let no_queues = || async { Vec::<(&'static str, i64)>::new() };
        let router = axum::Router::new().route("/metrics", route(no_queues, token));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(%addr, "serving metrics");
        Ok(Self { addr, stop, task })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening once the scrapes under way are answered.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "the metrics listener failed"),
            Err(e) => tracing::error!(error = %e, "the metrics listener ended abnormally"),
        }
    }
}

/// The label of a queue `webhook_queue_depths` names; none for a name this
/// build does not know (a newer database), rather than an unbounded label.
pub fn queue_name(queue: &str) -> Option<&'static str> {
    [
        "outbox",
        "webhook_deliveries_due",
        "webhook_deliveries_retrying",
        "jobs_due",
    ]
    .into_iter()
    .find(|known| *known == queue)
}

fn set_queue_depths(depths: Vec<(&'static str, i64)>) {
    for (queue, depth) in depths {
        // f64 holds every realistic row count exactly.
        ::metrics::gauge!(QUEUE_DEPTH, "queue" => queue).set(depth as f64);
    }
}

fn render() -> Response {
    (
        [(CONTENT_TYPE, EXPOSITION_CONTENT_TYPE)],
        recorder().render(),
    )
        .into_response()
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, [(WWW_AUTHENTICATE, "Bearer")]).into_response()
}

fn bearer_matches(headers: &HeaderMap, expected: &str) -> bool {
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        // The auth scheme is case-insensitive (RFC 9110 §11.1).
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, credentials)| credentials.trim());
    match presented {
        Some(presented) => !expected.is_empty() && constant_time_eq(presented, expected),
        None => false,
    }
}

/// Compares without stopping at the first differing byte, so response time
/// does not reveal how much of a guessed token was right. The length may
/// leak; that is acceptable for a random token.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::Router;
    use std::convert::Infallible;
    use tower::ServiceExt;

    // Every test shares the one global recorder, so each uses its own
    // route names and asserts on its own series only.

    fn tracked(router: Router) -> Router {
        describe();
        router.layer(axum::middleware::from_fn(track_requests))
    }

    async fn get(
        app: &Router,
        uri: &str,
        authorization: Option<&str>,
    ) -> (StatusCode, HeaderMap, String) {
        let mut request = Request::builder().uri(uri);
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        let request = request.body(Body::empty()).expect("valid request");
        let response = app
            .clone()
            .oneshot(request)
            .await
            .expect("infallible router");
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .expect("readable body");
        let text = String::from_utf8(bytes.to_vec()).expect("utf-8 body");
        (parts.status, parts.headers, text)
    }

    async fn no_queues() -> Vec<(&'static str, i64)> {
        Vec::new()
    }

    fn metrics_app(token: Option<&str>) -> Router {
        tracked(Router::new().route("/metrics", route(no_queues, token.map(str::to_owned))))
    }

    #[tokio::test]
    async fn a_request_is_counted_under_its_matched_path_not_its_raw_path() {
        let app =
            tracked(Router::new().route("/t1/codes/{code}", axum::routing::get(|| async { "ok" })));

        get(&app, "/t1/codes/ABC-123", None).await;
        let rendered = recorder().render();

        assert!(
            rendered.contains(
                r#"http_requests_total{method="GET",route="/t1/codes/{code}",status="200"} 1"#
            ),
            "{rendered}"
        );
        assert!(
            rendered.contains(
                r#"http_request_duration_seconds_count{method="GET",route="/t1/codes/{code}"} 1"#
            ),
            "{rendered}"
        );
        assert!(!rendered.contains("ABC-123"), "{rendered}");
    }

    #[tokio::test]
    async fn an_unmatched_path_is_labelled_other() {
        let app = tracked(Router::new().route("/t2/known", axum::routing::get(|| async { "ok" })));

        let (status, _, _) = get(&app, "/t2/unknown-raw-path-xyz", None).await;
        let rendered = recorder().render();

        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            rendered.contains(r#"http_requests_total{method="GET",route="other",status="404"}"#),
            "{rendered}"
        );
        assert!(!rendered.contains("unknown-raw-path-xyz"), "{rendered}");
    }

    #[tokio::test]
    async fn an_extension_method_is_labelled_other() {
        let app = tracked(Router::new().route("/t3/any", axum::routing::any(|| async { "ok" })));
        let request = Request::builder()
            .method("BREW")
            .uri("/t3/any")
            .body(Body::empty())
            .expect("valid request");

        app.oneshot(request).await.expect("infallible router");
        let rendered = recorder().render();

        assert!(
            rendered
                .contains(r#"http_requests_total{method="other",route="/t3/any",status="200"}"#),
            "{rendered}"
        );
    }

    #[tokio::test]
    async fn metrics_renders_counters_help_and_queue_depth_gauges() {
        let depths = || async {
            Ok::<_, Infallible>(vec![
                ("t4_webhook_deliveries_due", 7_i64),
                ("t4_jobs_due", 0),
            ])
        };
        let app = tracked(
            Router::new()
                .route("/metrics", route(depths, None))
                .route("/t4/ping", axum::routing::get(|| async { "pong" })),
        );

        get(&app, "/t4/ping", None).await;
        let (status, headers, body) = get(&app, "/metrics", None).await;

        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[CONTENT_TYPE], EXPOSITION_CONTENT_TYPE);
        assert!(
            body.contains(r#"http_requests_total{method="GET",route="/t4/ping",status="200"} 1"#),
            "{body}"
        );
        assert!(
            body.contains(r#"queue_depth{queue="t4_webhook_deliveries_due"} 7"#),
            "{body}"
        );
        assert!(
            body.contains(r#"queue_depth{queue="t4_jobs_due"} 0"#),
            "{body}"
        );
        assert!(body.contains("# HELP http_requests_total"), "{body}");
        assert!(
            body.contains("# TYPE http_request_duration_seconds histogram"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn metrics_still_renders_when_queue_depths_fail() {
        let failing = || async { Err::<Vec<(&'static str, i64)>, _>("database down") };
        let app = tracked(Router::new().route("/metrics", route(failing, None)));

        let (status, _, _) = get(&app, "/metrics", None).await;

        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_token_protected_metrics_rejects_a_missing_or_wrong_token() {
        let app = metrics_app(Some("s3cret-token"));

        for authorization in [
            None,
            Some("Bearer wrong-token"),
            Some("Bearer s3cret"),
            Some("Basic s3cret-token"),
        ] {
            let (status, headers, _) = get(&app, "/metrics", authorization).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:?}");
            assert_eq!(headers[WWW_AUTHENTICATE], "Bearer");
        }
    }

    #[tokio::test]
    async fn a_token_protected_metrics_accepts_the_right_token() {
        let app = metrics_app(Some("s3cret-token"));

        let (status, _, _) = get(&app, "/metrics", Some("Bearer s3cret-token")).await;
        let (lowercase_status, _, _) = get(&app, "/metrics", Some("bearer s3cret-token")).await;

        assert_eq!(status, StatusCode::OK);
        assert_eq!(lowercase_status, StatusCode::OK);
    }

    #[tokio::test]
    async fn an_empty_configured_token_locks_metrics() {
        let app = metrics_app(Some(""));

        let (status, _, _) = get(&app, "/metrics", Some("Bearer ")).await;

        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn recorder_can_be_requested_twice() {
        let first = recorder();
        let second = recorder();

        assert!(std::ptr::eq(first, second));
    }

    #[test]
    fn webhook_attempt_durations_use_their_own_buckets() {
        recorder();
        ::metrics::histogram!(WEBHOOK_ATTEMPT_DURATION_SECONDS, "t9" => "x").record(200.0);
        let rendered = recorder().render();

        assert!(
            rendered.contains(r#"webhook_attempt_duration_seconds_bucket{t9="x",le="300"} 1"#),
            "{rendered}"
        );
        assert!(
            rendered.contains(r#"webhook_attempt_duration_seconds_bucket{t9="x",le="120"} 0"#),
            "{rendered}"
        );
    }
}
