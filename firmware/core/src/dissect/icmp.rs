//! ICMPv6 neighbour discovery: addresses (NS/NA/RS), routers and prefixes (RA).
//! ICMPv4 needs nothing beyond the protocol mark the pipeline already gives it.

use super::{Error, Result};
use crate::fact::{AddrEvidence, Fact, FrameCtx, Sink};
use smoltcp::wire::{Icmpv6Packet, NdiscRepr, RawHardwareAddress};
use wardtap_proto::{IpAddr, Mac, Protocol};

fn mac_of(l: Option<RawHardwareAddress>) -> Option<Mac> {
    let l = l?;
    let b = l.as_bytes();
    if b.len() != 6 {
        return None;
    }
    let mut m = [0u8; 6];
    m.copy_from_slice(b);
    Some(Mac(m)).filter(Mac::is_device)
}

/// Dissects an ICMPv6 message; only ND types produce facts.
pub fn dissect_v6<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
    let p = Icmpv6Packet::new_checked(payload)?;
    let t: u8 = p.msg_type().into();
    if !(133..=137).contains(&t) {
        return Ok(());
    }
    let repr = NdiscRepr::parse(&p).map_err(|_| Error::Malformed)?;
    super::speak(ctx, Protocol::Ndp, sink);
    let src = ctx.ip.map(|i| i.src);
    let addr = |sink: &mut S, mac: Mac, ip: IpAddr| {
        if !ip.is_unspecified() && !ip.is_group() {
            sink.fact(ctx, &Fact::Address { mac, ip, how: AddrEvidence::Ndp });
        }
    };
    match repr {
        NdiscRepr::RouterSolicit { lladdr } | NdiscRepr::NeighborSolicit { lladdr, .. } => {
            if let (Some(m), Some(ip)) = (mac_of(lladdr), src) {
                addr(sink, m, ip);
            }
        }
        NdiscRepr::NeighborAdvert { target_addr, lladdr, .. } => {
            let m = mac_of(lladdr).unwrap_or(ctx.src_mac);
            addr(sink, m, IpAddr::V6(target_addr.octets()));
        }
        NdiscRepr::RouterAdvert { lladdr, prefix_info, .. } => {
            sink.fact(ctx, &Fact::Capabilities { is_bridge_or_router: true, is_phone: false });
            if let (Some(m), Some(ip)) = (mac_of(lladdr), src) {
                addr(sink, m, ip);
            }
            if let Some(pi) = prefix_info {
                sink.fact(ctx, &Fact::Prefix6 { prefix: pi.prefix.octets(), len: pi.prefix_len.min(128) });
            }
        }
        NdiscRepr::Redirect { .. } => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::dissect::testutil::facts;

    #[test]
    fn nd_options_capture_gives_addresses_router_and_prefix() {
        let c = facts("ipv6-nd-rs-ra-ns-na__zeek.pcap");
        assert!(c.has("Speaks ndp"));
        assert!(c.lines.iter().any(|l| l.starts_with("Address") && l.ends_with("Ndp")));
        assert!(c.has("Capabilities bridge_or_router=true"));
        assert!(c.has("Prefix6"));
    }

    #[test]
    fn ra_from_tcpdump_sample() {
        let c = facts("ipv6-ra__tcpdump.pcap");
        assert!(c.has("Capabilities bridge_or_router=true"));
    }
}
