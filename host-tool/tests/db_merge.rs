//! The asset database: idempotent merges, history, alerts and their acknowledgement, filters,
//! migrations from an older schema — on SQLite and on a real PostgreSQL server.

mod db_support;

use db_support::{Postgres, TempDir};
use wardtap::db::query::AssetFilter;
use wardtap::db::{self, synthetic, Db, Summary};
use wardtap_proto::DeviceClass;

const T0: u64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z
const HOUR: u64 = 3_600_000_000;

fn idempotent(spec: &str) {
    let mut db = Db::open(spec).unwrap();
    let s = synthetic::summary(1, 200, 0, T0);
    let first = db.merge(&s).unwrap();
    assert_eq!(first.new_assets, 200);
    assert_eq!(first.new_alerts, 3);
    let before = db.dump().unwrap();
    let again = db.merge(&s).unwrap();
    assert_eq!(again.rows_changed, 0, "{again:?}");
    assert_eq!(again.new_assets + again.changes + again.new_alerts, 0);
    assert_eq!(db.dump().unwrap(), before, "the same summary twice must change nothing");
    // An older summary merged late changes no current value either (only first-seen times).
    let older = synthetic::summary(1, 200, 7, T0 - HOUR);
    let st = db.merge(&older).unwrap();
    assert_eq!(st.changes, 0);
    let a = db.assets(&AssetFilter::default()).unwrap();
    assert!(a.iter().all(|x| x.name.as_deref().is_some_and(|n| n.ends_with("-g0"))));
}

fn history(spec: &str) {
    let mut db = Db::open(spec).unwrap();
    let mut s1 = synthetic::summary(2, 6, 0, T0);
    // The first time, the tap had not classified device 0 yet.
    s1.assets[0].class = DeviceClass::Unknown;
    db.merge(&s1).unwrap();
    let s2 = synthetic::summary(2, 6, 1, T0 + HOUR);
    let st = db.merge(&s2).unwrap();
    assert_eq!(st.new_assets, 0);
    assert_eq!(st.changed_assets, 6);
    let mac = synthetic::mac(2, 0).to_string();
    let h = db.history(&mac).unwrap();
    let fields: Vec<&str> = h.changes.iter().map(|c| c.field.as_str()).collect();
    for f in ["class", "name", "ips", "software"] {
        assert!(fields.contains(&f), "{f} change missing: {h:#?}");
    }
    let class = h.changes.iter().find(|c| c.field == "class").unwrap();
    assert_eq!((class.old.as_deref(), class.new.as_deref()), (Some("unknown"), Some("patient_monitor")));
    let ips: Vec<&str> = h.values.iter().filter(|v| v.kind == "ip").map(|v| v.value.as_str()).collect();
    assert_eq!(ips, ["10.2.0.2", "10.2.0.3"], "{h:#?}");
    let new_ip = h.values.iter().find(|v| v.value == "10.2.0.3").unwrap();
    assert_eq!(new_ip.first_seen, "2026-01-01T00:00:00.000000Z", "first seen no earlier than the last pull");
    assert_eq!(new_ip.last_seen, "2026-01-01T01:00:00.000000Z");
    // The same device seen by a second tap in another ward: both sightings kept.
    let mut other = synthetic::summary(2, 1, 1, T0 + 2 * HOUR);
    other.tap = "tap-x".into();
    other.ward = "radiology".into();
    db.merge(&other).unwrap();
    let h = db.history(&mac).unwrap();
    assert_eq!(h.sightings.len(), 2, "{:?}", h.sightings);
    let rad = db.assets(&AssetFilter { ward: Some("radiology".into()), ..Default::default() }).unwrap();
    assert_eq!(rad.len(), 1);
    assert_eq!(rad[0].wards, ["radiology", "ward-0"]);
}

fn alerts_and_ack(spec: &str) {
    let mut db = Db::open(spec).unwrap();
    let mut s = synthetic::summary(3, 128, 0, T0);
    assert_eq!(s.alerts.len(), 2);
    let mut acked = None;
    let stored = db::commit_then_ack(&mut db, &s, |seq| {
        acked = Some(seq);
        Ok::<_, String>(())
    })
    .unwrap();
    assert_eq!(acked, Some(2));
    assert_eq!(stored.acked, Some(2));
    let list = db.alerts(true, None).unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|a| a.tap_acked && a.state == "open"));
    assert_eq!(db.alert_seq("tap-003").unwrap(), 2);
    // The tap folds repeats into the same record: count and last time move, nothing else.
    s.alerts[0].count = 5;
    s.alerts[0].last_time = T0 + HOUR;
    let st = db.merge(&s).unwrap();
    assert_eq!(st.new_alerts, 0);
    let a = db.alerts(true, None).unwrap().into_iter().find(|a| a.seq == 1).unwrap();
    assert_eq!(a.count, 5);
    // A person acknowledges one.
    assert_eq!(db.acknowledge(&[a.id], "nurse.k").unwrap(), 1);
    assert_eq!(db.alerts(true, None).unwrap().len(), 1);
    let all = db.alerts(false, None).unwrap();
    assert_eq!(all.iter().find(|x| x.id == a.id).unwrap().acked_by.as_deref(), Some("nurse.k"));
    // A failing acknowledgement leaves the alerts stored but not marked as told to the tap.
    let s2 = synthetic::summary(4, 64, 0, T0);
    let err = db::commit_then_ack(&mut db, &s2, |_| Err("link down")).unwrap_err();
    assert!(err.to_string().contains("link down"));
    let fresh: Vec<_> = db.alerts(false, None).unwrap().into_iter().filter(|a| a.tap == "tap-004").collect();
    assert_eq!(fresh.len(), 1);
    assert!(!fresh[0].tap_acked);
    // The ledger joins device names.
    let l = db.ledger(None).unwrap();
    assert!(l.iter().any(|e| e.name == "vendor-cloud.example" && e.device_name.is_some()));
}

fn filters(spec: &str) {
    let mut db = Db::open(spec).unwrap();
    for t in 0..8 {
        db.merge(&synthetic::summary(t, 12, 0, T0 + u64::from(t) * HOUR)).unwrap();
    }
    let all = |f: AssetFilter, db: &mut Db| db.assets(&f).unwrap().len();
    assert_eq!(all(AssetFilter::default(), &mut db), 96);
    assert_eq!(all(AssetFilter { ward: Some("ward-1".into()), ..Default::default() }, &mut db), 48);
    assert_eq!(all(AssetFilter { class: Some("patient_monitor".into()), ..Default::default() }, &mut db), 16);
    assert_eq!(all(AssetFilter { vendor: Some("%".into()), ..Default::default() }, &mut db), 0, "LIKE is escaped");
    assert_eq!(all(AssetFilter { since: Some((T0 + 6 * HOUR) as i64), ..Default::default() }, &mut db), 24);
}

fn migrates_from_v1(spec: &str) {
    {
        let mut old = Db::open_at_version(spec, 1).unwrap();
        assert_eq!(old.schema_version().unwrap(), 1);
        old.merge(&synthetic::summary(5, 64, 0, T0)).unwrap();
    }
    let mut db = Db::open(spec).unwrap();
    assert_eq!(db.schema_version().unwrap(), db::schema::latest());
    assert_eq!(db.assets(&AssetFilter::default()).unwrap().len(), 64);
    let a = db.alerts(true, None).unwrap();
    assert_eq!(a.len(), 1);
    assert!(!a[0].tap_acked, "alerts stored before the migration were never marked as told");
    assert_eq!(db.acknowledge(&[a[0].id], "it").unwrap(), 1);
    // Opening again migrates nothing more.
    drop(db);
    let mut db = Db::open(spec).unwrap();
    assert_eq!(db.schema_version().unwrap(), db::schema::latest());
}

fn sqlite(tag: &str) -> (TempDir, String) {
    let d = TempDir::new(tag);
    let f = d.file("assets.db");
    (d, f)
}

#[test]
fn sqlite_merge_is_idempotent() {
    let (_d, f) = sqlite("idem");
    idempotent(&f);
}

#[test]
fn sqlite_keeps_history() {
    let (_d, f) = sqlite("hist");
    history(&f);
}

#[test]
fn sqlite_alerts_and_acknowledgement() {
    let (_d, f) = sqlite("alerts");
    alerts_and_ack(&f);
}

#[test]
fn sqlite_filters() {
    let (_d, f) = sqlite("filters");
    filters(&f);
}

#[test]
fn sqlite_migrates_from_v1() {
    let (_d, f) = sqlite("mig");
    migrates_from_v1(&f);
}

#[test]
fn newer_schema_is_refused() {
    let (_d, f) = sqlite("newer");
    drop(Db::open(&f).unwrap());
    let c = rusqlite::Connection::open(&f).unwrap();
    c.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)", []).unwrap();
    drop(c);
    let err = Db::open(&f).err().expect("refused");
    assert!(err.to_string().contains("newer"), "{err}");
}

#[test]
fn empty_summary_is_fine() {
    let (_d, f) = sqlite("empty");
    let mut db = Db::open(&f).unwrap();
    let s = Summary { tap: "t".into(), ward: "w".into(), ..Default::default() };
    assert_eq!(db.merge(&s).unwrap().new_assets, 0);
    assert_eq!(db.taps().unwrap().len(), 1);
}

/// The same scenarios on a real PostgreSQL server started for this test.
#[test]
fn postgres_behaves_the_same() {
    let pg = Postgres::start();
    idempotent(&pg.database("idem"));
    history(&pg.database("hist"));
    alerts_and_ack(&pg.database("alerts"));
    filters(&pg.database("filters"));
    migrates_from_v1(&pg.database("mig"));
}

/// Version 3 keeps the value history in one column per asset: migrating a version 2 database
/// keeps every value with its times, and a fresh database records the same history.
fn value_history_survives_migration(old_spec: &str, fresh_spec: &str) {
    let mut s1 = synthetic::summary(6, 8, 0, T0);
    s1.assets[0].class = DeviceClass::Unknown;
    let s2 = synthetic::summary(6, 8, 1, T0 + HOUR);
    let older = synthetic::summary(6, 8, 2, T0 - HOUR);
    let histories = |db: &mut Db| -> Vec<String> {
        (0..8).map(|n| format!("{:?}", db.history(&synthetic::mac(6, n).to_string()).unwrap())).collect()
    };
    let before = {
        let mut old = Db::open_at_version(old_spec, 2).unwrap();
        for s in [&s1, &s2, &older] {
            old.merge(s).unwrap();
        }
        histories(&mut old)
    };
    let mut db = Db::open(old_spec).unwrap();
    assert_eq!(db.schema_version().unwrap(), db::schema::latest());
    assert_eq!(histories(&mut db), before);
    assert_eq!(db.merge(&older).unwrap().rows_changed, 0);
    let mut fresh = Db::open(fresh_spec).unwrap();
    for s in [&s1, &s2, &older] {
        fresh.merge(s).unwrap();
    }
    assert_eq!(histories(&mut fresh), before);
    // A later pull extends a migrated history exactly as a fresh one.
    let s3 = synthetic::summary(6, 8, 3, T0 + 2 * HOUR);
    db.merge(&s3).unwrap();
    fresh.merge(&s3).unwrap();
    assert_eq!(histories(&mut db), histories(&mut fresh));
    let h = fresh.history(&synthetic::mac(6, 3).to_string()).unwrap();
    let names: Vec<&str> = h.values.iter().filter(|v| v.kind == "name").map(|v| v.value.as_str()).collect();
    assert_eq!(names, ["MOD3", "ward6-dev3-g2", "ward6-dev3-g0", "ward6-dev3-g1", "ward6-dev3-g3"], "{h:#?}");
}

#[test]
fn sqlite_value_history_survives_migration() {
    let (_d, f) = sqlite("vh-old");
    let (_e, g) = sqlite("vh-fresh");
    value_history_survives_migration(&f, &g);
}

#[test]
fn postgres_value_history_survives_migration() {
    let pg = Postgres::start();
    value_history_survives_migration(&pg.database("vhold"), &pg.database("vhfresh"));
}

/// Version 4 keys assets by their MAC: a version 3 database migrates with every row (asset ids
/// renumbered in sightings, edges and changes; change ids kept) and then equals, row for row, a
/// fresh database fed the same summaries (both at version 5: from version 6 a fresh database
/// writes histories in the short form); merging on after both went to the latest version
/// stays the same too.
fn mac_ids_survive_migration(old_spec: &str, fresh_spec: &str) {
    let mut s1 = synthetic::summary(8, 130, 0, T0);
    s1.assets[5].class = DeviceClass::Unknown;
    // One edge of a device the summary does not list: skipped as an orphan in both.
    let mut stray = s1.edges[0];
    stray.asset = synthetic::mac(99, 1);
    s1.edges.push(stray);
    let s2 = synthetic::summary(8, 130, 1, T0 + HOUR);
    let older = synthetic::summary(8, 130, 2, T0 - HOUR);
    let mut other = synthetic::summary(8, 70, 3, T0 + 2 * HOUR);
    other.tap = "tap-other".into();
    other.ward = "radiology".into();
    let feed = [&s1, &s2, &older, &other];
    let views = |db: &mut Db| -> Vec<String> {
        let mut v = vec![
            format!("{:?}", db.assets(&AssetFilter::default()).unwrap()),
            format!("{:?}", db.edges(false).unwrap()),
            format!("{:?}", db.ledger(None).unwrap()),
            format!("{:?}", db.alerts(false, None).unwrap()),
            format!("{:?}", db.taps().unwrap()),
        ];
        v.extend((0..130).map(|n| format!("{:?}", db.history(&synthetic::mac(8, n).to_string()).unwrap())));
        v
    };
    let before = {
        let mut old = Db::open_at_version(old_spec, 3).unwrap();
        for s in feed {
            old.merge(s).unwrap();
        }
        views(&mut old)
    };
    let mut db = Db::open_at_version(old_spec, 5).unwrap();
    assert_eq!(db.schema_version().unwrap(), 5);
    let after = views(&mut db);
    assert_eq!(after, before);
    assert!(db.ledger(None).unwrap().iter().all(|l| l.device_name.is_some()), "the ledger still finds its devices");
    assert_eq!(db.merge(&older).unwrap().rows_changed, 0, "still idempotent");
    let mut fresh = Db::open_at_version(fresh_spec, 5).unwrap();
    for s in feed {
        fresh.merge(s).unwrap();
    }
    assert_eq!(views(&mut fresh), before);
    // (PostgreSQL spends an alert id on an upsert that finds its row: the same statements in both.)
    assert_eq!(fresh.merge(&older).unwrap().rows_changed, 0);
    assert_eq!(db.dump().unwrap(), fresh.dump().unwrap());
    // Merging on at the latest version: new changes (new change ids after the copied ones), new
    // assets, a new tap; every history changes, so both write it in the short form.
    drop((db, fresh));
    let (mut db, mut fresh) = (Db::open(old_spec).unwrap(), Db::open(fresh_spec).unwrap());
    assert_eq!(db.schema_version().unwrap(), db::schema::latest());
    assert_eq!(views(&mut db), before);
    assert_eq!(views(&mut fresh), before);
    let s3 = synthetic::summary(8, 140, 4, T0 + 3 * HOUR);
    let (a, b) = (db.merge(&s3).unwrap(), fresh.merge(&s3).unwrap());
    assert_eq!(a, b);
    assert_eq!((a.new_assets, a.changed_assets), (10, 130));
    assert_eq!(db.dump().unwrap(), fresh.dump().unwrap());
    let asset = db.dump().unwrap().into_iter().find(|r| r.starts_with("assets: ")).unwrap();
    let id = format!("{}", u64::from_str_radix(&synthetic::mac(8, 0).to_string().replace(':', ""), 16).unwrap());
    assert!(asset.starts_with(&format!("assets: Int(Some({id}))")), "{asset}");
}

#[test]
fn sqlite_mac_ids_survive_migration() {
    let (_d, f) = sqlite("v4-old");
    let (_e, g) = sqlite("v4-fresh");
    mac_ids_survive_migration(&f, &g);
}

#[test]
fn postgres_mac_ids_survive_migration() {
    let pg = Postgres::start();
    mac_ids_survive_migration(&pg.database("v4old"), &pg.database("v4fresh"));
}

/// A new SQLite database gets 16 KiB pages; one made with another page size keeps it (SQLite
/// cannot change it in WAL mode) and works the same. Both stay in WAL mode.
#[test]
fn sqlite_page_size_only_for_new_databases() {
    let (_d, f) = sqlite("pages-new");
    let (_e, g) = sqlite("pages-old");
    {
        let c = rusqlite::Connection::open(&g).unwrap();
        c.execute_batch("PRAGMA page_size=4096; PRAGMA journal_mode=WAL; CREATE TABLE t (x);").unwrap();
    }
    for (spec, page) in [(&f, 16384), (&g, 4096)] {
        let mut db = Db::open(spec).unwrap();
        let s = synthetic::summary(9, 300, 0, T0);
        assert_eq!(db.merge(&s).unwrap().new_assets, 300);
        assert_eq!(db.merge(&s).unwrap().rows_changed, 0);
        drop(db);
        let c = rusqlite::Connection::open(spec).unwrap();
        let pragma = |name: &str| -> String {
            c.query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, rusqlite::types::Value>(0))
                .map(|v| format!("{v:?}"))
                .unwrap()
        };
        assert_eq!(pragma("page_size"), format!("Integer({page})"));
        assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
    }
}

/// Version 6 writes value histories in the short form (times and tap left out when they equal
/// the entry before): a version 5 database migrates without rewriting anything, reads its full
/// entries as before, and from then on equals a fresh database fed the same summaries.
fn short_histories_from_version_6(old_spec: &str, fresh_spec: &str) {
    let s1 = synthetic::summary(10, 20, 0, T0);
    let s2 = synthetic::summary(10, 20, 1, T0 + HOUR);
    let histories = |db: &mut Db| -> Vec<String> {
        (0..20).map(|n| format!("{:?}", db.history(&synthetic::mac(10, n).to_string()).unwrap())).collect()
    };
    let (before, dump) = {
        let mut old = Db::open_at_version(old_spec, 5).unwrap();
        old.merge(&s1).unwrap();
        (histories(&mut old), old.dump().unwrap())
    };
    let mut db = Db::open(old_spec).unwrap();
    assert_eq!(db.schema_version().unwrap(), 6);
    assert_eq!(db.dump().unwrap(), dump, "the migration rewrites nothing");
    assert_eq!(histories(&mut db), before);
    assert_eq!(db.merge(&s1).unwrap().rows_changed, 0);
    let mut fresh = Db::open(fresh_spec).unwrap();
    fresh.merge(&s1).unwrap();
    assert_eq!(histories(&mut fresh), before);
    for d in [&mut db, &mut fresh] {
        d.merge(&s2).unwrap();
    }
    assert_eq!(histories(&mut db), histories(&mut fresh));
    assert_eq!(db.dump().unwrap(), fresh.dump().unwrap());
}

#[test]
fn sqlite_short_histories_from_version_6() {
    let (_d, f) = sqlite("v6-old");
    let (_e, g) = sqlite("v6-fresh");
    short_histories_from_version_6(&f, &g);
    // The short form on disk: a new asset's entries after the first carry no times.
    let (_h, g) = sqlite("v6-raw");
    Db::open(&g).unwrap().merge(&synthetic::summary(10, 20, 0, T0)).unwrap();
    let c = rusqlite::Connection::open(&g).unwrap();
    let json: String = c.query_row("SELECT value_history FROM assets ORDER BY id LIMIT 1", [], |r| r.get(0)).unwrap();
    let entries: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let lens: Vec<usize> = entries.iter().map(|e| e.as_array().map_or(0, Vec::len)).collect();
    assert!(lens.len() > 2 && lens.contains(&3) && lens[0] == 6, "{json}");
}

#[test]
fn postgres_short_histories_from_version_6() {
    let pg = Postgres::start();
    short_histories_from_version_6(&pg.database("v6old"), &pg.database("v6fresh"));
}
