//! Rolling application nodes: the user's commands, run as argv with
//! placeholders substituted per argument (never through a shell), each with
//! a timeout, their output appended to the run's log.
//!
//! Per node: drain → upgrade → health (retried every `health_interval`
//! until it has passed for `min_healthy` without a failure, or
//! `health_deadline` is over). When upgrade or health fails: rollback, wait
//! for health on the old release, and fail the task; the run halts before
//! contract. Every step a node passes is reported as it happens, so the
//! state file knows that an upgrade already ran and `resume` does not run
//! it a second time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::mpsc::UnboundedSender;

use crate::graph::{Hook, Rollout};
use crate::plan::substitute;

/// How health is judged after an upgrade.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthPolicy {
    /// Pause between health attempts.
    pub interval: Duration,
    /// Health must pass this long without a failure.
    pub min_healthy: Duration,
    /// From the first attempt: a node not healthy for `min_healthy` by then fails.
    pub deadline: Duration,
    /// The longest one attempt may take.
    pub attempt_timeout: Duration,
}

impl HealthPolicy {
    pub fn of(r: &Rollout) -> HealthPolicy {
        HealthPolicy {
            interval: r.health_interval,
            min_healthy: r.min_healthy,
            deadline: r.health_deadline,
            attempt_timeout: r.timeout.min(r.health_deadline),
        }
    }
}

fn human(d: Duration) -> humantime::FormattedDuration {
    // Milliseconds are enough for people; nanoseconds are noise.
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64))
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("`{argv}` could not start: {message}")]
    Spawn { argv: String, message: String },
    #[error("`{argv}` exited with {code}{tail}")]
    Exit {
        argv: String,
        code: String,
        tail: String,
    },
    #[error("`{argv}` did not finish within {} and was killed{tail}", human(*timeout))]
    Timeout {
        argv: String,
        timeout: Duration,
        tail: String,
    },
    #[error("not healthy within the {} health deadline; last attempt: {last}", human(*deadline))]
    Deadline {
        deadline: Duration,
        last: Box<StepError>,
    },
    #[error("`{argv}` passed, but not for {} in a row within the {} health deadline", human(*min_healthy), human(*deadline))]
    NotSettled {
        argv: String,
        min_healthy: Duration,
        deadline: Duration,
    },
}

/// The values of a step's placeholders. `{name}` in an argument becomes the
/// value, and the command also gets it as `ZERODOWN_NAME` in its
/// environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepVars(Vec<(&'static str, String)>);

impl StepVars {
    /// The values of a node step: `{node}`, `{group}`, `{release}` (the
    /// release being installed: the new one, or the old one on rollback),
    /// `{from_release}`.
    pub fn node(node: &str, group: &str, release: &str, from_release: &str) -> StepVars {
        StepVars(vec![
            ("node", node.to_string()),
            ("group", group.to_string()),
            ("release", release.to_string()),
            ("from_release", from_release.to_string()),
        ])
    }

    /// The values of a hook: `{version}`, and for a group's hook `{group}`,
    /// `{release}` (the new one), `{from_release}`.
    pub fn hook(version: u32, hook: &Hook) -> StepVars {
        let mut vars = vec![("version", version.to_string())];
        if let Some(group) = &hook.group {
            vars.push(("group", group.clone()));
        }
        if let Some(release) = &hook.to_release {
            vars.push(("release", release.clone()));
        }
        if let Some(release) = &hook.from_release {
            vars.push(("from_release", release.clone()));
        }
        StepVars(vars)
    }

    /// The argv of a template: each placeholder substituted within its
    /// argument, so a value stays one argument whatever it contains.
    pub fn argv(&self, template: &[String]) -> Vec<String> {
        let values: Vec<(&str, &str)> = self.0.iter().map(|(k, v)| (*k, v.as_str())).collect();
        template.iter().map(|a| substitute(a, &values)).collect()
    }

    fn env(&self) -> impl Iterator<Item = (String, &str)> {
        self.0
            .iter()
            .map(|(k, v)| (format!("ZERODOWN_{}", k.to_ascii_uppercase()), v.as_str()))
    }
}

/// Runs steps and keeps their output in one log file.
#[derive(Clone, Debug)]
pub struct StepRunner {
    pub log_path: PathBuf,
    /// Working directory of the commands (zerodown's own, so `./deploy/…`
    /// paths resolve as the operator typed them).
    pub cwd: PathBuf,
}

fn tail(output: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(output);
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    if all.is_empty() {
        String::new()
    } else {
        format!("; last output:\n    {}", all[start..].join("\n    "))
    }
}

impl StepRunner {
    /// Run one step; its stdout and stderr go to the log under `label`
    /// (the node, the group, or `fleet`).
    pub async fn run(
        &self,
        step: &str,
        label: &str,
        template: &[String],
        vars: &StepVars,
        timeout: Duration,
    ) -> Result<(), StepError> {
        let argv = vars.argv(template);
        let shown = argv.join(" ");
        let Some((program, args)) = argv.split_first() else {
            return Ok(());
        };
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own process group: Ctrl-C in the terminal asks zerodown
            // to stop after this step, and must not kill the step half-way.
            .process_group(0);
        for (k, v) in vars.env() {
            cmd.env(k, v);
        }
        let child = cmd.spawn().map_err(|e| StepError::Spawn {
            argv: shown.clone(),
            message: e.to_string(),
        })?;
        let started = Instant::now();
        let result = tokio::time::timeout(timeout, child.wait_with_output()).await;
        let (output, status) = match result {
            Ok(Ok(out)) => {
                let mut combined = out.stdout.clone();
                combined.extend_from_slice(&out.stderr);
                (combined, Some(out.status))
            }
            Ok(Err(e)) => {
                return Err(StepError::Spawn {
                    argv: shown,
                    message: e.to_string(),
                })
            }
            Err(_) => (Vec::new(), None),
        };
        self.log(
            step,
            label,
            &shown,
            started.elapsed(),
            &output,
            status.map(|s| s.to_string()).as_deref(),
        )
        .await;
        match status {
            None => Err(StepError::Timeout {
                argv: shown,
                timeout,
                tail: tail(&output, 10),
            }),
            Some(s) if s.success() => Ok(()),
            Some(s) => Err(StepError::Exit {
                argv: shown,
                code: s
                    .code()
                    .map(|c| format!("code {c}"))
                    .unwrap_or_else(|| s.to_string()),
                tail: tail(&output, 10),
            }),
        }
    }

    async fn log(
        &self,
        step: &str,
        label: &str,
        argv: &str,
        elapsed: Duration,
        output: &[u8],
        status: Option<&str>,
    ) {
        if let Some(dir) = self.log_path.parent() {
            let _ = tokio::fs::create_dir_all(dir).await;
        }
        let Ok(mut f) = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .await
        else {
            return;
        };
        // One write per entry: nodes of a batch log concurrently.
        let mut entry = format!(
            "--- {} {label} {step}: {argv} ({} ms, {})\n",
            crate::exec::state::now(),
            elapsed.as_millis(),
            status.unwrap_or("timed out")
        )
        .into_bytes();
        entry.extend_from_slice(output);
        if !output.ends_with(b"\n") && !output.is_empty() {
            entry.push(b'\n');
        }
        // tokio writes in the background: flush waits until the entry is
        // in the file, before the next step (or a reader) looks.
        let _ = f.write_all(&entry).await;
        let _ = f.flush().await;
    }

    /// Health, retried every `interval` until it has passed for
    /// `min_healthy` without a failure, or the deadline is over.
    pub async fn wait_healthy(
        &self,
        label: &str,
        template: &[String],
        vars: &StepVars,
        policy: &HealthPolicy,
    ) -> Result<(), StepError> {
        let start = Instant::now();
        let mut healthy_since: Option<Instant> = None;
        loop {
            let left = policy.deadline.saturating_sub(start.elapsed());
            let timeout = policy
                .attempt_timeout
                .min(left.max(Duration::from_millis(100)));
            let failure = match self.run("health", label, template, vars, timeout).await {
                Ok(()) => {
                    let since = *healthy_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= policy.min_healthy {
                        return Ok(());
                    }
                    None
                }
                Err(e) => {
                    healthy_since = None;
                    Some(e)
                }
            };
            if start.elapsed() >= policy.deadline {
                return Err(match failure {
                    Some(last) => StepError::Deadline {
                        deadline: policy.deadline,
                        last: Box::new(last),
                    },
                    None => StepError::NotSettled {
                        argv: vars.argv(template).join(" "),
                        min_healthy: policy.min_healthy,
                        deadline: policy.deadline,
                    },
                });
            }
            tokio::time::sleep(policy.interval).await;
        }
    }
}

/// Where one node stands, kept in the state file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeState {
    pub group: String,
    /// The release the node runs now, as far as zerodown knows.
    pub release: String,
    pub status: NodeStatus,
    /// When the node reached this status (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// What failed, for a node rolled back or broken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The steps of a node's roll, as recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// Being drained.
    Draining,
    /// Drained; the upgrade has not finished.
    Drained,
    /// The upgrade command succeeded; health is not confirmed yet.
    Installed,
    /// On the new release and healthy.
    Upgraded,
    /// Upgrade or health failed; being rolled back.
    RollingBack,
    /// Rolled back to the old release and healthy there.
    RolledBack,
    /// The rollback failed too: needs a human.
    Broken,
}

impl NodeStatus {
    pub fn name(self) -> &'static str {
        match self {
            NodeStatus::Draining => "draining",
            NodeStatus::Drained => "drained",
            NodeStatus::Installed => "installed",
            NodeStatus::Upgraded => "upgraded",
            NodeStatus::RollingBack => "rolling_back",
            NodeStatus::RolledBack => "rolled_back",
            NodeStatus::Broken => "broken",
        }
    }
}

/// Where a node's roll starts, from what the state file recorded of an
/// earlier attempt: a step that finished is not run again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RollFrom {
    Drain,
    /// Drained before the run stopped.
    Upgrade,
    /// Upgraded before the run stopped: only health is left.
    Health,
}

impl RollFrom {
    /// The first step for a node that the state records as `prior`. A node
    /// that was draining, rolling back, rolled back or broken starts over;
    /// an upgrade that was running when the process died runs again (it
    /// cannot be told whether it finished).
    pub fn after(prior: Option<NodeStatus>) -> RollFrom {
        match prior {
            Some(NodeStatus::Drained) => RollFrom::Upgrade,
            Some(NodeStatus::Installed) => RollFrom::Health,
            _ => RollFrom::Drain,
        }
    }

    /// The status recorded before the roll starts.
    pub fn status(self) -> NodeStatus {
        match self {
            RollFrom::Drain => NodeStatus::Draining,
            RollFrom::Upgrade => NodeStatus::Drained,
            RollFrom::Health => NodeStatus::Installed,
        }
    }
}

/// A node's new status, sent while it rolls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeUpdate {
    pub node: String,
    pub status: NodeStatus,
    /// What failed (`{step} failed: …`), for `RollingBack`, `RolledBack`
    /// and `Broken`.
    pub error: Option<String>,
}

/// Why rolling a node failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("node {node}: {step} failed: {source}; rolled back to {from} and healthy again")]
    RolledBack {
        node: String,
        step: String,
        from: String,
        source: StepError,
    },
    #[error("node {node}: {step} failed: {source}; then the rollback failed too: {rollback}")]
    RollbackFailed {
        node: String,
        step: String,
        source: StepError,
        rollback: String,
    },
}

/// Roll one node from `from` on, reporting each status it reaches to
/// `updates` as soon as it reaches it.
pub async fn roll_node(
    runner: &StepRunner,
    r: &Rollout,
    node: &str,
    from: RollFrom,
    updates: &UnboundedSender<NodeUpdate>,
) -> Result<(), NodeError> {
    let send = |status: NodeStatus, error: Option<String>| {
        // The receiver lives as long as the batch; nothing to do if not.
        let _ = updates.send(NodeUpdate {
            node: node.to_string(),
            status,
            error,
        });
    };
    let policy = HealthPolicy::of(r);
    let new = StepVars::node(node, &r.group, &r.to_release, &r.from_release);
    let attempt = async {
        if from == RollFrom::Drain {
            runner
                .run("drain", node, &r.drain, &new, r.timeout)
                .await
                .map_err(|e| ("drain", e))?;
            send(NodeStatus::Drained, None);
        }
        if from != RollFrom::Health {
            runner
                .run("upgrade", node, &r.upgrade, &new, r.timeout)
                .await
                .map_err(|e| ("upgrade", e))?;
            send(NodeStatus::Installed, None);
        }
        runner
            .wait_healthy(node, &r.health, &new, &policy)
            .await
            .map_err(|e| ("health", e))
    }
    .await;
    let Err((step, source)) = attempt else {
        send(NodeStatus::Upgraded, None);
        return Ok(());
    };
    let failure = format!("{step} failed: {source}");
    send(NodeStatus::RollingBack, Some(failure.clone()));
    // Back to the old release: `{release}` is the old one for rollback.
    let old = StepVars::node(node, &r.group, &r.from_release, &r.from_release);
    let back = async {
        runner
            .run("rollback", node, &r.rollback, &old, r.timeout)
            .await?;
        runner.wait_healthy(node, &r.health, &old, &policy).await
    }
    .await;
    match back {
        Ok(()) => {
            send(NodeStatus::RolledBack, Some(failure));
            Err(NodeError::RolledBack {
                node: node.to_string(),
                step: step.to_string(),
                from: r.from_release.clone(),
                source,
            })
        }
        Err(rollback) => {
            send(
                NodeStatus::Broken,
                Some(format!("{failure}; the rollback failed too: {rollback}")),
            );
            Err(NodeError::RollbackFailed {
                node: node.to_string(),
                step: step.to_string(),
                source,
                rollback: rollback.to_string(),
            })
        }
    }
}

/// Run a hook of the plan or of a group.
pub async fn run_hook(runner: &StepRunner, version: u32, hook: &Hook) -> Result<(), StepError> {
    let label = hook.group.as_deref().unwrap_or("fleet");
    let step = format!("hook-{}", hook.when.name());
    runner
        .run(
            &step,
            label,
            &hook.argv,
            &StepVars::hook(version, hook),
            hook.timeout,
        )
        .await
}

/// Pre-flight: every node must pass one health check on its current release
/// before anything changes. Returns the failing nodes with why.
pub async fn preflight(runner: &StepRunner, rollouts: &[&Rollout]) -> BTreeMap<String, String> {
    let mut failing = BTreeMap::new();
    for r in rollouts {
        for node in &r.nodes {
            let vars = StepVars::node(node, &r.group, &r.from_release, &r.from_release);
            let timeout = HealthPolicy::of(r).attempt_timeout;
            if let Err(e) = runner
                .run("preflight-health", node, &r.health, &vars, timeout)
                .await
            {
                failing.insert(node.clone(), e.to_string());
            }
        }
    }
    failing
}

/// The log file of a run, beside its state file.
pub fn log_path_for(state_path: &Path) -> PathBuf {
    let dir = state_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    dir.join("fleet.log")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::HookWhen;

    /// A rollout whose drain, upgrade and rollback append to `dir/steps.log`.
    fn rollout(dir: &Path, health: &[&str], min_healthy_ms: u64, deadline_ms: u64) -> Rollout {
        let log = dir.join("steps.log");
        let step = |what: &str| {
            vec![
                "sh".to_string(),
                "-c".to_string(),
                format!("echo {what} >> '{}'", log.display()),
            ]
        };
        Rollout {
            group: "g".into(),
            batch: 1,
            batches: 1,
            nodes: vec!["n1".into()],
            from_release: "1".into(),
            to_release: "2".into(),
            drain: step("drain"),
            upgrade: step("upgrade {release}"),
            health: health.iter().map(|s| s.to_string()).collect(),
            rollback: step("rollback {release}"),
            timeout: Duration::from_secs(5),
            health_interval: Duration::from_millis(20),
            min_healthy: Duration::from_millis(min_healthy_ms),
            health_deadline: Duration::from_millis(deadline_ms),
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("zd-fleet-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn placeholders_stay_inside_their_argument_and_are_substituted_once() {
        let vars = StepVars::node("api-1; rm -rf / {release}", "api", "1.5", "1.4");
        let argv = vars.argv(&[
            "./up.sh".into(),
            "{node}".into(),
            "--to={release}".into(),
            "{from_release}".into(),
            "{\"json\": 1}".into(),
        ]);
        assert_eq!(
            argv,
            vec![
                "./up.sh",
                "api-1; rm -rf / {release}",
                "--to=1.5",
                "1.4",
                "{\"json\": 1}"
            ]
        );
        let env: Vec<(String, &str)> = vars.env().collect();
        assert_eq!(
            env[0],
            ("ZERODOWN_NODE".to_string(), "api-1; rm -rf / {release}")
        );
        assert_eq!(env[3], ("ZERODOWN_FROM_RELEASE".to_string(), "1.4"));
    }

    #[test]
    fn hooks_know_the_version_and_their_group() {
        let group_hook = Hook {
            group: Some("api".into()),
            when: HookWhen::After,
            argv: vec![
                "./rebalance.sh".into(),
                "{group}".into(),
                "{version}".into(),
            ],
            from_release: Some("1".into()),
            to_release: Some("2".into()),
            timeout: Duration::from_secs(1),
        };
        assert_eq!(
            StepVars::hook(3, &group_hook).argv(&group_hook.argv),
            vec!["./rebalance.sh", "api", "3"]
        );
        let plan_hook = Hook {
            group: None,
            from_release: None,
            to_release: None,
            ..group_hook
        };
        assert_eq!(
            StepVars::hook(3, &plan_hook),
            StepVars(vec![("version", "3".to_string())])
        );
    }

    #[test]
    fn a_roll_resumes_after_the_last_recorded_step() {
        let cases = [
            (None, RollFrom::Drain),
            (Some(NodeStatus::Draining), RollFrom::Drain),
            (Some(NodeStatus::Drained), RollFrom::Upgrade),
            (Some(NodeStatus::Installed), RollFrom::Health),
            (Some(NodeStatus::RollingBack), RollFrom::Drain),
            (Some(NodeStatus::RolledBack), RollFrom::Drain),
            (Some(NodeStatus::Broken), RollFrom::Drain),
        ];
        for (prior, from) in cases {
            assert_eq!(RollFrom::after(prior), from, "{prior:?}");
        }
    }

    async fn roll(
        r: &Rollout,
        from: RollFrom,
        dir: &Path,
    ) -> (Result<(), NodeError>, Vec<NodeStatus>, String) {
        let runner = StepRunner {
            log_path: dir.join("fleet.log"),
            cwd: dir.to_path_buf(),
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let result = roll_node(&runner, r, "n1", from, &tx).await;
        drop(tx);
        let mut statuses = Vec::new();
        while let Some(u) = rx.recv().await {
            statuses.push(u.status);
        }
        let steps = std::fs::read_to_string(dir.join("steps.log")).unwrap_or_default();
        (result, statuses, steps)
    }

    #[tokio::test]
    async fn a_node_is_drained_upgraded_and_confirmed_healthy_or_rolled_back() {
        let dir = scratch("roll");
        // Healthy: every step once, in order.
        let r = rollout(&dir, &["true"], 60, 2000);
        let started = Instant::now();
        let (result, statuses, steps) = roll(&r, RollFrom::Drain, &dir).await;
        assert!(result.is_ok());
        assert!(
            started.elapsed() >= Duration::from_millis(60),
            "min_healthy is waited for"
        );
        assert_eq!(
            statuses,
            [
                NodeStatus::Drained,
                NodeStatus::Installed,
                NodeStatus::Upgraded
            ]
        );
        assert_eq!(steps, "drain\nupgrade 2\n");

        // Resumed after the upgrade: health only.
        std::fs::remove_file(dir.join("steps.log")).unwrap();
        let (result, statuses, steps) = roll(&r, RollFrom::Health, &dir).await;
        assert!(result.is_ok());
        assert_eq!(statuses, [NodeStatus::Upgraded]);
        assert_eq!(steps, "");

        // Unhealthy on the new release only: rolled back, healthy on the old.
        let r = rollout(
            &dir,
            &[
                "sh",
                "-c",
                "test \"$ZERODOWN_RELEASE\" = 1 || { echo sick; exit 1; }",
            ],
            0,
            200,
        );
        let (result, statuses, steps) = roll(&r, RollFrom::Drain, &dir).await;
        let err = result.unwrap_err();
        assert!(matches!(err, NodeError::RolledBack { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("health failed: not healthy within the 200ms health deadline")
                && text.contains("sick")
                && text.contains("rolled back to 1"),
            "{text}"
        );
        assert_eq!(
            statuses,
            [
                NodeStatus::Drained,
                NodeStatus::Installed,
                NodeStatus::RollingBack,
                NodeStatus::RolledBack
            ]
        );
        assert_eq!(steps, "drain\nupgrade 2\nrollback 1\n");

        // Unhealthy everywhere: the rollback cannot help either.
        std::fs::remove_file(dir.join("steps.log")).unwrap();
        let r = rollout(&dir, &["false"], 0, 100);
        let (result, statuses, _) = roll(&r, RollFrom::Upgrade, &dir).await;
        assert!(matches!(result, Err(NodeError::RollbackFailed { .. })));
        assert_eq!(statuses.last(), Some(&NodeStatus::Broken));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn health_that_flaps_never_settles() {
        let dir = scratch("flap");
        let runner = StepRunner {
            log_path: dir.join("fleet.log"),
            cwd: dir.clone(),
        };
        // Passes every other attempt: never `min_healthy` in a row.
        let flip = dir.join("flip");
        let health = vec![
            "sh".to_string(),
            "-c".to_string(),
            format!(
                "if [ -e {0} ]; then rm {0}; exit 1; else touch {0}; fi",
                flip.display()
            ),
        ];
        let policy = HealthPolicy {
            interval: Duration::from_millis(10),
            min_healthy: Duration::from_millis(50),
            deadline: Duration::from_millis(300),
            attempt_timeout: Duration::from_secs(1),
        };
        let vars = StepVars::node("n1", "g", "2", "1");
        let err = runner
            .wait_healthy("n1", &health, &vars, &policy)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StepError::Deadline { .. } | StepError::NotSettled { .. }
            ),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn steps_time_out_fail_with_a_tail_and_log_everything() {
        let dir = scratch("steps");
        let runner = StepRunner {
            log_path: dir.join("fleet.log"),
            cwd: std::env::temp_dir(),
        };
        let vars = StepVars::node("n1", "g", "2", "1");
        runner
            .run(
                "ok",
                "n1",
                &["sh".into(), "-c".into(), "echo hello $ZERODOWN_NODE".into()],
                &vars,
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        let err = runner
            .run(
                "fail",
                "n1",
                &["sh".into(), "-c".into(), "echo boom; exit 3".into()],
                &vars,
                Duration::from_secs(5),
            )
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("code 3") && err.to_string().contains("boom"),
            "{err}"
        );
        let err = runner
            .run(
                "slow",
                "n1",
                &["sleep".into(), "5".into()],
                &vars,
                Duration::from_millis(200),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StepError::Timeout { .. }));
        assert!(err.to_string().contains("within 200ms"), "{err}");
        let log = std::fs::read_to_string(&runner.log_path).unwrap();
        assert!(log.contains("hello n1") && log.contains("boom") && log.contains("timed out"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
