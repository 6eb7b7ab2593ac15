//! PostgreSQL helpers of the `apply` tests: the catalog as text, row
//! checksums, the history table (the runs of the binary: `super::run`).
#![allow(dead_code)] // each test file uses a part of it

use std::collections::BTreeMap;

use super::{PgDb, TestDb};

#[allow(unused_imports)] // the pg tests import the runner through this module
pub use super::run::*;

/// The public schema as the catalog shows it, one line per object, sorted
/// within each kind: tables and their columns (type, NOT NULL, default, in
/// column order), constraints (definition, validated or not), indexes
/// (definition, valid or not), user triggers, functions, views (definition),
/// table comments, and the schemas of the database besides the system ones.
/// Two databases with the same text have the same schema.
pub fn describe(db: &PgDb) -> String {
    let queries: [(&str, &str); 8] = [
        (
            "schema",
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' \
             AND nspname NOT IN ('information_schema', 'public') ORDER BY 1",
        ),
        (
            "column",
            "SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) \
             || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END \
             || COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '') \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY c.relname, a.attnum",
        ),
        (
            "constraint",
            "SELECT c.relname || '.' || k.conname || ' ' || pg_get_constraintdef(k.oid) \
             || CASE WHEN k.convalidated THEN '' ELSE ' (NOT VALIDATED)' END \
             FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1",
        ),
        (
            "index",
            "SELECT pg_get_indexdef(x.indexrelid) || CASE WHEN x.indisvalid THEN '' ELSE ' (INVALID)' END \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             JOIN pg_namespace n ON n.oid = i.relnamespace WHERE n.nspname = 'public' ORDER BY i.relname",
        ),
        (
            "trigger",
            "SELECT c.relname || '.' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND NOT t.tgisinternal ORDER BY 1",
        ),
        (
            "function",
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname = 'public' ORDER BY 1",
        ),
        (
            "view",
            "SELECT c.relname || ': ' || btrim(regexp_replace(pg_get_viewdef(c.oid, true), '\\s+', ' ', 'g')) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind = 'v' ORDER BY 1",
        ),
        (
            "comment",
            "SELECT c.relname || ': ' || d.description FROM pg_description d \
             JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0 \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1",
        ),
    ];
    let mut out = String::new();
    for (kind, sql) in queries {
        for row in db.rows(sql) {
            let line = row.into_iter().next().flatten().unwrap_or_default();
            out.push_str(&format!("{kind} {line}\n"));
        }
    }
    out
}

/// The objects in the public schema whose names zerodown generates
/// (`zd_…`): twin columns, sync triggers and their functions, NOT NULL
/// checks, index copies. Empty once a run is complete.
pub fn zd_leftovers(db: &PgDb) -> Vec<String> {
    let sql = "SELECT 'column ' || c.relname || '.' || a.attname FROM pg_attribute a \
               JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
               WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped AND a.attname LIKE 'zd\\_%' \
               UNION ALL SELECT 'constraint ' || conname FROM pg_constraint k \
               JOIN pg_namespace n ON n.oid = k.connamespace WHERE n.nspname = 'public' AND conname LIKE 'zd\\_%' \
               UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'zd\\_%' \
               UNION ALL SELECT 'function ' || proname FROM pg_proc p \
               JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND proname LIKE 'zd\\_%' \
               UNION ALL SELECT 'relation ' || relname FROM pg_class c \
               JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND relname LIKE 'zd\\_%'";
    db.rows(sql)
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect()
}

/// Per table of the public schema: the row count and an MD5 of every row
/// as text, sorted. Equal checksums: no row lost, duplicated or changed.
pub fn checksums(db: &PgDb) -> BTreeMap<String, String> {
    let tables = db.rows(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1",
    );
    tables
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .map(|t| {
            let sql = format!(
                "SELECT count(*) || ' rows, md5 ' || COALESCE(md5(string_agg(x::text, ',' ORDER BY x::text)), '-') \
                 FROM \"{t}\" x"
            );
            let sum = db.scalar(&sql).unwrap_or_default();
            (t, sum)
        })
        .collect()
}

/// zerodown's history table: (task id, status), one row per task.
pub fn history(db: &PgDb) -> Vec<(String, String)> {
    if db
        .scalar("SELECT to_regclass('zerodown.history') IS NOT NULL")
        .as_deref()
        != Some("t")
    {
        return Vec::new();
    }
    db.rows("SELECT task_id, status FROM zerodown.history ORDER BY task_id")
        .into_iter()
        .map(|r| {
            (
                r[0].clone().unwrap_or_default(),
                r[1].clone().unwrap_or_default(),
            )
        })
        .collect()
}

impl TestDb for PgDb {
    fn url(&self) -> &str {
        &self.url
    }
    fn describe(&self) -> String {
        describe(self)
    }
    fn checksums(&self) -> BTreeMap<String, String> {
        checksums(self)
    }
    fn history(&self) -> Vec<(String, String)> {
        history(self)
    }
}

/// The URL with a password, and the password: the admin URL's own when it
/// has one, else `s3cr3t` (the test server trusts local connections, so a
/// password it does not ask for is ignored).
pub fn url_with_password(url: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let (userinfo, host) = authority.rsplit_once('@').expect("a user in the test URL");
    match userinfo.split_once(':') {
        Some((_, password)) if !password.is_empty() => (url.to_string(), password.to_string()),
        _ => {
            let user = userinfo.split(':').next().unwrap_or(userinfo);
            (
                format!("{scheme}://{user}:s3cr3t@{host}{tail}"),
                "s3cr3t".to_string(),
            )
        }
    }
}
