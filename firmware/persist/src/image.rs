//! The image a tap saves in one slot: what it must not forget across a power cut.
//!
//! Saved: the learned baseline, the policy rules, the learning mode, the management link's
//! request-counter floor (with the tap id it belongs to, so that requests captured before a
//! reboot stay refused), and the alerts' sequence floor. Not saved: the inventory, edges,
//! alerts and counters, which the traffic rebuilds, and the detection thresholds (fixed in
//! the firmware).
//!
//! The alerts' sequence floor: the host keys alerts by (tap, sequence number), so numbers
//! must not start again at 1 after a power cut. A save stores the last number given plus
//! [`ALERT_SEQ_GAP`] (a reservation: alerts raised after the save take numbers below it); a
//! restored tap numbers its alerts from above it; and [`Watch`] has the board save again
//! when half the reservation is used, so numbers never repeat unless more than half of
//! [`ALERT_SEQ_GAP`] alerts are raised while that save is under way (or it fails). A restored
//! tap has nothing left of its reservation (its numbers start at the floor): the boards save
//! before their first frame.
//!
//! Layout (all integers little-endian), streamed into a [`Writer`] so that no more than
//! [`STAGE`](crate::STAGE) bytes of it are in RAM at once:
//!
//! | offset | bytes | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `WTST` |
//! | 4 | 2 | [`FORMAT_VERSION`] |
//! | 6 | 2 | the management protocol's `PROTOCOL_VERSION` (the rules' postcard shape) |
//! | 8 | 4 | tap id |
//! | 12 | 8 | link request-counter floor |
//! | 20 | 9 | mode ([`Mode::encode`] of [`saved_mode`]) |
//! | 29 | 2 | rule count (≤ `MAX_POLICY_RULES`) |
//! | 31 | 4 | baseline entry count |
//! | 35 | 4 | alerts' sequence floor (format 2 on; none in format 1) |
//! | 39 | … | each rule: its length (1 byte, ≤ [`RULE_MAX`]) then its postcard encoding |
//! | … | 18 × count | baseline entries ([`BaselineEntry`]) |
//!
//! Format 1 (before the alerts' floor; its header ends at offset 35, the rules follow) is
//! still read, as floor 0, so that a tap updated in the field keeps its baseline.
//!
//! Restoring takes the newest valid slot whose image this firmware understands (format 2 or
//! 1, the same protocol version, the same tap id, rules that decode, lengths that add up),
//! else the other slot, else nothing. Everything is checked before the tap is touched except
//! the baseline entries themselves, which are imported one by one (the slot's CRC vouches
//! for them; an entry of an unknown kind is refused by the core and counted here).

use crate::{valid, Error, Flash, Found, Target, Writer, HEADER_LEN};
use wardtap_core::config::{MAX_BASELINE, MAX_POLICY_RULES};
use wardtap_core::policy::{BaselineEntry, Mode};
use wardtap_core::proto::{PolicyRule, PROTOCOL_VERSION};
use wardtap_core::Tap;

/// Image magic.
pub const IMAGE_MAGIC: [u8; 4] = *b"WTST";
/// Version of this layout (written by every save).
pub const FORMAT_VERSION: u16 = 2;
/// The previous layout, still restored: no alerts' floor (read as 0).
pub const FORMAT_VERSION_1: u16 = 1;
/// Bytes of the image header (before the rules).
pub const IMAGE_HEADER_LEN: usize = 39;
/// Bytes of a format 1 image's header.
pub const IMAGE_HEADER_LEN_1: usize = 35;
/// Alert sequence numbers reserved by a save beyond the last one given (see the module doc).
/// 4,096 per boot at most: a tap could reboot a million times before its numbers wrap.
pub const ALERT_SEQ_GAP: u32 = 4096;
/// Largest postcard encoding of one rule (the largest today is 57 bytes: a MAC scope and a
/// 48-byte domain; tested).
pub const RULE_MAX: usize = 96;
/// Largest image at this build's capacities (43,107 bytes at the default ones).
pub const MAX_IMAGE_LEN: usize =
    IMAGE_HEADER_LEN + MAX_POLICY_RULES * (1 + RULE_MAX) + MAX_BASELINE * BaselineEntry::LEN;
/// Baseline entries read from flash at once when restoring (252 bytes of stack).
const ENTRIES_PER_READ: usize = 14;

mod field {
    use core::ops::Range;
    pub const MAGIC: Range<usize> = 0..4;
    pub const FORMAT: Range<usize> = 4..6;
    pub const PROTOCOL: Range<usize> = 6..8;
    pub const TAP_ID: Range<usize> = 8..12;
    pub const FLOOR: Range<usize> = 12..20;
    pub const MODE: Range<usize> = 20..29;
    pub const RULES: Range<usize> = 29..31;
    pub const ENTRIES: Range<usize> = 31..35;
    pub const ALERTS: Range<usize> = 35..39;
}

/// The management link's state that must survive a reboot.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Link {
    /// The tap id the floor belongs to (a re-provisioned tap with another id starts afresh).
    pub tap_id: u32,
    /// Highest request counter accepted.
    pub floor: u64,
}

/// What a save wrote.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Saved {
    /// Slot written.
    pub slot: u8,
    /// Its sequence number.
    pub seq: u32,
    /// Image bytes.
    pub bytes: u32,
    /// Rules saved.
    pub rules: u16,
    /// Baseline entries saved.
    pub entries: u32,
    /// The alerts' sequence floor saved.
    pub alerts_floor: u32,
}

/// What a restore put back.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Restored {
    /// Slot read.
    pub slot: u8,
    /// Its sequence number.
    pub seq: u32,
    /// The link's floor.
    pub link: Link,
    /// The mode restored.
    pub mode: Mode,
    /// Rules in force now.
    pub rules: u16,
    /// Baseline entries imported.
    pub entries: u32,
    /// Baseline entries refused (baseline full in this build, or a kind it does not know).
    pub refused: u32,
    /// The alerts' sequence floor: the tap's next alert is numbered above it (0 from a
    /// format 1 image).
    pub alerts_floor: u32,
}

/// Why a valid slot's image was not used.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Refusal {
    /// Written for another tap id.
    OtherTap(u32),
    /// Another layout version.
    Format(u16),
    /// Another management protocol version (the rules' encoding may differ).
    Protocol(u16),
    /// Not an image, or its lengths, mode or rules do not decode.
    Malformed,
    /// The flash failed while reading it.
    Flash,
}

/// The outcome of [`restore`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Outcome {
    /// The tap holds the saved baseline, rules and mode, and numbers its alerts above the
    /// saved floor.
    Restored(Restored),
    /// No valid slot: first boot, or both copies damaged. The tap is untouched.
    Nothing,
    /// Valid slots, none usable: why the newest was refused. The tap is untouched.
    Refused(Refusal),
}

/// Saves the tap's baseline, rules and mode, the link's floor and the alerts' floor
/// ([`alerts_floor`] of its last alert sequence number) as the newest copy: erases
/// the other slot, streams the image in, commits it. `now_us` is the clock the tap's frames
/// are stamped with: a learning window in progress is saved as the time it has left
/// ([`saved_mode`]).
pub fn save<F: Flash>(flash: &mut F, tap: &Tap, link: Link, now_us: u64) -> Result<Saved, Error> {
    let w = Writer::begin(flash)?;
    stream(w, tap, link, now_us)
}

/// As [`save`], into a slot the caller erased itself ([`Writer::on_erased`]).
pub fn save_erased<F: Flash>(
    flash: &mut F,
    target: Target,
    tap: &Tap,
    link: Link,
    now_us: u64,
) -> Result<Saved, Error> {
    stream(Writer::on_erased(flash, target), tap, link, now_us)
}

/// The mode as saved. A learning window's end is a time on the board's clock, which starts
/// again from boot (until the host sets it) after a power cut: saved as such it could mean
/// learning for decades, or not at all. It is saved as the whole seconds it has left at
/// `now_us`, counted again from the first frame after the restore.
pub fn saved_mode(mode: Mode, now_us: u64) -> Mode {
    match mode {
        Mode::Learning { until } => {
            let left = until.saturating_sub(now_us).div_ceil(1_000_000);
            Mode::LearnFor { secs: u32::try_from(left).unwrap_or(u32::MAX) }
        }
        m => m,
    }
}

/// The alerts' sequence floor a save stores for a tap whose last alert number is `last_seq`.
pub fn alerts_floor(last_seq: u32) -> u32 {
    last_seq.saturating_add(ALERT_SEQ_GAP)
}

/// When a board saves: after the link accepted a configuration change (a policy, learning
/// started or locked), when a learning window ends by itself, and when the alerts have used
/// half the sequence numbers the last save reserved (see the module doc).
#[derive(Clone, Copy, Debug)]
pub struct Watch {
    learning: bool,
    /// The alerts' floor of the last save asked for (at least what it stores: the last
    /// number only grows until the board takes the image), or of the image restored.
    alerts_floor: u32,
}

impl Watch {
    /// Watching `tap` from its current mode. Call it right after [`restore`], before the
    /// first frame: the tap's last alert number is then the floor the flash holds (0 when
    /// nothing was restored), so a save is due at once (the restored reservation is used up).
    pub fn new(tap: &Tap) -> Self {
        Watch { learning: learning(tap.mode()), alerts_floor: tap.last_alert_seq() }
    }

    /// Call once per main-loop round with the link's `take_changed()`; true when a save is
    /// due. A save that then fails is not asked for again until the next reason.
    pub fn due(&mut self, tap: &Tap, changed: bool) -> bool {
        let mode = tap.mode();
        let locked_itself = self.learning && mode == Mode::Locked;
        self.learning = learning(mode);
        let last = tap.last_alert_seq();
        let floor = alerts_floor(last);
        // Half the reservation used, and a save would move the floor (not when saturated).
        let numbers_running_out =
            last >= self.alerts_floor.saturating_sub(ALERT_SEQ_GAP / 2) && floor > self.alerts_floor;
        let due = changed || locked_itself || numbers_running_out;
        if due {
            self.alerts_floor = self.alerts_floor.max(floor);
        }
        due
    }
}

fn learning(m: Mode) -> bool {
    matches!(m, Mode::LearnFor { .. } | Mode::Learning { .. })
}

fn stream<F: Flash>(mut w: Writer<'_, F>, tap: &Tap, link: Link, now_us: u64) -> Result<Saved, Error> {
    let rules = tap.policy_rules();
    let rule_count = u16::try_from(rules.len()).map_err(|_| Error::TooLarge)?;
    // Counted first so the header can lead; bounded by the baseline's capacity.
    let entries = u32::try_from(tap.baseline_export().count()).map_err(|_| Error::TooLarge)?;
    let alerts = alerts_floor(tap.last_alert_seq());
    let mut h = [0u8; IMAGE_HEADER_LEN];
    put(&mut h, field::MAGIC, &IMAGE_MAGIC);
    put(&mut h, field::FORMAT, &FORMAT_VERSION.to_le_bytes());
    put(&mut h, field::PROTOCOL, &PROTOCOL_VERSION.to_le_bytes());
    put(&mut h, field::TAP_ID, &link.tap_id.to_le_bytes());
    put(&mut h, field::FLOOR, &link.floor.to_le_bytes());
    put(&mut h, field::MODE, &saved_mode(tap.mode(), now_us).encode());
    put(&mut h, field::RULES, &rule_count.to_le_bytes());
    put(&mut h, field::ENTRIES, &entries.to_le_bytes());
    put(&mut h, field::ALERTS, &alerts.to_le_bytes());
    w.write(&h)?;
    for r in rules {
        let mut buf = [0u8; 1 + RULE_MAX];
        let (len, body) = buf.split_at_mut(1);
        let n = postcard::to_slice(r, body).map_err(|_| Error::TooLarge)?.len();
        if let Some(l) = len.first_mut() {
            *l = u8::try_from(n).map_err(|_| Error::TooLarge)?;
        }
        w.write(buf.get(..1 + n).ok_or(Error::TooLarge)?)?;
    }
    let mut written = 0u32;
    // The same iteration as the count above: nothing changes the tap in between.
    for e in tap.baseline_export().take(entries as usize) {
        w.write(&e.0)?;
        written += 1;
    }
    if written != entries {
        return Err(Error::Verify);
    }
    let bytes = u32::try_from(w.len()).map_err(|_| Error::TooLarge)?;
    let Found { slot, seq, .. } = w.finish()?;
    Ok(Saved { slot, seq, bytes, rules: rule_count, entries, alerts_floor: alerts })
}

fn put(h: &mut [u8; IMAGE_HEADER_LEN], at: core::ops::Range<usize>, v: &[u8]) {
    if let Some(d) = h.get_mut(at) {
        d.copy_from_slice(v);
    }
}

/// Sequential reads of one slot's payload.
struct Reader<'a, F: Flash> {
    flash: &'a F,
    slot: u8,
    at: usize,
    end: usize,
}

impl<F: Flash> Reader<'_, F> {
    fn read(&mut self, buf: &mut [u8]) -> Result<(), Refusal> {
        let next = self.at.checked_add(buf.len()).filter(|n| *n <= self.end).ok_or(Refusal::Malformed)?;
        self.flash.read(self.slot, HEADER_LEN + self.at, buf).map_err(|_| Refusal::Flash)?;
        self.at = next;
        Ok(())
    }
    fn left(&self) -> usize {
        self.end.saturating_sub(self.at)
    }
}

/// A checked image, not yet applied.
struct Checked {
    link: Link,
    mode: Mode,
    entries: u32,
    alerts_floor: u32,
    /// Payload offset of the first baseline entry.
    entries_at: usize,
}

fn field_of<const N: usize>(h: &[u8; IMAGE_HEADER_LEN], at: core::ops::Range<usize>) -> [u8; N] {
    h.get(at).and_then(|b| b.try_into().ok()).unwrap_or([0; N])
}

/// Reads and checks one slot's header and rules (into `rules`).
fn check<F: Flash>(
    flash: &F,
    f: Found,
    tap_id: u32,
    rules: &mut heapless::Vec<PolicyRule, MAX_POLICY_RULES>,
) -> Result<Checked, Refusal> {
    rules.clear();
    let mut r = Reader { flash, slot: f.slot, at: 0, end: f.len };
    let mut h = [0u8; IMAGE_HEADER_LEN];
    // Format 1's header first (a prefix of format 2's); format 2's floor after it.
    r.read(h.get_mut(..IMAGE_HEADER_LEN_1).ok_or(Refusal::Malformed)?)?;
    if field_of::<4>(&h, field::MAGIC) != IMAGE_MAGIC {
        return Err(Refusal::Malformed);
    }
    let format = u16::from_le_bytes(field_of(&h, field::FORMAT));
    match format {
        FORMAT_VERSION => r.read(h.get_mut(IMAGE_HEADER_LEN_1..).ok_or(Refusal::Malformed)?)?,
        FORMAT_VERSION_1 => {} // no floor: 0, as a tap that never saved one
        _ => return Err(Refusal::Format(format)),
    }
    let protocol = u16::from_le_bytes(field_of(&h, field::PROTOCOL));
    if protocol != PROTOCOL_VERSION {
        return Err(Refusal::Protocol(protocol));
    }
    let link = Link {
        tap_id: u32::from_le_bytes(field_of(&h, field::TAP_ID)),
        floor: u64::from_le_bytes(field_of(&h, field::FLOOR)),
    };
    if link.tap_id != tap_id {
        return Err(Refusal::OtherTap(link.tap_id));
    }
    let mode = Mode::decode(&field_of(&h, field::MODE)).ok_or(Refusal::Malformed)?;
    let rule_count = usize::from(u16::from_le_bytes(field_of(&h, field::RULES)));
    let entries = u32::from_le_bytes(field_of(&h, field::ENTRIES));
    if rule_count > MAX_POLICY_RULES {
        return Err(Refusal::Malformed);
    }
    for _ in 0..rule_count {
        let mut len = [0u8; 1];
        r.read(&mut len)?;
        let mut buf = [0u8; RULE_MAX];
        let body = buf.get_mut(..usize::from(len[0])).ok_or(Refusal::Malformed)?;
        r.read(body)?;
        let rule = match postcard::take_from_bytes::<PolicyRule>(body) {
            Ok((rule, [])) => rule,
            _ => return Err(Refusal::Malformed),
        };
        rules.push(rule).map_err(|_| Refusal::Malformed)?;
    }
    let entry_bytes = (entries as usize).checked_mul(BaselineEntry::LEN).ok_or(Refusal::Malformed)?;
    if r.left() != entry_bytes {
        return Err(Refusal::Malformed);
    }
    let alerts_floor = u32::from_le_bytes(field_of(&h, field::ALERTS));
    Ok(Checked { link, mode, entries, alerts_floor, entries_at: r.at })
}

/// Restores the newest usable image into `tap`, which should be fresh (boot): baseline
/// entries, then rules, then mode, then the alerts' floor. `tap_id` is this tap's
/// provisioned id; an image saved under another is not used. Holds the rules on the stack
/// meanwhile (64 rules, ~4 KiB).
pub fn restore<F: Flash>(flash: &F, tap: &mut Tap, tap_id: u32) -> Outcome {
    let mut rules = heapless::Vec::<PolicyRule, MAX_POLICY_RULES>::new();
    let mut first_refusal = None;
    for f in valid(flash).into_iter().flatten() {
        match check(flash, f, tap_id, &mut rules) {
            Ok(c) => return apply(flash, f, c, &rules, tap),
            Err(why) => {
                first_refusal.get_or_insert(why);
            }
        }
    }
    match first_refusal {
        Some(why) => Outcome::Refused(why),
        None => Outcome::Nothing,
    }
}

fn apply<F: Flash>(flash: &F, f: Found, c: Checked, rules: &[PolicyRule], tap: &mut Tap) -> Outcome {
    let mut r = Reader { flash, slot: f.slot, at: c.entries_at, end: f.len };
    let (mut imported, mut refused) = (0u32, 0u32);
    let mut left = c.entries as usize;
    let mut buf = [0u8; ENTRIES_PER_READ * BaselineEntry::LEN];
    // Bounded by the entry count, which `check` matched against the slot's length.
    while left > 0 {
        let n = left.min(ENTRIES_PER_READ);
        let Some(chunk) = buf.get_mut(..n * BaselineEntry::LEN) else { break };
        if r.read(chunk).is_err() {
            // The slot verified a moment ago; a read failing now is counted, not fatal:
            // the rest of the baseline will show up as alerts, never as silently allowed.
            refused = refused.saturating_add(u32::try_from(left).unwrap_or(u32::MAX));
            break;
        }
        for e in chunk.chunks_exact(BaselineEntry::LEN) {
            let mut b = [0u8; BaselineEntry::LEN];
            b.copy_from_slice(e);
            if tap.baseline_import(&BaselineEntry(b)) {
                imported += 1;
            } else {
                refused += 1;
            }
        }
        left -= n;
    }
    let taken = tap.set_policy(rules);
    tap.set_mode(c.mode);
    tap.resume_alerts_after(c.alerts_floor);
    Outcome::Restored(Restored {
        slot: f.slot,
        seq: f.seq,
        link: c.link,
        mode: c.mode,
        rules: u16::try_from(taken).unwrap_or(u16::MAX),
        entries: imported,
        refused,
        alerts_floor: c.alerts_floor,
    })
}

#[cfg(test)]
mod tests;
