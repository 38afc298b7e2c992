//! A checked reader over untrusted bytes: every read either returns data inside the slice or
//! an [`Error`]; nothing here can panic or loop.

use super::{Error, Result};
use core::ops::ControlFlow;

/// Sequential reader over a byte slice.
#[derive(Clone, Copy, Debug)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// Starts at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }
    /// Bytes consumed so far.
    pub fn pos(&self) -> usize {
        self.pos
    }
    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    /// The unread rest, without consuming it.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }
    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
    /// Takes `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Error::Truncated);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.take(n).map(|_| ())
    }
    /// One byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    /// Big-endian u16.
    pub fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    /// Big-endian u32.
    pub fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let b = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }
}

/// Big-endian u16 at `off`, if in bounds.
pub fn be16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(off)?, *b.get(off.checked_add(1)?)?]))
}

/// Trims ASCII spaces and NULs at both ends (AE titles, padded fields).
pub fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if *first == b' ' || *first == 0 {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if *last == b' ' || *last == 0 || *last == b'\r' || *last == b'\n' {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// ASCII case-insensitive prefix test.
pub fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Reads the header block of a text protocol message (HTTP, SSDP, RTSP-like): its lines end
/// at LF (the LF and one CR before it dropped), the block at the first blank line.
///
/// The first line (request, status or start line) is passed over. Every later LF-terminated
/// line that is not blank and whose first two bytes `wanted` says yes to (the second may be
/// the CR or LF ending the line) is handed to `f`, in order, until `f` breaks; lines starting
/// with CR are handed out too. Other lines are passed over with two bytes read each. At most
/// `max_lines` lines are looked at, the first one and those passed over included (bounded
/// work on hostile input).
///
/// Returns the unterminated last line (one CR at its end dropped, possibly empty) when the
/// scan got there: the first line had an LF, no blank line came, `f` never broke and fewer
/// than `max_lines` lines were looked at. Datagram protocols read it; stream protocols ignore
/// it (it may be cut by the end of the segment).
///
/// Line ends are found sixteen bytes at a time in one pass over the block, and lines are
/// handed out from there without going back: a line costs a few instructions beyond the
/// bytes it spans.
#[inline]
pub fn header_block<'a>(
    buf: &'a [u8],
    max_lines: usize,
    wanted: impl Fn(u8, u8) -> bool,
    mut f: impl FnMut(&'a [u8]) -> ControlFlow<()>,
) -> Option<&'a [u8]> {
    let mut scan = Scan { buf, start: 0, left: max_lines };
    let mut rest = buf;
    // Bounded by the length of `buf`, sixteen bytes per pass.
    while let Some((pair, next)) = rest.split_first_chunk::<16>() {
        let v = u128::from_le_bytes(*pair);
        let (lo, hi) = (v as u64, (v >> 64) as u64);
        if below_0b(lo) | below_0b(hi) != 0 {
            // `rest` is a suffix of `buf`: this is the offset of its first byte.
            let at = buf.len().wrapping_sub(rest.len());
            if scan.word(lf_bits(lo), at, &wanted, &mut f).is_break()
                || scan.word(lf_bits(hi), at.wrapping_add(8), &wanted, &mut f).is_break()
            {
                return None;
            }
        }
        rest = next;
    }
    // The last one to fifteen bytes, as one or two words: eight bytes read in place if there
    // are more than eight, then the block's last eight read again (those searched already
    // masked off), or a padded copy of a block shorter than that.
    let mut tail = rest;
    if let Some((w, next)) = tail.split_first_chunk::<8>() {
        let at = buf.len().wrapping_sub(tail.len());
        if scan.word(lf_bits(u64::from_le_bytes(*w)), at, &wanted, &mut f).is_break() {
            return None;
        }
        tail = next;
    }
    if !tail.is_empty() {
        let (w, at, seen) = match buf.last_chunk::<8>() {
            Some(last) => (u64::from_le_bytes(*last), buf.len().wrapping_sub(8), 8usize.wrapping_sub(tail.len())),
            None => {
                let mut w = [0u8; 8];
                for (d, s) in w.iter_mut().zip(tail) {
                    *d = *s;
                }
                // Padding zeros are not LFs.
                (u64::from_le_bytes(w), 0, 0)
            }
        };
        // `seen` is below 8: the shift is below 64.
        if scan.word(lf_bits(w) & u64::MAX << (8 * seen), at, &wanted, &mut f).is_break() {
            return None;
        }
    }
    match scan.start {
        // The first line has no LF: it is all there is.
        0 => None,
        _ if scan.left == 0 => None,
        start => buf.get(start..).map(|l| l.strip_suffix(b"\r").unwrap_or(l)),
    }
}

/// The state of [`header_block`] between line ends.
struct Scan<'a> {
    buf: &'a [u8],
    /// Start of the next line.
    start: usize,
    /// Lines still allowed.
    left: usize,
}

impl<'a> Scan<'a> {
    /// Hands out the lines ending at the LFs `bits` marks (the high bit of each LF byte of the
    /// eight at offset `at`); breaks at the blank line, when the bound is reached or `f`
    /// breaks.
    #[inline(always)]
    fn word(
        &mut self,
        mut bits: u64,
        at: usize,
        wanted: &impl Fn(u8, u8) -> bool,
        f: &mut impl FnMut(&'a [u8]) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        // Bounded: one bit of eight cleared per pass.
        while bits != 0 {
            let lf = at.wrapping_add((bits.trailing_zeros() / 8) as usize);
            bits &= bits.wrapping_sub(1);
            let start = core::mem::replace(&mut self.start, lf.wrapping_add(1));
            self.left = match self.left.checked_sub(1) {
                Some(l) => l,
                None => return ControlFlow::Break(()),
            };
            // A line not starting with LF has a second byte: the LF is after it.
            match self.buf.get(start..start.wrapping_add(2)) {
                // Not blank (a blank line starts with CR or LF) and not wanted.
                Some(&[b0, b1]) if b0 != b'\r' && b0 != b'\n' && !wanted(b0, b1) => continue,
                _ => {}
            }
            // The first line is not the caller's (nor a blank line ending the block).
            if start == 0 {
                continue;
            }
            let line = self.buf.get(start..lf).unwrap_or_default();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                return ControlFlow::Break(());
            }
            f(line)?;
        }
        ControlFlow::Continue(())
    }
}

/// The offsets of the first two `byte`s in `s` (a colon in a host, say), found eight bytes
/// at a time.
pub fn first_two(s: &[u8], byte: u8) -> [Option<usize>; 2] {
    let splat = u64::from_le_bytes([byte; 8]);
    let mut found = [None, None];
    // Records the hits `bits` marks in the eight bytes at `at`; true once there are two.
    let mut hits = |mut bits: u64, at: usize| {
        // Bounded: one bit of eight cleared per pass.
        while bits != 0 {
            let i = at.wrapping_add((bits.trailing_zeros() / 8) as usize);
            bits &= bits.wrapping_sub(1);
            if found[0].is_some() {
                found[1] = Some(i);
                return true;
            }
            found[0] = Some(i);
        }
        false
    };
    let mut rest = s;
    // Bounded by the length of `s`.
    while let Some((w, next)) = rest.split_first_chunk::<8>() {
        let bits = zero_bits(u64::from_le_bytes(*w) ^ splat);
        if bits != 0 && hits(bits, s.len().wrapping_sub(rest.len())) {
            return found;
        }
        rest = next;
    }
    if !rest.is_empty() {
        // The last one to seven bytes: the last eight of `s` read again (those searched
        // already masked off), or a padded copy of a shorter `s` (the padding masked off).
        let (w, at, seen) = match s.last_chunk::<8>() {
            Some(last) => (*last, s.len().wrapping_sub(8), 8usize.wrapping_sub(rest.len())),
            None => {
                let mut w = [0u8; 8];
                for (d, b) in w.iter_mut().zip(rest) {
                    *d = *b;
                }
                (w, 0, 0)
            }
        };
        // Bytes `seen..seen + rest.len()`, which is at most 8: both shifts are below 64.
        let keep = (u64::MAX << (8 * seen)) & (u64::MAX >> (8 * (8 - seen - rest.len())));
        hits(zero_bits(u64::from_le_bytes(w) ^ splat) & keep, at);
    }
    found
}

/// High bit of every zero byte of `x`, exact per byte (no carry crosses bytes).
#[inline]
fn zero_bits(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

/// Nonzero if `w` holds a byte below 0x0b: an LF, or a control byte text rarely has (the
/// caller's exact [`lf_bits`] then finds none). Exact as a yes/no for that test (the bits are
/// right up to the lowest such byte), and cheaper than an exact LF test: no XOR, one
/// constant fewer.
#[inline]
fn below_0b(w: u64) -> u64 {
    const HI: u64 = 0x8080_8080_8080_8080;
    w.wrapping_sub(0x0b0b_0b0b_0b0b_0b0b) & !w & HI
}

/// High bit of every byte of `w` that is an LF. Exact per byte: no carry crosses from one
/// byte to the next (a later hit in the word is as true as the first).
#[inline]
fn lf_bits(w: u64) -> u64 {
    // Zero bytes of `x` are the LFs.
    zero_bits(w ^ 0x0a0a_0a0a_0a0a_0a0a)
}

/// Splits `Name: value` and returns the trimmed value if the name matches without regard to
/// case. `name` is given in lower case: a header name is ASCII letters, digits and `-`.
///
/// The colon is looked at first (one byte rules out most lines), then the name eight bytes
/// at a time, letters folded by setting bit 5 (with `name` a literal, inlined, the words and
/// fold masks it gives are constants).
#[inline(always)]
pub fn header_value<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let n = name.len();
    match line.get(n..) {
        Some([b':', value @ ..]) if name_is(line, name) => Some(trim_ws(value)),
        _ => None,
    }
}

/// Whether `line` (longer than `name`) starts with `name`, as [`header_value`] compares.
#[inline(always)]
fn name_is(line: &[u8], name: &[u8]) -> bool {
    let n = name.len();
    if n < 8 {
        let Some(w) = line.first_chunk::<8>() else {
            // A line of seven bytes or less.
            return line.get(..n).is_some_and(|l| l.eq_ignore_ascii_case(name));
        };
        let mut p = [0u8; 8];
        for (d, s) in p.iter_mut().zip(name) {
            *d = *s;
        }
        // The first `n` bytes (`n` is below 8).
        let keep = (1u64 << (8 * n)) - 1;
        (u64::from_le_bytes(*w) | fold(p)) & keep == u64::from_le_bytes(p)
    } else {
        // Whole words, the last one ending with the name (overlapping the one before).
        let mut i = 0;
        // Bounded by the length of `name`.
        while i + 8 < n {
            if !word_is(line, name, i) {
                return false;
            }
            i += 8;
        }
        word_is(line, name, n - 8)
    }
}

/// Whether the eight bytes of `line` at `at` are those of `name` there, letters folded.
#[inline(always)]
fn word_is(line: &[u8], name: &[u8], at: usize) -> bool {
    match (line.get(at..).and_then(|l| l.first_chunk::<8>()), name.get(at..).and_then(|l| l.first_chunk::<8>())) {
        (Some(w), Some(p)) => u64::from_le_bytes(*w) | fold(*p) == u64::from_le_bytes(*p),
        _ => false,
    }
}

/// Bit 5 of each byte of `p` that is a lower-case letter: OR-ed into the bytes compared with
/// `p`, it matches both cases of the letter and nothing else. Plain arithmetic, so that a
/// literal `p` folds to a constant.
#[inline(always)]
fn fold(p: [u8; 8]) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HI: u64 = 0x8080_8080_8080_8080;
    let p = u64::from_le_bytes(p);
    // Per byte, on its low seven bits (no carry or borrow crosses bytes): high bit set
    // from 0x61 up, and up to 0x7a; a byte with its own high bit set is no letter.
    let q = p & LOW7;
    let from_a = q + 0x1f1f_1f1f_1f1f_1f1f;
    let to_z = 0xfafa_fafa_fafa_fafa - q;
    (from_a & to_z & !p & HI) >> 2
}

/// Trims ASCII whitespace at both ends.
pub fn trim_ws(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_never_reads_past_end() {
        let mut c = Cursor::new(&[1, 2, 3]);
        assert_eq!(c.u16(), Ok(0x0102));
        assert_eq!(c.u16(), Err(Error::Truncated));
        assert_eq!(c.u8(), Ok(3));
        assert_eq!(c.take(usize::MAX), Err(Error::Truncated));
        assert!(c.is_empty());
    }

    #[test]
    fn trim_strips_padding() {
        assert_eq!(trim(b"  CT01 \0\0"), b"CT01");
        assert_eq!(trim(b"\0\0"), b"");
    }

    /// [`header_block`] the plain way: split on LF, CR dropped.
    fn model(buf: &[u8], max: usize, wanted: impl Fn(u8, u8) -> bool) -> (std::vec::Vec<&[u8]>, Option<&[u8]>) {
        let mut pieces: std::vec::Vec<&[u8]> = buf.split(|&b| b == b'\n').collect();
        let tail = pieces.pop().unwrap_or_default();
        let tail = tail.strip_suffix(b"\r").unwrap_or(tail);
        let mut got = std::vec::Vec::new();
        for (i, raw) in pieces.iter().enumerate() {
            let l = raw.strip_suffix(b"\r").unwrap_or(raw);
            if i >= max {
                return (got, None);
            }
            if i == 0 {
                continue;
            }
            // The byte after the first: the LF when the line has one byte and no CR.
            let second = raw.get(1).copied().unwrap_or(b'\n');
            match l.first() {
                None => return (got, None),
                // Lines starting with CR are handed out too.
                Some(&b) if b == b'\r' || wanted(b, second) => got.push(l),
                Some(_) => {}
            }
        }
        (got, (!pieces.is_empty() && pieces.len() < max).then_some(tail))
    }

    fn scan(buf: &[u8], max: usize, wanted: impl Fn(u8, u8) -> bool) -> (std::vec::Vec<&[u8]>, Option<&[u8]>) {
        let mut got = std::vec::Vec::new();
        let tail = header_block(buf, max, wanted, |l| {
            got.push(l);
            ControlFlow::Continue(())
        });
        (got, tail)
    }

    #[test]
    fn header_block_matches_split_at_every_offset() {
        extern crate std;
        // LFs at every alignment, 0x0b after an LF (the cheap test's false bit), CRs, 0x80s,
        // blank lines, lines starting with CR.
        let hay: &[u8] = b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\x80\x0a\x0b\xff\n\rb\n\x0b\r\r\t\x00\n\
            a\nbb\nccc\ndddd\neeeee\nffffff\nggggggg\nhhhhhhhh\niiiiiiiii\n0123456789abcdef0123\n\x0a\x0b\x0a\x0b";
        let wanted = |b: u8, c: u8| b != b'b' && b != b'e' && c != b'b';
        for start in 0..hay.len() {
            for end in start..=hay.len() {
                let h = &hay[start..end];
                for max in [0, 1, 2, 3, 7, 64] {
                    assert_eq!(scan(h, max, wanted), model(h, max, wanted), "{start}..{end} {max}");
                }
            }
        }
    }

    /// `len` bytes drawn from `alphabet` by an xorshift generator with state `x`.
    fn random_bytes(x: &mut u64, len: usize, alphabet: &[u8]) -> std::vec::Vec<u8> {
        extern crate std;
        (0..len)
            .map(|_| {
                *x ^= *x << 13;
                *x ^= *x >> 7;
                *x ^= *x << 17;
                alphabet[(*x % alphabet.len() as u64) as usize]
            })
            .collect()
    }

    #[test]
    fn header_block_matches_split_on_pseudo_random_bytes() {
        extern crate std;
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for len in 0..300 {
            for i in 0..20 {
                // Mostly line-ish bytes, now and then an LF, VT, CR, TAB, NUL or high byte; blank
                // lines are rare enough to see long blocks.
                let buf = random_bytes(&mut x, len, b"a\x0b\r\x8a\x8a\tb:\nx\0zba\x89.");
                let max = [usize::MAX, 5, 40][i % 3];
                let wanted = |b: u8, c: u8| b != b'b' && c != b'\r' && c != b'x';
                assert_eq!(scan(&buf, max, wanted), model(&buf, max, wanted), "{buf:?} {max}");
            }
        }
    }

    #[test]
    fn header_block_stops_when_told() {
        extern crate std;
        let buf: &[u8] = b"GET / HTTP/1.1\r\nAccept: */*\r\nhost: a\r\nX: y\r\nHost: b\r\n\r\nHost: body\r\n";
        let mut got = std::vec::Vec::new();
        let tail = header_block(
            buf,
            64,
            |b, _| b | 0x20 == b'h',
            |l| {
                got.push(l);
                ControlFlow::Break(())
            },
        );
        assert_eq!((got, tail), (std::vec![&b"host: a"[..]], None));
        let (got, tail) = scan(buf, 64, |b, _| b | 0x20 == b'h');
        assert_eq!((got, tail), (std::vec![&b"host: a"[..], b"Host: b"], None));
        // A datagram's last line needs no LF.
        assert_eq!(scan(b"NOTIFY\r\nA: 1\r\nB: 2\r", 64, |_, _| true), (std::vec![&b"A: 1"[..]], Some(&b"B: 2"[..])));
        // The first line alone, with or without LF.
        assert_eq!(scan(b"NOTIFY", 64, |_, _| true), (std::vec![], None));
        assert_eq!(scan(b"NOTIFY\n", 64, |_, _| true), (std::vec![], Some(&b""[..])));
    }

    #[test]
    fn header_value_splits_at_the_name() {
        assert_eq!(header_value(b"Host: a ", b"host"), Some(&b"a"[..]));
        assert_eq!(header_value(b"host", b"host"), None);
        assert_eq!(header_value(b"Host:", b"host"), Some(&b""[..]));
        assert_eq!(header_value(b"Hosts: a", b"host"), None);
    }

    #[test]
    fn first_two_as_position() {
        extern crate std;
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for len in 0..40 {
            for _ in 0..200 {
                let s = random_bytes(&mut x, len, b":\0a\xba;abc");
                for byte in [b':', 0] {
                    let mut want = s.iter().enumerate().filter(|&(_, &b)| b == byte).map(|(i, _)| i);
                    assert_eq!(first_two(&s, byte), [want.next(), want.next()], "{s:?} {byte}");
                }
            }
        }
    }

    #[test]
    fn header_value_is_eq_ignore_ascii_case() {
        extern crate std;
        // Every name length up to 24, each name byte against every byte in its place.
        let names: [&[u8]; 6] = [b"a", b"nt", b"host", b"server", b"user-agent", b"proxy-authorization"];
        for name in names.iter().copied().chain([&b"0123456789-abcdefghijklm"[..]]) {
            for pad in [0usize, 1, 9] {
                for i in 0..name.len() {
                    for b in 0..=255u8 {
                        let mut line = std::vec::Vec::from(name);
                        line[i] = b;
                        line.push(b':');
                        line.extend(core::iter::repeat_n(b'x', pad));
                        let want = line[..name.len()].eq_ignore_ascii_case(name);
                        assert_eq!(header_value(&line, name).is_some(), want, "{line:?} {name:?}");
                    }
                }
            }
        }
    }
}
