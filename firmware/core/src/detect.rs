//! Detectors: turn facts and inventory changes into alerts.
//!
//! Each alert kind has one small, bounded piece of state here; what is *allowed* is never
//! decided here but asked of [`crate::policy::Policy::decide`].
//!
//! | kind | trigger | needs a locked baseline |
//! | --- | --- | --- |
//! | unexpected outbound | a new external edge from a device, not allowed | yes |
//! | unknown domain | a unicast DNS lookup of a name not allowed | yes |
//! | new device | a MAC not in the baseline | yes |
//! | address conflict | an IPv4 address claimed by another MAC within 10 minutes (ARP) | no |
//! | scan | many local hosts, or many ports, from one source within the window | no |
//! | failed logins | many refused/reset/short sessions to authentication services | no |
//! | cleartext | Telnet, FTP login, HTTP Basic, SNMP v1/v2c community: once per device and kind | no |
//! | inbound remote access | an external address opens a remote-access port on a device | no |
//! | medical internet | a medical-class device and a public endpoint no policy rule allows | no |
//!
//! Outbound TCP edges wait (bounded) for their first payload before being judged, so the
//! TLS SNI or HTTP Host of that payload can name the endpoint.

use crate::alerts::{AlertRing, Raise};
use crate::config::{MAX_ARP_WATCH, MAX_PEER_NAMES, MAX_PENDING_JUDGEMENTS, MAX_WATCHED_SOURCES};
use crate::fact::{is_service_port, tcp_flags, Fact, FrameCtx, IpCtx, SessionOutcome};
use crate::inventory::{Event, Inventory};
use crate::policy::{Learn, Policy, Question, Subject, Verdict};
use crate::table::{second_chance, Hasher, Inserted, Table, TableKey, TableValue};
use wardtap_proto::{
    text_from, AlertKind, CleartextKind, DeviceClass, IpAddr, Mac, Severity, Text, Thresholds, Transport, STRING_LEN,
};

/// Remote-access service ports: SSH, Telnet, RDP, VNC, TeamViewer, Radmin, and the vendor
/// remote-service ports medical equipment commonly exposes.
pub const REMOTE_ACCESS_PORTS: &[u16] =
    &[22, 23, 3389, 5800, 5900, 5901, 5902, 5903, 5938, 4899, 5500, 5631, 2222, 8022];
/// Authentication services watched for failed logins: FTP, SSH, Telnet, SMB, RDP, VNC, and
/// web admin ports (web ports count refused connections only: short sessions are normal there).
pub const AUTH_PORTS: &[u16] = &[21, 22, 23, 445, 3389, 5900, 80, 443, 8080, 8443];
const WEB_PORTS: &[u16] = &[80, 443, 8080, 8443];
/// A session shorter than this with little from the server counts as a failed login.
const SHORT_SESSION_MS: u32 = 30_000;
const SHORT_SESSION_BYTES: u32 = 16 * 1024;
/// Two MACs claiming one address within this long is a conflict, not a lease handover.
const ARP_CONFLICT_US: u64 = 600 * 1_000_000;
/// A pending outbound edge is judged after this long even without payload.
const PENDING_US: u64 = 5 * 1_000_000;

/// An address as one 128-bit word (IPv4 in its mapped form): built, compared and hashed
/// as two machine words instead of sixteen bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct IpKey(u128);

impl IpKey {
    #[inline]
    fn of(ip: &IpAddr) -> Self {
        // The bytes of `to_bytes16` read little-endian; IPv4 built straight from its word.
        match *ip {
            IpAddr::V4(a) => IpKey(0xffff << 80 | (u32::from_le_bytes(a) as u128) << 96),
            IpAddr::V6(b) => IpKey(u128::from_le_bytes(b)),
        }
    }
}

impl TableKey for IpKey {
    const EMPTY: Self = IpKey(0);
    // Placement only (never results): the two halves folded into one word and mixed.
    #[inline]
    fn hash(&self, h: &mut Hasher) {
        let x = (self.0 as u64) ^ ((self.0 >> 64) as u64);
        h.write_u32(mix32(x as u32 ^ (x >> 32) as u32));
    }
}

/// A 32-bit mixer (every input bit reaches every output bit): table placement fed a word at
/// a time stays as even as byte-wise FNV, whose multiply never carries high bits down.
fn mix32(x: u32) -> u32 {
    let x = (x ^ (x >> 16)).wrapping_mul(0x7feb_352d);
    let x = (x ^ (x >> 15)).wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

#[derive(Clone, Debug)]
struct PeerName {
    name: Text<STRING_LEN>,
    credit: u8,
}

impl TableValue for PeerName {
    const EMPTY: Self = PeerName { name: heapless::Vec::new(), credit: 0 };
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct V4Key([u8; 4]);

impl TableKey for V4Key {
    const EMPTY: Self = V4Key([0; 4]);
    fn hash(&self, h: &mut Hasher) {
        h.write_u32(u32::from_le_bytes(self.0));
    }
}

#[derive(Clone, Copy, Debug)]
struct ArpBinding {
    mac: Mac,
    last: u64,
    credit: u8,
}

impl TableValue for ArpBinding {
    const EMPTY: Self = ArpBinding { mac: Mac([0; 6]), last: 0, credit: 0 };
}

/// Per-source counters for one window: 256-bit sets of hashed destinations and ports, and
/// how many bits each has set (kept as bits are added rather than counted each time).
#[derive(Clone, Copy, Debug)]
struct Watch {
    window_start: u64,
    hosts: [u32; 8],
    ports: [u32; 8],
    n_hosts: u16,
    n_ports: u16,
    fails: u16,
    scan_alerted: bool,
    fail_alerted: bool,
    credit: u8,
}

impl TableValue for Watch {
    const EMPTY: Self = Watch {
        window_start: 0,
        hosts: [0; 8],
        ports: [0; 8],
        n_hosts: 0,
        n_ports: 0,
        fails: 0,
        scan_alerted: false,
        fail_alerted: false,
        credit: 0,
    };
}

/// Sets bit `h & 255` of `set`; returns how many bits are set (`n`, grown when the bit is new).
fn set_bit(set: &mut [u32; 8], n: &mut u16, h: u32) -> u32 {
    let bit = (h & 255) as usize;
    if let Some(w) = set.get_mut(bit / 32) {
        let m = 1 << (bit % 32);
        if *w & m == 0 {
            *w |= m;
            *n += 1;
        }
    }
    *n as u32
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct SeenKey {
    mac: Mac,
    kind: u8,
}

impl TableKey for SeenKey {
    const EMPTY: Self = SeenKey { mac: Mac([0; 6]), kind: 0 };
    // Placement only: two words, mixed.
    fn hash(&self, h: &mut Hasher) {
        let m = self.mac.0;
        let (a, b) = (u32::from_le_bytes([m[0], m[1], m[2], m[3]]), u32::from_le_bytes([m[4], m[5], self.kind, 0]));
        h.write_u32(mix32(a ^ mix32(b)));
    }
}

#[derive(Clone, Copy, Debug)]
struct Unit;

impl TableValue for Unit {
    const EMPTY: Self = Unit;
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    mac: Mac,
    peer: IpAddr,
    port: u16,
    since: u64,
}

/// Detector counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DetectCounters {
    /// Outbound edges judged.
    pub judged: u32,
    /// Pending judgements forced early because the queue was full.
    pub pending_forced: u32,
    /// Cleartext (device, kind) pairs not remembered because the table was full (may repeat).
    pub cleartext_table_full: u32,
}

/// The detectors' state.
pub struct Detector {
    names: Table<IpKey, PeerName, MAX_PEER_NAMES, { MAX_PEER_NAMES * 2 }>,
    arp: Table<V4Key, ArpBinding, MAX_ARP_WATCH, { MAX_ARP_WATCH * 2 }>,
    watch: Table<IpKey, Watch, MAX_WATCHED_SOURCES, { MAX_WATCHED_SOURCES * 2 }>,
    cleartext: Table<SeenKey, Unit, 256, 512>,
    pending: heapless::Deque<Pending, MAX_PENDING_JUDGEMENTS>,
    /// No pending edge waited since before this (µs): until `PENDING_US` after it, only a
    /// frame with payload can release one. May be older than the oldest (never newer).
    pending_since: u64,
    /// [`pending_bit`] of every pending edge (and maybe of some gone; 0 only when none is
    /// pending): a payload frame whose bit is not here is the first payload of none of them.
    pending_bits: u64,
    /// `None`: [`Thresholds::DEFAULT`] (kept as `None` so a new detector is all zeros).
    thresholds: Option<Thresholds>,
    /// Counters.
    pub counters: DetectCounters,
}

/// What the detectors need from the rest of the tap for one call.
pub struct Ctx<'a> {
    /// The inventory (read-only).
    pub inv: &'a Inventory,
    /// The policy (the baseline learns through it).
    pub policy: &'a mut Policy,
    /// Where alerts go.
    pub alerts: &'a mut AlertRing,
}

impl Ctx<'_> {
    /// The same references again, for one call (built where it is needed, so a frame that
    /// needs no detector builds none).
    #[inline]
    fn again(&mut self) -> Ctx<'_> {
        Ctx { inv: self.inv, policy: &mut *self.policy, alerts: &mut *self.alerts }
    }
}

fn severity_outbound(class: DeviceClass) -> Severity {
    match class {
        DeviceClass::Workstation => Severity::Low,
        DeviceClass::NetworkInfrastructure | DeviceClass::Printer => Severity::Medium,
        c if c.is_medical() => Severity::High,
        _ => Severity::Medium,
    }
}

fn is_reverse_or_local(name: &[u8]) -> bool {
    let n = name.strip_suffix(b".").unwrap_or(name);
    let ends = |s: &[u8]| n.len() >= s.len() && n[n.len() - s.len()..].eq_ignore_ascii_case(s);
    ends(b".arpa") || ends(b".local") || !n.contains(&b'.')
}

impl Detector {
    /// Fresh state with default thresholds.
    pub const fn new(seed: u32) -> Self {
        Detector {
            names: Table::new(seed),
            arp: Table::new(seed),
            watch: Table::new(seed),
            cleartext: Table::new(seed),
            pending: heapless::Deque::new(),
            pending_since: 0,
            pending_bits: 0,
            thresholds: None,
            counters: DetectCounters { judged: 0, pending_forced: 0, cleartext_table_full: 0 },
        }
    }

    /// Sets the thresholds.
    pub fn set_thresholds(&mut self, t: Thresholds) {
        self.thresholds = Some(t);
    }

    fn t(&self) -> Thresholds {
        self.thresholds.unwrap_or(Thresholds::DEFAULT)
    }

    /// The DNS name or SNI last seen leading to `ip`.
    pub fn name_of(&self, ip: &IpAddr) -> Option<&[u8]> {
        self.names.get(&IpKey::of(ip)).map(|n| n.name.as_slice())
    }

    fn remember_name(&mut self, ip: IpAddr, name: &[u8]) {
        if name.is_empty() || ip.is_group() {
            return;
        }
        let key = IpKey::of(&ip);
        // Find or make the slot, then write the name into it (no value built and moved).
        let slot = match self.names.find(&key) {
            Some(s) => Some(s),
            None => match self.names.insert(key, PeerName::EMPTY) {
                Some(Inserted::New(s) | Inserted::Existing(s)) => Some(s),
                None => {
                    let _ = self.names.evict(|_, e| second_chance(&mut e.credit));
                    match self.names.insert(key, PeerName::EMPTY) {
                        Some(Inserted::New(s) | Inserted::Existing(s)) => Some(s),
                        None => None,
                    }
                }
            },
        };
        if let Some(e) = slot.and_then(|s| self.names.slot_mut(s)) {
            // Built apart, then stored: a copy into a fresh value compiles to one memcpy.
            e.name = text_from(name).0;
            e.credit = 1;
        }
    }

    /// A fact of the current frame. Most kinds of fact concern no detector: they are told
    /// apart by their kind alone, inline, before anything else is done.
    #[inline]
    pub fn fact(&mut self, mut c: Ctx<'_>, ctx: &FrameCtx, fact: &Fact<'_>) {
        // The most frequent of them (one per DNS answer) goes straight to its table.
        if let Fact::DnsAddr { name, addr, multicast } = *fact {
            if !multicast {
                self.remember_name(addr, name);
            }
        } else if matches!(
            fact,
            Fact::TlsClientHello { .. }
                | Fact::HttpRequest { .. }
                | Fact::DnsQuery { .. }
                | Fact::Arp { .. }
                | Fact::Cleartext { .. }
                | Fact::TcpSessionEnd { .. }
        ) {
            self.on_fact(&mut c.again(), ctx, fact);
        }
    }

    #[inline(never)]
    fn on_fact(&mut self, c: &mut Ctx<'_>, ctx: &FrameCtx, fact: &Fact<'_>) {
        match *fact {
            Fact::TlsClientHello { sni: Some(sni), .. } => {
                if let Some(ip) = ctx.ip {
                    self.remember_name(ip.dst, sni);
                }
                c.policy.learn(ctx.src_mac, Learn::Name(sni));
            }
            Fact::HttpRequest { host: Some(host), .. } => {
                if let Some(ip) = ctx.ip {
                    if !host.iter().all(|b| b.is_ascii_digit() || *b == b'.' || *b == b':') {
                        self.remember_name(ip.dst, host);
                    }
                }
            }
            Fact::DnsQuery { name, multicast: false, .. } => self.lookup(c, ctx, name),
            Fact::Arp { sender_mac, sender_ip, .. } => self.arp(c, ctx, sender_mac, sender_ip),
            Fact::Cleartext { kind } => self.cleartext(c, ctx, kind),
            Fact::TcpSessionEnd { client, server, server_port, outcome, duration_ms, bytes_to_client, .. } => {
                self.session_end(c, ctx, client, server, server_port, outcome, duration_ms, bytes_to_client)
            }
            _ => {}
        }
    }

    fn lookup(&mut self, c: &mut Ctx<'_>, ctx: &FrameCtx, name: &[u8]) {
        // Only the baseline (learning) or a judgement (locked) uses a lookup.
        if !(c.policy.learning() || c.policy.locked()) {
            return;
        }
        if is_reverse_or_local(name) || c.inv.find(&ctx.src_mac).is_none() {
            return;
        }
        c.policy.learn(ctx.src_mac, Learn::Name(name));
        if !c.policy.locked() {
            return;
        }
        let class = class_of(c.inv, &ctx.src_mac);
        let q = Question { mac: ctx.src_mac, class, what: Subject::Lookup { name } };
        if c.policy.decide(&q) == Verdict::Unexpected {
            let sev = if class.is_medical() { Severity::Medium } else { Severity::Low };
            c.alerts.raise(&Raise {
                time: ctx.ts,
                severity: sev,
                kind: AlertKind::UnknownDomain,
                device: ctx.src_mac,
                device_ip: ctx.ip.map(|i| i.src),
                peer: ctx.ip.map(|i| i.dst),
                transport: Transport::Udp,
                port: 53,
                evidence: &[b"lookup", name],
            });
        }
    }

    fn arp(&mut self, c: &mut Ctx<'_>, ctx: &FrameCtx, mac: Mac, ip: [u8; 4]) {
        if ip == [0; 4] || !mac.is_device() {
            return;
        }
        let key = V4Key(ip);
        let now = ctx.ts;
        if let Some(slot) = self.arp.find(&key) {
            let Some(b) = self.arp.slot_mut(slot) else { return };
            let (old, last) = (b.mac, b.last);
            b.mac = mac;
            b.last = now;
            b.credit = 1;
            if old != mac && now.saturating_sub(last) <= ARP_CONFLICT_US {
                let mut ev = [0u8; 64];
                let n = fmt_conflict(&mut ev, ip, old, mac);
                c.alerts.raise(&Raise {
                    time: now,
                    severity: Severity::High,
                    kind: AlertKind::AddressConflict,
                    device: mac,
                    device_ip: Some(IpAddr::V4(ip)),
                    peer: None,
                    transport: Transport::Other(0),
                    port: 0,
                    evidence: &[&ev[..n]],
                });
            }
            return;
        }
        let v = ArpBinding { mac, last: now, credit: 1 };
        if self.arp.insert(key, v).is_none() {
            let _ = self.arp.evict(|_, e| second_chance(&mut e.credit));
            let _ = self.arp.insert(key, v);
        }
    }

    fn cleartext(&mut self, c: &mut Ctx<'_>, ctx: &FrameCtx, kind: CleartextKind) {
        match self.cleartext.insert(SeenKey { mac: ctx.src_mac, kind: kind as u8 }, Unit) {
            Some(Inserted::Existing(_)) => return,
            Some(Inserted::New(_)) => {}
            None => self.counters.cleartext_table_full += 1,
        }
        let ip = ctx.ip;
        c.alerts.raise(&Raise {
            time: ctx.ts,
            severity: Severity::Medium,
            kind: AlertKind::Cleartext,
            device: ctx.src_mac,
            device_ip: ip.map(|i| i.src),
            peer: ip.map(|i| i.dst),
            transport: ip.map(|i| i.transport).unwrap_or(Transport::Other(0)),
            port: ip.map(|i| i.dport).unwrap_or(0),
            evidence: &[b"sent in the clear:", kind.name().as_bytes()],
        });
    }

    #[inline(always)]
    fn watch(&mut self, src: &IpAddr, now: u64) -> Option<u16> {
        let key = IpKey::of(src);
        let window = self.t().window_secs as u64 * 1_000_000;
        let slot = match self.watch.find(&key) {
            Some(s) => s,
            None => {
                let fresh = Watch { window_start: now, credit: 1, ..Watch::EMPTY };
                match self.watch.insert(key, fresh) {
                    Some(Inserted::New(s) | Inserted::Existing(s)) => s,
                    None => {
                        let _ = self.watch.evict(|_, w| second_chance(&mut w.credit));
                        match self.watch.insert(key, fresh)? {
                            Inserted::New(s) | Inserted::Existing(s) => s,
                        }
                    }
                }
            }
        };
        let w = self.watch.slot_mut(slot)?;
        w.credit = 1;
        if now.saturating_sub(w.window_start) > window {
            *w = Watch { window_start: now, credit: 1, ..Watch::EMPTY };
        }
        Some(slot)
    }

    #[allow(clippy::too_many_arguments)]
    fn session_end(
        &mut self,
        c: &mut Ctx<'_>,
        ctx: &FrameCtx,
        client: IpAddr,
        server: IpAddr,
        port: u16,
        outcome: SessionOutcome,
        duration_ms: u32,
        bytes_to_client: u32,
    ) {
        if !AUTH_PORTS.contains(&port) {
            return;
        }
        let failed = match outcome {
            SessionOutcome::Refused => true,
            _ if WEB_PORTS.contains(&port) => false,
            _ => duration_ms < SHORT_SESSION_MS && bytes_to_client < SHORT_SESSION_BYTES,
        };
        if !failed {
            return;
        }
        let threshold = self.t().failed_logins;
        let Some(slot) = self.watch(&client, ctx.ts) else { return };
        let Some(w) = self.watch.slot_mut(slot) else { return };
        w.fails = w.fails.saturating_add(1);
        if w.fails < threshold || w.fail_alerted {
            return;
        }
        w.fail_alerted = true;
        let fails = w.fails;
        // The local device concerned: the client when it is ours, else the server.
        let device = owner_mac(c.inv, &client).or_else(|| owner_mac(c.inv, &server)).unwrap_or(ctx.src_mac);
        let mut num = [0u8; 24];
        let n = fmt_count(&mut num, fails, self.t().window_secs);
        c.alerts.raise(&Raise {
            time: ctx.ts,
            severity: Severity::High,
            kind: AlertKind::FailedLogins,
            device,
            device_ip: Some(client),
            peer: Some(server),
            transport: Transport::Tcp,
            port,
            evidence: &[b"failed sessions:", &num[..n]],
        });
    }

    /// Counts a probe (see [`is_probe`]) toward its source's scan window.
    #[inline(never)]
    fn scan(&mut self, c: &mut Ctx<'_>, ctx: &FrameCtx, ip: &IpCtx) {
        let local_dst = c.inv.is_local(&ip.dst);
        let (th_hosts, th_ports) = (self.t().scan_hosts as u32, self.t().scan_ports as u32);
        let Some(slot) = self.watch(&ip.src, ctx.ts) else { return };
        let Some(w) = self.watch.slot_mut(slot) else { return };
        // Browsing reaches many outside hosts; only local hosts count toward a host sweep.
        let hosts = if local_dst { set_bit(&mut w.hosts, &mut w.n_hosts, host_hash(&ip.dst)) } else { 0 };
        let mut hp = Hasher::new(10);
        hp.write_u16(ip.dport);
        let ports = set_bit(&mut w.ports, &mut w.n_ports, hp.finish());
        if w.scan_alerted || (hosts < th_hosts && ports < th_ports) {
            return;
        }
        w.scan_alerted = true;
        let mut num = [0u8; 48];
        let n = fmt_scan(&mut num, hosts, ports, self.t().window_secs);
        c.alerts.raise(&Raise {
            time: ctx.ts,
            severity: Severity::High,
            kind: AlertKind::Scan,
            device: ctx.src_mac,
            device_ip: Some(ip.src),
            peer: None,
            transport: ip.transport,
            port: 0,
            evidence: &[&num[..n]],
        });
    }

    /// End of a frame: scan counting, inventory changes, pending judgements. Most frames
    /// need none of them, which the inline tests here tell without touching any table.
    #[inline]
    pub fn frame_done(&mut self, mut c: Ctx<'_>, ctx: &FrameCtx) {
        if let Some(ip) = &ctx.ip {
            if is_probe(ip) {
                self.scan(&mut c.again(), ctx, ip);
            }
        }
        if !c.inv.events().is_empty() {
            self.events(&mut c.again(), ctx);
        }
        // A pending edge is released by its first payload or once it waited `PENDING_US`.
        if self.pending_bits != 0
            && (ctx.ip.as_ref().is_some_and(|i| {
                i.payload_len > 0 && self.pending_bits & pending_bit(&ctx.src_mac, &i.dst, i.dport) != 0
            }) || ctx.ts.saturating_sub(self.pending_since) > PENDING_US)
        {
            self.judge_pending(&mut c.again(), ctx);
        }
    }

    /// The inventory's changes of this frame: new devices, new edges.
    #[inline(never)]
    fn events(&mut self, c: &mut Ctx<'_>, ctx: &FrameCtx) {
        for ev in c.inv.events() {
            match *ev {
                Event::NewAsset { mac } => {
                    c.policy.learn(mac, Learn::Device);
                    if c.policy.locked()
                        && c.policy.decide(&Question { mac, class: class_of(c.inv, &mac), what: Subject::Device })
                            == Verdict::Unexpected
                    {
                        c.alerts.raise(&Raise {
                            time: ctx.ts,
                            severity: Severity::Medium,
                            kind: AlertKind::NewDevice,
                            device: mac,
                            device_ip: ctx.ip.map(|i| i.src).filter(|_| mac == ctx.src_mac),
                            peer: None,
                            transport: Transport::Other(0),
                            port: 0,
                            evidence: &[b"not seen while learning"],
                        });
                    }
                }
                Event::NewEdge { asset, peer, transport, port, outbound } => {
                    let external = !c.inv.is_local(&peer);
                    // Built only while learning (else the entry would be made for nothing).
                    if c.policy.learning() {
                        let learn = match (external, outbound) {
                            (true, true) => Learn::External { peer, transport, port },
                            (false, true) => Learn::Internal { peer, transport, port },
                            (_, false) => Learn::Service { transport, port },
                        };
                        c.policy.learn(asset, learn);
                    }
                    if !external {
                        continue;
                    }
                    if !outbound {
                        self.inbound(c, ctx, asset, peer, transport, port);
                    } else if transport == Transport::Tcp && ctx.ip.is_some_and(|i| i.payload_len == 0) {
                        if self.pending.is_full() {
                            self.counters.pending_forced += 1;
                            if let Some(p) = self.pending.pop_front() {
                                self.judge(c, ctx.ts, p.mac, p.peer, Transport::Tcp, p.port);
                            }
                        }
                        if self.pending.is_empty() || ctx.ts < self.pending_since {
                            self.pending_since = ctx.ts;
                        }
                        self.pending_bits |= pending_bit(&asset, &peer, port);
                        let _ = self.pending.push_back(Pending { mac: asset, peer, port, since: ctx.ts });
                    } else {
                        self.judge(c, ctx.ts, asset, peer, transport, port);
                    }
                }
            }
        }
    }

    /// Judges pending edges whose first payload is this frame, or that waited long enough;
    /// the others stay queued in their order.
    #[inline(never)]
    fn judge_pending(&mut self, c: &mut Ctx<'_>, ctx: &FrameCtx) {
        let release = |p: &Pending| {
            let this = ctx
                .ip
                .as_ref()
                .is_some_and(|i| ctx.src_mac == p.mac && i.dst == p.peer && i.dport == p.port && i.payload_len > 0);
            this || ctx.ts.saturating_sub(p.since) > PENDING_US
        };
        // Look first (no queue rotation when nothing is released), noting the oldest; the
        // first edge released ends the look (the pass below notes them all again).
        let (mut oldest, mut bits) = (u64::MAX, 0);
        let mut any = false;
        for p in self.pending.iter() {
            if release(p) {
                any = true;
                break;
            }
            oldest = oldest.min(p.since);
            bits |= pending_bit(&p.mac, &p.peer, p.port);
        }
        if !any {
            (self.pending_since, self.pending_bits) = (oldest, bits);
            return;
        }
        (oldest, bits) = (u64::MAX, 0);
        for _ in 0..self.pending.len() {
            let Some(p) = self.pending.pop_front() else { break };
            if release(&p) {
                self.judge(c, ctx.ts, p.mac, p.peer, Transport::Tcp, p.port);
            } else {
                oldest = oldest.min(p.since);
                bits |= pending_bit(&p.mac, &p.peer, p.port);
                let _ = self.pending.push_back(p);
            }
        }
        (self.pending_since, self.pending_bits) = (oldest, bits);
    }

    fn inbound(&mut self, c: &mut Ctx<'_>, ctx: &FrameCtx, asset: Mac, peer: IpAddr, transport: Transport, port: u16) {
        let class = class_of(c.inv, &asset);
        if transport == Transport::Tcp && REMOTE_ACCESS_PORTS.contains(&port) {
            c.alerts.raise(&Raise {
                time: ctx.ts,
                severity: if class.is_medical() { Severity::Critical } else { Severity::High },
                kind: AlertKind::InboundRemoteAccess,
                device: asset,
                device_ip: ctx.ip.map(|i| i.dst),
                peer: Some(peer),
                transport,
                port,
                evidence: &[b"remote access from outside the segment to", class.name().as_bytes()],
            });
        } else if class.is_medical() {
            self.judge(c, ctx.ts, asset, peer, transport, port);
        }
    }

    /// Judges one external endpoint of a device.
    fn judge(&mut self, c: &mut Ctx<'_>, ts: u64, mac: Mac, peer: IpAddr, transport: Transport, port: u16) {
        self.counters.judged += 1;
        let class = class_of(c.inv, &mac);
        // Only a medical device reaching a public address, or a locked baseline, can make an
        // alert of it: otherwise (observing, learning) the verdict would go unused.
        let medical_internet = class.is_medical() && peer.is_public();
        if !medical_internet && !c.policy.locked() {
            return;
        }
        let name = self.name_of(&peer);
        let verdict =
            c.policy.decide(&Question { mac, class, what: Subject::External { peer, transport, port, name } });
        let shown: &[u8] = name.unwrap_or(b"(no name seen)");
        if medical_internet && !matches!(verdict, Verdict::Policy(_)) {
            // A medical device on the internet is judged by the written policy alone: what it
            // did while learning is no excuse.
            let learned: &[u8] = if verdict == Verdict::Baseline { b"(seen while learning)" } else { b"" };
            c.alerts.raise(&Raise {
                time: ts,
                severity: if verdict == Verdict::Baseline { Severity::High } else { Severity::Critical },
                kind: AlertKind::MedicalInternet,
                device: mac,
                device_ip: None,
                peer: Some(peer),
                transport,
                port,
                evidence: &[class.name().as_bytes(), b"reached", shown, learned],
            });
        } else if c.policy.locked() && verdict == Verdict::Unexpected {
            c.alerts.raise(&Raise {
                time: ts,
                severity: severity_outbound(class),
                kind: AlertKind::UnexpectedOutbound,
                device: mac,
                device_ip: None,
                peer: Some(peer),
                transport,
                port,
                evidence: &[class.name().as_bytes(), b"reached", shown],
            });
        }
    }
}

/// A frame that counts toward a scan: a TCP SYN, a UDP datagram to a service port, an ICMP
/// echo request with payload; unicast, from a real address.
#[inline]
fn is_probe(ip: &IpCtx) -> bool {
    let probe = match ip.transport {
        Transport::Tcp => ip.tcp_flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN,
        Transport::Udp => is_service_port(ip.dport),
        Transport::Icmp => ip.dport == 0 && ip.payload_len > 0,
        Transport::Other(_) => false,
    };
    probe && !ip.dst.is_group() && !ip.src.is_unspecified()
}

/// The scan window's hash of a destination: FNV (seed 9) of its [`IpAddr::to_bytes16`] bytes.
/// An IPv4 address hashes its constant mapped prefix first, which folds at compile time.
#[inline]
fn host_hash(ip: &IpAddr) -> u32 {
    const V4_MAPPED: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
    let mut h = Hasher::new(9);
    match ip {
        IpAddr::V4(a) => {
            h.write(&V4_MAPPED);
            h.write(a);
        }
        IpAddr::V6(b) => h.write(b),
    }
    h.finish()
}

/// One of 64 bits for a pending edge (device, peer, port): a payload frame from `mac` to
/// `peer`:`port` can release that edge only if its bit is among the pending ones.
#[inline]
fn pending_bit(mac: &Mac, peer: &IpAddr, port: u16) -> u64 {
    let last = match peer {
        IpAddr::V4(a) => a[3],
        IpAddr::V6(b) => b[15],
    };
    let [hi, lo] = port.to_be_bytes();
    1 << ((mac.0[5] ^ last ^ hi ^ lo.rotate_left(3)) & 63)
}

fn class_of(inv: &Inventory, mac: &Mac) -> DeviceClass {
    inv.find(mac).and_then(|s| inv.asset(s)).map(|a| a.class).unwrap_or_default()
}

fn owner_mac(inv: &Inventory, ip: &IpAddr) -> Option<Mac> {
    inv.owner_mac(ip)
}

/// Small no_std formatting into a buffer (no `core::fmt` machinery on the hot path).
struct Buf<'a> {
    b: &'a mut [u8],
    n: usize,
}

impl Buf<'_> {
    fn s(&mut self, s: &[u8]) -> &mut Self {
        for &c in s {
            if let Some(slot) = self.b.get_mut(self.n) {
                *slot = c;
                self.n += 1;
            }
        }
        self
    }
    fn u(&mut self, mut v: u32) -> &mut Self {
        let mut d = [0u8; 10];
        let mut i = d.len();
        loop {
            i -= 1;
            d[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 || i == 0 {
                break;
            }
        }
        let digits = d;
        self.s(&digits[i..])
    }
    fn mac(&mut self, m: Mac) -> &mut Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for (i, b) in m.0.iter().enumerate() {
            if i > 0 {
                self.s(b":");
            }
            self.s(&[HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        }
        self
    }
}

fn fmt_conflict(out: &mut [u8], ip: [u8; 4], old: Mac, new: Mac) -> usize {
    let mut b = Buf { b: out, n: 0 };
    b.u(ip[0] as u32).s(b".").u(ip[1] as u32).s(b".").u(ip[2] as u32).s(b".").u(ip[3] as u32);
    b.s(b" was ").mac(old).s(b" now ").mac(new);
    b.n
}

fn fmt_count(out: &mut [u8], n: u16, window: u32) -> usize {
    let mut b = Buf { b: out, n: 0 };
    b.u(n as u32).s(b" in ").u(window).s(b"s");
    b.n
}

fn fmt_scan(out: &mut [u8], hosts: u32, ports: u32, window: u32) -> usize {
    let mut b = Buf { b: out, n: 0 };
    b.u(hosts).s(b" local hosts, ").u(ports).s(b" ports in ").u(window).s(b"s");
    b.n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_helpers() {
        let mut b = [0u8; 64];
        let n = fmt_conflict(&mut b, [10, 0, 0, 5], Mac([0, 1, 2, 3, 4, 5]), Mac([0xaa; 6]));
        assert_eq!(&b[..n], b"10.0.0.5 was 00:01:02:03:04:05 now aa:aa:aa:aa:aa:aa");
        let n = fmt_count(&mut b, 12, 60);
        assert_eq!(&b[..n], b"12 in 60s");
        let n = fmt_scan(&mut b, 0, 4_000_000_000, 60);
        assert_eq!(&b[..n], b"0 local hosts, 4000000000 ports in 60s");
    }

    #[test]
    fn host_hash_is_the_hash_of_the_sixteen_bytes() {
        let mut x = 0x9e37_79b9_u32;
        for _ in 0..2000 {
            x = mix32(x.wrapping_add(0x6d2b_79f5));
            let v4 = IpAddr::V4(x.to_be_bytes());
            let mut b = [0u8; 16];
            for (i, c) in b.chunks_mut(4).enumerate() {
                c.copy_from_slice(&mix32(x ^ i as u32).to_le_bytes());
            }
            for ip in [v4, IpAddr::V6(b)] {
                let mut h = Hasher::new(9);
                h.write(&ip.to_bytes16());
                assert_eq!(host_hash(&ip), h.finish(), "{ip:?}");
                assert_eq!(IpKey::of(&ip).0, u128::from_le_bytes(ip.to_bytes16()));
            }
        }
    }

    #[test]
    fn local_and_reverse_names_are_not_domains() {
        assert!(is_reverse_or_local(b"5.0.0.10.in-addr.arpa"));
        assert!(is_reverse_or_local(b"printer.local."));
        assert!(is_reverse_or_local(b"wpad"));
        assert!(!is_reverse_or_local(b"devs.tplinkcloud.com"));
    }
}
