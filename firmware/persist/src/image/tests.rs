//! The image through real taps: save, power cuts at every write, restore into a fresh tap.

use super::*;
use crate::sim::SimFlash;
use crate::{load, save as save_raw, STAGE};
use std::boxed::Box;
use std::collections::{BTreeMap, BTreeSet};
use std::vec::Vec;
use wardtap_core::proto::{text_from, Allow, DeviceClass, IpAddr, Mac, Scope, Transport};

#[path = "../../../core/tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

/// Big enough for the test images, small enough for the exhaustive cut tests.
const N: usize = 4 * 1024;
const TAP_ID: u32 = 7;
const LINK: Link = Link { tap_id: TAP_ID, floor: 1234 };

fn fresh() -> Box<Tap> {
    Box::new(Tap::new(0))
}

fn rules() -> Vec<PolicyRule> {
    std::vec![
        PolicyRule { scope: Scope::Any, allow: Allow::Port { transport: Transport::Udp, port: 123 } },
        PolicyRule {
            scope: Scope::Class(DeviceClass::InfusionPump),
            allow: Allow::Domain(text_from(b"*.vendor.example").0)
        },
        PolicyRule {
            scope: Scope::Mac(Mac([0x02, 0, 0, 0, 0, 9])),
            allow: Allow::Network { addr: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 0], prefix: 120 },
        },
    ]
}

/// What a restore must bring back: rules, baseline (as a set) and mode.
fn state(tap: &Tap) -> (Vec<PolicyRule>, BTreeSet<[u8; 18]>, Mode) {
    (tap.policy_rules().to_vec(), tap.baseline_export().map(|e| e.0).collect(), tap.mode())
}

/// `n` crafted baseline entries of kind 0 (the device itself), distinct MACs.
fn crafted(tap: &mut Tap, n: usize, salt: u8) {
    for i in 0..n {
        let mut b = [0u8; 18];
        b[..6].copy_from_slice(&[0x02, salt, 0, 0, (i >> 8) as u8, i as u8]);
        assert!(tap.baseline_import(&BaselineEntry(b)), "entry {i}");
    }
}

fn restored(flash: &SimFlash<N>) -> (Box<Tap>, Outcome) {
    let mut t = fresh();
    let o = restore(flash, &mut t, TAP_ID);
    (t, o)
}

#[test]
fn the_largest_rule_fits_and_the_rules_fit_the_stack() {
    let mut name = text_from::<48>(b"").0;
    while name.push(b'x').is_ok() {}
    let r = PolicyRule { scope: Scope::Mac(Mac([0xff; 6])), allow: Allow::Domain(name) };
    let mut buf = [0u8; 256];
    let n = postcard::to_slice(&r, &mut buf).unwrap().len();
    assert!(n <= RULE_MAX, "{n}");
    assert_eq!(n, 57);
    // restore() holds MAX_POLICY_RULES of them on the stack.
    assert!(core::mem::size_of::<heapless::Vec<PolicyRule, MAX_POLICY_RULES>>() <= 5 * 1024);
    assert_eq!(MAX_IMAGE_LEN, 43_107);
}

#[test]
fn empty_flash_restores_nothing_and_an_empty_tap_round_trips() {
    let mut f = SimFlash::<N>::new();
    let (t, o) = restored(&f);
    assert_eq!(o, Outcome::Nothing);
    assert_eq!(state(&t), state(&fresh()));
    let s = save(&mut f, &fresh(), LINK, 0).unwrap();
    assert_eq!((s.slot, s.seq, s.bytes, s.rules, s.entries), (0, 1, IMAGE_HEADER_LEN as u32, 0, 0));
    let (t, o) = restored(&f);
    let Outcome::Restored(r) = o else { panic!("{o:?}") };
    assert_eq!((r.link, r.mode, r.rules, r.entries, r.refused), (LINK, Mode::Observe, 0, 0, 0));
    assert_eq!(state(&t), state(&fresh()));
}

#[test]
fn rules_baseline_mode_and_floor_round_trip() {
    let mut tap = fresh();
    tap.set_policy(&rules());
    crafted(&mut tap, 200, 1);
    for mode in [Mode::Observe, Mode::LearnFor { secs: 90 }, Mode::Locked] {
        tap.set_mode(mode);
        let mut f = SimFlash::<N>::new();
        let s = save(&mut f, &tap, LINK, 0).unwrap();
        assert_eq!((s.rules, s.entries), (3, 200));
        let (t, o) = restored(&f);
        let Outcome::Restored(r) = o else { panic!("{o:?}") };
        assert_eq!((r.link, r.mode, r.rules, r.entries, r.refused), (LINK, mode, 3, 200, 0));
        assert_eq!(state(&t), state(&tap));
        assert_eq!(t.counters().baseline_entries, 200);
    }
}

#[test]
fn a_full_tap_fits_max_image_len_and_round_trips() {
    let mut tap = fresh();
    let mut name = text_from::<48>(b"").0;
    while name.push(b'y').is_ok() {}
    let big = PolicyRule { scope: Scope::Mac(Mac([0xff; 6])), allow: Allow::Domain(name) };
    assert_eq!(tap.set_policy(&std::vec![big; MAX_POLICY_RULES]), MAX_POLICY_RULES);
    crafted(&mut tap, MAX_BASELINE, 2);
    tap.set_mode(Mode::Locked);
    let mut f = SimFlash::<{ 48 * 1024 }>::new();
    let s = save(&mut f, &tap, LINK, 0).unwrap();
    assert!(s.bytes as usize <= MAX_IMAGE_LEN, "{} > {MAX_IMAGE_LEN}", s.bytes);
    assert_eq!(s.entries as usize, MAX_BASELINE);
    let mut t = fresh();
    let o = restore(&f, &mut t, TAP_ID);
    assert!(matches!(o, Outcome::Restored(Restored { refused: 0, .. })), "{o:?}");
    assert_eq!(state(&t), state(&tap));
    // And a slot too small for it refuses the save and keeps what it had.
    let mut small = SimFlash::<N>::new();
    save(&mut small, &fresh(), LINK, 0).unwrap();
    assert_eq!(save(&mut small, &tap, LINK, 0), Err(Error::TooLarge));
    assert_eq!(restored(&small).0.baseline_export().count(), 0);
    assert!(matches!(restored(&small).1, Outcome::Restored(_)));
}

/// Rewrites the newest image's payload with `edit` as a new, validly committed copy.
fn recommit(f: &mut SimFlash<N>, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut buf = std::vec![0u8; N];
    let n = load(f, &mut buf).unwrap().unwrap();
    buf.truncate(n);
    edit(&mut buf);
    save_raw(f, &buf).unwrap();
}

#[test]
fn an_image_it_cannot_use_falls_back_to_the_older_copy() {
    let mut tap = fresh();
    tap.set_policy(&rules());
    crafted(&mut tap, 20, 3);
    tap.set_mode(Mode::Locked);
    type Edit = fn(&mut Vec<u8>);
    let cases: [(Edit, Refusal); 6] = [
        (|b| b[4] = 9, Refusal::Format(9)),
        (|b| b[6..8].copy_from_slice(&[0x77, 0]), Refusal::Protocol(0x77)),
        (|b| b[8] = 99, Refusal::OtherTap(99)),
        (|b| b[20] = 0xee, Refusal::Malformed),            // mode tag
        (|b| b[35] = 200, Refusal::Malformed),             // a rule longer than RULE_MAX
        (|b| b.truncate(b.len() - 1), Refusal::Malformed), // lengths do not add up
    ];
    for (edit, why) in cases {
        let mut f = SimFlash::<N>::new();
        save(&mut f, &tap, LINK, 0).unwrap();
        let good = state(&tap);
        recommit(&mut f, edit);
        // The newest is refused, the older (the good image) is taken.
        let (t, o) = restored(&f);
        assert!(matches!(o, Outcome::Restored(Restored { seq: 1, .. })), "{why:?}: {o:?}");
        assert_eq!(state(&t), good);
        // With both copies unusable, the tap is untouched and the reason given.
        recommit(&mut f, |_| {});
        let (t, o) = restored(&f);
        assert_eq!(o, Outcome::Refused(why));
        assert_eq!(state(&t), state(&fresh()));
    }
}

#[test]
fn an_entry_of_an_unknown_kind_is_refused_and_counted() {
    let mut tap = fresh();
    crafted(&mut tap, 5, 4);
    let mut f = SimFlash::<N>::new();
    save(&mut f, &tap, LINK, 0).unwrap();
    recommit(&mut f, |b| b[IMAGE_HEADER_LEN + 6] = 0xee);
    let (t, o) = restored(&f);
    assert!(matches!(o, Outcome::Restored(Restored { entries: 4, refused: 1, .. })), "{o:?}");
    assert_eq!(t.baseline_export().count(), 4);
}

/// The newest valid payload's bytes.
fn newest_bytes(f: &SimFlash<N>) -> Option<Vec<u8>> {
    let mut buf = std::vec![0u8; N];
    load(f, &mut buf).unwrap().map(|n| buf[..n].to_vec())
}

#[test]
fn a_cut_at_any_byte_restores_the_old_image_or_the_new_one_never_a_mix() {
    // Old: 3 rules, 60 entries, learning. New: 1 rule, 150 entries (60 + 90), locked.
    let mut tap = fresh();
    tap.set_policy(&rules());
    crafted(&mut tap, 60, 5);
    tap.set_mode(Mode::LearnFor { secs: 99 });
    let old_state = state(&tap);
    let mut base = SimFlash::<N>::new();
    save(&mut base, &tap, Link { tap_id: TAP_ID, floor: 1 }, 0).unwrap();
    let old = newest_bytes(&base).unwrap();
    tap.set_policy(&rules()[..1]);
    crafted(&mut tap, 90, 6);
    tap.set_mode(Mode::Locked);
    let new_state = state(&tap);
    let mut whole = SimFlash::<N>::new();
    whole.cells = base.cells;
    save(&mut whole, &tap, LINK, 0).unwrap();
    let new = newest_bytes(&whole).unwrap();
    assert!(new.len() > 2 * STAGE, "the new image spans several staged writes");

    // Bytes one save programs: the erase (N), the payload, the header.
    let total = N + new.len() + HEADER_LEN;
    // Write boundaries (erase done, after each staged piece, before and after the header),
    // where the tap itself is restored and compared, not only the bytes.
    let mut boundaries: BTreeSet<usize> =
        (0..=new.len().div_ceil(STAGE)).map(|k| N + (k * STAGE).min(new.len())).collect();
    boundaries.extend([0, N - 1, total - 1, total]);
    let (mut olds, mut news) = (0, 0);
    for cut in 0..=total {
        let mut f = SimFlash::<N>::new();
        f.cells = base.cells;
        f.budget = Some(cut);
        let r = save(&mut f, &tap, LINK, 0);
        f.budget = None; // power back
        let got = newest_bytes(&f).expect("never lose both copies");
        if r.is_ok() {
            assert_eq!(got, new, "cut {cut}");
        } else if cut < N + new.len() {
            assert_eq!(got, old, "cut {cut}: an unfinished save must not be taken");
        } else {
            // Cut inside the header: the new copy counts only if every byte that differs
            // from erased flash made it (then it is whole), else the old one stands.
            assert!(got == old || got == new, "cut {cut}: a mix");
        }
        if got == new {
            news += 1
        } else {
            olds += 1
        }
        if boundaries.contains(&cut) {
            let (t, o) = restored(&f);
            let Outcome::Restored(rs) = o else { panic!("cut {cut}: {o:?}") };
            let want = if got == new { &new_state } else { &old_state };
            assert_eq!(&state(&t), want, "cut {cut}");
            assert_eq!(rs.link.floor, if got == new { 1234 } else { 1 });
        }
        // The next save after the cut works.
        save(&mut f, &tap, LINK, 0).unwrap();
        assert_eq!(newest_bytes(&f).unwrap(), new);
    }
    assert!(olds >= N + new.len() && news >= 1, "{olds} {news}");
}

/// Edges outside the segment with their verdict, keyed by (device, endpoint, transport, port).
fn verdicts(tap: &Tap) -> BTreeMap<(Mac, IpAddr, Transport, u16), bool> {
    tap.ledger().map(|l| ((l.device, l.endpoint, l.transport, l.port), l.allowed)).collect()
}

/// Alerts raised after sequence `since`, as (kind, device, peer, transport, port).
fn alerts(tap: &Tap, since: u32) -> BTreeSet<std::string::String> {
    tap.alerts_since(since)
        .map(|a| std::format!("{:?} {} {:?} {:?} {}", a.kind, a.device, a.peer, a.transport, a.port))
        .collect()
}

#[test]
fn a_restored_tap_decides_like_the_one_that_learned() {
    // 146 s of one desktop's HTTPS browsing to 111 endpoints: learn on the first 100 s, lock,
    // save; restore into a fresh tap; both see the remaining traffic.
    let frames = support::frames("tls-sni-many-sites__pcapplusplus.pcap");
    let t0 = frames[0].0;
    let split = frames.iter().position(|(ts, _)| *ts >= t0 + 100_000_000).unwrap();
    let (learn, later) = frames.split_at(split);
    assert!(!later.is_empty());

    let mut tap = fresh();
    tap.set_policy(&rules());
    tap.learn_for(3600);
    for (ts, f) in learn {
        tap.process(*ts, f);
    }
    tap.lock();
    assert!(tap.baseline_export().count() > 10, "learned something");
    let mut f = SimFlash::<{ 32 * 1024 }>::new();
    let s = save(&mut f, &tap, LINK, 0).unwrap();
    let mut back = fresh();
    let o = restore(&f, &mut back, TAP_ID);
    assert!(matches!(o, Outcome::Restored(Restored { refused: 0, mode: Mode::Locked, .. })), "{o:?}");
    assert_eq!(state(&back), state(&tap));
    assert_eq!(s.entries as usize, back.baseline_export().count());

    // A tap that lost its memory, for contrast.
    let mut amnesic = fresh();
    amnesic.set_policy(&rules());
    amnesic.lock();

    let since = tap.alerts_since(0).map(|a| a.seq).max().unwrap_or(0);
    for (ts, fr) in later {
        tap.process(*ts, fr);
        back.process(*ts, fr);
        amnesic.process(*ts, fr);
    }
    // Every connection point the restored tap saw is judged as the original judges it.
    let (orig, rest, none) = (verdicts(&tap), verdicts(&back), verdicts(&amnesic));
    assert!(!rest.is_empty());
    for (k, allowed) in &rest {
        assert_eq!(orig.get(k), Some(allowed), "{k:?}");
    }
    assert!(rest.values().any(|a| *a), "some later traffic was learned");
    assert_ne!(rest, none, "the baseline changed verdicts");
    // (No alert was lost to a full ring: the sets below are complete.)
    assert!(amnesic.counters().alerts_overflow == 0 && tap.counters().alerts_overflow == 0);
    // The same alerts on the later traffic.
    let (a_orig, a_rest, a_none) = (alerts(&tap, since), alerts(&back, 0), alerts(&amnesic, 0));
    assert_eq!(a_rest, a_orig);
    assert!(
        !a_rest.is_empty() && a_rest.len() < a_none.len(),
        "the baseline spared alerts: {} {}",
        a_rest.len(),
        a_none.len()
    );
}

#[test]
fn a_learning_window_is_saved_as_the_time_it_has_left() {
    let mut tap = fresh();
    tap.set_mode(Mode::Learning { until: 50_000_000 });
    let mut f = SimFlash::<N>::new();
    save(&mut f, &tap, LINK, 20_000_001).unwrap();
    let (t, _) = restored(&f);
    assert_eq!(t.mode(), Mode::LearnFor { secs: 30 });
    assert_eq!(saved_mode(Mode::Learning { until: 5 }, 10), Mode::LearnFor { secs: 0 });
    assert_eq!(saved_mode(Mode::Learning { until: u64::MAX }, 0), Mode::LearnFor { secs: u32::MAX });
    for m in [Mode::Observe, Mode::LearnFor { secs: 3 }, Mode::Locked] {
        assert_eq!(saved_mode(m, 77), m);
    }
}

#[test]
fn saves_are_due_on_changes_and_when_learning_ends_by_itself() {
    let mut tap = fresh();
    let mut w = Watch::new(&tap);
    assert!(!w.due(&tap, false));
    assert!(w.due(&tap, true));
    tap.learn_for(1);
    assert!(w.due(&tap, true), "learning started (a request)");
    tap.process(1_000_000, &[0u8; 60]);
    assert!(matches!(tap.mode(), Mode::Learning { .. }));
    assert!(!w.due(&tap, false), "the window opening is not a change worth a sector erase");
    tap.process(2_000_001, &[0u8; 60]);
    assert_eq!(tap.mode(), Mode::Locked);
    assert!(w.due(&tap, false), "the window closed");
    assert!(!w.due(&tap, false), "once");
}
