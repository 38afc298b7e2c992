//! The flow table: the little per-connection state dissection needs.
//!
//! A flow is a TCP connection seen from the wire, keyed by VLAN, both endpoints and
//! transport, in a canonical order so both directions meet in one entry. It remembers
//! whether each direction has already sent payload, so the application dissectors see the
//! first data segment per direction only. Full table: CLOCK eviction, closed flows first.

use crate::config;
use crate::fact::{tcp_flags, IpCtx, Timestamp};
use crate::table::{Hasher, Table, TableKey, TableValue};

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
    const EMPTY: Self = FlowKey(u64::MAX);
    fn hash(&self, h: &mut Hasher) {
        h.write_u32(self.0 as u32);
        h.write_u32((self.0 >> 32) as u32);
    }
}

#[derive(Clone, Copy, Debug)]
struct FlowState {
    /// Bit 0: A→B sent payload; bit 1: B→A did.
    payload_seen: u8,
    /// Saw FIN or RST.
    closed: bool,
    /// CLOCK credit: refreshed on every segment.
    credit: u8,
}

impl TableValue for FlowState {
    const EMPTY: Self = FlowState { payload_seen: 0, closed: false, credit: 0 };
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
    for h in [&mut h1, &mut h2] {
        h.write_u16(vlan.unwrap_or(0xffff));
        h.write(&lo.0);
        h.write_u16(lo.1);
        h.write(&hi.0);
        h.write_u16(hi.1);
        h.write(&[ipc.transport.to_u8()]);
    }
    let mut k = ((h1.finish() as u64) << 32) | h2.finish() as u64;
    if k == u64::MAX {
        k -= 1;
    }
    (FlowKey(k), dir)
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

    /// Records a TCP segment. Returns (this is the first payload of its direction, a flow
    /// was evicted to make room).
    pub fn segment(&mut self, _ts: Timestamp, vlan: Option<u16>, ipc: &IpCtx, has_payload: bool) -> (bool, bool) {
        let (k, dir) = key(vlan, ipc);
        let bit = match dir {
            Dir::AtoB => 1,
            Dir::BtoA => 2,
        };
        let closing = ipc.tcp_flags & (tcp_flags::FIN | tcp_flags::RST) != 0;
        if let Some(st) = self.t.get_mut(&k) {
            st.credit = 1;
            st.closed |= closing;
            let first = has_payload && st.payload_seen & bit == 0;
            if has_payload {
                st.payload_seen |= bit;
            }
            return (first, false);
        }
        let st = FlowState { payload_seen: if has_payload { bit } else { 0 }, closed: closing, credit: 1 };
        let mut evicted = false;
        if self.t.insert(k, st).is_none() {
            // Full: closed flows go first, then those not touched since the hand last passed.
            let _ = self.t.evict(|_, v| {
                if v.closed || v.credit == 0 {
                    false
                } else {
                    v.credit -= 1;
                    true
                }
            });
            evicted = true;
            let _ = self.t.insert(k, st);
        }
        (has_payload, evicted)
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
        assert_eq!(f.segment(0, None, &seg(40000, 104), false), (false, false));
        assert!(f.segment(0, None, &seg(40000, 104), true).0);
        assert!(!f.segment(0, None, &seg(40000, 104), true).0);
        assert!(f.segment(0, None, &seg(104, 40000), true).0);
        assert!(!f.segment(0, None, &seg(104, 40000), true).0);
        // Same endpoints on another VLAN is another flow.
        assert!(f.segment(0, Some(10), &seg(40000, 104), true).0);
        assert_eq!(f.len(), 2);
    }

    #[test]
    fn full_table_evicts_and_counts() {
        let mut f = Box::new(FlowTable::new(0));
        let mut evictions = 0;
        for p in 0..(config::MAX_FLOWS as u16 + 10) {
            let (_, ev) = f.segment(0, None, &seg(1000 + p, 30000), true);
            evictions += ev as usize;
        }
        assert_eq!(evictions, 10);
        assert_eq!(f.len(), config::MAX_FLOWS);
    }
}
