//! Test harness shared by the integration tests: real servers, a fresh
//! database per test (dropped at the end), and the `zerodown` binary.
#![allow(dead_code)] // each test file uses a part of it

pub mod kill;
pub mod mysql;
pub mod oracle;
pub mod pg;
pub mod run;
pub mod sqlite;

use std::collections::BTreeMap;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// The PostgreSQL server's admin URL (`ZERODOWN_TEST_PG_URL`).
pub fn pg_admin_url() -> String {
    std::env::var("ZERODOWN_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Connect with tokio-postgres on a runtime of the caller's.
pub async fn pg_connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot connect to PostgreSQL ({e}): the server tests need it on \
                 127.0.0.1:5432, user postgres, database test, or at ZERODOWN_TEST_PG_URL; \
                 `bash .ci/run` starts it, or installs it where it is missing"
            )
        });
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// What the engine-neutral helpers need of a test database.
pub trait TestDb {
    /// The URL zerodown connects with.
    fn url(&self) -> &str;
    /// The catalog as text, one line per object: equal texts, equal schemas.
    fn describe(&self) -> String;
    /// Per table: row count and a digest of every row.
    fn checksums(&self) -> BTreeMap<String, String>;
    /// zerodown's history: (task id, status), one row per task.
    fn history(&self) -> Vec<(String, String)>;
}

/// A fresh PostgreSQL database, dropped when the value is.
pub struct PgDb {
    pub name: String,
    pub url: String,
}

pub fn with_db(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
    format!("{base}/{name}{query}")
}

impl PgDb {
    pub fn new() -> PgDb {
        let name = unique_name("zd_t");
        let admin = pg_admin_url();
        runtime().block_on(async {
            let c = pg_connect(&admin).await;
            c.batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
        });
        let url = with_db(&admin, &name);
        PgDb { name, url }
    }

    /// Run SQL (several statements allowed).
    pub fn exec(&self, sql: &str) {
        runtime().block_on(async {
            let c = pg_connect(&self.url).await;
            c.batch_execute(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        })
    }

    /// Rows as text (NULL as None), via the simple protocol.
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        runtime().block_on(async {
            let c = pg_connect(&self.url).await;
            let msgs = c
                .simple_query(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            msgs.into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => {
                        Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
                    }
                    _ => None,
                })
                .collect()
        })
    }

    /// The first column of the first row.
    pub fn scalar(&self, sql: &str) -> Option<String> {
        self.rows(sql)
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten())
    }

    /// Load a SQL file (a schema snapshot).
    pub fn load(&self, path: impl AsRef<Path>) {
        let sql = std::fs::read_to_string(path.as_ref()).expect("read SQL file");
        self.exec(&sql);
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = pg_admin_url();
        runtime().block_on(async {
            let c = pg_connect(&admin).await;
            let _ = c
                .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        });
    }
}

/// A scratch directory for a test (state files, fleet folders), removed
/// when the value is dropped.
pub struct Scratch(pub std::path::PathBuf);

impl Scratch {
    pub fn new() -> Scratch {
        let p = std::env::temp_dir().join(unique_name("zd_scratch"));
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run the zerodown binary from the repository root.
pub fn zerodown(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zerodown"));
    cmd.args(args)
        .env_remove("DATABASE_URL")
        .env_remove("ZERODOWN_FAILPOINT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run zerodown")
}

/// Leave out of `cmd`'s environment what `cargo test` sets for the test
/// process (`CARGO`, `CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, …), for a cargo
/// run from a test: build scripts track some of these (ring's does
/// `CARGO_MANIFEST_DIR`), and a cargo that inherited them would find their
/// builds dirty and rebuild them, and everything above them, there and again
/// in the next plain `cargo test`.
pub fn remove_cargo_test_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let set_by_cargo_test = key == "CARGO"
            || key == "CARGO_PRIMARY_PACKAGE"
            || key == "CARGO_TARGET_TMPDIR"
            || key == "CARGO_RUSTC_CURRENT_DIR"
            || key == "CARGO_MAKEFLAGS"
            || [
                "CARGO_MANIFEST_",
                "CARGO_PKG_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
            ]
            .iter()
            .any(|p| key.starts_with(p));
        if set_by_cargo_test {
            cmd.env_remove(key.as_ref());
        }
    }
}

pub fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}
