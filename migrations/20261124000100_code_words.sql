-- Word search at scale: every word of every code's description as a row
-- (organization_id, word, code_key), kept in step with `codes` by the
-- statement that writes the code.
--
-- One GIN index over every organization's tsvectors cannot answer "the
-- first 50 codes of organization X whose description holds `femur`": it
-- finds the word in all organizations, the organization is a filter (or,
-- with btree_gin, a bitmap of 75,000 rows ANDed in), and the matches are
-- then fetched and sorted before the first 50 are known. This b-tree is
-- ordered by organization, word and code: a word's codes in one
-- organization are one contiguous range, already in code order, so a page
-- reads about 50 entries and stops, and a word's count in an organization
-- is the length of its range. `backend::codes::search` picks, per query,
-- which word's range to walk; `codes.search @@ query` stays the truth of
-- what matches (this table only proposes candidates).

create table code_words (
    organization_id uuid not null references organizations (id) on delete cascade,
    -- A lexeme of to_tsvector('simple', description): lower-cased, as
    -- `codes.search` holds it.
    word text collate "C" not null,
    code_key text collate "C" not null,
    primary key (organization_id, word, code_key)
);

alter table code_words enable row level security;
alter table code_words force row level security;
create policy code_words_tenant on code_words
    using (organization_id = app_current_org())
    with check (organization_id = app_current_org());

-- Statement-level triggers with transition tables: an import of 75,000
-- codes writes its words in one INSERT … SELECT, not 75,000 trigger calls.
create function code_words_after_insert() returns trigger
    language plpgsql
    as $$
begin
    insert into code_words (organization_id, word, code_key)
    select n.organization_id, w.word, n.code_key
    from new_codes n cross join lateral unnest(tsvector_to_array(n.search)) as w (word);
    return null;
end
$$;

-- Only codes whose words or key changed are rewritten: a soft delete, a
-- restore or a change of severity leaves their words alone (deleted codes
-- stay searchable for the "deleted" view; the query filters them).
create function code_words_after_update() returns trigger
    language plpgsql
    as $$
begin
    delete from code_words w
    using (
        select o.organization_id, o.code_key, x.word
        from old_codes o
        join new_codes n on n.organization_id = o.organization_id and n.id = o.id
        cross join lateral unnest(tsvector_to_array(o.search)) as x (word)
        where (o.code_key, o.search) is distinct from (n.code_key, n.search)
    ) gone
    where w.organization_id = gone.organization_id
      and w.word = gone.word
      and w.code_key = gone.code_key;
    insert into code_words (organization_id, word, code_key)
    select n.organization_id, x.word, n.code_key
    from new_codes n
    join old_codes o on o.organization_id = n.organization_id and o.id = n.id
    cross join lateral unnest(tsvector_to_array(n.search)) as x (word)
    where (o.code_key, o.search) is distinct from (n.code_key, n.search);
    return null;
end
$$;

create trigger code_words_insert after insert on codes
    referencing new table as new_codes
    for each statement execute function code_words_after_insert();
create trigger code_words_update after update on codes
    referencing old table as old_codes new table as new_codes
    for each statement execute function code_words_after_update();

-- The codes that exist already.
insert into code_words (organization_id, word, code_key)
select c.organization_id, w.word, c.code_key
from codes c cross join lateral unnest(tsvector_to_array(c.search)) as w (word);

-- The GIN index over every organization's words answered word searches
-- until now; nothing reads it any more.
drop index codes_search_idx;

grant select, insert, delete on code_words to codebook_app;
