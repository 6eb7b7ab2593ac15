//! Turns the executor's events into what an operator watches: a line per
//! task and a progress bar (rows, rows/s, ETA) per backfill.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::exec::{Event, Observer, Throttle};

/// Prints task lines to stdout and draws backfill bars on stderr (hidden
/// when stderr is not a terminal).
pub struct Console {
    bars: HashMap<String, ProgressBar>,
    last_line: Option<Instant>,
}

impl Console {
    pub fn new() -> Self {
        Console {
            bars: HashMap::new(),
            last_line: None,
        }
    }

    fn line(&self, text: String) {
        let write = || {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        };
        match self.bars.values().next() {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}

impl Default for Console {
    fn default() -> Self {
        Self::new()
    }
}

fn secs(d: Duration) -> String {
    if d.as_secs_f64() < 1.0 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

impl Observer for Console {
    fn event(&mut self, event: Event) {
        match event {
            Event::RunLockWait { holder, wait } => self.line(format!(
                "  run lock held by {}: waiting up to {} for it to be released (a killed run's session keeps it until the server notices)",
                holder.as_deref().unwrap_or("another session"),
                secs(wait)
            )),
            Event::RunLockTaken { waited } => {
                self.line(format!("  run lock taken after {}", secs(waited)))
            }
            Event::TaskStarted { id, summary } => self.line(format!("  … {id}: {summary}")),
            Event::TaskAlreadyDone { id } => self.line(format!("  ✓ {id} (already applied)")),
            Event::TaskDone {
                id,
                elapsed,
                attempts,
            } => {
                if let Some(bar) = self.bars.remove(&id) {
                    bar.finish_and_clear();
                }
                let retries = if attempts > 1 {
                    format!(", {attempts} attempts (lock timeouts)")
                } else {
                    String::new()
                };
                self.line(format!("  ✓ {id} ({}{retries})", secs(elapsed)));
            }
            Event::TaskFailed { id, error } => {
                if let Some(bar) = self.bars.remove(&id) {
                    bar.abandon();
                }
                self.line(format!("  ✗ {id}: {error}"));
            }
            Event::BackfillStarted {
                id,
                table,
                estimate,
                resumed_rows,
            } => {
                let bar = ProgressBar::with_draw_target(estimate, ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template(
                        "    {msg} [{bar:30}] {human_pos}/{human_len} rows, {per_sec}, ETA {eta}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_message(table);
                bar.set_position(resumed_rows);
                if resumed_rows > 0 {
                    self.line(format!("    resuming after {resumed_rows} rows"));
                }
                self.bars.insert(id, bar);
            }
            Event::BackfillProgress {
                id,
                rows,
                estimate,
                rows_per_sec,
            } => {
                if let Some(bar) = self.bars.get(&id) {
                    if let Some(e) = estimate {
                        bar.set_length(e.max(rows));
                    }
                    bar.set_position(rows);
                    if !bar.is_hidden() {
                        return;
                    }
                }
                // No terminal: a line every so often instead of a bar.
                let eta = match (estimate, rows_per_sec > 0.0) {
                    (Some(e), true) if e > rows => format!(
                        ", ETA {}",
                        secs(Duration::from_secs_f64((e - rows) as f64 / rows_per_sec))
                    ),
                    _ => String::new(),
                };
                let due = self
                    .last_line
                    .is_none_or(|t| t.elapsed() >= Duration::from_secs(2));
                if rows_per_sec > 0.0 && due {
                    self.last_line = Some(Instant::now());
                    self.line(format!(
                        "    {id}: {rows} rows, {rows_per_sec:.0} rows/s{eta}"
                    ));
                }
            }
            Event::Throttled { id, why } => self.line(match why {
                Throttle::ReplicaLag(lag) => format!("    {id}: paused, replica lag {}", secs(lag)),
                Throttle::Running(n) => {
                    format!("    {id}: paused, {n} statements running on the server")
                }
            }),
            Event::ThrottleEnded { id, paused } => {
                self.line(format!("    {id}: resumed after {}", secs(paused)))
            }
            Event::PointReached { point } => self.line(format!("── schema at {point} ──")),
            Event::NodeRolling {
                group,
                node,
                from,
                to,
            } => self.line(format!("    {group}/{node}: {from} → {to}")),
            Event::NodeInstalled {
                group,
                node,
                release,
            } => self.line(format!(
                "    {group}/{node}: {release} installed, checking health"
            )),
            Event::NodeUpgraded {
                group,
                node,
                release,
            } => self.line(format!("    {group}/{node}: on {release}, healthy")),
            Event::NodeRollingBack {
                group,
                node,
                to,
                error,
            } => self.line(format!("    {group}/{node}: {error}; rolling back to {to}")),
            Event::NodeRolledBack {
                group,
                node,
                release,
            } => self.line(format!("    {group}/{node}: back on {release}, healthy")),
            Event::NodeFailed { group, node, error } => self.line(format!(
                "    {group}/{node}: FAILED, needs a human: {error}"
            )),
            Event::GroupProgress {
                group,
                upgraded,
                total,
                release,
            } => self.line(format!("    {group}: {upgraded}/{total} on {release}")),
            Event::HookOnHalt { id, error: None } => self.line(format!(
                "  ✓ {id} (run because the run halts during the rollout)"
            )),
            Event::HookOnHalt {
                id,
                error: Some(error),
            } => self.line(format!(
                "  ✗ {id} (run because the run halts during the rollout): {error}"
            )),
            Event::Paused { path } => self.line(format!("    paused: waiting while {path} exists")),
        }
    }
}
