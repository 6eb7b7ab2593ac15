//! Per-engine rules: what a statement does to a live database as written
//! (class, lock, why), and the safe expand / migrate / contract actions it
//! becomes.
//!
//! Each engine has its own module because the same statement takes
//! different locks on each (a plain `CREATE INDEX` blocks writes on
//! PostgreSQL, is online with `ALGORITHM=INPLACE, LOCK=NONE` on MySQL, and
//! holds SQLite's single write lock for its duration).

pub mod mysql;
pub mod postgres;
pub mod sqlite;

// Each engine module holds that engine's facts (lock names, online-DDL
// clauses, volatile functions, sync-trigger SQL); the decompositions, one
// file per kind of change, live in `crate::ops`.

use serde::Serialize;

use crate::dialect::EngineKind;
use crate::ops::{Action, Operation};
use crate::schema::{Schema, Table};

/// The four classes of DESIGN.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeClass {
    /// Old code keeps working: runs in expand.
    Additive,
    /// Removes what old code may use: runs in contract.
    Subtractive,
    /// Decomposed into expand + migrate + contract steps that are each safe.
    Transforming,
    /// Would block traffic as written: rewritten to its online form.
    Unsafe,
}

impl ChangeClass {
    pub fn name(self) -> &'static str {
        match self {
            ChangeClass::Additive => "additive",
            ChangeClass::Subtractive => "subtractive",
            ChangeClass::Transforming => "transforming",
            ChangeClass::Unsafe => "unsafe as written",
        }
    }
}

/// Why a change was classified as it was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Classification {
    pub class: ChangeClass,
    /// A stable rule ID, e.g. `pg/add-column/volatile-default`.
    pub rule: String,
    /// The lock the statement would take as written, e.g. `ACCESS EXCLUSIVE
    /// for a full table rewrite`.
    pub lock: String,
    /// Why, in one or two sentences.
    pub reason: String,
    /// For unsafe-as-written changes: the online form that runs instead.
    pub rewrite: Option<String>,
}

/// A change the engine cannot run safely and that has no online form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub rule: String,
    pub reason: String,
    /// What the user can do instead.
    pub help: String,
}

/// What the rules need to know beyond the operation and the schema.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    /// The version of the plan the change belongs to.
    pub version: u32,
    /// Move dropped tables to the trash schema instead of dropping them.
    pub soft_drop: bool,
    /// The plan's backfills as `(table, column, expression)` for those whose
    /// `set` assigns a single column, so a NOT NULL column without default
    /// can be filled for rows old code inserts during the rollout.
    pub backfill_exprs: &'a [(String, String, String)],
    /// Rows per batch for backfills the decomposition adds itself.
    pub batch_size: u32,
}

impl Context<'_> {
    pub fn backfill_expr(&self, table: &str, column: &str) -> Option<&str> {
        self.backfill_exprs
            .iter()
            .find(|(t, c, _)| t == table && c == column)
            .map(|(_, _, e)| e.as_str())
    }
}

/// A classified change and the actions it becomes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Analysis {
    pub classification: Classification,
    pub actions: Vec<Action>,
}

/// A backfill over `table` (the user's, or one a decomposition adds) that
/// the engine could not walk: the first primary-key column whose type is
/// not one of the engine's walkable key types
/// ([`EngineKind::key_class`], the list the engine itself reads keys by).
/// Refused at plan, from the model, so that a run never stops in migrate
/// with the expand steps (a twin column, its sync triggers) already done.
pub fn unwalkable_key(engine: EngineKind, table: &Table) -> Option<Refusal> {
    let (column, data_type) = table.primary_key.iter().find_map(|k| {
        let column = table.column(k)?;
        engine
            .key_class(&column.data_type)
            .is_none()
            .then_some((k, &column.data_type))
    })?;
    let (prefix, server) = match engine {
        EngineKind::Postgres => (postgres::RULE_PREFIX, "PostgreSQL"),
        EngineKind::Mysql => (mysql::RULE_PREFIX, "MySQL"),
        EngineKind::Sqlite => (sqlite::RULE_PREFIX, "SQLite"),
    };
    let why = engine
        .unwalkable_key_reason(data_type)
        .map(|w| format!(" ({w})"))
        .unwrap_or_default();
    let t = &table.name;
    Some(Refusal {
        rule: format!("{prefix}/backfill/key-type"),
        reason: format!(
            "a backfill of {t} walks its primary key ({}) in batches, and key column {t}.{column} has type {data_type}, which zerodown cannot walk on {}{why}; the key types it walks are: {}",
            table.primary_key.join(", "),
            server,
            engine.walkable_key_types()
        ),
        help: format!(
            "write the change as a raw change (`- raw: \"…\"` with `phase: expand|migrate|contract`), which runs as written, in one statement and not in batches; or first give {t} a primary key of one of these types, in an earlier plan"
        ),
    })
}

/// Classify an operation for an engine and decompose it into actions. The
/// schema is the model *before* the operation; the operation has already
/// been checked against it (unknown tables and columns are the schema
/// model's errors, not a refusal).
pub fn analyze(
    engine: EngineKind,
    op: &Operation,
    schema: &Schema,
    ctx: &Context<'_>,
) -> Result<Analysis, Refusal> {
    use crate::ops::{column, constraint, index, raw, table, view};
    match op {
        Operation::CreateTable { .. }
        | Operation::DropTable { .. }
        | Operation::RenameTable { .. } => table::analyze(engine, op, schema, ctx),
        Operation::AddColumn { .. }
        | Operation::DropColumn { .. }
        | Operation::RenameColumn { .. }
        | Operation::AlterColumnType { .. }
        | Operation::SetNotNull { .. }
        | Operation::DropNotNull { .. }
        | Operation::SetDefault { .. }
        | Operation::DropDefault { .. } => column::analyze(engine, op, schema, ctx),
        Operation::CreateIndex { .. } | Operation::DropIndex { .. } => {
            index::analyze(engine, op, schema, ctx)
        }
        Operation::AddForeignKey { .. }
        | Operation::AddCheck { .. }
        | Operation::AddUnique { .. }
        | Operation::AddPrimaryKey { .. }
        | Operation::ValidateConstraint { .. }
        | Operation::DropConstraint { .. } => constraint::analyze(engine, op, schema, ctx),
        Operation::CreateView { .. } | Operation::DropView { .. } => {
            view::analyze(engine, op, schema, ctx)
        }
        Operation::Raw { .. } => raw::analyze(engine, op, schema, ctx),
    }
}
