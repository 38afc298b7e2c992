//! HL7 v2 over MLLP: the message header (MSH) routing fields, and device identifiers.
//!
//! An MLLP block is `0x0B <message> 0x1C 0x0D`; the message is CR-separated segments (LF is
//! accepted too). From the MSH segment this reads MSH-3..6 (sending / receiving application
//! and facility), MSH-9 (message type) and MSH-12 (version), with the field separator taken
//! from the header itself. Later segments are looked at only for their segment id (MSA marks
//! an acknowledgement), PRT-16 (participation device) and OBX-18 (equipment instance
//! identifier), which name devices.
//!
//! Deliberately not read: every other field of every other segment. PID, NK1, PV1, OBX-5 and
//! the like are patient data; they are skipped over by counting separators, never extracted.
//! Only the first block of a TCP segment is parsed, and the block may end in a later segment
//! (no reassembly): a field cut by the segment end is not reported.

use super::{Error, Result};
use crate::fact::{Fact, FrameCtx, Sink};
use wardtap_proto::{InfoField, Protocol};

/// MLLP start-of-block byte.
pub const MLLP_START: u8 = 0x0b;
/// MLLP end-of-block byte (followed by a CR).
pub const MLLP_END: u8 = 0x1c;

/// MSH fields, as indexes after splitting the segment on its field separator. MSH-1 is the
/// separator itself, so index 1 is MSH-2 (the encoding characters) and index n-1 is MSH-n.
mod msh {
    pub const ENCODING_CHARS: usize = 1; // MSH-2
    pub const SENDING_APP: usize = 2; // MSH-3
    pub const SENDING_FACILITY: usize = 3; // MSH-4
    pub const RECEIVING_APP: usize = 4; // MSH-5
    pub const RECEIVING_FACILITY: usize = 5; // MSH-6
    pub const MESSAGE_TYPE: usize = 8; // MSH-9
    pub const VERSION: usize = 11; // MSH-12
    /// Fields split off the header; MSH-13 onwards are never looked at.
    pub const KEPT: usize = VERSION + 1;
}

/// Device identifier fields of other segments (for these, index n is field n).
mod device_field {
    /// PRT-16, participation device (HL7 v2.7+).
    pub const PRT: usize = 16;
    /// OBX-18, equipment instance identifier.
    pub const OBX: usize = 18;
}

/// Segments looked at in one message (an ORU with many OBX is still covered).
const MAX_SEGMENTS: usize = 512;
/// Batch / file header segments tolerated before the MSH.
const MAX_BATCH_HEADERS: usize = 2;
/// Distinct device identifiers reported per message.
const MAX_DEVICE_IDS: usize = 8;
/// Repetitions looked at within one device identifier field.
const MAX_REPETITIONS: usize = 8;

/// What the MSH says.
struct Header<'a> {
    sep: u8,
    repetition: u8,
    fields: [&'a [u8]; msh::KEPT],
}

/// Dissects the first MLLP block of a TCP segment.
///
/// Emits `Hl7` (the MSH routing fields) and an `Info` `Hl7DeviceId` for each distinct
/// device identifier in PRT-16 / OBX-18; the sender speaks `Hl7Sender`, or `Hl7Receiver`
/// when the message is an acknowledgement.
pub fn dissect<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
    let Some((&MLLP_START, rest)) = payload.split_first() else {
        return Err(Error::NotMine);
    };
    // The block ends at the end byte, or goes on past this segment.
    let (msg, ended) = match rest.iter().position(|&b| b == MLLP_END) {
        Some(end) => (rest.get(..end).unwrap_or(rest), true),
        None => (rest, false),
    };
    let mut segments = Segments { rest: msg, ended, left: MAX_SEGMENTS };

    let mut batch_headers = 0;
    let (msh_segment, msh_whole) = loop {
        let Some((seg, whole)) = segments.next() else {
            // Nothing but line ends so far: too little to say.
            return Err(Error::NotMine);
        };
        match seg {
            [b'M', b'S', b'H', ..] => break (seg, whole),
            [b'F' | b'B', b'H', b'S', ..] if batch_headers < MAX_BATCH_HEADERS => batch_headers += 1,
            _ => return Err(Error::NotMine),
        }
    };
    let h = header(msh_segment, msh_whole)?;
    let f = h.fields;
    let message_type = f[msh::MESSAGE_TYPE];
    let mut is_ack = message_type.starts_with(b"ACK");

    // The rest of the message: segment ids, and the two device identifier fields.
    let mut ids: heapless::Vec<&[u8], MAX_DEVICE_IDS> = heapless::Vec::new();
    for (seg, whole) in segments {
        let n = match seg {
            [b'M', b'S', b'A'] => {
                is_ack = true;
                continue;
            }
            [b'M', b'S', b'A', s, ..] if *s == h.sep => {
                is_ack = true;
                continue;
            }
            [b'P', b'R', b'T', s, ..] if *s == h.sep => device_field::PRT,
            [b'O', b'B', b'X', s, ..] if *s == h.sep => device_field::OBX,
            _ => continue,
        };
        if let Some(value) = nth_field(seg, h.sep, n, whole) {
            for id in value.split(|&b| b == h.repetition).take(MAX_REPETITIONS) {
                if !id.is_empty() && text(id) && !ids.contains(&id) {
                    let _ = ids.push(id); // full: further identifiers are not reported
                }
            }
        }
    }

    super::speak(ctx, if is_ack { Protocol::Hl7Receiver } else { Protocol::Hl7Sender }, sink);
    sink.fact(
        ctx,
        &Fact::Hl7 {
            sending_app: f[msh::SENDING_APP],
            sending_facility: f[msh::SENDING_FACILITY],
            receiving_app: f[msh::RECEIVING_APP],
            receiving_facility: f[msh::RECEIVING_FACILITY],
            message_type,
            version: f[msh::VERSION],
            is_ack,
        },
    );
    for value in ids {
        sink.fact(ctx, &Fact::Info { mac: ctx.src_mac, field: InfoField::Hl7DeviceId, value });
    }
    Ok(())
}

/// Splits and checks the MSH segment. `whole` says the segment ended inside this TCP
/// segment; if not, its last field may be cut and is not used.
fn header(seg: &[u8], whole: bool) -> Result<Header<'_>> {
    let Some(&sep) = seg.get(3) else {
        return Err(if whole { Error::Malformed } else { Error::Truncated });
    };
    if !sep.is_ascii_graphic() || sep.is_ascii_alphanumeric() {
        return Err(Error::Malformed);
    }
    let mut fields: [&[u8]; msh::KEPT] = [&[]; msh::KEPT];
    let mut pieces = seg.split(|&b| b == sep);
    let mut n: usize = 0;
    for (slot, piece) in fields.iter_mut().zip(&mut pieces) {
        *slot = piece;
        n += 1;
    }
    // Unless more follows (MSH-13 onwards) or the segment ended, the last field is partial.
    if !whole && pieces.next().is_none() {
        n = n.saturating_sub(1);
        if let Some(last) = fields.get_mut(n) {
            *last = &[];
        }
    }
    if n <= msh::MESSAGE_TYPE {
        return Err(if whole { Error::Malformed } else { Error::Truncated });
    }
    // MSH-2: component, repetition, escape, subcomponent (and v2.7 truncation) characters.
    let enc = fields[msh::ENCODING_CHARS];
    if enc.is_empty()
        || enc.len() > 5
        || enc.iter().any(|&b| !b.is_ascii_graphic() || b.is_ascii_alphanumeric() || b == sep)
    {
        return Err(Error::Malformed);
    }
    let repetition = enc.get(1).copied().unwrap_or(b'~');
    let emitted = [
        msh::SENDING_APP,
        msh::SENDING_FACILITY,
        msh::RECEIVING_APP,
        msh::RECEIVING_FACILITY,
        msh::MESSAGE_TYPE,
        msh::VERSION,
    ];
    if fields[msh::MESSAGE_TYPE].is_empty() || !emitted.iter().all(|&i| fields.get(i).is_some_and(|f| text(f))) {
        return Err(Error::Malformed);
    }
    Ok(Header { sep, repetition, fields })
}

/// Field `n` of a non-MSH segment (the segment id is field 0), if present and complete.
fn nth_field(seg: &[u8], sep: u8, n: usize, whole: bool) -> Option<&[u8]> {
    let mut pieces = seg.split(|&b| b == sep).skip(n);
    let value = pieces.next()?;
    // The last field of a segment cut by the TCP segment end may be partial.
    (whole || pieces.next().is_some()).then_some(value)
}

/// Text without control characters (HL7 allows non-ASCII text, e.g. Latin-1 names).
fn text(s: &[u8]) -> bool {
    s.iter().all(|&b| b >= 0x20 && b != 0x7f)
}

/// Non-empty CR- or LF-terminated segments, each with whether it is whole (terminated, or
/// the block ended right after it), at most `left` of them.
struct Segments<'a> {
    rest: &'a [u8],
    ended: bool,
    left: usize,
}

impl<'a> Iterator for Segments<'a> {
    type Item = (&'a [u8], bool);

    fn next(&mut self) -> Option<Self::Item> {
        // Each turn consumes at least one byte or returns, so this is bounded by the input.
        while !self.rest.is_empty() && self.left > 0 {
            let (seg, terminated) = match self.rest.iter().position(|&b| b == b'\r' || b == b'\n') {
                Some(p) => (self.rest.get(..p)?, true),
                None => (self.rest, false),
            };
            self.rest = self.rest.get(seg.len() + usize::from(terminated)..).unwrap_or(&[]);
            if !seg.is_empty() {
                self.left -= 1;
                return Some((seg, terminated || self.ended));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::dissect::testutil::{facts, frames};
    use crate::fact::collect::Collect;
    use std::string::{String, ToString};
    use std::vec::Vec;

    const CAPTURE: &str = "hl7-mllp-adt__ndpi.pcap";

    fn run(b: &[u8]) -> (Result<()>, Collect) {
        crate::dissect::testutil::run(dissect, b)
    }

    fn mllp(msg: &str) -> Vec<u8> {
        let mut v = std::vec![MLLP_START];
        v.extend_from_slice(msg.as_bytes());
        v.extend_from_slice(&[MLLP_END, b'\r']);
        v
    }

    #[test]
    fn capture_adt_and_ack() {
        let c = facts(CAPTURE);
        let adt = "Hl7 SENDING_APPLICATION|SENDING_FACILITY -> RECEIVING_APPLICATION|RECEIVING_FACILITY \
                   type=ADT^A01 ver=2.3 ack=false";
        let ack = "Hl7 RECEIVING_APPLICATION|RECEIVING_FACILITY -> SENDING_APPLICATION|SENDING_FACILITY \
                   type=ACK ver=2.3 ack=true";
        assert!(c.lines.iter().any(|l| l == adt), "{:#?}", c.lines);
        assert!(c.lines.iter().any(|l| l == ack), "{:#?}", c.lines);
        assert!(c.has("Speaks hl7_sender"));
        assert!(c.has("Speaks hl7_receiver"));
        assert!(!c.has("Hl7DeviceId"));
    }

    /// Every PID value in the capture, read here from the bytes (the dissector never does).
    fn pid_values() -> Vec<String> {
        let mut out = Vec::new();
        for (_, f) in frames(CAPTURE) {
            let Some(p) = f.windows(4).position(|w| w == b"\rPID") else { continue };
            let pid = f[p + 1..].split(|&b| b == b'\r').next().unwrap();
            for field in pid.split(|&b| b == b'|').skip(1) {
                for comp in field.split(|&b| b == b'^') {
                    let v = String::from_utf8_lossy(comp).trim().to_string();
                    if v.len() >= 3 {
                        out.push(v);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn no_patient_data_in_facts() {
        let pid = pid_values();
        // The capture's test patient really is there to be leaked.
        for v in ["MOUSE", "MICKEY", "135769", "19281118", "123 Main St.", "ohtoodles@notdisney.com"] {
            assert!(pid.iter().any(|p| p == v), "{v} not found in {pid:?}");
        }
        let c = facts(CAPTURE);
        for l in &c.lines {
            for v in &pid {
                assert!(!l.contains(v.as_str()), "{l:?} contains PID value {v:?}");
            }
            for v in ["MINNIE", "WIFE", "Penicillin", "Anaphylactic", "dander"] {
                assert!(!l.contains(v), "{l:?} contains {v:?}");
            }
        }
    }

    #[test]
    fn device_ids_from_prt_16_and_obx_18() {
        let msg = "MSH|^~\\&|MONITOR_GW|ICU|EMR|HOSP|20240101120000||ORU^R01^ORU_R01|1|P|2.7\r\
                   PID|1||4711^^^HOSP^MR||DOE^JANE\r\
                   PRT|1|AD||RO^Reference Operator||||||||||||PUMP-0042^ACME^1.2.3^ISO\r\
                   OBR|1|||1234^Vitals\r\
                   OBX|1|NM|8867-4^Heart rate^LN||72|/min|||||F|||20240101||||MX700-0001^PHILIPS~SN123^PHILIPS\r\
                   OBX|2|NM|8310-5^Temp^LN||37.2|Cel|||||F|||20240101||||MX700-0001^PHILIPS\r";
        let (r, c) = run(&mllp(msg));
        assert_eq!(r, Ok(()));
        assert_eq!(
            c.lines,
            [
                "Speaks hl7_sender",
                "Hl7 MONITOR_GW|ICU -> EMR|HOSP type=ORU^R01^ORU_R01 ver=2.7 ack=false",
                "Info 02:00:00:00:00:01 Hl7DeviceId PUMP-0042^ACME^1.2.3^ISO",
                "Info 02:00:00:00:00:01 Hl7DeviceId MX700-0001^PHILIPS",
                "Info 02:00:00:00:00:01 Hl7DeviceId SN123^PHILIPS",
            ]
        );
        for l in &c.lines {
            for v in ["4711", "DOE", "JANE", "72", "37.2", "Heart", "Vitals", "Reference"] {
                assert!(!l.contains(v), "{l:?} contains {v:?}");
            }
        }
    }

    #[test]
    fn device_ids_are_bounded() {
        let mut msg = String::from("MSH|^~\\&|A|B|C|D|||ORU^R01|1|P|2.5\r");
        for i in 0..40 {
            msg.push_str(&std::format!("OBX|{i}|NM|x||1|||||||||||||DEV{i}~DEV{i}b\r"));
        }
        let (r, c) = run(&mllp(&msg));
        assert_eq!(r, Ok(()));
        assert_eq!(c.lines.iter().filter(|l| l.contains("Hl7DeviceId")).count(), MAX_DEVICE_IDS);
    }

    #[test]
    fn hash_as_field_separator() {
        let msg = "MSH#^~\\&#LAB_SYS#LAB#HIS#HOSP#20240101##ORU^R01#77#P#2.5\r\
                   PID#1##999^^^H##SMITH^JOHN\r\
                   OBX#1#ST#x##secret|value######F#######ANALYZER-7\r";
        let (r, c) = run(&mllp(msg));
        assert_eq!(r, Ok(()));
        assert!(c.has("Hl7 LAB_SYS|LAB -> HIS|HOSP type=ORU^R01 ver=2.5 ack=false"), "{:?}", c.lines);
        assert!(c.has("Hl7DeviceId ANALYZER-7"));
        assert!(!c.has("SMITH") && !c.has("secret"));
    }

    #[test]
    fn lf_and_crlf_separators_and_msa() {
        let msg = "MSH|^~\\&|R|RF|S|SF|20240101||ACK^A01|5|P|2.4\r\nMSA|AA|934\r\n";
        let (r, c) = run(&mllp(msg));
        assert_eq!(r, Ok(()));
        assert_eq!(c.lines[0], "Speaks hl7_receiver");
        assert!(c.has("type=ACK^A01 ver=2.4 ack=true"));
        // MSA alone marks an acknowledgement even if MSH-9 does not say ACK.
        let (_, c) = run(&mllp("MSH|^~\\&|R|RF|S|SF|||ADT^A01|5|P|2.3\nMSA|AA|1\n"));
        assert!(c.has("type=ADT^A01 ver=2.3 ack=true"));
        // An MSA-like prefix of a longer segment id is not MSA.
        let (_, c) = run(&mllp("MSH|^~\\&|R|RF|S|SF|||ADT^A01|5|P|2.3\rMSAX|AA\r"));
        assert!(c.has("ack=false"));
    }

    #[test]
    fn block_end_in_a_later_segment() {
        // No end byte: the message goes on. What is complete is used.
        let msg = "\x0bMSH|^~\\&|A|B|C|D|||ADT^A08|1|P|2.5|||\rEVN|A08\rPID|1||123";
        let (r, c) = run(msg.as_bytes());
        assert_eq!(r, Ok(()));
        assert!(c.has("Hl7 A|B -> C|D type=ADT^A08 ver=2.5 ack=false"));
        // Cut right after MSH-12: the version may be partial, so it is left out.
        let (r, c) = run(b"\x0bMSH|^~\\&|A|B|C|D|||ADT^A08|1|P|2.");
        assert_eq!(r, Ok(()));
        assert!(c.has("type=ADT^A08 ver= ack=false"), "{:?}", c.lines);
        // The end byte ends the block, even without a final CR.
        let (_, c) = run(b"\x0bMSH|^~\\&|A|B|C|D|||ADT^A08|1|P|2.5\x1c\r");
        assert!(c.has("ver=2.5"));
        // A device identifier cut by the segment end is not reported.
        let (_, c) = run(b"\x0bMSH|^~\\&|A|B|C|D|||ORU^R01|1|P|2.5\rOBX|1|||||||||||||||||DEV-12");
        assert!(!c.has("Hl7DeviceId"));
        let (_, c) = run(b"\x0bMSH|^~\\&|A|B|C|D|||ORU^R01|1|P|2.5\rOBX|1|||||||||||||||||DEV-12|");
        assert!(c.has("Hl7DeviceId DEV-12"));
    }

    #[test]
    fn truncated_header() {
        for m in [&b"\x0bMSH|"[..], b"\x0bMSH|^~\\&|SENDING_APP|FAC", b"\x0bMSH|^~\\&|A|B|C|D|||AD", b"\x0bMSH"] {
            let (r, c) = run(m);
            assert_eq!(r, Err(Error::Truncated), "{:?}", String::from_utf8_lossy(m));
            assert!(c.lines.is_empty());
        }
        // The block ended: a short header is malformed, not truncated.
        assert_eq!(run(&mllp("MSH|^~\\&|A|B")).0, Err(Error::Malformed));
        assert_eq!(run(&mllp("MSH")).0, Err(Error::Malformed));
    }

    #[test]
    fn not_hl7() {
        for m in [
            &b""[..],
            b"\x0b",
            b"\x0b\r\n\r",
            b"\x0bPID|1||135769||MOUSE^MICKEY\rMSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.3\r",
            b"\x0bEVN|A01\r",
            b"\x0b\x17\x03\x03\x00\x20binary",
            b"GET / HTTP/1.1\r\n",
            b"\x0bMS",
        ] {
            let (r, c) = run(m);
            assert_eq!(r, Err(Error::NotMine), "{:?}", String::from_utf8_lossy(m));
            assert!(c.lines.is_empty());
        }
    }

    #[test]
    fn malformed_header() {
        for m in [
            "MSHA^~\\&AAABACADAAAAADT^A01", // alphanumeric separator
            "MSH ^~\\& A B C D   ADT^A01",  // space separator
            "MSH|||A|B|C|D|||ADT^A01|1|P|2.3",
            "MSH|^~\\&abc|A|B|C|D|||ADT^A01|1|P|2.3",
            "MSH|^~\\&|A|B|C|D|||||1|P|2.3", // no message type
            "MSH|^~\\&|A\x01|B|C|D|||ADT^A01|1|P|2.3",
        ] {
            assert_eq!(run(&mllp(m)).0, Err(Error::Malformed), "{m:?}");
        }
    }

    #[test]
    fn batch_headers_before_msh() {
        let msg = "FHS|^~\\&|X\rBHS|^~\\&|X\rMSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.3\r";
        let (r, c) = run(&mllp(msg));
        assert_eq!(r, Ok(()));
        assert!(c.has("Hl7 A|B -> C|D"));
        let msg = "BHS|\rBHS|\rBHS|\rMSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.3\r";
        assert_eq!(run(&mllp(msg)).0, Err(Error::NotMine));
    }

    #[test]
    fn only_the_first_block() {
        let mut b = mllp("MSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.3\r");
        b.extend(mllp("MSH|^~\\&|E|F|G|H|||ORU^R01|2|P|2.3\rOBX|1|||||||||||||||||DEV|\r"));
        let (_, c) = run(&b);
        assert_eq!(c.lines.len(), 2);
        assert!(c.has("Hl7 A|B -> C|D"));
    }

    #[test]
    fn many_segments_are_bounded() {
        let mut msg = String::from("MSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.3\r");
        for _ in 0..2000 {
            msg.push_str("NTE|1\r");
        }
        msg.push_str("MSA|AA|1\r"); // past the segment bound: not seen
        let (r, c) = run(&mllp(&msg));
        assert_eq!(r, Ok(()));
        assert!(c.has("ack=false"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let mut b = std::vec![MLLP_START];
            b.extend(tail);
            let _ = run(&b);
        }

        #[test]
        fn never_panics_near_hl7(tail in "[MSHOBXPRT|^~&#\r\n\x1c0-9A]{0,200}") {
            let mut b = std::vec![MLLP_START];
            b.extend_from_slice(b"MSH|^~\\&|");
            b.extend_from_slice(tail.as_bytes());
            let _ = run(&b);
        }
    }
}
