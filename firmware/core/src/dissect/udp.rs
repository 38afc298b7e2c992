//! UDP: ports and payload (cut to the UDP length).
//!
//! The 8-byte header is read from one checked chunk with the length checks of smoltcp's
//! `UdpPacket::new_checked` (length field at least 8 and within the buffer).

use super::{Error, Result};

mod field {
    /// Bytes 0..8: the header.
    pub const HEADER: usize = 8;
}

/// A parsed UDP header.
#[derive(Clone, Copy, Debug)]
pub struct Udp<'a> {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Payload.
    pub payload: &'a [u8],
}

/// Parses the UDP header; the checksum is not verified (a tap sees what was sent).
#[inline]
pub fn parse(buf: &[u8]) -> Result<Udp<'_>> {
    let Some(hdr) = buf.first_chunk::<{ field::HEADER }>() else { return Err(Error::Truncated) };
    let [s0, s1, d0, d1, l0, l1, _, _] = *hdr;
    let len = u16::from_be_bytes([l0, l1]) as usize;
    if len < field::HEADER {
        return Err(Error::Truncated);
    }
    let Some(payload) = buf.get(field::HEADER..len) else { return Err(Error::Truncated) };
    let (sport, dport) = (u16::from_be_bytes([s0, s1]), u16::from_be_bytes([d0, d1]));
    if sport == 0 && dport == 0 {
        return Err(Error::Malformed);
    }
    Ok(Udp { sport, dport, payload })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_field_bounds_payload() {
        let b = [0, 53, 0x30, 0x39, 0, 10, 0, 0, 1, 2, 99, 99];
        let u = parse(&b).unwrap();
        assert_eq!((u.sport, u.dport, u.payload), (53, 12345, &[1u8, 2][..]));
        let lying = [0, 53, 0, 53, 0, 200, 0, 0];
        assert_eq!(parse(&lying).unwrap_err(), Error::Truncated);
        let short = [0, 53, 0, 53, 0, 4, 0, 0];
        assert!(parse(&short).is_err());
    }
}
