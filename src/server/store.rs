//! Plans on disk: `DATA/plans/{id}/` holds `input/` (the scenario as solved),
//! `progress.csv` for re-plans, `status.json` and `plan/` (the CLI's outputs). Every
//! file is written atomically; `status.json` says `done` only after the outputs exist,
//! and a folder without `status.json` is not a plan (an interrupted write, removed on
//! start). Reading a scenario folder never leaves `--scenario-root` and never echoes a
//! file's contents. No HTTP here beyond the error type.

use super::error::{ApiError, ErrorDetail, JobFailure, cap};
use crate::fsutil::write_atomic;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use utoipa::ToSchema;

/// Restarts a plan survives while queued or solving before it is failed (a plan that
/// crashes the process must not crash it forever).
const MAX_RESTARTS: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Queued,
    Solving,
    Done,
    Failed,
}

impl State {
    /// Done or failed: nothing more will happen to the plan.
    pub fn is_terminal(self) -> bool {
        matches!(self, State::Done | State::Failed)
    }
}

/// `status.json` of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Status {
    pub id: String,
    pub status: State,
    /// The plan this one re-plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// A re-plan's `now`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub devices: usize,
    /// Why the plan failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Times a restart found this plan unfinished and queued it again.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub requeued: u32,
    /// The `Idempotency-Key` it was created with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// SHA-256 of the body it was created with (a retry must send the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_digest: Option<String>,
    /// Where the outcome is posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

pub fn now_utc() -> String {
    crate::output::utc(chrono::Utc::now())
}

/// The plan store under a data directory.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    counter: AtomicU64,
}

impl Store {
    /// Opens (creating) `data_dir/plans`, removes what an interrupted process left
    /// half-written (folders without `status.json`, temporary files), and returns the
    /// plans it left queued or solving, queued again (or failed after too many restarts).
    pub fn open(data_dir: &Path) -> std::io::Result<(Store, Vec<Status>)> {
        let root = data_dir.join("plans");
        std::fs::create_dir_all(&root)?;
        let store = Store {
            root,
            counter: AtomicU64::new(0),
        };
        let mut requeue = Vec::new();
        for entry in std::fs::read_dir(&store.root)? {
            let path = entry?.path();
            if !path.is_dir() {
                std::fs::remove_file(&path)?;
                continue;
            }
            if !path.join("status.json").is_file() {
                eprintln!(
                    "otaplan serve: removing {} (an unfinished plan folder)",
                    path.display()
                );
                std::fs::remove_dir_all(&path)?;
                continue;
            }
            remove_temp_files(&path)?;
            let Some(id) = path.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            let Ok(mut st) = store.status(id) else {
                continue;
            };
            if st.status.is_terminal() {
                continue;
            }
            st.updated_at = now_utc();
            if st.requeued >= MAX_RESTARTS {
                st.status = State::Failed;
                st.error = Some(JobFailure::Interrupted(MAX_RESTARTS).reason(id));
            } else {
                st.status = State::Queued;
                st.requeued += 1;
                requeue.push(st.clone());
            }
            store.write_status(&st)?;
        }
        requeue.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok((store, requeue))
    }

    /// A fresh id: time-ordered, unique within this process, and only `[0-9a-z-]`.
    pub fn new_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let t = chrono::Utc::now();
        format!(
            "{}-{:06}-{}",
            t.format("%Y%m%dt%H%M%S"),
            t.timestamp_subsec_micros(),
            n
        )
    }

    /// The folder of plan `id`; an id that is not ours is not found (never a path).
    pub fn dir(&self, id: &str) -> Result<PathBuf, ApiError> {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'-');
        let dir = self.root.join(id);
        if ok && dir.join("status.json").is_file() {
            Ok(dir)
        } else {
            Err(ApiError::not_found(format!(
                "no plan with id {:?}",
                cap(id, 80)
            )))
        }
    }

    /// The folder for a new plan (not yet holding a status).
    pub fn new_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    pub fn status(&self, id: &str) -> Result<Status, ApiError> {
        let dir = self.dir(id)?;
        let text = std::fs::read_to_string(dir.join("status.json"))
            .map_err(|_| ApiError::not_found(format!("no plan with id {id:?}")))?;
        serde_json::from_str(&text).map_err(|e| ApiError::internal("parsing status.json", e))
    }

    /// Every plan's status (folders being written or removed are skipped).
    pub fn list(&self) -> Vec<Status> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|id| self.status(&id).ok())
            .collect()
    }

    pub fn write_status(&self, st: &Status) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(st).map_err(std::io::Error::other)?;
        write_atomic(
            &self.root.join(&st.id).join("status.json"),
            (json + "\n").as_bytes(),
        )
    }

    /// Sets a plan's state (and error), keeping the rest of its status; the new status,
    /// or none when the plan is gone (deleted meanwhile).
    pub fn set_state(&self, id: &str, state: State, error: Option<String>) -> Option<Status> {
        let mut st = self.status(id).ok()?;
        st.status = state;
        st.error = error;
        st.updated_at = now_utc();
        match self.write_status(&st) {
            Ok(()) => Some(st),
            Err(e) => {
                eprintln!("otaplan serve: cannot update the status of plan {id}: {e}");
                None
            }
        }
    }

    /// Removes a plan: `status.json` first (from then on it is not found), then the rest.
    pub fn remove(&self, id: &str) {
        let dir = self.root.join(id);
        let _ = std::fs::remove_file(dir.join("status.json"));
        if let Err(e) = std::fs::remove_dir_all(&dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!("otaplan serve: cannot remove {}: {e}", dir.display());
        }
    }
}

/// Removes `.otaplan-*.tmp` files (atomic writes a killed process never renamed).
fn remove_temp_files(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if entry.file_type()?.is_dir() {
            remove_temp_files(&path)?;
        } else if name.starts_with(".otaplan-") && name.ends_with(".tmp") {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Resolves a request's scenario folder name strictly inside `root`: relative, no `..`,
/// and (after following symlinks) still inside it.
pub fn resolve_inside(root: &Path, name: &str) -> Result<PathBuf, ApiError> {
    let shown = cap(name, 200);
    let escape = || {
        ApiError::bad_request(
            "path_escape",
            format!("{shown:?} is not a folder inside the scenario root"),
        )
    };
    if name.is_empty() || name.contains('\0') || !is_plain_relative(name) {
        return Err(escape());
    }
    let root = root
        .canonicalize()
        .map_err(|e| ApiError::internal("canonicalising the scenario root", e))?;
    let full = root.join(name).canonicalize().map_err(|_| {
        ApiError::not_found(format!("no scenario folder {shown:?} in the scenario root"))
    })?;
    if !full.starts_with(&root) {
        return Err(escape());
    }
    if !full.is_dir() {
        return Err(ApiError::not_found(format!(
            "{shown:?} is not a folder in the scenario root"
        )));
    }
    Ok(full)
}

/// Only normal components (no root, no `..`, no `.`), none starting with a dot.
fn is_plain_relative(name: &str) -> bool {
    let p = Path::new(name);
    p.components().next().is_some()
        && p.components().all(|c| match c {
            Component::Normal(n) => !n.to_string_lossy().starts_with('.'),
            _ => false,
        })
}

/// A 422 about one file of a scenario folder: where it is named and what is wrong,
/// never what it holds.
fn bad_file(field: &str, value: &str, message: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        "the scenario folder cannot be read",
    )
    .with_details(vec![ErrorDetail {
        table: Some("scenario.toml".into()),
        row: None,
        field: Some(field.to_string()),
        value: Some(cap(value, 200)),
        message: message.to_string(),
        hint: None,
        note: None,
    }])
}

/// `path` (inside the canonical `root`) as a regular file whose real location, after
/// following every symlink, is inside `root` too.
fn file_inside(root: &Path, path: &Path, field: &str, value: &str) -> Result<PathBuf, ApiError> {
    let real = path
        .canonicalize()
        .map_err(|_| bad_file(field, value, "file not found"))?;
    if !real.starts_with(root) {
        return Err(bad_file(
            field,
            value,
            "leads outside the scenario root (a symlink); not read",
        ));
    }
    if !real.is_file() {
        return Err(bad_file(field, value, "is a folder, not a file"));
    }
    Ok(real)
}

/// Copies the scenario in `src` (a canonical folder inside `root`): `scenario.toml` and
/// the tables it names, each a regular file inside the root after following symlinks,
/// named by a plain relative path. Problems are 422s naming the file, never quoting it.
pub fn copy_scenario(root: &Path, src: &Path, dst: &Path) -> Result<(), ApiError> {
    let root = root
        .canonicalize()
        .map_err(|e| ApiError::internal("canonicalising the scenario root", e))?;
    let toml_path = file_inside(&root, &src.join("scenario.toml"), "", "scenario.toml")?;
    let toml_text = std::fs::read_to_string(&toml_path)
        .map_err(|_| bad_file("", "scenario.toml", "cannot be read as UTF-8 text"))?;
    let doc: toml::Table = toml::from_str(&toml_text).map_err(|e| {
        let line = e.span().map(|s| {
            toml_text[..s.start.min(toml_text.len())]
                .lines()
                .count()
                .max(1)
        });
        let at = line.map_or(String::new(), |l| format!(" (line {l})"));
        bad_file("", "scenario.toml", &format!("is not valid TOML{at}"))
    })?;
    write_atomic(&dst.join("scenario.toml"), toml_text.as_bytes())
        .map_err(|e| ApiError::internal("copying scenario.toml", e))?;
    let Some(tables) = doc.get("tables").and_then(|t| t.as_table()) else {
        return Ok(()); // validation names what is missing
    };
    for (key, value) in tables {
        let Some(file) = value.as_str() else { continue };
        let field = format!("tables.{key}");
        if !is_plain_relative(file) {
            return Err(bad_file(
                &field,
                file,
                "must be a relative path inside the scenario folder",
            ));
        }
        let from = file_inside(&root, &src.join(file), &field, file)?;
        let bytes = std::fs::read(&from).map_err(|_| bad_file(&field, file, "cannot be read"))?;
        write_atomic(&dst.join(file), &bytes)
            .map_err(|e| ApiError::internal("copying a scenario table", e))?;
    }
    Ok(())
}

/// Copies a plan's stored input folder (a re-plan solves its parent's scenario).
pub fn copy_dir(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            copy_dir(&path, &dst.join(entry.file_name()))?;
        } else {
            write_atomic(&dst.join(entry.file_name()), &std::fs::read(&path)?)?;
        }
    }
    Ok(())
}
