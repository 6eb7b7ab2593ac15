//! `zerodown apply`, `resume`, `abort` and `status` on SQLite files: the
//! examples applied to their end state with their data, how runs stop and
//! go on, concurrent runs, the gates before contract. Each test has its own
//! scratch folder and database file.

mod support;

use std::time::{Duration, Instant};

use support::sqlite::{
    self, apply, checksums, command, describe, history, kill_db, plan_tasks, resume, state_json,
    zd_leftovers, SqliteDb, KILL_DIR as KILL, KILL_FINAL,
};
use support::Scratch;

const SLOW: &str = "tests/inputs/sqlite-slow";
const QUICKSTART: &str = "plans/sqlite-quickstart";

/// sqlite-slow at version 1 with `rows` items.
fn slow_db(scratch: &Scratch, rows: u32) -> SqliteDb {
    let db = SqliteDb::new(scratch, "slow.db");
    db.load(format!("{SLOW}/schemas/0001.sql"));
    db.exec(&format!(
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {rows})
         INSERT INTO items (id, label, legacy) SELECT n, 'Item ' || n, 'x' FROM g"
    ));
    db
}

/// Wait until `f` holds (or fail after `limit`).
fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn released(scratch: &Scratch, node: &str) -> Option<String> {
    std::fs::read_to_string(scratch.path("fleet").join(format!("{node}.release"))).ok()
}

// ---------------------------------------------------------------------------
// The examples apply and end in the expected catalog state, with their data.

/// The quick start after an uninterrupted run from an empty file.
const QUICKSTART_FINAL: &str = "\
column notes.body #2 TEXT NOT NULL
column notes.id #0 INTEGER PK1
column notes.pinned #3 INTEGER
column notes.user_id #1 INTEGER NOT NULL
column users.email #1 TEXT
column users.full_name #2 TEXT NOT NULL DEFAULT ''
column users.id #0 INTEGER PK1
foreign-key notes.user_id -> users(id) ON UPDATE NO ACTION ON DELETE NO ACTION
index notes.notes_user_idx origin c (user_id)
index notes_user_idx: CREATE INDEX \"notes_user_idx\" ON \"notes\" (\"user_id\")
table notes: CREATE TABLE notes (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id), body TEXT NOT NULL, \"pinned\" INTEGER)
table users: CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, \"full_name\" TEXT DEFAULT '' NOT NULL)
";

#[test]
fn the_quick_start_applies_version_by_version_from_an_empty_file() {
    let scratch = Scratch::new();
    let db = SqliteDb::new(&scratch, "quick.db");
    let state = scratch.path("state.json");

    // Version 1 has no fleet but no contract work either: nothing an old
    // release uses is removed, so the run need not stop before contract.
    apply(QUICKSTART, &db, &state, &["--to", "1"], &scratch, &[]).expect(0, "--to 1");
    assert!(db.has_column("users", "name") && !db.has_column("users", "full_name"));
    assert_eq!(
        db.rows("SELECT id, name, email FROM users ORDER BY id"),
        vec![
            vec![
                Some("1".into()),
                Some("Ada Lovelace".into()),
                Some("ada@example.com".into())
            ],
            vec![
                Some("2".into()),
                Some("Alan Turing".into()),
                Some("alan@example.com".into())
            ],
            vec![Some("3".into()), Some("Grace Hopper".into()), None],
        ],
        "the seed ran once"
    );
    assert_eq!(db.count("SELECT count(*) FROM notes"), 5);
    let status = command("status", &db, &state, &scratch);
    status.expect(0, "status");
    assert!(
        status.stdout.contains("version 1: complete"),
        "{}",
        status.stdout
    );
    assert!(!status.stdout.contains("version 2"), "{}", status.stdout);

    let notes = db.rows("SELECT id, user_id, body FROM notes ORDER BY id");
    apply(
        QUICKSTART,
        &db,
        &state,
        &["--until", "contract"],
        &scratch,
        &[],
    )
    .expect(0, "the rest");
    assert_eq!(describe(&db), QUICKSTART_FINAL);
    assert!(zd_leftovers(&db).is_empty(), "{:?}", zd_leftovers(&db));
    assert_eq!(
        db.rows("SELECT id, full_name FROM users ORDER BY id"),
        vec![
            vec![Some("1".into()), Some("Ada Lovelace".into())],
            vec![Some("2".into()), Some("Alan Turing".into())],
            vec![Some("3".into()), Some("Grace Hopper".into())],
        ],
        "names survive the rename"
    );
    assert_eq!(
        db.rows("SELECT id, user_id, body FROM notes ORDER BY id"),
        notes
    );
    assert_eq!(
        db.count("SELECT count(*) FROM notes WHERE pinned IS NOT 0"),
        0
    );
    let tasks = plan_tasks(QUICKSTART);
    let rows = history(&db);
    assert_eq!(
        rows.len(),
        tasks.len(),
        "one history row per task: {rows:?}"
    );
    assert!(rows.iter().all(|(_, s)| s == "done"), "{rows:?}");

    let before = (describe(&db), checksums(&db));
    let again = apply(
        QUICKSTART,
        &db,
        &state,
        &["--until", "contract"],
        &scratch,
        &[],
    );
    again.expect(0, "a second apply");
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);
    assert_eq!((describe(&db), checksums(&db)), before);
}

#[test]
fn the_kill_plan_applies_to_its_expected_schema_with_every_row() {
    let scratch = Scratch::new();
    let db = kill_db(&scratch);
    let names = db.rows("SELECT id, name FROM accounts ORDER BY id");
    let amounts = db.rows("SELECT id, amount FROM payments ORDER BY id");
    let sessions = db.rows("SELECT id, token FROM old_sessions ORDER BY id");
    let state = scratch.path("state.json");
    apply(KILL, &db, &state, &["--until", "contract"], &scratch, &[]).expect(0, "apply");

    assert_eq!(describe(&db), KILL_FINAL);
    assert!(zd_leftovers(&db).is_empty(), "{:?}", zd_leftovers(&db));
    assert_eq!(
        db.rows("SELECT id, full_name FROM accounts ORDER BY id"),
        names,
        "names survive the rename"
    );
    assert_eq!(
        db.rows("SELECT id, amount FROM payments ORDER BY id"),
        amounts,
        "amounts survive the type change"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM payments WHERE typeof(amount) <> 'integer'"),
        0,
        "amounts are integers now"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM payments WHERE amount IN (9223372036854775807, -9223372036854775808)"),
        2
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM accounts WHERE tier IS NOT CASE WHEN id % 3 = 0 THEN 'gold' ELSE 'basic' END"
        ),
        0
    );
    assert_eq!(
        db.rows("SELECT id, token FROM zd_trash_old_sessions__v2 ORDER BY id"),
        sessions,
        "the trashed table keeps its rows"
    );

    let tasks = plan_tasks(KILL);
    let rows = history(&db);
    assert_eq!(
        rows.len(),
        tasks.len(),
        "one history row per task: {rows:?}"
    );
    for t in &tasks {
        assert!(
            rows.iter().any(|(id, s)| id == &t.id && s == "done"),
            "{}: {rows:?}",
            t.id
        );
    }
    let st = state_json(&state);
    assert_eq!(st["status"], "done");
    let batches = &st["backfills"]["v2/migrate/backfill/accounts.tier/backfill"];
    assert_eq!(batches["batches"].as_u64(), Some(8), "{batches}");
    assert_eq!(batches["rows"].as_u64(), Some(3000), "{batches}");
    assert_eq!(released(&scratch, "app-1").as_deref(), Some("2.0.0\n"));
    assert_eq!(released(&scratch, "app-2").as_deref(), Some("2.0.0\n"));

    let before = (describe(&db), checksums(&db));
    let again = apply(KILL, &db, &state, &["--until", "contract"], &scratch, &[]);
    again.expect(0, "a second apply");
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);
    assert_eq!((describe(&db), checksums(&db)), before);
}

// ---------------------------------------------------------------------------
// Runs that stop and go on.

fn triggers(db: &SqliteDb) -> String {
    db.scalar("SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema WHERE type = 'trigger' ORDER BY name)")
        .unwrap_or_default()
}

#[test]
fn until_expand_then_migrate_then_contract_stop_where_they_should() {
    let scratch = Scratch::new();
    let db = kill_db(&scratch);
    let state = scratch.path("state.json");
    let status = || {
        let out = command("status", &db, &state, &scratch);
        out.expect(0, "status");
        out.stdout
    };
    assert!(status().contains("no zerodown history"), "{}", status());

    let out = apply(KILL, &db, &state, &["--until", "expand"], &scratch, &[]);
    out.expect(0, "--until expand");
    assert!(
        out.stdout.contains("Stopped after expand"),
        "{}",
        out.stdout
    );
    for (table, column) in [
        ("accounts", "name"),
        ("accounts", "full_name"),
        ("accounts", "tier"),
        ("accounts", "legacy"),
        ("payments", "zd_new_amount"),
    ] {
        assert!(
            db.has_column(table, column),
            "{table}.{column} after expand"
        );
    }
    assert_eq!(
        triggers(&db),
        "zd_sync_accounts_name_ins,zd_sync_accounts_name_upd,zd_sync_payments_amount_ins,zd_sync_payments_amount_upd"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name IN ('zd_copy_accounts_name_idx', 'payments_account_idx')"),
        2
    );
    assert_eq!(
        db.count("SELECT count(*) FROM accounts WHERE full_name = '' AND tier IS NULL"),
        3000,
        "nothing backfilled yet"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM payments WHERE zd_new_amount IS NULL"),
        6000
    );
    assert_eq!(state_json(&state)["status"], "stopped");
    let mid = status();
    assert!(
        mid.contains("version 2: reached expand (expand 9/9, migrate 0/3, rollout 0/1, gate 0/3, contract 0/5)"),
        "{mid}"
    );

    let out = apply(KILL, &db, &state, &["--until", "migrate"], &scratch, &[]);
    out.expect(0, "--until migrate");
    assert!(
        out.stdout.contains("Stopped after migrate"),
        "{}",
        out.stdout
    );
    assert_eq!(
        db.count("SELECT count(*) FROM accounts WHERE full_name IS NOT name"),
        0
    );
    assert_eq!(
        db.count("SELECT count(*) FROM accounts WHERE tier IS NULL"),
        0
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM payments WHERE zd_new_amount IS NOT CAST(amount AS INTEGER)"
        ),
        0
    );
    assert!(
        db.has_column("accounts", "name"),
        "the old column stays until contract"
    );
    assert_eq!(
        released(&scratch, "app-1"),
        None,
        "no node rolled before contract is allowed"
    );
    assert!(history(&db)
        .iter()
        .all(|(id, _)| !id.starts_with("v2/contract/") && !id.starts_with("v2/rollout/")));
    let mid = status();
    assert!(
        mid.contains("version 2: reached migrate (expand 9/9, migrate 3/3, rollout 0/1, gate 0/3, contract 0/5)"),
        "{mid}"
    );

    let out = apply(KILL, &db, &state, &["--until", "contract"], &scratch, &[]);
    out.expect(0, "--until contract");
    assert!(
        out.stdout.contains("Done: version 2 applied."),
        "{}",
        out.stdout
    );
    assert_eq!(describe(&db), KILL_FINAL);
    assert_eq!(state_json(&state)["status"], "done");
    let end = status();
    assert!(
        end.contains(
            "version 2: complete (expand 9/9, migrate 3/3, rollout 1/1, gate 3/3, contract 5/5)"
        ),
        "{end}"
    );
}

#[test]
fn abort_after_expand_restores_the_schema_and_apply_runs_again() {
    let scratch = Scratch::new();
    let db = kill_db(&scratch);
    let before = (describe(&db), checksums(&db));
    let state = scratch.path("state.json");
    apply(KILL, &db, &state, &["--until", "expand"], &scratch, &[]).expect(0, "--until expand");
    assert_ne!(describe(&db), before.0);

    let out = command("abort", &db, &state, &scratch);
    out.expect(0, "abort");
    assert!(out.stdout.contains("Aborted"), "{}", out.stdout);
    // zerodown's history stays (describe leaves it out); all else is as before.
    assert_eq!((describe(&db), checksums(&db)), before);
    assert!(
        history(&db).iter().all(|(_, s)| s == "undone"),
        "{:?}",
        history(&db)
    );
    assert_eq!(state_json(&state)["status"], "aborted");

    let again = command("abort", &db, &state, &scratch);
    again.expect(1, "a second abort");
    assert!(again.stderr.contains("already aborted"), "{}", again.stderr);

    apply(KILL, &db, &state, &["--until", "contract"], &scratch, &[])
        .expect(0, "apply after abort");
    assert_eq!(describe(&db), KILL_FINAL);
    assert!(
        history(&db).iter().all(|(_, s)| s == "done"),
        "{:?}",
        history(&db)
    );
}

#[test]
fn abort_is_refused_once_contract_started() {
    let scratch = Scratch::new();
    let db = kill_db(&scratch);
    let state = scratch.path("state.json");
    let first_contract = "v2/contract/rename-column/accounts.name->full_name/drop-old-column";
    let killed = apply(
        KILL,
        &db,
        &state,
        &["--until", "contract"],
        &scratch,
        &[("ZERODOWN_FAILPOINT", &format!("after:{first_contract}"))],
    );
    assert_eq!(
        (killed.code, killed.signal),
        (None, Some(6)),
        "killed at the failpoint: {killed:?}"
    );
    let before = describe(&db);
    let out = command("abort", &db, &state, &scratch);
    out.expect(1, "abort after contract started");
    assert!(out.stderr.contains("cannot abort"), "{}", out.stderr);
    assert!(
        out.stderr.contains("zerodown resume"),
        "points to resume: {}",
        out.stderr
    );
    assert_eq!(describe(&db), before, "a refused abort changed the schema");
    resume(&db, &state, &[], &scratch).expect(0, "resume");
    assert_eq!(describe(&db), KILL_FINAL);
}

// ---------------------------------------------------------------------------
// Two concurrent runs.

#[test]
fn a_second_concurrent_apply_is_refused_at_once_and_the_first_completes() {
    let scratch = Scratch::new();
    let db = slow_db(&scratch, 1500);
    let (first_state, second_state) = (scratch.path("first.json"), scratch.path("second.json"));
    let first_arg = first_state.display().to_string();
    let mut first = sqlite::spawn(
        &[
            "apply",
            SLOW,
            "--database",
            &db.url,
            "--state",
            &first_arg,
            "--until",
            "contract",
        ],
        &scratch,
        &[],
    );
    let lock_file = format!("{}.zerodown.lock", db.path.display());
    wait_for(
        "the first run to take the run lock",
        Duration::from_secs(20),
        || std::fs::read_to_string(&lock_file).is_ok_and(|s| s.starts_with("pid ")),
    );
    // `--lock-wait 0s`: at once (waiting for a session going away: tests/run_lock.rs).
    let started = Instant::now();
    let second = apply(
        SLOW,
        &db,
        &second_state,
        &["--until", "contract", "--lock-wait", "0s"],
        &scratch,
        &[],
    );
    let waited = started.elapsed();
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first run should still be running"
    );
    second.expect(1, "second apply");
    assert!(
        second.stderr.contains(&format!(
            "another zerodown run holds the lock on this database (pid {}",
            first.id()
        )),
        "{}",
        second.stderr
    );
    assert!(
        waited < Duration::from_secs(3),
        "refused at once, not queued: took {waited:?}"
    );
    assert!(!second_state.exists(), "the refused run wrote a state file");

    let first = sqlite::Run::from_output(first.wait_with_output().unwrap());
    first.expect(0, "first apply");
    let tasks = plan_tasks(SLOW);
    let rows = history(&db);
    assert_eq!(
        rows.len(),
        tasks.len(),
        "one history row per task: {rows:?}"
    );
    for t in &tasks {
        let mine: Vec<_> = rows.iter().filter(|(id, _)| id == &t.id).collect();
        assert_eq!(mine.len(), 1, "{}: {mine:?}", t.id);
        assert_eq!(mine[0].1, "done", "{}", t.id);
    }
    assert_eq!(
        db.count("SELECT count(*) FROM items WHERE slug IS NOT lower(label)"),
        0
    );
    assert!(!db.has_column("items", "legacy"));
}

// ---------------------------------------------------------------------------
// The gates before contract.

#[test]
fn gates_catch_up_old_writes_and_hold_contract_back_until_the_data_is_right() {
    let scratch = Scratch::new();
    let db = kill_db(&scratch);
    let state = scratch.path("state.json");
    apply(KILL, &db, &state, &["--until", "migrate"], &scratch, &[]).expect(0, "--until migrate");

    // Release 1.0.0 still runs: it inserts accounts by `name` and knows no
    // tier; and something writes the twin column behind the trigger's back.
    db.exec(
        "INSERT INTO accounts (id, name, email) VALUES (5001, 'late one', NULL), (5002, 'late two', 'l2@example.com');
         INSERT INTO payments (id, account_id, amount) VALUES (9001, 5001, '77');
         UPDATE payments SET zd_new_amount = 0 WHERE id = 7;",
    );
    let out = apply(KILL, &db, &state, &["--until", "contract"], &scratch, &[]);
    out.expect(1, "contract over a desynced twin column");
    assert!(
        out.stderr
            .contains("v2/contract/alter-column-type/payments.amount/check-synced")
            && out.stderr.contains("gate failed: 1 row(s)"),
        "{}",
        out.stderr
    );
    assert!(
        db.has_column("payments", "zd_new_amount") && db.has_column("accounts", "name"),
        "contract started past a failed gate"
    );
    assert!(
        history(&db)
            .iter()
            .all(|(id, s)| !id.starts_with("v2/contract/")
                || s != "done"
                || id.ends_with("/gate")
                || id.ends_with("/check-synced")),
        "{:?}",
        history(&db)
    );

    db.exec("UPDATE payments SET zd_new_amount = CAST(amount AS INTEGER) WHERE id = 7");
    resume(&db, &state, &[], &scratch).expect(0, "resume once the data is right");
    assert_eq!(describe(&db), KILL_FINAL);
    assert_eq!(
        db.rows("SELECT id, full_name, tier FROM accounts WHERE id > 5000 ORDER BY id"),
        vec![
            vec![
                Some("5001".into()),
                Some("late one".into()),
                Some("gold".into())
            ],
            vec![
                Some("5002".into()),
                Some("late two".into()),
                Some("basic".into())
            ],
        ],
        "the gate's catch-up filled the old release's rows"
    );
    assert_eq!(
        db.scalar("SELECT amount FROM payments WHERE id = 9001")
            .as_deref(),
        Some("77")
    );
    assert_eq!(
        db.count("SELECT count(*) FROM payments WHERE id = 7 AND typeof(amount) = 'integer'"),
        1
    );
}

/// SQLite's `CAST('twelve' AS INTEGER)` is 0, without an error: a type
/// change that cast would lose the value. The twin column converts by
/// assignment instead (lossless or not at all), and the gate holds
/// contract back while a value did not convert.
#[test]
fn a_value_that_does_not_convert_holds_contract_back_instead_of_becoming_zero() {
    let scratch = Scratch::new();
    let db = kill_db(&scratch);
    let state = scratch.path("state.json");
    apply(KILL, &db, &state, &["--until", "migrate"], &scratch, &[]).expect(0, "--until migrate");

    // Release 1.0.0 still writes amounts as text.
    db.exec("INSERT INTO payments (id, account_id, amount) VALUES (9001, 1, 'twelve'), (9002, 1, '0013');");
    let out = apply(KILL, &db, &state, &["--until", "contract"], &scratch, &[]);
    out.expect(1, "contract over a value that does not convert");
    assert!(
        out.stderr
            .contains("v2/contract/alter-column-type/payments.amount/check-synced")
            && out.stderr.contains("gate failed: 1 row(s)"),
        "{}",
        out.stderr
    );
    assert!(
        db.has_column("payments", "zd_new_amount"),
        "contract started past a failed gate"
    );

    db.exec("UPDATE payments SET amount = '12' WHERE id = 9001");
    resume(&db, &state, &[], &scratch).expect(0, "resume once the data is right");
    assert_eq!(describe(&db), KILL_FINAL);
    assert_eq!(
        db.rows("SELECT id, amount, typeof(amount) FROM payments WHERE id > 9000 ORDER BY id"),
        vec![
            vec![
                Some("9001".into()),
                Some("12".into()),
                Some("integer".into())
            ],
            vec![
                Some("9002".into()),
                Some("13".into()),
                Some("integer".into())
            ],
        ]
    );
}

/// The state file records the plan directory absolute: a run started with
/// a relative path resumes from any working directory.
#[test]
fn a_run_started_with_a_relative_path_resumes_from_another_directory() {
    let scratch = Scratch::new();
    let db = support::sqlite::kill_db(&scratch);
    let state = scratch.path("state.json");
    support::sqlite::apply(KILL, &db, &state, &["--until", "expand"], &scratch, &[])
        .expect(0, "apply --until expand");
    let elsewhere = scratch.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zerodown"))
        .args(["resume", "--database", &db.url, "--state"])
        .arg(&state)
        // Not into the rollout: the fleet's `./deploy/…` steps are, as in a
        // shell, relative to the working directory.
        .args(["--until", "migrate"])
        .current_dir(&elsewhere)
        .env("ZERODOWN_DEMO_FLEET", support::sqlite::fleet_env(&scratch))
        .env_remove("ZERODOWN_FAILPOINT")
        .output()
        .expect("run zerodown");
    let out = support::sqlite::Run::from_output(out);
    out.expect(0, "resume from another directory");
    let migrated = history(&db)
        .into_iter()
        .filter(|(id, status)| id.contains("/migrate/") && status == "done")
        .count();
    assert!(migrated > 0, "resume ran migrate:\n{}", out.stdout);
}
