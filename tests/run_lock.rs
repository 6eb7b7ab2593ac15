//! The run lock against the real servers, held by a session of the test
//! (an advisory lock on PostgreSQL, `GET_LOCK` on MariaDB, as zerodown
//! takes it): a session that keeps it for the whole test refuses `apply`
//! and `resume` once `--lock-wait` ran out, and the refusal names it; a
//! session that goes away within the wait, as a killed run's does once its
//! server notices the dead connection, lets `resume` go on, saying it
//! waited.

mod support;

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use support::mysql::MyDb;
use support::run::{apply, resume, Run};
use support::{runtime, PgDb, Scratch, TestDb};
use tokio::sync::oneshot;
use zerodown::engine::mysql::run_lock_name;
use zerodown::engine::postgres::RUN_LOCK_KEY;

const PG_SLOW: &str = "tests/inputs/pg-slow";
const MY_SLOW: &str = "tests/inputs/mysql-slow";

/// The `--lock-wait` of the refused runs.
const LOCK_WAIT: Duration = Duration::from_secs(1);

/// How long the going-away holder keeps the lock once it has it (a
/// killed run's session lingered 36 to 83 ms on MariaDB).
const GOING_AWAY: Duration = Duration::from_millis(300);

/// What a refused run may take beyond `LOCK_WAIT`: start, connect, the
/// checks before the lock, on a shared and busy machine.
const SLACK: Duration = Duration::from_secs(4);

/// The PostgreSQL holder's `application_name`, which the refusal shows.
const HOLDER_APP: &str = "zerodown-test-holder";

/// A session of the test holding the run lock on its own thread and
/// runtime, until it is dropped or, when given, `release_after` passed.
/// Either way the session then ends (its connection closes), releasing
/// the lock as the server notices.
struct Holder {
    /// What the refusal must say of it.
    named: String,
    release: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Holder {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Hold until released, or for `after` when given.
async fn until_released(release: oneshot::Receiver<()>, after: Option<Duration>) {
    let cap = after.unwrap_or(Duration::from_secs(120));
    tokio::select! {
        _ = release => {}
        _ = tokio::time::sleep(cap) => {}
    }
}

/// Run `hold` on a thread of its own; it sends what names it once it has
/// the lock, then holds it while `until_released` waits.
fn spawn_holder<F>(hold: F) -> Holder
where
    F: FnOnce(mpsc::Sender<String>, oneshot::Receiver<()>) + Send + 'static,
{
    let (named_tx, named_rx) = mpsc::channel();
    let (release, release_rx) = oneshot::channel();
    let thread = std::thread::spawn(move || hold(named_tx, release_rx));
    let named = named_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the holder takes the run lock");
    Holder {
        named,
        release: Some(release),
        thread: Some(thread),
    }
}

fn pg_holder(db: &PgDb, after: Option<Duration>) -> Holder {
    let mut config: tokio_postgres::Config = db.url.parse().expect("test URL");
    config.application_name(HOLDER_APP);
    spawn_holder(move |named, release| {
        runtime().block_on(async move {
            let (client, conn) = config.connect(tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            // Waits while a session of an earlier run still holds it.
            client
                .execute("SELECT pg_advisory_lock($1)", &[&RUN_LOCK_KEY])
                .await
                .unwrap();
            let pid: i32 = client
                .query_one("SELECT pg_backend_pid()", &[])
                .await
                .unwrap()
                .get(0);
            named
                .send(format!("pid {pid}, application {HOLDER_APP}"))
                .unwrap();
            until_released(release, after).await;
        })
    })
}

fn my_holder(db: &MyDb, after: Option<Duration>) -> Holder {
    let (url, name) = (db.url.clone(), run_lock_name(&db.name));
    spawn_holder(move |named, release| {
        runtime().block_on(async move {
            let mut conn = support::mysql::connect(&url).await;
            let got: Option<i64> = conn
                .exec_first("SELECT GET_LOCK(?, 30)", (name,))
                .await
                .unwrap();
            assert_eq!(got, Some(1), "GET_LOCK");
            named
                .send(format!("connection {}, user ", conn.id()))
                .unwrap();
            until_released(release, after).await;
        })
    })
}

fn pg_db() -> PgDb {
    let db = PgDb::new();
    db.load(format!("{PG_SLOW}/schemas/0001.sql"));
    db.exec("INSERT INTO items (id, label, legacy) SELECT g, 'Item ' || g, 'x' FROM generate_series(1, 20) g");
    db
}

fn my_db() -> MyDb {
    let db = MyDb::new();
    db.load(format!("{MY_SLOW}/schemas/0001.sql"));
    db.exec("INSERT INTO items (id, label, legacy) SELECT seq, CONCAT('Item ', seq), 'x' FROM seq_1_to_20");
    db
}

/// A run stopped after expand: what `resume` has to go on with.
fn stopped_run(dir: &str, db: &impl TestDb, scratch: &Scratch) -> std::path::PathBuf {
    let state = scratch.path("state.json");
    apply(dir, db, &state, &["--until", "expand"], scratch, &[]).expect(0, "apply --until expand");
    state
}

/// A run refused because `holder` kept the lock: after about `LOCK_WAIT`,
/// naming it, having said it waited.
fn assert_refused(what: &str, run: &Run, took: Duration, holder: &Holder) {
    run.expect(1, what);
    let refusal = format!(
        "another zerodown run holds the lock on this database ({}",
        holder.named
    );
    assert!(run.stderr.contains(&refusal), "{what}: {}", run.stderr);
    assert!(
        run.stderr.contains("(--lock-wait)"),
        "{what}: {}",
        run.stderr
    );
    let told = format!("run lock held by {}", holder.named);
    assert!(run.stdout.contains(&told), "{what}: {}", run.stdout);
    assert!(
        took >= LOCK_WAIT && took < LOCK_WAIT + SLACK,
        "{what}: refused after {took:?}, --lock-wait {LOCK_WAIT:?}"
    );
    eprintln!("{what}: refused after {took:?} (--lock-wait {LOCK_WAIT:?})");
}

/// (a) A live holder: `apply` and `resume` are refused after the wait and
/// name it; once it is gone, `resume` goes on without waiting.
fn live_holder_is_refused<D: TestDb>(dir: &str, db: &D, hold: impl Fn(Option<Duration>) -> Holder) {
    let scratch = Scratch::new();
    let state = stopped_run(dir, db, &scratch);
    let holder = hold(None);
    let wait = ["--lock-wait", "1s"];

    let other_state = scratch.path("other.json");
    let started = Instant::now();
    let second = apply(dir, db, &other_state, &wait, &scratch, &[]);
    assert_refused("apply", &second, started.elapsed(), &holder);
    assert!(
        !other_state.exists(),
        "the refused apply wrote a state file"
    );

    let started = Instant::now();
    let resumed = resume(db, &state, &wait, &scratch);
    assert_refused("resume", &resumed, started.elapsed(), &holder);

    drop(holder);
    let resumed = resume(db, &state, &["--until", "migrate"], &scratch);
    resumed.expect(0, "resume once the holder is gone");
}

/// (b) A holder that goes away within the wait: `resume` (default
/// `--lock-wait`) says it waits, takes the lock once released, goes on.
fn going_holder_lets_resume_go_on<D: TestDb>(
    dir: &str,
    db: &D,
    hold: impl Fn(Option<Duration>) -> Holder,
) {
    let scratch = Scratch::new();
    let state = stopped_run(dir, db, &scratch);
    let holder = hold(Some(GOING_AWAY));
    let started = Instant::now();
    let resumed = resume(db, &state, &["--until", "migrate"], &scratch);
    let took = started.elapsed();
    resumed.expect(0, "resume while the holder goes away");
    let told = format!("run lock held by {}", holder.named);
    assert!(resumed.stdout.contains(&told), "{}", resumed.stdout);
    let taken = resumed
        .stdout
        .lines()
        .find(|l| l.contains("run lock taken after"))
        .unwrap_or_else(|| panic!("no `run lock taken`: {}", resumed.stdout));
    assert!(
        resumed.stdout.contains("Stopped after migrate"),
        "{}",
        resumed.stdout
    );
    eprintln!("resume: {} (whole resume {took:?})", taken.trim());
}

#[test]
fn postgres_a_live_holder_is_refused_after_the_lock_wait_and_named() {
    let db = pg_db();
    live_holder_is_refused(PG_SLOW, &db, |after| pg_holder(&db, after));
}

#[test]
fn postgres_a_holder_going_away_within_the_lock_wait_lets_resume_go_on() {
    let db = pg_db();
    going_holder_lets_resume_go_on(PG_SLOW, &db, |after| pg_holder(&db, after));
}

#[test]
fn mariadb_a_live_holder_is_refused_after_the_lock_wait_and_named() {
    let db = my_db();
    live_holder_is_refused(MY_SLOW, &db, |after| my_holder(&db, after));
}

#[test]
fn mariadb_a_holder_going_away_within_the_lock_wait_lets_resume_go_on() {
    let db = my_db();
    going_holder_lets_resume_go_on(MY_SLOW, &db, |after| my_holder(&db, after));
}
