//! DHCPv4 (UDP 67/68): who a client says it is, and what a server gave it.
//!
//! Parsed: the fixed BOOTP header (op, hardware type and length, ciaddr, yiaddr, chaddr), the
//! magic cookie, and one bounded walk of the options (pad and end handled; with option 52
//! "overload" the `file` and `sname` fields are walked as options too).
//! - From a client (BOOTREQUEST): `DhcpClient` (53 message type, 55 parameter request list,
//!   57 maximum size: the fingerprint), `Name` from 12 (host name) and 81 (client FQDN),
//!   `Software` from 60 (vendor class), `Info` from 61 (client id, as hex) and 161 (MUD URL),
//!   `Address` from 50 (requested address) and ciaddr.
//! - From a server (BOOTREPLY): `DhcpServer`; on ACK the assigned `Address` and, with
//!   option 1, the `Subnet`.
//!
//! Every fact is about the client's `chaddr` (a relay forwards for it); only Ethernet
//! hardware addresses are used. Not parsed: relay agent information (82), server options
//! beyond the mask, long options split over several instances (RFC 3396: the first instance
//! is used), BOOTP without the DHCP magic cookie (not ours), DHCPv6.

use super::util::{trim, Cursor};
use super::{Error, Result};
use crate::fact::{AddrEvidence, Fact, FrameCtx, Sink};
use wardtap_proto::{InfoField, IpAddr, Mac, NameSource, Protocol, SoftwareSource};

/// Bytes of a client identifier rendered as hex; longer ones (DUID-based) are cut.
pub const CLIENT_ID_MAX: usize = 64;

mod field {
    use core::ops::Range;
    pub const OP: usize = 0;
    pub const HTYPE: usize = 1;
    pub const HLEN: usize = 2;
    pub const CIADDR: Range<usize> = 12..16;
    pub const YIADDR: Range<usize> = 16..20;
    pub const CHADDR: Range<usize> = 28..34;
    pub const SNAME: Range<usize> = 44..108;
    pub const FILE: Range<usize> = 108..236;
    pub const MAGIC: Range<usize> = 236..240;
    pub const OPTIONS: usize = 240;
}

const MAGIC: [u8; 4] = [99, 130, 83, 99];
const BOOTREQUEST: u8 = 1;
const BOOTREPLY: u8 = 2;
const HTYPE_ETHERNET: u8 = 1;
const DHCPACK: u8 = 5;

mod opt {
    pub const PAD: u8 = 0;
    pub const SUBNET_MASK: u8 = 1;
    pub const HOST_NAME: u8 = 12;
    pub const REQUESTED_IP: u8 = 50;
    pub const OVERLOAD: u8 = 52;
    pub const MSG_TYPE: u8 = 53;
    pub const PRL: u8 = 55;
    pub const MAX_SIZE: u8 = 57;
    pub const VENDOR_CLASS: u8 = 60;
    pub const CLIENT_ID: u8 = 61;
    pub const CLIENT_FQDN: u8 = 81;
    pub const MUD_URL: u8 = 161;
    pub const END: u8 = 255;
}

/// The options this dissector uses; the first instance of each wins.
#[derive(Default)]
struct Options<'a> {
    msg_type: Option<u8>,
    prl: Option<&'a [u8]>,
    max_size: Option<u16>,
    host_name: Option<&'a [u8]>,
    fqdn: Option<&'a [u8]>,
    vendor_class: Option<&'a [u8]>,
    client_id: Option<&'a [u8]>,
    mud_url: Option<&'a [u8]>,
    requested_ip: Option<[u8; 4]>,
    subnet_mask: Option<[u8; 4]>,
    overload: Option<u8>,
}

fn first<T>(slot: &mut Option<T>, v: Option<T>) {
    if slot.is_none() {
        *slot = v;
    }
}

fn array<const N: usize>(data: &[u8]) -> Option<[u8; N]> {
    data.try_into().ok()
}

impl<'a> Options<'a> {
    /// Walks one options area. Each pass consumes at least one byte, so the walk is bounded
    /// by the area's length. An area may end without END (sname / file, sloppy clients).
    fn walk(&mut self, area: &'a [u8]) -> Result<()> {
        let mut c = Cursor::new(area);
        for _ in 0..area.len() {
            let Ok(code) = c.u8() else { break };
            match code {
                opt::PAD => continue,
                opt::END => break,
                _ => {}
            }
            let len = c.u8()?;
            let data = c.take(usize::from(len))?;
            self.set(code, data);
        }
        Ok(())
    }

    fn set(&mut self, code: u8, data: &'a [u8]) {
        match code {
            opt::MSG_TYPE => first(&mut self.msg_type, array::<1>(data).map(|[t]| t)),
            opt::PRL => first(&mut self.prl, Some(data)),
            opt::MAX_SIZE => first(&mut self.max_size, array(data).map(u16::from_be_bytes)),
            opt::HOST_NAME => first(&mut self.host_name, Some(data)),
            opt::CLIENT_FQDN => first(&mut self.fqdn, Some(data)),
            opt::VENDOR_CLASS => first(&mut self.vendor_class, Some(data)),
            opt::CLIENT_ID => first(&mut self.client_id, Some(data)),
            opt::MUD_URL => first(&mut self.mud_url, Some(data)),
            opt::REQUESTED_IP => first(&mut self.requested_ip, array(data)),
            opt::SUBNET_MASK => first(&mut self.subnet_mask, array(data)),
            opt::OVERLOAD => first(&mut self.overload, array::<1>(data).map(|[o]| o)),
            _ => {}
        }
    }
}

/// A usable unicast host address.
fn host_addr(a: [u8; 4]) -> Option<IpAddr> {
    let ip = IpAddr::V4(a);
    (!ip.is_unspecified() && !ip.is_group()).then_some(ip)
}

/// Prefix length of a contiguous netmask (`/1`..=`/32`); None for anything else.
fn prefix_len(mask: [u8; 4]) -> Option<u8> {
    let m = u32::from_be_bytes(mask);
    let ones = m.leading_ones();
    (ones > 0 && m.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

fn hex_digit(n: u8) -> u8 {
    match n & 0xf {
        d @ 0..=9 => b'0' + d,
        d => b'a' + (d - 10),
    }
}

/// Dissects one DHCPv4 message.
pub fn dissect<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
    let fixed = payload.get(..field::OPTIONS).ok_or(Error::Truncated)?;
    if fixed.get(field::MAGIC) != Some(&MAGIC[..]) {
        return Err(Error::NotMine);
    }
    let op = *fixed.get(field::OP).ok_or(Error::Truncated)?;
    if op != BOOTREQUEST && op != BOOTREPLY {
        return Err(Error::Malformed);
    }
    super::speak(ctx, Protocol::Dhcp, sink);

    let mut o = Options::default();
    // A cut option ends the walk, but what was read before it is still reported.
    let mut walked = o.walk(payload.get(field::OPTIONS..).unwrap_or_default());
    // Overload: 1 = file holds options, 2 = sname, 3 = both (file first, RFC 2132 9.3).
    if let (Ok(()), Some(ov @ 1..=3)) = (walked, o.overload) {
        if ov & 1 != 0 {
            walked = o.walk(fixed.get(field::FILE).unwrap_or_default());
        }
        if ov & 2 != 0 && walked.is_ok() {
            walked = o.walk(fixed.get(field::SNAME).unwrap_or_default());
        }
    }
    emit(ctx, op, fixed, &o, sink);
    walked
}

/// Emits the facts of a message whose options were read into `o`.
fn emit<S: Sink + ?Sized>(ctx: &FrameCtx, op: u8, fixed: &[u8], o: &Options<'_>, sink: &mut S) {
    let ethernet = fixed.get(field::HTYPE) == Some(&HTYPE_ETHERNET) && fixed.get(field::HLEN) == Some(&6);
    let chaddr = fixed.get(field::CHADDR).and_then(array::<6>).map(Mac);
    let Some(mac) = chaddr.filter(|m| ethernet && m.is_device()) else { return };
    let addr = |r: core::ops::Range<usize>| fixed.get(r).and_then(array::<4>).unwrap_or_default();
    let ciaddr = addr(field::CIADDR);

    if op == BOOTREPLY {
        let Some(msg_type) = o.msg_type else { return };
        sink.fact(ctx, &Fact::DhcpServer { msg_type, client: mac });
        if msg_type != DHCPACK {
            return;
        }
        let yiaddr = addr(field::YIADDR);
        if let Some(ip) = host_addr(yiaddr) {
            sink.fact(ctx, &Fact::Address { mac, ip, how: AddrEvidence::DhcpAck });
        }
        // An ACK to an INFORM leaves yiaddr empty; the client's own ciaddr is on the subnet.
        let on_net = if yiaddr != [0; 4] { yiaddr } else { ciaddr };
        if let (Some(mask), true) = (o.subnet_mask, on_net != [0; 4]) {
            if let Some(prefix) = prefix_len(mask) {
                let net = (u32::from_be_bytes(on_net) & u32::from_be_bytes(mask)).to_be_bytes();
                sink.fact(ctx, &Fact::Subnet { net, prefix });
            }
        }
        return;
    }

    if let Some(msg_type) = o.msg_type {
        sink.fact(ctx, &Fact::DhcpClient { mac, msg_type, prl: o.prl.unwrap_or_default(), max_size: o.max_size });
    }
    if let Some(name) = o.host_name.map(trim).filter(|n| !n.is_empty()) {
        sink.fact(ctx, &Fact::Name { mac, name, source: NameSource::Dhcp });
    }
    if let Some(fqdn) = o.fqdn {
        client_fqdn(ctx, mac, fqdn, sink);
    }
    if let Some(text) = o.vendor_class.map(trim).filter(|t| !t.is_empty()) {
        sink.fact(ctx, &Fact::Software { mac, text, source: SoftwareSource::DhcpVendorClass });
    }
    if let Some(id) = o.client_id.filter(|id| !id.is_empty()) {
        let mut hex = [0u8; 2 * CLIENT_ID_MAX];
        for (pair, b) in hex.chunks_exact_mut(2).zip(id) {
            if let [hi, lo] = pair {
                *hi = hex_digit(b >> 4);
                *lo = hex_digit(*b);
            }
        }
        let n = id.len().min(CLIENT_ID_MAX) * 2;
        let value = hex.get(..n).unwrap_or_default();
        sink.fact(ctx, &Fact::Info { mac, field: InfoField::DhcpClientId, value });
    }
    if let Some(url) = o.mud_url.map(trim).filter(|u| !u.is_empty()) {
        sink.fact(ctx, &Fact::Info { mac, field: InfoField::MudUrl, value: url });
    }
    let current = host_addr(ciaddr);
    if let Some(ip) = current {
        sink.fact(ctx, &Fact::Address { mac, ip, how: AddrEvidence::DhcpClient });
    }
    if let Some(ip) = o.requested_ip.and_then(host_addr).filter(|ip| Some(*ip) != current) {
        sink.fact(ctx, &Fact::Address { mac, ip, how: AddrEvidence::DhcpClient });
    }
}

/// Option 81 (RFC 4702): flags, two obsolete rcode bytes, then the name, in DNS wire format
/// when the E flag is set and as ASCII otherwise. An empty name (the client leaves naming to
/// the server) says nothing.
fn client_fqdn<S: Sink + ?Sized>(ctx: &FrameCtx, mac: Mac, data: &[u8], sink: &mut S) {
    const E_FLAG: u8 = 0x04;
    let Some((&flags, rest)) = data.split_first() else { return };
    let Some(name) = rest.get(2..) else { return };
    if flags & E_FLAG != 0 {
        // A partial name (no root label) is not a complete wire name: skipped.
        let mut n = super::dns::Name::new();
        if super::dns::read_name_into(name, 0, &mut n).is_err() {
            return;
        }
        if !n.as_bytes().is_empty() {
            sink.fact(ctx, &Fact::Name { mac, name: n.as_bytes(), source: NameSource::DhcpFqdn });
        }
    } else {
        let name = trim(name);
        let name = name.strip_suffix(b".").unwrap_or(name);
        if !name.is_empty() {
            sink.fact(ctx, &Fact::Name { mac, name, source: NameSource::DhcpFqdn });
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::dissect::testutil::{self, facts};
    use crate::fact::collect::Collect;
    use std::vec::Vec;

    const CLIENT: [u8; 6] = [0x00, 0x09, 0xfb, 0x01, 0x02, 0x03];

    /// A BOOTP header with the cookie, then `opts` as given.
    fn msg(op: u8, opts: &[u8]) -> Vec<u8> {
        let mut m = std::vec![0u8; field::OPTIONS];
        m[field::OP] = op;
        m[field::HTYPE] = 1;
        m[field::HLEN] = 6;
        m[field::CHADDR].copy_from_slice(&CLIENT);
        m[field::MAGIC].copy_from_slice(&MAGIC);
        m.extend_from_slice(opts);
        m
    }

    fn run(m: &[u8]) -> (Result<()>, Collect) {
        let mut c = Collect::default();
        let r = dissect(&testutil::ctx(), m, &mut c);
        (r, c)
    }

    fn count(c: &Collect, prefix: &str) -> usize {
        c.lines.iter().filter(|l| l.starts_with(prefix)).count()
    }

    #[test]
    fn dora_grandstream() {
        let c = facts("dhcp-dora__arkime-wireshark.pcap");
        let m = "00:0b:82:01:fc:42";
        assert!(c.has("Speaks dhcp"));
        assert!(c.has(&std::format!("DhcpClient {m} type=1 prl=[1, 3, 6, 42] max=None")));
        assert!(c.has(&std::format!("DhcpClient {m} type=3 prl=[1, 3, 6, 42] max=None")));
        assert!(c.has(&std::format!("DhcpServer type=2 client={m}")));
        assert!(c.has(&std::format!("DhcpServer type=5 client={m}")));
        assert!(c.has(&std::format!("Address {m} 192.168.0.10 DhcpClient")));
        assert!(c.has(&std::format!("Address {m} 192.168.0.10 DhcpAck")));
        assert!(c.has(&std::format!("Info {m} DhcpClientId 01000b8201fc42")));
        assert!(c.has("Subnet [192, 168, 0, 0]/24"));
        assert!(!c.lines.iter().any(|l| l.starts_with("Name") && l.contains("Dhcp")));
    }

    #[test]
    fn all_eight_message_types() {
        let c = facts("dhcp-aruba-vendorclass__zeek.pcap");
        let m = "90:b1:1c:99:49:29";
        for t in [1, 3, 4, 7, 8] {
            assert!(c.has(&std::format!("DhcpClient {m} type={t} prl=[] max=None")), "{t}");
        }
        for t in [2, 5, 6] {
            assert!(c.has(&std::format!("DhcpServer type={t} client={m}")), "{t}");
        }
        assert!(c.has(&std::format!("Name {m} Dhcp btest.is.cool")));
        assert!(c.has(&std::format!("Address {m} 128.2.6.189 DhcpAck")));
        assert!(c.has("Subnet [128, 2, 6, 0]/24"));
        // 'ArubaAP' is option 60 of the server's OFFER/ACK: not the client's vendor class.
        assert_eq!(count(&c, "Software"), 0);
    }

    #[test]
    fn raspberry_pi_with_mud_url() {
        let c = facts("dhcp-mud-raspberrypi__tcpdump.pcap");
        let m = "b8:27:eb:b8:53:c8";
        assert!(c.has(&std::format!(
            "DhcpClient {m} type=3 prl=[1, 121, 33, 3, 6, 12, 15, 28, 42, 51, 54, 58, 59, 100, 101, 119] max=Some(1472)"
        )));
        assert!(c.has(&std::format!("Name {m} Dhcp raspberrypi")));
        assert!(c.has(&std::format!("Software {m} DhcpVendorClass dhcpcd-6.11.5:Linux-4.1.18-v7+:armv7l:BCM2709")));
        assert!(c.has(&std::format!("Info {m} MudUrl https://mudctl.example.com/.well-known/mud/v1/rasbp101")));
        assert!(c.has(&std::format!("Info {m} DhcpClientId 01b827ebb853c8")));
        assert!(c.has(&std::format!("Address {m} 62.12.173.123 DhcpAck")));
        assert!(c.has("Subnet [62, 12, 173, 120]/29"));
    }

    #[test]
    fn windows_style_request_with_fqdn() {
        let c = facts("dhcp-request-msft-opt60__suricata-verify.pcap");
        let m = "28:cf:da:dc:8d:76";
        assert!(
            c.has(&std::format!("DhcpClient {m} type=3 prl=[1, 15, 3, 6, 44, 46, 47, 31, 33, 121, 249, 43] max=None"))
        );
        assert!(c.has(&std::format!("Name {m} Dhcp NicksMacBook")));
        assert!(c.has(&std::format!("Name {m} DhcpFqdn NicksMacBook")));
        assert!(c.has(&std::format!("Software {m} DhcpVendorClass MSFT 5.0")));
        assert!(c.has(&std::format!("Address {m} 192.168.1.111 DhcpClient")));
    }

    #[test]
    fn pop_os_long_prl() {
        let c = facts("dhcp-request-popos-opt55__zeek.pcap");
        let m = "00:90:f5:91:cd:1f";
        assert!(c.has(&std::format!(
            "DhcpClient {m} type=3 prl=[1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42, 4, 5, 249, 33, 252] max=None"
        )));
        assert!(c.has(&std::format!("Name {m} Dhcp pop-os")));
        assert!(c.has(&std::format!("Address {m} 192.168.15.250 DhcpAck")));
        assert!(c.has("Subnet [192, 168, 15, 0]/24"));
    }

    #[test]
    fn hospital_modalities_and_monitor() {
        let c = facts("dicom-dhcp-smb-hospital-synthetic__tapirxl.pcap");
        let philips = "prl=[1, 3, 6, 15, 28, 51, 58, 59] max=None";
        assert!(c.has(&std::format!("DhcpClient 00:09:fb:bd:75:6d type=1 {philips}")));
        assert!(c.has("Name 00:09:fb:bd:75:6d Dhcp MX700-bed12"));
        assert!(c.has("Software 00:09:fb:bd:75:6d DhcpVendorClass Philips IntelliVue"));
        assert!(c.has("Address 00:09:fb:bd:75:6d 10.10.10.21 DhcpAck"));
        assert!(c.has(&std::format!("DhcpClient 00:90:20:aa:bb:01 type=3 {philips}")));
        assert!(c.has("Name 00:90:20:aa:bb:01 Dhcp BRILL-CT01"));
        assert!(c.has("Software 00:90:20:aa:bb:01 DhcpVendorClass Philips Brilliance iCT"));
        let win = "prl=[1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252] max=None";
        assert!(c.has(&std::format!("DhcpClient 00:50:56:8b:ca:fe type=1 {win}")));
        assert!(c.has("Name 00:50:56:8b:ca:fe Dhcp PACSARCH01"));
        assert!(c.has("Name 00:09:5c:bb:cc:02 Dhcp CCPLATFORM01"));
        assert!(c.has("Name 60:a5:e2:ae:32:1a Dhcp ACMEWS02"));
        assert!(
            c.has("DhcpClient e8:d8:d1:aa:bb:02 type=1 prl=[1, 15, 3, 6, 44, 46, 47, 31, 33, 121, 249, 43] max=None")
        );
        assert!(c.has("Name e8:d8:d1:aa:bb:02 Dhcp ACMECT01"));
        for m in ["00:50:56:8b:ca:fe", "00:09:5c:bb:cc:02", "60:a5:e2:ae:32:1a", "e8:d8:d1:aa:bb:02"] {
            assert!(c.has(&std::format!("Software {m} DhcpVendorClass MSFT 5.0")), "{m}");
        }
        assert!(c.has("Subnet [10, 10, 20, 0]/24"));
    }

    #[test]
    fn iot_and_windows_boot() {
        let c = facts("iot-philips-hue-bridge__iot-sentinel.pcap");
        let m = "00:17:88:24:76:ff";
        assert!(c.has(&std::format!("DhcpClient {m} type=1 prl=[1, 3, 6, 12, 15, 28, 42] max=Some(576)")));
        assert!(c.has(&std::format!("Name {m} Dhcp Philips-hue")));
        assert!(c.has(&std::format!("Software {m} DhcpVendorClass udhcp 1.19.4")));
        assert!(c.has(&std::format!("Address {m} 10.10.10.6 DhcpAck")));

        let c = facts("eapol-8021x-windows-boot__tcpdump.pcap");
        let m = "00:04:23:57:a5:7a";
        assert!(c.has(&std::format!("Name {m} Dhcp DJP95S0J")));
        assert!(c.has(&std::format!("Software {m} DhcpVendorClass MSFT 5.0")));
        assert!(c.has(&std::format!("DhcpClient {m} type=1 prl=[1, 15, 3, 6, 44, 46, 47, 31, 33, 249, 43] max=None")));
        // The RELEASE reports the address the client held, in ciaddr.
        assert!(c.has(&std::format!("DhcpClient {m} type=7 prl=[] max=None")));
        assert!(c.has(&std::format!("Address {m} 192.168.1.249 DhcpClient")));
    }

    #[test]
    fn hand_made_request() {
        let mut m = msg(1, &[53, 1, 3, 0, 0, 55, 3, 1, 3, 6, 57, 2, 0x05, 0xdc, 12, 6]);
        m.extend_from_slice(b"PUMP7\0");
        m.extend_from_slice(&[50, 4, 10, 1, 2, 3, 60, 7]);
        m.extend_from_slice(b"Alaris ");
        m.extend_from_slice(&[161, 0, 255, 12, 3, b'B', b'A', b'D']);
        m[field::CIADDR].copy_from_slice(&[10, 1, 2, 3]);
        let (r, c) = run(&m);
        assert_eq!(r, Ok(()));
        assert_eq!(
            c.lines,
            [
                "Speaks dhcp",
                "DhcpClient 00:09:fb:01:02:03 type=3 prl=[1, 3, 6] max=Some(1500)",
                "Name 00:09:fb:01:02:03 Dhcp PUMP7",
                "Software 00:09:fb:01:02:03 DhcpVendorClass Alaris",
                // Requested address equal to ciaddr: once.
                "Address 00:09:fb:01:02:03 10.1.2.3 DhcpClient",
            ]
        );
    }

    #[test]
    fn fqdn_forms() {
        let name = |data: &[u8]| {
            let mut o = std::vec![81, data.len() as u8];
            o.extend_from_slice(data);
            o.push(255);
            let (r, c) = run(&msg(1, &o));
            assert_eq!(r, Ok(()));
            c.lines.iter().find_map(|l| l.strip_prefix("Name 00:09:fb:01:02:03 DhcpFqdn ").map(Into::into))
        };
        let wire = [0x05, 0, 0, 4, b'c', b't', b'0', b'1', 3, b'l', b'a', b'n', 0];
        assert_eq!(name(&wire), Some(std::string::String::from("ct01.lan")));
        assert_eq!(name(b"\x01\xff\xffct01.lan."), Some("ct01.lan".into()));
        assert_eq!(name(b"\x00\x00\x00"), None);
        assert_eq!(name(b"\x00\x00"), None);
        // E flag with a partial name (no root label), or a pointer: skipped.
        assert_eq!(name(&[0x04, 0, 0, 4, b'c', b't', b'0', b'1']), None);
        assert_eq!(name(&[0x04, 0, 0, 0xc0, 0]), None);
    }

    #[test]
    fn client_id_is_hex_and_bounded() {
        let mut o = std::vec![61, 100, 0xff];
        o.extend((0..99u8).map(|b| b.wrapping_mul(37)));
        let (_, c) = run(&msg(1, &o));
        let id = c.lines.iter().find_map(|l| l.strip_prefix("Info 00:09:fb:01:02:03 DhcpClientId ")).unwrap();
        assert_eq!(id.len(), 2 * CLIENT_ID_MAX);
        assert!(id.starts_with("ff00254a6f"));
        let (_, c) = run(&msg(1, &[61, 0]));
        assert_eq!(count(&c, "Info"), 0);
    }

    #[test]
    fn ack_subnet_only_for_contiguous_masks() {
        let ack = |mask: [u8; 4]| {
            let mut m = msg(2, &[53, 1, 5, 1, 4, mask[0], mask[1], mask[2], mask[3], 255]);
            m[field::YIADDR].copy_from_slice(&[172, 16, 5, 77]);
            let (r, c) = run(&m);
            assert_eq!(r, Ok(()));
            assert!(c.has("DhcpServer type=5 client=00:09:fb:01:02:03"));
            assert!(c.has("Address 00:09:fb:01:02:03 172.16.5.77 DhcpAck"));
            c.lines.iter().find(|l| l.starts_with("Subnet")).cloned()
        };
        assert_eq!(ack([255, 255, 240, 0]).as_deref(), Some("Subnet [172, 16, 0, 0]/20"));
        assert_eq!(ack([255, 255, 255, 255]).as_deref(), Some("Subnet [172, 16, 5, 77]/32"));
        assert_eq!(ack([255, 0, 255, 0]), None);
        assert_eq!(ack([0, 0, 0, 0]), None);
        assert_eq!(ack([0, 255, 255, 255]), None);
        assert_eq!(prefix_len([255, 255, 255, 128]), Some(25));
        assert_eq!(prefix_len([128, 0, 0, 0]), Some(1));
        assert_eq!(prefix_len([255, 255, 255, 254]), Some(31));
    }

    #[test]
    fn inform_ack_and_offer() {
        // ACK to an INFORM: no yiaddr, the subnet comes from the client's ciaddr.
        let mut m = msg(2, &[53, 1, 5, 1, 4, 255, 255, 255, 0, 255]);
        m[field::CIADDR].copy_from_slice(&[10, 9, 8, 7]);
        let (_, c) = run(&m);
        assert_eq!(c.lines, ["Speaks dhcp", "DhcpServer type=5 client=00:09:fb:01:02:03", "Subnet [10, 9, 8, 0]/24"]);
        // An OFFER assigns nothing yet.
        let mut m = msg(2, &[53, 1, 2, 1, 4, 255, 255, 255, 0, 255]);
        m[field::YIADDR].copy_from_slice(&[10, 9, 8, 6]);
        let (_, c) = run(&m);
        assert_eq!(c.lines, ["Speaks dhcp", "DhcpServer type=2 client=00:09:fb:01:02:03"]);
        // A BOOTP-style reply without option 53.
        let (_, c) = run(&msg(2, &[255]));
        assert_eq!(c.lines, ["Speaks dhcp"]);
    }

    #[test]
    fn overloaded_file_field_holds_options() {
        let mut m = msg(1, &[53, 1, 1, 52, 1, 1, 255]);
        let file = [12, 4, b'S', b'C', b'A', b'N', 255];
        m[field::FILE.start..field::FILE.start + file.len()].copy_from_slice(&file);
        let (r, c) = run(&m);
        assert_eq!(r, Ok(()));
        assert!(c.has("Name 00:09:fb:01:02:03 Dhcp SCAN"));
        // Without the overload option the file field is a file name.
        let mut m = msg(1, &[53, 1, 1, 255]);
        m[field::FILE.start..field::FILE.start + file.len()].copy_from_slice(&file);
        assert_eq!(count(&run(&m).1, "Name"), 0);
        // sname as well (3), ending without END.
        let mut m = msg(1, &[52, 1, 3, 255]);
        m[field::SNAME.start..field::SNAME.start + 6].copy_from_slice(&[53, 1, 8, 60, 1, b'v']);
        let (r, c) = run(&m);
        assert_eq!(r, Ok(()));
        assert!(c.has("DhcpClient 00:09:fb:01:02:03 type=8"));
        assert!(c.has("DhcpVendorClass v"));
    }

    #[test]
    fn malformed_and_foreign() {
        assert_eq!(run(&[1; 239]).0, Err(Error::Truncated));
        let mut m = msg(1, &[255]);
        m[field::MAGIC.start] = 0;
        let (r, c) = run(&m);
        assert_eq!((r, c.lines.len()), (Err(Error::NotMine), 0));
        let (r, c) = run(&msg(3, &[255]));
        assert_eq!((r, c.lines.len()), (Err(Error::Malformed), 0));
        // An option running past the end: what came before is still reported.
        let (r, c) = run(&msg(1, &[53, 1, 1, 12, 2, b'O', b'K', 55, 200, 1, 3]));
        assert_eq!(r, Err(Error::Truncated));
        assert_eq!(
            c.lines,
            ["Speaks dhcp", "DhcpClient 00:09:fb:01:02:03 type=1 prl=[] max=None", "Name 00:09:fb:01:02:03 Dhcp OK"]
        );
        // Just pads, no END; a cut option header.
        assert_eq!(run(&msg(1, &[0; 60])).0, Ok(()));
        assert_eq!(run(&msg(1, &[12])).0, Err(Error::Truncated));
        // Wrong-sized fixed options are ignored, zero-length strings say nothing.
        let (r, c) = run(&msg(1, &[53, 2, 1, 1, 57, 1, 5, 50, 3, 1, 2, 3, 12, 0, 60, 0, 255]));
        assert_eq!((r, c.lines), (Ok(()), std::vec!["Speaks dhcp".into()]));
        // Not Ethernet (InfiniBand): spoken, nothing attributed.
        let mut m = msg(1, &[53, 1, 1, 12, 1, b'x', 255]);
        m[field::HTYPE] = 32;
        m[field::HLEN] = 0;
        assert_eq!(run(&m).1.lines, ["Speaks dhcp"]);
        // A group or zero chaddr is nobody.
        let mut m = msg(1, &[53, 1, 1, 255]);
        m[field::CHADDR].copy_from_slice(&[0xff; 6]);
        assert_eq!(run(&m).1.lines, ["Speaks dhcp"]);
        // Requested broadcast / multicast / zero addresses are not the client's.
        for a in [[255u8; 4], [224, 0, 0, 1], [0; 4]] {
            let (_, c) = run(&msg(1, &[50, 4, a[0], a[1], a[2], a[3], 255]));
            assert_eq!(count(&c, "Address"), 0);
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_options_never_panic(op in 1u8..3, opts in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let (_, c) = run(&msg(op, &opts));
            proptest::prop_assert!(c.lines.len() <= 9);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = run(&bytes);
        }
    }
}
