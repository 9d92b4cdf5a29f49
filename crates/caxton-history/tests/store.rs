//! The history store against real SQLite files and a real PostgreSQL
//! cluster (started per test, stopped by its guard also on failure).

use std::path::Path;
use std::sync::{Arc, Barrier};

use caxton_history::provenance::{Git, KIND_SUITE, MachineInfo, RunInfo};
use caxton_history::store::Store;
use caxton_history::testing::require_postgres;
use caxton_history::{HistoryError, Location, trends};
use caxton_report::compare::Verdict;
use caxton_report::results::{Measurement, ResultSet};
use caxton_report::trend::Rule;

fn info(commit: &str, minute: u64) -> RunInfo {
    RunInfo {
        kind: KIND_SUITE.to_owned(),
        source: "test".to_owned(),
        started_at: caxton_report::report::iso8601(1_800_000_000 + minute * 60),
        finished_at: caxton_report::report::iso8601(1_800_000_000 + minute * 60 + 30),
        git: Git {
            commit: Some(format!("{commit:0<40}")),
            commit_time: Some(caxton_report::report::iso8601(1_700_000_000 + minute * 60)),
            branch: Some("main".to_owned()),
            dirty: false,
        },
        machine: MachineInfo {
            fingerprint: "test-machine".to_owned(),
            cpu: "test cpu".to_owned(),
            cores: 2,
            kernel: "6.1".to_owned(),
            os: "linux x86_64".to_owned(),
            memory_gib: 24,
            governor: None,
        },
        toolchain: "rustc 1.95.0".to_owned(),
        config: serde_json::json!({"mode": "quick"}),
        partial: false,
    }
}

fn results(latency: f64) -> ResultSet {
    let mut set = ResultSet::new("test");
    set.measurements.push(Measurement::from_samples(
        "latency_p50",
        "native",
        "us",
        vec![latency * 0.99, latency, latency * 1.01, latency, latency * 1.02],
    ));
    set.measurements
        .push(Measurement::single("message_throughput", "native", "msg/s", 1e6).with_reference("raw tokio", 2e6));
    set.measurements
        .push(Measurement::single("recovery_time", "native", "us", f64::NAN));
    set
}

/// Record, list, show, trend, check and prune on one store.
fn round_trip(location: &Location) {
    let mut store = Store::open(location).unwrap();
    assert_eq!(store.schema_version().unwrap(), caxton_history::schema::VERSION);
    let mut ids = Vec::new();
    for i in 0..8 {
        let latency = [2.0, 2.02, 1.98, 2.01, 1.99, 2.0, 2.03, 1.97][i];
        ids.push(
            store
                .record(&info(&format!("{i:x}"), i as u64), &results(latency))
                .unwrap(),
        );
    }
    // The newest run is 40 % slower: a regression against the history.
    let newest = store.record(&info("f", 9), &results(2.8)).unwrap();
    let list = store.list(None, 100).unwrap();
    assert_eq!(list.len(), 9);
    assert_eq!(list[0].id, newest);
    assert_eq!(list[0].measurements, 3);
    assert_eq!(list[0].branch.as_deref(), Some("main"));

    let (back_info, back) = store.run(newest).unwrap();
    assert_eq!(back_info, info("f", 9));
    let sent = results(2.8);
    assert_eq!(back.measurements.len(), 3);
    assert_eq!(back.measurements[0], sent.measurements[0]);
    assert!(back.measurements[2].value.is_nan(), "non-finite figures read back");

    let (run, t) = trends::check(&mut store, "test-machine", &Rule::default(), None)
        .unwrap()
        .unwrap();
    assert_eq!(run, newest);
    let latency = t.series.iter().find(|s| s.metric == "latency_p50").unwrap();
    assert_eq!(latency.points.len(), 9);
    assert_eq!(latency.judgement.unwrap().verdict, Verdict::Regression, "{latency:?}");
    let throughput = t.series.iter().find(|s| s.metric == "message_throughput").unwrap();
    assert_eq!(throughput.points[0].ratio, Some(0.5));
    assert_eq!(throughput.judgement.unwrap().verdict, Verdict::Unchanged);
    assert_eq!(t.regressions().count(), 1);

    // --since: from the fifth commit on.
    let q = trends::Query {
        since: Some("4".to_owned()),
        metric: Some("latency_p50".to_owned()),
        ..trends::Query::default()
    };
    let t = trends::trends(&mut store, &q, None).unwrap();
    assert_eq!(t.series.len(), 1);
    assert_eq!(t.series[0].points.len(), 5);

    let lines = trends::sparklines(&mut store, Some("test-machine"), 5).unwrap();
    let latency = &lines[&("latency_p50".to_owned(), "native".to_owned())];
    assert_eq!(latency.chars().count(), 5);
    assert!(latency.ends_with('█'), "{latency}");

    assert_eq!(store.prune(3).unwrap(), 6);
    let left = store.list(None, 100).unwrap();
    // The newest three are kept, newest first.
    assert_eq!(left.iter().map(|r| r.id).collect::<Vec<_>>(), [newest, ids[7], ids[6]]);
    assert!(matches!(store.run(ids[0]), Err(HistoryError::NotFound(_))));
}

#[test]
fn sqlite_records_lists_shows_trends_and_prunes() {
    let tmp = tempfile::tempdir().unwrap();
    // The directory does not exist yet: it is created.
    round_trip(&Location::Sqlite(tmp.path().join("results/history.sqlite")));
}

#[test]
fn postgres_records_lists_shows_trends_and_prunes() {
    let Some(pg) = require_postgres("postgres_records_lists_shows_trends_and_prunes") else {
        return;
    };
    round_trip(&Location::Postgres(pg.database("roundtrip").unwrap()));
    // Opening again migrates nothing and keeps the data.
    let mut again = Store::open(&Location::Postgres(format!(
        "postgres://caxton@127.0.0.1:{}/roundtrip",
        pg.port()
    )))
    .unwrap();
    assert_eq!(again.list(None, 10).unwrap().len(), 3);
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("history.sqlite");
    let junk: Vec<u8> = b"this is a spreadsheet, not a database\n".repeat(200);
    std::fs::write(&path, &junk).unwrap();
    let err = Store::open(&Location::Sqlite(path.clone())).err().expect("refused");
    assert!(matches!(err, HistoryError::NotSqlite { .. }), "{err}");
    assert!(err.to_string().contains("not an SQLite database"), "{err}");
    assert_eq!(bytes(&path), junk, "the file is never overwritten or truncated");
    // A file with SQLite's header but garbage after it: refused by SQLite,
    // still untouched.
    let mut fake = b"SQLite format 3\0".to_vec();
    fake.extend(std::iter::repeat_n(0xAB, 4096));
    std::fs::write(&path, &fake).unwrap();
    let err = Store::open(&Location::Sqlite(path.clone())).err().expect("refused");
    assert!(matches!(err, HistoryError::Sqlite { .. }), "{err}");
    assert_eq!(bytes(&path), fake);
}

#[test]
fn a_foreign_sqlite_database_is_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("app.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE invoices (id INTEGER, total REAL); INSERT INTO invoices VALUES (1, 9.5);")
            .unwrap();
    }
    let before = bytes(&path);
    let err = Store::open(&Location::Sqlite(path.clone())).err().expect("refused");
    assert!(matches!(err, HistoryError::Foreign { .. }), "{err}");
    assert!(err.to_string().contains("invoices"), "{err}");
    assert_eq!(bytes(&path), before);
}

#[test]
fn a_newer_schema_is_refused_naming_both_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("history.sqlite");
    drop(Store::open(&Location::Sqlite(path.clone())).unwrap());
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute("UPDATE caxton_history_schema SET version = 99", []).unwrap();
    }
    let before = bytes(&path);
    let err = Store::open(&Location::Sqlite(path.clone())).err().expect("refused");
    let msg = err.to_string();
    assert!(matches!(err, HistoryError::NewerSchema { store: 99, .. }), "{msg}");
    assert!(
        msg.contains("version 99") && msg.contains(&format!("binary's {}", caxton_history::schema::VERSION)),
        "{msg}"
    );
    assert_eq!(bytes(&path), before);
}

#[test]
fn a_newer_postgres_schema_is_refused() {
    let Some(pg) = require_postgres("a_newer_postgres_schema_is_refused") else {
        return;
    };
    let url = pg.database("newer").unwrap();
    drop(Store::open(&Location::Postgres(url.clone())).unwrap());
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute("UPDATE caxton_history_schema SET version = 7").unwrap();
    let err = Store::open(&Location::Postgres(url)).err().expect("refused");
    assert!(err.to_string().contains("version 7"), "{err}");
}

/// Two writers recording at once, each on its own connection: every run
/// of both lands.
fn concurrent(location: Location) {
    drop(Store::open(&location).unwrap());
    let per_writer = 15;
    let barrier = Arc::new(Barrier::new(2));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (location, barrier) = (location.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut store = Store::open(&location).unwrap();
                barrier.wait();
                for i in 0..per_writer {
                    store.record(&info(&format!("{w}{i:02}"), i), &results(2.0)).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let mut store = Store::open(&location).unwrap();
    let runs = store.list(None, 1000).unwrap();
    assert_eq!(runs.len(), 2 * per_writer as usize);
    assert!(runs.iter().all(|r| r.measurements == 3));
}

#[test]
fn concurrent_sqlite_writers_both_land() {
    let tmp = tempfile::tempdir().unwrap();
    concurrent(Location::Sqlite(tmp.path().join("history.sqlite")));
}

#[test]
fn concurrent_postgres_writers_both_land() {
    let Some(pg) = require_postgres("concurrent_postgres_writers_both_land") else {
        return;
    };
    concurrent(Location::Postgres(pg.database("concurrent").unwrap()));
}

#[test]
fn concurrent_first_opens_create_the_schema_once() {
    let tmp = tempfile::tempdir().unwrap();
    let location = Location::Sqlite(tmp.path().join("fresh.sqlite"));
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let location = location.clone();
            std::thread::spawn(move || Store::open(&location).map(|_| ()))
        })
        .collect();
    for o in opens {
        o.join().unwrap().unwrap();
    }
}

#[test]
fn an_unreachable_postgres_is_a_clear_error() {
    // Port 1 on loopback: nothing listens there.
    let err = Store::open(&Location::Postgres("postgres://caxton:pw@127.0.0.1:1/x".to_owned()))
        .err()
        .expect("refused");
    let msg = err.to_string();
    assert!(msg.contains("127.0.0.1:1") && !msg.contains("pw@"), "{msg}");
}
