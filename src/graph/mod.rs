//! The task graph: every action, backfill, gate and node rollout of the
//! pending plans as a petgraph DAG with stable task IDs.
//!
//! Per version the tasks sit between milestone tasks that mark the schema
//! points (DESIGN.md):
//!
//! ```text
//! v2/expand ─▶ expand actions ─▶ v2/expanded ─▶ migrate actions ─▶ v2/migrate
//!   ─▶ node rollouts ─▶ gates ─▶ v2/contract ─▶ contract actions ─▶ v2/done ─▶ v3/expand …
//! ```
//!
//! `v2/expand` enters point `2.expand`, `v2/migrate` enters `2.migrate`,
//! `v2/contract` enters `2`; `v2/expanded` and `v2/done` are barriers.
//!
//! The rollout stage, with the plan's and the groups' hooks (each optional):
//!
//! ```text
//! v2/migrate ─▶ v2/rollout/before ─▶ v2/rollout/api/before ─▶ v2/rollout/api/1 ─▶ …
//!   ─▶ v2/rollout/api/{last} ─▶ v2/rollout/api/after ─▶ v2/rollout/after ─▶ gates
//! ```
//!
//! A group with `after: [web]` starts (its before hook, else its first
//! batch) once `web` has ended (its after hook, else its last batch).
//! Within a phase, an action waits for the previous action of the same
//! operation, for the previous action on the same table (DDL on one table
//! would only queue on its locks), and for the actions that create what it
//! needs (a table before its index, a referenced table before a foreign key).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fmt;
use std::time::Duration;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use serde::Serialize;

use crate::ops::{Action, CheckKind, ObjectRef, Step, Symbol};
use crate::plan::{FleetGroup, Hooks, Phase, SchemaPoint};

/// A task's stable ID, derived from the plan's content (version, phase,
/// operation and object names), never from positions: the state file and
/// the database's history table refer to tasks by it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TaskId(pub String);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a task sits in its version's run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Expand,
    Migrate,
    Rollout,
    Gate,
    Contract,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Expand => "expand",
            Stage::Migrate => "migrate",
            Stage::Rollout => "rollout",
            Stage::Gate => "gate",
            Stage::Contract => "contract",
        }
    }
}

/// Marks on the schema's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Milestone {
    /// From here on the database is at this point (or on its way to it).
    Enter { point: SchemaPoint },
    /// Every task of the stage before is done.
    Barrier,
}

/// One batch of nodes of a fleet group, rolled from one release to the next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rollout {
    pub group: String,
    /// 1-based batch number within the group.
    pub batch: usize,
    pub batches: usize,
    pub nodes: Vec<String>,
    pub from_release: String,
    pub to_release: String,
    pub drain: Vec<String>,
    pub upgrade: Vec<String>,
    pub health: Vec<String>,
    pub rollback: Vec<String>,
    #[serde(with = "duration_secs")]
    pub timeout: Duration,
    /// Pause between health attempts.
    #[serde(with = "duration_secs")]
    pub health_interval: Duration,
    /// Health must pass this long without a failure.
    #[serde(with = "duration_secs")]
    pub min_healthy: Duration,
    /// A node not healthy for `min_healthy` this long after its upgrade is
    /// rolled back.
    #[serde(with = "duration_secs")]
    pub health_deadline: Duration,
}

/// Whether a hook runs before or after what it surrounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HookWhen {
    Before,
    After,
}

impl HookWhen {
    pub fn name(self) -> &'static str {
        match self {
            HookWhen::Before => "before",
            HookWhen::After => "after",
        }
    }
}

/// A user command run around a rollout: the plan's hooks surround every
/// group of the version, a group's hooks surround its batches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hook {
    /// The group; `None`: a hook of the plan.
    pub group: Option<String>,
    pub when: HookWhen,
    pub argv: Vec<String>,
    /// The group's releases (group hooks only).
    pub from_release: Option<String>,
    pub to_release: Option<String>,
    #[serde(with = "duration_secs")]
    pub timeout: Duration,
}

mod duration_secs {
    use serde::Serializer;
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

/// What a task does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TaskKind {
    Milestone(Milestone),
    Action { step: Step },
    Rollout(Rollout),
    Hook(Hook),
}

/// Where a task comes from in the plan files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Origin {
    /// `changes:` entry `index` (1-based) of plan `version`.
    Change { version: u32, index: usize },
    /// `backfills:` entry `index` of plan `version`.
    Backfill { version: u32, index: usize },
    /// A fleet group of plan `version`.
    Fleet { version: u32, group: String },
    /// The `hooks:` of plan `version`, around its whole rollout.
    Hooks { version: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Task {
    pub id: TaskId,
    /// The version whose run the task belongs to.
    pub version: u32,
    pub stage: Stage,
    pub symbol: Option<Symbol>,
    pub summary: String,
    pub kind: TaskKind,
    pub origin: Option<Origin>,
    /// What the task brings into existence: `abort` removes it again.
    pub creates: Vec<ObjectRef>,
}

impl Task {
    pub fn is_milestone(&self) -> bool {
        matches!(self.kind, TaskKind::Milestone(_))
    }
}

/// An action with where it came from, as the planner hands it to the graph.
#[derive(Clone, Debug)]
pub struct SourcedAction {
    pub action: Action,
    pub origin: Origin,
    /// `kind/subject` of the operation (or backfill) the action belongs to:
    /// with the version, phase and action key, the task ID.
    pub owner: String,
}

/// One version's worth of work.
#[derive(Clone, Debug)]
pub struct VersionWork<'a> {
    pub version: u32,
    /// Actions in plan order (deferred contract actions of earlier plans
    /// included, in this version's contract).
    pub actions: Vec<SourcedAction>,
    pub fleet: &'a [FleetGroup],
    /// The plan's hooks around the rollout.
    pub hooks: &'a Hooks,
}

/// A problem building the graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GraphError {
    DuplicateId {
        id: TaskId,
        first: Option<Origin>,
        second: Option<Origin>,
    },
    Cycle {
        among: Vec<TaskId>,
    },
}

/// The milestones of one version, by role.
#[derive(Clone, Copy, Debug)]
pub struct VersionMilestones {
    pub expand: NodeIndex,
    pub expanded: NodeIndex,
    pub migrate: NodeIndex,
    pub contract: NodeIndex,
    pub done: NodeIndex,
}

/// The checked DAG of tasks.
#[derive(Clone, Debug)]
pub struct TaskGraph {
    pub graph: DiGraph<Task, ()>,
    pub by_id: HashMap<TaskId, NodeIndex>,
    pub milestones: BTreeMap<u32, VersionMilestones>,
    /// A topological order, stable (ties broken by creation order).
    pub order: Vec<NodeIndex>,
}

impl TaskGraph {
    pub fn task(&self, ix: NodeIndex) -> &Task {
        &self.graph[ix]
    }

    /// Tasks in execution order.
    pub fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.order.iter().map(|ix| &self.graph[*ix])
    }

    /// The IDs of the tasks a task waits for.
    pub fn dependencies(&self, ix: NodeIndex) -> Vec<&TaskId> {
        let mut deps: Vec<NodeIndex> = self
            .graph
            .edges_directed(ix, Direction::Incoming)
            .map(|e| e.source())
            .collect();
        deps.sort();
        deps.into_iter().map(|d| &self.graph[d].id).collect()
    }

    /// Non-milestone tasks.
    pub fn work_count(&self) -> usize {
        self.graph
            .node_weights()
            .filter(|t| !t.is_milestone())
            .count()
    }

    /// The schema point entered by each milestone, with the milestone that
    /// enters it and the one that leaves it (`None`: not within this run).
    /// The first entry is the point the run starts from.
    pub fn points(&self, base: SchemaPoint) -> Vec<PointSpan> {
        let mut spans = Vec::new();
        let mut prev_leave: Option<NodeIndex> = None;
        let versions: Vec<(&u32, &VersionMilestones)> = self.milestones.iter().collect();
        spans.push(PointSpan {
            point: base,
            entered_by: None,
            left_by: versions.first().map(|(_, m)| m.expand),
        });
        for (i, (v, m)) in versions.iter().enumerate() {
            let next_expand = versions.get(i + 1).map(|(_, n)| n.expand);
            spans.push(PointSpan {
                point: SchemaPoint::expand(**v),
                entered_by: Some(m.expand),
                left_by: Some(m.migrate),
            });
            spans.push(PointSpan {
                point: SchemaPoint::migrate(**v),
                entered_by: Some(m.migrate),
                left_by: Some(m.contract),
            });
            spans.push(PointSpan {
                point: SchemaPoint::complete(**v),
                entered_by: Some(m.contract),
                left_by: next_expand,
            });
            prev_leave = next_expand;
        }
        let _ = prev_leave;
        spans
    }
}

/// A schema point and the milestone tasks that enter and leave it.
#[derive(Clone, Copy, Debug)]
pub struct PointSpan {
    pub point: SchemaPoint,
    pub entered_by: Option<NodeIndex>,
    pub left_by: Option<NodeIndex>,
}

struct Builder {
    graph: DiGraph<Task, ()>,
    by_id: HashMap<TaskId, NodeIndex>,
    /// Edges already added: petgraph's `update_edge` scans a node's edges,
    /// quadratic for milestones that every action of a stage touches.
    edges: std::collections::HashSet<(NodeIndex, NodeIndex)>,
    errors: Vec<GraphError>,
}

impl Builder {
    fn add(&mut self, task: Task) -> NodeIndex {
        if let Some(existing) = self.by_id.get(&task.id) {
            self.errors.push(GraphError::DuplicateId {
                id: task.id.clone(),
                first: self.graph[*existing].origin.clone(),
                second: task.origin.clone(),
            });
        }
        let id = task.id.clone();
        let ix = self.graph.add_node(task);
        self.by_id.insert(id, ix);
        ix
    }

    fn milestone(
        &mut self,
        version: u32,
        name: &str,
        stage: Stage,
        milestone: Milestone,
        summary: String,
    ) -> NodeIndex {
        self.add(Task {
            id: TaskId(format!("v{version}/{name}")),
            version,
            stage,
            symbol: None,
            summary,
            kind: TaskKind::Milestone(milestone),
            origin: None,
            creates: Vec::new(),
        })
    }

    fn edge(&mut self, from: NodeIndex, to: NodeIndex) {
        if from != to && self.edges.insert((from, to)) {
            self.graph.add_edge(from, to, ());
        }
    }
}

fn stage_of(action: &Action) -> Stage {
    match (&action.step, action.phase) {
        (Step::Check(c), Phase::Contract) if c.kind == CheckKind::Gate => Stage::Gate,
        (_, Phase::Expand) => Stage::Expand,
        (_, Phase::Migrate) => Stage::Migrate,
        (_, Phase::Contract) => Stage::Contract,
    }
}

/// The tables an action touches, for per-table serialization.
fn tables_of(action: &Action) -> Vec<String> {
    // `needs` too: a check or a constraint on a table must wait for the
    // backfill that cleans it, though it creates nothing there.
    let mut tables: Vec<String> = action
        .creates
        .iter()
        .chain(&action.removes)
        .chain(&action.needs)
        .filter_map(ObjectRef::owning_table)
        .map(str::to_string)
        .collect();
    if let Step::Backfill(b) = &action.step {
        tables.push(b.table.clone());
    }
    tables.sort();
    tables.dedup();
    tables
}

/// Build the graph of the given versions, in version order.
pub fn build(work: &[VersionWork<'_>]) -> Result<TaskGraph, Vec<GraphError>> {
    let mut b = Builder {
        graph: DiGraph::new(),
        by_id: HashMap::new(),
        edges: Default::default(),
        errors: Vec::new(),
    };
    let mut milestones = BTreeMap::new();
    let mut prev_done: Option<NodeIndex> = None;

    for w in work {
        let v = w.version;
        let m = VersionMilestones {
            expand: b.milestone(
                v,
                "expand",
                Stage::Expand,
                Milestone::Enter {
                    point: SchemaPoint::expand(v),
                },
                format!("enter {v}.expand"),
            ),
            expanded: b.milestone(
                v,
                "expanded",
                Stage::Migrate,
                Milestone::Barrier,
                format!("expand of {v} done"),
            ),
            migrate: b.milestone(
                v,
                "migrate",
                Stage::Rollout,
                Milestone::Enter {
                    point: SchemaPoint::migrate(v),
                },
                format!("enter {v}.migrate"),
            ),
            contract: b.milestone(
                v,
                "contract",
                Stage::Contract,
                Milestone::Enter {
                    point: SchemaPoint::complete(v),
                },
                format!("enter {v}: contract starts"),
            ),
            done: b.milestone(
                v,
                "done",
                Stage::Contract,
                Milestone::Barrier,
                format!("version {v} complete"),
            ),
        };
        if let Some(p) = prev_done {
            b.edge(p, m.expand);
        }

        // Stage boundaries: (start, end) milestones of each action stage.
        let bounds = |stage: Stage| -> (NodeIndex, NodeIndex) {
            match stage {
                Stage::Expand => (m.expand, m.expanded),
                Stage::Migrate => (m.expanded, m.migrate),
                // Gates start once the rollouts are done; wired below.
                Stage::Gate | Stage::Rollout => (m.migrate, m.contract),
                Stage::Contract => (m.contract, m.done),
            }
        };

        // Rollouts first, so gates can wait for the end of the fleet.
        let fleet_origin = |group: &str| {
            Some(Origin::Fleet {
                version: v,
                group: group.to_string(),
            })
        };
        let hook = |b: &mut Builder,
                    group: Option<&FleetGroup>,
                    when: HookWhen,
                    argv: &[String],
                    timeout: Duration| {
            let (id, summary) = match group {
                Some(g) => (
                    format!("v{v}/rollout/{}/{}", g.name, when.name()),
                    format!("hook {} group {}: {}", when.name(), g.name, argv.join(" ")),
                ),
                None => (
                    format!("v{v}/rollout/{}", when.name()),
                    format!("hook {} the rollout: {}", when.name(), argv.join(" ")),
                ),
            };
            b.add(Task {
                id: TaskId(id),
                version: v,
                stage: Stage::Rollout,
                symbol: Some(Symbol::Change),
                summary,
                kind: TaskKind::Hook(Hook {
                    group: group.map(|g| g.name.clone()),
                    when,
                    argv: argv.to_vec(),
                    from_release: group.map(|g| g.from_release.clone()),
                    to_release: group.map(|g| g.to_release.clone()),
                    timeout,
                }),
                origin: match group {
                    Some(g) => fleet_origin(&g.name),
                    None => Some(Origin::Hooks { version: v }),
                },
                creates: Vec::new(),
            })
        };
        let fleet_before = w
            .hooks
            .before
            .as_ref()
            .map(|argv| hook(&mut b, None, HookWhen::Before, argv, w.hooks.timeout));
        let fleet_start = fleet_before.unwrap_or(m.migrate);
        if let Some(ix) = fleet_before {
            b.edge(m.migrate, ix);
        }
        let mut group_ends: Vec<NodeIndex> = Vec::new();
        let mut end_of_group: HashMap<&str, NodeIndex> = HashMap::new();
        let mut group_starts: Vec<(&FleetGroup, NodeIndex)> = Vec::new();
        for g in w.fleet {
            let size = g.max_unavailable.batch_size(g.nodes.len());
            let chunks: Vec<&[String]> = g.nodes.chunks(size).collect();
            let mut prev = g
                .hooks
                .before
                .as_ref()
                .map(|argv| hook(&mut b, Some(g), HookWhen::Before, argv, g.hooks.timeout));
            if let Some(ix) = prev {
                group_starts.push((g, ix));
            }
            for (i, nodes) in chunks.iter().enumerate() {
                let ix = b.add(Task {
                    id: TaskId(format!("v{v}/rollout/{}/{}", g.name, i + 1)),
                    version: v,
                    stage: Stage::Rollout,
                    symbol: Some(Symbol::Change),
                    summary: format!(
                        "roll {} from {} to {}",
                        nodes.join(", "),
                        g.from_release,
                        g.to_release
                    ),
                    kind: TaskKind::Rollout(Rollout {
                        group: g.name.clone(),
                        batch: i + 1,
                        batches: chunks.len(),
                        nodes: nodes.to_vec(),
                        from_release: g.from_release.clone(),
                        to_release: g.to_release.clone(),
                        drain: g.drain.clone(),
                        upgrade: g.upgrade.clone(),
                        health: g.health.clone(),
                        rollback: g.rollback.clone(),
                        timeout: g.timeout,
                        health_interval: g.health_interval,
                        min_healthy: g.min_healthy,
                        health_deadline: g.health_deadline,
                    }),
                    origin: fleet_origin(&g.name),
                    creates: Vec::new(),
                });
                match prev {
                    Some(p) => b.edge(p, ix),
                    None => group_starts.push((g, ix)),
                }
                prev = Some(ix);
            }
            if let Some(argv) = &g.hooks.after {
                let ix = hook(&mut b, Some(g), HookWhen::After, argv, g.hooks.timeout);
                if let Some(p) = prev {
                    b.edge(p, ix);
                }
                prev = Some(ix);
            }
            if let Some(end) = prev {
                end_of_group.insert(&g.name, end);
                group_ends.push(end);
            }
        }
        for (g, start) in &group_starts {
            b.edge(fleet_start, *start);
            for dep in &g.after {
                if let Some(end) = end_of_group.get(dep.as_str()) {
                    b.edge(*end, *start);
                }
            }
        }
        // What gates and contract wait for: the plan's after hook, which
        // waits for every group, else the end of each group.
        let fleet_ends: Vec<NodeIndex> = match &w.hooks.after {
            Some(argv) => {
                let ix = hook(&mut b, None, HookWhen::After, argv, w.hooks.timeout);
                b.edge(fleet_start, ix);
                for end in &group_ends {
                    b.edge(*end, ix);
                }
                vec![ix]
            }
            None => group_ends,
        };
        for end in &fleet_ends {
            b.edge(*end, m.contract);
        }

        // Actions.
        let mut last_of_owner: HashMap<(Stage, &str), NodeIndex> = HashMap::new();
        let mut last_on_table: HashMap<(Stage, String), NodeIndex> = HashMap::new();
        let mut creators: HashMap<&ObjectRef, NodeIndex> = HashMap::new();
        for sa in &w.actions {
            let a = &sa.action;
            let stage = stage_of(a);
            let ix = b.add(Task {
                id: TaskId(format!("v{v}/{}/{}/{}", a.phase.name(), sa.owner, a.key)),
                version: v,
                stage,
                symbol: Some(a.symbol),
                summary: a.summary.clone(),
                kind: TaskKind::Action {
                    step: a.step.clone(),
                },
                origin: Some(sa.origin.clone()),
                creates: a.creates.clone(),
            });
            let (start, end) = bounds(stage);
            if stage == Stage::Gate {
                if fleet_ends.is_empty() {
                    b.edge(m.migrate, ix);
                } else {
                    for end in &fleet_ends {
                        b.edge(*end, ix);
                    }
                }
            } else {
                b.edge(start, ix);
            }
            b.edge(ix, end);
            if let Some(prev) = last_of_owner.insert((stage, sa.owner.as_str()), ix) {
                b.edge(prev, ix);
            }
            for t in tables_of(a) {
                if let Some(prev) = last_on_table.insert((stage, t), ix) {
                    b.edge(prev, ix);
                }
            }
            for need in &a.needs {
                if let Some(creator) = creators.get(need) {
                    b.edge(*creator, ix);
                }
            }
            for c in &a.creates {
                creators.insert(c, ix);
            }
        }

        // The chain of milestones, so empty stages still connect.
        b.edge(m.expand, m.expanded);
        b.edge(m.expanded, m.migrate);
        b.edge(m.migrate, m.contract);
        b.edge(m.contract, m.done);
        prev_done = Some(m.done);
        milestones.insert(v, m);
    }

    let order = match stable_toposort(&b.graph) {
        Ok(order) => order,
        Err(among) => {
            b.errors.push(GraphError::Cycle {
                among: among.into_iter().map(|ix| b.graph[ix].id.clone()).collect(),
            });
            Vec::new()
        }
    };
    if !b.errors.is_empty() {
        return Err(b.errors);
    }
    Ok(TaskGraph {
        graph: b.graph,
        by_id: b.by_id,
        milestones,
        order,
    })
}

/// Kahn's algorithm with ties broken by creation order, so the printed plan
/// follows the plan file. Returns the nodes left on a cycle on failure.
fn stable_toposort(g: &DiGraph<Task, ()>) -> Result<Vec<NodeIndex>, Vec<NodeIndex>> {
    let mut indegree: Vec<usize> = g
        .node_indices()
        .map(|n| g.edges_directed(n, Direction::Incoming).count())
        .collect();
    let mut ready: BinaryHeap<Reverse<NodeIndex>> = g
        .node_indices()
        .filter(|n| indegree[n.index()] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(g.node_count());
    while let Some(Reverse(n)) = ready.pop() {
        order.push(n);
        for e in g.edges_directed(n, Direction::Outgoing) {
            let t = e.target();
            indegree[t.index()] -= 1;
            if indegree[t.index()] == 0 {
                ready.push(Reverse(t));
            }
        }
    }
    if order.len() == g.node_count() {
        Ok(order)
    } else {
        Err(g
            .node_indices()
            .filter(|n| indegree[n.index()] > 0)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{MaxUnavailable, Span};

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn group(name: &str, nodes: &[&str], after: &[&str], hooks: Hooks) -> FleetGroup {
        FleetGroup {
            span: Span { line: 1, column: 1 },
            name: name.into(),
            nodes: argv(nodes),
            from_release: "1".into(),
            to_release: "2".into(),
            max_unavailable: MaxUnavailable::Count(2),
            after: argv(after),
            drain: Vec::new(),
            upgrade: argv(&["./up.sh", "{node}"]),
            health: argv(&["./health.sh", "{node}"]),
            rollback: Vec::new(),
            timeout: Duration::from_secs(5),
            health_interval: Duration::from_secs(1),
            min_healthy: Duration::from_secs(3),
            health_deadline: Duration::from_secs(60),
            hooks,
        }
    }

    fn deps(g: &TaskGraph, id: &str) -> Vec<String> {
        let ix = g.by_id[&TaskId(id.into())];
        g.dependencies(ix)
            .into_iter()
            .map(|d| d.0.clone())
            .collect()
    }

    #[test]
    fn hooks_surround_their_group_and_the_plan_hooks_surround_every_group() {
        let hooks = |before: Option<&[&str]>, after: Option<&[&str]>| Hooks {
            before: before.map(argv),
            after: after.map(argv),
            timeout: Duration::from_secs(5),
        };
        let fleet = [
            group("web", &["w-1"], &[], Hooks::default()),
            group(
                "api",
                &["a-1", "a-2", "a-3"],
                &["web"],
                hooks(Some(&["./hold.sh", "{group}"]), Some(&["./rebalance.sh"])),
            ),
        ];
        let plan_hooks = hooks(Some(&["./switch.sh", "off"]), Some(&["./switch.sh", "on"]));
        let g = build(&[VersionWork {
            version: 2,
            actions: Vec::new(),
            fleet: &fleet,
            hooks: &plan_hooks,
        }])
        .unwrap();
        let cases: &[(&str, &[&str])] = &[
            ("v2/rollout/before", &["v2/migrate"]),
            ("v2/rollout/web/1", &["v2/rollout/before"]),
            // A group's before hook waits for the groups it runs after.
            (
                "v2/rollout/api/before",
                &["v2/rollout/before", "v2/rollout/web/1"],
            ),
            ("v2/rollout/api/1", &["v2/rollout/api/before"]),
            ("v2/rollout/api/2", &["v2/rollout/api/1"]),
            ("v2/rollout/api/after", &["v2/rollout/api/2"]),
            (
                "v2/rollout/after",
                &[
                    "v2/rollout/before",
                    "v2/rollout/web/1",
                    "v2/rollout/api/after",
                ],
            ),
            ("v2/contract", &["v2/migrate", "v2/rollout/after"]),
        ];
        for (id, want) in cases {
            let mut got = deps(&g, id);
            got.sort();
            let mut want: Vec<String> = want.iter().map(|w| w.to_string()).collect();
            want.sort();
            assert_eq!(got, want, "{id}");
        }
        let order: Vec<&str> = g
            .tasks()
            .filter(|t| t.stage == Stage::Rollout && !t.is_milestone())
            .map(|t| t.id.0.as_str())
            .collect();
        assert_eq!(
            order,
            [
                "v2/rollout/before",
                "v2/rollout/web/1",
                "v2/rollout/api/before",
                "v2/rollout/api/1",
                "v2/rollout/api/2",
                "v2/rollout/api/after",
                "v2/rollout/after"
            ]
        );
        let TaskKind::Hook(h) = &g.task(g.by_id[&TaskId("v2/rollout/api/after".into())]).kind
        else {
            panic!("a hook task");
        };
        assert_eq!(
            (h.group.as_deref(), h.when, h.to_release.as_deref()),
            (Some("api"), HookWhen::After, Some("2"))
        );
    }

    #[test]
    fn without_hooks_the_last_batches_lead_to_gates_and_contract() {
        let fleet = [group("api", &["a-1", "a-2", "a-3"], &[], Hooks::default())];
        let g = build(&[VersionWork {
            version: 2,
            actions: Vec::new(),
            fleet: &fleet,
            hooks: &Hooks::default(),
        }])
        .unwrap();
        assert_eq!(deps(&g, "v2/rollout/api/1"), ["v2/migrate"]);
        let mut contract = deps(&g, "v2/contract");
        contract.sort();
        assert_eq!(contract, ["v2/migrate", "v2/rollout/api/2"]);
    }
}
