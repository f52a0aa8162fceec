//! How a word search finds its page among millions of codes.
//!
//! What matches is always `codes.search @@ 'w1:* & w2:*'` (every word of the
//! query starts a word of the description). What differs is how the
//! candidates are reached, chosen per query from what `code_words`
//! (organization, word, code; see its migration) holds for each query word
//! in this organization: its entries, counted up to [`FEW`], and the words
//! it is a prefix of, listed up to [`SOME_WORDS`] (a few index probes each):
//!
//! - a query word that starts no word of the organization: no page at all;
//! - else, in code order, walk the codes of one query word's words, each in
//!   order, keeping those that match, until a page is full: the page reads
//!   about a page of entries divided by the share of them that match. The
//!   word walked is the rarest, or, among common ones, the one that stands
//!   for the fewest words, then the longest (the likeliest to be rare);
//! - a rare query word that stands for too many words to walk (`pne`), or
//!   any rare word when the page is ordered by last change: its codes are
//!   the candidates, fetched by key and sorted (fewer than [`FEW`]);
//! - every word common and each a prefix of many (`e`, `fr`), in any
//!   order, or common words by last change: go through the organization's
//!   codes in the page's order, keeping those that match; common words
//!   match densely, so the page fills soon.
//!
//! Walking the codes in order is never chosen when one word is enough: a
//! single common word concentrated late in the alphabet of codes (`femur`,
//! in S) would read the 50,000 codes before it.
use crate::backend::{AppState, Error, OrgContext, OrgTx, Result};
use crate::model::codes::{SearchTerms, SortOrder};

/// The smallest string greater than every string that starts with `prefix`
/// (in byte order): the end of a prefix range an index can scan.
pub fn prefix_end(prefix: &str) -> String {
    format!("{prefix}{}", char::MAX)
}

/// The search's condition on a query: a code prefix as a range of the
/// sort key `key`, words as a prefix query on the text search vector
/// `words`.
pub fn push_search(
    query: &mut sqlx::QueryBuilder<'_, sqlx::Postgres>,
    terms: Option<SearchTerms>,
    key: &str,
    words_vector: &str,
) {
    match terms {
        Some(SearchTerms::CodePrefix(prefix)) => {
            let end = prefix_end(&prefix);
            query.push(format_args!(" and {key} >= ")).push_bind(prefix);
            query.push(format_args!(" and {key} < ")).push_bind(end);
        }
        Some(SearchTerms::Words(words)) => {
            query
                .push(format_args!(" and {words_vector} @@ to_tsquery('simple', "))
                .push_bind(prefix_query(&words))
                .push(")");
        }
        None => {}
    }
}

/// The words of a description search as a prefix query: `fract femur`
/// becomes `fract:* & femur:*`. Words hold letters and digits only, so
/// nothing in them is read as query syntax.
pub fn prefix_query(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("{w}:*"))
        .collect::<Vec<_>>()
        .join(" & ")
}

/// Below this many entries a query word is rare: its codes can be fetched
/// and sorted whole.
pub const FEW: i64 = 500;
/// The most words one query word may stand for and still be walked.
pub const SOME_WORDS: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WordPlan {
    /// A query word starts no word of the organization's codes.
    NoMatch,
    /// The codes holding any of these words (all the words one query word
    /// is the prefix of), walked in code order.
    Walk(Vec<String>),
    /// The codes holding a word that starts with this prefix.
    Candidates(String),
    /// Every code of the organization, in the page's order.
    Scan,
}

/// What `code_words` holds of one query word in this organization.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
struct WordRange {
    prefix: String,
    /// The words starting with `prefix`, up to one more than [`SOME_WORDS`].
    words: Vec<String>,
    /// Entries, counted up to [`FEW`]; not counted when the plan does not
    /// depend on it.
    entries: Option<i64>,
}

impl WordRange {
    fn walkable(&self) -> bool {
        self.words.len() <= SOME_WORDS
    }

    /// Entries, an uncounted word taken as common.
    fn entries(&self) -> i64 {
        self.entries.unwrap_or(FEW)
    }
}

/// Words (up to `$5`) and entries (up to `$4`) of each query word `$2`
/// (ranges ending at `$3`) in organization `$1`. The words of a range are
/// listed by skipping from one to the next (a probe each) rather than
/// reading every entry in between. Entries are counted only when `$6` (the
/// query has other words, or the page is not in code order) or when the
/// query word stands for too many words to walk: a lone walkable word is
/// walked whatever its count, and counting a common word is most of this
/// query's cost.
pub const PLAN_SQL: &str = "select t.prefix, x.words,
        case when $6 or cardinality(x.words) >= $5 then
            (select count(*) from (
                select from code_words w
                where w.organization_id = $1 and w.word >= t.prefix and w.word < t.stop
                limit $4) few)
        end as entries
    from unnest($2::text[], $3::text[]) as t (prefix, stop)
    cross join lateral (select array(
        with recursive next (word) as (
            select min(w.word) from code_words w
            where w.organization_id = $1 and w.word >= t.prefix and w.word < t.stop
            union all
            select (select min(w.word) from code_words w
                    where w.organization_id = $1 and w.word > next.word and w.word < t.stop)
            from next where next.word is not null)
        select word from next where word is not null limit $5) as words) x";

pub(super) async fn plan(tx: &mut OrgTx, words: &[String], sort: SortOrder) -> Result<WordPlan> {
    let ends: Vec<String> = words.iter().map(|w| prefix_end(w)).collect();
    let ranges: Vec<WordRange> = sqlx::query_as(PLAN_SQL)
        .bind(tx.org_id())
        .bind(words)
        .bind(&ends)
        .bind(FEW)
        .bind(SOME_WORDS as i64 + 1)
        .bind(counts_needed(words.len(), sort))
        .fetch_all(tx.conn())
        .await?;
    Ok(choose(&ranges, sort))
}

/// Whether the plan needs every query word's count (see [`PLAN_SQL`]).
pub fn counts_needed(query_words: usize, sort: SortOrder) -> bool {
    query_words > 1 || sort != SortOrder::Code
}

/// The words of `q` and the plan of its first page in code order, for the
/// load benchmark to replay the same SQL through pgbench.
pub async fn plan_of(
    ctx: &OrgContext,
    state: &AppState,
    q: &str,
) -> Result<(Vec<String>, WordPlan)> {
    let Some(SearchTerms::Words(words)) = SearchTerms::parse(q) else {
        return Err(Error::Validation {
            field: Some("q".into()),
            message: "Not a word search.".into(),
        });
    };
    let mut tx = ctx.begin(&state.pool).await?;
    let plan = plan(&mut tx, &words, SortOrder::Code).await?;
    tx.commit().await?;
    Ok((words, plan))
}

fn choose(ranges: &[WordRange], sort: SortOrder) -> WordPlan {
    if ranges.iter().any(|r| r.words.is_empty()) {
        return WordPlan::NoMatch;
    }
    let Some(rarest) = ranges.iter().min_by_key(|r| r.entries()) else {
        return WordPlan::Scan;
    };
    let walk = ranges.iter().filter(|r| r.walkable()).min_by_key(|r| {
        (
            r.entries(),
            r.words.len(),
            std::cmp::Reverse(r.prefix.len()),
        )
    });
    match walk {
        Some(driver)
            if sort == SortOrder::Code && (driver.entries() < FEW || rarest.entries() == FEW) =>
        {
            WordPlan::Walk(driver.words.clone())
        }
        _ if rarest.entries() < FEW => WordPlan::Candidates(rarest.prefix.clone()),
        _ => WordPlan::Scan,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(prefix: &str, entries: i64, words: &[&str]) -> WordRange {
        WordRange {
            prefix: prefix.into(),
            entries: Some(entries),
            words: words.iter().map(|w| w.to_string()).collect(),
        }
    }

    fn many(prefix: &str) -> Vec<String> {
        (0..=SOME_WORDS).map(|i| format!("{prefix}{i}")).collect()
    }

    fn walk(words: &[&str]) -> WordPlan {
        WordPlan::Walk(words.iter().map(|w| w.to_string()).collect())
    }

    #[test]
    fn a_word_nobody_uses_needs_no_query() {
        let ranges = [range("fracture", FEW, &["fracture"]), range("zzz", 0, &[])];
        assert_eq!(choose(&ranges, SortOrder::Code), WordPlan::NoMatch);
    }

    #[test]
    fn a_lone_walkable_word_is_walked_uncounted() {
        let lone = WordRange {
            prefix: "asthma".into(),
            entries: None,
            words: vec!["asthma".into(), "asthmaticus".into()],
        };
        assert_eq!(
            choose(&[lone], SortOrder::Code),
            walk(&["asthma", "asthmaticus"])
        );
        assert!(!counts_needed(1, SortOrder::Code));
        assert!(counts_needed(2, SortOrder::Code));
        assert!(counts_needed(1, SortOrder::Updated));
    }

    #[test]
    fn the_rarest_word_is_walked_in_code_order() {
        let ranges = [
            range("fract", FEW, &["fracture", "fractures"]),
            range("fem", 300, &["femur", "femoral"]),
        ];
        assert_eq!(
            choose(&ranges, SortOrder::Code),
            walk(&["femur", "femoral"])
        );
        assert_eq!(
            choose(&ranges, SortOrder::Updated),
            WordPlan::Candidates("fem".into())
        );
    }

    #[test]
    fn among_common_words_the_one_of_fewest_words_then_longest_is_walked() {
        let ranges = [
            range("left", FEW, &["left"]),
            range("fracture", FEW, &["fracture", "fractures"]),
            range("femur", FEW, &["femur"]),
        ];
        assert_eq!(choose(&ranges, SortOrder::Code), walk(&["femur"]));
        assert_eq!(choose(&ranges, SortOrder::Updated), WordPlan::Scan);
    }

    #[test]
    fn a_rare_prefix_of_many_words_gives_candidates_and_common_ones_a_scan() {
        let rare = WordRange {
            prefix: "pne".into(),
            entries: Some(146),
            words: many("pne"),
        };
        let common = range("left", FEW, &["left"]);
        assert_eq!(
            choose(&[rare, common.clone()], SortOrder::Code),
            WordPlan::Candidates("pne".into())
        );
        let wide = WordRange {
            prefix: "e".into(),
            entries: Some(FEW),
            words: many("e"),
        };
        assert_eq!(
            choose(std::slice::from_ref(&wide), SortOrder::Code),
            WordPlan::Scan
        );
        assert_eq!(choose(&[wide, common], SortOrder::Code), walk(&["left"]));
    }
}
