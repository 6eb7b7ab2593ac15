//! Kill and resume on SQLite: a run killed at any point (before or after
//! any task, between any backfill batch and its checkpoint, or by a real
//! SIGKILL in the middle of a backfill) and then resumed ends in exactly the
//! file an uninterrupted run gives: same schema, same rows, same history.
//!
//! The crash comes from the test-only switch `ZERODOWN_FAILPOINT`, which
//! aborts the process like SIGKILL at the chosen point (no destructor, no
//! flush: SQLite's open transaction, if any, is rolled back from the WAL by
//! the next connection).

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use support::sqlite::{
    self, apply, checksums, describe, history, kill_db, plan_tasks, resume, state_json,
    zd_leftovers, PlanTask, SqliteDb, KILL_DIR as DIR, KILL_FINAL,
};
use support::Scratch;

/// What a complete run leaves: the catalog, every row, the history, the fleet.
#[derive(Debug, PartialEq)]
struct Outcome {
    schema: String,
    rows: BTreeMap<String, String>,
    history: Vec<(String, String)>,
    nodes: Vec<(String, String)>,
}

fn outcome(db: &SqliteDb, scratch: &Scratch) -> Outcome {
    let nodes = ["app-1", "app-2"]
        .iter()
        .map(|n| {
            let release =
                std::fs::read_to_string(scratch.path("fleet").join(format!("{n}.release")))
                    .unwrap_or_default();
            (n.to_string(), release.trim().to_string())
        })
        .collect();
    Outcome {
        schema: describe(db),
        rows: checksums(db),
        history: history(db),
        nodes,
    }
}

/// The crash points: before and after every task that is not a milestone,
/// and inside every backfill walk: after the first, second, middle,
/// second-to-last and last batch (their counts from the reference run), and
/// after the first batch of the catch-up pass of a backfill's gate.
fn crash_points(tasks: &[PlanTask], batches: &BTreeMap<String, u64>) -> Vec<String> {
    let mut points = Vec::new();
    for t in tasks.iter().filter(|t| t.kind != "milestone") {
        points.push(format!("before:{}", t.id));
        points.push(format!("after:{}", t.id));
    }
    for (id, &n) in batches {
        let mut at: Vec<u64> = vec![1, 2, n / 2, n.saturating_sub(1), n]
            .into_iter()
            .filter(|&k| k >= 1 && k <= n)
            .collect();
        at.sort();
        at.dedup();
        points.extend(at.into_iter().map(|k| format!("batch:{id}:{k}")));
    }
    for t in tasks
        .iter()
        .filter(|t| t.id.starts_with("v2/contract/backfill/") && t.id.ends_with("/gate"))
    {
        points.push(format!("batch:{}:1", t.id));
    }
    points
}

/// Kill a run on a copy of `seeded` at `point`, resume it, compare with the
/// reference. `Err` says what differed.
fn kill_and_resume(seeded: &SqliteDb, point: &str, reference: &Outcome) -> Result<(), String> {
    let scratch = Scratch::new();
    let db = SqliteDb::copy_of(seeded, &scratch, "kill.db");
    let state = scratch.path("state.json");
    let killed = apply(
        DIR,
        &db,
        &state,
        &["--until", "contract"],
        &scratch,
        &[("ZERODOWN_FAILPOINT", point)],
    );
    if killed.code.is_some() || killed.signal != Some(6) {
        return Err(format!(
            "{point}: the run was not killed there (exit code {:?}, signal {:?})\nstdout:\n{}\nstderr:\n{}",
            killed.code, killed.signal, killed.stdout, killed.stderr
        ));
    }
    let resumed = resume(&db, &state, &[], &scratch);
    if resumed.code != Some(0) {
        return Err(format!(
            "{point}: resume exited {:?} (signal {:?})\nstdout:\n{}\nstderr:\n{}",
            resumed.code, resumed.signal, resumed.stdout, resumed.stderr
        ));
    }
    let got = outcome(&db, &scratch);
    if &got != reference {
        let mut diff = Vec::new();
        if got.schema != reference.schema {
            diff.push(format!(
                "schema:\n{}\nexpected:\n{}",
                got.schema, reference.schema
            ));
        }
        if got.rows != reference.rows {
            diff.push(format!(
                "rows: {:?}\nexpected: {:?}",
                got.rows, reference.rows
            ));
        }
        if got.history != reference.history {
            diff.push(format!(
                "history: {:?}\nexpected: {:?}",
                got.history, reference.history
            ));
        }
        if got.nodes != reference.nodes {
            diff.push(format!(
                "nodes: {:?}, expected {:?}",
                got.nodes, reference.nodes
            ));
        }
        return Err(format!(
            "{point}: the resumed run differs from the reference\n{}\nresume stdout:\n{}",
            diff.join("\n"),
            resumed.stdout
        ));
    }
    let status = &state_json(&state)["status"];
    if status != "done" {
        return Err(format!(
            "{point}: state file status {status}, expected done"
        ));
    }
    Ok(())
}

#[test]
fn a_run_killed_at_any_point_resumes_to_the_file_of_an_uninterrupted_run() {
    let tasks = plan_tasks(DIR);
    let template = Scratch::new();
    let seeded = kill_db(&template);

    // The reference: one run that nothing interrupts, on a copy.
    let scratch = Scratch::new();
    let db = SqliteDb::copy_of(&seeded, &scratch, "reference.db");
    let state = scratch.path("state.json");
    apply(DIR, &db, &state, &["--until", "contract"], &scratch, &[]).expect(0, "reference run");
    let reference = outcome(&db, &scratch);
    assert_eq!(reference.schema, KILL_FINAL);
    assert!(zd_leftovers(&db).is_empty(), "{:?}", zd_leftovers(&db));
    assert_eq!(
        reference.history.len(),
        tasks.len(),
        "one history row per task"
    );
    assert!(
        reference.history.iter().all(|(_, s)| s == "done"),
        "{:?}",
        reference.history
    );
    assert_eq!(
        reference.nodes,
        vec![
            ("app-1".into(), "2.0.0".into()),
            ("app-2".into(), "2.0.0".into())
        ]
    );

    let batches: BTreeMap<String, u64> = state_json(&state)["backfills"]
        .as_object()
        .expect("backfill checkpoints")
        .iter()
        .map(|(id, cp)| (id.clone(), cp["batches"].as_u64().unwrap()))
        .collect();
    let backfills = tasks
        .iter()
        .filter(|t| t.step.as_deref() == Some("backfill"))
        .count();
    assert_eq!(
        batches.len(),
        backfills,
        "a checkpoint per backfill: {batches:?}"
    );
    assert!(
        batches.values().any(|&n| n >= 5),
        "a backfill of several batches: {batches:?}"
    );
    drop(db);

    let points = crash_points(&tasks, &batches);
    // Four cases at a time: a case mostly waits on the fleet's health
    // checks (healthy for 200 ms in a row) and on fsync.
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(point) = points.get(i) else { break };
                if let Err(e) = kill_and_resume(&seeded, point, &reference) {
                    failures.lock().unwrap().push(e);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} crash points failed:\n\n{}",
        failures.len(),
        points.len(),
        failures.join("\n\n")
    );
}

#[test]
fn sigkill_in_the_middle_of_a_backfill_then_resume_loses_and_repeats_nothing() {
    const SLOW: &str = "tests/inputs/sqlite-slow";
    let scratch = Scratch::new();
    let db = SqliteDb::new(&scratch, "slow.db");
    db.load(format!("{SLOW}/schemas/0001.sql"));
    db.exec(
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 2000)
         INSERT INTO items (id, label, legacy) SELECT n, 'Item ' || n, 'x' FROM g",
    );
    let labels = db.rows("SELECT id, label FROM items ORDER BY id");
    let state = scratch.path("state.json");
    let state_arg = state.display().to_string();
    let mut child = sqlite::spawn(
        &[
            "apply",
            SLOW,
            "--database",
            &db.url,
            "--state",
            &state_arg,
            "--until",
            "contract",
        ],
        &scratch,
        &[],
    );
    let backfill = "v2/migrate/backfill/items.slug/backfill";
    let started = Instant::now();
    while !(state.exists()
        && state_json(&state)["backfills"][backfill]["batches"]
            .as_u64()
            .is_some_and(|n| n >= 5))
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "gave up waiting for a few batches"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().expect("SIGKILL");
    let out = sqlite::Run::from_output(child.wait_with_output().unwrap());
    assert_eq!(out.signal, Some(9), "{out:?}");

    let st = state_json(&state);
    assert_eq!(st["tasks"][backfill]["status"], "running");
    let filled = db.count("SELECT count(*) FROM items WHERE slug IS NOT NULL");
    assert!(
        filled < 2000,
        "killed before the end of the backfill: {filled}"
    );
    assert_eq!(filled % 50, 0, "batches are atomic: {filled} rows");
    let saved = st["backfills"][backfill]["rows"].as_i64().unwrap();
    assert!(
        saved == filled || saved + 50 == filled,
        "the checkpoint is the last committed batch or the one before: {saved} saved, {filled} filled"
    );

    resume(&db, &state, &[], &scratch).expect(0, "resume");
    assert_eq!(
        db.rows("SELECT id, label FROM items ORDER BY id"),
        labels,
        "no row lost or duplicated"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM items WHERE slug IS NOT lower(label)"),
        0
    );
    assert!(!db.has_column("items", "legacy"));
    assert!(zd_leftovers(&db).is_empty());
    let rows = history(&db);
    assert_eq!(rows.len(), plan_tasks(SLOW).len(), "{rows:?}");
    assert!(rows.iter().all(|(_, s)| s == "done"), "{rows:?}");
    assert_eq!(state_json(&state)["status"], "done");
}
