//! The history store: SQLite or PostgreSQL behind one API.
//!
//! Opening a store never damages what is there: an existing file that is
//! not SQLite is refused before SQLite opens it; an SQLite database with
//! tables but without Caxton's marker table is refused before anything is
//! written; a store of a newer schema is refused (see [`crate::schema`]).
//! Every write is one transaction (`BEGIN IMMEDIATE` in SQLite, with a busy
//! timeout, so concurrent writers queue instead of failing), so a record or
//! an import lands whole or not at all.

use std::path::Path;
use std::time::Duration;

use caxton_report::results::{Measurement, ResultSet};
use serde::Serialize;

use crate::error::HistoryError;
use crate::location::Location;
use crate::provenance::{Git, MachineInfo, RunInfo};
use crate::schema::{self, Dialect, MARKER_TABLE};

/// How long an SQLite writer waits for another one.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a PostgreSQL connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The advisory lock that serializes PostgreSQL migrations.
const MIGRATION_LOCK: i64 = 0x00ca_7704_4157;

/// A parameter of a query.
#[derive(Clone, Debug)]
enum Val {
    I(i64),
    F(Option<f64>),
    T(Option<String>),
    B(bool),
}

fn t(s: &str) -> Val {
    Val::T(Some(s.to_owned()))
}

fn f(v: f64) -> Val {
    Val::F(v.is_finite().then_some(v))
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Val::I(v) => v.to_sql(),
            Val::F(v) => v.to_sql(),
            Val::T(v) => v.to_sql(),
            Val::B(v) => v.to_sql(),
        }
    }
}

fn pg_params(vals: &[Val]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    vals.iter()
        .map(|v| -> Box<dyn postgres::types::ToSql + Sync> {
            match v.clone() {
                Val::I(x) => Box::new(x),
                Val::F(x) => Box::new(x),
                Val::T(x) => Box::new(x),
                Val::B(x) => Box::new(x),
            }
        })
        .collect()
}

/// A row being read, whichever the database.
trait Get {
    fn int(&self, i: usize) -> Result<i64, String>;
    fn float(&self, i: usize) -> Result<Option<f64>, String>;
    fn text(&self, i: usize) -> Result<Option<String>, String>;
    fn flag(&self, i: usize) -> Result<bool, String>;
    fn string(&self, i: usize) -> Result<String, String> {
        Ok(self.text(i)?.unwrap_or_default())
    }
}

impl Get for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> Result<i64, String> {
        self.get(i).map_err(|e| e.to_string())
    }
    fn float(&self, i: usize) -> Result<Option<f64>, String> {
        self.get(i).map_err(|e| e.to_string())
    }
    fn text(&self, i: usize) -> Result<Option<String>, String> {
        self.get(i).map_err(|e| e.to_string())
    }
    fn flag(&self, i: usize) -> Result<bool, String> {
        self.get(i).map_err(|e| e.to_string())
    }
}

impl Get for postgres::Row {
    fn int(&self, i: usize) -> Result<i64, String> {
        self.try_get(i).map_err(|e| e.to_string())
    }
    fn float(&self, i: usize) -> Result<Option<f64>, String> {
        self.try_get(i).map_err(|e| e.to_string())
    }
    fn text(&self, i: usize) -> Result<Option<String>, String> {
        self.try_get(i).map_err(|e| e.to_string())
    }
    fn flag(&self, i: usize) -> Result<bool, String> {
        self.try_get(i).map_err(|e| e.to_string())
    }
}

enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

/// An open history store.
pub struct Store {
    conn: Conn,
    location: Location,
}

/// One transaction, whichever the database.
enum Tx<'a> {
    Sqlite(rusqlite::Transaction<'a>),
    Postgres(postgres::Transaction<'a>),
}

/// A run as `history list` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSummary {
    /// The run's id.
    pub id: i64,
    /// Its kind (suite, criterion, scenario, import).
    pub kind: String,
    /// What produced it.
    pub source: String,
    /// When it started (ISO 8601).
    pub started_at: String,
    /// The commit.
    pub commit: Option<String>,
    /// The branch.
    pub branch: Option<String>,
    /// Uncommitted changes.
    pub dirty: bool,
    /// Machine fingerprint.
    pub machine: String,
    /// Interrupted run.
    pub partial: bool,
    /// How many measurements it holds.
    pub measurements: i64,
}

/// One recorded figure, as trends read it.
#[derive(Clone, Debug, PartialEq)]
pub struct FigureRow {
    /// The run.
    pub run: i64,
    /// Its commit.
    pub commit: Option<String>,
    /// Its commit's time (ISO 8601), the commit order.
    pub commit_time: Option<String>,
    /// Uncommitted changes.
    pub dirty: bool,
    /// When the run started (ISO 8601).
    pub started_at: String,
    /// Metric.
    pub metric: String,
    /// Variant.
    pub variant: String,
    /// Unit.
    pub unit: String,
    /// The value (`None`: not measured).
    pub value: Option<f64>,
    /// Noise band.
    pub band: Option<(f64, f64)>,
    /// Same-run reference's name.
    pub reference_name: Option<String>,
    /// Same-run reference's value.
    pub reference_value: Option<f64>,
    /// value / reference.
    pub ratio: Option<f64>,
    /// Reported, never flagged.
    pub informational: bool,
}

impl Store {
    /// Opens the store, creating it (and an SQLite file's directory) when
    /// it does not exist and migrating it when it is older; refuses
    /// corrupt, foreign and newer stores without writing to them.
    pub fn open(location: &Location) -> Result<Self, HistoryError> {
        let mut store = match location {
            Location::Sqlite(path) => Self {
                conn: Conn::Sqlite(open_sqlite(path)?),
                location: location.clone(),
            },
            Location::Postgres(url) => {
                let mut config: postgres::Config = url.parse().map_err(|source| HistoryError::Postgres {
                    location: location.describe(),
                    source,
                })?;
                if config.get_connect_timeout().is_none() {
                    config.connect_timeout(CONNECT_TIMEOUT);
                }
                let client = config
                    .connect(postgres::NoTls)
                    .map_err(|source| HistoryError::Postgres {
                        location: location.describe(),
                        source,
                    })?;
                Self {
                    conn: Conn::Postgres(Box::new(client)),
                    location: location.clone(),
                }
            }
        };
        store.migrate()?;
        Ok(store)
    }

    /// Where the store is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    fn dialect(&self) -> Dialect {
        match self.conn {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    /// A write transaction (in SQLite: `BEGIN IMMEDIATE`, so writers queue
    /// on the busy timeout instead of failing on a lock upgrade).
    fn begin(&mut self) -> Result<Tx<'_>, HistoryError> {
        self.begin_with(rusqlite::TransactionBehavior::Immediate)
    }

    /// A read transaction (in SQLite: deferred, so reading never takes the
    /// write lock and works on a store others write to).
    fn read(&mut self) -> Result<Tx<'_>, HistoryError> {
        self.begin_with(rusqlite::TransactionBehavior::Deferred)
    }

    fn begin_with(&mut self, behavior: rusqlite::TransactionBehavior) -> Result<Tx<'_>, HistoryError> {
        let describe = self.location.describe();
        match &mut self.conn {
            Conn::Sqlite(c) => {
                c.transaction_with_behavior(behavior)
                    .map(Tx::Sqlite)
                    .map_err(|source| HistoryError::Sqlite {
                        location: describe,
                        source,
                    })
            }
            Conn::Postgres(c) => c
                .transaction()
                .map(Tx::Postgres)
                .map_err(|source| HistoryError::Postgres {
                    location: describe,
                    source,
                }),
        }
    }

    /// The store's schema version (0 for a new store).
    pub fn schema_version(&mut self) -> Result<i64, HistoryError> {
        let loc = self.location.describe();
        let mut tx = self.read()?;
        let v = tx.query(&loc, &format!("SELECT version FROM {MARKER_TABLE}"), &[], |r| r.int(0))?;
        tx.commit(&loc)?;
        Ok(v.first().copied().unwrap_or(0))
    }

    /// Creates or migrates the schema in one transaction; a store already
    /// at this binary's version is only read.
    fn migrate(&mut self) -> Result<(), HistoryError> {
        let dialect = self.dialect();
        let loc = self.location.describe();
        // The common case, without taking the write lock: already current.
        let current = {
            let mut tx = self.read()?;
            tx.query(&loc, &format!("SELECT version FROM {MARKER_TABLE}"), &[], |r| r.int(0))
        };
        match current.as_deref() {
            Ok([v]) if *v == schema::VERSION => return Ok(()),
            Ok([v]) if *v > schema::VERSION => {
                return Err(HistoryError::NewerSchema {
                    location: loc,
                    store: *v,
                    binary: schema::VERSION,
                });
            }
            // Missing marker (a new or foreign store), an older schema, or
            // an unreadable file: the checks below, under the write lock.
            _ => {}
        }
        let path = match &self.location {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(_) => String::new(),
        };
        let mut tx = self.begin()?;
        match dialect {
            Dialect::Sqlite => {
                // Inside the write lock: a foreign database is refused
                // before anything is created in it.
                let tables = tx.query(
                    &loc,
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                    &[],
                    |r| r.string(0),
                )?;
                if !tables.is_empty() && !tables.iter().any(|t| t == MARKER_TABLE) {
                    return Err(HistoryError::Foreign {
                        path,
                        tables: tables.join(", "),
                    });
                }
            }
            Dialect::Postgres => {
                tx.exec(&loc, "SELECT pg_advisory_xact_lock(?)", &[Val::I(MIGRATION_LOCK)])?;
            }
        }
        tx.exec(
            &loc,
            &format!("CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (version BIGINT NOT NULL)"),
            &[],
        )?;
        let found = tx.query(&loc, &format!("SELECT version FROM {MARKER_TABLE}"), &[], |r| r.int(0))?;
        let version = match found.first() {
            Some(v) => *v,
            None => {
                tx.exec(&loc, &format!("INSERT INTO {MARKER_TABLE} (version) VALUES (0)"), &[])?;
                0
            }
        };
        if version > schema::VERSION {
            return Err(HistoryError::NewerSchema {
                location: loc,
                store: version,
                binary: schema::VERSION,
            });
        }
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.batch(&loc, &schema::render(sql, dialect))?;
            tx.exec(
                &loc,
                &format!("UPDATE {MARKER_TABLE} SET version = ?"),
                &[Val::I(i as i64 + 1)],
            )?;
        }
        tx.commit(&loc)
    }

    /// Records one run; returns its id.
    pub fn record(&mut self, info: &RunInfo, results: &ResultSet) -> Result<i64, HistoryError> {
        Ok(self.record_all(&[(info.clone(), results.clone())])?[0])
    }

    /// Records several runs in one transaction: all land, or none.
    pub fn record_all(&mut self, runs: &[(RunInfo, ResultSet)]) -> Result<Vec<i64>, HistoryError> {
        let loc = self.location.describe();
        let mut tx = self.begin()?;
        let mut ids = Vec::new();
        for (info, results) in runs {
            let machine_info = serde_json::to_string(&info.machine).map_err(|e| io(&loc, e))?;
            let config = serde_json::to_string(&info.config).map_err(|e| io(&loc, e))?;
            let id = tx.query(
                &loc,
                "INSERT INTO runs (kind, source, started_at, finished_at, commit_sha, commit_time, branch, dirty, machine, machine_info, toolchain, config, partial) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                &[
                    t(&info.kind),
                    t(&info.source),
                    t(&info.started_at),
                    t(&info.finished_at),
                    Val::T(info.git.commit.clone()),
                    Val::T(info.git.commit_time.clone()),
                    Val::T(info.git.branch.clone()),
                    Val::B(info.git.dirty),
                    t(&info.machine.fingerprint),
                    Val::T(Some(machine_info)),
                    t(&info.toolchain),
                    Val::T(Some(config)),
                    Val::B(info.partial || results.partial),
                ],
                |r| r.int(0),
            )?[0];
            for (position, m) in results.measurements.iter().enumerate() {
                let band = caxton_stats::noise_band(&m.samples).ok().or(m.interval);
                let ratio = caxton_stats::median(&m.reference_ratios)
                    .ok()
                    .or_else(|| m.reference.as_ref().map(|r| m.value / r.value));
                let data = serde_json::to_string(m).map_err(|e| io(&loc, e))?;
                tx.exec(
                    &loc,
                    "INSERT INTO measurements (run_id, position, metric, variant, unit, value, band_low, band_high, reference_name, reference_value, ratio, informational, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    &[
                        Val::I(id),
                        Val::I(position as i64),
                        t(&m.metric),
                        t(&m.variant),
                        t(&m.unit),
                        f(m.value),
                        band.map_or(Val::F(None), |b| f(b.0)),
                        band.map_or(Val::F(None), |b| f(b.1)),
                        Val::T(m.reference.as_ref().map(|r| r.name.clone())),
                        m.reference.as_ref().map_or(Val::F(None), |r| f(r.value)),
                        ratio.map_or(Val::F(None), f),
                        Val::B(m.informational),
                        Val::T(Some(data)),
                    ],
                )?;
            }
            ids.push(id);
        }
        tx.commit(&loc)?;
        Ok(ids)
    }

    /// The runs, newest first; only `machine`'s when given; at most `limit`.
    pub fn list(&mut self, machine: Option<&str>, limit: usize) -> Result<Vec<RunSummary>, HistoryError> {
        let loc = self.location.describe();
        let (filter, mut params) = match machine {
            Some(m) => ("WHERE r.machine = ?", vec![t(m)]),
            None => ("", vec![]),
        };
        params.push(Val::I(limit.min(i64::MAX as usize) as i64));
        let sql = format!(
            "SELECT r.id, r.kind, r.source, r.started_at, r.commit_sha, r.branch, r.dirty, r.machine, r.partial, \
             (SELECT COUNT(*) FROM measurements m WHERE m.run_id = r.id) \
             FROM runs r {filter} ORDER BY r.id DESC LIMIT ?"
        );
        let mut tx = self.read()?;
        let rows = tx.query(&loc, &sql, &params, |r| {
            Ok(RunSummary {
                id: r.int(0)?,
                kind: r.string(1)?,
                source: r.string(2)?,
                started_at: r.string(3)?,
                commit: r.text(4)?,
                branch: r.text(5)?,
                dirty: r.flag(6)?,
                machine: r.string(7)?,
                partial: r.flag(8)?,
                measurements: r.int(9)?,
            })
        })?;
        tx.commit(&loc)?;
        Ok(rows)
    }

    /// One run with its measurements.
    pub fn run(&mut self, id: i64) -> Result<(RunInfo, ResultSet), HistoryError> {
        let loc = self.location.describe();
        let mut tx = self.read()?;
        let runs = tx.query(
            &loc,
            "SELECT kind, source, started_at, finished_at, commit_sha, commit_time, branch, dirty, machine_info, toolchain, config, partial FROM runs WHERE id = ?",
            &[Val::I(id)],
            |r| {
                let machine: MachineInfo = serde_json::from_str(&r.string(8)?).map_err(|e| e.to_string())?;
                Ok(RunInfo {
                    kind: r.string(0)?,
                    source: r.string(1)?,
                    started_at: r.string(2)?,
                    finished_at: r.string(3)?,
                    git: Git {
                        commit: r.text(4)?,
                        commit_time: r.text(5)?,
                        branch: r.text(6)?,
                        dirty: r.flag(7)?,
                    },
                    machine,
                    toolchain: r.string(9)?,
                    config: serde_json::from_str(&r.string(10)?).map_err(|e| e.to_string())?,
                    partial: r.flag(11)?,
                })
            },
        )?;
        let Some(info) = runs.into_iter().next() else {
            return Err(HistoryError::NotFound(format!("no run {id} in {loc}")));
        };
        let measurements = tx.query(
            &loc,
            "SELECT data FROM measurements WHERE run_id = ? ORDER BY position",
            &[Val::I(id)],
            |r| serde_json::from_str::<Measurement>(&r.string(0)?).map_err(|e| e.to_string()),
        )?;
        tx.commit(&loc)?;
        let set = ResultSet {
            schema: caxton_report::results::SCHEMA,
            source: info.source.clone(),
            finished_at_unix: parse_iso(&info.finished_at).unwrap_or(0),
            machine: caxton_report::results::Machine {
                cores: info.machine.cores,
                os: info.machine.os.clone(),
            },
            measurements,
            partial: info.partial,
        };
        Ok((info, set))
    }

    /// Deletes all but the newest `keep` runs (and their measurements);
    /// returns how many runs were deleted.
    pub fn prune(&mut self, keep: usize) -> Result<u64, HistoryError> {
        let loc = self.location.describe();
        let keep = Val::I(keep.min(i64::MAX as usize) as i64);
        let mut tx = self.begin()?;
        let old = "SELECT id FROM runs WHERE id NOT IN (SELECT id FROM runs ORDER BY id DESC LIMIT ?)";
        tx.exec(
            &loc,
            &format!("DELETE FROM measurements WHERE run_id IN ({old})"),
            std::slice::from_ref(&keep),
        )?;
        let n = tx.exec(&loc, &format!("DELETE FROM runs WHERE id IN ({old})"), &[keep])?;
        tx.commit(&loc)?;
        Ok(n)
    }

    /// Every recorded figure, in commit order (commit time, then start
    /// time, then id); only `machine`'s and `metric`'s when given, and
    /// only runs whose commit time is at or after `since` (ISO 8601).
    pub fn figures(
        &mut self,
        machine: Option<&str>,
        metric: Option<&str>,
        since: Option<&str>,
    ) -> Result<Vec<FigureRow>, HistoryError> {
        let loc = self.location.describe();
        let mut filters = Vec::new();
        let mut params = Vec::new();
        if let Some(m) = machine {
            filters.push("r.machine = ?");
            params.push(t(m));
        }
        if let Some(m) = metric {
            filters.push("m.metric = ?");
            params.push(t(m));
        }
        if let Some(s) = since {
            filters.push("COALESCE(r.commit_time, r.started_at) >= ?");
            params.push(t(s));
        }
        let filter = if filters.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", filters.join(" AND "))
        };
        let sql = format!(
            "SELECT r.id, r.commit_sha, r.commit_time, r.dirty, r.started_at, m.metric, m.variant, m.unit, m.value, \
             m.band_low, m.band_high, m.reference_name, m.reference_value, m.ratio, m.informational \
             FROM measurements m JOIN runs r ON r.id = m.run_id {filter} \
             ORDER BY COALESCE(r.commit_time, r.started_at), r.started_at, r.id"
        );
        let mut tx = self.read()?;
        let rows = tx.query(&loc, &sql, &params, |r| {
            let (lo, hi) = (r.float(9)?, r.float(10)?);
            Ok(FigureRow {
                run: r.int(0)?,
                commit: r.text(1)?,
                commit_time: r.text(2)?,
                dirty: r.flag(3)?,
                started_at: r.string(4)?,
                metric: r.string(5)?,
                variant: r.string(6)?,
                unit: r.string(7)?,
                value: r.float(8)?,
                band: lo.zip(hi),
                reference_name: r.text(11)?,
                reference_value: r.float(12)?,
                ratio: r.float(13)?,
                informational: r.flag(14)?,
            })
        })?;
        tx.commit(&loc)?;
        Ok(rows)
    }

    /// The commit time of the first run whose commit starts with `prefix`.
    pub fn commit_time(&mut self, prefix: &str) -> Result<Option<String>, HistoryError> {
        let loc = self.location.describe();
        let mut tx = self.read()?;
        let rows = tx.query(
            &loc,
            "SELECT COALESCE(commit_time, started_at) FROM runs WHERE commit_sha LIKE ? ORDER BY id LIMIT 1",
            &[t(&format!("{prefix}%"))],
            |r| r.string(0),
        )?;
        tx.commit(&loc)?;
        Ok(rows.into_iter().next())
    }
}

impl Tx<'_> {
    fn exec(&mut self, loc: &str, sql: &str, params: &[Val]) -> Result<u64, HistoryError> {
        match self {
            Tx::Sqlite(tx) => {
                let mut stmt = tx.prepare_cached(sql).map_err(|e| sq(loc, e))?;
                // `SELECT pg_...` style statements return rows in SQLite too.
                if stmt.column_count() > 0 {
                    let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(|e| sq(loc, e))?;
                    while rows.next().map_err(|e| sq(loc, e))?.is_some() {}
                    return Ok(0);
                }
                stmt.execute(rusqlite::params_from_iter(params))
                    .map(|n| n as u64)
                    .map_err(|e| sq(loc, e))
            }
            Tx::Postgres(tx) => {
                let p = pg_params(params);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
                tx.execute(&schema::numbered(sql), &refs).map_err(|e| pg(loc, e))
            }
        }
    }

    fn batch(&mut self, loc: &str, sql: &str) -> Result<(), HistoryError> {
        match self {
            Tx::Sqlite(tx) => tx.execute_batch(sql).map_err(|e| sq(loc, e)),
            Tx::Postgres(tx) => tx.batch_execute(sql).map_err(|e| pg(loc, e)),
        }
    }

    fn query<T>(
        &mut self,
        loc: &str,
        sql: &str,
        params: &[Val],
        read: impl Fn(&dyn Get) -> Result<T, String>,
    ) -> Result<Vec<T>, HistoryError> {
        let bad = |message: String| HistoryError::Corrupt {
            location: loc.to_owned(),
            run: 0,
            message,
        };
        match self {
            Tx::Sqlite(tx) => {
                let mut stmt = tx.prepare_cached(sql).map_err(|e| sq(loc, e))?;
                let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(|e| sq(loc, e))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next().map_err(|e| sq(loc, e))? {
                    out.push(read(row).map_err(bad)?);
                }
                Ok(out)
            }
            Tx::Postgres(tx) => {
                let p = pg_params(params);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
                let rows = tx.query(&schema::numbered(sql), &refs).map_err(|e| pg(loc, e))?;
                rows.iter().map(|r| read(r).map_err(bad)).collect()
            }
        }
    }

    fn commit(self, loc: &str) -> Result<(), HistoryError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().map_err(|e| sq(loc, e)),
            Tx::Postgres(tx) => tx.commit().map_err(|e| pg(loc, e)),
        }
    }
}

fn sq(loc: &str, source: rusqlite::Error) -> HistoryError {
    HistoryError::Sqlite {
        location: loc.to_owned(),
        source,
    }
}

fn pg(loc: &str, source: postgres::Error) -> HistoryError {
    HistoryError::Postgres {
        location: loc.to_owned(),
        source,
    }
}

fn io(loc: &str, e: impl std::fmt::Display) -> HistoryError {
    HistoryError::Io {
        location: loc.to_owned(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// ISO 8601 back to seconds since the Unix epoch.
pub fn parse_iso(s: &str) -> Option<u64> {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .and_then(|t| u64::try_from(t.unix_timestamp()).ok())
}

/// The SQLite file's first 16 bytes.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Opens (or creates) an SQLite store file without touching a file that is
/// not an SQLite database.
fn open_sqlite(path: &Path) -> Result<rusqlite::Connection, HistoryError> {
    let loc = format!("sqlite {}", path.display());
    let ioerr = |source| HistoryError::Io {
        location: loc.clone(),
        source,
    };
    match std::fs::File::open(path) {
        Ok(mut file) => {
            use std::io::Read;
            let mut head = Vec::with_capacity(16);
            file.by_ref().take(16).read_to_end(&mut head).map_err(ioerr)?;
            // An empty file is a new database to SQLite; anything else
            // must start with SQLite's header.
            if !head.is_empty() && head.as_slice() != SQLITE_HEADER {
                return Err(HistoryError::NotSqlite {
                    path: path.display().to_string(),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(ioerr)?;
            }
        }
        Err(e) => return Err(ioerr(e)),
    }
    let conn = rusqlite::Connection::open(path).map_err(|e| sq(&loc, e))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| sq(&loc, e))?;
    Ok(conn)
}
