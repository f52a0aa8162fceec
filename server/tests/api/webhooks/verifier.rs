//! The receiver every Standard Webhooks user would write: Python's
//! `standardwebhooks` package (PyPI), verifying each delivery.
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use app::model::webhooks::EndpointWithSecret;
use chrono::Utc;
use serde::Deserialize;

use crate::helpers::{body_of, spawn_app};

/// The receiver's first line: where it listens.
#[derive(Deserialize)]
struct Listening {
    port: u16,
}

/// The receiver's line on one request: its type, and whether it verifies
/// with each trusted secret, in order.
#[derive(Debug, Deserialize)]
struct Seen {
    #[serde(rename = "type")]
    event_type: Option<String>,
    verified: Vec<bool>,
}

/// The Python receiver: it verifies each request against each secret in a
/// file (re-read per request) and prints one JSON line per request.
struct PythonReceiver {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    url: String,
    secrets: std::path::PathBuf,
}

impl PythonReceiver {
    fn start() -> Self {
        let python = std::env::var("CODEBOOK_PYTHON").unwrap_or_else(|_| "python3".into());
        let secrets = std::env::temp_dir().join(format!("whsec-{}", uuid::Uuid::new_v4()));
        std::fs::write(&secrets, "").unwrap();
        let mut child = Command::new(&python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/api/webhooks/receiver.py"
            ))
            .arg(&secrets)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("run {python}: {e}"));
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let ready = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the Python receiver starts (is `standardwebhooks` installed?)");
        let Listening { port } = serde_json::from_str(&ready)
            .unwrap_or_else(|e| panic!("it says its port, not {ready}: {e}"));
        PythonReceiver {
            child,
            lines,
            url: format!("http://127.0.0.1:{port}/hook"),
            secrets,
        }
    }

    fn trust(&self, secrets: &[&str]) {
        std::fs::write(&self.secrets, secrets.join("\n")).unwrap();
    }

    /// The verdicts on the next request: one per trusted secret.
    async fn next(&self) -> Seen {
        let lines = &self.lines;
        let line = tokio::task::block_in_place(|| lines.recv_timeout(Duration::from_secs(10)))
            .expect("a delivery within 10 s");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("the receiver printed {line}: {e}"))
    }
}

impl Drop for PythonReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = std::fs::remove_file(&self.secrets);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_webhooks_verifies_every_delivery_across_a_rotation() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    let receiver = PythonReceiver::start();
    let created = app
        .create_endpoint(&client, &receiver.url, &["code.created"])
        .await;
    receiver.trust(&[&created.secret]);

    app.an_event(&client).await;
    let seen = receiver.next().await;
    assert_eq!(seen.verified, [true], "{seen:?}");
    assert_eq!(seen.event_type.as_deref(), Some("code.created"));

    // Rotated: both the old secret and the new one verify.
    let rotated: EndpointWithSecret = body_of(
        app.call(
            &client,
            "webhooks/rotate",
            &[("id", created.id.to_string())],
        )
        .await,
    )
    .await;
    receiver.trust(&[&created.secret, &rotated.secret]);
    app.an_event(&client).await;
    let seen = receiver.next().await;
    assert_eq!(seen.verified, [true, true], "{seen:?}");

    // The overlap over: the new one only.
    sqlx::query("update webhook_endpoints set previous_secret_expires_at = $1")
        .bind(Utc::now() - chrono::Duration::seconds(1))
        .execute(&app.db.superuser)
        .await
        .unwrap();
    app.an_event(&client).await;
    let seen = receiver.next().await;
    assert_eq!(seen.verified, [false, true], "{seen:?}");

    // A test send is a delivery like the others.
    let response = app
        .call(&client, "webhooks/test", &[("id", created.id.to_string())])
        .await;
    assert!(response.status().is_success());
    let seen = receiver.next().await;
    assert_eq!(seen.event_type.as_deref(), Some("webhook.test"));
    assert_eq!(seen.verified, [false, true], "{seen:?}");
}
