//! Building a [`Scenario`] from its settings and tables: one function per table, in the
//! order later tables refer to earlier ones (regions and pools first, then what names
//! them). Each returns its typed part; every problem goes to the shared diagnostics, and
//! references to rejected rows are folded into those rows' errors ([`Folds`]).

use super::table::{Table, V};
use super::toml_doc::{self, Settings};
use super::{
    DEVICES, Folds, Refs, TIERS, WINDOW_LISTS, WaveRefs, ZONE_RATES, Zones, build_waves,
    format_num, load_reporting, need, positive, register, tz_error, unknown_ref,
};
use crate::diag::{Diagnostic, Diagnostics, closest};
use crate::domain::*;
use crate::payload::VersionGraph;
use crate::units::{Bytes, Megabytes, PricePerMb};
use hashbrown::HashMap;
use std::collections::BTreeMap;
use std::path::Path;

/// What reading each table shares: the folder, the settings, the zone cache, the folded
/// references and the findings.
struct Ctx<'a> {
    dir: &'a Path,
    s: &'a Settings,
    zones: Zones,
    folds: Folds,
    diags: &'a mut Diagnostics,
}

impl Ctx<'_> {
    /// Loads the table `which` names in the settings, reporting why it cannot be read.
    fn table(&mut self, which: impl Fn(&Settings) -> &Option<String>) -> Option<Table> {
        load_reporting(self.dir, which(self.s), self.diags)
    }
}

/// A table of named rows (regions, pools): the rows kept, each name's index, and whether
/// the table could be used at all (references into it are checked only then).
struct Named<T> {
    rows: Vec<T>,
    ix: HashMap<String, u32>,
    ok: bool,
}

impl<T> Default for Named<T> {
    fn default() -> Self {
        Named {
            rows: Vec::new(),
            ix: HashMap::new(),
            ok: false,
        }
    }
}

pub(super) fn build(dir: &Path, s: &Settings, diags: &mut Diagnostics) -> Option<Scenario> {
    let mut cx = Ctx {
        dir,
        s,
        zones: Zones::default(),
        folds: Folds::default(),
        diags,
    };
    let scenario = build_folding(&mut cx);
    let Ctx { folds, diags, .. } = cx;
    folds.attach(diags);
    scenario
}

fn build_folding(cx: &mut Ctx) -> Option<Scenario> {
    let mut regions = read_regions(cx);
    let region_name_list: Vec<String> = regions.rows.iter().map(|r| r.name.clone()).collect();
    let region_names: Vec<&str> = region_name_list.iter().map(String::as_str).collect();
    attach_region_windows(cx, &mut regions, &region_names);
    let (mut pools, cap_bad) = read_pools(cx);
    let pool_names: Vec<String> = pools.rows.iter().map(|p| p.id.clone()).collect();
    let pool_names: Vec<&str> = pool_names.iter().map(String::as_str).collect();
    let pool_refs = Refs {
        ix: &pools.ix,
        names: &pool_names,
        what: "pool",
        report: pools.ok,
    };
    let region_refs = Refs {
        ix: &regions.ix,
        names: &region_names,
        what: "region",
        report: regions.ok,
    };
    let tiers = read_tiers(cx, &mut pools.rows, &pool_refs);
    check_pools_have_tiers(cx, &pools.rows, &tiers, &cap_bad);
    let zones_ok = read_zone_rates(cx, &mut pools.rows, &pool_refs);
    let artifacts = read_artifacts(cx);
    let (devices, needing) = read_devices(cx, &pools.rows, [&pool_refs, &region_refs], zones_ok);
    check_release_reachable(cx, &artifacts, &devices);
    let waves = build_waves(
        &cx.s.waves,
        &WaveRefs {
            region_ix: &regions.ix,
            region_names: &region_names,
            regions_ok: regions.ok,
            needing,
        },
        &mut cx.folds,
        cx.diags,
    );
    let s = cx.s;
    let (Some(start), Some(deadline), Some(default_windows)) =
        (s.start, s.deadline, s.default_windows.clone())
    else {
        return None;
    };
    if cx.diags.has_errors() {
        return None;
    }
    Some(Scenario {
        name: s.name.clone(),
        release: s.release.clone(),
        start,
        deadline,
        slot_minutes: s.slot_minutes,
        currency: s.currency.clone(),
        devices,
        pools: pools.rows,
        artifacts: artifacts.rows,
        regions: regions.rows,
        default_windows,
        waves,
        weights: s.weights,
        stop_rules: s.stop_rules.clone(),
    })
}

/// The `regions` table.
fn read_regions(cx: &mut Ctx) -> Named<Region> {
    let mut out = Named::default();
    let Some(t) = cx.table(|s| &s.tables.regions) else {
        return out;
    };
    let diags = &mut *cx.diags;
    if !t.check_shape(
        &["region", "capacity_mb_per_hour"],
        &["hard_capacity_mb_per_hour"],
        diags,
    ) {
        return out;
    }
    out.ok = true;
    let names = t.texts("region", diags);
    let cap = t.numbers("capacity_mb_per_hour", diags);
    let hard = t.numbers("hard_capacity_mb_per_hour", diags);
    for i in 0..t.height() {
        let name = need(&t, i, "region", names[i].clone(), diags);
        let c = need(&t, i, "capacity_mb_per_hour", cap[i], diags)
            .and_then(|c| positive(&t, i, "capacity_mb_per_hour", c, diags, false));
        let h = hard[i]
            .ok()
            .and_then(|h| positive(&t, i, "hard_capacity_mb_per_hour", h, diags, false));
        if let (Some(h), Some(c)) = (h, c)
            && h < c
        {
            diags.push(
                Diagnostic::warning(&t.file, "hard capacity is below the comfortable capacity")
                    .row(i + 1)
                    .column("hard_capacity_mb_per_hour")
                    .value(format_num(h)),
            );
        }
        let (Some(name), Some(c)) = (name.clone(), c) else {
            if let Some(name) = &name {
                cx.folds
                    .reject("region", name, &t.file, i + 1, format!("region {name}"));
            }
            continue;
        };
        if !register(&mut out.ix, &name, &t, i, "region", diags) {
            continue;
        }
        out.rows.push(Region {
            name,
            capacity_mb_per_hour: c,
            hard_capacity_mb_per_hour: h,
            windows: None,
        });
    }
    out
}

/// `[windows.regions]` in scenario.toml: each named region's own download windows.
fn attach_region_windows(cx: &mut Ctx, regions: &mut Named<Region>, region_names: &[&str]) {
    let mut found = Vec::new();
    for (name, ws) in &cx.s.region_windows {
        match regions.ix.get(name) {
            Some(&i) => found.push((i as usize, ws.clone())),
            None if cx.folds.skip("region", name, WINDOW_LISTS) => {}
            None if regions.ok => cx.diags.push(unknown_ref(
                toml_doc::FILE,
                0,
                &format!("windows.regions.{name}"),
                name,
                "region",
                region_names,
            )),
            None => {}
        }
    }
    // scenario.toml has no rows: the row given to `unknown_ref` is dropped again.
    for d in cx.diags.0.iter_mut() {
        if d.file == toml_doc::FILE && d.row == Some(0) {
            d.row = None;
        }
    }
    for (i, ws) in found {
        regions.rows[i].windows = Some(ws);
    }
}

/// The `pools` table, and the pools whose `cap_mb` was reported bad (whether they need
/// a tier is then not checked).
fn read_pools(cx: &mut Ctx) -> (Named<Pool>, Vec<String>) {
    let mut out = Named::default();
    let mut cap_bad = Vec::new();
    let Some(t) = cx.table(|s| &s.tables.pools) else {
        return (out, cap_bad);
    };
    let required = [
        "pool_id",
        "provider",
        "allowance_mb",
        "cycle_day",
        "cycle_timezone",
        "used_mb",
        "baseline_mb_per_day",
        "on_cap",
    ];
    if !t.check_shape(&required, &["cap_mb", "cap_headroom_mb"], cx.diags) {
        return (out, cap_bad);
    }
    let cols = PoolCols::read(&t, cx.diags);
    out.ok = true;
    for i in 0..t.height() {
        let Some(pool) = pool_row(cx, &t, &cols, i) else {
            continue;
        };
        if !register(&mut out.ix, &pool.id, &t, i, "pool_id", cx.diags) {
            continue;
        }
        if pool.cap.is_none() && !matches!(cols.cap[i], V::Null) {
            cap_bad.push(pool.id.clone());
        }
        out.rows.push(pool);
    }
    (out, cap_bad)
}

struct PoolCols {
    ids: Vec<V<String>>,
    provider: Vec<V<String>>,
    allowance: Vec<V<f64>>,
    cycle_day: Vec<V<i64>>,
    cycle_tz: Vec<V<String>>,
    used: Vec<V<f64>>,
    baseline: Vec<V<f64>>,
    on_cap: Vec<V<String>>,
    cap: Vec<V<f64>>,
    headroom: Vec<V<f64>>,
}

impl PoolCols {
    fn read(t: &Table, diags: &mut Diagnostics) -> PoolCols {
        PoolCols {
            ids: t.texts("pool_id", diags),
            provider: t.texts("provider", diags),
            allowance: t.numbers("allowance_mb", diags),
            cycle_day: t.integers("cycle_day", diags),
            cycle_tz: t.texts("cycle_timezone", diags),
            used: t.numbers("used_mb", diags),
            baseline: t.numbers("baseline_mb_per_day", diags),
            on_cap: t.texts("on_cap", diags),
            cap: t.numbers("cap_mb", diags),
            headroom: t.numbers("cap_headroom_mb", diags),
        }
    }
}

/// One pool row (without its tiers and zone rates), or `None` after reporting why not.
fn pool_row(cx: &mut Ctx, t: &Table, c: &PoolCols, i: usize) -> Option<Pool> {
    let diags = &mut *cx.diags;
    let id = need(t, i, "pool_id", c.ids[i].clone(), diags);
    let prov = need(t, i, "provider", c.provider[i].clone(), diags);
    let a = need(t, i, "allowance_mb", c.allowance[i], diags)
        .and_then(|v| positive(t, i, "allowance_mb", v, diags, true));
    let day =
        need(t, i, "cycle_day", c.cycle_day[i], diags).and_then(|d| cycle_day(t, i, d, diags));
    let tz = need(t, i, "cycle_timezone", c.cycle_tz[i].clone(), diags).and_then(|z| {
        let r = cx.zones.get(&z);
        if r.is_none() {
            diags.push(tz_error(&t.file, i + 1, "cycle_timezone", &z));
        }
        r
    });
    let u = need(t, i, "used_mb", c.used[i], diags)
        .and_then(|v| positive(t, i, "used_mb", v, diags, true));
    let b = need(t, i, "baseline_mb_per_day", c.baseline[i], diags)
        .and_then(|v| positive(t, i, "baseline_mb_per_day", v, diags, true));
    let oc = need(t, i, "on_cap", c.on_cap[i].clone(), diags).and_then(|v| on_cap(t, i, v, diags));
    let (cap, headroom) = cap_fields(t, c, i, oc, diags);
    let (Some(id), Some(prov), Some(a), Some(day), Some(tz), Some(u), Some(b), Some(oc)) =
        (id.clone(), prov, a, day, tz, u, b, oc)
    else {
        if let Some(id) = &id {
            cx.folds
                .reject("pool", id, &t.file, i + 1, format!("pool {id}"));
        }
        return None;
    };
    Some(Pool {
        id,
        provider: prov,
        allowance: Megabytes(a),
        cycle_day: day,
        cycle_tz: tz,
        used: Megabytes(u),
        baseline_per_day: Megabytes(b),
        on_cap: oc,
        cap: cap.map(Megabytes),
        cap_headroom: headroom.map(Megabytes),
        tiers: Vec::new(),
        zone_rates: BTreeMap::new(),
    })
}

fn cycle_day(t: &Table, i: usize, d: i64, diags: &mut Diagnostics) -> Option<u32> {
    if (1..=28).contains(&d) {
        return Some(d as u32);
    }
    diags.push(
        Diagnostic::error(&t.file, "cycle_day must be between 1 and 28")
            .row(i + 1)
            .column("cycle_day")
            .value(d.to_string())
            .hint("days 29-31 do not exist in every month; carriers use 1-28"),
    );
    None
}

fn on_cap(t: &Table, i: usize, v: String, diags: &mut Diagnostics) -> Option<CapBehaviour> {
    let r = CapBehaviour::parse(&v);
    if r.is_none() {
        diags.push(
            Diagnostic::error(&t.file, "expected overage, pause or throttle")
                .row(i + 1)
                .column("on_cap")
                .value(v),
        );
    }
    r
}

/// `cap_mb` and `cap_headroom_mb` of pool row `i`, checked against each other and
/// against `on_cap`.
fn cap_fields(
    t: &Table,
    c: &PoolCols,
    i: usize,
    oc: Option<CapBehaviour>,
    diags: &mut Diagnostics,
) -> (Option<f64>, Option<f64>) {
    let cap = c.cap[i]
        .ok()
        .and_then(|v| positive(t, i, "cap_mb", v, diags, false));
    // An empty cap on a pause/throttle pool; a cap given but invalid has its own error
    // already.
    if let Some(o) = oc
        && o.is_hard()
        && matches!(c.cap[i], V::Null)
    {
        let behaviour = c.on_cap[i].clone().ok().unwrap_or_default();
        diags.push(
            Diagnostic::error(
                &t.file,
                format!("on_cap is {behaviour} but cap_mb is empty"),
            )
            .row(i + 1)
            .column("cap_mb")
            .hint("give the usage in MB at which the SIMs pause or throttle"),
        );
    }
    // MB kept free under the cap in every cycle (empty = the largest download).
    let headroom = c.headroom[i]
        .ok()
        .and_then(|v| positive(t, i, "cap_headroom_mb", v, diags, true));
    if let (Some(h), Some(cap)) = (headroom, cap)
        && h >= cap
    {
        diags.push(
            Diagnostic::error(&t.file, "cap_headroom_mb must be below cap_mb")
                .row(i + 1)
                .column("cap_headroom_mb")
                .value(format!("{h}"))
                .hint(format!(
                    "cap_mb is {cap}; the headroom is kept free under it"
                )),
        );
    }
    (cap, headroom)
}

/// What reading `overage_tiers` found. A pool one of whose tier rows was rejected is not
/// checked for a missing or bounded last tier (that follows from the rejected row); a
/// rejected row without a readable pool_id leaves every pool unchecked.
#[derive(Default)]
struct TiersRead {
    ok: bool,
    incomplete: Vec<String>,
    pool_unknown: bool,
}

/// The `overage_tiers` table, appended to each pool's tiers in order.
fn read_tiers(cx: &mut Ctx, pools: &mut [Pool], pool_refs: &Refs) -> TiersRead {
    let mut out = TiersRead::default();
    let Some(t) = cx.table(|s| &s.tables.overage_tiers) else {
        return out;
    };
    let diags = &mut *cx.diags;
    if !t.check_shape(&["pool_id", "up_to_mb", "price_per_mb"], &[], diags) {
        return out;
    }
    out.ok = true;
    let ids = t.texts("pool_id", diags);
    let up = t.numbers("up_to_mb", diags);
    let price = t.numbers("price_per_mb", diags);
    let mut rows_of: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for i in 0..t.height() {
        let id = need(&t, i, "pool_id", ids[i].clone(), diags);
        let p = need(&t, i, "price_per_mb", price[i], diags)
            .and_then(|v| positive(&t, i, "price_per_mb", v, diags, true));
        let u = match up[i] {
            V::Val(u) => positive(&t, i, "up_to_mb", u, diags, false).map(|u| Some(Megabytes(u))),
            V::Null => Some(None),
            V::Bad => None,
        };
        let (Some(id), Some(p), Some(u)) = (id.clone(), p, u) else {
            match id {
                Some(id) => out.incomplete.push(id),
                None => out.pool_unknown = true,
            }
            continue;
        };
        let Some(pi) = pool_refs.get(&t, i, "pool_id", &id, TIERS, &mut cx.folds, diags) else {
            continue;
        };
        let pool = &mut pools[pi as usize];
        check_tier_order(&t, i, pool, u, diags);
        pool.tiers.push(Tier {
            up_to: u,
            price: PricePerMb(p),
        });
        rows_of.entry(pi).or_default().push(i);
    }
    for (pi, rows) in rows_of {
        let pool = &pools[pi as usize];
        if out.incomplete.contains(&pool.id) {
            continue;
        }
        if pool.tiers.last().is_some_and(|t| t.up_to.is_some()) {
            diags.push(
                Diagnostic::error(
                    &t.file,
                    format!("pool {}: the last tier must be unbounded", pool.id),
                )
                .row(rows[rows.len() - 1] + 1)
                .column("up_to_mb")
                .hint("leave up_to_mb empty on the last tier"),
            );
        }
    }
    out
}

/// A tier row ending at `u` follows the pool's tiers so far in increasing order.
fn check_tier_order(
    t: &Table,
    i: usize,
    pool: &Pool,
    u: Option<Megabytes>,
    diags: &mut Diagnostics,
) {
    let prev = pool.tiers.last().map(|t| t.up_to);
    let d = match (prev, u) {
        (Some(None), None) => {
            Diagnostic::error(&t.file, format!("pool {} has two unbounded tiers", pool.id))
                .row(i + 1)
                .column("up_to_mb")
                .hint("only the last tier of a pool may leave up_to_mb empty")
        }
        (Some(None), Some(u)) => Diagnostic::error(
            &t.file,
            format!("pool {}: a tier follows the unbounded tier", pool.id),
        )
        .row(i + 1)
        .column("up_to_mb")
        .value(format_num(u.0))
        .hint("list each pool's tiers in increasing up_to_mb, the unbounded one last"),
        (Some(Some(pu)), Some(u)) if u.0 <= pu.0 => {
            Diagnostic::error(&t.file, format!("pool {}: tiers out of order", pool.id))
                .row(i + 1)
                .column("up_to_mb")
                .value(format_num(u.0))
                .hint(format!(
                    "up_to_mb must rise: the tier before ends at {}",
                    format_num(pu.0)
                ))
        }
        _ => return,
    };
    diags.push(d);
}

/// Every pool whose usage may exceed its allowance has a tier (when the tiers could be
/// read and every rejected tier row named its pool).
fn check_pools_have_tiers(cx: &mut Ctx, pools: &[Pool], tiers: &TiersRead, cap_bad: &[String]) {
    if !tiers.ok || tiers.pool_unknown {
        return;
    }
    for p in pools {
        if tiers.incomplete.contains(&p.id) || cap_bad.contains(&p.id) {
            continue;
        }
        let can_exceed = match (p.on_cap.is_hard(), p.cap) {
            (true, Some(c)) => c.0 > p.allowance.0,
            _ => true,
        };
        if p.tiers.is_empty() && can_exceed {
            cx.diags.push(
                Diagnostic::error(
                    cx.s.tables.overage_tiers.clone().unwrap_or_default(),
                    "pool has no overage tier",
                )
                .column("pool_id")
                .value(p.id.clone())
                .hint("every pool whose usage may exceed its allowance needs at least one tier"),
            );
        }
    }
}

/// The `zone_rates` table, into each pool's rates. Returns whether devices' zones can be
/// checked against the rates: the table is not named (then no zone is priced) or could
/// be read.
fn read_zone_rates(cx: &mut Ctx, pools: &mut [Pool], pool_refs: &Refs) -> bool {
    let named = cx.s.tables.zone_rates.is_some();
    let Some(t) = cx.table(|s| &s.tables.zone_rates) else {
        return !named;
    };
    let diags = &mut *cx.diags;
    if !t.check_shape(&["pool_id", "zone", "price_per_mb"], &[], diags) {
        return false;
    }
    let ids = t.texts("pool_id", diags);
    let zone = t.texts("zone", diags);
    let price = t.numbers("price_per_mb", diags);
    for i in 0..t.height() {
        let id = need(&t, i, "pool_id", ids[i].clone(), diags);
        let z = need(&t, i, "zone", zone[i].clone(), diags);
        let p = need(&t, i, "price_per_mb", price[i], diags)
            .and_then(|v| positive(&t, i, "price_per_mb", v, diags, true));
        let (Some(id), Some(z), Some(p)) = (id.clone(), z.clone(), p) else {
            if let (Some(id), Some(z)) = (&id, &z) {
                let subject = format!("zone {z} of pool {id}");
                cx.folds
                    .reject("zone", &format!("{id}\u{1f}{z}"), &t.file, i + 1, subject);
            }
            continue;
        };
        let folds = &mut cx.folds;
        let Some(pi) = pool_refs.get(&t, i, "pool_id", &id, ZONE_RATES, folds, diags) else {
            continue;
        };
        let rates = &mut pools[pi as usize].zone_rates;
        if rates.insert(z.clone(), PricePerMb(p)).is_some() {
            diags.push(
                Diagnostic::error(&t.file, "duplicate zone for this pool")
                    .row(i + 1)
                    .column("zone")
                    .value(z),
            );
        }
    }
    true
}

/// What reading `artifacts` found: the artifacts kept, whether the table could be used,
/// and the first row rejected (1-based) — reachability of the release is then not
/// checked, only noted on it.
#[derive(Default)]
struct ArtifactsRead {
    rows: Vec<Artifact>,
    ok: bool,
    rejected: Option<usize>,
}

/// The `artifacts` table.
fn read_artifacts(cx: &mut Ctx) -> ArtifactsRead {
    let mut out = ArtifactsRead::default();
    let Some(t) = cx.table(|s| &s.tables.artifacts) else {
        return out;
    };
    let diags = &mut *cx.diags;
    let required = ["from_version", "to_version", "size_bytes", "resumable"];
    if !t.check_shape(&required, &[], diags) {
        return out;
    }
    out.ok = true;
    let from = t.texts("from_version", diags);
    let to = t.texts("to_version", diags);
    let size = t.integers("size_bytes", diags);
    let res = t.bools("resumable", diags);
    let mut seen: HashMap<(Option<String>, String), usize> = HashMap::new();
    for i in 0..t.height() {
        let f = from[i].clone().ok();
        let to_v = need(&t, i, "to_version", to[i].clone(), diags);
        let sz =
            need(&t, i, "size_bytes", size[i], diags).and_then(|v| size_bytes(&t, i, v, diags));
        let r = need(&t, i, "resumable", res[i], diags);
        let (Some(to_v), Some(sz), Some(r)) = (to_v, sz, r) else {
            out.rejected.get_or_insert(i + 1);
            continue;
        };
        if f.as_deref() == Some(to_v.as_str()) {
            diags.push(
                Diagnostic::error(&t.file, "a delta from a version to itself")
                    .row(i + 1)
                    .column("to_version")
                    .value(to_v),
            );
            continue;
        }
        if let Some(first) = seen.insert((f.clone(), to_v.clone()), i) {
            let from_name = f.as_deref().unwrap_or("full");
            diags.push(
                Diagnostic::error(
                    &t.file,
                    format!(
                        "duplicate artifact {from_name} -> {to_v} (also row {})",
                        first + 1
                    ),
                )
                .row(i + 1)
                .column("to_version")
                .value(to_v),
            );
            continue;
        }
        out.rows.push(Artifact {
            from: f,
            to: to_v,
            size: Bytes(sz),
            resumable: r,
        });
    }
    out
}

fn size_bytes(t: &Table, i: usize, v: i64, diags: &mut Diagnostics) -> Option<u64> {
    if v > 0 {
        return Some(v as u64);
    }
    diags.push(
        Diagnostic::error(&t.file, "size must be greater than zero")
            .row(i + 1)
            .column("size_bytes")
            .value(v.to_string()),
    );
    None
}

/// The `devices` table's columns, read once.
struct DeviceCols<'t> {
    ids: Vec<V<&'t str>>,
    pool: Vec<V<&'t str>>,
    region: Vec<V<&'t str>>,
    tz: Vec<V<&'t str>>,
    version: Vec<V<&'t str>>,
    radio: Vec<V<&'t str>>,
    canary: Vec<V<bool>>,
    critical: Vec<V<bool>>,
    zone: Vec<V<&'t str>>,
    hardware: Vec<V<&'t str>>,
    depot: Vec<V<&'t str>>,
}

impl<'t> DeviceCols<'t> {
    fn read(t: &'t Table, diags: &mut Diagnostics) -> DeviceCols<'t> {
        DeviceCols {
            ids: t.text_refs("device_id", diags),
            pool: t.text_refs("pool_id", diags),
            region: t.text_refs("region", diags),
            tz: t.text_refs("timezone", diags),
            version: t.text_refs("current_version", diags),
            radio: t.text_refs("radio", diags),
            canary: t.bools("canary_eligible", diags),
            critical: t.bools("critical", diags),
            zone: t.text_refs("zone", diags),
            hardware: t.text_refs("hardware", diags),
            depot: t.text_refs("depot", diags),
        }
    }
}

/// The `devices` table, and how many rows need the release — counted over every row
/// whose own version is not the release (a row rejected for another reason still
/// counts); `None` when the table could not be used, and then wave sizes are not checked
/// against the fleet. `refs` are the pool and region references.
fn read_devices(
    cx: &mut Ctx,
    pools: &[Pool],
    refs: [&Refs; 2],
    zones_ok: bool,
) -> (Vec<Device>, Option<usize>) {
    let Some(t) = cx.table(|s| &s.tables.devices) else {
        return (Vec::new(), None);
    };
    let required = [
        "device_id",
        "pool_id",
        "region",
        "timezone",
        "current_version",
        "radio",
        "canary_eligible",
        "critical",
    ];
    if !t.check_shape(&required, &["zone", "hardware", "depot"], cx.diags) {
        return (Vec::new(), None);
    }
    let n = t.height();
    let cols = DeviceCols::read(&t, cx.diags);
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(n);
    let mut devices = Vec::with_capacity(n);
    let mut need_count = 0usize;
    for i in 0..n {
        if let V::Val(id) = cols.ids[i]
            && let Some(first) = seen.insert(id, i)
        {
            cx.diags.push(
                Diagnostic::error(
                    &t.file,
                    format!("duplicate device_id (first on row {})", first + 1),
                )
                .row(i + 1)
                .column("device_id")
                .value(id),
            );
            continue;
        }
        if !matches!(cols.version[i], V::Val(v) if v == cx.s.release) {
            need_count += 1;
        }
        if let Some(d) = device_row(cx, &t, &cols, i, pools, refs, zones_ok) {
            devices.push(d);
        }
    }
    (devices, Some(need_count))
}

/// One device row, or `None` after reporting why not.
fn device_row(
    cx: &mut Ctx,
    t: &Table,
    c: &DeviceCols,
    i: usize,
    pools: &[Pool],
    [pool_refs, region_refs]: [&Refs; 2],
    zones_ok: bool,
) -> Option<Device> {
    let (folds, diags) = (&mut cx.folds, &mut *cx.diags);
    let id = need(t, i, "device_id", c.ids[i], diags);
    let pool = need(t, i, "pool_id", c.pool[i], diags)
        .and_then(|p| pool_refs.get(t, i, "pool_id", p, DEVICES, folds, diags))
        .map(PoolId);
    let region = need(t, i, "region", c.region[i], diags)
        .and_then(|r| region_refs.get(t, i, "region", r, DEVICES, folds, diags))
        .map(RegionId);
    let tz = need(t, i, "timezone", c.tz[i], diags).and_then(|z| {
        let r = cx.zones.get(z);
        if r.is_none() {
            diags.push(tz_error(&t.file, i + 1, "timezone", z));
        }
        r
    });
    let ver = need(t, i, "current_version", c.version[i], diags);
    let radio = need(t, i, "radio", c.radio[i], diags).and_then(|r| radio(t, i, r, diags));
    let canary = need(t, i, "canary_eligible", c.canary[i], diags);
    let crit = need(t, i, "critical", c.critical[i], diags);
    let zone = c.zone[i].ok();
    if let (Some(z), Some(p)) = (zone, pool)
        && !pools[p.0 as usize].zone_rates.contains_key(z)
    {
        let pool = &pools[p.0 as usize];
        if zones_ok && !folds.skip("zone", &format!("{}\u{1f}{z}", pool.id), DEVICES) {
            diags.push(unknown_zone(t, i, pool, z));
        }
        return None;
    }
    Some(Device {
        id: id?.to_string(),
        pool: pool?,
        region: region?,
        tz: tz?,
        current_version: ver?.to_string(),
        radio: radio?,
        canary_eligible: canary?,
        critical: crit?,
        zone: zone.map(String::from),
        hardware: c.hardware[i].ok().map(String::from),
        depot: c.depot[i].ok().map(String::from),
    })
}

fn radio(t: &Table, i: usize, r: &str, diags: &mut Diagnostics) -> Option<Radio> {
    let x = Radio::parse(r);
    if x.is_none() {
        diags.push(
            Diagnostic::error(&t.file, "unknown radio")
                .row(i + 1)
                .column("radio")
                .value(r)
                .hint("expected nbiot, ltem, cat1 or cat4"),
        );
    }
    x
}

/// A device roaming in a zone its pool has no rate for.
fn unknown_zone(t: &Table, i: usize, pool: &Pool, z: &str) -> Diagnostic {
    let d = Diagnostic::error(
        &t.file,
        format!(
            "unknown zone for pool {}: no zone_rates row prices it",
            pool.id
        ),
    )
    .row(i + 1)
    .column("zone")
    .value(z);
    match closest(z, pool.zone_rates.keys().map(String::as_str)) {
        Some(c) => d.hint(format!("did you mean {c:?}?")),
        None => d.hint("leave zone empty for the pool's home zone, or add a zone_rates row"),
    }
}

/// Every current version in the fleet reaches the release through the artifacts.
fn check_release_reachable(cx: &mut Ctx, artifacts: &ArtifactsRead, devices: &[Device]) {
    let release = &cx.s.release;
    if !artifacts.ok || release.is_empty() || devices.is_empty() {
        return;
    }
    let g = VersionGraph::new(&artifacts.rows, release);
    let mut versions: BTreeMap<&str, usize> = BTreeMap::new();
    for d in devices {
        *versions.entry(d.current_version.as_str()).or_default() += 1;
    }
    let stuck: Vec<String> = versions
        .iter()
        .filter(|(v, _)| !g.reaches_release(v))
        .map(|(v, n)| format!("{v} ({})", crate::diag::count(*n, "device", "devices")))
        .collect();
    if stuck.is_empty() {
        return;
    }
    let file = cx.s.tables.artifacts.clone().unwrap_or_default();
    let stuck = stuck.join(", ");
    match artifacts.rejected {
        Some(row) => cx.folds.note(
            &file,
            row,
            format!("…and whether current_version {stuck} reaches release {release} is not checked further"),
        ),
        None => cx.diags.push(
            Diagnostic::error(
                file,
                format!("no artifact chain or full image reaches release {release} from current_version {stuck}"),
            )
            .column("to_version")
            .hint(format!("add a full image (empty from_version, to_version {release}) or the missing deltas")),
        ),
    }
}
