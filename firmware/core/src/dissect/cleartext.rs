//! FTP control (TCP 21) and Telnet (TCP 23): protocols whose logins cross the wire in the
//! clear. Only the first data segment of each direction is seen.
//!
//! FTP server: the first reply line (RFC 959 §4.2, `220 <text>` or `220-<text>` for a
//! multi-line greeting); the text of a `220` greeting is the server's banner, reported
//! without its reply code. FTP client: the command verb only; `USER` or `PASS` means a login
//! is being sent in the clear, reported as [`CleartextKind::FtpLogin`]. The argument (user
//! name, password) is never read. `AUTH TLS` and other commands are FTP and nothing more.
//!
//! Telnet: every byte may be IAC negotiation or keystrokes, so nothing is parsed; the client
//! side (towards port 23) is reported as a cleartext session.

use super::{Error, Result};
use crate::fact::{Fact, FrameCtx, Sink};
use wardtap_proto::{CleartextKind, Protocol, SoftwareSource};

/// FTP control port.
pub const FTP_PORT: u16 = 21;
/// Telnet port.
pub const TELNET_PORT: u16 = 23;
/// Longest FTP banner text reported (longer lines are cut).
pub const MAX_BANNER: usize = 255;

/// FTP reply: `ddd` then SP (last line) or `-` (more lines follow).
mod reply {
    use core::ops::Range;
    /// Three-digit reply code.
    pub const CODE: Range<usize> = 0..3;
    /// SP or `-`.
    pub const SEP: usize = 3;
    /// Text start.
    pub const TEXT: usize = 4;
}

/// Dissects the first segment of an FTP control or Telnet connection direction, chosen by port.
pub fn dissect<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
    let ip = ctx.ip.ok_or(Error::NotMine)?;
    if ip.sport == TELNET_PORT || ip.dport == TELNET_PORT {
        super::speak(ctx, Protocol::Telnet, sink);
        if ip.dport == TELNET_PORT {
            sink.fact(ctx, &Fact::Cleartext { kind: CleartextKind::Telnet });
        }
        Ok(())
    } else if ip.sport == FTP_PORT {
        ftp_server(ctx, payload, sink)
    } else if ip.dport == FTP_PORT {
        ftp_client(ctx, payload, sink)
    } else {
        Err(Error::NotMine)
    }
}

/// First reply of an FTP server: any well-formed reply line says FTP; a `220` carries the banner.
fn ftp_server<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
    let code = payload.get(reply::CODE).ok_or(Error::NotMine)?;
    let sep = payload.get(reply::SEP).copied();
    if !code.iter().all(u8::is_ascii_digit) || !matches!(sep, Some(b' ' | b'-')) {
        return Err(Error::NotMine);
    }
    super::speak(ctx, Protocol::Ftp, sink);
    if code != b"220" {
        return Ok(());
    }
    let rest = payload.get(reply::TEXT..).unwrap_or(&[]);
    let window = rest.get(..MAX_BANNER).unwrap_or(rest);
    let line = match window.iter().position(|&b| b == b'\r' || b == b'\n') {
        Some(end) => window.get(..end).unwrap_or(window),
        // Cut by the bound: report what fits. Cut by the segment end: withhold half a line.
        None if rest.len() > MAX_BANNER => window,
        None => return Err(Error::Truncated),
    };
    if line.iter().any(u8::is_ascii_control) {
        return Err(Error::Malformed);
    }
    let text = line.trim_ascii();
    if !text.is_empty() {
        sink.fact(ctx, &Fact::Software { mac: ctx.src_mac, text, source: SoftwareSource::Banner });
    }
    Ok(())
}

/// First command of an FTP client: a 3-4 letter verb then SP or end of line.
fn ftp_client<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
    let len = payload.iter().take(5).position(|b| !b.is_ascii_alphabetic()).ok_or(Error::NotMine)?;
    let verb = payload.get(..len).ok_or(Error::NotMine)?;
    if !(3..=4).contains(&len) || !matches!(payload.get(len), Some(b' ' | b'\r' | b'\n')) {
        return Err(Error::NotMine);
    }
    super::speak(ctx, Protocol::Ftp, sink);
    if verb.eq_ignore_ascii_case(b"USER") || verb.eq_ignore_ascii_case(b"PASS") {
        // The argument (user name / password) is never looked at.
        sink.fact(ctx, &Fact::Cleartext { kind: CleartextKind::FtpLogin });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::dissect::testutil::{ctx, facts};
    use crate::fact::collect::Collect;
    use crate::fact::IpCtx;
    use wardtap_proto::{IpAddr, Transport};

    fn run(sport: u16, dport: u16, p: &[u8]) -> (Result<()>, Collect) {
        let mut cx = ctx();
        cx.ip = Some(IpCtx {
            src: IpAddr::V4([10, 0, 0, 1]),
            dst: IpAddr::V4([10, 0, 0, 2]),
            transport: Transport::Tcp,
            sport,
            dport,
            tcp_flags: 0x18,
            payload_len: p.len() as u16,
            ttl: 64,
        });
        let mut c = Collect::default();
        let r = dissect(&cx, p, &mut c);
        (r, c)
    }

    #[test]
    fn filezilla_multiline_greeting_and_user() {
        let c = facts("ftp-cleartext-login-filezilla__zeek.pcap");
        assert!(c.has("Banner FileZilla Server 1.9.1"), "{:?}", c.lines);
        assert!(c.has("Cleartext FtpLogin"));
        assert_eq!(c.lines.iter().filter(|l| *l == "Speaks ftp").count(), 2);
        // The user name ("Admin") and the password are never reported.
        assert!(!c.lines.iter().any(|l| l.contains("Admin")));
    }

    #[test]
    fn netbsd_anonymous() {
        let c = facts("ftp-anonymous-netbsd__zeek.pcap");
        assert!(c.has("Banner ftp.NetBSD.org FTP server (NetBSD-ftpd 20100320) ready."), "{:?}", c.lines);
        assert!(c.has("Cleartext FtpLogin"));
        assert!(!c.lines.iter().any(|l| l.contains("anonymous")));
    }

    #[test]
    fn telnet_client_is_cleartext() {
        let c = facts("telnet-cleartext-login__ndpi.pcap");
        assert_eq!(c.lines.iter().filter(|l| *l == "Speaks telnet").count(), 2, "{:?}", c.lines);
        assert_eq!(c.lines.iter().filter(|l| *l == "Cleartext Telnet").count(), 1);
    }

    #[test]
    fn mixed_services_ftp() {
        let c = facts("lan-mixed-services__zeek-var-services.pcap");
        assert!(c.has("Banner localhost.localdomain FTP server (Version 6.4/OpenBSD/Linux-ftpd-0.17) ready."));
        assert!(c.has("Cleartext FtpLogin"));
        assert!(!c.lines.iter().any(|l| l.contains("jsiwek")));
    }

    #[test]
    fn client_commands() {
        for (p, login) in [
            (&b"user bob\r\n"[..], true),
            (b"PASS hunter2\r\n", true),
            (b"AUTH TLS\r\n", false),
            (b"OPTS UTF8 ON\r\n", false),
            (b"PWD\r\n", false),
            (b"FEAT\n", false),
        ] {
            let (r, c) = run(40000, 21, p);
            assert_eq!(r, Ok(()), "{p:?}");
            assert_eq!(c.has("Cleartext FtpLogin"), login, "{p:?}");
            assert!(c.has("Speaks ftp"));
            assert!(!c.lines.iter().any(|l| l.contains("bob") || l.contains("hunter2")));
        }
        for p in [&b"USERS x\r\n"[..], b"US x", b"USER", b"\x16\x03\x01", b"", b"12 3"] {
            let (r, c) = run(40000, 21, p);
            assert_eq!(r, Err(Error::NotMine), "{p:?}");
            assert!(c.lines.is_empty());
        }
    }

    #[test]
    fn server_replies() {
        let (r, c) = run(21, 40000, b"220 ProFTPD 1.3.5 Server (Infusion pump gateway)\r\n");
        assert_eq!(r, Ok(()));
        assert_eq!(
            c.lines,
            ["Speaks ftp", "Software 02:00:00:00:00:01 Banner ProFTPD 1.3.5 Server (Infusion pump gateway)"]
        );
        let (r, c) = run(21, 40000, b"421 Too many users\r\n");
        assert_eq!((r, c.lines.as_slice()), (Ok(()), &["Speaks ftp".into()][..]));
        let (r, c) = run(21, 40000, b"220 \r\n");
        assert_eq!((r, c.lines.len()), (Ok(()), 1));
        let (r, c) = run(21, 40000, b"220 cut her");
        assert_eq!((r, c.lines.len()), (Err(Error::Truncated), 1));
        let (r, _) = run(21, 40000, b"220 a\x07b\r\n");
        assert_eq!(r, Err(Error::Malformed));
        for p in [&b"22"[..], b"2200 x", b"abc x\r\n", b"220x\r\n", b""] {
            let (r, c) = run(21, 40000, p);
            assert_eq!(r, Err(Error::NotMine), "{p:?}");
            assert!(c.lines.is_empty());
        }
    }

    #[test]
    fn long_banner_is_cut() {
        let mut p = std::vec::Vec::from(&b"220 "[..]);
        p.extend(core::iter::repeat_n(b'b', 1000));
        let (r, c) = run(21, 40000, &p);
        assert_eq!(r, Ok(()));
        assert_eq!(c.lines[1].matches('b').count(), MAX_BANNER);
    }

    #[test]
    fn telnet_by_port_and_no_ip() {
        let (r, c) = run(23, 5000, b"\xff\xfd\x18");
        assert_eq!((r, c.lines.as_slice()), (Ok(()), &["Speaks telnet".into()][..]));
        let (r, c) = run(5000, 23, b"root\r\n");
        assert_eq!(r, Ok(()));
        assert_eq!(c.lines, ["Speaks telnet", "Cleartext Telnet"]);
        assert!(!c.has("root"));
        let mut c = Collect::default();
        assert_eq!(dissect(&ctx(), b"USER x\r\n", &mut c), Err(Error::NotMine));
        assert_eq!(run(80, 8080, b"USER x\r\n").0, Err(Error::NotMine));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(p in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400), port in 0usize..4) {
            let (s, d) = [(21, 4000), (4000, 21), (23, 4000), (4000, 23)][port];
            let _ = run(s, d, &p);
        }
    }
}
