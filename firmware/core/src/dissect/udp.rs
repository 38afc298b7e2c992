//! UDP: ports and payload (cut to the UDP length).

use super::{Error, Result};
use smoltcp::wire::UdpPacket;

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
pub fn parse(buf: &[u8]) -> Result<Udp<'_>> {
    let p = UdpPacket::new_checked(buf)?;
    if p.src_port() == 0 && p.dst_port() == 0 {
        return Err(Error::Malformed);
    }
    Ok(Udp { sport: p.src_port(), dport: p.dst_port(), payload: p.payload() })
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
