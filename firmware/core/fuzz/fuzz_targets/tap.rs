//! Whole frames into a fresh Tap (input framing: see the crate docs). After every frame no
//! table is fuller than its capacity and every frame is counted; the inventory reads back.
#![no_main]
use wardtap_core::Tap;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut tap = Box::new(Tap::new(0));
    let mut n = 0u64;
    for (i, frame) in wardtap_core_fuzz::frames(data).enumerate() {
        tap.process(1_700_000_000_000_000 + i as u64 * 1000, frame);
        n += 1;
        let f = tap.fill();
        for (name, (used, cap)) in
            [("assets", f.assets), ("edges", f.edges), ("peers", f.peers), ("strings", f.strings), ("flows", f.flows)]
        {
            assert!(used <= cap, "{name}: {used} > {cap}");
        }
        assert_eq!(tap.counters().frames, n);
    }
    for a in tap.assets() {
        assert!(a.first_seen <= a.last_seen);
    }
    let _ = tap.edges().count();
});
