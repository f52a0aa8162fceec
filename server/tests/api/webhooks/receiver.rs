//! A webhook receiver on loopback for the tests: it records every request
//! and answers what the test scripted (200 unless told otherwise).
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Hit {
    pub headers: HeaderMap,
    pub body: String,
}

impl Hit {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The body as the receiver gets it: untyped on purpose, as the
    /// Standard Webhooks wire format is what the tests check.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// What the receiver answers to one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Clone)]
struct Script {
    next: Arc<Mutex<VecDeque<Reply>>>,
    otherwise: Arc<Mutex<Reply>>,
    hits: mpsc::UnboundedSender<Hit>,
}

pub struct Receiver {
    pub url: String,
    script: Script,
    hits: mpsc::UnboundedReceiver<Hit>,
}

impl Receiver {
    pub async fn start() -> Self {
        let (tx, hits) = mpsc::unbounded_channel();
        let script = Script {
            next: Arc::default(),
            otherwise: Arc::new(Mutex::new(Reply::status(200))),
            hits: tx,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let router = axum::Router::new()
            .fallback(answer)
            .with_state(script.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            script,
            hits,
        }
    }

    /// The next requests get these replies, in order.
    pub fn then(&self, replies: impl IntoIterator<Item = Reply>) {
        self.script.next.lock().unwrap().extend(replies);
    }

    /// Every request past the scripted ones gets this.
    pub fn otherwise(&self, reply: Reply) {
        *self.script.otherwise.lock().unwrap() = reply;
    }

    /// The next request, waiting up to 10 s for it.
    pub async fn next(&mut self) -> Hit {
        tokio::time::timeout(Duration::from_secs(10), self.hits.recv())
            .await
            .expect("a delivery within 10 s")
            .expect("the receiver runs")
    }

    /// The requests received so far, without waiting.
    pub fn received(&mut self) -> Vec<Hit> {
        let mut hits = Vec::new();
        while let Ok(hit) = self.hits.try_recv() {
            hits.push(hit);
        }
        hits
    }
}

async fn answer(State(script): State<Script>, headers: HeaderMap, body: Bytes) -> Response {
    let reply = script
        .next
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| script.otherwise.lock().unwrap().clone());
    let _ = script.hits.send(Hit {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = StatusCode::from_u16(reply.status).unwrap().into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}
