//! LLDP (IEEE 802.1AB): what a switch, phone or host says about itself on its link.
//!
//! Parsed: chassis id, port id (and the port description when the port id is not text),
//! system name, system description, system capabilities, management addresses, the
//! LLDP-MED inventory TLVs (ANSI/TIA-1057: hardware/firmware/software revision, serial,
//! manufacturer, model, asset id) and the MUD URL TLV (RFC 8520).
//!
//! Deliberately not parsed: TTL, the IEEE 802.1 / 802.3 organisational TLVs (VLANs, PoE,
//! link aggregation) and LLDP-MED network policy, location and power: none of them names
//! the device. The pipeline has already marked the sender as speaking LLDP (the ethertype
//! is proof enough), so this dissector does not do it again.

use super::util::{be16, trim, Cursor};
use super::{Error, Result};
use crate::fact::{AddrEvidence, Fact, FrameCtx, Sink};
use core::fmt::Write;
use wardtap_proto::{InfoField, IpAddr, Mac, NameSource, SoftwareSource};

/// TLVs looked at per frame; a 1500-byte frame holds at most ~750 empty ones.
const MAX_TLVS: usize = 64;

/// TLV types (7 bits).
mod tlv {
    pub const END: u8 = 0;
    pub const CHASSIS_ID: u8 = 1;
    pub const PORT_ID: u8 = 2;
    pub const PORT_DESCR: u8 = 4;
    pub const SYS_NAME: u8 = 5;
    pub const SYS_DESCR: u8 = 6;
    pub const SYS_CAPS: u8 = 7;
    pub const MGMT_ADDR: u8 = 8;
    pub const ORG: u8 = 127;
}

/// Chassis id subtypes that are not text.
mod chassis {
    pub const MAC: u8 = 4;
    pub const NET_ADDR: u8 = 5;
}

/// Port id subtypes that are not text.
mod port {
    pub const MAC: u8 = 3;
    pub const NET_ADDR: u8 = 4;
}

/// System capability bits.
mod cap {
    pub const BRIDGE: u16 = 0x04;
    pub const WLAN_AP: u16 = 0x08;
    pub const ROUTER: u16 = 0x10;
    pub const PHONE: u16 = 0x20;
}

/// TIA (LLDP-MED) organisationally unique identifier.
const OUI_MED: [u8; 3] = [0x00, 0x12, 0xbb];
/// IANA OUI; its subtype 1 is the MUD URL.
const OUI_IANA: [u8; 3] = [0x00, 0x00, 0x5e];
const IANA_MUD_URL: u8 = 1;

/// LLDP-MED inventory subtypes 5..=11, in order.
const MED_INVENTORY: [InfoField; 7] = [
    InfoField::HardwareRev,
    InfoField::FirmwareRev,
    InfoField::SoftwareRev,
    InfoField::Serial,
    InfoField::Manufacturer,
    InfoField::Model,
    InfoField::AssetId,
];

/// Room for the text form of any id rendered here (an IPv6 address is at most 45 chars).
type IdBuf = heapless::String<48>;

/// An address as IANA address family number + bytes (management address, network-address ids).
fn iana_addr(b: &[u8]) -> Option<IpAddr> {
    match b {
        [1, a @ ..] => Some(IpAddr::V4(a.try_into().ok()?)),
        [2, a @ ..] => Some(IpAddr::V6(a.try_into().ok()?)),
        _ => None,
    }
}

/// Renders a chassis or port id: a MAC as `aa:bb:cc:dd:ee:ff`, a network address in its usual
/// text form, anything else as the bytes themselves. `None` when a binary id has a bad length.
fn render_id<'a>(id: &'a [u8], is_mac: bool, is_addr: bool, buf: &'a mut IdBuf) -> Option<&'a [u8]> {
    if is_mac {
        write!(buf, "{}", Mac(id.try_into().ok()?)).ok()?;
    } else if is_addr {
        write!(buf, "{}", iana_addr(id)?).ok()?;
    } else {
        return Some(trim(id));
    }
    Some(buf.as_bytes())
}

fn info<S: Sink + ?Sized>(ctx: &FrameCtx, sink: &mut S, field: InfoField, value: &[u8]) {
    let value = trim(value);
    if !value.is_empty() {
        sink.fact(ctx, &Fact::Info { mac: ctx.src_mac, field, value });
    }
}

/// Dissects one LLDPDU (the Ethernet payload). Facts are emitted TLV by TLV; a TLV whose
/// inside is inconsistent is skipped and reported as `Malformed` once the rest is read.
pub fn dissect<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
    let mut c = Cursor::new(payload);
    let mut port_is_text = false;
    let mut bad = false;
    for i in 0..MAX_TLVS {
        if c.is_empty() {
            break;
        }
        let head = c.u16()?;
        let (t, len) = ((head >> 9) as u8, usize::from(head & 0x1ff));
        // The chassis id must come first: anything else is not an LLDPDU.
        if i == 0 && t != tlv::CHASSIS_ID {
            return Err(Error::Malformed);
        }
        if t == tlv::END {
            break;
        }
        let v = c.take(len)?;
        let ok = match t {
            tlv::CHASSIS_ID | tlv::PORT_ID => match v {
                [sub, id @ ..] => {
                    let (field, is_mac, is_addr) = if t == tlv::CHASSIS_ID {
                        (InfoField::ChassisId, *sub == chassis::MAC, *sub == chassis::NET_ADDR)
                    } else {
                        port_is_text = *sub != port::MAC && *sub != port::NET_ADDR;
                        (InfoField::PortId, *sub == port::MAC, *sub == port::NET_ADDR)
                    };
                    let mut buf = IdBuf::new();
                    match render_id(id, is_mac, is_addr, &mut buf) {
                        Some(text) => {
                            info(ctx, sink, field, text);
                            true
                        }
                        None => false,
                    }
                }
                [] => false,
            },
            // A MAC or address port id says little to a person; "eth0" / "1/1" does.
            tlv::PORT_DESCR if !port_is_text => {
                info(ctx, sink, InfoField::PortId, v);
                true
            }
            tlv::SYS_NAME => {
                let name = trim(v);
                if !name.is_empty() {
                    sink.fact(ctx, &Fact::Name { mac: ctx.src_mac, name, source: NameSource::Lldp });
                }
                true
            }
            tlv::SYS_DESCR => {
                let text = trim(v);
                if !text.is_empty() {
                    sink.fact(ctx, &Fact::Software { mac: ctx.src_mac, text, source: SoftwareSource::LldpSysDescr });
                }
                true
            }
            tlv::SYS_CAPS => match be16(v, 2) {
                Some(enabled) if v.len() == 4 => {
                    let is_bridge_or_router = enabled & (cap::BRIDGE | cap::WLAN_AP | cap::ROUTER) != 0;
                    let is_phone = enabled & cap::PHONE != 0;
                    sink.fact(ctx, &Fact::Capabilities { is_bridge_or_router, is_phone });
                    true
                }
                _ => false,
            },
            tlv::MGMT_ADDR => mgmt_addr(ctx, v, sink),
            tlv::ORG => org(ctx, v, sink),
            _ => true,
        };
        bad |= !ok;
    }
    if bad {
        Err(Error::Malformed)
    } else {
        Ok(())
    }
}

/// Management address TLV: address string length (including its subtype), subtype, address,
/// then interface numbering and an OID, which are not needed.
fn mgmt_addr<S: Sink + ?Sized>(ctx: &FrameCtx, v: &[u8], sink: &mut S) -> bool {
    let mut c = Cursor::new(v);
    let Ok(n) = c.u8() else { return false };
    let Ok(addr) = c.take(usize::from(n)) else { return false };
    match iana_addr(addr) {
        Some(ip) if !ip.is_unspecified() && !ip.is_group() => {
            sink.fact(ctx, &Fact::Address { mac: ctx.src_mac, ip, how: AddrEvidence::Announced });
            true
        }
        Some(_) => true,
        // Other families (MAC, DNS name...) are legal but not an IP address.
        None => !matches!(addr.first(), Some(1 | 2)),
    }
}

/// Organisationally specific TLV: OUI (3), subtype (1), information.
fn org<S: Sink + ?Sized>(ctx: &FrameCtx, v: &[u8], sink: &mut S) -> bool {
    let [o0, o1, o2, sub, rest @ ..] = v else { return false };
    match ([*o0, *o1, *o2], *sub) {
        (OUI_MED, 5..=11) => {
            if let Some(field) = MED_INVENTORY.get(usize::from(sub.saturating_sub(5))) {
                info(ctx, sink, *field, rest);
            }
        }
        (OUI_IANA, IANA_MUD_URL) => info(ctx, sink, InfoField::MudUrl, rest),
        _ => {}
    }
    true
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::dissect::testutil::{ctx, facts, frames};
    use crate::fact::collect::Collect;
    use std::vec::Vec;

    fn run(payload: &[u8]) -> (Result<()>, Collect) {
        crate::dissect::testutil::run(dissect, payload)
    }

    fn tlv(t: u8, v: &[u8]) -> Vec<u8> {
        let head = (u16::from(t) << 9) | v.len() as u16;
        let mut out = head.to_be_bytes().to_vec();
        out.extend_from_slice(v);
        out
    }

    fn pdu(tlvs: &[Vec<u8>]) -> Vec<u8> {
        let mut out = tlv(1, &[7, b'c', b'h']);
        for t in tlvs {
            out.extend_from_slice(t);
        }
        out.extend_from_slice(&[0, 0]);
        out
    }

    #[test]
    fn cisco_switches_name_software_and_ports() {
        let c = facts("lldp-cdp-cisco3560__tcpdump.pcap");
        assert!(c.has("Name 00:18:ba:98:68:8f Lldp S1.cisco.com"));
        assert!(c.has("Name 00:19:2f:a7:b2:8d Lldp S2.cisco.com"));
        assert!(c.has("Software 00:18:ba:98:68:8f LldpSysDescr Cisco IOS Software, C3560 Software"));
        assert!(c.has("Info 00:18:ba:98:68:8f ChassisId 00:18:ba:98:68:8f"));
        assert!(c.has("Info 00:18:ba:98:68:8f PortId Fa0/13"));
        assert!(c.has("Info 00:19:2f:a7:b2:8d PortId Uplink to S1"));
        // The port id is text, so the port description is not repeated as a port id (CDP,
        // in the same capture, does say GigabitEthernet0/13: look at the LLDP frames alone).
        let mut only = Collect::default();
        for (_, f) in frames("lldp-cdp-cisco3560__tcpdump.pcap") {
            if f.get(12..14) == Some(&[0x88, 0xcc][..]) {
                assert_eq!(dissect(&ctx(), &f[14..], &mut only), Ok(()));
            }
        }
        assert!(only.has("PortId Uplink to S1"));
        assert!(!only.has("PortId GigabitEthernet0/13"));
        assert!(c.has("Capabilities bridge_or_router=true phone=false"));
    }

    #[test]
    fn extreme_and_procurve() {
        let c = facts("lldp-extreme-procurve__arkime-wireshark.pcap");
        assert!(c.has("Lldp Summit300-48"));
        assert!(c.has("LldpSysDescr Summit300-48 - Version 7.4e.1"));
        assert!(c.has("Lldp ProCurve Switch 2600-8-PWR"));
        assert!(c.has("LldpSysDescr ProCurve J8762A Switch 2600-8-PWR, revision H.08.89"));
        assert!(c.has("PortId 1/3"));
        assert!(c.has("PortId 1/1"));
        assert!(c.has("Address 00:13:21:57:ca:7f 15.255.122.148 Announced"));
        assert!(c.has("Info 00:01:30:f9:ad:a0 ChassisId 00:01:30:f9:ad:a0"));
    }

    #[test]
    fn linux_host_with_mud_url() {
        let c = facts("lldp-mudurl-linux__tcpdump.pcap");
        let m = "00:23:54:c2:57:02";
        assert!(c.has(&std::format!("Name {m} Lldp upstairs.ofcourseimright.com")));
        assert!(c.has("LldpSysDescr Ubuntu 14.04.5 LTS Linux 3.13.0-106-generic"));
        assert!(c.has(&std::format!("Info {m} MudUrl https://imright.mud.example.com/.well-known/mud/v1/vomitv2.0")));
        assert!(c.has(&std::format!("Address {m} 62.12.173.114 Announced")));
        assert!(c.has(&std::format!("Address {m} 2001:8a8:1006:4:223:54ff:fec2:5702 Announced")));
        // MAC port id, rendered, and the port description as a readable port id.
        assert!(c.has(&std::format!("Info {m} PortId {m}")));
        assert!(c.has(&std::format!("Info {m} PortId eth0")));
    }

    #[test]
    fn lldp_med_inventory_and_phone() {
        let mut t = Vec::new();
        for (sub, s) in
            [(5u8, "HW1"), (6, "FW2"), (7, "SW3"), (8, "SN123"), (9, "Acme Medical"), (10, "Pump-9"), (11, "")]
        {
            let mut v = std::vec![0x00, 0x12, 0xbb, sub];
            v.extend_from_slice(s.as_bytes());
            t.push(tlv(127, &v));
        }
        t.push(tlv(127, &[0x00, 0x12, 0xbb, 12, b'x'])); // unknown MED subtype: ignored
        t.push(tlv(7, &[0x00, 0x24, 0x00, 0x20]));
        let (r, c) = run(&pdu(&t));
        assert_eq!(r, Ok(()));
        for want in ["HardwareRev HW1", "FirmwareRev FW2", "SoftwareRev SW3", "Serial SN123"] {
            assert!(c.has(want), "{want}: {:?}", c.lines);
        }
        assert!(c.has("Manufacturer Acme Medical"));
        assert!(c.has("Model Pump-9"));
        assert!(!c.has("AssetId"), "empty values are dropped");
        assert!(!c.has(" x"));
        assert!(c.has("Capabilities bridge_or_router=false phone=true"));
    }

    #[test]
    fn network_address_chassis_id_is_rendered() {
        let mut p = tlv(1, &[5, 1, 10, 1, 2, 3]);
        p.extend(tlv(2, &[4, 2, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
        let (r, c) = run(&p);
        assert_eq!(r, Ok(()));
        assert!(c.has("ChassisId 10.1.2.3"));
        assert!(c.has("PortId fe80::1"));
    }

    #[test]
    fn first_tlv_must_be_chassis_id() {
        let (r, c) = run(&tlv(5, b"name"));
        assert_eq!(r, Err(Error::Malformed));
        assert!(c.lines.is_empty());
        let (r, _) = run(&[]);
        assert_eq!(r, Ok(()));
    }

    #[test]
    fn lying_lengths_and_bad_insides() {
        // Length runs past the end.
        let mut p = tlv(1, &[7, b'a']);
        p.extend_from_slice(&[0x0a, 0xff, b'x']);
        assert_eq!(run(&p).0, Err(Error::Truncated));
        // One stray byte after a complete TLV.
        let mut p = tlv(1, &[7, b'a']);
        p.push(0x0a);
        assert_eq!(run(&p).0, Err(Error::Truncated));
        // MAC chassis id of the wrong length, empty port id, short capabilities, bad mgmt address:
        // skipped, the good TLV after them still counts, and the frame is reported malformed.
        let p = [
            tlv(1, &[4, 1, 2, 3]),
            tlv(2, &[]),
            tlv(7, &[0, 4]),
            tlv(8, &[9, 1, 10, 0, 0, 1]),
            tlv(8, &[5, 1, 0, 0, 0, 0]),
            tlv(127, &[0, 0x12]),
            tlv(5, b"still-here"),
        ]
        .concat();
        let (r, c) = run(&p);
        assert_eq!(r, Err(Error::Malformed));
        assert_eq!(c.lines.len(), 1, "{:?}", c.lines);
        assert!(c.has("Lldp still-here"));
    }

    #[test]
    fn tlv_count_is_bounded() {
        // Thousands of zero-length unknown TLVs: only MAX_TLVS are looked at.
        let mut p = tlv(1, &[7, b'a']);
        for _ in 0..2000 {
            p.extend(tlv(9, &[]));
        }
        p.extend(tlv(5, b"too-late"));
        let (r, c) = run(&p);
        assert_eq!(r, Ok(()));
        assert!(!c.has("too-late"));
    }

    #[test]
    fn nothing_after_end_is_read() {
        let mut p = tlv(1, &[7, b'a']);
        p.extend_from_slice(&[0, 0]);
        p.extend(tlv(5, b"after-end"));
        let (r, c) = run(&p);
        assert_eq!(r, Ok(()));
        assert!(!c.has("after-end"));
    }
}
