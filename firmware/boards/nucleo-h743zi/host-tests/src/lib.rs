//! The board's `src/slots.rs` (the very file the firmware builds) under `firmware/persist`,
//! on a simulated STM32H7 flash: 32-byte words, each programmable once between erases
//! (programming a word twice is recorded as a fault), power cuts after any number of word
//! operations (a cut word is left half-done and reads either as an ECC error or as garbage).

#[path = "../../src/slots.rs"]
pub mod slots;

#[cfg(test)]
mod tests {
    use super::slots::{Slots, WordFlash, WORD};
    use wardtap_persist::{load, save, Error, Flash, FlashError, HEADER_LEN};

    /// A small sector keeps the exhaustive cut tests fast; the logic does not depend on it.
    const SECTOR: u32 = 256;
    const BASES: [u32; 2] = [0x1000, 0x2000];
    /// Simulated flash bytes: room for slots of up to `SIM_LEN / 3` bytes (see [`slots_of`]).
    const SIM_LEN: usize = 0x60000;

    /// What a read of a word cut mid-operation returns.
    #[derive(Clone, Copy, Debug)]
    enum Cut {
        /// An ECC double error, reported as a device error.
        EccError,
        /// The first `n` bytes made it, the rest did not.
        Garbage(usize),
    }

    struct H7Sim {
        cells: Vec<u8>,
        programmed: Vec<bool>,
        garbled: Vec<bool>,
        /// Word operations (a program, or one word of an erase) left before the power goes.
        budget: Option<usize>,
        cut: Cut,
        /// Words programmed twice without an erase (the H7 refuses; must stay 0).
        double_programs: usize,
    }

    impl H7Sim {
        fn new(cut: Cut) -> Self {
            let words = SIM_LEN / WORD;
            H7Sim {
                cells: vec![0xff; SIM_LEN],
                programmed: vec![false; words],
                garbled: vec![false; words],
                budget: None,
                cut,
                double_programs: 0,
            }
        }
        /// Bytes of a cut word that took the operation.
        fn made_it(&self) -> usize {
            match self.cut {
                Cut::EccError => WORD / 2,
                Cut::Garbage(n) => n,
            }
        }
        /// Spends one operation; false when the power went.
        fn spend(&mut self) -> bool {
            match &mut self.budget {
                None => true,
                Some(0) => false,
                Some(b) => {
                    *b -= 1;
                    true
                }
            }
        }
    }

    impl WordFlash for H7Sim {
        fn erase(&mut self, at: u32, len: u32) -> Result<(), FlashError> {
            assert_eq!(at % len, 0, "erase is sector-aligned");
            for w in (at as usize..(at + len) as usize).step_by(WORD) {
                let i = w / WORD;
                if !self.spend() {
                    // This word is partly erased.
                    let n = self.made_it();
                    for c in &mut self.cells[w..w + n] {
                        *c = 0xff;
                    }
                    self.garbled[i] = true;
                    return Err(FlashError::Device);
                }
                self.cells[w..w + WORD].fill(0xff);
                self.programmed[i] = false;
                self.garbled[i] = false;
            }
            Ok(())
        }
        fn program(&mut self, at: u32, word: &[u8; WORD]) -> Result<(), FlashError> {
            assert_eq!(at as usize % WORD, 0, "programs whole aligned words");
            let (w, i) = (at as usize, at as usize / WORD);
            if self.programmed[i] || self.garbled[i] {
                self.double_programs += 1;
                return Err(FlashError::Device);
            }
            self.programmed[i] = true;
            if !self.spend() {
                let n = self.made_it();
                for (c, d) in self.cells[w..w + n].iter_mut().zip(word) {
                    *c &= *d;
                }
                self.garbled[i] = true;
                return Err(FlashError::Device);
            }
            for (c, d) in self.cells[w..w + WORD].iter_mut().zip(word) {
                *c &= *d;
            }
            Ok(())
        }
        fn read(&mut self, at: u32, buf: &mut [u8]) -> Result<(), FlashError> {
            let (a, b) = (at as usize, at as usize + buf.len());
            if matches!(self.cut, Cut::EccError) && (a / WORD..b.div_ceil(WORD)).any(|i| self.garbled[i]) {
                return Err(FlashError::Device);
            }
            buf.copy_from_slice(&self.cells[a..b]);
            Ok(())
        }
    }

    fn slots(cut: Cut) -> Slots<H7Sim> {
        Slots::new(H7Sim::new(cut), BASES, SECTOR)
    }

    /// Slots of `sector` bytes at `sector` and `2 * sector`.
    fn slots_of(cut: Cut, sector: u32) -> Slots<H7Sim> {
        assert!(3 * sector as usize <= SIM_LEN);
        Slots::new(H7Sim::new(cut), [sector, 2 * sector], sector)
    }

    fn loaded(s: &Slots<H7Sim>) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; s.slot_len()];
        load(s, &mut buf).unwrap().map(|n| buf[..n].to_vec())
    }

    fn doubles(s: &Slots<H7Sim>) -> usize {
        s.flash().borrow().double_programs
    }

    #[test]
    fn saves_alternate_and_round_trip_for_every_payload_size() {
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 64, 100, 200, 224] {
            let mut s = slots(Cut::EccError);
            assert_eq!(loaded(&s), None);
            for i in 0..6u8 {
                let p: Vec<u8> = (0..len).map(|b| (b as u8) ^ i).collect();
                let f = save(&mut s, &p).unwrap();
                assert_eq!(f.slot, i % 2);
                assert_eq!(loaded(&s).unwrap(), p, "len {len} save {i}");
            }
            assert_eq!(doubles(&s), 0, "no word programmed twice (len {len})");
        }
    }

    #[test]
    fn the_header_has_a_word_of_its_own() {
        let mut s = slots(Cut::EccError);
        save(&mut s, &[0xaa; 40]).unwrap();
        let f = s.flash().borrow();
        let base = BASES[0] as usize;
        assert_eq!(&f.cells[base..base + 4], b"WTP2");
        assert!(f.cells[base + HEADER_LEN..base + WORD].iter().all(|&c| c == 0xff));
        assert!(f.cells[base + WORD..base + WORD + 40].iter().all(|&c| c == 0xaa));
        assert!(f.cells[base + WORD + 40..base + 3 * WORD].iter().all(|&c| c == 0xff));
    }

    #[test]
    fn the_slot_is_the_sector_less_the_header_padding() {
        let mut s = slots(Cut::EccError);
        let max = s.slot_len() - HEADER_LEN;
        assert_eq!(max, SECTOR as usize - WORD);
        save(&mut s, &vec![7; max]).unwrap();
        assert_eq!(loaded(&s).unwrap(), vec![7; max]);
        assert_eq!(save(&mut s, &vec![7; max + 1]), Err(Error::TooLarge));
    }

    #[test]
    fn writes_other_than_persists_two_are_refused() {
        let mut s = slots(Cut::EccError);
        s.erase(0).unwrap();
        assert_eq!(s.write(0, 5, &[1]), Err(FlashError::Bounds));
        assert_eq!(s.write(0, 0, &[1; HEADER_LEN + 1]), Err(FlashError::Bounds));
        assert_eq!(s.write(2, 0, &[1]), Err(FlashError::Bounds));
        assert_eq!(s.write(0, HEADER_LEN, &vec![1; s.slot_len()]), Err(FlashError::Bounds));
        // A payload piece must start a word.
        assert_eq!(s.write(0, HEADER_LEN + 8, &[1; 32]), Err(FlashError::Bounds));
        assert_eq!(s.write(0, HEADER_LEN + WORD, &[1; 32]), Ok(()));
        let mut b = [0u8; 4];
        assert_eq!(s.read(0, s.slot_len() - 3, &mut b), Err(FlashError::Bounds));
        assert_eq!(doubles(&s), 0);
    }

    #[test]
    fn reads_straddling_the_header_and_the_payload_are_stitched() {
        let mut s = slots(Cut::EccError);
        let p: Vec<u8> = (0..50u8).collect();
        save(&mut s, &p).unwrap();
        let mut b = [0u8; 20];
        s.read(0, 10, &mut b).unwrap();
        assert_eq!(&b[6..], &p[..14]);
        let mut h = [0u8; HEADER_LEN];
        s.read(0, 0, &mut h).unwrap();
        assert_eq!(&b[..6], &h[10..]);
        assert_eq!(&h[8..12], &50u32.to_le_bytes());
    }

    #[test]
    fn a_cut_at_any_word_leaves_the_old_or_the_new_copy() {
        let old: Vec<u8> = (0..150u8).collect();
        let new: Vec<u8> = (0..70u8).map(|b| b ^ 0x5a).collect();
        // Word operations of one save: the erase, the payload words, the header word.
        let total = SECTOR as usize / WORD + new.len().div_ceil(WORD) + 1;
        for cut in [Cut::EccError, Cut::Garbage(0), Cut::Garbage(8), Cut::Garbage(16), Cut::Garbage(31)] {
            for history in 0..3 {
                for at in 0..=total {
                    let mut s = slots(cut);
                    for _ in 0..history {
                        save(&mut s, &[0xee; 10]).unwrap();
                    }
                    save(&mut s, &old).unwrap();
                    s.flash().borrow_mut().budget = Some(at);
                    let r = save(&mut s, &new);
                    s.flash().borrow_mut().budget = None; // power back
                    let got = loaded(&s).expect("never lose both copies");
                    if r.is_ok() {
                        assert_eq!(got, new, "{cut:?} history {history} cut {at}");
                    } else {
                        // Cut while programming the header word: if every header byte made
                        // it, the new copy is whole and valid; otherwise the old one stands.
                        assert!(got == old || got == new, "{cut:?} history {history} cut {at}: a partial copy");
                        if at < total - 1 {
                            assert_eq!(got, old, "{cut:?} history {history} cut {at}: taken before its header");
                        }
                    }
                    // The next save after the cut works, and no word was ever programmed twice.
                    save(&mut s, &new).unwrap();
                    assert_eq!(loaded(&s).unwrap(), new);
                    assert_eq!(doubles(&s), 0, "{cut:?} history {history} cut {at}");
                }
            }
        }
    }

    /// Word operations of one save of `len` payload bytes in a `sector`-byte slot.
    fn ops(sector: u32, len: usize) -> usize {
        sector as usize / WORD + len.div_ceil(WORD) + 1
    }

    #[test]
    fn a_streamed_payload_of_many_pieces_survives_a_cut_at_any_word() {
        // persist hands the payload over in STAGE-byte pieces: each must land on whole words.
        const BIG: u32 = 4096;
        assert_eq!(wardtap_persist::STAGE % WORD, 0);
        let old: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
        let new: Vec<u8> = (0..2500u32).map(|i| (i * 13 + 1) as u8).collect();
        assert!(new.len() > 8 * wardtap_persist::STAGE);
        let total = ops(BIG, new.len());
        for cut in [Cut::EccError, Cut::Garbage(5)] {
            for at in 0..=total {
                let mut s = slots_of(cut, BIG);
                save(&mut s, &old).unwrap();
                s.flash().borrow_mut().budget = Some(at);
                let r = save(&mut s, &new);
                s.flash().borrow_mut().budget = None;
                let got = loaded(&s).expect("never lose both copies");
                if r.is_ok() {
                    assert_eq!(got, new, "{cut:?} cut {at}");
                } else if at < total - 1 {
                    assert_eq!(got, old, "{cut:?} cut {at}");
                } else {
                    assert!(got == old || got == new, "{cut:?} cut {at}");
                }
                save(&mut s, &new).unwrap();
                assert_eq!(loaded(&s).unwrap(), new);
                assert_eq!(doubles(&s), 0, "{cut:?} cut {at}");
            }
        }
    }

    #[test]
    fn the_tap_image_round_trips_through_the_board_layout() {
        use wardtap_core::policy::{BaselineEntry, Mode};
        use wardtap_core::Tap;
        use wardtap_persist::image::{self, Link, Outcome};
        let mut tap = Box::new(Tap::new(0));
        for i in 0..700u32 {
            let mut b = [0u8; 18];
            b[..6].copy_from_slice(&[2, 0, 0, 0, (i >> 8) as u8, i as u8]);
            assert!(tap.baseline_import(&BaselineEntry(b)));
        }
        tap.set_mode(Mode::Locked);
        // The board's real sector size: a full image fits with room to spare.
        let mut s = slots_of(Cut::EccError, 128 * 1024);
        assert!(image::MAX_IMAGE_LEN + HEADER_LEN <= s.slot_len());
        let link = Link { tap_id: 3, floor: 99 };
        for round in 0..3u32 {
            tap.resume_alerts_after(round * 1000);
            let saved = image::save(&mut s, &tap, link, 0).unwrap();
            assert_eq!((saved.slot, saved.entries), ((round % 2) as u8, 700));
            let floor = round * 1000 + image::ALERT_SEQ_GAP;
            let mut back = Box::new(Tap::new(1));
            match image::restore(&s, &mut back, 3) {
                Outcome::Restored(r) => assert_eq!(
                    (r.entries, r.refused, r.mode, r.link, r.alerts_floor),
                    (700, 0, Mode::Locked, link, floor)
                ),
                o => panic!("{o:?}"),
            }
            assert_eq!(back.last_alert_seq(), floor);
            let set = |t: &Tap| t.baseline_export().map(|e| e.0).collect::<std::collections::BTreeSet<_>>();
            assert_eq!(set(&back), set(&tap));
        }
        assert_eq!(doubles(&s), 0);
    }
}
