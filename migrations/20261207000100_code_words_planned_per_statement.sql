-- The word index's update trigger, planned for the rows each statement
-- really changed.
--
-- PL/pgSQL keeps one plan per statement per connection, and a statement
-- with no parameters gets one generic plan the first time it runs, with
-- the transition tables' row counts of that run as its estimates. After a
-- one-code edit, a connection's plan joined `old_codes` to `new_codes` as
-- if each held one row, by nested loop: the next import of 3,000 codes on
-- that connection compared every old row with every new one, 50 times
-- slower than on a fresh connection. `execute` plans the statement on each
-- call with the row counts of that call (a fraction of a millisecond).
create or replace function code_words_after_update() returns trigger
    language plpgsql
    as $$
begin
    execute $sql$
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
          and w.code_key = gone.code_key
    $sql$;
    execute $sql$
        insert into code_words (organization_id, word, code_key)
        select n.organization_id, x.word, n.code_key
        from new_codes n
        join old_codes o on o.organization_id = n.organization_id and o.id = n.id
        cross join lateral unnest(tsvector_to_array(n.search)) as x (word)
        where (o.code_key, o.search) is distinct from (n.code_key, n.search)
    $sql$;
    return null;
end
$$;
