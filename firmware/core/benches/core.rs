//! Per-frame throughput of `Tap::process` over whole captures (criterion).
//!
//! `cargo bench -p wardtap-core --bench core`. Frames are read once, outside the measured
//! loop; each measured batch starts from a fresh Tap (its construction is not measured), so
//! the figure includes asset/flow table inserts as a fresh tap meets the capture.

#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use wardtap_core::Tap;

const CAPTURES: [&str; 3] =
    ["lan-mixed-home-office__ndpi-1kxun.pcap", "lan-office-teams-switch__ndpi.pcap", support::HOSPITAL];

fn tap_process(c: &mut Criterion) {
    let mut g = c.benchmark_group("tap_process");
    for name in CAPTURES {
        let frames = support::frames(name);
        g.throughput(Throughput::Elements(frames.len() as u64));
        g.bench_function(name.split("__").next().unwrap_or(name), |b| {
            b.iter_batched_ref(
                || Box::new(Tap::new(0)),
                |tap| {
                    for (ts, f) in &frames {
                        tap.process(*ts, black_box(f));
                    }
                    black_box(tap.counters().frames)
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, tap_process);
criterion_main!(benches);
