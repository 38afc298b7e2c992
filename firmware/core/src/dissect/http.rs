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

use super::util::{first_two, header_block, header_value, starts_with_ci};
use super::{Error, Result};
use crate::fact::{Fact, FrameCtx, Sink};
use core::ops::ControlFlow;
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
    // The first byte (the second for the three starting with P) names the one method of
    // [`METHODS`] that can match: one compare, of a known length.
    match p.first()? {
        b'G' => token(p, b"GET"),
        b'H' => token(p, b"HEAD"),
        b'D' => token(p, b"DELETE"),
        b'O' => token(p, b"OPTIONS"),
        b'C' => token(p, b"CONNECT"),
        b'T' => token(p, b"TRACE"),
        b'P' => match p.get(1)? {
            b'O' => token(p, b"POST"),
            b'U' => token(p, b"PUT"),
            b'A' => token(p, b"PATCH"),
            _ => None,
        },
        _ => None,
    }
}

/// `m` at the start of `p`, followed by a space.
#[inline(always)]
fn token<'a>(p: &'a [u8], m: &[u8]) -> Option<&'a [u8]> {
    match p.split_at_checked(m.len()) {
        Some((t, [b' ', ..])) if t == m => Some(t),
        _ => None,
    }
}

/// Dissects the first segment of an HTTP/1.x request or response.
///
/// Emits `Speaks(Http)`; for a request `HttpRequest`, `Software(HttpUserAgent)` and
/// `Cleartext(HttpBasic)`; for a response `Software(HttpServer)`.
pub fn dissect<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
    if payload.starts_with(STATUS_PREFIX) {
        super::speak(ctx, Protocol::Http, sink);
        // Only `Server` is wanted: the first non-empty one ends the scan (and the body is
        // never looked at).
        let mut server = None;
        header_block(
            payload,
            MAX_LINES,
            |b, c| lower2(b, c) == *b"se",
            |line| {
                server = header_value(line, b"server").filter(|v| !v.is_empty());
                if server.is_some() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        );
        if let Some(server) = server {
            sink.fact(
                ctx,
                &Fact::Software { mac: ctx.src_mac, text: bounded(server), source: SoftwareSource::HttpServer },
            );
        }
        return Ok(());
    }
    let method = method(payload).ok_or(Error::NotMine)?;
    super::speak(ctx, Protocol::Http, sink);
    let mut host = None;
    let mut user_agent = None;
    let mut basic = false;
    // Every header line is looked at (a later Host or User-Agent replaces an earlier one, an
    // Authorization may come last), but only by its first two bytes unless they can start a
    // wanted name (`Accept...` lines are passed over so); a header line cut by the end of the
    // segment is not.
    header_block(
        payload,
        MAX_LINES,
        |b, c| matches!(&lower2(b, c), b"ho" | b"us" | b"au" | b"pr"),
        |line| {
            // One name compare per line at most: the first byte tells them apart.
            match line.first().map_or(0, |b| b | 0x20) {
                b'h' => {
                    if let Some(v) = header_value(line, b"host") {
                        host = Some(strip_port(v)).filter(|h| !h.is_empty()).map(bounded);
                    }
                }
                b'u' => {
                    if let Some(v) = header_value(line, b"user-agent") {
                        user_agent = Some(v).filter(|v| !v.is_empty()).map(bounded);
                    }
                }
                // Only the scheme is looked at: the credential follows it and is never touched.
                b'a' => basic |= header_value(line, b"authorization").is_some_and(is_basic),
                b'p' => basic |= header_value(line, b"proxy-authorization").is_some_and(is_basic),
                _ => {}
            }
            ControlFlow::Continue(())
        },
    );
    sink.fact(ctx, &Fact::HttpRequest { method, host, user_agent });
    if let Some(ua) = user_agent {
        sink.fact(ctx, &Fact::Software { mac: ctx.src_mac, text: ua, source: SoftwareSource::HttpUserAgent });
    }
    if basic {
        sink.fact(ctx, &Fact::Cleartext { kind: CleartextKind::HttpBasic });
    }
    Ok(())
}

/// Two bytes with bit 5 set: ASCII letters in lower case (other bytes may change too: a
/// first cut, the name compare is exact).
#[inline(always)]
fn lower2(b: u8, c: u8) -> [u8; 2] {
    [b | 0x20, c | 0x20]
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
    match first_two(h, b':') {
        [Some(i), None] => h.get(..i).unwrap_or(h),
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
    fn method_is_the_first_of_methods_that_fits() {
        let slow = |p: &[u8]| METHODS.iter().find(|m| p.starts_with(m) && p.get(m.len()) == Some(&b' ')).copied();
        for m in METHODS {
            for tail in [&b" / HTTP/1.1"[..], b" ", b"", b"X ", b"\r\n"] {
                for cut in 0..=m.len() {
                    let mut p = std::vec::Vec::from(&m[..cut]);
                    p.extend_from_slice(tail);
                    assert_eq!(method(&p), slow(&p), "{p:?}");
                    if let Some(b) = p.first_mut() {
                        *b = b.to_ascii_lowercase();
                        assert_eq!(method(&p), slow(&p), "{p:?}");
                    }
                }
            }
        }
        for p in [&b"PO "[..], b"P", b"PX / x", b"G", b"", b"GETS / ", b"POSTGET / "] {
            assert_eq!(method(p), slow(p), "{p:?}");
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

    /// The facts read the plain way: the segment's LF-terminated lines split on LF, CR
    /// dropped, up to the blank one and [`MAX_LINES`] with the first, every header line split
    /// at its first colon.
    fn model(p: &[u8]) -> std::vec::Vec<std::string::String> {
        use crate::fact::collect::render;
        let ctx = crate::dissect::testutil::ctx();
        let whole = &p[..p.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)];
        let mut fields = whole
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .take(MAX_LINES)
            .take_while(|l| !l.is_empty())
            .skip(1)
            .filter_map(|l| l.iter().position(|&b| b == b':').map(|i| (&l[..i], l[i + 1..].trim_ascii())));
        let mut out = std::vec![render(&Fact::Speaks { protocol: Protocol::Http })];
        if p.starts_with(STATUS_PREFIX) {
            if let Some((_, v)) = fields.find(|(n, v)| n.eq_ignore_ascii_case(b"server") && !v.is_empty()) {
                let text = bounded(v);
                out.push(render(&Fact::Software { mac: ctx.src_mac, text, source: SoftwareSource::HttpServer }));
            }
            return out;
        }
        let Some(method) = method(p) else { return std::vec![] };
        let (mut host, mut user_agent, mut basic) = (None, None, false);
        for (n, v) in fields {
            let is = |s: &[u8]| n.eq_ignore_ascii_case(s);
            if is(b"host") {
                host = Some(strip_port(v)).filter(|h| !h.is_empty()).map(bounded);
            } else if is(b"user-agent") {
                user_agent = Some(v).filter(|v| !v.is_empty()).map(bounded);
            } else if is(b"authorization") || is(b"proxy-authorization") {
                basic |= is_basic(v);
            }
        }
        out.push(render(&Fact::HttpRequest { method, host, user_agent }));
        if let Some(text) = user_agent {
            out.push(render(&Fact::Software { mac: ctx.src_mac, text, source: SoftwareSource::HttpUserAgent }));
        }
        if basic {
            out.push(render(&Fact::Cleartext { kind: CleartextKind::HttpBasic }));
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn same_facts_as_the_plain_reading(
            resp in proptest::prelude::any::<bool>(),
            lines in proptest::collection::vec((0usize..12, 0usize..8, 0usize..5, proptest::prelude::any::<u32>()), 0..80),
        ) {
            const NAMES: [&[u8]; 12] = [b"Host", b"User-Agent", b"Authorization", b"Proxy-Authorization", b"Server",
                b"X-Authorization", b"Hosts", b"Accept", b"", b"host ", b"\rHost", b"P"];
            const VALUES: [&[u8]; 8] = [b"a.example:80", b" Basic Zm9v", b"basic\tx", b"", b"[::1]:8", b"Pump/1 (x)",
                b"\x0b\x0a", b":"];
            const EOLS: [&[u8]; 5] = [b"\r\n", b"\n", b"\r\r\n", b"\r\n\r\n", b""];
            let mut p = std::vec::Vec::from(if resp { &b"HTTP/1.1 200 OK\r\n"[..] } else { &b"GET /a HTTP/1.1\r\n"[..] });
            for (n, v, e, case) in lines {
                // Name bytes in random case.
                p.extend(NAMES[n].iter().enumerate().map(|(i, &b)| {
                    if case >> (i % 32) & 1 == 1 { b.to_ascii_lowercase() } else { b.to_ascii_uppercase() }
                }));
                p.push(b':');
                p.extend_from_slice(VALUES[v]);
                p.extend_from_slice(EOLS[e]);
            }
            proptest::prop_assert_eq!(run(&p).1.lines, model(&p));
        }

        #[test]
        fn never_panics(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400), resp in proptest::prelude::any::<bool>()) {
            let mut p = std::vec::Vec::from(if resp { &b"HTTP/1.1 200 OK\r\n"[..] } else { &b"GET / HTTP/1.1\r\n"[..] });
            p.extend_from_slice(&tail);
            let _ = run(&p);
            let _ = looks_like_http(&tail);
        }
    }
}
