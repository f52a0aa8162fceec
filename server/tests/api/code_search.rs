//! Word search checked against the obvious definition, computed here from
//! the release files: a code matches when every word of the query is the
//! start of a word of its description. The queries cover every way the
//! search reaches its candidates (a rare word, a common word walked in
//! order, common prefixes, a word nobody uses), after two real imports, an
//! edit, a delete and in a second organization.
use std::collections::BTreeMap;

use crate::code_files::{release, shared_data};
use crate::helpers::{spawn_app, TestApp};

/// Upper-cased code → description.
type Catalogue = BTreeMap<String, String>;

fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The codes of `catalogue` that hold every word of `query`, in code order.
fn expected(catalogue: &Catalogue, query: &str) -> Vec<String> {
    let wanted = words_of(query);
    catalogue
        .iter()
        .filter(|(_, description)| {
            let words = words_of(description);
            wanted
                .iter()
                .all(|q| words.iter().any(|w| w.starts_with(q.as_str())))
        })
        .map(|(code, _)| code.clone())
        .collect()
}

impl TestApp {
    /// The codes of up to `pages` pages of a search, following the cursor.
    async fn search(
        &self,
        client: &reqwest::Client,
        query: &str,
        extra: &[(&str, &str)],
        pages: usize,
    ) -> Vec<String> {
        let mut found = Vec::new();
        let mut after = String::new();
        for _ in 0..pages {
            let mut filter = vec![("q", query), ("after", after.as_str())];
            filter.extend_from_slice(extra);
            let page = self.list_codes(client, &filter).await;
            found.extend(
                page.codes
                    .iter()
                    .map(|c| c.content.code.as_str().to_uppercase()),
            );
            match page.next.as_deref() {
                Some(next) => after = next.to_owned(),
                None => break,
            }
        }
        found
    }

    async fn import_release(&self, client: &reqwest::Client, file: &str, delete_missing: bool) {
        let response = self
            .import_csv(
                client,
                shared_data(file),
                &format!("file_name={file}&delete_missing={delete_missing}"),
            )
            .await;
        assert_eq!(response.status().as_u16(), 200, "{file}");
    }
}

fn catalogue(file: &str) -> Catalogue {
    release(file)
        .into_iter()
        .map(|(code, (description, _))| (code, description))
        .collect()
}

/// Common, middling and rare words, prefixes of one word and of many, two
/// and three words, and words that meet nowhere.
const QUERIES: &[&str] = &[
    "unspecified",
    "fracture femur",
    "femur fracture",
    "fract",
    "diabetes",
    "type 2 diabetes",
    "asthma",
    "cholera",
    "malignant neoplasm",
    "left right",
    "open fracture femur initial",
    "pneum",
    "pregnancy trimester",
    "e",
    "femur cholera",
    "zyzzyva",
];

const PAGES: usize = 4;

#[tokio::test]
async fn word_search_finds_exactly_the_codes_holding_every_word_after_imports_and_edits() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    let org = app.org_id_of(&user.email).await;
    app.upgrade_to_enterprise(org).await;
    app.import_release(&client, "icd10cm-2024.csv.gz", false)
        .await;
    app.import_release(&client, "icd10cm-2026.csv.gz", true)
        .await;
    let mut live = catalogue("icd10cm-2026.csv.gz");
    let deleted: Catalogue = catalogue("icd10cm-2024.csv.gz")
        .into_iter()
        .filter(|(code, _)| !live.contains_key(code))
        .collect();
    assert!(!deleted.is_empty());

    let check = async |live: &Catalogue, query: &str| {
        let mut want = expected(live, query);
        want.truncate(PAGES * 50);
        assert_eq!(
            app.search(&client, query, &[], PAGES).await,
            want,
            "{query}"
        );
    };
    for query in QUERIES {
        check(&live, query).await;
    }
    // Deleted codes are found only when asked for, and then only they.
    for query in ["fracture", "unspecified", "diabetes", "femur fracture"] {
        let mut want = expected(&deleted, query);
        want.truncate(PAGES * 50);
        let found = app
            .search(&client, query, &[("deleted", "true")], PAGES)
            .await;
        assert_eq!(found, want, "deleted: {query}");
    }

    // An edit replaces the code's words at once: the old ones find it no more.
    let femur = app.search(&client, "femur", &[], 1).await;
    let target = &femur[0];
    let id: String = sqlx::query_scalar(
        "select id::text from codes where organization_id = $1 and code_key = $2",
    )
    .bind(org)
    .bind(target)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    let version: i32 = sqlx::query_scalar("select version from codes where id = $1::uuid")
        .bind(&id)
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
    let edited = app
        .call(
            &client,
            "codes/update",
            &[
                ("id", id.clone()),
                ("version", version.to_string()),
                ("code", target.clone()),
                ("description", "Zyzzyva bite of the left tibia".into()),
                ("category", "Injury".into()),
                ("severity", "high".into()),
                ("active", "on".into()),
            ],
        )
        .await;
    assert!(
        edited.status().is_success(),
        "{}",
        edited.text().await.unwrap()
    );
    live.insert(target.clone(), "Zyzzyva bite of the left tibia".into());
    for query in ["femur", "fracture femur", "zyzzyva", "zyz tibia", "left"] {
        check(&live, query).await;
    }
}

#[tokio::test]
async fn another_organizations_words_neither_match_nor_change_the_page() {
    let app = spawn_app().await;
    let (_, a) = app.signed_up_user().await;
    let (b_user, b) = app.signed_up_user().await;
    app.upgrade_to_enterprise(app.org_id_of(&b_user.email).await)
        .await;
    let csv = |rows: &[(&str, &str)]| {
        let mut text = String::from("code,description,category\n");
        for (code, description) in rows {
            text.push_str(&format!("{code},{description},Test\n"));
        }
        text.into_bytes()
    };
    // B holds many codes of a word A has once, and a word A has not.
    let many: Vec<(String, String)> = (0..1200)
        .map(|i| (format!("B{i:04}"), format!("Femur pain number {i}")))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(c, d)| (c.as_str(), d.as_str())).collect();
    let mut b_rows = many.clone();
    b_rows.push(("Z99", "Zyzzyva sting"));
    for (client, rows) in [
        (
            &a,
            csv(&[("A01", "Fracture of femur"), ("A02", "Sprain of ankle")]),
        ),
        (&b, csv(&b_rows)),
    ] {
        let imported = app.import_csv(client, rows, "file_name=t.csv").await;
        assert_eq!(imported.status().as_u16(), 200);
    }
    assert_eq!(app.search(&a, "femur", &[], 2).await, ["A01"]);
    assert_eq!(app.search(&a, "fem", &[], 2).await, ["A01"]);
    assert!(app.search(&a, "zyzzyva", &[], 2).await.is_empty());
    assert!(app.search(&a, "pain", &[], 2).await.is_empty());
    assert_eq!(app.search(&b, "zyzzyva", &[], 2).await, ["Z99"]);
    let b_femur = app.search(&b, "femur pain", &[], 30).await;
    assert_eq!(b_femur.len(), 1200);
    assert!(!b_femur.contains(&"A01".to_owned()));
    assert_eq!(app.search(&a, "sprain", &[], 1).await, ["A02"]);
}
