//! What `abort` runs: the removal of every object expand (and migrate)
//! created, per engine. Derived from the objects each task declares it
//! creates, so every kind of change is covered without a second list.

use crate::dialect::EngineKind;
use crate::ops::{Effect, ObjectRef, RebuildEdit, RebuildStep, SqlStep, Step};
use crate::schema::{ConstraintKind, Schema};

/// The step that removes one created object, or `None` when removing an
/// enclosing object already does (a column of a created table).
pub fn undo_step(
    engine: EngineKind,
    object: &ObjectRef,
    schema: &Schema,
    created_tables: &[String],
) -> Option<SqlStep> {
    let q = |s: &str| engine.quote_ident(s);
    let (statements, transactional, effect) = match object {
        ObjectRef::Table { name } => (
            vec![format!("DROP TABLE IF EXISTS {}", q(name))],
            true,
            Effect::TableAbsent {
                table: name.clone(),
            },
        ),
        ObjectRef::Column { table, name } => {
            if created_tables.contains(table) {
                return None;
            }
            let sql = match engine {
                EngineKind::Mysql => format!(
                    "ALTER TABLE {} DROP COLUMN {}, ALGORITHM=INSTANT",
                    q(table),
                    q(name)
                ),
                EngineKind::Postgres => {
                    format!("ALTER TABLE {} DROP COLUMN IF EXISTS {}", q(table), q(name))
                }
                EngineKind::Sqlite => format!("ALTER TABLE {} DROP COLUMN {}", q(table), q(name)),
            };
            (
                vec![sql],
                true,
                Effect::ColumnAbsent {
                    table: table.clone(),
                    column: name.clone(),
                },
            )
        }
        ObjectRef::Index { name } => {
            let sql = match engine {
                EngineKind::Postgres => format!("DROP INDEX CONCURRENTLY IF EXISTS {}", q(name)),
                EngineKind::Mysql => {
                    let table = schema.indexes.get(name).map(|i| i.table.clone())?;
                    if created_tables.contains(&table) {
                        return None;
                    }
                    format!(
                        "ALTER TABLE {} DROP INDEX {}, ALGORITHM=INPLACE, LOCK=NONE",
                        q(&table),
                        q(name)
                    )
                }
                EngineKind::Sqlite => format!("DROP INDEX IF EXISTS {}", q(name)),
            };
            (
                vec![sql],
                false,
                Effect::IndexAbsent {
                    index: name.clone(),
                },
            )
        }
        ObjectRef::Constraint { table, name } => {
            if created_tables.contains(table) {
                return None;
            }
            let kind = schema
                .tables
                .get(table)
                .and_then(|t| t.constraints.get(name))
                .map(|c| &c.kind);
            let sql = match (engine, kind) {
                (EngineKind::Mysql, Some(ConstraintKind::ForeignKey { .. })) => {
                    format!("ALTER TABLE {} DROP FOREIGN KEY {}", q(table), q(name))
                }
                (EngineKind::Mysql, Some(ConstraintKind::Unique { .. })) => {
                    format!(
                        "ALTER TABLE {} DROP INDEX {}, ALGORITHM=INPLACE, LOCK=NONE",
                        q(table),
                        q(name)
                    )
                }
                (EngineKind::Mysql, _) => {
                    format!("ALTER TABLE {} DROP CONSTRAINT {}", q(table), q(name))
                }
                (EngineKind::Postgres, _) => format!(
                    "ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}",
                    q(table),
                    q(name)
                ),
                // SQLite drops a constraint by rebuilding the table: see
                // `undo_rebuild`.
                (EngineKind::Sqlite, _) => return None,
            };
            (
                vec![sql],
                true,
                Effect::ConstraintAbsent {
                    table: table.clone(),
                    constraint: name.clone(),
                },
            )
        }
        ObjectRef::Trigger { table, name } => {
            let statements = match engine {
                // zerodown names a trigger's function like the trigger.
                EngineKind::Postgres => vec![
                    format!("DROP TRIGGER IF EXISTS {} ON {}", q(name), q(table)),
                    format!("DROP FUNCTION IF EXISTS {}()", q(name)),
                ],
                EngineKind::Mysql | EngineKind::Sqlite => {
                    vec![format!("DROP TRIGGER IF EXISTS {}", q(name))]
                }
            };
            let transactional = engine != EngineKind::Mysql;
            (
                statements,
                transactional,
                Effect::TriggerAbsent {
                    table: table.clone(),
                    trigger: name.clone(),
                },
            )
        }
        ObjectRef::View { name } => (
            vec![format!("DROP VIEW IF EXISTS {}", q(name))],
            true,
            Effect::ViewAbsent { view: name.clone() },
        ),
    };
    let transactional = transactional && engine != EngineKind::Mysql;
    Some(SqlStep {
        statements,
        transactional,
        lock: "brief catalog lock (undoing expand)".to_string(),
        effect,
    })
}

/// The rebuild that removes a constraint a plan added on SQLite (a CHECK
/// or foreign key, added by a rebuild), or `None` for every other object,
/// which `undo_step` removes.
pub fn undo_rebuild(
    engine: EngineKind,
    object: &ObjectRef,
    created_tables: &[String],
) -> Option<RebuildStep> {
    match (engine, object) {
        (EngineKind::Sqlite, ObjectRef::Constraint { table, name })
            if !created_tables.contains(table) =>
        {
            match super::sqlite_rebuild(
                table,
                vec![RebuildEdit::DropConstraint { name: name.clone() }],
            ) {
                Step::Rebuild(step) => Some(step),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_covers_each_kind_of_object() {
        let schema = Schema::default();
        let col = ObjectRef::column("users", "full_name");
        let s = undo_step(EngineKind::Postgres, &col, &schema, &[]).unwrap();
        assert_eq!(
            s.statements,
            vec!["ALTER TABLE \"users\" DROP COLUMN IF EXISTS \"full_name\""]
        );
        assert!(undo_step(EngineKind::Postgres, &col, &schema, &["users".to_string()]).is_none());
        let trig = ObjectRef::Trigger {
            table: "users".into(),
            name: "zd_sync".into(),
        };
        let s = undo_step(EngineKind::Postgres, &trig, &schema, &[]).unwrap();
        assert_eq!(s.statements.len(), 2);
        assert!(s.transactional);
        let s = undo_step(EngineKind::Mysql, &trig, &schema, &[]).unwrap();
        assert_eq!(s.statements, vec!["DROP TRIGGER IF EXISTS `zd_sync`"]);
        assert!(!s.transactional);
        let idx = ObjectRef::Index { name: "i".into() };
        assert!(
            !undo_step(EngineKind::Postgres, &idx, &schema, &[])
                .unwrap()
                .transactional
        );
        // MySQL needs the index's table from the catalog.
        assert!(undo_step(EngineKind::Mysql, &idx, &schema, &[]).is_none());
    }
}
