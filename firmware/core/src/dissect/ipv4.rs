//! IPv4: addresses, protocol, fragments (later fragments are counted, not parsed).

use super::{IpView, Result};
use smoltcp::wire::Ipv4Packet;
use wardtap_proto::IpAddr;

/// Parses the IPv4 header; the payload is cut to the total length (Ethernet padding dropped).
pub fn parse(buf: &[u8]) -> Result<IpView<'_>> {
    let p = Ipv4Packet::new_checked(buf)?;
    if p.version() != 4 {
        return Err(super::Error::Malformed);
    }
    Ok(IpView {
        src: IpAddr::V4(p.src_addr().octets()),
        dst: IpAddr::V4(p.dst_addr().octets()),
        proto: p.next_header().into(),
        ttl: p.hop_limit(),
        later_fragment: p.frag_offset() != 0,
        payload: p.payload(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::Error;

    #[test]
    fn header_fields_and_padding() {
        // 20-byte header, total length 24, then 4 bytes of payload and 6 of Ethernet padding.
        let mut b = [0u8; 30];
        b[0] = 0x45;
        b[3] = 24;
        b[8] = 64;
        b[9] = 17;
        b[12..16].copy_from_slice(&[10, 0, 0, 1]);
        b[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let v = parse(&b).unwrap();
        assert_eq!((v.src, v.dst, v.proto, v.ttl), (IpAddr::V4([10, 0, 0, 1]), IpAddr::V4([10, 0, 0, 2]), 17, 64));
        assert_eq!(v.payload.len(), 4);
        assert!(!v.later_fragment);
    }

    #[test]
    fn lying_lengths_are_errors() {
        let mut b = [0u8; 20];
        b[0] = 0x4f; // IHL 60 > buffer
        b[3] = 20;
        assert_eq!(parse(&b).unwrap_err(), Error::Truncated);
        b[0] = 0x45;
        b[2] = 0xff; // total length past the buffer
        assert_eq!(parse(&b).unwrap_err(), Error::Truncated);
        b[2] = 0;
        b[3] = 10; // total length below the header
        assert!(parse(&b).is_err());
    }

    #[test]
    fn later_fragment_flagged() {
        let mut b = [0u8; 28];
        b[0] = 0x45;
        b[3] = 28;
        b[7] = 1; // offset 8 bytes
        b[9] = 17;
        assert!(parse(&b).unwrap().later_fragment);
    }
}
