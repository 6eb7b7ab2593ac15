//! Soft-dropped tables: where they are and how `purge` removes them.
//!
//! A soft drop (`soft_drop: true`) moves a table to the schema
//! `zerodown_trash` as `<table>__v<version>` on PostgreSQL; on MySQL and
//! SQLite it renames it to `zd_trash_<table>__v<version>` in the same
//! database (a MySQL database is server-wide: a shared trash database
//! would mix the tables of every database). The history table records when
//! that task finished; `purge` drops what is older.

use crate::dialect::EngineKind;
use crate::ops::{Effect, SqlStep};

/// The schema of the trash (PostgreSQL).
pub const TRASH: &str = "zerodown_trash";

/// The name prefix of trashed tables (MySQL, SQLite).
const PREFIX: &str = "zd_trash_";

/// Lists the trash's tables, one name per row.
pub fn list_sql(engine: EngineKind) -> String {
    match engine {
        EngineKind::Postgres => {
            format!("SELECT tablename FROM pg_tables WHERE schemaname = {} ORDER BY 1", engine.quote_literal(TRASH))
        }
        EngineKind::Mysql => format!(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() \
             AND LEFT(table_name, {}) = {} ORDER BY 1",
            PREFIX.len(),
            engine.quote_literal(PREFIX)
        ),
        EngineKind::Sqlite => format!(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, {}) = {} ORDER BY 1",
            PREFIX.len(),
            engine.quote_literal(PREFIX)
        ),
    }
}

/// The table and the version a trash name stands for, when it was named
/// `<table>__v<version>` (longer names were shortened with a hash and
/// cannot be read back).
pub fn parse_name(engine: EngineKind, name: &str) -> Option<(String, u32)> {
    let name = match engine {
        EngineKind::Mysql | EngineKind::Sqlite => name.strip_prefix(PREFIX)?,
        EngineKind::Postgres => name,
    };
    let (table, version) = name.rsplit_once("__v")?;
    Some((table.to_string(), version.parse().ok()?))
}

/// The history task that moved a table to the trash.
pub fn drop_task_id(table: &str, version: u32) -> String {
    format!("v{version}/contract/drop-table/{table}/move-to-trash")
}

/// Drops one trashed table for good.
pub fn purge_step(engine: EngineKind, name: &str) -> SqlStep {
    let target = match engine {
        EngineKind::Postgres => {
            format!("{}.{}", engine.quote_ident(TRASH), engine.quote_ident(name))
        }
        EngineKind::Mysql | EngineKind::Sqlite => engine.quote_ident(name),
    };
    SqlStep {
        statements: vec![format!("DROP TABLE IF EXISTS {target}")],
        transactional: engine != EngineKind::Mysql,
        lock: "exclusive lock on the trashed table only (nothing uses it)".to_string(),
        // The trash is outside the schema the effects look at; IF EXISTS
        // makes running it again harmless.
        effect: Effect::Rerunnable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trash_names_read_back() {
        assert_eq!(
            parse_name(EngineKind::Postgres, "legacy_sessions__v2"),
            Some(("legacy_sessions".into(), 2))
        );
        assert_eq!(
            parse_name(EngineKind::Sqlite, "zd_trash_a__b__v12"),
            Some(("a__b".into(), 12))
        );
        assert_eq!(
            parse_name(EngineKind::Mysql, "zd_trash_sessions__v3"),
            Some(("sessions".into(), 3))
        );
        assert_eq!(parse_name(EngineKind::Mysql, "sessions__v3"), None);
        assert_eq!(parse_name(EngineKind::Postgres, "zd_3f2a9c"), None);
        assert_eq!(
            purge_step(EngineKind::Mysql, "zd_trash_t__v2").statements,
            vec!["DROP TABLE IF EXISTS `zd_trash_t__v2`"]
        );
        assert_eq!(
            purge_step(EngineKind::Postgres, "t__v2").statements,
            vec!["DROP TABLE IF EXISTS \"zerodown_trash\".\"t__v2\""]
        );
    }
}
