//! Ethernet II and IEEE 802.3/LLC framing, with up to two 802.1Q / 802.1ad tags.

use super::{Error, Result};
use wardtap_proto::Mac;

/// ARP.
pub const ARP: u16 = 0x0806;
/// IPv4.
pub const IPV4: u16 = 0x0800;
/// IPv6.
pub const IPV6: u16 = 0x86dd;
/// LLDP.
pub const LLDP: u16 = 0x88cc;
/// 802.1X.
pub const EAPOL: u16 = 0x888e;
/// 802.1Q customer tag.
pub const VLAN_Q: u16 = 0x8100;
/// 802.1ad service tag.
pub const VLAN_AD: u16 = 0x88a8;
/// Pre-standard Q-in-Q tag.
pub const VLAN_QINQ_OLD: u16 = 0x9100;

/// How many VLAN tags are followed; a deeper stack is counted and not dissected.
pub const MAX_TAGS: usize = 2;

/// What the frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Ethernet II payload of this ethertype.
    EtherType(u16),
    /// 802.3 + SNAP carrying Cisco Discovery Protocol.
    Cdp,
    /// 802.3 + LLC spanning tree BPDU.
    Stp,
    /// Other 802.3/LLC frames.
    Llc,
}

/// A parsed Ethernet header.
#[derive(Clone, Copy, Debug)]
pub struct Eth<'a> {
    /// Destination.
    pub dst: Mac,
    /// Source.
    pub src: Mac,
    /// Innermost VLAN id.
    pub vlan: Option<u16>,
    /// More than [`MAX_TAGS`] tags.
    pub too_deep: bool,
    /// Payload kind.
    pub kind: Kind,
    /// Payload after tags (and after LLC/SNAP for 802.3).
    pub payload: &'a [u8],
}

/// Parses the Ethernet header and VLAN tags.
///
/// The fixed 14-byte header is read from one checked fixed-size chunk (the check
/// smoltcp's `EthernetFrame::new_checked` makes, without its per-accessor re-slicing).
#[inline]
pub fn parse(frame: &[u8]) -> Result<Eth<'_>> {
    let Some((hdr, payload)) = frame.split_first_chunk::<14>() else { return Err(Error::Truncated) };
    // Within the 14 bytes (never fails): addresses copied as 6-byte blocks, not bytewise.
    let Some((dst, rest)) = hdr.split_first_chunk::<6>() else { return Err(Error::Truncated) };
    let Some((src, &[t0, t1])) = rest.split_first_chunk::<6>() else { return Err(Error::Truncated) };
    let mut eth = Eth { dst: Mac(*dst), src: Mac(*src), vlan: None, too_deep: false, kind: Kind::Llc, payload };
    let mut ethertype = u16::from_be_bytes([t0, t1]);
    // Untagged IPv4 / IPv6 / ARP: most frames, no loop (IPv4 by one compare).
    if ethertype == IPV4 || (ethertype >= 0x0600 && !is_vlan(ethertype)) {
        eth.kind = Kind::EtherType(ethertype);
        return Ok(eth);
    }
    let mut tags = 0;
    while is_vlan(ethertype) {
        if tags == MAX_TAGS {
            eth.too_deep = true;
            return Ok(eth);
        }
        let Some(([tci0, tci1, t0, t1], rest)) = eth.payload.split_first_chunk::<4>() else {
            return Err(Error::Truncated);
        };
        eth.vlan = Some(u16::from_be_bytes([*tci0, *tci1]) & 0x0fff);
        ethertype = u16::from_be_bytes([*t0, *t1]);
        eth.payload = rest;
        tags += 1;
    }
    if ethertype >= 0x0600 {
        eth.kind = Kind::EtherType(ethertype);
        return Ok(eth);
    }
    // 802.3: `ethertype` is a length; trailing padding is cut off by it.
    let llc = eth.payload.get(..ethertype as usize).unwrap_or(eth.payload);
    match *llc {
        [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00, ref rest @ ..] => {
            eth.kind = Kind::Cdp;
            eth.payload = rest;
        }
        [0x42, 0x42, 0x03, ref rest @ ..] => {
            eth.kind = Kind::Stp;
            eth.payload = rest;
        }
        _ => {
            eth.payload = llc;
        }
    }
    Ok(eth)
}

#[inline]
fn is_vlan(ethertype: u16) -> bool {
    matches!(ethertype, VLAN_Q | VLAN_AD | VLAN_QINQ_OLD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::testutil::frames;

    #[test]
    fn parses_single_and_double_tags_and_skips_triple() {
        // detect-arp-03-vlan: single tag 6, double 1/10, triple 1/10/100.
        let f = frames("arp-stacked-vlan__suricata-verify.pcap");
        let e0 = parse(&f[0].1).unwrap();
        assert_eq!((e0.vlan, e0.kind, e0.too_deep), (Some(6), Kind::EtherType(ARP), false));
        let e1 = parse(&f[1].1).unwrap();
        assert_eq!((e1.vlan, e1.kind), (Some(10), Kind::EtherType(ARP)));
        assert!(parse(&f[2].1).unwrap().too_deep);
    }

    #[test]
    fn qinq_8021ad_outer_tag() {
        let f = frames("qinq-8021ad-arp__tcpdump.pcap");
        let e = parse(&f[0].1).unwrap();
        assert_eq!((e.vlan, e.kind), (Some(2001), Kind::EtherType(ARP)));
    }

    #[test]
    fn cdp_and_stp_over_llc() {
        let f = frames("cdp-cisco3560g__tcpdump.pcap");
        assert_eq!(parse(&f[0].1).unwrap().kind, Kind::Cdp);
        let f = frames("stp-8021d__tcpdump.pcap");
        assert_eq!(parse(&f[0].1).unwrap().kind, Kind::Stp);
    }

    #[test]
    fn short_and_lying_frames_are_errors_not_panics() {
        assert_eq!(parse(&[0u8; 13]).unwrap_err(), Error::Truncated);
        let mut f = [0u8; 16];
        f[12] = 0x81; // tag announced, 2 bytes of it missing
        assert_eq!(parse(&f).unwrap_err(), Error::Truncated);
        let mut f = [0u8; 20];
        f[12] = 0x05; // 802.3 length 0x05ff, longer than the frame: clipped
        f[13] = 0xff;
        assert_eq!(parse(&f).unwrap().kind, Kind::Llc);
    }
}
