//! Building a checked sale from parsed `itemsList[]` lines and the shop's catalog: unit
//! prices, line totals, the VAT breakdown, the refund sign, and the payment rules.

pub use crate::error::{ErrorCode, SaleError};
use crate::items_list::{self, LIST_FIELD, LineSpec};
use crate::money::{Currency, Money};
pub use crate::payment::{
    Payment, PaymentParam, SaleStatus, Settlement, parse_payment_amount, settle,
};
use crate::quantity::Quantity;
use crate::vat::VatRate;

pub use crate::sale_catalog::{
    CatalogDepartment, CatalogItem, CatalogLookup, CatalogVariation, MemoryCatalog, ReferencedIds,
    referenced_ids,
};
pub use crate::vat_breakdown::{OrderTotals, VatLine, vat_breakdown};

/// `unit × quantity`, rounded half away from zero to the minor unit; `None` on overflow:
/// [`Quantity::times`], under the name the sale rules use.
pub fn line_total(quantity: Quantity, unit_price: Money) -> Option<Money> {
    quantity.times(unit_price)
}

/// The VAT-inclusive unit price of a price that excludes VAT: the price plus
/// `price × rate / 100` rounded once, half away from zero. `None` on overflow.
pub fn inclusive_unit_price(unit_excl: Money, rate: VatRate) -> Option<Money> {
    unit_excl.checked_add(rate.vat_on_exclusive(unit_excl)?)
}

/// One line of a new order, VAT included; built only through [`OrderLine::new`], so its
/// total is always `unit_price × quantity` rounded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderLine {
    item_id: Option<i64>,
    department_id: Option<i64>,
    title: String,
    quantity: Quantity,
    unit_price: Money,
    total: Money,
    vat_rate: VatRate,
    variations: Vec<i64>,
}

impl OrderLine {
    /// A line with its total computed; `None` when the total overflows.
    pub fn new(
        item_id: Option<i64>,
        department_id: Option<i64>,
        title: String,
        quantity: Quantity,
        unit_price: Money,
        vat_rate: VatRate,
        variations: Vec<i64>,
    ) -> Option<OrderLine> {
        let total = line_total(quantity, unit_price)?;
        Some(OrderLine {
            item_id,
            department_id,
            title,
            quantity,
            unit_price,
            total,
            vat_rate,
            variations,
        })
    }

    /// The catalog item, `None` for a free line.
    pub fn item_id(&self) -> Option<i64> {
        self.item_id
    }

    /// The item's department, or the department of a `-DEPT_…` line.
    pub fn department_id(&self) -> Option<i64> {
        self.department_id
    }

    /// The custom title, else the catalog item's or department's name.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Negative for a returned item.
    pub fn quantity(&self) -> Quantity {
        self.quantity
    }

    /// VAT included, variations' price changes included.
    pub fn unit_price(&self) -> Money {
        self.unit_price
    }

    /// `unit_price × quantity`, rounded half away from zero; VAT included.
    pub fn total(&self) -> Money {
        self.total
    }

    /// The item's rate, the department's, or the shop's default for a `Free_…` line.
    pub fn vat_rate(&self) -> VatRate {
        self.vat_rate
    }

    /// Variation ids, in the order sent.
    pub fn variations(&self) -> &[i64] {
        &self.variations
    }

    /// The same line with the opposite quantity: its total is exactly the opposite.
    pub fn negated(&self) -> Option<OrderLine> {
        OrderLine::new(
            self.item_id,
            self.department_id,
            self.title.clone(),
            self.quantity.neg(),
            self.unit_price,
            self.vat_rate,
            self.variations.clone(),
        )
    }
}

/// The checked lines and totals of a new order: between 1 and 500 lines, every amount
/// computed here, never overflowing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrderLines {
    lines: Vec<OrderLine>,
    totals: OrderTotals,
}

impl NewOrderLines {
    /// Checks the line count and computes the totals (`invalid_amount` on overflow).
    pub fn from_lines(lines: Vec<OrderLine>) -> Result<NewOrderLines, SaleError> {
        items_list::check_count(lines.len())?;
        let totals = OrderTotals::of(&lines).ok_or_else(|| {
            SaleError::new(
                ErrorCode::InvalidAmount,
                LIST_FIELD,
                "the order total is too large",
            )
        })?;
        Ok(NewOrderLines { lines, totals })
    }

    /// The lines, in the order sent.
    pub fn lines(&self) -> &[OrderLine] {
        &self.lines
    }

    /// The lines, for storing.
    pub fn into_lines(self) -> Vec<OrderLine> {
        self.lines
    }

    /// Total, VAT and the per-rate breakdown.
    pub fn totals(&self) -> &OrderTotals {
        &self.totals
    }

    /// VAT included (`price`).
    pub fn total(&self) -> Money {
        self.totals.total
    }

    /// `VAT`.
    pub fn vat(&self) -> Money {
        self.totals.vat
    }

    /// `VATs`, highest rate first.
    pub fn vats(&self) -> &[VatLine] {
        &self.totals.vats
    }

    /// True when the total is negative (`isRefund`).
    pub fn is_refund(&self) -> bool {
        self.totals.is_refund()
    }

    /// Every quantity negated: every line total, VAT amount, base and the total are
    /// exactly negated (the rounding is symmetric). A refund of a whole sale.
    pub fn negated(&self) -> Result<NewOrderLines, SaleError> {
        let mut lines = Vec::with_capacity(self.lines.len());
        for (index, line) in self.lines.iter().enumerate() {
            lines.push(line.negated().ok_or_else(|| too_large(index))?);
        }
        NewOrderLines::from_lines(lines)
    }
}

fn too_large(index: usize) -> SaleError {
    SaleError::line(
        ErrorCode::InvalidAmount,
        index,
        "the amounts of this line are too large",
    )
}

/// Builds the order lines of parsed specs (indices are positions in `specs`), reporting
/// every unknown item, variation or department and every overflow.
///
/// Unit price of a catalog line: the custom PRICE if sent (taken as the final unit price:
/// variations' price changes are not added to it), else the catalog price plus the price
/// changes of its variations. Free lines have quantity 1. When the shop's prices exclude
/// VAT, that unit price (custom, catalog or free-line) is taken as excluding VAT and made
/// inclusive with [`inclusive_unit_price`] before the line total is computed.
pub fn build_lines<C: CatalogLookup + ?Sized>(
    specs: &[LineSpec],
    catalog: &C,
) -> Result<NewOrderLines, Vec<SaleError>> {
    items_list::check_count(specs.len()).map_err(|e| vec![e])?;
    let mut lines = Vec::with_capacity(specs.len());
    let mut errors = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        match build_line(index, spec, catalog) {
            Ok(line) => lines.push(line),
            Err(mut e) => errors.append(&mut e),
        }
    }
    finish(lines, errors)
}

/// Parses `itemsList[]` entries and builds their lines in one pass, so that malformed
/// entries and catalog errors of the other entries are all reported together.
pub fn build_from_entries<S: AsRef<str>, C: CatalogLookup + ?Sized>(
    entries: &[S],
    currency: Currency,
    catalog: &C,
) -> Result<NewOrderLines, Vec<SaleError>> {
    items_list::check_count(entries.len()).map_err(|e| vec![e])?;
    let mut lines = Vec::with_capacity(entries.len());
    let mut errors = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let built = items_list::parse_entry(index, entry.as_ref(), currency)
            .map_err(|e| vec![e])
            .and_then(|spec| build_line(index, &spec, catalog));
        match built {
            Ok(line) => lines.push(line),
            Err(mut e) => errors.append(&mut e),
        }
    }
    finish(lines, errors)
}

fn finish(lines: Vec<OrderLine>, errors: Vec<SaleError>) -> Result<NewOrderLines, Vec<SaleError>> {
    if !errors.is_empty() {
        return Err(errors);
    }
    NewOrderLines::from_lines(lines).map_err(|e| vec![e])
}

fn build_line<C: CatalogLookup + ?Sized>(
    index: usize,
    spec: &LineSpec,
    catalog: &C,
) -> Result<OrderLine, Vec<SaleError>> {
    let (item_id, department_id, title, quantity, unit, rate, variations) = match spec {
        LineSpec::Item {
            item_id,
            quantity,
            title,
            unit_price,
            variations,
        } => {
            let id = *item_id;
            let mut errors = Vec::new();
            let item = catalog.item(id);
            match item {
                None => errors.push(SaleError::line(
                    ErrorCode::UnknownItem,
                    index,
                    format_args!("item {id} does not exist in this shop"),
                )),
                Some(i) if !i.active => errors.push(SaleError::line(
                    ErrorCode::UnknownItem,
                    index,
                    format_args!("item {id} is inactive in this shop and cannot be sold"),
                )),
                Some(_) => {}
            }
            let mut change = Some(Money::ZERO);
            for &v in variations {
                match catalog.variation(v) {
                    None => errors.push(SaleError::line(
                        ErrorCode::UnknownVariation,
                        index,
                        format_args!("variation {v} does not exist in this shop"),
                    )),
                    Some(var) if var.item_id != id => errors.push(SaleError::line(
                        ErrorCode::UnknownVariation,
                        index,
                        format_args!(
                            "variation {v} belongs to item {}, not to item {id}",
                            var.item_id
                        ),
                    )),
                    Some(var) => change = change.and_then(|c| c.checked_add(var.price_change)),
                }
            }
            let Some(item) = item.filter(|_| errors.is_empty()) else {
                return Err(errors);
            };
            let unit = match unit_price {
                Some(custom) => Some(*custom),
                None => change.and_then(|c| item.unit_price.checked_add(c)),
            };
            let title = title.clone().unwrap_or_else(|| item.name.clone());
            (
                Some(id),
                item.department_id,
                title,
                *quantity,
                unit,
                item.vat_rate,
                variations.clone(),
            )
        }
        LineSpec::Department {
            department_id,
            unit_price,
            title,
        } => {
            let id = *department_id;
            let Some(dept) = catalog.department(id) else {
                return Err(vec![SaleError::line(
                    ErrorCode::UnknownDepartment,
                    index,
                    format_args!("department {id} does not exist in this shop"),
                )]);
            };
            let title = title.clone().unwrap_or_else(|| dept.name.clone());
            (
                None,
                Some(id),
                title,
                Quantity::ONE,
                Some(*unit_price),
                dept.vat_rate,
                Vec::new(),
            )
        }
        LineSpec::Free { unit_price, title } => (
            None,
            None,
            title.clone(),
            Quantity::ONE,
            Some(*unit_price),
            catalog.default_vat_rate(),
            Vec::new(),
        ),
    };
    let unit = if catalog.prices_include_vat() {
        unit
    } else {
        unit.and_then(|u| inclusive_unit_price(u, rate))
    };
    unit.and_then(|u| OrderLine::new(item_id, department_id, title, quantity, u, rate, variations))
        .ok_or_else(|| vec![too_large(index)])
}

/// Makes an order paid with a payment method of kind *refund* negative: when every
/// quantity is positive, every quantity is negated (the exact negation of the sale); an
/// order that already has negative quantities is left as sent. Then the total must not
/// be positive, else `invalid_amount` on `payment`.
pub fn apply_refund_method(order: NewOrderLines) -> Result<NewOrderLines, SaleError> {
    let order = if order.lines.iter().all(|l| !l.quantity.is_negative()) {
        order.negated()?
    } else {
        order
    };
    if order.total() > Money::ZERO {
        return Err(SaleError::new(
            ErrorCode::InvalidAmount,
            "payment",
            "a refund payment method needs an order whose total is negative or zero, \
             and this order's total is positive",
        ));
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::div_round_half_away;
    use proptest::prelude::*;

    const EUR: Currency = Currency::EUR;

    fn m(minor: i64) -> Money {
        Money::from_minor(minor)
    }

    fn rate(text: &str) -> VatRate {
        VatRate::parse(text).unwrap()
    }

    fn shop(include_vat: bool) -> MemoryCatalog {
        let mut c = MemoryCatalog::new(rate("20"), include_vat);
        let mut item = |id, name: &str, price, dept, vat: &str, active| {
            c.items.insert(
                id,
                CatalogItem {
                    name: name.into(),
                    unit_price: m(price),
                    department_id: dept,
                    vat_rate: rate(vat),
                    active,
                },
            );
        };
        item(12, "Pizza", 1470, Some(3), "20", true);
        item(13, "Bread", 110, Some(4), "5.5", true);
        item(14, "Old menu", 990, None, "10", false);
        item(15, "Wine", 1000, Some(5), "20", true);
        c.variations.insert(
            3,
            CatalogVariation {
                item_id: 12,
                name: "Large".into(),
                price_change: m(250),
            },
        );
        c.variations.insert(
            8,
            CatalogVariation {
                item_id: 12,
                name: "No cheese".into(),
                price_change: m(-50),
            },
        );
        c.variations.insert(
            9,
            CatalogVariation {
                item_id: 13,
                name: "Sliced".into(),
                price_change: m(10),
            },
        );
        c.departments.insert(
            3,
            CatalogDepartment {
                name: "Kitchen".into(),
                vat_rate: rate("10"),
            },
        );
        c
    }

    fn build(entries: &[&str]) -> Result<NewOrderLines, Vec<SaleError>> {
        build_from_entries(entries, EUR, &shop(true))
    }

    fn codes(errors: &[SaleError]) -> Vec<(&str, &str)> {
        errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect()
    }

    #[test]
    fn the_spec_example_breakdown() {
        let order = build(&["12_2"]).unwrap();
        assert_eq!(order.total(), m(2940));
        assert_eq!(order.vat(), m(490));
        assert_eq!(
            order.vats(),
            [VatLine {
                rate: rate("20"),
                base: m(2450),
                amount: m(490),
                total: m(2940)
            }]
        );
        assert!(!order.is_refund());
        let line = &order.lines()[0];
        assert_eq!(line.item_id(), Some(12));
        assert_eq!(line.department_id(), Some(3));
        assert_eq!(line.title(), "Pizza");
        assert_eq!(line.unit_price(), m(1470));
        assert_eq!(line.total(), m(2940));
        assert_eq!(line.quantity(), Quantity::parse("2").unwrap());
    }

    #[test]
    fn vat_is_computed_once_per_rate_and_sorted_by_rate_descending() {
        // Three breads at 1.10 (5.5 %): per line VAT would be 3 × 0.06 = 0.18, on the sum
        // 3.30 × 5.5 / 105.5 = 0.172 → 0.17.
        let order = build(&["13", "13", "13", "-3_5_Dessert", "12"]).unwrap();
        let rates: Vec<String> = order.vats().iter().map(|v| v.rate.to_string()).collect();
        assert_eq!(rates, ["20.0", "10.0", "5.5"]);
        let bread = order.vats()[2];
        assert_eq!(
            (bread.total, bread.amount, bread.base),
            (m(330), m(17), m(313))
        );
        let kitchen = order.vats()[1];
        assert_eq!(
            (kitchen.total, kitchen.amount, kitchen.base),
            (m(500), m(45), m(455))
        );
        assert_eq!(order.total(), m(330 + 500 + 1470));
        assert_eq!(order.vat(), m(17 + 45 + 245));
    }

    #[test]
    fn weighed_goods_round_half_away_from_zero() {
        // 0.350 × 12.99 = 4.5465 → 4.55
        let mut c = shop(true);
        c.items.get_mut(&13).unwrap().unit_price = m(1299);
        let order = build_from_entries(&["13_0.350", "13_-0.350"], EUR, &c).unwrap();
        assert_eq!(order.lines()[0].total(), m(455));
        assert_eq!(order.lines()[1].total(), m(-455));
        assert_eq!(order.total(), Money::ZERO);
        assert!(!order.is_refund());
    }

    #[test]
    fn variations_change_the_catalog_price_but_not_a_custom_one() {
        let order = build(&["12_1__ _3_8", "12_1_Big one_20_3"]).unwrap();
        assert_eq!(order.lines()[0].unit_price(), m(1470 + 250 - 50));
        assert_eq!(order.lines()[0].variations(), [3, 8]);
        assert_eq!(order.lines()[0].title(), "Pizza");
        assert_eq!(order.lines()[1].unit_price(), m(2000));
        assert_eq!(order.lines()[1].title(), "Big one");
        assert_eq!(order.lines()[1].variations(), [3]);
    }

    #[test]
    fn free_lines_take_their_rate_and_title_from_department_or_shop() {
        let order = build(&["-3_4.50", "-3_4.50_Extra_cheese", "Free_2_Gift_wrap"]).unwrap();
        let l = order.lines();
        assert_eq!(
            (l[0].title(), l[0].department_id(), l[0].item_id()),
            ("Kitchen", Some(3), None)
        );
        assert_eq!(l[0].vat_rate(), rate("10"));
        assert_eq!(l[1].title(), "Extra_cheese");
        assert_eq!((l[2].title(), l[2].department_id()), ("Gift_wrap", None));
        assert_eq!(l[2].vat_rate(), rate("20"));
        assert!(l.iter().all(|x| x.quantity() == Quantity::ONE));
    }

    #[test]
    fn prices_excluding_vat_are_made_inclusive_once_per_unit() {
        let c = shop(false);
        // 14.70 excl. at 20 % → 17.64 incl.; 1.10 excl. at 5.5 % → 1.10 + 0.0605 → 1.16.
        let order = build_from_entries(&["12_2", "13_3", "Free_10_X", "12_1__1"], EUR, &c).unwrap();
        let units: Vec<Money> = order.lines().iter().map(OrderLine::unit_price).collect();
        assert_eq!(units, [m(1764), m(116), m(1200), m(120)]);
        assert_eq!(order.lines()[1].total(), m(348));
        assert_eq!(inclusive_unit_price(m(-110), rate("5.5")), Some(m(-116)));
        assert_eq!(inclusive_unit_price(m(i64::MAX), rate("20")), None);
    }

    #[test]
    fn catalog_errors_name_the_line_and_use_the_spec_codes() {
        let errors = build(&[
            "12",
            "999",
            "14",
            "12_1___77",
            "13_1___3",
            "-42_1_X",
            "12_0",
        ])
        .unwrap_err();
        assert_eq!(
            codes(&errors),
            [
                ("itemsList[1]", "unknown_item"),
                ("itemsList[2]", "unknown_item"),
                ("itemsList[3]", "unknown_variation"),
                ("itemsList[4]", "unknown_variation"),
                ("itemsList[5]", "unknown_department"),
                ("itemsList[6]", "invalid_parameter"),
            ]
        );
        assert_eq!(
            errors[0].message,
            "itemsList[1]: item 999 does not exist in this shop"
        );
        assert_eq!(
            errors[1].message,
            "itemsList[2]: item 14 is inactive in this shop and cannot be sold"
        );
        assert_eq!(
            errors[2].message,
            "itemsList[3]: variation 77 does not exist in this shop"
        );
        assert_eq!(
            errors[3].message,
            "itemsList[4]: variation 3 belongs to item 12, not to item 13"
        );
        assert_eq!(
            errors[4].message,
            "itemsList[5]: department 42 does not exist in this shop"
        );
    }

    #[test]
    fn one_line_can_have_several_errors() {
        let errors = build(&["999_1___3_77"]).unwrap_err();
        assert_eq!(
            codes(&errors),
            [
                ("itemsList[0]", "unknown_item"),
                ("itemsList[0]", "unknown_variation"),
                ("itemsList[0]", "unknown_variation"),
            ]
        );
    }

    #[test]
    fn build_lines_takes_parsed_specs() {
        let specs = items_list::parse_list(&["12_2", "Free_1_X"], EUR).unwrap();
        let order = build_lines(&specs, &shop(true)).unwrap();
        assert_eq!(order.total(), m(3040));
        let errors = build_lines(&[], &shop(true)).unwrap_err();
        assert_eq!(codes(&errors), [("itemsList[]", "missing_parameter")]);
        let many = vec![specs[1].clone(); 501];
        let errors = build_lines(&many, &shop(true)).unwrap_err();
        assert_eq!(codes(&errors), [("itemsList[]", "invalid_parameter")]);
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let mut c = shop(true);
        c.items.get_mut(&13).unwrap().unit_price = m(i64::MAX / 2);
        let errors = build_from_entries(&["13_100000"], EUR, &c).unwrap_err();
        assert_eq!(codes(&errors), [("itemsList[0]", "invalid_amount")]);
        // Variations pushing the price past i64.
        c.items.get_mut(&13).unwrap().unit_price = m(i64::MAX);
        let errors = build_from_entries(&["13_1___9"], EUR, &c).unwrap_err();
        assert_eq!(codes(&errors), [("itemsList[0]", "invalid_amount")]);
        // Each line fits, the sum does not.
        c.items.get_mut(&13).unwrap().unit_price = m(i64::MAX / 2 + 1);
        let errors = build_from_entries(&["13", "13"], EUR, &c).unwrap_err();
        assert_eq!(codes(&errors), [("itemsList[]", "invalid_amount")]);
        assert_eq!(
            line_total(Quantity::parse("100000").unwrap(), m(i64::MAX)),
            None
        );
    }

    #[test]
    fn refunds_are_negative_and_mixed_orders_follow_their_total() {
        let refund = build(&["12_-1"]).unwrap();
        assert!(refund.is_refund());
        assert_eq!(refund.vats()[0].amount, m(-245));
        let exchange = build(&["12_-1", "15_2"]).unwrap();
        assert!(!exchange.is_refund(), "a return and a bigger purchase");
        let exchange = build(&["12_-2", "15_1"]).unwrap();
        assert!(exchange.is_refund());
    }

    #[test]
    fn a_refund_method_negates_an_all_positive_order() {
        let sale = build(&["12_2", "13", "Free_-1_Discount"]).unwrap();
        let refund = apply_refund_method(sale.clone()).unwrap();
        assert_eq!(refund, sale.negated().unwrap());
        assert_eq!(refund.total(), -sale.total());
        assert!(refund.is_refund());
        // Already negative, or mixed with a negative total: left as sent.
        let mixed = build(&["12_-2", "15_1"]).unwrap();
        assert_eq!(apply_refund_method(mixed.clone()), Ok(mixed));
        // Mixed with a positive total cannot be a refund.
        let e = apply_refund_method(build(&["12_-1", "15_2"]).unwrap()).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code),
            ("payment", ErrorCode::InvalidAmount)
        );
        // Only a discount: negating makes it positive.
        let e = apply_refund_method(build(&["Free_-1_Discount"]).unwrap()).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidAmount);
    }

    #[test]
    fn referenced_ids_lists_what_to_load() {
        let specs =
            items_list::parse_list(&["12_1___3_8", "13", "-3_1", "Free_1_X", "12"], EUR).unwrap();
        let ids = referenced_ids(&specs);
        assert_eq!(ids.items.into_iter().collect::<Vec<_>>(), [12, 13]);
        assert_eq!(ids.variations.into_iter().collect::<Vec<_>>(), [3, 8]);
        assert_eq!(ids.departments.into_iter().collect::<Vec<_>>(), [3]);
    }

    fn arb_rate() -> impl Strategy<Value = VatRate> {
        prop_oneof![
            Just(0i64),
            Just(210),
            Just(550),
            Just(1000),
            Just(2000),
            0i64..10_000
        ]
        .prop_map(|h| VatRate::from_hundredths(h).unwrap())
    }

    fn arb_line() -> impl Strategy<Value = OrderLine> {
        (
            -100_000_000i64..=100_000_000,
            -1_000_000_000i64..=1_000_000_000,
            arb_rate(),
            proptest::option::of(1i64..1000),
        )
            .prop_filter_map("non-zero quantity", |(q, unit, rate, item)| {
                let quantity = Quantity::from_thousandths(q)?;
                OrderLine::new(item, None, "x".into(), quantity, m(unit), rate, Vec::new())
            })
    }

    fn arb_order() -> impl Strategy<Value = NewOrderLines> {
        proptest::collection::vec(arb_line(), 1..40)
            .prop_map(|lines| NewOrderLines::from_lines(lines).unwrap())
    }

    proptest! {
        #[test]
        fn line_totals_sum_to_the_order_total(order in arb_order()) {
            let sum: i128 = order.lines().iter().map(|l| i128::from(l.total().minor())).sum();
            prop_assert_eq!(sum, i128::from(order.total().minor()));
            let by_rate: Money = order.vats().iter().map(|v| v.total).sum();
            prop_assert_eq!(by_rate, order.total());
            let vat: Money = order.vats().iter().map(|v| v.amount).sum();
            prop_assert_eq!(vat, order.vat());
            prop_assert_eq!(order.is_refund(), order.total() < Money::ZERO);
        }

        #[test]
        fn vat_per_rate_is_the_rule_on_that_rates_sum(order in arb_order()) {
            let mut previous: Option<VatRate> = None;
            for v in order.vats() {
                let sum: Money = order
                    .lines()
                    .iter()
                    .filter(|l| l.vat_rate() == v.rate)
                    .map(OrderLine::total)
                    .sum();
                prop_assert_eq!(v.total, sum);
                let expected = div_round_half_away(
                    i128::from(sum.minor()) * i128::from(v.rate.hundredths()),
                    10_000 + i128::from(v.rate.hundredths()),
                ).unwrap();
                prop_assert_eq!(i128::from(v.amount.minor()), expected);
                prop_assert_eq!(v.base + v.amount, v.total);
                if let Some(p) = previous {
                    prop_assert!(p > v.rate, "strictly descending rates");
                }
                previous = Some(v.rate);
            }
        }

        #[test]
        fn a_refund_is_the_exact_negation_of_its_sale(order in arb_order()) {
            let refund = order.negated().unwrap();
            prop_assert_eq!(refund.total(), -order.total());
            prop_assert_eq!(refund.vat(), -order.vat());
            for (a, b) in order.lines().iter().zip(refund.lines()) {
                prop_assert_eq!(b.total(), -a.total());
                prop_assert_eq!(b.quantity(), a.quantity().neg());
                prop_assert_eq!(b.unit_price(), a.unit_price());
            }
            prop_assert_eq!(order.vats().len(), refund.vats().len());
            for (a, b) in order.vats().iter().zip(refund.vats()) {
                prop_assert_eq!(b.rate, a.rate);
                prop_assert_eq!(b.base, -a.base);
                prop_assert_eq!(b.amount, -a.amount);
                prop_assert_eq!(b.total, -a.total);
            }
            prop_assert_eq!(refund.negated().unwrap(), order);
        }

        #[test]
        fn line_total_agrees_with_quantity_times(
            q in -100_000_000i64..=100_000_000,
            unit in -1_000_000_000i64..=1_000_000_000,
        ) {
            if let Some(quantity) = Quantity::from_thousandths(q) {
                prop_assert_eq!(line_total(quantity, m(unit)), quantity.times(m(unit)));
            }
        }

        #[test]
        fn building_never_panics(
            entries in proptest::collection::vec("[-_0-9.,a-zA-Z]{0,16}", 0..8),
        ) {
            for include in [true, false] {
                let c = shop(include);
                if let Ok(order) = build_from_entries(&entries, EUR, &c) {
                    prop_assert_eq!(order.lines().len(), entries.len());
                }
            }
        }
    }
}
