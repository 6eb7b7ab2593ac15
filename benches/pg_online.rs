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

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls, Statement};

mod common;
use common::{
    apply, finish, median, ms, note_errors, setup, slow_writes_by_task, step, url_with_database,
    write_plan_dir, writer_figures, Alternation, Figure, Goal, Report, Result, WaitSample,
    WriterConnection, WriterGoals, WriterStats, Writers, SAMPLE_EVERY, SYNC_PATTERN, SYNC_WARM_UP,
    SYNC_WINDOW, WRITERS,
};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const ROWS: i64 = 1_000_000;
/// The idle baseline of scenario 1; a max latency grows with its window, so
/// this is about as long as the apply it is compared with.
const IDLE_WINDOW: Duration = Duration::from_secs(20);
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

const WRITE_SQL: &str = "UPDATE t SET val = val + 1 WHERE id = $1";

/// The writers' connections carry this name, so the wait sampler finds them.
const WRITER_APP: &str = "zd_bench_writer";

/// `url` with `application_name` set to [`WRITER_APP`].
fn writer_url(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}application_name={WRITER_APP}")
}

/// A writer's connection: the write prepared once, and the backend's pid.
struct PgWriter {
    client: Client,
    statement: Statement,
    pid: i32,
    driver: JoinHandle<()>,
}

impl WriterConnection for PgWriter {
    async fn open(url: String) -> Result<Self> {
        let (client, driver) = connect(&writer_url(&url)).await?;
        let statement = client.prepare(WRITE_SQL).await?;
        let pid = client
            .query_one("SELECT pg_backend_pid()", &[])
            .await?
            .get(0);
        Ok(PgWriter {
            client,
            statement,
            pid,
            driver,
        })
    }

    fn session(&self) -> u64 {
        self.pid as u64
    }

    async fn write(&mut self, key: i64) -> std::result::Result<u64, String> {
        self.client
            .execute(&self.statement, &[&key])
            .await
            .map_err(|e| e.to_string())
    }

    fn is_broken(&self) -> bool {
        self.client.is_closed()
    }

    async fn close(self) {
        disconnect(self.client, self.driver).await;
    }
}

/// Sample `pg_stat_activity` for the writers' active backends until `stop`
/// (what each waits on: `Lock/transactionid`, a row lock another
/// transaction holds; `Lock/relation`, a table lock; `running`, on CPU).
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
                session: row.get::<_, i32>(0) as u64,
                event: row.get(1),
            }));
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    disconnect(client, driver).await;
    samples
}

/// Start the writers on `url`, the sampler beside them.
async fn start_writers(url: &str, seed: u64) -> Result<Writers> {
    let sampler_url = url.to_string();
    Writers::start::<PgWriter, _, _>(url, ROWS, seed, move |_sessions, stop| {
        sample_waits(sampler_url, stop)
    })
    .await
}

async fn run_writers_for(url: &str, seed: u64, window: Duration) -> Result<WriterStats> {
    let writers = start_writers(url, seed).await?;
    tokio::time::sleep(window).await;
    writers.stop().await
}

// ---------------------------------------------------------------------------
// Scenarios

async fn bench(server: &mut Server, work: &Path) -> Result<Report> {
    let started = Instant::now();
    let step = |what: &str| step(started, what);
    let mut figures = Vec::new();
    let mut notes = Vec::new();

    step("building the 1M-row template (INSERT … generate_series, VACUUM ANALYZE)");
    let template = build_template(server).await?;

    // 1 and 2: idle, then during zerodown's type change.
    let url = server.create("retype", Some(&template)).await?;
    server.checkpoint().await?;
    step("1. writers alone (idle baseline)");
    let idle = run_writers_for(&url, 1, IDLE_WINDOW).await?;
    note_errors("idle", &idle);
    let plans = write_plan_dir(work, "retype", BASE_SCHEMA, "0002_retype.yaml", RETYPE_PLAN)?;
    server.checkpoint().await?;
    step("2. writers during zerodown apply --until contract (ALTER COLUMN val TYPE bigint)");
    let writers = start_writers(&url, 2).await?;
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
        backfill.duration().as_secs_f64(),
        backfill.duration().as_secs_f64() * 1e3 / batches
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
    let writers = start_writers(&plain_url, 3).await?;
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

    figures.extend(writer_figures(
        "zerodown apply",
        &during,
        &idle,
        WriterGoals {
            throughput: Goal::AtLeast(0.6),
            max: Goal::AtMost(2.0),
            p99: Goal::None,
            no_failures: true,
        },
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

    // 4: batched backfill against one UPDATE, no writers; rounds in
    // rotating order, as one 1M-row UPDATE varies by a third between runs
    // on a busy machine.
    let plans = write_plan_dir(
        work,
        "backfill",
        BASE_SCHEMA,
        "0002_fill.yaml",
        BACKFILL_PLAN,
    )?;
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
                    task.duration()
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
        name: "backfill rate, zerodown vs one UPDATE".into(),
        value: format!("{zd_rate:.0} rows/s"),
        baseline: format!("{one_rate:.0} rows/s"),
        ratio: Some(median(zd_vs_one)),
        goal: Goal::AtLeast(1.2),
    });
    figures.push(Figure {
        name: "backfill rate, same batches server-side vs one UPDATE".into(),
        value: format!("{server_rate:.0} rows/s"),
        baseline: format!("{one_rate:.0} rows/s"),
        ratio: Some(median(server_vs_one)),
        goal: Goal::None,
    });
    figures.push(Figure {
        name: "backfill rate, zerodown vs same batches server-side".into(),
        value: format!("{zd_rate:.0} rows/s"),
        baseline: format!("{server_rate:.0} rows/s"),
        ratio: Some(median(zd_vs_server)),
        goal: Goal::None,
    });

    // 5: writers with and without the rename's sync triggers, in windows
    // alternating in a balanced order so drift falls on both sides alike.
    let sync_url = server.create("sync", Some(&template)).await?;
    let plans = write_plan_dir(work, "rename", BASE_SCHEMA, "0002_rename.yaml", RENAME_PLAN)?;
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
    run_writers_for(&sync_url, 50, SYNC_WARM_UP).await?;
    let mut alternation = Alternation::default();
    for (i, &enabled) in SYNC_PATTERN.iter().enumerate() {
        let toggle = if enabled {
            "ALTER TABLE t ENABLE TRIGGER USER"
        } else {
            "ALTER TABLE t DISABLE TRIGGER USER"
        };
        admin.batch_execute(toggle).await?;
        let window = run_writers_for(&sync_url, 51 + i as u64, SYNC_WINDOW).await?;
        alternation.add(enabled, &window);
    }
    disconnect(admin, driver).await;
    figures.push(alternation.figure(Goal::AtLeast(0.85)));
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
    let (work, runtime) = setup("pg_online");
    let outcome = runtime.block_on(async {
        let mut server = Server::open(&url).await?;
        let result = bench(&mut server, &work).await;
        server.drop_all().await;
        result
    });
    let title = format!("{ROWS} rows, {WRITERS} writers");
    finish("pg_online", &work, &title, outcome)
}
