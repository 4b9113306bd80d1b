-- A version per shop of the rows a sale's checks read (items, variations, departments,
-- payment methods, users, cash boxes, dining tables), raised by the same transaction as
-- any change to them, whatever makes it (the back office, an import, psql).
-- Each process remembers the rows its sales' checks read, with the version they were
-- read at (crates/store/src/sales/check_cache.rs); a lane compares that version with
-- this one, read with the shop's counter row, before it writes the sale, and checks
-- the sale again when they differ.
-- A table of its own, not a column of shop_counters: a catalog edit then never waits
-- for the counter rows a sales lane holds.
create table catalog_versions (
    shop_id bigint primary key,
    version bigint not null
);

-- `set search_path from current`: the schema Comptoir was migrated in, whatever the
-- session that edits a row has set.
create function comptoir_catalog_changed() returns trigger language plpgsql
set search_path from current as $$
begin
    -- In the order of the shops' ids: two edits of several shops never wait on each
    -- other in a cycle.
    insert into catalog_versions (shop_id, version)
    select distinct shop_id, 1 from changed order by shop_id
    on conflict (shop_id) do update set version = catalog_versions.version + 1;
    return null;
end
$$;

-- PostgreSQL takes a transition table on a trigger of one event only: three per table.
do $$
declare
    t text;
begin
    foreach t in array array['items', 'variations', 'departments', 'payment_methods',
                             'users', 'cash_boxes', 'dining_tables'] loop
        execute format('create trigger %I after insert on %I referencing new table as changed
                        for each statement execute function comptoir_catalog_changed()',
                       t || '_version_insert', t);
        execute format('create trigger %I after update on %I referencing new table as changed
                        for each statement execute function comptoir_catalog_changed()',
                       t || '_version_update', t);
        execute format('create trigger %I after delete on %I referencing old table as changed
                        for each statement execute function comptoir_catalog_changed()',
                       t || '_version_delete', t);
    end loop;
end
$$;
