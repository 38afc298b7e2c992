//! CDP (Cisco Discovery Protocol, v1/v2): what a Cisco switch, router or phone says about
//! itself. The payload handed in starts after the 802.3 LLC/SNAP header.
//!
//! Parsed: device id, addresses and management addresses (IPv4 and IPv6 entries), port id,
//! capabilities, software version (the line that carries the version, not the copyright
//! lines after it) and platform.
//!
//! Deliberately not parsed: the checksum (captures often carry frames whose checksum a
//! switch computed over padding), VTP domain, native VLAN, duplex, power and the other
//! TLVs that describe the link rather than the device. The pipeline has already marked the
//! sender as speaking CDP.

use super::util::{trim, Cursor};
use super::{Error, Result};
use crate::fact::{AddrEvidence, Fact, FrameCtx, Sink};
use wardtap_proto::{InfoField, IpAddr, NameSource, SoftwareSource};

/// Fixed header before the TLVs.
mod field {
    use core::ops::Range;
    pub const VERSION: usize = 0;
    pub const _TTL: usize = 1;
    pub const _CHECKSUM: Range<usize> = 2..4;
    pub const TLVS: usize = 4;
}

/// TLVs looked at per frame.
const MAX_TLVS: usize = 64;
/// Address entries looked at per address TLV.
const MAX_ADDRS: usize = 8;
/// Lines of the software version text searched for the one naming the version.
const MAX_VERSION_LINES: usize = 4;

/// TLV types.
mod tlv {
    pub const DEVICE_ID: u16 = 0x0001;
    pub const ADDRESSES: u16 = 0x0002;
    pub const PORT_ID: u16 = 0x0003;
    pub const CAPABILITIES: u16 = 0x0004;
    pub const SOFTWARE_VERSION: u16 = 0x0005;
    pub const PLATFORM: u16 = 0x0006;
    pub const MGMT_ADDRESSES: u16 = 0x0016;
}

/// Capability bits.
mod cap {
    pub const ROUTER: u32 = 0x01;
    pub const TB_BRIDGE: u32 = 0x02;
    pub const SR_BRIDGE: u32 = 0x04;
    pub const SWITCH: u32 = 0x08;
    pub const PHONE: u32 = 0x80;
}

/// Protocol field of an IPv6 address entry (802.2 SNAP, ethertype 0x86dd).
const PROTO_IPV6: [u8; 8] = [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00, 0x86, 0xdd];

/// Addresses already reported in this frame: the address and management address TLVs
/// usually repeat the same one.
type Seen = heapless::Vec<IpAddr, MAX_ADDRS>;

/// Dissects one CDP packet. Facts are emitted TLV by TLV; a TLV whose inside is inconsistent
/// is skipped and reported as `Malformed` once the rest is read.
pub fn dissect<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
    match payload.get(field::VERSION) {
        Some(1 | 2) => {}
        Some(_) => return Err(Error::Malformed),
        None => return Err(Error::Truncated),
    }
    let mut c = Cursor::new(payload.get(field::TLVS..).ok_or(Error::Truncated)?);
    let mut seen = Seen::new();
    let mut bad = false;
    for _ in 0..MAX_TLVS {
        if c.is_empty() {
            break;
        }
        let t = c.u16()?;
        // The length counts the 4-byte TLV header: less is a loop waiting to happen.
        let len = usize::from(c.u16()?).checked_sub(4).ok_or(Error::Malformed)?;
        let v = c.take(len)?;
        let ok = match t {
            tlv::DEVICE_ID => {
                let name = trim(v);
                if !name.is_empty() {
                    sink.fact(ctx, &Fact::Name { mac: ctx.src_mac, name, source: NameSource::Cdp });
                }
                true
            }
            tlv::ADDRESSES | tlv::MGMT_ADDRESSES => addresses(ctx, v, &mut seen, sink),
            tlv::PORT_ID => info(ctx, sink, InfoField::PortId, v),
            tlv::PLATFORM => info(ctx, sink, InfoField::Model, v),
            tlv::CAPABILITIES => match <[u8; 4]>::try_from(v) {
                Ok(b) => {
                    let caps = u32::from_be_bytes(b);
                    let infra = cap::ROUTER | cap::TB_BRIDGE | cap::SR_BRIDGE | cap::SWITCH;
                    sink.fact(
                        ctx,
                        &Fact::Capabilities {
                            is_bridge_or_router: caps & infra != 0,
                            is_phone: caps & cap::PHONE != 0,
                        },
                    );
                    true
                }
                Err(_) => false,
            },
            tlv::SOFTWARE_VERSION => {
                let text = version_line(v);
                if !text.is_empty() {
                    sink.fact(ctx, &Fact::Software { mac: ctx.src_mac, text, source: SoftwareSource::CdpVersion });
                }
                true
            }
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

fn info<S: Sink + ?Sized>(ctx: &FrameCtx, sink: &mut S, field: InfoField, value: &[u8]) -> bool {
    let value = trim(value);
    if !value.is_empty() {
        sink.fact(ctx, &Fact::Info { mac: ctx.src_mac, field, value });
    }
    true
}

/// The line of a multi-line IOS banner that names the version ("Cisco IOS Software, C3560
/// Software (...), Version 12.2(44)SE, ..."); older banners put it on the second line, after
/// "Cisco Internetwork Operating System Software". Falls back to the first line.
fn version_line(v: &[u8]) -> &[u8] {
    let mut lines = v.split(|&b| b == b'\n').take(MAX_VERSION_LINES).map(trim);
    let first = lines.next().unwrap_or_default();
    if contains_version(first) {
        return first;
    }
    lines.find(|l| contains_version(l)).unwrap_or(first)
}

fn contains_version(l: &[u8]) -> bool {
    l.windows(7).any(|w| w.eq_ignore_ascii_case(b"version"))
}

/// Address list: count (4), then entries of protocol type (1), protocol length (1),
/// protocol (n), address length (2), address (n).
fn addresses<S: Sink + ?Sized>(ctx: &FrameCtx, v: &[u8], seen: &mut Seen, sink: &mut S) -> bool {
    let mut c = Cursor::new(v);
    let Ok(count) = c.u32() else { return false };
    for _ in 0..count.min(MAX_ADDRS as u32) {
        let Ok(entry) = address_entry(&mut c) else { return false };
        let Some(ip) = entry else { continue };
        if ip.is_unspecified() || ip.is_group() || seen.contains(&ip) {
            continue;
        }
        // Full only after MAX_ADDRS distinct addresses, which is also the loop bound.
        let _ = seen.push(ip);
        sink.fact(ctx, &Fact::Address { mac: ctx.src_mac, ip, how: AddrEvidence::Announced });
    }
    true
}

/// One address entry; `None` for protocols other than IPv4 / IPv6.
fn address_entry(c: &mut Cursor<'_>) -> Result<Option<IpAddr>> {
    let ptype = c.u8()?;
    let plen = c.u8()?;
    let proto = c.take(usize::from(plen))?;
    let alen = c.u16()?;
    let addr = c.take(usize::from(alen))?;
    Ok(match (ptype, proto) {
        // NLPID 0xcc = IPv4.
        (1, [0xcc]) => Some(IpAddr::V4(addr.try_into().map_err(|_| Error::Malformed)?)),
        (2, p) if p == PROTO_IPV6 => Some(IpAddr::V6(addr.try_into().map_err(|_| Error::Malformed)?)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::dissect::testutil::facts;
    use crate::fact::collect::Collect;
    use std::vec::Vec;

    fn run(payload: &[u8]) -> (Result<()>, Collect) {
        crate::dissect::testutil::run(dissect, payload)
    }

    fn tlv(t: u16, v: &[u8]) -> Vec<u8> {
        let mut out = t.to_be_bytes().to_vec();
        out.extend_from_slice(&(v.len() as u16 + 4).to_be_bytes());
        out.extend_from_slice(v);
        out
    }

    fn packet(tlvs: &[Vec<u8>]) -> Vec<u8> {
        let mut out = std::vec![2, 180, 0, 0];
        for t in tlvs {
            out.extend_from_slice(t);
        }
        out
    }

    #[test]
    fn catalyst_3560g() {
        let c = facts("cdp-cisco3560g__tcpdump.pcap");
        assert!(c.has("Speaks cdp"));
        assert!(c.lines.iter().any(|l| l.starts_with("Name ") && l.ends_with(" Cdp Switch")));
        assert!(c.has("Model cisco WS-C3560G-24PS"));
        assert!(c.has("PortId GigabitEthernet0/5"));
        assert!(c.has("CdpVersion Cisco IOS Software, C3560 Software"));
        assert!(c.has("Capabilities bridge_or_router=true phone=false"));
    }

    #[test]
    fn two_switches_with_lldp_too() {
        let c = facts("lldp-cdp-cisco3560__tcpdump.pcap");
        assert!(c.has("Name 00:18:ba:98:68:8f Cdp S1"));
        assert!(c.has("Name 00:19:2f:a7:b2:8d Cdp S2"));
        assert!(c.has("Info 00:18:ba:98:68:8f Model cisco WS-C3560-24TS"));
        assert!(c.has("Info 00:19:2f:a7:b2:8d PortId GigabitEthernet0/13"));
        let v = "Software 00:18:ba:98:68:8f CdpVersion Cisco IOS Software, C3560 Software \
                 (C3560-ADVIPSERVICESK9-M), Version 12.2(44)SE, RELEASE SOFTWARE (fc1)";
        assert!(c.lines.iter().any(|l| l == v), "{:?}", c.lines);
        // Only the version line, never the copyright lines after it.
        assert!(!c.lines.iter().any(|l| l.contains("CdpVersion") && l.contains("Copyright")));
        // The address and management address TLVs both say 0.0.0.0 here: nothing to report.
        assert!(!c.lines.iter().any(|l| l.starts_with("Address") && l.ends_with("Announced")));
    }

    #[test]
    fn switches_and_routers_behind_vlans() {
        let c = facts("vlan-cdp-qinq__pcapplusplus.pcap");
        for want in ["Cdp S1", "Cdp S2", "Cdp R3", "Cdp R4", "Model Cisco WS-C3550-24", "Model Cisco 1841"] {
            assert!(c.has(want), "{want}: {:?}", c.lines);
        }
        assert!(c.has("CdpVersion Cisco IOS Software, 1841 Software"));
        // R3 announces 10.209.20.3 in both address TLVs: reported once.
        assert_eq!(c.lines.iter().filter(|l| *l == "Address 00:19:aa:7d:e6:88 10.209.20.3 Announced").count(), 1);
        assert!(c.has("Address 00:13:c3:df:ae:18 10.118.10.1 Announced"));
    }

    #[test]
    fn addresses_ipv4_ipv6_dedup_and_phone() {
        let mut a = 3u32.to_be_bytes().to_vec();
        a.extend_from_slice(&[1, 1, 0xcc, 0, 4, 10, 0, 0, 7]);
        a.extend_from_slice(&[2, 8]);
        a.extend_from_slice(&PROTO_IPV6);
        a.extend_from_slice(&[0, 16, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        a.extend_from_slice(&[1, 1, 0x81, 0, 2, 9, 9]); // some other protocol: skipped
        let mut m = 1u32.to_be_bytes().to_vec();
        m.extend_from_slice(&[1, 1, 0xcc, 0, 4, 10, 0, 0, 7]);
        let p = packet(&[
            tlv(tlv::ADDRESSES, &a),
            tlv(tlv::MGMT_ADDRESSES, &m),
            tlv(tlv::CAPABILITIES, &[0, 0, 0x04, 0x90]),
        ]);
        let (r, c) = run(&p);
        assert_eq!(r, Ok(()));
        assert_eq!(c.lines.iter().filter(|l| l.contains("10.0.0.7 Announced")).count(), 1);
        assert!(c.has("2001:db8::1 Announced"));
        assert!(c.has("Capabilities bridge_or_router=false phone=true"));
    }

    #[test]
    fn old_ios_banner_picks_version_line() {
        let text = b"Cisco Internetwork Operating System Software \nIOS (tm) C2950 Software (C2950-I6Q4L2-M), \
                     Version 12.1(22)EA14, RELEASE SOFTWARE (fc1)\nCopyright (c) 1986-2010 by cisco Systems, Inc.";
        let (r, c) = run(&packet(&[tlv(tlv::SOFTWARE_VERSION, text)]));
        assert_eq!(r, Ok(()));
        assert!(c.has("CdpVersion IOS (tm) C2950 Software (C2950-I6Q4L2-M), Version 12.1(22)EA14"));
        let (_, c) = run(&packet(&[tlv(tlv::SOFTWARE_VERSION, b"no numbers here\nsecond")]));
        assert!(c.lines.iter().any(|l| l.ends_with("CdpVersion no numbers here")));
    }

    #[test]
    fn bad_headers_and_lengths() {
        assert_eq!(run(&[]).0, Err(Error::Truncated));
        assert_eq!(run(&[2, 180]).0, Err(Error::Truncated));
        assert_eq!(run(&[9, 180, 0, 0]).0, Err(Error::Malformed));
        // A TLV length below its own header would never advance.
        assert_eq!(run(&packet(&[std::vec![0, 1, 0, 3]])).0, Err(Error::Malformed));
        assert_eq!(run(&packet(&[std::vec![0, 1, 0, 0]])).0, Err(Error::Malformed));
        // A TLV length past the end.
        assert_eq!(run(&packet(&[std::vec![0, 1, 0, 40, b'a']])).0, Err(Error::Truncated));
        // A header cut in half.
        assert_eq!(run(&packet(&[std::vec![0, 1, 0]])).0, Err(Error::Truncated));
    }

    #[test]
    fn lying_address_count_and_bad_insides() {
        // Claims 4 billion entries, carries one, then runs out: the one is reported.
        let mut a = u32::MAX.to_be_bytes().to_vec();
        a.extend_from_slice(&[1, 1, 0xcc, 0, 4, 10, 0, 0, 9]);
        // An IPv4 entry with a 3-byte address, and short capabilities.
        let mut b = 1u32.to_be_bytes().to_vec();
        b.extend_from_slice(&[1, 1, 0xcc, 0, 3, 10, 0, 0]);
        let p = packet(&[
            tlv(tlv::ADDRESSES, &a),
            tlv(tlv::MGMT_ADDRESSES, &b),
            tlv(tlv::CAPABILITIES, &[1]),
            tlv(tlv::DEVICE_ID, b"after"),
        ]);
        let (r, c) = run(&p);
        assert_eq!(r, Err(Error::Malformed));
        assert!(c.has("10.0.0.9 Announced"));
        assert!(c.has("Cdp after"));
        assert_eq!(c.lines.len(), 2, "{:?}", c.lines);
    }

    #[test]
    fn tlv_count_is_bounded() {
        let mut t: Vec<Vec<u8>> = (0..1000).map(|_| tlv(0x00ff, &[])).collect();
        t.push(tlv(tlv::DEVICE_ID, b"too-late"));
        let (r, c) = run(&packet(&t));
        assert_eq!(r, Ok(()));
        assert!(c.lines.is_empty());
    }
}
