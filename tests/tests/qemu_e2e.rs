//! End to end in emulation: the tap firmware on QEMU's mps2-an386, fed a capture through its
//! monitor NIC and pulled over its UART (`cargo xtask qemu-replay`), must report exactly what
//! `wardtap replay` reports for the same capture, transmit nothing on the monitor port, and
//! refuse forged, replayed and malformed requests while frames keep flowing.
//!
//! Needs `qemu-system-arm` and the thumbv7em target, so these are ignored by the plain test
//! run; `scripts/test.sh` runs them with `--ignored` (its QEMU step).

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use wardtap::replay::{self, Options};
use wardtap_tests::capture;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Runs the xtask; returns the pulled document and the run's report.
fn qemu_replay(name: &str, extra: &[&str]) -> (Value, Value) {
    static RUN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let run = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("wardtap-qemu-test-{}-{run}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("report.json");
    let out = Command::new(env!("CARGO"))
        .current_dir(root())
        .args(["xtask", "qemu-replay"])
        .arg(capture(name))
        .args(["--format", "json", "--report"])
        .arg(&report)
        .arg("--workdir")
        .arg(&dir)
        .args(extra)
        .output()
        .expect("cargo xtask runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "qemu-replay {name} failed:\n{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("pulled JSON");
    let rep: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    (doc, rep)
}

fn replayed(name: &str, learn_secs: Option<u32>) -> Value {
    let out = replay::run(&Options { files: vec![capture(name)], learn_secs, ..Default::default() });
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    serde_json::to_value(&out.document).unwrap()
}

fn assert_same(name: &str, pulled: &Value, replayed: &Value) {
    for key in ["schema_version", "assets", "edges", "alerts", "ledger", "counters"] {
        assert_eq!(pulled[key], replayed[key], "{name}: `{key}` differs between the tap and replay");
    }
    assert_eq!(pulled, replayed, "{name}: documents differ");
}

#[test]
#[ignore = "needs qemu-system-arm; run by scripts/test.sh"]
fn pulled_inventory_equals_replay_and_the_monitor_port_sends_nothing() {
    for name in [
        "dicom-dhcp-smb-hospital-synthetic__tapirxl.pcap",
        "hl7-mllp-adt__ndpi.pcap",
        "lan-mixed-services__zeek-var-services.pcap",
    ] {
        let (doc, rep) = qemu_replay(name, &[]);
        assert_same(name, &doc, &replayed(name, None));
        assert!(!doc["assets"].as_array().unwrap().is_empty(), "{name}: no assets");
        assert_eq!(rep["monitor_tx_frames"], 0, "{name}: the board transmitted on the monitor port");
        assert_eq!(rep["fed"], rep["processed"], "{name}: frames lost");
        assert_eq!(rep["skipped_too_large"], 0, "{name}");
    }
}

#[test]
#[ignore = "needs qemu-system-arm; run by scripts/test.sh"]
fn learning_and_alerts_on_the_board_equal_replay() {
    let name = "lan-office-teams-switch__ndpi.pcap";
    let (doc, rep) = qemu_replay(name, &["--learn", "30s"]);
    assert_same(name, &doc, &replayed(name, Some(30)));
    assert_eq!(rep["monitor_tx_frames"], 0);
}

#[test]
#[ignore = "needs qemu-system-arm; run by scripts/test.sh"]
fn hostile_requests_are_refused_and_frames_keep_flowing() {
    let name = "lan-mixed-services__zeek-var-services.pcap";
    let (doc, rep) = qemu_replay(name, &["--abuse"]);
    let sent = rep["hostile_sent"].as_u64().unwrap();
    assert!(sent >= 10, "{rep}");
    assert_eq!(rep["hostile_refused"].as_u64().unwrap(), sent, "every hostile request refused");
    // The link counted them, by kind.
    let link = rep["link"].as_str().unwrap();
    for field in ["bad_tag", "replayed", "bad_frame", "oversize"] {
        assert!(!link.contains(&format!("{field}: 0,")), "{field} not counted: {link}");
    }
    // And nothing was lost or changed: the same summary as replay.
    assert_eq!(rep["fed"], rep["processed"]);
    assert_same(name, &doc, &replayed(name, None));
}

#[test]
#[ignore = "needs qemu-system-arm; run by scripts/test.sh"]
fn baseline_policy_and_counter_floor_survive_a_power_cut() {
    let name = "lan-office-teams-switch__ndpi.pcap";
    let dir = std::env::temp_dir().join(format!("wardtap-qemu-flash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let flash = dir.join("flash.bin");
    let _ = std::fs::remove_file(&flash);
    let flash = flash.to_str().unwrap();
    let policy = root().join("samples/ward-policy.toml");
    // Power on 1, blank flash: a policy, then learning for 10 s of capture time (the 26 s
    // capture then locks it by itself). The board saves on each change and at the lock.
    let (before, rep1) = qemu_replay(name, &["--learn", "10s", "--policy", policy.to_str().unwrap(), "--flash", flash]);
    assert_eq!(rep1["boot_floor"], 0, "blank flash: no floor");
    assert!(before["counters"]["baseline_entries"].as_u64().unwrap() > 0);
    // The flash is dumped, QEMU killed: the power cut. Power on 2 with that flash, nothing
    // asked of the tap, the same traffic.
    let (after, rep2) = qemu_replay(name, &["--flash", flash]);
    let floor = rep2["boot_floor"].as_u64().unwrap();
    assert!(floor > 0 && floor <= rep1["last_counter"].as_u64().unwrap(), "{rep1} {rep2}");
    assert_eq!(after["counters"]["baseline_entries"], before["counters"]["baseline_entries"]);
    // The restored baseline, rules and locked mode judge the traffic as the tap that learned.
    assert_eq!(after["ledger"], before["ledger"]);
    let allowed = |d: &Value| d["ledger"].as_array().unwrap().iter().filter(|l| l["allowed"] == true).count();
    assert!(allowed(&after) > 0);
    // Which a tap that forgot does not (the comparison has teeth).
    assert!(allowed(&replayed(name, None)) < allowed(&after));
    // Alert numbers go on above every number the host saw before the cut (it keys alerts by
    // tap and number): the image reserved them, 4,096 past the last number at its last save.
    let seqs = |d: &Value| -> Vec<u64> {
        d["alerts"].as_array().unwrap().iter().map(|a| a["seq"].as_u64().unwrap()).collect()
    };
    let (seen, later) = (seqs(&before), seqs(&after));
    assert!(!seen.is_empty() && !later.is_empty(), "alerts on both sides of the cut: {seen:?} {later:?}");
    let last_seen = *seen.iter().max().unwrap();
    let first_later = *later.iter().min().unwrap();
    assert!(first_later > last_seen, "alert {first_later} after the cut, {last_seen} before it");
    assert!(first_later > 4096, "{first_later}");
    assert_eq!(rep2["monitor_tx_frames"], 0);
}
