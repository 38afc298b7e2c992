//! Shared by the fuzz targets: the input framing and the frame context.
//!
//! Dissector targets (everything except `ethernet` and `tap`) read a 5-byte prefix that
//! stands for what the lower layers would have established, then the payload:
//!
//! ```text
//! byte 0     bit 0: the frame carries IP; bit 1: IPv6 (else IPv4); bit 2: TCP (else UDP)
//! bytes 1-2  source port (big endian)
//! bytes 3-4  destination port
//! bytes 5..  the payload given to the dissector
//! ```
//!
//! An input shorter than the prefix is given whole, with no IP. `examples/fuzz_seeds.rs` in
//! the core crate writes seeds in this framing from the shared captures.
//!
//! The `tap` target reads a sequence of frames, each `[len_hi, len_lo, bytes...]` (a short
//! last frame takes what is left).
#![forbid(unsafe_code)]

use wardtap_core::fact::collect::Collect;
use wardtap_core::fact::IpCtx;
use wardtap_core::proto::{IpAddr, Mac, Transport};
use wardtap_core::FrameCtx;

/// Length of the context prefix.
pub const PREFIX: usize = 5;

/// The frame context and the payload described by a dissector target's input.
pub fn split(data: &[u8]) -> (FrameCtx, &[u8]) {
    let mut ctx = FrameCtx {
        ts: 1_700_000_000_000_000,
        frame_len: 60,
        src_mac: Mac([2, 0, 0, 0, 0, 1]),
        dst_mac: Mac([2, 0, 0, 0, 0, 2]),
        vlan: None,
        ip: None,
    };
    let Some((head, payload)) = data.split_first_chunk::<PREFIX>() else {
        return (ctx, data);
    };
    let flags = head[0];
    if flags & 1 != 0 {
        let v6 = flags & 2 != 0;
        ctx.ip = Some(IpCtx {
            src: if v6 {
                IpAddr::V6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5])
            } else {
                IpAddr::V4([10, 0, 0, 5])
            },
            dst: if v6 {
                IpAddr::V6([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
            } else {
                IpAddr::V4([10, 0, 0, 9])
            },
            transport: if flags & 4 != 0 { Transport::Tcp } else { Transport::Udp },
            sport: u16::from_be_bytes([head[1], head[2]]),
            dport: u16::from_be_bytes([head[3], head[4]]),
            tcp_flags: if flags & 4 != 0 { 0x18 } else { 0 },
            payload_len: payload.len().min(u16::MAX as usize) as u16,
            ttl: 64,
        });
    }
    ctx.frame_len = (payload.len() + 42).min(u16::MAX as usize) as u16;
    (ctx, payload)
}

/// The prefix for a context (the inverse of [`split`], for seed writers).
pub fn prefix(ip: Option<(bool, bool, u16, u16)>) -> [u8; PREFIX] {
    match ip {
        None => [0; PREFIX],
        Some((v6, tcp, sport, dport)) => {
            let s = sport.to_be_bytes();
            let d = dport.to_be_bytes();
            [1 | (v6 as u8) << 1 | (tcp as u8) << 2, s[0], s[1], d[0], d[1]]
        }
    }
}

/// A sink that renders every fact (so formatting borrowed strings is exercised too).
pub fn sink() -> Collect {
    Collect::default()
}

/// Runs a dissector entry point on a target input.
#[macro_export]
macro_rules! dissector_target {
    ($f:path) => {
        libfuzzer_sys::fuzz_target!(|data: &[u8]| {
            let (ctx, payload) = wardtap_core_fuzz::split(data);
            let mut sink = wardtap_core_fuzz::sink();
            let _ = $f(&ctx, payload, &mut sink);
        });
    };
}

/// Splits a `tap` target input into frames.
pub fn frames(mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
    core::iter::from_fn(move || {
        let (len, rest) = data.split_first_chunk::<2>()?;
        let n = (u16::from_be_bytes(*len) as usize).min(rest.len());
        let (f, rest) = rest.split_at(n);
        data = rest;
        Some(f)
    })
    .take(256)
}
