//! Golden tests: `wardtap replay` over shared captures lists the devices they are known to
//! contain (MANIFEST.tsv), with their names, vendor classes, medical identities and SNIs.

use serde_json::Value;
use wardtap_tests::{assets, capture, has, replay_json, strs};

fn replay(files: &[&str]) -> Value {
    replay_json(&files.iter().map(|f| capture(f)).collect::<Vec<_>>())
}

/// The asset with this name (any source).
fn named<'a>(doc: &'a Value, name: &str) -> &'a Value {
    assets(doc)
        .iter()
        .find(|a| strs(&a["names"]).iter().any(|n| n == name))
        .unwrap_or_else(|| panic!("no asset named {name}: {}", serde_json::to_string_pretty(doc).unwrap()))
}

fn by_mac<'a>(doc: &'a Value, mac: &str) -> &'a Value {
    assets(doc).iter().find(|a| a["mac"] == mac).unwrap_or_else(|| panic!("no asset {mac}"))
}

#[test]
fn hospital_segment() {
    let doc = replay(&["dicom-dhcp-smb-hospital-synthetic__tapirxl.pcap"]);
    let monitor = named(&doc, "MX700-bed12");
    assert_eq!(monitor["class"], "patient_monitor");
    assert!(has(monitor, "software", "Philips IntelliVue"));
    let ct = named(&doc, "BRILL-CT01");
    assert_eq!(ct["class"], "imaging_modality");
    assert!(has(ct, "software", "Philips Brilliance iCT"));
    assert!(has(&ct["dicom"], "called_ae", "CCPLATFORM"));
    assert!(has(ct, "names", "CT9999999"));
    assert!(has(&ct["dicom"], "sop_classes", "1.2.840.10008.5.1.4.1.1.2"));
    assert!(has(ct, "software", "PMS_ELEVA_416"));
    let pacs = named(&doc, "CCPLATFORM01");
    assert_eq!(pacs["class"], "pacs");
    assert!(has(pacs, "names", "CCPLATFORM"));
    for ws in ["PACSARCH01", "ACMEWS02", "ACMECT01"] {
        assert!(has(named(&doc, ws), "software", "MSFT 5.0"), "{ws}");
    }
    // The endpoint detection agent's cloud and Microsoft telemetry.
    let snis: Vec<String> = assets(&doc).iter().flat_map(|a| strs(&a["tls_sni"])).collect();
    assert!(snis.contains(&"usea1-016.sentinelone.net".to_owned()), "{snis:?}");
    // Vendors from the IEEE registry.
    assert!(monitor["vendor"].as_str().unwrap().contains("Philips"));
}

#[test]
fn hl7_engine_applications() {
    let doc = replay(&["hl7-mllp-adt__ndpi.pcap"]);
    let sender = assets(&doc)
        .iter()
        .find(|a| has(&a["hl7"], "sending", "SENDING_APPLICATION|SENDING_FACILITY"))
        .expect("HL7 sender");
    assert_eq!(sender["class"], "hl7_engine");
    assert!(has(&sender["hl7"], "receiving", "RECEIVING_APPLICATION|RECEIVING_FACILITY"));
    assert!(has(&sender["hl7"], "message_types", "ADT^A01"));
    assert!(has(&sender["hl7"], "versions", "2.3"));
    let json = doc.to_string();
    // No patient data: the test patient's PID values never leave the core.
    for pid in ["Smith", "SMITH", "Donald", "DONALD", "19750513"] {
        assert!(!json.contains(pid), "{pid} leaked");
    }
}

#[test]
fn dhcp_hostnames_and_vendor_classes() {
    let doc = replay(&["dhcp-aruba-vendorclass__zeek.pcap"]);
    let ap = by_mac(&doc, "90:b1:1c:99:49:29");
    assert!(has(ap, "names", "btest.is.cool"));
    // 'ArubaAP' is option 60 in the server's OFFER/ACK: a server's option 60 says nothing of
    // the client (PXE servers send "PXEClient"), so it is not the AP's vendor class.
    assert!(!has(ap, "software", "ArubaAP"));

    let doc = replay(&["dhcp-request-msft-opt60__suricata-verify.pcap"]);
    let mac = named(&doc, "NicksMacBook");
    assert!(has(mac, "software", "MSFT 5.0"));
    assert_eq!(mac["dhcp_fingerprint"], "1,15,3,6,44,46,47,31,33,121,249,43");

    let doc = replay(&["dhcp-request-popos-opt55__zeek.pcap"]);
    assert_eq!(named(&doc, "pop-os")["dhcp_fingerprint"], "1,28,2,3,15,6,119,12,44,47,26,121,42,4,5,249,33,252");

    let doc = replay(&["dhcp-dora__arkime-wireshark.pcap"]);
    let phone = by_mac(&doc, "00:0b:82:01:fc:42");
    assert_eq!(phone["dhcp_fingerprint"], "1,3,6,42");
    assert!(phone["vendor"].as_str().unwrap().contains("Grandstream"));
}

#[test]
fn switches_from_lldp_and_cdp() {
    let doc = replay(&["lldp-cdp-cisco3560__tcpdump.pcap"]);
    for n in ["S1.cisco.com", "S2.cisco.com"] {
        let sw = named(&doc, n);
        assert_eq!(sw["class"], "network_infrastructure");
        assert!(strs(&sw["software"]).iter().any(|s| s.starts_with("Cisco IOS Software, C3560")), "{sw}");
    }
    let doc = replay(&["lldp-extreme-procurve__arkime-wireshark.pcap"]);
    let texts: Vec<String> = assets(&doc).iter().flat_map(|a| strs(&a["software"])).collect();
    assert!(texts.iter().any(|t| t.contains("Summit300-48")), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("ProCurve")), "{texts:?}");
    let doc = replay(&["cdp-cisco3560g__tcpdump.pcap"]);
    let sw = named(&doc, "Switch");
    assert!(sw["info"]["model"].to_string().contains("WS-C3560G-24PS"), "{sw}");
    assert!(sw["info"]["port_id"].to_string().contains("GigabitEthernet0/5"), "{sw}");
    let doc = replay(&["lldp-mudurl-linux__tcpdump.pcap"]);
    let host = named(&doc, "upstairs.ofcourseimright.com");
    assert!(strs(&host["software"]).iter().any(|s| s.contains("Ubuntu 14.04.5")));
    assert!(host["info"]["mud_url"].is_array());
}

#[test]
fn iot_devices_name_themselves() {
    for (file, name) in [
        ("iot-philips-hue-bridge__iot-sentinel.pcap", "Philips-hue"),
        ("iot-dlink-camera-dcs935l__iot-sentinel.pcap", "DCS-935L"),
        ("iot-tplink-plug-hs110__iot-sentinel.pcap", "HS110(EU)"),
        ("iot-fitbit-aria-scale__iot-sentinel.pcap", "GainSpanca9152"),
    ] {
        let doc = replay(&[file]);
        let a = named(&doc, name);
        assert_eq!(a["class"], "iot_other", "{file}: {a}");
    }
    // The manifest calls 'Withings00' option 12; the bytes say option 60 (vendor class).
    let doc = replay(&["iot-withings-scale__iot-sentinel.pcap"]);
    let scale = assets(&doc).iter().find(|a| has(a, "software", "Withings00")).expect("Withings scale");
    assert_eq!(scale["class"], "iot_other");
    assert!(has(scale, "software", "Withings UserAgent"));
    let doc = replay(&["iot-philips-hue-bridge__iot-sentinel.pcap"]);
    let hue = named(&doc, "Philips-hue");
    assert!(has(hue, "software", "udhcp 1.19.4"));
    assert!(strs(&hue["dnssd_services"]).iter().any(|s| s.contains("_hap._tcp")), "{hue}");
}

#[test]
fn mdns_netbios_and_snmp_names() {
    let doc = replay(&["mdns-ipp-linux__zeek.pcap"]);
    named(&doc, "johanna-QEMU-Virtual-Machine");
    let doc = replay(&["eapol-8021x-windows-boot__tcpdump.pcap"]);
    let pc = named(&doc, "DJP95S0J");
    assert_eq!(pc["class"], "workstation");
    assert!(!strs(&pc["names"]).is_empty());
    let doc = replay(&["snmpwalk-v1-public__zeek.pcap"]);
    let agent = assets(&doc).iter().find(|a| !strs(&a["software"]).is_empty()).expect("sysDescr");
    assert!(agent["protocols"].to_string().contains("snmp"));
    let json = doc.to_string();
    assert!(!json.contains("\"public\""), "community string leaked");
    assert!(assets(&doc).iter().any(|a| has(a, "cleartext", "snmp_community")));
}

#[test]
fn tls_names_and_ssh_banners() {
    let doc = replay(&["tls-clienthello-sni-gstatic__zeek.pcap"]);
    assert!(assets(&doc).iter().any(|a| has(a, "tls_sni", "ssl.gstatic.com")));
    let doc = replay(&["ssh-openssh78-debian__tcpdump.pcap"]);
    let banners: Vec<String> = assets(&doc).iter().flat_map(|a| strs(&a["software"])).collect();
    assert!(banners.contains(&"SSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u3".to_owned()), "{banners:?}");
}

#[test]
fn cleartext_credentials_are_flagged_never_kept() {
    let doc = replay(&["http-basicauth-cleartext__arkime.pcap"]);
    assert!(assets(&doc).iter().any(|a| has(a, "cleartext", "http_basic")));
    assert!(!doc.to_string().contains("passworddddd"));
    let doc = replay(&["ftp-cleartext-login-filezilla__zeek.pcap"]);
    assert!(assets(&doc).iter().any(|a| has(a, "cleartext", "ftp_login")));
    assert!(!doc.to_string().contains("qwerty"));
    let doc = replay(&["telnet-cleartext-login__ndpi.pcap"]);
    assert!(assets(&doc).iter().any(|a| has(a, "cleartext", "telnet")));
}

#[test]
fn mixed_lan_lists_every_sender() {
    // Every unicast source MAC in the capture becomes an asset (none lost on the way).
    for file in [
        "lan-mixed-home-office__ndpi-1kxun.pcap",
        "lan-office-teams-switch__ndpi.pcap",
        "lan-mixed-services__zeek-var-services.pcap",
        "lan-campus-printer-browse__zeek-wikipedia.pcap",
    ] {
        let doc = replay(&[file]);
        let expected = wardtap_tests_support::unicast_senders(&capture(file));
        let got: std::collections::BTreeSet<String> =
            assets(&doc).iter().map(|a| a["mac"].as_str().unwrap().to_owned()).collect();
        let missing: Vec<&String> = expected.iter().filter(|m| !got.contains(*m)).collect();
        assert!(missing.is_empty(), "{file}: missing {missing:?}");
    }
    let doc = replay(&["lan-mixed-home-office__ndpi-1kxun.pcap"]);
    for n in ["MacBook-Air", "kevin-PC", "Joanna-PC", "android-f7ca0f571270c52d", "sanji-LIFEBOOK-LH531"] {
        named(&doc, n);
    }
    assert_eq!(named(&doc, "kevin-PC")["class"], "workstation");
    let doc = replay(&["lan-office-teams-switch__ndpi.pcap"]);
    let sw = assets(&doc).iter().find(|a| has(a, "software", "TL-SG116E")).expect("TP-Link switch");
    assert_eq!(sw["class"], "network_infrastructure");
    // The Brother printer never speaks in this capture: a PC looks it up (LLMNR/NBNS). The
    // lookup is kept as what the PC asked, and nobody is named after it.
    let doc = replay(&["lan-campus-printer-browse__zeek-wikipedia.pcap"]);
    assert!(assets(&doc).iter().any(|a| has(a, "dns_queries", "BRWC0CB383D1F42")));
    assert!(!assets(&doc).iter().any(|a| has(a, "names", "BRWC0CB383D1F42")));
}

/// Independent of the core: the set of unicast source MACs, read with a few lines of pcap.
mod wardtap_tests_support {
    use std::collections::BTreeSet;
    use std::path::Path;

    pub fn unicast_senders(path: &Path) -> BTreeSet<String> {
        let mut r = wardtap::capture::CaptureReader::open(path).unwrap();
        let mut out = BTreeSet::new();
        while let Some(f) = r.next_frame().unwrap() {
            if f.data.len() >= 14 && f.data[6] & 1 == 0 && f.data[6..12] != [0; 6] {
                let m = &f.data[6..12];
                out.insert(format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]));
            }
        }
        out
    }
}
