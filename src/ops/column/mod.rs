//! Column changes (ADD / DROP / RENAME COLUMN, type changes, NOT NULL,
//! DEFAULT): per engine, what the statement would do as written, and the
//! expand / migrate / contract actions it becomes.
//!
//! The shapes, in short:
//! - what old code cannot notice (a nullable column, a catalog-only type
//!   widening, dropping NOT NULL, a new default) runs in expand;
//! - what old code may still use (a column, a default) goes in contract;
//! - a rename or a type change adds a new column kept in step by triggers
//!   (see `ops::sync`), backfills it, checks it before contract, and swaps
//!   it in at contract together with dropping the triggers;
//! - NOT NULL is enforced after a violations check, on PostgreSQL through
//!   a `NOT VALID` check constraint so that no step holds ACCESS EXCLUSIVE
//!   for a scan.

mod add;
mod alter_type;
mod default;
mod drop;
mod nullability;
mod rename;

pub(super) use add::add_column;
pub(super) use alter_type::alter_column_type;
pub(super) use default::{drop_default, set_default};
pub(super) use drop::drop_column;
pub(super) use nullability::{drop_not_null, set_not_null};
pub(super) use rename::rename_column;

use crate::dialect::EngineKind;
use crate::dialect::{mysql, postgres, sqlite};
use crate::ops::sync::{self, SyncTrigger};
use crate::ops::{
    generated_name, twin_column, Action, BackfillStep, CheckKind, CheckStep, ColumnSpec,
    DefaultExpr, Effect, ObjectRef, RebuildEdit, SqlStep, Step, Symbol,
};
use crate::ops::{Analysis, ChangeClass, Classification, Context, Refusal};
use crate::plan::Phase;
use crate::schema::{Column, ConstraintKind, Index, Schema, Table, UntilDropped};

fn rule_prefix(engine: EngineKind) -> &'static str {
    match engine {
        EngineKind::Postgres => postgres::RULE_PREFIX,
        EngineKind::Mysql => mysql::RULE_PREFIX,
        EngineKind::Sqlite => sqlite::RULE_PREFIX,
    }
}

/// What every rule here needs: the engine, the operation's kind (for rule
/// IDs), the model and the table the change is about.
pub(super) struct Env<'a> {
    engine: EngineKind,
    kind: &'static str,
    schema: &'a Schema,
    ctx: &'a Context<'a>,
    table: &'a Table,
}

impl<'a> Env<'a> {
    pub(super) fn new(
        engine: EngineKind,
        kind: &'static str,
        schema: &'a Schema,
        ctx: &'a Context<'a>,
        table: &str,
    ) -> Result<Self, Refusal> {
        let found = schema.table(table).ok_or_else(|| Refusal {
            rule: format!("{}/{kind}/unknown-table", rule_prefix(engine)),
            reason: format!("table {table} is not in the schema model"),
            help: "check the table name, or the schema the plan starts from".to_string(),
        })?;
        Ok(Env {
            engine,
            kind,
            schema,
            ctx,
            table: found,
        })
    }

    fn rule(&self, variant: &str) -> String {
        format!("{}/{}/{variant}", rule_prefix(self.engine), self.kind)
    }

    fn refuse(&self, variant: &str, reason: String, help: String) -> Refusal {
        Refusal {
            rule: self.rule(variant),
            reason,
            help,
        }
    }

    fn classify(
        &self,
        class: ChangeClass,
        variant: &str,
        lock: &str,
        reason: String,
    ) -> Classification {
        Classification {
            class,
            rule: self.rule(variant),
            lock: lock.to_string(),
            reason,
            rewrite: None,
        }
    }

    fn q(&self, ident: &str) -> String {
        self.engine.quote_ident(ident)
    }

    fn name(&self) -> &str {
        &self.table.name
    }

    /// `ALTER TABLE <table> <clause>` (PostgreSQL, SQLite).
    fn alter(&self, clause: &str) -> String {
        format!("ALTER TABLE {} {clause}", self.q(self.name()))
    }

    fn column(&self, name: &str) -> Result<&'a Column, Refusal> {
        self.table.column(name).ok_or_else(|| {
            self.refuse(
                "unknown-column",
                format!("column {}.{name} is not in the schema model", self.name()),
                format!(
                    "columns of {}: {}",
                    self.name(),
                    self.table.column_names().join(", ")
                ),
            )
        })
    }

    /// A step in one transaction, except on MySQL, where DDL commits
    /// implicitly (MySQL steps hold one statement).
    fn sql(&self, statements: Vec<String>, lock: &str, effect: Effect) -> Step {
        Step::Sql(SqlStep {
            statements,
            transactional: self.engine != EngineKind::Mysql,
            lock: lock.to_string(),
            effect,
        })
    }

    fn primary_key(&self) -> Result<&'a [String], Refusal> {
        if self.table.primary_key.is_empty() {
            return Err(Refusal {
                rule: format!("{}/backfill/no-primary-key", rule_prefix(self.engine)),
                reason: format!(
                    "{} has no primary key: backfills walk the table in key order, in batches",
                    self.name()
                ),
                help: format!("add a primary key to {} first", self.name()),
            });
        }
        Ok(&self.table.primary_key)
    }

    fn backfill(&self, set: String, pending: String) -> Result<Step, Refusal> {
        Ok(Step::Backfill(BackfillStep {
            engine: self.engine,
            table: self.name().to_string(),
            key: self.primary_key()?.to_vec(),
            set,
            pending,
            batch_size: self.ctx.batch_size,
            pause_ms: 0,
        }))
    }

    /// A check that counts the rows matching `condition`, with a few of
    /// their keys to show when it fails.
    fn check(&self, kind: CheckKind, condition: &str, guards: String) -> Step {
        let table = self.q(self.name());
        let sample_sql = (!self.table.primary_key.is_empty()).then(|| {
            format!(
                "SELECT {} FROM {table} WHERE {condition} LIMIT 10",
                self.engine.quote_list(&self.table.primary_key)
            )
        });
        Step::Check(CheckStep {
            kind,
            count_sql: format!("SELECT COUNT(*) FROM {table} WHERE {condition}"),
            sample_sql,
            guards,
        })
    }

    fn column_ref(&self, column: &str) -> ObjectRef {
        ObjectRef::column(self.name(), column)
    }

    fn trigger_ref(&self, trigger: &SyncTrigger) -> ObjectRef {
        ObjectRef::Trigger {
            table: self.name().to_string(),
            name: trigger.name.clone(),
        }
    }

    fn effect_column_exists(&self, column: &str) -> Effect {
        Effect::ColumnExists {
            table: self.name().to_string(),
            column: column.to_string(),
        }
    }

    fn effect_column_absent(&self, column: &str) -> Effect {
        Effect::ColumnAbsent {
            table: self.name().to_string(),
            column: column.to_string(),
        }
    }
}

fn action(
    key: impl Into<String>,
    phase: Phase,
    symbol: Symbol,
    summary: String,
    step: Step,
) -> Action {
    Action {
        key: key.into(),
        phase,
        symbol,
        summary,
        step,
        creates: Vec::new(),
        needs: Vec::new(),
        removes: Vec::new(),
    }
}

/// Chained setters for what an action creates, needs and removes.
trait Objects {
    fn creates(self, object: ObjectRef) -> Self;
    fn needs(self, object: ObjectRef) -> Self;
    fn removes(self, objects: impl IntoIterator<Item = ObjectRef>) -> Self;
}

impl Objects for Action {
    fn creates(mut self, object: ObjectRef) -> Self {
        self.creates.push(object);
        self
    }
    fn needs(mut self, object: ObjectRef) -> Self {
        self.needs.push(object);
        self
    }
    fn removes(mut self, objects: impl IntoIterator<Item = ObjectRef>) -> Self {
        self.removes.extend(objects);
        self
    }
}

/// A column definition for PostgreSQL and SQLite `ADD COLUMN`.
fn column_definition(
    engine: EngineKind,
    name: &str,
    data_type: &str,
    extra: &[String],
    nullable: bool,
    default: Option<&str>,
) -> String {
    if engine == EngineKind::Mysql {
        return mysql::column_definition(name, data_type, extra, nullable, default);
    }
    let mut def = format!("{} {data_type}", engine.quote_ident(name));
    for e in extra {
        def.push(' ');
        def.push_str(e);
    }
    if let Some(d) = default {
        def.push_str(" DEFAULT ");
        def.push_str(d);
    }
    if !nullable {
        def.push_str(" NOT NULL");
    }
    def
}

/// `ALTER TABLE t ADD COLUMN <definition>` with the engine's online clause.
fn add_column_sql(env: &Env<'_>, definition: &str) -> (String, &'static str) {
    match env.engine {
        EngineKind::Postgres => (
            env.alter(&format!("ADD COLUMN {definition}")),
            postgres::LOCK_CATALOG_ONLY,
        ),
        EngineKind::Mysql => (
            mysql::alter_table(
                env.name(),
                &[format!("ADD COLUMN {definition}")],
                mysql::Online::Instant,
            ),
            mysql::LOCK_INSTANT,
        ),
        EngineKind::Sqlite => (
            env.alter(&format!("ADD COLUMN {definition}")),
            sqlite::LOCK_CATALOG_ONLY,
        ),
    }
}

/// `SET DEFAULT` on a column: catalog only on PostgreSQL, instant on
/// MySQL. (SQLite cannot change a default; its callers refuse first.)
fn set_default_sql(env: &Env<'_>, column: &str, default_sql: &str) -> (String, &'static str) {
    let clause = |d: &str| format!("ALTER COLUMN {} SET DEFAULT {d}", env.q(column));
    match env.engine {
        EngineKind::Mysql => (
            mysql::alter_table(
                env.name(),
                &[clause(&mysql::default_expr(default_sql))],
                mysql::Online::Instant,
            ),
            mysql::LOCK_INSTANT,
        ),
        EngineKind::Postgres | EngineKind::Sqlite => {
            (env.alter(&clause(default_sql)), postgres::LOCK_CATALOG_ONLY)
        }
    }
}

/// The actions that enforce NOT NULL on `column` once no row is NULL: a
/// violations check, then on PostgreSQL a `NOT VALID` check constraint,
/// its validation (reads and writes continue) and `SET NOT NULL` (no scan
/// thanks to the validated check) with the check dropped; on MySQL a
/// `MODIFY` to `mysql_definition` (the full definition with NOT NULL), in
/// place and online; on SQLite a rebuild of the table (holding the write
/// lock for the copy).
fn not_null_actions(
    env: &Env<'_>,
    column: &str,
    phase: Phase,
    mysql_definition: String,
) -> Result<Vec<Action>, Refusal> {
    let (t, c) = (env.name(), column);
    let check = action(
        "check-nulls",
        phase,
        Symbol::Change,
        format!("check no row of {t} has {c} NULL"),
        env.check(
            CheckKind::Violations,
            &format!("{} IS NULL", env.q(c)),
            format!("NOT NULL on {t}.{c}"),
        ),
    )
    .needs(env.column_ref(c));
    match env.engine {
        EngineKind::Postgres => {
            let name = postgres::not_null_check_name(t, c);
            let constraint = ObjectRef::Constraint {
                table: t.to_string(),
                name: name.clone(),
            };
            Ok(vec![
                check,
                action(
                    "add-not-null-check",
                    phase,
                    Symbol::Add,
                    format!("add check {name} ({c} IS NOT NULL) NOT VALID on {t}"),
                    env.sql(
                        vec![postgres::add_not_null_check_sql(t, c, &name)],
                        postgres::LOCK_CATALOG_ONLY,
                        Effect::ConstraintExists { table: t.to_string(), constraint: name.clone() },
                    ),
                )
                .creates(constraint.clone())
                .needs(env.column_ref(c)),
                action(
                    "validate-not-null-check",
                    phase,
                    Symbol::Change,
                    format!("validate check {name} on {t}"),
                    env.sql(
                        vec![postgres::validate_constraint_sql(t, &name)],
                        postgres::LOCK_SHARE_UPDATE_EXCLUSIVE,
                        Effect::ConstraintValidated { table: t.to_string(), constraint: name.clone() },
                    ),
                )
                .needs(constraint.clone()),
                action(
                    "set-not-null",
                    phase,
                    Symbol::Change,
                    format!("set {t}.{c} NOT NULL (the validated check spares the scan) and drop {name}"),
                    env.sql(
                        postgres::set_not_null_statements(t, c, &name),
                        postgres::LOCK_CATALOG_ONLY,
                        Effect::ColumnNotNull { table: t.to_string(), column: c.to_string() },
                    ),
                )
                .removes([constraint]),
            ])
        }
        EngineKind::Mysql => Ok(vec![
            check,
            action(
                "set-not-null",
                phase,
                Symbol::Change,
                format!("set {t}.{c} NOT NULL in place"),
                env.sql(
                    vec![mysql::modify_column_sql(t, &mysql_definition)],
                    mysql::LOCK_INPLACE_REBUILD,
                    Effect::ColumnNotNull {
                        table: t.to_string(),
                        column: c.to_string(),
                    },
                ),
            )
            .needs(env.column_ref(c)),
        ]),
        EngineKind::Sqlite => Ok(vec![
            check,
            action(
                "set-not-null",
                phase,
                Symbol::Change,
                format!("rebuild {t} with {c} NOT NULL"),
                super::sqlite_rebuild(
                    t,
                    vec![RebuildEdit::SetNotNull {
                        column: c.to_string(),
                    }],
                ),
            )
            .needs(env.column_ref(c)),
        ]),
    }
}

/// Inline column options that change what adding the column does.
fn check_column_options(env: &Env<'_>, spec: &ColumnSpec) -> Result<(), Refusal> {
    let serial = match env.engine {
        EngineKind::Postgres => postgres::is_serial_type(&spec.data_type),
        EngineKind::Mysql => mysql::is_serial_type(&spec.data_type),
        EngineKind::Sqlite => false,
    };
    if serial {
        return Err(env.refuse(
            "serial",
            format!("a {} column fills every existing row from a sequence when added: a table rewrite", spec.data_type),
            "add a nullable integer column with a sequence default (`DEFAULT nextval('…')`), which zerodown backfills in batches".to_string(),
        ));
    }
    for option in &spec.extra {
        let upper = option.trim().to_uppercase();
        let starts = |prefixes: &[&str]| prefixes.iter().any(|p| upper.starts_with(p));
        if starts(&[
            "GENERATED",
            "AS ",
            "AS(",
            "AUTO_INCREMENT",
            "AUTOINCREMENT",
            "IDENTITY",
        ]) {
            return Err(env.refuse(
                "generated",
                format!("`{option}` computes a value for every existing row when the column is added: a table rewrite"),
                "add a plain nullable column and backfill it".to_string(),
            ));
        }
        // SQLite cannot add these later, and checks them on write only
        // (a CHECK against existing rows, under the write lock).
        let sqlite_inline = env.engine == EngineKind::Sqlite && starts(&["REFERENCES", "CHECK"]);
        if !sqlite_inline
            && starts(&[
                "PRIMARY KEY",
                "UNIQUE",
                "CONSTRAINT",
                "CHECK",
                "REFERENCES",
                "FOREIGN KEY",
            ])
        {
            return Err(env.refuse(
                "inline-constraint",
                format!("`{option}` is built or validated while the column is added, under the table's strongest lock"),
                format!(
                    "add the column in one change and the constraint in another (ALTER TABLE {} ADD CONSTRAINT …): zerodown builds that one online",
                    env.name()
                ),
            ));
        }
    }
    Ok(())
}

fn trigger_lock(engine: EngineKind) -> &'static str {
    match engine {
        EngineKind::Postgres => postgres::LOCK_CREATE_TRIGGER,
        EngineKind::Mysql => mysql::LOCK_METADATA,
        EngineKind::Sqlite => sqlite::LOCK_CATALOG_ONLY,
    }
}

fn create_trigger_action(
    env: &Env<'_>,
    key: &str,
    trigger: &SyncTrigger,
    summary: String,
    needs_column: &str,
) -> Action {
    action(
        format!("{key}{}", trigger.event.key_suffix()),
        Phase::Expand,
        Symbol::Add,
        format!("{summary} (trigger {})", trigger.name),
        env.sql(
            trigger.create.clone(),
            trigger_lock(env.engine),
            Effect::TriggerExists {
                table: env.name().to_string(),
                trigger: trigger.name.clone(),
            },
        ),
    )
    .creates(env.trigger_ref(trigger))
    .needs(env.column_ref(needs_column))
}

fn drop_trigger_action(env: &Env<'_>, key: &str, trigger: &SyncTrigger) -> Action {
    action(
        format!("{key}{}", trigger.event.key_suffix()),
        Phase::Contract,
        Symbol::Remove,
        format!("drop trigger {} on {}", trigger.name, env.name()),
        env.sql(
            trigger.drop.clone(),
            match env.engine {
                EngineKind::Postgres => postgres::LOCK_CATALOG_ONLY,
                _ => trigger_lock(env.engine),
            },
            Effect::TriggerAbsent {
                table: env.name().to_string(),
                trigger: trigger.name.clone(),
            },
        ),
    )
    .removes([env.trigger_ref(trigger)])
}

/// What else in the model uses a column, and so decides whether it can be
/// dropped, renamed or swapped.
struct Dependents {
    primary_key: bool,
    /// Foreign keys of any table that reference the column, as `table.name`.
    referenced_by: Vec<String>,
    /// The table's own foreign keys and CHECK constraints that use it.
    constraints: Vec<String>,
    /// The table's UNIQUE constraints that include it.
    uniques: Vec<String>,
}

fn dependents(env: &Env<'_>, column: &str) -> Dependents {
    let t = env.name();
    let mut deps = Dependents {
        primary_key: env.table.primary_key.iter().any(|k| k == column),
        referenced_by: Vec::new(),
        constraints: Vec::new(),
        uniques: Vec::new(),
    };
    for (other, con) in env.schema.tables.foreign_keys_to(t) {
        if let ConstraintKind::ForeignKey { ref_columns, .. } = &con.kind {
            if ref_columns.iter().any(|c| c == column) {
                deps.referenced_by.push(format!("{other}.{}", con.name));
            }
        }
    }
    for con in env.table.constraints.values() {
        match &con.kind {
            ConstraintKind::PrimaryKey { columns } => {
                deps.primary_key |= columns.iter().any(|c| c == column)
            }
            ConstraintKind::ForeignKey { columns, .. } if columns.iter().any(|c| c == column) => {
                deps.constraints.push(con.name.clone())
            }
            // An expression zerodown cannot read counts as using the column.
            ConstraintKind::Check { expr }
                if sync::references_column(env.engine, expr, column).unwrap_or(true) =>
            {
                deps.constraints.push(con.name.clone())
            }
            ConstraintKind::Unique { columns } if columns.iter().any(|c| c == column) => {
                deps.uniques.push(con.name.clone())
            }
            ConstraintKind::ForeignKey { .. }
            | ConstraintKind::Check { .. }
            | ConstraintKind::Unique { .. } => {}
        }
    }
    deps
}

/// Refuse what cannot move to another column: the primary key, a column
/// other tables' foreign keys reference, and one the table's own foreign
/// keys or CHECK constraints use (dropping the old column would drop them).
fn refuse_pinned(
    env: &Env<'_>,
    column: &str,
    deps: &Dependents,
    doing: &str,
) -> Result<(), Refusal> {
    let t = env.name();
    if let Some(view) = env
        .schema
        .views_using(&env.table.name, Some(column))
        .into_iter()
        .next()
    {
        return Err(env.refuse(
            "view-reads-column",
            format!("view {view} reads {t}.{column}: {doing} fills a twin column and drops {column} in contract, which would break the view (PostgreSQL refuses the drop, MySQL keeps a view that fails on every read, SQLite refuses it)"),
            format!("first drop view {view} (or replace it with one that does not read {column}), as its own change before this one, and create it again in a version after this change's contract"),
        ));
    }
    if deps.primary_key {
        return Err(env.refuse(
            "primary-key",
            format!("{t}.{column} is (part of) the primary key: {doing} would need a new primary key built and every reference moved"),
            "keep the primary key column, or run the change as a raw change in a maintenance window".to_string(),
        ));
    }
    if !deps.referenced_by.is_empty() {
        return Err(env.refuse(
            "referenced",
            format!(
                "{t}.{column} is referenced by foreign key {}",
                deps.referenced_by.join(", ")
            ),
            "drop the foreign key first (in an earlier change), then add it again afterwards"
                .to_string(),
        ));
    }
    if !deps.constraints.is_empty() {
        return Err(env.refuse(
            "constrained",
            format!(
                "{t}.{column} is used by constraint {}, which would be dropped with the old column",
                deps.constraints.join(", ")
            ),
            "drop the constraint in an earlier change and add it again, on the new column, in a later one".to_string(),
        ));
    }
    Ok(())
}

/// Whether an index uses a column: as a key column, or anywhere in its key
/// expressions or predicate.
fn index_uses(engine: EngineKind, index: &Index, column: &str) -> bool {
    index.columns.iter().any(|c| c == column)
        || sync::rename_in_index(engine, index, column, column).is_ok_and(|(_, _, n)| n > 0)
}

/// An index (or UNIQUE constraint) on a column, copied onto another one
/// under a generated name until contract gives it the original name back.
struct IndexCopy {
    original: String,
    copy: String,
    unique: bool,
    keys: Vec<String>,
    predicate: Option<String>,
    /// A PostgreSQL UNIQUE constraint: contract attaches the copy as the
    /// constraint (`ADD CONSTRAINT … UNIQUE USING INDEX`).
    pg_constraint: bool,
}

/// Every index and UNIQUE constraint of the table that uses `from`, with
/// `from` replaced by `to` in its definition.
fn index_copies(env: &Env<'_>, from: &str, to: &str) -> Result<Vec<IndexCopy>, Refusal> {
    let t = env.name();
    let mut copies = Vec::new();
    for index in env.schema.indexes.on_table(t) {
        if !index_uses(env.engine, index, from) {
            continue;
        }
        let (keys, predicate, renamed) = sync::rename_in_index(env.engine, index, from, to)
            .map_err(|e| {
                env.refuse(
                    "index-definition",
                    e,
                    format!(
                        "drop index {} first and create it again afterwards",
                        index.name
                    ),
                )
            })?;
        if renamed == 0 {
            return Err(env.refuse(
                "index-definition",
                format!(
                    "index {} uses {from} in a form zerodown cannot rewrite: {}",
                    index.name,
                    index.keys.join(", ")
                ),
                format!(
                    "drop index {} first and create it again afterwards",
                    index.name
                ),
            ));
        }
        let is_unique_constraint = env
            .table
            .constraints
            .get(&index.name)
            .is_some_and(|c| matches!(c.kind, ConstraintKind::Unique { .. }));
        copies.push(IndexCopy {
            original: index.name.clone(),
            copy: generated_name(&["copy", &index.name]),
            unique: index.unique,
            keys,
            predicate,
            pg_constraint: env.engine == EngineKind::Postgres && is_unique_constraint,
        });
    }
    for con in env.table.constraints.values() {
        let ConstraintKind::Unique { columns } = &con.kind else {
            continue;
        };
        if !columns.iter().any(|c| c == from) || env.schema.indexes.contains_key(&con.name) {
            continue;
        }
        let keys = columns
            .iter()
            .map(|c| env.q(if c == from { to } else { c }))
            .collect();
        copies.push(IndexCopy {
            original: con.name.clone(),
            copy: generated_name(&["copy", &con.name]),
            unique: true,
            keys,
            predicate: None,
            pg_constraint: env.engine == EngineKind::Postgres,
        });
    }
    Ok(copies)
}

/// `CREATE [UNIQUE] INDEX name ON t (keys) [WHERE …]` for SQLite.
fn sqlite_create_index(env: &Env<'_>, name: &str, copy: &IndexCopy) -> String {
    let mut sql = format!(
        "CREATE {}INDEX {} ON {} ({})",
        if copy.unique { "UNIQUE " } else { "" },
        env.q(name),
        env.q(env.name()),
        copy.keys.join(", ")
    );
    if let Some(p) = &copy.predicate {
        sql.push_str(&format!(" WHERE {p}"));
    }
    sql
}

/// Expand: build the copy, online where the engine can.
fn copy_index_action(env: &Env<'_>, copy: &IndexCopy, onto: &str) -> Action {
    let t = env.name();
    let (statements, lock, transactional) = match env.engine {
        EngineKind::Postgres => (
            vec![postgres::create_index_concurrently_sql(
                &copy.copy,
                t,
                copy.unique,
                &copy.keys,
                copy.predicate.as_deref(),
            )],
            postgres::LOCK_SHARE_UPDATE_EXCLUSIVE,
            false,
        ),
        EngineKind::Mysql => (
            vec![mysql::alter_table(
                t,
                &[format!(
                    "ADD {}INDEX {} ({})",
                    if copy.unique { "UNIQUE " } else { "" },
                    env.q(&copy.copy),
                    copy.keys.join(", ")
                )],
                mysql::Online::InplaceNoLock,
            )],
            mysql::LOCK_INPLACE,
            false,
        ),
        EngineKind::Sqlite => (
            vec![sqlite_create_index(env, &copy.copy, copy)],
            sqlite::LOCK_INDEX_BUILD,
            true,
        ),
    };
    action(
        format!("copy-index-{}", copy.original),
        Phase::Expand,
        Symbol::Add,
        format!(
            "copy index {} onto {t}.{onto} as {}",
            copy.original, copy.copy
        ),
        Step::Sql(SqlStep {
            statements,
            transactional,
            lock: lock.to_string(),
            effect: Effect::IndexValid {
                index: copy.copy.clone(),
            },
        }),
    )
    .creates(ObjectRef::Index {
        name: copy.copy.clone(),
    })
    .needs(env.column_ref(onto))
}

/// Contract: give the copy its original name back (SQLite, which cannot
/// rename an index, builds it again under that name).
fn rename_index_action(env: &Env<'_>, copy: &IndexCopy) -> Action {
    let t = env.name();
    let (statements, lock, effect) = match env.engine {
        EngineKind::Postgres if copy.pg_constraint => (
            vec![env.alter(&format!(
                "ADD CONSTRAINT {} UNIQUE USING INDEX {}",
                env.q(&copy.original),
                env.q(&copy.copy)
            ))],
            postgres::LOCK_CATALOG_ONLY,
            Effect::ConstraintExists {
                table: t.to_string(),
                constraint: copy.original.clone(),
            },
        ),
        EngineKind::Postgres => (
            vec![format!(
                "ALTER INDEX {} RENAME TO {}",
                env.q(&copy.copy),
                env.q(&copy.original)
            )],
            postgres::LOCK_SHARE_UPDATE_EXCLUSIVE,
            Effect::IndexValid {
                index: copy.original.clone(),
            },
        ),
        EngineKind::Mysql => (
            vec![mysql::alter_table(
                t,
                &[format!(
                    "RENAME INDEX {} TO {}",
                    env.q(&copy.copy),
                    env.q(&copy.original)
                )],
                mysql::Online::Instant,
            )],
            mysql::LOCK_INSTANT,
            Effect::IndexValid {
                index: copy.original.clone(),
            },
        ),
        EngineKind::Sqlite => (
            vec![
                sqlite_create_index(env, &copy.original, copy),
                format!("DROP INDEX {}", env.q(&copy.copy)),
            ],
            sqlite::LOCK_INDEX_BUILD,
            Effect::IndexValid {
                index: copy.original.clone(),
            },
        ),
    };
    let summary = if copy.pg_constraint {
        format!(
            "attach index {} as unique constraint {} on {t}",
            copy.copy, copy.original
        )
    } else {
        format!("rename index {} to {}", copy.copy, copy.original)
    };
    action(
        format!("rename-index-{}", copy.original),
        Phase::Contract,
        Symbol::Change,
        summary,
        env.sql(statements, lock, effect),
    )
    .creates(ObjectRef::Index {
        name: copy.original.clone(),
    })
    .removes([ObjectRef::Index {
        name: copy.copy.clone(),
    }])
}

/// MySQL: drop indexes before their column, because InnoDB drops an
/// indexed column only with a rebuild, never instantly.
fn mysql_drop_indexes_clauses(env: &Env<'_>, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| format!("DROP INDEX {}", env.q(n)))
        .collect()
}

/// The step that lets `col` hold NULL, per engine: catalog only on
/// PostgreSQL, an online in-place `MODIFY` on MySQL, a rebuild on SQLite;
/// with its classification variant and lock.
fn allow_null_step(env: &Env<'_>, col: &Column) -> (&'static str, Step, &'static str) {
    let (t, column) = (env.name(), col.name.as_str());
    let effect = Effect::ColumnNullable {
        table: t.to_string(),
        column: column.to_string(),
    };
    match env.engine {
        EngineKind::Postgres => (
            "catalog-only",
            env.sql(
                vec![env.alter(&format!("ALTER COLUMN {} DROP NOT NULL", env.q(column)))],
                postgres::LOCK_CATALOG_ONLY,
                effect,
            ),
            postgres::LOCK_CATALOG_ONLY,
        ),
        EngineKind::Mysql => (
            "inplace",
            env.sql(
                vec![mysql::modify_column_sql(
                    t,
                    &super::mysql_column_definition(col, column, &col.data_type, true),
                )],
                mysql::LOCK_INPLACE_REBUILD,
                effect,
            ),
            mysql::LOCK_INPLACE_REBUILD,
        ),
        EngineKind::Sqlite => (
            "rebuild",
            super::sqlite_rebuild(
                t,
                vec![RebuildEdit::DropNotNull {
                    column: column.to_string(),
                }],
            ),
            sqlite::LOCK_TABLE_REBUILD,
        ),
    }
}

/// Refusals particular to SQLite when a column moves to another one:
/// `DROP COLUMN` refuses a column in a UNIQUE constraint, the new column
/// must be insertable without the old one, and only a constant default
/// can be given to a column `ADD COLUMN` creates.
fn sqlite_move_refusals(env: &Env<'_>, column: &Column, deps: &Dependents) -> Result<(), Refusal> {
    let (t, c) = (env.name(), column.name.as_str());
    if !deps.uniques.is_empty() {
        return Err(crate::ops::sqlite_rebuild_refusal(
            env.kind,
            "unique",
            &format!(
                "drop {t}.{c}, which UNIQUE constraint {} uses,",
                deps.uniques.join(", ")
            ),
            "rebuild the table with a raw change",
        ));
    }
    if let Some(d) = column
        .default
        .as_deref()
        .filter(|d| !sqlite::is_constant_default(d))
    {
        return Err(crate::ops::sqlite_rebuild_refusal(
            env.kind,
            "non-constant-default",
            &format!("give a new column the default {d} of {t}.{c}"),
            "rebuild the table with a raw change",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
