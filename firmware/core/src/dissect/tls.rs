//! TLS: the ClientHello in the first handshake record of a connection (RFC 8446 §4.1.2,
//! RFC 5246 §7.4.1.2), for the server name the client asks for, its first ALPN protocol and
//! a JA4 fingerprint of the client's TLS stack.
//!
//! Parsed: record header, handshake header, legacy version, session id, cipher suites,
//! compression methods and at most [`MAX_EXTENSIONS`] extensions, of which server_name (0),
//! signature_algorithms (13), ALPN (16) and supported_versions (43) are read.
//!
//! JA4 (FoxIO, `technical_details/JA4.md`): `t` + version + `d`/`i` (SNI or not) + cipher
//! count + extension count + first/last character of the first ALPN value, `_`, the first 12
//! hex digits of the SHA-256 of the sorted cipher list, `_`, the same of the sorted extension
//! list (without SNI and ALPN) followed by `_` and the signature algorithms in wire order.
//! GREASE values (RFC 8701) are left out everywhere. Only TLS over TCP is seen here, so the
//! first character is always `t`.
//!
//! Deliberately not parsed: ServerHello and everything after it (the server is only marked
//! as speaking TLS), the inner ClientHello of ECH (encrypted), handshake messages split over
//! several records (the first record's part is parsed as a cut message), SSLv2 hellos.
//!
//! A ClientHello cut by the end of the segment (large post-quantum key shares make them
//! longer than one MSS) is reported as far as it goes when its cipher list is whole: the
//! extensions seen give the SNI and ALPN, the JA4 is left empty (a fingerprint of part of
//! the extensions would be a wrong one), and the dissector returns [`Error::Truncated`] so
//! it is counted.

use super::util::be16;
use super::{Error, Result};
use crate::fact::{Fact, FrameCtx, Sink};
use sha2::{Digest, Sha256};
use wardtap_proto::Protocol;

/// Record content type of handshake messages.
pub const CONTENT_HANDSHAKE: u8 = 22;
/// Handshake type of a ClientHello.
pub const CLIENT_HELLO: u8 = 1;
/// Largest record body allowed (2^14 plus the expansion TLS 1.2 tolerates).
pub const MAX_RECORD: usize = 16384 + 2048;
/// Most cipher suites fingerprinted (real clients offer well under 100).
pub const MAX_CIPHERS: usize = 256;
/// Most extensions parsed (about 30 types are in use; duplicates are not allowed).
pub const MAX_EXTENSIONS: usize = 64;
/// Most server_name entries looked at.
const MAX_NAMES: usize = 8;
/// Length of a JA4 fingerprint text.
pub const JA4_LEN: usize = 36;

/// Record header (RFC 8446 §5.1).
mod record {
    /// ContentType.
    pub const CONTENT_TYPE: usize = 0;
    /// ProtocolVersion, major byte (3 for SSL 3.0 to TLS 1.3).
    pub const VERSION_MAJOR: usize = 1;
    /// Body length, u16.
    pub const LENGTH: usize = 3;
    /// Header length.
    pub const HEADER_LEN: usize = 5;
}

/// Handshake message header (RFC 8446 §4).
mod handshake {
    use core::ops::Range;
    /// HandshakeType.
    pub const MSG_TYPE: usize = 0;
    /// Body length, u24.
    pub const LENGTH: Range<usize> = 1..4;
    /// Header length.
    pub const HEADER_LEN: usize = 4;
}

/// Extension types read.
mod ext {
    /// server_name (RFC 6066).
    pub const SERVER_NAME: u16 = 0;
    /// signature_algorithms (RFC 8446).
    pub const SIGNATURE_ALGORITHMS: u16 = 13;
    /// application_layer_protocol_negotiation (RFC 7301).
    pub const ALPN: u16 = 16;
    /// supported_versions (RFC 8446).
    pub const SUPPORTED_VERSIONS: u16 = 43;
}

/// Dissects the first segment of a TLS connection direction.
///
/// Emits `Speaks(Tls)` for any handshake record and, for a ClientHello,
/// `TlsClientHello { sni, alpn, ja4 }`.
pub fn dissect<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S) -> Result<()> {
    dissect_memo(ctx, payload, sink, &mut Ja4Memo::new())
}

/// [`dissect`] with a memo of JA4 hashes from earlier ClientHellos (the pipeline keeps one:
/// a client stack sends the same lists again and again, and SHA-256 is most of the cost).
pub fn dissect_memo<S: Sink + ?Sized>(ctx: &FrameCtx, payload: &[u8], sink: &mut S, memo: &mut Ja4Memo) -> Result<()> {
    if payload.get(record::CONTENT_TYPE) != Some(&CONTENT_HANDSHAKE) || payload.get(record::VERSION_MAJOR) != Some(&3) {
        return Err(Error::NotMine);
    }
    let len = usize::from(be16(payload, record::LENGTH).ok_or(Error::Truncated)?);
    if len == 0 || len > MAX_RECORD {
        return Err(Error::Malformed);
    }
    let body = payload.get(record::HEADER_LEN..).unwrap_or(&[]);
    let body = body.get(..len).unwrap_or(body);
    super::speak(ctx, Protocol::Tls, sink);
    if *body.get(handshake::MSG_TYPE).ok_or(Error::Truncated)? != CLIENT_HELLO {
        return Ok(());
    }
    let hs_len = match body.get(handshake::LENGTH) {
        Some(&[a, b, c]) => u32::from_be_bytes([0, a, b, c]) as usize,
        _ => return Err(Error::Truncated),
    };
    let hello = body.get(handshake::HEADER_LEN..).unwrap_or(&[]);
    // Shorter than declared: cut by the segment or the record (a message split over records).
    let cut = hello.len() < hs_len;
    let hello = ClientHello::parse(hello.get(..hs_len).unwrap_or(hello), cut)?;
    // A fingerprint over part of the extensions would be a wrong fingerprint: a cut hello
    // reports its SNI and ALPN but no JA4.
    let ja4 = if cut { heapless::Vec::new() } else { hello.ja4(memo)? };
    sink.fact(ctx, &Fact::TlsClientHello { sni: hello.sni, alpn: hello.alpn.filter(|a| !a.is_empty()), ja4: &ja4 });
    if cut {
        Err(Error::Truncated)
    } else {
        Ok(())
    }
}

/// GREASE values (RFC 8701): `0x?a?a` with both bytes equal.
fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// Big-endian u16 values of a list, an odd trailing byte ignored.
fn u16s(list: &[u8]) -> impl Iterator<Item = u16> + '_ {
    list.chunks_exact(2).filter_map(|p| match *p {
        [a, b] => Some(u16::from_be_bytes([a, b])),
        _ => None,
    })
}

/// What a ClientHello says, as far as it was seen.
#[derive(Debug, Default)]
struct ClientHello<'a> {
    legacy_version: u16,
    /// Cipher suite list, whole.
    ciphers: &'a [u8],
    /// Non-GREASE extension types in wire order.
    extensions: heapless::Vec<u16, MAX_EXTENSIONS>,
    has_sni: bool,
    sni: Option<&'a [u8]>,
    /// First ALPN protocol (possibly empty, which JA4 renders as `00`).
    alpn: Option<&'a [u8]>,
    /// signature_algorithms list, raw.
    sig_algs: &'a [u8],
    /// Highest non-GREASE supported_versions entry.
    max_version: Option<u16>,
}

impl<'a> ClientHello<'a> {
    /// Parses a ClientHello body. `cut`: the body is shorter than its declared length, so a
    /// read past its end means "not seen" rather than "malformed".
    fn parse(buf: &'a [u8], cut: bool) -> Result<Self> {
        let short = if cut { Error::Truncated } else { Error::Malformed };
        let (&[major, minor], rest) = buf.split_first_chunk().ok_or(short)?;
        if major != 3 {
            return Err(Error::Malformed);
        }
        let rest = rest.get(32..).ok_or(short)?; // random
        let (&sid_len, rest) = rest.split_first().ok_or(short)?;
        if sid_len > 32 {
            return Err(Error::Malformed);
        }
        let rest = rest.get(usize::from(sid_len)..).ok_or(short)?;
        let (&[c0, c1], rest) = rest.split_first_chunk().ok_or(short)?;
        let cs_len = u16::from_be_bytes([c0, c1]);
        if cs_len % 2 != 0 {
            return Err(Error::Malformed);
        }
        let (ciphers, rest) = rest.split_at_checked(cs_len.into()).ok_or(short)?;
        let legacy_version = u16::from_be_bytes([major, minor]);
        let mut h = ClientHello { legacy_version, ciphers, ..Default::default() };

        // From here on, a cut leaves a usable hello: stop where the bytes stop.
        let Some((_compression, rest)) = vec8(rest) else { return h.end(cut) };
        if rest.is_empty() {
            // No extensions at all (allowed before TLS 1.3), or not seen yet.
            return Ok(h);
        }
        let Some((&[e0, e1], rest)) = rest.split_first_chunk() else { return h.end(cut) };
        let block = match rest.get(..usize::from(u16::from_be_bytes([e0, e1]))) {
            Some(b) => b,
            None if cut => rest,
            None => return Err(Error::Malformed),
        };
        let mut rest = block;
        for _ in 0..MAX_EXTENSIONS {
            // Type, length, data; an extension is used only when whole.
            let Some((&[t0, t1, l0, l1], after)) = rest.split_first_chunk() else {
                return if rest.is_empty() { Ok(h) } else { h.end(cut) };
            };
            let Some((data, next)) = after.split_at_checked(usize::from(u16::from_be_bytes([l0, l1]))) else {
                return h.end(cut);
            };
            h.extension(u16::from_be_bytes([t0, t1]), data)?;
            rest = next;
        }
        if rest.is_empty() {
            Ok(h)
        } else {
            Err(Error::Malformed)
        }
    }

    /// The hello ran out of bytes: fine if it was cut, a lying length otherwise.
    fn end(self, cut: bool) -> Result<Self> {
        if cut {
            Ok(self)
        } else {
            Err(Error::Malformed)
        }
    }

    /// Records one extension. Malformed contents of a known extension leave its value unset
    /// rather than failing the hello: the fingerprint stays useful.
    fn extension(&mut self, typ: u16, data: &'a [u8]) -> Result<()> {
        if is_grease(typ) {
            return Ok(());
        }
        self.extensions.push(typ).map_err(|_| Error::Malformed)?;
        match typ {
            ext::SERVER_NAME => {
                self.has_sni = true;
                if self.sni.is_none() {
                    self.sni = server_name(data);
                }
            }
            ext::ALPN if self.alpn.is_none() => self.alpn = first_alpn(data),
            ext::SIGNATURE_ALGORITHMS => self.sig_algs = vec16(data).map_or(&[], |(list, _)| list),
            ext::SUPPORTED_VERSIONS => {
                let list = vec8(data).map_or(&[][..], |(list, _)| list);
                self.max_version = u16s(list).filter(|v| !is_grease(*v)).max();
            }
            _ => {}
        }
        Ok(())
    }

    /// The JA4 fingerprint text.
    fn ja4(&self, memo: &mut Ja4Memo) -> Result<heapless::Vec<u8, JA4_LEN>> {
        // Each hash's input is written as its memo key: see [`Ja4Memo::hash12`].
        let mut ciphers = [0u16; 1 + MAX_CIPHERS];
        // In wire order: the memo keys on it and sorts only to hash.
        let n_ciphers = key_list(&mut ciphers, MAX_CIPHERS, u16s(self.ciphers).filter(|v| !is_grease(*v)))?;
        let ciphers_hash = memo.hash12(ciphers.get_mut(..=n_ciphers).unwrap_or_default(), n_ciphers);

        // Sorted (some stacks shuffle their extensions), then the signature algorithms.
        let mut exts = [0u16; 1 + MAX_EXTENSIONS + KEY_SIG_ALGS];
        let all = self.extensions.iter().copied();
        let n_exts = key_list(&mut exts, MAX_EXTENSIONS, all.filter(|t| *t != ext::SERVER_NAME && *t != ext::ALPN))?;
        let (sorted, tail) = exts.split_at_mut(1 + n_exts);
        if let Some(list) = sorted.get_mut(1..) {
            list.sort_unstable();
        }
        let sig_algs = || u16s(self.sig_algs).filter(|v| !is_grease(*v));
        let (mut n_sigs, mut fits) = (0, true);
        for v in sig_algs() {
            let Some(k) = tail.get_mut(n_sigs) else {
                fits = false;
                break;
            };
            *k = v;
            n_sigs += 1;
        }
        let exts_hash = if fits {
            memo.hash12(exts.get_mut(..1 + n_exts + n_sigs).unwrap_or_default(), n_exts)
        } else {
            // More signature algorithms than a key holds (no real client): not memoised.
            hash12(exts.get(1..=n_exts).unwrap_or_default(), sig_algs())
        };

        let mut out = heapless::Vec::new();
        let mut put = |s: &[u8]| out.extend_from_slice(s).map_err(|_| Error::Malformed);
        put(b"t")?;
        put(&version_code(self.max_version.unwrap_or(self.legacy_version)))?;
        put(if self.has_sni { b"d" } else { b"i" })?;
        put(&two_digits(n_ciphers))?;
        put(&two_digits(self.extensions.len()))?;
        put(&alpn_code(self.alpn))?;
        put(b"_")?;
        put(&ciphers_hash)?;
        put(b"_")?;
        put(&exts_hash)?;
        Ok(out)
    }
}

/// Writes a memo key's list part: the number of items of `it` (at most `max`, more is
/// malformed: no real client comes close), then the items. Returns the number.
fn key_list(key: &mut [u16], max: usize, it: impl Iterator<Item = u16>) -> Result<usize> {
    let (count, items) = key.split_first_mut().ok_or(Error::Malformed)?;
    let items = items.get_mut(..max).ok_or(Error::Malformed)?;
    let mut n = 0;
    for v in it {
        *items.get_mut(n).ok_or(Error::Malformed)? = v;
        n += 1;
    }
    *count = n as u16;
    Ok(n)
}

/// A vector with a one-byte length (RFC 8446 §3.4), and what follows it.
fn vec8(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&len, rest) = data.split_first()?;
    rest.split_at_checked(len.into())
}

/// A vector with a two-byte length, and what follows it.
fn vec16(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&[a, b], rest) = data.split_first_chunk()?;
    rest.split_at_checked(u16::from_be_bytes([a, b]).into())
}

/// First host_name of a server_name extension (RFC 6066 §3).
fn server_name(data: &[u8]) -> Option<&[u8]> {
    let (mut list, _) = vec16(data)?;
    for _ in 0..MAX_NAMES {
        let (&name_type, rest) = list.split_first()?;
        let (name, rest) = vec16(rest)?;
        if name_type == 0 && !name.is_empty() {
            return Some(name);
        }
        list = rest;
    }
    None
}

/// First protocol of an ALPN extension (RFC 7301 §3.1).
fn first_alpn(data: &[u8]) -> Option<&[u8]> {
    let (list, _) = vec16(data)?;
    vec8(list).map(|(first, _)| first)
}

/// JA4's two-character TLS version.
fn version_code(v: u16) -> [u8; 2] {
    match v {
        0x0304 => *b"13",
        0x0303 => *b"12",
        0x0302 => *b"11",
        0x0301 => *b"10",
        0x0300 => *b"s3",
        0x0200 => *b"s2",
        0x0100 => *b"s1",
        _ => *b"00",
    }
}

/// `n` as two decimal digits, 99 at most.
fn two_digits(n: usize) -> [u8; 2] {
    let n = n.min(99) as u8;
    [b'0' + n / 10, b'0' + n % 10]
}

/// JA4's ALPN part: first and last character of the first protocol when both are ASCII
/// alphanumeric, else the first and last hex digit of its bytes; `00` without one.
fn alpn_code(alpn: Option<&[u8]>) -> [u8; 2] {
    match alpn.and_then(|a| Some((*a.first()?, *a.last()?))) {
        Some((first, last)) if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() => [first, last],
        Some((first, last)) => [hex_digit(first >> 4), hex_digit(last)],
        None => *b"00",
    }
}

const fn hex_digit(n: u8) -> u8 {
    match n & 0xf {
        d @ 0..=9 => b'0' + d,
        d => b'a' + (d - 10),
    }
}

/// Lowercase 4-digit hex.
fn hex4(v: u16) -> [u8; 4] {
    let [a, b] = v.to_be_bytes();
    let [a, b] = [HEX2[usize::from(a)], HEX2[usize::from(b)]];
    [a[0], a[1], b[0], b[1]]
}

/// Every byte as two lowercase hex digits.
const HEX2: [[u8; 2]; 256] = {
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [hex_digit((i >> 4) as u8), hex_digit(i as u8)];
        i += 1;
    }
    t
};

/// Signature algorithms a memo key holds besides the extensions.
const KEY_SIG_ALGS: usize = MEMO_KEY;
/// Items of a memo key: both lists and their lengths (longer inputs are not memoised;
/// real client stacks send 15-60 ciphers and 10-25 extensions and signature algorithms).
const MEMO_KEY: usize = 64;
/// Memo entries: a cipher list and an extension list per client stack, so eight stacks
/// (a busy segment shows a handful: browsers, OS services, agents).
const MEMO_ENTRIES: usize = 16;

/// The last [`hash12`] results by their exact input, any entry for any input (round-robin
/// replacement), looked up by a tag and then compared in full: a hit returns what hashing
/// the same input again would.
pub struct Ja4Memo {
    entries: [MemoEntry; MEMO_ENTRIES],
    /// The entry the next miss replaces.
    next: u8,
}

#[derive(Clone, Copy)]
struct MemoEntry {
    /// Hash of the key (0 with `len` 0: empty).
    tag: u32,
    /// Key length in items (0: empty).
    len: u8,
    key: [u16; MEMO_KEY],
    out: [u8; 12],
}

impl Default for Ja4Memo {
    fn default() -> Self {
        Self::new()
    }
}

impl Ja4Memo {
    /// An empty memo.
    pub const fn new() -> Self {
        let empty = MemoEntry { tag: 0, len: 0, key: [0; MEMO_KEY], out: [0; 12] };
        Ja4Memo { entries: [empty; MEMO_ENTRIES], next: 0 }
    }

    /// [`hash12`] of a key's list sorted and its other items, from the memo when the same
    /// key was hashed lately. The key is what is hashed, as written by [`key_list`]: the
    /// number of list items `n`, the `n` items in any order (a client sends its ciphers in
    /// the same order every time; they are sorted only to hash), then the non-GREASE
    /// signature algorithms (none for the cipher hash). A key longer than an entry holds is
    /// hashed without the memo.
    fn hash12(&mut self, key: &mut [u16], n: usize) -> [u8; 12] {
        let hash = |key: &mut [u16]| {
            let (list, sigs) = key.split_at_mut(n.saturating_add(1).min(key.len()));
            let list = list.get_mut(1..).unwrap_or_default();
            list.sort_unstable();
            hash12(list, sigs.iter().copied())
        };
        if key.len() > MEMO_KEY {
            return hash(key);
        }
        let tag = key.iter().fold(0x811c_9dc5u32, |h, &v| (h ^ u32::from(v)).wrapping_mul(0x0100_0193)) | 1;
        for e in &self.entries {
            if e.tag == tag && usize::from(e.len) == key.len() && e.key.get(..key.len()) == Some(key) {
                return e.out;
            }
        }
        let slot = usize::from(self.next) % MEMO_ENTRIES;
        self.next = ((slot + 1) % MEMO_ENTRIES) as u8;
        let Some(e) = self.entries.get_mut(slot) else { return hash(key) };
        let Some(k) = e.key.get_mut(..key.len()) else { return hash(key) };
        k.copy_from_slice(key);
        e.tag = tag;
        e.len = key.len() as u8;
        e.out = hash(key);
        e.out
    }
}

/// First 12 hex digits of SHA-256 over `list` as comma-separated hex, then, when there are
/// signature algorithms (GREASE already left out), `_` and them in wire order. Nothing to
/// hash gives `000000000000`.
fn hash12(list: &[u16], sig_algs: impl Iterator<Item = u16>) -> [u8; 12] {
    let mut sigs = sig_algs.peekable();
    if list.is_empty() && sigs.peek().is_none() {
        return [b'0'; 12];
    }
    fn comma_list(h: &mut Sha256, items: impl Iterator<Item = u16>) {
        for (i, v) in items.enumerate() {
            // One update per item: `,` and the digits together.
            let [a, b, c, d] = hex4(v);
            let item = [b',', a, b, c, d];
            h.update(if i > 0 { &item[..] } else { &item[1..] });
        }
    }
    let mut h = Sha256::new();
    comma_list(&mut h, list.iter().copied());
    if sigs.peek().is_some() {
        h.update(b"_");
        comma_list(&mut h, sigs);
    }
    let digest = h.finalize();
    let mut out = [0u8; 12];
    for (pair, byte) in out.chunks_exact_mut(2).zip(digest.iter()) {
        if let [hi, lo] = pair {
            *hi = hex_digit(byte >> 4);
            *lo = hex_digit(*byte);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::dissect::testutil::{facts, frames};
    use crate::fact::collect::Collect;
    use std::vec::Vec;

    fn run(p: &[u8]) -> (Result<()>, Collect) {
        crate::dissect::testutil::run(dissect, p)
    }

    fn hellos(c: &Collect) -> Vec<&str> {
        c.lines.iter().filter(|l| l.starts_with("TlsClientHello")).map(|l| l.as_str()).collect()
    }

    /// A ClientHello record from its parts (each extension as (type, data)).
    fn hello(version: u16, ciphers: &[u16], exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&version.to_be_bytes());
        b.extend_from_slice(&[0x11; 32]);
        b.push(32);
        b.extend_from_slice(&[0x22; 32]);
        b.extend_from_slice(&((ciphers.len() * 2) as u16).to_be_bytes());
        for c in ciphers {
            b.extend_from_slice(&c.to_be_bytes());
        }
        b.extend_from_slice(&[1, 0]);
        let mut e = Vec::new();
        for (t, d) in exts {
            e.extend_from_slice(&t.to_be_bytes());
            e.extend_from_slice(&(d.len() as u16).to_be_bytes());
            e.extend_from_slice(d);
        }
        b.extend_from_slice(&(e.len() as u16).to_be_bytes());
        b.extend_from_slice(&e);
        let mut hs = std::vec![CLIENT_HELLO];
        hs.extend_from_slice(&(b.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&b);
        let mut r = std::vec![CONTENT_HANDSHAKE, 3, 1];
        r.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        r.extend_from_slice(&hs);
        r
    }

    fn u16_list(prefix_len: usize, v: &[u16]) -> Vec<u8> {
        let body: Vec<u8> = v.iter().flat_map(|x| x.to_be_bytes()).collect();
        let mut d = Vec::new();
        if prefix_len == 2 {
            d.extend_from_slice(&(body.len() as u16).to_be_bytes());
        } else {
            d.push(body.len() as u8);
        }
        d.extend_from_slice(&body);
        d
    }

    fn sni(name: &[u8]) -> Vec<u8> {
        let mut d = ((name.len() + 3) as u16).to_be_bytes().to_vec();
        d.push(0);
        d.extend_from_slice(&(name.len() as u16).to_be_bytes());
        d.extend_from_slice(name);
        d
    }

    fn alpn(protos: &[&[u8]]) -> Vec<u8> {
        let body: Vec<u8> =
            protos.iter().flat_map(|p| core::iter::once(p.len() as u8).chain(p.iter().copied())).collect();
        let mut d = (body.len() as u16).to_be_bytes().to_vec();
        d.extend_from_slice(&body);
        d
    }

    /// The worked example of the JA4 spec (FoxIO `technical_details/JA4.md`), with GREASE
    /// added in every list: its published fingerprint is `t13d1516h2_8daaf6152771_e5627efa2ab1`.
    fn spec_example() -> Vec<u8> {
        let ciphers = [
            0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c,
            0x009d, 0x002f, 0x0035,
        ];
        let sigs = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];
        let mut exts = std::vec![(0x2a2a, Vec::new())];
        for t in [
            0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01,
            0x000b, 0x000a, 0x0015,
        ] {
            let d = match t {
                0x0000 => sni(b"example.org"),
                0x0010 => alpn(&[b"h2", b"http/1.1"]),
                0x000d => u16_list(2, &sigs),
                0x002b => u16_list(1, &[0x3a3a, 0x0304, 0x0303]),
                _ => std::vec![0; 2],
            };
            exts.push((t, d));
        }
        exts.push((0xfafa, std::vec![0]));
        hello(0x0303, &ciphers, &exts)
    }

    #[test]
    fn ja4_spec_worked_example() {
        let (r, c) = run(&spec_example());
        assert_eq!(r, Ok(()));
        assert_eq!(
            c.lines,
            ["Speaks tls", "TlsClientHello sni=example.org alpn=h2 ja4=t13d1516h2_8daaf6152771_e5627efa2ab1"]
        );
    }

    #[test]
    fn ja4_spec_hash_without_signature_algorithms() {
        // Spec: the extension list alone (no `_`) hashes to 6d807ffa2a79.
        let exts = [
            0x0005, 0x000a, 0x000b, 0x000d, 0x0012, 0x0015, 0x0017, 0x001b, 0x0023, 0x002b, 0x002d, 0x0033, 0x4469,
            0xff01,
        ];
        assert_eq!(&hash12(&exts, [].into_iter()), b"6d807ffa2a79");
        assert_eq!(&hash12(&[], [].into_iter()), b"000000000000");
        // GREASE-only signature algorithms count as none; a real one counts.
        let ja4 = |sigs: &[u16]| {
            let (_, c) = run(&hello(0x0303, &[0x1301], &[(13, u16_list(2, sigs))]));
            hellos(&c).concat()
        };
        assert_eq!(ja4(&[0x1a1a]), ja4(&[]));
        assert_ne!(ja4(&[0x1a1a, 0x0403]), ja4(&[]));
        assert_eq!(ja4(&[0x1a1a, 0x0403]), ja4(&[0x0403]));
    }

    // Expected values below were computed once by an independent Python script (hashlib,
    // own ClientHello walker, same spec) over the same captures.

    #[test]
    fn gstatic_tls10() {
        let c = facts("tls-clienthello-sni-gstatic__zeek.pcap");
        assert_eq!(hellos(&c), ["TlsClientHello sni=ssl.gstatic.com alpn= ja4=t10d360600_b06c425f59b5_eb0e26099a3f"]);
        // Client and server (ServerHello) both speak TLS.
        assert_eq!(c.lines.iter().filter(|l| *l == "Speaks tls").count(), 2);
    }

    #[test]
    fn ech_outer_sni() {
        let c = facts("tls13-ech-sni__zeek.pcap");
        let h = hellos(&c);
        assert_eq!(h.len(), 2);
        for l in h {
            assert_eq!(l, "TlsClientHello sni=cloudflare-ech.com alpn=h2 ja4=t13d1517h2_8daaf6152771_b1ff8ab2d16f");
        }
    }

    #[test]
    fn hospital_synthetic() {
        let c = facts("dicom-dhcp-smb-hospital-synthetic__tapirxl.pcap");
        assert!(c.has("TlsClientHello sni=usea1-016.sentinelone.net alpn= ja4=t12d210500_2747402152d8_387fe067870d"));
        assert!(c.has("TlsClientHello sni=events.data.microsoft.com alpn= ja4=t12d210500_2747402152d8_387fe067870d"));
    }

    #[test]
    fn many_sites_match_independent_computation() {
        let c = facts("tls-sni-many-sites__pcapplusplus.pcap");
        let h = hellos(&c);
        assert_eq!(h.len(), 323);
        let mut by_ja4 = std::collections::BTreeMap::<&str, usize>::new();
        for l in &h {
            *by_ja4.entry(l.rsplit_once("ja4=").map(|(_, j)| j).unwrap_or("")).or_default() += 1;
        }
        let want = [
            ("t13d1515h2_8daaf6152771_de4a06bb82e3", 201),
            ("t13d1812h2_e8a523a41297_b2c23852c975", 52),
            ("t13d1509h1_8daaf6152771_3a1aba1cf808", 17),
            ("t12d210600_893976a58eef_7cbcca1da025", 14),
            ("t13d1809h1_e8a523a41297_e967ce4ae740", 11),
            ("t12d190800_d83cc789557e_7af1ed941c26", 8),
            ("t13d431000_97f8c77001aa_5ac7197df9d2", 7),
            ("t13d1514h2_8daaf6152771_bc9a4605e104", 6),
            ("t13d1615h2_46e7e9700bed_45f260be83e2", 3),
            ("t13d1515h2_8daaf6152771_0ece2fe8a3fb", 2),
            ("t13d1814h2_e8a523a41297_d267a5f792d4", 1),
            ("t13d151400_8daaf6152771_de4a06bb82e3", 1),
        ];
        assert_eq!(by_ja4, want.into_iter().collect());
        assert!(c.has("TlsClientHello sni=www.youtube.com alpn=h2 ja4=t13d1812h2_e8a523a41297_b2c23852c975"));
        assert!(c.has("TlsClientHello sni=fonts.googleapis.com alpn=http/1.1 "));
        let names: std::collections::BTreeSet<_> = h.iter().filter_map(|l| l.split(' ').nth(1)).collect();
        assert_eq!(names.len(), 164);
    }

    /// The ClientHello payload of the gstatic capture.
    fn gstatic_payload() -> Vec<u8> {
        let f = frames("tls-clienthello-sni-gstatic__zeek.pcap");
        let p = f.iter().map(|(_, f)| f.as_slice()).find_map(|f| {
            let i = f.windows(6).position(|w| w[0] == 0x16 && w[1] == 3 && w[5] == CLIENT_HELLO)?;
            Some(f[i..].to_vec())
        });
        p.unwrap_or_default()
    }

    /// Offset just past the cipher list of a ClientHello record.
    fn cipher_end(p: &[u8]) -> usize {
        let sid = 5 + 4 + 2 + 32;
        let cs = sid + 1 + p[sid] as usize;
        cs + 2 + u16::from_be_bytes([p[cs], p[cs + 1]]) as usize
    }

    #[test]
    fn every_cut_of_a_real_hello() {
        for payload in [spec_example(), gstatic_payload()] {
            assert!(payload.len() > 100);
            let ciphers_seen = cipher_end(&payload);
            for n in 0..payload.len() {
                let (r, c) = run(&payload[..n]);
                let h = hellos(&c);
                if n < 5 {
                    assert!(c.lines.is_empty() && r.is_err(), "cut at {n}");
                } else {
                    assert_eq!(r, Err(Error::Truncated), "cut at {n}");
                    assert_eq!(h.len(), usize::from(n >= ciphers_seen), "cut at {n}");
                }
                for l in h {
                    assert_eq!(l.rsplit_once("ja4=").map(|(_, j)| j.len()), Some(0), "cut hello, no JA4: {l}");
                }
            }
        }
    }

    #[test]
    fn cut_after_sni_reports_it() {
        let full = spec_example();
        // Cut in the middle of the last (GREASE) extension: everything else was seen.
        let (r, c) = run(&full[..full.len() - 1]);
        assert_eq!(r, Err(Error::Truncated));
        assert_eq!(hellos(&c), ["TlsClientHello sni=example.org alpn=h2 ja4="]);
        // Cut inside the cipher list: speaks, no hello.
        let (r, c) = run(&full[..80]);
        assert_eq!(r, Err(Error::Truncated));
        assert_eq!(c.lines, ["Speaks tls"]);
    }

    #[test]
    fn no_extensions_no_alpn_odd_alpn() {
        let (r, c) = run(&hello(0x0301, &[0x002f], &[]));
        assert_eq!(r, Ok(()));
        assert_eq!(hellos(&c), ["TlsClientHello sni= alpn= ja4=t10i010000_ba72b8082249_000000000000"]);
        let (_, c) = run(&hello(0x0303, &[], &[(16, alpn(&[b"\xab\xcd"]))]));
        assert!(c.has("ja4=t12i0001ad_000000000000_"), "{:?}", c.lines);
        let (_, c) = run(&hello(0x0303, &[], &[(16, alpn(&[b"x"]))]));
        assert!(c.has("alpn=x ja4=t12i0001xx_"), "{:?}", c.lines);
        let (_, c) = run(&hello(0x0303, &[], &[(16, alpn(&[b""]))]));
        assert!(c.has("alpn= ja4=t12i000100_"), "{:?}", c.lines);
        // Unknown supported version, and malformed SNI contents: fingerprint kept.
        let (r, c) = run(&hello(0x0303, &[], &[(43, u16_list(1, &[0x7f1c])), (0, std::vec![0, 9, 0])]));
        assert_eq!(r, Ok(()));
        assert!(c.has("TlsClientHello sni= alpn= ja4=t00d0002"), "{:?}", c.lines);
    }

    #[test]
    fn server_hello_and_other_records() {
        let (r, c) = run(&[22, 3, 3, 0, 4, 2, 0, 0, 0]);
        assert_eq!((r, c.lines.as_slice()), (Ok(()), &["Speaks tls".into()][..]));
        assert_eq!(run(&[23, 3, 3, 0, 1, 0]).0, Err(Error::NotMine));
        assert_eq!(run(&[22, 2, 0, 0, 1, 0]).0, Err(Error::NotMine));
        assert_eq!(run(&[22, 3]).0, Err(Error::Truncated));
        assert_eq!(run(&[22, 3, 1, 0]).0, Err(Error::Truncated));
        assert_eq!(run(&[22, 3, 1, 0, 0]).0, Err(Error::Malformed));
        assert_eq!(run(&[22, 3, 1, 0xff, 0xff, 1]).0, Err(Error::Malformed));
        assert_eq!(run(&[22, 3, 1, 0, 4]).0, Err(Error::Truncated));
    }

    #[test]
    fn lying_lengths_are_malformed() {
        let good = hello(0x0303, &[0x1301], &[(0, sni(b"a.example"))]);
        let sid = 5 + 4 + 2 + 32;
        let mut p = good.clone();
        p[sid] = 33; // session id longer than allowed
        assert_eq!(run(&p).0, Err(Error::Malformed));
        let mut p = good.clone();
        p[sid + 1 + 32 + 1] = 3; // odd cipher list length
        assert_eq!(run(&p).0, Err(Error::Malformed));
        let mut p = good.clone();
        let ext_len = sid + 1 + 32 + 2 + 2 + 2;
        p[ext_len + 1] += 1; // extension block longer than the (whole) message
        assert_eq!(run(&p).0, Err(Error::Malformed));
        let mut p = good.clone();
        p[sid - 32 - 2] = 2; // legacy version 0x0203
        assert_eq!(run(&p).0, Err(Error::Malformed));
        // Too many extensions.
        let many: Vec<_> = (0x100..0x100 + MAX_EXTENSIONS as u16 + 1).map(|t| (t, Vec::new())).collect();
        assert_eq!(run(&hello(0x0303, &[0x1301], &many)).0, Err(Error::Malformed));
        let exactly: Vec<_> = many[..MAX_EXTENSIONS].to_vec();
        assert_eq!(run(&hello(0x0303, &[0x1301], &exactly)).0, Ok(()));
        // Too many ciphers to fingerprint.
        let ciphers: Vec<u16> = (1..=MAX_CIPHERS as u16 + 1).collect();
        let (r, c) = run(&hello(0x0303, &ciphers, &[]));
        assert_eq!(r, Err(Error::Malformed));
        assert!(hellos(&c).is_empty());
    }

    #[test]
    fn helpers() {
        assert!(is_grease(0x0a0a) && is_grease(0xfafa) && !is_grease(0x0a1a) && !is_grease(0x1301));
        assert_eq!(&hex4(0xc02b), b"c02b");
        for v in 0..=u16::MAX {
            assert_eq!(hex4(v), std::format!("{v:04x}").as_bytes(), "{v}");
        }
        assert_eq!(two_digits(123), *b"99");
        assert_eq!(two_digits(7), *b"07");
        assert_eq!(alpn_code(None), *b"00");
        assert_eq!(alpn_code(Some(b"http/1.1")), *b"h1");
        assert_eq!(alpn_code(Some(b"\xab\x01\xcd")), *b"ad");
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_mutated_hello(pos in 0usize..400, val in proptest::prelude::any::<u8>(), cut in 0usize..420) {
            let mut p = spec_example();
            if let Some(b) = p.get_mut(pos) {
                *b = val;
            }
            p.truncate(cut);
            let _ = run(&p);
        }

        #[test]
        fn never_panics_on_random(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let mut p = std::vec![22, 3, 1, (tail.len() >> 8) as u8, tail.len() as u8, 1, 0];
            p.extend_from_slice(&tail);
            let _ = run(&p);
        }
    }

    /// The memo answers what hashing would: for repeated, interleaved, colliding and
    /// too-long inputs, with and without signature algorithms.
    #[test]
    fn memo_gives_the_hash_of_the_same_input() {
        extern crate std;
        use std::{vec, vec::Vec};
        let mut memo = Ja4Memo::new();
        let mut x: u32 = 7;
        let mut rnd = |n: u32| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x % n
        };
        let mut inputs: Vec<(Vec<u16>, Vec<u16>)> = Vec::new();
        for i in 0..40 {
            let len = [0, 1, 3, 15, 40, 62, 63, 64, 100][i % 9];
            let list: Vec<u16> = (0..len).map(|_| rnd(0x1_0000) as u16).collect();
            let sigs: Vec<u16> = (0..rnd(3) * 3).map(|_| rnd(0x1_0000) as u16).collect();
            inputs.push((list, sigs));
        }
        // Same list, other signature algorithms, or none; a key just within and just past
        // an entry's size.
        inputs.push((vec![1, 2, 3], vec![0x0403]));
        inputs.push((vec![1, 2, 3], vec![0x0403, 0x0804]));
        inputs.push((vec![1, 2, 3], vec![]));
        inputs.push(((0..40).collect(), (0..23).collect()));
        inputs.push(((0..40).collect(), (0..24).collect()));
        // The same set in another order: its own key, the same hash.
        inputs.push((vec![3, 1, 2], vec![]));
        for _ in 0..2_000 {
            let (list, sigs) = &inputs[rnd(inputs.len() as u32) as usize];
            let mut sorted = list.clone();
            sorted.sort_unstable();
            let mut key = vec![list.len() as u16];
            key.extend_from_slice(list);
            key.extend_from_slice(sigs);
            let want = hash12(&sorted, sigs.iter().copied());
            assert_eq!(memo.hash12(&mut key, list.len()), want, "{list:?} {sigs:?}");
        }
    }
}
