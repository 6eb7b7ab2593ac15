//! `zerodown apply`, `resume`, `abort` and `status` against a real
//! PostgreSQL server: every example plan applied to its end state with its
//! data, concurrent runs, bad input, and how runs stop and go on. Each test
//! has its own database and scratch folder.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::pg::{
    self, apply, assert_no_password, checksums, copy_plans, describe, examples, history, lines,
    plan_tasks, resume, run, starting_schema, state_json, wait_for, zd_leftovers,
};
use support::{PgDb, Scratch};

// ---------------------------------------------------------------------------
// Every example applies and ends in the expected catalog state, with its data.

/// pg-shop at version 1 with data: users (one without email, one with a
/// name outside ASCII), orders (totals at the integer limits), sessions.
const PG_SHOP_SEED: &str = "
INSERT INTO users (id, name, email, created_at) VALUES
    (1, 'Ada Lovelace', 'ada@example.com', '2024-01-01 10:00:00+00'),
    (2, 'Grace Hopper', NULL, '2024-01-02 11:00:00+00'),
    (3, 'Édith Piaf', 'edith@example.com', '2024-01-03 12:00:00+00');
INSERT INTO users (id, name, email, created_at)
    SELECT g, 'user ' || g, 'user' || g || '@example.com', timestamptz '2024-02-01 00:00:00+00' + g * interval '1 hour'
    FROM generate_series(4, 1200) g;
SELECT setval('users_id_seq', 1200);
INSERT INTO orders (id, user_id, total, status, created_at) VALUES
    (1, 1, 2147483647, 'paid', '2024-03-01 09:00:00+00'),
    (2, 2, -2147483648, NULL, '2024-03-02 09:00:00+00'),
    (3, 3, 0, 'new', '2024-03-03 09:00:00+00');
INSERT INTO orders (id, user_id, total, status, created_at)
    SELECT g, 1 + g % 1200, g * 37, 'new', timestamptz '2024-04-01 00:00:00+00' + g * interval '1 minute'
    FROM generate_series(4, 7000) g;
SELECT setval('orders_id_seq', 7000);
INSERT INTO legacy_sessions (token) SELECT md5(g::text) FROM generate_series(1, 50) g;
";

/// pg-shop after version 4, read from the catalog.
const PG_SHOP_FINAL: &str = "
schema zerodown
column orders.id bigint NOT NULL DEFAULT nextval('orders_id_seq'::regclass)
column orders.user_id bigint NOT NULL
column orders.created_at timestamp with time zone NOT NULL
column orders.note text NOT NULL
column orders.total bigint NOT NULL
column orders.public_id uuid NOT NULL DEFAULT gen_random_uuid()
column users.id bigint NOT NULL DEFAULT nextval('users_id_seq'::regclass)
column users.email character varying(320)
column users.created_at timestamp with time zone NOT NULL DEFAULT clock_timestamp()
column users.full_name text
column users.country character(2) NOT NULL
column vouchers.code text NOT NULL
column vouchers.user_id bigint
column vouchers.percent integer NOT NULL DEFAULT 10
constraint orders.orders_pkey PRIMARY KEY (id)
constraint orders.orders_user_fk FOREIGN KEY (user_id) REFERENCES users(id)
constraint users.users_email_key UNIQUE (email)
constraint users.users_pkey PRIMARY KEY (id)
constraint vouchers.coupons_pkey PRIMARY KEY (code)
constraint vouchers.coupons_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id)
index CREATE UNIQUE INDEX coupons_pkey ON public.vouchers USING btree (code)
index CREATE INDEX orders_created_idx ON public.orders USING btree (created_at)
index CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)
index CREATE INDEX orders_user_idx ON public.orders USING btree (user_id)
index CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email)
index CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)
view active_users: SELECT users.id, users.full_name FROM users WHERE users.email IS NOT NULL;
comment users: people who buy things
";

fn check_pg_shop(db: &PgDb) {
    // Users: the names survive the rename, every row got its country.
    let users = db.rows("SELECT id, full_name, email, country, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') \
         FROM users WHERE id <= 3 OR id = 1200 ORDER BY id");
    let want = [
        [
            "1",
            "Ada Lovelace",
            "ada@example.com",
            "FR",
            "2024-01-01 10:00",
        ],
        ["2", "Grace Hopper", "", "FR", "2024-01-02 11:00"],
        [
            "3",
            "Édith Piaf",
            "edith@example.com",
            "FR",
            "2024-01-03 12:00",
        ],
        [
            "1200",
            "user 1200",
            "user1200@example.com",
            "FR",
            "2024-03-22 00:00",
        ],
    ];
    let got: Vec<Vec<String>> = users
        .into_iter()
        .map(|r| r.into_iter().map(|v| v.unwrap_or_default()).collect())
        .collect();
    assert_eq!(
        got,
        want.iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        db.scalar(
            "SELECT count(*) FILTER (WHERE full_name = 'user ' || id \
             AND email = 'user' || id || '@example.com' AND country = 'FR') FROM users WHERE id > 3"
        )
        .as_deref(),
        Some("1197"),
        "every generated user keeps its name and email and has a country"
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM users").as_deref(),
        Some("1200")
    );
    // Orders: totals keep their values through the change to bigint.
    let orders = db.rows("SELECT id, user_id, total, note, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') \
         FROM orders WHERE id <= 3 ORDER BY id");
    let got: Vec<Vec<String>> = orders
        .into_iter()
        .map(|r| r.into_iter().map(|v| v.unwrap_or_default()).collect())
        .collect();
    assert_eq!(
        got,
        vec![
            vec!["1", "1", "2147483647", "", "2024-03-01 09:00"],
            vec!["2", "2", "-2147483648", "", "2024-03-02 09:00"],
            vec!["3", "3", "0", "", "2024-03-03 09:00"],
        ]
    );
    assert_eq!(
        db.scalar(
            "SELECT count(*) FILTER (WHERE total = id * 37 AND user_id = 1 + id % 1200 AND note = '' \
             AND created_at = timestamptz '2024-04-01 00:00:00+00' + id * interval '1 minute') FROM orders WHERE id > 3"
        )
        .as_deref(),
        Some("6997")
    );
    assert_eq!(
        db.scalar("SELECT count(*) || ' ' || count(DISTINCT public_id) FROM orders")
            .as_deref(),
        Some("7000 7000"),
        "every order has its own public_id"
    );
    // The table the plan dropped is gone, not in the trash.
    assert_eq!(
        db.scalar("SELECT to_regclass('zerodown_trash.legacy_sessions__v2') IS NULL")
            .as_deref(),
        Some("t")
    );
    // New code's writes work on the final schema.
    db.exec("INSERT INTO users (full_name, email, country) VALUES ('New Person', 'new@example.com', 'DE')");
    db.exec("INSERT INTO orders (user_id, total, note, created_at) VALUES (1, 9000000000, 'big', now())");
    db.exec("INSERT INTO vouchers (code, user_id) VALUES ('WELCOME', 1)");
    assert_eq!(
        db.scalar("SELECT percent FROM vouchers WHERE code = 'WELCOME'")
            .as_deref(),
        Some("10")
    );
}

#[test]
fn every_postgres_example_applies_until_contract_and_ends_in_its_expected_state() {
    let examples = examples("postgres");
    assert!(!examples.is_empty(), "no PostgreSQL example in plans/");
    for dir in examples {
        let name = Path::new(&dir)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let (seed, final_schema, check): (&str, &str, fn(&PgDb)) = match name.as_str() {
            "pg-shop" => (PG_SHOP_SEED, PG_SHOP_FINAL, check_pg_shop),
            other => panic!(
                "the PostgreSQL example plans/{other} has no expected end state in {}",
                file!()
            ),
        };
        let db = PgDb::new();
        let scratch = Scratch::new();
        db.load(starting_schema(&dir));
        db.exec(seed);
        // A password in the URL must never show up anywhere.
        let (url, password) = pg::url_with_password(&db.url);
        let state = scratch.path("state.json");
        let state_arg = state.display().to_string();
        let out = run(
            &[
                "apply",
                &dir,
                "--database",
                &url,
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
        for (what, content) in [
            ("stdout", out.stdout.as_str()),
            ("stderr", out.stderr.as_str()),
            ("state file", &std::fs::read_to_string(&state).unwrap()),
            ("fleet log", &fleet_log),
        ] {
            assert!(
                !content.contains(&password),
                "{dir}: the password shows in the {what}:\n{content}"
            );
        }
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

const KILL: &str = "tests/inputs/pg-kill";
const SLOW: &str = "tests/inputs/pg-slow";

/// pg-kill at version 1 with a few rows.
fn kill_db() -> PgDb {
    let db = PgDb::new();
    db.load(format!("{KILL}/schemas/0001.sql"));
    db.exec(
        "INSERT INTO accounts (name, email) SELECT 'account ' || g, 'a' || g || '@example.com' FROM generate_series(1, 1000) g;
         INSERT INTO payments (account_id, amount) SELECT 1 + g % 1000, g * 11 FROM generate_series(1, 2000) g;",
    );
    db
}

/// pg-slow at version 1 with `rows` items.
fn slow_db(rows: u32) -> PgDb {
    let db = PgDb::new();
    db.load(format!("{SLOW}/schemas/0001.sql"));
    db.exec(&format!("INSERT INTO items (id, label, legacy) SELECT g, 'Item ' || g, 'x' FROM generate_series(1, {rows}) g"));
    db
}

fn has_column(db: &PgDb, table: &str, column: &str) -> bool {
    let sql = format!(
        "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('public.{table}') AND attname = '{column}' \
         AND attnum > 0 AND NOT attisdropped"
    );
    db.scalar(&sql).as_deref() == Some("1")
}

fn count(db: &PgDb, sql: &str) -> i64 {
    db.scalar(sql).unwrap().parse().unwrap()
}

// ---------------------------------------------------------------------------
// Two concurrent runs.

#[test]
fn a_second_concurrent_apply_is_refused_at_once_and_the_first_completes() {
    let db = slow_db(1500);
    let scratch = Scratch::new();
    let (first_state, second_state) = (scratch.path("first.json"), scratch.path("second.json"));
    let first_arg = first_state.display().to_string();
    let first = pg::spawn(
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
            count(
                &db,
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            ) == 1
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
    let mut first = first;
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first run should still be running"
    );
    second.expect(1, "second apply");
    assert!(
        second
            .stderr
            .contains("another zerodown run holds the lock on this database (pid "),
        "{}",
        second.stderr
    );
    assert!(
        waited < Duration::from_secs(3),
        "refused at once, not queued: took {waited:?}"
    );
    assert!(!second_state.exists(), "the refused run wrote a state file");

    let first = pg::Run::from_output(first.wait_with_output().unwrap());
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
        count(
            &db,
            "SELECT count(*) FROM items WHERE slug IS DISTINCT FROM lower(label)"
        ),
        0
    );
}

// ---------------------------------------------------------------------------
// Bad input: a clear error, nothing applied, never the password.

#[test]
fn an_unreachable_database_is_a_clear_error_without_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres:s3cr3t@127.0.0.1:{port}/test");
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let state_arg = state.display().to_string();
    let started = Instant::now();
    for command in [
        vec!["apply", KILL, "--database", &url, "--state", &state_arg],
        vec!["resume", "--database", &url, "--state", &state_arg],
        vec!["status", "--database", &url, "--state", &state_arg],
    ] {
        let out = run(&command, &scratch, &[]);
        out.expect(1, command[0]);
        assert!(
            out.stderr.contains(&format!(
                "error: cannot connect to postgres://postgres:***@127.0.0.1:{port}/test: "
            )),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.to_lowercase().contains("refused"),
            "the cause is shown: {}",
            out.stderr
        );
        assert_no_password(&out, "s3cr3t", &state);
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
}

#[test]
fn an_unknown_role_is_refused_without_the_password() {
    let db = kill_db();
    let before = describe(&db);
    let admin = support::pg_admin_url();
    let host_and_db = admin.split_once('@').map(|(_, rest)| rest).unwrap();
    let (host, _) = host_and_db.split_once('/').unwrap();
    let url = format!("postgres://nosuch:s3cr3t@{host}/{}", db.name);
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let state_arg = state.display().to_string();
    let out = run(
        &["apply", KILL, "--database", &url, "--state", &state_arg],
        &scratch,
        &[],
    );
    out.expect(1, "apply as an unknown role");
    assert!(
        out.stderr
            .contains("cannot connect to postgres://nosuch:***@"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("role \"nosuch\" does not exist")
            || out.stderr.contains("authentication failed"),
        "the server's reason is shown: {}",
        out.stderr
    );
    assert_no_password(&out, "s3cr3t", &state);
    assert!(!state.exists());
    assert_eq!(describe(&db), before);
}

#[test]
fn a_plan_naming_a_table_the_database_lacks_applies_nothing() {
    let db = kill_db();
    let before = (describe(&db), checksums(&db));
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let state_arg = state.display().to_string();
    let (url, password) = pg::url_with_password(&db.url);
    let out = run(
        &[
            "apply",
            "tests/inputs/pg-missing-table",
            "--database",
            &url,
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
    assert_no_password(&out, &password, &state);
    assert_eq!(
        (describe(&db), checksums(&db)),
        before,
        "the database changed"
    );
    assert_eq!(
        db.scalar("SELECT to_regnamespace('zerodown') IS NULL")
            .as_deref(),
        Some("t"),
        "zerodown's schema was created"
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
        refused.stderr.contains("changed since the run started"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("0002_rename_retype_backfill.yaml"),
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
    assert!(zd_leftovers(&db).is_empty());
    assert!(!has_column(&db, "accounts", "name") && has_column(&db, "accounts", "full_name"));
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
            has_column(&db, table, column),
            "{table}.{column} after expand"
        );
    }
    assert_eq!(
        db.scalar(
            "SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE NOT tgisinternal"
        )
        .as_deref(),
        Some("zd_sync_accounts_name,zd_sync_payments_amount")
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM pg_index WHERE indisvalid AND indexrelid::regclass::text IN ('zd_copy_accounts_name_idx', 'payments_account_idx')"),
        2
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM accounts WHERE full_name IS NULL AND tier IS NULL"
        ),
        1000,
        "nothing backfilled yet"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM payments WHERE zd_new_amount IS NULL"
        ),
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
        count(
            &db,
            "SELECT count(*) FROM accounts WHERE full_name IS DISTINCT FROM name"
        ),
        0
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM accounts WHERE tier IS NULL"),
        0
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM payments WHERE zd_new_amount IS DISTINCT FROM amount"
        ),
        0
    );
    assert!(
        has_column(&db, "accounts", "name"),
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
    assert!(!has_column(&db, "accounts", "name") && !has_column(&db, "payments", "zd_new_amount"));
    assert_eq!(db.scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'payments'::regclass AND attname = 'amount'").as_deref(), Some("bigint"));
    assert!(zd_leftovers(&db).is_empty(), "{:?}", zd_leftovers(&db));
    assert_eq!(released("app-1").as_deref(), Some("2.0.0\n"));
    assert_eq!(released("app-2").as_deref(), Some("2.0.0\n"));
    assert_eq!(state_json(&state)["status"], "done");
}

#[test]
fn a_plan_without_a_fleet_stops_before_contract_unless_told() {
    let db = slow_db(120);
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let out = apply(SLOW, &db, &state, &[], &scratch, &[]);
    out.expect(0, "apply without --until");
    assert!(
        out.stdout.contains("note: stopping before contract"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Stopped after migrate"),
        "{}",
        out.stdout
    );
    assert!(
        has_column(&db, "items", "legacy"),
        "contract ran without --until contract"
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM items WHERE slug = lower(label)"),
        120,
        "migrate ran"
    );
    assert_eq!(state_json(&state)["status"], "stopped");

    apply(SLOW, &db, &state, &["--until", "contract"], &scratch, &[]).expect(0, "--until contract");
    assert!(!has_column(&db, "items", "legacy"));
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

    let out = run(
        &["abort", "--database", &db.url, "--state", &state_arg],
        &scratch,
        &[],
    );
    out.expect(0, "abort");
    assert!(out.stdout.contains("Aborted"), "{}", out.stdout);
    let after = (describe(&db), checksums(&db));
    // zerodown's own schema (the history) stays; everything else is as before.
    assert_eq!(
        lines(&after.0.replace("schema zerodown\n", "")),
        lines(&before.0)
    );
    assert_eq!(after.1, before.1, "rows changed");
    assert!(
        history(&db).iter().all(|(_, s)| s == "undone"),
        "{:?}",
        history(&db)
    );
    assert_eq!(state_json(&state)["status"], "aborted");

    let again = run(
        &["abort", "--database", &db.url, "--state", &state_arg],
        &scratch,
        &[],
    );
    again.expect(1, "a second abort");
    assert!(again.stderr.contains("already aborted"), "{}", again.stderr);

    // The aborted run leaves nothing in the way of a new one.
    apply(KILL, &db, &state, &["--until", "contract"], &scratch, &[])
        .expect(0, "apply after abort");
    assert!(zd_leftovers(&db).is_empty());
    assert!(
        history(&db).iter().all(|(_, s)| s == "done"),
        "{:?}",
        history(&db)
    );
}

#[test]
fn abort_is_refused_once_contract_started() {
    let db = kill_db();
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let state_arg = state.display().to_string();
    let first_contract = "v2/contract/rename-column/accounts.name->full_name/add-not-null-check";
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
    let out = run(
        &["abort", "--database", &db.url, "--state", &state_arg],
        &scratch,
        &[],
    );
    out.expect(1, "abort after contract started");
    assert!(out.stderr.contains("cannot abort"), "{}", out.stderr);
    assert!(
        out.stderr.contains("zerodown resume"),
        "points to resume: {}",
        out.stderr
    );
    assert_eq!(describe(&db), before, "a refused abort changed the schema");
    resume(&db, &state, &[], &scratch).expect(0, "resume");
    assert!(zd_leftovers(&db).is_empty());
}

#[test]
fn sigterm_during_a_backfill_stops_between_batches_and_resume_finishes() {
    let db = slow_db(2000);
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let state_arg = state.display().to_string();
    let child = pg::spawn(
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
    let out = pg::Run::from_output(child.wait_with_output().unwrap());
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
    let filled = count(&db, "SELECT count(*) FROM items WHERE slug IS NOT NULL");
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
    assert!(has_column(&db, "items", "legacy"), "contract did not start");

    let resumed = resume(&db, &state, &[], &scratch);
    resumed.expect(0, "resume");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM items WHERE slug IS DISTINCT FROM lower(label)"
        ),
        0
    );
    assert!(
        !has_column(&db, "items", "legacy"),
        "resume goes on to contract, as the run was started"
    );
    assert!(
        history(&db).iter().all(|(_, s)| s == "done"),
        "{:?}",
        history(&db)
    );
}

#[test]
fn status_prints_each_versions_progress() {
    let db = PgDb::new();
    db.load(starting_schema("plans/pg-shop"));
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let state_arg = state.display().to_string();
    let status = || {
        let out = run(
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
        "plans/pg-shop",
        &db,
        &state,
        &["--until", "migrate"],
        &scratch,
        &[],
    )
    .expect(0, "--until migrate");
    let mid = status();
    assert!(
        mid.contains("version 2: reached migrate (expand 4/4, migrate 2/2, rollout 0/3, gate 0/2, contract 0/6)"),
        "{mid}"
    );
    // Versions 3 and 4 belong to the run and have not started.
    assert!(
        mid.contains("version 3: not started (expand 0/11, migrate 0/18, rollout 0/3, gate 0/2, contract 0/10)"),
        "{mid}"
    );
    assert!(
        mid.contains("version 4: not started (expand 0/5, contract 0/6)"),
        "{mid}"
    );
    assert!(mid.contains("state file"), "{mid}");

    apply(
        "plans/pg-shop",
        &db,
        &state,
        &["--until", "contract"],
        &scratch,
        &[],
    )
    .expect(0, "--until contract");
    let end = status();
    for v in [2, 3, 4] {
        assert!(end.contains(&format!("version {v}: complete (")), "{end}");
    }
    assert!(
        end.contains(
            "version 2: complete (expand 4/4, migrate 2/2, rollout 3/3, gate 2/2, contract 6/6)"
        ),
        "{end}"
    );
}

#[test]
fn soft_drop_moves_the_table_to_the_trash_schema() {
    let db = PgDb::new();
    db.load("tests/inputs/pg-soft-drop/schemas/0001.sql");
    db.exec("INSERT INTO old_sessions SELECT g, md5(g::text) FROM generate_series(1, 25) g");
    let rows = db.rows("SELECT id, token FROM old_sessions ORDER BY id");
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    apply(
        "tests/inputs/pg-soft-drop",
        &db,
        &state,
        &["--until", "contract"],
        &scratch,
        &[],
    )
    .expect(0, "apply");
    assert_eq!(
        db.scalar("SELECT to_regclass('public.old_sessions') IS NULL")
            .as_deref(),
        Some("t")
    );
    assert_eq!(
        db.rows("SELECT id, token FROM zerodown_trash.old_sessions__v2 ORDER BY id"),
        rows,
        "the trashed table keeps its rows"
    );
    assert!(describe(&db).contains("schema zerodown_trash\n"));
}

#[test]
fn continuing_a_stopped_run_refuses_another_to_or_plan_directory() {
    let db = PgDb::new();
    db.load(starting_schema("plans/pg-shop"));
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    // A run of versions 2, 3 and 4, stopped before the fleet rollout of 2.
    apply(
        "plans/pg-shop",
        &db,
        &state,
        &["--until", "migrate"],
        &scratch,
        &[],
    )
    .expect(0, "--until migrate");
    let before = (describe(&db), history(&db));

    let narrowed = apply(
        "plans/pg-shop",
        &db,
        &state,
        &["--until", "contract", "--to", "2"],
        &scratch,
        &[],
    );
    narrowed.expect(1, "--to 2 over a stopped run of versions 2 to 4");
    assert!(
        narrowed.stderr.contains("--to 2") && narrowed.stderr.contains("versions 2, 3, 4"),
        "{}",
        narrowed.stderr
    );
    assert_eq!(
        (describe(&db), history(&db)),
        before,
        "versions beyond --to were applied"
    );

    let other = apply(KILL, &db, &state, &["--until", "contract"], &scratch, &[]);
    other.expect(1, "another plan directory over a stopped run");
    assert!(
        other.stderr.contains("plans/pg-shop") && other.stderr.contains(KILL),
        "{}",
        other.stderr
    );
    assert_eq!(
        (describe(&db), history(&db)),
        before,
        "the stopped run went on for another plan directory"
    );

    // As started, it goes on.
    apply(
        "plans/pg-shop",
        &db,
        &state,
        &["--until", "contract"],
        &scratch,
        &[],
    )
    .expect(0, "the same plans");
    assert!(
        history(&db)
            .iter()
            .any(|(id, s)| id == "v4/done" && s == "done"),
        "{:?}",
        history(&db)
    );
}

#[test]
fn a_raw_task_cut_short_is_never_run_again_until_the_operator_says() {
    let db = PgDb::new();
    db.load("tests/inputs/pg-raw/schemas/0001.sql");
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let dir = "tests/inputs/pg-raw";
    let task = "v2/migrate/raw/log-migration/raw";
    // Killed after the INSERT committed, before the run recorded it.
    let killed = apply(
        dir,
        &db,
        &state,
        &["--until", "contract"],
        &scratch,
        &[("ZERODOWN_FAILPOINT", &format!("after:{task}"))],
    );
    assert_eq!((killed.code, killed.signal), (None, Some(6)), "{killed:?}");
    let inserted = || count(&db, "SELECT count(*) FROM audit_log");
    assert_eq!(inserted(), 1);

    // Every resume refuses to guess, not only the first one.
    for attempt in 1..=2 {
        let out = resume(&db, &state, &[], &scratch);
        out.expect(1, &format!("resume #{attempt}"));
        assert!(
            out.stderr
                .contains("cannot tell from the catalog whether it took effect"),
            "{}",
            out.stderr
        );
        assert_eq!(inserted(), 1, "resume #{attempt} ran the raw SQL again");
    }

    // The operator checked: it took effect. Marked done, the run goes on.
    let mut st = state_json(&state);
    st["tasks"][task]["status"] = "done".into();
    std::fs::write(&state, serde_json::to_vec_pretty(&st).unwrap()).unwrap();
    resume(&db, &state, &[], &scratch).expect(0, "resume once the task is marked done");
    assert_eq!(inserted(), 1);

    // Killed before the INSERT ran: marked pending, resume runs it, once.
    let db = PgDb::new();
    db.load("tests/inputs/pg-raw/schemas/0001.sql");
    let state = scratch.path("state-2.json");
    let inserted = || count(&db, "SELECT count(*) FROM audit_log");
    let killed = apply(
        dir,
        &db,
        &state,
        &["--until", "contract"],
        &scratch,
        &[("ZERODOWN_FAILPOINT", &format!("before:{task}"))],
    );
    assert_eq!((killed.code, killed.signal), (None, Some(6)), "{killed:?}");
    resume(&db, &state, &[], &scratch).expect(1, "resume of the cut-short task");
    assert_eq!(inserted(), 0);
    let mut st = state_json(&state);
    st["tasks"][task]["status"] = "pending".into();
    std::fs::write(&state, serde_json::to_vec_pretty(&st).unwrap()).unwrap();
    resume(&db, &state, &[], &scratch).expect(0, "resume once the task is pending");
    assert_eq!(inserted(), 1);
}

#[test]
fn ddl_that_never_gets_its_lock_gives_up_and_resume_goes_on() {
    let db = PgDb::new();
    db.load("tests/inputs/pg-lock/schemas/0001.sql");
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Another session keeps t open in a transaction for the whole run.
    let holder = rt.block_on(async {
        let c = support::pg_connect(&db.url).await;
        c.batch_execute("BEGIN; SELECT count(*) FROM t")
            .await
            .unwrap();
        c
    });
    let started = Instant::now();
    let out = apply(
        "tests/inputs/pg-lock",
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
    assert!(
        out.stderr.contains("gave up after 3 attempts: each waited 50 ms for a lock held by other sessions while running: ALTER TABLE \"t\" ADD COLUMN \"c\""),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("zerodown resume --state"),
        "{}",
        out.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "gave up in bounded time: {:?}",
        started.elapsed()
    );
    assert!(!has_column(&db, "t", "c"));
    assert_eq!(state_json(&state)["status"], "failed");

    rt.block_on(holder.batch_execute("COMMIT")).unwrap();
    resume(&db, &state, &[], &scratch).expect(0, "resume once the transaction ended");
    assert!(has_column(&db, "t", "c"));
}

/// Abort removes what expand created and keeps what expand changed in
/// place (here `users.email` widened to varchar(320), a catalog-only change;
/// narrowing it back would rewrite the table under ACCESS EXCLUSIVE). The
/// same plans then apply again: planned against the schema before the
/// aborted run, the widening is found done by its effect.
#[test]
fn abort_after_an_in_place_expand_change_lets_the_plan_apply_again() {
    let db = PgDb::new();
    db.load(starting_schema("plans/pg-shop"));
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let state_arg = state.display().to_string();
    apply(
        "plans/pg-shop",
        &db,
        &scratch.path("v2.json"),
        &["--until", "contract", "--to", "2"],
        &scratch,
        &[],
    )
    .expect(0, "version 2");
    let before = describe(&db);
    apply(
        "plans/pg-shop",
        &db,
        &state,
        &["--until", "expand"],
        &scratch,
        &[],
    )
    .expect(0, "expand of 3");
    let aborted = run(
        &["abort", "--database", &db.url, "--state", &state_arg],
        &scratch,
        &[],
    );
    aborted.expect(0, "abort");
    assert!(
        aborted.stdout.contains("Kept, changed in place by expand")
            && aborted
                .stdout
                .contains("  - v3/expand/alter-column-type/users.email/"),
        "{}",
        aborted.stdout
    );
    assert_eq!(
        describe(&db),
        before.replace(
            "column users.email character varying(200)",
            "column users.email character varying(320)"
        ),
        "abort removes everything but the widened column"
    );
    let again = apply(
        "plans/pg-shop",
        &db,
        &state,
        &["--until", "contract"],
        &scratch,
        &[],
    );
    again.expect(0, "apply again");
    assert!(
        again.stdout.contains(
            "abort kept what its expand changed in place (users.email character varying(320) \
             (was character varying(200)))"
        ),
        "{}",
        again.stdout
    );
    // The same end as a run that was never aborted.
    let control = PgDb::new();
    control.load(starting_schema("plans/pg-shop"));
    apply(
        "plans/pg-shop",
        &control,
        &scratch.path("control.json"),
        &["--until", "contract"],
        &scratch,
        &[],
    )
    .expect(0, "control run");
    assert_eq!(describe(&db), describe(&control));
}
