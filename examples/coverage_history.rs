//! Writes a deterministic benchmark scenario for `otaplan fit-coverage`: N devices in
//! four regions (Berlin, New York, Kathmandu +05:45, Adelaide +09:30/+10:30) and
//! `days` of hourly coverage history as Parquet, with a known truth per local hour.
//! Usage: `cargo run --release --example coverage_history -- OUT_DIR [DEVICES] [DAYS]`.
//! Writes files only; estimates nothing.

use chrono::{TimeZone, Timelike};
use chrono_tz::Tz;
use otaplan::ingest::coverage::{HistoryRows, HistoryWriter};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt::Write as _;
use std::path::PathBuf;

const REGIONS: [(&str, &str); 4] = [
    ("eu-central", "Europe/Berlin"),
    ("us-east", "America/New_York"),
    ("asia-south", "Asia/Kathmandu"),
    ("au-south", "Australia/Adelaide"),
];
const RADIOS: [(&str, f64); 4] = [
    ("nbiot", 20.0),
    ("ltem", 300.0),
    ("cat1", 5_000.0),
    ("cat4", 20_000.0),
];
/// 2027-01-04T00:00:00Z, a Monday.
const START: i64 = 1_799_020_800;

/// Truth: chance of being online at a local hour of day for a radio.
fn p_online(radio: usize, local_hour: u32) -> f64 {
    let vehicle = radio >= 2;
    match (vehicle, local_hour) {
        (false, 0..=5) => 0.95,
        (false, _) => 0.85,
        (true, 7..=9 | 16..=19) => 0.9,
        (true, 0..=5) => 0.3,
        (true, _) => 0.6,
    }
}

fn tp_mult(local_hour: u32) -> f64 {
    match local_hour {
        0..=5 => 1.0,
        17..=22 => 0.5,
        _ => 0.75,
    }
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .ok_or("usage: coverage_history OUT_DIR [DEVICES] [DAYS]")?,
    );
    let n: usize = args
        .next()
        .map(|s| s.parse().map_err(|_| "DEVICES must be a number"))
        .transpose()?
        .unwrap_or(10_000);
    let days: i64 = args
        .next()
        .map(|s| s.parse().map_err(|_| "DAYS must be a number"))
        .transpose()?
        .unwrap_or(90);
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let hours = days * 24;
    // Local hour of day per region per UTC hour of the history (the truth follows it).
    let local: Vec<Vec<u32>> = REGIONS
        .iter()
        .map(|(_, z)| {
            let tz: Tz = z.parse().expect("built-in zone");
            (0..hours)
                .map(|h| {
                    tz.timestamp_opt(START + h * 3600, 0)
                        .single()
                        .map_or(0, |t| t.hour())
                })
                .collect()
        })
        .collect();

    let mut devices = String::from(
        "device_id,pool_id,region,timezone,current_version,radio,canary_eligible,critical\n",
    );
    for i in 0..n {
        let (region, zone) = REGIONS[i % 4];
        let radio = RADIOS[(i / 4) % 4].0;
        let _ = writeln!(
            devices,
            "dev{i:06},p1,{region},{zone},2.3.0,{radio},true,false"
        );
    }
    let write =
        |name: &str, text: &str| std::fs::write(out.join(name), text).map_err(|e| e.to_string());
    write("devices.csv", &devices)?;
    write(
        "pools.csv",
        "pool_id,provider,allowance_mb,cycle_day,cycle_timezone,used_mb,baseline_mb_per_day,on_cap,cap_mb\np1,mvno,100000,1,UTC,0,10,overage,\n",
    )?;
    write(
        "overage_tiers.csv",
        "pool_id,up_to_mb,price_per_mb\np1,,0.02\n",
    )?;
    write(
        "artifacts.csv",
        "from_version,to_version,size_bytes,resumable\n,2.4.0,12000000,true\n2.3.0,2.4.0,900000,true\n",
    )?;
    let mut regions = String::from("region,capacity_mb_per_hour\n");
    for (r, _) in REGIONS {
        let _ = writeln!(regions, "{r},1000");
    }
    write("regions.csv", &regions)?;
    write(
        "scenario.toml",
        &format!(
            "name = \"coverage-bench\"\nrelease = \"2.4.0\"\nstart = \"2027-04-05T00:00:00Z\"\ndeadline = \"2027-04-19T00:00:00Z\"\n\
             slot_minutes = 60\ncurrency = \"USD\"\n\n[tables]\ndevices = \"devices.csv\"\npools = \"pools.csv\"\n\
             overage_tiers = \"overage_tiers.csv\"\nartifacts = \"artifacts.csv\"\nregions = \"regions.csv\"\n\
             coverage = \"coverage.parquet\"\n\n[windows]\ndefault = [\"01:00-05:00\"]\n# {n} devices x {days} days hourly\n"
        ),
    )?;

    let mut w = HistoryWriter::create(&out.join("coverage.parquet"))?;
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut rows = HistoryRows::default();
    let flush_every = 100;
    for i in 0..n {
        let r = i % 4;
        let radio = (i / 4) % 4;
        let id = format!("dev{i:06}");
        // A device's own level: ±0.1 around its radio's curve, speed ×/÷ 1.5.
        let shift = rng.random_range(-0.1..0.1);
        let speed = RADIOS[radio].1 * 1.5f64.powf(rng.random_range(-1.0..1.0));
        for h in 0..hours {
            let lh = local[r][h as usize];
            let online = rng.random::<f64>() < (p_online(radio, lh) + shift).clamp(0.0, 1.0);
            // Log-normal noise (sigma 0.3) by Box-Muller.
            let z = (-2.0 * rng.random::<f64>().max(1e-12).ln()).sqrt()
                * (std::f64::consts::TAU * rng.random::<f64>()).cos();
            let tp = online.then(|| speed * tp_mult(lh) * (0.3 * z).exp());
            let dropped = online && rng.random::<f64>() < 0.05;
            rows.device_id.push(id.clone());
            rows.ts.push(START + h * 3600);
            rows.online.push(online);
            rows.throughput_kbps.push(tp);
            rows.dropped.push(dropped);
        }
        if (i + 1) % flush_every == 0 || i + 1 == n {
            w.write(&rows)?;
            rows = HistoryRows::default();
        }
    }
    w.finish()?;
    eprintln!(
        "wrote {} rows for {n} devices to {}",
        n as i64 * hours,
        out.display()
    );
    Ok(())
}
