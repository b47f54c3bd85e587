//! Writes a deterministic, realistic scenario folder (per the contract) from typed options; must not plan, read scenarios or know about clap.
//!
//! Same options give byte-identical files: every device draws from its own ChaCha8
//! stream keyed by `(seed, device index)`, floats are written with fixed formats, and
//! every file is written to a temporary name beside its target and then renamed.

mod catalog;
mod coverage;
mod diverse;
mod fleet;
mod output;
mod tables;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;

use self::coverage::{CoverageColumns, HourTable, device_history};
use self::fleet::{Device, FleetTotals, depot_name, device_id, draw_device, id_width};
use self::output::{io_error, parquet_error, parquet_writer, write_file, write_text};
use self::tables::TableNames;

/// Which scenario family to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// `data/sample`: a mixed fleet over twelve regions, three continents, four pools.
    Sample,
    /// `data/seed-fleet`: the source document's 20,000 mobility devices in three US zones.
    SeedFleet,
    /// The sample's catalog at any size, for benchmarks (no coverage history by default).
    Bench,
    /// A large operator's fleet at any size: 48 carrier pools, 90 regions over 48 time
    /// zones, ten versions in the field, a fitted coverage model keyed by `region/radio`.
    Diverse,
}

impl Preset {
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Sample => "sample",
            Preset::SeedFleet => "seed-fleet",
            Preset::Bench => "bench",
            Preset::Diverse => "diverse",
        }
    }

    /// The fleet size the preset is designed around.
    pub fn default_devices(self) -> usize {
        match self {
            Preset::Sample => 5_000,
            Preset::SeedFleet => 20_000,
            Preset::Bench => 1_000_000,
            Preset::Diverse => 100_000,
        }
    }

    /// Days of hourly coverage history written before `start` unless overridden.
    pub fn default_coverage_days(self) -> u32 {
        catalog::catalog(self).coverage_days
    }
}

/// File format of a table that may be large.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Csv,
    Parquet,
}

/// What to generate and where.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub devices: usize,
    pub seed: u64,
    pub out: PathBuf,
    pub preset: Preset,
    /// Days of hourly history before `start`; None = the preset's default, 0 = none.
    pub coverage_days: Option<u32>,
    pub devices_format: TableFormat,
}

/// One file the generator wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    pub path: PathBuf,
    pub bytes: u64,
}

/// What `generate` produced.
#[derive(Debug, Clone)]
pub struct GenerateReport {
    pub out: PathBuf,
    pub devices: usize,
    /// Devices that are canary-eligible, not critical and not yet on the release.
    pub canary_candidates: u64,
    pub coverage_devices: u64,
    pub coverage_rows: u64,
    pub files: Vec<WrittenFile>,
    /// Stale files of another run (other devices format, or coverage now off) removed.
    pub removed: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("the number of devices must be at least 1")]
    NoDevices,
    #[error("coverage history of {0} days is more than the supported 366")]
    CoverageTooLong(u32),
    #[error("cannot create the output folder {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the Parquet file {path}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: PolarsError,
    },
    #[error("cannot write the coverage model {path}: {message}")]
    CoverageModel { path: PathBuf, message: String },
}

/// Devices drawn and written per batch (one Parquet row group each).
const DEVICE_CHUNK: usize = 65_536;
/// Devices whose history is drawn per batch (about 0.5 M rows at three weeks).
const COVERAGE_CHUNK: usize = 1_024;

/// Generates a scenario folder. `progress(done, total)` is called after each batch.
pub fn generate(
    opts: &GenerateOptions,
    progress: &dyn Fn(u64, u64),
) -> Result<GenerateReport, GenerateError> {
    if opts.devices == 0 {
        return Err(GenerateError::NoDevices);
    }
    let cat = catalog::catalog(opts.preset);
    let coverage_days = opts.coverage_days.unwrap_or(cat.coverage_days);
    if coverage_days > 366 {
        return Err(GenerateError::CoverageTooLong(coverage_days));
    }
    std::fs::create_dir_all(&opts.out).map_err(|source| GenerateError::CreateDir {
        path: opts.out.clone(),
        source,
    })?;
    let n = opts.devices as u64;
    let total = if coverage_days > 0 { 2 * n } else { n };
    let devices_name = match opts.devices_format {
        TableFormat::Csv => "devices.csv",
        TableFormat::Parquet => "devices.parquet",
    };
    let mut coverage_name = (coverage_days > 0).then_some("coverage.parquet");
    let model_name = cat.coverage_model.then_some("coverage-model.parquet");
    let mut files = Vec::new();
    let mut record = |name: &str, bytes: u64| {
        files.push(WrittenFile {
            path: opts.out.join(name),
            bytes,
        })
    };

    let (totals, bytes) = write_devices(&cat, opts, &opts.out.join(devices_name), &|done| {
        progress(done, total)
    })?;
    record(devices_name, bytes);

    let (mut coverage_devices, mut coverage_rows) = (0, 0);
    if let Some(name) = coverage_name {
        let (devs, rows, bytes) =
            write_coverage(&cat, opts, coverage_days, &opts.out.join(name), &|done| {
                progress(n + done, total)
            })?;
        (coverage_devices, coverage_rows) = (devs, rows);
        if devs == 0 {
            // A small fleet may draw no device with history: an empty table is not a
            // history (validate rejects it), so none is written or named.
            let path = opts.out.join(name);
            std::fs::remove_file(&path).map_err(|source| GenerateError::Io { path, source })?;
            coverage_name = None;
        } else {
            record(name, bytes);
        }
    }
    if let Some(name) = model_name {
        let bytes = write_coverage_model(&cat, opts.seed, &totals, &opts.out.join(name))?;
        record(name, bytes);
    }

    let pools = tables::pool_rows(&cat, &totals);
    let regions = tables::region_rows(&cat, &totals);
    let small: [(&str, String); 5] = [
        ("pools.csv", tables::pools_csv(&pools)),
        ("overage_tiers.csv", tables::tiers_csv(&cat)),
        ("zone_rates.csv", tables::zone_rates_csv(&cat)),
        ("artifacts.csv", tables::artifacts_csv(&cat)),
        ("regions.csv", tables::regions_csv(&regions)),
    ];
    for (name, text) in small {
        record(name, write_text(&opts.out.join(name), &text)?);
    }
    // scenario.toml last: a folder with one is complete.
    let cat = catalog::Catalog {
        waves: tables::waves_for_fleet(&cat.waves, totals.needing),
        ..cat
    };
    let toml = tables::scenario_toml(
        &cat,
        &command_line(opts, coverage_days),
        &TableNames {
            devices: devices_name,
            coverage: coverage_name,
            coverage_model: model_name,
        },
    );
    record(
        "scenario.toml",
        write_text(&opts.out.join("scenario.toml"), &toml)?,
    );

    let mut removed = Vec::new();
    for stale in [
        "devices.csv",
        "devices.parquet",
        "coverage.parquet",
        "coverage-model.parquet",
    ] {
        if stale == devices_name || Some(stale) == coverage_name || Some(stale) == model_name {
            continue;
        }
        let path = opts.out.join(stale);
        if path.exists() {
            std::fs::remove_file(&path).map_err(|source| GenerateError::Io {
                path: path.clone(),
                source,
            })?;
            removed.push(path);
        }
    }
    Ok(GenerateReport {
        out: opts.out.clone(),
        devices: opts.devices,
        canary_candidates: totals.canary_candidates,
        coverage_devices,
        coverage_rows,
        files,
        removed,
    })
}

/// The command that regenerates the folder (the output path is left out so it stays byte-identical).
fn command_line(opts: &GenerateOptions, coverage_days: u32) -> String {
    let mut s = format!(
        "otaplan generate --preset {} --devices {} --seed {}",
        opts.preset.as_str(),
        opts.devices,
        opts.seed
    );
    if opts.coverage_days.is_some() {
        let _ = write!(s, " --coverage-days {coverage_days}");
    }
    if opts.devices_format == TableFormat::Parquet {
        s.push_str(" --devices-format parquet");
    }
    s.push_str(" --out DIR");
    s
}

fn draw_chunk(cat: &catalog::Catalog, seed: u64, range: std::ops::Range<u64>) -> Vec<Device> {
    range
        .into_par_iter()
        .map(|i| draw_device(cat, seed, i))
        .collect()
}

const DEVICE_COLUMNS: [&str; 11] = [
    "device_id",
    "pool_id",
    "region",
    "timezone",
    "current_version",
    "radio",
    "canary_eligible",
    "critical",
    "zone",
    "hardware",
    "depot",
];

fn devices_frame(cat: &catalog::Catalog, devs: &[Device], width: usize) -> PolarsResult<DataFrame> {
    let col = |name: &str, v: Vec<&str>| Column::new(name.into(), v);
    let region = |d: &Device| cat.regions[d.region].name;
    let cols = vec![
        Column::new(
            "device_id".into(),
            devs.iter()
                .map(|d| device_id(cat.id_prefix, d.index, width))
                .collect::<Vec<_>>(),
        ),
        col(
            "pool_id",
            devs.iter().map(|d| cat.pools[d.pool].id).collect(),
        ),
        col("region", devs.iter().map(region).collect()),
        col("timezone", devs.iter().map(|d| d.timezone).collect()),
        col("current_version", devs.iter().map(|d| d.version).collect()),
        col("radio", devs.iter().map(|d| d.radio.as_str()).collect()),
        Column::new(
            "canary_eligible".into(),
            devs.iter().map(|d| d.canary_eligible).collect::<Vec<_>>(),
        ),
        Column::new(
            "critical".into(),
            devs.iter().map(|d| d.critical).collect::<Vec<_>>(),
        ),
        Column::new(
            "zone".into(),
            devs.iter().map(|d| d.zone).collect::<Vec<Option<&str>>>(),
        ),
        col("hardware", devs.iter().map(|d| d.hardware).collect()),
        Column::new(
            "depot".into(),
            devs.iter()
                .map(|d| depot_name(region(d), d.depot))
                .collect::<Vec<_>>(),
        ),
    ];
    DataFrame::new(devs.len(), cols)
}

fn write_devices_csv(
    cat: &catalog::Catalog,
    devs: &[Device],
    width: usize,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut w = crate::output::CsvWriter::new(out);
    for d in devs {
        let region = cat.regions[d.region].name;
        w.row([
            device_id(cat.id_prefix, d.index, width),
            cat.pools[d.pool].id.to_string(),
            region.to_string(),
            d.timezone.to_string(),
            d.version.to_string(),
            d.radio.as_str().to_string(),
            d.canary_eligible.to_string(),
            d.critical.to_string(),
            d.zone.unwrap_or("").to_string(),
            d.hardware.to_string(),
            depot_name(region, d.depot),
        ])?;
    }
    w.finish()?;
    Ok(())
}

/// Draws every device in batches, writes them and adds up the fleet's totals.
fn write_devices(
    cat: &catalog::Catalog,
    opts: &GenerateOptions,
    path: &Path,
    progress: &dyn Fn(u64),
) -> Result<(FleetTotals, u64), GenerateError> {
    let n = opts.devices as u64;
    let width = id_width(opts.devices);
    let mut totals = FleetTotals::new(cat);
    let fill = |w: &mut dyn std::io::Write| match opts.devices_format {
        TableFormat::Csv => {
            let chunks = (0..n)
                .step_by(DEVICE_CHUNK)
                .map(|s| s..(s + DEVICE_CHUNK as u64).min(n));
            let mut header = crate::output::CsvWriter::new(&mut *w);
            header.row(DEVICE_COLUMNS).map_err(io_error(path))?;
            header.finish().map_err(io_error(path))?;
            for range in chunks {
                let end = range.end;
                let devs = draw_chunk(cat, opts.seed, range);
                devs.iter().for_each(|d| totals.add(cat, d));
                write_devices_csv(cat, &devs, width, w).map_err(io_error(path))?;
                progress(end);
            }
            Ok(())
        }
        TableFormat::Parquet => {
            write_devices_parquet(cat, opts.seed, n, width, w, &mut totals, progress)
                .map_err(parquet_error(path))
        }
    };
    let ((), bytes) = write_file(path, fill)?;
    Ok((totals, bytes))
}

fn write_devices_parquet(
    cat: &catalog::Catalog,
    seed: u64,
    n: u64,
    width: usize,
    out: &mut dyn std::io::Write,
    totals: &mut FleetTotals,
    progress: &dyn Fn(u64),
) -> PolarsResult<()> {
    let schema = devices_frame(cat, &[], width)?.schema().clone();
    let mut w = parquet_writer(out).batched(&schema)?;
    for start in (0..n).step_by(DEVICE_CHUNK) {
        let end = (start + DEVICE_CHUNK as u64).min(n);
        let devs = draw_chunk(cat, seed, start..end);
        devs.iter().for_each(|d| totals.add(cat, d));
        w.write_batch(&devices_frame(cat, &devs, width)?)?;
        progress(end);
    }
    w.finish()?;
    Ok(())
}

/// Writes the fitted coverage model, one `<region>/<radio>` key per region and radio of
/// the catalog (168 rows each), whether or not the fleet has devices there; returns bytes.
fn write_coverage_model(
    cat: &catalog::Catalog,
    seed: u64,
    totals: &FleetTotals,
    path: &Path,
) -> Result<u64, GenerateError> {
    let mut weeks = Vec::with_capacity(cat.regions.len() * catalog::Radio::ALL.len());
    for (i, r) in cat.regions.iter().enumerate() {
        let w = coverage::region_weeks(seed, i as u64, totals.region_radio_devices[i]);
        for (radio, week) in catalog::Radio::ALL.iter().zip(w) {
            weeks.push((format!("{}/{}", r.name, radio.as_str()), week));
        }
    }
    crate::ingest::coverage::write_model(path, &weeks).map_err(|message| {
        GenerateError::CoverageModel {
            path: path.to_path_buf(),
            message,
        }
    })?;
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|source| GenerateError::Io {
            path: path.to_path_buf(),
            source,
        })
}

fn coverage_frame(c: CoverageColumns) -> PolarsResult<DataFrame> {
    let height = c.len();
    let ts = Series::new("ts".into(), c.ts_us).cast(&DataType::Datetime(
        TimeUnit::Microseconds,
        Some(TimeZone::UTC),
    ))?;
    DataFrame::new(
        height,
        vec![
            Column::new("device_id".into(), c.device_id),
            ts.into(),
            Column::new("online".into(), c.online),
            Column::new("throughput_kbps".into(), c.throughput_kbps),
            Column::new("dropped".into(), c.dropped),
        ],
    )
}

/// Writes hourly history for the covered subset of devices; returns (devices, rows, bytes).
fn write_coverage(
    cat: &catalog::Catalog,
    opts: &GenerateOptions,
    days: u32,
    path: &Path,
    progress: &dyn Fn(u64),
) -> Result<(u64, u64, u64), GenerateError> {
    let table = HourTable::new(cat, days);
    let fill = |w: &mut dyn std::io::Write| {
        write_coverage_parquet(cat, opts, &table, w, progress).map_err(parquet_error(path))
    };
    let ((devices, rows), bytes) = write_file(path, fill)?;
    Ok((devices, rows, bytes))
}

/// Returns (devices with history, rows).
fn write_coverage_parquet(
    cat: &catalog::Catalog,
    opts: &GenerateOptions,
    table: &HourTable,
    out: &mut dyn std::io::Write,
    progress: &dyn Fn(u64),
) -> PolarsResult<(u64, u64)> {
    let n = opts.devices as u64;
    let width = id_width(opts.devices);
    let (mut devices, mut rows) = (0u64, 0u64);
    let schema = coverage_frame(CoverageColumns::default())?.schema().clone();
    let mut w = parquet_writer(out).batched(&schema)?;
    for start in (0..n).step_by(COVERAGE_CHUNK) {
        let end = (start + COVERAGE_CHUNK as u64).min(n);
        let parts: Vec<Option<CoverageColumns>> = (start..end)
            .into_par_iter()
            .map(|i| {
                let d = draw_device(cat, opts.seed, i);
                let id = device_id(cat.id_prefix, i, width);
                device_history(cat, opts.seed, &d, &id, table)
            })
            .collect();
        let mut batch = CoverageColumns::default();
        for p in parts.into_iter().flatten() {
            devices += 1;
            batch.append(p);
        }
        rows += batch.len() as u64;
        if !batch.ts_us.is_empty() {
            w.write_batch(&coverage_frame(batch)?)?;
        }
        progress(end);
    }
    w.finish()?;
    Ok((devices, rows))
}

#[cfg(test)]
mod tests;
