//! Dissectors: frame bytes in, [`Fact`]s out.
//!
//! The contract, for every file in this module: untrusted bytes are read only through
//! checked views (smoltcp's `new_checked` packets, or [`util::Cursor`]); no accessor can
//! panic once a view is built; every loop is bounded by the input length or a constant.
//! A dissector returns [`Error`] for input that is not (or no longer) its protocol, and the
//! pipeline counts it; it never stops the frame's other facts from being delivered.
//!
//! Layering: [`Pipeline::frame`] parses Ethernet (with up to two VLAN tags), then ARP, LLDP,
//! CDP, IPv4/IPv6 and the transport, builds a [`FrameCtx`], gives it to
//! [`Sink::frame`], and hands the transport payload to the application dissectors chosen by
//! port or by content. TCP payload is looked at in the first data segment of each direction
//! of a flow only (no reassembly), plus any later segment that starts an HL7 MLLP block,
//! because HL7 links are long-lived and a tap may start long after the connection did.

pub mod util;

pub mod arp;
pub mod cdp;
pub mod cleartext;
pub mod dhcp;
pub mod dicom;
pub mod dns;
pub mod ethernet;
pub mod hl7;
pub mod http;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod lldp;
pub mod netbios;
pub mod snmp;
pub mod ssdp;
pub mod ssh;
pub mod tcp;
pub mod tls;
pub mod udp;

use crate::fact::{Fact, FrameCtx, IpCtx, Sink, Timestamp};
use crate::flow::FlowTable;
use wardtap_proto::{Protocol, Transport};

/// Why a dissector gave up on its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// The input ended inside a field or a declared length.
    Truncated,
    /// A field holds a value the protocol does not allow.
    Malformed,
    /// Not this protocol (content sniffing said no): not counted as an error.
    NotMine,
}

impl From<smoltcp::wire::Error> for Error {
    fn from(_: smoltcp::wire::Error) -> Self {
        Error::Truncated
    }
}

/// Result of a dissector.
pub type Result<T> = core::result::Result<T, Error>;

/// Layers whose failures are counted separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum Layer {
    /// Ethernet / VLAN.
    Ethernet = 0,
    /// ARP.
    Arp,
    /// IPv4.
    Ipv4,
    /// IPv6 and its extension headers.
    Ipv6,
    /// ICMP / ICMPv6 / ND.
    Icmp,
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// DHCPv4.
    Dhcp,
    /// DNS / mDNS / LLMNR.
    Dns,
    /// NetBIOS name service.
    Netbios,
    /// LLDP.
    Lldp,
    /// CDP.
    Cdp,
    /// SSDP.
    Ssdp,
    /// SNMP.
    Snmp,
    /// HTTP.
    Http,
    /// TLS.
    Tls,
    /// SSH.
    Ssh,
    /// DICOM.
    Dicom,
    /// HL7 / MLLP.
    Hl7,
    /// FTP / Telnet.
    Cleartext,
}

/// Number of [`Layer`]s.
pub const LAYERS: usize = Layer::Cleartext as usize + 1;

impl Layer {
    /// Stable lowercase name.
    pub fn name(self) -> &'static str {
        const NAMES: [&str; LAYERS] = [
            "ethernet",
            "arp",
            "ipv4",
            "ipv6",
            "icmp",
            "udp",
            "tcp",
            "dhcp",
            "dns",
            "netbios",
            "lldp",
            "cdp",
            "ssdp",
            "snmp",
            "http",
            "tls",
            "ssh",
            "dicom",
            "hl7",
            "cleartext",
        ];
        NAMES[self as usize]
    }
    /// All layers in order.
    pub fn all() -> impl Iterator<Item = Layer> {
        const ALL: [Layer; LAYERS] = [
            Layer::Ethernet,
            Layer::Arp,
            Layer::Ipv4,
            Layer::Ipv6,
            Layer::Icmp,
            Layer::Udp,
            Layer::Tcp,
            Layer::Dhcp,
            Layer::Dns,
            Layer::Netbios,
            Layer::Lldp,
            Layer::Cdp,
            Layer::Ssdp,
            Layer::Snmp,
            Layer::Http,
            Layer::Tls,
            Layer::Ssh,
            Layer::Dicom,
            Layer::Hl7,
            Layer::Cleartext,
        ];
        ALL.into_iter()
    }
}

/// The network layer of a frame, IPv4 or IPv6 alike.
#[derive(Clone, Copy, Debug)]
pub struct IpView<'a> {
    /// Source.
    pub src: wardtap_proto::IpAddr,
    /// Destination.
    pub dst: wardtap_proto::IpAddr,
    /// Transport protocol number (after IPv6 extension headers).
    pub proto: u8,
    /// TTL / hop limit.
    pub ttl: u8,
    /// A fragment other than the first: the transport header is not in it.
    pub later_fragment: bool,
    /// Transport header and payload.
    pub payload: &'a [u8],
}

/// What the pipeline counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DissectCounters {
    /// Frames given to the pipeline.
    pub frames: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Truncated or malformed input, per layer.
    pub malformed: [u32; LAYERS],
    /// Frames with more than two VLAN tags (L2 accounted, not dissected further).
    pub vlan_too_deep: u32,
    /// IPv4/IPv6 fragments other than the first (not parsed).
    pub fragments: u32,
    /// Ethertypes / IP protocols no dissector handles.
    pub unhandled: u32,
    /// TCP segments with payload after the first of their direction (not looked into).
    pub tcp_payload_skipped: u32,
    /// Flows evicted from the flow table to make room.
    pub flows_evicted: u32,
}

/// The dissection pipeline: owns the small per-flow state it needs and its counters.
pub struct Pipeline {
    flows: FlowTable,
    /// What was counted so far.
    pub counters: DissectCounters,
}

impl Pipeline {
    /// A new pipeline; `seed` perturbs hash placement only (never results).
    pub const fn new(seed: u32) -> Self {
        Pipeline { flows: FlowTable::new(seed), counters: DissectCounters::zero() }
    }

    /// Flows currently tracked.
    pub fn flows_len(&self) -> usize {
        self.flows.len()
    }

    fn count(&mut self, layer: Layer, e: Error) {
        if e != Error::NotMine {
            let c = &mut self.counters.malformed[layer as usize];
            *c = c.saturating_add(1);
        }
    }

    /// Dissects one frame. Never panics; the work is bounded by the frame length.
    pub fn frame<S: Sink + ?Sized>(&mut self, ts: Timestamp, frame: &[u8], sink: &mut S) {
        if let Some(ctx) = self.frame_inner(ts, frame, sink) {
            sink.frame_done(&ctx);
        }
    }

    /// Returns the frame's context when it got far enough to have one.
    fn frame_inner<S: Sink + ?Sized>(&mut self, ts: Timestamp, frame: &[u8], sink: &mut S) -> Option<FrameCtx> {
        self.counters.frames += 1;
        self.counters.bytes += frame.len() as u64;
        let eth = match ethernet::parse(frame) {
            Ok(e) => e,
            Err(e) => {
                self.count(Layer::Ethernet, e);
                return None;
            }
        };
        let mut ctx = FrameCtx {
            ts,
            frame_len: frame.len().min(u16::MAX as usize) as u16,
            src_mac: eth.src,
            dst_mac: eth.dst,
            vlan: eth.vlan,
            ip: None,
        };
        if eth.too_deep {
            self.counters.vlan_too_deep += 1;
            sink.frame(&ctx);
            return Some(ctx);
        }
        match eth.kind {
            ethernet::Kind::EtherType(ethernet::ARP) => {
                sink.frame(&ctx);
                if let Err(e) = arp::dissect(&ctx, eth.payload, sink) {
                    self.count(Layer::Arp, e);
                }
            }
            ethernet::Kind::EtherType(ethernet::IPV4) => match ipv4::parse(eth.payload) {
                Ok(ip) => self.ip(&mut ctx, ip, sink),
                Err(e) => {
                    sink.frame(&ctx);
                    self.count(Layer::Ipv4, e)
                }
            },
            ethernet::Kind::EtherType(ethernet::IPV6) => match ipv6::parse(eth.payload) {
                Ok(ip) => self.ip(&mut ctx, ip, sink),
                Err(e) => {
                    sink.frame(&ctx);
                    self.count(Layer::Ipv6, e)
                }
            },
            ethernet::Kind::EtherType(ethernet::LLDP) => {
                sink.frame(&ctx);
                speak(&ctx, Protocol::Lldp, sink);
                if let Err(e) = lldp::dissect(&ctx, eth.payload, sink) {
                    self.count(Layer::Lldp, e);
                }
            }
            ethernet::Kind::EtherType(ethernet::EAPOL) => {
                sink.frame(&ctx);
                speak(&ctx, Protocol::Eapol, sink);
            }
            ethernet::Kind::Cdp => {
                sink.frame(&ctx);
                speak(&ctx, Protocol::Cdp, sink);
                if let Err(e) = cdp::dissect(&ctx, eth.payload, sink) {
                    self.count(Layer::Cdp, e);
                }
            }
            ethernet::Kind::Stp => {
                sink.frame(&ctx);
                speak(&ctx, Protocol::Stp, sink);
            }
            _ => {
                sink.frame(&ctx);
                self.counters.unhandled += 1;
            }
        }
        Some(ctx)
    }

    fn ip<S: Sink + ?Sized>(&mut self, ctx: &mut FrameCtx, ip: IpView<'_>, sink: &mut S) {
        let mut ipc = IpCtx {
            src: ip.src,
            dst: ip.dst,
            transport: Transport::from_ip_proto(ip.proto),
            sport: 0,
            dport: 0,
            tcp_flags: 0,
            payload_len: ip.payload.len().min(u16::MAX as usize) as u16,
            ttl: ip.ttl,
        };
        if ip.later_fragment {
            self.counters.fragments += 1;
            ctx.ip = Some(ipc);
            sink.frame(ctx);
            return;
        }
        match ipc.transport {
            Transport::Udp => match udp::parse(ip.payload) {
                Ok(u) => {
                    ipc.sport = u.sport;
                    ipc.dport = u.dport;
                    ipc.payload_len = u.payload.len() as u16;
                    ctx.ip = Some(ipc);
                    sink.frame(ctx);
                    self.udp_app(ctx, u.sport, u.dport, u.payload, sink);
                }
                Err(e) => {
                    ctx.ip = Some(ipc);
                    sink.frame(ctx);
                    self.count(Layer::Udp, e);
                }
            },
            Transport::Tcp => match tcp::parse(ip.payload) {
                Ok(t) => {
                    ipc.sport = t.sport;
                    ipc.dport = t.dport;
                    ipc.tcp_flags = t.flags;
                    ipc.payload_len = t.payload.len() as u16;
                    ctx.ip = Some(ipc);
                    sink.frame(ctx);
                    self.tcp_app(ctx, &ipc, t.payload, sink);
                }
                Err(e) => {
                    ctx.ip = Some(ipc);
                    sink.frame(ctx);
                    self.count(Layer::Tcp, e);
                }
            },
            Transport::Icmp => {
                ctx.ip = Some(ipc);
                sink.frame(ctx);
                speak(ctx, Protocol::Icmp, sink);
                if ip.proto == 58 {
                    if let Err(e) = icmp::dissect_v6(ctx, ip.payload, sink) {
                        self.count(Layer::Icmp, e);
                    }
                }
            }
            Transport::Other(_) => {
                ctx.ip = Some(ipc);
                sink.frame(ctx);
            }
        }
    }

    fn udp_app<S: Sink + ?Sized>(&mut self, ctx: &FrameCtx, sport: u16, dport: u16, payload: &[u8], sink: &mut S) {
        let either = |p: u16| sport == p || dport == p;
        let (layer, r) = if either(67) || either(68) {
            (Layer::Dhcp, dhcp::dissect(ctx, payload, sink))
        } else if either(5353) || either(5355) || either(53) {
            (Layer::Dns, dns::dissect(ctx, payload, sink))
        } else if either(137) {
            (Layer::Netbios, netbios::dissect(ctx, payload, sink))
        } else if either(1900) {
            (Layer::Ssdp, ssdp::dissect(ctx, payload, sink))
        } else if either(161) || either(162) {
            (Layer::Snmp, snmp::dissect(ctx, payload, sink))
        } else {
            if either(123) {
                speak(ctx, Protocol::Ntp, sink);
            }
            return;
        };
        if let Err(e) = r {
            self.count(layer, e);
        }
    }

    fn tcp_app<S: Sink + ?Sized>(&mut self, ctx: &FrameCtx, ipc: &IpCtx, payload: &[u8], sink: &mut S) {
        let seg = self.flows.segment(ctx.ts, ctx.vlan, ipc, payload.len());
        if seg.evicted {
            self.counters.flows_evicted += 1;
        }
        if let Some(end) = seg.ended {
            let (client, server) = if end.src_is_client { (ipc.src, ipc.dst) } else { (ipc.dst, ipc.src) };
            sink.fact(
                ctx,
                &Fact::TcpSessionEnd {
                    client,
                    server,
                    server_port: end.server_port,
                    outcome: end.outcome,
                    duration_ms: end.duration_ms,
                    bytes_to_server: end.bytes_to_server,
                    bytes_to_client: end.bytes_to_client,
                },
            );
        }
        let first = seg.first_payload;
        if payload.is_empty() {
            return;
        }
        let ports = |p: u16| ipc.sport == p || ipc.dport == p;
        if ports(445) || ports(139) {
            speak(ctx, Protocol::Smb, sink);
        } else if ports(3389) {
            speak(ctx, Protocol::Rdp, sink);
        }
        if !first {
            // Persistent MLLP links carry one HL7 message per block; look at block starts.
            if payload.first() == Some(&hl7::MLLP_START) {
                if let Err(e) = hl7::dissect(ctx, payload, sink) {
                    self.count(Layer::Hl7, e);
                }
            } else {
                self.counters.tcp_payload_skipped += 1;
            }
            return;
        }
        let (layer, r) = match payload {
            [b'S', b'S', b'H', b'-', ..] => (Layer::Ssh, ssh::dissect(ctx, payload, sink)),
            [0x16, 0x03, ..] => (Layer::Tls, tls::dissect(ctx, payload, sink)),
            [hl7::MLLP_START, ..] => (Layer::Hl7, hl7::dissect(ctx, payload, sink)),
            [1 | 2, 0, ..] => (Layer::Dicom, dicom::dissect(ctx, payload, sink)),
            _ if http::looks_like_http(payload) => (Layer::Http, http::dissect(ctx, payload, sink)),
            _ if ports(21) || ports(23) => (Layer::Cleartext, cleartext::dissect(ctx, payload, sink)),
            _ => return,
        };
        if let Err(e) = r {
            self.count(layer, e);
        }
    }
}

impl DissectCounters {
    /// All zero (const, for static initialisation).
    pub const fn zero() -> Self {
        DissectCounters {
            frames: 0,
            bytes: 0,
            malformed: [0; LAYERS],
            vlan_too_deep: 0,
            fragments: 0,
            unhandled: 0,
            tcp_payload_skipped: 0,
            flows_evicted: 0,
        }
    }
}

/// Emits `Fact::Speaks` for the sender.
#[inline]
pub fn speak<S: Sink + ?Sized>(ctx: &FrameCtx, protocol: Protocol, sink: &mut S) {
    sink.fact(ctx, &Fact::Speaks { protocol });
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Reads frames from `../shared/captures/` for tests (std only).
    extern crate std;
    use super::*;
    use crate::fact::collect::Collect;
    use std::vec::Vec;

    /// Every frame of a shared capture (pcap or pcapng), with its timestamp in microseconds.
    pub fn frames(name: &str) -> Vec<(u64, Vec<u8>)> {
        crate::testpcap::frames(name)
    }

    /// Runs one dissector on a payload with [`ctx`], collecting its facts.
    pub fn run<F>(dissect: F, payload: &[u8]) -> (Result<()>, Collect)
    where
        F: FnOnce(&FrameCtx, &[u8], &mut Collect) -> Result<()>,
    {
        let mut c = Collect::default();
        let r = dissect(&ctx(), payload, &mut c);
        (r, c)
    }

    /// A context for dissector unit tests: some sender, no IP.
    pub fn ctx() -> FrameCtx {
        FrameCtx {
            ts: 0,
            frame_len: 60,
            src_mac: wardtap_proto::Mac([2, 0, 0, 0, 0, 1]),
            dst_mac: wardtap_proto::Mac([2, 0, 0, 0, 0, 2]),
            vlan: None,
            ip: None,
        }
    }

    /// Runs the whole pipeline over a capture and collects every fact.
    pub fn facts(name: &str) -> Collect {
        let mut p = Pipeline::new(0);
        let mut c = Collect::default();
        for (ts, f) in frames(name) {
            p.frame(ts, &f, &mut c);
        }
        c
    }
}
