//! The executor: runs a checked plan's task graph against an engine, with
//! the state file and the history table kept in step, so a run can stop
//! anywhere (a failure, a signal, a kill) and `resume` finishes it.
//!
//! The algorithm is written once, generic over [`Engine`]. Tasks run in the
//! graph's topological order, one at a time. Every task is idempotent:
//! - a SQL task whose effect the catalog already shows is marked done
//!   without running (this is also how a task that was running when the
//!   process died is re-checked: its effect is there or it is not);
//! - a backfill continues after the last committed batch's key, and every
//!   batch only touches rows that still match its `pending` condition, so a
//!   batch replayed after a crash changes nothing twice;
//! - a check (gate, violations) just counts again.
//!
//! The executor prints nothing: it reports [`Event`]s to an [`Observer`].

pub mod fleet;
pub mod session;
pub mod state;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::{Engine, EngineError, HistoryRecord, LockPolicy, RunLock, TaskStatus};
use crate::failpoint::failpoint;
use crate::graph::{HookWhen, Stage, Task, TaskId, TaskKind};
use crate::ops::{CheckKind, Effect, Step};
use crate::planner::CheckedPlan;

pub use state::{
    BackfillCheckpoint, PlanRef, RunStatus, StateError, StateFile, TaskState, Until,
    DEFAULT_STATE_PATH,
};

/// Set by the signal handler: stop at the next safe point.
#[derive(Clone, Debug, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn new() -> Self {
        StopFlag::default()
    }
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What the executor reports as it goes.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Another session holds the run lock: waiting up to `wait` for it to
    /// be released (the session of a killed run keeps it until its server
    /// notices), told once when the wait starts.
    RunLockWait {
        holder: Option<String>,
        wait: Duration,
    },
    /// The run lock was released and taken after waiting this long.
    RunLockTaken {
        waited: Duration,
    },
    TaskStarted {
        id: String,
        summary: String,
    },
    /// The effect was already in the catalog: nothing to run.
    TaskAlreadyDone {
        id: String,
    },
    TaskDone {
        id: String,
        elapsed: Duration,
        attempts: u32,
    },
    TaskFailed {
        id: String,
        error: String,
    },
    BackfillStarted {
        id: String,
        table: String,
        estimate: Option<u64>,
        resumed_rows: u64,
    },
    BackfillProgress {
        id: String,
        rows: u64,
        estimate: Option<u64>,
        rows_per_sec: f64,
    },
    /// A backfill paused between batches, told once when the pause starts
    /// (with what started it), however long it lasts.
    Throttled {
        id: String,
        why: Throttle,
    },
    /// The paused backfill goes on: the throttle held it this long.
    ThrottleEnded {
        id: String,
        paused: Duration,
    },
    /// A phase boundary: the schema reached this point.
    PointReached {
        point: String,
    },
    NodeRolling {
        group: String,
        node: String,
        from: String,
        to: String,
    },
    /// The upgrade command succeeded; health is being checked.
    NodeInstalled {
        group: String,
        node: String,
        release: String,
    },
    /// On the new release and healthy.
    NodeUpgraded {
        group: String,
        node: String,
        release: String,
    },
    /// Upgrade or health failed: rolling back to `to`.
    NodeRollingBack {
        group: String,
        node: String,
        to: String,
        error: String,
    },
    /// Back on `release` and healthy after a failed upgrade.
    NodeRolledBack {
        group: String,
        node: String,
        release: String,
    },
    /// The rollback failed too: the node needs a human.
    NodeFailed {
        group: String,
        node: String,
        error: String,
    },
    /// The run halted during the rollout: the plan's after hook ran to
    /// undo what its before hook did; `error` when it failed.
    HookOnHalt {
        id: String,
        error: Option<String>,
    },
    /// A group's nodes on the new release so far.
    GroupProgress {
        group: String,
        upgraded: usize,
        total: usize,
        release: String,
    },
    /// Waiting while the pause file exists.
    Paused {
        path: String,
    },
}

/// Receives events; the CLI turns them into progress bars and lines.
pub trait Observer {
    fn event(&mut self, event: Event);
}

/// An observer that drops everything (for tests and library use).
pub struct Silent;

impl Observer for Silent {
    fn event(&mut self, _event: Event) {}
}

/// Why a backfill waits before its next batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Throttle {
    /// The slowest replica lags more than `--max-replica-lag`.
    ReplicaLag(Duration),
    /// More statements run on the server than `--max-running`.
    Running(u64),
}

/// How a run behaves.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub until: Until,
    pub lock: LockPolicy,
    /// Pause backfills while the slowest replica lags more than this.
    pub max_replica_lag: Option<Duration>,
    /// Pause backfills while more statements than this run on the server
    /// (zerodown's own included).
    pub max_running: Option<u64>,
    /// Runs the fleet's steps (working directory, log file).
    pub steps: fleet::StepRunner,
    /// While this file exists, the run waits between steps.
    pub pause_file: Option<std::path::PathBuf>,
    /// Check every node's health before the first change.
    pub preflight: bool,
}

impl RunOptions {
    pub fn new(until: Until, lock: LockPolicy, state_path: &Path, cwd: &Path) -> Self {
        RunOptions {
            until,
            lock,
            max_replica_lag: None,
            max_running: None,
            steps: fleet::StepRunner {
                log_path: fleet::log_path_for(state_path),
                cwd: cwd.to_path_buf(),
            },
            pause_file: None,
            preflight: true,
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every task is done.
    Completed,
    /// Reached `--until`; the next stage is still to run.
    ReachedUntil(Until),
    /// A signal asked to stop; stopped at a safe point, resumable.
    Interrupted,
}

/// Why a run stopped on an error.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("task {task} failed: {source}")]
    Engine { task: String, source: EngineError },
    #[error("task {task}: {message}")]
    Check { task: String, message: String },
    /// The task may or may not have taken effect, and the catalog cannot
    /// tell: it stays `running` until the operator says which.
    #[error("task {task}: {message}")]
    Uncertain { task: String, message: String },
    #[error(transparent)]
    State(#[from] StateError),
    #[error("task {task}: {message}")]
    Unsupported { task: String, message: String },
    #[error("task {task}: {message}")]
    Fleet { task: String, message: String },
    #[error(
        "pre-flight: nodes are not healthy before the rollout, so {}:\n{}\nMake them healthy, then run the same command again",
        if *nothing_changed { "nothing was changed" } else { "no node was touched (what ran before stays done)" },
        failing.iter().map(|(n, e)| format!("  {n}: {e}")).collect::<Vec<_>>().join("\n")
    )]
    Preflight {
        failing: BTreeMap<String, String>,
        /// No task of the run had run yet.
        nothing_changed: bool,
    },
    /// The run halted inside the fleet's hooks, and the after hook that
    /// should have undone the before hook failed as well.
    #[error("{halt}\nThen the plan's after hook {hook} failed too: {error}. Whatever its before hook changed is still \
             changed: run the after hook by hand (see the fleet log)")]
    HookOnHalt {
        halt: Box<ExecError>,
        hook: String,
        error: String,
    },
}

/// Which stage a `--until` lets run.
fn allowed(until: Until, stage: Stage) -> bool {
    match until {
        Until::Expand => stage == Stage::Expand,
        Until::Migrate => matches!(stage, Stage::Expand | Stage::Migrate),
        Until::Contract => true,
    }
}

/// The milestone tasks are tagged with the stage that follows them; a
/// milestone runs when its own stage is allowed.
fn task_allowed(until: Until, task: &Task) -> bool {
    if let TaskKind::Milestone(_) = task.kind {
        // `vN/migrate` (entering N.migrate) closes the migrate stage.
        if task.id.0.ends_with("/migrate") {
            return allowed(until, Stage::Migrate);
        }
    }
    allowed(until, task.stage)
}

struct Runner<'a, E: Engine, O: Observer> {
    engine: &'a mut E,
    lock: &'a RunLock,
    plan: &'a CheckedPlan,
    state: &'a mut StateFile,
    state_path: &'a Path,
    opts: &'a RunOptions,
    observer: &'a mut O,
    stop: &'a StopFlag,
    hashes: HashMap<u32, String>,
}

impl<E: Engine, O: Observer> Runner<'_, E, O> {
    async fn mark(
        &mut self,
        task: &Task,
        status: TaskStatus,
        error: Option<String>,
        note: Option<String>,
    ) -> Result<(), ExecError> {
        let now = state::now();
        let entry = self
            .state
            .tasks
            .entry(task.id.0.clone())
            .or_insert(TaskState {
                status,
                started_at: None,
                finished_at: None,
                error: None,
                note: None,
            });
        entry.status = status;
        match status {
            TaskStatus::Running => {
                entry.started_at = Some(now.clone());
                entry.finished_at = None;
                entry.error = None;
            }
            TaskStatus::Done | TaskStatus::Failed | TaskStatus::Undone => {
                entry.finished_at = Some(now.clone())
            }
            TaskStatus::Pending => {}
        }
        entry.error = error.clone();
        if note.is_some() {
            entry.note = note;
        }
        let record = HistoryRecord {
            version: task.version,
            plan_hash: self.hashes.get(&task.version).cloned().unwrap_or_default(),
            phase: task.stage.name().to_string(),
            task_id: task.id.0.clone(),
            status,
            started_at: entry.started_at.clone(),
            finished_at: entry.finished_at.clone(),
            error,
        };
        self.state.save(self.state_path)?;
        self.engine
            .record(self.lock, &record)
            .await
            .map_err(|source| ExecError::Engine {
                task: task.id.0.clone(),
                source,
            })?;
        Ok(())
    }

    fn engine_err(task: &Task) -> impl FnOnce(EngineError) -> ExecError + '_ {
        move |source| ExecError::Engine {
            task: task.id.0.clone(),
            source,
        }
    }

    /// Whether the catalog shows every one of the effects.
    async fn effects_present(
        &mut self,
        task: &Task,
        effects: &[Effect],
    ) -> Result<bool, ExecError> {
        for effect in effects {
            if !self
                .engine
                .effect_present(effect)
                .await
                .map_err(Self::engine_err(task))?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    async fn run_task(&mut self, task: &Task) -> Result<(), ExecError> {
        let started = Instant::now();
        let outcome = match &task.kind {
            TaskKind::Milestone(crate::graph::Milestone::Enter { point }) => {
                self.mark(task, TaskStatus::Done, None, None).await?;
                self.observer.event(Event::PointReached {
                    point: point.to_string(),
                });
                return Ok(());
            }
            TaskKind::Milestone(crate::graph::Milestone::Barrier) => {
                return self.mark(task, TaskStatus::Done, None, None).await;
            }
            TaskKind::Hook(hook) => self.hook_task(task, hook).await?,
            TaskKind::Rollout(r) => {
                self.begin(task, false).await?;
                self.roll(task, r).await?;
                TaskOutcome::Done { attempts: 1 }
            }
            TaskKind::Action { step } => match step {
                Step::Sql(sql) => self.sql_task(task, sql).await?,
                Step::Rebuild(r) => self.rebuild_task(task, r).await?,
                Step::Backfill(b) => {
                    self.begin(task, true).await?;
                    match self.backfill(task, b, false).await? {
                        Some(_) => TaskOutcome::Done { attempts: 1 },
                        None => TaskOutcome::Interrupted,
                    }
                }
                Step::Check(c) => self.check_task(task, c).await?,
            },
        };
        match outcome {
            TaskOutcome::Done { attempts } => {
                failpoint(&format!("after:{}", task.id));
                self.mark(task, TaskStatus::Done, None, None).await?;
                self.observer.event(Event::TaskDone {
                    id: task.id.0.clone(),
                    elapsed: started.elapsed(),
                    attempts,
                });
                Ok(())
            }
            TaskOutcome::AlreadyDone => {
                self.observer.event(Event::TaskAlreadyDone {
                    id: task.id.0.clone(),
                });
                self.mark(task, TaskStatus::Done, None, Some("already applied".into()))
                    .await
            }
            // Stays running, resumable.
            TaskOutcome::Interrupted => Ok(()),
        }
    }

    /// A task starts: told, recorded as running, then (for tasks that have
    /// one) its `before:` failpoint.
    async fn begin(&mut self, task: &Task, failpoint_before: bool) -> Result<(), ExecError> {
        self.observer.event(Event::TaskStarted {
            id: task.id.0.clone(),
            summary: task.summary.clone(),
        });
        self.mark(task, TaskStatus::Running, None, None).await?;
        if failpoint_before {
            failpoint(&format!("before:{}", task.id));
        }
        Ok(())
    }

    async fn hook_task(
        &mut self,
        task: &Task,
        hook: &crate::graph::Hook,
    ) -> Result<TaskOutcome, ExecError> {
        self.begin(task, true).await?;
        fleet::run_hook(&self.opts.steps, task.version, hook)
            .await
            .map_err(|e| ExecError::Fleet {
                task: task.id.0.clone(),
                message: format!(
                    "{e}. Fix the cause (see the fleet log {}), then `zerodown resume` runs the hook again",
                    self.opts.steps.log_path.display()
                ),
            })?;
        Ok(TaskOutcome::Done { attempts: 1 })
    }

    async fn sql_task(
        &mut self,
        task: &Task,
        sql: &crate::ops::SqlStep,
    ) -> Result<TaskOutcome, ExecError> {
        let check = !matches!(sql.effect, Effect::RecordedOnly | Effect::Rerunnable);
        if check && self.effect_present(task, &sql.effect).await? {
            return Ok(TaskOutcome::AlreadyDone);
        }
        if sql.effect == Effect::RecordedOnly
            && self.state.task_status(&task.id.0) == TaskStatus::Running
        {
            return Err(ExecError::Uncertain {
                task: task.id.0.clone(),
                message: format!(
                    "this raw SQL task was running when the previous run stopped, and zerodown cannot \
                     tell from the catalog whether it took effect: check the database, then set the \
                     task's \"status\" in {} to \"done\" if it did, or to \"pending\" to have \
                     `zerodown resume` run it",
                    self.state_path.display()
                ),
            });
        }
        self.begin(task, true).await?;
        let attempts = self
            .engine
            .execute(self.lock, sql, &self.opts.lock)
            .await
            .map_err(Self::engine_err(task))?;
        if check && !self.effect_present(task, &sql.effect).await? {
            return Err(ExecError::Check {
                task: task.id.0.clone(),
                message: format!(
                    "the statements ran but the catalog does not show their effect ({:?})",
                    sql.effect
                ),
            });
        }
        Ok(TaskOutcome::Done { attempts })
    }

    async fn effect_present(&mut self, task: &Task, effect: &Effect) -> Result<bool, ExecError> {
        self.engine
            .effect_present(effect)
            .await
            .map_err(Self::engine_err(task))
    }

    async fn rebuild_task(
        &mut self,
        task: &Task,
        r: &crate::ops::RebuildStep,
    ) -> Result<TaskOutcome, ExecError> {
        // Every edit's effect in the catalog: taken effect (a rebuild is
        // one transaction, so all or none of them).
        if r.checkable() && self.effects_present(task, &r.effects()).await? {
            return Ok(TaskOutcome::AlreadyDone);
        }
        self.begin(task, true).await?;
        let attempts = self
            .engine
            .rebuild(self.lock, r, &self.opts.lock)
            .await
            .map_err(Self::engine_err(task))?;
        if r.checkable() && !self.effects_present(task, &r.effects()).await? {
            return Err(ExecError::Check {
                task: task.id.0.clone(),
                message: format!(
                    "the rebuild of {} ran but the catalog does not show its effect ({:?})",
                    r.table,
                    r.effects()
                ),
            });
        }
        Ok(TaskOutcome::Done { attempts })
    }

    async fn check_task(
        &mut self,
        task: &Task,
        c: &crate::ops::CheckStep,
    ) -> Result<TaskOutcome, ExecError> {
        self.begin(task, true).await?;
        // A gate guarding a backfill first catches up the rows that old
        // releases wrote after the backfill passed.
        if c.kind == CheckKind::Gate {
            if let Some(backfill) = self.sibling_backfill(task) {
                if self.backfill(task, &backfill, true).await?.is_none() {
                    return Ok(TaskOutcome::Interrupted);
                }
            }
        }
        let n = self
            .engine
            .count(&c.count_sql)
            .await
            .map_err(Self::engine_err(task))?;
        if n == 0 {
            return Ok(TaskOutcome::Done { attempts: 1 });
        }
        let sample = match &c.sample_sql {
            Some(sql) => self
                .engine
                .sample(sql)
                .await
                .map(|rows| {
                    rows.into_iter()
                        .map(|r| format!("({})", r.join(", ")))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
            None => String::new(),
        };
        let what = match c.kind {
            CheckKind::Gate => "gate",
            CheckKind::Violations => "check",
        };
        Err(ExecError::Check {
            task: task.id.0.clone(),
            message: format!(
                "{what} failed: {n} row(s) break \"{}\"{}; fix the data (or re-run the backfill), then `zerodown resume`",
                c.guards,
                if sample.is_empty() { String::new() } else { format!(" (first keys: {sample})") }
            ),
        })
    }

    /// Roll a batch of nodes at once (the batch is at most
    /// `max_unavailable`). Nodes already upgraded are skipped; a node the
    /// state records half-way goes on after its last finished step. Every
    /// step a node finishes is saved in the state file as it happens.
    async fn roll(&mut self, task: &Task, r: &crate::graph::Rollout) -> Result<(), ExecError> {
        use fleet::{NodeState, NodeStatus, RollFrom};
        let todo: Vec<(String, RollFrom)> = r
            .nodes
            .iter()
            .filter_map(|n| match self.state.nodes.get(n) {
                Some(s) if s.status == NodeStatus::Upgraded && s.release == r.to_release => None,
                prior => Some((n.clone(), RollFrom::after(prior.map(|s| s.status)))),
            })
            .collect();
        for (node, from) in &todo {
            let release = match from {
                RollFrom::Health => r.to_release.clone(),
                RollFrom::Drain | RollFrom::Upgrade => r.from_release.clone(),
            };
            self.state.nodes.insert(
                node.clone(),
                NodeState {
                    group: r.group.clone(),
                    release,
                    status: from.status(),
                    since: Some(state::now()),
                    error: None,
                },
            );
            self.observer.event(Event::NodeRolling {
                group: r.group.clone(),
                node: node.clone(),
                from: r.from_release.clone(),
                to: r.to_release.clone(),
            });
        }
        self.state.save(self.state_path)?;
        failpoint(&format!("before:{}", task.id));
        let (tx, mut updates) = tokio::sync::mpsc::unbounded_channel();
        let steps = self.opts.steps.clone();
        let work = futures_util::future::join_all(todo.iter().map(|(node, from)| {
            let (steps, tx) = (&steps, tx.clone());
            async move { fleet::roll_node(steps, r, node, *from, &tx).await }
        }));
        drop(tx);
        tokio::pin!(work);
        let results = loop {
            tokio::select! {
                Some(update) = updates.recv() => self.node_update(r, update)?,
                results = &mut work => break results,
            }
        };
        while let Ok(update) = updates.try_recv() {
            self.node_update(r, update)?;
        }
        let errors: Vec<String> = results
            .into_iter()
            .filter_map(|res| res.err().map(|e| e.to_string()))
            .collect();
        let upgraded = self
            .state
            .nodes
            .values()
            .filter(|s| {
                s.group == r.group && s.status == NodeStatus::Upgraded && s.release == r.to_release
            })
            .count();
        self.observer.event(Event::GroupProgress {
            group: r.group.clone(),
            upgraded,
            total: self.group_size(&r.group),
            release: r.to_release.clone(),
        });
        if errors.is_empty() {
            return Ok(());
        }
        let upgraded: Vec<String> = self
            .state
            .nodes
            .iter()
            .filter(|(_, s)| s.status == NodeStatus::Upgraded)
            .map(|(n, s)| format!("{n} on {}", s.release))
            .collect();
        Err(ExecError::Fleet {
            task: task.id.0.clone(),
            message: format!(
                "{}. The run halts before contract. Nodes upgraded so far: {}. Fix the cause (see the fleet log {}), \
                 then `zerodown resume` retries the failed nodes; upgraded nodes are not rolled again",
                errors.join("; "),
                if upgraded.is_empty() { "none".to_string() } else { upgraded.join(", ") },
                self.opts.steps.log_path.display()
            ),
        })
    }

    /// Record a node's new status in the state file, then tell the observer.
    fn node_update(
        &mut self,
        r: &crate::graph::Rollout,
        update: fleet::NodeUpdate,
    ) -> Result<(), ExecError> {
        use fleet::NodeStatus;
        let fleet::NodeUpdate {
            node,
            status,
            error,
        } = update;
        let entry = self
            .state
            .nodes
            .get_mut(&node)
            .expect("a rolling node is in the state");
        entry.status = status;
        entry.since = Some(state::now());
        entry.error = error.clone();
        match status {
            NodeStatus::Installed | NodeStatus::Upgraded => entry.release = r.to_release.clone(),
            NodeStatus::RolledBack => entry.release = r.from_release.clone(),
            NodeStatus::Draining
            | NodeStatus::Drained
            | NodeStatus::RollingBack
            | NodeStatus::Broken => {}
        }
        self.state.save(self.state_path)?;
        failpoint(&format!("node:{node}:{}", status.name()));
        let group = r.group.clone();
        let event = match status {
            NodeStatus::Installed => Event::NodeInstalled {
                group,
                node,
                release: r.to_release.clone(),
            },
            NodeStatus::Upgraded => Event::NodeUpgraded {
                group,
                node,
                release: r.to_release.clone(),
            },
            NodeStatus::RollingBack => Event::NodeRollingBack {
                group,
                node,
                to: r.from_release.clone(),
                error: error.unwrap_or_default(),
            },
            NodeStatus::RolledBack => Event::NodeRolledBack {
                group,
                node,
                release: r.from_release.clone(),
            },
            NodeStatus::Broken => Event::NodeFailed {
                group,
                node,
                error: error.unwrap_or_default(),
            },
            NodeStatus::Draining | NodeStatus::Drained => return Ok(()),
        };
        self.observer.event(event);
        Ok(())
    }

    /// The run halts (a failure or a signal) while a version's rollout is
    /// open: its plan's before hook started, in this run or an earlier one
    /// (or, without a before hook, a rollout task started), and its after
    /// hook is not done. Run the after hook now, so what the before hook
    /// changed does not outlive the run, and set the before hook back to
    /// pending, so `resume` runs it again before the next node. The after
    /// hook task itself stays pending: it runs again when the rollout
    /// ends. Returns the hook and its error when it fails.
    async fn close_open_rollouts(&mut self, failed: Option<&TaskId>) -> Option<(String, String)> {
        let plan = self.plan;
        let plan_hook = |version: u32, when: HookWhen| {
            plan.graph.tasks().find(|t| {
                t.version == version
                    && matches!(&t.kind, TaskKind::Hook(h) if h.group.is_none() && h.when == when)
            })
        };
        let mut failure = None;
        for v in plan.graph.milestones.keys() {
            let Some(after) = plan_hook(*v, HookWhen::After) else {
                continue;
            };
            let TaskKind::Hook(hook) = &after.kind else {
                continue;
            };
            let started = |t: &Task| self.state.task_status(&t.id.0) != TaskStatus::Pending;
            let before = plan_hook(*v, HookWhen::Before);
            let open = match before {
                Some(b) => started(b),
                None => plan.graph.tasks().any(|t| {
                    t.version == *v && matches!(t.kind, TaskKind::Rollout(_)) && started(t)
                }),
            };
            if !open
                || self.state.task_status(&after.id.0) == TaskStatus::Done
                || failed == Some(&after.id)
            {
                continue;
            }
            let result = fleet::run_hook(&self.opts.steps, after.version, hook).await;
            self.observer.event(Event::HookOnHalt {
                id: after.id.0.clone(),
                error: result.as_ref().err().map(ToString::to_string),
            });
            if let Some(b) = before {
                if self.state.task_status(&b.id.0) == TaskStatus::Done {
                    // If even this cannot be recorded, the halt's own error
                    // is the one to report; the hook is idempotent anyway.
                    let _ = self
                        .mark(
                            b,
                            TaskStatus::Pending,
                            None,
                            Some(format!(
                                "{} ran when the run halted; this hook runs again before the next node",
                                after.id
                            )),
                        )
                        .await;
                }
            }
            if let Err(e) = result {
                failure.get_or_insert((after.id.0.clone(), e.to_string()));
            }
        }
        failure
    }

    /// Stop at a safe point on a signal; an open rollout is closed first.
    async fn interrupted(&mut self) -> Result<Outcome, ExecError> {
        let hook_failure = self.close_open_rollouts(None).await;
        self.state.status = RunStatus::Interrupted;
        self.state.save(self.state_path)?;
        match hook_failure {
            None => Ok(Outcome::Interrupted),
            Some((hook, error)) => Err(ExecError::Fleet {
                task: hook,
                message: format!(
                    "the run stopped on a signal and the plan's after hook, run to close the rollout, failed: {error}. \
                     Whatever its before hook changed is still changed: run the after hook by hand (see the fleet log), \
                     then `zerodown resume`"
                ),
            }),
        }
    }

    fn group_size(&self, group: &str) -> usize {
        self.plan
            .versions
            .iter()
            .flat_map(|v| v.fleet.iter())
            .filter(|g| g.name == group)
            .map(|g| g.nodes.len())
            .max()
            .unwrap_or(0)
    }

    /// Wait while the pause file exists.
    async fn wait_while_paused(&mut self) {
        let Some(path) = self.opts.pause_file.clone() else {
            return;
        };
        let mut told = false;
        while path.exists() && !self.stop.requested() {
            if !told {
                self.observer.event(Event::Paused {
                    path: path.display().to_string(),
                });
                told = true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The backfill of the same owner as a gate (`…/backfill` beside `…/gate`).
    fn sibling_backfill(&self, gate: &Task) -> Option<crate::ops::BackfillStep> {
        let owner = gate
            .id
            .0
            .strip_prefix(&format!("v{}/contract/", gate.version))?
            .strip_suffix("/gate")?;
        let id = format!("v{}/migrate/{owner}/backfill", gate.version);
        let ix = self.plan.graph.by_id.get(&crate::graph::TaskId(id))?;
        match &self.plan.graph.task(*ix).kind {
            TaskKind::Action {
                step: Step::Backfill(b),
            } => Some(b.clone()),
            _ => None,
        }
    }

    /// Why the next backfill batch should wait, if it should: a replica
    /// lagging, or the server busier than the operator allows.
    async fn throttle(&mut self) -> Result<Option<Throttle>, EngineError> {
        if let Some(max) = self.opts.max_replica_lag {
            if let Some(lag) = self.engine.replica_lag().await? {
                if lag > max {
                    return Ok(Some(Throttle::ReplicaLag(lag)));
                }
            }
        }
        if let Some(max) = self.opts.max_running {
            if let Some(running) = self.engine.running_statements().await? {
                if running > max {
                    return Ok(Some(Throttle::Running(running)));
                }
            }
        }
        Ok(None)
    }

    /// Walk the table in key order from the checkpoint. `Ok(None)` when a
    /// stop was requested between batches. A catch-up pass starts from the
    /// first key and keeps no checkpoint.
    async fn backfill(
        &mut self,
        task: &Task,
        b: &crate::ops::BackfillStep,
        catch_up: bool,
    ) -> Result<Option<u64>, ExecError> {
        let id = task.id.0.clone();
        let mut cp = if catch_up {
            BackfillCheckpoint::default()
        } else {
            self.state.backfills.get(&id).cloned().unwrap_or_default()
        };
        let estimate = self
            .engine
            .estimate_rows(&b.table)
            .await
            .map_err(Self::engine_err(task))?;
        self.observer.event(Event::BackfillStarted {
            id: id.clone(),
            table: b.table.clone(),
            estimate,
            resumed_rows: cp.rows,
        });
        let started = Instant::now();
        let rows_at_start = cp.rows;
        // Left out of rows/s (and so of the ETA): the pauses are told on
        // their own, the rate is how fast batches go.
        let mut paused_total = Duration::ZERO;
        loop {
            if self.stop.requested() {
                return Ok(None);
            }
            // Asked again every 500 ms while paused; the observer hears of
            // the pause once when it starts and once when it ends, so a long
            // pause does not flood the output.
            let mut paused_since: Option<Instant> = None;
            while let Some(why) = self.throttle().await.map_err(Self::engine_err(task))? {
                if self.stop.requested() {
                    // The checkpoint is saved: `resume` goes on from it,
                    // without a batch forced onto a busy server now.
                    return Ok(None);
                }
                if paused_since.is_none() {
                    paused_since = Some(Instant::now());
                    self.observer.event(Event::Throttled {
                        id: id.clone(),
                        why,
                    });
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            if let Some(since) = paused_since {
                let paused = since.elapsed();
                paused_total += paused;
                self.observer.event(Event::ThrottleEnded {
                    id: id.clone(),
                    paused,
                });
            }
            let outcome = self
                .engine
                .backfill_batch(self.lock, b, cp.last_key.as_deref(), &self.opts.lock)
                .await
                .map_err(Self::engine_err(task))?;
            cp.rows += outcome.rows;
            cp.batches += 1;
            failpoint(&format!("batch:{id}:{}", cp.batches));
            let done = outcome.upper.is_none();
            cp.last_key = outcome.upper;
            if !catch_up {
                self.state.backfills.insert(id.clone(), cp.clone());
                self.state.save(self.state_path)?;
            }
            let secs = started
                .elapsed()
                .saturating_sub(paused_total)
                .as_secs_f64()
                .max(1e-3);
            self.observer.event(Event::BackfillProgress {
                id: id.clone(),
                rows: cp.rows,
                estimate,
                rows_per_sec: (cp.rows - rows_at_start) as f64 / secs,
            });
            if done {
                return Ok(Some(cp.batches));
            }
            if b.pause_ms > 0 {
                tokio::time::sleep(Duration::from_millis(b.pause_ms)).await;
            }
        }
    }
}

/// Run the plan's tasks from where the state file says, up to
/// `opts.until`. The caller holds the run lock (`lock`), loaded or created
/// the state file, and checked that it belongs to this plan and database.
#[allow(clippy::too_many_arguments)] // the run's whole context, each distinct
pub async fn run<E: Engine, O: Observer>(
    engine: &mut E,
    lock: &RunLock,
    plan: &CheckedPlan,
    state: &mut StateFile,
    state_path: &Path,
    opts: &RunOptions,
    observer: &mut O,
    stop: &StopFlag,
) -> Result<Outcome, ExecError> {
    let hashes: HashMap<u32, String> = plan
        .versions
        .iter()
        .map(|v| (v.version, v.hash.clone()))
        .collect();
    state.status = RunStatus::Running;
    state.save(state_path)?;
    let mut runner = Runner {
        engine,
        lock,
        plan,
        state,
        state_path,
        opts,
        observer,
        stop,
        hashes,
    };
    let order: Vec<_> = plan.graph.order.clone();
    // Pre-flight before the first node step of the run: on a fresh run that
    // is before any change; after `--until migrate`, before the rollout.
    let rollout_started = plan.graph.tasks().any(|t| {
        matches!(t.kind, TaskKind::Rollout(_) | TaskKind::Hook(_))
            && runner.state.task_status(&t.id.0) != TaskStatus::Pending
    });
    if opts.preflight && !rollout_started {
        let rollouts: Vec<&crate::graph::Rollout> = plan
            .graph
            .tasks()
            .filter_map(|t| match &t.kind {
                TaskKind::Rollout(r) if task_allowed(opts.until, t) => Some(r),
                _ => None,
            })
            .collect();
        if !rollouts.is_empty() {
            let failing = fleet::preflight(&opts.steps, &rollouts).await;
            if !failing.is_empty() {
                let nothing_changed = runner
                    .state
                    .tasks
                    .values()
                    .all(|t| t.status == TaskStatus::Pending);
                runner.state.status = RunStatus::Failed;
                runner.state.save(state_path)?;
                return Err(ExecError::Preflight {
                    failing,
                    nothing_changed,
                });
            }
        }
    }
    for ix in order {
        let task = plan.graph.task(ix);
        if runner.state.task_status(&task.id.0) == TaskStatus::Done {
            continue;
        }
        if !task_allowed(opts.until, task) {
            runner.state.status = RunStatus::Stopped;
            runner.state.save(state_path)?;
            return Ok(Outcome::ReachedUntil(opts.until));
        }
        runner.wait_while_paused().await;
        if stop.requested() {
            return runner.interrupted().await;
        }
        if let Err(e) = runner.run_task(task).await {
            let message = e.to_string();
            runner.observer.event(Event::TaskFailed {
                id: task.id.0.clone(),
                error: message.clone(),
            });
            // Record the failure; if even that fails, the original error
            // is what the user needs to see. A task whose effect is unknown
            // stays running, so the next resume refuses it again instead
            // of running it a second time.
            if !matches!(e, ExecError::Uncertain { .. }) {
                let _ = runner
                    .mark(task, TaskStatus::Failed, Some(message), None)
                    .await;
            }
            let hook_failure = runner.close_open_rollouts(Some(&task.id)).await;
            runner.state.status = RunStatus::Failed;
            let _ = runner.state.save(state_path);
            return Err(match hook_failure {
                None => e,
                Some((hook, error)) => ExecError::HookOnHalt {
                    halt: Box::new(e),
                    hook,
                    error,
                },
            });
        }
        if stop.requested() && runner.state.task_status(&task.id.0) != TaskStatus::Done {
            return runner.interrupted().await;
        }
    }
    runner.state.status = RunStatus::Done;
    runner.state.save(state_path)?;
    Ok(Outcome::Completed)
}

/// Where each version stands according to the history table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionStatus {
    pub version: u32,
    pub plan_hash: String,
    /// Tasks per status.
    pub done: usize,
    pub total_recorded: usize,
    pub running: Vec<String>,
    pub failed: Vec<(String, String)>,
    /// The furthest milestone reached (`expand`, `migrate`, `contract`, `done`).
    pub reached: Option<String>,
}

/// Summarize the history table per version.
pub fn version_status(history: &[HistoryRecord]) -> Vec<VersionStatus> {
    let mut by_version: BTreeMap<u32, VersionStatus> = BTreeMap::new();
    for r in history {
        let v = by_version
            .entry(r.version)
            .or_insert_with(|| VersionStatus {
                version: r.version,
                plan_hash: r.plan_hash.clone(),
                done: 0,
                total_recorded: 0,
                running: Vec::new(),
                failed: Vec::new(),
                reached: None,
            });
        v.total_recorded += 1;
        match r.status {
            TaskStatus::Done => {
                v.done += 1;
                let milestone = r
                    .task_id
                    .strip_prefix(&format!("v{}/", r.version))
                    .unwrap_or("");
                let rank = |m: &str| {
                    ["expand", "expanded", "migrate", "contract", "done"]
                        .iter()
                        .position(|x| *x == m)
                };
                if let Some(new) = rank(milestone) {
                    let old = v.reached.as_deref().and_then(rank);
                    if old.is_none_or(|o| new > o) {
                        v.reached = Some(milestone.to_string());
                    }
                }
            }
            TaskStatus::Running => v.running.push(r.task_id.clone()),
            TaskStatus::Failed => v
                .failed
                .push((r.task_id.clone(), r.error.clone().unwrap_or_default())),
            TaskStatus::Pending | TaskStatus::Undone => {}
        }
    }
    by_version.into_values().collect()
}
/// How a task's own work ended, before the lifecycle records it.
enum TaskOutcome {
    /// Done now, in this many attempts.
    Done { attempts: u32 },
    /// The catalog shows it was done before: nothing ran.
    AlreadyDone,
    /// Stopped by a signal mid-way (a backfill): it stays running, and
    /// `resume` goes on from its checkpoint.
    Interrupted,
}
