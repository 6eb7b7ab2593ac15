//! The differential oracle: a change applied by `zerodown apply --until
//! contract` on one fresh database and run as written on a twin must leave
//! the same catalog, as the engine's own dump tool prints it (zerodown's
//! introspection is part of what is tested, so it is not the judge), and
//! the same rows.
#![allow(dead_code)] // each test file uses a part of it

use std::process::Command;

use super::mysql::{MyDb, HISTORY};
use super::{PgDb, Scratch};

/// A plan directory in the scratch dir holding one plan: version
/// `version`, engine `engine`, the changes as YAML list items.
pub fn plan_dir(scratch: &Scratch, engine: &str, version: u32, changes: &[&str]) -> String {
    write_plan(scratch, engine, version, changes)
}

/// Add plan `version` to the scratch dir's plan directory (returned). A
/// change written `{…}` is a YAML map (`{raw: …, phase: …}`); any other is
/// one SQL statement.
pub fn write_plan(scratch: &Scratch, engine: &str, version: u32, changes: &[&str]) -> String {
    let dir = scratch.path("plans");
    std::fs::create_dir_all(&dir).unwrap();
    let mut yaml = format!("version: {version}\nengine: {engine}\nchanges:\n");
    for change in changes {
        let item = match change.starts_with('{') {
            true => change.to_string(),
            false => serde_json::to_string(change).unwrap(),
        };
        yaml.push_str(&format!("  - {item}\n"));
    }
    std::fs::write(dir.join(format!("{version:04}_change.yaml")), yaml).unwrap();
    dir.display().to_string()
}

/// `pg_dump --schema-only` of every schema but zerodown's own, without the
/// header comment that names the dump's time and version.
pub fn pg_dump(db: &PgDb) -> String {
    let out = Command::new("pg_dump")
        .args(["--schema-only", "--no-owner", "--no-privileges"])
        .args(["--exclude-schema", "zerodown", "--dbname", &db.url])
        .output()
        .expect("run pg_dump (Debian package postgresql-client)");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            !l.starts_with("-- Dumped")
                && !l.starts_with("\\restrict")
                && !l.starts_with("\\unrestrict")
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Per table of every schema but zerodown's and the system's: the row
/// count and an MD5 of every row as text.
pub fn pg_rows(db: &PgDb) -> String {
    let tables = db.rows(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('zerodown', 'information_schema') \
         AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1",
    );
    let mut out = String::new();
    for table in tables
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
    {
        let sql = format!(
            "SELECT count(*) || ' rows, md5 ' || COALESCE(md5(string_agg(x::text, ',' ORDER BY x::text)), '-') \
             FROM {table} x"
        );
        out.push_str(&format!(
            "{table}: {}\n",
            db.scalar(&sql).unwrap_or_default()
        ));
    }
    out
}

/// `SHOW CREATE TABLE` of every base table but zerodown's history, in name
/// order.
pub fn my_show_create(db: &MyDb) -> String {
    let tables = db.rows(&format!(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
         AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME <> '{HISTORY}' ORDER BY 1"
    ));
    let mut out = String::new();
    for table in tables
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
    {
        let row = db.rows(&format!("SHOW CREATE TABLE `{table}`"));
        let create = row[0][1].clone().unwrap_or_default();
        out.push_str(&format!("{create};\n"));
    }
    out
}

/// Per base table but the history: every row, each column as the hex of
/// its bytes (binary keys that are not UTF-8 stay exact), `NULL` for a
/// null, in primary-key order.
pub fn my_rows(db: &MyDb) -> String {
    let tables = db.rows(&format!(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
         AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME <> '{HISTORY}' ORDER BY 1"
    ));
    let mut out = String::new();
    for table in tables
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
    {
        let columns: Vec<String> = db
            .rows(&format!(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
                 AND TABLE_NAME = '{table}' ORDER BY ORDINAL_POSITION"
            ))
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect();
        let cells: Vec<String> = columns
            .iter()
            .map(|c| format!("IFNULL(HEX(`{c}`), 'NULL')"))
            .collect();
        let sql = format!(
            "SELECT CONCAT_WS(' ', {}) FROM `{table}` ORDER BY 1",
            cells.join(", ")
        );
        out.push_str(&format!("{table} ({}):\n", columns.join(", ")));
        for row in db.rows(&sql) {
            out.push_str(&format!("  {}\n", row[0].clone().unwrap_or_default()));
        }
    }
    out
}

/// Fail with a line diff of the two texts when they differ.
pub fn assert_same(what: &str, by_hand: &str, by_zerodown: &str) {
    if by_hand == by_zerodown {
        return;
    }
    let diff = similar::TextDiff::from_lines(by_hand, by_zerodown);
    panic!(
        "{what}: zerodown's result differs from the DDL run by hand (- by hand, + zerodown):\n{}",
        diff.unified_diff().context_radius(3)
    );
}
