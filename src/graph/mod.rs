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
use crate::plan::{FleetGroup, Phase, SchemaPoint};

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
        if from != to {
            self.graph.update_edge(from, to, ());
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

        // Rollouts first, so gates can wait for the last batches.
        let mut last_batches: Vec<NodeIndex> = Vec::new();
        let mut group_ends: HashMap<&str, NodeIndex> = HashMap::new();
        let mut group_starts: Vec<(&FleetGroup, NodeIndex)> = Vec::new();
        for g in w.fleet {
            let size = g.max_unavailable.batch_size(g.nodes.len());
            let chunks: Vec<&[String]> = g.nodes.chunks(size).collect();
            let mut prev: Option<NodeIndex> = None;
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
                    }),
                    origin: Some(Origin::Fleet {
                        version: v,
                        group: g.name.clone(),
                    }),
                    creates: Vec::new(),
                });
                match prev {
                    Some(p) => b.edge(p, ix),
                    None => group_starts.push((g, ix)),
                }
                prev = Some(ix);
            }
            if let Some(last) = prev {
                group_ends.insert(&g.name, last);
                last_batches.push(last);
            }
        }
        for (g, start) in &group_starts {
            b.edge(m.migrate, *start);
            for dep in &g.after {
                if let Some(end) = group_ends.get(dep.as_str()) {
                    b.edge(*end, *start);
                }
            }
        }
        for last in &last_batches {
            b.edge(*last, m.contract);
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
                if last_batches.is_empty() {
                    b.edge(m.migrate, ix);
                } else {
                    for last in &last_batches {
                        b.edge(*last, ix);
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
