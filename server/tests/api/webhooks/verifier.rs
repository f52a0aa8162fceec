//! The receiver every Standard Webhooks user would write: Python's
//! `standardwebhooks` package (PyPI), verifying each delivery.
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use crate::helpers::spawn_app;

/// The Python receiver: it verifies each request against each secret in a
/// file (re-read per request) and prints one JSON line per request.
struct PythonReceiver {
    child: Child,
    lines: std::sync::mpsc::Receiver<Value>,
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
                let Ok(value) = serde_json::from_str::<Value>(&line) else {
                    panic!("the receiver printed {line}");
                };
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let ready = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the Python receiver starts (is `standardwebhooks` installed?)");
        let port = ready["port"].as_u64().expect("it says its port");
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
    async fn next(&self) -> Value {
        let lines = &self.lines;
        tokio::task::block_in_place(|| lines.recv_timeout(Duration::from_secs(10)))
            .expect("a delivery within 10 s")
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
    assert_eq!(seen["verified"], serde_json::json!([true]), "{seen}");
    assert_eq!(seen["type"], "code.created");

    // Rotated: both the old secret and the new one verify.
    let rotated: Value = app
        .call(
            &client,
            "webhooks/rotate",
            &[("id", created.id.to_string())],
        )
        .await
        .json()
        .await
        .unwrap();
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    receiver.trust(&[&created.secret, &new_secret]);
    app.an_event(&client).await;
    let seen = receiver.next().await;
    assert_eq!(seen["verified"], serde_json::json!([true, true]), "{seen}");

    // The overlap over: the new one only.
    sqlx::query("update webhook_endpoints set previous_secret_expires_at = $1")
        .bind(Utc::now() - chrono::Duration::seconds(1))
        .execute(&app.db.superuser)
        .await
        .unwrap();
    app.an_event(&client).await;
    let seen = receiver.next().await;
    assert_eq!(seen["verified"], serde_json::json!([false, true]), "{seen}");

    // A test send is a delivery like the others.
    let response = app
        .call(&client, "webhooks/test", &[("id", created.id.to_string())])
        .await;
    assert!(response.status().is_success());
    let seen = receiver.next().await;
    assert_eq!(seen["type"], "webhook.test");
    assert_eq!(seen["verified"], serde_json::json!([false, true]), "{seen}");
}
