//! Invoice PDFs read back with poppler's `pdftotext`, as a person or an accountant would.

use super::*;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

fn money(minor: i64) -> Money {
    Money::from_minor(minor)
}

fn rate(text: &str) -> VatRate {
    VatRate::parse(text).unwrap_or_default()
}

fn line(title: &str, quantity: &str, unit: i64, total: i64, vat: &str) -> InvoiceLine {
    InvoiceLine {
        title: title.to_owned(),
        quantity: quantity.to_owned(),
        unit_price: money(unit),
        total: money(total),
        vat_rate: rate(vat),
    }
}

fn sample() -> InvoiceModel {
    InvoiceModel {
        shop_name: "Le Comptoir de Léa".into(),
        shop_address: vec!["12 rue des Écoles".into(), "75005 Paris, France".into()],
        rc_number: Some("RCS Paris 812 345 678".into()),
        vat_number: Some("FR12812345678".into()),
        kind: DocumentKind::Invoice {
            number: "2026-000123".into(),
        },
        date: "2026-11-01 12:30".into(),
        currency_digits: 2,
        currency_symbol: "€".into(),
        client: Some(ClientBlock {
            name: "Société Durand SARL".into(),
            lines: vec![
                "4 place du Marché".into(),
                "69002 Lyon".into(),
                "VAT No. FR98765432109".into(),
            ],
        }),
        lines: vec![
            line("Pizza Margherita", "2", 1450, 2900, "10"),
            line("Crème brûlée", "1", 650, 650, "10"),
            line("Jus d'orange pressé 25 cl", "3", 350, 1050, "5.5"),
        ],
        vat_breakdown: vec![
            VatBreakdownRow {
                rate: rate("10"),
                base: money(3227),
                amount: money(323),
                total: money(3550),
            },
            VatBreakdownRow {
                rate: rate("5.5"),
                base: money(995),
                amount: money(55),
                total: money(1050),
            },
        ],
        total_incl_vat: money(4600),
        total_vat: money(378),
        payments: vec![PaymentRow {
            name: "Cash".into(),
            amount: money(5000),
            date: "2026-11-01 12:31".into(),
        }],
        change: money(400),
        note: Some("Merci de votre visite ! Bon appétit.".into()),
        seal: Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into()),
        duplicate: None,
    }
}

/// The text of `pdf` with its layout kept, or `None` (with the reason printed) when
/// poppler-utils is not installed and `COMPTOIR_TEST_STRICT` is not `1`.
fn pdftotext(pdf: &[u8]) -> Option<String> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("comptoir-render-{}-{n}.pdf", std::process::id()));
    std::fs::write(&path, pdf).expect("write the PDF to a temporary file");
    let result = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output();
    let _ = std::fs::remove_file(&path);
    match result {
        Ok(out) => {
            assert!(
                out.status.success(),
                "pdftotext failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(String::from_utf8(out.stdout).expect("pdftotext writes UTF-8"))
        }
        Err(e) => {
            let strict = std::env::var("COMPTOIR_TEST_STRICT").is_ok_and(|v| v == "1");
            assert!(!strict, "pdftotext (Debian poppler-utils) is needed: {e}");
            eprintln!("skipping the text check: pdftotext (Debian poppler-utils) not run: {e}");
            None
        }
    }
}

fn page_count(text: &str) -> usize {
    // pdftotext ends every page with a form feed.
    text.matches('\u{c}').count()
}

fn render(model: &InvoiceModel) -> Vec<u8> {
    let pdf = render_invoice(model).expect("the embedded fonts load");
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"));
    pdf
}

#[test]
fn an_invoice_reads_back_with_every_word() {
    let pdf = render(&sample());
    let Some(text) = pdftotext(&pdf) else { return };
    for word in [
        "Le Comptoir de Léa",
        "12 rue des Écoles",
        "RC: RCS Paris 812 345 678",
        "VAT No.: FR12812345678",
        "Invoice",
        "No. 2026-000123",
        "Date: 2026-11-01 12:30",
        "BILL TO",
        "Société Durand SARL",
        "VAT No. FR98765432109",
        "Description",
        "Pizza Margherita",
        "Crème brûlée",
        "Jus d'orange pressé 25 cl",
        "14.50",
        "29.00",
        "5.5",
        "VAT by rate",
        "32.27",
        "Total excl. VAT",
        "42.22 €",
        "Total incl. VAT",
        "46.00 €",
        "Cash (2026-11-01 12:31)",
        "50.00 €",
        "Change given",
        "4.00 €",
        "Bon appétit.",
        "Seal: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "Le Comptoir de Léa · Invoice No. 2026-000123",
        "Page 1 of 1",
    ] {
        assert!(text.contains(word), "{word:?} missing from:\n{text}");
    }
    assert_eq!(page_count(&text), 1);
    assert!(!text.contains("Balance due"), "{text}");
}

#[test]
fn a_three_line_invoice_is_small_because_the_fonts_are_subset() {
    let pdf = render(&sample());
    assert!(pdf.len() < 40_000, "{} bytes", pdf.len());
    assert!(pdf.len() * 10 < REGULAR_TTF.len(), "{} bytes", pdf.len());
}

#[test]
fn rendering_is_deterministic() {
    assert_eq!(render(&sample()), render(&sample()));
}

#[test]
fn a_long_order_flows_onto_further_pages() {
    let mut model = sample();
    model.lines = (1..=120)
        .map(|i| {
            line(
                &format!("Article numéro {i:03}"),
                "1",
                100 + i,
                100 + i,
                "20",
            )
        })
        .collect();
    // One title long enough to wrap, in the middle of the list.
    model.lines[60].title = "Plateau de fromages affinés: comté 24 mois, brie de Meaux, \
        roquefort, chèvre frais, crottin de Chavignol, servi avec pain aux noix"
        .into();
    let pdf = render(&model);
    let Some(text) = pdftotext(&pdf) else { return };
    let pages = page_count(&text);
    assert!(pages >= 3, "{pages} pages:\n{text}");
    for i in (1..=120).filter(|&i| i != 61) {
        let title = format!("Article numéro {i:03}");
        assert!(text.contains(&title), "{title} missing");
    }
    assert!(text.contains("Plateau de fromages"), "{text}");
    assert!(text.contains("pain aux noix"), "{text}");
    assert!(text.contains(&format!("Page {pages} of {pages}")), "{text}");
    assert!(
        text.contains("Invoice No. 2026-000123 (continued)"),
        "{text}"
    );
    // The table header is repeated on every page that holds lines.
    for page in text.split('\u{c}').filter(|p| p.contains("Article")) {
        assert!(page.contains("Unit price"), "{page}");
    }
    assert!(text.contains("Total incl. VAT"));
}

#[test]
fn a_pending_order_is_a_quote_without_number() {
    let mut model = sample();
    model.kind = DocumentKind::Quote;
    model.payments.clear();
    model.change = Money::ZERO;
    model.seal = None;
    let pdf = render(&model);
    let Some(text) = pdftotext(&pdf) else { return };
    assert!(text.contains("Quote"), "{text}");
    assert!(!text.contains("Invoice"), "{text}");
    assert!(!text.contains("No. 2026"), "{text}");
    assert!(!text.contains("Seal"), "{text}");
    assert!(!text.contains("Balance due"), "{text}");
}

#[test]
fn a_partly_paid_invoice_shows_the_balance_due() {
    let mut model = sample();
    model.payments[0].amount = money(3000);
    model.change = Money::ZERO;
    let Some(text) = pdftotext(&render(&model)) else {
        return;
    };
    assert!(text.contains("Balance due"), "{text}");
    assert!(text.contains("16.00 €"), "{text}");
}

#[test]
fn a_credit_note_prints_negative_amounts() {
    let mut model = sample();
    model.kind = DocumentKind::CreditNote {
        number: "2026-000124".into(),
    };
    model.lines = vec![line("Crème brûlée", "-1", 650, -650, "10")];
    model.total_incl_vat = money(-650);
    model.total_vat = money(-59);
    model.payments = vec![PaymentRow {
        name: "Refund".into(),
        amount: money(-650),
        date: String::new(),
    }];
    model.change = Money::ZERO;
    let Some(text) = pdftotext(&render(&model)) else {
        return;
    };
    assert!(text.contains("Credit note"), "{text}");
    assert!(text.contains("-6.50"), "{text}");
    assert!(!text.contains("Balance due"), "{text}");
}

#[test]
fn characters_the_font_lacks_read_back_as_question_marks() {
    let mut model = sample();
    model.lines[0].title = "Bento 弁当 🍱 box".into();
    let Some(text) = pdftotext(&render(&model)) else {
        return;
    };
    assert!(text.contains("Bento ?? ? box"), "{text}");
}

#[test]
fn hostile_input_still_gives_a_pdf() {
    let long = "x".repeat(20_000);
    let words = "mot ".repeat(3_000);
    let model = InvoiceModel {
        shop_name: long.clone(),
        shop_address: vec![words.clone(), "\u{0}\t\r\n\u{7f}".into()],
        rc_number: Some(String::new()),
        vat_number: Some(long.clone()),
        kind: DocumentKind::Invoice {
            number: long.clone(),
        },
        date: "(unbalanced \\ parens)) ((".into(),
        currency_digits: u8::MAX,
        currency_symbol: long.clone(),
        client: Some(ClientBlock {
            name: long.clone(),
            lines: vec![long.clone(); 50],
        }),
        lines: vec![
            line(&long, &long, i64::MIN, i64::MAX, "99.99"),
            line("", "", 0, 0, "0"),
            line(&words, "1", 1, 1, "1"),
        ],
        vat_breakdown: vec![
            VatBreakdownRow {
                rate: rate("20"),
                base: money(i64::MIN),
                amount: money(i64::MAX),
                total: money(-1),
            };
            120
        ],
        total_incl_vat: money(i64::MIN),
        total_vat: money(i64::MAX),
        payments: vec![
            PaymentRow {
                name: long.clone(),
                amount: money(i64::MAX),
                date: long.clone(),
            };
            80
        ],
        change: money(i64::MIN),
        note: Some(words),
        seal: Some(long),
        duplicate: None,
    };
    let pdf = render(&model);
    if let Some(text) = pdftotext(&pdf) {
        assert!(page_count(&text) >= 2, "{text}");
    }
    let empty = render(&InvoiceModel::default());
    if let Some(text) = pdftotext(&empty) {
        assert!(text.contains("Quote"), "{text}");
    }
}

#[test]
fn wrapping_keeps_words_and_cuts_long_ones() {
    let c = Canvas::new().expect("fonts");
    let lines = c.wrap(Font::Regular, 9.0, "one two three four five six", 40.0, 10);
    assert!(lines.len() > 1, "{lines:?}");
    assert_eq!(lines.join(" "), "one two three four five six");
    for l in &lines {
        assert!(c.width(Font::Regular, 9.0, l) <= 40.0, "{l}");
    }
    let lines = c.wrap(Font::Regular, 9.0, &"a".repeat(200), 50.0, 2);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].ends_with('\u{2026}'), "{lines:?}");
    assert!(c.width(Font::Regular, 9.0, &lines[1]) <= 50.0);
    assert_eq!(
        c.wrap(Font::Regular, 9.0, "  ", 50.0, 2),
        vec![String::new()]
    );
}
