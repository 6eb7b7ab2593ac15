//! CREATE VIEW and DROP VIEW.
//!
//! A new view is additive. Replacing a view changes what every release
//! reading it sees at once; it stays additive (no release breaks on a
//! column it does not read), but the classification says so. Dropping a
//! view is subtractive.

use std::collections::BTreeSet;

use crate::dialect::EngineKind;
use crate::ops::{Action, Effect, ObjectRef, SqlStep, Step, Symbol};
use crate::ops::{Analysis, ChangeClass, Classification, Refusal};
use crate::plan::Phase;
use crate::schema::Schema;

fn rule(engine: EngineKind, kind: &str, variant: &str) -> String {
    let prefix = match engine {
        EngineKind::Postgres => "pg",
        EngineKind::Mysql => "mysql",
        EngineKind::Sqlite => "sqlite",
    };
    format!("{prefix}/{kind}/{variant}")
}

/// The names a statement mentions, as the engine resolves them: bare words
/// folded to lower case, quoted names as written. String literals are
/// skipped. Used only to order the view after the tables and views it
/// reads; a word that is not a table adds no dependency.
fn mentioned_names(sql: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '`' | '\'' => {
                let mut text = String::new();
                while let Some(d) = chars.next() {
                    if d == c {
                        if chars.peek() == Some(&c) {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                    text.push(d);
                }
                if c != '\'' {
                    names.insert(text);
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut word = c.to_lowercase().collect::<String>();
                while let Some(&d) = chars.peek() {
                    if d.is_alphanumeric() || d == '_' || d == '$' {
                        word.extend(d.to_lowercase());
                        chars.next();
                    } else {
                        break;
                    }
                }
                names.insert(word);
            }
            _ => {}
        }
    }
    names
}

pub(super) fn create_view(
    engine: EngineKind,
    name: &str,
    or_replace: bool,
    sql: &str,
    schema: &Schema,
) -> Result<Analysis, Refusal> {
    let replaces = or_replace && schema.views.contains_key(name);
    if or_replace && engine == EngineKind::Sqlite {
        return Err(Refusal {
            rule: rule(engine, "create-view", "or-replace"),
            reason: "SQLite has no CREATE OR REPLACE VIEW".to_string(),
            help: format!(
                "replace it with a raw change in phase expand that runs DROP VIEW {name} and CREATE VIEW \
                 {name} AS … together (one transaction on SQLite); old code sees the new definition at once"
            ),
        });
    }
    let mentioned = mentioned_names(sql);
    // Look the view's words up in the model, not the model in the view's
    // words: a schema has many more tables than a view mentions.
    let mut needs: Vec<ObjectRef> = mentioned
        .iter()
        .filter(|word| schema.tables.contains_key(*word))
        .map(|t| ObjectRef::table(t))
        .collect();
    needs.extend(
        mentioned
            .iter()
            .filter(|word| word.as_str() != name && schema.views.contains_key(*word))
            .map(|v| ObjectRef::View { name: v.clone() }),
    );
    let lock = match (engine, replaces) {
        (EngineKind::Postgres, false) => {
            "ACCESS SHARE on the tables it reads (brief; reads and writes continue)"
        }
        (EngineKind::Postgres, true) => {
            "ACCESS EXCLUSIVE on the view (brief; the tables it reads stay available)"
        }
        (EngineKind::Mysql, _) => "metadata lock on the view and the tables it reads (brief)",
        (EngineKind::Sqlite, _) => "SQLite's write lock (brief)",
    };
    let (variant, reason) = if replaces {
        (
            "replace",
            format!(
                "replaces view {name} in expand: it stays additive, but old code reading {name} sees the new \
                 definition at once, so it must return what old releases expect (same columns, same meaning)"
            ),
        )
    } else {
        (
            "new",
            format!("a new view: no running release reads {name} yet, so it is created in expand"),
        )
    };
    let action = Action {
        key: if replaces {
            "replace-view"
        } else {
            "create-view"
        }
        .to_string(),
        phase: Phase::Expand,
        symbol: if replaces {
            Symbol::Change
        } else {
            Symbol::Add
        },
        summary: format!(
            "{} view {name}",
            if replaces { "replace" } else { "create" }
        ),
        step: Step::Sql(SqlStep {
            statements: vec![sql.to_string()],
            transactional: engine != EngineKind::Mysql,
            lock: lock.to_string(),
            effect: Effect::ViewExists {
                view: name.to_string(),
            },
        }),
        creates: vec![ObjectRef::View {
            name: name.to_string(),
        }],
        needs,
        removes: Vec::new(),
    };
    Ok(Analysis {
        classification: Classification {
            class: ChangeClass::Additive,
            rule: rule(engine, "create-view", variant),
            lock: lock.to_string(),
            reason,
            rewrite: None,
        },
        actions: vec![action],
    })
}

pub(super) fn drop_view(engine: EngineKind, name: &str) -> Analysis {
    let lock = match engine {
        EngineKind::Postgres => {
            "ACCESS EXCLUSIVE on the view (brief; the tables it reads stay available)"
        }
        EngineKind::Mysql => "metadata lock on the view (brief)",
        EngineKind::Sqlite => "SQLite's write lock (brief)",
    };
    let action = Action {
        key: "drop-view".to_string(),
        phase: Phase::Contract,
        symbol: Symbol::Remove,
        summary: format!("drop view {name}"),
        step: Step::Sql(SqlStep {
            statements: vec![format!("DROP VIEW {}", engine.quote_ident(name))],
            transactional: engine != EngineKind::Mysql,
            lock: lock.to_string(),
            effect: Effect::ViewAbsent {
                view: name.to_string(),
            },
        }),
        creates: Vec::new(),
        needs: Vec::new(),
        removes: vec![ObjectRef::View {
            name: name.to_string(),
        }],
    };
    Analysis {
        classification: Classification {
            class: ChangeClass::Subtractive,
            rule: rule(engine, "drop-view", "plain"),
            lock: lock.to_string(),
            reason: format!(
                "removes a view old releases may still read, so it runs in contract, once no running release \
                 supports a schema that has {name}"
            ),
            rewrite: None,
        },
        actions: vec![action],
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::{analyze, Context, Operation};
    use std::collections::BTreeMap;

    use super::*;
    use crate::schema::{Table, View};

    fn ctx() -> Context<'static> {
        Context {
            version: 2,
            soft_drop: false,
            backfill_exprs: &[],
            batch_size: 5000,
            fill: None,
        }
    }

    /// Tables users, orders; view active_users.
    fn schema() -> Schema {
        let mut tables = BTreeMap::new();
        for t in ["users", "orders"] {
            tables.insert(t.to_string(), Table::new(t));
        }
        let mut views = BTreeMap::new();
        views.insert(
            "active_users".to_string(),
            View {
                name: "active_users".to_string(),
                sql: "SELECT * FROM users".to_string(),
                drop_at: None,
            },
        );
        Schema {
            version: 1,
            tables: tables.into(),
            views,
            ..Schema::default()
        }
    }

    fn create(name: &str, or_replace: bool, sql: &str) -> Operation {
        Operation::CreateView {
            name: name.to_string(),
            or_replace,
            sql: sql.to_string(),
        }
    }

    fn drop(name: &str) -> Operation {
        Operation::DropView {
            name: name.to_string(),
        }
    }

    /// (operation, class, rule, lock substring, [(phase, key)], reason substring)
    type Row = (
        Operation,
        ChangeClass,
        &'static str,
        &'static str,
        Vec<(Phase, &'static str)>,
        &'static str,
    );

    fn check_rows(engine: EngineKind, rows: Vec<Row>) {
        let s = schema();
        for (op, class, rule, lock, actions, reason) in rows {
            let a = analyze(engine, &op, &s, &ctx())
                .unwrap_or_else(|r| panic!("{op:?} refused: {r:?}"));
            assert_eq!(a.classification.class, class, "{op:?}");
            assert_eq!(a.classification.rule, rule, "{op:?}");
            assert!(
                a.classification.lock.contains(lock),
                "{op:?}: lock {}",
                a.classification.lock
            );
            assert!(
                a.classification.reason.contains(reason),
                "{op:?}: {}",
                a.classification.reason
            );
            let got: Vec<(Phase, &str)> = a
                .actions
                .iter()
                .map(|x| (x.phase, x.key.as_str()))
                .collect();
            assert_eq!(got, actions, "{op:?}");
        }
    }

    const BIG: &str = "CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100";
    const REPLACE: &str =
        "CREATE OR REPLACE VIEW active_users AS SELECT id FROM users WHERE active";
    const REPLACE_NEW: &str = "CREATE OR REPLACE VIEW fresh AS SELECT id FROM users";

    #[test]
    fn postgres_rules() {
        use ChangeClass::*;
        use Phase::*;
        let e = EngineKind::Postgres;
        check_rows(
            e,
            vec![
                (
                    create("big_orders", false, BIG),
                    Additive,
                    "pg/create-view/new",
                    "ACCESS SHARE",
                    vec![(Expand, "create-view")],
                    "new view",
                ),
                (
                    create("active_users", true, REPLACE),
                    Additive,
                    "pg/create-view/replace",
                    "ACCESS EXCLUSIVE on the view",
                    vec![(Expand, "replace-view")],
                    "old code reading active_users sees the new definition at once",
                ),
                (
                    create("fresh", true, REPLACE_NEW),
                    Additive,
                    "pg/create-view/new",
                    "ACCESS SHARE",
                    vec![(Expand, "create-view")],
                    "new view",
                ),
                (
                    drop("active_users"),
                    Subtractive,
                    "pg/drop-view/plain",
                    "ACCESS EXCLUSIVE",
                    vec![(Contract, "drop-view")],
                    "contract",
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
                    create("big_orders", false, BIG),
                    Additive,
                    "mysql/create-view/new",
                    "metadata lock",
                    vec![(Expand, "create-view")],
                    "new view",
                ),
                (
                    create("active_users", true, REPLACE),
                    Additive,
                    "mysql/create-view/replace",
                    "metadata lock",
                    vec![(Expand, "replace-view")],
                    "sees the new definition at once",
                ),
                (
                    drop("active_users"),
                    Subtractive,
                    "mysql/drop-view/plain",
                    "metadata lock",
                    vec![(Contract, "drop-view")],
                    "contract",
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
                    create("big_orders", false, BIG),
                    Additive,
                    "sqlite/create-view/new",
                    "write lock",
                    vec![(Expand, "create-view")],
                    "new view",
                ),
                (
                    drop("active_users"),
                    Subtractive,
                    "sqlite/drop-view/plain",
                    "write lock",
                    vec![(Contract, "drop-view")],
                    "contract",
                ),
            ],
        );
        let r = analyze(e, &create("active_users", true, REPLACE), &schema(), &ctx()).unwrap_err();
        assert_eq!(r.rule, "sqlite/create-view/or-replace");
        assert!(r.help.contains("raw change in phase expand"), "{}", r.help);
    }

    #[test]
    fn statements_effects_and_dependencies() {
        let cases = [
            (EngineKind::Postgres, "DROP VIEW \"active_users\"", true),
            (EngineKind::Mysql, "DROP VIEW `active_users`", false),
            (EngineKind::Sqlite, "DROP VIEW \"active_users\"", true),
        ];
        for (e, drop_sql, transactional) in cases {
            let a = analyze(e, &drop("active_users"), &schema(), &ctx()).unwrap();
            let Step::Sql(step) = &a.actions[0].step else {
                panic!("SQL step")
            };
            assert_eq!(step.statements, vec![drop_sql.to_string()]);
            assert_eq!(step.transactional, transactional);
            assert_eq!(
                step.effect,
                Effect::ViewAbsent {
                    view: "active_users".to_string()
                }
            );

            let sql = "CREATE VIEW report AS SELECT u.id, 'orders' AS label FROM \"users\" u JOIN active_users a USING (id)";
            let a = analyze(e, &create("report", false, sql), &schema(), &ctx()).unwrap();
            let Step::Sql(step) = &a.actions[0].step else {
                panic!("SQL step")
            };
            assert_eq!(step.statements, vec![sql.to_string()]);
            assert_eq!(step.transactional, transactional);
            assert_eq!(
                step.effect,
                Effect::ViewExists {
                    view: "report".to_string()
                }
            );
            // `orders` appears only inside a string literal: no dependency.
            assert_eq!(
                a.actions[0].needs,
                vec![
                    ObjectRef::table("users"),
                    ObjectRef::View {
                        name: "active_users".to_string()
                    },
                ]
            );
            assert_eq!(
                a.actions[0].creates,
                vec![ObjectRef::View {
                    name: "report".to_string()
                }]
            );
        }
    }

    #[test]
    fn mentioned_names_fold_bare_words_and_keep_quoted_ones() {
        let names = mentioned_names("SELECT \"Mixed\"\"Q\", `b`, Plain FROM t WHERE x = 'it''s'");
        let expected: BTreeSet<String> = [
            "select", "Mixed\"Q", "b", "plain", "from", "t", "where", "x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(names, expected);
    }
}
