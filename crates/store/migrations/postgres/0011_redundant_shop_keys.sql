-- A foreign key to shops that another already implies, dropped because it costs a check
-- (an index probe and a row lock, run as a trigger) on every order a sale writes:
-- - orders (shop_id): every order names its user, and (shop_id, user_id) references
--   users (shop_id, id), whose shop_id references shops; user_id is not null.
-- outbox (shop_id) stays: since migration 9 a closing event names no order, so nothing
-- else would vouch for its shop.
-- A row naming a shop that does not exist is still refused, and a shop with orders or
-- events still cannot be deleted. Keep the users key (and its not null) while this one
-- stays dropped: crates/store/tests/group_writes.rs checks both refusals.
alter table orders drop constraint if exists orders_shop_id_fkey;
