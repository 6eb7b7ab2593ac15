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

mod version;

use version::Planning;

use crate::compat::writes::{self, Leaving, PointSchema, Relaxed, Writes};
use crate::compat::{self, Proof};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::dialect::EngineKind;
use crate::graph::{self, GraphError, SourcedAction, TaskGraph, TaskId, VersionWork};
use crate::ops::Classification;
use crate::ops::{Operation, Step};
use crate::parse::normalize_ident;
use crate::plan::{
    Backfill, ChangeEntry, FleetGroup, Hooks, Phase, Plan, PlanSet, SchemaPoint, Span,
};
use crate::schema::Schema;
use crate::snapshot::SchemaSource;

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
    /// What each release of `releases.yaml` meets where its range claims
    /// it runs, when the plan set has releases.
    pub writes: Option<Writes>,
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
        let schema = crate::snapshot::load_schema_file(path, engine, version)?;
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
            match crate::snapshot::load_schema_dir(dir, engine, below)? {
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

/// The column `op` drops or renames away in version `v`, as writers meet
/// it until contract (see `writes::Leaving`), with its relaxation for the
/// drop if it needs one; checked against `schema` before `op` applies.
fn leaving(
    op: &Operation,
    schema: &Schema,
    fill: Option<&str>,
    v: u32,
) -> Option<(Leaving, Option<Relaxed>)> {
    match op {
        Operation::DropColumn { table, column } => {
            let mut col = schema.column(table, column)?.clone();
            let how = col.until_dropped(fill);
            if let Some(how) = &how {
                col.relax(how);
            }
            let relaxed = how.map(|how| Relaxed {
                table: table.clone(),
                column: column.clone(),
                how,
            });
            Some((
                Leaving {
                    table: table.clone(),
                    column: col,
                },
                relaxed,
            ))
        }
        Operation::RenameColumn { table, from, .. } => {
            let mut col = schema.column(table, from)?.clone();
            col.drop_at.get_or_insert(v); // filled by the sync triggers
            Some((
                Leaving {
                    table: table.clone(),
                    column: col,
                },
                None,
            ))
        }
        Operation::CreateTable { .. }
        | Operation::DropTable { .. }
        | Operation::RenameTable { .. }
        | Operation::AddColumn { .. }
        | Operation::AlterColumnType { .. }
        | Operation::SetNotNull { .. }
        | Operation::DropNotNull { .. }
        | Operation::SetDefault { .. }
        | Operation::DropDefault { .. }
        | Operation::CreateIndex { .. }
        | Operation::DropIndex { .. }
        | Operation::AddForeignKey { .. }
        | Operation::AddCheck { .. }
        | Operation::AddUnique { .. }
        | Operation::AddPrimaryKey { .. }
        | Operation::ValidateConstraint { .. }
        | Operation::DropConstraint { .. }
        | Operation::CreateView { .. }
        | Operation::DropView { .. }
        | Operation::Raw { .. } => None,
    }
}

/// Whether a statement drops a column: the one change `fill:` applies to.
fn drops_column(stmt: &Statement) -> bool {
    matches!(stmt, Statement::AlterTable(alter)
        if matches!(alter.operations.as_slice(), [sqlparser::ast::AlterTableOperation::DropColumn { .. }]))
}

/// A change's `fill:`, parsed as an expression of the plan's dialect and
/// rendered back from the AST; or the message and help of why not.
fn parse_fill(
    fill: &str,
    drops_column: bool,
    engine: EngineKind,
) -> Result<String, (String, String)> {
    if !drops_column {
        return Err((
            "`fill:` applies to a change that drops a column".to_string(),
            "remove `fill:`, or use it on `ALTER TABLE … DROP COLUMN …`, where it is the default the column takes until contract drops it".to_string(),
        ));
    }
    let dialect = engine.sql_dialect();
    let expr = Parser::new(&*dialect)
        .try_with_sql(fill)
        .and_then(|mut p| {
            let expr = p.parse_expr()?;
            p.expect_token(&sqlparser::tokenizer::Token::EOF)?;
            Ok(expr)
        })
        .map_err(|e| {
            (
                format!("`fill: {fill}` is not a {engine} expression: {e}"),
                "write one expression, as in a DEFAULT clause: `fill: \"0\"`, `fill: \"''\"`"
                    .to_string(),
            )
        })?;
    Ok(expr.to_string())
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
    let Baseline { schema, source } = baseline(set, engine, opts)?;
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

    let parts: BTreeMap<u32, VersionParts> = pending
        .iter()
        .map(|p| (p.version, VersionParts::new(p.version)))
        .collect();
    let base_schema = schema.clone();
    let mut planning = Planning {
        engine,
        schema,
        all_versions,
        in_run: &in_run,
        errors,
        parts,
        versions: Vec::new(),
        notes: Vec::new(),
        points: vec![PointSchema {
            point: base,
            schema: base_schema,
            relaxed: Vec::new(),
        }],
    };
    for plan in pending.iter().filter(|p| p.engine == engine) {
        planning.plan_version(plan); // another engine: reported by the loader
    }
    let Planning {
        schema,
        errors,
        parts,
        versions,
        mut notes,
        points,
        ..
    } = planning;

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

    let writes = match &set.releases {
        Some(releases) => {
            let writes = writes::check(&points, releases);
            if !writes.conflicts.is_empty() {
                return Err(write_diagnostics(&writes, releases));
            }
            Some(writes)
        }
        None => None,
    };

    let proof = prove_fleet(set, &versions, &pending, &graph, base)?;

    Ok(CheckedPlan {
        dir: set.dir.clone(),
        engine,
        base,
        schema_source: source,
        versions,
        graph,
        final_schema: schema,
        proof,
        writes,
        notes,
        done: BTreeSet::new(),
        tables: Vec::new(),
    })
}

/// The fleet proof, when the run rolls a fleet (which needs releases).
fn prove_fleet(
    set: &PlanSet,
    versions: &[PlannedVersion],
    pending: &[&Plan],
    graph: &TaskGraph,
    base: SchemaPoint,
) -> Result<Option<Proof>, Diagnostics> {
    if !versions.iter().any(|v| !v.fleet.is_empty()) {
        return Ok(None);
    }
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
    let proof = compat::prove(graph, base, releases);
    if !proof.holds() {
        return Err(proof_diagnostics(&proof, pending, releases));
    }
    Ok(Some(proof))
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

/// One diagnostic per release and column it cannot write, at the release's
/// line in `releases.yaml`.
fn write_diagnostics(writes: &Writes, releases: &crate::plan::Releases) -> Diagnostics {
    let mut out = Vec::new();
    for c in &writes.conflicts {
        let writes::Meets::CannotLeaveOut { column } = &c.what else {
            continue;
        };
        let points: Vec<String> = c.points.iter().map(|p| p.to_string()).collect();
        let msg = format!(
            "release {} ({}) cannot insert into {} at {}: column {}.{column} is NOT NULL without a default there, \
             and {} (built for version {}) does not write it",
            c.release,
            c.range,
            c.table,
            points.join(", "),
            c.table,
            c.release,
            c.built_for,
        );
        let first = c.points.first().copied().unwrap_or(c.range.start);
        let narrower = match first.previous().filter(|p| *p >= c.range.start) {
            Some(last) => format!("`\"{}\": \"{} ..= {last}\"`", c.release, c.range.start),
            None => "a later release".to_string(),
        };
        let help = format!(
            "give {}.{column} a DEFAULT in the change that makes it NOT NULL, or end the range of {} before {first} in {} ({narrower}), with a release that writes it from there on",
            c.table,
            c.release,
            releases.path.display()
        );
        let d = match releases.ranges.get(&c.release) {
            Some((_, span)) => Diagnostic::new(&releases.path, msg).at(span.line, span.column),
            None => Diagnostic::new(&releases.path, msg),
        };
        out.push(d.help(help));
    }
    Diagnostics(out)
}
