//! The closed set of operations a plan can contain: what a parsed change
//! is (`crate::parse` lowers a statement to one), before any engine's rules
//! decide what it becomes (`crate::ops`). Adding a variant is a compile
//! error in every `match` that does not handle it yet: that is the point.

use serde::{Deserialize, Serialize};

use crate::plan::Phase;

/// A column as an operation carries it: everything needed to create it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ColumnSpec {
    pub name: String,
    /// The type as the engine spells it, rendered from the parsed statement.
    pub data_type: String,
    pub nullable: bool,
    /// The default expression as SQL, rendered from the parsed statement.
    pub default: Option<DefaultExpr>,
    /// Other column options kept verbatim (e.g. `COLLATE`), rendered from
    /// the parsed statement.
    pub extra: Vec<String>,
}

/// A default expression and whether the engine must evaluate it per row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DefaultExpr {
    pub sql: String,
    /// Volatile: evaluated per row (`random()`, `gen_random_uuid()`,
    /// `clock_timestamp()`, a sequence). Adding a column with such a default
    /// rewrites every row under the strongest lock.
    pub volatile: bool,
}

/// A foreign key reference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ForeignKeySpec {
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    /// `ON DELETE …` / `ON UPDATE …` clauses, rendered from the statement.
    pub actions: Vec<String>,
}

/// The operations zerodown understands. Anything else is refused, or goes
/// through the raw-SQL escape hatch with an explicit phase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Operation {
    CreateTable {
        table: String,
        columns: Vec<ColumnSpec>,
        primary_key: Vec<String>,
        /// Named or inline constraints (CHECK, UNIQUE, FOREIGN KEY; the
        /// primary key too), for the schema model.
        constraints: Vec<Constraint>,
        /// Tables its foreign keys reference: they must exist first.
        references: Vec<String>,
        /// The whole statement, rendered from the parsed form.
        sql: String,
        if_not_exists: bool,
    },
    DropTable {
        table: String,
    },
    RenameTable {
        from: String,
        to: String,
    },
    AddColumn {
        table: String,
        column: ColumnSpec,
    },
    DropColumn {
        table: String,
        column: String,
    },
    RenameColumn {
        table: String,
        from: String,
        to: String,
    },
    /// `ALTER COLUMN … TYPE`, MySQL `MODIFY` / `CHANGE` that changes the type.
    AlterColumnType {
        table: String,
        column: String,
        new_type: String,
        /// PostgreSQL `USING` expression, rendered from the statement.
        using: Option<String>,
        /// How the statement was written (`ALTER COLUMN TYPE`, `MODIFY`, `CHANGE`).
        written_as: String,
    },
    SetNotNull {
        table: String,
        column: String,
    },
    DropNotNull {
        table: String,
        column: String,
    },
    SetDefault {
        table: String,
        column: String,
        default: DefaultExpr,
    },
    DropDefault {
        table: String,
        column: String,
    },
    CreateIndex {
        name: String,
        table: String,
        /// Index key expressions, rendered from the statement (usually
        /// quoted column names).
        keys: Vec<String>,
        /// The plain column names among the keys, for dependency tracking.
        columns: Vec<String>,
        unique: bool,
        concurrently: bool,
        /// `USING method`, if written.
        method: Option<String>,
        /// Partial index predicate, rendered from the statement.
        predicate: Option<String>,
    },
    DropIndex {
        name: String,
        /// MySQL names the table (`DROP INDEX i ON t`); PostgreSQL and
        /// SQLite do not, and the table is found in the schema model.
        table: Option<String>,
    },
    AddForeignKey {
        table: String,
        name: String,
        fk: ForeignKeySpec,
        not_valid: bool,
    },
    AddCheck {
        table: String,
        name: String,
        expr: String,
        not_valid: bool,
    },
    AddUnique {
        table: String,
        name: String,
        columns: Vec<String>,
    },
    AddPrimaryKey {
        table: String,
        name: Option<String>,
        columns: Vec<String>,
    },
    ValidateConstraint {
        table: String,
        name: String,
    },
    DropConstraint {
        table: String,
        name: String,
    },
    CreateView {
        name: String,
        or_replace: bool,
        /// The whole statement, rendered from the parsed form.
        sql: String,
    },
    DropView {
        name: String,
    },
    /// The escape hatch: SQL the classifier does not interpret, run in the
    /// phase the user chose.
    Raw {
        id: String,
        sql: String,
        phase: Phase,
    },
}

impl Operation {
    /// Every identifier the operation names or will give an object (a
    /// primary key's default name included), for the engine's length limit.
    pub fn identifiers(&self) -> Vec<String> {
        use Operation::*;
        let own = |names: &[&String]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        match self {
            CreateTable {
                table,
                columns,
                primary_key,
                constraints,
                references,
                ..
            } => {
                let mut out = own(&[table]);
                out.extend(columns.iter().map(|c| c.name.clone()));
                out.extend(primary_key.iter().cloned());
                out.extend(references.iter().cloned());
                for constraint in constraints {
                    out.push(constraint.name.clone());
                    out.extend(constraint.kind.identifiers());
                }
                out
            }
            DropTable { table } => own(&[table]),
            RenameTable { from, to } => own(&[from, to]),
            AddColumn { table, column } => own(&[table, &column.name]),
            DropColumn { table, column }
            | AlterColumnType { table, column, .. }
            | SetNotNull { table, column }
            | DropNotNull { table, column }
            | SetDefault { table, column, .. }
            | DropDefault { table, column } => own(&[table, column]),
            RenameColumn { table, from, to } => own(&[table, from, to]),
            CreateIndex {
                name,
                table,
                columns,
                ..
            } => {
                let mut out = own(&[name, table]);
                out.extend(columns.iter().cloned());
                out
            }
            DropIndex { name, table } => {
                let mut out = own(&[name]);
                out.extend(table.iter().cloned());
                out
            }
            AddForeignKey {
                table, name, fk, ..
            } => {
                let mut out = own(&[table, name, &fk.ref_table]);
                out.extend(fk.columns.iter().chain(&fk.ref_columns).cloned());
                out
            }
            AddCheck { table, name, .. }
            | ValidateConstraint { table, name }
            | DropConstraint { table, name } => own(&[table, name]),
            AddUnique {
                table,
                name,
                columns,
            } => {
                let mut out = own(&[table, name]);
                out.extend(columns.iter().cloned());
                out
            }
            AddPrimaryKey {
                table,
                name,
                columns,
            } => {
                let mut out = own(&[table]);
                out.push(name.clone().unwrap_or_else(|| format!("{table}_pkey")));
                out.extend(columns.iter().cloned());
                out
            }
            CreateView { name, .. } | DropView { name } => own(&[name]),
            // Not interpreted: the engine checks its names as it runs it.
            Raw { .. } => Vec::new(),
        }
    }

    /// A short kebab-case name of the kind of operation, used in task IDs
    /// and rule IDs.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Operation::CreateTable { .. } => "create-table",
            Operation::DropTable { .. } => "drop-table",
            Operation::RenameTable { .. } => "rename-table",
            Operation::AddColumn { .. } => "add-column",
            Operation::DropColumn { .. } => "drop-column",
            Operation::RenameColumn { .. } => "rename-column",
            Operation::AlterColumnType { .. } => "alter-column-type",
            Operation::SetNotNull { .. } => "set-not-null",
            Operation::DropNotNull { .. } => "drop-not-null",
            Operation::SetDefault { .. } => "set-default",
            Operation::DropDefault { .. } => "drop-default",
            Operation::CreateIndex { .. } => "create-index",
            Operation::DropIndex { .. } => "drop-index",
            Operation::AddForeignKey { .. } => "add-foreign-key",
            Operation::AddCheck { .. } => "add-check",
            Operation::AddUnique { .. } => "add-unique",
            Operation::AddPrimaryKey { .. } => "add-primary-key",
            Operation::ValidateConstraint { .. } => "validate-constraint",
            Operation::DropConstraint { .. } => "drop-constraint",
            Operation::CreateView { .. } => "create-view",
            Operation::DropView { .. } => "drop-view",
            Operation::Raw { .. } => "raw",
        }
    }

    /// The object the operation is about, as `table`, `table.column` or an
    /// index / constraint / view name: the stable part of its task IDs.
    pub fn subject(&self) -> String {
        match self {
            Operation::CreateTable { table, .. } | Operation::DropTable { table } => table.clone(),
            Operation::RenameTable { from, to } => format!("{from}->{to}"),
            Operation::AddColumn { table, column } => format!("{table}.{}", column.name),
            Operation::DropColumn { table, column }
            | Operation::AlterColumnType { table, column, .. }
            | Operation::SetNotNull { table, column }
            | Operation::DropNotNull { table, column }
            | Operation::SetDefault { table, column, .. }
            | Operation::DropDefault { table, column } => format!("{table}.{column}"),
            Operation::RenameColumn { table, from, to } => format!("{table}.{from}->{to}"),
            Operation::CreateIndex { name, .. } | Operation::DropIndex { name, .. } => name.clone(),
            Operation::AddForeignKey { table, name, .. }
            | Operation::AddCheck { table, name, .. }
            | Operation::AddUnique { table, name, .. }
            | Operation::ValidateConstraint { table, name }
            | Operation::DropConstraint { table, name } => format!("{table}.{name}"),
            Operation::AddPrimaryKey { table, .. } => format!("{table}.primary-key"),
            Operation::CreateView { name, .. } | Operation::DropView { name } => name.clone(),
            Operation::Raw { id, .. } => id.clone(),
        }
    }
}

/// What kind of constraint, with what it needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConstraintKind {
    Check {
        expr: String,
    },
    ForeignKey {
        columns: Vec<String>,
        ref_table: String,
        ref_columns: Vec<String>,
    },
    Unique {
        columns: Vec<String>,
    },
    PrimaryKey {
        columns: Vec<String>,
    },
}

impl ConstraintKind {
    /// The columns and tables the constraint names.
    pub fn identifiers(&self) -> Vec<String> {
        match self {
            ConstraintKind::Check { .. } => Vec::new(),
            ConstraintKind::ForeignKey {
                columns,
                ref_table,
                ref_columns,
            } => columns
                .iter()
                .chain(ref_columns)
                .chain(std::iter::once(ref_table))
                .cloned()
                .collect(),
            ConstraintKind::Unique { columns } | ConstraintKind::PrimaryKey { columns } => {
                columns.clone()
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    pub name: String,
    pub kind: ConstraintKind,
    /// False for a constraint added `NOT VALID` and not yet validated.
    pub validated: bool,
}
