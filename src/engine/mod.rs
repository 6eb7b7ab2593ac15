//! The engine boundary: a narrow trait the executor drives, one module per
//! database. These modules are the only place a database driver is named.
//!
//! The executor's algorithm is written once (`crate::exec`) against
//! [`Engine`]; an engine only knows how to run a step, read the catalog,
//! walk a batch, hold the run lock and keep the history table.
//!
//! Writing methods take a [`RunLock`]: a value only an engine can make, by
//! taking the database-side run lock (`pg_try_advisory_lock`, `GET_LOCK`, a
//! `flock` on a side file of the SQLite database). Database writes without
//! the lock do not compile.

mod attempt;
pub mod mysql;
pub mod postgres;
pub mod sqlite;
mod url;

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use url::{DatabaseUrl, UrlError};

use crate::dialect::EngineKind;
use crate::ops::{BackfillStep, Effect, RebuildStep, SqlStep};
use crate::schema::Schema;

/// Proof that this process holds the database's run lock. Only engines can
/// make one (the field is private to this module tree).
#[derive(Debug)]
pub struct RunLock {
    pub(in crate::engine) _held: (),
}

/// Which database a state file belongs to: a run cannot be resumed
/// against another one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseIdentity {
    pub engine: EngineKind,
    /// Stable identifier of the server or file (PostgreSQL's
    /// `system_identifier`, MySQL's `server_uuid`, SQLite's path).
    pub server: String,
    /// The database (or schema) name.
    pub database: String,
}

impl fmt::Display for DatabaseIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} database {} on {}",
            self.engine, self.database, self.server
        )
    }
}

/// A value of a primary-key column: where a backfill stands. In the state
/// file an integer is a JSON number, text a JSON string and bytes an object
/// `{"hex": "…"}`: each reads back as the variant it was written as (state
/// files written before bytes existed hold only numbers and strings).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeyValue {
    Int(i64),
    Text(String),
    /// A binary key (MySQL BINARY/VARBINARY, PostgreSQL bytea, a SQLite
    /// blob), byte for byte.
    Bytes(#[serde(with = "hex_bytes")] Vec<u8>),
}

impl fmt::Display for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyValue::Int(i) => write!(f, "{i}"),
            KeyValue::Text(s) => write!(f, "{s}"),
            KeyValue::Bytes(b) => write!(f, "0x{}", hex_bytes::encode(b)),
        }
    }
}

/// Bytes as `{"hex": "0a1b…"}` (lower-case hex; upper case reads too).
mod hex_bytes {
    use serde::{de::Error as _, Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Hex {
        hex: String,
    }

    pub fn encode(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn decode(hex: &str) -> Option<Vec<u8>> {
        if !hex.len().is_multiple_of(2) || !hex.is_ascii() {
            return None;
        }
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect()
    }

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        Hex { hex: encode(bytes) }.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let Hex { hex } = Hex::deserialize(d)?;
        decode(&hex).ok_or_else(|| D::Error::custom(format!("`{hex}` is not hexadecimal bytes")))
    }
}

/// One committed backfill batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Rows the batch updated.
    pub rows: u64,
    /// The key the batch ended at (inclusive): the next batch starts after
    /// it. `None`: that was the last batch.
    pub upper: Option<Vec<KeyValue>>,
}

/// How a run waits for locks: DDL never long, retried with backoff; the
/// run lock a bounded while, for the session of a run that is going away.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LockPolicy {
    /// Longest wait for the run lock when another session holds it
    /// (`--lock-wait`): the session of a killed run keeps it until its
    /// server notices the dead connection, tens of milliseconds later.
    pub run_lock_wait: Duration,
    /// Longest wait for a lock per attempt (`lock_timeout`,
    /// `lock_wait_timeout`).
    pub lock_timeout: Duration,
    /// Longest wait of a statement that takes no lock blocking reads or
    /// writes (PostgreSQL's CREATE/DROP INDEX CONCURRENTLY): it may wait for
    /// every older transaction, which traffic does not feel, so a short
    /// timeout would only throw finished builds away.
    pub concurrent_lock_timeout: Duration,
    /// Attempts before giving up.
    pub max_attempts: u32,
    /// First pause between attempts; doubled each time, with jitter.
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for LockPolicy {
    fn default() -> Self {
        LockPolicy {
            run_lock_wait: Duration::from_secs(5),
            lock_timeout: Duration::from_millis(200),
            concurrent_lock_timeout: Duration::from_secs(300),
            max_attempts: 30,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl LockPolicy {
    /// The pause before attempt `n` (1-based retry count), with up to 50%
    /// jitter from `seed` so concurrent runs do not retry in step.
    pub fn pause(&self, n: u32, seed: u64) -> Duration {
        let exp = self
            .backoff
            .saturating_mul(1u32 << n.min(16).saturating_sub(1));
        let base = exp.min(self.max_backoff);
        let jitter = (seed % 1000) as f64 / 1000.0 * 0.5;
        base.mul_f64(1.0 + jitter).min(self.max_backoff)
    }
}

/// The status of a task, in the state file and the history table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Pending,
    Running,
    Done,
    Failed,
    /// Undone by `abort`.
    Undone,
}

impl TaskStatus {
    pub fn name(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Running => "running",
            TaskStatus::Done => "done",
            TaskStatus::Failed => "failed",
            TaskStatus::Undone => "undone",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(TaskStatus::Pending),
            "running" => Some(TaskStatus::Running),
            "done" => Some(TaskStatus::Done),
            "failed" => Some(TaskStatus::Failed),
            "undone" => Some(TaskStatus::Undone),
            _ => None,
        }
    }
}

/// One row of zerodown's history table: where a task of a plan stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRecord {
    pub version: u32,
    pub plan_hash: String,
    /// The task's stage (`expand`, `migrate`, `rollout`, `gate`, `contract`).
    pub phase: String,
    pub task_id: String,
    pub status: TaskStatus,
    /// RFC 3339, UTC.
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub error: Option<String>,
}

/// What went wrong in the database, with the statement concerned. Messages
/// never contain a password: URLs are shown redacted.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("another zerodown run holds the lock on this database{}", holder.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    LockHeld { holder: Option<String> },
    #[error("gave up after {attempts} attempts: each waited {timeout_ms} ms for a lock held by other sessions while running: {statement}")]
    LockTimeout {
        statement: String,
        attempts: u32,
        timeout_ms: u128,
    },
    #[error("{message}\n  while running: {statement}")]
    Sql { statement: String, message: String },
    #[error("{0}")]
    Unsupported(String),
}

/// What the executor asks of a database. See the module comment for the
/// lock discipline.
#[allow(async_fn_in_trait)] // the executor drives one engine on one task: no Send bound needed
pub trait Engine {
    fn kind(&self) -> EngineKind;

    /// The database's identity, recorded in the state file.
    async fn identity(&mut self) -> Result<DatabaseIdentity, EngineError>;

    /// Take the run lock at once, or fail with `LockHeld` naming the holder
    /// as far as the server tells. One attempt: `exec::session` tries again
    /// until `LockPolicy::run_lock_wait` runs out, then refuses (a second
    /// run is never queued behind a live one).
    async fn try_lock(&mut self) -> Result<RunLock, EngineError>;

    /// Release the run lock.
    async fn unlock(&mut self, lock: RunLock) -> Result<(), EngineError>;

    /// Every row of the history table (empty when it does not exist yet).
    async fn history(&mut self) -> Result<Vec<HistoryRecord>, EngineError>;

    /// Insert or update a task's row (creates the table on first use).
    async fn record(&mut self, lock: &RunLock, record: &HistoryRecord) -> Result<(), EngineError>;

    /// The schema model of the live database, read-only.
    async fn introspect(&mut self) -> Result<Schema, EngineError>;

    /// Whether the catalog shows the effect (an index that exists but is
    /// INVALID does not count: it is dropped and rebuilt by `execute`).
    async fn effect_present(&mut self, effect: &Effect) -> Result<bool, EngineError>;

    /// Run a step's statements with the lock policy: a short lock timeout,
    /// retried with backoff. Returns the number of attempts it took.
    async fn execute(
        &mut self,
        lock: &RunLock,
        step: &SqlStep,
        policy: &LockPolicy,
    ) -> Result<u32, EngineError>;

    /// Rebuild a table as the step says, from its live definition, in one
    /// transaction (SQLite's procedure for what `ALTER TABLE` cannot do).
    /// Returns the number of attempts it took. Engines that alter tables in
    /// place never get such a step.
    async fn rebuild(
        &mut self,
        lock: &RunLock,
        step: &RebuildStep,
        policy: &LockPolicy,
    ) -> Result<u32, EngineError>;

    /// Run a query returning one integer (counts of gates and checks).
    async fn count(&mut self, sql: &str) -> Result<i64, EngineError>;

    /// Run a query and return its rows as text (sample keys for a report).
    async fn sample(&mut self, sql: &str) -> Result<Vec<Vec<String>>, EngineError>;

    /// Run one backfill batch after `lower` (from the start when `None`),
    /// in its own transaction.
    async fn backfill_batch(
        &mut self,
        lock: &RunLock,
        step: &BackfillStep,
        lower: Option<&[KeyValue]>,
        policy: &LockPolicy,
    ) -> Result<BatchOutcome, EngineError>;

    /// The catalog's row estimate of a table (for progress and ETA).
    async fn estimate_rows(&mut self, table: &str) -> Result<Option<u64>, EngineError>;

    /// How far the slowest replica lags behind, when there are replicas.
    async fn replica_lag(&mut self) -> Result<Option<Duration>, EngineError>;

    /// Statements running on the server right now, this session's own
    /// included (a load signal, like gh-ost's `--max-load
    /// Threads_running=N`); `None` where there is no server to ask.
    async fn running_statements(&mut self) -> Result<Option<u64>, EngineError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_read_back_as_written_and_old_checkpoints_still_read() {
        let key = vec![
            KeyValue::Int(-7),
            KeyValue::Text("0a1b".into()),
            KeyValue::Bytes(vec![0x00, 0xff, 0x0a, 0x1b]),
            KeyValue::Bytes(Vec::new()),
        ];
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(json, r#"[-7,"0a1b",{"hex":"00ff0a1b"},{"hex":""}]"#);
        assert_eq!(serde_json::from_str::<Vec<KeyValue>>(&json).unwrap(), key);
        // A state file from before binary keys.
        assert_eq!(
            serde_json::from_str::<Vec<KeyValue>>(r#"[42,"x"]"#).unwrap(),
            [KeyValue::Int(42), KeyValue::Text("x".into())]
        );
        assert_eq!(
            serde_json::from_str::<KeyValue>(r#"{"hex":"ABcd"}"#).unwrap(),
            KeyValue::Bytes(vec![0xab, 0xcd])
        );
        for bad in [
            r#"{"hex":"abc"}"#,
            r#"{"hex":"zz"}"#,
            r#"{"hex":"ab","x":1}"#,
            "1.5",
        ] {
            assert!(serde_json::from_str::<KeyValue>(bad).is_err(), "{bad}");
        }
        assert_eq!(KeyValue::Bytes(vec![1, 254]).to_string(), "0x01fe");
        // Bytes order as the engines order binary strings.
        assert!(KeyValue::Bytes(vec![1]) < KeyValue::Bytes(vec![1, 0]));
        assert!(KeyValue::Bytes(vec![1, 0xff]) < KeyValue::Bytes(vec![2]));
    }
}
