//! Payloads: the ways a device can get from its current version to the release — the
//! release's full image, or any chain of deltas, possibly starting with the full image
//! of an intermediate version — and the cheapest of them under a per-artifact cost.
//! A payload is its [`Steps`] (artifact indices in download order) from the planner to
//! the simulator; the contract's label (`full`, `full@V>W`, `A>B>C`) is only rendered
//! ([`Steps::label`]) and parsed back ([`Steps::parse`]) at the plan.csv edge.
//! Pure; no I/O.

use crate::domain::Artifact;
use crate::units::Bytes;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// The artifacts a payload downloads, in order: indices into the scenario's artifacts.
/// Cloning shares the list, so every plan row of a cohort holds its steps without
/// allocating.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Steps(Arc<[usize]>);

impl Steps {
    pub fn new(steps: Vec<usize>) -> Steps {
        Steps(steps.into())
    }

    pub fn as_slice(&self) -> &[usize] {
        &self.0
    }

    /// The contract's payload string: `full` (the release's full image alone),
    /// `full@2.3.0>2.4.0` (the full image of an intermediate version, then deltas),
    /// `2.2.0>2.3.0>2.4.0` (deltas from the device's version).
    pub fn label<'a>(&'a self, artifacts: &'a [Artifact]) -> Label<'a> {
        Label {
            steps: &self.0,
            artifacts,
        }
    }

    /// The steps a payload label names for a device on `current`: the inverse of
    /// [`Steps::label`] (and `full@<release>` means `full`). The one parser of labels,
    /// for plans read back from disk.
    pub fn parse(
        artifacts: &[Artifact],
        release: &str,
        current: &str,
        label: &str,
    ) -> Result<Steps, LabelError> {
        let find = |from: Option<&str>, to: &str| {
            artifacts
                .iter()
                .position(|a| a.from.as_deref() == from && a.to == to)
                .ok_or_else(|| LabelError::NoArtifact {
                    from: from.map(str::to_string),
                    to: to.to_string(),
                })
        };
        if label == "full" {
            return Ok(Steps::new(vec![find(None, release)?]));
        }
        let mut parts = label.split('>');
        let first = parts.next().unwrap_or_default();
        let mut steps = Vec::new();
        let mut at = if let Some(v) = first.strip_prefix("full@") {
            steps.push(find(None, v)?);
            v
        } else if first == current {
            first
        } else {
            return Err(LabelError::NotFromCurrent {
                start: first.to_string(),
                current: current.to_string(),
            });
        };
        for v in parts {
            steps.push(find(Some(at), v)?);
            at = v;
        }
        if steps.is_empty() || at != release {
            return Err(LabelError::NotToRelease {
                end: at.to_string(),
                release: release.to_string(),
            });
        }
        Ok(Steps::new(steps))
    }
}

impl Deref for Steps {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        &self.0
    }
}

/// Why a payload label names no payload of the device (see [`Steps::parse`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LabelError {
    #[error("{}", match from {
        Some(from) => format!("no artifact leads from {from} to {to}"),
        None => format!("no artifact is a full image of {to}"),
    })]
    NoArtifact { from: Option<String>, to: String },
    #[error("it starts at {start}, not at the device's current version {current}")]
    NotFromCurrent { start: String, current: String },
    #[error("it ends at {end}, not at the release {release}")]
    NotToRelease { end: String, release: String },
}

impl LabelError {
    /// This error as found in `file` at `row` of its `payload` column.
    pub fn diagnostic(&self, file: &str, row: usize, label: &str) -> crate::diag::Diagnostic {
        crate::diag::Diagnostic::error(
            file,
            format!("payload is not a chain of the scenario's artifacts to the release: {self}"),
        )
        .row(row)
        .column("payload")
        .value(label)
    }
}

/// A payload's label, rendered on demand (see [`Steps::label`]).
pub struct Label<'a> {
    steps: &'a [usize],
    artifacts: &'a [Artifact],
}

impl fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(&first) = self.steps.first() else {
            return Ok(());
        };
        let first = &self.artifacts[first];
        match &first.from {
            None if self.steps.len() == 1 => return f.write_str("full"),
            None => write!(f, "full@{}", first.to)?,
            Some(from) => write!(f, "{from}>{}", first.to)?,
        }
        for &i in &self.steps[1..] {
            write!(f, ">{}", self.artifacts[i].to)?;
        }
        Ok(())
    }
}

/// A chosen way to the release: the artifacts downloaded in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    pub steps: Steps,
    /// Sum of the artifacts' sizes.
    pub bytes: Bytes,
}

#[derive(PartialEq)]
struct State {
    cost: f64,
    node: usize,
}
impl Eq for State {}
impl Ord for State {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .cost
            .total_cmp(&self.cost)
            .then_with(|| other.node.cmp(&self.node))
    }
}
impl PartialOrd for State {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A version graph over a scenario's artifacts, built once and queried per version.
#[derive(Debug, Clone)]
pub struct VersionGraph<'a> {
    artifacts: &'a [Artifact],
    release: String,
    /// Version name → node (node 0 is "nothing yet", the source of full images).
    nodes: BTreeMap<&'a str, usize>,
    /// Outgoing (artifact index, to-node) per node.
    out: Vec<Vec<(usize, usize)>>,
}

impl<'a> VersionGraph<'a> {
    pub fn new(artifacts: &'a [Artifact], release: &str) -> VersionGraph<'a> {
        let mut nodes: BTreeMap<&'a str, usize> = BTreeMap::new();
        let mut next = 1;
        for a in artifacts {
            for v in a.from.as_deref().into_iter().chain([a.to.as_str()]) {
                nodes.entry(v).or_insert_with(|| {
                    next += 1;
                    next - 1
                });
            }
        }
        let mut out = vec![Vec::new(); next];
        for (i, a) in artifacts.iter().enumerate() {
            let from = a.from.as_deref().map_or(0, |f| nodes[f]);
            out[from].push((i, nodes[a.to.as_str()]));
        }
        VersionGraph {
            artifacts,
            release: release.to_string(),
            nodes,
            out,
        }
    }

    /// The cheapest payload from `current` to the release, where downloading artifact `i`
    /// costs `cost(i)` (non-negative). A device may always take a full image, so the
    /// search starts from both its version and the "nothing" node. Ties go to fewer bytes,
    /// then to fewer steps. `None` when nothing reaches the release.
    pub fn cheapest(&self, current: &str, cost: impl Fn(usize) -> f64) -> Option<Payload> {
        let target = *self.nodes.get(self.release.as_str())?;
        let n = self.out.len();
        // (cost, bytes, steps) lexicographic distance.
        let mut best: Vec<Option<(f64, u64, usize)>> = vec![None; n];
        let mut prev: Vec<Option<(usize, usize)>> = vec![None; n]; // (artifact, from-node)
        let mut heap = BinaryHeap::new();
        let mut seed = |node: usize, heap: &mut BinaryHeap<State>| {
            best[node] = Some((0.0, 0, 0));
            heap.push(State { cost: 0.0, node });
        };
        seed(0, &mut heap);
        if let Some(&c) = self.nodes.get(current) {
            seed(c, &mut heap);
        }
        let better = |a: (f64, u64, usize), b: Option<(f64, u64, usize)>| match b {
            None => true,
            Some(b) => {
                let tol = 1e-9 * a.0.abs().max(b.0.abs()).max(1.0);
                if (a.0 - b.0).abs() > tol {
                    a.0 < b.0
                } else {
                    (a.1, a.2) < (b.1, b.2)
                }
            }
        };
        while let Some(State { cost: c, node }) = heap.pop() {
            let Some(cur) = best[node] else { continue };
            if c > cur.0 {
                continue;
            }
            for &(ai, to) in &self.out[node] {
                let w = cost(ai).max(0.0);
                let cand = (cur.0 + w, cur.1 + self.artifacts[ai].size.0, cur.2 + 1);
                if better(cand, best[to]) {
                    best[to] = Some(cand);
                    prev[to] = Some((ai, node));
                    heap.push(State {
                        cost: cand.0,
                        node: to,
                    });
                }
            }
        }
        best[target]?;
        if self.nodes.get(current) == Some(&target) {
            return None; // already on release: nothing to download
        }
        let mut steps = Vec::new();
        let mut node = target;
        while let Some((ai, from)) = prev[node] {
            steps.push(ai);
            node = from;
            if node == 0 || Some(&node) == self.nodes.get(current) {
                break;
            }
        }
        steps.reverse();
        let bytes = Bytes(steps.iter().map(|&i| self.artifacts[i].size.0).sum());
        Some(Payload {
            steps: Steps::new(steps),
            bytes,
        })
    }

    /// True when some payload leads from `current` to the release.
    pub fn reaches_release(&self, current: &str) -> bool {
        current == self.release
            || self
                .cheapest(current, |i| self.artifacts[i].size.0 as f64)
                .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(from: Option<&str>, to: &str, size: u64) -> Artifact {
        Artifact {
            from: from.map(String::from),
            to: to.into(),
            size: Bytes(size),
            resumable: true,
        }
    }

    fn check(arts: &[Artifact], current: &str, expected: Option<(&str, u64)>) {
        let g = VersionGraph::new(arts, "2.4.0");
        let got = g.cheapest(current, |i| arts[i].size.0 as f64);
        assert_eq!(
            got.map(|p| (p.steps.label(arts).to_string(), p.bytes.0)),
            expected.map(|(l, b)| (l.to_string(), b))
        );
    }

    #[test]
    fn cheapest_payloads() {
        let arts = vec![
            a(None, "2.4.0", 1000),
            a(None, "2.3.0", 950),
            a(Some("2.2.0"), "2.3.0", 100),
            a(Some("2.3.0"), "2.4.0", 50),
            a(Some("1.9.0"), "2.4.0", 1400),
        ];
        check(&arts, "2.2.0", Some(("2.2.0>2.3.0>2.4.0", 150)));
        check(&arts, "2.3.0", Some(("2.3.0>2.4.0", 50)));
        // The major jump's delta is larger than the full image.
        check(&arts, "1.9.0", Some(("full", 1000)));
        check(&arts, "0.1.0", Some(("full", 1000)));
        check(&arts, "2.4.0", None);
    }

    #[test]
    fn full_image_of_an_intermediate_version() {
        let arts = vec![
            a(None, "2.4.0", 1000),
            a(None, "2.3.0", 500),
            a(Some("2.3.0"), "2.4.0", 50),
        ];
        check(&arts, "1.0.0", Some(("full@2.3.0>2.4.0", 550)));
    }

    #[test]
    fn no_way_to_release() {
        let arts = vec![a(Some("2.3.0"), "2.4.0", 50)];
        check(&arts, "2.2.0", None);
        let g = VersionGraph::new(&arts, "2.4.0");
        assert!(g.reaches_release("2.3.0"));
        assert!(!g.reaches_release("2.2.0"));
    }

    #[test]
    fn labels_parse_back_or_say_why_not() {
        let arts = vec![
            a(None, "2.4.0", 1000),
            a(None, "2.3.0", 500),
            a(Some("2.2.0"), "2.3.0", 100),
            a(Some("2.3.0"), "2.4.0", 50),
        ];
        let parse = |current: &str, label: &str| {
            Steps::parse(&arts, "2.4.0", current, label).map(|s| s.to_vec())
        };
        assert_eq!(parse("1.0.0", "full"), Ok(vec![0]));
        assert_eq!(parse("1.0.0", "full@2.4.0"), Ok(vec![0]));
        assert_eq!(parse("1.0.0", "full@2.3.0>2.4.0"), Ok(vec![1, 3]));
        assert_eq!(parse("2.2.0", "2.2.0>2.3.0>2.4.0"), Ok(vec![2, 3]));
        assert_eq!(
            parse("2.3.0", "2.2.0>2.3.0>2.4.0"),
            Err(LabelError::NotFromCurrent {
                start: "2.2.0".into(),
                current: "2.3.0".into()
            })
        );
        assert_eq!(
            parse("2.2.0", "2.2.0>2.4.0"),
            Err(LabelError::NoArtifact {
                from: Some("2.2.0".into()),
                to: "2.4.0".into()
            })
        );
        assert_eq!(
            parse("1.0.0", "full@2.3.0"),
            Err(LabelError::NotToRelease {
                end: "2.3.0".into(),
                release: "2.4.0".into()
            })
        );
        assert_eq!(
            parse("2.2.0", "2.2.0"),
            Err(LabelError::NotToRelease {
                end: "2.2.0".into(),
                release: "2.4.0".into()
            })
        );
        assert!(parse("1.0.0", "").is_err());
        let d = parse("2.2.0", "2.2.0>2.4.0")
            .unwrap_err()
            .diagnostic("plan.csv", 3, "2.2.0>2.4.0");
        assert_eq!(
            (d.row, d.column.as_deref(), d.value.as_deref()),
            (Some(3), Some("payload"), Some("2.2.0>2.4.0"))
        );
        assert!(
            d.message.contains("no artifact leads from 2.2.0 to 2.4.0"),
            "{}",
            d.message
        );
    }

    const VERSIONS: [&str; 5] = ["1.0", "1.1", "2.0", "2.1", "3.0"];

    /// Artifacts over [`VERSIONS`] (release "3.0"), one per (from, to) pair.
    fn graph(edges: &[(Option<usize>, usize, u64)]) -> Vec<Artifact> {
        let mut seen = std::collections::BTreeSet::new();
        edges
            .iter()
            .filter(|(f, t, _)| *f != Some(*t) && seen.insert((*f, *t)))
            .map(|&(f, t, size)| a(f.map(|f| VERSIONS[f]), VERSIONS[t], size))
            .collect()
    }

    proptest::proptest! {
        /// Every payload the planner can choose, and every other chain to the release,
        /// renders to a label that parses back to the same steps.
        #[test]
        fn label_round_trips(
            edges in proptest::collection::vec(
                (proptest::option::of(0..5usize), 0..5usize, 1..2000u64), 1..14),
            costs in proptest::collection::vec(0.0..10.0f64, 14),
            current in 0..4usize,
            walk in proptest::collection::vec(0..8usize, 1..7),
            full_first: bool,
        ) {
            let arts = graph(&edges);
            let current = VERSIONS[current];
            let round_trip = |steps: &Steps| {
                let label = steps.label(&arts).to_string();
                let parsed = Steps::parse(&arts, "3.0", current, &label);
                proptest::prop_assert_eq!(parsed.as_ref(), Ok(steps), "{}", label);
                Ok(())
            };
            let g = VersionGraph::new(&arts, "3.0");
            if let Some(p) = g.cheapest(current, |i| costs[i]) {
                round_trip(&p.steps)?;
            }
            // A walk: each pick is an index among the artifacts leaving where it is.
            let mut at: Option<&str> = (!full_first).then_some(current);
            let mut steps = Vec::new();
            for k in walk {
                let out: Vec<usize> =
                    (0..arts.len()).filter(|&i| arts[i].from.as_deref() == at).collect();
                if out.is_empty() {
                    break;
                }
                let i = out[k % out.len()];
                steps.push(i);
                at = Some(arts[i].to.as_str());
                if at == Some("3.0") {
                    round_trip(&Steps::new(steps.clone()))?;
                }
            }
        }
    }
}
