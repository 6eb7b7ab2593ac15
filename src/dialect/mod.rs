//! The database family a plan targets, and how that family spells identifiers.
//!
//! This module knows no driver: it is what the planner needs to produce SQL
//! text for an engine (quoting, the `sqlparser` dialect to read the plan's
//! statements with, names zerodown generates). `postgres`, `mysql` and
//! `sqlite` hold each engine's facts that the rules in `crate::ops` share:
//! lock descriptions, online-DDL clauses, type compatibility, SQL spelled
//! the engine's way. It is the lowest layer: it imports no other module of
//! the crate. The drivers live in `engine`.

pub mod mysql;
pub mod postgres;
pub mod sqlite;

use std::fmt;

use serde::{Deserialize, Serialize};

/// The database family of a plan (`engine:` in the plan file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Postgres,
    Mysql,
    Sqlite,
}

impl EngineKind {
    pub const ALL: [EngineKind; 3] = [EngineKind::Postgres, EngineKind::Mysql, EngineKind::Sqlite];

    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Postgres => "postgres",
            EngineKind::Mysql => "mysql",
            EngineKind::Sqlite => "sqlite",
        }
    }

    /// The `sqlparser` dialect the plan's statements are read with. The
    /// dialect does not police the syntax (see NOTES.md); the per-engine
    /// rules in `ops` reject what the engine itself would not accept.
    /// The schema unqualified names resolve to when the engine fixes it
    /// (SQLite's `main`); PostgreSQL's and MySQL's depend on the connection.
    pub fn fixed_namespace(self) -> Option<&'static str> {
        match self {
            EngineKind::Sqlite => Some("main"),
            EngineKind::Postgres | EngineKind::Mysql => None,
        }
    }

    /// The longest identifier the engine keeps as written: PostgreSQL
    /// truncates longer ones to 63 bytes (with a notice only), MySQL refuses
    /// names over 64 characters; SQLite has no limit.
    pub fn identifier_too_long(self, ident: &str) -> Option<&'static str> {
        match self {
            EngineKind::Postgres if ident.len() > 63 => Some("63 bytes"),
            EngineKind::Mysql if ident.chars().count() > 64 => Some("64 characters"),
            _ => None,
        }
    }

    pub fn sql_dialect(self) -> Box<dyn sqlparser::dialect::Dialect> {
        match self {
            EngineKind::Postgres => Box::new(sqlparser::dialect::PostgreSqlDialect {}),
            EngineKind::Mysql => Box::new(sqlparser::dialect::MySqlDialect {}),
            EngineKind::Sqlite => Box::new(sqlparser::dialect::SQLiteDialect {}),
        }
    }

    /// Quote an identifier for this engine. Every identifier zerodown writes
    /// into SQL goes through here, so no name is ever pasted as written.
    pub fn quote_ident(self, ident: &str) -> String {
        let q = match self {
            EngineKind::Postgres | EngineKind::Sqlite => '"',
            EngineKind::Mysql => '`',
        };
        let mut out = String::with_capacity(ident.len() + 2);
        out.push(q);
        for ch in ident.chars() {
            if ch == q {
                out.push(q);
            }
            out.push(ch);
        }
        out.push(q);
        out
    }

    /// Quote a string literal for this engine (used for catalog look-ups the
    /// planner writes into gate queries, never for user data).
    pub fn quote_literal(self, value: &str) -> String {
        let mut out = String::with_capacity(value.len() + 2);
        out.push('\'');
        for ch in value.chars() {
            match ch {
                '\'' => out.push_str("''"),
                '\\' if self == EngineKind::Mysql => out.push_str("\\\\"),
                _ => out.push(ch),
            }
        }
        out.push('\'');
        out
    }

    /// Quote a list of identifiers, comma separated.
    pub fn quote_list<S: AsRef<str>>(self, idents: &[S]) -> String {
        idents
            .iter()
            .map(|i| self.quote_ident(i.as_ref()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name zerodown gives to an object it creates (twin columns, sync
/// triggers and their functions, NOT VALID check constraints), from its
/// parts joined by `_` and prefixed `zd_`. Kept within the engine's limit
/// (63 bytes on PostgreSQL, 64 on MySQL): a long name is cut and ends with a
/// hash of the whole, so two long names never collide.
pub fn generated_name(parts: &[&str]) -> String {
    const LIMIT: usize = 63;
    let full = format!("zd_{}", parts.join("_"));
    if full.len() <= LIMIT {
        return full;
    }
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(full.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let mut cut = LIMIT - hash.len() - 1;
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{hash}", &full[..cut])
}

/// Whether two spellings of a column type denote the same type: case,
/// spacing, the engines' aliases (`integer`/`int4`/`int`, `character
/// varying`/`varchar`, `timestamp with time zone`/`timestamptz`, …) and
/// MySQL integer display widths (`int(11)`) do not count.
pub fn same_type(a: &str, b: &str) -> bool {
    canonical_type(a) == canonical_type(b)
}

fn canonical_type(spelled: &str) -> String {
    let lower = spelled.to_lowercase();
    let (head, args, tail) = match (lower.find('('), lower.find(')')) {
        (Some(open), Some(close)) if close > open => (
            &lower[..open],
            Some(lower[open + 1..close].replace(' ', "")),
            &lower[close + 1..],
        ),
        _ => (lower.as_str(), None, ""),
    };
    let base: String = format!("{head} {tail}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let (base, unsigned) = match base.strip_suffix(" unsigned") {
        Some(stripped) => (stripped.to_string(), " unsigned"),
        None => (base, ""),
    };
    let alias = match base.as_str() {
        "integer" | "int4" | "int" => "int",
        "bigint" | "int8" => "bigint",
        "smallint" | "int2" => "smallint",
        "character varying" | "varchar" => "varchar",
        "character" | "char" | "bpchar" => "char",
        "boolean" | "bool" => "boolean",
        "double precision" | "float8" | "double" => "double",
        "real" | "float4" => "real",
        "decimal" | "numeric" => "numeric",
        "timestamp without time zone" | "timestamp" => "timestamp",
        "timestamp with time zone" | "timestamptz" => "timestamptz",
        "time without time zone" | "time" => "time",
        "time with time zone" | "timetz" => "timetz",
        "serial" | "serial4" => "serial",
        "bigserial" | "serial8" => "bigserial",
        "smallserial" | "serial2" => "smallserial",
        other => other,
    };
    let display_width_only = matches!(
        alias,
        "tinyint" | "smallint" | "mediumint" | "int" | "bigint"
    );
    match args {
        Some(args) if !display_width_only => format!("{alias}({args}){unsigned}"),
        _ => format!("{alias}{unsigned}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_the_quote_character() {
        assert_eq!(EngineKind::Postgres.quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(EngineKind::Mysql.quote_ident("a`b"), "`a``b`");
        assert_eq!(EngineKind::Mysql.quote_literal("it's\\"), "'it''s\\\\'");
        assert_eq!(EngineKind::Postgres.quote_literal("it's\\"), "'it''s\\'");
    }
}
