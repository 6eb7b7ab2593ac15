//! Facts about PostgreSQL (12+) that the rules in `crate::ops` share: the
//! locks statements take, which type changes are binary compatible (no
//! rewrite, no index rebuild), and the four steps that enforce NOT NULL
//! without holding ACCESS EXCLUSIVE for a full scan.

use super::generated_name;
use crate::dialect::EngineKind;

/// The prefix of PostgreSQL rule IDs (`pg/<kind>/<variant>`).
pub const RULE_PREFIX: &str = "pg";

/// A catalog-only change: ACCESS EXCLUSIVE, held for an instant (but it
/// queues behind, and blocks everything queued behind, a long transaction;
/// hence the executor's lock timeout and retries).
pub const LOCK_CATALOG_ONLY: &str = "ACCESS EXCLUSIVE (catalog only, brief)";
/// A change that rewrites every row (and rebuilds every index) while holding
/// ACCESS EXCLUSIVE: reads and writes wait for the whole rewrite.
pub const LOCK_TABLE_REWRITE: &str = "ACCESS EXCLUSIVE for a full table rewrite";
/// A change that scans every row while holding ACCESS EXCLUSIVE (e.g. `SET
/// NOT NULL` without a validated check constraint).
pub const LOCK_TABLE_SCAN: &str = "ACCESS EXCLUSIVE for a full table scan";
/// `VALIDATE CONSTRAINT`, `CREATE INDEX CONCURRENTLY`, `ALTER INDEX …
/// RENAME` (12+): reads and writes continue.
pub const LOCK_SHARE_UPDATE_EXCLUSIVE: &str = "SHARE UPDATE EXCLUSIVE (reads and writes continue)";
/// `CREATE TRIGGER`: SHARE ROW EXCLUSIVE, held for an instant; writes wait
/// while it is held.
pub const LOCK_CREATE_TRIGGER: &str = "SHARE ROW EXCLUSIVE (catalog only, brief)";

/// A type name split into its base name (lower case, synonyms folded) and
/// its numeric modifiers: `character varying(20)` → (`varchar`, [20]).
/// Anything after the modifiers (an array suffix, `WITH TIME ZONE`) stays
/// in `rest`, so such types only ever compare equal to themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TypeName {
    base: String,
    modifiers: Vec<u32>,
    rest: String,
}

impl TypeName {
    fn parse(spelled: &str) -> Option<TypeName> {
        let lower = spelled.trim().to_lowercase();
        let (head, modifiers, rest) = match lower.find('(') {
            Some(open) => {
                let close = open + lower[open..].find(')')?;
                let modifiers = lower[open + 1..close]
                    .split(',')
                    .map(|m| m.trim().parse::<u32>().ok())
                    .collect::<Option<Vec<u32>>>()?;
                (
                    lower[..open].to_string(),
                    modifiers,
                    lower[close + 1..].trim().to_string(),
                )
            }
            None => (lower.clone(), Vec::new(), String::new()),
        };
        let head = head.split_whitespace().collect::<Vec<_>>().join(" ");
        let base = match head.as_str() {
            "character varying" | "varchar" => "varchar",
            "decimal" | "numeric" => "numeric",
            other => other,
        }
        .to_string();
        let mut modifiers = modifiers;
        // numeric(p) is numeric(p, 0).
        if base == "numeric" && modifiers.len() == 1 {
            modifiers.push(0);
        }
        Some(TypeName {
            base,
            modifiers,
            rest,
        })
    }
}

/// Whether `ALTER COLUMN … TYPE to` (without `USING`) from `from` only
/// changes the catalog: PostgreSQL then neither rewrites the table nor
/// rebuilds its indexes. True for the same type, `varchar(n)` →
/// `varchar(m ≥ n)` / `varchar` / `text`, `text` → `varchar`,
/// `numeric(p, s)` → `numeric(p' ≥ p, s)` / `numeric`, and `cidr` → `inet`.
/// (`char(n)` → `text` is not: the cast strips trailing blanks.)
pub fn is_binary_compatible(from: &str, to: &str) -> bool {
    let (Some(from), Some(to)) = (TypeName::parse(from), TypeName::parse(to)) else {
        return false;
    };
    if from == to {
        return true;
    }
    if !from.rest.is_empty() || !to.rest.is_empty() {
        return false;
    }
    match (from.base.as_str(), to.base.as_str()) {
        ("varchar", "varchar") => match (from.modifiers.as_slice(), to.modifiers.as_slice()) {
            ([n], [m]) => m >= n,
            (_, []) => true,
            _ => false,
        },
        ("varchar", "text") => true,
        ("text", "varchar") => to.modifiers.is_empty(),
        ("numeric", "numeric") => match (from.modifiers.as_slice(), to.modifiers.as_slice()) {
            ([p, s], [q, t]) => s == t && q >= p,
            (_, []) => true,
            _ => false,
        },
        ("cidr", "inet") => true,
        _ => false,
    }
}

/// `serial`, `bigserial`, `smallserial`: a column type that creates a
/// sequence and a volatile default, so adding such a column rewrites the
/// table.
pub fn is_serial_type(data_type: &str) -> bool {
    matches!(
        data_type.trim().to_lowercase().as_str(),
        "serial" | "serial4" | "bigserial" | "serial8" | "smallserial" | "serial2"
    )
}

/// The name of the `CHECK (c IS NOT NULL) NOT VALID` constraint zerodown
/// adds to enforce NOT NULL on `table.column` without a long lock.
pub fn not_null_check_name(table: &str, column: &str) -> String {
    generated_name(&["nn", table, column])
}

/// First step of enforcing NOT NULL: a check constraint that new writes
/// obey at once and that existing rows are validated against later.
pub fn add_not_null_check_sql(table: &str, column: &str, constraint: &str) -> String {
    let pg = EngineKind::Postgres;
    format!(
        "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({} IS NOT NULL) NOT VALID",
        pg.quote_ident(table),
        pg.quote_ident(constraint),
        pg.quote_ident(column)
    )
}

/// Validate a constraint added `NOT VALID`: scans the table under SHARE
/// UPDATE EXCLUSIVE, so reads and writes continue.
pub fn validate_constraint_sql(table: &str, constraint: &str) -> String {
    let pg = EngineKind::Postgres;
    format!(
        "ALTER TABLE {} VALIDATE CONSTRAINT {}",
        pg.quote_ident(table),
        pg.quote_ident(constraint)
    )
}

/// Last step of enforcing NOT NULL, one transaction: `SET NOT NULL` (on
/// PostgreSQL 12+ the validated check proves it, so there is no scan), then
/// the check constraint, now redundant, goes.
pub fn set_not_null_statements(table: &str, column: &str, constraint: &str) -> Vec<String> {
    let pg = EngineKind::Postgres;
    let table = pg.quote_ident(table);
    vec![
        format!(
            "ALTER TABLE {table} ALTER COLUMN {} SET NOT NULL",
            pg.quote_ident(column)
        ),
        format!(
            "ALTER TABLE {table} DROP CONSTRAINT {}",
            pg.quote_ident(constraint)
        ),
    ]
}

/// `CREATE [UNIQUE] INDEX CONCURRENTLY`: builds without blocking writes;
/// cannot run inside a transaction block.
pub fn create_index_concurrently_sql(
    name: &str,
    table: &str,
    unique: bool,
    keys: &[String],
    predicate: Option<&str>,
) -> String {
    let pg = EngineKind::Postgres;
    let mut sql = format!(
        "CREATE {}INDEX CONCURRENTLY {} ON {} ({})",
        if unique { "UNIQUE " } else { "" },
        pg.quote_ident(name),
        pg.quote_ident(table),
        keys.join(", ")
    );
    if let Some(predicate) = predicate {
        sql.push_str(&format!(" WHERE {predicate}"));
    }
    sql
}

/// Wrap a function body in dollar quotes whose tag does not occur in it, so
/// no expression inside can end the quoting early.
pub fn dollar_quote(body: &str) -> String {
    let mut tag = "$zd$".to_string();
    let mut n = 0;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$zd{n}$");
    }
    format!("{tag}\n{body}\n{tag}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_compatible_type_changes() {
        let cases = [
            ("varchar(20)", "varchar(40)", true),
            ("VARCHAR(20)", "character varying(20)", true),
            ("varchar(40)", "varchar(20)", false),
            ("varchar(20)", "varchar", true),
            ("varchar(20)", "text", true),
            ("character varying", "TEXT", true),
            ("text", "varchar", true),
            ("text", "varchar(10)", false),
            ("char(10)", "text", false),
            ("numeric(10,2)", "numeric(12, 2)", true),
            ("numeric(10,2)", "numeric(12,3)", false),
            ("numeric(10,2)", "numeric(8,2)", false),
            ("numeric(10)", "decimal(12,0)", true),
            ("numeric(10,2)", "numeric", true),
            ("cidr", "inet", true),
            ("inet", "cidr", false),
            ("integer", "bigint", false),
            ("int", "int", true),
            ("varchar(10)[]", "text[]", false),
        ];
        for (from, to, expected) in cases {
            assert_eq!(is_binary_compatible(from, to), expected, "{from} -> {to}");
        }
    }

    #[test]
    fn not_null_enforcement_sql() {
        let name = not_null_check_name("users", "email");
        assert_eq!(name, "zd_nn_users_email");
        assert_eq!(
            add_not_null_check_sql("users", "email", &name),
            r#"ALTER TABLE "users" ADD CONSTRAINT "zd_nn_users_email" CHECK ("email" IS NOT NULL) NOT VALID"#
        );
        assert_eq!(
            set_not_null_statements("users", "email", &name),
            vec![
                r#"ALTER TABLE "users" ALTER COLUMN "email" SET NOT NULL"#.to_string(),
                r#"ALTER TABLE "users" DROP CONSTRAINT "zd_nn_users_email""#.to_string(),
            ]
        );
    }

    #[test]
    fn dollar_quote_avoids_tags_in_the_body() {
        assert_eq!(dollar_quote("x"), "$zd$\nx\n$zd$");
        assert_eq!(dollar_quote("a $zd$ b"), "$zd1$\na $zd$ b\n$zd1$");
    }
}
