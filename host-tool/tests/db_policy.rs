//! `baseline approve` then `policy push`, end to end against software taps: a tap that learned
//! a capture's outbound traffic proposes rules (a diff first, the file only with --write); the
//! approved file pushed to a second tap that never learned makes the same connection point
//! allowed there.

mod db_support;

use db_support::{key_file, soft_tap, TempDir};
use std::process::Command;
use wardtap::db::Db;

const BIN: &str = env!("CARGO_BIN_EXE_wardtap");

fn run(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN).args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

#[test]
fn learned_baseline_approved_then_pushed() {
    let dir = TempDir::new("policy");
    let k1 = key_file(&dir, "learner.key", 31);
    let k2 = key_file(&dir, "locked.key", 32);
    let learner = soft_tap("http-get-wget__zeek.pcap", &k1, true);
    let locked = soft_tap("http-get-wget__zeek.pcap", &k2, false);
    let config = dir.file("taps.toml");
    std::fs::write(
        &config,
        format!(
            "[[tap]]\nid = \"learner\"\nward = \"Lab\"\ntcp = \"{learner}\"\nkey = \"learner.key\"\n\n\
             [[tap]]\nid = \"locked\"\nward = \"ICU\"\ntcp = \"{locked}\"\nkey = \"locked.key\"\n"
        ),
    )
    .unwrap();
    let db = dir.file("assets.db");
    let policy = dir.file("outbound.toml");
    std::fs::write(
        &policy,
        "# Ward policy, kept by IT\n[[allow]]\nscope = \"any\"\nports = [\"udp/123\"]\nnote = \"NTP\"\n",
    )
    .unwrap();

    let (code, out, err) = run(&["pull", "--all", "--config", &config, "--db", &db]);
    assert_eq!(code, 0, "{out}{err}");
    let ledger = Db::open(&db).unwrap().ledger(None).unwrap();
    let web = |tap: &str, l: &[wardtap::db::query::LedgerView]| {
        l.iter().find(|e| e.tap == tap && e.port == 80).map(|e| e.allowed).expect("web connection point")
    };
    assert!(web("learner", &ledger), "learned, so allowed");
    assert!(!web("locked", &ledger), "not learned, not in policy");

    // Review first: a diff, the file untouched.
    let (code, diff, err) = run(&["baseline", "approve", "--db", &db, "--tap", "learner", "--policy", &policy]);
    assert_eq!(code, 0, "{err}");
    assert!(diff.starts_with(&format!("--- {policy}\n+++ {policy} (proposed)\n@@ -5,0 +6,")), "{diff}");
    assert!(diff.contains("+scope = \"mac:c8:bc:c8:96:d2:a0\"\n"), "{diff}");
    assert!(diff.contains("+domains = [\"bro.org\"]\n"), "{diff}");
    // Only the proposed lines: the header names the policy file, whose random temporary
    // path can hold "123" (this flaked once).
    let proposed = diff.lines().filter(|l| l.starts_with('+') && !l.starts_with("+++"));
    assert!(!proposed.clone().any(|l| l.contains("123")), "NTP is already allowed: {diff}");
    assert!(std::fs::read_to_string(&policy).unwrap().starts_with("# Ward policy"));
    assert_eq!(std::fs::read_to_string(&policy).unwrap().lines().count(), 5, "not written without --write");

    let (code, out, err) =
        run(&["baseline", "approve", "--db", &db, "--tap", "learner", "--policy", &policy, "--write"]);
    assert_eq!(code, 0, "{out}{err}");
    let text = std::fs::read_to_string(&policy).unwrap();
    assert!(text.starts_with("# Ward policy, kept by IT\n"), "people's comments kept");
    wardtap::policy::parse(&text, std::path::Path::new(&policy)).expect("a valid policy");
    let (_, again, _) = run(&["baseline", "approve", "--db", &db, "--tap", "learner", "--policy", &policy]);
    assert!(again.starts_with("nothing to approve"), "{again}");

    // Pushed to the tap that never learned: the same connection point is now allowed there.
    let (code, out, err) = run(&["policy", "push", "--tap", "locked", "--policy", &policy, "--config", &config]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("tap locked: policy installed, 2 rules"), "{out}");
    let (code, out, err) = run(&["pull", "--all", "--only", "locked", "--config", &config, "--db", &db]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(web("locked", &Db::open(&db).unwrap().ledger(None).unwrap()));

    let (code, _, err) = run(&["policy", "push", "--tap", "nobody", "--policy", &policy, "--config", &config]);
    assert_eq!(code, 1);
    assert!(err.contains("no tap \"nobody\""), "{err}");
}
