//! SSDP (UPnP discovery, UDP 1900): HTTP-like text over UDP.
//!
//! Parsed: the start line (NOTIFY, M-SEARCH, or an `HTTP/1.x 200` answer to an M-SEARCH)
//! and, in announcements and answers, the SERVER, USN, NT / ST and LOCATION headers, which
//! name the device's UPnP stack and type. In M-SEARCH requests only the USER-AGENT is read:
//! the search target says what the sender looks for, not what it is.
//!
//! Deliberately not parsed: the device description XML behind LOCATION (a separate TCP
//! fetch the tap never makes), vendor headers, and anything after the blank line.

use super::util::{find_byte, starts_with_ci, trim_ws};
use super::{Error, Result};
use crate::fact::{Fact, FrameCtx, Sink};
use wardtap_proto::{InfoField, Protocol, SoftwareSource};

/// Header lines looked at, start line included; real messages have about a dozen.
const MAX_LINES: usize = 32;

/// What the start line says.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// NOTIFY, or a 200 answer to a search: the sender describes itself.
    Announce,
    /// M-SEARCH: the sender looks for others.
    Search,
}

fn kind(start: &[u8]) -> Option<Kind> {
    if starts_with_ci(start, b"NOTIFY ") {
        Some(Kind::Announce)
    } else if starts_with_ci(start, b"M-SEARCH ") {
        Some(Kind::Search)
    } else {
        // `HTTP/1.1 200 OK`: only a success says anything about the responder.
        match start {
            [b'H', b'T', b'T', b'P', b'/', b'1', b'.', _, b' ', b'2', b'0', b'0', ..] => Some(Kind::Announce),
            _ => None,
        }
    }
}

/// Splits `Name: value` at the first colon: the name as sent and the trimmed value.
fn field(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = find_byte(line, b':')?;
    let (name, rest) = line.split_at_checked(colon)?;
    Some((name, trim_ws(rest.get(1..)?)))
}

/// Dissects one SSDP datagram.
pub fn dissect<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
    // One pass over the bytes: lines end at LF (a CR before it is dropped), the block at the
    // first empty line, and at most MAX_LINES lines are looked at.
    let mut rest = Some(payload);
    let mut kind = None;
    let mac = ctx.src_mac;
    for n in 0..MAX_LINES {
        let Some(r) = rest else { break };
        let line = match find_byte(r, b'\n') {
            Some(p) => {
                rest = r.get(p.saturating_add(1)..);
                r.get(..p).unwrap_or_default()
            }
            None => {
                rest = None;
                r
            }
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if n == 0 {
            kind = Some(self::kind(line).ok_or(Error::NotMine)?);
            super::speak(ctx, Protocol::Ssdp, sink);
            continue;
        }
        let Some((name, value)) = field(line) else { continue };
        if value.is_empty() {
            continue;
        }
        let is = |want: &[u8]| name.eq_ignore_ascii_case(want);
        // Names are told apart by length first: one case-insensitive compare per line at most.
        let fact = match (kind, name.len()) {
            (Some(Kind::Search), 10) if is(b"USER-AGENT") => {
                Fact::Software { mac, text: value, source: SoftwareSource::HttpUserAgent }
            }
            (Some(Kind::Announce), 6) if is(b"SERVER") => {
                Fact::Software { mac, text: value, source: SoftwareSource::SsdpServer }
            }
            (Some(Kind::Announce), 3) if is(b"USN") => Fact::Info { mac, field: InfoField::Usn, value },
            (Some(Kind::Announce), 2) if is(b"NT") || is(b"ST") => Fact::Info { mac, field: InfoField::Nt, value },
            (Some(Kind::Announce), 8) if is(b"LOCATION") => Fact::Info { mac, field: InfoField::Location, value },
            _ => continue,
        };
        sink.fact(ctx, &fact);
    }
    if kind.is_none() {
        return Err(Error::NotMine);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::dissect::testutil::facts;
    use crate::fact::collect::Collect;

    fn run(payload: &[u8]) -> (Result<()>, Collect) {
        crate::dissect::testutil::run(dissect, payload)
    }

    #[test]
    fn tomato_router_notify() {
        let c = facts("ssdp-notify-tomato-router__suricata-verify.pcap");
        assert!(c.has("Speaks ssdp"));
        assert!(c.has("SsdpServer UPnP/Tomato 1.28.7500 MIPSR2Toastman-RT K26 USB Ext UPnP/1.0 MiniUPnPd/1.6"));
        // Header names are case-insensitive: this router sends `lOCATION`.
        assert!(c.has("Location http://192.168.1.1:7406/rootDesc.xml"));
        assert!(c.has("Nt upnp:rootdevice"));
        assert!(c.has("Usn uuid:04645c3d-e6b4-4eea-bd35-5c320c12969f::upnp:rootdevice"));
        // NTS is not NT.
        assert!(!c.has("Nt ssdp:alive"));
    }

    #[test]
    fn chrome_msearch_gives_only_user_agent() {
        let c = facts("ssdp-msearch-chrome__ndpi.pcap");
        assert!(c.has("Speaks ssdp"));
        assert!(c.has("HttpUserAgent Google Chrome/99.0.4844.74 Mac OS X"));
        // The search target is what Chrome looks for, not what it is.
        assert!(!c.has("Nt "));
        assert!(!c.has("dial-multiscreen"));
    }

    #[test]
    fn iot_devices() {
        let c = facts("iot-philips-hue-bridge__iot-sentinel.pcap");
        assert!(c.has("SsdpServer Linux/3.14.0 UPnP/1.0 IpBridge/1.9.0"));
        assert!(c.has("Location http://10.10.10.6:80/description.xml"));
        assert!(c.has("Nt urn:schemas-upnp-org:device:basic:1"));
        let c = facts("iot-wemo-switch__iot-sentinel.pcap");
        assert!(c.has("SsdpServer Unspecified, UPnP/1.0, Unspecified"));
        let c = facts("iot-dlink-camera-dcs935l__iot-sentinel.pcap");
        // Kept as sent, inner spaces included.
        assert!(c.has("SsdpServer Linux,    UPnP/1.0 DCS-935L/1.0"));
        assert!(c.has("Nt urn:schemas-upnp-org:device:DCS-935L:1"));
        assert!(c.has("Location https://10.10.10.37/HNAP1/"));
    }

    #[test]
    fn search_response_uses_st() {
        let p = b"HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:MediaRenderer:1\r\n\
                  USN: uuid:abc::urn:x\r\nServer: Linux UPnP/1.0 Monitor/2.1\r\nLOCATION:\r\n\r\nSERVER: body";
        let (r, c) = run(p);
        assert_eq!(r, Ok(()));
        assert!(c.has("Nt urn:schemas-upnp-org:device:MediaRenderer:1"));
        assert!(c.has("Usn uuid:abc::urn:x"));
        assert!(c.has("SsdpServer Linux UPnP/1.0 Monitor/2.1"));
        assert!(!c.has("Location"), "empty values are dropped");
        assert!(!c.has("body"), "nothing after the blank line is read");
    }

    #[test]
    fn not_ssdp() {
        for p in [&b""[..], b"\r\n", b"GET / HTTP/1.1\r\n", b"HTTP/1.1 404 Not Found\r\nSERVER: x\r\n", b"\x00\x01\x02"]
        {
            let (r, c) = run(p);
            assert_eq!(r, Err(Error::NotMine));
            assert!(c.lines.is_empty());
        }
    }

    #[test]
    fn header_count_is_bounded() {
        let mut p = std::vec::Vec::from(&b"NOTIFY * HTTP/1.1\r\n"[..]);
        for _ in 0..1000 {
            p.extend_from_slice(b"X: y\r\n");
        }
        p.extend_from_slice(b"SERVER: too-late\r\n\r\n");
        let (r, c) = run(&p);
        assert_eq!(r, Ok(()));
        assert_eq!(c.lines.len(), 1);
    }

    #[test]
    fn bare_lf_and_binary_junk() {
        let (r, c) = run(b"NOTIFY * HTTP/1.1\nSERVER: a/1\nNT:\xff\xfe\n\n");
        assert_eq!(r, Ok(()));
        assert!(c.has("SsdpServer a/1"));
        assert_eq!(c.lines.len(), 3);
    }
}
