//! The state file: where a run stands, written atomically at every task
//! transition and every committed backfill batch, so `resume` can finish a
//! run that failed or was killed.
//!
//! It holds the plans' hashes (a changed plan is refused), the database's
//! identity (it cannot be resumed against another database), the schema the
//! run started from, task states and backfill checkpoints. It holds no URL
//! and no secret.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::{DatabaseIdentity, KeyValue, TaskStatus};
use crate::schema::Schema;

/// The state file's format version.
pub const STATE_FORMAT: u32 = 1;

/// The default state file, relative to the working directory.
pub const DEFAULT_STATE_PATH: &str = ".zerodown/state.json";

/// How far a run goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Until {
    Expand,
    Migrate,
    Contract,
}

impl Until {
    pub fn name(self) -> &'static str {
        match self {
            Until::Expand => "expand",
            Until::Migrate => "migrate",
            Until::Contract => "contract",
        }
    }
}

/// Where the run as a whole stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Running, or killed while running (the lock tells which).
    Running,
    /// Stopped by a signal at a safe point.
    Interrupted,
    /// A task failed.
    Failed,
    /// Reached `until` (more may remain: a later `apply --until` goes on).
    Stopped,
    /// Every task done.
    Done,
    /// Expand was undone by `abort`.
    Aborted,
}

impl RunStatus {
    /// Whether `resume` has something to finish.
    pub fn is_unfinished(self) -> bool {
        matches!(
            self,
            RunStatus::Running | RunStatus::Interrupted | RunStatus::Failed
        )
    }
}

/// A plan of the run, as it was when the run started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRef {
    pub version: u32,
    pub path: PathBuf,
    pub hash: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskState {
    pub status: TaskStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why a task was not run (its effect was already there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Where a backfill stands: the last key of the last committed batch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillCheckpoint {
    pub last_key: Option<Vec<KeyValue>>,
    pub rows: u64,
    pub batches: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateFile {
    pub format: u32,
    pub zerodown_version: String,
    /// The plan directory, as given.
    pub plan_dir: PathBuf,
    pub plans: Vec<PlanRef>,
    pub database: DatabaseIdentity,
    /// The schema model the run started from: `resume` plans against it.
    pub base_schema: Schema,
    pub until: Until,
    /// `--to VERSION`, if given.
    pub to_version: Option<u32>,
    pub status: RunStatus,
    pub tasks: BTreeMap<String, TaskState>,
    pub backfills: BTreeMap<String, BackfillCheckpoint>,
    /// Fleet nodes by name: a node already upgraded is never rolled again.
    #[serde(default)]
    pub nodes: BTreeMap<String, crate::exec::fleet::NodeState>,
    pub updated_at: String,
}

/// A problem with the state file, with its path.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read the state file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the state file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write the state file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The current time, RFC 3339 UTC.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

impl StateFile {
    /// Load the state file; `Ok(None)` when there is none.
    pub fn load(path: &Path) -> Result<Option<StateFile>, StateError> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let state: StateFile = serde_json::from_str(&text).map_err(|e| StateError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if state.format != STATE_FORMAT {
            return Err(StateError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "format {} is not {STATE_FORMAT}, written by another zerodown version",
                    state.format
                ),
            });
        }
        Ok(Some(state))
    }

    /// Write atomically: a temporary file beside it, fsync, rename over the
    /// old one, fsync the folder. A crash leaves the old or the new file,
    /// never half of one.
    pub fn save(&mut self, path: &Path) -> Result<(), StateError> {
        self.updated_at = now();
        let err = |source| StateError::Write {
            path: path.to_path_buf(),
            source,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir).map_err(err)?;
        let tmp = dir.join(format!(
            ".{}.tmp.{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("state"),
            std::process::id()
        ));
        let json = serde_json::to_vec_pretty(self).expect("the state serializes");
        let written = write_synced(&tmp, &json).and_then(|()| fs::rename(&tmp, path));
        if let Err(e) = written {
            // A full disk, a path that is a folder: leave no temporary
            // file behind (the old state file, if any, is untouched).
            let _ = fs::remove_file(&tmp);
            return Err(err(e));
        }
        File::open(&dir).and_then(|d| d.sync_all()).map_err(err)?;
        Ok(())
    }

    pub fn task_status(&self, id: &str) -> TaskStatus {
        self.tasks
            .get(id)
            .map(|t| t.status)
            .unwrap_or(TaskStatus::Pending)
    }
}

/// `bytes` and a newline in a new file at `path`, synced to disk.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    f.write_all(bytes)?;
    f.write_all(b"\n")?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::EngineKind;

    fn sample() -> StateFile {
        StateFile {
            format: STATE_FORMAT,
            zerodown_version: "test".into(),
            plan_dir: "plans/x".into(),
            plans: vec![PlanRef {
                version: 2,
                path: "plans/x/0002.yaml".into(),
                hash: "ab".into(),
            }],
            database: DatabaseIdentity {
                engine: EngineKind::Postgres,
                server: "1".into(),
                database: "db".into(),
            },
            base_schema: Schema::default(),
            until: Until::Contract,
            to_version: None,
            status: RunStatus::Running,
            tasks: BTreeMap::new(),
            backfills: BTreeMap::new(),
            nodes: BTreeMap::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn save_then_load_round_trips_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("zd-state-{}", std::process::id()));
        let path = dir.join("state.json");
        let mut s = sample();
        s.backfills.insert(
            "t".into(),
            BackfillCheckpoint {
                last_key: Some(vec![KeyValue::Int(42), KeyValue::Text("x".into())]),
                rows: 10,
                batches: 1,
            },
        );
        s.save(&path).unwrap();
        let loaded = StateFile::load(&path).unwrap().unwrap();
        assert_eq!(loaded.backfills, s.backfills);
        assert_eq!(loaded.plans, s.plans);
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name() != "state.json")
            .collect();
        assert!(leftovers.is_empty());
        fs::remove_dir_all(&dir).unwrap();
        assert!(StateFile::load(&path).unwrap().is_none());
    }

    #[test]
    fn a_failed_save_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("zd_state_fail_{}", std::process::id()));
        let path = dir.join("state.json");
        fs::create_dir_all(&path).unwrap(); // a folder where the file goes: rename fails
        assert!(sample().save(&path).is_err());
        let left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp."))
            .collect();
        fs::remove_dir_all(&dir).unwrap();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}
