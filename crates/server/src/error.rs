//! The server's one error type and the one table from the spec's error codes to HTTP
//! statuses; the body is `{"result":"KO","errorMessage","error":{"code","message","field"}}`.
//! 5xx details are logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use comptoir_core::error::{ErrorCode, SaleError};
use comptoir_store::StoreError;
use comptoir_store::sales::SaleFailure;

/// An error answer of the web services.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400 `missing_parameter`.
    #[error("{field}: is required")]
    MissingParameter { field: String },
    /// A refusal with its code (`invalid_parameter`, `unknown_item`, …): its status is
    /// [`status_of`] the code.
    #[error("{message}")]
    Invalid {
        code: ErrorCode,
        field: Option<String>,
        message: String,
    },
    /// 401 `unauthorized`: unknown shop and wrong key look the same.
    #[error("unknown shop or invalid key")]
    Unauthorized,
    /// 403 `licence_required`.
    #[error(
        "the web services need the extended licence; enable it with `comptoir shop licence SHOP_ID --extended`"
    )]
    LicenceRequired,
    /// 404 `not_found`.
    #[error("{0}")]
    NotFound(String),
    /// 409 with a code such as `cashbox_closed` or `idempotency_in_flight`.
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    /// 413 `payload_too_large`.
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 429 `rate_limited`, with `Retry-After` seconds.
    #[error("too many attempts; retry in {0} seconds")]
    RateLimited(u64),
    /// 500 `internal`: the detail goes to the log only.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    /// 400 `invalid_parameter` naming `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> AppError {
        let field = field.into();
        AppError::Invalid {
            code: ErrorCode::InvalidParameter,
            message: format!("{field}: {}", message.into()),
            field: Some(field),
        }
    }

    /// 422 with a domain code (`unknown_item`, `invalid_amount`, ...) naming `field`.
    pub fn unprocessable(
        code: ErrorCode,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> AppError {
        let field = field.into();
        AppError::Invalid {
            code,
            message: format!("{field}: {}", message.into()),
            field: Some(field),
        }
    }

    /// A refusal with `code` and no field (`unauthorized`, `forbidden`, …).
    pub fn coded(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError::Invalid {
            code,
            field: None,
            message: message.into(),
        }
    }

    /// The HTTP status: [`status_of`] the code.
    pub fn status(&self) -> StatusCode {
        status_of(self.error_code())
    }

    /// The spec's code of this error.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            AppError::MissingParameter { .. } => ErrorCode::MissingParameter,
            AppError::Invalid { code, .. } | AppError::Conflict { code, .. } => *code,
            AppError::Unauthorized => ErrorCode::Unauthorized,
            AppError::LicenceRequired => ErrorCode::LicenceRequired,
            AppError::NotFound(_) => ErrorCode::NotFound,
            AppError::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            AppError::RateLimited(_) => ErrorCode::RateLimited,
            AppError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The code as written in the body: `unknown_item`, …
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    fn field(&self) -> Option<&str> {
        match self {
            AppError::MissingParameter { field } => Some(field),
            AppError::Invalid { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// The JSON body of this error.
    pub fn body(&self) -> serde_json::Value {
        serde_json::to_value(self.wire()).unwrap_or_default()
    }

    /// The body in the spec's key order (`result`, `errorMessage`, `error`).
    fn wire(&self) -> ErrorBody<'_> {
        let message = self.to_string();
        ErrorBody {
            result: "KO",
            // Integrations written for the hosted POS print this top-level string.
            error_message: message.clone(),
            error: ErrorDetail {
                code: self.code(),
                message,
                field: self.field(),
            },
        }
    }
}

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    result: &'static str,
    #[serde(rename = "errorMessage")]
    error_message: String,
    error: ErrorDetail<'a>,
}

#[derive(serde::Serialize)]
struct ErrorDetail<'a> {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

/// The one table from the spec's error codes to HTTP statuses (spec: "Errors").
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::MissingParameter | ErrorCode::InvalidParameter => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::LicenceRequired | ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::UriTooLong => StatusCode::URI_TOO_LONG,
        ErrorCode::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ErrorCode::Conflict
        | ErrorCode::IdempotencyInFlight
        | ErrorCode::CashboxClosed
        | ErrorCode::PeriodClosed => StatusCode::CONFLICT,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UnknownItem
        | ErrorCode::UnknownDepartment
        | ErrorCode::UnknownVariation
        | ErrorCode::UnknownClient
        | ErrorCode::UnknownUser
        | ErrorCode::UnknownCashbox
        | ErrorCode::UnknownPaymentMethod
        | ErrorCode::UnknownTable
        | ErrorCode::InvalidAmount
        | ErrorCode::RefundExceedsReceived
        | ErrorCode::IdempotencyConflict => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<SaleError> for AppError {
    fn from(e: SaleError) -> Self {
        AppError::Invalid {
            code: e.code,
            field: Some(e.field),
            message: e.message,
        }
    }
}

impl From<SaleFailure> for AppError {
    fn from(f: SaleFailure) -> Self {
        match f {
            SaleFailure::Rejected(first, _) => first.into(),
            SaleFailure::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for AppError {
    /// Every variant by name, so that a new one is mapped on purpose.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(message) => AppError::coded(ErrorCode::InvalidParameter, message),
            StoreError::Conflict(message) => AppError::Conflict {
                code: ErrorCode::Conflict,
                message,
            },
            StoreError::NotFound => AppError::NotFound("not found".into()),
            e @ (StoreError::Sqlite(_)
            | StoreError::Postgres(_)
            | StoreError::Decode(_)
            | StoreError::PoolTimeout(_)
            | StoreError::Open(_)
            | StoreError::Task(_)
            | StoreError::Commit(_)) => AppError::Internal(e.to_string()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let AppError::Internal(detail) = &self {
            // Inside the request span, so the log line carries the request id.
            tracing::error!(error = %detail, "request failed");
        }
        let mut res = (status, axum::Json(self.wire())).into_response();
        if let AppError::RateLimited(secs) = self {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

/// What every handler returns.
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_the_status_of_the_spec() {
        for code in ErrorCode::ALL {
            let status = status_of(code).as_u16();
            let expected = match code.as_str() {
                "missing_parameter" | "invalid_parameter" => 400,
                "unauthorized" => 401,
                "licence_required" | "forbidden" => 403,
                "not_found" => 404,
                "method_not_allowed" => 405,
                "uri_too_long" => 414,
                "headers_too_large" => 431,
                "conflict" | "idempotency_in_flight" | "cashbox_closed" | "period_closed" => 409,
                "payload_too_large" => 413,
                "rate_limited" => 429,
                "internal" => 500,
                _ => 422,
            };
            assert_eq!(status, expected, "{code}");
        }
    }

    #[test]
    fn a_store_conflict_is_a_409_and_a_refusal_a_400() {
        let e = AppError::from(StoreError::Conflict("taken".into()));
        assert_eq!((e.status().as_u16(), e.code()), (409, "conflict"));
        let e = AppError::from(StoreError::Invalid("bad".into()));
        assert_eq!((e.status().as_u16(), e.code()), (400, "invalid_parameter"));
        let e = AppError::from(StoreError::Decode("row".into()));
        assert_eq!(e.status().as_u16(), 500);
    }
}
