//! DICOM upper layer (PS3.8 §9.3): the A-ASSOCIATE-RQ and A-ASSOCIATE-AC PDUs only.
//!
//! From an association request or accept this reads the AE titles, the first proposed
//! abstract syntax (SOP class) and the user information sub-items that name the
//! implementation (class UID, version name). It is reached by content on any TCP port, so the
//! fixed part of the PDU is checked strictly (PDU length, protocol version, reserved areas,
//! printable AE titles) before anything is believed, and every item must stay inside the
//! declared PDU length.
//!
//! Deliberately not read: P-DATA-TF (type 0x04) and everything after the association, since
//! its datasets are patient data; A-ASSOCIATE-RJ / release / abort carry no identity.
//! The PDU may continue in later TCP segments (no reassembly): what is in this segment is
//! parsed, and an item cut by the segment end is used only if its value is complete.

use super::util::{trim, Cursor};
use super::{Error, Result};
use crate::fact::{DicomPdu, Fact, FrameCtx, Sink};
use wardtap_proto::{InfoField, NameSource, Protocol, SoftwareSource};

/// PDU types handled here.
pub mod pdu_type {
    /// A-ASSOCIATE-RQ.
    pub const ASSOCIATE_RQ: u8 = 0x01;
    /// A-ASSOCIATE-AC.
    pub const ASSOCIATE_AC: u8 = 0x02;
}

/// Item and sub-item types (PS3.8 §9.3.2, §9.3.3, PS3.7 Annex D).
pub mod item {
    /// Application context.
    pub const APPLICATION_CONTEXT: u8 = 0x10;
    /// Presentation context in an A-ASSOCIATE-RQ.
    pub const PRESENTATION_CONTEXT_RQ: u8 = 0x20;
    /// Presentation context in an A-ASSOCIATE-AC.
    pub const PRESENTATION_CONTEXT_AC: u8 = 0x21;
    /// Abstract syntax sub-item (RQ only).
    pub const ABSTRACT_SYNTAX: u8 = 0x30;
    /// Transfer syntax sub-item.
    pub const TRANSFER_SYNTAX: u8 = 0x40;
    /// User information.
    pub const USER_INFORMATION: u8 = 0x50;
    /// Maximum length sub-item.
    pub const MAX_LENGTH: u8 = 0x51;
    /// Implementation class UID sub-item.
    pub const IMPL_CLASS_UID: u8 = 0x52;
    /// Implementation version name sub-item.
    pub const IMPL_VERSION_NAME: u8 = 0x55;
    /// Highest user information sub-item type defined (0x59, user identity AC), with room
    /// for later additions in the same range.
    pub const USER_INFO_LAST: u8 = 0x5f;
}

#[allow(dead_code)] // Offsets document the header; the parser reads it in order.
mod field {
    pub type Field = core::ops::Range<usize>;
    pub const PDU_TYPE: usize = 0;
    pub const RESERVED1: usize = 1;
    pub const LENGTH: Field = 2..6;
    /// Everything before the PDU body: the PDU length counts from here.
    pub const PDU_HEADER: usize = 6;
    pub const VERSION: Field = 6..8;
    pub const RESERVED2: Field = 8..10;
    pub const CALLED_AE: Field = 10..26;
    pub const CALLING_AE: Field = 26..42;
    pub const RESERVED3: Field = 42..74;
    /// First variable item.
    pub const ITEMS: usize = 74;
}

/// Length of the fixed RQ/AC body (version to the 32 reserved bytes).
const FIXED_BODY: u32 = (field::ITEMS - field::PDU_HEADER) as u32;
/// PS3.8 sets no upper bound, but a request proposing all 128 presentation contexts with
/// many transfer syntaxes each stays far below this; the cap rejects random lengths.
const MAX_ASSOC_PDU: u32 = 256 * 1024;
/// Top-level items looked at: 128 presentation contexts plus application context, user
/// information and slack. More are left unread (not an error).
const MAX_ITEMS: usize = 160;
/// Sub-items looked at inside one presentation context or user information item.
const MAX_SUB_ITEMS: usize = 64;
/// UIDs are at most 64 characters (PS3.5 §9.1).
const MAX_UID: usize = 64;
/// The standard says 16; some implementations send more, so be lenient up to this.
const MAX_VERSION_NAME: usize = 64;

/// What one association PDU says.
struct Assoc<'a> {
    pdu: DicomPdu,
    called_ae: &'a [u8],
    calling_ae: &'a [u8],
    impl_class_uid: Option<&'a [u8]>,
    impl_version: Option<&'a [u8]>,
    sop_class: Option<&'a [u8]>,
}

/// Dissects the start of an A-ASSOCIATE-RQ or -AC; anything else is [`Error::NotMine`].
///
/// Emits `Dicom`, the sender's own AE title as a `Name` (the calling AE of a request, the
/// called AE echoed in an accept), its implementation version as `Software` and its
/// implementation class UID as `Info`.
pub fn dissect<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
    let a = parse(payload)?;
    let (protocol, own_ae) = match a.pdu {
        DicomPdu::AssociateRq => (Protocol::DicomScu, a.calling_ae),
        DicomPdu::AssociateAc => (Protocol::DicomScp, a.called_ae),
    };
    super::speak(ctx, protocol, sink);
    sink.fact(
        ctx,
        &Fact::Dicom {
            pdu: a.pdu,
            called_ae: a.called_ae,
            calling_ae: a.calling_ae,
            impl_class_uid: a.impl_class_uid,
            impl_version: a.impl_version,
            sop_class: a.sop_class,
        },
    );
    let mac = ctx.src_mac;
    sink.fact(ctx, &Fact::Name { mac, name: own_ae, source: NameSource::DicomAe });
    if let Some(text) = a.impl_version {
        sink.fact(ctx, &Fact::Software { mac, text, source: SoftwareSource::DicomImplVersion });
    }
    if let Some(value) = a.impl_class_uid {
        sink.fact(ctx, &Fact::Info { mac, field: InfoField::DicomImplClassUid, value });
    }
    Ok(())
}

/// Parses and validates; no fact is emitted unless the whole segment checks out.
fn parse(payload: &[u8]) -> Result<Assoc<'_>> {
    let mut c = Cursor::new(payload);
    // Too short to tell what it is: say nothing rather than count a DICOM error.
    let (Ok(ty), Ok(reserved1), Ok(length), Ok(version)) = (c.u8(), c.u8(), c.u32(), c.u16()) else {
        return Err(Error::NotMine);
    };
    let pdu = match ty {
        pdu_type::ASSOCIATE_RQ => DicomPdu::AssociateRq,
        pdu_type::ASSOCIATE_AC => DicomPdu::AssociateAc,
        _ => return Err(Error::NotMine),
    };
    if reserved1 != 0 || !(FIXED_BODY..=MAX_ASSOC_PDU).contains(&length) || version & 1 == 0 {
        return Err(Error::NotMine);
    }
    // The sniff fields agree; from here a short segment is a truncated association.
    let reserved2 = c.u16()?;
    let called = c.take(field::CALLED_AE.len())?;
    let calling = c.take(field::CALLING_AE.len())?;
    let reserved3 = c.take(field::RESERVED3.len())?;
    if reserved2 != 0 || reserved3.iter().any(|&b| b != 0) {
        return Err(Error::NotMine);
    }
    let (Some(called_ae), Some(calling_ae)) = (ae_title(called), ae_title(calling)) else {
        return Err(Error::NotMine);
    };

    // Items: declared to end at the PDU end, present up to the segment end.
    let declared = (length - FIXED_BODY) as usize;
    let mut a = Assoc { pdu, called_ae, calling_ae, impl_class_uid: None, impl_version: None, sop_class: None };
    let (pc_type, abstract_ok) = match pdu {
        DicomPdu::AssociateRq => (item::PRESENTATION_CONTEXT_RQ, true),
        DicomPdu::AssociateAc => (item::PRESENTATION_CONTEXT_AC, false),
    };
    let mut items = Items::new(c.rest(), declared, MAX_ITEMS);
    while let Some(it) = items.next()? {
        match it.ty {
            item::APPLICATION_CONTEXT => {}
            t if t == pc_type => presentation_context(&it, abstract_ok, &mut a)?,
            item::USER_INFORMATION => user_information(&it, &mut a)?,
            _ => return Err(Error::Malformed),
        }
    }
    Ok(a)
}

/// Presentation context: ID, reserved, result (AC) / reserved (RQ), reserved, sub-items.
/// Storage SOP classes (CT, MR, US, CR, DX, MG, NM, PET, SR...) share this prefix.
const STORAGE_PREFIX: &[u8] = b"1.2.840.10008.5.1.4.1.1.";

fn presentation_context<'a>(it: &Item<'a>, abstract_ok: bool, a: &mut Assoc<'a>) -> Result<()> {
    let Some(sub_declared) = it.declared.checked_sub(4) else {
        return Err(Error::Malformed);
    };
    let Some(subs) = it.value.get(4..) else {
        return Ok(()); // cut by the segment end inside the fixed part
    };
    let mut subs = Items::new(subs, sub_declared, MAX_SUB_ITEMS);
    while let Some(s) = subs.next()? {
        match s.ty {
            item::ABSTRACT_SYNTAX if abstract_ok => {
                // Keep the first proposal, but let a storage class replace a non-storage one:
                // SCUs often propose Verification first, and what they store says what they are.
                let this = s.whole().and_then(uid);
                let is_storage = |u: &[u8]| u.starts_with(STORAGE_PREFIX);
                if a.sop_class.is_none() || (!a.sop_class.is_some_and(is_storage) && this.is_some_and(is_storage)) {
                    a.sop_class = this.or(a.sop_class);
                }
            }
            item::TRANSFER_SYNTAX => {}
            _ => return Err(Error::Malformed),
        }
    }
    Ok(())
}

/// User information: only the implementation class UID and version name are kept.
fn user_information<'a>(it: &Item<'a>, a: &mut Assoc<'a>) -> Result<()> {
    let mut subs = Items::new(it.value, it.declared, MAX_SUB_ITEMS);
    while let Some(s) = subs.next()? {
        match s.ty {
            item::IMPL_CLASS_UID => a.impl_class_uid = s.whole().and_then(uid),
            item::IMPL_VERSION_NAME => a.impl_version = s.whole().and_then(version_name),
            item::MAX_LENGTH..=item::USER_INFO_LAST => {}
            _ => return Err(Error::Malformed),
        }
    }
    Ok(())
}

/// A 16-byte AE title: printable ASCII without backslash (VR AE), space padded (NUL padding
/// tolerated after the text), not all blank. Returns it trimmed.
fn ae_title(raw: &[u8]) -> Option<&[u8]> {
    let text_end = raw.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    let text = raw.get(..text_end)?;
    if text.iter().any(|&b| !(0x20..0x7f).contains(&b) || b == b'\\') {
        return None;
    }
    Some(trim(text)).filter(|t| !t.is_empty())
}

/// A UID value: digits and dots, NUL or space padding trimmed. Anything else is dropped.
fn uid(v: &[u8]) -> Option<&[u8]> {
    let v = trim(v);
    (!v.is_empty() && v.len() <= MAX_UID && v.iter().all(|&b| b.is_ascii_digit() || b == b'.')).then_some(v)
}

/// An implementation version name: printable ASCII, padding trimmed. Anything else is dropped.
fn version_name(v: &[u8]) -> Option<&[u8]> {
    let v = trim(v);
    (!v.is_empty() && v.len() <= MAX_VERSION_NAME && v.iter().all(|&b| (0x20..0x7f).contains(&b))).then_some(v)
}

/// One item or sub-item: type(1) reserved(1) length(2 BE) value.
struct Item<'a> {
    ty: u8,
    /// The part of the value present in this segment.
    value: &'a [u8],
    /// The declared value length.
    declared: usize,
}

impl<'a> Item<'a> {
    /// The value, if the segment holds all of it.
    fn whole(&self) -> Option<&'a [u8]> {
        (self.value.len() == self.declared).then_some(self.value)
    }
}

/// Items in a region `declared` bytes long, of which `buf` is the part in this segment.
/// An item running past `declared` is [`Error::Malformed`]; the segment ending early just
/// ends the iteration (the last item may be partial).
struct Items<'a> {
    buf: &'a [u8],
    declared: usize,
    pos: usize,
    left: usize,
}

impl<'a> Items<'a> {
    fn new(buf: &'a [u8], declared: usize, max: usize) -> Self {
        let buf = buf.get(..declared).unwrap_or(buf);
        Items { buf, declared, pos: 0, left: max }
    }

    fn next(&mut self) -> Result<Option<Item<'a>>> {
        let Some(rest_declared) = self.declared.checked_sub(self.pos).filter(|&n| n > 0) else {
            return Ok(None);
        };
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        // A partial item header inside the declared region is a lie, wherever the segment ends.
        let Some(rest_after_header) = rest_declared.checked_sub(4) else {
            return Err(Error::Malformed);
        };
        let Some(&[ty, _reserved, hi, lo]) = self.buf.get(self.pos..).and_then(|r| r.get(..4)) else {
            return Ok(None); // the segment ends here; the PDU goes on
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len > rest_after_header {
            return Err(Error::Malformed);
        }
        let start = self.pos + 4;
        let end = start + len; // <= declared, so no overflow
        let value = self.buf.get(start..end.min(self.buf.len())).unwrap_or(&[]);
        self.pos = end;
        Ok(Some(Item { ty, value, declared: len }))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::dissect::testutil::facts;
    use crate::fact::collect::Collect;
    use std::vec::Vec;

    const CAPTURE: &str = "dicom-dhcp-smb-hospital-synthetic__tapirxl.pcap";

    fn item(ty: u8, value: &[u8]) -> Vec<u8> {
        let mut v = std::vec![ty, 0];
        v.extend_from_slice(&(value.len() as u16).to_be_bytes());
        v.extend_from_slice(value);
        v
    }

    fn ae(s: &str) -> [u8; 16] {
        let mut a = [b' '; 16];
        a[..s.len()].copy_from_slice(s.as_bytes());
        a
    }

    /// A PDU with a correct length around `items`.
    fn pdu(ty: u8, called: [u8; 16], calling: [u8; 16], items: &[u8]) -> Vec<u8> {
        let mut body = std::vec![0, 1, 0, 0];
        body.extend_from_slice(&called);
        body.extend_from_slice(&calling);
        body.extend_from_slice(&[0; 32]);
        body.extend_from_slice(items);
        let mut v = std::vec![ty, 0];
        v.extend_from_slice(&(body.len() as u32).to_be_bytes());
        v.extend_from_slice(&body);
        v
    }

    fn user_info(uid: &[u8], ver: &[u8]) -> Vec<u8> {
        let mut ui = item(0x51, &16384u32.to_be_bytes());
        ui.extend(item(0x52, uid));
        ui.extend(item(0x55, ver));
        item(0x50, &ui)
    }

    fn rq_items(sop: &[u8]) -> Vec<u8> {
        let mut v = item(0x10, b"1.2.840.10008.3.1.1.1");
        let mut pc = std::vec![1, 0, 0, 0];
        pc.extend(item(0x30, sop));
        pc.extend(item(0x40, b"1.2.840.10008.1.2"));
        pc.extend(item(0x40, b"1.2.840.10008.1.2.1"));
        v.extend(item(0x20, &pc));
        v.extend(user_info(b"1.2.276.0.7230010.3.0.3.6.8", b"OFFIS_DCMTK_368"));
        v
    }

    fn rq() -> Vec<u8> {
        pdu(1, ae("STORESCP"), ae("MODALITY1"), &rq_items(b"1.2.840.10008.5.1.4.1.1.4\0"))
    }

    fn ac() -> Vec<u8> {
        let mut v = item(0x10, b"1.2.840.10008.3.1.1.1");
        let mut pc = std::vec![1, 0, 0, 0];
        pc.extend(item(0x40, b"1.2.840.10008.1.2.1"));
        v.extend(item(0x21, &pc));
        v.extend(user_info(b"1.2.3.4", b"PACS_2"));
        pdu(2, ae("STORESCP"), ae("MODALITY1"), &v)
    }

    fn run(b: &[u8]) -> (Result<()>, Collect) {
        crate::dissect::testutil::run(dissect, b)
    }

    #[test]
    fn capture_request_and_accept() {
        let c = facts(CAPTURE);
        let rq = "Dicom AssociateRq called=CCPLATFORM calling=CT9999999 uid=1.3.46.670589.30.36.0 \
                  ver=PMS_ELEVA_416 sop=1.2.840.10008.5.1.4.1.1.2";
        let ac = "Dicom AssociateAc called=CT9999999 calling=CCPLATFORM uid=1.3.46.670589.40.12.2.1 \
                  ver=PMS_ELEVA_CCP12 sop=";
        assert!(c.lines.iter().any(|l| l == rq), "{:#?}", c.lines);
        assert!(c.lines.iter().any(|l| l == ac), "{:#?}", c.lines);
        assert!(c.has("Name 00:90:20:aa:bb:01 DicomAe CT9999999"));
        // PS3.8 Table 9-17: an AC echoes the RQ's AE fields unchanged, so its sender's own AE
        // is the called one. This synthetic capture swaps them in the AC (called=CT9999999),
        // so the acceptor is named after the requestor here: a quirk of the fixture.
        assert!(c.has("Name 00:09:5c:bb:cc:02 DicomAe CT9999999"));
        assert!(c.has("Software 00:90:20:aa:bb:01 DicomImplVersion PMS_ELEVA_416"));
        assert!(c.has("Software 00:09:5c:bb:cc:02 DicomImplVersion PMS_ELEVA_CCP12"));
        assert!(c.has("Info 00:90:20:aa:bb:01 DicomImplClassUid 1.3.46.670589.30.36.0"));
        assert!(c.has("Speaks dicom_scu"));
        assert!(c.has("Speaks dicom_scp"));
        // The P-DATA PDUs carry a dataset with a patient name: never read.
        // (DHCP names the same model in its vendor class; that is not from the dataset.)
        assert!(!c.has("SYNTH"));
        assert!(c.lines.iter().filter(|l| l.contains("Brilliance")).all(|l| l.contains("DhcpVendorClass")));
    }

    #[test]
    fn handmade_request() {
        let (r, c) = run(&rq());
        assert_eq!(r, Ok(()));
        assert_eq!(
            c.lines,
            [
                "Speaks dicom_scu",
                "Dicom AssociateRq called=STORESCP calling=MODALITY1 uid=1.2.276.0.7230010.3.0.3.6.8 \
                 ver=OFFIS_DCMTK_368 sop=1.2.840.10008.5.1.4.1.1.4",
                "Name 02:00:00:00:00:01 DicomAe MODALITY1",
                "Software 02:00:00:00:00:01 DicomImplVersion OFFIS_DCMTK_368",
                "Info 02:00:00:00:00:01 DicomImplClassUid 1.2.276.0.7230010.3.0.3.6.8",
            ]
        );
    }

    #[test]
    fn handmade_accept_names_the_called_ae() {
        let (r, c) = run(&ac());
        assert_eq!(r, Ok(()));
        assert_eq!(
            c.lines,
            [
                "Speaks dicom_scp",
                "Dicom AssociateAc called=STORESCP calling=MODALITY1 uid=1.2.3.4 ver=PACS_2 sop=",
                "Name 02:00:00:00:00:01 DicomAe STORESCP",
                "Software 02:00:00:00:00:01 DicomImplVersion PACS_2",
                "Info 02:00:00:00:00:01 DicomImplClassUid 1.2.3.4",
            ]
        );
    }

    #[test]
    fn pdu_longer_than_segment_parses_what_is_here() {
        // The PDU goes on in the next TCP segment: the presentation context is here, the user
        // information is not.
        let mut b = rq();
        let len = u32::from_be_bytes([b[2], b[3], b[4], b[5]]) + 500;
        b[2..6].copy_from_slice(&len.to_be_bytes());
        let full = b.len();
        let (r, c) = run(&b);
        assert_eq!(r, Ok(()));
        assert!(c.has("ver=OFFIS_DCMTK_368"));
        // Cut inside the user information: its complete sub-items are kept, the cut one not.
        let cut = full - 3;
        let (r, c) = run(&b[..cut]);
        assert_eq!(r, Ok(()));
        assert!(c.has("uid=1.2.276.0.7230010.3.0.3.6.8 ver= sop=1.2.840.10008.5.1.4.1.1.4"), "{:?}", c.lines);
        assert!(!c.has("Software"));
        // Cut right after the fixed header: AE titles only.
        let (r, c) = run(&b[..74]);
        assert_eq!(r, Ok(()));
        assert!(c.has("Dicom AssociateRq called=STORESCP calling=MODALITY1 uid= ver= sop="));
        // Cut inside an item header.
        let (r, c) = run(&b[..76]);
        assert_eq!(r, Ok(()));
        assert!(c.has("Name 02:00:00:00:00:01 DicomAe MODALITY1"));
    }

    #[test]
    fn cut_abstract_syntax_is_not_reported() {
        let b = rq();
        let pos = b.windows(4).position(|w| w == [0x30, 0, 0, 26]).unwrap();
        let (r, c) = run(&b[..pos + 10]);
        assert_eq!(r, Ok(()));
        assert!(c.lines[1].ends_with("sop="), "{:?}", c.lines);
    }

    #[test]
    fn fixed_header_must_be_complete() {
        let b = rq();
        // Type, reserved, length and version identify it; after those a short segment is a
        // truncated association, before them it is too little to say.
        for n in 8..74 {
            assert_eq!(run(&b[..n]).0, Err(Error::Truncated), "{n}");
        }
        for n in 0..8 {
            assert_eq!(run(&b[..n]).0, Err(Error::NotMine), "{n}");
        }
    }

    #[test]
    fn length_lies() {
        let mut b = rq();
        // Shorter than the fixed body.
        b[2..6].copy_from_slice(&67u32.to_be_bytes());
        assert_eq!(run(&b).0, Err(Error::NotMine));
        // Absurdly long.
        b[2..6].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(run(&b).0, Err(Error::NotMine));
        // Exactly the fixed body, with items following in the segment: they are not part of
        // this PDU and are ignored.
        b[2..6].copy_from_slice(&68u32.to_be_bytes());
        let (r, c) = run(&b);
        assert_eq!(r, Ok(()));
        assert!(c.has("uid= ver= sop="));
        // Shorter than the items in the segment: the item crossing the PDU end is a lie.
        let real = rq().len() as u32 - 6;
        b[2..6].copy_from_slice(&(real - 5).to_be_bytes());
        let (r, c) = run(&b);
        assert_eq!(r, Err(Error::Malformed));
        assert!(c.lines.is_empty());
    }

    #[test]
    fn item_overruns() {
        // An item longer than the PDU.
        let mut items = rq_items(b"1.2.840.10008.5.1.4.1.1.4");
        items[2..4].copy_from_slice(&0xffffu16.to_be_bytes());
        assert_eq!(run(&pdu(1, ae("A"), ae("B"), &items)).0, Err(Error::Malformed));
        // A sub-item longer than its presentation context.
        let mut pc = std::vec![1, 0, 0, 0];
        pc.extend(item(0x30, b"1.2.3"));
        let n = pc.len();
        pc[n - 6..n - 4].copy_from_slice(&6u16.to_be_bytes());
        let (r, c) = run(&pdu(1, ae("A"), ae("B"), &item(0x20, &pc)));
        assert_eq!(r, Err(Error::Malformed));
        assert!(c.lines.is_empty());
        // A sub-item longer than its user information item.
        let mut ui = item(0x52, b"1.2.3");
        ui[3] = 200;
        assert_eq!(run(&pdu(1, ae("A"), ae("B"), &item(0x50, &ui))).0, Err(Error::Malformed));
        // Three stray bytes at the end of the PDU: half an item header.
        assert_eq!(run(&pdu(1, ae("A"), ae("B"), &[0x10, 0, 0])).0, Err(Error::Malformed));
    }

    #[test]
    fn zero_length_items() {
        // Empty items are harmless and do not loop; empty values are not reported.
        let mut items = item(0x10, b"");
        items.extend(item(0x50, b""));
        items.extend(item(0x50, &[item(0x52, b""), item(0x55, b"")].concat()));
        let (r, c) = run(&pdu(1, ae("A"), ae("B"), &items));
        assert_eq!(r, Ok(()));
        assert_eq!(c.lines.len(), 3); // Speaks, Dicom, Name
                                      // A presentation context too short for its fixed part.
        assert_eq!(run(&pdu(1, ae("A"), ae("B"), &item(0x20, b""))).0, Err(Error::Malformed));
        assert_eq!(run(&pdu(1, ae("A"), ae("B"), &item(0x20, &[1, 0, 0]))).0, Err(Error::Malformed));
        // Thousands of empty items: bounded, no error.
        let many: Vec<u8> = (0..5000).flat_map(|_| item(0x10, b"")).collect();
        assert_eq!(run(&pdu(1, ae("A"), ae("B"), &many)).0, Ok(()));
    }

    #[test]
    fn wrong_item_types() {
        // AC-style presentation context in a request, abstract syntax in an accept.
        let mut pc = std::vec![1, 0, 0, 0];
        pc.extend(item(0x40, b"1.2.840.10008.1.2"));
        assert_eq!(run(&pdu(1, ae("A"), ae("B"), &item(0x21, &pc))).0, Err(Error::Malformed));
        let mut pc = std::vec![1, 0, 0, 0];
        pc.extend(item(0x30, b"1.2.840.10008.1.1"));
        assert_eq!(run(&pdu(2, ae("A"), ae("B"), &item(0x21, &pc))).0, Err(Error::Malformed));
        assert_eq!(run(&pdu(1, ae("A"), ae("B"), &item(0x99, b"x"))).0, Err(Error::Malformed));
        assert_eq!(run(&pdu(1, ae("A"), ae("B"), &item(0x50, &item(0x10, b"x")))).0, Err(Error::Malformed));
        // Other user information sub-items (SCP/SCU role, user identity...) are skipped.
        let ui = [item(0x54, &[0, 3, b'1', b'.', b'2', 1, 0]), item(0x58, &[1, 0, 0, 1, b'u', 0, 0])].concat();
        assert_eq!(run(&pdu(1, ae("A"), ae("B"), &item(0x50, &ui))).0, Ok(()));
    }

    #[test]
    fn ae_titles_must_be_printable() {
        let mut bad = ae("CT01");
        bad[2] = 0xc3;
        assert_eq!(run(&pdu(1, bad, ae("B"), &[])).0, Err(Error::NotMine));
        bad[2] = b'\n';
        assert_eq!(run(&pdu(1, ae("A"), bad, &[])).0, Err(Error::NotMine));
        bad[2] = b'\\';
        assert_eq!(run(&pdu(2, ae("A"), bad, &[])).0, Err(Error::NotMine));
        // All blank.
        assert_eq!(run(&pdu(1, ae(""), ae("B"), &[])).0, Err(Error::NotMine));
        assert_eq!(run(&pdu(1, [0; 16], ae("B"), &[])).0, Err(Error::NotMine));
        // NUL padding after the text is tolerated; a NUL inside it is not.
        let mut nul = [0u8; 16];
        nul[..4].copy_from_slice(b"CT01");
        let (r, c) = run(&pdu(1, ae("PACS"), nul, &[]));
        assert_eq!(r, Ok(()));
        assert!(c.has("DicomAe CT01"));
        nul[5] = b'X';
        assert_eq!(run(&pdu(1, ae("PACS"), nul, &[])).0, Err(Error::NotMine));
        // Leading spaces are trimmed.
        let (_, c) = run(&pdu(1, ae("  PACS"), ae("CT"), &[]));
        assert!(c.has("called=PACS calling=CT"));
    }

    #[test]
    fn version_and_reserved_areas_are_checked() {
        let good = rq();
        let mut b = good.clone();
        b[6..8].copy_from_slice(&[0, 2]);
        assert_eq!(run(&b).0, Err(Error::NotMine));
        let mut b = good.clone();
        b[6..8].copy_from_slice(&[0x80, 1]); // later versions keep bit 0
        assert_eq!(run(&b).0, Ok(()));
        let mut b = good.clone();
        b[9] = 1;
        assert_eq!(run(&b).0, Err(Error::NotMine));
        let mut b = good.clone();
        b[60] = 0xff;
        assert_eq!(run(&b).0, Err(Error::NotMine));
        let mut b = good.clone();
        b[1] = 1;
        assert_eq!(run(&b).0, Err(Error::NotMine));
        // Other PDU types (P-DATA, release, abort) are not read at all.
        for t in [3u8, 4, 5, 6, 7] {
            let mut b = good.clone();
            b[0] = t;
            assert_eq!(run(&b).0, Err(Error::NotMine));
        }
    }

    #[test]
    fn bad_values_are_dropped_not_reported() {
        let mut items = rq_items(b"1.2.840.10008.5.1.4.1.1.4");
        items.extend(user_info(b"1.2.x", b"bad\x01name"));
        let (r, c) = run(&pdu(1, ae("A"), ae("B"), &items));
        assert_eq!(r, Ok(()));
        assert!(c.has("uid= ver= sop=1.2.840.10008.5.1.4.1.1.4"), "{:?}", c.lines);
    }

    #[test]
    fn first_abstract_syntax_wins() {
        let mut items = rq_items(b"1.2.840.10008.5.1.4.1.1.2");
        items.extend(rq_items(b"1.2.840.10008.1.1"));
        let (_, c) = run(&pdu(1, ae("A"), ae("B"), &items));
        assert!(c.has("sop=1.2.840.10008.5.1.4.1.1.2"));
    }

    #[test]
    fn storage_class_after_verification_is_reported() {
        // storescu proposes Verification first, then the storage classes it will send.
        let mut items = rq_items(b"1.2.840.10008.1.1");
        items.extend(rq_items(b"1.2.840.10008.5.1.4.1.1.2"));
        items.extend(rq_items(b"1.2.840.10008.5.1.4.1.1.4"));
        let (_, c) = run(&pdu(1, ae("A"), ae("B"), &items));
        assert!(c.has("sop=1.2.840.10008.5.1.4.1.1.2"), "{:?}", c.lines);
        // Verification alone is still reported.
        let (_, c) = run(&pdu(1, ae("A"), ae("B"), &rq_items(b"1.2.840.10008.1.1")));
        assert!(c.has("sop=1.2.840.10008.1.1"), "{:?}", c.lines);
    }

    #[test]
    fn random_binary_starting_with_01_00_is_rejected() {
        // A deterministic xorshift stream: the fixed-header checks must reject essentially
        // all of it as not DICOM, without counting it as a DICOM error.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut buf = [0u8; 300];
        for round in 0..20_000 {
            for b in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            buf[0] = 1 + (round & 1) as u8;
            buf[1] = 0;
            assert_eq!(run(&buf).0, Err(Error::NotMine));
            // Mostly-zero binary (a common shape) also fails: the AE titles are blank.
            let mut z = [0u8; 120];
            z[0] = 1;
            z[5] = buf[5];
            z[7] = buf[7];
            assert_ne!(run(&z).0, Ok(()));
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400), t in 1u8..3) {
            let mut b = std::vec![t, 0];
            b.extend(tail);
            let _ = run(&b);
        }

        #[test]
        fn never_panics_on_mutated_request(pos in 0usize..200, val in proptest::prelude::any::<u8>(), cut in 0usize..220) {
            let mut b = rq();
            if let Some(x) = b.get_mut(pos) {
                *x = val;
            }
            b.truncate(cut);
            let _ = run(&b);
        }
    }
}
