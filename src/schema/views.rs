//! Which views read a table or a column. A view stops working (MySQL,
//! SQLite) or blocks the DDL (PostgreSQL) when what it reads goes away, so
//! a change that removes a column or a table a view reads is refused at
//! planning time instead of failing, or breaking the view, in contract.

use std::ops::ControlFlow;

use sqlparser::ast::{
    visit_expressions, visit_relations, Expr, ObjectName, Query, SelectItem, SetExpr, Statement,
    Visit, Visitor,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use super::{apply::mentions, Schema};

impl Schema {
    /// The views (not already being dropped) that read `table`, or its
    /// `column` when given: by name.
    pub fn views_using(&self, table: &str, column: Option<&str>) -> Vec<String> {
        self.views
            .values()
            .filter(|v| v.drop_at.is_none() && view_reads(&v.sql, table, column))
            .map(|v| v.name.clone())
            .collect()
    }
}

/// Whether a view's definition (a `CREATE VIEW` or its bare query, as the
/// catalog gives it) reads `table`, or its `column`.
fn view_reads(sql: &str, table: &str, column: Option<&str>) -> bool {
    match Parser::parse_sql(&GenericDialect {}, sql) {
        Ok(statements) => statements.iter().any(|statement| match statement {
            // The view's own name is not something it reads.
            Statement::CreateView(view) => query_reads(&*view.query, table, column),
            other => query_reads(other, table, column),
        }),
        // A definition the parser does not take is judged by its words,
        // erring toward a dependency.
        Err(_) => mentions(sql, table) && column.is_none_or(|c| mentions(sql, c)),
    }
}

fn query_reads<T: Visit>(query: &T, table: &str, column: Option<&str>) -> bool {
    let named = |name: &str, wanted: &str| name.eq_ignore_ascii_case(wanted);
    let reads_table = any_relation(query, |relation| {
        relation
            .0
            .last()
            .and_then(|part| part.as_ident())
            .is_some_and(|ident| named(&ident.value, table))
    });
    let Some(column) = column else {
        return reads_table;
    };
    if !reads_table {
        return false;
    }
    let names_column = any_expression(query, |expr| match expr {
        Expr::Identifier(ident) => named(&ident.value, column),
        Expr::CompoundIdentifier(parts) => parts.last().is_some_and(|p| named(&p.value, column)),
        _ => false,
    });
    // `*` reads every column: PostgreSQL and MySQL expand it when the view
    // is created, so the view depends on each.
    names_column || has_wildcard(query)
}

/// Whether `found` holds for a relation `node` reads.
fn any_relation<T: Visit>(node: &T, found: impl Fn(&ObjectName) -> bool) -> bool {
    visit_relations(node, |relation| {
        if found(relation) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .is_break()
}

/// Whether `found` holds for an expression of `node`.
fn any_expression<T: Visit>(node: &T, found: impl Fn(&Expr) -> bool) -> bool {
    visit_expressions(node, |expr| {
        if found(expr) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .is_break()
}

/// Whether any query in `node` selects `*` or `t.*`.
fn has_wildcard<T: Visit>(node: &T) -> bool {
    struct Wildcards(bool);
    impl Visitor for Wildcards {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            if body_has_wildcard(&query.body) {
                self.0 = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
    }
    let mut wildcards = Wildcards(false);
    let _ = node.visit(&mut wildcards);
    wildcards.0
}

fn body_has_wildcard(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(select) => select.projection.iter().any(|item| {
            matches!(
                item,
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
            )
        }),
        SetExpr::SetOperation { left, right, .. } => {
            body_has_wildcard(left) || body_has_wildcard(right)
        }
        SetExpr::Query(query) => body_has_wildcard(&query.body),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::view_reads;

    #[test]
    fn what_a_view_reads() {
        // (definition, table, column, reads)
        let cases: &[(&str, &str, Option<&str>, bool)] = &[
            // PostgreSQL's pg_get_viewdef: a bare query, names qualified.
            (
                "SELECT users.id, users.email FROM users WHERE users.email IS NOT NULL",
                "users",
                Some("email"),
                true,
            ),
            (
                "SELECT users.id, users.email FROM users",
                "users",
                Some("nickname"),
                false,
            ),
            ("SELECT users.id FROM users", "users", None, true),
            ("SELECT users.id FROM users", "orders", None, false),
            // MySQL's VIEW_DEFINITION: backquoted.
            (
                "select `accounts`.`id` AS `id`,`accounts`.`name` AS `name` from `accounts`",
                "accounts",
                Some("name"),
                true,
            ),
            // A CREATE VIEW as written; its own name is not read.
            (
                "CREATE VIEW users AS SELECT id FROM people",
                "users",
                None,
                false,
            ),
            (
                "CREATE VIEW v AS SELECT * FROM items",
                "items",
                Some("legacy"),
                true,
            ),
            (
                "CREATE VIEW v AS SELECT i.* FROM items i",
                "items",
                Some("legacy"),
                true,
            ),
            // A column of the same name, from another table only.
            (
                "SELECT o.email FROM orders o",
                "users",
                Some("email"),
                false,
            ),
            // Used in a filter, a join, a subquery, a union.
            (
                "SELECT o.id FROM orders o JOIN users u ON u.id = o.user_id",
                "users",
                Some("id"),
                true,
            ),
            (
                "SELECT id FROM orders WHERE user_id IN (SELECT id FROM users WHERE banned)",
                "users",
                Some("banned"),
                true,
            ),
            (
                "SELECT id FROM a UNION SELECT * FROM b",
                "b",
                Some("x"),
                true,
            ),
            // Case does not matter to unquoted names.
            ("SELECT ID, Email FROM Users", "users", Some("email"), true),
            // What the parser does not take is judged by its words.
            (
                "SELECT email FROM users WHERE $$weird",
                "users",
                Some("email"),
                true,
            ),
            (
                "SELECT email FROM users WHERE $$weird",
                "users",
                Some("nickname"),
                false,
            ),
        ];
        for (sql, table, column, reads) in cases {
            assert_eq!(
                view_reads(sql, table, *column),
                *reads,
                "{sql} / {table} {column:?}"
            );
        }
    }
}
