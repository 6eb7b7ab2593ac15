//! The in-memory schema model the planner checks each plan against.
//!
//! Built from SQL files (`schemas/0001.sql` is the schema at version 1) or
//! `--schema FILE` (`load`), later by introspection; then every pending
//! plan's operations are applied to it in order (`apply`), so each change is
//! checked against exactly what it will find. Names are stored normalized
//! (see `ops::parse::normalize_ident`).

mod apply;
mod collections;
mod views;

pub use apply::SchemaError;
pub use collections::{IndexMut, Indexes, TableMut, Tables};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::operation::{Constraint, ConstraintKind};

/// A column of the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub data_type: String,
    pub nullable: bool,
    pub default: Option<String>,
    /// Kept for a later plan's contract (`contract_in`): still physically
    /// there, dropped when that version contracts.
    pub drop_at: Option<u32>,
}

impl Column {
    /// Whether an insert that leaves the column out succeeds: it takes
    /// NULL or its default, or it is on its way out (kept until a
    /// contract, writable until then: see `until_dropped`).
    pub fn can_be_left_out(&self) -> bool {
        self.nullable || self.default.is_some() || self.drop_at.is_some()
    }

    /// What the column needs from expand until a contract drops it, so
    /// that releases that no longer write it can insert: the change's
    /// `fill:` as its default (old readers then see a value), or else,
    /// when it is NOT NULL without a default, NULL allowed. `None`: it can
    /// be left out already.
    pub fn until_dropped(&self, fill: Option<&str>) -> Option<UntilDropped> {
        match fill {
            Some(fill) => Some(UntilDropped::Fill(fill.to_string())),
            None if !self.nullable && self.default.is_none() => Some(UntilDropped::AllowNull),
            None => None,
        }
    }

    /// The column as `until_dropped` leaves it.
    pub fn relax(&mut self, how: &UntilDropped) {
        match how {
            UntilDropped::AllowNull => self.nullable = true,
            UntilDropped::Fill(fill) => self.default = Some(fill.clone()),
        }
    }
}

/// How a dropped column stays writable by releases that no longer write
/// it, from expand until the contract that drops it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UntilDropped {
    /// NOT NULL is dropped: their rows get NULL.
    AllowNull,
    /// The column defaults to the change's `fill:` expression.
    Fill(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    /// Empty when the table has none (backfills then refuse it).
    pub primary_key: Vec<String>,
    pub constraints: BTreeMap<String, Constraint>,
    /// Kept for a later plan's contract (`contract_in`).
    pub drop_at: Option<u32>,
    /// Estimated rows, when known (introspection); drives lock-time
    /// estimates in the plan output.
    pub row_estimate: Option<u64>,
}

impl Table {
    pub fn new(name: impl Into<String>) -> Self {
        Table {
            name: name.into(),
            columns: Vec::new(),
            primary_key: Vec::new(),
            constraints: BTreeMap::new(),
            drop_at: None,
            row_estimate: None,
        }
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn column_mut(&mut self, name: &str) -> Option<&mut Column> {
        self.columns.iter_mut().find(|c| c.name == name)
    }

    /// Column names, for "did you mean" help.
    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    pub table: String,
    /// Key expressions as SQL.
    pub keys: Vec<String>,
    /// Plain columns among the keys.
    pub columns: Vec<String>,
    pub unique: bool,
    pub predicate: Option<String>,
    pub drop_at: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    pub name: String,
    pub sql: String,
    pub drop_at: Option<u32>,
}

/// The schema at one version.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub version: u32,
    /// The schema (namespace) the model is: the one unqualified names
    /// resolve to (PostgreSQL's current schema, MySQL's database, SQLite's
    /// `main`), when known. A name qualified with it is the same name
    /// unqualified; a name qualified with any other is refused.
    #[serde(default)]
    pub namespace: Option<String>,
    pub tables: Tables,
    /// Indexes by name (PostgreSQL and SQLite name them per schema; MySQL
    /// per table, which the names here also satisfy).
    pub indexes: Indexes,
    pub views: BTreeMap<String, View>,
    /// What the version being planned drops. Cleared by `finish_contract`.
    #[serde(skip)]
    pub dropped_this_version: DroppedThisVersion,
}

/// What the version being planned drops. Its drops run in contract, after
/// its creations (expand) and its new keys (migrate), so none of these is
/// free again before the next version: a creation that reused one would
/// run while the old object still stands, and meet it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DroppedThisVersion {
    /// Tables, views and indexes, and the indexes behind dropped PRIMARY
    /// KEY and UNIQUE constraints (PostgreSQL names them as the constraint).
    pub relations: std::collections::BTreeSet<String>,
    /// Constraints, as `(table, name)`.
    pub constraints: std::collections::BTreeSet<(String, String)>,
    /// Tables whose primary key is dropped.
    pub primary_keys: std::collections::BTreeSet<String>,
}

impl Schema {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    pub fn column(&self, table: &str, column: &str) -> Option<&Column> {
        self.tables.get(table)?.column(column)
    }

    /// Indexes of a table that use a column.
    pub fn indexes_on(&self, table: &str, column: &str) -> Vec<&Index> {
        self.indexes
            .on_table(table)
            .filter(|i| i.columns.iter().any(|c| c == column))
            .collect()
    }
}
