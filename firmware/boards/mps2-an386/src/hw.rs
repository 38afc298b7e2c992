//! Everything `unsafe` in this firmware, in one place: volatile MMIO at the fixed addresses
//! of the mps2-an386 memory map, NVIC setup, reading the provisioning record, and the
//! emulated flash that holds the persistence slots.
//!
//! Each `unsafe` block is a volatile access to a device register, to the provisioning area
//! or to the persistence area, at an address from the board's memory map (`memory.x`),
//! aligned to 4 bytes (or a byte access inside the persistence area, bounds-checked first),
//! and only ever performed by this single-threaded firmware (the interrupt handlers touch
//! none of these: they only mask their line).
#![allow(unsafe_code)]

use core::sync::atomic::{AtomicU32, Ordering};
use cortex_m::peripheral::NVIC;
use cortex_m_rt::exception;
use lan9118::{Bus, Reg, WReg};
use wardtap_persist::{Flash, FlashError};

/// LAN9118 base.
const LAN9118: usize = 0x4020_0000;
/// UART0 base (CMSDK APB UART).
const UART0: usize = 0x4000_4000;
/// Provisioning record (last 4 KiB of the code region, see memory.x).
const PROVISION: usize = 0x003f_f000;
/// Persistence slots A and B (the 128 KiB below the provisioning record, see memory.x).
const PERSIST: usize = 0x003d_f000;
/// Bytes per persistence slot.
const SLOT_LEN: usize = 64 * 1024;
const _: () = assert!(PERSIST + 2 * SLOT_LEN == PROVISION);
// A full image at this build's capacities fits a slot.
const _: () = assert!(wardtap_persist::image::MAX_IMAGE_LEN + wardtap_persist::HEADER_LEN <= SLOT_LEN);

fn read(addr: usize) -> u32 {
    // SAFETY: see the module doc: a fixed, aligned device or provisioning address.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

fn write(addr: usize, value: u32) {
    // SAFETY: see the module doc: a fixed, aligned device register, or a word of the
    // persistence area.
    unsafe { core::ptr::write_volatile(addr as *mut u32, value) }
}

/// The LAN9118's registers. Only the offsets in [`Reg`] and [`WReg`] can be reached: the
/// transmit FIFO is not mapped here.
pub struct LanBus(());

impl LanBus {
    /// The one register block (called once, from `main`).
    pub fn take() -> LanBus {
        LanBus(())
    }
}

impl Bus for LanBus {
    fn read(&mut self, reg: Reg) -> u32 {
        read(LAN9118 + reg as usize)
    }
    fn write(&mut self, reg: WReg, value: u32) {
        write(LAN9118 + reg as usize, value)
    }
}

/// UART0: the management link.
pub struct Uart(());

impl Uart {
    const DATA: usize = UART0;
    const STATE: usize = UART0 + 0x4;
    const CTRL: usize = UART0 + 0x8;
    const INTSTATUS: usize = UART0 + 0xc;
    const BAUDDIV: usize = UART0 + 0x10;

    /// Enables transmit, receive and the receive interrupt (a wake-up source only).
    pub fn take() -> Uart {
        write(Self::BAUDDIV, 16);
        write(Self::CTRL, 0b1011);
        Uart(())
    }
    /// A received byte, if one waits.
    pub fn read(&mut self) -> Option<u8> {
        (read(Self::STATE) & 0b10 != 0).then(|| read(Self::DATA) as u8)
    }
    /// A received byte waits.
    pub fn has_input(&self) -> bool {
        read(Self::STATE) & 0b10 != 0
    }
    /// Sends what fits in the transmitter now; returns how many bytes.
    pub fn write_some(&mut self, bytes: &[u8]) -> usize {
        let mut n = 0;
        for &b in bytes {
            if read(Self::STATE) & 0b1 != 0 {
                break;
            }
            write(Self::DATA, u32::from(b));
            n += 1;
        }
        n
    }
    /// Clears the receive interrupt.
    pub fn ack_interrupt(&mut self) {
        write(Self::INTSTATUS, 0b10);
    }
}

/// Milliseconds counted by the SysTick exception.
static MS: AtomicU32 = AtomicU32::new(0);

/// A millisecond clock from SysTick (25 MHz core clock, one exception per ms), extended to
/// 64 bits by whoever reads it at least once per 49 days (the main loop, every ms at worst).
pub struct Ticks {
    last: u32,
    high: u64,
}

impl Ticks {
    /// Milliseconds since boot.
    pub fn now_ms(&mut self) -> u64 {
        let m = MS.load(Ordering::Relaxed);
        if m < self.last {
            self.high += 1 << 32;
        }
        self.last = m;
        self.high + u64::from(m)
    }
    /// Milliseconds since boot without extending (a status may be one wrap stale).
    pub fn peek_ms(&self) -> u64 {
        self.high + u64::from(MS.load(Ordering::Relaxed))
    }
}

#[exception]
fn SysTick() {
    MS.fetch_add(1, Ordering::Relaxed);
}

/// An interrupt line rose: the main loop is awake now; mask the line (it stays asserted
/// until the main loop drains its source) and return.
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if let Ok(n) = u16::try_from(irqn) {
        NVIC::mask(Line(n));
    }
}

#[derive(Clone, Copy)]
struct Line(u16);

// SAFETY: the numbers are the mps2-an386 interrupt lines (QEMU's mps2.c), all below 32, or
// a number the NVIC itself reported.
unsafe impl cortex_m::interrupt::InterruptNumber for Line {
    fn number(self) -> u16 {
        self.0
    }
}

/// UART0 receive and the LAN9118.
const WAKE_LINES: [Line; 2] = [Line(0), Line(13)];

/// Starts the 1 kHz SysTick (the clock, and a wake-up every ms so no event waits longer)
/// and returns the clock.
pub fn init_wakeups(mut syst: cortex_m::peripheral::SYST) -> Ticks {
    syst.set_clock_source(cortex_m::peripheral::syst::SystClkSource::Core);
    syst.set_reload(25_000 - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
    Ticks { last: 0, high: 0 }
}

/// Lets the NIC and the UART wake `wfi` at once (their handlers mask them again). Call with
/// their sources cleared; an event that races with the check before `wfi` waits at most a
/// millisecond for SysTick.
pub fn rearm_wakeups() {
    for line in WAKE_LINES {
        NVIC::unpend(line);
        // SAFETY: the only handler for these lines masks them; no shared state is touched.
        unsafe { NVIC::unmask(line) };
    }
}

/// Sleeps until an interrupt or the next millisecond.
pub fn sleep() {
    cortex_m::asm::wfi();
}

/// Copies the provisioning record out of its area.
pub fn provisioning_record() -> [u8; wardtap_proto::mgmt::provision::RECORD_LEN] {
    let mut r = [0u8; wardtap_proto::mgmt::provision::RECORD_LEN];
    for (i, chunk) in r.chunks_exact_mut(4).enumerate() {
        chunk.copy_from_slice(&read(PROVISION + 4 * i).to_le_bytes());
    }
    r
}

/// The board's "flash": QEMU's mps2-an386 has none (its 4 MiB at address 0 is SSRAM, where
/// the image is loaded), so two 64 KiB slots of that SSRAM behave as NOR flash here: erase
/// sets `0xff`, programming can only clear bits. The contents survive as long as the QEMU
/// process does (a guest reset keeps them; QEMU's `-device loader` puts a saved dump back
/// at the next start, see `cargo xtask qemu-replay --flash`). Erase and program are
/// instant: no stall to account for, unlike a real board's flash.
pub struct EmuFlash(());

impl EmuFlash {
    /// The one persistence area (called once, from `main`).
    pub fn take() -> EmuFlash {
        EmuFlash(())
    }

    /// The address of `len` bytes at `offset` in `slot`, if they are inside it.
    fn at(slot: u8, offset: usize, len: usize) -> Result<usize, FlashError> {
        let end = offset.checked_add(len).ok_or(FlashError::Bounds)?;
        if slot > 1 || end > SLOT_LEN {
            return Err(FlashError::Bounds);
        }
        Ok(PERSIST + usize::from(slot) * SLOT_LEN + offset)
    }
}

impl Flash for EmuFlash {
    fn slot_len(&self) -> usize {
        SLOT_LEN
    }
    fn erase(&mut self, slot: u8) -> Result<(), FlashError> {
        let base = Self::at(slot, 0, SLOT_LEN)?;
        for w in (base..base + SLOT_LEN).step_by(4) {
            write(w, u32::MAX);
        }
        Ok(())
    }
    fn write(&mut self, slot: u8, offset: usize, data: &[u8]) -> Result<(), FlashError> {
        let base = Self::at(slot, offset, data.len())?;
        for (a, &d) in (base..).zip(data) {
            // SAFETY: see the module doc: inside the persistence area (checked above).
            unsafe {
                let p = a as *mut u8;
                p.write_volatile(p.read_volatile() & d);
            }
        }
        Ok(())
    }
    fn read(&self, slot: u8, offset: usize, buf: &mut [u8]) -> Result<(), FlashError> {
        let base = Self::at(slot, offset, buf.len())?;
        for (a, b) in (base..).zip(buf.iter_mut()) {
            // SAFETY: see the module doc: inside the persistence area (checked above).
            *b = unsafe { (a as *const u8).read_volatile() };
        }
        Ok(())
    }
}

/// Ends the emulation with a failure status (semihosting), or halts.
pub fn exit_failure() -> ! {
    cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
