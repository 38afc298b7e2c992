//! SSDP (UPnP discovery, UDP 1900): HTTP-like text over UDP.
//!
//! Parsed: the start line (NOTIFY, M-SEARCH, or an `HTTP/1.x 200` answer to an M-SEARCH)
//! and, in announcements and answers, the SERVER, USN, NT / ST and LOCATION headers, which
//! name the device's UPnP stack and type. In M-SEARCH requests only the USER-AGENT is read:
//! the search target says what the sender looks for, not what it is.
//!
//! Deliberately not parsed: the device description XML behind LOCATION (a separate TCP
//! fetch the tap never makes), vendor headers, and anything after the blank line.

use super::util::{header_block, header_value};
use super::{Error, Result};
use crate::fact::{Fact, FrameCtx, Sink};
use core::ops::ControlFlow;
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

/// What the start line at the front of `p` says. Read from the payload's first twelve bytes
/// as two words, letters case-folded by setting bit 5 where the pattern has a letter.
fn kind(p: &[u8]) -> Option<Kind> {
    let head = match p.first_chunk::<12>() {
        Some(h) => *h,
        None => {
            // A short datagram, padded: no pattern byte is a NUL.
            let mut h = [0u8; 12];
            for (d, s) in h.iter_mut().zip(p) {
                *d = *s;
            }
            h
        }
    };
    let w = head.first_chunk::<8>().map_or(0, |w| u64::from_le_bytes(*w));
    let tail = head.last_chunk::<4>().map_or(0, |t| u32::from_le_bytes(*t));
    // `NOTIFY ` (seven bytes), `M-SEARCH ` (nine), without regard to case.
    const NOTIFY: u64 = u64::from_le_bytes(*b"notify \0");
    const NOTIFY_FOLD: u64 = u64::from_le_bytes([0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0, 0]);
    const SEVEN: u64 = u64::from_le_bytes([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0]);
    const M_SEARCH: u64 = u64::from_le_bytes(*b"m-search");
    const M_SEARCH_FOLD: u64 = u64::from_le_bytes([0x20, 0, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20]);
    // `HTTP/1.x 200`, case-sensitive: only a success says anything about the responder.
    const HTTP_1: u64 = u64::from_le_bytes(*b"HTTP/1.\0");
    const SP_200: u32 = u32::from_le_bytes(*b" 200");
    if (w | NOTIFY_FOLD) & SEVEN == NOTIFY {
        Some(Kind::Announce)
    } else if w | M_SEARCH_FOLD == M_SEARCH && tail & 0xff == u32::from(b' ') {
        Some(Kind::Search)
    } else if w & SEVEN == HTTP_1 && tail == SP_200 && w >> 56 != u64::from(b'\n') {
        // The minor version byte must not end the start line.
        Some(Kind::Announce)
    } else {
        None
    }
}

/// The trimmed value of `line` if it is `name: value` (`name` in lower case, matched
/// without regard to case) and the value is not empty (an empty one says nothing).
#[inline(always)]
fn value<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    header_value(line, name).filter(|v| !v.is_empty())
}

/// Dissects one SSDP datagram.
pub fn dissect<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
    let kind = kind(payload).ok_or(Error::NotMine)?;
    super::speak(ctx, Protocol::Ssdp, sink);
    // First bytes (ASCII lower case, as bits from `a`) of the names read: other lines are
    // passed over unread.
    let first: u32 = match kind {
        Kind::Announce => 1 << (b's' - b'a') | 1 << (b'u' - b'a') | 1 << (b'n' - b'a') | 1 << (b'l' - b'a'),
        Kind::Search => 1 << (b'u' - b'a'),
    };
    // A byte 0x40..=0x7f, bit 5 set, is one of 0x60..=0x7f: `a` is 1 then.
    let wanted = |b: u8, _| b & 0xc0 == 0x40 && first >> ((b & 0x1f).wrapping_sub(1) & 0x1f) & 1 != 0;
    let mac = ctx.src_mac;
    let mut on_line = |line: &[u8]| {
        // Told apart by the first byte: one case-insensitive compare per line at most.
        let fact = match (kind, line.first().map_or(0, |b| b | 0x20)) {
            (Kind::Search, b'u') => value(line, b"user-agent").map(|text| Fact::Software {
                mac,
                text,
                source: SoftwareSource::HttpUserAgent,
            }),
            (Kind::Announce, b's') => match value(line, b"server") {
                Some(text) => Some(Fact::Software { mac, text, source: SoftwareSource::SsdpServer }),
                None => value(line, b"st").map(|value| Fact::Info { mac, field: InfoField::Nt, value }),
            },
            (Kind::Announce, b'u') => value(line, b"usn").map(|value| Fact::Info { mac, field: InfoField::Usn, value }),
            (Kind::Announce, b'n') => value(line, b"nt").map(|value| Fact::Info { mac, field: InfoField::Nt, value }),
            (Kind::Announce, b'l') => {
                value(line, b"location").map(|value| Fact::Info { mac, field: InfoField::Location, value })
            }
            _ => None,
        };
        if let Some(f) = fact {
            sink.fact(ctx, &f);
        }
    };
    // One pass over the bytes: lines end at LF (a CR before it is dropped), the block at the
    // first empty line, and at most MAX_LINES lines are looked at, the start line included.
    let last = header_block(payload, MAX_LINES, wanted, |line| {
        on_line(line);
        ControlFlow::Continue(())
    });
    // The datagram's last line needs no LF.
    if let Some(line) = last {
        on_line(line);
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
    fn start_line_kinds() {
        for (p, k) in [
            (&b"NOTIFY "[..], Some(Kind::Announce)),
            (b"nOtIfY * HTTP/1.1", Some(Kind::Announce)),
            (b"M-SEARCH ", Some(Kind::Search)),
            (b"m-search * HTTP/1.1\r\n", Some(Kind::Search)),
            (b"HTTP/1.1 200 OK", Some(Kind::Announce)),
            (b"HTTP/1.0 200", Some(Kind::Announce)),
            (b"HTTP/1.\r 200 OK", Some(Kind::Announce)),
            // The start line would end before the status.
            (b"HTTP/1.\n 200 OK", None),
            (b"http/1.1 200 OK", None),
            (b"HTTP/1.1 2000", Some(Kind::Announce)),
            (b"HTTP/1.1 404 Not Found", None),
            (b"NOTIFY", None),
            (b"NOTIFY\r\n", None),
            (b"M-SEARCH", None),
            (b"M_SEARCH *", None),
            (b"NOTIFY\t*", None),
            (b"", None),
        ] {
            assert!(kind(p) == k, "{p:?}");
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

    /// The facts read the plain way: lines split on LF (the last one needs none), CR
    /// dropped, up to the blank one and [`MAX_LINES`] with the start line, each split at its
    /// first colon.
    fn model(p: &[u8]) -> (Result<()>, std::vec::Vec<std::string::String>) {
        use crate::fact::collect::render;
        let mac = crate::dissect::testutil::ctx().src_mac;
        let mut lines = p
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .take(MAX_LINES)
            .take_while(|l| !l.is_empty());
        let Some(kind) = lines.next().and_then(kind) else { return (Err(Error::NotMine), std::vec![]) };
        let mut out = std::vec![render(&Fact::Speaks { protocol: Protocol::Ssdp })];
        for l in lines {
            let Some(i) = l.iter().position(|&b| b == b':') else { continue };
            let (n, v) = (&l[..i], l[i + 1..].trim_ascii());
            let is = |s: &[u8]| n.eq_ignore_ascii_case(s);
            let f = match kind {
                _ if v.is_empty() => continue,
                Kind::Search if is(b"user-agent") => {
                    Fact::Software { mac, text: v, source: SoftwareSource::HttpUserAgent }
                }
                Kind::Search => continue,
                _ if is(b"server") => Fact::Software { mac, text: v, source: SoftwareSource::SsdpServer },
                _ if is(b"usn") => Fact::Info { mac, field: InfoField::Usn, value: v },
                _ if is(b"nt") || is(b"st") => Fact::Info { mac, field: InfoField::Nt, value: v },
                _ if is(b"location") => Fact::Info { mac, field: InfoField::Location, value: v },
                _ => continue,
            };
            out.push(render(&f));
        }
        (Ok(()), out)
    }

    proptest::proptest! {
        #[test]
        fn same_facts_as_the_plain_reading(
            start in 0usize..4,
            lines in proptest::collection::vec((0usize..13, 0usize..6, 0usize..5, proptest::prelude::any::<u32>()), 0..40),
        ) {
            const STARTS: [&[u8]; 4] = [b"NOTIFY * HTTP/1.1", b"M-SEARCH * HTTP/1.1", b"HTTP/1.1 200 OK", b"HTTP/1.1 404 No"];
            const NAMES: [&[u8]; 13] = [b"SERVER", b"USN", b"NT", b"ST", b"LOCATION", b"USER-AGENT", b"NTS", b"S", b"",
                b"Servers", b"\rNT", b"LOCATION ", b"u"];
            const VALUES: [&[u8]; 6] = [b"Linux/1 UPnP/1.0 x/2", b" uuid:1::upnp:rootdevice ", b"", b"\x0b\x0a", b":", b"\t"];
            const EOLS: [&[u8]; 5] = [b"\r\n", b"\n", b"\r\r\n", b"\r\n\r\n", b"\r"];
            let mut p = std::vec::Vec::from(STARTS[start]);
            p.extend_from_slice(b"\r\n");
            for (n, v, e, case) in lines {
                p.extend(NAMES[n].iter().enumerate().map(|(i, &b)| {
                    if case >> (i % 32) & 1 == 1 { b.to_ascii_lowercase() } else { b }
                }));
                p.push(b':');
                p.extend_from_slice(VALUES[v]);
                p.extend_from_slice(EOLS[e]);
            }
            let (r, c) = run(&p);
            proptest::prop_assert_eq!((r, c.lines), model(&p));
        }
    }

    #[test]
    fn bare_lf_and_binary_junk() {
        let (r, c) = run(b"NOTIFY * HTTP/1.1\nSERVER: a/1\nNT:\xff\xfe\n\n");
        assert_eq!(r, Ok(()));
        assert!(c.has("SsdpServer a/1"));
        assert_eq!(c.lines.len(), 3);
    }
}
