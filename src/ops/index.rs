//! CREATE INDEX and DROP INDEX.
//!
//! An index is built online where the engine can: PostgreSQL `CONCURRENTLY`,
//! MySQL `ALGORITHM=INPLACE, LOCK=NONE`. SQLite has no online form and says
//! so. A unique index is a constraint in disguise: the data is checked for
//! duplicates first, in migrate, after the plan's backfills had their chance
//! to clean it.

use crate::dialect::EngineKind;
use crate::ops::{Action, CheckKind, CheckStep, Effect, ObjectRef, SqlStep, Step, Symbol};
use crate::ops::{Analysis, ChangeClass, Classification, Refusal};
use crate::plan::Phase;
use crate::schema::{ConstraintKind, Schema};

/// How many duplicate keys the failed check shows.
const DUPLICATE_SAMPLE: u32 = 10;

fn rule(engine: EngineKind, kind: &str, variant: &str) -> String {
    let prefix = match engine {
        EngineKind::Postgres => "pg",
        EngineKind::Mysql => "mysql",
        EngineKind::Sqlite => "sqlite",
    };
    format!("{prefix}/{kind}/{variant}")
}

/// The index a `CREATE INDEX` asks for.
pub(super) struct NewIndex<'a> {
    pub(super) name: &'a str,
    pub(super) table: &'a str,
    pub(super) keys: &'a [String],
    pub(super) columns: &'a [String],
    pub(super) unique: bool,
    pub(super) method: Option<&'a str>,
    pub(super) predicate: Option<&'a str>,
}

impl NewIndex<'_> {
    fn unique_word(&self) -> &'static str {
        if self.unique {
            "UNIQUE "
        } else {
            ""
        }
    }

    fn using(&self) -> String {
        self.method
            .map(|m| format!(" USING {m}"))
            .unwrap_or_default()
    }

    fn where_clause(&self) -> String {
        self.predicate
            .map(|p| format!(" WHERE {p}"))
            .unwrap_or_default()
    }

    /// PostgreSQL's `CREATE INDEX`, concurrent or not.
    fn pg_sql(&self, concurrently: bool) -> String {
        let e = EngineKind::Postgres;
        format!(
            "CREATE {}INDEX {}{} ON {}{} ({}){}",
            self.unique_word(),
            if concurrently { "CONCURRENTLY " } else { "" },
            e.quote_ident(self.name),
            e.quote_ident(self.table),
            self.using(),
            self.keys.join(", "),
            self.where_clause()
        )
    }

    /// MySQL's online index build: the server refuses rather than blocking
    /// writes if it cannot build it in place.
    fn mysql_sql(&self) -> String {
        let e = EngineKind::Mysql;
        format!(
            "ALTER TABLE {} ADD {}INDEX {}{} ({}), ALGORITHM=INPLACE, LOCK=NONE",
            e.quote_ident(self.table),
            self.unique_word(),
            e.quote_ident(self.name),
            self.using(),
            self.keys.join(", ")
        )
    }

    fn sqlite_sql(&self) -> String {
        let e = EngineKind::Sqlite;
        format!(
            "CREATE {}INDEX {} ON {} ({}){}",
            self.unique_word(),
            e.quote_ident(self.name),
            e.quote_ident(self.table),
            self.keys.join(", "),
            self.where_clause()
        )
    }

    fn needs(&self) -> Vec<ObjectRef> {
        let mut needs = vec![ObjectRef::table(self.table)];
        needs.extend(
            self.columns
                .iter()
                .map(|c| ObjectRef::column(self.table, c)),
        );
        needs
    }

    /// The duplicates check of a unique index: key groups with more than one
    /// row, among rows the index covers (NULL keys never collide, and a
    /// partial index only covers rows matching its predicate).
    fn duplicates_check(&self, engine: EngineKind) -> Action {
        let exprs: Vec<&str> = self.keys.iter().map(|k| key_expression(k)).collect();
        let grouped = exprs.join(", ");
        let mut conds: Vec<String> = exprs
            .iter()
            .map(|k| format!("{} IS NOT NULL", parenthesized(k)))
            .collect();
        if let Some(p) = self.predicate {
            conds.push(format!("({p})"));
        }
        let from_where = format!(
            "FROM {} WHERE {}",
            engine.quote_ident(self.table),
            conds.join(" AND ")
        );
        let groups = format!("{from_where} GROUP BY {grouped} HAVING COUNT(*) > 1");
        Action {
            key: "check-duplicates".to_string(),
            phase: Phase::Migrate,
            symbol: Symbol::Change,
            summary: format!(
                "check {} has no duplicate keys ({grouped}) for unique index {}",
                self.table, self.name
            ),
            step: Step::Check(CheckStep {
                kind: CheckKind::Violations,
                count_sql: format!("SELECT COUNT(*) FROM (SELECT 1 {groups}) AS {}", engine.quote_ident("duplicates")),
                sample_sql: Some(format!(
                    "SELECT {grouped}, COUNT(*) {groups} ORDER BY COUNT(*) DESC LIMIT {DUPLICATE_SAMPLE}"
                )),
                guards: format!("unique index {} on {} ({}): no two rows share a key", self.name, self.table, grouped),
            }),
            creates: Vec::new(),
            needs: self.needs(),
            removes: Vec::new(),
        }
    }

    fn build(&self, sql: String, transactional: bool, lock: &str) -> Action {
        let how = if self.unique { "unique index" } else { "index" };
        Action {
            key: "create-index".to_string(),
            phase: if self.unique {
                Phase::Migrate
            } else {
                Phase::Expand
            },
            symbol: Symbol::Add,
            summary: format!(
                "build {how} {} on {} ({})",
                self.name,
                self.table,
                self.keys.join(", ")
            ),
            step: Step::Sql(SqlStep {
                statements: vec![sql],
                transactional,
                lock: lock.to_string(),
                effect: Effect::IndexValid {
                    index: self.name.to_string(),
                },
            }),
            creates: vec![ObjectRef::Index {
                name: self.name.to_string(),
            }],
            needs: self.needs(),
            removes: Vec::new(),
        }
    }
}

/// An index key without its ordering (`ASC`, `DESC`, `NULLS FIRST|LAST`),
/// which an index key may carry and a `GROUP BY` may not.
fn key_expression(key: &str) -> &str {
    let mut expr = key.trim_end();
    for suffix in [" NULLS FIRST", " NULLS LAST", " ASC", " DESC"] {
        let cut = expr.len().saturating_sub(suffix.len());
        if expr.is_char_boundary(cut) && expr[cut..].eq_ignore_ascii_case(suffix) {
            expr = expr[..cut].trim_end();
        }
    }
    expr
}

/// An expression wrapped in parentheses unless it is a bare or quoted name.
fn parenthesized(expr: &str) -> String {
    let bare = !expr.is_empty()
        && expr
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '$'));
    let quoted = expr.len() >= 2
        && ['"', '`'].iter().any(|&q| {
            expr.starts_with(q) && expr.ends_with(q) && !expr[1..expr.len() - 1].contains(q)
        });
    if bare || quoted {
        expr.to_string()
    } else {
        format!("({expr})")
    }
}

pub(super) fn create_index(
    engine: EngineKind,
    index: &NewIndex<'_>,
    concurrently: bool,
) -> Result<Analysis, Refusal> {
    let variant = match (index.unique, concurrently) {
        (false, false) => "plain",
        (false, true) => "concurrently",
        (true, false) => "unique",
        (true, true) => "unique-concurrently",
    };
    let unique_note = if index.unique {
        " A unique index rejects duplicate keys from then on, old code's writes included: zerodown first \
         checks for duplicates in migrate, after the plan's backfills have cleaned the data, then builds it."
    } else {
        ""
    };
    let classification =
        |class: ChangeClass, lock: &str, reason: String, rewrite: Option<String>| Classification {
            class,
            rule: rule(engine, "create-index", variant),
            lock: lock.to_string(),
            reason: format!("{reason}{unique_note}"),
            rewrite,
        };
    let (classification, build) = match engine {
        EngineKind::Postgres => {
            let online = index.pg_sql(true);
            let online_lock = "SHARE UPDATE EXCLUSIVE (reads and writes continue; waits for running transactions)";
            let classification = if concurrently {
                classification(
                    ChangeClass::Additive,
                    online_lock,
                    "built concurrently: reads and writes continue during the build; a failed build leaves an \
                     INVALID index, which the executor drops and builds again."
                        .to_string(),
                    None,
                )
            } else {
                classification(
                    ChangeClass::Unsafe,
                    "SHARE on the table for the whole build (blocks INSERT, UPDATE, DELETE; reads continue)",
                    "as written the build blocks every write to the table until it finishes; it runs as CREATE \
                     INDEX CONCURRENTLY instead, outside a transaction."
                        .to_string(),
                    Some(online.clone()),
                )
            };
            (classification, index.build(online, false, online_lock))
        }
        EngineKind::Mysql => {
            if concurrently {
                return Err(Refusal {
                    rule: rule(engine, "create-index", "concurrently"),
                    reason: "MySQL has no CREATE INDEX CONCURRENTLY".to_string(),
                    help:
                        "write CREATE INDEX without CONCURRENTLY: zerodown builds it online with \
                           ALGORITHM=INPLACE, LOCK=NONE"
                            .to_string(),
                });
            }
            if index.predicate.is_some() {
                return Err(Refusal {
                    rule: rule(engine, "create-index", "partial"),
                    reason: "MySQL has no partial indexes (CREATE INDEX … WHERE)".to_string(),
                    help: "index the whole column, or a generated column that is NULL where the predicate does \
                           not hold"
                        .to_string(),
                });
            }
            let online = index.mysql_sql();
            let classification = classification(
                ChangeClass::Unsafe,
                "chosen by the server: in place with concurrent writes when it can, else a table copy that \
                 blocks writes",
                "as written the server picks the algorithm and may fall back to copying the table with writes \
                 blocked; the rewrite requests ALGORITHM=INPLACE, LOCK=NONE, so the server refuses rather than \
                 block writes."
                    .to_string(),
                Some(online.clone()),
            );
            let lock = "none (ALGORITHM=INPLACE, LOCK=NONE; brief metadata lock at start and end)";
            (classification, index.build(online, false, lock))
        }
        EngineKind::Sqlite => {
            if concurrently {
                return Err(Refusal {
                    rule: rule(engine, "create-index", "concurrently"),
                    reason: "SQLite has no CREATE INDEX CONCURRENTLY".to_string(),
                    help: "write CREATE INDEX without CONCURRENTLY; SQLite builds every index under its write \
                           lock"
                        .to_string(),
                });
            }
            if index.method.is_some() {
                return Err(Refusal {
                    rule: rule(engine, "create-index", "method"),
                    reason: "SQLite has no index methods (CREATE INDEX … USING)".to_string(),
                    help: "drop the USING clause: SQLite indexes are B-trees".to_string(),
                });
            }
            let lock = "SQLite's write lock for the whole build (writers wait, readers continue in WAL mode)";
            let classification = classification(
                ChangeClass::Additive,
                lock,
                "SQLite has no online index build: the build holds SQLite's write lock until it finishes, so \
                 writers wait for it; on a large table, expect writes to stall for the build's duration."
                    .to_string(),
                None,
            );
            (classification, index.build(index.sqlite_sql(), true, lock))
        }
    };
    let mut actions = Vec::new();
    if index.unique {
        actions.push(index.duplicates_check(engine));
    }
    actions.push(build);
    Ok(Analysis {
        classification,
        actions,
    })
}

pub(super) fn drop_index(
    engine: EngineKind,
    name: &str,
    table: Option<&str>,
    schema: &Schema,
) -> Result<Analysis, Refusal> {
    let modelled = schema.indexes.get(name);
    let table = table.or(modelled.map(|i| i.table.as_str()));
    if let Some(t) = table.and_then(|t| schema.table(t)) {
        // PostgreSQL and SQLite name a constraint's index after the
        // constraint; MySQL too, except the primary key's, `PRIMARY`.
        let mysql_primary = engine == EngineKind::Mysql && name.eq_ignore_ascii_case("PRIMARY");
        let backed = t.constraints.values().find(|c| match c.kind {
            ConstraintKind::PrimaryKey { .. } => c.name == name || mysql_primary,
            ConstraintKind::Unique { .. } => c.name == name,
            ConstraintKind::Check { .. } | ConstraintKind::ForeignKey { .. } => false,
        });
        let drop_primary = |constraint: &str| match engine {
            EngineKind::Mysql => format!("ALTER TABLE {} DROP PRIMARY KEY", t.name),
            _ => format!("ALTER TABLE {} DROP CONSTRAINT {constraint}", t.name),
        };
        let backs: Option<(String, String)> = match backed {
            Some(c) if matches!(c.kind, ConstraintKind::PrimaryKey { .. }) => {
                Some((format!("primary key {}", c.name), drop_primary(&c.name)))
            }
            Some(c) => Some((
                format!("unique constraint {}", c.name),
                format!("ALTER TABLE {} DROP CONSTRAINT {}", t.name, c.name),
            )),
            None if mysql_primary && !t.primary_key.is_empty() => {
                Some(("primary key".to_string(), drop_primary(name)))
            }
            None => None,
        };
        if let Some((what, instead)) = backs {
            return Err(Refusal {
                rule: rule(engine, "drop-index", "backs-constraint"),
                reason: format!(
                    "index {name} backs the {what} of table {}; dropping it alone would fail",
                    t.name
                ),
                help: format!("drop the constraint instead ({instead}), which drops its index"),
            });
        }
    }
    let q = |n: &str| engine.quote_ident(n);
    let reason =
        "removes an index old releases may rely on for their query plans, so it runs in contract";
    let (lock, written_lock, sql, transactional, note) = match engine {
        EngineKind::Postgres => (
            "SHARE UPDATE EXCLUSIVE (reads and writes continue; waits for running transactions)",
            "ACCESS EXCLUSIVE on the table (brief, but queues behind running queries and blocks everything \
             behind it)",
            format!("DROP INDEX CONCURRENTLY {}", q(name)),
            false,
            "; it runs as DROP INDEX CONCURRENTLY, which takes no lock that blocks reads or writes",
        ),
        EngineKind::Mysql => {
            let Some(table) = table else {
                return Err(Refusal {
                    rule: rule(engine, "drop-index", "unknown-table"),
                    reason: format!("index {name} is not in the schema model, so its table is unknown"),
                    help: format!("name the table: DROP INDEX {name} ON <table>"),
                });
            };
            let lock = "none (ALGORITHM=INPLACE, LOCK=NONE; brief metadata lock)";
            (
                lock,
                lock,
                format!("ALTER TABLE {} DROP INDEX {}, ALGORITHM=INPLACE, LOCK=NONE", q(table), q(name)),
                false,
                "",
            )
        }
        EngineKind::Sqlite => {
            let lock = "SQLite's write lock (brief)";
            (lock, lock, format!("DROP INDEX {}", q(name)), true, "")
        }
    };
    let action = Action {
        key: "drop-index".to_string(),
        phase: Phase::Contract,
        symbol: Symbol::Remove,
        summary: match table {
            Some(t) => format!("drop index {name} on {t}"),
            None => format!("drop index {name}"),
        },
        step: Step::Sql(SqlStep {
            statements: vec![sql],
            transactional,
            lock: lock.to_string(),
            effect: Effect::IndexAbsent {
                index: name.to_string(),
            },
        }),
        creates: Vec::new(),
        needs: Vec::new(),
        removes: vec![ObjectRef::Index {
            name: name.to_string(),
        }],
    };
    let variant = match engine {
        EngineKind::Postgres => "concurrently",
        EngineKind::Mysql => "inplace",
        EngineKind::Sqlite => "plain",
    };
    Ok(Analysis {
        classification: Classification {
            class: ChangeClass::Subtractive,
            rule: rule(engine, "drop-index", variant),
            lock: written_lock.to_string(),
            reason: format!("{reason}{note}"),
            rewrite: None,
        },
        actions: vec![action],
    })
}

#[cfg(test)]
mod tests {
    use crate::ops::{analyze, Context, Operation};
    use std::collections::BTreeMap;

    use super::*;
    use crate::schema::{Constraint, Index, Table};

    fn ctx() -> Context<'static> {
        Context {
            version: 2,
            soft_drop: false,
            backfill_exprs: &[],
            batch_size: 5000,
            fill: None,
        }
    }

    /// users(id, email) with primary key users_pkey and unique constraint
    /// users_email_key, each with its index; orders with index
    /// orders_created_idx.
    fn schema() -> Schema {
        let mut users = Table::new("users");
        users.primary_key = vec!["id".to_string()];
        for (name, kind) in [
            (
                "users_pkey",
                ConstraintKind::PrimaryKey {
                    columns: vec!["id".to_string()],
                },
            ),
            (
                "users_email_key",
                ConstraintKind::Unique {
                    columns: vec!["email".to_string()],
                },
            ),
        ] {
            users.constraints.insert(
                name.to_string(),
                Constraint {
                    name: name.to_string(),
                    kind,
                    validated: true,
                },
            );
        }
        let index = |name: &str, table: &str, column: &str, unique: bool| Index {
            name: name.to_string(),
            table: table.to_string(),
            keys: vec![format!("\"{column}\"")],
            columns: vec![column.to_string()],
            unique,
            predicate: None,
            drop_at: None,
        };
        let mut indexes = BTreeMap::new();
        for i in [
            index("users_pkey", "users", "id", true),
            index("users_email_key", "users", "email", true),
            index("orders_created_idx", "orders", "created_at", false),
        ] {
            indexes.insert(i.name.clone(), i);
        }
        let mut tables = BTreeMap::new();
        tables.insert("users".to_string(), users);
        tables.insert("orders".to_string(), Table::new("orders"));
        Schema {
            version: 1,
            tables: tables.into(),
            indexes: indexes.into(),
            ..Schema::default()
        }
    }

    fn create(engine: EngineKind, unique: bool, concurrently: bool) -> Operation {
        let (name, column) = if unique {
            ("orders_ref_key", "ref")
        } else {
            ("orders_created_idx", "created_at")
        };
        Operation::CreateIndex {
            name: name.to_string(),
            table: "orders".to_string(),
            keys: vec![engine.quote_ident(column)],
            columns: vec![column.to_string()],
            unique,
            concurrently,
            method: None,
            predicate: None,
        }
    }

    fn drop(name: &str, table: Option<&str>) -> Operation {
        Operation::DropIndex {
            name: name.to_string(),
            table: table.map(str::to_string),
        }
    }

    fn sql_of(a: &Action) -> &SqlStep {
        match &a.step {
            Step::Sql(s) => s,
            other => panic!("expected SQL step, got {other:?}"),
        }
    }

    fn check_of(a: &Action) -> &CheckStep {
        match &a.step {
            Step::Check(c) => c,
            other => panic!("expected a check, got {other:?}"),
        }
    }

    /// (operation, class, rule, lock substring, [(phase, key)], rewrite?)
    type Row = (
        Operation,
        ChangeClass,
        &'static str,
        &'static str,
        Vec<(Phase, &'static str)>,
        bool,
    );

    fn check_rows(engine: EngineKind, rows: Vec<Row>) {
        let s = schema();
        for (op, class, rule, lock, actions, rewrite) in rows {
            let a = analyze(engine, &op, &s, &ctx())
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
            assert_eq!(a.classification.rewrite.is_some(), rewrite, "{op:?}");
            if let Some(text) = &a.classification.rewrite {
                let build = a.actions.last().unwrap();
                assert_eq!(
                    &sql_of(build).statements,
                    &vec![text.clone()],
                    "the rewrite is what runs"
                );
            }
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
                    create(e, false, false),
                    Unsafe,
                    "pg/create-index/plain",
                    "SHARE on the table",
                    vec![(Expand, "create-index")],
                    true,
                ),
                (
                    create(e, false, true),
                    Additive,
                    "pg/create-index/concurrently",
                    "SHARE UPDATE EXCLUSIVE",
                    vec![(Expand, "create-index")],
                    false,
                ),
                (
                    create(e, true, false),
                    Unsafe,
                    "pg/create-index/unique",
                    "SHARE on the table",
                    vec![(Migrate, "check-duplicates"), (Migrate, "create-index")],
                    true,
                ),
                (
                    create(e, true, true),
                    Additive,
                    "pg/create-index/unique-concurrently",
                    "SHARE UPDATE EXCLUSIVE",
                    vec![(Migrate, "check-duplicates"), (Migrate, "create-index")],
                    false,
                ),
                (
                    drop("orders_created_idx", None),
                    Subtractive,
                    "pg/drop-index/concurrently",
                    "ACCESS EXCLUSIVE",
                    vec![(Contract, "drop-index")],
                    false,
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
                    create(e, false, false),
                    Unsafe,
                    "mysql/create-index/plain",
                    "table copy",
                    vec![(Expand, "create-index")],
                    true,
                ),
                (
                    create(e, true, false),
                    Unsafe,
                    "mysql/create-index/unique",
                    "table copy",
                    vec![(Migrate, "check-duplicates"), (Migrate, "create-index")],
                    true,
                ),
                (
                    drop("orders_created_idx", Some("orders")),
                    Subtractive,
                    "mysql/drop-index/inplace",
                    "LOCK=NONE",
                    vec![(Contract, "drop-index")],
                    false,
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
                    create(e, false, false),
                    Additive,
                    "sqlite/create-index/plain",
                    "SQLite's write lock for the whole build",
                    vec![(Expand, "create-index")],
                    false,
                ),
                (
                    create(e, true, false),
                    Additive,
                    "sqlite/create-index/unique",
                    "SQLite's write lock for the whole build",
                    vec![(Migrate, "check-duplicates"), (Migrate, "create-index")],
                    false,
                ),
                (
                    drop("orders_created_idx", None),
                    Subtractive,
                    "sqlite/drop-index/plain",
                    "write lock",
                    vec![(Contract, "drop-index")],
                    false,
                ),
            ],
        );
    }

    #[test]
    fn rewrites_exact_sql() {
        let s = schema();
        let cases = [
            (EngineKind::Postgres, false, "CREATE INDEX CONCURRENTLY \"orders_created_idx\" ON \"orders\" (\"created_at\")", false),
            (EngineKind::Postgres, true, "CREATE UNIQUE INDEX CONCURRENTLY \"orders_ref_key\" ON \"orders\" (\"ref\")", false),
            (
                EngineKind::Mysql,
                false,
                "ALTER TABLE `orders` ADD INDEX `orders_created_idx` (`created_at`), ALGORITHM=INPLACE, LOCK=NONE",
                false,
            ),
            (
                EngineKind::Mysql,
                true,
                "ALTER TABLE `orders` ADD UNIQUE INDEX `orders_ref_key` (`ref`), ALGORITHM=INPLACE, LOCK=NONE",
                false,
            ),
            (EngineKind::Sqlite, false, "CREATE INDEX \"orders_created_idx\" ON \"orders\" (\"created_at\")", true),
            (EngineKind::Sqlite, true, "CREATE UNIQUE INDEX \"orders_ref_key\" ON \"orders\" (\"ref\")", true),
        ];
        for (e, unique, sql, transactional) in cases {
            let a = analyze(e, &create(e, unique, false), &s, &ctx()).unwrap();
            let build = a.actions.last().unwrap();
            let step = sql_of(build);
            assert_eq!(step.statements, vec![sql.to_string()]);
            assert_eq!(step.transactional, transactional);
            let name = if unique {
                "orders_ref_key"
            } else {
                "orders_created_idx"
            };
            assert_eq!(
                step.effect,
                Effect::IndexValid {
                    index: name.to_string()
                }
            );
            assert_eq!(
                build.creates,
                vec![ObjectRef::Index {
                    name: name.to_string()
                }]
            );
            let column = if unique { "ref" } else { "created_at" };
            assert_eq!(
                build.needs,
                vec![
                    ObjectRef::table("orders"),
                    ObjectRef::column("orders", column)
                ]
            );
        }
    }

    #[test]
    fn partial_method_and_expression_keys_postgres() {
        let op = Operation::CreateIndex {
            name: "users_lower_email_key".to_string(),
            table: "users".to_string(),
            keys: vec![
                "lower(\"email\")".to_string(),
                "\"tenant\" DESC".to_string(),
            ],
            columns: vec!["tenant".to_string()],
            unique: true,
            concurrently: false,
            method: Some("btree".to_string()),
            predicate: Some("\"deleted_at\" IS NULL".to_string()),
        };
        let a = analyze(EngineKind::Postgres, &op, &schema(), &ctx()).unwrap();
        assert_eq!(
            a.classification.rewrite.as_deref(),
            Some(
                "CREATE UNIQUE INDEX CONCURRENTLY \"users_lower_email_key\" ON \"users\" USING btree \
                 (lower(\"email\"), \"tenant\" DESC) WHERE \"deleted_at\" IS NULL"
            )
        );
        let check = check_of(&a.actions[0]);
        assert_eq!(check.kind, CheckKind::Violations);
        assert_eq!(
            check.count_sql,
            "SELECT COUNT(*) FROM (SELECT 1 FROM \"users\" WHERE (lower(\"email\")) IS NOT NULL AND \"tenant\" IS NOT \
             NULL AND (\"deleted_at\" IS NULL) GROUP BY lower(\"email\"), \"tenant\" HAVING COUNT(*) > 1) AS \
             \"duplicates\""
        );
    }

    #[test]
    fn duplicates_check_exact_sql() {
        let a = analyze(
            EngineKind::Mysql,
            &create(EngineKind::Mysql, true, false),
            &schema(),
            &ctx(),
        )
        .unwrap();
        let check = check_of(&a.actions[0]);
        assert_eq!(check.kind, CheckKind::Violations);
        assert_eq!(
            check.count_sql,
            "SELECT COUNT(*) FROM (SELECT 1 FROM `orders` WHERE `ref` IS NOT NULL GROUP BY `ref` HAVING COUNT(*) > 1) \
             AS `duplicates`"
        );
        assert_eq!(
            check.sample_sql.as_deref(),
            Some(
                "SELECT `ref`, COUNT(*) FROM `orders` WHERE `ref` IS NOT NULL GROUP BY `ref` HAVING COUNT(*) > 1 \
                 ORDER BY COUNT(*) DESC LIMIT 10"
            )
        );
        assert!(
            a.classification.reason.contains("duplicates"),
            "{}",
            a.classification.reason
        );
    }

    #[test]
    fn engines_refuse_what_they_do_not_have() {
        let partial = |e: EngineKind| Operation::CreateIndex {
            name: "i".to_string(),
            table: "orders".to_string(),
            keys: vec![e.quote_ident("a")],
            columns: vec!["a".to_string()],
            unique: false,
            concurrently: false,
            method: None,
            predicate: Some("a > 0".to_string()),
        };
        let with_method = Operation::CreateIndex {
            name: "i".to_string(),
            table: "orders".to_string(),
            keys: vec!["\"a\"".to_string()],
            columns: vec!["a".to_string()],
            unique: false,
            concurrently: false,
            method: Some("hash".to_string()),
            predicate: None,
        };
        let cases = [
            (
                EngineKind::Mysql,
                create(EngineKind::Mysql, false, true),
                "mysql/create-index/concurrently",
            ),
            (
                EngineKind::Mysql,
                partial(EngineKind::Mysql),
                "mysql/create-index/partial",
            ),
            (
                EngineKind::Sqlite,
                create(EngineKind::Sqlite, true, true),
                "sqlite/create-index/concurrently",
            ),
            (
                EngineKind::Sqlite,
                with_method,
                "sqlite/create-index/method",
            ),
        ];
        for (e, op, rule) in cases {
            assert_eq!(analyze(e, &op, &schema(), &ctx()).unwrap_err().rule, rule);
        }
        // SQLite has partial indexes.
        let a = analyze(
            EngineKind::Sqlite,
            &partial(EngineKind::Sqlite),
            &schema(),
            &ctx(),
        )
        .unwrap();
        assert_eq!(
            sql_of(&a.actions[0]).statements,
            vec!["CREATE INDEX \"i\" ON \"orders\" (\"a\") WHERE a > 0"]
        );
    }

    #[test]
    fn drop_index_exact_sql() {
        let s = schema();
        let cases = [
            (EngineKind::Postgres, None, "DROP INDEX CONCURRENTLY \"orders_created_idx\"", false),
            (EngineKind::Mysql, Some("orders"), "ALTER TABLE `orders` DROP INDEX `orders_created_idx`, ALGORITHM=INPLACE, LOCK=NONE", false),
            // The table comes from the schema model when the statement does not name it.
            (EngineKind::Mysql, None, "ALTER TABLE `orders` DROP INDEX `orders_created_idx`, ALGORITHM=INPLACE, LOCK=NONE", false),
            (EngineKind::Sqlite, None, "DROP INDEX \"orders_created_idx\"", true),
        ];
        for (e, table, sql, transactional) in cases {
            let a = analyze(e, &drop("orders_created_idx", table), &s, &ctx()).unwrap();
            let step = sql_of(&a.actions[0]);
            assert_eq!(step.statements, vec![sql.to_string()]);
            assert_eq!(step.transactional, transactional);
            assert_eq!(
                step.effect,
                Effect::IndexAbsent {
                    index: "orders_created_idx".to_string()
                }
            );
            assert_eq!(
                a.actions[0].removes,
                vec![ObjectRef::Index {
                    name: "orders_created_idx".to_string()
                }]
            );
        }
        let r = analyze(EngineKind::Mysql, &drop("nowhere_idx", None), &s, &ctx()).unwrap_err();
        assert_eq!(r.rule, "mysql/drop-index/unknown-table");
    }

    #[test]
    fn dropping_a_constraint_index_is_refused() {
        let s = schema();
        let cases = [
            (
                EngineKind::Postgres,
                drop("users_email_key", None),
                "pg/drop-index/backs-constraint",
                "DROP CONSTRAINT users_email_key",
            ),
            (
                EngineKind::Postgres,
                drop("users_pkey", None),
                "pg/drop-index/backs-constraint",
                "DROP CONSTRAINT users_pkey",
            ),
            (
                EngineKind::Sqlite,
                drop("users_email_key", None),
                "sqlite/drop-index/backs-constraint",
                "DROP CONSTRAINT users_email_key",
            ),
            (
                EngineKind::Mysql,
                drop("users_email_key", Some("users")),
                "mysql/drop-index/backs-constraint",
                "DROP CONSTRAINT users_email_key",
            ),
            (
                EngineKind::Mysql,
                drop("PRIMARY", Some("users")),
                "mysql/drop-index/backs-constraint",
                "DROP PRIMARY KEY",
            ),
        ];
        for (e, op, rule, help) in cases {
            let r = analyze(e, &op, &s, &ctx()).unwrap_err();
            assert_eq!(r.rule, rule);
            assert!(r.help.contains(help), "{}", r.help);
        }
    }

    #[test]
    fn key_expressions_lose_their_ordering() {
        assert_eq!(key_expression("\"a\" DESC NULLS LAST"), "\"a\"");
        assert_eq!(key_expression("\"a\" asc"), "\"a\"");
        assert_eq!(key_expression("lower(\"desc\")"), "lower(\"desc\")");
        assert_eq!(parenthesized("`a`"), "`a`");
        assert_eq!(parenthesized("a"), "a");
        assert_eq!(parenthesized("a + b"), "(a + b)");
        assert_eq!(parenthesized("\"a\" || \"b\""), "(\"a\" || \"b\")");
    }
}
