//! Online behaviour on PostgreSQL: what `zerodown apply` costs the writers
//! of a busy table, next to the plain DDL it replaces.
//!
//! A table of 1M rows (`id bigint primary key, val integer, payload text`)
//! is built once in a template database, vacuumed and analyzed; every
//! scenario runs on a fresh copy of it (`CREATE DATABASE … TEMPLATE`, a file
//! copy), so each starts from the same rows and zerodown's history of one
//! scenario never meets another. Four writers (tokio tasks, a connection
//! each) run single-row `UPDATE t SET val = val + 1 WHERE id = $1` by
//! random key. Machines are shared and noisy, so every figure is printed as
//! a ratio against a baseline measured in the same run:
//!
//! 1. the writers alone (idle baseline): throughput, max latency;
//! 2. the writers during `zerodown apply --until contract` of
//!    `ALTER TABLE t ALTER COLUMN val TYPE bigint` (twin column, sync
//!    trigger, batched backfill, gate, swap);
//! 3. the writers during the plain `ALTER … TYPE bigint`, which rewrites the
//!    table under ACCESS EXCLUSIVE;
//! 4. without writers: zerodown's batched backfill (10k rows per batch) in
//!    rows/s against one unbatched `UPDATE` of the same rows, and against
//!    the same batches run by a server-side procedure (no client, no state
//!    file: what batching itself costs); five rounds in rotating order,
//!    the median of the ratios within each round;
//! 5. the writers with the sync triggers of a column rename installed
//!    (`apply --until expand`) against without them: windows alternate
//!    between the triggers enabled and disabled (`ALTER TABLE … DISABLE
//!    TRIGGER USER`: a disabled trigger does not fire, as if not installed)
//!    in a balanced order, so drift over the run cancels.
//!
//! The zerodown binary is the one cargo builds for this bench
//! (`CARGO_BIN_EXE_zerodown`, release profile under `cargo bench`). The
//! server is `ZERODOWN_TEST_PG_URL` (default
//! postgres://postgres@127.0.0.1:5432/test); the bench creates databases
//! `zd_pgbench_<pid>_*` next to it and drops them at the end, also after a
//! failure.
//!
//! Run: `cargo bench --bench pg_online` (about 6 minutes on 2 cores).

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls, Statement};

type BenchError = Box<dyn Error + Send + Sync>;
type Result<T> = std::result::Result<T, BenchError>;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const ROWS: i64 = 1_000_000;
const WRITERS: usize = 4;
/// The idle baseline of scenario 1; a max latency grows with its window, so
/// this is about as long as the apply it is compared with.
const IDLE_WINDOW: Duration = Duration::from_secs(20);
/// Scenario 5: windows with (true) and without (false) the sync triggers,
/// each kind at the same mean position, after a warm-up that is not counted.
const SYNC_PATTERN: [bool; 8] = [false, true, true, false, true, false, false, true];
const SYNC_WINDOW: Duration = Duration::from_secs(5);
const SYNC_WARM_UP: Duration = Duration::from_secs(3);
/// Writers run this long before the plain ALTER starts, so it meets them
/// all in flight.
const WARM_UP: Duration = Duration::from_millis(500);

const BASE_SCHEMA: &str = "CREATE TABLE t (id bigint PRIMARY KEY, val integer, payload text);\n";
const RETYPE_PLAN: &str = "version: 2
engine: postgres
description: widen t.val to bigint
changes:
  - ALTER TABLE t ALTER COLUMN val TYPE bigint
";
const BACKFILL_PLAN: &str = "version: 2
engine: postgres
description: fill t.payload
changes: []
backfills:
  - table: t
    set: \"payload = 'x'\"
    where: \"payload IS DISTINCT FROM 'x'\"
    batch_size: 10000
";
const RENAME_PLAN: &str = "version: 2
engine: postgres
description: rename t.val to amount
changes:
  - ALTER TABLE t RENAME COLUMN val TO amount
";
const UNBATCHED_FILL: &str = "UPDATE t SET payload = 'x' WHERE payload IS DISTINCT FROM 'x'";
const PLAIN_RETYPE: &str = "ALTER TABLE t ALTER COLUMN val TYPE bigint";
/// The task of the backfill plan whose time is the batched backfill.
const BACKFILL_TASK: &str = "v2/migrate/backfill/t.payload/backfill";
/// The backfill of the type change, and its batch size (the default).
const RETYPE_BACKFILL_TASK: &str = "v2/migrate/alter-column-type/t.val/backfill";
const RETYPE_BATCH: u64 = 5_000;
const BACKFILL_ROUNDS: usize = 5;
/// The three ways of filling `payload` that scenario 4 compares.
#[derive(Clone, Copy)]
enum Fill {
    Zerodown,
    ServerSide,
    OneUpdate,
}

impl Fill {
    const ALL: [Fill; 3] = [Fill::Zerodown, Fill::ServerSide, Fill::OneUpdate];

    fn label(self) -> &'static str {
        match self {
            Fill::Zerodown => "zerodown apply (10k-row batches)",
            Fill::ServerSide => "the same batches in a server-side procedure",
            Fill::OneUpdate => "one unbatched UPDATE",
        }
    }
}

const LEFT_TO_FILL: &str = "SELECT count(*) FROM t WHERE payload IS DISTINCT FROM 'x'";
/// zerodown's batches without a client: the same upper-key query and range
/// update, a commit per batch. Tells the executor's own cost apart from
/// what batching costs the server.
const BATCHED_PROCEDURE: &str = "
CREATE PROCEDURE zd_bench_fill(batch integer) LANGUAGE plpgsql AS $$
DECLARE
  lower_key bigint := (SELECT min(id) - 1 FROM t);
  upper_key bigint;
BEGIN
  LOOP
    SELECT id INTO upper_key FROM t WHERE id > lower_key ORDER BY id LIMIT 1 OFFSET batch - 1;
    IF upper_key IS NULL THEN
      UPDATE t SET payload = 'x' WHERE id > lower_key AND (payload IS DISTINCT FROM 'x');
      COMMIT;
      EXIT;
    END IF;
    UPDATE t SET payload = 'x'
      WHERE id > lower_key AND id <= upper_key AND (payload IS DISTINCT FROM 'x');
    COMMIT;
    lower_key := upper_key;
  END LOOP;
END $$";

// ---------------------------------------------------------------------------
// Databases

/// `url` with its database (the path) replaced by `name`; query kept.
fn url_with_database(url: &str, name: &str) -> Result<String> {
    let scheme_end = url.find("://").ok_or("database URL without scheme")? + 3;
    let (head, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map(|i| &tail[i..]).unwrap_or("");
    Ok(format!("{head}{authority}/{name}{query}"))
}

async fn connect(url: &str) -> Result<(Client, JoinHandle<()>)> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    let driver = tokio::spawn(async move {
        // The connection ends when its client is dropped; an error here
        // shows up as a failed query on the client.
        let _ = connection.await;
    });
    Ok((client, driver))
}

/// Close a connection and wait until it is gone, so its database can serve
/// as a template.
async fn disconnect(client: Client, driver: JoinHandle<()>) {
    drop(client);
    let _ = driver.await;
}

/// The server, and the databases the bench created on it.
struct Server {
    url: String,
    admin: Client,
    _admin_driver: JoinHandle<()>,
    prefix: String,
    created: Vec<String>,
}

impl Server {
    async fn open(url: &str) -> Result<Server> {
        let (admin, driver) = connect(url).await?;
        Ok(Server {
            url: url.to_string(),
            admin,
            _admin_driver: driver,
            prefix: format!("zd_pgbench_{}", std::process::id()),
            created: Vec::new(),
        })
    }

    /// Create `<prefix>_<suffix>` (a copy of `template` when given); its URL.
    async fn create(&mut self, suffix: &str, template: Option<&str>) -> Result<String> {
        let name = format!("{}_{suffix}", self.prefix);
        let sql = match template {
            Some(t) => format!("CREATE DATABASE \"{name}\" TEMPLATE \"{t}\""),
            None => format!("CREATE DATABASE \"{name}\""),
        };
        self.admin.batch_execute(&sql).await?;
        self.created.push(name.clone());
        url_with_database(&self.url, &name)
    }

    fn name(&self, suffix: &str) -> String {
        format!("{}_{suffix}", self.prefix)
    }

    /// Flush dirty pages now, so no measurement pays for the previous one's.
    async fn checkpoint(&self) -> Result<()> {
        self.admin.batch_execute("CHECKPOINT").await?;
        Ok(())
    }

    async fn drop_database(&mut self, suffix: &str) -> Result<()> {
        let name = self.name(suffix);
        self.admin
            .batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
            .await?;
        self.created.retain(|n| *n != name);
        Ok(())
    }

    async fn drop_all(&mut self) {
        for name in self.created.drain(..).rev() {
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            if let Err(e) = self.admin.batch_execute(&sql).await {
                eprintln!("warning: could not drop database {name}: {e}");
            }
        }
    }
}

/// The template: 1M rows, vacuumed and analyzed. Returns its name.
async fn build_template(server: &mut Server) -> Result<String> {
    let url = server.create("base", None).await?;
    let (client, driver) = connect(&url).await?;
    client
        .batch_execute(&format!(
            "{BASE_SCHEMA}INSERT INTO t (id, val, payload) \
             SELECT g, (g % 1000)::integer, md5(g::text) FROM generate_series(1, {ROWS}) g"
        ))
        .await?;
    client.batch_execute("VACUUM ANALYZE t").await?;
    disconnect(client, driver).await;
    Ok(server.name("base"))
}

// ---------------------------------------------------------------------------
// Writers

/// SplitMix64: enough randomness to spread keys, without a dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn key(&mut self) -> i64 {
        (self.next() % ROWS as u64) as i64 + 1
    }
}

const WRITE_SQL: &str = "UPDATE t SET val = val + 1 WHERE id = $1";

/// One write: when it started, how long it took, the backend that ran it.
#[derive(Clone, Copy)]
struct Write {
    start: Instant,
    latency: Duration,
    pid: i32,
}

/// What one writer saw.
#[derive(Default)]
struct WriterLog {
    ops: u64,
    failed: u64,
    writes: Vec<Write>,
    first_error: Option<String>,
}

/// What all writers saw over one window.
struct WriterStats {
    ops: u64,
    failed: u64,
    elapsed: Duration,
    /// Every write, slowest last.
    writes: Vec<Write>,
    /// See [`sample_waits`].
    waits: Vec<WaitSample>,
    first_error: Option<String>,
}

impl WriterStats {
    fn throughput(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    fn quantile(&self, q: f64) -> Duration {
        let i = ((self.writes.len() as f64 - 1.0) * q).round() as usize;
        self.writes.get(i).map_or(Duration::ZERO, |w| w.latency)
    }

    /// The wait samples as shares, largest first: `Lock/transactionid 12%, …`.
    fn wait_shares(&self) -> String {
        let counts = count_events(self.waits.iter());
        let total: u64 = counts.iter().map(|c| c.1).sum();
        counts
            .iter()
            .take(5)
            .map(|(what, n)| format!("{what} {:.0}%", *n as f64 * 100.0 / total.max(1) as f64))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// What the backend of `write` was sampled waiting on while it ran.
    fn waits_of(&self, write: &Write) -> String {
        let end = write.start + write.latency;
        let counts = count_events(
            self.waits
                .iter()
                .filter(|s| s.pid == write.pid && s.at >= write.start && s.at <= end),
        );
        if counts.is_empty() {
            return "no sample".to_string();
        }
        counts
            .iter()
            .map(|(what, n)| format!("{what} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn max(&self) -> Duration {
        self.quantile(1.0)
    }

    fn p99(&self) -> Duration {
        self.quantile(0.99)
    }
}

/// Writers connected and running until `stop`.
struct Writers {
    stop: Arc<AtomicBool>,
    started: Instant,
    tasks: Vec<JoinHandle<WriterLog>>,
    sampler: JoinHandle<Vec<WaitSample>>,
}

/// The writers' connections carry this name, so the wait sampler finds them.
const WRITER_APP: &str = "zd_bench_writer";

/// `url` with `application_name` set to [`WRITER_APP`].
fn writer_url(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}application_name={WRITER_APP}")
}

/// How often the wait sampler looks at the writers' backends.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);

/// A writer's backend seen running a statement: what it waited on
/// (`Lock/transactionid`: a row lock another transaction holds;
/// `Lock/relation`: a table lock; `running`: on CPU).
struct WaitSample {
    at: Instant,
    pid: i32,
    event: String,
}

/// Events by number of samples, most first.
fn count_events<'a>(samples: impl Iterator<Item = &'a WaitSample>) -> Vec<(String, u64)> {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for s in samples {
        *counts.entry(&s.event).or_insert(0) += 1;
    }
    let mut counts: Vec<(String, u64)> = counts
        .into_iter()
        .map(|(e, n)| (e.to_string(), n))
        .collect();
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts
}

/// Sample `pg_stat_activity` for the writers' active backends until `stop`.
/// Runs in every window, so baselines carry its cost too.
async fn sample_waits(url: String, stop: Arc<AtomicBool>) -> Vec<WaitSample> {
    let mut samples = Vec::new();
    let Ok((client, driver)) = connect(&url).await else {
        return samples;
    };
    let sql = format!(
        "SELECT pid, coalesce(wait_event_type || '/' || wait_event, 'running') FROM pg_stat_activity \
         WHERE application_name = '{WRITER_APP}' AND state = 'active'"
    );
    while !stop.load(Ordering::Relaxed) {
        if let Ok(rows) = client.query(&sql, &[]).await {
            let at = Instant::now();
            samples.extend(rows.iter().map(|row| WaitSample {
                at,
                pid: row.get(0),
                event: row.get(1),
            }));
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    disconnect(client, driver).await;
    samples
}

/// A writer's connection: the write prepared once, as an application does,
/// and the backend's pid.
struct WriterConnection {
    client: Client,
    statement: Statement,
    pid: i32,
    driver: JoinHandle<()>,
}

async fn writer_connection(url: &str) -> Result<WriterConnection> {
    let (client, driver) = connect(url).await?;
    let statement = client.prepare(WRITE_SQL).await?;
    let pid = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await?
        .get(0);
    Ok(WriterConnection {
        client,
        statement,
        pid,
        driver,
    })
}

async fn writer(
    url: String,
    seed: u64,
    mut conn: WriterConnection,
    stop: Arc<AtomicBool>,
) -> WriterLog {
    let mut log = WriterLog::default();
    let mut rng = SplitMix(seed);
    while !stop.load(Ordering::Relaxed) {
        if conn.client.is_closed() {
            // A failed connection is a failed write; go on with a new one.
            match writer_connection(&url).await {
                Ok(c) => conn = c,
                Err(e) => {
                    log.failed += 1;
                    log.first_error.get_or_insert(e.to_string());
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let key = rng.key();
        let start = Instant::now();
        let result = conn.client.execute(&conn.statement, &[&key]).await;
        log.writes.push(Write {
            start,
            latency: start.elapsed(),
            pid: conn.pid,
        });
        match result {
            Ok(1) => log.ops += 1,
            Ok(n) => {
                log.failed += 1;
                log.first_error
                    .get_or_insert(format!("update of id {key} touched {n} rows"));
            }
            Err(e) => {
                log.failed += 1;
                log.first_error.get_or_insert(e.to_string());
            }
        }
    }
    disconnect(conn.client, conn.driver).await;
    log
}

impl Writers {
    /// Connect every writer first, then start them together.
    async fn start(url: &str, seed: u64) -> Result<Writers> {
        let sampler_url = url.to_string();
        let url = &writer_url(url);
        let mut clients = Vec::with_capacity(WRITERS);
        for _ in 0..WRITERS {
            clients.push(writer_connection(url).await?);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = tokio::spawn(sample_waits(sampler_url, stop.clone()));
        let started = Instant::now();
        let tasks = clients
            .into_iter()
            .enumerate()
            .map(|(i, conn)| {
                let (url, stop) = (url.to_string(), stop.clone());
                let seed = seed ^ (i as u64 + 1).wrapping_mul(7919);
                tokio::spawn(writer(url, seed, conn, stop))
            })
            .collect();
        Ok(Writers {
            stop,
            started,
            tasks,
            sampler,
        })
    }

    /// Stop the writers (each finishes its statement in flight) and sum up.
    async fn stop(self) -> Result<WriterStats> {
        self.stop.store(true, Ordering::Relaxed);
        let mut logs = Vec::new();
        for task in self.tasks {
            logs.push(task.await?);
        }
        let elapsed = self.started.elapsed();
        let waits = self.sampler.await?;
        let mut writes: Vec<Write> = logs.iter().flat_map(|l| l.writes.iter().copied()).collect();
        writes.sort_unstable_by_key(|w| w.latency);
        Ok(WriterStats {
            ops: logs.iter().map(|l| l.ops).sum(),
            failed: logs.iter().map(|l| l.failed).sum(),
            elapsed,
            writes,
            waits,
            first_error: logs.into_iter().find_map(|l| l.first_error),
        })
    }

    async fn run_for(url: &str, seed: u64, window: Duration) -> Result<WriterStats> {
        let writers = Writers::start(url, seed).await?;
        tokio::time::sleep(window).await;
        writers.stop().await
    }
}

// ---------------------------------------------------------------------------
// zerodown

/// A plan directory: `schemas/0001.sql` and one plan at version 2.
fn write_plan_dir(root: &Path, name: &str, plan_file: &str, plan: &str) -> Result<PathBuf> {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("schemas"))?;
    std::fs::write(dir.join("schemas/0001.sql"), BASE_SCHEMA)?;
    std::fs::write(dir.join(plan_file), plan)?;
    Ok(dir)
}

/// A finished zerodown run: its wall time and its output lines, each with
/// the moment it was read (the progress output flushes every line).
struct ZerodownRun {
    started: Instant,
    wall: Duration,
    lines: Vec<(Instant, String)>,
}

/// One task of a run, from its `… <id>: <summary>` line to its `✓ <id>` line.
struct TaskSpan {
    id: String,
    start: Instant,
    end: Instant,
}

impl ZerodownRun {
    fn tasks(&self) -> Vec<TaskSpan> {
        let mut spans: Vec<TaskSpan> = Vec::new();
        for (at, line) in &self.lines {
            let line = line.trim_start();
            if let Some(rest) = line.strip_prefix("… ") {
                if let Some((id, _summary)) = rest.split_once(": ") {
                    spans.push(TaskSpan {
                        id: id.to_string(),
                        start: *at,
                        end: *at,
                    });
                }
            } else if let Some(rest) = line.strip_prefix("✓ ") {
                let id = rest.split(" (").next().unwrap_or(rest);
                if let Some(span) = spans.iter_mut().rev().find(|s| s.id == id) {
                    span.end = *at;
                }
            }
        }
        spans
    }

    fn task(&self, id: &str) -> Result<TaskSpan> {
        self.tasks()
            .into_iter()
            .find(|t| t.id == id && t.end > t.start)
            .ok_or_else(|| format!("no finished task {id} in the output of zerodown").into())
    }
}

/// Run the zerodown binary; an exit other than 0 is an error with its output.
async fn zerodown(args: &[&str]) -> Result<ZerodownRun> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    let started = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_zerodown"))
        .args(args)
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let mut stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let read_stdout = tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        let mut read = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            read.push((Instant::now(), line));
        }
        read
    });
    let read_stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let status = child.wait().await?;
    let wall = started.elapsed();
    let lines = read_stdout.await?;
    let stderr = read_stderr.await?;
    if !status.success() {
        let stdout: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
        return Err(format!(
            "zerodown {} exited with {status}\n--- stdout\n{}\n--- stderr\n{stderr}",
            args.join(" "),
            stdout.join("\n")
        )
        .into());
    }
    Ok(ZerodownRun {
        started,
        wall,
        lines,
    })
}

async fn apply(plans: &Path, url: &str, state: &Path, until: &str) -> Result<ZerodownRun> {
    zerodown(&[
        "apply",
        &plans.to_string_lossy(),
        "--database",
        url,
        "--state",
        &state.to_string_lossy(),
        "--until",
        until,
    ])
    .await
}

/// Where the slow writes of a run were: for each task of `run` (and the
/// time outside any task), the slowest write in flight during it and what
/// its backend waited on; slowest first, the `limit` worst.
fn slow_writes_by_task(run: &ZerodownRun, stats: &WriterStats, limit: usize) -> Vec<String> {
    let tasks = run.tasks();
    let mut worst: Vec<(String, Write)> = Vec::new();
    let mut note = |name: &str, write: Write| match worst.iter_mut().find(|w| w.0 == name) {
        Some(w) if w.1.latency >= write.latency => {}
        Some(w) => w.1 = write,
        None => worst.push((name.to_string(), write)),
    };
    for write in &stats.writes {
        let end = write.start + write.latency;
        let overlapping: Vec<&TaskSpan> = tasks
            .iter()
            .filter(|t| t.start <= end && write.start <= t.end)
            .collect();
        if overlapping.is_empty() {
            note("(between tasks: connect, introspect, plan)", *write);
        }
        for t in overlapping {
            note(&t.id, *write);
        }
    }
    worst.sort_by_key(|w| std::cmp::Reverse(w.1.latency));
    worst
        .into_iter()
        .take(limit)
        .map(|(name, write)| {
            format!(
                "{:>9} at {:>5.1} s  {name}\n              waiting on: {}",
                ms(write.latency),
                write
                    .start
                    .saturating_duration_since(run.started)
                    .as_secs_f64(),
                stats.waits_of(&write)
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The report

struct Figure {
    name: &'static str,
    value: String,
    baseline: String,
    ratio: Option<f64>,
    goal: Goal,
}

#[derive(Clone, Copy)]
enum Goal {
    AtLeast(f64),
    AtMost(f64),
    /// The value itself must be zero (failed writes).
    Zero(u64),
    /// Shown for comparison, no goal.
    None,
}

impl Goal {
    fn text(self) -> String {
        match self {
            Goal::AtLeast(g) => format!("≥ {g:.2}"),
            Goal::AtMost(g) => format!("≤ {g:.2}"),
            Goal::Zero(_) => "= 0".to_string(),
            Goal::None => "-".to_string(),
        }
    }

    fn met(self, ratio: Option<f64>) -> &'static str {
        let yes_no = |b: bool| if b { "yes" } else { "NO" };
        match (self, ratio) {
            (Goal::AtLeast(g), Some(r)) => yes_no(r >= g),
            (Goal::AtMost(g), Some(r)) => yes_no(r <= g),
            (Goal::Zero(v), _) => yes_no(v == 0),
            _ => "-",
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn print_table(figures: &[Figure]) {
    let headers = ["figure", "value", "baseline", "ratio", "goal", "met?"];
    let rows: Vec<[String; 6]> = figures
        .iter()
        .map(|f| {
            [
                f.name.to_string(),
                f.value.clone(),
                f.baseline.clone(),
                f.ratio.map_or("-".to_string(), |r| format!("{r:.2}")),
                f.goal.text(),
                f.goal.met(f.ratio).to_string(),
            ]
        })
        .collect();
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([headers[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..6).map(width).collect();
    let line = |cells: [&str; 6]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if i == 0 {
                out.push_str(cell);
                out.push_str(&" ".repeat(pad));
            } else {
                out.push_str("  ");
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            }
        }
        println!("{}", out.trim_end());
    };
    line(headers);
    for r in &rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]);
    }
}

fn ops(s: &WriterStats) -> String {
    format!("{:.0} ops/s", s.throughput())
}

fn note_errors(what: &str, s: &WriterStats) {
    if let Some(e) = &s.first_error {
        println!("  {what}: {} failed writes, first: {e}", s.failed);
    }
}

// ---------------------------------------------------------------------------
// Scenarios

/// The figures, and what explains them.
struct Report {
    figures: Vec<Figure>,
    notes: Vec<String>,
}

async fn bench(server: &mut Server, work: &Path) -> Result<Report> {
    let started = Instant::now();
    let step = |what: &str| println!("[{:>5.1} s] {what}", started.elapsed().as_secs_f64());
    let mut figures = Vec::new();
    let mut notes = Vec::new();

    step("building the 1M-row template (INSERT … generate_series, VACUUM ANALYZE)");
    let template = build_template(server).await?;

    // 1 and 2: idle, then during zerodown's type change.
    let url = server.create("retype", Some(&template)).await?;
    server.checkpoint().await?;
    step("1. writers alone (idle baseline)");
    let idle = Writers::run_for(&url, 1, IDLE_WINDOW).await?;
    note_errors("idle", &idle);
    let plans = write_plan_dir(work, "retype", "0002_retype.yaml", RETYPE_PLAN)?;
    server.checkpoint().await?;
    step("2. writers during zerodown apply --until contract (ALTER COLUMN val TYPE bigint)");
    let writers = Writers::start(&url, 2).await?;
    let applied = apply(&plans, &url, &work.join("retype.state"), "contract").await;
    let during = writers.stop().await?;
    let applied = applied?;
    note_errors("during apply", &during);
    check_retyped(&url).await?;
    let backfill = applied.task(RETYPE_BACKFILL_TASK)?;
    let batches = (ROWS as f64 / RETYPE_BATCH as f64).ceil();
    notes.push(format!(
        "zerodown apply {:.1} s, of which the backfill {:.1} s: {batches} batches of {RETYPE_BATCH} rows, \
         {:.0} ms each on average; a write to a row of the batch in flight waits for its commit",
        applied.wall.as_secs_f64(),
        (backfill.end - backfill.start).as_secs_f64(),
        (backfill.end - backfill.start).as_secs_f64() * 1e3 / batches
    ));
    notes.push(format!(
        "writers' backends, sampled every {} ms while a write runs: idle: {}; during apply: {}",
        SAMPLE_EVERY.as_millis(),
        idle.wait_shares(),
        during.wait_shares()
    ));
    if let Some(slowest) = idle.writes.last() {
        notes.push(format!(
            "slowest idle write: {}, waiting on: {}",
            ms(slowest.latency),
            idle.waits_of(slowest)
        ));
    }
    notes.push("slowest write in flight during each task of the apply:".to_string());
    notes.extend(
        slow_writes_by_task(&applied, &during, 8)
            .into_iter()
            .map(|l| format!("  {l}")),
    );

    // 3: the plain ALTER on a fresh copy.
    let plain_url = server.create("plain", Some(&template)).await?;
    server.checkpoint().await?;
    step("3. writers during a plain ALTER COLUMN val TYPE bigint");
    let writers = Writers::start(&plain_url, 3).await?;
    tokio::time::sleep(WARM_UP).await;
    let (ddl, ddl_driver) = connect(&plain_url).await?;
    let ddl_start = Instant::now();
    ddl.batch_execute(PLAIN_RETYPE).await?;
    let plain_ddl = ddl_start.elapsed();
    disconnect(ddl, ddl_driver).await;
    let plain = writers.stop().await?;
    note_errors("during plain ALTER", &plain);
    notes.push(format!(
        "writers' backends during the plain ALTER: {}",
        plain.wait_shares()
    ));

    figures.push(Figure {
        name: "writer throughput, zerodown apply",
        value: ops(&during),
        baseline: ops(&idle),
        ratio: Some(during.throughput() / idle.throughput()),
        goal: Goal::AtLeast(0.6),
    });
    figures.push(Figure {
        name: "writer max latency, zerodown apply",
        value: ms(during.max()),
        baseline: ms(idle.max()),
        ratio: Some(during.max().as_secs_f64() / idle.max().as_secs_f64()),
        goal: Goal::AtMost(2.0),
    });
    figures.push(Figure {
        name: "writer p99 latency, zerodown apply",
        value: ms(during.p99()),
        baseline: ms(idle.p99()),
        ratio: Some(during.p99().as_secs_f64() / idle.p99().as_secs_f64()),
        goal: Goal::None,
    });
    figures.push(Figure {
        name: "failed writes, zerodown apply",
        value: during.failed.to_string(),
        baseline: idle.failed.to_string(),
        ratio: None,
        goal: Goal::Zero(during.failed),
    });
    figures.push(Figure {
        name: "apply wall time vs plain ALTER",
        value: format!("{:.1} s", applied.wall.as_secs_f64()),
        baseline: format!("{:.1} s", plain_ddl.as_secs_f64()),
        ratio: Some(applied.wall.as_secs_f64() / plain_ddl.as_secs_f64()),
        goal: Goal::None,
    });
    figures.push(Figure {
        name: "writer throughput, plain ALTER",
        value: ops(&plain),
        baseline: ops(&idle),
        ratio: Some(plain.throughput() / idle.throughput()),
        goal: Goal::None,
    });
    figures.push(Figure {
        name: "writer max latency, plain ALTER",
        value: ms(plain.max()),
        baseline: ms(idle.max()),
        ratio: Some(plain.max().as_secs_f64() / idle.max().as_secs_f64()),
        goal: Goal::None,
    });
    figures.push(Figure {
        name: "failed writes, plain ALTER",
        value: plain.failed.to_string(),
        baseline: idle.failed.to_string(),
        ratio: None,
        goal: Goal::None,
    });

    // 4: batched backfill against one UPDATE, no writers; rounds in
    // rotating order, as one 1M-row UPDATE varies by a third between runs
    // on a busy machine.
    let plans = write_plan_dir(work, "backfill", "0002_fill.yaml", BACKFILL_PLAN)?;
    let mut rates: [Vec<f64>; 3] = Default::default();
    for round in 0..BACKFILL_ROUNDS {
        for k in 0..Fill::ALL.len() {
            let kind = Fill::ALL[(round + k) % Fill::ALL.len()];
            let suffix = format!("fill_{round}_{}", kind as usize);
            let url = server.create(&suffix, Some(&template)).await?;
            let (client, driver) = connect(&url).await?;
            if let Fill::ServerSide = kind {
                client.batch_execute(BATCHED_PROCEDURE).await?;
            }
            server.checkpoint().await?;
            step(&format!(
                "4. round {}/{BACKFILL_ROUNDS}: {}",
                round + 1,
                kind.label()
            ));
            let elapsed = match kind {
                Fill::Zerodown => {
                    let state = work.join(format!("fill-{round}.state"));
                    let run = apply(&plans, &url, &state, "migrate").await?;
                    let task = run.task(BACKFILL_TASK)?;
                    task.end - task.start
                }
                Fill::ServerSide => {
                    let start = Instant::now();
                    client.batch_execute("CALL zd_bench_fill(10000)").await?;
                    start.elapsed()
                }
                Fill::OneUpdate => {
                    let start = Instant::now();
                    let rows = client.execute(UNBATCHED_FILL, &[]).await?;
                    if rows != ROWS as u64 {
                        return Err(format!("the UPDATE touched {rows} rows").into());
                    }
                    start.elapsed()
                }
            };
            let left: i64 = client.query_one(LEFT_TO_FILL, &[]).await?.get(0);
            disconnect(client, driver).await;
            if left != 0 {
                return Err(format!("{}: {left} rows left", kind.label()).into());
            }
            rates[kind as usize].push(ROWS as f64 / elapsed.as_secs_f64());
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
    // Ratios within a round: its runs are a minute apart, so they share
    // more of the machine's mood than runs of other rounds.
    let paired = |a: Fill, b: Fill| -> Vec<f64> {
        rates[a as usize]
            .iter()
            .zip(&rates[b as usize])
            .map(|(x, y)| x / y)
            .collect()
    };
    let ratio_note = |name: &str, r: &[f64]| {
        let list: Vec<String> = r.iter().map(|x| format!("{x:.2}")).collect();
        format!("{name}, per round: {}", list.join(", "))
    };
    let zd_vs_one = paired(Fill::Zerodown, Fill::OneUpdate);
    let server_vs_one = paired(Fill::ServerSide, Fill::OneUpdate);
    let zd_vs_server = paired(Fill::Zerodown, Fill::ServerSide);
    notes.push(ratio_note("zerodown / one UPDATE", &zd_vs_one));
    notes.push(ratio_note(
        "server-side batches / one UPDATE",
        &server_vs_one,
    ));
    notes.push(ratio_note("zerodown / server-side batches", &zd_vs_server));
    let [zd_rate, server_rate, one_rate] = rates.map(median);
    figures.push(Figure {
        name: "backfill rate, zerodown vs one UPDATE",
        value: format!("{zd_rate:.0} rows/s"),
        baseline: format!("{one_rate:.0} rows/s"),
        ratio: Some(median(zd_vs_one)),
        goal: Goal::AtLeast(1.2),
    });
    figures.push(Figure {
        name: "backfill rate, same batches server-side vs one UPDATE",
        value: format!("{server_rate:.0} rows/s"),
        baseline: format!("{one_rate:.0} rows/s"),
        ratio: Some(median(server_vs_one)),
        goal: Goal::None,
    });
    figures.push(Figure {
        name: "backfill rate, zerodown vs same batches server-side",
        value: format!("{zd_rate:.0} rows/s"),
        baseline: format!("{server_rate:.0} rows/s"),
        ratio: Some(median(zd_vs_server)),
        goal: Goal::None,
    });

    // 5: writers with and without the rename's sync triggers, in windows
    // alternating in a balanced order so drift falls on both sides alike.
    let sync_url = server.create("sync", Some(&template)).await?;
    let plans = write_plan_dir(work, "rename", "0002_rename.yaml", RENAME_PLAN)?;
    step("5. zerodown apply --until expand (RENAME COLUMN val TO amount: sync triggers)");
    apply(&plans, &sync_url, &work.join("rename.state"), "expand").await?;
    let (admin, driver) = connect(&sync_url).await?;
    let triggers: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 't'::regclass AND NOT tgisinternal",
            &[],
        )
        .await?
        .get(0);
    if triggers == 0 {
        return Err("apply --until expand installed no trigger on t".into());
    }
    server.checkpoint().await?;
    step("5. writers with and without the sync triggers, alternating windows");
    Writers::run_for(&sync_url, 50, SYNC_WARM_UP).await?;
    let (mut with_ops, mut with_time) = (0, Duration::ZERO);
    let (mut without_ops, mut without_time) = (0, Duration::ZERO);
    for (i, &enabled) in SYNC_PATTERN.iter().enumerate() {
        let toggle = if enabled {
            "ALTER TABLE t ENABLE TRIGGER USER"
        } else {
            "ALTER TABLE t DISABLE TRIGGER USER"
        };
        admin.batch_execute(toggle).await?;
        let window = Writers::run_for(&sync_url, 51 + i as u64, SYNC_WINDOW).await?;
        note_errors(
            if enabled {
                "with triggers"
            } else {
                "without triggers"
            },
            &window,
        );
        if enabled {
            with_ops += window.ops;
            with_time += window.elapsed;
        } else {
            without_ops += window.ops;
            without_time += window.elapsed;
        }
    }
    disconnect(admin, driver).await;
    let with = with_ops as f64 / with_time.as_secs_f64();
    let without = without_ops as f64 / without_time.as_secs_f64();
    figures.push(Figure {
        name: "writer throughput, sync triggers",
        value: format!("{with:.0} ops/s"),
        baseline: format!("{without:.0} ops/s"),
        ratio: Some(with / without),
        goal: Goal::AtLeast(0.85),
    });
    step("done");
    Ok(Report { figures, notes })
}

/// The type change really happened: `val` is bigint and no twin is left.
async fn check_retyped(url: &str) -> Result<()> {
    let (client, driver) = connect(url).await?;
    let row = client
        .query_one(
            "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) \
             FROM information_schema.columns WHERE table_name = 't'",
            &[],
        )
        .await?;
    let columns: String = row.get(0);
    disconnect(client, driver).await;
    if columns != "id bigint, payload text, val bigint" {
        return Err(format!("after apply, t has columns: {columns}").into());
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let url = std::env::var("ZERODOWN_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_URL.to_string());
    let work = std::env::temp_dir().join(format!("zerodown-pgbench-{}", std::process::id()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = runtime.block_on(async {
        let mut server = Server::open(&url).await?;
        let result = bench(&mut server, &work).await;
        server.drop_all().await;
        result
    });
    let _ = std::fs::remove_dir_all(&work);
    match outcome {
        Ok(report) => {
            println!();
            for note in &report.notes {
                println!("{note}");
            }
            println!();
            println!(
                "pg_online: {ROWS} rows, {WRITERS} writers; ratios against baselines of the same run"
            );
            print_table(&report.figures);
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pg_online failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
