//! Bytes out of Comptoir's list and report models: HTML, CSV, JSON, PDF. Pure functions.

pub mod archive;
pub mod invoice;
pub mod list;
mod num;
mod pdf;
pub mod report;
