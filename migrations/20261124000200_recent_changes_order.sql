-- The dashboard's recent changes are ordered by (created_at desc, code_id,
-- version desc). The index had only created_at: after an import, whose
-- 75,000 versions share one created_at (one transaction, one now()), the
-- ten newest meant sorting all 75,000 (1.3 s a dashboard at 7.5 M codes).
create index code_versions_recent_order_idx
    on code_versions (organization_id, created_at desc, code_id, version desc);
drop index code_versions_recent_idx;
