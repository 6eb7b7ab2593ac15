//! What every engine does alike around its driver: retrying work another
//! session was in the way of, and reading counts and samples from rows of
//! text. Written once here; each engine decides what "in the way" means
//! for its server (lock timeouts, deadlocks, `SQLITE_BUSY`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{EngineError, LockPolicy};

/// How one attempt ended when it did not fail outright.
pub(super) enum Attempt<T> {
    Done(T),
    /// Another session was in the way while running `statement`.
    Blocked {
        statement: String,
    },
}

/// The pause before the next attempt, or `LockTimeout` when the attempts
/// are used up. `waited` is how long each attempt waited for its lock, as
/// the server applied the policy (MySQL rounds up to whole seconds).
pub(super) fn next_pause(
    attempt: u32,
    statement: String,
    policy: &LockPolicy,
    waited: Duration,
) -> Result<Duration, EngineError> {
    if attempt >= policy.max_attempts {
        return Err(EngineError::LockTimeout {
            statement,
            attempts: attempt,
            timeout_ms: waited.as_millis(),
        });
    }
    Ok(policy.pause(attempt, jitter_seed(attempt)))
}

/// The attempts of one piece of work: counts them and pauses between them.
pub(super) struct Retries<'a> {
    policy: &'a LockPolicy,
    waited: Duration,
    attempt: u32,
}

impl<'a> Retries<'a> {
    /// `waited` as for [`next_pause`].
    pub(super) fn new(policy: &'a LockPolicy, waited: Duration) -> Self {
        Retries {
            policy,
            waited,
            attempt: 1,
        }
    }

    /// The attempt under way, from 1.
    pub(super) fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Another session was in the way of `statement`: pause with backoff
    /// before the next attempt, or `LockTimeout` when they are used up.
    pub(super) async fn blocked(&mut self, statement: String) -> Result<(), EngineError> {
        let pause = next_pause(self.attempt, statement, self.policy, self.waited)?;
        tokio::time::sleep(pause).await;
        self.attempt += 1;
        Ok(())
    }
}

/// Differs between processes and attempts, so concurrent runs spread out.
fn jitter_seed(attempt: u32) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (u64::from(std::process::id()) << 32) ^ u64::from(nanos) ^ u64::from(attempt)
}

/// The one integer of a count query's one row, or why there is none.
pub(super) fn count_of(sql: &str, rows: &[Vec<Option<String>>]) -> Result<i64, EngineError> {
    let value = match rows {
        [row] if row.len() == 1 => row[0].as_deref(),
        _ => None,
    };
    value
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| EngineError::Sql {
            statement: sql.to_string(),
            message: match value {
                Some(v) => format!("expected an integer, got `{v}`"),
                None => format!(
                    "expected one row with one integer, got {} row(s){}",
                    rows.len(),
                    if rows.len() == 1 {
                        " with a NULL or several columns"
                    } else {
                        ""
                    }
                ),
            },
        })
}

/// Rows of text for a gate's sample of violations, NULL spelled out.
pub(super) fn sample_of(rows: Vec<Vec<Option<String>>>) -> Vec<Vec<String>> {
    rows.into_iter()
        .map(|row| {
            row.into_iter()
                .map(|v| v.unwrap_or_else(|| "NULL".to_string()))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(rows: &[&[Option<&str>]]) -> Vec<Vec<Option<String>>> {
        rows.iter()
            .map(|r| r.iter().map(|v| v.map(str::to_string)).collect())
            .collect()
    }

    /// Rows of text, and the count or a part of the error's message.
    type CountCase<'a> = (&'a [&'a [Option<&'a str>]], Result<i64, &'a str>);

    #[test]
    fn a_count_is_one_row_of_one_integer() {
        let cases: &[CountCase] = &[
            (&[&[Some("42")]], Ok(42)),
            (&[&[Some("-1")]], Ok(-1)),
            (&[&[Some("x")]], Err("expected an integer, got `x`")),
            (
                &[&[None]],
                Err("got 1 row(s) with a NULL or several columns"),
            ),
            (
                &[&[Some("1"), Some("2")]],
                Err("with a NULL or several columns"),
            ),
            (&[], Err("got 0 row(s)")),
            (&[&[Some("1")], &[Some("2")]], Err("got 2 row(s)")),
        ];
        for (rows, expected) in cases {
            let got = count_of("SELECT …", &text(rows));
            match (got, expected) {
                (Ok(n), Ok(e)) => assert_eq!(n, *e),
                (Err(EngineError::Sql { message, .. }), Err(e)) => {
                    assert!(message.contains(e), "{message} / {e}")
                }
                (got, e) => panic!("{rows:?}: {got:?}, expected {e:?}"),
            }
        }
    }

    #[test]
    fn a_sample_spells_null_out() {
        let rows = text(&[&[Some("1"), None]]);
        assert_eq!(
            sample_of(rows),
            vec![vec!["1".to_string(), "NULL".to_string()]]
        );
    }

    #[test]
    fn attempts_end_in_a_lock_timeout_naming_the_statement() {
        let policy = LockPolicy {
            max_attempts: 3,
            ..LockPolicy::default()
        };
        let waited = Duration::from_secs(1);
        assert!(next_pause(1, "ALTER".into(), &policy, waited).is_ok());
        assert!(next_pause(2, "ALTER".into(), &policy, waited).is_ok());
        match next_pause(3, "ALTER".into(), &policy, waited) {
            Err(EngineError::LockTimeout {
                statement,
                attempts,
                timeout_ms,
            }) => assert_eq!(
                (statement.as_str(), attempts, timeout_ms),
                ("ALTER", 3, 1000)
            ),
            other => panic!("{other:?}"),
        }
    }
}
