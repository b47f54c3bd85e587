//! The HTTP service through its router (tower `oneshot`) and over a real socket on
//! 127.0.0.1: plan → poll → devices → replan (the CLI's re-plan, byte for byte), every
//! kind of bad request answered with the right 4xx and the one JSON error shape, and
//! plans kept across a restart.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use otaplan::server::{AppState, ServerConfig, router};
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
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_body");
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
async fn a_restart_keeps_finished_plans_and_fails_interrupted_ones() {
    let data = tempfile::tempdir().unwrap();
    let id = {
        let app = router(AppState::open(config(data.path())).unwrap());
        let (s, plan, _) = post(&app, "/v1/plans", &minimal_json()).await;
        assert_eq!(s, StatusCode::CREATED);
        plan["id"].as_str().unwrap().to_string()
    };
    // A plan a killed process left solving.
    let stuck = data.path().join("plans/20260101t000000-000000-9");
    std::fs::create_dir_all(&stuck).unwrap();
    std::fs::write(
        stuck.join("status.json"),
        r#"{"id":"20260101t000000-000000-9","status":"solving","created_at":"","updated_at":"","devices":10}"#,
    )
    .unwrap();
    let app = router(AppState::open(config(data.path())).unwrap());
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
    assert_eq!(got["status"], "done");
    assert_eq!(got["summary"]["devices"], 10);
    let (s, got, _) = call(
        &app,
        "GET",
        "/v1/plans/20260101t000000-000000-9",
        Some(TOKEN),
        None,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["status"], "failed");
    assert_eq!(got["error"], "interrupted by a restart");
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
    let app = router(AppState::open(cfg).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

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

async fn wait_done(addr: std::net::SocketAddr, id: &str) {
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
    wait_done(addr, &id).await;
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
    wait_done(addr, &re_id).await;
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
