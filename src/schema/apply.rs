//! Applying an operation to the model, checking it against what is there.
//!
//! Every error says what to do: the names that exist, the one the user
//! probably meant. Something kept for a later contract (`drop_at`) still
//! physically exists: it is visible to every check until that contract.

use std::collections::BTreeMap;

use crate::dialect::same_type;
use crate::operation::{ColumnSpec, ForeignKeySpec, Operation};
use crate::schema::{Column, Constraint, ConstraintKind, Index, Schema, Table, TableMut, View};

/// A change that does not fit the schema it will meet.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SchemaError {
    pub message: String,
    pub help: String,
}

impl SchemaError {
    fn new(message: impl Into<String>, help: impl Into<String>) -> Self {
        SchemaError {
            message: message.into(),
            help: help.into(),
        }
    }
}

impl Schema {
    /// Check `op` against the model and apply it. With `contract_in`, what
    /// the operation removes is kept (marked `drop_at`) until that version's
    /// contract (`finish_contract`).
    pub fn apply(&mut self, op: &Operation, contract_in: Option<u32>) -> Result<(), SchemaError> {
        match op {
            Operation::CreateTable {
                table,
                columns,
                primary_key,
                constraints,
                if_not_exists,
                ..
            } => {
                if *if_not_exists && self.tables.contains_key(table) {
                    return Ok(());
                }
                self.create_table(table, columns, primary_key, constraints)
            }
            Operation::DropTable { table } => self.drop_table(table, contract_in),
            Operation::RenameTable { from, to } => self.rename_table(from, to, contract_in),
            Operation::AddColumn { table, column } => self.add_column(table, column),
            Operation::DropColumn { table, column } => self.drop_column(table, column, contract_in),
            Operation::RenameColumn { table, from, to } => {
                self.rename_column(table, from, to, contract_in)
            }
            Operation::AlterColumnType {
                table,
                column,
                new_type,
                ..
            } => {
                let col = self.column_mut_checked(table, column)?;
                if same_type(&col.data_type, new_type) {
                    return Err(SchemaError::new(
                        format!(
                            "column {table}.{column} is already of type {}",
                            col.data_type
                        ),
                        "remove the change: it changes nothing",
                    ));
                }
                col.data_type = new_type.clone();
                Ok(())
            }
            Operation::SetNotNull { table, column } => {
                let col = self.column_mut_checked(table, column)?;
                if !col.nullable {
                    return Err(SchemaError::new(
                        format!("column {table}.{column} is already NOT NULL"),
                        "remove the change: it changes nothing",
                    ));
                }
                col.nullable = false;
                Ok(())
            }
            Operation::DropNotNull { table, column } => {
                if self
                    .table(table)
                    .is_some_and(|t| t.primary_key.contains(column))
                {
                    return Err(SchemaError::new(
                        format!(
                            "column {table}.{column} is in the primary key, which keeps \
                            it NOT NULL"
                        ),
                        "drop or change the primary key first, as its own change",
                    ));
                }
                let col = self.column_mut_checked(table, column)?;
                if col.nullable {
                    return Err(SchemaError::new(
                        format!("column {table}.{column} is already nullable"),
                        "remove the change: it changes nothing",
                    ));
                }
                col.nullable = true;
                Ok(())
            }
            Operation::SetDefault {
                table,
                column,
                default,
            } => {
                let col = self.column_mut_checked(table, column)?;
                if col
                    .default
                    .as_deref()
                    .is_some_and(|d| d.eq_ignore_ascii_case(&default.sql))
                {
                    return Err(SchemaError::new(
                        format!(
                            "column {table}.{column} already defaults to {}",
                            default.sql
                        ),
                        "remove the change: it changes nothing",
                    ));
                }
                col.default = Some(default.sql.clone());
                Ok(())
            }
            Operation::DropDefault { table, column } => {
                let col = self.column_mut_checked(table, column)?;
                if col.default.is_none() {
                    return Err(SchemaError::new(
                        format!("column {table}.{column} has no default"),
                        "remove the change: it changes nothing",
                    ));
                }
                col.default = None;
                Ok(())
            }
            Operation::CreateIndex {
                name,
                table,
                keys,
                columns,
                unique,
                predicate,
                ..
            } => self.create_index(Index {
                name: name.clone(),
                table: table.clone(),
                keys: keys.clone(),
                columns: columns.clone(),
                unique: *unique,
                predicate: predicate.clone(),
                drop_at: None,
            }),
            Operation::DropIndex { name, table } => {
                self.drop_index(name, table.as_deref(), contract_in)
            }
            Operation::AddForeignKey {
                table,
                name,
                fk,
                not_valid,
            } => {
                let kind = self.foreign_key_kind(table, fk)?;
                self.add_constraint(
                    table,
                    Constraint {
                        name: name.clone(),
                        kind,
                        validated: !not_valid,
                    },
                )
            }
            Operation::AddCheck {
                table,
                name,
                expr,
                not_valid,
            } => self.add_constraint(
                table,
                Constraint {
                    name: name.clone(),
                    kind: ConstraintKind::Check { expr: expr.clone() },
                    validated: !not_valid,
                },
            ),
            Operation::AddUnique {
                table,
                name,
                columns,
            } => {
                self.columns_checked(table, columns)?;
                self.add_constraint(
                    table,
                    Constraint {
                        name: name.clone(),
                        kind: ConstraintKind::Unique {
                            columns: columns.clone(),
                        },
                        validated: true,
                    },
                )
            }
            Operation::AddPrimaryKey {
                table,
                name,
                columns,
            } => self.add_primary_key(table, name.as_deref(), columns),
            Operation::ValidateConstraint { table, name } => {
                if self.constraint_checked(table, name)?.validated {
                    return Err(SchemaError::new(
                        format!("constraint {name} on {table} is already validated"),
                        "remove the change: it changes nothing",
                    ));
                }
                let mut t = self.tables.get_mut(table).expect("checked above");
                let constraint = t.constraints.get_mut(name).expect("checked above");
                constraint.validated = true;
                Ok(())
            }
            Operation::DropConstraint { table, name } => {
                let key = match &self.constraint_checked(table, name)?.kind {
                    ConstraintKind::Unique { columns } | ConstraintKind::PrimaryKey { columns } => {
                        Some(columns.clone())
                    }
                    _ => None,
                };
                // The engines refuse to drop the key a foreign key stands on.
                if let Some((other, fk)) = key.and_then(|key| self.foreign_keys_on_key(table, &key))
                {
                    return Err(SchemaError::new(
                        format!("constraint {name} on {table} is the key foreign key {fk} on {other} references"),
                        format!("drop foreign key {fk} on {other} first, as its own change"),
                    ));
                }
                let removed = {
                    let mut t = self.tables.get_mut(table).expect("checked above");
                    let removed = t.constraints.remove(name).map(|c| c.kind);
                    if let Some(ConstraintKind::PrimaryKey { .. }) = removed {
                        t.primary_key.clear();
                    }
                    removed
                };
                let dropped = &mut self.dropped_this_version;
                dropped.constraints.insert((table.clone(), name.clone()));
                match removed {
                    Some(ConstraintKind::PrimaryKey { .. }) => {
                        dropped.primary_keys.insert(table.clone());
                        dropped.relations.insert(name.clone());
                    }
                    Some(ConstraintKind::Unique { .. }) => {
                        dropped.relations.insert(name.clone());
                    }
                    _ => {}
                }
                Ok(())
            }
            Operation::CreateView {
                name,
                or_replace,
                sql,
            } => self.create_view(name, *or_replace, sql),
            Operation::DropView { name } => {
                if !self.views.contains_key(name) {
                    return Err(unknown("view", name, self_names(&self.views)));
                }
                let view = self.views.get_mut(name).expect("checked above");
                scheduled_twice("view", name, view.drop_at)?;
                match contract_in {
                    Some(version) => view.drop_at = Some(version),
                    None => {
                        self.views.remove(name);
                        self.dropped_this_version.relations.insert(name.clone());
                    }
                }
                Ok(())
            }
            // Raw SQL is not interpreted: the model cannot know what it does.
            Operation::Raw { .. } => Ok(()),
        }
    }

    /// Remove what earlier plans deferred to this version's contract.
    pub fn finish_contract(&mut self, version: u32) {
        let due = Some(version);
        let tables: Vec<String> = self
            .tables
            .values()
            .filter(|t| t.drop_at == due)
            .map(|t| t.name.clone())
            .collect();
        for table in tables {
            self.remove_table(&table);
        }
        let columns: Vec<(String, String)> = self
            .tables
            .values()
            .flat_map(|t| {
                t.columns
                    .iter()
                    .filter(|c| c.drop_at == due)
                    .map(|c| (t.name.clone(), c.name.clone()))
            })
            .collect();
        for (table, column) in columns {
            self.remove_column(&table, &column);
        }
        self.indexes.retain(|_, index| index.drop_at != due);
        self.views.retain(|_, view| view.drop_at != due);
        self.dropped_this_version = Default::default();
    }

    // ------------------------------------------------------------ lookups

    fn table_checked(&self, table: &str) -> Result<&Table, SchemaError> {
        self.tables
            .get(table)
            .ok_or_else(|| unknown("table", table, self_names(&self.tables)))
    }

    fn table_mut_checked(&mut self, table: &str) -> Result<TableMut<'_>, SchemaError> {
        if !self.tables.contains_key(table) {
            return Err(unknown("table", table, self_names(&self.tables)));
        }
        Ok(self.tables.get_mut(table).expect("checked above"))
    }

    fn column_checked(&self, table: &str, column: &str) -> Result<&Column, SchemaError> {
        let t = self.table_checked(table)?;
        t.column(column).ok_or_else(|| unknown_column(t, column))
    }

    fn column_mut_checked(
        &mut self,
        table: &str,
        column: &str,
    ) -> Result<&mut Column, SchemaError> {
        self.column_checked(table, column)?;
        Ok(self
            .tables
            .column_mut(table, column)
            .expect("checked above"))
    }

    fn columns_checked(&self, table: &str, columns: &[String]) -> Result<(), SchemaError> {
        let t = self.table_checked(table)?;
        match columns.iter().find(|c| t.column(c).is_none()) {
            Some(missing) => Err(unknown_column(t, missing)),
            None => Ok(()),
        }
    }

    fn constraint_checked(&self, table: &str, name: &str) -> Result<&Constraint, SchemaError> {
        let t = self.table_checked(table)?;
        t.constraints.get(name).ok_or_else(|| {
            let names: Vec<&str> = t.constraints.keys().map(String::as_str).collect();
            let mut err = unknown("constraint", name, names.clone());
            err.message = format!("unknown constraint {name} on table {table}");
            if names.is_empty() {
                err.help = format!("table {table} has no constraints");
            }
            err
        })
    }

    /// A name no table, view or index of the model uses yet (PostgreSQL
    /// keeps them in one namespace).
    fn relation_name_free(&self, kind: &str, name: &str) -> Result<(), SchemaError> {
        let taken = if let Some(t) = self.tables.get(name) {
            Some(("table", t.drop_at))
        } else if let Some(v) = self.views.get(name) {
            Some(("view", v.drop_at))
        } else {
            self.indexes.get(name).map(|i| ("index", i.drop_at))
        };
        if taken.is_none() && self.dropped_this_version.relations.contains(name) {
            return Err(SchemaError::new(
                format!("{name} is dropped by this version, in its contract, which runs after the {kind} would be created in expand"),
                format!(
                    "create the {kind} in a later version, or pick another name{}",
                    if kind == "view" { " (to change a view in place: CREATE OR REPLACE VIEW, on PostgreSQL and MySQL)" } else { "" }
                ),
            ));
        }
        match taken {
            None => Ok(()),
            Some((what, drop_at)) => Err(SchemaError::new(
                format!("{what} {name} already exists{}", kept_until(drop_at)),
                match drop_at {
                    Some(version) => format!(
                        "the {what} is kept until version {version}'s contract; pick another \
                            name for the {kind}, \
                         or create it in a plan after version {version}"
                    ),
                    None => format!(
                        "pick another name for the {kind}, or drop the {what} \
                        first, as its own change"
                    ),
                },
            )),
        }
    }

    // ------------------------------------------------------------ tables

    fn create_table(
        &mut self,
        table: &str,
        columns: &[ColumnSpec],
        primary_key: &[String],
        constraints: &[Constraint],
    ) -> Result<(), SchemaError> {
        self.relation_name_free("table", table)?;
        let mut new = Table::new(table);
        for spec in columns {
            if new.column(&spec.name).is_some() {
                return Err(SchemaError::new(
                    format!("table {table} declares column {} twice", spec.name),
                    "keep one of them, or rename the other",
                ));
            }
            new.columns.push(column_from_spec(spec));
        }
        for key in primary_key {
            if new.column(key).is_none() {
                return Err(unknown_column(&new, key));
            }
        }
        new.primary_key = primary_key.to_vec();
        for constraint in constraints {
            if new.constraints.contains_key(&constraint.name) {
                return Err(SchemaError::new(
                    format!(
                        "table {table} declares constraint {} twice",
                        constraint.name
                    ),
                    "give each constraint its own name",
                ));
            }
            let own_columns = match &constraint.kind {
                ConstraintKind::Unique { columns } | ConstraintKind::PrimaryKey { columns } => {
                    columns.as_slice()
                }
                ConstraintKind::ForeignKey { columns, .. } => columns.as_slice(),
                ConstraintKind::Check { .. } => &[],
            };
            if let Some(missing) = own_columns.iter().find(|c| new.column(c).is_none()) {
                return Err(unknown_column(&new, missing));
            }
            let mut constraint = constraint.clone();
            if let ConstraintKind::ForeignKey {
                ref_table,
                ref_columns,
                columns,
            } = &mut constraint.kind
            {
                // A table may reference itself: check against the new table.
                let target = if ref_table == table {
                    &new
                } else {
                    self.table_checked(ref_table)?
                };
                *ref_columns = referenced_columns(target, ref_columns, columns.len(), table)?;
            }
            new.constraints.insert(constraint.name.clone(), constraint);
        }
        // The model keeps the primary key as a constraint too (dropping that
        // constraint is how the key goes); an operation built without one
        // gets PostgreSQL's name for it.
        if !new.primary_key.is_empty()
            && !new
                .constraints
                .values()
                .any(|c| matches!(c.kind, ConstraintKind::PrimaryKey { .. }))
        {
            let name = format!("{table}_pkey");
            let kind = ConstraintKind::PrimaryKey {
                columns: new.primary_key.clone(),
            };
            new.constraints.insert(
                name.clone(),
                Constraint {
                    name,
                    kind,
                    validated: true,
                },
            );
        }
        self.tables.insert(table.to_string(), new);
        Ok(())
    }

    fn drop_table(&mut self, table: &str, contract_in: Option<u32>) -> Result<(), SchemaError> {
        let t = self.table_checked(table)?;
        scheduled_twice("table", table, t.drop_at)?;
        self.no_view_reads(table, None, "dropping it")?;
        if let Some((other, fk)) = self
            .foreign_keys_to(table, None)
            .into_iter()
            .find(|(other, _)| other != table)
        {
            return Err(SchemaError::new(
                format!("table {table} is referenced by foreign key {fk} on {other}"),
                format!("drop foreign key {fk} on {other} first, as its own change"),
            ));
        }
        match contract_in {
            Some(version) => {
                self.tables.get_mut(table).expect("checked above").drop_at = Some(version);
                for key in self.indexes.keys_on_table(table) {
                    let mut index = self.indexes.get_mut(&key).expect("listed above");
                    index.drop_at.get_or_insert(version);
                }
            }
            None => {
                self.remove_table(table);
                self.dropped_this_version
                    .relations
                    .insert(table.to_string());
            }
        }
        Ok(())
    }

    /// Refuse a change that removes what a view reads: `removal` says how
    /// the change removes it.
    fn no_view_reads(
        &self,
        table: &str,
        column: Option<&str>,
        removal: &str,
    ) -> Result<(), SchemaError> {
        let Some(view) = self.views_using(table, column).into_iter().next() else {
            return Ok(());
        };
        let subject = match column {
            Some(c) => format!("column {table}.{c}"),
            None => format!("table {table}"),
        };
        Err(SchemaError::new(
            format!(
                "view {view} reads {subject}: {removal} would break the view (PostgreSQL refuses the drop, MySQL \
                 keeps a view that fails on every read, SQLite refuses it or silently narrows a `SELECT *` view)"
            ),
            format!(
                "first drop view {view} (or replace it with one that does not read {subject}), as its own change \
                 before this one, and create it again in a later version"
            ),
        ))
    }

    fn remove_table(&mut self, table: &str) {
        self.tables.remove(table);
        for key in self.indexes.keys_on_table(table) {
            self.indexes.remove(&key);
        }
    }

    fn rename_table(
        &mut self,
        from: &str,
        to: &str,
        contract_in: Option<u32>,
    ) -> Result<(), SchemaError> {
        let old = self.table_checked(from)?;
        scheduled_twice("table", from, old.drop_at)?;
        self.relation_name_free("table", to)?;
        let mut renamed = old.clone();
        renamed.name = to.to_string();
        match contract_in {
            // The old name stays until the contract; the data, its indexes
            // and the references to it go with the new name.
            Some(version) => {
                self.tables.get_mut(from).expect("checked above").drop_at = Some(version)
            }
            None => {
                self.tables.remove(from);
            }
        }
        self.tables.insert(to.to_string(), renamed);
        for key in self.indexes.keys_on_table(from) {
            self.indexes.get_mut(&key).expect("listed above").table = to.to_string();
        }
        self.tables.update_foreign_keys_to(from, |constraint| {
            if let ConstraintKind::ForeignKey { ref_table, .. } = &mut constraint.kind {
                *ref_table = to.to_string();
            }
        });
        Ok(())
    }

    // ------------------------------------------------------------ columns

    fn add_column(&mut self, table: &str, spec: &ColumnSpec) -> Result<(), SchemaError> {
        let mut t = self.table_mut_checked(table)?;
        if let Some(existing) = t.column(&spec.name) {
            return Err(SchemaError::new(
                format!(
                    "column {table}.{} already exists{}",
                    spec.name,
                    kept_until(existing.drop_at)
                ),
                match existing.drop_at {
                    Some(version) => {
                        format!(
                            "it is kept until version {version}'s contract; pick another \
                            name, or add it later"
                        )
                    }
                    None => format!(
                        "pick another name; {table} has columns: {}",
                        listing(&t.column_names())
                    ),
                },
            ));
        }
        t.columns.push(column_from_spec(spec));
        Ok(())
    }

    fn drop_column(
        &mut self,
        table: &str,
        column: &str,
        contract_in: Option<u32>,
    ) -> Result<(), SchemaError> {
        let col = self.column_checked(table, column)?;
        scheduled_twice("column", &format!("{table}.{column}"), col.drop_at)?;
        self.no_view_reads(table, Some(column), "dropping it")?;
        if let Some((other, fk)) = self.foreign_keys_to(table, Some(column)).into_iter().next() {
            return Err(SchemaError::new(
                format!("column {table}.{column} is referenced by foreign key {fk} on {other}"),
                format!("drop foreign key {fk} on {other} first, as its own change"),
            ));
        }
        match contract_in {
            Some(version) => {
                self.column_mut_checked(table, column)?.drop_at = Some(version);
                for key in self.indexes_on_column(table, column) {
                    let mut index = self.indexes.get_mut(&key).expect("listed above");
                    index.drop_at.get_or_insert(version);
                }
            }
            None => self.remove_column(table, column),
        }
        Ok(())
    }

    /// Remove a column and what the engine drops with it: indexes and
    /// constraints on it, its place in the primary key.
    fn remove_column(&mut self, table: &str, column: &str) {
        let Some(mut t) = self.tables.get_mut(table) else {
            return;
        };
        t.columns.retain(|c| c.name != column);
        if t.primary_key.iter().any(|c| c == column) {
            t.primary_key.clear();
        }
        t.constraints
            .retain(|_, constraint| match &constraint.kind {
                ConstraintKind::Unique { columns }
                | ConstraintKind::PrimaryKey { columns }
                | ConstraintKind::ForeignKey { columns, .. } => {
                    !columns.iter().any(|c| c == column)
                }
                ConstraintKind::Check { expr } => !mentions(expr, column),
            });
        drop(t);
        for key in self.indexes_on_column(table, column) {
            self.indexes.remove(&key);
        }
    }

    /// The keys of a table's indexes that have a column among their key
    /// columns.
    fn indexes_on_column(&self, table: &str, column: &str) -> Vec<String> {
        self.indexes
            .keys_on_table(table)
            .into_iter()
            .filter(|key| self.indexes[key].columns.iter().any(|c| c == column))
            .collect()
    }

    fn rename_column(
        &mut self,
        table: &str,
        from: &str,
        to: &str,
        contract_in: Option<u32>,
    ) -> Result<(), SchemaError> {
        self.column_checked(table, from)?;
        self.no_view_reads(
            table,
            Some(from),
            "a rename fills a new column and drops this one in contract, and dropping it",
        )?;
        let mut t = self.table_mut_checked(table)?;
        let Some(old) = t.column(from) else {
            return Err(unknown_column(&t, from));
        };
        scheduled_twice("column", &format!("{table}.{from}"), old.drop_at)?;
        if let Some(existing) = t.column(to) {
            return Err(SchemaError::new(
                format!(
                    "cannot rename {table}.{from} to {to}: column {table}.{to} already exists{}",
                    kept_until(existing.drop_at)
                ),
                format!(
                    "pick another name; {table} has columns: {}",
                    listing(&t.column_names())
                ),
            ));
        }
        match contract_in {
            // Both names exist until the contract; the indexes, keys and
            // references follow the new name, which is what remains.
            Some(version) => {
                let mut renamed = old.clone();
                renamed.name = to.to_string();
                t.column_mut(from).expect("checked above").drop_at = Some(version);
                t.columns.push(renamed);
            }
            None => t.column_mut(from).expect("checked above").name = to.to_string(),
        }
        let rename = |c: &mut String| {
            if c == from {
                *c = to.to_string();
            }
        };
        t.primary_key.iter_mut().for_each(rename);
        for constraint in t.constraints.values_mut() {
            match &mut constraint.kind {
                ConstraintKind::Unique { columns }
                | ConstraintKind::PrimaryKey { columns }
                | ConstraintKind::ForeignKey { columns, .. } => columns.iter_mut().for_each(rename),
                ConstraintKind::Check { .. } => {}
            }
        }
        drop(t);
        for key in self.indexes.keys_on_table(table) {
            let mut index = self.indexes.get_mut(&key).expect("listed above");
            index.columns.iter_mut().for_each(rename);
            for key in &mut index.keys {
                for quote in ['"', '`'] {
                    let quoted = format!("{quote}{from}{quote}");
                    if key.starts_with(&quoted) {
                        *key = format!("{quote}{to}{quote}{}", &key[quoted.len()..]);
                    }
                }
            }
        }
        self.tables.update_foreign_keys_to(table, |constraint| {
            if let ConstraintKind::ForeignKey { ref_columns, .. } = &mut constraint.kind {
                ref_columns.iter_mut().for_each(rename);
            }
        });
        Ok(())
    }

    // ------------------------------------------------------------ indexes

    fn create_index(&mut self, index: Index) -> Result<(), SchemaError> {
        self.columns_checked(&index.table, &index.columns)?;
        self.relation_name_free("index", &index.name)?;
        self.indexes.insert(index.name.clone(), index);
        Ok(())
    }

    fn drop_index(
        &mut self,
        name: &str,
        table: Option<&str>,
        contract_in: Option<u32>,
    ) -> Result<(), SchemaError> {
        let key = self
            .indexes
            .named(name)
            .find(|(_, i)| table.is_none_or(|t| i.table == t))
            .map(|(key, _)| key.to_string());
        let Some(key) = key else {
            // MySQL: a UNIQUE constraint is an index, dropped as one.
            if let Some(t) = table {
                if matches!(
                    self.tables.get(t).and_then(|t| t.constraints.get(name)),
                    Some(Constraint {
                        kind: ConstraintKind::Unique { .. },
                        ..
                    })
                ) {
                    let mut t = self.tables.get_mut(t).expect("checked above");
                    t.constraints.remove(name);
                    return Ok(());
                }
            }
            let names: Vec<&str> = match table {
                Some(t) => self.indexes.on_table(t).map(|i| i.name.as_str()).collect(),
                None => self.indexes.values().map(|i| i.name.as_str()).collect(),
            };
            let mut err = unknown("index", name, names.clone());
            if let Some(t) = table {
                err.message = format!("unknown index {name} on table {t}");
                if names.is_empty() {
                    err.help = format!("table {t} has no indexes");
                }
            }
            return Err(err);
        };
        scheduled_twice("index", name, self.indexes[&key].drop_at)?;
        match contract_in {
            Some(version) => {
                self.indexes.get_mut(&key).expect("found above").drop_at = Some(version)
            }
            None => {
                if let Some(index) = self.indexes.remove(&key) {
                    self.dropped_this_version.relations.insert(index.name);
                }
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ constraints

    fn add_constraint(&mut self, table: &str, constraint: Constraint) -> Result<(), SchemaError> {
        let name = &constraint.name;
        let key = (table.to_string(), name.clone());
        if self.dropped_this_version.constraints.contains(&key) {
            return Err(SchemaError::new(
                format!(
                    "constraint {name} on {table} is dropped by this version, in its contract, \
                     which runs after the new constraint would be added: the add would meet \
                     the old constraint"
                ),
                "give the new constraint another name, or add it in the next version",
            ));
        }
        let mut t = self.table_mut_checked(table)?;
        if t.constraints.contains_key(&constraint.name) {
            return Err(SchemaError::new(
                format!(
                    "constraint {} already exists on table {table}",
                    constraint.name
                ),
                format!(
                    "pick another name; {table} has constraints: {}",
                    t.constraints.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        t.constraints.insert(constraint.name.clone(), constraint);
        Ok(())
    }

    fn foreign_key_kind(
        &self,
        table: &str,
        fk: &ForeignKeySpec,
    ) -> Result<ConstraintKind, SchemaError> {
        self.columns_checked(table, &fk.columns)?;
        let target = self.table_checked(&fk.ref_table)?;
        let ref_columns = referenced_columns(target, &fk.ref_columns, fk.columns.len(), table)?;
        Ok(ConstraintKind::ForeignKey {
            columns: fk.columns.clone(),
            ref_table: fk.ref_table.clone(),
            ref_columns,
        })
    }

    fn add_primary_key(
        &mut self,
        table: &str,
        name: Option<&str>,
        columns: &[String],
    ) -> Result<(), SchemaError> {
        self.columns_checked(table, columns)?;
        if self.dropped_this_version.primary_keys.contains(table) {
            return Err(primary_key_replaced(table, columns));
        }
        let t = &self.tables[table];
        if !t.primary_key.is_empty() {
            return Err(SchemaError::new(
                format!(
                    "table {table} already has a primary key ({})",
                    t.primary_key.join(", ")
                ),
                "drop the current primary key first, as its own change, or make these \
                    columns UNIQUE",
            ));
        }
        let name = name
            .map(str::to_string)
            .unwrap_or_else(|| format!("{table}_pkey"));
        let constraint = Constraint {
            name,
            kind: ConstraintKind::PrimaryKey {
                columns: columns.to_vec(),
            },
            validated: true,
        };
        self.add_constraint(table, constraint)?;
        let mut t = self.tables.get_mut(table).expect("checked above");
        t.primary_key = columns.to_vec();
        // The engines make primary key columns NOT NULL.
        for column in t.columns.iter_mut().filter(|c| columns.contains(&c.name)) {
            column.nullable = false;
        }
        Ok(())
    }

    /// Foreign keys that reference a table (or one of its columns), as
    /// `(table, constraint)`.
    fn foreign_keys_to(&self, table: &str, column: Option<&str>) -> Vec<(String, String)> {
        self.tables
            .foreign_keys_to(table)
            .filter_map(|(other, c)| match &c.kind {
                ConstraintKind::ForeignKey { ref_columns, .. }
                    if column.is_none_or(|col| ref_columns.iter().any(|r| r == col)) =>
                {
                    Some((other.to_string(), c.name.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// A foreign key that references exactly these columns of a table, as
    /// `(table, constraint)`.
    fn foreign_keys_on_key(&self, table: &str, key: &[String]) -> Option<(String, String)> {
        self.tables
            .foreign_keys_to(table)
            .find_map(|(other, c)| match &c.kind {
                ConstraintKind::ForeignKey { ref_columns, .. }
                    if ref_columns.len() == key.len()
                        && ref_columns.iter().all(|r| key.contains(r)) =>
                {
                    Some((other.to_string(), c.name.clone()))
                }
                _ => None,
            })
    }

    // ------------------------------------------------------------ views

    fn create_view(&mut self, name: &str, or_replace: bool, sql: &str) -> Result<(), SchemaError> {
        if !(or_replace && self.views.contains_key(name)) {
            self.relation_name_free("view", name)?;
        }
        self.views.insert(
            name.to_string(),
            View {
                name: name.to_string(),
                sql: sql.to_string(),
                drop_at: None,
            },
        );
        Ok(())
    }
}

fn column_from_spec(spec: &ColumnSpec) -> Column {
    Column {
        name: spec.name.clone(),
        data_type: spec.data_type.clone(),
        nullable: spec.nullable,
        default: spec.default.as_ref().map(|d| d.sql.clone()),
        drop_at: None,
    }
}

/// The columns a foreign key references: as written, or the target's
/// primary key when none are written; checked against the target.
fn referenced_columns(
    target: &Table,
    written: &[String],
    count: usize,
    table: &str,
) -> Result<Vec<String>, SchemaError> {
    let columns = if written.is_empty() {
        if target.primary_key.is_empty() {
            return Err(SchemaError::new(
                format!(
                    "the foreign key on {table} references {} without naming columns, \
                    and it has no primary key",
                    target.name
                ),
                format!(
                    "name the referenced columns: `REFERENCES {} (<columns>)`",
                    target.name
                ),
            ));
        }
        target.primary_key.clone()
    } else {
        written.to_vec()
    };
    if let Some(missing) = columns.iter().find(|c| target.column(c).is_none()) {
        return Err(unknown_column(target, missing));
    }
    if columns.len() != count {
        return Err(SchemaError::new(
            format!(
                "the foreign key on {table} has {count} column(s) but references {} \
                    column(s) of {}",
                columns.len(),
                target.name
            ),
            "reference as many columns as the key has",
        ));
    }
    Ok(columns)
}

/// Whether an expression mentions a column (as a whole word, quoted or not).
pub(super) fn mentions(expr: &str, column: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    expr.match_indices(column).any(|(at, _)| {
        let before = expr[..at].chars().next_back();
        let after = expr[at + column.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

fn kept_until(drop_at: Option<u32>) -> String {
    drop_at
        .map(|v| format!(" (dropped by an earlier change, kept until version {v}'s contract)"))
        .unwrap_or_default()
}

/// Dropping or renaming away what an earlier change already drops.
fn scheduled_twice(kind: &str, name: &str, drop_at: Option<u32>) -> Result<(), SchemaError> {
    match drop_at {
        Some(version) => Err(SchemaError::new(
            format!(
                "{kind} {name} is already dropped by an earlier change (kept until \
                version {version}'s contract)"
            ),
            "remove this change: the earlier one removes it",
        )),
        None => Ok(()),
    }
}

fn self_names<T>(map: &BTreeMap<String, T>) -> Vec<&str> {
    map.keys().map(String::as_str).collect()
}

fn unknown(kind: &str, name: &str, existing: Vec<&str>) -> SchemaError {
    let help = match did_you_mean(name, &existing) {
        Some(suggestion) => format!("did you mean {suggestion}?"),
        None if existing.is_empty() => format!("there is no {kind} yet"),
        None => format!("existing: {}", listing(&existing)),
    };
    SchemaError::new(format!("unknown {kind} {name}"), help)
}

/// Names for a help text: all of them when they are few.
fn listing(names: &[&str]) -> String {
    const SHOWN: usize = 30;
    if names.len() <= SHOWN {
        names.join(", ")
    } else {
        format!(
            "{}, … ({} more)",
            names[..SHOWN].join(", "),
            names.len() - SHOWN
        )
    }
}

fn unknown_column(table: &Table, column: &str) -> SchemaError {
    let names = table.column_names();
    let listing = format!("{} has columns: {}", table.name, listing(&names));
    let help = match did_you_mean(column, &names) {
        Some(suggestion) => format!("did you mean {suggestion}? {listing}"),
        None => listing,
    };
    SchemaError::new(format!("unknown column {}.{column}", table.name), help)
}

/// The closest existing name, when it is close enough to be a typo: an edit
/// distance of at most a third of the name (at least 1), or a difference of
/// case only.
fn did_you_mean<'a>(name: &str, existing: &[&'a str]) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    existing
        .iter()
        .map(|candidate| {
            (
                edit_distance(&name.to_lowercase(), &candidate.to_lowercase()),
                *candidate,
            )
        })
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Edit distance over characters, a swap of two neighbours counting as one
/// edit (optimal string alignment): `emial` is one edit from `email`.
fn edit_distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(a, b)
}

/// Why a version cannot both drop a table's primary key and add another,
/// and the two-version path that works: the old key's drop runs in
/// contract, after the new key's tasks in migrate, which would meet it.
fn primary_key_replaced(table: &str, columns: &[String]) -> SchemaError {
    let columns = columns.join(", ");
    SchemaError::new(
        format!(
            "this version drops the primary key of {table} and adds another: the drop runs in \
             contract, after the new key would be added in migrate, when {table} still has \
             its old key"
        ),
        format!(
            "replace the key over two versions. PostgreSQL: in this one, \
             `CREATE UNIQUE INDEX CONCURRENTLY {table}_new_pkey ON {table} ({columns})` \
             (with SET NOT NULL on its columns); in the next, \
             `{{raw: \"ALTER TABLE {table} DROP CONSTRAINT <old key>, ADD CONSTRAINT \
             {table}_pkey PRIMARY KEY USING INDEX {table}_new_pkey\", phase: contract}}`. \
             MySQL: `{{raw: \"ALTER TABLE {table} DROP PRIMARY KEY, ADD PRIMARY KEY ({columns}), \
             ALGORITHM=INPLACE, LOCK=NONE\", phase: contract}}`"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::DefaultExpr;

    fn s(v: &str) -> String {
        v.to_string()
    }

    fn spec(name: &str, data_type: &str, nullable: bool) -> ColumnSpec {
        ColumnSpec {
            name: s(name),
            data_type: s(data_type),
            nullable,
            default: None,
            extra: vec![],
        }
    }

    fn create_table(
        table: &str,
        columns: Vec<ColumnSpec>,
        primary_key: &[&str],
        constraints: Vec<Constraint>,
    ) -> Operation {
        Operation::CreateTable {
            table: s(table),
            columns,
            primary_key: primary_key.iter().map(|c| s(c)).collect(),
            constraints,
            references: vec![],
            sql: String::new(),
            if_not_exists: false,
        }
    }

    fn fk(name: &str, column: &str, ref_table: &str, ref_column: &str) -> Constraint {
        Constraint {
            name: s(name),
            kind: ConstraintKind::ForeignKey {
                columns: vec![s(column)],
                ref_table: s(ref_table),
                ref_columns: vec![s(ref_column)],
            },
            validated: true,
        }
    }

    fn index(name: &str, table: &str, column: &str) -> Operation {
        Operation::CreateIndex {
            name: s(name),
            table: s(table),
            keys: vec![format!("\"{column}\"")],
            columns: vec![s(column)],
            unique: false,
            concurrently: true,
            method: None,
            predicate: None,
        }
    }

    /// users(id PK, name NOT NULL, email, age DEFAULT 0) with an index on
    /// email and a check on age; orders(id PK, user_id → users.id).
    fn model() -> Schema {
        let mut schema = Schema::default();
        let mut age = spec("age", "int", true);
        age.default = Some(DefaultExpr {
            sql: s("0"),
            volatile: false,
        });
        let ops = [
            create_table(
                "users",
                vec![
                    spec("id", "int", false),
                    spec("name", "text", false),
                    spec("email", "text", true),
                    age,
                ],
                &["id"],
                vec![Constraint {
                    name: s("users_age_check"),
                    kind: ConstraintKind::Check {
                        expr: s("age >= 0"),
                    },
                    validated: true,
                }],
            ),
            create_table(
                "orders",
                vec![spec("id", "int", false), spec("user_id", "int", true)],
                &["id"],
                vec![fk("orders_user_id_fkey", "user_id", "users", "id")],
            ),
            index("users_email_idx", "users", "email"),
            Operation::CreateView {
                name: s("adults"),
                or_replace: false,
                sql: s("CREATE VIEW adults AS …"),
            },
        ];
        for op in &ops {
            schema.apply(op, None).expect("the model builds");
        }
        schema
    }

    #[test]
    fn changes_that_do_not_fit_the_model_are_errors_with_help() {
        #[rustfmt::skip]
        let cases: Vec<(Operation, &str, &str)> = vec![
            (Operation::DropColumn { table: s("user"), column: s("email") }, "unknown table user", "did you mean users?"),
            (Operation::DropTable { table: s("invoices") }, "unknown table invoices", "existing: orders, users"),
            (Operation::DropColumn { table: s("users"), column: s("emial") }, "unknown column users.emial",
                "did you mean email? users has columns: id, name, email, age"),
            (Operation::SetNotNull { table: s("users"), column: s("phone") }, "unknown column users.phone",
                "users has columns: id, name, email, age"),
            (Operation::AddColumn { table: s("users"), column: spec("email", "text", true) }, "column users.email already exists",
                "pick another name; users has columns: id, name, email, age"),
            (Operation::RenameColumn { table: s("users"), from: s("name"), to: s("email") },
                "cannot rename users.name to email: column users.email already exists", "pick another name"),
            (Operation::RenameTable { from: s("users"), to: s("orders") }, "table orders already exists", "pick another name for the table"),
            (Operation::RenameTable { from: s("users"), to: s("adults") }, "view adults already exists", "pick another name"),
            (create_table("users", vec![spec("id", "int", false)], &[], vec![]), "table users already exists", "drop the table first"),
            (create_table("t", vec![spec("a", "int", true), spec("a", "int", true)], &[], vec![]), "table t declares column a twice", "keep one"),
            (create_table("t", vec![spec("a", "int", true)], &["b"], vec![]), "unknown column t.b", "t has columns: a"),
            (create_table("t", vec![spec("a", "int", true)], &[], vec![fk("t_a_fkey", "a", "userz", "id")]), "unknown table userz",
                "did you mean users?"),
            (create_table("t", vec![spec("a", "int", true)], &[], vec![fk("t_a_fkey", "a", "users", "uid")]), "unknown column users.uid",
                "did you mean id?"),
            (Operation::AddPrimaryKey { table: s("users"), name: None, columns: vec![s("email")] },
                "table users already has a primary key (id)", "drop the current primary key first"),
            (Operation::SetNotNull { table: s("users"), column: s("name") }, "column users.name is already NOT NULL", "changes nothing"),
            (Operation::DropNotNull { table: s("users"), column: s("email") }, "column users.email is already nullable", "changes nothing"),
            (Operation::DropNotNull { table: s("users"), column: s("id") }, "column users.id is in the primary key, which keeps it NOT NULL", "drop or change the primary key"),
            (Operation::AlterColumnType { table: s("users"), column: s("age"), new_type: s("INTEGER"), using: None,
                written_as: s("ALTER COLUMN TYPE") }, "column users.age is already of type int", "changes nothing"),
            (Operation::SetDefault { table: s("users"), column: s("age"), default: DefaultExpr { sql: s("0"), volatile: false } },
                "column users.age already defaults to 0", "changes nothing"),
            (Operation::DropDefault { table: s("users"), column: s("email") }, "column users.email has no default", "changes nothing"),
            (index("users_email_idx", "users", "name"), "index users_email_idx already exists", "pick another name for the index"),
            (index("users_phone_idx", "users", "phone"), "unknown column users.phone", "users has columns"),
            (index("users", "orders", "id"), "table users already exists", "pick another name for the index"),
            (Operation::DropIndex { name: s("users_emial_idx"), table: None }, "unknown index users_emial_idx",
                "did you mean users_email_idx?"),
            (Operation::DropIndex { name: s("users_email_idx"), table: Some(s("orders")) }, "unknown index users_email_idx on table orders",
                "table orders has no indexes"),
            (Operation::AddCheck { table: s("users"), name: s("users_age_check"), expr: s("age < 200"), not_valid: false },
                "constraint users_age_check already exists on table users", "users has constraints: users_age_check"),
            (Operation::ValidateConstraint { table: s("users"), name: s("users_age_check") },
                "constraint users_age_check on users is already validated", "changes nothing"),
            (Operation::DropConstraint { table: s("orders"), name: s("orders_user_fkey") }, "unknown constraint orders_user_fkey on table orders",
                "did you mean orders_user_id_fkey?"),
            (Operation::AddForeignKey { table: s("orders"), name: s("fk"), not_valid: true,
                fk: ForeignKeySpec { columns: vec![s("user_id"), s("id")], ref_table: s("users"), ref_columns: vec![], actions: vec![] } },
                "the foreign key on orders has 2 column(s) but references 1 column(s) of users", "as many columns"),
            (Operation::DropTable { table: s("users") }, "table users is referenced by foreign key orders_user_id_fkey on orders",
                "drop foreign key orders_user_id_fkey on orders first"),
            (Operation::DropColumn { table: s("users"), column: s("id") }, "column users.id is referenced by foreign key orders_user_id_fkey on orders",
                "drop foreign key orders_user_id_fkey on orders first"),
            (Operation::CreateView { name: s("adults"), or_replace: false, sql: String::new() }, "view adults already exists",
                "pick another name for the view"),
            (Operation::DropView { name: s("adult") }, "unknown view adult", "did you mean adults?"),
            (Operation::DropConstraint { table: s("users"), name: s("users_pkey") },
                "constraint users_pkey on users is the key foreign key orders_user_id_fkey on orders references",
                "drop foreign key orders_user_id_fkey on orders first"),
        ];
        for (op, message, help) in cases {
            let err = model().apply(&op, None).expect_err(&format!("{op:?}"));
            assert_eq!(err.message, message, "{op:?}");
            assert!(err.help.contains(help), "{op:?}\n  help: {}", err.help);
        }
    }

    #[test]
    fn deferred_column_drop_keeps_the_column_until_its_contract() {
        let mut schema = model();
        let drop = Operation::DropColumn {
            table: s("users"),
            column: s("email"),
        };
        schema.apply(&drop, Some(3)).unwrap();
        assert_eq!(schema.column("users", "email").unwrap().drop_at, Some(3));
        assert_eq!(schema.indexes["users_email_idx"].drop_at, Some(3));

        // Still physically there: it cannot be added again, nor dropped twice.
        let again = schema.apply(&drop, None).unwrap_err();
        assert_eq!(again.message, "column users.email is already dropped by an earlier change (kept until version 3's contract)");
        let add = schema.apply(
            &Operation::AddColumn {
                table: s("users"),
                column: spec("email", "text", true),
            },
            None,
        );
        assert_eq!(
            add.unwrap_err().message,
            "column users.email already exists (dropped by an earlier change, kept until version 3's contract)"
        );

        schema.finish_contract(2);
        assert!(schema.column("users", "email").is_some());
        schema.finish_contract(3);
        assert!(schema.column("users", "email").is_none());
        assert!(schema.indexes.is_empty());
    }

    #[test]
    fn deferred_rename_keeps_both_names_until_the_contract() {
        let mut schema = model();
        schema
            .apply(
                &Operation::RenameColumn {
                    table: s("users"),
                    from: s("email"),
                    to: s("mail"),
                },
                Some(4),
            )
            .unwrap();
        let users = schema.table("users").unwrap();
        assert_eq!(
            users.column_names(),
            vec!["id", "name", "email", "age", "mail"]
        );
        assert_eq!(users.column("email").unwrap().drop_at, Some(4));
        assert_eq!(users.column("mail").unwrap().drop_at, None);
        assert_eq!(schema.indexes["users_email_idx"].columns, vec![s("mail")]);
        assert_eq!(schema.indexes["users_email_idx"].keys, vec![s("\"mail\"")]);
        schema.finish_contract(4);
        assert_eq!(
            schema.table("users").unwrap().column_names(),
            vec!["id", "name", "age", "mail"]
        );
        assert_eq!(schema.indexes["users_email_idx"].columns, vec![s("mail")]);

        schema
            .apply(
                &Operation::RenameTable {
                    from: s("orders"),
                    to: s("purchases"),
                },
                Some(5),
            )
            .unwrap();
        assert_eq!(schema.table("orders").unwrap().drop_at, Some(5));
        assert!(schema.table("purchases").is_some());
        schema.finish_contract(5);
        assert_eq!(
            schema.tables.keys().collect::<Vec<_>>(),
            vec!["purchases", "users"]
        );
    }

    #[test]
    fn renames_carry_keys_indexes_and_references() {
        let mut schema = model();
        schema
            .apply(
                &Operation::RenameColumn {
                    table: s("users"),
                    from: s("id"),
                    to: s("user_id"),
                },
                None,
            )
            .unwrap();
        assert_eq!(
            schema.table("users").unwrap().primary_key,
            vec![s("user_id")]
        );
        let ConstraintKind::ForeignKey { ref_columns, .. } =
            &schema.tables["orders"].constraints["orders_user_id_fkey"].kind
        else {
            panic!("not a foreign key")
        };
        assert_eq!(ref_columns, &vec![s("user_id")]);

        schema
            .apply(
                &Operation::RenameTable {
                    from: s("users"),
                    to: s("people"),
                },
                None,
            )
            .unwrap();
        assert!(schema.table("users").is_none());
        assert_eq!(schema.indexes["users_email_idx"].table, "people");
        let ConstraintKind::ForeignKey { ref_table, .. } =
            &schema.tables["orders"].constraints["orders_user_id_fkey"].kind
        else {
            panic!("not a foreign key")
        };
        assert_eq!(ref_table, "people");
    }

    #[test]
    fn drops_take_what_depends_on_them() {
        let mut schema = model();
        schema
            .apply(
                &Operation::DropColumn {
                    table: s("users"),
                    column: s("age"),
                },
                None,
            )
            .unwrap();
        let left: Vec<&String> = schema.tables["users"].constraints.keys().collect();
        assert_eq!(left, vec!["users_pkey"], "the check on age goes with it");
        schema
            .apply(
                &Operation::DropColumn {
                    table: s("users"),
                    column: s("email"),
                },
                None,
            )
            .unwrap();
        assert!(schema.indexes.is_empty(), "the index on email goes with it");

        schema
            .apply(&index("orders_user_idx", "orders", "user_id"), None)
            .unwrap();
        schema
            .apply(&Operation::DropTable { table: s("orders") }, Some(7))
            .unwrap();
        assert_eq!(schema.indexes["orders_user_idx"].drop_at, Some(7));
        schema.finish_contract(7);
        assert!(schema.table("orders").is_none());
        assert!(schema.indexes.is_empty());

        schema
            .apply(&Operation::DropView { name: s("adults") }, None)
            .unwrap();
        assert!(schema.views.is_empty());
    }

    #[test]
    fn constraints_and_columns_change_as_written() {
        let mut schema = model();
        #[rustfmt::skip]
        let ops = [
            Operation::AddForeignKey { table: s("orders"), name: s("orders_user_fk2"), not_valid: true,
                fk: ForeignKeySpec { columns: vec![s("user_id")], ref_table: s("users"), ref_columns: vec![], actions: vec![] } },
            Operation::AddUnique { table: s("users"), name: s("users_email_key"), columns: vec![s("email")] },
            Operation::DropConstraint { table: s("users"), name: s("users_age_check") },
            create_table("tags", vec![spec("label", "text", true)], &[], vec![]),
            Operation::AddPrimaryKey { table: s("tags"), name: None, columns: vec![s("label")] },
            Operation::AlterColumnType { table: s("users"), column: s("age"), new_type: s("bigint"), using: None,
                written_as: s("ALTER COLUMN TYPE") },
            Operation::SetDefault { table: s("users"), column: s("name"), default: DefaultExpr { sql: s("'x'"), volatile: false } },
            Operation::DropDefault { table: s("users"), column: s("age") },
            Operation::CreateView { name: s("adults"), or_replace: true, sql: s("CREATE OR REPLACE VIEW adults AS …") },
            Operation::Raw { id: s("grant"), sql: s("GRANT SELECT ON users TO app"), phase: crate::plan::Phase::Expand },
        ];
        for op in &ops {
            schema
                .apply(op, None)
                .unwrap_or_else(|e| panic!("{op:?}: {e}"));
        }
        let fk = &schema.tables["orders"].constraints["orders_user_fk2"];
        assert!(!fk.validated);
        assert_eq!(
            fk.kind,
            ConstraintKind::ForeignKey {
                columns: vec![s("user_id")],
                ref_table: s("users"),
                ref_columns: vec![s("id")]
            }
        );
        schema
            .apply(
                &Operation::ValidateConstraint {
                    table: s("orders"),
                    name: s("orders_user_fk2"),
                },
                None,
            )
            .unwrap();
        assert!(schema.tables["orders"].constraints["orders_user_fk2"].validated);

        let tags = &schema.tables["tags"];
        assert_eq!(tags.primary_key, vec![s("label")]);
        assert_eq!(
            tags.constraints["tags_pkey"].kind,
            ConstraintKind::PrimaryKey {
                columns: vec![s("label")]
            }
        );
        assert!(
            !tags.column("label").unwrap().nullable,
            "a primary key column is NOT NULL"
        );
        let users = &schema.tables["users"];
        assert_eq!(
            users.constraints.keys().collect::<Vec<_>>(),
            vec!["users_email_key", "users_pkey"]
        );
        assert_eq!(users.column("age").unwrap().data_type, "bigint");
        assert_eq!(users.column("age").unwrap().default, None);
        assert_eq!(
            users.column("name").unwrap().default.as_deref(),
            Some("'x'")
        );
        assert_eq!(
            schema.views["adults"].sql,
            "CREATE OR REPLACE VIEW adults AS …"
        );

        let mut same = model();
        same.apply(&ops[9], None).unwrap();
        assert_eq!(same, model(), "raw SQL does not change the model");
    }

    #[test]
    fn create_table_if_not_exists_over_an_existing_table_changes_nothing() {
        let mut schema = model();
        let Operation::CreateTable {
            table,
            columns,
            primary_key,
            constraints,
            references,
            sql,
            ..
        } = create_table("users", vec![spec("x", "int", true)], &[], vec![])
        else {
            unreachable!()
        };
        let op = Operation::CreateTable {
            table,
            columns,
            primary_key,
            constraints,
            references,
            sql,
            if_not_exists: true,
        };
        schema.apply(&op, None).unwrap();
        assert_eq!(schema, model());
    }
}
