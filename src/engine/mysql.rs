//! MySQL 8.0.29+ and MariaDB 10.6+: the engine over mysql_async, TLS through
//! rustls (ring).
//!
//! Every catalog look-up reads `information_schema` of the current database
//! (`DATABASE()`, named in the URL) and takes names as bind parameters.
//! MySQL has no schemas inside a database, so zerodown's history table,
//! `zerodown_history`, lives beside the application's tables and is never
//! part of the introspected model.
//!
//! MySQL DDL is not transactional: every statement commits on its own. A
//! step's statements therefore run one by one on this one connection, and a
//! crash between a DDL statement and its history record is resolved by the
//! executor, which checks the statement's effect in the catalog.
//!
//! Where MySQL 8 and MariaDB differ, the server's flavour is read once at
//! connect time ([`Flavor`]) and the difference is handled where it matters
//! (identity, defaults, CHECK constraints, functional index parts, replica
//! status, cached statistics); each place says which.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, DriverError, Opts, OptsBuilder, Params, Row, SslOpts, Value};
use sha2::{Digest, Sha256};

use super::attempt::{count_of, sample_of, Attempt, Retries};
use super::{
    BatchOutcome, DatabaseIdentity, DatabaseUrl, Engine, EngineError, HistoryRecord, KeyValue,
    LockPolicy, RunLock, TaskStatus,
};
use crate::dialect::{EngineKind, KeyClass};
use crate::ops::{BackfillStep, Effect, RebuildStep, SqlStep};
use crate::schema::{Column, Constraint, ConstraintKind, Index, Schema, Table, View};

/// How long a connection attempt may take when the URL does not say
/// (`connect_timeout`, in seconds): an unreachable host fails instead of
/// hanging.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// zerodown's history table, in the application's database.
pub const HISTORY_TABLE: &str = "zerodown_history";

/// The longest task ID the history table's key holds: its primary key
/// (version, task_id) must stay within InnoDB's 3072-byte key limit at four
/// bytes a character.
const MAX_TASK_ID_CHARS: usize = 700;

/// MySQL 5.7+ refuses user-lock names longer than 64 characters.
const MAX_LOCK_NAME_CHARS: usize = 64;

/// `ER_LOCK_WAIT_TIMEOUT`: a row lock or a metadata lock was not granted
/// within `innodb_lock_wait_timeout` / `lock_wait_timeout`.
const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
/// `ER_LOCK_DEADLOCK`: InnoDB or the metadata-lock subsystem chose this
/// session as a deadlock victim; the transaction was rolled back.
const ER_LOCK_DEADLOCK: u16 = 1213;

/// Which server is on the other end: they differ in the catalog and in a
/// few variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Mysql,
    Mariadb,
}

impl Flavor {
    /// MariaDB says so in `VERSION()` (`10.11.6-MariaDB-0+deb12u1`).
    fn of_version(version: &str) -> Self {
        if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::Mariadb
        } else {
            Flavor::Mysql
        }
    }
}

/// A connection to one MySQL or MariaDB database.
pub struct Mysql {
    conn: Conn,
    flavor: Flavor,
    /// `DATABASE()` at connect time: the URL's database.
    database: String,
    /// Whether backfills may run at READ COMMITTED. Not with statement-based
    /// binary logging, which InnoDB refuses at that level (error 1665).
    read_committed: bool,
    /// Whether `zerodown_history` is known to exist on this connection.
    history_ready: bool,
}

/// The URL's `ssl-mode` (the `mysql` client's `--ssl-mode` values, case
/// insensitive; `sslmode` is read too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TlsMode {
    /// Never encrypt.
    Disabled,
    /// Encrypt when the server offers TLS (the default), without checking
    /// the certificate, as the `mysql` client does.
    Preferred,
    /// Always encrypt, without checking the certificate.
    Required,
    /// Encrypt and check the chain against the Mozilla roots (webpki-roots).
    /// mysql_async 0.37 lets a name mismatch pass by looking for
    /// `NotValidForName` in the error's text, which rustls 0.23 words
    /// `certificate not valid for name`: the host name is checked too, as
    /// with `VERIFY_IDENTITY` (stricter, never looser, than asked).
    VerifyCa,
    /// Encrypt and check the chain and the host name.
    VerifyIdentity,
}

impl TlsMode {
    fn parse(value: &str) -> Result<Self, String> {
        match value.to_ascii_uppercase().replace('-', "_").as_str() {
            "DISABLED" => Ok(TlsMode::Disabled),
            "PREFERRED" => Ok(TlsMode::Preferred),
            "REQUIRED" => Ok(TlsMode::Required),
            "VERIFY_CA" => Ok(TlsMode::VerifyCa),
            "VERIFY_IDENTITY" => Ok(TlsMode::VerifyIdentity),
            _ => Err(format!(
                "unknown ssl-mode `{value}`: use DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY"
            )),
        }
    }

    fn ssl_opts(self) -> Option<SslOpts> {
        let unchecked = SslOpts::default()
            .with_danger_accept_invalid_certs(true)
            .with_danger_skip_domain_validation(true);
        match self {
            TlsMode::Disabled => None,
            TlsMode::Preferred | TlsMode::Required => Some(unchecked),
            TlsMode::VerifyCa | TlsMode::VerifyIdentity => Some(SslOpts::default()),
        }
    }
}

/// What zerodown reads from the URL itself; the rest goes to the driver.
#[derive(Debug, PartialEq, Eq)]
struct UrlParts {
    /// A `mysql://` URL (the driver knows no `mariadb://`) without the
    /// parameters below.
    driver_url: String,
    /// `None`: the URL did not say (the driver's own `require_ssl` may).
    tls: Option<TlsMode>,
    connect_timeout: Option<Duration>,
    /// Whether the URL sets `prefer_socket` itself.
    prefer_socket: bool,
}

impl UrlParts {
    fn split(raw: &str) -> Result<Self, String> {
        let rest = raw
            .split_once("://")
            .map(|(_, rest)| rest)
            .ok_or("a MySQL URL starts with mysql:// or mariadb://")?;
        let (base, query) = match rest.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (rest, None),
        };
        let mut parts = UrlParts {
            driver_url: format!("mysql://{base}"),
            tls: None,
            connect_timeout: None,
            prefer_socket: false,
        };
        let mut kept = Vec::new();
        for param in query.into_iter().flat_map(|q| q.split('&')) {
            match param.split_once('=') {
                Some(("ssl-mode" | "sslmode" | "ssl_mode", value)) => {
                    parts.tls = Some(TlsMode::parse(value)?)
                }
                Some(("connect_timeout", value)) => {
                    let seconds: u64 = value.parse().map_err(|_| {
                        format!("connect_timeout must be a whole number of seconds, not `{value}`")
                    })?;
                    parts.connect_timeout = Some(Duration::from_secs(seconds));
                }
                other => {
                    if matches!(other, Some(("prefer_socket", _))) {
                        parts.prefer_socket = true;
                    }
                    kept.push(param);
                }
            }
        }
        if !kept.is_empty() {
            parts.driver_url = format!("{}?{}", parts.driver_url, kept.join("&"));
        }
        Ok(parts)
    }
}

/// Connect with TLS as the URL's `ssl-mode` asks (see [`TlsMode`]; the
/// driver's own `require_ssl`, `verify_ca`, `verify_identity` parameters
/// apply when `ssl-mode` is absent). The URL must name a database: every
/// catalog query reads `DATABASE()`. Connections go over TCP as the URL
/// says: the driver's switch to the local socket for a loopback address is
/// off unless `prefer_socket` is given. The session's `program_name`
/// connect attribute is `zerodown` (MySQL's `performance_schema`).
pub async fn connect(url: &DatabaseUrl) -> Result<Mysql, EngineError> {
    let shown = url.redacted();
    let fail = |message: String| EngineError::Connect {
        url: shown.clone(),
        message,
    };
    let parts = UrlParts::split(url.expose()).map_err(&fail)?;
    let opts = Opts::from_url(&parts.driver_url).map_err(|e| fail(e.to_string()))?;
    if opts.db_name().is_none() {
        return Err(fail(
            "the URL names no database: write mysql://user@host:port/DATABASE".to_string(),
        ));
    }
    let password = opts.pass().map(str::to_string);
    let mut builder = OptsBuilder::from_opts(opts.clone())
        .client_found_rows(false)
        .connect_attribute("program_name", "zerodown");
    if !parts.prefer_socket {
        builder = builder.prefer_socket(false);
    }
    let tls = match parts.tls {
        Some(mode) => mode,
        None if opts.ssl_opts().is_some() => TlsMode::Required,
        None => TlsMode::Preferred,
    };
    if parts.tls.is_some() || opts.ssl_opts().is_none() {
        builder = builder.ssl_opts(tls.ssl_opts());
    }
    let timeout = parts.connect_timeout.unwrap_or(CONNECT_TIMEOUT);
    let attempt = |builder: OptsBuilder| async move {
        match tokio::time::timeout(timeout, Conn::new(builder)).await {
            Ok(result) => result.map_err(ConnectFailure::Driver),
            Err(_) => Err(ConnectFailure::TimedOut),
        }
    };
    let conn = match attempt(builder.clone()).await {
        // PREFERRED: the server offers no TLS, so the session is plain.
        Err(ConnectFailure::Driver(mysql_async::Error::Driver(
            DriverError::NoClientSslFlagFromServer,
        ))) if tls == TlsMode::Preferred => attempt(builder.ssl_opts(None)).await,
        other => other,
    }
    .map_err(|failure| {
        let message = match failure {
            ConnectFailure::Driver(error) => error_message(&error),
            ConnectFailure::TimedOut => format!("no answer within {} s", timeout.as_secs()),
        };
        fail(without_password(message, password.as_deref()))
    })?;
    Mysql::start(conn).await.map_err(|e| fail(e.to_string()))
}

enum ConnectFailure {
    Driver(mysql_async::Error),
    TimedOut,
}

/// Driver messages do not echo the password; this makes sure of it.
fn without_password(message: String, password: Option<&str>) -> String {
    match password {
        Some(p) if !p.is_empty() => message.replace(p, "***"),
        _ => message,
    }
}

/// The server's message with its error number and SQLSTATE; for other
/// errors the driver's message.
fn error_message(error: &mysql_async::Error) -> String {
    match error {
        mysql_async::Error::Server(e) => {
            format!("{} (ERROR {}, SQLSTATE {})", e.message, e.code, e.state)
        }
        other => other.to_string(),
    }
}

fn sql_error(statement: &str, error: &mysql_async::Error) -> EngineError {
    EngineError::Sql {
        statement: statement.to_string(),
        message: error_message(error),
    }
}

/// Lock wait timeouts (row locks and metadata locks alike) and deadlocks:
/// the work itself is fine, another session was in the way.
fn is_retryable(error: &mysql_async::Error) -> bool {
    matches!(error, mysql_async::Error::Server(e) if e.code == ER_LOCK_WAIT_TIMEOUT || e.code == ER_LOCK_DEADLOCK)
}

/// The lock wait of one attempt, in whole seconds: MySQL's
/// `lock_wait_timeout` and `innodb_lock_wait_timeout` take integer seconds,
/// at least 1 (MySQL refuses 0). MariaDB 10.11 also takes integers only:
/// `SET SESSION lock_wait_timeout = 0.2` fails with ERROR 1232, and
/// `ALTER TABLE … WAIT 0.2` waits as `WAIT 0`. So the policy's timeout is
/// rounded up: the default 200 ms becomes 1 s on both servers.
fn lock_wait_seconds(policy: &LockPolicy) -> u64 {
    (policy.lock_timeout.as_secs_f64().ceil() as u64).max(1)
}

/// The lock wait of one attempt as the server applies it.
fn lock_wait(policy: &LockPolicy) -> Duration {
    Duration::from_secs(lock_wait_seconds(policy))
}

/// Both waits of the session, for metadata locks (DDL, `LOCK TABLES`) and
/// InnoDB row locks (backfills): integers, not user input.
fn set_lock_waits(policy: &LockPolicy) -> String {
    let seconds = lock_wait_seconds(policy);
    format!("SET SESSION lock_wait_timeout = {seconds}, innodb_lock_wait_timeout = {seconds}")
}

const RESET_LOCK_WAITS: &str =
    "SET SESSION lock_wait_timeout = DEFAULT, innodb_lock_wait_timeout = DEFAULT";

/// The `GET_LOCK` name of a database's run lock. User locks are server-wide,
/// so the database is part of the name; a name over MySQL's 64-character
/// limit is shortened to a digest of the database name.
pub fn run_lock_name(database: &str) -> String {
    let name = format!("zerodown.{database}");
    if name.chars().count() <= MAX_LOCK_NAME_CHARS {
        return name;
    }
    let digest = Sha256::digest(database.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("zerodown.{hex}")
}

/// A session setting a step may change around its DDL, with the statement
/// that restores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bracket {
    /// `SET SESSION foreign_key_checks = 0` … `= 1`.
    ForeignKeyChecks,
    /// `LOCK TABLES …` … `UNLOCK TABLES`.
    LockTables,
}

impl Bracket {
    /// Whether `statement` opens (`Some((b, true))`) or closes a bracket.
    fn of(statement: &str) -> Option<(Bracket, bool)> {
        let lower = statement.trim().trim_end_matches(';').to_ascii_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        match words.as_slice() {
            ["lock", "table" | "tables", ..] => Some((Bracket::LockTables, true)),
            ["unlock", "table" | "tables"] => Some((Bracket::LockTables, false)),
            ["set", ..] => {
                let compact: String = words[1..].concat();
                let value = compact
                    .strip_prefix("session")
                    .or_else(|| compact.strip_prefix("@@session."))
                    .or_else(|| compact.strip_prefix("@@"))
                    .unwrap_or(&compact)
                    .strip_prefix("foreign_key_checks=")?;
                match value {
                    "0" | "off" => Some((Bracket::ForeignKeyChecks, true)),
                    "1" | "on" => Some((Bracket::ForeignKeyChecks, false)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn closer(self) -> &'static str {
        match self {
            Bracket::ForeignKeyChecks => "SET SESSION foreign_key_checks = 1",
            Bracket::LockTables => "UNLOCK TABLES",
        }
    }
}

/// The opening statements of the brackets still open after `statements`,
/// in order: what a retry that resumes after them must run again first.
fn open_brackets(statements: &[String]) -> Vec<(Bracket, &String)> {
    let mut open: Vec<(Bracket, &String)> = Vec::new();
    for statement in statements {
        match Bracket::of(statement) {
            Some((bracket, true)) => open.push((bracket, statement)),
            Some((bracket, false)) => {
                if let Some(i) = open.iter().rposition(|(b, _)| *b == bracket) {
                    open.remove(i);
                }
            }
            None => {}
        }
    }
    open
}

/// RFC 3339 UTC (`…Z` or `…+00:00`) as a `DATETIME(6)` literal.
fn datetime_of(stamp: &str) -> Result<String, String> {
    let utc = stamp
        .strip_suffix('Z')
        .or_else(|| stamp.strip_suffix("+00:00"))
        .filter(|s| s.len() >= 19 && s.as_bytes()[10] == b'T')
        .ok_or_else(|| format!("`{stamp}` is not an RFC 3339 UTC timestamp"))?;
    Ok(utc.replacen('T', " ", 1))
}

/// `DATE_FORMAT` pattern giving RFC 3339 UTC with microseconds.
const RFC3339_UTC: &str = "'%Y-%m-%dT%H:%i:%s.%fZ'";

/// The fraction trimmed of trailing zeros (dropped when zero).
fn trim_fraction(stamp: String) -> String {
    match stamp.strip_suffix('Z').and_then(|s| s.split_once('.')) {
        Some((seconds, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() {
                format!("{seconds}Z")
            } else {
                format!("{seconds}.{fraction}Z")
            }
        }
        None => stamp,
    }
}

const HISTORY_DDL: &str = "CREATE TABLE IF NOT EXISTS `zerodown_history` (
    version INT NOT NULL,
    plan_hash TEXT NOT NULL,
    phase TEXT NOT NULL,
    task_id VARCHAR(700) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    status TEXT NOT NULL,
    started_at DATETIME(6) NULL,
    finished_at DATETIME(6) NULL,
    error MEDIUMTEXT NULL,
    PRIMARY KEY (version, task_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

/// `VALUES(col)` rather than MySQL 8.0.20's row alias (`AS new`), which
/// MariaDB does not know; MySQL 8 still accepts it (with a deprecation
/// warning).
const HISTORY_UPSERT: &str = "INSERT INTO `zerodown_history`
    (version, plan_hash, phase, task_id, status, started_at, finished_at, error)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON DUPLICATE KEY UPDATE
    plan_hash = VALUES(plan_hash), phase = VALUES(phase), status = VALUES(status),
    started_at = VALUES(started_at), finished_at = VALUES(finished_at), error = VALUES(error)";

/// A catalog value as text, whatever the protocol sent (`None`: NULL).
fn text(value: &Value) -> Option<String> {
    match value {
        Value::NULL => None,
        Value::Bytes(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(d) => Some(d.to_string()),
        Value::Date(..) | Value::Time(..) => {
            Some(value.as_sql(true).trim_matches('\'').to_string())
        }
    }
}

/// A row as text cells.
fn text_row(row: Row) -> Vec<Option<String>> {
    row.unwrap().iter().map(text).collect()
}

fn params(values: Vec<Value>) -> Params {
    if values.is_empty() {
        Params::Empty
    } else {
        Params::Positional(values)
    }
}

fn string_params(values: &[&str]) -> Params {
    params(values.iter().map(|v| Value::from(*v)).collect())
}

/// `column = ?` for a name that is case sensitive (tables, views, triggers
/// on a case-sensitive file system: `lower_case_table_names = 0`): the
/// plain comparison lets the server open only that table's metadata, the
/// binary one makes it exact (MariaDB's catalog compares case-insensitively).
/// Binds the name twice.
fn name_is(column: &str) -> String {
    format!("{column} = ? AND CAST({column} AS BINARY) = CAST(? AS BINARY)")
}

/// A key column's type class: how a key value is bound and read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyType {
    Int {
        unsigned: bool,
    },
    Text,
    /// BINARY, VARBINARY: bound and read as bytes, compared byte by byte.
    Bytes,
    /// DATE, DATETIME, TIME: read as their text form (every digit of the
    /// fraction the column keeps), bound as that text, which MySQL converts
    /// to the column's type to compare with it (exact, and a range on the
    /// index). Not TIMESTAMP: its text is in the session's time zone.
    Temporal,
}

impl KeyType {
    /// The class of a key column from the catalog (`DATA_TYPE`,
    /// `COLUMN_TYPE`), by the one list of walkable key types
    /// ([`EngineKind::key_class`]).
    fn of(column: &str, data_type: &str, column_type: &str) -> Result<Self, EngineError> {
        match EngineKind::Mysql.key_class(data_type) {
            Some(KeyClass::Int) => Ok(KeyType::Int {
                unsigned: column_type.to_ascii_lowercase().contains("unsigned"),
            }),
            Some(KeyClass::Text) => Ok(KeyType::Text),
            Some(KeyClass::Bytes) => Ok(KeyType::Bytes),
            Some(KeyClass::TextForm) => Ok(KeyType::Temporal),
            None => Err(EngineError::Unsupported(format!(
                "a backfill walks the primary key, and key column {column} of type {} is not supported (supported: {})",
                data_type.to_ascii_lowercase(),
                EngineKind::Mysql.walkable_key_types()
            ))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            KeyType::Int { unsigned: false } => "integer",
            KeyType::Int { unsigned: true } => "unsigned integer",
            KeyType::Text => "string",
            KeyType::Bytes => "binary string",
            KeyType::Temporal => "date or time",
        }
    }

    /// A key value as a bind parameter of this type: MySQL would compare an
    /// integer column with a string (or the reverse) by converting, and walk
    /// the wrong range.
    fn bind(self, value: &KeyValue, statement: &str) -> Result<Value, EngineError> {
        match (self, value) {
            (KeyType::Int { unsigned }, KeyValue::Int(i)) if !unsigned || *i >= 0 => {
                Ok(Value::Int(*i))
            }
            (KeyType::Text | KeyType::Temporal, KeyValue::Text(s)) => Ok(Value::from(s.as_str())),
            (KeyType::Bytes, KeyValue::Bytes(b)) => Ok(Value::Bytes(b.clone())),
            _ => Err(EngineError::Sql {
                statement: statement.to_string(),
                message: format!(
                    "key value `{value}` does not fit a parameter of type {}",
                    self.name()
                ),
            }),
        }
    }

    fn read(self, value: &Value, statement: &str) -> Result<KeyValue, EngineError> {
        let bad = |what: String| EngineError::Sql {
            statement: statement.to_string(),
            message: what,
        };
        match (self, value) {
            (KeyType::Int { .. }, Value::Int(i)) => Ok(KeyValue::Int(*i)),
            (KeyType::Int { .. }, Value::UInt(u)) => {
                i64::try_from(*u).map(KeyValue::Int).map_err(|_| {
                    bad(format!(
                        "key value {u} is beyond the signed 64-bit range zerodown records"
                    ))
                })
            }
            (KeyType::Int { .. }, Value::Bytes(b)) => std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.parse().ok())
                .map(KeyValue::Int)
                .ok_or_else(|| {
                    bad(format!(
                        "expected an integer key, got `{}`",
                        String::from_utf8_lossy(b)
                    ))
                }),
            (KeyType::Text | KeyType::Temporal, Value::Bytes(b)) => String::from_utf8(b.clone())
                .map(KeyValue::Text)
                .map_err(|_| bad("a key value is not valid UTF-8".to_string())),
            (KeyType::Bytes, Value::Bytes(b)) => Ok(KeyValue::Bytes(b.clone())),
            (KeyType::Temporal, Value::Date(..) | Value::Time(..)) => {
                Ok(KeyValue::Text(temporal_text(value)))
            }
            (_, other) => Err(bad(format!(
                "expected a {} key, got {}",
                self.name(),
                other.as_sql(true)
            ))),
        }
    }
}

/// A DATE, DATETIME or TIME value of the binary protocol in MySQL's text
/// form, with the microseconds when there are any (a column with fewer
/// fractional digits has zeros beyond them, which compare equal):
/// `2024-03-17`, `2024-03-17 10:00:00.250000`, `-838:59:59`.
fn temporal_text(value: &Value) -> String {
    let fraction = |us: u32| match us {
        0 => String::new(),
        us => format!(".{us:06}"),
    };
    match *value {
        Value::Date(y, m, d, 0, 0, 0, 0) => format!("{y:04}-{m:02}-{d:02}"),
        Value::Date(y, m, d, h, i, s, us) => {
            format!("{y:04}-{m:02}-{d:02} {h:02}:{i:02}:{s:02}{}", fraction(us))
        }
        Value::Time(negative, days, h, i, s, us) => format!(
            "{}{:02}:{i:02}:{s:02}{}",
            if negative { "-" } else { "" },
            days * 24 + u32::from(h),
            fraction(us)
        ),
        _ => value.as_sql(true),
    }
}

/// A column type in one spelling, to compare a written type with the
/// catalog's `COLUMN_TYPE`: lower case outside quotes, no spaces around
/// punctuation, the aliases MySQL resolves (`INTEGER` → `int`, `NUMERIC` →
/// `decimal`, `BOOLEAN` → `tinyint(1)`, …), the defaults it fills in
/// (`DECIMAL` → `decimal(10,0)`, `CHAR` → `char(1)`), and no integer display
/// width (MariaDB shows `bigint(20)`, MySQL 8.0.19+ `bigint`; the width
/// never changes the type). A type this does not know compares as written:
/// at worst a step whose effect is there runs again.
pub fn canonical_type(data_type: &str) -> String {
    let compact = compact_type(data_type);
    let compact = [
        ("double precision", "double"),
        ("character varying", "varchar"),
        ("character", "char"),
    ]
    .iter()
    .find_map(|(alias, name)| {
        let rest = compact.strip_prefix(alias)?;
        (!rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
            .then(|| format!("{name}{rest}"))
    })
    .unwrap_or(compact);
    let name_end = compact
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(compact.len());
    let (name, rest) = compact.split_at(name_end);
    let (args, tail) = match rest.strip_prefix('(').and_then(|r| r.split_once(')')) {
        Some((args, tail)) => (Some(args.to_string()), tail.trim()),
        None => (None, rest.trim()),
    };
    let (name, args) = match name {
        "integer" | "int4" => ("int", args),
        "int1" => ("tinyint", args),
        "int2" => ("smallint", args),
        "int3" | "middleint" => ("mediumint", args),
        "int8" => ("bigint", args),
        "bool" | "boolean" => ("tinyint", None),
        "real" => ("double", args),
        "dec" | "numeric" | "fixed" | "decimal" => (
            "decimal",
            Some(match args {
                None => "10,0".to_string(),
                Some(a) if !a.contains(',') => format!("{a},0"),
                Some(a) => a,
            }),
        ),
        "char" | "binary" if args.is_none() => (name, Some("1".to_string())),
        // Display widths only.
        "tinyint" | "smallint" | "mediumint" | "int" | "bigint" | "year" => (name, None),
        _ => (name, args),
    };
    let mut out = name.to_string();
    if let Some(args) = args {
        out.push_str(&format!("({args})"));
    }
    if !tail.is_empty() {
        out.push(' ');
        out.push_str(tail);
    }
    out
}

/// A type in lower case outside quotes, with single spaces and none next
/// to `(`, `,` or `)`: `ENUM('a', 'B c')` → `enum('a','B c')`.
fn compact_type(data_type: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut space = false;
    for ch in data_type.trim().chars() {
        if let Some(q) = quote {
            out.push(ch);
            if ch == q {
                quote = None;
            }
            continue;
        }
        if ch.is_whitespace() {
            space = true;
            continue;
        }
        if space && !matches!(ch, '(' | ')' | ',') && !out.ends_with(['(', ',']) {
            out.push(' ');
        }
        space = false;
        if ch == '\'' || ch == '"' {
            quote = Some(ch);
        }
        out.extend(ch.to_lowercase());
    }
    out
}

/// The model's default of a column, as SQL, from `information_schema`
/// (`COLUMN_DEFAULT`, `EXTRA`, `DATA_TYPE`). The servers differ:
/// - MariaDB 10.2.7+ stores the default as SQL (`'basic'`, `0`,
///   `current_timestamp()`), and the text `NULL` for a nullable column
///   without one;
/// - MySQL 8 stores a literal's value unquoted (`basic`), an expression
///   default (`EXTRA` `DEFAULT_GENERATED`) as its expression, and SQL NULL
///   for no default.
///
/// Generated columns have no default.
fn column_default(
    flavor: Flavor,
    raw: Option<&str>,
    extra: &str,
    data_type: &str,
) -> Option<String> {
    let extra = extra.to_ascii_uppercase();
    if extra.contains("VIRTUAL GENERATED") || extra.contains("STORED GENERATED") {
        return None;
    }
    let raw = raw?;
    match flavor {
        Flavor::Mariadb if raw.eq_ignore_ascii_case("NULL") => None,
        Flavor::Mariadb => Some(raw.to_string()),
        Flavor::Mysql if extra.contains("DEFAULT_GENERATED") => Some(raw.to_string()),
        Flavor::Mysql => {
            let numeric = matches!(
                data_type.to_ascii_lowercase().as_str(),
                "tinyint"
                    | "smallint"
                    | "mediumint"
                    | "int"
                    | "bigint"
                    | "decimal"
                    | "float"
                    | "double"
            );
            Some(if numeric {
                raw.to_string()
            } else {
                EngineKind::Mysql.quote_literal(raw)
            })
        }
    }
}

/// `information_schema.COLUMNS` condition for "has a default" (see
/// [`column_default`] for MariaDB's text `NULL`).
fn has_default_sql(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Mariadb => "(COLUMN_DEFAULT IS NOT NULL AND COLUMN_DEFAULT <> 'NULL')",
        Flavor::Mysql => "(COLUMN_DEFAULT IS NOT NULL)",
    }
}

/// The catalog query that shows an effect, its parameters, and whether the
/// effect is the query's negation. `None`: the catalog cannot tell
/// (`ColumnType` is compared in Rust, see [`canonical_type`]).
fn effect_query(flavor: Flavor, effect: &Effect) -> Option<(String, Vec<&str>, bool)> {
    const IN_DB: &str = "TABLE_SCHEMA = DATABASE()";
    let table_row = |types: &str| {
        format!(
            "SELECT 1 FROM information_schema.TABLES WHERE {IN_DB} AND TABLE_TYPE IN ({types}) AND {}",
            name_is("TABLE_NAME")
        )
    };
    let tables = "'BASE TABLE', 'SYSTEM VERSIONED'";
    let column_row = |condition: &str| {
        format!(
            "SELECT 1 FROM information_schema.COLUMNS WHERE {IN_DB} AND {} AND COLUMN_NAME = ?{condition}",
            name_is("TABLE_NAME")
        )
    };
    let constraint_row = |condition: &str| {
        format!(
            "SELECT 1 FROM information_schema.TABLE_CONSTRAINTS WHERE {IN_DB} AND {} AND CONSTRAINT_NAME = ?{condition}",
            name_is("TABLE_NAME")
        )
    };
    let trigger_row = format!(
        "SELECT 1 FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND {} AND {}",
        name_is("EVENT_OBJECT_TABLE"),
        name_is("TRIGGER_NAME")
    );
    // MySQL index names are per table; the effect names none, so any table
    // of the database counts.
    let index_row =
        format!("SELECT 1 FROM information_schema.STATISTICS WHERE {IN_DB} AND INDEX_NAME = ?");
    // MySQL 8.0.16+ can keep a CHECK constraint NOT ENFORCED; MariaDB has
    // no such state (nor the column), and neither has NOT VALID.
    let validated = match flavor {
        Flavor::Mysql => " AND (CONSTRAINT_TYPE <> 'CHECK' OR ENFORCED = 'YES')",
        Flavor::Mariadb => "",
    };
    let has_default = has_default_sql(flavor);
    let (sql, params, negate) = match effect {
        Effect::TableExists { table } => (table_row(tables), vec![table, table], false),
        Effect::TableAbsent { table } => (table_row(tables), vec![table, table], true),
        Effect::ViewExists { view } => (table_row("'VIEW'"), vec![view, view], false),
        Effect::ViewAbsent { view } => (table_row("'VIEW'"), vec![view, view], true),
        Effect::ColumnExists { table, column } => {
            (column_row(""), vec![table, table, column], false)
        }
        Effect::ColumnAbsent { table, column } => {
            (column_row(""), vec![table, table, column], true)
        }
        Effect::ColumnNotNull { table, column } => (
            column_row(" AND IS_NULLABLE = 'NO'"),
            vec![table, table, column],
            false,
        ),
        Effect::ColumnNullable { table, column } => (
            column_row(" AND IS_NULLABLE = 'YES'"),
            vec![table, table, column],
            false,
        ),
        Effect::ColumnHasDefault { table, column } => (
            column_row(&format!(" AND {has_default}")),
            vec![table, table, column],
            false,
        ),
        Effect::ColumnHasNoDefault { table, column } => (
            column_row(&format!(" AND NOT {has_default}")),
            vec![table, table, column],
            false,
        ),
        Effect::ColumnType { .. } | Effect::RecordedOnly | Effect::Rerunnable => return None,
        // InnoDB builds an index inside the ALTER: once the catalog shows
        // it, it is complete.
        Effect::IndexValid { index } => (index_row, vec![index], false),
        Effect::IndexAbsent { index } => (index_row, vec![index], true),
        Effect::ConstraintExists { table, constraint } => {
            (constraint_row(""), vec![table, table, constraint], false)
        }
        Effect::ConstraintValidated { table, constraint } => (
            constraint_row(validated),
            vec![table, table, constraint],
            false,
        ),
        Effect::ConstraintAbsent { table, constraint } => {
            (constraint_row(""), vec![table, table, constraint], true)
        }
        Effect::TriggerExists { table, trigger } => {
            (trigger_row, vec![table, table, trigger, trigger], false)
        }
        Effect::TriggerAbsent { table, trigger } => {
            (trigger_row, vec![table, table, trigger, trigger], true)
        }
    };
    let params = params.into_iter().map(String::as_str).collect();
    Some((format!("SELECT EXISTS ({sql})"), params, negate))
}

impl Mysql {
    /// Read what the session needs to know once.
    async fn start(mut conn: Conn) -> Result<Mysql, EngineError> {
        let sql = "SELECT VERSION(), DATABASE(), @@log_bin, @@binlog_format";
        let row = conn
            .query::<Row, _>(sql)
            .await
            .map_err(|e| sql_error(sql, &e))?
            .into_iter()
            .next()
            .map(text_row)
            .unwrap_or_default();
        let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        let flavor = Flavor::of_version(&cell(0));
        let statement_logging = cell(2) == "1" && cell(3).eq_ignore_ascii_case("STATEMENT");
        let mut mysql = Mysql {
            conn,
            flavor,
            database: cell(1),
            read_committed: !statement_logging,
            history_ready: false,
        };
        if flavor == Flavor::Mysql {
            // MySQL 8 caches TABLE_ROWS and other statistics in
            // information_schema for a day by default; estimates must be
            // fresh.
            mysql
                .run("SET SESSION information_schema_stats_expiry = 0")
                .await?;
        }
        Ok(mysql)
    }

    /// Run one statement (text protocol).
    async fn run(&mut self, sql: &str) -> Result<(), EngineError> {
        self.conn
            .query_drop(sql)
            .await
            .map_err(|e| sql_error(sql, &e))
    }

    /// The rows of a prepared query, as text cells.
    async fn rows(
        &mut self,
        sql: &str,
        values: Params,
    ) -> Result<Vec<Vec<Option<String>>>, EngineError> {
        let rows: Vec<Row> = self
            .conn
            .exec(sql, values)
            .await
            .map_err(|e| sql_error(sql, &e))?;
        Ok(rows.into_iter().map(text_row).collect())
    }

    /// The single cell of a prepared query that returns one row.
    async fn value(&mut self, sql: &str, values: Params) -> Result<Option<String>, EngineError> {
        let rows = self.rows(sql, values).await?;
        match rows.as_slice() {
            [row] if row.len() == 1 => Ok(row[0].clone()),
            _ => Err(EngineError::Sql {
                statement: sql.to_string(),
                message: format!(
                    "expected one row with one column, got {} row(s)",
                    rows.len()
                ),
            }),
        }
    }

    /// The rows of a text-protocol query (`NULL` as `None`).
    async fn text_rows(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, EngineError> {
        let rows: Vec<Row> = self.conn.query(sql).await.map_err(|e| sql_error(sql, &e))?;
        Ok(rows.into_iter().map(text_row).collect())
    }

    /// Server threads running a statement right now (`Threads_running`):
    /// the load signal of `--max-running`, since a primary cannot see its
    /// replicas' lag.
    pub async fn threads_running(&mut self) -> Result<u64, EngineError> {
        let sql = "SHOW GLOBAL STATUS LIKE 'Threads_running'";
        let rows = self.text_rows(sql).await?;
        rows.first()
            .and_then(|row| row.get(1).cloned().flatten())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| EngineError::Sql {
                statement: sql.to_string(),
                message: "the server did not report Threads_running".to_string(),
            })
    }

    /// Who holds the run lock: the connection `IS_USED_LOCK` names, as the
    /// process list shows it.
    async fn lock_holder(&mut self, name: &str) -> Result<Option<String>, EngineError> {
        let Some(id) = self
            .value("SELECT IS_USED_LOCK(?)", string_params(&[name]))
            .await?
        else {
            return Ok(None);
        };
        let sql =
            "SELECT USER, HOST, COMMAND, TIME FROM information_schema.PROCESSLIST WHERE ID = ?";
        let rows = self.rows(sql, string_params(&[&id])).await?;
        let mut parts = vec![format!("connection {id}")];
        if let Some(row) = rows.first() {
            let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
            parts.push(format!("user {}", cell(0)));
            parts.push(format!("client {}", cell(1)));
            if cell(2) == "Sleep" {
                parts.push(format!("idle for {} s", cell(3)));
            }
        }
        Ok(Some(parts.join(", ")))
    }

    async fn column_type_matches(
        &mut self,
        table: &str,
        column: &str,
        data_type: &str,
    ) -> Result<bool, EngineError> {
        let sql = format!(
            "SELECT COLUMN_TYPE FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND {} AND COLUMN_NAME = ?",
            name_is("TABLE_NAME")
        );
        let rows = self
            .rows(&sql, string_params(&[table, table, column]))
            .await?;
        Ok(
            match rows.first().and_then(|r| r.first().cloned().flatten()) {
                Some(stored) => canonical_type(&stored) == canonical_type(data_type),
                None => false,
            },
        )
    }

    /// One attempt at a step outside a transaction: statements from
    /// `completed` on, each committing on its own, advancing `completed`,
    /// so a retry resumes at the statement that was blocked instead of
    /// repeating committed ones. The session brackets that statement sits
    /// in (`foreign_key_checks = 0`, `LOCK TABLES`) are opened again first,
    /// and whatever is still open at the end, success or failure, is
    /// closed: the session never keeps a step's settings.
    ///
    /// A retry inside a `LOCK TABLES` bracket releases the table between
    /// attempts: statements of the bracket that committed before the
    /// blocked one stay committed while other sessions write. The planner's
    /// brackets put nothing but brief metadata changes inside the lock, so
    /// in practice the wait is for `LOCK TABLES` itself, before anything ran.
    async fn run_one_by_one(
        &mut self,
        statements: &[String],
        completed: &mut usize,
        policy: &LockPolicy,
    ) -> Result<Attempt<()>, EngineError> {
        self.run(&set_lock_waits(policy)).await?;
        let mut open: Vec<Bracket> = Vec::new();
        let reopen: Vec<(Bracket, String)> = open_brackets(&statements[..*completed])
            .into_iter()
            .map(|(b, s)| (b, s.clone()))
            .collect();
        let mut outcome = Ok(Attempt::Done(()));
        for (bracket, statement) in reopen {
            match self.conn.query_drop(&statement).await {
                Ok(()) => open.push(bracket),
                Err(error) => {
                    outcome = blocked_or_failed(&statement, &error);
                    break;
                }
            }
        }
        if matches!(outcome, Ok(Attempt::Done(()))) {
            for statement in &statements[*completed..] {
                match self.conn.query_drop(statement).await {
                    Ok(()) => {
                        *completed += 1;
                        match Bracket::of(statement) {
                            Some((bracket, true)) => open.push(bracket),
                            Some((bracket, false)) => {
                                if let Some(i) = open.iter().rposition(|b| *b == bracket) {
                                    open.remove(i);
                                }
                            }
                            None => {}
                        }
                    }
                    Err(error) => {
                        outcome = blocked_or_failed(statement, &error);
                        break;
                    }
                }
            }
        }
        let mut restored = Ok(());
        for bracket in open.iter().rev() {
            let closed = self.run(bracket.closer()).await;
            if restored.is_ok() {
                restored = closed;
            }
        }
        let reset = self.run(RESET_LOCK_WAITS).await;
        // The statement's own failure says more than a failed restore after
        // it (a broken connection fails both).
        let outcome = outcome?;
        restored?;
        reset?;
        Ok(outcome)
    }

    /// One attempt at a transactional step: all statements in one
    /// transaction (DML; a DDL statement among them would commit it).
    async fn run_transaction(
        &mut self,
        statements: &[String],
        policy: &LockPolicy,
    ) -> Result<Attempt<()>, EngineError> {
        self.run(&set_lock_waits(policy)).await?;
        let mut outcome = self.run("START TRANSACTION").await.map(Attempt::Done);
        if outcome.is_ok() {
            for statement in statements.iter().map(String::as_str).chain(["COMMIT"]) {
                if let Err(error) = self.conn.query_drop(statement).await {
                    // A failed rollback means a broken connection; the
                    // statement's error is the one worth reporting.
                    let _ = self.conn.query_drop("ROLLBACK").await;
                    outcome = blocked_or_failed(statement, &error);
                    break;
                }
            }
        }
        let reset = self.run(RESET_LOCK_WAITS).await;
        let outcome = outcome?;
        reset?;
        Ok(outcome)
    }

    /// The type class of each key column, in key order.
    async fn key_types(
        &mut self,
        table: &str,
        key: &[String],
    ) -> Result<Vec<KeyType>, EngineError> {
        let sql = format!(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND {}",
            name_is("TABLE_NAME")
        );
        let rows = self.rows(&sql, string_params(&[table, table])).await?;
        key.iter()
            .map(|column| {
                // Column names are case-insensitive in MySQL.
                let row = rows
                    .iter()
                    .find(|r| {
                        r.first()
                            .cloned()
                            .flatten()
                            .is_some_and(|name| name.eq_ignore_ascii_case(column))
                    })
                    .ok_or_else(|| EngineError::Sql {
                        statement: sql.clone(),
                        message: format!("table {table} has no key column {column}"),
                    })?;
                let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
                KeyType::of(column, &cell(1), &cell(2))
            })
            .collect()
    }

    /// One attempt at a backfill batch, in one transaction: find the upper
    /// key, update the range. READ COMMITTED (where the binary log allows
    /// it) locks only the rows the update changes, not the gaps between
    /// keys, so inserts into the batch's range are not held up.
    async fn backfill_attempt(
        &mut self,
        step: &BackfillStep,
        types: &[KeyType],
        lower: Option<&[KeyValue]>,
        policy: &LockPolicy,
    ) -> Result<Attempt<BatchOutcome>, EngineError> {
        let lower = lower.unwrap_or_default();
        let upper_sql = step.upper_key_sql(!lower.is_empty());
        if !lower.is_empty() && lower.len() != types.len() {
            return Err(EngineError::Sql {
                statement: upper_sql,
                message: format!(
                    "{} key values given for {} key columns",
                    lower.len(),
                    types.len()
                ),
            });
        }
        let lower_values = lower
            .iter()
            .zip(types)
            .map(|(value, ty)| ty.bind(value, &upper_sql))
            .collect::<Result<Vec<Value>, EngineError>>()?;

        self.run(&set_lock_waits(policy)).await?;
        if self.read_committed {
            // For the next transaction only (not the session's
            // `transaction_isolation`, which MariaDB calls `tx_isolation`).
            self.run("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                .await?;
        }
        let outcome = match self.run("START TRANSACTION").await {
            Ok(()) => {
                let result = self
                    .backfill_statements(step, types, lower_values, &upper_sql)
                    .await;
                match result {
                    Ok(outcome) => match self.conn.query_drop("COMMIT").await {
                        Ok(()) => Ok(Attempt::Done(outcome)),
                        Err(error) => blocked_or_failed("COMMIT", &error),
                    },
                    Err((statement, error)) => {
                        let _ = self.conn.query_drop("ROLLBACK").await;
                        match error {
                            BatchError::Driver(error) => blocked_or_failed(&statement, &error),
                            BatchError::Engine(error) => Err(error),
                        }
                    }
                }
            }
            Err(error) => Err(error),
        };
        let reset = self.run(RESET_LOCK_WAITS).await;
        let outcome = outcome?;
        reset?;
        Ok(outcome)
    }

    async fn backfill_statements(
        &mut self,
        step: &BackfillStep,
        types: &[KeyType],
        lower_values: Vec<Value>,
        upper_sql: &str,
    ) -> Result<BatchOutcome, (String, BatchError)> {
        let driver = |statement: &str| {
            let statement = statement.to_string();
            move |error| (statement, BatchError::Driver(error))
        };
        let engine = |statement: &str| {
            let statement = statement.to_string();
            move |error| (statement, BatchError::Engine(error))
        };
        let rows: Vec<Row> = self
            .conn
            .exec(upper_sql, params(lower_values.clone()))
            .await
            .map_err(driver(upper_sql))?;
        let upper = match rows.into_iter().next() {
            Some(row) => Some(
                row.unwrap()
                    .iter()
                    .zip(types)
                    .map(|(value, ty)| ty.read(value, upper_sql))
                    .collect::<Result<Vec<KeyValue>, EngineError>>()
                    .map_err(engine(upper_sql))?,
            ),
            None => None,
        };
        let update_sql = step.update_sql(!lower_values.is_empty(), upper.is_some());
        let mut values = lower_values;
        for (value, ty) in upper.iter().flatten().zip(types) {
            values.push(ty.bind(value, &update_sql).map_err(engine(&update_sql))?);
        }
        self.conn
            .exec_drop(&update_sql, params(values))
            .await
            .map_err(driver(&update_sql))?;
        Ok(BatchOutcome {
            rows: self.conn.affected_rows(),
            upper,
        })
    }
}

/// The columns of a key constraint, and what a foreign key references.
#[derive(Clone, Debug, Default)]
struct KeyColumns {
    columns: Vec<String>,
    ref_table: String,
    ref_columns: Vec<String>,
}

enum BatchError {
    Driver(mysql_async::Error),
    Engine(EngineError),
}

/// Blocked by another session, or a real failure.
fn blocked_or_failed<T>(
    statement: &str,
    error: &mysql_async::Error,
) -> Result<Attempt<T>, EngineError> {
    if is_retryable(error) {
        Ok(Attempt::Blocked {
            statement: statement.to_string(),
        })
    } else {
        Err(sql_error(statement, error))
    }
}

impl Engine for Mysql {
    fn kind(&self) -> EngineKind {
        EngineKind::Mysql
    }

    /// MySQL: `@@server_uuid`, unique per server. MariaDB has no
    /// `server_uuid`: `@@hostname:@@port` with `@@server_id` stands in (the
    /// id alone is 1 on every server nobody configured).
    async fn identity(&mut self) -> Result<DatabaseIdentity, EngineError> {
        let sql = match self.flavor {
            Flavor::Mysql => "SELECT @@server_uuid, DATABASE()",
            Flavor::Mariadb => {
                "SELECT CONCAT(@@hostname, ':', @@port, ' (server_id ', @@server_id, ')'), DATABASE()"
            }
        };
        let rows = self.text_rows(sql).await?;
        let row = rows.into_iter().next().unwrap_or_default();
        let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        Ok(DatabaseIdentity {
            engine: EngineKind::Mysql,
            server: cell(0),
            database: cell(1),
        })
    }

    async fn try_lock(&mut self) -> Result<RunLock, EngineError> {
        let name = run_lock_name(&self.database);
        let got = self
            .value("SELECT GET_LOCK(?, 0)", string_params(&[&name]))
            .await?;
        match got.as_deref() {
            Some("1") => Ok(RunLock { _held: () }),
            Some("0") => Err(EngineError::LockHeld {
                holder: self.lock_holder(&name).await?,
            }),
            other => Err(EngineError::Sql {
                statement: "SELECT GET_LOCK(?, 0)".to_string(),
                message: format!(
                    "GET_LOCK({name}) returned {}",
                    other.unwrap_or("NULL (an error, such as the session being killed)")
                ),
            }),
        }
    }

    async fn unlock(&mut self, _lock: RunLock) -> Result<(), EngineError> {
        let sql = "SELECT RELEASE_LOCK(?)";
        let name = run_lock_name(&self.database);
        match self.value(sql, string_params(&[&name])).await?.as_deref() {
            Some("1") => Ok(()),
            _ => Err(EngineError::Sql {
                statement: sql.to_string(),
                message: format!("the run lock {name} was not held by this session"),
            }),
        }
    }

    async fn history(&mut self) -> Result<Vec<HistoryRecord>, EngineError> {
        let exists = self
            .value(
                "SELECT COUNT(*) FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                string_params(&[HISTORY_TABLE]),
            )
            .await?;
        if exists.as_deref() == Some("0") {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT version, plan_hash, phase, task_id, status, \
             DATE_FORMAT(started_at, {RFC3339_UTC}), DATE_FORMAT(finished_at, {RFC3339_UTC}), error \
             FROM `zerodown_history` ORDER BY version, started_at IS NULL, started_at, task_id"
        );
        let rows = self.rows(&sql, Params::Empty).await?;
        rows.into_iter()
            .map(|row| {
                let invalid = |what: String| EngineError::Sql {
                    statement: sql.clone(),
                    message: what,
                };
                let cell = |i: usize| row.get(i).cloned().flatten();
                let version = cell(0).unwrap_or_default();
                let status = cell(4).unwrap_or_default();
                Ok(HistoryRecord {
                    version: version.parse().map_err(|_| {
                        invalid(format!("invalid version {version} in zerodown_history"))
                    })?,
                    plan_hash: cell(1).unwrap_or_default(),
                    phase: cell(2).unwrap_or_default(),
                    task_id: cell(3).unwrap_or_default(),
                    status: TaskStatus::parse(&status).ok_or_else(|| {
                        invalid(format!(
                            "unknown task status `{status}` in zerodown_history"
                        ))
                    })?,
                    started_at: cell(5).map(trim_fraction),
                    finished_at: cell(6).map(trim_fraction),
                    error: cell(7),
                })
            })
            .collect()
    }

    async fn record(&mut self, _lock: &RunLock, record: &HistoryRecord) -> Result<(), EngineError> {
        let invalid = |message: String| EngineError::Sql {
            statement: HISTORY_UPSERT.to_string(),
            message,
        };
        if record.task_id.chars().count() > MAX_TASK_ID_CHARS {
            return Err(invalid(format!(
                "task ID {} is longer than the {MAX_TASK_ID_CHARS} characters zerodown_history holds",
                record.task_id
            )));
        }
        let stamp = |s: &Option<String>| match s {
            Some(s) => datetime_of(s).map(Value::from).map_err(invalid),
            None => Ok(Value::NULL),
        };
        let values = vec![
            Value::from(record.version),
            Value::from(record.plan_hash.as_str()),
            Value::from(record.phase.as_str()),
            Value::from(record.task_id.as_str()),
            Value::from(record.status.name()),
            stamp(&record.started_at)?,
            stamp(&record.finished_at)?,
            record.error.as_deref().map_or(Value::NULL, Value::from),
        ];
        if !self.history_ready {
            self.run(HISTORY_DDL).await?;
            self.history_ready = true;
        }
        self.conn
            .exec_drop(HISTORY_UPSERT, params(values))
            .await
            .map_err(|e| sql_error(HISTORY_UPSERT, &e))
    }

    async fn introspect(&mut self) -> Result<Schema, EngineError> {
        let namespace = self
            .rows("SELECT DATABASE()", Params::Empty)
            .await?
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next().flatten());
        let mut schema = Schema {
            namespace,
            ..Schema::default()
        };
        let tables_sql = "SELECT TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') \
             AND TABLE_NAME <> ?";
        for row in self
            .rows(tables_sql, string_params(&[HISTORY_TABLE]))
            .await?
        {
            let name = row[0].clone().unwrap_or_default();
            let mut table = Table::new(name.clone());
            table.row_estimate = row[1].as_deref().and_then(|r| r.parse().ok());
            schema.tables.insert(name, table);
        }

        let columns_sql = "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, DATA_TYPE \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
             ORDER BY TABLE_NAME, ORDINAL_POSITION";
        let flavor = self.flavor;
        for row in self.rows(columns_sql, Params::Empty).await? {
            let cell = |i: usize| row[i].clone().unwrap_or_default();
            if let Some(mut table) = schema.tables.get_mut(&cell(0)) {
                table.columns.push(Column {
                    name: cell(1),
                    data_type: cell(2),
                    nullable: cell(3) == "YES",
                    default: column_default(flavor, row[4].as_deref(), &cell(5), &cell(6)),
                    drop_at: None,
                });
            }
        }

        // Constraints by (table, name): their kind, then their columns.
        let enforced = match flavor {
            Flavor::Mysql => "ENFORCED = 'YES'",
            Flavor::Mariadb => "TRUE",
        };
        let constraints_sql = format!(
            "SELECT TABLE_NAME, CONSTRAINT_NAME, CONSTRAINT_TYPE, {enforced} \
             FROM information_schema.TABLE_CONSTRAINTS WHERE TABLE_SCHEMA = DATABASE()"
        );
        let mut kinds: BTreeMap<(String, String), (String, bool)> = BTreeMap::new();
        for row in self.rows(&constraints_sql, Params::Empty).await? {
            let cell = |i: usize| row[i].clone().unwrap_or_default();
            kinds.insert((cell(0), cell(1)), (cell(2), cell(3) == "1"));
        }
        let key_columns_sql = "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME \
             FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() \
             ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION";
        let mut key_columns: BTreeMap<(String, String), KeyColumns> = BTreeMap::new();
        for row in self.rows(key_columns_sql, Params::Empty).await? {
            let cell = |i: usize| row[i].clone().unwrap_or_default();
            let entry = key_columns.entry((cell(0), cell(1))).or_default();
            entry.columns.push(cell(2));
            if let Some(referenced) = row[3].clone() {
                entry.ref_table = referenced;
                entry.ref_columns.push(cell(4));
            }
        }
        // MySQL 8's CHECK_CONSTRAINTS has no TABLE_NAME (check names are
        // unique per database there); MariaDB's has, and names a column
        // CHECK after its column, so the same name can recur per table.
        let checks_sql = match flavor {
            Flavor::Mariadb => {
                "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS \
                 WHERE CONSTRAINT_SCHEMA = DATABASE()"
            }
            Flavor::Mysql => {
                "SELECT t.TABLE_NAME, c.CONSTRAINT_NAME, c.CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS c \
                 JOIN information_schema.TABLE_CONSTRAINTS t ON t.CONSTRAINT_SCHEMA = c.CONSTRAINT_SCHEMA \
                 AND t.CONSTRAINT_NAME = c.CONSTRAINT_NAME AND t.CONSTRAINT_TYPE = 'CHECK' \
                 WHERE c.CONSTRAINT_SCHEMA = DATABASE()"
            }
        };
        let mut checks: BTreeMap<(String, String), String> = BTreeMap::new();
        for row in self.rows(checks_sql, Params::Empty).await? {
            let cell = |i: usize| row[i].clone().unwrap_or_default();
            checks.insert((cell(0), cell(1)), cell(2));
        }
        let mut key_constraints: BTreeSet<(String, String)> = BTreeSet::new();
        for ((table_name, name), (kind, enforced)) in kinds {
            let Some(mut table) = schema.tables.get_mut(&table_name) else {
                continue;
            };
            let key = (table_name.clone(), name.clone());
            let KeyColumns {
                columns,
                ref_table,
                ref_columns,
            } = key_columns.get(&key).cloned().unwrap_or_default();
            let kind = match kind.as_str() {
                "PRIMARY KEY" => {
                    table.primary_key = columns.clone();
                    ConstraintKind::PrimaryKey { columns }
                }
                "UNIQUE" => ConstraintKind::Unique { columns },
                "FOREIGN KEY" => ConstraintKind::ForeignKey {
                    columns,
                    ref_table,
                    ref_columns,
                },
                "CHECK" => ConstraintKind::Check {
                    expr: checks.get(&key).cloned().unwrap_or_default(),
                },
                _ => continue,
            };
            if matches!(
                kind,
                ConstraintKind::PrimaryKey { .. } | ConstraintKind::Unique { .. }
            ) {
                key_constraints.insert(key);
            }
            table.constraints.insert(
                name.clone(),
                Constraint {
                    name,
                    kind,
                    validated: enforced,
                },
            );
        }

        // Indexes that are not the primary key or a UNIQUE constraint (the
        // model keeps those as constraints, as a schema file does). MySQL
        // 8.0.13+ indexes expressions (`EXPRESSION`); MariaDB has no such
        // column.
        let expression = match flavor {
            Flavor::Mysql => "EXPRESSION",
            Flavor::Mariadb => "NULL",
        };
        let indexes_sql = format!(
            "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, COLLATION, {expression} \
             FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> ? \
             ORDER BY CAST(TABLE_NAME AS BINARY), CAST(INDEX_NAME AS BINARY), SEQ_IN_INDEX"
        );
        let my = EngineKind::Mysql;
        let mut indexes: Vec<Index> = Vec::new();
        for row in self
            .rows(&indexes_sql, string_params(&[HISTORY_TABLE]))
            .await?
        {
            let cell = |i: usize| row[i].clone().unwrap_or_default();
            let (table, name) = (cell(0), cell(1));
            if key_constraints.contains(&(table.clone(), name.clone())) {
                continue;
            }
            let mut key = match (&row[3], &row[6]) {
                (Some(column), _) => my.quote_ident(column),
                (None, Some(expr)) => format!("({expr})"),
                (None, None) => continue,
            };
            if let Some(length) = &row[4] {
                key.push_str(&format!("({length})"));
            }
            if row[5].as_deref() == Some("D") {
                key.push_str(" DESC");
            }
            let index = match indexes.last_mut() {
                Some(last) if last.table == table && last.name == name => last,
                _ => {
                    indexes.push(Index {
                        name,
                        table,
                        keys: Vec::new(),
                        columns: Vec::new(),
                        unique: cell(2) == "0",
                        predicate: None,
                        drop_at: None,
                    });
                    indexes.last_mut().expect("just pushed")
                }
            };
            index.keys.push(key);
            if let Some(column) = &row[3] {
                index.columns.push(column.clone());
            }
        }
        // MySQL names indexes per table: a name already taken by another
        // table's index is kept under `<table>.<name>`, as schema files do
        // (tables in byte order, so the same database gives the same keys).
        for index in indexes {
            let key = if schema.indexes.contains_key(&index.name) {
                format!("{}.{}", index.table, index.name)
            } else {
                index.name.clone()
            };
            schema.indexes.insert(key, index);
        }

        // The server stores a view's query with every name qualified by the
        // database; the model's SQL is the database's own, so that prefix
        // goes.
        let qualifier = format!("{}.", my.quote_ident(&self.database));
        let views_sql = "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS \
             WHERE TABLE_SCHEMA = DATABASE()";
        for row in self.rows(views_sql, Params::Empty).await? {
            let name = row[0].clone().unwrap_or_default();
            let sql = row[1].clone().unwrap_or_default().replace(&qualifier, "");
            schema.views.insert(
                name.clone(),
                View {
                    name,
                    sql,
                    drop_at: None,
                },
            );
        }
        Ok(schema)
    }

    async fn effect_present(&mut self, effect: &Effect) -> Result<bool, EngineError> {
        if let Effect::ColumnType {
            table,
            column,
            data_type,
        } = effect
        {
            return self.column_type_matches(table, column, data_type).await;
        }
        let Some((sql, names, negate)) = effect_query(self.flavor, effect) else {
            return Ok(false);
        };
        let found = self.value(&sql, string_params(&names)).await?;
        Ok((found.as_deref() == Some("1")) != negate)
    }

    async fn execute(
        &mut self,
        _lock: &RunLock,
        step: &SqlStep,
        policy: &LockPolicy,
    ) -> Result<u32, EngineError> {
        // Statements of a non-transactional step that completed in an
        // earlier attempt are not run again.
        let mut completed = 0;
        let mut retries = Retries::new(policy, lock_wait(policy));
        loop {
            let outcome = if step.transactional {
                self.run_transaction(&step.statements, policy).await?
            } else {
                self.run_one_by_one(&step.statements, &mut completed, policy)
                    .await?
            };
            match outcome {
                Attempt::Done(()) => return Ok(retries.attempt()),
                Attempt::Blocked { statement } => retries.blocked(statement).await?,
            }
        }
    }

    /// Never planned here: this engine alters tables in place.
    async fn rebuild(
        &mut self,
        _lock: &RunLock,
        step: &RebuildStep,
        _policy: &LockPolicy,
    ) -> Result<u32, EngineError> {
        Err(EngineError::Unsupported(format!(
            "a table rebuild of {} is a SQLite step: MySQL alters tables in place",
            step.table
        )))
    }

    async fn count(&mut self, sql: &str) -> Result<i64, EngineError> {
        let rows = self.text_rows(sql).await?;
        count_of(sql, &rows)
    }

    async fn sample(&mut self, sql: &str) -> Result<Vec<Vec<String>>, EngineError> {
        Ok(sample_of(self.text_rows(sql).await?))
    }

    async fn backfill_batch(
        &mut self,
        _lock: &RunLock,
        step: &BackfillStep,
        lower: Option<&[KeyValue]>,
        policy: &LockPolicy,
    ) -> Result<BatchOutcome, EngineError> {
        let types = self.key_types(&step.table, &step.key).await?;
        let mut retries = Retries::new(policy, lock_wait(policy));
        loop {
            match self.backfill_attempt(step, &types, lower, policy).await? {
                Attempt::Done(outcome) => return Ok(outcome),
                Attempt::Blocked { statement } => retries.blocked(statement).await?,
            }
        }
    }

    /// InnoDB's estimate (`TABLE_ROWS`), sampled from the index statistics:
    /// it can be off by tens of percent, enough for progress and an ETA.
    async fn estimate_rows(&mut self, table: &str) -> Result<Option<u64>, EngineError> {
        let sql = format!(
            "SELECT TABLE_ROWS FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND {}",
            name_is("TABLE_NAME")
        );
        let rows = self.rows(&sql, string_params(&[table, table])).await?;
        Ok(rows
            .first()
            .and_then(|row| row.first().cloned().flatten())
            .and_then(|r| r.parse().ok()))
    }

    /// The lag of this server behind its source, when it is a replica:
    /// `Seconds_Behind_Source` (MySQL 8.0.22+, `SHOW REPLICA STATUS`, one
    /// row per channel) or `Seconds_Behind_Master` (MariaDB, `SHOW ALL
    /// SLAVES STATUS`, one row per connection), the largest of them; a
    /// channel whose SQL thread is stopped reports NULL and is left out.
    ///
    /// A primary cannot see its replicas' lag (MySQL has no
    /// `pg_stat_replication`): on a primary this is `None`. To throttle a
    /// backfill on a primary, watch [`Mysql::threads_running`]
    /// (`--max-running`), or point a lag check at the replicas themselves.
    async fn replica_lag(&mut self) -> Result<Option<Duration>, EngineError> {
        let sql = match self.flavor {
            Flavor::Mysql => "SHOW REPLICA STATUS",
            Flavor::Mariadb => "SHOW ALL SLAVES STATUS",
        };
        let mut result = self
            .conn
            .query_iter(sql)
            .await
            .map_err(|e| sql_error(sql, &e))?;
        let columns = result.columns();
        let rows: Vec<Row> = result.collect().await.map_err(|e| sql_error(sql, &e))?;
        let Some(columns) = columns else {
            return Ok(None);
        };
        let Some(lag_column) = columns.iter().position(|c| {
            matches!(
                c.name_str().as_ref(),
                "Seconds_Behind_Source" | "Seconds_Behind_Master"
            )
        }) else {
            return Ok(None);
        };
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                text_row(row)
                    .get(lag_column)
                    .cloned()
                    .flatten()
                    .and_then(|s| s.parse::<u64>().ok())
            })
            .max()
            .map(Duration::from_secs))
    }

    async fn running_statements(&mut self) -> Result<Option<u64>, EngineError> {
        self.threads_running().await.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Instant;

    use super::*;

    const DEFAULT_ADMIN_URL: &str = "mysql://root@127.0.0.1:3306/test";

    fn admin_url() -> DatabaseUrl {
        let raw = std::env::var("ZERODOWN_TEST_MYSQL_URL")
            .unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string());
        DatabaseUrl::parse(&raw).unwrap()
    }

    /// The admin URL with another database name.
    fn url_for(database: &str) -> DatabaseUrl {
        let admin = admin_url();
        let raw = admin.expose();
        let authority_start = raw.find("://").unwrap() + 3;
        let path_start = raw[authority_start..]
            .find(['/', '?'])
            .map_or(raw.len(), |i| authority_start + i);
        let query = raw[path_start..]
            .find('?')
            .map_or("", |i| &raw[path_start + i..]);
        DatabaseUrl::parse(&format!("{}/{database}{query}", &raw[..path_start])).unwrap()
    }

    /// Run `test` against a fresh database, dropped afterwards even when the
    /// test fails (connections left in it are killed first: DROP DATABASE
    /// would wait for their metadata locks).
    async fn with_database<F, Fut>(test: F)
    where
        F: FnOnce(DatabaseUrl) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "zd_t_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let quoted = EngineKind::Mysql.quote_ident(&name);
        let mut admin = connect(&admin_url()).await.unwrap();
        admin
            .run(&format!("CREATE DATABASE {quoted}"))
            .await
            .unwrap();
        let outcome = tokio::spawn(test(url_for(&name))).await;
        let own = admin.conn.id();
        let leftovers = admin
            .rows(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> ?",
                params(vec![Value::from(name.as_str()), Value::from(own)]),
            )
            .await
            .unwrap();
        for id in leftovers.into_iter().filter_map(|r| r[0].clone()) {
            // It may have ended on its own meanwhile.
            let _ = admin
                .run(&format!("KILL {}", id.parse::<u64>().unwrap()))
                .await;
        }
        admin.run(&format!("DROP DATABASE {quoted}")).await.unwrap();
        if let Err(error) = outcome {
            std::panic::resume_unwind(error.into_panic());
        }
    }

    async fn engine(url: &DatabaseUrl, setup: &str) -> Mysql {
        let mut my = connect(url).await.unwrap();
        if !setup.trim().is_empty() {
            my.run(setup).await.unwrap();
        }
        my
    }

    fn policy(lock_timeout_ms: u64, max_attempts: u32) -> LockPolicy {
        LockPolicy {
            lock_timeout: Duration::from_millis(lock_timeout_ms),
            concurrent_lock_timeout: Duration::from_millis(lock_timeout_ms),
            max_attempts,
            backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            ..LockPolicy::default()
        }
    }

    fn sql_step(statements: &[&str], effect: Effect) -> SqlStep {
        SqlStep {
            statements: strings(statements),
            transactional: false,
            lock: "test".to_string(),
            effect,
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// A second session holding, in an open transaction, the locks
    /// `lock_sql` takes (a plain read holds the table's shared metadata
    /// lock until the transaction ends).
    async fn hold_lock(url: &DatabaseUrl, lock_sql: &str) -> Mysql {
        let mut holder = connect(url).await.unwrap();
        holder.run("START TRANSACTION").await.unwrap();
        holder.text_rows(lock_sql).await.unwrap();
        holder
    }

    async fn session_var(my: &mut Mysql, name: &str) -> String {
        let sql = format!("SELECT @@SESSION.{name}");
        my.text_rows(&sql).await.unwrap()[0][0].clone().unwrap()
    }

    #[test]
    fn url_parameters_zerodown_reads() {
        let parts = UrlParts::split(
            "mariadb://root:pw@db:3307/app?ssl-mode=verify_identity&connect_timeout=3&tcp_nodelay=true",
        )
        .unwrap();
        assert_eq!(
            parts,
            UrlParts {
                driver_url: "mysql://root:pw@db:3307/app?tcp_nodelay=true".to_string(),
                tls: Some(TlsMode::VerifyIdentity),
                connect_timeout: Some(Duration::from_secs(3)),
                prefer_socket: false,
            }
        );
        let plain = UrlParts::split("mysql://db/app?prefer_socket=true").unwrap();
        assert_eq!(plain.driver_url, "mysql://db/app?prefer_socket=true");
        assert!(plain.prefer_socket);
        assert_eq!(plain.tls, None);
        let modes = [
            ("DISABLED", TlsMode::Disabled),
            ("preferred", TlsMode::Preferred),
            ("REQUIRED", TlsMode::Required),
            ("VERIFY_CA", TlsMode::VerifyCa),
            ("verify-identity", TlsMode::VerifyIdentity),
        ];
        for (written, mode) in modes {
            assert_eq!(TlsMode::parse(written), Ok(mode), "{written}");
        }
        assert!(UrlParts::split("mysql://db/app?sslmode=bogus")
            .unwrap_err()
            .contains("unknown ssl-mode `bogus`"));
        assert!(UrlParts::split("mysql://db/app?connect_timeout=1.5")
            .unwrap_err()
            .contains("whole number of seconds"));
    }

    #[test]
    fn lock_waits_are_whole_seconds() {
        let cases = [(1, 1), (200, 1), (1000, 1), (1001, 2), (2500, 3), (0, 1)];
        for (ms, seconds) in cases {
            assert_eq!(lock_wait_seconds(&policy(ms, 1)), seconds, "{ms} ms");
        }
        assert_eq!(
            set_lock_waits(&policy(200, 1)),
            "SET SESSION lock_wait_timeout = 1, innodb_lock_wait_timeout = 1"
        );
        let p = policy(1500, 3);
        match crate::engine::attempt::next_pause(3, "ALTER TABLE t".into(), &p, lock_wait(&p)) {
            Err(EngineError::LockTimeout {
                attempts: 3,
                timeout_ms: 2000,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn run_lock_names_fit_mysql() {
        assert_eq!(run_lock_name("shop"), "zerodown.shop");
        let long = "d".repeat(64);
        let name = run_lock_name(&long);
        assert_eq!(name.len(), MAX_LOCK_NAME_CHARS - 23);
        assert!(name.starts_with("zerodown.") && name != run_lock_name(&"e".repeat(64)));
        assert_eq!(run_lock_name(&"d".repeat(55)).len(), 64);
    }

    #[test]
    fn brackets_are_recognised_and_reopened() {
        let cases = [
            (
                "SET SESSION foreign_key_checks = 0",
                Some((Bracket::ForeignKeyChecks, true)),
            ),
            (
                "set foreign_key_checks=OFF;",
                Some((Bracket::ForeignKeyChecks, true)),
            ),
            (
                "SET @@session.foreign_key_checks = 1",
                Some((Bracket::ForeignKeyChecks, false)),
            ),
            ("SET SESSION unique_checks = 0", None),
            (
                "LOCK TABLES `users` WRITE",
                Some((Bracket::LockTables, true)),
            ),
            ("UNLOCK TABLES", Some((Bracket::LockTables, false))),
            ("ALTER TABLE `users` DROP COLUMN `lock`", None),
        ];
        for (statement, expected) in cases {
            assert_eq!(Bracket::of(statement), expected, "{statement}");
        }
        let step = strings(&[
            "LOCK TABLES `t` WRITE",
            "DROP TRIGGER `a`",
            "SET SESSION foreign_key_checks = 0",
            "ALTER TABLE `t` ADD CONSTRAINT x FOREIGN KEY (a) REFERENCES p (id)",
            "SET SESSION foreign_key_checks = 1",
            "UNLOCK TABLES",
        ]);
        let openers = |n: usize| -> Vec<&str> {
            open_brackets(&step[..n])
                .into_iter()
                .map(|(_, s)| s.as_str())
                .collect()
        };
        assert_eq!(openers(0), Vec::<&str>::new());
        assert_eq!(openers(2), vec!["LOCK TABLES `t` WRITE"]);
        assert_eq!(
            openers(3),
            vec![
                "LOCK TABLES `t` WRITE",
                "SET SESSION foreign_key_checks = 0"
            ]
        );
        assert_eq!(openers(5), vec!["LOCK TABLES `t` WRITE"]);
        assert_eq!(openers(6), Vec::<&str>::new());
    }

    #[test]
    fn types_compare_as_the_server_stores_them() {
        let cases = [
            ("bigint(20)", "BIGINT", true),
            ("bigint", "bigint(20)", true),
            ("int(11)", "INTEGER", true),
            ("int(10) unsigned", "INT UNSIGNED", true),
            ("int unsigned", "int", false),
            ("tinyint(1)", "BOOLEAN", true),
            ("varchar(500)", "VARCHAR(500)", true),
            ("varchar(500)", "VARCHAR (500)", true),
            ("varchar(500)", "varchar(200)", false),
            ("varchar(20)", "CHARACTER VARYING(20)", true),
            ("char(1)", "CHAR", true),
            ("char(3)", "character(3)", true),
            ("decimal(10,2)", "NUMERIC(10, 2)", true),
            ("decimal(10,0)", "DECIMAL", true),
            ("decimal(12,0)", "dec(12)", true),
            ("double", "DOUBLE PRECISION", true),
            ("double", "REAL", true),
            ("datetime(6)", "DATETIME(6)", true),
            ("datetime", "DATETIME(6)", false),
            ("text", "TEXT", true),
            ("mediumtext", "TEXT", false),
            ("enum('a','B c')", "ENUM('a', 'B c')", true),
            ("enum('a','b')", "ENUM('A', 'b')", false),
            ("year(4)", "YEAR", true),
        ];
        for (stored, written, same) in cases {
            assert_eq!(
                canonical_type(stored) == canonical_type(written),
                same,
                "{stored} vs {written}: {} / {}",
                canonical_type(stored),
                canonical_type(written)
            );
        }
    }

    type DefaultCase = (
        Flavor,
        Option<&'static str>,
        &'static str,
        &'static str,
        Option<&'static str>,
    );

    #[test]
    fn defaults_read_per_flavor() {
        // (flavor, COLUMN_DEFAULT, EXTRA, DATA_TYPE, the model's default)
        let cases: [DefaultCase; 12] = [
            (
                Flavor::Mariadb,
                Some("'basic'"),
                "",
                "varchar",
                Some("'basic'"),
            ),
            (Flavor::Mariadb, Some("NULL"), "", "varchar", None),
            (
                Flavor::Mariadb,
                Some("'NULL'"),
                "",
                "varchar",
                Some("'NULL'"),
            ),
            (Flavor::Mariadb, None, "", "int", None),
            (
                Flavor::Mariadb,
                Some("current_timestamp()"),
                "",
                "datetime",
                Some("current_timestamp()"),
            ),
            (Flavor::Mariadb, None, "STORED GENERATED", "int", None),
            (Flavor::Mysql, Some("basic"), "", "varchar", Some("'basic'")),
            (Flavor::Mysql, Some("it's"), "", "char", Some("'it''s'")),
            (Flavor::Mysql, Some("0"), "", "int", Some("0")),
            (
                Flavor::Mysql,
                Some("CURRENT_TIMESTAMP"),
                "DEFAULT_GENERATED",
                "datetime",
                Some("CURRENT_TIMESTAMP"),
            ),
            (
                Flavor::Mysql,
                Some("(`a` + 1)"),
                "VIRTUAL GENERATED",
                "int",
                None,
            ),
            (Flavor::Mysql, None, "", "varchar", None),
        ];
        for (flavor, raw, extra, data_type, expected) in cases {
            assert_eq!(
                column_default(flavor, raw, extra, data_type).as_deref(),
                expected,
                "{flavor:?} {raw:?} {extra}"
            );
        }
        assert_eq!(
            Flavor::of_version("10.11.6-MariaDB-0+deb12u1"),
            Flavor::Mariadb
        );
        assert_eq!(Flavor::of_version("8.0.36"), Flavor::Mysql);
    }

    #[test]
    fn timestamps_round_trip() {
        assert_eq!(
            datetime_of("2026-11-21T10:00:01.25Z").unwrap(),
            "2026-11-21 10:00:01.25"
        );
        assert_eq!(
            datetime_of("2026-11-21T10:00:01+00:00").unwrap(),
            "2026-11-21 10:00:01"
        );
        assert!(datetime_of("2026-11-21T10:00:01+02:00").is_err());
        assert!(datetime_of("yesterday").is_err());
        assert_eq!(
            trim_fraction("2026-01-02T03:04:05.000000Z".into()),
            "2026-01-02T03:04:05Z"
        );
        assert_eq!(
            trim_fraction("2026-01-02T03:04:05.120000Z".into()),
            "2026-01-02T03:04:05.12Z"
        );
    }

    #[tokio::test]
    async fn identity_names_the_server_and_database() {
        with_database(|url| async move {
            let mut my = connect(&url).await.unwrap();
            let identity = my.identity().await.unwrap();
            assert_eq!(identity.engine, EngineKind::Mysql);
            let database = url
                .expose()
                .rsplit('/')
                .next()
                .unwrap()
                .split('?')
                .next()
                .unwrap();
            assert_eq!(identity.database, database);
            let row = my
                .text_rows("SELECT @@hostname, @@port, @@server_id, VERSION()")
                .await
                .unwrap()
                .remove(0);
            let cell = |i: usize| row[i].clone().unwrap();
            if my.flavor == Flavor::Mariadb {
                assert_eq!(
                    identity.server,
                    format!("{}:{} (server_id {})", cell(0), cell(1), cell(2))
                );
            } else {
                assert_eq!(identity.server.len(), 36, "a UUID: {}", identity.server);
            }
            assert_eq!(my.flavor, Flavor::of_version(&cell(3)));
            // The same server and database from another connection.
            assert_eq!(
                connect(&url).await.unwrap().identity().await.unwrap(),
                identity
            );
        })
        .await;
    }

    #[tokio::test]
    async fn run_lock_is_exclusive_and_names_its_holder() {
        with_database(|url| async move {
            let mut first = connect(&url).await.unwrap();
            let mut second = connect(&url).await.unwrap();
            let lock = first.try_lock().await.unwrap();
            let first_id = first.conn.id();
            match second.try_lock().await {
                Err(EngineError::LockHeld {
                    holder: Some(holder),
                }) => {
                    assert!(
                        holder.starts_with(&format!(
                            "connection {first_id}, user root, client 127.0.0.1:"
                        )),
                        "{holder}"
                    );
                    assert!(holder.ends_with(" s"), "idle: {holder}");
                }
                other => panic!("expected LockHeld, got {other:?}"),
            }
            // Another database's run lock is another lock.
            let mut elsewhere = connect(&admin_url()).await.unwrap();
            let other_lock = elsewhere.try_lock().await.unwrap();
            elsewhere.unlock(other_lock).await.unwrap();

            first.unlock(lock).await.unwrap();
            let lock = second.try_lock().await.unwrap();
            second.unlock(lock).await.unwrap();
            // Not held any more: unlocking again is an error, not a no-op.
            let fake = RunLock { _held: () };
            match second.unlock(fake).await {
                Err(EngineError::Sql { message, .. }) => {
                    assert!(
                        message.contains("was not held by this session"),
                        "{message}"
                    )
                }
                other => panic!("{other:?}"),
            }
        })
        .await;
    }

    #[tokio::test]
    async fn history_round_trips_and_upserts() {
        with_database(|url| async move {
            let mut my = connect(&url).await.unwrap();
            assert_eq!(my.history().await.unwrap(), vec![]);
            let lock = my.try_lock().await.unwrap();
            let running = HistoryRecord {
                version: 2,
                plan_hash: "abc123".to_string(),
                phase: "expand".to_string(),
                task_id: "v2/expand/add-column/users.note/add-column".to_string(),
                status: TaskStatus::Running,
                started_at: Some("2026-11-21T10:00:00Z".to_string()),
                finished_at: None,
                error: None,
            };
            let other = HistoryRecord {
                task_id: "v2/expand/create-index/orders_idx/create-index".to_string(),
                status: TaskStatus::Pending,
                started_at: None,
                ..running.clone()
            };
            // Task IDs are case sensitive: this is a third task.
            let upper = HistoryRecord {
                version: 3,
                task_id: running.task_id.to_uppercase(),
                ..running.clone()
            };
            my.record(&lock, &running).await.unwrap();
            my.record(&lock, &other).await.unwrap();
            my.record(&lock, &upper).await.unwrap();
            assert_eq!(
                my.history().await.unwrap(),
                vec![running.clone(), other.clone(), upper.clone()]
            );

            let failed = HistoryRecord {
                status: TaskStatus::Failed,
                finished_at: Some("2026-11-21T10:00:01.25Z".to_string()),
                error: Some("lock timeout: `users` is busy".to_string()),
                ..running.clone()
            };
            my.record(&lock, &failed).await.unwrap();
            assert_eq!(my.history().await.unwrap(), vec![failed, other, upper]);
            // Another connection (a later run) reads the same rows.
            let mut later = connect(&url).await.unwrap();
            assert_eq!(later.history().await.unwrap().len(), 3);

            let too_long = HistoryRecord {
                task_id: "x".repeat(701),
                ..running.clone()
            };
            assert!(matches!(
                my.record(&lock, &too_long).await,
                Err(EngineError::Sql { .. })
            ));
            let bad_stamp = HistoryRecord {
                started_at: Some("2026-11-21T10:00:00+01:00".to_string()),
                ..running.clone()
            };
            match my.record(&lock, &bad_stamp).await {
                Err(EngineError::Sql { message, .. }) => {
                    assert!(
                        message.contains("not an RFC 3339 UTC timestamp"),
                        "{message}"
                    )
                }
                other => panic!("{other:?}"),
            }
            my.unlock(lock).await.unwrap();
        })
        .await;
    }

    const SHOP: &str = "
        CREATE TABLE users (
            id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
            email VARCHAR(200) NOT NULL,
            name VARCHAR(100) DEFAULT 'anon',
            nickname TEXT,
            created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
            score INT NOT NULL DEFAULT 0,
            CONSTRAINT users_email_key UNIQUE (email)
        );
        CREATE TABLE orders (
            id BIGINT NOT NULL AUTO_INCREMENT,
            user_id BIGINT NOT NULL,
            total DECIMAL(10,2),
            note VARCHAR(300),
            total_cents BIGINT AS (total * 100) STORED,
            CONSTRAINT orders_pk PRIMARY KEY (id),
            CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
            CONSTRAINT orders_total_check CHECK (total >= 0),
            KEY orders_open_idx (user_id, note(20) DESC)
        );
        CREATE UNIQUE INDEX orders_note_key ON orders (note, user_id);
        CREATE TABLE `Mixed Case` (`Id` INT NOT NULL, `Two` INT NOT NULL, PRIMARY KEY (`Two`, `Id`), KEY user_idx (`Id`));
        CREATE TABLE audit (id INT PRIMARY KEY, user_id BIGINT, KEY user_idx (user_id));
        CREATE VIEW user_emails AS SELECT id, email FROM users;
        CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW SET NEW.score = NEW.score + 1;
        CREATE TABLE zerodown_history (x INT);
    ";

    fn column(name: &str, data_type: &str, nullable: bool, default: Option<&str>) -> Column {
        Column {
            name: name.to_string(),
            data_type: data_type.to_string(),
            nullable,
            default: default.map(str::to_string),
            drop_at: None,
        }
    }

    #[tokio::test]
    async fn introspect_reads_the_current_database() {
        with_database(|url| async move {
            let mut my = engine(&url, SHOP).await;
            my.run("INSERT INTO users (email) VALUES ('a'), ('b'), ('c'); ANALYZE TABLE users")
                .await
                .unwrap();
            // A table in another database never shows.
            let mut admin = connect(&admin_url()).await.unwrap();
            admin
                .run("CREATE TABLE IF NOT EXISTS zd_elsewhere (id INT)")
                .await
                .unwrap();
            let schema = my.introspect().await.unwrap();
            admin.run("DROP TABLE zd_elsewhere").await.unwrap();

            assert_eq!(
                schema.tables.keys().collect::<Vec<_>>(),
                ["Mixed Case", "audit", "orders", "users"]
            );
            let users = &schema.tables["users"];
            let mariadb = my.flavor == Flavor::Mariadb;
            let (bigint, int) = if mariadb {
                ("bigint(20)", "int(11)")
            } else {
                ("bigint", "int")
            };
            let now = if mariadb {
                "current_timestamp()"
            } else {
                "CURRENT_TIMESTAMP"
            };
            assert_eq!(
                users.columns,
                vec![
                    column("id", bigint, false, None),
                    column("email", "varchar(200)", false, None),
                    column("name", "varchar(100)", true, Some("'anon'")),
                    column("nickname", "text", true, None),
                    column("created_at", "datetime", false, Some(now)),
                    column("score", int, false, Some("0")),
                ]
            );
            assert_eq!(users.primary_key, ["id"]);
            assert_eq!(users.row_estimate, Some(3));
            assert_eq!(
                users.constraints.values().cloned().collect::<Vec<_>>(),
                vec![
                    Constraint {
                        name: "PRIMARY".into(),
                        kind: ConstraintKind::PrimaryKey {
                            columns: strings(&["id"])
                        },
                        validated: true
                    },
                    Constraint {
                        name: "users_email_key".into(),
                        kind: ConstraintKind::Unique {
                            columns: strings(&["email"])
                        },
                        validated: true
                    },
                ]
            );

            let orders = &schema.tables["orders"];
            assert_eq!(
                orders.columns,
                vec![
                    column("id", bigint, false, None),
                    column("user_id", bigint, false, None),
                    column("total", "decimal(10,2)", true, None),
                    column("note", "varchar(300)", true, None),
                    column("total_cents", bigint, true, None),
                ]
            );
            assert_eq!(orders.primary_key, ["id"]);
            let check_expr = if mariadb {
                "`total` >= 0"
            } else {
                "(`total` >= 0)"
            };
            assert_eq!(
                orders.constraints.values().cloned().collect::<Vec<_>>(),
                vec![
                    Constraint {
                        name: "PRIMARY".into(),
                        kind: ConstraintKind::PrimaryKey {
                            columns: strings(&["id"])
                        },
                        validated: true
                    },
                    Constraint {
                        name: "orders_note_key".into(),
                        kind: ConstraintKind::Unique {
                            columns: strings(&["note", "user_id"])
                        },
                        validated: true
                    },
                    Constraint {
                        name: "orders_total_check".into(),
                        kind: ConstraintKind::Check {
                            expr: check_expr.into()
                        },
                        validated: true
                    },
                    Constraint {
                        name: "orders_user_fk".into(),
                        kind: ConstraintKind::ForeignKey {
                            columns: strings(&["user_id"]),
                            ref_table: "users".into(),
                            ref_columns: strings(&["id"])
                        },
                        validated: true,
                    },
                ]
            );
            assert_eq!(schema.tables["Mixed Case"].primary_key, ["Two", "Id"]);
            assert!(!schema.tables.contains_key(HISTORY_TABLE));

            // Primary keys and UNIQUE constraints are constraints only; the
            // same index name on two tables keeps both.
            assert_eq!(
                schema.indexes.keys().collect::<Vec<_>>(),
                ["audit.user_idx", "orders_open_idx", "user_idx"]
            );
            assert_eq!(
                schema.indexes["orders_open_idx"],
                Index {
                    name: "orders_open_idx".into(),
                    table: "orders".into(),
                    keys: strings(&["`user_id`", "`note`(20) DESC"]),
                    columns: strings(&["user_id", "note"]),
                    unique: false,
                    predicate: None,
                    drop_at: None,
                }
            );
            assert_eq!(schema.indexes["user_idx"].table, "Mixed Case");
            assert_eq!(schema.indexes["audit.user_idx"].table, "audit");
            assert_eq!(schema.indexes["audit.user_idx"].keys, ["`user_id`"]);

            assert_eq!(schema.views.keys().collect::<Vec<_>>(), ["user_emails"]);
            assert_eq!(
                schema.views["user_emails"].sql,
                "select `users`.`id` AS `id`,`users`.`email` AS `email` from `users`"
            );
        })
        .await;
    }

    #[tokio::test]
    async fn effects_read_the_catalog() {
        with_database(|url| async move {
            let mut my = engine(&url, SHOP).await;
            my.run("ALTER TABLE users ALTER COLUMN nickname SET DEFAULT NULL")
                .await
                .ok();
            let s = |v: &str| v.to_string();
            let cases: Vec<(Effect, bool)> = vec![
                (Effect::TableExists { table: s("users") }, true),
                (Effect::TableExists { table: s("Users") }, false),
                (
                    Effect::TableExists {
                        table: s("user_emails"),
                    },
                    false,
                ),
                (
                    Effect::TableExists {
                        table: s("Mixed Case"),
                    },
                    true,
                ),
                (Effect::TableAbsent { table: s("ghosts") }, true),
                (Effect::TableAbsent { table: s("orders") }, false),
                (
                    Effect::ViewExists {
                        view: s("user_emails"),
                    },
                    true,
                ),
                (Effect::ViewExists { view: s("users") }, false),
                (
                    Effect::ViewAbsent {
                        view: s("user_emails"),
                    },
                    false,
                ),
                (
                    Effect::ViewAbsent {
                        view: s("order_totals"),
                    },
                    true,
                ),
                (
                    Effect::ColumnExists {
                        table: s("users"),
                        column: s("email"),
                    },
                    true,
                ),
                (
                    Effect::ColumnExists {
                        table: s("users"),
                        column: s("EMAIL"),
                    },
                    true,
                ),
                (
                    Effect::ColumnExists {
                        table: s("orders"),
                        column: s("email"),
                    },
                    false,
                ),
                (
                    Effect::ColumnAbsent {
                        table: s("users"),
                        column: s("tier"),
                    },
                    true,
                ),
                (
                    Effect::ColumnAbsent {
                        table: s("users"),
                        column: s("name"),
                    },
                    false,
                ),
                (
                    Effect::ColumnNotNull {
                        table: s("users"),
                        column: s("email"),
                    },
                    true,
                ),
                (
                    Effect::ColumnNotNull {
                        table: s("users"),
                        column: s("name"),
                    },
                    false,
                ),
                (
                    Effect::ColumnNullable {
                        table: s("users"),
                        column: s("name"),
                    },
                    true,
                ),
                (
                    Effect::ColumnNullable {
                        table: s("users"),
                        column: s("email"),
                    },
                    false,
                ),
                (
                    Effect::ColumnNullable {
                        table: s("users"),
                        column: s("tier"),
                    },
                    false,
                ),
                (
                    Effect::ColumnHasDefault {
                        table: s("users"),
                        column: s("name"),
                    },
                    true,
                ),
                (
                    Effect::ColumnHasDefault {
                        table: s("users"),
                        column: s("score"),
                    },
                    true,
                ),
                (
                    Effect::ColumnHasDefault {
                        table: s("users"),
                        column: s("created_at"),
                    },
                    true,
                ),
                (
                    Effect::ColumnHasDefault {
                        table: s("users"),
                        column: s("email"),
                    },
                    false,
                ),
                (
                    Effect::ColumnHasDefault {
                        table: s("users"),
                        column: s("nickname"),
                    },
                    false,
                ),
                (
                    Effect::ColumnHasDefault {
                        table: s("orders"),
                        column: s("total_cents"),
                    },
                    false,
                ),
                (
                    Effect::ColumnHasDefault {
                        table: s("users"),
                        column: s("tier"),
                    },
                    false,
                ),
                (
                    Effect::ColumnHasNoDefault {
                        table: s("users"),
                        column: s("email"),
                    },
                    true,
                ),
                (
                    Effect::ColumnHasNoDefault {
                        table: s("users"),
                        column: s("nickname"),
                    },
                    true,
                ),
                (
                    Effect::ColumnHasNoDefault {
                        table: s("users"),
                        column: s("name"),
                    },
                    false,
                ),
                (
                    Effect::ColumnType {
                        table: s("users"),
                        column: s("email"),
                        data_type: s("VARCHAR(200)"),
                    },
                    true,
                ),
                (
                    Effect::ColumnType {
                        table: s("users"),
                        column: s("email"),
                        data_type: s("varchar(100)"),
                    },
                    false,
                ),
                (
                    Effect::ColumnType {
                        table: s("users"),
                        column: s("id"),
                        data_type: s("BIGINT"),
                    },
                    true,
                ),
                (
                    Effect::ColumnType {
                        table: s("users"),
                        column: s("id"),
                        data_type: s("INT"),
                    },
                    false,
                ),
                (
                    Effect::ColumnType {
                        table: s("orders"),
                        column: s("total"),
                        data_type: s("NUMERIC(10, 2)"),
                    },
                    true,
                ),
                (
                    Effect::ColumnType {
                        table: s("users"),
                        column: s("tier"),
                        data_type: s("text"),
                    },
                    false,
                ),
                (
                    Effect::IndexValid {
                        index: s("orders_open_idx"),
                    },
                    true,
                ),
                (
                    Effect::IndexValid {
                        index: s("users_email_key"),
                    },
                    true,
                ),
                (
                    Effect::IndexValid {
                        index: s("orders_closed_idx"),
                    },
                    false,
                ),
                (
                    Effect::IndexAbsent {
                        index: s("orders_closed_idx"),
                    },
                    true,
                ),
                (
                    Effect::IndexAbsent {
                        index: s("orders_open_idx"),
                    },
                    false,
                ),
                (
                    Effect::ConstraintExists {
                        table: s("orders"),
                        constraint: s("orders_user_fk"),
                    },
                    true,
                ),
                (
                    Effect::ConstraintExists {
                        table: s("users"),
                        constraint: s("orders_user_fk"),
                    },
                    false,
                ),
                (
                    Effect::ConstraintExists {
                        table: s("users"),
                        constraint: s("PRIMARY"),
                    },
                    true,
                ),
                (
                    Effect::ConstraintExists {
                        table: s("users"),
                        constraint: s("users_email_key"),
                    },
                    true,
                ),
                (
                    Effect::ConstraintExists {
                        table: s("orders"),
                        constraint: s("orders_total_check"),
                    },
                    true,
                ),
                (
                    Effect::ConstraintValidated {
                        table: s("orders"),
                        constraint: s("orders_user_fk"),
                    },
                    true,
                ),
                (
                    Effect::ConstraintValidated {
                        table: s("orders"),
                        constraint: s("orders_total_check"),
                    },
                    true,
                ),
                (
                    Effect::ConstraintValidated {
                        table: s("orders"),
                        constraint: s("orders_note_check"),
                    },
                    false,
                ),
                (
                    Effect::ConstraintAbsent {
                        table: s("orders"),
                        constraint: s("orders_user_fk"),
                    },
                    false,
                ),
                (
                    Effect::ConstraintAbsent {
                        table: s("orders"),
                        constraint: s("orders_note_check"),
                    },
                    true,
                ),
                (
                    Effect::TriggerExists {
                        table: s("users"),
                        trigger: s("users_touch"),
                    },
                    true,
                ),
                (
                    Effect::TriggerExists {
                        table: s("orders"),
                        trigger: s("users_touch"),
                    },
                    false,
                ),
                (
                    Effect::TriggerExists {
                        table: s("users"),
                        trigger: s("USERS_TOUCH"),
                    },
                    false,
                ),
                (
                    Effect::TriggerAbsent {
                        table: s("users"),
                        trigger: s("users_touch"),
                    },
                    false,
                ),
                (
                    Effect::TriggerAbsent {
                        table: s("users"),
                        trigger: s("users_sync"),
                    },
                    true,
                ),
                (Effect::RecordedOnly, false),
                (Effect::Rerunnable, false),
            ];
            for (effect, expected) in cases {
                assert_eq!(
                    my.effect_present(&effect).await.unwrap(),
                    expected,
                    "{effect:?}"
                );
            }
        })
        .await;
    }

    #[tokio::test]
    async fn execute_retries_until_the_metadata_lock_is_released() {
        with_database(|url| async move {
            let mut my = engine(&url, "CREATE TABLE t (id INT PRIMARY KEY)").await;
            let lock = my.try_lock().await.unwrap();
            let mut holder = hold_lock(&url, "SELECT * FROM t").await;
            let release = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                holder.run("COMMIT").await.unwrap();
            });
            let step = sql_step(
                &["ALTER TABLE t ADD COLUMN a INT, ALGORITHM=INSTANT"],
                Effect::ColumnExists {
                    table: "t".into(),
                    column: "a".into(),
                },
            );
            let started = Instant::now();
            let attempts = my.execute(&lock, &step, &policy(100, 50)).await.unwrap();
            release.await.unwrap();
            assert!(attempts > 1, "attempts: {attempts}");
            // Each attempt waited lock_wait_timeout = 1 s: a session that
            // waited for ever would still be waiting, one that did not wait
            // would have needed many more attempts.
            assert!(attempts <= 3, "attempts: {attempts}");
            assert!(started.elapsed() >= Duration::from_millis(1500));
            assert!(my.effect_present(&step.effect).await.unwrap());
            // The session's waits are back to the server's defaults.
            let mut fresh = connect(&url).await.unwrap();
            for name in ["lock_wait_timeout", "innodb_lock_wait_timeout"] {
                assert_eq!(
                    session_var(&mut my, name).await,
                    session_var(&mut fresh, name).await,
                    "{name}"
                );
            }
        })
        .await;
    }

    #[tokio::test]
    async fn execute_gives_up_when_the_lock_is_never_released() {
        with_database(|url| async move {
            let mut my = engine(&url, "CREATE TABLE t (id INT PRIMARY KEY)").await;
            let lock = my.try_lock().await.unwrap();
            let _holder = hold_lock(&url, "SELECT * FROM t").await;
            let step = sql_step(
                &["CREATE INDEX t_id_idx ON t (id) ALGORITHM=INPLACE LOCK=NONE"],
                Effect::IndexValid {
                    index: "t_id_idx".into(),
                },
            );
            let started = Instant::now();
            match my.execute(&lock, &step, &policy(200, 2)).await {
                Err(EngineError::LockTimeout {
                    statement,
                    attempts,
                    timeout_ms,
                }) => {
                    assert_eq!(
                        (statement.as_str(), attempts, timeout_ms),
                        (step.statements[0].as_str(), 2, 1000)
                    );
                }
                other => panic!("expected LockTimeout, got {other:?}"),
            }
            let elapsed = started.elapsed();
            assert!(
                elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(5),
                "{elapsed:?}"
            );
            assert!(!my.effect_present(&step.effect).await.unwrap());
            let default = session_var(&mut connect(&url).await.unwrap(), "lock_wait_timeout").await;
            assert_eq!(session_var(&mut my, "lock_wait_timeout").await, default);
        })
        .await;
    }

    #[tokio::test]
    async fn execute_resumes_at_the_blocked_statement() {
        with_database(|url| async move {
            let mut my = engine(&url, "CREATE TABLE a (id INT); CREATE TABLE b (id INT)").await;
            let lock = my.try_lock().await.unwrap();
            let _holder = hold_lock(&url, "SELECT * FROM b").await;
            let step = sql_step(
                &[
                    "ALTER TABLE a ADD COLUMN x INT",
                    "ALTER TABLE b ADD COLUMN y INT",
                ],
                Effect::ColumnExists {
                    table: "b".into(),
                    column: "y".into(),
                },
            );
            // Had a retry run the first statement again, it would fail with
            // "Duplicate column name" instead of waiting on the second.
            match my.execute(&lock, &step, &policy(100, 2)).await {
                Err(EngineError::LockTimeout {
                    statement,
                    attempts: 2,
                    ..
                }) => {
                    assert_eq!(statement, step.statements[1])
                }
                other => panic!("expected LockTimeout, got {other:?}"),
            }
            assert!(my
                .effect_present(&Effect::ColumnExists {
                    table: "a".into(),
                    column: "x".into()
                })
                .await
                .unwrap());
        })
        .await;
    }

    const PARENT_CHILD: &str = "CREATE TABLE parent (id INT PRIMARY KEY);
        CREATE TABLE child (id INT PRIMARY KEY, parent_id INT NOT NULL, KEY child_parent_idx (parent_id));
        INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1)";

    fn add_foreign_key(middle: &str) -> SqlStep {
        sql_step(
            &[
                "SET SESSION foreign_key_checks = 0",
                middle,
                "SET SESSION foreign_key_checks = 1",
            ],
            Effect::ConstraintExists {
                table: "child".into(),
                constraint: "child_parent_fk".into(),
            },
        )
    }

    #[tokio::test]
    async fn foreign_key_checks_bracket_is_reopened_and_always_restored() {
        with_database(|url| async move {
            let mut my = engine(&url, PARENT_CHILD).await;
            let lock = my.try_lock().await.unwrap();

            // A failure inside the bracket: the session's checks are back on.
            let broken = add_foreign_key("ALTER TABLE missing ADD COLUMN x INT");
            match my.execute(&lock, &broken, &policy(100, 3)).await {
                Err(EngineError::Sql { statement, message }) => {
                    assert_eq!(statement, broken.statements[1]);
                    assert!(message.contains("(ERROR 1146, SQLSTATE 42S02)"), "{message}");
                }
                other => panic!("expected an SQL error, got {other:?}"),
            }
            assert_eq!(session_var(&mut my, "foreign_key_checks").await, "1");

            // Blocked inside the bracket, then retried: InnoDB adds a foreign
            // key in place only with the checks off, so the retry succeeds
            // only because the bracket was opened again before it.
            let mut holder = hold_lock(&url, "SELECT * FROM child").await;
            let release = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                holder.run("COMMIT").await.unwrap();
            });
            let step = add_foreign_key(
                "ALTER TABLE child ADD CONSTRAINT child_parent_fk FOREIGN KEY (parent_id) REFERENCES parent (id), ALGORITHM=INPLACE, LOCK=NONE",
            );
            let attempts = my.execute(&lock, &step, &policy(100, 50)).await.unwrap();
            release.await.unwrap();
            assert!(attempts > 1, "attempts: {attempts}");
            assert!(my.effect_present(&step.effect).await.unwrap());
            assert_eq!(session_var(&mut my, "foreign_key_checks").await, "1");
        })
        .await;
    }

    #[tokio::test]
    async fn lock_tables_bracket_is_released_after_a_failure() {
        with_database(|url| async move {
            let mut my = engine(&url, PARENT_CHILD).await;
            let lock = my.try_lock().await.unwrap();
            let step = sql_step(
                &[
                    "LOCK TABLES child WRITE",
                    "ALTER TABLE child ADD COLUMN parent_id INT",
                    "UNLOCK TABLES",
                ],
                Effect::ColumnExists {
                    table: "child".into(),
                    column: "parent_id".into(),
                },
            );
            match my.execute(&lock, &step, &policy(100, 3)).await {
                Err(EngineError::Sql { statement, message }) => {
                    assert_eq!(statement, step.statements[1]);
                    assert!(message.contains("Duplicate column name"), "{message}");
                }
                other => panic!("expected an SQL error, got {other:?}"),
            }
            // Under LOCK TABLES this session could not read another table,
            // and other sessions could not write this one.
            assert_eq!(my.count("SELECT COUNT(*) FROM parent").await.unwrap(), 1);
            let mut other = engine(&url, "SET SESSION lock_wait_timeout = 1").await;
            other.run("INSERT INTO child VALUES (2, 1)").await.unwrap();
        })
        .await;
    }

    #[tokio::test]
    async fn transactional_steps_retry_from_the_start() {
        with_database(|url| async move {
            let mut my = engine(&url, "CREATE TABLE t (id INT PRIMARY KEY, n INT NOT NULL)").await;
            my.run("INSERT INTO t VALUES (1, 0), (2, 0)").await.unwrap();
            let lock = my.try_lock().await.unwrap();
            let mut holder = hold_lock(&url, "SELECT * FROM t WHERE id = 2 FOR UPDATE").await;
            let release = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                holder.run("COMMIT").await.unwrap();
            });
            let step = SqlStep {
                transactional: true,
                ..sql_step(
                    &[
                        "UPDATE t SET n = n + 1 WHERE id = 1",
                        "UPDATE t SET n = n + 1 WHERE id = 2",
                    ],
                    Effect::RecordedOnly,
                )
            };
            let attempts = my.execute(&lock, &step, &policy(100, 50)).await.unwrap();
            release.await.unwrap();
            assert!(attempts > 1, "attempts: {attempts}");
            // The first update was rolled back with each blocked attempt.
            assert_eq!(my.count("SELECT SUM(n) FROM t").await.unwrap(), 2);
            assert_eq!(my.count("SELECT MAX(n) FROM t").await.unwrap(), 1);
        })
        .await;
    }

    struct BackfillCase {
        name: &'static str,
        setup: &'static str,
        key: &'static [&'static str],
        /// Whether the recorded keys order in Rust as the column does (not
        /// dates recorded as text).
        rust_order: bool,
    }

    /// 10,000 rows: 1..=10000 from four digits (MySQL and MariaDB bound
    /// recursive CTEs differently).
    const BACKFILLS: &[BackfillCase] = &[
        BackfillCase {
            name: "integer key",
            setup: "CREATE TABLE digits (d INT); INSERT INTO digits VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9);
                    CREATE TABLE items (id INT UNSIGNED PRIMARY KEY, n INT NOT NULL DEFAULT 0);
                    INSERT INTO items (id) SELECT i * 3 FROM (SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d AS i FROM digits a, digits b, digits c, digits e) g",
            key: &["id"],
            rust_order: true,
        },
        BackfillCase {
            name: "varchar key",
            setup: "CREATE TABLE digits (d INT); INSERT INTO digits VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9);
                    CREATE TABLE items (code VARCHAR(40) PRIMARY KEY, n INT NOT NULL DEFAULT 0);
                    INSERT INTO items (code) SELECT MD5(i) FROM (SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d AS i FROM digits a, digits b, digits c, digits e) g",
            key: &["code"],
            rust_order: true,
        },
        // Bytes that are not UTF-8, zero bytes, 0xff: compared byte by byte.
        BackfillCase {
            name: "varbinary key",
            setup: "CREATE TABLE digits (d INT); INSERT INTO digits VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9);
                    CREATE TABLE items (id VARBINARY(17) PRIMARY KEY, n INT NOT NULL DEFAULT 0);
                    INSERT INTO items (id) SELECT CONCAT(IF(i % 2, 0x00, 0xff), UNHEX(MD5(i))) FROM (SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d AS i FROM digits a, digits b, digits c, digits e) g",
            key: &["id"],
            rust_order: true,
        },
        BackfillCase {
            name: "binary key, padded with zero bytes",
            setup: "CREATE TABLE digits (d INT); INSERT INTO digits VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9);
                    CREATE TABLE items (id BINARY(8) PRIMARY KEY, n INT NOT NULL DEFAULT 0);
                    INSERT INTO items (id) SELECT UNHEX(LPAD(HEX(i * 7919), 8, '0')) FROM (SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d AS i FROM digits a, digits b, digits c, digits e) g",
            key: &["id"],
            rust_order: true,
        },
        BackfillCase {
            name: "datetime(6) key",
            setup: "CREATE TABLE digits (d INT); INSERT INTO digits VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9);
                    CREATE TABLE items (at DATETIME(6) PRIMARY KEY, n INT NOT NULL DEFAULT 0);
                    INSERT INTO items (at) SELECT '1999-12-31 23:00:00' + INTERVAL i * 3601000001 MICROSECOND FROM (SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d AS i FROM digits a, digits b, digits c, digits e) g",
            key: &["at"],
            rust_order: false,
        },
        BackfillCase {
            name: "composite key: date, time(3), varbinary, int",
            setup: "CREATE TABLE digits (d INT); INSERT INTO digits VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9);
                    CREATE TABLE items (day DATE, t TIME(3), tag VARBINARY(4), k INT, n INT NOT NULL DEFAULT 0, PRIMARY KEY (day, t, tag, k));
                    INSERT INTO items (day, t, tag, k) SELECT '2024-02-27' + INTERVAL i % 5 DAY, SEC_TO_TIME(i % 7 * 100000 - 300000 + 0.125), UNHEX(ELT(i % 3 + 1, 'FE', 'FF00', '00')), i FROM (SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d AS i FROM digits a, digits b, digits c, digits e) g",
            key: &["day", "t", "tag", "k"],
            rust_order: false,
        },
    ];

    fn backfill_step(key: &[&str]) -> BackfillStep {
        BackfillStep {
            engine: EngineKind::Mysql,
            table: "items".to_string(),
            key: key.iter().map(|k| k.to_string()).collect(),
            set: "`n` = `n` + 1".to_string(),
            // Every row in range is updated: ranges that overlapped or left
            // a gap would show as n <> 1.
            pending: "TRUE".to_string(),
            batch_size: 1000,
            pause_ms: 0,
        }
    }

    /// Run up to `max` batches from `lower`: the rows of each, and where
    /// the walk stands (`None`: done).
    async fn walk(
        my: &mut Mysql,
        lock: &RunLock,
        step: &BackfillStep,
        mut lower: Option<Vec<KeyValue>>,
        max: usize,
        rust_order: bool,
    ) -> (Vec<u64>, Option<Vec<KeyValue>>) {
        let mut rows = Vec::new();
        while rows.len() < max {
            let outcome = my
                .backfill_batch(lock, step, lower.as_deref(), &policy(100, 3))
                .await
                .unwrap();
            rows.push(outcome.rows);
            match outcome.upper {
                Some(upper) => {
                    // Integer keys, hex strings and bytes order the same
                    // in Rust and in the column's collation.
                    assert!(
                        !rust_order || lower.as_ref().is_none_or(|l| upper > *l),
                        "keys advance: {upper:?}"
                    );
                    lower = Some(upper);
                }
                None => return (rows, None),
            }
        }
        (rows, lower)
    }

    #[tokio::test]
    async fn backfill_walks_every_row_once_and_resumes_from_a_key() {
        for case in BACKFILLS {
            with_database(|url| async move {
                let step = backfill_step(case.key);
                let mut my = engine(&url, case.setup).await;
                let lock = my.try_lock().await.unwrap();
                let (first, saved) = walk(&mut my, &lock, &step, None, 3, case.rust_order).await;
                assert_eq!(first, [1000; 3], "{}", case.name);
                assert!(saved.is_some());
                my.unlock(lock).await.unwrap();
                drop(my);

                // A new process resumes from the saved key, as the state
                // file holds it.
                let saved = serde_json::to_string(&saved).unwrap();
                let saved = serde_json::from_str(&saved).unwrap();
                let mut my = connect(&url).await.unwrap();
                let lock = my.try_lock().await.unwrap();
                let (rest, end) =
                    walk(&mut my, &lock, &step, saved, usize::MAX, case.rust_order).await;
                assert_eq!(end, None);
                assert_eq!(rest, [vec![1000; 7], vec![0]].concat(), "{}", case.name);
                assert_eq!(
                    my.count("SELECT COUNT(*) FROM items WHERE n <> 1")
                        .await
                        .unwrap(),
                    0,
                    "{}",
                    case.name
                );
            })
            .await;
        }
    }

    /// Keys bound as bytes and as date-time text compare as the column's
    /// type: the batch's range is a range on the primary key.
    #[tokio::test]
    async fn binary_and_temporal_key_ranges_use_the_primary_key() {
        with_database(|url| async move {
            let mut my = engine(&url, "CREATE TABLE digits (d INT); INSERT INTO digits VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9);
                CREATE TABLE items (id VARBINARY(16), at DATETIME(6), n INT NOT NULL DEFAULT 0, PRIMARY KEY (id), UNIQUE KEY (at));
                INSERT INTO items (id, at) SELECT UNHEX(MD5(i)), '2024-01-01' + INTERVAL i SECOND FROM (SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d AS i FROM digits a, digits b, digits c, digits e) g;
                ANALYZE TABLE items").await;
            let lock = my.try_lock().await.unwrap();
            for (key, ty, lower, upper, index) in [
                ("id", KeyType::Bytes, KeyValue::Bytes(vec![0x10, 0xff]), KeyValue::Bytes(vec![0x11]), "PRIMARY"),
                ("at", KeyType::Temporal, KeyValue::Text("2024-01-01 00:10:00.5".into()), KeyValue::Text("2024-01-01 00:20:00".into()), "at"),
            ] {
                let step = backfill_step(&[key]);
                for sql in [step.upper_key_sql(true), step.update_sql(true, true)] {
                    let explain = format!("EXPLAIN {sql}");
                    let mut values = vec![ty.bind(&lower, &sql).unwrap()];
                    if sql.starts_with("UPDATE") {
                        values.push(ty.bind(&upper, &sql).unwrap());
                    }
                    let rows: Vec<Row> = my.conn.exec(&explain, params(values)).await.unwrap();
                    let row = rows.first().unwrap();
                    let cell = |name: &str| row.get_opt::<Option<String>, _>(name).and_then(|v| v.ok()).flatten();
                    assert_eq!(cell("type").as_deref(), Some("range"), "{sql}");
                    assert_eq!(cell("key").as_deref(), Some(index), "{sql}");
                }
            }
            // The bytes and the fraction compare exactly: 0x10ff < key <= 0x11,
            // 00:10:00.5 < at <= 00:20:00.
            let step = backfill_step(&["id"]);
            let step = BackfillStep { batch_size: 100000, ..step };
            let lower = [KeyValue::Bytes(vec![0x10, 0xff])];
            let outcome = my.backfill_batch(&lock, &step, Some(&lower), &policy(100, 3)).await.unwrap();
            assert_eq!(outcome.rows as i64, my.count("SELECT COUNT(*) FROM items WHERE id > 0x10ff").await.unwrap());
            let step = backfill_step(&["at"]);
            let lower = [KeyValue::Text("2024-01-01 00:10:00.5".into())];
            let step = BackfillStep { batch_size: 600, ..step };
            let outcome = my.backfill_batch(&lock, &step, Some(&lower), &policy(100, 3)).await.unwrap();
            assert_eq!(outcome.rows, 600);
            assert_eq!(outcome.upper, Some(vec![KeyValue::Text("2024-01-01 00:20:00".into())]));
        })
        .await;
    }

    #[tokio::test]
    async fn backfill_waits_out_row_locks_with_retries() {
        with_database(|url| async move {
            let mut my = engine(&url, BACKFILLS[0].setup).await;
            let lock = my.try_lock().await.unwrap();
            let step = backfill_step(&["id"]);
            let mut holder = hold_lock(&url, "SELECT * FROM items WHERE id = 30 FOR UPDATE").await;
            match my.backfill_batch(&lock, &step, None, &policy(100, 2)).await {
                Err(EngineError::LockTimeout {
                    statement,
                    attempts: 2,
                    timeout_ms: 1000,
                }) => {
                    assert_eq!(statement, step.update_sql(false, true));
                }
                other => panic!("expected LockTimeout, got {other:?}"),
            }
            assert_eq!(
                my.count("SELECT COUNT(*) FROM items WHERE n <> 0")
                    .await
                    .unwrap(),
                0,
                "rolled back"
            );

            let release = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                holder.run("COMMIT").await.unwrap();
            });
            let outcome = my
                .backfill_batch(&lock, &step, None, &policy(100, 50))
                .await
                .unwrap();
            release.await.unwrap();
            assert_eq!(
                outcome,
                BatchOutcome {
                    rows: 1000,
                    upper: Some(vec![KeyValue::Int(3000)])
                }
            );
            // Rows the update leaves as they are do not count.
            let mut unchanged = step.clone();
            unchanged.set = "`n` = `n`".to_string();
            let outcome = my
                .backfill_batch(&lock, &unchanged, None, &policy(100, 3))
                .await
                .unwrap();
            assert_eq!(outcome.rows, 0);
        })
        .await;
    }

    #[tokio::test]
    async fn backfill_refuses_unsupported_and_mismatched_keys() {
        with_database(|url| async move {
            let mut my = engine(&url, "CREATE TABLE docs (amount DECIMAL(10,2) PRIMARY KEY, at TIMESTAMP NULL, n INT NOT NULL DEFAULT 0); INSERT INTO docs (amount) VALUES (1.5);
                CREATE TABLE stamps (at TIMESTAMP(6) PRIMARY KEY, n INT NOT NULL DEFAULT 0); INSERT INTO stamps (at) VALUES ('2026-01-01 00:00:00')").await;
            let lock = my.try_lock().await.unwrap();
            for (table, key, ty) in [("docs", "amount", "decimal"), ("stamps", "at", "timestamp")] {
                let mut step = backfill_step(&[key]);
                step.table = table.to_string();
                match my.backfill_batch(&lock, &step, None, &policy(100, 3)).await {
                    Err(EngineError::Unsupported(message)) => {
                        assert!(message.contains(&format!("key column {key} of type {ty} is not supported (supported: TINYINT, SMALLINT")), "{message}");
                    }
                    other => panic!("expected Unsupported, got {other:?}"),
                }
                // The list the message names is the planner's.
                assert_eq!(EngineKind::Mysql.key_class(ty), None);
            }
            // A saved key of the wrong kind for the column.
            my.run(BACKFILLS[0].setup).await.unwrap();
            let step = backfill_step(&["id"]);
            let resumed = [KeyValue::Text("a".into())];
            match my.backfill_batch(&lock, &step, Some(&resumed), &policy(100, 3)).await {
                Err(EngineError::Sql { message, .. }) => {
                    assert_eq!(message, "key value `a` does not fit a parameter of type unsigned integer")
                }
                other => panic!("expected a key mismatch, got {other:?}"),
            }
            let negative = [KeyValue::Int(-1)];
            assert!(matches!(
                my.backfill_batch(&lock, &step, Some(&negative), &policy(100, 3)).await,
                Err(EngineError::Sql { .. })
            ));
            let two = [KeyValue::Int(1), KeyValue::Int(2)];
            match my.backfill_batch(&lock, &step, Some(&two), &policy(100, 3)).await {
                Err(EngineError::Sql { message, .. }) => assert_eq!(message, "2 key values given for 1 key columns"),
                other => panic!("{other:?}"),
            }
            assert_eq!(my.count("SELECT COUNT(*) FROM items WHERE n <> 0").await.unwrap(), 0);
        })
        .await;
    }

    #[tokio::test]
    async fn count_sample_estimates_lag_and_load() {
        with_database(|url| async move {
            let mut my = engine(
                &url,
                "CREATE TABLE t (id INT PRIMARY KEY, label VARCHAR(10));
                 INSERT INTO t VALUES (1, NULL), (2, 'even'), (3, NULL), (4, 'even');
                 CREATE TABLE fresh (id INT PRIMARY KEY);
                 ANALYZE TABLE t",
            )
            .await;
            assert_eq!(my.count("SELECT COUNT(*) FROM t WHERE label IS NULL").await.unwrap(), 2);
            assert_eq!(my.count("SELECT 7").await.unwrap(), 7);
            let bad = [
                ("SELECT 1, 2", "expected one row with one integer, got 1 row(s) with a NULL or several columns"),
                ("SELECT NULL", "expected one row with one integer, got 1 row(s) with a NULL or several columns"),
                ("SELECT 1 FROM t WHERE FALSE", "expected one row with one integer, got 0 row(s)"),
                ("SELECT 'x'", "expected an integer, got `x`"),
            ];
            for (sql, expected) in bad {
                match my.count(sql).await {
                    Err(EngineError::Sql { statement, message }) => assert_eq!((statement.as_str(), message.as_str()), (sql, expected)),
                    other => panic!("{sql}: {other:?}"),
                }
            }
            match my.count("SELECT COUNT(*) FROM missing").await {
                Err(EngineError::Sql { statement, message }) => {
                    assert_eq!(statement, "SELECT COUNT(*) FROM missing");
                    assert!(message.ends_with("doesn't exist (ERROR 1146, SQLSTATE 42S02)"), "{message}");
                }
                other => panic!("expected an SQL error, got {other:?}"),
            }
            assert_eq!(
                my.sample("SELECT id, label FROM t ORDER BY id LIMIT 2").await.unwrap(),
                vec![vec!["1".to_string(), "NULL".to_string()], vec!["2".to_string(), "even".to_string()]]
            );
            assert_eq!(my.estimate_rows("t").await.unwrap(), Some(4));
            assert_eq!(my.estimate_rows("fresh").await.unwrap(), Some(0));
            assert_eq!(my.estimate_rows("missing").await.unwrap(), None);
            // This test server is a primary without a source.
            assert_eq!(my.replica_lag().await.unwrap(), None);
            assert!(my.threads_running().await.unwrap() >= 1);
        })
        .await;
    }

    #[tokio::test]
    async fn connection_errors_never_show_the_password() {
        let admin = admin_url();
        let raw = admin.expose();
        let host_port = &raw[raw.find('@').map_or(8, |i| i + 1)..];
        let host_port = &host_port[..host_port.find('/').unwrap_or(host_port.len())];
        let cases = [
            (
                "mysql://zd_nobody:s3cr3t-pw@127.0.0.1:1/test".to_string(),
                "Connection refused",
            ),
            (
                format!("mysql://zd_nobody:s3cr3t-pw@{host_port}/test"),
                "Access denied for user 'zd_nobody'",
            ),
            (
                format!("mariadb://zd_nobody:s3cr3t-pw@{host_port}/test?ssl-mode=DISABLED"),
                "(ERROR 1045, SQLSTATE 28000)",
            ),
            (
                format!("mysql://zd_nobody@{host_port}/test?password=s3cr3t-pw"),
                "Unknown connection URL parameter `password'",
            ),
            (
                "mysql://zd_nobody:s3cr3t-pw@127.0.0.1:1/test?ssl-mode=bogus".to_string(),
                "unknown ssl-mode `bogus`",
            ),
            (
                format!("mysql://zd_nobody:s3cr3t-pw@{host_port}"),
                "the URL names no database",
            ),
        ];
        for (raw, reason) in cases {
            let url = DatabaseUrl::parse(&raw).unwrap();
            let error = match connect(&url).await {
                Err(error) => error,
                Ok(_) => panic!("{raw}: connected"),
            };
            let shown = error.to_string();
            assert!(
                shown.starts_with(&format!("cannot connect to {}: ", url.redacted())),
                "{shown}"
            );
            assert!(shown.contains(reason), "{shown}");
            assert!(
                !shown.contains("s3cr3t-pw") && !format!("{error:?}").contains("s3cr3t-pw"),
                "{shown}"
            );
        }
    }

    #[tokio::test]
    async fn ssl_mode_decides_encryption() {
        let mut admin = connect(&admin_url()).await.unwrap();
        let have_ssl = admin.text_rows("SELECT @@have_ssl").await.unwrap()[0][0]
            .clone()
            .unwrap();
        let base = admin_url().expose().split('?').next().unwrap().to_string();
        let cipher = |mode: &'static str| {
            let base = base.clone();
            async move {
                let url = DatabaseUrl::parse(&format!("{base}?ssl-mode={mode}")).unwrap();
                let mut my = connect(&url).await?;
                let rows = my
                    .text_rows("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
                    .await
                    .unwrap();
                Ok::<String, EngineError>(rows[0][1].clone().unwrap_or_default())
            }
        };
        assert_eq!(cipher("DISABLED").await.unwrap(), "");
        assert_eq!(
            cipher("PREFERRED").await.unwrap().is_empty(),
            have_ssl != "YES"
        );
        match cipher("REQUIRED").await {
            Ok(cipher) => assert!(have_ssl == "YES" && !cipher.is_empty()),
            Err(error) => assert!(
                have_ssl != "YES"
                    && error
                        .to_string()
                        .contains("server does not have this capability"),
                "{error}"
            ),
        }
        // A local server's certificate is self-signed: not trusted by the
        // webpki roots.
        if have_ssl == "YES" {
            let error = cipher("VERIFY_CA").await.unwrap_err().to_string();
            assert!(error.contains("invalid peer certificate"), "{error}");
        }
    }
}
