//! Dissectors: frame bytes in, [`Fact`]s out.
//!
//! The contract, for every file in this module: untrusted bytes are read only through
//! checked views (smoltcp's `new_checked` packets, [`util::Cursor`], or a fixed-size chunk
//! taken with `first_chunk` and destructured, as the Ethernet/IP/TCP/UDP headers every frame
//! crosses are); no accessor can panic once a view is built; every loop is bounded by the
//! input length or a constant.
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
    ja4: tls::Ja4Memo,
    /// What was counted so far.
    pub counters: DissectCounters,
}

impl Pipeline {
    /// A new pipeline; `seed` perturbs hash placement only (never results).
    pub const fn new(seed: u32) -> Self {
        Pipeline { flows: FlowTable::new(seed), ja4: tls::Ja4Memo::new(), counters: DissectCounters::zero() }
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
        self.counters.frames += 1;
        self.counters.bytes += frame.len() as u64;
        let eth = match ethernet::parse(frame) {
            Ok(e) => e,
            Err(e) => {
                self.count(Layer::Ethernet, e);
                return;
            }
        };
        // One context per frame, filled in place (the IP part by `ip`) and lent to the sink.
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
        } else {
            self.l3(&mut ctx, eth.kind, eth.payload, sink);
        }
        sink.frame_done(&ctx);
    }

    /// Everything above Ethernet; calls `sink.frame` once the context is complete.
    #[inline]
    fn l3<S: Sink + ?Sized>(&mut self, ctx: &mut FrameCtx, kind: ethernet::Kind, payload: &[u8], sink: &mut S) {
        // IPv4 (most frames) first, by one compare, and inlining `ip`, so its header fields go
        // straight into the context; IPv6 (few frames) shares one out-of-line copy.
        if kind == ethernet::Kind::EtherType(ethernet::IPV4) {
            match ipv4::parse(payload) {
                Ok(ip) => return self.ip(ctx, ip, sink),
                Err(e) => {
                    sink.frame(ctx);
                    return self.count(Layer::Ipv4, e);
                }
            }
        }
        // Every arm returns but a failed IP header, counted below.
        let (layer, e) = match kind {
            ethernet::Kind::EtherType(ethernet::IPV6) => match ipv6::parse(payload) {
                Ok(ip) => return self.ip_outlined(ctx, ip, sink),
                Err(e) => (Layer::Ipv6, e),
            },
            ethernet::Kind::EtherType(ethernet::ARP) => {
                sink.frame(ctx);
                if let Err(e) = arp::dissect(ctx, payload, sink) {
                    self.count(Layer::Arp, e);
                }
                return;
            }
            ethernet::Kind::EtherType(ethernet::LLDP) => {
                sink.frame(ctx);
                speak(ctx, Protocol::Lldp, sink);
                if let Err(e) = lldp::dissect(ctx, payload, sink) {
                    self.count(Layer::Lldp, e);
                }
                return;
            }
            ethernet::Kind::EtherType(ethernet::EAPOL) => {
                sink.frame(ctx);
                speak(ctx, Protocol::Eapol, sink);
                return;
            }
            ethernet::Kind::Cdp => {
                sink.frame(ctx);
                speak(ctx, Protocol::Cdp, sink);
                if let Err(e) = cdp::dissect(ctx, payload, sink) {
                    self.count(Layer::Cdp, e);
                }
                return;
            }
            ethernet::Kind::Stp => {
                sink.frame(ctx);
                speak(ctx, Protocol::Stp, sink);
                return;
            }
            _ => {
                sink.frame(ctx);
                self.counters.unhandled += 1;
                return;
            }
        };
        sink.frame(ctx);
        self.count(layer, e)
    }

    #[inline(never)]
    fn ip_outlined<S: Sink + ?Sized>(&mut self, ctx: &mut FrameCtx, ip: IpView<'_>, sink: &mut S) {
        self.ip(ctx, ip, sink)
    }

    /// The IP layer and the transport header: fills `ctx.ip` in place, tells the sink about
    /// the frame, then hands the transport payload to the application dissectors.
    #[inline(always)]
    fn ip<S: Sink + ?Sized>(&mut self, ctx: &mut FrameCtx, ip: IpView<'_>, sink: &mut S) {
        let ipc = ctx.ip.insert(IpCtx {
            src: ip.src,
            dst: ip.dst,
            // Set below as `Transport::from_ip_proto` would, in the arm the protocol number
            // picks anyway (one dispatch instead of a conversion and a dispatch).
            transport: Transport::Other(ip.proto),
            sport: 0,
            dport: 0,
            tcp_flags: 0,
            payload_len: ip.payload.len().min(u16::MAX as usize) as u16,
            ttl: ip.ttl,
        });
        if ip.later_fragment {
            ipc.transport = Transport::from_ip_proto(ip.proto);
            self.counters.fragments += 1;
            sink.frame(ctx);
            return;
        }
        match ip.proto {
            6 => {
                ipc.transport = Transport::Tcp;
                match tcp::parse(ip.payload) {
                    Ok(t) => {
                        ipc.sport = t.sport;
                        ipc.dport = t.dport;
                        ipc.tcp_flags = t.flags;
                        ipc.payload_len = t.payload.len() as u16;
                        sink.frame(ctx);
                        self.tcp_app(ctx, t.payload, sink);
                    }
                    Err(e) => {
                        sink.frame(ctx);
                        self.count(Layer::Tcp, e);
                    }
                }
            }
            17 => {
                ipc.transport = Transport::Udp;
                match udp::parse(ip.payload) {
                    Ok(u) => {
                        ipc.sport = u.sport;
                        ipc.dport = u.dport;
                        ipc.payload_len = u.payload.len() as u16;
                        sink.frame(ctx);
                        self.udp_app(ctx, u.sport, u.dport, u.payload, sink);
                    }
                    Err(e) => {
                        sink.frame(ctx);
                        self.count(Layer::Udp, e);
                    }
                }
            }
            proto @ (1 | 58) => {
                ipc.transport = Transport::Icmp;
                sink.frame(ctx);
                speak(ctx, Protocol::Icmp, sink);
                if proto == 58 {
                    if let Err(e) = icmp::dissect_v6(ctx, ip.payload, sink) {
                        self.count(Layer::Icmp, e);
                    }
                }
            }
            // `Transport::Other(proto)` already.
            _ => sink.frame(ctx),
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

    fn tcp_app<S: Sink + ?Sized>(&mut self, ctx: &FrameCtx, payload: &[u8], sink: &mut S) {
        let Some(ipc) = &ctx.ip else { return };
        let seg = self.flows.segment(ctx.ts, ctx.vlan, ipc, payload.len(), port_tag::of);
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
        match seg.tag {
            port_tag::SMB => speak(ctx, Protocol::Smb, sink),
            port_tag::RDP => speak(ctx, Protocol::Rdp, sink),
            _ => {}
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
            [0x16, 0x03, ..] => (Layer::Tls, tls::dissect_memo(ctx, payload, sink, &mut self.ja4)),
            [hl7::MLLP_START, ..] => (Layer::Hl7, hl7::dissect(ctx, payload, sink)),
            [1 | 2, 0, ..] => (Layer::Dicom, dicom::dissect(ctx, payload, sink)),
            _ if http::looks_like_http(payload) => (Layer::Http, http::dissect(ctx, payload, sink)),
            _ if port_tag::either(ipc, 21) || port_tag::either(ipc, 23) => {
                (Layer::Cleartext, cleartext::dissect(ctx, payload, sink))
            }
            _ => return,
        };
        if let Err(e) = r {
            self.count(layer, e);
        }
    }
}

/// What a TCP flow's ports alone say, decided once per flow by the flow table
/// ([`FlowTable::segment`]'s tag) instead of on every payload segment.
mod port_tag {
    use crate::fact::IpCtx;

    /// No port-named service.
    pub const NONE: u8 = 0;
    /// SMB (445, or NetBIOS session 139): `Speaks` on every payload segment.
    pub const SMB: u8 = 1;
    /// RDP (3389): likewise.
    pub const RDP: u8 = 2;

    /// Either end uses port `p`.
    #[inline]
    pub fn either(ipc: &IpCtx, p: u16) -> bool {
        ipc.sport == p || ipc.dport == p
    }

    /// The tag of a new flow.
    pub fn of(ipc: &IpCtx) -> u8 {
        if either(ipc, 445) || either(ipc, 139) {
            SMB
        } else if either(ipc, 3389) {
            RDP
        } else {
            NONE
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

#[cfg(test)]
mod wire_tests {
    //! The direct header reads in ethernet/ipv4/ipv6/tcp/udp against the smoltcp views they
    //! replaced: the same verdicts and fields on every capture frame, on every truncation of
    //! its headers and on random corruptions of them.
    extern crate std;
    use super::*;
    use smoltcp::wire::{EthernetFrame, Ipv4Packet, Ipv6Packet, TcpPacket, UdpPacket};
    use std::vec::Vec;
    use wardtap_proto::{IpAddr, Mac};

    type Ip<'a> = Result<(IpAddr, IpAddr, u8, u8, bool, &'a [u8])>;

    fn ip_fields(r: Result<IpView<'_>>) -> Ip<'_> {
        r.map(|v| (v.src, v.dst, v.proto, v.ttl, v.later_fragment, v.payload))
    }

    fn eth_fields(e: ethernet::Eth<'_>) -> (Mac, Mac, Option<u16>, bool, ethernet::Kind, &[u8]) {
        (e.dst, e.src, e.vlan, e.too_deep, e.kind, e.payload)
    }

    /// The former `ethernet::parse`, on smoltcp's view.
    fn ref_eth(frame: &[u8]) -> Result<ethernet::Eth<'_>> {
        use ethernet::*;
        let f = EthernetFrame::new_checked(frame)?;
        let mut eth = Eth {
            dst: Mac(f.dst_addr().0),
            src: Mac(f.src_addr().0),
            vlan: None,
            too_deep: false,
            kind: Kind::Llc,
            payload: f.payload(),
        };
        let mut ethertype: u16 = f.ethertype().into();
        let mut tags = 0;
        while matches!(ethertype, VLAN_Q | VLAN_AD | VLAN_QINQ_OLD) {
            if tags == MAX_TAGS {
                eth.too_deep = true;
                return Ok(eth);
            }
            let [tci0, tci1, t0, t1, ..] = *eth.payload else { return Err(Error::Truncated) };
            eth.vlan = Some(u16::from_be_bytes([tci0, tci1]) & 0x0fff);
            ethertype = u16::from_be_bytes([t0, t1]);
            eth.payload = &eth.payload[4..];
            tags += 1;
        }
        if ethertype >= 0x0600 {
            eth.kind = Kind::EtherType(ethertype);
            return Ok(eth);
        }
        // 802.3: `ethertype` is a length; trailing padding is cut off by it.
        let len = (ethertype as usize).min(eth.payload.len());
        let llc = &eth.payload[..len];
        match *llc {
            [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00, ..] => {
                eth.kind = Kind::Cdp;
                eth.payload = &llc[8..];
            }
            [0x42, 0x42, 0x03, ..] => {
                eth.kind = Kind::Stp;
                eth.payload = &llc[3..];
            }
            _ => {
                eth.payload = llc;
            }
        }
        Ok(eth)
    }

    fn ref_ipv4(buf: &[u8]) -> Ip<'_> {
        let p = Ipv4Packet::new_checked(buf)?;
        if p.version() != 4 {
            return Err(Error::Malformed);
        }
        let (src, dst) = (IpAddr::V4(p.src_addr().octets()), IpAddr::V4(p.dst_addr().octets()));
        Ok((src, dst, p.next_header().into(), p.hop_limit(), p.frag_offset() != 0, p.payload()))
    }

    /// The former `ipv6::parse`, on smoltcp's view.
    fn ref_ipv6(buf: &[u8]) -> Ip<'_> {
        let p = Ipv6Packet::new_checked(buf)?;
        if p.version() != 6 {
            return Err(Error::Malformed);
        }
        let mut proto: u8 = p.next_header().into();
        let mut payload = p.payload();
        let mut later_fragment = false;
        for _ in 0..ipv6::MAX_EXT_HEADERS {
            let len = match proto {
                0 | 43 | 60 => (*payload.get(1).ok_or(Error::Truncated)? as usize + 1) * 8,
                44 => {
                    let off = util::be16(payload, 2).ok_or(Error::Truncated)? >> 3;
                    later_fragment |= off != 0;
                    8
                }
                51 => (*payload.get(1).ok_or(Error::Truncated)? as usize + 2) * 4,
                _ => break,
            };
            let next = *payload.first().ok_or(Error::Truncated)?;
            payload = payload.get(len..).ok_or(Error::Truncated)?;
            proto = next;
            if later_fragment {
                break;
            }
        }
        let (src, dst) = (IpAddr::V6(p.src_addr().octets()), IpAddr::V6(p.dst_addr().octets()));
        Ok((src, dst, proto, p.hop_limit(), later_fragment, payload))
    }

    fn ref_tcp(buf: &[u8]) -> Result<(u16, u16, u8, &[u8])> {
        let p = TcpPacket::new_checked(buf)?;
        let flags = buf.get(13).copied().unwrap_or(0) & 0x3f;
        Ok((p.src_port(), p.dst_port(), flags, p.payload()))
    }

    fn ref_udp(buf: &[u8]) -> Result<(u16, u16, &[u8])> {
        let p = UdpPacket::new_checked(buf)?;
        if p.src_port() == 0 && p.dst_port() == 0 {
            return Err(Error::Malformed);
        }
        Ok((p.src_port(), p.dst_port(), p.payload()))
    }

    fn check_layers(frame: &[u8]) {
        assert_eq!(ethernet::parse(frame).map(eth_fields), ref_eth(frame).map(eth_fields));
        // Every layer on the bytes after the Ethernet header, as if they were its payload.
        let Some(l3) = frame.get(14..) else { return };
        for l3 in [l3, l3.get(4..).unwrap_or(&[])] {
            assert_eq!(ip_fields(ipv4::parse(l3)), ref_ipv4(l3));
            assert_eq!(ip_fields(ipv6::parse(l3)), ref_ipv6(l3));
            for l4 in [l3.get(20..).unwrap_or(&[]), l3.get(40..).unwrap_or(&[])] {
                assert_eq!(tcp::parse(l4).map(|t| (t.sport, t.dport, t.flags, t.payload)), ref_tcp(l4));
                assert_eq!(udp::parse(l4).map(|u| (u.sport, u.dport, u.payload)), ref_udp(l4));
            }
        }
    }

    #[test]
    fn direct_header_reads_agree_with_smoltcp() {
        let mut x: u32 = 0x9e37_79b9;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let mut frames = 0;
        for name in crate::testpcap::all_captures() {
            for (_, f) in testutil::frames(&name).into_iter().take(150) {
                frames += 1;
                check_layers(&f);
                // Every truncation through the headers.
                for n in 0..f.len().min(80) {
                    check_layers(&f[..n]);
                }
                // Corrupted header bytes (lengths, offsets, versions...), a few at a time.
                let mut g: Vec<u8> = f.clone();
                for _ in 0..24 {
                    let at = rnd() as usize % g.len().clamp(1, 80);
                    if let Some(b) = g.get_mut(at) {
                        *b = rnd() as u8;
                    }
                    check_layers(&g);
                }
            }
        }
        assert!(frames > 3000, "{frames}");
    }
}
