//! wardtap on the NUCLEO-H743ZI(2): the ETH MAC behind the on-board LAN8742A is the monitor
//! port (promiscuous, receive only), USART3 (the ST-LINK virtual COM port) the management
//! link. Thin: the portable crates do the work (`wardtap-core`, `wardtap-link`,
//! `wardtap-persist`); `hw`, `monitor` and `storage` are the only modules that touch
//! hardware.
//!
//! Boot: the baseline, policy, learning mode, link counter floor and alerts' sequence floor
//! saved in flash are restored into the fresh tap before the first frame is taken; then,
//! still before the first frame, the image is saved again, waiting for the sector erase
//! (1–2 s): the restored tap numbers its alerts from the saved floor up, and the next
//! numbers must be reserved in flash before it can raise one (see `wardtap_persist::image`).
//!
//! Main loop, as on the emulated board: take up to [`FRAMES_PER_ROUND`] frames into the
//! core, move the pending response a little further out to the UART, take request bytes
//! while no response is pending; save the tap's image when an accepted request changed its
//! configuration, learning locked by itself, or the alerts used half the sequence numbers
//! the last save reserved (the sector erase runs in the background, see `storage`); when nothing was done, sleep until the ETH DMA, the UART or the 1 kHz tick
//! raises an interrupt. Serving one request is bounded (one page), so frames wait at most
//! that long in the DMA's receive ring ([`monitor::RX_FRAMES`]).
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod hw;
mod monitor;
mod slots;
mod storage;

use cortex_m_rt::entry;
use defmt_rtt as _;
use static_cell::ConstStaticCell;
use storage::Persist;
use wardtap_core::Tap;
use wardtap_link::{Board, Server};
use wardtap_persist::image::{Link, Watch};
use wardtap_proto::mgmt::{provision, NicCounters};

/// Frames taken per round before looking at the management line.
const FRAMES_PER_ROUND: usize = 16;
/// Line bytes taken per round.
const BYTES_PER_ROUND: usize = 512;
/// How often the PHY's link state is looked at (µs).
const LINK_POLL_US: u64 = 1_000_000;

/// The core's whole state (457 KiB with `profile-512k`). A new Tap is all zeros, so it is
/// in .bss, in AXI SRAM (`RAM` in memory.x), and costs no flash.
static TAP: ConstStaticCell<Tap> = ConstStaticCell::new(Tap::new(0));

/// Time as the board sees it: µs since boot plus the host's offset (`wardtap pull
/// --set-clock`); the board has no battery-backed clock.
struct Clock {
    micros: hw::Micros,
    /// µs since the epoch at boot (set by the host).
    offset_us: u64,
}

impl Clock {
    fn now_us(&mut self) -> u64 {
        self.offset_us.saturating_add(self.micros.now_us())
    }
}

/// What the management server sees of the board.
struct View<'a> {
    clock: &'a mut Clock,
    nic: NicCounters,
}

impl Board for View<'_> {
    fn uptime_s(&self) -> u32 {
        u32::try_from(self.clock.micros.peek_us() / 1_000_000).unwrap_or(u32::MAX)
    }
    fn clock_us(&self) -> u64 {
        self.clock.offset_us.saturating_add(self.clock.micros.peek_us())
    }
    fn set_clock(&mut self, epoch_us: u64) {
        let up = self.clock.micros.now_us();
        self.clock.offset_us = epoch_us.saturating_sub(up);
    }
    fn nic(&self) -> NicCounters {
        self.nic
    }
}

#[entry]
fn main() -> ! {
    let hw::Board { mut monitor, mut uart, slots, clock, mut watchdog } = hw::init();
    let tap = TAP.take();
    let mut clock = Clock { micros: clock, offset_us: 0 };
    let mut persist = Persist::new(slots);
    let (key, tap_id) = match provision::decode(&storage::provisioning_record(persist.slots())) {
        Some((id, key)) => (Some(key), id),
        None => (None, 0),
    };
    // Before any frame: what was saved decides from the first one on.
    let floor = persist.restore(tap, tap_id);
    let mut watch = Watch::new(tap);
    let mut server = Server::new(key, tap_id, floor, env!("CARGO_PKG_VERSION"), "nucleo-h743zi");
    if watch.due(tap, false) {
        // Reserve the next alert numbers before the first frame can raise an alert, waiting
        // for the erase: frames meanwhile wait in the DMA ring, then are dropped (counted).
        // Bounded: `poll` gives the erase up after `storage::ERASE_TIMEOUT_US`.
        persist.request();
        while persist.busy() {
            watchdog.pet();
            let (now, frames_clock) = (clock.micros.now_us(), clock.now_us());
            persist.poll(tap, Link { tap_id, floor: server.last_counter() }, now, frames_clock);
        }
    }
    defmt::info!(
        "wardtap {} on nucleo-h743zi: tap id {}, {}, counter floor {}, core state {} bytes",
        env!("CARGO_PKG_VERSION"),
        tap_id,
        if key.is_some() { "provisioned" } else { "NOT provisioned" },
        floor,
        core::mem::size_of::<Tap>()
    );
    let mut link_up = false;
    let mut next_link_poll = 0u64;
    loop {
        watchdog.pet();
        let mut busy = false;
        for _ in 0..FRAMES_PER_ROUND {
            let ts = clock.now_us();
            if monitor.receive(|frame| tap.process(ts, frame)).is_none() {
                break;
            }
            busy = true;
        }
        let out = server.output();
        if !out.is_empty() {
            let n = uart.write_some(out);
            server.consumed(n);
            busy |= n > 0;
        }
        if server.ready() {
            let nic = monitor.counters();
            let mut view = View { clock: &mut clock, nic };
            for _ in 0..BYTES_PER_ROUND {
                let Some(b) = uart.read() else { break };
                busy = true;
                if server.push(b, tap, &mut view) {
                    break;
                }
            }
        }
        if watch.due(tap, server.take_changed()) {
            // A new policy or learning state (and the request's counter as the floor, so it
            // cannot be replayed after a reboot), learning locked by itself, or alert numbers
            // to reserve.
            persist.request();
        }
        if persist.busy() {
            let (now, frames_clock) = (clock.micros.now_us(), clock.now_us());
            persist.poll(tap, Link { tap_id, floor: server.last_counter() }, now, frames_clock);
        }
        let now = clock.micros.now_us();
        if now >= next_link_poll {
            next_link_poll = now.saturating_add(LINK_POLL_US);
            let up = monitor.link_up();
            if up != link_up {
                link_up = up;
                defmt::info!("monitor port: link {}", if up { "up" } else { "down" });
            }
        }
        if !busy && !monitor.rx_pending() && server.output().is_empty() && !uart.has_input() {
            // An interrupt that raced the checks above is caught by the next 1 ms tick.
            hw::sleep();
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // Not reachable by design (no panics on input); if it ever is, log and reset (the
    // watchdog would otherwise do it).
    defmt::error!("panic");
    hw::reset()
}
