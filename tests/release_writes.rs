//! Every release writes where its range claims, on each engine, through a
//! whole run: dropping a NOT NULL column keeps the old release inserting
//! with it and lets the new release insert without it from expand on
//! (NULL allowed, or the change's `fill:` as the value old readers see),
//! until contract drops it.

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

/// The scenario: release 1.0 writes `a` and runs until migrate;
/// release 2.0 no longer knows `a` and runs from expand on.
const RELEASES: &str = "releases:
  \"1.0\": \"0 ..= 1.migrate\"
  \"2.0\": \"1.expand ..\"
";

fn plan_set(scratch: &Scratch, engine: &str, change: &str) -> String {
    let dir = scratch.path("plans");
    std::fs::create_dir_all(&dir).unwrap();
    let plan = format!("version: 1\nengine: {engine}\nchanges:\n  - {change}\n");
    std::fs::write(dir.join("0001_drop_a.yaml"), plan).unwrap();
    std::fs::write(dir.join("releases.yaml"), RELEASES).unwrap();
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

/// The run, stage by stage, with both releases writing after each;
/// `filled`: what 1.0 reads in `a` of 2.0's rows before contract.
fn both_releases_write_through_the_run<D: AppDb>(db: &D, change: &str, filled: Option<&str>) {
    let engine = D::ENGINE;
    db.write(SCHEMA).expect("the starting schema");
    let scratch = Scratch::new();
    let dir = plan_set(&scratch, engine, change);
    let state = scratch.path("state.json");
    let mut id = 1;
    for stage in ["expand", "migrate"] {
        apply_until(&dir, db, &state, stage, &scratch).expect(0, stage);
        id += 1;
        let old = format!("INSERT INTO t (id, a, b) VALUES ({id}, 7, 'release 1.0')");
        db.write(&old)
            .unwrap_or_else(|e| panic!("{engine} 1.{stage}: release 1.0's insert failed: {e}"));
        id += 1;
        let new = format!("INSERT INTO t (id, b) VALUES ({id}, 'release 2.0')");
        db.write(&new)
            .unwrap_or_else(|e| panic!("{engine} 1.{stage}: release 2.0's insert failed: {e}"));
        let update = format!("UPDATE t SET b = 'updated by 2.0' WHERE id = {}", id - 1);
        db.write(&update)
            .unwrap_or_else(|e| panic!("{engine} 1.{stage}: release 2.0's update failed: {e}"));
        assert_eq!(
            db.value(&format!("SELECT a FROM t WHERE id = {id}"))
                .as_deref(),
            filled,
            "{engine} 1.{stage}: what release 1.0 reads in a row of 2.0"
        );
    }
    apply_until(&dir, db, &state, "contract", &scratch).expect(0, "contract");
    id += 1;
    let new = format!("INSERT INTO t (id, b) VALUES ({id}, 'release 2.0')");
    db.write(&new)
        .unwrap_or_else(|e| panic!("{engine} 1: release 2.0's insert failed: {e}"));
    assert!(
        db.write("INSERT INTO t (id, a, b) VALUES (100, 7, 'x')")
            .is_err(),
        "{engine}: a is dropped at contract"
    );
    assert_eq!(
        db.value("SELECT count(*) FROM t").as_deref(),
        Some(id.to_string().as_str()),
        "{engine}: every acknowledged insert is there"
    );
}

const DROP: &str = "ALTER TABLE t DROP COLUMN a";
const DROP_WITH_FILL: &str = "{sql: \"ALTER TABLE t DROP COLUMN a\", fill: \"0\"}";

#[test]
fn postgres_dropping_a_not_null_column_lets_both_releases_insert() {
    both_releases_write_through_the_run(&PgDb::new(), DROP, None);
    both_releases_write_through_the_run(&PgDb::new(), DROP_WITH_FILL, Some("0"));
}

#[test]
fn mariadb_dropping_a_not_null_column_lets_both_releases_insert() {
    both_releases_write_through_the_run(&MyDb::new(), DROP, None);
    both_releases_write_through_the_run(&MyDb::new(), DROP_WITH_FILL, Some("0"));
}

#[test]
fn sqlite_dropping_a_not_null_column_lets_both_releases_insert() {
    for (i, (change, filled)) in [(DROP, None), (DROP_WITH_FILL, Some("0"))]
        .into_iter()
        .enumerate()
    {
        let scratch = Scratch::new();
        let db = support::sqlite::SqliteDb::new(&scratch, &format!("app{i}.db"));
        both_releases_write_through_the_run(&db, change, filled);
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
