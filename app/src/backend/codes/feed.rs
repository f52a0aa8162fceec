//! The change feed: every version of every code of the organization, in the
//! order it can be read without a gap, for clients that mirror the
//! catalogue. A cursor is the position `(transaction id, sequence)` of the
//! last version read; the feed answers only versions of transactions older
//! than every transaction still running, so a version that commits later
//! always sorts after every cursor handed out before it committed: nothing
//! is skipped, and nothing is handed out twice.
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use chrono::{DateTime, Utc};

use super::versions::content_from;
use crate::backend::{AppState, Error, OrgContext, Plans, Result};
use crate::model::codes::{ChangeFeedItem, ChangeFeedPage, ChangeType, MAX_FEED_LIMIT};
use crate::model::{CodeId, Permission};

/// Where a follower is: after the version at this position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    txid: i64,
    seq: i64,
}

impl Position {
    const START: Position = Position { txid: 0, seq: 0 };

    fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.txid, self.seq))
    }

    fn decode(text: &str) -> Result<Self> {
        let invalid = || Error::Validation {
            field: Some("since".into()),
            message: "This cursor is not one the feed handed out; start again without `since`."
                .into(),
        };
        let raw = URL_SAFE_NO_PAD
            .decode(text.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(invalid)?;
        let (txid, seq) = raw.split_once(':').ok_or_else(invalid)?;
        let position = Position {
            txid: txid.parse().map_err(|_| invalid())?,
            seq: seq.parse().map_err(|_| invalid())?,
        };
        if position.txid < 0 || position.seq < 0 {
            return Err(invalid());
        }
        Ok(position)
    }
}

#[derive(sqlx::FromRow)]
struct FeedRow {
    txid: i64,
    seq: i64,
    code_id: CodeId,
    version: i32,
    change: ChangeType,
    snapshot: serde_json::Value,
    created_at: DateTime<Utc>,
}

/// Up to `limit` versions after `since` (the start when absent), oldest
/// first, and the cursor to read on from (the same one when there is
/// nothing new yet).
pub async fn read(
    ctx: &OrgContext,
    state: &AppState,
    since: Option<&str>,
    limit: Option<i64>,
) -> Result<ChangeFeedPage> {
    let after = since
        .filter(|s| !s.trim().is_empty())
        .map(Position::decode)
        .transpose()?
        .unwrap_or(Position::START);
    let limit = limit.unwrap_or(MAX_FEED_LIMIT);
    if !(1..=MAX_FEED_LIMIT).contains(&limit) {
        return Err(Error::Validation {
            field: Some("limit".into()),
            message: format!("Ask for 1 to {MAX_FEED_LIMIT} changes."),
        });
    }
    let mut tx = ctx
        .begin_planned_as(&state.pool, Permission::ReadCodes, Plans::Generic)
        .await?;
    // xid8 has no cast to a number; its text is the 64-bit number.
    let rows: Vec<FeedRow> = sqlx::query_as(
        "select v.txid::text::bigint as txid, v.seq, v.code_id, v.version, v.change, v.snapshot,
                v.created_at
         from code_versions v
         where v.organization_id = $1
           and v.txid < pg_snapshot_xmin(pg_current_snapshot())
           and (v.txid, v.seq) > ($2::text::xid8, $3)
         order by v.txid, v.seq
         limit $4",
    )
    .bind(tx.org_id())
    .bind(after.txid.to_string())
    .bind(after.seq)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    tx.commit().await?;
    let last = rows.last().map(|r| Position {
        txid: r.txid,
        seq: r.seq,
    });
    let items = rows
        .into_iter()
        .map(|row| {
            Ok(ChangeFeedItem {
                code_id: row.code_id,
                version: row.version,
                operation: row.change,
                deleted: row.snapshot["deleted"].as_bool().unwrap_or(false),
                content: content_from(&row.snapshot)?,
                at: row.created_at,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ChangeFeedPage {
        items,
        next_cursor: last.unwrap_or(after).encode(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        let at = Position {
            txid: 123_456,
            seq: 7,
        };
        assert_eq!(Position::decode(&at.encode()).unwrap(), at);
        let junk = [
            "",
            "%%",
            "MTIz",
            &URL_SAFE_NO_PAD.encode("-1:2"),
            &URL_SAFE_NO_PAD.encode("a:b"),
        ];
        for bad in junk {
            assert!(Position::decode(bad).is_err(), "{bad:?}");
        }
    }
}
