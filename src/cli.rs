//! The command line: clap types that describe arguments and their conversion into library options; no generation logic here.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use otaplan::generate::{GenerateOptions, Preset, TableFormat};

/// Arguments of `otaplan generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of devices (default: the preset's size: sample 5000, seed-fleet 20000, bench 1000000)
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
    /// Days of hourly coverage history before `start` (0 = none; default: sample 21, seed-fleet 14, bench 0)
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
pub fn run_generate(args: GenerateArgs) -> Result<(), otaplan::generate::GenerateError> {
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
    let report = otaplan::generate::generate(&opts, &|done, total| {
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
