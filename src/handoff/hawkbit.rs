//! Eclipse hawkBit: per wave, the bodies of `POST
//! /rest/v1/distributionsets/{id}/assignedTargets` — each target `timeforced` at its
//! window's start, with a one-shot maintenance window: a Quartz cron naming the exact
//! minute, day, month and year in UTC (`+00:00`) and the window's length. Never a
//! recurring local cron with a fixed offset, which goes wrong at the next DST change.

use super::{Call, Download, Export, Group, Options, PlanDir};
use crate::units::Instant;
use serde_json::{Value, json};

/// Targets one manual assignment may carry (hawkBit's default quota
/// `hawkbit.server.security.dos.max-target-distribution-set-assignments-per-manual-assignment`).
pub const MAX_TARGETS: usize = 5000;
/// A maintenance window's `duration` is `HH:mm:ss` (a `LocalTime`): below 24 hours.
pub const MAX_WINDOW_MINUTES: i64 = 24 * 60 - 1;

/// Quartz cron (`second minute hour day-of-month month day-of-week year`) firing once, at `t`.
pub fn one_shot_cron(t: Instant) -> String {
    t.format("0 %-M %-H %-d %-m ? %Y").to_string()
}

/// `HH:mm:ss`.
pub fn duration(minutes: i64) -> String {
    format!("{:02}:{:02}:00", minutes / 60, minutes % 60)
}

fn assignment(d: &Download, g: &Group) -> Value {
    json!({
        "id": d.device_id,
        "type": "timeforced",
        "forcetime": g.start.timestamp_millis(),
        "maintenanceWindow": {
            "schedule": one_shot_cron(g.start),
            "duration": duration(g.minutes()),
            "timezone": "+00:00",
        },
    })
}

pub fn export(plan: &PlanDir, o: &Options) -> Result<Export, String> {
    let groups = super::window_groups(plan)?;
    let mut per_wave: Vec<Vec<Value>> = vec![Vec::new(); plan.summary.waves.len()];
    for g in &groups {
        super::check_whole_minutes(g)?;
        if g.minutes() > MAX_WINDOW_MINUTES {
            return Err(format!(
                "device {}'s window {} – {} is {} minutes; a hawkBit maintenance window lasts less than 24 hours (HH:mm:ss)",
                g.downloads[0].device_id,
                crate::units::rfc3339_utc(g.start),
                crate::units::rfc3339_utc(g.end),
                g.minutes()
            ));
        }
        per_wave[g.wave].extend(g.downloads.iter().map(|d| assignment(d, g)));
    }
    let ds = o
        .distribution_set_id
        .clone()
        .unwrap_or_else(|| "{distributionSetId}".into());
    let (mut files, mut calls) = (Vec::new(), Vec::new());
    for (w, targets) in per_wave.iter().enumerate() {
        let wave = &plan.summary.waves[w].name;
        let parts = targets.len().div_ceil(MAX_TARGETS);
        let (gate, after) = super::previous_gate(plan, w);
        for (k, chunk) in targets.chunks(MAX_TARGETS).enumerate() {
            let part = if parts > 1 {
                format!("-{}", k + 1)
            } else {
                String::new()
            };
            let name = format!(
                "{:05}-{}-assignedTargets{part}.json",
                calls.len() + 1,
                super::sanitize(wave)
            );
            let text = serde_json::to_string_pretty(chunk).map_err(|e| e.to_string())? + "\n";
            calls.push(Call {
                seq: calls.len() + 1,
                not_before: gate,
                after_gate_of: after.clone(),
                method: "POST".into(),
                path: format!("/rest/v1/distributionsets/{ds}/assignedTargets"),
                body: Some(name.clone()),
                what: format!(
                    "assign wave {wave} ({} targets{})",
                    chunk.len(),
                    if parts > 1 {
                        format!(", part {} of {parts}", k + 1)
                    } else {
                        String::new()
                    }
                ),
            });
            files.push((name, text));
        }
    }
    Ok(Export {
        target: super::Target::Hawkbit,
        files,
        calls,
        notes: notes(),
    })
}

fn notes() -> Vec<String> {
    vec![
        format!("one assignedTargets body per wave, split at {MAX_TARGETS} targets (hawkBit's default quota of targets per manual assignment)"),
        "each target: type timeforced with forcetime = its window start (epoch ms), and a maintenanceWindow whose schedule is a one-shot Quartz cron naming the window's start minute, hour, day, month and year in UTC, timezone +00:00, duration = the window (HH:mm:ss, so windows last under 24 hours); daylight saving is already resolved per device by the plan".into(),
        "hawkBit offers a timeforced action to the device as soon as it is assigned (soft until forcetime) and holds installation to the maintenance window; device clients should start the download in the window. Send a wave's body only after the previous wave's gate, once its stop rules stayed quiet — a window must still lie ahead when hawkBit validates it".into(),
        "hawkBit assignments carry no error conditions: the stop rules are read at each wave's gate (an optional hawkBit rollout with error conditions is not exported)".into(),
        "the path's {distributionSetId} is the release's distribution set (--distribution-set-id fills it in)".into(),
    ]
}
