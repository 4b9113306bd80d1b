//! The order answer as it was written by hand before the serde view (`order_json`): kept,
//! for the tests only, as the oracle the serde view's bytes must equal.

use crate::json_text::{push_bool, push_escaped, push_i64, push_opt_i64, push_str, push_u64};
use crate::money::Money;
use crate::order::{OrderView, write_rfc3339};
use crate::quantity::Quantity;
use crate::vat::VatRate;

/// The most digits a fraction may have here (10^18 is the largest power of ten in an i64).
const MAX_FRACTION_DIGITS: u8 = 18;

/// Room for the decimal digits of any `u64`.
type DigitBuf = [u8; 20];

fn digits_of(mut n: u64, buf: &mut DigitBuf) -> usize {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return start;
        }
    }
}

fn push_ascii(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        out.push(char::from(b));
    }
}

fn push_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_str(out, s),
        None => out.push_str("null"),
    }
}

/// How many zeros at the end of a fraction are dropped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Trim {
    /// `1.80`: exactly the digits asked for ([`crate::money::format_scaled`]).
    None,
    /// `20.0`, `5.5`: trailing zeros dropped, one decimal kept
    /// ([`crate::money::format_scaled_trimmed`]).
    KeepOne,
    /// `2`, `0.35`: trailing zeros and a bare `.` dropped
    /// ([`Quantity::to_decimal_string`]).
    All,
}

/// `scaled / 10^digits` as a decimal, for `1 ≤ digits ≤ 18`.
fn push_decimal(out: &mut String, scaled: i64, digits: u8, trim: Trim) {
    debug_assert!((1..=MAX_FRACTION_DIGITS).contains(&digits));
    let p = 10u64.pow(u32::from(digits));
    let a = scaled.unsigned_abs();
    if scaled < 0 {
        out.push('-');
    }
    push_u64(out, a / p);
    let mut buf = DigitBuf::default();
    let end = buf.len();
    let mut start = digits_of(a % p, &mut buf);
    // Left-pad the fraction with zeros to `digits` places.
    let width = usize::from(digits);
    while end - start < width {
        start -= 1;
        buf[start] = b'0';
    }
    let mut last = end;
    if trim != Trim::None {
        while last > start && buf[last - 1] == b'0' {
            last -= 1;
        }
    }
    if last > start {
        out.push('.');
        push_ascii(out, &buf[start..last]);
    } else if trim == Trim::KeepOne {
        out.push_str(".0");
    }
}

/// An amount of minor units as the JSON number [`crate::catalog::money_json`] prints:
/// exactly `digits` decimals (`14.50`, `-0.05`, `7`).
fn push_money(out: &mut String, minor: i64, digits: u8) {
    match digits {
        0 => push_i64(out, minor),
        1..=MAX_FRACTION_DIGITS => push_decimal(out, minor, digits, Trim::None),
        // No currency has that many digits; print it the way the Value path does.
        _ => out.push_str(
            &crate::catalog::money_json(crate::money::Money::from_minor(minor), digits).to_string(),
        ),
    }
}

/// A VAT rate as the JSON number [`crate::catalog::rate_json`] prints (`20.0`, `5.5`).
fn push_rate(out: &mut String, r: VatRate) {
    push_decimal(out, r.hundredths(), 2, Trim::KeepOne);
}

/// A quantity as the JSON number of its shortest exact decimal (`2`, `0.35`, `-1.5`).
fn push_quantity(out: &mut String, q: Quantity) {
    push_decimal(out, q.thousandths(), 3, Trim::All);
}

pub(crate) fn to_json_string(
    o_: &OrderView,
    digits: u8,
    tz: &jiff::tz::TimeZone,
    base_url: &str,
) -> String {
    let this = o_;
    let vats = this.vats();
    let per_line: usize = this
        .lines
        .iter()
        .map(|l| 224 + l.title.len() + 21 * l.variations.len())
        .sum();
    let per_payment: usize = this.payments.iter().map(|p| 128 + p.name.len()).sum();
    let mut out = String::with_capacity(
        768 + per_line
            + per_payment
            + 112 * vats.len()
            + base_url.len()
            + this.invoice_token.len()
            + this.public_comment.len()
            + this.private_comment.len()
            + this.pager_num.as_ref().map_or(0, String::len)
            + this.seal.as_ref().map_or(0, String::len),
    );
    let o = &mut out;
    let m = |o: &mut String, x: Money| push_money(o, x.minor(), digits);
    let t = |o: &mut String, micros: i64| {
        o.push('"');
        let _ = write_rfc3339(o, micros, tz);
        o.push('"');
    };
    let ot = |o: &mut String, micros: Option<i64>| match micros {
        Some(at) => t(o, at),
        None => o.push_str("null"),
    };
    // The link of `invoice_url`, escaped piece by piece.
    o.push_str("{\"PDFinvoice\":\"");
    push_escaped(o, base_url);
    o.push_str("/invoices/");
    push_escaped(o, &this.invoice_token);
    o.push_str(".pdf\",\"VAT\":");
    m(o, this.vat);
    o.push_str(",\"VATs\":[");
    for (i, v) in vats.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push_str("{\"amount\":");
        m(o, v.amount);
        o.push_str(",\"base\":");
        m(o, v.base);
        o.push_str(",\"rate\":");
        push_rate(o, v.rate);
        o.push_str(",\"total\":");
        m(o, v.total);
        o.push('}');
    }
    o.push_str("],\"cashBoxID\":");
    push_i64(o, this.cash_box_id);
    o.push_str(",\"change\":");
    m(o, this.change);
    o.push_str(",\"clientID\":");
    push_opt_i64(o, this.client_id);
    o.push_str(",\"covers\":");
    push_opt_i64(o, this.covers);
    o.push_str(",\"createdAt\":");
    t(o, this.created_at);
    o.push_str(",\"deliveryMethod\":");
    push_i64(o, this.delivery_method);
    o.push_str(",\"isRefund\":");
    push_bool(o, this.is_refund);
    o.push_str(",\"items\":[");
    for (i, l) in this.lines.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push_str("{\"departmentID\":");
        push_opt_i64(o, l.department_id);
        o.push_str(",\"itemID\":");
        push_opt_i64(o, l.item_id);
        o.push_str(",\"quantity\":");
        push_quantity(o, l.quantity);
        o.push_str(",\"title\":");
        push_str(o, &l.title);
        o.push_str(",\"total\":");
        m(o, l.total);
        o.push_str(",\"unitPrice\":");
        m(o, l.unit_price);
        o.push_str(",\"variations\":[");
        for (j, id) in l.variations.iter().enumerate() {
            if j > 0 {
                o.push(',');
            }
            push_i64(o, *id);
        }
        o.push_str("],\"vatRate\":");
        push_rate(o, l.vat_rate);
        o.push('}');
    }
    o.push_str("],\"orderID\":");
    push_opt_i64(o, this.number);
    o.push_str(",\"orderInternalID\":");
    push_i64(o, this.id);
    o.push_str(",\"pagerNum\":");
    push_opt_str(o, this.pager_num.as_deref());
    o.push_str(",\"paid\":");
    m(o, this.paid);
    o.push_str(",\"payments\":[");
    for (i, p) in this.payments.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push_str("{\"amount\":");
        m(o, p.amount);
        o.push_str(",\"at\":");
        t(o, p.at);
        o.push_str(",\"name\":");
        push_str(o, &p.name);
        o.push_str(",\"paymentMethodID\":");
        push_i64(o, p.payment_method_id);
        o.push('}');
    }
    o.push_str("],\"price\":");
    m(o, this.total);
    o.push_str(",\"privateComment\":");
    push_str(o, &this.private_comment);
    o.push_str(",\"publicComment\":");
    push_str(o, &this.public_comment);
    o.push_str(",\"refundOf\":");
    push_opt_i64(o, this.refund_of);
    o.push_str(",\"result\":\"OK\",\"seal\":");
    push_opt_str(o, this.seal.as_deref());
    o.push_str(",\"status\":");
    push_str(o, this.status.as_str());
    o.push_str(",\"tableID\":");
    push_opt_i64(o, this.table_id);
    o.push_str(",\"terminatedAt\":");
    ot(o, this.terminated_at);
    o.push_str(",\"userID\":");
    push_i64(o, this.user_id);
    o.push_str(",\"validatedAt\":");
    ot(o, this.validated_at);
    o.push_str(",\"valueDate\":");
    t(o, this.value_date);
    o.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{exact_number, money_json, rate_json};
    use crate::money::Money;
    use proptest::prelude::*;

    fn text(f: impl FnOnce(&mut String)) -> String {
        let mut s = String::new();
        f(&mut s);
        s
    }

    #[test]
    fn money_at_the_edges_prints_like_money_json() {
        for minor in [0, 5, -5, 100, -100, 1450, -1450, i64::MAX, i64::MIN] {
            for digits in 0..=MAX_FRACTION_DIGITS {
                assert_eq!(
                    text(|o| push_money(o, minor, digits)),
                    money_json(Money::from_minor(minor), digits).to_string(),
                    "{minor} with {digits} digits"
                );
            }
        }
    }

    #[test]
    fn rates_and_quantities_print_like_their_values() {
        for h in [0, 1, 10, 55, 100, 210, 550, 1000, 2000, 9999] {
            let r = VatRate::from_hundredths(h).unwrap();
            assert_eq!(text(|o| push_rate(o, r)), rate_json(r).to_string());
        }
        for t in [
            1,
            -1,
            10,
            350,
            -1500,
            1000,
            2000,
            100_000,
            100_000_000,
            -100_000_000,
        ] {
            let q = Quantity::from_thousandths(t).unwrap();
            assert_eq!(
                text(|o| push_quantity(o, q)),
                exact_number(q.to_decimal_string()).to_string()
            );
        }
    }

    proptest! {
        #[test]
        fn money_matches_money_json(minor in any::<i64>(), digits in 0u8..=6) {
            prop_assert_eq!(
                text(|o| push_money(o, minor, digits)),
                money_json(Money::from_minor(minor), digits).to_string()
            );
        }


        #[test]
        fn rates_and_quantities_match(h in 0i64..10_000, t in -100_000_000i64..=100_000_000) {
            let r = VatRate::from_hundredths(h).unwrap();
            prop_assert_eq!(text(|o| push_rate(o, r)), rate_json(r).to_string());
            if let Some(q) = Quantity::from_thousandths(t) {
                prop_assert_eq!(
                    text(|o| push_quantity(o, q)),
                    exact_number(q.to_decimal_string()).to_string()
                );
            }
        }
    }
}
