//! The list of codes: filters, search and keyset pagination (no OFFSET: a
//! page costs the same at the end of 100,000 codes as at the start).
use crate::model::CodeId;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};

use super::search::{self, prefix_end, push_search, WordPlan};
use super::{CodeRow, SELECT_CODE};
use crate::backend::{AppState, Error, OrgContext, OrgTx, Plans, Result};
use crate::model::codes::{CodeFilter, CodeOut, CodePage, SearchTerms, SortOrder, PAGE_SIZE};
use crate::model::Permission;

/// Where a page starts: after this code, or after this last change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Cursor {
    Code(String),
    Updated(DateTime<Utc>, CodeId),
}

impl Cursor {
    fn encode(&self) -> String {
        let raw = match self {
            Cursor::Code(key) => format!("c:{key}"),
            Cursor::Updated(at, id) => format!("u:{}:{id}", at.timestamp_micros()),
        };
        URL_SAFE_NO_PAD.encode(raw)
    }

    fn decode(text: &str, sort: SortOrder) -> Result<Self> {
        let invalid = || Error::Validation {
            field: Some("after".into()),
            message: "This page link is not valid any more. Start from the first page.".into(),
        };
        let raw = URL_SAFE_NO_PAD
            .decode(text.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(invalid)?;
        match (sort, raw.split_once(':')) {
            (SortOrder::Code, Some(("c", key))) if key.len() <= 4 * 32 => {
                Ok(Cursor::Code(key.to_owned()))
            }
            (SortOrder::Updated, Some(("u", rest))) => {
                let (micros, id) = rest.split_once(':').ok_or_else(invalid)?;
                let at = micros
                    .parse::<i64>()
                    .ok()
                    .and_then(DateTime::from_timestamp_micros)
                    .ok_or_else(invalid)?;
                Ok(Cursor::Updated(at, id.parse().map_err(|_| invalid())?))
            }
            _ => Err(invalid()),
        }
    }

    pub(super) fn of(code: &CodeRow, sort: SortOrder) -> Self {
        match sort {
            SortOrder::Code => Cursor::Code(code.stored.code.to_uppercase()),
            SortOrder::Updated => Cursor::Updated(code.updated_at, code.id),
        }
    }
}

pub async fn list(ctx: &OrgContext, state: &AppState, filter: CodeFilter) -> Result<CodePage> {
    ctx.require(Permission::ReadCodes).await?;
    let cursor = filter
        .after
        .as_deref()
        .filter(|a| !a.is_empty())
        .map(|a| Cursor::decode(a, filter.sort))
        .transpose()?;
    let mut tx = ctx.begin_planned(&state.pool, Plans::Generic).await?;
    let mut rows = fetch_page(&mut tx, &filter, cursor.as_ref(), PAGE_SIZE + 1).await?;
    tx.commit().await?;
    let next = if rows.len() as i64 > PAGE_SIZE {
        rows.truncate(PAGE_SIZE as usize);
        rows.last()
            .map(|last| Cursor::of(last, filter.sort).encode())
    } else {
        None
    };
    Ok(CodePage {
        codes: rows.into_iter().map(CodeOut::from).collect(),
        next,
    })
}

/// Up to `limit` codes that match `filter`, in its order, after `cursor`.
pub(super) async fn fetch_page(
    tx: &mut OrgTx,
    filter: &CodeFilter,
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<CodeRow>> {
    let terms = filter.q.as_deref().and_then(SearchTerms::parse);
    let plan = match &terms {
        Some(SearchTerms::Words(words)) => Some(search::plan(tx, words, filter.sort).await?),
        _ => None,
    };
    let candidates = match &plan {
        Some(WordPlan::NoMatch) => return Ok(Vec::new()),
        Some(WordPlan::Walk(words)) => return walk(tx, words, filter, terms, cursor, limit).await,
        Some(WordPlan::Candidates(prefix)) => Some(prefix),
        Some(WordPlan::Scan) | None => None,
    };
    let org = tx.org_id();
    let mut query = QueryBuilder::<Postgres>::new(SELECT_CODE);
    query.push(" where c.organization_id = ").push_bind(org);
    if let Some(prefix) = candidates {
        // Fewer than `search::FEW` codes hold a word of the prefix: fetch
        // them by key and filter.
        query
            .push(
                " and c.code_key = any(array(
                   select w.code_key from code_words w where w.organization_id = ",
            )
            .push_bind(org)
            .push(" and w.word >= ")
            .push_bind(prefix.clone())
            .push(" and w.word < ")
            .push_bind(prefix_end(prefix))
            .push("))");
    }
    push_conditions(&mut query, "c.code_key", filter, terms, cursor);
    push_order(&mut query, "c.code_key", filter.sort);
    query.push(" limit ").push_bind(limit);
    Ok(query.build_query_as().fetch_all(tx.conn()).await?)
}

/// The columns of `SELECT_CODE` a walk carries out of its lateral join.
const WALKED_COLUMNS: &str = "c.code_key, c.id, c.code, c.description, c.category, c.severity,
    c.active, c.version, c.created_at, c.updated_at, c.updated_by, c.updated_by_kind,
    c.deleted_at";

/// A page in code order when every code of it holds one of `words`: walk
/// each word's codes in code order (`code_words`), keeping those that match
/// every filter, up to `limit` per word, and take the first `limit` of
/// them all. The walk reads each code's row once and carries the page's
/// columns out (`bench load` runs the same SQL through pgbench; keep the
/// two in step).
async fn walk(
    tx: &mut OrgTx,
    words: &[String],
    filter: &CodeFilter,
    terms: Option<SearchTerms>,
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<CodeRow>> {
    let org = tx.org_id();
    let mut query = QueryBuilder::<Postgres>::new(
        "select c.id, c.code, c.description, c.category, c.severity, c.active,
                c.version, c.created_at, c.updated_at, u.name as updated_by, c.deleted_at
         from (select distinct on (x.code_key) x.* from unnest(",
    );
    query
        .push_bind(words.to_vec())
        .push(format_args!(
            "::text[]) as d (word) cross join lateral (
               select {WALKED_COLUMNS}
               from code_words w
               join codes c on c.organization_id = w.organization_id and c.code_key = w.code_key
               where w.organization_id = "
        ))
        .push_bind(org)
        .push(" and w.word = d.word");
    push_conditions(&mut query, "w.code_key", filter, terms, cursor);
    query
        .push(" order by w.code_key limit ")
        .push_bind(limit)
        .push(") x order by x.code_key limit ")
        .push_bind(limit)
        .push(
            ") c left join users u on u.id = c.updated_by and c.updated_by_kind = 'user'
             order by c.code_key",
        );
    Ok(query.build_query_as().fetch_all(tx.conn()).await?)
}

/// The filters, the search and the cursor, on the code `c` whose key in
/// code order is `key` (a column equal to `c.code_key`).
fn push_conditions(
    query: &mut QueryBuilder<'_, Postgres>,
    key: &'static str,
    filter: &CodeFilter,
    terms: Option<SearchTerms>,
    cursor: Option<&Cursor>,
) {
    query.push(if filter.deleted {
        " and c.deleted_at is not null"
    } else {
        " and c.deleted_at is null"
    });
    if let Some(category) = filter.category_term() {
        query.push(" and c.category = ").push_bind(category);
    }
    if let Some(severity) = filter.severity {
        query.push(" and c.severity = ").push_bind(severity);
    }
    if let Some(active) = filter.active {
        query.push(" and c.active = ").push_bind(active);
    }
    push_search(query, terms, "c.code_key", "c.search");
    match cursor {
        Some(Cursor::Code(after)) => {
            query
                .push(format_args!(" and {key} > "))
                .push_bind(after.clone());
        }
        Some(Cursor::Updated(at, id)) => {
            query
                .push(" and (c.updated_at, c.id) < (")
                .push_bind(*at)
                .push(", ")
                .push_bind(*id)
                .push(")");
        }
        None => {}
    }
}

fn push_order(query: &mut QueryBuilder<'_, Postgres>, key: &'static str, sort: SortOrder) {
    match sort {
        SortOrder::Code => query.push(format_args!(" order by {key}")),
        SortOrder::Updated => query.push(" order by c.updated_at desc, c.id desc"),
    };
}

#[cfg(test)]
mod tests {
    use super::search::prefix_query;
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let code = Cursor::Code("S72.0".into());
        assert_eq!(
            Cursor::decode(&code.encode(), SortOrder::Code).unwrap(),
            code
        );
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let updated = Cursor::Updated(at, CodeId::new_v4());
        assert_eq!(
            Cursor::decode(&updated.encode(), SortOrder::Updated).unwrap(),
            updated
        );
        assert!(Cursor::decode(&code.encode(), SortOrder::Updated).is_err());
        for bad in ["", "%%%", "dTo", "dToxOjI"] {
            assert!(Cursor::decode(bad, SortOrder::Updated).is_err(), "{bad}");
        }
    }

    #[test]
    fn description_words_become_a_prefix_query() {
        let words = vec!["fract".to_owned(), "femur".to_owned()];
        assert_eq!(prefix_query(&words), "fract:* & femur:*");
    }

    #[test]
    fn the_prefix_range_holds_every_longer_code() {
        let end = prefix_end("S72.0");
        assert!("S72.0" < end.as_str() && "S72.0Z9" < end.as_str());
        assert!("S72.1" > end.as_str());
    }
}
