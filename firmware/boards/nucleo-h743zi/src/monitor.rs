//! The monitor port: the STM32H743's ETH MAC behind the on-board LAN8742A PHY (RMII),
//! promiscuous receive, and **no transmit function**.
//!
//! The frames come from `embassy-stm32`'s Ethernet driver used at the raw-frame level,
//! through the `embassy-net-driver` trait, without `embassy-net` (which would bring a second
//! smoltcp into the tree: the core uses smoltcp 0.12 for its wire views only). That trait
//! hands out a receive token together with a transmit token; [`MonitorPort`] consumes the
//! receive token and drops the transmit token unused, and it owns the driver privately, so
//! nothing in this firmware can reach a transmit path.
//!
//! Beyond what the HAL does, after its initialisation:
//! - `MACPFR.PR` (promiscuous): every frame on the segment, not only those to our address;
//! - `MACCR.TE` cleared and the transmit DMA stopped (`DMACTXCR.ST`): the MAC's transmitter
//!   is off, so even a descriptor handed to the DMA by mistake would not go out. The HAL
//!   sets up one transmit descriptor (its API requires a queue of at least one); it is
//!   never given to the DMA.
//! - `MACCR.CST`: the MAC strips the FCS of every frame (the HAL's `ACS` strips it only from
//!   802.3 length frames), so the core sees frames without FCS, as on the emulated board.
//!
//! The PHY is driven by [`Lan8742a`] (reset, then auto-negotiation or, with the
//! `forced-100fd` feature, 100BASE-TX full duplex for a passive tap that never answers
//! auto-negotiation). The MAC is configured by the HAL for 100 Mbit/s full duplex: a
//! 10 Mbit/s segment is not received.

use core::task::{Context, Waker};
use embassy_net_driver::{Driver, RxToken};
use embassy_stm32::eth::{Ethernet, PacketQueue, Phy, Sma, StationManagement};
use embassy_stm32::pac;
use embassy_stm32::peripherals::{ETH, ETH_SMA};
use wardtap_proto::mgmt::NicCounters;

/// Receive descriptors (each with a 1,536-byte buffer): frames the DMA can hold while the
/// core is busy or a management request is being served.
pub const RX_FRAMES: usize = 16;
/// Transmit descriptors: the HAL's minimum (one). Never handed to the DMA.
pub const TX_UNUSED: usize = 1;

/// The HAL's descriptors and buffers. All zeros when new, so it is placed in .bss, in AXI
/// SRAM (`RAM` in memory.x), which the ETH DMA can reach (DTCM it cannot).
pub type Queue = PacketQueue<TX_UNUSED, RX_FRAMES>;

/// The HAL driver with our PHY.
pub type Eth = Ethernet<'static, ETH, Lan8742a>;

/// The receive-only monitor port.
pub struct MonitorPort {
    eth: Eth,
    frames: u64,
    dropped: u32,
    /// The MMC CRC-error counter's value at start.
    crc_base: u32,
}

impl MonitorPort {
    /// Takes the initialised driver and turns it into a receive-only, promiscuous port.
    pub fn new(eth: Eth) -> MonitorPort {
        let regs = pac::ETH;
        // Promiscuous: every frame, whatever its destination address.
        regs.ethernet_mac().macpfr().modify(|w| w.set_pr(true));
        regs.ethernet_mac().maccr().modify(|w| {
            // Transmitter off: this port never sends.
            w.set_te(false);
            // Strip the FCS from every frame, not only 802.3 length frames.
            w.set_cst(true);
        });
        // Transmit DMA stopped.
        regs.ethernet_dma().dmactx_cr().modify(|w| w.set_st(false));
        // Start the hardware counters from zero (they are read-to-clear or free-running).
        let _ = regs.ethernet_dma().dmacmfcr().read();
        let _ = regs.ethernet_mtl().mtlrx_qmpocr().read();
        let crc_base = regs.ethernet_mac().rx_crc_error_packets().read().rxcrcerr();
        MonitorPort { eth, frames: 0, dropped: 0, crc_base }
    }

    /// Hands the next received frame (without FCS) to `f`; `None` when none waits.
    pub fn receive<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let mut cx = Context::from_waker(Waker::noop());
        // The transmit token that comes with the receive token is dropped unused.
        let (rx, _unused_tx) = self.eth.receive(&mut cx)?;
        self.frames = self.frames.saturating_add(1);
        Some(rx.consume(|frame| f(frame)))
    }

    /// A frame waits in the receive ring.
    pub fn rx_pending(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        self.eth.receive(&mut cx).is_some()
    }

    /// The PHY reports a link.
    pub fn link_up(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        matches!(self.eth.link_state(&mut cx), embassy_net_driver::LinkState::Up)
    }

    /// The port's counters, with what the hardware counted since the last call folded in.
    ///
    /// Dropped: frames the receive queue overflowed on (`MTLRXQMPOCR.OVFPKTCNT`) plus frames
    /// the DMA missed for want of a free descriptor (`DMACMFCR.MFC`); both clear on read
    /// and saturate at 2,047 (11 bits), so a burst longer than that between two reads (a
    /// flash erase) is under-counted.
    /// Errors: the MMC's CRC-error counter (free-running, 32 bits). Too long: always 0 here:
    /// the HAL drops a frame that spans descriptors (longer than 1,536 bytes) with a
    /// defmt warning but does not count it.
    pub fn counters(&mut self) -> NicCounters {
        let regs = pac::ETH;
        let q = regs.ethernet_mtl().mtlrx_qmpocr().read();
        let m = regs.ethernet_dma().dmacmfcr().read();
        let lost = u32::from(q.ovfpktcnt()).saturating_add(u32::from(m.mfc()));
        self.dropped = self.dropped.saturating_add(lost);
        let crc = regs.ethernet_mac().rx_crc_error_packets().read().rxcrcerr();
        NicCounters { frames: self.frames, dropped: self.dropped, errors: crc.wrapping_sub(self.crc_base), too_long: 0 }
    }
}

/// The LAN8742A on the NUCLEO-144 boards (any SMI address: it is found by its ID).
pub struct Lan8742a {
    sma: Sma<'static, ETH_SMA>,
    addr: u8,
    cycles_per_ms: u32,
}

/// IEEE 802.3 clause 22 registers and bits (the LAN8742A follows them).
mod reg {
    pub const BCR: u8 = 0;
    pub const BSR: u8 = 1;
    pub const ID1: u8 = 2;
    pub const BCR_RESET: u16 = 1 << 15;
    pub const BCR_100M: u16 = 1 << 13;
    pub const BCR_AN: u16 = 1 << 12;
    pub const BCR_AN_RESTART: u16 = 1 << 9;
    pub const BCR_FULL_DUPLEX: u16 = 1 << 8;
    pub const BSR_AN_DONE: u16 = 1 << 5;
    pub const BSR_LINK: u16 = 1 << 2;
    /// Microchip (SMSC) OUI bits in PHY ID 1.
    pub const ID1_MICROCHIP: u16 = 0x0007;
}

impl Lan8742a {
    /// The PHY behind `sma`; `cpu_hz` paces the reset wait.
    pub fn new(sma: Sma<'static, ETH_SMA>, cpu_hz: u32) -> Lan8742a {
        Lan8742a { sma, addr: 0, cycles_per_ms: cpu_hz / 1000 }
    }

    /// The SMI address the PHY answered on.
    pub fn address(&self) -> u8 {
        self.addr
    }

    fn read(&mut self, r: u8) -> u16 {
        self.sma.smi_read(self.addr, r)
    }
}

impl Phy for Lan8742a {
    fn phy_reset(&mut self) {
        // Find the PHY by its ID (the NUCLEO straps it to address 0; probing costs nothing).
        self.addr = (0..32u8).find(|&a| self.sma.smi_read(a, reg::ID1) == reg::ID1_MICROCHIP).unwrap_or(0);
        self.sma.smi_write(self.addr, reg::BCR, reg::BCR_RESET);
        // The reset bit self-clears within 0.5 s (bounded wait: never hang on a dead PHY).
        for _ in 0..500 {
            if self.read(reg::BCR) & reg::BCR_RESET == 0 {
                break;
            }
            cortex_m::asm::delay(self.cycles_per_ms);
        }
    }

    fn phy_init(&mut self) {
        let bcr = if cfg!(feature = "forced-100fd") {
            reg::BCR_100M | reg::BCR_FULL_DUPLEX
        } else {
            reg::BCR_AN | reg::BCR_AN_RESTART
        };
        self.sma.smi_write(self.addr, reg::BCR, bcr);
    }

    fn poll_link(&mut self, _cx: &mut Context) -> bool {
        // The link bit latches low: the second read is the current state.
        let _ = self.read(reg::BSR);
        let bsr = self.read(reg::BSR);
        let negotiated = cfg!(feature = "forced-100fd") || bsr & reg::BSR_AN_DONE != 0;
        negotiated && bsr & reg::BSR_LINK != 0
    }
}
