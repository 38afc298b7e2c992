//! TCP: ports, flags and the segment payload (no reassembly). Options are skipped.
//!
//! The fixed header is read from one checked 20-byte chunk with the length checks of
//! smoltcp's `TcpPacket::new_checked` (data offset at least 5 words and within the buffer).

use super::{Error, Result};

mod field {
    /// Bytes 0..20: the fixed header.
    pub const FIXED: usize = 20;
}

/// A parsed TCP header.
#[derive(Clone, Copy, Debug)]
pub struct Tcp<'a> {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Flag bits (FIN 0x01 ... ACK 0x10), see [`crate::fact::tcp_flags`].
    pub flags: u8,
    /// Segment payload.
    pub payload: &'a [u8],
}

/// Parses the TCP header (data offset checked against the buffer).
#[inline]
pub fn parse(buf: &[u8]) -> Result<Tcp<'_>> {
    let Some(hdr) = buf.first_chunk::<{ field::FIXED }>() else { return Err(Error::Truncated) };
    let [s0, s1, d0, d1, _, _, _, _, _, _, _, _, off, flags, ..] = *hdr;
    let header_len = (off >> 4) as usize * 4;
    if header_len < field::FIXED {
        return Err(Error::Truncated);
    }
    let Some(payload) = buf.get(header_len..) else { return Err(Error::Truncated) };
    Ok(Tcp { sport: u16::from_be_bytes([s0, s1]), dport: u16::from_be_bytes([d0, d1]), flags: flags & 0x3f, payload })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::Error;

    #[test]
    fn flags_ports_payload() {
        let mut b = [0u8; 23];
        b[0..2].copy_from_slice(&104u16.to_be_bytes());
        b[2..4].copy_from_slice(&40000u16.to_be_bytes());
        b[12] = 5 << 4;
        b[13] = 0x12; // SYN|ACK
        let t = parse(&b).unwrap();
        assert_eq!((t.sport, t.dport, t.flags, t.payload.len()), (104, 40000, 0x12, 3));
    }

    #[test]
    fn data_offset_beyond_buffer() {
        let mut b = [0u8; 20];
        b[12] = 15 << 4;
        assert_eq!(parse(&b).unwrap_err(), Error::Truncated);
        b[12] = 2 << 4; // below the minimum header
        assert!(parse(&b).is_err());
    }
}
