//! Database URLs: which engine, and how to show one without its password.

use std::fmt;

use crate::dialect::EngineKind;

/// A database URL as given (`--database` or `DATABASE_URL`). Its `Display`
/// hides the password; the raw text is reachable only through `expose`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    raw: String,
    kind: EngineKind,
}

/// A URL zerodown cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct UrlError {
    pub message: String,
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, UrlError> {
        let scheme = raw
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase())
            .ok_or_else(|| UrlError {
                message: "a database URL starts with postgres://, mysql:// or sqlite://"
                    .to_string(),
            })?;
        let kind = match scheme.as_str() {
            "postgres" | "postgresql" => EngineKind::Postgres,
            "mysql" | "mariadb" => EngineKind::Mysql,
            "sqlite" => EngineKind::Sqlite,
            other => {
                return Err(UrlError {
                    message: format!(
                        "unknown database scheme `{other}`: use postgres://, mysql:// or sqlite://"
                    ),
                })
            }
        };
        Ok(DatabaseUrl {
            raw: raw.to_string(),
            kind,
        })
    }

    pub fn kind(&self) -> EngineKind {
        self.kind
    }

    /// The URL with its password, for the driver only.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        let Some((scheme, rest)) = self.raw.split_once("://") else {
            return self.raw.clone();
        };
        let (authority, tail) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let authority = match authority.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _password)) => format!("{user}:***@{host}"),
                None => format!("{userinfo}@{host}"),
            },
            None => authority.to_string(),
        };
        // A password may also come as a query parameter.
        let tail = redact_query_password(tail);
        format!("{scheme}://{authority}{tail}")
    }
}

fn redact_query_password(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => p.to_string(),
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let cases = [
            (
                "postgres://bob:s3cret@db:5432/app",
                "postgres://bob:***@db:5432/app",
            ),
            (
                "mysql://root:p%40ss@127.0.0.1/test?ssl-mode=REQUIRED",
                "mysql://root:***@127.0.0.1/test?ssl-mode=REQUIRED",
            ),
            (
                "postgres://db/app?user=bob&password=s3cret",
                "postgres://db/app?user=bob&password=***",
            ),
            ("postgres://bob@db/app", "postgres://bob@db/app"),
            ("sqlite://data/app.db", "sqlite://data/app.db"),
        ];
        for (raw, shown) in cases {
            let url = DatabaseUrl::parse(raw).unwrap();
            assert_eq!(url.to_string(), shown);
            assert!(!format!("{url:?}").contains("s3cret"));
        }
        assert_eq!(
            DatabaseUrl::parse("postgresql://x/y").unwrap().kind(),
            EngineKind::Postgres
        );
        assert!(DatabaseUrl::parse("oracle://x").is_err());
        assert!(DatabaseUrl::parse("just-a-path").is_err());
    }
}
