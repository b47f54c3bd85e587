//! The one error shape of the HTTP API: `{"error": {"code", "message", "details"}}`.
//! Bad input is a 4xx that says what is wrong; internal faults are logged here and
//! answered with a generic 500, never with their details.

use crate::diag::Diagnostics;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// One located problem: a table, a 1-based row and a field for JSON bodies (the
/// scenario's `scenario.toml` key path in `field` for settings).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// What was not checked because of this problem ("…and 3 devices of pool p1 are not
    /// checked further"): the follow-on errors folded into this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The body of every 4xx/5xx answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorInner,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorInner {
    /// Stable, machine-readable: `invalid_json`, `invalid_body`, `invalid_query`,
    /// `invalid_header`, `validation_failed`, `path_escape`, `callback_not_allowed`,
    /// `not_found`, `unauthorized`, `not_acceptable`, `unsupported_media_type`,
    /// `payload_too_large`, `uri_too_long`, `queue_full`, `not_ready`, `plan_failed`,
    /// `idempotency_conflict`, `method_not_allowed`, `timeout`, `shutting_down`,
    /// `internal`.
    pub code: String,
    pub message: String,
    pub details: Vec<ErrorDetail>,
}

/// An API error: a status, a code, a message for the caller and located details.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<ErrorDetail>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// A server fault: the cause is logged, the caller gets a generic message.
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> ApiError {
        eprintln!("otaplan serve: internal error: {context}: {cause}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error (logged)",
        )
    }
    pub fn with_details(mut self, details: Vec<ErrorDetail>) -> ApiError {
        self.details = details;
        self
    }
    /// Validation errors of a scenario, located as the CLI locates them; files the
    /// server wrote from a JSON body are named by their table.
    pub fn validation(message: impl Into<String>, d: &Diagnostics) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            message,
        )
        .with_details(d.errors().map(detail_of).collect())
    }
}

/// Maps a diagnostic on a materialised file (`devices.csv`) to its table (`devices`).
pub fn detail_of(d: &crate::diag::Diagnostic) -> ErrorDetail {
    let table = d
        .file
        .strip_suffix(".csv")
        .map(str::to_string)
        .unwrap_or_else(|| d.file.clone());
    ErrorDetail {
        table: Some(table),
        row: d.row,
        field: d.column.clone(),
        value: d.value.clone(),
        message: d.message.clone(),
        hint: d.hint.clone(),
        note: d.note.clone(),
    }
}

/// At most `n` characters of `s` (with "…" when cut): what the caller sent is echoed
/// in bounded pieces only.
pub fn cap(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

/// Details sent at most (one cause, one error keeps them few; a runaway body must not
/// make a runaway answer).
const MAX_DETAILS: usize = 100;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let details = self
            .details
            .into_iter()
            .take(MAX_DETAILS)
            .map(|mut d| {
                d.value = d.value.map(|v| cap(&v, 200));
                d.message = cap(&d.message, 500);
                d
            })
            .collect();
        let body = ErrorBody {
            error: ErrorInner {
                code: self.code.to_string(),
                message: cap(&self.message, 500),
                details,
            },
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}
