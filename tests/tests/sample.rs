//! The bundled quick-start capture `samples/ward-demo.pcap` (written by
//! `scripts/make-sample.py`): every device in it is inventoried with its name, class and
//! medical identity, nothing in it is counted as malformed, and the fake patient and the SNMP
//! community it carries never reach the output.

use serde_json::Value;
use std::path::PathBuf;
use wardtap_tests::{assets, has, replay_json, strs};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/ward-demo.pcap");

fn replay_sample() -> Value {
    replay_json(&[PathBuf::from(SAMPLE)])
}

/// The asset with this name (any source), checked to be of `class`.
fn device<'a>(doc: &'a Value, name: &str, class: &str) -> &'a Value {
    let a = assets(doc)
        .iter()
        .find(|a| has(a, "names", name))
        .unwrap_or_else(|| panic!("no asset named {name}: {}", serde_json::to_string_pretty(doc).unwrap()));
    assert_eq!(a["class"], class, "{name}: {a}");
    a
}

/// Every string value in the document (keys excluded).
fn all_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| all_strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| all_strings(x, out)),
        _ => {}
    }
}

#[test]
fn sample_is_small_and_clean() {
    let len = std::fs::metadata(SAMPLE).unwrap().len();
    assert!(len < 100 * 1024, "{len} bytes");
    let doc = replay_sample();
    assert_eq!(assets(&doc).len(), 10, "{}", serde_json::to_string_pretty(&doc).unwrap());
    for (name, n) in doc["counters"].as_object().unwrap() {
        if name.starts_with("malformed_") || name.ends_with("_dropped") || name.ends_with("_evicted") {
            assert_eq!(n, 0, "{name}");
        }
    }
}

#[test]
fn network_infrastructure() {
    let doc = replay_sample();
    let sw = device(&doc, "ward3-sw1", "network_infrastructure");
    assert!(strs(&sw["software"]).iter().any(|s| s.starts_with("Cisco IOS Software, C2960X")), "{sw}");
    assert!(has(sw, "protocols", "stp") && has(sw, "protocols", "lldp"), "{sw}");
    assert!(has(sw, "ips", "10.20.0.2"), "LLDP management address: {sw}");
    assert!(sw["vendor"].as_str().unwrap().contains("Cisco"));

    let fw = device(&doc, "ward3-fw1", "network_infrastructure");
    assert!(has(fw, "ips", "10.20.0.1"));
    assert!(has(fw, "services", "udp/67") && has(fw, "services", "udp/53"), "{fw}");
    assert!(fw["vendor"].as_str().unwrap().contains("Fortinet"));
}

#[test]
fn medical_devices() {
    let doc = replay_sample();

    let monitor = device(&doc, "MX450-bed07", "patient_monitor");
    assert!(has(monitor, "ips", "10.20.0.101"));
    assert!(has(monitor, "software", "Philips IntelliVue MX450"));
    assert!(monitor["vendor"].as_str().unwrap().contains("Philips"));
    let hl7 = &monitor["hl7"];
    assert!(has(hl7, "sending", "IntelliVue|WARD3"), "{hl7}");
    assert!(has(hl7, "receiving", "HL7ENGINE|HOSPITAL"), "{hl7}");
    assert!(has(hl7, "message_types", "ORU^R01^ORU_R01"), "{hl7}");
    assert!(has(hl7, "versions", "2.6"), "{hl7}");
    assert!(has(hl7, "device_ids", "MX450-DE00712^Philips^0009FBFFFE5E2107^EUI-64"), "{hl7}");

    let pump = device(&doc, "alaris-pc-0231", "infusion_pump");
    assert!(has(pump, "ips", "10.20.0.102"));
    assert!(has(pump, "software", "BD Alaris PC 9.33"));
    assert!(has(pump, "tls_sni", "pump-updates.vendor.example"), "{pump}");
    assert!(pump["vendor"].as_str().unwrap().contains("Becton"));

    let ct = device(&doc, "CT-SCANNER-01", "imaging_modality");
    assert!(has(ct, "ips", "10.20.0.103"));
    assert!(has(ct, "names", "CT01"), "calling AE title: {ct}");
    assert!(has(&ct["dicom"], "called_ae", "PACS_MAIN"));
    assert!(has(&ct["dicom"], "sop_classes", "1.2.840.10008.5.1.4.1.1.2"));
    assert!(strs(&ct["dicom"]["implementation_class_uid"]).iter().any(|u| u.starts_with("2.25.")), "{ct}");
    assert!(has(ct, "software", "WARD_CT_VR10A"));

    let pacs = device(&doc, "PACS_MAIN", "pacs");
    assert!(has(pacs, "ips", "10.20.0.20"));
    assert!(has(&pacs["dicom"], "calling_ae", "CT01"));
    assert!(has(pacs, "software", "WARD_PACS_7.2"));
    assert!(has(pacs, "services", "tcp/104"));

    let engine = device(&doc, "HL7ENGINE01", "hl7_engine");
    assert!(has(engine, "ips", "10.20.0.30"));
    assert!(has(&engine["hl7"], "sending", "HL7ENGINE|HOSPITAL"), "{engine}");
    assert!(has(engine, "services", "tcp/2575"));
}

#[test]
fn workstation_printer_and_the_smart_plug() {
    let doc = replay_sample();

    let ws = device(&doc, "NURSE-WS-03", "workstation");
    assert!(has(ws, "ips", "10.20.0.104"));
    assert!(has(ws, "software", "MSFT 5.0"));
    assert!(strs(&ws["software"]).iter().any(|s| s.starts_with("Mozilla/5.0 (Windows NT 10.0")), "{ws}");
    assert!(has(ws, "dns_queries", "ehr.hospital.example"));
    assert!(has(ws, "http_hosts", "ehr.hospital.example"));
    // It polled the printer over SNMP v2c: the community is flagged, never kept.
    assert!(has(ws, "cleartext", "snmp_community"), "{ws}");

    let printer = device(&doc, "Ward3 Printer", "printer");
    assert!(has(printer, "ips", "10.20.0.40"));
    assert!(has(printer, "dnssd_services", "Ward3 Printer._ipp._tcp.local"), "{printer}");
    assert!(has(printer, "services", "tcp/9100"));
    assert!(strs(&printer["software"]).iter().any(|s| s.contains("JETDIRECT")), "{printer}");

    let plug = device(&doc, "HS110(EU)", "iot_other");
    assert!(has(plug, "ips", "10.20.0.105"));
    assert!(has(plug, "software", "udhcp 0.9.9-pre"));
    assert!(has(plug, "dns_queries", "devs.tplinkcloud.com"));
    assert!(has(plug, "tls_sni", "devs.tplinkcloud.com"));
    // Its cloud connection is an external edge (what a later alert will look at).
    let mac = plug["mac"].as_str().unwrap();
    let edge = doc["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["asset"] == mac && e["peer"] == "198.51.100.7")
        .unwrap_or_else(|| panic!("no edge to the cloud: {}", doc["edges"]));
    assert_eq!(edge["external"], true);
    assert_eq!(edge["port"], 443);
    assert_eq!(edge["direction"], "outbound");
}

#[test]
fn no_patient_data_or_community_in_the_output() {
    let doc = replay_sample();
    let mut values = Vec::new();
    all_strings(&doc, &mut values);
    // The HL7 PID segment's placeholder patient, MRN and birth date; the SNMP community.
    for secret in ["TEST^PATIENT", "TEST", "PATIENT", "TEST0001", "19700101", "public"] {
        let leaked: Vec<&String> = values.iter().filter(|v| v.contains(secret)).collect();
        assert!(leaked.is_empty(), "{secret} leaked: {leaked:?}");
    }
    let json = doc.to_string();
    assert!(!json.contains("TEST^PATIENT") && !json.contains("\"public\""));
}
