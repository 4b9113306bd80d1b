//! store::archive on each backend: a period's rows are those the closings count (value
//! date in the period, pending orders left out), with their lines, payments, closings and
//! journal entries; and reading them a page at a time, however small the page, gives the
//! same rows in the same order as reading them at once.

use comptoir_core::archive::{Field, Period};
use comptoir_core::fiscal_key::FiscalKey;
use comptoir_core::model::Licence;
use comptoir_core::sale::PaymentParam;
use comptoir_store::StoreError;
use comptoir_store::archive::{Span, TABLES, Table, closings, last_closed_day};
use comptoir_store::journal::snapshot;
use comptoir_store::sales::{self, SaleInput};
use comptoir_testkit::TestDb;
use jiff::civil::Date;

fn micros(local: &str) -> i64 {
    let dt: jiff::civil::DateTime = local.parse().unwrap();
    dt.to_zoned(jiff::tz::TimeZone::get("Europe/Paris").unwrap())
        .unwrap()
        .timestamp()
        .as_microsecond()
}

fn all_rows(
    c: &mut dyn comptoir_store::db::Conn,
    t: &Table,
    span: &Span,
    page: i64,
) -> Result<Vec<Vec<Field>>, StoreError> {
    let mut out = Vec::new();
    t.each_page(c, span, page, &mut |rows: &[Vec<Field>]| {
        // At most `page` rows, or the rows of at most `page` orders.
        assert!(rows.len() as i64 <= page * 3, "{}", t.name);
        out.extend_from_slice(rows);
        Ok::<_, StoreError>(())
    })?;
    Ok(out)
}

#[tokio::test]
async fn a_period_reads_the_same_rows_whatever_the_page_size() {
    for db in TestDb::all() {
        let store = db.store().await;
        let shop = comptoir_testkit::create_shop(&store, "Archive", Licence::Extended).await;
        let shop_id = shop.shop_id;
        comptoir_testkit::import_demo(&store, shop_id).await;
        let (item, cash) = comptoir_testkit::item_and_payment_method(&store, shop_id).await;
        let s = store
            .read(move |c| comptoir_store::shops::get_shop(c, shop_id))
            .await
            .unwrap()
            .unwrap();
        // March: five paid orders of two or three lines and one pending order; one order
        // on 1 April (outside).
        let mut sales = Vec::new();
        for day in 1..=5 {
            let lines = (0..(2 + day % 2))
                .map(|i| format!("{item}_{}", i + 1))
                .collect();
            sales.push((
                format!("2026-03-{day:02}T12:00"),
                lines,
                PaymentParam::Method(cash),
            ));
        }
        sales.push((
            "2026-03-06T12:00".into(),
            vec![format!("{item}_1")],
            PaymentParam::Pending,
        ));
        sales.push((
            "2026-04-01T12:00".into(),
            vec![format!("{item}_1")],
            PaymentParam::Method(cash),
        ));
        for (when, lines, payment) in sales {
            let mut input = SaleInput::new(lines, payment);
            input.value_date = Some(micros(&when));
            let s = s.clone();
            store
                .write(move |c| sales::record_sale(c, &s, &input))
                .await
                .unwrap_or_else(|e| panic!("sale: {e:?}"));
        }
        let key = FiscalKey::from_seed([4; 32]);
        let now: jiff::Timestamp = "2026-04-02T10:00:00Z".parse().unwrap();
        store
            .write(move |c| {
                comptoir_store::closings::close_day(
                    c,
                    shop_id,
                    Date::constant(2026, 3, 31),
                    &key,
                    now,
                )
            })
            .await
            .expect("close");

        let period = Period::parse("2026-03").unwrap();
        let (from, to) = period
            .bounds(&jiff::tz::TimeZone::get("Europe/Paris").unwrap())
            .unwrap();
        let span = Span { shop_id, from, to };
        let (pages, last, refs) = store
            .read(move |c| {
                snapshot(c, |c| {
                    let mut pages = Vec::new();
                    for t in TABLES {
                        let whole = all_rows(c, t, &span, 1000)?;
                        for page in [1, 2, 3] {
                            assert_eq!(all_rows(c, t, &span, page)?, whole, "{} by {page}", t.name);
                        }
                        pages.push((t.name, whole));
                    }
                    Ok::<_, StoreError>((pages, last_closed_day(c, shop_id)?, closings(c, &span)?))
                })
            })
            .await
            .expect("read");
        let count = |name: &str| pages.iter().find(|(n, _)| *n == name).unwrap().1.len();
        assert_eq!(count("orders.csv"), 5, "{}", db.backend);
        assert_eq!(count("lines.csv"), 3 + 2 + 3 + 2 + 3);
        assert_eq!(count("payments.csv"), 5);
        assert_eq!(count("closings.csv"), 1);
        assert_eq!(count("journal.csv"), 11, "5 orders, 5 payments, 1 closing");
        let journal = &pages.iter().find(|(n, _)| *n == "journal.csv").unwrap().1;
        assert!(journal.windows(2).all(|w| match (&w[0][0], &w[1][0]) {
            (Field::Int(a), Field::Int(b)) => a < b,
            _ => false,
        }));
        // Flags read the same on both backends.
        let orders = &pages[0].1;
        assert_eq!(orders[0][10], Field::Int(0), "is_refund on {}", db.backend);
        assert_eq!(last.as_deref(), Some("2026-03-31"));
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].day, "2026-03-31");
        assert_eq!(refs[0].head.len(), 64);
    }
}
