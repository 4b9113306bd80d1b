-- A version per shop of the rows a sale's checks read (items, variations, departments,
-- payment methods, users, cash boxes, dining tables), raised by the same transaction as
-- any change to them, whatever makes it (the back office, an import, psql).
-- Each process remembers the rows its sales' checks read, with the version they were
-- read at (crates/store/src/sales/check_cache.rs); a lane compares that version with
-- this one, read after it locked the shop's counter row, before it writes the sale, and
-- checks the sale again when they differ.
--
-- The version of a shop is the sum of `n` over its rows. A statement that changes a
-- shop's rows adds one row (n = 1): rows are only ever added, so a change never waits
-- for another transaction (a counter row updated in place would be locked by the
-- editing transaction until its commit, and two edits of one shop, each locking its own
-- rows first, could wait on each other in a cycle). Every snapshot sees the committed
-- transactions of a prefix of one order, and each adds at least one, so two snapshots
-- with the same sum see the same rows. The upkeep (statistics.rs) replaces a shop's rows
-- by one holding their sum, in one transaction.
create table catalog_changes (
    shop_id bigint not null,
    n bigint not null
);
create index catalog_changes_shop_idx on catalog_changes (shop_id);

-- `set search_path from current`: the schema Comptoir was migrated in, whatever the
-- session that edits a row has set.
create function comptoir_catalog_changed() returns trigger language plpgsql
set search_path from current as $$
begin
    insert into catalog_changes (shop_id, n) select distinct shop_id, 1 from changed;
    return null;
end
$$;

-- An update that moves a row to another shop changes both.
create function comptoir_catalog_moved() returns trigger language plpgsql
set search_path from current as $$
begin
    insert into catalog_changes (shop_id, n)
    select shop_id, 1 from changed union select shop_id, 1 from before_change;
    return null;
end
$$;

-- A truncate changes every shop.
create function comptoir_catalog_emptied() returns trigger language plpgsql
set search_path from current as $$
begin
    insert into catalog_changes (shop_id, n) select id, 1 from shops;
    return null;
end
$$;

-- PostgreSQL takes transition tables on a trigger of one event only: four per table.
do $$
declare
    t text;
begin
    foreach t in array array['items', 'variations', 'departments', 'payment_methods',
                             'users', 'cash_boxes', 'dining_tables'] loop
        execute format('create trigger %I after insert on %I referencing new table as changed
                        for each statement execute function comptoir_catalog_changed()',
                       t || '_version_insert', t);
        execute format('create trigger %I after update on %I
                        referencing old table as before_change new table as changed
                        for each statement execute function comptoir_catalog_moved()',
                       t || '_version_update', t);
        execute format('create trigger %I after delete on %I referencing old table as changed
                        for each statement execute function comptoir_catalog_changed()',
                       t || '_version_delete', t);
        execute format('create trigger %I after truncate on %I
                        for each statement execute function comptoir_catalog_emptied()',
                       t || '_version_truncate', t);
    end loop;
end
$$;
