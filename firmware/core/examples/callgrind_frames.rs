//! Instruction counting under valgrind: loads captures into memory, then runs every frame
//! through a fresh Tap inside `process_all` (the one function callgrind should collect).
//!
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*process_all*' \
//!     target/release/examples/callgrind_frames CAPTURE...`
//! (scripts/instructions-per-frame.sh does this and divides). Prints
//! `capture<TAB>frames` per capture. Tap construction happens outside `process_all`.
//! `--warm` first replays each capture once outside `process_all` (same frames, earlier
//! timestamps), so the measured pass sees known assets, edges and flows: the steady state.

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use wardtap_core::Tap;

/// Frames with their timestamps (µs).
type Frames = Vec<(u64, Vec<u8>)>;

/// The measured function: never inlined, so `--toggle-collect` finds it.
#[inline(never)]
fn process_all(tap: &mut Tap, frames: &Frames) -> u64 {
    for (ts, f) in frames {
        tap.process(*ts, black_box(f));
    }
    tap.counters().frames
}

fn main() {
    let mut names: Vec<String> = std::env::args().skip(1).collect();
    let warm = names.iter().any(|n| n == "--warm");
    names.retain(|n| n != "--warm");
    let loaded: Vec<(String, Frames)> = names.iter().map(|n| (n.clone(), support::frames(n))).collect();
    for (name, frames) in &loaded {
        let mut tap = Box::new(Tap::new(0));
        if warm {
            let span = frames.last().map_or(0, |f| f.0).saturating_sub(frames.first().map_or(0, |f| f.0));
            for (ts, f) in frames {
                tap.process(ts.saturating_sub(span + 1_000_000), f);
            }
        }
        let n = process_all(black_box(&mut tap), frames);
        assert_eq!(n, frames.len() as u64 * if warm { 2 } else { 1 });
        let n = frames.len();
        println!("{name}\t{n}");
    }
}
