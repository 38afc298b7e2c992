//! HTTP/1.x: the request or status line and the header block of the first segment of a
//! direction.
//!
//! Parsed: the request method, `Host` (without its port), `User-Agent`, the presence of
//! `Authorization: Basic` / `Proxy-Authorization: Basic` (reported as
//! [`CleartextKind::HttpBasic`]; the credential itself is never read past its scheme), and a
//! response's `Server` header.
//!
//! Deliberately not parsed: the request target (URLs carry query strings with serial numbers,
//! tokens and sometimes patient identifiers), cookies, bodies, chunking, HTTP/2 and anything
//! after the first segment. A header line cut by the end of the segment is ignored rather than
//! reported half.

use super::util::{header_lines, header_value, starts_with_ci};
use super::{Error, Result};
use crate::fact::{Fact, FrameCtx, Sink};
use wardtap_proto::{CleartextKind, Protocol, SoftwareSource};

/// Request methods recognised by [`looks_like_http`] (RFC 9110 and PATCH), case-sensitive.
pub const METHODS: [&[u8]; 9] =
    [b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE"];

/// Header lines looked at, the request/status line included.
pub const MAX_LINES: usize = 64;

/// Longest header value reported (longer ones are cut, never rejected).
pub const MAX_VALUE: usize = 512;

/// Prefix of every HTTP/1.x status line.
const STATUS_PREFIX: &[u8] = b"HTTP/1.";

/// Cheap content test: a known request method followed by a space, or an HTTP/1.x status line.
pub fn looks_like_http(p: &[u8]) -> bool {
    p.starts_with(STATUS_PREFIX) || method(p).is_some()
}

/// The method token at the start of `p`, if it is a known one followed by a space.
fn method(p: &[u8]) -> Option<&[u8]> {
    METHODS.iter().find(|m| p.starts_with(m) && p.get(m.len()) == Some(&b' ')).and_then(|m| p.get(..m.len()))
}

/// Dissects the first segment of an HTTP/1.x request or response.
///
/// Emits `Speaks(Http)`; for a request `HttpRequest`, `Software(HttpUserAgent)` and
/// `Cleartext(HttpBasic)`; for a response `Software(HttpServer)`.
pub fn dissect<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
    if payload.starts_with(STATUS_PREFIX) {
        super::speak(ctx, Protocol::Http, sink);
        for line in headers(payload) {
            if let Some(server) = header_value(line, b"server").filter(|v| !v.is_empty()) {
                sink.fact(
                    ctx,
                    &Fact::Software { mac: ctx.src_mac, text: bounded(server), source: SoftwareSource::HttpServer },
                );
                break;
            }
        }
        return Ok(());
    }
    let method = method(payload).ok_or(Error::NotMine)?;
    super::speak(ctx, Protocol::Http, sink);
    let mut host = None;
    let mut user_agent = None;
    let mut basic = false;
    for line in headers(payload) {
        if let Some(v) = header_value(line, b"host") {
            host = Some(strip_port(v)).filter(|h| !h.is_empty()).map(bounded);
        } else if let Some(v) = header_value(line, b"user-agent") {
            user_agent = Some(v).filter(|v| !v.is_empty()).map(bounded);
        } else if let Some(v) =
            header_value(line, b"authorization").or_else(|| header_value(line, b"proxy-authorization"))
        {
            // Only the scheme is looked at: the credential follows it and is never touched.
            basic |= is_basic(v);
        }
    }
    sink.fact(ctx, &Fact::HttpRequest { method, host, user_agent });
    if let Some(ua) = user_agent {
        sink.fact(ctx, &Fact::Software { mac: ctx.src_mac, text: ua, source: SoftwareSource::HttpUserAgent });
    }
    if basic {
        sink.fact(ctx, &Fact::Cleartext { kind: CleartextKind::HttpBasic });
    }
    Ok(())
}

/// The header lines after the request/status line, only those the segment holds whole
/// (terminated by LF), at most [`MAX_LINES`] lines in all.
fn headers(payload: &[u8]) -> impl Iterator<Item = &[u8]> {
    let whole = payload.iter().rposition(|&b| b == b'\n').and_then(|i| payload.get(..=i)).unwrap_or(&[]);
    header_lines(whole, MAX_LINES).skip(1)
}

/// `Basic` auth scheme (case-insensitive, RFC 9110 §11.1) followed by whitespace.
fn is_basic(v: &[u8]) -> bool {
    starts_with_ci(v, b"basic") && matches!(v.get(5), Some(b' ' | b'\t'))
}

/// `host[:port]` / `[v6]:port` without the port.
fn strip_port(h: &[u8]) -> &[u8] {
    if h.first() == Some(&b'[') {
        // IPv6 literal: keep the brackets, drop what follows the closing one.
        return match h.iter().position(|&b| b == b']') {
            Some(i) => h.get(..=i).unwrap_or(h),
            None => h,
        };
    }
    let mut colons = h.iter().enumerate().filter(|&(_, &b)| b == b':');
    match (colons.next(), colons.next()) {
        (Some((i, _)), None) => h.get(..i).unwrap_or(h),
        // No port, or a bare IPv6 address (not valid in Host, but not ours to split).
        _ => h,
    }
}

/// At most [`MAX_VALUE`] bytes.
fn bounded(v: &[u8]) -> &[u8] {
    v.get(..MAX_VALUE).unwrap_or(v)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::dissect::testutil::facts;
    use crate::fact::collect::Collect;

    fn run(p: &[u8]) -> (Result<()>, Collect) {
        crate::dissect::testutil::run(dissect, p)
    }

    #[test]
    fn sniffing() {
        for p in [&b"GET / HTTP/1.1\r\n"[..], b"POST /x HTTP/1.0", b"OPTIONS * HTTP/1.1", b"CONNECT a:443 HTTP/1.1"] {
            assert!(looks_like_http(p), "{p:?}");
        }
        assert!(looks_like_http(b"HTTP/1.1 200 OK\r\n"));
        for p in [&b"GETX / HTTP/1.1"[..], b"get / HTTP/1.1", b"GET", b"HTTP/2 200", b"", b"SSH-2.0-x", b"USER a"] {
            assert!(!looks_like_http(p), "{p:?}");
        }
    }

    #[test]
    fn wget_request_and_apache_response() {
        let c = facts("http-get-wget__zeek.pcap");
        assert!(c.has("HttpRequest GET host=bro.org ua=Wget/1.14 (darwin12.2.0)"), "{:?}", c.lines);
        assert!(c.has("HttpUserAgent Wget/1.14 (darwin12.2.0)"));
        assert!(c.has("HttpServer Apache/2.4.3 (Fedora)"));
        assert!(c.has("Speaks http"));
        assert!(!c.has("Cleartext"));
    }

    #[test]
    fn basic_auth_is_flagged_never_kept() {
        let c = facts("http-basicauth-cleartext__arkime.pcap");
        assert!(c.has("Cleartext HttpBasic"), "{:?}", c.lines);
        // Host keeps its name but not its port.
        assert!(c.has("HttpRequest GET host=10.000.000.001 ua=Mozilla/5.0 (Windows NT 5.1; rv:32.0)"));
        assert!(c.has("HttpServer cpsrvd/11.44.1.19"));
        for secret in ["userrrrr", "passworddddd", "dXNlcnJycnI6cGFzc3dvcmRkZGRk", "dXNlcnJycnI", "cGFzc3dvcmRkZGRk"] {
            assert!(!c.lines.iter().any(|l| l.contains(secret)), "{secret} leaked");
        }
    }

    #[test]
    fn iot_scales() {
        let c = facts("iot-withings-scale__iot-sentinel.pcap");
        assert!(c.has("HttpRequest POST host=scalews.withings.net ua=Withings UserAgent"), "{:?}", c.lines);
        assert!(c.has("HttpUserAgent Withings UserAgent"));
        assert!(c.has("HttpServer Apache"));
        // The Aria sends its request line alone in the first segment: method only.
        let c = facts("iot-fitbit-aria-scale__iot-sentinel.pcap");
        assert!(c.has("HttpRequest GET host= ua="), "{:?}", c.lines);
        assert!(c.has("HttpRequest POST host= ua="));
        // The serial number and token in the request target are never reported.
        assert!(!c.lines.iter().any(|l| l.contains("20F85ECA9152") || l.contains("DPcheC1cFX7slXmno84l")));
    }

    #[test]
    fn request_headers_by_hand() {
        let (r, c) = run(b"PUT /a HTTP/1.1\r\nhOsT: [fe80::1]:8080\r\nuser-agent:  Pump/2.0 \r\n\
            Proxy-Authorization: bAsIc\tZm9vOmJhcg==\r\n\r\nbody");
        assert_eq!(r, Ok(()));
        assert_eq!(
            c.lines,
            [
                "Speaks http",
                "HttpRequest PUT host=[fe80::1] ua=Pump/2.0",
                "Software 02:00:00:00:00:01 HttpUserAgent Pump/2.0",
                "Cleartext HttpBasic"
            ]
        );
    }

    #[test]
    fn other_schemes_and_lookalikes_are_not_basic() {
        for h in [
            "Authorization: Bearer abc",
            "Authorization: Digest username=x",
            "Authorization: Basicx",
            "X-Authorization: Basic a",
        ] {
            let p = std::format!("GET / HTTP/1.1\r\n{h}\r\n\r\n");
            let (_, c) = run(p.as_bytes());
            assert!(!c.has("Cleartext"), "{h}");
        }
    }

    #[test]
    fn cut_header_line_is_ignored() {
        let (r, c) = run(b"GET / HTTP/1.1\r\nHost: a.example:80\r\nUser-Agent: Moz");
        assert_eq!(r, Ok(()));
        assert!(c.has("HttpRequest GET host=a.example ua="), "{:?}", c.lines);
        assert!(!c.has("Software"));
        // Request line alone, unterminated.
        let (r, c) = run(b"DELETE /x");
        assert_eq!(r, Ok(()));
        assert!(c.has("HttpRequest DELETE host= ua="));
    }

    #[test]
    fn headers_after_blank_line_or_past_the_bound_are_not_read() {
        let (_, c) = run(b"GET / HTTP/1.1\r\n\r\nHost: body\r\nAuthorization: Basic x\r\n");
        assert!(c.has("HttpRequest GET host= ua="));
        assert!(!c.has("Cleartext"));
        let mut p = std::vec::Vec::from(&b"GET / HTTP/1.1\r\n"[..]);
        for _ in 0..MAX_LINES {
            p.extend_from_slice(b"X: y\r\n");
        }
        p.extend_from_slice(b"Host: late\r\n\r\n");
        let (_, c) = run(&p);
        assert!(!c.has("late"));
    }

    #[test]
    fn odd_hosts_and_long_values() {
        assert_eq!(strip_port(b"a:1"), b"a");
        assert_eq!(strip_port(b"a"), b"a");
        assert_eq!(strip_port(b"::1"), b"::1");
        assert_eq!(strip_port(b"[::1"), b"[::1");
        assert_eq!(strip_port(b":"), b"");
        let (_, c) = run(b"GET / HTTP/1.1\r\nHost: :80\r\nUser-Agent:\r\n\r\n");
        assert!(c.has("HttpRequest GET host= ua="));
        assert!(!c.has("Software"));
        let mut p = std::vec::Vec::from(&b"HTTP/1.0 200 OK\nServer: "[..]);
        p.extend(core::iter::repeat_n(b'x', 2000));
        p.extend_from_slice(b"\n\n");
        let (r, c) = run(&p);
        assert_eq!(r, Ok(()));
        assert_eq!(c.lines[1].matches('x').count(), MAX_VALUE);
    }

    #[test]
    fn not_http() {
        assert_eq!(run(b"HELLO world").0, Err(Error::NotMine));
        assert_eq!(run(b"").0, Err(Error::NotMine));
        let (r, c) = run(b"HTTP/1.1 200 OK");
        assert_eq!(r, Ok(()));
        assert_eq!(c.lines, ["Speaks http"]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400), resp in proptest::prelude::any::<bool>()) {
            let mut p = std::vec::Vec::from(if resp { &b"HTTP/1.1 200 OK\r\n"[..] } else { &b"GET / HTTP/1.1\r\n"[..] });
            p.extend_from_slice(&tail);
            let _ = run(&p);
            let _ = looks_like_http(&tail);
        }
    }
}
