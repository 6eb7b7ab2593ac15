//! MySQL / MariaDB helpers of the integration tests: a fresh database per
//! test, SQL through mysql_async, the catalog as text, row checksums, the
//! history table. (The runs of the binary: `super::run`.)
#![allow(dead_code)] // each test file uses a part of it

use std::collections::BTreeMap;
use std::path::Path;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};

use super::{runtime, unique_name, with_db, TestDb};

/// The MySQL / MariaDB server's admin URL (`ZERODOWN_TEST_MYSQL_URL`).
pub fn admin_url() -> String {
    std::env::var("ZERODOWN_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_string())
}

/// Connect with mysql_async on a runtime of the caller's.
pub async fn connect(url: &str) -> Conn {
    Conn::from_url(url).await.unwrap_or_else(|e| {
        panic!(
            "cannot connect to MariaDB/MySQL ({e}): the server tests need it on \
             127.0.0.1:3306, user root, empty password, database test, or at \
             ZERODOWN_TEST_MYSQL_URL; `bash .ci/run` starts it, or installs it where it is missing"
        )
    })
}

/// A value of the text protocol as text (NULL as None).
pub fn cell(value: Value) -> Option<String> {
    match value {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

/// Run SQL on a new connection (several statements allowed).
pub fn exec_on(url: &str, sql: &str) -> Result<(), mysql_async::Error> {
    runtime().block_on(async {
        let mut c = connect(url).await;
        let result = c.query_drop(sql).await;
        let _ = c.disconnect().await;
        result
    })
}

/// A fresh database, dropped when the value is.
pub struct MyDb {
    pub name: String,
    pub url: String,
}

impl MyDb {
    pub fn new() -> MyDb {
        let name = unique_name("zd_my");
        let admin = admin_url();
        exec_on(&admin, &format!("CREATE DATABASE `{name}`")).expect("create test database");
        let url = with_db(&admin, &name);
        MyDb { name, url }
    }

    /// Run SQL (several statements allowed).
    pub fn exec(&self, sql: &str) {
        exec_on(&self.url, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Rows as text (NULL as None), via the text protocol.
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        runtime().block_on(async {
            let mut c = connect(&self.url).await;
            let rows: Vec<Row> = c.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
            let _ = c.disconnect().await;
            rows.into_iter()
                .map(|r| r.unwrap().into_iter().map(cell).collect())
                .collect()
        })
    }

    /// The first column of the first row.
    pub fn scalar(&self, sql: &str) -> Option<String> {
        self.rows(sql)
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten())
    }

    /// A count (or any integer) query's value.
    pub fn count(&self, sql: &str) -> i64 {
        self.scalar(sql).unwrap().parse().unwrap()
    }

    /// Load a SQL file (a schema snapshot).
    pub fn load(&self, path: impl AsRef<Path>) {
        let sql = std::fs::read_to_string(path.as_ref()).expect("read SQL file");
        self.exec(&sql);
    }

    /// Whether `table` has `column`.
    pub fn has_column(&self, table: &str, column: &str) -> bool {
        self.count(&format!(
            "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = '{table}' AND COLUMN_NAME = '{column}'"
        )) == 1
    }

    /// A user with a password and every right on this database only,
    /// dropped with the value: the password zerodown must never show.
    pub fn user_with_password(&self) -> MyUser {
        let name = unique_name("zd_u");
        let password = format!("pw_{}", unique_name("s3cr3t"));
        exec_on(
            &admin_url(),
            &format!(
                "CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'; \
                 GRANT ALL ON `{}`.* TO '{name}'@'%'",
                self.name
            ),
        )
        .expect("create test user");
        let admin = with_db(&admin_url(), &self.name);
        let (scheme, rest) = admin.split_once("://").unwrap();
        let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        MyUser {
            url: format!("{scheme}://{name}:{password}@{host}"),
            name,
            password,
        }
    }
}

impl Drop for MyDb {
    fn drop(&mut self) {
        let _ = exec_on(
            &admin_url(),
            &format!("DROP DATABASE IF EXISTS `{}`", self.name),
        );
    }
}

/// A user of a test database (`MyDb::user_with_password`).
pub struct MyUser {
    pub name: String,
    pub password: String,
    pub url: String,
}

impl Drop for MyUser {
    fn drop(&mut self) {
        let _ = exec_on(
            &admin_url(),
            &format!("DROP USER IF EXISTS '{}'@'%'", self.name),
        );
    }
}

/// zerodown's own table in each database it runs on.
pub const HISTORY: &str = "zerodown_history";

/// The database as `information_schema` shows it, one line per object,
/// sorted within each kind: tables (type, comment), columns (type,
/// NULL-ability, default, extra, in column order), indexes (columns, unique
/// or not), constraints (primary, unique, foreign keys with what they
/// reference and their rules, CHECKs with their clause), triggers (timing,
/// event), views (definition, without the database's name). zerodown's
/// history table shows as a table only. Two databases with the same text
/// have the same schema.
pub fn describe(db: &MyDb) -> String {
    let not_history = format!("TABLE_NAME <> '{HISTORY}'");
    let queries: [(&str, String); 6] = [
        (
            "table",
            "SELECT CONCAT(TABLE_NAME, ' ', TABLE_TYPE, IF(TABLE_COMMENT = '', '', CONCAT(' COMMENT ', TABLE_COMMENT))) \
             FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1"
                .to_string(),
        ),
        (
            "column",
            format!(
                "SELECT CONCAT(c.TABLE_NAME, '.', c.COLUMN_NAME, ' ', c.COLUMN_TYPE, \
                 IF(c.IS_NULLABLE = 'NO', ' NOT NULL', ''), IFNULL(CONCAT(' DEFAULT ', c.COLUMN_DEFAULT), ''), \
                 IF(c.EXTRA = '', '', CONCAT(' ', c.EXTRA))) \
                 FROM information_schema.COLUMNS c JOIN information_schema.TABLES t \
                 ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME AND t.TABLE_TYPE = 'BASE TABLE' \
                 WHERE c.TABLE_SCHEMA = DATABASE() AND c.{not_history} ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION"
            ),
        ),
        (
            "index",
            format!(
                "SELECT CONCAT(TABLE_NAME, '.', INDEX_NAME, IF(NON_UNIQUE = 0, ' UNIQUE', ''), ' (', \
                 GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR ', '), ')') \
                 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND {not_history} \
                 GROUP BY TABLE_NAME, INDEX_NAME, NON_UNIQUE ORDER BY 1"
            ),
        ),
        (
            "constraint",
            format!(
                "SELECT CONCAT(t.TABLE_NAME, '.', t.CONSTRAINT_NAME, ' ', t.CONSTRAINT_TYPE, \
                 IFNULL((SELECT CONCAT(' (', GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ', '), ')', \
                   IFNULL(CONCAT(' REFERENCES ', MAX(k.REFERENCED_TABLE_NAME), ' (', \
                     GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ', '), ')'), '')) \
                   FROM information_schema.KEY_COLUMN_USAGE k WHERE k.CONSTRAINT_SCHEMA = t.CONSTRAINT_SCHEMA \
                   AND k.TABLE_NAME = t.TABLE_NAME AND k.CONSTRAINT_NAME = t.CONSTRAINT_NAME), ''), \
                 IFNULL((SELECT CONCAT(' ON UPDATE ', r.UPDATE_RULE, ' ON DELETE ', r.DELETE_RULE) \
                   FROM information_schema.REFERENTIAL_CONSTRAINTS r WHERE r.CONSTRAINT_SCHEMA = t.CONSTRAINT_SCHEMA \
                   AND r.TABLE_NAME = t.TABLE_NAME AND r.CONSTRAINT_NAME = t.CONSTRAINT_NAME), ''), \
                 IFNULL((SELECT CONCAT(' ', c.CHECK_CLAUSE) FROM information_schema.CHECK_CONSTRAINTS c \
                   WHERE c.CONSTRAINT_SCHEMA = t.CONSTRAINT_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME \
                   AND c.CONSTRAINT_NAME = t.CONSTRAINT_NAME), '')) \
                 FROM information_schema.TABLE_CONSTRAINTS t WHERE t.CONSTRAINT_SCHEMA = DATABASE() \
                 AND t.{not_history} ORDER BY 1"
            ),
        ),
        (
            "trigger",
            "SELECT CONCAT(EVENT_OBJECT_TABLE, '.', TRIGGER_NAME, ' ', ACTION_TIMING, ' ', EVENT_MANIPULATION) \
             FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY 1"
                .to_string(),
        ),
        (
            "view",
            "SELECT CONCAT(TABLE_NAME, ': ', REPLACE(VIEW_DEFINITION, CONCAT('`', DATABASE(), '`.'), '')) \
             FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1"
                .to_string(),
        ),
    ];
    let mut out = String::new();
    for (kind, sql) in queries {
        for row in db.rows(&sql) {
            let line = row.into_iter().next().flatten().unwrap_or_default();
            out.push_str(&format!("{kind} {line}\n"));
        }
    }
    out
}

/// The objects whose names zerodown generates (`zd_…`) besides soft-dropped
/// tables: twin columns, triggers, index copies, tables. Empty once a run
/// is complete.
pub fn zd_leftovers(db: &MyDb) -> Vec<String> {
    let sql = "SELECT CONCAT('column ', TABLE_NAME, '.', COLUMN_NAME) FROM information_schema.COLUMNS \
               WHERE TABLE_SCHEMA = DATABASE() AND COLUMN_NAME LIKE 'zd\\_%' \
               UNION ALL SELECT CONCAT('trigger ', TRIGGER_NAME) FROM information_schema.TRIGGERS \
               WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME LIKE 'zd\\_%' \
               UNION ALL SELECT DISTINCT CONCAT('index ', TABLE_NAME, '.', INDEX_NAME) FROM information_schema.STATISTICS \
               WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME LIKE 'zd\\_%' \
               UNION ALL SELECT CONCAT('constraint ', CONSTRAINT_NAME) FROM information_schema.TABLE_CONSTRAINTS \
               WHERE CONSTRAINT_SCHEMA = DATABASE() AND CONSTRAINT_NAME LIKE 'zd\\_%' \
               UNION ALL SELECT CONCAT('table ', TABLE_NAME) FROM information_schema.TABLES \
               WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'zd\\_%' AND TABLE_NAME NOT LIKE 'zd\\_trash\\_%'";
    db.rows(sql)
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect()
}

/// Per base table but the history: the row count and a SHA-256 of every
/// row as text, sorted. Equal checksums: no row lost, duplicated or changed.
pub fn checksums(db: &MyDb) -> BTreeMap<String, String> {
    use sha2::{Digest, Sha256};
    let tables = db.rows(&format!(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
         AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME <> '{HISTORY}' ORDER BY 1"
    ));
    tables
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .map(|t| {
            let mut rows: Vec<String> = db
                .rows(&format!("SELECT * FROM `{t}`"))
                .into_iter()
                .map(|r| format!("{r:?}"))
                .collect();
            rows.sort();
            let mut hash = Sha256::new();
            for r in &rows {
                hash.update(r.as_bytes());
                hash.update(b"\n");
            }
            let digest: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
            (t, format!("{} rows, sha256 {digest}", rows.len()))
        })
        .collect()
}

/// zerodown's history table: (task id, status), one row per task.
pub fn history(db: &MyDb) -> Vec<(String, String)> {
    let exists = db.count(&format!(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{HISTORY}'"
    ));
    if exists == 0 {
        return Vec::new();
    }
    db.rows(&format!(
        "SELECT task_id, status FROM `{HISTORY}` ORDER BY 1"
    ))
    .into_iter()
    .map(|r| {
        (
            r[0].clone().unwrap_or_default(),
            r[1].clone().unwrap_or_default(),
        )
    })
    .collect()
}

impl TestDb for MyDb {
    fn url(&self) -> &str {
        &self.url
    }
    fn describe(&self) -> String {
        describe(self)
    }
    fn checksums(&self) -> BTreeMap<String, String> {
        checksums(self)
    }
    fn history(&self) -> Vec<(String, String)> {
        history(self)
    }
}
