//! Writes fuzz seed corpora from the shared captures: per fuzz target of
//! `firmware/core/fuzz`, the payloads the pipeline would have given that dissector.
//!
//! `cargo run -p wardtap-core --example fuzz_seeds [OUT_DIR]` (default
//! `firmware/core/fuzz/corpus`; the corpus is generated, never committed). Dissector seeds
//! carry the 5-byte context prefix the fuzz crate reads (`fuzz/src/lib.rs`); `tap` seeds are
//! runs of up to 16 consecutive frames, each prefixed with its 16-bit length. At most
//! `MAX_PER_CAPTURE` distinct seeds per target from each capture, `MAX_PER_TARGET` in all.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use wardtap_core::dissect::{ethernet, hl7, http, ipv4, ipv6, tcp, udp};

const MAX_PER_TARGET: usize = 400;
/// Per capture and target, so that the big captures do not crowd out the others.
const MAX_PER_CAPTURE: usize = 40;
const TAP_RUN: usize = 16;

/// The context prefix: see `firmware/core/fuzz/src/lib.rs`.
fn prefix(ip: Option<(bool, bool, u16, u16)>) -> [u8; 5] {
    match ip {
        None => [0; 5],
        Some((v6, tcp, s, d)) => {
            let (s, d) = (s.to_be_bytes(), d.to_be_bytes());
            [1 | (v6 as u8) << 1 | (tcp as u8) << 2, s[0], s[1], d[0], d[1]]
        }
    }
}

#[derive(Default)]
struct Seeds {
    by_target: BTreeMap<&'static str, (HashSet<u64>, Vec<Vec<u8>>)>,
    /// Seeds taken from the current capture, per target.
    this_capture: BTreeMap<&'static str, usize>,
}

impl Seeds {
    fn add(&mut self, target: &'static str, ip: Option<(bool, bool, u16, u16)>, payload: &[u8]) {
        let mut seed = if target == "ethernet" || target == "tap" { Vec::new() } else { prefix(ip).to_vec() };
        seed.extend_from_slice(payload);
        let mut h = DefaultHasher::new();
        seed.hash(&mut h);
        let (seen, v) = self.by_target.entry(target).or_default();
        let taken = self.this_capture.entry(target).or_default();
        if v.len() < MAX_PER_TARGET && *taken < MAX_PER_CAPTURE && seen.insert(h.finish()) {
            v.push(seed);
            *taken += 1;
        }
    }

    /// Routes one frame the way `Pipeline::frame` does (without its first-segment rule).
    fn frame(&mut self, frame: &[u8]) {
        self.add("ethernet", None, frame);
        let Ok(eth) = ethernet::parse(frame) else { return };
        let ip = match eth.kind {
            ethernet::Kind::EtherType(ethernet::ARP) => return self.add("arp", None, eth.payload),
            ethernet::Kind::EtherType(ethernet::LLDP) => return self.add("lldp", None, eth.payload),
            ethernet::Kind::Cdp => return self.add("cdp", None, eth.payload),
            ethernet::Kind::EtherType(ethernet::IPV4) => ipv4::parse(eth.payload),
            ethernet::Kind::EtherType(ethernet::IPV6) => ipv6::parse(eth.payload),
            _ => return,
        };
        let Ok(ip) = ip else { return };
        let v6 = matches!(ip.src, wardtap_core::proto::IpAddr::V6(_));
        if ip.later_fragment {
            return;
        }
        match ip.proto {
            58 => self.add("icmp_v6", Some((v6, false, 0, 0)), ip.payload),
            17 => {
                let Ok(u) = udp::parse(ip.payload) else { return };
                let either = |p: u16| u.sport == p || u.dport == p;
                let target = if either(67) || either(68) {
                    "dhcp"
                } else if either(5353) || either(5355) || either(53) {
                    "dns"
                } else if either(137) {
                    "netbios"
                } else if either(1900) {
                    "ssdp"
                } else if either(161) || either(162) {
                    "snmp"
                } else {
                    return;
                };
                self.add(target, Some((v6, false, u.sport, u.dport)), u.payload);
            }
            6 => {
                let Ok(t) = tcp::parse(ip.payload) else { return };
                let p = t.payload;
                let ports = |x: u16| t.sport == x || t.dport == x;
                let target = match p {
                    [] => return,
                    [b'S', b'S', b'H', b'-', ..] => "ssh",
                    [0x16, 0x03, ..] => "tls",
                    [hl7::MLLP_START, ..] => "hl7",
                    [1 | 2, 0, ..] => "dicom",
                    _ if http::looks_like_http(p) => "http",
                    _ if ports(21) || ports(23) => "cleartext",
                    _ => return,
                };
                self.add(target, Some((v6, true, t.sport, t.dport)), p);
            }
            _ => {}
        }
    }
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus"));
    let mut seeds = Seeds::default();
    for name in support::all_captures() {
        let frames = support::frames(&name);
        seeds.this_capture.clear();
        for (_, f) in &frames {
            seeds.frame(f);
        }
        for run in frames.chunks(TAP_RUN).take(8) {
            let mut s = Vec::new();
            for (_, f) in run {
                s.extend_from_slice(&(f.len().min(u16::MAX as usize) as u16).to_be_bytes());
                s.extend_from_slice(f);
            }
            seeds.add("tap", None, &s);
        }
    }
    for (target, (_, v)) in &seeds.by_target {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for (i, s) in v.iter().enumerate() {
            let p = dir.join(format!("seed-{i:04}"));
            std::fs::write(&p, s).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
        println!("{target:10} {:4} seeds", v.len());
    }
}
