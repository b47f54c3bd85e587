//! Payloads: the ways a device can get from its current version to the release — the
//! release's full image, or any chain of deltas, possibly starting with the full image
//! of an intermediate version — and the cheapest of them under a per-artifact cost.
//! Pure; no I/O.

use crate::domain::Artifact;
use crate::units::Bytes;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

/// A chosen way to the release: the artifacts downloaded in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    /// Indices into the scenario's artifacts, in download order.
    pub steps: Vec<usize>,
    /// The contract's payload string: `full`, `2.2.0>2.3.0>2.4.0`, `full@2.3.0>2.4.0`.
    pub label: String,
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
            label: self.label(current, &steps),
            steps,
            bytes,
        })
    }

    fn label(&self, current: &str, steps: &[usize]) -> String {
        let first = &self.artifacts[steps[0]];
        if first.from.is_none() {
            if first.to == self.release {
                return "full".to_string();
            }
            let mut s = format!("full@{}", first.to);
            for &i in &steps[1..] {
                s.push('>');
                s.push_str(&self.artifacts[i].to);
            }
            return s;
        }
        let mut s = current.to_string();
        for &i in steps {
            s.push('>');
            s.push_str(&self.artifacts[i].to);
        }
        s
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
            got.map(|p| (p.label, p.bytes.0)),
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
}
