//! The `wardtap` binary as a user runs it: formats, exit codes, damaged files.

use std::path::PathBuf;
use std::process::Command;

fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/captures").join(name)
}

fn wardtap(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wardtap")).args(args).output().expect("run wardtap")
}

#[test]
fn json_document_has_the_documented_fields() {
    let f = capture("dicom-dhcp-smb-hospital-synthetic__tapirxl.pcap");
    let out = wardtap(&["replay", "--format", "json", f.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    let a = &doc["assets"][0];
    for key in
        ["mac", "vendor", "ips", "names", "class", "evidence", "first_seen", "last_seen", "protocols", "software"]
    {
        assert!(a.get(key).is_some(), "asset lacks {key}: {a}");
    }
    assert!(doc["edges"].as_array().is_some_and(|e| !e.is_empty()));
    assert_eq!(doc["counters"]["frames"], 86);
}

#[test]
fn table_is_the_default_and_csv_has_one_row_per_asset() {
    let f = capture("lan-mixed-services__zeek-var-services.pcap");
    let table = wardtap(&["replay", f.to_str().unwrap()]);
    assert!(table.status.success());
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.starts_with("MAC "));
    let json = wardtap(&["replay", "--format", "json", f.to_str().unwrap()]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let n = doc["assets"].as_array().unwrap().len();
    let csv = wardtap(&["replay", "--format", "csv", f.to_str().unwrap()]);
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(csv.starts_with("mac,vendor,ips,names,class"));
    assert_eq!(csv.lines().count(), n + 1);
}

#[test]
fn truncated_file_reports_offset_and_still_prints_what_was_read() {
    let src = std::fs::read(capture("lan-mixed-services__zeek-var-services.pcap")).unwrap();
    let dir = std::env::temp_dir().join(format!("wardtap-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &src[..src.len() / 2]).unwrap();
    let out = wardtap(&["replay", "--format", "json", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cut.pcap") && err.contains("offset"), "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["counters"]["frames"].as_u64().unwrap() > 50);
    assert!(!doc["assets"].as_array().unwrap().is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn missing_file_and_bad_arguments() {
    let out = wardtap(&["replay", "/nonexistent/x.pcap"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.pcap"));
    let out = wardtap(&["replay", "--format", "xml", "x.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let out = wardtap(&["replay"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn several_files_are_one_stream() {
    let a = capture("dhcp-dora__arkime-wireshark.pcap");
    let b = capture("hl7-mllp-adt__ndpi.pcap");
    let out = wardtap(&["replay", "--format", "json", a.to_str().unwrap(), b.to_str().unwrap()]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["counters"]["frames"], 4 + 9);
}

#[test]
fn learn_and_policy_give_alerts_and_ledger_in_json() {
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samples/ward-demo.pcap");
    let dir = std::env::temp_dir().join(format!("wardtap-cli-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        "[[allow]]\nscope = \"class:infusion_pump\"\ndomains = [\"*.vendor.example\"]\nnote = \"pump vendor\"\n",
    )
    .unwrap();
    let out = wardtap(&[
        "replay",
        "--format",
        "json",
        "--learn",
        "10s",
        "--policy",
        policy.to_str().unwrap(),
        sample.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let alerts = doc["alerts"].as_array().unwrap();
    for key in ["seq", "time", "severity", "kind", "device", "peer", "evidence"] {
        assert!(alerts[0].get(key).is_some(), "alert lacks {key}");
    }
    // The smart plug appears after learning and calls its cloud: both are reported.
    let kinds: Vec<&str> = alerts.iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"new_device") && kinds.contains(&"unexpected_outbound"), "{kinds:?}");
    // The pump's vendor connection is allowed by the policy: no medical-internet alert.
    assert!(!kinds.contains(&"medical_internet"), "{kinds:?}");
    let ledger = doc["ledger"].as_array().unwrap();
    let pump = ledger.iter().find(|l| l["name"] == "pump-updates.vendor.example").expect("pump in ledger");
    assert_eq!(pump["allowed"], true);
    let plug = ledger.iter().find(|l| l["name"] == "devs.tplinkcloud.com").expect("plug in ledger");
    assert_eq!(plug["allowed"], false);
    // A broken policy file is a clear error.
    std::fs::write(&policy, "[[allow]]\nscope = \"class:toaster\"\nports = [\"tcp/1\"]\n").unwrap();
    let out = wardtap(&["replay", "--policy", policy.to_str().unwrap(), sample.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown device class \"toaster\""));
    std::fs::remove_dir_all(&dir).ok();
}
