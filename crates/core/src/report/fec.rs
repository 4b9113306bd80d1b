//! The FEC's accounting rules (LPF art. A47 A-1): the accounts and journal of a shop, and
//! the one balanced entry each order makes (payments debited, sales and VAT credited).

use super::SaleRow;
use crate::money::Money;
use crate::vat::VatRate;
use std::collections::BTreeMap;

/// The settings a shop can change, with the spec's defaults: `(key, default, label)`.
/// Sales and VAT accounts of other rates fall back to `sales.other` and `vat.other`.
pub const DEFAULTS: &[(&str, &str, &str)] = &[
    ("journal.code", "VE", "Journal code"),
    ("journal.label", "Ventes", "Journal label"),
    ("payment.cash", "530000", "Caisse"),
    ("payment.card", "511200", "Cartes bancaires"),
    ("payment.cheque", "511100", "Chèques"),
    ("payment.voucher", "511300", "Titres-restaurant"),
    ("payment.other", "511000", "Autres règlements"),
    ("client", "411000", "Clients"),
    ("sales.20", "707100", "Ventes TVA 20 %"),
    ("sales.10", "707200", "Ventes TVA 10 %"),
    ("sales.5.5", "707300", "Ventes TVA 5,5 %"),
    ("sales.2.1", "707400", "Ventes TVA 2,1 %"),
    ("sales.0", "707000", "Ventes non soumises à TVA"),
    ("sales.other", "707000", "Ventes autres taux"),
    ("vat.20", "445711", "TVA collectée 20 %"),
    ("vat.10", "445712", "TVA collectée 10 %"),
    ("vat.5.5", "445713", "TVA collectée 5,5 %"),
    ("vat.2.1", "445714", "TVA collectée 2,1 %"),
    ("vat.other", "445710", "TVA collectée autres taux"),
];

/// Checks a setting: a known key, and an account of 3 to 20 digits or letters (the
/// journal code: 1 to 10; its label: 1 to 60 printable characters).
pub fn check_setting(key: &str, value: &str) -> Result<(), String> {
    let known = DEFAULTS.iter().any(|(k, _, _)| *k == key)
        || key
            .strip_prefix("sales.")
            .or_else(|| key.strip_prefix("vat."))
            .is_some_and(|r| VatRate::parse(r).is_ok());
    if !known {
        let keys: Vec<&str> = DEFAULTS.iter().map(|(k, _, _)| *k).collect();
        return Err(format!(
            "unknown setting {key:?}; expected one of {} or sales.RATE / vat.RATE",
            keys.join(", ")
        ));
    }
    let ok = match key {
        "journal.label" => {
            (1..=60).contains(&value.chars().count()) && !value.chars().any(char::is_control)
        }
        "journal.code" => {
            (1..=10).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        _ => (3..=20).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric()),
    };
    if ok {
        Ok(())
    } else if key.starts_with("journal.") {
        Err(format!(
            "{key}: expected 1 to 10 letters or digits (label: 1 to 60 characters), got {value:?}"
        ))
    } else {
        Err(format!(
            "{key}: expected an account of 3 to 20 letters or digits, got {value:?}"
        ))
    }
}

/// A shop's FEC settings: the defaults overlaid with what the shop set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FecSettings {
    values: BTreeMap<String, String>,
}

impl FecSettings {
    /// The defaults with the shop's `(key, value)` settings over them.
    pub fn new(set: impl IntoIterator<Item = (String, String)>) -> FecSettings {
        let mut values: BTreeMap<String, String> = DEFAULTS
            .iter()
            .map(|(k, v, _)| (k.to_string(), v.to_string()))
            .collect();
        values.extend(set);
        FecSettings { values }
    }

    /// Every setting, defaults included, by key.
    pub fn all(&self) -> &BTreeMap<String, String> {
        &self.values
    }

    fn get(&self, key: &str) -> &str {
        self.values.get(key).map_or("", String::as_str)
    }

    pub fn journal_code(&self) -> &str {
        self.get("journal.code")
    }

    pub fn journal_label(&self) -> &str {
        self.get("journal.label")
    }

    /// The account and its label for a payment method's kind.
    fn payment(&self, kind: &str) -> (String, String) {
        let key = match kind {
            "cash" => "payment.cash",
            "card" => "payment.card",
            "cheque" => "payment.cheque",
            "voucher" => "payment.voucher",
            _ => "payment.other",
        };
        (self.get(key).to_string(), label(key))
    }

    /// `sales` or `vat` account of a rate, with its label.
    fn by_rate(&self, prefix: &str, rate: VatRate) -> (String, String) {
        let r = super::Rate(rate).text();
        let r = r.strip_suffix(".0").unwrap_or(&r);
        let key = format!("{prefix}.{r}");
        match self.values.get(&key) {
            Some(a) => {
                let l = if DEFAULTS.iter().any(|(k, _, _)| *k == key) {
                    label(&key)
                } else {
                    format!("{} {r} %", label(&format!("{prefix}.other")))
                };
                (a.clone(), l)
            }
            None => {
                let other = format!("{prefix}.other");
                (
                    self.get(&other).to_string(),
                    format!("{} {r} %", label(&other)),
                )
            }
        }
    }
}

fn label(key: &str) -> String {
    DEFAULTS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map_or(String::new(), |(_, _, l)| l.to_string())
}

/// One line of an entry: an account debited or credited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Movement {
    pub account: String,
    pub label: String,
    /// `CompAuxNum`/`CompAuxLib`: the client, on the client account.
    pub aux: Option<(String, String)>,
    pub debit: Money,
    pub credit: Money,
}

/// A signed amount on its natural side: debit when `debit_side` and positive; a negative
/// amount (a refund, a returned line) moves to the other side.
fn movement(account: (String, String), signed: Money, debit_side: bool) -> Option<Movement> {
    if signed == Money::ZERO {
        return None;
    }
    let debit = debit_side != signed.is_negative();
    let a = signed.abs();
    Some(Movement {
        account: account.0,
        label: account.1,
        aux: None,
        debit: if debit { a } else { Money::ZERO },
        credit: if debit { Money::ZERO } else { a },
    })
}

/// The entry of one order: payments kept (change given is not a movement: it comes off
/// the cash payments, or the last payment when none is cash), the unpaid part on the
/// client account, sales by rate (base) and VAT by rate. Balanced by construction: both
/// sides sum to the order's total. A refund's amounts are negative, so its sides swap.
pub fn entry(sale: &SaleRow, s: &FecSettings) -> Vec<Movement> {
    let mut out = Vec::new();
    let mut kept: Vec<(String, String, Money)> = Vec::new();
    let mut change = sale.change;
    let has_cash = sale.payments.iter().any(|p| p.kind == "cash");
    let last = sale.payments.len().saturating_sub(1);
    for (i, p) in sale.payments.iter().enumerate() {
        let mut amount = p.amount;
        if change != Money::ZERO && ((has_cash && p.kind == "cash") || (!has_cash && i == last)) {
            // Take the change off this payment, no further than zero.
            let take = if amount.abs() < change.abs() {
                amount
            } else {
                change
            };
            amount = amount - take;
            change = change - take;
        }
        let (acc, lib) = s.payment(&p.kind);
        match kept.iter_mut().find(|(a, _, _)| *a == acc) {
            Some(k) => k.2 = k.2 + amount,
            None => kept.push((acc, lib, amount)),
        }
    }
    let mut paid = Money::ZERO;
    for (acc, lib, amount) in kept {
        paid = paid + amount;
        out.extend(movement((acc, lib), amount, true));
    }
    let unpaid = sale.total - paid;
    if let Some(mut m) = movement((s.get("client").to_string(), label("client")), unpaid, true) {
        m.aux = sale
            .client_id
            .map(|c| (c.to_string(), format!("Client {c}")));
        out.push(m);
    }
    let vats = sale.vat_lines();
    for (rate, base, _, _) in &vats {
        out.extend(movement(s.by_rate("sales", rate.0), *base, false));
    }
    for (rate, _, vat, _) in &vats {
        out.extend(movement(s.by_rate("vat", rate.0), *vat, false));
    }
    out
}

/// `Sale N` / `Refund N` (N the order number, or the internal id of an unnumbered order).
pub fn entry_label(sale: &SaleRow) -> String {
    let n = sale.number.unwrap_or(sale.id);
    if sale.is_refund {
        format!("Refund {n}")
    } else {
        format!("Sale {n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::SalePayment;

    fn rate(t: &str) -> VatRate {
        VatRate::parse(t).unwrap()
    }

    fn sale(total: i64, paid: &[(&str, i64)], change: i64, rates: &[(&str, i64)]) -> SaleRow {
        SaleRow {
            id: 7,
            number: Some(3),
            is_refund: total < 0,
            value_date: 0,
            validated_at: None,
            user_id: 1,
            user_name: "U".into(),
            cash_box_id: 1,
            cash_box_name: "B".into(),
            client_id: Some(42),
            delivery_method: 4,
            total: Money::from_minor(total),
            vat: Money::ZERO,
            paid: Money::from_minor(paid.iter().map(|p| p.1).sum()),
            change: Money::from_minor(change),
            seal: None,
            payments: paid
                .iter()
                .map(|(k, a)| SalePayment {
                    method_id: 1,
                    name: k.to_string(),
                    kind: k.to_string(),
                    amount: Money::from_minor(*a),
                })
                .collect(),
            rate_totals: rates
                .iter()
                .map(|(r, t)| (rate(r), Money::from_minor(*t)))
                .collect(),
        }
    }

    fn sides(m: &[Movement]) -> (i64, i64) {
        (
            m.iter().map(|x| x.debit.minor()).sum(),
            m.iter().map(|x| x.credit.minor()).sum(),
        )
    }

    #[test]
    fn cash_with_change_balances_and_keeps_only_what_stays() {
        let s = FecSettings::new([]);
        // 29.40 paid with 30.00 cash: 0.60 change.
        let e = entry(
            &sale(2940, &[("cash", 3000)], 60, &[("10", 1960), ("20", 980)]),
            &s,
        );
        assert_eq!(sides(&e), (2940, 2940));
        assert_eq!(e[0].account, "530000");
        assert_eq!(e[0].debit.minor(), 2940);
        assert!(
            e.iter()
                .any(|m| m.account == "707200" && m.credit.minor() == 1782)
        );
        assert!(
            e.iter()
                .any(|m| m.account == "445712" && m.credit.minor() == 178)
        );
    }

    #[test]
    fn refunds_swap_sides_and_unpaid_goes_to_the_client() {
        let s = FecSettings::new([("payment.card".into(), "512000".into())]);
        let e = entry(&sale(-1200, &[("card", -1200)], 0, &[("20", -1200)]), &s);
        assert_eq!(sides(&e), (1200, 1200));
        assert_eq!(e[0].account, "512000");
        assert_eq!(e[0].credit.minor(), 1200);
        let e = entry(&sale(1000, &[("card", 400)], 0, &[("5.5", 1000)]), &s);
        assert_eq!(sides(&e), (1000, 1000));
        let client = e.iter().find(|m| m.account == "411000").unwrap();
        assert_eq!(client.debit.minor(), 600);
        assert_eq!(client.aux.as_ref().unwrap().0, "42");
    }

    #[test]
    fn settings_are_checked() {
        assert!(check_setting("payment.cash", "531000").is_ok());
        assert!(check_setting("sales.8.5", "707500").is_ok());
        assert!(check_setting("payment.bitcoin", "531000").is_err());
        assert!(check_setting("client", "41 1").is_err());
        assert!(check_setting("journal.code", "VT").is_ok());
    }
}
