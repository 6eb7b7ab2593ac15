//! Facts about SQLite (3.35+) that the rules in `crate::ops` share: its one
//! database-wide write lock, what `ALTER TABLE` can do in place (add, drop
//! and rename a column; nothing else), and the table rebuild for the rest
//! (NOT NULL, defaults, CHECK and foreign keys, a constrained column
//! dropped), which holds the write lock while every row is copied.

/// The prefix of SQLite rule IDs (`sqlite/<kind>/<variant>`).
pub const RULE_PREFIX: &str = "sqlite";

/// A schema change that only rewrites the schema table: the database write
/// lock, for an instant. Readers continue (WAL).
pub const LOCK_CATALOG_ONLY: &str = "database write lock (brief, catalog only)";
/// A transaction that also builds indexes or touches rows: other writers
/// wait for all of it. Readers continue (WAL).
pub const LOCK_WRITE_TRANSACTION: &str =
    "database write lock for the whole transaction (writers wait)";
/// `DROP COLUMN`: SQLite rewrites every row to purge the column's data.
pub const LOCK_TABLE_REWRITE: &str =
    "database write lock while every row is rewritten (writers wait)";
/// A table rebuild (SQLite's documented procedure for what `ALTER TABLE`
/// cannot do): one transaction that copies every row into a new table and
/// swaps it in. Readers continue (WAL) and see the old table until commit.
pub const LOCK_TABLE_REBUILD: &str =
    "database write lock while every row is copied into a rebuilt table (writers wait)";
/// `CREATE INDEX`: SQLite builds it holding the write lock.
pub const LOCK_INDEX_BUILD: &str = "database write lock for the index build (writers wait)";

/// Whether SQLite's `ADD COLUMN` accepts this default: not
/// `CURRENT_TIME`, `CURRENT_DATE`, `CURRENT_TIMESTAMP`, nor an expression
/// in parentheses; a literal (signed number, string, blob, NULL, TRUE,
/// FALSE) is fine.
pub fn is_constant_default(sql: &str) -> bool {
    let sql = sql.trim();
    if sql.starts_with('\'') {
        return true;
    }
    !sql.to_uppercase().starts_with("CURRENT_") && !sql.contains('(')
}

/// Whether a column of this declared type has a numeric affinity
/// (INTEGER, REAL or NUMERIC), by SQLite's rules in order: a type naming
/// `INT` is INTEGER; `CHAR`, `CLOB` or `TEXT`, TEXT; `BLOB` or no type,
/// BLOB; `REAL`, `FLOA` or `DOUB`, REAL; anything else NUMERIC. A value
/// stored in such a column is converted when the conversion is lossless and
/// otherwise kept as it was (text stays text): the storage class of the
/// stored value tells whether the conversion happened, where `CAST` would
/// silently give 0.
pub fn has_numeric_affinity(data_type: &str) -> bool {
    let t = data_type.to_uppercase();
    if t.contains("INT") {
        return true;
    }
    if ["CHAR", "CLOB", "TEXT"].iter().any(|k| t.contains(k)) {
        return false;
    }
    !(t.trim().is_empty() || t.contains("BLOB"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_affinity_follows_sqlites_rules_in_order() {
        let cases = [
            ("INTEGER", true),
            ("bigint", true),
            ("REAL", true),
            ("DOUBLE PRECISION", true),
            ("NUMERIC(10,2)", true),
            ("DECIMAL", true),
            ("BOOLEAN", true),
            ("TEXT", false),
            ("VARCHAR(20)", false),
            ("CHARINT", true), // INT comes first in SQLite's rules
            ("BLOB", false),
            ("", false),
        ];
        for (data_type, numeric) in cases {
            assert_eq!(has_numeric_affinity(data_type), numeric, "{data_type}");
        }
    }

    #[test]
    fn constant_defaults() {
        let cases = [
            ("0", true),
            ("'x'", true),
            ("'(x)'", true),
            ("NULL", true),
            ("-1", true),
            ("CURRENT_TIMESTAMP", false),
            ("current_date", false),
            ("(random())", false),
            ("random()", false),
        ];
        for (sql, expected) in cases {
            assert_eq!(is_constant_default(sql), expected, "{sql}");
        }
    }
}
