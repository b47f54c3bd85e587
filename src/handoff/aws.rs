//! AWS IoT Jobs: one `CreateJob` request per wave × window (devices whose windows are the
//! same share a job), split into parts of at most [`MAX_TARGETS`] things. Bodies are
//! `CreateJob`'s input as the API and `aws iot create-job --cli-input-json` take it.

use super::{Call, Export, Group, Options, PlanDir};
use serde_json::{Value, json};

/// Targets (things or thing groups) one job may have (AWS IoT Jobs quota).
pub const MAX_TARGETS: usize = 100;
/// `jobId`: 1–64 characters of `[a-zA-Z0-9_-]`.
pub const MAX_JOB_ID: usize = 64;
/// `schedulingConfig`: endTime at least 30 minutes after startTime.
pub const MIN_WINDOW_MINUTES: i64 = 30;
/// `jobExecutionsRolloutConfig.maximumPerMinute`: notifications per minute, 1–1000.
pub const MAX_PER_MINUTE: u64 = 1000;
/// `timeoutConfig.inProgressTimeoutInMinutes`: 1 minute to 7 days.
pub const MAX_TIMEOUT_MINUTES: i64 = 10_080;
/// `jobExecutionsRetryConfig` retries per failure type: 0–10.
pub const MAX_RETRIES: u32 = 10;

/// `YYYY-MM-DDTHH:MM` in UTC, the format `schedulingConfig` takes.
pub fn aws_time(t: crate::units::Instant) -> String {
    t.format("%Y-%m-%dT%H:%M").to_string()
}

fn check_options(o: &Options) -> Result<(), String> {
    if !o.thing_arn.contains("{device_id}") {
        return Err(format!(
            "--thing-arn {:?} must contain {{device_id}}, e.g. arn:aws:iot:eu-west-1:123456789012:thing/{{device_id}}",
            o.thing_arn
        ));
    }
    if o.document_source.is_none() && o.document.is_none() {
        return Err(
            "aws-iot-jobs needs the job document: --document-source URL (S3) or --document FILE"
                .into(),
        );
    }
    if !["STOP_ROLLOUT", "CANCEL", "FORCE_CANCEL"].contains(&o.end_behavior.as_str()) {
        return Err(format!(
            "--end-behavior {:?}: one of STOP_ROLLOUT, CANCEL, FORCE_CANCEL",
            o.end_behavior
        ));
    }
    if o.retries > MAX_RETRIES {
        return Err(format!(
            "--retries {}: AWS IoT Jobs allows at most {MAX_RETRIES}",
            o.retries
        ));
    }
    Ok(())
}

/// A thing name is `[a-zA-Z0-9:_-]+`, at most 128 characters.
fn check_thing_name(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "device {id:?} is not a valid AWS IoT thing name ([a-zA-Z0-9:_-], at most 128 characters)"
        ))
    }
}

/// Notifications per minute so every device of the group is notified while the rest of
/// its window still holds its download: the group's size over the minutes the slowest
/// download leaves free (at least one).
pub fn maximum_per_minute(g: &Group) -> u64 {
    let needed = g
        .downloads
        .iter()
        .filter(|d| d.throughput_kbps > 0.0)
        .map(|d| d.payload_bytes as f64 * 8.0 / (d.throughput_kbps * 1000.0) / 60.0)
        .fold(0.0_f64, f64::max);
    let slack = (g.minutes() as f64 - needed.ceil()).max(1.0);
    ((g.downloads.len() as f64 / slack).ceil() as u64).clamp(1, MAX_PER_MINUTE)
}

/// Minutes from the window's start until the last device should have reported back
/// (`reconnect_by`: window end + install + the stop rules' reconnect time).
pub fn timeout_minutes(g: &Group) -> i64 {
    let last = g
        .downloads
        .iter()
        .map(|d| d.reconnect_by)
        .max()
        .unwrap_or(g.end);
    let secs = (last.max(g.end) - g.start).num_seconds();
    ((secs + 59) / 60).clamp(1, MAX_TIMEOUT_MINUTES)
}

/// `abortConfig` from the stop rules: `crash_loop_rate` (a share of devices) cancels the
/// job when that share of executions FAILED, once enough devices ran for the share to
/// mean something (1 / rate, at most the job's size).
pub fn abort_config(plan: &PlanDir, devices: usize) -> Option<Value> {
    let rate = plan.summary.stop_rules.get("crash_loop_rate")?.as_f64()?;
    if !(rate > 0.0 && rate <= 1.0) {
        return None;
    }
    let min_things = ((1.0 / rate).ceil() as usize).min(devices).max(1);
    Some(json!({"criteriaList": [{
        "failureType": "FAILED",
        "action": "CANCEL",
        "thresholdPercentage": (rate * 10_000.0).round() / 100.0,
        "minNumberOfExecutedThings": min_things,
    }]}))
}

/// `{prefix}-w{wave}-{YYYYMMDDTHHMM}-{minutes}m[-{part}]`, the prefix cut so the id fits
/// 64 characters; wave index, start, length and part make it unique.
pub fn job_id(prefix: &str, g: &Group, part: Option<usize>) -> String {
    let tail = format!(
        "-w{}-{}-{}m{}",
        g.wave,
        g.start.format("%Y%m%dT%H%M"),
        g.minutes(),
        part.map_or(String::new(), |p| format!("-{p}"))
    );
    let room = MAX_JOB_ID.saturating_sub(tail.len());
    let head: String = prefix.chars().take(room).collect();
    format!("{head}{tail}")
}

fn job(plan: &PlanDir, o: &Options, g: &Group, chunk: &[&super::Download], id: &str) -> Value {
    let wave = &plan.summary.waves[g.wave].name;
    let mut body = json!({
        "jobId": id,
        "targets": chunk.iter().map(|d| o.thing_arn.replace("{device_id}", &d.device_id)).collect::<Vec<_>>(),
        "description": format!(
            "otaplan {} release {}: wave {wave}, {} devices, window {} - {} UTC",
            plan.summary.scenario, plan.summary.release, chunk.len(),
            crate::units::rfc3339_utc(g.start), crate::units::rfc3339_utc(g.end)
        ),
        "targetSelection": "SNAPSHOT",
        "schedulingConfig": {
            "startTime": aws_time(g.start),
            "endTime": aws_time(g.end),
            "endBehavior": o.end_behavior,
        },
        "jobExecutionsRolloutConfig": {"maximumPerMinute": maximum_per_minute(g)},
        "timeoutConfig": {"inProgressTimeoutInMinutes": timeout_minutes(g)},
    });
    if let Some(src) = &o.document_source {
        body["documentSource"] = json!(src);
    }
    if let Some(doc) = &o.document {
        body["document"] = json!(doc);
    }
    if let Some(a) = abort_config(plan, chunk.len()) {
        body["abortConfig"] = a;
    }
    if o.retries > 0 {
        body["jobExecutionsRetryConfig"] =
            json!({"criteriaList": [{"failureType": "FAILED", "numberOfRetries": o.retries}]});
    }
    body
}

pub fn export(plan: &PlanDir, o: &Options) -> Result<Export, String> {
    check_options(o)?;
    let prefix = super::sanitize(
        &o.name_prefix
            .clone()
            .unwrap_or_else(|| super::default_prefix(plan)),
    );
    let (mut files, mut calls) = (Vec::new(), Vec::new());
    let mut split = 0;
    for g in super::window_groups(plan)? {
        super::check_whole_minutes(&g)?;
        if g.minutes() < MIN_WINDOW_MINUTES {
            return Err(format!(
                "device {}'s window {} – {} is {} minutes; AWS IoT Jobs needs endTime at least {MIN_WINDOW_MINUTES} minutes after startTime",
                g.downloads[0].device_id,
                crate::units::rfc3339_utc(g.start),
                crate::units::rfc3339_utc(g.end),
                g.minutes()
            ));
        }
        for d in &g.downloads {
            check_thing_name(&d.device_id)?;
        }
        let parts = g.downloads.len().div_ceil(MAX_TARGETS);
        split += usize::from(parts > 1);
        for (k, chunk) in g.downloads.chunks(MAX_TARGETS).enumerate() {
            let id = job_id(&prefix, &g, (parts > 1).then_some(k + 1));
            let name = format!("{:05}-{id}.json", calls.len() + 1);
            let body = job(plan, o, &g, chunk, &id);
            let text = serde_json::to_string_pretty(&body).map_err(|e| e.to_string())? + "\n";
            calls.push(Call {
                seq: calls.len() + 1,
                not_before: None,
                after_gate_of: None,
                method: "PUT".into(),
                path: format!("/jobs/{id}"),
                body: Some(name.clone()),
                what: format!(
                    "CreateJob {id}: wave {}, {} things, window {} – {}",
                    plan.summary.waves[g.wave].name,
                    chunk.len(),
                    crate::units::rfc3339_utc(g.start),
                    crate::units::rfc3339_utc(g.end)
                ),
            });
            files.push((name, text));
        }
    }
    Ok(Export {
        target: super::Target::AwsIotJobs,
        files,
        calls,
        notes: notes(o, split),
    })
}

fn notes(o: &Options, split: usize) -> Vec<String> {
    vec![
        format!("one job per wave and exact UTC window; at most {MAX_TARGETS} targets per job (AWS IoT Jobs quota), so {split} window groups were split into parts (-1, -2, … in the job id)"),
        format!("job ids: [a-zA-Z0-9_-], at most {MAX_JOB_ID} characters: prefix (cut to fit), w<wave index>, window start YYYYMMDDTHHMM (UTC), window minutes, part"),
        "schedulingConfig.startTime/endTime are the window in UTC (YYYY-MM-DDTHH:MM): daylight saving is already resolved per device by the plan; AWS needs startTime at least 30 minutes after the CreateJob call and endTime at least 30 minutes after startTime, so send every CreateJob at least 30 minutes before the first window".into(),
        format!("schedulingConfig.endBehavior = {}", o.end_behavior),
        format!("jobExecutionsRolloutConfig.maximumPerMinute = the job's devices over the minutes its window leaves after the slowest download (1–{MAX_PER_MINUTE}), so every device is notified in time to finish inside its window"),
        format!("timeoutConfig.inProgressTimeoutInMinutes = window start to the latest reconnect_by of the job (window end + install + reconnect_minutes), at most {MAX_TIMEOUT_MINUTES}"),
        "abortConfig: the stop rule crash_loop_rate cancels a job once that share of its executions FAILED (minNumberOfExecutedThings = 1 / rate, at most the job's size); other stop rules (battery draw, reconnects) are read at each wave's gate: if one fires, cancel the later waves' jobs (aws iot cancel-job --job-id …)".into(),
        format!("jobExecutionsRetryConfig: {} retries of FAILED executions inside the window; the plan's own policy retries a failed device in its next allowed local window, which a job cannot schedule: re-plan the rest with `otaplan plan --progress` instead", o.retries),
        "each body is CreateJob's whole input (jobId included), as `aws iot create-job --cli-input-json file://BODY` and the SDKs take it; the REST call is PUT /jobs/{jobId}".into(),
        "all jobs are created up front (they stay SCHEDULED until their startTime); AWS counts them against the account's job quotas".into(),
    ]
}
