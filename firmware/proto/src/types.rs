//! Small value types shared by the core, the messages and the host.

use core::fmt;
use serde::{Deserialize, Serialize};

/// A bounded byte string taken from the wire (a name, a banner). Not necessarily UTF-8.
/// At most 255 bytes (its length is a `u8`).
pub type Text<const N: usize> = heapless::Vec<u8, N, u8>;

/// Copies at most `N` bytes of `src` into a [`Text`], returning whether it was cut short.
pub fn text_from<const N: usize>(src: &[u8]) -> (Text<N>, bool) {
    let take = src.len().min(N);
    let mut t = Text::new();
    // Cannot fail: `take <= N`.
    let _ = t.extend_from_slice(&src[..take]);
    (t, take < src.len())
}

/// An Ethernet MAC address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// The broadcast address.
    pub const BROADCAST: Mac = Mac([0xff; 6]);
    /// Group (multicast or broadcast) address.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }
    /// Locally administered (randomised phone MACs, VMs): the OUI says nothing of the vendor.
    pub fn is_local(&self) -> bool {
        self.0[0] & 2 == 2
    }
    /// The all-zero address (seen as ARP target, never a real sender).
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }
    /// A unicast address that can belong to a device.
    pub fn is_device(&self) -> bool {
        !self.is_multicast() && !self.is_zero()
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An IPv4 or IPv6 address, without pulling in `core::net` formatting on the MCU.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum IpAddr {
    /// IPv4.
    V4([u8; 4]),
    /// IPv6.
    V6([u8; 16]),
}

impl IpAddr {
    /// The address as 16 bytes (IPv4 mapped into `::ffff:a.b.c.d`), for hashing and tables.
    pub fn to_bytes16(&self) -> [u8; 16] {
        match *self {
            IpAddr::V6(b) => b,
            IpAddr::V4(a) => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a[0], a[1], a[2], a[3]],
        }
    }
    /// Inverse of [`IpAddr::to_bytes16`].
    pub fn from_bytes16(b: [u8; 16]) -> IpAddr {
        if b[..10] == [0; 10] && b[10] == 0xff && b[11] == 0xff {
            IpAddr::V4([b[12], b[13], b[14], b[15]])
        } else {
            IpAddr::V6(b)
        }
    }
    /// Multicast or broadcast: never a device's own address, never an "external endpoint".
    pub fn is_group(&self) -> bool {
        match self {
            IpAddr::V4(a) => a[0] >= 224 || *a == [255; 4],
            IpAddr::V6(b) => b[0] == 0xff,
        }
    }
    /// 0.0.0.0 / `::`.
    pub fn is_unspecified(&self) -> bool {
        match self {
            IpAddr::V4(a) => *a == [0; 4],
            IpAddr::V6(b) => *b == [0; 16],
        }
    }
    /// Private, shared or local-use space (RFC 1918, RFC 6598 CGNAT, ULA, loopback,
    /// link-local): never "the internet".
    pub fn is_private(&self) -> bool {
        match self {
            IpAddr::V4(a) => {
                a[0] == 10
                    || (a[0] == 172 && a[1] & 0xf0 == 16)
                    || (a[0] == 192 && a[1] == 168)
                    || (a[0] == 100 && a[1] & 0xc0 == 64)
                    || a[0] == 127
            }
            IpAddr::V6(b) => b[0] & 0xfe == 0xfc || *b == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        }
    }
    /// A routable public address: the internet.
    pub fn is_public(&self) -> bool {
        !self.is_private() && !self.is_link_local() && !self.is_group() && !self.is_unspecified()
    }
    /// Link-local (169.254/16, fe80::/10): always on the segment.
    pub fn is_link_local(&self) -> bool {
        match self {
            IpAddr::V4(a) => a[0] == 169 && a[1] == 254,
            IpAddr::V6(b) => b[0] == 0xfe && b[1] & 0xc0 == 0x80,
        }
    }
}

impl fmt::Display for IpAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpAddr::V4(a) => write!(f, "{}.{}.{}.{}", a[0], a[1], a[2], a[3]),
            IpAddr::V6(b) => fmt::Display::fmt(&core::net::Ipv6Addr::from(*b), f),
        }
    }
}

impl fmt::Debug for IpAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Transport protocol of a flow or edge. Unknown IP protocol numbers are kept.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Transport {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP or ICMPv6.
    Icmp,
    /// Any other IP protocol number.
    Other(u8),
}

impl Transport {
    /// From an IP protocol / next-header number.
    pub fn from_ip_proto(p: u8) -> Transport {
        match p {
            6 => Transport::Tcp,
            17 => Transport::Udp,
            1 | 58 => Transport::Icmp,
            n => Transport::Other(n),
        }
    }
    /// Short lowercase name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Icmp => "icmp",
            Transport::Other(_) => "ip",
        }
    }
    /// Packs into one byte for compact tables (`Other` keeps its number; 6/17/1 are never `Other`).
    pub fn to_u8(self) -> u8 {
        match self {
            Transport::Tcp => 6,
            Transport::Udp => 17,
            Transport::Icmp => 1,
            Transport::Other(n) => n,
        }
    }
}

/// Where a name came from: each source is trusted differently by a reader.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum NameSource {
    /// DHCP option 12 (host name).
    Dhcp = 0,
    /// DHCP option 81 (client FQDN).
    DhcpFqdn = 1,
    /// mDNS host record (`name.local`).
    Mdns = 2,
    /// DNS-SD service instance name.
    DnsSd = 3,
    /// NetBIOS name service.
    Netbios = 4,
    /// LLDP system name.
    Lldp = 5,
    /// CDP device id.
    Cdp = 6,
    /// SNMP sysName.
    Snmp = 7,
    /// A DNS PTR answer for the device's address.
    DnsPtr = 8,
    /// LLMNR announcement.
    Llmnr = 9,
    /// DICOM application entity title.
    DicomAe = 10,
    /// NTLM / SMB workstation name.
    Ntlm = 11,
}

/// Where a software or description string came from.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum SoftwareSource {
    /// HTTP User-Agent (the device as a client).
    HttpUserAgent = 0,
    /// HTTP Server header.
    HttpServer = 1,
    /// SSH identification banner.
    SshBanner = 2,
    /// SNMP sysDescr.
    SnmpSysDescr = 3,
    /// LLDP system description.
    LldpSysDescr = 4,
    /// CDP software version.
    CdpVersion = 5,
    /// SSDP SERVER header.
    SsdpServer = 6,
    /// DHCP vendor class (option 60).
    DhcpVendorClass = 7,
    /// DICOM implementation version name.
    DicomImplVersion = 8,
    /// FTP / SMTP / other greeting banner.
    Banner = 9,
}

/// Identity fields a device volunteers (LLDP-MED inventory, CDP, SSDP, SNMP).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum InfoField {
    /// Manufacturer name.
    Manufacturer = 0,
    /// Model name or platform.
    Model = 1,
    /// Serial number.
    Serial = 2,
    /// Hardware revision.
    HardwareRev = 3,
    /// Firmware revision.
    FirmwareRev = 4,
    /// Software revision.
    SoftwareRev = 5,
    /// Asset id.
    AssetId = 6,
    /// LLDP chassis id (as text).
    ChassisId = 7,
    /// Switch port id (LLDP / CDP).
    PortId = 8,
    /// SNMP sysObjectID (dotted).
    SysObjectId = 9,
    /// SSDP USN.
    Usn = 10,
    /// SSDP NT (notification type).
    Nt = 11,
    /// SSDP LOCATION URL.
    Location = 12,
    /// DICOM implementation class UID.
    DicomImplClassUid = 13,
    /// HL7 device identifier (PRT-16 / OBX-18).
    Hl7DeviceId = 14,
    /// DHCP client identifier (option 61), hex.
    DhcpClientId = 15,
    /// MUD URL (DHCP option 161 / LLDP).
    MudUrl = 16,
    /// DICOM SOP class (abstract syntax) proposed or accepted.
    DicomSopClass = 17,
}

/// The class the inventory assigns to a device.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum DeviceClass {
    /// Not enough evidence yet.
    #[default]
    Unknown = 0,
    /// CT, MR, US, CR/DX... (DICOM storage SCU of image objects).
    ImagingModality = 1,
    /// PACS / DICOM server (SCP).
    Pacs = 2,
    /// HL7 interface engine.
    Hl7Engine = 3,
    /// Bedside patient monitor.
    PatientMonitor = 4,
    /// Infusion pump.
    InfusionPump = 5,
    /// Printer.
    Printer = 6,
    /// Workstation / PC.
    Workstation = 7,
    /// Switch, router, access point.
    NetworkInfrastructure = 8,
    /// Other IoT (camera, plug, scale...).
    IotOther = 9,
}

impl DeviceClass {
    /// Stable lowercase name used in reports and JSON.
    pub fn name(&self) -> &'static str {
        match self {
            DeviceClass::Unknown => "unknown",
            DeviceClass::ImagingModality => "imaging_modality",
            DeviceClass::Pacs => "pacs",
            DeviceClass::Hl7Engine => "hl7_engine",
            DeviceClass::PatientMonitor => "patient_monitor",
            DeviceClass::InfusionPump => "infusion_pump",
            DeviceClass::Printer => "printer",
            DeviceClass::Workstation => "workstation",
            DeviceClass::NetworkInfrastructure => "network_infrastructure",
            DeviceClass::IotOther => "iot_other",
        }
    }
    /// Medical equipment: kept over others when tables are full, and judged more strictly.
    pub fn is_medical(&self) -> bool {
        matches!(
            self,
            DeviceClass::ImagingModality
                | DeviceClass::Pacs
                | DeviceClass::Hl7Engine
                | DeviceClass::PatientMonitor
                | DeviceClass::InfusionPump
        )
    }
}

/// Application protocols seen from or to a device (a bit each in [`ProtocolSet`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum Protocol {
    /// ARP.
    Arp = 0,
    /// IPv4.
    Ipv4 = 1,
    /// IPv6.
    Ipv6 = 2,
    /// DHCPv4.
    Dhcp = 3,
    /// DNS (unicast).
    Dns = 4,
    /// Multicast DNS.
    Mdns = 5,
    /// NetBIOS name service.
    Netbios = 6,
    /// LLDP.
    Lldp = 7,
    /// CDP.
    Cdp = 8,
    /// SSDP.
    Ssdp = 9,
    /// SNMP.
    Snmp = 10,
    /// HTTP/1.x.
    Http = 11,
    /// TLS.
    Tls = 12,
    /// SSH.
    Ssh = 13,
    /// DICOM as association requestor (SCU).
    DicomScu = 14,
    /// DICOM as association acceptor (SCP).
    DicomScp = 15,
    /// HL7 v2 sender.
    Hl7Sender = 16,
    /// HL7 v2 receiver (acknowledges).
    Hl7Receiver = 17,
    /// IPv6 neighbour discovery.
    Ndp = 18,
    /// ICMP / ICMPv6.
    Icmp = 19,
    /// LLMNR.
    Llmnr = 20,
    /// Telnet.
    Telnet = 21,
    /// FTP.
    Ftp = 22,
    /// Spanning tree and other switch chatter.
    Stp = 23,
    /// 802.1X EAPOL.
    Eapol = 24,
    /// NTP.
    Ntp = 25,
    /// SMB.
    Smb = 26,
    /// RDP.
    Rdp = 27,
}

impl Protocol {
    /// Every protocol, in bit order.
    pub const ALL: [Protocol; 28] = [
        Protocol::Arp,
        Protocol::Ipv4,
        Protocol::Ipv6,
        Protocol::Dhcp,
        Protocol::Dns,
        Protocol::Mdns,
        Protocol::Netbios,
        Protocol::Lldp,
        Protocol::Cdp,
        Protocol::Ssdp,
        Protocol::Snmp,
        Protocol::Http,
        Protocol::Tls,
        Protocol::Ssh,
        Protocol::DicomScu,
        Protocol::DicomScp,
        Protocol::Hl7Sender,
        Protocol::Hl7Receiver,
        Protocol::Ndp,
        Protocol::Icmp,
        Protocol::Llmnr,
        Protocol::Telnet,
        Protocol::Ftp,
        Protocol::Stp,
        Protocol::Eapol,
        Protocol::Ntp,
        Protocol::Smb,
        Protocol::Rdp,
    ];
    /// Stable lowercase name.
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::Arp => "arp",
            Protocol::Ipv4 => "ipv4",
            Protocol::Ipv6 => "ipv6",
            Protocol::Dhcp => "dhcp",
            Protocol::Dns => "dns",
            Protocol::Mdns => "mdns",
            Protocol::Netbios => "netbios",
            Protocol::Lldp => "lldp",
            Protocol::Cdp => "cdp",
            Protocol::Ssdp => "ssdp",
            Protocol::Snmp => "snmp",
            Protocol::Http => "http",
            Protocol::Tls => "tls",
            Protocol::Ssh => "ssh",
            Protocol::DicomScu => "dicom_scu",
            Protocol::DicomScp => "dicom_scp",
            Protocol::Hl7Sender => "hl7_sender",
            Protocol::Hl7Receiver => "hl7_receiver",
            Protocol::Ndp => "ndp",
            Protocol::Icmp => "icmp",
            Protocol::Llmnr => "llmnr",
            Protocol::Telnet => "telnet",
            Protocol::Ftp => "ftp",
            Protocol::Stp => "stp",
            Protocol::Eapol => "eapol",
            Protocol::Ntp => "ntp",
            Protocol::Smb => "smb",
            Protocol::Rdp => "rdp",
        }
    }
}

/// A set of [`Protocol`]s as a bit mask.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ProtocolSet(pub u32);

impl ProtocolSet {
    /// Adds one.
    pub fn insert(&mut self, p: Protocol) {
        self.0 |= 1 << (p as u8);
    }
    /// Membership.
    pub fn contains(&self, p: Protocol) -> bool {
        self.0 & (1 << (p as u8)) != 0
    }
    /// The members in bit order.
    pub fn iter(&self) -> impl Iterator<Item = Protocol> + '_ {
        Protocol::ALL.iter().copied().filter(move |p| self.contains(*p))
    }
}

/// Kinds of cleartext secret whose *presence* (never value) the tap reports.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum CleartextKind {
    /// A Telnet session (interactive login in the clear).
    Telnet = 0,
    /// FTP USER/PASS.
    FtpLogin = 1,
    /// HTTP `Authorization: Basic`.
    HttpBasic = 2,
    /// SNMP v1/v2c community string.
    SnmpCommunity = 3,
}

impl CleartextKind {
    /// Stable lowercase name.
    pub fn name(&self) -> &'static str {
        match self {
            CleartextKind::Telnet => "telnet",
            CleartextKind::FtpLogin => "ftp_login",
            CleartextKind::HttpBasic => "http_basic",
            CleartextKind::SnmpCommunity => "snmp_community",
        }
    }
}

/// What a string kept for an asset is.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StrKind {
    /// A name the device goes by.
    Name(NameSource),
    /// Software or description it volunteered.
    Software(SoftwareSource),
    /// An identity field (model, serial...).
    Info(InfoField),
    /// A DNS / mDNS / LLMNR name it looked up.
    DnsQuery,
    /// A TLS server name it asked for.
    TlsSni,
    /// An HTTP Host it asked for.
    HttpHost,
    /// Its TLS client fingerprint (JA4).
    Ja4,
    /// A DNS-SD service it announces (`instance` + `.` + `service`).
    DnsSdService,
    /// As DICOM SCU: the AE title it called.
    DicomAeCalled,
    /// As DICOM SCP: an AE title that called it.
    DicomAeCalling,
    /// As HL7 sender: its `application|facility` (MSH-3|MSH-4).
    Hl7Sending,
    /// As HL7 sender: the `application|facility` it sends to (MSH-5|MSH-6).
    Hl7Receiving,
    /// HL7 message type it sent (MSH-9).
    Hl7MessageType,
    /// HL7 version it speaks (MSH-12).
    Hl7Version,
}

impl StrKind {
    /// One byte, for compact tables: the high bits give the family, the low ones the source.
    pub fn to_u8(self) -> u8 {
        match self {
            StrKind::Name(s) => s as u8,
            StrKind::Software(s) => 0x20 | s as u8,
            StrKind::Info(f) => 0x40 | f as u8,
            StrKind::DnsQuery => 0x60,
            StrKind::TlsSni => 0x61,
            StrKind::HttpHost => 0x62,
            StrKind::Ja4 => 0x63,
            StrKind::DnsSdService => 0x64,
            StrKind::DicomAeCalled => 0x65,
            StrKind::DicomAeCalling => 0x66,
            StrKind::Hl7Sending => 0x67,
            StrKind::Hl7Receiving => 0x68,
            StrKind::Hl7MessageType => 0x69,
            StrKind::Hl7Version => 0x6a,
        }
    }

    /// Stable lowercase name of the kind's family (`name`, `software`, `info`, ...).
    pub fn family(self) -> &'static str {
        match self {
            StrKind::Name(_) => "name",
            StrKind::Software(_) => "software",
            StrKind::Info(_) => "info",
            StrKind::DnsQuery => "dns_query",
            StrKind::TlsSni => "tls_sni",
            StrKind::HttpHost => "http_host",
            StrKind::Ja4 => "ja4",
            StrKind::DnsSdService => "dnssd_service",
            StrKind::DicomAeCalled => "dicom_ae_called",
            StrKind::DicomAeCalling => "dicom_ae_calling",
            StrKind::Hl7Sending => "hl7_sending",
            StrKind::Hl7Receiving => "hl7_receiving",
            StrKind::Hl7MessageType => "hl7_message_type",
            StrKind::Hl7Version => "hl7_version",
        }
    }
}

impl NameSource {
    /// Stable lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            NameSource::Dhcp => "dhcp",
            NameSource::DhcpFqdn => "dhcp_fqdn",
            NameSource::Mdns => "mdns",
            NameSource::DnsSd => "dnssd",
            NameSource::Netbios => "netbios",
            NameSource::Lldp => "lldp",
            NameSource::Cdp => "cdp",
            NameSource::Snmp => "snmp",
            NameSource::DnsPtr => "dns_ptr",
            NameSource::Llmnr => "llmnr",
            NameSource::DicomAe => "dicom_ae",
            NameSource::Ntlm => "ntlm",
        }
    }
}

impl SoftwareSource {
    /// Stable lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            SoftwareSource::HttpUserAgent => "http_user_agent",
            SoftwareSource::HttpServer => "http_server",
            SoftwareSource::SshBanner => "ssh_banner",
            SoftwareSource::SnmpSysDescr => "snmp_sysdescr",
            SoftwareSource::LldpSysDescr => "lldp_sysdescr",
            SoftwareSource::CdpVersion => "cdp_version",
            SoftwareSource::SsdpServer => "ssdp_server",
            SoftwareSource::DhcpVendorClass => "dhcp_vendor_class",
            SoftwareSource::DicomImplVersion => "dicom_impl_version",
            SoftwareSource::Banner => "banner",
        }
    }
}

impl InfoField {
    /// Stable lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            InfoField::Manufacturer => "manufacturer",
            InfoField::Model => "model",
            InfoField::Serial => "serial",
            InfoField::HardwareRev => "hardware_rev",
            InfoField::FirmwareRev => "firmware_rev",
            InfoField::SoftwareRev => "software_rev",
            InfoField::AssetId => "asset_id",
            InfoField::ChassisId => "chassis_id",
            InfoField::PortId => "port_id",
            InfoField::SysObjectId => "sys_object_id",
            InfoField::Usn => "usn",
            InfoField::Nt => "nt",
            InfoField::Location => "location",
            InfoField::DicomImplClassUid => "dicom_impl_class_uid",
            InfoField::Hl7DeviceId => "hl7_device_id",
            InfoField::DhcpClientId => "dhcp_client_id",
            InfoField::MudUrl => "mud_url",
            InfoField::DicomSopClass => "dicom_sop_class",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_bytes16_roundtrip() {
        let a = IpAddr::V4([10, 0, 0, 1]);
        assert_eq!(IpAddr::from_bytes16(a.to_bytes16()), a);
        let b = IpAddr::V6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(IpAddr::from_bytes16(b.to_bytes16()), b);
        assert!(b.is_link_local());
    }

    #[test]
    fn protocol_bits_fit_and_are_ordered() {
        for (i, p) in Protocol::ALL.iter().enumerate() {
            assert_eq!(*p as usize, i);
        }
        assert!(Protocol::ALL.len() <= 32);
    }
}
