//! `GET /invoices/{token}.pdf`: the invoice, credit note or quote of one order as a PDF.
//! The 128-bit token in the link is the only credential, so no API key is asked.

use crate::AppState;
use crate::client_address::ClientAddress;
use crate::error::{AppError, AppResult};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use comptoir_core::model::{Client, Shop};
use comptoir_core::order::OrderView;
use comptoir_core::sale::SaleStatus;
use comptoir_render::invoice::{
    ClientBlock, DocumentKind, InvoiceLine, InvoiceModel, PaymentRow, VatBreakdownRow,
    render_invoice,
};
use comptoir_store::catalog;
use comptoir_store::invoice_issues::{self, Document};
use comptoir_store::{StoreError, sales, shops};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/invoices/{file}", get(invoice_pdf).head(invoice_head))
        .layer(axum::middleware::from_fn(crate::private_headers::invoice))
}

fn not_found() -> AppError {
    AppError::NotFound("no invoice at this address".into())
}

/// `SHOPID-ORDERID-HEX32` (or, for links given before, `SHOPID-HEX32`) from the file name
/// `TOKEN.pdf`; anything else cannot be a token.
fn token_of(file: &str) -> Option<&str> {
    let token = file.strip_suffix(".pdf")?;
    let id = |s: &str| !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit());
    let (shop, rest) = token.split_once('-')?;
    let secret = match rest.split_once('-') {
        Some((order, secret)) if id(order) => secret,
        Some(_) => return None,
        None => rest,
    };
    let well_formed = id(shop)
        && secret.len() == 32
        && secret
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    well_formed.then_some(token)
}

/// The order, its shop and client behind the file name, or 404.
async fn find(state: &AppState, file: &str) -> AppResult<(OrderView, Shop, Option<Client>)> {
    let token = token_of(file).ok_or_else(not_found)?.to_string();
    let found = state
        .store
        .read(move |c| {
            let Some(order) = sales::order_by_invoice_token(c, &token)? else {
                return Ok::<_, StoreError>(None);
            };
            let shop = shops::get_shop(c, order.shop_id)?.ok_or(StoreError::NotFound)?;
            let client = match order.client_id {
                Some(id) => catalog::get_client(c, order.shop_id, id)?,
                None => None,
            };
            Ok(Some((order, shop, client)))
        })
        .await?;
    found.ok_or_else(not_found)
}

/// What is issued for the order, as the issues log names it.
fn document(kind: &DocumentKind) -> Document {
    match kind {
        DocumentKind::Invoice { .. } => Document::Invoice,
        DocumentKind::CreditNote { .. } => Document::CreditNote,
        DocumentKind::Quote => Document::Quote,
    }
}

/// Every GET that gets the PDF is an issue of the document, logged with its copy number
/// before the document is rendered (store::invoice_issues); an invoice or credit note
/// after its first issue is marked "DUPLICATE n" and recorded as an event. A Range header
/// is ignored: the whole document is sent, so no part of one leaves without its issue.
async fn invoice_pdf(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Path(file): Path<String>,
) -> AppResult<Response> {
    let (order, shop, client) = find(&state, &file).await?;
    let filename = file_name(&order);
    let mut model = invoice_model(&order, &shop, client.as_ref());
    let doc = document(&model.kind);
    let (shop_id, order_id, number) = (order.shop_id, order.id, order.number);
    let address = address.map(|a| a.to_string());
    let at = comptoir_store::now_micros();
    let copy = state
        .store
        .write(move |c| {
            invoice_issues::issue(c, shop_id, order_id, number, doc, at, address.as_deref())
        })
        .await?;
    if copy > 0 && doc != Document::Quote {
        model.duplicate = Some(copy);
    }
    let pdf = tokio::task::spawn_blocking(move || render_invoice(&model))
        .await
        .map_err(|e| AppError::Internal(format!("invoice rendering stopped: {e}")))?
        .map_err(|e| AppError::Internal(format!("invoice rendering failed: {e}")))?;
    let mut res = pdf.into_response();
    pdf_headers(res.headers_mut(), &filename);
    Ok(res)
}

/// `HEAD`: the headers a GET would have, without a document, so without an issue (no
/// copy leaves the server). No Content-Length: the PDF is not rendered.
async fn invoice_head(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> AppResult<Response> {
    let (order, _, _) = find(&state, &file).await?;
    let mut res = ().into_response();
    pdf_headers(res.headers_mut(), &file_name(&order));
    Ok(res)
}

fn pdf_headers(h: &mut axum::http::HeaderMap, filename: &str) {
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    // Cache-Control, Referrer-Policy, X-Robots-Tag: crate::private_headers::invoice.
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// `invoice-SHOPID-NUMBER.pdf`; a pending order has no number yet: `quote-SHOPID-ID.pdf`
/// with its orderInternalID.
fn file_name(o: &OrderView) -> String {
    match o.number {
        Some(n) if o.status != SaleStatus::Pending => format!("invoice-{}-{n}.pdf", o.shop_id),
        _ => format!("quote-{}-{}.pdf", o.shop_id, o.id),
    }
}

fn currency_symbol(code: &str) -> String {
    match code {
        "EUR" => "€".into(),
        "GBP" => "£".into(),
        "USD" => "$".into(),
        other => other.into(),
    }
}

/// What the document says, decided from the order: an invoice with its number for a
/// validated sale, a credit note for a validated refund, a quote for a pending order.
pub fn invoice_model(o: &OrderView, shop: &Shop, client: Option<&Client>) -> InvoiceModel {
    let tz = shop.timezone.tz();
    let date = |micros: i64| {
        jiff::Timestamp::from_microsecond(micros).map_or_else(
            |_| String::new(),
            |t| {
                t.to_zoned(tz.clone())
                    .strftime("%Y-%m-%d %H:%M")
                    .to_string()
            },
        )
    };
    let kind = match (o.status, o.number) {
        (SaleStatus::Pending, _) | (_, None) => DocumentKind::Quote,
        (_, Some(n)) if o.is_refund => DocumentKind::CreditNote {
            number: n.to_string(),
        },
        (_, Some(n)) => DocumentKind::Invoice {
            number: n.to_string(),
        },
    };
    // An invoice is dated on the sale's value (accounting) date, which is what reports
    // count it on; a quote on when it was made.
    let when = if kind == DocumentKind::Quote {
        o.created_at
    } else {
        o.value_date
    };
    let mut shop_address: Vec<String> = shop
        .address
        .iter()
        .flat_map(|a| a.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(p) = shop.phone.as_deref().filter(|p| !p.trim().is_empty()) {
        shop_address.push(format!("Tel. {}", p.trim()));
    }
    InvoiceModel {
        shop_name: shop.name.to_string(),
        shop_address,
        rc_number: shop.rc_number.clone(),
        vat_number: shop.vat_number.clone(),
        kind,
        date: date(when),
        currency_digits: shop.currency.digits(),
        currency_symbol: currency_symbol(shop.currency.code()),
        client: client.map(client_block),
        lines: o
            .lines
            .iter()
            .map(|l| InvoiceLine {
                title: l.title.clone(),
                quantity: l.quantity.to_decimal_string(),
                unit_price: l.unit_price,
                total: l.total,
                vat_rate: l.vat_rate,
            })
            .collect(),
        vat_breakdown: o
            .vats()
            .iter()
            .map(|v| VatBreakdownRow {
                rate: v.rate,
                base: v.base,
                amount: v.amount,
                total: v.total,
            })
            .collect(),
        total_incl_vat: o.total,
        total_vat: o.vat,
        payments: o
            .payments
            .iter()
            .map(|p| PaymentRow {
                name: p.name.clone(),
                amount: p.amount,
                date: date(p.at),
            })
            .collect(),
        change: o.change,
        note: Some(o.public_comment.trim())
            .filter(|c| !c.is_empty())
            .map(str::to_string),
        seal: o.seal.clone(),
        duplicate: None,
    }
}

/// The parts that are present and not blank, trimmed, joined by spaces.
fn join_present(parts: &[Option<&str>]) -> String {
    parts
        .iter()
        .flatten()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The billed client: their name (or e-mail, or number), then address and identifiers.
fn client_block(k: &Client) -> ClientBlock {
    let full_name = join_present(&[k.first_name.as_deref(), k.last_name.as_deref()]);
    let name = if !full_name.is_empty() {
        full_name
    } else if let Some(e) = k.email.as_deref().filter(|e| !e.is_empty()) {
        e.to_string()
    } else {
        format!("Client {}", k.id)
    };
    let mut lines: Vec<String> = Vec::new();
    let mut push = |l: Option<String>| {
        if let Some(l) = l.map(|l| l.trim().to_string()).filter(|l| !l.is_empty()) {
            lines.push(l);
        }
    };
    push(k.address1.clone());
    push(k.address2.clone());
    let city = join_present(&[k.postcode.as_deref(), k.city.as_deref()]);
    push(Some(city));
    push(k.country.as_ref().map(|c| c.as_str().to_string()));
    push(k.vat_number.as_ref().map(|v| format!("VAT {v}")));
    push(k.company_number.as_ref().map(|v| format!("RCS {v}")));
    push(k.email.clone().filter(|e| *e != name));
    push(k.phone.clone());
    ClientBlock { name, lines }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_tokens_reach_the_database() {
        let hex = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            token_of(&format!("12-{hex}.pdf")),
            Some(format!("12-{hex}").as_str())
        );
        assert_eq!(token_of(&format!("12-{hex}")), None, "no .pdf");
        assert_eq!(token_of(&format!("12-{}.pdf", &hex[1..])), None, "short");
        assert_eq!(token_of(&format!("x-{hex}.pdf")), None);
        assert_eq!(token_of(&format!("12-{}.pdf", hex.to_uppercase())), None);
        assert_eq!(token_of("../etc/passwd.pdf"), None);
        assert_eq!(
            token_of(&format!("12-345-{hex}.pdf")),
            Some(format!("12-345-{hex}").as_str())
        );
        assert_eq!(token_of(&format!("12--{hex}.pdf")), None, "no order id");
        assert_eq!(token_of(&format!("12-3a-{hex}.pdf")), None);
        assert_eq!(token_of(&format!("12-3-4-{hex}.pdf")), None);
    }
}
