//! Triggers that keep the database consistent for old and new releases
//! while both run: a column filled from an expression (a NOT NULL column
//! old code does not write), two columns kept equal both ways (a rename),
//! and a twin column kept converted from the original (a type change).
//! Also the rewriting of column references these need, done on the
//! `sqlparser` AST, never on strings.
//!
//! Per engine: PostgreSQL gets one plpgsql function and one `BEFORE INSERT
//! OR UPDATE` trigger; MySQL a `BEFORE INSERT` and a `BEFORE UPDATE`
//! trigger (one statement each, so no `DELIMITER` games); SQLite, whose
//! triggers cannot assign `NEW`, an `AFTER INSERT` and an `AFTER UPDATE`
//! trigger that update the row they fired for.

use std::ops::ControlFlow;

use sqlparser::ast::{visit_expressions_mut, visit_relations, Expr, Ident, Statement};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::dialect::postgres::dollar_quote;
use crate::dialect::EngineKind;
use crate::ops::generated_name;
use crate::schema::{Index, Table};

/// Which writes a trigger fires on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TriggerEvent {
    /// PostgreSQL: one trigger for both.
    InsertOrUpdate,
    Insert,
    Update,
}

impl TriggerEvent {
    /// Appended to an action key when an engine needs one trigger per event
    /// (`sync-trigger-insert`), empty for the single PostgreSQL trigger.
    pub fn key_suffix(self) -> &'static str {
        match self {
            TriggerEvent::InsertOrUpdate => "",
            TriggerEvent::Insert => "-insert",
            TriggerEvent::Update => "-update",
        }
    }

    fn name_part(self) -> Option<&'static str> {
        match self {
            TriggerEvent::InsertOrUpdate => None,
            TriggerEvent::Insert => Some("ins"),
            TriggerEvent::Update => Some("upd"),
        }
    }
}

/// One trigger zerodown installs, with the statements that create it and
/// those that remove it (its function too, on PostgreSQL). `create` is one
/// step: a single statement on MySQL, a transaction on PostgreSQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncTrigger {
    pub table: String,
    pub name: String,
    pub event: TriggerEvent,
    pub create: Vec<String>,
    pub drop: Vec<String>,
}

fn parse_expr(engine: EngineKind, sql: &str) -> Result<Expr, String> {
    let dialect = engine.sql_dialect();
    let mut parser = Parser::new(&*dialect)
        .try_with_sql(sql)
        .map_err(|e| format!("cannot read `{sql}`: {e}"))?;
    let expr = parser
        .parse_expr()
        .map_err(|e| format!("cannot read `{sql}` as an expression: {e}"))?;
    parser
        .expect_token(&Token::EOF)
        .map_err(|e| format!("cannot read `{sql}` as one expression: {e}"))?;
    Ok(expr)
}

/// The name an identifier denotes (see `ops::parse::normalize_ident`),
/// looked up among `columns`: exactly, and without regard to case on MySQL
/// and SQLite, whose column names are case-insensitive.
fn find_column<'a>(engine: EngineKind, ident: &Ident, columns: &[&'a str]) -> Option<&'a str> {
    let name = crate::parse::normalize_ident(ident);
    columns
        .iter()
        .copied()
        .find(|c| *c == name)
        .or_else(|| match engine {
            EngineKind::Postgres => None,
            EngineKind::Mysql | EngineKind::Sqlite => columns
                .iter()
                .copied()
                .find(|c| c.eq_ignore_ascii_case(&ident.value)),
        })
}

/// An expression node that prints `sql` as it is: `sql` is built from
/// identifiers quoted by `EngineKind::quote_ident`.
fn verbatim(sql: String) -> Expr {
    Expr::Identifier(Ident::new(sql))
}

/// `expr_sql` (an expression over the row of a table, as a backfill or a
/// `USING` clause writes it) rewritten for a trigger: every reference to
/// one of `table_columns` becomes `<row_alias>.<quoted column>`, e.g.
/// `split_part(email, '@', 1)` → `split_part(NEW."email", '@', 1)`.
/// Qualified references (`users.email`) are rewritten too. An expression
/// that reads another table (a subquery with `FROM`) is refused: inside it
/// a bare name may be that table's column, and a wrong guess would only
/// show as failing writes once the trigger runs.
pub fn row_expr(
    expr_sql: &str,
    engine: EngineKind,
    table_columns: &[&str],
    row_alias: &str,
) -> Result<String, String> {
    let mut expr = parse_expr(engine, expr_sql)?;
    if visit_relations(&expr, |_| ControlFlow::Break(())).is_break() {
        return Err(format!(
            "`{expr_sql}` reads another table: a trigger cannot evaluate it for each row reliably; use an expression over the row's own columns"
        ));
    }
    let qualify = |column: &str| format!("{row_alias}.{}", engine.quote_ident(column));
    let _ = visit_expressions_mut(&mut expr, |e| {
        let column = match e {
            Expr::Identifier(ident) => find_column(engine, ident, table_columns),
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
                find_column(engine, &parts[1], table_columns)
            }
            _ => None,
        };
        if let Some(column) = column {
            *e = verbatim(qualify(column));
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(expr.to_string())
}

/// Whether an expression (a CHECK constraint, an index predicate) refers to
/// `column`.
pub fn references_column(engine: EngineKind, expr_sql: &str, column: &str) -> Result<bool, String> {
    let mut expr = parse_expr(engine, expr_sql)?;
    let found = visit_expressions_mut(&mut expr, |e| {
        let hit = match e {
            Expr::Identifier(ident) => find_column(engine, ident, &[column]).is_some(),
            Expr::CompoundIdentifier(parts) => parts
                .last()
                .is_some_and(|p| find_column(engine, p, &[column]).is_some()),
            _ => false,
        };
        if hit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    Ok(found.is_break())
}

/// An index's key expressions and predicate with `from` renamed to `to`,
/// for a copy of the index on another column; with how many references
/// were renamed (0 means the keys name the column in a form zerodown does
/// not rewrite, e.g. a MySQL prefix `name(10)`).
pub fn rename_in_index(
    engine: EngineKind,
    index: &Index,
    from: &str,
    to: &str,
) -> Result<(Vec<String>, Option<String>, usize), String> {
    let mut sql = format!(
        "CREATE INDEX {} ON {} ({})",
        engine.quote_ident(&index.name),
        engine.quote_ident(&index.table),
        index.keys.join(", ")
    );
    if let Some(p) = &index.predicate {
        sql.push_str(&format!(" WHERE {p}"));
    }
    let dialect = engine.sql_dialect();
    let mut statements = Parser::parse_sql(&*dialect, &sql)
        .map_err(|e| format!("cannot read index {}: {e}", index.name))?;
    let mut renamed = 0;
    let _ = visit_expressions_mut(&mut statements, |e| {
        if let Expr::Identifier(ident) = e {
            if find_column(engine, ident, &[from]).is_some() {
                *e = verbatim(engine.quote_ident(to));
                renamed += 1;
            }
        }
        ControlFlow::<()>::Continue(())
    });
    match statements.as_slice() {
        [Statement::CreateIndex(ci)] => Ok((
            ci.columns.iter().map(|c| c.to_string()).collect(),
            ci.predicate.as_ref().map(|p| p.to_string()),
            renamed,
        )),
        _ => Err(format!("cannot read index {}", index.name)),
    }
}

fn trigger_name(prefix: &str, table: &str, column: &str, event: TriggerEvent) -> String {
    match event.name_part() {
        Some(part) => generated_name(&[prefix, table, column, part]),
        None => generated_name(&[prefix, table, column]),
    }
}

/// PostgreSQL: a plpgsql function with `body` and the `BEFORE INSERT OR
/// UPDATE` row trigger that runs it; both share one name.
fn pg_trigger(table: &str, name: String, body: &str) -> SyncTrigger {
    let pg = EngineKind::Postgres;
    let (t, f) = (pg.quote_ident(table), pg.quote_ident(&name));
    SyncTrigger {
        table: table.to_string(),
        event: TriggerEvent::InsertOrUpdate,
        create: vec![
            format!(
                "CREATE OR REPLACE FUNCTION {f}() RETURNS trigger LANGUAGE plpgsql AS {}",
                dollar_quote(body)
            ),
            format!("CREATE TRIGGER {f} BEFORE INSERT OR UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION {f}()"),
        ],
        drop: vec![format!("DROP TRIGGER IF EXISTS {f} ON {t}"), format!("DROP FUNCTION IF EXISTS {f}()")],
        name,
    }
}

/// MySQL: a `BEFORE <event>` row trigger whose body is one `SET`.
fn mysql_trigger(
    table: &str,
    prefix: &str,
    column: &str,
    event: TriggerEvent,
    set: &str,
) -> SyncTrigger {
    let my = EngineKind::Mysql;
    let name = trigger_name(prefix, table, column, event);
    let when = if event == TriggerEvent::Insert {
        "INSERT"
    } else {
        "UPDATE"
    };
    SyncTrigger {
        table: table.to_string(),
        event,
        create: vec![format!(
            "CREATE TRIGGER {} BEFORE {when} ON {} FOR EACH ROW SET {set}",
            my.quote_ident(&name),
            my.quote_ident(table)
        )],
        drop: vec![format!("DROP TRIGGER IF EXISTS {}", my.quote_ident(&name))],
        name,
    }
}

/// SQLite: an `AFTER INSERT` (or `AFTER UPDATE [OF <watched>]`) row trigger
/// that updates the row it fired for, found by primary key (by rowid when
/// the model knows none).
fn sqlite_trigger(
    table: &Table,
    prefix: &str,
    column: &str,
    event: TriggerEvent,
    watched: &[&str],
    when: Option<String>,
    set: &str,
) -> SyncTrigger {
    let lite = EngineKind::Sqlite;
    let name = trigger_name(prefix, &table.name, column, event);
    let t = lite.quote_ident(&table.name);
    let event_sql = match event {
        TriggerEvent::Update if watched.is_empty() => "UPDATE".to_string(),
        TriggerEvent::Update => format!("UPDATE OF {}", lite.quote_list(watched)),
        TriggerEvent::Insert | TriggerEvent::InsertOrUpdate => "INSERT".to_string(),
    };
    let row = if table.primary_key.is_empty() {
        "rowid = NEW.rowid".to_string()
    } else {
        table
            .primary_key
            .iter()
            .map(|k| format!("{0} = NEW.{0}", lite.quote_ident(k)))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let when = when.map(|w| format!(" WHEN {w}")).unwrap_or_default();
    SyncTrigger {
        table: table.name.clone(),
        event,
        create: vec![format!(
            "CREATE TRIGGER {} AFTER {event_sql} ON {t} FOR EACH ROW{when} BEGIN UPDATE {t} SET {set} WHERE {row}; END",
            lite.quote_ident(&name)
        )],
        drop: vec![format!("DROP TRIGGER IF EXISTS {}", lite.quote_ident(&name))],
        name,
    }
}

/// Triggers that fill `column` from `expr_sql` (over the row's columns) on
/// every insert or update that leaves it NULL: old code does not write a
/// column it does not know, and the column is about to become NOT NULL.
pub fn fill_triggers(
    engine: EngineKind,
    table: &Table,
    column: &str,
    expr_sql: &str,
) -> Result<Vec<SyncTrigger>, String> {
    let columns = table.column_names();
    let value = row_expr(expr_sql, engine, &columns, "NEW")?;
    let c = engine.quote_ident(column);
    Ok(match engine {
        EngineKind::Postgres => {
            let body = format!("BEGIN\n  IF NEW.{c} IS NULL THEN\n    NEW.{c} := {value};\n  END IF;\n  RETURN NEW;\nEND");
            vec![pg_trigger(
                &table.name,
                trigger_name("fill", &table.name, column, TriggerEvent::InsertOrUpdate),
                &body,
            )]
        }
        EngineKind::Mysql => {
            let set = format!("NEW.{c} = COALESCE(NEW.{c}, {value})");
            [TriggerEvent::Insert, TriggerEvent::Update]
                .into_iter()
                .map(|event| mysql_trigger(&table.name, "fill", column, event, &set))
                .collect()
        }
        EngineKind::Sqlite => {
            let set = format!("{c} = {value}");
            [TriggerEvent::Insert, TriggerEvent::Update]
                .into_iter()
                .map(|event| {
                    sqlite_trigger(
                        table,
                        "fill",
                        column,
                        event,
                        &[],
                        Some(format!("NEW.{c} IS NULL")),
                        &set,
                    )
                })
                .collect()
        }
    })
}

/// Triggers that keep `old` and `new` equal while releases that know only
/// one of them run side by side (a rename). On insert, `new` wins unless it
/// still holds its default (`new_default`, NULL when none), which means the
/// writer did not know it; on update, whichever side changed wins (`new`
/// if both did). Rows not yet backfilled get `new` filled when updated.
pub fn rename_triggers(
    engine: EngineKind,
    table: &Table,
    old: &str,
    new: &str,
    new_default: Option<&str>,
) -> Vec<SyncTrigger> {
    let (o, n) = (engine.quote_ident(old), engine.quote_ident(new));
    match engine {
        EngineKind::Postgres => {
            let on_insert = match new_default {
                None => format!("NEW.{n} := COALESCE(NEW.{n}, NEW.{o});"),
                Some(d) => format!("IF NEW.{n} IS NOT DISTINCT FROM {d} THEN\n      NEW.{n} := NEW.{o};\n    END IF;"),
            };
            let body = format!(
                "BEGIN\n  IF TG_OP = 'INSERT' THEN\n    {on_insert}\n  ELSIF NEW.{n} IS NOT DISTINCT FROM OLD.{n} THEN\n    NEW.{n} := NEW.{o};\n  END IF;\n  NEW.{o} := NEW.{n};\n  RETURN NEW;\nEND"
            );
            vec![pg_trigger(
                &table.name,
                trigger_name("sync", &table.name, old, TriggerEvent::InsertOrUpdate),
                &body,
            )]
        }
        EngineKind::Mysql => {
            let on_insert = match new_default {
                None => format!("COALESCE(NEW.{n}, NEW.{o})"),
                Some(d) => format!("IF(NEW.{n} <=> {d}, NEW.{o}, NEW.{n})"),
            };
            vec![
                mysql_trigger(
                    &table.name,
                    "sync",
                    old,
                    TriggerEvent::Insert,
                    &format!("NEW.{n} = {on_insert}, NEW.{o} = NEW.{n}"),
                ),
                mysql_trigger(
                    &table.name,
                    "sync",
                    old,
                    TriggerEvent::Update,
                    &format!(
                        "NEW.{n} = IF(NEW.{n} <=> OLD.{n}, NEW.{o}, NEW.{n}), NEW.{o} = NEW.{n}"
                    ),
                ),
            ]
        }
        EngineKind::Sqlite => {
            let on_insert = match new_default {
                None => format!("COALESCE(NEW.{n}, NEW.{o})"),
                Some(d) => format!("CASE WHEN NEW.{n} IS NOT {d} THEN NEW.{n} ELSE NEW.{o} END"),
            };
            let on_update =
                format!("CASE WHEN NEW.{n} IS NOT OLD.{n} THEN NEW.{n} ELSE NEW.{o} END");
            vec![
                sqlite_trigger(
                    table,
                    "sync",
                    old,
                    TriggerEvent::Insert,
                    &[],
                    None,
                    &format!("{n} = {on_insert}, {o} = {on_insert}"),
                ),
                sqlite_trigger(
                    table,
                    "sync",
                    old,
                    TriggerEvent::Update,
                    &[old, new],
                    Some(format!("NEW.{n} IS NOT NEW.{o}")),
                    &format!("{n} = {on_update}, {o} = {on_update}"),
                ),
            ]
        }
    }
}

/// Triggers that keep `twin` equal to `column` converted to `new_type`
/// (through `using`, an expression over the row, when given) on every
/// insert and update, while old code still writes `column` (a type
/// change). MySQL and SQLite convert on assignment; PostgreSQL casts.
pub fn twin_triggers(
    engine: EngineKind,
    table: &Table,
    column: &str,
    twin: &str,
    new_type: &str,
    using: Option<&str>,
) -> Result<Vec<SyncTrigger>, String> {
    let (c, w) = (engine.quote_ident(column), engine.quote_ident(twin));
    Ok(match engine {
        EngineKind::Postgres => {
            let value = match using {
                Some(u) => row_expr(u, engine, &table.column_names(), "NEW")?,
                None => format!("CAST(NEW.{c} AS {new_type})"),
            };
            let body = format!("BEGIN\n  NEW.{w} := {value};\n  RETURN NEW;\nEND");
            vec![pg_trigger(
                &table.name,
                trigger_name("sync", &table.name, column, TriggerEvent::InsertOrUpdate),
                &body,
            )]
        }
        EngineKind::Mysql => [TriggerEvent::Insert, TriggerEvent::Update]
            .into_iter()
            .map(|event| {
                mysql_trigger(
                    &table.name,
                    "sync",
                    column,
                    event,
                    &format!("NEW.{w} = NEW.{c}"),
                )
            })
            .collect(),
        EngineKind::Sqlite => {
            // Assignment converts through the twin's affinity (see
            // `dialect::sqlite::has_numeric_affinity`).
            let set = format!("{w} = NEW.{c}");
            [TriggerEvent::Insert, TriggerEvent::Update]
                .into_iter()
                .map(|event| sqlite_trigger(table, "sync", column, event, &[column], None, &set))
                .collect()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_expr_qualifies_the_tables_columns() {
        let cols = ["id", "email", "first", "Last"];
        let cases: &[(EngineKind, &str, &str, Result<&str, ()>)] = &[
            (
                EngineKind::Postgres,
                "split_part(email, '@', 1)",
                "NEW",
                Ok(r#"split_part(NEW."email", '@', 1)"#),
            ),
            (
                EngineKind::Postgres,
                "first || ' ' || \"Last\"",
                "NEW",
                Ok(r#"NEW."first" || ' ' || NEW."Last""#),
            ),
            // An unquoted name folds to lower case on PostgreSQL: not `Last`.
            (EngineKind::Postgres, "last", "NEW", Ok("last")),
            (
                EngineKind::Postgres,
                "users.email",
                "NEW",
                Ok(r#"NEW."email""#),
            ),
            (
                EngineKind::Postgres,
                "lower(nickname)",
                "NEW",
                Ok("lower(nickname)"),
            ),
            (EngineKind::Postgres, "now()", "NEW", Ok("now()")),
            (
                EngineKind::Mysql,
                "CONCAT(first, ' ', Last)",
                "NEW",
                Ok("CONCAT(NEW.`first`, ' ', NEW.`Last`)"),
            ),
            (EngineKind::Mysql, "`EMAIL`", "NEW", Ok("NEW.`email`")),
            (EngineKind::Sqlite, "id * 2", "OLD", Ok(r#"OLD."id" * 2"#)),
            (
                EngineKind::Postgres,
                "(SELECT name FROM orgs WHERE orgs.id = id)",
                "NEW",
                Err(()),
            ),
            (EngineKind::Postgres, "email +", "NEW", Err(())),
            (EngineKind::Postgres, "email email", "NEW", Err(())),
        ];
        for (engine, sql, alias, expected) in cases {
            let got = row_expr(sql, *engine, &cols, alias);
            match expected {
                Ok(e) => assert_eq!(got.as_deref(), Ok(*e), "{engine} {sql}"),
                Err(()) => assert!(got.is_err(), "{engine} {sql}: {got:?}"),
            }
        }
    }

    #[test]
    fn references_column_finds_bare_and_qualified_names() {
        let pg = EngineKind::Postgres;
        assert_eq!(
            references_column(pg, "price > 0 AND qty > 0", "qty"),
            Ok(true)
        );
        assert_eq!(references_column(pg, "t.qty > 0", "qty"), Ok(true));
        assert_eq!(references_column(pg, "price > 0", "qty"), Ok(false));
        assert_eq!(references_column(pg, "'qty' <> ''", "qty"), Ok(false));
    }

    #[test]
    fn index_keys_are_renamed_on_the_ast() {
        let index = Index {
            name: "users_name_idx".into(),
            table: "users".into(),
            keys: vec![r#"lower("name")"#.into(), r#""id" DESC"#.into()],
            columns: vec!["id".into()],
            unique: false,
            predicate: Some(r#""name" IS NOT NULL"#.into()),
            drop_at: None,
        };
        let (keys, predicate, n) =
            rename_in_index(EngineKind::Postgres, &index, "name", "full_name").unwrap();
        assert_eq!(keys, vec![r#"lower("full_name")"#, r#""id" DESC"#]);
        assert_eq!(predicate.as_deref(), Some(r#""full_name" IS NOT NULL"#));
        assert_eq!(n, 2);
    }

    fn users() -> Table {
        let mut t = Table::new("users");
        t.primary_key = vec!["id".into()];
        for c in ["id", "name", "email"] {
            t.columns.push(crate::schema::Column {
                name: c.into(),
                data_type: "text".into(),
                nullable: true,
                default: None,
                drop_at: None,
            });
        }
        t
    }

    #[test]
    fn pg_fill_trigger() {
        let t = fill_triggers(
            EngineKind::Postgres,
            &users(),
            "handle",
            "split_part(email, '@', 1)",
        )
        .unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].name, "zd_fill_users_handle");
        assert_eq!(
            t[0].create,
            vec![
                "CREATE OR REPLACE FUNCTION \"zd_fill_users_handle\"() RETURNS trigger LANGUAGE plpgsql AS $zd$\nBEGIN\n  IF NEW.\"handle\" IS NULL THEN\n    NEW.\"handle\" := split_part(NEW.\"email\", '@', 1);\n  END IF;\n  RETURN NEW;\nEND\n$zd$".to_string(),
                "CREATE TRIGGER \"zd_fill_users_handle\" BEFORE INSERT OR UPDATE ON \"users\" FOR EACH ROW EXECUTE FUNCTION \"zd_fill_users_handle\"()".to_string(),
            ]
        );
        assert_eq!(
            t[0].drop,
            vec![
                "DROP TRIGGER IF EXISTS \"zd_fill_users_handle\" ON \"users\"".to_string(),
                "DROP FUNCTION IF EXISTS \"zd_fill_users_handle\"()".to_string(),
            ]
        );
    }

    #[test]
    fn mysql_fill_triggers() {
        let t = fill_triggers(
            EngineKind::Mysql,
            &users(),
            "handle",
            "SUBSTRING_INDEX(email, '@', 1)",
        )
        .unwrap();
        let creates: Vec<&str> = t.iter().map(|t| t.create[0].as_str()).collect();
        assert_eq!(
            creates,
            vec![
                "CREATE TRIGGER `zd_fill_users_handle_ins` BEFORE INSERT ON `users` FOR EACH ROW SET NEW.`handle` = COALESCE(NEW.`handle`, SUBSTRING_INDEX(NEW.`email`, '@', 1))",
                "CREATE TRIGGER `zd_fill_users_handle_upd` BEFORE UPDATE ON `users` FOR EACH ROW SET NEW.`handle` = COALESCE(NEW.`handle`, SUBSTRING_INDEX(NEW.`email`, '@', 1))",
            ]
        );
        assert_eq!(t[1].event.key_suffix(), "-update");
    }

    #[test]
    fn sqlite_rename_triggers_update_the_row_by_key() {
        let t = rename_triggers(
            EngineKind::Sqlite,
            &users(),
            "name",
            "full_name",
            Some("''"),
        );
        let creates: Vec<&str> = t.iter().map(|t| t.create[0].as_str()).collect();
        assert_eq!(
            creates,
            vec![
                r#"CREATE TRIGGER "zd_sync_users_name_ins" AFTER INSERT ON "users" FOR EACH ROW BEGIN UPDATE "users" SET "full_name" = CASE WHEN NEW."full_name" IS NOT '' THEN NEW."full_name" ELSE NEW."name" END, "name" = CASE WHEN NEW."full_name" IS NOT '' THEN NEW."full_name" ELSE NEW."name" END WHERE "id" = NEW."id"; END"#,
                r#"CREATE TRIGGER "zd_sync_users_name_upd" AFTER UPDATE OF "name", "full_name" ON "users" FOR EACH ROW WHEN NEW."full_name" IS NOT NEW."name" BEGIN UPDATE "users" SET "full_name" = CASE WHEN NEW."full_name" IS NOT OLD."full_name" THEN NEW."full_name" ELSE NEW."name" END, "name" = CASE WHEN NEW."full_name" IS NOT OLD."full_name" THEN NEW."full_name" ELSE NEW."name" END WHERE "id" = NEW."id"; END"#,
            ]
        );
    }

    #[test]
    fn sqlite_twin_triggers_use_rowid_without_a_primary_key() {
        let mut table = users();
        table.primary_key.clear();
        let t = twin_triggers(
            EngineKind::Sqlite,
            &table,
            "name",
            "zd_new_name",
            "INTEGER",
            None,
        )
        .unwrap();
        assert_eq!(
            t[1].create[0],
            r#"CREATE TRIGGER "zd_sync_users_name_upd" AFTER UPDATE OF "name" ON "users" FOR EACH ROW BEGIN UPDATE "users" SET "zd_new_name" = NEW."name" WHERE rowid = NEW.rowid; END"#
        );
    }
}
