//! Mender: one deployment (`POST /api/management/v1/deployments/deployments`) per wave ×
//! window, listing its devices, with one phase whose `start_ts` is the window's start, and
//! `retries`; then, at the window's end, the call that aborts what is left of it. Mender
//! fills a phase with whichever devices ask first, so only a deployment whose devices all
//! share one window keeps each device to its own window.

use super::{Call, Export, Options, PlanDir};
use crate::units::Instant;
use serde_json::json;

/// The path deployments are created at.
pub const DEPLOYMENTS: &str = "/api/management/v1/deployments/deployments";
/// The body that aborts a deployment (`PUT …/deployments/{id}/status`).
pub const ABORT_BODY: &str = "abort.json";

pub fn export(plan: &PlanDir, o: &Options) -> Result<Export, String> {
    let prefix = o
        .name_prefix
        .clone()
        .unwrap_or_else(|| super::default_prefix(plan));
    let artifact = o
        .artifact_name
        .clone()
        .unwrap_or_else(|| plan.summary.release.clone());
    // Creations (at the previous wave's gate; the first wave's at once) and aborts (at
    // each window's end), in the order to send them.
    let groups = super::window_groups(plan)?;
    let mut events: Vec<(Option<Instant>, usize, bool)> = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        super::check_whole_minutes(g)?;
        events.push((super::previous_gate(plan, g.wave).0, i, false));
        events.push((Some(g.end), i, true));
    }
    events.sort();
    let name_of = |g: &super::Group| {
        format!(
            "{prefix} {} {} {}m",
            plan.summary.waves[g.wave].name,
            crate::units::rfc3339_utc(g.start),
            g.minutes()
        )
    };
    let (mut files, mut calls) = (Vec::new(), Vec::<Call>::new());
    let mut created_by = vec![0; groups.len()];
    for (at, i, abort) in events {
        let g = &groups[i];
        let (name, seq) = (name_of(g), calls.len() + 1);
        if abort {
            calls.push(Call {
                seq,
                not_before: at,
                after_gate_of: None,
                method: "PUT".into(),
                path: format!("{DEPLOYMENTS}/{{id of call {}}}/status", created_by[i]),
                body: Some(ABORT_BODY.into()),
                what: format!("window end: abort what is left of deployment {name:?}"),
            });
            continue;
        }
        let body = json!({
            "name": name,
            "artifact_name": artifact,
            "devices": g.downloads.iter().map(|d| d.device_id.as_str()).collect::<Vec<_>>(),
            "phases": [{"start_ts": crate::units::rfc3339_utc(g.start)}],
            "retries": o.retries,
        });
        let wave = &plan.summary.waves[g.wave].name;
        let file = format!(
            "{seq:05}-{}-{}.json",
            super::sanitize(wave),
            g.start.format("%Y%m%dT%H%MZ")
        );
        created_by[i] = seq;
        calls.push(Call {
            seq,
            not_before: at,
            after_gate_of: super::previous_gate(plan, g.wave).1,
            method: "POST".into(),
            path: DEPLOYMENTS.into(),
            body: Some(file.clone()),
            what: format!("create deployment {name:?} ({} devices)", g.downloads.len()),
        });
        files.push((
            file,
            serde_json::to_string_pretty(&body).map_err(|e| e.to_string())? + "\n",
        ));
    }
    files.push((
        ABORT_BODY.into(),
        "{\n  \"status\": \"aborted\"\n}\n".into(),
    ));
    Ok(Export {
        target: super::Target::Mender,
        files,
        calls,
        notes: notes(&artifact, o.retries),
    })
}

fn notes(artifact: &str, retries: u32) -> Vec<String> {
    vec![
        "one deployment per wave and exact UTC window (not one per wave with percentage phases: Mender hands a phase to whichever devices ask first, and rounds batch_size percentages down, so a wave-wide deployment could not keep each device to its own window)".into(),
        "each deployment has one phase whose start_ts is the window start (UTC; daylight saving is already resolved per device by the plan); a single scheduled phase is available from Mender's Professional plan".into(),
        "Mender deployments have no end time: at each window's end the calls abort what is left (PUT …/status with abort.json; the id is the Location of the create call named); skip them to let late devices finish".into(),
        format!("artifact_name = {artifact:?} (--artifact-name); retries = {retries} (inside the deployment; the plan's own policy retries a failed device in its next allowed local window: re-plan the rest with `otaplan plan --progress`)"),
        "a wave's deployments are created only after the previous wave's gate, once its stop rules stayed quiet; Mender deployments carry no stop rules".into(),
    ]
}
