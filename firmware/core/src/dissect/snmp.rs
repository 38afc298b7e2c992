//! SNMP (UDP 161/162): who manages whom, with which version, and what agents say of
//! themselves when asked.
//!
//! Parsed (BER, definite lengths of at most 4 bytes, single-byte tags, fixed nesting depth):
//! the message header (version, and the community string's *presence*), the PDU type, and
//! for v1/v2c responses the variable bindings whose names are sysDescr.0, sysObjectID.0
//! and sysName.0. OIDs are compared in their encoded form; only the sysObjectID value is
//! decoded, into a dotted string on the stack.
//!
//! Deliberately not parsed: the community value (never read into a fact: only
//! `Cleartext { SnmpCommunity }` says one was sent), any other variable binding, traps'
//! bodies, and SNMPv3 beyond its version (security parameters and the possibly encrypted
//! scoped PDU).

use super::util::{trim, Cursor};
use super::{Error, Result};
use crate::fact::{Fact, FrameCtx, Sink};
use core::fmt::Write;
use wardtap_proto::{CleartextKind, InfoField, NameSource, Protocol, SoftwareSource};

/// BER tags used here.
mod tag {
    pub const INTEGER: u8 = 0x02;
    pub const OCTET_STRING: u8 = 0x04;
    pub const OID: u8 = 0x06;
    pub const SEQUENCE: u8 = 0x30;
    /// Low five bits all set: the tag number continues in further bytes.
    pub const HIGH_NUMBER: u8 = 0x1f;
}

/// PDU tags (context-specific, constructed).
mod pdu {
    pub const GET: u8 = 0xa0;
    pub const GET_NEXT: u8 = 0xa1;
    pub const RESPONSE: u8 = 0xa2;
    pub const SET: u8 = 0xa3;
    pub const TRAP_V1: u8 = 0xa4;
    pub const GET_BULK: u8 = 0xa5;
    pub const INFORM: u8 = 0xa6;
    pub const TRAP_V2: u8 = 0xa7;
}

/// sysDescr.0, sysObjectID.0, sysName.0 (1.3.6.1.2.1.1.{1,2,5}.0), BER-encoded.
const SYS_DESCR: &[u8] = &[0x2b, 6, 1, 2, 1, 1, 1, 0];
const SYS_OBJECT_ID: &[u8] = &[0x2b, 6, 1, 2, 1, 1, 2, 0];
const SYS_NAME: &[u8] = &[0x2b, 6, 1, 2, 1, 1, 5, 0];

/// Variable bindings looked at per response.
const MAX_VARBINDS: usize = 64;
/// Longest encoded OID value decoded (real sysObjectIDs are under 20 bytes).
const MAX_OID_LEN: usize = 64;
/// Dotted text of an OID of at most [`MAX_OID_LEN`] bytes: every byte adds at most 4
/// characters (a one-byte arc of 3 digits plus a dot); the first byte gives two arcs.
type OidText = heapless::String<{ MAX_OID_LEN * 4 + 4 }>;

/// Reads one BER element: its tag and contents. Rejects multi-byte tags, the indefinite
/// length form, and long-form lengths of more than 4 bytes.
fn element<'a>(c: &mut Cursor<'a>) -> Result<(u8, &'a [u8])> {
    let t = c.u8()?;
    if t & tag::HIGH_NUMBER == tag::HIGH_NUMBER {
        return Err(Error::Malformed);
    }
    let first = c.u8()?;
    let len = match first {
        0..=0x7f => usize::from(first),
        0x81..=0x84 => {
            let mut len: u32 = 0;
            for _ in 0..(first & 0x7f) {
                // At most 4 bytes: the value fits a u32 and the shift never loses a bit.
                len = (len << 8) | u32::from(c.u8()?);
            }
            usize::try_from(len).map_err(|_| Error::Truncated)?
        }
        // 0x80 is the indefinite form (not allowed in SNMP); 0x85.. are longer than any frame.
        _ => return Err(Error::Malformed),
    };
    Ok((t, c.take(len)?))
}

/// Reads one element and checks its tag.
fn expect_tag<'a>(c: &mut Cursor<'a>, want: u8) -> Result<&'a [u8]> {
    match element(c)? {
        (t, v) if t == want => Ok(v),
        _ => Err(Error::Malformed),
    }
}

/// Dissects one SNMP message.
pub fn dissect<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
    let mut c = Cursor::new(payload);
    // Until the version is read, a mismatch means "not SNMP" rather than "broken SNMP".
    let msg = match element(&mut c) {
        Ok((tag::SEQUENCE, msg)) => msg,
        Ok(_) => return Err(Error::NotMine),
        Err(e) => return Err(e),
    };
    let mut m = Cursor::new(msg);
    let version = match element(&mut m)? {
        (tag::INTEGER, [v @ (0 | 1 | 3)]) => *v,
        _ => return Err(Error::NotMine),
    };
    if version == 3 {
        super::speak(ctx, Protocol::Snmp, sink);
        // The PDU may be encrypted: guess the direction from the agent's well-known port.
        let is_response = ctx.ip.is_some_and(|i| i.sport == 161 && i.dport != 161);
        sink.fact(ctx, &Fact::Snmp { version, is_response });
        return Ok(());
    }
    // The community: its presence is a fact, its value is never looked at again.
    let _ = expect_tag(&mut m, tag::OCTET_STRING)?;
    let (pdu_tag, body) = element(&mut m)?;
    let is_response = match pdu_tag {
        pdu::RESPONSE => true,
        pdu::GET | pdu::GET_NEXT | pdu::SET | pdu::TRAP_V1 | pdu::GET_BULK | pdu::INFORM | pdu::TRAP_V2 => false,
        _ => return Err(Error::Malformed),
    };
    super::speak(ctx, Protocol::Snmp, sink);
    sink.fact(ctx, &Fact::Snmp { version, is_response });
    if !is_response {
        sink.fact(ctx, &Fact::Cleartext { kind: CleartextKind::SnmpCommunity });
        return Ok(());
    }
    varbinds(ctx, body, sink)
}

/// Response body: request-id, error-status, error-index, then the variable-binding list.
fn varbinds<S: Sink + ?Sized>(ctx: &FrameCtx, body: &[u8], sink: &mut S) -> Result<()> {
    let mut b = Cursor::new(body);
    for _ in 0..3 {
        expect_tag(&mut b, tag::INTEGER)?;
    }
    let mut list = Cursor::new(expect_tag(&mut b, tag::SEQUENCE)?);
    for _ in 0..MAX_VARBINDS {
        if list.is_empty() {
            break;
        }
        let mut vb = Cursor::new(expect_tag(&mut list, tag::SEQUENCE)?);
        let name = expect_tag(&mut vb, tag::OID)?;
        // Exceptions (noSuchObject, endOfMibView...) and NULLs carry other tags: skipped.
        let value = element(&mut vb)?;
        match (name, value) {
            (SYS_DESCR, (tag::OCTET_STRING, text)) => {
                let text = trim(text);
                if !text.is_empty() {
                    sink.fact(ctx, &Fact::Software { mac: ctx.src_mac, text, source: SoftwareSource::SnmpSysDescr });
                }
            }
            (SYS_NAME, (tag::OCTET_STRING, name)) => {
                let name = trim(name);
                if !name.is_empty() {
                    sink.fact(ctx, &Fact::Name { mac: ctx.src_mac, name, source: NameSource::Snmp });
                }
            }
            (SYS_OBJECT_ID, (tag::OID, oid)) => {
                let mut text = OidText::new();
                dotted(oid, &mut text)?;
                sink.fact(ctx, &Fact::Info { mac: ctx.src_mac, field: InfoField::SysObjectId, value: text.as_bytes() });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Writes a BER-encoded OID as dotted decimal. Arcs are base-128, high bit = more to come;
/// the first arc packs two (`40 * x + y`).
fn dotted(oid: &[u8], out: &mut OidText) -> Result<()> {
    if oid.is_empty() || oid.len() > MAX_OID_LEN {
        return Err(Error::Malformed);
    }
    let mut arc: u32 = 0;
    let mut first = true;
    for &b in oid {
        arc = arc.checked_mul(128).ok_or(Error::Malformed)? | u32::from(b & 0x7f);
        if b & 0x80 != 0 {
            continue;
        }
        let r = if first {
            first = false;
            let x = (arc / 40).min(2);
            // x <= arc / 40, so 40 * x <= arc.
            write!(out, "{}.{}", x, arc - 40 * x)
        } else {
            write!(out, ".{arc}")
        };
        r.map_err(|_| Error::Malformed)?;
        arc = 0;
    }
    // The last byte must end an arc.
    if oid.last().is_some_and(|b| b & 0x80 != 0) {
        return Err(Error::Malformed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::dissect::testutil::facts;
    use crate::fact::collect::Collect;
    use std::vec::Vec;

    fn run(payload: &[u8]) -> (Result<()>, Collect) {
        crate::dissect::testutil::run(dissect, payload)
    }

    /// BER element with a short- or long-form length as needed.
    fn el(t: u8, v: &[u8]) -> Vec<u8> {
        let mut out = std::vec![t];
        match v.len() {
            n @ 0..=0x7f => out.push(n as u8),
            n @ 0x80..=0xff => out.extend_from_slice(&[0x81, n as u8]),
            n => out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(v);
        out
    }

    fn message(version: u8, pdu_tag: u8, varbinds: &[(&[u8], Vec<u8>)]) -> Vec<u8> {
        let list: Vec<u8> =
            varbinds.iter().flat_map(|(oid, val)| el(0x30, &[el(6, oid), val.clone()].concat())).collect();
        message_with_list(version, pdu_tag, &list)
    }

    fn message_with_list(version: u8, pdu_tag: u8, list: &[u8]) -> Vec<u8> {
        let body = [el(2, &[1]), el(2, &[0]), el(2, &[0]), el(0x30, list)].concat();
        el(0x30, &[el(2, &[version]), el(4, b"s3cret"), el(pdu_tag, &body)].concat())
    }

    #[test]
    fn walk_responses_give_identity_and_never_the_community() {
        let c = facts("snmpwalk-v1-public__zeek.pcap");
        assert!(c.has("Speaks snmp"));
        assert!(c.has("Cleartext SnmpCommunity"));
        assert!(c.lines.iter().any(|l| l.starts_with("Snmp") && l.ends_with("resp=true")));
        assert!(c.lines.iter().any(|l| l.starts_with("Snmp") && l.ends_with("resp=false")));
        assert!(c.has("SnmpSysDescr Linux ubuntu-512mb-sfo2-01 4.4.0-31-generic"));
        assert!(c.has("Snmp ubuntu-512mb-sfo2-01"));
        assert!(c.has("SysObjectId 1.3.6.1.4.1.8072.3.2.10"));
        assert!(!c.lines.iter().any(|l| l.to_ascii_lowercase().contains("public")), "community leaked");
    }

    #[test]
    fn mixed_versions_and_vlans() {
        let c = facts("snmp-v1-v2c-v3-vlan__ndpi.pcapng");
        for v in ["Snmp v=0 ", "Snmp v=1 ", "Snmp v=3 "] {
            assert!(c.has(v), "{v}: {:?}", c.lines);
        }
        assert!(c.has("Snmp R1.lab.local"));
        assert!(c.has("Cleartext SnmpCommunity"));
        for secret in ["public", "adsl", "public2c"] {
            assert!(!c.lines.iter().any(|l| l.contains(secret)), "community {secret} leaked");
        }
    }

    #[test]
    fn requests_say_community_seen_and_read_no_varbinds() {
        for t in [0xa0, 0xa1, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7] {
            let (r, c) = run(&message(1, t, &[(SYS_NAME, el(4, b"not-an-answer"))]));
            assert_eq!(r, Ok(()));
            assert_eq!(c.lines, ["Speaks snmp", "Snmp v=1 resp=false", "Cleartext SnmpCommunity"]);
        }
    }

    #[test]
    fn response_varbinds_hand_made() {
        let vbs = [
            (&[0x2b, 6, 1, 2, 1, 1, 3, 0][..], el(0x43, &[1, 2])), // sysUpTime: ignored
            (SYS_DESCR, el(4, b"Infusion Pump OS 4.2 ")),
            (SYS_OBJECT_ID, el(6, &[0x2b, 6, 1, 4, 1, 0x81, 0x80, 0x80, 0x00, 7])),
            (SYS_NAME, el(0x80, &[])), // noSuchObject
            (SYS_NAME, el(4, b"pump-12")),
        ];
        let (r, c) = run(&message(0, 0xa2, &vbs));
        assert_eq!(r, Ok(()));
        assert!(c.has("Snmp v=0 resp=true"));
        assert!(c.has("SnmpSysDescr Infusion Pump OS 4.2"));
        assert!(c.has("SysObjectId 1.3.6.1.4.1.2097152.7"));
        assert!(c.lines.iter().any(|l| l.ends_with("Snmp pump-12")));
        assert!(!c.has("Cleartext"));
        assert!(!c.has("s3cret"));
    }

    #[test]
    fn v3_stops_at_the_version() {
        let p = el(0x30, &[el(2, &[3]), el(0x30, &[el(2, &[1])].concat()), el(4, b"\x00\x01")].concat());
        let (r, c) = run(&p);
        assert_eq!(r, Ok(()));
        assert_eq!(c.lines, ["Speaks snmp", "Snmp v=3 resp=false"]);
    }

    #[test]
    fn oid_decoding() {
        let d = |b: &[u8]| {
            let mut s = OidText::new();
            dotted(b, &mut s).map(|_| std::string::String::from(s.as_str()))
        };
        assert_eq!(d(&[0x2b, 6, 1]).as_deref(), Ok("1.3.6.1"));
        assert_eq!(d(&[0x00]).as_deref(), Ok("0.0"));
        assert_eq!(d(&[0x88, 0x37]).as_deref(), Ok("2.999"));
        assert_eq!(d(&[0x2b, 0x8f, 0xff, 0xff, 0xff, 0x7f]).as_deref(), Ok("1.3.4294967295"));
        assert_eq!(d(&[0x2b, 0x90, 0x80, 0x80, 0x80, 0x00]), Err(Error::Malformed), "arc overflows u32");
        assert_eq!(d(&[0x2b, 0x86]), Err(Error::Malformed), "unfinished arc");
        assert_eq!(d(&[]), Err(Error::Malformed));
        assert_eq!(d(&[0x7f; MAX_OID_LEN + 1]), Err(Error::Malformed));
        // The longest accepted OID, every arc 3 digits, fits the buffer.
        assert!(d(&[0x7f; MAX_OID_LEN]).is_ok());
    }

    #[test]
    fn ber_lengths() {
        // Long-form lengths (1 and 2 bytes) are accepted.
        let long = std::vec![b'x'; 300];
        let (r, c) = run(&message(1, 0xa2, &[(SYS_DESCR, el(4, &long))]));
        assert_eq!(r, Ok(()));
        assert!(c.has("SnmpSysDescr xxx"));
        // Indefinite length, 5-byte length, lengths past the end, multi-byte tags.
        assert_eq!(run(&[0x30, 0x80, 2, 1, 1, 0, 0]).0, Err(Error::Malformed));
        assert_eq!(run(&[0x30, 0x85, 0, 0, 0, 0, 3, 2, 1, 1]).0, Err(Error::Malformed));
        assert_eq!(run(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 2, 1, 1]).0, Err(Error::Truncated));
        assert_eq!(run(&[0x30, 0x82, 0x01]).0, Err(Error::Truncated));
        assert_eq!(run(&[0x30, 5, 2, 1, 1]).0, Err(Error::Truncated));
        assert_eq!(run(&[0x3f, 1, 0]).0, Err(Error::Malformed));
        assert_eq!(run(&[]).0, Err(Error::Truncated));
    }

    #[test]
    fn not_snmp_and_broken_snmp() {
        // Not a SEQUENCE, or not a known version: not SNMP (and not counted as an error).
        assert_eq!(run(&[0x16, 3, 1, 0, 0]).0, Err(Error::NotMine));
        assert_eq!(run(&el(0x30, &el(2, &[2]))).0, Err(Error::NotMine));
        assert_eq!(run(&el(0x30, &el(4, b"x"))).0, Err(Error::NotMine));
        // Known version, then nonsense: broken SNMP, and nothing said.
        let (r, c) = run(&el(0x30, &[el(2, &[1]), el(4, b"public"), el(0xa8, &[])].concat()));
        assert_eq!(r, Err(Error::Malformed));
        assert!(c.lines.is_empty());
        let (r, c) = run(&el(0x30, &[el(2, &[1]), el(2, &[0])].concat()));
        assert_eq!(r, Err(Error::Malformed));
        assert!(c.lines.is_empty());
        // A varbind list whose second entry claims more than is there keeps what came before.
        let mut list = el(0x30, &[el(6, SYS_NAME), el(4, b"first")].concat());
        list.extend_from_slice(&[0x30, 0x40, 6, 8]);
        list.extend_from_slice(SYS_DESCR);
        list.extend_from_slice(&[4, 6]);
        list.extend_from_slice(b"second");
        let p = message_with_list(1, 0xa2, &list);
        let (r, c) = run(&p);
        assert_eq!(r, Err(Error::Truncated));
        assert!(c.lines.iter().any(|l| l.ends_with("Snmp first")));
        assert!(!c.has("second"));
    }

    #[test]
    fn varbind_count_is_bounded() {
        let many: Vec<(&[u8], Vec<u8>)> = (0..MAX_VARBINDS).map(|_| (&[0x2b, 6][..], el(5, &[]))).collect();
        let mut vbs = many;
        vbs.push((SYS_NAME, el(4, b"too-late")));
        let (r, c) = run(&message(1, 0xa2, &vbs));
        assert_eq!(r, Ok(()));
        assert!(!c.has("too-late"));
    }
}
