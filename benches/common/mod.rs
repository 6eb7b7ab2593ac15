//! What the online benchmarks share, whatever the server: writers that
//! update random rows of `t` and time every write, the zerodown binary run
//! with its output timed line by line, and the report of figures as ratios
//! against baselines of the same run.
//!
//! A bench supplies its driver through [`WriterConnection`] and its
//! server's view of what a writer waits on through a sampler
//! ([`Writers::start`]).

use std::collections::BTreeMap;
use std::error::Error;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

pub type BenchError = Box<dyn Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, BenchError>;

pub const WRITERS: usize = 4;

/// `url` with its database (the path) replaced by `name`; query kept.
pub fn url_with_database(url: &str, name: &str) -> Result<String> {
    let scheme_end = url.find("://").ok_or("database URL without scheme")? + 3;
    let (head, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map(|i| &tail[i..]).unwrap_or("");
    Ok(format!("{head}{authority}/{name}{query}"))
}

// ---------------------------------------------------------------------------
// Writers

/// SplitMix64: enough randomness to spread keys, without a dependency.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A key of `1..=rows`.
    pub fn key(&mut self, rows: i64) -> i64 {
        (self.next() % rows as u64) as i64 + 1
    }
}

/// A writer's connection to the server, the write prepared once, as an
/// application does. The write is `UPDATE t SET val = val + 1 WHERE id = ?`.
pub trait WriterConnection: Sized + Send + 'static {
    fn open(url: String) -> impl Future<Output = Result<Self>> + Send;
    /// The server's id of the session, as its wait sampler reports it.
    fn session(&self) -> u64;
    /// One write: the rows it touched, or the error as text.
    fn write(&mut self, key: i64) -> impl Future<Output = std::result::Result<u64, String>> + Send;
    /// The connection is gone and must be opened again.
    fn is_broken(&self) -> bool;
    fn close(self) -> impl Future<Output = ()> + Send;
}

/// One write: when it started, how long it took, the session that ran it.
#[derive(Clone, Copy)]
pub struct Write {
    pub start: Instant,
    pub latency: Duration,
    pub session: u64,
}

/// What one writer saw.
#[derive(Default)]
struct WriterLog {
    ops: u64,
    failed: u64,
    writes: Vec<Write>,
    /// Errors by their text, with how often each came.
    errors: BTreeMap<String, u64>,
}

/// A writer's session seen running a statement, and what it waited on, in
/// the server's words (PostgreSQL: `Lock/transactionid`, a row lock another
/// transaction holds; MariaDB: `Waiting for table metadata lock`, `row lock
/// wait`; `running`: on CPU).
pub struct WaitSample {
    pub at: Instant,
    pub session: u64,
    pub event: String,
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

/// What all writers saw over one window.
pub struct WriterStats {
    pub ops: u64,
    pub failed: u64,
    pub elapsed: Duration,
    /// Every write, slowest last.
    pub writes: Vec<Write>,
    pub waits: Vec<WaitSample>,
    /// Errors by their text, with how often each came.
    pub errors: BTreeMap<String, u64>,
}

impl WriterStats {
    pub fn throughput(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    fn quantile(&self, q: f64) -> Duration {
        let i = ((self.writes.len() as f64 - 1.0) * q).round() as usize;
        self.writes.get(i).map_or(Duration::ZERO, |w| w.latency)
    }

    pub fn max(&self) -> Duration {
        self.quantile(1.0)
    }

    pub fn p99(&self) -> Duration {
        self.quantile(0.99)
    }

    /// The wait samples as shares, largest first: `Lock/transactionid 12%, …`.
    pub fn wait_shares(&self) -> String {
        let counts = count_events(self.waits.iter());
        let total: u64 = counts.iter().map(|c| c.1).sum();
        counts
            .iter()
            .take(5)
            .map(|(what, n)| format!("{what} {:.0}%", *n as f64 * 100.0 / total.max(1) as f64))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// What the session of `write` was sampled waiting on while it ran.
    pub fn waits_of(&self, write: &Write) -> String {
        let end = write.start + write.latency;
        let counts = count_events(
            self.waits
                .iter()
                .filter(|s| s.session == write.session && s.at >= write.start && s.at <= end),
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
}

/// Writers connected and running until stopped.
pub struct Writers {
    stop: Arc<AtomicBool>,
    started: Instant,
    tasks: Vec<JoinHandle<WriterLog>>,
    sampler: JoinHandle<Vec<WaitSample>>,
}

/// How often a wait sampler looks at the writers' sessions.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(20);

async fn writer<C: WriterConnection>(
    url: String,
    rows: i64,
    seed: u64,
    mut conn: C,
    stop: Arc<AtomicBool>,
) -> WriterLog {
    let mut log = WriterLog::default();
    let mut rng = SplitMix(seed);
    let fail = |log: &mut WriterLog, e: String| {
        log.failed += 1;
        *log.errors.entry(e).or_insert(0) += 1;
    };
    while !stop.load(Ordering::Relaxed) {
        if conn.is_broken() {
            // A lost connection is a failed write; go on with a new one.
            match C::open(url.clone()).await {
                Ok(c) => conn = c,
                Err(e) => {
                    fail(&mut log, e.to_string());
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let key = rng.key(rows);
        let start = Instant::now();
        let result = conn.write(key).await;
        log.writes.push(Write {
            start,
            latency: start.elapsed(),
            session: conn.session(),
        });
        match result {
            Ok(1) => log.ops += 1,
            Ok(n) => fail(&mut log, format!("an update of one id touched {n} rows")),
            Err(e) => fail(&mut log, e),
        }
    }
    conn.close().await;
    log
}

impl Writers {
    /// Connect [`WRITERS`] writers first, then start them together, with
    /// `sample(sessions, stop)`: the server's wait sampler for the writers'
    /// sessions, running until `stop`.
    pub async fn start<C, S, F>(url: &str, rows: i64, seed: u64, sample: S) -> Result<Writers>
    where
        C: WriterConnection,
        S: FnOnce(Vec<u64>, Arc<AtomicBool>) -> F,
        F: Future<Output = Vec<WaitSample>> + Send + 'static,
    {
        let mut conns = Vec::with_capacity(WRITERS);
        for _ in 0..WRITERS {
            conns.push(C::open(url.to_string()).await?);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let sessions = conns.iter().map(C::session).collect();
        let sampler = tokio::spawn(sample(sessions, stop.clone()));
        let started = Instant::now();
        let tasks = conns
            .into_iter()
            .enumerate()
            .map(|(i, conn)| {
                let (url, stop) = (url.to_string(), stop.clone());
                let seed = seed ^ (i as u64 + 1).wrapping_mul(7919);
                tokio::spawn(writer(url, rows, seed, conn, stop))
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
    pub async fn stop(self) -> Result<WriterStats> {
        self.stop.store(true, Ordering::Relaxed);
        let mut logs = Vec::new();
        for task in self.tasks {
            logs.push(task.await?);
        }
        let elapsed = self.started.elapsed();
        let waits = self.sampler.await?;
        let mut writes: Vec<Write> = logs.iter().flat_map(|l| l.writes.iter().copied()).collect();
        writes.sort_unstable_by_key(|w| w.latency);
        let mut errors = BTreeMap::new();
        for log in &logs {
            for (e, n) in &log.errors {
                *errors.entry(e.clone()).or_insert(0) += n;
            }
        }
        Ok(WriterStats {
            ops: logs.iter().map(|l| l.ops).sum(),
            failed: logs.iter().map(|l| l.failed).sum(),
            elapsed,
            writes,
            waits,
            errors,
        })
    }
}

// ---------------------------------------------------------------------------
// zerodown

/// A plan directory: `schemas/0001.sql` holding `base_schema` and one plan
/// at version 2.
pub fn write_plan_dir(
    root: &Path,
    name: &str,
    base_schema: &str,
    plan_file: &str,
    plan: &str,
) -> Result<PathBuf> {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("schemas"))?;
    std::fs::write(dir.join("schemas/0001.sql"), base_schema)?;
    std::fs::write(dir.join(plan_file), plan)?;
    Ok(dir)
}

/// A finished zerodown run: its wall time and its output lines, each with
/// the moment it was read (the progress output flushes every line).
pub struct ZerodownRun {
    pub started: Instant,
    pub wall: Duration,
    pub lines: Vec<(Instant, String)>,
}

/// One task of a run, from its `… <id>: <summary>` line to its `✓ <id>` line.
pub struct TaskSpan {
    pub id: String,
    pub start: Instant,
    pub end: Instant,
}

impl TaskSpan {
    pub fn duration(&self) -> Duration {
        self.end - self.start
    }
}

impl ZerodownRun {
    pub fn tasks(&self) -> Vec<TaskSpan> {
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

    pub fn task(&self, id: &str) -> Result<TaskSpan> {
        self.tasks()
            .into_iter()
            .find(|t| t.id == id && t.end > t.start)
            .ok_or_else(|| format!("no finished task {id} in the output of zerodown").into())
    }
}

/// Run the zerodown binary of this bench; an exit other than 0 is an error
/// with its output.
pub async fn zerodown(args: &[&str]) -> Result<ZerodownRun> {
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

/// `zerodown apply <plans> --until <until>` on `url` with its own state file.
pub async fn apply(plans: &Path, url: &str, state: &Path, until: &str) -> Result<ZerodownRun> {
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
/// its session waited on; slowest first, the `limit` worst.
pub fn slow_writes_by_task(run: &ZerodownRun, stats: &WriterStats, limit: usize) -> Vec<String> {
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

pub struct Figure {
    pub name: String,
    pub value: String,
    pub baseline: String,
    pub ratio: Option<f64>,
    pub goal: Goal,
}

impl Figure {
    /// A duration against a baseline duration: the ratio of the two.
    pub fn durations(
        name: impl Into<String>,
        value: Duration,
        baseline: Duration,
        goal: Goal,
    ) -> Self {
        Figure {
            name: name.into(),
            value: ms(value),
            baseline: ms(baseline),
            ratio: Some(value.as_secs_f64() / baseline.as_secs_f64()),
            goal,
        }
    }

    /// Writers' throughput against a baseline window's.
    pub fn throughput(
        name: impl Into<String>,
        value: &WriterStats,
        baseline: &WriterStats,
        goal: Goal,
    ) -> Self {
        Figure {
            name: name.into(),
            value: ops(value),
            baseline: ops(baseline),
            ratio: Some(value.throughput() / baseline.throughput()),
            goal,
        }
    }

    /// A count shown beside its baseline's, no ratio.
    pub fn count(name: impl Into<String>, value: u64, baseline: u64, goal: Goal) -> Self {
        Figure {
            name: name.into(),
            value: value.to_string(),
            baseline: baseline.to_string(),
            ratio: None,
            goal,
        }
    }
}

/// The goals of the writers' figures during one kind of change.
pub struct WriterGoals {
    pub throughput: Goal,
    pub max: Goal,
    pub p99: Goal,
    /// Every write must succeed.
    pub no_failures: bool,
}

impl WriterGoals {
    /// For comparison only: what a change zerodown replaces does.
    pub const NONE: WriterGoals = WriterGoals {
        throughput: Goal::None,
        max: Goal::None,
        p99: Goal::None,
        no_failures: false,
    };
}

/// The writers' throughput, max and p99 latency and failed writes during
/// `what`, against the idle window.
pub fn writer_figures(
    what: &str,
    during: &WriterStats,
    idle: &WriterStats,
    goals: WriterGoals,
) -> Vec<Figure> {
    vec![
        Figure::throughput(
            format!("writer throughput, {what}"),
            during,
            idle,
            goals.throughput,
        ),
        Figure::durations(
            format!("writer max latency, {what}"),
            during.max(),
            idle.max(),
            goals.max,
        ),
        Figure::durations(
            format!("writer p99 latency, {what}"),
            during.p99(),
            idle.p99(),
            goals.p99,
        ),
        Figure::count(
            format!("failed writes, {what}"),
            during.failed,
            idle.failed,
            if goals.no_failures {
                Goal::Zero(during.failed)
            } else {
                Goal::None
            },
        ),
    ]
}

#[derive(Clone, Copy)]
pub enum Goal {
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

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

pub fn ops(s: &WriterStats) -> String {
    format!("{:.0} ops/s", s.throughput())
}

/// The errors of a window, when there were any.
pub fn note_errors(what: &str, s: &WriterStats) {
    if s.failed == 0 {
        return;
    }
    println!("  {what}: {} failed writes:", s.failed);
    for (e, n) in s.errors.iter().take(5) {
        println!("    ×{n}: {e}");
    }
}

/// A step of the bench, with the time since `started`.
pub fn step(started: Instant, what: &str) {
    println!("[{:>5.1} s] {what}", started.elapsed().as_secs_f64());
}

pub fn print_table(figures: &[Figure]) {
    let headers = ["figure", "value", "baseline", "ratio", "goal", "met?"];
    let rows: Vec<[String; 6]> = figures
        .iter()
        .map(|f| {
            [
                f.name.clone(),
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

// ---------------------------------------------------------------------------
// Sync triggers: windows with and without them

/// Windows with (true) and without (false) the sync triggers, each kind at
/// the same mean position, so drift over the run falls on both alike.
pub const SYNC_PATTERN: [bool; 8] = [false, true, true, false, true, false, false, true];
pub const SYNC_WINDOW: Duration = Duration::from_secs(5);
/// Writers run this long before the first window, not counted.
pub const SYNC_WARM_UP: Duration = Duration::from_secs(3);

/// The writes of the windows with the triggers and of those without.
#[derive(Default)]
pub struct Alternation {
    with: (u64, Duration),
    without: (u64, Duration),
}

impl Alternation {
    pub fn add(&mut self, with_triggers: bool, window: &WriterStats) {
        let (what, sum) = if with_triggers {
            ("with triggers", &mut self.with)
        } else {
            ("without triggers", &mut self.without)
        };
        note_errors(what, window);
        sum.0 += window.ops;
        sum.1 += window.elapsed;
    }

    /// Throughput with the triggers against without.
    pub fn figure(&self, goal: Goal) -> Figure {
        let with = self.with.0 as f64 / self.with.1.as_secs_f64();
        let without = self.without.0 as f64 / self.without.1.as_secs_f64();
        Figure {
            name: "writer throughput, sync triggers".into(),
            value: format!("{with:.0} ops/s"),
            baseline: format!("{without:.0} ops/s"),
            ratio: Some(with / without),
            goal,
        }
    }
}

// ---------------------------------------------------------------------------
// The run

/// The figures, and what explains them.
pub struct Report {
    pub figures: Vec<Figure>,
    pub notes: Vec<String>,
}

/// A scratch folder for the bench's plans and state files, and a runtime.
pub fn setup(bench: &str) -> (PathBuf, tokio::runtime::Runtime) {
    let work = std::env::temp_dir().join(format!("zerodown-{bench}-{}", std::process::id()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    (work, runtime)
}

/// Remove the scratch folder, print the report (or the failure) under
/// `title`; the bench's exit code.
pub fn finish(
    bench: &str,
    work: &Path,
    title: &str,
    outcome: Result<Report>,
) -> std::process::ExitCode {
    let _ = std::fs::remove_dir_all(work);
    match outcome {
        Ok(report) => {
            println!();
            for note in &report.notes {
                println!("{note}");
            }
            println!();
            println!("{bench}: {title}; ratios against baselines of the same run");
            print_table(&report.figures);
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{bench} failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
