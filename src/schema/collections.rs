//! The model's tables and indexes, each kept with the lookups that let a
//! change touch one table without scanning the whole schema: the foreign
//! keys that reference a table, the indexes of a table, the indexes of a
//! name. Planning applies every change to the model and asks it about the
//! change's table, so a scan per change would make planning quadratic.
//!
//! The lookups cannot go stale: the maps are read through `Deref` and
//! changed only through these types' own methods, which update both. A
//! mutable borrow of one entry is a guard (`TableMut`, `IndexMut`, like the
//! standard library's `PeekMut`) that brings the lookups up to date when it
//! is dropped. They are derived data: serde reads and writes the maps alone
//! (the state file's format is unchanged) and equality compares the maps.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::schema::{Column, Constraint, ConstraintKind, Index, Table};

/// `(table, constraint)` keys of foreign keys, by the table they reference.
type ReferencedBy = BTreeMap<String, BTreeSet<(String, String)>>;

/// Tables by name.
#[derive(Clone, Default)]
pub struct Tables {
    map: BTreeMap<String, Table>,
    referenced_by: ReferencedBy,
}

impl Tables {
    /// Add (or replace) a table.
    pub fn insert(&mut self, name: String, table: Table) -> Option<Table> {
        let references = references_of(&table);
        let old = self.map.insert(name.clone(), table);
        if let Some(old) = &old {
            unlink(&mut self.referenced_by, &name, &references_of(old));
        }
        link(&mut self.referenced_by, &name, &references);
        old
    }

    pub fn remove(&mut self, name: &str) -> Option<Table> {
        let old = self.map.remove(name)?;
        unlink(&mut self.referenced_by, name, &references_of(&old));
        Some(old)
    }

    /// A table to change; the lookups follow its constraints when the guard
    /// is dropped.
    pub fn get_mut(&mut self, name: &str) -> Option<TableMut<'_>> {
        let table = self.map.get_mut(name)?;
        let before = references_of(table);
        Some(TableMut {
            name: name.to_string(),
            table,
            referenced_by: &mut self.referenced_by,
            before,
        })
    }

    /// A column to change: columns feed no lookup, so no guard is needed.
    pub fn column_mut(&mut self, table: &str, column: &str) -> Option<&mut Column> {
        self.map.get_mut(table)?.column_mut(column)
    }

    /// The foreign keys that reference `table` (its own included), as
    /// `(referencing table, constraint)`, in table then constraint order.
    pub fn foreign_keys_to<'a>(
        &'a self,
        table: &str,
    ) -> impl Iterator<Item = (&'a str, &'a Constraint)> + 'a {
        self.referenced_by
            .get(table)
            .into_iter()
            .flatten()
            .map(|(referencing, constraint)| {
                let c = self
                    .map
                    .get(referencing)
                    .and_then(|t| t.constraints.get(constraint))
                    .expect("the lookup follows the tables");
                (referencing.as_str(), c)
            })
    }

    /// Change each foreign key that references `table` (its own included).
    pub fn update_foreign_keys_to(&mut self, table: &str, mut update: impl FnMut(&mut Constraint)) {
        let keys: Vec<(String, String)> = self
            .referenced_by
            .get(table)
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        for (referencing, constraint) in keys {
            let mut t = self
                .get_mut(&referencing)
                .expect("the lookup follows the tables");
            let c = t
                .constraints
                .get_mut(&constraint)
                .expect("the lookup follows the tables");
            update(c);
        }
    }
}

/// `(referenced table, constraint)` of each foreign key of a table.
fn references_of(table: &Table) -> Vec<(String, String)> {
    table
        .constraints
        .iter()
        .filter_map(|(name, c)| match &c.kind {
            ConstraintKind::ForeignKey { ref_table, .. } => Some((ref_table.clone(), name.clone())),
            _ => None,
        })
        .collect()
}

fn link(referenced_by: &mut ReferencedBy, table: &str, references: &[(String, String)]) {
    for (target, constraint) in references {
        referenced_by
            .entry(target.clone())
            .or_default()
            .insert((table.to_string(), constraint.clone()));
    }
}

fn unlink(referenced_by: &mut ReferencedBy, table: &str, references: &[(String, String)]) {
    for (target, constraint) in references {
        if let Some(keys) = referenced_by.get_mut(target) {
            keys.remove(&(table.to_string(), constraint.clone()));
            if keys.is_empty() {
                referenced_by.remove(target);
            }
        }
    }
}

/// A table borrowed for change from `Tables`.
pub struct TableMut<'a> {
    name: String,
    table: &'a mut Table,
    referenced_by: &'a mut ReferencedBy,
    /// Its foreign keys when borrowed, as linked in the lookup.
    before: Vec<(String, String)>,
}

impl Deref for TableMut<'_> {
    type Target = Table;
    fn deref(&self) -> &Table {
        self.table
    }
}

impl DerefMut for TableMut<'_> {
    fn deref_mut(&mut self) -> &mut Table {
        self.table
    }
}

impl Drop for TableMut<'_> {
    fn drop(&mut self) {
        let after = references_of(self.table);
        if after != self.before {
            unlink(self.referenced_by, &self.name, &self.before);
            link(self.referenced_by, &self.name, &after);
        }
    }
}

/// Keys of indexes, grouped by a property of the index.
type Grouped = BTreeMap<String, BTreeSet<String>>;

/// Indexes by key: the index's name, or `<table>.<name>` for a MySQL name
/// several tables use (see `load`).
#[derive(Clone, Default)]
pub struct Indexes {
    map: BTreeMap<String, Index>,
    by_table: Grouped,
    by_name: Grouped,
}

impl Indexes {
    /// Add (or replace) an index.
    pub fn insert(&mut self, key: String, index: Index) -> Option<Index> {
        let (table, name) = (index.table.clone(), index.name.clone());
        let old = self.map.insert(key.clone(), index);
        if let Some(old) = &old {
            self.ungroup(&key, old);
        }
        group(&mut self.by_table, &table, &key);
        group(&mut self.by_name, &name, &key);
        old
    }

    pub fn remove(&mut self, key: &str) -> Option<Index> {
        let old = self.map.remove(key)?;
        self.ungroup(key, &old);
        Some(old)
    }

    /// Keep only the indexes `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &Index) -> bool) {
        let gone: Vec<String> = self
            .map
            .iter()
            .filter(|(key, index)| !keep(key, index))
            .map(|(key, _)| key.clone())
            .collect();
        for key in gone {
            self.remove(&key);
        }
    }

    /// An index to change; the lookups follow its table and name when the
    /// guard is dropped.
    pub fn get_mut(&mut self, key: &str) -> Option<IndexMut<'_>> {
        let index = self.map.get_mut(key)?;
        let before = (index.table.clone(), index.name.clone());
        Some(IndexMut {
            key: key.to_string(),
            index,
            by_table: &mut self.by_table,
            by_name: &mut self.by_name,
            before,
        })
    }

    /// The indexes of a table, in key order.
    pub fn on_table<'a>(&'a self, table: &str) -> impl Iterator<Item = &'a Index> + 'a {
        self.grouped(&self.by_table, table).map(|(_, index)| index)
    }

    /// The keys of a table's indexes, to change them one by one.
    pub fn keys_on_table(&self, table: &str) -> Vec<String> {
        self.grouped(&self.by_table, table)
            .map(|(key, _)| key.to_string())
            .collect()
    }

    /// The indexes with this name (one per table at most), as `(key,
    /// index)` in key order.
    pub fn named<'a>(&'a self, name: &str) -> impl Iterator<Item = (&'a str, &'a Index)> + 'a {
        self.grouped(&self.by_name, name)
    }

    fn grouped<'a>(
        &'a self,
        groups: &'a Grouped,
        value: &str,
    ) -> impl Iterator<Item = (&'a str, &'a Index)> + 'a {
        groups.get(value).into_iter().flatten().map(|key| {
            let index = self.map.get(key).expect("the lookup follows the indexes");
            (key.as_str(), index)
        })
    }

    fn ungroup(&mut self, key: &str, index: &Index) {
        ungroup(&mut self.by_table, &index.table, key);
        ungroup(&mut self.by_name, &index.name, key);
    }
}

fn group(groups: &mut Grouped, value: &str, key: &str) {
    groups
        .entry(value.to_string())
        .or_default()
        .insert(key.to_string());
}

fn ungroup(groups: &mut Grouped, value: &str, key: &str) {
    if let Some(keys) = groups.get_mut(value) {
        keys.remove(key);
        if keys.is_empty() {
            groups.remove(value);
        }
    }
}

/// An index borrowed for change from `Indexes`.
pub struct IndexMut<'a> {
    key: String,
    index: &'a mut Index,
    by_table: &'a mut Grouped,
    by_name: &'a mut Grouped,
    /// Its table and name when borrowed, as grouped in the lookups.
    before: (String, String),
}

impl Deref for IndexMut<'_> {
    type Target = Index;
    fn deref(&self) -> &Index {
        self.index
    }
}

impl DerefMut for IndexMut<'_> {
    fn deref_mut(&mut self) -> &mut Index {
        self.index
    }
}

impl Drop for IndexMut<'_> {
    fn drop(&mut self) {
        let (table, name) = &self.before;
        if *table != self.index.table {
            ungroup(self.by_table, table, &self.key);
            group(self.by_table, &self.index.table, &self.key);
        }
        if *name != self.index.name {
            ungroup(self.by_name, name, &self.key);
            group(self.by_name, &self.index.name, &self.key);
        }
    }
}

/// What both collections share: read access to the map, construction from
/// one, and serde, equality and debug output as the map alone.
macro_rules! map_like {
    ($collection:ident, $value:ty) => {
        impl Deref for $collection {
            type Target = BTreeMap<String, $value>;
            fn deref(&self) -> &Self::Target {
                &self.map
            }
        }

        impl FromIterator<(String, $value)> for $collection {
            fn from_iter<I: IntoIterator<Item = (String, $value)>>(iter: I) -> Self {
                let mut collection = $collection::default();
                for (key, value) in iter {
                    collection.insert(key, value);
                }
                collection
            }
        }

        impl From<BTreeMap<String, $value>> for $collection {
            fn from(map: BTreeMap<String, $value>) -> Self {
                map.into_iter().collect()
            }
        }

        impl PartialEq for $collection {
            fn eq(&self, other: &Self) -> bool {
                self.map == other.map
            }
        }

        impl Eq for $collection {}

        impl fmt::Debug for $collection {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.map.fmt(f)
            }
        }

        impl Serialize for $collection {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.map.serialize(serializer)
            }
        }

        impl<'de> Deserialize<'de> for $collection {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                BTreeMap::<String, $value>::deserialize(deserializer).map(Self::from)
            }
        }
    };
}

map_like!(Tables, Table);
map_like!(Indexes, Index);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::{ColumnSpec, ForeignKeySpec, Operation};
    use crate::schema::Schema;

    fn s(v: &str) -> String {
        v.to_string()
    }

    fn fk(name: &str, ref_table: &str) -> Constraint {
        Constraint {
            name: s(name),
            kind: ConstraintKind::ForeignKey {
                columns: vec![s("ref")],
                ref_table: s(ref_table),
                ref_columns: vec![s("id")],
            },
            validated: true,
        }
    }

    fn table(name: &str, fks: &[(&str, &str)]) -> Table {
        let mut t = Table::new(name);
        for (constraint, target) in fks {
            t.constraints.insert(s(constraint), fk(constraint, target));
        }
        t
    }

    fn index(name: &str, table: &str) -> Index {
        Index {
            name: s(name),
            table: s(table),
            keys: vec![s("id")],
            columns: vec![s("id")],
            unique: false,
            predicate: None,
            drop_at: None,
        }
    }

    fn referencing(tables: &Tables, target: &str) -> Vec<String> {
        tables
            .foreign_keys_to(target)
            .map(|(t, c)| format!("{t}.{}", c.name))
            .collect()
    }

    fn on_table(indexes: &Indexes, table: &str) -> Vec<String> {
        indexes.on_table(table).map(|i| i.name.clone()).collect()
    }

    fn named(indexes: &Indexes, name: &str) -> Vec<String> {
        indexes.named(name).map(|(key, _)| s(key)).collect()
    }

    /// The lookups are what building them afresh from the maps gives.
    fn assert_lookups_follow(schema: &Schema) {
        let tables = Tables::from(schema.tables.map.clone());
        assert_eq!(schema.tables.referenced_by, tables.referenced_by);
        let indexes = Indexes::from(schema.indexes.map.clone());
        assert_eq!(schema.indexes.by_table, indexes.by_table);
        assert_eq!(schema.indexes.by_name, indexes.by_name);
    }

    #[test]
    fn foreign_keys_to_follow_every_change_of_the_tables() {
        let mut tables: Tables = [
            (s("users"), table("users", &[("users_boss_fkey", "users")])),
            (
                s("orders"),
                table("orders", &[("orders_user_fkey", "users")]),
            ),
            (
                s("audit"),
                table("audit", &[("audit_order_fkey", "orders")]),
            ),
        ]
        .into_iter()
        .collect();
        type Change = fn(&mut Tables);
        #[rustfmt::skip]
        let steps: Vec<(&str, Change, Vec<&str>, Vec<&str>)> = vec![
            ("as built", |_| {},
                vec!["orders.orders_user_fkey", "users.users_boss_fkey"], vec!["audit.audit_order_fkey"]),
            ("a guard retargets a foreign key", |t| {
                let mut audit = t.get_mut("audit").unwrap();
                audit.constraints.insert(s("audit_order_fkey"), fk("audit_order_fkey", "users"));
            }, vec!["audit.audit_order_fkey", "orders.orders_user_fkey", "users.users_boss_fkey"], vec![]),
            ("a guard drops one and adds another", |t| {
                let mut orders = t.get_mut("orders").unwrap();
                orders.constraints.remove("orders_user_fkey");
                orders.constraints.insert(s("orders_self_fkey"), fk("orders_self_fkey", "orders"));
            }, vec!["audit.audit_order_fkey", "users.users_boss_fkey"], vec!["orders.orders_self_fkey"]),
            ("replacing a table replaces its foreign keys", |t| {
                t.insert(s("audit"), table("audit", &[("audit_order_fkey", "orders")]));
            }, vec!["users.users_boss_fkey"], vec!["audit.audit_order_fkey", "orders.orders_self_fkey"]),
            ("an update through the lookup moves the key", |t| {
                t.update_foreign_keys_to("orders", |c| {
                    if let ConstraintKind::ForeignKey { ref_table, .. } = &mut c.kind {
                        *ref_table = s("users");
                    }
                });
            }, vec!["audit.audit_order_fkey", "orders.orders_self_fkey", "users.users_boss_fkey"], vec![]),
            ("removing a table removes its foreign keys", |t| {
                t.remove("users");
            }, vec!["audit.audit_order_fkey", "orders.orders_self_fkey"], vec![]),
        ];
        for (step, change, to_users, to_orders) in steps {
            change(&mut tables);
            assert_eq!(referencing(&tables, "users"), to_users, "{step}");
            assert_eq!(referencing(&tables, "orders"), to_orders, "{step}");
            assert_eq!(
                tables.referenced_by,
                Tables::from(tables.map.clone()).referenced_by,
                "{step}"
            );
        }
    }

    #[test]
    fn index_groups_follow_every_change_of_the_indexes() {
        let mut indexes: Indexes = [
            (s("a_idx"), index("a_idx", "users")),
            (s("b_idx"), index("b_idx", "users")),
            (s("user_id"), index("user_id", "orders")),
            (s("audit.user_id"), index("user_id", "audit")),
        ]
        .into_iter()
        .collect();
        type Change = fn(&mut Indexes);
        /// A change, then the indexes on users, on orders, and the keys
        /// of the indexes named `user_id`.
        type Step = (
            &'static str,
            Change,
            Vec<&'static str>,
            Vec<&'static str>,
            Vec<&'static str>,
        );
        #[rustfmt::skip]
        let steps: Vec<Step> = vec![
            ("as built", |_| {}, vec!["a_idx", "b_idx"], vec!["user_id"], vec!["audit.user_id", "user_id"]),
            ("a guard moves an index to another table", |i| {
                i.get_mut("b_idx").unwrap().table = s("orders");
            }, vec!["a_idx"], vec!["b_idx", "user_id"], vec!["audit.user_id", "user_id"]),
            ("a guard renames an index", |i| {
                i.get_mut("a_idx").unwrap().name = s("user_id");
            }, vec!["user_id"], vec!["b_idx", "user_id"], vec!["a_idx", "audit.user_id", "user_id"]),
            ("replacing an index regroups it", |i| {
                i.insert(s("user_id"), index("user_id", "users"));
            }, vec!["user_id", "user_id"], vec!["b_idx"], vec!["a_idx", "audit.user_id", "user_id"]),
            ("retain drops from the groups", |i| i.retain(|key, _| key != "a_idx"),
                vec!["user_id"], vec!["b_idx"], vec!["audit.user_id", "user_id"]),
            ("remove drops from the groups", |i| {
                i.remove("user_id");
            }, vec![], vec!["b_idx"], vec!["audit.user_id"]),
        ];
        for (step, change, on_users, on_orders, keys_named_user_id) in steps {
            change(&mut indexes);
            assert_eq!(on_table(&indexes, "users"), on_users, "{step}");
            assert_eq!(on_table(&indexes, "orders"), on_orders, "{step}");
            assert_eq!(named(&indexes, "user_id"), keys_named_user_id, "{step}");
            let rebuilt = Indexes::from(indexes.map.clone());
            assert_eq!(indexes.by_table, rebuilt.by_table, "{step}");
            assert_eq!(indexes.by_name, rebuilt.by_name, "{step}");
        }
    }

    fn column(name: &str) -> ColumnSpec {
        ColumnSpec {
            name: s(name),
            data_type: s("int"),
            nullable: false,
            default: None,
            extra: vec![],
        }
    }

    fn create(table: &str, columns: &[&str], fks: Vec<Constraint>) -> Operation {
        Operation::CreateTable {
            table: s(table),
            columns: columns.iter().map(|c| column(c)).collect(),
            primary_key: vec![s("id")],
            constraints: fks,
            references: vec![],
            sql: String::new(),
            if_not_exists: false,
        }
    }

    fn create_index(name: &str, table: &str, column: &str) -> Operation {
        Operation::CreateIndex {
            name: s(name),
            table: s(table),
            keys: vec![format!("\"{column}\"")],
            columns: vec![s(column)],
            unique: false,
            concurrently: false,
            method: None,
            predicate: None,
        }
    }

    #[test]
    fn applying_changes_keeps_the_lookups_in_step_with_the_model() {
        let mut schema = Schema::default();
        #[rustfmt::skip]
        let steps: Vec<(Operation, Option<u32>)> = vec![
            (create("users", &["id", "ref"], vec![fk("users_ref_fkey", "users")]), None),
            (create("orders", &["id", "ref", "note"], vec![fk("orders_ref_fkey", "users")]), None),
            (create_index("orders_ref_idx", "orders", "ref"), None),
            (create_index("orders_note_idx", "orders", "note"), None),
            (Operation::RenameTable { from: s("users"), to: s("people") }, Some(2)),
            (Operation::RenameColumn { table: s("people"), from: s("id"), to: s("key") }, None),
            (Operation::RenameColumn { table: s("orders"), from: s("ref"), to: s("person") }, Some(2)),
            (Operation::RenameTable { from: s("orders"), to: s("purchases") }, None),
            (Operation::DropColumn { table: s("purchases"), column: s("note") }, Some(2)),
            (Operation::DropIndex { name: s("orders_ref_idx"), table: None }, None),
            (Operation::DropConstraint { table: s("purchases"), name: s("orders_ref_fkey") }, None),
            (Operation::AddForeignKey {
                table: s("purchases"),
                name: s("purchases_person_fkey"),
                fk: ForeignKeySpec { columns: vec![s("person")], ref_table: s("people"), ref_columns: vec![], actions: vec![] },
                not_valid: true,
            }, None),
            (Operation::ValidateConstraint { table: s("purchases"), name: s("purchases_person_fkey") }, None),
        ];
        for (op, contract_in) in &steps {
            schema.apply(op, *contract_in).expect("the change fits");
            assert_lookups_follow(&schema);
        }
        assert_eq!(
            referencing(&schema.tables, "people"),
            [
                "people.users_ref_fkey",
                "purchases.purchases_person_fkey",
                "users.users_ref_fkey"
            ]
        );
        assert_eq!(on_table(&schema.indexes, "purchases"), ["orders_note_idx"]);
        schema.finish_contract(2);
        assert_lookups_follow(&schema);
        assert_eq!(
            referencing(&schema.tables, "people"),
            ["people.users_ref_fkey", "purchases.purchases_person_fkey"]
        );
        assert!(on_table(&schema.indexes, "purchases").is_empty());
    }

    #[test]
    fn serde_writes_the_maps_alone_and_reading_rebuilds_the_lookups() {
        let mut schema = Schema::default();
        schema
            .tables
            .insert(s("users"), table("users", &[("users_boss_fkey", "users")]));
        schema
            .indexes
            .insert(s("users_idx"), index("users_idx", "users"));
        let json = serde_json::to_value(&schema).unwrap();
        assert_eq!(
            json["tables"],
            serde_json::to_value(&schema.tables.map).unwrap()
        );
        assert_eq!(
            json["indexes"],
            serde_json::to_value(&schema.indexes.map).unwrap()
        );
        let read: Schema = serde_json::from_value(json).unwrap();
        assert_eq!(read, schema);
        assert_eq!(
            referencing(&read.tables, "users"),
            ["users.users_boss_fkey"]
        );
        assert_eq!(on_table(&read.indexes, "users"), ["users_idx"]);
    }
}
