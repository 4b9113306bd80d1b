//! Random sequences of sales, payments, refunds and payouts hold the money invariant of
//! an order and its refunds (issue #12, point 3): what the refunds pay out never exceeds
//! what the order received, a payment never makes the customer pay more than is owed
//! after refunds, and no payment of 0.00 is stored. Runs on SQLite and, when
//! `COMPTOIR_TEST_POSTGRES` is set, on PostgreSQL.

use comptoir_core::model::{Licence, Shop};
use comptoir_core::money::Money;
use comptoir_core::quantity::Quantity;
use comptoir_core::sale::PaymentParam;
use comptoir_store::sales::{self, SaleFailure, SaleInput};
use comptoir_store::{Store, StoreError, params, shops};
use comptoir_testkit::{TestDb, create_shop, import_demo};

/// A small deterministic generator (xorshift64*), so a failing sequence can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// One order's money, from the database: `(owed, received, paid_out)` in minor units.
type Money3 = (i64, i64, i64);

async fn balances(store: &Store, shop_id: i64) -> Vec<(i64, Money3)> {
    store
        .read(move |c| {
            let mut out = Vec::new();
            for r in c.query(
                "select o.id, o.total, o.paid - o.change_given,
                    cast(coalesce((select sum(r.total) from orders r
                        where r.shop_id = o.shop_id and r.refund_of = o.id), 0) as bigint),
                    cast(coalesce((select sum(r.paid - r.change_given) from orders r
                        where r.shop_id = o.shop_id and r.refund_of = o.id), 0) as bigint)
                 from orders o where o.shop_id = $1 and not o.is_refund order by o.id",
                params![shop_id],
            )? {
                let (total, received) = (r.i64(1)?, r.i64(2)?);
                let (refunds_total, refunds_paid) = (r.i64(3)?, r.i64(4)?);
                out.push((r.i64(0)?, (total + refunds_total, received, -refunds_paid)));
            }
            Ok::<_, StoreError>(out)
        })
        .await
        .expect("balances")
}

async fn ids(store: &Store, shop_id: i64, sql: &'static str) -> Vec<i64> {
    store
        .read(move |c| {
            c.query(sql, params![shop_id])?
                .iter()
                .map(|r| r.i64(0))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .expect("ids")
}

async fn id_of(store: &Store, shop_id: i64, sql: &'static str, name: &'static str) -> i64 {
    store
        .read(move |c| c.query_one(sql, params![shop_id, name])?.i64(0))
        .await
        .unwrap_or_else(|e: StoreError| panic!("{name}: {e}"))
}

/// Runs one step; a refusal is a normal outcome, a store failure is not.
async fn step(
    store: &Store,
    shop: &Shop,
    f: impl FnOnce(&mut dyn comptoir_store::db::Conn, &Shop) -> Result<(), SaleFailure> + Send + 'static,
) -> bool {
    let shop = shop.clone();
    match store.write(move |c| f(c, &shop)).await {
        Ok(()) => true,
        Err(SaleFailure::Rejected(..)) => false,
        Err(SaleFailure::Store(e)) => panic!("store failure: {e}"),
    }
}

/// A shop with the demo catalog.
async fn demo_shop(store: &Store) -> Shop {
    let created = create_shop(store, "Invariant", Licence::Extended).await;
    let id = created.shop_id;
    import_demo(store, id).await;
    let found = store.read(move |c| shops::get_shop(c, id)).await;
    found.expect("read").expect("the shop")
}

#[tokio::test]
async fn random_sales_payments_and_refunds_hold_the_money_invariant() {
    for db in TestDb::all() {
        let store = db.store().await;
        let shop = demo_shop(&store).await;
        let shop_id = shop.id;
        let item = "select id from items where shop_id = $1 and name = $2";
        let method = "select id from payment_methods where shop_id = $1 and name = $2";
        let items = [
            id_of(&store, shop_id, item, "Espresso").await,
            id_of(&store, shop_id, item, "Mug").await,
        ];
        let (cash, card) = (
            id_of(&store, shop_id, method, "Cash").await,
            id_of(&store, shop_id, method, "Card").await,
        );
        let refund = id_of(&store, shop_id, method, "Cash refund").await;
        let amounts = [None, Some(0), Some(100), Some(500), Some(1200), Some(5000)];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..12 * 8 {
            let originals = ids(
                &store,
                shop_id,
                "select id from orders where shop_id = $1 and not is_refund and status <> 'pending'",
            )
            .await;
            let refunds = ids(
                &store,
                shop_id,
                "select id from orders where shop_id = $1 and is_refund and refund_of is not null",
            )
            .await;
            let pick = |rng: &mut Rng, v: &[i64]| v[rng.below(v.len() as u64) as usize];
            let amount = amounts[rng.below(amounts.len() as u64) as usize].map(Money::from_minor);
            let paid_on = match rng.below(4) {
                // A sale: unpaid, or paid (perhaps in part) in cash or by card.
                0 => {
                    let entries = vec![format!("{}_{}", pick(&mut rng, &items), 1 + rng.below(3))];
                    let payment = match rng.below(3) {
                        0 => PaymentParam::Unpaid,
                        1 => PaymentParam::Method(cash),
                        _ => PaymentParam::Method(card),
                    };
                    let mut input = SaleInput::new(entries, payment);
                    input.payment_amount = amount.filter(|a| *a != Money::ZERO);
                    step(&store, &shop, move |c, s| {
                        sales::record_sale(c, s, &input).map(|_| ())
                    })
                    .await;
                    None
                }
                // A payment on an order.
                1 if !originals.is_empty() => {
                    let (id, m) = (
                        pick(&mut rng, &originals),
                        [cash, card][rng.below(2) as usize],
                    );
                    step(&store, &shop, move |c, s| {
                        sales::add_payment(c, s, id, m, amount).map(|_| ())
                    })
                    .await
                    .then_some(id)
                }
                // A refund: whole or one unit of line 1, paid out in full, in part or not.
                2 if !originals.is_empty() => {
                    let id = pick(&mut rng, &originals);
                    let lines = if rng.below(2) == 0 {
                        Vec::new()
                    } else {
                        vec![(1, Some(Quantity::ONE))]
                    };
                    step(&store, &shop, move |c, s| {
                        sales::refund_order_paying(c, s, id, refund, &lines, amount).map(|_| ())
                    })
                    .await;
                    None
                }
                // A further payout on a refund.
                _ if !refunds.is_empty() => {
                    let id = pick(&mut rng, &refunds);
                    step(&store, &shop, move |c, s| {
                        sales::add_payment(c, s, id, refund, amount).map(|_| ())
                    })
                    .await;
                    None
                }
                _ => None,
            };
            for (id, (owed, received, paid_out)) in balances(&store, shop_id).await {
                assert!(
                    paid_out <= received,
                    "{}: order {id} paid out {paid_out} of {received} received",
                    db.backend
                );
                if paid_on == Some(id) {
                    assert!(
                        received - paid_out <= owed,
                        "{}: order {id} holds {} for {owed} owed",
                        db.backend,
                        received - paid_out
                    );
                }
            }
            let zero = ids(
                &store,
                shop_id,
                "select id from payments where shop_id = $1 and amount = 0",
            )
            .await;
            assert!(zero.is_empty(), "{}: payments of 0.00 {zero:?}", db.backend);
        }
        let refunds = ids(
            &store,
            shop_id,
            "select id from orders where shop_id = $1 and is_refund",
        )
        .await;
        assert!(
            !refunds.is_empty(),
            "{}: the sequence made no refund",
            db.backend
        );
    }
}
