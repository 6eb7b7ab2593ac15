//! From a parsed `sqlparser` statement to an `Operation`.
//!
//! `sqlparser` reads every dialect's syntax in every dialect (NOTES.md: the
//! dialect does not police), so this is also where a statement the plan's
//! engine would not accept is refused, before anything is classified.

use std::collections::BTreeSet;

use sqlparser::ast::{
    AlterColumnOperation, AlterTable, AlterTableOperation, CheckConstraint, ColumnDef,
    ColumnOption, CreateIndex, CreateTable, CreateView, DataType, DropBehavior, Expr,
    ForeignKeyConstraint, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, IndexColumn,
    NullsDistinctOption, ObjectName, ObjectType, RenameTableNameKind, Statement, TableConstraint,
};

use crate::dialect::{same_type, EngineKind};
use crate::operation::{ColumnSpec, DefaultExpr, ForeignKeySpec, Operation};
use crate::schema::{Column, Constraint, ConstraintKind, Schema};

/// The name an identifier denotes: unquoted names fold to lower case
/// (PostgreSQL folds them, MySQL and SQLite compare them without case),
/// quoted names are kept as written.
pub fn normalize_ident(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

/// Why a statement cannot become an operation: the message, and what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Unsupported {
    pub message: String,
    pub help: String,
}

impl Unsupported {
    fn new(message: impl Into<String>, help: impl Into<String>) -> Self {
        Unsupported {
            message: message.into(),
            help: help.into(),
        }
    }
}

/// Turn one statement into an operation for this engine. The schema is the
/// model the statement will meet (MySQL `MODIFY` needs it to tell a type
/// change from a nullability change).
pub fn lower(
    stmt: &Statement,
    engine: EngineKind,
    schema: &Schema,
) -> Result<Operation, Unsupported> {
    let op = lower_statement(stmt, engine, schema)?;
    identifiers_fit(&op, engine)?;
    Ok(op)
}

/// Refuse a name the engine would not keep as written: PostgreSQL
/// truncates it, and every later lookup of the full name (effects, resume,
/// abort) would miss the object.
fn identifiers_fit(op: &Operation, engine: EngineKind) -> Result<(), Unsupported> {
    for ident in op.identifiers() {
        if let Some(limit) = engine.identifier_too_long(&ident) {
            return Err(Unsupported::new(
                format!(
                    "`{ident}` is longer than the {limit} {}",
                    match engine {
                        EngineKind::Postgres =>
                            "PostgreSQL keeps of a name: it cuts longer ones short, \
                            and zerodown would then look for a name the database does not hold",
                        _ => "MySQL accepts in a name",
                    }
                ),
                format!(
                    "write a name of at most {limit}; when the statement names no index or key, \
                     name it (the default, `<table>_pkey` or `<table>_<columns>_idx`, is too long)"
                ),
            ));
        }
    }
    Ok(())
}

fn lower_statement(
    stmt: &Statement,
    engine: EngineKind,
    schema: &Schema,
) -> Result<Operation, Unsupported> {
    match stmt {
        Statement::CreateTable(create) => create_table(stmt, create, engine, schema),
        Statement::AlterTable(alter) => alter_table(stmt, alter, engine, schema),
        Statement::CreateIndex(create) => create_index(create, engine, schema),
        Statement::Drop {
            object_type,
            names,
            cascade,
            table,
            ..
        } => drop_object(
            stmt,
            *object_type,
            names,
            *cascade,
            table.as_ref(),
            engine,
            schema,
        ),
        Statement::RenameTable(renames) => match renames.as_slice() {
            [rename] if engine == EngineKind::Mysql => Ok(Operation::RenameTable {
                from: object_name(&rename.old_name, schema)?,
                to: object_name(&rename.new_name, schema)?,
            }),
            [_] => Err(Unsupported::new(
                format!(
                    "`RENAME TABLE` is MySQL syntax; {} does not accept it",
                    engine_title(engine)
                ),
                "write `ALTER TABLE a RENAME TO b`",
            )),
            _ => Err(Unsupported::new(
                "`RENAME TABLE` renames several tables at once",
                "one table per change: write one `RENAME TABLE a TO b` per table",
            )),
        },
        Statement::CreateView(view) => create_view(stmt, view, schema),
        Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {
            Err(Unsupported::new(
                format!("`{}` changes data, not the schema", statement_kind(stmt)),
                "data changes go in `backfills:` (batched, resumable, run in migrate), or in a \
                 raw change: `- raw: \"…\"` with `phase: migrate`",
            ))
        }
        _ => Err(not_classifiable(&statement_kind(stmt), stmt)),
    }
}

/// Whether an `IF [NOT] EXISTS` guard makes the statement a no-op against
/// this model (the object is already there, or already gone). The operation
/// itself does not carry the guard: against the model, a guarded statement
/// either changes something or is skipped.
pub fn guard_satisfied(stmt: &Statement, schema: &Schema) -> bool {
    // A name the model cannot hold never satisfies a guard: `lower` refuses it.
    let name_of = |name: &ObjectName| object_name(name, schema).ok();
    match stmt {
        Statement::CreateTable(create) => {
            create.if_not_exists
                && name_of(&create.name).is_some_and(|t| schema.table(&t).is_some())
        }
        Statement::CreateIndex(create) => {
            create.if_not_exists
                && create
                    .name
                    .as_ref()
                    .and_then(name_of)
                    .is_some_and(|name| schema.indexes.contains_key(&name))
        }
        Statement::CreateView(view) => {
            view.if_not_exists && name_of(&view.name).is_some_and(|v| schema.views.contains_key(&v))
        }
        Statement::Drop {
            object_type,
            if_exists: true,
            names,
            table,
            ..
        } => names.iter().all(|name| {
            let Some(name) = name_of(name) else {
                return false;
            };
            match object_type {
                ObjectType::Table => schema.table(&name).is_none(),
                ObjectType::View => !schema.views.contains_key(&name),
                ObjectType::Index => match table {
                    Some(table) => name_of(table).is_some_and(|table| {
                        !schema.indexes.on_table(&table).any(|i| i.name == name)
                    }),
                    None => !schema.indexes.contains_key(&name),
                },
                _ => false,
            }
        }),
        Statement::AlterTable(alter) => {
            let Some(table) = name_of(&alter.name) else {
                return false;
            };
            if alter.if_exists && schema.table(&table).is_none() {
                return true;
            }
            match alter.operations.as_slice() {
                [AlterTableOperation::AddColumn {
                    if_not_exists: true,
                    column_def,
                    ..
                }] => schema
                    .column(&table, &normalize_ident(&column_def.name))
                    .is_some(),
                [AlterTableOperation::DropColumn {
                    if_exists: true,
                    column_names,
                    ..
                }] => column_names
                    .iter()
                    .all(|c| schema.column(&table, &normalize_ident(c)).is_none()),
                [AlterTableOperation::DropConstraint {
                    if_exists: true,
                    name,
                    ..
                }] => schema
                    .table(&table)
                    .is_some_and(|t| !t.constraints.contains_key(&normalize_ident(name))),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Whether a default expression gives each row its own value, so that adding
/// a column with it must write every row (PostgreSQL stores a non-volatile
/// default once, in the catalog, and adds the column instantly).
///
/// `random()`, `gen_random_uuid()`, `uuid_generate_v4()`, `clock_timestamp()`,
/// `nextval(…)`, MySQL `uuid()` / `rand()`, Oracle-style `sys_guid()` are
/// volatile; constants, casts of constants, `now()`, `CURRENT_TIMESTAMP`,
/// `CURRENT_DATE` are not. A function this list does not know counts as
/// volatile: PostgreSQL functions are `VOLATILE` unless declared otherwise,
/// and guessing wrong the other way rewrites a table under the strongest lock.
/// On SQLite every function counts: SQLite refuses to add a column whose
/// default is not constant (`CURRENT_TIMESTAMP` included), so such a column
/// must be filled row by row as well.
pub fn is_volatile(expr: &Expr, engine: EngineKind) -> bool {
    match expr {
        Expr::Function(function) => {
            let name = function
                .name
                .0
                .last()
                .and_then(|part| part.as_ident())
                .map(|ident| ident.value.to_lowercase())
                .unwrap_or_default();
            engine == EngineKind::Sqlite
                || !STABLE_FUNCTIONS.contains(&name.as_str())
                || function_args(function)
                    .is_none_or(|args| args.iter().any(|a| is_volatile(a, engine)))
        }
        _ => sub_expressions(expr)
            .is_none_or(|children| children.iter().any(|c| is_volatile(c, engine))),
    }
}

/// Functions that return the same value for every row of one statement
/// (immutable or stable in PostgreSQL's terms, constant per statement in
/// MySQL's).
const STABLE_FUNCTIONS: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtime",
    "localtimestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "utc_timestamp",
    "utc_date",
    "utc_time",
    "curdate",
    "curtime",
    "current_user",
    "session_user",
    "current_schema",
    "user",
    "lower",
    "upper",
    "concat",
    "coalesce",
    "nullif",
    "greatest",
    "least",
    "length",
    "char_length",
    "md5",
    "to_jsonb",
    "to_json",
    "jsonb_build_object",
    "json_build_object",
    "jsonb_build_array",
    "json_build_array",
    "json_object",
    "json_array",
    "make_interval",
    "make_date",
    "date_trunc",
    "to_timestamp",
    "to_date",
    "array",
];

/// The argument expressions of a function call; `None` when an argument is
/// not a plain expression (a subquery, a wildcard).
fn function_args(function: &sqlparser::ast::Function) -> Option<Vec<&Expr>> {
    match &function.args {
        FunctionArguments::None => Some(Vec::new()),
        FunctionArguments::Subquery(_) => None,
        FunctionArguments::List(list) => list
            .args
            .iter()
            .map(|arg| match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e))
                | FunctionArg::Named {
                    arg: FunctionArgExpr::Expr(e),
                    ..
                }
                | FunctionArg::ExprNamed {
                    arg: FunctionArgExpr::Expr(e),
                    ..
                } => Some(e),
                _ => None,
            })
            .collect(),
    }
}

/// The direct sub-expressions of an expression, for the shapes defaults and
/// check constraints use; `None` for the shapes not looked into (subqueries
/// and dialect oddities), which callers treat conservatively.
fn sub_expressions(expr: &Expr) -> Option<Vec<&Expr>> {
    Some(match expr {
        Expr::Identifier(_)
        | Expr::CompoundIdentifier(_)
        | Expr::Value(_)
        | Expr::TypedString(_) => Vec::new(),
        Expr::IsFalse(e)
        | Expr::IsNotFalse(e)
        | Expr::IsTrue(e)
        | Expr::IsNotTrue(e)
        | Expr::IsNull(e)
        | Expr::IsNotNull(e)
        | Expr::IsUnknown(e)
        | Expr::IsNotUnknown(e)
        | Expr::Nested(e)
        | Expr::UnaryOp { expr: e, .. }
        | Expr::Cast { expr: e, .. }
        | Expr::Collate { expr: e, .. }
        | Expr::Extract { expr: e, .. }
        | Expr::Ceil { expr: e, .. }
        | Expr::Floor { expr: e, .. }
        | Expr::Prefixed { value: e, .. }
        | Expr::IsJson { expr: e, .. }
        | Expr::IsNormalized { expr: e, .. } => vec![e.as_ref()],
        Expr::IsDistinctFrom(a, b)
        | Expr::IsNotDistinctFrom(a, b)
        | Expr::BinaryOp {
            left: a, right: b, ..
        }
        | Expr::AnyOp {
            left: a, right: b, ..
        }
        | Expr::AllOp {
            left: a, right: b, ..
        }
        | Expr::AtTimeZone {
            timestamp: a,
            time_zone: b,
        }
        | Expr::Position { expr: a, r#in: b }
        | Expr::RLike {
            expr: a,
            pattern: b,
            ..
        } => vec![a.as_ref(), b.as_ref()],
        Expr::Like {
            expr,
            pattern,
            escape_char,
            ..
        }
        | Expr::ILike {
            expr,
            pattern,
            escape_char,
            ..
        }
        | Expr::SimilarTo {
            expr,
            pattern,
            escape_char,
            ..
        } => {
            let mut all = vec![expr.as_ref(), pattern.as_ref()];
            all.extend(escape_char.as_deref());
            all
        }
        Expr::InList { expr, list, .. } => {
            std::iter::once(expr.as_ref()).chain(list.iter()).collect()
        }
        Expr::Between {
            expr, low, high, ..
        } => vec![expr.as_ref(), low.as_ref(), high.as_ref()],
        Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => std::iter::once(expr.as_ref())
            .chain(substring_from.as_deref())
            .chain(substring_for.as_deref())
            .collect(),
        Expr::Trim {
            expr,
            trim_what,
            trim_characters,
            ..
        } => std::iter::once(expr.as_ref())
            .chain(trim_what.as_deref())
            .chain(trim_characters.iter().flatten())
            .collect(),
        Expr::Overlay {
            expr,
            overlay_what,
            overlay_from,
            overlay_for,
        } => vec![expr.as_ref(), overlay_what.as_ref(), overlay_from.as_ref()]
            .into_iter()
            .chain(overlay_for.as_deref())
            .collect(),
        Expr::Convert { expr, styles, .. } => std::iter::once(expr.as_ref())
            .chain(styles.iter())
            .collect(),
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => operand
            .as_deref()
            .into_iter()
            .chain(conditions.iter().flat_map(|w| [&w.condition, &w.result]))
            .chain(else_result.as_deref())
            .collect(),
        Expr::Tuple(items) => items.iter().collect(),
        Expr::Array(array) => array.elem.iter().collect(),
        Expr::Interval(interval) => vec![interval.value.as_ref()],
        Expr::Function(function) => function_args(function)?,
        _ => return None,
    })
}

/// The distinct plain columns an expression mentions, in order.
fn column_refs(expr: &Expr) -> Vec<String> {
    fn walk(expr: &Expr, out: &mut Vec<String>) {
        match expr {
            Expr::Identifier(ident) => {
                let name = normalize_ident(ident);
                if !out.contains(&name) {
                    out.push(name);
                }
            }
            _ => {
                for child in sub_expressions(expr).unwrap_or_default() {
                    walk(child, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(expr, &mut out);
    out
}

/// The name of a table, view or index as the model holds it. The model is
/// one schema (namespace): the one unqualified names resolve to (PostgreSQL's
/// current schema, MySQL's database, SQLite's `main`). A qualifier is
/// accepted only when it names that schema: dropping any other would plan
/// and run the change against a table of the same name elsewhere.
fn object_name(name: &ObjectName, schema: &Schema) -> Result<String, Unsupported> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|part| match part.as_ident() {
            Some(ident) => normalize_ident(ident),
            None => part.to_string(),
        })
        .collect();
    match parts.as_slice() {
        [name] => Ok(name.clone()),
        [qualifier, object] if schema.namespace.as_deref() == Some(qualifier.as_str()) => {
            Ok(object.clone())
        }
        [qualifier, object] => Err(foreign_namespace(name, qualifier, object, schema)),
        _ => Err(Unsupported::new(
            format!("`{name}` names a database and a schema: zerodown plans against one of each"),
            "connect to that database and write the name unqualified",
        )),
    }
}

/// The schema qualifiers of the tables, views and indexes a statement
/// names (`app` of `CREATE TABLE app.users`), for a snapshot to tell which
/// schema it is.
pub fn qualifiers(stmt: &Statement) -> Vec<String> {
    let names: Vec<&ObjectName> = match stmt {
        Statement::CreateTable(create) => vec![&create.name],
        Statement::AlterTable(alter) => vec![&alter.name],
        Statement::CreateIndex(create) => vec![&create.table_name],
        Statement::CreateView(view) => vec![&view.name],
        Statement::Drop { names, .. } => names.iter().collect(),
        _ => Vec::new(),
    };
    names
        .into_iter()
        .filter(|name| name.0.len() == 2)
        .filter_map(|name| name.0[0].as_ident().map(normalize_ident))
        .collect()
}

/// Why a name qualified with another schema is refused, and how to reach
/// that schema.
fn foreign_namespace(
    name: &ObjectName,
    qualifier: &str,
    object: &str,
    schema: &Schema,
) -> Unsupported {
    let message = match &schema.namespace {
        Some(ns) => format!(
            "`{name}` is in schema `{qualifier}`, but zerodown plans against one schema, \
             `{ns}`, the one unqualified names resolve to"
        ),
        None => format!(
            "`{name}` is qualified with schema `{qualifier}`, and the schema snapshot names \
             none, so zerodown cannot tell that `{qualifier}` is the one unqualified names \
             resolve to"
        ),
    };
    Unsupported::new(
        message,
        format!(
            "write `{object}` unqualified and run zerodown against `{qualifier}`: on PostgreSQL \
             with `{qualifier}` first in the search path (`?options=-csearch_path%3D{qualifier}` \
             in the URL), on MySQL with `{qualifier}` as the URL's database"
        ),
    )
}

/// The last part of a qualified type or function name (`pg_catalog.int4`):
/// these resolve through the catalog, not the model.
fn last_part(name: &ObjectName) -> String {
    match name.0.last() {
        Some(part) => match part.as_ident() {
            Some(ident) => normalize_ident(ident),
            None => part.to_string(),
        },
        None => String::new(),
    }
}

fn engine_title(engine: EngineKind) -> &'static str {
    match engine {
        EngineKind::Postgres => "PostgreSQL",
        EngineKind::Mysql => "MySQL",
        EngineKind::Sqlite => "SQLite",
    }
}

/// The help that points at the escape hatch, with the statement filled in
/// when it is short enough to read.
fn raw_hatch(sql: &str) -> String {
    let shown = if sql.len() <= 120 {
        sql.replace('\\', "\\\\").replace('"', "\\\"")
    } else {
        "...".to_string()
    };
    format!(
        "zerodown does not interpret it; run it as a raw change, in the phase where it is \
            safe for the \
         running code:\n  - raw: \"{shown}\"\n    phase: expand|migrate|contract"
    )
}

fn not_classifiable(kind: &str, stmt: &Statement) -> Unsupported {
    Unsupported::new(
        format!("`{kind}` is not a change zerodown can classify"),
        raw_hatch(&stmt.to_string()),
    )
}

/// `CREATE FUNCTION`, `DROP SEQUENCE`, `INSERT`: the statement's kind, from
/// its variant name (the rendered SQL can be long).
fn statement_kind(stmt: &Statement) -> String {
    match stmt {
        Statement::Drop { object_type, .. } => format!("DROP {object_type}"),
        Statement::Query(_) => "SELECT".to_string(),
        _ => variant_words(&format!("{stmt:?}")),
    }
}

/// `CreateFunction(…)` → `CREATE FUNCTION`.
fn variant_words(debug: &str) -> String {
    let name: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let mut words = String::new();
    for (i, ch) in name.chars().enumerate() {
        if i > 0 && ch.is_ascii_uppercase() {
            words.push(' ');
        }
        words.push(ch.to_ascii_uppercase());
    }
    words
}

// ---------------------------------------------------------------- CREATE TABLE

/// A constraint as written, before it is named.
struct PendingConstraint {
    name: Option<String>,
    kind: ConstraintKind,
    /// For a column-level CHECK: the column, which names the constraint.
    column: Option<String>,
}

fn create_table(
    stmt: &Statement,
    create: &CreateTable,
    engine: EngineKind,
    schema: &Schema,
) -> Result<Operation, Unsupported> {
    let table = object_name(&create.name, schema)?;
    let refuse = |what: &str| {
        Unsupported::new(
            format!("`CREATE TABLE … {what}` is not a change zerodown can classify"),
            raw_hatch(&stmt.to_string()),
        )
    };
    if create.query.is_some() {
        return Err(refuse("AS SELECT"));
    }
    if create.like.is_some() || create.clone.is_some() {
        return Err(refuse("LIKE"));
    }
    if create.partition_of.is_some() || create.inherits.is_some() {
        return Err(refuse("PARTITION OF / INHERITS"));
    }
    if create.temporary {
        return Err(Unsupported::new(
            "a temporary table lives only in one session; it is not a schema change",
            "create it in the code that uses it, or drop the TEMPORARY keyword",
        ));
    }
    if create.or_replace {
        return Err(Unsupported::new(
            "`CREATE OR REPLACE TABLE` drops the table's data when it exists",
            "write `CREATE TABLE`, and drop the old table as its own change",
        ));
    }

    let mut columns = Vec::new();
    let mut pending = Vec::new();
    let mut primary_key: Vec<String> = Vec::new();
    for def in &create.columns {
        let (mut spec, inline) = column_spec(&table, def, engine, schema)?;
        for constraint in inline {
            if let ConstraintKind::PrimaryKey { columns } = &constraint.kind {
                set_primary_key(&mut primary_key, columns, &table)?;
                spec.nullable = false;
            }
            pending.push(constraint);
        }
        columns.push(spec);
    }
    for constraint in &create.constraints {
        let Some(constraint) = table_constraint(constraint, &table, stmt, schema)? else {
            // MySQL inline KEY / INDEX: an index, not a constraint (see
            // `inline_indexes`).
            continue;
        };
        if let ConstraintKind::PrimaryKey { columns: key } = &constraint.kind {
            set_primary_key(&mut primary_key, key, &table)?;
            for column in columns.iter_mut().filter(|c| key.contains(&c.name)) {
                column.nullable = false;
            }
        }
        pending.push(constraint);
    }

    let references: Vec<String> = pending
        .iter()
        .filter_map(|c| match &c.kind {
            ConstraintKind::ForeignKey { ref_table, .. } if *ref_table != table => {
                Some(ref_table.clone())
            }
            _ => None,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let constraints = name_constraints(&table, pending, engine);
    Ok(Operation::CreateTable {
        table,
        columns,
        primary_key,
        constraints,
        references,
        sql: stmt.to_string(),
        if_not_exists: create.if_not_exists,
    })
}

fn set_primary_key(
    primary_key: &mut Vec<String>,
    columns: &[String],
    table: &str,
) -> Result<(), Unsupported> {
    if !primary_key.is_empty() {
        return Err(Unsupported::new(
            format!("table {table} declares more than one primary key"),
            "keep one PRIMARY KEY; make the other columns UNIQUE",
        ));
    }
    *primary_key = columns.to_vec();
    Ok(())
}

/// The MySQL `KEY` / `INDEX` entries of a `CREATE TABLE`, as the index
/// operations they amount to: `lower` leaves them out of the table's
/// constraints (the operation's SQL creates them with the table), and the
/// schema model adds them with these.
pub fn inline_indexes(create: &CreateTable, engine: EngineKind, schema: &Schema) -> Vec<Operation> {
    // `lower` has refused a name the model cannot hold.
    let Ok(table) = object_name(&create.name, schema) else {
        return Vec::new();
    };
    // Names the table's UNIQUE keys take (as `lower` names them), which an
    // unnamed index must not reuse.
    let mut taken: Vec<String> = Vec::new();
    let column_uniques = create.columns.iter().filter_map(|c| {
        c.options.iter().find_map(|o| match &o.option {
            ColumnOption::Unique(unique) => Some((
                o.name.as_ref().or(unique.name.as_ref()),
                vec![normalize_ident(&c.name)],
            )),
            _ => None,
        })
    });
    let table_uniques = create.constraints.iter().filter_map(|c| match c {
        TableConstraint::Unique(unique) => Some((
            unique.name.as_ref().or(unique.index_name.as_ref()),
            unique
                .columns
                .iter()
                .filter_map(|k| match &k.column.expr {
                    Expr::Identifier(ident) => Some(normalize_ident(ident)),
                    _ => None,
                })
                .collect(),
        )),
        _ => None,
    });
    for (name, columns) in column_uniques.chain(table_uniques).collect::<Vec<_>>() {
        let name = match name {
            Some(name) => normalize_ident(name),
            None => mysql_index_name(&columns, &[], &taken),
        };
        taken.push(name);
    }
    let mut indexes = Vec::new();
    for constraint in &create.constraints {
        let (name, columns, method) = match constraint {
            TableConstraint::Index(index) => (
                index.name.as_ref(),
                &index.columns,
                index.index_type.as_ref().map(|t| t.to_string()),
            ),
            TableConstraint::FulltextOrSpatial(index) => (
                index.opt_index_name.as_ref(),
                &index.columns,
                Some(
                    if index.fulltext {
                        "FULLTEXT"
                    } else {
                        "SPATIAL"
                    }
                    .to_string(),
                ),
            ),
            _ => continue,
        };
        let (keys, columns) = index_keys(columns, engine);
        let name = match name {
            Some(name) => normalize_ident(name),
            None => mysql_index_name(&columns, &keys, &taken),
        };
        taken.push(name.clone());
        indexes.push(Operation::CreateIndex {
            name,
            table: table.clone(),
            keys,
            columns,
            unique: false,
            concurrently: false,
            method,
            predicate: None,
        });
    }
    indexes
}

/// MySQL names an unnamed index after its first column, then `_2`, `_3`.
fn mysql_index_name(columns: &[String], keys: &[String], taken: &[String]) -> String {
    let base = columns
        .first()
        .cloned()
        .unwrap_or_else(|| keys.first().cloned().unwrap_or_default());
    unique_name(
        base,
        |name| taken.iter().any(|t| t == name),
        |base, n| format!("{base}_{}", n + 1),
    )
}

fn unique_name(
    base: String,
    taken: impl Fn(&str) -> bool,
    numbered: impl Fn(&str, usize) -> String,
) -> String {
    if !taken(&base) {
        return base;
    }
    (1..)
        .map(|n| numbered(&base, n))
        .find(|name| !taken(name))
        .unwrap_or(base)
}

/// Name the constraints of a new table as the engine itself would name them
/// (the statement runs as written, so the engine picks the names).
fn name_constraints(
    table: &str,
    pending: Vec<PendingConstraint>,
    engine: EngineKind,
) -> Vec<Constraint> {
    let mut taken: Vec<String> = pending.iter().filter_map(|c| c.name.clone()).collect();
    let (mut fk_n, mut check_n) = (0, 0);
    pending
        .into_iter()
        .map(|c| {
            let name = match c.name {
                Some(name) => name,
                None => {
                    let name = if engine == EngineKind::Mysql {
                        match &c.kind {
                            ConstraintKind::PrimaryKey { .. } => "PRIMARY".to_string(),
                            ConstraintKind::Unique { columns } => {
                                mysql_index_name(columns, &[], &taken)
                            }
                            ConstraintKind::ForeignKey { .. } => {
                                fk_n += 1;
                                format!("{table}_ibfk_{fk_n}")
                            }
                            ConstraintKind::Check { .. } => {
                                check_n += 1;
                                format!("{table}_chk_{check_n}")
                            }
                        }
                    } else {
                        postgres_constraint_name(table, &c.kind, c.column.as_deref(), |name| {
                            taken.iter().any(|t| t == name)
                        })
                    };
                    taken.push(name.clone());
                    name
                }
            };
            Constraint {
                name,
                kind: c.kind,
                validated: true,
            }
        })
        .collect()
}

/// PostgreSQL's default constraint names: `<table>_pkey`,
/// `<table>_<columns>_key`, `<table>_<columns>_fkey`, `<table>_<column>_check`
/// (`<table>_check` when the check uses several columns or none), with a
/// number appended on a clash.
fn postgres_constraint_name(
    table: &str,
    kind: &ConstraintKind,
    column: Option<&str>,
    taken: impl Fn(&str) -> bool,
) -> String {
    let base = match kind {
        ConstraintKind::PrimaryKey { .. } => format!("{table}_pkey"),
        ConstraintKind::Unique { columns } => format!("{table}_{}_key", columns.join("_")),
        ConstraintKind::ForeignKey { columns, .. } => format!("{table}_{}_fkey", columns.join("_")),
        ConstraintKind::Check { .. } => match column {
            Some(column) => format!("{table}_{column}_check"),
            None => format!("{table}_check"),
        },
    };
    unique_name(base, taken, |base, n| format!("{base}{n}"))
}

/// A column definition as a `ColumnSpec`, and the constraints written on it.
fn column_spec(
    table: &str,
    def: &ColumnDef,
    engine: EngineKind,
    schema: &Schema,
) -> Result<(ColumnSpec, Vec<PendingConstraint>), Unsupported> {
    let name = normalize_ident(&def.name);
    let data_type = def.data_type.to_string();
    let mut nullable = true;
    let mut default = serial_default(table, &name, &def.data_type, engine);
    let mut extra = Vec::new();
    let mut constraints = Vec::new();
    for option in &def.options {
        let given_name = option.name.as_ref().map(normalize_ident);
        match &option.option {
            ColumnOption::Null => nullable = true,
            ColumnOption::NotNull => nullable = false,
            ColumnOption::Default(expr) => default = default_expr(expr, engine),
            ColumnOption::PrimaryKey(pk) => constraints.push(PendingConstraint {
                name: given_name.or_else(|| pk.name.as_ref().map(normalize_ident)),
                kind: ConstraintKind::PrimaryKey {
                    columns: vec![name.clone()],
                },
                column: Some(name.clone()),
            }),
            ColumnOption::Unique(unique) => constraints.push(PendingConstraint {
                name: given_name.or_else(|| unique.name.as_ref().map(normalize_ident)),
                kind: ConstraintKind::Unique {
                    columns: vec![name.clone()],
                },
                column: Some(name.clone()),
            }),
            ColumnOption::ForeignKey(fk) => constraints.push(PendingConstraint {
                name: given_name.or_else(|| fk.name.as_ref().map(normalize_ident)),
                kind: ConstraintKind::ForeignKey {
                    columns: vec![name.clone()],
                    ref_table: object_name(&fk.foreign_table, schema)?,
                    ref_columns: fk.referred_columns.iter().map(normalize_ident).collect(),
                },
                column: Some(name.clone()),
            }),
            ColumnOption::Check(check) => {
                check_supported(check)?;
                constraints.push(PendingConstraint {
                    name: given_name.or_else(|| check.name.as_ref().map(normalize_ident)),
                    kind: ConstraintKind::Check {
                        expr: check.expr.to_string(),
                    },
                    column: Some(name.clone()),
                })
            }
            other => extra.push(other.to_string()),
        }
    }
    Ok((
        ColumnSpec {
            name,
            data_type,
            nullable,
            default,
            extra,
        },
        constraints,
    ))
}

fn default_expr(expr: &Expr, engine: EngineKind) -> Option<DefaultExpr> {
    if matches!(expr, Expr::Value(v) if v.value == sqlparser::ast::Value::Null) {
        return None;
    }
    Some(DefaultExpr {
        sql: expr.to_string(),
        volatile: is_volatile(expr, engine),
    })
}

/// PostgreSQL's `serial` types are an integer with a sequence default: the
/// catalog shows `nextval('<table>_<column>_seq'::regclass)`, a volatile
/// default, and adding such a column writes every row.
fn serial_default(
    table: &str,
    column: &str,
    data_type: &DataType,
    engine: EngineKind,
) -> Option<DefaultExpr> {
    let DataType::Custom(name, args) = data_type else {
        return None;
    };
    let is_serial = engine == EngineKind::Postgres
        && args.is_empty()
        && matches!(
            last_part(name).to_lowercase().as_str(),
            "serial" | "serial4" | "bigserial" | "serial8" | "smallserial" | "serial2"
        );
    is_serial.then(|| DefaultExpr {
        sql: format!("nextval('{table}_{column}_seq'::regclass)"),
        volatile: true,
    })
}

fn check_supported(check: &CheckConstraint) -> Result<(), Unsupported> {
    if check.enforced == Some(false) || check.no_inherit {
        return Err(Unsupported::new(
            format!("`{check}`: NOT ENFORCED / NO INHERIT checks are not modelled"),
            raw_hatch(&check.to_string()),
        ));
    }
    Ok(())
}

/// A table-level constraint of `CREATE TABLE`; `None` for a MySQL index
/// entry (`KEY`, `FULLTEXT KEY`), which `inline_indexes` turns into an index.
fn table_constraint(
    constraint: &TableConstraint,
    table: &str,
    stmt: &Statement,
    schema: &Schema,
) -> Result<Option<PendingConstraint>, Unsupported> {
    Ok(Some(match constraint {
        TableConstraint::Unique(unique) => PendingConstraint {
            name: unique
                .name
                .as_ref()
                .or(unique.index_name.as_ref())
                .map(normalize_ident),
            kind: ConstraintKind::Unique {
                columns: plain_columns(&unique.columns, table, "UNIQUE")?,
            },
            column: None,
        },
        TableConstraint::PrimaryKey(pk) => PendingConstraint {
            name: pk.name.as_ref().map(normalize_ident),
            kind: ConstraintKind::PrimaryKey {
                columns: plain_columns(&pk.columns, table, "PRIMARY KEY")?,
            },
            column: None,
        },
        TableConstraint::ForeignKey(fk) => PendingConstraint {
            name: fk.name.as_ref().map(normalize_ident),
            kind: ConstraintKind::ForeignKey {
                columns: fk.columns.iter().map(normalize_ident).collect(),
                ref_table: object_name(&fk.foreign_table, schema)?,
                ref_columns: fk.referred_columns.iter().map(normalize_ident).collect(),
            },
            column: None,
        },
        TableConstraint::Check(check) => {
            check_supported(check)?;
            let refs = column_refs(&check.expr);
            PendingConstraint {
                name: check.name.as_ref().map(normalize_ident),
                kind: ConstraintKind::Check {
                    expr: check.expr.to_string(),
                },
                column: (refs.len() == 1).then(|| refs[0].clone()),
            }
        }
        TableConstraint::Index(_) | TableConstraint::FulltextOrSpatial(_) => return Ok(None),
        other => {
            return Err(Unsupported::new(
                format!("`{other}` in CREATE TABLE is not a constraint zerodown models"),
                raw_hatch(&stmt.to_string()),
            ))
        }
    }))
}

/// The columns of a UNIQUE / PRIMARY KEY: plain column names only.
fn plain_columns(
    columns: &[IndexColumn],
    table: &str,
    what: &str,
) -> Result<Vec<String>, Unsupported> {
    columns
        .iter()
        .map(|c| match &c.column.expr {
            Expr::Identifier(ident) => Ok(normalize_ident(ident)),
            other => Err(Unsupported::new(
                format!(
                    "{what} on {table} uses the expression `{other}`; a {what} \
                    constraint takes columns"
                ),
                "use a unique index on the expression: `CREATE UNIQUE INDEX … ON t (expr)`",
            )),
        })
        .collect()
}

/// Index keys rendered as SQL (plain columns quoted for the engine, with
/// their ordering and operator class), and the plain columns among them.
fn index_keys(columns: &[IndexColumn], engine: EngineKind) -> (Vec<String>, Vec<String>) {
    let mut keys = Vec::new();
    let mut plain = Vec::new();
    for column in columns {
        match &column.column.expr {
            Expr::Identifier(ident) => {
                let name = normalize_ident(ident);
                let mut key = format!("{}{}", engine.quote_ident(&name), column.column.options);
                if let Some(class) = &column.operator_class {
                    key.push_str(&format!(" {class}"));
                }
                keys.push(key);
                plain.push(name);
            }
            _ => keys.push(column.to_string()),
        }
    }
    (keys, plain)
}

// ---------------------------------------------------------------- CREATE INDEX

fn create_index(
    create: &CreateIndex,
    engine: EngineKind,
    schema: &Schema,
) -> Result<Operation, Unsupported> {
    let table = object_name(&create.table_name, schema)?;
    if !create.include.is_empty()
        || create.nulls_distinct.is_some()
        || !create.with.is_empty()
        || !create.index_options.is_empty()
        || !create.alter_options.is_empty()
    {
        return Err(options_not_kept("CREATE INDEX", &create.to_string()));
    }
    if create.concurrently && engine != EngineKind::Postgres {
        return Err(Unsupported::new(
            format!(
                "`CREATE INDEX CONCURRENTLY` is PostgreSQL syntax; {} does not accept \
                it",
                engine_title(engine)
            ),
            match engine {
                EngineKind::Mysql => {
                    "remove CONCURRENTLY: zerodown builds MySQL indexes online with \
                        ALGORITHM=INPLACE, LOCK=NONE"
                }
                _ => "remove CONCURRENTLY: SQLite builds an index under its single write lock",
            },
        ));
    }
    let (keys, columns) = index_keys(&create.columns, engine);
    let name = match &create.name {
        Some(name) => object_name(name, schema)?,
        None => {
            // PostgreSQL's name for an unnamed index: `<table>_<columns>_idx`.
            let parts = if columns.is_empty() {
                vec!["expr".to_string()]
            } else {
                columns.clone()
            };
            format!("{table}_{}_idx", parts.join("_"))
        }
    };
    Ok(Operation::CreateIndex {
        name,
        table,
        keys,
        columns,
        unique: create.unique,
        concurrently: create.concurrently,
        method: create.using.as_ref().map(|m| m.to_string()),
        predicate: create.predicate.as_ref().map(|p| p.to_string()),
    })
}

// ---------------------------------------------------------------- DROP

fn drop_object(
    stmt: &Statement,
    object_type: ObjectType,
    names: &[ObjectName],
    cascade: bool,
    table: Option<&ObjectName>,
    engine: EngineKind,
    schema: &Schema,
) -> Result<Operation, Unsupported> {
    let kind = match object_type {
        ObjectType::Table => "table",
        ObjectType::View => "view",
        ObjectType::Index => "index",
        _ => return Err(not_classifiable(&statement_kind(stmt), stmt)),
    };
    let [name] = names else {
        return Err(Unsupported::new(
            format!("`DROP {object_type}` names {} {kind}s", names.len()),
            format!("one {kind} per change: write one `DROP {object_type}` per {kind}"),
        ));
    };
    if cascade {
        return Err(Unsupported::new(
            format!("`DROP {object_type} … CASCADE` also drops objects the plan does not show"),
            "drop the dependent constraints and views first, each as its own change, then \
                drop it without CASCADE",
        ));
    }
    let name = object_name(name, schema)?;
    Ok(match object_type {
        ObjectType::Table => Operation::DropTable { table: name },
        ObjectType::View => Operation::DropView { name },
        _ => match (engine, table) {
            (EngineKind::Mysql, Some(table)) => Operation::DropIndex {
                name,
                table: Some(object_name(table, schema)?),
            },
            (EngineKind::Mysql, None) => {
                return Err(Unsupported::new(
                    "MySQL's `DROP INDEX` names the table",
                    format!(
                        "write `DROP INDEX {} ON <table>`",
                        engine.quote_ident(&name)
                    ),
                ))
            }
            (_, Some(_)) => {
                return Err(Unsupported::new(
                    format!(
                        "`DROP INDEX … ON table` is MySQL syntax; {} does not accept it",
                        engine_title(engine)
                    ),
                    format!("write `DROP INDEX {}`", engine.quote_ident(&name)),
                ))
            }
            (_, None) => {
                let table = schema.indexes.get(&name).map(|index| index.table.clone());
                Operation::DropIndex { name, table }
            }
        },
    })
}

// ---------------------------------------------------------------- CREATE VIEW

fn create_view(
    stmt: &Statement,
    view: &CreateView,
    schema: &Schema,
) -> Result<Operation, Unsupported> {
    if view.materialized {
        return Err(not_classifiable("CREATE MATERIALIZED VIEW", stmt));
    }
    if view.temporary {
        return Err(Unsupported::new(
            "a temporary view lives only in one session; it is not a schema change",
            "drop the TEMPORARY keyword",
        ));
    }
    Ok(Operation::CreateView {
        name: object_name(&view.name, schema)?,
        or_replace: view.or_replace,
        sql: stmt.to_string(),
    })
}

// ---------------------------------------------------------------- ALTER TABLE

fn alter_table(
    stmt: &Statement,
    alter: &AlterTable,
    engine: EngineKind,
    schema: &Schema,
) -> Result<Operation, Unsupported> {
    let table = object_name(&alter.name, schema)?;
    if let Some(clause) = alter.operations.iter().find(|op| {
        matches!(
            op,
            AlterTableOperation::Algorithm { .. } | AlterTableOperation::Lock { .. }
        )
    }) {
        return Err(Unsupported::new(
            format!("`{clause}`: zerodown chooses ALGORITHM and LOCK for each step itself"),
            "remove the clause; the plan shows the algorithm and lock each step uses",
        ));
    }
    let op = match alter.operations.as_slice() {
        [op] => op,
        [] => return Err(not_classifiable("ALTER TABLE", stmt)),
        ops => {
            return Err(Unsupported::new(
                format!("`ALTER TABLE {table}` has {} operations", ops.len()),
                "write one change per ALTER operation, \
                 so each is classified and phased on its own",
            ))
        }
    };
    match op {
        AlterTableOperation::AddColumn {
            column_keyword,
            column_def,
            column_position,
            ..
        } => {
            reject_misread_keyword(*column_keyword, column_def, &table, engine)?;
            reject_position(column_position.is_some())?;
            let (column, constraints) = column_spec(&table, column_def, engine, schema)?;
            if let Some(constraint) = constraints.first() {
                return Err(Unsupported::new(
                    format!(
                        "`ADD COLUMN {}` declares a {} \
                        inline",
                        column.name,
                        kind_title(&constraint.kind)
                    ),
                    "add the column, then the constraint as its own change (`ALTER TABLE … \
                        ADD CONSTRAINT …`), \
                     so it is built and validated online",
                ));
            }
            Ok(Operation::AddColumn { table, column })
        }
        AlterTableOperation::DropColumn {
            column_names,
            drop_behavior,
            ..
        } => {
            reject_cascade(drop_behavior.as_ref(), "DROP COLUMN")?;
            match column_names.as_slice() {
                [column] => Ok(Operation::DropColumn {
                    table,
                    column: normalize_ident(column),
                }),
                _ => Err(Unsupported::new(
                    format!("`DROP COLUMN` names {} columns", column_names.len()),
                    "one column per change: write one `ALTER TABLE … DROP COLUMN` per column",
                )),
            }
        }
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => Ok(Operation::RenameColumn {
            table,
            from: normalize_ident(old_column_name),
            to: normalize_ident(new_column_name),
        }),
        AlterTableOperation::RenameTable { table_name } => {
            let (RenameTableNameKind::To(to) | RenameTableNameKind::As(to)) = table_name;
            Ok(Operation::RenameTable {
                from: table,
                to: object_name(to, schema)?,
            })
        }
        AlterTableOperation::AlterColumn { column_name, op } => {
            alter_column(table, normalize_ident(column_name), op, engine)
        }
        AlterTableOperation::ModifyColumn {
            col_name,
            data_type,
            options,
            column_position,
        } => {
            reject_position(column_position.is_some())?;
            redefine_column(
                engine, schema, &table, col_name, col_name, data_type, options, "MODIFY",
            )
        }
        AlterTableOperation::ChangeColumn {
            old_name,
            new_name,
            data_type,
            options,
            column_position,
        } => {
            reject_position(column_position.is_some())?;
            redefine_column(
                engine, schema, &table, old_name, new_name, data_type, options, "CHANGE",
            )
        }
        AlterTableOperation::AddConstraint {
            constraint,
            not_valid,
        } => {
            if *not_valid && engine != EngineKind::Postgres {
                return Err(Unsupported::new(
                    format!(
                        "`NOT VALID` is PostgreSQL syntax; {} does not accept \
                        it",
                        engine_title(engine)
                    ),
                    "remove NOT VALID: zerodown checks the existing rows for violations \
                        itself before the \
                     constraint is enforced",
                ));
            }
            add_constraint(stmt, constraint, *not_valid, table, engine, schema)
        }
        AlterTableOperation::ValidateConstraint { name } => Ok(Operation::ValidateConstraint {
            table,
            name: normalize_ident(name),
        }),
        AlterTableOperation::DropConstraint {
            name,
            drop_behavior,
            ..
        } => {
            reject_cascade(drop_behavior.as_ref(), "DROP CONSTRAINT")?;
            Ok(Operation::DropConstraint {
                table,
                name: normalize_ident(name),
            })
        }
        AlterTableOperation::DropForeignKey {
            name,
            drop_behavior,
        } => {
            reject_cascade(drop_behavior.as_ref(), "DROP FOREIGN KEY")?;
            Ok(Operation::DropConstraint {
                table,
                name: normalize_ident(name),
            })
        }
        AlterTableOperation::DropPrimaryKey { drop_behavior } => {
            reject_cascade(drop_behavior.as_ref(), "DROP PRIMARY KEY")?;
            let name = schema
                .table(&table)
                .and_then(|t| {
                    t.constraints
                        .values()
                        .find(|c| matches!(c.kind, ConstraintKind::PrimaryKey { .. }))
                })
                .map(|c| c.name.clone())
                .unwrap_or_else(|| match engine {
                    EngineKind::Mysql => "PRIMARY".to_string(),
                    _ => format!("{table}_pkey"),
                });
            Ok(Operation::DropConstraint { table, name })
        }
        AlterTableOperation::DropIndex { name } => Ok(Operation::DropIndex {
            name: normalize_ident(name),
            table: Some(table),
        }),
        other => Err(not_classifiable(
            &format!("ALTER TABLE … {}", variant_words(&format!("{other:?}"))),
            stmt,
        )),
    }
}

fn kind_title(kind: &ConstraintKind) -> &'static str {
    match kind {
        ConstraintKind::Check { .. } => "CHECK constraint",
        ConstraintKind::ForeignKey { .. } => "foreign key",
        ConstraintKind::Unique { .. } => "UNIQUE constraint",
        ConstraintKind::PrimaryKey { .. } => "primary key",
    }
}

fn reject_cascade(behavior: Option<&DropBehavior>, what: &str) -> Result<(), Unsupported> {
    if matches!(behavior, Some(DropBehavior::Cascade)) {
        return Err(Unsupported::new(
            format!("`{what} … CASCADE` also drops objects the plan does not show"),
            "drop the dependent constraints and views first, each as its own change, then \
                drop it without CASCADE",
        ));
    }
    Ok(())
}

fn reject_position(has_position: bool) -> Result<(), Unsupported> {
    if has_position {
        return Err(Unsupported::new(
            "`FIRST` / `AFTER` column positions are not kept",
            "remove the position: zerodown adds columns at the end (code that names its \
                columns does not \
             notice), or write the change as a raw change",
        ));
    }
    Ok(())
}

/// PostgreSQL and SQLite read MySQL's `ADD INDEX i (c)` / `ADD KEY …` as a
/// column named `INDEX` of type `i(c)`.
fn reject_misread_keyword(
    column_keyword: bool,
    def: &ColumnDef,
    table: &str,
    engine: EngineKind,
) -> Result<(), Unsupported> {
    const KEYWORDS: &[&str] = &[
        "INDEX",
        "KEY",
        "UNIQUE",
        "CONSTRAINT",
        "PRIMARY",
        "FOREIGN",
        "FULLTEXT",
        "SPATIAL",
    ];
    let keyword = def.name.value.to_uppercase();
    if column_keyword
        || def.name.quote_style.is_some()
        || !KEYWORDS.contains(&keyword.as_str())
        || !matches!(def.data_type, DataType::Custom(..))
    {
        return Ok(());
    }
    Err(Unsupported::new(
        format!(
            "`ADD {keyword} …` is MySQL syntax; {} reads it as adding a column named {keyword}",
            engine_title(engine)
        ),
        if keyword == "UNIQUE" || keyword == "CONSTRAINT" {
            format!(
                "write `ALTER TABLE {} ADD CONSTRAINT <name> UNIQUE (<columns>)`",
                engine.quote_ident(table)
            )
        } else {
            format!(
                "write `CREATE INDEX <name> ON {} (<columns>)`",
                engine.quote_ident(table)
            )
        },
    ))
}

fn alter_column(
    table: String,
    column: String,
    op: &AlterColumnOperation,
    engine: EngineKind,
) -> Result<Operation, Unsupported> {
    let mysql_full_definition = |what: &str| {
        Unsupported::new(
            format!("MySQL has no `ALTER COLUMN … {what}`"),
            format!(
                "use MODIFY COLUMN with the full definition: ALTER TABLE {} MODIFY COLUMN {} \
                    <type> [NOT NULL] \
                 [DEFAULT …]",
                engine.quote_ident(&table),
                engine.quote_ident(&column)
            ),
        )
    };
    match op {
        AlterColumnOperation::SetNotNull if engine == EngineKind::Mysql => {
            Err(mysql_full_definition("SET NOT NULL"))
        }
        AlterColumnOperation::DropNotNull if engine == EngineKind::Mysql => {
            Err(mysql_full_definition("DROP NOT NULL"))
        }
        AlterColumnOperation::SetDataType { .. } if engine == EngineKind::Mysql => {
            Err(mysql_full_definition("TYPE"))
        }
        AlterColumnOperation::SetNotNull => Ok(Operation::SetNotNull { table, column }),
        AlterColumnOperation::DropNotNull => Ok(Operation::DropNotNull { table, column }),
        AlterColumnOperation::SetDefault { value } => match default_expr(value, engine) {
            Some(default) => Ok(Operation::SetDefault {
                table,
                column,
                default,
            }),
            None => Ok(Operation::DropDefault { table, column }),
        },
        AlterColumnOperation::DropDefault => Ok(Operation::DropDefault { table, column }),
        AlterColumnOperation::SetDataType {
            data_type, using, ..
        } => {
            if using.is_some() && engine != EngineKind::Postgres {
                return Err(Unsupported::new(
                    format!(
                        "`ALTER COLUMN … TYPE … USING` is PostgreSQL syntax; {} does not \
                        accept it",
                        engine_title(engine)
                    ),
                    "remove USING; to convert the values, add a new column, backfill it, and \
                        drop the old one, \
                     each as its own change",
                ));
            }
            Ok(Operation::AlterColumnType {
                table,
                column,
                new_type: data_type.to_string(),
                using: using.as_ref().map(|u| u.to_string()),
                written_as: "ALTER COLUMN TYPE".to_string(),
            })
        }
        AlterColumnOperation::AddGenerated { .. } => Err(Unsupported::new(
            format!(
                "`ALTER COLUMN {column} ADD GENERATED … AS IDENTITY` is not a change \
                zerodown can classify"
            ),
            "run it as a raw change (`- raw: \"…\"` with `phase: expand|migrate|contract`)",
        )),
    }
}

/// MySQL `MODIFY` / `CHANGE`: the statement restates the whole column, so
/// what it changes is found by comparing with the column in the model. One
/// aspect (name, type, nullability, default) at a time.
#[allow(clippy::too_many_arguments)]
fn redefine_column(
    engine: EngineKind,
    schema: &Schema,
    table: &str,
    old_name: &Ident,
    new_name: &Ident,
    data_type: &DataType,
    options: &[ColumnOption],
    written_as: &str,
) -> Result<Operation, Unsupported> {
    if engine != EngineKind::Mysql {
        return Err(Unsupported::new(
            format!(
                "`{written_as} COLUMN` is MySQL syntax; {} does not accept \
                it",
                engine_title(engine)
            ),
            "write `ALTER TABLE t ALTER COLUMN c TYPE …`, `… SET NOT NULL` / `DROP NOT \
                NULL`, `… SET DEFAULT …` \
             / `DROP DEFAULT`, or `RENAME COLUMN a TO b`, one per change",
        ));
    }
    let from = normalize_ident(old_name);
    let to = normalize_ident(new_name);
    let mut nullable = true;
    let mut default = None;
    let mut extra = Vec::new();
    for option in options {
        match option {
            ColumnOption::Null => nullable = true,
            ColumnOption::NotNull => nullable = false,
            ColumnOption::Default(expr) => default = default_expr(expr, engine),
            ColumnOption::PrimaryKey(_)
            | ColumnOption::Unique(_)
            | ColumnOption::ForeignKey(_)
            | ColumnOption::Check(_) => {
                return Err(Unsupported::new(
                    format!("`{written_as} COLUMN {to}` declares a constraint (`{option}`) inline"),
                    "change the column, then add the constraint as its own change (`ALTER \
                        TABLE … ADD CONSTRAINT …`)",
                ))
            }
            other => extra.push(other.to_string()),
        }
    }
    let type_written = data_type.to_string();
    // MODIFY restates the column: the options zerodown does not model
    // (AUTO_INCREMENT, COLLATE, COMMENT) must survive into the SQL it writes.
    let new_type = std::iter::once(type_written.clone())
        .chain(extra.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");

    let Some(old) = schema.column(table, &from) else {
        // Unknown to the model: the schema check reports it, with
        // suggestions.
        return Ok(if from != to {
            Operation::RenameColumn {
                table: table.to_string(),
                from,
                to,
            }
        } else {
            Operation::AlterColumnType {
                table: table.to_string(),
                column: from,
                new_type,
                using: None,
                written_as: written_as.to_string(),
            }
        });
    };
    if schema
        .table(table)
        .is_some_and(|t| t.primary_key.contains(&from))
    {
        // MySQL keeps primary key columns NOT NULL whatever MODIFY says.
        nullable = false;
    }

    let renamed = from != to;
    let retyped = !same_type(&old.data_type, &type_written);
    let renullable = old.nullable != nullable;
    let redefaulted = !same_default(
        old.default.as_deref(),
        default.as_ref().map(|d| d.sql.as_str()),
    );
    let aspects: Vec<&str> = [
        (renamed, "the name"),
        (retyped, "the type"),
        (renullable, "the nullability"),
        (redefaulted, "the default"),
    ]
    .iter()
    .filter(|(changed, _)| *changed)
    .map(|(_, what)| *what)
    .collect();

    let table = table.to_string();
    match aspects.as_slice() {
        [] if extra.is_empty() => Err(Unsupported::new(
            format!("`{written_as} COLUMN {from}` restates {table}.{from} as it already is"),
            "remove the change: it changes nothing",
        )),
        [] => Err(Unsupported::new(
            format!(
                "`{written_as} COLUMN {from}` only changes column options \
                ({})",
                extra.join(", ")
            ),
            raw_hatch(&format!("ALTER TABLE {table} {written_as} COLUMN …")),
        )),
        [_] if renamed => Ok(Operation::RenameColumn { table, from, to }),
        [_] if retyped => Ok(Operation::AlterColumnType {
            table,
            column: from,
            new_type,
            using: None,
            written_as: written_as.to_string(),
        }),
        [_] if renullable && nullable => Ok(Operation::DropNotNull {
            table,
            column: from,
        }),
        [_] if renullable => Ok(Operation::SetNotNull {
            table,
            column: from,
        }),
        [_] => Ok(match default {
            Some(default) => Operation::SetDefault {
                table,
                column: from,
                default,
            },
            None => Operation::DropDefault {
                table,
                column: from,
            },
        }),
        _ => Err(Unsupported::new(
            format!(
                "`{written_as} COLUMN {from}` changes {} of {table}.{from} at once (MODIFY \
                    and CHANGE restate \
                 the whole column: what is left out is changed too)",
                join_and(&aspects)
            ),
            split_help(
                engine,
                &table,
                old,
                &to,
                &new_type,
                nullable,
                default.as_ref(),
                renamed,
                retyped,
                renullable,
            ),
        )),
    }
}

/// One statement per aspect, each restating the rest of the column as it is
/// at that point: rename, then type, then default, then nullability.
#[allow(clippy::too_many_arguments)]
fn split_help(
    engine: EngineKind,
    table: &str,
    old: &Column,
    to: &str,
    new_type: &str,
    nullable: bool,
    default: Option<&DefaultExpr>,
    renamed: bool,
    retyped: bool,
    renullable: bool,
) -> String {
    let q = |name: &str| engine.quote_ident(name);
    let definition = |data_type: &str, nullable: bool, default: Option<&str>| {
        let mut def = data_type.to_string();
        if !nullable {
            def.push_str(" NOT NULL");
        }
        if let Some(default) = default {
            def.push_str(&format!(" DEFAULT {default}"));
        }
        def
    };
    let mut steps = Vec::new();
    if renamed {
        steps.push(format!(
            "ALTER TABLE {} RENAME COLUMN {} TO {}",
            q(table),
            q(&old.name),
            q(to)
        ));
    }
    let (mut data_type, mut current_nullable, mut current_default) =
        (old.data_type.clone(), old.nullable, old.default.clone());
    let modify = |data_type: &str, nullable: bool, default: Option<&str>| {
        format!(
            "ALTER TABLE {} MODIFY COLUMN {} {}",
            q(table),
            q(to),
            definition(data_type, nullable, default)
        )
    };
    if retyped {
        data_type = new_type.to_string();
        steps.push(modify(
            &data_type,
            current_nullable,
            current_default.as_deref(),
        ));
    }
    let new_default = default.map(|d| d.sql.clone());
    if !same_default(current_default.as_deref(), new_default.as_deref()) {
        current_default = new_default;
        steps.push(modify(
            &data_type,
            current_nullable,
            current_default.as_deref(),
        ));
    }
    if renullable {
        current_nullable = nullable;
        steps.push(modify(
            &data_type,
            current_nullable,
            current_default.as_deref(),
        ));
    }
    format!(
        "split it, one change per aspect, in this order:\n  - {}",
        steps.join("\n  - ")
    )
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn same_default(a: Option<&str>, b: Option<&str>) -> bool {
    let canonical = |d: Option<&str>| {
        d.map(|d| {
            d.trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .to_lowercase()
        })
        .filter(|d| d != "null")
    };
    canonical(a) == canonical(b)
}

fn add_constraint(
    stmt: &Statement,
    constraint: &TableConstraint,
    not_valid: bool,
    table: String,
    engine: EngineKind,
    schema: &Schema,
) -> Result<Operation, Unsupported> {
    // Names zerodown writes itself (the change's SQL is generated), so
    // PostgreSQL's conventions serve every engine; they must not clash with
    // what the table already has.
    let taken = |name: &str| {
        schema
            .table(&table)
            .is_some_and(|t| t.constraints.contains_key(name))
            || schema.indexes.contains_key(name)
    };
    let default_name = |kind: &ConstraintKind, column: Option<&str>| {
        postgres_constraint_name(&table, kind, column, taken)
    };
    let not_valid_only_for = |what: &str| {
        Unsupported::new(
            format!(
                "`ADD {what} … NOT VALID`: PostgreSQL accepts NOT VALID only on foreign \
                keys and CHECK constraints"
            ),
            "remove NOT VALID: zerodown checks the existing rows for duplicates before it \
                adds the constraint",
        )
    };
    match constraint {
        TableConstraint::ForeignKey(fk) => {
            let spec = foreign_key_spec(fk, schema)?;
            let name = match &fk.name {
                Some(name) => normalize_ident(name),
                None => default_name(
                    &ConstraintKind::ForeignKey {
                        columns: spec.columns.clone(),
                        ref_table: spec.ref_table.clone(),
                        ref_columns: spec.ref_columns.clone(),
                    },
                    None,
                ),
            };
            Ok(Operation::AddForeignKey {
                table,
                name,
                fk: spec,
                not_valid,
            })
        }
        TableConstraint::Check(check) => {
            check_supported(check)?;
            let expr = check.expr.to_string();
            let name = match &check.name {
                Some(name) => normalize_ident(name),
                None => {
                    let refs = column_refs(&check.expr);
                    default_name(
                        &ConstraintKind::Check { expr: expr.clone() },
                        (refs.len() == 1).then(|| refs[0].as_str()),
                    )
                }
            };
            Ok(Operation::AddCheck {
                table,
                name,
                expr,
                not_valid,
            })
        }
        TableConstraint::Unique(unique) => {
            if not_valid {
                return Err(not_valid_only_for("UNIQUE"));
            }
            if !unique.include.is_empty()
                || unique.characteristics.is_some()
                || unique.nulls_distinct != NullsDistinctOption::None
                || !unique.index_options.is_empty()
            {
                return Err(options_not_kept("ADD UNIQUE", &stmt.to_string()));
            }
            let columns = plain_columns(&unique.columns, &table, "UNIQUE")?;
            let name = match unique.name.as_ref().or(unique.index_name.as_ref()) {
                Some(name) => normalize_ident(name),
                None => default_name(
                    &ConstraintKind::Unique {
                        columns: columns.clone(),
                    },
                    None,
                ),
            };
            Ok(Operation::AddUnique {
                table,
                name,
                columns,
            })
        }
        TableConstraint::PrimaryKey(pk) => {
            if not_valid {
                return Err(not_valid_only_for("PRIMARY KEY"));
            }
            if !pk.include.is_empty()
                || pk.characteristics.is_some()
                || !pk.index_options.is_empty()
            {
                return Err(options_not_kept("ADD PRIMARY KEY", &stmt.to_string()));
            }
            let columns = plain_columns(&pk.columns, &table, "PRIMARY KEY")?;
            Ok(Operation::AddPrimaryKey {
                table,
                name: pk.name.as_ref().map(normalize_ident),
                columns,
            })
        }
        TableConstraint::Index(index) if engine == EngineKind::Mysql => {
            let (keys, columns) = index_keys(&index.columns, engine);
            let taken: Vec<String> = schema
                .indexes
                .on_table(&table)
                .map(|i| i.name.clone())
                .collect();
            let name = match &index.name {
                Some(name) => normalize_ident(name),
                None => mysql_index_name(&columns, &keys, &taken),
            };
            Ok(Operation::CreateIndex {
                name,
                table,
                keys,
                columns,
                unique: false,
                concurrently: false,
                method: index.index_type.as_ref().map(|t| t.to_string()),
                predicate: None,
            })
        }
        TableConstraint::PrimaryKeyUsingIndex(_) | TableConstraint::UniqueUsingIndex(_) => {
            Err(Unsupported::new(
                format!(
                    "`ADD {constraint}`: attaching an existing index is not a change \
                zerodown classifies"
                ),
                "write `ADD CONSTRAINT <name> UNIQUE (<columns>)` (or PRIMARY KEY): zerodown \
                builds the index \
             online and attaches it itself",
            ))
        }
        other => Err(not_classifiable(
            &format!("ALTER TABLE … ADD {other}"),
            stmt,
        )),
    }
}

/// Clauses the operation has no place for (`INCLUDE`, `WITH (…)`, `NULLS
/// NOT DISTINCT`, `DEFERRABLE`): refused rather than silently dropped from
/// the SQL zerodown writes.
fn options_not_kept(what: &str, sql: &str) -> Unsupported {
    Unsupported::new(
        format!(
            "`{what}` with INCLUDE, WITH (…), NULLS [NOT] DISTINCT, DEFERRABLE or index \
             options: zerodown would not keep them"
        ),
        raw_hatch(sql),
    )
}

fn foreign_key_spec(
    fk: &ForeignKeyConstraint,
    schema: &Schema,
) -> Result<ForeignKeySpec, Unsupported> {
    let mut actions = Vec::new();
    if let Some(kind) = &fk.match_kind {
        actions.push(kind.to_string());
    }
    if let Some(action) = &fk.on_delete {
        actions.push(format!("ON DELETE {action}"));
    }
    if let Some(action) = &fk.on_update {
        actions.push(format!("ON UPDATE {action}"));
    }
    if let Some(characteristics) = &fk.characteristics {
        actions.push(characteristics.to_string());
    }
    Ok(ForeignKeySpec {
        columns: fk.columns.iter().map(normalize_ident).collect(),
        ref_table: object_name(&fk.foreign_table, schema)?,
        ref_columns: fk.referred_columns.iter().map(normalize_ident).collect(),
        actions,
    })
}

#[cfg(test)]
mod tests {
    use sqlparser::parser::Parser;

    use super::*;
    use crate::schema::{Index, Table};
    use EngineKind::{Mysql, Postgres, Sqlite};

    fn parse(engine: EngineKind, sql: &str) -> Statement {
        let mut statements =
            Parser::parse_sql(&*engine.sql_dialect(), sql).expect("test SQL parses");
        assert_eq!(statements.len(), 1, "{sql}");
        statements.remove(0)
    }

    fn lower_sql(engine: EngineKind, sql: &str) -> Result<Operation, Unsupported> {
        lower(&parse(engine, sql), engine, &model())
    }

    /// users(id int PK, name varchar(100) NOT NULL DEFAULT '', email
    /// varchar(255), age int DEFAULT 0), orgs(id), an index on users.email.
    fn model() -> Schema {
        let column = |name: &str, data_type: &str, nullable: bool, default: Option<&str>| Column {
            name: name.into(),
            data_type: data_type.into(),
            nullable,
            default: default.map(Into::into),
            drop_at: None,
        };
        let mut users = Table::new("users");
        users.columns = vec![
            column("id", "int", false, None),
            column("name", "varchar(100)", false, Some("''")),
            column("email", "varchar(255)", true, None),
            column("age", "int", true, Some("0")),
        ];
        users.primary_key = vec!["id".into()];
        users.constraints.insert(
            "users_pkey".into(),
            Constraint {
                name: "users_pkey".into(),
                kind: ConstraintKind::PrimaryKey {
                    columns: vec!["id".into()],
                },
                validated: true,
            },
        );
        let mut orgs = Table::new("orgs");
        orgs.columns = vec![column("id", "int", false, None)];
        let mut schema = Schema {
            namespace: Some("public".into()),
            ..Schema::default()
        };
        schema.tables.insert("users".into(), users);
        schema.tables.insert("orgs".into(), orgs);
        schema.indexes.insert(
            "users_email_idx".into(),
            Index {
                name: "users_email_idx".into(),
                table: "users".into(),
                keys: vec!["\"email\"".into()],
                columns: vec!["email".into()],
                unique: false,
                predicate: None,
                drop_at: None,
            },
        );
        schema
    }

    fn spec(
        name: &str,
        data_type: &str,
        nullable: bool,
        default: Option<(&str, bool)>,
    ) -> ColumnSpec {
        ColumnSpec {
            name: name.into(),
            data_type: data_type.into(),
            nullable,
            default: default.map(|(sql, volatile)| DefaultExpr {
                sql: sql.into(),
                volatile,
            }),
            extra: vec![],
        }
    }

    fn s(v: &str) -> String {
        v.to_string()
    }

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn add_column(column: ColumnSpec) -> Operation {
        Operation::AddColumn {
            table: s("users"),
            column,
        }
    }

    fn retype(column: &str, new_type: &str, using: Option<&str>, written_as: &str) -> Operation {
        Operation::AlterColumnType {
            table: s("users"),
            column: s(column),
            new_type: s(new_type),
            using: using.map(s),
            written_as: s(written_as),
        }
    }

    fn index(name: &str, table: &str, keys: &[&str], columns: &[&str]) -> Operation {
        Operation::CreateIndex {
            name: s(name),
            table: s(table),
            keys: cols(keys),
            columns: cols(columns),
            unique: false,
            concurrently: false,
            method: None,
            predicate: None,
        }
    }

    #[test]
    fn statements_lower_to_operations() {
        let users = || s("users");
        let email = || s("email");
        #[rustfmt::skip]
        let cases: Vec<(EngineKind, &str, Operation)> = vec![
            (Postgres, "ALTER TABLE users ADD COLUMN note text", add_column(spec("note", "TEXT", true, None))),
            (Postgres, "ALTER TABLE users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid()",
                add_column(spec("token", "UUID", false, Some(("gen_random_uuid()", true))))),
            (Postgres, "ALTER TABLE users ADD COLUMN score int DEFAULT 0",
                add_column(spec("score", "INT", true, Some(("0", false))))),
            (Postgres, "ALTER TABLE users ADD COLUMN seq bigserial",
                add_column(spec("seq", "bigserial", true, Some(("nextval('users_seq_seq'::regclass)", true))))),
            (Postgres, "ALTER TABLE users ADD COLUMN seen timestamptz DEFAULT CURRENT_TIMESTAMP",
                add_column(spec("seen", "TIMESTAMPTZ", true, Some(("CURRENT_TIMESTAMP", false))))),
            (Sqlite, "ALTER TABLE users ADD COLUMN seen text DEFAULT CURRENT_TIMESTAMP",
                add_column(spec("seen", "TEXT", true, Some(("CURRENT_TIMESTAMP", true))))),
            (Mysql, "ALTER TABLE users ADD COLUMN uid char(36) DEFAULT (uuid())",
                add_column(spec("uid", "CHAR(36)", true, Some(("(uuid())", true))))),
            (Postgres, "ALTER TABLE users ADD key text", add_column(spec("key", "TEXT", true, None))),
            (Postgres, "ALTER TABLE \"Users\" ADD COLUMN \"Note\" TEXT",
                Operation::AddColumn { table: s("Users"), column: spec("Note", "TEXT", true, None) }),
            (Postgres, "ALTER TABLE public.Users DROP COLUMN Email", Operation::DropColumn { table: users(), column: email() }),
            (Postgres, "ALTER TABLE users RENAME COLUMN name TO full_name",
                Operation::RenameColumn { table: users(), from: s("name"), to: s("full_name") }),
            (Postgres, "ALTER TABLE users RENAME TO people", Operation::RenameTable { from: users(), to: s("people") }),
            (Postgres, "ALTER TABLE users ALTER COLUMN age TYPE bigint USING age::bigint",
                retype("age", "BIGINT", Some("age::BIGINT"), "ALTER COLUMN TYPE")),
            (Sqlite, "ALTER TABLE users ALTER COLUMN age SET DATA TYPE bigint", retype("age", "BIGINT", None, "ALTER COLUMN TYPE")),
            (Postgres, "ALTER TABLE users ALTER COLUMN email SET NOT NULL", Operation::SetNotNull { table: users(), column: email() }),
            (Postgres, "ALTER TABLE users ALTER COLUMN email DROP NOT NULL", Operation::DropNotNull { table: users(), column: email() }),
            (Postgres, "ALTER TABLE users ALTER COLUMN email SET DEFAULT 'x'",
                Operation::SetDefault { table: users(), column: email(), default: DefaultExpr { sql: s("'x'"), volatile: false } }),
            (Postgres, "ALTER TABLE users ALTER COLUMN age SET DEFAULT (random() * 10)::int",
                Operation::SetDefault { table: users(), column: s("age"),
                    default: DefaultExpr { sql: s("(random() * 10)::INT"), volatile: true } }),
            (Postgres, "ALTER TABLE users ALTER COLUMN age DROP DEFAULT", Operation::DropDefault { table: users(), column: s("age") }),
            (Mysql, "ALTER TABLE users ALTER COLUMN age SET DEFAULT 1",
                Operation::SetDefault { table: users(), column: s("age"), default: DefaultExpr { sql: s("1"), volatile: false } }),
            // MODIFY / CHANGE, compared with the model's column.
            (Mysql, "ALTER TABLE users MODIFY COLUMN email varchar(500)", retype("email", "VARCHAR(500)", None, "MODIFY")),
            (Mysql, "ALTER TABLE users MODIFY email VARCHAR(255) NOT NULL", Operation::SetNotNull { table: users(), column: email() }),
            (Mysql, "ALTER TABLE users MODIFY COLUMN name varchar(100) NOT NULL DEFAULT 'anon'",
                Operation::SetDefault { table: users(), column: s("name"), default: DefaultExpr { sql: s("'anon'"), volatile: false } }),
            (Mysql, "ALTER TABLE users MODIFY COLUMN age integer", Operation::DropDefault { table: users(), column: s("age") }),
            (Mysql, "ALTER TABLE users MODIFY COLUMN age int DEFAULT 0 NOT NULL", Operation::SetNotNull { table: users(), column: s("age") }),
            (Mysql, "ALTER TABLE users MODIFY COLUMN name varchar(100) NULL DEFAULT ''", Operation::DropNotNull { table: users(), column: s("name") }),
            (Mysql, "ALTER TABLE users MODIFY COLUMN id bigint AUTO_INCREMENT", retype("id", "BIGINT AUTO_INCREMENT", None, "MODIFY")),
            (Mysql, "ALTER TABLE users CHANGE COLUMN name full_name varchar(100) NOT NULL DEFAULT ''",
                Operation::RenameColumn { table: users(), from: s("name"), to: s("full_name") }),
            (Mysql, "ALTER TABLE users CHANGE email email varchar(300)", retype("email", "VARCHAR(300)", None, "CHANGE")),
            (Mysql, "ALTER TABLE users MODIFY COLUMN ghost int", retype("ghost", "INT", None, "MODIFY")),
            // Constraints.
            (Postgres, "ALTER TABLE users ADD CONSTRAINT users_org_fk FOREIGN KEY (age) REFERENCES orgs (id) NOT VALID",
                Operation::AddForeignKey { table: users(), name: s("users_org_fk"), not_valid: true,
                    fk: ForeignKeySpec { columns: cols(&["age"]), ref_table: s("orgs"), ref_columns: cols(&["id"]), actions: vec![] } }),
            (Mysql, "ALTER TABLE users ADD FOREIGN KEY (age) REFERENCES orgs (id) ON DELETE SET NULL ON UPDATE CASCADE",
                Operation::AddForeignKey { table: users(), name: s("users_age_fkey"), not_valid: false,
                    fk: ForeignKeySpec { columns: cols(&["age"]), ref_table: s("orgs"), ref_columns: cols(&["id"]),
                        actions: cols(&["ON DELETE SET NULL", "ON UPDATE CASCADE"]) } }),
            (Postgres, "ALTER TABLE users ADD CONSTRAINT age_positive CHECK (age > 0) NOT VALID",
                Operation::AddCheck { table: users(), name: s("age_positive"), expr: s("age > 0"), not_valid: true }),
            (Postgres, "ALTER TABLE users ADD CHECK (age >= 0 AND age < 200)",
                Operation::AddCheck { table: users(), name: s("users_age_check"), expr: s("age >= 0 AND age < 200"), not_valid: false }),
            (Sqlite, "ALTER TABLE users ADD CHECK (age < id)",
                Operation::AddCheck { table: users(), name: s("users_check"), expr: s("age < id"), not_valid: false }),
            (Postgres, "ALTER TABLE users ADD UNIQUE (email)",
                Operation::AddUnique { table: users(), name: s("users_email_key"), columns: cols(&["email"]) }),
            (Postgres, "ALTER TABLE users ADD CONSTRAINT users_pkey2 PRIMARY KEY (id)",
                Operation::AddPrimaryKey { table: users(), name: Some(s("users_pkey2")), columns: cols(&["id"]) }),
            (Postgres, "ALTER TABLE orgs ADD PRIMARY KEY (id)",
                Operation::AddPrimaryKey { table: s("orgs"), name: None, columns: cols(&["id"]) }),
            (Postgres, "ALTER TABLE users VALIDATE CONSTRAINT users_org_fk",
                Operation::ValidateConstraint { table: users(), name: s("users_org_fk") }),
            (Postgres, "ALTER TABLE users DROP CONSTRAINT users_org_fk",
                Operation::DropConstraint { table: users(), name: s("users_org_fk") }),
            (Mysql, "ALTER TABLE users DROP FOREIGN KEY users_org_fk",
                Operation::DropConstraint { table: users(), name: s("users_org_fk") }),
            (Mysql, "ALTER TABLE users DROP PRIMARY KEY", Operation::DropConstraint { table: users(), name: s("users_pkey") }),
            (Mysql, "ALTER TABLE orgs DROP PRIMARY KEY", Operation::DropConstraint { table: s("orgs"), name: s("PRIMARY") }),
            // Tables, indexes, views.
            (Mysql, "RENAME TABLE users TO people", Operation::RenameTable { from: users(), to: s("people") }),
            (Postgres, "DROP TABLE users", Operation::DropTable { table: users() }),
            (Postgres, "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_lower_email ON users USING btree \
                        (lower(email), name DESC) WHERE deleted_at IS NULL",
                Operation::CreateIndex { name: s("users_lower_email"), table: users(),
                    keys: cols(&["lower(email)", "\"name\" DESC"]), columns: cols(&["name"]), unique: true,
                    concurrently: true, method: Some(s("BTREE")), predicate: Some(s("deleted_at IS NULL")) }),
            (Postgres, "CREATE INDEX ON users (age)", index("users_age_idx", "users", &["\"age\""], &["age"])),
            (Mysql, "CREATE INDEX users_age ON users (age)", index("users_age", "users", &["`age`"], &["age"])),
            (Mysql, "ALTER TABLE users ADD INDEX users_age (age)", index("users_age", "users", &["`age`"], &["age"])),
            (Postgres, "DROP INDEX users_email_idx", Operation::DropIndex { name: s("users_email_idx"), table: Some(users()) }),
            (Sqlite, "DROP INDEX nowhere_idx", Operation::DropIndex { name: s("nowhere_idx"), table: None }),
            (Mysql, "DROP INDEX users_email_idx ON users", Operation::DropIndex { name: s("users_email_idx"), table: Some(users()) }),
            (Mysql, "ALTER TABLE users DROP INDEX users_email_idx", Operation::DropIndex { name: s("users_email_idx"), table: Some(users()) }),
            (Postgres, "CREATE OR REPLACE VIEW adults AS SELECT id FROM users WHERE age >= 18",
                Operation::CreateView { name: s("adults"), or_replace: true, sql: s("CREATE OR REPLACE VIEW adults AS SELECT id FROM users WHERE age >= 18") }),
            (Postgres, "DROP VIEW adults", Operation::DropView { name: s("adults") }),
        ];
        for (engine, sql, expected) in cases {
            assert_eq!(lower_sql(engine, sql), Ok(expected), "{engine}: {sql}");
        }
    }

    #[test]
    fn statements_an_engine_would_not_accept_are_refused() {
        #[rustfmt::skip]
        let cases: Vec<(EngineKind, &str, &str, &str)> = vec![
            // (engine, statement, in the message, in the help)
            (Mysql, "ALTER TABLE users ALTER COLUMN email SET NOT NULL", "MySQL has no `ALTER COLUMN … SET NOT NULL`",
                "use MODIFY COLUMN with the full definition: ALTER TABLE `users` MODIFY COLUMN `email` <type>"),
            (Mysql, "ALTER TABLE users ALTER COLUMN email DROP NOT NULL", "MySQL has no `ALTER COLUMN … DROP NOT NULL`", "MODIFY COLUMN"),
            (Mysql, "ALTER TABLE users ALTER COLUMN email TYPE text", "MySQL has no `ALTER COLUMN … TYPE`", "MODIFY COLUMN"),
            (Postgres, "ALTER TABLE users MODIFY COLUMN email text", "`MODIFY COLUMN` is MySQL syntax; PostgreSQL does not accept it",
                "ALTER COLUMN c TYPE"),
            (Sqlite, "ALTER TABLE users CHANGE COLUMN email mail text", "`CHANGE COLUMN` is MySQL syntax; SQLite does not accept it",
                "RENAME COLUMN a TO b"),
            (Mysql, "ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (age) REFERENCES orgs (id) NOT VALID",
                "`NOT VALID` is PostgreSQL syntax; MySQL does not accept it", "remove NOT VALID"),
            (Sqlite, "ALTER TABLE users ADD CONSTRAINT c CHECK (age > 0) NOT VALID",
                "`NOT VALID` is PostgreSQL syntax; SQLite does not accept it", "remove NOT VALID"),
            (Postgres, "ALTER TABLE users ADD CONSTRAINT u UNIQUE (email) NOT VALID", "only on foreign keys and CHECK", "remove NOT VALID"),
            (Mysql, "CREATE INDEX CONCURRENTLY i ON users (age)", "`CREATE INDEX CONCURRENTLY` is PostgreSQL syntax; MySQL",
                "ALGORITHM=INPLACE, LOCK=NONE"),
            (Sqlite, "CREATE INDEX CONCURRENTLY i ON users (age)", "SQLite does not accept it", "remove CONCURRENTLY"),
            (Postgres, "ALTER TABLE users ADD INDEX users_age (age)",
                "`ADD INDEX …` is MySQL syntax; PostgreSQL reads it as adding a column named INDEX",
                "write `CREATE INDEX <name> ON \"users\" (<columns>)`"),
            (Sqlite, "ALTER TABLE users ADD KEY k (email)", "SQLite reads it as adding a column named KEY", "CREATE INDEX <name>"),
            (Postgres, "ALTER TABLE users ADD COLUMN a int, ADD COLUMN b int", "has 2 operations",
                "write one change per ALTER operation, so each is classified and phased on its own"),
            (Mysql, "ALTER TABLE users ADD COLUMN a int, ALGORITHM=INPLACE", "zerodown chooses ALGORITHM and LOCK", "remove the clause"),
            (Postgres, "DROP TABLE users, orgs", "`DROP TABLE` names 2 tables", "one table per change"),
            (Postgres, "DROP TABLE users CASCADE", "CASCADE", "drop the dependent constraints and views first"),
            (Postgres, "ALTER TABLE users DROP COLUMN age CASCADE", "CASCADE", "without CASCADE"),
            (Mysql, "RENAME TABLE users TO people, orgs TO teams", "renames several tables", "one table per change"),
            (Postgres, "ALTER TABLE app.users ADD COLUMN note text", "`app.users` is in schema `app`", "search_path%3Dapp"),
            (Postgres, "DROP TABLE app.users", "`app.users` is in schema `app`", "search_path%3Dapp"),
            (Mysql, "CREATE INDEX i ON shop.users (age)", "`shop.users` is in schema `shop`", "`shop` as the URL's database"),
            (Postgres, "ALTER TABLE users ADD CONSTRAINT f FOREIGN KEY (id) REFERENCES app.orgs (id)", "`app.orgs` is in schema `app`", "unqualified"),
            (Postgres, "ALTER TABLE db.public.users ADD COLUMN a int", "names a database and a schema", "unqualified"),
            (Mysql, "ALTER TABLE users ADD COLUMN ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc int", "64 characters MySQL accepts", "at most 64 characters"),
            (Postgres, "ALTER TABLE users RENAME COLUMN age TO ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc", "63 bytes PostgreSQL keeps", "at most 63 bytes"),
            (Postgres, "RENAME TABLE users TO people", "PostgreSQL does not accept it", "ALTER TABLE a RENAME TO b"),
            (Mysql, "DROP INDEX users_email_idx", "MySQL's `DROP INDEX` names the table", "ON <table>"),
            (Postgres, "ALTER TABLE users ADD COLUMN org int REFERENCES orgs (id)", "declares a foreign key inline",
                "then the constraint as its own change"),
            (Mysql, "ALTER TABLE users ADD COLUMN code int UNIQUE", "declares a UNIQUE constraint inline", "ADD CONSTRAINT"),
            (Mysql, "ALTER TABLE users ADD COLUMN code int AFTER name", "column positions are not kept", "remove the position"),
            (Mysql, "ALTER TABLE users MODIFY COLUMN name varchar(100)",
                "changes the nullability and the default of users.name at once",
                "ALTER TABLE `users` MODIFY COLUMN `name` varchar(100) NOT NULL\n  - ALTER TABLE `users` MODIFY COLUMN `name` varchar(100)"),
            (Mysql, "ALTER TABLE users CHANGE name full_name text", "changes the name, the type, the nullability and the default of users.name",
                "ALTER TABLE `users` RENAME COLUMN `name` TO `full_name`\n  - ALTER TABLE `users` MODIFY COLUMN `full_name` TEXT NOT NULL DEFAULT ''\n  \
                 - ALTER TABLE `users` MODIFY COLUMN `full_name` TEXT NOT NULL\n  - ALTER TABLE `users` MODIFY COLUMN `full_name` TEXT"),
            (Mysql, "ALTER TABLE users MODIFY COLUMN email VARCHAR(255)", "restates users.email as it already is", "changes nothing"),
            (Mysql, "ALTER TABLE users MODIFY COLUMN email VARCHAR(255) COMMENT 'mail'", "only changes column options (COMMENT 'mail')",
                "- raw:"),
            (Postgres, "ALTER TABLE users ADD CONSTRAINT u UNIQUE USING INDEX users_email_idx", "attaching an existing index",
                "zerodown builds the index online"),
            (Postgres, "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql",
                "`CREATE FUNCTION` is not a change zerodown can classify", "phase: expand|migrate|contract"),
            (Postgres, "INSERT INTO users (id) VALUES (1)", "`INSERT` changes data, not the schema",
                "data changes go in `backfills:`"),
            (Mysql, "UPDATE users SET age = 0 WHERE age IS NULL", "`UPDATE` changes data", "`phase: migrate`"),
            (Postgres, "SELECT 1", "`SELECT` is not a change zerodown can classify", "- raw: \"SELECT 1\""),
            (Postgres, "TRUNCATE users", "`TRUNCATE` is not a change zerodown can classify", "- raw: \"TRUNCATE users\""),
            (Postgres, "DROP SEQUENCE users_id_seq", "`DROP SEQUENCE` is not a change", "- raw:"),
            (Postgres, "ALTER TABLE users RENAME CONSTRAINT a TO b", "`ALTER TABLE … RENAME CONSTRAINT` is not a change", "- raw:"),
            (Postgres, "CREATE TABLE copy AS SELECT * FROM users", "`CREATE TABLE … AS SELECT`", "- raw:"),
            (Postgres, "CREATE MATERIALIZED VIEW m AS SELECT 1", "`CREATE MATERIALIZED VIEW`", "- raw:"),
            (Postgres, "CREATE INDEX i ON users (email) INCLUDE (name)", "zerodown would not keep them", "- raw:"),
            (Postgres, "CREATE INDEX i ON users (email) WITH (fillfactor = 70)", "zerodown would not keep them", "- raw:"),
            (Postgres, "ALTER TABLE users ADD CONSTRAINT u UNIQUE NULLS NOT DISTINCT (email)", "zerodown would not keep them", "- raw:"),
            (Postgres, "ALTER TABLE users ADD CONSTRAINT u UNIQUE (email) DEFERRABLE", "zerodown would not keep them", "- raw:"),
            (Postgres, "CREATE TABLE t (a int PRIMARY KEY, b int, PRIMARY KEY (b))", "more than one primary key", "keep one"),
        ];
        for (engine, sql, message, help) in cases {
            let err = lower_sql(engine, sql).expect_err(sql);
            assert!(
                err.message.contains(message),
                "{engine}: {sql}\n  message: {}",
                err.message
            );
            assert!(
                err.help.contains(help),
                "{engine}: {sql}\n  help: {}",
                err.help
            );
        }
    }

    #[test]
    fn create_table_collects_columns_keys_and_named_constraints() {
        let sql = "CREATE TABLE members (id serial PRIMARY KEY, email text NOT NULL UNIQUE, \
                   org_id int REFERENCES orgs (id) ON DELETE CASCADE, age int CHECK (age > 0), \
                   created_at timestamptz NOT NULL DEFAULT now(), a int, b int, UNIQUE (a, b), CHECK (a < b), \
                   CONSTRAINT b_small CHECK (b < 10))";
        let Ok(Operation::CreateTable {
            table,
            columns,
            primary_key,
            constraints,
            references,
            sql: rendered,
            if_not_exists,
        }) = lower_sql(Postgres, sql)
        else {
            panic!("not a CreateTable");
        };
        assert_eq!(table, "members");
        assert!(!if_not_exists);
        assert!(rendered.starts_with("CREATE TABLE members (id serial PRIMARY KEY"));
        assert_eq!(primary_key, cols(&["id"]));
        assert_eq!(references, cols(&["orgs"]));
        assert_eq!(
            columns[0],
            spec(
                "id",
                "serial",
                false,
                Some(("nextval('members_id_seq'::regclass)", true))
            )
        );
        assert_eq!(columns[1], spec("email", "TEXT", false, None));
        assert_eq!(
            columns[4],
            spec("created_at", "TIMESTAMPTZ", false, Some(("now()", false)))
        );
        let named: Vec<(&str, &ConstraintKind)> = constraints
            .iter()
            .map(|c| (c.name.as_str(), &c.kind))
            .collect();
        assert_eq!(
            named,
            vec![
                (
                    "members_pkey",
                    &ConstraintKind::PrimaryKey {
                        columns: cols(&["id"])
                    }
                ),
                (
                    "members_email_key",
                    &ConstraintKind::Unique {
                        columns: cols(&["email"])
                    }
                ),
                (
                    "members_org_id_fkey",
                    &ConstraintKind::ForeignKey {
                        columns: cols(&["org_id"]),
                        ref_table: s("orgs"),
                        ref_columns: cols(&["id"])
                    }
                ),
                (
                    "members_age_check",
                    &ConstraintKind::Check { expr: s("age > 0") }
                ),
                (
                    "members_a_b_key",
                    &ConstraintKind::Unique {
                        columns: cols(&["a", "b"])
                    }
                ),
                ("members_check", &ConstraintKind::Check { expr: s("a < b") }),
                ("b_small", &ConstraintKind::Check { expr: s("b < 10") }),
            ]
        );
        assert!(constraints.iter().all(|c| c.validated));
    }

    #[test]
    fn mysql_create_table_names_constraints_as_mysql_does_and_keeps_its_keys() {
        let sql = "CREATE TABLE IF NOT EXISTS `orders` (`id` int NOT NULL AUTO_INCREMENT, user_id int, code int, note text, \
                   PRIMARY KEY (`id`), UNIQUE KEY (code), KEY idx_user (user_id), KEY (code, user_id), FULLTEXT KEY ft (note), \
                   FOREIGN KEY (user_id) REFERENCES users (id), CHECK (code > 0)) ENGINE=InnoDB";
        let stmt = parse(Mysql, sql);
        let Ok(Operation::CreateTable {
            columns,
            constraints,
            if_not_exists,
            ..
        }) = lower(&stmt, Mysql, &model())
        else {
            panic!("not a CreateTable");
        };
        assert!(if_not_exists);
        assert_eq!(columns[0].extra, cols(&["AUTO_INCREMENT"]));
        let names: Vec<&str> = constraints.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            vec!["PRIMARY", "code", "orders_ibfk_1", "orders_chk_1"]
        );
        let Statement::CreateTable(create) = &stmt else {
            unreachable!()
        };
        assert_eq!(
            inline_indexes(create, Mysql, &Schema::default()),
            vec![
                index("idx_user", "orders", &["`user_id`"], &["user_id"]),
                index(
                    "code_2",
                    "orders",
                    &["`code`", "`user_id`"],
                    &["code", "user_id"]
                ),
                Operation::CreateIndex {
                    name: s("ft"),
                    table: s("orders"),
                    keys: cols(&["`note`"]),
                    columns: cols(&["note"]),
                    unique: false,
                    concurrently: false,
                    method: Some(s("FULLTEXT")),
                    predicate: None,
                },
            ]
        );
    }

    #[test]
    fn volatility_of_defaults() {
        #[rustfmt::skip]
        let cases = [
            (Postgres, "42", false), (Postgres, "'active'", false), (Postgres, "'{}'::jsonb", false),
            (Postgres, "CAST('1' AS bigint)", false), (Postgres, "now()", false), (Postgres, "CURRENT_TIMESTAMP", false),
            (Postgres, "CURRENT_DATE", false), (Postgres, "-1", false), (Postgres, "lower('A')", false),
            (Postgres, "random()", true), (Postgres, "gen_random_uuid()", true), (Postgres, "uuid_generate_v4()", true),
            (Postgres, "clock_timestamp()", true), (Postgres, "nextval('s'::regclass)", true),
            (Postgres, "md5(random()::text)", true), (Postgres, "my_function()", true),
            (Postgres, "(SELECT max(id) FROM users)", true),
            (Mysql, "(uuid())", true), (Mysql, "rand()", true), (Mysql, "CURRENT_TIMESTAMP", false), (Mysql, "0", false),
            (Postgres, "sys_guid()", true),
            (Sqlite, "CURRENT_TIMESTAMP", true), (Sqlite, "'x'", false), (Sqlite, "random()", true),
        ];
        for (engine, expr, volatile) in cases {
            let parsed = Parser::new(&*engine.sql_dialect())
                .try_with_sql(expr)
                .unwrap()
                .parse_expr()
                .unwrap();
            assert_eq!(is_volatile(&parsed, engine), volatile, "{engine}: {expr}");
        }
    }

    #[test]
    fn type_spellings() {
        #[rustfmt::skip]
        let cases = [
            ("int", "INTEGER", true), ("int(11)", "int", true), ("int unsigned", "INT(10) UNSIGNED", true),
            ("character varying(20)", "VARCHAR(20)", true), ("varchar(20)", "varchar(30)", false),
            ("timestamp(6) with time zone", "TIMESTAMPTZ(6)", true), ("timestamp", "timestamptz", false),
            ("numeric(10, 2)", "DECIMAL(10,2)", true), ("bool", "boolean", true), ("int", "bigint", false),
        ];
        for (a, b, same) in cases {
            assert_eq!(same_type(a, b), same, "{a} vs {b}");
        }
    }

    #[test]
    fn guards_skip_what_is_already_so() {
        let schema = model();
        #[rustfmt::skip]
        let cases = [
            (Postgres, "CREATE TABLE IF NOT EXISTS users (id int)", true),
            (Postgres, "CREATE TABLE IF NOT EXISTS people (id int)", false),
            (Postgres, "CREATE TABLE users (id int)", false),
            (Mysql, "DROP TABLE IF EXISTS people", true),
            (Mysql, "DROP TABLE IF EXISTS users", false),
            (Postgres, "CREATE INDEX IF NOT EXISTS users_email_idx ON users (email)", true),
            (Postgres, "DROP INDEX IF EXISTS gone_idx", true),
            (Postgres, "ALTER TABLE users ADD COLUMN IF NOT EXISTS email text", true),
            (Postgres, "ALTER TABLE users DROP COLUMN IF EXISTS gone", true),
            (Postgres, "ALTER TABLE IF EXISTS people ADD COLUMN x int", true),
        ];
        for (engine, sql, skipped) in cases {
            assert_eq!(
                guard_satisfied(&parse(engine, sql), &schema),
                skipped,
                "{sql}"
            );
        }
    }
}
