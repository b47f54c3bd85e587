//! Request bodies: a scenario as JSON (the contract's `scenario.toml` keys plus each
//! table as an array of row objects) written out as a scenario folder, so the library
//! validates it exactly as it validates the CLI's input; and re-plan progress rows.

use super::error::{ApiError, ErrorDetail};
use crate::fsutil::write_atomic;
use crate::output::csv_text;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::Path;
use utoipa::ToSchema;

pub type Row = Map<String, Value>;

/// A scenario: `scenario.toml`'s keys, and every table as rows (objects whose keys are
/// the table's columns; values are strings, numbers, booleans or null).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioBody {
    pub name: String,
    pub release: String,
    /// RFC 3339 with an offset.
    pub start: String,
    /// RFC 3339 with an offset.
    pub deadline: String,
    /// Minutes (an integer; anything else is a located 422 from validation).
    #[serde(default)]
    #[schema(value_type = Option<u32>)]
    pub slot_minutes: Option<serde_json::Number>,
    #[serde(default)]
    pub currency: Option<String>,
    /// `"model"`, `"history"` or `"priors"`.
    #[serde(default)]
    pub coverage_source: Option<String>,
    /// `{"default": ["01:00-05:00"], "regions": {"eu-central": ["02:00-06:00"]}}`
    #[schema(value_type = Object)]
    pub windows: Value,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub waves: Option<Vec<Value>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub weights: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub stop_rules: Option<Value>,
    #[schema(value_type = Vec<Object>)]
    pub devices: Vec<Row>,
    #[schema(value_type = Vec<Object>)]
    pub pools: Vec<Row>,
    #[schema(value_type = Vec<Object>)]
    pub overage_tiers: Vec<Row>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub zone_rates: Option<Vec<Row>>,
    #[schema(value_type = Vec<Object>)]
    pub artifacts: Vec<Row>,
    #[schema(value_type = Vec<Object>)]
    pub regions: Vec<Row>,
    /// Raw coverage history rows.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub coverage: Option<Vec<Row>>,
    /// A fitted coverage model's rows.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub coverage_model: Option<Vec<Row>>,
    /// Where to post the outcome (see the server's callback settings).
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub callback_url: Option<String>,
}

/// A scenario folder the server is configured to read, by its name under
/// `--scenario-root`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"scenario_dir": "fleet-a"}))]
#[serde(deny_unknown_fields)]
pub struct ScenarioDirBody {
    /// A folder under the scenario root: relative, `/`-separated names none of which
    /// starts with a dot.
    #[schema(
        min_length = 1,
        max_length = 4096,
        pattern = r"^[^/.\x00][^/\x00]*(/[^/.\x00][^/\x00]*)*$"
    )]
    pub scenario_dir: String,
    /// Where to post the outcome (see the server's callback settings).
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub callback_url: Option<String>,
}

/// `POST /v1/plans`: either a scenario or a scenario folder's name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PlanRequest {
    Dir(ScenarioDirBody),
    Scenario(Box<ScenarioBody>),
}

/// One device's progress, as a row of the CLI's `progress.csv`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressRow {
    pub device_id: String,
    /// `done` | `failed` | `in_progress` | `pending`
    pub state: String,
    /// Bytes (an integer; anything else is a located 422 from validation).
    #[serde(default)]
    #[schema(value_type = Option<u64>)]
    pub bytes_used: Option<serde_json::Number>,
    /// When those bytes were used (RFC 3339); default: just before `now`.
    #[serde(default)]
    pub at: Option<String>,
}

/// `POST /v1/plans/{id}/replan`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplanRequest {
    /// Re-plan from this instant (RFC 3339 with an offset).
    pub now: String,
    pub progress: Vec<ProgressRow>,
    /// Where to post the outcome (see the server's callback settings).
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub callback_url: Option<String>,
}

/// Parses a JSON body, turning serde's message into a 400 with the position.
pub fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("the body is not JSON: {e}")))?;
    serde_json::from_value(v).map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!("the body does not fit the schema: {e}"),
        )
    })
}

/// Rows as CSV text: columns in order of first appearance; null is an empty cell; a
/// cell that is not a scalar is a located 422.
pub fn rows_csv(table: &str, rows: &[Row]) -> Result<String, ApiError> {
    let mut cols: Vec<&str> = Vec::new();
    for r in rows {
        for k in r.keys() {
            if !cols.contains(&k.as_str()) {
                cols.push(k);
            }
        }
    }
    let mut bad = Vec::new();
    let mut body = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let cells: Vec<String> = cols
            .iter()
            .map(|c| match r.get(*c) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Number(n)) => n.to_string(),
                Some(v) => {
                    bad.push(ErrorDetail {
                        table: Some(table.to_string()),
                        row: Some(i + 1),
                        field: Some((*c).to_string()),
                        value: Some(v.to_string().chars().take(80).collect()),
                        message: "a cell must be a string, number, boolean or null".into(),
                        hint: None,
                        note: None,
                    });
                    String::new()
                }
            })
            .collect();
        body.push(cells);
    }
    let out = csv_text(&cols, body);
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("{table}: cells of the wrong type"),
        )
        .with_details(bad))
    }
}

fn to_toml(path: &str, v: &Value) -> Result<Option<toml::Value>, ApiError> {
    Ok(Some(match v {
        Value::Null => return Ok(None),
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::Array(a) => {
            let mut out = Vec::with_capacity(a.len());
            for (i, x) in a.iter().enumerate() {
                if let Some(t) = to_toml(&format!("{path}[{i}]"), x)? {
                    out.push(t);
                }
            }
            toml::Value::Array(out)
        }
        Value::Object(m) => {
            let mut t = toml::Table::new();
            for (k, x) in m {
                if let Some(v) = to_toml(&format!("{path}.{k}"), x)? {
                    t.insert(k.clone(), v);
                }
            }
            toml::Value::Table(t)
        }
    }))
    .and_then(|v| match &v {
        Some(toml::Value::Float(f)) if !f.is_finite() => Err(ApiError::bad_request(
            "invalid_body",
            format!("{path}: not a finite number"),
        )),
        _ => Ok(v),
    })
}

/// Writes the scenario as `scenario.toml` and one CSV per table into `dir`.
pub fn materialise(s: &ScenarioBody, dir: &Path) -> Result<(), ApiError> {
    let mut doc = toml::Table::new();
    let mut put = |k: &str, v: Option<Value>| -> Result<(), ApiError> {
        if let Some(v) = v.as_ref().map(|v| to_toml(k, v)).transpose()?.flatten() {
            doc.insert(k.to_string(), v);
        }
        Ok(())
    };
    put("name", Some(Value::String(s.name.clone())))?;
    put("release", Some(Value::String(s.release.clone())))?;
    put("start", Some(Value::String(s.start.clone())))?;
    put("deadline", Some(Value::String(s.deadline.clone())))?;
    put("slot_minutes", s.slot_minutes.clone().map(Value::Number))?;
    put("currency", s.currency.clone().map(Value::String))?;
    put(
        "coverage_source",
        s.coverage_source.clone().map(Value::String),
    )?;
    put("windows", Some(s.windows.clone()))?;
    put("waves", s.waves.clone().map(Value::Array))?;
    put("weights", s.weights.clone())?;
    put("stop_rules", s.stop_rules.clone())?;
    let tables: [(&str, Option<&Vec<Row>>); 8] = [
        ("devices", Some(&s.devices)),
        ("pools", Some(&s.pools)),
        ("overage_tiers", Some(&s.overage_tiers)),
        ("zone_rates", s.zone_rates.as_ref()),
        ("artifacts", Some(&s.artifacts)),
        ("regions", Some(&s.regions)),
        ("coverage", s.coverage.as_ref()),
        ("coverage_model", s.coverage_model.as_ref()),
    ];
    let mut names = toml::Table::new();
    for (table, rows) in tables {
        let Some(rows) = rows else { continue };
        let file = format!("{table}.csv");
        let csv = rows_csv(table, rows)?;
        write_atomic(&dir.join(&file), csv.as_bytes())
            .map_err(|e| ApiError::internal("writing a table", e))?;
        names.insert(table.to_string(), toml::Value::String(file));
    }
    doc.insert("tables".to_string(), toml::Value::Table(names));
    let text = toml::to_string(&doc).map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!("the settings cannot be written as TOML: {e}"),
        )
    })?;
    write_atomic(&dir.join("scenario.toml"), text.as_bytes())
        .map_err(|e| ApiError::internal("writing scenario.toml", e))
}

/// Writes progress rows as `progress.csv`. The `at` column is written only when some
/// row has one: without it, finished waves keep the parent plan's gates (as for a CLI
/// progress table without the column).
pub fn progress_csv(rows: &[ProgressRow]) -> String {
    let with_at = rows.iter().any(|r| r.at.is_some());
    let header: &[&str] = if with_at {
        &["device_id", "state", "bytes_used", "at"]
    } else {
        &["device_id", "state", "bytes_used"]
    };
    let body = rows.iter().map(|r| {
        let mut cells = vec![
            r.device_id.clone(),
            r.state.clone(),
            r.bytes_used
                .as_ref()
                .map(|b| b.to_string())
                .unwrap_or_default(),
        ];
        if with_at {
            cells.push(r.at.clone().unwrap_or_default());
        }
        cells
    });
    csv_text(header, body)
}
