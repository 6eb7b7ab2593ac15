//! Runs of the `zerodown` binary and what they leave (exit code, output,
//! state file), for every engine's tests: a plan's task list, `apply` and
//! `resume` against a test database, background runs that a test signals.
#![allow(dead_code)] // each test file uses a part of it

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{text, Scratch, TestDb};

/// A task of a plan set, as `zerodown plan --format json` lists it.
#[derive(Clone, Debug)]
pub struct PlanTask {
    pub id: String,
    /// `milestone`, `action` or `rollout`.
    pub kind: String,
    pub stage: String,
    /// The step's type for actions: `sql`, `backfill` or `check`.
    pub step: Option<String>,
}

/// Every task of the plan set in `dir`, in execution order.
pub fn plan_tasks(dir: &str) -> Vec<PlanTask> {
    let out = super::zerodown(&["plan", dir, "--format", "json"], &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "plan {dir}: {}",
        text(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    let sets = json["plan_sets"].as_array().expect("plan_sets");
    assert_eq!(sets.len(), 1, "{dir}: one plan set");
    sets[0]["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| PlanTask {
            id: t["id"].as_str().unwrap().to_string(),
            kind: t["kind"].as_str().unwrap().to_string(),
            stage: t["stage"].as_str().unwrap().to_string(),
            step: t["step"]["type"].as_str().map(str::to_string),
        })
        .collect()
}

/// The state file as JSON.
pub fn state_json(path: &Path) -> serde_json::Value {
    let raw = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&raw).expect("state file JSON")
}

/// What a run of the binary gave: exit code (None when killed by a
/// signal), the signal, stdout, stderr.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from_output(out: Output) -> Run {
        use std::os::unix::process::ExitStatusExt;
        Run {
            code: out.status.code(),
            signal: out.status.signal(),
            stdout: text(&out.stdout),
            stderr: text(&out.stderr),
        }
    }

    /// Panics with the output unless the exit code is `code`.
    pub fn expect(&self, code: i32, what: &str) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "{what}: exit code {:?} (signal {:?}), expected {code}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.signal,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// The environment of a run: demo fleet folder in the scratch dir.
pub fn fleet_env(scratch: &Scratch) -> String {
    scratch.path("fleet").display().to_string()
}

/// Run `zerodown` with `args`; the demo fleet keeps its nodes in the
/// scratch dir.
pub fn run(args: &[&str], scratch: &Scratch, extra_env: &[(&str, &str)]) -> Run {
    let fleet = fleet_env(scratch);
    let mut env: Vec<(&str, &str)> = vec![("ZERODOWN_DEMO_FLEET", fleet.as_str())];
    env.extend_from_slice(extra_env);
    Run::from_output(super::zerodown(args, &env))
}

/// Start `zerodown` with `args` in the background (stdout and stderr piped).
pub fn spawn(args: &[&str], scratch: &Scratch, extra_env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zerodown"));
    cmd.args(args)
        .env_remove("DATABASE_URL")
        .env_remove("ZERODOWN_FAILPOINT")
        .env("ZERODOWN_DEMO_FLEET", fleet_env(scratch))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("start zerodown")
}

/// `apply DIR --database URL --state STATE` plus `extra` arguments.
pub fn apply(
    dir: &str,
    db: &impl TestDb,
    state: &Path,
    extra: &[&str],
    scratch: &Scratch,
    env: &[(&str, &str)],
) -> Run {
    let state = state.display().to_string();
    let mut args = vec!["apply", dir, "--database", db.url(), "--state", &state];
    args.extend_from_slice(extra);
    run(&args, scratch, env)
}

/// `resume --database URL --state STATE` plus `extra` arguments.
pub fn resume(db: &impl TestDb, state: &Path, extra: &[&str], scratch: &Scratch) -> Run {
    let state = state.display().to_string();
    let mut args = vec!["resume", "--database", db.url(), "--state", &state];
    args.extend_from_slice(extra);
    run(&args, scratch, &[])
}

/// The lines of `s`, trimmed, without the empty ones (expected catalog
/// texts are indented constants).
pub fn lines(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Copy a plan directory (plans, releases, schemas) into the scratch dir,
/// so a test can change a plan file.
pub fn copy_plans(from: &str, scratch: &Scratch) -> String {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let p = e.unwrap().path();
            let target = to.join(p.file_name().unwrap());
            if p.is_dir() {
                copy(&p, &target);
            } else {
                std::fs::copy(&p, &target).unwrap();
            }
        }
    }
    let to = scratch.path("plans");
    copy(Path::new(from), &to);
    to.display().to_string()
}

/// Wait until `f` holds (or fail after `limit`).
pub fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The plan sets under `plans/` written for `engine` (`engine: ENGINE` in
/// one of their files).
pub fn examples(engine: &str) -> Vec<String> {
    let want = format!("engine: {engine}");
    let mut dirs: Vec<String> = std::fs::read_dir("plans")
        .expect("plans/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .filter(|p| {
            std::fs::read_dir(p).unwrap().any(|f| {
                let f = f.unwrap().path();
                f.extension().is_some_and(|e| e == "yaml")
                    && std::fs::read_to_string(&f)
                        .unwrap()
                        .lines()
                        .any(|l| l.trim() == want)
            })
        })
        .map(|p| p.display().to_string())
        .collect();
    dirs.sort();
    dirs
}

/// The snapshot a plan set starts from (`plans/x` → `schemas/x/0001.sql`).
pub fn starting_schema(dir: &str) -> String {
    let name = Path::new(dir)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    format!("schemas/{name}/0001.sql")
}

/// The password shows in neither output nor the state file.
pub fn assert_no_password(run: &Run, password: &str, state: &Path) {
    assert!(
        !run.stdout.contains(password),
        "password in stdout:\n{}",
        run.stdout
    );
    assert!(
        !run.stderr.contains(password),
        "password in stderr:\n{}",
        run.stderr
    );
    if let Ok(s) = std::fs::read_to_string(state) {
        assert!(!s.contains(password), "password in the state file:\n{s}");
    }
}
