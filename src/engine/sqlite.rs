//! SQLite: the engine over rusqlite (SQLite compiled in, no server).
//!
//! One connection to one database file, in WAL mode so that application
//! processes keep reading while zerodown writes, and with a busy timeout so
//! that writers wait for each other instead of failing. rusqlite is
//! synchronous: every call runs on tokio's blocking pool, the connection
//! behind a mutex.
//!
//! The run lock is an advisory file lock (`flock`) on a side file,
//! `<database>.zerodown.lock`, held for the run; see [`Sqlite::try_lock`].
//! zerodown's own table (`zerodown_history`) is never part of the
//! introspected model.

mod rebuild;

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{params_from_iter, Connection, ErrorCode, OpenFlags};
use sqlparser::parser::Parser;

use super::attempt::{count_of, sample_of, Attempt, Retries};
use super::{
    BatchOutcome, DatabaseIdentity, DatabaseUrl, Engine, EngineError, HistoryRecord, KeyValue,
    LockPolicy, RunLock, TaskStatus,
};
use crate::dialect::EngineKind;
use crate::ops::{BackfillStep, Effect, Operation, RebuildStep, SqlStep};
use crate::parse::lower;
use crate::schema::{Column, Constraint, ConstraintKind, Index, Schema, Table, View};

/// How long a statement outside the lock policy (history, catalog reads)
/// waits for another connection's write lock before failing.
const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Appended to the database's path to name the run lock's side file.
const LOCK_FILE_SUFFIX: &str = ".zerodown.lock";

const HISTORY_TABLE: &str = "zerodown_history";

const HISTORY_DDL: &str = "CREATE TABLE IF NOT EXISTS zerodown_history (
    version INTEGER NOT NULL,
    plan_hash TEXT NOT NULL,
    phase TEXT NOT NULL,
    task_id TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    error TEXT,
    PRIMARY KEY (version, task_id)
)";

const HISTORY_UPSERT: &str = "INSERT INTO zerodown_history
    (version, plan_hash, phase, task_id, status, started_at, finished_at, error)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
ON CONFLICT (version, task_id) DO UPDATE SET
    plan_hash = excluded.plan_hash, phase = excluded.phase, status = excluded.status,
    started_at = excluded.started_at, finished_at = excluded.finished_at, error = excluded.error";

/// Timestamps are RFC 3339 text; `julianday` orders them by time (a
/// fraction such as `…:00.5Z` sorts before `…:00Z` as text).
const HISTORY_SELECT: &str =
    "SELECT version, plan_hash, phase, task_id, status, started_at, finished_at, error \
     FROM zerodown_history ORDER BY version, julianday(started_at) NULLS LAST, task_id";

/// The ordinary tables of the main database: not SQLite's own, not
/// zerodown's, not virtual tables nor their shadow tables (which only their
/// module writes).
const TABLES_SQL: &str = "SELECT m.name, m.sql, t.wr, t.strict FROM sqlite_schema m \
     JOIN pragma_table_list t ON t.schema = 'main' AND t.name = m.name \
     WHERE m.type = 'table' AND t.type = 'table' \
     AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND m.name <> 'zerodown_history'";

/// A connection to one SQLite database file.
pub struct Sqlite {
    conn: Arc<Mutex<Connection>>,
    /// The database file, canonical (symbolic links and `..` resolved).
    path: PathBuf,
    /// The side file whose `flock` is the run lock, while it is held.
    run_lock: Option<File>,
    /// Whether `zerodown_history` is known to exist.
    history_ready: bool,
}

/// Open (creating it when missing) the database file the URL names:
/// `sqlite://path/to/file.db` relative to the working directory,
/// `sqlite:///abs/path.db` absolute. Switches the database to WAL mode,
/// which persists in the file: readers no longer wait for writers, for
/// zerodown and for the application alike.
pub async fn connect(url: &DatabaseUrl) -> Result<Sqlite, EngineError> {
    let shown = url.redacted();
    let fail = |message: String| EngineError::Connect {
        url: shown.clone(),
        message,
    };
    let path = database_path(url.expose()).map_err(fail)?;
    let (conn, path) = match tokio::task::spawn_blocking(move || open(&path)).await {
        Ok(opened) => opened.map_err(fail)?,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => return Err(fail(format!("the opening thread was cancelled: {error}"))),
    };
    Ok(Sqlite {
        conn: Arc::new(Mutex::new(conn)),
        path,
        run_lock: None,
        history_ready: false,
    })
}

/// The file a `sqlite://` URL names.
fn database_path(raw: &str) -> Result<PathBuf, String> {
    let rest = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    if rest.contains('?') {
        return Err(
            "a sqlite:// URL takes no parameters (`?…`): it names the database file only"
                .to_string(),
        );
    }
    match rest {
        "" => Err("the URL names no file: write sqlite://path/to/file.db (relative to the working directory) or sqlite:///absolute/path.db".to_string()),
        ":memory:" => Err("an in-memory database disappears with the process, and a run with it: name a file".to_string()),
        _ => Ok(PathBuf::from(rest)),
    }
}

fn open(path: &Path) -> Result<(Connection, PathBuf), String> {
    // No URI flag: the path is a file name, never interpreted as `file:…`.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| format!("cannot open {}: {}", path.display(), error_message(&e)))?;
    conn.busy_timeout(DEFAULT_BUSY_TIMEOUT)
        .map_err(|e| error_message(&e))?;
    // Reading the file here also tells a file that is not a database.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(|e| format!("cannot switch to WAL mode: {}", error_message(&e)))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!(
            "cannot switch to WAL mode: the journal mode stays `{mode}`"
        ));
    }
    let canonical = std::fs::canonicalize(path)
        .map_err(|e| format!("cannot resolve {}: {e}", path.display()))?;
    Ok((conn, canonical))
}

/// SQLite's message (the driver's text for its own errors). The statement
/// is shown beside it by `EngineError::Sql`: not repeated here.
fn error_message(error: &rusqlite::Error) -> String {
    match error {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message.clone(),
        rusqlite::Error::SqlInputError { msg, offset, .. } => {
            format!("{msg} (at byte {offset} of the statement)")
        }
        other => other.to_string(),
    }
}

fn sql_error(statement: &str, error: &rusqlite::Error) -> EngineError {
    EngineError::Sql {
        statement: statement.to_string(),
        message: error_message(error),
    }
}

/// Another connection holds the write lock (`SQLITE_BUSY`, after the busy
/// timeout) or a table this one needs (`SQLITE_LOCKED`): the work itself is
/// fine; rolled back and tried again.
fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Roll back what `statement` left open after `error`: blocked by another
/// connection, or a real failure.
fn failed<T>(
    conn: &Connection,
    statement: &str,
    error: &rusqlite::Error,
) -> Result<Attempt<T>, EngineError> {
    rollback(conn);
    if is_busy(error) {
        Ok(Attempt::Blocked {
            statement: statement.to_string(),
        })
    } else {
        Err(sql_error(statement, error))
    }
}

/// Roll back an open transaction. Some errors roll it back by themselves;
/// a failed rollback leaves the error that led here as the one worth
/// reporting.
fn rollback(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

/// Run `attempt` with the policy's busy timeout, then restore the default.
fn with_busy_timeout<T>(
    conn: &Connection,
    timeout: Duration,
    attempt: impl FnOnce(&Connection) -> Result<T, EngineError>,
) -> Result<T, EngineError> {
    let set = |timeout: Duration| {
        conn.busy_timeout(timeout)
            .map_err(|e| sql_error("busy_timeout", &e))
    };
    set(timeout.max(Duration::from_millis(1)))?;
    let outcome = attempt(conn);
    let reset = set(DEFAULT_BUSY_TIMEOUT);
    // The attempt's own failure says more than a failed reset after it.
    let outcome = outcome?;
    reset?;
    Ok(outcome)
}

/// `BEGIN IMMEDIATE` takes the database's write lock at once, so a
/// transaction never fails half-way for want of it. It waits on behalf of
/// the statements after it: a block is reported against `first`, the
/// statement that was waiting.
fn begin_immediate(conn: &Connection, first: &str) -> Result<Attempt<()>, EngineError> {
    match conn.execute_batch("BEGIN IMMEDIATE") {
        Ok(()) => Ok(Attempt::Done(())),
        Err(error) => failed(conn, first, &error),
    }
}

fn commit<T>(conn: &Connection, value: T) -> Result<Attempt<T>, EngineError> {
    match conn.execute_batch("COMMIT") {
        Ok(()) => Ok(Attempt::Done(value)),
        Err(error) => failed(conn, "COMMIT", &error),
    }
}

/// Statements in one `BEGIN IMMEDIATE` transaction (SQLite's DDL is
/// transactional).
fn run_transaction(conn: &Connection, statements: &[String]) -> Result<Attempt<()>, EngineError> {
    let Some(first) = statements.first() else {
        return Ok(Attempt::Done(()));
    };
    if let Attempt::Blocked { statement } = begin_immediate(conn, first)? {
        return Ok(Attempt::Blocked { statement });
    }
    for statement in statements {
        if let Err(error) = conn.execute_batch(statement) {
            return failed(conn, statement, &error);
        }
    }
    commit(conn, ())
}

/// Statements one by one, each committed on its own. Starts at statement
/// `completed` and advances it, so a retry resumes at the statement that
/// was blocked instead of repeating committed ones.
fn run_one_by_one(
    conn: &Connection,
    statements: &[String],
    completed: &mut usize,
) -> Result<Attempt<()>, EngineError> {
    for statement in &statements[*completed..] {
        match conn.execute_batch(statement) {
            Ok(()) => *completed += 1,
            Err(error) => return failed(conn, statement, &error),
        }
    }
    Ok(Attempt::Done(()))
}

fn key_param(value: &KeyValue) -> Value {
    match value {
        KeyValue::Int(i) => Value::Integer(*i),
        KeyValue::Text(s) => Value::Text(s.clone()),
        KeyValue::Bytes(b) => Value::Blob(b.clone()),
    }
}

/// Read a key row back as key values: integer, text or blob, by the value's
/// storage class (SQLite keeps any of them in a column of any type).
fn key_values(row: &rusqlite::Row<'_>, names: &[String]) -> Result<Vec<KeyValue>, EngineError> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let value = row.get_ref(i).map_err(|e| sql_error(name, &e))?;
            match value {
                ValueRef::Integer(i) => Ok(KeyValue::Int(i)),
                // Lossy text would be another key: the next batch would
                // start elsewhere.
                ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
                    Ok(text) => Ok(KeyValue::Text(text.to_string())),
                    Err(_) => Err(EngineError::Unsupported(format!(
                        "a backfill walks the primary key, and key column {name} holds text that is not UTF-8"
                    ))),
                },
                ValueRef::Blob(bytes) => Ok(KeyValue::Bytes(bytes.to_vec())),
                other => Err(EngineError::Unsupported(format!(
                    "a backfill walks the primary key, and key column {name} holds a {} value (supported: {})",
                    value_kind(other),
                    EngineKind::Sqlite.walkable_key_types()
                ))),
            }
        })
        .collect()
}

fn value_kind(value: ValueRef<'_>) -> &'static str {
    match value {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "integer",
        ValueRef::Real(_) => "real",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "blob",
    }
}

/// One attempt at a backfill batch, in one `BEGIN IMMEDIATE` transaction:
/// find the upper key, update the range.
fn backfill_attempt(
    conn: &Connection,
    step: &BackfillStep,
    lower: &[KeyValue],
) -> Result<Attempt<BatchOutcome>, EngineError> {
    let upper_sql = step.upper_key_sql(!lower.is_empty());
    if let Attempt::Blocked { statement } = begin_immediate(conn, &upper_sql)? {
        return Ok(Attempt::Blocked { statement });
    }
    let upper = match find_upper(conn, &upper_sql, lower) {
        Ok(upper) => upper,
        Err(Found::Sql(error)) => return failed(conn, &upper_sql, &error),
        Err(Found::Engine(error)) => {
            rollback(conn);
            return Err(error);
        }
    };
    let update_sql = step.update_sql(!lower.is_empty(), upper.is_some());
    let params = lower.iter().chain(upper.iter().flatten()).map(key_param);
    match conn.execute(&update_sql, params_from_iter(params)) {
        Ok(rows) => commit(
            conn,
            BatchOutcome {
                rows: rows as u64,
                upper,
            },
        ),
        Err(error) => failed(conn, &update_sql, &error),
    }
}

/// Why the upper key was not found: the statement failed, or its row holds
/// a key zerodown cannot walk.
enum Found {
    Sql(rusqlite::Error),
    Engine(EngineError),
}

fn find_upper(
    conn: &Connection,
    sql: &str,
    lower: &[KeyValue],
) -> Result<Option<Vec<KeyValue>>, Found> {
    let mut stmt = conn.prepare(sql).map_err(Found::Sql)?;
    let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
    let mut rows = stmt
        .query(params_from_iter(lower.iter().map(key_param)))
        .map_err(Found::Sql)?;
    match rows.next().map_err(Found::Sql)? {
        Some(row) => key_values(row, &names).map(Some).map_err(Found::Engine),
        None => Ok(None),
    }
}

/// Rows of a query, each value as text (`None` for NULL).
fn text_rows(conn: &Connection, sql: &str) -> Result<Vec<Vec<Option<String>>>, EngineError> {
    let fail = |e: rusqlite::Error| sql_error(sql, &e);
    let mut stmt = conn.prepare(sql).map_err(fail)?;
    let width = stmt.column_count();
    let mut rows = stmt.query([]).map_err(fail)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(fail)? {
        let values = (0..width)
            .map(|i| row.get_ref(i).map(value_text).map_err(fail))
            .collect::<Result<Vec<_>, _>>()?;
        out.push(values);
    }
    Ok(out)
}

fn value_text(value: ValueRef<'_>) -> Option<String> {
    match value {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        ValueRef::Blob(bytes) => Some(format!(
            "x'{}'",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )),
    }
}

fn exists(conn: &Connection, sql: &str, params: &[&str]) -> Result<bool, EngineError> {
    conn.query_row(sql, params_from_iter(params), |row| row.get(0))
        .map_err(|e| sql_error(sql, &e))
}

/// A table as `sqlite_schema` and `pragma_table_list` show it.
struct TableEntry {
    name: String,
    sql: String,
    without_rowid: bool,
    strict: bool,
}

fn table_entries(conn: &Connection, only: Option<&str>) -> Result<Vec<TableEntry>, EngineError> {
    // Names resolve as SQLite resolves identifiers: without regard to case.
    let sql = match only {
        Some(_) => format!("{TABLES_SQL} AND m.name = ?1 COLLATE NOCASE"),
        None => format!("{TABLES_SQL} ORDER BY m.name"),
    };
    let fail = |e: rusqlite::Error| sql_error(&sql, &e);
    let mut stmt = conn.prepare(&sql).map_err(fail)?;
    let rows = stmt
        .query_map(params_from_iter(only), |row| {
            Ok(TableEntry {
                name: row.get(0)?,
                sql: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
                without_rowid: row.get(2)?,
                strict: row.get(3)?,
            })
        })
        .map_err(fail)?;
    rows.collect::<Result<_, _>>().map_err(fail)
}

/// The constraints a table's own `CREATE TABLE` names (as the schema files
/// name them: unnamed ones take PostgreSQL's default names), with its CHECK
/// constraints, which no pragma lists. Empty when sqlparser cannot read the
/// statement: the pragmas still give every key, with default names.
fn declared_constraints(create_sql: &str) -> Vec<Constraint> {
    let engine = EngineKind::Sqlite;
    let Ok(statements) = Parser::parse_sql(&*engine.sql_dialect(), create_sql) else {
        return Vec::new();
    };
    match statements.as_slice() {
        [statement] => match lower(statement, engine, &Schema::default()) {
            Ok(Operation::CreateTable { constraints, .. }) => constraints,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn same_names(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
}

/// The name the table's SQL gives a key of this kind, else the default name
/// (`<table>_pkey`, `<table>_<columns>_key`, `<table>_<columns>_fkey`). A
/// declared constraint names one key only: it is taken out of `declared`.
fn constraint_name(table: &str, kind: &ConstraintKind, declared: &mut Vec<Constraint>) -> String {
    let found = declared.iter().position(|c| match (&c.kind, kind) {
        (ConstraintKind::PrimaryKey { .. }, ConstraintKind::PrimaryKey { .. }) => true,
        (ConstraintKind::Unique { columns: a }, ConstraintKind::Unique { columns: b }) => {
            same_names(a, b)
        }
        (
            ConstraintKind::ForeignKey {
                columns: a,
                ref_table: ta,
                ..
            },
            ConstraintKind::ForeignKey {
                columns: b,
                ref_table: tb,
                ..
            },
        ) => same_names(a, b) && ta.eq_ignore_ascii_case(tb),
        _ => false,
    });
    if let Some(i) = found {
        return declared.remove(i).name;
    }
    match kind {
        ConstraintKind::PrimaryKey { .. } => format!("{table}_pkey"),
        ConstraintKind::Unique { columns } => format!("{table}_{}_key", columns.join("_")),
        ConstraintKind::ForeignKey { columns, .. } => {
            format!("{table}_{}_fkey", columns.join("_"))
        }
        ConstraintKind::Check { .. } => format!("{table}_check"),
    }
}

/// Whether a declared type makes a lone primary-key column the rowid
/// (exactly `INTEGER`, any case), which can never be NULL.
fn is_rowid_alias(data_type: &str) -> bool {
    data_type.eq_ignore_ascii_case("integer")
}

/// A table of the model from its pragmas: columns, primary key, foreign
/// keys, UNIQUE constraints; CHECK constraints from its SQL.
fn read_table(conn: &Connection, entry: &TableEntry) -> Result<Table, EngineError> {
    let mut table = Table::new(entry.name.clone());
    // hidden: 0 ordinary, 2 and 3 generated (virtual, stored); 1 only in
    // virtual tables.
    let columns_sql = "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_xinfo(?1) \
                       WHERE hidden <> 1 ORDER BY cid";
    let fail = |sql: &str, e: rusqlite::Error| sql_error(sql, &e);
    let mut stmt = conn
        .prepare(columns_sql)
        .map_err(|e| fail(columns_sql, e))?;
    let rows: Vec<(String, String, bool, Option<String>, i64)> = stmt
        .query_map([&entry.name], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| fail(columns_sql, e))?;
    let mut key: Vec<(i64, String)> = rows
        .iter()
        .filter(|r| r.4 > 0)
        .map(|r| (r.4, r.0.clone()))
        .collect();
    key.sort();
    table.primary_key = key.into_iter().map(|(_, name)| name).collect();
    // A key column is NOT NULL when declared so, in a WITHOUT ROWID or
    // STRICT table, or as the rowid itself; other key columns of an
    // ordinary table accept NULL (SQLite's legacy behaviour).
    let single_key = table.primary_key.len() == 1;
    for (name, data_type, not_null, default, pk) in rows {
        let key_not_null = pk > 0
            && (entry.without_rowid || entry.strict || (single_key && is_rowid_alias(&data_type)));
        table.columns.push(Column {
            name,
            data_type,
            nullable: !(not_null || key_not_null),
            default: default.filter(|d| !d.eq_ignore_ascii_case("null")),
            drop_at: None,
        });
    }

    let mut declared = declared_constraints(&entry.sql);
    let mut constraints: Vec<ConstraintKind> = Vec::new();
    if !table.primary_key.is_empty() {
        constraints.push(ConstraintKind::PrimaryKey {
            columns: table.primary_key.clone(),
        });
    }
    for (ref_table, columns, ref_columns) in foreign_keys(conn, &entry.name)? {
        // `REFERENCES t` without columns references t's primary key.
        let ref_columns = if ref_columns.iter().all(Option::is_none) {
            primary_key_of(conn, &ref_table)?
        } else {
            ref_columns.into_iter().flatten().collect()
        };
        constraints.push(ConstraintKind::ForeignKey {
            columns,
            ref_table,
            ref_columns,
        });
    }
    let uniques_sql =
        "SELECT l.name FROM pragma_index_list(?1) l WHERE l.origin = 'u' ORDER BY l.seq";
    let mut stmt = conn
        .prepare(uniques_sql)
        .map_err(|e| fail(uniques_sql, e))?;
    let unique_indexes: Vec<String> = stmt
        .query_map([&entry.name], |row| row.get(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| fail(uniques_sql, e))?;
    for index in unique_indexes {
        constraints.push(ConstraintKind::Unique {
            columns: index_columns(conn, &index)?,
        });
    }
    for kind in constraints {
        let name = constraint_name(&entry.name, &kind, &mut declared);
        table.constraints.insert(
            name.clone(),
            Constraint {
                name,
                kind,
                validated: true,
            },
        );
    }
    for check in declared
        .into_iter()
        .filter(|c| matches!(c.kind, ConstraintKind::Check { .. }))
    {
        table.constraints.insert(check.name.clone(), check);
    }
    Ok(table)
}

/// The table's foreign keys: referenced table, columns, referenced columns
/// (`None` where the key references the primary key implicitly).
type ForeignKeyRow = (String, Vec<String>, Vec<Option<String>>);

fn foreign_keys(conn: &Connection, table: &str) -> Result<Vec<ForeignKeyRow>, EngineError> {
    let sql =
        "SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq";
    let fail = |e: rusqlite::Error| sql_error(sql, &e);
    let mut stmt = conn.prepare(sql).map_err(fail)?;
    let rows: Vec<(i64, String, String, Option<String>)> = stmt
        .query_map([table], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .and_then(|rows| rows.collect())
        .map_err(fail)?;
    let mut keys: Vec<(i64, ForeignKeyRow)> = Vec::new();
    for (id, ref_table, from, to) in rows {
        match keys.last_mut() {
            Some((last, (_, columns, ref_columns))) if *last == id => {
                columns.push(from);
                ref_columns.push(to);
            }
            _ => keys.push((id, (ref_table, vec![from], vec![to]))),
        }
    }
    Ok(keys.into_iter().map(|(_, key)| key).collect())
}

fn primary_key_of(conn: &Connection, table: &str) -> Result<Vec<String>, EngineError> {
    let sql = "SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk";
    let mut stmt = conn.prepare(sql).map_err(|e| sql_error(sql, &e))?;
    stmt.query_map([table], |row| row.get(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| sql_error(sql, &e))
}

/// The plain columns among an index's keys, in key order.
fn index_columns(conn: &Connection, index: &str) -> Result<Vec<String>, EngineError> {
    let sql = "SELECT name FROM pragma_index_info(?1) WHERE name IS NOT NULL ORDER BY seqno";
    let mut stmt = conn.prepare(sql).map_err(|e| sql_error(sql, &e))?;
    stmt.query_map([index], |row| row.get(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| sql_error(sql, &e))
}

/// The indexes created with CREATE INDEX. The ones SQLite makes for
/// PRIMARY KEY and UNIQUE (`sqlite_autoindex_…`) belong to their
/// constraints: they cannot be dropped or created by name.
fn read_indexes(
    conn: &Connection,
    table: &str,
    into: &mut std::collections::BTreeMap<String, Index>,
) -> Result<(), EngineError> {
    let sql = "SELECT l.name, l.\"unique\", l.partial, m.sql FROM pragma_index_list(?1) l \
               JOIN sqlite_schema m ON m.type = 'index' AND m.name = l.name \
               WHERE l.origin = 'c' ORDER BY l.name";
    let fail = |e: rusqlite::Error| sql_error(sql, &e);
    let mut stmt = conn.prepare(sql).map_err(fail)?;
    let rows: Vec<(String, bool, bool, String)> = stmt
        .query_map([table], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .and_then(|rows| rows.collect())
        .map_err(fail)?;
    for (name, unique, partial, create_sql) in rows {
        let columns = index_columns(conn, &name)?;
        let (keys, predicate) = index_definition(conn, &name, &create_sql, partial)?;
        into.insert(
            name.clone(),
            Index {
                name,
                table: table.to_string(),
                keys,
                columns,
                unique,
                predicate,
                drop_at: None,
            },
        );
    }
    Ok(())
}

/// An index's key expressions and predicate, rendered from its `CREATE
/// INDEX` as the schema files render them. When sqlparser cannot read the
/// statement, a plain index still has its columns from the pragmas; an
/// index on expressions or with a predicate is an error rather than a
/// guess.
fn index_definition(
    conn: &Connection,
    name: &str,
    create_sql: &str,
    partial: bool,
) -> Result<(Vec<String>, Option<String>), EngineError> {
    let engine = EngineKind::Sqlite;
    let parsed = Parser::parse_sql(&*engine.sql_dialect(), create_sql)
        .map_err(|e| e.to_string())
        .and_then(|statements| match statements.as_slice() {
            [statement] => match lower(statement, engine, &Schema::default()) {
                Ok(Operation::CreateIndex {
                    keys, predicate, ..
                }) => Ok((keys, predicate)),
                Ok(_) => Err("not a CREATE INDEX".to_string()),
                Err(unsupported) => Err(unsupported.message),
            },
            _ => Err("several statements".to_string()),
        });
    let reason = match parsed {
        Ok(definition) => return Ok(definition),
        Err(reason) => reason,
    };
    let sql = "SELECT name FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno";
    let mut stmt = conn.prepare(sql).map_err(|e| sql_error(sql, &e))?;
    let keys: Vec<Option<String>> = stmt
        .query_map([name], |row| row.get(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| sql_error(sql, &e))?;
    if partial || keys.iter().any(Option::is_none) {
        return Err(EngineError::Sql {
            statement: create_sql.to_string(),
            message: format!(
                "cannot read index {name}, which has expressions or a predicate: {reason}"
            ),
        });
    }
    Ok((
        keys.into_iter()
            .flatten()
            .map(|k| engine.quote_ident(&k))
            .collect(),
        None,
    ))
}

/// A declared type in one spelling: upper case, no blanks.
fn type_key(data_type: &str) -> String {
    data_type
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase()
}

fn read_schema(conn: &Connection) -> Result<Schema, EngineError> {
    let mut schema = Schema {
        namespace: EngineKind::Sqlite.fixed_namespace().map(str::to_string),
        ..Schema::default()
    };
    let stat1 = exists(
        conn,
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_stat1')",
        &[],
    )?;
    for entry in table_entries(conn, None)? {
        let mut table = read_table(conn, &entry)?;
        if stat1 {
            table.row_estimate = stat1_rows(conn, &entry.name)?;
        }
        let mut indexes = std::collections::BTreeMap::new();
        read_indexes(conn, &entry.name, &mut indexes)?;
        schema.tables.insert(entry.name.clone(), table);
        for (name, index) in indexes {
            schema.indexes.insert(name, index);
        }
    }
    let views_sql = "SELECT name, sql FROM sqlite_schema WHERE type = 'view' ORDER BY name";
    let mut stmt = conn
        .prepare(views_sql)
        .map_err(|e| sql_error(views_sql, &e))?;
    let views: Vec<(String, String)> = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .and_then(|rows| rows.collect())
        .map_err(|e| sql_error(views_sql, &e))?;
    for (name, sql) in views {
        // The whole CREATE VIEW, as the schema files keep it.
        schema.views.insert(
            name.clone(),
            View {
                name,
                sql: sql.trim().trim_end_matches(';').trim_end().to_string(),
                drop_at: None,
            },
        );
    }
    Ok(schema)
}

/// The row count `ANALYZE` recorded: the first number of a `sqlite_stat1`
/// row is the rows in the table (a row without index) or in an index (as
/// many, unless the index is partial): the largest is the table's.
fn stat1_rows(conn: &Connection, table: &str) -> Result<Option<u64>, EngineError> {
    let sql = "SELECT max(CAST(stat AS INTEGER)) FROM sqlite_stat1 WHERE tbl = ?1 COLLATE NOCASE";
    let rows: Option<i64> = conn
        .query_row(sql, [table], |row| row.get(0))
        .map_err(|e| sql_error(sql, &e))?;
    Ok(rows.and_then(|n| u64::try_from(n).ok()))
}

/// Whether the catalog shows the effect.
fn effect_present(conn: &Connection, effect: &Effect) -> Result<bool, EngineError> {
    let object = |kind: &str, name: &str| {
        exists(
            conn,
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = ?1 AND name = ?2 COLLATE NOCASE)",
            &[kind, name],
        )
    };
    let trigger = |table: &str, name: &str| {
        exists(
            conn,
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'trigger' \
             AND name = ?1 COLLATE NOCASE AND tbl_name = ?2 COLLATE NOCASE)",
            &[name, table],
        )
    };
    let table = |name: &str| -> Result<Option<Table>, EngineError> {
        match table_entries(conn, Some(name))?.first() {
            Some(entry) => read_table(conn, entry).map(Some),
            None => Ok(None),
        }
    };
    let column = |t: &str, c: &str, test: &dyn Fn(&Column) -> bool| -> Result<bool, EngineError> {
        Ok(table(t)?.is_some_and(|table| {
            table
                .columns
                .iter()
                .any(|col| col.name.eq_ignore_ascii_case(c) && test(col))
        }))
    };
    let constraint = |t: &str, name: &str| -> Result<bool, EngineError> {
        Ok(table(t)?.is_some_and(|table| {
            table
                .constraints
                .keys()
                .any(|k| k.eq_ignore_ascii_case(name))
        }))
    };
    match effect {
        Effect::TableExists { table } => object("table", table),
        Effect::TableAbsent { table } => object("table", table).map(|found| !found),
        Effect::ColumnExists { table, column: c } => column(table, c, &|_| true),
        Effect::ColumnAbsent { table, column: c } => column(table, c, &|_| true).map(|f| !f),
        Effect::ColumnNotNull { table, column: c } => column(table, c, &|col| !col.nullable),
        Effect::ColumnNullable { table, column: c } => column(table, c, &|col| col.nullable),
        Effect::ColumnHasDefault { table, column: c } => {
            column(table, c, &|col| col.default.is_some())
        }
        Effect::ColumnHasNoDefault { table, column: c } => {
            column(table, c, &|col| col.default.is_none())
        }
        Effect::ColumnType {
            table,
            column: c,
            data_type,
        } => column(table, c, &|col| {
            type_key(&col.data_type) == type_key(data_type)
        }),
        // SQLite builds an index in one statement: one that exists is whole.
        Effect::IndexValid { index } => object("index", index),
        Effect::IndexAbsent { index } => object("index", index).map(|found| !found),
        // SQLite has no NOT VALID: a constraint that exists is enforced.
        Effect::ConstraintExists {
            table,
            constraint: c,
        }
        | Effect::ConstraintValidated {
            table,
            constraint: c,
        } => constraint(table, c),
        Effect::ConstraintAbsent {
            table,
            constraint: c,
        } => constraint(table, c).map(|found| !found),
        Effect::TriggerExists { table, trigger: t } => trigger(table, t),
        Effect::TriggerAbsent { table, trigger: t } => trigger(table, t).map(|found| !found),
        Effect::ViewExists { view } => object("view", view),
        Effect::ViewAbsent { view } => object("view", view).map(|found| !found),
        Effect::RecordedOnly | Effect::Rerunnable => Ok(false),
    }
}

fn read_history(conn: &Connection) -> Result<Vec<HistoryRecord>, EngineError> {
    let found = exists(
        conn,
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1)",
        &[HISTORY_TABLE],
    )?;
    if !found {
        return Ok(Vec::new());
    }
    let fail = |e: rusqlite::Error| sql_error(HISTORY_SELECT, &e);
    let mut stmt = conn.prepare(HISTORY_SELECT).map_err(fail)?;
    type Row = (
        i64,
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = stmt
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
                row.get(7)?,
            ))
        })
        .and_then(|rows| rows.collect())
        .map_err(fail)?;
    let invalid = |message: String| EngineError::Sql {
        statement: HISTORY_SELECT.to_string(),
        message,
    };
    rows.into_iter()
        .map(
            |(version, plan_hash, phase, task_id, status, started_at, finished_at, error)| {
                Ok(HistoryRecord {
                    version: u32::try_from(version).map_err(|_| {
                        invalid(format!(
                            "version {version} in {HISTORY_TABLE} is out of range"
                        ))
                    })?,
                    plan_hash,
                    phase,
                    task_id,
                    status: TaskStatus::parse(&status).ok_or_else(|| {
                        invalid(format!("unknown task status `{status}` in {HISTORY_TABLE}"))
                    })?,
                    started_at,
                    finished_at,
                    error,
                })
            },
        )
        .collect()
}

/// Who holds the run lock, as its side file says: `pid 123 on host, since …`.
fn holder_text(pid: u32, since: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty());
    match host {
        Some(host) => format!("pid {pid} on {host}, since {since}"),
        None => format!("pid {pid}, since {since}"),
    }
}

fn lock_error(path: &Path, error: &std::io::Error) -> EngineError {
    EngineError::Unsupported(format!(
        "cannot take the run lock on {}: {error}",
        path.display()
    ))
}

impl Sqlite {
    /// Run `work` on the connection on the blocking pool.
    async fn blocking<T, F>(&self, work: F) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, EngineError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let task = tokio::task::spawn_blocking(move || {
            // A panic in earlier work is re-raised below; the connection
            // itself is still sound.
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut conn)
        });
        match task.await {
            Ok(outcome) => outcome,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => Err(EngineError::Connect {
                url: format!("sqlite://{}", self.path.display()),
                message: format!("the database thread was cancelled: {error}"),
            }),
        }
    }

    fn lock_path(&self) -> PathBuf {
        let mut path = self.path.clone().into_os_string();
        path.push(LOCK_FILE_SUFFIX);
        PathBuf::from(path)
    }
}

impl Engine for Sqlite {
    fn kind(&self) -> EngineKind {
        EngineKind::Sqlite
    }

    async fn identity(&mut self) -> Result<DatabaseIdentity, EngineError> {
        Ok(DatabaseIdentity {
            engine: EngineKind::Sqlite,
            server: self.path.display().to_string(),
            database: "main".to_string(),
        })
    }

    /// An exclusive `flock` on `<database>.zerodown.lock`, taken without
    /// waiting. Rather than a row in the database: the OS releases it when
    /// the process ends, however it ends (a killed run leaves no stale lock
    /// to detect, and a reused pid cannot pass for a live holder), it takes
    /// no write lock on the database, and it is refused to another process
    /// and to another connection of this one alike (the lock belongs to the
    /// open file). The holder's pid, host and start time are written into
    /// the file for the refusal message. The file stays after the run:
    /// deleting it would let a run lock a file another run has just
    /// replaced.
    async fn try_lock(&mut self) -> Result<RunLock, EngineError> {
        let path = self.lock_path();
        let file = self
            .blocking(move |conn| {
                let mut file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&path)
                    .map_err(|e| lock_error(&path, &e))?;
                match file.try_lock() {
                    Ok(()) => {}
                    Err(TryLockError::WouldBlock) => {
                        let mut holder = String::new();
                        // Empty while the holder is still writing it.
                        let _ = file.read_to_string(&mut holder);
                        let holder = holder.trim();
                        return Err(EngineError::LockHeld {
                            holder: (!holder.is_empty()).then(|| holder.to_string()),
                        });
                    }
                    Err(TryLockError::Error(error)) => return Err(lock_error(&path, &error)),
                }
                let since: String = conn
                    .query_row("SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now')", [], |row| {
                        row.get(0)
                    })
                    .map_err(|e| sql_error("strftime", &e))?;
                let holder = holder_text(std::process::id(), &since);
                file.set_len(0)
                    .and_then(|()| file.seek(SeekFrom::Start(0)))
                    .and_then(|_| file.write_all(holder.as_bytes()))
                    .map_err(|e| lock_error(&path, &e))?;
                Ok(file)
            })
            .await?;
        self.run_lock = Some(file);
        Ok(RunLock { _held: () })
    }

    async fn unlock(&mut self, _lock: RunLock) -> Result<(), EngineError> {
        let path = self.lock_path();
        let file = self.run_lock.take().ok_or_else(|| {
            EngineError::Unsupported(format!(
                "the run lock on {} was not held by this connection",
                path.display()
            ))
        })?;
        // Cleared first, so that no one reads a released lock's holder.
        file.set_len(0)
            .and_then(|()| file.unlock())
            .map_err(|e| lock_error(&path, &e))
    }

    async fn history(&mut self) -> Result<Vec<HistoryRecord>, EngineError> {
        self.blocking(|conn| read_history(conn)).await
    }

    async fn record(&mut self, _lock: &RunLock, record: &HistoryRecord) -> Result<(), EngineError> {
        let ready = self.history_ready;
        let record = record.clone();
        self.blocking(move |conn| {
            if !ready {
                conn.execute_batch(HISTORY_DDL)
                    .map_err(|e| sql_error(HISTORY_DDL, &e))?;
            }
            conn.execute(
                HISTORY_UPSERT,
                rusqlite::params![
                    i64::from(record.version),
                    record.plan_hash,
                    record.phase,
                    record.task_id,
                    record.status.name(),
                    record.started_at,
                    record.finished_at,
                    record.error,
                ],
            )
            .map_err(|e| sql_error(HISTORY_UPSERT, &e))?;
            Ok(())
        })
        .await?;
        self.history_ready = true;
        Ok(())
    }

    async fn introspect(&mut self) -> Result<Schema, EngineError> {
        // One read transaction: one snapshot of the whole catalog.
        self.blocking(|conn| {
            let tx = conn.transaction().map_err(|e| sql_error("BEGIN", &e))?;
            let schema = read_schema(&tx)?;
            tx.commit().map_err(|e| sql_error("COMMIT", &e))?;
            Ok(schema)
        })
        .await
    }

    async fn effect_present(&mut self, effect: &Effect) -> Result<bool, EngineError> {
        let effect = effect.clone();
        self.blocking(move |conn| effect_present(conn, &effect))
            .await
    }

    async fn execute(
        &mut self,
        _lock: &RunLock,
        step: &SqlStep,
        policy: &LockPolicy,
    ) -> Result<u32, EngineError> {
        // Statements of a non-transactional step that completed in an earlier
        // attempt are not run again.
        let mut completed = 0;
        let mut retries = Retries::new(policy, policy.lock_timeout);
        loop {
            let statements = step.statements.clone();
            let transactional = step.transactional;
            let timeout = policy.lock_timeout;
            let (outcome, done) = self
                .blocking(move |conn| {
                    with_busy_timeout(conn, timeout, |conn| {
                        let outcome = if transactional {
                            run_transaction(conn, &statements)?
                        } else {
                            run_one_by_one(conn, &statements, &mut completed)?
                        };
                        Ok((outcome, completed))
                    })
                })
                .await?;
            completed = done;
            match outcome {
                Attempt::Done(()) => return Ok(retries.attempt()),
                Attempt::Blocked { statement } => retries.blocked(statement).await?,
            }
        }
    }

    /// SQLite's table rebuild (see `rebuild`): waits for the write lock
    /// with the policy's timeout and retries like `execute`; once it has
    /// the lock, other writers wait for the whole copy.
    async fn rebuild(
        &mut self,
        _lock: &RunLock,
        step: &RebuildStep,
        policy: &LockPolicy,
    ) -> Result<u32, EngineError> {
        let mut retries = Retries::new(policy, policy.lock_timeout);
        loop {
            let step = step.clone();
            let timeout = policy.lock_timeout;
            let outcome = self
                .blocking(move |conn| {
                    with_busy_timeout(conn, timeout, |conn| rebuild::rebuild_attempt(conn, &step))
                })
                .await?;
            match outcome {
                Attempt::Done(_) => return Ok(retries.attempt()),
                Attempt::Blocked { statement } => retries.blocked(statement).await?,
            }
        }
    }

    async fn count(&mut self, sql: &str) -> Result<i64, EngineError> {
        let owned = sql.to_string();
        let rows = self.blocking(move |conn| text_rows(conn, &owned)).await?;
        count_of(sql, &rows)
    }

    async fn sample(&mut self, sql: &str) -> Result<Vec<Vec<String>>, EngineError> {
        let owned = sql.to_string();
        let rows = self.blocking(move |conn| text_rows(conn, &owned)).await?;
        Ok(sample_of(rows))
    }

    async fn backfill_batch(
        &mut self,
        _lock: &RunLock,
        step: &BackfillStep,
        lower: Option<&[KeyValue]>,
        policy: &LockPolicy,
    ) -> Result<BatchOutcome, EngineError> {
        let lower: Vec<KeyValue> = lower.map(<[KeyValue]>::to_vec).unwrap_or_default();
        let mut retries = Retries::new(policy, policy.lock_timeout);
        loop {
            let step = step.clone();
            let lower = lower.clone();
            let timeout = policy.lock_timeout;
            let outcome = self
                .blocking(move |conn| {
                    with_busy_timeout(conn, timeout, |conn| backfill_attempt(conn, &step, &lower))
                })
                .await?;
            match outcome {
                Attempt::Done(outcome) => return Ok(outcome),
                Attempt::Blocked { statement } => retries.blocked(statement).await?,
            }
        }
    }

    async fn estimate_rows(&mut self, table: &str) -> Result<Option<u64>, EngineError> {
        let table = table.to_string();
        self.blocking(move |conn| {
            let stat1 = exists(
                conn,
                "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_stat1')",
                &[],
            )?;
            if stat1 {
                stat1_rows(conn, &table)
            } else {
                Ok(None)
            }
        })
        .await
    }

    /// SQLite has no replicas of its own.
    async fn replica_lag(&mut self) -> Result<Option<Duration>, EngineError> {
        Ok(None)
    }

    /// No server: the other writers are processes SQLite does not count.
    async fn running_statements(&mut self) -> Result<Option<u64>, EngineError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    use super::*;

    /// A fresh folder for one test's database files, removed when dropped
    /// (also when the test fails).
    struct Folder(PathBuf);

    impl Folder {
        fn new(name: &str) -> Self {
            static COUNTER: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "zerodown-sqlite-{}-{}-{name}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Folder(path)
        }

        fn db(&self) -> PathBuf {
            self.0.join("test.db")
        }

        fn url(&self) -> DatabaseUrl {
            DatabaseUrl::parse(&format!("sqlite://{}", self.db().display())).unwrap()
        }

        /// A connection of its own, as an application process would have.
        fn app(&self, setup: &str) -> Connection {
            let conn = Connection::open(self.db()).unwrap();
            conn.busy_timeout(DEFAULT_BUSY_TIMEOUT).unwrap();
            conn.execute_batch(setup).unwrap();
            conn
        }

        async fn engine(&self, setup: &str) -> Sqlite {
            let engine = connect(&self.url()).await.unwrap();
            drop(self.app(setup));
            engine
        }
    }

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn policy(lock_timeout_ms: u64, max_attempts: u32) -> LockPolicy {
        LockPolicy {
            lock_timeout: Duration::from_millis(lock_timeout_ms),
            concurrent_lock_timeout: Duration::from_millis(lock_timeout_ms),
            max_attempts,
            backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            ..LockPolicy::default()
        }
    }

    fn sql_step(statements: &[&str], transactional: bool, effect: Effect) -> SqlStep {
        SqlStep {
            statements: statements.iter().map(|s| s.to_string()).collect(),
            transactional,
            lock: "test".to_string(),
            effect,
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// A connection holding the write lock in an open transaction, released
    /// (committed) by another thread after `hold`.
    fn hold_write_lock(folder: &Folder, hold: Duration) -> std::thread::JoinHandle<()> {
        let holder = folder.app("BEGIN IMMEDIATE; CREATE TABLE held (x int)");
        std::thread::spawn(move || {
            std::thread::sleep(hold);
            holder.execute_batch("COMMIT").unwrap();
        })
    }

    #[test]
    fn urls_name_the_file() {
        let cases = [
            ("sqlite://data/app.db", Ok("data/app.db")),
            ("sqlite:///var/lib/app.db", Ok("/var/lib/app.db")),
            ("SQLITE://app.db", Ok("app.db")),
            ("sqlite://", Err("the URL names no file")),
            ("sqlite://:memory:", Err("an in-memory database disappears")),
            (
                "sqlite://app.db?mode=ro",
                Err("a sqlite:// URL takes no parameters"),
            ),
        ];
        for (raw, expected) in cases {
            match (database_path(raw), expected) {
                (Ok(path), Ok(expected)) => assert_eq!(path, PathBuf::from(expected), "{raw}"),
                (Err(message), Err(expected)) => {
                    assert!(message.starts_with(expected), "{raw}: {message}")
                }
                (got, _) => panic!("{raw}: {got:?}"),
            }
        }
    }

    #[tokio::test]
    async fn connect_creates_the_file_in_wal_mode_and_names_it_canonically() {
        let folder = Folder::new("identity");
        std::fs::create_dir(folder.0.join("sub")).unwrap();
        // A path through `sub/..` is the same file as the plain one.
        let roundabout = folder.0.join("sub").join("..").join("test.db");
        let url = DatabaseUrl::parse(&format!("sqlite://{}", roundabout.display())).unwrap();
        assert!(!folder.db().exists());
        let mut engine = connect(&url).await.unwrap();
        assert!(folder.db().exists(), "created");
        let identity = engine.identity().await.unwrap();
        assert_eq!(
            identity,
            DatabaseIdentity {
                engine: EngineKind::Sqlite,
                server: std::fs::canonicalize(folder.db())
                    .unwrap()
                    .display()
                    .to_string(),
                database: "main".to_string(),
            }
        );
        assert!(!identity.server.contains(".."));
        let mode: String = folder
            .app("")
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");

        std::fs::write(folder.0.join("notes.txt"), "not a database, just text").unwrap();
        let url =
            DatabaseUrl::parse(&format!("sqlite://{}/notes.txt", folder.0.display())).unwrap();
        match connect(&url).await {
            Err(EngineError::Connect { message, .. }) => {
                assert_eq!(message, "cannot switch to WAL mode: file is not a database")
            }
            other => panic!("expected a connect error, got {:?}", other.map(|_| ())),
        }
        let url =
            DatabaseUrl::parse(&format!("sqlite://{}/missing/x.db", folder.0.display())).unwrap();
        let error = connect(&url).await.map(|_| ()).unwrap_err().to_string();
        assert!(error.contains("cannot open"), "{error}");
    }

    const PROBE: &str = "ZERODOWN_SQLITE_LOCK_PROBE";

    /// Runs in a child process started by
    /// `run_lock_is_exclusive_across_connections_and_processes`, with the
    /// database URL and what to expect in `ZERODOWN_SQLITE_LOCK_PROBE`
    /// (`held <pid> <url>` or `free - <url>`). Does nothing when run
    /// otherwise.
    #[tokio::test]
    #[ignore = "a child process of run_lock_is_exclusive_across_connections_and_processes"]
    async fn lock_probe() {
        let Ok(probe) = std::env::var(PROBE) else {
            return;
        };
        let mut parts = probe.splitn(3, ' ');
        let (expect, pid, url) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let mut engine = connect(&DatabaseUrl::parse(url).unwrap()).await.unwrap();
        match (expect, engine.try_lock().await) {
            (
                "held",
                Err(EngineError::LockHeld {
                    holder: Some(holder),
                }),
            ) => {
                assert!(holder.starts_with(&format!("pid {pid}")), "{holder}")
            }
            ("free", Ok(lock)) => engine.unlock(lock).await.unwrap(),
            (expect, other) => panic!("expected the lock {expect}, got {other:?}"),
        }
    }

    fn probe_from_another_process(expect: &str, url: &DatabaseUrl) {
        let output = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "engine::sqlite::tests::lock_probe",
                "--ignored",
                "--test-threads=1",
            ])
            .env(
                PROBE,
                format!("{expect} {} {}", std::process::id(), url.expose()),
            )
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "probe ({expect}) failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[tokio::test]
    async fn run_lock_is_exclusive_across_connections_and_processes() {
        let folder = Folder::new("lock");
        let url = folder.url();
        let mut first = connect(&url).await.unwrap();
        let mut second = connect(&url).await.unwrap();
        let lock = first.try_lock().await.unwrap();
        match second.try_lock().await {
            Err(EngineError::LockHeld {
                holder: Some(holder),
            }) => {
                assert!(
                    holder.starts_with(&format!("pid {}", std::process::id())),
                    "{holder}"
                );
                assert!(holder.contains(", since 20"), "{holder}");
            }
            other => panic!("expected LockHeld, got {other:?}"),
        }
        probe_from_another_process("held", &url);

        first.unlock(lock).await.unwrap();
        probe_from_another_process("free", &url);
        let lock = second.try_lock().await.unwrap();
        // The side file stays; only a held lock has a holder in it.
        let lock_file = PathBuf::from(format!(
            "{}{LOCK_FILE_SUFFIX}",
            std::fs::canonicalize(folder.db()).unwrap().display()
        ));
        assert!(std::fs::read_to_string(&lock_file)
            .unwrap()
            .starts_with("pid "));
        second.unlock(lock).await.unwrap();
        assert_eq!(std::fs::read_to_string(&lock_file).unwrap(), "");

        // A run that ends without unlocking leaves no lock behind: the OS
        // closes the file when the process dies, as this drop does.
        let _never_unlocked = first.try_lock().await.unwrap();
        drop(first);
        let lock = second.try_lock().await.unwrap();
        second.unlock(lock).await.unwrap();
    }

    #[tokio::test]
    async fn history_round_trips_and_upserts() {
        let folder = Folder::new("history");
        let mut engine = connect(&folder.url()).await.unwrap();
        assert_eq!(engine.history().await.unwrap(), vec![]);
        let lock = engine.try_lock().await.unwrap();
        let running = HistoryRecord {
            version: 2,
            plan_hash: "abc123".to_string(),
            phase: "expand".to_string(),
            task_id: "v2/expand/add-column/users.note/add-column".to_string(),
            status: TaskStatus::Running,
            started_at: Some("2026-11-21T10:00:00Z".to_string()),
            finished_at: None,
            error: None,
        };
        // Started a fraction of a second earlier: ordered by time, not text.
        let earlier = HistoryRecord {
            task_id: "v2/expand/create-index/orders_idx/create-index".to_string(),
            status: TaskStatus::Done,
            started_at: Some("2026-11-21T09:59:59.5Z".to_string()),
            finished_at: Some("2026-11-21T10:00:00Z".to_string()),
            ..running.clone()
        };
        let pending = HistoryRecord {
            task_id: "v2/contract/drop-column/users.name/drop-column".to_string(),
            status: TaskStatus::Pending,
            started_at: None,
            ..running.clone()
        };
        for record in [&running, &earlier, &pending] {
            engine.record(&lock, record).await.unwrap();
        }
        assert_eq!(
            engine.history().await.unwrap(),
            vec![earlier.clone(), running.clone(), pending.clone()]
        );

        let failed = HistoryRecord {
            status: TaskStatus::Failed,
            finished_at: Some("2026-11-21T10:00:01.25Z".to_string()),
            error: Some("database is locked".to_string()),
            ..running.clone()
        };
        engine.record(&lock, &failed).await.unwrap();
        assert_eq!(
            engine.history().await.unwrap(),
            vec![earlier, failed, pending]
        );
        // Another connection (a later run) reads the same rows.
        let mut later = connect(&folder.url()).await.unwrap();
        assert_eq!(later.history().await.unwrap().len(), 3);
        engine.unlock(lock).await.unwrap();
        // The history table is not part of the model.
        assert!(later.introspect().await.unwrap().tables.is_empty());
    }

    const SHOP: &str = r#"
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            email varchar(200) NOT NULL,
            name TEXT DEFAULT 'anon',
            created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
            nickname TEXT DEFAULT NULL,
            CONSTRAINT users_email_key UNIQUE (email)
        );
        CREATE TABLE orders (
            id INTEGER NOT NULL,
            user_id INTEGER NOT NULL REFERENCES users (id),
            total NUMERIC CHECK (total >= 0),
            code TEXT UNIQUE,
            note TEXT,
            CONSTRAINT orders_pkey PRIMARY KEY (id),
            CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users
        );
        CREATE INDEX orders_open_idx ON orders (user_id, lower(note)) WHERE note IS NOT NULL;
        CREATE UNIQUE INDEX users_lower_email ON users (lower(email));
        CREATE VIEW user_emails AS SELECT id, email FROM users;
        CREATE TABLE "Mixed Case" ("Id" int, "Two" text, PRIMARY KEY ("Two", "Id")) WITHOUT ROWID;
        CREATE TABLE loose (code TEXT PRIMARY KEY, n int);
        CREATE TABLE measures (
            id INTEGER PRIMARY KEY,
            cm REAL,
            mm REAL GENERATED ALWAYS AS (cm * 10) VIRTUAL
        );
        CREATE TRIGGER users_touch AFTER UPDATE ON users BEGIN SELECT 1; END;
        CREATE TABLE zerodown_history (x int);
    "#;

    fn column(name: &str, data_type: &str, nullable: bool, default: Option<&str>) -> Column {
        Column {
            name: name.to_string(),
            data_type: data_type.to_string(),
            nullable,
            default: default.map(str::to_string),
            drop_at: None,
        }
    }

    fn constraint(name: &str, kind: ConstraintKind) -> Constraint {
        Constraint {
            name: name.to_string(),
            kind,
            validated: true,
        }
    }

    #[tokio::test]
    async fn introspect_reads_the_main_database() {
        let folder = Folder::new("introspect");
        let mut engine = folder.engine(SHOP).await;
        folder.app(
            "INSERT INTO users (email) WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 50) \
             SELECT 'u' || n FROM g; ANALYZE users",
        );
        let schema = engine.introspect().await.unwrap();

        assert_eq!(
            schema.tables.keys().collect::<Vec<_>>(),
            ["Mixed Case", "loose", "measures", "orders", "users"]
        );
        let users = &schema.tables["users"];
        assert_eq!(
            users.columns,
            vec![
                column("id", "INTEGER", false, None),
                column("email", "varchar(200)", false, None),
                column("name", "TEXT", true, Some("'anon'")),
                column("created_at", "TEXT", false, Some("CURRENT_TIMESTAMP")),
                column("nickname", "TEXT", true, None),
            ]
        );
        assert_eq!(users.primary_key, ["id"]);
        assert_eq!(users.row_estimate, Some(50));
        assert_eq!(
            users.constraints.values().cloned().collect::<Vec<_>>(),
            vec![
                constraint(
                    "users_email_key",
                    ConstraintKind::Unique {
                        columns: strings(&["email"])
                    }
                ),
                constraint(
                    "users_pkey",
                    ConstraintKind::PrimaryKey {
                        columns: strings(&["id"])
                    }
                ),
            ]
        );

        let orders = &schema.tables["orders"];
        assert_eq!(
            orders.columns,
            vec![
                column("id", "INTEGER", false, None),
                column("user_id", "INTEGER", false, None),
                column("total", "NUMERIC", true, None),
                column("code", "TEXT", true, None),
                column("note", "TEXT", true, None),
            ]
        );
        assert_eq!(orders.row_estimate, None, "never analysed");
        let fk = |name: &str| {
            constraint(
                name,
                ConstraintKind::ForeignKey {
                    columns: strings(&["user_id"]),
                    ref_table: "users".into(),
                    ref_columns: strings(&["id"]),
                },
            )
        };
        assert_eq!(
            orders.constraints.values().cloned().collect::<Vec<_>>(),
            vec![
                constraint(
                    "orders_code_key",
                    ConstraintKind::Unique {
                        columns: strings(&["code"])
                    }
                ),
                constraint(
                    "orders_pkey",
                    ConstraintKind::PrimaryKey {
                        columns: strings(&["id"])
                    }
                ),
                constraint(
                    "orders_total_check",
                    ConstraintKind::Check {
                        expr: "total >= 0".into()
                    }
                ),
                fk("orders_user_fk"),
                fk("orders_user_id_fkey"),
            ]
        );

        let mixed = &schema.tables["Mixed Case"];
        assert_eq!(mixed.primary_key, ["Two", "Id"]);
        assert_eq!(
            mixed.columns,
            // SQLite spells the types it knows in capitals.
            vec![
                column("Id", "INT", false, None),
                column("Two", "TEXT", false, None)
            ],
            "WITHOUT ROWID keys are NOT NULL"
        );
        assert_eq!(
            schema.tables["loose"].columns[0],
            column("code", "TEXT", true, None),
            "a TEXT key of a rowid table accepts NULL"
        );
        assert_eq!(
            schema.tables["measures"].columns,
            vec![
                column("id", "INTEGER", false, None),
                column("cm", "REAL", true, None),
                column("mm", "REAL", true, None),
            ]
        );

        assert_eq!(
            schema.indexes.keys().collect::<Vec<_>>(),
            ["orders_open_idx", "users_lower_email"],
            "the indexes of PRIMARY KEY and UNIQUE are their constraints'"
        );
        assert_eq!(
            schema.indexes["orders_open_idx"],
            Index {
                name: "orders_open_idx".into(),
                table: "orders".into(),
                keys: strings(&["\"user_id\"", "lower(note)"]),
                columns: strings(&["user_id"]),
                unique: false,
                predicate: Some("note IS NOT NULL".into()),
                drop_at: None,
            }
        );
        assert_eq!(
            schema.indexes["users_lower_email"],
            Index {
                name: "users_lower_email".into(),
                table: "users".into(),
                keys: strings(&["lower(email)"]),
                columns: vec![],
                unique: true,
                predicate: None,
                drop_at: None,
            }
        );

        assert_eq!(schema.views.keys().collect::<Vec<_>>(), ["user_emails"]);
        assert_eq!(
            schema.views["user_emails"].sql,
            "CREATE VIEW user_emails AS SELECT id, email FROM users"
        );
    }

    #[tokio::test]
    async fn effects_read_the_catalog() {
        let folder = Folder::new("effects");
        let mut engine = folder.engine(SHOP).await;
        let s = |v: &str| v.to_string();
        let cases: Vec<(Effect, bool)> = vec![
            (Effect::TableExists { table: s("users") }, true),
            (Effect::TableExists { table: s("USERS") }, true),
            (
                Effect::TableExists {
                    table: s("user_emails"),
                },
                false,
            ),
            (
                Effect::TableExists {
                    table: s("Mixed Case"),
                },
                true,
            ),
            (Effect::TableAbsent { table: s("ghosts") }, true),
            (Effect::TableAbsent { table: s("orders") }, false),
            (
                Effect::ColumnExists {
                    table: s("users"),
                    column: s("email"),
                },
                true,
            ),
            (
                Effect::ColumnExists {
                    table: s("users"),
                    column: s("Email"),
                },
                true,
            ),
            (
                Effect::ColumnExists {
                    table: s("users"),
                    column: s("rowid"),
                },
                false,
            ),
            (
                Effect::ColumnExists {
                    table: s("user_emails"),
                    column: s("email"),
                },
                false,
            ),
            (
                Effect::ColumnExists {
                    table: s("measures"),
                    column: s("mm"),
                },
                true,
            ),
            (
                Effect::ColumnAbsent {
                    table: s("users"),
                    column: s("phone"),
                },
                true,
            ),
            (
                Effect::ColumnAbsent {
                    table: s("users"),
                    column: s("name"),
                },
                false,
            ),
            (
                Effect::ColumnAbsent {
                    table: s("ghosts"),
                    column: s("name"),
                },
                true,
            ),
            (
                Effect::ColumnNotNull {
                    table: s("users"),
                    column: s("email"),
                },
                true,
            ),
            (
                Effect::ColumnNotNull {
                    table: s("users"),
                    column: s("id"),
                },
                true,
            ),
            (
                Effect::ColumnNotNull {
                    table: s("users"),
                    column: s("name"),
                },
                false,
            ),
            (
                Effect::ColumnNullable {
                    table: s("users"),
                    column: s("name"),
                },
                true,
            ),
            (
                Effect::ColumnNullable {
                    table: s("users"),
                    column: s("email"),
                },
                false,
            ),
            (
                Effect::ColumnNullable {
                    table: s("users"),
                    column: s("phone"),
                },
                false,
            ),
            (
                Effect::ColumnHasDefault {
                    table: s("users"),
                    column: s("name"),
                },
                true,
            ),
            (
                Effect::ColumnHasDefault {
                    table: s("users"),
                    column: s("created_at"),
                },
                true,
            ),
            (
                Effect::ColumnHasDefault {
                    table: s("users"),
                    column: s("email"),
                },
                false,
            ),
            (
                Effect::ColumnHasDefault {
                    table: s("users"),
                    column: s("nickname"),
                },
                false,
            ),
            (
                Effect::ColumnHasNoDefault {
                    table: s("users"),
                    column: s("email"),
                },
                true,
            ),
            (
                Effect::ColumnHasNoDefault {
                    table: s("users"),
                    column: s("name"),
                },
                false,
            ),
            (
                Effect::ColumnType {
                    table: s("users"),
                    column: s("email"),
                    data_type: s("VARCHAR( 200 )"),
                },
                true,
            ),
            (
                Effect::ColumnType {
                    table: s("users"),
                    column: s("email"),
                    data_type: s("varchar(100)"),
                },
                false,
            ),
            (
                Effect::ColumnType {
                    table: s("users"),
                    column: s("name"),
                    data_type: s("text"),
                },
                true,
            ),
            (
                Effect::IndexValid {
                    index: s("orders_open_idx"),
                },
                true,
            ),
            (
                Effect::IndexValid {
                    index: s("users_name_idx"),
                },
                false,
            ),
            (
                Effect::IndexAbsent {
                    index: s("users_name_idx"),
                },
                true,
            ),
            (
                Effect::IndexAbsent {
                    index: s("users_lower_email"),
                },
                false,
            ),
            (
                Effect::ConstraintExists {
                    table: s("orders"),
                    constraint: s("orders_user_fk"),
                },
                true,
            ),
            (
                Effect::ConstraintExists {
                    table: s("orders"),
                    constraint: s("orders_total_check"),
                },
                true,
            ),
            (
                Effect::ConstraintExists {
                    table: s("users"),
                    constraint: s("orders_user_fk"),
                },
                false,
            ),
            (
                Effect::ConstraintValidated {
                    table: s("orders"),
                    constraint: s("orders_user_id_fkey"),
                },
                true,
            ),
            (
                Effect::ConstraintAbsent {
                    table: s("orders"),
                    constraint: s("orders_pkey"),
                },
                false,
            ),
            (
                Effect::ConstraintAbsent {
                    table: s("orders"),
                    constraint: s("orders_gone"),
                },
                true,
            ),
            (
                Effect::TriggerExists {
                    table: s("users"),
                    trigger: s("users_touch"),
                },
                true,
            ),
            (
                Effect::TriggerExists {
                    table: s("orders"),
                    trigger: s("users_touch"),
                },
                false,
            ),
            (
                Effect::TriggerAbsent {
                    table: s("users"),
                    trigger: s("users_sync"),
                },
                true,
            ),
            (
                Effect::TriggerAbsent {
                    table: s("users"),
                    trigger: s("users_touch"),
                },
                false,
            ),
            (
                Effect::ViewExists {
                    view: s("user_emails"),
                },
                true,
            ),
            (Effect::ViewExists { view: s("users") }, false),
            (
                Effect::ViewAbsent {
                    view: s("user_emails"),
                },
                false,
            ),
            (
                Effect::ViewAbsent {
                    view: s("old_view"),
                },
                true,
            ),
            (Effect::RecordedOnly, false),
            (Effect::Rerunnable, false),
        ];
        for (effect, expected) in cases {
            assert_eq!(
                engine.effect_present(&effect).await.unwrap(),
                expected,
                "{effect:?}"
            );
        }
    }

    #[tokio::test]
    async fn execute_runs_a_step_in_one_transaction() {
        let folder = Folder::new("execute");
        let mut engine = folder
            .engine("CREATE TABLE t (id INTEGER PRIMARY KEY, code TEXT)")
            .await;
        let lock = engine.try_lock().await.unwrap();
        let effect = Effect::ColumnExists {
            table: "t".into(),
            column: "note".into(),
        };
        let broken = sql_step(
            &[
                "ALTER TABLE t ADD COLUMN note TEXT",
                "CREATE INDEX t_note_idx ON t (missing)",
            ],
            true,
            effect.clone(),
        );
        match engine.execute(&lock, &broken, &policy(100, 3)).await {
            Err(EngineError::Sql { statement, message }) => assert_eq!(
                (statement.as_str(), message.as_str()),
                (
                    broken.statements[1].as_str(),
                    "no such column: missing (at byte 30 of the statement)"
                )
            ),
            other => panic!("expected an SQL error, got {other:?}"),
        }
        assert!(
            !engine.effect_present(&effect).await.unwrap(),
            "rolled back"
        );

        // A trigger body holds `;` of its own; one statement all the same.
        let step = sql_step(
            &[
                "ALTER TABLE t ADD COLUMN note TEXT",
                "CREATE TRIGGER t_sync AFTER INSERT ON t BEGIN UPDATE t SET note = NEW.code WHERE id = NEW.id; END",
            ],
            true,
            effect.clone(),
        );
        assert_eq!(
            engine.execute(&lock, &step, &policy(100, 3)).await.unwrap(),
            1
        );
        assert!(engine.effect_present(&effect).await.unwrap());
        folder.app("INSERT INTO t (code) VALUES ('x')");
        assert_eq!(
            engine
                .count("SELECT count(*) FROM t WHERE note = 'x'")
                .await
                .unwrap(),
            1
        );
        engine.unlock(lock).await.unwrap();
    }

    #[tokio::test]
    async fn execute_retries_while_another_connection_writes() {
        let folder = Folder::new("busy");
        let mut engine = folder
            .engine("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .await;
        let lock = engine.try_lock().await.unwrap();
        let effect = Effect::ColumnExists {
            table: "t".into(),
            column: "note".into(),
        };
        for transactional in [true, false] {
            let step = sql_step(
                &["ALTER TABLE t ADD COLUMN note TEXT"],
                transactional,
                effect.clone(),
            );
            let holder = hold_write_lock(&folder, Duration::from_millis(600));
            match engine.execute(&lock, &step, &policy(100, 2)).await {
                Err(EngineError::LockTimeout {
                    statement,
                    attempts: 2,
                    timeout_ms: 100,
                }) => assert_eq!(statement, step.statements[0]),
                other => panic!("expected LockTimeout, got {other:?}"),
            }
            assert!(!engine.effect_present(&effect).await.unwrap());
            holder.join().unwrap();
            folder.app("DROP TABLE held");
        }

        let step = sql_step(
            &["ALTER TABLE t ADD COLUMN note TEXT"],
            true,
            effect.clone(),
        );
        let holder = hold_write_lock(&folder, Duration::from_millis(700));
        let attempts = engine
            .execute(&lock, &step, &policy(100, 50))
            .await
            .unwrap();
        holder.join().unwrap();
        assert!(attempts > 1, "waited for the holder: {attempts} attempt(s)");
        assert!(engine.effect_present(&effect).await.unwrap());
        engine.unlock(lock).await.unwrap();
    }

    struct BackfillCase {
        name: &'static str,
        setup: &'static str,
        table: &'static str,
        key: &'static [&'static str],
    }

    const BACKFILLS: &[BackfillCase] = &[
        BackfillCase {
            name: "integer key",
            setup: "CREATE TABLE items (id INTEGER PRIMARY KEY, n int NOT NULL DEFAULT 0);
                    INSERT INTO items (id) WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 10000)
                    SELECT n * 3 FROM g",
            table: "items",
            key: &["id"],
        },
        BackfillCase {
            name: "text key",
            setup: "CREATE TABLE items (code TEXT PRIMARY KEY, n int NOT NULL DEFAULT 0);
                    INSERT INTO items (code) WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 10000)
                    SELECT printf('%08x', (n * 2654435761) % 4294967296) FROM g",
            table: "items",
            key: &["code"],
        },
        BackfillCase {
            name: "composite key, quoted names",
            setup: r#"CREATE TABLE "Line Items" ("Order" INTEGER, "Sku" TEXT, n int NOT NULL DEFAULT 0, PRIMARY KEY ("Order", "Sku"));
                    INSERT INTO "Line Items" ("Order", "Sku") WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 10000)
                    SELECT n % 7, 'sku-' || n FROM g"#,
            table: "Line Items",
            key: &["Order", "Sku"],
        },
        BackfillCase {
            name: "blob key with zero bytes",
            setup: "CREATE TABLE items (tag BLOB PRIMARY KEY, n int NOT NULL DEFAULT 0);
                    INSERT INTO items (tag) WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 10000)
                    SELECT unhex(printf('00%08xff', (n * 2654435761) % 4294967296)) FROM g",
            table: "items",
            key: &["tag"],
        },
    ];

    fn backfill_step(table: &str, key: &[&str]) -> BackfillStep {
        BackfillStep {
            engine: EngineKind::Sqlite,
            table: table.to_string(),
            key: strings(key),
            set: "\"n\" = \"n\" + 1".to_string(),
            // Every row in range is updated: ranges that overlapped or left a
            // gap would show as n <> 1.
            pending: "TRUE".to_string(),
            batch_size: 1000,
            pause_ms: 0,
        }
    }

    /// Run up to `max` batches from `lower`: the rows of each, and where
    /// the walk stands (`None`: done).
    async fn walk(
        engine: &mut Sqlite,
        lock: &RunLock,
        step: &BackfillStep,
        mut lower: Option<Vec<KeyValue>>,
        max: usize,
    ) -> (Vec<u64>, Option<Vec<KeyValue>>) {
        let mut rows = Vec::new();
        while rows.len() < max {
            let outcome = engine
                .backfill_batch(lock, step, lower.as_deref(), &policy(100, 3))
                .await
                .unwrap();
            rows.push(outcome.rows);
            match outcome.upper {
                Some(upper) => {
                    assert!(
                        lower.as_ref().is_none_or(|l| upper > *l),
                        "keys advance: {upper:?}"
                    );
                    lower = Some(upper);
                }
                None => return (rows, None),
            }
        }
        (rows, lower)
    }

    #[tokio::test]
    async fn backfill_walks_every_row_once_and_resumes_from_a_key() {
        for case in BACKFILLS {
            let folder = Folder::new("backfill");
            let step = backfill_step(case.table, case.key);
            let mut engine = folder.engine(case.setup).await;
            let lock = engine.try_lock().await.unwrap();
            let (first, saved) = walk(&mut engine, &lock, &step, None, 3).await;
            assert_eq!(first, [1000; 3], "{}", case.name);
            assert!(saved.is_some());
            engine.unlock(lock).await.unwrap();
            drop(engine);

            // A new process resumes from the saved key, as the state file
            // holds it.
            let saved = serde_json::to_string(&saved).unwrap();
            let saved = serde_json::from_str(&saved).unwrap();
            let mut engine = connect(&folder.url()).await.unwrap();
            let lock = engine.try_lock().await.unwrap();
            let (rest, end) = walk(&mut engine, &lock, &step, saved, usize::MAX).await;
            assert_eq!(end, None);
            assert_eq!(rest, [vec![1000; 7], vec![0]].concat(), "{}", case.name);
            let check = format!(
                "SELECT count(*) FROM {} WHERE n <> 1",
                EngineKind::Sqlite.quote_ident(case.table)
            );
            assert_eq!(engine.count(&check).await.unwrap(), 0, "{}", case.name);
            engine.unlock(lock).await.unwrap();
        }
    }

    #[tokio::test]
    async fn backfill_waits_for_the_write_lock_with_retries() {
        let folder = Folder::new("backfill-busy");
        let mut engine = folder.engine(BACKFILLS[0].setup).await;
        let lock = engine.try_lock().await.unwrap();
        let step = backfill_step("items", &["id"]);
        let holder = hold_write_lock(&folder, Duration::from_millis(700));
        match engine
            .backfill_batch(&lock, &step, None, &policy(100, 2))
            .await
        {
            Err(EngineError::LockTimeout {
                statement,
                attempts: 2,
                timeout_ms: 100,
            }) => assert_eq!(statement, step.upper_key_sql(false)),
            other => panic!("expected LockTimeout, got {other:?}"),
        }
        let outcome = engine
            .backfill_batch(&lock, &step, None, &policy(100, 50))
            .await
            .unwrap();
        holder.join().unwrap();
        assert_eq!(
            outcome,
            BatchOutcome {
                rows: 1000,
                upper: Some(vec![KeyValue::Int(3000)])
            }
        );
        assert_eq!(
            engine
                .count("SELECT count(*) FROM items WHERE n <> 0")
                .await
                .unwrap(),
            1000
        );
        engine.unlock(lock).await.unwrap();
    }

    #[tokio::test]
    async fn concurrent_writers_see_no_error_and_lose_no_row_during_a_backfill() {
        let folder = Folder::new("backfill-concurrent");
        let mut engine = folder.engine(BACKFILLS[0].setup).await;
        let lock = engine.try_lock().await.unwrap();
        let mut step = backfill_step("items", &["id"]);
        step.set = "\"n\" = 1".to_string();
        step.pending = "\"n\" = 0".to_string();

        // The application inserts between the backfill's keys and updates
        // rows ahead of it, each write in its own transaction, every
        // millisecond, for as long as the backfill runs. (Writing in a
        // tight loop would starve the backfill: SQLite's busy handler
        // sleeps, the writer never does.)
        let app = folder.app("");
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut written = 0i64;
                // Ids 3k + 1 are free: at most 10 000 of them.
                while !stop.load(Ordering::Relaxed) && written < 10_000 {
                    let id = 3 * written + 1;
                    app.execute("INSERT INTO items (id, n) VALUES (?1, 2)", [id])?;
                    app.execute("UPDATE items SET n = n WHERE id = ?1", [id + 2])?;
                    written += 1;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Ok::<i64, rusqlite::Error>(written)
            })
        };
        let mut batches = 0;
        let mut lower = None;
        loop {
            let outcome = engine
                .backfill_batch(&lock, &step, lower.as_deref(), &policy(200, 30))
                .await
                .unwrap();
            batches += 1;
            match outcome.upper {
                Some(upper) => lower = Some(upper),
                None => break,
            }
            // The executor's pause between batches, which lets writers in.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.store(true, Ordering::Relaxed);
        let written = writer
            .join()
            .unwrap()
            .expect("the application's writes succeed");
        assert!(
            written > 0 && batches > 1,
            "{written} writes, {batches} batches"
        );
        assert_eq!(
            engine.count("SELECT count(*) FROM items").await.unwrap(),
            10_000 + written
        );
        assert_eq!(
            engine
                .count("SELECT count(*) FROM items WHERE n = 2")
                .await
                .unwrap(),
            written,
            "the application's rows are its own"
        );
        assert_eq!(
            engine
                .count("SELECT count(*) FROM items WHERE id % 3 = 0 AND n <> 1")
                .await
                .unwrap(),
            0,
            "every original row backfilled"
        );
        engine.unlock(lock).await.unwrap();
    }

    #[tokio::test]
    async fn backfill_refuses_keys_it_cannot_walk() {
        let folder = Folder::new("backfill-keys");
        let mut engine = folder
            .engine("CREATE TABLE docs (id REAL PRIMARY KEY, n int NOT NULL DEFAULT 0); INSERT INTO docs (id) VALUES (1.5), (2.5)")
            .await;
        let lock = engine.try_lock().await.unwrap();
        let mut step = backfill_step("docs", &["id"]);
        step.batch_size = 1;
        match engine.backfill_batch(&lock, &step, None, &policy(100, 3)).await {
            Err(EngineError::Unsupported(message)) => assert_eq!(
                message,
                "a backfill walks the primary key, and key column id holds a real value (supported: integer, text and blob values, in a column of any type but REAL affinity (REAL, FLOAT, DOUBLE))"
            ),
            other => panic!("expected Unsupported, got {other:?}"),
        }
        assert_eq!(
            engine
                .count("SELECT count(*) FROM docs WHERE n <> 0")
                .await
                .unwrap(),
            0,
            "nothing updated"
        );
        // The transaction was rolled back: the next one can begin.
        let step = backfill_step("docs", &["n"]);
        engine
            .backfill_batch(&lock, &step, None, &policy(100, 3))
            .await
            .unwrap();
        engine.unlock(lock).await.unwrap();
    }

    #[tokio::test]
    async fn count_sample_estimates_and_lag() {
        let folder = Folder::new("count");
        let mut engine = folder
            .engine(
                "CREATE TABLE t (id INTEGER PRIMARY KEY, label TEXT, data BLOB);
                 INSERT INTO t (id, label) WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 500)
                 SELECT n, CASE WHEN n % 2 = 0 THEN 'even' END FROM g;
                 UPDATE t SET data = x'00ff' WHERE id = 2;
                 CREATE TABLE fresh (id int)",
            )
            .await;
        assert_eq!(
            engine
                .count("SELECT count(*) FROM t WHERE label IS NULL")
                .await
                .unwrap(),
            250
        );
        let bad = [
            (
                "SELECT 1, 2",
                "expected one row with one integer, got 1 row(s) with a NULL or several columns",
            ),
            (
                "SELECT NULL",
                "expected one row with one integer, got 1 row(s) with a NULL or several columns",
            ),
            (
                "SELECT 1 WHERE 0",
                "expected one row with one integer, got 0 row(s)",
            ),
            ("SELECT 'x'", "expected an integer, got `x`"),
            ("SELECT count(*) FROM missing", "no such table: missing"),
        ];
        for (sql, expected) in bad {
            match engine.count(sql).await {
                Err(EngineError::Sql { statement, message }) => {
                    assert_eq!((statement.as_str(), message.as_str()), (sql, expected))
                }
                other => panic!("{sql}: {other:?}"),
            }
        }
        assert_eq!(
            engine
                .sample("SELECT id, label, data FROM t ORDER BY id LIMIT 2")
                .await
                .unwrap(),
            vec![
                strings(&["1", "NULL", "NULL"]),
                strings(&["2", "even", "x'00ff'"])
            ]
        );
        assert_eq!(
            engine.estimate_rows("t").await.unwrap(),
            None,
            "never analysed"
        );
        folder.app("ANALYZE");
        assert_eq!(engine.estimate_rows("t").await.unwrap(), Some(500));
        assert_eq!(engine.estimate_rows("fresh").await.unwrap(), None);
        assert_eq!(engine.estimate_rows("missing").await.unwrap(), None);
        assert_eq!(engine.replica_lag().await.unwrap(), None);
    }

    // ---- table rebuilds ------------------------------------------------

    use crate::ops::RebuildEdit;

    fn rebuild_step(table: &str, edits: Vec<RebuildEdit>) -> RebuildStep {
        RebuildStep {
            table: table.to_string(),
            edits,
            lock: "test".to_string(),
        }
    }

    fn one_text(conn: &Connection, sql: &str) -> String {
        conn.query_row(sql, [], |row| row.get(0)).unwrap()
    }

    fn all_rows(conn: &Connection, sql: &str) -> Vec<Vec<Option<String>>> {
        text_rows(conn, sql).unwrap()
    }

    /// Every schema object but the rebuilt table's own SQL, as `type name
    /// tbl_name sql`.
    fn schema_objects(conn: &Connection) -> Vec<Vec<Option<String>>> {
        all_rows(
            conn,
            "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name",
        )
    }

    const REBUILD_SETUP: &str = "
        CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE items (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            team_id INTEGER,
            label TEXT COLLATE NOCASE,
            qty INT NOT NULL DEFAULT 1,
            note TEXT CHECK (length(note) < 100),
            CONSTRAINT items_label_key UNIQUE (label)
        );
        CREATE TABLE tags (id INTEGER PRIMARY KEY, item_id INTEGER REFERENCES items (id) ON DELETE CASCADE);
        CREATE INDEX items_team_idx ON items (team_id);
        CREATE INDEX items_note_idx ON items (note);
        CREATE TABLE audit (item_id INTEGER, what TEXT);
        CREATE TRIGGER items_audit AFTER INSERT ON items BEGIN INSERT INTO audit VALUES (new.id, 'insert'); END;
        CREATE VIEW big_items AS SELECT id, label FROM items WHERE qty > 10;
        INSERT INTO teams VALUES (1, 'a'), (2, 'b');
        INSERT INTO items (team_id, label, qty, note) WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 300)
            SELECT 1 + n % 2, 'item ' || n, n, CASE WHEN n % 3 = 0 THEN 'note ' || n END FROM g;
        INSERT INTO tags (item_id) SELECT id FROM items WHERE id % 10 = 0;
        DELETE FROM items WHERE id > 290;
    ";

    #[tokio::test]
    async fn rebuild_applies_each_edit_and_keeps_rows_indexes_triggers_views_and_counter() {
        let t = |s: &str| s.to_string();
        let cases: Vec<(RebuildEdit, &str)> = vec![
            (
                RebuildEdit::SetNotNull {
                    column: t("team_id"),
                },
                "team_id INTEGER NOT NULL",
            ),
            (
                RebuildEdit::DropNotNull { column: t("qty") },
                "qty INT DEFAULT 1,",
            ),
            (
                RebuildEdit::SetDefault {
                    column: t("qty"),
                    default: t("2"),
                },
                "qty INT NOT NULL DEFAULT 2",
            ),
            (
                RebuildEdit::SetDefault {
                    column: t("note"),
                    default: t("lower('X')"),
                },
                "DEFAULT (lower('X'))",
            ),
            (
                RebuildEdit::DropDefault { column: t("qty") },
                "qty INT NOT NULL,",
            ),
            (
                RebuildEdit::AddCheck {
                    name: t("items_qty_positive"),
                    expr: t("qty > 0"),
                },
                "CONSTRAINT \"items_qty_positive\" CHECK (qty > 0)",
            ),
            (
                RebuildEdit::AddForeignKey {
                    name: t("items_team_fk"),
                    columns: vec![t("team_id")],
                    ref_table: t("teams"),
                    ref_columns: vec![t("id")],
                    actions: vec![],
                },
                "CONSTRAINT \"items_team_fk\" FOREIGN KEY",
            ),
            (
                RebuildEdit::DropConstraint {
                    name: t("items_note_check"),
                },
                "note TEXT,",
            ),
            (
                RebuildEdit::DropConstraint {
                    name: t("items_label_key"),
                },
                "",
            ),
            (RebuildEdit::DropColumn { column: t("note") }, ""),
        ];
        for (edit, in_sql) in cases {
            let folder = Folder::new("rebuild");
            let mut engine = folder.engine(REBUILD_SETUP).await;
            let app = folder.app("");
            let lock = engine.try_lock().await.unwrap();
            let before_rows = all_rows(
                &app,
                "SELECT id, team_id, label, qty FROM items ORDER BY id",
            );
            let before_objects = schema_objects(&app);
            let before_seq = one_text(
                &app,
                "SELECT CAST(seq AS TEXT) FROM sqlite_sequence WHERE name = 'items'",
            );
            let step = rebuild_step("items", vec![edit.clone()]);
            let effect = edit.effect("items");
            let label = format!("{edit:?}");
            if effect != Effect::Rerunnable {
                assert!(
                    !engine.effect_present(&effect).await.unwrap(),
                    "{label}: not yet"
                );
            }

            engine.rebuild(&lock, &step, &policy(200, 5)).await.unwrap();

            if effect != Effect::Rerunnable {
                assert!(
                    engine.effect_present(&effect).await.unwrap(),
                    "{label}: took effect"
                );
            }
            let sql = one_text(&app, "SELECT sql FROM sqlite_schema WHERE name = 'items'");
            assert!(sql.contains(in_sql), "{label}: `{in_sql}` in {sql}");
            assert!(sql.starts_with("CREATE TABLE \"items\""), "{label}: {sql}");
            assert_eq!(
                all_rows(
                    &app,
                    "SELECT id, team_id, label, qty FROM items ORDER BY id"
                ),
                before_rows,
                "{label}: every row kept"
            );
            let after_objects = schema_objects(&app);
            let names = |objects: &[Vec<Option<String>>]| -> Vec<(Option<String>, Option<String>)> {
                objects
                    .iter()
                    .map(|o| (o[0].clone(), o[1].clone()))
                    .collect()
            };
            let mut expected_names = names(&before_objects);
            if matches!(edit, RebuildEdit::DropColumn { .. }) {
                expected_names.retain(|(_, n)| n.as_deref() != Some("items_note_idx"));
            }
            if matches!(edit, RebuildEdit::DropConstraint { ref name } if name == "items_label_key")
            {
                expected_names.retain(|(_, n)| n.as_deref() != Some("sqlite_autoindex_items_1"));
            }
            assert_eq!(
                names(&after_objects),
                expected_names,
                "{label}: indexes, triggers, views kept"
            );
            // Objects other than the table keep their SQL word for word.
            for object in after_objects
                .iter()
                .filter(|o| o[1].as_deref() != Some("items"))
            {
                assert!(
                    before_objects.contains(object),
                    "{label}: {object:?} unchanged"
                );
            }
            assert_eq!(
                one_text(
                    &app,
                    "SELECT CAST(seq AS TEXT) FROM sqlite_sequence WHERE name = 'items'"
                ),
                before_seq,
                "{label}: AUTOINCREMENT goes on from the old counter"
            );
            assert_eq!(
                one_text(
                    &app,
                    "SELECT \"table\" FROM pragma_foreign_key_list('tags')"
                ),
                "items",
                "{label}: references to the table still point at it"
            );
            app.execute_batch("INSERT INTO items (team_id, label, qty) VALUES (1, 'new one', 50)")
                .unwrap();
            assert_eq!(
                one_text(&app, "SELECT CAST(max(id) AS TEXT) FROM items"),
                "301",
                "{label}"
            );
            assert_eq!(
                one_text(&app, "SELECT what FROM audit WHERE item_id = 301"),
                "insert",
                "{label}: trigger fires"
            );
            assert_eq!(
                one_text(&app, "SELECT label FROM big_items WHERE id = 301"),
                "new one",
                "{label}: view reads it"
            );
            assert_eq!(one_text(&app, "PRAGMA integrity_check"), "ok", "{label}");

            // Run again: nothing left to change, the table is not rebuilt.
            let sql_before = one_text(&app, "SELECT sql FROM sqlite_schema WHERE name = 'items'");
            let root_before = one_text(
                &app,
                "SELECT CAST(rootpage AS TEXT) FROM sqlite_schema WHERE name = 'items'",
            );
            engine.rebuild(&lock, &step, &policy(200, 5)).await.unwrap();
            assert_eq!(
                one_text(&app, "SELECT sql FROM sqlite_schema WHERE name = 'items'"),
                sql_before,
                "{label}"
            );
            assert_eq!(
                one_text(
                    &app,
                    "SELECT CAST(rootpage AS TEXT) FROM sqlite_schema WHERE name = 'items'"
                ),
                root_before,
                "{label}: a second run copies nothing"
            );
            engine.unlock(lock).await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_rebuild_that_fails_leaves_the_old_table() {
        let t = |s: &str| s.to_string();
        let cases: Vec<(&str, RebuildEdit, &str)> = vec![
            (
                "INSERT INTO items (team_id, label) VALUES (9, 'orphan')",
                RebuildEdit::AddForeignKey {
                    name: t("items_team_fk"),
                    columns: vec![t("team_id")],
                    ref_table: t("teams"),
                    ref_columns: vec![t("id")],
                    actions: vec![],
                },
                "1 row(s) of items reference no row of their parent table",
            ),
            (
                "INSERT INTO items (team_id, label) VALUES (NULL, 'no team')",
                RebuildEdit::SetNotNull {
                    column: t("team_id"),
                },
                "NOT NULL constraint failed",
            ),
            (
                "INSERT INTO items (team_id, label, qty) VALUES (1, 'negative', -1)",
                RebuildEdit::AddCheck {
                    name: t("items_qty_positive"),
                    expr: t("qty > 0"),
                },
                "CHECK constraint failed",
            ),
        ];
        for (dirt, edit, message) in cases {
            let folder = Folder::new("rebuild-fails");
            let mut engine = folder.engine(REBUILD_SETUP).await;
            let app = folder.app(dirt);
            // The application enforces foreign keys; the rebuild turns them
            // off on its own connection only, and back on.
            app.execute_batch("PRAGMA foreign_keys = ON").unwrap();
            {
                let conn = engine.conn.lock().unwrap();
                conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
            }
            let lock = engine.try_lock().await.unwrap();
            let before = schema_objects(&app);
            let rows = all_rows(&app, "SELECT * FROM items ORDER BY id");
            match engine
                .rebuild(
                    &lock,
                    &rebuild_step("items", vec![edit.clone()]),
                    &policy(200, 5),
                )
                .await
            {
                Err(EngineError::Sql { message: m, .. }) => {
                    assert!(m.contains(message), "{edit:?}: {m}")
                }
                other => panic!("{edit:?}: expected a failure, got {other:?}"),
            }
            assert_eq!(
                schema_objects(&app),
                before,
                "{edit:?}: rolled back, no temporary table left"
            );
            assert_eq!(
                all_rows(&app, "SELECT * FROM items ORDER BY id"),
                rows,
                "{edit:?}"
            );
            assert!(
                !engine.effect_present(&edit.effect("items")).await.unwrap(),
                "{edit:?}"
            );
            {
                let conn = engine.conn.lock().unwrap();
                assert_eq!(
                    one_text(
                        &conn,
                        "SELECT CAST(foreign_keys AS TEXT) FROM pragma_foreign_keys"
                    ),
                    "1",
                    "{edit:?}: restored"
                );
                assert!(conn.is_autocommit(), "{edit:?}: no transaction left open");
            }
            engine.unlock(lock).await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_rebuild_waits_for_the_write_lock_and_writers_wait_for_it() {
        let folder = Folder::new("rebuild-busy");
        let mut engine = folder
            .engine(
                "CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT, w INT);
                 CREATE INDEX big_v_idx ON big (v);
                 INSERT INTO big (v) WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 200000)
                 SELECT printf('%08d', n) FROM g",
            )
            .await;
        let lock = engine.try_lock().await.unwrap();
        let step = rebuild_step(
            "big",
            vec![RebuildEdit::SetDefault {
                column: "w".to_string(),
                default: "7".to_string(),
            }],
        );

        // Blocked by another writer: retried, then done.
        let holder = hold_write_lock(&folder, Duration::from_millis(500));
        let attempts = engine
            .rebuild(&lock, &step, &policy(100, 50))
            .await
            .unwrap();
        holder.join().unwrap();
        assert!(attempts > 1, "waited for the holder: {attempts} attempt(s)");
        folder.app("DROP TABLE held");

        // Writers during the copy wait on their busy timeout and lose no row.
        let step = rebuild_step(
            "big",
            vec![RebuildEdit::SetNotNull {
                column: "v".to_string(),
            }],
        );
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let conn = folder.app("");
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut written = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    conn.execute("INSERT INTO big (v) VALUES ('w' || ?1)", [written])
                        .unwrap();
                    written += 1;
                }
                written
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        engine
            .rebuild(&lock, &step, &policy(2000, 5))
            .await
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        stop.store(true, Ordering::Relaxed);
        let written = writer.join().unwrap();
        assert!(written > 0);
        let app = folder.app("");
        assert_eq!(
            one_text(&app, "SELECT CAST(count(*) AS TEXT) FROM big"),
            (200_000 + written).to_string(),
            "every concurrent insert is kept"
        );
        assert!(
            one_text(&app, "SELECT sql FROM sqlite_schema WHERE name = 'big'").contains("NOT NULL")
        );
        assert!(engine
            .effect_present(&Effect::IndexValid {
                index: "big_v_idx".into()
            })
            .await
            .unwrap());
        engine.unlock(lock).await.unwrap();
    }
}
