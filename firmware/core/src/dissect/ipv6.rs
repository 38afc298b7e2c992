//! IPv6 with extension headers (hop-by-hop, routing, fragment, destination options, AH).
//!
//! The fixed header is read from one checked 40-byte chunk with the length checks of
//! smoltcp's `Ipv6Packet::new_checked` (payload length within the buffer).

use super::{Error, IpView, Result};
use wardtap_proto::IpAddr;

/// Extension headers followed before giving up (bounded work on hostile chains).
pub const MAX_EXT_HEADERS: usize = 8;

mod field {
    /// Bytes 0..40: the fixed header.
    pub const FIXED: usize = 40;
}

/// Parses the fixed header and walks the extension header chain to the transport.
pub fn parse(buf: &[u8]) -> Result<IpView<'_>> {
    let Some((hdr, rest)) = buf.split_first_chunk::<{ field::FIXED }>() else { return Err(Error::Truncated) };
    let Some((fixed, addrs)) = hdr.split_first_chunk::<8>() else { return Err(Error::Truncated) };
    let [ver, _, _, _, len0, len1, next, hop_limit] = *fixed;
    // Constant sizes: these cannot fail, and compile to nothing.
    let (Some(src), Some(dst)) = (addrs.first_chunk::<16>(), addrs.last_chunk::<16>()) else {
        return Err(Error::Truncated);
    };
    let Some(mut payload) = rest.get(..u16::from_be_bytes([len0, len1]) as usize) else {
        return Err(Error::Truncated);
    };
    if ver >> 4 != 6 {
        return Err(Error::Malformed);
    }
    let mut proto = next;
    let mut later_fragment = false;
    for _ in 0..MAX_EXT_HEADERS {
        let len = match proto {
            // Hop-by-hop, routing, destination options: (hdr ext len + 1) * 8.
            0 | 43 | 60 => (*payload.get(1).ok_or(Error::Truncated)? as usize + 1) * 8,
            // Fragment: fixed 8 bytes; offset in the upper 13 bits of bytes 2..4.
            44 => {
                let off = super::util::be16(payload, 2).ok_or(Error::Truncated)? >> 3;
                later_fragment |= off != 0;
                8
            }
            // Authentication header: (payload len + 2) * 4.
            51 => (*payload.get(1).ok_or(Error::Truncated)? as usize + 2) * 4,
            _ => break,
        };
        let next = *payload.first().ok_or(Error::Truncated)?;
        payload = payload.get(len..).ok_or(Error::Truncated)?;
        proto = next;
        if later_fragment {
            break;
        }
    }
    Ok(IpView { src: IpAddr::V6(*src), dst: IpAddr::V6(*dst), proto, ttl: hop_limit, later_fragment, payload })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(next: u8, payload: &[u8]) -> std::vec::Vec<u8> {
        extern crate std;
        let mut b = std::vec![0u8; 40];
        b[0] = 0x60;
        b[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
        b[6] = next;
        b[7] = 255;
        b[8] = 0xfe;
        b[9] = 0x80;
        b.extend_from_slice(payload);
        b
    }
    extern crate std;

    #[test]
    fn walks_hop_by_hop_to_icmpv6() {
        // Hop-by-hop (8 bytes, next = 58) then 4 bytes of ICMPv6.
        let b = header(0, &[58, 0, 5, 2, 0, 0, 1, 0, 143, 0, 0, 0]);
        let v = parse(&b).unwrap();
        assert_eq!(v.proto, 58);
        assert_eq!(v.payload, &[143, 0, 0, 0]);
    }

    #[test]
    fn later_fragment_and_truncated_chain() {
        let b = header(44, &[17, 0, 0, 8, 0, 0, 0, 1]);
        assert!(parse(&b).unwrap().later_fragment);
        let b = header(0, &[58, 4]); // claims 40 bytes of options, has 2
        assert_eq!(parse(&b).unwrap_err(), Error::Truncated);
    }

    #[test]
    fn looping_chain_is_bounded() {
        // Destination options headers pointing at each other, forever.
        let mut p = std::vec::Vec::new();
        for _ in 0..100 {
            p.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        }
        let b = header(60, &p);
        let v = parse(&b).unwrap();
        assert_eq!(v.proto, 60); // gave up after MAX_EXT_HEADERS, still a value
    }
}
