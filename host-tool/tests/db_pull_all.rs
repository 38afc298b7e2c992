//! `wardtap pull --all` against software taps: the real core fed with shared captures behind
//! the real management server (`wardtap-link`), on loopback TCP. One tap in `taps.toml` is
//! down. Then the same pull killed before each of its statements in turn — including right
//! before the tap is told to drop its alerts — and run again: the database ends complete, each
//! alert stored once, the tap's alerts acknowledged only after they were committed.

mod db_support;

use db_support::{key_file, soft_tap, TempDir};
use std::process::Command;
use wardtap::db::Db;

const BIN: &str = env!("CARGO_BIN_EXE_wardtap");

fn taps_toml(dir: &TempDir, icu: &str, lab: &str) -> String {
    let path = dir.file("taps.toml");
    std::fs::write(
        &path,
        format!(
            "[[tap]]\nid = \"icu-1\"\nward = \"ICU\"\nlocation = \"comms room 2\"\ntcp = \"{icu}\"\nkey = \"icu.key\"\n\n\
             [[tap]]\nid = \"lab-1\"\nward = \"Lab\"\ntcp = \"{lab}\"\nkey = \"lab.key\"\n\n\
             [[tap]]\nid = \"down-1\"\nward = \"Radiology\"\ntcp = \"127.0.0.1:1\"\nkey = \"lab.key\"\n"
        ),
    )
    .unwrap();
    path
}

fn pull_all(config: &str, db: &str, abort: Option<u64>) -> std::process::Output {
    let mut c = Command::new(BIN);
    c.args(["pull", "--all", "--config", config, "--db", db]);
    c.env_remove("WARDTAP_TEST_ABORT_AFTER_STATEMENTS");
    if let Some(n) = abort {
        c.env("WARDTAP_TEST_ABORT_AFTER_STATEMENTS", n.to_string());
    }
    c.output().unwrap()
}

#[test]
fn pull_all_reports_failures_and_acknowledges_after_commit() {
    let dir = TempDir::new("pullall");
    let icu_key = key_file(&dir, "icu.key", 11);
    let lab_key = key_file(&dir, "lab.key", 12);
    let icu = soft_tap("snmp-v1-v2c-v3-vlan__ndpi.pcapng", &icu_key, false);
    let lab = soft_tap("telnet-cleartext-login__ndpi.pcap", &lab_key, false);
    let config = taps_toml(&dir, &icu, &lab);
    let db = dir.file("assets.db");

    let out = pull_all(&config, &db, None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "a tap failed: exit 1\n{text}");
    assert!(text.lines().any(|l| l.starts_with("icu-1\tICU\tok\t17 assets (17 new), 5 alerts new")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("lab-1\tLab\tok")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("down-1\tRadiology\tFAILED")), "{text}");

    let mut d = Db::open(&db).unwrap();
    let alerts = d.alerts(false, None).unwrap();
    assert_eq!(alerts.len(), 6);
    assert!(alerts.iter().all(|a| a.tap_acked));
    let wards = d.wards().unwrap();
    assert_eq!(wards, ["ICU", "Lab"]);
    let before = d.dump().unwrap();
    drop(d);

    // The taps were told: a second pull brings no alert again, and changes nothing else.
    let out = pull_all(&config, &db, None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("icu-1\tICU\tok\t17 assets (0 new), 0 alerts new\n"), "{text}");
    let after = Db::open(&db).unwrap().dump().unwrap();
    let strip = |v: &[String]| v.iter().filter(|l| !l.starts_with("taps:")).cloned().collect::<Vec<_>>();
    assert_eq!(strip(&after), strip(&before), "only the taps' pull times move");
}

#[test]
fn pull_killed_at_every_step_then_completed() {
    let dir = TempDir::new("pullcrash");
    let icu_key = key_file(&dir, "icu.key", 21);
    let lab_key = key_file(&dir, "lab.key", 22);
    let icu = soft_tap("snmp-v1-v2c-v3-vlan__ndpi.pcapng", &icu_key, false);
    let lab = soft_tap("ftp-cleartext-login-filezilla__zeek.pcap", &lab_key, false);
    let config = taps_toml(&dir, &icu, &lab);
    let db = dir.file("assets.db");
    let mut crashes = 0;
    for n in 1..500 {
        let out = pull_all(&config, &db, Some(n));
        if out.status.code() == Some(1) && String::from_utf8_lossy(&out.stdout).lines().count() == 3 {
            break; // ran to the end (the down tap makes it exit 1)
        }
        crashes += 1;
        let mut d = Db::open(&db).unwrap();
        // Whatever is stored is whole: a tap's assets all there or none.
        let a = d.assets(&Default::default()).unwrap();
        assert!([0, 17, 19].contains(&a.len()), "abort {n}: {} assets", a.len());
    }
    assert!(crashes > 4, "{crashes}");
    let out = pull_all(&config, &db, None);
    assert_eq!(out.status.code(), Some(1));
    let mut d = Db::open(&db).unwrap();
    let alerts = d.alerts(false, None).unwrap();
    assert_eq!(alerts.len(), 6, "every alert stored once: {alerts:#?}");
    let mut seqs: Vec<(String, i64)> = alerts.iter().map(|a| (a.tap.clone(), a.seq)).collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), 6);
    assert!(alerts.iter().all(|a| a.tap_acked), "{alerts:#?}");
    assert_eq!(d.assets(&Default::default()).unwrap().len(), 19);
}
