//! Facts about MySQL 8.0.29+ / MariaDB 10.6+ that the rules in `crate::ops`
//! share: the online-DDL clauses and the locks they promise, a renderer for
//! the full column definition `MODIFY` needs, and which type changes InnoDB
//! does in place.
//!
//! Every `ALTER TABLE` zerodown writes names its algorithm: the server then
//! refuses (rather than silently copying the table under a lock) when it
//! cannot keep that promise.

use crate::dialect::EngineKind;

/// The prefix of MySQL rule IDs (`mysql/<kind>/<variant>`).
pub const RULE_PREFIX: &str = "mysql";

/// `ALGORITHM=INSTANT`: a metadata change; the metadata lock is held for an
/// instant.
pub const LOCK_INSTANT: &str = "none (ALGORITHM=INSTANT)";
/// `ALGORITHM=INPLACE, LOCK=NONE` without a rebuild (index builds, dropping
/// an index or a foreign key): reads and writes continue.
pub const LOCK_INPLACE: &str = "none (ALGORITHM=INPLACE, LOCK=NONE)";
/// `ALGORITHM=INPLACE, LOCK=NONE` with a table rebuild (nullability
/// changes): reads and writes continue, the rebuild costs I/O.
pub const LOCK_INPLACE_REBUILD: &str =
    "none (ALGORITHM=INPLACE, LOCK=NONE; the table is rebuilt online)";
/// `ALGORITHM=COPY`: the table is copied while writes wait.
pub const LOCK_COPY: &str = "SHARED for a full table copy (ALGORITHM=COPY; writes wait)";
/// `CREATE TRIGGER` / `DROP TRIGGER`: an exclusive metadata lock, held for
/// an instant.
pub const LOCK_METADATA: &str = "exclusive metadata lock (brief)";
/// `LOCK TABLES t WRITE` around metadata-only statements: reads and writes
/// of the table wait for the bracket, which holds no data work.
pub const LOCK_TABLES_WRITE: &str =
    "LOCK TABLES … WRITE around metadata-only statements (brief; reads and writes wait)";

/// The online-DDL clause an `ALTER TABLE` requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Online {
    /// Metadata only.
    Instant,
    /// In place, concurrent reads and writes allowed (possibly a rebuild).
    InplaceNoLock,
    /// In place, no promise about concurrency: only inside a `LOCK TABLES
    /// … WRITE` bracket, where nothing else runs on the table anyway.
    InplaceLocked,
}

impl Online {
    pub fn clause(self) -> &'static str {
        match self {
            Online::Instant => "ALGORITHM=INSTANT",
            Online::InplaceNoLock => "ALGORITHM=INPLACE, LOCK=NONE",
            Online::InplaceLocked => "ALGORITHM=INPLACE",
        }
    }
}

/// `ALTER TABLE t <clauses…>, <online clause>`: one statement, so one
/// implicit commit.
pub fn alter_table(table: &str, clauses: &[String], online: Online) -> String {
    format!(
        "ALTER TABLE {} {}, {}",
        EngineKind::Mysql.quote_ident(table),
        clauses.join(", "),
        online.clause()
    )
}

/// A default as MySQL accepts it in a column definition or `SET DEFAULT`:
/// literals and `CURRENT_TIMESTAMP` as written, any other expression in
/// parentheses (MySQL 8.0.13+ / MariaDB 10.2+ expression defaults).
pub fn default_expr(sql: &str) -> String {
    let sql = sql.trim();
    let upper = sql.to_uppercase();
    let literal = sql.starts_with('\'')
        || sql.starts_with('"')
        || sql
            .trim_start_matches(['-', '+'])
            .starts_with(|c: char| c.is_ascii_digit())
        || matches!(upper.as_str(), "NULL" | "TRUE" | "FALSE")
        || ["CURRENT_TIMESTAMP", "NOW(", "LOCALTIME"]
            .iter()
            .any(|p| upper.starts_with(p));
    if literal {
        sql.to_string()
    } else {
        format!("({sql})")
    }
}

/// A full column definition, as `ADD COLUMN`, `MODIFY COLUMN` and `CHANGE
/// COLUMN` need it: `MODIFY` replaces the whole definition, so whatever is
/// left out (NOT NULL, the default) is lost.
pub fn column_definition(
    name: &str,
    data_type: &str,
    extra: &[String],
    nullable: bool,
    default: Option<&str>,
) -> String {
    let mut def = format!("{} {data_type}", EngineKind::Mysql.quote_ident(name));
    for e in extra {
        def.push(' ');
        def.push_str(e);
    }
    def.push_str(if nullable { " NULL" } else { " NOT NULL" });
    if let Some(d) = default {
        def.push_str(" DEFAULT ");
        def.push_str(&default_expr(d));
    }
    def
}

/// `ALTER TABLE t MODIFY COLUMN <definition>, ALGORITHM=INPLACE, LOCK=NONE`:
/// nullability and in-place type changes; reads and writes continue.
pub fn modify_column_sql(table: &str, definition: &str) -> String {
    alter_table(
        table,
        &[format!("MODIFY COLUMN {definition}")],
        Online::InplaceNoLock,
    )
}

/// `SERIAL` is `BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE`: adding it
/// copies the table.
pub fn is_serial_type(data_type: &str) -> bool {
    data_type.trim().eq_ignore_ascii_case("serial")
}

/// `varchar(n)` → `(n, rest after the parenthesis)`.
fn varchar_length(data_type: &str) -> Option<(u32, String)> {
    let lower = data_type.trim().to_lowercase();
    let inner = lower
        .strip_prefix("varchar")?
        .trim_start()
        .strip_prefix('(')?;
    let close = inner.find(')')?;
    let n = inner[..close].trim().parse().ok()?;
    Some((n, inner[close + 1..].trim().to_string()))
}

/// Whether InnoDB changes `from` into `to` in place, without copying the
/// table: the same type, or a `VARCHAR` made longer while its length prefix
/// keeps the same size. The prefix is one byte up to 255 bytes and two
/// beyond; the model does not know the character set, so lengths are
/// counted at 4 bytes a character (utf8mb4) for the lower class and 1 for
/// the upper: both at most 63 characters, or both at least 256.
pub fn varchar_extension_in_place(from: &str, to: &str) -> bool {
    if from.trim().eq_ignore_ascii_case(to.trim()) {
        return true;
    }
    let (Some((n, from_rest)), Some((m, to_rest))) = (varchar_length(from), varchar_length(to))
    else {
        return false;
    };
    m >= n && from_rest == to_rest && ((m <= 63) || (n >= 256))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_parenthesized_unless_literal() {
        let cases = [
            ("0", "0"),
            ("-1.5", "-1.5"),
            ("'x'", "'x'"),
            ("NULL", "NULL"),
            ("CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"),
            ("current_timestamp(6)", "current_timestamp(6)"),
            ("UUID()", "(UUID())"),
            ("(UUID())", "((UUID()))"),
            ("rand() * 10", "(rand() * 10)"),
        ];
        for (sql, expected) in cases {
            assert_eq!(default_expr(sql), expected, "{sql}");
        }
    }

    #[test]
    fn column_definitions_keep_nullability_and_default() {
        assert_eq!(
            column_definition(
                "name",
                "VARCHAR(20)",
                &["COLLATE utf8mb4_bin".into()],
                false,
                Some("''")
            ),
            "`name` VARCHAR(20) COLLATE utf8mb4_bin NOT NULL DEFAULT ''"
        );
        assert_eq!(
            modify_column_sql("t", &column_definition("id2", "CHAR(36)", &[], true, Some("uuid()"))),
            "ALTER TABLE `t` MODIFY COLUMN `id2` CHAR(36) NULL DEFAULT (uuid()), ALGORITHM=INPLACE, LOCK=NONE"
        );
    }

    #[test]
    fn varchar_extensions_within_one_length_prefix_class() {
        let cases = [
            ("VARCHAR(20)", "varchar(63)", true),
            ("varchar(20)", "varchar(64)", false),
            ("varchar(300)", "varchar(1000)", true),
            ("varchar(255)", "varchar(256)", false),
            ("varchar(40)", "varchar(20)", false),
            ("int", "INT", true),
            ("int", "bigint", false),
            ("varchar(20) CHARACTER SET latin1", "varchar(30)", false),
        ];
        for (from, to, expected) in cases {
            assert_eq!(
                varchar_extension_in_place(from, to),
                expected,
                "{from} -> {to}"
            );
        }
    }
}
