//! Every release writes where its range claims, on each engine, through a
//! whole run: for each kind of change, after each stage (`--until expand`,
//! `migrate`, `contract`), every release whose range holds that point
//! inserts and updates as it was built to, without an error. Dropping a
//! NOT NULL column is the case the write check was made for: the old
//! release inserts with it until contract, the new one without it from
//! expand on (NULL allowed, or the change's `fill:`, which the old release
//! then reads).

mod support;

use std::path::Path;

use support::mysql::{exec_on, MyDb};
use support::run::{run, Run};
use support::{pg_connect, runtime, PgDb, Scratch};

/// A database of one engine, as the application's releases use it.
trait AppDb {
    const ENGINE: &'static str;
    fn url(&self) -> &str;
    /// Run one statement as a release would: its error, if any.
    fn write(&self, sql: &str) -> Result<(), String>;
    fn value(&self, sql: &str) -> Option<String>;
}

impl AppDb for PgDb {
    const ENGINE: &'static str = "postgres";
    fn url(&self) -> &str {
        &self.url
    }
    fn write(&self, sql: &str) -> Result<(), String> {
        runtime().block_on(async {
            let c = pg_connect(&self.url).await;
            c.batch_execute(sql)
                .await
                .map_err(|e| match e.as_db_error() {
                    Some(db) => db.message().to_string(),
                    None => e.to_string(),
                })
        })
    }
    fn value(&self, sql: &str) -> Option<String> {
        self.rows(sql).into_iter().next()?.into_iter().next()?
    }
}

impl AppDb for MyDb {
    const ENGINE: &'static str = "mysql";
    fn url(&self) -> &str {
        &self.url
    }
    fn write(&self, sql: &str) -> Result<(), String> {
        exec_on(&self.url, sql).map_err(|e| e.to_string())
    }
    fn value(&self, sql: &str) -> Option<String> {
        self.scalar(sql)
    }
}

impl AppDb for support::sqlite::SqliteDb {
    const ENGINE: &'static str = "sqlite";
    fn url(&self) -> &str {
        &self.url
    }
    fn write(&self, sql: &str) -> Result<(), String> {
        self.conn().execute_batch(sql).map_err(|e| e.to_string())
    }
    fn value(&self, sql: &str) -> Option<String> {
        self.rows(sql).into_iter().next()?.into_iter().next()?
    }
}

const SCHEMA: &str = "CREATE TABLE t (id bigint PRIMARY KEY, a int NOT NULL, b text);
INSERT INTO t (id, a, b) VALUES (1, 1, 'before');";

/// A release: the range it claims, and its insert with `{id}` for a fresh
/// key.
struct Release {
    name: &'static str,
    range: &'static str,
    insert: &'static str,
}

/// One kind of change: its plan items per engine (`None`: the engine has
/// no such statement), the releases before and after it, and optionally
/// a query 1.0 runs on a row of 2.0 before contract, with its answer.
struct Case {
    name: &'static str,
    plan: fn(&str) -> Option<&'static str>,
    releases: [Release; 2],
    reads: Option<(&'static str, Option<&'static str>)>,
}

const OLD: Release = Release {
    name: "1.0",
    range: "0 ..= 1.migrate",
    insert: "INSERT INTO t (id, a, b) VALUES ({id}, 7, 'release 1.0')",
};

const CASES: &[Case] = &[
    Case {
        name: "drop a NOT NULL column",
        plan: |_| Some("changes:\n  - ALTER TABLE t DROP COLUMN a\n"),
        releases: [
            OLD,
            Release {
                name: "2.0",
                range: "1.expand ..",
                insert: "INSERT INTO t (id, b) VALUES ({id}, 'release 2.0')",
            },
        ],
        reads: Some(("SELECT a FROM t WHERE id = {id}", None)),
    },
    Case {
        name: "drop a NOT NULL column with fill:",
        plan: |_| Some("changes:\n  - {sql: \"ALTER TABLE t DROP COLUMN a\", fill: \"0\"}\n"),
        releases: [
            OLD,
            Release {
                name: "2.0",
                range: "1.expand ..",
                insert: "INSERT INTO t (id, b) VALUES ({id}, 'release 2.0')",
            },
        ],
        reads: Some(("SELECT a FROM t WHERE id = {id}", Some("0"))),
    },
    Case {
        name: "rename a NOT NULL column",
        // SQLite: refused at plan (the old column would need a rebuild to
        // take NULL from new code), see sqlite/rename-column.
        plan: |engine| match engine {
            "sqlite" => None,
            _ => Some("changes:\n  - ALTER TABLE t RENAME COLUMN a TO a2\n"),
        },
        releases: [
            OLD,
            Release {
                name: "2.0",
                range: "1.migrate ..",
                insert: "INSERT INTO t (id, a2, b) VALUES ({id}, 8, 'release 2.0')",
            },
        ],
        reads: Some(("SELECT a FROM t WHERE id = {id}", Some("8"))),
    },
    Case {
        name: "add a NOT NULL column with a backfill",
        plan: |_| {
            Some("changes:\n  - ALTER TABLE t ADD COLUMN c int NOT NULL\nbackfills:\n  - {table: t, set: \"c = 0\", where: \"c IS NULL\"}\n")
        },
        releases: [
            OLD,
            Release {
                name: "2.0",
                range: "1.migrate ..",
                insert: "INSERT INTO t (id, a, b, c) VALUES ({id}, 8, 'release 2.0', 9)",
            },
        ],
        reads: None,
    },
    Case {
        name: "widen a NOT NULL column",
        plan: |engine| match engine {
            "postgres" => Some("changes:\n  - ALTER TABLE t ALTER COLUMN a TYPE bigint\n"),
            "mysql" => Some("changes:\n  - ALTER TABLE t MODIFY COLUMN a BIGINT NOT NULL\n"),
            _ => None,
        },
        releases: [
            OLD,
            Release {
                name: "2.0",
                range: "1.migrate ..",
                // The column stays int until contract swaps the twin in
                // (the plan shows it): 2.0 writes bigint values after.
                insert: "INSERT INTO t (id, a, b) VALUES ({id}, 8, 'release 2.0')",
            },
        ],
        reads: None,
    },
    Case {
        name: "make a column NOT NULL",
        plan: |engine| match engine {
            "postgres" => Some("changes:\n  - ALTER TABLE t ALTER COLUMN b SET NOT NULL\n"),
            "mysql" => Some("changes:\n  - ALTER TABLE t MODIFY COLUMN b TEXT NOT NULL\n"),
            _ => None,
        },
        releases: [
            OLD,
            Release {
                name: "2.0",
                range: "1.migrate ..",
                insert: "INSERT INTO t (id, a, b) VALUES ({id}, 8, 'release 2.0')",
            },
        ],
        reads: None,
    },
];

fn plan_set(scratch: &Scratch, engine: &str, case: &Case, items: &str) -> String {
    let dir = scratch.path("plans");
    std::fs::create_dir_all(&dir).unwrap();
    let plan = format!("version: 1\nengine: {engine}\n{items}");
    std::fs::write(dir.join("0001_change.yaml"), plan).unwrap();
    let mut releases = "releases:\n".to_string();
    for r in &case.releases {
        releases.push_str(&format!("  \"{}\": \"{}\"\n", r.name, r.range));
    }
    std::fs::write(dir.join("releases.yaml"), releases).unwrap();
    dir.display().to_string()
}

fn apply_until(dir: &str, db: &impl AppDb, state: &Path, stage: &str, scratch: &Scratch) -> Run {
    let state = state.display().to_string();
    let args = [
        "apply",
        dir,
        "--database",
        db.url(),
        "--state",
        &state,
        "--until",
        stage,
    ];
    run(&args, scratch, &[])
}

/// The run of `case`, stage by stage, with every release whose range holds
/// the point reached writing after each.
fn releases_write_through_the_run<D: AppDb>(db: &D, case: &Case) {
    let engine = D::ENGINE;
    let Some(items) = (case.plan)(engine) else {
        return;
    };
    let what = format!("{engine}, {}", case.name);
    db.write(SCHEMA).expect("the starting schema");
    let scratch = Scratch::new();
    let dir = plan_set(&scratch, engine, case, items);
    let state = scratch.path("state.json");
    let mut id = 1;
    for (stage, point) in [
        ("expand", "1.expand"),
        ("migrate", "1.migrate"),
        ("contract", "1"),
    ] {
        apply_until(&dir, db, &state, stage, &scratch)
            .expect(0, &format!("{what}: --until {stage}"));
        let writers = case.releases.iter().filter(|r| claims(r.range, point));
        for release in writers {
            id += 1;
            let insert = release.insert.replace("{id}", &id.to_string());
            db.write(&insert).unwrap_or_else(|e| {
                panic!(
                    "{what}: at {point}, release {}'s insert failed: {e}",
                    release.name
                )
            });
            let update = format!(
                "UPDATE t SET b = 'updated by {}' WHERE id = {id}",
                release.name
            );
            db.write(&update).unwrap_or_else(|e| {
                panic!(
                    "{what}: at {point}, release {}'s update failed: {e}",
                    release.name
                )
            });
        }
        if let (Some((query, expected)), "migrate") = (case.reads, stage) {
            let read = db.value(&query.replace("{id}", &id.to_string()));
            assert_eq!(
                read.as_deref(),
                expected,
                "{what}: what 1.0 reads in a row of 2.0"
            );
        }
    }
    assert_eq!(
        db.value("SELECT count(*) FROM t").as_deref(),
        Some(id.to_string().as_str()),
        "{what}: every acknowledged insert is there"
    );
}

/// Whether a range of the three points of version 1 holds `point` (the
/// ranges here start at 0, 1.expand or 1.migrate).
fn claims(range: &str, point: &str) -> bool {
    let order = ["0", "1.expand", "1.migrate", "1"];
    let at = |p: &str| {
        order
            .iter()
            .position(|o| *o == p)
            .expect("a point of version 1")
    };
    let (start, end) = range.split_once(" ..").expect("a range");
    let end = end.trim_start_matches('=').trim();
    at(start) <= at(point) && (end.is_empty() || at(point) <= at(end))
}

#[test]
fn postgres_releases_write_through_every_kind_of_change() {
    for case in CASES {
        releases_write_through_the_run(&PgDb::new(), case);
    }
}

#[test]
fn mariadb_releases_write_through_every_kind_of_change() {
    for case in CASES {
        releases_write_through_the_run(&MyDb::new(), case);
    }
}

#[test]
fn sqlite_releases_write_through_every_kind_of_change() {
    for (i, case) in CASES.iter().enumerate() {
        let scratch = Scratch::new();
        let db = support::sqlite::SqliteDb::new(&scratch, &format!("app{i}.db"));
        releases_write_through_the_run(&db, case);
    }
}

/// A release that claims points where it cannot insert is refused at
/// `plan`, naming the release, the points and the column.
#[test]
fn a_release_that_cannot_insert_where_it_claims_is_refused_at_plan() {
    let scratch = Scratch::new();
    let dir = scratch.path("plans");
    std::fs::create_dir_all(dir.join("schemas")).unwrap();
    std::fs::write(
        dir.join("schemas/0000.sql"),
        "CREATE TABLE t (id bigint PRIMARY KEY);",
    )
    .unwrap();
    std::fs::write(
        dir.join("0001_add_c.yaml"),
        "version: 1\nengine: postgres\nchanges:\n  - ALTER TABLE t ADD COLUMN c int NOT NULL\nbackfills:\n  - {table: t, set: \"c = 0\", where: \"c IS NULL\"}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("releases.yaml"),
        "releases:\n  \"1.0\": \"0 ..\"\n",
    )
    .unwrap();
    let out = run(&["plan", &dir.display().to_string()], &scratch, &[]);
    out.expect(1, "plan");
    assert!(
        out.stderr.contains("release 1.0 (0 ..) cannot insert into t at 1: column t.c is NOT NULL without a default"),
        "{}",
        out.stderr
    );
}

/// Killed right after the step that keeps a dropped column writable (run
/// and committed, not yet recorded), then resumed: the step is found done
/// in the catalog (or rerun), and both releases still write through the
/// rest of the run.
fn killed_after_the_relaxation_then_resumed<D: AppDb>(db: &D, change: &str, key: &str) {
    let engine = D::ENGINE;
    db.write(SCHEMA).expect("the starting schema");
    let scratch = Scratch::new();
    let case = &CASES[0];
    let dir = plan_set(&scratch, engine, case, &format!("changes:\n  - {change}\n"));
    let state = scratch.path("state.json").display().to_string();
    let point = format!("after:v1/expand/drop-column/t.a/{key}");
    let args = [
        "apply",
        &dir,
        "--database",
        db.url(),
        "--state",
        &state,
        "--until",
        "contract",
    ];
    let crashed = run(&args, &scratch, &[("ZERODOWN_FAILPOINT", point.as_str())]);
    assert!(
        crashed.code != Some(0),
        "{engine}: the failpoint {point} was not reached:\n{}",
        crashed.stdout
    );
    db.write("INSERT INTO t (id, b) VALUES (10, 'release 2.0 after the crash')")
        .unwrap_or_else(|e| panic!("{engine}: the relaxation was committed before the crash: {e}"));
    let resume = [
        "resume",
        "--database",
        db.url(),
        "--state",
        &state,
        "--until",
        "contract",
    ];
    run(&resume, &scratch, &[]).expect(0, &format!("{engine}: resume"));
    db.write("INSERT INTO t (id, b) VALUES (11, 'release 2.0')")
        .unwrap_or_else(|e| panic!("{engine}: after contract: {e}"));
    assert!(
        db.write("INSERT INTO t (id, a, b) VALUES (12, 7, 'x')")
            .is_err(),
        "{engine}: a is dropped"
    );
    assert_eq!(db.value("SELECT count(*) FROM t").as_deref(), Some("3"));
}

#[test]
fn a_crash_after_the_relaxation_resumes_on_every_engine() {
    let fill = "{sql: \"ALTER TABLE t DROP COLUMN a\", fill: \"0\"}";
    killed_after_the_relaxation_then_resumed(
        &PgDb::new(),
        "ALTER TABLE t DROP COLUMN a",
        "allow-null-until-dropped",
    );
    killed_after_the_relaxation_then_resumed(&PgDb::new(), fill, "fill-until-dropped");
    killed_after_the_relaxation_then_resumed(
        &MyDb::new(),
        "ALTER TABLE t DROP COLUMN a",
        "allow-null-until-dropped",
    );
    killed_after_the_relaxation_then_resumed(&MyDb::new(), fill, "fill-until-dropped");
    for (i, (change, key)) in [
        ("ALTER TABLE t DROP COLUMN a", "allow-null-until-dropped"),
        (fill, "fill-until-dropped"),
    ]
    .into_iter()
    .enumerate()
    {
        let scratch = Scratch::new();
        let db = support::sqlite::SqliteDb::new(&scratch, &format!("crash{i}.db"));
        killed_after_the_relaxation_then_resumed(&db, change, key);
    }
}
