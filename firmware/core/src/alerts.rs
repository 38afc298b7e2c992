//! The alert ring: sequence-numbered records, read "since N", acknowledged explicitly.
//!
//! Rules: sequence numbers start at 1 (or after the floor given to
//! [`AlertRing::resume_after`]: a tap restored after a power cut continues above every number
//! it may have given before the cut) and only grow. A repeat of the same (kind, device,
//! peer, port) within the repeat window folds into the existing record (its count and last
//! time grow) instead of taking a new slot. When the ring is full the oldest record goes;
//! if it was not yet acknowledged the loss is counted, and a reader sees the gap in
//! sequence numbers.

use crate::config::MAX_ALERTS;
use crate::table::Hasher;
use wardtap_proto::{
    text_from, AlertKind, AlertRecord, IpAddr, Mac, Severity, Text, Thresholds, Transport, ALERT_EVIDENCE_LEN,
};

/// A new alert, before it gets a sequence number.
#[derive(Clone, Copy, Debug)]
pub struct Raise<'a> {
    /// Time, µs.
    pub time: u64,
    /// Severity.
    pub severity: Severity,
    /// Kind.
    pub kind: AlertKind,
    /// Device.
    pub device: Mac,
    /// Device address in the event.
    pub device_ip: Option<IpAddr>,
    /// Peer.
    pub peer: Option<IpAddr>,
    /// Transport.
    pub transport: Transport,
    /// Port.
    pub port: u16,
    /// Evidence parts, joined with spaces and cut to fit.
    pub evidence: &'a [&'a [u8]],
}

/// Ring counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AlertCounters {
    /// Records created.
    pub raised: u32,
    /// Repeats folded into an existing record.
    pub folded: u32,
    /// Unacknowledged records lost because the ring was full.
    pub overflow: u32,
}

/// The ring.
pub struct AlertRing {
    ring: heapless::Deque<AlertRecord, MAX_ALERTS>,
    /// [`fold_key`] of each record, in the same order: a repeat is looked for among these
    /// words and only a record whose word matches is compared field by field.
    keys: heapless::Deque<u32, MAX_ALERTS>,
    /// Last sequence number given (0: none yet).
    last_seq: u32,
    /// Repeat window; `None` is the default window (so a new ring is all zeros).
    repeat_secs: Option<u32>,
    /// Counters.
    pub counters: AlertCounters,
}

fn evidence(parts: &[&[u8]]) -> Text<ALERT_EVIDENCE_LEN> {
    let mut buf = [0u8; ALERT_EVIDENCE_LEN];
    let mut n = 0;
    for (i, p) in parts.iter().enumerate() {
        let sep: &[u8] = if i == 0 { b"" } else { b" " };
        for part in [sep, p] {
            let Some(rest) = buf.get_mut(n..) else { break };
            for (slot, &c) in rest.iter_mut().zip(part) {
                // Control bytes from the wire would confuse every reader downstream.
                *slot = if c < 0x20 || c == 0x7f { b'?' } else { c };
            }
            n += rest.len().min(part.len());
        }
    }
    text_from(&buf[..n]).0
}

/// A word that equal (kind, device, peer, port, transport) always share: records whose word
/// differs from a new alert's cannot take it as a repeat.
fn fold_key(kind: AlertKind, device: Mac, peer: Option<IpAddr>, port: u16, transport: Transport) -> u32 {
    let m = device.0;
    let mut h = Hasher::new(0);
    h.write_u32(u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
    h.write_u32(u32::from_le_bytes([m[4], m[5], kind as u8, transport.to_u8()]));
    h.write_u32(u32::from(port) | u32::from(peer.is_some()) << 16);
    if let Some(p) = peer {
        h.write_words(&p.to_bytes16());
    }
    h.finish()
}

/// Whether `rec` takes `r` as a repeat.
fn folds(rec: &AlertRecord, r: &Raise<'_>, window: u64) -> bool {
    rec.kind == r.kind
        && rec.device == r.device
        && rec.peer == r.peer
        && rec.port == r.port
        && rec.transport == r.transport
        && !rec.acknowledged
        && r.time.saturating_sub(rec.last_time) <= window
}

impl Default for AlertRing {
    fn default() -> Self {
        Self::new()
    }
}

impl AlertRing {
    /// Empty ring; repeats within [`Thresholds::DEFAULT`]'s `repeat_secs` fold.
    pub const fn new() -> Self {
        AlertRing {
            ring: heapless::Deque::new(),
            keys: heapless::Deque::new(),
            last_seq: 0,
            repeat_secs: None,
            counters: AlertCounters { raised: 0, folded: 0, overflow: 0 },
        }
    }

    /// Changes the repeat window.
    pub fn set_repeat_secs(&mut self, secs: u32) {
        self.repeat_secs = Some(secs);
    }

    /// Raises an alert (or folds it into a recent identical one). Returns its sequence number.
    pub fn raise(&mut self, r: &Raise<'_>) -> u32 {
        let window = self.repeat_secs.unwrap_or(Thresholds::DEFAULT.repeat_secs) as u64 * 1_000_000;
        let key = fold_key(r.kind, r.device, r.peer, r.port, r.transport);
        // The oldest matching record takes the repeat (as when every record was compared).
        // The keys lie in two runs (the ring wraps); each is scanned as a plain slice.
        let (a, b) = self.keys.as_slices();
        let mut hit = None;
        // Most alerts are new: one branch-free pass over the words (vector compares where
        // there are any) tells that no record shares this one, and the search is skipped.
        let shared = |keys: &[u32]| keys.iter().fold(false, |m, &k| m | (k == key));
        if shared(a) || shared(b) {
            for (i, &k) in a.iter().enumerate() {
                if k == key && self.ring.get(i).is_some_and(|rec| folds(rec, r, window)) {
                    hit = Some(i);
                    break;
                }
            }
            if hit.is_none() {
                for (j, &k) in b.iter().enumerate() {
                    let i = a.len() + j;
                    if k == key && self.ring.get(i).is_some_and(|rec| folds(rec, r, window)) {
                        hit = Some(i);
                        break;
                    }
                }
            }
        }
        if let Some(rec) = hit.and_then(|i| self.ring.get_mut(i)) {
            rec.count = rec.count.saturating_add(1);
            rec.last_time = rec.last_time.max(r.time);
            rec.severity = rec.severity.max(r.severity);
            self.counters.folded += 1;
            return rec.seq;
        }
        if self.ring.is_full() {
            self.make_room();
        }
        self.last_seq = self.last_seq.wrapping_add(1).max(1);
        let seq = self.last_seq;
        let rec = AlertRecord {
            seq,
            time: r.time,
            last_time: r.time,
            severity: r.severity,
            kind: r.kind,
            device: r.device,
            device_ip: r.device_ip,
            peer: r.peer,
            transport: r.transport,
            port: r.port,
            count: 1,
            acknowledged: false,
            evidence: evidence(r.evidence),
        };
        // Cannot fail: room was made above (the two queues always hold as many).
        let _ = self.ring.push_back(rec);
        let _ = self.keys.push_back(key);
        self.counters.raised += 1;
        seq
    }

    /// Drops the oldest record. Acknowledgement is "everything up to N", so acknowledged
    /// records are always the oldest: only dropping an unacknowledged one is a loss.
    fn make_room(&mut self) {
        let _ = self.keys.pop_front();
        if let Some(old) = self.ring.pop_front() {
            if !old.acknowledged {
                self.counters.overflow += 1;
            }
        }
    }

    /// Records with `seq > since`, oldest first.
    pub fn since(&self, since: u32) -> impl Iterator<Item = &AlertRecord> {
        self.ring.iter().filter(move |r| r.seq > since)
    }

    /// Marks every record up to and including `seq` as acknowledged; returns how many changed.
    pub fn acknowledge(&mut self, seq: u32) -> usize {
        let mut n = 0;
        for r in self.ring.iter_mut() {
            if r.seq <= seq && !r.acknowledged {
                r.acknowledged = true;
                n += 1;
            }
        }
        n
    }

    /// The sequence number the next new record will get.
    pub fn next_seq(&self) -> u32 {
        self.last_seq.wrapping_add(1).max(1)
    }

    /// The last sequence number given, or resumed after (0: none yet).
    pub fn last_seq(&self) -> u32 {
        self.last_seq
    }

    /// Continues numbering after `seq`: the next new record gets `seq + 1`. For a ring restored
    /// after a power cut, with the floor the tap saved (above every number it gave before).
    /// Never goes back: a `seq` at or below the last number given changes nothing. Records
    /// held keep their numbers, acknowledged or not.
    pub fn resume_after(&mut self, seq: u32) {
        self.last_seq = self.last_seq.max(seq);
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn with_repeat(secs: u32) -> AlertRing {
        let mut r = AlertRing::new();
        r.set_repeat_secs(secs);
        r
    }

    fn raise(ring: &mut AlertRing, t: u64, dev: u8, port: u16) -> u32 {
        ring.raise(&Raise {
            time: t,
            severity: Severity::Medium,
            kind: AlertKind::UnexpectedOutbound,
            device: Mac([2, 0, 0, 0, 0, dev]),
            device_ip: None,
            peer: Some(IpAddr::V4([198, 51, 100, 7])),
            transport: Transport::Tcp,
            port,
            evidence: &[b"sni", b"evil.example\x1b[2J"],
        })
    }

    #[test]
    fn repeats_fold_within_the_window_then_start_a_new_record() {
        let mut r = with_repeat(300);
        assert_eq!(raise(&mut r, 0, 1, 443), 1);
        assert_eq!(raise(&mut r, 10_000_000, 1, 443), 1);
        assert_eq!(raise(&mut r, 20_000_000, 1, 8443), 2);
        let a: Vec<&AlertRecord> = r.since(0).collect();
        assert_eq!((a[0].count, a[0].last_time), (2, 10_000_000));
        assert_eq!(a[0].evidence.as_slice(), b"sni evil.example?[2J");
        // After the window: a new record.
        assert_eq!(raise(&mut r, 10_000_000 + 301_000_000, 1, 443), 3);
        assert_eq!(r.counters.folded, 1);
    }

    #[test]
    fn the_oldest_matching_record_takes_a_repeat_even_once_the_ring_wrapped() {
        let mut r = with_repeat(300);
        // Out-of-order capture time: two records for one alert, both within reach of t = 500 s.
        assert_eq!(raise(&mut r, 1_000_000_000, 1, 443), 1);
        assert_eq!(raise(&mut r, 2_000_000_000, 1, 443), 2);
        assert_eq!(raise(&mut r, 500_000_000, 1, 443), 1);
        // Wrap the ring: records now start mid-storage; repeats still find theirs.
        let mut seqs = Vec::new();
        for i in 0..MAX_ALERTS as u32 + 10 {
            seqs.push(raise(&mut r, 2_000_000_000, 2, 1000 + i as u16));
        }
        let first = r.since(0).next().map(|a| a.seq);
        assert_eq!(first, Some(seqs[10]));
        for i in [10usize, 20, MAX_ALERTS + 5, MAX_ALERTS + 9] {
            assert_eq!(raise(&mut r, 2_000_000_001, 2, 1000 + i as u16), seqs[i], "record {i}");
        }
        assert_eq!(raise(&mut r, 2_000_000_001, 2, 999), seqs[MAX_ALERTS + 9] + 1);
        assert_eq!(r.counters.folded, 5);
    }

    #[test]
    fn since_and_acknowledge() {
        let mut r = with_repeat(0);
        for d in 0..5 {
            raise(&mut r, 0, d, 443);
        }
        assert_eq!(r.since(3).map(|a| a.seq).collect::<Vec<_>>(), [4, 5]);
        assert_eq!(r.acknowledge(2), 2);
        assert_eq!(r.acknowledge(2), 0);
        // An acknowledged record does not absorb repeats: the operator sees it again.
        assert_eq!(raise(&mut r, 0, 0, 443), 6);
    }

    #[test]
    fn overflow_drops_oldest_and_counts_unacknowledged_losses() {
        let mut r = with_repeat(0);
        for d in 0..MAX_ALERTS as u32 {
            raise(&mut r, d as u64, d as u8, d as u16);
        }
        r.acknowledge(10);
        raise(&mut r, 1_000, 200, 1);
        assert_eq!(r.counters.overflow, 0);
        assert!(r.since(0).all(|a| a.seq != 1));
        assert!(r.since(0).any(|a| a.seq == 2));
        for i in 0..MAX_ALERTS as u32 {
            raise(&mut r, 2_000 + i as u64, 201, 2 + i as u16);
        }
        assert!(r.counters.overflow > 0);
        assert_eq!(r.len(), MAX_ALERTS);
        // Sequence numbers stay increasing; the gap shows what was lost.
        let seqs: Vec<u32> = r.since(0).map(|a| a.seq).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_resumed_ring_numbers_after_the_floor_and_never_goes_back() {
        let mut r = with_repeat(300);
        assert_eq!((r.last_seq(), r.next_seq()), (0, 1));
        r.resume_after(0);
        assert_eq!(r.next_seq(), 1, "floor 0 (nothing saved): as a new ring");
        r.resume_after(8192);
        assert_eq!((r.last_seq(), r.next_seq()), (8192, 8193));
        assert_eq!(raise(&mut r, 0, 1, 443), 8193);
        assert_eq!(raise(&mut r, 1, 2, 443), 8194);
        // A lower floor (or the same one again) changes nothing.
        for floor in [0, 5, 8193, 8194] {
            r.resume_after(floor);
            assert_eq!(r.next_seq(), 8195, "floor {floor}");
        }
        // Repeats still fold into their record; since and acknowledge work on the new numbers.
        assert_eq!(raise(&mut r, 2, 1, 443), 8193);
        assert_eq!(raise(&mut r, 3, 3, 443), 8195);
        assert_eq!(r.since(0).map(|a| a.seq).collect::<Vec<_>>(), [8193, 8194, 8195]);
        assert_eq!(r.since(8193).map(|a| a.seq).collect::<Vec<_>>(), [8194, 8195]);
        assert_eq!(r.since(8195).count(), 0);
        assert_eq!(r.acknowledge(8194), 2);
        assert_eq!(r.acknowledge(8194), 0);
        assert!(r.since(0).all(|a| a.acknowledged == (a.seq <= 8194)));
        // A floor above records already held: they keep their numbers, new ones go above it.
        r.resume_after(20_000);
        assert_eq!(r.since(0).map(|a| a.seq).collect::<Vec<_>>(), [8193, 8194, 8195]);
        assert_eq!(raise(&mut r, 4, 4, 443), 20_001);
        assert_eq!(r.since(8195).map(|a| a.seq).collect::<Vec<_>>(), [20_001]);
        assert_eq!(r.acknowledge(20_000), 1, "8195");
        assert_eq!(r.counters.raised, 4);
    }
}
