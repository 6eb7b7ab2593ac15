//! Facts about mysql that the rules in `crate::ops` share: lock names,
//! online-DDL clauses, volatile functions, sync-trigger SQL.
