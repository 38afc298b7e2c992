//! Property tests: hostile frames never panic the core, never overfill a table, and every
//! frame is counted.
//!
//! Inputs: (a) random bytes, (b) random bytes behind well-formed Ethernet/IP/UDP/TCP headers
//! aimed at the ports the dissectors listen on, (c) real frames from the shared captures,
//! mutated (bit flips, truncation, length-field overwrites, splicing, insertions). Each case
//! goes through a fresh `Tap` and through a bare `Pipeline` with a fact-collecting sink that
//! renders every fact (so `Debug` on every borrowed string runs too).
//!
//! The default case counts keep `cargo test -p wardtap-core --test prop` under a minute in
//! debug on two cores; `cargo test -p wardtap-core --test prop -- --ignored` runs the heavy
//! variant (also honours `PROPTEST_CASES` there).

mod support;

use proptest::prelude::*;
use std::sync::OnceLock;
use wardtap_core::dissect::Pipeline;
use wardtap_core::{Fact, FrameCtx, Sink, Tap};

/// Captures whose frames are mutated: mixed LANs plus one per dissector family.
const SOURCES: &[&str] = &[
    "lan-mixed-services__zeek-var-services.pcap",
    support::HOSPITAL,
    "hl7-mllp-adt__ndpi.pcap",
    "dhcp-dora__arkime-wireshark.pcap",
    "dhcp-mud-raspberrypi__tcpdump.pcap",
    "dns-mdns-llmnr-iphone__pcapplusplus.pcap",
    "mdns-ipp-linux__zeek.pcap",
    "nbns-browser-win98__arkime.pcap",
    "netbios-nbns-smb-browser-vlan__ndpi.pcapng",
    "lldp-cdp-cisco3560__tcpdump.pcap",
    "lldp-extreme-procurve__arkime-wireshark.pcap",
    "cdp-cisco3560g__tcpdump.pcap",
    "snmp-v1-v2c-v3-vlan__ndpi.pcapng",
    "ssdp-notify-tomato-router__suricata-verify.pcap",
    "ssdp-msearch-chrome__ndpi.pcap",
    "http-get-wget__zeek.pcap",
    "tls-clienthello-sni-gstatic__zeek.pcap",
    "tls13-ech-sni__zeek.pcap",
    "ssh-openssh78-debian__tcpdump.pcap",
    "ftp-cleartext-login-filezilla__zeek.pcap",
    "telnet-cleartext-login__ndpi.pcap",
    "ipv6-nd-rs-ra-ns-na__zeek.pcap",
    "arp-stacked-vlan__suricata-verify.pcap",
    "qinq-8021ad-arp__tcpdump.pcap",
    "vlan-cdp-qinq__pcapplusplus.pcap",
];

/// Frames worth mutating: every frame of the small captures, at most 400 of each large one.
fn corpus() -> &'static Vec<Vec<u8>> {
    static C: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    C.get_or_init(|| {
        let mut v = Vec::new();
        for name in SOURCES {
            let f = support::frames(name);
            assert!(!f.is_empty(), "{name}: no frames");
            v.extend(f.into_iter().take(400).map(|(_, b)| b));
        }
        v
    })
}

/// Renders every fact, like the crate's own test collector.
#[derive(Default)]
struct Facts {
    lines: Vec<String>,
    frames: u64,
}

impl Sink for Facts {
    fn frame(&mut self, ctx: &FrameCtx) {
        self.frames += 1;
        let _ = format!("{ctx:?}");
    }
    fn fact(&mut self, _ctx: &FrameCtx, fact: &Fact<'_>) {
        self.lines.push(format!("{fact:?}"));
    }
}

fn check_fill(tap: &Tap, frame: &[u8]) -> Result<(), TestCaseError> {
    let f = tap.fill();
    for (name, (used, cap)) in
        [("assets", f.assets), ("edges", f.edges), ("peers", f.peers), ("strings", f.strings), ("flows", f.flows)]
    {
        prop_assert!(used <= cap, "{name}: {used} > {cap} after frame {frame:02x?}");
    }
    Ok(())
}

/// Feeds `frames` to a fresh Tap and a fresh Pipeline, checking the invariants after each.
fn run(frames: &[Vec<u8>]) -> Result<(), TestCaseError> {
    let mut tap = Box::new(Tap::new(0x5eed));
    let mut pipe = Box::new(Pipeline::new(7));
    let mut sink = Facts::default();
    for (i, f) in frames.iter().enumerate() {
        let ts = 1_700_000_000_000_000 + i as u64 * 1000;
        tap.process(ts, f);
        check_fill(&tap, f)?;
        prop_assert_eq!(tap.counters().frames, i as u64 + 1);
        pipe.frame(ts, f, &mut sink);
        prop_assert_eq!(pipe.counters.frames, i as u64 + 1);
        prop_assert!(sink.frames <= i as u64 + 1);
    }
    // Reading the inventory back must not panic either.
    let assets = tap.assets().count();
    prop_assert!(assets <= tap.fill().assets.0 as usize);
    let _ = tap.edges().count();
    Ok(())
}

/// Ports the dispatcher looks at, so structured frames reach the application dissectors.
const PORTS: &[u16] = &[21, 23, 53, 67, 68, 80, 104, 123, 137, 139, 161, 162, 443, 445, 1900, 2575, 5353, 5355, 8080];

fn port() -> impl Strategy<Value = u16> {
    prop_oneof![4 => proptest::sample::select(PORTS), 1 => any::<u16>()]
}

/// Payload starts the content sniffers react to, followed by random bytes.
fn app_payload() -> impl Strategy<Value = Vec<u8>> {
    let prefixes: &[&[u8]] = &[
        b"",
        b"SSH-2.0-",
        &[0x16, 0x03, 0x01],
        &[0x0b, b'M', b'S', b'H', b'|'],
        &[0x01, 0x00, 0x00, 0x00],
        &[0x02, 0x00, 0x00, 0x00],
        b"GET / HTTP/1.1\r\nHost: ",
        b"HTTP/1.1 200 OK\r\nServer: ",
        b"NOTIFY * HTTP/1.1\r\nSERVER: ",
        b"USER ",
        &[0x30, 0x82],
        &[0x01, 0x01, 0x06, 0x00],
    ];
    (proptest::sample::select(prefixes), proptest::collection::vec(any::<u8>(), 0..400)).prop_map(|(p, mut r)| {
        let mut v = p.to_vec();
        v.append(&mut r);
        v
    })
}

/// Ethernet (optionally VLAN-tagged) + IPv4/IPv6 + UDP/TCP/ICMPv6 with random content.
fn structured_frame() -> impl Strategy<Value = Vec<u8>> {
    (any::<[u8; 12]>(), 0u8..3, 0u8..2, 0u8..3, port(), port(), any::<u8>(), any::<bool>(), app_payload()).prop_map(
        |(macs, tags, v6, l4, sport, dport, flags, lie, payload)| {
            let mut f = macs.to_vec();
            for t in 0..tags {
                f.extend_from_slice(&[
                    if t == 0 && tags == 2 { 0x88 } else { 0x81 },
                    if t == 0 && tags == 2 { 0xa8 } else { 0 },
                ]);
                f.extend_from_slice(&[0, 10 + t]);
            }
            let proto = [17u8, 6, 58][l4 as usize];
            let mut l4b = Vec::new();
            match proto {
                17 => {
                    l4b.extend_from_slice(&sport.to_be_bytes());
                    l4b.extend_from_slice(&dport.to_be_bytes());
                    let len = if lie { flags as u16 * 7 } else { (8 + payload.len()) as u16 };
                    l4b.extend_from_slice(&len.to_be_bytes());
                    l4b.extend_from_slice(&[0, 0]);
                }
                6 => {
                    l4b.extend_from_slice(&sport.to_be_bytes());
                    l4b.extend_from_slice(&dport.to_be_bytes());
                    l4b.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
                    l4b.push(if lie { flags } else { 0x50 });
                    l4b.push(0x18);
                    l4b.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
                }
                _ => l4b.extend_from_slice(&[133 + flags % 5, 0, 0, 0, 0, 0, 0, 0]),
            }
            l4b.extend_from_slice(&payload);
            if v6 == 1 {
                f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
                let len = if lie { flags as u16 } else { l4b.len() as u16 };
                f.extend_from_slice(&len.to_be_bytes());
                f.extend_from_slice(&[proto, 255]);
                f.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
                f.extend_from_slice(&[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfb]);
            } else {
                f.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
                let len = if lie { flags as u16 * 3 } else { (20 + l4b.len()) as u16 };
                f.extend_from_slice(&len.to_be_bytes());
                f.extend_from_slice(&[0, 0, 0, 0, 64, proto, 0, 0, 10, 0, 0, 5, 10, 0, 0, 255]);
            }
            f.extend_from_slice(&l4b);
            f
        },
    )
}

/// One mutation of a real frame.
#[derive(Clone, Debug)]
enum Mutation {
    /// Flip one bit (position taken modulo the length).
    BitFlip(usize, u8),
    /// Cut the frame to this length (modulo length + 1).
    Truncate(usize),
    /// Overwrite a 16-bit field at a header offset where lengths and counts live.
    LenField(usize, u16),
    /// Overwrite a byte anywhere.
    Byte(usize, u8),
    /// Keep the head of this frame up to `at`, then the tail of another frame from `from`.
    Splice(usize, usize, usize),
    /// Insert bytes at a position.
    Insert(usize, Vec<u8>),
    /// Remove a range.
    Delete(usize, usize),
}

/// Offsets of length/count fields in common framings (Ethernet, IPv4, UDP, TCP, their
/// payload starts with and without one VLAN tag), and some payload offsets.
const LEN_OFFSETS: &[usize] = &[
    12, 14, 16, 18, 20, 38, 42, 44, 46, 48, 50, 52, 54, 56, 58, 60, 62, 66, 70, 74, 78, 82, 90, 100, 120, 150, 200,
    250, 282, 300, 320,
];

fn len_value() -> impl Strategy<Value = u16> {
    prop_oneof![
        proptest::sample::select(
            &[0u16, 1, 2, 3, 4, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x7fff, 0x8000, 0xc000, 0xfffe, 0xffff][..]
        ),
        any::<u16>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), 0u8..8).prop_map(|(p, b)| Mutation::BitFlip(p, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        3 => (proptest::sample::select(LEN_OFFSETS), len_value()).prop_map(|(o, v)| Mutation::LenField(o, v)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(p, v)| Mutation::Byte(p, v)),
        1 => (any::<usize>(), any::<usize>(), any::<usize>()).prop_map(|(o, a, b)| Mutation::Splice(o, a, b)),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..32)).prop_map(|(p, v)| Mutation::Insert(p, v)),
        1 => (any::<usize>(), 1usize..64).prop_map(|(p, n)| Mutation::Delete(p, n)),
    ]
}

fn apply(frame: &mut Vec<u8>, m: &Mutation) {
    let c = corpus();
    let len = frame.len();
    match m {
        Mutation::BitFlip(p, b) if len > 0 => frame[p % len] ^= 1 << b,
        Mutation::Truncate(n) => frame.truncate(n % (len + 1)),
        Mutation::LenField(o, v) if o + 2 <= len => frame[*o..o + 2].copy_from_slice(&v.to_be_bytes()),
        Mutation::Byte(p, v) if len > 0 => frame[p % len] = *v,
        Mutation::Splice(other, at, from) => {
            let o = &c[other % c.len()];
            frame.truncate(at % (len + 1));
            frame.extend_from_slice(&o[from % (o.len() + 1)..]);
        }
        Mutation::Insert(p, v) => {
            let p = p % (len + 1);
            frame.splice(p..p, v.iter().copied());
        }
        Mutation::Delete(p, n) if len > 0 => {
            let p = p % len;
            frame.drain(p..(p + n).min(len));
        }
        _ => {}
    }
}

/// A real frame (by index) with 1 to 4 mutations.
fn mutated_frame() -> impl Strategy<Value = Vec<u8>> {
    (any::<usize>(), proptest::collection::vec(mutation(), 1..5)).prop_map(|(i, ms)| {
        let c = corpus();
        let mut f = c[i % c.len()].clone();
        for m in &ms {
            apply(&mut f, m);
        }
        f
    })
}

/// Mostly mutated frames with some untouched ones in between, so that flows and assets
/// built by the real frames meet the mutated ones.
fn mixed_frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => mutated_frame(),
        1 => any::<usize>().prop_map(|i| { let c = corpus(); c[i % c.len()].clone() }),
        2 => structured_frame(),
        1 => proptest::collection::vec(any::<u8>(), 0..200),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes(frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1600), 1..24)) {
        run(&frames)?;
    }

    #[test]
    fn structured_random(frames in proptest::collection::vec(structured_frame(), 1..24)) {
        run(&frames)?;
    }

    #[test]
    fn mutated_captures(frames in proptest::collection::vec(mixed_frame(), 1..32)) {
        run(&frames)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(20_000)
    ))]

    #[test]
    #[ignore = "heavy: run with --ignored"]
    fn mutated_captures_heavy(frames in proptest::collection::vec(mixed_frame(), 1..128)) {
        run(&frames)?;
    }

    #[test]
    #[ignore = "heavy: run with --ignored"]
    fn structured_random_heavy(frames in proptest::collection::vec(structured_frame(), 1..128)) {
        run(&frames)?;
    }
}

/// Every frame of every shared capture, unmutated, through one Tap (tables fill up across
/// captures): fill stays within capacity after each frame and every frame is counted.
#[test]
fn all_captures_in_one_tap() {
    let mut tap = Box::new(Tap::new(1));
    let mut n = 0u64;
    for name in support::all_captures() {
        for (ts, f) in support::frames(&name) {
            tap.process(ts, &f);
            n += 1;
            check_fill(&tap, &f).unwrap();
        }
    }
    assert_eq!(tap.counters().frames, n);
    assert!(n > 10_000, "only {n} frames: captures missing?");
}
