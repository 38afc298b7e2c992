//! A checked reader over untrusted bytes: every read either returns data inside the slice or
//! an [`Error`]; nothing here can panic or loop.

use super::{Error, Result};

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

/// Iterates over CRLF- or LF-terminated lines of a text header block, stopping at the first
/// empty line and after at most `max_lines` lines (bounded work on hostile input). A last
/// line without LF is handed out too.
pub fn header_lines(buf: &[u8], max_lines: usize) -> impl Iterator<Item = &[u8]> {
    HeaderLines { lines: Lines::new(buf), done: false, left: max_lines }
}

/// The iterator behind [`header_lines`].
struct HeaderLines<'a> {
    lines: Lines<'a>,
    /// The unterminated tail was handed out (or the block ended).
    done: bool,
    /// Lines still allowed; 0 also after the empty line.
    left: usize,
}

impl<'a> Iterator for HeaderLines<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        self.left = self.left.checked_sub(1)?;
        let line = match self.lines.next_terminated() {
            Some(l) => l,
            None if self.done => return None,
            None => {
                self.done = true;
                let r = self.lines.rest();
                r.strip_suffix(b"\r").unwrap_or(r)
            }
        };
        if line.is_empty() {
            self.left = 0;
            return None;
        }
        Some(line)
    }
}

/// LF-terminated lines of a text block, the LF and a CR before it dropped. Line ends are
/// found eight bytes at a time in a single pass over the block: a line costs a few
/// instructions beyond the words it spans (text protocols split whole header blocks).
#[derive(Clone, Debug)]
pub struct Lines<'a> {
    buf: &'a [u8],
    /// Start of the next line.
    start: usize,
    /// Offset in `buf` of the eight bytes `mask` describes.
    word: usize,
    /// LFs of that word not handed out yet: the high bit of each such byte.
    mask: u64,
    /// The bytes after that word, not searched yet.
    ahead: &'a [u8],
}

impl<'a> Lines<'a> {
    /// Lines of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        let (mask, ahead) = next_word(buf);
        Lines { buf, start: 0, word: 0, mask, ahead }
    }

    /// The next line that ends with LF (without the LF and one CR before it); `None` when
    /// no LF is left, [`Lines::rest`] then holds the unterminated tail.
    #[inline]
    pub fn next_terminated(&mut self) -> Option<&'a [u8]> {
        let start = self.start;
        let lf = self.next_lf()?;
        Some(self.line(start, lf))
    }

    /// The next LF-terminated line that is blank or starts with a byte `wanted` says yes
    /// to, as [`Lines::next_terminated`] gives it: other lines are passed over with one
    /// byte read each. Every line passed over or handed out takes one from `budget`;
    /// `None` when the budget is spent or no LF is left (the budget is then untouched).
    #[inline]
    pub fn next_wanted(&mut self, budget: &mut usize, wanted: impl Fn(u8) -> bool) -> Option<&'a [u8]> {
        // Bounded by the budget (and by the LFs of the block).
        while *budget > 0 {
            let start = self.start;
            let lf = self.next_lf()?;
            *budget -= 1;
            match self.buf.get(start) {
                // Not blank (a blank line starts with CR or LF) and not wanted.
                Some(&b) if b != b'\r' && b != b'\n' && !wanted(b) => {}
                _ => return Some(self.line(start, lf)),
            }
        }
        None
    }

    /// The offset of the next LF; the next line then starts after it.
    #[inline]
    fn next_lf(&mut self) -> Option<usize> {
        if self.mask == 0 && !self.advance() {
            return None;
        }
        let lf = self.word.wrapping_add((self.mask.trailing_zeros() / 8) as usize);
        self.mask &= self.mask.wrapping_sub(1);
        self.start = lf.wrapping_add(1);
        Some(lf)
    }

    /// `buf[start..lf]` without a CR at its end.
    #[inline]
    fn line(&self, start: usize, lf: usize) -> &'a [u8] {
        let line = self.buf.get(start..lf).unwrap_or_default();
        line.strip_suffix(b"\r").unwrap_or(line)
    }

    /// Moves to the next word holding an LF; false at the end of the block.
    fn advance(&mut self) -> bool {
        let mut ahead = self.ahead;
        // Sixteen bytes per pass while none of them is an LF (most of a header line).
        while let Some((pair, rest)) = ahead.split_first_chunk::<16>() {
            let v = u128::from_le_bytes(*pair);
            let (lo, hi) = (v as u64, (v >> 64) as u64);
            if may_have_lf(lo) | may_have_lf(hi) {
                // `ahead` is a suffix of `buf`: this is the offset of its first byte.
                let at = self.buf.len().wrapping_sub(ahead.len());
                let mask = lf_bits(lo);
                (self.ahead, self.word, self.mask) = if mask != 0 {
                    (ahead.get(8..).unwrap_or_default(), at, mask)
                } else {
                    (rest, at.wrapping_add(8), lf_bits(hi))
                };
                return true;
            }
            ahead = rest;
        }
        self.advance_tail(ahead)
    }

    /// [`Lines::advance`] over the last fifteen bytes at most: two words, the second padded
    /// (apart, to keep the sixteen-byte loop light).
    #[inline(never)]
    fn advance_tail(&mut self, mut ahead: &'a [u8]) -> bool {
        while !ahead.is_empty() {
            let at = self.buf.len().wrapping_sub(ahead.len());
            let (mask, rest) = next_word(ahead);
            ahead = rest;
            if mask != 0 {
                (self.ahead, self.word, self.mask) = (ahead, at, mask);
                return true;
            }
        }
        self.ahead = ahead;
        false
    }

    /// What follows the last line handed out.
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }
}

/// The LF bits of the first eight bytes of `b` (fewer at its end) and the bytes after them.
#[inline]
fn next_word(b: &[u8]) -> (u64, &[u8]) {
    match b.split_first_chunk::<8>() {
        Some((w, rest)) => (lf_bits(u64::from_le_bytes(*w)), rest),
        None => {
            let mut w = [0u8; 8];
            for (d, s) in w.iter_mut().zip(b) {
                *d = *s;
            }
            // Padding zeros are not LFs.
            (lf_bits(u64::from_le_bytes(w)), &[])
        }
    }
}

/// Whether `w` holds an LF. Exact as a yes/no (the bits it computes may be wrong only above
/// the lowest LF), and cheaper than [`lf_bits`].
#[inline]
fn may_have_lf(w: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let x = w ^ 0x0a0a_0a0a_0a0a_0a0a;
    x.wrapping_sub(LO) & !x & HI != 0
}

/// High bit of every byte of `w` that is an LF. Exact per byte: no carry crosses from one
/// byte to the next (a later hit in the word is as true as the first).
#[inline]
fn lf_bits(w: u64) -> u64 {
    const LF: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // Zero bytes of `x` are the LFs.
    let x = w ^ LF;
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

/// Splits `Name: value` and returns the trimmed value if the name matches (case-insensitive).
pub fn header_value<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    // The colon first: one byte rules out most lines before the case-insensitive compare.
    if line.get(name.len()) == Some(&b':') && line.get(..name.len()).is_some_and(|n| n.eq_ignore_ascii_case(name)) {
        Some(trim_ws(&line[name.len() + 1..]))
    } else {
        None
    }
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

    /// The lines `split` on LF gives, CR dropped: all but the last piece are terminated.
    fn split_lines(buf: &[u8]) -> (std::vec::Vec<&[u8]>, &[u8]) {
        let mut v: std::vec::Vec<&[u8]> =
            buf.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).collect();
        let tail = buf.iter().rposition(|&b| b == b'\n').map_or(buf, |i| &buf[i + 1..]);
        v.pop();
        (v, tail)
    }

    #[test]
    fn lines_match_split_at_every_offset() {
        extern crate std;
        // LFs at every alignment, 0x0b after an LF (the cheap test's false bit), CRs, 0x80s.
        let hay: &[u8] = b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\x80\x0a\x0b\xff\n\n\x0b\r\r\n\
            a\nbb\nccc\ndddd\neeeee\nffffff\nggggggg\nhhhhhhhh\niiiiiiiii\n0123456789abcdef0123\n\x0a\x0b\x0a\x0b";
        for start in 0..hay.len() {
            for end in start..=hay.len() {
                let h = &hay[start..end];
                let (want, want_tail) = split_lines(h);
                let mut l = Lines::new(h);
                let got: std::vec::Vec<&[u8]> = core::iter::from_fn(|| l.next_terminated()).collect();
                assert_eq!((got, l.rest()), (want, want_tail), "{start}..{end}");
                assert_eq!(l.next_terminated(), None);
            }
        }
    }

    #[test]
    fn lines_match_split_on_pseudo_random_bytes() {
        extern crate std;
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for len in 0..300 {
            for _ in 0..20 {
                let buf: std::vec::Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        // Mostly line-ish bytes, now and then an LF, VT, CR or high byte.
                        [b'\n', 0x0b, b'\r', 0x8a, 0x0a ^ 0x80, b'a', b'b', b':'][(x % 8) as usize]
                    })
                    .collect();
                let (want, want_tail) = split_lines(&buf);
                let mut l = Lines::new(&buf);
                let got: std::vec::Vec<&[u8]> = core::iter::from_fn(|| l.next_terminated()).collect();
                assert_eq!((got, l.rest()), (want, want_tail), "{buf:?}");
            }
        }
    }

    #[test]
    fn next_wanted_passes_over_and_counts() {
        extern crate std;
        let buf: &[u8] = b"GET / HTTP/1.1\r\nAccept: */*\r\nhost: a\r\n\rX: y\r\nUser-Agent: u\r\n\r\nHost: body\r\n";
        for budget in 0..12 {
            let mut l = Lines::new(buf);
            let mut left = budget;
            let mut got = std::vec::Vec::new();
            while let Some(line) = l.next_wanted(&mut left, |b| b | 0x20 == b'h') {
                got.push(line);
            }
            // The same lines from the plain iterator, filtered: blank lines and lines starting
            // with CR are handed out too.
            let want: std::vec::Vec<&[u8]> = split_lines(buf)
                .0
                .into_iter()
                .take(budget)
                .filter(|l| l.first().is_none_or(|&b| b == b'\r' || b | 0x20 == b'h'))
                .collect();
            assert_eq!(got, want, "{budget}");
            assert_eq!(left, budget.saturating_sub(split_lines(buf).0.len()));
        }
        // No LF left: the budget is kept, the tail is there.
        let mut l = Lines::new(b"a\nb");
        let mut left = 5;
        assert_eq!(l.next_wanted(&mut left, |_| false), None);
        assert_eq!((left, l.rest()), (4, &b"b"[..]));
    }

    #[test]
    fn header_lines_stop_at_blank_and_bound() {
        let v: heapless::Vec<&[u8], 8> = header_lines(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody", 10).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(header_value(v[1], b"host"), Some(&b"a"[..]));
        assert_eq!(header_lines(b"a\nb\nc\n", 2).count(), 2);
        // As `split` on LF, CR dropped, stopping at the first empty line or the bound.
        for buf in [&b""[..], b"\n", b"a", b"a\n", b"a\r\n\r\nb", b"a\r\r\nb\n\nc", b"\r\na", b"x\ny\nz"] {
            for max in 0..5 {
                let want: heapless::Vec<&[u8], 8> = buf
                    .split(|&b| b == b'\n')
                    .take(max)
                    .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                    .take_while(|l| !l.is_empty())
                    .collect();
                let got: heapless::Vec<&[u8], 8> = header_lines(buf, max).collect();
                assert_eq!(got, want, "{buf:?} {max}");
            }
        }
        assert_eq!(header_value(b"host", b"host"), None);
        assert_eq!(header_value(b"Host:", b"host"), Some(&b""[..]));
        assert_eq!(header_value(b"Hosts: a", b"host"), None);
    }
}
