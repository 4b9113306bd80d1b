-- Monthly and yearly closings (issue #11): the closings table takes the periods 'month'
-- (`day` holds YYYY-MM) and 'year' (`day` holds YYYY, the year the fiscal year starts in).
-- SQLite cannot change a check constraint: the table is rebuilt (nothing references it).
create table closings_v9 (
    shop_id integer not null references shops (id),
    period text not null check (period in ('day', 'month', 'year')),
    number integer not null,
    day text not null,
    value_from integer not null,
    value_to integer not null,
    journal_seq integer not null,
    entry text not null,
    signature text not null,
    public_key text not null,
    closed_at integer not null,
    primary key (shop_id, period, number),
    unique (shop_id, period, day),
    unique (shop_id, journal_seq)
);
insert into closings_v9 (shop_id, period, number, day, value_from, value_to, journal_seq,
    entry, signature, public_key, closed_at)
select shop_id, period, number, day, value_from, value_to, journal_seq,
    entry, signature, public_key, closed_at from closings;
drop table closings;
alter table closings_v9 rename to closings;

-- A shop's fiscal settings, only when changed: the first month of its fiscal year and the
-- local time its days close (minutes after midnight). Defaults: January, 04:00.
create table fiscal_settings (
    shop_id integer primary key references shops (id),
    first_month integer not null default 1 check (first_month between 1 and 12),
    closing_minute integer not null default 240 check (closing_minute between 0 and 1439)
);
