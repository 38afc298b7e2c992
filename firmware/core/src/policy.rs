//! The outbound policy: what people allow (rules from the policy file), what the tap learned
//! (the baseline), and the one decision function that weighs both.
//!
//! Learning: while the tap learns, every device's normal communication goes into the
//! baseline — external destinations (IPv4 /24 or IPv6 /48 prefix, port, transport), DNS
//! names looked up and TLS SNIs, internal peers and ports, services offered, and the device
//! itself. Once locked, [`Policy::decide`] says whether something is allowed and why.
//! The baseline is bounded; entries that did not fit are counted (they will show up as
//! alerts after locking, never silently allowed).

use crate::config::{MAX_BASELINE, MAX_POLICY_RULES};
use crate::table::{Hasher, Inserted, Table, TableKey, TableValue};
use wardtap_proto::{Allow, DeviceClass, IpAddr, Mac, PolicyRule, Scope, Transport};

/// Where the tap is in its learn-then-lock life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Mode {
    /// No learning was asked for: only context-free checks run (cleartext, scans, failed
    /// logins, spoofing, inbound remote access, medical devices on the internet).
    Observe,
    /// Learning for `secs` seconds of capture time from the first frame after the request.
    LearnFor {
        /// Duration.
        secs: u32,
    },
    /// Learning until the capture time `until` (µs).
    Learning {
        /// End of learning, µs since the epoch.
        until: u64,
    },
    /// Locked: baseline and policy decide.
    Locked,
}

impl Mode {
    /// Stable 9-byte form for flash: a tag then a big-endian u64 argument.
    pub fn encode(&self) -> [u8; 9] {
        let (tag, arg) = match *self {
            Mode::Observe => (0u8, 0u64),
            Mode::LearnFor { secs } => (1, secs as u64),
            Mode::Learning { until } => (2, until),
            Mode::Locked => (3, 0),
        };
        let mut b = [0u8; 9];
        b[0] = tag;
        b[1..].copy_from_slice(&arg.to_be_bytes());
        b
    }

    /// Inverse of [`Mode::encode`]; `None` for bytes it never writes.
    pub fn decode(b: &[u8; 9]) -> Option<Mode> {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[1..]);
        let arg = u64::from_be_bytes(a);
        match b[0] {
            0 => Some(Mode::Observe),
            1 => u32::try_from(arg).ok().map(|secs| Mode::LearnFor { secs }),
            2 => Some(Mode::Learning { until: arg }),
            3 => Some(Mode::Locked),
            _ => None,
        }
    }
}

/// What kind of thing a baseline entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Learned {
    /// The device exists.
    Device = 0,
    /// External destination prefix + port + transport.
    External = 1,
    /// A DNS name or TLS SNI it looked up (hash).
    Name = 2,
    /// An internal peer + port + transport.
    Internal = 3,
    /// A service it offers (port + transport).
    Service = 4,
}

/// A baseline entry: device, kind, transport, port and 8 bytes of "what" (a prefix or a hash).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct BaseKey {
    mac: [u8; 6],
    kind: u8,
    transport: u8,
    port: u16,
    what: [u8; 8],
}

impl TableKey for BaseKey {
    const EMPTY: Self = BaseKey { mac: [0; 6], kind: 0, transport: 0, port: 0, what: [0; 8] };
    // Placement only (never results): four words, each mixed in, instead of 18 byte steps.
    fn hash(&self, h: &mut Hasher) {
        let (m, w) = (self.mac, self.what);
        let mut x = mix32(u32::from_le_bytes([w[4], w[5], w[6], w[7]]));
        x = mix32(x ^ u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        x = mix32(x ^ u32::from_le_bytes([m[4], m[5], self.kind, self.transport]) ^ (self.port as u32) << 8);
        h.write_u32(mix32(x ^ u32::from_le_bytes([m[0], m[1], m[2], m[3]])));
    }
}

/// A 32-bit mixer (every input bit reaches every output bit): placement fed a word at a
/// time stays as even as byte-wise FNV, whose multiply never carries high bits down.
fn mix32(x: u32) -> u32 {
    let x = (x ^ (x >> 16)).wrapping_mul(0x7feb_352d);
    let x = (x ^ (x >> 15)).wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

#[derive(Clone, Copy, Debug)]
struct Unit;

impl TableValue for Unit {
    const EMPTY: Self = Unit;
}

/// Why something was allowed, or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Verdict {
    /// A policy rule allows it (index into the rules).
    Policy(u16),
    /// The baseline has it.
    Baseline,
    /// Neither.
    Unexpected,
}

impl Verdict {
    /// Allowed by either input.
    pub fn allowed(self) -> bool {
        !matches!(self, Verdict::Unexpected)
    }
}

/// The question asked of [`Policy::decide`].
#[derive(Clone, Copy, Debug)]
pub struct Question<'a> {
    /// The device.
    pub mac: Mac,
    /// Its class now.
    pub class: DeviceClass,
    /// What it does.
    pub what: Subject<'a>,
}

/// What a device does that needs a decision.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    /// Reaches an external endpoint; `name` is the DNS name or SNI that led there, if known.
    External {
        /// Endpoint.
        peer: IpAddr,
        /// Transport.
        transport: Transport,
        /// Port.
        port: u16,
        /// Name that led there.
        name: Option<&'a [u8]>,
    },
    /// Looks up a DNS name.
    Lookup {
        /// The name.
        name: &'a [u8],
    },
    /// Exists (new device check).
    Device,
}

/// Baseline counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicyCounters {
    /// Entries learned.
    pub baseline_entries: u32,
    /// Entries that did not fit.
    pub baseline_full: u32,
    /// Rules refused because the rule table was full.
    pub rules_refused: u32,
}

type Baseline = Table<BaseKey, Unit, MAX_BASELINE, { MAX_BASELINE * 2 }>;

/// Policy rules, the baseline and the learning mode.
pub struct Policy {
    rules: heapless::Vec<PolicyRule, MAX_POLICY_RULES, u8>,
    baseline: Baseline,
    mode: Mode,
    /// Whether `mode` learns (so [`Policy::tick`] may have work): a byte tested per frame
    /// instead of the mode matched. False in a new policy (observing), so it starts all zeros.
    learning: bool,
    /// Counters.
    pub counters: PolicyCounters,
}

/// The prefix kept for an external destination: /24 for IPv4, /48 for IPv6 (cloud services
/// move within their ranges; a new range is worth a look).
fn dest_prefix(ip: &IpAddr) -> [u8; 8] {
    match ip {
        IpAddr::V4(a) => [4, a[0], a[1], a[2], 0, 0, 0, 0],
        IpAddr::V6(b) => [6, b[0], b[1], b[2], b[3], b[4], b[5], 0],
    }
}

fn name_hash(name: &[u8]) -> [u8; 8] {
    let name = name.strip_suffix(b".").unwrap_or(name);
    let mut h1 = Hasher::new(1);
    let mut h2 = Hasher::new(2);
    for c in name {
        let c = c.to_ascii_lowercase();
        h1.write(&[c]);
        h2.write(&[c]);
    }
    let (a, b) = (h1.finish().to_le_bytes(), h2.finish().to_le_bytes());
    [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
}

fn ip_hash(ip: &IpAddr) -> [u8; 8] {
    let b = ip.to_bytes16();
    let mut h1 = Hasher::new(3);
    let mut h2 = Hasher::new(4);
    h1.write(&b);
    h2.write(&b);
    let (a, c) = (h1.finish().to_le_bytes(), h2.finish().to_le_bytes());
    [a[0], a[1], a[2], a[3], c[0], c[1], c[2], c[3]]
}

/// `pattern` matches `name`: exact, or `*.suffix` for any name strictly below `suffix`.
/// ASCII case-insensitive; a trailing dot on either is ignored.
pub fn domain_matches(pattern: &[u8], name: &[u8]) -> bool {
    let p = pattern.strip_suffix(b".").unwrap_or(pattern);
    let n = name.strip_suffix(b".").unwrap_or(name);
    match p.strip_prefix(b"*.") {
        Some(suffix) => {
            n.len() > suffix.len() + 1
                && n[n.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                && n[n.len() - suffix.len() - 1] == b'.'
        }
        None => p.eq_ignore_ascii_case(n),
    }
}

fn prefix_match(net: &[u8; 16], ip: &[u8; 16], bits: u8) -> bool {
    let bits = bits.min(128);
    let full = (bits / 8) as usize;
    if net[..full] != ip[..full] {
        return false;
    }
    let rem = bits % 8;
    rem == 0 || (net.get(full).zip(ip.get(full)).is_some_and(|(a, b)| (a ^ b) & (0xffu8 << (8 - rem)) == 0))
}

impl Policy {
    /// No rules, empty baseline, observing.
    pub const fn new(seed: u32) -> Self {
        Policy {
            rules: heapless::Vec::new(),
            baseline: Table::new(seed),
            mode: Mode::Observe,
            learning: false,
            counters: PolicyCounters { baseline_entries: 0, baseline_full: 0, rules_refused: 0 },
        }
    }

    /// Current mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Starts (or restarts) learning for `secs` of capture time, from the next frame.
    pub fn learn_for(&mut self, secs: u32) {
        self.set_mode(Mode::LearnFor { secs });
    }

    /// Locks now: from here on baseline and policy decide.
    pub fn lock(&mut self) {
        self.set_mode(Mode::Locked);
    }

    /// Advances the mode with capture time (called once per frame).
    #[inline]
    pub fn tick(&mut self, ts: u64) {
        if !self.learning {
            return;
        }
        match self.mode {
            Mode::LearnFor { secs } => {
                self.set_mode(Mode::Learning { until: ts.saturating_add(secs as u64 * 1_000_000) })
            }
            Mode::Learning { until } if ts >= until => self.set_mode(Mode::Locked),
            _ => {}
        }
    }

    /// Whether the baseline is being recorded.
    pub fn learning(&self) -> bool {
        self.learning
    }

    /// Whether baseline-dependent judgements apply.
    pub fn locked(&self) -> bool {
        self.mode == Mode::Locked
    }

    /// Replaces the rules. Rules beyond the capacity are refused and counted; returns how
    /// many were taken.
    pub fn set_rules(&mut self, rules: &[PolicyRule]) -> usize {
        self.rules.clear();
        for r in rules {
            if self.rules.push(r.clone()).is_err() {
                self.counters.rules_refused += 1;
            }
        }
        self.rules.len()
    }

    /// The rules in force.
    pub fn rules(&self) -> &[PolicyRule] {
        &self.rules
    }

    /// Entries in the baseline.
    pub fn baseline_len(&self) -> usize {
        self.baseline.len()
    }

    fn key(mac: Mac, kind: Learned, transport: Transport, port: u16, what: [u8; 8]) -> BaseKey {
        BaseKey { mac: mac.0, kind: kind as u8, transport: transport.to_u8(), port, what }
    }

    fn learn_key(&mut self, k: BaseKey) {
        match self.baseline.insert(k, Unit) {
            Some(Inserted::New(_)) => self.counters.baseline_entries += 1,
            Some(Inserted::Existing(_)) => {}
            None => self.counters.baseline_full += 1,
        }
    }

    /// Records what a device did, if learning. The test is inline: outside learning (most
    /// of the time) the caller neither builds the entry nor calls anything.
    #[inline]
    pub fn learn(&mut self, mac: Mac, what: Learn<'_>) {
        if self.learning {
            self.record(mac, what);
        }
    }

    #[inline(never)]
    fn record(&mut self, mac: Mac, what: Learn<'_>) {
        let k = match what {
            Learn::Device => Self::key(mac, Learned::Device, Transport::Other(0), 0, [0; 8]),
            Learn::External { peer, transport, port } => {
                Self::key(mac, Learned::External, transport, port, dest_prefix(&peer))
            }
            Learn::Name(n) => Self::key(mac, Learned::Name, Transport::Other(0), 0, name_hash(n)),
            Learn::Internal { peer, transport, port } => {
                Self::key(mac, Learned::Internal, transport, port, ip_hash(&peer))
            }
            Learn::Service { transport, port } => Self::key(mac, Learned::Service, transport, port, [0; 8]),
        };
        self.learn_key(k);
    }

    /// Every baseline entry, for saving across power cuts (see [`BaselineEntry`]).
    pub fn baseline_export(&self) -> impl Iterator<Item = BaselineEntry> + '_ {
        self.baseline.iter().map(|(_, k, _)| BaselineEntry::from_key(k))
    }

    /// Puts back one saved entry (whatever the mode). Returns false when the baseline is full
    /// (counted) or the entry is not one this build writes.
    pub fn baseline_import(&mut self, e: &BaselineEntry) -> bool {
        let Some(k) = e.to_key() else { return false };
        match self.baseline.insert(k, Unit) {
            Some(Inserted::New(_)) => {
                self.counters.baseline_entries += 1;
                true
            }
            Some(Inserted::Existing(_)) => true,
            None => {
                self.counters.baseline_full += 1;
                false
            }
        }
    }

    /// Restores a saved mode (a learning window keeps its original end).
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
        self.learning = matches!(mode, Mode::Learning { .. } | Mode::LearnFor { .. });
    }

    fn has(&self, k: &BaseKey) -> bool {
        self.baseline.find(k).is_some()
    }

    /// The single decision: is this allowed by a policy rule, by the baseline, or neither?
    /// Rules are checked first, so a reader sees the rule that allowed something.
    pub fn decide(&self, q: &Question<'_>) -> Verdict {
        for (i, rule) in self.rules.iter().enumerate() {
            let in_scope = match rule.scope {
                Scope::Any => true,
                Scope::Class(c) => c == q.class,
                Scope::Mac(m) => m == q.mac,
            };
            if !in_scope {
                continue;
            }
            let ok = match (&rule.allow, q.what) {
                (Allow::Network { addr, prefix }, Subject::External { peer, .. }) => {
                    prefix_match(addr, &peer.to_bytes16(), *prefix)
                }
                (Allow::Domain(d), Subject::External { name: Some(n), .. }) => domain_matches(d, n),
                (Allow::Domain(d), Subject::Lookup { name }) => domain_matches(d, name),
                (Allow::Port { transport, port }, Subject::External { transport: t, port: p, .. }) => {
                    *transport == t && *port == p
                }
                _ => false,
            };
            if ok {
                return Verdict::Policy(i as u16);
            }
        }
        let learned = match q.what {
            Subject::External { peer, transport, port, name } => {
                self.has(&Self::key(q.mac, Learned::External, transport, port, dest_prefix(&peer)))
                    || name.is_some_and(|n| {
                        self.has(&Self::key(q.mac, Learned::Name, Transport::Other(0), 0, name_hash(n)))
                    })
            }
            Subject::Lookup { name } => {
                self.has(&Self::key(q.mac, Learned::Name, Transport::Other(0), 0, name_hash(name)))
            }
            Subject::Device => self.has(&Self::key(q.mac, Learned::Device, Transport::Other(0), 0, [0; 8])),
        };
        if learned {
            Verdict::Baseline
        } else {
            Verdict::Unexpected
        }
    }
}

/// One baseline entry in a stable 18-byte form, for flash: device MAC (6), kind (1),
/// transport (1), port (2, big-endian), what (8: a destination prefix or a name/peer hash).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BaselineEntry(pub [u8; BaselineEntry::LEN]);

impl BaselineEntry {
    /// Encoded length.
    pub const LEN: usize = 18;

    fn from_key(k: &BaseKey) -> Self {
        let mut b = [0u8; Self::LEN];
        b[..6].copy_from_slice(&k.mac);
        b[6] = k.kind;
        b[7] = k.transport;
        b[8..10].copy_from_slice(&k.port.to_be_bytes());
        b[10..].copy_from_slice(&k.what);
        BaselineEntry(b)
    }

    fn to_key(self) -> Option<BaseKey> {
        let b = self.0;
        if b[6] > Learned::Service as u8 {
            return None;
        }
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&b[..6]);
        let mut what = [0u8; 8];
        what.copy_from_slice(&b[10..]);
        Some(BaseKey { mac, kind: b[6], transport: b[7], port: u16::from_be_bytes([b[8], b[9]]), what })
    }
}

/// What [`Policy::learn`] records.
#[derive(Clone, Copy, Debug)]
pub enum Learn<'a> {
    /// The device exists.
    Device,
    /// It reached an external destination.
    External {
        /// Endpoint.
        peer: IpAddr,
        /// Transport.
        transport: Transport,
        /// Port.
        port: u16,
    },
    /// It looked up a name (DNS) or asked for one (SNI).
    Name(&'a [u8]),
    /// It talked to an internal peer.
    Internal {
        /// Peer.
        peer: IpAddr,
        /// Transport.
        transport: Transport,
        /// Port.
        port: u16,
    },
    /// It offers a service.
    Service {
        /// Transport.
        transport: Transport,
        /// Port.
        port: u16,
    },
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::boxed::Box;
    use wardtap_proto::{text_from, DeviceClass};

    const PUMP: Mac = Mac([0x00, 0x10, 0x20, 0x30, 0x40, 0x50]);

    fn ext(a: [u8; 4], port: u16, name: Option<&[u8]>) -> Subject<'_> {
        Subject::External { peer: IpAddr::V4(a), transport: Transport::Tcp, port, name }
    }

    #[test]
    fn wildcard_domains() {
        assert!(domain_matches(b"*.vendor.example", b"updates.vendor.example"));
        assert!(domain_matches(b"*.vendor.example", b"a.b.VENDOR.example."));
        assert!(!domain_matches(b"*.vendor.example", b"vendor.example"));
        assert!(!domain_matches(b"*.vendor.example", b"evilvendor.example"));
        assert!(domain_matches(b"ehr.hospital.example", b"EHR.hospital.example"));
        assert!(!domain_matches(b"ehr.hospital.example", b"x.ehr.hospital.example"));
    }

    #[test]
    fn policy_rules_by_scope() {
        let mut p = Box::new(Policy::new(0));
        p.set_rules(&[
            PolicyRule {
                scope: Scope::Class(DeviceClass::InfusionPump),
                allow: Allow::Domain(text_from(b"*.vendor.example").0),
            },
            PolicyRule {
                scope: Scope::Mac(PUMP),
                allow: Allow::Network { addr: IpAddr::V4([203, 0, 113, 0]).to_bytes16(), prefix: 96 + 24 },
            },
            PolicyRule { scope: Scope::Any, allow: Allow::Port { transport: Transport::Udp, port: 123 } },
        ]);
        let q = |class, what| Question { mac: PUMP, class, what };
        let pump = DeviceClass::InfusionPump;
        assert_eq!(p.decide(&q(pump, ext([198, 51, 100, 1], 443, Some(b"fw.vendor.example")))), Verdict::Policy(0));
        assert_eq!(p.decide(&q(pump, ext([203, 0, 113, 9], 8443, None))), Verdict::Policy(1));
        assert_eq!(p.decide(&q(pump, ext([198, 51, 100, 1], 443, Some(b"evil.example")))), Verdict::Unexpected);
        let ntp =
            Subject::External { peer: IpAddr::V4([1, 2, 3, 4]), transport: Transport::Udp, port: 123, name: None };
        assert_eq!(p.decide(&q(DeviceClass::Printer, ntp)), Verdict::Policy(2));
        // The class rule does not cover another class.
        assert_eq!(
            p.decide(&Question {
                mac: Mac([2; 6]),
                class: DeviceClass::Workstation,
                what: ext([198, 51, 100, 1], 443, Some(b"fw.vendor.example"))
            }),
            Verdict::Unexpected
        );
    }

    #[test]
    fn learn_then_lock() {
        let mut p = Box::new(Policy::new(0));
        assert_eq!(p.mode(), Mode::Observe);
        p.learn(PUMP, Learn::Device); // not learning: ignored
        assert_eq!(p.baseline_len(), 0);
        p.learn_for(60);
        p.tick(1_000_000);
        assert!(p.learning());
        p.learn(PUMP, Learn::Device);
        p.learn(PUMP, Learn::External { peer: IpAddr::V4([198, 51, 100, 7]), transport: Transport::Tcp, port: 443 });
        p.learn(PUMP, Learn::Name(b"devs.example.com"));
        p.tick(61_000_001);
        assert!(p.locked());
        let q = |what| Question { mac: PUMP, class: DeviceClass::InfusionPump, what };
        assert_eq!(p.decide(&q(Subject::Device)), Verdict::Baseline);
        // Same /24, same port: learned. Another port or range: not.
        assert_eq!(p.decide(&q(ext([198, 51, 100, 99], 443, None))), Verdict::Baseline);
        assert_eq!(p.decide(&q(ext([198, 51, 100, 99], 22, None))), Verdict::Unexpected);
        assert_eq!(p.decide(&q(ext([198, 51, 101, 7], 443, None))), Verdict::Unexpected);
        // A learned name lets a new address through on any port (CDN moves).
        assert_eq!(p.decide(&q(ext([9, 9, 9, 9], 443, Some(b"DEVS.example.com.")))), Verdict::Baseline);
        assert_eq!(p.decide(&q(Subject::Lookup { name: b"devs.example.com" })), Verdict::Baseline);
        assert_eq!(p.decide(&q(Subject::Lookup { name: b"other.example.com" })), Verdict::Unexpected);
        // Learning stopped: nothing more is recorded.
        p.learn(PUMP, Learn::Name(b"late.example.com"));
        assert_eq!(p.decide(&q(Subject::Lookup { name: b"late.example.com" })), Verdict::Unexpected);
    }

    #[test]
    fn baseline_survives_export_and_import() {
        let mut p = Box::new(Policy::new(0));
        p.learn_for(60);
        p.tick(0);
        p.learn(PUMP, Learn::Device);
        p.learn(PUMP, Learn::External { peer: IpAddr::V4([198, 51, 100, 7]), transport: Transport::Tcp, port: 443 });
        p.learn(PUMP, Learn::Name(b"devs.example.com"));
        let saved: std::vec::Vec<BaselineEntry> = p.baseline_export().collect();
        assert_eq!(saved.len(), 3);
        let mut q = Box::new(Policy::new(7));
        for e in &saved {
            assert!(q.baseline_import(e));
        }
        q.set_mode(Mode::Locked);
        let ask = |what| Question { mac: PUMP, class: DeviceClass::InfusionPump, what };
        assert_eq!(q.decide(&ask(Subject::Device)), Verdict::Baseline);
        assert_eq!(q.decide(&ask(ext([198, 51, 100, 8], 443, None))), Verdict::Baseline);
        assert_eq!(q.decide(&ask(Subject::Lookup { name: b"devs.example.com" })), Verdict::Baseline);
        for m in [Mode::Observe, Mode::LearnFor { secs: 90 }, Mode::Learning { until: 1 << 50 }, Mode::Locked] {
            assert_eq!(Mode::decode(&m.encode()), Some(m));
        }
        assert_eq!(Mode::decode(&[9; 9]), None);
        // A corrupt kind byte is refused, not learned.
        let mut bad = saved[0];
        bad.0[6] = 0xee;
        assert!(!q.baseline_import(&bad));
    }

    #[test]
    fn full_baseline_is_counted() {
        let mut p = Box::new(Policy::new(0));
        p.learn_for(1);
        p.tick(0);
        for i in 0..(MAX_BASELINE + 5) {
            let name = std::format!("host{i}.example");
            p.learn(PUMP, Learn::Name(name.as_bytes()));
        }
        assert_eq!(p.counters.baseline_full, 5);
        assert_eq!(p.baseline_len(), MAX_BASELINE);
    }
}
