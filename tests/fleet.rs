//! Fleet rollouts end to end: real PostgreSQL, real node processes (the
//! `zerodown-testapp` example, started and switched by the deploy scripts in
//! tests/fleet/), the `zerodown` binary in between.
//!
//! Every test renames `users.name` to `users.full_name` while its nodes roll
//! from release 1 (reads and writes `name`) to release 2 (`full_name`), and
//! reads the nodes' own logs to check what the users of the application
//! would have seen.

mod support;

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use support::{remove_cargo_test_env, text, zerodown, PgDb, Scratch};

/// The `zerodown-testapp` executable (examples/zerodown-testapp.rs), in
/// the `examples/` folder beside this test's own profile directory
/// (`target/<profile>/deps/fleet-…`). `cargo test` builds it with the
/// tests, `cargo test --test fleet` does not: it is built here, once per
/// test process, with the cargo and the profile that built this test (a
/// no-op when it is up to date; `cargo test`'s variables left out, or the
/// build would be found dirty).
fn testapp_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test executable");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test runs from target/<profile>/deps");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev",
            Some(name) => name,
            None => panic!("no profile directory above {}", exe.display()),
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        remove_cargo_test_env(&mut cmd);
        let out = cmd
            .args([
                "build",
                "--example",
                "zerodown-testapp",
                "--profile",
                profile,
            ])
            .arg("--target-dir")
            .arg(profile_dir.parent().expect("target/<profile>"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run cargo to build the zerodown-testapp example");
        assert!(
            out.status.success(),
            "cargo build --example zerodown-testapp: {}",
            text(&out.stderr)
        );
        let bin = profile_dir.join("examples").join("zerodown-testapp");
        assert!(bin.is_file(), "{} was not built", bin.display());
        bin
    })
}

/// The schema at version 1, with rows for the backfill to copy.
const SCHEMA: &str = "
CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL, email text);
INSERT INTO users (name, email)
    SELECT 'user ' || i, 'user' || i || '@example.test' FROM generate_series(1, 2000) AS i;
";

const RELEASES: &str = "releases:
  \"1\": \"1 ..= 2.migrate\"   # reads and writes users.name
  \"2\": \"2.migrate ..\"      # reads and writes users.full_name
";

fn script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fleet")
        .join(name)
        .display()
        .to_string()
}

/// A fleet group of the plan, rolled with the deploy scripts. `extra`:
/// more keys of the group, each line indented by four spaces.
fn group(name: &str, nodes: &[&str], extra: &str) -> String {
    format!(
        "  - group: {name}
    nodes: [{nodes}]
    release: {{from: \"1\", to: \"2\"}}
    drain: [\"{drain}\", \"{{node}}\"]
    upgrade: [\"{upgrade}\", \"{{node}}\", \"{{release}}\"]
    health: [\"{health}\", \"{{node}}\"]
    rollback: [\"{rollback}\", \"{{node}}\", \"{{release}}\"]
    timeout: 20s
    health_interval: 100ms
    min_healthy: 300ms
    health_deadline: 5s
{extra}",
        nodes = nodes.join(", "),
        drain = script("drain.sh"),
        upgrade = script("upgrade.sh"),
        health = script("health.sh"),
        rollback = script("rollback.sh"),
    )
}

/// The plan: the rename, optional plan hooks, the groups.
fn plan(hooks: &str, groups: &[String]) -> String {
    format!(
        "version: 2
engine: postgres
description: Rename users.name to full_name while the nodes roll from 1 to 2
changes:
  - ALTER TABLE users RENAME COLUMN name TO full_name
{hooks}fleet:
{}",
        groups.concat()
    )
}

/// The plan's hooks: the switch turned off before the rollout, on after.
fn switch_hooks() -> String {
    let hook = script("hook.sh");
    format!(
        "hooks:
  before: [\"{hook}\", switch, \"off\"]
  after: [\"{hook}\", switch, \"on\"]
"
    )
}

/// One line of a node's log.
#[derive(Debug)]
struct AppLine {
    ms: u128,
    node: String,
    release: String,
    event: String,
    ok: u32,
    errors: u32,
    line: String,
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// RFC 3339 (from the state file) to unix milliseconds.
fn rfc3339_ms(t: &str) -> u128 {
    humantime::parse_rfc3339(t)
        .unwrap_or_else(|e| panic!("{t}: {e}"))
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// A database at version 1 and nodes running release 1 against it; the
/// nodes are stopped when the value is dropped (before the database).
struct Fleet {
    nodes: Vec<String>,
    scratch: Scratch,
    db: PgDb,
}

impl Fleet {
    fn new(nodes: &[&str]) -> Fleet {
        let db = PgDb::new();
        db.exec(SCHEMA);
        let fleet = Fleet {
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            scratch: Scratch::new(),
            db,
        };
        std::fs::create_dir_all(fleet.dir()).unwrap();
        std::fs::create_dir_all(fleet.plans()).unwrap();
        std::fs::write(fleet.plans().join("releases.yaml"), RELEASES).unwrap();
        for node in nodes {
            fleet.run_script("start.sh", &[node, "1"]);
        }
        fleet.wait_until("every node serves release 1", || {
            nodes.iter().all(|n| {
                fleet
                    .app_log(n)
                    .iter()
                    .any(|l| l.event == "up" && l.release == "1")
            })
        });
        fleet
    }

    fn dir(&self) -> PathBuf {
        self.scratch.path("fleet")
    }

    fn plans(&self) -> PathBuf {
        self.scratch.path("plans")
    }

    fn state_path(&self) -> String {
        self.scratch.path("state.json").display().to_string()
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ZERODOWN_TESTAPP_DIR", self.dir().display().to_string()),
            ("ZERODOWN_TESTAPP_BIN", testapp_bin().display().to_string()),
            ("ZERODOWN_TESTAPP_DATABASE", self.db.url.clone()),
        ]
    }

    fn run_script(&self, name: &str, args: &[&str]) {
        let out = std::process::Command::new(script(name))
            .args(args)
            .envs(self.env())
            .output()
            .expect("run a deploy script");
        assert!(
            out.status.success(),
            "{name} {args:?}: {}",
            text(&out.stderr)
        );
    }

    fn write_plan(&self, yaml: &str) {
        std::fs::write(self.plans().join("0002_full_name.yaml"), yaml).unwrap();
    }

    /// `zerodown COMMAND [ARGS] --database … --state …` with the fleet's
    /// environment and `env`.
    fn zerodown(&self, command: &[&str], env: &[(&str, &str)]) -> Output {
        let state = self.state_path();
        let mut args: Vec<&str> = command.to_vec();
        args.extend(["--database", &self.db.url, "--state", &state]);
        let fleet_env = self.env();
        let mut all: Vec<(&str, &str)> = fleet_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(env);
        zerodown(&args, &all)
    }

    fn apply(&self, env: &[(&str, &str)]) -> Output {
        let plans = self.plans().display().to_string();
        self.zerodown(&["apply", &plans], env)
    }

    /// Make `node` answer 503 on `release` (or heal it).
    fn sick(&self, node: &str, release: &str, sick: bool) {
        let marker = self.dir().join(format!("{node}.unhealthy@{release}"));
        if sick {
            std::fs::write(marker, "").unwrap();
        } else {
            std::fs::remove_file(marker).unwrap();
        }
    }

    fn app_log(&self, node: &str) -> Vec<AppLine> {
        let path = self.dir().join(format!("{node}.log"));
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|line| AppLine {
                ms: line.split(' ').next().unwrap().parse().unwrap(),
                node: field(line, "node").unwrap().to_string(),
                release: field(line, "release").unwrap().to_string(),
                event: field(line, "event").unwrap().to_string(),
                ok: field(line, "ok").map_or(0, |n| n.parse().unwrap()),
                errors: field(line, "errors").map_or(0, |n| n.parse().unwrap()),
                line: line.to_string(),
            })
            .collect()
    }

    /// Every node's log, in time order.
    fn app_logs(&self) -> Vec<AppLine> {
        let mut all: Vec<AppLine> = self.nodes.iter().flat_map(|n| self.app_log(n)).collect();
        all.sort_by_key(|l| l.ms);
        all
    }

    /// The deploy scripts' log: (ms, words), in order.
    fn deploy_log(&self) -> Vec<(u128, Vec<String>)> {
        std::fs::read_to_string(self.dir().join("deploy.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let mut words = l.split(' ').map(str::to_string);
                let ms = words.next().unwrap().parse().unwrap();
                (ms, words.collect())
            })
            .collect()
    }

    /// How many times `verb` (drain, upgrade, rollback) ran per node.
    fn count(&self, verb: &str) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for (_, words) in self.deploy_log() {
            if words[0] == verb {
                *counts.entry(words[1].clone()).or_default() += 1;
            }
        }
        counts
    }

    fn state(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.state_path()).expect("a state file");
        serde_json::from_str(&text).unwrap()
    }

    /// (status, release) of each node in the state file.
    fn node_states(&self) -> BTreeMap<String, (String, String)> {
        let state = self.state();
        state["nodes"]
            .as_object()
            .map(|nodes| {
                nodes
                    .iter()
                    .map(|(n, s)| {
                        let f = |k: &str| s[k].as_str().unwrap().to_string();
                        (n.clone(), (f("status"), f("release")))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The release each node's process serves now (its latest `up`).
    fn serving(&self) -> BTreeMap<String, String> {
        self.nodes
            .iter()
            .map(|n| {
                let log = self.app_log(n);
                let last_up = log.iter().rev().find(|l| l.event == "up").unwrap();
                let down_after = log.iter().any(|l| l.event == "down" && l.ms >= last_up.ms);
                let release = if down_after {
                    "down".to_string()
                } else {
                    last_up.release.clone()
                };
                (n.clone(), release)
            })
            .collect()
    }

    /// Batches that had an error, across every node.
    fn failed_batches(&self) -> Vec<String> {
        self.app_logs()
            .into_iter()
            .filter(|l| l.errors > 0)
            .map(|l| l.line)
            .collect()
    }

    /// The most nodes down at the same time: a node is down from its
    /// `down` until its next `up`.
    fn most_down_at_once(&self) -> usize {
        let mut down: BTreeMap<String, bool> = BTreeMap::new();
        let mut most = 0;
        for l in self.app_logs() {
            match l.event.as_str() {
                "down" => {
                    down.insert(l.node.clone(), true);
                }
                "up" => {
                    down.insert(l.node.clone(), false);
                }
                _ => {}
            }
            most = most.max(down.values().filter(|d| **d).count());
        }
        most
    }

    /// Wait until every node has logged `batches` more batches: they ran
    /// against the schema as the run left it.
    fn run_a_little(&self, batches: usize) {
        let since = now_ms();
        self.wait_until("every node runs on", || {
            self.nodes.iter().all(|n| {
                self.app_log(n)
                    .iter()
                    .filter(|l| l.event == "batch" && l.ms > since)
                    .count()
                    >= batches
            })
        });
    }

    fn wait_until(&self, what: &str, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out: {what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// When contract started: the first contract task in the history table.
    fn contract_started_ms(&self) -> u128 {
        let ms = self
            .db
            .scalar(
                "SELECT (extract(epoch FROM min(coalesce(started_at, finished_at))) * 1000)::bigint::text
                 FROM zerodown.history WHERE phase = 'contract'",
            )
            .expect("contract started");
        ms.parse().unwrap()
    }

    fn has_column(&self, column: &str) -> bool {
        self.db
            .scalar(&format!(
                "SELECT count(*)::text FROM information_schema.columns
                 WHERE table_name = 'users' AND column_name = '{column}'"
            ))
            .as_deref()
            == Some("1")
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = std::process::Command::new(script("stop-all.sh"))
            .envs(self.env())
            .output();
    }
}

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn all_on(release: &str, nodes: &[&str]) -> BTreeMap<String, (String, String)> {
    nodes
        .iter()
        .map(|n| (n.to_string(), ("upgraded".to_string(), release.to_string())))
        .collect()
}

#[test]
fn three_nodes_roll_between_migrate_and_contract_without_a_failed_query() {
    let nodes = ["app-1", "app-2", "app-3"];
    let fleet = Fleet::new(&nodes);
    fleet.write_plan(&plan("", &[group("app", &nodes, "")]));
    let out = fleet.apply(&[]);
    assert_exit(&out, 0);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("app: 3/3 on 2"), "{stdout}");
    fleet.run_a_little(3);

    assert_eq!(fleet.node_states(), all_on("2", &nodes));
    assert!(
        fleet.serving().values().all(|r| r == "2"),
        "{:?}",
        fleet.serving()
    );
    assert_eq!(fleet.failed_batches(), Vec::<String>::new());
    let logs = fleet.app_logs();
    for release in ["1", "2"] {
        let ok: u32 = logs
            .iter()
            .filter(|l| l.release == release)
            .map(|l| l.ok)
            .sum();
        assert!(ok > 0, "release {release} ran queries");
    }
    assert!(!fleet.has_column("name") && fleet.has_column("full_name"));

    // Contract starts only once the last node is healthy on 2, and no
    // release 1 query runs from then on.
    let contract = fleet.contract_started_ms();
    let state = fleet.state();
    let last_healthy = nodes
        .iter()
        .map(|n| rfc3339_ms(state["nodes"][*n]["since"].as_str().unwrap()))
        .max()
        .unwrap();
    let last_up = logs
        .iter()
        .filter(|l| l.event == "up" && l.release == "2")
        .map(|l| l.ms)
        .max()
        .unwrap();
    assert!(
        last_up <= last_healthy,
        "zerodown saw the node up after it was"
    );
    assert!(
        last_healthy <= contract,
        "contract at {contract}, last node healthy at {last_healthy}"
    );
    let last_release_1 = logs
        .iter()
        .filter(|l| l.release == "1")
        .map(|l| l.ms)
        .max()
        .unwrap();
    assert!(last_release_1 < contract);
    assert_eq!(fleet.most_down_at_once(), 1);
}

#[test]
fn an_unhealthy_node_is_rolled_back_the_run_halts_before_contract_and_resume_finishes() {
    let nodes = ["app-1", "app-2", "app-3"];
    let fleet = Fleet::new(&nodes);
    fleet.write_plan(&plan(&switch_hooks(), &[group("app", &nodes, "")]));
    fleet.sick("app-2", "2", true);

    let out = fleet.apply(&[]);
    assert_exit(&out, 1);
    let stderr = text(&out.stderr);
    for want in [
        "node app-2: health failed: not healthy within the 5s health deadline",
        "rolled back to 1 and healthy again",
        "The run halts before contract",
        "Nodes upgraded so far: app-1 on 2",
        "zerodown resume",
    ] {
        assert!(stderr.contains(want), "{want:?} in:\n{stderr}");
    }
    // The nodes are where the state file says they are.
    let states = fleet.node_states();
    assert_eq!(states["app-1"], ("upgraded".into(), "2".into()));
    assert_eq!(states["app-2"], ("rolled_back".into(), "1".into()));
    assert!(!states.contains_key("app-3"), "app-3 was never touched");
    let serving = fleet.serving();
    assert_eq!(
        serving.values().map(String::as_str).collect::<Vec<_>>(),
        ["2", "1", "1"]
    );
    // Nothing of contract ran; the old column is still there for release 1.
    assert_eq!(
        fleet
            .db
            .scalar("SELECT count(*)::text FROM zerodown.history WHERE phase = 'contract' AND status <> 'pending'")
            .as_deref(),
        Some("0")
    );
    assert!(fleet.has_column("name"));
    // The plan's after hook ran although the run halted: the switch is on.
    let switches = |fleet: &Fleet| -> Vec<String> {
        fleet
            .deploy_log()
            .into_iter()
            .filter(|(_, w)| w[0] == "hook")
            .map(|(_, w)| w[2].clone())
            .collect()
    };
    assert_eq!(switches(&fleet), ["off", "on"]);

    let status = fleet.zerodown(&["status"], &[]);
    assert_exit(&status, 0);
    let stdout = text(&status.stdout);
    for want in [
        "  app: 1/3 on 2 (from 1), 1 not started",
        "    app-2: FAILED, rolled back, on 1 since ",
        "health failed",
    ] {
        assert!(stdout.contains(want), "{want:?} in:\n{stdout}");
    }

    // app-1 runs release 2: undoing expand would break it.
    let abort = fleet.zerodown(&["abort"], &[]);
    assert_exit(&abort, 1);
    assert!(
        text(&abort.stderr).contains("cannot abort: node app-1 may run release 2 (upgraded)"),
        "{}",
        text(&abort.stderr)
    );

    fleet.sick("app-2", "2", false);
    let out = fleet.zerodown(&["resume"], &[]);
    assert_exit(&out, 0);
    fleet.run_a_little(2);
    assert_eq!(fleet.node_states(), all_on("2", &nodes));
    assert!(fleet.serving().values().all(|r| r == "2"));
    assert_eq!(switches(&fleet), ["off", "on", "off", "on"]);
    let upgrades = fleet.count("upgrade");
    assert_eq!(
        upgrades.values().collect::<Vec<_>>(),
        [&1, &2, &1],
        "app-1 is not upgraded again: {upgrades:?}"
    );
    assert_eq!(fleet.count("rollback").get("app-2"), Some(&1));
    assert_eq!(fleet.failed_batches(), Vec::<String>::new());
    assert!(!fleet.has_column("name"));
}

#[test]
fn an_unhealthy_node_before_the_run_changes_nothing() {
    let nodes = ["app-1", "app-2"];
    let fleet = Fleet::new(&nodes);
    fleet.write_plan(&plan(&switch_hooks(), &[group("app", &nodes, "")]));
    fleet.sick("app-2", "1", true);

    let out = fleet.apply(&[]);
    assert_exit(&out, 1);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("pre-flight: nodes are not healthy before the rollout, so nothing was changed:\n  app-2: "),
        "{stderr}"
    );
    assert!(!stderr.contains("app-1:"), "{stderr}");
    assert!(!fleet.has_column("full_name"), "the catalog is untouched");
    let history = fleet
        .db
        .scalar("SELECT coalesce(to_regclass('zerodown.history')::text, 'none')");
    if history.as_deref() != Some("none") {
        assert_eq!(
            fleet
                .db
                .scalar("SELECT count(*)::text FROM zerodown.history")
                .as_deref(),
            Some("0")
        );
    }
    assert_eq!(
        fleet.deploy_log().len(),
        2,
        "only the two starts: {:?}",
        fleet.deploy_log()
    );

    // Healthy again: the same apply starts over (the failed pre-flight
    // left nothing to resume) and rolls both nodes.
    fleet.sick("app-2", "1", false);
    let out = fleet.apply(&[]);
    assert_exit(&out, 0);
    assert_eq!(fleet.node_states(), all_on("2", &nodes));
}

#[test]
fn a_killed_run_resumes_without_upgrading_any_node_twice() {
    let nodes = ["app-1", "app-2", "app-3"];
    let fleet = Fleet::new(&nodes);
    fleet.write_plan(&plan("", &[group("app", &nodes, "")]));

    // Killed right after app-2's upgrade finished, before its health.
    let out = fleet.apply(&[("ZERODOWN_FAILPOINT", "node:app-2:installed")]);
    assert_eq!(out.status.code(), None, "killed: {}", text(&out.stderr));
    let states = fleet.node_states();
    assert_eq!(states["app-1"], ("upgraded".into(), "2".into()));
    assert_eq!(states["app-2"], ("installed".into(), "2".into()));

    // Killed again as app-3's batch starts (marked, nothing run).
    let out = fleet.zerodown(
        &["resume"],
        &[("ZERODOWN_FAILPOINT", "before:v2/rollout/app/3")],
    );
    assert_eq!(out.status.code(), None, "killed: {}", text(&out.stderr));
    assert_eq!(
        fleet.node_states()["app-2"],
        ("upgraded".into(), "2".into())
    );
    assert_eq!(
        fleet.node_states()["app-3"],
        ("draining".into(), "1".into())
    );

    let out = fleet.zerodown(&["resume"], &[]);
    assert_exit(&out, 0);
    fleet.run_a_little(2);
    assert_eq!(fleet.node_states(), all_on("2", &nodes));
    assert!(fleet.serving().values().all(|r| r == "2"));
    let once: BTreeMap<String, usize> = nodes.iter().map(|n| (n.to_string(), 1)).collect();
    assert_eq!(fleet.count("upgrade"), once, "upgrades per node");
    assert_eq!(fleet.count("drain"), once, "drains per node");
    assert_eq!(fleet.failed_batches(), Vec::<String>::new());
    assert!(!fleet.has_column("name"));
}

#[test]
fn groups_roll_in_dependency_order_at_most_max_unavailable_at_once() {
    let api = ["api-1", "api-2", "api-3", "api-4"];
    let web = ["web-1", "web-2"];
    let all: Vec<&str> = api.iter().chain(&web).copied().collect();
    let fleet = Fleet::new(&all);
    let hook = script("hook.sh");
    // `api` is declared first but runs after `web`.
    let api_group = group(
        "api",
        &api,
        &format!(
            "    max_unavailable: 2
    after: [web]
    hooks:
      before: [\"{hook}\", \"{{group}}\", before]
      after: [\"{hook}\", \"{{group}}\", rebalance, \"{{release}}\"]
"
        ),
    );
    fleet.write_plan(&plan("", &[api_group, group("web", &web, "")]));
    let out = fleet.apply(&[]);
    assert_exit(&out, 0);
    assert_eq!(fleet.node_states(), all_on("2", &all));
    assert_eq!(fleet.failed_batches(), Vec::<String>::new());

    // The order of the deploy steps: web one node at a time, then api's
    // before hook, api in batches of two, api's after hook.
    let steps: Vec<String> = fleet
        .deploy_log()
        .into_iter()
        .filter(|(_, w)| w[0] != "start")
        .map(|(_, w)| w[..2].join(" "))
        .collect();
    let position = |step: &str| {
        steps
            .iter()
            .position(|s| s == step)
            .unwrap_or_else(|| panic!("{step} in {steps:?}"))
    };
    assert_eq!(
        steps[..4],
        [
            "drain web-1",
            "upgrade web-1",
            "drain web-2",
            "upgrade web-2"
        ]
    );
    assert_eq!(steps[4], "hook api");
    let batch_1 = ["api-1", "api-2"].map(|n| {
        (
            position(&format!("drain {n}")),
            position(&format!("upgrade {n}")),
        )
    });
    let batch_2 = ["api-3", "api-4"].map(|n| {
        (
            position(&format!("drain {n}")),
            position(&format!("upgrade {n}")),
        )
    });
    let end_of_1 = batch_1.iter().map(|(_, u)| *u).max().unwrap();
    assert!(batch_2.iter().all(|(d, _)| *d > end_of_1), "{steps:?}");
    assert_eq!(steps.last().unwrap(), "hook api");
    let rebalance = fleet.deploy_log().last().unwrap().1.clone();
    assert_eq!(rebalance, ["hook", "api", "rebalance", "2"]);

    // Both nodes of a batch were down together, never more.
    assert_eq!(fleet.most_down_at_once(), 2);
}

#[test]
fn a_signal_stops_the_rollout_after_its_batch_and_the_after_hook_still_runs() {
    let nodes = ["app-1", "app-2"];
    let fleet = Fleet::new(&nodes);
    fleet.write_plan(&plan(&switch_hooks(), &[group("app", &nodes, "")]));
    let state = fleet.state_path();
    let plans = fleet.plans().display().to_string();
    // Its own process group, signalled as a whole like Ctrl-C in a
    // terminal: the steps zerodown runs must not be hit.
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_zerodown"))
        .args([
            "apply",
            &plans,
            "--database",
            &fleet.db.url,
            "--state",
            &state,
        ])
        .envs(fleet.env())
        // Slow steps: the signal comes while app-1's upgrade runs.
        .env("ZERODOWN_TESTAPP_STEP_DELAY", "0.5")
        .process_group(0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    fleet.wait_until("app-1 is being upgraded", || {
        fleet
            .deploy_log()
            .iter()
            .any(|(_, w)| w[..2] == ["upgrade", "app-1"])
    });
    let kill = std::process::Command::new("kill")
        .args(["-INT", "--", &format!("-{}", run.id())])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = run.wait_with_output().unwrap();
    assert_exit(&out, 3);
    // The batch in flight finished; the next did not start; the switch is
    // back on.
    let states = fleet.node_states();
    assert_eq!(states["app-1"], ("upgraded".into(), "2".into()));
    assert!(!states.contains_key("app-2"));
    let hooks = |fleet: &Fleet| -> Vec<String> {
        fleet
            .deploy_log()
            .into_iter()
            .filter(|(_, w)| w[0] == "hook")
            .map(|(_, w)| w[2].clone())
            .collect()
    };
    assert_eq!(hooks(&fleet), ["off", "on"]);
    assert_eq!(
        std::fs::read_to_string(fleet.dir().join("switch")).unwrap(),
        "on\n"
    );

    let out = fleet.zerodown(&["resume"], &[]);
    assert_exit(&out, 0);
    assert_eq!(fleet.node_states(), all_on("2", &nodes));
    assert_eq!(hooks(&fleet), ["off", "on", "off", "on"]);
    assert_eq!(
        fleet.count("upgrade").values().collect::<Vec<_>>(),
        [&1, &1]
    );
}
