//! The tap's data in the H743's flash (bank 2, see memory.x): the provisioning record, and
//! `firmware/persist`'s two slots A and B laid out by [`crate::slots`] (the H7 programs
//! 32-byte words, each once between erases), holding the tap's image
//! ([`wardtap_persist::image`]: baseline, policy rules, learning mode, the link's
//! request-counter floor, so that requests captured before a reboot stay refused, and the
//! alerts' sequence floor, so that alert numbers do not start again after a reboot).
//!
//! A save does not stop frame processing for the sector erase (about 1–2 s; the datasheet
//! allows up to 4 s at x8 parallelism; x32 is set here): [`Persist`] starts the erase of
//! the target sector by register and returns; the main loop goes on taking frames (code
//! runs from bank 1, the slots are in bank 2: read-while-write) and calls
//! [`Persist::poll`]; when the erase is done, the image is programmed and committed in one
//! go, blocking: one 32-byte flash word per 32 bytes of image (≤ 1,350 words for a full
//! image of 43 KiB), each taking tens to a few hundred µs, so well under a second with a
//! full baseline and a few ms with an empty one (not measured: no board here). Frames
//! arriving meanwhile wait in the ETH DMA's 16 receive descriptors; beyond those the MAC
//! drops them (counted in `Status`).
//!
//! Not verified on hardware (none here): the erase and program timings, the register-level
//! erase (it mirrors `embassy-stm32`'s own `blocking_erase_sector` for the H7, without the
//! busy-wait), and what a read of a flash word whose programming a power cut interrupted
//! does (its ECC may flag a double error; on the H7 that may raise a bus fault rather than
//! return bad data, which persist would have rejected by its CRC).

use crate::slots::{self, WordFlash, WORD};
use embassy_stm32::flash::{Blocking, Flash};
use embassy_stm32::pac;
use wardtap_core::Tap;
use wardtap_persist::image::{self, Link, Outcome};
use wardtap_persist::{FlashError, Target};
use wardtap_proto::mgmt::provision::RECORD_LEN;

/// Flash sector size in bank 2.
const SECTOR: u32 = 128 * 1024;
/// Bank 2's start, as an offset from the flash base 0x0800_0000.
const BANK2: u32 = 0x0010_0000;
/// Slot A (sector 5 of bank 2), as an offset from the flash base.
const SLOT_A: u32 = 0x001A_0000;
/// Slot B (sector 6 of bank 2).
const SLOT_B: u32 = 0x001C_0000;
/// The provisioning record (sector 7 of bank 2).
const PROVISION: u32 = 0x001E_0000;
/// Bank-2 sector numbers of the slots.
const SLOT_SECTORS: [u8; 2] = [((SLOT_A - BANK2) / SECTOR) as u8, ((SLOT_B - BANK2) / SECTOR) as u8];
const _: () = assert!(SLOT_SECTORS[0] == 5 && SLOT_SECTORS[1] == 6);
// A full image at this build's capacities fits a slot (sector less the header's word).
const _: () = assert!(image::MAX_IMAGE_LEN + wardtap_persist::HEADER_LEN <= (SECTOR as usize) - WORD);
/// Longest an erase may take before it is given up (the datasheet's worst case is 4 s at
/// x8; the watchdog is not involved: the loop keeps running).
const ERASE_TIMEOUT_US: u64 = 8_000_000;
/// FLASH_CR.PSIZE for x32 parallelism (what the HAL programs with).
const PSIZE_X32: u8 = 0b10;

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

/// The tap's image in the slots, saved without stalling for the erase.
pub struct Persist {
    slots: Slots,
    /// A save was asked for and has not started.
    due: bool,
    /// The erase in progress: its target and when it started (µs since boot).
    erasing: Option<(Target, u64)>,
}

impl Persist {
    /// Over the board's slots.
    pub fn new(slots: Slots) -> Self {
        Persist { slots, due: false, erasing: None }
    }

    /// The slots (for the provisioning record).
    pub fn slots(&self) -> &Slots {
        &self.slots
    }

    /// Restores the newest usable image into the fresh `tap`; returns the link's floor for
    /// `tap_id` (0 when there is none).
    pub fn restore(&self, tap: &mut Tap, tap_id: u32) -> u64 {
        match image::restore(&self.slots, tap, tap_id) {
            Outcome::Restored(r) => {
                defmt::info!(
                    "persist: restored slot {} (seq {}): {} rules, {} baseline entries ({} refused), {}, floor {}, alerts after {}",
                    r.slot,
                    r.seq,
                    r.rules,
                    r.entries,
                    r.refused,
                    r.mode,
                    r.link.floor,
                    r.alerts_floor
                );
                r.link.floor
            }
            Outcome::Nothing => {
                defmt::info!("persist: nothing saved yet");
                0
            }
            Outcome::Refused(why) => {
                defmt::warn!("persist: saved image not used: {}", why);
                0
            }
        }
    }

    /// Asks for a save (it starts at the next [`Persist::poll`]).
    pub fn request(&mut self) {
        self.due = true;
    }

    /// Whether a save is asked for or under way.
    pub fn busy(&self) -> bool {
        self.due || self.erasing.is_some()
    }

    /// Moves a save along: starts the erase when one is due, and when the erase is done
    /// programs and commits the image of the tap as it is now (so it includes any change
    /// made during the erase). `now_us` is µs since boot; `clock_us` the frames' clock.
    pub fn poll(&mut self, tap: &Tap, link: Link, now_us: u64, clock_us: u64) {
        match self.erasing {
            None if self.due => {
                self.due = false;
                let target = wardtap_persist::next_target(&self.slots);
                match erase_start(target.slot) {
                    Ok(()) => self.erasing = Some((target, now_us)),
                    Err(()) => defmt::error!("persist: cannot start erasing slot {}", target.slot),
                }
            }
            None => {}
            Some((target, since)) => match erase_done() {
                None if now_us.saturating_sub(since) > ERASE_TIMEOUT_US => {
                    defmt::error!("persist: erase of slot {} did not finish; save abandoned", target.slot);
                    erase_end();
                    self.erasing = None;
                }
                None => {}
                Some(result) => {
                    erase_end();
                    self.erasing = None;
                    if result.is_err() {
                        defmt::error!("persist: erase of slot {} failed; save abandoned", target.slot);
                        return;
                    }
                    match image::save_erased(&mut self.slots, target, tap, link, clock_us) {
                        Ok(s) => defmt::info!(
                            "persist: saved slot {} (seq {}): {} bytes, {} rules, {} baseline entries, floor {}, alerts floor {}",
                            s.slot,
                            s.seq,
                            s.bytes,
                            s.rules,
                            s.entries,
                            link.floor,
                            s.alerts_floor
                        ),
                        Err(e) => defmt::error!("persist: save failed: {}", e),
                    }
                }
            },
        }
    }
}

/// Bank 2's registers.
fn bank2() -> pac::flash::Bank {
    pac::FLASH.bank(1)
}

/// Starts erasing slot `slot`'s sector (RM0433 "sector erase": unlock, SER + SNB, START) and
/// returns without waiting.
fn erase_start(slot: u8) -> Result<(), ()> {
    let sector = *SLOT_SECTORS.get(usize::from(slot)).ok_or(())?;
    let bank = bank2();
    let sr = bank.sr().read();
    if sr.bsy() || sr.qw() {
        return Err(());
    }
    if bank.cr().read().lock() {
        bank.keyr().write_value(0x4567_0123);
        bank.keyr().write_value(0xCDEF_89AB);
    }
    clear_errors(bank);
    bank.cr().modify(|w| {
        w.set_psize(PSIZE_X32);
        w.set_ser(true);
        w.set_snb(sector);
    });
    bank.cr().modify(|w| w.set_start(true));
    cortex_m::asm::dsb();
    Ok(())
}

/// `None` while the erase runs; then whether it succeeded.
fn erase_done() -> Option<Result<(), ()>> {
    let sr = bank2().sr().read();
    if sr.bsy() || sr.qw() {
        return None;
    }
    let failed = sr.wrperr() || sr.pgserr() || sr.strberr() || sr.incerr() || sr.operr();
    Some(if failed { Err(()) } else { Ok(()) })
}

/// Leaves sector-erase mode and locks the bank again.
fn erase_end() {
    let bank = bank2();
    bank.cr().modify(|w| w.set_ser(false));
    clear_errors(bank);
    bank.cr().modify(|w| w.set_lock(true));
}

fn clear_errors(bank: pac::flash::Bank) {
    bank.ccr().write(|w| {
        w.set_clr_eop(true);
        w.set_clr_wrperr(true);
        w.set_clr_pgserr(true);
        w.set_clr_strberr(true);
        w.set_clr_incerr(true);
        w.set_clr_operr(true);
    });
}
