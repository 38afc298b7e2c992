//! The tap's data in the H743's flash (bank 2, see memory.x): the provisioning record, and
//! `firmware/persist`'s two slots A and B.
//!
//! The H743 programs flash in 256-bit words (32 bytes, with ECC) and a word can be programmed
//! only once between erases. `firmware/persist` writes a slot's payload first, at offset 16,
//! then its 16-byte header at offset 0 (the commit point): in one 32-byte word that would be
//! two programmings. [`Slots`] therefore spreads a slot over the sector so that the header
//! has a flash word of its own:
//!
//! | persist offset | flash (from the sector start) |
//! | --- | --- |
//! | 0..16 (header) | 0..16, padded with `0xff` to the word's 32 bytes |
//! | 16.. (payload) | 32.. (each word written once; the last padded with `0xff`) |
//!
//! What is persisted today is the link's request-counter floor (with the tap id it belongs
//! to): after a reboot, requests captured before it are still refused as replays. The
//! baseline and the policy are not: the core has no way to export or import them yet.
//!
//! Not verified on hardware (none here): erase/program timings, and what a read of a flash
//! word whose programming a power cut interrupted does (its ECC may flag a double error; on
//! the H7 that may raise a bus fault rather than return bad data, which persist would have
//! rejected by its CRC).

use core::cell::RefCell;
use embassy_stm32::flash::{Blocking, Flash, WRITE_SIZE};
use wardtap_persist::{FlashError, HEADER_LEN};
use wardtap_proto::mgmt::provision::RECORD_LEN;

/// Flash sector size in bank 2.
const SECTOR: u32 = 128 * 1024;
/// Slot A (sector 5 of bank 2), as an offset from the flash base 0x0800_0000.
const SLOT_A: u32 = 0x001A_0000;
/// Slot B (sector 6 of bank 2).
const SLOT_B: u32 = 0x001C_0000;
/// The provisioning record (sector 7 of bank 2).
const PROVISION: u32 = 0x001E_0000;
/// Where persist's payload starts in the sector: the header's flash word is skipped.
const PAYLOAD_AT: u32 = WRITE_SIZE as u32;

/// The board's flash, shared by the provisioning record and the persistence slots.
pub struct Slots {
    flash: RefCell<Flash<'static, Blocking>>,
}

impl Slots {
    /// Wraps the HAL's flash driver.
    pub fn new(flash: Flash<'static, Blocking>) -> Slots {
        Slots { flash: RefCell::new(flash) }
    }

    /// The provisioning record as written by the probe (all `0xff` when never written).
    pub fn provisioning_record(&self) -> [u8; RECORD_LEN] {
        let mut r = [0xffu8; RECORD_LEN];
        if self.flash.borrow_mut().blocking_read(PROVISION, &mut r).is_err() {
            defmt::error!("flash: cannot read the provisioning record");
        }
        r
    }

    fn base(slot: u8) -> Result<u32, FlashError> {
        match slot {
            0 => Ok(SLOT_A),
            1 => Ok(SLOT_B),
            _ => Err(FlashError::Bounds),
        }
    }

    fn program(&self, at: u32, data: &[u8]) -> Result<(), FlashError> {
        let mut flash = self.flash.borrow_mut();
        let mut word = [0xffu8; WRITE_SIZE];
        let mut at = at;
        for chunk in data.chunks(WRITE_SIZE) {
            word.fill(0xff);
            if let Some(dst) = word.get_mut(..chunk.len()) {
                dst.copy_from_slice(chunk);
            }
            flash.blocking_write(at, &word).map_err(|_| FlashError::Device)?;
            at = at.checked_add(WRITE_SIZE as u32).ok_or(FlashError::Bounds)?;
        }
        Ok(())
    }
}

/// Offsets are `u32` in the HAL; a slot is far below 4 GiB.
fn off(n: usize) -> Result<u32, FlashError> {
    u32::try_from(n).map_err(|_| FlashError::Bounds)
}

impl wardtap_persist::Flash for Slots {
    fn slot_len(&self) -> usize {
        // persist's offsets 16.. map to 32..SECTOR.
        (SECTOR - PAYLOAD_AT) as usize + HEADER_LEN
    }

    fn erase(&mut self, slot: u8) -> Result<(), FlashError> {
        let base = Self::base(slot)?;
        self.flash.borrow_mut().blocking_erase(base, base + SECTOR).map_err(|_| FlashError::Device)
    }

    fn write(&mut self, slot: u8, offset: usize, data: &[u8]) -> Result<(), FlashError> {
        let base = Self::base(slot)?;
        let end = offset.checked_add(data.len()).ok_or(FlashError::Bounds)?;
        if end > self.slot_len() {
            return Err(FlashError::Bounds);
        }
        match offset {
            // The header, alone in its word.
            0 if data.len() <= HEADER_LEN => self.program(base, data),
            // The payload, from the start of its first word.
            HEADER_LEN => self.program(base + PAYLOAD_AT, data),
            // persist writes nothing else; anything else would program a word twice.
            _ => Err(FlashError::Bounds),
        }
    }

    fn read(&self, slot: u8, offset: usize, buf: &mut [u8]) -> Result<(), FlashError> {
        let base = Self::base(slot)?;
        let end = offset.checked_add(buf.len()).ok_or(FlashError::Bounds)?;
        if end > self.slot_len() {
            return Err(FlashError::Bounds);
        }
        // The part of `buf` in the header (offsets < 16), then the part in the payload.
        let in_header = HEADER_LEN.saturating_sub(offset).min(buf.len());
        let (head, tail) = buf.split_at_mut(in_header);
        let mut flash = self.flash.borrow_mut();
        if !head.is_empty() {
            flash.blocking_read(base + off(offset)?, head).map_err(|_| FlashError::Device)?;
        }
        if !tail.is_empty() {
            let from = offset.max(HEADER_LEN) - HEADER_LEN;
            flash.blocking_read(base + PAYLOAD_AT + off(from)?, tail).map_err(|_| FlashError::Device)?;
        }
        Ok(())
    }
}

/// What this board persists: the tap id and the link's request-counter floor.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Saved {
    /// The tap the floor belongs to (a re-provisioned tap with another id starts at 0).
    pub tap_id: u32,
    /// Highest request counter accepted before the save.
    pub floor: u64,
}

/// Bytes of an encoded [`Saved`]: version, tap id, floor.
const SAVED_LEN: usize = 1 + 4 + 8;
/// Encoding version.
const SAVED_VERSION: u8 = 1;

impl Saved {
    fn encode(&self) -> [u8; SAVED_LEN] {
        let mut b = [0u8; SAVED_LEN];
        let (v, rest) = b.split_at_mut(1);
        let (id, floor) = rest.split_at_mut(4);
        v.copy_from_slice(&[SAVED_VERSION]);
        id.copy_from_slice(&self.tap_id.to_le_bytes());
        floor.copy_from_slice(&self.floor.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Saved> {
        let (&v, rest) = b.split_first()?;
        if v != SAVED_VERSION {
            return None;
        }
        let (id, rest) = rest.split_first_chunk::<4>()?;
        let (floor, _) = rest.split_first_chunk::<8>()?;
        Some(Saved { tap_id: u32::from_le_bytes(*id), floor: u64::from_le_bytes(*floor) })
    }

    /// The floor persisted for `tap_id` (0 on first boot, after damage to both copies, or
    /// when the copy belongs to another tap id).
    pub fn load_floor(slots: &Slots, tap_id: u32) -> u64 {
        let mut buf = [0u8; SAVED_LEN];
        match wardtap_persist::load(slots, &mut buf) {
            Ok(Some(n)) => match buf.get(..n).and_then(Saved::decode) {
                Some(s) if s.tap_id == tap_id => s.floor,
                _ => 0,
            },
            Ok(None) => 0,
            Err(_) => {
                defmt::error!("persist: load failed");
                0
            }
        }
    }

    /// Saves a new copy (erases one 128 KiB sector: frames are not taken meanwhile).
    pub fn save(self, slots: &mut Slots) {
        match wardtap_persist::save(slots, &self.encode()) {
            Ok(f) => defmt::info!("persist: floor {} saved in slot {} (seq {})", self.floor, f.slot, f.seq),
            Err(_) => defmt::error!("persist: save failed"),
        }
    }
}
