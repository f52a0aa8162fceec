//! `/events`: every open stream hears every change of its own organization
//! and nothing of another's; a reconnecting stream replays what it missed.
use std::time::Duration;

use app::model::codes::CodeOut;
use app::model::live::{LiveChange, CHANGE_EVENT};
use app::model::CodeId;
use reqwest::StatusCode;

use crate::helpers::{body_of, new_client, spawn_app, TestApp};

/// Long enough for a loaded machine; a stream that hears nothing fails here.
const PATIENCE: Duration = Duration::from_secs(60);

/// A server-sent event stream, read as the browser's EventSource reads it.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

/// One `change` event: its id and its data.
struct Change {
    id: i64,
    data: LiveChange,
}

impl EventStream {
    async fn open(app: &TestApp, client: &reqwest::Client, last_event_id: Option<i64>) -> Self {
        let mut request = client.get(format!("{}/events", app.address));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.expect("request sent");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        EventStream {
            response,
            buffer: String::new(),
        }
    }

    /// The next change to a code (keep-alive comments, resyncs and other
    /// events, such as the audit entry each change writes, are passed over).
    async fn next_code_change(&mut self) -> Change {
        tokio::time::timeout(PATIENCE, async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    if let Some(change) = parse_change(&block).filter(is_code_change) {
                        return change;
                    }
                    continue;
                }
                let chunk = self
                    .response
                    .chunk()
                    .await
                    .expect("the stream stays readable")
                    .expect("the stream stays open");
                self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
            }
        })
        .await
        .expect("a change arrived in time")
    }
}

fn is_code_change(change: &Change) -> bool {
    change
        .data
        .event_type
        .as_deref()
        .is_some_and(|t| t.starts_with("code."))
}

fn parse_change(block: &str) -> Option<Change> {
    let field = |name: &str| {
        block
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
    };
    (field("event")? == CHANGE_EVENT).then(|| {
        let data = field("data").unwrap();
        Change {
            id: field("id").unwrap().parse().unwrap(),
            data: serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}")),
        }
    })
}

async fn create_code(app: &TestApp, client: &reqwest::Client, code: &str) -> CodeId {
    let form = [
        ("code", code.to_owned()),
        ("description", format!("Description of {code}")),
        ("category", "Test".to_owned()),
        ("severity", "medium".to_owned()),
        ("active", "on".to_owned()),
    ];
    let created: CodeOut = body_of(app.call(client, "codes/create", &form).await).await;
    created.id
}

#[tokio::test]
async fn every_stream_hears_every_change_of_its_organization_and_none_of_another() {
    const ORGS: usize = 20;
    const STREAMS_PER_ORG: usize = 10;
    const CODES_PER_ORG: usize = 5;
    let app = spawn_app().await;
    let mut orgs = Vec::new();
    for _ in 0..ORGS {
        let (_, client) = app.signed_up_user().await;
        let mut streams = Vec::new();
        for _ in 0..STREAMS_PER_ORG {
            streams.push(EventStream::open(&app, &client, None).await);
        }
        orgs.push((client, streams));
    }

    // Every organization writes at the same time.
    let writes = orgs.iter().enumerate().map(|(org, (client, _))| {
        let app = &app;
        async move {
            let mut ids = Vec::new();
            for n in 0..CODES_PER_ORG {
                ids.push(create_code(app, client, &format!("Z{org:02}.{n}")).await);
            }
            ids
        }
    });
    let written: Vec<Vec<CodeId>> = futures::future::join_all(writes).await;

    for ((_, streams), own) in orgs.iter_mut().zip(&written) {
        for stream in streams.iter_mut() {
            let mut heard = Vec::new();
            for _ in 0..CODES_PER_ORG {
                let change = stream.next_code_change().await;
                assert_eq!(change.data.event_type.as_deref(), Some("code.created"));
                heard.push(change.data.code_id.expect("the code it touched"));
            }
            // In the order written, each once; another organization's
            // change would have taken one of these places.
            assert_eq!(&heard, own);
        }
    }
}

#[tokio::test]
async fn a_reconnecting_stream_replays_what_it_missed_and_an_outsider_is_refused() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    let mut stream = EventStream::open(&app, &client, None).await;
    let first = create_code(&app, &client, "A00.1").await;
    let seen = stream.next_code_change().await;
    assert_eq!(seen.data.code_id, Some(first));
    // Named by who made it.
    assert!(seen
        .data
        .by
        .as_deref()
        .is_some_and(|by| by.starts_with("Ada ")));
    drop(stream);

    // Missed while away.
    let second = create_code(&app, &client, "A00.2").await;
    let third = create_code(&app, &client, "A00.3").await;
    let mut again = EventStream::open(&app, &client, Some(seen.id)).await;
    let replayed = [
        again.next_code_change().await,
        again.next_code_change().await,
    ];
    assert_eq!(replayed[0].data.code_id, Some(second));
    assert_eq!(replayed[1].data.code_id, Some(third));
    assert!(replayed[0].id > seen.id && replayed[1].id > replayed[0].id);

    // No session, no stream.
    let outsider = new_client()
        .get(format!("{}/events", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(outsider.status(), StatusCode::UNAUTHORIZED);
}
