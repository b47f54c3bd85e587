//! The routes and their handlers: each reads the request, asks `jobs`/`store`/`tables`
//! and answers with JSON (or the plan's CSV/HTML files as written). States are
//! distinct: a plan's sub-resources are `409 not_ready` (with `Retry-After`) while it is
//! queued or solving and `410 plan_failed` (with the reason) once it failed.

use super::body::{self, ReplanRequest, ScenarioBody, ScenarioDirBody};
use super::error::{ApiError, ErrorDetail};
use super::jobs::{AppState, NewPlan};
use super::store::{self, State, Status};
use super::{callback, middleware};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path as UrlPath, Query, State as Ctx};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};

/// Seconds a poller is told to wait before asking again.
const POLL_AFTER: u64 = 2;

/// The router with every route, limit and middleware.
pub fn router(state: Arc<AppState>) -> axum::Router {
    let app = axum::Router::new()
        .route("/v1/plans", post(create_plan).get(list_plans))
        .route("/v1/plans/{id}", get(get_plan).delete(delete_plan))
        .route("/v1/plans/{id}/devices", get(get_devices))
        .route("/v1/plans/{id}/unscheduled", get(get_unscheduled))
        .route("/v1/plans/{id}/report", get(get_report))
        .route(
            "/v1/plans/{id}/export/{target}",
            get(super::export::get_export),
        )
        .route("/v1/plans/{id}/replan", post(replan))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi_json))
        .merge(health_routes());
    fallbacks(app, "no such route")
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::auth,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .with_state(state)
}

/// JSON 404 (`no_route`) and 405 answers for what `routes` does not serve.
fn fallbacks(
    routes: axum::Router<Arc<AppState>>,
    no_route: &'static str,
) -> axum::Router<Arc<AppState>> {
    routes
        .fallback(move || async move { ApiError::not_found(no_route) })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
}

/// The health probes (no token).
fn health_routes() -> axum::Router<Arc<AppState>> {
    axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The health probes alone, for the health listener (`--health-bind`): the same routes
/// and middleware as in `router`, nothing else.
pub fn health_router(state: Arc<AppState>) -> axum::Router {
    fallbacks(health_routes(), "this listener serves /healthz and /readyz")
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .with_state(state)
}

/// Where the planner is with a plan that is not finished.
#[derive(Debug, Serialize, ToSchema)]
pub struct Progress {
    /// Plans ahead of this one in the queue (0 = next), while queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<usize>,
    /// The planner's current step, while solving.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

/// A plan's status, where it is while unfinished, and its summary.json once done.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    #[serde(flatten)]
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// summary.json (the CLI's), when done. Its `scheduled` rows are the devices
    /// route's `total`; `scheduled + unscheduled` = `devices` (`up_to_date` devices
    /// are among the unscheduled).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub summary: Option<serde_json::Value>,
}

fn view(st: &AppState, id: &str) -> Result<PlanView, ApiError> {
    let status = st.store.status(id)?;
    let summary = if status.status == State::Done {
        let path = st.store.dir(id)?.join("plan/summary.json");
        let text = std::fs::read_to_string(path)
            .map_err(|e| ApiError::internal("reading summary.json", e))?;
        Some(
            serde_json::from_str(&text)
                .map_err(|e| ApiError::internal("parsing summary.json", e))?,
        )
    } else {
        None
    };
    let progress = (!status.status.is_terminal()).then(|| {
        let (queue_position, step) = st.progress(id);
        Progress {
            queue_position,
            step,
        }
    });
    Ok(PlanView {
        status,
        progress,
        summary,
    })
}

/// A plan's view answered with `code`: read and serialised on the work pool.
async fn view_answer(st: &Arc<AppState>, id: &str, code: StatusCode) -> Result<Response, ApiError> {
    let (st2, id) = (st.clone(), id.to_string());
    st.work
        .run(move || Ok(view_response(code, view(&st2, &id)?)))
        .await?
}

/// The view with `Location`, and `Retry-After` while the plan is unfinished.
fn view_response(code: StatusCode, v: PlanView) -> Response {
    let mut r = (code, Json(&v)).into_response();
    let h = r.headers_mut();
    if let Ok(loc) = HeaderValue::from_str(&format!("/v1/plans/{}", v.status.id)) {
        h.insert(header::LOCATION, loc);
    }
    if !v.status.status.is_terminal() {
        h.insert(header::RETRY_AFTER, HeaderValue::from(POLL_AFTER));
    }
    r
}

/// The folder of a finished plan; 409 while unfinished, 410 once failed.
fn finished(st: &AppState, id: &str) -> Result<PathBuf, ApiError> {
    let status = st.store.status(id)?;
    match status.status {
        State::Done => st.store.dir(id),
        State::Failed => Err(ApiError::plan_failed(status.error.as_deref())),
        s => {
            let mut e = ApiError::new(
                StatusCode::CONFLICT,
                "not_ready",
                format!(
                    "the plan is {}; retry later",
                    format!("{s:?}").to_lowercase()
                ),
            );
            e.retry_after = Some(POLL_AFTER);
            Err(e)
        }
    }
}

/// The request's `Idempotency-Key`: 1–128 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match v.to_str() {
        Ok(k) if (1..=128).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(k.to_string()))
        }
        _ => Err(ApiError::bad_request(
            "invalid_header",
            "Idempotency-Key must be 1–128 visible ASCII characters",
        )),
    }
}

/// 415 unless the body is declared JSON.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|m| m == "application/json" || m.ends_with("+json"));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be sent as Content-Type: application/json",
        ))
    }
}

/// Reads a body of at most `limit` bytes (413 beyond).
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the body is larger than the server accepts",
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let inner = e.into_inner();
        if inner
            .downcast_ref::<http_body_util::LengthLimitError>()
            .is_some()
        {
            too_large()
        } else {
            ApiError::bad_request("invalid_body", format!("the body cannot be read: {inner}"))
        }
    })
}

/// The media type to answer with: the best of `offers` by the request's `Accept`
/// (q-values honoured, `q=0` excludes), the first offer when there is none; 406 when
/// none is acceptable.
fn negotiate(headers: &HeaderMap, offers: &[&'static str]) -> Result<&'static str, ApiError> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim();
    if accept.is_empty() {
        return Ok(offers[0]);
    }
    let ranges: Vec<(String, f32)> = accept
        .split(',')
        .filter_map(|r| {
            let mut parts = r.split(';');
            let media = parts.next()?.trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            Some((media, q))
        })
        .collect();
    let q_of = |offer: &str| -> f32 {
        let (ty, _) = offer.split_once('/').unwrap_or((offer, ""));
        let specificity = |m: &str| {
            if m == offer {
                Some(3)
            } else if m == format!("{ty}/*") {
                Some(2)
            } else if m == "*/*" {
                Some(1)
            } else {
                None
            }
        };
        ranges
            .iter()
            .filter_map(|(m, q)| specificity(m).map(|s| (s, *q)))
            .max_by_key(|(s, _)| *s)
            .map_or(0.0, |(_, q)| q)
    };
    let mut best: Option<(&'static str, f32)> = None;
    for &o in offers {
        let q = q_of(o);
        if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((o, q));
        }
    }
    best.map(|(o, _)| o).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "not_acceptable",
            format!("this resource is available as {}", offers.join(" or ")),
        )
    })
}

/// Answers a submitted plan: 201 once solved when small enough to wait for, else 202.
async fn answer(
    st: &Arc<AppState>,
    id: &str,
    job: tokio::task::JoinHandle<()>,
    devices: usize,
) -> Result<Response, ApiError> {
    if devices <= st.cfg.sync_devices {
        let wait = st
            .cfg
            .request_timeout
            .saturating_sub(Duration::from_secs(1));
        if tokio::time::timeout(wait, job).await.is_ok() {
            return view_answer(st, id, StatusCode::CREATED).await;
        }
    }
    view_answer(st, id, StatusCode::ACCEPTED).await
}

/// The plan an earlier request with the same `Idempotency-Key` made, when this one
/// sends the same body (422 otherwise).
async fn replayed(
    st: &Arc<AppState>,
    id: &str,
    digest: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(headers, body, st.cfg.max_body_bytes).await?;
    if st.work.run(move || super::jobs::digest(&bytes)).await? != digest {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_mismatch",
            "this Idempotency-Key was used with another body",
        ));
    }
    let mut r = view_answer(st, id, StatusCode::OK).await?;
    r.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(r)
}

/// Plan a scenario.
///
/// Small scenarios (up to the server's `sync_devices`) are solved before the answer
/// (201 with the summary); larger ones are queued (202; poll the `Location`). With an
/// `Idempotency-Key` a retried request answers 200 with the plan the first one made.
#[utoipa::path(post, path = "/v1/plans", request_body = body::PlanRequest,
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 128, pattern = "^[!-~]{1,128}$", description = "makes a retried POST return the first one's plan")),
    responses(
    (status = 200, description = "made earlier with this Idempotency-Key", body = PlanView),
    (status = 201, description = "planned", body = PlanView),
    (status = 202, description = "queued (see Location, Retry-After)", body = PlanView),
    (status = 400, description = "malformed body, header or path escape", body = ErrorBody),
    (status = 404, description = "no such scenario folder", body = ErrorBody),
    (status = 409, description = "a request with this Idempotency-Key is running", body = ErrorBody),
    (status = 413, description = "body too large", body = ErrorBody),
    (status = 415, description = "not JSON", body = ErrorBody),
    (status = 422, description = "the scenario is not valid", body = ErrorBody),
    (status = 503, description = "queue full or shutting down (see Retry-After)", body = ErrorBody),
))]
pub async fn create_plan(
    Ctx(st): Ctx<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let mut claim = match st.claim_key(idempotency_key(&headers)?)? {
        Ok(c) => c,
        Err((id, digest)) => return replayed(&st, &id, &digest, &headers, body).await,
    };
    let slot = st.reserve()?;
    let bytes = read_body(&headers, body, st.cfg.max_body_bytes).await?;
    let (digest, submitted) = st.work.run(move || read_submitted(&bytes)).await??;
    claim.digest = digest;
    let id = st.store.new_id();
    let input = st.store.new_dir(&id).join("input");
    let (written, callback_url) = match submitted {
        Submitted::Dir(req) => {
            check_callback(&st, req.callback_url.as_deref())?;
            let Some(root) = st.cfg.scenario_root.clone() else {
                return Err(ApiError::bad_request(
                    "path_escape",
                    "this server reads no scenario folders (no --scenario-root)",
                ));
            };
            let src = store::resolve_inside(&root, &req.scenario_dir)?;
            let copied =
                tokio::task::spawn_blocking(move || store::copy_scenario(&root, &src, &input))
                    .await
                    .map_err(|e| ApiError::internal("copying a scenario", e))?;
            (copied, req.callback_url)
        }
        Submitted::Inline(req) => {
            check_callback(&st, req.callback_url.as_deref())?;
            let url = req.callback_url.clone();
            let written = tokio::task::spawn_blocking(move || body::materialise(&req, &input))
                .await
                .map_err(|e| ApiError::internal("writing a scenario", e))?;
            (written, url)
        }
    };
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(st.store.new_dir(&id));
        return Err(e);
    }
    let new = NewPlan {
        id: id.clone(),
        parent: None,
        now: None,
        callback_url,
    };
    let (job, devices) = st.submit(slot, claim, new).await?;
    answer(&st, &id, job, devices).await
}

/// A POST /v1/plans body: a folder under the scenario root, or the scenario itself.
enum Submitted {
    Dir(ScenarioDirBody),
    Inline(Box<ScenarioBody>),
}

/// The body's SHA-256 and what it asks for (CPU work: run on the work pool).
fn read_submitted(bytes: &[u8]) -> Result<(String, Submitted), ApiError> {
    let digest = super::jobs::digest(bytes);
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("the body is not JSON: {e}")))?;
    let submitted = if value.get("scenario_dir").is_some() {
        Submitted::Dir(body::parse(bytes)?)
    } else {
        Submitted::Inline(Box::new(body::parse(bytes)?))
    };
    Ok((digest, submitted))
}

fn check_callback(st: &AppState, url: Option<&str>) -> Result<(), ApiError> {
    url.map_or(Ok(()), |u| callback::check_url(u, &st.cfg))
}

/// Re-plan the rest of a paused rollout from progress rows and `now`.
#[utoipa::path(post, path = "/v1/plans/{id}/replan", request_body = ReplanRequest,
    params(("id" = String, Path, description = "the parent plan", pattern = "^[0-9a-z-]{1,64}$", max_length = 64),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 128, pattern = "^[!-~]{1,128}$")),
    responses(
    (status = 200, description = "made earlier with this Idempotency-Key", body = PlanView),
    (status = 201, description = "re-planned", body = PlanView),
    (status = 202, description = "queued (see Location, Retry-After)", body = PlanView),
    (status = 400, description = "malformed body or header", body = ErrorBody),
    (status = 404, description = "no such plan", body = ErrorBody),
    (status = 409, description = "a request with this Idempotency-Key is running", body = ErrorBody),
    (status = 413, description = "body too large", body = ErrorBody),
    (status = 415, description = "not JSON", body = ErrorBody),
    (status = 422, description = "bad progress or now", body = ErrorBody),
    (status = 503, description = "queue full or shutting down", body = ErrorBody),
))]
pub async fn replan(
    Ctx(st): Ctx<Arc<AppState>>,
    UrlPath(parent): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let parent_dir = st.store.dir(&parent)?;
    require_json(&headers)?;
    let mut claim = match st.claim_key(idempotency_key(&headers)?)? {
        Ok(c) => c,
        Err((id, digest)) => return replayed(&st, &id, &digest, &headers, body).await,
    };
    let slot = st.reserve()?;
    let bytes = read_body(&headers, body, st.cfg.max_body_bytes).await?;
    let (digest, req) = st
        .work
        .run(move || Ok::<_, ApiError>((super::jobs::digest(&bytes), body::parse(&bytes)?)))
        .await??;
    claim.digest = digest;
    let req: ReplanRequest = req;
    if let Err(msg) = crate::ingest::table::parse_instant(&req.now) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "the re-plan is not valid",
        )
        .with_details(vec![ErrorDetail {
            table: Some("request".into()),
            row: None,
            field: Some("now".into()),
            value: Some(req.now.clone()),
            message: msg,
            hint: Some("RFC 3339 with an offset, e.g. 2027-03-25T00:00:00Z".into()),
            note: None,
        }]));
    }
    check_callback(&st, req.callback_url.as_deref())?;
    let id = st.store.new_id();
    let dir = st.store.new_dir(&id);
    let copied = {
        let (src, dir) = (parent_dir.clone(), dir.clone());
        let progress = body::progress_csv(&req.progress);
        tokio::task::spawn_blocking(move || {
            store::copy_dir(&src.join("input"), &dir.join("input"))?;
            let summary = src.join("plan").join("summary.json");
            if summary.is_file() {
                let text = std::fs::read(&summary)?;
                let original = dir.join(super::jobs::ORIGINAL_SUMMARY);
                crate::fsutil::write_atomic(&original, &text)?;
            }
            crate::fsutil::write_atomic(&dir.join("progress.csv"), progress.as_bytes())
        })
        .await
        .map_err(|e| ApiError::internal("copying a plan's input", e))?
    };
    if let Err(e) = copied {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(ApiError::internal("copying a plan's input", e));
    }
    let new = NewPlan {
        id: id.clone(),
        parent: Some(parent),
        now: Some(req.now),
        callback_url: req.callback_url,
    };
    let (job, devices) = st.submit(slot, claim, new).await?;
    answer(&st, &id, job, devices).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// First plan (0-based, newest first).
    #[serde(default)]
    #[param(minimum = 0, maximum = 1000000000)]
    pub offset: usize,
    /// Plans per page (1–1000, default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// Only plans in this state.
    #[serde(default)]
    pub state: Option<State>,
}

/// A page of plans, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanList {
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub plans: Vec<Status>,
}

fn page_bounds(offset: usize, limit: Option<usize>, max: usize) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(100);
    if !(1..=max).contains(&limit) || offset > 1_000_000_000 {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be 1–{max} and offset at most 1000000000"),
        ));
    }
    Ok(limit)
}

/// The plans kept, newest first, optionally only those in one state.
#[utoipa::path(get, path = "/v1/plans", params(ListQuery), responses(
    (status = 200, body = PlanList), (status = 400, body = ErrorBody)))]
pub async fn list_plans(
    Ctx(st): Ctx<Arc<AppState>>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<PlanList>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = page_bounds(q.offset, q.limit, 1000)?;
    let st2 = st.clone();
    let mut plans = tokio::task::spawn_blocking(move || st2.store.list())
        .await
        .map_err(|e| ApiError::internal("listing plans", e))?;
    plans.retain(|p| q.state.is_none_or(|s| p.status == s));
    plans.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let total = plans.len();
    let plans = plans.into_iter().skip(q.offset).take(limit).collect();
    Ok(Json(PlanList {
        total,
        offset: q.offset,
        limit,
        plans,
    }))
}

/// A plan's status (with progress and `Retry-After` while unfinished); its
/// summary.json when done.
#[utoipa::path(get, path = "/v1/plans/{id}",
    params(("id" = String, Path, pattern = "^[0-9a-z-]{1,64}$", max_length = 64)), responses(
    (status = 200, body = PlanView), (status = 404, body = ErrorBody)))]
pub async fn get_plan(
    Ctx(st): Ctx<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    view_answer(&st, &id, StatusCode::OK).await
}

/// Delete a plan; a queued or running one is cancelled first.
#[utoipa::path(delete, path = "/v1/plans/{id}",
    params(("id" = String, Path, pattern = "^[0-9a-z-]{1,64}$", max_length = 64)), responses(
    (status = 204, description = "deleted (and cancelled if unfinished)"),
    (status = 404, body = ErrorBody)))]
pub async fn delete_plan(
    Ctx(st): Ctx<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> Result<StatusCode, ApiError> {
    let st2 = st.clone();
    tokio::task::spawn_blocking(move || st2.delete(&id))
        .await
        .map_err(|e| ApiError::internal("deleting a plan", e))??;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// First row (0-based).
    #[serde(default)]
    #[param(minimum = 0, maximum = 1000000000)]
    pub offset: usize,
    /// Rows per page (1–10000, default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<usize>,
}

/// A page of a plan's table (plan.csv or unscheduled.csv); written by
/// `tables::RowsIndex::page_json`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RowsPage {
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    /// Rows with the file's columns in its order; empty cells are null; bytes,
    /// p_success and throughput are numbers.
    #[schema(value_type = Vec<Object>)]
    pub devices: Vec<serde_json::Value>,
}

/// A page of a finished plan's table as JSON, or the whole file as CSV.
async fn table_response(
    st: &Arc<AppState>,
    id: &str,
    file: &'static str,
    headers: &HeaderMap,
    q: Result<Query<Page>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(page) = q.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = page_bounds(page.offset, page.limit, 10_000)?;
    let media = negotiate(headers, &["application/json", "text/csv"])?;
    let path = finished(st, id)?.join("plan").join(file);
    if media == "text/csv" {
        let text = tokio::fs::read(&path)
            .await
            .map_err(|e| ApiError::internal("reading a plan table", e))?;
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], text).into_response());
    }
    let table = st.tables.get(&st.work, id, file, path).await?;
    let json = table.page_json(page.offset, limit);
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

/// The per-device plan: paginated JSON (plan.csv's columns in order), or the whole
/// plan.csv with `Accept: text/csv`.
#[utoipa::path(get, path = "/v1/plans/{id}/devices",
    params(("id" = String, Path, pattern = "^[0-9a-z-]{1,64}$", max_length = 64), Page), responses(
    (status = 200, description = "a page of rows (JSON), or plan.csv with Accept: text/csv",
        content((RowsPage = "application/json"), (String = "text/csv"))),
    (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 406, body = ErrorBody),
    (status = 409, description = "the plan is queued or solving (see Retry-After)", body = ErrorBody),
    (status = 410, description = "the plan failed (the reason in the message)", body = ErrorBody)))]
pub async fn get_devices(
    Ctx(st): Ctx<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    q: Result<Query<Page>, QueryRejection>,
) -> Result<Response, ApiError> {
    table_response(&st, &id, "plan.csv", &headers, q).await
}

/// The devices the plan could not schedule and why: paginated JSON (`device_id`,
/// `reason`), or the whole unscheduled.csv with `Accept: text/csv`.
#[utoipa::path(get, path = "/v1/plans/{id}/unscheduled",
    params(("id" = String, Path, pattern = "^[0-9a-z-]{1,64}$", max_length = 64), Page), responses(
    (status = 200, description = "a page of rows (JSON), or unscheduled.csv with Accept: text/csv",
        content((RowsPage = "application/json"), (String = "text/csv"))),
    (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 406, body = ErrorBody),
    (status = 409, description = "the plan is queued or solving (see Retry-After)", body = ErrorBody),
    (status = 410, description = "the plan failed", body = ErrorBody)))]
pub async fn get_unscheduled(
    Ctx(st): Ctx<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    q: Result<Query<Page>, QueryRejection>,
) -> Result<Response, ApiError> {
    table_response(&st, &id, "unscheduled.csv", &headers, q).await
}

/// The HTML finance report the server writes with every finished plan.
#[utoipa::path(get, path = "/v1/plans/{id}/report",
    params(("id" = String, Path, pattern = "^[0-9a-z-]{1,64}$", max_length = 64)), responses(
    (status = 200, body = String, content_type = "text/html"),
    (status = 404, description = "no such plan, or no report", body = ErrorBody),
    (status = 409, description = "the plan is queued or solving", body = ErrorBody),
    (status = 410, description = "the plan failed", body = ErrorBody)))]
pub async fn get_report(
    Ctx(st): Ctx<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    let path = finished(&st, &id)?.join("plan").join("report.html");
    match tokio::fs::read(&path).await {
        Ok(html) => {
            Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
        }
        Err(_) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "report_not_available",
            "this plan has no report",
        )),
    }
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200, body = String)))]
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: admitting plans (503 from the shutdown signal on, while in-flight
/// requests drain).
#[utoipa::path(get, path = "/readyz", security(()), responses(
    (status = 200, body = String), (status = 503, body = ErrorBody)))]
pub async fn readyz(Ctx(st): Ctx<Arc<AppState>>) -> Result<&'static str, ApiError> {
    if st.is_shutting_down() {
        Err(super::jobs::shutting_down())
    } else {
        Ok("ready\n")
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", responses((status = 200, body = String, content_type = "text/plain")))]
pub async fn metrics_text(Ctx(st): Ctx<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(),
    )
        .into_response()
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, body = Object)))]
pub async fn openapi_json() -> Response {
    static DOC: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let doc =
        DOC.get_or_init(|| serde_json::to_vec(&super::openapi::document()).unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], doc.as_slice()).into_response()
}

use super::error::ErrorBody;
