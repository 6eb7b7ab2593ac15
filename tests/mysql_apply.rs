//! `zerodown apply`, `resume`, `abort`, `status` and `purge` against a real
//! MySQL / MariaDB server (tested on MariaDB 10.11): every MySQL example
//! plan applied to its end state with its data, concurrent runs, bad input,
//! and how runs stop and go on. Each test has its own database and
//! scratch folder.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::mysql::{checksums, describe, history, zd_leftovers, MyDb};
use support::run::{
    self, apply, assert_no_password, copy_plans, examples, lines, plan_tasks, resume,
    starting_schema, state_json, wait_for,
};
use support::Scratch;

// ---------------------------------------------------------------------------
// Every example applies and ends in the expected catalog state, with its data.

/// mysql-shop at version 1 with data: customers (one without email, one
/// with a name outside ASCII), invoices (amounts at the INT limits, one
/// without currency), the audit log the plan drops.
const MYSQL_SHOP_SEED: &str = "
INSERT INTO customers (id, name, email, created_at) VALUES
    (1, 'Ada Lovelace', 'ada@example.com', '2024-01-01 10:00:00'),
    (2, 'Grace Hopper', NULL, '2024-01-02 11:00:00'),
    (3, 'Édith Piaf', 'edith@example.com', '2024-01-03 12:00:00');
INSERT INTO customers (id, name, email, created_at)
    SELECT seq, CONCAT('customer ', seq), CONCAT('c', seq, '@example.com'), '2024-02-01 00:00:00' + INTERVAL seq HOUR
    FROM seq_4_to_1200;
INSERT INTO invoices (id, customer_id, amount, currency, issued_at) VALUES
    (1, 1, 2147483647, 'EUR', '2024-03-01 09:00:00'),
    (2, 2, -2147483648, NULL, '2024-03-02 09:00:00'),
    (3, 3, 0, 'GBP', '2024-03-03 09:00:00');
INSERT INTO invoices (id, customer_id, amount, issued_at)
    SELECT seq, 1 + seq % 1200, seq * 37, '2024-04-01 00:00:00' + INTERVAL seq MINUTE
    FROM seq_4_to_7000;
INSERT INTO audit_log (message) SELECT CONCAT('event ', seq) FROM seq_1_to_50;
";

/// mysql-shop after version 3, read from information_schema (MariaDB 10.11;
/// sorted in the server's case-insensitive collation).
const MYSQL_SHOP_FINAL: &str = "
table customers BASE TABLE
table invoices BASE TABLE
table zerodown_history BASE TABLE
column customers.id bigint(20) NOT NULL auto_increment
column customers.email varchar(200) DEFAULT NULL
column customers.created_at datetime NOT NULL DEFAULT current_timestamp()
column customers.display_name varchar(100) NOT NULL
column customers.tier varchar(10) NOT NULL DEFAULT 'basic'
column customers.region varchar(20) NOT NULL
column invoices.id bigint(20) NOT NULL auto_increment
column invoices.customer_id bigint(20) NOT NULL
column invoices.issued_at datetime NOT NULL DEFAULT current_timestamp()
column invoices.amount bigint(20) NOT NULL
column invoices.memo varchar(500) NOT NULL
index customers.customers_email_key UNIQUE (email)
index customers.PRIMARY UNIQUE (id)
index invoices.invoices_customer_issued_key UNIQUE (customer_id, issued_at)
index invoices.invoices_issued_idx (issued_at)
index invoices.PRIMARY UNIQUE (id)
constraint customers.customers_email_key UNIQUE (email)
constraint customers.PRIMARY PRIMARY KEY (id)
constraint invoices.invoices_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) ON UPDATE RESTRICT ON DELETE RESTRICT
constraint invoices.invoices_customer_issued_key UNIQUE (customer_id, issued_at)
constraint invoices.PRIMARY PRIMARY KEY (id)
";

fn check_mysql_shop(db: &MyDb) {
    // Customers: the names survive the rename, every row got its region
    // and the tier's default.
    let want: Vec<Vec<Option<String>>> = [
        [
            "1",
            "Ada Lovelace",
            "ada@example.com",
            "basic",
            "eu-west",
            "2024-01-01 10:00:00",
        ],
        [
            "2",
            "Grace Hopper",
            "",
            "basic",
            "eu-west",
            "2024-01-02 11:00:00",
        ],
        [
            "3",
            "Édith Piaf",
            "edith@example.com",
            "basic",
            "eu-west",
            "2024-01-03 12:00:00",
        ],
        [
            "1200",
            "customer 1200",
            "c1200@example.com",
            "basic",
            "eu-west",
            "2024-03-22 00:00:00",
        ],
    ]
    .iter()
    .map(|r| r.iter().map(|s| Some(s.to_string())).collect())
    .collect();
    assert_eq!(
        db.rows(
            "SELECT id, display_name, IFNULL(email, ''), tier, region, created_at FROM customers \
             WHERE id <= 3 OR id = 1200 ORDER BY id"
        ),
        want
    );
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM customers WHERE id > 3 AND display_name = CONCAT('customer ', id) \
             AND email = CONCAT('c', id, '@example.com') AND region = 'eu-west'"
        ),
        1197,
        "every generated customer keeps its name and email and has a region"
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM customers"), 1200);
    // Invoices: amounts keep their values through the change to BIGINT;
    // every memo was backfilled.
    assert_eq!(
        db.rows("SELECT id, customer_id, amount, memo, issued_at FROM invoices WHERE id <= 3 ORDER BY id"),
        [
            ["1", "1", "2147483647", "", "2024-03-01 09:00:00"],
            ["2", "2", "-2147483648", "", "2024-03-02 09:00:00"],
            ["3", "3", "0", "", "2024-03-03 09:00:00"],
        ]
        .iter()
        .map(|r| r.iter().map(|s| Some(s.to_string())).collect::<Vec<_>>())
        .collect::<Vec<_>>()
    );
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM invoices WHERE id > 3 AND amount = id * 37 AND customer_id = 1 + id % 1200 \
             AND memo = '' AND issued_at = '2024-04-01 00:00:00' + INTERVAL id MINUTE"
        ),
        6997
    );
    // The table the plan dropped is gone, not in a trash.
    assert_eq!(
        db.count("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME LIKE '%audit\\_log%' AND TABLE_SCHEMA = DATABASE()"),
        0
    );
    // New code's writes work on the final schema, and its constraints hold.
    db.exec("INSERT INTO customers (display_name, email, region) VALUES ('New Person', 'new@example.com', 'us-east')");
    db.exec("INSERT INTO invoices (customer_id, amount, memo) VALUES (1, 9000000000, 'big')");
    assert_eq!(
        db.scalar("SELECT tier FROM customers WHERE email = 'new@example.com'")
            .as_deref(),
        Some("basic")
    );
    for refused in [
        "INSERT INTO invoices (customer_id, amount, memo) VALUES (999999, 1, 'orphan')",
        "INSERT INTO customers (display_name, email, region) VALUES ('Twin', 'new@example.com', 'x')",
    ] {
        let mut conn = support::runtime()
            .block_on(async { support::mysql::connect(&db.url).await });
        let result = support::runtime().block_on(async {
            use mysql_async::prelude::Queryable;
            let r = conn.query_drop(refused).await;
            let _ = conn.disconnect().await;
            r
        });
        assert!(result.is_err(), "the constraint should refuse: {refused}");
    }
}

#[test]
fn every_mysql_example_applies_until_contract_and_ends_in_its_expected_state() {
    let examples = examples("mysql");
    assert!(!examples.is_empty(), "no MySQL example in plans/");
    for dir in examples {
        let name = Path::new(&dir)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let (seed, final_schema, check): (&str, &str, fn(&MyDb)) = match name.as_str() {
            "mysql-shop" => (MYSQL_SHOP_SEED, MYSQL_SHOP_FINAL, check_mysql_shop),
            other => panic!(
                "the MySQL example plans/{other} has no expected end state in {}",
                file!()
            ),
        };
        let db = MyDb::new();
        let scratch = Scratch::new();
        db.load(starting_schema(&dir));
        db.exec(seed);
        // A user with a real password: it must never show up anywhere.
        let user = db.user_with_password();
        let state = scratch.path("state.json");
        let state_arg = state.display().to_string();
        let out = run::run(
            &[
                "apply",
                &dir,
                "--database",
                &user.url,
                "--state",
                &state_arg,
                "--until",
                "contract",
            ],
            &scratch,
            &[],
        );
        out.expect(0, &dir);
        assert!(
            out.stdout.contains("Done: version"),
            "{dir}: {}",
            out.stdout
        );

        assert_eq!(
            lines(&describe(&db)),
            lines(final_schema),
            "{dir}: catalog after contract"
        );
        assert!(
            zd_leftovers(&db).is_empty(),
            "{dir}: zerodown objects left: {:?}",
            zd_leftovers(&db)
        );
        let unfinished: Vec<_> = history(&db)
            .into_iter()
            .filter(|(_, s)| s != "done")
            .collect();
        assert!(
            unfinished.is_empty(),
            "{dir}: history rows not done: {unfinished:?}"
        );
        assert_eq!(
            history(&db).len(),
            plan_tasks(&dir).len(),
            "{dir}: one history row per task"
        );
        assert_eq!(state_json(&state)["status"], "done");
        check(&db);

        let fleet_log = std::fs::read_to_string(scratch.path("fleet.log")).unwrap_or_default();
        let out_and_log = run::Run {
            code: out.code,
            signal: out.signal,
            stdout: format!("{}\n{fleet_log}", out.stdout),
            stderr: out.stderr.clone(),
        };
        assert_no_password(&out_and_log, &user.password, &state);

        // Nothing left to do: a second apply says so and changes nothing.
        let before = (describe(&db), checksums(&db));
        let again = scratch.path("again.json");
        apply(&dir, &db, &again, &["--until", "contract"], &scratch, &[]).expect(0, "second apply");
        assert_eq!(
            (describe(&db), checksums(&db)),
            before,
            "{dir}: a second apply changed the database"
        );
    }
}

// ---------------------------------------------------------------------------
// Helpers for the tests below.

const KILL: &str = "tests/inputs/mysql-kill";
const SLOW: &str = "tests/inputs/mysql-slow";

/// mysql-kill at version 1 with a few rows.
fn kill_db() -> MyDb {
    let db = MyDb::new();
    db.load(format!("{KILL}/schemas/0001.sql"));
    db.exec(
        "INSERT INTO accounts (name, email) SELECT CONCAT('account ', seq), CONCAT('a', seq, '@example.com') FROM seq_1_to_1000;
         INSERT INTO payments (account_id, amount) SELECT 1 + seq % 1000, seq * 11 FROM seq_1_to_2000;",
    );
    db
}

/// mysql-slow at version 1 with `rows` items.
fn slow_db(rows: u32) -> MyDb {
    let db = MyDb::new();
    db.load(format!("{SLOW}/schemas/0001.sql"));
    db.exec(&format!(
        "INSERT INTO items (id, label, legacy) SELECT seq, CONCAT('Item ', seq), 'x' FROM seq_1_to_{rows}"
    ));
    db
}

// ---------------------------------------------------------------------------
// Two concurrent runs.

#[test]
fn a_second_concurrent_apply_is_refused_at_once_and_the_first_completes() {
    let db = slow_db(1500);
    let scratch = Scratch::new();
    let (first_state, second_state) = (scratch.path("first.json"), scratch.path("second.json"));
    let first_arg = first_state.display().to_string();
    let mut first = run::spawn(
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
    wait_for(
        "the first run to take the run lock",
        Duration::from_secs(20),
        || {
            db.scalar(&format!("SELECT IS_USED_LOCK('zerodown.{}')", db.name))
                .is_some()
        },
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
        second
            .stderr
            .contains("another zerodown run holds the lock on this database (connection "),
        "{}",
        second.stderr
    );
    assert!(
        waited < Duration::from_secs(3),
        "refused at once, not queued: took {waited:?}"
    );
    assert!(!second_state.exists(), "the refused run wrote a state file");

    let first = run::Run::from_output(first.wait_with_output().unwrap());
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
        db.count("SELECT COUNT(*) FROM items WHERE NOT slug <=> LOWER(label)"),
        0
    );
}

// ---------------------------------------------------------------------------
// Bad input: a clear error, nothing applied, never the password.

#[test]
fn an_unreachable_server_or_a_wrong_password_is_a_clear_error_without_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let db = kill_db();
    let before = (describe(&db), checksums(&db));
    let user = db.user_with_password();
    let wrong = user.url.replace(&user.password, "not-the-password");
    let unreachable = format!("mysql://root:{}@127.0.0.1:{port}/test", user.password);
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let state_arg = state.display().to_string();
    let started = Instant::now();
    for (url, shown, cause) in [
        (
            unreachable.as_str(),
            format!("error: cannot connect to mysql://root:***@127.0.0.1:{port}/test: "),
            "refused",
        ),
        (
            wrong.as_str(),
            format!("error: cannot connect to mysql://{}:***@", user.name),
            "access denied",
        ),
    ] {
        for command in ["apply", "resume", "status"] {
            let mut args = vec![command];
            if command == "apply" {
                args.push(KILL);
            }
            args.extend(["--database", url, "--state", &state_arg]);
            let out = run::run(&args, &scratch, &[]);
            out.expect(1, command);
            assert!(out.stderr.contains(&shown), "{}", out.stderr);
            assert!(
                out.stderr.to_lowercase().contains(cause),
                "the cause is shown: {}",
                out.stderr
            );
            assert_no_password(&out, &user.password, &state);
            assert_no_password(&out, "not-the-password", &state);
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "fails fast: {:?}",
        started.elapsed()
    );
    assert!(
        !state.exists(),
        "no state file for a run that never connected"
    );
    assert_eq!((describe(&db), checksums(&db)), before);
}

#[test]
fn a_plan_naming_a_table_the_database_lacks_applies_nothing() {
    let db = kill_db();
    let before = (describe(&db), checksums(&db));
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let state_arg = state.display().to_string();
    let user = db.user_with_password();
    let out = run::run(
        &[
            "apply",
            "tests/inputs/mysql-missing-table",
            "--database",
            &user.url,
            "--state",
            &state_arg,
            "--until",
            "contract",
        ],
        &scratch,
        &[],
    );
    out.expect(1, "apply with a missing table");
    assert!(
        out.stderr.contains("ghosts"),
        "the error names the table: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("0002_ghost_note.yaml"),
        "the error points into the plan: {}",
        out.stderr
    );
    assert!(out.stderr.contains("nothing was applied"), "{}", out.stderr);
    assert_no_password(&out, &user.password, &state);
    assert_eq!(
        (describe(&db), checksums(&db)),
        before,
        "the database changed (a history table is a change too)"
    );
    assert!(!state.exists(), "a state file for a run that never started");
}

// ---------------------------------------------------------------------------
// Runs that stop and go on.

#[test]
fn apply_over_an_unfinished_run_is_refused_and_resume_refuses_a_changed_plan() {
    let db = kill_db();
    let scratch = Scratch::new();
    let plans = copy_plans(KILL, &scratch);
    let state = scratch.path("state.json");
    let killed = apply(
        &plans,
        &db,
        &state,
        &["--until", "contract"],
        &scratch,
        &[(
            "ZERODOWN_FAILPOINT",
            "after:v2/expand/add-column/accounts.tier/add-column",
        )],
    );
    assert_eq!(
        (killed.code, killed.signal),
        (None, Some(6)),
        "killed at the failpoint: {killed:?}"
    );

    let again = apply(&plans, &db, &state, &["--until", "contract"], &scratch, &[]);
    again.expect(1, "apply over an unfinished run");
    assert!(
        again.stderr.contains("records an unfinished run")
            && again
                .stderr
                .contains(&format!("zerodown resume --state {}", state.display())),
        "{}",
        again.stderr
    );

    let plan_file = Path::new(&plans).join("0002_rename_retype_backfill.yaml");
    let original = std::fs::read_to_string(&plan_file).unwrap();
    std::fs::write(
        &plan_file,
        original.replace("batch_size: 400", "batch_size: 300"),
    )
    .unwrap();
    let before = (describe(&db), checksums(&db));
    let refused = resume(&db, &state, &[], &scratch);
    refused.expect(1, "resume with a changed plan");
    assert!(
        refused.stderr.contains("changed since the run started")
            && refused.stderr.contains("0002_rename_retype_backfill.yaml"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        (describe(&db), checksums(&db)),
        before,
        "a refused resume changed the database"
    );

    std::fs::write(&plan_file, original).unwrap();
    resume(&db, &state, &[], &scratch).expect(0, "resume with the plan restored");
    assert!(zd_leftovers(&db).is_empty(), "{:?}", zd_leftovers(&db));
    assert!(!db.has_column("accounts", "name") && db.has_column("accounts", "full_name"));
}

#[test]
fn until_expand_then_migrate_then_contract_stop_where_they_should() {
    let db = kill_db();
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let released = |node: &str| {
        std::fs::read_to_string(scratch.path("fleet").join(format!("{node}.release"))).ok()
    };

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
        ("payments", "zd_new_amount"),
    ] {
        assert!(
            db.has_column(table, column),
            "{table}.{column} after expand"
        );
    }
    assert_eq!(
        db.scalar(
            "SELECT GROUP_CONCAT(TRIGGER_NAME ORDER BY TRIGGER_NAME) FROM information_schema.TRIGGERS \
             WHERE TRIGGER_SCHEMA = DATABASE()"
        )
        .as_deref(),
        Some("zd_sync_accounts_name_ins,zd_sync_accounts_name_upd,zd_sync_payments_amount_ins,zd_sync_payments_amount_upd")
    );
    assert_eq!(
        db.count(
            "SELECT COUNT(DISTINCT INDEX_NAME) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
             AND INDEX_NAME IN ('zd_copy_accounts_name_idx', 'accounts_created_idx')"
        ),
        2
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM accounts WHERE full_name IS NULL AND tier IS NULL"),
        1000,
        "nothing backfilled yet"
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM payments WHERE zd_new_amount IS NULL"),
        2000
    );
    assert!(
        history(&db)
            .iter()
            .all(|(id, _)| !id.starts_with("v2/migrate/")),
        "{:?}",
        history(&db)
    );
    assert_eq!(state_json(&state)["status"], "stopped");

    let out = apply(KILL, &db, &state, &["--until", "migrate"], &scratch, &[]);
    out.expect(0, "--until migrate");
    assert!(
        out.stdout.contains("Stopped after migrate"),
        "{}",
        out.stdout
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM accounts WHERE NOT full_name <=> name"),
        0
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM accounts WHERE tier IS NULL"),
        0
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM payments WHERE NOT zd_new_amount <=> amount"),
        0
    );
    assert!(
        db.has_column("accounts", "name"),
        "the old column stays until contract"
    );
    assert_eq!(
        released("app-1"),
        None,
        "no node rolled before contract is allowed"
    );
    assert!(history(&db)
        .iter()
        .all(|(id, _)| !id.starts_with("v2/contract/") && !id.starts_with("v2/rollout/")));

    let out = apply(KILL, &db, &state, &["--until", "contract"], &scratch, &[]);
    out.expect(0, "--until contract");
    assert!(
        out.stdout.contains("Done: version 2 applied."),
        "{}",
        out.stdout
    );
    assert!(!db.has_column("accounts", "name") && !db.has_column("payments", "zd_new_amount"));
    assert_eq!(
        db.scalar(
            "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = 'payments' AND COLUMN_NAME = 'amount'"
        )
        .as_deref(),
        Some("bigint(20)")
    );
    assert!(zd_leftovers(&db).is_empty(), "{:?}", zd_leftovers(&db));
    assert_eq!(released("app-1").as_deref(), Some("2.0.0\n"));
    assert_eq!(released("app-2").as_deref(), Some("2.0.0\n"));
    assert_eq!(state_json(&state)["status"], "done");
}

#[test]
fn abort_after_expand_restores_the_schema_and_apply_runs_again() {
    let db = kill_db();
    let before = (describe(&db), checksums(&db));
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let state_arg = state.display().to_string();
    apply(KILL, &db, &state, &["--until", "expand"], &scratch, &[]).expect(0, "--until expand");
    assert_ne!(describe(&db), before.0);

    let out = run::run(
        &["abort", "--database", &db.url, "--state", &state_arg],
        &scratch,
        &[],
    );
    out.expect(0, "abort");
    assert!(out.stdout.contains("Aborted"), "{}", out.stdout);
    assert!(
        out.stdout.contains("Kept, changed in place by expand")
            && out.stdout.contains(
                "  - v2/expand/rename-column/accounts.name->full_name/make-old-nullable: "
            ),
        "{}",
        out.stdout
    );
    let after = (describe(&db), checksums(&db));
    // zerodown's history table stays; everything else is as before but
    // what expand changed in place, which abort keeps: here the renamed
    // column made nullable (so new code could insert without it).
    assert_eq!(
        lines(&after.0.replace("table zerodown_history BASE TABLE\n", "")),
        lines(&before.0.replace(
            "column accounts.name varchar(100) NOT NULL\n",
            "column accounts.name varchar(100) DEFAULT NULL\n"
        ))
    );
    assert_eq!(after.1, before.1, "rows changed");
    assert!(
        history(&db).iter().all(|(_, s)| s == "undone"),
        "{:?}",
        history(&db)
    );
    assert_eq!(state_json(&state)["status"], "aborted");

    let again = run::run(
        &["abort", "--database", &db.url, "--state", &state_arg],
        &scratch,
        &[],
    );
    again.expect(1, "a second abort");
    assert!(again.stderr.contains("already aborted"), "{}", again.stderr);

    // The aborted run leaves nothing in the way of a new one. Planned
    // against the schema before the aborted run (abort kept the column
    // made nullable, and says so), the new run finds that task done by its
    // effect: every task of the version ends done.
    let rerun = apply(KILL, &db, &state, &["--until", "contract"], &scratch, &[]);
    rerun.expect(0, "apply after abort");
    assert!(
        rerun.stdout.contains(
            "abort kept what its expand changed in place (accounts.name varchar(100) (was varchar(100) NOT NULL))"
        ),
        "{}",
        rerun.stdout
    );
    assert!(zd_leftovers(&db).is_empty(), "{:?}", zd_leftovers(&db));
    let not_done: Vec<_> = history(&db)
        .into_iter()
        .filter(|(_, s)| s != "done")
        .collect();
    assert_eq!(not_done, vec![]);
}

#[test]
fn abort_is_refused_once_contract_started() {
    let db = kill_db();
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let state_arg = state.display().to_string();
    let first_contract = plan_tasks(KILL)
        .into_iter()
        .find(|t| t.stage == "contract" && t.kind == "action")
        .expect("a contract action")
        .id;
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
    let out = run::run(
        &["abort", "--database", &db.url, "--state", &state_arg],
        &scratch,
        &[],
    );
    out.expect(1, "abort after contract started");
    assert!(
        out.stderr.contains("cannot abort") && out.stderr.contains("zerodown resume"),
        "points to resume: {}",
        out.stderr
    );
    assert_eq!(describe(&db), before, "a refused abort changed the schema");
    resume(&db, &state, &[], &scratch).expect(0, "resume");
    assert!(zd_leftovers(&db).is_empty(), "{:?}", zd_leftovers(&db));
}

#[test]
fn sigterm_during_a_backfill_stops_between_batches_and_resume_finishes() {
    let db = slow_db(2000);
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let state_arg = state.display().to_string();
    let child = run::spawn(
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
    wait_for("a few backfill batches", Duration::from_secs(30), || {
        state.exists()
            && state_json(&state)["backfills"][backfill]["batches"]
                .as_u64()
                .is_some_and(|n| n >= 3)
    });
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = run::Run::from_output(child.wait_with_output().unwrap());
    out.expect(3, "apply stopped by SIGTERM");
    assert!(
        out.stdout.contains(&format!(
            "Interrupted at a safe point. Run `zerodown resume --state {state_arg}`"
        )),
        "{}",
        out.stdout
    );

    let st = state_json(&state);
    assert_eq!(st["status"], "interrupted");
    assert_eq!(st["tasks"][backfill]["status"], "running");
    let filled = db.count("SELECT COUNT(*) FROM items WHERE slug IS NOT NULL");
    assert!(filled < 2000, "stopped before the end of the backfill");
    assert_eq!(
        filled % 50,
        0,
        "stopped between batches, not inside one: {filled} rows"
    );
    assert_eq!(
        st["backfills"][backfill]["rows"].as_i64(),
        Some(filled),
        "the checkpoint is the last committed batch"
    );
    assert!(db.has_column("items", "legacy"), "contract did not start");

    resume(&db, &state, &[], &scratch).expect(0, "resume");
    assert_eq!(
        db.count("SELECT COUNT(*) FROM items WHERE NOT slug <=> LOWER(label)"),
        0
    );
    assert!(
        !db.has_column("items", "legacy"),
        "resume goes on to contract, as the run was started"
    );
    assert!(
        history(&db).iter().all(|(_, s)| s == "done"),
        "{:?}",
        history(&db)
    );
}

#[test]
fn to_applies_some_versions_of_a_plan_set_and_a_stopped_run_keeps_its_own() {
    let db = MyDb::new();
    db.load(starting_schema("plans/mysql-shop"));
    db.exec(MYSQL_SHOP_SEED);
    let scratch = Scratch::new();
    let plans = "plans/mysql-shop";

    // --to 2: version 3 is left alone.
    apply(
        plans,
        &db,
        &scratch.path("v2.json"),
        &["--until", "contract", "--to", "2"],
        &scratch,
        &[],
    )
    .expect(0, "--to 2");
    let ids: Vec<String> = history(&db).into_iter().map(|(id, _)| id).collect();
    assert!(ids.iter().any(|id| id == "v2/done"), "{ids:?}");
    assert!(ids.iter().all(|id| !id.starts_with("v3/")), "{ids:?}");
    assert!(db.has_column("customers", "display_name") && !db.has_column("customers", "region"));

    // Version 3, stopped after migrate; --to 2 or another plan directory
    // cannot take over the stopped run.
    let state = scratch.path("state.json");
    apply(plans, &db, &state, &["--until", "migrate"], &scratch, &[]).expect(0, "--until migrate");
    let before = (describe(&db), history(&db));
    let narrowed = apply(
        plans,
        &db,
        &state,
        &["--until", "contract", "--to", "2"],
        &scratch,
        &[],
    );
    narrowed.expect(1, "--to 2 over a stopped run of version 3");
    assert!(narrowed.stderr.contains("--to 2"), "{}", narrowed.stderr);
    let other = apply(KILL, &db, &state, &["--until", "contract"], &scratch, &[]);
    other.expect(1, "another plan directory over a stopped run");
    assert!(
        other.stderr.contains("plans/mysql-shop") && other.stderr.contains(KILL),
        "{}",
        other.stderr
    );
    assert_eq!(
        (describe(&db), history(&db)),
        before,
        "a refused run changed the database"
    );

    // As started, it goes on to the same end as a run of both versions.
    apply(plans, &db, &state, &["--until", "contract"], &scratch, &[]).expect(0, "the rest");
    assert_eq!(lines(&describe(&db)), lines(MYSQL_SHOP_FINAL));
    check_mysql_shop(&db);
}

#[test]
fn soft_drop_moves_the_table_to_the_trash_and_purge_deletes_it() {
    let dir = "tests/inputs/mysql-soft-drop";
    // Two databases soft-drop a table of the same name at the same version:
    // their trashes must not collide.
    let dbs = [MyDb::new(), MyDb::new()];
    let scratch = Scratch::new();
    let mut kept = Vec::new();
    for (i, db) in dbs.iter().enumerate() {
        db.load(format!("{dir}/schemas/0001.sql"));
        db.exec(&format!(
            "INSERT INTO old_sessions SELECT seq, MD5(CONCAT({i}, '-', seq)) FROM seq_1_to_25"
        ));
        kept.push(db.rows("SELECT id, token FROM old_sessions ORDER BY id"));
        apply(
            dir,
            db,
            &scratch.path(&format!("state-{i}.json")),
            &["--until", "contract"],
            &scratch,
            &[],
        )
        .expect(0, "apply");
    }
    for (db, rows) in dbs.iter().zip(&kept) {
        assert!(
            !describe(db).contains("table old_sessions "),
            "{}",
            describe(db)
        );
        assert_eq!(
            &db.rows("SELECT id, token FROM zd_trash_old_sessions__v2 ORDER BY id"),
            rows,
            "the trashed table keeps its rows"
        );
    }

    // purge: a dry run lists it, a purge younger than the drop keeps it,
    // a purge of everything deletes it, in this database only.
    let (db, other) = (&dbs[0], &dbs[1]);
    let purge = |extra: &[&str]| {
        let mut args = vec!["purge", "--database", &db.url];
        args.extend_from_slice(extra);
        let out = run::run(&args, &scratch, &[]);
        out.expect(0, &format!("purge {extra:?}"));
        out.stdout
    };
    let trashed = |db: &MyDb| {
        db.count(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = 'zd_trash_old_sessions__v2'",
        )
    };
    let listed = purge(&["--older-than", "0s", "--dry-run"]);
    assert!(listed.contains("zd_trash_old_sessions__v2"), "{listed}");
    assert_eq!(trashed(db), 1, "a dry run deleted");
    purge(&["--older-than", "7d"]);
    assert_eq!(trashed(db), 1, "purged before it was old enough");
    purge(&["--older-than", "0s"]);
    assert_eq!(trashed(db), 0, "not purged");
    assert_eq!(
        trashed(other),
        1,
        "the purge reached another database's trash"
    );
}

#[test]
fn ddl_that_never_gets_its_lock_gives_up_and_resume_goes_on() {
    let db = MyDb::new();
    db.load("tests/inputs/mysql-lock/schemas/0001.sql");
    db.exec("INSERT INTO t VALUES (1, 0)");
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let rt = support::runtime();
    // Another session keeps t open in a transaction for the whole run: it
    // holds a shared metadata lock on t until it ends.
    let mut holder = rt.block_on(async {
        use mysql_async::prelude::Queryable;
        let mut c = support::mysql::connect(&db.url).await;
        c.query_drop("START TRANSACTION").await.unwrap();
        c.query_drop("SELECT COUNT(*) FROM t").await.unwrap();
        c
    });
    let started = Instant::now();
    let out = apply(
        "tests/inputs/mysql-lock",
        &db,
        &state,
        &[
            "--until",
            "contract",
            "--lock-timeout",
            "50ms",
            "--lock-retries",
            "3",
        ],
        &scratch,
        &[],
    );
    out.expect(1, "apply blocked by a long transaction");
    // MariaDB waits in whole seconds: 50 ms is rounded up to 1 s.
    assert!(
        out.stderr.contains("gave up after 3 attempts: each waited 1000 ms for a lock held by other sessions while running: ALTER TABLE `t` ADD COLUMN `c`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("zerodown resume --state"),
        "{}",
        out.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "gave up in bounded time: {:?}",
        started.elapsed()
    );
    assert!(!db.has_column("t", "c"));
    assert_eq!(state_json(&state)["status"], "failed");

    rt.block_on(async {
        use mysql_async::prelude::Queryable;
        holder.query_drop("COMMIT").await.unwrap();
        holder.disconnect().await.unwrap();
    });
    resume(&db, &state, &[], &scratch).expect(0, "resume once the transaction ended");
    assert!(db.has_column("t", "c"));
}

#[test]
fn status_prints_each_versions_progress() {
    let db = MyDb::new();
    db.load(starting_schema("plans/mysql-shop"));
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let state_arg = state.display().to_string();
    let status = || {
        let out = run::run(
            &["status", "--database", &db.url, "--state", &state_arg],
            &scratch,
            &[],
        );
        out.expect(0, "status");
        out.stdout
    };
    let fresh = status();
    assert!(fresh.contains("no zerodown history"), "{fresh}");

    apply(
        "plans/mysql-shop",
        &db,
        &state,
        &["--until", "migrate"],
        &scratch,
        &[],
    )
    .expect(0, "--until migrate");
    let mid = status();
    assert!(mid.contains("version 2: reached migrate ("), "{mid}");
    assert!(mid.contains("version 3: not started ("), "{mid}");
}
