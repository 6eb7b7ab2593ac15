//! Kill and resume: a run killed at any point (before or after any task,
//! between any backfill batch and its checkpoint) and then resumed ends in
//! exactly the database an uninterrupted run gives: same schema, same rows.
//!
//! The crash comes from the test-only switch `ZERODOWN_FAILPOINT`, which
//! aborts the process like SIGKILL at the chosen point (no destructor, no
//! flush, the connection just drops).

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use support::pg::{
    apply, checksums, describe, history, plan_tasks, resume, state_json, zd_leftovers, PlanTask,
};
use support::{PgDb, Scratch};

const DIR: &str = "tests/inputs/pg-kill";

/// Version 1 with data: 3000 accounts (some without email), 6000 payments
/// (amounts at the integer limits among them). The tier backfill walks
/// accounts in batches of 400; the conversion of payments.amount takes two
/// batches of the default 5000.
const SEED: &str = "
INSERT INTO accounts (name, email, created_at)
    SELECT 'account ' || g, CASE WHEN g % 5 = 0 THEN NULL ELSE 'a' || g || '@example.com' END,
           timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
    FROM generate_series(1, 3000) g;
INSERT INTO payments (account_id, amount, memo)
    SELECT 1 + g % 3000, CASE g WHEN 1 THEN 2147483647 WHEN 2 THEN -2147483648 ELSE (g * 7919) % 100000 - 50000 END,
           CASE WHEN g % 4 = 0 THEN NULL ELSE 'memo ' || g END
    FROM generate_series(1, 6000) g;
";

/// The schema after an uninterrupted run.
const FINAL_SCHEMA: &str = "schema zerodown
column accounts.id bigint NOT NULL DEFAULT nextval('accounts_id_seq'::regclass)
column accounts.email text
column accounts.created_at timestamp with time zone NOT NULL DEFAULT now()
column accounts.full_name text NOT NULL
column accounts.tier text
column payments.id bigint NOT NULL DEFAULT nextval('payments_id_seq'::regclass)
column payments.account_id bigint NOT NULL
column payments.memo text
column payments.amount bigint NOT NULL
constraint accounts.accounts_pkey PRIMARY KEY (id)
constraint payments.payments_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts(id)
constraint payments.payments_pkey PRIMARY KEY (id)
index CREATE INDEX accounts_name_idx ON public.accounts USING btree (full_name)
index CREATE UNIQUE INDEX accounts_pkey ON public.accounts USING btree (id)
index CREATE INDEX payments_account_idx ON public.payments USING btree (account_id)
index CREATE UNIQUE INDEX payments_pkey ON public.payments USING btree (id)
";

fn seeded() -> PgDb {
    let db = PgDb::new();
    // The crash is the client's, never the server's: the server need not
    // wait for the disk at each commit, which makes each case faster.
    db.exec(&format!(
        "ALTER DATABASE \"{}\" SET synchronous_commit = off",
        db.name
    ));
    db.load(format!("{DIR}/schemas/0001.sql"));
    db.exec(SEED);
    db
}

/// What a complete run leaves: the catalog, every row, the history, the fleet.
#[derive(Debug, PartialEq)]
struct Outcome {
    schema: String,
    rows: BTreeMap<String, String>,
    history: Vec<(String, String)>,
    nodes: Vec<(String, String)>,
}

fn outcome(db: &PgDb, scratch: &Scratch) -> Outcome {
    let mut nodes: Vec<(String, String)> = ["app-1", "app-2"]
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
        schema: describe(db),
        rows: checksums(db),
        history: history(db),
        nodes,
    }
}

/// The crash points: before and after every task that is not a milestone
/// (a milestone only records that a schema point was reached), and inside
/// every backfill walk: after the first, second, middle, second-to-last and
/// last batch of each backfill (their counts from the reference run), and
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

/// Kill the run at `point`, resume it, compare with the reference. `Err`
/// says what differed.
fn kill_and_resume(point: &str, reference: &Outcome) -> Result<(), String> {
    let db = seeded();
    let scratch = Scratch::new();
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
fn a_run_killed_at_any_point_resumes_to_the_database_of_an_uninterrupted_run() {
    let tasks = plan_tasks(DIR);

    // The reference: one run that nothing interrupts.
    let db = seeded();
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let before_rows = db.rows("SELECT id, name FROM accounts ORDER BY id");
    let before_amounts = db.rows("SELECT id, amount::text FROM payments ORDER BY id");
    apply(DIR, &db, &state, &["--until", "contract"], &scratch, &[]).expect(0, "reference run");
    let reference = outcome(&db, &scratch);
    assert_eq!(reference.schema, FINAL_SCHEMA);
    assert!(zd_leftovers(&db).is_empty(), "{:?}", zd_leftovers(&db));
    assert_eq!(
        db.rows("SELECT id, full_name FROM accounts ORDER BY id"),
        before_rows,
        "names survive the rename"
    );
    assert_eq!(
        db.rows("SELECT id, amount::text FROM payments ORDER BY id"),
        before_amounts,
        "amounts survive the type change"
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM accounts WHERE tier IS DISTINCT FROM CASE WHEN id % 3 = 0 THEN 'gold' ELSE 'basic' END")
            .as_deref(),
        Some("0")
    );
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
    // Four cases at a time: a case mostly waits, on the server, on fsync
    // and on the fleet's health checks (healthy for a second in a row).
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(point) = points.get(i) else { break };
                if let Err(e) = kill_and_resume(point, &reference) {
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
