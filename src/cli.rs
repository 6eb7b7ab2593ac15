//! Command-line definitions and dispatch. The only place (with `main`) that
//! prints: library code returns data and typed errors.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::Diagnostics;
use crate::plan;
use crate::planner::{self, CheckedPlan, PlanOptions};
use crate::render;

/// Exit codes, like `terraform plan -detailed-exitcode`.
pub mod exit {
    /// Success; for `plan`: nothing to do.
    pub const OK: u8 = 0;
    /// An error: bad input, an unsafe plan, a failed run.
    pub const ERROR: u8 = 1;
    /// `plan` succeeded and there are changes to apply.
    pub const CHANGES: u8 = 2;
}

const AFTER_HELP: &str = "\
Exit codes:
  0  success; for `plan`: nothing to do
  1  error (invalid plan, unsafe rollout, failure)
  2  `plan` only: the plan is valid and has changes to apply

Documentation: README.md (plan format), ARCHITECTURE.md (how it works).";

/// zerodown upgrades a database and the application fleet using it without
/// downtime: expand, migrate, roll the nodes, contract, proven safe for every
/// running release.
#[derive(Debug, Parser)]
#[command(name = "zerodown", version, about, long_about = None, after_help = AFTER_HELP)]
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
    #[command(after_help = AFTER_HELP)]
    Plan(PlanArgs),
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
}

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Plan(args) => run_plan(args),
    }
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
    let opts = PlanOptions {
        schema_file: args.schema.clone(),
        ..PlanOptions::default()
    };
    let mut checked: Vec<CheckedPlan> = Vec::new();
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
