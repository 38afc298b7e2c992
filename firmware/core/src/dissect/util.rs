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
/// empty line and after at most `max_lines` lines (bounded work on hostile input).
pub fn header_lines(buf: &[u8], max_lines: usize) -> impl Iterator<Item = &[u8]> {
    HeaderLines { rest: Some(buf), left: max_lines }
}

/// The iterator behind [`header_lines`]: line ends found with [`find_byte`].
struct HeaderLines<'a> {
    /// Not yet split; `None` once the last line was handed out.
    rest: Option<&'a [u8]>,
    /// Lines still allowed; 0 also after the empty line.
    left: usize,
}

impl<'a> Iterator for HeaderLines<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        self.left = self.left.checked_sub(1)?;
        let r = self.rest?;
        let line = match find_byte(r, b'\n') {
            Some(p) => {
                self.rest = r.get(p.saturating_add(1)..);
                r.get(..p).unwrap_or_default()
            }
            None => {
                self.rest = None;
                r
            }
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            self.left = 0;
            return None;
        }
        Some(line)
    }
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

/// Position of the first `needle` in `hay`, eight bytes per step (text protocols scan whole
/// header blocks for line ends; a byte-at-a-time search dominated their cost).
pub fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let rep = LO.wrapping_mul(u64::from(needle));
    let mut chunks = hay.chunks_exact(8);
    let mut off = 0usize;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w) ^ rep;
        // High bit set in the lowest byte of `x` that is zero (higher ones may be false hits).
        let z = x.wrapping_sub(LO) & !x & HI;
        if z != 0 {
            return off.checked_add((z.trailing_zeros() / 8) as usize);
        }
        off = off.saturating_add(8);
    }
    chunks.remainder().iter().position(|&b| b == needle).and_then(|p| off.checked_add(p))
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

    #[test]
    fn find_byte_matches_position() {
        let hay: &[u8] = b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\x80\x0a\xff\n";
        for start in 0..hay.len() {
            for n in [b'\n', b':', b'\r', 0x80, 0x0b, 0xff, 0] {
                let h = &hay[start..];
                assert_eq!(find_byte(h, n), h.iter().position(|&b| b == n), "{start} {n}");
            }
        }
        assert_eq!(find_byte(&[0x01, 0x00, 0x0a, 0x0a, 0, 0, 0, 0, 0x0a], 0x0a), Some(2));
        assert_eq!(find_byte(&[], 0), None);
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
