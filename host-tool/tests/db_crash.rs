//! Crash consistency: `wardtap ingest` killed (abort, no unwinding — like `kill -9`) before
//! each of its statements in turn leaves the database exactly as it was, and the next run
//! completes it to the same state as an uninterrupted one. Also: alerts are acknowledged on the
//! tap only after the commit, and a crash between the two only brings the same alerts again.

mod db_support;

use db_support::{capture, TempDir};
use std::process::Command;
use wardtap::db::{self, synthetic, Db};

const BIN: &str = env!("CARGO_BIN_EXE_wardtap");

fn ingest(db: &str, tap: &str, file: &str, abort_after: Option<u64>) -> std::process::Output {
    let mut c = Command::new(BIN);
    c.args(["ingest", "--db", db, "--tap", tap, "--ward", "icu", file]);
    c.env_remove("WARDTAP_TEST_ABORT_AFTER_STATEMENTS");
    if let Some(n) = abort_after {
        c.env("WARDTAP_TEST_ABORT_AFTER_STATEMENTS", n.to_string());
    }
    c.output().unwrap()
}

fn integrity(path: &str) {
    let c = rusqlite::Connection::open(path).unwrap();
    let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
    let fk: Vec<String> = c
        .prepare("PRAGMA foreign_key_check")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert!(fk.is_empty(), "dangling references: {fk:?}");
}

/// The dump with the alerts' `tap_acked` column blanked (set only after the tap was told).
fn without_tap_acked(dump: &[String]) -> Vec<String> {
    dump.iter()
        .map(|l| match l.strip_prefix("alerts: ") {
            Some(rest) => {
                let mut cells: Vec<&str> = rest.split(" | ").collect();
                if let Some(c) = cells.get_mut(18) {
                    *c = "-";
                }
                format!("alerts: {}", cells.join(" | "))
            }
            None => l.clone(),
        })
        .collect()
}

#[test]
fn killed_at_every_statement_then_repulled() {
    let dir = TempDir::new("crash");
    let a = capture("lan-mixed-services__zeek-var-services.pcap");
    let b = capture("snmp-v1-v2c-v3-vlan__ndpi.pcapng");

    // The reference: A then B, uninterrupted.
    let reference = dir.file("reference.db");
    assert!(ingest(&reference, "tap-a", &a, None).status.success());
    assert!(ingest(&reference, "tap-b", &b, None).status.success());
    let want = Db::open(&reference).unwrap().dump().unwrap();

    let path = dir.file("crashing.db");
    assert!(ingest(&path, "tap-a", &a, None).status.success());
    let before = Db::open(&path).unwrap().dump().unwrap();
    let mut crashes = 0;
    for n in 1..2000 {
        let out = ingest(&path, "tap-b", &b, Some(n));
        if out.status.success() {
            break;
        }
        crashes += 1;
        integrity(&path);
        // Before its commit nothing of the run is there; after it (the abort just before the
        // tap would be told about the alerts) everything is.
        let now = Db::open(&path).unwrap().dump().unwrap();
        assert!(
            now == before || without_tap_acked(&now) == without_tap_acked(&want),
            "abort before statement {n} left a partial state"
        );
    }
    assert!(crashes >= 5, "the merge should take several statements, aborted {crashes} times");
    // The last run above completed; a second, uninterrupted one changes nothing.
    assert_eq!(Db::open(&path).unwrap().dump().unwrap(), want);
    assert!(ingest(&path, "tap-b", &b, None).status.success());
    assert_eq!(Db::open(&path).unwrap().dump().unwrap(), want);
}

/// A tap stand-in: alerts kept until acknowledged, like the core's ring.
struct FakeTap {
    summary: db::Summary,
    acked_up_to: u32,
}

impl FakeTap {
    fn pull(&self) -> db::Summary {
        let mut s = self.summary.clone();
        s.alerts.retain(|a| a.seq > self.acked_up_to);
        s
    }
}

#[test]
fn alerts_are_acknowledged_only_after_the_commit() {
    let dir = TempDir::new("ack");
    let path = dir.file("assets.db");
    let mut tap = FakeTap { summary: synthetic::summary(9, 256, 0, 1_767_225_600_000_000), acked_up_to: 0 };
    assert_eq!(tap.summary.alerts.len(), 4);

    // 1. When the tap is told, the alerts are already committed: another connection sees them.
    let mut db = Db::open(&path).unwrap();
    let mut seen_by_other = 0;
    let mut first = tap.pull();
    first.alerts.truncate(2);
    db::commit_then_ack(&mut db, &first, |seq| {
        seen_by_other = Db::open(&path).unwrap().alerts(false, None).unwrap().len();
        assert_eq!(seq, 2);
        tap.acked_up_to = seq;
        Ok::<_, String>(())
    })
    .unwrap();
    assert_eq!(seen_by_other, 2);

    // 2. Crash after the commit, before the tap heard: the next pull brings the same alerts,
    //    stored once.
    let s = tap.pull();
    db.merge(&s).unwrap();
    assert_eq!(db.alerts(false, None).unwrap().len(), 4);
    assert_eq!(db.alerts(false, None).unwrap().iter().filter(|a| !a.tap_acked).count(), 2);
    let again = tap.pull();
    assert_eq!(again.alerts.len(), 2, "the tap still has the unacknowledged ones");
    let stored = db::commit_then_ack(&mut db, &again, |seq| {
        tap.acked_up_to = seq;
        Ok::<_, String>(())
    })
    .unwrap();
    assert_eq!(stored.stats.new_alerts, 0);
    assert_eq!(tap.acked_up_to, 4);
    assert_eq!(db.alerts(false, None).unwrap().len(), 4);
    assert!(db.alerts(false, None).unwrap().iter().all(|a| a.tap_acked));
    assert!(tap.pull().alerts.is_empty());
}
