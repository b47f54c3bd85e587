//! `otaplan export`: the requests handed to AWS IoT Jobs, hawkBit and Mender validate
//! against those systems' real interfaces (botocore's IoT service model; JSON Schemas
//! written from hawkBit's and Mender's API docs, in tests/data/handoff/), and every
//! device's window comes back exactly from the exported files — across the sample's
//! daylight-saving change — with every scheduled device exactly once per export.

mod common;

use assert_cmd::Command;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const TARGETS: [&str; 3] = ["aws-iot-jobs", "hawkbit", "mender"];
const ARN: &str = "arn:aws:iot:eu-west-1:123456789012:thing/{device_id}";

/// data/sample planned once, and exported to every target.
fn sample() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        common::run_plan(
            &root.join("data/sample"),
            d.path(),
            &["--no-baselines", "--no-report"],
        );
        for t in TARGETS {
            let o = export(
                d.path(),
                &[
                    "--to",
                    t,
                    "--thing-arn",
                    ARN,
                    "--document-source",
                    "https://s3.eu-west-1.amazonaws.com/fw/2.4.0.json",
                ],
            );
            assert!(
                o.status.success(),
                "{t}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        d
    })
    .path()
}

fn export(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("otaplan")
        .unwrap()
        .arg("export")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

fn validate(target: &str, folder: &Path) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/handoff/validate.py");
    std::process::Command::new("python3")
        .arg(script)
        .arg(target)
        .arg(folder)
        .output()
        .expect("python3 runs")
}

fn json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The bodies of an export folder in call order, with their calls.
fn bodies(folder: &Path) -> Vec<(Value, Value)> {
    json(&folder.join("calls.json"))
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| {
            let b = c["body"].as_str()?;
            (b != "abort.json").then(|| (c.clone(), json(&folder.join(b))))
        })
        .collect()
}

/// Each device's window as the rollout system will see it, from the exported files alone.
fn windows_from(target: &str, folder: &Path) -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    match target {
        "aws-iot-jobs" => {
            let (head, tail) = ARN.split_once("{device_id}").unwrap();
            let t = |v: &Value| {
                Utc.from_utc_datetime(
                    &NaiveDateTime::parse_from_str(v.as_str().unwrap(), "%Y-%m-%dT%H:%M").unwrap(),
                )
            };
            for (_, b) in bodies(folder) {
                let (s, e) = (
                    t(&b["schedulingConfig"]["startTime"]),
                    t(&b["schedulingConfig"]["endTime"]),
                );
                for arn in b["targets"].as_array().unwrap() {
                    let id = arn
                        .as_str()
                        .unwrap()
                        .strip_prefix(head)
                        .unwrap()
                        .strip_suffix(tail)
                        .unwrap();
                    out.push((id.to_string(), s, e));
                }
            }
        }
        "hawkbit" => {
            for (_, b) in bodies(folder) {
                for a in b.as_array().unwrap() {
                    let mw = &a["maintenanceWindow"];
                    let f: Vec<&str> = mw["schedule"].as_str().unwrap().split(' ').collect();
                    assert_eq!(
                        (f.len(), f[0], f[5]),
                        (7, "0", "?"),
                        "a one-shot Quartz cron"
                    );
                    let n = |i: usize| f[i].parse::<u32>().unwrap();
                    let offset: FixedOffset = mw["timezone"].as_str().unwrap().parse().unwrap();
                    let local = NaiveDate::from_ymd_opt(n(6) as i32, n(4), n(3))
                        .unwrap()
                        .and_hms_opt(n(2), n(1), 0)
                        .unwrap();
                    let s = offset
                        .from_local_datetime(&local)
                        .unwrap()
                        .with_timezone(&Utc);
                    let d: Vec<i64> = mw["duration"]
                        .as_str()
                        .unwrap()
                        .split(':')
                        .map(|x| x.parse().unwrap())
                        .collect();
                    let e = s + chrono::Duration::seconds(d[0] * 3600 + d[1] * 60 + d[2]);
                    assert_eq!(a["forcetime"].as_i64(), Some(s.timestamp_millis()));
                    out.push((a["id"].as_str().unwrap().to_string(), s, e));
                }
            }
        }
        _ => {
            let calls = json(&folder.join("calls.json"));
            let mut ends = HashMap::new();
            for c in calls.as_array().unwrap() {
                if let Some(rest) = c["path"].as_str().unwrap().split("{id of call ").nth(1) {
                    let seq: u64 = rest.split('}').next().unwrap().parse().unwrap();
                    ends.insert(seq, utc(c["not_before"].as_str().unwrap()));
                }
            }
            for (c, b) in bodies(folder) {
                let phases = b["phases"].as_array().unwrap();
                assert_eq!(phases.len(), 1);
                let s = utc(phases[0]["start_ts"].as_str().unwrap());
                let e = ends[&c["seq"].as_u64().unwrap()];
                for id in b["devices"].as_array().unwrap() {
                    out.push((id.as_str().unwrap().to_string(), s, e));
                }
            }
        }
    }
    out
}

#[test]
fn every_device_gets_its_plan_window_back_from_every_export() {
    let dir = sample();
    let rows = common::read_csv(&dir.join("plan.csv"));
    let planned: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)> = rows
        .iter()
        .map(|r| {
            (
                r["device_id"].clone(),
                (utc(&r["window_start"]), utc(&r["window_end"])),
            )
        })
        .collect();
    assert_eq!(planned.len(), rows.len());
    // The horizon holds a daylight-saving change: one zone's windows carry two offsets.
    let mut offsets: HashMap<&str, std::collections::BTreeSet<&str>> = HashMap::new();
    for r in &rows {
        let local = &r["window_start_local"];
        offsets
            .entry(r["timezone"].as_str())
            .or_default()
            .insert(&local[local.len() - 6..]);
    }
    assert!(
        offsets.values().any(|o| o.len() == 2),
        "no DST change among {offsets:?}"
    );
    for t in TARGETS {
        let got = windows_from(t, &dir.join(format!("export-{t}")));
        assert_eq!(
            got.len(),
            planned.len(),
            "{t}: every scheduled device exactly once"
        );
        let mut seen = BTreeMap::new();
        for (id, s, e) in got {
            assert!(seen.insert(id.clone(), (s, e)).is_none(), "{t}: {id} twice");
        }
        assert_eq!(seen, planned, "{t}: windows differ from plan.csv");
    }
}

#[test]
fn every_export_validates_against_the_real_interfaces() {
    let dir = sample();
    for t in TARGETS {
        let o = validate(t, &dir.join(format!("export-{t}")));
        assert!(
            o.status.success(),
            "{t}: {}{} (bin/setup installs botocore and jsonschema)",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// A change that breaks a body.
type Edit = Box<dyn Fn(&mut Value)>;

fn broken_copy(t: &str, edit: impl Fn(&mut Value)) -> tempfile::TempDir {
    let src = sample().join(format!("export-{t}"));
    let d = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(&src).unwrap() {
        let p = f.unwrap().path();
        std::fs::copy(&p, d.path().join(p.file_name().unwrap())).unwrap();
    }
    let first = bodies(d.path())[0].0["body"].as_str().unwrap().to_string();
    let mut b = json(&d.path().join(&first));
    edit(&mut b);
    std::fs::write(d.path().join(first), b.to_string()).unwrap();
    d
}

#[test]
fn the_validators_refuse_what_the_real_interfaces_refuse() {
    let cases: [(&str, &str, Edit); 5] = [
        (
            "aws-iot-jobs",
            "jobId",
            Box::new(|b| b["jobId"] = "release.2.4.0".into()),
        ),
        (
            "aws-iot-jobs",
            "targets",
            Box::new(|b| {
                b["targets"] = (0..101)
                    .map(|i| format!("arn:aws:iot:eu-west-1:1:thing/d{i}"))
                    .collect()
            }),
        ),
        (
            "aws-iot-jobs",
            "endBehavior",
            Box::new(|b| b["schedulingConfig"]["endBehavior"] = "STOP".into()),
        ),
        (
            "hawkbit",
            "duration",
            Box::new(|b| b[0]["maintenanceWindow"]["duration"] = "24:00:00".into()),
        ),
        (
            "mender",
            "artifact_name",
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("artifact_name");
            }),
        ),
    ];
    for (t, what, edit) in cases {
        let d = broken_copy(t, edit);
        let o = validate(t, d.path());
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(1), "{t} {what}: {out}");
        assert!(out.contains(what), "{t} {what}: {out}");
    }
}

#[test]
fn large_windows_are_split_and_the_calls_are_listed_in_order() {
    let dir = sample();
    let aws = bodies(&dir.join("export-aws-iot-jobs"));
    assert!(
        aws.iter()
            .all(|(_, b)| b["targets"].as_array().unwrap().len() <= 100)
    );
    assert!(
        aws.iter()
            .any(|(c, _)| c["body"].as_str().unwrap().ends_with("m-2.json")),
        "a window of more than 100 devices is split"
    );
    let ids: std::collections::BTreeSet<&str> = aws
        .iter()
        .map(|(_, b)| b["jobId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), aws.len(), "job ids are unique");
    for t in TARGETS {
        let folder = dir.join(format!("export-{t}"));
        let calls = json(&folder.join("calls.json"));
        let times: Vec<Option<DateTime<Utc>>> = calls
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["not_before"].as_str().map(utc))
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "{t}: calls in send order"
        );
        let readme = std::fs::read_to_string(folder.join("README.txt")).unwrap();
        assert!(
            readme.contains(&format!("{} calls", calls.as_array().unwrap().len())),
            "{readme}"
        );
    }
}

#[test]
fn bad_exports_fail_with_one_line_and_write_nothing() {
    let d = tempfile::tempdir().unwrap();
    let o = export(&d.path().join("nope"), &["--to", "mender"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("summary.json"));
    let out: PathBuf = d.path().join("aws");
    let o = export(
        sample(),
        &["--to", "aws-iot-jobs", "--out", out.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--document-source"));
    assert!(!out.exists());
}

async fn get(app: &axum::Router, uri: &str) -> (axum::http::StatusCode, Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .uri(uri)
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_export_is_the_cli_export() {
    use axum::http::StatusCode;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let data = tempfile::tempdir().unwrap();
    let mut cfg = otaplan::server::ServerConfig::new(data.path().to_path_buf());
    cfg.scenario_root = Some(common::data(""));
    let app = otaplan::server::router(otaplan::server::AppState::open(cfg).unwrap());
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/v1/plans")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(r#"{"scenario_dir": "minimal"}"#))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let plan: Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let id = plan["id"].as_str().unwrap();
    let plan_dir = data.path().join("plans").join(id).join("plan");
    for t in TARGETS {
        let q = "?document_source=https://s3.example/doc.json&thing_arn=arn:aws:iot:eu-west-1:1:thing/%7Bdevice_id%7D";
        let (s, got) = get(&app, &format!("/v1/plans/{id}/export/{t}{q}")).await;
        assert_eq!(s, StatusCode::OK, "{got}");
        let out = tempfile::tempdir().unwrap();
        let o = export(
            &plan_dir,
            &[
                "--to",
                t,
                "--out",
                out.path().to_str().unwrap(),
                "--document-source",
                "https://s3.example/doc.json",
                "--thing-arn",
                "arn:aws:iot:eu-west-1:1:thing/{device_id}",
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(got["calls"], json(&out.path().join("calls.json")), "{t}");
        for f in got["files"].as_array().unwrap() {
            assert_eq!(
                f["body"],
                json(&out.path().join(f["name"].as_str().unwrap())),
                "{t}"
            );
        }
        let readme = std::fs::read_to_string(out.path().join("README.txt")).unwrap();
        assert_eq!(got["readme"], Value::String(readme));
    }
    let (s, got) = get(&app, &format!("/v1/plans/{id}/export/jenkins")).await;
    assert_eq!(
        (s, got["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_target"))
    );
    let (s, got) = get(&app, &format!("/v1/plans/{id}/export/aws-iot-jobs")).await;
    assert_eq!(
        (s, got["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("cannot_export")),
        "{got}"
    );
    let (s, _) = get(&app, "/v1/plans/nope/export/mender").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, doc) = get(&app, "/openapi.json").await;
    assert!(doc["paths"]["/v1/plans/{id}/export/{target}"]["get"].is_object());
}

#[test]
fn a_new_export_into_the_same_folder_leaves_no_stale_request() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let doc = "https://s3.example/doc.json";
    for prefix in ["first", "second"] {
        let r = export(
            sample(),
            &[
                "--to",
                "aws-iot-jobs",
                "--out",
                o,
                "--document-source",
                doc,
                "--prefix",
                prefix,
            ],
        );
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    }
    let calls = json(&out.path().join("calls.json"));
    let mut names: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "calls.json" && n != "README.txt")
        .collect();
    names.sort();
    let mut listed: Vec<String> = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    assert_eq!(names, listed);
    assert!(names.iter().all(|n| n.contains("-second-")));
}
