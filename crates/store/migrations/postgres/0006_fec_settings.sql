-- The FEC export's accounts and journal, per shop: only what a shop changed; the
-- defaults live in core::report::fec.
create table fec_settings (
    shop_id bigint not null references shops (id),
    setting text not null,
    value text not null,
    primary key (shop_id, setting)
);
