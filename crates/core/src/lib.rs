//! Comptoir's pure domain: money, VAT, quantities, the catalog model, orders and seals.
//! No IO, no async, no SQL, no HTTP: everything here is a function of its inputs.

pub mod catalog;
pub mod form;
pub mod items_list;
mod json_text;
pub mod model;
pub mod money;
pub mod order;
pub mod quantity;
pub mod report;
pub mod sale;
pub mod seal;
pub mod vat;
