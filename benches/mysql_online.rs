//! Online behaviour on MariaDB / MySQL: what `zerodown apply` costs the
//! writers of a busy table, next to the plain DDL it replaces and to
//! pt-online-schema-change doing the same change.
//!
//! A table of 1M rows (`id BIGINT PRIMARY KEY, val INT, payload TEXT`) is
//! built once in a base database; every scenario runs on a fresh copy of it
//! in its own database (`INSERT … SELECT` from the base), so each starts from
//! the same rows and zerodown's history of one scenario never meets another.
//! Four writers (tokio tasks, a connection each) run single-row
//! `UPDATE t SET val = val + 1 WHERE id = ?` by random key, prepared once.
//! Machines are shared and noisy, so every figure is printed as a ratio
//! against a baseline measured in the same run:
//!
//! 1. the writers alone (idle baseline): throughput, max latency;
//! 2. the writers during `zerodown apply --until contract` of
//!    `ALTER TABLE t MODIFY val BIGINT` (twin column, sync triggers, batched
//!    backfill, gate, swap);
//! 3. the writers during the plain `ALTER TABLE t MODIFY val BIGINT,
//!    ALGORITHM=COPY` (the only algorithm a type change has: the table is
//!    copied under a lock that blocks writes for the whole copy);
//! 4. the writers during `pt-online-schema-change --alter "MODIFY val
//!    BIGINT"`, when Debian's percona-toolkit is installed (shadow table,
//!    triggers, chunked `INSERT … SELECT … LOCK IN SHARE MODE`, rename);
//!    deadlocks and lock wait timeouts counted apart;
//! 5. without writers: zerodown's batched backfill (10k rows per batch) in
//!    rows/s against one unbatched `UPDATE` of the same rows, rounds in
//!    rotating order, the median of the ratios within each round;
//! 6. the writers with the sync triggers of a column rename installed
//!    (`apply --until expand`) against without them: windows alternate in a
//!    balanced order between the triggers in place and dropped (MySQL cannot
//!    disable a trigger; `SHOW CREATE TRIGGER` gives back what to recreate).
//!
//! The zerodown binary is the one cargo builds for this bench
//! (`CARGO_BIN_EXE_zerodown`, release profile under `cargo bench`). The
//! server is `ZERODOWN_TEST_MYSQL_URL` (default
//! mysql://root@127.0.0.1:3306/test); the bench creates databases
//! `zd_mybench_<pid>_*` on it and drops them at the end, also after a
//! failure. `ZD_BENCH_ROWS` changes the table's size.
//!
//! Run: `cargo bench --bench mysql_online` (about 5 minutes on 2 cores).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, Row, Statement};

mod common;
use common::{
    apply, finish, median, note_errors, setup, slow_writes_by_task, step, url_with_database,
    write_plan_dir, writer_figures, Alternation, Figure, Goal, Report, Result, WaitSample,
    WriterConnection, WriterGoals, WriterStats, Writers, SAMPLE_EVERY, SYNC_PATTERN, SYNC_WARM_UP,
    SYNC_WINDOW, WRITERS,
};

const DEFAULT_URL: &str = "mysql://root@127.0.0.1:3306/test";
const DEFAULT_ROWS: i64 = 1_000_000;
/// The idle baseline of scenario 1; a max latency grows with its window, so
/// this is about as long as the apply it is compared with.
const IDLE_WINDOW: Duration = Duration::from_secs(15);
/// Writers run this long before a DDL starts, so it meets them all in
/// flight.
const WARM_UP: Duration = Duration::from_millis(500);

const BASE_SCHEMA: &str = "CREATE TABLE t (id BIGINT PRIMARY KEY, val INT, payload TEXT);\n";
const RETYPE_PLAN: &str = "version: 2
engine: mysql
description: widen t.val to BIGINT
changes:
  - ALTER TABLE t MODIFY val BIGINT
";
const BACKFILL_PLAN: &str = "version: 2
engine: mysql
description: fill t.payload
changes: []
backfills:
  - table: t
    set: \"payload = 'x'\"
    where: \"NOT (payload <=> 'x')\"
    batch_size: 10000
";
const RENAME_PLAN: &str = "version: 2
engine: mysql
description: rename t.val to amount
changes:
  - ALTER TABLE t RENAME COLUMN val TO amount
";
const UNBATCHED_FILL: &str = "UPDATE t SET payload = 'x' WHERE NOT (payload <=> 'x')";
const LEFT_TO_FILL: &str = "SELECT count(*) FROM t WHERE NOT (payload <=> 'x')";
const PLAIN_RETYPE: &str = "ALTER TABLE t MODIFY val BIGINT, ALGORITHM=COPY";
const PT_OSC: &str = "pt-online-schema-change";
/// The task of the backfill plan whose time is the batched backfill.
const BACKFILL_TASK: &str = "v2/migrate/backfill/t.payload/backfill";
/// The backfill of the type change, and its batch size (the default).
const RETYPE_BACKFILL_TASK: &str = "v2/migrate/alter-column-type/t.val/backfill";
const RETYPE_BATCH: u64 = 5_000;
const BACKFILL_ROUNDS: usize = 3;

/// The two ways of filling `payload` that scenario 5 compares.
#[derive(Clone, Copy)]
enum Fill {
    Zerodown,
    OneUpdate,
}

impl Fill {
    const ALL: [Fill; 2] = [Fill::Zerodown, Fill::OneUpdate];

    fn label(self) -> &'static str {
        match self {
            Fill::Zerodown => "zerodown apply (10k-row batches)",
            Fill::OneUpdate => "one unbatched UPDATE",
        }
    }
}

// ---------------------------------------------------------------------------
// Databases

async fn connect(url: &str) -> Result<Conn> {
    Ok(Conn::from_url(url).await?)
}

async fn scalar_i64(conn: &mut Conn, sql: &str) -> Result<i64> {
    let value: Option<i64> = conn.query_first(sql).await?;
    value.ok_or_else(|| format!("no row from {sql}").into())
}

/// The server, and the databases the bench created on it.
struct Server {
    url: String,
    admin: Conn,
    prefix: String,
    created: Vec<String>,
    rows: i64,
}

impl Server {
    async fn open(url: &str, rows: i64) -> Result<Server> {
        Ok(Server {
            url: url.to_string(),
            admin: connect(url).await?,
            prefix: format!("zd_mybench_{}", std::process::id()),
            created: Vec::new(),
            rows,
        })
    }

    fn name(&self, suffix: &str) -> String {
        format!("{}_{suffix}", self.prefix)
    }

    /// Create `<prefix>_<suffix>` with the base schema; its URL.
    async fn create(&mut self, suffix: &str) -> Result<String> {
        let name = self.name(suffix);
        self.admin
            .query_drop(format!("CREATE DATABASE `{name}`"))
            .await?;
        self.created.push(name.clone());
        let url = url_with_database(&self.url, &name)?;
        let mut conn = connect(&url).await?;
        conn.query_drop(BASE_SCHEMA).await?;
        conn.disconnect().await?;
        Ok(url)
    }

    /// The base: `t` with its rows, from MariaDB's sequence engine.
    async fn build_base(&mut self) -> Result<()> {
        let url = self.create("base").await?;
        let mut conn = connect(&url).await?;
        conn.query_drop(format!(
            "INSERT INTO t (id, val, payload) \
             SELECT seq, seq % 1000, md5(seq) FROM seq_1_to_{}",
            self.rows
        ))
        .await?;
        conn.query_drop("ANALYZE TABLE t").await?;
        conn.disconnect().await?;
        Ok(())
    }

    /// A fresh copy of the base's rows in `<prefix>_<suffix>`; its URL.
    async fn copy_of_base(&mut self, suffix: &str) -> Result<String> {
        let url = self.create(suffix).await?;
        let sql = format!(
            "INSERT INTO `{}`.t SELECT * FROM `{}`.t",
            self.name(suffix),
            self.name("base")
        );
        self.admin.query_drop(sql).await?;
        self.admin
            .query_drop(format!("ANALYZE TABLE `{}`.t", self.name(suffix)))
            .await?;
        // Let InnoDB write the copy's pages out before a measurement starts,
        // so none pays for the copy.
        self.settle().await?;
        Ok(url)
    }

    /// Wait (up to 10 s) until InnoDB's dirty pages are mostly flushed.
    async fn settle(&mut self) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            let row: Option<(String, i64)> = self
                .admin
                .query_first("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")
                .await?;
            if row.is_none_or(|(_, dirty)| dirty < 1000) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }

    async fn drop_database(&mut self, suffix: &str) -> Result<()> {
        let name = self.name(suffix);
        self.admin
            .query_drop(format!("DROP DATABASE `{name}`"))
            .await?;
        self.created.retain(|n| *n != name);
        Ok(())
    }

    async fn drop_all(&mut self) {
        for name in self.created.drain(..).rev() {
            let sql = format!("DROP DATABASE IF EXISTS `{name}`");
            if let Err(e) = self.admin.query_drop(sql).await {
                eprintln!("warning: could not drop database {name}: {e}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Writers

const WRITE_SQL: &str = "UPDATE t SET val = val + 1 WHERE id = ?";

/// A writer's connection: the write prepared once, the connection's id.
struct MyWriter {
    conn: Conn,
    statement: Statement,
    id: u64,
    broken: bool,
}

impl WriterConnection for MyWriter {
    async fn open(url: String) -> Result<Self> {
        let mut conn = connect(&url).await?;
        let statement = conn.prep(WRITE_SQL).await?;
        let id = u64::from(conn.id());
        Ok(MyWriter {
            conn,
            statement,
            id,
            broken: false,
        })
    }

    fn session(&self) -> u64 {
        self.id
    }

    async fn write(&mut self, key: i64) -> std::result::Result<u64, String> {
        match self.conn.exec_drop(&self.statement, (key,)).await {
            Ok(()) => Ok(self.conn.affected_rows()),
            Err(e) => {
                // A server error (deadlock, lock wait timeout) leaves the
                // connection usable; anything else loses it.
                self.broken = !matches!(e, mysql_async::Error::Server(_));
                Err(e.to_string())
            }
        }
    }

    fn is_broken(&self) -> bool {
        self.broken
    }

    async fn close(self) {
        let _ = self.conn.disconnect().await;
    }
}

/// Sample the writers' sessions in the process list until `stop`: their
/// state in the server's words (`Waiting for table metadata lock`,
/// `Updating`, …), or `row lock wait` when InnoDB has their transaction
/// waiting for a row. Runs in every window, so baselines carry its cost too.
async fn sample_waits(url: String, sessions: Vec<u64>, stop: Arc<AtomicBool>) -> Vec<WaitSample> {
    let mut samples = Vec::new();
    let Ok(mut conn) = connect(&url).await else {
        return samples;
    };
    let ids: Vec<String> = sessions.iter().map(u64::to_string).collect();
    let sql = format!(
        "SELECT p.ID, CASE WHEN x.trx_state = 'LOCK WAIT' THEN 'row lock wait' \
         ELSE coalesce(nullif(p.STATE, ''), 'running') END \
         FROM information_schema.PROCESSLIST p \
         LEFT JOIN information_schema.INNODB_TRX x ON x.trx_mysql_thread_id = p.ID \
         WHERE p.ID IN ({}) AND p.COMMAND <> 'Sleep'",
        ids.join(", ")
    );
    while !stop.load(Ordering::Relaxed) {
        if let Ok(rows) = conn.query::<(u64, String), _>(&sql).await {
            let at = Instant::now();
            samples.extend(rows.into_iter().map(|(session, event)| WaitSample {
                at,
                session,
                event,
            }));
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    let _ = conn.disconnect().await;
    samples
}

async fn start_writers(url: &str, rows: i64, seed: u64) -> Result<Writers> {
    let sampler_url = url.to_string();
    Writers::start::<MyWriter, _, _>(url, rows, seed, move |sessions, stop| {
        sample_waits(sampler_url, sessions, stop)
    })
    .await
}

async fn run_writers_for(url: &str, rows: i64, seed: u64, window: Duration) -> Result<WriterStats> {
    let writers = start_writers(url, rows, seed).await?;
    tokio::time::sleep(window).await;
    writers.stop().await
}

/// Writes that failed with MySQL error `code` (e.g. 1213, a deadlock).
fn failed_with_code(stats: &WriterStats, code: u16) -> u64 {
    let needle = format!("ERROR {code} ");
    stats
        .errors
        .iter()
        .filter(|(e, _)| e.contains(&needle))
        .map(|(_, n)| n)
        .sum()
}

// ---------------------------------------------------------------------------
// pt-online-schema-change

fn pt_osc_installed() -> bool {
    std::process::Command::new(PT_OSC)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// pt-online-schema-change's DSN for table `t` of the database of `url`.
fn pt_osc_dsn(url: &str) -> Result<String> {
    let opts = Opts::from_url(url)?;
    let database = opts.db_name().ok_or("the URL names no database")?;
    let mut dsn = format!(
        "h={},P={},D={database},t=t",
        opts.ip_or_hostname(),
        opts.tcp_port()
    );
    if let Some(user) = opts.user() {
        dsn.push_str(&format!(",u={user}"));
    }
    if let Some(pass) = opts.pass() {
        dsn.push_str(&format!(",p={pass}"));
    }
    Ok(dsn)
}

/// Run pt-online-schema-change with `alter` on `t` of `url`: its wall time.
async fn pt_osc(url: &str, alter: &str) -> Result<Duration> {
    let started = Instant::now();
    let output = tokio::process::Command::new(PT_OSC)
        .args([
            "--alter",
            alter,
            "--execute",
            // No replicas here; finding out costs a query per chunk.
            "--recursion-method=none",
        ])
        .arg(pt_osc_dsn(url)?)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await?;
    let wall = started.elapsed();
    if !output.status.success() {
        return Err(format!(
            "{PT_OSC} exited with {}\n--- stdout\n{}\n--- stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(wall)
}

// ---------------------------------------------------------------------------
// Scenarios

async fn bench(server: &mut Server, work: &Path) -> Result<Report> {
    let started = Instant::now();
    let step = |what: &str| step(started, what);
    let rows = server.rows;
    let mut figures = Vec::new();
    let mut notes = Vec::new();

    step(&format!(
        "building the {rows}-row base table (INSERT … FROM seq_1_to_{rows})"
    ));
    server.build_base().await?;

    // 1 and 2: idle, then during zerodown's type change.
    let url = server.copy_of_base("retype").await?;
    step("1. writers alone (idle baseline)");
    let idle = run_writers_for(&url, rows, 1, IDLE_WINDOW).await?;
    note_errors("idle", &idle);
    let plans = write_plan_dir(work, "retype", BASE_SCHEMA, "0002_retype.yaml", RETYPE_PLAN)?;
    server.settle().await?;
    step("2. writers during zerodown apply --until contract (MODIFY val BIGINT)");
    let writers = start_writers(&url, rows, 2).await?;
    let applied = apply(&plans, &url, &work.join("retype.state"), "contract").await;
    let during = writers.stop().await?;
    let applied = applied?;
    note_errors("during zerodown apply", &during);
    check_retyped(&url).await?;
    server.drop_database("retype").await?;
    let backfill = applied.task(RETYPE_BACKFILL_TASK)?;
    let batches = (rows as f64 / RETYPE_BATCH as f64).ceil();
    notes.push(format!(
        "zerodown apply {:.1} s, of which the backfill {:.1} s: {batches} batches of {RETYPE_BATCH} rows, \
         {:.0} ms each on average; a write to a row of the batch in flight waits for its commit",
        applied.wall.as_secs_f64(),
        backfill.duration().as_secs_f64(),
        backfill.duration().as_secs_f64() * 1e3 / batches
    ));
    notes.push(format!(
        "writers' sessions, sampled every {} ms while a write runs: idle: {}; during zerodown apply: {}",
        SAMPLE_EVERY.as_millis(),
        idle.wait_shares(),
        during.wait_shares()
    ));
    notes.push("slowest write in flight during each task of the apply:".to_string());
    notes.extend(
        slow_writes_by_task(&applied, &during, 6)
            .into_iter()
            .map(|l| format!("  {l}")),
    );

    // 3: the plain ALTER on a fresh copy.
    let plain_url = server.copy_of_base("plain").await?;
    step("3. writers during a plain ALTER TABLE t MODIFY val BIGINT, ALGORITHM=COPY");
    let writers = start_writers(&plain_url, rows, 3).await?;
    tokio::time::sleep(WARM_UP).await;
    let mut ddl = connect(&plain_url).await?;
    let ddl_start = Instant::now();
    ddl.query_drop(PLAIN_RETYPE).await?;
    let plain_ddl = ddl_start.elapsed();
    ddl.disconnect().await?;
    let plain = writers.stop().await?;
    note_errors("during plain ALTER", &plain);
    check_retyped(&plain_url).await?;
    server.drop_database("plain").await?;
    notes.push(format!(
        "plain ALTER {:.1} s; writers' sessions during it: {}",
        plain_ddl.as_secs_f64(),
        plain.wait_shares()
    ));

    figures.extend(writer_figures(
        "zerodown apply",
        &during,
        &idle,
        WriterGoals {
            throughput: Goal::AtLeast(0.6),
            max: Goal::None,
            p99: Goal::None,
            no_failures: true,
        },
    ));
    figures.push(Figure::count(
        "deadlocks, zerodown apply",
        failed_with_code(&during, 1213),
        failed_with_code(&idle, 1213),
        Goal::Zero(failed_with_code(&during, 1213)),
    ));
    figures.push(Figure::durations(
        "apply wall time vs plain ALTER",
        applied.wall,
        plain_ddl,
        Goal::None,
    ));
    figures.extend(writer_figures(
        "plain ALTER",
        &plain,
        &idle,
        WriterGoals::NONE,
    ));
    // What a writer waits at most, against the plain ALTER's.
    figures.push(Figure::durations(
        "writer max latency, zerodown vs plain ALTER",
        during.max(),
        plain.max(),
        Goal::AtMost(1.0),
    ));

    // 4: pt-online-schema-change, the same change on a fresh copy.
    if pt_osc_installed() {
        let pt_url = server.copy_of_base("ptosc").await?;
        step("4. writers during pt-online-schema-change --alter \"MODIFY val BIGINT\"");
        let writers = start_writers(&pt_url, rows, 4).await?;
        tokio::time::sleep(WARM_UP).await;
        let pt_wall = pt_osc(&pt_url, "MODIFY val BIGINT").await;
        let pt = writers.stop().await?;
        let pt_wall = pt_wall?;
        note_errors("during pt-online-schema-change", &pt);
        check_retyped(&pt_url).await?;
        server.drop_database("ptosc").await?;
        notes.push(format!(
            "pt-online-schema-change {:.1} s; writers' sessions during it: {}",
            pt_wall.as_secs_f64(),
            pt.wait_shares()
        ));
        figures.extend(writer_figures(
            "pt-online-schema-change",
            &pt,
            &idle,
            WriterGoals::NONE,
        ));
        figures.push(Figure::count(
            "deadlocks, pt-online-schema-change",
            failed_with_code(&pt, 1213),
            failed_with_code(&idle, 1213),
            Goal::None,
        ));
        figures.push(Figure::count(
            "lock wait timeouts, pt-online-schema-change",
            failed_with_code(&pt, 1205),
            failed_with_code(&idle, 1205),
            Goal::None,
        ));
        figures.push(Figure::throughput(
            "writer throughput, zerodown vs pt-online-schema-change",
            &during,
            &pt,
            Goal::AtLeast(1.0),
        ));
        figures.push(Figure::durations(
            "apply wall time vs pt-online-schema-change",
            applied.wall,
            pt_wall,
            Goal::None,
        ));
    } else {
        step("4. skipped: pt-online-schema-change is not installed (apt-get install percona-toolkit)");
        notes.push("pt-online-schema-change not installed: scenario 4 skipped".to_string());
    }

    // 5: batched backfill against one UPDATE, no writers; rounds in
    // rotating order.
    let plans = write_plan_dir(
        work,
        "backfill",
        BASE_SCHEMA,
        "0002_fill.yaml",
        BACKFILL_PLAN,
    )?;
    let mut rates: [Vec<f64>; 2] = Default::default();
    for round in 0..BACKFILL_ROUNDS {
        for k in 0..Fill::ALL.len() {
            let kind = Fill::ALL[(round + k) % Fill::ALL.len()];
            let suffix = format!("fill_{round}_{}", kind as usize);
            let url = server.copy_of_base(&suffix).await?;
            step(&format!(
                "5. round {}/{BACKFILL_ROUNDS}: {}",
                round + 1,
                kind.label()
            ));
            let mut conn = connect(&url).await?;
            let elapsed = match kind {
                Fill::Zerodown => {
                    let state = work.join(format!("fill-{round}.state"));
                    let run = apply(&plans, &url, &state, "migrate").await?;
                    run.task(BACKFILL_TASK)?.duration()
                }
                Fill::OneUpdate => {
                    let start = Instant::now();
                    conn.query_drop(UNBATCHED_FILL).await?;
                    let touched = conn.affected_rows();
                    if touched != rows as u64 {
                        return Err(format!("the UPDATE touched {touched} rows").into());
                    }
                    start.elapsed()
                }
            };
            let left = scalar_i64(&mut conn, LEFT_TO_FILL).await?;
            conn.disconnect().await?;
            if left != 0 {
                return Err(format!("{}: {left} rows left", kind.label()).into());
            }
            rates[kind as usize].push(rows as f64 / elapsed.as_secs_f64());
            server.drop_database(&suffix).await?;
        }
    }
    for kind in Fill::ALL {
        let list: Vec<String> = rates[kind as usize]
            .iter()
            .map(|x| format!("{x:.0}"))
            .collect();
        notes.push(format!(
            "backfill rows/s, {}: {}",
            kind.label(),
            list.join(", ")
        ));
    }
    // Ratios within a round: its runs are close in time, so they share more
    // of the machine's mood than runs of other rounds.
    let per_round: Vec<f64> = rates[Fill::Zerodown as usize]
        .iter()
        .zip(&rates[Fill::OneUpdate as usize])
        .map(|(x, y)| x / y)
        .collect();
    let list: Vec<String> = per_round.iter().map(|x| format!("{x:.2}")).collect();
    notes.push(format!(
        "zerodown / one UPDATE, per round: {}",
        list.join(", ")
    ));
    let [zd_rate, one_rate] = rates.map(median);
    figures.push(Figure {
        name: "backfill rate, zerodown vs one UPDATE".into(),
        value: format!("{zd_rate:.0} rows/s"),
        baseline: format!("{one_rate:.0} rows/s"),
        ratio: Some(median(per_round)),
        goal: Goal::AtLeast(0.5),
    });

    // 6: writers with and without the rename's sync triggers, in windows
    // alternating in a balanced order so drift falls on both sides alike.
    let sync_url = server.copy_of_base("sync").await?;
    let plans = write_plan_dir(work, "rename", BASE_SCHEMA, "0002_rename.yaml", RENAME_PLAN)?;
    step("6. zerodown apply --until expand (RENAME COLUMN val TO amount: sync triggers)");
    apply(&plans, &sync_url, &work.join("rename.state"), "expand").await?;
    let mut admin = connect(&sync_url).await?;
    let names: Vec<String> = admin
        .query("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = 't' ORDER BY TRIGGER_NAME")
        .await?;
    if names.is_empty() {
        return Err("apply --until expand installed no trigger on t".into());
    }
    let mut definitions = BTreeMap::new();
    for name in &names {
        let row: Row = admin
            .query_first(format!("SHOW CREATE TRIGGER `{name}`"))
            .await?
            .ok_or("SHOW CREATE TRIGGER returned no row")?;
        let sql: String = row
            .get("SQL Original Statement")
            .ok_or("no SQL Original Statement")?;
        definitions.insert(name.clone(), sql);
    }
    notes.push(format!("sync triggers of the rename: {}", names.join(", ")));
    server.settle().await?;
    step("6. writers with and without the sync triggers, alternating windows");
    run_writers_for(&sync_url, rows, 50, SYNC_WARM_UP).await?;
    let mut alternation = Alternation::default();
    let mut installed = true;
    for (i, &enabled) in SYNC_PATTERN.iter().enumerate() {
        if enabled != installed {
            for (name, sql) in &definitions {
                let toggle = if enabled {
                    sql.clone()
                } else {
                    format!("DROP TRIGGER `{name}`")
                };
                admin.query_drop(toggle).await?;
            }
            installed = enabled;
        }
        let window = run_writers_for(&sync_url, rows, 51 + i as u64, SYNC_WINDOW).await?;
        alternation.add(enabled, &window);
    }
    admin.disconnect().await?;
    figures.push(alternation.figure(Goal::AtLeast(0.85)));
    step("done");
    Ok(Report { figures, notes })
}

/// The type change really happened: `val` is BIGINT and no twin is left.
async fn check_retyped(url: &str) -> Result<()> {
    let mut conn = connect(url).await?;
    let columns: Option<String> = conn
        .query_first(
            "SELECT group_concat(column_name, ' ', data_type ORDER BY column_name SEPARATOR ', ') \
             FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 't'",
        )
        .await?;
    conn.disconnect().await?;
    let columns = columns.unwrap_or_default();
    if columns != "id bigint, payload text, val bigint" {
        return Err(format!("after the change, t has columns: {columns}").into());
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let url = std::env::var("ZERODOWN_TEST_MYSQL_URL").unwrap_or_else(|_| DEFAULT_URL.to_string());
    let rows = match std::env::var("ZD_BENCH_ROWS") {
        Ok(v) => match v.parse::<i64>() {
            Ok(n) if n >= 10_000 => n,
            _ => {
                eprintln!("ZD_BENCH_ROWS must be a number of rows, at least 10000: {v}");
                return std::process::ExitCode::FAILURE;
            }
        },
        Err(_) => DEFAULT_ROWS,
    };
    let (work, runtime) = setup("mysql_online");
    let outcome = runtime.block_on(async {
        let mut server = Server::open(&url, rows).await?;
        let result = bench(&mut server, &work).await;
        server.drop_all().await;
        result
    });
    let title = format!("{rows} rows, {WRITERS} writers");
    finish("mysql_online", &work, &title, outcome)
}
