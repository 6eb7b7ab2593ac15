//! Kill and resume on MySQL / MariaDB: a run killed at any point (before or
//! after any task, between any backfill batch and its checkpoint) and then
//! resumed ends in exactly the database an uninterrupted run gives: same
//! schema, same rows.
//!
//! MySQL commits every DDL statement on its own, so the history row of a
//! DDL task can never commit with it: the `after:` points kill the run
//! between a DDL that took effect and its record, and resume must tell from
//! the catalog that it did. The crash comes from the test-only switch
//! `ZERODOWN_FAILPOINT`, which aborts the process like SIGKILL.

mod support;

use support::kill::{batches, check_reference, crash_points, each_point, kill_and_resume, outcome};
use support::mysql::{zd_leftovers, MyDb};
use support::run::{apply, plan_tasks};
use support::Scratch;

const DIR: &str = "tests/inputs/mysql-kill";
const NODES: &[&str] = &["app-1", "app-2"];

/// Version 1 with data: 3000 accounts (some without email), 6000 payments
/// (amounts at the INT limits among them). The tier backfill walks
/// accounts in batches of 400; the conversion of payments.amount takes two
/// batches of the default 5000.
const SEED: &str = "
INSERT INTO accounts (name, email, created_at)
    SELECT CONCAT('account ', seq), IF(seq % 5 = 0, NULL, CONCAT('a', seq, '@example.com')),
           '2024-01-01 00:00:00' + INTERVAL seq MINUTE
    FROM seq_1_to_3000;
INSERT INTO payments (account_id, amount, memo)
    SELECT 1 + seq % 3000, CASE seq WHEN 1 THEN 2147483647 WHEN 2 THEN -2147483648 ELSE CAST((seq * 7919) % 100000 AS SIGNED) - 50000 END,
           IF(seq % 4 = 0, NULL, CONCAT('memo ', seq))
    FROM seq_1_to_6000;
";

/// The schema after an uninterrupted run (MariaDB 10.11).
const FINAL_SCHEMA: &str = "table accounts BASE TABLE
table payments BASE TABLE
table zerodown_history BASE TABLE
column accounts.id bigint(20) NOT NULL auto_increment
column accounts.email varchar(200) DEFAULT NULL
column accounts.created_at datetime NOT NULL DEFAULT current_timestamp()
column accounts.full_name varchar(100) NOT NULL
column accounts.tier varchar(10) DEFAULT NULL
column payments.id bigint(20) NOT NULL auto_increment
column payments.account_id bigint(20) NOT NULL
column payments.memo varchar(200) DEFAULT NULL
column payments.amount bigint(20) NOT NULL
index accounts.accounts_created_idx (created_at)
index accounts.accounts_name_idx (full_name)
index accounts.PRIMARY UNIQUE (id)
index payments.payments_account_fk (account_id)
index payments.PRIMARY UNIQUE (id)
constraint accounts.PRIMARY PRIMARY KEY (id)
constraint payments.payments_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON UPDATE RESTRICT ON DELETE RESTRICT
constraint payments.PRIMARY PRIMARY KEY (id)
";

fn seeded() -> MyDb {
    let db = MyDb::new();
    db.load(format!("{DIR}/schemas/0001.sql"));
    db.exec(SEED);
    db
}

#[test]
fn a_run_killed_at_any_point_resumes_to_the_database_of_an_uninterrupted_run() {
    let tasks = plan_tasks(DIR);

    // The reference: one run that nothing interrupts.
    let db = seeded();
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let before_rows = db.rows("SELECT id, name FROM accounts ORDER BY id");
    let before_amounts = db.rows("SELECT id, amount FROM payments ORDER BY id");
    apply(DIR, &db, &state, &["--until", "contract"], &scratch, &[]).expect(0, "reference run");
    let reference = outcome(&db, &scratch, NODES);
    assert_eq!(reference.schema, FINAL_SCHEMA);
    assert!(zd_leftovers(&db).is_empty(), "{:?}", zd_leftovers(&db));
    assert_eq!(
        db.rows("SELECT id, full_name FROM accounts ORDER BY id"),
        before_rows,
        "names survive the rename"
    );
    assert_eq!(
        db.rows("SELECT id, amount FROM payments ORDER BY id"),
        before_amounts,
        "amounts survive the type change"
    );
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM accounts WHERE NOT tier <=> IF(id % 3 = 0, 'gold', 'basic')"
        ),
        0
    );
    let batches = batches(&state);
    check_reference(&tasks, &reference, &batches, "2.0.0");
    drop(db);

    let points = crash_points(&tasks, &batches);
    assert!(
        points.iter().any(|p| p.starts_with("after:v2/expand/"))
            && points.iter().any(|p| p.starts_with("after:v2/contract/")),
        "crashes between a DDL and its record: {points:?}"
    );
    // Four cases at a time: a case mostly waits, on the server's commits
    // and on the fleet's health checks.
    each_point(&points, 4, |point| {
        kill_and_resume(DIR, point, &seeded, NODES, &reference)
    });
}
