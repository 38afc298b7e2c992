//! Synthetic tap summaries of any size, for the merge benchmark and database tests: plausible
//! ward devices (monitors, pumps, modalities, workstations) with addresses, names, software,
//! DICOM titles, edges, alerts and ledger entries, all derived from the numbers given.

use super::{Summary, SummaryAlert, SummaryLedger};
use wardtap_proto::{
    text_from, AssetRecord, Counters, DeviceClass, Direction, EdgeRecord, IpAddr, Mac, NameSource, Protocol,
    ProtocolSet, Service, SoftwareSource, StrKind, StrRecord, Transport,
};

const CLASSES: [DeviceClass; 6] = [
    DeviceClass::PatientMonitor,
    DeviceClass::InfusionPump,
    DeviceClass::Workstation,
    DeviceClass::ImagingModality,
    DeviceClass::Printer,
    DeviceClass::IotOther,
];

/// The MAC of asset `n` of tap `tap` (locally administered, unique per pair).
pub fn mac(tap: u16, n: u16) -> Mac {
    let t = tap.to_be_bytes();
    let a = n.to_be_bytes();
    Mac([0x02, 0x57, t[0], t[1], a[0], a[1]])
}

fn s(kind: StrKind, v: &str) -> StrRecord {
    StrRecord { kind, text: text_from(v.as_bytes()).0 }
}

/// One asset record; `generation` changes its address, name and software (a later pull).
pub fn asset(tap: u16, n: u16, generation: u32, time: u64) -> AssetRecord {
    let class = CLASSES[usize::from(n) % CLASSES.len()];
    let mut protocols = ProtocolSet::default();
    protocols.insert(Protocol::Arp);
    protocols.insert(Protocol::Ipv4);
    protocols.insert(Protocol::Dhcp);
    let mut r = AssetRecord {
        mac: mac(tap, n),
        vlan: Some(10 + tap % 100),
        first_seen: time.saturating_sub(3_600_000_000),
        last_seen: time,
        frames_tx: 100 + u32::from(n),
        frames_rx: 90 + u32::from(n),
        bytes_tx: 10_000 + u64::from(n),
        bytes_rx: 9_000 + u64::from(n),
        ipv4: Default::default(),
        ipv6: Default::default(),
        class,
        evidence: text_from(b"DHCP vendor class").0,
        protocols,
        services: Default::default(),
        dhcp_prl: Default::default(),
        cleartext: 0,
        strings: Default::default(),
        dropped: 0,
    };
    let host = (u32::from(n) + generation) % 250 + 2;
    let _ = r.ipv4.push([10, (tap % 250) as u8, (n / 250) as u8, host as u8]);
    for b in [1u8, 3, 6, 15, 28, 51, 58, 59] {
        let _ = r.dhcp_prl.push(b);
    }
    let _ = r.services.push(Service { transport: Transport::Tcp, port: 443 });
    let _ = r.strings.push(s(StrKind::Name(NameSource::Dhcp), &format!("ward{tap}-dev{n}-g{generation}")));
    let _ = r.strings.push(s(StrKind::Software(SoftwareSource::DhcpVendorClass), &format!("MedOS 4.{generation}")));
    let _ = r.strings.push(s(StrKind::DnsQuery, "time.hospital.example"));
    if class == DeviceClass::ImagingModality {
        let _ = r.strings.push(s(StrKind::DicomAeCalled, "PACS01"));
        let _ = r.strings.push(s(StrKind::Name(NameSource::DicomAe), &format!("MOD{n}")));
    }
    r
}

/// A whole summary: `assets` assets, one edge each, an alert and a ledger entry per 64 assets.
pub fn summary(tap: u16, assets: u16, generation: u32, time: u64) -> Summary {
    let recs: Vec<AssetRecord> = (0..assets).map(|n| asset(tap, n, generation, time)).collect();
    let secs = u32::try_from(time / 1_000_000).unwrap_or(u32::MAX);
    let edges = recs
        .iter()
        .map(|r| EdgeRecord {
            asset: r.mac,
            peer: IpAddr::V4([10, (tap % 250) as u8, 200, 1]),
            external: false,
            transport: Transport::Tcp,
            port: 104,
            direction: Direction::Outbound,
            frames: 10,
            bytes: 1000,
            first_seen: secs.saturating_sub(3600),
            last_seen: secs,
        })
        .collect();
    let alerts = (0..assets / 64)
        .map(|i| SummaryAlert {
            seq: u32::from(i) + 1 + generation * 1000,
            time,
            last_time: time,
            severity: "high".into(),
            kind: "unexpected_outbound".into(),
            device: mac(tap, i * 64),
            device_ip: Some(IpAddr::V4([10, (tap % 250) as u8, 0, 2])),
            peer: Some(IpAddr::V4([203, 0, 113, (i % 250) as u8])),
            transport: "tcp".into(),
            port: 443,
            count: 1,
            evidence: "sni vendor-cloud.example".into(),
        })
        .collect();
    let ledger = (0..assets / 64)
        .map(|i| SummaryLedger {
            device: mac(tap, i * 64),
            endpoint: IpAddr::V4([203, 0, 113, (i % 250) as u8]),
            name: "vendor-cloud.example".into(),
            transport: "tcp".into(),
            port: 443,
            direction: "outbound".into(),
            first_seen: time.saturating_sub(3_600_000_000),
            last_seen: time,
            bytes: 5000,
            frames: 40,
            allowed: false,
        })
        .collect();
    Summary {
        tap: format!("tap-{tap:03}"),
        ward: format!("ward-{}", tap / 4),
        time,
        assets: recs,
        edges,
        alerts,
        ledger,
        counters: Counters { frames: 1_000_000, bytes: 100_000_000, ..Default::default() },
    }
}
