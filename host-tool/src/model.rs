//! The inventory document: what `wardtap replay` (and later `pull`) prints, built from the
//! core's records. One schema for every source; `SCHEMA_VERSION` changes with its shape.
//!
//! Strings from the wire become Rust strings by lossy UTF-8 decoding here, once; each output
//! format then escapes them for its own syntax.

use serde::Serialize;
use std::collections::BTreeMap;
use wardtap_core::dissect::Layer;
use wardtap_proto::{
    AlertRecord, AssetRecord, CleartextKind, Counters, EdgeRecord, IpAddr, LedgerRecord, Mac, StrKind, TableFill,
};

/// Version of the JSON document's shape.
pub const SCHEMA_VERSION: u32 = 1;

/// A name with where it came from.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Sourced {
    /// The value.
    pub value: String,
    /// Which protocol said so.
    pub source: &'static str,
}

/// DICOM identities of an asset.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Dicom {
    /// AE titles it calls (as SCU).
    pub called_ae: Vec<String>,
    /// AE titles that called it (as SCP).
    pub calling_ae: Vec<String>,
    /// SOP classes it proposed.
    pub sop_classes: Vec<String>,
    /// Implementation class UIDs.
    pub implementation_class_uid: Vec<String>,
}

/// HL7 identities of an asset.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Hl7 {
    /// `application|facility` it sends as (MSH-3|MSH-4).
    pub sending: Vec<String>,
    /// `application|facility` it sends to (MSH-5|MSH-6).
    pub receiving: Vec<String>,
    /// Message types (MSH-9).
    pub message_types: Vec<String>,
    /// Versions (MSH-12).
    pub versions: Vec<String>,
    /// Device identifiers (PRT-16 / OBX-18).
    pub device_ids: Vec<String>,
}

/// One asset in the document.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Asset {
    /// MAC address.
    pub mac: String,
    /// Vendor from the IEEE OUI registry (none for randomised MACs).
    pub vendor: Option<String>,
    /// Last VLAN.
    pub vlan: Option<u16>,
    /// Addresses (IPv4 then IPv6).
    pub ips: Vec<String>,
    /// Names with their sources.
    pub names: Vec<Sourced>,
    /// Device class.
    pub class: &'static str,
    /// What decided the class.
    pub evidence: String,
    /// RFC 3339 UTC.
    pub first_seen: String,
    /// RFC 3339 UTC.
    pub last_seen: String,
    /// Protocols seen from it.
    pub protocols: Vec<&'static str>,
    /// Software and description strings with their sources.
    pub software: Vec<Sourced>,
    /// Ports it answered on, as `tcp/104`.
    pub services: Vec<String>,
    /// DHCP parameter request list (the fingerprint), comma-separated, in order.
    pub dhcp_fingerprint: Option<String>,
    /// Identity fields (model, serial, port...) by field name.
    pub info: BTreeMap<&'static str, Vec<String>>,
    /// DICOM roles and titles.
    pub dicom: Dicom,
    /// HL7 applications.
    pub hl7: Hl7,
    /// TLS server names it asked for.
    pub tls_sni: Vec<String>,
    /// TLS client fingerprints.
    pub ja4: Vec<String>,
    /// DNS names it looked up.
    pub dns_queries: Vec<String>,
    /// HTTP hosts it asked for.
    pub http_hosts: Vec<String>,
    /// DNS-SD services it announces.
    pub dnssd_services: Vec<String>,
    /// Cleartext secrets seen sent by it (kinds only, never values).
    pub cleartext: Vec<&'static str>,
    /// Frames it sent.
    pub frames_tx: u32,
    /// Frames sent to it.
    pub frames_rx: u32,
    /// Bytes it sent.
    pub bytes_tx: u64,
    /// Bytes sent to it.
    pub bytes_rx: u64,
    /// Strings, addresses or services that did not fit the tap's tables.
    pub dropped: u16,
}

/// One communication edge.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Edge {
    /// The asset's MAC.
    pub asset: String,
    /// The peer address.
    pub peer: String,
    /// The peer is outside the segment.
    pub external: bool,
    /// `tcp`, `udp`, `icmp`, `ip`.
    pub transport: &'static str,
    /// Service port.
    pub port: u16,
    /// `outbound` (asset is the client) or `inbound`.
    pub direction: &'static str,
    /// Frames.
    pub frames: u32,
    /// Bytes.
    pub bytes: u64,
    /// RFC 3339 UTC.
    pub first_seen: String,
    /// RFC 3339 UTC.
    pub last_seen: String,
}

/// One alert.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Alert {
    /// Sequence number on its tap.
    pub seq: u32,
    /// RFC 3339 UTC, first occurrence.
    pub time: String,
    /// RFC 3339 UTC, last repeat.
    pub last_time: String,
    /// `info` … `critical`.
    pub severity: &'static str,
    /// Alert kind (`unexpected_outbound`, `scan`, ...).
    pub kind: &'static str,
    /// The local device's MAC.
    pub device: String,
    /// The device's address in the event.
    pub device_ip: Option<String>,
    /// The other end.
    pub peer: Option<String>,
    /// Transport.
    pub transport: &'static str,
    /// Port (0 if none).
    pub port: u16,
    /// Occurrences folded into this record.
    pub count: u32,
    /// Acknowledged on the tap.
    pub acknowledged: bool,
    /// What was seen.
    pub evidence: String,
}

impl Alert {
    /// From the core's record.
    pub fn from_record(a: &AlertRecord) -> Alert {
        Alert {
            seq: a.seq,
            time: rfc3339_us(a.time),
            last_time: rfc3339_us(a.last_time),
            severity: a.severity.name(),
            kind: a.kind.name(),
            device: mac_str(&a.device),
            device_ip: a.device_ip.map(|i| i.to_string()),
            peer: a.peer.map(|i| i.to_string()),
            transport: a.transport.name(),
            port: a.port,
            count: a.count,
            acknowledged: a.acknowledged,
            evidence: text(&a.evidence),
        }
    }
}

/// One connection point to outside the segment.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The local device's MAC.
    pub device: String,
    /// The external endpoint.
    pub endpoint: String,
    /// The DNS name or TLS SNI that led there, if seen.
    pub name: Option<String>,
    /// Transport.
    pub transport: &'static str,
    /// Service port.
    pub port: u16,
    /// `outbound` (the device reached out) or `inbound`.
    pub direction: &'static str,
    /// RFC 3339 UTC.
    pub first_seen: String,
    /// RFC 3339 UTC.
    pub last_seen: String,
    /// Bytes.
    pub bytes: u64,
    /// Frames.
    pub frames: u32,
    /// Allowed by the policy or the learned baseline.
    pub allowed: bool,
}

impl LedgerEntry {
    /// From the core's record.
    pub fn from_record(l: &LedgerRecord) -> LedgerEntry {
        LedgerEntry {
            device: mac_str(&l.device),
            endpoint: l.endpoint.to_string(),
            name: (!l.name.is_empty()).then(|| text(&l.name)),
            transport: l.transport.name(),
            port: l.port,
            direction: l.direction.name(),
            first_seen: rfc3339_s(l.first_seen),
            last_seen: rfc3339_s(l.last_seen),
            bytes: l.bytes,
            frames: l.frames,
            allowed: l.allowed,
        }
    }
}

/// The whole document.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Document {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Assets, sorted by MAC.
    pub assets: Vec<Asset>,
    /// Edges, sorted by asset, peer, port.
    pub edges: Vec<Edge>,
    /// Counters by name; `malformed` by dissector layer.
    pub counters: BTreeMap<String, u64>,
    /// Alerts, by sequence number.
    pub alerts: Vec<Alert>,
    /// Connection points to outside the segment, sorted by device, endpoint, port.
    pub ledger: Vec<LedgerEntry>,
}

/// Formats µs since the epoch as RFC 3339 UTC with microseconds.
pub fn rfc3339_us(us: u64) -> String {
    let secs = us / 1_000_000;
    let frac = us % 1_000_000;
    let (y, m, d, hh, mm, ss) = civil(secs);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{frac:06}Z")
}

/// Formats seconds since the epoch as RFC 3339 UTC.
pub fn rfc3339_s(secs: u32) -> String {
    let (y, m, d, hh, mm, ss) = civil(secs as u64);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// Days-from-civil inverse (H. Hinnant's algorithm), valid for any u64 seconds we meet.
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, (rem / 3600) as u32, (rem % 3600 / 60) as u32, (rem % 60) as u32)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn mac_str(m: &Mac) -> String {
    m.to_string()
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

impl Asset {
    /// Builds the document's view of a core record.
    pub fn from_record(r: &AssetRecord) -> Asset {
        let mut a = Asset {
            mac: mac_str(&r.mac),
            vendor: crate::oui::vendor(r.mac.0).map(str::to_owned),
            vlan: r.vlan,
            ips: r
                .ipv4
                .iter()
                .map(|v| IpAddr::V4(*v).to_string())
                .chain(r.ipv6.iter().map(|v| IpAddr::V6(*v).to_string()))
                .collect(),
            names: Vec::new(),
            class: r.class.name(),
            evidence: text(&r.evidence),
            first_seen: rfc3339_us(r.first_seen),
            last_seen: rfc3339_us(r.last_seen),
            protocols: r.protocols.iter().map(|p| p.name()).collect(),
            software: Vec::new(),
            services: r.services.iter().map(|s| format!("{}/{}", s.transport.name(), s.port)).collect(),
            dhcp_fingerprint: (!r.dhcp_prl.is_empty())
                .then(|| r.dhcp_prl.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(",")),
            info: BTreeMap::new(),
            dicom: Dicom::default(),
            hl7: Hl7::default(),
            tls_sni: Vec::new(),
            ja4: Vec::new(),
            dns_queries: Vec::new(),
            http_hosts: Vec::new(),
            dnssd_services: Vec::new(),
            cleartext: [
                CleartextKind::Telnet,
                CleartextKind::FtpLogin,
                CleartextKind::HttpBasic,
                CleartextKind::SnmpCommunity,
            ]
            .into_iter()
            .filter(|k| r.cleartext & (1 << (*k as u8)) != 0)
            .map(|k| k.name())
            .collect(),
            frames_tx: r.frames_tx,
            frames_rx: r.frames_rx,
            bytes_tx: r.bytes_tx,
            bytes_rx: r.bytes_rx,
            dropped: r.dropped,
        };
        for s in &r.strings {
            let t = text(&s.text);
            match s.kind {
                StrKind::Name(src) => a.names.push(Sourced { value: t, source: src.name() }),
                StrKind::Software(src) => a.software.push(Sourced { value: t, source: src.name() }),
                StrKind::Info(wardtap_proto::InfoField::DicomSopClass) => push_unique(&mut a.dicom.sop_classes, t),
                StrKind::Info(wardtap_proto::InfoField::DicomImplClassUid) => {
                    push_unique(&mut a.dicom.implementation_class_uid, t)
                }
                StrKind::Info(wardtap_proto::InfoField::Hl7DeviceId) => push_unique(&mut a.hl7.device_ids, t),
                StrKind::Info(f) => push_unique(a.info.entry(f.name()).or_default(), t),
                StrKind::DnsQuery => push_unique(&mut a.dns_queries, t),
                StrKind::TlsSni => push_unique(&mut a.tls_sni, t),
                StrKind::HttpHost => push_unique(&mut a.http_hosts, t),
                StrKind::Ja4 => push_unique(&mut a.ja4, t),
                StrKind::DnsSdService => push_unique(&mut a.dnssd_services, t),
                StrKind::DicomAeCalled => push_unique(&mut a.dicom.called_ae, t),
                StrKind::DicomAeCalling => push_unique(&mut a.dicom.calling_ae, t),
                StrKind::Hl7Sending => push_unique(&mut a.hl7.sending, t),
                StrKind::Hl7Receiving => push_unique(&mut a.hl7.receiving, t),
                StrKind::Hl7MessageType => push_unique(&mut a.hl7.message_types, t),
                StrKind::Hl7Version => push_unique(&mut a.hl7.versions, t),
            }
        }
        a
    }

    /// The best single name for tables: DHCP, then mDNS, NetBIOS, LLDP/CDP, SNMP, others.
    pub fn display_name(&self) -> Option<&str> {
        best_name(self.names.iter().map(|n| n.source)).and_then(|i| self.names.get(i)).map(|n| n.value.as_str())
    }
}

/// Which of names with these sources (in order) is the display name: the first DHCP one, then
/// mDNS, NetBIOS, LLDP/CDP, SNMP, others; `None` if there are none.
pub(crate) fn best_name<'a>(sources: impl Iterator<Item = &'a str> + Clone) -> Option<usize> {
    const ORDER: [&str; 9] = ["dhcp", "dhcp_fqdn", "mdns", "netbios", "lldp", "cdp", "snmp", "dns_ptr", "llmnr"];
    ORDER.iter().find_map(|src| sources.clone().position(|s| s == *src)).or_else(|| (sources.count() > 0).then_some(0))
}

impl Edge {
    /// Builds the document's view of a core edge.
    pub fn from_record(e: &EdgeRecord) -> Edge {
        Edge {
            asset: mac_str(&e.asset),
            peer: e.peer.to_string(),
            external: e.external,
            transport: e.transport.name(),
            port: e.port,
            direction: e.direction.name(),
            frames: e.frames,
            bytes: e.bytes,
            first_seen: rfc3339_s(e.first_seen),
            last_seen: rfc3339_s(e.last_seen),
        }
    }
}

/// Counters as a flat name → value map (`malformed_<layer>` for parse failures).
pub fn counters_map(c: &Counters, fill: Option<&TableFill>) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: u64| {
        m.insert(k.to_owned(), v);
    };
    put("frames", c.frames);
    put("bytes", c.bytes);
    put("vlan_too_deep", c.vlan_too_deep.into());
    put("fragments", c.fragments.into());
    put("unhandled", c.unhandled.into());
    put("tcp_payload_skipped", c.tcp_payload_skipped.into());
    put("flows_evicted", c.flows_evicted.into());
    put("assets_evicted", c.assets_evicted.into());
    put("edges_evicted", c.edges_evicted.into());
    put("peers_evicted", c.peers_evicted.into());
    put("strings_dropped_full", c.strings_dropped_full.into());
    put("strings_dropped_cap", c.strings_dropped_cap.into());
    put("strings_truncated", c.strings_truncated.into());
    put("addresses_dropped", c.addresses_dropped.into());
    put("services_dropped", c.services_dropped.into());
    put("observations_ignored", c.observations_ignored.into());
    put("alerts_raised", c.alerts_raised.into());
    put("alerts_folded", c.alerts_folded.into());
    put("alerts_overflow", c.alerts_overflow.into());
    put("baseline_entries", c.baseline_entries.into());
    put("baseline_full", c.baseline_full.into());
    put("policy_rules_refused", c.policy_rules_refused.into());
    for l in Layer::all() {
        put(&format!("malformed_{}", l.name()), c.malformed.get(l as usize).copied().unwrap_or(0).into());
    }
    if let Some(f) = fill {
        put("assets_in_use", f.assets.0.into());
        put("edges_in_use", f.edges.0.into());
        put("peers_in_use", f.peers.0.into());
        put("strings_in_use", f.strings.0.into());
        put("flows_in_use", f.flows.0.into());
    }
    m
}

impl Document {
    /// Builds the document from records, sorted for stable output.
    pub fn build(
        assets: impl IntoIterator<Item = AssetRecord>,
        edges: impl IntoIterator<Item = EdgeRecord>,
        counters: &Counters,
        fill: Option<&TableFill>,
    ) -> Document {
        let mut a: Vec<AssetRecord> = assets.into_iter().collect();
        a.sort_by_key(|r| r.mac);
        let mut e: Vec<EdgeRecord> = edges.into_iter().collect();
        e.sort_by(|x, y| {
            (x.asset, x.peer, x.port, x.transport, x.direction).cmp(&(
                y.asset,
                y.peer,
                y.port,
                y.transport,
                y.direction,
            ))
        });
        Document {
            schema_version: SCHEMA_VERSION,
            assets: a.iter().map(Asset::from_record).collect(),
            edges: e.iter().map(Edge::from_record).collect(),
            counters: counters_map(counters, fill),
            alerts: Vec::new(),
            ledger: Vec::new(),
        }
    }

    /// Adds alerts (sorted by sequence number) and ledger entries (sorted) to the document.
    pub fn with_alerts_and_ledger(
        mut self,
        alerts: impl IntoIterator<Item = AlertRecord>,
        ledger: impl IntoIterator<Item = LedgerRecord>,
    ) -> Document {
        let mut a: Vec<AlertRecord> = alerts.into_iter().collect();
        a.sort_by_key(|r| r.seq);
        self.alerts = a.iter().map(Alert::from_record).collect();
        let mut l: Vec<LedgerRecord> = ledger.into_iter().collect();
        l.sort_by_key(|x| (x.device, x.endpoint, x.port, x.transport));
        self.ledger = l.iter().map(LedgerEntry::from_record).collect();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_values() {
        assert_eq!(rfc3339_us(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339_us(1_358_373_545_123_456), "2013-01-16T21:59:05.123456Z");
        assert_eq!(rfc3339_s(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_s(u32::MAX), "2106-02-07T06:28:15Z");
    }
}
