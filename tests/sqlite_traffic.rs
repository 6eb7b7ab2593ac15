//! An application writing to the same SQLite file while `zerodown apply`
//! runs: another process, with its own connection and its own busy timeout,
//! sees no error and loses no write, through the rename, the type change,
//! the backfills, the fleet rollout and contract's table rewrites.
//!
//! The application is this test executable run again as a separate process
//! with `ZD_SQLITE_WRITER_DB` set, which turns the ignored test
//! `writer_process` into the writer.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use support::sqlite::{apply, describe, kill_db, KILL_DIR, KILL_FINAL};
use support::Scratch;

/// The busy timeout the application sets: how long one of its statements
/// waits for SQLite's write lock before failing with `SQLITE_BUSY`. It has
/// to outlast zerodown's longest write transaction (one backfill batch, one
/// DDL step such as a table rewrite), with room to spare; 5 s is also what
/// zerodown gives its own statements.
const APP_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The application's pause between two writes: an application writes when
/// its users act, never in a tight loop (SQLite's busy handler sleeps while
/// the lock holder may take the lock again at once: a tight loop of writes
/// would starve zerodown, not the other way round).
const APP_PAUSE: Duration = Duration::from_millis(2);

/// What the writer acknowledged: every insert and update that returned Ok,
/// the errors, and how long its statements took.
#[derive(serde::Serialize, serde::Deserialize, Debug, Default)]
struct Report {
    /// `n` of every payment inserted (`memo = 'writer n'`, `amount = 13 n`).
    inserted: Vec<i64>,
    /// Account id → `n` of the last acknowledged `email = 'wn@writer'`.
    updated: BTreeMap<i64, i64>,
    errors: Vec<String>,
    /// Milliseconds from the start of the writer, of the first and the last
    /// acknowledged write.
    first_ms: u64,
    last_ms: u64,
    /// The longest a single statement took, and the 99th percentile (µs).
    max_latency_us: u64,
    p99_latency_us: u64,
    /// The longest time between two acknowledged writes (µs).
    max_gap_us: u64,
}

const ENV_DB: &str = "ZD_SQLITE_WRITER_DB";
const ENV_STOP: &str = "ZD_SQLITE_WRITER_STOP";
const ENV_STARTED: &str = "ZD_SQLITE_WRITER_STARTED";
const ENV_REPORT: &str = "ZD_SQLITE_WRITER_REPORT";

/// The application process (only when started by the test below): writes
/// until the stop file appears, then writes its report.
#[test]
#[ignore = "the writer process of application_writes_during_apply_see_no_error_and_lose_nothing"]
fn writer_process() {
    let Ok(db) = std::env::var(ENV_DB) else {
        return;
    };
    let path = |var: &str| PathBuf::from(std::env::var(var).expect(var));
    let (stop, started, report_path) = (path(ENV_STOP), path(ENV_STARTED), path(ENV_REPORT));
    let conn = Connection::open(&db).expect("open the database");
    conn.busy_timeout(APP_BUSY_TIMEOUT).unwrap();

    let mut report = Report::default();
    let mut latencies = Vec::new();
    let begin = Instant::now();
    let mut last_ack: Option<Instant> = None;
    let mut ack = |report: &mut Report, at: Instant| {
        if let Some(prev) = last_ack {
            report.max_gap_us = report.max_gap_us.max((at - prev).as_micros() as u64);
        } else {
            report.first_ms = (at - begin).as_millis() as u64;
            std::fs::write(&started, b"").unwrap();
        }
        report.last_ms = (at - begin).as_millis() as u64;
        last_ack = Some(at);
    };
    let mut n: i64 = 0;
    while !stop.exists() {
        n += 1;
        let t = Instant::now();
        let inserted = conn.execute(
            "INSERT INTO payments (account_id, amount, memo) VALUES (?1, ?2, ?3)",
            rusqlite::params![1 + n % 3000, 13 * n, format!("writer {n}")],
        );
        latencies.push(t.elapsed().as_micros() as u64);
        match inserted {
            Ok(_) => {
                report.inserted.push(n);
                ack(&mut report, Instant::now());
            }
            Err(e) => report.errors.push(format!("insert {n}: {e}")),
        }
        let id = 1 + (n * 7) % 3000;
        let t = Instant::now();
        let updated = conn.execute(
            "UPDATE accounts SET email = ?1 WHERE id = ?2",
            rusqlite::params![format!("w{n}@writer"), id],
        );
        latencies.push(t.elapsed().as_micros() as u64);
        match updated {
            Ok(1) => {
                report.updated.insert(id, n);
                ack(&mut report, Instant::now());
            }
            Ok(k) => report
                .errors
                .push(format!("update {n}: {k} rows for account {id}")),
            Err(e) => report.errors.push(format!("update {n}: {e}")),
        }
        std::thread::sleep(APP_PAUSE);
    }
    latencies.sort_unstable();
    report.max_latency_us = latencies.last().copied().unwrap_or(0);
    report.p99_latency_us = latencies
        .get(latencies.len() * 99 / 100)
        .copied()
        .unwrap_or(0);
    std::fs::write(&report_path, serde_json::to_vec(&report).unwrap()).unwrap();
}

fn wait_for_file(path: &Path, limit: Duration) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < limit,
            "gave up waiting for {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn application_writes_during_apply_see_no_error_and_lose_nothing() {
    let scratch = Scratch::new();
    let db = kill_db(&scratch);
    let originals =
        db.rows("SELECT id, account_id, CAST(amount AS INTEGER), memo FROM payments ORDER BY id");
    let names = db.rows("SELECT id, name FROM accounts ORDER BY id");
    let (stop, started, report_path) = (
        scratch.path("writer.stop"),
        scratch.path("writer.started"),
        scratch.path("writer.json"),
    );
    let writer = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "writer_process", "--ignored", "--nocapture"])
        .env(ENV_DB, &db.path)
        .env(ENV_STOP, &stop)
        .env(ENV_STARTED, &started)
        .env(ENV_REPORT, &report_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the writer process");
    wait_for_file(&started, Duration::from_secs(20));

    let state = scratch.path("state.json");
    let run_started = Instant::now();
    let run = apply(
        KILL_DIR,
        &db,
        &state,
        &["--until", "contract"],
        &scratch,
        &[],
    );
    let run_took = run_started.elapsed();
    // A little more traffic on the finished schema, then stop.
    std::thread::sleep(Duration::from_millis(100));
    std::fs::write(&stop, b"").unwrap();
    let out = writer.wait_with_output().unwrap();
    run.expect(0, "apply under traffic");
    assert!(
        out.status.success(),
        "the writer failed:\n{}\n{}",
        support::text(&out.stdout),
        support::text(&out.stderr)
    );
    let report: Report =
        serde_json::from_slice(&std::fs::read(&report_path).expect("the writer's report")).unwrap();

    assert!(
        report.errors.is_empty(),
        "{} failed writes: {:?}",
        report.errors.len(),
        &report.errors[..report.errors.len().min(10)]
    );
    assert_eq!(describe(&db), KILL_FINAL);
    assert!(
        report.inserted.len() > 100,
        "the writer wrote through the run: {} inserts in {run_took:?}",
        report.inserted.len()
    );

    // Every acknowledged insert is there once, with its amount as an integer.
    let written = db.rows(
        "SELECT memo, amount, typeof(amount) FROM payments WHERE memo LIKE 'writer %' ORDER BY id",
    );
    let expected: Vec<Vec<Option<String>>> = report
        .inserted
        .iter()
        .map(|n| {
            vec![
                Some(format!("writer {n}")),
                Some((13 * n).to_string()),
                Some("integer".to_string()),
            ]
        })
        .collect();
    assert_eq!(written.len(), expected.len(), "inserts lost or duplicated");
    assert_eq!(written, expected);
    // The rows that were there before are untouched.
    assert_eq!(
        db.rows(&format!(
            "SELECT id, account_id, amount, memo FROM payments WHERE id <= {} ORDER BY id",
            originals.len()
        )),
        originals
    );
    // Every acknowledged update's value is the last one of its account.
    let emails: BTreeMap<i64, String> = db
        .rows("SELECT id, email FROM accounts WHERE email LIKE '%@writer'")
        .into_iter()
        .map(|r| {
            (
                r[0].clone().unwrap().parse().unwrap(),
                r[1].clone().unwrap(),
            )
        })
        .collect();
    let expected: BTreeMap<i64, String> = report
        .updated
        .iter()
        .map(|(id, n)| (*id, format!("w{n}@writer")))
        .collect();
    assert_eq!(emails, expected, "updates lost");
    // The rename and the backfill carried every account.
    assert_eq!(
        db.rows("SELECT id, full_name FROM accounts ORDER BY id"),
        names
    );
    assert_eq!(
        db.count("SELECT count(*) FROM accounts WHERE tier IS NOT CASE WHEN id % 3 = 0 THEN 'gold' ELSE 'basic' END"),
        0
    );

    // Shown with --nocapture: what the application saw.
    println!(
        "writer: {} inserts, {} accounts updated, during a run of {run_took:?}; \
         statement latency max {} µs, p99 {} µs; longest gap between acknowledged writes {} µs",
        report.inserted.len(),
        report.updated.len(),
        report.max_latency_us,
        report.p99_latency_us,
        report.max_gap_us
    );
    assert!(
        Duration::from_micros(report.max_latency_us) < APP_BUSY_TIMEOUT,
        "a statement waited out the busy timeout"
    );
}
