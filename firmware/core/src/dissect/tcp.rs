//! TCP: ports, flags and the segment payload (no reassembly).

use super::Result;
use smoltcp::wire::TcpPacket;

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
pub fn parse(buf: &[u8]) -> Result<Tcp<'_>> {
    let p = TcpPacket::new_checked(buf)?;
    let flags = buf.get(13).copied().unwrap_or(0) & 0x3f;
    Ok(Tcp { sport: p.src_port(), dport: p.dst_port(), flags, payload: p.payload() })
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
