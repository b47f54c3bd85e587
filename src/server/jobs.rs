//! A plan's life behind the handlers: admission (a slot is reserved before a body is
//! read, so a full server refuses in a moment), validation through `ingest` exactly as
//! the CLI validates, the solve queue (a semaphore of solvers; each solve on a blocking
//! thread), cancellation, re-queueing what a restart interrupted, retention and
//! `Idempotency-Key`s. No HTTP beyond the error type; the planner's work is the library's.

use super::callback;
use super::config::{ServeError, ServerConfig};
use super::error::{ApiError, JobFailure};
use super::metrics::Metrics;
use super::store::{self, State, Status, Store};
use super::tables::TableCache;
use super::work::WorkPool;
use crate::diag::Diagnostics;
use crate::ingest::{self, Loaded};
use axum::http::StatusCode;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// Shared state of the handlers.
#[derive(Debug)]
pub struct AppState {
    pub(super) cfg: ServerConfig,
    pub(super) store: Store,
    solvers: Semaphore,
    /// Validations running at once (each reads a whole scenario).
    validators: Semaphore,
    /// Plans admitted and not finished (being validated, queued or solving).
    pending: AtomicUsize,
    shutting_down: AtomicBool,
    pub metrics: Metrics,
    pub(super) tables: TableCache,
    /// Requests' CPU work (see `work`).
    pub(super) work: WorkPool,
    /// Queued plans in solver order, each with the bell a DELETE rings.
    waiting: Mutex<Vec<(String, Arc<Notify>)>>,
    /// Plans deleted while queued or solving.
    cancelled: Mutex<Vec<String>>,
    /// The planner's current step of each plan being solved.
    steps: Mutex<HashMap<String, String>>,
    /// `Idempotency-Key` → the plan made with it and its body's digest (none while its
    /// request runs).
    keys: Mutex<HashMap<String, Option<(String, String)>>>,
}

/// A reserved place among the admitted plans, released however the request or the job
/// ends.
pub struct Slot(Arc<AppState>);
impl Drop for Slot {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An `Idempotency-Key` held by the request using it; released unless a plan was made.
pub struct KeyClaim {
    st: Arc<AppState>,
    key: Option<String>,
    /// SHA-256 of the request body (hex), set once it is read.
    pub digest: String,
}
impl KeyClaim {
    fn commit(mut self, id: &str) {
        if let (Some(k), Ok(mut m)) = (self.key.take(), self.st.keys.lock()) {
            m.insert(k, Some((id.to_string(), self.digest.clone())));
        }
    }
}

/// SHA-256 of a request body, hex.
pub fn digest(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
impl Drop for KeyClaim {
    fn drop(&mut self) {
        if let (Some(k), Ok(mut m)) = (self.key.take(), self.st.keys.lock()) {
            m.remove(&k);
        }
    }
}

/// What a new plan is besides its stored input.
pub struct NewPlan {
    pub id: String,
    pub parent: Option<String>,
    pub now: Option<String>,
    pub callback_url: Option<String>,
}

impl AppState {
    /// Opens the data directory, queues again the plans a previous process left
    /// unfinished (when called inside a runtime) and applies retention.
    pub fn open(cfg: ServerConfig) -> Result<Arc<AppState>, ServeError> {
        let (store, requeue) =
            Store::open(&cfg.data_dir).map_err(|e| ServeError::DataDir(cfg.data_dir.clone(), e))?;
        let keys = store
            .list()
            .into_iter()
            .filter_map(|s| Some((s.idempotency_key?, Some((s.id, s.request_digest?)))))
            .collect();
        let work = WorkPool::new(cfg.work_threads, cfg.work_nice).map_err(ServeError::Io)?;
        let st = Arc::new(AppState {
            work,
            solvers: Semaphore::new(cfg.max_solves.max(1)),
            validators: Semaphore::new(cfg.max_solves.max(1)),
            cfg,
            store,
            pending: AtomicUsize::new(0),
            shutting_down: AtomicBool::new(false),
            metrics: Metrics::default(),
            tables: TableCache::default(),
            waiting: Mutex::new(Vec::new()),
            cancelled: Mutex::new(Vec::new()),
            steps: Mutex::new(HashMap::new()),
            keys: Mutex::new(keys),
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            for s in requeue {
                eprintln!("otaplan serve: plan {} queued again after a restart", s.id);
                st.pending.fetch_add(1, Ordering::SeqCst);
                st.start(Slot(st.clone()), s.id, s.now);
            }
        }
        st.sweep();
        Ok(st)
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Stops admitting plans (`/readyz` answers 503 from now on).
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Stops admitting plans and waits (up to `grace`) for running solves to write
    /// their outputs; plans still queued stay queued on disk for the next start.
    pub async fn drain(&self, grace: Duration) {
        self.begin_shutdown();
        self.solvers.close();
        let until = tokio::time::Instant::now() + grace;
        while self.pending.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Reserves a place for a new plan, or refuses (503) before anything is read.
    pub fn reserve(self: &Arc<Self>) -> Result<Slot, ApiError> {
        if self.is_shutting_down() {
            return Err(shutting_down());
        }
        if self.pending.fetch_add(1, Ordering::SeqCst) >= self.cfg.admitted_limit() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            return Err(queue_full());
        }
        Ok(Slot(self.clone()))
    }

    /// Claims an `Idempotency-Key`: `Ok(Err((id, digest)))` when a plan was already
    /// made with it (from a body with that digest).
    pub fn claim_key(
        self: &Arc<Self>,
        key: Option<String>,
    ) -> Result<Result<KeyClaim, (String, String)>, ApiError> {
        let Some(key) = key else {
            return Ok(Ok(KeyClaim {
                st: self.clone(),
                key: None,
                digest: String::new(),
            }));
        };
        let mut m = self
            .keys
            .lock()
            .map_err(|_| ApiError::internal("idempotency keys", "poisoned lock"))?;
        match m.get(&key) {
            Some(Some((id, d))) if self.store.dir(id).is_ok() => {
                return Ok(Err((id.clone(), d.clone())));
            }
            Some(None) => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "idempotency_conflict",
                    "a request with this Idempotency-Key is still being answered",
                ));
            }
            _ => {}
        }
        m.insert(key.clone(), None);
        Ok(Ok(KeyClaim {
            st: self.clone(),
            key: Some(key),
            digest: String::new(),
        }))
    }

    /// Validates a plan's stored input, records it as queued and starts its job.
    /// Returns the job and the plan's device count; on a bad input the folder is
    /// removed (422).
    pub async fn submit(
        self: &Arc<Self>,
        slot: Slot,
        claim: KeyClaim,
        new: NewPlan,
    ) -> Result<(tokio::task::JoinHandle<()>, usize), ApiError> {
        let dir = self.store.new_dir(&new.id);
        let checked = {
            let _v = self.validators.acquire().await;
            let (dir, now) = (dir.clone(), new.now.clone());
            tokio::task::spawn_blocking(move || {
                validate(&dir, now.as_deref()).map(|(l, _)| l.scenario.devices.len())
            })
            .await
            .map_err(|e| ApiError::internal("validating", e))?
        };
        let devices = match checked {
            Ok(n) => n,
            Err(d) => {
                let _ = std::fs::remove_dir_all(&dir);
                let what = if new.now.is_some() {
                    "the re-plan is not valid"
                } else {
                    "the scenario is not valid"
                };
                return Err(ApiError::validation(what, &d));
            }
        };
        let now = store::now_utc();
        let status = Status {
            id: new.id.clone(),
            status: State::Queued,
            parent: new.parent,
            now: new.now.clone(),
            created_at: now.clone(),
            updated_at: now,
            devices,
            error: None,
            requeued: 0,
            idempotency_key: claim.key.clone(),
            request_digest: claim.key.as_ref().map(|_| claim.digest.clone()),
            callback_url: new.callback_url,
        };
        if let Err(e) = self.store.write_status(&status) {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(ApiError::internal("writing status.json", e));
        }
        claim.commit(&new.id);
        Ok((self.start(slot, new.id, new.now), devices))
    }

    /// Starts the job of a queued plan.
    fn start(
        self: &Arc<Self>,
        slot: Slot,
        id: String,
        now: Option<String>,
    ) -> tokio::task::JoinHandle<()> {
        let bell = Arc::new(Notify::new());
        if let Ok(mut w) = self.waiting.lock() {
            w.push((id.clone(), bell.clone()));
        }
        self.metrics.queued.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(self.clone().run(slot, id, now, bell))
    }

    /// Waits for a solver (or a DELETE), solves, records the outcome, then calls back.
    async fn run(self: Arc<Self>, slot: Slot, id: String, now: Option<String>, bell: Arc<Notify>) {
        let permit = tokio::select! {
            p = self.solvers.acquire() => p.ok(),
            _ = bell.notified() => None,
        };
        self.metrics.queued.fetch_sub(1, Ordering::SeqCst);
        if let Ok(mut w) = self.waiting.lock() {
            w.retain(|(w, _)| *w != id);
        }
        if self.take_cancelled(&id) {
            self.store.remove(&id);
            self.metrics.solve("cancelled");
            return;
        }
        // No permit: shutting down; the plan stays queued on disk for the next start.
        let Some(permit) = permit else { return };
        if self.store.set_state(&id, State::Solving, None).is_none() {
            // Deleted between the check above and now: cancelled all the same.
            if self.take_cancelled(&id) {
                self.metrics.solve("cancelled");
            }
            return;
        }
        self.metrics.solving.fetch_add(1, Ordering::SeqCst);
        let (st, job_id) = (self.clone(), id.clone());
        let r = tokio::task::spawn_blocking(move || st.solve_stored(&job_id, now.as_deref())).await;
        self.metrics.solving.fetch_sub(1, Ordering::SeqCst);
        drop(permit);
        if let Ok(mut s) = self.steps.lock() {
            s.remove(&id);
        }
        if self.take_cancelled(&id) {
            self.store.remove(&id);
            self.tables.forget(&id);
            self.metrics.solve("cancelled");
            return;
        }
        let outcome = r.unwrap_or_else(|e| Err(JobFailure::internal("the solve failed", e)));
        self.metrics
            .solve(if outcome.is_ok() { "done" } else { "failed" });
        let status = match outcome {
            Ok(()) => self.store.set_state(&id, State::Done, None),
            Err(e) => self
                .store
                .set_state(&id, State::Failed, Some(e.reason(&id))),
        };
        drop(slot);
        let st = self.clone();
        let _ = tokio::task::spawn_blocking(move || st.sweep()).await;
        if let Some(status) = status {
            let st = self.clone();
            tokio::spawn(async move { callback::deliver(&st.cfg, &status).await });
        }
    }

    /// Reads the stored input again and solves it (blocking).
    fn solve_stored(&self, id: &str, now: Option<&str>) -> Result<(), JobFailure> {
        let dir = self.store.new_dir(id);
        let (loaded, replan) = validate(&dir, now).map_err(JobFailure::StoredInput)?;
        let job = Job {
            dir,
            loaded,
            replan,
        };
        let step = |s: &str| {
            if let Ok(mut m) = self.steps.lock() {
                m.insert(id.to_string(), s.to_string());
            }
        };
        solve(&job, &self.cfg, &step)
    }

    fn take_cancelled(&self, id: &str) -> bool {
        let Ok(mut c) = self.cancelled.lock() else {
            return false;
        };
        let was = c.iter().any(|x| x == id);
        c.retain(|x| x != id);
        was
    }

    /// Where a plan is: its place in the queue (0 = next) and the planner's step.
    pub fn progress(&self, id: &str) -> (Option<usize>, Option<String>) {
        let pos = self
            .waiting
            .lock()
            .ok()
            .and_then(|w| w.iter().position(|(w, _)| w == id));
        let step = self.steps.lock().ok().and_then(|s| s.get(id).cloned());
        (pos, step)
    }

    /// Deletes a plan; a queued or running one is cancelled (a running solve finishes
    /// its current step on its thread and its outputs are discarded).
    pub fn delete(&self, id: &str) -> Result<(), ApiError> {
        let status = self.store.status(id)?;
        if !status.status.is_terminal() {
            if let Ok(mut c) = self.cancelled.lock() {
                c.push(id.to_string());
            }
            if let Ok(w) = self.waiting.lock()
                && let Some((_, bell)) = w.iter().find(|(w, _)| w == id)
            {
                bell.notify_one();
            }
        }
        self.forget(id);
        Ok(())
    }

    /// Removes a plan's folder and everything kept about it.
    fn forget(&self, id: &str) {
        self.store.remove(id);
        self.tables.forget(id);
        if let Ok(mut k) = self.keys.lock() {
            k.retain(|_, v| v.as_ref().is_none_or(|(p, _)| p != id));
        }
    }

    /// Retention: deletes finished plans beyond `keep_plans` (newest kept) and those
    /// finished more than `keep_days` ago.
    pub fn sweep(&self) {
        let (keep, days) = (self.cfg.keep_plans, self.cfg.keep_days);
        if keep.is_none() && days.is_none() {
            return;
        }
        let mut done: Vec<Status> = self
            .store
            .list()
            .into_iter()
            .filter(|s| s.status.is_terminal())
            .collect();
        done.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let cutoff =
            days.map(|d| crate::output::utc(chrono::Utc::now() - chrono::Duration::days(d as i64)));
        for (i, s) in done.iter().enumerate() {
            let too_many = keep.is_some_and(|n| i >= n);
            let too_old = cutoff.as_ref().is_some_and(|c| s.updated_at < *c);
            if too_many || too_old {
                self.forget(&s.id);
            }
        }
    }
}

pub fn queue_full() -> ApiError {
    let mut e = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "queue_full",
        "every solver is busy and the queue is full; retry later",
    );
    e.retry_after = Some(5);
    e
}

pub fn shutting_down() -> ApiError {
    let mut e = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "shutting_down",
        "the server is shutting down",
    );
    e.retry_after = Some(5);
    e
}

/// What a solve needs, validated.
struct Job {
    dir: PathBuf,
    loaded: Loaded,
    replan: Option<crate::plan::Replan>,
}

/// The parent plan's summary.json, kept beside a re-plan's progress.csv: its gates serve
/// waves whose done devices carry no `at`.
pub const ORIGINAL_SUMMARY: &str = "original-summary.json";

/// Reads and validates a stored input (and a re-plan's `now` and progress) through the
/// library's one re-plan pipeline, as the CLI does.
fn validate(
    dir: &Path,
    now: Option<&str>,
) -> Result<(Loaded, Option<crate::plan::Replan>), Diagnostics> {
    let loaded = ingest::read_scenario(&dir.join("input"))?;
    let Some(now) = now else {
        return Ok((loaded, None));
    };
    let original = Some(dir.join(ORIGINAL_SUMMARY)).filter(|p| p.is_file());
    let replan = crate::plan_folder::progress::read_replan(
        &loaded.scenario,
        &dir.join("progress.csv"),
        now,
        crate::plan_folder::progress::NowField::REQUEST,
        original.as_deref(),
    )?;
    let coverage = crate::ingest::coverage_load::load(&loaded)?;
    crate::plan::replan::check_progress(&loaded.scenario, &coverage, &replan)?;
    Ok((loaded, Some(replan)))
}

/// Solves and writes a plan (blocking; runs on a blocking thread).
fn solve(job: &Job, cfg: &ServerConfig, progress: &dyn Fn(&str)) -> Result<(), JobFailure> {
    let coverage = crate::ingest::coverage_load::load(&job.loaded).map_err(JobFailure::BadInput)?;
    let s = &job.loaded.scenario;
    let opts = crate::plan::PlanOptions {
        solve: crate::plan::SolveOptions {
            time_limit_seconds: cfg.time_limit,
            threads: cfg.threads,
        },
        ..Default::default()
    };
    let t0 = std::time::Instant::now();
    let plan = match &job.replan {
        Some(r) => crate::plan::replan(s, &coverage, r.clone(), &opts, progress),
        None => crate::plan::plan(s, &coverage, &opts, progress),
    }?;
    let timings = crate::output::Timings {
        plan_seconds: t0.elapsed().as_secs_f64(),
        ..Default::default()
    };
    let folder = crate::plan_folder::FolderOptions {
        parquet: false,
        report: true,
    };
    let out = job.dir.join("plan");
    crate::plan_folder::write_plan_folder(&out, s, &plan, coverage.source, timings, folder)
        .map_err(|e| JobFailure::internal("the plan could not be written", e))
}
