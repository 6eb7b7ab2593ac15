//! Building the model from SQL files.

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostics;
use crate::dialect::EngineKind;
use crate::schema::Schema;

/// Where the starting schema came from, for the plan output.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SchemaSource {
    /// No schema file: the first plan starts from an empty database.
    Empty,
    File { path: PathBuf },
    /// Read from the database (introspection, or the schema a run started
    /// from, kept in its state file).
    Database,
}

/// Load the newest `NNNN*.sql` of a schema folder whose version is below
/// `below` (the first pending plan's version), as the schema at version NNNN.
/// `Ok(None)` when the folder has none.
pub fn load_schema_dir(dir: &Path, engine: EngineKind, below: u32) -> Result<Option<(Schema, SchemaSource)>, Diagnostics> {
    let _ = (dir, engine, below);
    todo!("load_schema_dir")
}

/// Load one SQL file as the schema at `version`.
pub fn load_schema_file(path: &Path, engine: EngineKind, version: u32) -> Result<Schema, Diagnostics> {
    let _ = (path, engine, version);
    todo!("load_schema_file")
}
