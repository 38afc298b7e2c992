//! The tap's data in the H743's flash (bank 2, see memory.x): the provisioning record, and
//! `firmware/persist`'s two slots A and B laid out by [`crate::slots`] (the H7 programs
//! 32-byte words, each once between erases).
//!
//! What is persisted today is the link's request-counter floor (with the tap id it belongs
//! to): after a reboot, requests captured before it are still refused as replays. The
//! baseline and the policy are not: the core has no way to export or import them yet.
//!
//! Not verified on hardware (none here): erase/program timings, and what a read of a flash
//! word whose programming a power cut interrupted does (its ECC may flag a double error; on
//! the H7 that may raise a bus fault rather than return bad data, which persist would have
//! rejected by its CRC).

use crate::slots::{self, WordFlash, WORD};
use embassy_stm32::flash::{Blocking, Flash};
use wardtap_persist::FlashError;
use wardtap_proto::mgmt::provision::RECORD_LEN;

/// Flash sector size in bank 2.
const SECTOR: u32 = 128 * 1024;
/// Slot A (sector 5 of bank 2), as an offset from the flash base 0x0800_0000.
const SLOT_A: u32 = 0x001A_0000;
/// Slot B (sector 6 of bank 2).
const SLOT_B: u32 = 0x001C_0000;
/// The provisioning record (sector 7 of bank 2).
const PROVISION: u32 = 0x001E_0000;

/// The HAL's blocking flash driver (offsets from 0x0800_0000).
pub struct H7Flash(Flash<'static, Blocking>);

impl WordFlash for H7Flash {
    fn erase(&mut self, at: u32, len: u32) -> Result<(), FlashError> {
        let to = at.checked_add(len).ok_or(FlashError::Bounds)?;
        self.0.blocking_erase(at, to).map_err(|_| FlashError::Device)
    }
    fn program(&mut self, at: u32, word: &[u8; WORD]) -> Result<(), FlashError> {
        self.0.blocking_write(at, word).map_err(|_| FlashError::Device)
    }
    fn read(&mut self, at: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        self.0.blocking_read(at, buf).map_err(|_| FlashError::Device)
    }
}

/// Slots A and B over the board's flash.
pub type Slots = slots::Slots<H7Flash>;

/// The board's slots (sectors 5 and 6 of bank 2).
pub fn slots(flash: Flash<'static, Blocking>) -> Slots {
    Slots::new(H7Flash(flash), [SLOT_A, SLOT_B], SECTOR)
}

/// The provisioning record as written by the probe (all `0xff` when never written).
pub fn provisioning_record(slots: &Slots) -> [u8; RECORD_LEN] {
    let mut r = [0xffu8; RECORD_LEN];
    if slots.flash().borrow_mut().read(PROVISION, &mut r).is_err() {
        defmt::error!("flash: cannot read the provisioning record");
    }
    r
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
