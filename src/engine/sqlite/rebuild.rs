//! SQLite's table rebuild, the procedure of "Making Other Kinds Of Table
//! Schema Changes" (<https://www.sqlite.org/lang_altertable.html#otheralter>)
//! for what `ALTER TABLE` cannot do: NOT NULL, defaults, CHECK and foreign
//! keys added or dropped, a constrained column dropped.
//!
//! The table's definition is read from the live `sqlite_schema` when the
//! step runs, parsed with sqlparser, and edited as an AST: whatever the
//! live table has that the plan's model does not (a collation, an inline
//! constraint, STRICT) is kept. Then, in one `BEGIN IMMEDIATE`
//! transaction: the new table under a temporary name, every row copied,
//! the old table dropped, the new one renamed, indexes, triggers and the
//! views that name the table recreated from their saved SQL, the
//! AUTOINCREMENT counter carried over, `PRAGMA foreign_key_check`. A crash
//! leaves the old table or the new one, never half of either. Foreign key
//! enforcement is switched off around the transaction (it cannot change
//! inside one), as the procedure says, so that dropping the old table does
//! not cascade to the rows that reference it.

use std::ops::ControlFlow;

use rusqlite::{Connection, OptionalExtension};
use sqlparser::ast::{
    visit_expressions, CheckConstraint, ColumnOption, ColumnOptionDef, CreateTable, Expr, Ident,
    ObjectName, Statement, TableConstraint, UnaryOperator,
};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use super::{begin_immediate, commit, failed, rollback, sql_error, type_key, Attempt};
use crate::dialect::EngineKind;
use crate::engine::EngineError;
use crate::ops::{generated_name, Operation, RebuildEdit, RebuildStep};
use crate::parse::lower;
use crate::schema::Schema;

const ENGINE: EngineKind = EngineKind::Sqlite;

fn q(ident: &str) -> String {
    ENGINE.quote_ident(ident)
}

/// An identifier as the rebuilt `CREATE TABLE` writes it: always quoted.
fn quoted(ident: &str) -> Ident {
    Ident::with_quote('"', ident)
}

fn parse_expr(sql: &str) -> Result<Expr, String> {
    let dialect = ENGINE.sql_dialect();
    let mut parser = Parser::new(&*dialect)
        .try_with_sql(sql)
        .map_err(|e| format!("cannot parse `{sql}`: {e}"))?;
    let expr = parser
        .parse_expr()
        .map_err(|e| format!("cannot parse `{sql}`: {e}"))?;
    if parser.peek_token().token != Token::EOF {
        return Err(format!("`{sql}` is more than one expression"));
    }
    Ok(expr)
}

/// SQLite's `DEFAULT` takes a literal, a signed number or an expression in
/// parentheses: anything else is put in parentheses.
fn default_expr(sql: &str) -> Result<Expr, String> {
    let expr = parse_expr(sql)?;
    let plain = match &expr {
        Expr::Value(_) | Expr::Nested(_) => true,
        Expr::UnaryOp {
            op: UnaryOperator::Minus | UnaryOperator::Plus,
            expr,
        } => matches!(**expr, Expr::Value(_)),
        _ => false,
    };
    Ok(if plain {
        expr
    } else {
        Expr::Nested(Box::new(expr))
    })
}

/// Whether an expression names the column.
fn mentions(expr: &Expr, column: &str) -> bool {
    let found = visit_expressions(expr, |e| {
        let hit = match e {
            Expr::Identifier(ident) => ident.value.eq_ignore_ascii_case(column),
            Expr::CompoundIdentifier(parts) => parts
                .last()
                .is_some_and(|p| p.value.eq_ignore_ascii_case(column)),
            _ => false,
        };
        if hit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    found.is_break()
}

fn column_index(table: &CreateTable, column: &str) -> Option<usize> {
    table
        .columns
        .iter()
        .position(|c| c.name.value.eq_ignore_ascii_case(column))
}

fn column_mut<'a>(
    table: &'a mut CreateTable,
    column: &str,
) -> Result<&'a mut Vec<ColumnOptionDef>, String> {
    let i = column_index(table, column)
        .ok_or_else(|| format!("the live table has no column {column}"))?;
    Ok(&mut table.columns[i].options)
}

/// The constraint names the model gives the table (declared names, else
/// the default ones), as `crate::engine::sqlite` names them when it reads
/// the table.
fn model_constraint_names(table: &CreateTable) -> Result<Vec<String>, String> {
    match lower(
        &Statement::CreateTable(table.clone()),
        ENGINE,
        &Schema::default(),
    ) {
        Ok(Operation::CreateTable { constraints, .. }) => {
            Ok(constraints.into_iter().map(|c| c.name).collect())
        }
        Ok(_) => Err("the table's SQL is not a CREATE TABLE".to_string()),
        Err(unsupported) => Err(unsupported.message),
    }
}

fn has_name(names: &[String], name: &str) -> bool {
    names.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Where a constraint sits in a `CREATE TABLE`.
#[derive(Clone, Copy)]
enum Place {
    Table(usize),
    Column(usize, usize),
}

fn remove_at(table: &mut CreateTable, place: Place) {
    match place {
        Place::Table(i) => {
            table.constraints.remove(i);
        }
        Place::Column(c, o) => {
            table.columns[c].options.remove(o);
        }
    }
}

/// Drop the constraint the model calls `name`: the one whose removal takes
/// that name away, so that unnamed constraints are found by their default
/// names. Absent already: nothing to do.
fn drop_constraint(table: &mut CreateTable, name: &str) -> Result<(), String> {
    let before = model_constraint_names(table)?;
    if !has_name(&before, name) {
        return Ok(());
    }
    let mut places: Vec<Place> = (0..table.constraints.len()).map(Place::Table).collect();
    for (c, column) in table.columns.iter().enumerate() {
        for (o, option) in column.options.iter().enumerate() {
            if matches!(
                option.option,
                ColumnOption::PrimaryKey(_)
                    | ColumnOption::Unique(_)
                    | ColumnOption::ForeignKey(_)
                    | ColumnOption::Check(_)
            ) {
                places.push(Place::Column(c, o));
            }
        }
    }
    for place in places {
        let mut candidate = table.clone();
        remove_at(&mut candidate, place);
        let after = model_constraint_names(&candidate)?;
        if !has_name(&after, name) && after.len() + 1 == before.len() {
            *table = candidate;
            return Ok(());
        }
    }
    Err(format!(
        "cannot find constraint {name} in the table's CREATE TABLE"
    ))
}

fn constraint_uses(constraint: &TableConstraint, column: &str) -> bool {
    let named = |idents: &[Ident]| idents.iter().any(|i| i.value.eq_ignore_ascii_case(column));
    match constraint {
        TableConstraint::Unique(u) => u.columns.iter().any(|c| mentions(&c.column.expr, column)),
        TableConstraint::PrimaryKey(p) => {
            p.columns.iter().any(|c| mentions(&c.column.expr, column))
        }
        TableConstraint::ForeignKey(f) => named(&f.columns),
        TableConstraint::Check(c) => mentions(&c.expr, column),
        // Not SQLite's: kept if ever parsed, and SQLite says if it minds.
        TableConstraint::Index(_)
        | TableConstraint::FulltextOrSpatial(_)
        | TableConstraint::PrimaryKeyUsingIndex(_)
        | TableConstraint::UniqueUsingIndex(_)
        | TableConstraint::Exclude(_) => false,
    }
}

/// Whether an existing constraint of the table has this name.
fn declared(table: &CreateTable, name: &str) -> Result<bool, String> {
    Ok(has_name(&model_constraint_names(table)?, name))
}

fn apply(table: &mut CreateTable, edit: &RebuildEdit) -> Result<(), String> {
    let is = |option: &ColumnOptionDef, f: fn(&ColumnOption) -> bool| f(&option.option);
    match edit {
        RebuildEdit::SetNotNull { column } => {
            let options = column_mut(table, column)?;
            if !options
                .iter()
                .any(|o| is(o, |o| matches!(o, ColumnOption::NotNull)))
            {
                options.retain(|o| !matches!(o.option, ColumnOption::Null));
                options.push(ColumnOptionDef {
                    name: None,
                    option: ColumnOption::NotNull,
                });
            }
        }
        RebuildEdit::DropNotNull { column } => {
            column_mut(table, column)?.retain(|o| !matches!(o.option, ColumnOption::NotNull));
        }
        RebuildEdit::SetDefault { column, default } => {
            let expr = default_expr(default)?;
            let options = column_mut(table, column)?;
            let current = options.iter().find_map(|o| match &o.option {
                ColumnOption::Default(e) => Some(e),
                _ => None,
            });
            if current != Some(&expr) {
                options.retain(|o| !matches!(o.option, ColumnOption::Default(_)));
                options.push(ColumnOptionDef {
                    name: None,
                    option: ColumnOption::Default(expr),
                });
            }
        }
        RebuildEdit::DropDefault { column } => {
            column_mut(table, column)?.retain(|o| !matches!(o.option, ColumnOption::Default(_)));
        }
        RebuildEdit::AddCheck { name, expr } => {
            if !declared(table, name)? {
                table
                    .constraints
                    .push(TableConstraint::Check(CheckConstraint {
                        name: Some(quoted(name)),
                        expr: Box::new(parse_expr(expr)?),
                        no_inherit: false,
                        enforced: None,
                    }));
            }
        }
        RebuildEdit::AddForeignKey {
            name,
            columns,
            ref_table,
            ref_columns,
            actions,
        } => {
            if !declared(table, name)? {
                let mut sql = format!(
                    "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {}",
                    q(name),
                    ENGINE.quote_list(columns),
                    q(ref_table)
                );
                if !ref_columns.is_empty() {
                    sql.push_str(&format!(" ({})", ENGINE.quote_list(ref_columns)));
                }
                for action in actions {
                    sql.push(' ');
                    sql.push_str(action);
                }
                let dialect = ENGINE.sql_dialect();
                let constraint = Parser::new(&*dialect)
                    .try_with_sql(&sql)
                    .and_then(|mut p| p.parse_optional_table_constraint())
                    .map_err(|e| format!("cannot parse `{sql}`: {e}"))?
                    .ok_or_else(|| format!("`{sql}` is not a constraint"))?;
                table.constraints.push(constraint);
            }
        }
        RebuildEdit::DropConstraint { name } => drop_constraint(table, name)?,
        RebuildEdit::DropColumn { column } => {
            if let Some(i) = column_index(table, column) {
                table.columns.remove(i);
                table.constraints.retain(|c| !constraint_uses(c, column));
            }
        }
    }
    Ok(())
}

/// The table's `CREATE TABLE` with the edits applied, or `None` when they
/// change nothing (already applied: a rebuild run again is a no-op).
pub(super) fn edited_create_table(
    create_sql: &str,
    edits: &[RebuildEdit],
) -> Result<Option<CreateTable>, String> {
    let dialect = ENGINE.sql_dialect();
    let statements = Parser::parse_sql(&*dialect, create_sql)
        .map_err(|e| format!("cannot parse the table's CREATE TABLE: {e}"))?;
    let original = match statements.as_slice() {
        [Statement::CreateTable(create)] => create,
        _ => return Err("the table's SQL is not one CREATE TABLE".to_string()),
    };
    let mut table = original.clone();
    for edit in edits {
        apply(&mut table, edit)?;
    }
    Ok((table != *original).then_some(table))
}

/// Why the work inside the transaction stopped.
enum Stop {
    /// A statement failed (or was blocked): rolled back by `failed`.
    Statement(String, rusqlite::Error),
    /// The rebuild cannot go on: rolled back, reported as is.
    Refused(EngineError),
}

impl Stop {
    fn at(statement: &str) -> impl FnOnce(rusqlite::Error) -> Stop + '_ {
        move |error| Stop::Statement(statement.to_string(), error)
    }
}

fn run(conn: &Connection, statement: &str) -> Result<(), Stop> {
    conn.execute_batch(statement).map_err(Stop::at(statement))
}

/// Rows of `(name, sql)` from a query with one parameter.
fn named_sql(conn: &Connection, sql: &str, param: &str) -> Result<Vec<(String, String)>, Stop> {
    let mut stmt = conn.prepare(sql).map_err(Stop::at(sql))?;
    let rows = stmt
        .query_map([param], |row| Ok((row.get(0)?, row.get(1)?)))
        .and_then(|rows| rows.collect())
        .map_err(Stop::at(sql));
    rows
}

/// A column as `pragma_table_xinfo` shows it: name, type, NOT NULL, key.
type ColumnInfo = (String, String, bool, i64);

/// The table's stored columns (generated ones are computed, not copied).
fn columns(conn: &Connection, table: &str) -> Result<Vec<ColumnInfo>, Stop> {
    let sql = "SELECT name, type, \"notnull\", pk FROM pragma_table_xinfo(?1) WHERE hidden = 0 ORDER BY cid";
    let mut stmt = conn.prepare(sql).map_err(Stop::at(sql))?;
    let rows = stmt
        .query_map([table], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .and_then(|rows| rows.collect())
        .map_err(Stop::at(sql));
    rows
}

fn refused(statement: &str, message: String) -> Stop {
    Stop::Refused(EngineError::Sql {
        statement: statement.to_string(),
        message,
    })
}

/// The rebuild inside the transaction. `Ok(false)`: the live table already
/// has every edit, nothing was changed.
fn rebuild_in_transaction(conn: &Connection, step: &RebuildStep) -> Result<bool, Stop> {
    let table_sql =
        "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name = ?1 COLLATE NOCASE";
    let (name, create_sql) = named_sql(conn, table_sql, &step.table)?
        .into_iter()
        .next()
        .ok_or_else(|| refused(table_sql, format!("there is no table {}", step.table)))?;
    let Some(mut edited) =
        edited_create_table(&create_sql, &step.edits).map_err(|m| refused(&create_sql, m))?
    else {
        return Ok(false);
    };
    let temporary = generated_name(&["rebuild", &name]);
    edited.name = ObjectName::from(vec![quoted(&temporary)]);
    let create_new = Statement::CreateTable(edited).to_string();

    // What DROP TABLE takes with it, and the views that name the table
    // (dropped and recreated, so that no view points at a missing table
    // while it is swapped), in creation order.
    let indexes = named_sql(
        conn,
        "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?1 COLLATE NOCASE \
         AND sql IS NOT NULL ORDER BY rowid",
        &name,
    )?;
    let triggers = named_sql(
        conn,
        "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ?1 COLLATE NOCASE \
         ORDER BY rowid",
        &name,
    )?;
    let views = named_sql(
        conn,
        "SELECT name, sql FROM sqlite_schema WHERE type = 'view' AND instr(lower(sql), lower(?1)) > 0 \
         ORDER BY rowid",
        &name,
    )?;
    let dropped: Vec<&str> = step
        .edits
        .iter()
        .filter_map(|e| match e {
            RebuildEdit::DropColumn { column } => Some(column.as_str()),
            _ => None,
        })
        .collect();
    // Indexes on a dropped column go with it.
    let mut kept_indexes = Vec::new();
    for (index, sql) in indexes {
        let on = named_sql(
            conn,
            "SELECT coalesce(name, ''), '' FROM pragma_index_xinfo(?1) WHERE key = 1",
            &index,
        )?;
        if !on
            .iter()
            .any(|(c, _)| dropped.iter().any(|d| d.eq_ignore_ascii_case(c)))
        {
            kept_indexes.push(sql);
        }
    }
    let sequence_sql = "SELECT seq FROM sqlite_sequence WHERE name = ?1 COLLATE NOCASE";
    let has_sequence: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_sequence')",
            [],
            |row| row.get(0),
        )
        .map_err(Stop::at("sqlite_sequence"))?;
    let sequence: Option<i64> = if has_sequence {
        conn.query_row(sequence_sql, [&name], |row| row.get(0))
            .optional()
            .map_err(Stop::at(sequence_sql))?
    } else {
        None
    };
    let old_columns = columns(conn, &name)?;
    // The planner's statistics (ANALYZE) of the table: DROP TABLE deletes
    // them, and the same rows are copied, so they stay true. NULL `idx` is
    // the table's own row count.
    let has_stats: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_stat1')",
            [],
            |row| row.get(0),
        )
        .map_err(Stop::at("sqlite_stat1"))?;
    let stats: Vec<(Option<String>, String)> = if has_stats {
        let sql = "SELECT idx, stat FROM sqlite_stat1 WHERE tbl = ?1 COLLATE NOCASE";
        let mut stmt = conn.prepare(sql).map_err(Stop::at(sql))?;
        let rows = stmt
            .query_map([&name], |row| Ok((row.get(0)?, row.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(Stop::at(sql))?;
        rows
    } else {
        Vec::new()
    };

    for (view, _) in &views {
        run(conn, &format!("DROP VIEW {}", q(view)))?;
    }
    let exists: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE)",
            [&temporary],
            |row| row.get(0),
        )
        .map_err(Stop::at("sqlite_schema"))?;
    if exists {
        return Err(refused(
            &create_new,
            format!(
                "{temporary}, the rebuild's temporary name, is taken: rename or drop that object"
            ),
        ));
    }
    run(conn, &create_new)?;
    let new_columns = columns(conn, &temporary)?;
    let copied: Vec<&str> = old_columns
        .iter()
        .map(|c| c.0.as_str())
        .filter(|c| new_columns.iter().any(|n| n.0.eq_ignore_ascii_case(c)))
        .collect();
    let list = ENGINE.quote_list(&copied);
    run(
        conn,
        &format!(
            "INSERT INTO {} ({list}) SELECT {list} FROM {}",
            q(&temporary),
            q(&name)
        ),
    )?;
    run(conn, &format!("DROP TABLE {}", q(&name)))?;
    run(
        conn,
        &format!("ALTER TABLE {} RENAME TO {}", q(&temporary), q(&name)),
    )?;
    for sql in kept_indexes
        .iter()
        .chain(triggers.iter().map(|(_, sql)| sql))
        .chain(views.iter().map(|(_, sql)| sql))
    {
        run(conn, sql)?;
    }
    // Statistics of the indexes that are still there (an index on a
    // dropped column went with it).
    for (index, stat) in &stats {
        let sql = "INSERT INTO sqlite_stat1 (tbl, idx, stat) SELECT ?1, ?2, ?3 \
                   WHERE ?2 IS NULL OR EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = ?2)";
        conn.execute(sql, rusqlite::params![name, index, stat])
            .map_err(Stop::at(sql))?;
    }
    // AUTOINCREMENT never hands out a number twice: the new table goes on
    // from the old one's counter, not from its largest remaining rowid.
    if let Some(seq) = sequence {
        let sql = "INSERT INTO sqlite_sequence (name, seq) SELECT ?1, ?2 \
                   WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?1)";
        conn.execute(sql, rusqlite::params![name, seq])
            .map_err(Stop::at(sql))?;
        let sql = "UPDATE sqlite_sequence SET seq = max(seq, ?2) WHERE name = ?1";
        conn.execute(sql, rusqlite::params![name, seq])
            .map_err(Stop::at(sql))?;
    }
    // The new definition keeps what was not edited: a column type or key
    // lost in the AST round trip would change the table behind the plan.
    let edited_columns: Vec<&str> = step
        .edits
        .iter()
        .filter_map(|e| match e {
            RebuildEdit::SetNotNull { column } | RebuildEdit::DropNotNull { column } => {
                Some(column.as_str())
            }
            _ => None,
        })
        .collect();
    let rebuilt = columns(conn, &name)?;
    for (column, data_type, not_null, pk) in &old_columns {
        if dropped.iter().any(|d| d.eq_ignore_ascii_case(column)) {
            continue;
        }
        let same = rebuilt.iter().any(|(n, t, nn, k)| {
            n == column
                && type_key(t) == type_key(data_type)
                && k == pk
                && (nn == not_null || edited_columns.iter().any(|e| e.eq_ignore_ascii_case(n)))
        });
        if !same {
            return Err(refused(
                &create_new,
                format!(
                    "the rebuilt table would not keep column {column} {data_type} as it is: rebuild refused"
                ),
            ));
        }
    }
    let check_sql = "SELECT \"table\", rowid, parent FROM pragma_foreign_key_check(?1)";
    let mut stmt = conn.prepare(check_sql).map_err(Stop::at(check_sql))?;
    let orphans: Vec<(String, Option<i64>, String)> = stmt
        .query_map([&name], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .and_then(|rows| rows.collect())
        .map_err(Stop::at(check_sql))?;
    if let Some((_, rowid, parent)) = orphans.first() {
        return Err(refused(
            check_sql,
            format!(
                "{} row(s) of {name} reference no row of their parent table (first: rowid {} → {parent}): the rebuild is rolled back",
                orphans.len(),
                rowid.map_or_else(|| "?".to_string(), |r| r.to_string())
            ),
        ));
    }
    Ok(true)
}

fn pragma_flag(conn: &Connection, pragma: &str) -> Result<bool, EngineError> {
    let sql = format!("PRAGMA {pragma}");
    conn.query_row(&sql, [], |row| row.get(0))
        .map_err(|e| sql_error(&sql, &e))
}

fn set_pragma(conn: &Connection, pragma: &str, on: bool) -> Result<(), EngineError> {
    let sql = format!("PRAGMA {pragma} = {}", if on { "ON" } else { "OFF" });
    conn.execute_batch(&sql).map_err(|e| sql_error(&sql, &e))
}

/// One attempt at the rebuild. `Done(false)`: nothing to change.
pub(super) fn rebuild_attempt(
    conn: &Connection,
    step: &RebuildStep,
) -> Result<Attempt<bool>, EngineError> {
    // Outside the transaction, where these pragmas take effect: foreign
    // keys off so that DROP TABLE does not act on the rows referencing the
    // table; legacy renaming so that the rename touches the table alone
    // (triggers and views are recreated from their own SQL).
    let foreign_keys = pragma_flag(conn, "foreign_keys")?;
    let legacy = pragma_flag(conn, "legacy_alter_table")?;
    if foreign_keys {
        set_pragma(conn, "foreign_keys", false)?;
    }
    if !legacy {
        set_pragma(conn, "legacy_alter_table", true)?;
    }
    let outcome = transaction(conn, step);
    // Restored whatever happened; the rebuild's own failure says more.
    let restored = (|| {
        if !legacy {
            set_pragma(conn, "legacy_alter_table", false)?;
        }
        if foreign_keys {
            set_pragma(conn, "foreign_keys", true)?;
        }
        Ok(())
    })();
    let outcome = outcome?;
    restored?;
    Ok(outcome)
}

fn transaction(conn: &Connection, step: &RebuildStep) -> Result<Attempt<bool>, EngineError> {
    if let Attempt::Blocked { statement } = begin_immediate(conn, "BEGIN IMMEDIATE")? {
        return Ok(Attempt::Blocked { statement });
    }
    match rebuild_in_transaction(conn, step) {
        Ok(true) => {
            crate::failpoint::failpoint(&format!("rebuild-commit:{}", step.table));
            commit(conn, true)
        }
        Ok(false) => {
            rollback(conn);
            Ok(Attempt::Done(false))
        }
        Err(Stop::Statement(statement, error)) => failed(conn, &statement, &error),
        Err(Stop::Refused(error)) => {
            rollback(conn);
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(sql: &str, edits: &[RebuildEdit]) -> Option<String> {
        edited_create_table(sql, edits)
            .expect("edits apply")
            .map(|t| Statement::CreateTable(t).to_string())
    }

    fn s(v: &str) -> String {
        v.to_string()
    }

    #[test]
    fn edits_change_the_ast_and_leave_the_rest() {
        let base = "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT COLLATE NOCASE, b INT NOT NULL DEFAULT 0, \
                    c INT CHECK (c > 0), d INT REFERENCES p (id), CONSTRAINT t_b UNIQUE (b, c)) STRICT";
        let cases: Vec<(RebuildEdit, Option<&str>)> = vec![
            (RebuildEdit::SetNotNull { column: s("a") },
             Some("a TEXT COLLATE NOCASE NOT NULL")),
            (RebuildEdit::SetNotNull { column: s("b") }, None),
            (RebuildEdit::DropNotNull { column: s("b") }, Some("b INT DEFAULT 0")),
            (RebuildEdit::DropNotNull { column: s("a") }, None),
            (RebuildEdit::SetDefault { column: s("a"), default: s("'x'") },
             Some("a TEXT COLLATE NOCASE DEFAULT 'x'")),
            (RebuildEdit::SetDefault { column: s("b"), default: s("0") }, None),
            (RebuildEdit::SetDefault { column: s("b"), default: s("-1") }, Some("b INT NOT NULL DEFAULT -1")),
            (RebuildEdit::SetDefault { column: s("a"), default: s("lower(hex(randomblob(4)))") },
             Some("a TEXT COLLATE NOCASE DEFAULT (lower(hex(randomblob(4))))")),
            (RebuildEdit::DropDefault { column: s("b") }, Some("b INT NOT NULL,")),
            (RebuildEdit::AddCheck { name: s("t_b_pos"), expr: s("b >= 0") },
             Some("CONSTRAINT \"t_b_pos\" CHECK (b >= 0)")),
            (RebuildEdit::AddCheck { name: s("t_c_check"), expr: s("c > 1") }, None),
            (RebuildEdit::AddForeignKey { name: s("t_a_fk"), columns: vec![s("a")], ref_table: s("p"),
                ref_columns: vec![s("name")], actions: vec![s("ON DELETE CASCADE")] },
             Some("CONSTRAINT \"t_a_fk\" FOREIGN KEY (\"a\") REFERENCES \"p\"(\"name\") ON DELETE CASCADE")),
            (RebuildEdit::DropConstraint { name: s("t_c_check") }, Some("c INT,")),
            (RebuildEdit::DropConstraint { name: s("t_d_fkey") }, Some("d INT,")),
            (RebuildEdit::DropConstraint { name: s("t_b") }, Some("d INT REFERENCES p (id)) STRICT")),
            (RebuildEdit::DropConstraint { name: s("nope") }, None),
            (RebuildEdit::DropColumn { column: s("c") }, Some("d INT REFERENCES p (id)) STRICT")),
            (RebuildEdit::DropColumn { column: s("zz") }, None),
        ];
        for (e, expected) in cases {
            let out = edit(base, std::slice::from_ref(&e));
            match (expected, &out) {
                (None, None) => {}
                (Some(part), Some(sql)) => {
                    assert!(sql.contains(part), "{e:?}: `{part}` not in {sql}");
                    assert!(
                        sql.contains("STRICT") && sql.contains("COLLATE NOCASE")
                            || matches!(e, RebuildEdit::DropColumn { .. }),
                        "{e:?}: the rest is kept: {sql}"
                    );
                }
                _ => panic!("{e:?}: expected {expected:?}, got {out:?}"),
            }
            // Applying the edit to its own output changes nothing more.
            if let Some(sql) = out {
                assert_eq!(
                    edit(&sql, std::slice::from_ref(&e)),
                    None,
                    "{e:?} is idempotent on {sql}"
                );
            }
        }
    }

    #[test]
    fn edits_on_what_is_not_there_are_refused() {
        let base = "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT)";
        for e in [
            RebuildEdit::SetNotNull { column: s("zz") },
            RebuildEdit::SetDefault {
                column: s("a"),
                default: s("1 2"),
            },
            RebuildEdit::AddCheck {
                name: s("c"),
                expr: s("a >"),
            },
        ] {
            assert!(
                edited_create_table(base, std::slice::from_ref(&e)).is_err(),
                "{e:?}"
            );
        }
    }
}
