//! The compatibility proof: in every order the task graph allows, every
//! node runs a release whose range contains every schema point it can meet.
//!
//! Orders are not enumerated. A node rolled by tasks `r1` (A → B) then `r2`
//! (B → C) runs B from the start of `r1` to the end of `r2`. B can meet a
//! point unless the point is left by an ancestor of `r1` (it is over before
//! `r1` can start) or entered by a descendant of `r2` (it cannot begin
//! before `r2` is over). Before its first rollout a node runs its first
//! release from the start of the run; after its last, its last release to
//! the end. Reachability in the DAG gives both sets: one traversal per
//! rollout task, so the proof is polynomial.

pub mod writes;

use std::collections::{BTreeMap, HashSet};

use petgraph::graph::NodeIndex;
use petgraph::visit::{Dfs, Reversed};
use serde::Serialize;

use crate::graph::{TaskGraph, TaskId, TaskKind};
use crate::plan::{ReleaseRange, Releases, SchemaPoint};

/// What one release of one group was checked against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReleaseCheck {
    pub group: String,
    pub release: String,
    /// The declared range, when `releases.yaml` has the release.
    pub range: Option<ReleaseRange>,
    /// Every point a node of the group may meet while running the release.
    pub meets: Vec<SchemaPoint>,
    /// The rollout that starts it (`None`: running when the run starts).
    pub from_task: Option<TaskId>,
    /// The rollout that ends it (`None`: still running after the run).
    pub until_task: Option<TaskId>,
}

/// A point a release may meet but does not support.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub group: String,
    pub release: String,
    pub range: ReleaseRange,
    pub point: SchemaPoint,
    /// The rollout task whose position allows it.
    pub rollout: TaskId,
    /// The schema task (milestone) that enters or leaves the point.
    pub schema_task: TaskId,
    pub explanation: String,
}

/// A release the fleet names but `releases.yaml` does not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnknownRelease {
    pub group: String,
    pub release: String,
}

/// The outcome of the proof.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Proof {
    pub checks: Vec<ReleaseCheck>,
    pub conflicts: Vec<Conflict>,
    pub unknown: Vec<UnknownRelease>,
}

impl Proof {
    pub fn holds(&self) -> bool {
        self.conflicts.is_empty() && self.unknown.is_empty()
    }
}

fn reachable(graph: &TaskGraph, from: NodeIndex, backwards: bool) -> HashSet<NodeIndex> {
    let mut seen = HashSet::new();
    if backwards {
        let rev = Reversed(&graph.graph);
        let mut dfs = Dfs::new(rev, from);
        while let Some(n) = dfs.next(rev) {
            seen.insert(n);
        }
    } else {
        let mut dfs = Dfs::new(&graph.graph, from);
        while let Some(n) = dfs.next(&graph.graph) {
            seen.insert(n);
        }
    }
    seen.remove(&from);
    seen
}

/// Prove the graph safe for the fleet it rolls. `base` is the point the
/// run starts from.
pub fn prove(graph: &TaskGraph, base: SchemaPoint, releases: &Releases) -> Proof {
    let spans = graph.points(base);
    // The rollouts of each group, in order, across versions.
    let mut by_group: BTreeMap<String, Vec<NodeIndex>> = BTreeMap::new();
    for &ix in &graph.order {
        if let TaskKind::Rollout(r) = &graph.task(ix).kind {
            by_group.entry(r.group.clone()).or_default().push(ix);
        }
    }
    let mut proof = Proof::default();
    for (group, rollouts) in by_group {
        // Batches of one group in one version share a release change; the
        // segments of a node are delimited by each of its rollout tasks.
        // Checking every batch is needed: each batch has its own position.
        let mut cache: BTreeMap<NodeIndex, (HashSet<NodeIndex>, HashSet<NodeIndex>)> =
            BTreeMap::new();
        let mut reach = |ix: NodeIndex| -> (HashSet<NodeIndex>, HashSet<NodeIndex>) {
            cache
                .entry(ix)
                .or_insert_with(|| (reachable(graph, ix, true), reachable(graph, ix, false)))
                .clone()
        };
        // Per node, the chain of its rollouts.
        let mut chains: BTreeMap<String, Vec<NodeIndex>> = BTreeMap::new();
        for &ix in &rollouts {
            if let TaskKind::Rollout(r) = &graph.task(ix).kind {
                for node in &r.nodes {
                    chains.entry(node.clone()).or_default().push(ix);
                }
            }
        }
        let mut seen_checks: HashSet<(String, Option<NodeIndex>, Option<NodeIndex>)> =
            HashSet::new();
        for chain in chains.values() {
            let rel = |ix: NodeIndex| match &graph.task(ix).kind {
                TaskKind::Rollout(r) => (r.from_release.clone(), r.to_release.clone()),
                _ => unreachable!("chains hold rollout tasks only"),
            };
            // Segments: (release, started by, ended by).
            let mut segments: Vec<(String, Option<NodeIndex>, Option<NodeIndex>)> = Vec::new();
            segments.push((rel(chain[0]).0, None, Some(chain[0])));
            for (i, &r) in chain.iter().enumerate() {
                segments.push((rel(r).1, Some(r), chain.get(i + 1).copied()));
            }
            for (release, start, end) in segments {
                if !seen_checks.insert((release.clone(), start, end)) {
                    continue;
                }
                let ancestors_of_start = start.map(|s| reach(s).0);
                let descendants_of_end = end.map(|e| reach(e).1);
                let mut meets = Vec::new();
                let mut blame = Vec::new();
                for span in &spans {
                    // Over before the release can start?
                    if let (Some(anc), Some(left)) = (&ancestors_of_start, span.left_by) {
                        if anc.contains(&left) {
                            continue;
                        }
                    }
                    // Cannot begin before the release is gone?
                    if let (Some(desc), Some(entered)) = (&descendants_of_end, span.entered_by) {
                        if desc.contains(&entered) {
                            continue;
                        }
                    }
                    meets.push(span.point);
                    blame.push(*span);
                }
                let range = releases.ranges.get(&release).map(|(r, _)| *r);
                match range {
                    None => {
                        let u = UnknownRelease {
                            group: group.clone(),
                            release: release.clone(),
                        };
                        if !proof.unknown.contains(&u) {
                            proof.unknown.push(u);
                        }
                    }
                    Some(range) => {
                        for span in &blame {
                            if range.contains(span.point) {
                                continue;
                            }
                            // Name the rollout that allows the overlap and
                            // the schema task that makes it.
                            let above = span.point > range.end.unwrap_or(span.point);
                            let (rollout, schema_task, explanation) = if let (true, Some(t)) =
                                (above, span.entered_by)
                            {
                                match end {
                                    Some(r) => (
                                        r,
                                        t,
                                        format!(
                                            "{} is not after {} in the graph, so release {release} may still run when the schema reaches {}",
                                            graph.task(t).id,
                                            graph.task(r).id,
                                            span.point
                                        ),
                                    ),
                                    None => {
                                        let r = start.expect("a rolled node has a rollout");
                                        (
                                            r,
                                            t,
                                            format!(
                                                "no later rollout replaces release {release}, so it still runs when {} reaches {}",
                                                graph.task(t).id,
                                                span.point
                                            ),
                                        )
                                    }
                                }
                            } else {
                                match (start, span.left_by) {
                                    (Some(r), Some(t)) => (
                                        r,
                                        t,
                                        format!(
                                            "{} is not before {} in the graph, so release {release} may start while the schema is still at {}",
                                            graph.task(t).id,
                                            graph.task(r).id,
                                            span.point
                                        ),
                                    ),
                                    _ => {
                                        // The release runs at the start of the run
                                        // and the start point is below its range.
                                        let r = end.or(start).expect("a rolled node has a rollout");
                                        let t = span.left_by.or(span.entered_by).unwrap_or(r);
                                        (
                                            r,
                                            t,
                                            format!(
                                                "release {release} runs when the run starts, at {}, below its range",
                                                span.point
                                            ),
                                        )
                                    }
                                }
                            };
                            let c = Conflict {
                                group: group.clone(),
                                release: release.clone(),
                                range,
                                point: span.point,
                                rollout: graph.task(rollout).id.clone(),
                                schema_task: graph.task(schema_task).id.clone(),
                                explanation,
                            };
                            if !proof.conflicts.contains(&c) {
                                proof.conflicts.push(c);
                            }
                        }
                    }
                }
                let check = ReleaseCheck {
                    group: group.clone(),
                    release,
                    range,
                    meets,
                    from_task: start.map(|s| graph.task(s).id.clone()),
                    until_task: end.map(|e| graph.task(e).id.clone()),
                };
                if !proof.checks.contains(&check) {
                    proof.checks.push(check);
                }
            }
        }
    }
    proof
}
