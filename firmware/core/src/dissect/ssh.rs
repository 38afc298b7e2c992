//! SSH: the identification string both ends send first (RFC 4253 §4.2),
//! `SSH-protoversion-softwareversion [SP comments] CR LF`, at most 255 bytes with its CR LF.
//!
//! The whole line (without CR LF) is reported as the sender's software, e.g.
//! `SSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u3`: the software version and the distribution
//! comment are what identify it. Older implementations end the line with LF alone, which is
//! accepted. Nothing after the line is parsed (the key exchange is binary and later
//! segments are not looked at anyway).

use super::{Error, Result};
use crate::fact::{Fact, FrameCtx, Sink};
use wardtap_proto::{Protocol, SoftwareSource};

/// Longest identification line, CR LF included (RFC 4253 §4.2).
pub const MAX_LINE: usize = 255;

/// Dissects the first segment of an SSH connection direction.
///
/// Emits `Speaks(Ssh)` and `Software(SshBanner)`. A line cut by the segment end is still
/// recognised (speaks) but reported as `Truncated` without its text.
pub fn dissect<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
    let window = payload.get(..MAX_LINE).unwrap_or(payload);
    let (line, whole) = match window.iter().position(|&b| b == b'\n') {
        Some(i) => (window.get(..i).unwrap_or(window), true),
        None if payload.len() < MAX_LINE => (payload, false),
        None => return Err(Error::Malformed),
    };
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    validate(line, whole)?;
    super::speak(ctx, Protocol::Ssh, sink);
    if !whole {
        return Err(Error::Truncated);
    }
    sink.fact(ctx, &Fact::Software { mac: ctx.src_mac, text: line, source: SoftwareSource::SshBanner });
    Ok(())
}

/// Checks `SSH-<digits and dots>-<softwareversion>...`, printable ASCII only. A cut line
/// (`whole == false`) must be valid as far as it goes, protoversion included.
fn validate(line: &[u8], whole: bool) -> Result<()> {
    let rest = line.strip_prefix(b"SSH-").ok_or(Error::NotMine)?;
    if !line.iter().all(|b| (0x20..0x7f).contains(b)) {
        return Err(Error::Malformed);
    }
    let Some(dash) = rest.iter().position(|&b| b == b'-') else {
        return Err(if whole { Error::Malformed } else { Error::Truncated });
    };
    let (proto, software) = (rest.get(..dash).unwrap_or(&[]), rest.get(dash + 1..).unwrap_or(&[]));
    if proto.is_empty() || !proto.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
        return Err(Error::Malformed);
    }
    // softwareversion: non-empty, and it starts right after the dash (no whitespace).
    match software.first() {
        Some(b) if *b != b' ' => Ok(()),
        None if !whole => Err(Error::Truncated),
        _ => Err(Error::Malformed),
    }
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

    fn banners(c: &Collect) -> std::vec::Vec<&str> {
        c.lines.iter().filter_map(|l| l.split_once("SshBanner ").map(|(_, t)| t)).collect()
    }

    #[test]
    fn openssh_single_connection_lf_only() {
        let c = facts("ssh-openssh-single-conn__zeek.pcap");
        assert_eq!(banners(&c), ["SSH-1.99-OpenSSH_3.9p1", "SSH-2.0-OpenSSH_3.8.1p1"]);
        assert_eq!(c.lines.iter().filter(|l| *l == "Speaks ssh").count(), 2);
    }

    #[test]
    fn openssh78_debian() {
        let c = facts("ssh-openssh78-debian__tcpdump.pcap");
        assert_eq!(banners(&c), ["SSH-2.0-OpenSSH_7.8", "SSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u3"]);
    }

    #[test]
    fn mixed_services_two_sessions() {
        let c = facts("lan-mixed-services__zeek-var-services.pcap");
        let b = banners(&c);
        for want in ["SSH-2.0-OpenSSH_5.8p1 Debian-1ubuntu3", "SSH-2.0-OpenSSH_5.2", "SSH-2.0-OpenSSH_4.3"] {
            assert!(b.contains(&want), "{want} not in {b:?}");
        }
        assert_eq!(b.len(), 4);
    }

    #[test]
    fn by_hand() {
        let (r, c) = run(b"SSH-2.0-dropbear_2019.78\r\n\0\0\x01\x14\x0a\x14");
        assert_eq!(r, Ok(()));
        assert_eq!(c.lines, ["Speaks ssh", "Software 02:00:00:00:00:01 SshBanner SSH-2.0-dropbear_2019.78"]);
        // Cut by the segment end: recognised, text withheld.
        let (r, c) = run(b"SSH-2.0-Open");
        assert_eq!((r, c.lines.len()), (Err(Error::Truncated), 1));
        let (r, c) = run(b"SSH-2.");
        assert_eq!((r, c.lines.len()), (Err(Error::Truncated), 0));
    }

    #[test]
    fn malformed_lines() {
        for p in [
            &b"SSH-2.0-\r\n"[..],
            b"SSH--OpenSSH\r\n",
            b"SSH-2.0 OpenSSH\r\n",
            b"SSH-x.y-OpenSSH\r\n",
            b"SSH-2.0- space\r\n",
            b"SSH-2.0-Open\x01SSH\r\n",
            b"SSH-2.0-Open\xffSSH\r\n",
            b"SSH-2.0-a\rb\n",
        ] {
            let (r, c) = run(p);
            assert_eq!(r, Err(Error::Malformed), "{p:?}");
            assert!(c.lines.is_empty());
        }
        assert_eq!(run(b"SSX-2.0-a\r\n").0, Err(Error::NotMine));
        assert_eq!(run(b"").0, Err(Error::NotMine));
    }

    #[test]
    fn line_length_bound() {
        // 253 bytes of text + CR LF = 255: the longest allowed.
        let mut p = std::vec::Vec::from(&b"SSH-2.0-"[..]);
        p.resize(253, b'a');
        p.extend_from_slice(b"\r\n");
        assert_eq!(run(&p).0, Ok(()));
        // One more and the LF falls outside the window.
        p.insert(10, b'a');
        let (r, c) = run(&p);
        assert_eq!(r, Err(Error::Malformed));
        assert!(c.lines.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let mut p = std::vec::Vec::from(&b"SSH-"[..]);
            p.extend_from_slice(&tail);
            let _ = run(&p);
        }
    }
}
