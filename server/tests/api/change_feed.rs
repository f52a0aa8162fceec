//! The change feed (`GET /api/v1/changes`) as a mirror follows it: nothing
//! skipped when transactions commit out of order, nothing handed out twice.
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::codes::{ChangeFeedItem, ChangeFeedPage, ChangeType, CodeContent};
use app::model::{CodeId, OrgId};
use reqwest::{header, Method, StatusCode};
use serde_json::json;

use crate::helpers::{body_of, spawn_app, TestApp};
use crate::rest::{api_error, Api};

impl Api {
    async fn changes(&self, since: &str) -> ChangeFeedPage {
        body_of(self.get(&format!("/api/v1/changes?since={since}")).await).await
    }

    async fn edit(&self, id: CodeId, version: i32, description: &str) {
        let response = self
            .request(Method::PATCH, &format!("/api/v1/codes/{id}"))
            .header(header::IF_MATCH, format!("\"{version}\""))
            .json(&json!({ "description": description }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

/// The latest state of each code, as a follower that applies the feed in
/// order has it; fails on a version handed out twice.
#[derive(Default)]
struct Mirror {
    codes: HashMap<CodeId, (i32, bool, CodeContent)>,
    seen: HashSet<(CodeId, i32)>,
    cursor: String,
}

impl Mirror {
    fn apply(&mut self, page: ChangeFeedPage) -> usize {
        let n = page.items.len();
        for item in page.items {
            assert!(
                self.seen.insert((item.code_id, item.version)),
                "version {} of {} handed out twice",
                item.version,
                item.code_id
            );
            let ChangeFeedItem {
                code_id,
                version,
                deleted,
                content,
                ..
            } = item;
            if let Some((had, _, _)) = self.codes.get(&code_id) {
                assert_eq!(*had + 1, version, "versions of {code_id} in order");
            }
            self.codes.insert(code_id, (version, deleted, content));
        }
        self.cursor = page.next_cursor;
        n
    }

    /// Reads until it has every version the organization has (other tests
    /// on the cluster may hold the horizon back for a moment).
    async fn catch_up(&mut self, api: &Api, app: &TestApp, org: OrgId) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let total = versions_of(app, org).await;
        while self.seen.len() < total {
            assert!(
                Instant::now() < deadline,
                "the feed stalled at {}",
                self.seen.len()
            );
            if self.apply(api.changes(&self.cursor).await) == 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn versions_of(app: &TestApp, org: OrgId) -> usize {
    app.count_where("code_versions", org).await as usize
}

/// Every code as the database holds it: version, deleted, content.
async fn catalogue(app: &TestApp, org: OrgId) -> HashMap<CodeId, (i32, bool, CodeContent)> {
    let rows: Vec<(CodeId, i32, bool, serde_json::Value)> = sqlx::query_as(
        "select c.id, c.version, c.deleted_at is not null, v.snapshot
         from codes c join code_versions v
           on v.organization_id = c.organization_id and v.code_id = c.id and v.version = c.version
         where c.organization_id = $1",
    )
    .bind(org)
    .fetch_all(&app.db.superuser)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(id, version, deleted, snapshot)| {
            (
                id,
                (version, deleted, serde_json::from_value(snapshot).unwrap()),
            )
        })
        .collect()
}

/// A transaction of the application role that writes the next version of
/// `code` as an edit does, and is left open for the caller to commit.
async fn held_edit(
    app: &TestApp,
    org: OrgId,
    code: CodeId,
    description: &str,
) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = app.as_app(None, Some(org)).await;
    let (version, snapshot): (i32, serde_json::Value) = sqlx::query_as(
        "update codes set description = $3, version = version + 1, updated_at = now(),
                          updated_by_kind = 'system', updated_by = null
         where organization_id = $1 and id = $2
         returning version, jsonb_build_object('code', code, 'description', description,
             'category', category, 'severity', severity, 'active', active, 'deleted', false)",
    )
    .bind(org)
    .bind(code)
    .bind(description)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "insert into code_versions (organization_id, code_id, version, change, snapshot,
                                    actor_kind)
         values ($1, $2, $3, 'update', $4, 'system')",
    )
    .bind(org)
    .bind(code)
    .bind(version)
    .bind(snapshot)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx
}

#[tokio::test]
async fn a_version_of_a_transaction_still_open_holds_back_the_feed_until_it_commits() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    let org = app.org_id_of(&api.user.email).await;
    let first = api.create_code("A00", "Cholera").await;
    let mut mirror = Mirror::default();
    mirror.catch_up(&api, &app, org).await;

    let held = held_edit(&app, org, first.id, "Written by a slow transaction").await;
    let later = api
        .create_code("B01", "Committed while the other was open")
        .await;
    // The later code has committed, but the open transaction began before
    // it: the feed stops short of both.
    let page = api.changes(&mirror.cursor).await;
    assert!(page.items.is_empty(), "{:?}", page.items);
    assert_eq!(page.next_cursor, mirror.cursor, "the cursor stays put");

    held.commit().await.unwrap();
    let cursor = mirror.cursor.clone();
    mirror.catch_up(&api, &app, org).await;
    let page = api.changes(&cursor).await;
    let order: Vec<(CodeId, i32, ChangeType)> = page
        .items
        .iter()
        .map(|i| (i.code_id, i.version, i.operation))
        .collect();
    assert_eq!(
        order,
        [
            (first.id, 2, ChangeType::Update),
            (later.id, 1, ChangeType::Create)
        ]
    );
    assert_eq!(mirror.codes, catalogue(&app, org).await);
}

#[tokio::test]
async fn a_follower_of_the_feed_with_16_writers_and_slow_transactions_mirrors_the_catalogue() {
    let app = Arc::new(spawn_app().await);
    let api = Arc::new(Api::owner(&app).await);
    let org = app.org_id_of(&api.user.email).await;
    app.upgrade_to_enterprise(org).await;
    let mut codes = Vec::new();
    for i in 0..34 {
        codes.push(api.create_code(&format!("F{i:02}"), "Followed").await);
    }
    let committed = Arc::new(AtomicUsize::new(0));

    // Two slow transactions, each open until the fast writers have
    // committed a number of versions after it.
    let slow = [(codes[32].id, 20), (codes[33].id, 60)].map(|(code, wait_for)| {
        let (app, committed) = (app.clone(), committed.clone());
        tokio::spawn(async move {
            let tx = held_edit(&app, org, code, "Held open").await;
            let deadline = Instant::now() + Duration::from_secs(60);
            while committed.load(Ordering::SeqCst) < wait_for {
                assert!(Instant::now() < deadline, "the writers stalled");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            tx.commit().await.unwrap();
        })
    });
    let writers = (0..16).map(|w| {
        let (api, committed) = (api.clone(), committed.clone());
        let mine = [codes[w * 2].clone(), codes[w * 2 + 1].clone()];
        tokio::spawn(async move {
            for round in 0..4 {
                for code in &mine {
                    api.edit(code.id, round + 1, &format!("Round {round} by {w}"))
                        .await;
                    committed.fetch_add(1, Ordering::SeqCst);
                }
                api.create_code(&format!("G{w:02}-{round}"), "New while followed")
                    .await;
                committed.fetch_add(1, Ordering::SeqCst);
            }
        })
    });
    let writers: Vec<_> = writers.chain(slow).collect();

    // Follow while they write.
    let mut mirror = Mirror::default();
    while !writers.iter().all(|w| w.is_finished()) {
        if mirror.apply(api.changes(&mirror.cursor).await) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    for writer in writers {
        writer.await.unwrap();
    }
    mirror.catch_up(&api, &app, org).await;

    assert_eq!(mirror.seen.len(), 34 + 16 * 4 * 3 + 2);
    assert_eq!(mirror.codes, catalogue(&app, org).await);
}

#[tokio::test]
async fn the_feed_refuses_bad_cursors_and_limits_and_shows_no_other_organization() {
    let app = spawn_app().await;
    let a = Api::owner(&app).await;
    let b = Api::owner(&app).await;
    a.create_code("A00", "Cholera").await;
    let org_b = app.org_id_of(&b.user.email).await;
    let mut mirror = Mirror::default();
    mirror.catch_up(&b, &app, org_b).await;
    assert!(mirror.codes.is_empty(), "B sees none of A's versions");

    for query in [
        "since=%25%25",
        "since=bm9wZQ",
        "limit=0",
        "limit=1001",
        "limit=x",
    ] {
        let (status, error) = api_error(a.get(&format!("/api/v1/changes?{query}")).await).await;
        assert!(matches!(status, 400 | 422), "{query}: {status} {error:?}");
    }
    // Once a version is below the horizon it stays there (a transaction on
    // the cluster may hold it back for a moment first).
    let org_a = app.org_id_of(&a.user.email).await;
    Mirror::default().catch_up(&a, &app, org_a).await;
    let page: ChangeFeedPage = body_of(a.get("/api/v1/changes?limit=1").await).await;
    assert_eq!(page.items.len(), 1);
}
