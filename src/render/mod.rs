//! Renderers: pure functions of checked plans to text for a terminal, JSON
//! for tools, Markdown (with a Mermaid diagram) for pull requests and
//! Graphviz DOT.
//!
//! They take a slice because `zerodown plan plans/` may check several plan
//! sets, one per sub-directory. Paths are printed as the plan gives them
//! (relative paths stay relative) so the output is the same on every
//! machine.

mod dot;
mod json;
mod markdown;
mod text;

pub use dot::dot;
pub use json::json;
pub use markdown::markdown;
pub use text::{text, TextOptions};

use petgraph::graph::NodeIndex;

use crate::compat::writes::{Finding, Meets};
use crate::compat::{Proof, ReleaseCheck};
use crate::graph::{HookWhen, Stage, Task, TaskKind};
use crate::ops::Step;
use crate::plan::SchemaPoint;
use crate::planner::CheckedPlan;
use crate::schema::UntilDropped;

/// How much a run does, over every plan set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Non-milestone tasks of the expand stage.
    pub expand: usize,
    /// Non-milestone tasks of the migrate stage (backfills, checks).
    pub migrate: usize,
    /// Nodes rolled, counted once per rollout task that rolls them.
    pub nodes: usize,
    /// Non-milestone tasks of the contract stage.
    pub contract: usize,
    /// Gate checks before contract.
    pub gates: usize,
    /// Hooks of plans and groups around the rollout.
    pub hooks: usize,
}

/// Count the work of the plans.
pub fn summary(plans: &[CheckedPlan]) -> Summary {
    let mut s = Summary::default();
    for task in plans
        .iter()
        .flat_map(|p| p.graph.tasks().filter(|t| !p.done.contains(&t.id)))
    {
        match &task.kind {
            TaskKind::Milestone(_) => {}
            TaskKind::Rollout(r) => s.nodes += r.nodes.len(),
            TaskKind::Hook(_) => s.hooks += 1,
            TaskKind::Action { .. } => match task.stage {
                Stage::Expand => s.expand += 1,
                Stage::Migrate => s.migrate += 1,
                Stage::Gate => s.gates += 1,
                Stage::Contract => s.contract += 1,
                // Rollout tasks are never actions; counted above by node.
                Stage::Rollout => {}
            },
        }
    }
    s
}

impl Summary {
    /// `Plan: 3 expand, 1 migrate, 3 nodes, 2 contract.`; hooks and gates
    /// only when there are some.
    pub fn line(&self) -> String {
        let mut parts = vec![
            format!("{} expand", self.expand),
            format!("{} migrate", self.migrate),
        ];
        parts.push(count(self.nodes, "node", "nodes"));
        if self.hooks > 0 {
            parts.push(count(self.hooks, "hook", "hooks"));
        }
        if self.gates > 0 {
            parts.push(count(self.gates, "gate", "gates"));
        }
        parts.push(format!("{} contract", self.contract));
        format!("Plan: {}.", parts.join(", "))
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The line printed when no plan set has anything to do.
const NO_CHANGES: &str = "No changes. The database is up to date.";

/// One mark on a version's timeline: a stage of tasks, or the schema point
/// the database has reached once the stages before it are done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    Point(SchemaPoint),
    Stage(Stage),
}

/// A version's stages in the order they run, with the schema point reached
/// between them. Rollouts and gates run at `V.migrate`; `V` is reached when
/// contract is done.
fn timeline(start: SchemaPoint, version: u32) -> [Mark; 9] {
    [
        Mark::Point(start),
        Mark::Stage(Stage::Expand),
        Mark::Point(SchemaPoint::expand(version)),
        Mark::Stage(Stage::Migrate),
        Mark::Point(SchemaPoint::migrate(version)),
        Mark::Stage(Stage::Rollout),
        Mark::Stage(Stage::Gate),
        Mark::Stage(Stage::Contract),
        Mark::Point(SchemaPoint::complete(version)),
    ]
}

/// The point the `i`-th version of the run starts from.
fn start_point(plan: &CheckedPlan, i: usize) -> SchemaPoint {
    match i.checked_sub(1).and_then(|p| plan.versions.get(p)) {
        Some(prev) => SchemaPoint::complete(prev.version),
        None => plan.base,
    }
}

fn stage_title(stage: Stage) -> &'static str {
    match stage {
        Stage::Expand => "Expand",
        Stage::Migrate => "Migrate",
        Stage::Rollout => "Rollout",
        Stage::Gate => "Gates",
        Stage::Contract => "Contract",
    }
}

/// The non-milestone tasks of one version's stage, in execution order.
fn stage_tasks(plan: &CheckedPlan, version: u32, stage: Stage) -> Vec<&Task> {
    plan.graph
        .tasks()
        .filter(|t| {
            t.version == version
                && t.stage == stage
                && !t.is_milestone()
                && !plan.done.contains(&t.id)
        })
        .collect()
}

/// Every task with its node, in execution order.
fn ordered(plan: &CheckedPlan) -> impl Iterator<Item = (NodeIndex, &Task)> {
    plan.graph
        .order
        .iter()
        .map(|ix| (*ix, plan.graph.task(*ix)))
}

/// What a task runs, for the renderers meant for people.
struct TaskDetail {
    /// SQL, one statement per entry (a statement may span lines).
    sql: Vec<String>,
    /// Lines in words: lock, batching, what a check guards, nodes.
    notes: Vec<String>,
}

fn detail(task: &Task) -> TaskDetail {
    match &task.kind {
        TaskKind::Milestone(_) => TaskDetail {
            sql: Vec::new(),
            notes: Vec::new(),
        },
        TaskKind::Action { step: Step::Sql(s) } => TaskDetail {
            sql: s.statements.clone(),
            notes: vec![format!("lock: {}", s.lock)],
        },
        TaskKind::Action {
            step: Step::Rebuild(r),
        } => TaskDetail {
            sql: Vec::new(),
            notes: vec![
                format!(
                    "rebuilds {} from its live CREATE TABLE with: {}",
                    r.table,
                    r.edits
                        .iter()
                        .map(|e| e.describe())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                "in one transaction: new table, every row copied, old table dropped, new one renamed, indexes and triggers recreated, foreign keys checked".to_string(),
                format!("lock: {}", r.lock),
            ],
        },
        TaskKind::Action {
            step: Step::Backfill(b),
        } => {
            let mut note = format!(
                "in batches of {} rows in key order ({}), one transaction per batch",
                b.batch_size,
                b.engine.quote_list(&b.key)
            );
            if b.pause_ms > 0 {
                note.push_str(&format!(", {} ms between batches", b.pause_ms));
            }
            TaskDetail {
                sql: vec![b.update_sql(true, true)],
                notes: vec![note],
            }
        }
        TaskKind::Action {
            step: Step::Check(c),
        } => TaskDetail {
            sql: vec![c.count_sql.clone()],
            notes: vec![format!("passes when the count is 0: {}", c.guards)],
        },
        TaskKind::Rollout(r) => TaskDetail {
            sql: Vec::new(),
            notes: vec![
                format!(
                    "nodes: {} (group {}, batch {} of {})",
                    r.nodes.join(", "),
                    r.group,
                    r.batch,
                    r.batches
                ),
                format!("release: {} → {}", r.from_release, r.to_release),
                format!(
                    "health: every {}, passing for {} within {} of the upgrade, else rolled back",
                    humantime::format_duration(r.health_interval),
                    humantime::format_duration(r.min_healthy),
                    humantime::format_duration(r.health_deadline)
                ),
            ],
        },
        TaskKind::Hook(h) => TaskDetail {
            sql: Vec::new(),
            // The summary shows the command.
            notes: vec![match (&h.group, h.when) {
                (Some(g), HookWhen::Before) => {
                    format!("runs once, before the first batch of group {g}")
                }
                (Some(g), HookWhen::After) => {
                    format!("runs once, after the last batch of group {g}")
                }
                (None, HookWhen::Before) => {
                    "runs before the first group, and again before a halted rollout resumes"
                        .to_string()
                }
                (None, HookWhen::After) => {
                    "runs after every group, and also when the run halts during the rollout"
                        .to_string()
                }
            }],
        },
    }
}

/// Where the run's starting schema comes from, in words.
/// The proof's checks as a reviewer reads them: the nodes of a group that
/// run the same release over the same points are one line.
fn distinct_checks(proof: &Proof) -> Vec<&ReleaseCheck> {
    let mut out: Vec<&ReleaseCheck> = Vec::new();
    for check in &proof.checks {
        let same = |c: &&ReleaseCheck| {
            c.group == check.group && c.release == check.release && c.meets == check.meets
        };
        if !out.iter().any(same) {
            out.push(check);
        }
    }
    out
}

/// One finding of the write check, for a reviewer: the release, what it
/// knows, where, and what it meets.
fn finding_text(f: &Finding) -> (String, String) {
    let points = f
        .points
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let t = &f.table;
    let what = match &f.what {
        Meets::CannotLeaveOut { column } => {
            format!("cannot insert: {t}.{column} is NOT NULL without a default, and it does not write it")
        }
        Meets::LeavesOut { column, gets } => {
            format!("inserts leave out {t}.{column}, which gets {gets}")
        }
        Meets::ReadsRelaxed {
            column,
            how: UntilDropped::AllowNull,
        } => format!(
            "may read NULL in {t}.{column}: NOT NULL is dropped until contract drops the column, so releases that no longer write it can insert"
        ),
        Meets::ReadsRelaxed {
            column,
            how: UntilDropped::Fill(fill),
        } => format!(
            "reads {fill} in {t}.{column} for rows of releases that no longer write it (the change's fill:)"
        ),
        Meets::OtherType {
            column,
            built_for_type,
            here,
        } => format!(
            "{t}.{column} is {here} here, not the {built_for_type} it was built for: values only one of them holds fail"
        ),
        Meets::NotNullHere { column } => {
            format!("{t}.{column} is NOT NULL here: its writes of NULL there fail")
        }
        Meets::NewConstraint { constraint } => {
            format!("its writes to {t} are checked by {constraint}, which it was not built for")
        }
    };
    (points, what)
}

fn schema_source_text(plan: &CheckedPlan) -> String {
    match &plan.schema_source {
        crate::snapshot::SchemaSource::Empty => "an empty database".to_string(),
        crate::snapshot::SchemaSource::File { path } => path.display().to_string(),
        crate::snapshot::SchemaSource::Database => "the database".to_string(),
    }
}

#[cfg(test)]
pub(crate) mod fixture {
    //! A small checked plan built by hand: one version with an added
    //! column, a backfill, a fleet group of three nodes, a gate and a
    //! dropped column.

    use std::path::PathBuf;
    use std::time::Duration;

    use crate::compat::{Proof, ReleaseCheck};
    use crate::dialect::EngineKind;
    use crate::graph::{self, Origin, SourcedAction, TaskId, VersionWork};
    use crate::ops::{
        Action, BackfillStep, CheckKind, CheckStep, ColumnSpec, Effect, ObjectRef, Operation,
        SqlStep, Step, Symbol,
    };
    use crate::ops::{ChangeClass, Classification};
    use crate::plan::{FleetGroup, Hooks, MaxUnavailable, Phase, SchemaPoint, Span};
    use crate::planner::{
        CheckedPlan, FleetSummary, Note, PlannedBackfill, PlannedChange, PlannedVersion,
    };
    use crate::snapshot::SchemaSource;

    fn sql_action(
        key: &str,
        phase: Phase,
        symbol: Symbol,
        summary: &str,
        sql: &str,
        obj: ObjectRef,
    ) -> Action {
        let removing = symbol == Symbol::Remove;
        Action {
            key: key.into(),
            phase,
            symbol,
            summary: summary.into(),
            step: Step::Sql(SqlStep {
                statements: vec![sql.into()],
                transactional: true,
                lock: "ACCESS EXCLUSIVE (catalog only, brief)".into(),
                effect: Effect::RecordedOnly,
            }),
            creates: if removing {
                Vec::new()
            } else {
                vec![obj.clone()]
            },
            needs: Vec::new(),
            removes: if removing { vec![obj] } else { Vec::new() },
        }
    }

    fn sourced(action: Action, owner: &str, index: usize) -> SourcedAction {
        SourcedAction {
            action,
            origin: Origin::Change { version: 2, index },
            owner: owner.into(),
        }
    }

    fn classification(class: ChangeClass, rule: &str, rewrite: Option<&str>) -> Classification {
        Classification {
            class,
            rule: rule.into(),
            lock: "ACCESS EXCLUSIVE (catalog only, brief)".into(),
            reason: "a \"quoted\" reason | with a pipe".into(),
            rewrite: rewrite.map(str::to_string),
        }
    }

    pub(crate) fn plan() -> CheckedPlan {
        let engine = EngineKind::Postgres;
        let note = ObjectRef::column("orders", "note");
        let add = sql_action(
            "add-column",
            Phase::Expand,
            Symbol::Add,
            "add column orders.note text",
            r#"ALTER TABLE "orders" ADD COLUMN "note" text"#,
            note.clone(),
        );
        let backfill_step = BackfillStep {
            engine,
            table: "orders".into(),
            key: vec!["id".into()],
            set: r#""note" = ''"#.into(),
            pending: r#""note" IS NULL"#.into(),
            batch_size: 5000,
            pause_ms: 0,
        };
        let backfill = Action {
            key: "backfill".into(),
            phase: Phase::Migrate,
            symbol: Symbol::Change,
            summary:
                "backfill orders: SET \"note\" = '' WHERE \"note\" IS NULL (5000 rows per batch)"
                    .into(),
            step: Step::Backfill(backfill_step.clone()),
            creates: Vec::new(),
            needs: vec![note.clone()],
            removes: Vec::new(),
        };
        let gate = Action {
            key: "gate".into(),
            phase: Phase::Contract,
            symbol: Symbol::Change,
            summary: "gate: no row of orders where \"note\" IS NULL".into(),
            step: Step::Check(CheckStep {
                kind: CheckKind::Gate,
                count_sql: backfill_step.remaining_sql(),
                sample_sql: None,
                guards: "no row of orders left un-backfilled".into(),
            }),
            creates: Vec::new(),
            needs: vec![note],
            removes: Vec::new(),
        };
        let drop = sql_action(
            "drop-column",
            Phase::Contract,
            Symbol::Remove,
            "drop column users.legacy",
            r#"ALTER TABLE "users" DROP COLUMN "legacy""#,
            ObjectRef::column("users", "legacy"),
        );
        let fleet = vec![FleetGroup {
            span: Span {
                line: 12,
                column: 5,
            },
            name: "api".into(),
            nodes: vec!["api-1".into(), "api-2".into(), "api-3".into()],
            from_release: "1.4.0".into(),
            to_release: "1.5.0".into(),
            max_unavailable: MaxUnavailable::Count(2),
            after: Vec::new(),
            drain: vec!["./drain.sh".into(), "{node}".into()],
            upgrade: vec!["./upgrade.sh".into(), "{node}".into(), "{release}".into()],
            health: vec!["./health.sh".into(), "{node}".into()],
            rollback: Vec::new(),
            timeout: Duration::from_secs(120),
            health_interval: Duration::from_secs(1),
            min_healthy: Duration::from_secs(3),
            health_deadline: Duration::from_secs(60),
            hooks: Hooks::default(),
        }];
        let no_hooks = Hooks::default();
        let work = [VersionWork {
            version: 2,
            actions: vec![
                sourced(add, "add-column/orders.note", 1),
                SourcedAction {
                    action: backfill,
                    origin: Origin::Backfill {
                        version: 2,
                        index: 1,
                    },
                    owner: "backfill/orders.note".into(),
                },
                SourcedAction {
                    action: gate,
                    origin: Origin::Backfill {
                        version: 2,
                        index: 1,
                    },
                    owner: "backfill/orders.note".into(),
                },
                sourced(drop, "drop-column/users.legacy", 2),
            ],
            fleet: &fleet,
            hooks: &no_hooks,
        }];
        let graph = graph::build(&work).expect("the fixture graph is acyclic");
        let range = |s: &str| Some(s.parse().expect("valid range"));
        let points = |ps: &[&str]| {
            ps.iter()
                .map(|p| p.parse::<SchemaPoint>().expect("valid point"))
                .collect()
        };
        let proof = Proof {
            checks: vec![
                ReleaseCheck {
                    group: "api".into(),
                    release: "1.4.0".into(),
                    range: range("1 ..= 2.migrate"),
                    meets: points(&["1", "2.expand", "2.migrate"]),
                    from_task: None,
                    until_task: Some(TaskId("v2/rollout/api/1".into())),
                },
                ReleaseCheck {
                    group: "api".into(),
                    release: "1.5.0".into(),
                    range: range("2.migrate .."),
                    meets: points(&["2.migrate", "2"]),
                    from_task: Some(TaskId("v2/rollout/api/1".into())),
                    until_task: None,
                },
            ],
            conflicts: Vec::new(),
            unknown: Vec::new(),
        };
        CheckedPlan {
            done: Default::default(),
            tables: Vec::new(),
            final_schema: crate::schema::Schema::default(),
            dir: PathBuf::from("plans"),
            engine,
            base: SchemaPoint::complete(1),
            schema_source: SchemaSource::File {
                path: PathBuf::from("plans/schemas/0001.sql"),
            },
            versions: vec![PlannedVersion {
                version: 2,
                path: PathBuf::from("plans/0002_note.yaml"),
                hash: "ab12".into(),
                description: "Add orders.note, drop users.legacy".into(),
                changes: vec![
                    PlannedChange {
                        index: 1,
                        line: 5,
                        sql: "ALTER TABLE orders ADD COLUMN note text".into(),
                        operation: Operation::AddColumn {
                            table: "orders".into(),
                            column: ColumnSpec {
                                name: "note".into(),
                                data_type: "text".into(),
                                nullable: true,
                                default: None,
                                extra: Vec::new(),
                            },
                        },
                        classification: classification(
                            ChangeClass::Additive,
                            "pg/add-column/nullable",
                            None,
                        ),
                        contract_in: None,
                        tasks: vec![TaskId("v2/expand/add-column/orders.note/add-column".into())],
                    },
                    PlannedChange {
                        index: 2,
                        line: 6,
                        sql: "ALTER TABLE users DROP COLUMN legacy".into(),
                        operation: Operation::DropColumn {
                            table: "users".into(),
                            column: "legacy".into(),
                        },
                        classification: classification(
                            ChangeClass::Subtractive,
                            "pg/drop-column/plain",
                            Some("ALTER TABLE `users` DROP COLUMN legacy"),
                        ),
                        contract_in: None,
                        tasks: vec![TaskId(
                            "v2/contract/drop-column/users.legacy/drop-column".into(),
                        )],
                    },
                ],
                backfills: vec![PlannedBackfill {
                    index: 1,
                    table: "orders".into(),
                    set: r#""note" = ''"#.into(),
                    pending: r#""note" IS NULL"#.into(),
                    batch_size: 5000,
                    tasks: vec![
                        TaskId("v2/migrate/backfill/orders.note/backfill".into()),
                        TaskId("v2/contract/backfill/orders.note/gate".into()),
                    ],
                }],
                fleet: fleet.clone(),
                hooks: Hooks::default(),
                fleet_summary: vec![FleetSummary {
                    group: "api".into(),
                    nodes: fleet[0].nodes.clone(),
                    from_release: "1.4.0".into(),
                    to_release: "1.5.0".into(),
                    batch_size: 2,
                    after: Vec::new(),
                }],
            }],
            graph,
            proof: Some(proof),
            writes: None,
            notes: vec![Note {
                version: Some(2),
                message: "something to know".into(),
            }],
        }
    }

    /// A plan set with nothing to do.
    pub(crate) fn up_to_date() -> CheckedPlan {
        CheckedPlan {
            done: Default::default(),
            tables: Vec::new(),
            final_schema: crate::schema::Schema::default(),
            dir: PathBuf::from("plans/billing"),
            engine: EngineKind::Sqlite,
            base: SchemaPoint::complete(3),
            schema_source: SchemaSource::Empty,
            versions: Vec::new(),
            graph: graph::build(&[]).expect("an empty graph builds"),
            proof: None,
            writes: None,
            notes: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_work_per_stage_and_nodes_rolled() {
        let s = summary(&[fixture::plan(), fixture::up_to_date()]);
        assert_eq!(
            s,
            Summary {
                expand: 1,
                migrate: 1,
                nodes: 3,
                contract: 1,
                gates: 1,
                hooks: 0,
            }
        );
        assert_eq!(
            s.line(),
            "Plan: 1 expand, 1 migrate, 3 nodes, 1 gate, 1 contract."
        );
    }

    #[test]
    fn summary_line_leaves_out_gates_when_there_are_none() {
        let cases = [
            (
                Summary {
                    expand: 3,
                    migrate: 1,
                    nodes: 3,
                    contract: 2,
                    gates: 0,
                    hooks: 0,
                },
                "Plan: 3 expand, 1 migrate, 3 nodes, 2 contract.",
            ),
            (
                Summary {
                    expand: 1,
                    migrate: 0,
                    nodes: 2,
                    contract: 1,
                    gates: 0,
                    hooks: 3,
                },
                "Plan: 1 expand, 0 migrate, 2 nodes, 3 hooks, 1 contract.",
            ),
            (
                Summary {
                    expand: 0,
                    migrate: 0,
                    nodes: 1,
                    contract: 0,
                    gates: 2,
                    hooks: 1,
                },
                "Plan: 0 expand, 0 migrate, 1 node, 1 hook, 2 gates, 0 contract.",
            ),
        ];
        for (s, line) in cases {
            assert_eq!(s.line(), line);
        }
    }

    #[test]
    fn timeline_points_follow_the_stages() {
        let marks = timeline(SchemaPoint::complete(1), 2);
        let points: Vec<String> = marks
            .iter()
            .filter_map(|m| match m {
                Mark::Point(p) => Some(p.to_string()),
                Mark::Stage(_) => None,
            })
            .collect();
        assert_eq!(points, ["1", "2.expand", "2.migrate", "2"]);
    }

    #[test]
    fn details_show_what_each_kind_of_task_runs() {
        let plan = fixture::plan();
        let by_id = |id: &str| {
            plan.graph
                .tasks()
                .find(|t| t.id.0 == id)
                .expect("task exists")
        };
        let backfill = detail(by_id("v2/migrate/backfill/orders.note/backfill"));
        assert_eq!(
            backfill.sql,
            [
                r#"UPDATE "orders" SET "note" = '' WHERE "id" > $1 AND "id" <= $2 AND ("note" IS NULL)"#
            ]
        );
        assert_eq!(
            backfill.notes,
            [r#"in batches of 5000 rows in key order ("id"), one transaction per batch"#]
        );
        let gate = detail(by_id("v2/contract/backfill/orders.note/gate"));
        assert_eq!(
            gate.sql,
            [r#"SELECT COUNT(*) FROM "orders" WHERE "note" IS NULL"#]
        );
        let rollout = detail(by_id("v2/rollout/api/1"));
        assert!(rollout.sql.is_empty());
        assert_eq!(
            rollout.notes,
            [
                "nodes: api-1, api-2 (group api, batch 1 of 2)",
                "release: 1.4.0 → 1.5.0",
                "health: every 1s, passing for 3s within 1m of the upgrade, else rolled back"
            ]
        );
    }

    #[test]
    fn hooks_show_their_command_and_when_they_run() {
        use crate::graph::{Hook, HookWhen, Stage, TaskId};
        let hook = |group: Option<&str>, when| Task {
            id: TaskId("v2/rollout/x".into()),
            version: 2,
            stage: Stage::Rollout,
            symbol: None,
            summary: String::new(),
            kind: TaskKind::Hook(Hook {
                group: group.map(str::to_string),
                when,
                argv: vec!["./lb.sh".into(), "{group}".into()],
                from_release: None,
                to_release: None,
                timeout: std::time::Duration::from_secs(1),
            }),
            origin: None,
            creates: Vec::new(),
        };
        let cases = [
            (
                Some("api"),
                HookWhen::Before,
                "runs once, before the first batch of group api",
            ),
            (
                Some("api"),
                HookWhen::After,
                "runs once, after the last batch of group api",
            ),
            (
                None,
                HookWhen::Before,
                "runs before the first group, and again before a halted rollout resumes",
            ),
            (
                None,
                HookWhen::After,
                "runs after every group, and also when the run halts during the rollout",
            ),
        ];
        for (group, when, note) in cases {
            let d = detail(&hook(group, when));
            assert!(d.sql.is_empty());
            assert_eq!(d.notes, [note]);
        }
    }
}
