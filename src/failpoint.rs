//! A test-only switch (`ZERODOWN_FAILPOINT`) that kills the process at a
//! chosen point, to prove that `resume` recovers from a crash there:
//!
//! - `before:<task-id>` (marked running, nothing run);
//! - `after:<task-id>` (run and committed, not yet recorded);
//! - `batch:<task-id>:<n>` (batch n committed, checkpoint not yet saved);
//! - `node:<node>:<status>` (the node's new status, e.g. `installed`, saved
//!   in the state file);
//! - `rebuild-commit:<table>` (SQLite: a table rebuilt inside its
//!   transaction, every row copied, not yet committed).
//!
//! Every task but a milestone (which only records a point) has a `before`
//! and an `after`: SQL steps, backfills, checks and gates, node rollouts.

/// Abort the process here when `ZERODOWN_FAILPOINT` names `point`.
pub fn failpoint(point: &str) {
    if let Ok(want) = std::env::var("ZERODOWN_FAILPOINT") {
        if want == point {
            // As abrupt as SIGKILL: no destructor, no flush.
            std::process::abort();
        }
    }
}
