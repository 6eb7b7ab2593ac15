//! Kill and resume, for every engine: crash a run at a failpoint
//! (`ZERODOWN_FAILPOINT`), resume it, and compare the database with the
//! one an uninterrupted run left.
#![allow(dead_code)] // each test file uses a part of it

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::run::{apply, resume, state_json, PlanTask};
use super::{Scratch, TestDb};

/// What a complete run leaves: the catalog, every row, the history, the fleet.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    pub schema: String,
    pub rows: BTreeMap<String, String>,
    pub history: Vec<(String, String)>,
    pub nodes: Vec<(String, String)>,
}

/// The outcome of a run whose fleet is the demo nodes `nodes`.
pub fn outcome(db: &impl TestDb, scratch: &Scratch, nodes: &[&str]) -> Outcome {
    let mut nodes: Vec<(String, String)> = nodes
        .iter()
        .map(|n| {
            let release =
                std::fs::read_to_string(scratch.path("fleet").join(format!("{n}.release")))
                    .unwrap_or_default();
            (n.to_string(), release.trim().to_string())
        })
        .collect();
    nodes.sort();
    Outcome {
        schema: db.describe(),
        rows: db.checksums(),
        history: db.history(),
        nodes,
    }
}

/// The backfill checkpoints of a finished run: batches per backfill task.
pub fn batches(state: &std::path::Path) -> BTreeMap<String, u64> {
    state_json(state)["backfills"]
        .as_object()
        .expect("backfill checkpoints")
        .iter()
        .map(|(id, cp)| (id.clone(), cp["batches"].as_u64().unwrap()))
        .collect()
}

/// What every reference run must show: a history row per task, all done,
/// every node on `release`, a checkpoint per backfill, and a backfill of
/// several batches (so there is a "between batches" to crash in).
pub fn check_reference(
    tasks: &[PlanTask],
    reference: &Outcome,
    batches: &BTreeMap<String, u64>,
    release: &str,
) {
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
    assert!(
        !reference.nodes.is_empty() && reference.nodes.iter().all(|(_, r)| r == release),
        "every node on {release}: {:?}",
        reference.nodes
    );
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
}

/// The crash points: before and after every task that is not a milestone
/// (a milestone only records that a schema point was reached), and inside
/// every backfill walk: after the first, second, middle, second-to-last and
/// last batch of each backfill (their counts from the reference run), and
/// after the first batch of the catch-up pass of a backfill's gate.
pub fn crash_points(tasks: &[PlanTask], batches: &BTreeMap<String, u64>) -> Vec<String> {
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

/// Kill a run of `dir` (until contract) on a database `seeded` makes at
/// `point`, resume it, compare with the reference. `Err` says what differed.
pub fn kill_and_resume<D: TestDb>(
    dir: &str,
    point: &str,
    seeded: &(dyn Fn() -> D + Sync),
    nodes: &[&str],
    reference: &Outcome,
) -> Result<(), String> {
    let db = seeded();
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let killed = apply(
        dir,
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
    let got = outcome(&db, &scratch, nodes);
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

/// Run `case` for every point, `threads` at a time; panics listing every
/// point whose case failed.
pub fn each_point(
    points: &[String],
    threads: usize,
    case: impl Fn(&str) -> Result<(), String> + Sync,
) {
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(point) = points.get(i) else { break };
                if let Err(e) = case(point) {
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
