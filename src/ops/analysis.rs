//! What a change's analysis yields: its class, rule, lock as written and
//! reason (`Classification`), or a `Refusal`; the safe expand / migrate /
//! contract actions it becomes (`Analysis`); and `analyze`, which hands an
//! operation to the module of its kind. The engines' facts that the rules
//! share (lock names, online-DDL clauses, type compatibility) are in
//! `crate::dialect::{postgres, mysql, sqlite}`.

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
    /// The change's `fill:`: the default a dropped column takes from expand
    /// until contract, rendered from the parsed expression.
    pub fill: Option<String>,
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
    use crate::dialect::{mysql, postgres, sqlite};
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
/// model's errors, not a refusal). The one match over `Operation` that
/// picks the rule: each arm calls its operation's function.
pub fn analyze(
    engine: EngineKind,
    op: &Operation,
    schema: &Schema,
    ctx: &Context<'_>,
) -> Result<Analysis, Refusal> {
    use super::{column, constraint, index, raw, table, view};
    let kind = op.kind_name();
    let env = |table: &str| column::Env::new(engine, kind, schema, ctx, table);
    let rules = constraint::Rules {
        engine,
        kind,
        schema,
    };
    match op {
        Operation::CreateTable {
            table,
            columns,
            constraints,
            references,
            sql,
            primary_key: _,
            if_not_exists: _,
        } => Ok(table::create_table(
            engine,
            table,
            columns,
            constraints,
            references,
            sql,
        )),
        Operation::DropTable { table } => table::drop_table(engine, table, schema, ctx),
        Operation::RenameTable { from, to } => table::rename_table(engine, from, to),
        Operation::AddColumn { table, column } => column::add_column(&env(table)?, column),
        Operation::DropColumn { table, column } => column::drop_column(&env(table)?, column),
        Operation::RenameColumn { table, from, to } => {
            column::rename_column(&env(table)?, from, to)
        }
        Operation::AlterColumnType {
            table,
            column,
            new_type,
            using,
            written_as,
        } => {
            column::alter_column_type(&env(table)?, column, new_type, using.as_deref(), written_as)
        }
        Operation::SetNotNull { table, column } => column::set_not_null(&env(table)?, column),
        Operation::DropNotNull { table, column } => column::drop_not_null(&env(table)?, column),
        Operation::SetDefault {
            table,
            column,
            default,
        } => column::set_default(&env(table)?, column, default),
        Operation::DropDefault { table, column } => column::drop_default(&env(table)?, column),
        Operation::CreateIndex {
            name,
            table,
            keys,
            columns,
            unique,
            concurrently,
            method,
            predicate,
        } => {
            let new = index::NewIndex {
                name,
                table,
                keys,
                columns,
                unique: *unique,
                method: method.as_deref(),
                predicate: predicate.as_deref(),
            };
            index::create_index(engine, &new, *concurrently)
        }
        Operation::DropIndex { name, table } => {
            index::drop_index(engine, name, table.as_deref(), schema)
        }
        Operation::AddForeignKey {
            table,
            name,
            fk,
            not_valid,
        } => rules.add_foreign_key(table, name, fk, *not_valid),
        Operation::AddCheck {
            table,
            name,
            expr,
            not_valid,
        } => rules.add_check(table, name, expr, *not_valid),
        Operation::AddUnique {
            table,
            name,
            columns,
        } => rules.add_unique(table, name, columns),
        Operation::AddPrimaryKey {
            table,
            name,
            columns,
        } => rules.add_primary_key(table, name.as_deref(), columns),
        Operation::ValidateConstraint { table, name } => rules.validate_constraint(table, name),
        Operation::DropConstraint { table, name } => rules.drop_constraint(table, name),
        Operation::CreateView {
            name,
            or_replace,
            sql,
        } => view::create_view(engine, name, *or_replace, sql, schema),
        Operation::DropView { name } => Ok(view::drop_view(engine, name)),
        Operation::Raw { id, sql, phase } => raw::raw(engine, id, sql, phase),
    }
}
