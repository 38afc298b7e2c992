//! NetBIOS name service (UDP 137): the names a Windows host, printer or Samba server claims
//! for itself.
//!
//! NBNS is DNS-shaped (RFC 1002), so the header, names and records are read with the DNS
//! reader of [`super::dns`]; a NetBIOS name is the first label, 32 characters `A`..`P`
//! ("first-level encoding") for 16 bytes: 15 of name, padded with spaces, and a suffix byte.
//!
//! A `Name` is emitted only for names the sender claims as its own and only for the unique
//! (non-group) workstation (`<00>`) and server (`<20>`) names:
//! - name registration and refresh requests (opcodes 5, 8, 9, 15), from the additional record;
//! - positive name query responses whose address list holds the sender's IPv4 address (a
//!   WINS server answering for another host is not the owner);
//! - node status (NBSTAT) responses, whose name table is the responder's own.
//!
//! Not parsed: queries (they say what is looked for, not what the asker is), releases,
//! scope ids, group names (workgroups / domains), the NBSTAT statistics block, and the
//! datagram and session services (138/139).

use super::dns::{question_data, read_name_into, read_question_into, read_record_into, record_data, Header, Name};
use super::{Error, Result};
use crate::fact::{Fact, FrameCtx, Sink};
use wardtap_proto::{IpAddr, NameSource, Protocol};

/// Records read per message (registrations carry one, WINS answers a few).
const MAX_RECORDS: usize = 8;
/// Distinct names emitted per message (an NBSTAT table lists a name once per suffix).
const MAX_NAMES: usize = 4;

mod opcode {
    pub const QUERY: u8 = 0;
    pub const REGISTRATION: u8 = 5;
    pub const REFRESH: u8 = 8;
    pub const REFRESH_ALT: u8 = 9;
    pub const MULTIHOMED_REGISTRATION: u8 = 15;
}

mod rr {
    pub const NB: u16 = 0x0020;
    pub const NBSTAT: u16 = 0x0021;
    pub const CLASS_IN: u16 = 1;
}

/// The DNS-shaped header.
const HEADER_LEN: usize = 12;
/// NB_FLAGS / NAME_FLAGS group bit.
const GROUP: u16 = 0x8000;
/// NAME_FLAGS in a node status table: being released, in conflict.
const DRG_OR_CNF: u16 = 0x1800;
/// Length of one NBSTAT name table entry: 15 name bytes, suffix, flags.
const NBSTAT_ENTRY: usize = 18;

/// A decoded NetBIOS name: the 15-byte name (trailing spaces trimmed) and its suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NbName {
    bytes: [u8; 15],
    len: usize,
    /// The 16th byte: `0x00` workstation, `0x20` server, `0x1d` master browser...
    pub suffix: u8,
}

impl NbName {
    /// The name without its padding.
    pub fn name(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    /// From 16 raw bytes (an NBSTAT table entry).
    fn from_raw(raw: &[u8]) -> Option<NbName> {
        let (name, suffix) = match raw {
            [name @ .., suffix] if name.len() == 15 => (name, *suffix),
            _ => return None,
        };
        let mut bytes = [0u8; 15];
        bytes.copy_from_slice(name);
        let len = name.iter().rposition(|&b| b != b' ' && b != 0).map_or(0, |i| i + 1);
        Some(NbName { bytes, len, suffix })
    }

    /// From the first label of a wire name: first-level decoding of 32 `A`..`P` characters.
    pub fn decode(name: &Name) -> Result<NbName> {
        let label = name.first_label();
        let Some(label) = label.first_chunk::<32>().filter(|_| label.len() == 32) else {
            return Err(Error::Malformed);
        };
        let mut raw = [0u8; 16];
        // All pairs at once, checked together after: a character outside `A`..`P` leaves
        // a bit above the nibble in `spill`.
        let mut spill = 0u8;
        for (out, &[hi, lo]) in raw.iter_mut().zip(label.as_chunks::<2>().0) {
            let (hi, lo) = (hi.wrapping_sub(b'A'), lo.wrapping_sub(b'A'));
            spill |= hi | lo;
            *out = hi << 4 | lo;
        }
        if spill > 0x0f {
            return Err(Error::Malformed);
        }
        NbName::from_raw(&raw).ok_or(Error::Malformed)
    }

    /// The device's own host name: unique workstation or server service.
    fn is_host_name(&self, flags: u16) -> bool {
        flags & GROUP == 0 && matches!(self.suffix, 0x00 | 0x20) && self.len > 0 && self.bytes.first() != Some(&b'*')
    }
}

/// Emits each name once per message.
struct Emitter(heapless::Vec<NbName, MAX_NAMES>);

impl Emitter {
    fn name<S: Sink + ?Sized>(&mut self, ctx: &FrameCtx, n: NbName, sink: &mut S) {
        if self.0.iter().any(|e| e.name() == n.name()) {
            return;
        }
        let _ = self.0.push(n);
        sink.fact(ctx, &Fact::Name { mac: ctx.src_mac, name: n.name(), source: NameSource::Netbios });
    }
}

/// Dissects one NetBIOS name service packet.
pub fn dissect<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
    let h = Header::parse(payload)?;
    let op = h.opcode();
    if matches!(op, 1..=4 | 10..=14) {
        return Err(Error::NotMine);
    }
    // The first name must be a NetBIOS name, or this is something else on port 137.
    if h.qdcount == 0 && h.records() == 0 {
        return Err(Error::NotMine);
    }
    // One name buffer for the message; the first name is decoded once.
    let mut name = Name::new();
    let first_end = read_name_into(payload, HEADER_LEN, &mut name)?;
    NbName::decode(&name).map_err(|_| Error::NotMine)?;
    super::speak(ctx, Protocol::Netbios, sink);
    let registration =
        matches!(op, opcode::REGISTRATION | opcode::REFRESH | opcode::REFRESH_ALT | opcode::MULTIHOMED_REGISTRATION);
    let wanted = if h.is_response() { op == opcode::QUERY && h.rcode() == 0 } else { registration };
    if !wanted {
        return Ok(());
    }
    let mut pos = HEADER_LEN;
    for i in 0..usize::from(h.qdcount).min(MAX_RECORDS) {
        pos =
            if i == 0 { question_data(payload, first_end)?.1 } else { read_question_into(payload, pos, &mut name)?.1 };
    }
    let sender = match ctx.ip.map(|i| i.src) {
        Some(IpAddr::V4(a)) => Some(a),
        _ => None,
    };
    let mut out = Emitter(heapless::Vec::new());
    for i in 0..h.records().min(MAX_RECORDS) {
        // Without questions, the first record's owner is the name decoded above.
        let (r, next) = if i == 0 && pos == HEADER_LEN {
            record_data(payload, first_end)?
        } else {
            read_record_into(payload, pos, &mut name)?
        };
        pos = next;
        if r.class != rr::CLASS_IN {
            continue;
        }
        match r.rtype {
            rr::NB => {
                let Ok(n) = NbName::decode(&name) else { continue };
                // NB_FLAGS + IPv4 address, once per address the name is held at.
                let mut entries = r.rdata.chunks_exact(6);
                let mine = entries.find(|e| match **e {
                    [f0, f1, a, b, c, d] => {
                        n.is_host_name(u16::from_be_bytes([f0, f1])) && (registration || sender == Some([a, b, c, d]))
                    }
                    _ => false,
                });
                if mine.is_some() {
                    out.name(ctx, n, sink);
                }
            }
            rr::NBSTAT if h.is_response() => {
                let Some((&count, table)) = r.rdata.split_first() else { continue };
                for e in table.chunks_exact(NBSTAT_ENTRY).take(usize::from(count)) {
                    let (Some(raw), Some(flags)) = (e.get(..16), super::util::be16(e, 16)) else { continue };
                    match NbName::from_raw(raw) {
                        Some(n) if n.is_host_name(flags) && flags & DRG_OR_CNF == 0 => out.name(ctx, n, sink),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::dissect::dns::read_name;
    use crate::dissect::testutil::{self, facts};
    use crate::fact::collect::Collect;
    use crate::fact::IpCtx;
    use std::vec::Vec;
    use wardtap_proto::Transport;

    const SENDER: [u8; 4] = [10, 0, 4, 24];

    fn ctx() -> FrameCtx {
        let ip = IpCtx {
            src: IpAddr::V4(SENDER),
            dst: IpAddr::V4([10, 0, 4, 255]),
            transport: Transport::Udp,
            sport: 137,
            dport: 137,
            tcp_flags: 0,
            payload_len: 0,
            ttl: 128,
        };
        FrameCtx { ip: Some(ip), ..testutil::ctx() }
    }

    /// First-level encoding of `name` padded to 15, then `suffix`, as a wire name.
    fn encoded(name: &str, suffix: u8) -> Vec<u8> {
        let mut raw = [b' '; 16];
        raw[..name.len()].copy_from_slice(name.as_bytes());
        raw[15] = suffix;
        let mut w = std::vec![32];
        for b in raw {
            w.extend_from_slice(&[b'A' + (b >> 4), b'A' + (b & 0xf)]);
        }
        w.push(0);
        w
    }

    fn header(flags: u16, qd: u16, an: u16, ar: u16) -> Vec<u8> {
        let mut m = std::vec![0xab, 0xcd];
        for w in [flags, qd, an, 0, ar] {
            m.extend_from_slice(&w.to_be_bytes());
        }
        m
    }

    fn rr(m: &mut Vec<u8>, rtype: u16, rdata: &[u8]) {
        m.extend_from_slice(&rtype.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 4, 0x93, 0xe0]);
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
    }

    /// A registration (opcode 5) of `name<suffix>` with NB_FLAGS `flags`.
    fn registration(name: &str, suffix: u8, flags: u16) -> Vec<u8> {
        let mut m = header(0x2910, 1, 0, 1);
        m.extend(encoded(name, suffix));
        m.extend_from_slice(&[0, 0x20, 0, 1, 0xc0, 12]);
        let mut nb = flags.to_be_bytes().to_vec();
        nb.extend_from_slice(&SENDER);
        rr(&mut m, rr::NB, &nb);
        m
    }

    fn run(m: &[u8]) -> (Result<()>, Collect) {
        let mut c = Collect::default();
        let r = dissect(&ctx(), m, &mut c);
        (r, c)
    }

    fn names(c: &Collect) -> Vec<&str> {
        c.lines.iter().filter_map(|l| l.strip_prefix("Name 02:00:00:00:00:01 Netbios ")).collect()
    }

    #[test]
    fn win98_registrations() {
        let c = facts("nbns-browser-win98__arkime.pcap");
        assert!(c.has("Speaks netbios"));
        let n: Vec<_> = c.lines.iter().filter(|l| l.starts_with("Name") && l.contains("Netbios")).collect();
        assert!(!n.is_empty());
        // MDJR98<00> and <20>; never the workgroup, the user's messenger name or __MSBROWSE__.
        assert!(n.iter().all(|l| *l == "Name 00:50:56:33:78:9e Netbios MDJR98"), "{n:?}");
    }

    #[test]
    fn node_status_and_positive_responses() {
        let c = facts("netbios-nbns-smb-browser-vlan__ndpi.pcapng");
        assert!(c.has("Name 00:1c:c4:10:79:0f Netbios GUNNAR"));
        assert!(c.has("Name ec:a8:6b:f4:60:77 Netbios GURU"));
        // Only queried, never answered: nobody is named XSTREAM_HY, NVR9 or MULI.
        for q in ["XSTREAM_HY", "NVR9", "MULI", "OZI"] {
            assert!(!c.has(&std::format!("Netbios {q}")), "{q}");
        }
    }

    #[test]
    fn windows_boot_and_printer_lookups() {
        let c = facts("eapol-8021x-windows-boot__tcpdump.pcap");
        assert!(c.has("Name 00:04:23:57:a5:7a Netbios DJP95S0J"));
        // The Brother printer is only looked up (NBNS and LLMNR) by a PC and never answers:
        // the asker must not be named after it.
        let c = facts("lan-campus-printer-browse__zeek-wikipedia.pcap");
        assert!(c.has("Speaks netbios"));
        assert!(!c.lines.iter().any(|l| l.starts_with("Name") && l.contains("BRWC0CB383D1F42")));
    }

    #[test]
    fn first_level_decoding() {
        let w = encoded("BRWC0CB383D1F42", 0x20);
        let (n, _) = read_name(&w, 0).unwrap();
        let nb = NbName::decode(&n).unwrap();
        assert_eq!((nb.name(), nb.suffix), (&b"BRWC0CB383D1F42"[..], 0x20));
        let w = encoded("PC 1", 0);
        let nb = NbName::decode(&read_name(&w, 0).unwrap().0).unwrap();
        assert_eq!(nb.name(), b"PC 1");
        // Characters outside A..P, wrong lengths.
        let mut bad = encoded("X", 0);
        bad[5] = b'Q';
        assert_eq!(NbName::decode(&read_name(&bad, 0).unwrap().0).unwrap_err(), Error::Malformed);
        let mut lower = encoded("X", 0);
        lower[1] = b'e';
        assert!(NbName::decode(&read_name(&lower, 0).unwrap().0).is_err());
        let short = [4, b'E', b'F', b'E', b'F', 0];
        assert!(NbName::decode(&read_name(&short, 0).unwrap().0).is_err());
        // Every byte in either place of a pair, first and last pair: only `A`..`P` decode,
        // to their nibble.
        for c in 0..=255u8 {
            for at in [1, 2, 31, 32] {
                let mut w = encoded("ABC", 0);
                w[at] = c;
                let r = NbName::decode(&read_name(&w, 0).unwrap().0);
                match c.checked_sub(b'A').filter(|n| *n < 16) {
                    Some(n) if at == 1 => assert_eq!(r.unwrap().name()[0], n << 4 | 1),
                    Some(n) if at == 2 => assert_eq!(r.unwrap().name()[0], 4 << 4 | n),
                    Some(n) if at == 31 => assert_eq!(r.unwrap().suffix, n << 4),
                    Some(n) => assert_eq!(r.unwrap().suffix, n),
                    None => assert_eq!(r.unwrap_err(), Error::Malformed, "{c} at {at}"),
                }
            }
        }
    }

    #[test]
    fn registrations_of_unique_host_names_only() {
        let (r, c) = run(&registration("CT-SCANNER", 0x00, 0x0000));
        assert_eq!(r, Ok(()));
        assert_eq!(c.lines, ["Speaks netbios", "Name 02:00:00:00:00:01 Netbios CT-SCANNER"]);
        assert_eq!(names(&run(&registration("CT-SCANNER", 0x20, 0x6000)).1), ["CT-SCANNER"]);
        // Group names, other suffixes, refresh vs release.
        assert!(names(&run(&registration("RADIOLOGY", 0x00, 0x8000)).1).is_empty());
        assert!(names(&run(&registration("RADIOLOGY", 0x1d, 0x0000)).1).is_empty());
        assert!(names(&run(&registration("JDOE", 0x03, 0x0000)).1).is_empty());
        let mut refresh = registration("CT-SCANNER", 0, 0);
        refresh[2] = 0x40; // opcode 8
        assert_eq!(names(&run(&refresh).1), ["CT-SCANNER"]);
        let mut release = registration("CT-SCANNER", 0, 0);
        release[2] = 0x30; // opcode 6
        assert_eq!(run(&release).1.lines, ["Speaks netbios"]);
        // A server's registration response is about the client, not the sender.
        let mut resp = registration("CT-SCANNER", 0, 0);
        resp[2] |= 0x80;
        assert!(names(&run(&resp).1).is_empty());
    }

    #[test]
    fn positive_response_only_from_the_owner() {
        let response = |addr: [u8; 4], flags: u16| {
            let mut m = header(0x8500, 0, 1, 0);
            m.extend(encoded("PACS01", 0));
            let mut nb = std::vec![0x80, 0x00, 10, 0, 9, 9];
            nb.extend_from_slice(&flags.to_be_bytes());
            nb.extend_from_slice(&addr);
            rr(&mut m, rr::NB, &nb);
            m
        };
        assert_eq!(names(&run(&response(SENDER, 0)).1), ["PACS01"]);
        // A WINS server answering for another host.
        assert!(names(&run(&response([10, 0, 4, 99], 0)).1).is_empty());
        assert!(names(&run(&response(SENDER, 0x8000)).1).is_empty());
        // Negative response.
        let mut neg = response(SENDER, 0);
        neg[3] = 0x03;
        assert!(names(&run(&neg).1).is_empty());
        // Without IP context nobody can be the owner.
        let mut c = Collect::default();
        assert_eq!(dissect(&testutil::ctx(), &response(SENDER, 0), &mut c), Ok(()));
        assert_eq!(c.lines, ["Speaks netbios"]);
    }

    #[test]
    fn node_status_table() {
        let entry = |name: &str, suffix: u8, flags: u16| {
            let mut e = [b' '; 18];
            e[..name.len()].copy_from_slice(name.as_bytes());
            e[15] = suffix;
            e[16..].copy_from_slice(&flags.to_be_bytes());
            e
        };
        let mut table = std::vec![6];
        table.extend(entry("MONITOR-12", 0x00, 0x0400));
        table.extend(entry("WARD3", 0x00, 0x8400));
        table.extend(entry("MONITOR-12", 0x20, 0x0400));
        table.extend(entry("OLDNAME", 0x00, 0x1400));
        table.extend(entry("CONFLICT", 0x20, 0x0c00));
        table.extend(entry("NURSE", 0x03, 0x0400));
        table.extend_from_slice(&[0; 46]);
        let mut m = header(0x8400, 0, 1, 0);
        m.extend(encoded("*\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 0));
        rr(&mut m, rr::NBSTAT, &table);
        let (r, c) = run(&m);
        assert_eq!(r, Ok(()));
        assert_eq!(c.lines, ["Speaks netbios", "Name 02:00:00:00:00:01 Netbios MONITOR-12"]);
        // A count larger than the table reads what is there; a query is never read as a table.
        let mut lying = m.clone();
        let at = lying.len() - table.len();
        lying[at] = 255;
        assert_eq!(names(&run(&lying).1), ["MONITOR-12"]);
        let mut query = m.clone();
        query[2] = 0;
        assert!(names(&run(&query).1).is_empty());
    }

    #[test]
    fn hostile_packets() {
        // Short, empty, not NetBIOS.
        assert_eq!(run(&[0; 5]).0, Err(Error::Truncated));
        assert_eq!(run(&header(0, 0, 0, 0)).0, Err(Error::NotMine));
        let mut dns = header(0x0100, 1, 0, 0);
        dns.extend_from_slice(&[3, b'w', b'w', b'w', 0, 0, 1, 0, 1]);
        let (r, c) = run(&dns);
        assert_eq!((r, c.lines.len()), (Err(Error::NotMine), 0));
        // Compression loop in the additional record's name.
        let mut m = registration("LOOP", 0, 0);
        let at = 12 + 34 + 4;
        m[at..at + 2].copy_from_slice(&[0xc0, 50]);
        let (r, c) = run(&m);
        assert_eq!(r, Err(Error::Malformed));
        assert!(names(&c).is_empty());
        // Counts lying about the records.
        let mut m = registration("LIAR", 0, 0);
        m[11] = 200;
        let (r, c) = run(&m);
        assert_eq!(r, Err(Error::Truncated));
        assert_eq!(names(&c), ["LIAR"]);
        // NB rdata not a multiple of 6, or empty.
        let mut m = header(0x2910, 1, 0, 1);
        m.extend(encoded("ODD", 0));
        m.extend_from_slice(&[0, 0x20, 0, 1, 0xc0, 12]);
        rr(&mut m, rr::NB, &[0, 0, 10, 0]);
        assert_eq!(run(&m).1.lines, ["Speaks netbios"]);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let (_, c) = run(&bytes);
            proptest::prop_assert!(c.lines.len() <= 1 + MAX_NAMES);
        }

        #[test]
        fn mutated_registration_never_panics(flip in proptest::collection::vec((0usize..80, proptest::prelude::any::<u8>()), 1..6)) {
            let mut m = registration("FUZZ", 0, 0);
            let n = m.len();
            for (at, b) in flip {
                m[at % n] = b;
            }
            let _ = run(&m);
        }
    }
}
