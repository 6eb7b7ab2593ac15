//! Command-line definitions and dispatch. The only place (with `main`) that
//! prints: library code returns data and typed errors.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::Diagnostics;
use crate::engine::{DatabaseUrl, LockPolicy};
use crate::exec::session::{self, RunReport, SessionError, NOTHING_TO_DO};
use crate::exec::{Outcome, StopFlag, Until, DEFAULT_STATE_PATH};
use crate::plan;
use crate::planner::{self, CheckedPlan, PlanOptions};
use crate::render;

mod docs;
mod progress;

/// Exit codes, like `terraform plan -detailed-exitcode`.
pub mod exit {
    /// Success; for `plan`: nothing to do.
    pub const OK: u8 = 0;
    /// An error: bad input, an unsafe plan, a failed run.
    pub const ERROR: u8 = 1;
    /// `plan` succeeded and there are changes to apply.
    pub const CHANGES: u8 = 2;
    /// `apply`/`resume` stopped on a signal at a safe point: `resume` goes on.
    pub const INTERRUPTED: u8 = 3;
    /// The command line itself is wrong (an unknown option, a missing
    /// argument): sysexits' `EX_USAGE`, distinct from every outcome above,
    /// so that a typo never reads as "valid, has changes" (2).
    pub const USAGE: u8 = 64;
}

/// The exit codes with their meaning: `--help` lists them, the man page's
/// EXIT STATUS too.
const EXIT_CODES: [(u8, &str); 5] = [
    (exit::OK, "success; for `plan`: nothing to do"),
    (exit::ERROR, "error (invalid plan, unsafe rollout, failure)"),
    (
        exit::CHANGES,
        "`plan` only: the plan is valid and has changes to apply",
    ),
    (
        exit::INTERRUPTED,
        "`apply`/`resume` stopped on SIGINT/SIGTERM at a safe point; `zerodown resume` continues",
    ),
    (
        exit::USAGE,
        "usage error: the command line is wrong (nothing was read or run)",
    ),
];

/// Where the rest is written down.
const DOCUMENTATION: &str = "README.md (plan format), ARCHITECTURE.md (how it works)";

/// What every command's `--help` ends with.
fn after_help() -> String {
    let mut text = String::from("Exit codes:\n");
    for (code, meaning) in EXIT_CODES {
        text.push_str(&format!("  {code}  {meaning}\n"));
    }
    text.push_str(&format!("\nDocumentation: {DOCUMENTATION}."));
    text
}

/// zerodown upgrades a database and the application fleet using it without
/// downtime: expand, migrate, roll the nodes, contract, proven safe for every
/// running release.
#[derive(Debug, Parser)]
#[command(name = "zerodown", version, about, long_about = None, after_help = after_help())]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check plans and show what would run, phase by phase, without touching a database.
    ///
    /// Parses every change with the plan's SQL dialect, classifies it for the
    /// engine (additive, subtractive, transforming, unsafe as written),
    /// decomposes it into expand / migrate / contract tasks with the exact SQL,
    /// builds the task graph with the fleet rollout, and proves that every
    /// release of the fleet supports every schema point it can meet.
    #[command(after_help = after_help())]
    Plan(PlanArgs),

    /// Run the pending plans of a plan directory against the database.
    ///
    /// Takes the database's run lock (a second run is refused, after waiting
    /// `--lock-wait` for a killed run's session to go away),
    /// introspects the schema, plans against it, then runs the tasks in graph
    /// order: every DDL with a short lock timeout retried with backoff,
    /// backfills in key-ordered batches with progress. Every transition is
    /// written to the state file and the database's history table, so a run
    /// that fails or is killed is finished by `zerodown resume`. A plan
    /// without a fleet stops before contract unless `--until contract`.
    #[command(after_help = after_help())]
    Apply(ApplyArgs),

    /// Finish a run that failed, was interrupted or killed, from its state file.
    ///
    /// Refuses a plan that changed since the run started and a database other
    /// than the run's; re-checks in the catalog the task that was running
    /// when the run stopped, then goes on.
    #[command(after_help = after_help())]
    Resume(ResumeArgs),

    /// Undo what expand (and migrate) created, while contract has not started.
    ///
    /// Refused once contract started or a node may run the new release. What
    /// expand changed in place (a widened type, a dropped NOT NULL, a new
    /// default) is kept and listed: old releases work with it, and undoing
    /// it could rewrite the table. `apply` with the same plans afterwards
    /// finds those tasks done.
    #[command(after_help = after_help())]
    Abort(AbortArgs),

    /// Show where the database stands: versions, phases, running or failed tasks.
    #[command(after_help = after_help())]
    Status(StatusArgs),

    /// Drop soft-dropped tables (`soft_drop: true`) from the trash once they are old enough.
    #[command(after_help = after_help())]
    Purge(PurgeArgs),

    /// Print a shell's completion script for zerodown.
    ///
    /// The script is generated from zerodown's own command line and goes to
    /// stdout; install it where the shell looks for completions.
    ///
    /// bash: `zerodown completions bash > ~/.local/share/bash-completion/completions/zerodown`
    ///
    /// zsh: `zerodown completions zsh > ~/.zfunc/_zerodown`, with
    /// `fpath=(~/.zfunc $fpath)` before `compinit` in ~/.zshrc
    ///
    /// fish: `zerodown completions fish > ~/.config/fish/completions/zerodown.fish`
    ///
    /// PowerShell: `zerodown completions powershell | Out-String | Invoke-Expression` in $PROFILE
    ///
    /// elvish: `eval (zerodown completions elvish | slurp)` in ~/.config/elvish/rc.elv
    #[command(after_help = after_help())]
    Completions(CompletionsArgs),

    /// Print the man page (roff) of zerodown or of one of its commands.
    ///
    /// The pages are generated from zerodown's own command line.
    /// `zerodown man > zerodown.1` writes the page of zerodown, which lists
    /// the commands; `zerodown man apply` the page of `zerodown apply`
    /// (zerodown-apply(1)). `zerodown man --dir DIR` writes every page into
    /// DIR: `zerodown man --dir ~/.local/share/man/man1`, then `man zerodown`
    /// or `man zerodown-apply`.
    #[command(after_help = after_help())]
    Man(ManArgs),
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The command whose page to print (`apply` prints zerodown-apply(1));
    /// without it, the page of zerodown itself.
    #[arg(value_name = "COMMAND", conflicts_with = "dir")]
    pub command: Option<String>,
    /// Write every page into this directory (zerodown.1, zerodown-plan.1, ...)
    /// instead of printing one.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Drop trashed tables whose soft drop finished at least this long ago, e.g. `7d`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub older_than: std::time::Duration,
    /// List what would be dropped, drop nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How long to wait for the run lock while another session holds it,
    /// e.g. `5s`: the session of a run killed a moment ago keeps the lock
    /// until the server notices it is gone (tens of milliseconds). A lock
    /// still held then is refused, naming its holder; `0s` refuses at once.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub lock_wait: std::time::Duration,
    /// Longest wait for a lock per attempt.
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = parse_duration)]
    pub lock_timeout: std::time::Duration,
}

/// Where the database is and how DDL waits for locks.
#[derive(Debug, clap::Args)]
pub struct DatabaseArgs {
    /// Database URL: postgres://user@host:5432/db (TLS per `sslmode=`),
    /// mysql://user@host:3306/db, or sqlite://path/to/file.db. Without it
    /// (and without DATABASE_URL), the embedded default: the SQLite file
    /// zerodown.db in the working directory. Passwords are never printed,
    /// logged or written to the state file.
    #[arg(
        long,
        env = "DATABASE_URL",
        value_name = "URL",
        hide_env_values = true,
        default_value = "sqlite://zerodown.db"
    )]
    pub database: String,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The state file of the run.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_STATE_PATH)]
    pub state: PathBuf,

    /// How long to wait for the run lock while another session holds it,
    /// e.g. `5s`: the session of a run killed a moment ago keeps the lock
    /// until the server notices it is gone (tens of milliseconds). A lock
    /// still held then is refused, naming its holder; `0s` refuses at once.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub lock_wait: std::time::Duration,

    /// Longest wait for a lock per DDL attempt, e.g. `200ms`.
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = parse_duration)]
    pub lock_timeout: std::time::Duration,

    /// Longest wait of CREATE/DROP INDEX CONCURRENTLY, which waits for older
    /// transactions without blocking reads or writes.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub concurrent_lock_timeout: std::time::Duration,

    /// Attempts per DDL before giving up (exponential backoff with jitter between them).
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub lock_retries: u32,

    /// Pause backfills while the slowest replica lags more than this, e.g. `5s`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_replica_lag: Option<std::time::Duration>,

    /// Pause backfills while more than N statements run on the server,
    /// zerodown's own included (MySQL/MariaDB `Threads_running`,
    /// PostgreSQL active client sessions of every database of the server;
    /// SQLite has no server to ask: a warning, no effect).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_running: Option<u64>,

    /// While this file exists, the run waits between steps (touch it to
    /// pause a rollout, remove it to go on).
    #[arg(long, value_name = "FILE")]
    pub pause_file: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (write e.g. 200ms, 5s)"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UntilArg {
    Expand,
    Migrate,
    Contract,
}

impl From<UntilArg> for Until {
    fn from(u: UntilArg) -> Until {
        match u {
            UntilArg::Expand => Until::Expand,
            UntilArg::Migrate => Until::Migrate,
            UntilArg::Contract => Until::Contract,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// The plan directory (one plan set).
    #[arg(value_name = "PLANS")]
    pub plans: PathBuf,
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub run: RunArgs,
    /// Run up to this phase: `expand`, `migrate` (stop before contract), or
    /// `contract` (everything; the default when every plan has a fleet).
    #[arg(long, value_enum)]
    pub until: Option<UntilArg>,
    /// Apply the pending plans up to this version only.
    #[arg(long, value_name = "VERSION")]
    pub to: Option<u32>,
}

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub run: RunArgs,
    /// Run up to this phase (default: what the run was started with).
    #[arg(long, value_enum)]
    pub until: Option<UntilArg>,
}

#[derive(Debug, clap::Args)]
pub struct AbortArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// The state file to report on, when there is one.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_STATE_PATH)]
    pub state: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For a terminal, with `+ ~ -` symbols and colour.
    Text,
    /// Stable, documented JSON for tools (README.md, "JSON output").
    Json,
    /// For a pull request: tables, SQL blocks and a Mermaid diagram.
    Markdown,
    /// Graphviz DOT of the task graph.
    Dot,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Plan files, or directories of plans (a directory whose sub-directories
    /// hold plans is read as one plan set per sub-directory).
    #[arg(default_value = "plans", value_name = "PLAN")]
    pub plans: Vec<PathBuf>,

    /// The schema before the first plan, as SQL. By default the newest
    /// `schemas/NNNN.sql` beside the plans, or an empty database.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// No colour in the text output (also when NO_COLOR is set or the
    /// output is not a terminal).
    #[arg(long)]
    pub no_color: bool,

    /// Plan against this live database instead of the schema files: its
    /// schema is introspected (read-only) and its history decides what is
    /// still to do; touched tables are sized. Without it, `plan` touches no
    /// database (DATABASE_URL is not read).
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,

    /// With --database: the state file of a run in progress.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_STATE_PATH)]
    pub state: PathBuf,
}

/// Parse the process's command line and run it. `--help` and `--version`
/// exit 0; a usage error prints clap's message and exits `exit::USAGE`.
pub fn parse_and_run() -> ExitCode {
    match Cli::try_parse() {
        Ok(cli) => run(cli),
        Err(e) => {
            let _ = e.print();
            ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            })
        }
    }
}

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Plan(args) => run_plan(args),
        Command::Apply(args) => block_on(apply(args)),
        Command::Resume(args) => block_on(resume(args)),
        Command::Abort(args) => block_on(abort(args)),
        Command::Status(args) => block_on(status(args)),
        Command::Purge(args) => block_on(purge(args)),
        Command::Completions(args) => docs::completions(args.shell),
        Command::Man(args) => docs::man(args),
    }
}

fn block_on_value<T>(
    f: impl std::future::Future<Output = Result<T, ExitCode>>,
) -> Result<T, ExitCode> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => Err(fail(format!("cannot start the async runtime: {e}"))),
    }
}

async fn plan_database(
    url: &str,
    set: &plan::PlanSet,
    state: &std::path::Path,
) -> Result<CheckedPlan, ExitCode> {
    let result: Result<CheckedPlan, ExitCode> = (async {
        with_engine_value!(url, |engine| {
            session::plan_against_database(engine, set, state)
                .await
                .map_err(|e| match e {
                    SessionError::Plan(d) => {
                        print_diagnostics(&d);
                        ExitCode::from(exit::ERROR)
                    }
                    other => fail(other),
                })
        })
    })
    .await;
    result
}

fn block_on(f: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::from(exit::ERROR)
        }
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(exit::ERROR)
}

/// Connect to the URL's engine and run the body with it.
macro_rules! with_engine {
    ($url:expr, |$engine:ident| $body:expr) => {{
        let url = match DatabaseUrl::parse($url) {
            Ok(u) => u,
            Err(e) => return fail(format!("--database: {e}")),
        };
        match url.kind() {
            crate::dialect::EngineKind::Postgres => {
                match crate::engine::postgres::connect(&url).await {
                    Ok(mut conn) => {
                        let $engine = &mut conn;
                        $body
                    }
                    Err(e) => return fail(e),
                }
            }
            crate::dialect::EngineKind::Mysql => match crate::engine::mysql::connect(&url).await {
                Ok(mut conn) => {
                    let $engine = &mut conn;
                    $body
                }
                Err(e) => return fail(e),
            },
            crate::dialect::EngineKind::Sqlite => {
                match crate::engine::sqlite::connect(&url).await {
                    Ok(mut conn) => {
                        let $engine = &mut conn;
                        $body
                    }
                    Err(e) => return fail(e),
                }
            }
        }
    }};
}

/// `with_engine!` for a body that yields a `Result<T, ExitCode>`.
macro_rules! with_engine_value {
    ($url:expr, |$engine:ident| $body:expr) => {{
        let url = match DatabaseUrl::parse($url) {
            Ok(u) => u,
            Err(e) => return Err(fail(format!("--database: {e}"))),
        };
        match url.kind() {
            crate::dialect::EngineKind::Postgres => {
                match crate::engine::postgres::connect(&url).await {
                    Ok(mut conn) => {
                        let $engine = &mut conn;
                        $body
                    }
                    Err(e) => Err(fail(e)),
                }
            }
            crate::dialect::EngineKind::Mysql => match crate::engine::mysql::connect(&url).await {
                Ok(mut conn) => {
                    let $engine = &mut conn;
                    $body
                }
                Err(e) => Err(fail(e)),
            },
            crate::dialect::EngineKind::Sqlite => {
                match crate::engine::sqlite::connect(&url).await {
                    Ok(mut conn) => {
                        let $engine = &mut conn;
                        $body
                    }
                    Err(e) => Err(fail(e)),
                }
            }
        }
    }};
}
use with_engine_value;

fn lock_policy(run: &RunArgs) -> LockPolicy {
    LockPolicy {
        run_lock_wait: run.lock_wait,
        lock_timeout: run.lock_timeout,
        concurrent_lock_timeout: run.concurrent_lock_timeout,
        max_attempts: run.lock_retries.max(1),
        ..LockPolicy::default()
    }
}

fn run_request(run: &RunArgs, until: Option<UntilArg>, to: Option<u32>) -> session::RunRequest {
    session::RunRequest {
        state_path: run.state.clone(),
        until: until.map(Until::from),
        to_version: to,
        lock: lock_policy(run),
        max_replica_lag: run.max_replica_lag,
        max_running: run.max_running,
        pause_file: run.pause_file.clone(),
    }
}

/// SQLite has no server to ask for its load or its replicas: say so rather
/// than accept a throttle that never acts.
fn warn_unused_throttles(kind: crate::dialect::EngineKind, run: &RunArgs) {
    if kind != crate::dialect::EngineKind::Sqlite {
        return;
    }
    for (flag, given) in [
        ("--max-running", run.max_running.is_some()),
        ("--max-replica-lag", run.max_replica_lag.is_some()),
    ] {
        if given {
            eprintln!("warning: {flag} has no effect on SQLite (no server to ask): backfills run unthrottled; use a backfill's `pause:` to space its batches");
        }
    }
}

/// SIGINT and SIGTERM ask the run to stop at its next safe point.
fn watch_signals(stop: &StopFlag) {
    use tokio::signal::unix::{signal, SignalKind};
    for kind in [SignalKind::interrupt(), SignalKind::terminate()] {
        let stop = stop.clone();
        if let Ok(mut s) = signal(kind) {
            tokio::spawn(async move {
                while s.recv().await.is_some() {
                    if !stop.requested() {
                        eprintln!("stopping after the current statement or batch; `zerodown resume` goes on from there");
                    }
                    stop.request();
                }
            });
        }
    }
}

fn report_run(result: Result<RunReport, SessionError>, state: &std::path::Path) -> ExitCode {
    match result {
        Ok(report) => {
            for note in &report.notes {
                println!("note: {note}");
            }
            let versions = report
                .versions
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            match report.outcome {
                Outcome::Completed => {
                    println!("Done: version {versions} applied.");
                    ExitCode::from(exit::OK)
                }
                Outcome::ReachedUntil(until) => {
                    println!(
                        "Stopped after {} (versions {versions}). Continue with `zerodown apply --until contract` or `zerodown resume --until contract`.",
                        until.name()
                    );
                    ExitCode::from(exit::OK)
                }
                Outcome::Interrupted => {
                    println!(
                        "Interrupted at a safe point. Run `zerodown resume --state {}` to go on.",
                        state.display()
                    );
                    ExitCode::from(exit::INTERRUPTED)
                }
            }
        }
        Err(SessionError::Refused(msg)) if msg == NOTHING_TO_DO => {
            println!("No changes. The database is up to date.");
            ExitCode::from(exit::OK)
        }
        Err(SessionError::Plan(d)) => {
            print_diagnostics(&d);
            ExitCode::from(exit::ERROR)
        }
        Err(SessionError::Exec(e)) => {
            eprintln!("error: {e}");
            eprintln!("The run stopped; the state is in {}. Fix the cause, then `zerodown resume --state {}`.", state.display(), state.display());
            ExitCode::from(exit::ERROR)
        }
        Err(e) => fail(e),
    }
}

async fn apply(args: ApplyArgs) -> ExitCode {
    let stop = StopFlag::new();
    watch_signals(&stop);
    let req = run_request(&args.run, args.until, args.to);
    let mut console = progress::Console::new();
    with_engine!(&args.db.database, |engine| {
        warn_unused_throttles(crate::engine::Engine::kind(engine), &args.run);
        let result = session::apply(engine, &args.plans, &req, &mut console, &stop).await;
        report_run(result, &args.run.state)
    })
}

async fn resume(args: ResumeArgs) -> ExitCode {
    let stop = StopFlag::new();
    watch_signals(&stop);
    let req = run_request(&args.run, args.until, None);
    let mut console = progress::Console::new();
    with_engine!(&args.db.database, |engine| {
        warn_unused_throttles(crate::engine::Engine::kind(engine), &args.run);
        let result = session::resume(engine, &req, &mut console, &stop).await;
        report_run(result, &args.run.state)
    })
}

async fn abort(args: AbortArgs) -> ExitCode {
    let policy = lock_policy(&args.run);
    let mut console = progress::Console::new();
    with_engine!(&args.db.database, |engine| {
        match session::abort(engine, &args.run.state, &policy, &mut console).await {
            Ok(report) => {
                for s in &report.steps {
                    println!("  - {s}");
                }
                println!(
                    "Aborted: what expand created is removed ({} statements).",
                    report.steps.len()
                );
                if !report.kept.is_empty() {
                    println!("Kept, changed in place by expand (old releases work with it; undoing it could rewrite or lock the table):");
                    for k in &report.kept {
                        println!("  - {k}");
                    }
                    println!("Applying the same plans again finds these done.");
                }
                ExitCode::from(exit::OK)
            }
            Err(e) => fail(e),
        }
    })
}

async fn purge(args: PurgeArgs) -> ExitCode {
    let policy = LockPolicy {
        run_lock_wait: args.lock_wait,
        lock_timeout: args.lock_timeout,
        ..LockPolicy::default()
    };
    let mut console = progress::Console::new();
    with_engine!(&args.db.database, |engine| {
        match session::purge(engine, args.older_than, args.dry_run, &policy, &mut console).await {
            Ok(tables) => {
                if tables.is_empty() {
                    println!("The trash is empty.");
                }
                for t in &tables {
                    let when = t.dropped_at.as_deref().unwrap_or("unknown (kept)");
                    let what = match (t.purged, t.due, t.dropped_at.is_some()) {
                        (true, _, _) => "dropped",
                        (false, true, _) => "would be dropped (dry run)",
                        (false, false, true) => "kept: not old enough",
                        (false, false, false) => "kept: no soft drop recorded for it",
                    };
                    println!("  {} (soft-dropped {when}): {what}", t.name);
                }
                ExitCode::from(exit::OK)
            }
            Err(e) => fail(e),
        }
    })
}

async fn status(args: StatusArgs) -> ExitCode {
    with_engine!(&args.db.database, |engine| {
        match session::status(engine, &args.state).await {
            Ok(report) => {
                println!("{}", report.identity);
                if report.versions.is_empty() {
                    println!("no zerodown history: no plan has been applied here");
                }
                // The versions the history knows, and those of the state
                // file's run that have not started yet.
                let numbers: std::collections::BTreeSet<u32> = report
                    .versions
                    .iter()
                    .map(|v| v.version)
                    .chain(report.progress.iter().map(|p| p.version))
                    .collect();
                for number in numbers {
                    let history = report.versions.iter().find(|v| v.version == number);
                    let stages = report
                        .progress
                        .iter()
                        .find(|p| p.version == number)
                        .map(|p| {
                            p.stages
                                .iter()
                                .map(|(s, done, total)| format!("{} {done}/{total}", s.name()))
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default();
                    let reached = match history.map(|v| v.reached.as_deref()) {
                        Some(Some("done")) => "complete".to_string(),
                        Some(Some(m)) => format!("reached {m}"),
                        Some(None) => "started".to_string(),
                        None => "not started".to_string(),
                    };
                    let detail = if stages.is_empty() {
                        String::new()
                    } else {
                        format!(" ({stages})")
                    };
                    println!("version {number}: {reached}{detail}");
                    for g in report.fleet.iter().filter(|g| g.version == number) {
                        println!("{}", group_line(g));
                        for (node, state) in &g.others {
                            println!("{}", node_line(node, state));
                        }
                    }
                    for r in history.iter().flat_map(|v| &v.running) {
                        println!("  running: {r}");
                    }
                    for (t, e) in history.iter().flat_map(|v| &v.failed) {
                        println!("  failed: {t}: {e}");
                    }
                }
                if let Some((path, st)) = &report.state {
                    println!("state file {}: {:?}", path.display(), st);
                }
                ExitCode::from(exit::OK)
            }
            Err(e) => fail(e),
        }
    })
}

/// `  api: 2/3 on 1.5.0 (from 1.4.0), 1 not started`
fn group_line(g: &session::GroupProgress) -> String {
    let mut line = format!(
        "  {}: {}/{} on {} (from {})",
        g.group, g.upgraded, g.total, g.to_release, g.from_release
    );
    if g.not_started > 0 {
        line.push_str(&format!(", {} not started", g.not_started));
    }
    line
}

/// `    api-2: FAILED, rolled back, on 1.4.0 since …: health failed: …`
fn node_line(node: &str, s: &crate::exec::fleet::NodeState) -> String {
    use crate::exec::fleet::NodeStatus;
    let what = match s.status {
        NodeStatus::Draining => "being drained",
        NodeStatus::Drained => "drained, upgrade not done",
        NodeStatus::Installed => "upgraded, health not confirmed",
        NodeStatus::Upgraded => "upgraded",
        NodeStatus::RollingBack => "being rolled back",
        NodeStatus::RolledBack => "FAILED, rolled back",
        NodeStatus::Broken => "FAILED, rollback failed too: needs a human",
    };
    let mut line = format!("    {node}: {what}, on {}", s.release);
    if let Some(since) = &s.since {
        line.push_str(&format!(" since {since}"));
    }
    // Without the command's output: that is in the fleet log.
    if let Some(error) = &s.error {
        let cause = error.split("; last output:").next().unwrap_or(error);
        line.push_str(&format!(": {}", cause.lines().next().unwrap_or(cause)));
    }
    line
}

fn print_diagnostics(d: &Diagnostics) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{d}");
    let n = d.0.len();
    let _ = writeln!(
        err,
        "\n{n} error{} found; nothing was applied.",
        if n == 1 { "" } else { "s" }
    );
}

fn run_plan(args: PlanArgs) -> ExitCode {
    let sets = match plan::discover(&args.plans) {
        Ok(sets) => sets,
        Err(d) => {
            print_diagnostics(&d);
            return ExitCode::from(exit::ERROR);
        }
    };
    let mut checked: Vec<CheckedPlan> = Vec::new();
    if let Some(url) = &args.database {
        if sets.len() != 1 {
            return fail(
                "--database plans one plan directory: name the one that belongs to this database",
            );
        }
        match block_on_value(plan_database(url, &sets[0], &args.state)) {
            Ok(c) => checked.push(c),
            Err(code) => return code,
        }
    } else {
        let opts = PlanOptions {
            schema_file: args.schema.clone(),
            ..PlanOptions::default()
        };
        let mut errors = Vec::new();
        for set in &sets {
            match planner::check(set, &opts) {
                Ok(c) => checked.push(c),
                Err(d) => errors.extend(d.0),
            }
        }
        if !errors.is_empty() {
            print_diagnostics(&Diagnostics(errors));
            return ExitCode::from(exit::ERROR);
        }
    }
    let color =
        !args.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
    let out = match args.format {
        Format::Text => render::text(&checked, &render::TextOptions { color }),
        Format::Json => render::json(&checked),
        Format::Markdown => render::markdown(&checked),
        Format::Dot => render::dot(&checked),
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
        .is_err()
    {
        return ExitCode::from(exit::ERROR);
    }
    if checked.iter().any(CheckedPlan::has_changes) {
        ExitCode::from(exit::CHANGES)
    } else {
        ExitCode::from(exit::OK)
    }
}
