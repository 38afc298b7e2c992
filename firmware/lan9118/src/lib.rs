//! Receive-only driver for the SMSC LAN9118 (the Ethernet controller QEMU's `mps2-an386`
//! emulates): promiscuous receive of every frame on the wire, and **no transmit function**.
//!
//! Passivity is structural, not a promise:
//! - the driver reaches the chip only through [`Bus`], whose writable registers are the
//!   closed enum [`WReg`]: the TX data FIFO, TX configuration and TX status registers are
//!   not in it, so no code path here (or in a board's [`Bus`] implementation that maps only
//!   these offsets) can put a frame into the transmitter;
//! - the MAC is configured with `RXEN | PRMS` and never `TXEN` (checked by the tests, which
//!   run the driver against a mock register block).
//!
//! What is deliberately not here: transmit, flow control (pause frames would be
//! transmissions), EEPROM, PHY tuning (the PHY's defaults autonegotiate; a SPAN port or a
//! passive tap needs nothing else), power management.
//!
//! `no_std`, no `unsafe`: the volatile MMIO lives in the board crate, behind [`Bus`].
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// Registers the driver reads (byte offsets from the chip's base address).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u32)]
pub enum Reg {
    /// RX data FIFO port.
    RxDataFifo = 0x00,
    /// RX status FIFO port (pops one status word).
    RxStatusFifo = 0x40,
    /// Chip id and revision.
    IdRev = 0x50,
    /// Interrupt pin configuration.
    IrqCfg = 0x54,
    /// Interrupt status (write 1 to clear).
    IntSts = 0x58,
    /// Interrupt enable.
    IntEn = 0x5c,
    /// Reads 0x8765_4321 when the bus works.
    ByteTest = 0x64,
    /// FIFO level interrupts.
    FifoInt = 0x68,
    /// RX configuration.
    RxCfg = 0x6c,
    /// Hardware configuration (soft reset).
    HwCfg = 0x74,
    /// RX datapath control (fast-forward).
    RxDpCtrl = 0x78,
    /// RX FIFO information (used space).
    RxFifoInf = 0x7c,
    /// Power management (device ready).
    PmtCtrl = 0x84,
    /// Frames dropped by the receiver (clears on read).
    RxDrop = 0xa0,
    /// MAC CSR command.
    MacCsrCmd = 0xa4,
    /// MAC CSR data.
    MacCsrData = 0xa8,
}

/// Registers the driver writes. No TX register is in this list.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u32)]
pub enum WReg {
    /// Interrupt pin configuration.
    IrqCfg = 0x54,
    /// Interrupt status (write 1 to clear).
    IntSts = 0x58,
    /// Interrupt enable.
    IntEn = 0x5c,
    /// FIFO level interrupts.
    FifoInt = 0x68,
    /// RX configuration.
    RxCfg = 0x6c,
    /// Hardware configuration (soft reset).
    HwCfg = 0x74,
    /// RX datapath control (fast-forward).
    RxDpCtrl = 0x78,
    /// MAC CSR command.
    MacCsrCmd = 0xa4,
    /// MAC CSR data.
    MacCsrData = 0xa8,
}

/// 32-bit register access to the chip. The board implements it with volatile MMIO.
pub trait Bus {
    /// Reads a register.
    fn read(&mut self, reg: Reg) -> u32;
    /// Writes a register.
    fn write(&mut self, reg: WReg, value: u32);
}

/// Register bits and values, from the LAN9118 datasheet.
pub mod bits {
    /// `BYTE_TEST` value.
    pub const BYTE_TEST: u32 = 0x8765_4321;
    /// `HW_CFG.SRST`: soft reset (self-clearing).
    pub const HW_CFG_SRST: u32 = 1 << 0;
    /// `PMT_CTRL.READY`.
    pub const PMT_READY: u32 = 1 << 0;
    /// `IRQ_CFG`: IRQ_EN, active high, push-pull (QEMU needs exactly this: with an
    /// active-low setting its line stays asserted).
    pub const IRQ_CFG: u32 = 0x111;
    /// `INT_EN/INT_STS.RSFL`: RX status FIFO above its level.
    pub const INT_RSFL: u32 = 1 << 3;
    /// `INT_STS.RXDF`: the receiver dropped a frame.
    pub const INT_RXDF: u32 = 1 << 6;
    /// `RX_DP_CTRL.RX_FFWD`: skip the rest of the current frame.
    pub const RX_FFWD: u32 = 1 << 31;
    /// `RX_FIFO_INF.RXSUSED`: status words waiting.
    pub const RXSUSED_SHIFT: u32 = 16;
    /// RX status: frame length (including the 4-byte FCS).
    pub const RXS_LEN_SHIFT: u32 = 16;
    /// RX status length mask.
    pub const RXS_LEN_MASK: u32 = 0x3fff;
    /// RX status: error summary.
    pub const RXS_ES: u32 = 1 << 15;
    /// `MAC_CSR_CMD.CSR_BUSY`.
    pub const CSR_BUSY: u32 = 1 << 31;
    /// `MAC_CSR_CMD.R/nW`: read.
    pub const CSR_READ: u32 = 1 << 30;
    /// MAC CSR index of `MAC_CR`.
    pub const MAC_CR: u32 = 1;
    /// `MAC_CR.RXEN`.
    pub const MAC_CR_RXEN: u32 = 1 << 2;
    /// `MAC_CR.TXEN` (never set by this driver).
    pub const MAC_CR_TXEN: u32 = 1 << 3;
    /// `MAC_CR.PRMS`: promiscuous.
    pub const MAC_CR_PRMS: u32 = 1 << 18;
    /// `MAC_CR.RXALL`: also frames the filter would reject.
    pub const MAC_CR_RXALL: u32 = 1 << 31;
    /// MAC CSR index of `FLOW` (pause frames: transmissions, kept off).
    pub const MAC_FLOW: u32 = 8;
}

/// Largest frame kept (including the FCS the chip appends); longer frames are skipped and
/// counted. 1,518 + VLAN tags, rounded up to whole words.
pub const MAX_FRAME: usize = 1536;

/// Poll bounds for self-clearing bits (the chip needs microseconds; these are generous).
const POLL_LIMIT: u32 = 100_000;

/// What one call to [`Lan9118::receive`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Rx<'a> {
    /// A frame, without its FCS.
    Frame(&'a [u8]),
    /// A frame was skipped (error or too long; counted). Call again.
    Skipped,
    /// No frame waits.
    Empty,
}

/// What the receiver counted.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RxCounters {
    /// Frames delivered.
    pub frames: u64,
    /// Frames the chip dropped (its FIFO was full), from `RX_DROP`.
    pub dropped: u32,
    /// Frames received with the error summary bit set (CRC, runt, too long), skipped.
    pub errors: u32,
    /// Frames longer than [`MAX_FRAME`], skipped.
    pub too_long: u32,
}

/// Why the chip could not be brought up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum InitError {
    /// `BYTE_TEST` read something else: no chip, or the bus is wired wrong.
    NoChip(u32),
    /// The chip did not come out of reset.
    ResetTimeout,
    /// A MAC CSR access did not complete.
    CsrTimeout,
}

/// The receive-only driver.
pub struct Lan9118<B: Bus> {
    bus: B,
    /// What was received, dropped and skipped.
    pub counters: RxCounters,
}

impl<B: Bus> Lan9118<B> {
    /// Wraps the register block. Call [`Lan9118::init`] before receiving.
    pub const fn new(bus: B) -> Self {
        Lan9118 { bus, counters: RxCounters { frames: 0, dropped: 0, errors: 0, too_long: 0 } }
    }

    /// The register block (for tests and board diagnostics).
    pub fn bus(&mut self) -> &mut B {
        &mut self.bus
    }

    /// Resets the chip and starts promiscuous receive, transmitter off. Enables the RX
    /// interrupt line (RX status FIFO not empty) for boards that sleep until it rises.
    pub fn init(&mut self) -> Result<(), InitError> {
        let t = self.bus.read(Reg::ByteTest);
        if t != bits::BYTE_TEST {
            return Err(InitError::NoChip(t));
        }
        self.bus.write(WReg::HwCfg, bits::HW_CFG_SRST);
        self.wait(Reg::HwCfg, bits::HW_CFG_SRST, 0).map_err(|_| InitError::ResetTimeout)?;
        self.wait(Reg::PmtCtrl, bits::PMT_READY, bits::PMT_READY).map_err(|_| InitError::ResetTimeout)?;
        // RX data starts at offset 0 of the first word, words end-aligned to 4 bytes.
        self.bus.write(WReg::RxCfg, 0);
        // No pause frames: they would be transmissions.
        self.mac_write(bits::MAC_FLOW, 0)?;
        // Receive everything, transmit nothing.
        self.mac_write(bits::MAC_CR, bits::MAC_CR_RXEN | bits::MAC_CR_PRMS)?;
        // Interrupt as soon as one status word waits.
        self.bus.write(WReg::FifoInt, 0);
        self.bus.write(WReg::IntSts, u32::MAX);
        self.bus.write(WReg::IntEn, bits::INT_RSFL);
        self.bus.write(WReg::IrqCfg, bits::IRQ_CFG);
        Ok(())
    }

    /// The MAC control register as the chip holds it.
    pub fn mac_cr(&mut self) -> Result<u32, InitError> {
        self.mac_read(bits::MAC_CR)
    }

    /// At least one received frame waits.
    pub fn rx_pending(&mut self) -> bool {
        (self.bus.read(Reg::RxFifoInf) >> bits::RXSUSED_SHIFT) & 0xff != 0
    }

    /// Clears the RX interrupt status: the line drops until the next frame. Call before
    /// checking [`Lan9118::rx_pending`] and sleeping, so no frame is missed.
    pub fn ack_interrupt(&mut self) {
        self.bus.write(WReg::IntSts, bits::INT_RSFL | bits::INT_RXDF);
    }

    /// Takes the next frame into `buf`. Frames with errors or too long for `buf` are
    /// skipped and counted. Bounded: at most one frame is read per call.
    pub fn receive<'a>(&mut self, buf: &'a mut [u8; MAX_FRAME]) -> Rx<'a> {
        self.update_dropped();
        if !self.rx_pending() {
            return Rx::Empty;
        }
        let status = self.bus.read(Reg::RxStatusFifo);
        let len = ((status >> bits::RXS_LEN_SHIFT) & bits::RXS_LEN_MASK) as usize;
        let words = len.div_ceil(4);
        if status & bits::RXS_ES != 0 || len <= 4 {
            self.counters.errors = self.counters.errors.saturating_add(1);
            self.discard(words);
            return Rx::Skipped;
        }
        if len > MAX_FRAME {
            self.counters.too_long = self.counters.too_long.saturating_add(1);
            self.discard(words);
            return Rx::Skipped;
        }
        for chunk in buf.chunks_exact_mut(4).take(words) {
            chunk.copy_from_slice(&self.bus.read(Reg::RxDataFifo).to_le_bytes());
        }
        self.counters.frames = self.counters.frames.saturating_add(1);
        // The chip appends the frame check sequence; the core wants the frame alone.
        match buf.get(..len - 4) {
            Some(f) => Rx::Frame(f),
            None => Rx::Skipped,
        }
    }

    /// Skips the rest of a frame whose status was popped.
    fn discard(&mut self, words: usize) {
        if words < 4 {
            // Fast-forward needs at least four words; read short ones out.
            for _ in 0..words {
                let _ = self.bus.read(Reg::RxDataFifo);
            }
            return;
        }
        self.bus.write(WReg::RxDpCtrl, bits::RX_FFWD);
        let _ = self.wait(Reg::RxDpCtrl, bits::RX_FFWD, 0);
    }

    fn update_dropped(&mut self) {
        let d = self.bus.read(Reg::RxDrop);
        self.counters.dropped = self.counters.dropped.saturating_add(d);
    }

    fn wait(&mut self, reg: Reg, mask: u32, want: u32) -> Result<(), ()> {
        for _ in 0..POLL_LIMIT {
            if self.bus.read(reg) & mask == want {
                return Ok(());
            }
        }
        Err(())
    }

    fn mac_write(&mut self, index: u32, value: u32) -> Result<(), InitError> {
        self.wait(Reg::MacCsrCmd, bits::CSR_BUSY, 0).map_err(|_| InitError::CsrTimeout)?;
        self.bus.write(WReg::MacCsrData, value);
        self.bus.write(WReg::MacCsrCmd, bits::CSR_BUSY | (index & 0xff));
        self.wait(Reg::MacCsrCmd, bits::CSR_BUSY, 0).map_err(|_| InitError::CsrTimeout)
    }

    fn mac_read(&mut self, index: u32) -> Result<u32, InitError> {
        self.wait(Reg::MacCsrCmd, bits::CSR_BUSY, 0).map_err(|_| InitError::CsrTimeout)?;
        self.bus.write(WReg::MacCsrCmd, bits::CSR_BUSY | bits::CSR_READ | (index & 0xff));
        self.wait(Reg::MacCsrCmd, bits::CSR_BUSY, 0).map_err(|_| InitError::CsrTimeout)?;
        Ok(self.bus.read(Reg::MacCsrData))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::collections::VecDeque;
    use std::vec;
    use std::vec::Vec;

    /// A register-level model of the chip's receive side, as QEMU behaves: frames are
    /// pushed with the 4-byte FCS appended, RX_DROP counts frames refused when full.
    #[derive(Default)]
    struct Mock {
        data: VecDeque<u32>,
        status: VecDeque<u32>,
        /// Words left of the frame whose status was popped (for fast-forward).
        current: usize,
        mac: [u32; 16],
        csr_data: u32,
        int_sts: u32,
        drops: u32,
        writes: Vec<(WReg, u32)>,
        reset_polls: u32,
        no_chip: bool,
    }

    impl Mock {
        fn push_frame(&mut self, frame: &[u8], status_bits: u32) {
            let mut bytes = frame.to_vec();
            bytes.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]); // FCS
            let len = bytes.len() as u32;
            bytes.resize(bytes.len().div_ceil(4) * 4, 0);
            for w in bytes.chunks(4) {
                self.data.push_back(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
            }
            self.status.push_back((len << 16) | status_bits);
            self.int_sts |= bits::INT_RSFL;
        }
    }

    impl Bus for Mock {
        fn read(&mut self, reg: Reg) -> u32 {
            match reg {
                Reg::ByteTest if self.no_chip => 0xffff_ffff,
                Reg::ByteTest => bits::BYTE_TEST,
                Reg::HwCfg => {
                    self.reset_polls += 1;
                    if self.reset_polls < 3 {
                        bits::HW_CFG_SRST
                    } else {
                        0
                    }
                }
                Reg::PmtCtrl => bits::PMT_READY,
                Reg::RxFifoInf => ((self.status.len() as u32) << 16) | (self.data.len() as u32 * 4),
                Reg::RxStatusFifo => {
                    let s = self.status.pop_front().unwrap_or(0);
                    self.current = (((s >> 16) & 0x3fff) as usize).div_ceil(4);
                    s
                }
                Reg::RxDataFifo => {
                    self.current = self.current.saturating_sub(1);
                    self.data.pop_front().unwrap_or(0)
                }
                Reg::RxDrop => core::mem::take(&mut self.drops),
                Reg::MacCsrCmd => 0,
                Reg::MacCsrData => self.csr_data,
                Reg::IntSts => self.int_sts,
                Reg::RxDpCtrl => 0,
                _ => 0,
            }
        }
        fn write(&mut self, reg: WReg, value: u32) {
            self.writes.push((reg, value));
            match reg {
                WReg::MacCsrData => self.csr_data = value,
                WReg::MacCsrCmd if value & bits::CSR_READ != 0 => self.csr_data = self.mac[(value & 0xf) as usize],
                WReg::MacCsrCmd => self.mac[(value & 0xf) as usize] = self.csr_data,
                WReg::RxDpCtrl if value & bits::RX_FFWD != 0 => {
                    for _ in 0..core::mem::take(&mut self.current) {
                        self.data.pop_front();
                    }
                }
                WReg::IntSts => self.int_sts &= !value,
                _ => {}
            }
        }
    }

    fn up() -> Lan9118<Mock> {
        let mut nic = Lan9118::new(Mock::default());
        nic.init().unwrap();
        nic
    }

    #[test]
    fn init_is_promiscuous_receive_with_transmitter_off() {
        let mut nic = up();
        let cr = nic.mac_cr().unwrap();
        assert_eq!(cr & bits::MAC_CR_RXEN, bits::MAC_CR_RXEN);
        assert_eq!(cr & bits::MAC_CR_PRMS, bits::MAC_CR_PRMS);
        assert_eq!(cr & bits::MAC_CR_TXEN, 0, "transmitter enabled");
        assert_eq!(nic.bus().mac[bits::MAC_FLOW as usize], 0, "pause frames enabled");
        assert!(nic.bus().writes.contains(&(WReg::IrqCfg, 0x111)));
        // No MAC write ever set TXEN.
        let w = &nic.bus().writes;
        for pair in w.windows(2) {
            if let [(WReg::MacCsrData, v), (WReg::MacCsrCmd, c)] = pair {
                if c & bits::CSR_READ == 0 && c & 0xff == bits::MAC_CR {
                    assert_eq!(v & bits::MAC_CR_TXEN, 0);
                }
            }
        }
    }

    #[test]
    fn no_chip_is_reported() {
        let mut nic = Lan9118::new(Mock { no_chip: true, ..Default::default() });
        assert_eq!(nic.init(), Err(InitError::NoChip(0xffff_ffff)));
    }

    #[test]
    fn frames_come_out_whole_without_fcs_in_order() {
        let mut nic = up();
        let frames: Vec<Vec<u8>> =
            (14..80).chain([1514, MAX_FRAME - 4]).map(|n| (0..n).map(|i| i as u8).collect()).collect();
        for f in &frames {
            nic.bus().push_frame(f, 0);
        }
        let mut buf = [0u8; MAX_FRAME];
        for f in &frames {
            match nic.receive(&mut buf) {
                Rx::Frame(got) => assert_eq!(got, &f[..]),
                other => panic!("{other:?} for len {}", f.len()),
            }
        }
        assert_eq!(nic.receive(&mut buf), Rx::Empty);
        assert_eq!(nic.counters.frames, frames.len() as u64);
        assert!(nic.bus().data.is_empty());
    }

    #[test]
    fn bad_and_oversized_frames_are_skipped_and_counted_and_the_next_one_is_intact() {
        let mut nic = up();
        nic.bus().push_frame(&[1; 60], bits::RXS_ES);
        nic.bus().push_frame(&[2; 2000], 0);
        nic.bus().push_frame(&[3; 9], bits::RXS_ES); // short: read out, not fast-forwarded
        nic.bus().push_frame(&[4; 64], 0);
        nic.bus().drops = 5;
        let mut buf = [0u8; MAX_FRAME];
        assert_eq!(nic.receive(&mut buf), Rx::Skipped);
        assert_eq!(nic.receive(&mut buf), Rx::Skipped);
        assert_eq!(nic.receive(&mut buf), Rx::Skipped);
        assert_eq!(nic.receive(&mut buf), Rx::Frame(&[4; 64][..]));
        assert_eq!(nic.receive(&mut buf), Rx::Empty);
        assert_eq!(nic.counters, RxCounters { frames: 1, dropped: 5, errors: 2, too_long: 1 });
    }

    #[test]
    fn lying_status_lengths_never_panic() {
        let mut nic = up();
        for len in [0u32, 1, 4, 5, 0x3fff] {
            nic.bus().status.push_back(len << 16);
        }
        nic.bus().data.extend(vec![0u32; 10]);
        let mut buf = [0u8; MAX_FRAME];
        for _ in 0..10 {
            let _ = nic.receive(&mut buf);
        }
        assert_eq!(nic.receive(&mut buf), Rx::Empty);
    }

    #[test]
    fn interrupt_ack_clears_rx_status() {
        let mut nic = up();
        nic.bus().push_frame(&[0; 60], 0);
        assert_ne!(nic.bus().int_sts & bits::INT_RSFL, 0);
        nic.ack_interrupt();
        assert_eq!(nic.bus().int_sts & bits::INT_RSFL, 0);
        assert!(nic.rx_pending());
    }
}
