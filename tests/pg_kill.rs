//! Kill and resume: a run killed at any point (before or after any task,
//! between any backfill batch and its checkpoint) and then resumed ends in
//! exactly the database an uninterrupted run gives: same schema, same rows.
//!
//! The crash comes from the test-only switch `ZERODOWN_FAILPOINT`, which
//! aborts the process like SIGKILL at the chosen point (no destructor, no
//! flush, the connection just drops).

mod support;

use support::kill::{batches, check_reference, crash_points, each_point, kill_and_resume, outcome};
use support::pg::{apply, plan_tasks, zd_leftovers};
use support::{PgDb, Scratch};

const DIR: &str = "tests/inputs/pg-kill";
const NODES: &[&str] = &["app-1", "app-2"];

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
    let reference = outcome(&db, &scratch, NODES);
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
    let batches = batches(&state);
    check_reference(&tasks, &reference, &batches, "2.0.0");
    drop(db);

    let points = crash_points(&tasks, &batches);
    // Four cases at a time: a case mostly waits, on the server, on fsync
    // and on the fleet's health checks (healthy for a second in a row).
    each_point(&points, 4, |point| {
        kill_and_resume(DIR, point, &seeded, NODES, &reference)
    });
}
