//! A tap that restarted without its saved state numbers its alerts from 1 again, and so does
//! every capture ingested for a tap: the database must store those as new alerts, not fold
//! them into the old ones with the same numbers — on SQLite and on a real PostgreSQL server.

mod db_support;

use db_support::{Postgres, TempDir};
use wardtap::db::{self, synthetic, Db, Summary};

const T0: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z
const MIN: i64 = 60_000_000;

/// A pull at `now` of a tap up `uptime_s`, with the alerts numbered `seqs` by the tap, stored
/// the way `wardtap pull --all` stores it (base, then merge, then acknowledgement).
fn pull(db: &mut Db, now: i64, uptime_s: u32, seqs: &[u32], evidence: &str) -> (u32, Option<u32>) {
    let base = db.alert_base_for_pull("tap-007", "icu", now, uptime_s).unwrap();
    let mut s: Summary = synthetic::summary(7, 64, 0, now as u64);
    s.ward = "icu".into();
    let template = s.alerts[0].clone();
    s.alerts = seqs
        .iter()
        .map(|&seq| {
            let mut a = template.clone();
            a.seq = seq + base;
            a.evidence = format!("{evidence} #{seq}");
            a.time = now as u64;
            a.last_time = now as u64;
            a
        })
        .collect();
    let mut told = None;
    db::commit_then_ack(db, &s, |seq| {
        told = Some(seq - base);
        Ok::<_, String>(())
    })
    .unwrap();
    (base, told)
}

fn restart(spec: &str) {
    let mut db = Db::open(spec).unwrap();
    // First pull: no base. The tap acknowledges in its own numbers.
    assert_eq!(pull(&mut db, T0, 3600, &[1, 2, 3], "before"), (0, Some(3)));
    // Ten minutes later, up ten minutes more (a few seconds of drift): same numbering.
    assert_eq!(pull(&mut db, T0 + 10 * MIN, 3600 + 590, &[4], "before"), (0, Some(4)));
    // Restarted without its state: up 5 minutes only. Its 1, 2 are new alerts.
    assert_eq!(pull(&mut db, T0 + 20 * MIN, 300, &[1, 2], "after"), (4, Some(2)));
    let alerts = db.alerts(false, None).unwrap();
    let mut seqs: Vec<i64> = alerts.iter().map(|a| a.seq).collect();
    seqs.sort();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6], "{alerts:#?}");
    let evidence = |seq: i64| alerts.iter().find(|a| a.seq == seq).unwrap().evidence.clone();
    assert_eq!(evidence(1), "before #1", "the old alert 1 is untouched");
    assert_eq!(evidence(5), "after #1");
    assert_eq!(evidence(6), "after #2");
    // The same pull again (a run that died after storing the base): the base stays put.
    assert_eq!(db.alert_base_for_pull("tap-007", "icu", T0 + 20 * MIN, 300).unwrap(), 4);
    assert_eq!(pull(&mut db, T0 + 30 * MIN, 900, &[2, 3], "after"), (4, Some(3)));
    assert_eq!(db.alerts(false, None).unwrap().len(), 7, "2 is folded into 6, 3 is new (7)");
    // A tap whose firmware kept its numbers across the restart: the base moves anyway and
    // the numbers stay unique.
    let (base, _) = pull(&mut db, T0 + 40 * MIN, 60, &[4097], "floor");
    assert_eq!(base, 7);
    assert!(db.alerts(false, None).unwrap().iter().any(|a| a.seq == 4104));
    // Another tap is not affected.
    assert_eq!(db.alert_base_for_pull("tap-008", "icu", T0 + 40 * MIN, 10).unwrap(), 0);
}

/// A capture's summary for `tap-009` with alerts 1..=n raised at `t`.
fn capture(t: i64, n: u32) -> Summary {
    let mut s = synthetic::summary(9, 64, 0, t as u64);
    let template = s.alerts[0].clone();
    s.alerts = (1..=n)
        .map(|seq| {
            let mut a = template.clone();
            a.seq = seq;
            a.time = t as u64 + u64::from(seq);
            a.last_time = a.time;
            a.evidence = format!("capture at {t} #{seq}");
            a
        })
        .collect();
    s
}

/// The way `wardtap ingest` stores a capture's summary.
fn ingest(db: &mut Db, mut s: Summary) -> u64 {
    db.number_capture_alerts(&mut s).unwrap();
    db::commit_then_ack(db, &s, |_| Ok::<_, String>(())).unwrap().stats.new_alerts
}

fn captures(spec: &str) {
    let mut db = Db::open(spec).unwrap();
    let (monday, tuesday) = (capture(T0, 3), capture(T0 + 24 * 60 * MIN, 2));
    assert_eq!(ingest(&mut db, monday.clone()), 3);
    assert_eq!(ingest(&mut db, tuesday.clone()), 2, "Tuesday's 1 and 2 are not Monday's");
    // Either again: nothing new (ingesting is idempotent).
    assert_eq!(ingest(&mut db, tuesday.clone()), 0);
    assert_eq!(ingest(&mut db, monday.clone()), 0);
    // Monday's capture taken further: its later alerts join its numbering.
    assert_eq!(ingest(&mut db, capture(T0, 4)), 1);
    let alerts = db.alerts(false, None).unwrap();
    assert_eq!(alerts.len(), 6, "{alerts:#?}");
    let mut ev: Vec<String> = alerts.iter().map(|a| a.evidence.clone()).collect();
    ev.sort();
    ev.dedup();
    assert_eq!(ev.len(), 6, "every alert once: {ev:#?}");
}

#[test]
fn sqlite_captures_of_one_tap_keep_their_alerts_apart() {
    let dir = TempDir::new("captures");
    captures(&dir.file("assets.db"));
}

#[test]
fn postgres_captures_of_one_tap_keep_their_alerts_apart() {
    let pg = Postgres::start();
    captures(&pg.database("captures"));
}

#[test]
fn sqlite_restarted_tap_keeps_old_and_new_alerts() {
    let dir = TempDir::new("restart");
    restart(&dir.file("assets.db"));
}

#[test]
fn postgres_restarted_tap_keeps_old_and_new_alerts() {
    let pg = Postgres::start();
    restart(&pg.database("restart"));
}
