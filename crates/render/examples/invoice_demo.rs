//! Writes a demo invoice PDF to look at: `cargo run --example invoice_demo -- OUT.pdf [LINES]`.
//! With LINES (e.g. 120) the order gets that many lines, to see pages flow; a third
//! argument N marks it as duplicate N.

use comptoir_core::money::Money;
use comptoir_core::vat::VatRate;
use comptoir_render::invoice::{
    ClientBlock, DocumentKind, InvoiceLine, InvoiceModel, PaymentRow, VatBreakdownRow,
    render_invoice,
};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "invoice-demo.pdf".into());
    let extra: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let duplicate: Option<i64> = args.next().and_then(|a| a.parse().ok());
    let rate10 = VatRate::parse("10")?;
    let rate55 = VatRate::parse("5.5")?;
    let line = |title: &str, qty: &str, unit: i64, total: i64, vat_rate: VatRate| InvoiceLine {
        title: title.into(),
        quantity: qty.into(),
        unit_price: Money::from_minor(unit),
        total: Money::from_minor(total),
        vat_rate,
    };
    let mut lines = vec![
        line("Pizza Margherita", "2", 1450, 2900, rate10),
        line("Crème brûlée", "1", 650, 650, rate10),
        line("Jus d'orange pressé 25 cl", "3", 350, 1050, rate55),
    ];
    if extra > 0 {
        lines.push(line(
            "Plateau de fromages affinés : comté 24 mois, brie de Meaux, roquefort, chèvre \
             frais, crottin de Chavignol, servi avec pain aux noix et confiture de cerises noires",
            "0.350",
            4200,
            1470,
            rate10,
        ));
    }
    for i in 0..extra {
        lines.push(line(
            &format!("Article numéro {:03}", i + 4),
            "1",
            120,
            120,
            rate10,
        ));
    }
    let model = InvoiceModel {
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
            lines: vec!["4 place du Marché".into(), "69002 Lyon".into()],
        }),
        lines,
        vat_breakdown: vec![
            VatBreakdownRow {
                rate: rate10,
                base: Money::from_minor(3227),
                amount: Money::from_minor(323),
                total: Money::from_minor(3550),
            },
            VatBreakdownRow {
                rate: rate55,
                base: Money::from_minor(995),
                amount: Money::from_minor(55),
                total: Money::from_minor(1050),
            },
        ],
        total_incl_vat: Money::from_minor(4600),
        total_vat: Money::from_minor(378),
        payments: vec![PaymentRow {
            name: "Cash".into(),
            amount: Money::from_minor(5000),
            date: "2026-11-01 12:31".into(),
        }],
        change: Money::from_minor(400),
        note: Some("Merci de votre visite ! Bon appétit.".into()),
        seal: Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into()),
        duplicate,
    };
    let start = Instant::now();
    let pdf = render_invoice(&model)?;
    let took = start.elapsed();
    std::fs::write(&out, &pdf)?;
    println!(
        "{out}: {} bytes in {:.1} ms",
        pdf.len(),
        took.as_secs_f64() * 1e3
    );
    Ok(())
}
