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
    /// A request for the outputs of a plan that failed, with the reason its status
    /// records (see [`JobFailure`]).
    pub fn plan_failed(reason: Option<&str>) -> ApiError {
        ApiError::new(
            StatusCode::GONE,
            "plan_failed",
            format!(
                "the plan failed: {}",
                reason.unwrap_or("no reason recorded")
            ),
        )
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

/// Why an accepted plan failed: its failed state's reason (`error` in its status), which
/// every later request for its outputs gets back as `410 plan_failed`
/// ([`ApiError::plan_failed`]). Bad input and "no feasible plan" say what is wrong; an
/// internal fault is logged with its cause chain and recorded only as "(logged)".
#[derive(Debug, thiserror::Error)]
pub enum JobFailure {
    /// The stored input (or a re-plan's progress) no longer validates.
    #[error("the stored input is not valid: {}", .0.tally())]
    StoredInput(Diagnostics),
    /// The input cannot be planned as given: its coverage, or progress that
    /// contradicts the scenario.
    #[error("{0}")]
    BadInput(Diagnostics),
    /// The scenario admits no plan: infeasible, or none found within the time limit.
    #[error("{0}")]
    NoPlan(#[source] crate::plan::SolveError),
    /// Restarts interrupted its solve this many times.
    #[error("interrupted by {0} restarts; not queued again")]
    Interrupted(u32),
    /// A fault of ours or of the solver (unbounded model, crash, panic, write failure).
    #[error("{what} (logged)")]
    Internal {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl JobFailure {
    pub fn internal(
        what: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> JobFailure {
        JobFailure::Internal {
            what,
            source: source.into(),
        }
    }

    /// The reason the failed state records; an internal fault's cause chain is logged
    /// here, once.
    pub fn reason(&self, plan: &str) -> String {
        if let JobFailure::Internal { what, source } = self {
            let mut line = format!("otaplan serve: plan {plan}: {what}: {source}");
            let mut cause = source.source();
            while let Some(c) = cause {
                line.push_str(&format!(": {c}"));
                cause = c.source();
            }
            eprintln!("{line}");
        }
        self.to_string()
    }
}

impl From<crate::plan::PlanError> for JobFailure {
    fn from(e: crate::plan::PlanError) -> Self {
        use crate::plan::{PlanError, SolveError};
        match e {
            PlanError::Input { diagnostics } => JobFailure::BadInput(diagnostics),
            PlanError::Solve {
                source: source @ (SolveError::Infeasible | SolveError::NoSolutionInTime(_)),
            } => JobFailure::NoPlan(source),
            PlanError::Solve { source } => JobFailure::internal("the solve failed", source),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{PlanError, SolveError};

    fn check(e: PlanError, expected: &str) {
        assert_eq!(JobFailure::from(e).reason("p1"), expected);
    }

    #[test]
    fn failures_record_what_the_caller_can_act_on() {
        check(
            PlanError::Solve {
                source: SolveError::Infeasible,
            },
            "the model is infeasible",
        );
        check(
            PlanError::Solve {
                source: SolveError::NoSolutionInTime(5.0),
            },
            "no feasible plan was found within the time limit of 5 s",
        );
        // Internal faults: logged, recorded without their details.
        check(
            PlanError::Solve {
                source: SolveError::Solver("HiGHS crashed".into()),
            },
            "the solve failed (logged)",
        );
        check(
            PlanError::Solve {
                source: SolveError::Unbounded,
            },
            "the solve failed (logged)",
        );
        let mut d = Diagnostics::default();
        d.push(crate::diag::Diagnostic::error("progress.csv", "unknown device").row(2));
        let diagnostics = d.clone();
        check(PlanError::Input { diagnostics }, &d.to_string());
        assert_eq!(
            JobFailure::StoredInput(d).reason("p1"),
            "the stored input is not valid: 1 error, 0 warnings"
        );
        let write = std::io::Error::other("disk full");
        assert_eq!(
            JobFailure::internal("the plan could not be written", write).reason("p1"),
            "the plan could not be written (logged)"
        );
        let e = ApiError::plan_failed(Some("the model is infeasible"));
        assert_eq!((e.status, e.code), (StatusCode::GONE, "plan_failed"));
        assert_eq!(e.message, "the plan failed: the model is infeasible");
    }
}
