//! `firmware/persist`'s two slots on a flash that programs whole 32-byte words, each once
//! between erases (the STM32H7's flash: 256-bit words with ECC).
//!
//! persist writes a slot's payload first, from offset 16 in pieces of
//! [`STAGE`](wardtap_persist::STAGE) bytes (256: eight words), then its 16-byte header at
//! offset 0 (the commit point): in one 32-byte word that would be two programmings.
//! [`Slots`] therefore spreads a slot over its sector so that the header has a word of its
//! own:
//!
//! | persist offset | flash (from the sector start) |
//! | --- | --- |
//! | 0..16 (header) | 0..16, padded with `0xff` to the word's 32 bytes |
//! | 16.. (payload) | 32.. (each word programmed once; only the last piece may end inside a word, padded with `0xff`) |
//!
//! Free of the HAL (the board implements [`WordFlash`] over it), so the host tests in
//! `host-tests/` run this very file against a simulated H7 flash with power cuts.

use core::cell::RefCell;
use wardtap_persist::{FlashError, HEADER_LEN};

/// Bytes programmed at once (the H7's flash word).
pub const WORD: usize = 32;
/// `WORD` as a flash offset.
const WORD_U32: u32 = WORD as u32;

/// The flash operations the slots need. Addresses are offsets the implementation
/// understands (the board's: from the flash base).
pub trait WordFlash {
    /// Erases `len` bytes (whole sectors) from `at` to `0xff`.
    fn erase(&mut self, at: u32, len: u32) -> Result<(), FlashError>;
    /// Programs one word at `at` (a multiple of [`WORD`]).
    fn program(&mut self, at: u32, word: &[u8; WORD]) -> Result<(), FlashError>;
    /// Reads bytes.
    fn read(&mut self, at: u32, buf: &mut [u8]) -> Result<(), FlashError>;
}

/// Two slots, each one erase unit (sector) of `sector` bytes at `bases[0]` and `bases[1]`.
pub struct Slots<F> {
    flash: RefCell<F>,
    bases: [u32; 2],
    sector: u32,
}

impl<F: WordFlash> Slots<F> {
    /// The slots at `bases` (sector-aligned), each `sector` bytes long (a multiple of
    /// [`WORD`], at least two words).
    pub fn new(flash: F, bases: [u32; 2], sector: u32) -> Self {
        Slots { flash: RefCell::new(flash), bases, sector }
    }

    /// The flash, for reads outside the slots (the provisioning record).
    pub fn flash(&self) -> &RefCell<F> {
        &self.flash
    }

    fn base(&self, slot: u8) -> Result<u32, FlashError> {
        self.bases.get(usize::from(slot)).copied().ok_or(FlashError::Bounds)
    }

    /// Programs `data` from `at`, a word at a time, the last word padded with `0xff`.
    fn program(&self, at: u32, data: &[u8]) -> Result<(), FlashError> {
        let mut flash = self.flash.borrow_mut();
        let mut at = at;
        for chunk in data.chunks(WORD) {
            let mut word = [0xffu8; WORD];
            if let Some(dst) = word.get_mut(..chunk.len()) {
                dst.copy_from_slice(chunk);
            }
            flash.program(at, &word)?;
            at = at.checked_add(WORD_U32).ok_or(FlashError::Bounds)?;
        }
        Ok(())
    }
}

/// Offsets are `u32` in flash; a slot is far below 4 GiB.
fn off(n: usize) -> Result<u32, FlashError> {
    u32::try_from(n).map_err(|_| FlashError::Bounds)
}

impl<F: WordFlash> wardtap_persist::Flash for Slots<F> {
    fn slot_len(&self) -> usize {
        // persist's offsets 16.. map to 32..sector.
        (self.sector.saturating_sub(WORD_U32) as usize).saturating_add(HEADER_LEN)
    }

    fn erase(&mut self, slot: u8) -> Result<(), FlashError> {
        let base = self.base(slot)?;
        self.flash.borrow_mut().erase(base, self.sector)
    }

    fn write(&mut self, slot: u8, offset: usize, data: &[u8]) -> Result<(), FlashError> {
        let base = self.base(slot)?;
        let end = offset.checked_add(data.len()).ok_or(FlashError::Bounds)?;
        if end > self.slot_len() {
            return Err(FlashError::Bounds);
        }
        match offset.checked_sub(HEADER_LEN) {
            // The header, alone in its word.
            None if offset == 0 && data.len() <= HEADER_LEN => self.program(base, data),
            // A payload piece, from the start of a word (persist's pieces are whole words
            // but the last, so no word is programmed twice).
            Some(at) if at % WORD == 0 => {
                let at = base.checked_add(WORD_U32).and_then(|b| b.checked_add(off(at).ok()?));
                self.program(at.ok_or(FlashError::Bounds)?, data)
            }
            // persist writes nothing else; anything else would program a word twice.
            _ => Err(FlashError::Bounds),
        }
    }

    fn read(&self, slot: u8, offset: usize, buf: &mut [u8]) -> Result<(), FlashError> {
        let base = self.base(slot)?;
        let end = offset.checked_add(buf.len()).ok_or(FlashError::Bounds)?;
        if end > self.slot_len() {
            return Err(FlashError::Bounds);
        }
        // The part of `buf` in the header (offsets < 16), then the part in the payload.
        let in_header = HEADER_LEN.saturating_sub(offset).min(buf.len());
        let (head, tail) = buf.split_at_mut(in_header);
        let mut flash = self.flash.borrow_mut();
        if !head.is_empty() {
            flash.read(base.checked_add(off(offset)?).ok_or(FlashError::Bounds)?, head)?;
        }
        if !tail.is_empty() {
            let from = off(offset.saturating_sub(HEADER_LEN))?;
            let at = base.checked_add(WORD_U32).and_then(|a| a.checked_add(from)).ok_or(FlashError::Bounds)?;
            flash.read(at, tail)?;
        }
        Ok(())
    }
}
