//! What one download costs in bytes and how likely it is to finish: the expected billed
//! bytes of a payload under a drop hazard (restarts for non-resumable artifacts, a small
//! overhead per resume for resumable ones, protocol overhead on top), how long it takes
//! at a throughput, and its chance of success. The one definition every step uses
//! (payload choice, LP coefficients, plan rows, baselines). Pure.

use crate::domain::Artifact;

/// Packet headers on the wire: ~50 B per 1,280 B packet, about 4% (domain.md).
pub const PROTOCOL_OVERHEAD: f64 = 0.04;
/// Bytes re-sent per resume of a resumable download: the partially received block
/// (HTTP range / CoAP block of up to 16 KiB) plus a TLS session resumption.
pub const RESUME_OVERHEAD_BYTES: f64 = 20_000.0;

/// Hours to move `bytes` at `throughput_kbps` (1 kbps = 1000 bit/s).
pub fn hours_for(bytes: f64, throughput_kbps: f64) -> f64 {
    bytes * 8.0 / (throughput_kbps.max(1e-9) * 1000.0) / 3600.0
}

/// (e^{x} − 1) / x, stable near zero: the expected multiple of a non-resumable payload's
/// bytes downloaded when each drop (hazard h per hour, download lasting d hours, x = hd)
/// restarts it from zero.
pub fn restart_factor(x: f64) -> f64 {
    if x < 1e-6 {
        1.0 + x / 2.0
    } else {
        x.exp_m1() / x
    }
}

/// Conditions a download runs under.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conditions {
    /// Downlink rate assumed (the lowest over the window's hours).
    pub throughput_kbps: f64,
    /// Session drops per online hour (mean over the window's hours).
    pub drop_rate_per_hour: f64,
    /// Chance the device is online (mean over the window's hours).
    pub p_online: f64,
}

/// Expected billed bytes of downloading one artifact under `c`, protocol overhead
/// included. Never below the artifact's size.
pub fn expected_artifact_bytes(a: &Artifact, c: &Conditions) -> f64 {
    let size = a.size.0 as f64;
    let d = hours_for(size, c.throughput_kbps);
    let drops = c.drop_rate_per_hour.max(0.0) * d;
    let wire = if a.resumable {
        size + drops * RESUME_OVERHEAD_BYTES
    } else {
        size * restart_factor(drops)
    };
    wire * (1.0 + PROTOCOL_OVERHEAD)
}

/// Expected billed bytes of a payload (its artifacts downloaded in order).
pub fn expected_payload_bytes(artifacts: &[Artifact], steps: &[usize], c: &Conditions) -> f64 {
    steps
        .iter()
        .map(|&i| expected_artifact_bytes(&artifacts[i], c))
        .sum()
}

/// Hours a payload needs on the wire at `c.throughput_kbps` (without retries: the window
/// must at least hold the payload once, as the contract's invariant 3 says).
pub fn payload_hours(artifacts: &[Artifact], steps: &[usize], throughput_kbps: f64) -> f64 {
    let bytes: f64 = steps.iter().map(|&i| artifacts[i].size.0 as f64).sum();
    hours_for(bytes, throughput_kbps)
}

/// Chance the download completes in its window: the device must be online, and a
/// non-resumable artifact must not drop (a drop restarts it and the window, sized for
/// one pass, cannot hold the restart). Resumable artifacts survive drops.
pub fn p_success(artifacts: &[Artifact], steps: &[usize], c: &Conditions) -> f64 {
    let mut p = c.p_online.clamp(0.0, 1.0);
    for &i in steps {
        let a = &artifacts[i];
        if !a.resumable {
            p *= (-c.drop_rate_per_hour.max(0.0) * hours_for(a.size.0 as f64, c.throughput_kbps))
                .exp();
        }
    }
    p.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Bytes;

    fn art(size: u64, resumable: bool) -> Artifact {
        Artifact {
            from: None,
            to: "2".into(),
            size: Bytes(size),
            resumable,
        }
    }

    #[test]
    fn no_drops_costs_size_plus_overhead() {
        let c = Conditions {
            throughput_kbps: 20.0,
            drop_rate_per_hour: 0.0,
            p_online: 1.0,
        };
        let a = art(5_000_000, false);
        assert!((expected_artifact_bytes(&a, &c) - 5_200_000.0).abs() < 1e-6);
        assert_eq!(p_success(&[a], &[0], &c), 1.0);
    }

    #[test]
    fn restarts_cost_the_exponential_factor() {
        // 5 MB at 20 kbps = 2000 s = 0.5556 h; hazard 1/h -> x = 0.5556.
        let c = Conditions {
            throughput_kbps: 20.0,
            drop_rate_per_hour: 1.0,
            p_online: 1.0,
        };
        let a = art(5_000_000, false);
        let x: f64 = 5_000_000.0 * 8.0 / 20_000.0 / 3600.0;
        let expect = 5_000_000.0 * (x.exp() - 1.0) / x * 1.04;
        assert!((expected_artifact_bytes(&a, &c) - expect).abs() < 1e-3);
        let r = art(5_000_000, true);
        assert!(expected_artifact_bytes(&r, &c) < expected_artifact_bytes(&a, &c));
        assert!(expected_artifact_bytes(&r, &c) >= 5_000_000.0);
        assert!((p_success(&[a], &[0], &c) - (-x).exp()).abs() < 1e-12);
    }

    #[test]
    fn restart_factor_is_continuous_at_zero() {
        assert!((restart_factor(1e-7) - restart_factor(2e-6)).abs() < 1e-5);
        assert_eq!(restart_factor(0.0), 1.0);
    }
}
