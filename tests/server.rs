//! The HTTP service through its router (tower `oneshot`) and over a real socket on
//! 127.0.0.1: plan → poll → devices → replan (the CLI's re-plan, byte for byte), every
//! kind of bad request answered with the right 4xx and the one JSON error shape, plans
//! kept and re-queued across a restart (also after kill -9), nothing outside the scenario
//! root read or echoed, slow clients closed, metrics bounded, the plan lifecycle and
//! signed callbacks.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use otaplan::server::{AppState, ServerConfig, router, serve_health, serve_on};
use serde_json::{Value, json};
use std::path::Path;
use tower::ServiceExt;

const TOKEN: &str = "s3cret-token";

fn config(data: &Path) -> ServerConfig {
    let mut c = ServerConfig::new(data.to_path_buf());
    c.token = Some(TOKEN.to_string());
    c.scenario_root = Some(common::data(""));
    c.max_body_bytes = 1 << 20;
    c
}

/// The minimal scenario as a JSON body: scenario.toml's keys and every table's rows.
fn minimal_json() -> Value {
    let dir = common::data("minimal");
    let text = std::fs::read_to_string(dir.join("scenario.toml")).unwrap();
    let mut doc: Value = toml::from_str::<toml::Table>(&text)
        .map(|t| serde_json::to_value(t).unwrap())
        .unwrap();
    let obj = doc.as_object_mut().unwrap();
    obj.remove("tables");
    for t in [
        "devices",
        "pools",
        "overage_tiers",
        "zone_rates",
        "artifacts",
        "regions",
    ] {
        let rows: Vec<Value> = common::read_csv(&dir.join(format!("{t}.csv")))
            .into_iter()
            .map(|r| {
                Value::Object(
                    r.into_iter()
                        .map(|(k, v)| {
                            (
                                k,
                                if v.is_empty() {
                                    Value::Null
                                } else {
                                    Value::String(v)
                                },
                            )
                        })
                        .collect(),
                )
            })
            .collect();
        obj.insert(t.to_string(), Value::Array(rows));
    }
    doc
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
    accept: Option<&str>,
) -> (StatusCode, Value, String) {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if let Some(a) = accept {
        b = b.header(header::ACCEPT, a);
    }
    let req = b
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.map_or_else(Body::empty, Body::from))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).to_string();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, json, text)
}

async fn post(app: &axum::Router, uri: &str, body: &Value) -> (StatusCode, Value, String) {
    call(
        app,
        "POST",
        uri,
        Some(TOKEN),
        Some(serde_json::to_vec(body).unwrap()),
        None,
    )
    .await
}

fn assert_error(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body["error"]["details"].is_array(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_poll_devices_replan() {
    let data = tempfile::tempdir().unwrap();
    let app = router(AppState::open(config(data.path())).unwrap());
    let (s, plan, _) = post(&app, "/v1/plans", &minimal_json()).await;
    assert_eq!(s, StatusCode::CREATED, "{plan}");
    assert_eq!(plan["status"], "done");
    assert_eq!(plan["summary"]["devices"], 10);
    let id = plan["id"].as_str().unwrap().to_string();

    let (s, got, _) = call(
        &app,
        "GET",
        &format!("/v1/plans/{id}"),
        Some(TOKEN),
        None,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["summary"]["scheduled"], plan["summary"]["scheduled"]);
    let scheduled = got["summary"]["scheduled"].as_u64().unwrap();

    let uri = format!("/v1/plans/{id}/devices?offset=1&limit=2");
    let (s, page, _) = call(&app, "GET", &uri, Some(TOKEN), None, None).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["total"].as_u64(), Some(scheduled));
    assert_eq!(page["devices"].as_array().unwrap().len(), 2);
    assert!(page["devices"][0]["payload_bytes"].is_u64());

    let uri = format!("/v1/plans/{id}/devices");
    let (s, _, csv) = call(&app, "GET", &uri, Some(TOKEN), None, Some("text/csv")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(csv.starts_with("device_id,wave,"));
    assert_eq!(csv.lines().count() as u64, scheduled + 1);

    let uri = format!("/v1/plans/{id}/report");
    let (s, _, html) = call(&app, "GET", &uri, Some(TOKEN), None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("<svg"),
        "the finance report has its charts inline"
    );

    let first = page["devices"][0]["device_id"]
        .as_str()
        .unwrap()
        .to_string();
    let replan = json!({
        "now": "2027-03-25T00:00:00Z",
        "progress": [{"device_id": first, "state": "done", "bytes_used": 1000000}]
    });
    let (s, re, _) = post(&app, &format!("/v1/plans/{id}/replan"), &replan).await;
    assert_eq!(s, StatusCode::CREATED, "{re}");
    assert_eq!(re["parent"], id.as_str());
    assert_eq!(re["status"], "done");
    assert_ne!(re["id"], id.as_str());

    // Bad progress is the CLI's located validation error.
    let bad = json!({"now": "2027-03-25T00:00:00Z",
        "progress": [{"device_id": "nope", "state": "done"}]});
    let (s, body, _) = post(&app, &format!("/v1/plans/{id}/replan"), &bad).await;
    assert_error(
        s,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(body["error"]["details"][0]["row"], 1);

    let (s, _, text) = call(&app, "GET", "/metrics", Some(TOKEN), None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        text.contains("otaplan_solves_total{outcome=\"done\"} 2"),
        "{text}"
    );
    assert!(text.contains("otaplan_queue_depth 0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_4xx_and_one_error_shape() {
    let data = tempfile::tempdir().unwrap();
    let app = router(AppState::open(config(data.path())).unwrap());
    let raw = |b: &str| Some(b.as_bytes().to_vec());

    let (s, b, _) = call(
        &app,
        "POST",
        "/v1/plans",
        Some(TOKEN),
        raw("{not json"),
        None,
    )
    .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_json");

    let mut wrong = minimal_json();
    wrong["devices"] = json!("d01");
    let (s, b, _) = post(&app, "/v1/plans", &wrong).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_body");

    let mut missing = minimal_json();
    missing.as_object_mut().unwrap().remove("pools");
    let (s, b, _) = post(&app, "/v1/plans", &missing).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_body");
    assert!(b["error"]["message"].as_str().unwrap().contains("pools"));

    let mut nested = minimal_json();
    nested["devices"][2]["radio"] = json!({"x": 1});
    let (s, b, _) = post(&app, "/v1/plans", &nested).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(b["error"]["details"][0]["row"], 3);

    let mut invalid = minimal_json();
    invalid["devices"][3]["pool_id"] = json!("p-nowhere");
    let (s, b, _) = post(&app, "/v1/plans", &invalid).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let d = &b["error"]["details"][0];
    assert_eq!(d["table"], "devices");
    assert_eq!(d["row"], 4);
    assert_eq!(d["field"], "pool_id");

    let huge = vec![b' '; 2 << 20];
    let (s, b, _) = call(&app, "POST", "/v1/plans", Some(TOKEN), Some(huge), None).await;
    assert_error(s, &b, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    let (s, b, _) = call(&app, "GET", "/v1/plans/x", None, None, None).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized");
    let (s, b, _) = call(&app, "GET", "/v1/plans/x", Some("wrong"), None, None).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized");
    let (s, _, _) = call(&app, "GET", "/healthz", None, None, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = call(&app, "GET", "/readyz", None, None, None).await;
    assert_eq!(s, StatusCode::OK);

    for id in ["nope", "..", "..%2F..%2Fetc", "20270101t000000-000000-0"] {
        let (s, b, _) = call(
            &app,
            "GET",
            &format!("/v1/plans/{id}"),
            Some(TOKEN),
            None,
            None,
        )
        .await;
        assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    }
    let (s, b, _) = post(
        &app,
        "/v1/plans/nope/replan",
        &json!({"now": "x", "progress": []}),
    )
    .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");

    for dir in [
        "../data/minimal",
        "minimal/../../data/minimal",
        "/etc",
        "/tmp",
        "",
    ] {
        let (s, b, _) = post(&app, "/v1/plans", &json!({"scenario_dir": dir})).await;
        assert_error(s, &b, StatusCode::BAD_REQUEST, "path_escape");
    }
    // A symlink inside the root that points outside it.
    let root = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(common::data("minimal"), root.path().join("link")).unwrap();
    let mut cfg = config(data.path());
    cfg.scenario_root = Some(root.path().to_path_buf());
    let app2 = router(AppState::open(cfg).unwrap());
    let (s, b, _) = post(&app2, "/v1/plans", &json!({"scenario_dir": "link"})).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "path_escape");

    let (s, b, _) = post(&app, "/v1/plans", &json!({"scenario_dir": "no-such"})).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    let (s, b, _) = post(&app, "/v1/plans", &json!({"scenario_dir": "minimal"})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");

    let (s, b, _) = call(&app, "DELETE", "/v1/plans", Some(TOKEN), None, None).await;
    assert_error(s, &b, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let (s, b, _) = call(&app, "GET", "/v2/nothing", Some(TOKEN), None, None).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    let (s, b, _) = call(
        &app,
        "GET",
        "/v1/plans/x/devices?limit=abc",
        Some(TOKEN),
        None,
        None,
    )
    .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_query");

    let (s, doc, _) = call(&app, "GET", "/openapi.json", Some(TOKEN), None, None).await;
    assert_eq!(s, StatusCode::OK);
    for p in [
        "/v1/plans",
        "/v1/plans/{id}",
        "/v1/plans/{id}/devices",
        "/v1/plans/{id}/replan",
    ] {
        assert!(
            doc["paths"][p].is_object(),
            "{p} missing from the OpenAPI document"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_503_with_retry_after() {
    let data = tempfile::tempdir().unwrap();
    let mut cfg = config(data.path());
    cfg.max_solves = 1;
    cfg.queue = 0;
    cfg.sync_devices = 0; // every plan is queued
    let app = router(AppState::open(cfg).unwrap());
    let mut saw_503 = false;
    for _ in 0..4 {
        let body = serde_json::to_vec(&minimal_json()).unwrap();
        let req = Request::post("/v1/plans")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert!(resp.headers().contains_key(header::RETRY_AFTER));
            saw_503 = true;
        } else {
            assert_eq!(resp.status(), StatusCode::ACCEPTED);
        }
    }
    assert!(
        saw_503,
        "four plans at once with room for one must refuse some"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_finished_plans_and_requeues_interrupted_ones() {
    let data = tempfile::tempdir().unwrap();
    let id = {
        let app = router(AppState::open(config(data.path())).unwrap());
        let (s, plan, _) = post(&app, "/v1/plans", &minimal_json()).await;
        assert_eq!(s, StatusCode::CREATED);
        plan["id"].as_str().unwrap().to_string()
    };
    let plans = data.path().join("plans");
    // A plan a killed process left solving: its input is stored, its outputs are not.
    let stuck_id = "20260101t000000-000000-9";
    let stuck = plans.join(stuck_id);
    copy_tree(&plans.join(&id).join("input"), &stuck.join("input"));
    std::fs::write(
        stuck.join("status.json"),
        format!(r#"{{"id":"{stuck_id}","status":"solving","created_at":"","updated_at":"","devices":10}}"#),
    )
    .unwrap();
    // What a kill during a write leaves: a folder without status.json, a temp file.
    std::fs::create_dir_all(plans.join("20260101t000000-000001-3/input")).unwrap();
    std::fs::write(plans.join(&id).join("plan/.otaplan-x1.tmp"), b"half").unwrap();

    let app = router(AppState::open(config(data.path())).unwrap());
    assert!(!plans.join("20260101t000000-000001-3").exists());
    assert!(!plans.join(&id).join("plan/.otaplan-x1.tmp").exists());
    let (s, got, _) = get(&app, &format!("/v1/plans/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["status"], "done");
    assert_eq!(got["summary"]["devices"], 10);
    let got = wait_done(&app, stuck_id).await;
    assert_eq!(got["status"], "done", "{got}");
    assert_eq!(got["requeued"], 1);
}

fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, Value, String) {
    call(app, "GET", uri, Some(TOKEN), None, None).await
}

/// Polls a plan until it is done or failed.
async fn wait_done(app: &axum::Router, id: &str) -> Value {
    for _ in 0..1200 {
        let (s, got, _) = get(app, &format!("/v1/plans/{id}")).await;
        assert_eq!(s, StatusCode::OK, "{got}");
        if got["status"] == "done" || got["status"] == "failed" {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("plan {id} did not finish");
}

/// One HTTP/1.1 exchange over a fresh connection.
async fn http(addr: std::net::SocketAddr, method: &str, path: &str, body: &str) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    let status = text[9..12].parse().unwrap();
    let (_, rest) = text.split_once("\r\n\r\n").unwrap();
    (status, serde_json::from_str(rest).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_a_real_socket() {
    let data = tempfile::tempdir().unwrap();
    let mut cfg = config(data.path());
    cfg.sync_devices = 0; // exercise the 202 + poll path
    let st = AppState::open(cfg).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_on(listener, st, std::future::pending()));

    let body = serde_json::to_string(&minimal_json()).unwrap();
    let (s, plan) = http(addr, "POST", "/v1/plans", &body).await;
    assert_eq!(s, 202, "{plan}");
    let id = plan["id"].as_str().unwrap().to_string();
    let mut done = false;
    for _ in 0..600 {
        let (s, got) = http(addr, "GET", &format!("/v1/plans/{id}"), "").await;
        assert_eq!(s, 200);
        assert_ne!(got["status"], "failed", "{got}");
        if got["status"] == "done" {
            done = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(done, "the plan did not finish");
    let (s, page) = http(addr, "GET", &format!("/v1/plans/{id}/devices?limit=1"), "").await;
    assert_eq!(s, 200);
    let first = page["devices"][0]["device_id"]
        .as_str()
        .unwrap()
        .to_string();
    let replan = json!({"now": "2027-03-25T00:00:00Z",
        "progress": [{"device_id": first, "state": "in_progress", "bytes_used": 500000}]});
    let (s, re) = http(
        addr,
        "POST",
        &format!("/v1/plans/{id}/replan"),
        &replan.to_string(),
    )
    .await;
    assert_eq!(s, 202, "{re}");
    assert_eq!(re["parent"], id.as_str());
    let (s, bad) = http(addr, "POST", "/v1/plans", "[1,2").await;
    assert_eq!(s, 400);
    assert_eq!(bad["error"]["code"], "invalid_json");
}

async fn wait_done_over(addr: std::net::SocketAddr, id: &str) {
    for _ in 0..1200 {
        let (s, got) = http(addr, "GET", &format!("/v1/plans/{id}"), "").await;
        assert_eq!(s, 200);
        assert_ne!(got["status"], "failed", "{got}");
        if got["status"] == "done" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("plan {id} did not finish");
}

/// The CLI and `POST /v1/plans/{id}/replan` call one re-plan pipeline and one
/// plan-folder writer: the same progress gives the same files, byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_and_server_replans_write_the_same_files() {
    let data = tempfile::tempdir().unwrap();
    let app = router(AppState::open(config(data.path())).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (s, plan) = http(addr, "POST", "/v1/plans", r#"{"scenario_dir": "minimal"}"#).await;
    assert!(s == 201 || s == 202, "{plan}");
    let id = plan["id"].as_str().unwrap().to_string();
    wait_done_over(addr, &id).await;
    let now = "2027-03-25T00:00:00Z";
    let rows = [
        ("d01", "done", 1000, "2027-03-23T02:00:00Z"),
        ("d04", "in_progress", 1000, "2027-03-24T23:00:00Z"),
        ("d06", "failed", 500, "2027-03-23T03:00:00Z"),
    ];
    let progress: Vec<Value> = rows
        .iter()
        .map(|(d, st, b, at)| json!({"device_id": d, "state": st, "bytes_used": b, "at": at}))
        .collect();
    let body = json!({"now": now, "progress": progress});
    let (s, re) = http(
        addr,
        "POST",
        &format!("/v1/plans/{id}/replan"),
        &body.to_string(),
    )
    .await;
    assert!(s == 201 || s == 202, "{re}");
    let re_id = re["id"].as_str().unwrap().to_string();
    wait_done_over(addr, &re_id).await;
    let server_dir = data.path().join("plans").join(&re_id).join("plan");

    let cli = tempfile::tempdir().unwrap();
    let original = cli.path().join("original");
    common::run_plan(&common::data("minimal"), &original, &["--threads", "1"]);
    let out = cli.path().join("replan");
    std::fs::create_dir_all(&out).unwrap();
    let p = out.join("progress.csv");
    let mut csv = String::from("device_id,state,bytes_used,at\n");
    for (d, st, b, at) in rows {
        csv += &format!("{d},{st},{b},{at}\n");
    }
    std::fs::write(&p, csv).unwrap();
    common::run_plan(
        &common::data("minimal"),
        &out,
        &[
            "--threads",
            "1",
            "--progress",
            p.to_str().unwrap(),
            "--now",
            now,
        ],
    );
    for f in ["plan.csv", "unscheduled.csv", "spent.csv"] {
        assert_eq!(
            std::fs::read_to_string(out.join(f)).unwrap(),
            std::fs::read_to_string(server_dir.join(f)).unwrap(),
            "{f} differs between the CLI and the server"
        );
    }
    assert!(!common::read_csv(&out.join("plan.csv")).is_empty());
    assert!(
        common::read_csv(&out.join("spent.csv"))
            .iter()
            .any(|r| r["kind"] == "in_flight")
    );
}

/// A copy of the minimal scenario folder under `root/name`.
fn minimal_in(root: &Path, name: &str) -> std::path::PathBuf {
    let dir = root.join(name);
    copy_tree(&common::data("minimal"), &dir);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_outside_the_scenario_root_is_read_or_echoed() {
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let secret = tempfile::tempdir().unwrap();
    let marker = "root:x:0:0:SECRET-MARKER:/root:/bin/bash";
    let outside = secret.path().join("passwd");
    std::fs::write(&outside, format!("{marker}\nsecond line\n")).unwrap();
    // scenario.toml itself a symlink out of the root.
    std::fs::create_dir_all(root.path().join("leak")).unwrap();
    std::os::unix::fs::symlink(&outside, root.path().join("leak/scenario.toml")).unwrap();
    // A table that is a symlink out of the root.
    let t = minimal_in(root.path(), "leak-table");
    std::fs::remove_file(t.join("devices.csv")).unwrap();
    std::os::unix::fs::symlink(&outside, t.join("devices.csv")).unwrap();
    // A table path that climbs out, and an absolute one.
    let t = minimal_in(root.path(), "climb");
    let toml = std::fs::read_to_string(t.join("scenario.toml")).unwrap();
    std::fs::write(
        t.join("scenario.toml"),
        toml.replace("devices = \"devices.csv\"", "devices = \"../../passwd\""),
    )
    .unwrap();
    let t = minimal_in(root.path(), "absolute");
    std::fs::write(
        t.join("scenario.toml"),
        toml.replace(
            "devices = \"devices.csv\"",
            &format!("devices = {:?}", outside.display().to_string()),
        ),
    )
    .unwrap();
    let mut cfg = config(data.path());
    cfg.scenario_root = Some(root.path().to_path_buf());
    let app = router(AppState::open(cfg).unwrap());
    for dir in ["leak", "leak-table", "climb", "absolute"] {
        let (s, b, text) = post(&app, "/v1/plans", &json!({"scenario_dir": dir})).await;
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(!text.contains("SECRET-MARKER"), "{dir}: {text}");
        assert!(!text.contains("second line"), "{dir}: {text}");
    }
    // Nothing was kept of the refused requests.
    let (_, list, _) = get(&app, "/v1/plans").await;
    assert_eq!(list["total"], 0, "{list}");
    assert_eq!(
        std::fs::read_dir(data.path().join("plans"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_or_a_missing_file_as_a_table_is_422() {
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let t = minimal_in(root.path(), "folder-table");
    std::fs::remove_file(t.join("devices.csv")).unwrap();
    std::fs::create_dir(t.join("devices.csv")).unwrap();
    let t = minimal_in(root.path(), "missing-table");
    std::fs::remove_file(t.join("pools.csv")).unwrap();
    let t = minimal_in(root.path(), "bad-toml");
    std::fs::write(t.join("scenario.toml"), "name = \"x\"\nrelease = [oops\n").unwrap();
    let mut cfg = config(data.path());
    cfg.scenario_root = Some(root.path().to_path_buf());
    let app = router(AppState::open(cfg).unwrap());
    for (dir, field) in [
        ("folder-table", "tables.devices"),
        ("missing-table", "tables.pools"),
        ("bad-toml", ""),
    ] {
        let (s, b, _) = post(&app, "/v1/plans", &json!({"scenario_dir": dir})).await;
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(b["error"]["details"][0]["field"], field, "{b}");
    }
    // A long name is echoed cut short, not whole.
    let long = "x".repeat(100_000);
    let (s, b, text) = post(&app, "/v1/plans", &json!({"scenario_dir": long})).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    assert!(text.len() < 2_000, "{} bytes", text.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let data = tempfile::tempdir().unwrap();
    let mut cfg = config(data.path());
    cfg.header_timeout = std::time::Duration::from_secs(1);
    let st = AppState::open(cfg).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_on(listener, st, std::future::pending()));
    for opening in ["", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1"] {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(opening.as_bytes()).await.unwrap();
        let t0 = std::time::Instant::now();
        let mut buf = Vec::new();
        let r =
            tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut buf)).await;
        assert!(r.is_ok(), "{opening:?}: the connection was held open");
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(5),
            "{opening:?}: closed only after {:?}",
            t0.elapsed()
        );
    }
    // A prompt client on the same server is served.
    let (s, _) = http(addr, "GET", "/healthz", "").await;
    assert_eq!(s, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_method_names_do_not_grow_the_metrics() {
    let data = tempfile::tempdir().unwrap();
    let st = AppState::open(config(data.path())).unwrap();
    let app = router(st.clone());
    for i in 0..1000 {
        let req = Request::builder()
            .method(format!("ZZMETHOD{i}").as_str())
            .uri("/v1/plans")
            .body(Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        assert!(resp.status().is_client_error());
    }
    assert!(
        st.metrics.request_series() <= 2,
        "{} series",
        st.metrics.request_series()
    );
    let (_, _, text) = get(&app, "/metrics").await;
    assert!(text.contains("method=\"other\""), "{text}");
    assert!(!text.contains("ZZMETHOD"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn states_are_distinct_and_answers_carry_location() {
    let data = tempfile::tempdir().unwrap();
    let mut cfg = config(data.path());
    cfg.max_solves = 1;
    cfg.sync_devices = 0;
    let app = router(AppState::open(cfg).unwrap());
    let body = serde_json::to_vec(&minimal_json()).unwrap();
    let req = Request::post("/v1/plans")
        .header(header::AUTHORIZATION, format!("bearer  {TOKEN} "))
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(body))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let loc = resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(resp.headers().contains_key(header::RETRY_AFTER));
    let id = loc.strip_prefix("/v1/plans/").unwrap().to_string();
    let (s, b, _) = get(&app, &format!("{loc}/devices")).await;
    if s != StatusCode::OK {
        assert_error(s, &b, StatusCode::CONFLICT, "not_ready");
    }
    wait_done(&app, &id).await;

    // Devices: the contract's column order, null for empty cells; they reconcile.
    let (_, plan, _) = get(&app, &loc).await;
    let (s, _, text) = get(&app, &format!("{loc}/devices?limit=10000")).await;
    assert_eq!(s, StatusCode::OK);
    let first = text.find("\"device_id\"").unwrap();
    let order: Vec<usize> = otaplan::output::PLAN_COLUMNS
        .iter()
        .map(|c| text[first..].find(&format!("\"{c}\"")).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    let page: Value = serde_json::from_str(&text).unwrap();
    for d in page["devices"].as_array().unwrap() {
        assert!(d["zone"].is_null() || d["zone"].as_str().is_some_and(|z| !z.is_empty()));
    }
    let (s, un, _) = get(&app, &format!("{loc}/unscheduled")).await;
    assert_eq!(s, StatusCode::OK, "{un}");
    let sum = &plan["summary"];
    assert_eq!(page["total"], sum["scheduled"]);
    assert_eq!(un["total"], sum["unscheduled"]);
    // Every device is scheduled or unscheduled (up-to-date ones among the latter).
    assert_eq!(
        sum["scheduled"].as_u64().unwrap() + sum["unscheduled"].as_u64().unwrap(),
        plan["devices"].as_u64().unwrap()
    );
    assert!(sum["up_to_date"].as_u64().unwrap() <= sum["unscheduled"].as_u64().unwrap());
    let (s, _, csv) = call(
        &app,
        "GET",
        &format!("{loc}/unscheduled"),
        Some(TOKEN),
        None,
        Some("text/csv"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(csv.starts_with("device_id,reason"));
    // Accept is honoured: q=0 excludes CSV; nothing acceptable is 406.
    let (s, b, _) = call(
        &app,
        "GET",
        &format!("{loc}/devices"),
        Some(TOKEN),
        None,
        Some("text/csv;q=0, application/json"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(b["devices"].is_array());
    let (s, b, _) = call(
        &app,
        "GET",
        &format!("{loc}/devices"),
        Some(TOKEN),
        None,
        Some("image/png"),
    )
    .await;
    assert_error(s, &b, StatusCode::NOT_ACCEPTABLE, "not_acceptable");

    // A failed plan is terminal: 410 with its reason on the sub-resources.
    let failed = "20260101t000000-000000-7";
    let dir = data.path().join("plans").join(failed);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("status.json"), format!(r#"{{"id":"{failed}","status":"failed","created_at":"","updated_at":"","devices":1,"error":"no feasible plan"}}"#)).unwrap();
    for sub in ["devices", "unscheduled", "report"] {
        let (s, b, _) = get(&app, &format!("/v1/plans/{failed}/{sub}")).await;
        assert_error(s, &b, StatusCode::GONE, "plan_failed");
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no feasible plan")
        );
    }

    // 415 for a body that is not declared JSON.
    let req = Request::post("/v1/plans")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replan_checks_now_and_progress_times() {
    let data = tempfile::tempdir().unwrap();
    let app = router(AppState::open(config(data.path())).unwrap());
    let (_, plan, _) = post(&app, "/v1/plans", &minimal_json()).await;
    let id = plan["id"].as_str().unwrap();
    let uri = format!("/v1/plans/{id}/replan");
    let (s, b, _) = post(&app, &uri, &json!({"now": "yesterday", "progress": []})).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(b["error"]["details"][0]["table"], "request");
    assert_eq!(b["error"]["details"][0]["field"], "now");
    assert!(!b["error"]["message"].as_str().unwrap().contains("scenario"));
    let (s, b, _) = post(
        &app,
        &uri,
        &json!({"now": "2027-03-01T00:00:00Z", "progress": []}),
    )
    .await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(b["error"]["details"][0]["field"], "now");
    let (s, b, _) = post(&app, &uri, &json!({"now": "2027-03-25T00:00:00Z",
        "progress": [{"device_id": "d01", "state": "done", "bytes_used": 10, "at": "2027-03-26T00:00:00Z"}]})).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(b["error"]["details"][0]["table"], "progress");
    assert_eq!(b["error"]["details"][0]["field"], "at");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_delete_retention_and_idempotency_keys() {
    let data = tempfile::tempdir().unwrap();
    let mut cfg = config(data.path());
    cfg.keep_plans = Some(2);
    let app = router(AppState::open(cfg).unwrap());
    let with_key = |key: &str| {
        Request::post("/v1/plans")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", key)
            .body(Body::from(serde_json::to_vec(&minimal_json()).unwrap()))
            .unwrap()
    };
    let first = app.clone().oneshot(with_key("order-1")).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let loc = first.headers()[header::LOCATION].clone();
    let again = app.clone().oneshot(with_key("order-1")).await.unwrap();
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "a retried POST makes no second plan"
    );
    assert_eq!(again.headers()[header::LOCATION], loc);
    let (_, list, _) = get(&app, "/v1/plans").await;
    assert_eq!(list["total"], 1);
    // The same key with another body is refused, not replayed.
    let other = Request::post("/v1/plans")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", "order-1")
        .body(Body::from("{\"scenario_dir\": \"minimal\"}"))
        .unwrap();
    let resp = app.clone().oneshot(other).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let mut ids = vec![
        loc.to_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string(),
    ];
    for _ in 0..2 {
        let (s, p, _) = post(&app, "/v1/plans", &minimal_json()).await;
        assert_eq!(s, StatusCode::CREATED);
        ids.push(p["id"].as_str().unwrap().to_string());
    }
    // Retention keeps the two newest.
    let (_, list, _) = get(&app, "/v1/plans?state=done&limit=10").await;
    assert_eq!(list["total"], 2, "{list}");
    let listed: Vec<&str> = list["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![ids[2].as_str(), ids[1].as_str()]);
    let (s, _, _) = get(&app, &format!("/v1/plans/{}", ids[0])).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list, _) = get(&app, "/v1/plans?state=failed").await;
    assert_eq!(list["total"], 0);
    let (s, b, _) = get(&app, "/v1/plans?state=bogus").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_query");

    let (s, _, _) = call(
        &app,
        "DELETE",
        &format!("/v1/plans/{}", ids[2]),
        Some(TOKEN),
        None,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b, _) = get(&app, &format!("/v1/plans/{}/devices", ids[2])).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    assert!(!data.path().join("plans").join(&ids[2]).exists());
    let (s, b, _) = call(
        &app,
        "DELETE",
        &format!("/v1/plans/{}", ids[2]),
        Some(TOKEN),
        None,
        None,
    )
    .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_queued_plan_cancels_it() {
    let data = tempfile::tempdir().unwrap();
    let mut cfg = config(data.path());
    cfg.max_solves = 1;
    cfg.sync_devices = 0;
    let app = router(AppState::open(cfg).unwrap());
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (s, p, _) = post(&app, "/v1/plans", &minimal_json()).await;
        assert_eq!(s, StatusCode::ACCEPTED);
        ids.push(p["id"].as_str().unwrap().to_string());
    }
    let (s, _, _) = call(
        &app,
        "DELETE",
        &format!("/v1/plans/{}", ids[2]),
        Some(TOKEN),
        None,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    wait_done(&app, &ids[0]).await;
    wait_done(&app, &ids[1]).await;
    let (s, _, _) = get(&app, &format!("/v1/plans/{}", ids[2])).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Cancelled while queued, or (on a slow machine) while solving: either way its
    // folder goes and it counts as cancelled once its job stops.
    let mut text = String::new();
    for _ in 0..200 {
        text = get(&app, "/metrics").await.2;
        if text.contains("otaplan_solves_total{outcome=\"cancelled\"} 1") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        text.contains("otaplan_solves_total{outcome=\"cancelled\"} 1"),
        "{text}"
    );
    assert!(!data.path().join("plans").join(&ids[2]).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_is_delivered_signed_and_retried() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(HeaderMapOwned, Vec<u8>)>();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let receiver = {
        let hits = hits.clone();
        axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let (tx, hits) = (tx.clone(), hits.clone());
                    async move {
                        // The first delivery fails: the server must retry.
                        if hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                            return StatusCode::SERVICE_UNAVAILABLE;
                        }
                        let h = headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                            .collect();
                        tx.send((h, body.to_vec())).unwrap();
                        StatusCode::NO_CONTENT
                    }
                },
            ),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let data = tempfile::tempdir().unwrap();
    let mut cfg = config(data.path());
    cfg.callback_secret = Some(b"shared-secret".to_vec());
    cfg.callback_backoff = std::time::Duration::from_millis(100);
    let app = router(AppState::open(cfg).unwrap());
    let mut body = minimal_json();
    body["callback_url"] = json!("http://example.com/hook");
    let (s, b, _) = post(&app, "/v1/plans", &body).await;
    assert_error(
        s,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "callback_not_allowed",
    );
    body["callback_url"] = json!(hook);
    let (s, plan, _) = post(&app, "/v1/plans", &body).await;
    assert_eq!(s, StatusCode::CREATED, "{plan}");
    let (headers, bytes) = tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv())
        .await
        .expect("no callback within 30 s")
        .unwrap();
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);
    // Checked with another implementation: Python's hmac.
    let mut py = std::process::Command::new("python3")
        .args(["-c", "import hmac,sys; print(hmac.new(b'shared-secret', sys.stdin.buffer.read(), 'sha256').hexdigest(), end='')"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut py.stdin.take().unwrap(), &bytes).unwrap();
    let want = String::from_utf8(py.wait_with_output().unwrap().stdout).unwrap();
    let sig = headers
        .iter()
        .find(|(k, _)| k == "x-otaplan-signature")
        .map(|(_, v)| v.clone());
    assert_eq!(sig, Some(format!("sha256={want}")));
    let event: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(event["event"], "plan.done");
    assert_eq!(event["plan"]["id"], plan["id"]);
}

type HeaderMapOwned = Vec<(String, String)>;

/// A free port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `otaplan serve` as a child process.
fn spawn_server(data: &Path, root: &Path, port: u16) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_otaplan"))
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .arg("--scenario-root")
        .arg(root)
        .args(["--sync-devices", "0", "--max-solves", "2", "--queue", "40"])
        .env("OTAPLAN_TOKEN", format!(" {TOKEN}\n"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_listening(port: u16) -> std::net::SocketAddr {
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return addr;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the server did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_solves_loses_no_plan() {
    let data = tempfile::tempdir().unwrap();
    // Two plans of a 1,500-device fleet first (seconds each), then 18 small ones: the
    // kill always finds solves running and plans queued.
    let root = tempfile::tempdir().unwrap();
    let generated = std::process::Command::new(env!("CARGO_BIN_EXE_otaplan"))
        .args([
            "generate",
            "--devices",
            "1500",
            "--coverage-days",
            "0",
            "--out",
        ])
        .arg(root.path().join("fleet"))
        .output()
        .unwrap();
    assert!(generated.status.success(), "{generated:?}");
    let port = free_port();
    let mut child = spawn_server(data.path(), root.path(), port);
    let addr = wait_listening(port).await;
    let small = serde_json::to_string(&minimal_json()).unwrap();
    let fleet = json!({"scenario_dir": "fleet"}).to_string();
    let mut ids = Vec::new();
    for i in 0..20 {
        let (s, p) = http(
            addr,
            "POST",
            "/v1/plans",
            if i < 2 { &fleet } else { &small },
        )
        .await;
        assert_eq!(s, 202, "{p}");
        ids.push(p["id"].as_str().unwrap().to_string());
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let plans = data.path().join("plans");
    let states: Vec<String> = ids
        .iter()
        .map(|id| {
            common::read_json(&plans.join(id).join("status.json"))["status"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        states.iter().any(|s| s != "done"),
        "every solve finished before the kill: {states:?}"
    );

    let mut child = spawn_server(data.path(), root.path(), port);
    let addr = wait_listening(port).await;
    for id in &ids {
        let mut last = Value::Null;
        for _ in 0..1200 {
            let (s, got) = http(addr, "GET", &format!("/v1/plans/{id}"), "").await;
            assert_eq!(s, 200, "plan {id} was lost: {got}");
            last = got;
            if last["status"] == "done" || last["status"] == "failed" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(last["status"], "done", "{last}");
    }
    let (_, list) = http(addr, "GET", "/v1/plans?limit=1000", "").await;
    assert_eq!(list["total"], 20, "{list}");
    child.kill().unwrap();
    child.wait().unwrap();
    // No orphan folders and no temporary files.
    for e in std::fs::read_dir(&plans).unwrap() {
        let p = e.unwrap().path();
        assert!(p.join("status.json").is_file(), "orphan {}", p.display());
        assert!(
            ids.iter().any(|id| p.ends_with(id)),
            "unknown {}",
            p.display()
        );
    }
}

#[tokio::test]
async fn bind_takes_host_names() {
    let addrs = otaplan::server::resolve_bind("localhost:8080")
        .await
        .unwrap();
    assert!(
        addrs
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 8080)
    );
    assert!(
        otaplan::server::resolve_bind("no-such-host.invalid:80")
            .await
            .is_err()
    );
}

/// One GET over a fresh connection with an `Accept` header: status and body text.
async fn get_text(addr: std::net::SocketAddr, path: &str, accept: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        unchunk(body)
    } else {
        body.to_string()
    };
    (head[9..12].parse().unwrap(), body)
}

fn unchunk(mut rest: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").unwrap();
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
}

/// A JSON page row agrees with its plan.csv row: the same columns, null for an empty cell, numbers for numbers, the text otherwise.
fn same_row(json: &Value, header: &[&str], csv: &[&str]) {
    let obj = json.as_object().unwrap();
    assert_eq!(obj.len(), header.len());
    for (c, v) in header.iter().zip(csv) {
        let j = &obj[*c];
        let ok = match j {
            Value::Null => v.is_empty(),
            Value::Number(n) => v.parse::<f64>().ok() == n.as_f64(),
            Value::String(s) => s == v,
            _ => false,
        };
        assert!(ok, "column {c}: JSON {j} vs CSV {v:?}");
    }
}

/// The health probes answer — on the main address and on the health listener — while
/// 30 requests for 10,000-row device pages are being served (the first builds the
/// table's index on a one-thread work pool, the others wait for it); every page is a
/// slice of that one table: pages add up to plan.csv as served, row for row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_while_device_pages_are_served() {
    let data = tempfile::tempdir().unwrap();
    let mut cfg = config(data.path());
    cfg.scenario_root = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("data"));
    cfg.work_threads = 1;
    let st = AppState::open(cfg).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let health = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let health_addr = health.local_addr().unwrap();
    let _health = serve_health(health, st.clone()).unwrap();
    tokio::spawn(serve_on(listener, st, std::future::pending()));

    let (s, plan) = http(addr, "POST", "/v1/plans", r#"{"scenario_dir":"sample"}"#).await;
    assert_eq!(s, 202, "{plan}");
    let id = plan["id"].as_str().unwrap().to_string();
    wait_done_over(addr, &id).await;

    let path = format!("/v1/plans/{id}/devices?limit=10000");
    let pages: Vec<_> = (0..30)
        .map(|_| {
            let path = path.clone();
            tokio::spawn(async move { get_text(addr, &path, "application/json").await })
        })
        .collect();
    let probes = async {
        for (a, route, answer) in [
            (health_addr, "/healthz", "ok"),
            (addr, "/healthz", "ok"),
            (health_addr, "/readyz", "ready"),
            (addr, "/readyz", "ready"),
        ] {
            let (s, body) = get_text(a, route, "*/*").await;
            assert_eq!((s, body.trim()), (200, answer), "{route}");
        }
        pages.iter().filter(|p| !p.is_finished()).count()
    };
    let in_flight = tokio::time::timeout(std::time::Duration::from_secs(60), probes)
        .await
        .expect("the probes did not answer");
    eprintln!("probes answered with {in_flight} of 30 device pages in flight");
    let (s, body) = get_text(health_addr, &format!("/v1/plans/{id}"), "*/*").await;
    assert_eq!(s, 404, "the health listener serves only the probes: {body}");

    let (s, csv) = get_text(addr, &format!("/v1/plans/{id}/devices"), "text/csv").await;
    assert_eq!(s, 200);
    assert!(
        !csv.contains('"'),
        "no quoted fields: splitting on commas reads it"
    );
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() > 4000, "{} rows", rows.len());
    for p in pages {
        let (s, body) = p.await.unwrap();
        assert_eq!(s, 200);
        let page: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(page["total"], rows.len());
        assert_eq!(page["devices"].as_array().unwrap().len(), rows.len());
    }
    let mut joined = Vec::new();
    for offset in (0..rows.len() + 997).step_by(997) {
        let uri = format!("/v1/plans/{id}/devices?offset={offset}&limit=997");
        let (s, body) = get_text(addr, &uri, "application/json").await;
        assert_eq!(s, 200);
        if offset == 0 {
            let start = body.find("\"devices\":[{").unwrap() + 12;
            let first_row = &body[start..start + body[start..].find('}').unwrap()];
            let at: Vec<usize> = header
                .iter()
                .map(|c| first_row.find(&format!("\"{c}\":")).unwrap())
                .collect();
            assert!(at.is_sorted(), "keys in plan.csv's order: {first_row}");
        }
        let page: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (page["total"].as_u64(), page["offset"].as_u64()),
            (Some(rows.len() as u64), Some(offset as u64))
        );
        joined.extend(page["devices"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(joined.len(), rows.len(), "pages add up to the table");
    for (j, r) in joined.iter().zip(&rows) {
        same_row(j, &header, r);
    }
}

/// The work pool's threads run at the nice value asked for (unless the process already
/// runs nicer, which an unprivileged thread cannot undo), and a job that panics is a
/// 500, not a lost request or a dead server.
#[tokio::test]
async fn the_work_pool_runs_jobs_at_low_priority_and_survives_a_panic() {
    use axum::response::IntoResponse;
    use otaplan::server::work::{WorkPool, current_nice};
    let pool = WorkPool::new(2, 7).unwrap();
    let base = current_nice().unwrap();
    let inside = pool.run(current_nice).await.unwrap().unwrap();
    assert_eq!(inside, if base <= 7 { 7 } else { base });
    assert_eq!(
        current_nice(),
        Some(base),
        "only the pool's threads changed"
    );
    let err = pool.run(|| -> u32 { panic!("a bug") }).await.unwrap_err();
    assert_eq!(
        err.into_response().status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(pool.run(|| 6 * 7).await.unwrap(), 42);
}
