-- Monthly and yearly closings (issue #11): the closings table takes the periods 'month'
-- (`day` holds YYYY-MM) and 'year' (`day` holds YYYY, the year the fiscal year starts in).
alter table closings drop constraint closings_period_check;
alter table closings add constraint closings_period_check
    check (period in ('day', 'month', 'year'));

-- A shop's fiscal settings, only when changed: the first month of its fiscal year and the
-- local time its days close (minutes after midnight). Defaults: January, 04:00.
create table fiscal_settings (
    shop_id bigint primary key references shops (id),
    first_month bigint not null default 1 check (first_month between 1 and 12),
    closing_minute bigint not null default 240 check (closing_minute between 0 and 1439)
);

-- A closing is also a webhook event (`closing`), so that someone else keeps its head: an
-- outbox row without an order, naming the closing by its journal entry.
alter table outbox drop constraint outbox_event_type_check;
alter table outbox add constraint outbox_event_type_check
    check (event_type in ('validated', 'terminated', 'closing'));
alter table outbox alter column order_id drop not null;
alter table outbox add column closing_seq bigint;
alter table outbox add constraint outbox_subject_check
    check ((event_type = 'closing') = (order_id is null and closing_seq is not null));
