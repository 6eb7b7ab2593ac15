//! Building the model from SQL files.

use std::path::{Path, PathBuf};

use sqlparser::ast::Statement;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::dialect::EngineKind;
use crate::ops::parse::{guard_satisfied, inline_indexes, lower};
use crate::ops::Operation;
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
    let mut schema = Schema {
        version,
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
            for index in inline_indexes(create, engine) {
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
        let statement = parser.parse_statement()?;
        statements.push((statement, next.span.start));
        expecting_delimiter = true;
    }
    Ok(statements)
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
            "the file is read as {engine} SQL; fix the statement, or move what the parser cannot read out of the \
             schema file (it only needs the tables, columns, indexes, constraints and views)"
        ))
}
