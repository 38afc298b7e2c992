extern crate std;
use super::*;
use std::boxed::Box;
use std::vec;
use std::vec::Vec;
use wardtap_proto::mgmt::{open_response, seal_request, KEY_LEN};
use wardtap_proto::{Allow, AssetRecord, EdgeRecord, Mac, Scope, Transport};

const KEY: Key = [0x42; KEY_LEN];
const TAP: u32 = 7;

#[derive(Default)]
struct FakeBoard {
    clock: u64,
}

impl Board for FakeBoard {
    fn uptime_s(&self) -> u32 {
        3
    }
    fn clock_us(&self) -> u64 {
        self.clock
    }
    fn set_clock(&mut self, epoch_us: u64) {
        self.clock = epoch_us;
    }
    fn nic(&self) -> NicCounters {
        NicCounters { frames: 1, ..Default::default() }
    }
}

struct Rig {
    server: Box<Server>,
    tap: Box<Tap>,
    board: FakeBoard,
    counter: u64,
}

/// A UDP/IPv4 frame from host `i` (10.0.0.i) to 10.0.1.(i % 7) port 5000 + i % 3.
fn udp_frame(i: u8) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 1, i % 7]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, i]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&46u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 0, 0, i]);
    ip[16..20].copy_from_slice(&[10, 0, 1, i % 7]);
    let mut sum = 0u32;
    for c in ip.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let udp = &mut f[34..42];
    udp[0..2].copy_from_slice(&40000u16.to_be_bytes());
    udp[2..4].copy_from_slice(&(5000 + u16::from(i % 3)).to_be_bytes());
    udp[4..6].copy_from_slice(&26u16.to_be_bytes());
    f
}

impl Rig {
    fn new(key: Option<Key>) -> Rig {
        let mut tap = Box::new(Tap::new(0));
        for i in 1..=60u8 {
            tap.process(1_700_000_000_000_000 + u64::from(i) * 1000, &udp_frame(i));
        }
        Rig {
            server: Box::new(Server::new(key, TAP, 0, "test-fw", "test-board")),
            tap,
            board: FakeBoard::default(),
            counter: 0,
        }
    }

    /// Sends raw line bytes; returns every response frame the server produced, opened.
    fn line(&mut self, bytes: &[u8]) -> Vec<(u64, Response)> {
        let mut out = Vec::new();
        for &b in bytes {
            assert!(self.server.ready());
            if self.server.push(b, &mut self.tap, &mut self.board) {
                let wire = self.server.output().to_vec();
                self.server.consumed(wire.len());
                assert_eq!(wire.last(), Some(&0));
                let mut frame = vec![0u8; MAX_FRAME];
                let n = cobs::decode(&wire[..wire.len() - 1], &mut frame).unwrap();
                let key = if self.server.guard.response_key() == KEY { KEY } else { [0; KEY_LEN] };
                let env = open_response(&key, &frame[..n]).expect("responses are signed");
                assert_eq!(env.tap_id, TAP);
                out.push((env.counter, env.body));
            }
        }
        out
    }

    fn wire(key: &Key, tap: u32, counter: u64, req: &Request) -> Vec<u8> {
        let mut frame = vec![0u8; MAX_FRAME];
        let n = seal_request(key, tap, counter, req, &mut frame).unwrap();
        let mut w = vec![0u8; MAX_WIRE_FRAME];
        let m = cobs::encode(&frame[..n], &mut w).unwrap();
        w.truncate(m);
        w.push(0);
        w
    }

    fn call(&mut self, req: Request) -> Response {
        self.counter += 1;
        let w = Self::wire(&KEY, TAP, self.counter, &req);
        let mut r = self.line(&w);
        assert_eq!(r.len(), 1);
        let (counter, body) = r.remove(0);
        assert_eq!(counter, self.counter, "responses echo the request counter");
        body
    }

    fn pull_assets(&mut self) -> Vec<AssetRecord> {
        let mut out = Vec::new();
        let mut cursor = Some(0u16);
        while let Some(c) = cursor {
            let Response::Assets(p) = self.call(Request::Assets { cursor: c }) else { panic!() };
            out.extend(p.record);
            cursor = p.next;
        }
        out
    }

    fn pull_edges(&mut self) -> Vec<EdgeRecord> {
        let mut out = Vec::new();
        let mut cursor = Some(0u32);
        while let Some(c) = cursor {
            let Response::Edges(p) = self.call(Request::Edges { cursor: c }) else { panic!() };
            out.extend(p.records);
            cursor = p.next;
        }
        out
    }
}

#[test]
fn pulled_records_equal_the_taps_own() {
    let mut rig = Rig::new(Some(KEY));
    let Response::Hello(h) = rig.call(Request::Hello) else { panic!() };
    assert_eq!((h.tap_id, h.protocol_version, &h.board[..]), (TAP, PROTOCOL_VERSION, &b"test-board"[..]));
    let assets = rig.pull_assets();
    assert_eq!(assets, rig.tap.assets().collect::<Vec<_>>());
    assert!(assets.len() >= 60, "{}", assets.len());
    let edges = rig.pull_edges();
    assert!(edges.len() > EDGES_PER_PAGE, "several pages: {}", edges.len());
    assert_eq!(edges, rig.tap.edges().collect::<Vec<_>>());
    let Response::Status(s) = rig.call(Request::Status) else { panic!() };
    assert_eq!(s.counters, rig.tap.counters());
    assert_eq!(s.link.accepted, rig.counter as u32, "the status request counts itself");
}

#[test]
fn forged_replayed_and_malformed_requests_are_refused_counted_and_change_nothing() {
    let mut rig = Rig::new(Some(KEY));
    assert_eq!(rig.call(Request::Learn { secs: 60 }), Response::Done);
    let captured = Rig::wire(&KEY, TAP, rig.counter, &Request::Lock);
    // Replay of an old counter (the attacker re-sends a recorded frame with a new body: the
    // tag breaks; with the old body: the counter is stale).
    let r = rig.line(&captured);
    assert_eq!(r, vec![(rig.counter, Response::Refused(Refusal::Replayed { last: rig.counter }))]);
    // Forged: wrong key.
    let r = rig.line(&Rig::wire(&[1; KEY_LEN], TAP, 1 << 40, &Request::Lock));
    assert_eq!(r, vec![(0, Response::Refused(Refusal::BadTag))]);
    // Another tap's id.
    let r = rig.line(&Rig::wire(&KEY, TAP + 1, 1 << 41, &Request::Lock));
    assert_eq!(r, vec![(1 << 41, Response::Refused(Refusal::WrongTap { tap_id: TAP }))]);
    // Not COBS, and too long.
    let r = rig.line(&[0x05, 0x01, 0x00]);
    assert_eq!(r, vec![(0, Response::Refused(Refusal::BadFrame))]);
    let mut long = vec![0x11u8; MAX_WIRE_FRAME + 10];
    long.push(0);
    let r = rig.line(&long);
    assert_eq!(r, vec![(0, Response::Refused(Refusal::BadFrame))]);
    // None of it locked the tap, and the next honest request works.
    assert!(matches!(rig.tap.mode(), wardtap_core::policy::Mode::LearnFor { .. }), "{:?}", rig.tap.mode());
    let Response::Status(s) = rig.call(Request::Status) else { panic!() };
    assert_eq!((s.link.replayed, s.link.bad_tag, s.link.wrong_tap, s.link.bad_frame, s.link.oversize), (1, 1, 1, 1, 1));
    assert_eq!(s.link.accepted, 2);
}

#[test]
fn unprovisioned_tap_answers_only_refusals() {
    let mut rig = Rig::new(None);
    let r = rig.line(&Rig::wire(&KEY, TAP, 1, &Request::Lock));
    assert_eq!(r, vec![(0, Response::Refused(Refusal::Unprovisioned))]);
}

#[test]
fn policy_arrives_in_chunks_and_switches_at_once() {
    let mut rig = Rig::new(Some(KEY));
    let rule = |p: u16| PolicyRule { scope: Scope::Any, allow: Allow::Port { transport: Transport::Tcp, port: p } };
    let chunk = |c: u16, last: bool, from: u16| Request::SetPolicy {
        chunk: c,
        last,
        rules: (from..from + 16).map(rule).collect(),
    };
    assert_eq!(rig.call(chunk(0, false, 0)), Response::Policy { rules: 16, installed: false });
    // Out of order: the upload is dropped.
    assert_eq!(rig.call(chunk(2, false, 32)), Response::Refused(Refusal::Policy));
    assert_eq!(rig.call(chunk(1, true, 16)), Response::Refused(Refusal::Policy));
    // Again, in order.
    assert_eq!(rig.call(chunk(0, false, 0)), Response::Policy { rules: 16, installed: false });
    assert_eq!(rig.call(chunk(1, true, 16)), Response::Policy { rules: 32, installed: true });
    assert!(rig.server.take_changed());
    // More rules than the tap holds are refused whole.
    for c in 0..(MAX_POLICY_RULES / 16) as u16 {
        assert!(matches!(rig.call(chunk(c, false, 0)), Response::Policy { installed: false, .. }));
    }
    assert_eq!(rig.call(chunk((MAX_POLICY_RULES / 16) as u16, true, 0)), Response::Refused(Refusal::Policy));
}

#[test]
fn alerts_ledger_clock_and_acknowledge() {
    let mut rig = Rig::new(Some(KEY));
    assert_eq!(rig.call(Request::SetClock { epoch_us: 123 }), Response::Done);
    assert_eq!(rig.board.clock, 123);
    let Response::Alerts(p) = rig.call(Request::AlertsSince { seq: 0 }) else { panic!() };
    let n = rig.tap.alerts_since(0).count();
    assert_eq!(p.records.len(), n.min(ALERTS_PER_PAGE));
    assert_eq!(p.more, n > ALERTS_PER_PAGE);
    assert_eq!(rig.call(Request::Acknowledge { seq: u32::MAX }), Response::Acknowledged { seq: u32::MAX });
    assert!(rig.tap.alerts_since(0).all(|a| a.acknowledged));
    let Response::Ledger(l) = rig.call(Request::Ledger { cursor: 0 }) else { panic!() };
    assert_eq!(l.records.len(), rig.tap.ledger().count().min(LEDGER_PER_PAGE));
}

#[test]
fn line_noise_never_panics_and_the_link_recovers() {
    let mut rig = Rig::new(Some(KEY));
    let mut x = 0x9e37_79b9u32;
    let noise: Vec<u8> = (0..20_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let answers = rig.line(&noise);
    assert!(answers.iter().all(|(_, r)| matches!(r, Response::Refused(_))));
    // The noise ends mid-frame: a delimiter resynchronises.
    rig.line(&[0]);
    assert!(matches!(rig.call(Request::Hello), Response::Hello(_)));
    let _ = Mac::BROADCAST;
}
