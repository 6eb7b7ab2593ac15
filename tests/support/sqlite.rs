//! SQLite helpers of the `apply` tests: a database file per test, the
//! catalog as text, row checksums, zerodown's history, runs of the binary.
//! What does not depend on the engine (runs of the binary, the plan's task
//! list, the state file) is the PostgreSQL module's, re-exported here.
#![allow(dead_code)] // each test file uses a part of it

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::Connection;

#[allow(unused_imports)] // each test file uses a part of it
pub use super::pg::{fleet_env, plan_tasks, run, spawn, state_json, PlanTask, Run};
use super::Scratch;

/// A database file in a test's scratch folder (removed with the folder).
pub struct SqliteDb {
    pub path: PathBuf,
    /// `sqlite:///abs/path.db`.
    pub url: String,
}

impl SqliteDb {
    /// A fresh, empty database file `name` in `scratch`.
    pub fn new(scratch: &Scratch, name: &str) -> SqliteDb {
        let path = scratch.path(name);
        assert!(path.is_absolute(), "{}", path.display());
        let db = SqliteDb {
            url: format!("sqlite://{}", path.display()),
            path,
        };
        db.exec("PRAGMA journal_mode = WAL");
        db
    }

    /// A copy of `from` (closed: no WAL content outside the main file) in
    /// `scratch`.
    pub fn copy_of(from: &SqliteDb, scratch: &Scratch, name: &str) -> SqliteDb {
        let path = scratch.path(name);
        std::fs::copy(&from.path, &path).expect("copy the database file");
        SqliteDb {
            url: format!("sqlite://{}", path.display()),
            path,
        }
    }

    /// A connection of the test's own, waiting up to 5 s for the write lock.
    pub fn conn(&self) -> Connection {
        let conn = Connection::open(&self.path).expect("open the database");
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn
    }

    /// Run SQL (several statements allowed).
    pub fn exec(&self, sql: &str) {
        self.conn()
            .execute_batch(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Load a SQL file (a schema snapshot).
    pub fn load(&self, path: impl AsRef<Path>) {
        let sql = std::fs::read_to_string(path.as_ref()).expect("read SQL file");
        self.exec(&sql);
    }

    /// Rows as text (NULL as None; a value's text, whatever its type).
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        rows_of(&self.conn(), sql, plain_text)
    }

    /// The first column of the first row.
    pub fn scalar(&self, sql: &str) -> Option<String> {
        self.rows(sql)
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten())
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.conn()
            .query_row(sql, [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    pub fn has_column(&self, table: &str, column: &str) -> bool {
        self.count(&format!(
            "SELECT count(*) FROM pragma_table_info('{table}') WHERE name = '{column}'"
        )) == 1
    }
}

fn plain_text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Some(format!("x'{}'", hex(b))),
    }
}

/// A value with its storage class: `5` (integer), `'5'` (text), `5.0`
/// (real) differ, as they do to SQLite.
fn typed_text(v: ValueRef<'_>) -> Option<String> {
    Some(match v {
        ValueRef::Null => "NULL".to_string(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => format!("{f:?}"),
        ValueRef::Text(t) => format!("'{}'", String::from_utf8_lossy(t).replace('\'', "''")),
        ValueRef::Blob(b) => format!("x'{}'", hex(b)),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn rows_of(
    conn: &Connection,
    sql: &str,
    show: fn(ValueRef<'_>) -> Option<String>,
) -> Vec<Vec<Option<String>>> {
    let fail = |e: rusqlite::Error| -> ! { panic!("{sql}: {e}") };
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| fail(e));
    let width = stmt.column_count();
    let mut rows = stmt.query([]).unwrap_or_else(|e| fail(e));
    let mut out = Vec::new();
    while let Some(row) = rows.next().unwrap_or_else(|e| fail(e)) {
        out.push((0..width).map(|i| show(row.get_ref(i).unwrap())).collect());
    }
    out
}

fn single_column(conn: &Connection, sql: &str) -> Vec<String> {
    rows_of(conn, sql, plain_text)
        .into_iter()
        .map(|r| r.into_iter().next().flatten().unwrap_or_default())
        .collect()
}

/// The user tables of the file: not SQLite's own, not zerodown's history.
fn tables(conn: &Connection) -> Vec<String> {
    single_column(
        conn,
        "SELECT name FROM sqlite_schema WHERE type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> 'zerodown_history' ORDER BY name",
    )
}

/// The schema as the catalog shows it, one line per fact, sorted: every
/// object of `sqlite_schema` with its SQL (blanks collapsed), every column
/// (position, type, NOT NULL, default, key), every index (unique, origin,
/// partial, columns), every foreign key. zerodown's history table is left
/// out (see [`history`]). Two files with the same text have the same
/// schema.
pub fn describe(db: &SqliteDb) -> String {
    let conn = db.conn();
    let mut lines = Vec::new();
    for row in rows_of(
        &conn,
        "SELECT type, name, sql FROM sqlite_schema \
         WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND tbl_name <> 'zerodown_history'",
        plain_text,
    ) {
        let sql = row[2].clone().unwrap_or_default();
        let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        lines.push(format!(
            "{} {}: {sql}",
            row[0].clone().unwrap_or_default(),
            row[1].clone().unwrap_or_default()
        ));
    }
    for table in tables(&conn) {
        let t = table.replace('\'', "''");
        for c in rows_of(
            &conn,
            &format!(
                "SELECT cid, name, type, \"notnull\", dflt_value, pk FROM pragma_table_xinfo('{t}')"
            ),
            plain_text,
        ) {
            let v = |i: usize| c[i].clone().unwrap_or_default();
            lines.push(format!(
                "column {table}.{} #{} {}{}{}{}",
                v(1),
                v(0),
                v(2),
                if v(3) == "1" { " NOT NULL" } else { "" },
                c[4].as_ref()
                    .map(|d| format!(" DEFAULT {d}"))
                    .unwrap_or_default(),
                if v(5) != "0" {
                    format!(" PK{}", v(5))
                } else {
                    String::new()
                },
            ));
        }
        for i in rows_of(
            &conn,
            &format!("SELECT name, \"unique\", origin, partial FROM pragma_index_list('{t}')"),
            plain_text,
        ) {
            let v = |k: usize| i[k].clone().unwrap_or_default();
            let columns = single_column(
                &conn,
                &format!(
                    "SELECT coalesce(name, '<expr>') FROM pragma_index_info('{}') ORDER BY seqno",
                    v(0).replace('\'', "''")
                ),
            );
            lines.push(format!(
                "index {table}.{}{} origin {}{} ({})",
                v(0),
                if v(1) == "1" { " UNIQUE" } else { "" },
                v(2),
                if v(3) == "1" { " partial" } else { "" },
                columns.join(", ")
            ));
        }
        for f in rows_of(
            &conn,
            &format!(
                "SELECT id, seq, \"table\", \"from\", \"to\", on_update, on_delete \
                 FROM pragma_foreign_key_list('{t}')"
            ),
            plain_text,
        ) {
            let v = |k: usize| f[k].clone().unwrap_or_default();
            lines.push(format!(
                "foreign-key {table}.{} -> {}({}) ON UPDATE {} ON DELETE {}",
                v(3),
                v(2),
                v(4),
                v(5),
                v(6)
            ));
        }
    }
    lines.sort();
    lines.into_iter().map(|l| l + "\n").collect()
}

/// The objects whose names zerodown generates (`zd_…`): twin columns, sync
/// triggers, index copies. Empty once a run is complete (trashed tables,
/// `zd_trash_…`, excepted: they are kept on purpose).
pub fn zd_leftovers(db: &SqliteDb) -> Vec<String> {
    let conn = db.conn();
    let mut out: Vec<String> = single_column(
        &conn,
        "SELECT type || ' ' || name FROM sqlite_schema WHERE name LIKE 'zd\\_%' ESCAPE '\\' \
         AND name NOT LIKE 'zd\\_trash\\_%' ESCAPE '\\' ORDER BY 1",
    );
    for table in tables(&conn) {
        for column in single_column(
            &conn,
            &format!(
                "SELECT name FROM pragma_table_xinfo('{}') WHERE name LIKE 'zd\\_%' ESCAPE '\\'",
                table.replace('\'', "''")
            ),
        ) {
            out.push(format!("column {table}.{column}"));
        }
    }
    out
}

/// Per user table: the row count and a hash of every row (values with
/// their storage class), sorted. Equal checksums: no row lost, duplicated
/// or changed.
pub fn checksums(db: &SqliteDb) -> BTreeMap<String, String> {
    let conn = db.conn();
    tables(&conn)
        .into_iter()
        .map(|t| {
            let mut rows: Vec<String> = rows_of(
                &conn,
                &format!("SELECT * FROM \"{}\"", t.replace('"', "\"\"")),
                typed_text,
            )
            .into_iter()
            .map(|r| r.into_iter().flatten().collect::<Vec<_>>().join(","))
            .collect();
            rows.sort();
            // `new()` hashers all hash alike, in every process.
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            rows.hash(&mut hasher);
            (
                t,
                format!("{} rows, hash {:016x}", rows.len(), hasher.finish()),
            )
        })
        .collect()
}

/// zerodown's history table: (task id, status), one row per task.
pub fn history(db: &SqliteDb) -> Vec<(String, String)> {
    let conn = db.conn();
    let present: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'zerodown_history'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if present == 0 {
        return Vec::new();
    }
    rows_of(
        &conn,
        "SELECT task_id, status FROM zerodown_history ORDER BY task_id",
        plain_text,
    )
    .into_iter()
    .map(|r| {
        (
            r[0].clone().unwrap_or_default(),
            r[1].clone().unwrap_or_default(),
        )
    })
    .collect()
}

/// `apply DIR --database URL --state STATE` plus `extra` arguments.
pub fn apply(
    dir: &str,
    db: &SqliteDb,
    state: &Path,
    extra: &[&str],
    scratch: &Scratch,
    env: &[(&str, &str)],
) -> Run {
    let state = state.display().to_string();
    let mut args = vec!["apply", dir, "--database", &db.url, "--state", &state];
    args.extend_from_slice(extra);
    run(&args, scratch, env)
}

/// `resume --database URL --state STATE` plus `extra` arguments.
pub fn resume(db: &SqliteDb, state: &Path, extra: &[&str], scratch: &Scratch) -> Run {
    let state = state.display().to_string();
    let mut args = vec!["resume", "--database", &db.url, "--state", &state];
    args.extend_from_slice(extra);
    run(&args, scratch, &[])
}

/// `COMMAND --database URL --state STATE` (status, abort).
pub fn command(command: &str, db: &SqliteDb, state: &Path, scratch: &Scratch) -> Run {
    let state = state.display().to_string();
    run(
        &[command, "--database", &db.url, "--state", &state],
        scratch,
        &[],
    )
}

// ---------------------------------------------------------------------------
// The plan set most tests run: every kind of task on SQLite.

/// A rename, a type change, a backfill, an index, a dropped column, a
/// soft-dropped table, a fleet of two demo nodes.
pub const KILL_DIR: &str = "tests/inputs/sqlite-kill";

/// sqlite-kill at version 1 with data: 3000 accounts (some without email),
/// 6000 payments (amounts as text, at the 64-bit limits among them), 25
/// sessions. The tier backfill walks accounts in 8 batches of 400; the
/// conversion of payments.amount takes two batches of the default 5000.
pub fn kill_db(scratch: &Scratch) -> SqliteDb {
    let db = SqliteDb::new(scratch, "kill.db");
    db.load(format!("{KILL_DIR}/schemas/0001.sql"));
    db.exec(
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 3000)
         INSERT INTO accounts (id, name, email, legacy)
             SELECT n, 'account ' || n, CASE WHEN n % 5 = 0 THEN NULL ELSE 'a' || n || '@example.com' END, 'x'
             FROM g;
         WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 6000)
         INSERT INTO payments (account_id, amount, memo)
             SELECT 1 + n % 3000,
                    CASE n WHEN 1 THEN '9223372036854775807' WHEN 2 THEN '-9223372036854775808'
                           ELSE CAST((n * 7919) % 100000 - 50000 AS TEXT) END,
                    CASE WHEN n % 4 = 0 THEN NULL ELSE 'memo ' || n END
             FROM g;
         WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 25)
         INSERT INTO old_sessions (id, token) SELECT n, 'token ' || (n * 7919 % 1000003) FROM g;",
    );
    db
}

/// sqlite-kill after an uninterrupted run.
/// The renamed column comes last (it was added), `amount` is the INTEGER
/// twin renamed and stays nullable (SQLite cannot add NOT NULL to a
/// column), the dropped table waits in the trash under its new name.
pub const KILL_FINAL: &str = "\
column accounts.created_at #2 TEXT NOT NULL DEFAULT '2024-01-01 00:00:00'
column accounts.email #1 TEXT
column accounts.full_name #3 TEXT NOT NULL DEFAULT ''
column accounts.id #0 INTEGER PK1
column accounts.tier #4 TEXT
column payments.account_id #1 INTEGER NOT NULL
column payments.amount #3 INTEGER
column payments.id #0 INTEGER PK1
column payments.memo #2 TEXT
column zd_trash_old_sessions__v2.id #0 INTEGER PK1
column zd_trash_old_sessions__v2.token #1 TEXT NOT NULL
foreign-key payments.account_id -> accounts(id) ON UPDATE NO ACTION ON DELETE NO ACTION
index accounts.accounts_name_idx origin c (full_name)
index accounts_name_idx: CREATE INDEX \"accounts_name_idx\" ON \"accounts\" (\"full_name\")
index payments.payments_account_idx origin c (account_id)
index payments_account_idx: CREATE INDEX \"payments_account_idx\" ON \"payments\" (\"account_id\")
table accounts: CREATE TABLE accounts ( id INTEGER PRIMARY KEY, email TEXT, created_at TEXT NOT NULL DEFAULT '2024-01-01 00:00:00' , \"full_name\" TEXT DEFAULT '' NOT NULL, \"tier\" TEXT)
table payments: CREATE TABLE payments ( id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL REFERENCES accounts (id), memo TEXT , \"amount\" INTEGER)
table zd_trash_old_sessions__v2: CREATE TABLE \"zd_trash_old_sessions__v2\" ( id INTEGER PRIMARY KEY, token TEXT NOT NULL )
";
