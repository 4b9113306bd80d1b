-- Invoice tokens now name their order: SHOPID-ORDERID-HEX32, so that a link is resolved
-- through the primary key, and a sale no longer inserts a random 128-bit key into an
-- index (one page of its own to write at every sale). The older SHOPID-HEX32 links keep
-- an index of their own, which new orders never enter.
drop index orders_invoice_token_key;
create index orders_legacy_invoice_token_idx on orders (shop_id, invoice_token)
    where invoice_token not like '%-%-%';
