//! The server's one error type: each variant knows its status and the spec's error code;
//! the body is `{"result":"KO","errorMessage","error":{"code","message","field"}}`. 5xx
//! details are logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use comptoir_store::StoreError;

/// An error answer of the web services.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400 `missing_parameter`.
    #[error("{field}: is required")]
    MissingParameter { field: String },
    /// 400 `invalid_parameter`, or a 422 domain code such as `unknown_item`.
    #[error("{message}")]
    Invalid {
        status: StatusCode,
        code: &'static str,
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
    Conflict { code: &'static str, message: String },
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
            status: StatusCode::BAD_REQUEST,
            code: "invalid_parameter",
            message: format!("{field}: {}", message.into()),
            field: Some(field),
        }
    }

    /// 422 with a domain code (`unknown_item`, `invalid_amount`, ...) naming `field`.
    pub fn unprocessable(
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> AppError {
        let field = field.into();
        AppError::Invalid {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code,
            message: format!("{field}: {}", message.into()),
            field: Some(field),
        }
    }

    /// A refusal with a status and code of its own and no field (`not_found` for an
    /// unknown route, `method_not_allowed`, `uri_too_long`, `headers_too_large`).
    pub fn refused(status: StatusCode, code: &'static str, message: impl Into<String>) -> AppError {
        AppError::Invalid {
            status,
            code,
            field: None,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::MissingParameter { .. } => StatusCode::BAD_REQUEST,
            AppError::Invalid { status, .. } => *status,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::LicenceRequired => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::MissingParameter { .. } => "missing_parameter",
            AppError::Invalid { code, .. } | AppError::Conflict { code, .. } => code,
            AppError::Unauthorized => "unauthorized",
            AppError::LicenceRequired => "licence_required",
            AppError::NotFound(_) => "not_found",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::RateLimited(_) => "rate_limited",
            AppError::Internal(_) => "internal",
        }
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

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound("not found".into()),
            other => AppError::Internal(other.to_string()),
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
