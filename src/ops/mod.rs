//! The rules: the actions each operation (`crate::operation`) yields per
//! engine.
//!
//! A change in a plan is parsed (`crate::parse`) into one `Operation`. The
//! operation is then classified per engine (`analyze`) and decomposed into
//! `Action`s: data with a stable key, a phase, the exact SQL for the plan's
//! engine, the catalog effect that shows it is done (so the executor can make
//! every task idempotent), and the objects it creates, needs and removes (so
//! the graph can order it).

mod action;
mod analysis;
pub mod column;
pub mod constraint;
pub mod index;
pub mod raw;
pub mod sync;
pub mod table;
pub mod trash;
pub mod undo;
pub mod view;

pub use crate::dialect::generated_name;
pub use crate::operation::*;
pub use action::*;
pub use analysis::{
    analyze, unwalkable_key, Analysis, ChangeClass, Classification, Context, Refusal,
};

/// The twin column that carries a column's new type until contract swaps
/// it in: `zd_new_<column>`.
pub fn twin_column(column: &str) -> String {
    generated_name(&["new", column])
}

/// The definition of a model column for MySQL with its type and
/// nullability overridden (a twin column's new type, a nullability change),
/// keeping its default. The model carries no collation or comment; a column
/// that has them loses them to `MODIFY`.
pub fn mysql_column_definition(
    column: &crate::schema::Column,
    name: &str,
    data_type: &str,
    nullable: bool,
) -> String {
    crate::dialect::mysql::column_definition(
        name,
        data_type,
        &[],
        nullable,
        column.default.as_deref(),
    )
}

/// A SQLite rebuild of `table` with these edits (see `RebuildStep`).
pub fn sqlite_rebuild(table: &str, edits: Vec<RebuildEdit>) -> Step {
    Step::Rebuild(RebuildStep {
        table: table.to_string(),
        edits,
        lock: crate::dialect::sqlite::LOCK_TABLE_REBUILD.to_string(),
    })
}

/// A change SQLite could only make by rebuilding the table where even a
/// rebuild leaves running code broken.
pub fn sqlite_rebuild_refusal(kind: &str, variant: &str, what: &str, help: &str) -> Refusal {
    Refusal {
        rule: format!("{}/{kind}/{variant}", crate::dialect::sqlite::RULE_PREFIX),
        reason: format!(
            "SQLite cannot {what} with ALTER TABLE: it needs the table rebuilt (new table, copy of every row, swap), which holds the write lock for the whole copy"
        ),
        help: help.to_string(),
    }
}

#[cfg(test)]
mod naming_tests {
    use super::*;

    #[test]
    fn generated_names_stay_within_limits_and_distinct() {
        assert_eq!(
            generated_name(&["sync", "users", "name"]),
            "zd_sync_users_name"
        );
        let a = generated_name(&["sync", &"a".repeat(40), &"b".repeat(40)]);
        let b = generated_name(&["sync", &"a".repeat(40), &"c".repeat(40)]);
        assert!(a.len() <= 63 && b.len() <= 63);
        assert_ne!(a, b);
    }
}
