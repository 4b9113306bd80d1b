use super::*;
use crate::money::Money;
use crate::order::{LineView, PaymentView};
use crate::quantity::Quantity;
use crate::sale::SaleStatus;
use crate::vat::VatRate;
use jiff::tz::TimeZone;

fn order() -> OrderView {
    OrderView {
        shop_id: 4,
        id: 7,
        number: Some(1),
        status: SaleStatus::Terminated,
        is_refund: false,
        refund_of: None,
        created_at: 1_795_887_000_000_000,
        validated_at: Some(1_795_887_060_000_000),
        terminated_at: None,
        value_date: 1_795_887_000_000_000,
        user_id: 3,
        cash_box_id: 1,
        client_id: Some(5),
        delivery_method: 4,
        table_id: None,
        covers: None,
        pager_num: None,
        public_comment: String::new(),
        private_comment: String::new(),
        total: Money::from_minor(2940),
        vat: Money::from_minor(490),
        paid: Money::from_minor(3000),
        change: Money::from_minor(60),
        invoice_token: "4-7-tok".into(),
        seal: None,
        lines: vec![LineView {
            line_no: 1,
            item_id: Some(12),
            department_id: None,
            title: "Crème & brûlée".into(),
            quantity: Quantity::from_thousandths(350).unwrap(),
            unit_price: Money::from_minor(8400),
            total: Money::from_minor(2940),
            vat_rate: VatRate::from_hundredths(2000).unwrap(),
            variations: vec![],
        }],
        payments: vec![PaymentView {
            id: 9,
            payment_method_id: 1,
            name: "Cash".into(),
            amount: Money::from_minor(3000),
            at: 1_795_887_000_000_000,
        }],
    }
}

fn meta() -> EventMeta {
    EventMeta {
        event_type: EventType::Validated,
        event_id: event_id(4, 31),
        created_at: 1_795_887_060_000_000,
        verification_url: "https://pos.example/webhooks/verify/4-31-abc".into(),
    }
}

fn client() -> Client {
    Client {
        id: 5,
        last_name: Some("Durand".into()),
        email: Some("a@b.fr".into()),
        ..Client::default()
    }
}

#[test]
fn every_field_of_the_spec_in_its_order() {
    let tz = TimeZone::get("Europe/Paris").unwrap();
    let f = fields(
        &order(),
        Some(&client()),
        &meta(),
        2,
        &tz,
        "https://pos.example",
    );
    let keys: Vec<&str> = f.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, FIELDS);
    let json: Value = serde_json::from_str(&body(&f, Format::Json)).unwrap();
    assert_eq!(json["type"], "validated");
    assert_eq!(json["price"].to_string(), "29.40");
    assert_eq!(json["VAT"].to_string(), "4.90");
    assert_eq!(json["orderID"], 1);
    assert_eq!(json["customer"]["last_name"], "Durand");
    assert_eq!(json["client"], json["customer"]);
    assert_eq!(json["items"][0]["title"], "Crème & brûlée");
    assert_eq!(json["VATs"][0]["rate"].to_string(), "20.0");
    assert_eq!(
        json["PDFinvoice"],
        "https://pos.example/invoices/4-7-tok.pdf"
    );
    assert_eq!(json["creationDate"], "2026-11-28T18:30:00+01:00");
    assert_eq!(json["validationDate"], "2026-11-28T18:31:00+01:00");
    assert_eq!(json["createdAt"], "2026-11-28T18:31:00+01:00");
    assert_eq!(json["eventID"], "4-31");
    assert_eq!(json["shopID"], 4);
    assert_eq!(json["isRefund"], false);
}

#[test]
fn the_form_body_reads_back_as_text_fields() {
    let tz = TimeZone::get("Europe/Paris").unwrap();
    let mut o = order();
    o.client_id = None;
    o.validated_at = None;
    let f = fields(&o, None, &meta(), 2, &tz, "https://pos.example");
    let text = body(&f, Format::Form);
    let form = crate::form::Form::parse(text.as_bytes()).unwrap();
    let get = |k: &str| form.get(k).map(str::to_string);
    assert_eq!(get("price").as_deref(), Some("29.40"));
    assert_eq!(get("clientID").as_deref(), Some(""));
    assert_eq!(get("customer").as_deref(), Some(""));
    assert_eq!(get("validationDate").as_deref(), Some(""));
    assert_eq!(get("isRefund").as_deref(), Some("false"));
    let items: Value = serde_json::from_str(&get("items").unwrap()).unwrap();
    assert_eq!(items[0]["title"], "Crème & brûlée");
    assert_eq!(
        get("signatureVerificationURL").as_deref(),
        Some("https://pos.example/webhooks/verify/4-31-abc")
    );
}

#[test]
fn event_ids_round_trip() {
    assert_eq!(parse_event_id(&event_id(12, 345)), Some((12, 345)));
    assert_eq!(parse_event_id("12-"), None);
    assert_eq!(parse_event_id("a-1"), None);
    assert_eq!(parse_event_id("1-+2"), None);
    assert_eq!(Format::parse("xml"), Err("form or json"));
    assert_eq!(EventType::parse("terminated"), Ok(EventType::Terminated));
}
