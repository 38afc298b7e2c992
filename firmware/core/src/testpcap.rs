//! Test-only capture reader (pcap and pcapng), so dissector tests use real bytes.
extern crate std;
use pcap_parser::{create_reader, Block, PcapBlockOwned, PcapError};
use std::fs::File;
use std::path::Path;
use std::vec::Vec;

/// All frames with timestamps in microseconds. Panics (test helper) on unreadable files.
pub fn read(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let f = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut r = create_reader(1 << 20, f).unwrap();
    let mut out = Vec::new();
    let mut ts_res: u64 = 1_000_000; // ticks per second (pcapng if_tsresol default 10^-6)
    let mut nanos = false;
    loop {
        match r.next() {
            Ok((off, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => nanos = h.is_nanosecond_precision(),
                    PcapBlockOwned::Legacy(b) => {
                        let sub = if nanos { b.ts_usec as u64 / 1000 } else { b.ts_usec as u64 };
                        out.push((b.ts_sec as u64 * 1_000_000 + sub, b.data[..b.caplen as usize].to_vec()));
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        ts_res = idb.ts_resolution().unwrap_or(1_000_000);
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let ticks = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
                        let us = (ticks as u128 * 1_000_000 / ts_res as u128) as u64;
                        out.push((us, epb.data[..epb.caplen as usize].to_vec()));
                    }
                    _ => {}
                }
                r.consume(off);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => r.refill().unwrap(),
            Err(e) => panic!("{}: {e:?}", path.display()),
        }
    }
    out
}
