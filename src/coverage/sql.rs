//! The coverage fit as SQL, for history that lives in a warehouse: a script that makes a
//! temporary view `coverage_model` holding the contract's `coverage_model` table, computed
//! by the same rules as [`super::fit`] — local hour of week through the engine's own
//! time-zone functions, the same log-scale throughput histogram and median, the same
//! sampling interval and shrinkage toward `<region>/<radio>`, region, radio and the
//! built-in priors. Every constant is taken from the Rust fit and written into the SQL
//! (the priors as an inline table), so the two cannot drift apart. Pure: text out.
//!
//! Like [`super::fit`] on clean history; unlike it, the SQL does not validate: history rows
//! of devices missing from the devices table, or without `ts`/`online`, are left out, and
//! duplicate (device_id, ts) rows are counted twice (run `otaplan validate` on a sample).

use super::fit::{
    BIN_W, BINS, K_DROP_HOURS, K_P, K_TP, LOG_LO, MAX_INTERVAL_HOURS, MIN_INTERVAL_HOURS,
    SINGLE_SAMPLE_INTERVAL_HOURS,
};
use super::{HOURS_PER_WEEK, REGION_RADIO_SEP, radio_prior};
use crate::domain::Radio;
use std::fmt::Write;

/// The SQL engines the fit is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Apache Spark SQL (`spark-sql -f`, or `spark.sql` statement by statement).
    Spark,
    /// DuckDB (its ICU extension provides the time-zone functions).
    DuckDb,
}

/// The tables the script reads: each is pasted verbatim where a table goes, so it may be
/// a name (`lake.coverage`) or a table expression (`read_parquet('h/*.parquet')`,
/// ``parquet.`/data/history` ``).
#[derive(Debug, Clone, Copy)]
pub struct Tables<'a> {
    /// `device_id`, `ts` (UTC instant), `online`, `throughput_kbps`, `dropped`.
    pub history: &'a str,
    /// `device_id`, `region`, `radio`, `timezone` (other columns are ignored).
    pub devices: &'a str,
}

/// The temporary view the script creates.
pub const VIEW: &str = "coverage_model";

/// `f32::MAX`: the fit keeps throughput as `f32`, so larger values count as unreadable.
const F32_MAX: f64 = f32::MAX as f64;

/// A double literal every engine parses as DOUBLE (scientific notation; a plain `0.85`
/// would be a DECIMAL), shortest form that round-trips.
fn lit(x: f64) -> String {
    format!("{x:e}")
}

impl Dialect {
    fn set_utc(self) -> &'static str {
        match self {
            Dialect::Spark => "SET spark.sql.session.timeZone = UTC;",
            Dialect::DuckDb => "SET TimeZone = 'UTC';",
        }
    }
    fn text(self) -> &'static str {
        match self {
            Dialect::Spark => "STRING",
            Dialect::DuckDb => "VARCHAR",
        }
    }
    /// Computes a query once and keeps the result for the statements that follow.
    fn materialise(self) -> &'static str {
        match self {
            Dialect::Spark => "CACHE TABLE",
            Dialect::DuckDb => "CREATE OR REPLACE TEMP TABLE",
        }
    }
    fn temp_view(self) -> &'static str {
        match self {
            Dialect::Spark => "CREATE OR REPLACE TEMPORARY VIEW",
            Dialect::DuckDb => "CREATE OR REPLACE TEMP VIEW",
        }
    }
    /// The history's `ts` as an instant.
    fn instant(self, ts: &str) -> String {
        match self {
            Dialect::Spark => format!("CAST({ts} AS TIMESTAMP)"),
            Dialect::DuckDb => format!("CAST({ts} AS TIMESTAMPTZ)"),
        }
    }
    /// Local wall-clock time of an instant in the zone named by `tz`.
    fn local(self, instant: &str, tz: &str) -> String {
        match self {
            Dialect::Spark => format!("from_utc_timestamp({instant}, {tz})"),
            Dialect::DuckDb => format!("timezone({tz}, {instant})"),
        }
    }
    /// Hour of week (0 = Monday 00:00) of a local wall-clock time.
    fn hour_of_week(self, local: &str) -> String {
        match self {
            Dialect::Spark => format!("weekday({local}) * 24 + hour({local})"),
            Dialect::DuckDb => format!("(isodow({local}) - 1) * 24 + hour({local})"),
        }
    }
    /// Whole seconds since the Unix epoch (rounded down, as the fit does).
    fn epoch_seconds(self, instant: &str) -> String {
        match self {
            Dialect::Spark => format!("CAST({instant} AS BIGINT)"),
            Dialect::DuckDb => format!("CAST(floor(epoch({instant})) AS BIGINT)"),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Dialect::Spark => "spark",
            Dialect::DuckDb => "duckdb",
        }
    }
}

/// The script: session settings; `fit_devices` (a view); `fit_base`, the one pass over
/// the history (materialised: counts per device, local hour of week and throughput bin);
/// then the view `coverage_model`, everything else computed from those two.
pub fn fit_sql(dialect: Dialect, tables: &Tables) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "-- otaplan fit-coverage --emit-sql {}: the coverage_model table as a temporary view.\n\
         -- Generated from otaplan {}'s fit constants (docs/coverage.md), do not edit.",
        dialect.name(),
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(s, "{}", dialect.set_utc());
    let _ = writeln!(
        s,
        "{} fit_devices AS\n{};",
        dialect.temp_view(),
        devices(dialect, tables.devices)
    );
    let _ = writeln!(
        s,
        "{} fit_base AS\n{};",
        dialect.materialise(),
        base(dialect, tables.history)
    );
    let _ = writeln!(s, "{} {VIEW} AS\nWITH", dialect.temp_view());
    let ctes = [
        ("fit_prior", priors()),
        (
            "fit_flags",
            "SELECT SUM(dropped_known) > 0 AS has_dropped FROM fit_base".into(),
        ),
        ("fit_interval", interval()),
        ("fit_dev_cells", dev_cells()),
        (
            "fit_dev_hist",
            "SELECT device_id AS key, how, bin, n AS c FROM fit_base WHERE bin IS NOT NULL".into(),
        ),
        ("fit_groups", groups()),
        ("fit_group_cells", group_cells()),
        ("fit_group_hist", group_hist()),
        ("fit_dev_median", median("fit_dev_hist", "key")),
        ("fit_group_median", median("fit_group_hist", "lvl, key")),
        ("fit_dev_raw", dev_raw()),
        ("fit_group_raw", group_raw()),
    ];
    for (name, body) in ctes.iter().chain(estimates().iter()) {
        let _ = writeln!(s, "{name} AS (\n{body}\n),");
    }
    s.truncate(s.len() - 2);
    s.push('\n');
    let _ = writeln!(
        s,
        "SELECT key, CAST(how AS INT) AS hour_of_week, p_online, throughput_kbps, \
         drop_rate_per_hour, samples\n\
         FROM (SELECT * FROM fit_radio UNION ALL SELECT * FROM fit_region\n      \
         UNION ALL SELECT * FROM fit_region_radio UNION ALL SELECT * FROM fit_device) AS fit_all;"
    );
    s
}

/// The built-in priors per radio and hour of week, as an inline table.
fn priors() -> String {
    let mut rows = Vec::with_capacity(4 * HOURS_PER_WEEK);
    for r in Radio::ALL {
        for (h, st) in radio_prior(r).iter().enumerate() {
            rows.push(format!(
                "  ('{}', {h}, {}, {}, {})",
                r.as_str(),
                lit(st.p_online),
                lit(st.throughput_kbps),
                lit(st.drop_rate_per_hour)
            ));
        }
    }
    format!(
        "SELECT * FROM (VALUES\n{}\n) AS fit_p(radio, how, p_online, throughput_kbps, drop_rate_per_hour)",
        rows.join(",\n")
    )
}

fn devices(d: Dialect, table: &str) -> String {
    let t = d.text();
    format!(
        "SELECT CAST(device_id AS {t}) AS device_id, CAST(region AS {t}) AS region,\n  \
         CAST(radio AS {t}) AS radio, CAST(timezone AS {t}) AS timezone\nFROM {table}"
    )
}

/// The one pass over the history: each row joined to its device, put in its local hour
/// of week and (online with a positive throughput, rounded to `f32` as the fit keeps it)
/// its histogram bin; counted per device, hour and bin, with the first and last instant.
fn base(d: Dialect, table: &str) -> String {
    let instant = d.instant("c.ts");
    let local = d.local(&instant, "d.timezone");
    let tp = format!(
        "CASE WHEN c.throughput_kbps <= {max} THEN CAST(CAST(c.throughput_kbps AS FLOAT) AS DOUBLE) END",
        max = lit(F32_MAX)
    );
    format!(
        "SELECT device_id, how, bin, COUNT(*) AS n,\n  \
         SUM(CASE WHEN online THEN 1 ELSE 0 END) AS onl,\n  \
         SUM(CASE WHEN dropped THEN 1 ELSE 0 END) AS drops,\n  \
         COUNT(dropped) AS dropped_known, MIN(t) AS t_min, MAX(t) AS t_max\n\
         FROM (\n  \
         SELECT d.device_id, c.online, c.dropped,\n    \
         {how} AS how,\n    \
         {epoch} AS t,\n    \
         CASE WHEN c.online AND {tp} > 0\n      \
         THEN LEAST(GREATEST(CAST(FLOOR((LOG10({tp}) - {lo}) / {w}) AS INT), 0), {last}) END AS bin\n  \
         FROM {table} AS c JOIN fit_devices AS d ON CAST(c.device_id AS {t}) = d.device_id\n  \
         WHERE c.ts IS NOT NULL AND c.online IS NOT NULL\n\
         ) AS fit_rows\n\
         GROUP BY device_id, how, bin",
        how = d.hour_of_week(&local),
        epoch = d.epoch_seconds(&instant),
        t = d.text(),
        lo = lit(LOG_LO),
        w = lit(BIN_W),
        last = BINS - 1,
    )
}

/// Each device's sampling interval in hours: the mean gap between its samples, clamped.
fn interval() -> String {
    format!(
        "SELECT device_id,\n  \
         CASE WHEN SUM(n) > 1 THEN LEAST(GREATEST(\n    \
         CAST(MAX(t_max) - MIN(t_min) AS DOUBLE) / CAST(SUM(n) - 1 AS DOUBLE) / 3.6e3, {lo}), {hi})\n  \
         ELSE {one} END AS iv\nFROM fit_base GROUP BY device_id",
        lo = lit(MIN_INTERVAL_HOURS),
        hi = lit(MAX_INTERVAL_HOURS),
        one = lit(SINGLE_SAMPLE_INTERVAL_HOURS),
    )
}

/// A device's counts per hour of week.
fn dev_cells() -> String {
    "SELECT device_id, how, SUM(n) AS n, SUM(onl) AS onl, SUM(drops) AS drops,\n  \
     SUM(CASE WHEN bin IS NOT NULL THEN n ELSE 0 END) AS tp_n\n\
     FROM fit_base GROUP BY device_id, how"
        .into()
}

/// The groups each device counts toward: level 1 `<region>/<radio>`, 2 region, 3 radio.
fn groups() -> String {
    let sep = REGION_RADIO_SEP;
    format!(
        "SELECT d.device_id, l.lvl,\n  \
         CASE l.lvl WHEN 1 THEN concat(d.region, '{sep}', d.radio) WHEN 2 THEN d.region ELSE d.radio END AS key\n\
         FROM fit_devices AS d CROSS JOIN (SELECT 1 AS lvl UNION ALL SELECT 2 UNION ALL SELECT 3) AS l"
    )
}

/// A group's counts per hour; online hours at each member's own sampling interval.
fn group_cells() -> String {
    "SELECT g.lvl, g.key, c.how, SUM(c.n) AS n, SUM(c.onl) AS onl, SUM(c.drops) AS drops,\n  \
     SUM(c.tp_n) AS tp_n, SUM(CAST(c.onl AS DOUBLE) * i.iv) AS online_hours\n\
     FROM fit_dev_cells AS c JOIN fit_interval AS i ON i.device_id = c.device_id\n\
     JOIN fit_groups AS g ON g.device_id = c.device_id\n\
     GROUP BY g.lvl, g.key, c.how"
        .into()
}

fn group_hist() -> String {
    "SELECT g.lvl, g.key, h.how, h.bin, SUM(h.c) AS c\n\
     FROM fit_dev_hist AS h JOIN fit_groups AS g ON g.device_id = h.key\n\
     GROUP BY g.lvl, g.key, h.how, h.bin"
        .into()
}

/// The median of each histogram of `hist` (partitioned by `keys`): the first bin whose
/// cumulative count reaches half the total, interpolated in log space inside it.
fn median(hist: &str, keys: &str) -> String {
    format!(
        "SELECT {keys}, how,\n  \
         POWER(1e1, {lo} + (CAST(bin AS DOUBLE) + (CAST(total AS DOUBLE) / 2e0 - CAST(upto - c AS DOUBLE)) / CAST(c AS DOUBLE)) * {w}) AS median\n\
         FROM (SELECT *,\n    \
         SUM(c) OVER (PARTITION BY {keys}, how ORDER BY bin ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS upto,\n    \
         SUM(c) OVER (PARTITION BY {keys}, how) AS total\n  \
         FROM {hist}) AS fit_cum\n\
         WHERE 2 * upto >= total AND 2 * (upto - c) < total",
        lo = lit(LOG_LO),
        w = lit(BIN_W),
    )
}

/// A device's counts per hour with its online hours and median: the shrinkage's inputs.
fn dev_raw() -> String {
    "SELECT c.device_id AS key, c.how, c.n, c.onl, c.drops, c.tp_n,\n  \
     CAST(c.onl AS DOUBLE) * i.iv AS online_hours, m.median\n\
     FROM fit_dev_cells AS c JOIN fit_interval AS i ON i.device_id = c.device_id\n\
     LEFT JOIN fit_dev_median AS m ON m.key = c.device_id AND m.how = c.how"
        .into()
}

/// A group's counts per hour with its median.
fn group_raw() -> String {
    "SELECT c.*, m.median\n\
     FROM fit_group_cells AS c\n\
     LEFT JOIN fit_group_median AS m ON m.lvl = c.lvl AND m.key = c.key AND m.how = c.how"
        .into()
}

/// The shrinkage of [`super::fit`]: the key's own counts `r` (NULL when it has none in
/// that hour) weighed against its parent `p`, the parent counting as `K_*` observations.
fn shrink(r: &str, p: &str) -> String {
    let dbl = |x: &str| format!("CAST(COALESCE({r}.{x}, 0) AS DOUBLE)");
    format!(
        "({onl} + {kp} * {p}.p_online) / ({n} + {kp}) AS p_online,\n  \
         CASE WHEN {r}.tp_n > 0 AND {r}.median IS NOT NULL\n    \
         THEN EXP(({tpn} * LN({r}.median) + {ktp} * LN({p}.throughput_kbps)) / ({tpn} + {ktp}))\n    \
         ELSE {p}.throughput_kbps END AS throughput_kbps,\n  \
         CASE WHEN f.has_dropped\n    \
         THEN ({drops} + {kh} * {p}.drop_rate_per_hour) / (COALESCE({r}.online_hours, 0e0) + {kh})\n    \
         ELSE {p}.drop_rate_per_hour END AS drop_rate_per_hour,\n  \
         CAST(COALESCE({r}.n, 0) AS BIGINT) AS samples",
        onl = dbl("onl"),
        n = dbl("n"),
        tpn = dbl("tp_n"),
        drops = dbl("drops"),
        kp = lit(K_P),
        ktp = lit(K_TP),
        kh = lit(K_DROP_HOURS),
    )
}

/// One level's estimates: `key` for each hour `p.how` of the parent rows `from` (alias
/// `p`), shrunk from the level's counts in `raw` (alias `r`, matched by `on`).
fn level(key: &str, from: &str, raw: &str, on: &str) -> String {
    format!(
        "SELECT {key} AS key, p.how,\n  {}\n\
         FROM {from}\nCROSS JOIN fit_flags AS f\n\
         LEFT JOIN {raw} AS r ON {on} AND r.how = p.how",
        shrink("r", "p")
    )
}

/// The four levels, each toward its parent: radio → prior, region → its devices' radio
/// mix, `<region>/<radio>` → radio, device → `<region>/<radio>`.
fn estimates() -> Vec<(&'static str, String)> {
    let sep = REGION_RADIO_SEP;
    let rr = |a: &str| format!("concat({a}.region, '{sep}', {a}.radio)");
    let group = |lvl: u8, key: &str| format!("r.lvl = {lvl} AND r.key = {key}");
    vec![
        (
            "fit_radio",
            level("p.radio", "fit_prior AS p", "fit_group_raw", &group(3, "p.radio")),
        ),
        (
            "fit_mix",
            "SELECT region, radio,\n  \
             CAST(COUNT(*) AS DOUBLE) / CAST(SUM(COUNT(*)) OVER (PARTITION BY region) AS DOUBLE) AS w\n\
             FROM fit_devices GROUP BY region, radio"
                .into(),
        ),
        (
            "fit_region_parent",
            "SELECT m.region, q.how, SUM(m.w * q.p_online) AS p_online,\n  \
             EXP(SUM(m.w * LN(q.throughput_kbps))) AS throughput_kbps,\n  \
             SUM(m.w * q.drop_rate_per_hour) AS drop_rate_per_hour\n\
             FROM fit_mix AS m JOIN fit_radio AS q ON q.key = m.radio GROUP BY m.region, q.how"
                .into(),
        ),
        (
            "fit_region",
            level(
                "p.region",
                "fit_region_parent AS p",
                "fit_group_raw",
                &group(2, "p.region"),
            ),
        ),
        (
            "fit_region_radio",
            level(
                &rr("m"),
                "fit_mix AS m JOIN fit_radio AS p ON p.key = m.radio",
                "fit_group_raw",
                &group(1, &rr("m")),
            ),
        ),
        (
            "fit_device",
            level(
                "i.device_id",
                &format!(
                    "fit_interval AS i JOIN fit_devices AS d ON d.device_id = i.device_id\n\
                     JOIN fit_region_radio AS p ON p.key = {}",
                    rr("d")
                ),
                "fit_dev_raw",
                "r.key = i.device_id",
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_doubles_that_round_trip() {
        for x in [0.85, 20.0, 1.0 / 60.0, BIN_W, F32_MAX, 0.0] {
            let l = lit(x);
            assert!(l.contains('e'), "{l}");
            assert_eq!(l.parse::<f64>().unwrap(), x);
        }
    }

    #[test]
    fn the_script_carries_the_fit_constants_and_every_prior() {
        let sql = fit_sql(
            Dialect::DuckDb,
            &Tables {
                history: "h",
                devices: "d",
            },
        );
        for k in [K_P, K_TP, K_DROP_HOURS, BIN_W, MIN_INTERVAL_HOURS] {
            assert!(sql.contains(&lit(k)), "{k}");
        }
        assert_eq!(sql.matches("\n  ('").count(), 4 * HOURS_PER_WEEK);
        assert!(sql.contains(&format!(
            ") - 0e0) / {}) AS INT), 0), {})",
            lit(BIN_W),
            BINS - 1
        )));
        assert!(sql.trim_end().ends_with(';'));
        assert_eq!(sql.matches(";\n").count(), 4, "four statements");
    }
}
