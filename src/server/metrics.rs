//! Prometheus counters kept in memory: requests by method, route and status, latency
//! histograms by route, solves by outcome, and the queue's depth. Every label comes
//! from a closed set (methods the API knows or `other`; matched route templates or
//! `unmatched`), so no client can grow the series. No I/O.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    solves: Mutex<BTreeMap<&'static str, u64>>,
    pub queued: AtomicU64,
    pub solving: AtomicU64,
}

impl Metrics {
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let method = method_label(method);
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((method.to_string(), route.to_string(), status))
                .or_default() += 1;
        }
        if let Ok(mut m) = self.latency.lock() {
            let h = m.entry(route.to_string()).or_default();
            for (i, b) in BUCKETS.iter().enumerate() {
                if seconds <= *b {
                    h.counts[i] += 1;
                }
            }
            h.sum += seconds;
            h.count += 1;
        }
    }

    /// Series of `otaplan_http_requests_total` so far.
    pub fn request_series(&self) -> usize {
        self.requests.lock().map_or(0, |m| m.len())
    }

    pub fn solve(&self, outcome: &'static str) {
        if let Ok(mut m) = self.solves.lock() {
            *m.entry(outcome).or_default() += 1;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP otaplan_http_requests_total HTTP requests by method, route and status.\n# TYPE otaplan_http_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for ((method, route, status), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "otaplan_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP otaplan_http_request_duration_seconds HTTP request latency by route.\n# TYPE otaplan_http_request_duration_seconds histogram\n");
        if let Ok(m) = self.latency.lock() {
            for (route, h) in m.iter() {
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "otaplan_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "otaplan_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\notaplan_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\notaplan_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.count, h.sum, h.count
                );
            }
        }
        out.push_str("# HELP otaplan_solves_total Finished solves by outcome.\n# TYPE otaplan_solves_total counter\n");
        if let Ok(m) = self.solves.lock() {
            for (outcome, n) in m.iter() {
                let _ = writeln!(out, "otaplan_solves_total{{outcome=\"{outcome}\"}} {n}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP otaplan_queue_depth Plans waiting for a solver.\n# TYPE otaplan_queue_depth gauge\notaplan_queue_depth {}\n# HELP otaplan_solving Plans being solved.\n# TYPE otaplan_solving gauge\notaplan_solving {}",
            self.queued.load(Ordering::Relaxed),
            self.solving.load(Ordering::Relaxed)
        );
        out
    }
}

/// The method as a label: the standard methods by name, anything else `other`.
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}
