//! Plans on disk: `DATA/plans/{id}/` holds `input/` (the scenario as solved),
//! `progress.csv` for re-plans, `status.json` and `plan/` (the CLI's outputs). Every
//! file is written atomically; `status.json` says `done` only after the outputs exist.
//! No HTTP here beyond the error type.

use super::error::ApiError;
use crate::fsutil::write_atomic;
use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Queued,
    Solving,
    Done,
    Failed,
}

/// `status.json` of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Status {
    pub id: String,
    pub status: State,
    /// The plan this one re-plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub devices: usize,
    /// Why the plan failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
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
    /// Opens (creating) `data_dir/plans` and marks plans a previous process left
    /// queued or solving as failed.
    pub fn open(data_dir: &Path) -> std::io::Result<Store> {
        let root = data_dir.join("plans");
        std::fs::create_dir_all(&root)?;
        let store = Store {
            root,
            counter: AtomicU64::new(0),
        };
        for entry in std::fs::read_dir(&store.root)? {
            let entry = entry?;
            let Some(id) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if let Ok(mut st) = store.status(&id)
                && matches!(st.status, State::Queued | State::Solving)
            {
                st.status = State::Failed;
                st.error = Some("interrupted by a restart".to_string());
                st.updated_at = now_utc();
                store.write_status(&st)?;
            }
        }
        Ok(store)
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
            Err(ApiError::not_found(format!("no plan with id {id:?}")))
        }
    }

    /// The folder for a new plan (not yet holding a status).
    pub fn new_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    pub fn status(&self, id: &str) -> Result<Status, ApiError> {
        let dir = self.dir(id)?;
        let text = std::fs::read_to_string(dir.join("status.json"))
            .map_err(|e| ApiError::internal("reading status.json", e))?;
        serde_json::from_str(&text).map_err(|e| ApiError::internal("parsing status.json", e))
    }

    pub fn write_status(&self, st: &Status) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(st).map_err(std::io::Error::other)?;
        write_atomic(
            &self.root.join(&st.id).join("status.json"),
            (json + "\n").as_bytes(),
        )
    }

    /// Sets a plan's state (and error), keeping the rest of its status.
    pub fn set_state(&self, id: &str, state: State, error: Option<String>) {
        let r = self.status(id).map_err(|e| e.message).and_then(|mut st| {
            st.status = state;
            st.error = error;
            st.updated_at = now_utc();
            self.write_status(&st).map_err(|e| e.to_string())
        });
        if let Err(e) = r {
            eprintln!("otaplan serve: cannot update the status of plan {id}: {e}");
        }
    }
}

/// Resolves a request's scenario folder name strictly inside `root`: relative, no `..`,
/// and (after following symlinks) still inside it.
pub fn resolve_inside(root: &Path, name: &str) -> Result<PathBuf, ApiError> {
    let escape = || {
        ApiError::bad_request(
            "path_escape",
            format!("{name:?} is not a folder inside the scenario root"),
        )
    };
    let rel = Path::new(name);
    if name.is_empty()
        || name.contains('\0')
        || !rel.components().all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(escape());
    }
    let root = root
        .canonicalize()
        .map_err(|e| ApiError::internal("canonicalising the scenario root", e))?;
    let full = root.join(rel).canonicalize().map_err(|_| {
        ApiError::not_found(format!("no scenario folder {name:?} in the scenario root"))
    })?;
    if !full.starts_with(&root) {
        return Err(escape());
    }
    Ok(full)
}

/// Copies the scenario in `src` (scenario.toml and the tables it names, each resolved
/// inside `root`) into `dst`.
pub fn copy_scenario(root: &Path, src: &Path, dst: &Path) -> Result<(), ApiError> {
    let toml_text = std::fs::read_to_string(src.join("scenario.toml")).map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "the scenario folder holds no readable scenario.toml",
        )
    })?;
    let doc: toml::Table = toml::from_str(&toml_text).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("scenario.toml: {e}"),
        )
    })?;
    write_atomic(&dst.join("scenario.toml"), toml_text.as_bytes())
        .map_err(|e| ApiError::internal("copying scenario.toml", e))?;
    let rel_src = src
        .strip_prefix(root.canonicalize().unwrap_or_default())
        .unwrap_or(src);
    if let Some(tables) = doc.get("tables").and_then(|t| t.as_table()) {
        for value in tables.values() {
            let Some(file) = value.as_str() else { continue };
            let rel = rel_src.join(file);
            let from = resolve_inside(root, &rel.to_string_lossy())?;
            let bytes = std::fs::read(&from)
                .map_err(|e| ApiError::internal("reading a scenario table", e))?;
            write_atomic(&dst.join(file), &bytes)
                .map_err(|e| ApiError::internal("copying a scenario table", e))?;
        }
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
