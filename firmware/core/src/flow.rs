//! The flow table: the little per-connection state dissection needs.
//!
//! A flow is a TCP connection seen from the wire, keyed by VLAN and both endpoints (TCP
//! only: the transport is not in the key), in a canonical order so both directions meet in
//! one entry. It remembers
//! whether each direction has already sent payload, so the application dissectors see the
//! first data segment per direction only, and a small tag the pipeline computes from the
//! flow's ports once, when it opens (ports never change within a flow), instead of on every
//! segment. Full table: CLOCK eviction, closed flows first.

use crate::config;
use crate::fact::{tcp_flags, IpCtx, SessionOutcome, Timestamp};
use crate::table::{second_chance, Hasher, Inserted, Table, TableKey, TableValue};
use wardtap_proto::IpAddr;

/// Direction of a segment relative to the flow's canonical order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// From the lower endpoint to the higher.
    AtoB,
    /// The other way.
    BtoA,
}

/// A 64-bit fingerprint of the canonical flow tuple (a collision would only merge two
/// flows' state; at 64 bits that needs ~2^32 flows, far beyond the table).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct FlowKey(u64);

impl TableKey for FlowKey {
    const EMPTY: Self = FlowKey(0);
    fn hash(&self, h: &mut Hasher) {
        // One word for the index, the high half folded in: an IPv4 key's low half sees only
        // the low bits of its spread first word.
        h.write_u32((self.0 ^ self.0 >> 32) as u32);
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
    /// The caller's tag for the flow (see [`FlowTable::segment`]).
    tag: u8,
    /// The server answered the opening (SYN-ACK) or sent data.
    answered: bool,
    /// First segment, ms since the epoch modulo 2^32 (differences only). The last one is
    /// the segment that ends the session, the only time the duration is read.
    first_ms: u32,
    /// Payload bytes A→B and B→A.
    bytes: [u32; 2],
}

impl TableValue for FlowState {
    const EMPTY: Self = FlowState {
        payload_seen: 0,
        closed: false,
        credit: 0,
        client: 0,
        tag: 0,
        answered: false,
        first_ms: 0,
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
    /// The tag `tag_of` gave the flow when it opened.
    pub tag: u8,
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
    /// Slot of the last segment's flow: segments come in bursts of one flow (2 in 3 on mixed
    /// LAN captures), and comparing the key stored there skips hashing and probing. Only a
    /// hint: it is used when that slot holds exactly this key, i.e. where `find` would go.
    last: u16,
}

/// A 64-bit finaliser (splitmix64's): a bijection in which every input bit reaches every
/// output bit, so chaining `mix(mix(a) ^ b)` fingerprints several words.
#[inline]
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// An odd multiplier (golden ratio): a bijection of the first word before it is mixed in.
const SPREAD: u64 = 0x9e37_79b9_7f4a_7c15;

/// Canonical key and the segment's direction: the lower (address, port) endpoint is A.
/// IPv4, nearly every segment, compares and mixes 48-bit words; the order is the same as
/// that of the 16-byte (IPv4-mapped) address then port.
#[inline]
fn key(vlan: Option<u16>, ipc: &IpCtx) -> (FlowKey, Dir) {
    if let (IpAddr::V4(s), IpAddr::V4(d)) = (&ipc.src, &ipc.dst) {
        // VLAN (or 0xffff untagged) goes above the 48-bit endpoints.
        let tail = (vlan.unwrap_or(0xffff) as u64) << 48;
        let a = (u32::from_be_bytes(*s) as u64) << 16 | ipc.sport as u64;
        let b = (u32::from_be_bytes(*d) as u64) << 16 | ipc.dport as u64;
        let (lo, hi, dir) = if a <= b { (a, b, Dir::AtoB) } else { (b, a, Dir::BtoA) };
        // The first word spread by an odd multiply (a bijection) and the second added with
        // xor: keys differing in one word always differ, in both only by a 2^-64-like
        // coincidence of the product's bits, which a finaliser would not make rarer.
        return (FlowKey((lo | tail).wrapping_mul(SPREAD) ^ hi), dir);
    }
    key_v6(vlan, ipc)
}

/// [`key`] for IPv6 (and mixed) endpoints: 16-byte addresses, a few segments only.
#[inline(never)]
fn key_v6(vlan: Option<u16>, ipc: &IpCtx) -> (FlowKey, Dir) {
    let tail = (vlan.unwrap_or(0xffff) as u64) << 48;
    let a = (u128::from_be_bytes(ipc.src.to_bytes16()), ipc.sport);
    let b = (u128::from_be_bytes(ipc.dst.to_bytes16()), ipc.dport);
    let (lo, hi, dir) = if a <= b { (a, b, Dir::AtoB) } else { (b, a, Dir::BtoA) };
    let ports = tail | (lo.1 as u64) << 16 | hi.1 as u64;
    let mut h = mix(ports);
    for w in [(lo.0 >> 64) as u64, lo.0 as u64, (hi.0 >> 64) as u64, hi.0 as u64] {
        h = mix(h ^ w);
    }
    (FlowKey(h), dir)
}

impl FlowTable {
    /// Empty table.
    pub const fn new(seed: u32) -> Self {
        FlowTable { t: Table::new(seed), last: 0 }
    }

    /// Flows tracked.
    pub fn len(&self) -> usize {
        self.t.len()
    }

    /// Whether no flow is tracked.
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// Records a TCP segment carrying `payload_len` bytes. `tag_of` is called once per flow,
    /// on its first segment, and what it says comes back in every [`Segment::tag`]: it must
    /// depend only on what every segment of the flow shares (addresses, ports, VLAN).
    #[inline]
    pub fn segment(
        &mut self,
        ts: Timestamp,
        vlan: Option<u16>,
        ipc: &IpCtx,
        payload_len: usize,
        tag_of: impl FnOnce(&IpCtx) -> u8,
    ) -> Segment {
        let (k, dir) = key(vlan, ipc);
        let bit = match dir {
            Dir::AtoB => 1u8,
            Dir::BtoA => 2u8,
        };
        let has_payload = payload_len > 0;
        let mut evicted = false;
        // A known flow (nearly every segment) is one key compare at the last flow's slot, else
        // one probe; a new one is opened out of line.
        let st = match self.t.entry_mut(self.last) {
            Some((key, st)) if *key == k => st,
            _ => {
                let s = match self.t.find(&k) {
                    Some(s) => s,
                    None => {
                        let tag = tag_of(ipc);
                        match self.open(k, bit, ts, ipc, tag) {
                            (Some(s), e) => {
                                evicted = e;
                                s
                            }
                            (None, evicted) => {
                                return Segment { first_payload: has_payload, evicted, ended: None, tag }
                            }
                        }
                    }
                };
                self.last = s;
                let Some(st) = self.t.slot_mut(s) else {
                    return Segment { first_payload: false, evicted, ended: None, tag: 0 };
                };
                st
            }
        };
        let mut out = Segment { first_payload: false, evicted, ended: None, tag: st.tag };
        st.credit = 1;
        let f = ipc.tcp_flags;
        let src_is_client = (st.client == 1) == (bit == 1);
        if !src_is_client && (f & tcp_flags::SYN != 0 || has_payload) {
            st.answered = true;
        }
        if has_payload {
            out.first_payload = st.payload_seen & bit == 0;
            st.payload_seen |= bit;
            let ix = (bit >> 1) as usize;
            if let Some(b) = st.bytes.get_mut(ix) {
                *b = b.saturating_add(payload_len as u32);
            }
        }
        if f & (tcp_flags::FIN | tcp_flags::RST) != 0 && !st.closed {
            out.ended = Some(end(st, src_is_client, ts, ipc));
        }
        out
    }

    /// Inserts a new flow (evicting one when full) with its client side decided: the
    /// opener is the client; without the opening, the non-service side is. Returns its slot
    /// (none if even eviction found no room) and whether a flow was evicted.
    #[inline(never)]
    fn open(&mut self, k: FlowKey, bit: u8, ts: Timestamp, ipc: &IpCtx, tag: u8) -> (Option<u16>, bool) {
        let (src_is_server, _) = ipc.server_side();
        let src_is_client = !src_is_server;
        let fresh = FlowState {
            first_ms: (ts / 1000) as u32,
            client: if src_is_client == (bit == 1) { 1 } else { 2 },
            tag,
            ..FlowState::EMPTY
        };
        if let Some(Inserted::New(s) | Inserted::Existing(s)) = self.t.insert(k, fresh) {
            return (Some(s), false);
        }
        // Full: closed flows go first, then those not touched since the hand last passed.
        let _ = self.t.evict(|_, v| !v.closed && second_chance(&mut v.credit));
        match self.t.insert(k, fresh) {
            Some(Inserted::New(s) | Inserted::Existing(s)) => (Some(s), true),
            None => (None, true),
        }
    }
}

/// The first FIN or RST of a flow: marks it closed and reports how the session went.
#[inline(never)]
fn end(st: &mut FlowState, src_is_client: bool, ts: Timestamp, ipc: &IpCtx) -> SessionEnd {
    st.closed = true;
    let f = ipc.tcp_flags;
    let outcome = if f & tcp_flags::RST == 0 {
        SessionOutcome::Closed
    } else if !src_is_client && !st.answered {
        SessionOutcome::Refused
    } else {
        SessionOutcome::Reset
    };
    let [a, b] = st.bytes;
    let (to_server, to_client) = if st.client == 1 { (a, b) } else { (b, a) };
    SessionEnd {
        src_is_client,
        server_port: if src_is_client { ipc.dport } else { ipc.sport },
        outcome,
        duration_ms: ((ts / 1000) as u32).wrapping_sub(st.first_ms),
        bytes_to_server: to_server,
        bytes_to_client: to_client,
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
        assert!(!f.segment(0, None, &seg(40000, 104), 0, |_| 0).first_payload);
        assert!(f.segment(0, None, &seg(40000, 104), 1, |_| 0).first_payload);
        assert!(!f.segment(0, None, &seg(40000, 104), 1, |_| 0).first_payload);
        assert!(f.segment(0, None, &seg(104, 40000), 1, |_| 0).first_payload);
        assert!(!f.segment(0, None, &seg(104, 40000), 1, |_| 0).first_payload);
        // Same endpoints on another VLAN is another flow.
        assert!(f.segment(0, Some(10), &seg(40000, 104), 1, |_| 0).first_payload);
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
        f.segment(1_000_000, None, &flags(seg(40000, 22), 0x02), 0, |_| 0);
        let end = f.segment(1_001_000, None, &flags(seg(22, 40000), 0x14), 0, |_| 0).ended.unwrap();
        assert_eq!((end.outcome, end.src_is_client, end.server_port), (SessionOutcome::Refused, false, 22));
        assert_eq!(end.duration_ms, 1);
        // Established, data both ways, client resets.
        f.segment(0, None, &flags(seg(40001, 22), 0x02), 0, |_| 0);
        f.segment(0, None, &flags(seg(22, 40001), 0x12), 0, |_| 0);
        f.segment(0, None, &flags(seg(22, 40001), 0x18), 21, |_| 0);
        f.segment(0, None, &flags(seg(40001, 22), 0x18), 30, |_| 0);
        let end = f.segment(0, None, &flags(seg(40001, 22), 0x14), 0, |_| 0).ended.unwrap();
        assert_eq!((end.outcome, end.bytes_to_server, end.bytes_to_client), (SessionOutcome::Reset, 30, 21));
        // Reported once only.
        assert!(f.segment(0, None, &flags(seg(22, 40001), 0x14), 0, |_| 0).ended.is_none());
        // FIN: closed.
        f.segment(0, None, &flags(seg(40002, 80), 0x18), 10, |_| 0);
        let end = f.segment(0, None, &flags(seg(40002, 80), 0x11), 0, |_| 0).ended.unwrap();
        assert_eq!(end.outcome, SessionOutcome::Closed);
    }

    #[test]
    fn key_is_canonical_and_ordered_like_the_mapped_bytes() {
        // Both directions meet in one key; A is the lower (16-byte address, port) endpoint,
        // for IPv4 as for IPv6; VLANs and address families never share a key.
        let mut x: u32 = 0x1234_5678;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let mut keys = std::vec::Vec::new();
        for i in 0..2000 {
            let (r1, r2, r3) = (next(), next(), next());
            // Often equal addresses or ports, so the port decides the order.
            let s = r1.to_be_bytes();
            let d = if i % 3 == 0 { s } else { r2.to_be_bytes() };
            let (sport, dport) = ((r3 >> 16) as u16, if i % 5 == 0 { (r3 >> 16) as u16 } else { r3 as u16 });
            let (src, dst) = if i % 2 == 0 {
                (IpAddr::V4(s), IpAddr::V4(d))
            } else {
                let mut a = [0u8; 16];
                a[12..].copy_from_slice(&s);
                a[0] = 0xfe;
                let mut b = a;
                b[12..].copy_from_slice(&d);
                (IpAddr::V6(a), IpAddr::V6(b))
            };
            let fwd = IpCtx { src, dst, transport: Transport::Tcp, sport, dport, tcp_flags: 0, payload_len: 0, ttl: 0 };
            let rev = IpCtx { src: dst, dst: src, sport: dport, dport: sport, ..fwd };
            let (kf, df) = key(None, &fwd);
            let (kr, dr) = key(None, &rev);
            assert_eq!(kf, kr);
            let lower = (src.to_bytes16(), sport) <= (dst.to_bytes16(), dport);
            assert_eq!(df == Dir::AtoB, lower);
            if (src, sport) != (dst, dport) {
                assert_ne!(df, dr);
            }
            assert_ne!(key(Some(1), &fwd).0, kf);
            keys.push(kf);
        }
        // The same addresses as IPv4 and as IPv4-mapped IPv6 are different flows.
        let v4 = seg(1000, 80);
        let mapped = |a: IpAddr| IpAddr::V6(a.to_bytes16());
        let v6 = IpCtx { src: mapped(v4.src), dst: mapped(v4.dst), ..v4 };
        assert_ne!(key(None, &v4).0, key(None, &v6).0);
        keys.sort_unstable_by_key(|k| k.0);
        keys.dedup();
        assert!(keys.len() > 1990, "fingerprints collide: {}", keys.len());
    }

    #[test]
    fn ipv6_flows_track_first_payload() {
        let mut f = Box::new(FlowTable::new(0));
        let a = IpAddr::V6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        let b = IpAddr::V6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        let c2s = IpCtx {
            src: a,
            dst: b,
            transport: Transport::Tcp,
            sport: 50000,
            dport: 443,
            tcp_flags: 0x18,
            payload_len: 1,
            ttl: 64,
        };
        let s2c = IpCtx { src: b, dst: a, sport: 443, dport: 50000, ..c2s };
        assert!(f.segment(0, None, &c2s, 5, |_| 0).first_payload);
        assert!(!f.segment(0, None, &c2s, 5, |_| 0).first_payload);
        assert!(f.segment(0, None, &s2c, 5, |_| 0).first_payload);
        let end = f.segment(2_000_000, None, &flags(s2c, 0x11), 0, |_| 0).ended.unwrap();
        assert_eq!((end.src_is_client, end.server_port, end.bytes_to_server, end.bytes_to_client), (false, 443, 10, 5));
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn tag_decided_once_per_flow() {
        let mut f = Box::new(FlowTable::new(0));
        let mut calls = 0;
        let mut tag = |i: &IpCtx| {
            calls += 1;
            (i.sport ^ i.dport) as u8
        };
        assert_eq!(f.segment(0, None, &seg(40000, 445), 0, &mut tag).tag, (40000u16 ^ 445) as u8);
        assert_eq!(f.segment(0, None, &seg(445, 40000), 3, &mut tag).tag, (40000u16 ^ 445) as u8);
        assert_eq!(f.segment(0, None, &seg(40000, 445), 3, &mut tag).tag, (40000u16 ^ 445) as u8);
        assert_eq!(f.segment(0, None, &seg(40001, 80), 3, &mut tag).tag, (40001u16 ^ 80) as u8);
        assert_eq!(calls, 2);
    }

    #[test]
    fn last_flow_hint_never_changes_results() {
        // The same segments through two tables, one with its hint pointed at a random slot
        // before every segment (occupied by another flow, freed, or right): same answers,
        // through bursts, interleaving, closes and evictions of a full table.
        let (mut a, mut b) = (Box::new(FlowTable::new(0)), Box::new(FlowTable::new(0)));
        let mut x: u32 = 0x2545_f491;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let mut flow = 0u32;
        for i in 0..40_000u32 {
            let r = next();
            if r % 3 != 0 {
                // A burst continues one flow; otherwise a random one of more than fit.
                flow = next() % (config::MAX_FLOWS as u32 + 300);
            }
            let mut ip = seg(1024 + (flow % 30000) as u16, 80 + (flow / 30000) as u16);
            if r & 8 != 0 {
                core::mem::swap(&mut ip.src, &mut ip.dst);
                core::mem::swap(&mut ip.sport, &mut ip.dport);
            }
            ip.tcp_flags = [0x02, 0x12, 0x10, 0x18, 0x11, 0x14, 0x04, 0x10][(r >> 4) as usize % 8];
            let len = if r & 0x100 != 0 { (r >> 9) as usize % 1500 } else { 0 };
            let ts = u64::from(i) * 1000;
            b.last = (next() % config::MAX_FLOWS as u32) as u16;
            let tag = |i: &IpCtx| i.sport as u8;
            assert_eq!(a.segment(ts, None, &ip, len, tag), b.segment(ts, None, &ip, len, tag), "{i}");
        }
        assert_eq!(a.len(), b.len());
    }

    #[test]
    fn full_table_evicts_and_counts() {
        let mut f = Box::new(FlowTable::new(0));
        let mut evictions = 0;
        for p in 0..(config::MAX_FLOWS as u16 + 10) {
            evictions += f.segment(0, None, &seg(1000 + p, 30000), 1, |_| 0).evicted as usize;
        }
        assert_eq!(evictions, 10);
        assert_eq!(f.len(), config::MAX_FLOWS);
    }
}
