//! SQLite's table rebuild: how fast zerodown copies a table to change what
//! `ALTER TABLE` cannot (here `SET NOT NULL`), against the same documented
//! procedure run by hand in one transaction, and whether the planner's
//! estimate (`planner::REBUILD_ROWS_PER_SEC`) errs long as it should.
//!
//! A file of 500k rows (`users`: 5 columns, 2 secondary indexes, WAL mode)
//! is built once; every run works on a fresh copy of it. Rounds in rotating
//! order, the ratio within each round, the median of the rounds:
//!
//! 1. `zerodown apply --until contract` of `ALTER TABLE users ALTER COLUMN
//!    email SET NOT NULL`: the time of its rebuild task, from the output;
//! 2. by hand: `BEGIN IMMEDIATE`, `CREATE TABLE` with the NOT NULL,
//!    `INSERT … SELECT`, `DROP`, `RENAME`, the two indexes,
//!    `PRAGMA foreign_key_check`, `COMMIT` (what
//!    <https://www.sqlite.org/lang_altertable.html#otheralter> prescribes,
//!    without reading and editing the live schema).
//!
//! Then `zerodown plan --database` on a fresh copy: its estimated rebuild
//! time against the measured one (at least 1: the estimate errs long).
//!
//! Run: `cargo bench --bench sqlite_rebuild` (about 15 seconds).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::Connection;

// This bench runs zerodown and prints the report; the writers of the
// server benches are not used here.
#[allow(dead_code)]
mod common;
use common::{finish, median, setup, step, zerodown, Figure, Goal, Report, Result};

const ROWS: i64 = 500_000;
const ROUNDS: usize = 5;
const SCHEMA: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, name TEXT, team_id INTEGER, score INTEGER);
CREATE INDEX users_email_idx ON users (email);
CREATE INDEX users_team_idx ON users (team_id);
";
const PLAN: &str = "version: 2
engine: sqlite
description: email required
changes:
  - ALTER TABLE users ALTER COLUMN email SET NOT NULL
";
const REBUILD_TASK: &str = "v2/contract/set-not-null/users.email/set-not-null";
const BY_HAND: &str = "BEGIN IMMEDIATE;
CREATE TABLE users_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT, team_id INTEGER, score INTEGER);
INSERT INTO users_new (id, email, name, team_id, score) SELECT id, email, name, team_id, score FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE INDEX users_email_idx ON users (email);
CREATE INDEX users_team_idx ON users (team_id);
PRAGMA foreign_key_check;
COMMIT;";

#[derive(Clone, Copy)]
enum Rebuild {
    Zerodown,
    ByHand,
}

impl Rebuild {
    const ALL: [Rebuild; 2] = [Rebuild::Zerodown, Rebuild::ByHand];

    fn label(self) -> &'static str {
        match self {
            Rebuild::Zerodown => "zerodown apply (rebuild task)",
            Rebuild::ByHand => "the same procedure by hand",
        }
    }
}

/// The base file: the schema and its rows, in WAL mode, checkpointed.
fn build_base(path: &Path) -> Result<()> {
    let conn = Connection::open(path)?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    conn.execute_batch(SCHEMA)?;
    conn.execute(
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?1) \
         INSERT INTO users SELECT n, 'user' || n || '@example.com', 'name ' || n, n % 100, n FROM g",
        [ROWS],
    )?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}

/// A fresh copy of the base file; its URL.
fn copy_of(base: &Path, to: &Path) -> Result<String> {
    std::fs::copy(base, to)?;
    Ok(format!("sqlite://{}", to.display()))
}

/// The rebuild really happened: email is NOT NULL, every row is there.
fn check_rebuilt(path: &Path) -> Result<()> {
    let conn = Connection::open(path)?;
    let not_null: i64 = conn.query_row(
        "SELECT \"notnull\" FROM pragma_table_info('users') WHERE name = 'email'",
        [],
        |r| r.get(0),
    )?;
    let rows: i64 = conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
    let indexes: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'users'",
        [],
        |r| r.get(0),
    )?;
    if not_null != 1 || rows != ROWS || indexes != 2 {
        return Err(format!(
            "after the rebuild: email notnull {not_null}, {rows} rows, {indexes} indexes"
        )
        .into());
    }
    Ok(())
}

async fn bench(work: &Path) -> Result<Report> {
    let started = Instant::now();
    let step = |what: &str| step(started, what);
    let mut figures = Vec::new();
    let mut notes = Vec::new();
    std::fs::create_dir_all(work)?;
    let base = work.join("base.db");
    step(&format!("building the {ROWS}-row base file"));
    build_base(&base)?;
    let plans = common::write_plan_dir(work, "plans", SCHEMA, "0002_not_null.yaml", PLAN)?;

    let mut times: [Vec<Duration>; 2] = Default::default();
    for round in 0..ROUNDS {
        for k in 0..Rebuild::ALL.len() {
            let kind = Rebuild::ALL[(round + k) % Rebuild::ALL.len()];
            let file = work.join(format!("run-{round}-{}.db", kind as usize));
            let url = copy_of(&base, &file)?;
            step(&format!("round {}/{ROUNDS}: {}", round + 1, kind.label()));
            let elapsed = match kind {
                Rebuild::Zerodown => {
                    let state = work.join(format!("run-{round}.state"));
                    let run = zerodown(&[
                        "apply",
                        &plans.to_string_lossy(),
                        "--database",
                        &url,
                        "--state",
                        &state.to_string_lossy(),
                        "--until",
                        "contract",
                    ])
                    .await?;
                    run.task(REBUILD_TASK)?.duration()
                }
                Rebuild::ByHand => {
                    let conn = Connection::open(&file)?;
                    conn.busy_timeout(Duration::from_secs(5))?;
                    conn.execute_batch("PRAGMA foreign_keys = OFF")?;
                    let start = Instant::now();
                    conn.execute_batch(BY_HAND)?;
                    start.elapsed()
                }
            };
            check_rebuilt(&file)?;
            remove_db(&file);
            times[kind as usize].push(elapsed);
        }
    }
    let rate = |d: &Duration| ROWS as f64 / d.as_secs_f64();
    for kind in Rebuild::ALL {
        let list: Vec<String> = times[kind as usize]
            .iter()
            .map(|d| format!("{:.0}", rate(d)))
            .collect();
        notes.push(format!("rows/s, {}: {}", kind.label(), list.join(", ")));
    }
    let per_round: Vec<f64> = times[Rebuild::ByHand as usize]
        .iter()
        .zip(&times[Rebuild::Zerodown as usize])
        .map(|(hand, zd)| hand.as_secs_f64() / zd.as_secs_f64())
        .collect();
    let list: Vec<String> = per_round.iter().map(|x| format!("{x:.2}")).collect();
    notes.push(format!(
        "zerodown's rate / by hand, per round: {}",
        list.join(", ")
    ));
    let zd_rates: Vec<f64> = times[Rebuild::Zerodown as usize].iter().map(rate).collect();
    let hand_rates: Vec<f64> = times[Rebuild::ByHand as usize].iter().map(rate).collect();
    let (zd_rate, hand_rate) = (median(zd_rates.clone()), median(hand_rates));
    figures.push(Figure {
        name: "rebuild rate, zerodown vs by hand".into(),
        value: format!("{zd_rate:.0} rows/s"),
        baseline: format!("{hand_rate:.0} rows/s"),
        ratio: Some(median(per_round)),
        goal: Goal::AtLeast(0.8),
    });
    let slowest = zd_rates.iter().copied().fold(f64::INFINITY, f64::min);
    let assumed = zerodown::planner::REBUILD_ROWS_PER_SEC;
    figures.push(Figure {
        name: "slowest rebuild rate vs the planner's assumed rate".into(),
        value: format!("{slowest:.0} rows/s"),
        baseline: format!("{assumed:.0} rows/s"),
        ratio: Some(slowest / assumed),
        goal: Goal::AtLeast(1.0),
    });

    // What `plan --database` promises for the same table.
    let file = work.join("estimate.db");
    let url = copy_of(&base, &file)?;
    step("zerodown plan --database (the estimate)");
    let planned = zerodown(&[
        "plan",
        &plans.to_string_lossy(),
        "--database",
        &url,
        "--format",
        "json",
    ])
    .await;
    remove_db(&file);
    // `plan --database` exits 2 when changes are pending: that is an error
    // to the runner, whose message carries the output.
    let output = match planned {
        Ok(run) => run
            .lines
            .into_iter()
            .map(|(_, l)| l)
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => e.to_string(),
    };
    let estimate = estimated_rebuild_seconds(&output)
        .ok_or_else(|| format!("no rebuild_seconds for users in:\n{output}"))?;
    let measured = median(
        times[Rebuild::Zerodown as usize]
            .iter()
            .map(Duration::as_secs_f64)
            .collect(),
    );
    figures.push(Figure::durations(
        "plan's rebuild estimate vs measured (median)",
        Duration::from_secs_f64(estimate),
        Duration::from_secs_f64(measured),
        Goal::AtLeast(1.0),
    ));
    step("done");
    Ok(Report { figures, notes })
}

/// `rebuild_seconds` of table `users` in the JSON of `plan --database`,
/// found in `text` (the runner's error message wraps the JSON).
fn estimated_rebuild_seconds(text: &str) -> Option<f64> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    let json: serde_json::Value = serde_json::from_str(&text[start..=end]).ok()?;
    json["plan_sets"][0]["tables"]
        .as_array()?
        .iter()
        .find(|t| t["table"] == "users")?["rebuild_seconds"]
        .as_f64()
}

/// A database file and its WAL files.
fn remove_db(file: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

fn main() -> std::process::ExitCode {
    let (work, runtime) = setup("sqlite_rebuild");
    let outcome = runtime.block_on(bench(&work));
    finish(
        "sqlite_rebuild",
        &work,
        &format!("{ROWS} rows, 5 columns, 2 indexes"),
        outcome,
    )
}
