//! The planner: from a plan set on disk to a checked plan.
//!
//! ```text
//! plan files ─▶ schema model at the baseline ─▶ per change: parse (sqlparser)
//!   ─▶ lower to an Operation ─▶ classify + decompose per engine ─▶ apply to
//!   the model ─▶ task graph ─▶ compatibility proof ─▶ CheckedPlan
//! ```
//!
//! The planner touches no database and writes nothing: a `CheckedPlan` is
//! plain data that the renderers print and the executor runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sqlparser::ast::{AssignmentTarget, Statement};
use sqlparser::parser::Parser;

use crate::classify::{self, Classification, Context, Refusal};
use crate::compat::{self, Proof};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::dialect::EngineKind;
use crate::graph::{self, GraphError, Origin, SourcedAction, TaskGraph, TaskId, VersionWork};
use crate::ops::parse::{lower, normalize_ident};
use crate::ops::{Action, BackfillStep, CheckKind, CheckStep, ObjectRef, Operation, Step, Symbol};
use crate::plan::{
    Backfill, ChangeEntry, FleetGroup, Hooks, Phase, Plan, PlanSet, SchemaPoint, Span,
};
use crate::schema::{self, Schema, SchemaSource};

/// How the planner finds the starting schema.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// `--schema FILE`: the schema before the first plan of the set.
    pub schema_file: Option<PathBuf>,
    /// The schema the database has (introspected, or saved in a state
    /// file), with its version: overrides the schema files.
    pub baseline: Option<Schema>,
    /// Plan no version above this one (`apply --to`).
    pub to_version: Option<u32>,
}

/// A change of a plan, checked and classified.
#[derive(Clone, Debug, Serialize)]
pub struct PlannedChange {
    pub index: usize,
    pub line: u64,
    /// As written in the plan.
    pub sql: String,
    pub operation: Operation,
    pub classification: Classification,
    /// The version whose contract runs this change's contract actions, when
    /// deferred (`contract_in`).
    pub contract_in: Option<u32>,
    pub tasks: Vec<TaskId>,
}

/// A `backfills:` entry, checked.
#[derive(Clone, Debug, Serialize)]
pub struct PlannedBackfill {
    pub index: usize,
    pub table: String,
    pub set: String,
    pub pending: String,
    pub batch_size: u32,
    pub tasks: Vec<TaskId>,
}

/// One plan of the run.
#[derive(Clone, Debug, Serialize)]
pub struct PlannedVersion {
    pub version: u32,
    pub path: PathBuf,
    /// SHA-256 of the plan file.
    pub hash: String,
    pub description: String,
    pub changes: Vec<PlannedChange>,
    pub backfills: Vec<PlannedBackfill>,
    #[serde(skip)]
    pub fleet: Vec<FleetGroup>,
    /// The plan's hooks around the rollout.
    #[serde(skip)]
    pub hooks: Hooks,
    /// Groups and their release change, for the output.
    pub fleet_summary: Vec<FleetSummary>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FleetSummary {
    pub group: String,
    pub nodes: Vec<String>,
    pub from_release: String,
    pub to_release: String,
    pub batch_size: usize,
    pub after: Vec<String>,
}

/// Something the reviewer must know that is not an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Note {
    pub version: Option<u32>,
    pub message: String,
}

/// A plan set, checked: every change classified, the graph built, the
/// fleet proven safe.
#[derive(Clone, Debug, Serialize)]
pub struct CheckedPlan {
    pub dir: PathBuf,
    pub engine: EngineKind,
    /// The point the run starts from.
    pub base: SchemaPoint,
    pub schema_source: SchemaSource,
    /// The plans of the run, in version order (empty: nothing to do).
    pub versions: Vec<PlannedVersion>,
    #[serde(skip)]
    pub graph: TaskGraph,
    /// The schema model once every plan of the run is applied (what
    /// `abort` looks names up in).
    #[serde(skip)]
    pub final_schema: Schema,
    pub proof: Option<Proof>,
    pub notes: Vec<Note>,
    /// Tasks the database's history already records as done (`plan
    /// --database` on a run in progress): not shown, not counted.
    pub done: BTreeSet<TaskId>,
    /// Sizes of the tables the run backfills, when planned against a
    /// database.
    pub tables: Vec<TableEstimate>,
}

/// A table a run backfills or rebuilds, as the database sizes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TableEstimate {
    pub table: String,
    pub rows: Option<u64>,
    /// At `BACKFILL_ROWS_PER_SEC`, for every backfill of the table.
    pub backfill_seconds: Option<f64>,
    /// At `REBUILD_ROWS_PER_SEC`, for every rebuild of the table (SQLite),
    /// each holding the database's write lock for that long.
    pub rebuild_seconds: Option<f64>,
}

/// The backfill rate the estimates assume: batches of 5,000 to 10,000 rows
/// by primary key on a 2-core machine reach 50k–150k rows/s; the estimate
/// takes the low end, so it errs long.
pub const BACKFILL_ROWS_PER_SEC: f64 = 50_000.0;

/// The copy rate a SQLite table rebuild's estimate assumes (rows copied,
/// indexes rebuilt, in one transaction). Measured on the project's 2-core
/// machine (`cargo bench --bench sqlite_rebuild`): 550k–690k rows/s for 500k
/// rows of 5 columns with 2 secondary indexes, 240k–460k under heavier load;
/// the estimate takes 100k rows/s, so it errs long (wider rows and more
/// indexes copy slower).
pub const REBUILD_ROWS_PER_SEC: f64 = 100_000.0;

impl CheckedPlan {
    /// Whether running the plan would change anything.
    pub fn has_changes(&self) -> bool {
        self.graph
            .tasks()
            .any(|t| !t.is_milestone() && !self.done.contains(&t.id))
    }
}

/// What the baseline is and which plans are history.
struct Baseline {
    schema: Schema,
    source: SchemaSource,
}

fn baseline(
    set: &PlanSet,
    engine: EngineKind,
    opts: &PlanOptions,
) -> Result<Baseline, Diagnostics> {
    let first = set.plans.first().map(|p| p.version).unwrap_or(1);
    if let Some(schema) = &opts.baseline {
        return Ok(Baseline {
            schema: schema.clone(),
            source: SchemaSource::Database,
        });
    }
    if let Some(path) = &opts.schema_file {
        let version = crate::plan::version_in_file_name(path).unwrap_or(first.saturating_sub(1));
        let schema = schema::load_schema_file(path, engine, version)?;
        return Ok(Baseline {
            schema,
            source: SchemaSource::File { path: path.clone() },
        });
    }
    if let Some(dir) = &set.schema_dir {
        // The newest snapshot no earlier plan still owes a deferred
        // contract to (that plan's contract actions need the plan).
        let mut below = u32::MAX;
        loop {
            match schema::load_schema_dir(dir, engine, below)? {
                None => break,
                Some((schema, source)) => {
                    let owes = set.plans.iter().any(|p| {
                        p.version <= schema.version
                            && p.changes.iter().any(|c| {
                                matches!(c.entry, ChangeEntry::Sql { contract_in: Some(t), .. } if t > schema.version)
                            })
                    });
                    if !owes {
                        return Ok(Baseline { schema, source });
                    }
                    below = schema.version;
                }
            }
        }
    }
    let schema = Schema {
        version: first.saturating_sub(1),
        namespace: engine.fixed_namespace().map(str::to_string),
        ..Schema::default()
    };
    Ok(Baseline {
        schema,
        source: SchemaSource::Empty,
    })
}

/// A backfill's `SET` and `WHERE`, parsed and rendered back from the AST.
struct ParsedBackfill {
    set: String,
    pending: String,
    /// The columns it assigns.
    columns: Vec<String>,
    /// `(column, expression)` when it assigns exactly one column.
    single: Option<(String, String)>,
}

fn parse_backfill(b: &Backfill, engine: EngineKind) -> Result<ParsedBackfill, String> {
    let table = engine.quote_ident(&b.table);
    let sql = format!("UPDATE {table} SET {} WHERE {}", b.set, b.pending);
    let stmts = Parser::parse_sql(&*engine.sql_dialect(), &sql).map_err(|e| e.to_string())?;
    match stmts.as_slice() {
        [Statement::Update(u)] => {
            let set = u
                .assignments
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let pending = u
                .selection
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            let mut columns = Vec::new();
            for a in &u.assignments {
                match &a.target {
                    AssignmentTarget::ColumnName(name) => {
                        if let Some(ident) = name.0.last().and_then(|p| p.as_ident()) {
                            columns.push(normalize_ident(ident));
                        }
                    }
                    AssignmentTarget::Tuple(names) => {
                        for name in names {
                            if let Some(ident) = name.0.last().and_then(|p| p.as_ident()) {
                                columns.push(normalize_ident(ident));
                            }
                        }
                    }
                }
            }
            let single = match u.assignments.as_slice() {
                [a] if columns.len() == 1 => Some((columns[0].clone(), a.value.to_string())),
                _ => None,
            };
            Ok(ParsedBackfill {
                set,
                pending,
                columns,
                single,
            })
        }
        _ => Err("`set` and `where` must make one UPDATE (no `;`)".to_string()),
    }
}

fn change_diag(
    plan: &Plan,
    index: usize,
    span: Span,
    message: impl Into<String>,
    help: impl Into<String>,
) -> Diagnostic {
    plan.diag(span, message).change(index).help(help)
}

/// Everything one plan contributes, before the graph is built.
struct VersionParts {
    version: u32,
    expand: Vec<SourcedAction>,
    /// Backfills from decompositions, then the user's, then the rest of the
    /// migrate actions: constraints are checked once the data is clean.
    migrate_backfills: Vec<SourcedAction>,
    migrate_user: Vec<SourcedAction>,
    migrate_rest: Vec<SourcedAction>,
    contract: Vec<SourcedAction>,
}

impl VersionParts {
    fn new(version: u32) -> Self {
        VersionParts {
            version,
            expand: Vec::new(),
            migrate_backfills: Vec::new(),
            migrate_user: Vec::new(),
            migrate_rest: Vec::new(),
            contract: Vec::new(),
        }
    }

    fn push(&mut self, sa: SourcedAction) {
        match sa.action.phase {
            Phase::Expand => self.expand.push(sa),
            Phase::Migrate if matches!(sa.action.step, Step::Backfill(_)) => {
                self.migrate_backfills.push(sa)
            }
            Phase::Migrate => self.migrate_rest.push(sa),
            Phase::Contract => self.contract.push(sa),
        }
    }

    fn into_actions(self) -> Vec<SourcedAction> {
        let mut all = self.expand;
        all.extend(self.migrate_backfills);
        all.extend(self.migrate_user);
        all.extend(self.migrate_rest);
        all.extend(self.contract);
        all
    }
}

/// The ID of a raw change: the user's, or one derived from its SQL.
fn raw_id(id: &Option<String>, sql: &str) -> String {
    match id {
        Some(id) => id.clone(),
        None => {
            use sha2::{Digest, Sha256};
            let d = Sha256::digest(sql.trim().as_bytes());
            format!(
                "sql-{}",
                d.iter()
                    .take(4)
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            )
        }
    }
}

/// Check a plan set: the whole pipeline.
pub fn check(set: &PlanSet, opts: &PlanOptions) -> Result<CheckedPlan, Diagnostics> {
    let engine = match set.plans.first() {
        Some(p) => p.engine,
        None => return Err(Diagnostic::new(&set.dir, "no plans in this directory").into()),
    };
    let Baseline { mut schema, source } = baseline(set, engine, opts)?;
    let base = SchemaPoint::complete(schema.version);
    let pending: Vec<&Plan> = set
        .plans
        .iter()
        .filter(|p| p.version > schema.version)
        .collect();

    let mut errors: Vec<Diagnostic> = Vec::new();
    if let Some(selected) = &set.selected {
        for v in selected {
            if !pending.iter().any(|p| p.version == *v) {
                let path = set
                    .plans
                    .iter()
                    .find(|p| p.version == *v)
                    .map(|p| p.path.clone())
                    .unwrap_or_else(|| set.dir.clone());
                errors.push(
                    Diagnostic::new(path, format!("plan {v} is already part of the baseline schema (version {})", schema.version))
                        .help("the newest file in schemas/ is the schema at its version; plans up to it are history"),
                );
            }
        }
    }
    let in_run = |v: u32| {
        set.selected.as_ref().is_none_or(|s| s.contains(&v))
            && opts.to_version.is_none_or(|to| v <= to)
    };
    let all_versions: BTreeSet<u32> = set.plans.iter().map(|p| p.version).collect();

    let mut parts: BTreeMap<u32, VersionParts> = pending
        .iter()
        .map(|p| (p.version, VersionParts::new(p.version)))
        .collect();
    let mut versions: Vec<PlannedVersion> = Vec::new();
    let mut notes: Vec<Note> = Vec::new();

    for plan in &pending {
        if plan.engine != engine {
            continue; // reported by the loader
        }
        let v = plan.version;
        let mut planned = PlannedVersion {
            version: v,
            path: plan.path.clone(),
            hash: plan.hash.clone(),
            description: plan.description.clone(),
            changes: Vec::new(),
            backfills: Vec::new(),
            fleet: plan.fleet.clone(),
            hooks: plan.hooks.clone(),
            fleet_summary: plan
                .fleet
                .iter()
                .map(|g| FleetSummary {
                    group: g.name.clone(),
                    nodes: g.nodes.clone(),
                    from_release: g.from_release.clone(),
                    to_release: g.to_release.clone(),
                    batch_size: g.max_unavailable.batch_size(g.nodes.len()),
                    after: g.after.clone(),
                })
                .collect(),
        };

        // Backfills first: their expressions feed the decompositions.
        let mut parsed_backfills = Vec::new();
        let mut backfill_exprs = Vec::new();
        for b in &plan.backfills {
            match parse_backfill(b, engine) {
                Ok(pb) => {
                    if let Some((col, expr)) = &pb.single {
                        backfill_exprs.push((b.table.clone(), col.clone(), expr.clone()));
                    }
                    parsed_backfills.push(Some(pb));
                }
                Err(msg) => {
                    errors.push(
                        plan.diag(b.span, format!("backfill #{}: {msg}", b.index))
                            .help("`set` is an assignment list such as `note = ''`, `where` a condition such as `note IS NULL`"),
                    );
                    parsed_backfills.push(None);
                }
            }
        }
        let ctx = Context {
            version: v,
            soft_drop: plan.soft_drop,
            backfill_exprs: &backfill_exprs,
            batch_size: crate::plan::DEFAULT_BATCH_SIZE,
        };

        for change in &plan.changes {
            let (op, sql, contract_in, soft_drop) = match &change.entry {
                ChangeEntry::Raw { id, sql, phase } => (
                    Operation::Raw {
                        id: raw_id(id, sql),
                        sql: sql.clone(),
                        phase: *phase,
                    },
                    sql.clone(),
                    None,
                    None,
                ),
                ChangeEntry::Sql {
                    sql,
                    contract_in,
                    soft_drop,
                } => {
                    let stmts = match Parser::parse_sql(&*engine.sql_dialect(), sql) {
                        Ok(s) => s,
                        Err(e) => {
                            errors.push(change_diag(
                                plan,
                                change.index,
                                change.span,
                                format!("cannot parse the statement as {engine} SQL: {e}"),
                                "fix the statement; if it is valid for your server but the parser cannot read it, \
                                 use the escape hatch: `- raw: \"...\"` with `phase: expand|migrate|contract`",
                            ));
                            continue;
                        }
                    };
                    let stmt = match stmts.as_slice() {
                        [s] => s,
                        [] => {
                            errors.push(change_diag(
                                plan,
                                change.index,
                                change.span,
                                "the change is empty",
                                "write one SQL statement",
                            ));
                            continue;
                        }
                        many => {
                            errors.push(change_diag(
                                plan,
                                change.index,
                                change.span,
                                format!("the change holds {} statements", many.len()),
                                "write one statement per change, so each is classified and phased on its own",
                            ));
                            continue;
                        }
                    };
                    match lower(stmt, engine, &schema) {
                        Ok(op) => (op, sql.clone(), *contract_in, *soft_drop),
                        Err(u) => {
                            errors.push(change_diag(
                                plan,
                                change.index,
                                change.span,
                                u.message,
                                u.help,
                            ));
                            continue;
                        }
                    }
                }
            };
            if let Some(t) = contract_in {
                if !all_versions.contains(&t) {
                    errors.push(change_diag(
                        plan,
                        change.index,
                        change.span,
                        format!("contract_in: {t}, but there is no plan with version {t}"),
                        "add that plan (its contract will run this change's contract actions), or remove `contract_in`",
                    ));
                }
            }
            let change_ctx = Context {
                soft_drop: soft_drop.unwrap_or(plan.soft_drop),
                ..ctx.clone()
            };
            let analysis = classify::analyze(engine, &op, &schema, &change_ctx).and_then(|a| {
                match unwalkable_backfill(engine, &schema, &a.actions) {
                    Some(refusal) => Err(refusal),
                    None => Ok(a),
                }
            });
            if let Err(e) = schema.apply(&op, contract_in) {
                errors.push(change_diag(
                    plan,
                    change.index,
                    change.span,
                    e.message,
                    e.help,
                ));
                continue;
            }
            let analysis = match analysis {
                Ok(a) => a,
                Err(r) => {
                    errors.push(change_diag(
                        plan,
                        change.index,
                        change.span,
                        format!("refused ({}): {}", r.rule, r.reason),
                        r.help,
                    ));
                    continue;
                }
            };
            let owner = format!("{}/{}", op.kind_name(), op.subject());
            let origin = Origin::Change {
                version: v,
                index: change.index,
            };
            let mut task_ids = Vec::new();
            for action in analysis.actions {
                let target = match (action.phase, contract_in) {
                    (Phase::Contract, Some(t)) => t,
                    _ => v,
                };
                task_ids.push(TaskId(format!(
                    "v{target}/{}/{}/{}",
                    action.phase.name(),
                    owner,
                    action.key
                )));
                if let Some(p) = parts.get_mut(&target) {
                    p.push(SourcedAction {
                        action,
                        origin: origin.clone(),
                        owner: owner.clone(),
                    });
                }
            }
            planned.changes.push(PlannedChange {
                index: change.index,
                line: change.span.line,
                sql,
                operation: op,
                classification: analysis.classification,
                contract_in,
                tasks: task_ids,
            });
        }

        // The user's backfills, against the model after the changes.
        for (b, pb) in plan.backfills.iter().zip(parsed_backfills) {
            let Some(pb) = pb else { continue };
            let Some(table) = schema.table(&b.table) else {
                errors.push(
                    plan.diag(b.span, format!("backfill #{}: no table `{}` in the schema at this point", b.index, b.table))
                        .help("backfills run after the plan's expand changes: the table must exist by then"),
                );
                continue;
            };
            if table.primary_key.is_empty() {
                errors.push(
                    plan.diag(b.span, format!("backfill #{}: table `{}` has no primary key", b.index, b.table))
                        .help("backfills walk the primary key in batches; add a primary key in an earlier plan"),
                );
                continue;
            }
            if let Some(r) = classify::unwalkable_key(engine, table) {
                errors.push(
                    plan.diag(
                        b.span,
                        format!("backfill #{}: refused ({}): {}", b.index, r.rule, r.reason),
                    )
                    .help(format!(
                        "write the backfill as a raw change instead (`- raw: \"UPDATE {} SET … WHERE …\"` with `phase: migrate`), which runs in one statement, not in batches, and holds its row locks until it commits; or first give {} a primary key of one of these types, in an earlier plan",
                        b.table, b.table
                    )),
                );
                continue;
            }
            let missing: Vec<&String> = pb
                .columns
                .iter()
                .filter(|c| table.column(c).is_none())
                .collect();
            if let Some(col) = missing.first() {
                errors.push(
                    plan.diag(
                        b.span,
                        format!(
                            "backfill #{}: table `{}` has no column `{col}`",
                            b.index, b.table
                        ),
                    )
                    .help(format!(
                        "columns of {}: {}",
                        b.table,
                        table.column_names().join(", ")
                    )),
                );
                continue;
            }
            let owner = match &pb.single {
                Some((col, _)) => format!("backfill/{}.{col}", b.table),
                None => format!("backfill/{}.{}", b.table, pb.columns.join("+")),
            };
            let step = BackfillStep {
                engine,
                table: b.table.clone(),
                key: table.primary_key.clone(),
                set: pb.set.clone(),
                pending: pb.pending.clone(),
                batch_size: b.batch_size,
                pause_ms: b.pause.as_millis() as u64,
            };
            let keys = engine.quote_list(&table.primary_key);
            let gate = CheckStep {
                kind: CheckKind::Gate,
                count_sql: step.remaining_sql(),
                sample_sql: Some(format!(
                    "SELECT {keys} FROM {} WHERE {} ORDER BY {keys} LIMIT 5",
                    engine.quote_ident(&b.table),
                    pb.pending
                )),
                guards: format!("no row of {} left un-backfilled ({})", b.table, pb.pending),
            };
            let objects: Vec<ObjectRef> = pb
                .columns
                .iter()
                .map(|c| ObjectRef::column(&b.table, c))
                .collect();
            let origin = Origin::Backfill {
                version: v,
                index: b.index,
            };
            let backfill = Action {
                key: "backfill".into(),
                phase: Phase::Migrate,
                symbol: Symbol::Change,
                summary: format!(
                    "backfill {}: SET {} WHERE {} ({} rows per batch)",
                    b.table, pb.set, pb.pending, b.batch_size
                ),
                step: Step::Backfill(step),
                creates: Vec::new(),
                needs: objects.clone(),
                removes: Vec::new(),
            };
            let gate = Action {
                key: "gate".into(),
                phase: Phase::Contract,
                symbol: Symbol::Change,
                summary: format!("gate: no row of {} where {}", b.table, pb.pending),
                step: Step::Check(gate),
                creates: Vec::new(),
                needs: objects,
                removes: Vec::new(),
            };
            let ids = vec![
                TaskId(format!("v{v}/migrate/{owner}/backfill")),
                TaskId(format!("v{v}/contract/{owner}/gate")),
            ];
            let p = parts.get_mut(&v).expect("every pending version has parts");
            p.migrate_user.push(SourcedAction {
                action: backfill,
                origin: origin.clone(),
                owner: owner.clone(),
            });
            p.contract.push(SourcedAction {
                action: gate,
                origin,
                owner,
            });
            planned.backfills.push(PlannedBackfill {
                index: b.index,
                table: b.table.clone(),
                set: pb.set,
                pending: pb.pending,
                batch_size: b.batch_size,
                tasks: ids,
            });
        }

        schema.finish_contract(v);
        schema.version = v;

        if in_run(v) {
            if plan.fleet.is_empty()
                && planned
                    .changes
                    .iter()
                    .any(|c| c.tasks.iter().any(|t| t.0.contains("/contract/")))
            {
                notes.push(Note {
                    version: Some(v),
                    message: format!(
                        "plan {v} has no fleet: `apply` stops before contract unless `--until contract` is given; \
                         first make sure no running release still uses what contract removes"
                    ),
                });
            }
            versions.push(planned);
        }
    }

    // Deferred contracts that land outside this run.
    for planned in &versions {
        for c in &planned.changes {
            if let Some(t) = c.contract_in {
                if !in_run(t) || !pending.iter().any(|p| p.version == t) {
                    notes.push(Note {
                        version: Some(planned.version),
                        message: format!("change #{} defers its contract to version {t}, which is not part of this run", c.index),
                    });
                }
            }
        }
    }

    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }

    let work_parts: Vec<VersionParts> = parts.into_values().filter(|p| in_run(p.version)).collect();
    let fleets: BTreeMap<u32, (&[FleetGroup], &Hooks)> = versions
        .iter()
        .map(|pv| (pv.version, (pv.fleet.as_slice(), &pv.hooks)))
        .collect();
    let no_hooks = Hooks::default();
    let work: Vec<VersionWork<'_>> = work_parts
        .into_iter()
        .map(|p| {
            let version = p.version;
            let (fleet, hooks) = fleets.get(&version).copied().unwrap_or((&[], &no_hooks));
            VersionWork {
                version,
                actions: p.into_actions(),
                fleet,
                hooks,
            }
        })
        .collect();
    let graph = graph::build(&work).map_err(|errs| graph_diagnostics(&set.dir, errs))?;

    let has_fleet = versions.iter().any(|v| !v.fleet.is_empty());
    let proof = if has_fleet {
        let Some(releases) = &set.releases else {
            let v = versions
                .iter()
                .find(|v| !v.fleet.is_empty())
                .expect("has_fleet");
            let plan = pending
                .iter()
                .find(|p| p.version == v.version)
                .expect("planned from pending");
            return Err(plan
                .diag(plan.fleet[0].span, "the plan rolls a fleet, but there is no releases.yaml beside it")
                .help(format!(
                    "create {} mapping each release to the schema points it supports, e.g. `\"1.4.0\": \"1 ..= 2.migrate\"`",
                    set.dir.join(crate::plan::RELEASES_FILE).display()
                ))
                .into());
        };
        let proof = compat::prove(&graph, base, releases);
        if !proof.holds() {
            return Err(proof_diagnostics(&proof, &pending, releases));
        }
        Some(proof)
    } else {
        None
    };

    Ok(CheckedPlan {
        dir: set.dir.clone(),
        engine,
        base,
        schema_source: source,
        versions,
        graph,
        final_schema: schema,
        proof,
        notes,
        done: BTreeSet::new(),
        tables: Vec::new(),
    })
}

fn graph_diagnostics(dir: &Path, errs: Vec<GraphError>) -> Diagnostics {
    Diagnostics(
        errs.into_iter()
            .map(|e| match e {
                GraphError::DuplicateId { id, first, second } => Diagnostic::new(
                    dir,
                    format!("two tasks would share the ID {id} ({first:?} and {second:?})"),
                )
                .help("two changes do the same thing to the same object; remove one"),
                GraphError::Cycle { among } => Diagnostic::new(
                    dir,
                    format!(
                        "the tasks depend on each other in a cycle: {}",
                        among
                            .iter()
                            .map(|t| t.0.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .help("this is a bug in zerodown's planner; please report it with the plan"),
            })
            .collect(),
    )
}

fn proof_diagnostics(
    proof: &Proof,
    pending: &[&Plan],
    releases: &crate::plan::Releases,
) -> Diagnostics {
    let mut out = Vec::new();
    let fleet_span = |group: &str| {
        pending.iter().find_map(|p| {
            p.fleet
                .iter()
                .find(|g| g.name == group)
                .map(|g| (*p, g.span))
        })
    };
    for c in &proof.conflicts {
        let msg = format!(
            "unsafe rollout: release {} (supports {}) of group `{}` can meet schema point {}: {}",
            c.release, c.range, c.group, c.point, c.explanation
        );
        let help = format!(
            "conflicting tasks: {} and {}. Either the release supports {} (widen its range in {}), or the plan must change \
             (move the group's rollout, or defer the contract with `contract_in`)",
            c.rollout,
            c.schema_task,
            c.point,
            releases.path.display()
        );
        let d = match fleet_span(&c.group) {
            Some((plan, span)) => plan.diag(span, msg),
            None => Diagnostic::new(&releases.path, msg),
        };
        out.push(d.help(help));
    }
    for u in &proof.unknown {
        let msg = format!(
            "release {} of group `{}` is not in {}",
            u.release,
            u.group,
            releases.path.display()
        );
        let d = match fleet_span(&u.group) {
            Some((plan, span)) => plan.diag(span, msg),
            None => Diagnostic::new(&releases.path, msg),
        };
        out.push(d.help(format!(
            "add `\"{}\": \"FIRST ..= LAST\"` to {} with the schema points the release supports",
            u.release,
            releases.path.display()
        )));
    }
    Diagnostics(out)
}

/// The refusal of the first backfill among `actions` whose table's key the
/// engine cannot walk (see [`classify::unwalkable_key`]), against the model
/// the change finds: every action whose step is a backfill, whichever
/// decomposition made it.
fn unwalkable_backfill(engine: EngineKind, schema: &Schema, actions: &[Action]) -> Option<Refusal> {
    actions.iter().find_map(|a| match &a.step {
        Step::Backfill(b) => schema
            .table(&b.table)
            .and_then(|t| classify::unwalkable_key(engine, t)),
        _ => None,
    })
}
