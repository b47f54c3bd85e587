//! The HTTP service (`otaplan serve`): the only module that knows HTTP. It stores what
//! it is given under the data directory, validates through `ingest` exactly as the CLI
//! does, and runs solves off the async runtime behind a concurrency limit. It computes
//! nothing itself.

pub mod body;
pub mod error;
pub mod export;
pub mod metrics;
pub mod store;

use crate::diag::{Diagnostic, Diagnostics};
use crate::ingest::{self, Loaded};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use body::{PlanRequest, ReplanRequest, ScenarioBody, ScenarioDirBody};
use error::{ApiError, ErrorBody};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use store::{Status, Store};
use tokio::sync::Semaphore;
use utoipa::{IntoParams, OpenApi, ToSchema};

/// What `otaplan serve` was told (resolved from the command line).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    /// Folders a request may name with `scenario_dir`; none = such requests are refused.
    pub scenario_root: Option<PathBuf>,
    /// The bearer token; none = no authentication (loopback only).
    pub token: Option<String>,
    /// Solves running at once.
    pub max_solves: usize,
    /// Plans waiting for a solver beyond those running; more is 503.
    pub queue: usize,
    /// Scenarios with at most this many devices are answered synchronously (201).
    pub sync_devices: usize,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// Solver threads per solve.
    pub threads: u32,
    /// Solver time limit per solve, seconds.
    pub time_limit: Option<f64>,
}

impl ServerConfig {
    pub fn new(data_dir: PathBuf) -> ServerConfig {
        ServerConfig {
            data_dir,
            scenario_root: None,
            token: None,
            max_solves: 2,
            queue: 8,
            sync_devices: 2000,
            max_body_bytes: 64 << 20,
            request_timeout: Duration::from_secs(120),
            threads: 1,
            time_limit: None,
        }
    }
}

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on {0} (not loopback) without a token: pass --token-file or set OTAPLAN_TOKEN"
    )]
    NoToken(SocketAddr),
    #[error("cannot open the data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("the server failed: {0}")]
    Io(std::io::Error),
}

/// Shared state of the handlers.
#[derive(Debug)]
pub struct AppState {
    cfg: ServerConfig,
    store: Store,
    solvers: Semaphore,
    /// Plans admitted and not finished (queued + solving).
    pending: AtomicUsize,
    shutting_down: AtomicBool,
    pub metrics: metrics::Metrics,
}

impl AppState {
    /// Opens the data directory (failing plans a previous process left unfinished).
    pub fn open(cfg: ServerConfig) -> Result<Arc<AppState>, ServeError> {
        let store =
            Store::open(&cfg.data_dir).map_err(|e| ServeError::DataDir(cfg.data_dir.clone(), e))?;
        Ok(Arc::new(AppState {
            solvers: Semaphore::new(cfg.max_solves.max(1)),
            cfg,
            store,
            pending: AtomicUsize::new(0),
            shutting_down: AtomicBool::new(false),
            metrics: metrics::Metrics::default(),
        }))
    }

    /// Stops admitting plans, fails those still queued and waits (up to `grace`) for
    /// running solves to finish and write their outputs.
    pub async fn drain(&self, grace: Duration) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.solvers.close();
        let until = tokio::time::Instant::now() + grace;
        while self.pending.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "otaplan", description = "Plans when each device of a fleet downloads a firmware release."),
    paths(create_plan, get_plan, get_devices, get_report, export::get_export, replan, healthz, readyz, metrics_text, openapi_json),
    components(schemas(PlanRequest, ScenarioBody, ScenarioDirBody, ReplanRequest, body::ProgressRow, PlanView, Status, store::State, DevicesPage, ErrorBody)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;
impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let comps = doc.components.get_or_insert_with(Default::default);
        comps.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // What the middleware may answer on any route: keep the document true.
        let error = |desc: &str| {
            utoipa::openapi::ResponseBuilder::new()
                .description(desc)
                .content(
                    "application/json",
                    utoipa::openapi::ContentBuilder::new()
                        .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in doc.paths.paths.iter_mut() {
            let open = path == "/healthz" || path == "/readyz";
            for op in [&mut item.get, &mut item.post].into_iter().flatten() {
                let r = &mut op.responses.responses;
                if !open {
                    r.entry("401".into())
                        .or_insert_with(|| error("no or wrong bearer token").into());
                }
                r.entry("408".into())
                    .or_insert_with(|| error("the request timed out").into());
            }
        }
    }
}

/// The router with every route, limit and middleware.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.cfg.max_body_bytes;
    Router::new()
        .route("/v1/plans", post(create_plan))
        .route("/v1/plans/{id}", get(get_plan))
        .route("/v1/plans/{id}/devices", get(get_devices))
        .route("/v1/plans/{id}/report", get(get_report))
        .route("/v1/plans/{id}/export/{target}", get(export::get_export))
        .route("/v1/plans/{id}/replan", post(replan))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi_json))
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Listens on `bind` until ctrl-c or SIGTERM, then drains.
pub async fn serve(cfg: ServerConfig, bind: SocketAddr) -> Result<(), ServeError> {
    if !bind.ip().is_loopback() && cfg.token.is_none() {
        return Err(ServeError::NoToken(bind));
    }
    let state = AppState::open(cfg)?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| ServeError::Bind(bind, e))?;
    eprintln!(
        "otaplan serve: listening on http://{}",
        listener.local_addr().map_err(ServeError::Io)?
    );
    axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(ServeError::Io)?;
    eprintln!("otaplan serve: shutting down; waiting for running solves");
    state.drain(Duration::from_secs(300)).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Times every request, counts it by route and status, and bounds it by the timeout.
async fn observe(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().to_string();
    let t0 = std::time::Instant::now();
    let resp = match tokio::time::timeout(st.cfg.request_timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            "the request took longer than the server's request timeout",
        )
        .into_response(),
    };
    st.metrics.request(
        &method,
        &route,
        resp.status().as_u16(),
        t0.elapsed().as_secs_f64(),
    );
    resp
}

/// Bearer-token check on every route but the health probes.
async fn auth(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path == "/healthz" || path == "/readyz" {
        return next.run(req).await;
    }
    if let Some(token) = &st.cfg.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same(given.as_bytes(), token.as_bytes()) {
            let mut resp = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid bearer token is required",
            )
            .into_response();
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            return resp;
        }
    }
    next.run(req).await
}

/// Compares without an early exit on the first differing byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn body_bytes(b: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    b.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the body is larger than the server accepts",
            )
        } else {
            ApiError::bad_request("invalid_body", format!("the body cannot be read: {e}"))
        }
    })
}

/// A plan's status, and its summary.json once done.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    #[serde(flatten)]
    pub status: Status,
    /// summary.json (the CLI's), when done.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub summary: Option<serde_json::Value>,
}

fn view(st: &AppState, id: &str) -> Result<PlanView, ApiError> {
    let status = st.store.status(id)?;
    let summary = if status.status == store::State::Done {
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
    Ok(PlanView { status, summary })
}

/// `now` and the progress rows of a re-plan, validated.
type ReplanInput = (crate::units::Instant, Vec<crate::plan::Progress>);

/// What a solve needs, validated before it is admitted.
struct Job {
    id: String,
    dir: PathBuf,
    loaded: Loaded,
    replan: Option<ReplanInput>,
}

/// Reads and validates a stored input (and progress), as the CLI does.
fn validate(
    dir: &Path,
    replan: Option<&str>,
) -> Result<(Loaded, Option<ReplanInput>), Diagnostics> {
    let loaded = ingest::read_scenario(&dir.join("input"))?;
    let Some(now) = replan else {
        return Ok((loaded, None));
    };
    let now_at = ingest::table::parse_instant(now)
        .map_err(|msg| Diagnostics(vec![Diagnostic::error("now", msg).value(now.to_string())]))?;
    if now_at >= loaded.scenario.deadline {
        return Err(Diagnostics(vec![
            Diagnostic::error(
                "now",
                "is not before the scenario's deadline: nothing is left to plan",
            )
            .value(now.to_string()),
        ]));
    }
    let progress = ingest::progress::read_progress(&dir.join("progress.csv"), &loaded.scenario)?;
    Ok((loaded, Some((now_at, progress))))
}

/// Solves and writes a plan (blocking; runs on a blocking thread).
fn solve(job: &Job, cfg: &ServerConfig) -> Result<(), String> {
    let coverage = crate::coverage::load(&job.loaded).map_err(|d| d.to_string())?;
    let s = &job.loaded.scenario;
    let solve = crate::plan::SolveOptions {
        time_limit_seconds: cfg.time_limit,
        threads: cfg.threads,
    };
    let replan = match &job.replan {
        None => None,
        Some((now, progress)) => {
            let original = crate::plan::plan(
                s,
                &coverage,
                &crate::plan::PlanOptions {
                    solve,
                    skip_baselines: true,
                    ..Default::default()
                },
                &|_| {},
            )
            .map_err(|e| format!("the original plan cannot be made: {e}"))?;
            Some(crate::plan::Replan {
                now: *now,
                progress: progress.clone(),
                original_gates: original.waves.iter().map(|w| w.gate).collect(),
            })
        }
    };
    let t0 = std::time::Instant::now();
    let plan = crate::plan::plan(
        s,
        &coverage,
        &crate::plan::PlanOptions {
            solve,
            keep_models: false,
            skip_baselines: false,
            replan,
        },
        &|_| {},
    )
    .map_err(|e| e.to_string())?;
    let timings = crate::output::Timings {
        plan_seconds: t0.elapsed().as_secs_f64(),
        ..Default::default()
    };
    let out = job.dir.join("plan");
    crate::output::write_plan(&out, s, &plan, coverage.source, timings)
        .and_then(|_| {
            let input = crate::output::report_input(s, &plan, coverage.source)?;
            crate::output::write_report(&out, &input)
        })
        .map_err(|e| {
            eprintln!(
                "otaplan serve: plan {}: cannot write the outputs: {e}",
                job.id
            );
            "the plan could not be written (logged)".to_string()
        })
}

fn queue_full() -> ApiError {
    let mut e = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "queue_full",
        "every solver is busy and the queue is full; retry later",
    );
    e.retry_after = Some(5);
    e
}

impl AppState {
    /// Plans admitted at most (running + queued).
    fn limit(&self) -> usize {
        self.cfg.max_solves.max(1) + self.cfg.queue
    }

    /// Whether a new plan could be admitted now: checked before a body is stored or
    /// read, so a full server refuses cheaply (admission itself is checked again).
    fn room(&self) -> Result<(), ApiError> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the server is shutting down",
            ));
        }
        if self.pending.load(Ordering::SeqCst) >= self.limit() {
            return Err(queue_full());
        }
        Ok(())
    }
}

/// Decrements the admitted count however a job ends.
struct Admitted(Arc<AppState>);
impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Validates the stored input, admits the plan (or 503), and runs it; small ones are
/// awaited and answered 201, others 202.
async fn submit(
    st: Arc<AppState>,
    id: String,
    parent: Option<String>,
    now: Option<String>,
) -> Result<Response, ApiError> {
    let dir = st.store.new_dir(&id);
    let checked = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || validate(&dir, now.as_deref()))
            .await
            .map_err(|e| ApiError::internal("validating", e))?
    };
    let (loaded, replan) = match checked {
        Ok(x) => x,
        Err(d) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(ApiError::validation("the scenario is not valid", &d));
        }
    };
    if let Err(e) = st.room() {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    if st.pending.fetch_add(1, Ordering::SeqCst) >= st.limit() {
        st.pending.fetch_sub(1, Ordering::SeqCst);
        let _ = std::fs::remove_dir_all(&dir);
        return Err(queue_full());
    }
    let admitted = Admitted(st.clone());
    let devices = loaded.scenario.devices.len();
    let now = store::now_utc();
    let status = Status {
        id: id.clone(),
        status: store::State::Queued,
        parent,
        created_at: now.clone(),
        updated_at: now,
        devices,
        error: None,
    };
    st.store
        .write_status(&status)
        .map_err(|e| ApiError::internal("writing status.json", e))?;
    st.metrics.queued.fetch_add(1, Ordering::SeqCst);
    let job = Job {
        id: id.clone(),
        dir,
        loaded,
        replan,
    };
    let task_state = st.clone();
    let handle = tokio::spawn(async move {
        let st = task_state;
        let _admitted = admitted;
        let permit = st.solvers.acquire().await;
        st.metrics.queued.fetch_sub(1, Ordering::SeqCst);
        let Ok(_permit) = permit else {
            st.store.set_state(
                &job.id,
                store::State::Failed,
                Some("the server shut down before the solve started".into()),
            );
            st.metrics.solve("cancelled");
            return;
        };
        st.store.set_state(&job.id, store::State::Solving, None);
        st.metrics.solving.fetch_add(1, Ordering::SeqCst);
        let st2 = st.clone();
        let r = tokio::task::spawn_blocking(move || {
            let r = solve(&job, &st2.cfg);
            match &r {
                Ok(()) => st2.store.set_state(&job.id, store::State::Done, None),
                Err(e) => st2
                    .store
                    .set_state(&job.id, store::State::Failed, Some(e.clone())),
            }
            r
        })
        .await;
        st.metrics.solving.fetch_sub(1, Ordering::SeqCst);
        st.metrics.solve(match r {
            Ok(Ok(())) => "done",
            _ => "failed",
        });
    });
    if devices <= st.cfg.sync_devices {
        let wait = st
            .cfg
            .request_timeout
            .saturating_sub(Duration::from_secs(1));
        if tokio::time::timeout(wait, handle).await.is_ok() {
            let v = view(&st, &id)?;
            return Ok((StatusCode::CREATED, Json(v)).into_response());
        }
    }
    let v = view(&st, &id)?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/v1/plans/{id}"))],
        Json(v),
    )
        .into_response())
}

/// Plan a scenario.
///
/// Small scenarios (up to the server's `sync_devices`) are solved before the answer
/// (201 with the summary); larger ones are queued (202; poll `GET /v1/plans/{id}`).
#[utoipa::path(post, path = "/v1/plans", request_body = PlanRequest, responses(
    (status = 201, description = "planned", body = PlanView),
    (status = 202, description = "queued", body = PlanView),
    (status = 400, description = "malformed body or path escape", body = ErrorBody),
    (status = 401, description = "no or wrong token", body = ErrorBody),
    (status = 404, description = "no such scenario folder", body = ErrorBody),
    (status = 413, description = "body too large", body = ErrorBody),
    (status = 422, description = "the scenario is not valid", body = ErrorBody),
    (status = 503, description = "queue full (see Retry-After)", body = ErrorBody),
))]
async fn create_plan(
    State(st): State<Arc<AppState>>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    st.room()?;
    let bytes = body_bytes(b)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("the body is not JSON: {e}")))?;
    let is_dir = value.get("scenario_dir").is_some();
    let id = st.store.new_id();
    let input = st.store.new_dir(&id).join("input");
    let written = if is_dir {
        let req: ScenarioDirBody = body::parse(&bytes)?;
        let Some(root) = st.cfg.scenario_root.clone() else {
            return Err(ApiError::bad_request(
                "path_escape",
                "this server reads no scenario folders (no --scenario-root)",
            ));
        };
        let src = store::resolve_inside(&root, &req.scenario_dir)?;
        let input = input.clone();
        tokio::task::spawn_blocking(move || store::copy_scenario(&root, &src, &input))
            .await
            .map_err(|e| ApiError::internal("copying a scenario", e))?
    } else {
        let req: ScenarioBody = body::parse(&bytes)?;
        let input = input.clone();
        tokio::task::spawn_blocking(move || body::materialise(&req, &input))
            .await
            .map_err(|e| ApiError::internal("writing a scenario", e))?
    };
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(st.store.new_dir(&id));
        return Err(e);
    }
    submit(st, id, None, None).await
}

/// Re-plan the rest of a paused rollout from progress rows and `now`.
#[utoipa::path(post, path = "/v1/plans/{id}/replan", request_body = ReplanRequest,
    params(("id" = String, Path, description = "the parent plan")), responses(
    (status = 201, description = "re-planned", body = PlanView),
    (status = 202, description = "queued", body = PlanView),
    (status = 400, description = "malformed body", body = ErrorBody),
    (status = 404, description = "no such plan", body = ErrorBody),
    (status = 422, description = "bad progress or now", body = ErrorBody),
    (status = 503, description = "queue full", body = ErrorBody),
))]
async fn replan(
    State(st): State<Arc<AppState>>,
    UrlPath(parent): UrlPath<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let parent_dir = st.store.dir(&parent)?;
    st.room()?;
    let bytes = body_bytes(b)?;
    let req: ReplanRequest = body::parse(&bytes)?;
    let id = st.store.new_id();
    let dir = st.store.new_dir(&id);
    let copied = {
        let (src, dir) = (parent_dir.join("input"), dir.clone());
        let progress = body::progress_csv(&req.progress);
        tokio::task::spawn_blocking(move || {
            store::copy_dir(&src, &dir.join("input"))?;
            crate::fsutil::write_atomic(&dir.join("progress.csv"), progress.as_bytes())
        })
        .await
        .map_err(|e| ApiError::internal("copying a plan's input", e))?
    };
    if let Err(e) = copied {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(ApiError::internal("copying a plan's input", e));
    }
    submit(st, id, Some(parent), Some(req.now)).await
}

/// A plan's status; its summary.json when done.
#[utoipa::path(get, path = "/v1/plans/{id}", params(("id" = String, Path)), responses(
    (status = 200, body = PlanView), (status = 404, body = ErrorBody)))]
async fn get_plan(
    State(st): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<PlanView>, ApiError> {
    Ok(Json(view(&st, &id)?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// First row (0-based).
    #[serde(default)]
    pub offset: usize,
    /// Rows per page (1–10000, default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<usize>,
}

/// A page of plan.csv's rows.
#[derive(Debug, Serialize, ToSchema)]
pub struct DevicesPage {
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    /// Rows with plan.csv's columns (numbers as numbers).
    #[schema(value_type = Vec<Object>)]
    pub devices: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// Parses RFC 4180 text into records.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let (mut field, mut rec, mut quoted) = (String::new(), Vec::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => rec.push(std::mem::take(&mut field)),
            ('\n', false) => {
                rec.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut rec));
            }
            ('\r', false) => {}
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !rec.is_empty() {
        rec.push(field);
        records.push(rec);
    }
    records
}

/// The per-device plan: paginated JSON, or the whole plan.csv with `Accept: text/csv`.
#[utoipa::path(get, path = "/v1/plans/{id}/devices", params(("id" = String, Path), Page), responses(
    (status = 200, description = "a page of rows (JSON), or plan.csv with Accept: text/csv",
        content((DevicesPage = "application/json"), (String = "text/csv"))),
    (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, description = "the plan is not done", body = ErrorBody)))]
async fn get_devices(
    State(st): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    q: Result<Query<Page>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(page) = q.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = page.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be 1–10000",
        ));
    }
    let status = st.store.status(&id)?;
    if status.status != store::State::Done {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_ready",
            format!("the plan is {:?}, not done", status.status).to_lowercase(),
        ));
    }
    let path = st.store.dir(&id)?.join("plan/plan.csv");
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| ApiError::internal("reading plan.csv", e))?;
    let wants_csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/csv"));
    if wants_csv {
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], text).into_response());
    }
    let mut records = parse_csv(&text).into_iter();
    let cols = records.next().unwrap_or_default();
    let rows: Vec<Vec<String>> = records.collect();
    let total = rows.len();
    let numeric = [
        "payload_bytes",
        "expected_bytes",
        "p_success",
        "throughput_kbps",
    ];
    let devices = rows
        .into_iter()
        .skip(page.offset)
        .take(limit)
        .map(|r| {
            cols.iter()
                .zip(r)
                .map(|(c, v)| {
                    let value = if numeric.contains(&c.as_str()) {
                        v.parse::<f64>()
                            .ok()
                            .and_then(serde_json::Number::from_f64)
                            .map(|n| match v.parse::<u64>() {
                                Ok(i) => serde_json::Value::from(i),
                                Err(_) => serde_json::Value::Number(n),
                            })
                            .unwrap_or(serde_json::Value::String(v))
                    } else {
                        serde_json::Value::String(v)
                    };
                    (c.clone(), value)
                })
                .collect()
        })
        .collect();
    Ok(Json(DevicesPage {
        total,
        offset: page.offset,
        limit,
        devices,
    })
    .into_response())
}

/// The HTML finance report, once one is in the plan's folder.
#[utoipa::path(get, path = "/v1/plans/{id}/report", params(("id" = String, Path)), responses(
    (status = 200, body = String, content_type = "text/html"),
    (status = 404, description = "no such plan, or no report yet", body = ErrorBody)))]
async fn get_report(
    State(st): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    let path = st.store.dir(&id)?.join("plan").join("report.html");
    match tokio::fs::read(&path).await {
        Ok(html) => {
            Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
        }
        Err(_) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "report_not_available",
            "this plan has no report (yet)",
        )),
    }
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200, body = String)))]
async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: admitting plans (not shutting down).
#[utoipa::path(get, path = "/readyz", security(()), responses(
    (status = 200, body = String), (status = 503, body = ErrorBody)))]
async fn readyz(State(st): State<Arc<AppState>>) -> Result<&'static str, ApiError> {
    if st.shutting_down.load(Ordering::SeqCst) {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down",
        ))
    } else {
        Ok("ready\n")
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", responses((status = 200, body = String, content_type = "text/plain")))]
async fn metrics_text(State(st): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(),
    )
        .into_response()
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, body = Object)))]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
