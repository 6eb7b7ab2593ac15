//! PostgreSQL helpers of the `apply` tests: the catalog as text, row
//! checksums, the plan's task list, runs of the binary that may be killed.
#![allow(dead_code)] // each test file uses a part of it

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use super::{text, PgDb, Scratch};

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

/// A task of a plan set, as `zerodown plan --format json` lists it.
#[derive(Clone, Debug)]
pub struct PlanTask {
    pub id: String,
    /// `milestone`, `action` or `rollout`.
    pub kind: String,
    pub stage: String,
    /// The step's type for actions: `sql`, `backfill` or `check`.
    pub step: Option<String>,
}

/// Every task of the plan set in `dir`, in execution order.
pub fn plan_tasks(dir: &str) -> Vec<PlanTask> {
    let out = super::zerodown(&["plan", dir, "--format", "json"], &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "plan {dir}: {}",
        text(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    let sets = json["plan_sets"].as_array().expect("plan_sets");
    assert_eq!(sets.len(), 1, "{dir}: one plan set");
    sets[0]["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| PlanTask {
            id: t["id"].as_str().unwrap().to_string(),
            kind: t["kind"].as_str().unwrap().to_string(),
            stage: t["stage"].as_str().unwrap().to_string(),
            step: t["step"]["type"].as_str().map(str::to_string),
        })
        .collect()
}

/// The state file as JSON.
pub fn state_json(path: &Path) -> serde_json::Value {
    let raw = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&raw).expect("state file JSON")
}

/// What a run of the binary gave: exit code (None when killed by a
/// signal), the signal, stdout, stderr.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from_output(out: Output) -> Run {
        use std::os::unix::process::ExitStatusExt;
        Run {
            code: out.status.code(),
            signal: out.status.signal(),
            stdout: text(&out.stdout),
            stderr: text(&out.stderr),
        }
    }

    /// Panics with the output unless the exit code is `code`.
    pub fn expect(&self, code: i32, what: &str) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "{what}: exit code {:?} (signal {:?}), expected {code}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.signal,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// The environment of a run: demo fleet folder in the scratch dir.
pub fn fleet_env(scratch: &Scratch) -> String {
    scratch.path("fleet").display().to_string()
}

/// Run `zerodown` with `args`; the demo fleet keeps its nodes in the
/// scratch dir.
pub fn run(args: &[&str], scratch: &Scratch, extra_env: &[(&str, &str)]) -> Run {
    let fleet = fleet_env(scratch);
    let mut env: Vec<(&str, &str)> = vec![("ZERODOWN_DEMO_FLEET", fleet.as_str())];
    env.extend_from_slice(extra_env);
    Run::from_output(super::zerodown(args, &env))
}

/// Start `zerodown` with `args` in the background (stdout and stderr piped).
pub fn spawn(args: &[&str], scratch: &Scratch, extra_env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zerodown"));
    cmd.args(args)
        .env_remove("DATABASE_URL")
        .env_remove("ZERODOWN_FAILPOINT")
        .env("ZERODOWN_DEMO_FLEET", fleet_env(scratch))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("start zerodown")
}

/// `apply DIR --database URL --state STATE` plus `extra` arguments.
pub fn apply(
    dir: &str,
    db: &PgDb,
    state: &Path,
    extra: &[&str],
    scratch: &Scratch,
    env: &[(&str, &str)],
) -> Run {
    let state = state.display().to_string();
    let mut args = vec!["apply", dir, "--database", &db.url, "--state", &state];
    args.extend_from_slice(extra);
    run(&args, scratch, env)
}

/// `resume --database URL --state STATE` plus `extra` arguments.
pub fn resume(db: &PgDb, state: &Path, extra: &[&str], scratch: &Scratch) -> Run {
    let state = state.display().to_string();
    let mut args = vec!["resume", "--database", &db.url, "--state", &state];
    args.extend_from_slice(extra);
    run(&args, scratch, &[])
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
