//! PostgreSQL: the engine over tokio-postgres, TLS through rustls.
//!
//! Every catalog look-up is scoped to the current schema (the first existing
//! schema of `search_path`, usually `public`) and takes names as bind
//! parameters. zerodown's own objects live in the `zerodown` schema (the
//! history table) and are never part of the introspected model.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{to_sql_checked, Format, IsNull, ToSql, Type};
use tokio_postgres::{Client, Config, Row, SimpleQueryMessage, Transaction};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::attempt::{count_of, sample_of, Attempt, Retries};
use super::{
    BatchOutcome, DatabaseIdentity, DatabaseUrl, Engine, EngineError, HistoryRecord, KeyValue,
    LockPolicy, RunLock, TaskStatus,
};
use crate::dialect::{EngineKind, KeyClass};
use crate::ops::{BackfillStep, Effect, RebuildStep, SqlStep};
use crate::schema::{Column, Constraint, ConstraintKind, Index, Schema, Table, View};

/// The key of zerodown's session-level advisory lock: the first 8 bytes of
/// SHA-256("zerodown"), big-endian (`0x8626a1b74d7bc3a7`). Fixed, so an
/// operator can find the holder in `pg_locks` (advisory, `classid`
/// 2250678711, `objid` 1299956647, `objsubid` 1). Advisory locks are per
/// database, so runs against different databases of one server do not meet.
pub const RUN_LOCK_KEY: i64 = -8_780_152_614_861_159_513;

/// How long a connection attempt may take when the URL does not say
/// (`connect_timeout`): an unreachable host fails instead of hanging.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

const APPLICATION_NAME: &str = "zerodown";

/// The relations of the current schema; zerodown's own schemas never count.
const IN_CURRENT_SCHEMA: &str =
    "n.nspname = current_schema() AND n.nspname NOT IN ('zerodown', 'zerodown_trash')";

/// A connection to one PostgreSQL database.
pub struct Postgres {
    client: Client,
    /// Whether `zerodown.history` is known to exist on this connection.
    history_ready: bool,
}

/// Connect with TLS as the URL's `sslmode` asks (libpq's meanings):
/// `disable` never encrypts; `prefer` (the default) encrypts when the server
/// offers TLS; `require` always encrypts; neither checks the certificate,
/// as libpq does without a root certificate file. `verify-ca` also checks
/// the chain against the Mozilla roots (webpki-roots), `verify-full` the
/// chain and the host name. `allow` is read as `prefer`: both accept either.
/// The session's `application_name` is `zerodown` unless the URL sets one.
pub async fn connect(url: &DatabaseUrl) -> Result<Postgres, EngineError> {
    let shown = url.redacted();
    let fail = |message: String| EngineError::Connect {
        url: shown.clone(),
        message,
    };
    let (driver_url, sslmode) = split_sslmode(url.expose());
    let mut config: Config = driver_url
        .parse()
        .map_err(|e: tokio_postgres::Error| fail(error_message(&e)))?;
    let tls_mode = TlsMode::parse(sslmode.as_deref()).map_err(fail)?;
    config.ssl_mode(tls_mode.driver_mode());
    if config.get_application_name().is_none() {
        config.application_name(APPLICATION_NAME);
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let tls = MakeRustlsConnect::new(tls_config(tls_mode).map_err(fail)?);
    let (client, connection) = config
        .connect(tls)
        .await
        .map_err(|e| fail(without_password(error_message(&e), config.get_password())))?;
    // The connection's own error, if it dies, reaches the caller through the
    // client: every later call fails with "connection closed".
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(Postgres {
        client,
        history_ready: false,
    })
}

/// libpq's `sslmode` values. tokio-postgres parses only `disable`, `prefer`
/// and `require`, so the URL's `sslmode` is taken out before it parses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TlsMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl TlsMode {
    fn parse(value: Option<&str>) -> Result<Self, String> {
        match value {
            None | Some("prefer") | Some("allow") => Ok(TlsMode::Prefer),
            Some("disable") => Ok(TlsMode::Disable),
            Some("require") => Ok(TlsMode::Require),
            Some("verify-ca") => Ok(TlsMode::VerifyCa),
            Some("verify-full") => Ok(TlsMode::VerifyFull),
            Some(other) => Err(format!(
                "unknown sslmode `{other}`: use disable, allow, prefer, require, verify-ca or verify-full"
            )),
        }
    }

    fn driver_mode(self) -> SslMode {
        match self {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        }
    }
}

/// The URL without its `sslmode` query parameters, and the last `sslmode`.
fn split_sslmode(raw: &str) -> (String, Option<String>) {
    let Some((base, query)) = raw.split_once('?') else {
        return (raw.to_string(), None);
    };
    let mut sslmode = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|param| match param.split_once('=') {
            Some(("sslmode", value)) => {
                sslmode = Some(value.to_string());
                false
            }
            _ => true,
        })
        .collect();
    if kept.is_empty() {
        (base.to_string(), sslmode)
    } else {
        (format!("{base}?{}", kept.join("&")), sslmode)
    }
}

fn tls_config(mode: TlsMode) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = match mode {
        TlsMode::VerifyFull => builder.with_root_certificates(roots).with_no_client_auth(),
        TlsMode::VerifyCa => {
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("TLS setup: {e}"))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
                .with_no_client_auth()
        }
        // Disable never starts TLS; the connector is only there for the type.
        TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(
                provider.signature_verification_algorithms,
            )))
            .with_no_client_auth(),
    };
    Ok(config)
}

/// `prefer` / `require`: encrypt without authenticating the server, as libpq
/// does. The handshake signatures are still checked.
#[derive(Debug)]
struct EncryptOnly(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the name may differ.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the name only after the chain verified.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Driver messages do not echo the password; this makes sure of it.
fn without_password(message: String, password: Option<&[u8]>) -> String {
    match password.and_then(|p| std::str::from_utf8(p).ok()) {
        Some(p) if !p.is_empty() => message.replace(p, "***"),
        _ => message,
    }
}

/// The server's message with its SQLSTATE, detail and hint; for other
/// errors the driver's message and its causes (the driver's own text alone
/// says only "error performing TLS handshake" or "db error").
fn error_message(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        let mut message = format!("{} (SQLSTATE {})", db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            message.push_str(&format!("\n  detail: {detail}"));
        }
        if let Some(hint) = db.hint() {
            message.push_str(&format!("\n  hint: {hint}"));
        }
        return message;
    }
    let mut message = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        message.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    message
}

fn sql_error(statement: &str, error: &tokio_postgres::Error) -> EngineError {
    EngineError::Sql {
        statement: statement.to_string(),
        message: error_message(error),
    }
}

/// Lock timeouts, deadlocks and serialization failures: the work itself is
/// fine, another session was in the way. Rolled back and tried again.
fn is_retryable(error: &tokio_postgres::Error) -> bool {
    matches!(
        error.code(),
        Some(code) if *code == SqlState::LOCK_NOT_AVAILABLE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
    )
}

/// `SET [LOCAL] lock_timeout = <ms>`: an integer, not user input.
fn set_lock_timeout(local: bool, policy: &LockPolicy) -> String {
    let scope = if local { "SET LOCAL" } else { "SET" };
    format!(
        "{scope} lock_timeout = {}",
        policy.lock_timeout.as_millis().max(1)
    )
}

/// An RFC 3339 UTC timestamp as `to_char` renders it (microseconds), with
/// the fraction trimmed of trailing zeros (dropped when zero).
const RFC3339_UTC: &str = r#"'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"#;

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

const HISTORY_DDL: &str = "CREATE SCHEMA IF NOT EXISTS zerodown;
CREATE TABLE IF NOT EXISTS zerodown.history (
    version integer NOT NULL,
    plan_hash text NOT NULL,
    phase text NOT NULL,
    task_id text NOT NULL,
    status text NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    error text,
    PRIMARY KEY (version, task_id)
)";

const HISTORY_UPSERT: &str = "INSERT INTO zerodown.history
    (version, plan_hash, phase, task_id, status, started_at, finished_at, error)
VALUES ($1, $2, $3, $4, $5, CAST($6::text AS timestamptz), CAST($7::text AS timestamptz), $8)
ON CONFLICT (version, task_id) DO UPDATE SET
    plan_hash = EXCLUDED.plan_hash, phase = EXCLUDED.phase, status = EXCLUDED.status,
    started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, error = EXCLUDED.error";

/// How a key column of a backfill is read and bound: by the driver's own
/// type (integers, strings, bytea), or through its text form (uuid,
/// numeric, dates and times: [`KeyClass::TextForm`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyRead {
    Native,
    /// Read as `to_json(key) #>> '{}'`: the ISO 8601 text of a date or
    /// time whatever the session's `DateStyle` (`key::text` under `SQL,
    /// DMY` gives `17/03/2024 10:00:00 IST`, a zone abbreviation that reads
    /// back as another offset, and a saved key must read back the same in
    /// the session that resumes), the plain text of the other types. Bound
    /// back as a text-format parameter, which the server converts to the
    /// column's type with the type's input function: the comparison stays
    /// on the column's type, and uses its index.
    TextForm,
}

impl KeyRead {
    /// How a key column of catalog type `ty` is walked, from the one list
    /// of walkable key types ([`EngineKind::key_class`]); a type of no
    /// built-in schema (a domain, an enum, an extension's type) is not on
    /// it, even under a built-in name.
    fn of(ty: &Type, column: &str) -> Result<KeyRead, EngineError> {
        let class = (ty.schema() == "pg_catalog")
            .then(|| EngineKind::Postgres.key_class(ty.name()))
            .flatten();
        match class {
            // PostgreSQL's internal one-byte `"char"`, not `char(n)`.
            Some(KeyClass::Text) if *ty == Type::CHAR => Ok(KeyRead::TextForm),
            Some(KeyClass::Int | KeyClass::Text | KeyClass::Bytes) => Ok(KeyRead::Native),
            Some(KeyClass::TextForm) => Ok(KeyRead::TextForm),
            None => Err(unsupported_key_type(ty, column)),
        }
    }

    /// The select-list expression that reads the quoted key column.
    fn select(self, column: &str) -> String {
        match self {
            KeyRead::Native => column.to_string(),
            KeyRead::TextForm => format!("to_json({column}) #>> '{{}}'"),
        }
    }
}

/// A key value bound in text format, for the server to convert to the
/// parameter's type (see [`KeyRead::TextForm`]).
#[derive(Debug)]
struct TextForm(String);

impl ToSql for TextForm {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

/// A key value as a bind parameter of the type the server expects.
fn key_param(
    value: &KeyValue,
    ty: &Type,
    statement: &str,
) -> Result<Box<dyn ToSql + Sync + Send>, EngineError> {
    let mismatch = || EngineError::Sql {
        statement: statement.to_string(),
        message: format!("key value `{value}` does not fit a parameter of type {ty}"),
    };
    let read = KeyRead::of(ty, "")?;
    match (value, ty, read) {
        (KeyValue::Int(i), &Type::INT2, _) => {
            Ok(Box::new(i16::try_from(*i).map_err(|_| mismatch())?))
        }
        (KeyValue::Int(i), &Type::INT4, _) => {
            Ok(Box::new(i32::try_from(*i).map_err(|_| mismatch())?))
        }
        (KeyValue::Int(i), &Type::INT8, _) => Ok(Box::new(*i)),
        (KeyValue::Text(s), &Type::TEXT | &Type::VARCHAR | &Type::BPCHAR | &Type::NAME, _) => {
            Ok(Box::new(s.clone()))
        }
        (KeyValue::Bytes(b), &Type::BYTEA, _) => Ok(Box::new(b.clone())),
        (KeyValue::Text(s), _, KeyRead::TextForm) => Ok(Box::new(TextForm(s.clone()))),
        _ => Err(mismatch()),
    }
}

fn unsupported_key_type(ty: &Type, column: &str) -> EngineError {
    let ty = match ty.schema() {
        "pg_catalog" => ty.name().to_string(),
        schema => format!("{schema}.{}", ty.name()),
    };
    let column = match column {
        "" => String::new(),
        c => format!(" {c}"),
    };
    EngineError::Unsupported(format!(
        "a backfill walks the primary key, and key column{column} of type {ty} is not supported (supported: {})",
        EngineKind::Postgres.walkable_key_types()
    ))
}

/// Bind `values` to the statement's parameters, in order.
fn key_params(
    values: &[&KeyValue],
    types: &[Type],
    statement: &str,
) -> Result<Vec<Box<dyn ToSql + Sync + Send>>, EngineError> {
    if values.len() != types.len() {
        return Err(EngineError::Sql {
            statement: statement.to_string(),
            message: format!(
                "{} key values given for {} parameters",
                values.len(),
                types.len()
            ),
        });
    }
    values
        .iter()
        .zip(types)
        .map(|(value, ty)| key_param(value, ty, statement))
        .collect()
}

/// Read a key row back as key values (the select list of
/// [`Postgres::key_reads`]: text-form columns arrive as text).
fn key_values(row: &Row, statement: &str) -> Result<Vec<KeyValue>, EngineError> {
    let read_error = |e: tokio_postgres::Error| sql_error(statement, &e);
    row.columns()
        .iter()
        .enumerate()
        .map(|(i, column)| match *column.type_() {
            Type::INT2 => Ok(KeyValue::Int(i64::from(
                row.try_get::<_, i16>(i).map_err(read_error)?,
            ))),
            Type::INT4 => Ok(KeyValue::Int(i64::from(
                row.try_get::<_, i32>(i).map_err(read_error)?,
            ))),
            Type::INT8 => Ok(KeyValue::Int(row.try_get::<_, i64>(i).map_err(read_error)?)),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => Ok(KeyValue::Text(
                row.try_get::<_, String>(i).map_err(read_error)?,
            )),
            Type::BYTEA => Ok(KeyValue::Bytes(
                row.try_get::<_, Vec<u8>>(i).map_err(read_error)?,
            )),
            ref other => Err(unsupported_key_type(other, column.name())),
        })
        .collect()
}

fn as_params(boxes: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    boxes
        .iter()
        .map(|b| b.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// The modifier list of a type name (`numeric(10, 2)` → `10,2`), without
/// spaces; `None` when it has none.
fn type_modifiers(type_name: &str) -> Option<String> {
    let (_, rest) = type_name.split_once('(')?;
    let (inside, _) = rest.split_once(')')?;
    Some(inside.chars().filter(|c| !c.is_whitespace()).collect())
}

/// The modifiers PostgreSQL stores for a type name written as `written`,
/// where it fills in defaults: `numeric(p)` is `numeric(p,0)`, a bare
/// `char` / `bit` has length 1.
fn stored_modifiers(written: &str, typname: &str) -> Option<String> {
    match (type_modifiers(written), typname) {
        (Some(m), "numeric" | "_numeric") if !m.contains(',') => Some(format!("{m},0")),
        (None, "bpchar" | "_bpchar" | "bit" | "_bit") => Some("1".to_string()),
        (m, _) => m,
    }
}

/// The catalog query that shows an effect, its parameters, and whether the
/// effect is the query's negation.
fn effect_query(effect: &Effect) -> Option<(String, Vec<&str>, bool)> {
    let relation = |kinds: &str| {
        format!(
            "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {IN_CURRENT_SCHEMA} AND c.relkind IN ({kinds}) AND c.relname = $1"
        )
    };
    let attribute = |condition: &str| {
        format!(
            "SELECT 1 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {IN_CURRENT_SCHEMA} AND c.relkind IN ('r', 'p') AND c.relname = $1 \
             AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped{condition}"
        )
    };
    // A generated column keeps its expression in pg_attrdef too: not a default.
    let has_default = "(a.attgenerated = '' AND EXISTS (SELECT 1 FROM pg_attrdef d \
                       WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum))";
    let constraint_row = |condition: &str| {
        format!(
            "SELECT 1 FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {IN_CURRENT_SCHEMA} AND c.relname = $1 AND k.conname = $2{condition}"
        )
    };
    let trigger_row = format!(
        "SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {IN_CURRENT_SCHEMA} AND c.relname = $1 AND t.tgname = $2 AND NOT t.tgisinternal"
    );
    let valid_index = format!(
        "SELECT 1 FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {IN_CURRENT_SCHEMA} AND c.relname = $1 AND x.indisvalid"
    );
    let (sql, params, negate) = match effect {
        Effect::TableExists { table } => (relation("'r', 'p'"), vec![table], false),
        Effect::TableAbsent { table } => (relation("'r', 'p'"), vec![table], true),
        Effect::ColumnExists { table, column } => (attribute(""), vec![table, column], false),
        Effect::ColumnAbsent { table, column } => (attribute(""), vec![table, column], true),
        Effect::ColumnNotNull { table, column } => {
            (attribute(" AND a.attnotnull"), vec![table, column], false)
        }
        Effect::ColumnNullable { table, column } => (
            attribute(" AND NOT a.attnotnull"),
            vec![table, column],
            false,
        ),
        Effect::ColumnHasDefault { table, column } => (
            attribute(&format!(" AND {has_default}")),
            vec![table, column],
            false,
        ),
        Effect::ColumnHasNoDefault { table, column } => (
            attribute(&format!(" AND NOT {has_default}")),
            vec![table, column],
            false,
        ),
        // Compared in Rust: see `column_type_matches`.
        Effect::ColumnType { .. } | Effect::RecordedOnly | Effect::Rerunnable => return None,
        Effect::IndexValid { index } => (valid_index, vec![index], false),
        Effect::IndexAbsent { index } => (relation("'i', 'I'"), vec![index], true),
        Effect::ConstraintExists { table, constraint } => {
            (constraint_row(""), vec![table, constraint], false)
        }
        Effect::ConstraintValidated { table, constraint } => (
            constraint_row(" AND k.convalidated"),
            vec![table, constraint],
            false,
        ),
        Effect::ConstraintAbsent { table, constraint } => {
            (constraint_row(""), vec![table, constraint], true)
        }
        Effect::TriggerExists { table, trigger } => (trigger_row, vec![table, trigger], false),
        Effect::TriggerAbsent { table, trigger } => (trigger_row, vec![table, trigger], true),
        Effect::ViewExists { view } => (relation("'v'"), vec![view], false),
        Effect::ViewAbsent { view } => (relation("'v'"), vec![view], true),
    };
    let params = params.into_iter().map(String::as_str).collect();
    Some((format!("SELECT EXISTS ({sql})"), params, negate))
}

impl Postgres {
    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, EngineError> {
        self.client
            .query(sql, params)
            .await
            .map_err(|e| sql_error(sql, &e))
    }

    async fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, EngineError> {
        self.client
            .query_one(sql, params)
            .await
            .map_err(|e| sql_error(sql, &e))
    }

    /// Who holds the run lock, as far as `pg_stat_activity` shows it.
    async fn lock_holder(&self) -> Result<Option<String>, EngineError> {
        // A bigint advisory key is stored as classid (high half), objid (low
        // half), objsubid 1.
        let key = RUN_LOCK_KEY as u64;
        let (high, low) = ((key >> 32) as u32, key as u32);
        let sql = format!(
            "SELECT a.pid, a.application_name, a.client_addr::text, \
             to_char(a.backend_start AT TIME ZONE 'UTC', {RFC3339_UTC}) \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 1 \
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        );
        let rows = self.query(&sql, &[&high, &low]).await?;
        Ok(rows.first().map(|row| {
            let pid: i32 = row.get(0);
            let application: Option<String> = row.get(1);
            let client: Option<String> = row.get(2);
            let since: Option<String> = row.get(3);
            let mut parts = vec![format!("pid {pid}")];
            if let Some(application) = application.filter(|a| !a.is_empty()) {
                parts.push(format!("application {application}"));
            }
            parts.push(match client {
                Some(addr) => format!("client {addr}"),
                None => "client on a local socket".to_string(),
            });
            if let Some(since) = since {
                parts.push(format!("connected since {}", trim_fraction(since)));
            }
            parts.join(", ")
        }))
    }

    async fn column_type_matches(
        &self,
        table: &str,
        column: &str,
        data_type: &str,
    ) -> Result<bool, EngineError> {
        let sql = format!(
            "SELECT format_type(a.atttypid, a.atttypmod), a.atttypid = t.oid, t.typname::text \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_type t ON t.oid = to_regtype($3) \
             WHERE {IN_CURRENT_SCHEMA} AND c.relkind IN ('r', 'p') AND c.relname = $1 \
             AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped"
        );
        let rows = self.query(&sql, &[&table, &column, &data_type]).await?;
        let Some(row) = rows.first() else {
            return Ok(false);
        };
        let stored: String = row.get(0);
        let same_type: Option<bool> = row.get(1);
        let typname: Option<String> = row.get(2);
        // The server resolves the written name (aliases such as `int8` or
        // `varchar`, arrays); the modifiers, which `to_regtype` drops, are
        // compared as PostgreSQL would store them.
        Ok(match (same_type, typname) {
            (Some(true), Some(typname)) => {
                stored_modifiers(data_type, &typname) == type_modifiers(&stored)
            }
            _ => false,
        })
    }

    /// Drop an index of that name left INVALID by a failed concurrent build,
    /// so the build can run again.
    async fn drop_invalid_index(
        &mut self,
        index: &str,
        policy: &LockPolicy,
    ) -> Result<Attempt<()>, EngineError> {
        let find = format!(
            "SELECT n.nspname::text FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {IN_CURRENT_SCHEMA} AND c.relname = $1 AND NOT x.indisvalid"
        );
        let rows = self.query(&find, &[&index]).await?;
        let Some(schema) = rows.first().map(|r| r.get::<_, String>(0)) else {
            return Ok(Attempt::Done(()));
        };
        let pg = EngineKind::Postgres;
        let drop = format!(
            "DROP INDEX CONCURRENTLY IF EXISTS {}.{}",
            pg.quote_ident(&schema),
            pg.quote_ident(index)
        );
        self.run_one_by_one(std::slice::from_ref(&drop), &mut 0, policy)
            .await
    }

    /// Statements in one transaction under `SET LOCAL lock_timeout`.
    async fn run_transaction(
        &mut self,
        statements: &[String],
        policy: &LockPolicy,
    ) -> Result<Attempt<()>, EngineError> {
        let tx = self
            .client
            .transaction()
            .await
            .map_err(|e| sql_error("BEGIN", &e))?;
        let set = set_lock_timeout(true, policy);
        tx.batch_execute(&set)
            .await
            .map_err(|e| sql_error(&set, &e))?;
        for statement in statements {
            if let Err(error) = tx.batch_execute(statement).await {
                return failed(tx, statement, &error).await;
            }
        }
        match tx.commit().await {
            Ok(()) => Ok(Attempt::Done(())),
            Err(error) if is_retryable(&error) => Ok(Attempt::Blocked {
                statement: "COMMIT".to_string(),
            }),
            Err(error) => Err(sql_error("COMMIT", &error)),
        }
    }

    /// Statements that cannot run in a transaction block, one by one under a
    /// session `lock_timeout` that is reset afterwards. Starts at statement
    /// `completed` and advances it, so a retry resumes at the statement that
    /// was blocked instead of repeating committed ones.
    ///
    /// `lock_timeout` also bounds CREATE INDEX CONCURRENTLY's final wait for
    /// every older transaction in the database, on any table: a long one
    /// would fail the build after the work is done, leaving an INVALID index
    /// to drop and build again. Such statements block no reads or writes
    /// while they wait, so they get the longer `concurrent_lock_timeout`.
    async fn run_one_by_one(
        &mut self,
        statements: &[String],
        completed: &mut usize,
        policy: &LockPolicy,
    ) -> Result<Attempt<()>, EngineError> {
        let set = set_lock_timeout(
            false,
            &LockPolicy {
                lock_timeout: policy.concurrent_lock_timeout,
                ..policy.clone()
            },
        );
        self.client
            .batch_execute(&set)
            .await
            .map_err(|e| sql_error(&set, &e))?;
        let mut outcome = Ok(Attempt::Done(()));
        for statement in &statements[*completed..] {
            match self.client.batch_execute(statement).await {
                Ok(()) => *completed += 1,
                Err(error) => {
                    outcome = if is_retryable(&error) {
                        Ok(Attempt::Blocked {
                            statement: statement.clone(),
                        })
                    } else {
                        Err(sql_error(statement, &error))
                    };
                    break;
                }
            }
        }
        let reset = "RESET lock_timeout";
        let reset_result = self
            .client
            .batch_execute(reset)
            .await
            .map_err(|e| sql_error(reset, &e));
        // The statement's own failure says more than a failed reset after it.
        let outcome = outcome?;
        reset_result?;
        Ok(outcome)
    }

    /// How each key column of the backfill's table is read, from the types
    /// the server gives the key columns (the statement is only prepared).
    async fn key_reads(&self, step: &BackfillStep) -> Result<Vec<KeyRead>, EngineError> {
        let sql = step.upper_key_sql(false);
        let stmt = self
            .client
            .prepare(&sql)
            .await
            .map_err(|e| sql_error(&sql, &e))?;
        stmt.columns()
            .iter()
            .zip(&step.key)
            .map(|(column, name)| KeyRead::of(column.type_(), name))
            .collect()
    }

    /// One attempt at a backfill batch: find the upper key, update the range.
    async fn backfill_attempt(
        &mut self,
        step: &BackfillStep,
        reads: &[KeyRead],
        lower: Option<&[KeyValue]>,
        policy: &LockPolicy,
    ) -> Result<Attempt<BatchOutcome>, EngineError> {
        let tx = self
            .client
            .transaction()
            .await
            .map_err(|e| sql_error("BEGIN", &e))?;
        let set = set_lock_timeout(true, policy);
        tx.batch_execute(&set)
            .await
            .map_err(|e| sql_error(&set, &e))?;
        let lower: Vec<&KeyValue> = lower.map(|l| l.iter().collect()).unwrap_or_default();

        let upper_sql =
            step.upper_key_sql_reading(!lower.is_empty(), |column, i| reads[i].select(column));
        let upper_stmt = match tx.prepare(&upper_sql).await {
            Ok(stmt) => stmt,
            Err(error) => return failed(tx, &upper_sql, &error).await,
        };
        let params = key_params(&lower, upper_stmt.params(), &upper_sql)?;
        let upper = match tx.query_opt(&upper_stmt, &as_params(&params)).await {
            Ok(row) => row.map(|row| key_values(&row, &upper_sql)).transpose()?,
            Err(error) => return failed(tx, &upper_sql, &error).await,
        };

        let update_sql = step.update_sql(!lower.is_empty(), upper.is_some());
        let update_stmt = match tx.prepare(&update_sql).await {
            Ok(stmt) => stmt,
            Err(error) => return failed(tx, &update_sql, &error).await,
        };
        let values: Vec<&KeyValue> = lower
            .iter()
            .copied()
            .chain(upper.iter().flatten())
            .collect();
        let params = key_params(&values, update_stmt.params(), &update_sql)?;
        let rows = match tx.execute(&update_stmt, &as_params(&params)).await {
            Ok(rows) => rows,
            Err(error) => return failed(tx, &update_sql, &error).await,
        };
        match tx.commit().await {
            Ok(()) => Ok(Attempt::Done(BatchOutcome { rows, upper })),
            Err(error) if is_retryable(&error) => Ok(Attempt::Blocked {
                statement: "COMMIT".to_string(),
            }),
            Err(error) => Err(sql_error("COMMIT", &error)),
        }
    }

    /// Rows of a simple-protocol query, as text (`NULL` for a null).
    async fn text_rows(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, EngineError> {
        let messages = self
            .client
            .simple_query(sql)
            .await
            .map_err(|e| sql_error(sql, &e))?;
        Ok(messages
            .into_iter()
            .filter_map(|message| match message {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }
}

/// Roll back after `error` in `statement`: blocked by another session, or a
/// real failure.
async fn failed<T>(
    tx: Transaction<'_>,
    statement: &str,
    error: &tokio_postgres::Error,
) -> Result<Attempt<T>, EngineError> {
    // A failed rollback means a broken connection; the statement's error is
    // the one worth reporting, and the next call reports the connection.
    let _ = tx.rollback().await;
    if is_retryable(error) {
        Ok(Attempt::Blocked {
            statement: statement.to_string(),
        })
    } else {
        Err(sql_error(statement, error))
    }
}

impl Engine for Postgres {
    fn kind(&self) -> EngineKind {
        EngineKind::Postgres
    }

    async fn identity(&mut self) -> Result<DatabaseIdentity, EngineError> {
        let sql = "SELECT (SELECT system_identifier::text FROM pg_control_system()), current_database()::text";
        let row = self.query_one(sql, &[]).await?;
        Ok(DatabaseIdentity {
            engine: EngineKind::Postgres,
            server: row.get(0),
            database: row.get(1),
        })
    }

    async fn try_lock(&mut self) -> Result<RunLock, EngineError> {
        let row = self
            .query_one("SELECT pg_try_advisory_lock($1)", &[&RUN_LOCK_KEY])
            .await?;
        if row.get::<_, bool>(0) {
            Ok(RunLock { _held: () })
        } else {
            Err(EngineError::LockHeld {
                holder: self.lock_holder().await?,
            })
        }
    }

    async fn unlock(&mut self, _lock: RunLock) -> Result<(), EngineError> {
        let sql = "SELECT pg_advisory_unlock($1)";
        let row = self.query_one(sql, &[&RUN_LOCK_KEY]).await?;
        if row.get::<_, bool>(0) {
            Ok(())
        } else {
            Err(EngineError::Sql {
                statement: sql.to_string(),
                message: "the run lock was not held by this session".to_string(),
            })
        }
    }

    async fn history(&mut self) -> Result<Vec<HistoryRecord>, EngineError> {
        let exists = self
            .query_one("SELECT to_regclass('zerodown.history') IS NOT NULL", &[])
            .await?;
        if !exists.get::<_, bool>(0) {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT version, plan_hash, phase, task_id, status, \
             to_char(started_at AT TIME ZONE 'UTC', {RFC3339_UTC}), \
             to_char(finished_at AT TIME ZONE 'UTC', {RFC3339_UTC}), error \
             FROM zerodown.history ORDER BY version, started_at NULLS LAST, task_id"
        );
        let rows = self.query(&sql, &[]).await?;
        rows.iter()
            .map(|row| {
                let version: i32 = row.get(0);
                let status: String = row.get(4);
                let invalid = |what: String| EngineError::Sql {
                    statement: sql.clone(),
                    message: what,
                };
                Ok(HistoryRecord {
                    version: u32::try_from(version).map_err(|_| {
                        invalid(format!("negative version {version} in zerodown.history"))
                    })?,
                    plan_hash: row.get(1),
                    phase: row.get(2),
                    task_id: row.get(3),
                    status: TaskStatus::parse(&status).ok_or_else(|| {
                        invalid(format!(
                            "unknown task status `{status}` in zerodown.history"
                        ))
                    })?,
                    started_at: row.get::<_, Option<String>>(5).map(trim_fraction),
                    finished_at: row.get::<_, Option<String>>(6).map(trim_fraction),
                    error: row.get(7),
                })
            })
            .collect()
    }

    async fn record(&mut self, _lock: &RunLock, record: &HistoryRecord) -> Result<(), EngineError> {
        if !self.history_ready {
            self.client
                .batch_execute(HISTORY_DDL)
                .await
                .map_err(|e| sql_error(HISTORY_DDL, &e))?;
            self.history_ready = true;
        }
        let version = i32::try_from(record.version).map_err(|_| EngineError::Sql {
            statement: HISTORY_UPSERT.to_string(),
            message: format!(
                "version {} does not fit the history table's integer column",
                record.version
            ),
        })?;
        self.client
            .execute(
                HISTORY_UPSERT,
                &[
                    &version,
                    &record.plan_hash,
                    &record.phase,
                    &record.task_id,
                    &record.status.name(),
                    &record.started_at,
                    &record.finished_at,
                    &record.error,
                ],
            )
            .await
            .map_err(|e| sql_error(HISTORY_UPSERT, &e))?;
        Ok(())
    }

    async fn introspect(&mut self) -> Result<Schema, EngineError> {
        let namespace_sql = "SELECT current_schema()::text";
        let namespace = match self.query(namespace_sql, &[]).await?.first() {
            Some(row) => row.get(0),
            None => None,
        };
        let mut schema = Schema {
            namespace,
            ..Schema::default()
        };

        let tables_sql = format!(
            "SELECT c.relname::text, c.reltuples::float8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {IN_CURRENT_SCHEMA} AND c.relkind IN ('r', 'p')"
        );
        for row in self.query(&tables_sql, &[]).await? {
            let name: String = row.get(0);
            let reltuples: f64 = row.get(1);
            let mut table = Table::new(name.clone());
            // -1: never vacuumed or analysed (PostgreSQL 14+).
            table.row_estimate = (reltuples >= 0.0).then(|| reltuples.round() as u64);
            schema.tables.insert(name, table);
        }

        // Generated columns keep their expression in pg_attrdef too; it is
        // not a default.
        let columns_sql = format!(
            "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
             CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE {IN_CURRENT_SCHEMA} AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY c.relname, a.attnum"
        );
        for row in self.query(&columns_sql, &[]).await? {
            let table: String = row.get(0);
            if let Some(mut table) = schema.tables.get_mut(&table) {
                table.columns.push(Column {
                    name: row.get(1),
                    data_type: row.get(2),
                    nullable: !row.get::<_, bool>(3),
                    default: row.get(4),
                    drop_at: None,
                });
            }
        }

        let constraints_sql = format!(
            "SELECT c.relname::text, k.conname::text, k.contype::text, k.convalidated, \
             pg_get_expr(k.conbin, k.conrelid, true), \
             ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(num, pos) \
                   JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.num ORDER BY u.pos), \
             r.relname::text, \
             ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(num, pos) \
                   JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.num ORDER BY u.pos) \
             FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_class r ON r.oid = k.confrelid \
             WHERE {IN_CURRENT_SCHEMA} AND k.contype IN ('c', 'f', 'u', 'p')"
        );
        for row in self.query(&constraints_sql, &[]).await? {
            let table: String = row.get(0);
            let name: String = row.get(1);
            let contype: String = row.get(2);
            let columns: Vec<String> = row.get(5);
            let kind = match contype.as_str() {
                "c" => ConstraintKind::Check {
                    expr: row.get::<_, Option<String>>(4).unwrap_or_default(),
                },
                "f" => ConstraintKind::ForeignKey {
                    columns,
                    ref_table: row.get::<_, Option<String>>(6).unwrap_or_default(),
                    ref_columns: row.get(7),
                },
                "u" => ConstraintKind::Unique { columns },
                _ => ConstraintKind::PrimaryKey { columns },
            };
            if let Some(mut table) = schema.tables.get_mut(&table) {
                if let ConstraintKind::PrimaryKey { columns } = &kind {
                    table.primary_key = columns.clone();
                }
                table.constraints.insert(
                    name.clone(),
                    Constraint {
                        name,
                        kind,
                        validated: row.get(3),
                    },
                );
            }
        }

        // Per key position: the column's name, or NULL for an expression
        // (whose text pg_get_indexdef gives).
        let indexes_sql = format!(
            "SELECT i.relname::text, c.relname::text, x.indisunique, \
             ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true) FROM generate_series(1, x.indnkeyatts) k ORDER BY k), \
             ARRAY(SELECT a.attname::text FROM generate_series(1, x.indnkeyatts) k \
                   LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[k - 1] AND a.attnum > 0 \
                   ORDER BY k), \
             pg_get_expr(x.indpred, x.indrelid, true) \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {IN_CURRENT_SCHEMA}"
        );
        let pg = EngineKind::Postgres;
        for row in self.query(&indexes_sql, &[]).await? {
            let name: String = row.get(0);
            let definitions: Vec<String> = row.get(3);
            let plain: Vec<Option<String>> = row.get(4);
            let keys = definitions
                .into_iter()
                .zip(&plain)
                .map(|(definition, column)| {
                    column
                        .as_deref()
                        .map(|c| pg.quote_ident(c))
                        .unwrap_or(definition)
                })
                .collect();
            let index = Index {
                name: name.clone(),
                table: row.get(1),
                keys,
                columns: plain.into_iter().flatten().collect(),
                unique: row.get(2),
                predicate: row.get(5),
                drop_at: None,
            };
            schema.indexes.insert(name, index);
        }

        let views_sql = format!(
            "SELECT c.relname::text, pg_get_viewdef(c.oid, true) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {IN_CURRENT_SCHEMA} AND c.relkind = 'v'"
        );
        for row in self.query(&views_sql, &[]).await? {
            let name: String = row.get(0);
            let definition: String = row.get(1);
            let sql = definition
                .trim()
                .trim_end_matches(';')
                .trim_end()
                .to_string();
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
        let Some((sql, params, negate)) = effect_query(effect) else {
            return Ok(false);
        };
        let params: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let found: bool = self.query_one(&sql, &params).await?.get(0);
        Ok(found != negate)
    }

    async fn execute(
        &mut self,
        _lock: &RunLock,
        step: &SqlStep,
        policy: &LockPolicy,
    ) -> Result<u32, EngineError> {
        let rebuilt_index = match &step.effect {
            Effect::IndexValid { index } => Some(index.as_str()),
            _ => None,
        };
        // Statements of a non-transactional step that completed in an earlier
        // attempt are not run again.
        let mut completed = 0;
        let mut retries = Retries::new(policy, policy.lock_timeout);
        loop {
            let prepared = match rebuilt_index {
                Some(index) => self.drop_invalid_index(index, policy).await?,
                None => Attempt::Done(()),
            };
            let outcome = match prepared {
                Attempt::Blocked { statement } => Attempt::Blocked { statement },
                Attempt::Done(()) if step.transactional => {
                    self.run_transaction(&step.statements, policy).await?
                }
                Attempt::Done(()) => {
                    self.run_one_by_one(&step.statements, &mut completed, policy)
                        .await?
                }
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
            "a table rebuild of {} is a SQLite step: PostgreSQL alters tables in place",
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
        let reads = self.key_reads(step).await?;
        let mut retries = Retries::new(policy, policy.lock_timeout);
        loop {
            match self.backfill_attempt(step, &reads, lower, policy).await? {
                Attempt::Done(outcome) => return Ok(outcome),
                Attempt::Blocked { statement } => retries.blocked(statement).await?,
            }
        }
    }

    async fn estimate_rows(&mut self, table: &str) -> Result<Option<u64>, EngineError> {
        let sql = format!(
            "SELECT c.reltuples::float8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {IN_CURRENT_SCHEMA} AND c.relkind IN ('r', 'p') AND c.relname = $1"
        );
        let rows = self.query(&sql, &[&table]).await?;
        Ok(rows
            .first()
            .map(|row| row.get::<_, f64>(0))
            .filter(|t| *t >= 0.0)
            .map(|t| t.round() as u64))
    }

    async fn replica_lag(&mut self) -> Result<Option<Duration>, EngineError> {
        // A replica that has caught up and is idle shows no replay_lag: it
        // counts as no lag.
        let sql =
            "SELECT count(*), extract(epoch FROM max(replay_lag))::float8 FROM pg_stat_replication";
        let row = self.query_one(sql, &[]).await?;
        let replicas: i64 = row.get(0);
        let lag: Option<f64> = row.get(1);
        Ok((replicas > 0).then(|| Duration::from_secs_f64(lag.unwrap_or(0.0).max(0.0))))
    }

    async fn running_statements(&mut self) -> Result<Option<u64>, EngineError> {
        // Client sessions in a statement, server-wide like MySQL's
        // Threads_running (background workers and idle sessions left out).
        let sql = "SELECT count(*) FROM pg_stat_activity \
                   WHERE backend_type = 'client backend' AND state = 'active'";
        let row = self.query_one(sql, &[]).await?;
        Ok(Some(row.get::<_, i64>(0).max(0) as u64))
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::atomic::{AtomicU32, Ordering};

    use sha2::{Digest, Sha256};

    use super::*;

    const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

    fn admin_url() -> DatabaseUrl {
        let raw =
            std::env::var("ZERODOWN_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string());
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

    async fn admin_client() -> Client {
        connect(&admin_url()).await.unwrap().client
    }

    /// Run `test` against a fresh database, dropped afterwards even when the
    /// test fails.
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
        let quoted = EngineKind::Postgres.quote_ident(&name);
        let admin = admin_client().await;
        admin
            .batch_execute(&format!("CREATE DATABASE {quoted}"))
            .await
            .unwrap();
        let outcome = tokio::spawn(test(url_for(&name))).await;
        admin
            .batch_execute(&format!("DROP DATABASE {quoted} WITH (FORCE)"))
            .await
            .unwrap();
        if let Err(error) = outcome {
            std::panic::resume_unwind(error.into_panic());
        }
    }

    async fn engine(url: &DatabaseUrl, setup: &str) -> Postgres {
        let pg = connect(url).await.unwrap();
        pg.client.batch_execute(setup).await.unwrap();
        pg
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

    fn sql_step(statements: &[&str], transactional: bool, effect: Effect) -> SqlStep {
        SqlStep {
            statements: statements.iter().map(|s| s.to_string()).collect(),
            transactional,
            lock: "test".to_string(),
            effect,
        }
    }

    /// A second session that takes `lock_sql` in an open transaction.
    async fn hold_lock(url: &DatabaseUrl, lock_sql: &str) -> Client {
        let holder = connect(url).await.unwrap().client;
        holder
            .batch_execute(&format!("BEGIN; {lock_sql}"))
            .await
            .unwrap();
        holder
    }

    #[test]
    fn run_lock_key_is_derived_from_the_name() {
        let digest = Sha256::digest(b"zerodown");
        assert_eq!(
            RUN_LOCK_KEY,
            i64::from_be_bytes(digest[..8].try_into().unwrap())
        );
        let key = RUN_LOCK_KEY as u64;
        assert_eq!(
            ((key >> 32) as u32, key as u32),
            (2_250_678_711, 1_299_956_647)
        );
    }

    #[test]
    fn sslmode_is_taken_out_of_the_url() {
        let cases = [
            ("postgres://h/db", "postgres://h/db", None),
            (
                "postgres://h/db?sslmode=verify-full",
                "postgres://h/db",
                Some("verify-full"),
            ),
            (
                "postgres://h/db?connect_timeout=3&sslmode=require&application_name=x",
                "postgres://h/db?connect_timeout=3&application_name=x",
                Some("require"),
            ),
        ];
        for (raw, driver_url, sslmode) in cases {
            let (url, mode) = split_sslmode(raw);
            assert_eq!(
                (url.as_str(), mode.as_deref()),
                (driver_url, sslmode),
                "{raw}"
            );
        }
        assert_eq!(TlsMode::parse(None), Ok(TlsMode::Prefer));
        assert_eq!(TlsMode::parse(Some("verify-ca")), Ok(TlsMode::VerifyCa));
        assert!(TlsMode::parse(Some("verify"))
            .unwrap_err()
            .contains("unknown sslmode `verify`"));
    }

    #[test]
    fn type_modifiers_as_stored() {
        let cases = [
            ("numeric(10, 2)", "numeric", Some("10,2")),
            ("NUMERIC(10)", "numeric", Some("10,0")),
            ("CHAR", "bpchar", Some("1")),
            ("varchar(20)[]", "_varchar", Some("20")),
            ("VARCHAR", "varchar", None),
            ("timestamp(3) with time zone", "timestamptz", Some("3")),
        ];
        for (written, typname, stored) in cases {
            assert_eq!(
                stored_modifiers(written, typname).as_deref(),
                stored,
                "{written}"
            );
        }
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
            let mut pg = connect(&url).await.unwrap();
            let identity = pg.identity().await.unwrap();
            let row = pg
                .client
                .query_one(
                    "SELECT system_identifier::text FROM pg_control_system()",
                    &[],
                )
                .await
                .unwrap();
            assert_eq!(identity.engine, EngineKind::Postgres);
            assert_eq!(identity.server, row.get::<_, String>(0));
            assert!(
                identity.server.chars().all(|c| c.is_ascii_digit()) && !identity.server.is_empty()
            );
            assert_eq!(
                url.expose()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .split('?')
                    .next()
                    .unwrap(),
                identity.database
            );
            let app = pg
                .client
                .query_one("SHOW application_name", &[])
                .await
                .unwrap();
            assert_eq!(app.get::<_, String>(0), "zerodown");
        })
        .await;
    }

    #[tokio::test]
    async fn run_lock_is_exclusive_and_names_its_holder() {
        with_database(|url| async move {
            let mut first = connect(&url).await.unwrap();
            let mut second = connect(&url).await.unwrap();
            let lock = first.try_lock().await.unwrap();
            let first_pid: i32 = first
                .client
                .query_one("SELECT pg_backend_pid()", &[])
                .await
                .unwrap()
                .get(0);
            match second.try_lock().await {
                Err(EngineError::LockHeld {
                    holder: Some(holder),
                }) => {
                    assert!(
                        holder.starts_with(&format!(
                            "pid {first_pid}, application zerodown, client 127.0.0.1"
                        )),
                        "{holder}"
                    );
                    assert!(holder.contains("connected since "), "{holder}");
                }
                other => panic!("expected LockHeld, got {other:?}"),
            }
            first.unlock(lock).await.unwrap();
            let lock = second.try_lock().await.unwrap();
            second.unlock(lock).await.unwrap();
        })
        .await;
    }

    #[tokio::test]
    async fn history_round_trips_and_upserts() {
        with_database(|url| async move {
            let mut pg = connect(&url).await.unwrap();
            assert_eq!(pg.history().await.unwrap(), vec![]);
            let lock = pg.try_lock().await.unwrap();
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
            pg.record(&lock, &running).await.unwrap();
            pg.record(&lock, &other).await.unwrap();
            assert_eq!(
                pg.history().await.unwrap(),
                vec![running.clone(), other.clone()]
            );

            let failed = HistoryRecord {
                status: TaskStatus::Failed,
                finished_at: Some("2026-11-21T10:00:01.25Z".to_string()),
                error: Some("lock timeout".to_string()),
                ..running.clone()
            };
            pg.record(&lock, &failed).await.unwrap();
            assert_eq!(pg.history().await.unwrap(), vec![failed, other]);
            // Another connection (a later run) reads the same rows.
            let mut later = connect(&url).await.unwrap();
            assert_eq!(later.history().await.unwrap().len(), 2);
            pg.unlock(lock).await.unwrap();
        })
        .await;
    }

    const SHOP: &str = r#"
        CREATE TABLE users (
            id bigserial PRIMARY KEY,
            email varchar(200) NOT NULL,
            name text DEFAULT 'anon',
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT users_email_key UNIQUE (email)
        );
        CREATE TABLE orders (
            id bigint GENERATED ALWAYS AS IDENTITY,
            user_id bigint NOT NULL,
            total numeric(10,2) CHECK (total >= 0),
            note text,
            total_cents bigint GENERATED ALWAYS AS ((total * 100)::bigint) STORED,
            CONSTRAINT orders_pkey PRIMARY KEY (id),
            CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
        );
        ALTER TABLE orders ADD CONSTRAINT orders_user_nv_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
        ALTER TABLE orders DROP COLUMN note;
        ALTER TABLE orders ADD COLUMN note text;
        CREATE INDEX orders_open_idx ON orders (user_id, lower(note)) WHERE note IS NOT NULL;
        CREATE VIEW user_emails AS SELECT id, email FROM users;
        CREATE TABLE "Mixed Case" ("Id" int, "Two" int, PRIMARY KEY ("Two", "Id"));
        CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();
        CREATE SCHEMA zerodown;
        CREATE TABLE zerodown.history (x int);
        CREATE SCHEMA zerodown_trash;
        CREATE TABLE zerodown_trash.old_users (x int);
        CREATE SCHEMA other;
        CREATE TABLE other.elsewhere (x int);
        CREATE INDEX elsewhere_idx ON other.elsewhere (x);
    "#;

    fn column(name: &str, data_type: &str, nullable: bool, default: Option<&str>) -> Column {
        Column {
            name: name.to_string(),
            data_type: data_type.to_string(),
            nullable,
            default: default.map(str::to_string),
            drop_at: None,
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn introspect_reads_the_current_schema() {
        with_database(|url| async move {
            let mut pg = engine(&url, SHOP).await;
            pg.client.batch_execute("INSERT INTO users (email) SELECT 'u' || g FROM generate_series(1, 50) g; ANALYZE users").await.unwrap();
            let schema = pg.introspect().await.unwrap();

            assert_eq!(schema.tables.keys().collect::<Vec<_>>(), ["Mixed Case", "orders", "users"]);
            let users = &schema.tables["users"];
            assert_eq!(
                users.columns,
                vec![
                    column("id", "bigint", false, Some("nextval('users_id_seq'::regclass)")),
                    column("email", "character varying(200)", false, None),
                    column("name", "text", true, Some("'anon'::text")),
                    column("created_at", "timestamp with time zone", false, Some("now()")),
                ]
            );
            assert_eq!(users.primary_key, ["id"]);
            assert_eq!(users.row_estimate, Some(50));
            assert_eq!(
                users.constraints.values().cloned().collect::<Vec<_>>(),
                vec![
                    Constraint { name: "users_email_key".into(), kind: ConstraintKind::Unique { columns: strings(&["email"]) }, validated: true },
                    Constraint { name: "users_pkey".into(), kind: ConstraintKind::PrimaryKey { columns: strings(&["id"]) }, validated: true },
                ]
            );

            let orders = &schema.tables["orders"];
            assert_eq!(
                orders.columns,
                vec![
                    column("id", "bigint", false, None),
                    column("user_id", "bigint", false, None),
                    column("total", "numeric(10,2)", true, None),
                    column("total_cents", "bigint", true, None),
                    column("note", "text", true, None),
                ]
            );
            assert_eq!(orders.row_estimate, None, "never analysed");
            let fk = |name: &str, validated| Constraint {
                name: name.into(),
                kind: ConstraintKind::ForeignKey { columns: strings(&["user_id"]), ref_table: "users".into(), ref_columns: strings(&["id"]) },
                validated,
            };
            assert_eq!(
                orders.constraints.values().cloned().collect::<Vec<_>>(),
                vec![
                    Constraint { name: "orders_pkey".into(), kind: ConstraintKind::PrimaryKey { columns: strings(&["id"]) }, validated: true },
                    Constraint { name: "orders_total_check".into(), kind: ConstraintKind::Check { expr: "total >= 0::numeric".into() }, validated: true },
                    fk("orders_user_fk", true),
                    fk("orders_user_nv_fk", false),
                ]
            );
            assert_eq!(schema.tables["Mixed Case"].primary_key, ["Two", "Id"]);

            assert_eq!(schema.indexes.keys().collect::<Vec<_>>(), ["Mixed Case_pkey", "orders_open_idx", "orders_pkey", "users_email_key", "users_pkey"]);
            assert_eq!(
                schema.indexes["orders_open_idx"],
                Index {
                    name: "orders_open_idx".into(),
                    table: "orders".into(),
                    keys: strings(&["\"user_id\"", "lower(note)"]),
                    columns: strings(&["user_id"]),
                    unique: false,
                    predicate: Some("note IS NOT NULL".into()),
                    drop_at: None,
                }
            );
            assert_eq!(schema.indexes["Mixed Case_pkey"].keys, ["\"Two\"", "\"Id\""]);
            assert!(schema.indexes["users_email_key"].unique);

            assert_eq!(schema.views.keys().collect::<Vec<_>>(), ["user_emails"]);
            assert_eq!(schema.views["user_emails"].sql, "SELECT users.id,\n    users.email\n   FROM users");
        })
        .await;
    }

    #[tokio::test]
    async fn effects_read_the_catalog() {
        with_database(|url| async move {
            let mut pg = engine(&url, SHOP).await;
            // A failed concurrent build leaves an INVALID index.
            pg.client.batch_execute("INSERT INTO users (id, email) VALUES (1, 'a'), (2, 'A')").await.unwrap();
            let build = "CREATE UNIQUE INDEX CONCURRENTLY users_name_idx ON users (lower(email))";
            pg.client.batch_execute(build).await.unwrap_err();
            let s = |v: &str| v.to_string();
            let cases: Vec<(Effect, bool)> = vec![
                (Effect::TableExists { table: s("users") }, true),
                (Effect::TableExists { table: s("user_emails") }, false),
                (Effect::TableExists { table: s("elsewhere") }, false),
                (Effect::TableExists { table: s("Mixed Case") }, true),
                (Effect::TableAbsent { table: s("ghosts") }, true),
                (Effect::TableAbsent { table: s("orders") }, false),
                (Effect::ColumnExists { table: s("users"), column: s("email") }, true),
                (Effect::ColumnExists { table: s("orders"), column: s("........pg.dropped.3........") }, false),
                (Effect::ColumnExists { table: s("users"), column: s("ctid") }, false),
                (Effect::ColumnAbsent { table: s("users"), column: s("nickname") }, true),
                (Effect::ColumnAbsent { table: s("users"), column: s("name") }, false),
                (Effect::ColumnNotNull { table: s("users"), column: s("email") }, true),
                (Effect::ColumnNotNull { table: s("users"), column: s("name") }, false),
                (Effect::ColumnNullable { table: s("users"), column: s("name") }, true),
                (Effect::ColumnNullable { table: s("users"), column: s("email") }, false),
                (Effect::ColumnNullable { table: s("users"), column: s("nickname") }, false),
                (Effect::ColumnHasDefault { table: s("users"), column: s("name") }, true),
                (Effect::ColumnHasDefault { table: s("users"), column: s("email") }, false),
                (Effect::ColumnHasDefault { table: s("orders"), column: s("total_cents") }, false),
                (Effect::ColumnHasNoDefault { table: s("users"), column: s("email") }, true),
                (Effect::ColumnHasNoDefault { table: s("users"), column: s("name") }, false),
                (Effect::ColumnType { table: s("users"), column: s("email"), data_type: s("character varying(200)") }, true),
                (Effect::ColumnType { table: s("users"), column: s("email"), data_type: s("VARCHAR(200)") }, true),
                (Effect::ColumnType { table: s("users"), column: s("email"), data_type: s("VARCHAR(100)") }, false),
                (Effect::ColumnType { table: s("users"), column: s("email"), data_type: s("text") }, false),
                (Effect::ColumnType { table: s("users"), column: s("id"), data_type: s("BIGINT") }, true),
                (Effect::ColumnType { table: s("users"), column: s("id"), data_type: s("int8") }, true),
                (Effect::ColumnType { table: s("users"), column: s("id"), data_type: s("INT") }, false),
                (Effect::ColumnType { table: s("orders"), column: s("total"), data_type: s("NUMERIC(10, 2)") }, true),
                (Effect::ColumnType { table: s("orders"), column: s("total"), data_type: s("numeric") }, false),
                (Effect::ColumnType { table: s("users"), column: s("created_at"), data_type: s("TIMESTAMPTZ") }, true),
                (Effect::ColumnType { table: s("users"), column: s("nickname"), data_type: s("text") }, false),
                (Effect::ColumnType { table: s("users"), column: s("email"), data_type: s("no_such_type") }, false),
                (Effect::IndexValid { index: s("orders_open_idx") }, true),
                (Effect::IndexValid { index: s("users_pkey") }, true),
                (Effect::IndexValid { index: s("users_name_idx") }, false),
                (Effect::IndexValid { index: s("elsewhere_idx") }, false),
                (Effect::IndexAbsent { index: s("users_name_idx") }, false),
                (Effect::IndexAbsent { index: s("orders_open_idx") }, false),
                (Effect::IndexAbsent { index: s("orders_closed_idx") }, true),
                (Effect::ConstraintExists { table: s("orders"), constraint: s("orders_user_nv_fk") }, true),
                (Effect::ConstraintExists { table: s("users"), constraint: s("orders_user_nv_fk") }, false),
                (Effect::ConstraintValidated { table: s("orders"), constraint: s("orders_user_nv_fk") }, false),
                (Effect::ConstraintValidated { table: s("orders"), constraint: s("orders_user_fk") }, true),
                (Effect::ConstraintValidated { table: s("orders"), constraint: s("orders_total_check") }, true),
                (Effect::ConstraintAbsent { table: s("orders"), constraint: s("orders_user_fk") }, false),
                (Effect::ConstraintAbsent { table: s("orders"), constraint: s("orders_note_check") }, true),
                (Effect::TriggerExists { table: s("users"), trigger: s("users_touch") }, true),
                (Effect::TriggerExists { table: s("orders"), trigger: s("users_touch") }, false),
                (Effect::TriggerAbsent { table: s("users"), trigger: s("users_touch") }, false),
                (Effect::TriggerAbsent { table: s("users"), trigger: s("users_sync") }, true),
                (Effect::ViewExists { view: s("user_emails") }, true),
                (Effect::ViewExists { view: s("users") }, false),
                (Effect::ViewAbsent { view: s("user_emails") }, false),
                (Effect::ViewAbsent { view: s("order_totals") }, true),
                (Effect::RecordedOnly, false),
            ];
            // The FK's internal RI triggers never count as triggers.
            let internal: String = pg
                .client
                .query_one("SELECT tgname::text FROM pg_trigger WHERE tgisinternal AND tgrelid = 'orders'::regclass LIMIT 1", &[])
                .await
                .unwrap()
                .get(0);
            let mut cases = cases;
            cases.push((Effect::TriggerExists { table: s("orders"), trigger: internal.clone() }, false));
            cases.push((Effect::TriggerAbsent { table: s("orders"), trigger: internal }, true));
            for (effect, expected) in cases {
                assert_eq!(pg.effect_present(&effect).await.unwrap(), expected, "{effect:?}");
            }
        })
        .await;
    }

    #[tokio::test]
    async fn execute_retries_until_the_blocking_transaction_ends() {
        with_database(|url| async move {
            let mut pg = engine(&url, "CREATE TABLE t (id int PRIMARY KEY)").await;
            let lock = pg.try_lock().await.unwrap();
            let holder = hold_lock(&url, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE").await;
            let release = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                holder.batch_execute("COMMIT").await.unwrap();
            });
            let step = sql_step(
                &[
                    "ALTER TABLE t ADD COLUMN a int",
                    "ALTER TABLE t ADD COLUMN b int",
                ],
                true,
                Effect::ColumnExists {
                    table: "t".into(),
                    column: "b".into(),
                },
            );
            let attempts = pg.execute(&lock, &step, &policy(100, 50)).await.unwrap();
            release.await.unwrap();
            assert!(attempts > 1, "attempts: {attempts}");
            assert!(pg.effect_present(&step.effect).await.unwrap());
            // SET LOCAL ended with the transaction.
            let timeout: String = pg
                .client
                .query_one("SHOW lock_timeout", &[])
                .await
                .unwrap()
                .get(0);
            assert_eq!(timeout, "0");
        })
        .await;
    }

    #[tokio::test]
    async fn execute_gives_up_when_the_lock_is_never_released() {
        with_database(|url| async move {
            let mut pg = engine(&url, "CREATE TABLE t (id int PRIMARY KEY)").await;
            let lock = pg.try_lock().await.unwrap();
            let _holder = hold_lock(&url, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE").await;
            let steps = [
                sql_step(
                    &["ALTER TABLE t ADD COLUMN a int"],
                    true,
                    Effect::ColumnExists {
                        table: "t".into(),
                        column: "a".into(),
                    },
                ),
                sql_step(
                    &["CREATE INDEX CONCURRENTLY t_id_idx ON t (id)"],
                    false,
                    Effect::IndexValid {
                        index: "t_id_idx".into(),
                    },
                ),
            ];
            for step in steps {
                match pg.execute(&lock, &step, &policy(100, 3)).await {
                    Err(EngineError::LockTimeout {
                        statement,
                        attempts,
                        timeout_ms,
                    }) => {
                        assert_eq!(
                            (statement.as_str(), attempts, timeout_ms),
                            (step.statements[0].as_str(), 3, 100)
                        );
                    }
                    other => panic!("expected LockTimeout, got {other:?}"),
                }
                assert!(!pg.effect_present(&step.effect).await.unwrap());
                // The session's lock_timeout is back to its default.
                let timeout: String = pg
                    .client
                    .query_one("SHOW lock_timeout", &[])
                    .await
                    .unwrap()
                    .get(0);
                assert_eq!(timeout, "0");
            }
        })
        .await;
    }

    #[tokio::test]
    async fn execute_resumes_a_non_transactional_step_at_the_blocked_statement() {
        with_database(|url| async move {
            let mut pg = engine(&url, "CREATE TABLE a (id int); CREATE TABLE b (id int)").await;
            let lock = pg.try_lock().await.unwrap();
            let _holder = hold_lock(&url, "LOCK TABLE b IN ACCESS EXCLUSIVE MODE").await;
            let step = sql_step(
                &[
                    "CREATE INDEX CONCURRENTLY a_idx ON a (id)",
                    "CREATE INDEX CONCURRENTLY b_idx ON b (id)",
                ],
                false,
                Effect::IndexValid {
                    index: "b_idx".into(),
                },
            );
            // Had a retry run the first statement again, it would fail with
            // "already exists" instead of waiting on the second.
            match pg.execute(&lock, &step, &policy(100, 3)).await {
                Err(EngineError::LockTimeout {
                    statement,
                    attempts: 3,
                    ..
                }) => assert_eq!(statement, step.statements[1]),
                other => panic!("expected LockTimeout, got {other:?}"),
            }
            assert!(pg
                .effect_present(&Effect::IndexValid {
                    index: "a_idx".into()
                })
                .await
                .unwrap());
            assert!(pg
                .effect_present(&Effect::IndexAbsent {
                    index: "b_idx".into()
                })
                .await
                .unwrap());
        })
        .await;
    }

    #[tokio::test]
    async fn execute_rebuilds_an_invalid_index() {
        with_database(|url| async move {
            let mut pg = engine(&url, "CREATE TABLE t (id int PRIMARY KEY, code text); INSERT INTO t VALUES (1, 'x'), (2, 'x')").await;
            let lock = pg.try_lock().await.unwrap();
            let step = sql_step(
                &["CREATE UNIQUE INDEX CONCURRENTLY t_code_key ON t (code)"],
                false,
                Effect::IndexValid { index: "t_code_key".into() },
            );
            match pg.execute(&lock, &step, &policy(100, 3)).await {
                Err(EngineError::Sql { statement, message }) => {
                    assert_eq!(statement, step.statements[0]);
                    assert!(message.contains("could not create unique index \"t_code_key\" (SQLSTATE 23505)"), "{message}");
                    assert!(message.contains("detail: Key (code)=(x) is duplicated."), "{message}");
                }
                other => panic!("expected a unique violation, got {other:?}"),
            }
            // The failed build left an INVALID index behind.
            assert!(!pg.effect_present(&step.effect).await.unwrap());
            assert!(!pg.effect_present(&Effect::IndexAbsent { index: "t_code_key".into() }).await.unwrap());

            pg.client.batch_execute("UPDATE t SET code = 'y' WHERE id = 2").await.unwrap();
            assert_eq!(pg.execute(&lock, &step, &policy(100, 3)).await.unwrap(), 1);
            assert!(pg.effect_present(&step.effect).await.unwrap());
        })
        .await;
    }

    struct BackfillCase {
        name: &'static str,
        setup: &'static str,
        table: &'static str,
        key: &'static [&'static str],
        /// Whether the recorded keys order in Rust as the column does (not
        /// numbers or dates recorded as text).
        rust_order: bool,
    }

    const BACKFILLS: &[BackfillCase] = &[
        BackfillCase {
            name: "integer key",
            setup: "CREATE TABLE items (id integer PRIMARY KEY, n int NOT NULL DEFAULT 0);
                    INSERT INTO items (id) SELECT g * 3 FROM generate_series(1, 10000) g",
            table: "items",
            key: &["id"],
            rust_order: true,
        },
        BackfillCase {
            name: "text key",
            setup: "CREATE TABLE items (code text PRIMARY KEY, n int NOT NULL DEFAULT 0);
                    INSERT INTO items (code) SELECT md5(g::text) FROM generate_series(1, 10000) g",
            table: "items",
            key: &["code"],
            rust_order: true,
        },
        BackfillCase {
            name: "composite key, quoted names",
            setup: r#"CREATE TABLE "Line Items" ("Order" bigint, "Sku" varchar(20), n int NOT NULL DEFAULT 0, PRIMARY KEY ("Order", "Sku"));
                    INSERT INTO "Line Items" ("Order", "Sku") SELECT g % 7, 'sku-' || g FROM generate_series(1, 10000) g"#,
            table: "Line Items",
            key: &["Order", "Sku"],
            rust_order: true,
        },
        // Types read through their text form, written in one session's
        // DateStyle and time zone and read back in another's (the resume
        // connects with the server's defaults).
        BackfillCase {
            name: "uuid key",
            setup: "CREATE TABLE items (id uuid PRIMARY KEY, n int NOT NULL DEFAULT 0);
                    INSERT INTO items (id) SELECT md5(g::text)::uuid FROM generate_series(1, 10000) g",
            table: "items",
            key: &["id"],
            rust_order: true,
        },
        BackfillCase {
            name: "numeric key",
            setup: "CREATE TABLE items (amount numeric PRIMARY KEY, n int NOT NULL DEFAULT 0);
                    INSERT INTO items (amount) SELECT g / 8.0 - 600 FROM generate_series(1, 9998) g;
                    INSERT INTO items (amount) VALUES ('NaN'), (0.00000000000000000001)",
            table: "items",
            key: &["amount"],
            rust_order: false,
        },
        // The name PostgreSQL gives the select list's `to_json(…) #>> '{}'`:
        // an ORDER BY on the bare name would sort by the text.
        BackfillCase {
            name: "numeric key named ?column?",
            setup: r#"CREATE TABLE items ("?column?" numeric PRIMARY KEY, n int NOT NULL DEFAULT 0);
                    INSERT INTO items SELECT g / 8.0 - 600 FROM generate_series(1, 10000) g"#,
            table: "items",
            key: &["?column?"],
            rust_order: false,
        },
        BackfillCase {
            name: "timestamptz key, session in another DateStyle and time zone",
            setup: "SET DateStyle = 'SQL, DMY'; SET TimeZone = 'Asia/Kolkata';
                    CREATE TABLE items (at timestamptz PRIMARY KEY, n int NOT NULL DEFAULT 0);
                    INSERT INTO items (at) SELECT timestamptz '1900-01-01 00:00:00+00' + g * interval '1 day 1.000001 seconds' FROM generate_series(1, 9996) g;
                    INSERT INTO items (at) VALUES ('infinity'), ('-infinity'), ('0044-03-15 10:00:00+00 BC'), ('2024-03-31 02:30:00.5 Europe/Amsterdam')",
            table: "items",
            key: &["at"],
            rust_order: false,
        },
        BackfillCase {
            name: "composite key: date, timestamp, bytea",
            setup: "SET DateStyle = 'German';
                    CREATE TABLE items (day date, at timestamp(3), tag bytea, n int NOT NULL DEFAULT 0, PRIMARY KEY (day, at, tag));
                    INSERT INTO items (day, at, tag) SELECT date '2000-01-01' + g % 50, timestamp '2024-01-01 00:00:00.125' + (g % 3) * interval '1 hour', decode(md5(g::text), 'hex') FROM generate_series(1, 10000) g",
            table: "items",
            key: &["day", "at", "tag"],
            rust_order: false,
        },
        BackfillCase {
            name: "bytea key with zero bytes",
            setup: "CREATE TABLE items (tag bytea PRIMARY KEY, n int NOT NULL DEFAULT 0);
                    INSERT INTO items (tag) SELECT '\\x00'::bytea || decode(md5(g::text), 'hex') || '\\x00'::bytea FROM generate_series(1, 10000) g",
            table: "items",
            key: &["tag"],
            rust_order: true,
        },
    ];

    fn backfill_step(table: &str, key: &[&str]) -> BackfillStep {
        BackfillStep {
            engine: EngineKind::Postgres,
            table: table.to_string(),
            key: strings(key),
            set: "\"n\" = \"n\" + 1".to_string(),
            // Every row in range is updated: ranges that overlapped or left a
            // gap would show as n <> 1.
            pending: "TRUE".to_string(),
            batch_size: 1000,
            pause_ms: 0,
        }
    }

    /// Run up to `max` batches from `lower`: the rows of each, and where
    /// the walk stands (`None`: done). With `rust_order`, checks that each
    /// batch ends at a greater key.
    async fn walk(
        pg: &mut Postgres,
        lock: &RunLock,
        step: &BackfillStep,
        mut lower: Option<Vec<KeyValue>>,
        max: usize,
        rust_order: bool,
    ) -> (Vec<u64>, Option<Vec<KeyValue>>) {
        let mut rows = Vec::new();
        while rows.len() < max {
            let outcome = pg
                .backfill_batch(lock, step, lower.as_deref(), &policy(100, 3))
                .await
                .unwrap();
            rows.push(outcome.rows);
            match outcome.upper {
                Some(upper) => {
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
                let step = backfill_step(case.table, case.key);
                let mut pg = engine(&url, case.setup).await;
                let lock = pg.try_lock().await.unwrap();
                let (first, saved) = walk(&mut pg, &lock, &step, None, 3, case.rust_order).await;
                assert_eq!(first, [1000; 3], "{}", case.name);
                assert!(saved.is_some());
                pg.unlock(lock).await.unwrap();
                drop(pg);

                // A new process resumes from the saved key, as the state
                // file holds it.
                let saved = serde_json::to_string(&saved).unwrap();
                let saved = serde_json::from_str(&saved).unwrap();
                let mut pg = connect(&url).await.unwrap();
                let lock = pg.try_lock().await.unwrap();
                let (rest, end) =
                    walk(&mut pg, &lock, &step, saved, usize::MAX, case.rust_order).await;
                assert_eq!(end, None);
                assert_eq!(rest, [vec![1000; 7], vec![0]].concat(), "{}", case.name);
                let check = format!(
                    "SELECT count(*) FROM {} WHERE n <> 1",
                    EngineKind::Postgres.quote_ident(case.table)
                );
                assert_eq!(pg.count(&check).await.unwrap(), 0, "{}", case.name);
            })
            .await;
        }
    }

    /// A key bound in text form compares as the column's type: the batch's
    /// range is a range on the primary key's index.
    #[tokio::test]
    async fn text_form_key_ranges_use_the_primary_key_index() {
        with_database(|url| async move {
            let pg = engine(&url, "CREATE TABLE u (id uuid PRIMARY KEY, n int NOT NULL DEFAULT 0);
                INSERT INTO u (id) SELECT md5(g::text)::uuid FROM generate_series(1, 20000) g;
                CREATE TABLE m (day date, amount numeric, n int NOT NULL DEFAULT 0, PRIMARY KEY (day, amount));
                INSERT INTO m (day, amount) SELECT date '2000-01-01' + g % 1000, g / 8.0 FROM generate_series(1, 20000) g;
                ANALYZE u; ANALYZE m").await;
            for (table, key, lower, upper) in [
                ("u", &["id"][..], vec![KeyValue::Text("00000000-0000-0000-0000-000000000000".into())], vec![KeyValue::Text("01000000-0000-0000-0000-000000000000".into())]),
                ("m", &["day", "amount"][..], vec![KeyValue::Text("2000-02-01".into()), KeyValue::Text("1.5".into())], vec![KeyValue::Text("2000-02-02".into()), KeyValue::Text("0".into())]),
            ] {
                let step = backfill_step(table, key);
                let reads = pg.key_reads(&step).await.unwrap();
                assert!(reads.iter().all(|r| *r == KeyRead::TextForm), "{reads:?}");
                for sql in [
                    step.upper_key_sql_reading(true, |c, i| reads[i].select(c)),
                    step.update_sql(true, true),
                ] {
                    let explain = format!("EXPLAIN {sql}");
                    let stmt = pg.client.prepare(&explain).await.unwrap();
                    let values: Vec<&KeyValue> = lower.iter().chain(&upper).take(stmt.params().len()).collect();
                    let params = key_params(&values, stmt.params(), &explain).unwrap();
                    let plan: Vec<String> = pg.client.query(&stmt, &as_params(&params)).await.unwrap().iter().map(|r| r.get(0)).collect();
                    let plan = plan.join("\n");
                    // An index scan, or a bitmap scan of the index.
                    let on_pkey = plan.contains(&format!("using {table}_pkey"))
                        || plan.contains(&format!(" on {table}_pkey"));
                    assert!(on_pkey && plan.contains("Index Cond"), "{sql}:\n{plan}");
                }
            }
        })
        .await;
    }

    #[tokio::test]
    async fn backfill_waits_out_row_locks_with_retries() {
        with_database(|url| async move {
            let mut pg = engine(&url, BACKFILLS[0].setup).await;
            let lock = pg.try_lock().await.unwrap();
            let step = backfill_step("items", &["id"]);
            let holder = hold_lock(&url, "SELECT * FROM items WHERE id = 30 FOR UPDATE").await;
            match pg.backfill_batch(&lock, &step, None, &policy(100, 2)).await {
                Err(EngineError::LockTimeout {
                    statement,
                    attempts: 2,
                    timeout_ms: 100,
                }) => {
                    assert_eq!(statement, step.update_sql(false, true));
                }
                other => panic!("expected LockTimeout, got {other:?}"),
            }
            assert_eq!(
                pg.count("SELECT count(*) FROM items WHERE n <> 0")
                    .await
                    .unwrap(),
                0,
                "rolled back"
            );

            let release = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(700)).await;
                holder.batch_execute("COMMIT").await.unwrap();
            });
            let outcome = pg
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
        })
        .await;
    }

    #[tokio::test]
    async fn backfill_refuses_unsupported_key_types() {
        with_database(|url| async move {
            let mut pg = engine(&url, "CREATE TABLE docs (id interval PRIMARY KEY, n int NOT NULL DEFAULT 0); INSERT INTO docs VALUES ('1 day');
                CREATE TYPE mood AS ENUM ('sad', 'ok'); CREATE TABLE moods (id mood PRIMARY KEY, n int NOT NULL DEFAULT 0); INSERT INTO moods VALUES ('ok')").await;
            let lock = pg.try_lock().await.unwrap();
            let resumed = [KeyValue::Text("a".into())];
            for (table, ty) in [("docs", "interval"), ("moods", "public.mood")] {
                let mut step = backfill_step(table, &["id"]);
                step.batch_size = 1;
                for lower in [None, Some(&resumed[..])] {
                    match pg.backfill_batch(&lock, &step, lower, &policy(100, 3)).await {
                        Err(EngineError::Unsupported(message)) => {
                            assert!(message.contains(&format!("key column id of type {ty} is not supported (supported: smallint, integer, bigint")), "{message}");
                        }
                        other => panic!("expected Unsupported, got {other:?}"),
                    }
                }
            }
            // The list the message names is the planner's.
            assert_eq!(EngineKind::Postgres.key_class("interval"), None);
            // A saved key of the wrong kind for the column.
            let mut items = engine(&url, BACKFILLS[0].setup).await;
            let step = backfill_step("items", &["id"]);
            match items.backfill_batch(&lock, &step, Some(&resumed), &policy(100, 3)).await {
                Err(EngineError::Sql { message, .. }) => assert_eq!(message, "key value `a` does not fit a parameter of type int4"),
                other => panic!("expected a key mismatch, got {other:?}"),
            }
        })
        .await;
    }

    #[tokio::test]
    async fn count_sample_estimates_and_lag() {
        with_database(|url| async move {
            let mut pg = engine(
                &url,
                "CREATE TABLE t (id int PRIMARY KEY, label text);
                 INSERT INTO t SELECT g, CASE WHEN g % 2 = 0 THEN 'even' END FROM generate_series(1, 500) g;
                 CREATE TABLE fresh (id int)",
            )
            .await;
            assert_eq!(pg.count("SELECT count(*) FROM t WHERE label IS NULL").await.unwrap(), 250);
            assert_eq!(pg.count("SELECT 7::smallint").await.unwrap(), 7);
            let bad = [
                ("SELECT 1, 2", "expected one row with one integer, got 1 row(s) with a NULL or several columns"),
                ("SELECT NULL::int", "expected one row with one integer, got 1 row(s) with a NULL or several columns"),
                ("SELECT 1 WHERE false", "expected one row with one integer, got 0 row(s)"),
                ("SELECT 'x'", "expected an integer, got `x`"),
            ];
            for (sql, expected) in bad {
                match pg.count(sql).await {
                    Err(EngineError::Sql { statement, message }) => assert_eq!((statement.as_str(), message.as_str()), (sql, expected)),
                    other => panic!("{sql}: {other:?}"),
                }
            }
            match pg.count("SELECT count(*) FROM missing").await {
                Err(EngineError::Sql { statement, message }) => {
                    assert_eq!(statement, "SELECT count(*) FROM missing");
                    assert!(message.starts_with("relation \"missing\" does not exist (SQLSTATE 42P01)"), "{message}");
                }
                other => panic!("expected an SQL error, got {other:?}"),
            }
            assert_eq!(
                pg.sample("SELECT id, label FROM t ORDER BY id LIMIT 2").await.unwrap(),
                vec![vec!["1".to_string(), "NULL".to_string()], vec!["2".to_string(), "even".to_string()]]
            );
            assert_eq!(pg.estimate_rows("t").await.unwrap(), None, "never analysed");
            pg.client.batch_execute("ANALYZE t; ANALYZE fresh").await.unwrap();
            assert_eq!(pg.estimate_rows("t").await.unwrap(), Some(500));
            assert_eq!(pg.estimate_rows("fresh").await.unwrap(), Some(0));
            assert_eq!(pg.estimate_rows("missing").await.unwrap(), None);
            // This test server has no replicas.
            assert_eq!(pg.replica_lag().await.unwrap(), None);
        })
        .await;
    }

    #[tokio::test]
    async fn connection_errors_never_show_the_password() {
        let admin = admin_url();
        let host_port = &admin.expose()[admin.expose().find('@').map_or(11, |i| i + 1)..];
        let host_port = &host_port[..host_port.find('/').unwrap_or(host_port.len())];
        let cases = [
            (
                "postgres://zd_nobody:s3cr3t-pw@127.0.0.1:1/test".to_string(),
                "Connection refused",
            ),
            (
                format!("postgres://zd_nobody:s3cr3t-pw@{host_port}/test?sslmode=disable"),
                "role \"zd_nobody\" does not exist (SQLSTATE 28000)",
            ),
            (
                format!("postgres://zd_nobody@{host_port}/test?password=s3cr3t-pw&sslmode=disable"),
                "role \"zd_nobody\" does not exist",
            ),
            (
                "postgres://zd_nobody:s3cr3t-pw@127.0.0.1:1/test?sslmode=bogus".to_string(),
                "unknown sslmode `bogus`",
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
    async fn sslmode_decides_encryption() {
        let admin = admin_client().await;
        let server_ssl: String = admin.query_one("SHOW ssl", &[]).await.unwrap().get(0);
        let base = admin_url().expose().split('?').next().unwrap().to_string();
        let encrypted = |mode: &'static str| {
            let base = base.clone();
            async move {
                let url = DatabaseUrl::parse(&format!("{base}?sslmode={mode}")).unwrap();
                let pg = connect(&url).await?;
                let row = pg
                    .client
                    .query_one(
                        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                        &[],
                    )
                    .await
                    .unwrap();
                Ok::<bool, EngineError>(row.get(0))
            }
        };
        assert!(!encrypted("disable").await.unwrap());
        assert_eq!(encrypted("prefer").await.unwrap(), server_ssl == "on");
        match encrypted("require").await {
            Ok(ssl) => assert!(ssl && server_ssl == "on"),
            Err(error) => assert!(
                server_ssl == "off" && error.to_string().contains("TLS"),
                "{error}"
            ),
        }
        // A local server's certificate is self-signed: not trusted by the
        // webpki roots.
        if server_ssl == "on" {
            let error = encrypted("verify-full").await.unwrap_err().to_string();
            assert!(error.contains("invalid peer certificate"), "{error}");
        }
    }
}
