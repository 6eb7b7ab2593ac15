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

/// How a backfill reads a primary-key column, records where it stands
/// (`engine::KeyValue` in the state file) and binds it back to start the
/// next batch. Every class is exact: the key read back is the key written,
/// and the engine's `>` on the bound value orders rows as `ORDER BY` on the
/// column does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyClass {
    /// Integers, recorded as a 64-bit integer.
    Int,
    /// Character strings, recorded as text.
    Text,
    /// Byte strings (MySQL BINARY/VARBINARY, PostgreSQL bytea), bound as
    /// bytes and recorded as `{"hex": "…"}`.
    Bytes,
    /// A type whose text form is exact and whose order is the type's own
    /// (PostgreSQL uuid, numeric, dates and times; MySQL DATE, DATETIME,
    /// TIME): read as text, bound as text the server converts to the
    /// column's type, so the comparison is on the column's type and uses
    /// its index.
    TextForm,
}

impl EngineKind {
    /// Whether a backfill can walk a primary-key column of this type, and
    /// how. The one list of walkable key types: the planner refuses a
    /// backfill over any other (from the model's types), and each engine
    /// reads and binds keys by it (from the catalog's types), so the two
    /// cannot disagree. Takes a type as written in a statement (`BIGINT
    /// UNSIGNED`, `CHARACTER VARYING(20)`, `timestamp(3) with time zone`) or
    /// as the catalog names it (MySQL's `DATA_TYPE`, PostgreSQL's
    /// `typname`: `int4`, `bpchar`, `timestamptz`).
    ///
    /// SQLite keys are walked by their stored values, whatever the column's
    /// type; only a column of REAL affinity (REAL, FLOA, DOUB in the type),
    /// whose values are all floating point, cannot be.
    pub fn key_class(self, data_type: &str) -> Option<KeyClass> {
        let spelled = type_words(data_type);
        match self {
            EngineKind::Postgres => postgres_key_class(&spelled),
            EngineKind::Mysql => mysql_key_class(&spelled),
            EngineKind::Sqlite => sqlite_key_class(data_type),
        }
    }

    /// The key types [`EngineKind::key_class`] accepts, for messages.
    pub fn walkable_key_types(self) -> &'static str {
        match self {
            EngineKind::Postgres => {
                "smallint, integer, bigint (and serials), text, varchar, char, name, bytea, uuid, numeric, date, time, timestamp, timestamptz"
            }
            EngineKind::Mysql => {
                "TINYINT, SMALLINT, MEDIUMINT, INT, BIGINT (signed or unsigned), CHAR, VARCHAR, BINARY, VARBINARY, DATE, DATETIME, TIME"
            }
            EngineKind::Sqlite => {
                "integer, text and blob values, in a column of any type but REAL affinity (REAL, FLOAT, DOUBLE)"
            }
        }
    }

    /// Why a key type [`EngineKind::key_class`] refuses cannot be walked,
    /// when there is more to say than that it is not on the list.
    pub fn unwalkable_key_reason(self, data_type: &str) -> Option<&'static str> {
        let spelled = type_words(data_type);
        let head = spelled.split(' ').next().unwrap_or_default();
        match (self, head) {
            (EngineKind::Mysql, "decimal" | "numeric" | "dec" | "fixed") => Some(
                "MySQL compares a DECIMAL column with a bound string as floating-point numbers, so a batch could start at the wrong row",
            ),
            (EngineKind::Mysql, "float" | "double" | "real") => {
                Some("floating-point keys are not recorded exactly")
            }
            (EngineKind::Mysql, "timestamp") => Some(
                "a TIMESTAMP reads and compares in the session's time zone, where the hour a clock goes back is written twice",
            ),
            (EngineKind::Mysql, "enum" | "set") => Some(
                "an ENUM sorts by its position in the list but compares with a string as a string",
            ),
            (EngineKind::Sqlite, _) => Some("a column of REAL affinity holds floating-point values, which are not recorded exactly"),
            _ => None,
        }
    }
}

/// A type as lower-case words, without modifiers in parentheses (lengths,
/// precisions, ENUM values) or a `pg_catalog.` qualifier: `BIGINT(20)
/// UNSIGNED` → `bigint unsigned`, `timestamp(3) with time zone` →
/// `timestamp with time zone`.
fn type_words(data_type: &str) -> String {
    let mut bare = String::with_capacity(data_type.len());
    let mut depth = 0usize;
    let mut quote = None;
    for ch in data_type.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') if depth > 0 => quote = Some(ch),
            (None, '(') => {
                depth += 1;
                bare.push(' ');
            }
            (None, ')') => depth = depth.saturating_sub(1),
            (None, c) if depth == 0 => bare.extend(c.to_lowercase()),
            (None, _) => {}
        }
    }
    let words = bare.split_whitespace().collect::<Vec<_>>().join(" ");
    match words.strip_prefix("pg_catalog.") {
        Some(rest) => rest.to_string(),
        None => words,
    }
}

fn postgres_key_class(spelled: &str) -> Option<KeyClass> {
    Some(match spelled {
        "smallint" | "int2" | "integer" | "int" | "int4" | "bigint" | "int8" | "smallserial"
        | "serial2" | "serial" | "serial4" | "bigserial" | "serial8" => KeyClass::Int,
        "text" | "varchar" | "character varying" | "char" | "character" | "bpchar" | "name" => {
            KeyClass::Text
        }
        "bytea" => KeyClass::Bytes,
        "uuid"
        | "numeric"
        | "decimal"
        | "date"
        | "time"
        | "time without time zone"
        | "timestamp"
        | "timestamp without time zone"
        | "timestamptz"
        | "timestamp with time zone" => KeyClass::TextForm,
        _ => return None,
    })
}

fn mysql_key_class(spelled: &str) -> Option<KeyClass> {
    let mut words = spelled.split(' ').peekable();
    if words.peek() == Some(&"national") {
        words.next();
    }
    let head = match (words.next()?, words.next()) {
        ("char" | "character", Some("varying")) => "varchar",
        (head, _) => head,
    };
    Some(match head {
        "tinyint" | "smallint" | "mediumint" | "middleint" | "int" | "integer" | "bigint"
        | "int1" | "int2" | "int3" | "int4" | "int8" | "bool" | "boolean" | "serial" => {
            KeyClass::Int
        }
        "char" | "character" | "varchar" | "nchar" | "nvarchar" => KeyClass::Text,
        "binary" | "varbinary" => KeyClass::Bytes,
        "date" | "datetime" | "time" => KeyClass::TextForm,
        _ => return None,
    })
}

/// SQLite's affinity rules in order (INT, then CHAR/CLOB/TEXT, then BLOB or
/// no type, then REAL/FLOA/DOUB, else NUMERIC): every affinity but REAL can
/// hold integer, text or blob keys.
fn sqlite_key_class(data_type: &str) -> Option<KeyClass> {
    let t = data_type.to_uppercase();
    if t.contains("INT") {
        Some(KeyClass::Int)
    } else if ["CHAR", "CLOB", "TEXT"].iter().any(|k| t.contains(k)) {
        Some(KeyClass::Text)
    } else if t.trim().is_empty() || t.contains("BLOB") {
        Some(KeyClass::Bytes)
    } else if ["REAL", "FLOA", "DOUB"].iter().any(|k| t.contains(k)) {
        None
    } else {
        Some(KeyClass::Int)
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

    #[test]
    fn walkable_key_types_as_written_and_as_the_catalog_names_them() {
        use KeyClass::*;
        let pg = |t| EngineKind::Postgres.key_class(t);
        for (t, class) in [
            ("bigint", Int),
            ("INT4", Int),
            ("BIGSERIAL", Int),
            ("pg_catalog.int8", Int),
            ("CHARACTER VARYING(255)", Text),
            ("bpchar", Text),
            ("char(3)", Text),
            ("name", Text),
            ("bytea", Bytes),
            ("UUID", TextForm),
            ("numeric(10, 2)", TextForm),
            ("DECIMAL", TextForm),
            ("date", TextForm),
            ("timestamp(3) with time zone", TextForm),
            ("timestamptz", TextForm),
            ("TIMESTAMP WITHOUT TIME ZONE", TextForm),
            ("time", TextForm),
        ] {
            assert_eq!(pg(t), Some(class), "{t}");
        }
        for t in [
            "int[]",
            "_int4",
            "double precision",
            "float8",
            "money",
            "timetz",
            "interval",
            "jsonb",
            "mood",
            "public.uuid",
            "citext",
            "inet",
        ] {
            assert_eq!(pg(t), None, "{t}");
        }

        let my = |t| EngineKind::Mysql.key_class(t);
        for (t, class) in [
            ("INT UNSIGNED", Int),
            ("bigint(20) unsigned zerofill", Int),
            ("SERIAL", Int),
            ("tinyint(1)", Int),
            ("VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin", Text),
            ("national char(10)", Text),
            ("CHARACTER VARYING(10)", Text),
            ("VARBINARY(16)", Bytes),
            ("binary", Bytes),
            ("DATETIME(6)", TextForm),
            ("date", TextForm),
            ("time(3)", TextForm),
        ] {
            assert_eq!(my(t), Some(class), "{t}");
        }
        for t in [
            "DECIMAL(10,2)",
            "numeric",
            "double",
            "float",
            "TIMESTAMP(6)",
            "ENUM('a','b)')",
            "set('x')",
            "bit(8)",
            "blob",
            "long varbinary",
            "text",
            "json",
            "year",
            "uuid",
        ] {
            assert_eq!(my(t), None, "{t}");
        }
        assert!(EngineKind::Mysql
            .unwalkable_key_reason("decimal(10,2)")
            .unwrap()
            .contains("floating-point"));

        let lite = |t| EngineKind::Sqlite.key_class(t);
        for t in [
            "INTEGER",
            "TEXT",
            "",
            "BLOB",
            "DATE",
            "NUMERIC",
            "VARCHAR(5)",
        ] {
            assert!(lite(t).is_some(), "{t}");
        }
        for t in ["REAL", "FLOAT", "DOUBLE PRECISION"] {
            assert_eq!(lite(t), None, "{t}");
        }
    }
}
