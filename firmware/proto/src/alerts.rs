//! Alerts, the connection-point ledger and the outbound policy: what the tap judges and
//! what people tell it is allowed.

use crate::records::{Direction, STRING_LEN};
use crate::types::*;
use serde::{Deserialize, Serialize};

/// Evidence text length in an alert.
pub const ALERT_EVIDENCE_LEN: usize = 96;

/// What an alert is about.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum AlertKind {
    /// A device reached an external endpoint that neither baseline nor policy allows.
    UnexpectedOutbound = 0,
    /// A DNS lookup of a name outside baseline and policy.
    UnknownDomain = 1,
    /// A device not seen before appeared on the segment (after learning).
    NewDevice = 2,
    /// An IP claimed by two MACs, or a MAC flip-flopping between addresses (ARP spoofing).
    AddressConflict = 3,
    /// One source reached many hosts or many ports within a window.
    Scan = 4,
    /// Many short, refused or reset sessions from one source to authentication services.
    FailedLogins = 5,
    /// Cleartext management or credentials (Telnet, FTP login, HTTP Basic, SNMP community).
    Cleartext = 6,
    /// An external address reached a remote-access service on a local device.
    InboundRemoteAccess = 7,
    /// A medical-class device talked to the internet.
    MedicalInternet = 8,
}

impl AlertKind {
    /// Every kind, in order.
    pub const ALL: [AlertKind; 9] = [
        AlertKind::UnexpectedOutbound,
        AlertKind::UnknownDomain,
        AlertKind::NewDevice,
        AlertKind::AddressConflict,
        AlertKind::Scan,
        AlertKind::FailedLogins,
        AlertKind::Cleartext,
        AlertKind::InboundRemoteAccess,
        AlertKind::MedicalInternet,
    ];
    /// Stable lowercase name.
    pub fn name(&self) -> &'static str {
        match self {
            AlertKind::UnexpectedOutbound => "unexpected_outbound",
            AlertKind::UnknownDomain => "unknown_domain",
            AlertKind::NewDevice => "new_device",
            AlertKind::AddressConflict => "address_conflict",
            AlertKind::Scan => "scan",
            AlertKind::FailedLogins => "failed_logins",
            AlertKind::Cleartext => "cleartext",
            AlertKind::InboundRemoteAccess => "inbound_remote_access",
            AlertKind::MedicalInternet => "medical_internet",
        }
    }
}

/// How urgent.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum Severity {
    /// For the record.
    Info = 0,
    /// Look when convenient.
    Low = 1,
    /// Look today.
    Medium = 2,
    /// Look now.
    High = 3,
    /// Act now.
    Critical = 4,
}

impl Severity {
    /// Stable lowercase name.
    pub fn name(&self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One alert from the tap's ring.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AlertRecord {
    /// Sequence number, increasing from 1; gaps mean overflow (counted).
    pub seq: u32,
    /// When it was first raised, µs since the epoch.
    pub time: u64,
    /// When it was last repeated, µs since the epoch.
    pub last_time: u64,
    /// Severity.
    pub severity: Severity,
    /// Kind.
    pub kind: AlertKind,
    /// The local device concerned.
    pub device: Mac,
    /// The device's address in the event, if any.
    pub device_ip: Option<IpAddr>,
    /// The other end, if any.
    pub peer: Option<IpAddr>,
    /// Transport of the event.
    pub transport: Transport,
    /// Port of the event (the service port), 0 if none.
    pub port: u16,
    /// Times it happened (repeats folded into one record, rate-limited).
    pub count: u32,
    /// Acknowledged by the host.
    pub acknowledged: bool,
    /// What was seen: the DNS name or SNI that led there, the protocol, thresholds crossed.
    pub evidence: Text<ALERT_EVIDENCE_LEN>,
}

/// One connection point to outside the segment (the health ministry's list of vendor and
/// internet connections).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LedgerRecord {
    /// The local device.
    pub device: Mac,
    /// The external endpoint.
    pub endpoint: IpAddr,
    /// The DNS name or TLS SNI that led there, when one was seen.
    pub name: Text<STRING_LEN>,
    /// Transport.
    pub transport: Transport,
    /// Service port.
    pub port: u16,
    /// Who initiated: `Outbound` = the device reached out.
    pub direction: Direction,
    /// First seen, seconds since the epoch.
    pub first_seen: u32,
    /// Last seen, seconds since the epoch.
    pub last_seen: u32,
    /// Bytes both ways.
    pub bytes: u64,
    /// Frames both ways.
    pub frames: u32,
    /// Allowed by the policy or learned in the baseline.
    pub allowed: bool,
}

/// Which devices a policy rule covers.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Scope {
    /// Every device.
    Any,
    /// Devices of one class.
    Class(DeviceClass),
    /// One device.
    Mac(Mac),
}

/// What a policy rule allows.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Allow {
    /// Any address in this network (`addr`/`prefix`), any port.
    Network {
        /// Network address (IPv4 mapped into 16 bytes).
        addr: [u8; 16],
        /// Prefix length over the 16 bytes (IPv4 /24 is 120).
        prefix: u8,
    },
    /// A DNS name; `*.example.org` covers every name below example.org (not itself).
    Domain(Text<STRING_LEN>),
    /// A destination port on any address.
    Port {
        /// Transport.
        transport: Transport,
        /// Port.
        port: u16,
    },
}

/// One line of the policy file, as the host hands it to the core.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PolicyRule {
    /// Who.
    pub scope: Scope,
    /// What.
    pub allow: Allow,
}

/// Detection thresholds (config; defaults in [`Thresholds::DEFAULT`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Thresholds {
    /// Window for scan and failed-login counting, seconds.
    pub window_secs: u32,
    /// Distinct hosts from one source within the window that make a scan.
    pub scan_hosts: u16,
    /// Distinct ports on one host within the window that make a scan.
    pub scan_ports: u16,
    /// Failed sessions (refused, reset, or short) to authentication services within the window.
    pub failed_logins: u16,
    /// Minimum seconds between two repeats of the same (kind, device, peer) alert record update.
    pub repeat_secs: u32,
}

impl Thresholds {
    /// Defaults sized for a ward segment.
    pub const DEFAULT: Thresholds =
        Thresholds { window_secs: 60, scan_hosts: 32, scan_ports: 24, failed_logins: 10, repeat_secs: 300 };
}

impl Default for Thresholds {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_and_ledger_records_fit_a_message() {
        let mut buf = [0u8; crate::MAX_MESSAGE_LEN];
        let mut ev = Text::new();
        while ev.push(0xff).is_ok() {}
        let a = AlertRecord {
            seq: u32::MAX,
            time: u64::MAX,
            last_time: u64::MAX,
            severity: Severity::Critical,
            kind: AlertKind::MedicalInternet,
            device: Mac([0xff; 6]),
            device_ip: Some(IpAddr::V6([0xff; 16])),
            peer: Some(IpAddr::V6([0xff; 16])),
            transport: Transport::Other(255),
            port: u16::MAX,
            count: u32::MAX,
            acknowledged: true,
            evidence: ev,
        };
        let n = postcard::to_slice(&a, &mut buf).unwrap().len();
        assert!(n < 256, "{n}");
        let mut name = Text::new();
        while name.push(0xff).is_ok() {}
        let l = LedgerRecord {
            device: Mac([0xff; 6]),
            endpoint: IpAddr::V6([0xff; 16]),
            name: name.clone(),
            transport: Transport::Other(255),
            port: u16::MAX,
            direction: Direction::Inbound,
            first_seen: u32::MAX,
            last_seen: u32::MAX,
            bytes: u64::MAX,
            frames: u32::MAX,
            allowed: true,
        };
        assert!(postcard::to_slice(&l, &mut buf).unwrap().len() < 160);
        let r = PolicyRule { scope: Scope::Mac(Mac([0xff; 6])), allow: Allow::Domain(name) };
        assert!(postcard::to_slice(&r, &mut buf).unwrap().len() < 80);
    }
}
