//! Facts: what the dissectors saw, stated without judgement.
//!
//! A dissector turns bytes into [`Fact`]s and hands them to a [`Sink`]; the inventory (and
//! later the outbound policy) consume them. Facts borrow from the frame (or from a small
//! buffer on the dissector's stack, e.g. a decompressed DNS name), so emitting one costs no
//! copy; a consumer that wants to keep a string copies it into its own bounded storage.
//!
//! Who a fact is about: unless a variant names a MAC itself, it is about the frame's
//! sender, `ctx.src_mac`, at the addresses and ports in [`FrameCtx`].

use wardtap_proto::{CleartextKind, InfoField, IpAddr, Mac, NameSource, Protocol, SoftwareSource, Transport};

/// Capture time in microseconds since the Unix epoch.
pub type Timestamp = u64;

/// What the lower layers established about the frame being dissected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FrameCtx {
    /// Capture time.
    pub ts: Timestamp,
    /// Frame length on the wire (as captured).
    pub frame_len: u16,
    /// Ethernet source.
    pub src_mac: Mac,
    /// Ethernet destination.
    pub dst_mac: Mac,
    /// Innermost VLAN id, if tagged.
    pub vlan: Option<u16>,
    /// Network layer, when the frame carries IP.
    pub ip: Option<IpCtx>,
}

/// The IP and transport part of a [`FrameCtx`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct IpCtx {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Transport protocol.
    pub transport: Transport,
    /// Source port (0 where the transport has none).
    pub sport: u16,
    /// Destination port (0 where the transport has none).
    pub dport: u16,
    /// TCP flags (0 for other transports).
    pub tcp_flags: u8,
    /// Transport payload length.
    pub payload_len: u16,
    /// IP TTL / hop limit (a hint of the sender's OS and distance).
    pub ttl: u8,
}

/// Ports below this, or in [`KNOWN_SERVICE_PORTS`], are taken as the server side.
const EPHEMERAL_START: u16 = 1024;
/// Registered ports above 1023 that are services (medical and management ones included).
/// Sorted (binary search).
pub const KNOWN_SERVICE_PORTS: &[u16] = &[
    1433, 1521, 1883, 1900, 2000, 2101, 2575, 3306, 3389, 4242, 5060, 5061, 5353, 5355, 5432, 5900, 5938, 6001, 6002,
    6003, 6004, 6661, 8000, 8080, 8443, 8883, 9100, 11112,
];

/// The highest of [`KNOWN_SERVICE_PORTS`] (the list is sorted).
const KNOWN_SERVICE_PORTS_MAX: u16 = match KNOWN_SERVICE_PORTS.last() {
    Some(p) => *p,
    None => 0,
};

/// Words of [`SERVICE_PORT_BITS`]: one bit per port up to the highest registered one.
const SERVICE_PORT_WORDS: usize = KNOWN_SERVICE_PORTS_MAX as usize / 32 + 1;

/// Bit `p` set when [`is_service_port`] says yes (1..1023 and [`KNOWN_SERVICE_PORTS`]),
/// built at compile time: a lookup instead of a binary search (~1.4 KiB of flash).
const SERVICE_PORT_BITS: [u32; SERVICE_PORT_WORDS] = {
    let mut bits = [0u32; SERVICE_PORT_WORDS];
    let mut p = 1;
    while p < EPHEMERAL_START as usize {
        bits[p / 32] |= 1 << (p % 32);
        p += 1;
    }
    let mut i = 0;
    while i < KNOWN_SERVICE_PORTS.len() {
        let p = KNOWN_SERVICE_PORTS[i] as usize;
        bits[p / 32] |= 1 << (p % 32);
        i += 1;
    }
    bits
};

/// Whether `p` is a service port: well-known, or a registered service in [`KNOWN_SERVICE_PORTS`].
#[inline]
pub fn is_service_port(p: u16) -> bool {
    // Client ports are mostly above the highest registered one: out of the table's range.
    SERVICE_PORT_BITS.get(p as usize / 32).is_some_and(|w| w >> (p % 32) & 1 != 0)
}

impl IpCtx {
    /// Which end is the server, and its port: a SYN's destination; a SYN-ACK's source; else
    /// the well-known or registered port; else the lower port. Returns (source is the server,
    /// service port).
    #[inline(never)]
    pub fn server_side(&self) -> (bool, u16) {
        // Only an opening's flags decide; other TCP segments go by ports like UDP.
        if self.transport == Transport::Tcp && self.tcp_flags & tcp_flags::SYN != 0 {
            return if self.tcp_flags & tcp_flags::ACK == 0 { (false, self.dport) } else { (true, self.sport) };
        }
        match (is_service_port(self.sport), is_service_port(self.dport)) {
            (true, false) => (true, self.sport),
            (false, true) => (false, self.dport),
            _ if self.sport < self.dport => (true, self.sport),
            _ => (false, self.dport),
        }
    }
}

/// TCP flag bits, as in the header.
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// How an address was tied to a MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AddrEvidence {
    /// ARP sender (request or reply).
    Arp,
    /// DHCP: the server acknowledged this address for the client.
    DhcpAck,
    /// DHCP: the client asked for it (option 50) or reported it (ciaddr).
    DhcpClient,
    /// IPv6 neighbour discovery (NA target or NS/RS source link-layer option).
    Ndp,
    /// Source address of an IP packet sent by this MAC.
    IpSource,
    /// A management address the device announced (LLDP / CDP).
    Announced,
}

/// Role in a DICOM association.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DicomPdu {
    /// A-ASSOCIATE-RQ: the sender is the requestor (SCU side of the association).
    AssociateRq,
    /// A-ASSOCIATE-AC: the sender is the acceptor (SCP side).
    AssociateAc,
}

/// How a TCP session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SessionOutcome {
    /// The server reset the opening (no SYN-ACK, no data from it): port closed or refused.
    Refused,
    /// Reset after it was established.
    Reset,
    /// Closed with FIN.
    Closed,
}

/// One fact. Strings are raw bytes from the wire, bounded by the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Fact<'a> {
    /// `mac` uses `ip`.
    Address {
        /// The device.
        mac: Mac,
        /// Its address.
        ip: IpAddr,
        /// How we know.
        how: AddrEvidence,
    },
    /// An ARP packet (kept whole for spoofing checks).
    Arp {
        /// 1 request, 2 reply; others kept.
        op: u16,
        /// Sender hardware address (may differ from the Ethernet source).
        sender_mac: Mac,
        /// Sender protocol address.
        sender_ip: [u8; 4],
        /// Target protocol address.
        target_ip: [u8; 4],
    },
    /// The local IPv4 segment, as a DHCP server or the configuration describes it.
    Subnet {
        /// Network address.
        net: [u8; 4],
        /// Prefix length.
        prefix: u8,
    },
    /// The local IPv6 prefix from a Router Advertisement.
    Prefix6 {
        /// Prefix.
        prefix: [u8; 16],
        /// Length.
        len: u8,
    },
    /// `mac` calls itself `name`.
    Name {
        /// The device named.
        mac: Mac,
        /// The name.
        name: &'a [u8],
        /// From which protocol.
        source: NameSource,
    },
    /// A software / description string volunteered by `mac`.
    Software {
        /// The device.
        mac: Mac,
        /// The text.
        text: &'a [u8],
        /// From which protocol.
        source: SoftwareSource,
    },
    /// An identity field volunteered by `mac` (model, serial, port...).
    Info {
        /// The device.
        mac: Mac,
        /// Which field.
        field: InfoField,
        /// The value.
        value: &'a [u8],
    },
    /// A DHCPv4 client message (the client is `mac`, from `chaddr`).
    DhcpClient {
        /// Client hardware address.
        mac: Mac,
        /// Option 53 message type.
        msg_type: u8,
        /// Option 55, the parameter request list, in order: the fingerprint.
        prl: &'a [u8],
        /// Option 57, maximum message size.
        max_size: Option<u16>,
    },
    /// A DHCPv4 server answered (`server` is the sender).
    DhcpServer {
        /// Option 53 message type.
        msg_type: u8,
        /// Client hardware address.
        client: Mac,
    },
    /// A DNS, mDNS or LLMNR question asked by the sender.
    DnsQuery {
        /// Decoded dotted name.
        name: &'a [u8],
        /// Query type.
        qtype: u16,
        /// Multicast DNS / LLMNR rather than unicast DNS.
        multicast: bool,
    },
    /// A DNS answer that maps a name to an address (A / AAAA), sent by a resolver or by the
    /// owner itself (mDNS).
    DnsAddr {
        /// Decoded owner name.
        name: &'a [u8],
        /// The address.
        addr: IpAddr,
        /// mDNS / LLMNR.
        multicast: bool,
    },
    /// A reverse-DNS (PTR) answer: `addr` is called `name`.
    DnsPtr {
        /// The address from the `in-addr.arpa` / `ip6.arpa` owner name.
        addr: IpAddr,
        /// The target name.
        name: &'a [u8],
    },
    /// A DNS-SD service instance announced by the sender (mDNS PTR/SRV).
    DnsSdService {
        /// Instance label, e.g. `Philips hue - 2476FF`.
        instance: &'a [u8],
        /// Service type, e.g. `_hap._tcp.local`.
        service: &'a [u8],
        /// SRV port, when present in the same message.
        port: Option<u16>,
    },
    /// Sender announced a LLDP/CDP neighbour identity (what the switch says of itself).
    /// Individual fields arrive as `Name`, `Software` and `Info` facts; this one marks the
    /// sender as network infrastructure when `is_bridge_or_router`.
    Capabilities {
        /// LLDP/CDP capability bits say bridge, router or access point.
        is_bridge_or_router: bool,
        /// Telephone (LLDP-MED / CDP).
        is_phone: bool,
    },
    /// An HTTP/1.x request sent by the sender.
    HttpRequest {
        /// Method token.
        method: &'a [u8],
        /// Host header (without port).
        host: Option<&'a [u8]>,
        /// User-Agent header.
        user_agent: Option<&'a [u8]>,
    },
    /// A TLS ClientHello sent by the sender.
    TlsClientHello {
        /// server_name extension.
        sni: Option<&'a [u8]>,
        /// First ALPN protocol offered.
        alpn: Option<&'a [u8]>,
        /// JA4-style fingerprint text (`t13d1516h2_8daaf6152771_e5627efa2ab1`).
        ja4: &'a [u8],
    },
    /// A DICOM association PDU.
    Dicom {
        /// Which PDU (and so the sender's role).
        pdu: DicomPdu,
        /// Called AE title (trimmed).
        called_ae: &'a [u8],
        /// Calling AE title (trimmed).
        calling_ae: &'a [u8],
        /// Implementation class UID.
        impl_class_uid: Option<&'a [u8]>,
        /// Implementation version name.
        impl_version: Option<&'a [u8]>,
        /// First abstract syntax (SOP class UID) in the PDU, if any.
        sop_class: Option<&'a [u8]>,
    },
    /// An HL7 v2 message header (MSH) sent by the sender. Nothing beyond the header's
    /// routing fields and device identifiers is ever read.
    Hl7 {
        /// MSH-3 sending application.
        sending_app: &'a [u8],
        /// MSH-4 sending facility.
        sending_facility: &'a [u8],
        /// MSH-5 receiving application.
        receiving_app: &'a [u8],
        /// MSH-6 receiving facility.
        receiving_facility: &'a [u8],
        /// MSH-9 message type (e.g. `ADT^A01`).
        message_type: &'a [u8],
        /// MSH-12 version id.
        version: &'a [u8],
        /// The message is an acknowledgement (MSH-9 starts with `ACK` or MSA present).
        is_ack: bool,
    },
    /// The sender transmitted a secret in the clear (its value is never kept).
    Cleartext {
        /// What kind.
        kind: CleartextKind,
    },
    /// The sender speaks `protocol` (port- or content-based; the richer facts above say more).
    Speaks {
        /// Which.
        protocol: Protocol,
    },
    /// A TCP session ended (first FIN or RST seen). Sent once per flow.
    TcpSessionEnd {
        /// The side that opened it (or the non-service side when the opening was not seen).
        client: IpAddr,
        /// The side that answered.
        server: IpAddr,
        /// The service port.
        server_port: u16,
        /// How it ended.
        outcome: SessionOutcome,
        /// From first to last segment seen, milliseconds (saturating).
        duration_ms: u32,
        /// Payload bytes client → server.
        bytes_to_server: u32,
        /// Payload bytes server → client.
        bytes_to_client: u32,
    },
    /// SNMP request or response seen from the sender.
    Snmp {
        /// 0 = v1, 1 = v2c, 3 = v3.
        version: u8,
        /// The PDU was a response.
        is_response: bool,
    },
}

/// A consumer of facts.
pub trait Sink {
    /// Called once per frame, after the lower layers are parsed and before its facts.
    fn frame(&mut self, ctx: &FrameCtx) {
        let _ = ctx;
    }
    /// Called once per fact, in frame order. Must not fail: a full table is counted inside.
    fn fact(&mut self, ctx: &FrameCtx, fact: &Fact<'_>);
    /// Called once per frame after its last fact (for judgements that need all of them).
    fn frame_done(&mut self, ctx: &FrameCtx) {
        let _ = ctx;
    }
}

#[cfg(test)]
mod port_tests {
    #[test]
    fn service_ports_sorted_for_binary_search() {
        assert!(super::KNOWN_SERVICE_PORTS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn service_port_bits_match_the_list() {
        // The bitmap says exactly what the former rule said, for every port.
        for p in 0..=u16::MAX {
            let rule = (p != 0 && p < super::EPHEMERAL_START) || super::KNOWN_SERVICE_PORTS.binary_search(&p).is_ok();
            assert_eq!(super::is_service_port(p), rule, "{p}");
        }
    }
}

/// A sink that drops everything (benchmarks of the dissectors alone).
pub struct NullSink;

impl Sink for NullSink {
    fn fact(&mut self, _ctx: &FrameCtx, _fact: &Fact<'_>) {}
}

/// A sink that copies facts into owned values, for tests and the fuzzers' invariants.
#[cfg(any(test, feature = "std"))]
pub mod collect {
    extern crate std;
    use super::*;
    use std::format;
    use std::string::String;
    use std::vec::Vec;

    /// Collects a debug rendering of every fact.
    #[derive(Default)]
    pub struct Collect {
        /// One line per fact: `{:?}` with byte strings shown as text.
        pub lines: Vec<String>,
    }

    impl Collect {
        /// Whether some line contains `needle`.
        pub fn has(&self, needle: &str) -> bool {
            self.lines.iter().any(|l| l.contains(needle))
        }
    }

    impl Sink for Collect {
        fn fact(&mut self, _ctx: &FrameCtx, fact: &Fact<'_>) {
            self.lines.push(render(fact));
        }
    }

    fn s(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }
    fn o(b: Option<&[u8]>) -> String {
        b.map(s).unwrap_or_default()
    }

    /// Human-readable rendering with strings as text (tests match on these).
    pub fn render(f: &Fact<'_>) -> String {
        match *f {
            Fact::Address { mac, ip, how } => format!("Address {mac} {ip} {how:?}"),
            Fact::Arp { op, sender_mac, sender_ip, target_ip } => {
                format!("Arp op={op} {sender_mac} {sender_ip:?} -> {target_ip:?}")
            }
            Fact::Subnet { net, prefix } => format!("Subnet {net:?}/{prefix}"),
            Fact::Prefix6 { prefix, len } => format!("Prefix6 {}/{len}", IpAddr::V6(prefix)),
            Fact::Name { mac, name, source } => format!("Name {mac} {:?} {}", source, s(name)),
            Fact::Software { mac, text, source } => format!("Software {mac} {source:?} {}", s(text)),
            Fact::Info { mac, field, value } => format!("Info {mac} {field:?} {}", s(value)),
            Fact::DhcpClient { mac, msg_type, prl, max_size } => {
                format!("DhcpClient {mac} type={msg_type} prl={prl:?} max={max_size:?}")
            }
            Fact::DhcpServer { msg_type, client } => format!("DhcpServer type={msg_type} client={client}"),
            Fact::DnsQuery { name, qtype, multicast } => {
                format!("DnsQuery {} qtype={qtype} mc={multicast}", s(name))
            }
            Fact::DnsAddr { name, addr, multicast } => format!("DnsAddr {} {addr} mc={multicast}", s(name)),
            Fact::DnsPtr { addr, name } => format!("DnsPtr {addr} {}", s(name)),
            Fact::DnsSdService { instance, service, port } => {
                format!("DnsSd {} {} port={port:?}", s(instance), s(service))
            }
            Fact::Capabilities { is_bridge_or_router, is_phone } => {
                format!("Capabilities bridge_or_router={is_bridge_or_router} phone={is_phone}")
            }
            Fact::HttpRequest { method, host, user_agent } => {
                format!("HttpRequest {} host={} ua={}", s(method), o(host), o(user_agent))
            }
            Fact::TlsClientHello { sni, alpn, ja4 } => {
                format!("TlsClientHello sni={} alpn={} ja4={}", o(sni), o(alpn), s(ja4))
            }
            Fact::Dicom { pdu, called_ae, calling_ae, impl_class_uid, impl_version, sop_class } => format!(
                "Dicom {pdu:?} called={} calling={} uid={} ver={} sop={}",
                s(called_ae),
                s(calling_ae),
                o(impl_class_uid),
                o(impl_version),
                o(sop_class)
            ),
            Fact::Hl7 {
                sending_app,
                sending_facility,
                receiving_app,
                receiving_facility,
                message_type,
                version,
                is_ack,
            } => format!(
                "Hl7 {}|{} -> {}|{} type={} ver={} ack={is_ack}",
                s(sending_app),
                s(sending_facility),
                s(receiving_app),
                s(receiving_facility),
                s(message_type),
                s(version)
            ),
            Fact::Cleartext { kind } => format!("Cleartext {kind:?}"),
            Fact::Speaks { protocol } => format!("Speaks {}", protocol.name()),
            Fact::TcpSessionEnd {
                client,
                server,
                server_port,
                outcome,
                duration_ms,
                bytes_to_server,
                bytes_to_client,
            } => format!(
                "TcpSessionEnd {client} -> {server}:{server_port} {outcome:?} {duration_ms}ms up={bytes_to_server} down={bytes_to_client}"
            ),
            Fact::Snmp { version, is_response } => format!("Snmp v={version} resp={is_response}"),
        }
    }
}
