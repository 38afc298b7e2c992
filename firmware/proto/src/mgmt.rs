//! The management protocol: what `wardtap pull` asks a tap and what the tap answers.
//!
//! Transport: a byte stream (UART, USB CDC-ACM, TCP). Each message is one COBS frame
//! ([`crate::cobs`]) ended by `0x00`. Inside a frame:
//!
//! ```text
//! tag[32] || postcard(Envelope { tap_id, counter, body })
//! tag = HMAC-SHA256(key, domain || postcard(Envelope))
//! ```
//!
//! `domain` is [`REQUEST_DOMAIN`] for requests and [`RESPONSE_DOMAIN`] for responses, so a
//! response can never be replayed to the tap as a request. The key is per tap (32 bytes,
//! written at install by `wardtap provision`). The tap checks the tag *before* decoding
//! anything, then the tap id, then that the counter is above every counter it accepted before
//! ([`Guard`]): forged, replayed and malformed requests are refused and counted, and the
//! refusal itself is signed so the host can tell a refusal from line noise. A response echoes
//! the request's counter, so the host can match it to the request it sent.
//!
//! Every message has a proven maximum size ([`MAX_FRAME`], [`MAX_WIRE_FRAME`]): the tests
//! encode the fullest value of each and compare.
//!
//! Not here on purpose: confidentiality. The link is a local management line; it carries
//! identities (the same as the summary printed on paper), never patient data.

use crate::alerts::{AlertRecord, LedgerRecord, PolicyRule};
use crate::records::{AssetRecord, Counters, EdgeRecord, TableFill};
use crate::types::Text;
use hmac::{Hmac, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Bytes of a tap's key.
pub const KEY_LEN: usize = 32;
/// Bytes of the HMAC-SHA256 tag at the front of every frame.
pub const TAG_LEN: usize = 32;
/// A tap's key.
pub type Key = [u8; KEY_LEN];

/// Domain separation for request tags.
pub const REQUEST_DOMAIN: &[u8] = b"wardtap-mgmt-v1 request\0";
/// Domain separation for response tags.
pub const RESPONSE_DOMAIN: &[u8] = b"wardtap-mgmt-v1 response\0";

/// Edge records per page.
pub const EDGES_PER_PAGE: usize = 24;
/// Alert records per page.
pub const ALERTS_PER_PAGE: usize = 6;
/// Ledger records per page.
pub const LEDGER_PER_PAGE: usize = 10;
/// Policy rules per `SetPolicy` chunk.
pub const POLICY_RULES_PER_CHUNK: usize = 16;
/// Length of the version and board strings.
pub const LABEL_LEN: usize = 24;

/// Largest envelope header: tap id (varint u32, 5) and counter (varint u64, 10), and the
/// body's enum tag (varint, 1 for fewer than 128 variants).
pub const ENVELOPE_OVERHEAD: usize = 5 + 10 + 1;
/// Largest frame before COBS: tag, envelope header and the largest body.
pub const MAX_FRAME: usize = TAG_LEN + ENVELOPE_OVERHEAD + crate::MAX_MESSAGE_LEN;
/// Largest frame on the wire: COBS encoding plus the delimiter.
pub const MAX_WIRE_FRAME: usize = crate::cobs::max_encoded_len(MAX_FRAME) + 1;

/// What the host asks.
// No allocator to box into: one fixed-size value per message is the point.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Request {
    /// Versions and identity: answered with [`Response::Hello`].
    Hello,
    /// Counters, table fill, link and NIC health: [`Response::Status`].
    Status,
    /// The asset at the first occupied slot at or after `cursor`: [`Response::Assets`].
    Assets {
        /// Slot to start from (0 for the first page; then the page's `next`).
        cursor: u16,
    },
    /// Edges from position `cursor` on: [`Response::Edges`].
    Edges {
        /// Position in the tap's edge order (0, then the page's `next`).
        cursor: u32,
    },
    /// Alerts with a sequence number above `seq`: [`Response::Alerts`].
    AlertsSince {
        /// Last sequence number already held by the host (0 for all).
        seq: u32,
    },
    /// Marks every alert up to and including `seq` as acknowledged: [`Response::Acknowledged`].
    Acknowledge {
        /// Highest sequence number the host has stored.
        seq: u32,
    },
    /// One chunk of a new policy. Chunk 0 starts a new upload; the chunk with `last` set
    /// installs the whole policy at once: [`Response::Policy`].
    SetPolicy {
        /// Chunk number, from 0, consecutive.
        chunk: u16,
        /// This is the final chunk: install.
        last: bool,
        /// The rules in this chunk.
        rules: heapless::Vec<PolicyRule, POLICY_RULES_PER_CHUNK, u8>,
    },
    /// Starts (or restarts) learning the baseline for this many seconds: [`Response::Done`].
    Learn {
        /// Learning window, seconds.
        secs: u32,
    },
    /// Ends learning now and judges from here on: [`Response::Done`].
    Lock,
    /// Connection points from position `cursor` on: [`Response::Ledger`].
    Ledger {
        /// Position in the tap's ledger order (0, then the page's `next`).
        cursor: u32,
    },
    /// Sets the tap's wall clock (it has no battery-backed clock): [`Response::Done`].
    SetClock {
        /// Now, µs since the epoch.
        epoch_us: u64,
    },
}

/// Identity and versions.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Hello {
    /// [`crate::PROTOCOL_VERSION`] of the tap.
    pub protocol_version: u16,
    /// Firmware version.
    pub firmware: Text<LABEL_LEN>,
    /// Board name.
    pub board: Text<LABEL_LEN>,
    /// Provisioned tap id.
    pub tap_id: u32,
    /// Highest request counter accepted so far (the next must be above it).
    pub last_counter: u64,
}

/// How the management link has been used (and abused).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LinkCounters {
    /// Requests accepted and answered.
    pub accepted: u32,
    /// Refused: the tag did not verify (forged, wrong key, corrupted).
    pub bad_tag: u32,
    /// Refused: the counter was not above the last accepted one (replayed or stale).
    pub replayed: u32,
    /// Refused: meant for another tap.
    pub wrong_tap: u32,
    /// Refused: the tag verified but the body did not decode, or a policy upload was out of order.
    pub malformed: u32,
    /// Frames that were not valid COBS, or shorter than a tag.
    pub bad_frame: u32,
    /// Frames longer than [`MAX_FRAME`], discarded.
    pub oversize: u32,
    /// Refused: no key provisioned.
    pub unprovisioned: u32,
}

/// What the monitor port's driver counted.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NicCounters {
    /// Frames handed to the core.
    pub frames: u64,
    /// Frames the controller dropped (its FIFO was full).
    pub dropped: u32,
    /// Frames received with an error (CRC, length, runt), not processed.
    pub errors: u32,
    /// Frames too long for the receive buffer, not processed.
    pub too_long: u32,
}

/// Everything a status display needs.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Status {
    /// Identity and versions.
    pub hello: Hello,
    /// Seconds since boot.
    pub uptime_s: u32,
    /// The tap's clock, µs since the epoch (what it stamps frames with).
    pub clock_us: u64,
    /// The core's counters.
    pub counters: Counters,
    /// The core's table fill.
    pub fill: TableFill,
    /// The management link's counters.
    pub link: LinkCounters,
    /// The monitor port's counters.
    pub nic: NicCounters,
}

/// One asset (an asset record alone can fill most of a message).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AssetPage {
    /// The asset, or none when no occupied slot is left.
    pub record: Option<AssetRecord>,
    /// Cursor for the next request; none at the end.
    pub next: Option<u16>,
}

/// A page of edges.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EdgePage {
    /// The edges.
    pub records: heapless::Vec<EdgeRecord, EDGES_PER_PAGE, u8>,
    /// Cursor for the next request; none at the end.
    pub next: Option<u32>,
}

/// A page of alerts.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AlertPage {
    /// Alerts in sequence order.
    pub records: heapless::Vec<AlertRecord, ALERTS_PER_PAGE, u8>,
    /// More alerts follow the last one here.
    pub more: bool,
}

/// A page of the connection-point ledger.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LedgerPage {
    /// Connection points.
    pub records: heapless::Vec<LedgerRecord, LEDGER_PER_PAGE, u8>,
    /// Cursor for the next request; none at the end.
    pub next: Option<u32>,
}

/// Why a request was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Refusal {
    /// The tag did not verify.
    BadTag,
    /// The counter was not above `last`.
    Replayed {
        /// The highest counter accepted so far.
        last: u64,
    },
    /// The request named another tap.
    WrongTap {
        /// This tap's id.
        tap_id: u32,
    },
    /// The body did not decode.
    Malformed,
    /// The frame was not valid COBS, too short or too long.
    BadFrame,
    /// A policy chunk out of order, or more rules than the tap holds.
    Policy,
    /// The tap has no key: provision it first.
    Unprovisioned,
    /// The tap cannot do this (e.g. this firmware has no such table yet).
    Unsupported,
}

/// What the tap answers.
// No allocator to box into: one fixed-size value per message is the point.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Response {
    /// To [`Request::Hello`].
    Hello(Hello),
    /// To [`Request::Status`].
    Status(Status),
    /// To [`Request::Assets`].
    Assets(AssetPage),
    /// To [`Request::Edges`].
    Edges(EdgePage),
    /// To [`Request::AlertsSince`].
    Alerts(AlertPage),
    /// To [`Request::Acknowledge`]: alerts up to `seq` are acknowledged.
    Acknowledged {
        /// The sequence number acknowledged up to.
        seq: u32,
    },
    /// To [`Request::SetPolicy`]: rules received so far; `installed` once the last chunk came.
    Policy {
        /// Rules staged (or installed).
        rules: u16,
        /// The policy is in force.
        installed: bool,
    },
    /// To [`Request::Ledger`].
    Ledger(LedgerPage),
    /// To [`Request::Learn`], [`Request::Lock`], [`Request::SetClock`].
    Done,
    /// The request was not carried out.
    Refused(Refusal),
}

/// What both directions carry inside the tag.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Envelope<B> {
    /// The tap the message is for (request) or from (response).
    pub tap_id: u32,
    /// Request counter (a response echoes its request's).
    pub counter: u64,
    /// The message.
    pub body: B,
}

/// Why a frame could not be sealed or opened.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrameError {
    /// Shorter than a tag.
    Short,
    /// The tag does not verify under this key and direction.
    BadTag,
    /// Tag fine, body does not decode (or has trailing bytes).
    Malformed,
    /// The output buffer is too small.
    NoRoom,
}

/// HMAC over `domain || body`. (HMAC accepts keys of any length: `None` cannot happen.)
fn mac_for(key: &Key, domain: &[u8], body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).ok()?;
    m.update(domain);
    m.update(body);
    Some(m)
}

/// Writes `tag || postcard(envelope)` into `out`; returns the length.
fn seal<B: Serialize>(key: &Key, domain: &[u8], env: &Envelope<B>, out: &mut [u8]) -> Result<usize, FrameError> {
    let (tag_buf, rest) = out.split_at_mut_checked(TAG_LEN).ok_or(FrameError::NoRoom)?;
    let n = postcard::to_slice(env, rest).map_err(|_| FrameError::NoRoom)?.len();
    let body = rest.get(..n).ok_or(FrameError::NoRoom)?;
    let tag = mac_for(key, domain, body).ok_or(FrameError::NoRoom)?.finalize().into_bytes();
    tag_buf.copy_from_slice(&tag);
    Ok(TAG_LEN + n)
}

/// Verifies the tag (in constant time) and only then decodes.
fn open<'de, B: Deserialize<'de>>(key: &Key, domain: &[u8], frame: &'de [u8]) -> Result<Envelope<B>, FrameError> {
    let (tag, body) = frame.split_at_checked(TAG_LEN).ok_or(FrameError::Short)?;
    mac_for(key, domain, body).ok_or(FrameError::BadTag)?.verify_slice(tag).map_err(|_| FrameError::BadTag)?;
    match postcard::take_from_bytes::<Envelope<B>>(body) {
        Ok((env, [])) => Ok(env),
        _ => Err(FrameError::Malformed),
    }
}

/// Seals a request (host side).
pub fn seal_request(key: &Key, tap_id: u32, counter: u64, body: &Request, out: &mut [u8]) -> Result<usize, FrameError> {
    seal(key, REQUEST_DOMAIN, &Envelope { tap_id, counter, body: body.clone() }, out)
}

/// Opens a request (tap side): tag first, then decoding. Tap id and counter are the
/// [`Guard`]'s business.
pub fn open_request(key: &Key, frame: &[u8]) -> Result<Envelope<Request>, FrameError> {
    open(key, REQUEST_DOMAIN, frame)
}

/// Seals a response (tap side).
pub fn seal_response(
    key: &Key,
    tap_id: u32,
    counter: u64,
    body: &Response,
    out: &mut [u8],
) -> Result<usize, FrameError> {
    #[derive(Serialize)]
    struct Borrowed<'a> {
        tap_id: u32,
        counter: u64,
        body: &'a Response,
    }
    // Same encoding as `Envelope<Response>` without copying the (large) body.
    let (tag_buf, rest) = out.split_at_mut_checked(TAG_LEN).ok_or(FrameError::NoRoom)?;
    let n = postcard::to_slice(&Borrowed { tap_id, counter, body }, rest).map_err(|_| FrameError::NoRoom)?.len();
    let sealed = rest.get(..n).ok_or(FrameError::NoRoom)?;
    let tag = mac_for(key, RESPONSE_DOMAIN, sealed).ok_or(FrameError::NoRoom)?.finalize().into_bytes();
    tag_buf.copy_from_slice(&tag);
    Ok(TAG_LEN + n)
}

/// Opens a response (host side).
pub fn open_response(key: &Key, frame: &[u8]) -> Result<Envelope<Response>, FrameError> {
    open(key, RESPONSE_DOMAIN, frame)
}

/// The tap's side of authentication: which requests to carry out, and the counts of those
/// refused.
#[derive(Clone, Debug)]
pub struct Guard {
    key: Option<Key>,
    tap_id: u32,
    last: u64,
    /// What was accepted and refused.
    pub counters: LinkCounters,
}

/// The guard's verdict on one frame.
// No allocator to box into: one fixed-size value per message is the point.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Verdict {
    /// Carry it out and answer with this counter.
    Accept {
        /// The request's counter, to echo.
        counter: u64,
        /// The request.
        request: Request,
    },
    /// Refuse, answering with this counter (0 when it could not be trusted).
    Refuse {
        /// Counter to echo.
        counter: u64,
        /// Why.
        refusal: Refusal,
    },
}

impl Guard {
    /// A guard for a provisioned tap (`key` some) or an unprovisioned one (every request
    /// refused). `floor` is the counter persisted across reboots, if any (0 otherwise).
    pub const fn new(key: Option<Key>, tap_id: u32, floor: u64) -> Self {
        Guard {
            key,
            tap_id,
            last: floor,
            counters: LinkCounters {
                accepted: 0,
                bad_tag: 0,
                replayed: 0,
                wrong_tap: 0,
                malformed: 0,
                bad_frame: 0,
                oversize: 0,
                unprovisioned: 0,
            },
        }
    }

    /// This tap's id.
    pub fn tap_id(&self) -> u32 {
        self.tap_id
    }

    /// Highest counter accepted.
    pub fn last_counter(&self) -> u64 {
        self.last
    }

    /// The key responses are signed with (all zeros when unprovisioned, so the host can still
    /// read "unprovisioned").
    pub fn response_key(&self) -> Key {
        self.key.unwrap_or([0; KEY_LEN])
    }

    /// Judges one decoded (de-COBSed) frame.
    pub fn check(&mut self, frame: &[u8]) -> Verdict {
        let c = &mut self.counters;
        let Some(key) = self.key.as_ref() else {
            c.unprovisioned = c.unprovisioned.saturating_add(1);
            return Verdict::Refuse { counter: 0, refusal: Refusal::Unprovisioned };
        };
        let env = match open_request(key, frame) {
            Ok(env) => env,
            Err(FrameError::Short) | Err(FrameError::NoRoom) => {
                c.bad_frame = c.bad_frame.saturating_add(1);
                return Verdict::Refuse { counter: 0, refusal: Refusal::BadFrame };
            }
            Err(FrameError::BadTag) => {
                c.bad_tag = c.bad_tag.saturating_add(1);
                return Verdict::Refuse { counter: 0, refusal: Refusal::BadTag };
            }
            Err(FrameError::Malformed) => {
                c.malformed = c.malformed.saturating_add(1);
                return Verdict::Refuse { counter: 0, refusal: Refusal::Malformed };
            }
        };
        if env.tap_id != self.tap_id {
            c.wrong_tap = c.wrong_tap.saturating_add(1);
            return Verdict::Refuse { counter: env.counter, refusal: Refusal::WrongTap { tap_id: self.tap_id } };
        }
        if env.counter <= self.last {
            c.replayed = c.replayed.saturating_add(1);
            return Verdict::Refuse { counter: env.counter, refusal: Refusal::Replayed { last: self.last } };
        }
        self.last = env.counter;
        c.accepted = c.accepted.saturating_add(1);
        Verdict::Accept { counter: env.counter, request: env.body }
    }

    /// Counts a frame the accumulator discarded (oversize or not COBS).
    pub fn count_discarded(&mut self, oversize: bool) {
        let c = &mut self.counters;
        if oversize {
            c.oversize = c.oversize.saturating_add(1);
        } else {
            c.bad_frame = c.bad_frame.saturating_add(1);
        }
    }
}

/// The key record a tap reads from its provisioning area (flash) at boot.
///
/// Layout (little-endian, 48 bytes): magic `"WTK1"`, tap id (u32), key (32 bytes), CRC-32
/// (IEEE) of the 40 bytes before it, 4 bytes zero. `wardtap provision` writes it; erased
/// flash (all `0xff`) or a bad CRC reads as "unprovisioned".
pub mod provision {
    use super::{Key, KEY_LEN};

    /// Length of the record.
    pub const RECORD_LEN: usize = 48;
    /// Its magic.
    pub const MAGIC: [u8; 4] = *b"WTK1";

    /// CRC-32 (IEEE 802.3, reflected, as zlib), bitwise: small and only run at boot.
    pub fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    /// Builds the record.
    pub fn encode(tap_id: u32, key: &Key) -> [u8; RECORD_LEN] {
        let mut r = [0u8; RECORD_LEN];
        r[0..4].copy_from_slice(&MAGIC);
        r[4..8].copy_from_slice(&tap_id.to_le_bytes());
        r[8..8 + KEY_LEN].copy_from_slice(key);
        let crc = crc32(&r[..40]);
        r[40..44].copy_from_slice(&crc.to_le_bytes());
        r
    }

    /// Reads a record: `(tap_id, key)`, or none if erased or damaged.
    pub fn decode(r: &[u8]) -> Option<(u32, Key)> {
        let head = r.get(..40)?;
        if head.get(..4)? != MAGIC {
            return None;
        }
        let crc = u32::from_le_bytes(r.get(40..44)?.try_into().ok()?);
        if crc32(head) != crc {
            return None;
        }
        let tap_id = u32::from_le_bytes(r.get(4..8)?.try_into().ok()?);
        let key: Key = r.get(8..8 + KEY_LEN)?.try_into().ok()?;
        Some((tap_id, key))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::alerts::{AlertKind, Allow, Scope, Severity};
    use crate::records::{Direction, Service, StrRecord};
    use crate::types::*;
    use std::vec;
    use std::vec::Vec;

    const KEY: Key = [7; KEY_LEN];

    fn full_text<const N: usize>() -> Text<N> {
        let mut t = Text::new();
        while t.push(0xff).is_ok() {}
        t
    }

    fn fullest_asset() -> AssetRecord {
        let mut r = AssetRecord {
            mac: Mac([0xff; 6]),
            vlan: Some(4095),
            first_seen: u64::MAX,
            last_seen: u64::MAX,
            frames_tx: u32::MAX,
            frames_rx: u32::MAX,
            bytes_tx: u64::MAX,
            bytes_rx: u64::MAX,
            ipv4: heapless::Vec::new(),
            ipv6: heapless::Vec::new(),
            class: DeviceClass::IotOther,
            evidence: full_text(),
            protocols: ProtocolSet(u32::MAX),
            services: heapless::Vec::new(),
            dhcp_prl: heapless::Vec::new(),
            cleartext: 0xff,
            strings: heapless::Vec::new(),
            dropped: u16::MAX,
        };
        while r.ipv4.push([255; 4]).is_ok() {}
        while r.ipv6.push([255; 16]).is_ok() {}
        while r.services.push(Service { transport: Transport::Other(255), port: u16::MAX }).is_ok() {}
        while r.dhcp_prl.push(255).is_ok() {}
        while r.strings.push(StrRecord { kind: StrKind::Info(InfoField::DicomSopClass), text: full_text() }).is_ok() {}
        r
    }

    fn fullest_edge() -> EdgeRecord {
        EdgeRecord {
            asset: Mac([0xff; 6]),
            peer: IpAddr::V6([0xff; 16]),
            external: true,
            transport: Transport::Other(255),
            port: u16::MAX,
            direction: Direction::Inbound,
            frames: u32::MAX,
            bytes: u64::MAX,
            first_seen: u32::MAX,
            last_seen: u32::MAX,
        }
    }

    fn fullest_alert() -> AlertRecord {
        AlertRecord {
            seq: u32::MAX,
            time: u64::MAX,
            last_time: u64::MAX,
            severity: Severity::Critical,
            kind: AlertKind::MedicalInternet,
            device: Mac([0xff; 6]),
            device_ip: Some(IpAddr::V6([0xff; 16])),
            peer: Some(IpAddr::V6([0xff; 16])),
            transport: Transport::Other(255),
            port: u16::MAX,
            count: u32::MAX,
            acknowledged: true,
            evidence: full_text(),
        }
    }

    fn fullest_ledger() -> LedgerRecord {
        LedgerRecord {
            device: Mac([0xff; 6]),
            endpoint: IpAddr::V6([0xff; 16]),
            name: full_text(),
            transport: Transport::Other(255),
            port: u16::MAX,
            direction: Direction::Inbound,
            first_seen: u32::MAX,
            last_seen: u32::MAX,
            bytes: u64::MAX,
            frames: u32::MAX,
            allowed: true,
        }
    }

    fn fullest_rule() -> PolicyRule {
        PolicyRule { scope: Scope::Mac(Mac([0xff; 6])), allow: Allow::Domain(full_text()) }
    }

    fn fullest_hello() -> Hello {
        Hello {
            protocol_version: u16::MAX,
            firmware: full_text(),
            board: full_text(),
            tap_id: u32::MAX,
            last_counter: u64::MAX,
        }
    }

    /// The largest value of every response (and request) shape.
    fn fullest_responses() -> Vec<Response> {
        let mut edges = EdgePage { records: heapless::Vec::new(), next: Some(u32::MAX) };
        while edges.records.push(fullest_edge()).is_ok() {}
        let mut alerts = AlertPage { records: heapless::Vec::new(), more: true };
        while alerts.records.push(fullest_alert()).is_ok() {}
        let mut ledger = LedgerPage { records: heapless::Vec::new(), next: Some(u32::MAX) };
        while ledger.records.push(fullest_ledger()).is_ok() {}
        let counters = Counters { frames: u64::MAX, bytes: u64::MAX, malformed: [u32::MAX; 20], ..Default::default() };
        let all = u32::MAX;
        let link = LinkCounters {
            accepted: all,
            bad_tag: all,
            replayed: all,
            wrong_tap: all,
            malformed: all,
            bad_frame: all,
            oversize: all,
            unprovisioned: all,
        };
        let f = (u16::MAX, u16::MAX);
        vec![
            Response::Hello(fullest_hello()),
            Response::Status(Status {
                hello: fullest_hello(),
                uptime_s: u32::MAX,
                clock_us: u64::MAX,
                counters: Counters {
                    vlan_too_deep: all,
                    fragments: all,
                    unhandled: all,
                    tcp_payload_skipped: all,
                    flows_evicted: all,
                    assets_evicted: all,
                    edges_evicted: all,
                    peers_evicted: all,
                    strings_dropped_full: all,
                    strings_dropped_cap: all,
                    strings_truncated: all,
                    addresses_dropped: all,
                    services_dropped: all,
                    observations_ignored: all,
                    ..counters
                },
                fill: TableFill { assets: f, edges: f, peers: f, strings: f, flows: f },
                link,
                nic: NicCounters { frames: u64::MAX, dropped: all, errors: all, too_long: all },
            }),
            Response::Assets(AssetPage { record: Some(fullest_asset()), next: Some(u16::MAX) }),
            Response::Edges(edges),
            Response::Alerts(alerts),
            Response::Acknowledged { seq: all },
            Response::Policy { rules: u16::MAX, installed: true },
            Response::Ledger(ledger),
            Response::Done,
            Response::Refused(Refusal::Replayed { last: u64::MAX }),
            Response::Refused(Refusal::WrongTap { tap_id: all }),
        ]
    }

    fn fullest_requests() -> Vec<Request> {
        let mut rules = heapless::Vec::new();
        while rules.push(fullest_rule()).is_ok() {}
        vec![
            Request::Hello,
            Request::Status,
            Request::Assets { cursor: u16::MAX },
            Request::Edges { cursor: u32::MAX },
            Request::AlertsSince { seq: u32::MAX },
            Request::Acknowledge { seq: u32::MAX },
            Request::SetPolicy { chunk: u16::MAX, last: true, rules },
            Request::Learn { secs: u32::MAX },
            Request::Lock,
            Request::Ledger { cursor: u32::MAX },
            Request::SetClock { epoch_us: u64::MAX },
        ]
    }

    #[test]
    fn every_message_fits_max_frame_and_roundtrips() {
        let mut frame = [0u8; MAX_FRAME];
        let mut wire = [0u8; MAX_WIRE_FRAME];
        let mut largest = 0;
        for r in fullest_responses() {
            // The body alone fits the message budget...
            let mut body = [0u8; crate::MAX_MESSAGE_LEN];
            let b = postcard::to_slice(&r, &mut body).unwrap_or_else(|_| panic!("{r:?} > MAX_MESSAGE_LEN")).len();
            largest = largest.max(b);
            // ...and sealed with the largest header it fits the frame and the wire buffer.
            let n = seal_response(&KEY, u32::MAX, u64::MAX, &r, &mut frame).unwrap();
            assert!(n <= MAX_FRAME);
            let w = crate::cobs::encode(&frame[..n], &mut wire).unwrap();
            assert!(w < MAX_WIRE_FRAME);
            let env = open_response(&KEY, &frame[..n]).unwrap();
            assert_eq!((env.tap_id, env.counter, &env.body), (u32::MAX, u64::MAX, &r));
        }
        for q in fullest_requests() {
            let n = seal_request(&KEY, u32::MAX, u64::MAX, &q, &mut frame).unwrap();
            assert!(n <= MAX_FRAME, "{q:?}");
            assert_eq!(open_request(&KEY, &frame[..n]).unwrap().body, q);
        }
        // Not wasteful either: the budget is used by the largest page.
        assert!(largest > crate::MAX_MESSAGE_LEN / 2, "{largest}");
    }

    fn sealed(key: &Key, tap: u32, counter: u64, q: &Request) -> Vec<u8> {
        let mut frame = [0u8; MAX_FRAME];
        let n = seal_request(key, tap, counter, q, &mut frame).unwrap();
        frame[..n].to_vec()
    }

    #[test]
    fn guard_accepts_in_order_and_refuses_replays() {
        let mut g = Guard::new(Some(KEY), 9, 0);
        let a = sealed(&KEY, 9, 5, &Request::Status);
        assert_eq!(g.check(&a), Verdict::Accept { counter: 5, request: Request::Status });
        assert_eq!(g.check(&a), Verdict::Refuse { counter: 5, refusal: Refusal::Replayed { last: 5 } });
        let older = sealed(&KEY, 9, 4, &Request::Lock);
        assert_eq!(g.check(&older), Verdict::Refuse { counter: 4, refusal: Refusal::Replayed { last: 5 } });
        let later = sealed(&KEY, 9, 1000, &Request::Lock);
        assert!(matches!(g.check(&later), Verdict::Accept { counter: 1000, .. }));
        assert_eq!(g.counters.accepted, 2);
        assert_eq!(g.counters.replayed, 2);
    }

    #[test]
    fn guard_refuses_forgeries_wrong_tap_and_garbage() {
        let mut g = Guard::new(Some(KEY), 9, 100);
        // Below the persisted floor: a request captured before a reboot.
        assert!(matches!(g.check(&sealed(&KEY, 9, 50, &Request::Status)), Verdict::Refuse { .. }));
        // Another key.
        let forged = sealed(&[8; KEY_LEN], 9, 200, &Request::Lock);
        assert_eq!(g.check(&forged), Verdict::Refuse { counter: 0, refusal: Refusal::BadTag });
        // One bit flipped anywhere.
        let good = sealed(&KEY, 9, 300, &Request::Learn { secs: 60 });
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            assert_eq!(g.check(&bad), Verdict::Refuse { counter: 0, refusal: Refusal::BadTag }, "byte {i}");
        }
        // Another tap's request, correctly signed with this key.
        let other = sealed(&KEY, 10, 400, &Request::Status);
        assert_eq!(g.check(&other), Verdict::Refuse { counter: 400, refusal: Refusal::WrongTap { tap_id: 9 } });
        // Short frames.
        assert_eq!(g.check(&[1, 2, 3]), Verdict::Refuse { counter: 0, refusal: Refusal::BadFrame });
        // A response replayed as a request.
        let mut frame = [0u8; MAX_FRAME];
        let n = seal_response(&KEY, 9, 500, &Response::Done, &mut frame).unwrap();
        assert_eq!(g.check(&frame[..n]), Verdict::Refuse { counter: 0, refusal: Refusal::BadTag });
        // None of that moved the counter: the good request still goes through.
        assert!(matches!(g.check(&good), Verdict::Accept { counter: 300, .. }));
        assert_eq!(
            (g.counters.bad_tag, g.counters.replayed, g.counters.wrong_tap, g.counters.bad_frame),
            (good.len() as u32 + 2, 1, 1, 1)
        );
    }

    #[test]
    fn signed_but_undecodable_body_is_malformed() {
        // A correctly tagged frame whose body is not a Request.
        let mut frame = vec![0u8; TAG_LEN];
        let body = [1u8, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        frame.extend_from_slice(&body);
        let tag = mac_for(&KEY, REQUEST_DOMAIN, &body).unwrap().finalize().into_bytes();
        frame[..TAG_LEN].copy_from_slice(&tag);
        let mut g = Guard::new(Some(KEY), 1, 0);
        assert_eq!(g.check(&frame), Verdict::Refuse { counter: 0, refusal: Refusal::Malformed });
        // Trailing bytes after a valid request are refused too.
        let mut ok = sealed(&KEY, 1, 1, &Request::Hello)[TAG_LEN..].to_vec();
        ok.push(0);
        let tag = mac_for(&KEY, REQUEST_DOMAIN, &ok).unwrap().finalize().into_bytes();
        let mut f = tag.to_vec();
        f.extend_from_slice(&ok);
        assert_eq!(g.check(&f), Verdict::Refuse { counter: 0, refusal: Refusal::Malformed });
        assert_eq!(g.counters.malformed, 2);
    }

    #[test]
    fn unprovisioned_tap_refuses_everything() {
        let mut g = Guard::new(None, 0, 0);
        assert_eq!(
            g.check(&sealed(&[0; KEY_LEN], 0, 1, &Request::Hello)),
            Verdict::Refuse { counter: 0, refusal: Refusal::Unprovisioned }
        );
        assert_eq!(g.response_key(), [0; KEY_LEN]);
    }

    #[test]
    fn random_bytes_never_panic_the_guard() {
        let mut g = Guard::new(Some(KEY), 1, 0);
        let mut x = 0x1234_5678u32;
        for len in 0..300 {
            let f: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            assert!(matches!(g.check(&f), Verdict::Refuse { .. }));
        }
    }

    #[test]
    fn provision_record_roundtrips_and_rejects_damage() {
        let r = provision::encode(42, &KEY);
        assert_eq!(provision::decode(&r), Some((42, KEY)));
        assert_eq!(provision::decode(&[0xff; provision::RECORD_LEN]), None);
        for i in 0..44 {
            let mut bad = r;
            bad[i] ^= 0x80;
            assert_eq!(provision::decode(&bad), None, "byte {i}");
        }
        assert_eq!(provision::decode(&r[..20]), None);
        assert_eq!(provision::crc32(b"123456789"), 0xcbf4_3926);
    }
}
