//! The NUCLEO-H743ZI's hardware, set up once: clocks, the monitor port (ETH + LAN8742A),
//! the management UART (USART3 = the ST-LINK virtual COM port), flash, the µs clock, the
//! watchdog and the 1 kHz wake-up tick. Everything goes through `embassy-stm32` (safe API);
//! the only `unsafe` is inside the HAL's `bind_interrupts!` expansion (the interrupt vector
//! entries for ETH and USART3), hence the `allow` below.
#![allow(unsafe_code)]

use crate::monitor::{Lan8742a, MonitorPort, Queue};
use crate::storage::{self, Slots};
use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use cortex_m::peripheral::{syst::SystClkSource, DWT};
use cortex_m_rt::exception;
use embassy_stm32::eth::{self, Ethernet, Sma};
use embassy_stm32::flash::Flash;
use embassy_stm32::usart::{self, BufferedUart};
use embassy_stm32::wdg::IndependentWatchdog;
use embassy_stm32::{bind_interrupts, peripherals};
use static_cell::ConstStaticCell;

bind_interrupts!(struct Irqs {
    ETH => eth::InterruptHandler;
    USART3 => usart::BufferedInterruptHandler<peripherals::USART3>;
});

/// Core clock: HSI 64 MHz / 4 * 50 / 2 (PLL1 P), voltage scale 1.
pub const CPU_HZ: u32 = 400_000_000;
/// Management line speed (the ST-LINK VCP).
pub const BAUD: u32 = 115_200;
/// Watchdog timeout: longer than the slowest thing the main loop does (a 128 KiB sector
/// erase, 4 s at most per the datasheet), short enough to recover a hung tap.
const WATCHDOG_US: u32 = 10_000_000;
/// A locally administered MAC address for the HAL's address filter, which promiscuous mode
/// bypasses; never sent anywhere (the port does not transmit).
const MAC_ADDR: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];

/// The ETH DMA's descriptors and receive buffers (all zeros: .bss in AXI SRAM).
static ETH_QUEUE: ConstStaticCell<Queue> = ConstStaticCell::new(Queue::new());
/// USART3's interrupt-filled receive ring: a whole request frame fits (2,106 bytes).
static UART_RX: ConstStaticCell<[u8; 2048 + 256]> = ConstStaticCell::new([0; 2048 + 256]);
/// USART3's transmit ring.
static UART_TX: ConstStaticCell<[u8; 512]> = ConstStaticCell::new([0; 512]);

/// Everything the main loop uses.
pub struct Board {
    /// The monitor port (receive only).
    pub monitor: MonitorPort,
    /// The management line.
    pub uart: MgmtUart,
    /// Flash: provisioning record and persistence slots.
    pub slots: Slots,
    /// The µs clock.
    pub clock: Micros,
    /// The watchdog (running).
    pub watchdog: IndependentWatchdog<'static, peripherals::IWDG1>,
}

/// Brings the board up. Called once.
pub fn init() -> Board {
    let mut config = embassy_stm32::Config::default();
    {
        use embassy_stm32::rcc::*;
        // HSI needs no jumper or solder bridge (the ST-LINK's 8 MHz MCO on HSE depends on
        // the board revision's solder bridges).
        config.rcc.hsi = Some(HSIPrescaler::DIV1);
        config.rcc.csi = true;
        config.rcc.pll1 = Some(Pll {
            source: PllSource::HSI,
            prediv: PllPreDiv::DIV4,
            mul: PllMul::MUL50,
            fracn: None,
            divp: Some(PllDiv::DIV2),
            divq: None,
            divr: None,
        });
        config.rcc.sys = Sysclk::PLL1_P; // 400 MHz
        config.rcc.ahb_pre = AHBPrescaler::DIV2; // 200 MHz (AXI, AHB: the ETH DMA)
        config.rcc.apb1_pre = APBPrescaler::DIV2; // 100 MHz (USART3)
        config.rcc.apb2_pre = APBPrescaler::DIV2;
        config.rcc.apb3_pre = APBPrescaler::DIV2;
        config.rcc.apb4_pre = APBPrescaler::DIV2;
        config.rcc.voltage_scale = VoltageScale::Scale1;
    }
    let p = embassy_stm32::init(config);

    let mut watchdog = IndependentWatchdog::new(p.IWDG1, WATCHDOG_US);
    watchdog.unleash();

    let clock = match cortex_m::Peripherals::take() {
        Some(mut core) => {
            core.SCB.enable_icache();
            // The data cache stays off: the ETH DMA writes the receive buffers behind it.
            start_tick(&mut core.SYST);
            core.DCB.enable_trace();
            DWT::unlock();
            core.DWT.set_cycle_count(0);
            core.DWT.enable_cycle_counter();
            Micros { last: 0, high: 0 }
        }
        None => {
            defmt::error!("core peripherals already taken: no tick, clock from DWT as found");
            Micros { last: DWT::cycle_count(), high: 0 }
        }
    };

    // Management first, so a dead PHY (bounded wait) does not delay the line.
    let mut uart_config = usart::Config::default();
    uart_config.baudrate = BAUD;
    let uart = match BufferedUart::new(p.USART3, p.PD9, p.PD8, UART_TX.take(), UART_RX.take(), Irqs, uart_config) {
        Ok(u) => MgmtUart { uart: Some(u) },
        Err(_) => {
            defmt::error!("USART3: configuration refused");
            MgmtUart { uart: None }
        }
    };

    // RMII on the NUCLEO-144 (UM2407): REF_CLK PA1, CRS_DV PA7, RXD0 PC4, RXD1 PC5,
    // TX_EN PG11, TXD0 PG13, TXD1 PB13; SMI: MDIO PA2, MDC PC1. The transmit pins are
    // claimed because the HAL configures all seven; the MAC's transmitter is then disabled.
    let phy = Lan8742a::new(Sma::new(p.ETH_SMA, p.PA2, p.PC1), CPU_HZ);
    let eth = Ethernet::new_with_phy(
        ETH_QUEUE.take(),
        p.ETH,
        Irqs,
        p.PA1,
        p.PA7,
        p.PC4,
        p.PC5,
        p.PG13,
        p.PB13,
        p.PG11,
        MAC_ADDR,
        phy,
    );
    defmt::info!("PHY at SMI address {}", eth.phy().address());
    let monitor = MonitorPort::new(eth);

    let slots = storage::slots(Flash::new_blocking(p.FLASH));
    Board { monitor, uart, slots, clock, watchdog }
}

/// SysTick at 1 kHz: it only wakes `wfi`, so the main loop runs at least once per ms (the
/// µs clock must be read at least once per cycle-counter wrap, 10.7 s at 400 MHz).
fn start_tick(syst: &mut cortex_m::peripheral::SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(CPU_HZ / 1000 - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

#[exception]
fn SysTick() {}

/// Microseconds since boot from the DWT cycle counter (400 MHz), extended to 64 bits by the
/// main loop, which reads it at least once per wrap (10.7 s; the 1 kHz tick guarantees it).
pub struct Micros {
    last: u32,
    high: u64,
}

impl Micros {
    const CYCLES_PER_US: u64 = (CPU_HZ / 1_000_000) as u64;

    /// µs since boot.
    pub fn now_us(&mut self) -> u64 {
        let c = DWT::cycle_count();
        if c < self.last {
            self.high = self.high.saturating_add(1 << 32);
        }
        self.last = c;
        self.high.saturating_add(u64::from(c)) / Self::CYCLES_PER_US
    }

    /// µs since boot, without extending (right while at most one wrap passed since
    /// [`Micros::now_us`], which the main loop guarantees).
    pub fn peek_us(&self) -> u64 {
        let c = DWT::cycle_count();
        let high = if c < self.last { self.high.saturating_add(1 << 32) } else { self.high };
        high.saturating_add(u64::from(c)) / Self::CYCLES_PER_US
    }
}

/// USART3 through the ST-LINK's virtual COM port: interrupt-filled rings, never blocking.
pub struct MgmtUart {
    uart: Option<BufferedUart<'static>>,
}

impl MgmtUart {
    /// Bytes offered to the transmit ring at once.
    const CHUNK: usize = 64;

    /// A received byte, if one waits.
    pub fn read(&mut self) -> Option<u8> {
        embedded_hal_nb::serial::Read::read(self.uart.as_mut()?).ok()
    }

    /// A received byte waits.
    pub fn has_input(&mut self) -> bool {
        self.uart.as_mut().is_some_and(|u| embedded_io_async::ReadReady::read_ready(u).unwrap_or(false))
    }

    /// Queues what fits in the transmit ring now; returns how many bytes.
    pub fn write_some(&mut self, bytes: &[u8]) -> usize {
        let Some(uart) = self.uart.as_mut() else { return bytes.len() }; // no line: discard
        let mut n = 0;
        while let Some(chunk) = bytes.get(n..).map(|rest| rest.get(..Self::CHUNK).unwrap_or(rest)) {
            if chunk.is_empty() {
                break;
            }
            // The HAL's async write completes at once when the ring has room for the whole
            // chunk and is pending (having written nothing) otherwise: poll it once.
            let mut cx = Context::from_waker(Waker::noop());
            match pin!(embedded_io_async::Write::write(uart, chunk)).poll(&mut cx) {
                Poll::Ready(Ok(k)) if k > 0 => n += k,
                _ => break,
            }
        }
        n
    }
}

/// Sleeps until an interrupt (ETH receive, USART3, or the next 1 ms tick).
pub fn sleep() {
    cortex_m::asm::wfi();
}

/// Resets the chip (after a panic, which input cannot cause by design).
pub fn reset() -> ! {
    cortex_m::peripheral::SCB::sys_reset()
}
