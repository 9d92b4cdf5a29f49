//! Why the history could not be used.

/// Why the history could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The file exists but is not an SQLite database at all.
    #[error(
        "{path} is not an SQLite database (its first bytes are not the SQLite header); it was left untouched: point --history elsewhere or move it away"
    )]
    NotSqlite {
        /// The file.
        path: String,
    },
    /// An SQLite database that is not a Caxton history store.
    #[error(
        "{path} is an SQLite database but not a Caxton history store (it has tables {tables}); it was left untouched: point --history elsewhere"
    )]
    Foreign {
        /// The file.
        path: String,
        /// Its tables.
        tables: String,
    },
    /// The store was written by a newer Caxton.
    #[error(
        "history store {location} has schema version {store}, newer than this binary's {binary}: use a newer caxton-perf (nothing was written)"
    )]
    NewerSchema {
        /// The store.
        location: String,
        /// Its schema version.
        store: i64,
        /// The newest this binary knows.
        binary: i64,
    },
    /// SQLite refused.
    #[error("history store {location}: {source}")]
    Sqlite {
        /// The store.
        location: String,
        /// The cause.
        source: rusqlite::Error,
    },
    /// PostgreSQL refused or could not be reached.
    #[error("history store {location}: {source}")]
    Postgres {
        /// The store (password hidden).
        location: String,
        /// The cause.
        source: postgres::Error,
    },
    /// A file could not be read or created.
    #[error("history store {location}: {source}")]
    Io {
        /// The store or file.
        location: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A recorded value could not be read back.
    #[error("history store {location}: run {run}: {message}")]
    Corrupt {
        /// The store.
        location: String,
        /// The run.
        run: i64,
        /// What is wrong.
        message: String,
    },
    /// A lookup that found nothing.
    #[error("{0}")]
    NotFound(String),
}
