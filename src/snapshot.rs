//! The schema model built from SQL files (`schemas/NNNN.sql`, `--schema
//! FILE`): each statement parsed (`crate::parse`) and applied to the model
//! (`crate::schema`), with diagnostics that point into the file.

use std::path::{Path, PathBuf};

use sqlparser::ast::{AlterTableOperation, Statement};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::dialect::EngineKind;
use crate::operation::Operation;
use crate::parse::{guard_satisfied, inline_indexes, lower, qualifiers};
use crate::schema::Schema;

/// Where the starting schema came from, for the plan output.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SchemaSource {
    /// No schema file: the first plan starts from an empty database.
    Empty,
    File {
        path: PathBuf,
    },
    /// Read from the database (introspection, or the schema a run started
    /// from, kept in its state file).
    Database,
}

/// Load the newest `NNNN*.sql` of a schema folder whose version is below
/// `below` (the first pending plan's version), as the schema at version NNNN.
/// `Ok(None)` when the folder has none.
pub fn load_schema_dir(
    dir: &Path,
    engine: EngineKind,
    below: u32,
) -> Result<Option<(Schema, SchemaSource)>, Diagnostics> {
    let files = schema_files(dir)?;
    let Some((version, path)) = files
        .into_iter()
        .rev()
        .find(|(version, _)| *version < below)
    else {
        return Ok(None);
    };
    let schema = load_schema_file(&path, engine, version)?;
    Ok(Some((schema, SchemaSource::File { path })))
}

/// The newest version among a schema folder's `NNNN*.sql` files.
pub fn newest_schema_version(dir: &Path) -> Option<u32> {
    schema_files(dir).ok()?.last().map(|(version, _)| *version)
}

/// The folder's `NNNN*.sql` files by version, oldest first. A missing folder
/// has none; two files for one version are an error (which one is the
/// schema?).
fn schema_files(dir: &Path) -> Result<Vec<(u32, PathBuf)>, Diagnostics> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Diagnostic::new(dir, format!("cannot read the schema folder: {e}")).into())
        }
    };
    let mut files: Vec<(u32, PathBuf)> = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(".sql") {
            continue;
        }
        let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
        let Ok(version) = digits.parse::<u32>() else {
            continue;
        };
        if let Some((_, other)) = files.iter().find(|(v, _)| *v == version) {
            return Err(Diagnostic::new(
                &path,
                format!(
                    "two schema files for version {version}: this one and {}",
                    other.display()
                ),
            )
            .help(
                "keep one file per version (schemas/NNNN.sql is the whole schema at version NNNN)",
            )
            .into());
        }
        files.push((version, path));
    }
    files.sort();
    Ok(files)
}

/// Load one SQL file as the schema at `version`.
pub fn load_schema_file(
    path: &Path,
    engine: EngineKind,
    version: u32,
) -> Result<Schema, Diagnostics> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::new(path, format!("cannot read the schema file: {e}")))?;
    let statements =
        parse_statements(&text, engine).map_err(|e| parse_diagnostic(path, &text, engine, &e))?;
    let namespace = snapshot_namespace(path, &text, &statements, engine)?;
    let mut schema = Schema {
        version,
        namespace,
        ..Schema::default()
    };
    let mut errors = Vec::new();
    for (stmt, at) in &statements {
        if !shapes_schema(stmt) || guard_satisfied(stmt, &schema) {
            continue;
        }
        let located = |message: String, help: String| {
            Diagnostic::new(path, message)
                .at(at.line, at.column)
                .with_source(&text)
                .help(help)
        };
        let op = match lower(stmt, engine, &schema) {
            Ok(op) => op,
            Err(unsupported) => {
                errors.push(located(unsupported.message, unsupported.help));
                continue;
            }
        };
        if let Err(e) = schema.apply(&op, None) {
            errors.push(located(e.message, e.help));
            continue;
        }
        if let Statement::CreateTable(create) = stmt {
            for index in inline_indexes(create, engine, &schema) {
                if let Err(e) = apply_inline_index(&mut schema, &index) {
                    errors.push(located(e.message, e.help));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(schema)
    } else {
        Err(Diagnostics(errors))
    }
}

/// The one schema a snapshot's tables are in: the qualifier its statements
/// write (pg_dump writes `public.users`), else the engine's fixed one
/// (SQLite's `main`), else unknown. The model holds one schema, so a
/// snapshot of several is refused rather than merged.
fn snapshot_namespace(
    path: &Path,
    text: &str,
    statements: &[(Statement, Location)],
    engine: EngineKind,
) -> Result<Option<String>, Diagnostics> {
    let mut found: Option<String> = None;
    for (stmt, at) in statements {
        if !shapes_schema(stmt) {
            continue;
        }
        for qualifier in qualifiers(stmt) {
            match &found {
                None => found = Some(qualifier),
                Some(first) if *first == qualifier => {}
                Some(first) => {
                    return Err(Diagnostic::new(
                        path,
                        format!(
                            "this snapshot holds objects of schema `{first}` and of schema \
                             `{qualifier}`; zerodown models one schema, the one the \
                             application's unqualified names resolve to"
                        ),
                    )
                    .at(at.line, at.column)
                    .with_source(text)
                    .help(format!(
                        "keep one schema per snapshot: `pg_dump --schema-only --schema={first}` \
                         dumps only `{first}`"
                    ))
                    .into())
                }
            }
        }
    }
    Ok(found.or_else(|| engine.fixed_namespace().map(str::to_string)))
}

/// A MySQL `KEY` of a `CREATE TABLE`. MySQL names indexes per table, and
/// dumps reuse a name on several tables (`KEY user_id (user_id)`): such an
/// index is kept under `<table>.<name>` so both fit the model's one map.
fn apply_inline_index(
    schema: &mut Schema,
    op: &Operation,
) -> Result<(), crate::schema::SchemaError> {
    if let Operation::CreateIndex {
        name,
        table,
        keys,
        columns,
        unique,
        predicate,
        ..
    } = op
    {
        if schema
            .indexes
            .get(name)
            .is_some_and(|other| other.table != *table)
        {
            let index = crate::schema::Index {
                name: name.clone(),
                table: table.clone(),
                keys: keys.clone(),
                columns: columns.clone(),
                unique: *unique,
                predicate: predicate.clone(),
                drop_at: None,
            };
            schema.indexes.insert(format!("{table}.{name}"), index);
            return Ok(());
        }
    }
    schema.apply(op, None)
}

/// Statements a schema dump holds that do not shape the tables, columns,
/// indexes and views the model tracks.
fn shapes_schema(stmt: &Statement) -> bool {
    if let Statement::AlterTable(alter) = stmt {
        // pg_dump's housekeeping: ownership, row security, replication.
        return !alter.operations.iter().all(|op| {
            matches!(
                op,
                AlterTableOperation::OwnerTo { .. }
                    | AlterTableOperation::EnableRowLevelSecurity
                    | AlterTableOperation::DisableRowLevelSecurity
                    | AlterTableOperation::ForceRowLevelSecurity
                    | AlterTableOperation::NoForceRowLevelSecurity
                    | AlterTableOperation::ReplicaIdentity { .. }
                    | AlterTableOperation::EnableTrigger { .. }
                    | AlterTableOperation::DisableTrigger { .. }
            )
        });
    }
    !matches!(
        stmt,
        Statement::Insert(_)
            | Statement::Comment { .. }
            | Statement::Grant(_)
            | Statement::Revoke(_)
            | Statement::Set(_)
            | Statement::CreateExtension(_)
            | Statement::CreateSchema { .. }
            | Statement::CreateSequence { .. }
            | Statement::CreateFunction(_)
            | Statement::CreateTrigger(_)
            | Statement::CreateType { .. }
            | Statement::CreateDomain(_)
            | Statement::StartTransaction { .. }
            | Statement::Commit { .. }
            | Statement::Pragma { .. }
            | Statement::Query(_)
            | Statement::Use(_)
            | Statement::LockTables { .. }
            | Statement::UnlockTables
    )
}

/// Parse every statement with the location of its first token (the
/// statement's own spans start at its name, or are empty for some kinds).
/// Statements that never shape the model and that dumps write in forms
/// sqlparser does not read (pg_dump's `CREATE SEQUENCE … AS integer START
/// WITH …`, function bodies, SQLite triggers and pragmas) are skipped
/// unread.
fn parse_statements(
    text: &str,
    engine: EngineKind,
) -> Result<Vec<(Statement, Location)>, ParserError> {
    let dialect = engine.sql_dialect();
    let mut parser = Parser::new(&*dialect).try_with_sql(text)?;
    let mut statements = Vec::new();
    let mut expecting_delimiter = false;
    loop {
        while parser.consume_token(&Token::SemiColon) {
            expecting_delimiter = false;
        }
        let next = parser.peek_token();
        if next.token == Token::EOF {
            break;
        }
        if expecting_delimiter {
            return parser.expected("end of statement", next);
        }
        if skipped_unread(&parser) {
            skip_statement(&mut parser);
            continue;
        }
        let statement = parser.parse_statement()?;
        statements.push((statement, next.span.start));
        expecting_delimiter = true;
    }
    Ok(statements)
}

/// Whether the next statement is one the model ignores, by its leading
/// keywords.
fn skipped_unread(parser: &Parser) -> bool {
    let keywords = parser.peek_tokens::<5>().map(|token| match token {
        Token::Word(word) => word.keyword,
        _ => Keyword::NoKeyword,
    });
    let object = match keywords {
        // mysqldump's `ALTER TABLE t DISABLE KEYS` around its INSERTs.
        [Keyword::ALTER, Keyword::TABLE, _, Keyword::DISABLE | Keyword::ENABLE, Keyword::KEYS] => {
            return true
        }
        [Keyword::CREATE, Keyword::OR, Keyword::REPLACE, object, _] => object,
        [Keyword::CREATE | Keyword::ALTER | Keyword::DROP, object, ..] => object,
        [first, ..] => {
            return matches!(
                first,
                Keyword::COMMENT | Keyword::GRANT | Keyword::REVOKE | Keyword::PRAGMA
            )
        }
    };
    matches!(
        object,
        Keyword::SEQUENCE
            | Keyword::FUNCTION
            | Keyword::PROCEDURE
            | Keyword::TRIGGER
            | Keyword::TYPE
            | Keyword::DOMAIN
            | Keyword::EXTENSION
            | Keyword::AGGREGATE
            | Keyword::OPERATOR
            | Keyword::DEFAULT
    )
}

/// Consume the tokens of one statement, up to its `;`. A trigger body's
/// `BEGIN … END` (and a `CASE … END` in it) holds `;` of its own.
fn skip_statement(parser: &mut Parser) {
    let mut depth = 0usize;
    loop {
        match parser.next_token().token {
            Token::EOF => return,
            Token::SemiColon if depth == 0 => return,
            Token::Word(word) => match word.keyword {
                Keyword::BEGIN | Keyword::CASE => depth += 1,
                Keyword::END => depth = depth.saturating_sub(1),
                _ => {}
            },
            _ => {}
        }
    }
}

/// A parse error as a diagnostic at its line and column: sqlparser writes
/// the position into the message (`… at Line: 3, Column: 14`).
fn parse_diagnostic(path: &Path, text: &str, engine: EngineKind, err: &ParserError) -> Diagnostic {
    let message = match err {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m.clone(),
        ParserError::RecursionLimitExceeded => "the SQL nests too deeply".to_string(),
    };
    let (message, line, column) = match message.rfind(" at Line: ") {
        Some(cut) => {
            let position = &message[cut + " at Line: ".len()..];
            let mut numbers = position
                .split(", Column: ")
                .map(|n| n.trim().parse::<u64>().unwrap_or(0));
            let line = numbers.next().unwrap_or(0);
            let column = numbers.next().unwrap_or(0);
            (message[..cut].to_string(), line, column)
        }
        None => (message, 0, 0),
    };
    Diagnostic::new(path, format!("cannot parse the schema file: {message}"))
        .at(line, column)
        .with_source(text)
        .help(format!(
            "the file is read as {engine} SQL; fix the statement, or move what the parser \
                cannot read out of the \
             schema file (it only needs the tables, columns, indexes, constraints and views)"
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ConstraintKind;

    /// A fresh folder for one test, removed when dropped.
    struct Folder(PathBuf);

    impl Folder {
        fn new(name: &str) -> Self {
            let path =
                std::env::temp_dir().join(format!("zerodown-load-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Folder(path)
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const PG_DUMP: &str = "\
--
-- PostgreSQL database dump
--
SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;
COMMENT ON EXTENSION pgcrypto IS 'cryptographic functions';
CREATE TYPE public.mood AS ENUM ('sad', 'ok');
BEGIN;
CREATE TABLE public.users (
    id integer NOT NULL,
    name text NOT NULL,
    email character varying(255),
    created_at timestamp with time zone DEFAULT now() NOT NULL
);
ALTER TABLE public.users OWNER TO app;
CREATE SEQUENCE public.users_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    CACHE 1;
ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id;
ALTER TABLE ONLY public.users ALTER COLUMN id SET DEFAULT nextval('public.users_id_seq'::regclass);
ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX users_email_idx ON public.users USING btree (email);
CREATE TABLE orders (id bigint PRIMARY KEY, user_id integer REFERENCES users (id), note text);
CREATE INDEX IF NOT EXISTS users_email_idx ON users (email);
INSERT INTO orders (id) VALUES (1);
CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN NEW.created_at = now(); RETURN NEW; END $$;
CREATE TRIGGER users_touch BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.touch();
CREATE VIEW recent_orders AS SELECT id FROM orders WHERE id > 100;
GRANT SELECT ON TABLE public.users TO readonly;
COMMIT;
";

    #[test]
    fn a_postgres_dump_builds_the_model() {
        let folder = Folder::new("pg");
        let path = folder.write("0001.sql", PG_DUMP);
        let schema =
            load_schema_file(&path, EngineKind::Postgres, 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(schema.version, 1);
        let users = schema.table("users").unwrap();
        assert_eq!(
            users.column_names(),
            vec!["id", "name", "email", "created_at"]
        );
        assert_eq!(users.primary_key, vec!["id".to_string()]);
        assert_eq!(
            users.column("id").unwrap().default.as_deref(),
            Some("nextval('public.users_id_seq'::REGCLASS)")
        );
        assert_eq!(
            users.column("email").unwrap().data_type,
            "CHARACTER VARYING(255)"
        );
        let orders = schema.table("orders").unwrap();
        assert_eq!(
            orders.constraints["orders_user_id_fkey"].kind,
            ConstraintKind::ForeignKey {
                columns: vec!["user_id".into()],
                ref_table: "users".into(),
                ref_columns: vec!["id".into()]
            }
        );
        assert_eq!(
            schema.indexes.keys().collect::<Vec<_>>(),
            vec!["users_email_idx"]
        );
        assert!(schema.indexes["users_email_idx"].unique);
        assert_eq!(
            schema.views.keys().collect::<Vec<_>>(),
            vec!["recent_orders"]
        );
    }

    #[test]
    fn a_mysql_dump_keeps_per_table_index_names() {
        let folder = Folder::new("mysql");
        let path = folder.write(
            "0002_base.sql",
            "/*!40101 SET NAMES utf8mb4 */;
DROP TABLE IF EXISTS `users`;
CREATE TABLE `users` (
  `id` int NOT NULL AUTO_INCREMENT,
  `org_id` int DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `org_id` (`org_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
LOCK TABLES `users` WRITE;
/*!40000 ALTER TABLE `users` DISABLE KEYS */;
INSERT INTO `users` VALUES (1,NULL);
/*!40000 ALTER TABLE `users` ENABLE KEYS */;
UNLOCK TABLES;
CREATE TABLE `orders` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `org_id` int DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `org_id` (`org_id`)
) ENGINE=InnoDB;
",
        );
        let schema =
            load_schema_file(&path, EngineKind::Mysql, 2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            schema.tables["users"]
                .constraints
                .keys()
                .collect::<Vec<_>>(),
            vec!["PRIMARY"]
        );
        let indexes: Vec<(&str, &str, &str)> = schema
            .indexes
            .iter()
            .map(|(key, i)| (key.as_str(), i.name.as_str(), i.table.as_str()))
            .collect();
        assert_eq!(
            indexes,
            vec![
                ("orders.org_id", "org_id", "orders"),
                ("org_id", "org_id", "users")
            ]
        );
    }

    #[test]
    fn a_syntax_error_points_at_its_line() {
        let folder = Folder::new("syntax");
        let path = folder.write(
            "0001.sql",
            "CREATE TABLE users (id int PRIMARY KEY);\n\nCREATE TABLE orders (\n    id int,\n    total numeric(10,2) NOT NULL DEFALT 0\n);\n",
        );
        let Diagnostics(errors) = load_schema_file(&path, EngineKind::Postgres, 1).unwrap_err();
        assert_eq!(errors.len(), 1);
        let error = &errors[0];
        assert_eq!((error.line, error.column), (5, 34));
        assert_eq!(error.file, path);
        assert!(
            error
                .message
                .starts_with("cannot parse the schema file: Expected: ")
                && !error.message.contains("Line:"),
            "{}",
            error.message
        );
        assert!(error
            .help
            .as_deref()
            .unwrap()
            .contains("read as postgres SQL"));
        let snippet = error.snippet.as_deref().unwrap();
        assert!(
            snippet.contains("5 |     total numeric(10,2) NOT NULL DEFALT 0"),
            "{snippet}"
        );
    }

    #[test]
    fn statements_that_do_not_fit_are_reported_at_their_line_all_at_once() {
        let folder = Folder::new("apply");
        let path = folder.write(
            "0001.sql",
            "CREATE TABLE users (id int PRIMARY KEY);\n\
             CREATE TABLE users (id int);\n\
             \n\
             CREATE INDEX users_name_idx ON users (nmae);\n\
             ALTER TABLE users ADD COLUMN a int, ADD COLUMN b int;\n",
        );
        let Diagnostics(errors) = load_schema_file(&path, EngineKind::Postgres, 1).unwrap_err();
        let found: Vec<(u64, u64, &str)> = errors
            .iter()
            .map(|e| (e.line, e.column, e.message.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (2, 1, "table users already exists"),
                (4, 1, "unknown column users.nmae"),
                (5, 1, "`ALTER TABLE users` has 2 operations"),
            ]
        );
        assert_eq!(errors[1].help.as_deref(), Some("users has columns: id"));
        assert!(errors[0]
            .snippet
            .as_deref()
            .unwrap()
            .ends_with("2 | CREATE TABLE users (id int);\n  | ^"));
    }

    #[test]
    fn the_folder_gives_the_newest_snapshot_below_the_first_pending_plan() {
        let folder = Folder::new("dir");
        folder.write(
            "0001.sql",
            "PRAGMA foreign_keys = ON;
CREATE TABLE one (id int, n int);
CREATE TRIGGER one_n AFTER INSERT ON one BEGIN
  UPDATE one SET n = CASE WHEN n IS NULL THEN 0 ELSE n END WHERE id = NEW.id;
  SELECT 1;
END;
CREATE INDEX one_n_idx ON one (n);
",
        );
        folder.write(
            "0003_add_two.sql",
            "CREATE TABLE one (id int); CREATE TABLE two (id int);",
        );
        folder.write("README.md", "not a schema");
        folder.write("draft.sql", "not versioned");

        let pick = |below: u32| {
            load_schema_dir(&folder.0, EngineKind::Sqlite, below)
                .unwrap()
                .map(|(schema, source)| {
                    let SchemaSource::File { path } = source else {
                        panic!("a folder gives a file")
                    };
                    (
                        schema.version,
                        schema.tables.len(),
                        path.file_name().unwrap().to_str().unwrap().to_string(),
                    )
                })
        };
        assert_eq!(pick(1), None);
        assert_eq!(pick(2), Some((1, 1, "0001.sql".to_string())));
        let (first, _) = load_schema_dir(&folder.0, EngineKind::Sqlite, 2)
            .unwrap()
            .unwrap();
        assert_eq!(
            first.indexes.keys().collect::<Vec<_>>(),
            vec!["one_n_idx"],
            "the statement after the trigger's BEGIN … END is read"
        );
        assert_eq!(pick(3), Some((1, 1, "0001.sql".to_string())));
        assert_eq!(pick(4), Some((3, 2, "0003_add_two.sql".to_string())));
        assert_eq!(pick(u32::MAX), Some((3, 2, "0003_add_two.sql".to_string())));
        assert_eq!(newest_schema_version(&folder.0), Some(3));

        let missing = folder.0.join("nowhere");
        assert_eq!(
            load_schema_dir(&missing, EngineKind::Sqlite, 5).unwrap(),
            None
        );
        assert_eq!(newest_schema_version(&missing), None);

        folder.write("0003.sql", "CREATE TABLE three (id int);");
        let Diagnostics(errors) = load_schema_dir(&folder.0, EngineKind::Sqlite, 9).unwrap_err();
        assert!(
            errors[0]
                .message
                .starts_with("two schema files for version 3"),
            "{}",
            errors[0].message
        );
    }
}
