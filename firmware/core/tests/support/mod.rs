//! Shared by `tests/prop.rs`, `benches/core.rs` and the examples (via `#[path]`): reads the
//! shared captures (pcap and pcapng) into memory. Test/bench helper: panics on a bad file.
#![allow(dead_code)]

use pcap_parser::{create_reader, Block, PcapBlockOwned, PcapError};
// Also compiled into the no_std core's unit tests (src/lib.rs), where the std prelude is absent.
use std::fs::File;
use std::path::{Path, PathBuf};
#[allow(unused_imports)]
use std::{borrow::ToOwned, format, string::String, string::ToString, vec, vec::Vec};

/// The mixed-LAN captures used for throughput and instruction counts.
pub const MIXED_LAN: [&str; 3] = [
    "lan-mixed-home-office__ndpi-1kxun.pcap",
    "lan-office-teams-switch__ndpi.pcap",
    "lan-mixed-services__zeek-var-services.pcap",
];

/// The synthetic hospital segment (DICOM, DHCP, SMB).
pub const HOSPITAL: &str = "dicom-dhcp-smb-hospital-synthetic__tapirxl.pcap";

/// `../shared/captures/` seen from this crate (`firmware/core`).
pub fn captures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/captures")
}

/// A capture by file name, or a path as given when it names an existing file.
pub fn capture(name: &str) -> PathBuf {
    let p = Path::new(name);
    if p.is_file() {
        p.to_path_buf()
    } else {
        captures_dir().join(name)
    }
}

/// Every `.pcap`/`.pcapng` in the shared captures, sorted by name.
pub fn all_captures() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(captures_dir())
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Every frame of a pcap or pcapng file with its timestamp in microseconds.
pub fn frames(name: &str) -> Vec<(u64, Vec<u8>)> {
    let path = capture(name);
    let f = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut r = create_reader(1 << 20, f).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    let mut out = Vec::new();
    let mut ts_res: u64 = 1_000_000;
    let mut nanos = false;
    loop {
        match r.next() {
            Ok((off, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => nanos = h.is_nanosecond_precision(),
                    PcapBlockOwned::Legacy(b) => {
                        let sub = if nanos { b.ts_usec as u64 / 1000 } else { b.ts_usec as u64 };
                        let n = (b.caplen as usize).min(b.data.len());
                        out.push((b.ts_sec as u64 * 1_000_000 + sub, b.data[..n].to_vec()));
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        ts_res = idb.ts_resolution().unwrap_or(1_000_000).max(1);
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let ticks = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
                        let us = (ticks as u128 * 1_000_000 / ts_res as u128) as u64;
                        let n = (epb.caplen as usize).min(epb.data.len());
                        out.push((us, epb.data[..n].to_vec()));
                    }
                    _ => {}
                }
                r.consume(off);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => r.refill().unwrap_or_else(|e| panic!("{}: {e:?}", path.display())),
            Err(e) => panic!("{}: {e:?}", path.display()),
        }
    }
    out
}
