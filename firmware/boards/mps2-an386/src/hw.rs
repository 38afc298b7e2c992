//! Everything `unsafe` in this firmware, in one place: volatile MMIO at the fixed addresses
//! of the mps2-an386 memory map, NVIC setup, and reading the provisioning record.
//!
//! Each `unsafe` block is a volatile access to a device register or to the provisioning
//! area, at an address from the board's memory map (`memory.x`), aligned to 4 bytes, and
//! only ever performed by this single-threaded firmware (no interrupt handlers run: PRIMASK
//! stays set and interrupts only wake `wfi`).
#![allow(unsafe_code)]

use core::sync::atomic::{AtomicU32, Ordering};
use cortex_m::peripheral::NVIC;
use cortex_m_rt::exception;
use lan9118::{Bus, Reg, WReg};

/// LAN9118 base.
const LAN9118: usize = 0x4020_0000;
/// UART0 base (CMSDK APB UART).
const UART0: usize = 0x4000_4000;
/// Provisioning record (last 4 KiB of the code region, see memory.x).
const PROVISION: usize = 0x003f_f000;

fn read(addr: usize) -> u32 {
    // SAFETY: see the module doc: a fixed, aligned device or provisioning address.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

fn write(addr: usize, value: u32) {
    // SAFETY: see the module doc: a fixed, aligned device register.
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

/// Ends the emulation with a failure status (semihosting), or halts.
pub fn exit_failure() -> ! {
    cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
