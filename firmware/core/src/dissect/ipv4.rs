//! IPv4: addresses, protocol, fragments (later fragments are counted, not parsed).
//!
//! The fixed header is read from one checked 20-byte chunk, with exactly the length checks
//! of smoltcp's `Ipv4Packet::new_checked` (so the same packets are accepted), but without
//! its accessors re-slicing the buffer for every field. Options are skipped, not parsed.

use super::{Error, IpView, Result};
use wardtap_proto::IpAddr;

mod field {
    /// Bytes 0..20: the fixed header.
    pub const FIXED: usize = 20;
}

/// Parses the IPv4 header; the payload is cut to the total length (Ethernet padding dropped).
#[inline]
pub fn parse(buf: &[u8]) -> Result<IpView<'_>> {
    let Some(hdr) = buf.first_chunk::<{ field::FIXED }>() else { return Err(Error::Truncated) };
    let [ver_ihl, _, len0, len1, _, _, frag0, frag1, ttl, proto, _, _, s0, s1, s2, s3, d0, d1, d2, d3] = *hdr;
    let header_len = (ver_ihl & 0x0f) as usize * 4;
    let total_len = u16::from_be_bytes([len0, len1]) as usize;
    // smoltcp's checks in one: the header within the total length, the total length within
    // the buffer. (An IHL below 5 passes them, as there.)
    let Some(payload) = buf.get(header_len..total_len) else { return Err(Error::Truncated) };
    if ver_ihl >> 4 != 4 {
        return Err(Error::Malformed);
    }
    Ok(IpView {
        src: IpAddr::V4([s0, s1, s2, s3]),
        dst: IpAddr::V4([d0, d1, d2, d3]),
        proto,
        ttl,
        later_fragment: u16::from_be_bytes([frag0, frag1]) & 0x1fff != 0,
        payload,
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
