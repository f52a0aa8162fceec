-- The change feed for mirrors (`GET /api/v1/changes`): every version in the
-- order a follower can read it without ever skipping one. Versions are
-- ordered by the id of the transaction that wrote them, then by a sequence
-- within it, and the feed only hands out versions of transactions older
-- than every transaction still running (the snapshot's xmin): a version
-- written by a long transaction that commits after later ones have been
-- read still sorts after the follower's cursor, because its transaction id
-- was at or above the xmin the follower read under.
alter table code_versions
    add column txid xid8 not null default pg_current_xact_id(),
    add column seq bigint generated always as identity;

create index code_versions_feed_idx on code_versions (organization_id, txid, seq);
