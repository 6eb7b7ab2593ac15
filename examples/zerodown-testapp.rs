//! A stand-in application node for zerodown's fleet tests and demo.
//!
//! `zerodown-testapp serve` runs one node of one release against a real
//! PostgreSQL database: every `--interval` it runs its release's queries on
//! `users` (release 1 uses `users.name`, release 2 `users.full_name`) and
//! appends one line per batch to its log, with the count of queries that
//! worked and failed. It serves `GET /health` over HTTP on a loopback port:
//! 200 while its last batch worked, 503 otherwise, or while the marker file
//! `DIR/NODE.unhealthy@RELEASE` exists (tests make a release sick that
//! way). SIGTERM drains it: health turns 503, it logs `down` and exits.
//!
//! Files, all in `--dir`: `NODE.log` (the log, appended by every process of
//! the node), `NODE.port` (the port of the running process).
//!
//! Log lines: `<unix ms> node=<node> release=<release> event=<event> …`,
//! with events `up` (first batch that worked: serving), `batch ok=N
//! errors=N [error="…"]`, and `down` (drained, or the database went away).
//!
//! `zerodown-testapp health --dir DIR --node NODE` asks the running node
//! and exits 0 when it answers 200.
//!
//! An example, not one of the package's binaries, so that `cargo install`
//! leaves it out: `cargo test` builds it into `target/<profile>/examples/`
//! (tests/fleet.rs builds it there itself when run alone), and
//! `cargo run --example zerodown-testapp -- serve …` runs it by hand.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "zerodown-testapp",
    about = "A test node for zerodown's fleet rollouts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node until SIGTERM.
    Serve {
        #[arg(long)]
        node: String,
        /// `1` (uses users.name) or `2` (uses users.full_name).
        #[arg(long)]
        release: String,
        /// postgres://… (no TLS: loopback only).
        #[arg(long, env = "ZERODOWN_TESTAPP_DATABASE")]
        database: String,
        /// Where the node's log and port files live.
        #[arg(long)]
        dir: PathBuf,
        /// Pause between query batches.
        #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
        interval: Duration,
    },
    /// Ask a running node's health endpoint; exit 0 when healthy.
    Health {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        node: String,
    },
}

/// The column each release reads and writes.
fn column_of(release: &str) -> Option<&'static str> {
    match release {
        "1" => Some("name"),
        "2" => Some("full_name"),
        _ => None,
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

struct Log {
    path: PathBuf,
    prefix: String,
}

impl Log {
    /// Append one line; one write, so processes sharing the file never
    /// interleave within a line.
    fn line(&self, event: &str) {
        let text = format!("{} {} event={event}\n", now_ms(), self.prefix);
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            let _ = f.write_all(text.as_bytes());
        }
    }
}

/// What the health endpoint answers from.
struct Health {
    last_batch_ok: AtomicBool,
    stopping: AtomicBool,
    marker: PathBuf,
}

impl Health {
    fn verdict(&self) -> Result<(), &'static str> {
        if self.stopping.load(Ordering::SeqCst) {
            Err("draining")
        } else if self.marker.exists() {
            Err("marked unhealthy")
        } else if !self.last_batch_ok.load(Ordering::SeqCst) {
            Err("last query batch failed")
        } else {
            Ok(())
        }
    }
}

fn respond(mut stream: TcpStream, health: &Health, release: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut request = String::new();
    if BufReader::new(&stream).read_line(&mut request).is_err() {
        return;
    }
    let path = request.split_whitespace().nth(1).unwrap_or("");
    let (status, body) = match (path, health.verdict()) {
        ("/health", Ok(())) => ("200 OK", format!("ok release={release}\n")),
        ("/health", Err(why)) => ("503 Service Unavailable", format!("{why}\n")),
        _ => ("404 Not Found", "GET /health\n".to_string()),
    };
    let _ = write!(
        stream,
        "HTTP/1.0 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// Write `text` to `path` through a temporary file, so readers never see
/// half of it.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// One batch of the release's queries; returns (ok, errors, first error).
async fn batch(
    client: &tokio_postgres::Client,
    column: &str,
    node: &str,
    n: u64,
) -> (u32, u32, Option<String>) {
    let mut ok = 0;
    let mut errors = Vec::new();
    let mut count = |result: Result<(), String>| match result {
        Ok(()) => ok += 1,
        Err(e) => errors.push(e),
    };
    let value = format!("{node} #{n}");
    let insert = format!("INSERT INTO users ({column}, email) VALUES ($1, $2) RETURNING id");
    let id: Option<i64> = match client
        .query_one(&insert, &[&value, &format!("{node}-{n}@example.test")])
        .await
    {
        Ok(row) => {
            count(Ok(()));
            Some(row.get(0))
        }
        Err(e) => {
            count(Err(format!("insert: {e}")));
            None
        }
    };
    if let Some(id) = id {
        let read = format!("SELECT {column} FROM users WHERE id = $1");
        count(match client.query_one(&read, &[&id]).await {
            Ok(row) => match row.get::<_, Option<String>>(0) {
                Some(v) if v == value => Ok(()),
                other => Err(format!("read back {other:?}, wrote {value:?}")),
            },
            Err(e) => Err(format!("read: {e}")),
        });
        let update = format!("UPDATE users SET {column} = $1 WHERE id = $2");
        count(
            client
                .execute(&update, &[&format!("{value}!"), &id])
                .await
                .map(drop)
                .map_err(|e| format!("update: {e}")),
        );
    }
    // Every row must have a value in this release's column: rows written
    // by the other release and rows from before the upgrade included.
    let missing = format!("SELECT count(*) FROM users WHERE {column} IS NULL");
    count(match client.query_one(&missing, &[]).await {
        Ok(row) => match row.get::<_, i64>(0) {
            0 => Ok(()),
            n => Err(format!("{n} row(s) have no {column}")),
        },
        Err(e) => Err(format!("count: {e}")),
    });
    let first = errors.first().cloned();
    (ok, errors.len() as u32, first)
}

async fn serve(
    node: String,
    release: String,
    database: String,
    dir: PathBuf,
    interval: Duration,
) -> Result<(), String> {
    let column = column_of(&release)
        .ok_or_else(|| format!("unknown release {release}: this app knows releases 1 and 2"))?;
    let log = Log {
        path: dir.join(format!("{node}.log")),
        prefix: format!("node={node} release={release}"),
    };
    let health = Arc::new(Health {
        last_batch_ok: AtomicBool::new(false),
        stopping: AtomicBool::new(false),
        marker: dir.join(format!("{node}.unhealthy@{release}")),
    });
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    {
        let health = Arc::clone(&health);
        let release = release.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                respond(stream, &health, &release);
            }
        });
    }
    write_atomically(&dir.join(format!("{node}.port")), &format!("{port}\n"))
        .map_err(|e| format!("write the port file: {e}"))?;

    let (client, connection) = tokio_postgres::connect(&database, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    tokio::spawn(connection);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    let mut up = false;
    for n in 0.. {
        let (ok, errors, first) = batch(&client, column, &node, n).await;
        let error = first
            .map(|e| format!(" error=\"{}\"", e.replace(['"', '\n'], "'")))
            .unwrap_or_default();
        log.line(&format!("batch ok={ok} errors={errors}{error}"));
        health.last_batch_ok.store(errors == 0, Ordering::SeqCst);
        if errors == 0 && !up {
            up = true;
            log.line(&format!("up port={port}"));
        }
        // The test's scratch folder or database is gone: nobody needs
        // this node any more.
        if client.is_closed() || !dir.exists() {
            log.line("down reason=gone");
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = term.recv() => {
                health.stopping.store(true, Ordering::SeqCst);
                log.line("down reason=sigterm");
                return Ok(());
            }
        }
    }
    Ok(())
}

fn health(dir: &Path, node: &str) -> Result<String, String> {
    let port_file = dir.join(format!("{node}.port"));
    let port: u16 = std::fs::read_to_string(&port_file)
        .map_err(|e| format!("{}: {e} (node not started?)", port_file.display()))?
        .trim()
        .parse()
        .map_err(|e| format!("{}: {e}", port_file.display()))?;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("{addr}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .map_err(|e| format!("{addr}: {e}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| format!("{addr}: {e}"))?;
    let status = response.lines().next().unwrap_or("");
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").trim();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(body.to_string())
    } else {
        Err(format!("{node}: {status}: {body}"))
    }
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Serve {
            node,
            release,
            database,
            dir,
            interval,
        } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|rt| rt.block_on(serve(node, release, database, dir, interval)))
            .map(|()| String::new()),
        Command::Health { dir, node } => health(&dir, &node),
    };
    match result {
        Ok(text) => {
            if !text.is_empty() {
                println!("{text}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zerodown-testapp: {e}");
            ExitCode::FAILURE
        }
    }
}
