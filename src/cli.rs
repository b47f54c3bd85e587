//! The command line: clap types describe it, [`main`] resolves them and calls the
//! library. Exit codes: 0 ok, 1 bad input or no feasible plan, 2 usage or internal error.
//! Nothing here computes; it only reads arguments, prints and maps outcomes.

use crate::diag::{Diagnostics, count, thousands};
use crate::generate::{GenerateOptions, Preset, TableFormat};
use crate::ingest;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "otaplan",
    version,
    about = "Plan firmware downloads across a fleet for the least SIM overage and congestion"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read a scenario and report every problem in it, without solving.
    Validate(ValidateArgs),
    /// Plan every device's download window and write plan.csv, unscheduled.csv and summary.json.
    Plan(PlanArgs),
    /// Write a deterministic scenario folder (the samples, or benchmark fleets).
    Generate(GenerateArgs),
    /// Fit the coverage model (per device and local hour of week) from coverage history.
    FitCoverage(FitCoverageArgs),
    /// Replay a written plan many times on the coverage model (Monte Carlo) and write
    /// simulation.json into the plan folder.
    Simulate(SimulateArgs),
    /// Write the finance report (report.html, report.xlsx, spend.csv, spend_by_day.csv) of a plan
    /// folder from its summary.json, plan.csv and, when present, simulation.json.
    Report(ReportArgs),
    /// Serve the planner over HTTP (see docs/server.md).
    Serve(ServeArgs),
    /// Write the requests that hand a plan to a rollout system (AWS IoT Jobs, hawkBit,
    /// Mender): one file per call, calls.json and README.txt listing the calls in order.
    Export(ExportArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ExportTarget {
    AwsIotJobs,
    Hawkbit,
    Mender,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum EndBehavior {
    StopRollout,
    Cancel,
    ForceCancel,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The plan folder (holding plan.csv and summary.json).
    pub plan_dir: PathBuf,
    /// The rollout system.
    #[arg(long, value_enum)]
    pub to: ExportTarget,
    /// Output folder (default: PLAN_DIR/export-<target>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// AWS: thing ARN template; {device_id} is replaced by each device's id.
    #[arg(long, default_value = "arn:aws:iot:REGION:ACCOUNT:thing/{device_id}")]
    pub thing_arn: String,
    /// AWS: the job document's URL (S3), sent as documentSource.
    #[arg(long)]
    pub document_source: Option<String>,
    /// AWS: a file holding the job document, sent as document.
    #[arg(long, conflicts_with = "document_source")]
    pub document: Option<PathBuf>,
    /// AWS: what happens to a job's executions at its window's end.
    #[arg(long, value_enum, default_value_t = EndBehavior::StopRollout)]
    pub end_behavior: EndBehavior,
    /// Job ids (AWS) and deployment names (Mender) start with this (default: scenario-release).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Retries of a failed device inside its window (AWS FAILED executions, Mender retries).
    #[arg(long, default_value_t = 1)]
    pub retries: u32,
    /// hawkBit: the id of the release's distribution set (default: a {distributionSetId} placeholder).
    #[arg(long)]
    pub distribution_set_id: Option<String>,
    /// Mender: the artifact name of the release (default: the release).
    #[arg(long)]
    pub artifact_name: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The plan folder.
    pub dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// The scenario folder the plan was made from.
    pub scenario: PathBuf,
    /// The plan folder (holding plan.csv); simulation.json is written here.
    #[arg(long)]
    pub plan: PathBuf,
    /// Number of runs.
    #[arg(long, default_value_t = 1000)]
    pub runs: usize,
    /// Random seed: the same seed gives the same numbers, whatever the thread count.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (`127.0.0.1:8080`, `localhost:8080`); a non-loopback
    /// address needs a token.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Where plans and their inputs are stored.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Folder whose scenario folders requests may name (`scenario_dir`).
    #[arg(long)]
    pub scenario_root: Option<PathBuf>,
    /// File holding the bearer token (default: env OTAPLAN_TOKEN; none = no auth, loopback only).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Solves running at once.
    #[arg(long, default_value_t = 2)]
    pub max_solves: usize,
    /// Plans waiting beyond those running; more are refused with 503.
    #[arg(long, default_value_t = 8)]
    pub queue: usize,
    /// Scenarios with at most this many devices are answered synchronously (201).
    #[arg(long, default_value_t = 2000)]
    pub sync_devices: usize,
    /// Largest request body, MB.
    #[arg(long, default_value_t = 64)]
    pub max_body_mb: usize,
    /// Request timeout, seconds.
    #[arg(long, default_value_t = 120)]
    pub request_timeout: u64,
    /// Solver threads per solve.
    #[arg(long, default_value_t = 1)]
    pub threads: u32,
    /// Solver time limit per solve, seconds.
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// Seconds a connection has to send a request's headers.
    #[arg(long, default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds /readyz answers 503 after SIGTERM before the listener closes.
    #[arg(long, default_value_t = 5)]
    pub drain_seconds: u64,
    /// Keep at most this many finished plans (newest first).
    #[arg(long)]
    pub keep_plans: Option<usize>,
    /// Delete finished plans older than this many days.
    #[arg(long)]
    pub keep_days: Option<u64>,
    /// A host (besides loopback) a plan's callback_url may name; repeatable.
    #[arg(long = "callback-host")]
    pub callback_hosts: Vec<String>,
    /// File holding the key callbacks are signed with (HMAC-SHA256); none = callbacks
    /// are refused.
    #[arg(long)]
    pub callback_secret_file: Option<PathBuf>,
    /// Threads doing requests' CPU work (parsing, serialising, indexing tables); default
    /// one per core.
    #[arg(long)]
    pub work_threads: Option<usize>,
    /// Nice value of those threads (0–19): they yield the CPU to the threads answering
    /// requests, so health probes stay fast under load.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(i8).range(0..=19))]
    pub work_nice: i8,
    /// Also answer /healthz and /readyz on this address, from a thread of their own
    /// (e.g. 127.0.0.1:8081), so probes never wait behind other requests.
    #[arg(long)]
    pub health_bind: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PlanFormat {
    Csv,
    Parquet,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The scenario folder (holding scenario.toml).
    pub scenario: PathBuf,
    /// Output folder (created if missing; files in it are replaced atomically).
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Also write plan.parquet.
    #[arg(long, value_enum, default_value_t = PlanFormat::Csv)]
    pub format: PlanFormat,
    /// Stop the solver after this many seconds and write the best plan found.
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// Solver threads.
    #[arg(long, default_value_t = 2)]
    pub threads: u32,
    /// Write the exact model solved (MPS; when there are several models, one file each,
    /// its name inserted before the extension). The files written are named on stderr.
    #[arg(long)]
    pub export_model: Option<PathBuf>,
    /// No progress display.
    #[arg(long)]
    pub quiet: bool,
    /// Do not price the baselines (global push, rate-limited, local off-peak).
    #[arg(long)]
    pub no_baselines: bool,
    /// Do not write the report (report.html, spend.csv, spend_by_day.csv; `otaplan report` adds report.xlsx).
    #[arg(long)]
    pub no_report: bool,
    /// Re-plan a paused rollout: progress.csv with device_id, state
    /// (done|failed|in_progress|pending), bytes_used [, at]. Needs --now.
    #[arg(long, requires = "now")]
    pub progress: Option<PathBuf>,
    /// Re-plan from this instant (RFC 3339 with an offset); no window starts before it.
    #[arg(long, requires = "progress")]
    pub now: Option<String>,
    /// Re-planning: the folder of the plan being re-planned. Its summary.json gives the
    /// gates of waves whose done devices have no `at` (otherwise they are re-made from
    /// the scenario).
    #[arg(long, requires = "progress")]
    pub original: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum MessageFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The scenario folder (holding scenario.toml).
    pub scenario: PathBuf,
    /// How to print the findings.
    #[arg(long, value_enum, default_value_t = MessageFormat::Text)]
    pub format: MessageFormat,
}

#[derive(Debug, clap::Args)]
pub struct FitCoverageArgs {
    /// The scenario folder (holding scenario.toml); its devices key the history.
    pub scenario: PathBuf,
    /// The coverage history (CSV or Parquet); default: the scenario's [tables] coverage.
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Where to write the model (.parquet, or .csv); default: models/<scenario name>.parquet.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// How to print the findings.
    #[arg(long, value_enum, default_value_t = MessageFormat::Text)]
    pub format: MessageFormat,
    /// Print the same fit as SQL for this engine (a script that creates the temporary
    /// view coverage_model) instead of fitting here; see docs/coverage.md.
    #[arg(long, value_enum, conflicts_with_all = ["history", "out"])]
    pub emit_sql: Option<SqlDialect>,
    /// With --emit-sql: the history table, a name or a table expression (default: coverage).
    #[arg(long, requires = "emit_sql", value_name = "NAME")]
    pub history_table: Option<String>,
    /// With --emit-sql: the devices table, a name or a table expression (default: devices).
    #[arg(long, requires = "emit_sql", value_name = "NAME")]
    pub devices_table: Option<String>,
}

/// The SQL engines `fit-coverage --emit-sql` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqlDialect {
    /// Apache Spark SQL.
    Spark,
    /// DuckDB.
    Duckdb,
}

mod error;
pub use error::{CliError, EXIT_BAD_INPUT, EXIT_INTERNAL, Failure};

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.print();
            e.exit_code()
        }
    }
}

/// Runs one command.
pub fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Validate(a) => validate(&a),
        Command::FitCoverage(a) => fit_coverage(&a),
        Command::Plan(a) => plan(&a),
        Command::Simulate(a) => simulate(&a),
        Command::Report(a) => report(&a),
        Command::Serve(a) => serve(a),
        Command::Export(a) => export(&a),
        Command::Generate(a) => Ok(run_generate(a)?),
    }
}

fn print_diagnostics(d: &Diagnostics, format: MessageFormat) {
    match format {
        MessageFormat::Text => eprint!("{d}"),
        MessageFormat::Json => match serde_json::to_string_pretty(&d.0) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: cannot print diagnostics: {e}"),
        },
    }
}

fn validate(a: &ValidateArgs) -> Result<(), CliError> {
    let read = ingest::read_scenario(&a.scenario).and_then(|mut loaded| {
        loaded
            .warnings
            .extend(crate::ingest::coverage_load::check_history(&loaded));
        if loaded.warnings.has_errors() {
            Err(loaded.warnings)
        } else {
            Ok(loaded)
        }
    });
    let loaded = read.map_err(|d| {
        let closing = (a.format == MessageFormat::Text)
            .then(|| format!("{}: {}", a.scenario.display(), d.tally()));
        CliError::diagnostics_then(d, a.format, closing)
    })?;
    print_diagnostics(&loaded.warnings, a.format);
    if a.format == MessageFormat::Text {
        let s = &loaded.scenario;
        println!(
            "{}: ok — {}, {}, {}, {}, {}, release {}, {} → {} ({})",
            s.name,
            count(s.devices.len(), "device", "devices"),
            count(s.pools.len(), "pool", "pools"),
            count(s.regions.len(), "region", "regions"),
            count(s.artifacts.len(), "artifact", "artifacts"),
            count(s.waves.len(), "wave", "waves"),
            s.release,
            s.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            s.deadline
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            count(loaded.warnings.0.len(), "warning", "warnings")
        );
    }
    Ok(())
}

fn spinner(quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

/// Checks made before reading or solving anything, so a run that cannot succeed fails
/// in a moment with one line: the output folder, the model file and the progress table.
fn plan_preflight(a: &PlanArgs) -> Result<(), String> {
    crate::fsutil::check_writable_dir(&a.out).map_err(|e| format!("--out {e}"))?;
    if let Some(p) = &a.export_model {
        crate::fsutil::check_writable_file(p).map_err(|e| format!("--export-model {e}"))?;
    }
    if let Some(p) = &a.progress
        && !p.is_file()
    {
        return Err(format!("--progress {}: no such file", p.display()));
    }
    Ok(())
}

/// A plan made and written, for the closing lines.
struct Planned {
    loaded: ingest::Loaded,
    plan: crate::plan::Plan,
    models_written: Vec<String>,
    done: usize,
    downloading: usize,
}

fn plan(a: &PlanArgs) -> Result<(), CliError> {
    plan_preflight(a).map_err(|e| CliError::input(format!("{e}; nothing was planned")))?;
    let pb = spinner(a.quiet);
    let planned = plan_and_write(a, &pb);
    pb.finish_and_clear();
    let Planned {
        loaded,
        plan,
        models_written,
        done,
        downloading,
    } = planned?;
    let s = &loaded.scenario;
    for w in loaded.warnings.warnings() {
        eprintln!("{w}");
    }
    if a.export_model.is_some() {
        if models_written.is_empty() {
            eprintln!("no model was solved (no wave had a device to plan), so none was exported");
        } else {
            eprintln!("exported the model solved: {}", models_written.join(", "));
        }
    }
    let c = &plan.accounting.cost;
    let counts = PlanCounts {
        devices: s.devices.len(),
        scheduled: plan.rows.len(),
        done,
        downloading,
        unplaced: plan
            .unscheduled
            .len()
            .saturating_sub(plan.up_to_date + done + downloading),
        up_to_date: plan.up_to_date,
        replanning: a.progress.is_some(),
    };
    println!(
        "{}: {}; projected cost {:.2} {} (overage {:.2}, zone {:.2}, congestion {:.2}, risk {:.2}, lateness {:.2}); LP {} in {:.1} s, {} variables; written to {}",
        s.name,
        counts.sentence(&s.release, &a.out.join("unscheduled.csv")),
        c.total,
        s.currency,
        c.overage,
        c.zone,
        c.congestion,
        c.risk,
        c.lateness,
        plan.lp.status,
        plan.lp.solve_seconds,
        plan.lp.variables,
        a.out.display()
    );
    Ok(())
}

/// `otaplan plan`'s steps, each timed: read the scenario, load the coverage model and
/// the re-plan's progress, plan, export the models, write the plan folder.
fn plan_and_write(a: &PlanArgs, pb: &indicatif::ProgressBar) -> Result<Planned, CliError> {
    pb.set_message("reading the scenario");
    let clock = std::time::Instant::now();
    let mut timings = crate::output::Timings::default();
    let loaded = ingest::read_scenario(&a.scenario).map_err(|d| {
        let closing = format!(
            "{}: {}; nothing was planned",
            a.scenario.display(),
            count(d.error_count(), "error", "errors")
        );
        CliError::diagnostics_then(d, MessageFormat::Text, Some(closing))
    })?;
    timings.read_seconds = clock.elapsed().as_secs_f64();
    pb.set_message("loading the coverage model");
    let clock = std::time::Instant::now();
    let coverage = crate::ingest::coverage_load::load(&loaded).map_err(CliError::diagnostics)?;
    let replan = read_replan(a, &loaded.scenario)?;
    let (done, downloading) = replan
        .as_ref()
        .map_or((0, 0), |r| replanned_counts(&loaded.scenario, &r.progress));
    timings.coverage_seconds = clock.elapsed().as_secs_f64();
    let clock = std::time::Instant::now();
    let (plan, steps) = run_planner(a, &loaded.scenario, &coverage, replan, pb)?;
    timings.plan_steps = steps;
    timings.plan_seconds = clock.elapsed().as_secs_f64();
    pb.set_message("writing");
    let models_written = export_models(a, &plan)?;
    crate::plan_folder::write_plan_folder(
        &a.out,
        &loaded.scenario,
        &plan,
        coverage.source,
        timings,
        crate::plan_folder::FolderOptions {
            parquet: a.format == PlanFormat::Parquet,
            report: !a.no_report,
        },
    )
    .map_err(|e| {
        CliError::internal(format!(
            "cannot write the plan into {}: {e}",
            a.out.display()
        ))
    })?;
    Ok(Planned {
        loaded,
        plan,
        models_written,
        done,
        downloading,
    })
}

/// A re-plan's inputs (`--progress` with `--now`), checked against the scenario.
fn read_replan(
    a: &PlanArgs,
    s: &crate::domain::Scenario,
) -> Result<Option<crate::plan::Replan>, CliError> {
    let (Some(path), Some(now)) = (&a.progress, &a.now) else {
        return Ok(None);
    };
    let original = a.original.as_ref().map(|d| d.join("summary.json"));
    crate::plan_folder::progress::read_replan(
        s,
        path,
        now,
        crate::plan_folder::progress::NowField::CLI,
        original.as_deref(),
    )
    .map(Some)
    .map_err(CliError::nothing_planned)
}

/// Plans (or re-plans), telling each step to the spinner; returns the plan and the
/// wall time of each step.
fn run_planner(
    a: &PlanArgs,
    s: &crate::domain::Scenario,
    coverage: &crate::coverage::CoverageModel,
    replan: Option<crate::plan::Replan>,
    pb: &indicatif::ProgressBar,
) -> Result<(crate::plan::Plan, Vec<crate::output::StepTiming>), CliError> {
    let opts = crate::plan::PlanOptions {
        solve: crate::plan::SolveOptions {
            time_limit_seconds: a.time_limit,
            threads: a.threads,
        },
        keep_models: a.export_model.is_some(),
        skip_baselines: a.no_baselines,
        replan: None,
    };
    let steps: std::cell::RefCell<Vec<(String, std::time::Instant)>> = Default::default();
    let tell = |step: &str| {
        steps
            .borrow_mut()
            .push((step.to_string(), std::time::Instant::now()));
        pb.set_message(step.to_string())
    };
    let result = match replan {
        Some(r) => crate::plan::replan(s, coverage, r, &opts, &tell),
        None => crate::plan::plan(s, coverage, &opts, &tell),
    };
    let end = std::time::Instant::now();
    let steps = steps.into_inner();
    let timings = steps
        .iter()
        .enumerate()
        .map(|(i, (name, t))| {
            let next = steps.get(i + 1).map_or(end, |n| n.1);
            crate::output::StepTiming {
                step: name.clone(),
                seconds: (next - *t).as_secs_f64(),
            }
        })
        .collect();
    Ok((result?, timings))
}

/// Writes `--export-model`'s files (one per model, the wave in the name when there are
/// several); returns what it wrote, for the closing line.
fn export_models(a: &PlanArgs, plan: &crate::plan::Plan) -> Result<Vec<String>, CliError> {
    let Some(path) = &a.export_model else {
        return Ok(Vec::new());
    };
    let many = plan.models.len() > 1;
    let mut written = Vec::new();
    for (wave, lp) in &plan.models {
        let target = if many {
            with_suffix(path, wave)
        } else {
            path.clone()
        };
        let text = crate::plan::solve::mps(lp).map_err(CliError::internal)?;
        crate::fsutil::write_atomic(&target, &text)
            .map_err(|e| CliError::internal(format!("cannot write {}: {e}", target.display())))?;
        written.push(if many {
            format!("{} ({wave})", target.display())
        } else {
            target.display().to_string()
        });
    }
    Ok(written)
}

/// Devices of a re-plan that progress.csv reports done or downloading (and that are not
/// on the release: those count as up to date), as the planner leaves them out.
fn replanned_counts(
    s: &crate::domain::Scenario,
    progress: &[crate::plan::Progress],
) -> (usize, usize) {
    use crate::plan::DeviceState;
    let mut done_dl = (0, 0);
    for p in progress {
        if s.devices[p.device.0 as usize].current_version == s.release {
            continue;
        }
        match p.state {
            DeviceState::Done => done_dl.0 += 1,
            DeviceState::InProgress => done_dl.1 += 1,
            DeviceState::Failed | DeviceState::Pending => {}
        }
    }
    done_dl
}

/// Where every device of a plan ended up, for the closing line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanCounts {
    pub devices: usize,
    pub scheduled: usize,
    /// Re-planning: done before `--now`.
    pub done: usize,
    /// Re-planning: downloading at `--now`, not planned again.
    pub downloading: usize,
    /// Needed the release but got no window (reasons in unscheduled.csv).
    pub unplaced: usize,
    pub up_to_date: usize,
    pub replanning: bool,
}

impl PlanCounts {
    /// "4,976 devices: 4,790 scheduled, 4 could not be placed (see out/unscheduled.csv),
    /// 182 already on 2.4.0"; re-planning adds "already done" and "downloading".
    pub fn sentence(&self, release: &str, unscheduled_csv: &std::path::Path) -> String {
        let mut parts = vec![format!("{} scheduled", thousands(self.scheduled))];
        if self.replanning {
            parts.push(format!("{} already done", thousands(self.done)));
            parts.push(format!("{} downloading", thousands(self.downloading)));
        }
        let mut unplaced = format!("{} could not be placed", thousands(self.unplaced));
        if self.unplaced > 0 {
            unplaced.push_str(&format!(" (see {})", unscheduled_csv.display()));
        }
        parts.push(unplaced);
        parts.push(format!(
            "{} already on {release}",
            thousands(self.up_to_date)
        ));
        format!(
            "{}: {}",
            count(self.devices, "device", "devices"),
            parts.join(", ")
        )
    }
}

fn with_suffix(path: &std::path::Path, wave: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!("{stem}.{wave}{ext}"))
}

/// Arguments of `otaplan generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of devices (default: the preset's size: sample 5000, seed-fleet 20000, bench 1000000, diverse 100000)
    #[arg(long)]
    pub devices: Option<usize>,
    /// Random seed; the same options always give byte-identical files
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output folder (created if missing; files in it are replaced atomically)
    #[arg(long)]
    pub out: PathBuf,
    /// Scenario family
    #[arg(long, value_enum, default_value_t = PresetArg::Sample)]
    pub preset: PresetArg,
    /// Days of hourly coverage history before `start` (0 = none; default: sample 21, seed-fleet 14, bench and diverse 0)
    #[arg(long)]
    pub coverage_days: Option<u32>,
    /// Format of the devices table
    #[arg(long, value_enum, default_value_t = FormatArg::Csv)]
    pub devices_format: FormatArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PresetArg {
    Sample,
    SeedFleet,
    Bench,
    Diverse,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Csv,
    Parquet,
}

impl GenerateArgs {
    /// Resolves the command line into the library's typed options.
    pub fn into_options(self) -> GenerateOptions {
        let preset = match self.preset {
            PresetArg::Sample => Preset::Sample,
            PresetArg::SeedFleet => Preset::SeedFleet,
            PresetArg::Bench => Preset::Bench,
            PresetArg::Diverse => Preset::Diverse,
        };
        GenerateOptions {
            devices: self.devices.unwrap_or(preset.default_devices()),
            seed: self.seed,
            out: self.out,
            preset,
            coverage_days: self.coverage_days,
            devices_format: match self.devices_format {
                FormatArg::Csv => TableFormat::Csv,
                FormatArg::Parquet => TableFormat::Parquet,
            },
        }
    }
}

/// Runs `otaplan generate`, with a progress bar on a terminal for large fleets.
pub fn run_generate(args: GenerateArgs) -> Result<(), crate::generate::GenerateError> {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    let opts = args.into_options();
    let bar = if opts.devices >= 50_000 {
        ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message("generating");
    let report = crate::generate::generate(&opts, &|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    println!(
        "wrote {} ({} devices, {} canary candidates, coverage: {} devices / {} rows)",
        report.out.display(),
        report.devices,
        report.canary_candidates,
        report.coverage_devices,
        report.coverage_rows
    );
    for f in &report.files {
        println!("  {:>12}  {}", f.bytes, f.path.display());
    }
    for f in &report.removed {
        println!("  removed stale {}", f.display());
    }
    Ok(())
}
fn fit_coverage(a: &FitCoverageArgs) -> Result<(), CliError> {
    if let Some(d) = a.emit_sql {
        use crate::coverage::sql::{Dialect, Tables, fit_sql};
        let dialect = match d {
            SqlDialect::Spark => Dialect::Spark,
            SqlDialect::Duckdb => Dialect::DuckDb,
        };
        let tables = Tables {
            history: a.history_table.as_deref().unwrap_or("coverage"),
            devices: a.devices_table.as_deref().unwrap_or("devices"),
        };
        print!("{}", fit_sql(dialect, &tables));
        return Ok(());
    }
    let started = std::time::Instant::now();
    let loaded = ingest::read_scenario(&a.scenario)
        .map_err(|d| CliError::diagnostics_then(d, a.format, None))?;
    let history = match &a.history {
        Some(p) => Some((p.clone(), p.display().to_string())),
        None => ingest::coverage::history_table(&a.scenario),
    };
    let Some((path, file)) = history else {
        return Err(CliError::input(format!(
            "{}: the scenario names no coverage history ([tables] coverage); pass --history FILE",
            a.scenario.display()
        )));
    };
    let (fitted, warnings) =
        crate::ingest::coverage_load::fit_history(&loaded.scenario, &path, &file).map_err(|d| {
            let closing = (a.format == MessageFormat::Text)
                .then(|| format!("{file}: {}; no model written", d.tally()));
            CliError::diagnostics_then(d, a.format, closing)
        })?;
    print_diagnostics(&warnings, a.format);
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from("models").join(format!("{}.parquet", loaded.scenario.name))
    });
    let rows = ingest::coverage::write_model(&out, &fitted.profiles)
        .map_err(|e| CliError::internal(format!("cannot write {}: {e}", out.display())))?;
    if a.format == MessageFormat::Text {
        println!(
            "{}: fitted {} history rows for {} of {} devices in {:.1} s; wrote {} keys ({} rows) to {}",
            loaded.scenario.name,
            fitted.rows,
            fitted.devices_with_history,
            loaded.scenario.devices.len(),
            started.elapsed().as_secs_f64(),
            fitted.profiles.len(),
            rows,
            out.display()
        );
    }
    Ok(())
}

/// Checks made before reading the scenario: the plan folder exists, holds a plan.csv,
/// can take simulation.json, and was planned from this scenario (by summary.json's
/// `scenario` name; device ids are compared when plan.csv is read).
fn simulate_preflight(a: &SimulateArgs) -> Result<(), String> {
    let dir = &a.plan;
    let shown = dir.display();
    if !dir.exists() {
        return Err(format!(
            "--plan {shown}: no such folder (give the folder `otaplan plan --out` wrote)"
        ));
    }
    if !dir.is_dir() {
        return Err(format!(
            "--plan {shown} is a file; give the plan folder (holding plan.csv)"
        ));
    }
    if !dir.join("plan.csv").is_file() {
        return Err(format!(
            "--plan {shown} holds no plan.csv: make one with `otaplan plan {} --out {shown}`",
            a.scenario.display()
        ));
    }
    let planned_from = std::fs::read_to_string(dir.join("summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("scenario")?.as_str().map(String::from));
    if let (Some(planned), Some(this)) = (planned_from, ingest::scenario_name(&a.scenario))
        && planned != this
    {
        return Err(format!(
            "the plan in {shown} belongs to scenario {planned:?}, not to {this:?} ({}): simulate it with the scenario it was planned from",
            a.scenario.display()
        ));
    }
    crate::fsutil::check_writable_dir(dir).map_err(|e| format!("--plan {e}"))
}

fn simulate(a: &SimulateArgs) -> Result<(), CliError> {
    simulate_preflight(a).map_err(|e| CliError::input(format!("{e}; nothing was simulated")))?;
    let loaded = ingest::read_scenario(&a.scenario).map_err(CliError::diagnostics)?;
    let coverage = crate::ingest::coverage_load::load(&loaded).map_err(CliError::diagnostics)?;
    let s = &loaded.scenario;
    let rows = crate::plan_folder::plan_csv::read_plan(&a.plan.join("plan.csv"), s)
        .map_err(CliError::diagnostics)?;
    let bar = if a.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(a.runs as u64)
    };
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("simulating [{bar:40}] {pos}/{len} runs ({eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    let clock = std::time::Instant::now();
    let opts = crate::simulate::SimOptions {
        runs: a.runs,
        seed: a.seed,
    };
    let spent = crate::plan_folder::progress::read_spent(&a.plan.join("spent.csv"), s)
        .map_err(CliError::diagnostics)?;
    let sim = crate::simulate::simulate(s, &coverage, &rows, &spent, opts, &|| bar.inc(1));
    bar.finish_and_clear();
    let sim = sim?;
    let digest = crate::plan_folder::plan_digest(&a.plan).map_err(|e| {
        CliError::internal(format!("cannot read the plan in {}: {e}", a.plan.display()))
    })?;
    let sim = crate::simulate::Simulation {
        plan: Some(digest),
        ..sim
    };
    crate::output::write_simulation(&a.plan, &sim).map_err(|e| {
        CliError::internal(format!(
            "cannot write simulation.json into {}: {e}",
            a.plan.display()
        ))
    })?;
    println!(
        "{}: {} runs of {} devices in {:.1} s; projected {:.2} {cur}, simulated mean {:.2} (P50 {:.2}, P90 {:.2}, P99 {:.2}), gap {:+.2}%; completion {:.2}% (P10 {:.2}%); written to {}",
        s.name,
        sim.runs,
        sim.devices,
        clock.elapsed().as_secs_f64(),
        sim.projected_total,
        sim.cost.mean,
        sim.cost.p50,
        sim.cost.p90,
        sim.cost.p99,
        sim.projection_gap * 100.0,
        sim.completion_rate.mean * 100.0,
        sim.completion_rate.p10 * 100.0,
        a.plan.join("simulation.json").display(),
        cur = s.currency,
    );
    Ok(())
}

fn report(a: &ReportArgs) -> Result<(), CliError> {
    let (input, devices) = crate::plan_folder::report_input::read_report_input(&a.dir)
        .map_err(CliError::diagnostics)?;
    if let Some(why) = &input.ignored_simulation {
        eprintln!("warning: {why}");
    }
    crate::output::write_report(
        &a.dir,
        &input,
        crate::output::ReportFiles::WithSpreadsheet(&devices),
    )
    .map_err(|e| {
        CliError::internal(format!(
            "cannot write the report into {}: {e}",
            a.dir.display()
        ))
    })?;
    println!(
        "wrote {}, report.xlsx, spend.csv and spend_by_day.csv",
        a.dir.join("report.html").display()
    );
    Ok(())
}

/// Resolves `otaplan export`'s arguments, reads the plan folder, exports and writes.
fn export(a: &ExportArgs) -> Result<(), CliError> {
    let target = match a.to {
        ExportTarget::AwsIotJobs => crate::handoff::Target::AwsIotJobs,
        ExportTarget::Hawkbit => crate::handoff::Target::Hawkbit,
        ExportTarget::Mender => crate::handoff::Target::Mender,
    };
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| a.plan_dir.join(format!("export-{}", target.name())));
    crate::fsutil::check_writable_dir(&out)
        .map_err(|e| CliError::input(format!("--out {e}; nothing was exported")))?;
    let document = match &a.document {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
            CliError::input(format!("cannot read --document {}: {e}", p.display()))
        })?),
        None => None,
    };
    let opts = crate::handoff::Options {
        thing_arn: a.thing_arn.clone(),
        document_source: a.document_source.clone(),
        document,
        end_behavior: match a.end_behavior {
            EndBehavior::StopRollout => "STOP_ROLLOUT",
            EndBehavior::Cancel => "CANCEL",
            EndBehavior::ForceCancel => "FORCE_CANCEL",
        }
        .into(),
        name_prefix: a.prefix.clone(),
        retries: a.retries,
        distribution_set_id: a.distribution_set_id.clone(),
        artifact_name: a.artifact_name.clone(),
    };
    let clock = std::time::Instant::now();
    let (plan, e) = crate::handoff::read_plan_dir(&a.plan_dir)
        .and_then(|plan| {
            let e = crate::handoff::export(&plan, target, &opts)?;
            Ok((plan, e))
        })
        .map_err(|msg| CliError::input(format!("{msg}; nothing was exported")))?;
    let files = crate::handoff::write_export(&out, &plan, &e)
        .map_err(|err| CliError::internal(format!("cannot write into {}: {err}", out.display())))?;
    println!(
        "{}: {} of {} to {} in {:.1} s: {} calls, {} files in {} (README.txt lists the calls in order)",
        plan.summary.scenario,
        count(plan.downloads.len(), "device", "devices"),
        count(plan.summary.waves.len(), "wave", "waves"),
        target.name(),
        clock.elapsed().as_secs_f64(),
        thousands(e.calls.len()),
        thousands(files.len()),
        out.display()
    );
    Ok(())
}

/// Reads a secret (token or key) from a file, trimmed.
fn read_secret(f: &std::path::Path, what: &str) -> Result<String, String> {
    std::fs::read_to_string(f)
        .map(|t| t.trim().to_string())
        .map_err(|e| format!("cannot read the {what} file {}: {e}", f.display()))
}

/// Resolves `otaplan serve`'s arguments into the server's settings.
fn serve_config(a: ServeArgs) -> Result<(crate::server::ServerConfig, String), String> {
    let token = match &a.token_file {
        Some(f) => Some(read_secret(f, "token")?),
        None => std::env::var("OTAPLAN_TOKEN")
            .ok()
            .map(|t| t.trim().to_string()),
    }
    .filter(|t| !t.is_empty());
    let secret = match &a.callback_secret_file {
        Some(f) => {
            let s = read_secret(f, "callback secret")?;
            if s.is_empty() {
                return Err(format!("the callback secret file {} is empty", f.display()));
            }
            Some(s.into_bytes())
        }
        None => None,
    };
    let mut cfg = crate::server::ServerConfig::new(a.data_dir);
    cfg.scenario_root = a.scenario_root;
    cfg.token = token;
    cfg.max_solves = a.max_solves.max(1);
    cfg.queue = a.queue;
    cfg.sync_devices = a.sync_devices;
    cfg.max_body_bytes = a.max_body_mb.saturating_mul(1 << 20);
    cfg.request_timeout = std::time::Duration::from_secs(a.request_timeout.max(1));
    cfg.header_timeout = std::time::Duration::from_secs(a.header_timeout.max(1));
    cfg.drain_delay = std::time::Duration::from_secs(a.drain_seconds);
    cfg.threads = a.threads.max(1);
    cfg.time_limit = a.time_limit;
    cfg.keep_plans = a.keep_plans;
    cfg.keep_days = a.keep_days;
    cfg.callback_hosts = a.callback_hosts;
    cfg.callback_secret = secret;
    if let Some(n) = a.work_threads {
        cfg.work_threads = n.max(1);
    }
    cfg.work_nice = a.work_nice;
    cfg.health_bind = a.health_bind;
    Ok((cfg, a.bind))
}

/// Resolves `otaplan serve`'s arguments and runs the server until it is stopped.
fn serve(a: ServeArgs) -> Result<(), CliError> {
    #[cfg(target_os = "linux")]
    if let Some(e) = crate::server::restart_with_bounded_arenas() {
        eprintln!(
            "warning: could not restart with MALLOC_ARENA_MAX=2 ({e}); serving with glibc's default arenas"
        );
    }
    let (cfg, bind) = serve_config(a).map_err(CliError::internal)?;
    let rt = tokio::runtime::Runtime::new()
        .map_err(|e| CliError::internal(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(crate::server::serve(cfg, &bind))
        .map_err(|e| CliError::internal(e.to_string()))
}
