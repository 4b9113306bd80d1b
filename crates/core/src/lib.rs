//! Comptoir's pure domain: money, VAT, quantities, the catalog model, orders and seals.
//! No IO, no async, no SQL, no HTTP: everything here is a function of its inputs.

pub mod archive;
pub mod cash_box;
pub mod catalog;
pub mod closing;
pub mod decimal;
pub mod error;
pub mod event;
pub mod fiscal_key;
pub mod form;
pub mod hex;
pub mod items_list;
mod json_text;
pub mod model;
pub mod money;
pub mod order;
pub mod order_json;
pub mod payment;
pub mod quantity;
pub mod refund;
pub mod report;
pub mod sale;
pub mod sale_catalog;
pub mod sale_input;
pub mod seal;
pub mod vat;
pub mod vat_breakdown;
pub mod webhook;
