use super::*;
use crate::units::test_utc;

fn dl(id: &str, wave: &str, start: &str, end: &str) -> Download {
    Download {
        device_id: id.into(),
        wave: wave.into(),
        window_start: test_utc(start),
        window_end: test_utc(end),
        reconnect_by: test_utc(end) + chrono::Duration::minutes(40),
        payload_bytes: 6_000_000,
        throughput_kbps: 400.0,
    }
}

fn plan(downloads: Vec<Download>) -> PlanDir {
    let summary = serde_json::from_value(serde_json::json!({
        "scenario": "winter release", "release": "2.4.0",
        "waves": [
            {"name": "canary", "devices": 2, "gate": "2027-03-23T05:00:00Z", "soak_hours": 24.0},
            {"name": "fleet", "devices": 1, "gate": null, "soak_hours": 0.0}
        ],
        "stop_rules": {"crash_loop_rate": 0.02, "reconnect_minutes": 30}
    }))
    .unwrap();
    PlanDir { summary, downloads }
}

fn opts() -> Options {
    Options {
        document_source: Some("https://s3.example/job.json".into()),
        ..Options::default()
    }
}

/// Exports and returns the bodies parsed, by file name.
fn check(p: &PlanDir, t: Target) -> Vec<(String, serde_json::Value)> {
    let e = export(p, t, &opts()).unwrap();
    assert_eq!(
        e.calls.iter().map(|c| c.seq).collect::<Vec<_>>(),
        (1..=e.calls.len()).collect::<Vec<_>>()
    );
    e.files
        .iter()
        .map(|(n, b)| (n.clone(), serde_json::from_str(b).unwrap()))
        .collect()
}

#[test]
fn devices_sharing_a_window_share_a_job_and_large_groups_are_split() {
    let mut d: Vec<Download> = (0..205)
        .map(|i| {
            dl(
                &format!("d{i}"),
                "fleet",
                "2027-03-25T01:00:00Z",
                "2027-03-25T05:00:00Z",
            )
        })
        .collect();
    d.push(dl(
        "c1",
        "canary",
        "2027-03-22T01:00:00Z",
        "2027-03-22T02:00:00Z",
    ));
    let files = check(&plan(d), Target::AwsIotJobs);
    let sizes: Vec<usize> = files
        .iter()
        .map(|(_, b)| b["targets"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, vec![1, 100, 100, 5]);
    let ids: Vec<&str> = files
        .iter()
        .map(|(_, b)| b["jobId"].as_str().unwrap())
        .collect();
    assert_eq!(ids[0], "winter-release-2-4-0-w0-20270322T0100-60m");
    assert_eq!(ids[3], "winter-release-2-4-0-w1-20270325T0100-240m-3");
    let b = &files[1].1;
    assert_eq!(b["schedulingConfig"]["startTime"], "2027-03-25T01:00");
    assert_eq!(b["schedulingConfig"]["endTime"], "2027-03-25T05:00");
    assert_eq!(b["targets"][0], "arn:aws:iot:REGION:ACCOUNT:thing/d0");
    // 6 MB at 400 kbps = 2 min; 100 devices over the 238 minutes left: 1 a minute.
    assert_eq!(b["jobExecutionsRolloutConfig"]["maximumPerMinute"], 1);
    assert_eq!(b["timeoutConfig"]["inProgressTimeoutInMinutes"], 280);
    assert_eq!(
        b["abortConfig"]["criteriaList"][0]["thresholdPercentage"],
        2.0
    );
    assert_eq!(
        b["abortConfig"]["criteriaList"][0]["minNumberOfExecutedThings"],
        50
    );
    assert_eq!(
        files[0].1["abortConfig"]["criteriaList"][0]["minNumberOfExecutedThings"],
        1
    );
}

#[test]
fn job_ids_fit_64_characters_whatever_the_prefix() {
    let p = plan(vec![dl(
        "a",
        "canary",
        "2027-03-22T01:00:00Z",
        "2027-03-22T02:00:00Z",
    )]);
    let o = Options {
        name_prefix: Some("x".repeat(80)),
        ..opts()
    };
    let e = export(&p, Target::AwsIotJobs, &o).unwrap();
    let b: serde_json::Value = serde_json::from_str(&e.files[0].1).unwrap();
    let id = b["jobId"].as_str().unwrap();
    assert_eq!(id.len(), 64);
    assert!(id.ends_with("-w0-20270322T0100-60m"));
}

#[test]
fn windows_aws_or_hawkbit_cannot_hold_are_refused_by_name() {
    let short = plan(vec![dl(
        "a",
        "canary",
        "2027-03-22T01:00:00Z",
        "2027-03-22T01:15:00Z",
    )]);
    let e = export(&short, Target::AwsIotJobs, &opts()).unwrap_err();
    assert!(e.contains("device a") && e.contains("15 minutes"), "{e}");
    let long = plan(vec![dl(
        "b",
        "canary",
        "2027-03-22T00:00:00Z",
        "2027-03-23T00:00:00Z",
    )]);
    let e = export(&long, Target::Hawkbit, &opts()).unwrap_err();
    assert!(e.contains("device b") && e.contains("24 hours"), "{e}");
    let unknown = plan(vec![dl(
        "c",
        "beta",
        "2027-03-22T01:00:00Z",
        "2027-03-22T02:00:00Z",
    )]);
    let e = export(&unknown, Target::Mender, &opts()).unwrap_err();
    assert!(e.contains("\"beta\""), "{e}");
    let e = export(&short, Target::AwsIotJobs, &Options::default()).unwrap_err();
    assert!(e.contains("--document-source"), "{e}");
}

#[test]
fn hawkbit_windows_are_one_shot_utc_crons() {
    let p = plan(vec![
        dl(
            "a",
            "canary",
            "2027-03-27T01:00:00Z",
            "2027-03-27T05:00:00Z",
        ),
        dl("b", "fleet", "2027-03-28T00:45:00Z", "2027-03-28T04:45:00Z"),
    ]);
    let files = check(&p, Target::Hawkbit);
    assert_eq!(files.len(), 2);
    let a = &files[0].1[0];
    assert_eq!(a["type"], "timeforced");
    assert_eq!(
        a["forcetime"],
        test_utc("2027-03-27T01:00:00Z").timestamp_millis()
    );
    assert_eq!(a["maintenanceWindow"]["schedule"], "0 0 1 27 3 ? 2027");
    assert_eq!(a["maintenanceWindow"]["duration"], "04:00:00");
    assert_eq!(a["maintenanceWindow"]["timezone"], "+00:00");
    assert_eq!(
        files[1].1[0]["maintenanceWindow"]["schedule"],
        "0 45 0 28 3 ? 2027"
    );
    let e = export(&p, Target::Hawkbit, &opts()).unwrap();
    assert_eq!(e.calls[1].after_gate_of.as_deref(), Some("canary"));
    assert_eq!(
        e.calls[1].not_before,
        Some(test_utc("2027-03-23T05:00:00Z"))
    );
}

#[test]
fn mender_deploys_each_window_once_and_aborts_at_its_end() {
    let p = plan(vec![
        dl(
            "a",
            "canary",
            "2027-03-22T01:00:00Z",
            "2027-03-22T03:00:00Z",
        ),
        dl(
            "b",
            "canary",
            "2027-03-22T01:00:00Z",
            "2027-03-22T03:00:00Z",
        ),
        dl("c", "fleet", "2027-03-24T02:00:00Z", "2027-03-24T04:00:00Z"),
    ]);
    let e = export(&p, Target::Mender, &opts()).unwrap();
    assert_eq!(e.files.len(), 3);
    let b: serde_json::Value = serde_json::from_str(&e.files[0].1).unwrap();
    assert_eq!(b["devices"], serde_json::json!(["a", "b"]));
    assert_eq!(b["phases"][0]["start_ts"], "2027-03-22T01:00:00Z");
    assert_eq!(b["retries"], 1);
    assert_eq!(b["artifact_name"], "2.4.0");
    let abort = &e.calls[1];
    assert_eq!(abort.not_before, Some(test_utc("2027-03-22T03:00:00Z")));
    assert!(
        abort.path.ends_with("{id of call 1}/status"),
        "{}",
        abort.path
    );
}
