//! The flow table: the little per-connection state dissection needs.
//!
//! A flow is a TCP connection seen from the wire, keyed by VLAN, both endpoints and
//! transport, in a canonical order so both directions meet in one entry. It remembers
//! whether each direction has already sent payload, so the application dissectors see the
//! first data segment per direction only. Full table: CLOCK eviction, closed flows first.

use crate::config;
use crate::fact::{tcp_flags, IpCtx, SessionOutcome, Timestamp};
use crate::table::{second_chance, Hasher, Inserted, Table, TableKey, TableValue};

/// Direction of a segment relative to the flow's canonical order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// From the lower endpoint to the higher.
    AtoB,
    /// The other way.
    BtoA,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct FlowKey(u64);

impl TableKey for FlowKey {
    const EMPTY: Self = FlowKey(0);
    fn hash(&self, h: &mut Hasher) {
        h.write_u32(self.0 as u32);
        h.write_u32((self.0 >> 32) as u32);
    }
}

#[derive(Clone, Copy, Debug)]
struct FlowState {
    /// Bit 0: A→B sent payload; bit 1: B→A did.
    payload_seen: u8,
    /// Saw FIN or RST: the end was reported.
    closed: bool,
    /// CLOCK credit: refreshed on every segment.
    credit: u8,
    /// Which side is the client: 0 not known yet, 1 = A, 2 = B.
    client: u8,
    /// The server answered the opening (SYN-ACK) or sent data.
    answered: bool,
    /// First and last segment, ms since the epoch modulo 2^32 (differences only).
    first_ms: u32,
    last_ms: u32,
    /// Payload bytes A→B and B→A.
    bytes: [u32; 2],
}

impl TableValue for FlowState {
    const EMPTY: Self = FlowState {
        payload_seen: 0,
        closed: false,
        credit: 0,
        client: 0,
        answered: false,
        first_ms: 0,
        last_ms: 0,
        bytes: [0; 2],
    };
}

/// What one segment meant for its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The first payload of its direction: the application dissectors should look.
    pub first_payload: bool,
    /// A flow was evicted to make room.
    pub evicted: bool,
    /// The session ended with this segment (reported once per flow).
    pub ended: Option<SessionEnd>,
}

/// A finished TCP session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionEnd {
    /// The segment's source is the client.
    pub src_is_client: bool,
    /// The service port.
    pub server_port: u16,
    /// How it ended.
    pub outcome: SessionOutcome,
    /// Duration, ms.
    pub duration_ms: u32,
    /// Payload bytes client → server.
    pub bytes_to_server: u32,
    /// Payload bytes server → client.
    pub bytes_to_client: u32,
}

/// Tracks TCP flows.
pub struct FlowTable {
    t: Table<FlowKey, FlowState, { config::MAX_FLOWS }, { config::MAX_FLOWS * 2 }>,
}

fn endpoint_bytes(ip: &wardtap_proto::IpAddr, port: u16) -> ([u8; 16], u16) {
    (ip.to_bytes16(), port)
}

/// Canonical key and the segment's direction.
fn key(vlan: Option<u16>, ipc: &IpCtx) -> (FlowKey, Dir) {
    let a = endpoint_bytes(&ipc.src, ipc.sport);
    let b = endpoint_bytes(&ipc.dst, ipc.dport);
    let (lo, hi, dir) = if a <= b { (a, b, Dir::AtoB) } else { (b, a, Dir::BtoA) };
    // Two independent 32-bit hashes make a 64-bit flow fingerprint; a collision would only
    // merge two flows' "payload seen" bits.
    let mut h1 = Hasher::new(0x5bd1_e995);
    let mut h2 = Hasher::new(0x27d4_eb2f);
    let tail = (vlan.unwrap_or(0xffff) as u32) << 8 | ipc.transport.to_u8() as u32;
    for h in [&mut h1, &mut h2] {
        h.write_words(&lo.0);
        h.write_words(&hi.0);
        h.write_u32((lo.1 as u32) << 16 | hi.1 as u32);
        h.write_u32(tail);
    }
    (FlowKey(((h1.finish() as u64) << 32) | h2.finish() as u64), dir)
}

impl FlowTable {
    /// Empty table.
    pub const fn new(seed: u32) -> Self {
        FlowTable { t: Table::new(seed) }
    }

    /// Flows tracked.
    pub fn len(&self) -> usize {
        self.t.len()
    }

    /// Whether no flow is tracked.
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// Records a TCP segment carrying `payload_len` bytes.
    pub fn segment(&mut self, ts: Timestamp, vlan: Option<u16>, ipc: &IpCtx, payload_len: usize) -> Segment {
        let (k, dir) = key(vlan, ipc);
        let (bit, ix) = match dir {
            Dir::AtoB => (1u8, 0usize),
            Dir::BtoA => (2u8, 1usize),
        };
        let ms = (ts / 1000) as u32;
        let has_payload = payload_len > 0;
        let f = ipc.tcp_flags;
        let mut out = Segment { first_payload: false, evicted: false, ended: None };
        let fresh = FlowState { first_ms: ms, last_ms: ms, ..FlowState::EMPTY };
        // One probe: `insert` hands back the existing slot when the flow is known.
        let slot = match self.t.insert(k, fresh) {
            Some(Inserted::New(s) | Inserted::Existing(s)) => s,
            None => {
                // Full: closed flows go first, then those not touched since the hand last
                // passed.
                let _ = self.t.evict(|_, v| !v.closed && second_chance(&mut v.credit));
                out.evicted = true;
                match self.t.insert(k, fresh) {
                    Some(Inserted::New(s) | Inserted::Existing(s)) => s,
                    None => return Segment { first_payload: has_payload, ..out },
                }
            }
        };
        let Some(st) = self.t.slot_mut(slot) else { return out };
        st.credit = 1;
        st.last_ms = ms;
        if st.client == 0 {
            // The opener is the client; without the opening, the non-service side is.
            // (Only a new flow needs to know: the side is kept.)
            let (src_is_server, _) = ipc.server_side();
            let src_is_client = !src_is_server;
            st.client = if src_is_client == (bit == 1) { 1 } else { 2 };
        }
        let src_is_client = (st.client == 1) == (bit == 1);
        if !src_is_client && (f & tcp_flags::SYN != 0 || has_payload) {
            st.answered = true;
        }
        out.first_payload = has_payload && st.payload_seen & bit == 0;
        if has_payload {
            st.payload_seen |= bit;
            st.bytes[ix] = st.bytes[ix].saturating_add(payload_len as u32);
        }
        if !st.closed && f & (tcp_flags::FIN | tcp_flags::RST) != 0 {
            st.closed = true;
            let outcome = if f & tcp_flags::RST == 0 {
                SessionOutcome::Closed
            } else if !src_is_client && !st.answered {
                SessionOutcome::Refused
            } else {
                SessionOutcome::Reset
            };
            let client_ix = if st.client == 1 { 0 } else { 1 };
            out.ended = Some(SessionEnd {
                src_is_client,
                server_port: if src_is_client { ipc.dport } else { ipc.sport },
                outcome,
                duration_ms: st.last_ms.wrapping_sub(st.first_ms),
                bytes_to_server: st.bytes[client_ix],
                bytes_to_client: st.bytes[1 - client_ix],
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wardtap_proto::{IpAddr, Transport};
    extern crate std;
    use std::boxed::Box;

    fn seg(s: u16, d: u16) -> IpCtx {
        let (src, dst) = if s < d {
            (IpAddr::V4([10, 0, 0, 1]), IpAddr::V4([10, 0, 0, 2]))
        } else {
            (IpAddr::V4([10, 0, 0, 2]), IpAddr::V4([10, 0, 0, 1]))
        };
        IpCtx { src, dst, transport: Transport::Tcp, sport: s, dport: d, tcp_flags: 0x18, payload_len: 1, ttl: 64 }
    }

    #[test]
    fn first_payload_per_direction_only() {
        let mut f = Box::new(FlowTable::new(0));
        assert!(!f.segment(0, None, &seg(40000, 104), 0).first_payload);
        assert!(f.segment(0, None, &seg(40000, 104), 1).first_payload);
        assert!(!f.segment(0, None, &seg(40000, 104), 1).first_payload);
        assert!(f.segment(0, None, &seg(104, 40000), 1).first_payload);
        assert!(!f.segment(0, None, &seg(104, 40000), 1).first_payload);
        // Same endpoints on another VLAN is another flow.
        assert!(f.segment(0, Some(10), &seg(40000, 104), 1).first_payload);
        assert_eq!(f.len(), 2);
    }

    fn flags(mut i: IpCtx, f: u8) -> IpCtx {
        i.tcp_flags = f;
        i
    }

    #[test]
    fn refused_reset_and_closed_sessions() {
        let mut f = Box::new(FlowTable::new(0));
        // SYN to 22, RST from the server: refused.
        f.segment(1_000_000, None, &flags(seg(40000, 22), 0x02), 0);
        let end = f.segment(1_001_000, None, &flags(seg(22, 40000), 0x14), 0).ended.unwrap();
        assert_eq!((end.outcome, end.src_is_client, end.server_port), (SessionOutcome::Refused, false, 22));
        assert_eq!(end.duration_ms, 1);
        // Established, data both ways, client resets.
        f.segment(0, None, &flags(seg(40001, 22), 0x02), 0);
        f.segment(0, None, &flags(seg(22, 40001), 0x12), 0);
        f.segment(0, None, &flags(seg(22, 40001), 0x18), 21);
        f.segment(0, None, &flags(seg(40001, 22), 0x18), 30);
        let end = f.segment(0, None, &flags(seg(40001, 22), 0x14), 0).ended.unwrap();
        assert_eq!((end.outcome, end.bytes_to_server, end.bytes_to_client), (SessionOutcome::Reset, 30, 21));
        // Reported once only.
        assert!(f.segment(0, None, &flags(seg(22, 40001), 0x14), 0).ended.is_none());
        // FIN: closed.
        f.segment(0, None, &flags(seg(40002, 80), 0x18), 10);
        let end = f.segment(0, None, &flags(seg(40002, 80), 0x11), 0).ended.unwrap();
        assert_eq!(end.outcome, SessionOutcome::Closed);
    }

    #[test]
    fn full_table_evicts_and_counts() {
        let mut f = Box::new(FlowTable::new(0));
        let mut evictions = 0;
        for p in 0..(config::MAX_FLOWS as u16 + 10) {
            evictions += f.segment(0, None, &seg(1000 + p, 30000), 1).evicted as usize;
        }
        assert_eq!(evictions, 10);
        assert_eq!(f.len(), config::MAX_FLOWS);
    }
}
