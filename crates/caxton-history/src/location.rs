//! Where the history store is.

use std::path::{Path, PathBuf};

/// The default store, relative to the working directory.
pub const DEFAULT_PATH: &str = "results/history.sqlite";
/// The environment variable that names a store (a PostgreSQL URL or an
/// SQLite path) when `--history` is not given.
pub const ENV: &str = "CAXTON_HISTORY_URL";

/// A history store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file (created with its directory when missing).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://` or `postgresql://`).
    Postgres(String),
}

impl Location {
    /// Reads a store name: a `postgres://` / `postgresql://` URL, an
    /// `sqlite:` / `sqlite://` prefixed path, or a plain path (SQLite).
    pub fn parse(s: &str) -> Self {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Location::Postgres(s.to_owned())
        } else if let Some(p) = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")) {
            Location::Sqlite(PathBuf::from(p))
        } else {
            Location::Sqlite(PathBuf::from(s))
        }
    }

    /// The store to use: none with `no_history`; else `flag`, else
    /// [`ENV`], else `default_sqlite`.
    pub fn choose(flag: Option<&str>, no_history: bool, default_sqlite: &Path) -> Option<Self> {
        if no_history {
            return None;
        }
        let env = std::env::var(ENV).ok().filter(|s| !s.trim().is_empty());
        Some(match flag.map(str::to_owned).or(env) {
            Some(s) => Self::parse(&s),
            None => Location::Sqlite(default_sqlite.to_owned()),
        })
    }

    /// For messages: the path, or the URL with any password hidden.
    pub fn describe(&self) -> String {
        match self {
            Location::Sqlite(p) => format!("sqlite {}", p.display()),
            Location::Postgres(url) => format!("postgres {}", redact(url)),
        }
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((auth, host)) => match auth.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths() {
        assert_eq!(
            Location::parse("postgresql://u:p@h/db"),
            Location::Postgres("postgresql://u:p@h/db".into())
        );
        assert_eq!(Location::parse("sqlite:a/b.db"), Location::Sqlite("a/b.db".into()));
        assert_eq!(Location::parse("x.sqlite"), Location::Sqlite("x.sqlite".into()));
        assert_eq!(
            Location::parse("postgres://u:secret@h:5/db").describe(),
            "postgres postgres://u:***@h:5/db"
        );
        assert_eq!(Location::choose(Some("a.db"), true, Path::new("d")), None);
    }
}
