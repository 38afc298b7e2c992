//! wardtap on QEMU's mps2-an386: the LAN9118 is the monitor port (receive only), UART0 the
//! management link. Thin: the portable crates do the work; `hw` is the only module that
//! touches hardware (and the only one with `unsafe`).
//!
//! Boot: the baseline, policy, learning mode, link counter floor and alerts' sequence floor
//! saved in the emulated flash (`hw::EmuFlash`) are restored into the fresh tap before the
//! first frame is taken, and the image saved again at once (reserving the next alert
//! numbers, see `wardtap_persist::image`); it is saved again whenever an accepted request
//! changed the tap's configuration, learning locked by itself, or the alerts used half the
//! numbers the last save reserved.
//!
//! Main loop, no interrupt handlers: take up to [`FRAMES_PER_ROUND`] frames into the core,
//! move the pending response a little further out of the UART, take request bytes while no
//! response is pending; when nothing was done, sleep until the NIC, the UART or the timer
//! raises its line. Serving one request is bounded (one page), so frames wait at most that
//! long in the NIC's FIFO.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod hw;

use cortex_m_rt::entry;
use defmt_semihosting as _;
use lan9118::{Lan9118, Rx, MAX_FRAME};
use static_cell::ConstStaticCell;
use wardtap_core::Tap;
use wardtap_link::{Board, Server};
use wardtap_persist::image::{self, Link, Outcome, Watch};
use wardtap_proto::mgmt::{provision, NicCounters};

/// Frames taken per round before looking at the management line.
const FRAMES_PER_ROUND: usize = 16;
/// Line bytes taken per round.
const BYTES_PER_ROUND: usize = 512;

/// The core's whole state, placed statically (it is far larger than any stack).
static TAP: ConstStaticCell<Tap> = ConstStaticCell::new(Tap::new(0));

/// Time as the board sees it.
struct Clock {
    ticks: hw::Ticks,
    /// µs since the epoch at tick 0 (set by the host).
    offset_us: u64,
    /// With `capture-clock`: the last frame's capture time.
    #[cfg(feature = "capture-clock")]
    capture_us: u64,
}

impl Clock {
    fn uptime_us(&mut self) -> u64 {
        self.ticks.now_ms().saturating_mul(1000)
    }
    /// The clock frames are stamped with, now.
    fn frames_us(&mut self) -> u64 {
        #[cfg(feature = "capture-clock")]
        {
            self.capture_us
        }
        #[cfg(not(feature = "capture-clock"))]
        {
            self.offset_us.saturating_add(self.uptime_us())
        }
    }
    /// The timestamp of a received frame, and the frame itself.
    fn stamp<'a>(&mut self, frame: &'a [u8]) -> Option<(u64, &'a [u8])> {
        #[cfg(feature = "capture-clock")]
        {
            let (ts, rest) = frame.split_first_chunk::<8>()?;
            self.capture_us = u64::from_le_bytes(*ts);
            Some((self.capture_us, rest))
        }
        #[cfg(not(feature = "capture-clock"))]
        {
            Some((self.offset_us.saturating_add(self.uptime_us()), frame))
        }
    }
}

/// What the management server sees of the board.
struct View<'a> {
    clock: &'a mut Clock,
    nic: NicCounters,
}

impl Board for View<'_> {
    fn uptime_s(&self) -> u32 {
        // `now` needs `&mut` (it extends the counter); a status is fine one tick stale.
        let t = self.clock.ticks.peek_ms() / 1000;
        u32::try_from(t).unwrap_or(u32::MAX)
    }
    fn clock_us(&self) -> u64 {
        #[cfg(feature = "capture-clock")]
        {
            self.clock.capture_us
        }
        #[cfg(not(feature = "capture-clock"))]
        {
            self.clock.offset_us.saturating_add(self.clock.ticks.peek_ms().saturating_mul(1000))
        }
    }
    fn set_clock(&mut self, epoch_us: u64) {
        let up = self.clock.uptime_us();
        self.clock.offset_us = epoch_us.saturating_sub(up);
    }
    fn nic(&self) -> NicCounters {
        self.nic
    }
}

#[entry]
fn main() -> ! {
    let Some(core) = cortex_m::Peripherals::take() else { hw::exit_failure() };
    let ticks = hw::init_wakeups(core.SYST);
    let tap = TAP.take();
    let mut uart = hw::Uart::take();
    let mut clock = Clock {
        ticks,
        offset_us: 0,
        #[cfg(feature = "capture-clock")]
        capture_us: 0,
    };
    let (key, tap_id) = match provision::decode(&hw::provisioning_record()) {
        Some((id, key)) => (Some(key), id),
        None => (None, 0),
    };
    let mut nic = Lan9118::new(hw::LanBus::take());
    if let Err(e) = nic.init() {
        defmt::error!("monitor port: {}", e);
    }
    // Before any frame: what was saved decides from the first one on.
    let mut flash = hw::EmuFlash::take();
    let floor = match image::restore(&flash, tap, tap_id) {
        Outcome::Restored(r) => {
            defmt::info!("persist: restored {}", r);
            r.link.floor
        }
        Outcome::Nothing => 0,
        Outcome::Refused(why) => {
            defmt::warn!("persist: saved image not used: {}", why);
            0
        }
    };
    let mut watch = Watch::new(tap);
    let mut server = Server::new(key, tap_id, floor, env!("CARGO_PKG_VERSION"), "mps2-an386");
    // The restored tap numbers its alerts from the saved floor up (a new one from 1): reserve
    // the next numbers before the first frame can raise an alert.
    if watch.due(tap, false) {
        save(&mut flash, tap, Link { tap_id, floor: server.last_counter() }, clock.frames_us());
    }
    defmt::info!(
        "wardtap {} on mps2-an386: tap id {}, {}, core state {} bytes",
        env!("CARGO_PKG_VERSION"),
        tap_id,
        if key.is_some() { "provisioned" } else { "NOT provisioned" },
        core::mem::size_of::<Tap>()
    );
    let mut buf = [0u8; MAX_FRAME];
    let mut short = 0u32;
    loop {
        let mut busy = false;
        for _ in 0..FRAMES_PER_ROUND {
            match nic.receive(&mut buf) {
                Rx::Frame(f) => {
                    busy = true;
                    match clock.stamp(f) {
                        Some((ts, frame)) => tap.process(ts, frame),
                        None => short = short.saturating_add(1),
                    }
                }
                Rx::Skipped => busy = true,
                Rx::Empty => break,
            }
        }
        let out = server.output();
        if !out.is_empty() {
            let n = uart.write_some(out);
            server.consumed(n);
            busy |= n > 0;
        }
        if server.ready() {
            let mut nic_counters = NicCounters {
                frames: nic.counters.frames,
                dropped: nic.counters.dropped,
                errors: nic.counters.errors.saturating_add(short),
                too_long: nic.counters.too_long,
            };
            nic_counters.frames = nic_counters.frames.saturating_sub(u64::from(short));
            let mut view = View { clock: &mut clock, nic: nic_counters };
            for _ in 0..BYTES_PER_ROUND {
                let Some(b) = uart.read() else { break };
                busy = true;
                if server.push(b, tap, &mut view) {
                    break;
                }
            }
        }
        if watch.due(tap, server.take_changed()) {
            // The emulated flash erases and programs at once: saved in this round, before
            // the response to the request that asked for it has gone out.
            save(&mut flash, tap, Link { tap_id, floor: server.last_counter() }, clock.frames_us());
        }
        if !busy {
            // Clear the wake-up sources and re-arm them, then look once more: an event after
            // this point wakes `wfi` (or, if it raced the check, the next SysTick does).
            nic.ack_interrupt();
            uart.ack_interrupt();
            let _ = clock.ticks.now_ms();
            hw::rearm_wakeups();
            if !nic.rx_pending() && server.output().is_empty() && !uart.has_input() {
                hw::sleep();
            }
        }
    }
}

/// Saves the tap's image (erase and program at once on the emulated flash).
fn save(flash: &mut hw::EmuFlash, tap: &Tap, link: Link, frames_us: u64) {
    match image::save(flash, tap, link, frames_us) {
        Ok(s) => defmt::info!("persist: saved {}", s),
        Err(e) => defmt::error!("persist: save failed: {}", e),
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // Not reachable by design (no panics on input); if it ever is, QEMU exits non-zero and
    // a real board would reset through the watchdog.
    defmt::error!("panic");
    hw::exit_failure()
}
