//! Rolling application nodes: the user's commands, run as argv with
//! placeholders substituted per argument (never through a shell), each with
//! a timeout, their output appended to the run's log.
//!
//! Per node: drain → upgrade → health (retried at an interval until it has
//! passed for a minimum time, or the deadline expires). When upgrade or
//! health fails: rollback, check health on the old release, and fail the
//! task; the run halts before contract.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::graph::Rollout;

/// How health is judged after an upgrade.
#[derive(Clone, Debug)]
pub struct HealthPolicy {
    /// Pause between health attempts.
    pub interval: Duration,
    /// Health must pass continuously for this long.
    pub min_healthy: Duration,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            interval: Duration::from_millis(500),
            min_healthy: Duration::from_secs(1),
        }
    }
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
    #[error("`{argv}` did not finish within {timeout:?} and was killed{tail}")]
    Timeout {
        argv: String,
        timeout: Duration,
        tail: String,
    },
}

/// The values a step's placeholders take for one node.
#[derive(Clone, Debug)]
pub struct NodeContext<'a> {
    pub node: &'a str,
    pub group: &'a str,
    pub release: &'a str,
    pub from_release: &'a str,
}

impl NodeContext<'_> {
    /// Substitute `{node}`, `{release}`, `{from_release}`, `{group}` within
    /// each argument: values stay single arguments whatever they contain.
    pub fn argv(&self, template: &[String]) -> Vec<String> {
        template
            .iter()
            .map(|a| {
                a.replace("{node}", self.node)
                    .replace("{release}", self.release)
                    .replace("{from_release}", self.from_release)
                    .replace("{group}", self.group)
            })
            .collect()
    }

    fn env(&self) -> [(&'static str, &str); 4] {
        [
            ("ZERODOWN_NODE", self.node),
            ("ZERODOWN_RELEASE", self.release),
            ("ZERODOWN_FROM_RELEASE", self.from_release),
            ("ZERODOWN_GROUP", self.group),
        ]
    }
}

/// Runs steps and keeps their output in one log file.
#[derive(Clone, Debug)]
pub struct StepRunner {
    pub log_path: PathBuf,
    /// Working directory of the commands (the plan directory's parent, so
    /// `./deploy/…` paths resolve as the plan author wrote them).
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
    /// Run one step; its stdout and stderr go to the log.
    pub async fn run(
        &self,
        step: &str,
        template: &[String],
        ctx: &NodeContext<'_>,
        timeout: Duration,
    ) -> Result<(), StepError> {
        let argv = ctx.argv(template);
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
            .kill_on_drop(true);
        for (k, v) in ctx.env() {
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
            ctx.node,
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
        node: &str,
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
        let header = format!(
            "--- {} {node} {step}: {argv} ({} ms, {})\n",
            crate::exec::state::now(),
            elapsed.as_millis(),
            status.unwrap_or("timed out")
        );
        let _ = f.write_all(header.as_bytes()).await;
        let _ = f.write_all(output).await;
        if !output.ends_with(b"\n") && !output.is_empty() {
            let _ = f.write_all(b"\n").await;
        }
    }

    /// Health, retried until it has passed for `min_healthy` or `deadline`
    /// is over.
    pub async fn wait_healthy(
        &self,
        template: &[String],
        ctx: &NodeContext<'_>,
        step_timeout: Duration,
        deadline: Duration,
        policy: &HealthPolicy,
    ) -> Result<(), StepError> {
        let start = Instant::now();
        let mut healthy_since: Option<Instant> = None;
        loop {
            let attempt = self.run("health", template, ctx, step_timeout).await;
            match attempt {
                Ok(()) => {
                    let since = *healthy_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= policy.min_healthy {
                        return Ok(());
                    }
                }
                Err(e) => {
                    healthy_since = None;
                    if start.elapsed() >= deadline {
                        return Err(e);
                    }
                }
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// Being rolled (drained, upgraded, checked).
    Rolling,
    /// On the new release and healthy.
    Upgraded,
    /// Upgrade or health failed; rolled back to the old release.
    RolledBack,
    /// Rollback failed too: needs a human.
    Broken,
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

/// Roll one node; the caller records the node's state around it.
pub async fn roll_node(
    runner: &StepRunner,
    r: &Rollout,
    node: &str,
    policy: &HealthPolicy,
) -> Result<(), NodeError> {
    let new = NodeContext {
        node,
        group: &r.group,
        release: &r.to_release,
        from_release: &r.from_release,
    };
    let attempt = async {
        if !r.drain.is_empty() {
            runner
                .run("drain", &r.drain, &new, r.timeout)
                .await
                .map_err(|e| ("drain", e))?;
        }
        runner
            .run("upgrade", &r.upgrade, &new, r.timeout)
            .await
            .map_err(|e| ("upgrade", e))?;
        runner
            .wait_healthy(&r.health, &new, r.timeout, r.timeout, policy)
            .await
            .map_err(|e| ("health", e))
    }
    .await;
    let Err((step, source)) = attempt else {
        return Ok(());
    };
    // Back to the old release: `{release}` is the old one for rollback.
    let old = NodeContext {
        node,
        group: &r.group,
        release: &r.from_release,
        from_release: &r.from_release,
    };
    let back = async {
        if !r.rollback.is_empty() {
            runner.run("rollback", &r.rollback, &old, r.timeout).await?;
        }
        runner
            .wait_healthy(&r.health, &old, r.timeout, r.timeout, policy)
            .await
    }
    .await;
    match back {
        Ok(()) => Err(NodeError::RolledBack {
            node: node.to_string(),
            step: step.to_string(),
            from: r.from_release.clone(),
            source,
        }),
        Err(e) => Err(NodeError::RollbackFailed {
            node: node.to_string(),
            step: step.to_string(),
            source,
            rollback: e.to_string(),
        }),
    }
}

/// Pre-flight: every node must be healthy before anything changes. Returns
/// the failing nodes with why.
pub async fn preflight(runner: &StepRunner, rollouts: &[&Rollout]) -> BTreeMap<String, String> {
    let mut failing = BTreeMap::new();
    for r in rollouts {
        for node in &r.nodes {
            let ctx = NodeContext {
                node,
                group: &r.group,
                release: &r.from_release,
                from_release: &r.from_release,
            };
            if let Err(e) = runner
                .run("preflight-health", &r.health, &ctx, r.timeout)
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

    #[test]
    fn placeholders_stay_inside_their_argument() {
        let ctx = NodeContext {
            node: "api-1; rm -rf /",
            group: "api",
            release: "1.5",
            from_release: "1.4",
        };
        let argv = ctx.argv(&[
            "./up.sh".into(),
            "{node}".into(),
            "--to={release}".into(),
            "{from_release}".into(),
        ]);
        assert_eq!(argv, vec!["./up.sh", "api-1; rm -rf /", "--to=1.5", "1.4"]);
    }

    #[tokio::test]
    async fn steps_time_out_fail_with_a_tail_and_log_everything() {
        let dir = std::env::temp_dir().join(format!("zd-fleet-{}", std::process::id()));
        let runner = StepRunner {
            log_path: dir.join("fleet.log"),
            cwd: std::env::temp_dir(),
        };
        let ctx = NodeContext {
            node: "n1",
            group: "g",
            release: "2",
            from_release: "1",
        };
        runner
            .run(
                "ok",
                &["sh".into(), "-c".into(), "echo hello $ZERODOWN_NODE".into()],
                &ctx,
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        let err = runner
            .run(
                "fail",
                &["sh".into(), "-c".into(), "echo boom; exit 3".into()],
                &ctx,
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
                &["sleep".into(), "5".into()],
                &ctx,
                Duration::from_millis(200),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StepError::Timeout { .. }));
        let log = std::fs::read_to_string(&runner.log_path).unwrap();
        assert!(log.contains("hello n1") && log.contains("boom") && log.contains("timed out"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
