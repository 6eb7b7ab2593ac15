//! The commands that drive a run — `apply`, `resume`, `abort`, `status` —
//! as library functions over an [`Engine`]: every check before a run
//! (unfinished state, changed plan, other database, a second run) lives
//! here, once, and the CLI only connects and prints.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::diagnostic::Diagnostics;
use crate::engine::{
    DatabaseIdentity, Engine, EngineError, HistoryRecord, LockPolicy, RunLock, TaskStatus,
};
use crate::exec::fleet::{NodeState, NodeStatus};
use crate::exec::{
    self, Event, ExecError, Observer, Outcome, PlanRef, RunOptions, RunStatus, StateError,
    StateFile, StopFlag, Until, VersionStatus,
};
use crate::graph::{Stage, TaskKind};
use crate::ops::Step;
use crate::plan::{self, PlanSet};
use crate::planner::{self, CheckedPlan, PlanOptions};
use crate::schema::Schema;

/// What `apply` / `resume` were asked.
#[derive(Clone, Debug)]
pub struct RunRequest {
    pub state_path: PathBuf,
    /// `--until`; `None` means: contract when every plan rolls a fleet,
    /// else stop before contract.
    pub until: Option<Until>,
    pub to_version: Option<u32>,
    pub lock: LockPolicy,
    pub max_replica_lag: Option<std::time::Duration>,
    pub max_running: Option<u64>,
    /// While this file exists, the run waits between steps.
    pub pause_file: Option<PathBuf>,
}

/// Why a command refused to start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{0}")]
    Plan(Diagnostics),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// Another session still held the run lock when `--lock-wait` ran out.
    #[error("{held}: still held after waiting {} (--lock-wait): a second run is refused, not queued; try again once that run has ended", wait_text(*.waited))]
    LockStillHeld { held: EngineError, waited: Duration },
    /// The command cannot run as asked; the message says what to do.
    #[error("{0}")]
    Refused(String),
}

/// How `apply` / `resume` ended.
#[derive(Debug)]
pub struct RunReport {
    pub outcome: Outcome,
    /// The versions of the run.
    pub versions: Vec<u32>,
    pub until: Until,
    /// Why the run stops before contract, when it does by default.
    pub notes: Vec<String>,
}

/// The run options of a request. Fleet steps run in zerodown's working
/// directory, like any command the operator types.
fn run_options(req: &RunRequest, until: Until) -> RunOptions {
    let mut opts = RunOptions::new(until, req.lock.clone(), &req.state_path, Path::new("."));
    opts.max_replica_lag = req.max_replica_lag;
    opts.max_running = req.max_running;
    opts.pause_file = req.pause_file.clone();
    opts
}

/// `apply` found nothing pending.
pub const NOTHING_TO_DO: &str = "nothing to do: the database is up to date";

fn refused(msg: impl Into<String>) -> SessionError {
    SessionError::Refused(msg.into())
}

/// The versions the history says are complete, and one in progress.
fn history_versions(history: &[HistoryRecord]) -> (Option<u32>, Option<VersionStatus>) {
    let statuses = exec::version_status(history);
    let done = statuses
        .iter()
        .filter(|v| v.reached.as_deref() == Some("done"))
        .map(|v| v.version)
        .max();
    let in_progress = statuses.into_iter().find(|v| {
        v.reached.as_deref() != Some("done")
            && (v.done > 0 || !v.running.is_empty() || !v.failed.is_empty())
    });
    (done, in_progress)
}

/// Load the plan set of a directory (exactly one).
pub fn load_set(dir: &Path) -> Result<PlanSet, SessionError> {
    let mut sets = plan::discover(&[dir.to_path_buf()]).map_err(SessionError::Plan)?;
    match sets.len() {
        1 => Ok(sets.remove(0)),
        n => Err(refused(format!(
            "{} holds {n} plan sets (sub-directories); apply one at a time: zerodown apply {}/<set>",
            dir.display(),
            dir.display()
        ))),
    }
}

/// Contract removes what old releases may still use; without a fleet the
/// run cannot know that none runs, so it stops before the contract of a
/// fleet-less version. A version whose contract has nothing to do (only a
/// created table, say) is no reason to stop.
fn default_until(plan: &CheckedPlan, notes: &mut Vec<String>) -> Until {
    let fleetless: BTreeSet<u32> = plan
        .versions
        .iter()
        .filter(|v| v.fleet.is_empty())
        .map(|v| v.version)
        .collect();
    let contract_waits = plan.graph.tasks().any(|t| {
        t.stage == Stage::Contract
            && !t.is_milestone()
            && fleetless.contains(&t.version)
            && !plan.done.contains(&t.id)
    });
    if !contract_waits {
        Until::Contract
    } else {
        notes.push(
            "stopping before contract: a plan without a fleet cannot know that no running release still uses what \
             contract removes. Once every node runs a release that supports the new schema, run \
             `zerodown apply --until contract` (same plan, same state file)."
                .to_string(),
        );
        Until::Migrate
    }
}

/// A wait as the messages show it: whole milliseconds under a second,
/// else seconds to a tenth.
fn wait_text(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// How long a held run lock waits before the next attempt.
const LOCK_RETRY: Duration = Duration::from_millis(50);

/// Take the run lock, trying again for up to `wait` while another session
/// holds it: the session of a run killed a moment ago keeps it until its
/// server notices the dead connection. A wait is told once when it starts
/// and once when it ends; a lock still held at the deadline is refused
/// with its holder, as the last attempt saw it.
async fn take_lock<E: Engine, O: Observer>(
    engine: &mut E,
    wait: Duration,
    observer: &mut O,
) -> Result<RunLock, SessionError> {
    let started = Instant::now();
    let mut waiting = false;
    loop {
        let holder = match engine.try_lock().await {
            Ok(lock) => {
                if waiting {
                    observer.event(Event::RunLockTaken {
                        waited: started.elapsed(),
                    });
                }
                return Ok(lock);
            }
            Err(EngineError::LockHeld { holder }) => holder,
            Err(other) => return Err(other.into()),
        };
        let left = wait.saturating_sub(started.elapsed());
        if left.is_zero() {
            let held = EngineError::LockHeld { holder };
            return Err(SessionError::LockStillHeld {
                held,
                waited: started.elapsed(),
            });
        }
        if !waiting {
            waiting = true;
            observer.event(Event::RunLockWait { holder, wait });
        }
        tokio::time::sleep(LOCK_RETRY.min(left)).await;
    }
}

/// Run `f` under a run lock taken by `take_lock`, and release it.
async fn with_lock<E: Engine, T>(
    engine: &mut E,
    lock: RunLock,
    f: impl AsyncFnOnce(&mut E, &RunLock) -> Result<T, SessionError>,
) -> Result<T, SessionError> {
    let result = f(engine, &lock).await;
    let unlocked = engine.unlock(lock).await;
    let value = result?;
    unlocked?;
    Ok(value)
}

fn plan_refs(plan: &CheckedPlan) -> Vec<PlanRef> {
    plan.versions
        .iter()
        .map(|v| PlanRef {
            version: v.version,
            path: v.path.clone(),
            hash: v.hash.clone(),
        })
        .collect()
}

/// `zerodown apply`: plan against the live database and run.
pub async fn apply<E: Engine, O: Observer>(
    engine: &mut E,
    dir: &Path,
    req: &RunRequest,
    observer: &mut O,
    stop: &StopFlag,
) -> Result<RunReport, SessionError> {
    let set = load_set(dir)?;
    let engine_kind = set.plans[0].engine;
    if engine_kind != engine.kind() {
        return Err(refused(format!(
            "the plans in {} target {engine_kind}, but the database is {}",
            dir.display(),
            engine.kind()
        )));
    }
    let identity = engine.identity().await?;
    let previous = StateFile::load(&req.state_path)?;
    if let Some(prev) = &previous {
        // A run that stopped before its first task (a failed pre-flight)
        // changed nothing: a new apply may start over it.
        let changed = prev.tasks.values().any(|t| t.status != TaskStatus::Pending);
        if prev.status.is_unfinished() && changed {
            return Err(refused(format!(
                "{} records an unfinished run ({:?}, versions {}): finish it with `zerodown resume --state {}`, or undo \
                 its expand with `zerodown abort --state {}`",
                req.state_path.display(),
                prev.status,
                prev.plans.iter().map(|p| p.version.to_string()).collect::<Vec<_>>().join(", "),
                req.state_path.display(),
                req.state_path.display()
            )));
        }
    }
    let aborted = previous
        .as_ref()
        .filter(|p| p.status == RunStatus::Aborted && p.database == identity)
        .cloned();
    let lock = take_lock(engine, req.lock.run_lock_wait, observer).await?;
    with_lock(engine, lock, async |engine, lock| {
        // A run stopped at `--until` continues with the same plans.
        if let Some(prev) = previous.filter(|p| p.status == RunStatus::Stopped && p.database == identity) {
            check_same_run(&prev, dir, req)?;
            return continue_run(engine, lock, prev, req, observer, stop).await;
        }
        let history = engine.history().await?;
        let (done, in_progress) = history_versions(&history);
        if let Some(v) = in_progress {
            return Err(refused(format!(
                "version {} is in progress in this database ({} tasks done, {} running, {} failed), but {} does not \
                 record it: resume with the state file of the run that started it",
                v.version,
                v.done,
                v.running.len(),
                v.failed.len(),
                req.state_path.display()
            )));
        }
        let mut schema = engine.introspect().await?;
        schema.version = match done {
            Some(v) => v,
            None => base_version_without_history(&set),
        };
        let mut notes = Vec::new();
        if let Some((base, kept)) = aborted.as_ref().and_then(|prev| baseline_after_abort(prev, &schema)) {
            notes.push(format!(
                "planned against the schema before the aborted run: abort kept what its expand changed in place ({}); \
                 those tasks are found done",
                kept.join("; ")
            ));
            schema = base;
        }
        let opts = PlanOptions { baseline: Some(schema.clone()), to_version: req.to_version, ..PlanOptions::default() };
        let checked = planner::check(&set, &opts).map_err(SessionError::Plan)?;
        if !checked.has_changes() {
            return Err(refused(NOTHING_TO_DO));
        }
        let until = req.until.unwrap_or_else(|| default_until(&checked, &mut notes));
        let mut state = StateFile {
            format: exec::state::STATE_FORMAT,
            zerodown_version: env!("CARGO_PKG_VERSION").to_string(),
            // Absolute, so that `resume` finds the plans from any directory.
            plan_dir: std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()),
            plans: plan_refs(&checked),
            database: identity.clone(),
            base_schema: schema,
            until,
            to_version: req.to_version,
            status: RunStatus::Running,
            tasks: Default::default(),
            backfills: Default::default(),
            nodes: Default::default(),
            updated_at: String::new(),
        };
        state.save(&req.state_path)?;
        let opts = run_options(req, until);
        let outcome = exec::run(engine, lock, &checked, &mut state, &req.state_path, &opts, observer, stop).await?;
        Ok(RunReport { outcome, versions: checked.versions.iter().map(|v| v.version).collect(), until, notes })
    })
    .await
}

/// After `abort`, what the run's expand changed in place stays (a widened
/// type: narrowing it back would rewrite the table under an exclusive
/// lock), so the live schema differs from the run's starting schema in those
/// columns. When it differs in nothing else, the starting schema is the
/// baseline to plan against, with the kept columns described: the same
/// plans then apply again, and the executor finds those tasks done by their
/// effects. `None` when anything else differs (the live schema is then the
/// baseline, and a change already made is refused as changing nothing).
fn baseline_after_abort(prev: &StateFile, live: &Schema) -> Option<(Schema, Vec<String>)> {
    if prev.base_schema.version != live.version {
        return None;
    }
    let checked = replan(prev).ok()?;
    let in_place: BTreeSet<(String, String)> = checked
        .graph
        .tasks()
        .filter(|t| t.creates.is_empty())
        .filter_map(|t| match &t.kind {
            TaskKind::Action {
                step: Step::Sql(sql),
            } => sql.effect.column_definition(),
            _ => None,
        })
        .map(|(table, column)| (table.to_string(), column.to_string()))
        .collect();
    let mut expected = live.clone();
    let mut kept = Vec::new();
    for (table, column) in &in_place {
        let (Some(before), Some(now)) = (
            prev.base_schema.column(table, column),
            live.column(table, column),
        ) else {
            continue;
        };
        if before != now {
            kept.push(format!(
                "{table}.{column} {} (was {})",
                column_text(now),
                column_text(before)
            ));
            *expected.tables.column_mut(table, column)? = before.clone();
        }
    }
    if kept.is_empty() || without_estimates(&expected) != without_estimates(&prev.base_schema) {
        return None;
    }
    Some((expected, kept))
}

/// A column's definition as the plan output writes it.
fn column_text(c: &crate::schema::Column) -> String {
    let mut text = c.data_type.clone();
    if !c.nullable {
        text.push_str(" NOT NULL");
    }
    if let Some(d) = &c.default {
        text.push_str(&format!(" DEFAULT {d}"));
    }
    text
}

/// The schema without row estimates, which differ between two reads of the
/// catalog.
fn without_estimates(schema: &Schema) -> Schema {
    let mut copy = schema.clone();
    let names: Vec<String> = copy.tables.keys().cloned().collect();
    for name in names {
        if let Some(mut t) = copy.tables.get_mut(&name) {
            t.row_estimate = None;
        }
    }
    copy
}

/// A stopped run goes on with the plans it started with, so `apply` naming
/// another plan directory, or a `--to` that leaves out versions of the run,
/// would run something other than asked: refused, with the ways on.
fn check_same_run(prev: &StateFile, dir: &Path, req: &RunRequest) -> Result<(), SessionError> {
    let same_dir = match (prev.plan_dir.canonicalize(), dir.canonicalize()) {
        (Ok(recorded), Ok(given)) => recorded == given,
        _ => prev.plan_dir == dir,
    };
    let versions = prev
        .plans
        .iter()
        .map(|p| p.version.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let state = req.state_path.display();
    let recorded = prev.plan_dir.display();
    if !same_dir {
        return Err(refused(format!(
            "{state} records a run of {recorded} (versions {versions}) stopped after {}: go on with              `zerodown apply {recorded}` or `zerodown resume --state {state}`, or undo its expand with              `zerodown abort --state {state}`, before applying {}",
            prev.until.name(),
            dir.display()
        )));
    }
    if let Some(to) = req.to_version {
        if prev.plans.iter().any(|p| p.version > to) {
            return Err(refused(format!(
                "{state} records a run of versions {versions} stopped after {}, and --to {to} would leave out                  some of them: go on without --to, or undo its expand with `zerodown abort --state {state}`                  and start again with --to {to}",
                prev.until.name()
            )));
        }
    }
    Ok(())
}

/// The version a database without zerodown history is taken to be at: the
/// newest schema snapshot beside the plans, else the one before the first plan.
fn base_version_without_history(set: &PlanSet) -> u32 {
    let first = set
        .plans
        .first()
        .map(|p| p.version.saturating_sub(1))
        .unwrap_or(0);
    set.schema_dir
        .as_deref()
        .and_then(crate::snapshot::newest_schema_version)
        .unwrap_or(first)
}

/// Re-plan a recorded run exactly as it started and run it on.
async fn continue_run<E: Engine, O: Observer>(
    engine: &mut E,
    lock: &RunLock,
    mut state: StateFile,
    req: &RunRequest,
    observer: &mut O,
    stop: &StopFlag,
) -> Result<RunReport, SessionError> {
    let checked = replan(&state)?;
    if let Some(until) = req.until {
        state.until = until;
    }
    // The executor runs the pre-flight only while no node step has run.
    let opts = run_options(req, state.until);
    let outcome = exec::run(
        engine,
        lock,
        &checked,
        &mut state,
        &req.state_path,
        &opts,
        observer,
        stop,
    )
    .await?;
    Ok(RunReport {
        outcome,
        versions: checked.versions.iter().map(|v| v.version).collect(),
        until: state.until,
        notes: Vec::new(),
    })
}

/// The checked plan of a recorded run, refusing plans that changed since.
pub fn replan(state: &StateFile) -> Result<CheckedPlan, SessionError> {
    let mut set = load_set(&state.plan_dir)?;
    for recorded in &state.plans {
        match set.plans.iter().find(|p| p.version == recorded.version) {
            None => {
                return Err(refused(format!(
                    "plan version {} ({}) is gone from {}: restore it to resume, or abort the run",
                    recorded.version,
                    recorded.path.display(),
                    state.plan_dir.display()
                )))
            }
            Some(p) if p.hash != recorded.hash => {
                return Err(refused(format!(
                    "{} changed since the run started (its hash was {}, it is now {}): a run cannot go on with a \
                     different plan. Restore the file as it was (e.g. from version control) to resume, or abort the run",
                    p.path.display(),
                    &recorded.hash[..12.min(recorded.hash.len())],
                    &p.hash[..12.min(p.hash.len())]
                )))
            }
            Some(_) => {}
        }
    }
    set.selected = Some(
        state
            .plans
            .iter()
            .map(|p| p.version)
            .collect::<BTreeSet<u32>>(),
    );
    let opts = PlanOptions {
        baseline: Some(state.base_schema.clone()),
        to_version: state.to_version,
        ..PlanOptions::default()
    };
    planner::check(&set, &opts).map_err(SessionError::Plan)
}

fn check_identity(
    state: &StateFile,
    identity: &DatabaseIdentity,
    path: &Path,
) -> Result<(), SessionError> {
    if &state.database != identity {
        return Err(refused(format!(
            "{} belongs to a run on {}, but this is {}: point --database at the right database",
            path.display(),
            state.database,
            identity
        )));
    }
    Ok(())
}

/// `zerodown resume`: finish a run that failed, was interrupted or killed.
pub async fn resume<E: Engine, O: Observer>(
    engine: &mut E,
    req: &RunRequest,
    observer: &mut O,
    stop: &StopFlag,
) -> Result<RunReport, SessionError> {
    let Some(state) = StateFile::load(&req.state_path)? else {
        return Err(refused(format!(
            "there is no state file at {}: nothing to resume",
            req.state_path.display()
        )));
    };
    if !state.status.is_unfinished() && state.status != RunStatus::Stopped {
        return Err(refused(format!(
            "the run recorded in {} is {:?}: nothing to resume",
            req.state_path.display(),
            state.status
        )));
    }
    let identity = engine.identity().await?;
    check_identity(&state, &identity, &req.state_path)?;
    let lock = take_lock(engine, req.lock.run_lock_wait, observer).await?;
    with_lock(engine, lock, async |engine, lock| {
        continue_run(engine, lock, state, req, observer, stop).await
    })
    .await
}

/// What `abort` undid.
#[derive(Debug)]
pub struct AbortReport {
    pub steps: Vec<String>,
    /// What expand changed in place and abort keeps (`task: summary`): a
    /// widened type or a dropped NOT NULL accepts everything the old
    /// definition did, and undoing it could rewrite the table.
    pub kept: Vec<String>,
}

/// `zerodown abort`: undo what expand (and migrate) created, while contract
/// has not started.
pub async fn abort<E: Engine, O: Observer>(
    engine: &mut E,
    state_path: &Path,
    lock_policy: &LockPolicy,
    observer: &mut O,
) -> Result<AbortReport, SessionError> {
    let Some(mut state) = StateFile::load(state_path)? else {
        return Err(refused(format!(
            "there is no state file at {}: nothing to abort",
            state_path.display()
        )));
    };
    if state.status == RunStatus::Aborted {
        return Err(refused(format!(
            "the run in {} is already aborted",
            state_path.display()
        )));
    }
    let identity = engine.identity().await?;
    check_identity(&state, &identity, state_path)?;
    let checked = replan(&state)?;
    // Contract (and node rollouts, which put new code on the old schema's
    // successor) make the new schema the one data is written to: undoing
    // expand then would lose that data.
    // A node that may run a new release needs the new schema too, even
    // when its batch failed as a whole.
    if let Some((node, s)) = state.nodes.iter().find(|(_, s)| {
        matches!(
            s.status,
            NodeStatus::Installed
                | NodeStatus::Upgraded
                | NodeStatus::RollingBack
                | NodeStatus::Broken
        )
    }) {
        return Err(refused(format!(
            "cannot abort: node {node} may run release {} ({}), which may depend on the new schema: undoing expand \
             would break it. Finish the run with `zerodown resume` instead",
            s.release,
            s.status.name()
        )));
    }
    for task in checked.graph.tasks() {
        // Hooks change no schema and run no new code: they do not block.
        if matches!(task.stage, Stage::Rollout | Stage::Gate | Stage::Contract)
            && !task.is_milestone()
            && !matches!(task.kind, TaskKind::Hook(_))
            && matches!(
                state.task_status(&task.id.0),
                TaskStatus::Done | TaskStatus::Running
            )
        {
            return Err(refused(format!(
                "cannot abort: {} has {} ({}), so new code may already depend on the new schema and undoing expand \
                 would lose what it wrote. Finish the run with `zerodown resume` instead",
                task.id,
                if task.stage == Stage::Rollout { "rolled nodes" } else { "started contract" },
                state.task_status(&task.id.0).name()
            )));
        }
    }
    let lock = take_lock(engine, lock_policy.run_lock_wait, observer).await?;
    with_lock(engine, lock, async |engine, lock| {
        let created_tables: Vec<String> = checked
            .graph
            .tasks()
            .filter(|t| {
                matches!(
                    state.task_status(&t.id.0),
                    TaskStatus::Done | TaskStatus::Running | TaskStatus::Failed
                )
            })
            .flat_map(|t| t.creates.iter())
            .filter_map(|o| match o {
                crate::ops::ObjectRef::Table { name } => Some(name.clone()),
                _ => None,
            })
            .collect();
        // What to remove is looked up in the live catalog: objects expand
        // creates only for the run (a MySQL index copy, whose DROP needs its
        // table) are missing from the final schema.
        let live = engine.introspect().await?;
        let mut steps = Vec::new();
        let mut kept = Vec::new();
        let tasks: Vec<_> = checked.graph.tasks().collect();
        for task in tasks.iter().rev() {
            let status = state.task_status(&task.id.0);
            if !matches!(
                status,
                TaskStatus::Done | TaskStatus::Running | TaskStatus::Failed
            ) {
                continue;
            }
            if let TaskKind::Action {
                step: Step::Sql(sql),
            } = &task.kind
            {
                if task.creates.is_empty()
                    && sql.effect.column_definition().is_some()
                    && status == TaskStatus::Done
                {
                    kept.push(format!("{}: {}", task.id, task.summary));
                }
            }
            if let TaskKind::Action { .. } = task.kind {
                for object in task.creates.iter().rev() {
                    if let Some(rebuild) =
                        crate::ops::undo::undo_rebuild(checked.engine, object, &created_tables)
                    {
                        let mut present = true;
                        for effect in rebuild.effects() {
                            present &= engine.effect_present(&effect).await?;
                        }
                        if !present {
                            engine.rebuild(lock, &rebuild, lock_policy).await?;
                            steps.push(format!(
                                "rebuild {} ({})",
                                rebuild.table,
                                rebuild
                                    .edits
                                    .iter()
                                    .map(|e| e.describe())
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            ));
                        }
                        continue;
                    }
                    let Some(step) =
                        crate::ops::undo::undo_step(checked.engine, object, &live, &created_tables)
                    else {
                        continue;
                    };
                    if engine.effect_present(&step.effect).await? {
                        continue;
                    }
                    engine.execute(lock, &step, lock_policy).await?;
                    steps.extend(step.statements.iter().cloned());
                }
            }
            let record = HistoryRecord {
                version: task.version,
                plan_hash: checked
                    .versions
                    .iter()
                    .find(|v| v.version == task.version)
                    .map(|v| v.hash.clone())
                    .unwrap_or_default(),
                phase: task.stage.name().to_string(),
                task_id: task.id.0.clone(),
                status: TaskStatus::Undone,
                started_at: None,
                finished_at: Some(exec::state::now()),
                error: None,
            };
            engine.record(lock, &record).await?;
            if let Some(t) = state.tasks.get_mut(&task.id.0) {
                t.status = TaskStatus::Undone;
            }
            state.save(state_path)?;
        }
        state.status = RunStatus::Aborted;
        state.save(state_path)?;
        kept.reverse();
        Ok(AbortReport { steps, kept })
    })
    .await
}

/// What `status` shows.
#[derive(Debug)]
pub struct StatusReport {
    pub identity: DatabaseIdentity,
    pub versions: Vec<VersionStatus>,
    /// Per version, per stage: (done, total), when the state file and its
    /// plans are at hand.
    pub progress: Vec<VersionProgress>,
    /// Per version, per fleet group: where its nodes stand.
    pub fleet: Vec<GroupProgress>,
    pub state: Option<(PathBuf, RunStatus)>,
}

/// Where a fleet group's nodes stand, from the state file.
#[derive(Debug, PartialEq, Eq)]
pub struct GroupProgress {
    pub version: u32,
    pub group: String,
    pub from_release: String,
    pub to_release: String,
    /// Nodes in the group.
    pub total: usize,
    /// Nodes on `to_release` and healthy.
    pub upgraded: usize,
    /// Nodes the run has touched that are not upgraded (rolling, rolled
    /// back, broken), in the group's order.
    pub others: Vec<(String, NodeState)>,
    /// Nodes not touched yet.
    pub not_started: usize,
}

/// The groups of a run and where their nodes stand.
fn fleet_progress(checked: &CheckedPlan, state: &StateFile) -> Vec<GroupProgress> {
    let mut out = Vec::new();
    for v in &checked.versions {
        for g in &v.fleet {
            // Once a group's rollouts are done, its nodes were upgraded, even
            // if a later version has rolled them on since.
            let rolled = checked.graph.tasks().all(|t| {
                !matches!(&t.kind, TaskKind::Rollout(r) if t.version == v.version && r.group == g.name)
                    || state.task_status(&t.id.0) == TaskStatus::Done
            });
            let mut upgraded = 0;
            let mut others = Vec::new();
            for node in &g.nodes {
                match state.nodes.get(node) {
                    _ if rolled => upgraded += 1,
                    Some(s) if s.status == NodeStatus::Upgraded && s.release == g.to_release => {
                        upgraded += 1
                    }
                    Some(s) if s.group == g.name => others.push((node.clone(), s.clone())),
                    _ => {}
                }
            }
            out.push(GroupProgress {
                version: v.version,
                group: g.name.clone(),
                from_release: g.from_release.clone(),
                to_release: g.to_release.clone(),
                total: g.nodes.len(),
                upgraded,
                not_started: g.nodes.len() - upgraded - others.len(),
                others,
            });
        }
    }
    out
}

/// Tasks done per stage of one version.
#[derive(Debug)]
pub struct VersionProgress {
    pub version: u32,
    /// (stage, done, total), stages in order, empty stages left out.
    pub stages: Vec<(Stage, usize, usize)>,
}

/// `zerodown status`: read-only.
pub async fn status<E: Engine>(
    engine: &mut E,
    state_path: &Path,
) -> Result<StatusReport, SessionError> {
    let identity = engine.identity().await?;
    let history = engine.history().await?;
    let versions = exec::version_status(&history);
    let mut progress = Vec::new();
    let mut fleet = Vec::new();
    let mut state_info = None;
    if let Some(state) = StateFile::load(state_path)? {
        if state.database == identity {
            state_info = Some((state_path.to_path_buf(), state.status));
            if let Ok(checked) = replan(&state) {
                for v in &checked.versions {
                    let mut stages = Vec::new();
                    for stage in [
                        Stage::Expand,
                        Stage::Migrate,
                        Stage::Rollout,
                        Stage::Gate,
                        Stage::Contract,
                    ] {
                        let tasks: Vec<_> = checked
                            .graph
                            .tasks()
                            .filter(|t| {
                                t.version == v.version && t.stage == stage && !t.is_milestone()
                            })
                            .collect();
                        if tasks.is_empty() {
                            continue;
                        }
                        let done = tasks
                            .iter()
                            .filter(|t| state.task_status(&t.id.0) == TaskStatus::Done)
                            .count();
                        stages.push((stage, done, tasks.len()));
                    }
                    progress.push(VersionProgress {
                        version: v.version,
                        stages,
                    });
                }
                fleet = fleet_progress(&checked, &state);
            }
        }
    }
    Ok(StatusReport {
        identity,
        versions,
        progress,
        fleet,
        state: state_info,
    })
}

/// `zerodown plan --database`: plan against the live database, read-only.
/// Versions the history records as complete are history; a version in
/// progress is planned as its run started (from its state file) with the
/// tasks already done left out; the tables the run backfills are sized.
pub async fn plan_against_database<E: Engine>(
    engine: &mut E,
    set: &PlanSet,
    state_path: &Path,
) -> Result<CheckedPlan, SessionError> {
    let identity = engine.identity().await?;
    let history = engine.history().await?;
    let (done, in_progress) = history_versions(&history);
    let mut checked = match in_progress {
        Some(v) => {
            let state = StateFile::load(state_path)?
                .filter(|s| s.database == identity && s.plans.iter().any(|p| p.version == v.version))
                .ok_or_else(|| {
                    refused(format!(
                        "version {} is in progress in this database, and {} does not record that run: pass its \
                         state file with --state",
                        v.version,
                        state_path.display()
                    ))
                })?;
            replan(&state)?
        }
        None => {
            let mut schema = engine.introspect().await?;
            schema.version = done.unwrap_or_else(|| base_version_without_history(set));
            let opts = PlanOptions {
                baseline: Some(schema),
                ..PlanOptions::default()
            };
            planner::check(set, &opts).map_err(SessionError::Plan)?
        }
    };
    checked.done = history
        .iter()
        .filter(|r| r.status == TaskStatus::Done)
        .map(|r| crate::graph::TaskId(r.task_id.clone()))
        .filter(|id| checked.graph.by_id.contains_key(id))
        .collect();
    // Per table: its backfills and its rebuilds still to run.
    let mut tables: Vec<(String, u32, u32)> = Vec::new();
    for task in checked.graph.tasks() {
        let (table, backfill) = match &task.kind {
            TaskKind::Action {
                step: crate::ops::Step::Backfill(b),
            } => (&b.table, true),
            TaskKind::Action {
                step: crate::ops::Step::Rebuild(r),
            } => (&r.table, false),
            _ => continue,
        };
        if checked.done.contains(&task.id) {
            continue;
        }
        let i = match tables.iter().position(|(t, _, _)| t == table) {
            Some(i) => i,
            None => {
                tables.push((table.clone(), 0, 0));
                tables.len() - 1
            }
        };
        if backfill {
            tables[i].1 += 1;
        } else {
            tables[i].2 += 1;
        }
    }
    let mut estimates = Vec::new();
    for (table, backfills, rebuilds) in tables {
        // A table the plan creates is not there yet.
        let mut rows = engine.estimate_rows(&table).await.unwrap_or(None);
        if rows.is_none() && rebuilds > 0 {
            // A rebuild copies every row: worth counting them (a read,
            // which SQLite serves beside writers) when the catalog has no
            // estimate (never analysed).
            let sql = format!("SELECT COUNT(*) FROM {}", engine.kind().quote_ident(&table));
            rows = engine
                .count(&sql)
                .await
                .ok()
                .and_then(|n| u64::try_from(n).ok());
        }
        let seconds = |n: u32, rate: f64| {
            (n > 0)
                .then(|| rows.map(|r| r as f64 * f64::from(n) / rate))
                .flatten()
        };
        estimates.push(crate::planner::TableEstimate {
            backfill_seconds: seconds(backfills, crate::planner::BACKFILL_ROWS_PER_SEC),
            rebuild_seconds: seconds(rebuilds, crate::planner::REBUILD_ROWS_PER_SEC),
            table,
            rows,
        });
    }
    checked.tables = estimates;
    Ok(checked)
}

/// A table in the trash and what `purge` did with it.
#[derive(Debug)]
pub struct TrashedTable {
    pub name: String,
    /// When the soft drop finished (RFC 3339), from the history table.
    pub dropped_at: Option<String>,
    /// Old enough to purge.
    pub due: bool,
    pub purged: bool,
}

/// `zerodown purge`: drop soft-dropped tables whose drop is older than
/// `older_than`. Tables whose drop time is unknown are kept and listed.
pub async fn purge<E: Engine, O: Observer>(
    engine: &mut E,
    older_than: std::time::Duration,
    dry_run: bool,
    lock_policy: &LockPolicy,
    observer: &mut O,
) -> Result<Vec<TrashedTable>, SessionError> {
    use crate::ops::trash;
    let kind = engine.kind();
    let history = engine.history().await?;
    let names: Vec<String> = engine
        .sample(&trash::list_sql(kind))
        .await?
        .into_iter()
        .filter_map(|row| row.into_iter().next())
        .collect();
    let now = std::time::SystemTime::now();
    let mut out = Vec::new();
    for name in names {
        let dropped_at = trash::parse_name(kind, &name).and_then(|(table, version)| {
            let id = trash::drop_task_id(&table, version);
            history
                .iter()
                .filter(|r| r.task_id == id && r.status == TaskStatus::Done)
                .filter_map(|r| r.finished_at.clone())
                .max()
        });
        let old_enough = dropped_at
            .as_deref()
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age >= older_than);
        out.push(TrashedTable {
            name,
            dropped_at,
            due: old_enough,
            purged: old_enough && !dry_run,
        });
    }
    if out.iter().any(|t| t.purged) {
        let lock = take_lock(engine, lock_policy.run_lock_wait, observer).await?;
        with_lock(engine, lock, async |engine, lock| {
            for t in out.iter().filter(|t| t.purged) {
                engine
                    .execute(lock, &trash::purge_step(kind, &t.name), lock_policy)
                    .await?;
            }
            Ok(())
        })
        .await?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{sqlite, DatabaseUrl};

    /// Records the events it receives.
    #[derive(Default)]
    struct Recorder(Vec<Event>);

    impl Observer for Recorder {
        fn event(&mut self, event: Event) {
            self.0.push(event);
        }
    }

    /// Two connections to a fresh SQLite file (its run lock is a `flock`:
    /// no server needed to hold it from another session).
    async fn two_sessions(name: &str) -> (sqlite::Sqlite, sqlite::Sqlite, PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("zerodown-session-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = DatabaseUrl::parse(&format!("sqlite://{}/test.db", dir.display())).unwrap();
        let first = sqlite::connect(&url).await.unwrap();
        let second = sqlite::connect(&url).await.unwrap();
        (first, second, dir)
    }

    #[tokio::test]
    async fn a_lock_released_within_the_wait_is_taken_and_the_wait_told() {
        let (mut first, mut second, dir) = two_sessions("released").await;
        let held = first.try_lock().await.unwrap();
        let mut told = Recorder::default();
        let release = async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            first.unlock(held).await.unwrap();
        };
        let wait = Duration::from_secs(5);
        let (taken, ()) = tokio::join!(take_lock(&mut second, wait, &mut told), release);
        second.unlock(taken.unwrap()).await.unwrap();
        match told.0.as_slice() {
            [Event::RunLockWait {
                holder: Some(holder),
                wait: w,
            }, Event::RunLockTaken { waited }] => {
                assert!(holder.starts_with("pid "), "{holder}");
                assert_eq!(*w, wait);
                assert!(
                    *waited >= Duration::from_millis(150) && *waited < Duration::from_secs(2),
                    "{waited:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_lock_still_held_at_the_deadline_is_refused_with_its_holder() {
        let (mut first, mut second, dir) = two_sessions("held").await;
        let held = first.try_lock().await.unwrap();
        for wait in [Duration::ZERO, Duration::from_millis(200)] {
            let mut told = Recorder::default();
            let started = Instant::now();
            let refused = take_lock(&mut second, wait, &mut told).await;
            let took = started.elapsed();
            match refused {
                Err(SessionError::LockStillHeld {
                    held: EngineError::LockHeld { holder: Some(_) },
                    waited,
                }) => assert!(waited >= wait && took >= wait, "{waited:?}"),
                other => panic!("{:?}", other.map(|_| ())),
            }
            // Told once however many attempts; nothing at all without a wait.
            assert_eq!(told.0.len(), usize::from(!wait.is_zero()), "{:?}", told.0);
        }
        first.unlock(held).await.unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
