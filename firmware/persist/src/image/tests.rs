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
    assert_eq!(MAX_IMAGE_LEN, 43_111);
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
    // A tap that never raised an alert reserved the first ALERT_SEQ_GAP numbers.
    assert_eq!((s.alerts_floor, r.alerts_floor, t.last_alert_seq()), (ALERT_SEQ_GAP, ALERT_SEQ_GAP, ALERT_SEQ_GAP));
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
        (|b| b[39] = 200, Refusal::Malformed),             // a rule longer than RULE_MAX
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
    tap.resume_alerts_after(10_000);
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
            let alerts = if got == new { 10_000 + ALERT_SEQ_GAP } else { ALERT_SEQ_GAP };
            assert_eq!((rs.alerts_floor, t.last_alert_seq()), (alerts, alerts), "cut {cut}");
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
    assert!(w.due(&tap, false), "first boot: no alert numbers reserved yet");
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

/// A format 1 image (before the alerts' floor), laid out by hand as that firmware wrote it.
fn format_1_image(link: Link, mode: Mode, rules: &[PolicyRule], entries: &[[u8; 18]]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"WTST");
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    b.extend_from_slice(&link.tap_id.to_le_bytes());
    b.extend_from_slice(&link.floor.to_le_bytes());
    b.extend_from_slice(&mode.encode());
    b.extend_from_slice(&(rules.len() as u16).to_le_bytes());
    b.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    assert_eq!(b.len(), 35);
    for r in rules {
        let body = postcard::to_allocvec(r).unwrap();
        b.push(body.len() as u8);
        b.extend_from_slice(&body);
    }
    for e in entries {
        b.extend_from_slice(e);
    }
    b
}

#[test]
fn a_format_1_image_still_restores_with_alerts_floor_0_and_the_next_save_is_format_2() {
    let mut tap = fresh();
    tap.set_policy(&rules());
    crafted(&mut tap, 40, 7);
    tap.set_mode(Mode::Locked);
    let entries: Vec<[u8; 18]> = tap.baseline_export().map(|e| e.0).collect();
    let mut f = SimFlash::<N>::new();
    save_raw(&mut f, &format_1_image(LINK, Mode::Locked, &rules(), &entries)).unwrap();
    let (mut t, o) = restored(&f);
    let Outcome::Restored(r) = o else { panic!("{o:?}") };
    assert_eq!((r.link, r.mode, r.rules, r.entries, r.refused, r.alerts_floor), (LINK, Mode::Locked, 3, 40, 0, 0));
    assert_eq!(state(&t), state(&tap), "the baseline, rules and mode survive the update");
    assert_eq!(t.last_alert_seq(), 0, "numbers as from a tap that never saved them");
    // The updated tap's first save writes format 2, with its floor, and keeps everything.
    t.resume_alerts_after(17);
    let s = save(&mut f, &t, LINK, 0).unwrap();
    assert_eq!(s.alerts_floor, 17 + ALERT_SEQ_GAP);
    assert_eq!(newest_bytes(&f).unwrap()[4..6], FORMAT_VERSION.to_le_bytes());
    assert_eq!(FORMAT_VERSION, 2);
    let (t2, o) = restored(&f);
    assert!(matches!(o, Outcome::Restored(Restored { alerts_floor: 4113, entries: 40, .. })), "{o:?}");
    assert_eq!(state(&t2), state(&tap));
    // A format 1 image whose lengths do not add up is refused like any other.
    let mut g = SimFlash::<N>::new();
    let mut bad = format_1_image(LINK, Mode::Locked, &rules(), &entries);
    bad.pop();
    save_raw(&mut g, &bad).unwrap();
    assert_eq!(restored(&g).1, Outcome::Refused(Refusal::Malformed));
    // Nor is a format 2 header taken for format 1's (its floor would be read as a rule).
    let mut h = SimFlash::<N>::new();
    save(&mut h, &tap, LINK, 0).unwrap();
    recommit(&mut h, |b| b[4] = 1);
    recommit(&mut h, |_| {});
    assert_eq!(restored(&h).1, Outcome::Refused(Refusal::Malformed));
}

#[test]
fn the_alerts_floor_round_trips_and_a_restored_tap_numbers_above_it() {
    let frames = support::frames("tls-sni-many-sites__pcapplusplus.pcap");
    let mut tap = fresh();
    tap.lock();
    for (ts, fr) in &frames[..frames.len() / 2] {
        tap.process(*ts, fr);
    }
    let last = tap.last_alert_seq();
    assert!(last > 10, "{last}");
    let mut f = SimFlash::<{ 32 * 1024 }>::new();
    let s = save(&mut f, &tap, LINK, 0).unwrap();
    assert_eq!(s.alerts_floor, last + ALERT_SEQ_GAP);
    // Alerts raised after the save (the power goes before the next one) stay below the floor.
    for (ts, fr) in &frames[frames.len() / 2..] {
        tap.process(*ts, fr);
    }
    let before = tap.last_alert_seq();
    assert!(before > last && before <= s.alerts_floor, "{before}");
    let mut back = fresh();
    let o = restore(&f, &mut back, TAP_ID);
    assert!(matches!(o, Outcome::Restored(Restored { alerts_floor, .. }) if alerts_floor == s.alerts_floor), "{o:?}");
    assert_eq!(back.mode(), Mode::Locked);
    for (ts, fr) in &frames {
        back.process(*ts, fr);
    }
    let seqs: Vec<u32> = back.alerts_since(0).map(|a| a.seq).collect();
    assert!(!seqs.is_empty());
    assert!(seqs.iter().all(|s| *s > before), "every number above the ones before the cut");
    assert_eq!(back.last_alert_seq(), s.alerts_floor + tap.counters().alerts_raised);
}

#[test]
fn saves_are_due_before_half_the_reserved_alert_numbers_are_used() {
    const HALF: u32 = ALERT_SEQ_GAP / 2;
    // First boot, nothing restored: nothing is reserved, a save is due before any alert.
    let mut tap = fresh();
    let mut w = Watch::new(&tap);
    assert!(w.due(&tap, false), "first boot");
    assert!(!w.due(&tap, false), "asked once: the floor it stores is at least 4096");
    // Numbers used up to just below half the reservation: nothing; at half: a save.
    tap.resume_alerts_after(HALF - 1);
    assert!(!w.due(&tap, false));
    tap.resume_alerts_after(HALF);
    assert!(w.due(&tap, false), "half the reservation used");
    assert!(!w.due(&tap, false), "not again while the save it asked for is under way");
    // That save stored at least HALF + GAP: the next is due at HALF + GAP - HALF = GAP.
    tap.resume_alerts_after(ALERT_SEQ_GAP - 1);
    assert!(!w.due(&tap, false));
    tap.resume_alerts_after(ALERT_SEQ_GAP + 7);
    assert!(w.due(&tap, false));
    // A configuration save also moves the floor: the next numbers reason comes later.
    tap.resume_alerts_after(ALERT_SEQ_GAP + 1500);
    assert!(w.due(&tap, true), "a change");
    tap.resume_alerts_after(ALERT_SEQ_GAP + 1500 + HALF - 1);
    assert!(!w.due(&tap, false), "the change's save reserved from 5596 on");
    // At the top of the numbers the floor cannot grow: no save every round.
    tap.resume_alerts_after(u32::MAX - 10);
    assert!(w.due(&tap, false));
    assert!(!w.due(&tap, false));
    tap.resume_alerts_after(u32::MAX);
    assert!(!w.due(&tap, false));
}

#[test]
fn a_restored_tap_saves_before_its_first_alert() {
    let mut tap = fresh();
    tap.resume_alerts_after(300);
    let mut f = SimFlash::<N>::new();
    save(&mut f, &tap, LINK, 0).unwrap();
    let (t, _) = restored(&f);
    assert_eq!(t.last_alert_seq(), 300 + ALERT_SEQ_GAP);
    // Its numbers start at the floor: nothing of the reservation is left.
    let mut w = Watch::new(&t);
    assert!(w.due(&t, false));
    assert!(!w.due(&t, false));
}

/// A TCP segment with a payload from a ward device (10.0.0.5) to outside peer `i`: in a
/// locked tap, one new alert per peer.
fn outbound(i: u32) -> Vec<u8> {
    let mut f = std::vec![0u8; 14 + 20 + 20 + 4];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 5]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&44u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&[10, 0, 0, 5]);
    ip[16..20].copy_from_slice(&[100, 64 + (i >> 16) as u8, (i >> 8) as u8, i as u8]);
    let mut sum = 0u32;
    for c in ip.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let tcp = &mut f[34..54];
    tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&5000u16.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = 0x18;
    f[54..58].copy_from_slice(b"data");
    f
}

/// Boots of a locked tap, each raising alerts and then cut short by a power cut; the host
/// reads every alert as it is raised. Returns every number read, by boot.
fn boots(alerts_per_boot: &[u32], watch_numbers: bool) -> Vec<Vec<u32>> {
    let mut f = SimFlash::<N>::new();
    let (mut peer, mut ts) = (0u32, 1_000_000u64);
    let mut read = Vec::new();
    for (boot, &n) in alerts_per_boot.iter().enumerate() {
        let mut tap = fresh();
        tap.add_subnet([10, 0, 0, 0], 8);
        let o = restore(&f, &mut tap, TAP_ID);
        assert!(matches!(o, Outcome::Restored(Restored { mode: Mode::Locked, .. })) == (boot > 0), "{o:?}");
        let mut w = Watch::new(&tap);
        // Before the first frame, as the boards do (the lock, on the first boot, is a change).
        if boot == 0 {
            tap.lock();
        }
        assert!(w.due(&tap, boot == 0), "boot {boot}: due before the first frame");
        save(&mut f, &tap, LINK, 0).unwrap();
        let first = tap.last_alert_seq();
        let mut got = Vec::new();
        while tap.last_alert_seq() - first < n {
            tap.process(ts, &outbound(peer));
            (peer, ts) = (peer + 1, ts + 1000);
            if w.due(&tap, false) && watch_numbers {
                save(&mut f, &tap, LINK, 0).unwrap();
            }
            got.extend(tap.alerts_since(got.last().copied().unwrap_or(first)).map(|a| a.seq));
        }
        // One alert per peer (and one for the device, new to each boot's tap), all read.
        assert_eq!(got.len() as u32, tap.last_alert_seq() - first, "boot {boot}");
        read.push(got);
        // The power goes: the tap is dropped without a save.
    }
    read
}

#[test]
fn alert_numbers_never_repeat_across_power_cuts() {
    // Boots raising none, a few, more than half a reservation, more than a whole one.
    let read = boots(&[300, 0, 2500, 7, 9000, 1], true);
    let mut before = 0;
    for (boot, seqs) in read.iter().enumerate() {
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "boot {boot}");
        if let Some(first) = seqs.first() {
            assert!(*first > before, "boot {boot}: {first} after {before} before the cut");
        }
        before = seqs.last().copied().unwrap_or(before);
    }
    // A restored tap's first number is just above the floor of the last save.
    assert_eq!(read[0][0], 1);
    // Boot 0 reserved 1..=4096 before its first frame and used 300 of them; boot 1 reserved
    // 4097..=8192 and used none.
    assert_eq!(read[2][0], 2 * ALERT_SEQ_GAP + 1);
    // Without the saves for the numbers' sake (at boot and on changes only), 9,000 alerts
    // outrun the boot's reservation and the next boot gives their numbers again.
    let read = boots(&[9000, 1], false);
    assert_eq!(read[1][0], ALERT_SEQ_GAP + 1, "the contrast: a repeat");
    assert!(read[0].contains(&read[1][0]));
}
