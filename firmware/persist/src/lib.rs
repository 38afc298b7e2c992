//! Power-cut-safe persistence of one blob in two flash slots, A and B; and [`image`], the
//! blob a tap saves (its baseline, policy rules, learning mode and link counter floor).
//!
//! Each save goes to the slot *not* holding the newest good copy: erase, write the payload
//! (streamed through a [`Writer`], [`STAGE`] bytes at a time, so a 40 KiB image never sits in
//! RAM), read it back against the CRC of what was streamed, then write the header last
//! (magic, sequence number, length, CRC-32 over sequence number, payload and length). The
//! header is the commit point: a power cut anywhere before it completes leaves that slot
//! unreadable and the other slot, the previous copy, in force. Loading reads both slots and
//! takes the valid one with the higher sequence number (serial-number arithmetic, so the
//! counter may wrap).
//!
//! The flash is a trait: the real board implements it over its sectors, the tests over
//! [`sim::SimFlash`], which behaves like NOR flash (erase to `0xff`, writes only clear bits)
//! and can be cut after any number of bytes written.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod image;

#[cfg(test)]
extern crate std;

/// Bytes of the slot header.
pub const HEADER_LEN: usize = 16;
/// Header magic (`WTP2`: the CRC covers sequence number, payload, then length).
pub const MAGIC: u32 = u32::from_le_bytes(*b"WTP2");

/// A flash error (or a power cut, in the simulation).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FlashError {
    /// Outside the slot.
    Bounds,
    /// The device reported a failure (or the power went).
    Device,
}

/// Two equal slots of flash.
pub trait Flash {
    /// Bytes per slot.
    fn slot_len(&self) -> usize;
    /// Erases a slot (0 or 1) to `0xff`.
    fn erase(&mut self, slot: u8) -> Result<(), FlashError>;
    /// Programs bytes at `offset` in a slot, each byte at most once between erases. persist
    /// writes the payload in order at offsets `HEADER_LEN + k * STAGE`, [`STAGE`] bytes each
    /// but the last, then the [`HEADER_LEN`]-byte header at offset 0.
    fn write(&mut self, slot: u8, offset: usize, data: &[u8]) -> Result<(), FlashError>;
    /// Reads bytes at `offset` in a slot.
    fn read(&self, slot: u8, offset: usize, buf: &mut [u8]) -> Result<(), FlashError>;
}

/// Why a save or load failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// The payload does not fit a slot.
    TooLarge,
    /// Flash failed.
    Flash(FlashError),
    /// The caller's buffer is smaller than the stored payload.
    BufferTooSmall,
    /// The slot read back differs from what was written: not committed.
    Verify,
}

impl From<FlashError> for Error {
    fn from(e: FlashError) -> Self {
        Error::Flash(e)
    }
}

/// CRC-32 (IEEE), continuing from `crc` (start with `!0`, finish with `!`).
fn crc32(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    crc
}

/// A valid slot's sequence number and payload length.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Found {
    /// Which slot.
    pub slot: u8,
    /// Its sequence number.
    pub seq: u32,
    /// Payload bytes.
    pub len: usize,
}

/// The slot CRC: over the sequence number, the payload, then its length (so that a
/// streamed payload's length need not be known in advance).
fn crc_of<F: Flash>(flash: &F, slot: u8, seq: u32, len: usize) -> Result<u32, FlashError> {
    let crc = payload_crc(flash, slot, crc32(!0, &seq.to_le_bytes()), len)?;
    Ok(!crc32(crc, &(len as u32).to_le_bytes()))
}

/// Continues `crc` over a slot's payload, read through a small stack buffer (bounded by
/// `len`).
fn payload_crc<F: Flash>(flash: &F, slot: u8, mut crc: u32, len: usize) -> Result<u32, FlashError> {
    let mut chunk = [0u8; 64];
    let mut at = 0;
    while at < len {
        let n = (len - at).min(chunk.len());
        let buf = chunk.get_mut(..n).ok_or(FlashError::Bounds)?;
        flash.read(slot, HEADER_LEN + at, buf)?;
        crc = crc32(crc, buf);
        at += n;
    }
    Ok(crc)
}

/// Checks one slot.
pub fn check<F: Flash>(flash: &F, slot: u8) -> Option<Found> {
    let mut h = [0u8; HEADER_LEN];
    flash.read(slot, 0, &mut h).ok()?;
    let word = |i: usize| h.get(i..i + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
    if word(0)? != MAGIC {
        return None;
    }
    let (seq, len, crc) = (word(4)?, word(8)? as usize, word(12)?);
    if len > flash.slot_len().saturating_sub(HEADER_LEN) {
        return None;
    }
    (crc_of(flash, slot, seq, len).ok()? == crc).then_some(Found { slot, seq, len })
}

/// Whether sequence number `a` is newer than `b` (serial-number arithmetic).
fn newer(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// The valid copies, newest first (none, one or two).
pub fn valid<F: Flash>(flash: &F) -> [Option<Found>; 2] {
    match (check(flash, 0), check(flash, 1)) {
        (Some(a), Some(b)) if newer(b.seq, a.seq) => [Some(b), Some(a)],
        (Some(a), b) => [Some(a), b],
        (None, b) => [b, None],
    }
}

/// The newest valid copy, if any.
pub fn newest<F: Flash>(flash: &F) -> Option<Found> {
    let [first, _] = valid(flash);
    first
}

/// Loads the newest valid copy into `buf`; returns its length, or `None` when neither slot
/// holds one (first boot, or both damaged).
pub fn load<F: Flash>(flash: &F, buf: &mut [u8]) -> Result<Option<usize>, Error> {
    let Some(f) = newest(flash) else { return Ok(None) };
    let dst = buf.get_mut(..f.len).ok_or(Error::BufferTooSmall)?;
    flash.read(f.slot, HEADER_LEN, dst)?;
    Ok(Some(f.len))
}

/// Saves `payload` as the new newest copy, in the slot not holding the current one.
pub fn save<F: Flash>(flash: &mut F, payload: &[u8]) -> Result<Found, Error> {
    if payload.len() > flash.slot_len().saturating_sub(HEADER_LEN) {
        return Err(Error::TooLarge);
    }
    let mut w = Writer::begin(flash)?;
    w.write(payload)?;
    w.finish()
}

/// Where the next save goes: the slot not holding the newest valid copy, and the sequence
/// number after it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Target {
    /// The slot to erase and write.
    pub slot: u8,
    /// Its new sequence number.
    pub seq: u32,
}

/// The slot and sequence number of the next save.
pub fn next_target<F: Flash>(flash: &F) -> Target {
    match newest(flash) {
        Some(f) => Target { slot: 1 - f.slot, seq: f.seq.wrapping_add(1) },
        None => Target { slot: 0, seq: 1 },
    }
}

/// Payload bytes a [`Writer`] collects before programming them: the payload reaches
/// [`Flash::write`] at offsets `HEADER_LEN + k * STAGE`, `STAGE` bytes at a time, the last
/// piece shorter. A multiple of every program unit in use (the H7's 32-byte word).
pub const STAGE: usize = 256;

/// A save in progress, for payloads too large for RAM: the payload is streamed in with
/// [`Writer::write`] and programmed [`STAGE`] bytes at a time; [`Writer::finish`] reads it
/// back, checks it against the CRC of what was streamed, and only then writes the header
/// (the commit point). Dropping a writer without `finish` leaves the slot invalid and the
/// previous copy in force, exactly like a power cut.
pub struct Writer<'f, F: Flash> {
    flash: &'f mut F,
    target: Target,
    /// Payload bytes programmed so far.
    at: usize,
    stage: [u8; STAGE],
    staged: usize,
    /// CRC (running) over sequence number, then payload; the length goes in at the end.
    crc: u32,
}

impl<'f, F: Flash> Writer<'f, F> {
    /// Chooses the slot ([`next_target`]) and erases it.
    pub fn begin(flash: &'f mut F) -> Result<Self, Error> {
        let target = next_target(flash);
        flash.erase(target.slot)?;
        Ok(Self::on_erased(flash, target))
    }

    /// For a caller that erased `target.slot` itself (e.g. without blocking, while it went on
    /// with other work). The slot must be erased and nothing else written since
    /// [`next_target`] returned `target`.
    pub fn on_erased(flash: &'f mut F, target: Target) -> Self {
        Writer { flash, target, at: 0, stage: [0xff; STAGE], staged: 0, crc: crc32(!0, &target.seq.to_le_bytes()) }
    }

    /// The slot and sequence number being written.
    pub fn target(&self) -> Target {
        self.target
    }

    /// Payload bytes taken so far.
    pub fn len(&self) -> usize {
        self.at.saturating_add(self.staged)
    }

    /// Whether nothing was taken yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends payload bytes.
    pub fn write(&mut self, mut data: &[u8]) -> Result<(), Error> {
        let room = self.flash.slot_len().saturating_sub(HEADER_LEN);
        if self.len().checked_add(data.len()).is_none_or(|end| end > room) {
            return Err(Error::TooLarge);
        }
        // Bounded by data.len() / STAGE + 1 rounds.
        while !data.is_empty() {
            let free = self.stage.get_mut(self.staged..).unwrap_or(&mut []);
            let n = free.len().min(data.len());
            let (now, rest) = data.split_at(n);
            if let Some(dst) = free.get_mut(..n) {
                dst.copy_from_slice(now);
            }
            self.staged += n;
            data = rest;
            if self.staged == STAGE {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Programs what is staged.
    fn flush(&mut self) -> Result<(), Error> {
        let piece = self.stage.get(..self.staged).unwrap_or(&[]);
        if piece.is_empty() {
            return Ok(());
        }
        self.crc = crc32(self.crc, piece);
        self.flash.write(self.target.slot, HEADER_LEN + self.at, piece)?;
        self.at += piece.len();
        self.staged = 0;
        self.stage = [0xff; STAGE];
        Ok(())
    }

    /// Programs the rest, verifies the slot by reading it back, and commits it by writing
    /// its header. Returns the new copy.
    pub fn finish(mut self) -> Result<Found, Error> {
        self.flush()?;
        let Target { slot, seq } = self.target;
        let len = self.at;
        let crc = !crc32(self.crc, &(len as u32).to_le_bytes());
        // What the flash holds must be what was streamed: a write that silently failed must
        // not be committed (its CRC would then describe the wrong bytes).
        if crc_of(self.flash, slot, seq, len)? != crc {
            return Err(Error::Verify);
        }
        let mut h = [0u8; HEADER_LEN];
        for (i, w) in [MAGIC, seq, len as u32, crc].into_iter().enumerate() {
            if let Some(d) = h.get_mut(4 * i..4 * i + 4) {
                d.copy_from_slice(&w.to_le_bytes());
            }
        }
        // Commit point: until this write completes the slot reads as invalid.
        self.flash.write(slot, 0, &h)?;
        Ok(Found { slot, seq, len })
    }
}

/// A simulated NOR flash for host tests: erase sets `0xff`, a write can only clear bits,
/// and power can be cut after a given number of bytes programmed.
pub mod sim {
    use super::{Flash, FlashError};

    /// Two slots of `N` bytes.
    pub struct SimFlash<const N: usize> {
        /// The cells.
        pub cells: [[u8; N]; 2],
        /// Bytes that may still be programmed (erases count `N`) before the power goes.
        pub budget: Option<usize>,
    }

    impl<const N: usize> SimFlash<N> {
        /// Erased flash, power on.
        pub fn new() -> Self {
            SimFlash { cells: [[0xff; N]; 2], budget: None }
        }
        fn spend(&mut self, n: usize) -> usize {
            match &mut self.budget {
                None => n,
                Some(b) => {
                    let take = n.min(*b);
                    *b -= take;
                    take
                }
            }
        }
    }

    impl<const N: usize> Default for SimFlash<N> {
        fn default() -> Self {
            Self::new()
        }
    }

    impl<const N: usize> Flash for SimFlash<N> {
        fn slot_len(&self) -> usize {
            N
        }
        fn erase(&mut self, slot: u8) -> Result<(), FlashError> {
            let done = self.spend(N);
            let cells = self.cells.get_mut(usize::from(slot)).ok_or(FlashError::Bounds)?;
            // A cut erase leaves a partly erased slot (the start erased, the rest as it was).
            for c in cells.iter_mut().take(done) {
                *c = 0xff;
            }
            if done < N {
                return Err(FlashError::Device);
            }
            Ok(())
        }
        fn write(&mut self, slot: u8, offset: usize, data: &[u8]) -> Result<(), FlashError> {
            let end = offset.checked_add(data.len()).ok_or(FlashError::Bounds)?;
            if end > N {
                return Err(FlashError::Bounds);
            }
            let done = self.spend(data.len());
            let cells = self.cells.get_mut(usize::from(slot)).ok_or(FlashError::Bounds)?;
            for (c, d) in cells.iter_mut().skip(offset).zip(data.iter().take(done)) {
                *c &= *d;
            }
            if done < data.len() {
                return Err(FlashError::Device);
            }
            Ok(())
        }
        fn read(&self, slot: u8, offset: usize, buf: &mut [u8]) -> Result<(), FlashError> {
            let cells = self.cells.get(usize::from(slot)).ok_or(FlashError::Bounds)?;
            let src = cells.get(offset..offset + buf.len()).ok_or(FlashError::Bounds)?;
            buf.copy_from_slice(src);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sim::SimFlash;
    use super::*;
    use std::vec::Vec;

    const N: usize = 256;

    fn loaded(f: &SimFlash<N>) -> Option<Vec<u8>> {
        let mut buf = [0u8; N];
        load(f, &mut buf).unwrap().map(|n| buf[..n].to_vec())
    }

    #[test]
    fn first_boot_is_empty_then_saves_alternate_slots() {
        let mut f = SimFlash::<N>::new();
        assert_eq!(loaded(&f), None);
        for i in 0..10u8 {
            let p = [i; 100];
            let w = save(&mut f, &p).unwrap();
            assert_eq!(w.slot, i % 2);
            assert_eq!(loaded(&f).unwrap(), p);
        }
        assert_eq!(save(&mut f, &[0; N]), Err(Error::TooLarge));
    }

    #[test]
    fn a_cut_at_any_byte_leaves_the_old_or_the_new_copy() {
        let old: Vec<u8> = (0..150u8).collect();
        let new: Vec<u8> = (0..120u8).map(|b| b ^ 0x5a).collect();
        // Bytes one save programs: erase N + payload + header.
        let total = N + new.len() + HEADER_LEN;
        for history in 0..3 {
            for cut in 0..=total {
                let mut f = SimFlash::<N>::new();
                for _ in 0..history {
                    save(&mut f, &[0xee; 10]).unwrap();
                }
                save(&mut f, &old).unwrap();
                f.budget = Some(cut);
                let r = save(&mut f, &new);
                f.budget = None; // power back
                let got = loaded(&f).expect("never lose both copies");
                if r.is_ok() {
                    assert_eq!(got, new, "cut {cut}");
                } else {
                    assert_eq!(got, old, "history {history} cut {cut}: a partial save must not be taken");
                }
                // And the next save after the cut works.
                save(&mut f, &new).unwrap();
                assert_eq!(loaded(&f).unwrap(), new);
            }
        }
    }

    #[test]
    fn corruption_in_the_newest_falls_back_to_the_other() {
        let mut f = SimFlash::<N>::new();
        save(&mut f, b"first").unwrap();
        let w = save(&mut f, b"second").unwrap();
        f.cells[usize::from(w.slot)][HEADER_LEN + 2] ^= 0x10;
        assert_eq!(loaded(&f).unwrap(), b"first");
        f.cells[0][0] = 0;
        assert_eq!(loaded(&f), None);
    }

    #[test]
    fn sequence_numbers_may_wrap() {
        let mut f = SimFlash::<N>::new();
        save(&mut f, b"a").unwrap();
        // Forge a slot 0 with seq u32::MAX, then save: the new copy (seq 0) must win.
        let mut h = [0u8; HEADER_LEN];
        let crc = crc_of(&f, 0, u32::MAX, 1).unwrap();
        for (i, w) in [MAGIC, u32::MAX, 1, crc].into_iter().enumerate() {
            h[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
        f.cells[0][..HEADER_LEN].copy_from_slice(&h);
        assert_eq!(newest(&f).unwrap().seq, u32::MAX);
        let w = save(&mut f, b"b").unwrap();
        assert_eq!(w.seq, 0);
        assert_eq!(loaded(&f).unwrap(), b"b");
    }
}
