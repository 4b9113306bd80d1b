-- The foreign keys from a sale's own rows to its order, dropped because each costs a
-- check on every row a sale writes (an index probe and a row lock, run as a trigger;
-- the first lock of each new order also writes a WAL record): six per cash sale of
-- three lines (its lines, its payment, its two events), about a fifth of the database
-- CPU of the statement that writes a group of sales (docs/performance.md).
-- - order_lines (shop_id, order_id) -> orders
-- - payments (shop_id, order_id) -> orders
-- - outbox (shop_id, order_id) -> orders
-- What still keeps every such row's order in existence:
-- - Only the store writes these rows (crates/store/src/sales): a sale's and a refund's
--   lines, payment and events go in the same statement, in the same transaction, as
--   their order; a payment or an event of an existing order (addPayment,
--   validateOrder) is written after that order is read under the shop's counter-row
--   lock, and refused when it is not found.
-- - No statement of Comptoir deletes an order or changes its id or shop.
-- - SQLite keeps these keys, and the store's tests run on both backends:
--   crates/store/tests/group_writes.rs checks, after sales refused inside the database
--   amid concurrent ones, that every line, payment and event names a stored order.
-- - The journal seals each order with its lines and each payment: `comptoir verify`
--   reports a row changed or removed behind Comptoir's back.
-- Kept: the keys that refuse a row naming what the sale did not write itself (an
-- order's user, cash box, client, table, the payment's method, every shop key left) and
-- those of rarer writes (refund_lines, invoice_copies, invoice_issues, orders.refund_of).
alter table order_lines drop constraint if exists order_lines_shop_id_order_id_fkey;
alter table payments drop constraint if exists payments_shop_id_order_id_fkey;
alter table outbox drop constraint if exists outbox_shop_id_order_id_fkey;
