//! The asset inventory: consumes facts, keeps one asset per source MAC and the edges
//! between assets and the addresses they talk to.
//!
//! Tables and their eviction rules (sizes in [`crate::config`]):
//! - assets: CLOCK; touching an asset gives it one round of credit, three if it carries
//!   medical evidence, so idle non-medical devices go first. An evicted asset's strings are
//!   freed at once; its edges are recognised as stale by the asset's generation and go first
//!   when the edge table needs room.
//! - edges: CLOCK, stale edges first, then those idle longest.
//! - strings: no eviction (they belong to an asset); a full table or an asset's per-kind
//!   share drops the new string and counts it.
//!
//! Locality: an address is "local" when it is link-local, inside a configured or learned
//! subnet/prefix, or — while no subnet is known — private (RFC 1918 / ULA). A source address
//! is taken as the sending MAC's own when it is local or, while no subnet is known, when the
//! packet still carries an initial TTL (64, 128, 255: not routed). A peer that is not local
//! is external.
//!
//! Shortcuts never change a result: recent MACs and edges are remembered as hints
//! checked against the tables' own keys and generations, and the decisions for the last frame
//! of each direction of a conversation (`FrameMemo`) are reused only while no table entry,
//! address or prefix changed since. Tests run captures, generated sequences and table-filling
//! streams through an inventory that forgets them all before every frame and compare.

use crate::classify;
use crate::config::*;
use crate::fact::{tcp_flags, AddrEvidence, DicomPdu, Fact, FrameCtx, IpCtx, Sink};
use crate::table::{second_chance, Hasher, Inserted, Table, TableKey, TableValue};
use wardtap_proto::*;

impl TableKey for Mac {
    const EMPTY: Self = Mac([0; 6]);
    #[inline]
    fn hash(&self, h: &mut Hasher) {
        let m = self.0;
        h.write_u32(u32::from_le_bytes([m[0], m[1], m[2], m[3]]) ^ ((m[4] as u32) << 8 | m[5] as u32));
        h.write_u32(u32::from_le_bytes([m[2], m[3], m[4], m[5]]));
    }
}

/// Bit flags on an asset.
pub mod flags {
    /// Announced bridge/router/AP capabilities, or sent router advertisements.
    pub const ROUTER: u8 = 0x01;
    /// Announced telephone capability.
    pub const PHONE: u8 = 0x02;
    /// Sends switch chatter (STP, LLDP, CDP).
    pub const INFRA: u8 = 0x04;
    /// Answers DHCP.
    pub const DHCP_SERVER: u8 = 0x08;
    /// Answers DNS.
    pub const DNS_SERVER: u8 = 0x10;
    /// Forwards traffic from outside addresses (a gateway).
    pub const FORWARDS: u8 = 0x20;
    /// Classified as medical: spared longer by eviction.
    pub const MEDICAL: u8 = 0x80;
}

/// One device, keyed by MAC.
#[derive(Clone, Debug)]
pub struct Asset {
    /// First frame, µs.
    pub first_seen: u64,
    /// Last frame, µs.
    pub last_seen: u64,
    /// Frames sent.
    pub frames_tx: u32,
    /// Frames received (unicast to it).
    pub frames_rx: u32,
    /// Bytes sent.
    pub bytes_tx: u64,
    /// Bytes received.
    pub bytes_rx: u64,
    /// IPv4 addresses.
    pub v4: heapless::Vec<[u8; 4], MAX_V4_PER_ASSET, u8>,
    /// IPv6 addresses.
    pub v6: heapless::Vec<[u8; 16], MAX_V6_PER_ASSET, u8>,
    /// Protocols spoken.
    pub protocols: ProtocolSet,
    /// Ports answered on.
    pub services: heapless::Vec<Service, MAX_SERVICES_PER_ASSET, u8>,
    /// DHCP option 55, in order.
    pub prl: heapless::Vec<u8, MAX_DHCP_PRL, u8>,
    /// Slots of its strings in the string table.
    pub strs: heapless::Vec<u16, MAX_STRINGS_PER_ASSET, u8>,
    /// Last VLAN seen.
    pub vlan: Option<u16>,
    /// Current class (recomputed when evidence arrives).
    pub class: DeviceClass,
    /// [`flags`].
    pub flags: u8,
    /// Cleartext kinds seen, `1 << CleartextKind`.
    pub cleartext: u8,
    /// CLOCK credit.
    credit: u8,
    /// Strings, addresses or services that did not fit.
    pub dropped: u16,
    /// The union of its strings' word-list masks (`classify`): a keyword rule none of its
    /// strings can satisfy is skipped without walking them.
    pub masks: u16,
}

impl TableValue for Asset {
    const EMPTY: Self = Asset {
        first_seen: 0,
        last_seen: 0,
        frames_tx: 0,
        frames_rx: 0,
        bytes_tx: 0,
        bytes_rx: 0,
        v4: heapless::Vec::new(),
        v6: heapless::Vec::new(),
        protocols: ProtocolSet(0),
        services: heapless::Vec::new(),
        prl: heapless::Vec::new(),
        strs: heapless::Vec::new(),
        vlan: None,
        class: DeviceClass::Unknown,
        flags: 0,
        cleartext: 0,
        credit: 0,
        dropped: 0,
        masks: 0,
    };
}

/// Key of a kept string: owner, kind and a hash of the text (equal hashes count as equal
/// strings; a collision drops one of two strings of the same kind on the same asset).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct StrKey {
    asset: u16,
    kind: u8,
    hash: u32,
}

impl TableKey for StrKey {
    const EMPTY: Self = StrKey { asset: 0, kind: 0, hash: 0 };
    fn hash(&self, h: &mut Hasher) {
        h.write_u32(self.hash ^ ((self.asset as u32) << 8 | self.kind as u32));
    }
}

#[derive(Clone, Debug)]
struct StrVal {
    kind: StrKind,
    text: Text<STRING_LEN>,
    /// Which classification word lists it matches (worked out once, when stored).
    mask: u16,
}

impl TableValue for StrVal {
    const EMPTY: Self = StrVal { kind: StrKind::Name(NameSource::Dhcp), text: heapless::Vec::new(), mask: 0 };
}

/// A peer address edges point at (kept once, referred to by slot).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct PeerKey([u8; 16]);

impl PeerKey {
    /// The key's bytes ([`IpAddr::to_bytes16`]) as one big-endian word, built without the
    /// byte array: compared against a stored key in one go.
    #[inline]
    fn word(ip: &IpAddr) -> u128 {
        match ip {
            IpAddr::V4(a) => 0xffff_0000_0000 | u128::from(u32::from_be_bytes(*a)),
            IpAddr::V6(b) => u128::from_be_bytes(*b),
        }
    }
}

impl TableKey for PeerKey {
    const EMPTY: Self = PeerKey([0; 16]);
    #[inline]
    fn hash(&self, h: &mut Hasher) {
        let p = self.0;
        h.write_u32(u32::from_le_bytes([p[12], p[13], p[14], p[15]]));
        h.write_u32(
            u32::from_le_bytes([p[0], p[1], p[2], p[3]])
                ^ u32::from_le_bytes([p[4], p[5], p[6], p[7]])
                ^ u32::from_le_bytes([p[8], p[9], p[10], p[11]]),
        );
    }
}

#[derive(Clone, Copy, Debug)]
struct PeerVal {
    credit: u8,
}

impl TableValue for PeerVal {
    const EMPTY: Self = PeerVal { credit: 0 };
}

/// Edge key: asset and peer (slot + low byte of generation), service port, transport,
/// direction. 10 bytes: the edge table is the largest in the core.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct EdgeKey {
    asset: u16,
    peer: u16,
    port: u16,
    agen: u8,
    pgen: u8,
    transport: u8,
    outbound: bool,
}

impl TableKey for EdgeKey {
    const EMPTY: Self = EdgeKey { asset: 0, peer: 0, port: 0, agen: 0, pgen: 0, transport: 0, outbound: false };
    #[inline]
    fn hash(&self, h: &mut Hasher) {
        h.write_u32((self.asset as u32) << 16 | self.peer as u32);
        h.write_u32((self.port as u32) << 16 | (self.transport as u32) << 8 | self.outbound as u32);
    }
}

/// Edge counters: 20 bytes. Bytes are a 48-bit count (256 TB) split to keep 4-byte alignment.
#[derive(Clone, Copy, Debug)]
struct Edge {
    frames: u32,
    bytes_lo: u32,
    first: u32,
    last: u32,
    bytes_hi: u16,
    credit: u8,
}

impl Edge {
    fn bytes(&self) -> u64 {
        (self.bytes_hi as u64) << 32 | self.bytes_lo as u64
    }
    fn add_bytes(&mut self, n: u64) {
        let b = self.bytes().saturating_add(n).min((1 << 48) - 1);
        self.bytes_lo = b as u32;
        self.bytes_hi = (b >> 32) as u16;
    }
}

impl Edge {
    /// One more frame of `len` bytes at `secs`.
    #[inline]
    fn count(&mut self, len: u16, secs: u32) {
        self.frames = self.frames.saturating_add(1);
        self.add_bytes(len as u64);
        self.last = self.last.max(secs);
        self.credit = 1;
    }
}

impl TableValue for Edge {
    const EMPTY: Self = Edge { frames: 0, bytes_lo: 0, first: 0, last: 0, bytes_hi: 0, credit: 0 };
}

/// An edge's time: whole seconds of a capture time in µs (saturating).
#[inline]
fn secs_of(ts: u64) -> u32 {
    (ts / 1_000_000).min(u32::MAX as u64) as u32
}

/// Whether the asset holds `ip` as one of its addresses.
fn holds(a: &Asset, ip: &IpAddr) -> bool {
    // Compared as words: asked twice per frame, and a byte-array `contains` compares bytes.
    match ip {
        IpAddr::V4(v) => {
            let w = u32::from_ne_bytes(*v);
            a.v4.iter().any(|x| u32::from_ne_bytes(*x) == w)
        }
        IpAddr::V6(v) => {
            let w = u128::from_ne_bytes(*v);
            a.v6.iter().any(|x| u128::from_ne_bytes(*x) == w)
        }
    }
}

/// An edge is live while both its asset and its peer are the entries it was made for.
fn edge_live(assets: &Assets, peers: &Peers, k: &EdgeKey) -> bool {
    assets.is_live(k.asset, k.agen) && peers.is_live(k.peer, k.pgen)
}

/// What changed in the inventory during the current frame, for the detectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A MAC not in the table before.
    NewAsset {
        /// Its MAC.
        mac: Mac,
    },
    /// An edge not in the table before.
    NewEdge {
        /// The asset.
        asset: Mac,
        /// The peer.
        peer: IpAddr,
        /// Transport.
        transport: Transport,
        /// Service port.
        port: u16,
        /// The asset is the client.
        outbound: bool,
    },
}

/// Events kept per frame; more are counted in `events_dropped`.
const MAX_EVENTS: usize = 8;

/// Recently used edges, direct-mapped by (asset, peer, port): most frames continue a
/// conversation seen a moment ago, and a hit costs one key compare instead of hashing and
/// probing both the peer and the edge table. Entries are `slot + 1` (0 = empty) and are only
/// hints: a hit is checked against the edge's own key, so a stale entry is just a miss.
/// (One entry under test, so that every lookup also exercises a mismatching hint.)
const EDGE_CACHE: usize = if cfg!(test) { 1 } else { 256 };
/// Recently seen MACs, direct-mapped by their last bytes; hints like [`EDGE_CACHE`].
const MAC_CACHE: usize = if cfg!(test) { 1 } else { 64 };
/// Frame memos ([`FrameMemo`]), direct-mapped by the conversation's ports and direction
/// (several conversations interleave on a busy segment). Few under test, so that
/// conversations share entries there.
const MEMOS: usize = if cfg!(test) { 4 } else { 64 };
const _: () = assert!(MEMOS.is_power_of_two() && MEMOS >= 2);

/// What [`Inventory::on_frame`] worked out for one frame of a conversation, kept so that the
/// next frame of the same conversation in the same direction repeats only the counting.
/// Valid while the inventory's [`Inventory::layout`] is what it was: it moves on with every
/// change that could alter a decision (an asset, peer or edge removed, counted by the tables
/// themselves; an address or a local prefix added), and, for a receiver that was not an
/// asset, while no asset was inserted. Only frames that removed nothing and added no address
/// are memoised, and only those whose decisions depend on nothing but the compared fields
/// (no TCP SYN: an opening's flags pick the server side).
#[derive(Clone, Copy, Debug)]
struct FrameMemo {
    /// The inventory's layout when made; 0 (empty) never matches (the layout is at least 1).
    layout: u64,
    /// The asset table's change count when made, if the receiver was a device MAC that is
    /// not an asset (an asset inserted since may be it); 0 when that does not matter.
    assets_seen: u64,
    src_mac: Mac,
    dst_mac: Mac,
    src: IpAddr,
    dst: IpAddr,
    transport: Transport,
    sport: u16,
    dport: u16,
    ttl: u8,
    /// The sender's slot.
    src_slot: u16,
    /// The receiver's slot, when it is a known asset.
    dst_slot: Option<u16>,
    /// Edge slots of the sender and of the receiver, when they own the frame's addresses.
    src_edge: Option<u16>,
    dst_edge: Option<u16>,
    /// Server side and service port (for the sender's service, asked again per frame).
    server_is_src: bool,
    port: u16,
}

impl FrameMemo {
    const EMPTY: Self = FrameMemo {
        layout: 0,
        assets_seen: 0,
        src_mac: Mac([0; 6]),
        dst_mac: Mac([0; 6]),
        src: IpAddr::V4([0; 4]),
        dst: IpAddr::V4([0; 4]),
        transport: Transport::Tcp,
        sport: 0,
        dport: 0,
        ttl: 0,
        src_slot: 0,
        dst_slot: None,
        src_edge: None,
        dst_edge: None,
        server_is_src: false,
        port: 0,
    };

    /// Whether `ctx` is a frame of the conversation and direction this memo was made for,
    /// and not an opening (a SYN's flags, not its ports, pick the server side; memos are
    /// made of other frames only).
    #[inline]
    fn fits(&self, ctx: &FrameCtx, ip: &IpCtx) -> bool {
        self.sport == ip.sport
            && ip.tcp_flags & tcp_flags::SYN == 0
            && self.dport == ip.dport
            && self.src_mac == ctx.src_mac
            && self.dst_mac == ctx.dst_mac
            && self.src == ip.src
            && self.dst == ip.dst
            && self.transport == ip.transport
            && self.ttl == ip.ttl
    }

    /// The entry for a frame: by its ports, and the two directions of a conversation (ports
    /// swapped) in neighbouring entries, so a reply does not push out the request's memo.
    #[inline]
    fn index(ip: &IpCtx) -> usize {
        (usize::from(ip.sport ^ ip.dport) & (MEMOS / 2 - 1)) << 1 | usize::from(ip.sport < ip.dport)
    }
}

/// Counters of the inventory's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InventoryCounters {
    /// Assets evicted.
    pub assets_evicted: u32,
    /// Edges evicted.
    pub edges_evicted: u32,
    /// Peer addresses evicted.
    pub peers_evicted: u32,
    /// Strings dropped because the table was full.
    pub strings_dropped_full: u32,
    /// Strings dropped because the asset had its share.
    pub strings_dropped_cap: u32,
    /// Strings kept cut short.
    pub strings_truncated: u32,
    /// Addresses dropped (asset full).
    pub addresses_dropped: u32,
    /// Services dropped (asset full).
    pub services_dropped: u32,
    /// Facts naming no usable device.
    pub observations_ignored: u32,
    /// Per-frame change events beyond [`MAX_EVENTS`].
    pub events_dropped: u32,
}

type Assets = Table<Mac, Asset, MAX_ASSETS, { MAX_ASSETS * 2 }>;
type Strings = Table<StrKey, StrVal, MAX_STRINGS, { MAX_STRINGS * 2 }>;
type Peers = Table<PeerKey, PeerVal, MAX_PEERS, { MAX_PEERS * 2 }>;
type Edges = Table<EdgeKey, Edge, MAX_EDGES, { MAX_EDGES * 2 }>;

/// The inventory.
pub struct Inventory {
    assets: Assets,
    strings: Strings,
    peers: Peers,
    edges: Edges,
    /// Local IPv4 subnets as (network, mask) words: every frame's source is tested against them.
    subnets: heapless::Vec<(u32, u32), MAX_SUBNETS, u8>,
    prefixes6: heapless::Vec<([u8; 16], u8), MAX_PREFIXES6, u8>,
    /// What it counted.
    pub counters: InventoryCounters,
    events: heapless::Vec<Event, MAX_EVENTS, u8>,
    /// Assets whose class must be recomputed at the end of the frame.
    dirty: heapless::Vec<u16, MAX_EVENTS, u8>,
    edge_cache: [u16; EDGE_CACHE],
    mac_cache: [u16; MAC_CACHE],
    /// Addresses and local prefixes added so far (part of [`Inventory::layout`]).
    address_changes: u64,
    memo: [FrameMemo; MEMOS],
}

/// An IPv4 subnet as (network, mask) words (a prefix over 32 is taken as 32), so that testing
/// an address is one masked compare.
fn v4_net(net: &[u8; 4], prefix: u8) -> (u32, u32) {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix.min(32))).unwrap_or(0);
    (u32::from_be_bytes(*net) & mask, mask)
}

/// Whether `a` is inside the [`v4_net`] `net`.
#[inline]
fn in_v4_net(a: &[u8; 4], (net, mask): (u32, u32)) -> bool {
    u32::from_be_bytes(*a) & mask == net
}

/// Whether `a` and `b` agree on their first `bits` bits (never for a prefix longer than them).
fn prefix_match6(a: &[u8; 16], b: &[u8; 16], bits: u8) -> bool {
    if bits > 128 {
        return false;
    }
    let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
    (u128::from_be_bytes(*a) ^ u128::from_be_bytes(*b)) & mask == 0
}

impl Default for Inventory {
    fn default() -> Self {
        Self::new(0)
    }
}

impl Inventory {
    /// Empty inventory.
    pub const fn new(seed: u32) -> Self {
        Inventory {
            assets: Table::new(seed),
            strings: Table::new(seed),
            peers: Table::new(seed),
            edges: Table::new(seed),
            subnets: heapless::Vec::new(),
            prefixes6: heapless::Vec::new(),
            counters: InventoryCounters {
                assets_evicted: 0,
                edges_evicted: 0,
                peers_evicted: 0,
                strings_dropped_full: 0,
                strings_dropped_cap: 0,
                strings_truncated: 0,
                addresses_dropped: 0,
                services_dropped: 0,
                observations_ignored: 0,
                events_dropped: 0,
            },
            events: heapless::Vec::new(),
            dirty: heapless::Vec::new(),
            edge_cache: [0; EDGE_CACHE],
            mac_cache: [0; MAC_CACHE],
            address_changes: 0,
            memo: [FrameMemo::EMPTY; MEMOS],
        }
    }

    /// Declares a local IPv4 subnet (configuration); returns false when the list is full.
    pub fn add_subnet(&mut self, net: [u8; 4], prefix: u8) -> bool {
        let net = v4_net(&net, prefix);
        if self.subnets.contains(&net) {
            return true;
        }
        self.addresses_changed();
        self.subnets.push(net).is_ok()
    }

    /// Whether `ip` is on the monitored segment.
    #[inline]
    pub fn is_local(&self, ip: &IpAddr) -> bool {
        if ip.is_link_local() {
            return true;
        }
        match ip {
            IpAddr::V4(a) => {
                if self.subnets.is_empty() {
                    ip.is_private()
                } else {
                    self.subnets.iter().any(|&net| in_v4_net(a, net))
                }
            }
            IpAddr::V6(b) => {
                if self.prefixes6.is_empty() {
                    ip.is_private()
                } else {
                    self.prefixes6.iter().any(|(n, p)| prefix_match6(n, b, *p))
                }
            }
        }
    }

    /// Assets in use.
    pub fn asset_count(&self) -> usize {
        self.assets.len()
    }
    /// Live edges (edges of evicted assets excluded).
    pub fn edge_count(&self) -> usize {
        self.edges.iter().filter(|(_, k, _)| self.edge_live(k)).count()
    }
    /// Table fill figures.
    pub fn fill(&self) -> TableFill {
        let f = |a: usize, b: usize| (a.min(u16::MAX as usize) as u16, b.min(u16::MAX as usize) as u16);
        TableFill {
            assets: f(self.assets.len(), MAX_ASSETS),
            edges: f(self.edges.len(), MAX_EDGES),
            peers: f(self.peers.len(), MAX_PEERS),
            strings: f(self.strings.len(), MAX_STRINGS),
            flows: (0, 0),
        }
    }

    /// Changes made during the current frame (cleared when the next frame starts).
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    fn event(&mut self, e: Event) {
        if self.events.push(e).is_err() {
            self.counters.events_dropped += 1;
        }
    }

    /// Slot of an asset by MAC.
    pub fn find(&self, mac: &Mac) -> Option<u16> {
        self.assets.find(mac)
    }

    #[allow(clippy::modulo_one)] // One entry under test.
    fn mac_hint(mac: &Mac) -> usize {
        (mac.0[5] ^ mac.0[4].rotate_left(3)) as usize % MAC_CACHE
    }

    /// [`Inventory::find`], trying the MAC cache first (same result).
    #[inline]
    fn find_hinted(&self, mac: &Mac) -> Option<u16> {
        self.hinted(Self::mac_hint(mac), mac).or_else(|| self.assets.find(mac))
    }

    /// The slot in hint `h` if it holds `mac`.
    #[inline]
    fn hinted(&self, h: usize, mac: &Mac) -> Option<u16> {
        let hint = self.mac_cache.get(h).copied().unwrap_or(0);
        (hint != 0 && self.assets.slot(hint - 1).is_some_and(|(k, _)| k == mac)).then(|| hint - 1)
    }

    /// Forgets every cached hint (tests: results must not depend on them).
    #[cfg(test)]
    fn forget_hints(&mut self) {
        self.edge_cache = [0; EDGE_CACHE];
        self.mac_cache = [0; MAC_CACHE];
        self.memo = [FrameMemo::EMPTY; MEMOS];
    }

    /// [`Inventory::find_hinted`] that also remembers the answer.
    #[inline]
    fn find_cached(&mut self, mac: &Mac) -> Option<u16> {
        let h = Self::mac_hint(mac);
        if let Some(s) = self.hinted(h, mac) {
            return Some(s);
        }
        let found = self.assets.find(mac);
        if let (Some(s), Some(c)) = (found, self.mac_cache.get_mut(h)) {
            *c = s + 1;
        }
        found
    }

    /// The asset at `slot`.
    pub fn asset(&self, slot: u16) -> Option<&Asset> {
        self.assets.slot(slot).map(|(_, a)| a)
    }

    /// Slot of `mac`'s asset, creating it (evicting if needed). `None` for non-device MACs.
    #[inline]
    fn asset_slot(&mut self, mac: Mac, ts: u64) -> Option<u16> {
        if !mac.is_device() {
            self.counters.observations_ignored += 1;
            return None;
        }
        // The common case first: a known sender (no large value built or moved).
        if let Some(s) = self.find_cached(&mac) {
            return Some(s);
        }
        self.new_asset(mac, ts)
    }

    /// A MAC not in the table: a new asset, evicting one if the table is full.
    #[cold]
    #[inline(never)]
    fn new_asset(&mut self, mac: Mac, ts: u64) -> Option<u16> {
        let mut fresh = Asset::EMPTY;
        fresh.first_seen = ts;
        fresh.last_seen = ts;
        let slot = match self.assets.insert(mac, Asset::EMPTY) {
            Some(Inserted::Existing(s)) => return Some(s),
            Some(Inserted::New(s)) => s,
            None => {
                let (_, victim) = self.assets.evict(|_, a| second_chance(&mut a.credit))?;
                self.counters.assets_evicted += 1;
                self.free_strings_of_slot(victim);
                match self.assets.insert(mac, Asset::EMPTY)? {
                    Inserted::New(s) | Inserted::Existing(s) => s,
                }
            }
        };
        if let Some(a) = self.assets.slot_mut(slot) {
            *a = fresh;
            a.credit = 1;
        }
        self.event(Event::NewAsset { mac });
        Some(slot)
    }

    /// An evicted asset's strings: the asset is gone, its `strs` list went with it, so
    /// find them by owner (bounded by the string table size; evictions are rare).
    fn free_strings_of_slot(&mut self, slot: u16) {
        let mut victims: heapless::Vec<u16, MAX_STRINGS_PER_ASSET, u8> = heapless::Vec::new();
        for (s, k, _) in self.strings.iter() {
            if k.asset == slot && victims.push(s).is_err() {
                break;
            }
        }
        for s in victims {
            self.strings.remove_slot(s);
        }
    }

    /// Moves on with every change that may alter a known conversation's decisions
    /// ([`FrameMemo`]): a removal from the asset, peer or edge table (a slot that may now
    /// hold another entry), and an address or local prefix added. Insertions only fill free
    /// slots, so they leave the slots a memo noted alone; the one decision an insertion can
    /// change, a receiver that was not an asset, is checked apart ([`FrameMemo::assets_seen`]).
    /// One plus a sum of counters that only grow (by one per change, 64 bits: no wrap in
    /// practice), so equal means unchanged, and an empty memo (layout 0, so that a new
    /// inventory is all zeros and costs no flash) never fits.
    #[inline]
    fn layout(&self) -> u64 {
        // Wrapping: never reached (2^64 changes), but no arithmetic here may panic.
        1u64.wrapping_add(self.assets.removals())
            .wrapping_add(self.peers.removals())
            .wrapping_add(self.edges.removals())
            .wrapping_add(self.address_changes)
    }

    /// Whether memo `m` still holds: nothing it depends on changed since it was made.
    #[inline]
    fn memo_holds(&self, m: &FrameMemo) -> bool {
        m.layout == self.layout() && (m.assets_seen == 0 || m.assets_seen == self.assets.changes())
    }

    /// Notes an address or local prefix added (see [`Inventory::layout`]).
    #[inline]
    fn addresses_changed(&mut self) {
        self.address_changes = self.address_changes.wrapping_add(1);
    }

    /// A frame the asset sent (both the full and the memoised path count through here).
    #[inline]
    fn count_sent(a: &mut Asset, ctx: &FrameCtx) {
        Self::touch(a, ctx.ts);
        a.frames_tx = a.frames_tx.saturating_add(1);
        a.bytes_tx = a.bytes_tx.saturating_add(ctx.frame_len as u64);
        a.vlan = ctx.vlan;
    }

    /// A frame sent to the asset.
    #[inline]
    fn count_received(a: &mut Asset, ctx: &FrameCtx) {
        a.frames_rx = a.frames_rx.saturating_add(1);
        a.bytes_rx = a.bytes_rx.saturating_add(ctx.frame_len as u64);
    }

    fn touch(a: &mut Asset, ts: u64) {
        if ts > a.last_seen {
            a.last_seen = ts;
        }
        a.credit = if a.flags & flags::MEDICAL != 0 { 3 } else { 1 };
    }

    fn add_address(&mut self, slot: u16, ip: IpAddr) {
        if ip.is_unspecified() || ip.is_group() {
            return;
        }
        let Some(a) = self.assets.slot_mut(slot) else { return };
        // Some(pushed) for an address not held yet; None when it already was.
        let added = match ip {
            IpAddr::V4(v) if !a.v4.contains(&v) => Some(a.v4.push(v).is_ok()),
            IpAddr::V6(v) if !a.v6.contains(&v) => Some(a.v6.push(v).is_ok()),
            _ => None,
        };
        match added {
            // Only an address actually added can change a frame's decisions (who owns what).
            Some(true) => self.addresses_changed(),
            Some(false) => {
                a.dropped = a.dropped.saturating_add(1);
                self.counters.addresses_dropped += 1;
            }
            None => {}
        }
    }

    fn owns(&self, slot: u16, ip: &IpAddr) -> bool {
        self.assets.slot(slot).is_some_and(|(_, a)| holds(a, ip))
    }

    /// Keeps `text` as a string of `kind` for the asset at `slot`. Returns whether it may
    /// change the asset's class: it is new and matches a keyword list (classification looks
    /// at a string only through its list mask, so one that matches none changes nothing).
    fn add_string(&mut self, slot: u16, kind: StrKind, text: &[u8]) -> bool {
        let text = crate::dissect::util::trim_ws(text);
        if text.is_empty() {
            return false;
        }
        // Hashed in place: the copy into a `Text` is made only for a string not yet kept
        // (most are repeats).
        let kept = text.get(..STRING_LEN).unwrap_or(text);
        let mut h = Hasher::new(0);
        h.write_words(kept);
        let key = StrKey { asset: slot, kind: kind.to_u8(), hash: h.finish() };
        if self.strings.find(&key).is_some() {
            return false;
        }
        let Some((_, a)) = self.assets.slot(slot) else { return false };
        // Its strings of this kind are counted only when it has enough strings for the count
        // to matter (each is a look-up in the string table).
        let kind_full = a.strs.len() >= MAX_STRINGS_PER_KIND
            && a.strs.iter().filter(|s| self.strings.slot(**s).is_some_and(|(k, _)| k.kind == key.kind)).count()
                >= MAX_STRINGS_PER_KIND;
        if a.strs.is_full() || kind_full {
            self.counters.strings_dropped_cap += 1;
            if let Some(a) = self.assets.slot_mut(slot) {
                a.dropped = a.dropped.saturating_add(1);
            }
            return false;
        }
        let (t, cut): (Text<STRING_LEN>, bool) = text_from(text);
        let mask = classify::mask_for(kind, &t);
        let Some(Inserted::New(s)) = self.strings.insert(key, StrVal { kind, mask, text: t }) else {
            self.counters.strings_dropped_full += 1;
            if let Some(a) = self.assets.slot_mut(slot) {
                a.dropped = a.dropped.saturating_add(1);
            }
            return false;
        };
        if cut {
            self.counters.strings_truncated += 1;
        }
        if let Some(a) = self.assets.slot_mut(slot) {
            // Cannot fail: checked `is_full` above.
            let _ = a.strs.push(s);
            a.masks |= mask;
        }
        mask != 0
    }

    fn add_service(&mut self, slot: u16, transport: Transport, port: u16) {
        let Some(a) = self.assets.slot_mut(slot) else { return };
        let svc = Service { transport, port };
        if !a.services.contains(&svc) && a.services.push(svc).is_err() {
            a.dropped = a.dropped.saturating_add(1);
            self.counters.services_dropped += 1;
        }
    }

    fn speak(&mut self, slot: u16, p: Protocol) -> bool {
        match self.assets.slot_mut(slot) {
            Some(a) if !a.protocols.contains(p) => {
                a.protocols.insert(p);
                true
            }
            _ => false,
        }
    }

    /// Notes that an asset's evidence changed; its class is recomputed once, at
    /// [`Inventory::settle`] (end of frame), however many facts the frame brought.
    fn reclassify(&mut self, slot: u16) {
        if self.dirty.contains(&slot) {
            return;
        }
        if self.dirty.push(slot).is_err() {
            self.classify_now(slot);
        }
    }

    /// Recomputes the class of every asset whose evidence changed since the last call.
    pub fn settle(&mut self) {
        while let Some(slot) = self.dirty.pop() {
            self.classify_now(slot);
        }
    }

    fn classify_now(&mut self, slot: u16) {
        let Some((_, a)) = self.assets.slot(slot) else { return };
        let view = classify::AssetView { asset: a, strings: self.strings_of(a) };
        let class = classify::classify(&view).class;
        if let Some(a) = self.assets.slot_mut(slot) {
            a.class = class;
            if class.is_medical() {
                a.flags |= flags::MEDICAL;
            } else {
                a.flags &= !flags::MEDICAL;
            }
        }
    }

    fn strings_of<'a>(&'a self, a: &'a Asset) -> StringIter<'a> {
        StringIter { inv: self, slots: a.strs.iter() }
    }

    fn mac_of(&self, slot: u16) -> Mac {
        self.assets.slot(slot).map(|(m, _)| *m).unwrap_or(Mac::EMPTY)
    }

    fn edge_live(&self, k: &EdgeKey) -> bool {
        edge_live(&self.assets, &self.peers, k)
    }

    /// Slot of a peer address, creating it (evicting if needed).
    fn peer_slot(&mut self, key: PeerKey) -> Option<u16> {
        let slot = match self.peers.insert(key, PeerVal { credit: 1 }) {
            Some(Inserted::Existing(s) | Inserted::New(s)) => s,
            None => {
                self.peers.evict(|_, p| second_chance(&mut p.credit))?;
                self.counters.peers_evicted += 1;
                match self.peers.insert(key, PeerVal { credit: 1 })? {
                    Inserted::Existing(s) | Inserted::New(s) => s,
                }
            }
        };
        if let Some(p) = self.peers.slot_mut(slot) {
            p.credit = 1;
        }
        Some(slot)
    }

    #[allow(clippy::too_many_arguments, clippy::modulo_one)]
    #[inline]
    fn edge(
        &mut self,
        slot: u16,
        peer: IpAddr,
        transport: Transport,
        port: u16,
        outbound: bool,
        len: u16,
        ts: u64,
    ) -> Option<u16> {
        let secs = secs_of(ts);
        let pword = PeerKey::word(&peer);
        let agen = self.assets.generation(slot);
        let t = transport.to_u8();
        let hint_ix = (u32::from(slot).wrapping_mul(0x9e37)
            ^ u32::from(port).wrapping_mul(0x2f)
            ^ (pword as u32 & 0xffff)
            ^ u32::from(outbound)) as usize
            % EDGE_CACHE;
        let hint = self.edge_cache.get(hint_ix).copied().unwrap_or(0);
        if let Some((k, e)) = self.edges.entry_mut(hint.wrapping_sub(1)) {
            if k.asset == slot && k.agen == agen && k.port == port && k.transport == t && k.outbound == outbound {
                if let Some((pk, pv)) = self.peers.live_mut(k.peer, k.pgen) {
                    if u128::from_be_bytes(pk.0) == pword {
                        // What `peer_slot` does for a known peer.
                        pv.credit = 1;
                        e.count(len, secs);
                        return hint.checked_sub(1);
                    }
                }
            }
        }
        let s = self.edge_slow(slot, PeerKey(pword.to_be_bytes()), peer, transport, port, outbound, secs)?;
        if let Some(c) = self.edge_cache.get_mut(hint_ix) {
            *c = s + 1;
        }
        if let Some(e) = self.edges.slot_mut(s) {
            e.count(len, secs);
        }
        Some(s)
    }

    /// One more frame on the edge at `slot` (known to be live), as [`Inventory::edge`] counts
    /// it: the edge's counters and its peer's credit.
    #[inline]
    fn count_edge(&mut self, slot: u16, len: u16, secs: u32) {
        if let Some((k, e)) = self.edges.entry_mut(slot) {
            let (peer, pgen) = (k.peer, k.pgen);
            e.count(len, secs);
            if let Some((_, pv)) = self.peers.live_mut(peer, pgen) {
                pv.credit = 1;
            }
        }
    }

    /// The edge's slot through the peer and edge tables, creating both as needed.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn edge_slow(
        &mut self,
        slot: u16,
        pkey: PeerKey,
        peer: IpAddr,
        transport: Transport,
        port: u16,
        outbound: bool,
        secs: u32,
    ) -> Option<u16> {
        let p = self.peer_slot(pkey)?;
        let key = EdgeKey {
            asset: slot,
            peer: p,
            port,
            agen: self.assets.generation(slot),
            pgen: self.peers.generation(p),
            transport: transport.to_u8(),
            outbound,
        };
        let fresh = Edge { first: secs, ..Edge::EMPTY };
        // Built only for a new edge (most frames hit an existing one).
        let new_edge = |inv: &Self| Event::NewEdge { asset: inv.mac_of(slot), peer, transport, port, outbound };
        match self.edges.insert(key, fresh) {
            Some(Inserted::Existing(s)) => Some(s),
            Some(Inserted::New(s)) => {
                self.event(new_edge(self));
                Some(s)
            }
            None => {
                // Stale edges (their asset or peer was evicted) go first, then idle ones.
                let (assets, peers) = (&self.assets, &self.peers);
                let evicted = self.edges.evict(|k, e| edge_live(assets, peers, k) && second_chance(&mut e.credit));
                if evicted.is_some() {
                    self.counters.edges_evicted += 1;
                }
                let Some(Inserted::New(s)) = self.edges.insert(key, fresh) else { return None };
                self.event(new_edge(self));
                Some(s)
            }
        }
    }

    /// Per-frame accounting: assets for both MACs, addresses, edges, services.
    ///
    /// Every frame comes here, so each asset is looked up once and its fields read and
    /// written through that one reference.
    #[inline]
    fn on_frame(&mut self, ctx: &FrameCtx) {
        if let Some(ip) = ctx.ip.as_ref() {
            if self.replay_memo(ctx, ip) {
                return;
            }
        }
        self.on_frame_slow(ctx);
    }

    /// [`Inventory::on_frame`] when no memo fits: out of line, so that a memoised frame does
    /// not pay for this one's registers.
    #[inline(never)]
    fn on_frame_slow(&mut self, ctx: &FrameCtx) {
        let layout = self.layout();
        self.events.clear();
        let ip = ctx.ip.as_ref();
        let src_ip = ip.filter(|ip| !ip.src.is_unspecified());
        // A packet that still has its sender's initial TTL was not routed: its source
        // address is the sending MAC's own even outside any known subnet (public-addressed
        // segments, captures with no DHCP or ARP in them).
        // Only while no subnet is known: once one is, it is the better judge (NAT gateways
        // may forward with an initial-looking TTL).
        let src_local = src_ip
            .is_some_and(|ip| self.is_local(&ip.src) || (self.subnets.is_empty() && matches!(ip.ttl, 64 | 128 | 255)));
        let src = self.asset_slot(ctx.src_mac, ctx.ts);
        // Whether the sender holds its source address.
        let mut src_owns = false;
        if let Some(a) = src.and_then(|s| self.assets.slot_mut(s)) {
            Self::count_sent(a, ctx);
            // (Not repeated for a memoised frame: protocols are never taken from an asset.)
            if let Some(ip) = ip {
                a.protocols.insert(if matches!(ip.src, IpAddr::V4(_)) { Protocol::Ipv4 } else { Protocol::Ipv6 });
            }
            if let Some(ip) = src_ip {
                src_owns = holds(a, &ip.src);
            }
        }
        // The receiver is only counted if already known: a frame to an unseen MAC is no
        // proof that a device exists (flooded or stale destinations).
        let dst = if ctx.dst_mac.is_device() { self.find_cached(&ctx.dst_mac) } else { None };
        let mut dst_owns = false;
        if let Some(a) = dst.and_then(|d| self.assets.slot_mut(d)) {
            Self::count_received(a, ctx);
            if let Some(ip) = ip {
                dst_owns = holds(a, &ip.dst);
            }
        }
        let (Some(ip), Some(s)) = (src_ip, src) else {
            self.frame_edges(ctx, src_ip, None, dst.filter(|_| dst_owns));
            return;
        };
        if src_local && !src_owns {
            self.add_address(s, ip.src);
            src_owns = self.owns(s, &ip.src);
            if dst == Some(s) {
                // A frame to itself: the address just added may be its destination too.
                dst_owns = self.owns(s, &ip.dst);
            }
        } else if !src_local && !src_owns && !ip.src.is_group() {
            // Sending on behalf of outside addresses: a router or firewall.
            // (Set for good: a memo of this frame need not set it again.)
            self.flag_slot(s, flags::FORWARDS);
        }
        let src_owner = Some(s).filter(|_| src_local && src_owns);
        let edges = self.frame_edges(ctx, src_ip, src_owner, dst.filter(|_| dst_owns));
        // Kept for the conversation's next frame when this one removed nothing and added no
        // address (what it inserted, its next frame finds again) and its decisions hang on
        // the compared fields only.
        let opening = ip.transport == Transport::Tcp && ip.tcp_flags & tcp_flags::SYN != 0;
        if let (Some((src_edge, dst_edge, server_is_src, port)), false, true) =
            (edges, opening, self.layout() == layout)
        {
            if let Some(m) = self.memo.get_mut(FrameMemo::index(ip)) {
                *m = FrameMemo {
                    layout,
                    // At least 1 here: the sender is an asset.
                    assets_seen: if dst.is_none() && ctx.dst_mac.is_device() { self.assets.changes() } else { 0 },
                    src_mac: ctx.src_mac,
                    dst_mac: ctx.dst_mac,
                    src: ip.src,
                    dst: ip.dst,
                    transport: ip.transport,
                    sport: ip.sport,
                    dport: ip.dport,
                    ttl: ip.ttl,
                    src_slot: s,
                    dst_slot: dst,
                    src_edge,
                    dst_edge,
                    server_is_src,
                    port,
                };
            }
        }
    }

    /// [`Inventory::on_frame`] for a frame that fits a [`FrameMemo`]: the same counting, the
    /// same idempotent flag and service updates, without finding anything again. Returns
    /// false (having done nothing) when no memo fits.
    #[inline]
    fn replay_memo(&mut self, ctx: &FrameCtx, ip: &IpCtx) -> bool {
        let Some(m) = self.memo.get(FrameMemo::index(ip)) else { return false };
        if !self.memo_holds(m) || !m.fits(ctx, ip) {
            return false;
        }
        // Only what the counting needs (the memo is too big to copy whole every frame).
        let (src_slot, dst_slot, src_edge, dst_edge, server_is_src, port) =
            (m.src_slot, m.dst_slot, m.src_edge, m.dst_edge, m.server_is_src, m.port);
        self.events.clear();
        if let Some(a) = self.assets.slot_mut(src_slot) {
            Self::count_sent(a, ctx);
        }
        if let Some(a) = dst_slot.and_then(|d| self.assets.slot_mut(d)) {
            Self::count_received(a, ctx);
        }
        // The time in seconds only for a frame with an edge (most memoised frames have none).
        if let Some(e) = src_edge {
            self.count_edge(e, ctx.frame_len, secs_of(ctx.ts));
            if server_is_src && answered(ip) {
                self.add_service(src_slot, ip.transport, port);
            }
        }
        if let Some(e) = dst_edge {
            self.count_edge(e, ctx.frame_len, secs_of(ctx.ts));
        }
        true
    }

    /// The frame's edges: the sender's when it holds its source address, the receiver's
    /// when it holds the destination (both for traffic between two local assets).
    /// Returns the edges counted (the sender's, the receiver's), the server side and port;
    /// `None` when an owner got no edge (a table that could not make room).
    #[allow(clippy::type_complexity)]
    fn frame_edges(
        &mut self,
        ctx: &FrameCtx,
        ip: Option<&IpCtx>,
        src_owner: Option<u16>,
        dst_owner: Option<u16>,
    ) -> Option<(Option<u16>, Option<u16>, bool, u16)> {
        let Some(ip) = ip else { return Some((None, None, false, 0)) };
        if ip.dst.is_group() {
            // Multicast/broadcast: no edge (it is chatter, not a conversation).
            return Some((None, None, false, 0));
        }
        if src_owner.is_none() && dst_owner.is_none() {
            return Some((None, None, false, 0));
        }
        let (server_is_src, port) = ip.server_side();
        let src_edge = src_owner.map(|s| {
            let e = self.edge(s, ip.dst, ip.transport, port, !server_is_src, ctx.frame_len, ctx.ts);
            if server_is_src && answered(ip) {
                self.add_service(s, ip.transport, port);
            }
            e
        });
        // Also when sent by a router on behalf of a remote host: the edge belongs to the
        // receiver.
        let dst_edge =
            dst_owner.map(|d| self.edge(d, ip.src, ip.transport, port, server_is_src, ctx.frame_len, ctx.ts));
        match (src_edge, dst_edge) {
            (Some(None), _) | (_, Some(None)) => None,
            (s, d) => Some((s.flatten(), d.flatten(), server_is_src, port)),
        }
    }

    /// Applies one fact.
    fn on_fact(&mut self, ctx: &FrameCtx, fact: &Fact<'_>) {
        let ts = ctx.ts;
        match *fact {
            Fact::Address { mac, ip, how } => {
                let local = self.is_local(&ip);
                // An announced management address may sit on another subnet; the others are
                // on this segment by construction.
                if how == AddrEvidence::IpSource && !local {
                    return;
                }
                if let Some(s) = self.asset_slot(mac, ts) {
                    self.add_address(s, ip);
                }
            }
            Fact::Arp { .. } => {
                if let Some(s) = self.sender(ctx) {
                    self.speak(s, Protocol::Arp);
                }
            }
            Fact::Subnet { net, prefix } => {
                let _ = self.add_subnet(net, prefix);
            }
            Fact::Prefix6 { prefix, len } => {
                if len <= 128 && !self.prefixes6.iter().any(|(p, l)| *l == len && prefix_match6(p, &prefix, len)) {
                    self.addresses_changed();
                    if self.prefixes6.push((prefix, len)).is_err() {
                        self.counters.addresses_dropped += 1;
                    }
                }
            }
            Fact::Name { mac, name, source } => self.string_for(mac, ts, StrKind::Name(source), name),
            Fact::Software { mac, text, source } => self.string_for(mac, ts, StrKind::Software(source), text),
            Fact::Info { mac, field, value } => self.string_for(mac, ts, StrKind::Info(field), value),
            Fact::DhcpClient { mac, prl, .. } => {
                if let Some(s) = self.asset_slot(mac, ts) {
                    let mut changed = self.speak(s, Protocol::Dhcp);
                    if let Some(a) = self.assets.slot_mut(s) {
                        if !prl.is_empty() && a.prl.as_slice() != &prl[..prl.len().min(MAX_DHCP_PRL)] {
                            a.prl.clear();
                            let _ = a.prl.extend_from_slice(&prl[..prl.len().min(MAX_DHCP_PRL)]);
                            changed = true;
                        }
                    }
                    if changed {
                        self.reclassify(s);
                    }
                }
            }
            Fact::DhcpServer { .. } => self.flag_sender(ctx, flags::DHCP_SERVER),
            Fact::DnsQuery { name, .. } => {
                if let Some(s) = self.sender(ctx) {
                    self.add_string(s, StrKind::DnsQuery, name);
                }
            }
            Fact::DnsAddr { .. } => {
                if ctx.ip.map(|i| i.sport == 53).unwrap_or(false) {
                    self.flag_sender(ctx, flags::DNS_SERVER);
                }
            }
            Fact::DnsPtr { addr, name } => {
                // A reverse answer names whichever asset owns that address.
                if let Some(s) = self.owner_of(&addr) {
                    if self.add_string(s, StrKind::Name(NameSource::DnsPtr), name) {
                        self.reclassify(s);
                    }
                }
            }
            Fact::DnsSdService { instance, service, .. } => {
                if let Some(s) = self.sender(ctx) {
                    let mut buf = [0u8; 2 * STRING_LEN];
                    let n = join(&mut buf, instance, b'.', service);
                    let a = self.add_string(s, StrKind::DnsSdService, &buf[..n]);
                    let b = self.add_string(s, StrKind::Name(NameSource::DnsSd), instance);
                    if a || b {
                        self.reclassify(s);
                    }
                }
            }
            Fact::Capabilities { is_bridge_or_router, is_phone } => {
                let f = if is_bridge_or_router { flags::ROUTER } else { 0 } | if is_phone { flags::PHONE } else { 0 };
                self.flag_sender(ctx, f);
            }
            Fact::HttpRequest { host, .. } => {
                if let (Some(s), Some(h)) = (self.sender(ctx), host) {
                    self.add_string(s, StrKind::HttpHost, h);
                }
            }
            Fact::TlsClientHello { sni, ja4, .. } => {
                if let Some(s) = self.sender(ctx) {
                    if let Some(n) = sni {
                        self.add_string(s, StrKind::TlsSni, n);
                    }
                    self.add_string(s, StrKind::Ja4, ja4);
                }
            }
            Fact::Dicom { pdu, called_ae, calling_ae, sop_class, .. } => {
                let Some(s) = self.sender(ctx) else { return };
                match pdu {
                    DicomPdu::AssociateRq => {
                        self.speak(s, Protocol::DicomScu);
                        self.add_string(s, StrKind::DicomAeCalled, called_ae);
                        if let Some(sop) = sop_class {
                            self.add_string(s, StrKind::Info(InfoField::DicomSopClass), sop);
                        }
                        // The acceptor is on this segment too when it owns the destination.
                        if let Some(d) = self.receiver(ctx) {
                            self.speak(d, Protocol::DicomScp);
                            self.add_string(d, StrKind::Name(NameSource::DicomAe), called_ae);
                            self.add_string(d, StrKind::DicomAeCalling, calling_ae);
                            self.reclassify(d);
                        }
                    }
                    DicomPdu::AssociateAc => {
                        self.speak(s, Protocol::DicomScp);
                        self.add_string(s, StrKind::DicomAeCalling, calling_ae);
                    }
                }
                self.reclassify(s);
            }
            Fact::Hl7 {
                sending_app,
                sending_facility,
                receiving_app,
                receiving_facility,
                message_type,
                version,
                is_ack,
            } => {
                let Some(s) = self.sender(ctx) else { return };
                let mut buf = [0u8; 2 * STRING_LEN];
                if is_ack {
                    self.speak(s, Protocol::Hl7Receiver);
                    // An ACK's MSH-3/4 is the acknowledging application itself.
                    let n = join(&mut buf, sending_app, b'|', sending_facility);
                    self.add_string(s, StrKind::Hl7Sending, &buf[..n]);
                } else {
                    self.speak(s, Protocol::Hl7Sender);
                    let n = join(&mut buf, sending_app, b'|', sending_facility);
                    self.add_string(s, StrKind::Hl7Sending, &buf[..n]);
                    let n = join(&mut buf, receiving_app, b'|', receiving_facility);
                    self.add_string(s, StrKind::Hl7Receiving, &buf[..n]);
                    self.add_string(s, StrKind::Hl7MessageType, message_type);
                    if let Some(d) = self.receiver(ctx) {
                        self.speak(d, Protocol::Hl7Receiver);
                        let n = join(&mut buf, receiving_app, b'|', receiving_facility);
                        self.add_string(d, StrKind::Hl7Sending, &buf[..n]);
                        self.reclassify(d);
                    }
                }
                self.add_string(s, StrKind::Hl7Version, version);
                self.reclassify(s);
            }
            Fact::Cleartext { kind } => {
                if let Some(s) = self.sender(ctx) {
                    if let Some(a) = self.assets.slot_mut(s) {
                        a.cleartext |= 1 << (kind as u8);
                    }
                }
            }
            Fact::Speaks { protocol } => {
                if let Some(s) = self.sender(ctx) {
                    if self.speak(s, protocol) {
                        if matches!(protocol, Protocol::Stp | Protocol::Lldp | Protocol::Cdp) {
                            if let Some(a) = self.assets.slot_mut(s) {
                                a.flags |= flags::INFRA;
                            }
                        }
                        self.reclassify(s);
                    }
                }
            }
            Fact::TcpSessionEnd { .. } => {}
            Fact::Snmp { is_response, .. } => {
                if let Some(s) = self.sender(ctx) {
                    self.speak(s, Protocol::Snmp);
                    if is_response {
                        if let Some(ip) = ctx.ip {
                            self.add_service(s, Transport::Udp, ip.sport);
                        }
                    }
                }
            }
        }
    }

    fn sender(&self, ctx: &FrameCtx) -> Option<u16> {
        self.find_hinted(&ctx.src_mac)
    }

    /// The asset that owns the destination address of this frame, if it is on the segment.
    fn receiver(&self, ctx: &FrameCtx) -> Option<u16> {
        let ip = ctx.ip?;
        let d = self.find_hinted(&ctx.dst_mac)?;
        self.owns(d, &ip.dst).then_some(d)
    }

    /// The MAC of the asset that owns `ip` (a scan of the asset table: for rare events).
    pub fn owner_mac(&self, ip: &IpAddr) -> Option<Mac> {
        self.owner_of(ip).map(|s| self.mac_of(s))
    }

    fn owner_of(&self, ip: &IpAddr) -> Option<u16> {
        if !self.is_local(ip) {
            return None;
        }
        self.assets.iter().find(|(s, _, _)| self.owns(*s, ip)).map(|(s, _, _)| s)
    }

    fn flag_sender(&mut self, ctx: &FrameCtx, f: u8) {
        if let Some(s) = self.sender(ctx) {
            self.flag_slot(s, f);
        }
    }

    fn flag_slot(&mut self, s: u16, f: u8) {
        let Some(a) = self.assets.slot_mut(s) else { return };
        if a.flags & f != f {
            a.flags |= f;
            self.reclassify(s);
        }
    }

    fn string_for(&mut self, mac: Mac, ts: u64, kind: StrKind, text: &[u8]) {
        if let Some(s) = self.asset_slot(mac, ts) {
            if self.add_string(s, kind, text) {
                self.reclassify(s);
            }
        }
    }

    /// The record for the asset at `slot`.
    pub fn record(&self, slot: u16) -> Option<AssetRecord> {
        let (mac, a) = self.assets.slot(slot)?;
        let verdict = classify::classify(&classify::AssetView { asset: a, strings: self.strings_of(a) });
        let mut r = AssetRecord {
            mac: *mac,
            vlan: a.vlan,
            first_seen: a.first_seen,
            last_seen: a.last_seen,
            frames_tx: a.frames_tx,
            frames_rx: a.frames_rx,
            bytes_tx: a.bytes_tx,
            bytes_rx: a.bytes_rx,
            ipv4: heapless::Vec::new(),
            ipv6: heapless::Vec::new(),
            class: verdict.class,
            evidence: verdict.evidence_text(),
            protocols: a.protocols,
            services: heapless::Vec::new(),
            dhcp_prl: heapless::Vec::new(),
            cleartext: a.cleartext,
            strings: heapless::Vec::new(),
            dropped: a.dropped,
        };
        // The record's capacities are at least the asset's (checked in tests).
        for v in &a.v4 {
            let _ = r.ipv4.push(*v);
        }
        for v in &a.v6 {
            let _ = r.ipv6.push(*v);
        }
        for v in &a.services {
            let _ = r.services.push(*v);
        }
        let _ = r.dhcp_prl.extend_from_slice(&a.prl);
        for (kind, text, _) in self.strings_of(a) {
            let _ = r.strings.push(StrRecord { kind, text: text_from(text).0 });
        }
        Some(r)
    }

    /// Records of every asset, in slot order.
    pub fn records(&self) -> impl Iterator<Item = AssetRecord> + '_ {
        self.assets.iter().filter_map(|(s, _, _)| self.record(s))
    }

    /// Every live edge.
    pub fn edge_records(&self) -> impl Iterator<Item = EdgeRecord> + '_ {
        self.edges.iter().filter_map(|(_, k, e)| {
            if !self.edge_live(k) {
                return None;
            }
            let (mac, _) = self.assets.slot(k.asset)?;
            let (pk, _) = self.peers.slot(k.peer)?;
            let peer = IpAddr::from_bytes16(pk.0);
            Some(EdgeRecord {
                asset: *mac,
                peer,
                external: !self.is_local(&peer),
                transport: Transport::from_ip_proto(k.transport),
                port: k.port,
                direction: if k.outbound { Direction::Outbound } else { Direction::Inbound },
                frames: e.frames,
                bytes: e.bytes(),
                first_seen: e.first,
                last_seen: e.last,
            })
        })
    }
}

/// The source really answered on its port: a SYN-ACK, TCP data or UDP payload from it.
fn answered(ip: &IpCtx) -> bool {
    match ip.transport {
        Transport::Tcp => ip.tcp_flags & tcp_flags::SYN != 0 || ip.payload_len > 0,
        Transport::Udp => ip.sport != 0,
        _ => false,
    }
}

/// Writes `a SEP b` into `buf`, cut to fit. Returns the length.
fn join(buf: &mut [u8], a: &[u8], sep: u8, b: &[u8]) -> usize {
    let mut n = 0;
    for &c in a.iter().chain(core::iter::once(&sep)).chain(b.iter()) {
        let Some(slot) = buf.get_mut(n) else { break };
        *slot = c;
        n += 1;
    }
    n
}

/// Iterates an asset's strings.
pub struct StringIter<'a> {
    inv: &'a Inventory,
    slots: core::slice::Iter<'a, u16>,
}

impl<'a> Iterator for StringIter<'a> {
    type Item = (StrKind, &'a [u8], u16);
    fn next(&mut self) -> Option<Self::Item> {
        for s in self.slots.by_ref() {
            if let Some((_, v)) = self.inv.strings.slot(*s) {
                return Some((v.kind, v.text.as_slice(), v.mask));
            }
        }
        None
    }
}

impl Clone for StringIter<'_> {
    fn clone(&self) -> Self {
        StringIter { inv: self.inv, slots: self.slots.clone() }
    }
}

impl Sink for Inventory {
    fn frame(&mut self, ctx: &FrameCtx) {
        self.on_frame(ctx);
    }
    fn fact(&mut self, ctx: &FrameCtx, fact: &Fact<'_>) {
        self.on_fact(ctx, fact);
    }
    fn frame_done(&mut self, _ctx: &FrameCtx) {
        self.settle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-wise rule the word compares replaced.
    fn bytewise(a: &[u8], b: &[u8], bits: u8) -> bool {
        let full = (bits / 8) as usize;
        let rem = bits % 8;
        if full > a.len() || a[..full] != b[..full] {
            return false;
        }
        rem == 0 || a.get(full).zip(b.get(full)).is_some_and(|(x, y)| (x ^ y) & (0xffu8 << (8 - rem)) == 0)
    }

    #[test]
    fn prefix_match_agrees_with_bytewise() {
        let nets4 = [[10, 0, 0, 0], [192, 168, 1, 0], [192, 168, 1, 77], [255; 4], [0; 4]];
        let mut nets6 = [[0u8; 16]; 3];
        nets6[1][0] = 0xfe;
        nets6[1][1] = 0x80;
        nets6[2] = [0xfd; 16];
        for bits in 0..=255u8 {
            for a in &nets4 {
                for b in &nets4 {
                    assert_eq!(in_v4_net(b, v4_net(a, bits)), bytewise(a, b, bits.min(32)), "{a:?} {b:?} /{bits}");
                }
            }
            for a in &nets6 {
                for b in &nets6 {
                    assert_eq!(prefix_match6(a, b, bits), bytewise(a, b, bits), "{a:?} {b:?} /{bits}");
                }
            }
        }
    }

    /// The edge and MAC caches are hints only: an inventory that forgets them before every
    /// frame ends with the same assets, edges and counters.
    #[test]
    fn hints_do_not_change_results() {
        extern crate std;
        use std::boxed::Box;
        use std::vec::Vec;
        for cap in [
            "lan-mixed-home-office__ndpi-1kxun.pcap",
            "lan-office-teams-switch__ndpi.pcap",
            "lan-mixed-services__zeek-var-services.pcap",
            "dicom-dhcp-smb-hospital-synthetic__tapirxl.pcap",
        ] {
            let frames = crate::dissect::testutil::frames(cap);
            let (mut p1, mut p2) =
                (Box::new(crate::dissect::Pipeline::new(3)), Box::new(crate::dissect::Pipeline::new(3)));
            let (mut hinted, mut plain) = (Box::new(Inventory::new(3)), Box::new(Inventory::new(3)));
            for (ts, f) in &frames {
                p1.frame(*ts, f, &mut *hinted);
                plain.forget_hints();
                p2.frame(*ts, f, &mut *plain);
                assert_eq!(hinted.events(), plain.events(), "{cap} at {ts}");
            }
            hinted.settle();
            plain.settle();
            assert!(hinted.edge_cache.iter().any(|&h| h != 0), "{cap}: the edge cache was never used");
            assert_eq!(hinted.records().collect::<Vec<_>>(), plain.records().collect::<Vec<_>>(), "{cap}");
            assert_eq!(hinted.edge_records().collect::<Vec<_>>(), plain.edge_records().collect::<Vec<_>>(), "{cap}");
            assert_eq!(hinted.counters, plain.counters, "{cap}");
        }
    }

    /// An inventory fed a whole shared capture.
    fn replayed(cap: &str) -> std::boxed::Box<Inventory> {
        extern crate std;
        let mut p = std::boxed::Box::new(crate::dissect::Pipeline::new(0));
        let mut inv = std::boxed::Box::new(Inventory::new(0));
        for (ts, f) in &crate::dissect::testutil::frames(cap) {
            p.frame(*ts, f, &mut *inv);
        }
        inv
    }

    /// What the inventory keeps about an asset to save work stays what it would compute
    /// afresh, at the end of five captures: `masks` is the union of its strings' masks
    /// (classification skips keyword lists by it), and `class` equals a fresh classification
    /// (recomputed only when evidence that can change it arrives; a new string only when it
    /// matches a keyword list).
    #[test]
    fn kept_asset_state_is_current() {
        let (mut matched, mut classified) = (0, 0);
        for cap in [
            "lan-mixed-home-office__ndpi-1kxun.pcap",
            "lan-apple-iphone-imac__ndpi.pcap",
            "lan-campus-printer-browse__zeek-wikipedia.pcap",
            "dicom-dhcp-smb-hospital-synthetic__tapirxl.pcap",
            "lan-mixed-services__zeek-var-services.pcap",
        ] {
            let inv = replayed(cap);
            for (_, mac, a) in inv.assets.iter() {
                let union = inv.strings_of(a).fold(0, |m, (_, _, mask)| m | mask);
                assert_eq!(a.masks, union, "{cap}: {mac}");
                let fresh = classify::classify(&classify::AssetView { asset: a, strings: inv.strings_of(a) }).class;
                assert_eq!(a.class, fresh, "{cap}: {mac}");
                matched += usize::from(union != 0);
                classified += usize::from(fresh != DeviceClass::Unknown);
            }
        }
        assert!(matched > 0 && classified > 10, "too few matched or classified assets for the test to mean much");
    }

    /// Edges that differ only in direction, transport, port or peer, one after another:
    /// each hint must be rejected by the field that differs.
    #[test]
    fn hints_keep_edges_apart_that_differ_in_one_field() {
        extern crate std;
        use std::boxed::Box;
        use std::vec::Vec;
        let a = Mac([2, 0, 0, 0, 0, 1]);
        // Never a sender, so not an asset: every edge is the sender's.
        let gw = Mac([2, 0, 0, 0, 0, 9]);
        let (mut hinted, mut plain) = (Box::new(Inventory::new(0)), Box::new(Inventory::new(0)));
        let mut n = 0u64;
        for round in 0..4u16 {
            // Gray code over (peer, port, transport, direction): consecutive frames differ
            // in exactly one of them.
            for i in 0..16u16 {
                let g = i ^ (i >> 1);
                let peer = if g & 8 == 0 { [10, 0, 0, 2] } else { [10, 0, 0, 3] };
                let port = if g & 4 == 0 { 80 } else { 81 };
                let transport = if g & 2 == 0 { Transport::Udp } else { Transport::Tcp };
                // Client to `port`, or server on `port`.
                let (sport, dport) = if g & 1 == 0 { (5000, port) } else { (port, 5000) };
                n += 1;
                let ip = IpCtx {
                    src: IpAddr::V4([10, 0, 0, 1]),
                    dst: IpAddr::V4(peer),
                    transport,
                    sport,
                    dport,
                    tcp_flags: if transport == Transport::Tcp { tcp_flags::ACK } else { 0 },
                    payload_len: round,
                    ttl: 64,
                };
                let ctx = FrameCtx {
                    ts: n * 1_000_000,
                    frame_len: 60 + round,
                    src_mac: a,
                    dst_mac: gw,
                    vlan: None,
                    ip: Some(ip),
                };
                hinted.frame(&ctx);
                hinted.frame_done(&ctx);
                plain.forget_hints();
                plain.frame(&ctx);
                plain.frame_done(&ctx);
            }
        }
        let edges = hinted.edge_records().collect::<Vec<_>>();
        assert_eq!(edges.len(), 16, "2 peers x 2 ports x 2 transports x 2 directions");
        assert_eq!(edges, plain.edge_records().collect::<Vec<_>>());
        assert!(edges.iter().all(|e| e.frames == 4), "{edges:?}");
    }

    /// One frame or fact of a generated sequence (memo tests).
    #[derive(Clone, Debug)]
    enum Step {
        Frame {
            src: usize,
            dst: usize,
            sip: usize,
            dip: usize,
            tcp: bool,
            sport: u16,
            dport: u16,
            flags: u8,
            len: u16,
            ttl: u8,
        },
        Address {
            mac: usize,
            ip: usize,
        },
        /// A name for the device (makes it an asset without giving it an address).
        Name {
            mac: usize,
        },
        Subnet,
    }

    impl Step {
        /// A TCP frame `src` -> `dst` with the given ports and flags (ACK+PSH: a data segment).
        #[allow(clippy::too_many_arguments)]
        fn tcp(src: usize, dst: usize, sip: usize, dip: usize, sport: u16, dport: u16, flags: u8, ttl: u8) -> Step {
            Step::Frame { src, dst, sip, dip, tcp: true, sport, dport, flags, len: 1, ttl }
        }
    }

    const MACS: [Mac; 5] = [
        Mac([2, 0, 0, 0, 0, 1]),
        Mac([2, 0, 0, 0, 0, 2]),
        Mac([0x3c, 0, 0, 0, 0, 3]),
        Mac([0xff; 6]),
        Mac([1, 0, 0x5e, 0, 0, 0xfb]),
    ];
    const IPS: [IpAddr; 7] = [
        IpAddr::V4([10, 0, 0, 1]),
        IpAddr::V4([10, 0, 0, 2]),
        IpAddr::V4([192, 168, 7, 9]),
        IpAddr::V4([8, 8, 8, 8]),
        IpAddr::V4([0; 4]),
        IpAddr::V4([224, 0, 0, 251]),
        IpAddr::V6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
    ];
    const PORTS: [u16; 4] = [53, 80, 5000, 40000];

    /// Runs `steps` through an inventory that keeps its hints and frame memos and one that
    /// forgets them before every frame; both must agree on everything.
    fn memo_agrees(steps: &[Step]) -> u32 {
        extern crate std;
        use std::boxed::Box;
        use std::vec::Vec;
        let (mut memo, mut plain) = (Box::new(Inventory::new(1)), Box::new(Inventory::new(1)));
        let mut hits = 0;
        for (n, step) in steps.iter().enumerate() {
            let ts = n as u64 * 700_000;
            let ctx = |src: usize, dst: usize, ip: Option<IpCtx>, len: u16| FrameCtx {
                ts,
                frame_len: len,
                src_mac: MACS[src % MACS.len()],
                dst_mac: MACS[dst % MACS.len()],
                vlan: None,
                ip,
            };
            match *step {
                Step::Frame { src, dst, sip, dip, tcp, sport, dport, flags, len, ttl } => {
                    let ip = IpCtx {
                        src: IPS[sip % IPS.len()],
                        dst: IPS[dip % IPS.len()],
                        transport: if tcp { Transport::Tcp } else { Transport::Udp },
                        sport,
                        dport,
                        tcp_flags: if tcp { flags } else { 0 },
                        payload_len: len % 3,
                        ttl,
                    };
                    let c = ctx(src, dst, Some(ip), 60 + len);
                    let fits = memo.memo.iter().any(|m| memo.memo_holds(m) && m.fits(&c, &ip));
                    hits += u32::from(fits);
                    memo.frame(&c);
                    memo.frame_done(&c);
                    plain.forget_hints();
                    plain.frame(&c);
                    plain.frame_done(&c);
                }
                Step::Address { mac, ip } => {
                    let c = ctx(mac, 3, None, 60);
                    let f =
                        Fact::Address { mac: MACS[mac % MACS.len()], ip: IPS[ip % IPS.len()], how: AddrEvidence::Arp };
                    memo.fact(&c, &f);
                    plain.fact(&c, &f);
                }
                Step::Name { mac } => {
                    let c = ctx(mac, 3, None, 60);
                    let f = Fact::Name { mac: MACS[mac % MACS.len()], name: b"device", source: NameSource::Dhcp };
                    memo.fact(&c, &f);
                    plain.fact(&c, &f);
                }
                Step::Subnet => {
                    assert_eq!(memo.add_subnet([10, 0, 0, 0], 24), plain.add_subnet([10, 0, 0, 0], 24));
                }
            }
            assert_eq!(memo.events(), plain.events(), "step {n}: {step:?}");
        }
        memo.settle();
        plain.settle();
        assert_eq!(memo.records().collect::<Vec<_>>(), plain.records().collect::<Vec<_>>());
        assert_eq!(memo.edge_records().collect::<Vec<_>>(), plain.edge_records().collect::<Vec<_>>());
        assert_eq!(memo.counters, plain.counters);
        hits
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        // Mostly frames of few conversations (so memos are made and used), now and then an
        // address, a subnet, a SYN, a group or unspecified address in between.
        let frame = (0..5usize, 0..5usize, 0..7usize, 0..7usize, any::<bool>(), 0..4usize, 0..4usize, 0..4u8, 0..40u16)
            .prop_map(|(src, dst, sip, dip, tcp, sport, dport, f, len)| Step::Frame {
                src,
                dst,
                sip,
                dip,
                tcp,
                sport: PORTS[sport],
                dport: PORTS[dport],
                flags: [
                    tcp_flags::ACK,
                    tcp_flags::SYN,
                    tcp_flags::SYN | tcp_flags::ACK,
                    tcp_flags::ACK | tcp_flags::PSH,
                ][f as usize],
                len,
                ttl: if len % 5 == 0 { 63 } else { 64 },
            });
        prop_oneof![
            12 => frame,
            1 => (0..5usize, 0..7usize).prop_map(|(mac, ip)| Step::Address { mac, ip }),
            1 => (0..5usize).prop_map(|mac| Step::Name { mac }),
            1 => Just(Step::Subnet),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Frame memos never change a result, whatever frames, addresses and subnets come in
        /// between (and frames repeat often enough that memos are used).
        #[test]
        fn frame_memos_do_not_change_results(
            base in proptest::collection::vec(step(), 1..40),
            repeats in proptest::collection::vec((0usize..40, 1usize..6), 0..30),
        ) {
            // Each chosen step again a few times in a row: conversations in bursts.
            let mut steps = base.clone();
            for (i, k) in repeats {
                if let Some(s) = base.get(i % base.len()) {
                    steps.extend(core::iter::repeat_n(s.clone(), k));
                }
            }
            memo_agrees(&steps);
        }
    }

    /// Assets, peers and edges evicted while conversations keep their memos: a memo made
    /// before an eviction must never be used after it.
    #[test]
    fn frame_memos_survive_evictions() {
        extern crate std;
        use std::boxed::Box;
        use std::vec::Vec;
        let (mut memo, mut plain) = (Box::new(Inventory::new(2)), Box::new(Inventory::new(2)));
        let mut hits = 0u32;
        let mut n = 0u64;
        for i in 0..14_000u32 {
            // A steady conversation between two assets, and a stream of new devices, peers
            // and ports that fills every table.
            // (Each new device's frames void the memos; the steady conversation then makes
            // them again and uses them.)
            for k in 0..4u32 {
                let (src, dst, sip, dip, sport) = if k > 0 {
                    (Mac([2, 0, 0, 0, 0, 1]), Mac([2, 0, 0, 0, 0, 2]), [10, 0, 0, 1], [10, 0, 0, 2], 40000)
                } else {
                    let m = i % 1501;
                    let src = Mac([2, 1, 0, 0, (m >> 8) as u8, m as u8]);
                    (
                        src,
                        Mac([2, 0, 0, 0, 0, 2]),
                        [10, 1, (m >> 8) as u8, m as u8],
                        [10, 2, (i >> 8) as u8, i as u8],
                        1024 + (i % 7) as u16,
                    )
                };
                for reply in [false, true] {
                    n += 1;
                    let (sm, dm, si, di, sp, dp) =
                        if reply { (dst, src, dip, sip, 80, sport) } else { (src, dst, sip, dip, sport, 80) };
                    let ip = IpCtx {
                        src: IpAddr::V4(si),
                        dst: IpAddr::V4(di),
                        transport: Transport::Tcp,
                        sport: sp,
                        dport: dp,
                        tcp_flags: tcp_flags::ACK,
                        payload_len: 1,
                        ttl: 64,
                    };
                    let ctx =
                        FrameCtx { ts: n * 1000, frame_len: 100, src_mac: sm, dst_mac: dm, vlan: None, ip: Some(ip) };
                    hits += u32::from(memo.memo.iter().any(|m| memo.memo_holds(m) && m.fits(&ctx, &ip)));
                    memo.frame(&ctx);
                    memo.frame_done(&ctx);
                    plain.forget_hints();
                    plain.frame(&ctx);
                    plain.frame_done(&ctx);
                }
            }
        }
        let c = memo.counters;
        assert!(c.assets_evicted > 0 && c.peers_evicted > 0 && c.edges_evicted > 0, "{c:?}");
        assert!(hits > 100, "memos were not used ({hits})");
        assert_eq!(memo.records().collect::<Vec<_>>(), plain.records().collect::<Vec<_>>());
        assert_eq!(memo.edge_records().collect::<Vec<_>>(), plain.edge_records().collect::<Vec<_>>());
        assert_eq!(memo.counters, plain.counters);
    }

    /// The generated sequences do use memos (else the property above proves nothing).
    #[test]
    fn frame_memo_sequences_use_memos() {
        let f = Step::tcp(0, 1, 0, 1, 40000, 80, tcp_flags::ACK, 64);
        let r = Step::tcp(1, 0, 1, 0, 80, 40000, tcp_flags::ACK, 64);
        // New assets and addresses first (no memo), then memos made, then used; a subnet
        // voids them, and they are made and used again.
        let steps = [&f, &r, &f, &r, &f, &r, &Step::Subnet, &f, &r, &f, &r].map(Step::clone);
        assert_eq!(memo_agrees(&steps), 4);
    }

    /// Cases where a stale or careless memo would count differently, each repeated so that
    /// memos are made and offered.
    #[test]
    fn frame_memos_keep_decisions_that_hang_on_more_than_the_key() {
        extern crate std;
        use std::vec::Vec;
        let ack = tcp_flags::ACK | tcp_flags::PSH;
        let thrice = |s: Step| [s.clone(), s.clone(), s];
        // A server that answers on more services than an asset keeps: every answer on the
        // ninth is counted as dropped again.
        let mut full = Vec::new();
        for port in [21, 22, 23, 25, 53, 80, 110, 143, 443] {
            full.extend(thrice(Step::tcp(1, 0, 1, 0, port, 40000, ack, 64)));
        }
        assert!(memo_agrees(&full) > 0);
        // A public source address with the sender's initial TTL (local while no subnet is
        // known), then the same conversation with a routed TTL.
        let mut ttl = Vec::new();
        for t in [64, 63, 64, 63] {
            ttl.extend(thrice(Step::tcp(0, 1, 3, 1, 40000, 80, ack, t)));
        }
        assert!(memo_agrees(&ttl) > 0);
        // An opening from a well-known port: its flags, not its ports, say who serves.
        let mut syn = Vec::new();
        syn.extend(thrice(Step::tcp(0, 1, 0, 1, 80, 40000, tcp_flags::SYN, 64)));
        syn.extend(thrice(Step::tcp(0, 1, 0, 1, 80, 40000, ack, 64)));
        syn.extend(thrice(Step::tcp(0, 1, 0, 1, 80, 40000, tcp_flags::SYN, 64)));
        assert!(memo_agrees(&syn) > 0);
        // Frames to a MAC that is not an asset yet, then a fact makes it one.
        let mut late = Vec::new();
        late.extend(thrice(Step::tcp(0, 2, 0, 1, 40000, 80, ack, 64)));
        late.push(Step::Name { mac: 2 });
        late.extend(thrice(Step::tcp(0, 2, 0, 1, 40000, 80, ack, 64)));
        assert!(memo_agrees(&late) > 0);
        // The same addresses and ports through another receiving MAC.
        let mut via = std::vec![Step::Name { mac: 1 }, Step::Address { mac: 1, ip: 1 }];
        for dst in [1, 2, 1, 2] {
            via.extend(thrice(Step::tcp(0, dst, 0, 1, 40000, 80, ack, 64)));
        }
        assert!(memo_agrees(&via) > 0);
    }

    /// A memoised conversation's edges evicted (CLOCK) by a stream of new edges between the
    /// same two assets, so no asset, peer or address changes: the memo must not count into
    /// the slots its edges had.
    #[test]
    fn frame_memos_see_live_edges_evicted() {
        extern crate std;
        let ack = tcp_flags::ACK | tcp_flags::PSH;
        let steady = Step::tcp(0, 1, 0, 1, 40001, 80, ack, 64);
        // The receiver is an asset that owns its address, so each frame counts two edges.
        let mut steps = std::vec![Step::Name { mac: 1 }, Step::Address { mac: 1, ip: 1 }];
        steps.extend([steady.clone(), steady.clone(), steady.clone()]);
        // Two new edges a frame (the server's and the client's): more than the table holds.
        // (The lower port serves; these frames use the other memo entry than `steady`.)
        for p in 0..(MAX_EDGES as u16 / 2 + 500) {
            steps.push(Step::tcp(0, 1, 0, 1, 1024 + p, 60000, ack, 64));
        }
        steps.extend([steady.clone(), steady.clone(), steady]);
        assert!(memo_agrees(&steps) > 0);
    }

    #[test]
    fn peer_word_is_the_key_bytes() {
        for ip in [
            IpAddr::V4([10, 0, 0, 1]),
            IpAddr::V4([255, 255, 255, 255]),
            IpAddr::V4([0; 4]),
            IpAddr::V6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            IpAddr::V6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]),
        ] {
            assert_eq!(PeerKey::word(&ip).to_be_bytes(), ip.to_bytes16(), "{ip:?}");
        }
    }
}
