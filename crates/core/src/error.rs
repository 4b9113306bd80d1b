//! The spec's error codes and a refusal naming its field: what every layer says when it
//! refuses a request. Only the server turns a code into an HTTP status (its one table).

use std::fmt;

/// Every error code of the web services (spec: "Errors").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    MissingParameter,
    InvalidParameter,
    Unauthorized,
    LicenceRequired,
    Forbidden,
    NotFound,
    /// 405: the endpoint exists, not with this HTTP method.
    MethodNotAllowed,
    /// 414: the request target is longer than the server reads.
    UriTooLong,
    /// 431: the request headers are larger than the server reads.
    HeadersTooLarge,
    /// The order is in a state that refuses the change (paid in full, still pending).
    Conflict,
    IdempotencyInFlight,
    CashboxClosed,
    /// The sale's value date falls on or before the shop's last closed day (a fiscal
    /// closing); corrections go through refunds dated today.
    PeriodClosed,
    PayloadTooLarge,
    UnknownItem,
    UnknownDepartment,
    UnknownVariation,
    UnknownClient,
    UnknownUser,
    UnknownCashbox,
    UnknownPaymentMethod,
    UnknownTable,
    InvalidAmount,
    /// A refund would pay out more than the order received (less earlier payouts).
    RefundExceedsReceived,
    IdempotencyConflict,
    RateLimited,
    Internal,
}

impl ErrorCode {
    /// The code as written in the JSON error body: `unknown_item`, …
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MissingParameter => "missing_parameter",
            ErrorCode::InvalidParameter => "invalid_parameter",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::LicenceRequired => "licence_required",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::UriTooLong => "uri_too_long",
            ErrorCode::HeadersTooLarge => "headers_too_large",
            ErrorCode::Conflict => "conflict",
            ErrorCode::IdempotencyInFlight => "idempotency_in_flight",
            ErrorCode::CashboxClosed => "cashbox_closed",
            ErrorCode::PeriodClosed => "period_closed",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnknownItem => "unknown_item",
            ErrorCode::UnknownDepartment => "unknown_department",
            ErrorCode::UnknownVariation => "unknown_variation",
            ErrorCode::UnknownClient => "unknown_client",
            ErrorCode::UnknownUser => "unknown_user",
            ErrorCode::UnknownCashbox => "unknown_cashbox",
            ErrorCode::UnknownPaymentMethod => "unknown_payment_method",
            ErrorCode::UnknownTable => "unknown_table",
            ErrorCode::InvalidAmount => "invalid_amount",
            ErrorCode::RefundExceedsReceived => "refund_exceeds_received",
            ErrorCode::IdempotencyConflict => "idempotency_conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Internal => "internal",
        }
    }

    /// Every code, for the server's table test.
    pub const ALL: [ErrorCode; 27] = [
        ErrorCode::MissingParameter,
        ErrorCode::InvalidParameter,
        ErrorCode::Unauthorized,
        ErrorCode::LicenceRequired,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::UriTooLong,
        ErrorCode::HeadersTooLarge,
        ErrorCode::Conflict,
        ErrorCode::IdempotencyInFlight,
        ErrorCode::CashboxClosed,
        ErrorCode::PeriodClosed,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnknownItem,
        ErrorCode::UnknownDepartment,
        ErrorCode::UnknownVariation,
        ErrorCode::UnknownClient,
        ErrorCode::UnknownUser,
        ErrorCode::UnknownCashbox,
        ErrorCode::UnknownPaymentMethod,
        ErrorCode::UnknownTable,
        ErrorCode::InvalidAmount,
        ErrorCode::RefundExceedsReceived,
        ErrorCode::IdempotencyConflict,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
    ];
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The field of the `itemsList[]` entry at `index` (0-based): `itemsList[1]`.
pub fn list_field_name(index: usize) -> String {
    format!("itemsList[{index}]")
}

/// One refused field: the spec's `{"code", "message", "field"}`. The message starts with
/// the field: `itemsList[1]: item 999 does not exist in this shop`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaleError {
    pub code: ErrorCode,
    pub field: String,
    pub message: String,
}

impl SaleError {
    /// An error about `field`; the message becomes `"{field}: {detail}"`.
    pub fn new(code: ErrorCode, field: impl Into<String>, detail: impl fmt::Display) -> Self {
        let field = field.into();
        let message = format!("{field}: {detail}");
        SaleError {
            code,
            field,
            message,
        }
    }

    /// An error about the `itemsList[]` entry at `index` (0-based).
    pub fn line(code: ErrorCode, index: usize, detail: impl fmt::Display) -> Self {
        SaleError::new(code, list_field_name(index), detail)
    }
}

impl fmt::Display for SaleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SaleError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once_with_a_distinct_name() {
        let names: std::collections::HashSet<&str> =
            ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }
}
