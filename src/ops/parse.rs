//! From a parsed `sqlparser` statement to an `Operation`.

use sqlparser::ast::{Ident, Statement};

use crate::dialect::EngineKind;
use crate::ops::Operation;
use crate::schema::Schema;

/// The name an identifier denotes: unquoted names fold to lower case
/// (PostgreSQL folds them, MySQL and SQLite compare them without case),
/// quoted names are kept as written.
pub fn normalize_ident(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

/// Why a statement cannot become an operation: the message, and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    pub message: String,
    pub help: String,
}

/// Turn one statement into an operation for this engine. The schema is the
/// model the statement will meet (MySQL `MODIFY` needs it to tell a type
/// change from a nullability change).
pub fn lower(stmt: &Statement, engine: EngineKind, schema: &Schema) -> Result<Operation, Unsupported> {
    let _ = (stmt, engine, schema);
    todo!("ops::parse::lower")
}
