//! CREATE TABLE, DROP TABLE and RENAME TABLE.
//!
//! Creating a table is additive. Dropping one is subtractive, optionally
//! into a trash schema so `purge` can delete it later. Renaming in place
//! would break every running release that still uses the old name, so on
//! PostgreSQL and MySQL the new name is served by a view over the old table
//! until contract swaps them; SQLite has no updatable views and refuses.

use crate::dialect::EngineKind;
use crate::ops::{generated_name, Action, ColumnSpec, Effect, ObjectRef, SqlStep, Step, Symbol};
use crate::ops::{Analysis, ChangeClass, Classification, Context, Refusal};
use crate::plan::Phase;
use crate::schema::{Constraint, Schema};

/// Where PostgreSQL and MySQL keep soft-dropped tables.
const TRASH_SCHEMA: &str = "zerodown_trash";

/// Identifier limit of PostgreSQL (63 bytes) and MySQL (64): the stricter.
const NAME_LIMIT: usize = 63;

fn rule(engine: EngineKind, kind: &str, variant: &str) -> String {
    let prefix = match engine {
        EngineKind::Postgres => "pg",
        EngineKind::Mysql => "mysql",
        EngineKind::Sqlite => "sqlite",
    };
    format!("{prefix}/{kind}/{variant}")
}

/// A single DDL statement runs in a transaction where DDL is transactional;
/// MySQL commits DDL implicitly.
fn ddl_transactional(engine: EngineKind) -> bool {
    engine != EngineKind::Mysql
}

pub(super) fn create_table(
    engine: EngineKind,
    table: &str,
    columns: &[ColumnSpec],
    constraints: &[Constraint],
    references: &[String],
    sql: &str,
) -> Analysis {
    let referenced: Vec<&String> = references.iter().filter(|r| r.as_str() != table).collect();
    let lock = match (engine, referenced.is_empty()) {
        (EngineKind::Postgres, true) => "none on existing tables (a new, empty table)".to_string(),
        (EngineKind::Postgres, false) => {
            "SHARE ROW EXCLUSIVE on the referenced tables (brief: the new table is empty)"
                .to_string()
        }
        (EngineKind::Mysql, true) => "none on existing tables (a new, empty table)".to_string(),
        (EngineKind::Mysql, false) => {
            "shared metadata lock on the referenced tables (brief)".to_string()
        }
        (EngineKind::Sqlite, _) => {
            "SQLite's write lock (brief: the new table is empty)".to_string()
        }
    };
    let mut creates = vec![ObjectRef::table(table)];
    creates.extend(columns.iter().map(|c| ObjectRef::column(table, &c.name)));
    creates.extend(constraints.iter().map(|c| ObjectRef::Constraint {
        table: table.to_string(),
        name: c.name.clone(),
    }));
    let action = Action {
        key: "create-table".to_string(),
        phase: Phase::Expand,
        symbol: Symbol::Add,
        summary: format!("create table {table} ({} columns)", columns.len()),
        step: Step::Sql(SqlStep {
            statements: vec![sql.to_string()],
            transactional: ddl_transactional(engine),
            lock: lock.clone(),
            effect: Effect::TableExists {
                table: table.to_string(),
            },
        }),
        creates,
        needs: referenced.iter().map(|r| ObjectRef::table(r)).collect(),
        removes: Vec::new(),
    };
    Analysis {
        classification: Classification {
            class: ChangeClass::Additive,
            rule: rule(engine, "create-table", "new"),
            lock,
            reason: "a new table: no running release uses it yet, so it is created in expand"
                .to_string(),
            rewrite: None,
        },
        actions: vec![action],
    }
}

/// The foreign keys of other tables that reference `table`, as `t.constraint`.
fn referencing_foreign_keys(schema: &Schema, table: &str) -> Vec<String> {
    schema
        .tables
        .foreign_keys_to(table)
        .filter(|(other, _)| *other != table)
        .map(|(other, c)| format!("{other}.{}", c.name))
        .collect()
}

/// The name a soft-dropped table gets: `<table>__v<version>`, or a
/// generated name with a hash when that would pass the identifier limit (an
/// engine would cut it, and a cut name can collide with the table itself).
fn trash_name(table: &str, version: u32) -> String {
    let name = format!("{table}__v{version}");
    if name.len() <= NAME_LIMIT {
        name
    } else {
        generated_name(&[&name])
    }
}

pub(super) fn drop_table(
    engine: EngineKind,
    table: &str,
    schema: &Schema,
    ctx: &Context<'_>,
) -> Result<Analysis, Refusal> {
    let referencing = referencing_foreign_keys(schema, table);
    if !referencing.is_empty() {
        return Err(Refusal {
            rule: rule(engine, "drop-table", "referenced"),
            reason: format!(
                "table {table} is referenced by foreign keys of other tables: {}; dropping it would fail \
                 (or, soft-dropped, keep enforcing them against the table in the trash)",
                referencing.join(", ")
            ),
            help: format!(
                "drop those foreign keys first (ALTER TABLE … DROP CONSTRAINT …, earlier in this plan or in \
                 an earlier one), then drop {table}"
            ),
        });
    }
    let q = |name: &str| engine.quote_ident(name);
    let removes = vec![ObjectRef::table(table)];
    let absent = Effect::TableAbsent {
        table: table.to_string(),
    };
    let written_lock = match engine {
        EngineKind::Postgres => {
            "ACCESS EXCLUSIVE on the table and, for its foreign keys, on the tables they reference (brief; \
             waits for running queries)"
        }
        EngineKind::Mysql => "exclusive metadata lock on the table (brief; waits for running transactions that used it)",
        EngineKind::Sqlite => "SQLite's write lock (brief)",
    };
    let drop_reason =
        "removes a table old releases may still use, so it runs in contract, once no running \
                       release supports a schema that has it";
    let classification = |variant: &str, extra: String| Classification {
        class: ChangeClass::Subtractive,
        rule: rule(engine, "drop-table", variant),
        lock: written_lock.to_string(),
        reason: format!("{drop_reason}{extra}"),
        rewrite: None,
    };

    if !ctx.soft_drop {
        let action = Action {
            key: "drop-table".to_string(),
            phase: Phase::Contract,
            symbol: Symbol::Remove,
            summary: format!("drop table {table}"),
            step: Step::Sql(SqlStep {
                statements: vec![format!("DROP TABLE {}", q(table))],
                transactional: ddl_transactional(engine),
                lock: written_lock.to_string(),
                effect: absent,
            }),
            creates: Vec::new(),
            needs: Vec::new(),
            removes,
        };
        return Ok(Analysis {
            classification: classification("drop", String::new()),
            actions: vec![action],
        });
    }

    let trashed = trash_name(table, ctx.version);
    let (actions, whereto) = match engine {
        EngineKind::Postgres => {
            let action = Action {
                key: "move-to-trash".to_string(),
                phase: Phase::Contract,
                symbol: Symbol::Remove,
                summary: format!("move table {table} to {TRASH_SCHEMA}.{trashed}"),
                step: Step::Sql(SqlStep {
                    statements: vec![
                        format!("CREATE SCHEMA IF NOT EXISTS {}", q(TRASH_SCHEMA)),
                        format!("ALTER TABLE {} RENAME TO {}", q(table), q(&trashed)),
                        format!("ALTER TABLE {} SET SCHEMA {}", q(&trashed), q(TRASH_SCHEMA)),
                    ],
                    transactional: true,
                    lock: "ACCESS EXCLUSIVE (catalog only, brief)".to_string(),
                    effect: absent,
                }),
                creates: Vec::new(),
                needs: Vec::new(),
                removes,
            };
            (vec![action], format!("schema {TRASH_SCHEMA} as {trashed}"))
        }
        // A table in the same database, under a `zd_trash_` name: SQLite
        // has no other place; on MySQL a database is what PostgreSQL calls
        // a schema, so a shared trash database would mix the tables of
        // every database on the server (two databases soft-dropping a
        // table of the same name would collide, and `purge` in one would
        // delete the other's), and RENAME TABLE into another database
        // fails for a table with triggers ("Trigger in wrong schema").
        EngineKind::Mysql | EngineKind::Sqlite => {
            let trashed = generated_name(&["trash", &format!("{table}__v{}", ctx.version)]);
            let (statement, transactional, lock) = if engine == EngineKind::Mysql {
                (
                    format!("RENAME TABLE {} TO {}", q(table), q(&trashed)),
                    false,
                    "exclusive metadata lock on the table (brief)",
                )
            } else {
                (
                    format!("ALTER TABLE {} RENAME TO {}", q(table), q(&trashed)),
                    true,
                    "SQLite's write lock (brief)",
                )
            };
            let action = Action {
                key: "move-to-trash".to_string(),
                phase: Phase::Contract,
                symbol: Symbol::Remove,
                summary: format!("rename table {table} to {trashed} (trash)"),
                step: Step::Sql(SqlStep {
                    statements: vec![statement],
                    transactional,
                    lock: lock.to_string(),
                    effect: absent,
                }),
                creates: Vec::new(),
                needs: Vec::new(),
                removes,
            };
            (vec![action], format!("the trash name {trashed}"))
        }
    };
    let extra = format!(
        "; soft drop: the table is moved to {whereto} instead of being dropped, its data kept until \
         `purge` deletes it (the history table records when it was moved)"
    );
    Ok(Analysis {
        classification: classification("soft-drop", extra),
        actions,
    })
}

pub(super) fn rename_table(engine: EngineKind, from: &str, to: &str) -> Result<Analysis, Refusal> {
    let q = |name: &str| engine.quote_ident(name);
    let breaks = format!(
        "renaming {from} to {to} in place breaks every running release that still uses {from}"
    );
    let (written_lock, contract) = match engine {
        EngineKind::Sqlite => {
            return Err(Refusal {
                rule: rule(engine, "rename-table", "no-updatable-view"),
                reason: format!(
                    "{breaks}, and SQLite views are read-only, so no view can serve {to} to new code while \
                     old code still writes {from}"
                ),
                help: format!(
                    "either rename it with a raw change in phase contract (`raw: ALTER TABLE {from} RENAME \
                     TO {to}`, `phase: contract`) and ship a release that works with both names across \
                     it, or rename through a new table: create {to}, backfill it from {from}, and drop \
                     {from} in a later plan"
                ),
            });
        }
        EngineKind::Postgres => {
            let swap = Action {
                key: "swap-view-for-table".to_string(),
                phase: Phase::Contract,
                symbol: Symbol::Change,
                summary: format!("replace view {to} with table {from} renamed to {to}"),
                step: Step::Sql(SqlStep {
                    statements: vec![
                        format!("DROP VIEW {}", q(to)),
                        format!("ALTER TABLE {} RENAME TO {}", q(from), q(to)),
                    ],
                    transactional: true,
                    lock: "ACCESS EXCLUSIVE on the table and the view (catalog only, brief)"
                        .to_string(),
                    effect: Effect::TableAbsent {
                        table: from.to_string(),
                    },
                }),
                creates: vec![ObjectRef::table(to)],
                needs: Vec::new(),
                removes: vec![
                    ObjectRef::View {
                        name: to.to_string(),
                    },
                    ObjectRef::table(from),
                ],
            };
            ("ACCESS EXCLUSIVE (catalog only, brief)", vec![swap])
        }
        EngineKind::Mysql => {
            let parked = generated_name(&["rename", from, to]);
            let swap = Action {
                key: "swap-view-for-table".to_string(),
                phase: Phase::Contract,
                symbol: Symbol::Change,
                summary: format!(
                    "atomically move view {to} aside as {parked} and rename table {from} to {to}"
                ),
                step: Step::Sql(SqlStep {
                    statements: vec![format!(
                        "RENAME TABLE {} TO {}, {} TO {}",
                        q(to),
                        q(&parked),
                        q(from),
                        q(to)
                    )],
                    transactional: false,
                    lock: "exclusive metadata lock on both names (brief)".to_string(),
                    effect: Effect::TableAbsent {
                        table: from.to_string(),
                    },
                }),
                creates: vec![
                    ObjectRef::table(to),
                    ObjectRef::View {
                        name: parked.clone(),
                    },
                ],
                needs: Vec::new(),
                removes: vec![
                    ObjectRef::View {
                        name: to.to_string(),
                    },
                    ObjectRef::table(from),
                ],
            };
            let drop_parked = Action {
                key: "drop-old-view".to_string(),
                phase: Phase::Contract,
                symbol: Symbol::Remove,
                summary: format!("drop view {parked} (was {to} during the rollout)"),
                step: Step::Sql(SqlStep {
                    statements: vec![format!("DROP VIEW {}", q(&parked))],
                    transactional: false,
                    lock: "exclusive metadata lock on the view (brief)".to_string(),
                    effect: Effect::ViewAbsent {
                        view: parked.clone(),
                    },
                }),
                creates: Vec::new(),
                needs: vec![ObjectRef::View {
                    name: parked.clone(),
                }],
                removes: vec![ObjectRef::View { name: parked }],
            };
            ("exclusive metadata lock (brief)", vec![swap, drop_parked])
        }
    };
    let create_view = Action {
        key: "create-view".to_string(),
        phase: Phase::Expand,
        symbol: Symbol::Add,
        summary: format!("create view {to} over table {from} (new name, readable and writable)"),
        step: Step::Sql(SqlStep {
            statements: vec![format!(
                "CREATE VIEW {} AS SELECT * FROM {}",
                q(to),
                q(from)
            )],
            transactional: ddl_transactional(engine),
            lock: match engine {
                EngineKind::Mysql => {
                    "shared metadata lock on the table (brief; reads and writes continue)"
                }
                _ => "ACCESS SHARE on the table (brief; reads and writes continue)",
            }
            .to_string(),
            effect: Effect::ViewExists {
                view: to.to_string(),
            },
        }),
        creates: vec![ObjectRef::View {
            name: to.to_string(),
        }],
        needs: vec![ObjectRef::table(from)],
        removes: Vec::new(),
    };
    let mut actions = vec![create_view];
    actions.extend(contract);
    Ok(Analysis {
        classification: Classification {
            class: ChangeClass::Transforming,
            rule: rule(engine, "rename-table", "view"),
            lock: written_lock.to_string(),
            reason: format!(
                "{breaks}. Expand creates a view {to} over {from}: a simple view is automatically updatable, \
                 so new code reads and writes {to} while old code uses {from}, with no copy of the data and \
                 no doubled writes (a copy would need sync triggers and a backfill). Contract, once no \
                 release uses {from}, swaps the view for the table renamed."
            ),
            rewrite: None,
        },
        actions,
    })
}

#[cfg(test)]
mod tests {
    use crate::ops::{analyze, Context, Operation};
    use std::collections::BTreeMap;

    use super::*;
    use crate::schema::{Column, ConstraintKind, Table};

    fn ctx(soft_drop: bool) -> Context<'static> {
        Context {
            version: 2,
            soft_drop,
            backfill_exprs: &[],
            batch_size: 5000,
            fill: None,
        }
    }

    fn table(name: &str, columns: &[&str]) -> Table {
        let mut t = Table::new(name);
        t.columns = columns
            .iter()
            .map(|c| Column {
                name: c.to_string(),
                data_type: "integer".to_string(),
                nullable: true,
                default: None,
                drop_at: None,
            })
            .collect();
        t.primary_key = vec!["id".to_string()];
        t
    }

    /// users(id, email); orders(id, user_id) with a foreign key to users;
    /// legacy_sessions(id).
    fn schema() -> Schema {
        let mut orders = table("orders", &["id", "user_id"]);
        orders.constraints.insert(
            "orders_user_id_fkey".to_string(),
            Constraint {
                name: "orders_user_id_fkey".to_string(),
                kind: ConstraintKind::ForeignKey {
                    columns: vec!["user_id".to_string()],
                    ref_table: "users".to_string(),
                    ref_columns: vec!["id".to_string()],
                },
                validated: true,
            },
        );
        let mut tables = BTreeMap::new();
        for t in [
            table("users", &["id", "email"]),
            orders,
            table("legacy_sessions", &["id"]),
        ] {
            tables.insert(t.name.clone(), t);
        }
        Schema {
            version: 1,
            tables: tables.into(),
            ..Schema::default()
        }
    }

    fn create_payments(engine: EngineKind) -> Operation {
        let id = |q: &str| engine.quote_ident(q);
        Operation::CreateTable {
            table: "payments".to_string(),
            columns: ["id", "order_id"]
                .iter()
                .map(|c| ColumnSpec {
                    name: c.to_string(),
                    data_type: "integer".to_string(),
                    nullable: *c != "id",
                    default: None,
                    extra: Vec::new(),
                })
                .collect(),
            primary_key: vec!["id".to_string()],
            constraints: vec![Constraint {
                name: "payments_order_id_fkey".to_string(),
                kind: ConstraintKind::ForeignKey {
                    columns: vec!["order_id".to_string()],
                    ref_table: "orders".to_string(),
                    ref_columns: vec!["id".to_string()],
                },
                validated: true,
            }],
            references: vec!["orders".to_string()],
            sql: format!(
                "CREATE TABLE {} ({} integer PRIMARY KEY, {} integer REFERENCES {})",
                id("payments"),
                id("id"),
                id("order_id"),
                id("orders")
            ),
            if_not_exists: false,
        }
    }

    fn drop_op(table: &str) -> Operation {
        Operation::DropTable {
            table: table.to_string(),
        }
    }

    fn rename_op() -> Operation {
        Operation::RenameTable {
            from: "users".to_string(),
            to: "accounts".to_string(),
        }
    }

    fn sql_of(a: &Action) -> &SqlStep {
        match &a.step {
            Step::Sql(s) => s,
            other => panic!("expected SQL step, got {other:?}"),
        }
    }

    /// (operation, soft drop, class, rule, lock substring, [(phase, key)])
    type Row = (
        Operation,
        bool,
        ChangeClass,
        &'static str,
        &'static str,
        Vec<(Phase, &'static str)>,
    );

    fn check_rows(engine: EngineKind, rows: Vec<Row>) {
        let s = schema();
        for (op, soft, class, rule, lock, actions) in rows {
            let a = analyze(engine, &op, &s, &ctx(soft))
                .unwrap_or_else(|r| panic!("{op:?} refused: {r:?}"));
            assert_eq!(a.classification.class, class, "{op:?}");
            assert_eq!(a.classification.rule, rule, "{op:?}");
            assert!(
                a.classification.lock.contains(lock),
                "{op:?}: lock {}",
                a.classification.lock
            );
            let got: Vec<(Phase, &str)> = a
                .actions
                .iter()
                .map(|x| (x.phase, x.key.as_str()))
                .collect();
            assert_eq!(got, actions, "{op:?}");
        }
    }

    #[test]
    fn postgres_rules() {
        use ChangeClass::*;
        use Phase::*;
        let e = EngineKind::Postgres;
        check_rows(
            e,
            vec![
                (
                    create_payments(e),
                    false,
                    Additive,
                    "pg/create-table/new",
                    "SHARE ROW EXCLUSIVE",
                    vec![(Expand, "create-table")],
                ),
                (
                    drop_op("legacy_sessions"),
                    false,
                    Subtractive,
                    "pg/drop-table/drop",
                    "ACCESS EXCLUSIVE",
                    vec![(Contract, "drop-table")],
                ),
                (
                    drop_op("legacy_sessions"),
                    true,
                    Subtractive,
                    "pg/drop-table/soft-drop",
                    "ACCESS EXCLUSIVE",
                    vec![(Contract, "move-to-trash")],
                ),
                (
                    rename_op(),
                    false,
                    Transforming,
                    "pg/rename-table/view",
                    "ACCESS EXCLUSIVE",
                    vec![(Expand, "create-view"), (Contract, "swap-view-for-table")],
                ),
            ],
        );
    }

    #[test]
    fn mysql_rules() {
        use ChangeClass::*;
        use Phase::*;
        let e = EngineKind::Mysql;
        check_rows(
            e,
            vec![
                (
                    create_payments(e),
                    false,
                    Additive,
                    "mysql/create-table/new",
                    "metadata lock",
                    vec![(Expand, "create-table")],
                ),
                (
                    drop_op("legacy_sessions"),
                    false,
                    Subtractive,
                    "mysql/drop-table/drop",
                    "metadata lock",
                    vec![(Contract, "drop-table")],
                ),
                (
                    drop_op("legacy_sessions"),
                    true,
                    Subtractive,
                    "mysql/drop-table/soft-drop",
                    "metadata lock",
                    vec![(Contract, "move-to-trash")],
                ),
                (
                    rename_op(),
                    false,
                    Transforming,
                    "mysql/rename-table/view",
                    "metadata lock",
                    vec![
                        (Expand, "create-view"),
                        (Contract, "swap-view-for-table"),
                        (Contract, "drop-old-view"),
                    ],
                ),
            ],
        );
    }

    #[test]
    fn sqlite_rules() {
        use ChangeClass::*;
        use Phase::*;
        let e = EngineKind::Sqlite;
        check_rows(
            e,
            vec![
                (
                    create_payments(e),
                    false,
                    Additive,
                    "sqlite/create-table/new",
                    "write lock",
                    vec![(Expand, "create-table")],
                ),
                (
                    drop_op("legacy_sessions"),
                    false,
                    Subtractive,
                    "sqlite/drop-table/drop",
                    "write lock",
                    vec![(Contract, "drop-table")],
                ),
                (
                    drop_op("legacy_sessions"),
                    true,
                    Subtractive,
                    "sqlite/drop-table/soft-drop",
                    "write lock",
                    vec![(Contract, "move-to-trash")],
                ),
            ],
        );
        let refusal = analyze(e, &rename_op(), &schema(), &ctx(false)).unwrap_err();
        assert_eq!(refusal.rule, "sqlite/rename-table/no-updatable-view");
        assert!(refusal.reason.contains("read-only"), "{}", refusal.reason);
        assert!(refusal.help.contains("phase: contract"), "{}", refusal.help);
    }

    #[test]
    fn create_table_runs_as_rendered_and_needs_its_references() {
        for e in EngineKind::ALL {
            let op = create_payments(e);
            let a = analyze(e, &op, &schema(), &ctx(false)).unwrap();
            let Operation::CreateTable { sql, .. } = &op else {
                unreachable!()
            };
            let step = sql_of(&a.actions[0]);
            assert_eq!(&step.statements, &vec![sql.clone()]);
            assert_eq!(step.transactional, e != EngineKind::Mysql);
            assert_eq!(
                step.effect,
                Effect::TableExists {
                    table: "payments".to_string()
                }
            );
            assert_eq!(a.actions[0].needs, vec![ObjectRef::table("orders")]);
            assert_eq!(
                a.actions[0].creates,
                vec![
                    ObjectRef::table("payments"),
                    ObjectRef::column("payments", "id"),
                    ObjectRef::column("payments", "order_id"),
                    ObjectRef::Constraint {
                        table: "payments".to_string(),
                        name: "payments_order_id_fkey".to_string(),
                    },
                ]
            );
        }
    }

    #[test]
    fn self_reference_is_not_a_dependency() {
        let Operation::CreateTable { columns, sql, .. } = create_payments(EngineKind::Postgres)
        else {
            unreachable!()
        };
        let op = Operation::CreateTable {
            table: "payments".to_string(),
            columns,
            primary_key: vec!["id".to_string()],
            constraints: Vec::new(),
            references: vec!["payments".to_string()],
            sql,
            if_not_exists: false,
        };
        let a = analyze(EngineKind::Postgres, &op, &schema(), &ctx(false)).unwrap();
        assert!(a.actions[0].needs.is_empty());
        assert!(
            a.classification.lock.starts_with("none"),
            "{}",
            a.classification.lock
        );
    }

    #[test]
    fn hard_drop_sql() {
        let cases = [
            (EngineKind::Postgres, "DROP TABLE \"legacy_sessions\"", true),
            (EngineKind::Mysql, "DROP TABLE `legacy_sessions`", false),
            (EngineKind::Sqlite, "DROP TABLE \"legacy_sessions\"", true),
        ];
        for (e, sql, transactional) in cases {
            let a = analyze(e, &drop_op("legacy_sessions"), &schema(), &ctx(false)).unwrap();
            let step = sql_of(&a.actions[0]);
            assert_eq!(step.statements, vec![sql.to_string()]);
            assert_eq!(step.transactional, transactional);
            assert_eq!(
                step.effect,
                Effect::TableAbsent {
                    table: "legacy_sessions".to_string()
                }
            );
            assert_eq!(
                a.actions[0].removes,
                vec![ObjectRef::table("legacy_sessions")]
            );
        }
    }

    #[test]
    fn soft_drop_sql_postgres() {
        let a = analyze(
            EngineKind::Postgres,
            &drop_op("legacy_sessions"),
            &schema(),
            &ctx(true),
        )
        .unwrap();
        let step = sql_of(&a.actions[0]);
        assert_eq!(
            step.statements,
            vec![
                "CREATE SCHEMA IF NOT EXISTS \"zerodown_trash\"",
                "ALTER TABLE \"legacy_sessions\" RENAME TO \"legacy_sessions__v2\"",
                "ALTER TABLE \"legacy_sessions__v2\" SET SCHEMA \"zerodown_trash\"",
            ]
        );
        assert!(step.transactional);
        assert_eq!(
            step.effect,
            Effect::TableAbsent {
                table: "legacy_sessions".to_string()
            }
        );
        assert!(
            a.classification.reason.contains("purge"),
            "{}",
            a.classification.reason
        );
    }

    #[test]
    fn soft_drop_sql_mysql_renames_within_the_database() {
        let a = analyze(
            EngineKind::Mysql,
            &drop_op("legacy_sessions"),
            &schema(),
            &ctx(true),
        )
        .unwrap();
        let steps: Vec<&SqlStep> = a.actions.iter().map(sql_of).collect();
        assert_eq!(steps.len(), 1);
        assert_eq!(
            steps[0].statements,
            vec!["RENAME TABLE `legacy_sessions` TO `zd_trash_legacy_sessions__v2`"]
        );
        assert!(!steps[0].transactional);
        assert_eq!(
            steps[0].effect,
            Effect::TableAbsent {
                table: "legacy_sessions".to_string()
            }
        );
    }

    #[test]
    fn soft_drop_sql_sqlite() {
        let a = analyze(
            EngineKind::Sqlite,
            &drop_op("legacy_sessions"),
            &schema(),
            &ctx(true),
        )
        .unwrap();
        let step = sql_of(&a.actions[0]);
        assert_eq!(
            step.statements,
            vec!["ALTER TABLE \"legacy_sessions\" RENAME TO \"zd_trash_legacy_sessions__v2\""]
        );
        assert!(step.transactional);
    }

    #[test]
    fn soft_drop_of_a_long_name_stays_within_the_limit() {
        let long = "t".repeat(62);
        let name = trash_name(&long, 2);
        assert!(name.len() <= NAME_LIMIT, "{name}");
        assert_ne!(name, long);
        assert_eq!(trash_name("users", 12), "users__v12");
    }

    #[test]
    fn dropping_a_referenced_table_is_refused_naming_the_foreign_keys() {
        for (e, prefix) in [
            (EngineKind::Postgres, "pg"),
            (EngineKind::Mysql, "mysql"),
            (EngineKind::Sqlite, "sqlite"),
        ] {
            for soft in [false, true] {
                let r = analyze(e, &drop_op("users"), &schema(), &ctx(soft)).unwrap_err();
                assert_eq!(r.rule, format!("{prefix}/drop-table/referenced"));
                assert!(
                    r.reason.contains("orders.orders_user_id_fkey"),
                    "{}",
                    r.reason
                );
            }
        }
        // A table that references only itself can be dropped.
        let mut s = schema();
        s.tables
            .get_mut("legacy_sessions")
            .unwrap()
            .constraints
            .insert(
                "parent_fk".to_string(),
                Constraint {
                    name: "parent_fk".to_string(),
                    kind: ConstraintKind::ForeignKey {
                        columns: vec!["id".to_string()],
                        ref_table: "legacy_sessions".to_string(),
                        ref_columns: vec!["id".to_string()],
                    },
                    validated: true,
                },
            );
        assert!(analyze(
            EngineKind::Postgres,
            &drop_op("legacy_sessions"),
            &s,
            &ctx(false)
        )
        .is_ok());
    }

    #[test]
    fn rename_table_view_dance_postgres() {
        let a = analyze(EngineKind::Postgres, &rename_op(), &schema(), &ctx(false)).unwrap();
        let view = sql_of(&a.actions[0]);
        assert_eq!(
            view.statements,
            vec!["CREATE VIEW \"accounts\" AS SELECT * FROM \"users\""]
        );
        assert!(view.transactional);
        assert_eq!(
            view.effect,
            Effect::ViewExists {
                view: "accounts".to_string()
            }
        );
        assert_eq!(a.actions[0].needs, vec![ObjectRef::table("users")]);
        let swap = sql_of(&a.actions[1]);
        assert_eq!(
            swap.statements,
            vec![
                "DROP VIEW \"accounts\"",
                "ALTER TABLE \"users\" RENAME TO \"accounts\""
            ]
        );
        assert!(swap.transactional);
        assert_eq!(
            swap.effect,
            Effect::TableAbsent {
                table: "users".to_string()
            }
        );
        assert_eq!(a.actions[1].creates, vec![ObjectRef::table("accounts")]);
        let reason = &a.classification.reason;
        assert!(
            reason.contains("no copy of the data") && reason.contains("no doubled writes"),
            "{reason}"
        );
    }

    #[test]
    fn rename_table_view_dance_mysql() {
        let a = analyze(EngineKind::Mysql, &rename_op(), &schema(), &ctx(false)).unwrap();
        let steps: Vec<&SqlStep> = a.actions.iter().map(sql_of).collect();
        assert_eq!(
            steps[0].statements,
            vec!["CREATE VIEW `accounts` AS SELECT * FROM `users`"]
        );
        assert_eq!(
            steps[1].statements,
            vec!["RENAME TABLE `accounts` TO `zd_rename_users_accounts`, `users` TO `accounts`"]
        );
        assert_eq!(
            steps[2].statements,
            vec!["DROP VIEW `zd_rename_users_accounts`"]
        );
        assert!(steps.iter().all(|s| !s.transactional));
        assert_eq!(
            steps[2].effect,
            Effect::ViewAbsent {
                view: "zd_rename_users_accounts".to_string()
            }
        );
    }
}
