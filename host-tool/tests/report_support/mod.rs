//! A database full of hostile strings from the wire, for the report tests.
#![allow(dead_code)]

use wardtap::db::{synthetic, Db, SummaryAlert, SummaryLedger};
use wardtap_proto::{text_from, IpAddr, NameSource, SoftwareSource, StrKind, StrRecord};

pub const SCRIPT: &str = "<script>document.title='pwned'</script>";
pub const IMG: &str = "<img src=x onerror=alert(1)>";
pub const FORMULA: &str = "=HYPERLINK(\"http://evil.example\",\"x\")";
pub const PLUS: &str = "+cmd|' /C calc'!A0";
pub const AT: &str = "@SUM(1+1)*cmd|' /C calc'!A0";
pub const MINUS: &str = "-2+3+cmd|' /C calc'!A0";
pub const CLOSE: &str = "\"></td></tr></table><b>x</b>";
pub const CONTROL: &[u8] = b"bed\x1b[31m7\x07\x00end";
pub const INVALID: &[u8] = b"\xff\xfe<ok>\xc3";

fn s(kind: StrKind, v: &[u8]) -> StrRecord {
    StrRecord { kind, text: text_from(v).0 }
}

/// Creates `path` with one hostile asset, alert and ledger entry among ordinary ones.
pub fn hostile_db(path: &str) {
    let mut db = Db::open(path).unwrap();
    let mut sm = synthetic::summary(7, 64, 0, 1_767_225_600_000_000);
    sm.ward = "ICU <b>&amp;</b>".into();
    let a = &mut sm.assets[1];
    a.strings.clear();
    let _ = a.strings.push(s(StrKind::Name(NameSource::Dhcp), FORMULA.as_bytes()));
    let _ = a.strings.push(s(StrKind::Name(NameSource::Mdns), IMG.as_bytes()));
    let _ = a.strings.push(s(StrKind::Name(NameSource::Netbios), SCRIPT.as_bytes()));
    let _ = a.strings.push(s(StrKind::Software(SoftwareSource::HttpServer), PLUS.as_bytes()));
    let _ = a.strings.push(s(StrKind::Software(SoftwareSource::SshBanner), AT.as_bytes()));
    let _ = a.strings.push(s(StrKind::Name(NameSource::Llmnr), MINUS.as_bytes()));
    let _ = a.strings.push(s(StrKind::Name(NameSource::Snmp), CLOSE.as_bytes()));
    let _ = a.strings.push(s(StrKind::Name(NameSource::Lldp), CONTROL));
    let _ = a.strings.push(s(StrKind::Software(SoftwareSource::Banner), INVALID));
    let _ = a.strings.push(s(StrKind::DicomAeCalled, IMG.as_bytes()));
    let mac = a.mac;
    sm.alerts.push(SummaryAlert {
        seq: 99,
        time: 1_767_225_600_000_000,
        last_time: 1_767_225_600_000_000,
        severity: "critical".into(),
        kind: "unknown_domain".into(),
        device: mac,
        device_ip: None,
        peer: Some(IpAddr::V4([198, 51, 100, 7])),
        transport: "udp".into(),
        port: 53,
        count: 1,
        evidence: format!("{SCRIPT} {FORMULA} {}", String::from_utf8_lossy(CONTROL)),
    });
    sm.ledger.push(SummaryLedger {
        device: mac,
        endpoint: IpAddr::V4([198, 51, 100, 7]),
        name: IMG.into(),
        transport: "tcp".into(),
        port: 443,
        direction: "outbound".into(),
        first_seen: 1_767_225_600_000_000,
        last_seen: 1_767_225_600_000_000,
        bytes: 1,
        frames: 1,
        allowed: false,
    });
    db.merge(&sm).unwrap();
}
