//! What an operation decomposes into: actions as data.

use serde::Serialize;

use crate::dialect::EngineKind;
use crate::plan::Phase;

/// How the plan output marks an action: `+` adds, `~` changes, `-` removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Symbol {
    Add,
    Change,
    Remove,
}

impl Symbol {
    pub fn sign(self) -> char {
        match self {
            Symbol::Add => '+',
            Symbol::Change => '~',
            Symbol::Remove => '-',
        }
    }
}

/// A database object, as far as ordering tasks is concerned.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ObjectRef {
    Table { name: String },
    Column { table: String, name: String },
    Index { name: String },
    Constraint { table: String, name: String },
    View { name: String },
    Trigger { table: String, name: String },
}

impl ObjectRef {
    pub fn table(name: &str) -> Self {
        ObjectRef::Table {
            name: name.to_string(),
        }
    }
    pub fn column(table: &str, name: &str) -> Self {
        ObjectRef::Column {
            table: table.to_string(),
            name: name.to_string(),
        }
    }
    /// The table the object belongs to, if any.
    pub fn owning_table(&self) -> Option<&str> {
        match self {
            ObjectRef::Table { name } => Some(name),
            ObjectRef::Column { table, .. }
            | ObjectRef::Constraint { table, .. }
            | ObjectRef::Trigger { table, .. } => Some(table),
            ObjectRef::Index { .. } | ObjectRef::View { .. } => None,
        }
    }
}

/// What the catalog shows once an action has taken effect. The executor
/// checks it before running the action (skip if present) and after a crash
/// (was the running action applied or not?), so every task is idempotent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Effect {
    TableExists {
        table: String,
    },
    TableAbsent {
        table: String,
    },
    ColumnExists {
        table: String,
        column: String,
    },
    ColumnAbsent {
        table: String,
        column: String,
    },
    ColumnNotNull {
        table: String,
        column: String,
    },
    ColumnNullable {
        table: String,
        column: String,
    },
    ColumnHasDefault {
        table: String,
        column: String,
    },
    ColumnHasNoDefault {
        table: String,
        column: String,
    },
    ColumnType {
        table: String,
        column: String,
        data_type: String,
    },
    /// A valid (fully built) index of that name.
    IndexValid {
        index: String,
    },
    IndexAbsent {
        index: String,
    },
    ConstraintExists {
        table: String,
        constraint: String,
    },
    ConstraintValidated {
        table: String,
        constraint: String,
    },
    ConstraintAbsent {
        table: String,
        constraint: String,
    },
    TriggerExists {
        table: String,
        trigger: String,
    },
    TriggerAbsent {
        table: String,
        trigger: String,
    },
    ViewExists {
        view: String,
    },
    ViewAbsent {
        view: String,
    },
    /// No catalog trace (raw SQL): the history table alone says whether it ran.
    RecordedOnly,
    /// No catalog trace tells before from after (a new default replacing an
    /// old one), but running the step again is harmless: it is simply run.
    Rerunnable,
}

impl Effect {
    /// The column whose definition (type, nullability, default) the effect
    /// describes, for the effects that change a column in place.
    pub fn column_definition(&self) -> Option<(&str, &str)> {
        match self {
            Effect::ColumnNotNull { table, column }
            | Effect::ColumnNullable { table, column }
            | Effect::ColumnHasDefault { table, column }
            | Effect::ColumnHasNoDefault { table, column }
            | Effect::ColumnType { table, column, .. } => Some((table, column)),
            _ => None,
        }
    }
}

/// One SQL task: statements run in order, in one transaction when
/// `transactional` (a concurrent index build or MySQL DDL cannot be).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SqlStep {
    pub statements: Vec<String>,
    pub transactional: bool,
    /// The lock the statements take, for the lock-timeout and retry policy.
    pub lock: String,
    pub effect: Effect,
}

/// A batched, key-ordered data migration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BackfillStep {
    pub engine: EngineKind,
    pub table: String,
    /// The table's primary key, in order: batches walk it.
    pub key: Vec<String>,
    /// The `SET` clause as SQL (e.g. `"note" = ''`).
    pub set: String,
    /// Rows that still need the backfill, as SQL; the backfill is done when
    /// no row matches.
    pub pending: String,
    pub batch_size: u32,
    /// Pause between batches, in milliseconds.
    pub pause_ms: u64,
}

impl BackfillStep {
    /// The placeholder for the `n`-th (1-based) bound parameter.
    fn placeholder(&self, n: usize) -> String {
        match self.engine {
            EngineKind::Postgres => format!("${n}"),
            EngineKind::Mysql => "?".to_string(),
            EngineKind::Sqlite => format!("?{n}"),
        }
    }

    fn key_tuple(&self) -> String {
        let cols = self.engine.quote_list(&self.key);
        if self.key.len() == 1 {
            cols
        } else {
            format!("({cols})")
        }
    }

    fn params_tuple(&self, first: usize) -> String {
        let ps: Vec<String> = (0..self.key.len())
            .map(|i| self.placeholder(first + i))
            .collect();
        if ps.len() == 1 {
            ps[0].clone()
        } else {
            format!("({})", ps.join(", "))
        }
    }

    /// The query that finds the upper key of the next batch: the key of the
    /// `batch_size`-th row after the lower bound, or nothing for the last
    /// batch. With `after_lower`, binds the lower key as parameters 1..=k.
    pub fn upper_key_sql(&self, after_lower: bool) -> String {
        self.upper_key_sql_reading(after_lower, |column, _| column.to_string())
    }

    /// [`BackfillStep::upper_key_sql`] with each key column read as
    /// `read(quoted column, index)` in the select list (an engine that
    /// reads a key type through its text form); the walk and its order stay
    /// on the columns themselves.
    pub fn upper_key_sql_reading(
        &self,
        after_lower: bool,
        read: impl Fn(&str, usize) -> String,
    ) -> String {
        let table = self.engine.quote_ident(&self.table);
        let lower = if after_lower {
            format!(" WHERE {} > {}", self.key_tuple(), self.params_tuple(1))
        } else {
            String::new()
        };
        let columns: Vec<String> = self
            .key
            .iter()
            .map(|k| self.engine.quote_ident(k))
            .collect();
        let select: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| read(c, i))
            .collect();
        // A bare name in ORDER BY means a select-list column of that name
        // first: with an expression there (named after the column, as a
        // `CAST` is, or named what the key column happens to be called),
        // the rows would be sorted by the expression. A qualified name is
        // always the table's column.
        let order = if select == columns {
            columns.join(", ")
        } else {
            columns
                .iter()
                .map(|c| format!("{table}.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "SELECT {} FROM {table}{lower} ORDER BY {order} LIMIT 1 OFFSET {}",
            select.join(", "),
            self.batch_size.saturating_sub(1)
        )
    }

    /// The batch update. The key range is `(lower, upper]`; without a lower
    /// bound it starts at the first row, without an upper bound it runs to
    /// the end. Lower key binds first, then the upper key.
    pub fn update_sql(&self, lower: bool, upper: bool) -> String {
        let table = self.engine.quote_ident(&self.table);
        let k = self.key.len();
        let mut conds = Vec::new();
        if lower {
            conds.push(format!("{} > {}", self.key_tuple(), self.params_tuple(1)));
        }
        if upper {
            let first = if lower { k + 1 } else { 1 };
            conds.push(format!(
                "{} <= {}",
                self.key_tuple(),
                self.params_tuple(first)
            ));
        }
        conds.push(format!("({})", self.pending));
        format!(
            "UPDATE {table} SET {} WHERE {}",
            self.set,
            conds.join(" AND ")
        )
    }

    /// Counts the rows the backfill still has to touch.
    pub fn remaining_sql(&self) -> String {
        format!(
            "SELECT COUNT(*) FROM {} WHERE {}",
            self.engine.quote_ident(&self.table),
            self.pending
        )
    }
}

/// One change a table rebuild makes to a table's definition. Expressions
/// (a default, a CHECK) are SQL re-rendered from the user's statement; the
/// engine parses them again and edits the live `CREATE TABLE` with them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "edit", rename_all = "snake_case")]
pub enum RebuildEdit {
    SetNotNull {
        column: String,
    },
    DropNotNull {
        column: String,
    },
    SetDefault {
        column: String,
        default: String,
    },
    DropDefault {
        column: String,
    },
    AddCheck {
        name: String,
        expr: String,
    },
    AddForeignKey {
        name: String,
        columns: Vec<String>,
        ref_table: String,
        ref_columns: Vec<String>,
        /// `ON DELETE …` / `ON UPDATE …` clauses, rendered from the statement.
        actions: Vec<String>,
    },
    /// A table constraint (or a column's inline one) by its name in the
    /// model: declared, or the default name of an unnamed one.
    DropConstraint {
        name: String,
    },
    /// A column, with the constraints and indexes that use it.
    DropColumn {
        column: String,
    },
}

impl RebuildEdit {
    /// What the catalog shows once the edit took effect.
    pub fn effect(&self, table: &str) -> Effect {
        let table = table.to_string();
        match self {
            RebuildEdit::SetNotNull { column } => Effect::ColumnNotNull {
                table,
                column: column.clone(),
            },
            RebuildEdit::DropNotNull { column } => Effect::ColumnNullable {
                table,
                column: column.clone(),
            },
            // The column may have had another default: only rebuilding
            // (again) makes sure it has this one. The engine skips a
            // rebuild that would not change the table.
            RebuildEdit::SetDefault { .. } => Effect::Rerunnable,
            RebuildEdit::DropDefault { column } => Effect::ColumnHasNoDefault {
                table,
                column: column.clone(),
            },
            RebuildEdit::AddCheck { name, .. } | RebuildEdit::AddForeignKey { name, .. } => {
                Effect::ConstraintExists {
                    table,
                    constraint: name.clone(),
                }
            }
            RebuildEdit::DropConstraint { name } => Effect::ConstraintAbsent {
                table,
                constraint: name.clone(),
            },
            RebuildEdit::DropColumn { column } => Effect::ColumnAbsent {
                table,
                column: column.clone(),
            },
        }
    }

    /// The edit in words, for plans and errors.
    pub fn describe(&self) -> String {
        match self {
            RebuildEdit::SetNotNull { column } => format!("{column} NOT NULL"),
            RebuildEdit::DropNotNull { column } => format!("{column} nullable"),
            RebuildEdit::SetDefault { column, default } => {
                format!("{column} DEFAULT {default}")
            }
            RebuildEdit::DropDefault { column } => format!("{column} without default"),
            RebuildEdit::AddCheck { name, expr } => format!("add CHECK {name} ({expr})"),
            RebuildEdit::AddForeignKey {
                name,
                columns,
                ref_table,
                ref_columns,
                ..
            } => format!(
                "add foreign key {name} ({}) → {ref_table} ({})",
                columns.join(", "),
                ref_columns.join(", ")
            ),
            RebuildEdit::DropConstraint { name } => format!("drop constraint {name}"),
            RebuildEdit::DropColumn { column } => format!("drop column {column}"),
        }
    }
}

/// SQLite's table rebuild ("Making Other Kinds Of Table Schema Changes"):
/// a new table from the live `CREATE TABLE` with the edits applied, every
/// row copied, the old table dropped, the new one renamed, its indexes and
/// triggers recreated, foreign keys checked, all in one transaction. Data,
/// not SQL: the engine reads the table's definition when it runs, so the
/// rebuild keeps whatever the live table has that the model does not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RebuildStep {
    pub table: String,
    pub edits: Vec<RebuildEdit>,
    /// The lock the rebuild holds, for the plan.
    pub lock: String,
}

impl RebuildStep {
    /// What the catalog shows once every edit took effect. `Rerunnable`
    /// among them: no catalog check tells, the rebuild runs (and the
    /// engine skips it when it would change nothing).
    pub fn effects(&self) -> Vec<Effect> {
        self.edits.iter().map(|e| e.effect(&self.table)).collect()
    }

    /// Whether the catalog can tell that the rebuild took effect.
    pub fn checkable(&self) -> bool {
        self.effects()
            .iter()
            .all(|e| !matches!(e, Effect::Rerunnable | Effect::RecordedOnly))
    }
}

/// Why a check runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// Before contract: nothing left for the old schema to carry.
    Gate,
    /// Before a constraint is built or validated: no row would violate it.
    Violations,
}

/// A query that counts offending rows; the task passes when it returns 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckStep {
    pub kind: CheckKind,
    pub count_sql: String,
    /// A few offending keys, shown when the check fails.
    pub sample_sql: Option<String>,
    /// What the check guards, in words.
    pub guards: String,
}

/// What a task does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Step {
    Sql(SqlStep),
    Backfill(BackfillStep),
    Check(CheckStep),
    /// A table rebuild (SQLite), run by the engine from the live catalog.
    Rebuild(RebuildStep),
}

/// One action of an operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Action {
    /// Stable within the operation (e.g. `add-twin-column`); together with
    /// the plan version, phase and the operation's subject it makes the
    /// task ID.
    pub key: String,
    pub phase: Phase,
    pub symbol: Symbol,
    /// One line for humans.
    pub summary: String,
    pub step: Step,
    /// Objects this action brings into existence.
    pub creates: Vec<ObjectRef>,
    /// Objects that must exist before it runs.
    pub needs: Vec<ObjectRef>,
    /// Objects it removes.
    pub removes: Vec<ObjectRef>,
}
