//! Zero downtime, measured: DDL behind a long transaction does not stall
//! writers longer than the lock timeout, and clients of the old and the new
//! release keep reading and writing through a whole run without an error
//! and without losing a write.
//!
//! The tests here time things, so they run one at a time (`SERIAL`), in a
//! test binary of their own (cargo runs test binaries one after another).

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::pg::{fleet_env, url_with_password};
use support::{pg_connect, PgDb, Scratch};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// `zerodown ARGS` as a child of the runtime (the demo fleet in `fleet`);
/// its output when it ends.
async fn zerodown(args: Vec<String>, fleet: String) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_zerodown"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("ZERODOWN_FAILPOINT")
        .env("ZERODOWN_DEMO_FLEET", fleet)
        .output()
        .await
        .expect("run zerodown")
}

// ---------------------------------------------------------------------------
// A long transaction holds a lock: the DDL waits in short attempts.

/// A writer's single-row UPDATEs, each timed, while a transaction holds
/// ACCESS SHARE on `t` for `hold`, and `ddl` runs meanwhile. Returns the
/// longest UPDATE, the number of UPDATEs that ran while the lock was held,
/// and when `ddl` finished (from its start).
async fn writer_while_held<F, Fut, T>(
    url: &str,
    hold: Duration,
    ddl: F,
) -> (Duration, usize, Duration, T)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let holder = pg_connect(url).await;
    holder
        .batch_execute("BEGIN; LOCK TABLE t IN ACCESS SHARE MODE")
        .await
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let client = pg_connect(url).await;
        tokio::spawn(async move {
            let mut timings: Vec<(Instant, Duration)> = Vec::new();
            let mut i = 0i64;
            while !stop.load(Ordering::SeqCst) {
                let start = Instant::now();
                client
                    .execute("UPDATE t SET v = v + 1 WHERE id = $1", &[&(1 + i % 1000)])
                    .await
                    .expect("writer UPDATE");
                timings.push((start, start.elapsed()));
                i += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            timings
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ddl_start = Instant::now();
    let ddl = tokio::spawn(ddl());
    tokio::time::sleep(hold).await;
    let released = Instant::now();
    holder.batch_execute("COMMIT").await.unwrap();
    let result = ddl.await.unwrap();
    let ddl_elapsed = ddl_start.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    let timings = writer.await.unwrap();
    let longest = timings.iter().map(|(_, d)| *d).max().unwrap_or_default();
    let during_hold = timings
        .iter()
        .filter(|(s, d)| *s > ddl_start && *s + *d < released)
        .count();
    (longest, during_hold, ddl_elapsed, result)
}

#[test]
fn ddl_behind_a_long_transaction_retries_short_waits_and_never_stalls_writers() {
    let _serial = serial();
    let db = PgDb::new();
    db.load("tests/inputs/pg-lock/schemas/0001.sql");
    db.exec("INSERT INTO t SELECT g, 0 FROM generate_series(1, 1000) g");
    let scratch = Scratch::new();
    let hold = Duration::from_secs(2);
    let lock_timeout = Duration::from_millis(100);
    let margin = Duration::from_millis(400);
    let rt = runtime();

    // The control: a plain ALTER TABLE, no lock_timeout. It queues behind
    // the holder, and every writer queues behind it until the holder ends.
    // Connected beforehand, so that the ALTER queues as soon as it starts.
    let c = rt.block_on(pg_connect(&db.url));
    let (control_longest, control_during_hold, _, ()) =
        rt.block_on(writer_while_held(&db.url, hold, move || async move {
            c.batch_execute("ALTER TABLE t ADD COLUMN control text")
                .await
                .unwrap();
        }));
    assert!(
        control_longest > Duration::from_secs(1),
        "the control should stall the writer until the holder commits, but its longest UPDATE took {control_longest:?}"
    );
    // A few UPDATEs may pass before the ALTER reaches the queue on a busy
    // machine; zerodown must let through at least 20 (below).
    assert!(
        control_during_hold < 20,
        "the control let {control_during_hold} UPDATEs through"
    );

    // zerodown: each attempt waits at most the lock timeout, then lets the
    // queue drain, backs off and tries again until the holder is gone.
    let state = scratch.path("state.json").display().to_string();
    let args: Vec<String> = [
        "apply",
        "tests/inputs/pg-lock",
        "--database",
        &db.url,
        "--state",
        &state,
        "--until",
        "contract",
        "--lock-timeout",
        "100ms",
        "--lock-retries",
        "60",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let fleet = fleet_env(&scratch);
    let (longest, during_hold, elapsed, out) =
        rt.block_on(writer_while_held(&db.url, hold, move || {
            zerodown(args, fleet)
        }));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("v2/expand/add-column/t.c/add-column (")
            && stdout.contains("attempts (lock timeouts)"),
        "the DDL should have needed several attempts:\n{stdout}"
    );
    assert!(
        elapsed >= hold,
        "the run cannot end before the holder commits: {elapsed:?}"
    );
    assert!(
        longest <= lock_timeout + margin,
        "a writer waited {longest:?} behind zerodown's DDL (lock timeout {lock_timeout:?} + margin {margin:?})"
    );
    assert!(
        during_hold >= 20,
        "the writer kept writing while the lock was held: only {during_hold} UPDATEs"
    );
    assert_eq!(
        db.scalar(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'c'"
        )
        .as_deref(),
        Some("1")
    );
    assert_eq!(db.scalar("SELECT sum(v) > 0 FROM t").as_deref(), Some("t"));
}

// ---------------------------------------------------------------------------
// Old and new releases under traffic through a whole run.

const SEEDED: i64 = 100_000;

/// Where the run stands, from zerodown's history table.
#[derive(Default)]
struct Phases {
    /// 2.migrate reached: the new release may run.
    migrated: AtomicBool,
    /// The first gate or contract task started: the old release must be gone.
    contract: AtomicBool,
    /// The run ended.
    done: AtomicBool,
    /// The clients stop.
    stop: AtomicBool,
}

/// What one client wrote last, per row, and what went wrong.
#[derive(Default)]
struct Client {
    names: HashMap<i64, String>,
    tiers: HashMap<i64, Option<String>>,
    amounts: HashMap<i64, i64>,
    errors: Vec<String>,
    ops: usize,
}

/// A client of the old release (`old == true`: writes `name`, reads
/// `amount` as integer, knows nothing of `tier`) or the new one (writes
/// `full_name`, `amount` as bigint, sets `tier`). It updates only the
/// seeded rows with `id % 4 == slot` and the rows it inserted, so the last
/// write to every row is known.
async fn client(url: String, old: bool, slot: i64, phases: Arc<Phases>) -> Client {
    let db = pg_connect(&url).await;
    let mut me = Client::default();
    let (name_col, amount_ty) = if old {
        ("name", "integer")
    } else {
        ("full_name", "bigint")
    };
    let tag = if old { "old" } else { "new" };
    let mut inserted: Vec<(i64, i64)> = Vec::new();
    let mut i: i64 = 0;
    loop {
        if (old && phases.contract.load(Ordering::SeqCst)) || phases.stop.load(Ordering::SeqCst) {
            break;
        }
        i += 1;
        let seeded = 1 + ((i * 7919) % (SEEDED / 4)) * 4 + slot;
        // After the run the new release may store what an integer cannot.
        let big = !old && phases.done.load(Ordering::SeqCst);
        let amount = if big {
            5_000_000_000 + i
        } else {
            (i * 104_729) % 2_000_000_000 - 1_000_000_000
        };
        let result: Result<(), String> = async {
            match i % 5 {
                0 => {
                    let name = format!("{tag}{slot}-insert-{i}");
                    let row = if old {
                        db.query_one(&format!("INSERT INTO accounts ({name_col}, email) VALUES ($1, $2) RETURNING id"), &[&name, &"x@example.com"])
                            .await
                    } else {
                        db.query_one(
                            &format!("INSERT INTO accounts ({name_col}, email, tier) VALUES ($1, $2, 'new') RETURNING id"),
                            &[&name, &"x@example.com"],
                        )
                        .await
                    }
                    .map_err(|e| format!("insert account: {e}"))?;
                    let id: i64 = row.get(0);
                    me.names.insert(id, name);
                    me.tiers.insert(id, (!old).then(|| "new".to_string()));
                    let row = db
                        .query_one(&format!("INSERT INTO payments (account_id, amount) VALUES ($1, $2::text::{amount_ty}) RETURNING id"), &[&id, &amount.to_string()])
                        .await
                        .map_err(|e| format!("insert payment: {e}"))?;
                    let pid: i64 = row.get(0);
                    me.amounts.insert(pid, amount);
                    inserted.push((id, pid));
                }
                1 => {
                    let name = format!("{tag}{slot}-update-{i}");
                    let (target, _) = if i % 2 == 0 && !inserted.is_empty() { inserted[(i as usize / 2) % inserted.len()] } else { (seeded, 0) };
                    let n = db
                        .execute(&format!("UPDATE accounts SET {name_col} = $1 WHERE id = $2"), &[&name, &target])
                        .await
                        .map_err(|e| format!("update account {target}: {e}"))?;
                    if n != 1 {
                        return Err(format!("update account {target}: {n} rows"));
                    }
                    me.names.insert(target, name);
                }
                2 => {
                    let target = if i % 2 == 0 && !inserted.is_empty() { inserted[(i as usize / 2) % inserted.len()].1 } else { seeded };
                    let n = db
                        .execute(&format!("UPDATE payments SET amount = $1::text::{amount_ty} WHERE id = $2"), &[&amount.to_string(), &target])
                        .await
                        .map_err(|e| format!("update payment {target}: {e}"))?;
                    if n != 1 {
                        return Err(format!("update payment {target}: {n} rows"));
                    }
                    me.amounts.insert(target, amount);
                }
                3 => {
                    // Read back what this client wrote last.
                    if let Some((&id, want)) = me.names.iter().nth(i as usize % me.names.len().max(1)) {
                        let row = db
                            .query_one(&format!("SELECT {name_col} FROM accounts WHERE id = $1"), &[&id])
                            .await
                            .map_err(|e| format!("read account {id}: {e}"))?;
                        let got: String = row.get(0);
                        if &got != want {
                            return Err(format!("read account {id}: {got:?}, wrote {want:?}"));
                        }
                    }
                }
                _ => {
                    if let Some((&id, &want)) = me.amounts.iter().nth(i as usize % me.amounts.len().max(1)) {
                        let row = db
                            .query_one("SELECT amount::text FROM payments WHERE id = $1", &[&id])
                            .await
                            .map_err(|e| format!("read payment {id}: {e}"))?;
                        let got: String = row.get(0);
                        if got != want.to_string() {
                            return Err(format!("read payment {id}: {got}, wrote {want}"));
                        }
                    }
                }
            }
            Ok(())
        }
        .await;
        me.ops += 1;
        if let Err(e) = result {
            me.errors.push(e);
        }
    }
    me
}

/// Follows the history table and sets the phase flags.
async fn watch(url: String, phases: Arc<Phases>) {
    let db = pg_connect(&url).await;
    while !phases.done.load(Ordering::SeqCst) {
        let exists: bool = db
            .query_one("SELECT to_regclass('zerodown.history') IS NOT NULL", &[])
            .await
            .unwrap()
            .get(0);
        if exists {
            let row = db
                .query_one(
                    "SELECT COALESCE(bool_or(task_id = 'v2/migrate' AND status = 'done'), false), \
                     COALESCE(bool_or(phase IN ('gate', 'contract')), false) FROM zerodown.history",
                    &[],
                )
                .await
                .unwrap();
            if row.get::<_, bool>(0) {
                phases.migrated.store(true, Ordering::SeqCst);
            }
            if row.get::<_, bool>(1) {
                phases.contract.store(true, Ordering::SeqCst);
            }
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
}

#[test]
fn old_and_new_releases_keep_working_through_a_run_under_traffic() {
    let _serial = serial();
    let db = PgDb::new();
    db.load("tests/inputs/pg-kill/schemas/0001.sql");
    db.exec(&format!(
        "INSERT INTO accounts (name, email) SELECT 'seed ' || g, 's' || g || '@example.com' FROM generate_series(1, {SEEDED}) g;
         INSERT INTO payments (account_id, amount) SELECT g, g * 3 FROM generate_series(1, {SEEDED}) g;
         ANALYZE accounts; ANALYZE payments;"
    ));
    let scratch = Scratch::new();
    let (url, _) = url_with_password(&db.url);
    let state = scratch.path("state.json").display().to_string();
    let rt = runtime();
    let (old, new, out, elapsed) = rt.block_on(async {
        let phases = Arc::new(Phases::default());
        let watcher = tokio::spawn(watch(db.url.clone(), phases.clone()));
        let old: Vec<_> = (0..2)
            .map(|slot| tokio::spawn(client(db.url.clone(), true, slot, phases.clone())))
            .collect();
        // The new release starts once the schema reached 2.migrate.
        let new = {
            let (url, phases) = (db.url.clone(), phases.clone());
            tokio::spawn(async move {
                while !phases.migrated.load(Ordering::SeqCst) {
                    if phases.done.load(Ordering::SeqCst) {
                        panic!("the run ended before the watcher saw 2.migrate");
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                let clients: Vec<_> = (2..4)
                    .map(|slot| tokio::spawn(client(url.clone(), false, slot, phases.clone())))
                    .collect();
                let mut done = Vec::new();
                for c in clients {
                    done.push(c.await.unwrap());
                }
                done
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let args = [
            "apply",
            "tests/inputs/pg-kill",
            "--database",
            &url,
            "--state",
            &state,
            "--until",
            "contract",
        ];
        let out = zerodown(
            args.iter().map(|a| a.to_string()).collect(),
            fleet_env(&scratch),
        )
        .await;
        let elapsed = started.elapsed();
        phases.done.store(true, Ordering::SeqCst);
        watcher.await.unwrap();
        // The new release goes on a little on the final schema.
        tokio::time::sleep(Duration::from_millis(500)).await;
        phases.stop.store(true, Ordering::SeqCst);
        let mut olds = Vec::new();
        for c in old {
            olds.push(c.await.unwrap());
        }
        (olds, new.await.unwrap(), out, elapsed)
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for (who, clients) in [("old release", &old), ("new release", &new)] {
        for c in clients.iter() {
            assert!(
                c.errors.is_empty(),
                "{who}: {} errors in {} operations, first ones: {:?}",
                c.errors.len(),
                c.ops,
                &c.errors[..c.errors.len().min(5)]
            );
            assert!(
                c.ops > 200,
                "{who}: only {} operations during a run of {elapsed:?}",
                c.ops
            );
        }
    }

    // Every write of either release is there, and nothing else changed.
    let names: HashMap<i64, String> = db
        .rows("SELECT id, full_name FROM accounts")
        .into_iter()
        .map(|r| {
            (
                r[0].as_ref().unwrap().parse().unwrap(),
                r[1].clone().unwrap(),
            )
        })
        .collect();
    let tiers: HashMap<i64, Option<String>> = db
        .rows("SELECT id, tier FROM accounts")
        .into_iter()
        .map(|r| (r[0].as_ref().unwrap().parse().unwrap(), r[1].clone()))
        .collect();
    let amounts: HashMap<i64, i64> = db
        .rows("SELECT id, amount FROM payments")
        .into_iter()
        .map(|r| {
            (
                r[0].as_ref().unwrap().parse().unwrap(),
                r[1].as_ref().unwrap().parse().unwrap(),
            )
        })
        .collect();
    let mut want_names: HashMap<i64, String> =
        (1..=SEEDED).map(|id| (id, format!("seed {id}"))).collect();
    let mut want_amounts: HashMap<i64, i64> = (1..=SEEDED).map(|id| (id, id * 3)).collect();
    let mut want_tiers: HashMap<i64, Option<String>> = HashMap::new();
    for c in old.iter().chain(new.iter()) {
        want_names.extend(c.names.clone());
        want_amounts.extend(c.amounts.clone());
        want_tiers.extend(c.tiers.clone());
    }
    assert_eq!(
        names.len(),
        want_names.len(),
        "accounts: rows lost or added"
    );
    assert_eq!(
        amounts.len(),
        want_amounts.len(),
        "payments: rows lost or added"
    );
    let wrong_names: Vec<_> = want_names
        .iter()
        .filter(|(id, n)| names.get(id) != Some(n))
        .take(5)
        .collect();
    assert!(
        wrong_names.is_empty(),
        "full_name differs from the last write: {wrong_names:?} (got {:?})",
        wrong_names
            .iter()
            .map(|(id, _)| names.get(id))
            .collect::<Vec<_>>()
    );
    let wrong_amounts: Vec<_> = want_amounts
        .iter()
        .filter(|(id, a)| amounts.get(id) != Some(a))
        .take(5)
        .collect();
    assert!(
        wrong_amounts.is_empty(),
        "amount differs from the last write: {wrong_amounts:?}"
    );
    // The tier: what the new release wrote, else the backfill's value (for
    // seeded rows and for rows the old release inserted).
    let wrong_tiers: Vec<_> = tiers
        .iter()
        .filter(|(id, t)| {
            let want = match want_tiers.get(id) {
                Some(Some(written)) => written.clone(),
                _ => if *id % 3 == 0 { "gold" } else { "basic" }.to_string(),
            };
            t.as_deref() != Some(want.as_str())
        })
        .take(5)
        .collect();
    assert!(wrong_tiers.is_empty(), "tier wrong: {wrong_tiers:?}");
    assert!(
        new.iter()
            .any(|c| c.amounts.values().any(|&a| a > i64::from(i32::MAX))),
        "the new release stored a bigint after the run"
    );
}
