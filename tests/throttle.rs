//! `--max-running N` end to end: the real binary's backfill waits while
//! sessions of the test keep the server busy (each in one long statement:
//! `pg_sleep` on PostgreSQL, a wait in `GET_LOCK` on MariaDB), says so
//! once, does not advance while they run, and fills every row once they
//! end; with a limit above the busy count it never pauses; a stop during a
//! pause runs no batch and `resume` keeps to its own limit. SQLite has no
//! server to ask: the flag changes nothing there.
//!
//! The count is server-wide (MariaDB `Threads_running`, PostgreSQL's
//! active client backends of every database), so the numbers below leave
//! room for what else runs on a shared test server, and the tests of one
//! server take turns (`hold`): one test's busy sessions would change
//! another's count.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Child;
use std::sync::{mpsc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use support::mysql::MyDb;
use support::run::{self, plan_tasks, state_json, wait_for, Run};
use support::sqlite::SqliteDb;
use support::{runtime, PgDb, Scratch, TestDb};
use tokio::sync::oneshot;

/// Sessions each running one long statement for the whole busy window.
/// While they run, zerodown counts at least BUSY_SESSIONS + 1: theirs and
/// its own counting statement (`SHOW GLOBAL STATUS` and the
/// `pg_stat_activity` query each see themselves running); the test's own
/// polling query can make it one more, other databases' sessions only add.
const BUSY_SESSIONS: usize = 10;

/// Below the busy count (at least 11 while the sessions run): a pause with
/// 6 to spare. Once they end the count is zerodown's own statement, so up
/// to 4 unrelated statements on a shared server (seen: 4 on MariaDB) do
/// not pause the backfill again; more only delay it, pausing it as they
/// would any run.
const BELOW_BUSY: u64 = 5;

/// Above the busy count (11, 12 with the test's poll): no pause, with 18
/// to spare for unrelated statements.
const ABOVE_BUSY: u64 = 30;

/// How long a busy session's statement lasts at most: the test ends them
/// when its busy window ends; this only bounds a test that died.
const STATEMENT_CAP_SECS: u32 = 30;

/// How long the paused case keeps the server busy after the pause began,
/// watching that no batch runs: four of the backfill's 500 ms checks, so
/// a pause told at every check would show.
const BUSY_WINDOW: Duration = Duration::from_secs(2);

/// Rows of the table the backfill walks: 12 batches of 50 with 50 ms
/// between them, about a second of backfill.
const ROWS: u32 = 600;

/// What `--max-running` is given, and whether the backfill should pause.
struct Case {
    max_running: u64,
    pauses: bool,
}

const CASES: [Case; 2] = [
    Case {
        max_running: BELOW_BUSY,
        pauses: true,
    },
    Case {
        max_running: ABOVE_BUSY,
        pauses: false,
    },
];

// ---------------------------------------------------------------------------
// The servers.

/// What a case needs of a server beside the runs of the binary.
trait BusyServer: TestDb + Sized {
    /// The slow plan set (`tests/inputs/<engine>-slow`).
    const PLAN: &'static str;
    /// A fresh database at the plan's version 1 with `rows` items.
    fn seeded(rows: u32) -> Self;
    /// Statements running on the server, counted as zerodown counts them.
    fn running_statements(&self) -> u64;
    /// Items whose slug is not (yet) the backfill's value.
    fn unfilled(&self) -> u64;
    /// `n` sessions, each in one long statement until cancelled.
    fn busy_sessions(&self, n: usize) -> BusySessions;
    /// Held by a test while it counts on this server's load.
    fn server() -> &'static Mutex<()>;
}

static MARIADB: Mutex<()> = Mutex::new(());
static POSTGRES: Mutex<()> = Mutex::new(());

/// The server to oneself: a test that failed holding it does not stop
/// the next one.
fn hold<S: BusyServer>() -> MutexGuard<'static, ()> {
    S::server().lock().unwrap_or_else(PoisonError::into_inner)
}

/// A fresh database of `S` at version 1 with the server kept busy by
/// BUSY_SESSIONS sessions; the busy count as the test saw it.
fn busy_server<S: BusyServer>() -> (S, BusySessions, u64) {
    let db = S::seeded(ROWS);
    let sessions = db.busy_sessions(BUSY_SESSIONS);
    // Their statements are under way once the server counts them (and
    // this query).
    wait_for(
        "the busy sessions' statements to run",
        Duration::from_secs(10),
        || db.running_statements() > BUSY_SESSIONS as u64,
    );
    let busy = db.running_statements();
    assert!(
        busy <= ABOVE_BUSY,
        "the server runs {busy} statements with {BUSY_SESSIONS} busy sessions: too busy for this test's margins"
    );
    (db, sessions, busy)
}

impl BusyServer for MyDb {
    const PLAN: &'static str = "tests/inputs/mysql-slow";

    fn server() -> &'static Mutex<()> {
        &MARIADB
    }

    fn seeded(rows: u32) -> MyDb {
        let db = MyDb::new();
        db.load(format!("{}/schemas/0001.sql", Self::PLAN));
        db.exec(&format!(
            "INSERT INTO items (id, label, legacy) SELECT seq, CONCAT('Item ', seq), 'x' FROM seq_1_to_{rows}"
        ));
        db
    }

    fn running_statements(&self) -> u64 {
        let row = self.rows("SHOW GLOBAL STATUS LIKE 'Threads_running'");
        row[0][1].as_deref().unwrap().parse().unwrap()
    }

    fn unfilled(&self) -> u64 {
        self.count("SELECT COUNT(*) FROM items WHERE NOT slug <=> LOWER(label)") as u64
    }

    /// Sessions waiting in `GET_LOCK` for a lock the test holds, rather
    /// than in `SELECT SLEEP`: on the MariaDB 10.11 test server, a `KILL
    /// QUERY` of one of eight sleeps took 2 s now and then (0 or 2 s per
    /// kill, measured), a released lock ends the waits at once. Each
    /// waiter takes the lock in turn and hands it on.
    fn busy_sessions(&self, n: usize) -> BusySessions {
        let url = self.url.clone();
        let lock = format!("zd_busy_{}", self.name);
        BusySessions::start(move |ready, end| async move {
            let mut holder = support::mysql::connect(&url).await;
            let taken: Option<i64> = holder
                .exec_first("SELECT GET_LOCK(?, 0)", (&lock,))
                .await
                .unwrap();
            assert_eq!(taken, Some(1), "the test takes lock {lock}");
            let mut conns = Vec::new();
            for _ in 0..n {
                conns.push(support::mysql::connect(&url).await);
            }
            ready.send(()).unwrap();
            let waits = futures_util::future::join_all(conns.into_iter().map(|mut conn| {
                let lock = lock.clone();
                async move {
                    let _ = conn
                        .exec_drop("SELECT GET_LOCK(?, ?)", (&lock, STATEMENT_CAP_SECS))
                        .await;
                    let _ = conn.exec_drop("DO RELEASE_LOCK(?)", (&lock,)).await;
                    let _ = conn.disconnect().await;
                }
            }));
            let release = async {
                // The test ended the busy window (or dropped the sessions).
                let _ = end.await;
                let _ = holder.exec_drop("DO RELEASE_LOCK(?)", (&lock,)).await;
                let _ = holder.disconnect().await;
            };
            tokio::join!(waits, release);
        })
    }
}

impl BusyServer for PgDb {
    const PLAN: &'static str = "tests/inputs/pg-slow";

    fn server() -> &'static Mutex<()> {
        &POSTGRES
    }

    fn seeded(rows: u32) -> PgDb {
        let db = PgDb::new();
        db.load(format!("{}/schemas/0001.sql", Self::PLAN));
        db.exec(&format!(
            "INSERT INTO items (id, label, legacy) SELECT g, 'Item ' || g, 'x' FROM generate_series(1, {rows}) g"
        ));
        db
    }

    fn running_statements(&self) -> u64 {
        self.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND state = 'active'",
        )
        .unwrap()
        .parse()
        .unwrap()
    }

    fn unfilled(&self) -> u64 {
        self.scalar("SELECT count(*) FROM items WHERE slug IS DISTINCT FROM lower(label)")
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Sessions in `pg_sleep`, cancelled by `pg_cancel_backend`.
    fn busy_sessions(&self, n: usize) -> BusySessions {
        let url = self.url.clone();
        BusySessions::start(move |ready, end| async move {
            let mut clients = Vec::new();
            let mut pids = Vec::new();
            for _ in 0..n {
                let client = support::pg_connect(&url).await;
                let pid: i32 = client
                    .query_one("SELECT pg_backend_pid()", &[])
                    .await
                    .unwrap()
                    .get(0);
                clients.push(client);
                pids.push(pid);
            }
            let canceller = support::pg_connect(&url).await;
            ready.send(()).unwrap();
            let sleeps = futures_util::future::join_all(clients.iter().map(|client| async move {
                // A cancelled pg_sleep is an error: the expected end.
                let _ = client
                    .batch_execute(&format!("SELECT pg_sleep({STATEMENT_CAP_SECS})"))
                    .await;
            }));
            let cancel = async {
                // The test ended the busy window (or dropped the sessions).
                let _ = end.await;
                for pid in &pids {
                    let _ = canceller
                        .execute("SELECT pg_cancel_backend($1)", &[pid])
                        .await;
                }
            };
            tokio::join!(sleeps, cancel);
        })
    }
}

/// Sessions of the test each in one long statement, on a thread of their
/// own until `end` (or a drop) ends their statements.
struct BusySessions {
    end: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl BusySessions {
    /// Run `sessions` on a thread: it connects, says it is `ready`, runs
    /// its statements and ends them once `end` fires.
    fn start<F, Fut>(sessions: F) -> BusySessions
    where
        F: FnOnce(mpsc::Sender<()>, oneshot::Receiver<()>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()>,
    {
        let (ready_tx, ready) = mpsc::channel();
        let (end, end_rx) = oneshot::channel();
        let thread = std::thread::spawn(move || runtime().block_on(sessions(ready_tx, end_rx)));
        ready
            .recv_timeout(Duration::from_secs(10))
            .expect("the busy sessions connected");
        BusySessions {
            end: Some(end),
            thread: Some(thread),
        }
    }

    /// Whether every session's statement has ended.
    fn finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// End the statements and wait until they have. Returns when the
    /// ending began: none ended before (they last STATEMENT_CAP_SECS
    /// otherwise); a run may see them gone before the sessions close.
    fn end(&mut self) -> Instant {
        let ending_at = Instant::now();
        if let Some(end) = self.end.take() {
            let _ = end.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the busy sessions' thread");
        }
        ending_at
    }
}

impl Drop for BusySessions {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.end();
        }
    }
}

// ---------------------------------------------------------------------------
// A run of the binary watched line by line.

/// A run of `zerodown` in the background, its stdout lines timed as they
/// arrive; killed if the test fails before it ends.
struct Watched {
    child: Child,
    lines: mpsc::Receiver<(Instant, String)>,
    stderr: Option<JoinHandle<String>>,
    seen: Vec<(Instant, String)>,
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Watched {
    /// `apply PLAN --database URL --state STATE --max-running N`.
    fn apply(plan: &str, url: &str, state: &Path, max_running: u64, scratch: &Scratch) -> Watched {
        let (state, max_running) = (state.display().to_string(), max_running.to_string());
        Watched::start(
            &[
                "apply",
                plan,
                "--database",
                url,
                "--state",
                &state,
                "--max-running",
                &max_running,
            ],
            scratch,
        )
    }

    /// `resume --database URL --state STATE --max-running N`.
    fn resume(url: &str, state: &Path, max_running: u64, scratch: &Scratch) -> Watched {
        let (state, max_running) = (state.display().to_string(), max_running.to_string());
        Watched::start(
            &[
                "resume",
                "--database",
                url,
                "--state",
                &state,
                "--max-running",
                &max_running,
            ],
            scratch,
        )
    }

    fn start(args: &[&str], scratch: &Scratch) -> Watched {
        let mut child = run::spawn(args, scratch, &[]);
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
            text
        });
        Watched {
            child,
            lines,
            stderr: Some(stderr),
            seen: Vec::new(),
        }
    }

    fn output(&self) -> String {
        self.seen
            .iter()
            .map(|(_, l)| format!("{l}\n"))
            .collect::<String>()
    }

    /// The first line (seen or to come) that `matches`, and when it came.
    fn wait_line(
        &mut self,
        what: &str,
        limit: Duration,
        matches: impl Fn(&str) -> bool,
    ) -> (Instant, String) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(found) = self.seen.iter().find(|(_, l)| matches(l)) {
                return found.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no {what} line within {limit:?}; output so far:\n{}",
                    self.output()
                ),
            }
        }
    }

    /// SIGTERM, as an operator's Ctrl-C or a deploy system would stop it.
    fn terminate(&self) {
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Wait for the run to end (killed after `limit`): its result, with
    /// every stdout line.
    fn finish(mut self, limit: Duration) -> (Run, Vec<(Instant, String)>) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "still running after {limit:?}; output:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader ends at the pipe's end, after the process's last line.
        self.seen.extend(self.lines.iter());
        use std::os::unix::process::ExitStatusExt;
        let run = Run {
            code: status.code(),
            signal: status.signal(),
            stdout: self.output(),
            stderr: self.stderr.take().unwrap().join().unwrap(),
        };
        (run, std::mem::take(&mut self.seen))
    }
}

// ---------------------------------------------------------------------------
// The cases.

/// The backfill task's ID in a plan set.
fn backfill_id(plan: &str) -> String {
    let tasks = plan_tasks(plan);
    let backfills: Vec<_> = tasks
        .iter()
        .filter(|t| t.step.as_deref() == Some("backfill"))
        .collect();
    assert_eq!(backfills.len(), 1, "{plan}: one backfill");
    backfills[0].id.clone()
}

/// The count in `ID: paused, N statements running on the server`.
fn paused_count(line: &str, backfill: &str) -> Option<u64> {
    line.trim()
        .strip_prefix(&format!("{backfill}: paused, "))?
        .strip_suffix(" statements running on the server")?
        .parse()
        .ok()
}

/// The pause in `ID: resumed after 2.5 s` (or `… 800 ms`).
fn resumed_after(line: &str, backfill: &str) -> Option<Duration> {
    let rest = line
        .trim()
        .strip_prefix(&format!("{backfill}: resumed after "))?;
    match rest.strip_suffix(" ms") {
        Some(ms) => ms.parse().ok().map(Duration::from_millis),
        None => rest
            .strip_suffix(" s")?
            .parse()
            .ok()
            .map(Duration::from_secs_f64),
    }
}

/// The rate in `ID: 50 rows, 2500 rows/s[, ETA …]`.
fn rows_per_sec(line: &str, backfill: &str) -> Option<u64> {
    let rest = line.trim().strip_prefix(&format!("{backfill}: "))?;
    let (_, rate) = rest.split_once(" rows, ")?;
    rate.split_once(" rows/s")?.0.parse().ok()
}

fn throttle_cases<S: BusyServer>() {
    let _server = hold::<S>();
    let backfill = backfill_id(S::PLAN);
    for case in CASES {
        let started = Instant::now();
        let (db, mut sessions, busy) = busy_server::<S>();
        let scratch = Scratch::new();
        let state = scratch.path("state.json");

        let mut run = Watched::apply(S::PLAN, db.url(), &state, case.max_running, &scratch);
        if case.pauses {
            let (_, line) = run.wait_line("pause", Duration::from_secs(20), |l| {
                l.contains(": paused, ")
            });
            let counted = paused_count(&line, &backfill)
                .unwrap_or_else(|| panic!("not the pause line of {backfill}: {line:?}"));
            assert!(
                counted > BUSY_SESSIONS as u64,
                "the count holds the {BUSY_SESSIONS} busy sessions and zerodown's own statement: {line}"
            );
            // No batch while the server stays busy: no row filled, no
            // checkpoint.
            let window = Instant::now() + BUSY_WINDOW;
            while Instant::now() < window {
                assert!(run.running(), "apply ended while paused:\n{}", run.output());
                assert_eq!(db.unfilled(), u64::from(ROWS), "a batch ran while paused");
                assert!(
                    state_json(&state)["backfills"][&backfill].is_null(),
                    "a checkpoint while paused: {}",
                    state_json(&state)["backfills"]
                );
                std::thread::sleep(Duration::from_millis(200));
            }
            let sessions_ended = sessions.end();
            let (result, lines) = run.finish(Duration::from_secs(30));
            result.expect(0, "apply after the busy window");
            // Each pause is told once when it starts and once when it
            // ends: the lines alternate. The first lasts the busy window;
            // a later one (unrelated statements on a shared server) is
            // told the same way.
            let told: Vec<_> = lines
                .iter()
                .filter_map(|(at, l)| {
                    if paused_count(l, &backfill).is_some() {
                        Some((*at, None))
                    } else {
                        Some((*at, Some(resumed_after(l, &backfill)?)))
                    }
                })
                .collect();
            let alternate = told.len() % 2 == 0
                && told
                    .iter()
                    .enumerate()
                    .all(|(i, (_, resumed))| resumed.is_some() == (i % 2 == 1));
            assert!(
                alternate,
                "pause and resume lines alternate:\n{}",
                result.stdout
            );
            let (resumed_at, paused_for) = (told[1].0, told[1].1.unwrap());
            assert!(
                resumed_at >= sessions_ended,
                "resumed before the busy sessions ended:\n{}",
                result.stdout
            );
            assert!(
                paused_for >= BUSY_WINDOW,
                "paused {paused_for:?}, the busy window lasted {BUSY_WINDOW:?}"
            );
            // The rate leaves the pause out: over the pause, the first
            // batch's 50 rows would be at most 25 rows/s; a batch that
            // takes under half a second is over 100.
            let rate = lines
                .iter()
                .find_map(|(_, l)| rows_per_sec(l, &backfill))
                .unwrap_or_else(|| panic!("no progress line:\n{}", result.stdout));
            assert!(
                rate > 100,
                "{rate} rows/s after a pause of {paused_for:?}:\n{}",
                result.stdout
            );
        } else {
            let (result, lines) = run.finish(Duration::from_secs(30));
            // The busy sessions alone do not hold the backfill back (nothing
            // waits for their statements or transactions): it finished
            // while they still ran.
            assert!(
                !sessions.finished(),
                "the busy sessions ended before apply did"
            );
            sessions.end();
            result.expect(0, "apply on a server below --max-running");
            assert!(
                !lines
                    .iter()
                    .any(|(_, l)| l.contains("paused") || l.contains("resumed")),
                "no pause with --max-running {} and {busy} statements running:\n{}",
                case.max_running,
                result.stdout
            );
        }
        assert_eq!(db.unfilled(), 0, "every row filled");
        assert_eq!(
            state_json(&state)["backfills"][&backfill]["rows"].as_u64(),
            Some(u64::from(ROWS)),
            "the checkpoint counts every row"
        );
        eprintln!(
            "{}: --max-running {} with {busy} running: {:?}",
            S::PLAN,
            case.max_running,
            started.elapsed()
        );
    }
}

/// A stop asked for during a pause ends the run at once, without a batch
/// forced onto the busy server; `resume` keeps to its own `--max-running`.
fn stop_during_a_pause<S: BusyServer>() {
    let _server = hold::<S>();
    let started = Instant::now();
    let backfill = backfill_id(S::PLAN);
    let (db, mut sessions, _) = busy_server::<S>();
    let scratch = Scratch::new();
    let state = scratch.path("state.json");
    let is_pause = |l: &str| paused_count(l, &backfill).is_some();

    let mut run = Watched::apply(S::PLAN, db.url(), &state, BELOW_BUSY, &scratch);
    run.wait_line("pause", Duration::from_secs(20), is_pause);
    run.terminate();
    let (stopped, _) = run.finish(Duration::from_secs(10));
    stopped.expect(3, "apply stopped by SIGTERM during a pause");
    assert_eq!(db.unfilled(), u64::from(ROWS), "a batch ran after the stop");
    let st = state_json(&state);
    assert_eq!(st["status"], "interrupted");
    assert!(
        st["backfills"][&backfill].is_null(),
        "a checkpoint after the stop: {}",
        st["backfills"]
    );

    let mut resumed = Watched::resume(db.url(), &state, BELOW_BUSY, &scratch);
    resumed.wait_line("pause", Duration::from_secs(20), is_pause);
    assert_eq!(
        db.unfilled(),
        u64::from(ROWS),
        "resume ran a batch while paused"
    );
    let sessions_ended = sessions.end();
    let (result, lines) = resumed.finish(Duration::from_secs(30));
    result.expect(0, "resume after the busy window");
    assert!(
        lines
            .iter()
            .any(|(at, l)| *at >= sessions_ended && resumed_after(l, &backfill).is_some()),
        "resume goes on once the busy sessions end:\n{}",
        result.stdout
    );
    assert_eq!(db.unfilled(), 0, "every row filled");
    eprintln!(
        "{}: stopped during a pause, resumed: {:?}",
        S::PLAN,
        started.elapsed()
    );
}

#[test]
fn mariadb_backfill_waits_while_more_statements_run_than_max_running() {
    throttle_cases::<MyDb>();
}

#[test]
fn postgres_backfill_waits_while_more_statements_run_than_max_running() {
    throttle_cases::<PgDb>();
}

#[test]
fn mariadb_stop_during_a_pause_runs_no_batch_and_resume_keeps_the_limit() {
    stop_during_a_pause::<MyDb>();
}

#[test]
fn postgres_stop_during_a_pause_runs_no_batch_and_resume_keeps_the_limit() {
    stop_during_a_pause::<PgDb>();
}

#[test]
fn sqlite_has_no_server_to_ask_never_pauses_and_says_so() {
    let plan = "tests/inputs/sqlite-slow";
    let scratch = Scratch::new();
    let db = SqliteDb::new(&scratch, "slow.db");
    db.load(format!("{plan}/schemas/0001.sql"));
    db.exec(&format!(
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {ROWS})
         INSERT INTO items (id, label, legacy) SELECT n, 'Item ' || n, 'x' FROM g"
    ));
    let state = scratch.path("state.json");
    // The lowest limit the flag takes: a server would pause this run at
    // any statement beside zerodown's own.
    let (result, lines) =
        Watched::apply(plan, &db.url, &state, 1, &scratch).finish(Duration::from_secs(30));
    result.expect(0, "apply on SQLite with --max-running 1");
    assert!(
        !lines.iter().any(|(_, l)| l.contains("paused")),
        "{}",
        result.stdout
    );
    // The flag is accepted, and the user told it does nothing here.
    assert!(
        result
            .stderr
            .contains("warning: --max-running has no effect on SQLite"),
        "{}",
        result.stderr
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM items WHERE slug IS NOT lower(label)"),
        0
    );
}
