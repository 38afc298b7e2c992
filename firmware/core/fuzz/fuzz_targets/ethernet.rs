//! The header parsers on an arbitrary frame: Ethernet/VLAN, then IPv4/IPv6, then UDP/TCP,
//! as the pipeline chains them. Every payload must lie inside the frame.
#![no_main]
use wardtap_core::dissect::{ethernet, ipv4, ipv6, tcp, udp};

fn inside(outer: &[u8], inner: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    i >= o && i + inner.len() <= o + outer.len()
}

libfuzzer_sys::fuzz_target!(|frame: &[u8]| {
    let Ok(eth) = ethernet::parse(frame) else { return };
    assert!(inside(frame, eth.payload));
    let ip = match eth.kind {
        ethernet::Kind::EtherType(ethernet::IPV4) => ipv4::parse(eth.payload),
        ethernet::Kind::EtherType(ethernet::IPV6) => ipv6::parse(eth.payload),
        _ => return,
    };
    let Ok(ip) = ip else { return };
    assert!(inside(eth.payload, ip.payload));
    match ip.proto {
        6 => {
            if let Ok(t) = tcp::parse(ip.payload) {
                assert!(inside(ip.payload, t.payload));
            }
        }
        17 => {
            if let Ok(u) = udp::parse(ip.payload) {
                assert!(inside(ip.payload, u.payload));
            }
        }
        _ => {}
    }
});
