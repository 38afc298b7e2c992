//! ARP (Ethernet / IPv4 only): who uses which IPv4 address.

use super::{Error, Result};
use crate::fact::{AddrEvidence, Fact, FrameCtx, Sink};
use smoltcp::wire::{ArpHardware, ArpPacket};
use wardtap_proto::{IpAddr, Mac, Protocol};

/// Emits `Arp` and, for a usable sender, `Address`.
pub fn dissect<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
    let p = ArpPacket::new_checked(payload)?;
    if p.hardware_type() != ArpHardware::Ethernet
        || u16::from(p.protocol_type()) != super::ethernet::IPV4
        || p.hardware_len() != 6
        || p.protocol_len() != 4
    {
        return Err(Error::Malformed);
    }
    let mut sender_mac = [0u8; 6];
    sender_mac.copy_from_slice(p.source_hardware_addr());
    let sender_mac = Mac(sender_mac);
    let mut sender_ip = [0u8; 4];
    sender_ip.copy_from_slice(p.source_protocol_addr());
    let mut target_ip = [0u8; 4];
    target_ip.copy_from_slice(p.target_protocol_addr());
    super::speak(ctx, Protocol::Arp, sink);
    sink.fact(ctx, &Fact::Arp { op: p.operation().into(), sender_mac, sender_ip, target_ip });
    // An ARP probe (sender 0.0.0.0) claims nothing yet.
    if sender_mac.is_device() && sender_ip != [0; 4] {
        sink.fact(ctx, &Fact::Address { mac: sender_mac, ip: IpAddr::V4(sender_ip), how: AddrEvidence::Arp });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::dissect::testutil::facts;

    #[test]
    fn arp_leak_lying_lengths_are_rejected() {
        // Zeek's arp-leak trace: hardware/protocol lengths of 0xff claim more than is there.
        let c = facts("arp-request-reply__zeek.pcap");
        assert!(!c.lines.iter().any(|l| l.starts_with("Arp")));
    }

    #[test]
    fn request_and_reply_give_addresses() {
        let c = facts("vlan-dot1q-icmp-arp__zeek.pcap");
        assert!(c.lines.iter().filter(|l| l.starts_with("Arp op=1")).count() >= 1);
        assert!(c.lines.iter().filter(|l| l.starts_with("Arp op=2")).count() >= 1);
        assert!(c.lines.iter().any(|l| l.starts_with("Address") && l.ends_with("Arp")));
    }

    #[test]
    fn arp_inside_two_tags() {
        let c = facts("qinq-8021ad-arp__tcpdump.pcap");
        assert_eq!(c.lines.iter().filter(|l| l.starts_with("Arp")).count(), 2);
    }

    #[test]
    fn truncated_arp_is_an_error() {
        use super::*;
        let ctx = crate::dissect::testutil::ctx();
        let mut c = crate::fact::collect::Collect::default();
        assert!(dissect(&ctx, &[0, 1, 8, 0, 6, 4, 0], &mut c).is_err());
        assert!(c.lines.is_empty());
    }
}
