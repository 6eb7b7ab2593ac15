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

pub(super) fn add_column(env: &Env<'_>, spec: &ColumnSpec) -> Result<Analysis, Refusal> {
    check_column_options(env, spec)?;
    let (t, c) = (env.name(), spec.name.as_str());
    let default_sql = spec.default.as_ref().map(|d| d.sql.as_str());
    let per_row_default = spec.default.as_ref().is_some_and(|d| {
        d.volatile || (env.engine == EngineKind::Sqlite && !sqlite::is_constant_default(&d.sql))
    });

    if !per_row_default && (spec.nullable || default_sql.is_some()) {
        let definition = column_definition(
            env.engine,
            c,
            &spec.data_type,
            &spec.extra,
            spec.nullable,
            default_sql,
        );
        let (sql, lock) = add_column_sql(env, &definition);
        let (variant, reason) = match (default_sql, env.engine) {
            (None, EngineKind::Sqlite) => ("nullable", "SQLite adds a nullable column in place (a schema change only); old code does not see it"),
            (None, _) => ("nullable", "a nullable column is added in the catalog without touching a row; old code does not see it"),
            (Some(_), EngineKind::Postgres) => ("constant-default", "a constant default is stored in the catalog (PostgreSQL 11+): no row is rewritten, and old code's inserts get the default"),
            (Some(_), EngineKind::Mysql) => ("constant-default", "InnoDB adds a column with a constant default instantly; old code's inserts get the default"),
            (Some(_), EngineKind::Sqlite) => ("constant-default", "SQLite adds a column with a constant default in place; old code's inserts get the default"),
        };
        let classification = env.classify(ChangeClass::Additive, variant, lock, reason.to_string());
        let mut summary = format!("add column {t}.{c} {}", spec.data_type);
        if let Some(d) = default_sql {
            summary.push_str(&format!(" DEFAULT {d}"));
        }
        if !spec.nullable {
            summary.push_str(" NOT NULL");
        }
        let add = action(
            "add-column",
            Phase::Expand,
            Symbol::Add,
            summary,
            env.sql(vec![sql], lock, env.effect_column_exists(c)),
        )
        .creates(env.column_ref(c))
        .needs(ObjectRef::table(t));
        return Ok(Analysis {
            classification,
            actions: vec![add],
        });
    }

    let backfill_help = || {
        format!(
            "add a backfill that gives existing rows a value:\n  backfills:\n    - table: {t}\n      set: \"{c} = <value>\"\n      where: \"{c} IS NULL\"\nor give the column a DEFAULT"
        )
    };
    // Expand: the column, nullable and without default, so that adding it
    // touches no row.
    let nullable_definition =
        column_definition(env.engine, c, &spec.data_type, &spec.extra, true, None);
    let (sql, lock) = add_column_sql(env, &nullable_definition);
    let mut actions = vec![action(
        "add-column",
        Phase::Expand,
        Symbol::Add,
        format!(
            "add column {t}.{c} {}, nullable until it is filled",
            spec.data_type
        ),
        env.sql(vec![sql], lock, env.effect_column_exists(c)),
    )
    .creates(env.column_ref(c))
    .needs(ObjectRef::table(t))];

    let classification;
    let mut contract = Vec::new();
    if let Some(DefaultExpr { sql: expr, .. }) = &spec.default {
        classification = env.classify(
            ChangeClass::Transforming,
            "volatile-default",
            match env.engine {
                EngineKind::Mysql => mysql::LOCK_COPY,
                EngineKind::Sqlite => sqlite::LOCK_TABLE_REBUILD,
                EngineKind::Postgres => postgres::LOCK_TABLE_REWRITE,
            },
            format!(
                "the default {expr} is evaluated for every existing row: {}; instead new rows get it from the default and existing rows from a batched backfill",
                match env.engine {
                    EngineKind::Mysql => "InnoDB copies the table",
                    EngineKind::Sqlite => "SQLite's ADD COLUMN refuses such a default, and setting it needs the table rebuilt, which holds the write lock while every row is copied",
                    EngineKind::Postgres => "PostgreSQL rewrites the table under ACCESS EXCLUSIVE",
                }
            ),
        );
        let step = if env.engine == EngineKind::Sqlite {
            super::sqlite_rebuild(
                t,
                vec![RebuildEdit::SetDefault {
                    column: c.to_string(),
                    default: expr.clone(),
                }],
            )
        } else {
            let (sql, lock) = set_default_sql(env, c, expr);
            env.sql(
                vec![sql],
                lock,
                Effect::ColumnHasDefault {
                    table: t.to_string(),
                    column: c.to_string(),
                },
            )
        };
        let summary = if env.engine == EngineKind::Sqlite {
            format!("rebuild {t} with default {expr} on {c} (new rows)")
        } else {
            format!("set default {expr} on {t}.{c} (new rows)")
        };
        actions.push(
            action("set-default", Phase::Expand, Symbol::Change, summary, step)
                .needs(env.column_ref(c)),
        );
        let col = env.q(c);
        actions.push(
            action(
                "backfill",
                Phase::Migrate,
                Symbol::Change,
                format!("backfill {t}.{c} = {expr} where NULL"),
                env.backfill(format!("{col} = {expr}"), format!("{col} IS NULL"))?,
            )
            .needs(env.column_ref(c)),
        );
    } else {
        let Some(expr) = env.ctx.backfill_expr(t, c) else {
            return Err(env.refuse(
                "not-null-without-default",
                format!(
                    "old code inserts rows without {c}, which a NOT NULL column without default rejects; zerodown fills such rows with the value of the plan's backfill for {t}.{c}, and the plan has none"
                ),
                backfill_help(),
            ));
        };
        classification = env.classify(
            ChangeClass::Transforming,
            "not-null-without-default",
            match env.engine {
                EngineKind::Mysql => mysql::LOCK_INSTANT,
                EngineKind::Sqlite => sqlite::LOCK_TABLE_REBUILD,
                EngineKind::Postgres => postgres::LOCK_CATALOG_ONLY,
            },
            format!(
                "old code inserts rows without {c}, which a NOT NULL column without default rejects{}; instead the column is added nullable, a trigger fills it from the backfill's expression for rows old code writes, and NOT NULL is enforced after the backfill{}",
                match env.engine {
                    EngineKind::Mysql => " (and existing rows would get the type's implicit default, not the backfill's value)",
                    EngineKind::Sqlite => " (and SQLite's ADD COLUMN refuses it)",
                    EngineKind::Postgres => " (and PostgreSQL refuses to add it to a table that has rows)",
                },
                if env.engine == EngineKind::Sqlite {
                    " — in contract, once no old release inserts rows without it (SQLite checks NOT NULL before its fill trigger runs), by rebuilding the table"
                } else {
                    ""
                }
            ),
        );
        let triggers = sync::fill_triggers(env.engine, env.table, c, expr)
            .map_err(|e| env.refuse("fill-expression", e, backfill_help()))?;
        for trigger in &triggers {
            actions.push(create_trigger_action(
                env,
                "fill-trigger",
                trigger,
                format!("fill {t}.{c} from {expr} when a write leaves it NULL"),
                c,
            ));
            contract.push(drop_trigger_action(env, "drop-fill-trigger", trigger));
        }
    }
    if !spec.nullable {
        let definition =
            mysql::column_definition(c, &spec.data_type, &spec.extra, false, default_sql);
        // SQLite checks NOT NULL before an AFTER trigger could fill the
        // column: enforced once no old release inserts without it.
        let phase = if env.engine == EngineKind::Sqlite {
            Phase::Contract
        } else {
            Phase::Migrate
        };
        actions.extend(not_null_actions(env, c, phase, definition)?);
    }
    actions.extend(contract);
    Ok(Analysis {
        classification,
        actions,
    })
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

pub(super) fn drop_column(env: &Env<'_>, column: &str) -> Result<Analysis, Refusal> {
    let t = env.name();
    env.column(column)?;
    let deps = dependents(env, column);
    if deps.primary_key {
        return Err(env.refuse(
            "primary-key",
            format!("{t}.{column} is (part of) the primary key"),
            "replace the primary key first, or drop the whole table".to_string(),
        ));
    }
    if !deps.referenced_by.is_empty() {
        return Err(env.refuse(
            "referenced",
            format!(
                "{t}.{column} is referenced by foreign key {}",
                deps.referenced_by.join(", ")
            ),
            "drop the foreign key first, in an earlier change".to_string(),
        ));
    }
    let indexes: Vec<&Index> = env
        .schema
        .indexes
        .on_table(t)
        .filter(|i| index_uses(env.engine, i, column))
        .collect();
    let mut removes = vec![env.column_ref(column)];
    removes.extend(indexes.iter().map(|i| ObjectRef::Index {
        name: i.name.clone(),
    }));
    let col = env.column(column)?;
    let reason = match col.until_dropped(env.ctx.fill.as_deref()) {
        None => format!("old code may still read or write {column}: it is dropped in contract, once no release that uses it runs"),
        Some(UntilDropped::AllowNull) => format!("old code may still read or write {column}: it is dropped in contract, once no release that uses it runs; until then it allows NULL, so new code can insert without it (old code may read NULL there; give the change a `fill:` for a value instead)"),
        Some(UntilDropped::Fill(fill)) => format!("old code may still read or write {column}: it is dropped in contract, once no release that uses it runs; until then it defaults to {fill} (the change's fill:), so new code can insert without it"),
    };
    let mut actions: Vec<Action> = writable_until_dropped(env, col).into_iter().collect();
    let lock = match env.engine {
        EngineKind::Postgres => {
            actions.push(action(
                "drop-column",
                Phase::Contract,
                Symbol::Remove,
                format!("drop column {t}.{column} (with the indexes and constraints that use it)"),
                env.sql(
                    vec![env.alter(&format!("DROP COLUMN {}", env.q(column)))],
                    postgres::LOCK_CATALOG_ONLY,
                    env.effect_column_absent(column),
                ),
            ));
            postgres::LOCK_CATALOG_ONLY
        }
        EngineKind::Mysql => {
            let mut clauses: Vec<String> = deps
                .constraints
                .iter()
                .map(
                    |name| match env.table.constraints.get(name).map(|c| &c.kind) {
                        Some(ConstraintKind::ForeignKey { .. }) => {
                            format!("DROP FOREIGN KEY {}", env.q(name))
                        }
                        _ => format!("DROP CONSTRAINT {}", env.q(name)),
                    },
                )
                .collect();
            let mut index_names: Vec<&str> = indexes.iter().map(|i| i.name.as_str()).collect();
            index_names.extend(
                deps.uniques
                    .iter()
                    .map(String::as_str)
                    .filter(|u| !env.schema.indexes.contains_key(*u)),
            );
            clauses.extend(mysql_drop_indexes_clauses(env, &index_names));
            let effect = match (deps.constraints.first(), index_names.first()) {
                (Some(name), _) => Some(Effect::ConstraintAbsent {
                    table: t.to_string(),
                    constraint: name.clone(),
                }),
                (None, Some(index)) => Some(Effect::IndexAbsent {
                    index: index.to_string(),
                }),
                (None, None) => None,
            };
            if let Some(effect) = effect {
                actions.push(action(
                    "drop-dependents",
                    Phase::Contract,
                    Symbol::Remove,
                    format!(
                        "drop what uses {t}.{column} ({}), so the column can go instantly",
                        clauses.join(", ")
                    ),
                    env.sql(
                        vec![mysql::alter_table(
                            t,
                            &clauses,
                            mysql::Online::InplaceNoLock,
                        )],
                        mysql::LOCK_INPLACE,
                        effect,
                    ),
                ));
            }
            actions.push(action(
                "drop-column",
                Phase::Contract,
                Symbol::Remove,
                format!("drop column {t}.{column}"),
                env.sql(
                    vec![mysql::alter_table(
                        t,
                        &[format!("DROP COLUMN {}", env.q(column))],
                        mysql::Online::Instant,
                    )],
                    mysql::LOCK_INSTANT,
                    env.effect_column_absent(column),
                ),
            ));
            mysql::LOCK_INSTANT
        }
        EngineKind::Sqlite => {
            if !deps.constraints.is_empty() || !deps.uniques.is_empty() {
                // DROP COLUMN refuses a column a constraint uses: the table
                // is rebuilt without both.
                let mut used_by = deps.constraints.clone();
                used_by.extend(deps.uniques.iter().cloned());
                actions.push(action(
                    "drop-column",
                    Phase::Contract,
                    Symbol::Remove,
                    format!(
                        "rebuild {t} without column {column} and constraint {} (and the indexes that use it)",
                        used_by.join(", ")
                    ),
                    super::sqlite_rebuild(
                        t,
                        vec![RebuildEdit::DropColumn {
                            column: column.to_string(),
                        }],
                    ),
                ));
                if let Some(last) = actions.last_mut() {
                    last.removes = removes;
                }
                return Ok(Analysis {
                    classification: env.classify(
                        ChangeClass::Subtractive,
                        "rebuild",
                        sqlite::LOCK_TABLE_REBUILD,
                        format!(
                            "{reason}; SQLite's DROP COLUMN refuses a column that constraint {} uses, so the table is rebuilt without both (one transaction, every row copied)",
                            used_by.join(", ")
                        ),
                    ),
                    actions,
                });
            }
            let mut statements: Vec<String> = indexes
                .iter()
                .map(|i| format!("DROP INDEX {}", env.q(&i.name)))
                .collect();
            statements.push(env.alter(&format!("DROP COLUMN {}", env.q(column))));
            actions.push(action(
                "drop-column",
                Phase::Contract,
                Symbol::Remove,
                format!("drop column {t}.{column} (and the indexes that use it)"),
                env.sql(
                    statements,
                    sqlite::LOCK_TABLE_REWRITE,
                    env.effect_column_absent(column),
                ),
            ));
            sqlite::LOCK_TABLE_REWRITE
        }
    };
    if let Some(last) = actions.last_mut() {
        last.removes = removes;
    }
    let variant = match env.engine {
        EngineKind::Postgres => "catalog-only",
        EngineKind::Mysql => "instant",
        EngineKind::Sqlite => "rewrite",
    };
    Ok(Analysis {
        classification: env.classify(ChangeClass::Subtractive, variant, lock, reason),
        actions,
    })
}

/// Refusals particular to SQLite when a column moves to another one:
/// `DROP COLUMN` refuses a column in a UNIQUE constraint, the new column
/// must be insertable without the old one, and only a constant default
/// can be given to a column `ADD COLUMN` creates.
fn sqlite_move_refusals(env: &Env<'_>, column: &Column, deps: &Dependents) -> Result<(), Refusal> {
    let (t, c) = (env.name(), column.name.as_str());
    if !deps.uniques.is_empty() {
        return Err(super::sqlite_rebuild_refusal(
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
        return Err(super::sqlite_rebuild_refusal(
            env.kind,
            "non-constant-default",
            &format!("give a new column the default {d} of {t}.{c}"),
            "rebuild the table with a raw change",
        ));
    }
    Ok(())
}

pub(super) fn rename_column(env: &Env<'_>, from: &str, to: &str) -> Result<Analysis, Refusal> {
    let t = env.name();
    let col = env.column(from)?;
    let deps = dependents(env, from);
    refuse_pinned(env, from, &deps, "renaming it")?;
    if env.engine == EngineKind::Sqlite {
        sqlite_move_refusals(env, col, &deps)?;
        if !col.nullable && col.default.is_none() {
            return Err(super::sqlite_rebuild_refusal(
                env.kind,
                "not-null-without-default",
                &format!("make {t}.{from} nullable so that new code can insert rows without it"),
                "give the column a default in the schema, or rename it with a raw change once no old release runs",
            ));
        }
    }
    let copies = index_copies(env, from, to)?;
    let (o, n) = (env.q(from), env.q(to));
    let lock = match env.engine {
        EngineKind::Postgres => postgres::LOCK_CATALOG_ONLY,
        EngineKind::Mysql => mysql::LOCK_INSTANT,
        EngineKind::Sqlite => sqlite::LOCK_CATALOG_ONLY,
    };
    let classification = env.classify(
        ChangeClass::Transforming,
        "dual-write",
        lock,
        format!(
            "renaming in place breaks every running release that still uses {from}: {to} is added and kept equal to {from} by triggers in both directions until contract drops {from}"
        ),
    );

    // Expand. SQLite can give a column neither a default nor NOT NULL
    // later, so its copy gets them now (existing rows read the default
    // until the backfill); elsewhere the copy stays nullable without
    // default until contract, so a NULL tells the trigger that the writer
    // did not know the new name.
    let sqlite_default = (env.engine == EngineKind::Sqlite)
        .then_some(col.default.as_deref())
        .flatten();
    let sqlite_not_null = sqlite_default.is_some() && !col.nullable;
    let definition = column_definition(
        env.engine,
        to,
        &col.data_type,
        &[],
        !sqlite_not_null,
        sqlite_default,
    );
    let (sql, add_lock) = add_column_sql(env, &definition);
    let mut actions = vec![action(
        "add-column",
        Phase::Expand,
        Symbol::Add,
        format!("add column {t}.{to} {} (copy of {from})", col.data_type),
        env.sql(vec![sql], add_lock, env.effect_column_exists(to)),
    )
    .creates(env.column_ref(to))
    .needs(env.column_ref(from))];
    if env.engine == EngineKind::Mysql && !col.nullable && col.default.is_none() {
        actions.push(
            action(
                "make-old-nullable",
                Phase::Expand,
                Symbol::Change,
                format!("make {t}.{from} nullable, so that new code can insert rows without it"),
                env.sql(
                    vec![mysql::modify_column_sql(
                        t,
                        &super::mysql_column_definition(col, from, &col.data_type, true),
                    )],
                    mysql::LOCK_INPLACE_REBUILD,
                    Effect::ColumnNullable {
                        table: t.to_string(),
                        column: from.to_string(),
                    },
                ),
            )
            .needs(env.column_ref(from)),
        );
    }
    let triggers = sync::rename_triggers(env.engine, env.table, from, to, sqlite_default);
    for trigger in &triggers {
        actions.push(create_trigger_action(
            env,
            "sync-trigger",
            trigger,
            format!("keep {t}.{from} and {t}.{to} equal"),
            to,
        ));
    }
    for copy in &copies {
        actions.push(copy_index_action(env, copy, to));
    }

    // Migrate.
    let differs = match env.engine {
        EngineKind::Postgres => format!("{n} IS DISTINCT FROM {o}"),
        EngineKind::Mysql => format!("NOT ({n} <=> {o})"),
        EngineKind::Sqlite => format!("{n} IS NOT {o}"),
    };
    actions.push(
        action(
            "backfill",
            Phase::Migrate,
            Symbol::Change,
            format!("backfill {t}.{to} = {from}"),
            env.backfill(format!("{n} = {o}"), differs.clone())?,
        )
        .needs(env.column_ref(to)),
    );

    // Contract.
    actions.push(action(
        "check-synced",
        Phase::Contract,
        Symbol::Change,
        format!("gate: no row of {t} where {to} differs from {from}"),
        env.check(
            CheckKind::Gate,
            &differs,
            format!("every row's {to} equals {from} before {from} is dropped"),
        ),
    ));
    if !col.nullable && env.engine != EngineKind::Sqlite {
        let definition = super::mysql_column_definition(col, to, &col.data_type, false);
        actions.extend(not_null_actions(env, to, Phase::Contract, definition)?);
    }
    let default = col.default.as_deref();
    let mut removes = vec![env.column_ref(from)];
    removes.extend(triggers.iter().map(|tr| env.trigger_ref(tr)));
    removes.extend(copies.iter().map(|c| ObjectRef::Index {
        name: c.original.clone(),
    }));
    match env.engine {
        EngineKind::Postgres => {
            // One transaction: no insert from new code meets the old NOT
            // NULL column without the trigger that fills it.
            let mut statements: Vec<String> =
                triggers.iter().flat_map(|tr| tr.drop.clone()).collect();
            if let Some(d) = default {
                statements.push(env.alter(&format!("ALTER COLUMN {n} SET DEFAULT {d}")));
            }
            statements.push(env.alter(&format!("DROP COLUMN {o}")));
            actions.push(
                action(
                    "drop-old-column",
                    Phase::Contract,
                    Symbol::Remove,
                    format!(
                        "drop sync trigger and column {t}.{from}{}",
                        default
                            .map(|d| format!(", {to} takes the default {d}"))
                            .unwrap_or_default()
                    ),
                    env.sql(
                        statements,
                        postgres::LOCK_CATALOG_ONLY,
                        env.effect_column_absent(from),
                    ),
                )
                .removes(removes),
            );
        }
        EngineKind::Mysql => {
            if let (true, Some(d)) = (col.nullable, default) {
                let (sql, lock) = set_default_sql(env, to, d);
                actions.push(action(
                    "set-default",
                    Phase::Contract,
                    Symbol::Change,
                    format!("set default {d} on {t}.{to}"),
                    env.sql(
                        vec![sql],
                        lock,
                        Effect::ColumnHasDefault {
                            table: t.to_string(),
                            column: to.to_string(),
                        },
                    ),
                ));
            }
            for trigger in &triggers {
                actions.push(drop_trigger_action(env, "drop-sync-trigger", trigger));
            }
            let originals: Vec<&str> = copies.iter().map(|c| c.original.as_str()).collect();
            if let Some(first) = originals.first() {
                actions.push(action(
                    "drop-old-indexes",
                    Phase::Contract,
                    Symbol::Remove,
                    format!(
                        "drop the indexes on {t}.{from} ({}), so the column can go instantly",
                        originals.join(", ")
                    ),
                    env.sql(
                        vec![mysql::alter_table(
                            t,
                            &mysql_drop_indexes_clauses(env, &originals),
                            mysql::Online::InplaceNoLock,
                        )],
                        mysql::LOCK_INPLACE,
                        Effect::IndexAbsent {
                            index: first.to_string(),
                        },
                    ),
                ));
            }
            actions.push(
                action(
                    "drop-old-column",
                    Phase::Contract,
                    Symbol::Remove,
                    format!("drop column {t}.{from}"),
                    env.sql(
                        vec![mysql::alter_table(
                            t,
                            &[format!("DROP COLUMN {o}")],
                            mysql::Online::Instant,
                        )],
                        mysql::LOCK_INSTANT,
                        env.effect_column_absent(from),
                    ),
                )
                .removes([env.column_ref(from)]),
            );
        }
        EngineKind::Sqlite => {
            let mut statements: Vec<String> =
                triggers.iter().flat_map(|tr| tr.drop.clone()).collect();
            statements.extend(
                copies
                    .iter()
                    .map(|c| format!("DROP INDEX {}", env.q(&c.original))),
            );
            statements.push(env.alter(&format!("DROP COLUMN {o}")));
            let nullable_note = if !col.nullable && !sqlite_not_null {
                format!("; {to} stays nullable (SQLite cannot add NOT NULL to a column)")
            } else {
                String::new()
            };
            actions.push(
                action(
                    "drop-old-column",
                    Phase::Contract,
                    Symbol::Remove,
                    format!("drop sync triggers, the indexes on {from} and column {t}.{from}{nullable_note}"),
                    env.sql(statements, sqlite::LOCK_TABLE_REWRITE, env.effect_column_absent(from)),
                )
                .removes(removes),
            );
        }
    }
    for copy in &copies {
        actions.push(rename_index_action(env, copy));
    }
    Ok(Analysis {
        classification,
        actions,
    })
}

pub(super) fn alter_column_type(
    env: &Env<'_>,
    column: &str,
    new_type: &str,
    using: Option<&str>,
    written_as: &str,
) -> Result<Analysis, Refusal> {
    let t = env.name();
    let col = env.column(column)?;
    if using.is_some() && env.engine != EngineKind::Postgres {
        return Err(env.refuse(
            "using",
            format!(
                "USING is PostgreSQL syntax; {} does not accept it",
                env.engine
            ),
            "write the conversion as a backfill of a new column instead".to_string(),
        ));
    }
    if env.engine == EngineKind::Postgres {
        if let Some(view) = env.schema.views_using(t, Some(column)).into_iter().next() {
            return Err(env.refuse(
                "view-reads-column",
                format!("view {view} reads {t}.{column}: PostgreSQL refuses to change the type of a column a view reads, even in the catalog only"),
                format!("drop view {view} as its own change before this one, and create it again in a later version"),
            ));
        }
    }
    let c = env.q(column);
    let type_effect = Effect::ColumnType {
        table: t.to_string(),
        column: column.to_string(),
        data_type: new_type.to_string(),
    };
    let summary = format!("change {t}.{column} from {} to {new_type}", col.data_type);
    match env.engine {
        EngineKind::Postgres
            if using.is_none() && postgres::is_binary_compatible(&col.data_type, new_type) =>
        {
            let classification = env.classify(
                ChangeClass::Additive,
                "binary-compatible",
                postgres::LOCK_CATALOG_ONLY,
                format!(
                    "{} to {new_type} is binary compatible: PostgreSQL changes the catalog only, without rewriting the table or rebuilding its indexes, and old code reads and writes the column as before",
                    col.data_type
                ),
            );
            let step = env.sql(
                vec![env.alter(&format!("ALTER COLUMN {c} TYPE {new_type}"))],
                postgres::LOCK_CATALOG_ONLY,
                type_effect,
            );
            let change = action("alter-type", Phase::Expand, Symbol::Change, summary, step)
                .needs(env.column_ref(column));
            return Ok(Analysis {
                classification,
                actions: vec![change],
            });
        }
        EngineKind::Mysql if mysql::varchar_extension_in_place(&col.data_type, new_type) => {
            let classification = env.classify(
                ChangeClass::Additive,
                "inplace",
                mysql::LOCK_INPLACE,
                format!(
                    "{} to {new_type} keeps the length prefix's size: InnoDB changes it in place without copying the table, and old code reads and writes the column as before",
                    col.data_type
                ),
            );
            let definition = super::mysql_column_definition(col, column, new_type, col.nullable);
            let step = env.sql(
                vec![mysql::modify_column_sql(t, &definition)],
                mysql::LOCK_INPLACE,
                type_effect,
            );
            let change = action("alter-type", Phase::Expand, Symbol::Change, summary, step)
                .needs(env.column_ref(column));
            return Ok(Analysis {
                classification,
                actions: vec![change],
            });
        }
        _ => {}
    }

    let deps = dependents(env, column);
    refuse_pinned(env, column, &deps, "changing its type")?;
    if env.engine == EngineKind::Sqlite {
        sqlite_move_refusals(env, col, &deps)?;
    }
    let twin = twin_column(column);
    let w = env.q(&twin);
    let (lock, as_written) = match env.engine {
        EngineKind::Postgres => (
            postgres::LOCK_TABLE_REWRITE,
            "PostgreSQL rewrites the table and rebuilds its indexes under ACCESS EXCLUSIVE"
                .to_string(),
        ),
        EngineKind::Mysql => (
            mysql::LOCK_COPY,
            "InnoDB copies the table while writes wait".to_string(),
        ),
        EngineKind::Sqlite => (
            sqlite::LOCK_TABLE_REWRITE,
            "SQLite has no ALTER COLUMN TYPE: it needs the table rebuilt".to_string(),
        ),
    };
    let classification = env.classify(
        ChangeClass::Transforming,
        "twin-column",
        lock,
        format!(
            "{written_as} from {} to {new_type}: {as_written}; instead a twin column {twin} of the new type is kept converted by a trigger, backfilled, and swapped in at contract",
            col.data_type
        ),
    );

    // Expand. SQLite gives the twin the column's default and NOT NULL now,
    // as it cannot later; the trigger overwrites the default on every write.
    let sqlite_default = (env.engine == EngineKind::Sqlite)
        .then_some(col.default.as_deref())
        .flatten();
    let sqlite_not_null = sqlite_default.is_some() && !col.nullable;
    let definition = column_definition(
        env.engine,
        &twin,
        new_type,
        &[],
        !sqlite_not_null,
        sqlite_default,
    );
    let (sql, add_lock) = add_column_sql(env, &definition);
    let mut actions = vec![action(
        "add-twin-column",
        Phase::Expand,
        Symbol::Add,
        format!("add column {t}.{twin} {new_type} (twin of {column})"),
        env.sql(vec![sql], add_lock, env.effect_column_exists(&twin)),
    )
    .creates(env.column_ref(&twin))
    .needs(env.column_ref(column))];
    let triggers = sync::twin_triggers(env.engine, env.table, column, &twin, new_type, using)
        .map_err(|e| {
            env.refuse(
                "using-expression",
                e,
                "write the USING expression over the row's own columns".to_string(),
            )
        })?;
    for trigger in &triggers {
        actions.push(create_trigger_action(
            env,
            "sync-trigger",
            trigger,
            format!("keep {t}.{twin} converted from {column}"),
            &twin,
        ));
    }
    // SQLite builds the indexes once, in the swap: until then new code
    // still queries the original column.
    let copies = match env.engine {
        EngineKind::Sqlite => Vec::new(),
        _ => index_copies(env, column, &twin)?,
    };
    for copy in &copies {
        actions.push(copy_index_action(env, copy, &twin));
    }

    // Migrate.
    let (converted, pending, gate) = match env.engine {
        EngineKind::Postgres => {
            let converted = using
                .map(str::to_string)
                .unwrap_or_else(|| format!("CAST({c} AS {new_type})"));
            let differs = format!("{w} IS DISTINCT FROM {converted}");
            (converted, differs.clone(), differs)
        }
        EngineKind::Mysql => (
            c.clone(),
            format!("{w} IS NULL AND {c} IS NOT NULL"),
            format!("({w} IS NULL) <> ({c} IS NULL)"),
        ),
        // SQLite converts on assignment through the twin's affinity, and
        // keeps a value it cannot convert as it was; `CAST` would turn
        // 'abc' into 0 without a word. The comparison applies the same
        // conversion to both sides; the gate also counts the values that
        // stayed text or blob in a numeric column.
        EngineKind::Sqlite => {
            let differs = format!("{w} IS NOT {c}");
            let gate = if sqlite::has_numeric_affinity(new_type) {
                format!("{differs} OR typeof({w}) IN ('text', 'blob')")
            } else {
                differs.clone()
            };
            (c.clone(), differs, gate)
        }
    };
    actions.push(
        action(
            "backfill",
            Phase::Migrate,
            Symbol::Change,
            format!("backfill {t}.{twin} = {converted}"),
            env.backfill(format!("{w} = {converted}"), pending)?,
        )
        .needs(env.column_ref(&twin)),
    );

    // Contract.
    actions.push(action(
        "check-synced",
        Phase::Contract,
        Symbol::Change,
        format!("gate: every row of {t} has {twin} converted from {column}"),
        env.check(
            CheckKind::Gate,
            &gate,
            format!("{twin} carries every value of {column} before the swap"),
        ),
    ));
    if !col.nullable && env.engine != EngineKind::Sqlite {
        let definition = super::mysql_column_definition(col, &twin, new_type, false);
        actions.extend(not_null_actions(env, &twin, Phase::Contract, definition)?);
    }
    let default = col.default.as_deref();
    let mut removes = vec![env.column_ref(&twin)];
    removes.extend(triggers.iter().map(|tr| env.trigger_ref(tr)));
    let trigger_drops = triggers.iter().flat_map(|tr| tr.drop.clone());
    let swap_summary = format!("swap {t}.{twin} in for {column}: drop the sync trigger and the old column, rename {twin} to {column}");
    let swap = match env.engine {
        EngineKind::Postgres => {
            let mut statements: Vec<String> = trigger_drops.collect();
            // The default as written: PostgreSQL coerces it to the new type
            // as `ALTER … TYPE` does (an assignment cast, shown as no cast).
            if let Some(d) = default {
                statements.push(env.alter(&format!("ALTER COLUMN {w} SET DEFAULT {d}")));
            }
            statements.push(env.alter(&format!("DROP COLUMN {c}")));
            statements.push(env.alter(&format!("RENAME COLUMN {w} TO {c}")));
            env.sql(
                statements,
                postgres::LOCK_CATALOG_ONLY,
                env.effect_column_absent(&twin),
            )
        }
        EngineKind::Mysql => {
            if let (true, Some(d)) = (col.nullable, default) {
                let (sql, lock) = set_default_sql(env, &twin, d);
                actions.push(action(
                    "set-twin-default",
                    Phase::Contract,
                    Symbol::Change,
                    format!("set default {d} on {t}.{twin}"),
                    env.sql(
                        vec![sql],
                        lock,
                        Effect::ColumnHasDefault {
                            table: t.to_string(),
                            column: twin.clone(),
                        },
                    ),
                ));
            }
            // MySQL cannot drop triggers and a column atomically: the
            // table stays write-locked from the trigger drops to the
            // swap, so no write to the old column goes uncopied.
            let mut statements = vec![format!("LOCK TABLES {} WRITE", env.q(t))];
            statements.extend(trigger_drops);
            let originals: Vec<&str> = copies.iter().map(|c| c.original.as_str()).collect();
            if !originals.is_empty() {
                statements.push(mysql::alter_table(
                    t,
                    &mysql_drop_indexes_clauses(env, &originals),
                    mysql::Online::InplaceLocked,
                ));
            }
            statements.push(mysql::alter_table(
                t,
                &[
                    format!("DROP COLUMN {c}"),
                    format!("RENAME COLUMN {w} TO {c}"),
                ],
                mysql::Online::Instant,
            ));
            statements.push("UNLOCK TABLES".to_string());
            Step::Sql(SqlStep {
                statements,
                transactional: false,
                lock: mysql::LOCK_TABLES_WRITE.to_string(),
                effect: env.effect_column_absent(&twin),
            })
        }
        EngineKind::Sqlite => {
            // The column's indexes go with it and come back, built on the
            // new column under their own names, in the same transaction.
            let rebuilt = index_copies(env, column, column)?;
            let mut statements: Vec<String> = trigger_drops.collect();
            statements.extend(
                rebuilt
                    .iter()
                    .map(|i| format!("DROP INDEX {}", env.q(&i.original))),
            );
            statements.push(env.alter(&format!("DROP COLUMN {c}")));
            statements.push(env.alter(&format!("RENAME COLUMN {w} TO {c}")));
            statements.extend(
                rebuilt
                    .iter()
                    .map(|i| sqlite_create_index(env, &i.original, i)),
            );
            env.sql(
                statements,
                sqlite::LOCK_TABLE_REWRITE,
                env.effect_column_absent(&twin),
            )
        }
    };
    let nullable_note = if env.engine == EngineKind::Sqlite && !col.nullable && !sqlite_not_null {
        format!("; {column} stays nullable (SQLite cannot add NOT NULL to a column)")
    } else {
        String::new()
    };
    actions.push(
        action(
            "swap-columns",
            Phase::Contract,
            Symbol::Change,
            format!("{swap_summary}{nullable_note}"),
            swap,
        )
        .removes(removes),
    );
    for copy in &copies {
        actions.push(rename_index_action(env, copy));
    }
    Ok(Analysis {
        classification,
        actions,
    })
}

pub(super) fn set_not_null(env: &Env<'_>, column: &str) -> Result<Analysis, Refusal> {
    let col = env.column(column)?;
    let (variant, lock, reason) = match env.engine {
        EngineKind::Postgres => (
            "validated-check",
            postgres::LOCK_TABLE_SCAN,
            "SET NOT NULL scans the whole table under ACCESS EXCLUSIVE; instead a NOT VALID check is added and validated (reads and writes continue), after which SET NOT NULL needs no scan",
        ),
        EngineKind::Mysql => (
            "inplace",
            mysql::LOCK_INPLACE_REBUILD,
            "old code may still write NULL: NOT NULL is enforced in contract, after a violations check, with an in-place rebuild",
        ),
        EngineKind::Sqlite => (
            "rebuild",
            sqlite::LOCK_TABLE_REBUILD,
            "SQLite cannot add NOT NULL to a column in place: after a violations check, the table is rebuilt with it (one transaction, every row copied)",
        ),
    };
    let classification = env.classify(
        ChangeClass::Transforming,
        variant,
        lock,
        format!("{reason}. It restricts what old code may write, so it runs in contract"),
    );
    let definition = super::mysql_column_definition(col, column, &col.data_type, false);
    Ok(Analysis {
        classification,
        actions: not_null_actions(env, column, Phase::Contract, definition)?,
    })
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

/// The expand step that keeps a dropped column writable by releases that
/// no longer write it, until contract drops it (`Column::until_dropped`).
fn writable_until_dropped(env: &Env<'_>, col: &Column) -> Option<Action> {
    let (t, column) = (env.name(), col.name.as_str());
    let (key, summary, step) = match col.until_dropped(env.ctx.fill.as_deref())? {
        UntilDropped::Fill(fill) => {
            let step = if env.engine == EngineKind::Sqlite {
                super::sqlite_rebuild(
                    t,
                    vec![RebuildEdit::SetDefault {
                        column: column.to_string(),
                        default: fill.clone(),
                    }],
                )
            } else {
                let (sql, lock) = set_default_sql(env, column, &fill);
                env.sql(vec![sql], lock, Effect::Rerunnable)
            };
            let summary = format!(
                "set default {fill} on {t}.{column} (the change's fill:), so releases that no longer write it can insert until contract drops it"
            );
            ("fill-until-dropped", summary, step)
        }
        UntilDropped::AllowNull => {
            let (_, step, lock) = allow_null_step(env, col);
            let summary = format!(
                "allow NULL in {t}.{column} ({lock}), so releases that no longer write it can insert until contract drops it"
            );
            ("allow-null-until-dropped", summary, step)
        }
    };
    Some(action(key, Phase::Expand, Symbol::Change, summary, step).needs(env.column_ref(column)))
}

pub(super) fn drop_not_null(env: &Env<'_>, column: &str) -> Result<Analysis, Refusal> {
    let t = env.name();
    let col = env.column(column)?;
    if dependents(env, column).primary_key {
        return Err(env.refuse(
            "primary-key",
            format!("{t}.{column} is (part of) the primary key, which cannot hold NULL"),
            "replace the primary key first".to_string(),
        ));
    }
    let (variant, step, lock) = allow_null_step(env, col);
    let classification = env.classify(
        ChangeClass::Additive,
        variant,
        lock,
        "allowing NULL accepts everything old code writes; only new code may write NULL"
            .to_string(),
    );
    let change = action(
        "drop-not-null",
        Phase::Expand,
        Symbol::Change,
        format!("allow NULL in {t}.{column}"),
        step,
    )
    .needs(env.column_ref(column));
    Ok(Analysis {
        classification,
        actions: vec![change],
    })
}

pub(super) fn set_default(
    env: &Env<'_>,
    column: &str,
    default: &DefaultExpr,
) -> Result<Analysis, Refusal> {
    let t = env.name();
    env.column(column)?;
    let (variant, lock) = match env.engine {
        EngineKind::Mysql => ("instant", mysql::LOCK_INSTANT),
        EngineKind::Postgres => ("catalog-only", postgres::LOCK_CATALOG_ONLY),
        EngineKind::Sqlite => ("rebuild", sqlite::LOCK_TABLE_REBUILD),
    };
    let classification = env.classify(
        ChangeClass::Additive,
        variant,
        lock,
        "a default applies to new rows only (a volatile one too): no row is touched, and old code's inserts keep working".to_string(),
    );
    // The column may have had another default: only running the statement
    // (again) makes sure it has this one.
    let step = if env.engine == EngineKind::Sqlite {
        super::sqlite_rebuild(
            t,
            vec![RebuildEdit::SetDefault {
                column: column.to_string(),
                default: default.sql.clone(),
            }],
        )
    } else {
        let (sql, lock) = set_default_sql(env, column, &default.sql);
        env.sql(vec![sql], lock, Effect::Rerunnable)
    };
    let change = action(
        "set-default",
        Phase::Expand,
        Symbol::Change,
        format!("set default {} on {t}.{column}", default.sql),
        step,
    )
    .needs(env.column_ref(column));
    Ok(Analysis {
        classification,
        actions: vec![change],
    })
}

pub(super) fn drop_default(env: &Env<'_>, column: &str) -> Result<Analysis, Refusal> {
    let t = env.name();
    env.column(column)?;
    let clause = format!("ALTER COLUMN {} DROP DEFAULT", env.q(column));
    let no_default = Effect::ColumnHasNoDefault {
        table: t.to_string(),
        column: column.to_string(),
    };
    let (variant, step, lock) = match env.engine {
        EngineKind::Postgres => (
            "catalog-only",
            env.sql(
                vec![env.alter(&clause)],
                postgres::LOCK_CATALOG_ONLY,
                no_default,
            ),
            postgres::LOCK_CATALOG_ONLY,
        ),
        EngineKind::Mysql => (
            "instant",
            env.sql(
                vec![mysql::alter_table(t, &[clause], mysql::Online::Instant)],
                mysql::LOCK_INSTANT,
                no_default,
            ),
            mysql::LOCK_INSTANT,
        ),
        EngineKind::Sqlite => (
            "rebuild",
            super::sqlite_rebuild(
                t,
                vec![RebuildEdit::DropDefault {
                    column: column.to_string(),
                }],
            ),
            sqlite::LOCK_TABLE_REBUILD,
        ),
    };
    let classification = env.classify(
        ChangeClass::Subtractive,
        variant,
        lock,
        "old code may rely on the default when it inserts rows without the column: it is dropped in contract".to_string(),
    );
    let change = action(
        "drop-default",
        Phase::Contract,
        Symbol::Remove,
        format!("drop the default of {t}.{column}"),
        step,
    )
    .needs(env.column_ref(column));
    Ok(Analysis {
        classification,
        actions: vec![change],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{analyze, Context, Operation};
    use crate::schema::Constraint;

    fn col(name: &str, data_type: &str, nullable: bool, default: Option<&str>) -> Column {
        Column {
            name: name.into(),
            data_type: data_type.into(),
            nullable,
            default: default.map(str::to_string),
            drop_at: None,
        }
    }

    fn constraint(name: &str, kind: ConstraintKind) -> (String, Constraint) {
        (
            name.to_string(),
            Constraint {
                name: name.to_string(),
                kind,
                validated: true,
            },
        )
    }

    fn index(
        engine: EngineKind,
        name: &str,
        table: &str,
        column: &str,
        unique: bool,
    ) -> (String, Index) {
        let index = Index {
            name: name.into(),
            table: table.into(),
            keys: vec![engine.quote_ident(column)],
            columns: vec![column.into()],
            unique,
            predicate: None,
            drop_at: None,
        };
        (name.to_string(), index)
    }

    /// users (id PK; name NOT NULL, indexed; email UNIQUE, referenced by
    /// orders; status NOT NULL DEFAULT 'active'; bio under a CHECK; nick
    /// indexed), orders (user_id and contact_email under foreign keys),
    /// logs (no primary key).
    fn schema(engine: EngineKind) -> Schema {
        let mut users = Table::new("users");
        users.columns = vec![
            col("id", "bigint", false, None),
            col("name", "text", false, None),
            col("email", "varchar(20)", true, None),
            col("status", "varchar(10)", false, Some("'active'")),
            col("bio", "text", true, None),
            col("nick", "VARCHAR(20)", true, None),
        ];
        users.primary_key = vec!["id".into()];
        users.constraints = [
            constraint(
                "users_pkey",
                ConstraintKind::PrimaryKey {
                    columns: vec!["id".into()],
                },
            ),
            constraint(
                "users_email_key",
                ConstraintKind::Unique {
                    columns: vec!["email".into()],
                },
            ),
            constraint(
                "users_bio_check",
                ConstraintKind::Check {
                    expr: "length(bio) < 1000".into(),
                },
            ),
        ]
        .into_iter()
        .collect();
        let mut orders = Table::new("orders");
        orders.columns = vec![
            col("id", "bigint", false, None),
            col("user_id", "bigint", false, None),
            col("contact_email", "varchar(20)", true, None),
        ];
        orders.primary_key = vec!["id".into()];
        orders.constraints = [
            constraint(
                "orders_user_fk",
                ConstraintKind::ForeignKey {
                    columns: vec!["user_id".into()],
                    ref_table: "users".into(),
                    ref_columns: vec!["id".into()],
                },
            ),
            constraint(
                "orders_email_fk",
                ConstraintKind::ForeignKey {
                    columns: vec!["contact_email".into()],
                    ref_table: "users".into(),
                    ref_columns: vec!["email".into()],
                },
            ),
        ]
        .into_iter()
        .collect();
        let mut logs = Table::new("logs");
        logs.columns = vec![col("msg", "text", true, None)];
        Schema {
            version: 1,
            tables: [users, orders, logs]
                .into_iter()
                .map(|t| (t.name.clone(), t))
                .collect(),
            indexes: [
                index(engine, "users_name_idx", "users", "name", false),
                index(engine, "users_nick_idx", "users", "nick", false),
                index(engine, "orders_user_idx", "orders", "user_id", false),
            ]
            .into_iter()
            .collect(),
            views: Default::default(),
            ..Schema::default()
        }
    }

    fn run(engine: EngineKind, op: &Operation) -> Result<Analysis, Refusal> {
        let backfills = [(
            "users".to_string(),
            "handle".to_string(),
            "split_part(email, '@', 1)".to_string(),
        )];
        let ctx = Context {
            version: 2,
            soft_drop: false,
            backfill_exprs: &backfills,
            batch_size: 5000,
            fill: None,
        };
        analyze(engine, op, &schema(engine), &ctx)
    }

    fn statements(analysis: &Analysis) -> Vec<String> {
        analysis
            .actions
            .iter()
            .flat_map(|a| match &a.step {
                Step::Sql(s) => s
                    .statements
                    .iter()
                    .map(|st| format!("{}/{}: {st}", a.phase, a.key))
                    .collect(),
                Step::Backfill(b) => vec![format!(
                    "{}/{}: SET {} WHERE {}",
                    a.phase, a.key, b.set, b.pending
                )],
                Step::Check(c) => vec![format!("{}/{}: {}", a.phase, a.key, c.count_sql)],
                Step::Rebuild(r) => vec![format!(
                    "{}/{}: REBUILD {} ({})",
                    a.phase,
                    a.key,
                    r.table,
                    r.edits
                        .iter()
                        .map(|e| e.describe())
                        .collect::<Vec<_>>()
                        .join("; ")
                )],
            })
            .collect()
    }

    fn add(
        name: &str,
        data_type: &str,
        nullable: bool,
        default: Option<(&str, bool)>,
    ) -> Operation {
        Operation::AddColumn {
            table: "users".into(),
            column: ColumnSpec {
                name: name.into(),
                data_type: data_type.into(),
                nullable,
                default: default.map(|(sql, volatile)| DefaultExpr {
                    sql: sql.into(),
                    volatile,
                }),
                extra: Vec::new(),
            },
        }
    }

    fn add_with(name: &str, extra: &str) -> Operation {
        let Operation::AddColumn { table, mut column } = add(name, "text", true, None) else {
            unreachable!()
        };
        column.extra.push(extra.into());
        Operation::AddColumn { table, column }
    }

    fn on(table: &str, op: Operation) -> Operation {
        match op {
            Operation::AddColumn { column, .. } => Operation::AddColumn {
                table: table.into(),
                column,
            },
            Operation::DropColumn { column, .. } => Operation::DropColumn {
                table: table.into(),
                column,
            },
            Operation::RenameColumn { from, to, .. } => Operation::RenameColumn {
                table: table.into(),
                from,
                to,
            },
            other => other,
        }
    }

    fn drop_col(column: &str) -> Operation {
        Operation::DropColumn {
            table: "users".into(),
            column: column.into(),
        }
    }

    fn rename(from: &str, to: &str) -> Operation {
        Operation::RenameColumn {
            table: "users".into(),
            from: from.into(),
            to: to.into(),
        }
    }

    fn alter_type(column: &str, new_type: &str, using: Option<&str>) -> Operation {
        Operation::AlterColumnType {
            table: "users".into(),
            column: column.into(),
            new_type: new_type.into(),
            using: using.map(str::to_string),
            written_as: "ALTER COLUMN TYPE".into(),
        }
    }

    fn set_nn(column: &str) -> Operation {
        Operation::SetNotNull {
            table: "users".into(),
            column: column.into(),
        }
    }

    fn drop_nn(column: &str) -> Operation {
        Operation::DropNotNull {
            table: "users".into(),
            column: column.into(),
        }
    }

    fn set_def(column: &str, sql: &str, volatile: bool) -> Operation {
        Operation::SetDefault {
            table: "users".into(),
            column: column.into(),
            default: DefaultExpr {
                sql: sql.into(),
                volatile,
            },
        }
    }

    fn drop_def(column: &str) -> Operation {
        Operation::DropDefault {
            table: "users".into(),
            column: column.into(),
        }
    }

    /// `phase/key` of every action, in order.
    fn shape(analysis: &Analysis) -> Vec<String> {
        analysis
            .actions
            .iter()
            .map(|a| format!("{}/{}", a.phase, a.key))
            .collect()
    }

    enum Expect {
        Planned(
            ChangeClass,
            &'static str,
            &'static str,
            &'static [&'static str],
        ),
        Refused(&'static str),
    }
    use Expect::{Planned, Refused};

    const PG_NOT_NULL_MIGRATE: [&str; 4] = [
        "migrate/check-nulls",
        "migrate/add-not-null-check",
        "migrate/validate-not-null-check",
        "migrate/set-not-null",
    ];

    #[test]
    fn classification_and_actions_per_engine() {
        use ChangeClass::{Additive, Subtractive, Transforming};
        use EngineKind::{Mysql, Postgres, Sqlite};
        let pg_volatile_not_null: Vec<&str> = [
            "expand/add-column",
            "expand/set-default",
            "migrate/backfill",
        ]
        .into_iter()
        .chain(PG_NOT_NULL_MIGRATE)
        .collect();
        let pg_fill: Vec<&str> = ["expand/add-column", "expand/fill-trigger"]
            .into_iter()
            .chain(PG_NOT_NULL_MIGRATE)
            .chain(["contract/drop-fill-trigger"])
            .collect();
        let cases: Vec<(EngineKind, Operation, Expect)> = vec![
            // ADD COLUMN
            (
                Postgres,
                add("note", "text", true, None),
                Planned(
                    Additive,
                    "pg/add-column/nullable",
                    postgres::LOCK_CATALOG_ONLY,
                    &["expand/add-column"],
                ),
            ),
            (
                Postgres,
                add("flag", "boolean", false, Some(("false", false))),
                Planned(
                    Additive,
                    "pg/add-column/constant-default",
                    postgres::LOCK_CATALOG_ONLY,
                    &["expand/add-column"],
                ),
            ),
            (
                Postgres,
                add("token", "uuid", true, Some(("gen_random_uuid()", true))),
                Planned(
                    Transforming,
                    "pg/add-column/volatile-default",
                    postgres::LOCK_TABLE_REWRITE,
                    &[
                        "expand/add-column",
                        "expand/set-default",
                        "migrate/backfill",
                    ],
                ),
            ),
            (
                Postgres,
                add("token", "uuid", false, Some(("gen_random_uuid()", true))),
                Planned(
                    Transforming,
                    "pg/add-column/volatile-default",
                    postgres::LOCK_TABLE_REWRITE,
                    pg_volatile_not_null.clone().leak(),
                ),
            ),
            (
                Postgres,
                add("handle", "text", false, None),
                Planned(
                    Transforming,
                    "pg/add-column/not-null-without-default",
                    postgres::LOCK_CATALOG_ONLY,
                    pg_fill.clone().leak(),
                ),
            ),
            (
                Postgres,
                add("other", "text", false, None),
                Refused("pg/add-column/not-null-without-default"),
            ),
            (
                Postgres,
                on("logs", add("n", "float8", true, Some(("random()", true)))),
                Refused("pg/backfill/no-primary-key"),
            ),
            (
                Postgres,
                add("seq", "bigserial", true, None),
                Refused("pg/add-column/serial"),
            ),
            (
                Postgres,
                add_with("code", "UNIQUE"),
                Refused("pg/add-column/inline-constraint"),
            ),
            (
                Postgres,
                add_with("code", "GENERATED ALWAYS AS (upper(name)) STORED"),
                Refused("pg/add-column/generated"),
            ),
            (
                Postgres,
                add_with("code", "COLLATE \"C\""),
                Planned(
                    Additive,
                    "pg/add-column/nullable",
                    postgres::LOCK_CATALOG_ONLY,
                    &["expand/add-column"],
                ),
            ),
            (
                Mysql,
                add("note", "TEXT", true, None),
                Planned(
                    Additive,
                    "mysql/add-column/nullable",
                    mysql::LOCK_INSTANT,
                    &["expand/add-column"],
                ),
            ),
            (
                Mysql,
                add("flag", "BOOLEAN", false, Some(("0", false))),
                Planned(
                    Additive,
                    "mysql/add-column/constant-default",
                    mysql::LOCK_INSTANT,
                    &["expand/add-column"],
                ),
            ),
            (
                Mysql,
                add("token", "CHAR(36)", true, Some(("UUID()", true))),
                Planned(
                    Transforming,
                    "mysql/add-column/volatile-default",
                    mysql::LOCK_COPY,
                    &[
                        "expand/add-column",
                        "expand/set-default",
                        "migrate/backfill",
                    ],
                ),
            ),
            (
                Mysql,
                add("handle", "TEXT", false, None),
                Planned(
                    Transforming,
                    "mysql/add-column/not-null-without-default",
                    mysql::LOCK_INSTANT,
                    &[
                        "expand/add-column",
                        "expand/fill-trigger-insert",
                        "expand/fill-trigger-update",
                        "migrate/check-nulls",
                        "migrate/set-not-null",
                        "contract/drop-fill-trigger-insert",
                        "contract/drop-fill-trigger-update",
                    ],
                ),
            ),
            (
                Mysql,
                add("seq", "SERIAL", true, None),
                Refused("mysql/add-column/serial"),
            ),
            (
                Mysql,
                add_with("code", "REFERENCES orgs (id)"),
                Refused("mysql/add-column/inline-constraint"),
            ),
            (
                Sqlite,
                add("note", "TEXT", true, None),
                Planned(
                    Additive,
                    "sqlite/add-column/nullable",
                    sqlite::LOCK_CATALOG_ONLY,
                    &["expand/add-column"],
                ),
            ),
            (
                Sqlite,
                add("flag", "INTEGER", false, Some(("0", false))),
                Planned(
                    Additive,
                    "sqlite/add-column/constant-default",
                    sqlite::LOCK_CATALOG_ONLY,
                    &["expand/add-column"],
                ),
            ),
            (
                Sqlite,
                add_with("org_id", "REFERENCES orgs (id)"),
                Planned(
                    Additive,
                    "sqlite/add-column/nullable",
                    sqlite::LOCK_CATALOG_ONLY,
                    &["expand/add-column"],
                ),
            ),
            (
                Sqlite,
                add("at", "TEXT", true, Some(("CURRENT_TIMESTAMP", false))),
                Planned(
                    Transforming,
                    "sqlite/add-column/volatile-default",
                    sqlite::LOCK_TABLE_REBUILD,
                    &[
                        "expand/add-column",
                        "expand/set-default",
                        "migrate/backfill",
                    ],
                ),
            ),
            (
                Sqlite,
                add("handle", "TEXT", false, None),
                Planned(
                    Transforming,
                    "sqlite/add-column/not-null-without-default",
                    sqlite::LOCK_TABLE_REBUILD,
                    &[
                        "expand/add-column",
                        "expand/fill-trigger-insert",
                        "expand/fill-trigger-update",
                        "contract/check-nulls",
                        "contract/set-not-null",
                        "contract/drop-fill-trigger-insert",
                        "contract/drop-fill-trigger-update",
                    ],
                ),
            ),
            (
                Sqlite,
                add("seen", "TEXT", false, Some(("CURRENT_TIMESTAMP", false))),
                Planned(
                    Transforming,
                    "sqlite/add-column/volatile-default",
                    sqlite::LOCK_TABLE_REBUILD,
                    &[
                        "expand/add-column",
                        "expand/set-default",
                        "migrate/backfill",
                        "contract/check-nulls",
                        "contract/set-not-null",
                    ],
                ),
            ),
            // DROP COLUMN
            (
                Postgres,
                drop_col("bio"),
                Planned(
                    Subtractive,
                    "pg/drop-column/catalog-only",
                    postgres::LOCK_CATALOG_ONLY,
                    &["contract/drop-column"],
                ),
            ),
            (
                Postgres,
                drop_col("id"),
                Refused("pg/drop-column/primary-key"),
            ),
            (
                Postgres,
                drop_col("email"),
                Refused("pg/drop-column/referenced"),
            ),
            (
                Mysql,
                drop_col("status"),
                Planned(
                    Subtractive,
                    "mysql/drop-column/instant",
                    mysql::LOCK_INSTANT,
                    &["contract/drop-column"],
                ),
            ),
            (
                Mysql,
                drop_col("bio"),
                Planned(
                    Subtractive,
                    "mysql/drop-column/instant",
                    mysql::LOCK_INSTANT,
                    &["contract/drop-dependents", "contract/drop-column"],
                ),
            ),
            (
                Mysql,
                drop_col("nick"),
                Planned(
                    Subtractive,
                    "mysql/drop-column/instant",
                    mysql::LOCK_INSTANT,
                    &["contract/drop-dependents", "contract/drop-column"],
                ),
            ),
            (
                Mysql,
                on("orders", drop_col("user_id")),
                Planned(
                    Subtractive,
                    "mysql/drop-column/instant",
                    mysql::LOCK_INSTANT,
                    &[
                        "expand/allow-null-until-dropped",
                        "contract/drop-dependents",
                        "contract/drop-column",
                    ],
                ),
            ),
            (
                Sqlite,
                drop_col("nick"),
                Planned(
                    Subtractive,
                    "sqlite/drop-column/rewrite",
                    sqlite::LOCK_TABLE_REWRITE,
                    &["contract/drop-column"],
                ),
            ),
            (
                Sqlite,
                drop_col("bio"),
                Planned(
                    Subtractive,
                    "sqlite/drop-column/rebuild",
                    sqlite::LOCK_TABLE_REBUILD,
                    &["contract/drop-column"],
                ),
            ),
            (
                Sqlite,
                on("orders", drop_col("user_id")),
                Planned(
                    Subtractive,
                    "sqlite/drop-column/rebuild",
                    sqlite::LOCK_TABLE_REBUILD,
                    &["expand/allow-null-until-dropped", "contract/drop-column"],
                ),
            ),
            // RENAME COLUMN
            (
                Postgres,
                rename("name", "full_name"),
                Planned(
                    Transforming,
                    "pg/rename-column/dual-write",
                    postgres::LOCK_CATALOG_ONLY,
                    &[
                        "expand/add-column",
                        "expand/sync-trigger",
                        "expand/copy-index-users_name_idx",
                        "migrate/backfill",
                        "contract/check-synced",
                        "contract/check-nulls",
                        "contract/add-not-null-check",
                        "contract/validate-not-null-check",
                        "contract/set-not-null",
                        "contract/drop-old-column",
                        "contract/rename-index-users_name_idx",
                    ],
                ),
            ),
            (
                Postgres,
                rename("bio", "about"),
                Refused("pg/rename-column/constrained"),
            ),
            (
                Postgres,
                rename("id", "user_id"),
                Refused("pg/rename-column/primary-key"),
            ),
            (
                Postgres,
                rename("email", "mail"),
                Refused("pg/rename-column/referenced"),
            ),
            (
                Postgres,
                on("orders", rename("user_id", "owner_id")),
                Refused("pg/rename-column/constrained"),
            ),
            (
                Mysql,
                rename("name", "full_name"),
                Planned(
                    Transforming,
                    "mysql/rename-column/dual-write",
                    mysql::LOCK_INSTANT,
                    &[
                        "expand/add-column",
                        "expand/make-old-nullable",
                        "expand/sync-trigger-insert",
                        "expand/sync-trigger-update",
                        "expand/copy-index-users_name_idx",
                        "migrate/backfill",
                        "contract/check-synced",
                        "contract/check-nulls",
                        "contract/set-not-null",
                        "contract/drop-sync-trigger-insert",
                        "contract/drop-sync-trigger-update",
                        "contract/drop-old-indexes",
                        "contract/drop-old-column",
                        "contract/rename-index-users_name_idx",
                    ],
                ),
            ),
            (
                Mysql,
                rename("status", "state"),
                Planned(
                    Transforming,
                    "mysql/rename-column/dual-write",
                    mysql::LOCK_INSTANT,
                    &[
                        "expand/add-column",
                        "expand/sync-trigger-insert",
                        "expand/sync-trigger-update",
                        "migrate/backfill",
                        "contract/check-synced",
                        "contract/check-nulls",
                        "contract/set-not-null",
                        "contract/drop-sync-trigger-insert",
                        "contract/drop-sync-trigger-update",
                        "contract/drop-old-column",
                    ],
                ),
            ),
            (
                Sqlite,
                rename("status", "state"),
                Planned(
                    Transforming,
                    "sqlite/rename-column/dual-write",
                    sqlite::LOCK_CATALOG_ONLY,
                    &[
                        "expand/add-column",
                        "expand/sync-trigger-insert",
                        "expand/sync-trigger-update",
                        "migrate/backfill",
                        "contract/check-synced",
                        "contract/drop-old-column",
                    ],
                ),
            ),
            (
                Sqlite,
                rename("nick", "handle"),
                Planned(
                    Transforming,
                    "sqlite/rename-column/dual-write",
                    sqlite::LOCK_CATALOG_ONLY,
                    &[
                        "expand/add-column",
                        "expand/sync-trigger-insert",
                        "expand/sync-trigger-update",
                        "expand/copy-index-users_nick_idx",
                        "migrate/backfill",
                        "contract/check-synced",
                        "contract/drop-old-column",
                        "contract/rename-index-users_nick_idx",
                    ],
                ),
            ),
            (
                Sqlite,
                rename("name", "full_name"),
                Refused("sqlite/rename-column/not-null-without-default"),
            ),
            // ALTER COLUMN TYPE
            // A catalog-only widening is fine even under a foreign key.
            (
                Postgres,
                alter_type("email", "varchar(40)", None),
                Planned(
                    Additive,
                    "pg/alter-column-type/binary-compatible",
                    postgres::LOCK_CATALOG_ONLY,
                    &["expand/alter-type"],
                ),
            ),
            (
                Postgres,
                alter_type("email", "citext", None),
                Refused("pg/alter-column-type/referenced"),
            ),
            (
                Postgres,
                alter_type("nick", "text", None),
                Planned(
                    Additive,
                    "pg/alter-column-type/binary-compatible",
                    postgres::LOCK_CATALOG_ONLY,
                    &["expand/alter-type"],
                ),
            ),
            (
                Postgres,
                alter_type("nick", "text", Some("nick")),
                Planned(
                    Transforming,
                    "pg/alter-column-type/twin-column",
                    postgres::LOCK_TABLE_REWRITE,
                    &[
                        "expand/add-twin-column",
                        "expand/sync-trigger",
                        "expand/copy-index-users_nick_idx",
                        "migrate/backfill",
                        "contract/check-synced",
                        "contract/swap-columns",
                        "contract/rename-index-users_nick_idx",
                    ],
                ),
            ),
            (
                Postgres,
                alter_type("bio", "jsonb", Some("bio::jsonb")),
                Refused("pg/alter-column-type/constrained"),
            ),
            (
                Postgres,
                alter_type("id", "uuid", None),
                Refused("pg/alter-column-type/primary-key"),
            ),
            (
                Postgres,
                alter_type("nick", "integer", Some("(SELECT 1 FROM orgs)")),
                Refused("pg/alter-column-type/using-expression"),
            ),
            (
                Mysql,
                alter_type("nick", "VARCHAR(60)", None),
                Planned(
                    Additive,
                    "mysql/alter-column-type/inplace",
                    mysql::LOCK_INPLACE,
                    &["expand/alter-type"],
                ),
            ),
            (
                Mysql,
                alter_type("nick", "VARCHAR(100)", None),
                Planned(
                    Transforming,
                    "mysql/alter-column-type/twin-column",
                    mysql::LOCK_COPY,
                    &[
                        "expand/add-twin-column",
                        "expand/sync-trigger-insert",
                        "expand/sync-trigger-update",
                        "expand/copy-index-users_nick_idx",
                        "migrate/backfill",
                        "contract/check-synced",
                        "contract/swap-columns",
                        "contract/rename-index-users_nick_idx",
                    ],
                ),
            ),
            (
                Mysql,
                alter_type("nick", "INT", Some("nick + 0")),
                Refused("mysql/alter-column-type/using"),
            ),
            (
                Sqlite,
                alter_type("nick", "INTEGER", None),
                Planned(
                    Transforming,
                    "sqlite/alter-column-type/twin-column",
                    sqlite::LOCK_TABLE_REWRITE,
                    &[
                        "expand/add-twin-column",
                        "expand/sync-trigger-insert",
                        "expand/sync-trigger-update",
                        "migrate/backfill",
                        "contract/check-synced",
                        "contract/swap-columns",
                    ],
                ),
            ),
            (
                Sqlite,
                alter_type("email", "TEXT", None),
                Refused("sqlite/alter-column-type/referenced"),
            ),
            // SET / DROP NOT NULL
            (
                Postgres,
                set_nn("nick"),
                Planned(
                    Transforming,
                    "pg/set-not-null/validated-check",
                    postgres::LOCK_TABLE_SCAN,
                    &[
                        "contract/check-nulls",
                        "contract/add-not-null-check",
                        "contract/validate-not-null-check",
                        "contract/set-not-null",
                    ],
                ),
            ),
            (
                Mysql,
                set_nn("nick"),
                Planned(
                    Transforming,
                    "mysql/set-not-null/inplace",
                    mysql::LOCK_INPLACE_REBUILD,
                    &["contract/check-nulls", "contract/set-not-null"],
                ),
            ),
            (
                Sqlite,
                set_nn("nick"),
                Planned(
                    Transforming,
                    "sqlite/set-not-null/rebuild",
                    sqlite::LOCK_TABLE_REBUILD,
                    &["contract/check-nulls", "contract/set-not-null"],
                ),
            ),
            (
                Postgres,
                drop_nn("name"),
                Planned(
                    Additive,
                    "pg/drop-not-null/catalog-only",
                    postgres::LOCK_CATALOG_ONLY,
                    &["expand/drop-not-null"],
                ),
            ),
            (
                Postgres,
                drop_nn("id"),
                Refused("pg/drop-not-null/primary-key"),
            ),
            (
                Mysql,
                drop_nn("name"),
                Planned(
                    Additive,
                    "mysql/drop-not-null/inplace",
                    mysql::LOCK_INPLACE_REBUILD,
                    &["expand/drop-not-null"],
                ),
            ),
            (
                Sqlite,
                drop_nn("name"),
                Planned(
                    Additive,
                    "sqlite/drop-not-null/rebuild",
                    sqlite::LOCK_TABLE_REBUILD,
                    &["expand/drop-not-null"],
                ),
            ),
            (
                Sqlite,
                drop_nn("id"),
                Refused("sqlite/drop-not-null/primary-key"),
            ),
            // SET / DROP DEFAULT
            (
                Postgres,
                set_def("nick", "md5(random()::text)", true),
                Planned(
                    Additive,
                    "pg/set-default/catalog-only",
                    postgres::LOCK_CATALOG_ONLY,
                    &["expand/set-default"],
                ),
            ),
            (
                Mysql,
                set_def("nick", "'x'", false),
                Planned(
                    Additive,
                    "mysql/set-default/instant",
                    mysql::LOCK_INSTANT,
                    &["expand/set-default"],
                ),
            ),
            (
                Sqlite,
                set_def("nick", "'x'", false),
                Planned(
                    Additive,
                    "sqlite/set-default/rebuild",
                    sqlite::LOCK_TABLE_REBUILD,
                    &["expand/set-default"],
                ),
            ),
            (
                Postgres,
                drop_def("status"),
                Planned(
                    Subtractive,
                    "pg/drop-default/catalog-only",
                    postgres::LOCK_CATALOG_ONLY,
                    &["contract/drop-default"],
                ),
            ),
            (
                Mysql,
                drop_def("status"),
                Planned(
                    Subtractive,
                    "mysql/drop-default/instant",
                    mysql::LOCK_INSTANT,
                    &["contract/drop-default"],
                ),
            ),
            (
                Sqlite,
                drop_def("status"),
                Planned(
                    Subtractive,
                    "sqlite/drop-default/rebuild",
                    sqlite::LOCK_TABLE_REBUILD,
                    &["contract/drop-default"],
                ),
            ),
            // Unknown names.
            (
                Postgres,
                on("nope", drop_col("x")),
                Refused("pg/drop-column/unknown-table"),
            ),
            (
                Postgres,
                drop_col("nope"),
                Refused("pg/drop-column/unknown-column"),
            ),
        ];
        for (engine, op, expect) in cases {
            let got = run(engine, &op);
            let what = format!("{engine} {} {}", op.kind_name(), op.subject());
            match (expect, got) {
                (Planned(class, rule, lock, actions), Ok(a)) => {
                    assert_eq!(
                        (
                            a.classification.class,
                            a.classification.rule.as_str(),
                            a.classification.lock.as_str()
                        ),
                        (class, rule, lock),
                        "{what}"
                    );
                    assert_eq!(shape(&a), actions, "{what}");
                }
                (Refused(rule), Err(r)) => assert_eq!(r.rule, rule, "{what}: {}", r.reason),
                (Planned(..), Err(r)) => panic!("{what}: refused {r:?}"),
                (Refused(rule), Ok(a)) => {
                    panic!("{what}: expected refusal {rule}, got {:?}", shape(&a))
                }
            }
        }
    }

    #[test]
    fn sqlite_rebuilds_carry_typed_edits_of_the_live_table() {
        let cases: Vec<(Operation, Vec<&str>)> = vec![
            (
                set_nn("nick"),
                vec![
                    r#"contract/check-nulls: SELECT COUNT(*) FROM "users" WHERE "nick" IS NULL"#,
                    "contract/set-not-null: REBUILD users (nick NOT NULL)",
                ],
            ),
            (
                drop_nn("name"),
                vec!["expand/drop-not-null: REBUILD users (name nullable)"],
            ),
            (
                set_def("nick", "'x'", false),
                vec!["expand/set-default: REBUILD users (nick DEFAULT 'x')"],
            ),
            (
                drop_def("status"),
                vec!["contract/drop-default: REBUILD users (status without default)"],
            ),
            (
                drop_col("bio"),
                vec!["contract/drop-column: REBUILD users (drop column bio)"],
            ),
            (
                add("at", "TEXT", true, Some(("CURRENT_TIMESTAMP", false))),
                vec![
                    r#"expand/add-column: ALTER TABLE "users" ADD COLUMN "at" TEXT"#,
                    "expand/set-default: REBUILD users (at DEFAULT CURRENT_TIMESTAMP)",
                    r#"migrate/backfill: SET "at" = CURRENT_TIMESTAMP WHERE "at" IS NULL"#,
                ],
            ),
        ];
        for (op, expected) in cases {
            let a = run(EngineKind::Sqlite, &op).unwrap();
            assert_eq!(statements(&a), expected, "{}", op.subject());
            for action in &a.actions {
                if let Step::Rebuild(r) = &action.step {
                    assert_eq!(r.lock, sqlite::LOCK_TABLE_REBUILD);
                }
            }
        }
    }

    #[test]
    fn pg_rename_sql() {
        let a = run(EngineKind::Postgres, &rename("status", "state")).unwrap();
        let function = "CREATE OR REPLACE FUNCTION \"zd_sync_users_status\"() RETURNS trigger LANGUAGE plpgsql AS $zd$\nBEGIN\n  IF TG_OP = 'INSERT' THEN\n    NEW.\"state\" := COALESCE(NEW.\"state\", NEW.\"status\");\n  ELSIF NEW.\"state\" IS NOT DISTINCT FROM OLD.\"state\" THEN\n    NEW.\"state\" := NEW.\"status\";\n  END IF;\n  NEW.\"status\" := NEW.\"state\";\n  RETURN NEW;\nEND\n$zd$";
        let expected = vec![
            r#"expand/add-column: ALTER TABLE "users" ADD COLUMN "state" varchar(10)"#.to_string(),
            format!("expand/sync-trigger: {function}"),
            r#"expand/sync-trigger: CREATE TRIGGER "zd_sync_users_status" BEFORE INSERT OR UPDATE ON "users" FOR EACH ROW EXECUTE FUNCTION "zd_sync_users_status"()"#.to_string(),
            r#"migrate/backfill: SET "state" = "status" WHERE "state" IS DISTINCT FROM "status""#.to_string(),
            r#"contract/check-synced: SELECT COUNT(*) FROM "users" WHERE "state" IS DISTINCT FROM "status""#.to_string(),
            r#"contract/check-nulls: SELECT COUNT(*) FROM "users" WHERE "state" IS NULL"#.to_string(),
            r#"contract/add-not-null-check: ALTER TABLE "users" ADD CONSTRAINT "zd_nn_users_state" CHECK ("state" IS NOT NULL) NOT VALID"#.to_string(),
            r#"contract/validate-not-null-check: ALTER TABLE "users" VALIDATE CONSTRAINT "zd_nn_users_state""#.to_string(),
            r#"contract/set-not-null: ALTER TABLE "users" ALTER COLUMN "state" SET NOT NULL"#.to_string(),
            r#"contract/set-not-null: ALTER TABLE "users" DROP CONSTRAINT "zd_nn_users_state""#.to_string(),
            r#"contract/drop-old-column: DROP TRIGGER IF EXISTS "zd_sync_users_status" ON "users""#.to_string(),
            r#"contract/drop-old-column: DROP FUNCTION IF EXISTS "zd_sync_users_status"()"#.to_string(),
            r#"contract/drop-old-column: ALTER TABLE "users" ALTER COLUMN "state" SET DEFAULT 'active'"#.to_string(),
            r#"contract/drop-old-column: ALTER TABLE "users" DROP COLUMN "status""#.to_string(),
        ];
        assert_eq!(statements(&a), expected);

        let a = run(EngineKind::Postgres, &rename("name", "full_name")).unwrap();
        let sql = statements(&a);
        assert!(sql.contains(&r#"expand/copy-index-users_name_idx: CREATE INDEX CONCURRENTLY "zd_copy_users_name_idx" ON "users" ("full_name")"#.to_string()));
        assert_eq!(
            sql.last().map(String::as_str),
            Some(
                r#"contract/rename-index-users_name_idx: ALTER INDEX "zd_copy_users_name_idx" RENAME TO "users_name_idx""#
            )
        );
    }

    #[test]
    fn mysql_rename_sql() {
        let a = run(EngineKind::Mysql, &rename("name", "full_name")).unwrap();
        let expected = vec![
            "expand/add-column: ALTER TABLE `users` ADD COLUMN `full_name` text NULL, ALGORITHM=INSTANT",
            "expand/make-old-nullable: ALTER TABLE `users` MODIFY COLUMN `name` text NULL, ALGORITHM=INPLACE, LOCK=NONE",
            "expand/sync-trigger-insert: CREATE TRIGGER `zd_sync_users_name_ins` BEFORE INSERT ON `users` FOR EACH ROW SET NEW.`full_name` = COALESCE(NEW.`full_name`, NEW.`name`), NEW.`name` = NEW.`full_name`",
            "expand/sync-trigger-update: CREATE TRIGGER `zd_sync_users_name_upd` BEFORE UPDATE ON `users` FOR EACH ROW SET NEW.`full_name` = IF(NEW.`full_name` <=> OLD.`full_name`, NEW.`name`, NEW.`full_name`), NEW.`name` = NEW.`full_name`",
            "expand/copy-index-users_name_idx: ALTER TABLE `users` ADD INDEX `zd_copy_users_name_idx` (`full_name`), ALGORITHM=INPLACE, LOCK=NONE",
            "migrate/backfill: SET `full_name` = `name` WHERE NOT (`full_name` <=> `name`)",
            "contract/check-synced: SELECT COUNT(*) FROM `users` WHERE NOT (`full_name` <=> `name`)",
            "contract/check-nulls: SELECT COUNT(*) FROM `users` WHERE `full_name` IS NULL",
            "contract/set-not-null: ALTER TABLE `users` MODIFY COLUMN `full_name` text NOT NULL, ALGORITHM=INPLACE, LOCK=NONE",
            "contract/drop-sync-trigger-insert: DROP TRIGGER IF EXISTS `zd_sync_users_name_ins`",
            "contract/drop-sync-trigger-update: DROP TRIGGER IF EXISTS `zd_sync_users_name_upd`",
            "contract/drop-old-indexes: ALTER TABLE `users` DROP INDEX `users_name_idx`, ALGORITHM=INPLACE, LOCK=NONE",
            "contract/drop-old-column: ALTER TABLE `users` DROP COLUMN `name`, ALGORITHM=INSTANT",
            "contract/rename-index-users_name_idx: ALTER TABLE `users` RENAME INDEX `zd_copy_users_name_idx` TO `users_name_idx`, ALGORITHM=INSTANT",
        ];
        assert_eq!(statements(&a), expected);
        // A NOT NULL column with a default keeps working for new code's
        // inserts; the copy takes the default with NOT NULL in contract.
        let a = run(EngineKind::Mysql, &rename("status", "state")).unwrap();
        assert!(statements(&a).contains(
            &"contract/set-not-null: ALTER TABLE `users` MODIFY COLUMN `state` varchar(10) NOT NULL DEFAULT 'active', ALGORITHM=INPLACE, LOCK=NONE".to_string()
        ));
    }

    #[test]
    fn pg_type_change_sql() {
        let a = run(
            EngineKind::Postgres,
            &alter_type("name", "varchar(100)", None),
        )
        .unwrap();
        let function = "CREATE OR REPLACE FUNCTION \"zd_sync_users_name\"() RETURNS trigger LANGUAGE plpgsql AS $zd$\nBEGIN\n  NEW.\"zd_new_name\" := CAST(NEW.\"name\" AS varchar(100));\n  RETURN NEW;\nEND\n$zd$";
        let expected = vec![
            r#"expand/add-twin-column: ALTER TABLE "users" ADD COLUMN "zd_new_name" varchar(100)"#.to_string(),
            format!("expand/sync-trigger: {function}"),
            r#"expand/sync-trigger: CREATE TRIGGER "zd_sync_users_name" BEFORE INSERT OR UPDATE ON "users" FOR EACH ROW EXECUTE FUNCTION "zd_sync_users_name"()"#.to_string(),
            r#"expand/copy-index-users_name_idx: CREATE INDEX CONCURRENTLY "zd_copy_users_name_idx" ON "users" ("zd_new_name")"#.to_string(),
            r#"migrate/backfill: SET "zd_new_name" = CAST("name" AS varchar(100)) WHERE "zd_new_name" IS DISTINCT FROM CAST("name" AS varchar(100))"#.to_string(),
            r#"contract/check-synced: SELECT COUNT(*) FROM "users" WHERE "zd_new_name" IS DISTINCT FROM CAST("name" AS varchar(100))"#.to_string(),
            r#"contract/check-nulls: SELECT COUNT(*) FROM "users" WHERE "zd_new_name" IS NULL"#.to_string(),
            r#"contract/add-not-null-check: ALTER TABLE "users" ADD CONSTRAINT "zd_nn_users_zd_new_name" CHECK ("zd_new_name" IS NOT NULL) NOT VALID"#.to_string(),
            r#"contract/validate-not-null-check: ALTER TABLE "users" VALIDATE CONSTRAINT "zd_nn_users_zd_new_name""#.to_string(),
            r#"contract/set-not-null: ALTER TABLE "users" ALTER COLUMN "zd_new_name" SET NOT NULL"#.to_string(),
            r#"contract/set-not-null: ALTER TABLE "users" DROP CONSTRAINT "zd_nn_users_zd_new_name""#.to_string(),
            r#"contract/swap-columns: DROP TRIGGER IF EXISTS "zd_sync_users_name" ON "users""#.to_string(),
            r#"contract/swap-columns: DROP FUNCTION IF EXISTS "zd_sync_users_name"()"#.to_string(),
            r#"contract/swap-columns: ALTER TABLE "users" DROP COLUMN "name""#.to_string(),
            r#"contract/swap-columns: ALTER TABLE "users" RENAME COLUMN "zd_new_name" TO "name""#.to_string(),
            r#"contract/rename-index-users_name_idx: ALTER INDEX "zd_copy_users_name_idx" RENAME TO "users_name_idx""#.to_string(),
        ];
        assert_eq!(statements(&a), expected);

        // USING is rewritten onto NEW in the trigger; the default follows
        // the column, as written, in the swap.
        let a = run(
            EngineKind::Postgres,
            &alter_type("status", "integer", Some("length(status)")),
        )
        .unwrap();
        let sql = statements(&a);
        assert!(
            sql[1].contains(r#"NEW."zd_new_status" := length(NEW."status");"#),
            "{}",
            sql[1]
        );
        assert!(sql.contains(&r#"contract/swap-columns: ALTER TABLE "users" ALTER COLUMN "zd_new_status" SET DEFAULT 'active'"#.to_string()));
    }

    #[test]
    fn mysql_type_change_sql() {
        let a = run(EngineKind::Mysql, &alter_type("nick", "VARCHAR(100)", None)).unwrap();
        let expected = vec![
            "expand/add-twin-column: ALTER TABLE `users` ADD COLUMN `zd_new_nick` VARCHAR(100) NULL, ALGORITHM=INSTANT",
            "expand/sync-trigger-insert: CREATE TRIGGER `zd_sync_users_nick_ins` BEFORE INSERT ON `users` FOR EACH ROW SET NEW.`zd_new_nick` = NEW.`nick`",
            "expand/sync-trigger-update: CREATE TRIGGER `zd_sync_users_nick_upd` BEFORE UPDATE ON `users` FOR EACH ROW SET NEW.`zd_new_nick` = NEW.`nick`",
            "expand/copy-index-users_nick_idx: ALTER TABLE `users` ADD INDEX `zd_copy_users_nick_idx` (`zd_new_nick`), ALGORITHM=INPLACE, LOCK=NONE",
            "migrate/backfill: SET `zd_new_nick` = `nick` WHERE `zd_new_nick` IS NULL AND `nick` IS NOT NULL",
            "contract/check-synced: SELECT COUNT(*) FROM `users` WHERE (`zd_new_nick` IS NULL) <> (`nick` IS NULL)",
            "contract/swap-columns: LOCK TABLES `users` WRITE",
            "contract/swap-columns: DROP TRIGGER IF EXISTS `zd_sync_users_nick_ins`",
            "contract/swap-columns: DROP TRIGGER IF EXISTS `zd_sync_users_nick_upd`",
            "contract/swap-columns: ALTER TABLE `users` DROP INDEX `users_nick_idx`, ALGORITHM=INPLACE",
            "contract/swap-columns: ALTER TABLE `users` DROP COLUMN `nick`, RENAME COLUMN `zd_new_nick` TO `nick`, ALGORITHM=INSTANT",
            "contract/swap-columns: UNLOCK TABLES",
            "contract/rename-index-users_nick_idx: ALTER TABLE `users` RENAME INDEX `zd_copy_users_nick_idx` TO `users_nick_idx`, ALGORITHM=INSTANT",
        ];
        assert_eq!(statements(&a), expected);
        let swap = a.actions.iter().find(|a| a.key == "swap-columns").unwrap();
        let Step::Sql(step) = &swap.step else {
            panic!("swap is SQL")
        };
        assert!(!step.transactional);
        assert_eq!(
            step.effect,
            Effect::ColumnAbsent {
                table: "users".into(),
                column: "zd_new_nick".into()
            }
        );

        // NOT NULL with a default: the twin takes both before the swap.
        let a = run(
            EngineKind::Mysql,
            &alter_type("status", "VARCHAR(100)", None),
        )
        .unwrap();
        assert!(statements(&a).contains(
            &"contract/set-not-null: ALTER TABLE `users` MODIFY COLUMN `zd_new_status` VARCHAR(100) NOT NULL DEFAULT 'active', ALGORITHM=INPLACE, LOCK=NONE".to_string()
        ));
    }

    #[test]
    fn sqlite_swaps_and_rebuilds_indexes_in_one_transaction() {
        let a = run(
            EngineKind::Sqlite,
            &alter_type("name", "VARCHAR(100)", None),
        )
        .unwrap();
        let swap = a.actions.iter().find(|a| a.key == "swap-columns").unwrap();
        let Step::Sql(step) = &swap.step else {
            panic!("swap is SQL")
        };
        assert!(step.transactional);
        assert_eq!(
            step.statements,
            vec![
                r#"DROP TRIGGER IF EXISTS "zd_sync_users_name_ins""#,
                r#"DROP TRIGGER IF EXISTS "zd_sync_users_name_upd""#,
                r#"DROP INDEX "users_name_idx""#,
                r#"ALTER TABLE "users" DROP COLUMN "name""#,
                r#"ALTER TABLE "users" RENAME COLUMN "zd_new_name" TO "name""#,
                r#"CREATE INDEX "users_name_idx" ON "users" ("name")"#,
            ]
        );
        // NOT NULL without a default cannot be carried over: said so.
        assert!(
            swap.summary
                .ends_with("name stays nullable (SQLite cannot add NOT NULL to a column)"),
            "{}",
            swap.summary
        );
    }

    #[test]
    fn rename_actions_carry_effects_and_objects() {
        let a = run(EngineKind::Postgres, &rename("name", "full_name")).unwrap();
        let by_key = |k: &str| a.actions.iter().find(|a| a.key == k).unwrap();
        let effect = |k: &str| match &by_key(k).step {
            Step::Sql(s) => s.effect.clone(),
            other => panic!("{k}: {other:?}"),
        };
        let users_col = |c: &str| ObjectRef::column("users", c);
        let trigger = ObjectRef::Trigger {
            table: "users".into(),
            name: "zd_sync_users_name".into(),
        };

        assert_eq!(
            effect("add-column"),
            Effect::ColumnExists {
                table: "users".into(),
                column: "full_name".into()
            }
        );
        assert_eq!(by_key("add-column").creates, vec![users_col("full_name")]);
        assert_eq!(
            effect("sync-trigger"),
            Effect::TriggerExists {
                table: "users".into(),
                trigger: "zd_sync_users_name".into()
            }
        );
        assert_eq!(by_key("sync-trigger").creates, vec![trigger.clone()]);
        assert_eq!(
            effect("copy-index-users_name_idx"),
            Effect::IndexValid {
                index: "zd_copy_users_name_idx".into()
            }
        );
        let Step::Sql(copy) = &by_key("copy-index-users_name_idx").step else {
            panic!()
        };
        assert!(
            !copy.transactional,
            "CREATE INDEX CONCURRENTLY cannot run in a transaction"
        );
        assert_eq!(
            effect("validate-not-null-check"),
            Effect::ConstraintValidated {
                table: "users".into(),
                constraint: "zd_nn_users_full_name".into()
            }
        );
        assert_eq!(
            effect("set-not-null"),
            Effect::ColumnNotNull {
                table: "users".into(),
                column: "full_name".into()
            }
        );
        assert_eq!(
            effect("drop-old-column"),
            Effect::ColumnAbsent {
                table: "users".into(),
                column: "name".into()
            }
        );
        assert_eq!(
            by_key("drop-old-column").removes,
            vec![
                users_col("name"),
                trigger,
                ObjectRef::Index {
                    name: "users_name_idx".into()
                }
            ]
        );
        assert_eq!(
            effect("rename-index-users_name_idx"),
            Effect::IndexValid {
                index: "users_name_idx".into()
            }
        );

        let Step::Backfill(b) = &by_key("backfill").step else {
            panic!("backfill")
        };
        assert_eq!(
            (b.key.clone(), b.batch_size, b.engine),
            (vec!["id".to_string()], 5000, EngineKind::Postgres)
        );
        let Step::Check(gate) = &by_key("check-synced").step else {
            panic!("gate")
        };
        assert_eq!(
            (gate.kind, by_key("check-synced").phase),
            (CheckKind::Gate, Phase::Contract)
        );
        assert_eq!(
            gate.sample_sql.as_deref(),
            Some(r#"SELECT "id" FROM "users" WHERE "full_name" IS DISTINCT FROM "name" LIMIT 10"#)
        );
        let Step::Check(nulls) = &by_key("check-nulls").step else {
            panic!("check")
        };
        assert_eq!(nulls.kind, CheckKind::Violations);
    }

    #[test]
    fn refusals_say_what_to_do() {
        let r = run(EngineKind::Postgres, &add("other", "text", false, None)).unwrap_err();
        assert!(r.help.contains("backfills:\n    - table: users\n      set: \"other = <value>\"\n      where: \"other IS NULL\""), "{}", r.help);
        assert!(r.help.contains("DEFAULT"));
        let r = run(EngineKind::Postgres, &rename("email", "mail")).unwrap_err();
        assert!(r.reason.contains("orders.orders_email_fk"), "{}", r.reason);
        let r = run(
            EngineKind::Postgres,
            &on("logs", add("n", "float8", true, Some(("random()", true)))),
        )
        .unwrap_err();
        assert!(r.help.contains("primary key"));
    }

    #[test]
    fn single_step_sql() {
        let cases: Vec<(EngineKind, Operation, &str)> = vec![
            (EngineKind::Postgres, add("flag", "boolean", false, Some(("false", false))), r#"ALTER TABLE "users" ADD COLUMN "flag" boolean DEFAULT false NOT NULL"#),
            (EngineKind::Mysql, add("flag", "BOOLEAN", false, Some(("0", false))), "ALTER TABLE `users` ADD COLUMN `flag` BOOLEAN NOT NULL DEFAULT 0, ALGORITHM=INSTANT"),
            (EngineKind::Sqlite, add("note", "TEXT", true, None), r#"ALTER TABLE "users" ADD COLUMN "note" TEXT"#),
            (EngineKind::Postgres, drop_col("bio"), r#"ALTER TABLE "users" DROP COLUMN "bio""#),
            (EngineKind::Mysql, drop_col("status"), "ALTER TABLE `users` DROP COLUMN `status`, ALGORITHM=INSTANT"),
            (EngineKind::Postgres, alter_type("nick", "text", None), r#"ALTER TABLE "users" ALTER COLUMN "nick" TYPE text"#),
            (EngineKind::Mysql, alter_type("nick", "VARCHAR(60)", None), "ALTER TABLE `users` MODIFY COLUMN `nick` VARCHAR(60) NULL, ALGORITHM=INPLACE, LOCK=NONE"),
            (EngineKind::Postgres, drop_nn("name"), r#"ALTER TABLE "users" ALTER COLUMN "name" DROP NOT NULL"#),
            (EngineKind::Mysql, drop_nn("status"), "ALTER TABLE `users` MODIFY COLUMN `status` varchar(10) NULL DEFAULT 'active', ALGORITHM=INPLACE, LOCK=NONE"),
            (EngineKind::Postgres, set_def("nick", "'x'", false), r#"ALTER TABLE "users" ALTER COLUMN "nick" SET DEFAULT 'x'"#),
            (EngineKind::Mysql, set_def("nick", "UUID()", true), "ALTER TABLE `users` ALTER COLUMN `nick` SET DEFAULT (UUID()), ALGORITHM=INSTANT"),
            (EngineKind::Postgres, drop_def("status"), r#"ALTER TABLE "users" ALTER COLUMN "status" DROP DEFAULT"#),
            (EngineKind::Mysql, drop_def("status"), "ALTER TABLE `users` ALTER COLUMN `status` DROP DEFAULT, ALGORITHM=INSTANT"),
        ];
        for (engine, op, expected) in cases {
            let a = run(engine, &op).unwrap();
            assert_eq!(a.actions.len(), 1, "{engine} {}", op.subject());
            let Step::Sql(step) = &a.actions[0].step else {
                panic!("SQL step")
            };
            assert_eq!(
                step.statements,
                vec![expected.to_string()],
                "{engine} {}",
                op.subject()
            );
            assert_eq!(step.transactional, engine != EngineKind::Mysql);
        }
        // MySQL drops what uses the column first, in place, so that the
        // column itself goes instantly.
        let a = run(EngineKind::Mysql, &on("orders", drop_col("user_id"))).unwrap();
        assert_eq!(
            statements(&a),
            vec![
                "expand/allow-null-until-dropped: ALTER TABLE `orders` MODIFY COLUMN `user_id` bigint NULL, ALGORITHM=INPLACE, LOCK=NONE",
                "contract/drop-dependents: ALTER TABLE `orders` DROP FOREIGN KEY `orders_user_fk`, DROP INDEX `orders_user_idx`, ALGORITHM=INPLACE, LOCK=NONE",
                "contract/drop-column: ALTER TABLE `orders` DROP COLUMN `user_id`, ALGORITHM=INSTANT",
            ]
        );
    }

    /// A NOT NULL column without a default that a version drops stays
    /// writable by releases that no longer write it: NULL allowed in
    /// expand, or the change's `fill:` as its default.
    #[test]
    fn a_dropped_not_null_column_is_relaxed_or_filled_in_expand() {
        let drop = on("orders", drop_col("user_id"));
        let expand = |engine, fill: Option<&str>| {
            let ctx = Context {
                version: 2,
                soft_drop: false,
                backfill_exprs: &[],
                batch_size: 5000,
                fill: fill.map(str::to_string),
            };
            let a = analyze(engine, &drop, &schema(engine), &ctx).unwrap();
            a.actions
                .iter()
                .filter(|a| a.phase == Phase::Expand)
                .map(|a| match &a.step {
                    Step::Sql(s) => format!("{}: {}", a.key, s.statements.join("; ")),
                    Step::Rebuild(r) => format!("{}: rebuild {:?}", a.key, r.edits),
                    other => format!("{}: {other:?}", a.key),
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            expand(EngineKind::Postgres, None),
            ["allow-null-until-dropped: ALTER TABLE \"orders\" ALTER COLUMN \"user_id\" DROP NOT NULL"]
        );
        assert_eq!(
            expand(EngineKind::Postgres, Some("0")),
            ["fill-until-dropped: ALTER TABLE \"orders\" ALTER COLUMN \"user_id\" SET DEFAULT 0"]
        );
        assert_eq!(
            expand(EngineKind::Mysql, Some("0")),
            ["fill-until-dropped: ALTER TABLE `orders` ALTER COLUMN `user_id` SET DEFAULT 0, ALGORITHM=INSTANT"]
        );
        let sqlite = expand(EngineKind::Sqlite, None);
        assert!(
            sqlite.len() == 1 && sqlite[0].starts_with("allow-null-until-dropped: rebuild"),
            "{sqlite:?}"
        );
        // Nullable, or with a default: nothing to do before contract.
        let a = run(EngineKind::Postgres, &drop_col("bio")).unwrap();
        assert!(a.actions.iter().all(|a| a.phase == Phase::Contract));
    }
}
