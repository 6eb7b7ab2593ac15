//! SQLite's table rebuilds end to end: the plan under
//! tests/inputs/sqlite-rebuild applied with `zerodown apply --database
//! sqlite://…`, version 1 first (tables and rows), then `plan --database`
//! sizing the rebuilds of version 2, then version 2 to contract, checked
//! against the database file it leaves; and the same plans killed before
//! or after any task, or inside a rebuild's transaction, then resumed.

mod support;

use std::path::Path;

use rusqlite::Connection;
use support::{text, zerodown, Scratch};

const PLANS: &str = "tests/inputs/sqlite-rebuild";

fn run(args: &[&str]) -> (i32, String, String) {
    let out = zerodown(args, &[]);
    (
        out.status.code().expect("exit code"),
        text(&out.stdout),
        text(&out.stderr),
    )
}

fn one<T: rusqlite::types::FromSql>(conn: &Connection, sql: &str) -> T {
    conn.query_row(sql, [], |row| row.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn copy_plan(name: &str, into: &Path) {
    std::fs::copy(Path::new(PLANS).join(name), into.join(name)).expect("copy plan");
}

#[test]
fn rebuilds_apply_to_a_sqlite_file_and_leave_the_expected_schema() {
    let scratch = Scratch::new();
    let plans = scratch.path("plans");
    std::fs::create_dir_all(&plans).unwrap();
    let plans_arg = plans.to_str().unwrap();
    let db = scratch.path("app.db");
    let url = format!("sqlite://{}", db.display());
    let state = scratch.path("state.json");
    let state_arg = state.to_str().unwrap();

    let apply_until_contract = || {
        run(&[
            "apply",
            plans_arg,
            "--database",
            &url,
            "--state",
            state_arg,
            "--until",
            "contract",
        ])
    };

    copy_plan("0001_start.yaml", &plans);
    let (code, stdout, stderr) = apply_until_contract();
    assert_eq!(code, 0, "version 1:\n{stdout}\n{stderr}");

    copy_plan("0002_rebuilds.yaml", &plans);
    let (code, stdout, stderr) = run(&["plan", plans_arg, "--database", &url, "--no-color"]);
    assert_eq!(
        code, 2,
        "plan --database: changes pending\n{stdout}\n{stderr}"
    );
    for expected in [
        "lock: database write lock while every row is copied into a rebuilt table (writers wait)",
        "rebuilds users from its live CREATE TABLE with: email NOT NULL",
        "Tables backfilled or rebuilt",
    ] {
        assert!(stdout.contains(expected), "`{expected}` in:\n{stdout}");
    }
    // Seven rebuilds of the counted 1000 rows, at the documented rate.
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("users: "))
        .unwrap_or_else(|| panic!("a users line in:\n{stdout}"));
    let expected_seconds = 7.0 * 1000.0 / zerodown::planner::REBUILD_ROWS_PER_SEC;
    assert!(
        line.contains("~1000 rows")
            && line.contains(&format!(
                "rebuild ~{expected_seconds:.1} s holding the database write lock"
            )),
        "{line}"
    );

    let (code, stdout, stderr) = run(&["plan", plans_arg, "--database", &url, "--format", "json"]);
    assert_eq!(code, 2, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let users = json["plan_sets"][0]["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["table"] == "users")
        .expect("users sized")
        .clone();
    assert_eq!(users["rows"], 1000);
    // JSON keeps two decimals.
    assert!((users["rebuild_seconds"].as_f64().unwrap() - expected_seconds).abs() < 0.005);
    let rebuilds = json["plan_sets"][0]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["step"]["type"] == "rebuild")
        .count();
    assert_eq!(rebuilds, 7, "one rebuild per change that needs one");

    let app = Connection::open(&db).unwrap();
    app.execute_batch("CREATE TRIGGER users_audit AFTER UPDATE ON users BEGIN SELECT 1; END")
        .unwrap();
    // The planner's statistics, which the rebuilds keep: the table's and
    // its index's (no index of the dropped column had any).
    app.execute_batch("ANALYZE").unwrap();
    let stats = |conn: &Connection| -> Vec<(Option<String>, String)> {
        let mut stmt = conn
            .prepare("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'users' ORDER BY idx")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let stats_before = stats(&app);
    assert_eq!(
        stats_before
            .iter()
            .map(|s| s.0.as_deref())
            .collect::<Vec<_>>(),
        vec![Some("users_team_idx")],
        "{stats_before:?}"
    );
    let (code, stdout, stderr) = apply_until_contract();
    assert_eq!(code, 0, "version 2:\n{stdout}\n{stderr}");

    let users_sql: String = one(&app, "SELECT sql FROM sqlite_schema WHERE name = 'users'");
    assert_eq!(
        stats(&app),
        stats_before,
        "statistics kept through the rebuilds"
    );
    // (query, expected) over the rebuilt table.
    let cases: &[(&str, &str)] = &[
        ("SELECT count(*) FROM users", "1000"),
        ("SELECT count(*) FROM users WHERE handle = 'u' || id", "1000"),
        ("SELECT \"notnull\" FROM pragma_table_info('users') WHERE name = 'email'", "1"),
        ("SELECT \"notnull\" FROM pragma_table_info('users') WHERE name = 'handle'", "1"),
        ("SELECT coalesce(dflt_value, 'none') FROM pragma_table_info('users') WHERE name = 'status'", "none"),
        ("SELECT dflt_value FROM pragma_table_info('users') WHERE name = 'score'", "0"),
        ("SELECT count(*) FROM pragma_table_info('users') WHERE name = 'legacy'", "0"),
        ("SELECT \"table\" || '.' || \"to\" FROM pragma_foreign_key_list('users')", "teams.id"),
        ("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'users_team_idx'", "1"),
        ("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name = 'users_audit'", "1"),
        ("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name LIKE 'zd_%'", "0"),
        ("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'zd_rebuild%'", "0"),
        ("SELECT integrity_check FROM pragma_integrity_check", "ok"),
    ];
    for (sql, expected) in cases {
        let got: String = app
            .query_row(&format!("SELECT CAST(({sql}) AS TEXT)"), [], |row| {
                row.get(0)
            })
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(&got, expected, "{sql}\n{users_sql}");
    }
    assert!(
        users_sql.contains("CONSTRAINT \"users_score_check\" CHECK (score >= 0)"),
        "{users_sql}"
    );
    // The CHECK is enforced for the application's writes.
    let err = app
        .execute_batch(
            "INSERT INTO users (email, status, handle, score) VALUES ('x@y', 'a', 'x', -1)",
        )
        .unwrap_err();
    assert!(err.to_string().contains("CHECK constraint failed"), "{err}");

    // Applied: a second apply changes nothing.
    let (code, stdout, stderr) = apply_until_contract();
    assert_eq!(code, 0, "again:\n{stdout}\n{stderr}");
    let again: String = one(&app, "SELECT sql FROM sqlite_schema WHERE name = 'users'");
    assert_eq!(again, users_sql);
}

/// A run of the rebuild plans killed before or after any task, or inside a
/// rebuild's transaction with every row copied (the failpoint
/// `rebuild-commit:users`, like SIGKILL), and then resumed, ends in the file
/// an uninterrupted run leaves: same schema, rows and history. Killed inside
/// the transaction, the file holds the table as it was before that rebuild.
#[test]
fn a_run_killed_at_any_point_of_the_rebuilds_resumes_to_the_uninterrupted_file() {
    use support::sqlite::{apply, checksums, describe, history, plan_tasks, resume, SqliteDb};

    let outcome = |db: &SqliteDb| (describe(db), checksums(db), history(db));
    let scratch = Scratch::new();
    let reference_db = SqliteDb::new(&scratch, "reference.db");
    apply(
        PLANS,
        &reference_db,
        &scratch.path("reference.json"),
        &["--until", "contract"],
        &scratch,
        &[],
    )
    .expect(0, "reference run");
    let reference = outcome(&reference_db);
    assert!(
        reference.2.iter().all(|(_, s)| s == "done"),
        "{:?}",
        reference.2
    );

    // Not the seed's raw SQL: zerodown cannot tell from the catalog whether
    // raw SQL ran, so after a crash there it waits for the operator's word
    // (tests/pg_apply.rs, a_raw_task_cut_short_is_never_run_again_…).
    let mut points: Vec<String> = plan_tasks(PLANS)
        .iter()
        .filter(|t| t.kind != "milestone" && !t.id.contains("/raw/"))
        .flat_map(|t| [format!("before:{}", t.id), format!("after:{}", t.id)])
        .collect();
    points.push("rebuild-commit:users".to_string());

    let failures = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(point) = points.get(i) else { break };
                let scratch = Scratch::new();
                let db = SqliteDb::new(&scratch, "kill.db");
                let state = scratch.path("state.json");
                let killed = apply(
                    PLANS,
                    &db,
                    &state,
                    &["--until", "contract"],
                    &scratch,
                    &[("ZERODOWN_FAILPOINT", point.as_str())],
                );
                let failed = |why: String| failures.lock().unwrap().push(format!("{point}: {why}"));
                if killed.code.is_some() || killed.signal != Some(6) {
                    failed(format!(
                        "not killed there: {:?}\n{}",
                        killed.code, killed.stdout
                    ));
                    continue;
                }
                // Whatever the kill interrupted, the file is whole and holds
                // no half-made table.
                let conn = Connection::open(&db.path).unwrap();
                let integrity: String = one(&conn, "PRAGMA integrity_check");
                let halfway: i64 = one(
                    &conn,
                    "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'zd_rebuild%'",
                );
                drop(conn);
                if integrity != "ok" || halfway != 0 {
                    failed(format!(
                        "after the kill: integrity {integrity}, {halfway} temporary tables"
                    ));
                    continue;
                }
                let resumed = resume(&db, &state, &[], &scratch);
                if resumed.code != Some(0) {
                    failed(format!(
                        "resume exited {:?}\n{}\n{}",
                        resumed.code, resumed.stdout, resumed.stderr
                    ));
                    continue;
                }
                let got = outcome(&db);
                if got != reference {
                    failed(format!(
                        "differs from the uninterrupted run:\n{got:?}\nexpected:\n{reference:?}"
                    ));
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
