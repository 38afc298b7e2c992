//! DNS (UDP 53), multicast DNS (UDP 5353) and LLMNR (UDP 5355): one wire format, told apart
//! by port.
//!
//! Parsed: the header, names (with compression pointers, decoded into a stack buffer), the
//! questions of a query, and the A, AAAA, PTR and SRV records of a response (all three
//! record sections). Emitted:
//! - a query: `DnsQuery` per question;
//! - a response: `DnsAddr` for A/AAAA, `DnsPtr` for a reverse (`in-addr.arpa` / `ip6.arpa`)
//!   PTR; over mDNS also `Name` (the sender's `host.local` A/AAAA owner) and `DnsSdService`
//!   (service PTR and SRV records); over LLMNR `Name` (the responder answers for itself).
//!
//! Deliberately not parsed: TXT (free text, may hold anything), CNAME chains, EDNS, DNSSEC,
//! opcodes other than QUERY (UPDATE, NOTIFY), DNS over TCP. The known-answer records of an
//! mDNS query are not read: they are what the asker knows of others, not what it is.
//!
//! Hostile input: a name is at most 255 wire octets; every compression pointer must point
//! strictly before the run of labels it ends (no self or forward loops) and at most
//! [`MAX_JUMPS`] are followed; questions and records are capped at [`MAX_QUESTIONS`] and
//! [`MAX_RECORDS`], whatever the header counts claim. Facts from the records read before a
//! malformed one are still delivered.
//!
//! The name decoder and record reader are shared with NetBIOS and the DHCP FQDN option.

use super::util::{be16, Cursor};
use super::{Error, Result};
use crate::fact::{Fact, FrameCtx, Sink};
use wardtap_proto::{IpAddr, NameSource, Protocol};

/// Longest name on the wire (RFC 1035 3.1), and so the decoded buffer.
pub const MAX_NAME: usize = 255;
/// Compression pointers followed per name.
pub const MAX_JUMPS: usize = 32;
/// Questions read per message.
pub const MAX_QUESTIONS: usize = 16;
/// Resource records (answer + authority + additional) read per message.
pub const MAX_RECORDS: usize = 64;

/// Facts remembered per message to avoid emitting one twice (A and AAAA of one host...).
const SEEN: usize = 16;
/// DNS-SD PTR records held back until the SRV records of the message are known.
const SD_PTRS: usize = 16;

mod field {
    pub const FLAGS: usize = 2;
    pub const QDCOUNT: usize = 4;
    pub const ANCOUNT: usize = 6;
    pub const NSCOUNT: usize = 8;
    pub const ARCOUNT: usize = 10;
    pub const HEADER_LEN: usize = 12;
}

mod rr {
    pub const A: u16 = 1;
    pub const PTR: u16 = 12;
    pub const AAAA: u16 = 28;
    pub const SRV: u16 = 33;
    /// Class IN; mDNS uses the top bit as cache-flush / unicast-response.
    pub const CLASS_IN: u16 = 1;
    pub const CLASS_MASK: u16 = 0x7fff;
}

/// The fixed 12-byte header (DNS, mDNS, LLMNR, NetBIOS-NS alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Flags word (QR, opcode, ..., rcode).
    pub flags: u16,
    /// Question count.
    pub qdcount: u16,
    /// Answer count.
    pub ancount: u16,
    /// Authority count.
    pub nscount: u16,
    /// Additional count.
    pub arcount: u16,
}

impl Header {
    /// Parses the header; the counts are claims, not checked against the data here.
    pub fn parse(msg: &[u8]) -> Result<Header> {
        let h = msg.get(..field::HEADER_LEN).ok_or(Error::Truncated)?;
        let w = |off| be16(h, off).ok_or(Error::Truncated);
        Ok(Header {
            flags: w(field::FLAGS)?,
            qdcount: w(field::QDCOUNT)?,
            ancount: w(field::ANCOUNT)?,
            nscount: w(field::NSCOUNT)?,
            arcount: w(field::ARCOUNT)?,
        })
    }
    /// QR bit: a response.
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    /// Opcode (0 = query).
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }
    /// Response code.
    pub fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }
    /// Answer + authority + additional.
    pub fn records(&self) -> usize {
        usize::from(self.ancount) + usize::from(self.nscount) + usize::from(self.arcount)
    }
}

/// A decoded name: labels joined by `.`, no trailing dot (the root is empty). Label bytes are
/// kept as they are (DNS-SD instance labels hold spaces and may hold dots).
#[derive(Clone)]
pub struct Name {
    /// The dotted text is `buf[..len]`: a run of labels is copied in with one block copy (a
    /// heapless vector copies byte by byte); the array is cleared once, when made.
    buf: [u8; MAX_NAME],
    len: usize,
    labels: usize,
    first: usize,
}

impl core::fmt::Debug for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Name({:?})", self.as_bytes().escape_ascii())
    }
}

impl Default for Name {
    fn default() -> Self {
        Self::new()
    }
}

impl Name {
    /// The root (empty) name: a buffer for [`read_name_into`].
    pub const fn new() -> Self {
        Name { buf: [0; MAX_NAME], len: 0, labels: 0, first: 0 }
    }
    /// The dotted text.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
    /// Number of labels.
    pub fn labels(&self) -> usize {
        self.labels
    }
    /// The first label, exactly as on the wire (even if it holds dots).
    pub fn first_label(&self) -> &[u8] {
        self.as_bytes().get(..self.first).unwrap_or(&[])
    }
    /// Everything after the first label and its dot (empty for a one-label name).
    pub fn rest(&self) -> &[u8] {
        self.as_bytes().get(self.first.saturating_add(1)..).unwrap_or(&[])
    }
    fn clear(&mut self) {
        (self.len, self.labels, self.first) = (0, 0, 0);
    }
    /// Appends a run of labels as it is on the wire (`len label len label ...`, checked by
    /// the caller, the first `first` bytes long): copied at once, then the inner length
    /// bytes become dots (and are counted: the labels are one more).
    fn push_run(&mut self, run: &[u8], first: usize) -> Result<()> {
        let Some((_, text)) = run.split_first() else { return Ok(()) };
        let mut base = self.len;
        if self.labels > 0 {
            *self.buf.get_mut(base).ok_or(Error::Malformed)? = b'.';
            base += 1;
        } else {
            self.first = first;
        }
        let end = base.checked_add(text.len()).ok_or(Error::Malformed)?;
        let copied = self.buf.get_mut(base..end).ok_or(Error::Malformed)?;
        copied.copy_from_slice(text);
        self.len = end;
        // Bounded by the run: every pass moves past a label.
        let (mut at, mut labels) = (first, 1usize);
        while let Some(len) = copied.get_mut(at) {
            let next = at.saturating_add(1).saturating_add(usize::from(*len));
            *len = b'.';
            at = next;
            labels += 1;
        }
        self.labels = self.labels.saturating_add(labels);
        Ok(())
    }
}

/// Reads the name at `start` of `msg`, following compression pointers.
/// Returns it and the offset just past the name where it was written (past the first pointer).
pub fn read_name(msg: &[u8], start: usize) -> Result<(Name, usize)> {
    let mut name = Name::new();
    let end = read_name_into(msg, start, &mut name)?;
    Ok((name, end))
}

/// [`read_name`] into a buffer the caller reuses (a name is 255 bytes: decoding in place
/// spares copying it out). Returns the offset just past the name where it was written; on
/// an error `name` holds a part of it.
pub fn read_name_into(msg: &[u8], start: usize, name: &mut Name) -> Result<usize> {
    decode(msg, start, name).map(|(end, _)| end)
}

/// Steps (labels, pointers, the final zero) a name read may take.
const MAX_STEPS: usize = MAX_NAME / 2 + MAX_JUMPS + 1;

/// Which name a buffer holds: the name at `at` of the message, as [`read_name_into`] reads
/// it from there, and the pointers that took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Held {
    at: usize,
    jumps: usize,
}

/// [`read_name_into`], also saying which name the buffer then holds. A name that starts
/// with a pointer is the name the pointer leads to (one pointer less).
fn decode(msg: &[u8], start: usize, name: &mut Name) -> Result<(usize, Held)> {
    name.clear();
    let mut pos = start;
    // A pointer must go strictly before the run of labels it ends: positions fall at every
    // jump, so no chain of pointers can loop.
    let mut limit = start;
    let mut after: Option<usize> = None;
    let mut wire = 0usize;
    let mut jumps = 0usize;
    // The target of a pointer the name starts with.
    let mut led_to = None;
    // Each step reads a label (at least 2 wire octets of the 255 allowed) or follows a pointer.
    for _ in 0..MAX_STEPS {
        let len = *msg.get(pos).ok_or(Error::Truncated)?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                wire = wire.saturating_add(1);
                if wire > MAX_NAME {
                    return Err(Error::Malformed);
                }
                let held = match led_to {
                    Some(at) => Held { at, jumps: jumps.saturating_sub(1) },
                    None => Held { at: start, jumps },
                };
                return Ok((after.unwrap_or(pos.saturating_add(1)), held));
            }
            0x00 => {
                // A run of labels, up to a pointer or the end: each checked in turn, then all
                // copied at once.
                let (run, first) = (pos, usize::from(len));
                let mut len = len;
                while len != 0 && len & 0xc0 == 0 {
                    let l = usize::from(len);
                    let to = pos.checked_add(1 + l).ok_or(Error::Truncated)?;
                    if to > msg.len() {
                        return Err(Error::Truncated);
                    }
                    wire = wire.saturating_add(1 + l);
                    // Room must remain for the final zero octet (this also bounds the run).
                    if wire >= MAX_NAME {
                        return Err(Error::Malformed);
                    }
                    pos = to;
                    len = *msg.get(pos).ok_or(Error::Truncated)?;
                }
                name.push_run(msg.get(run..pos).unwrap_or_default(), first)?;
            }
            0xc0 => {
                let lo = *msg.get(pos.saturating_add(1)).ok_or(Error::Truncated)?;
                let target = usize::from(len & 0x3f) << 8 | usize::from(lo);
                if after.is_none() {
                    after = Some(pos.saturating_add(2));
                }
                if target >= limit || jumps >= MAX_JUMPS {
                    return Err(Error::Malformed);
                }
                if pos == start {
                    led_to = Some(target);
                }
                jumps += 1;
                limit = target;
                pos = target;
            }
            // 0x40 / 0x80: extended and reserved label types (a "label longer than 63").
            _ => return Err(Error::Malformed),
        }
    }
    Err(Error::Malformed)
}

/// The names of one message, decoded into one buffer that remembers which name it holds: a
/// compression pointer to that name (how the answers of a response usually give their
/// owner) is not decoded again.
struct Names<'m> {
    msg: &'m [u8],
    name: Name,
    held: Option<Held>,
    /// Counts the names decoded: what was derived from the name stays valid while it holds.
    generation: u32,
}

impl<'m> Names<'m> {
    fn new(msg: &'m [u8]) -> Self {
        Names { msg, name: Name::new(), held: None, generation: 0 }
    }

    /// Reads the name at `pos` into the buffer as [`read_name_into`] does; returns the offset
    /// just past it.
    fn read(&mut self, pos: usize) -> Result<usize> {
        if let (Some(h), Some(end)) = (self.held, pos.checked_add(2)) {
            if let Some(&[hi, lo]) = self.msg.get(pos..end) {
                let target = usize::from(hi & 0x3f) << 8 | usize::from(lo);
                // A pointer back to the held name: read from here it takes one more pointer
                // and one more step, so it is the same name if the pointers stay within their
                // bound (the steps then do: at most 127 labels, 32 pointers and the zero).
                if hi & 0xc0 == 0xc0 && target == h.at && target < pos && h.jumps < MAX_JUMPS {
                    return Ok(end);
                }
            }
        }
        self.generation = self.generation.wrapping_add(1);
        let r = decode(self.msg, pos, &mut self.name);
        self.held = r.as_ref().ok().map(|&(_, h)| h);
        r.map(|(end, _)| end)
    }
}

/// One resource record, its owner decoded, its data borrowed.
#[derive(Clone, Debug)]
pub struct Record<'a> {
    /// Owner name.
    pub name: Name,
    /// Type.
    pub rtype: u16,
    /// Class (mDNS cache-flush bit included).
    pub class: u16,
    /// RDATA.
    pub rdata: &'a [u8],
    /// Offset of RDATA in the message (names in it may point back into the message).
    pub rdata_at: usize,
}

/// What follows the owner name of a resource record.
#[derive(Clone, Copy, Debug)]
pub struct RecordData<'a> {
    /// Type.
    pub rtype: u16,
    /// Class (mDNS cache-flush bit included).
    pub class: u16,
    /// RDATA.
    pub rdata: &'a [u8],
    /// Offset of RDATA in the message (names in it may point back into the message).
    pub rdata_at: usize,
}

/// Reads the record at `pos`; returns it and the offset of the next one.
pub fn read_record(msg: &[u8], pos: usize) -> Result<(Record<'_>, usize)> {
    let mut name = Name::new();
    let (d, next) = read_record_into(msg, pos, &mut name)?;
    Ok((Record { name, rtype: d.rtype, class: d.class, rdata: d.rdata, rdata_at: d.rdata_at }, next))
}

/// [`read_record`] with the owner decoded into `owner` (see [`read_name_into`]).
pub fn read_record_into<'a>(msg: &'a [u8], pos: usize, owner: &mut Name) -> Result<(RecordData<'a>, usize)> {
    record_data(msg, read_name_into(msg, pos, owner)?)
}

/// The rest of a record whose owner name ends at `p` (for a name already decoded); returns
/// it and the offset of the next record.
pub fn record_data(msg: &[u8], p: usize) -> Result<(RecordData<'_>, usize)> {
    let mut c = Cursor::new(msg.get(p..).ok_or(Error::Truncated)?);
    let rtype = c.u16()?;
    let class = c.u16()?;
    c.skip(4)?; // TTL
    let rdlen = usize::from(c.u16()?);
    let rdata = c.take(rdlen)?;
    let rdata_at = p.checked_add(10).ok_or(Error::Truncated)?;
    Ok((RecordData { rtype, class, rdata, rdata_at }, rdata_at.saturating_add(rdlen)))
}

/// Reads a question at `pos`; returns its name, type and the offset after it.
pub fn read_question(msg: &[u8], pos: usize) -> Result<(Name, u16, usize)> {
    let mut name = Name::new();
    let (qtype, next) = read_question_into(msg, pos, &mut name)?;
    Ok((name, qtype, next))
}

/// [`read_question`] with the name decoded into `name` (see [`read_name_into`]); returns
/// the type and the offset after the question.
pub fn read_question_into(msg: &[u8], pos: usize, name: &mut Name) -> Result<(u16, usize)> {
    question_data(msg, read_name_into(msg, pos, name)?)
}

/// The rest of a question whose name ends at `p`: its type and the offset after it.
pub fn question_data(msg: &[u8], p: usize) -> Result<(u16, usize)> {
    let qtype = be16(msg, p).ok_or(Error::Truncated)?;
    // QTYPE + QCLASS.
    let next = p.checked_add(4).filter(|&n| n <= msg.len()).ok_or(Error::Truncated)?;
    Ok((qtype, next))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Flavor {
    Dns,
    Mdns,
    Llmnr,
}

/// `s` without `suffix` (ASCII case-insensitive), if it ends with it.
fn strip_suffix_ci<'a>(s: &'a [u8], suffix: &[u8]) -> Option<&'a [u8]> {
    let (head, tail) = s.split_at_checked(s.len().checked_sub(suffix.len())?)?;
    tail.eq_ignore_ascii_case(suffix).then_some(head)
}

/// `host.local` -> `host` (None for anything else, or `.local` alone).
fn mdns_host(name: &[u8]) -> Option<&[u8]> {
    strip_suffix_ci(name, b".local").filter(|h| !h.is_empty())
}

/// `_svc._tcp.<domain>` / `_svc._udp.<domain>`: a DNS-SD service type (`_svc` at least two
/// bytes, the protocol label in any case, the domain's first label not empty).
fn is_service_type(s: &[u8]) -> bool {
    if s.first() != Some(&b'_') {
        return false;
    }
    let Some(dot) = s.iter().position(|&b| b == b'.').filter(|&d| d > 1) else { return false };
    // The protocol label, its dot, and the first byte of the domain.
    let Some(&[b'_', p, r, o, b'.', d, ..]) = s.get(dot.saturating_add(1)..) else { return false };
    // `| 0x20` folds exactly the two cases of a letter onto its lower case.
    d != b'.' && matches!([p | 0x20, r | 0x20, o | 0x20], [b't', b'c', b'p'] | [b'u', b'd', b'p'])
}

/// The address of a reverse-lookup owner name, if it is a complete one.
fn reverse_addr(name: &Name) -> Option<IpAddr> {
    let s = name.as_bytes();
    if let (Some(digits), 6) = (strip_suffix_ci(s, b".in-addr.arpa"), name.labels()) {
        let mut a = [0u8; 4];
        let mut parts = digits.split(|&b| b == b'.');
        // Labels come least significant first.
        for slot in a.iter_mut().rev() {
            let p = parts.next()?;
            if p.is_empty() || p.len() > 3 || !p.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let v = p.iter().fold(0u16, |v, d| v * 10 + u16::from(d - b'0'));
            *slot = u8::try_from(v).ok()?;
        }
        return parts.next().is_none().then_some(IpAddr::V4(a));
    }
    if let (Some(nibbles), 34) = (strip_suffix_ci(s, b".ip6.arpa"), name.labels()) {
        if nibbles.len() != 63 {
            return None;
        }
        let mut a = [0u8; 16];
        // "b.a.9.8...": nibble, dot, nibble...; the first nibble is the lowest of the address.
        for (i, chunk) in nibbles.chunks(2).enumerate() {
            let (&c, dot) = chunk.split_first()?;
            if !(dot.is_empty() || dot == b".") {
                return None;
            }
            let v = (c as char).to_digit(16)? as u8;
            let byte = a.get_mut(15usize.checked_sub(i / 2)?)?;
            *byte |= if i % 2 == 0 { v } else { v << 4 };
        }
        return Some(IpAddr::V6(a));
    }
    None
}

/// FNV-1a over a few parts, ASCII case folded (names compare case-insensitively), four
/// bytes a step.
fn hash(tag: u8, parts: &[&[u8]]) -> u64 {
    parts.iter().fold(Fnv::new(tag), |h, p| h.part(p)).0
}

/// The state of [`hash`] after some of its parts (the owner's part is shared by its records).
#[derive(Clone, Copy, Debug)]
struct Fnv(u64);

const FNV_PRIME: u64 = 0x0100_0000_01b3;

impl Fnv {
    fn new(tag: u8) -> Self {
        Fnv(0xcbf2_9ce4_8422_2325 ^ u64::from(tag))
    }
    /// Adds a part: its bytes, case folded, and a 0xff after them.
    fn part(self, p: &[u8]) -> Self {
        self.bytes(p).bytes(&[0xff])
    }
    /// Adds bytes, case folded: each whole four bytes as one word, then the rest one by one.
    /// A part given in pieces hashes as the whole part when every piece but the last is a
    /// multiple of four bytes long.
    fn bytes(self, p: &[u8]) -> Self {
        let mut h = self.0;
        let (words, rest) = p.as_chunks::<4>();
        for w in words {
            h = (h ^ u64::from(lowercase4(u32::from_le_bytes(*w)))).wrapping_mul(FNV_PRIME);
        }
        for &b in rest {
            h = (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(FNV_PRIME);
        }
        Fnv(h)
    }
}

/// `to_ascii_lowercase` of four bytes at once: a byte whose low seven bits are `A`..=`Z`
/// (0x41..=0x5a) and whose top bit is clear gets 0x20 added. Adding 0x3f (0x80 - 0x41) to
/// the low seven bits sets the top bit from `A` up, adding 0x25 (0x80 - 0x5b) from `[` up;
/// neither carries into the next byte.
fn lowercase4(x: u32) -> u32 {
    const LOW7: u32 = 0x7f7f_7f7f;
    const TOP: u32 = 0x8080_8080;
    let low = x & LOW7;
    let from_a = low + 0x3f3f_3f3f;
    let past_z = low + 0x2525_2525;
    let upper = from_a & !past_z & !x & TOP;
    x | upper >> 2
}

/// The first twelve bytes of an IPv4 address as an IPv6 one (`IpAddr::to_bytes16`).
const V4_MAPPED: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/// What [`address`] hashes of the owner name, kept while the same name is the owner.
#[derive(Default)]
struct OwnerHashes {
    /// The [`Names::generation`] they belong to.
    generation: u32,
    /// [`hash`] tag 1 after the owner part.
    addr: Option<Fnv>,
    /// The same, then the twelve bytes every IPv4 address starts with as an IPv6 one.
    addr_v4: Option<Fnv>,
    /// [`hash`] tag 5 of the name the owner gives its sender.
    name: Option<u64>,
}

impl OwnerHashes {
    /// Forgets them when the owner name changed.
    fn follow(&mut self, generation: u32) {
        if self.generation != generation {
            *self = OwnerHashes { generation, addr: None, addr_v4: None, name: None };
        }
    }
}

/// Remembers what a message already said (bounded; when full, repeats are let through).
struct Seen(heapless::Vec<u64, SEEN>);

impl Seen {
    /// True the first time `h` is offered.
    fn first(&mut self, h: u64) -> bool {
        if self.0.contains(&h) {
            return false;
        }
        let _ = self.0.push(h);
        true
    }
}

/// Dissects one DNS / mDNS / LLMNR message (the flavor comes from the ports in `ctx`).
pub fn dissect<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
    let port = |p: u16| ctx.ip.is_some_and(|i| i.sport == p || i.dport == p);
    let flavor = if port(5353) {
        Flavor::Mdns
    } else if port(5355) {
        Flavor::Llmnr
    } else {
        Flavor::Dns
    };
    let h = Header::parse(payload)?;
    // Opcodes 3 and 6..15 are unassigned: not DNS.
    if matches!(h.opcode(), 3 | 6..=15) || (flavor != Flavor::Dns && h.opcode() != 0) {
        return Err(Error::NotMine);
    }
    super::speak(
        ctx,
        match flavor {
            Flavor::Dns => Protocol::Dns,
            Flavor::Mdns => Protocol::Mdns,
            Flavor::Llmnr => Protocol::Llmnr,
        },
        sink,
    );
    if h.opcode() != 0 {
        return Ok(());
    }
    let multicast = flavor != Flavor::Dns;
    let mut seen = Seen(heapless::Vec::new());
    let mut pos = field::HEADER_LEN;
    let questions = usize::from(h.qdcount);
    // One name buffer for the whole message, decoded into in place.
    let mut names = Names::new(payload);
    for _ in 0..questions.min(MAX_QUESTIONS) {
        let (qtype, next) = question_data(payload, names.read(pos)?)?;
        pos = next;
        let name = &names.name;
        // A lone question is new by itself (nothing is remembered after a query's questions):
        // only a message with more of them hashes it.
        if !h.is_response()
            && !name.as_bytes().is_empty()
            && (questions == 1 || seen.first(hash(0, &[name.as_bytes(), &qtype.to_be_bytes()])))
        {
            sink.fact(ctx, &Fact::DnsQuery { name: name.as_bytes(), qtype, multicast });
        }
    }
    if !h.is_response() || questions > MAX_QUESTIONS {
        return Ok(());
    }
    answers(ctx, &mut names, pos, h.records().min(MAX_RECORDS), flavor, &mut seen, sink)
}

/// Reads `count` records from `pos` of a response and emits what they say.
fn answers<S: Sink + ?Sized>(
    ctx: &FrameCtx,
    names: &mut Names<'_>,
    mut pos: usize,
    count: usize,
    flavor: Flavor,
    seen: &mut Seen,
    sink: &mut S,
) -> Result<()> {
    let msg = names.msg;
    let mut srv_owners: heapless::Vec<u64, SD_PTRS> = heapless::Vec::new();
    // Where each DNS-SD PTR is, and when it names an instance of its service, the hashes
    // that decide whether it is said ([`hash`] 3 of the instance name, 4 of the fact).
    let mut sd_ptrs: heapless::Vec<(usize, Option<(u64, u64)>), SD_PTRS> = heapless::Vec::new();
    // Made for the first PTR only (a new name buffer is a 255-byte clear).
    let mut target_buf: Option<Name> = None;
    let mut owner_hashes = OwnerHashes::default();
    let mut result = Ok(());
    for _ in 0..count {
        let (r, next) = match names.read(pos).and_then(|p| record_data(msg, p)) {
            Ok(x) => x,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        let at = pos;
        pos = next;
        if r.class & rr::CLASS_MASK != rr::CLASS_IN {
            continue;
        }
        let name = &names.name;
        let owner = name.as_bytes();
        owner_hashes.follow(names.generation);
        match (r.rtype, r.rdata) {
            (rr::A, &[a, b, c, d]) => {
                address(ctx, owner, IpAddr::V4([a, b, c, d]), flavor, seen, &mut owner_hashes, sink)
            }
            (rr::AAAA, data) if data.len() == 16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(data);
                address(ctx, owner, IpAddr::V6(a), flavor, seen, &mut owner_hashes, sink)
            }
            (rr::PTR, _) => {
                if let Some(addr) = reverse_addr(name) {
                    let target = target_buf.get_or_insert_with(Name::new);
                    if read_name_into(msg, r.rdata_at, target).is_err() {
                        continue;
                    }
                    let t = target.as_bytes();
                    if !t.is_empty() && seen.first(hash(2, &[&addr.to_bytes16(), t])) {
                        sink.fact(ctx, &Fact::DnsPtr { addr, name: t });
                    }
                } else if flavor == Flavor::Mdns && is_service_type(owner) {
                    // Held back: an SRV for the same instance later in the message gives the
                    // port. Judged now, while both names are decoded: most are folded into an
                    // SRV and need not be decoded again.
                    let target = target_buf.get_or_insert_with(Name::new);
                    let key = read_name_into(msg, r.rdata_at, target).ok().and_then(|_| {
                        let instance = target.first_label();
                        // The target must be `<instance>.<this service>`.
                        (!instance.is_empty() && target.rest().eq_ignore_ascii_case(owner))
                            .then(|| (hash(3, &[target.as_bytes()]), hash(4, &[instance, owner])))
                    });
                    if sd_ptrs.push((at, key)).is_err() {
                        continue;
                    }
                }
            }
            (rr::SRV, data) if flavor == Flavor::Mdns => {
                let (instance, service) = (name.first_label(), name.rest());
                let Some(port) = be16(data, 4) else { continue };
                if instance.is_empty() || !is_service_type(service) {
                    continue;
                }
                let _ = srv_owners.push(hash(3, &[owner]));
                if seen.first(hash(4, &[instance, service, &port.to_be_bytes()])) {
                    sink.fact(ctx, &Fact::DnsSdService { instance, service, port: Some(port) });
                }
            }
            _ => {}
        }
    }
    for &(at, key) in &sd_ptrs {
        let Some((instance_hash, fact_hash)) = key else { continue };
        if srv_owners.contains(&instance_hash) || !seen.first(fact_hash) {
            continue;
        }
        // Said: both names decoded again (they were, the same way, in the first pass).
        let Ok((r, _)) = names.read(at).and_then(|p| record_data(msg, p)) else { continue };
        let target = target_buf.get_or_insert_with(Name::new);
        if read_name_into(msg, r.rdata_at, target).is_err() {
            continue;
        }
        let (instance, service) = (target.first_label(), names.name.as_bytes());
        sink.fact(ctx, &Fact::DnsSdService { instance, service, port: None });
    }
    result
}

/// An A/AAAA answer: `DnsAddr`, and for mDNS / LLMNR the responder's own name.
#[allow(clippy::too_many_arguments)]
fn address<S: Sink + ?Sized>(
    ctx: &FrameCtx,
    owner: &[u8],
    addr: IpAddr,
    flavor: Flavor,
    seen: &mut Seen,
    hashes: &mut OwnerHashes,
    sink: &mut S,
) {
    if owner.is_empty() {
        return;
    }
    let multicast = flavor != Flavor::Dns;
    let prefix = *hashes.addr.get_or_insert_with(|| Fnv::new(1).part(owner));
    let h = match addr {
        // `hash(1, &[owner, &addr.to_bytes16()])`, its constant IPv4 part hashed once.
        IpAddr::V4(a) => hashes.addr_v4.get_or_insert_with(|| prefix.bytes(&V4_MAPPED)).part(&a),
        IpAddr::V6(a) => prefix.part(&a),
    };
    if seen.first(h.0) {
        sink.fact(ctx, &Fact::DnsAddr { name: owner, addr, multicast });
    }
    let (name, source) = match flavor {
        Flavor::Dns => return,
        Flavor::Mdns => match mdns_host(owner) {
            Some(h) => (h, NameSource::Mdns),
            None => return,
        },
        Flavor::Llmnr => (owner, NameSource::Llmnr),
    };
    if seen.first(*hashes.name.get_or_insert_with(|| hash(5, &[name]))) {
        sink.fact(ctx, &Fact::Name { mac: ctx.src_mac, name, source });
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::dissect::testutil::{self, facts};
    use crate::fact::collect::Collect;
    use crate::fact::IpCtx;
    use std::vec::Vec;
    use wardtap_proto::Transport;

    /// A context for a UDP message between `port` and `port`.
    fn ctx_port(port: u16) -> FrameCtx {
        let ip = IpCtx {
            src: IpAddr::V4([10, 0, 0, 9]),
            dst: IpAddr::V4([224, 0, 0, 251]),
            transport: Transport::Udp,
            sport: port,
            dport: port,
            tcp_flags: 0,
            payload_len: 0,
            ttl: 255,
        };
        FrameCtx { ip: Some(ip), ..testutil::ctx() }
    }

    fn header(flags: u16, qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
        let mut m = std::vec![0x12, 0x34];
        for w in [flags, qd, an, ns, ar] {
            m.extend_from_slice(&w.to_be_bytes());
        }
        m
    }

    fn name(m: &mut Vec<u8>, dotted: &str) {
        for l in dotted.split('.').filter(|l| !l.is_empty()) {
            m.push(l.len() as u8);
            m.extend_from_slice(l.as_bytes());
        }
        m.push(0);
    }

    fn record(m: &mut Vec<u8>, rtype: u16, class: u16, rdata: &[u8]) {
        m.extend_from_slice(&rtype.to_be_bytes());
        m.extend_from_slice(&class.to_be_bytes());
        m.extend_from_slice(&120u32.to_be_bytes());
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
    }

    fn run(ctx: &FrameCtx, m: &[u8]) -> (Result<()>, Collect) {
        let mut c = Collect::default();
        let r = dissect(ctx, m, &mut c);
        (r, c)
    }

    fn count(c: &Collect, prefix: &str) -> usize {
        c.lines.iter().filter(|l| l.starts_with(prefix)).count()
    }

    #[test]
    fn unicast_dns_queries_answers_and_reverse() {
        let c = facts("dns__arkime-wireshark.pcap");
        assert!(c.has("Speaks dns"));
        assert!(c.has("DnsQuery www.netbsd.org qtype=1 mc=false"));
        assert!(c.has("DnsAddr www.netbsd.org 204.152.190.12 mc=false"));
        assert!(c.has("DnsAddr www.netbsd.org 2001:4f8:4:7:2e0:81ff:fe52:9a6b mc=false"));
        // MX answer with the addresses in the additional section.
        assert!(c.has("DnsAddr smtp4.google.com 216.239.37.26 mc=false"));
        assert!(c.has("DnsPtr 66.192.9.104 66-192-9-104.gen.twtelecom.net"));
        assert!(c.has("DnsPtr 127.0.0.1 localhost"));
        assert!(c.has("DnsQuery _ldap._tcp.dc._msdcs.utelsystems.local qtype=33 mc=false"));
        // A resolver's answers name nobody on the wire, and unicast SRV is not DNS-SD.
        assert_eq!(count(&c, "Name"), 0);
        assert_eq!(count(&c, "DnsSd"), 0);
    }

    #[test]
    fn mdns_host_and_llmnr_from_iphone_capture() {
        let c = facts("dns-mdns-llmnr-iphone__pcapplusplus.pcap");
        assert!(c.has("Speaks mdns") && c.has("Speaks llmnr") && c.has("Speaks dns"));
        assert!(c.has("Name 58:1f:aa:4f:3f:9d Mdns Yaels-iPhone"));
        assert!(c.has("DnsAddr Yaels-iPhone.local 10.0.0.2 mc=true"));
        assert!(c.has("DnsPtr 10.0.0.2 Yaels-iPhone.local"));
        assert!(c.has("DnsPtr fe80::5a1f:aaff:fe4f:3f9d Yaels-iPhone.local"));
        assert!(c.has("DnsQuery wpad qtype=1 mc=true"));
        assert!(c.has("DnsQuery _sleep-proxy._udp.local qtype=12 mc=true"));
        assert!(c.has("DnsQuery www.google.com qtype=1 mc=false"));
    }

    #[test]
    fn mdns_linux_announcement_with_ipv6_reverse() {
        let c = facts("mdns-ipp-linux__zeek.pcap");
        assert!(c.has("Name 8a:3c:d6:e1:4d:c4 Mdns johanna-QEMU-Virtual-Machine"));
        assert!(c.has("DnsPtr 10.0.2.7 johanna-QEMU-Virtual-Machine.local"));
        assert!(c.has("DnsPtr fd52:429e:c03c:8235:883c:d6ff:fee1:4dc4 johanna-QEMU-Virtual-Machine.local"));
        assert!(c.has("DnsQuery _ipp._tcp.local qtype=12 mc=true"));
        assert!(c.has("DnsQuery _ipps._tcp.local qtype=12 mc=true"));
    }

    #[test]
    fn hue_bridge_announces_hap_service() {
        let c = facts("iot-philips-hue-bridge__iot-sentinel.pcap");
        assert!(c.has("DnsSd Philips hue - 2476FF _hap._tcp.local port=Some(8080)"));
        // The PTR for the same instance is folded into the SRV's fact.
        assert!(!c.has("DnsSd Philips hue - 2476FF _hap._tcp.local port=None"));
        assert!(c.has("Name 00:17:88:24:76:ff Mdns Philips-hue"));
        assert!(c.has("DnsAddr Philips-hue.local 10.10.10.6 mc=true"));
        assert!(c.has("DnsQuery bridge.meethue.com qtype=1 mc=false"));
    }

    #[test]
    fn imac_services_and_two_interfaces() {
        let c = facts("lan-apple-iphone-imac__ndpi.pcap");
        assert!(c.has("DnsSd Luca’s iMac _smb._tcp.local port=Some(445)"));
        assert!(c.has("DnsSd Luca’s iMac _ssh._tcp.local port=Some(22)"));
        assert!(c.has("DnsSd Luca’s iMac _companion-link._tcp.local port=Some(49155)"));
        assert!(c.has("Name d8:30:62:56:00:1c Mdns Lucas-iMac"));
        assert!(c.has("DnsQuery _googlecast._tcp.local qtype=12 mc=true"));
        // A subtype browse is a query like any other.
        assert!(c.has("DnsQuery 8fb207de._sub._apple-mobdev2._tcp.local qtype=12 mc=true"));
    }

    #[test]
    fn llmnr_responders_name_themselves() {
        let c = facts("dicom-dhcp-smb-hospital-synthetic__tapirxl.pcap");
        assert!(c.has("Speaks llmnr"));
        assert!(c.has("Name e8:d8:d1:aa:bb:02 Llmnr ACMECT01"));
        assert!(c.has("Name 00:50:56:8b:ca:fe Llmnr PACSARCH01"));
    }

    #[test]
    fn one_mdns_response_names_its_sender_once() {
        let mut m = header(0x8400, 0, 3, 0, 1);
        name(&mut m, "ward-pump-07.local");
        record(&mut m, rr::A, 0x8001, &[10, 0, 0, 9]);
        m.extend_from_slice(&[0xc0, 12]);
        record(&mut m, rr::AAAA, 0x8001, &[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
        // The same A again, in the additional section.
        m.extend_from_slice(&[0xc0, 12]);
        record(&mut m, rr::A, 0x8001, &[10, 0, 0, 9]);
        // TXT is not read.
        m.extend_from_slice(&[0xc0, 12]);
        record(&mut m, 16, 1, b"\x07model=x");
        let (r, c) = run(&ctx_port(5353), &m);
        assert_eq!(r, Ok(()));
        assert_eq!(
            c.lines,
            [
                "Speaks mdns",
                "DnsAddr ward-pump-07.local 10.0.0.9 mc=true",
                "Name 02:00:00:00:00:01 Mdns ward-pump-07",
                "DnsAddr ward-pump-07.local fe80::9 mc=true",
            ]
        );
        // The same message as unicast DNS names nobody.
        let (_, c) = run(&ctx_port(53), &m);
        assert_eq!(count(&c, "Name"), 0);
        assert_eq!(count(&c, "DnsAddr"), 2);
    }

    #[test]
    fn dns_sd_ptr_without_srv_and_srv_alone() {
        let mut m = header(0x8400, 0, 3, 0, 0);
        name(&mut m, "_pdl-datastream._tcp.local");
        let mut rdata = std::vec![9];
        rdata.extend_from_slice(b"Printer 3");
        rdata.extend_from_slice(&[0xc0, 12]);
        record(&mut m, rr::PTR, 1, &rdata);
        // SRV for another instance of another service.
        name(&mut m, "Monitor._ward._udp.local");
        let mut srv = std::vec![0, 0, 0, 0, 0x1f, 0x90];
        name(&mut srv, "mon.local");
        record(&mut m, rr::SRV, 0x8001, &srv);
        // The enumeration PTR names a service type, not an instance.
        name(&mut m, "_services._dns-sd._udp.local");
        record(&mut m, rr::PTR, 1, &[0xc0, 12]);
        let (r, c) = run(&ctx_port(5353), &m);
        assert_eq!(r, Ok(()), "{:?}", c.lines);
        assert_eq!(
            c.lines,
            [
                "Speaks mdns",
                "DnsSd Monitor _ward._udp.local port=Some(8080)",
                "DnsSd Printer 3 _pdl-datastream._tcp.local port=None",
            ]
        );
    }

    #[test]
    fn mdns_known_answers_in_a_query_are_not_the_askers() {
        let mut m = header(0, 1, 1, 0, 0);
        name(&mut m, "_hap._tcp.local");
        m.extend_from_slice(&[0, 12, 0, 1]);
        name(&mut m, "other.local");
        record(&mut m, rr::A, 1, &[10, 0, 0, 3]);
        let (r, c) = run(&ctx_port(5353), &m);
        assert_eq!(r, Ok(()));
        assert_eq!(c.lines, ["Speaks mdns", "DnsQuery _hap._tcp.local qtype=12 mc=true"]);
    }

    #[test]
    fn questions_are_capped_and_repeats_dropped() {
        let mut m = header(0x0100, 40, 0, 0, 0);
        name(&mut m, "a.example");
        m.extend_from_slice(&[0, 1, 0, 1]);
        for t in 0..39u16 {
            m.extend_from_slice(&[0xc0, 12]);
            m.extend_from_slice(&(t % 20 + 2).to_be_bytes());
            m.extend_from_slice(&[0, 1]);
        }
        let (r, c) = run(&ctx_port(53), &m);
        assert_eq!(r, Ok(()));
        assert_eq!(count(&c, "DnsQuery"), MAX_QUESTIONS);
        // A repeated question is said once.
        let mut m = header(0x0100, 2, 0, 0, 0);
        name(&mut m, "a.example");
        m.extend_from_slice(&[0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(count(&run(&ctx_port(53), &m).1, "DnsQuery"), 1);
    }

    #[test]
    fn lying_counts_end_in_truncated_after_what_was_there() {
        let mut m = header(0x0100, 0xffff, 0, 0, 0);
        name(&mut m, "b.example");
        m.extend_from_slice(&[0, 28, 0, 1]);
        let (r, c) = run(&ctx_port(53), &m);
        assert_eq!(r, Err(Error::Truncated));
        assert_eq!(c.lines, ["Speaks dns", "DnsQuery b.example qtype=28 mc=false"]);

        let mut m = header(0x8180, 0, 0xffff, 0xffff, 0xffff);
        name(&mut m, "c.example");
        record(&mut m, rr::A, 1, &[192, 0, 2, 1]);
        m.extend_from_slice(&[0xc0, 12]);
        record(&mut m, rr::A, 1, &[192, 0, 2, 2]);
        let (r, c) = run(&ctx_port(53), &m);
        assert_eq!(r, Err(Error::Truncated));
        assert_eq!(count(&c, "DnsAddr c.example"), 2);

        // rdlength past the end.
        let mut m = header(0x8180, 0, 1, 0, 0);
        name(&mut m, "d.example");
        record(&mut m, rr::A, 1, &[192, 0, 2, 1]);
        let n = m.len();
        m[n - 5] = 0xff;
        let (r, c) = run(&ctx_port(53), &m);
        assert_eq!(r, Err(Error::Truncated));
        assert_eq!(count(&c, "DnsAddr"), 0);
    }

    #[test]
    fn wrong_sized_address_rdata_is_ignored() {
        let mut m = header(0x8180, 0, 2, 0, 0);
        name(&mut m, "e.example");
        record(&mut m, rr::A, 1, &[192, 0, 2, 1, 7]);
        m.extend_from_slice(&[0xc0, 12]);
        record(&mut m, rr::AAAA, 1, &[1; 4]);
        let (r, c) = run(&ctx_port(53), &m);
        assert_eq!(r, Ok(()));
        assert_eq!(c.lines, ["Speaks dns"]);
    }

    #[test]
    fn compression_loops_are_rejected() {
        // Pointer to itself.
        let mut m = header(0, 1, 0, 0, 0);
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(read_name(&m, 12).unwrap_err(), Error::Malformed);
        let (r, c) = run(&ctx_port(53), &m);
        assert_eq!(r, Err(Error::Malformed));
        assert_eq!(count(&c, "DnsQuery"), 0);
        // Two pointers pointing at each other (the first one forward).
        let mut m = header(0, 1, 0, 0, 0);
        m.extend_from_slice(&[0xc0, 14, 0xc0, 12]);
        assert_eq!(read_name(&m, 12).unwrap_err(), Error::Malformed);
        assert_eq!(read_name(&m, 14).unwrap_err(), Error::Malformed);
        // A label, then a pointer back to that label: a loop through labels.
        let mut m = header(0, 1, 0, 0, 0);
        m.extend_from_slice(&[1, b'a', 0xc0, 12]);
        assert_eq!(read_name(&m, 12).unwrap_err(), Error::Malformed);
        // Backward jump into a name that jumps forward again.
        let mut m = header(0, 1, 0, 0, 0);
        m.extend_from_slice(&[1, b'a', 0xc0, 16, 1, b'b', 0xc0, 12]);
        assert_eq!(read_name(&m, 16).unwrap_err(), Error::Malformed);
    }

    #[test]
    fn pointer_chains_are_bounded() {
        let chain = |n: usize| {
            let mut m = header(0, 1, 0, 0, 0);
            m.extend_from_slice(&[1, b'z', 0]);
            let mut prev = 12u16;
            for _ in 0..n {
                let here = m.len() as u16;
                m.extend_from_slice(&(0xc000 | prev).to_be_bytes());
                prev = here;
            }
            (m, usize::from(prev))
        };
        let (m, last) = chain(MAX_JUMPS);
        let (n, after) = read_name(&m, last).unwrap();
        assert_eq!((n.as_bytes(), after), (&b"z"[..], last + 2));
        let (m, last) = chain(MAX_JUMPS + 1);
        assert_eq!(read_name(&m, last).unwrap_err(), Error::Malformed);
    }

    #[test]
    fn label_and_name_lengths() {
        // 0x40 and 0x80 label types ("label longer than 63").
        for first in [0x40u8, 0x7f, 0x80] {
            let mut m = header(0, 1, 0, 0, 0);
            m.push(first);
            m.extend_from_slice(&[b'x'; 70]);
            m.push(0);
            assert_eq!(read_name(&m, 12).unwrap_err(), Error::Malformed, "{first:#x}");
        }
        // 255 wire octets: 3 x 63 + 61 = 253 characters with dots. One more is too long.
        let build = |last: usize| {
            let mut m = header(0, 1, 0, 0, 0);
            for _ in 0..3 {
                m.push(63);
                m.extend_from_slice(&[b'a'; 63]);
            }
            m.push(last as u8);
            m.extend_from_slice(&std::vec![b'b'; last]);
            m.push(0);
            m
        };
        let (n, end) = read_name(&build(61), 12).unwrap();
        assert_eq!((n.as_bytes().len(), n.labels(), end), (253, 4, 12 + 255));
        assert_eq!(read_name(&build(62), 12).unwrap_err(), Error::Malformed);
        // Too long only once pointers are followed.
        let mut m = header(0, 1, 0, 0, 0);
        for _ in 0..2 {
            m.push(63);
            m.extend_from_slice(&[b'c'; 63]);
        }
        m.push(0);
        for _ in 0..2 {
            m.push(63);
            m.extend_from_slice(&[b'd'; 63]);
        }
        m.extend_from_slice(&[0xc0, 12]);
        assert_eq!(read_name(&m, 12 + 129).unwrap_err(), Error::Malformed);
        // Root and truncated names.
        assert_eq!(read_name(&[0], 0).unwrap().0.as_bytes(), b"");
        assert_eq!(read_name(&[3, b'a', b'b'], 0).unwrap_err(), Error::Truncated);
        assert_eq!(read_name(&[3, b'a', b'b', b'c'], 0).unwrap_err(), Error::Truncated);
        assert_eq!(read_name(&[0xc0], 0).unwrap_err(), Error::Truncated);
    }

    #[test]
    fn first_label_keeps_its_dots() {
        let mut m = Vec::new();
        m.push(6);
        m.extend_from_slice(b"Room.1");
        name(&mut m, "_ipp._tcp.local");
        let (n, _) = read_name(&m, 0).unwrap();
        assert_eq!(n.as_bytes(), b"Room.1._ipp._tcp.local");
        assert_eq!(n.first_label(), b"Room.1");
        assert_eq!(n.rest(), b"_ipp._tcp.local");
        assert!(is_service_type(n.rest()));
        assert!(!is_service_type(b"_services._dns-sd._udp.local"));
        assert!(!is_service_type(b"_printer._sub._http._tcp.local"));
        assert!(!is_service_type(b"_tcp.local"));
    }

    /// After any name, a read through [`Names`] gives what a fresh read gives (the pointer
    /// shortcut included), at every position of messages built to sit on the bounds.
    #[test]
    fn names_shortcut_reads_as_a_fresh_read() {
        let mut msgs = Vec::new();
        // A chain of 40 pointers to `a`, then for k = 30..33 a label and a pointer to the
        // k-th pointer of the chain (k + 1 jumps), and a pointer to that name (k + 2).
        let mut m = Vec::new();
        name(&mut m, "a");
        let mut chain = std::vec![0u16];
        for _ in 0..40 {
            let at = m.len() as u16;
            m.extend_from_slice(&(0xc000 | chain[chain.len() - 1]).to_be_bytes());
            chain.push(at);
        }
        for target in &chain[30..34] {
            let at = m.len() as u16;
            m.extend_from_slice(&[1, b'x']);
            m.extend_from_slice(&(0xc000 | target).to_be_bytes());
            m.extend_from_slice(&(0xc000 | at).to_be_bytes());
        }
        msgs.push(m);
        // A pointer forward to a name, one to itself, a name of 127 labels pointed to.
        msgs.push(std::vec![0xc0, 4, 0xc0, 2, 1, b'a', 0, 0xc0, 4, 0xc0, 0]);
        let mut m = Vec::new();
        for _ in 0..127 {
            m.extend_from_slice(&[1, b'a']);
        }
        m.extend_from_slice(&[0, 0xc0, 0, 0xc0, 2, 0xc0, 0xfe, 0xc1, 0x00]);
        msgs.push(m);
        for m in &msgs {
            // In the long name, the names held are those at its start and after it.
            let firsts: Vec<usize> =
                if m.len() > 200 { (0..2).chain(250..m.len()).collect() } else { (0..m.len()).collect() };
            for &first in &firsts {
                for second in 0..m.len() {
                    let mut names = Names::new(m);
                    let _ = names.read(first);
                    let mut fresh = Name::new();
                    let want = read_name_into(m, second, &mut fresh);
                    let got = names.read(second);
                    assert_eq!(got, want, "{first} then {second}");
                    if got.is_ok() {
                        assert_eq!(names.name.as_bytes(), fresh.as_bytes(), "{first} then {second}");
                        assert_eq!(names.name.labels(), fresh.labels());
                    }
                }
            }
        }
    }

    #[test]
    fn runs_of_labels_around_pointers() {
        // `x\0y` `.` then a pointer to `a` `b.c` `\x3f`, read from the middle too.
        let mut m = std::vec![1, b'a', 3, b'b', b'.', b'c', 1, 0x3f, 0];
        let at = m.len();
        m.extend_from_slice(&[3, b'x', 0, b'y', 1, b'.', 0xc0, 0]);
        let (n, end) = read_name(&m, at).unwrap();
        assert_eq!((n.as_bytes(), end), (&b"x\0y...a.b.c.\x3f"[..], m.len()));
        assert_eq!((n.labels(), n.first_label(), n.rest()), (5, &b"x\0y"[..], &b"..a.b.c.\x3f"[..]));
        let (n, _) = read_name(&m, 2).unwrap();
        assert_eq!((n.as_bytes(), n.labels(), n.first_label()), (&b"b.c.\x3f"[..], 2, &b"b.c"[..]));
    }

    #[test]
    fn service_types_as_split_by_dots() {
        let by_parts = |s: &[u8]| {
            let mut parts = s.split(|&b| b == b'.');
            let svc = parts.next().unwrap_or_default();
            let proto = parts.next().unwrap_or_default();
            let domain = parts.next().unwrap_or_default();
            svc.len() > 1
                && svc.first() == Some(&b'_')
                && (proto.eq_ignore_ascii_case(b"_tcp") || proto.eq_ignore_ascii_case(b"_udp"))
                && !domain.is_empty()
        };
        let mut x: u32 = 5;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let alphabet = *b"_._.tTcCpPuUdDx\x7f\xd4\xf4\xf0";
        let mut yes = 0;
        for i in 0..300_000 {
            let len = (rnd() % 14) as usize;
            let mut s: Vec<u8> = (0..len).map(|_| alphabet[(rnd() as usize) % alphabet.len()]).collect();
            if i % 3 == 0 {
                // Mostly service-like: `_x._tcp.local` with a few bytes changed.
                s = b"_x._tcp.local".to_vec();
                if i % 2 == 0 {
                    s = b"_ab._UdP.a".to_vec();
                }
                for _ in 0..rnd() % 3 {
                    let at = rnd() as usize % s.len();
                    s[at] = alphabet[(rnd() as usize) % alphabet.len()];
                }
                s.truncate(rnd() as usize % (s.len() + 4));
            }
            assert_eq!(is_service_type(&s), by_parts(&s), "{}", s.escape_ascii());
            yes += usize::from(by_parts(&s));
        }
        assert!(yes > 10_000, "{yes}");
        for b in 0..=255u8 {
            for at in 0..12 {
                let mut s = b"_x._tcp.local".to_vec();
                s[at] = b;
                assert_eq!(is_service_type(&s), by_parts(&s), "{b} at {at}");
            }
        }
    }

    #[test]
    fn hash_folds_ascii_case_only() {
        // Every byte in every place of a word.
        for b in 0..=255u8 {
            for at in 0..4 {
                let mut w = [b'q', b'Q', 0x80, b'@'];
                w[at] = b;
                let mut want = w;
                want.make_ascii_lowercase();
                assert_eq!(lowercase4(u32::from_le_bytes(w)).to_le_bytes(), want, "{b} at {at}");
            }
        }
        // Whole hashes: case does not count, anything else does.
        let mut x: u32 = 99;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for _ in 0..2_000 {
            let len = (rnd() % 40) as usize;
            let s: Vec<u8> =
                (0..len).map(|_| [b'a', b'Z', b'.', 0xc1, 0xe1, rnd() as u8][(rnd() % 6) as usize]).collect();
            let (lower, upper) = (s.to_ascii_lowercase(), s.to_ascii_uppercase());
            assert_eq!(hash(3, &[&s]), hash(3, &[&lower]));
            assert_eq!(hash(3, &[&s]), hash(3, &[&upper]));
            let mut other = s.clone();
            other.push(b'x');
            assert_ne!(hash(3, &[&s]), hash(3, &[&other]));
        }
    }

    #[test]
    fn hashes_in_pieces_are_the_whole_hashes() {
        for a in [[10, 0, 0, 1], [0x41, 0x5a, 0xff, 0], [192, 168, 1, 254]] {
            let v4 = IpAddr::V4(a);
            assert_eq!(v4.to_bytes16()[..12], V4_MAPPED);
            let whole = hash(1, &[b"Host.Local", &v4.to_bytes16()]);
            assert_eq!(Fnv::new(1).part(b"host.local").bytes(&V4_MAPPED).part(&a).0, whole);
        }
    }

    #[test]
    fn a_reused_name_buffer_keeps_nothing_of_the_last_name() {
        let mut m = Vec::new();
        name(&mut m, "Room.1._ipp._tcp.local");
        let short = m.len();
        name(&mut m, "a");
        let bad = m.len();
        m.extend_from_slice(&[3, b'x', b'y']);
        let mut n = Name::new();
        assert_eq!(read_name_into(&m, 0, &mut n), Ok(short));
        assert_eq!(read_name_into(&m, short, &mut n), Ok(short + 3));
        assert_eq!((n.as_bytes(), n.labels(), n.first_label(), n.rest()), (&b"a"[..], 1, &b"a"[..], &b""[..]));
        assert_eq!(read_name_into(&m, bad, &mut n), Err(Error::Truncated));
        assert_eq!(read_name_into(&m, short + 2, &mut n), Ok(short + 3));
        assert_eq!((n.as_bytes(), n.labels()), (&b""[..], 0));
    }

    #[test]
    fn reverse_names() {
        let rev = |s: &str| {
            let mut m = Vec::new();
            name(&mut m, s);
            reverse_addr(&read_name(&m, 0).unwrap().0)
        };
        assert_eq!(rev("4.3.2.1.in-addr.arpa"), Some(IpAddr::V4([1, 2, 3, 4])));
        assert_eq!(rev("4.3.2.1.IN-ADDR.ARPA"), Some(IpAddr::V4([1, 2, 3, 4])));
        assert_eq!(rev("3.2.1.in-addr.arpa"), None);
        assert_eq!(rev("5.4.3.2.1.in-addr.arpa"), None);
        assert_eq!(rev("256.3.2.1.in-addr.arpa"), None);
        assert_eq!(rev("0x1.3.2.1.in-addr.arpa"), None);
        let v6 = rev("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa");
        assert_eq!(std::format!("{}", v6.unwrap()), "fe80::1");
        assert_eq!(rev("g.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa"), None);
        assert_eq!(rev("1.0.0.8.e.f.ip6.arpa"), None);
        // One wire label "4.3" that prints like two: refused, not misread.
        let mut m = std::vec![3, b'4', b'.', b'3'];
        name(&mut m, "2.1.in-addr.arpa");
        assert_eq!(reverse_addr(&read_name(&m, 0).unwrap().0), None);
    }

    #[test]
    fn not_dns_and_short() {
        let (r, c) = run(&ctx_port(53), &[0; 11]);
        assert_eq!((r, c.lines.len()), (Err(Error::Truncated), 0));
        // Opcode 7 is unassigned; mDNS only knows opcode 0.
        let m = header(0x3800, 0, 0, 0, 0);
        assert_eq!(run(&ctx_port(53), &m).0, Err(Error::NotMine));
        let m = header(0x2800, 0, 0, 0, 0);
        assert_eq!(run(&ctx_port(5353), &m).0, Err(Error::NotMine));
        // UPDATE over unicast DNS: spoken, not read.
        let (r, c) = run(&ctx_port(53), &m);
        assert_eq!((r, c.lines), (Ok(()), std::vec!["Speaks dns".into()]));
    }

    /// DNS, mDNS and LLMNR payloads (UDP to or from 53, 5353, 5355) of every capture.
    fn capture_payloads() -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut names: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/captures"))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".pcap"))
            .collect();
        names.sort();
        for n in names {
            for (_, f) in testutil::frames(&n) {
                let (mut et, mut o) = (u16::from_be_bytes([f[12], f[13]]), 14);
                while et == 0x8100 && f.len() >= o + 4 {
                    et = u16::from_be_bytes([f[o + 2], f[o + 3]]);
                    o += 4;
                }
                let u = match et {
                    0x0800 if f.len() > o + 20 && f[o + 9] == 17 => o + usize::from(f[o] & 15) * 4,
                    0x86dd if f.len() > o + 40 && f[o + 6] == 17 => o + 40,
                    _ => continue,
                };
                let Some(udp) = f.get(u..u + 8) else { continue };
                let (sp, dp) = (u16::from_be_bytes([udp[0], udp[1]]), u16::from_be_bytes([udp[2], udp[3]]));
                if [53, 5353, 5355].iter().any(|p| *p == sp || *p == dp) {
                    out.push(f[u + 8..].to_vec());
                }
            }
        }
        out
    }

    /// Every capture's DNS payloads, their cuts and byte mutations give the same facts and
    /// result as the dissector as it was (module `old`: every name decoded where it is used).
    #[test]
    fn same_facts_as_decoding_every_name() {
        let payloads = capture_payloads();
        assert!(payloads.len() > 300, "{}", payloads.len());
        let mut x: u32 = 7;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let (mut runs, mut facts) = (0usize, 0usize);
        for p in &payloads {
            let mut variants = std::vec![p.clone()];
            for cut in (0..p.len()).step_by(if p.len() > 400 { 3 } else { 1 }) {
                variants.push(p[..cut].to_vec());
            }
            for _ in 0..60 {
                let mut m = p.clone();
                if m.len() <= 12 {
                    break;
                }
                for _ in 0..1 + rnd() % 3 {
                    let at = 12 + rnd() as usize % (m.len() - 12);
                    m[at] = match rnd() % 4 {
                        0 => 0xc0,
                        1 => (rnd() % 64) as u8,
                        2 => m[at] ^ (1 << (rnd() % 8)),
                        _ => rnd() as u8,
                    };
                    if rnd() % 4 == 0 {
                        let at = 12 + rnd() as usize % (m.len() - 12);
                        m[at] = 0xc0 | (rnd() % 2) as u8;
                        if at + 1 < m.len() {
                            m[at + 1] = rnd() as u8 % (at as u8).max(1);
                        }
                    }
                }
                variants.push(m);
            }
            for v in &variants {
                for port in [53, 5353, 5355] {
                    let ctx = ctx_port(port);
                    let (mut a, mut b) = (Collect::default(), Collect::default());
                    let ra = dissect(&ctx, v, &mut a);
                    let rb = old::dissect(&ctx, v, &mut b);
                    assert_eq!((ra, &a.lines), (rb, &b.lines), "{v:02x?} port {port}");
                    runs += 1;
                    facts += a.lines.len();
                }
            }
        }
        assert!(runs > 100_000 && facts > 100_000, "{runs} {facts}");
    }

    /// The record walk as it was (a DNS-SD PTR's names decoded again after the records), for
    /// the differential test.
    #[allow(clippy::all)]
    mod old {
        use super::super::*;
        /// Which name a buffer holds: the name at `at` of the message, as [`read_name_into`] reads
        /// it from there, and the pointers that took.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        struct Held {
            at: usize,
            jumps: usize,
        }

        /// [`read_name_into`], also saying which name the buffer then holds. A name that starts
        /// with a pointer is the name the pointer leads to (one pointer less).
        fn decode(msg: &[u8], start: usize, name: &mut Name) -> Result<(usize, Held)> {
            name.clear();
            let mut pos = start;
            // A pointer must go strictly before the run of labels it ends: positions fall at every
            // jump, so no chain of pointers can loop.
            let mut limit = start;
            let mut after: Option<usize> = None;
            let mut wire = 0usize;
            let mut jumps = 0usize;
            // The target of a pointer the name starts with.
            let mut led_to = None;
            // Each step reads a label (at least 2 wire octets of the 255 allowed) or follows a pointer.
            for _ in 0..MAX_STEPS {
                let len = *msg.get(pos).ok_or(Error::Truncated)?;
                match len & 0xc0 {
                    0x00 if len == 0 => {
                        wire = wire.saturating_add(1);
                        if wire > MAX_NAME {
                            return Err(Error::Malformed);
                        }
                        let held = match led_to {
                            Some(at) => Held { at, jumps: jumps.saturating_sub(1) },
                            None => Held { at: start, jumps },
                        };
                        return Ok((after.unwrap_or(pos.saturating_add(1)), held));
                    }
                    0x00 => {
                        // A run of labels, up to a pointer or the end: each checked in turn, then all
                        // copied at once.
                        let (run, mut labels, mut first) = (pos, 0usize, 0usize);
                        let mut len = len;
                        while len != 0 && len & 0xc0 == 0 {
                            let l = usize::from(len);
                            let to = pos.checked_add(1 + l).ok_or(Error::Truncated)?;
                            if to > msg.len() {
                                return Err(Error::Truncated);
                            }
                            wire = wire.saturating_add(1 + l);
                            // Room must remain for the final zero octet (this also bounds the run).
                            if wire >= MAX_NAME {
                                return Err(Error::Malformed);
                            }
                            if labels == 0 {
                                first = l;
                            }
                            labels += 1;
                            pos = to;
                            len = *msg.get(pos).ok_or(Error::Truncated)?;
                        }
                        // `push_run` counts the labels itself now: it must find as many.
                        let before = name.labels();
                        name.push_run(msg.get(run..pos).unwrap_or_default(), first)?;
                        assert_eq!(name.labels(), before + labels);
                    }
                    0xc0 => {
                        let lo = *msg.get(pos.saturating_add(1)).ok_or(Error::Truncated)?;
                        let target = usize::from(len & 0x3f) << 8 | usize::from(lo);
                        if after.is_none() {
                            after = Some(pos.saturating_add(2));
                        }
                        if target >= limit || jumps >= MAX_JUMPS {
                            return Err(Error::Malformed);
                        }
                        if pos == start {
                            led_to = Some(target);
                        }
                        jumps += 1;
                        limit = target;
                        pos = target;
                    }
                    // 0x40 / 0x80: extended and reserved label types (a "label longer than 63").
                    _ => return Err(Error::Malformed),
                }
            }
            Err(Error::Malformed)
        }

        /// The names of one message, decoded into one buffer that remembers which name it holds: a
        /// compression pointer to that name (how the answers of a response usually give their
        /// owner) is not decoded again.
        struct Names<'m> {
            msg: &'m [u8],
            name: Name,
            held: Option<Held>,
            /// Counts the names decoded: what was derived from the name stays valid while it holds.
            generation: u32,
        }

        impl<'m> Names<'m> {
            fn new(msg: &'m [u8]) -> Self {
                Names { msg, name: Name::new(), held: None, generation: 0 }
            }

            /// Reads the name at `pos` into the buffer as [`read_name_into`] does; returns the offset
            /// just past it.
            fn read(&mut self, pos: usize) -> Result<usize> {
                if let (Some(h), Some(end)) = (self.held, pos.checked_add(2)) {
                    if let Some(&[hi, lo]) = self.msg.get(pos..end) {
                        let target = usize::from(hi & 0x3f) << 8 | usize::from(lo);
                        // A pointer back to the held name: read from here it takes one more pointer
                        // and one more step, so it is the same name if the pointers stay within their
                        // bound (the steps then do: at most 127 labels, 32 pointers and the zero).
                        if hi & 0xc0 == 0xc0 && target == h.at && target < pos && h.jumps < MAX_JUMPS {
                            return Ok(end);
                        }
                    }
                }
                self.generation = self.generation.wrapping_add(1);
                let r = decode(self.msg, pos, &mut self.name);
                self.held = r.as_ref().ok().map(|&(_, h)| h);
                r.map(|(end, _)| end)
            }
        }

        pub(super) fn read_name_into(msg: &[u8], start: usize, name: &mut Name) -> Result<usize> {
            decode(msg, start, name).map(|(end, _)| end)
        }

        /// Dissects one DNS / mDNS / LLMNR message (the flavor comes from the ports in `ctx`).
        pub(super) fn dissect<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
            let port = |p: u16| ctx.ip.is_some_and(|i| i.sport == p || i.dport == p);
            let flavor = if port(5353) {
                Flavor::Mdns
            } else if port(5355) {
                Flavor::Llmnr
            } else {
                Flavor::Dns
            };
            let h = Header::parse(payload)?;
            // Opcodes 3 and 6..15 are unassigned: not DNS.
            if matches!(h.opcode(), 3 | 6..=15) || (flavor != Flavor::Dns && h.opcode() != 0) {
                return Err(Error::NotMine);
            }
            crate::dissect::speak(
                ctx,
                match flavor {
                    Flavor::Dns => Protocol::Dns,
                    Flavor::Mdns => Protocol::Mdns,
                    Flavor::Llmnr => Protocol::Llmnr,
                },
                sink,
            );
            if h.opcode() != 0 {
                return Ok(());
            }
            let multicast = flavor != Flavor::Dns;
            let mut seen = Seen(heapless::Vec::new());
            let mut pos = field::HEADER_LEN;
            let questions = usize::from(h.qdcount);
            // One name buffer for the whole message, decoded into in place.
            let mut names = Names::new(payload);
            for _ in 0..questions.min(MAX_QUESTIONS) {
                let (qtype, next) = question_data(payload, names.read(pos)?)?;
                pos = next;
                let name = &names.name;
                // A lone question is new by itself (nothing is remembered after a query's questions):
                // only a message with more of them hashes it.
                if !h.is_response()
                    && !name.as_bytes().is_empty()
                    && (questions == 1 || seen.first(hash(0, &[name.as_bytes(), &qtype.to_be_bytes()])))
                {
                    sink.fact(ctx, &Fact::DnsQuery { name: name.as_bytes(), qtype, multicast });
                }
            }
            if !h.is_response() || questions > MAX_QUESTIONS {
                return Ok(());
            }
            answers(ctx, &mut names, pos, h.records().min(MAX_RECORDS), flavor, &mut seen, sink)
        }

        /// Reads `count` records from `pos` of a response and emits what they say.
        fn answers<S: Sink + ?Sized>(
            ctx: &FrameCtx,
            names: &mut Names<'_>,
            mut pos: usize,
            count: usize,
            flavor: Flavor,
            seen: &mut Seen,
            sink: &mut S,
        ) -> Result<()> {
            let msg = names.msg;
            let mut srv_owners: heapless::Vec<u64, SD_PTRS> = heapless::Vec::new();
            let mut sd_ptrs: heapless::Vec<usize, SD_PTRS> = heapless::Vec::new();
            let mut target = Name::new();
            let mut owner_hashes = OwnerHashes::default();
            let mut result = Ok(());
            for _ in 0..count {
                let (r, next) = match names.read(pos).and_then(|p| record_data(msg, p)) {
                    Ok(x) => x,
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                };
                let at = pos;
                pos = next;
                if r.class & rr::CLASS_MASK != rr::CLASS_IN {
                    continue;
                }
                let name = &names.name;
                let owner = name.as_bytes();
                owner_hashes.follow(names.generation);
                match (r.rtype, r.rdata) {
                    (rr::A, &[a, b, c, d]) => {
                        address(ctx, owner, IpAddr::V4([a, b, c, d]), flavor, seen, &mut owner_hashes, sink)
                    }
                    (rr::AAAA, data) if data.len() == 16 => {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(data);
                        address(ctx, owner, IpAddr::V6(a), flavor, seen, &mut owner_hashes, sink)
                    }
                    (rr::PTR, _) => {
                        if let Some(addr) = reverse_addr(name) {
                            if read_name_into(msg, r.rdata_at, &mut target).is_err() {
                                continue;
                            }
                            let t = target.as_bytes();
                            if !t.is_empty() && seen.first(hash(2, &[&addr.to_bytes16(), t])) {
                                sink.fact(ctx, &Fact::DnsPtr { addr, name: t });
                            }
                        } else if flavor == Flavor::Mdns && is_service_type(owner) {
                            // Held back: an SRV for the same instance later in the message gives the port.
                            if sd_ptrs.push(at).is_err() {
                                continue;
                            }
                        }
                    }
                    (rr::SRV, data) if flavor == Flavor::Mdns => {
                        let (instance, service) = (name.first_label(), name.rest());
                        let Some(port) = be16(data, 4) else { continue };
                        if instance.is_empty() || !is_service_type(service) {
                            continue;
                        }
                        let _ = srv_owners.push(hash(3, &[owner]));
                        if seen.first(hash(4, &[instance, service, &port.to_be_bytes()])) {
                            sink.fact(ctx, &Fact::DnsSdService { instance, service, port: Some(port) });
                        }
                    }
                    _ => {}
                }
            }
            for &at in &sd_ptrs {
                let Ok((r, _)) = names.read(at).and_then(|p| record_data(msg, p)) else { continue };
                if read_name_into(msg, r.rdata_at, &mut target).is_err() {
                    continue;
                }
                let service = names.name.as_bytes();
                let instance = target.first_label();
                // The target must be `<instance>.<this service>`.
                if instance.is_empty() || !target.rest().eq_ignore_ascii_case(service) {
                    continue;
                }
                if srv_owners.contains(&hash(3, &[target.as_bytes()])) {
                    continue;
                }
                if seen.first(hash(4, &[instance, service])) {
                    sink.fact(ctx, &Fact::DnsSdService { instance, service, port: None });
                }
            }
            result
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600), port in 0usize..3) {
            let ctx = ctx_port([53, 5353, 5355][port]);
            let mut c = Collect::default();
            let _ = dissect(&ctx, &bytes, &mut c);
            proptest::prop_assert!(c.lines.len() <= 1 + MAX_QUESTIONS + 3 * MAX_RECORDS);
        }

        #[test]
        fn mutated_mdns_never_panics(flip in proptest::collection::vec((0usize..2000, proptest::prelude::any::<u8>()), 1..8)) {
            static MDNS: std::sync::OnceLock<Vec<(u64, Vec<u8>)>> = std::sync::OnceLock::new();
            // IPv4 / UDP frames to port 5353 (untagged, 20-byte IP header).
            let frames = MDNS.get_or_init(|| {
                let all = testutil::frames("iot-philips-hue-bridge__iot-sentinel.pcap");
                all.into_iter().filter(|(_, f)| f.len() > 42 && f[36..38] == [0x14, 0xe9]).collect()
            });
            let mut p = crate::dissect::Pipeline::new(0);
            let mut c = Collect::default();
            for (ts, f) in frames {
                let mut f = f.clone();
                for &(at, b) in &flip {
                    let n = f.len();
                    f[42 + at % (n - 42)] = b;
                }
                p.frame(*ts, &f, &mut c);
            }
        }
    }
}
