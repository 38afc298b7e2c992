//! COBS (Consistent Overhead Byte Stuffing) framing for the management byte stream.
//!
//! Each message travels as its COBS encoding followed by one `0x00` delimiter, so a receiver
//! that joins mid-stream, or sees garbage, resynchronises at the next zero. Encoding adds at
//! most one byte per 254 (plus one), see [`max_encoded_len`]. Everything here works on
//! caller-provided buffers, never panics, and bounds every loop by the input length.

/// Largest encoding of `n` bytes (without the delimiter).
pub const fn max_encoded_len(n: usize) -> usize {
    n + n / 254 + 1
}

/// The destination buffer is too small, or the input is not valid COBS.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CobsError {
    /// The output does not fit the buffer given.
    NoRoom,
    /// A zero byte inside a frame, or a code byte that points past the end.
    Invalid,
}

/// Encodes `src` into `dst` (no delimiter). Returns the encoded length.
pub fn encode(src: &[u8], dst: &mut [u8]) -> Result<usize, CobsError> {
    let mut code_at = 0usize; // where the current block's code byte goes
    let mut out = 1usize; // next output position
    let mut code: u8 = 1;
    for &b in src {
        if b == 0 {
            *dst.get_mut(code_at).ok_or(CobsError::NoRoom)? = code;
            code_at = out;
            out += 1;
            code = 1;
        } else {
            *dst.get_mut(out).ok_or(CobsError::NoRoom)? = b;
            out += 1;
            code += 1;
            if code == 0xff {
                *dst.get_mut(code_at).ok_or(CobsError::NoRoom)? = code;
                code_at = out;
                out += 1;
                code = 1;
            }
        }
    }
    *dst.get_mut(code_at).ok_or(CobsError::NoRoom)? = code;
    // `out` counts a code slot that may not exist yet when the input ended exactly on a block.
    if out > dst.len() {
        return Err(CobsError::NoRoom);
    }
    Ok(out)
}

/// Decodes `src` (one frame, no delimiter) into `dst`. Returns the decoded length.
pub fn decode(src: &[u8], dst: &mut [u8]) -> Result<usize, CobsError> {
    let mut i = 0usize;
    let mut out = 0usize;
    while i < src.len() {
        let code = *src.get(i).ok_or(CobsError::Invalid)?;
        if code == 0 {
            return Err(CobsError::Invalid);
        }
        i += 1;
        let run = usize::from(code - 1);
        let block = src.get(i..i + run).ok_or(CobsError::Invalid)?;
        if block.contains(&0) {
            return Err(CobsError::Invalid);
        }
        dst.get_mut(out..out + run).ok_or(CobsError::NoRoom)?.copy_from_slice(block);
        out += run;
        i += run;
        // A short block means a zero followed, unless it ends the frame.
        if code != 0xff && i < src.len() {
            *dst.get_mut(out).ok_or(CobsError::NoRoom)? = 0;
            out += 1;
        }
    }
    Ok(out)
}

/// What [`Accumulator::push`] saw.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Feed {
    /// Inside a frame (or between frames); nothing to do yet.
    Pending,
    /// A whole frame arrived and decoded to this many bytes: read it with [`Accumulator::frame`].
    Frame(usize),
    /// A frame longer than the buffer ended here; it was discarded (count it).
    Overflow,
    /// A frame that is not valid COBS ended here; it was discarded (count it).
    Invalid,
}

/// Collects bytes from a stream into frames of at most `N` encoded bytes.
///
/// Memory is `2 * N`: the encoded bytes and the decoded frame. A frame that grows past `N`
/// is dropped whole (its bytes are skipped up to the next delimiter), so a peer sending
/// endless garbage costs nothing but the count.
pub struct Accumulator<const N: usize> {
    raw: [u8; N],
    len: usize,
    overflowed: bool,
    decoded: [u8; N],
    decoded_len: usize,
}

impl<const N: usize> Default for Accumulator<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Accumulator<N> {
    /// An empty accumulator.
    pub const fn new() -> Self {
        Accumulator { raw: [0; N], len: 0, overflowed: false, decoded: [0; N], decoded_len: 0 }
    }

    /// Takes one byte from the stream.
    pub fn push(&mut self, byte: u8) -> Feed {
        if byte != 0 {
            match self.raw.get_mut(self.len) {
                Some(slot) if !self.overflowed => {
                    *slot = byte;
                    self.len += 1;
                }
                _ => self.overflowed = true,
            }
            return Feed::Pending;
        }
        let (len, overflowed) = (self.len, self.overflowed);
        self.len = 0;
        self.overflowed = false;
        if overflowed {
            return Feed::Overflow;
        }
        if len == 0 {
            // Back-to-back delimiters: an empty frame is just idle line.
            return Feed::Pending;
        }
        let Some(raw) = self.raw.get(..len) else { return Feed::Invalid };
        match decode(raw, &mut self.decoded) {
            Ok(n) => {
                self.decoded_len = n;
                Feed::Frame(n)
            }
            Err(_) => {
                self.decoded_len = 0;
                Feed::Invalid
            }
        }
    }

    /// The last frame that [`Accumulator::push`] returned as [`Feed::Frame`].
    pub fn frame(&self) -> &[u8] {
        self.decoded.get(..self.decoded_len).unwrap_or(&[])
    }

    /// Forgets a partial frame (e.g. after a line reset).
    pub fn reset(&mut self) {
        self.len = 0;
        self.overflowed = false;
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn enc(src: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; max_encoded_len(src.len())];
        let n = encode(src, &mut out).unwrap();
        out.truncate(n);
        out
    }

    #[test]
    fn known_vectors() {
        // From the COBS paper / Wikipedia examples.
        assert_eq!(enc(&[]), [1]);
        assert_eq!(enc(&[0]), [1, 1]);
        assert_eq!(enc(&[0, 0]), [1, 1, 1]);
        assert_eq!(enc(&[0x11, 0x22, 0, 0x33]), [3, 0x11, 0x22, 2, 0x33]);
        assert_eq!(enc(&[0x11, 0x22, 0x33, 0x44]), [5, 0x11, 0x22, 0x33, 0x44]);
        assert_eq!(enc(&[0x11, 0, 0, 0]), [2, 0x11, 1, 1, 1]);
        let run: Vec<u8> = (1..=254).collect();
        let mut want = vec![0xff];
        want.extend_from_slice(&run);
        want.push(1);
        assert_eq!(enc(&run), want);
    }

    #[test]
    fn roundtrip_every_length_and_pattern() {
        for len in 0..800usize {
            for pattern in 0..4u8 {
                let src: Vec<u8> = (0..len)
                    .map(|i| match pattern {
                        0 => 0,
                        1 => (i % 256) as u8,
                        2 => 0xff,
                        _ => ((i * 7919) % 251) as u8,
                    })
                    .collect();
                let e = enc(&src);
                assert!(e.len() <= max_encoded_len(len), "len {len} pattern {pattern}");
                assert!(!e.contains(&0));
                let mut d = vec![0u8; len];
                assert_eq!(decode(&e, &mut d), Ok(len));
                assert_eq!(d, src);
            }
        }
    }

    #[test]
    fn encode_reports_no_room_instead_of_panicking() {
        let src = [1u8; 300];
        for cap in 0..max_encoded_len(300) {
            let mut out = vec![0u8; cap];
            assert_eq!(encode(&src, &mut out), Err(CobsError::NoRoom), "cap {cap}");
        }
    }

    #[test]
    fn decode_rejects_garbage() {
        let mut d = [0u8; 16];
        assert_eq!(decode(&[5, 1, 2], &mut d), Err(CobsError::Invalid)); // code past the end
        assert_eq!(decode(&[3, 1, 0, 1], &mut d), Err(CobsError::Invalid)); // zero inside
        assert_eq!(decode(&[0], &mut d), Err(CobsError::Invalid));
        let mut small = [0u8; 2];
        assert_eq!(decode(&[5, 1, 2, 3, 4], &mut small), Err(CobsError::NoRoom));
    }

    #[test]
    fn accumulator_splits_frames_and_survives_garbage() {
        let mut acc: Accumulator<64> = Accumulator::new();
        let mut stream = Vec::new();
        stream.extend_from_slice(&[7, 7, 7]); // garbage before the first delimiter
        stream.push(0);
        stream.extend(enc(&[1, 0, 2]));
        stream.push(0);
        stream.push(0); // idle
        stream.extend([0x55; 100]); // too long
        stream.push(0);
        stream.extend(enc(b"ok"));
        stream.push(0);
        let mut seen = Vec::new();
        for b in stream {
            match acc.push(b) {
                Feed::Pending => {}
                Feed::Frame(_) => seen.push(Ok(acc.frame().to_vec())),
                other => seen.push(Err(other)),
            }
        }
        assert_eq!(seen, vec![Err(Feed::Invalid), Ok(vec![1, 0, 2]), Err(Feed::Overflow), Ok(b"ok".to_vec())]);
    }
}
