//! `GET /v1/plans/{id}/export/{target}`: a finished plan handed to a rollout system — the
//! same request bodies, calls and README that `otaplan export` writes, as one JSON
//! document. Only reads the plan folder; the export itself is `crate::handoff`'s.

use super::error::{ApiError, ErrorBody};
use super::{AppState, store};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// The CLI's `otaplan export` options, as query parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// AWS: thing ARN template holding `{device_id}`.
    pub thing_arn: Option<String>,
    /// AWS: the job document's URL (S3).
    pub document_source: Option<String>,
    /// AWS: STOP_ROLLOUT (default), CANCEL or FORCE_CANCEL.
    pub end_behavior: Option<String>,
    /// Job ids (AWS) and deployment names (Mender) start with this.
    pub prefix: Option<String>,
    /// Retries of a failed device inside its window (default 1).
    pub retries: Option<u32>,
    /// hawkBit: the release's distribution set.
    pub distribution_set_id: Option<String>,
    /// Mender: the release's artifact name.
    pub artifact_name: Option<String>,
}

/// The rollout systems a plan can be exported to (the path's `target`).
#[derive(Debug, Clone, Copy, ToSchema)]
#[schema(rename_all = "kebab-case")]
pub enum ExportTarget {
    AwsIotJobs,
    Hawkbit,
    Mender,
}

/// One request body, named as `otaplan export` names its file.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportFile {
    pub name: String,
    /// A JSON object or, for hawkBit's target assignments, an array.
    #[schema(value_type = Value)]
    pub body: serde_json::Value,
}

/// The export: the calls in order (`calls.json`), the bodies, and README.txt.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportView {
    pub target: String,
    #[schema(value_type = Vec<Object>)]
    pub calls: Vec<crate::handoff::Call>,
    pub files: Vec<ExportFile>,
    pub readme: String,
}

/// A finished plan's requests for AWS IoT Jobs, hawkBit or Mender.
#[utoipa::path(get, path = "/v1/plans/{id}/export/{target}",
    params(("id" = String, Path), ("target" = ExportTarget, Path, description = "the rollout system"), ExportQuery),
    responses((status = 200, body = ExportView),
        (status = 400, description = "a query option that cannot be read", body = ErrorBody),
        (status = 404, description = "no such plan, or no such export target", body = ErrorBody),
        (status = 422, description = "an option or a window the target cannot hold", body = ErrorBody), (status = 409, description = "the plan is not finished", body = ErrorBody)))]
pub async fn get_export(
    State(st): State<Arc<AppState>>,
    UrlPath((id, target)): UrlPath<(String, String)>,
    q: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Json<ExportView>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let Some(target) = crate::handoff::Target::parse(&target) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_target",
            format!("no export target {target:?}: aws-iot-jobs, hawkbit or mender"),
        ));
    };
    if st.store.status(&id)?.status != store::State::Done {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_ready",
            "the plan is not finished",
        ));
    }
    let dir = st.store.dir(&id)?.join("plan");
    let defaults = crate::handoff::Options::default();
    let opts = crate::handoff::Options {
        thing_arn: q.thing_arn.unwrap_or(defaults.thing_arn),
        document_source: q.document_source,
        document: None,
        end_behavior: q.end_behavior.unwrap_or(defaults.end_behavior),
        name_prefix: q.prefix,
        retries: q.retries.unwrap_or(defaults.retries),
        distribution_set_id: q.distribution_set_id,
        artifact_name: q.artifact_name,
    };
    let made = st
        .work
        .run(move || {
            let plan = crate::handoff::read_plan_dir(&dir)
                .map_err(|e| ApiError::internal("reading the plan", e))?;
            let e = crate::handoff::export(&plan, target, &opts)
                .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "cannot_export", m))?;
            let files = e
                .files
                .iter()
                .map(|(name, text)| {
                    serde_json::from_str(text)
                        .map(|body| ExportFile {
                            name: name.clone(),
                            body,
                        })
                        .map_err(|err| ApiError::internal("exporting", err))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ExportView {
                target: target.name().into(),
                readme: crate::handoff::readme(&plan, &e),
                calls: e.calls,
                files,
            })
        })
        .await?;
    made.map(Json)
}
