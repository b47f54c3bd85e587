//! The `diverse` preset's catalog: a large operator's fleet (48 carrier pools, 90 regions
//! over 48 IANA time zones, ten versions in the field); pure data, no randomness, no I/O.
//!
//! The tables below are the facts; `data/README.md` gives the source of every figure.

use super::catalog::{
    Catalog, MIX_ASIA, MIX_AU, MIX_EU, MIX_US, MVNO_TIERS, PoolKind, PoolSpec, RegionSpec,
    WaveSize, WaveSpec, art, utc,
};

/// Radio mixes (nbiot, ltem, cat1, cat4) of the markets the sample does not cover.
const MIX_LATAM: [f64; 4] = [0.20, 0.30, 0.35, 0.15];
const MIX_AFRICA: [f64; 4] = [0.25, 0.20, 0.40, 0.15];

/// The carriers each market buys from, by share of its devices (the global pay-as-you-go
/// pool takes `payg_share` of every region on top).
type Mix = &'static [(&'static str, f64)];
const UK: Mix = &[
    ("uk-cal", 0.4),
    ("uk-ann-20", 0.3),
    ("eu-cal-mvno", 0.2),
    ("eu-ann-12", 0.1),
];
const ES_IT: Mix = &[
    ("es-it-ann-8", 0.5),
    ("eu-cal-mvno", 0.3),
    ("eu-ann-12", 0.2),
];
const FR: Mix = &[("fr-cal", 0.45), ("fr-ann-5", 0.25), ("eu-cal-mvno", 0.3)];
const NL: Mix = &[("eu-cal-mvno", 0.5), ("de-cal", 0.3), ("eu-ann-12", 0.2)];
const DE: Mix = &[
    ("de-cal", 0.4),
    ("de-ann-15", 0.3),
    ("eu-cal-mvno", 0.25),
    ("glb-m2m-tiny", 0.05),
];
const NORDIC: Mix = &[("nordic-cal", 0.6), ("eu-cal-mvno", 0.4)];
const EU_EAST: Mix = &[("ee-ann-25", 0.6), ("eu-cal-mvno", 0.4)];
const TR: Mix = &[("tr-cal", 0.7), ("eu-ann-12", 0.3)];
const CA: Mix = &[("ca-cal", 0.55), ("ca-ann-3", 0.3), ("us-cal-mvno", 0.15)];
const US_EAST: Mix = &[
    ("us-cal-mvno", 0.35),
    ("us-ann-26", 0.25),
    ("us-fleet-ann-22", 0.25),
    ("us-tiny-5", 0.15),
];
const US_CENTRAL: Mix = &[
    ("us-cal-mvno", 0.3),
    ("us-ann-26", 0.25),
    ("us-ann-18", 0.25),
    ("us-tiny-5", 0.15),
    ("glb-m2m-tiny", 0.05),
];
const US_WEST: Mix = &[
    ("us-cal-west", 0.35),
    ("us-ann-9", 0.35),
    ("us-ann-18", 0.15),
    ("us-cal-mvno", 0.15),
];
const MX: Mix = &[("mx-cal", 0.7), ("latam-payg", 0.3)];
const CO: Mix = &[("co-cl-ann-28", 0.5), ("latam-payg", 0.5)];
const BR: Mix = &[("br-ann-10", 0.5), ("br-cal", 0.4), ("latam-payg", 0.1)];
const CL: Mix = &[("co-cl-ann-28", 0.7), ("latam-payg", 0.3)];
const ZA: Mix = &[("za-ann-6", 0.7), ("mea-payg", 0.3)];
const AFRICA: Mix = &[("africa-cal", 0.7), ("mea-payg", 0.3)];
const AE: Mix = &[("ae-ann-14", 0.7), ("mea-payg", 0.3)];
const SOUTH_ASIA: Mix = &[("south-asia-ann-21", 0.8), ("apac-payg", 0.2)];
const IN: Mix = &[
    ("in-cal", 0.5),
    ("in-ann-16", 0.35),
    ("apac-payg", 0.1),
    ("glb-m2m-tiny", 0.05),
];
const NP: Mix = &[("np-cal", 0.6), ("south-asia-ann-21", 0.4)];
const SEA: Mix = &[("sea-cal", 0.5), ("sea-ann-11", 0.35), ("apac-payg", 0.15)];
const CN: Mix = &[("cn-cal", 0.6), ("cn-ann-7", 0.4)];
const JP_KR: Mix = &[("jp-kr-cal", 0.6), ("jp-ann-24", 0.4)];
const AU: Mix = &[("au-cal", 0.45), ("au-ann-19", 0.3), ("au-ann-2", 0.25)];
const NZ: Mix = &[("nz-ann-13", 0.6), ("nz-cal", 0.4)];

/// Region window overrides (local time); every other region uses `01:00-05:00`.
const W_LATE: &[&str] = &["02:00-06:00"];
const W_HALF: &[&str] = &["00:30-04:30"];
const W_MIDNIGHT: &[&str] = &["22:00-04:00"];
const W_SPLIT: &[&str] = &["23:00-02:00", "03:00-05:00"];
const W_IN: &[&str] = &["01:30-05:30"];
const W_QUARTER: &[&str] = &["02:15-06:15"];
const W_LONG: &[&str] = &["01:00-06:00"];
const W_EARLY: &[&str] = &["00:00-04:00"];
const W_SHORT: &[&str] = &["03:00-06:00"];
const W_NOON: &[&str] = &["01:00-05:00", "13:00-15:00"];

type Zones = &'static [(&'static str, f64)];
const LONDON: Zones = &[("Europe/London", 1.0)];
const MADRID: Zones = &[("Europe/Madrid", 1.0)];
const PARIS: Zones = &[("Europe/Paris", 1.0)];
const AMSTERDAM: Zones = &[("Europe/Amsterdam", 1.0)];
const BERLIN: Zones = &[("Europe/Berlin", 1.0)];
const ROME: Zones = &[("Europe/Rome", 1.0)];
const WARSAW: Zones = &[("Europe/Warsaw", 1.0)];
const STOCKHOLM: Zones = &[("Europe/Stockholm", 1.0)];
const NEW_YORK: Zones = &[("America/New_York", 1.0)];
const CHICAGO: Zones = &[("America/Chicago", 1.0)];
const LOS_ANGELES: Zones = &[("America/Los_Angeles", 1.0)];
const KOLKATA: Zones = &[("Asia/Kolkata", 1.0)];
const KARACHI: Zones = &[("Asia/Karachi", 1.0)];
const SHANGHAI: Zones = &[("Asia/Shanghai", 1.0)];
const TOKYO: Zones = &[("Asia/Tokyo", 1.0)];
const SAO_PAULO: Zones = &[("America/Sao_Paulo", 1.0)];
const SANTIAGO: Zones = &[("America/Santiago", 1.0)];
const MEXICO: Zones = &[("America/Mexico_City", 1.0)];
const JOBURG: Zones = &[("Africa/Johannesburg", 1.0)];

/// (region, relative weight, time zones, carriers, radio mix, hard capacity, windows).
type RegionRow = (
    &'static str,
    f64,
    Zones,
    Mix,
    [f64; 4],
    bool,
    Option<&'static [&'static str]>,
);

#[rustfmt::skip]
const REGIONS: [RegionRow; 90] = [
    // Europe: 33 regions, 12 zones (all spring forward on 2027-03-28).
    ("uk-london", 1.6, LONDON, UK, MIX_EU, true, Some(W_HALF)),
    ("uk-south", 1.0, LONDON, UK, MIX_EU, false, None),
    ("uk-midlands", 0.9, LONDON, UK, MIX_EU, false, None),
    ("uk-north", 0.8, LONDON, UK, MIX_EU, false, None),
    ("uk-scotland", 0.5, LONDON, UK, MIX_EU, false, None),
    ("uk-wales", 0.3, LONDON, UK, MIX_EU, false, None),
    ("es-madrid", 0.9, MADRID, ES_IT, MIX_EU, false, None),
    ("es-barcelona", 0.8, MADRID, ES_IT, MIX_EU, true, None),
    ("es-south", 0.5, MADRID, ES_IT, MIX_EU, false, None),
    ("fr-paris", 1.4, PARIS, FR, MIX_EU, true, None),
    ("fr-north", 0.7, PARIS, FR, MIX_EU, false, None),
    ("fr-south", 0.8, PARIS, FR, MIX_EU, false, None),
    ("fr-west", 0.6, PARIS, FR, MIX_EU, false, None),
    ("nl-randstad", 0.9, AMSTERDAM, NL, MIX_EU, true, None),
    ("nl-east", 0.4, AMSTERDAM, NL, MIX_EU, false, None),
    ("de-north", 1.0, BERLIN, DE, MIX_EU, false, None),
    ("de-west", 1.3, BERLIN, DE, MIX_EU, false, None),
    ("de-south", 1.1, BERLIN, DE, MIX_EU, false, None),
    ("de-east", 0.7, BERLIN, DE, MIX_EU, false, None),
    ("de-bavaria", 1.2, BERLIN, DE, MIX_EU, true, Some(W_LATE)),
    ("de-rhine", 0.8, BERLIN, DE, MIX_EU, false, None),
    ("it-north", 1.0, ROME, ES_IT, MIX_EU, false, None),
    ("it-central", 0.6, ROME, ES_IT, MIX_EU, false, None),
    ("it-south", 0.5, ROME, ES_IT, MIX_EU, false, None),
    ("pl-central", 0.7, WARSAW, EU_EAST, MIX_EU, false, None),
    ("pl-south", 0.5, WARSAW, EU_EAST, MIX_EU, false, None),
    ("se-south", 0.5, STOCKHOLM, NORDIC, MIX_EU, false, None),
    ("se-north", 0.2, STOCKHOLM, NORDIC, MIX_EU, false, None),
    ("fi", 0.4, &[("Europe/Helsinki", 1.0)], NORDIC, MIX_EU, false, None),
    ("gr", 0.4, &[("Europe/Athens", 1.0)], EU_EAST, MIX_EU, false, None),
    ("ro", 0.4, &[("Europe/Bucharest", 1.0)], EU_EAST, MIX_EU, false, None),
    ("tr-west", 0.8, &[("Europe/Istanbul", 1.0)], TR, MIX_EU, true, None),
    ("tr-east", 0.3, &[("Europe/Istanbul", 1.0)], TR, MIX_EU, false, None),
    // North America: 19 regions, 9 zones (spring forward on 2027-03-14, Phoenix never).
    ("ca-nl", 0.2, &[("America/St_Johns", 1.0)], CA, MIX_US, false, None),
    ("ca-atlantic", 0.3, &[("America/Halifax", 0.85), ("America/St_Johns", 0.15)], CA, MIX_US, false, None),
    ("ca-quebec", 0.7, &[("America/Toronto", 1.0)], CA, MIX_US, false, None),
    ("ca-ontario", 1.1, &[("America/Toronto", 1.0)], CA, MIX_US, true, None),
    ("ca-bc", 0.6, &[("America/Vancouver", 1.0)], CA, MIX_US, false, None),
    ("us-ne", 1.2, NEW_YORK, US_EAST, MIX_US, false, None),
    ("us-ny", 2.0, NEW_YORK, US_EAST, MIX_US, true, Some(W_SPLIT)),
    ("us-mid-atlantic", 1.5, NEW_YORK, US_EAST, MIX_US, false, None),
    ("us-se", 1.6, NEW_YORK, US_EAST, MIX_US, false, None),
    ("us-fl", 1.4, NEW_YORK, US_EAST, MIX_US, false, None),
    ("us-midwest", 1.5, CHICAGO, US_CENTRAL, MIX_US, false, None),
    ("us-great-lakes", 1.3, &[("America/Chicago", 0.55), ("America/New_York", 0.45)], US_CENTRAL, MIX_US, false, None),
    ("us-tx", 2.2, CHICAGO, US_CENTRAL, MIX_US, true, None),
    ("us-south-central", 1.0, CHICAGO, US_CENTRAL, MIX_US, false, None),
    ("us-mountain", 0.9, &[("America/Denver", 0.75), ("America/Phoenix", 0.25)], US_CENTRAL, MIX_US, false, None),
    ("us-az", 0.7, &[("America/Phoenix", 1.0)], US_WEST, MIX_US, false, None),
    ("us-ca-north", 1.4, LOS_ANGELES, US_WEST, MIX_US, false, None),
    ("us-ca-south", 2.0, LOS_ANGELES, US_WEST, MIX_US, true, Some(W_MIDNIGHT)),
    ("us-pnw", 0.9, LOS_ANGELES, US_WEST, MIX_US, false, None),
    // Latin America: 8 regions, 4 zones (Santiago is on summer time, -03:00).
    ("mx-central", 1.0, MEXICO, MX, MIX_LATAM, false, None),
    ("mx-north", 0.6, MEXICO, MX, MIX_LATAM, false, None),
    ("co", 0.6, &[("America/Bogota", 1.0)], CO, MIX_LATAM, false, None),
    ("br-sp", 1.3, SAO_PAULO, BR, MIX_LATAM, true, None),
    ("br-rj", 0.7, SAO_PAULO, BR, MIX_LATAM, false, None),
    ("br-south", 0.6, SAO_PAULO, BR, MIX_LATAM, false, None),
    ("cl-central", 0.5, SANTIAGO, CL, MIX_LATAM, false, Some(W_EARLY)),
    ("cl-south", 0.2, SANTIAGO, CL, MIX_LATAM, false, None),
    // Africa and the Middle East: 5 regions, 4 zones.
    ("ng", 0.5, &[("Africa/Lagos", 1.0)], AFRICA, MIX_AFRICA, false, None),
    ("ke", 0.3, &[("Africa/Nairobi", 1.0)], AFRICA, MIX_AFRICA, false, None),
    ("za-gauteng", 0.6, JOBURG, ZA, MIX_AFRICA, true, None),
    ("za-cape", 0.3, JOBURG, ZA, MIX_AFRICA, false, None),
    ("ae", 0.5, &[("Asia/Dubai", 1.0)], AE, MIX_ASIA, false, Some(W_NOON)),
    // Asia: 18 regions, 10 zones (+04:30, +05:30, +05:45, +06:30).
    ("af", 0.1, &[("Asia/Kabul", 1.0)], SOUTH_ASIA, MIX_ASIA, false, None),
    ("pk-north", 0.4, KARACHI, SOUTH_ASIA, MIX_ASIA, false, None),
    ("pk-south", 0.4, KARACHI, SOUTH_ASIA, MIX_ASIA, false, None),
    ("in-north", 1.2, KOLKATA, IN, MIX_ASIA, false, None),
    ("in-west", 1.3, KOLKATA, IN, MIX_ASIA, true, Some(W_IN)),
    ("in-south", 1.2, KOLKATA, IN, MIX_ASIA, false, None),
    ("in-east", 0.6, KOLKATA, IN, MIX_ASIA, false, None),
    ("in-central", 0.5, KOLKATA, IN, MIX_ASIA, false, None),
    ("np", 0.2, &[("Asia/Kathmandu", 1.0)], NP, MIX_ASIA, false, Some(W_QUARTER)),
    ("mm", 0.2, &[("Asia/Yangon", 1.0)], SEA, MIX_ASIA, false, None),
    ("th", 0.6, &[("Asia/Bangkok", 1.0)], SEA, MIX_ASIA, false, None),
    ("sg", 0.5, &[("Asia/Singapore", 1.0)], SEA, MIX_ASIA, true, Some(W_SHORT)),
    ("cn-east", 1.2, SHANGHAI, CN, MIX_ASIA, true, None),
    ("cn-south", 1.0, SHANGHAI, CN, MIX_ASIA, false, None),
    ("cn-north", 0.8, SHANGHAI, CN, MIX_ASIA, false, None),
    ("kr", 0.8, &[("Asia/Seoul", 1.0)], JP_KR, MIX_ASIA, false, None),
    ("jp-east", 1.1, TOKYO, JP_KR, MIX_ASIA, true, None),
    ("jp-west", 0.8, TOKYO, JP_KR, MIX_ASIA, false, None),
    // Oceania: 7 regions, 9 zones (fall back on 2027-04-04 local: Sydney, Adelaide,
    // Lord Howe by half an hour, Auckland, Chatham; +08:45 Eucla and +09:30 Darwin never).
    ("au-wa", 0.5, &[("Australia/Perth", 0.97), ("Australia/Eucla", 0.03)], AU, MIX_AU, false, None),
    ("au-nt", 0.2, &[("Australia/Darwin", 1.0)], AU, MIX_AU, false, None),
    ("au-sa", 0.4, &[("Australia/Adelaide", 1.0)], AU, MIX_AU, false, None),
    ("au-qld", 0.7, &[("Australia/Brisbane", 1.0)], AU, MIX_AU, false, None),
    ("au-nsw", 1.1, &[("Australia/Sydney", 0.96), ("Australia/Adelaide", 0.02), ("Australia/Lord_Howe", 0.02)], AU, MIX_AU, true, Some(W_LONG)),
    ("nz-north", 0.5, &[("Pacific/Auckland", 1.0)], NZ, MIX_AU, false, None),
    ("nz-south", 0.3, &[("Pacific/Auckland", 0.95), ("Pacific/Chatham", 0.05)], NZ, MIX_AU, false, None),
];

/// How a pool is billed, compactly: plan MB per SIM (0 = pay-as-you-go), share of the
/// allowance normal telemetry uses, headroom before the first reset as a share of the
/// pool's update.
#[derive(Clone, Copy)]
enum Kind {
    Pooled(u64, f64, f64),
    Payg(f64),
    Bundle(u64, f64),
}

type Tiers = &'static [(Option<u64>, f64)];
const RISING: Tiers = &[(Some(2_000), 0.03), (None, 0.06)];

/// (pool, provider, kind, cycle_day, cycle_timezone, on_cap, cap × allowance, tiers,
/// zone rates, roaming share).
type PoolRow = (
    &'static str,
    &'static str,
    Kind,
    u32,
    &'static str,
    &'static str,
    Option<f64>,
    Tiers,
    Zones,
    f64,
);

#[rustfmt::skip]
const POOLS: [PoolRow; 48] = [
    // Europe
    ("eu-cal-mvno", "calendar-mvno", Kind::Pooled(50, 0.90, 0.25), 1, "Europe/Berlin", "overage", None, MVNO_TIERS, &[("zone-na", 0.12), ("zone-world", 0.30)], 0.04),
    ("eu-ann-12", "pan-eu-carrier", Kind::Pooled(100, 0.88, 1.50), 12, "Europe/London", "throttle", Some(1.10), RISING, &[("zone-world", 0.25), ("zone-na", 0.15)], 0.02),
    ("uk-cal", "uk-mvno", Kind::Pooled(25, 0.85, 0.15), 1, "Europe/London", "pause", Some(1.05), &[(None, 0.50)], &[("zone-eu", 0.05), ("zone-world", 0.30)], 0.04),
    ("uk-ann-20", "uk-carrier", Kind::Pooled(250, 0.92, 0.40), 20, "Europe/London", "overage", None, &[(None, 0.015)], &[], 0.0),
    ("es-it-ann-8", "south-eu-carrier", Kind::Pooled(25, 0.90, 0.60), 8, "Europe/Rome", "overage", None, &[(None, 0.09)], &[("zone-mea", 0.18), ("zone-world", 0.28)], 0.03),
    ("fr-cal", "fr-mvno", Kind::Pooled(50, 0.90, 0.20), 1, "Europe/Paris", "overage", None, &[(Some(500), 0.05), (None, 0.035)], &[("zone-mea", 0.20), ("zone-world", 0.30)], 0.03),
    ("fr-ann-5", "fr-m2m", Kind::Pooled(10, 0.75, 1.20), 5, "Europe/Paris", "throttle", Some(1.20), &[(None, 0.80)], &[], 0.0),
    ("de-cal", "de-carrier", Kind::Pooled(100, 0.90, 0.30), 1, "Europe/Berlin", "overage", None, &[(Some(1_000), 0.02), (None, 0.04)], &[("zone-world", 0.22), ("zone-mea", 0.18)], 0.03),
    ("de-ann-15", "de-m2m", Kind::Pooled(50, 0.85, 0.10), 15, "Europe/Berlin", "pause", Some(1.05), &[(None, 0.60)], &[], 0.0),
    ("nordic-cal", "nordic-carrier", Kind::Pooled(200, 0.90, 0.35), 1, "Europe/Stockholm", "overage", None, &[(None, 0.02)], &[("zone-eu", 0.03), ("zone-world", 0.25)], 0.03),
    ("ee-ann-25", "east-eu-carrier", Kind::Pooled(20, 0.80, 0.20), 25, "Europe/Warsaw", "throttle", Some(1.10), &[(Some(100), 0.10), (Some(1_000), 0.05), (None, 0.03)], &[], 0.0),
    ("tr-cal", "tr-carrier", Kind::Pooled(50, 0.80, 0.30), 1, "Europe/Istanbul", "pause", Some(1.00), &[(None, 0.30)], &[("zone-eu", 0.15), ("zone-mea", 0.12)], 0.04),
    // North America
    ("ca-cal", "ca-mvno", Kind::Pooled(50, 0.90, 0.30), 1, "America/Toronto", "overage", None, &[(None, 0.08)], &[("zone-na", 0.10), ("zone-latam", 0.20)], 0.05),
    ("ca-ann-3", "ca-atlantic-carrier", Kind::Pooled(25, 0.82, 0.20), 3, "America/St_Johns", "throttle", Some(1.05), &[(None, 0.50)], &[], 0.0),
    ("us-cal-mvno", "calendar-mvno", Kind::Pooled(50, 0.90, 0.20), 1, "America/New_York", "overage", None, MVNO_TIERS, &[("zone-latam", 0.15), ("zone-eu", 0.20)], 0.04),
    ("us-ann-26", "anniversary-carrier", Kind::Pooled(25, 0.85, 0.10), 26, "America/Chicago", "pause", Some(1.05), &[(None, 0.50)], &[], 0.0),
    ("us-ann-9", "us-west-carrier", Kind::Pooled(100, 0.88, 1.30), 9, "America/Los_Angeles", "throttle", Some(1.10), RISING, &[], 0.0),
    ("us-ann-18", "us-iot-carrier", Kind::Pooled(500, 0.92, 0.40), 18, "America/Denver", "overage", None, &[(None, 0.015)], &[("zone-na", 0.08), ("zone-latam", 0.14)], 0.03),
    ("us-cal-west", "us-west-mvno", Kind::Pooled(50, 0.90, 0.25), 1, "America/Los_Angeles", "overage", None, &[(Some(200), 0.06), (None, 0.04)], &[("zone-latam", 0.12), ("zone-na", 0.07)], 0.03),
    ("us-tiny-5", "m2m-5mb-plan", Kind::Pooled(5, 0.90, 0.30), 1, "America/New_York", "overage", None, &[(None, 1.00)], &[], 0.0),
    ("us-fleet-ann-22", "us-fleet-carrier", Kind::Pooled(200, 0.90, 0.30), 22, "America/New_York", "overage", None, &[(Some(5_000), 0.02), (None, 0.015)], &[("zone-na", 0.06), ("zone-latam", 0.12)], 0.04),
    // Latin America
    ("mx-cal", "mx-carrier", Kind::Pooled(20, 0.90, 0.30), 1, "America/Mexico_City", "overage", None, &[(None, 0.10)], &[("zone-na", 0.18), ("zone-latam", 0.10)], 0.06),
    ("br-ann-10", "br-carrier", Kind::Pooled(50, 0.85, 1.30), 10, "America/Sao_Paulo", "throttle", Some(1.10), &[(None, 0.05)], &[], 0.0),
    ("br-cal", "br-mvno", Kind::Pooled(25, 0.90, 0.25), 1, "America/Sao_Paulo", "overage", None, &[(Some(1_000), 0.08), (None, 0.05)], &[("zone-latam", 0.12)], 0.02),
    ("co-cl-ann-28", "andean-carrier", Kind::Pooled(30, 0.85, 0.15), 28, "America/Santiago", "pause", Some(1.05), &[(None, 0.70)], &[], 0.0),
    ("latam-payg", "payg-latam", Kind::Payg(0.5), 1, "UTC", "overage", None, &[(None, 0.06)], &[("zone-latam", 0.10), ("zone-na", 0.15)], 0.10),
    // Africa and the Middle East
    ("za-ann-6", "za-carrier", Kind::Pooled(50, 0.90, 0.80), 6, "Africa/Johannesburg", "overage", None, &[(None, 0.04)], &[("zone-mea", 0.30), ("zone-world", 0.40)], 0.03),
    ("africa-cal", "africa-m2m", Kind::Pooled(10, 0.75, 0.25), 1, "Africa/Lagos", "throttle", Some(1.10), &[(None, 0.90)], &[], 0.0),
    ("ae-ann-14", "gulf-carrier", Kind::Pooled(100, 0.90, 0.80), 14, "Asia/Dubai", "overage", None, &[(None, 0.05)], &[("zone-mea", 0.20), ("zone-world", 0.30)], 0.03),
    ("mea-payg", "payg-mea", Kind::Payg(0.4), 1, "Asia/Dubai", "overage", None, &[(None, 0.08)], &[("zone-mea", 0.12), ("zone-world", 0.35)], 0.10),
    // Asia
    ("south-asia-ann-21", "south-asia-carrier", Kind::Pooled(25, 0.85, 0.15), 21, "Asia/Karachi", "pause", Some(1.05), &[(None, 0.40)], &[], 0.0),
    ("in-cal", "in-carrier", Kind::Pooled(100, 0.88, 0.35), 1, "Asia/Kolkata", "throttle", Some(1.10), RISING, &[], 0.0),
    ("in-ann-16", "in-mvno", Kind::Pooled(50, 0.90, 0.30), 16, "Asia/Kolkata", "overage", None, &[(None, 0.02)], &[("zone-apac", 0.10), ("zone-mea", 0.15)], 0.03),
    ("np-cal", "np-carrier", Kind::Pooled(20, 0.90, 0.30), 1, "Asia/Kathmandu", "overage", None, &[(None, 0.06)], &[], 0.0),
    ("sea-cal", "sea-mvno", Kind::Pooled(50, 0.90, 0.25), 1, "Asia/Singapore", "overage", None, MVNO_TIERS, &[("zone-apac", 0.12), ("zone-world", 0.30)], 0.04),
    ("sea-ann-11", "sea-carrier", Kind::Pooled(100, 0.85, 1.40), 11, "Asia/Bangkok", "throttle", Some(1.15), &[(None, 0.03)], &[], 0.0),
    ("cn-cal", "cn-carrier", Kind::Pooled(200, 0.92, 0.35), 1, "Asia/Shanghai", "overage", None, &[(None, 0.015)], &[], 0.0),
    ("cn-ann-7", "cn-m2m", Kind::Pooled(50, 0.85, 1.50), 7, "Asia/Shanghai", "pause", Some(1.05), &[(None, 0.20)], &[], 0.0),
    ("jp-kr-cal", "jp-kr-carrier", Kind::Pooled(100, 0.90, 0.30), 1, "Asia/Tokyo", "overage", None, &[(Some(500), 0.05), (None, 0.03)], &[("zone-apac", 0.14)], 0.03),
    ("jp-ann-24", "jp-m2m", Kind::Pooled(30, 0.85, 0.20), 24, "Asia/Tokyo", "throttle", Some(1.10), &[(None, 0.60)], &[], 0.0),
    ("apac-payg", "payg-apac", Kind::Payg(0.4), 1, "Asia/Singapore", "overage", None, &[(None, 0.05)], &[("zone-apac", 0.09), ("zone-world", 0.25)], 0.10),
    // Oceania
    ("au-cal", "au-mvno", Kind::Pooled(50, 0.90, 0.25), 1, "Australia/Sydney", "overage", None, MVNO_TIERS, &[("zone-apac", 0.15), ("zone-world", 0.30)], 0.03),
    ("au-ann-19", "au-carrier", Kind::Pooled(100, 0.88, 0.30), 19, "Australia/Perth", "throttle", Some(1.10), &[(None, 0.04)], &[], 0.0),
    ("au-ann-2", "au-m2m", Kind::Pooled(25, 0.85, 0.15), 2, "Australia/Adelaide", "pause", Some(1.05), &[(None, 0.55)], &[], 0.0),
    ("nz-ann-13", "nz-carrier", Kind::Pooled(50, 0.90, 0.80), 13, "Pacific/Auckland", "overage", None, &[(None, 0.05)], &[("zone-apac", 0.12)], 0.03),
    ("nz-cal", "nz-mvno", Kind::Pooled(20, 0.90, 0.30), 1, "Pacific/Chatham", "overage", None, &[(None, 0.08)], &[], 0.0),
    // Global
    ("glb-payg", "payg-roaming", Kind::Payg(0.4), 1, "UTC", "overage", None, &[(None, 0.045)], &[("zone-eu", 0.09), ("zone-world", 0.25)], 0.25),
    ("glb-m2m-tiny", "tiny-bundle", Kind::Bundle(1, 0.6), 17, "UTC", "overage", None, &[(None, 0.02)], &[("zone-world", 0.40)], 0.05),
];

pub(crate) fn catalog() -> Catalog {
    let total: f64 = REGIONS.iter().map(|r| r.1).sum();
    let regions = REGIONS
        .iter()
        .map(
            |&(name, weight, timezones, pools, radio_mix, hard_capacity, windows)| RegionSpec {
                name,
                weight: weight / total,
                timezones,
                pool: pools[0].0,
                pool_mix: pools,
                radio_mix,
                hard_capacity,
                windows,
            },
        )
        .collect();
    let pools = POOLS
        .iter()
        .map(
            |&(id, provider, kind, cycle_day, cycle_timezone, on_cap, cap, tiers, zones, roam)| {
                PoolSpec {
                    id,
                    provider,
                    kind: match kind {
                        Kind::Pooled(plan_mb, telemetry_share, headroom_share) => {
                            PoolKind::Pooled {
                                plan_mb,
                                telemetry_share,
                                headroom_share,
                            }
                        }
                        Kind::Payg(telemetry_mb_per_sim_day) => PoolKind::PayAsYouGo {
                            telemetry_mb_per_sim_day,
                        },
                        Kind::Bundle(plan_mb, telemetry_mb_per_sim_day) => PoolKind::Bundle {
                            plan_mb,
                            telemetry_mb_per_sim_day,
                        },
                    },
                    cycle_day,
                    cycle_timezone,
                    on_cap,
                    cap_over_allowance: cap,
                    tiers,
                    zone_rates: zones,
                    roaming_share: roam,
                }
            },
        )
        .collect();
    Catalog {
        name: "diverse-spring-2027",
        id_prefix: "dev-",
        release: "4.9.0",
        start: utc(2027, 3, 14),
        deadline: utc(2027, 4, 4),
        currency: "USD",
        // A 12.8 MB telematics image (domain: ECU programs ~13 MB); deltas 6-13% between
        // consecutive versions, skip-deltas 10-30%, and the major jump 3.8.0 -> 4.0.0 at
        // 140% of the image.
        artifacts: vec![
            art(None, "4.9.0", 12_800_000, true),
            art(None, "4.6.0", 12_160_000, true),
            art(Some("4.8.0"), "4.9.0", 768_000, true),
            art(Some("4.7.0"), "4.8.0", 896_000, true),
            art(Some("4.6.0"), "4.7.0", 1_152_000, true),
            art(Some("4.5.0"), "4.6.0", 1_536_000, true),
            art(Some("4.4.0"), "4.5.0", 1_024_000, true),
            art(Some("4.3.0"), "4.4.0", 1_280_000, false),
            art(Some("4.2.0"), "4.3.0", 1_408_000, false),
            art(Some("4.1.0"), "4.2.0", 1_152_000, false),
            art(Some("4.0.0"), "4.1.0", 1_664_000, false),
            art(Some("3.8.0"), "4.0.0", 17_920_000, false),
            art(Some("4.7.0"), "4.9.0", 1_280_000, true),
            art(Some("4.5.0"), "4.9.0", 2_304_000, true),
            art(Some("4.3.0"), "4.6.0", 2_560_000, true),
            art(Some("4.0.0"), "4.5.0", 3_840_000, false),
        ],
        versions: &[
            ("4.9.0", 0.005),
            ("4.8.0", 0.30),
            ("4.7.0", 0.18),
            ("4.6.0", 0.12),
            ("4.5.0", 0.09),
            ("4.4.0", 0.07),
            ("4.3.0", 0.06),
            ("4.2.0", 0.05),
            ("4.1.0", 0.04),
            ("4.0.0", 0.04),
            ("3.8.0", 0.045),
        ],
        regions,
        pools,
        payg_pool: Some("glb-payg"),
        payg_share: 0.03,
        default_windows: &["01:00-05:00"],
        waves: vec![
            WaveSpec {
                name: "canary",
                size: WaveSize::Count(40),
                select: Some("canary"),
                region: None,
                soak_hours: Some(24),
            },
            WaveSpec {
                name: "region",
                size: WaveSize::Count(300),
                select: None,
                region: Some("de-bavaria"),
                soak_hours: Some(24),
            },
            WaveSpec {
                name: "fleet",
                size: WaveSize::Rest,
                select: None,
                region: None,
                soak_hours: None,
            },
        ],
        critical_share: 0.05,
        hub_share: 0.10,
        canary_share_at_hub: 0.5,
        nights_at_capacity: 3.0,
        coverage_days: 0,
        coverage_share: 0.05,
        overhead: 1.06,
        coverage_model: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_catalog_has_the_advertised_shape() {
        let c = catalog();
        assert_eq!((c.pools.len(), c.regions.len()), (48, 90));
        let names: BTreeSet<&str> = c.regions.iter().map(|r| r.name).collect();
        assert_eq!(names.len(), 90, "region names are unique");
        let ids: BTreeSet<&str> = c.pools.iter().map(|p| p.id).collect();
        assert_eq!(ids.len(), 48, "pool ids are unique");
        let zones: BTreeSet<&str> = c
            .regions
            .iter()
            .flat_map(|r| r.timezones.iter().map(|z| z.0))
            .collect();
        assert_eq!(zones.len(), 48);
        for z in [
            "Asia/Kolkata",
            "Asia/Kathmandu",
            "Asia/Kabul",
            "Australia/Darwin",
            "Australia/Eucla",
            "Pacific/Chatham",
            "America/St_Johns",
            "America/Santiago",
            "Australia/Sydney",
            "Pacific/Auckland",
        ] {
            assert!(zones.contains(z), "{z}");
        }
        // Every carrier a region names exists, and every pool is used by some region.
        let mut used: BTreeSet<&str> = c.payg_pool.into_iter().collect();
        for r in &c.regions {
            for (p, _) in r.pool_mix {
                assert!(ids.contains(p), "{} names unknown pool {p}", r.name);
                used.insert(p);
            }
            let w: f64 = r.pool_mix.iter().map(|(_, w)| w).sum();
            assert!(
                (w - 1.0).abs() < 1e-9,
                "{}: carrier shares sum to {w}",
                r.name
            );
            if let Some(ws) = r.windows {
                assert!(super::super::catalog::window_hours(ws) >= 3.0, "{}", r.name);
            }
        }
        assert_eq!(used, ids, "every pool has devices");
        let kinds: BTreeSet<&str> = c.pools.iter().map(|p| p.on_cap).collect();
        assert_eq!(kinds, BTreeSet::from(["overage", "pause", "throttle"]));
        let days: BTreeSet<u32> = c.pools.iter().map(|p| p.cycle_day).collect();
        assert!(days.iter().all(|d| (1..=28).contains(d)) && days.len() >= 20);
        for p in &c.pools {
            assert_eq!(
                p.on_cap != "overage",
                p.cap_over_allowance.is_some(),
                "{}",
                p.id
            );
            assert!(
                p.roaming_share == 0.0 || !p.zone_rates.is_empty(),
                "{}",
                p.id
            );
        }
        let falling = c
            .pools
            .iter()
            .filter(|p| p.tiers.windows(2).any(|t| t[1].1 < t[0].1))
            .count();
        assert!(falling >= 5, "{falling} pools with falling tiers");
        let payg = c
            .pools
            .iter()
            .filter(|p| !matches!(p.kind, PoolKind::Pooled { .. }))
            .count();
        assert_eq!(payg, 5);
        // Ten versions in the field besides the release; every one reaches the release.
        assert_eq!(c.versions.len(), 11);
        for (v, _) in c.versions {
            assert!(c.cheapest_bytes(v).is_some(), "{v}");
        }
    }

    #[test]
    fn skip_deltas_and_the_full_image_win_where_they_should() {
        let c = catalog();
        let check = |v: &str, bytes: u64| assert_eq!(c.cheapest_bytes(v), Some(bytes), "{v}");
        check("4.8.0", 768_000);
        check("4.7.0", 1_280_000);
        check("4.5.0", 2_304_000);
        check("4.3.0", 1_280_000 + 1_024_000 + 2_304_000);
        check("4.0.0", 3_840_000 + 2_304_000);
        check("3.8.0", 12_800_000);
    }
}
