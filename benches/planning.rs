//! Planning speed: generate plans of 1k, 10k and 100k statements, plan each
//! (load, parse, classify, decompose, graph, proof) and print the time, the
//! cost per statement, and two ratios: growth (time per statement against
//! the 1k plan: linear planning stays near 1.0) and the cost against the
//! floor, parsing the same statements with sqlparser alone, measured in the
//! same run so a noisy machine moves both.
//!
//! Run: `cargo bench --bench planning` (add `-- --quick` to skip 100k).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use zerodown::plan;
use zerodown::planner::{self, PlanOptions};

/// Four statements per table: every class appears (additive, unsafe as
/// written, transforming).
fn statements(n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    let mut t = 0;
    while out.len() < n {
        let kinds = [
            format!("CREATE TABLE t{t} (id bigint PRIMARY KEY, a text NOT NULL, b integer)"),
            format!("ALTER TABLE t{t} ADD COLUMN c text"),
            format!("CREATE INDEX t{t}_a_idx ON t{t} (a)"),
            format!("ALTER TABLE t{t} RENAME COLUMN b TO d"),
        ];
        for s in kinds {
            if out.len() < n {
                out.push(s);
            }
        }
        t += 1;
    }
    out
}

fn write_plan(dir: &Path, stmts: &[String]) {
    std::fs::create_dir_all(dir).expect("bench dir");
    let mut yaml = String::from("version: 1\nengine: postgres\ndescription: generated\nchanges:\n");
    for s in stmts {
        writeln!(yaml, "  - \"{s}\"").unwrap();
    }
    std::fs::write(dir.join("0001_generated.yaml"), yaml).expect("write plan");
}

fn time_plan(dir: &Path) -> (Duration, usize) {
    let start = Instant::now();
    let sets = plan::discover(&[dir.to_path_buf()]).expect("load");
    let checked = planner::check(&sets[0], &PlanOptions::default()).expect("plan");
    let elapsed = start.elapsed();
    (elapsed, checked.graph.work_count())
}

fn time_parse(stmts: &[String]) -> Duration {
    let start = Instant::now();
    for s in stmts {
        let parsed = Parser::parse_sql(&PostgreSqlDialect {}, s).expect("parse");
        std::hint::black_box(parsed);
    }
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let root: PathBuf = std::env::temp_dir().join(format!("zerodown-bench-{}", std::process::id()));
    let sizes: &[usize] = if quick {
        &[1_000, 10_000]
    } else {
        &[1_000, 10_000, 100_000]
    };
    println!("planning benchmark (PostgreSQL rules, 4 statement kinds)");
    println!(
        "{:>8} {:>8} {:>12} {:>14} {:>14} {:>10} {:>12}",
        "stmts", "tasks", "plan ms", "µs/stmt", "parse-only ms", "plan/parse", "growth"
    );
    let mut first_per_stmt = None;
    for &n in sizes {
        let stmts = statements(n);
        let dir = root.join(n.to_string());
        write_plan(&dir, &stmts);
        let runs = if n >= 100_000 { 1 } else { 3 };
        let mut plan_times = Vec::new();
        let mut parse_times = Vec::new();
        let mut tasks = 0;
        for _ in 0..runs {
            let (t, k) = time_plan(&dir);
            plan_times.push(t);
            tasks = k;
            parse_times.push(time_parse(&stmts));
        }
        let plan_t = median(plan_times);
        let parse_t = median(parse_times);
        let per_stmt = plan_t.as_secs_f64() * 1e6 / n as f64;
        let growth = per_stmt / *first_per_stmt.get_or_insert(per_stmt);
        println!(
            "{:>8} {:>8} {:>12.1} {:>14.1} {:>14.1} {:>10.2} {:>12.2}",
            n,
            tasks,
            plan_t.as_secs_f64() * 1e3,
            per_stmt,
            parse_t.as_secs_f64() * 1e3,
            plan_t.as_secs_f64() / parse_t.as_secs_f64(),
            growth
        );
    }
    let _ = std::fs::remove_dir_all(&root);
    println!("growth: µs per statement relative to the 1k plan (1.00 = linear)");
}
