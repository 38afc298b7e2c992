//! Summary records: what a tap reports about its segment.
//!
//! The same records feed `wardtap replay` (built in-process by the core) and `wardtap pull`
//! (sent over the management link), so both print the same schema.

use crate::types::*;
use serde::{Deserialize, Serialize};

/// Longest string kept for an asset (names, banners, SNIs...).
pub const STRING_LEN: usize = 48;
/// Strings carried per asset record.
pub const MAX_RECORD_STRINGS: usize = 24;
/// IPv4 addresses per asset record.
pub const MAX_RECORD_V4: usize = 4;
/// IPv6 addresses per asset record.
pub const MAX_RECORD_V6: usize = 4;
/// Services per asset record.
pub const MAX_RECORD_SERVICES: usize = 12;
/// DHCP parameter request list bytes per asset record.
pub const MAX_RECORD_PRL: usize = 32;
/// Evidence text length.
pub const EVIDENCE_LEN: usize = 64;

/// A port a device answered on.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Service {
    /// Transport.
    pub transport: Transport,
    /// Port.
    pub port: u16,
}

/// One string kept for an asset.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StrRecord {
    /// What it is and where it came from.
    pub kind: StrKind,
    /// The bytes (cut to [`STRING_LEN`]).
    pub text: Text<STRING_LEN>,
}

/// Everything the tap knows about one device (one source MAC).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AssetRecord {
    /// Its MAC.
    pub mac: Mac,
    /// Innermost VLAN it was last seen on.
    pub vlan: Option<u16>,
    /// First frame, µs since the epoch.
    pub first_seen: u64,
    /// Last frame, µs since the epoch.
    pub last_seen: u64,
    /// Frames it sent.
    pub frames_tx: u32,
    /// Frames sent to it (unicast).
    pub frames_rx: u32,
    /// Bytes it sent.
    pub bytes_tx: u64,
    /// Bytes sent to it.
    pub bytes_rx: u64,
    /// IPv4 addresses.
    pub ipv4: heapless::Vec<[u8; 4], MAX_RECORD_V4, u8>,
    /// IPv6 addresses.
    pub ipv6: heapless::Vec<[u8; 16], MAX_RECORD_V6, u8>,
    /// Device class.
    pub class: DeviceClass,
    /// Why that class (the rule's description and the value that matched).
    pub evidence: Text<EVIDENCE_LEN>,
    /// Protocols seen from it.
    pub protocols: ProtocolSet,
    /// Ports it answered on.
    pub services: heapless::Vec<Service, MAX_RECORD_SERVICES, u8>,
    /// DHCP parameter request list (option 55), in order.
    pub dhcp_prl: heapless::Vec<u8, MAX_RECORD_PRL, u8>,
    /// Cleartext secrets seen sent by it: bit `1 << CleartextKind`.
    pub cleartext: u8,
    /// Names, software, identities, lookups.
    pub strings: heapless::Vec<StrRecord, MAX_RECORD_STRINGS, u8>,
    /// Strings, addresses or services it had that did not fit.
    pub dropped: u16,
}

/// Which side of an edge the asset is on.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Direction {
    /// The asset is the client: it reached out to the peer's port.
    Outbound,
    /// The asset is the server: the peer reached its port.
    Inbound,
}

impl Direction {
    /// Stable lowercase name.
    pub fn name(&self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
        }
    }
}

/// Who talked to whom: one asset, one peer address, one service port.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EdgeRecord {
    /// The asset's MAC.
    pub asset: Mac,
    /// The other end.
    pub peer: IpAddr,
    /// The peer is outside the local segment.
    pub external: bool,
    /// Transport.
    pub transport: Transport,
    /// The service port (the server's).
    pub port: u16,
    /// Which side the asset is on.
    pub direction: Direction,
    /// Frames.
    pub frames: u32,
    /// Bytes.
    pub bytes: u64,
    /// First seen, seconds since the epoch.
    pub first_seen: u32,
    /// Last seen, seconds since the epoch.
    pub last_seen: u32,
}

/// Everything the core counted: traffic, parse failures, table pressure.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Counters {
    /// Frames processed.
    pub frames: u64,
    /// Bytes processed.
    pub bytes: u64,
    /// Truncated or malformed input, per dissector layer (order of `wardtap_core::dissect::Layer`).
    pub malformed: [u32; 20],
    /// Frames with more than two VLAN tags.
    pub vlan_too_deep: u32,
    /// IP fragments after the first.
    pub fragments: u32,
    /// Frames no dissector handles.
    pub unhandled: u32,
    /// TCP segments not looked into (not the first of their direction).
    pub tcp_payload_skipped: u32,
    /// TCP flows evicted.
    pub flows_evicted: u32,
    /// Assets evicted to make room.
    pub assets_evicted: u32,
    /// Edges evicted to make room.
    pub edges_evicted: u32,
    /// Peer addresses evicted to make room.
    pub peers_evicted: u32,
    /// Strings not kept: string table full.
    pub strings_dropped_full: u32,
    /// Strings not kept: the asset already had its share of that kind.
    pub strings_dropped_cap: u32,
    /// Strings kept cut short.
    pub strings_truncated: u32,
    /// Addresses not kept (asset already had its maximum).
    pub addresses_dropped: u32,
    /// Services not kept (asset already had its maximum).
    pub services_dropped: u32,
    /// Observations that named no usable device (e.g. a group MAC).
    pub observations_ignored: u32,
    /// Alert records created.
    pub alerts_raised: u32,
    /// Alert repeats folded into an existing record.
    pub alerts_folded: u32,
    /// Unacknowledged alerts lost because the ring was full.
    pub alerts_overflow: u32,
    /// Baseline entries learned.
    pub baseline_entries: u32,
    /// Baseline entries that did not fit (they will alert after locking).
    pub baseline_full: u32,
    /// Policy rules refused (rule table full).
    pub policy_rules_refused: u32,
}

/// Table fill, for status displays.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TableFill {
    /// Assets in use / capacity.
    pub assets: (u16, u16),
    /// Edges in use / capacity.
    pub edges: (u16, u16),
    /// Peers in use / capacity.
    pub peers: (u16, u16),
    /// Strings in use / capacity.
    pub strings: (u16, u16),
    /// Flows in use / capacity.
    pub flows: (u16, u16),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record with every bounded field filled to capacity with the longest values.
    fn fullest_asset() -> AssetRecord {
        let mut r = AssetRecord {
            mac: Mac([0xff; 6]),
            vlan: Some(4095),
            first_seen: u64::MAX,
            last_seen: u64::MAX,
            frames_tx: u32::MAX,
            frames_rx: u32::MAX,
            bytes_tx: u64::MAX,
            bytes_rx: u64::MAX,
            ipv4: heapless::Vec::new(),
            ipv6: heapless::Vec::new(),
            class: DeviceClass::IotOther,
            evidence: heapless::Vec::new(),
            protocols: ProtocolSet(u32::MAX),
            services: heapless::Vec::new(),
            dhcp_prl: heapless::Vec::new(),
            cleartext: 0xff,
            strings: heapless::Vec::new(),
            dropped: u16::MAX,
        };
        while r.ipv4.push([255; 4]).is_ok() {}
        while r.ipv6.push([255; 16]).is_ok() {}
        while r.services.push(Service { transport: Transport::Other(255), port: u16::MAX }).is_ok() {}
        while r.dhcp_prl.push(255).is_ok() {}
        while r.evidence.push(0xff).is_ok() {}
        let mut text = Text::new();
        while text.push(0xff).is_ok() {}
        while r.strings.push(StrRecord { kind: StrKind::Info(InfoField::DicomSopClass), text: text.clone() }).is_ok() {}
        r
    }

    #[test]
    fn fullest_asset_record_fits_a_message() {
        let mut buf = [0u8; crate::MAX_MESSAGE_LEN];
        let used = postcard::to_slice(&fullest_asset(), &mut buf).expect("fits").len();
        assert!(used < crate::MAX_MESSAGE_LEN, "{used}");
    }

    #[test]
    fn asset_record_roundtrips() {
        let r = fullest_asset();
        let mut buf = [0u8; crate::MAX_MESSAGE_LEN];
        let bytes = postcard::to_slice(&r, &mut buf).unwrap();
        let back: AssetRecord = postcard::from_bytes(bytes).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn counters_and_edges_fit() {
        let mut buf = [0u8; crate::MAX_MESSAGE_LEN];
        let c = Counters { frames: u64::MAX, bytes: u64::MAX, malformed: [u32::MAX; 20], ..Default::default() };
        assert!(postcard::to_slice(&c, &mut buf).is_ok());
        let e = EdgeRecord {
            asset: Mac([0xff; 6]),
            peer: IpAddr::V6([0xff; 16]),
            external: true,
            transport: Transport::Other(255),
            port: u16::MAX,
            direction: Direction::Inbound,
            frames: u32::MAX,
            bytes: u64::MAX,
            first_seen: u32::MAX,
            last_seen: u32::MAX,
        };
        assert!(postcard::to_slice(&e, &mut buf).unwrap().len() < 64);
    }
}
