//! The tap's side of the management link, independent of the board: bytes from the UART
//! (or USB, or TCP) in, signed responses out, the [`Tap`] consulted and steered in between.
//!
//! - Requests are authenticated by [`wardtap_proto::mgmt::Guard`] before anything in them is
//!   decoded; refusals are answered (signed) and counted, and never change the tap.
//! - Work per request is bounded: one asset, or one page of edges, alerts or ledger entries,
//!   found by a scan bounded by the table sizes. Frame processing resumes between requests,
//!   and while a response drains to a slow line the board keeps processing frames
//!   ([`Server::output`] hands out what the line can take).
//! - A new policy arrives in chunks and is staged here; the tap switches to it at once when
//!   the last chunk arrives, never to half a policy.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use wardtap_core::config::{MAX_ASSETS, MAX_POLICY_RULES};
use wardtap_core::Tap;
use wardtap_proto::cobs::{self, Accumulator, Feed};
use wardtap_proto::mgmt::{
    self, AlertPage, AssetPage, EdgePage, Guard, Hello, Key, LedgerPage, LinkCounters, NicCounters, Refusal, Request,
    Response, Status, Verdict, ALERTS_PER_PAGE, EDGES_PER_PAGE, LABEL_LEN, LEDGER_PER_PAGE, MAX_FRAME, MAX_WIRE_FRAME,
};
use wardtap_proto::{text_from, PolicyRule, Text, PROTOCOL_VERSION};

/// What the server needs from the board besides the tap.
pub trait Board {
    /// Seconds since boot.
    fn uptime_s(&self) -> u32;
    /// The clock frames are stamped with, µs since the epoch.
    fn clock_us(&self) -> u64;
    /// Sets that clock (the host knows the time; the board has no battery-backed clock).
    fn set_clock(&mut self, epoch_us: u64);
    /// The monitor port's counters.
    fn nic(&self) -> NicCounters;
}

/// The management server. About 12 KiB: place it in a `static` or on `main`'s stack.
pub struct Server {
    guard: Guard,
    rx: Accumulator<MAX_WIRE_FRAME>,
    policy: heapless::Vec<PolicyRule, MAX_POLICY_RULES>,
    /// The chunk number expected next; none when no upload is in progress.
    next_chunk: Option<u16>,
    firmware: Text<LABEL_LEN>,
    board: Text<LABEL_LEN>,
    frame: [u8; MAX_FRAME],
    out: [u8; MAX_WIRE_FRAME],
    out_len: usize,
    out_pos: usize,
    /// Set when an accepted request changed the tap's configuration (policy, learning):
    /// the board saves it, with the counter floor (`wardtap_persist::image`).
    changed: bool,
}

impl Server {
    /// A server for a tap provisioned with `key` (none: unprovisioned, every request
    /// refused) and `tap_id`. `floor` is the highest request counter accepted before the
    /// last reboot, if the board persists it (0 otherwise).
    pub fn new(key: Option<Key>, tap_id: u32, floor: u64, firmware: &str, board: &str) -> Self {
        Server {
            guard: Guard::new(key, tap_id, floor),
            rx: Accumulator::new(),
            policy: heapless::Vec::new(),
            next_chunk: None,
            firmware: text_from(firmware.as_bytes()).0,
            board: text_from(board.as_bytes()).0,
            frame: [0; MAX_FRAME],
            out: [0; MAX_WIRE_FRAME],
            out_len: 0,
            out_pos: 0,
            changed: false,
        }
    }

    /// The link's counters.
    pub fn counters(&self) -> LinkCounters {
        self.guard.counters
    }

    /// Highest request counter accepted.
    pub fn last_counter(&self) -> u64 {
        self.guard.last_counter()
    }

    /// Whether an accepted request changed the tap's configuration since the last call
    /// (then the board saves the tap's image, with [`Server::last_counter`] as the new floor).
    pub fn take_changed(&mut self) -> bool {
        core::mem::take(&mut self.changed)
    }

    /// The server takes input only when its last response has gone out: a host that does
    /// not read its answers cannot make the tap buffer without bound.
    pub fn ready(&self) -> bool {
        self.out_pos >= self.out_len
    }

    /// Bytes of the pending response still to send (empty when none).
    pub fn output(&self) -> &[u8] {
        self.out.get(self.out_pos..self.out_len).unwrap_or(&[])
    }

    /// Marks `n` bytes of [`Server::output`] as sent.
    pub fn consumed(&mut self, n: usize) {
        self.out_pos = self.out_pos.saturating_add(n).min(self.out_len);
    }

    /// Takes one byte from the line. Returns true when it completed a request and a
    /// response is now pending in [`Server::output`]. Call only when [`Server::ready`].
    pub fn push(&mut self, byte: u8, tap: &mut Tap, board: &mut impl Board) -> bool {
        match self.rx.push(byte) {
            Feed::Pending => false,
            Feed::Overflow => {
                self.guard.count_discarded(true);
                self.send(0, &Response::Refused(Refusal::BadFrame));
                true
            }
            Feed::Invalid => {
                self.guard.count_discarded(false);
                self.send(0, &Response::Refused(Refusal::BadFrame));
                true
            }
            Feed::Frame(_) => {
                let verdict = self.guard.check(self.rx.frame());
                match verdict {
                    Verdict::Refuse { counter, refusal } => self.send(counter, &Response::Refused(refusal)),
                    Verdict::Accept { counter, request } => {
                        let response = self.serve(request, tap, board);
                        self.send(counter, &response);
                    }
                }
                true
            }
        }
    }

    fn serve(&mut self, request: Request, tap: &mut Tap, board: &mut impl Board) -> Response {
        match request {
            Request::Hello => Response::Hello(self.hello()),
            Request::Status => Response::Status(Status {
                hello: self.hello(),
                uptime_s: board.uptime_s(),
                clock_us: board.clock_us(),
                counters: tap.counters(),
                fill: tap.fill(),
                link: self.guard.counters,
                nic: board.nic(),
            }),
            Request::Assets { cursor } => {
                let mut page = AssetPage { record: None, next: None };
                // Bounded by the table size; empty slots are skipped here, not on the line.
                for slot in usize::from(cursor)..MAX_ASSETS {
                    let Ok(s) = u16::try_from(slot) else { break };
                    if let Some(r) = tap.inventory().record(s) {
                        page.record = Some(r);
                        page.next = u16::try_from(slot + 1).ok().filter(|n| usize::from(*n) < MAX_ASSETS);
                        break;
                    }
                }
                Response::Assets(page)
            }
            Request::Edges { cursor } => {
                let mut page = EdgePage { records: heapless::Vec::new(), next: None };
                let mut it = tap.edges().skip(cursor as usize);
                for e in it.by_ref().take(EDGES_PER_PAGE) {
                    let _ = page.records.push(e);
                }
                if it.next().is_some() {
                    page.next = cursor.checked_add(EDGES_PER_PAGE as u32);
                }
                Response::Edges(page)
            }
            Request::AlertsSince { seq } => {
                let mut page = AlertPage { records: heapless::Vec::new(), more: false };
                let mut it = tap.alerts_since(seq);
                for a in it.by_ref().take(ALERTS_PER_PAGE) {
                    let _ = page.records.push(a.clone());
                }
                page.more = it.next().is_some();
                Response::Alerts(page)
            }
            Request::Acknowledge { seq } => {
                tap.acknowledge(seq);
                Response::Acknowledged { seq }
            }
            Request::Ledger { cursor } => {
                let mut page = LedgerPage { records: heapless::Vec::new(), next: None };
                let mut it = tap.ledger().skip(cursor as usize);
                for l in it.by_ref().take(LEDGER_PER_PAGE) {
                    let _ = page.records.push(l);
                }
                if it.next().is_some() {
                    page.next = cursor.checked_add(LEDGER_PER_PAGE as u32);
                }
                Response::Ledger(page)
            }
            Request::SetPolicy { chunk, last, rules } => {
                if chunk == 0 {
                    self.policy.clear();
                    self.next_chunk = Some(0);
                }
                if self.next_chunk != Some(chunk) || self.policy.extend_from_slice(&rules).is_err() {
                    // Out of order or too many rules: drop the upload, keep the policy in force.
                    self.policy.clear();
                    self.next_chunk = None;
                    return Response::Refused(Refusal::Policy);
                }
                self.next_chunk = chunk.checked_add(1);
                let staged = u16::try_from(self.policy.len()).unwrap_or(u16::MAX);
                if !last {
                    return Response::Policy { rules: staged, installed: false };
                }
                let taken = tap.set_policy(&self.policy);
                self.policy.clear();
                self.next_chunk = None;
                self.changed = true;
                Response::Policy { rules: u16::try_from(taken).unwrap_or(u16::MAX), installed: true }
            }
            Request::Learn { secs } => {
                tap.learn_for(secs);
                self.changed = true;
                Response::Done
            }
            Request::Lock => {
                tap.lock();
                self.changed = true;
                Response::Done
            }
            Request::SetClock { epoch_us } => {
                board.set_clock(epoch_us);
                Response::Done
            }
        }
    }

    fn hello(&self) -> Hello {
        Hello {
            protocol_version: PROTOCOL_VERSION,
            firmware: self.firmware.clone(),
            board: self.board.clone(),
            tap_id: self.guard.tap_id(),
            last_counter: self.guard.last_counter(),
        }
    }

    /// Seals, frames and queues a response. Every response fits (proven in
    /// `wardtap_proto::mgmt`'s tests); if one ever did not, a refusal goes out instead.
    fn send(&mut self, counter: u64, response: &Response) {
        let key = self.guard.response_key();
        let tap_id = self.guard.tap_id();
        let refusal = Response::Refused(Refusal::Unsupported);
        let n = mgmt::seal_response(&key, tap_id, counter, response, &mut self.frame)
            .or_else(|_| mgmt::seal_response(&key, tap_id, counter, &refusal, &mut self.frame))
            .unwrap_or_default();
        self.out_pos = 0;
        self.out_len = 0;
        let Some(frame) = self.frame.get(..n) else { return };
        if let Ok(w) = cobs::encode(frame, &mut self.out) {
            if let Some(d) = self.out.get_mut(w) {
                *d = 0;
                self.out_len = w + 1;
            }
        }
    }
}

#[cfg(test)]
mod tests;
