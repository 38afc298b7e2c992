//! Streaming reader for capture files (`wardtap replay`).
//!
//! Parses classic pcap (either byte order; microsecond magic `a1b2c3d4` and nanosecond magic
//! `a1b23c4d`) and pcapng (any number of sections, each with its own byte order; any number of
//! interfaces, each with its own link type, snap length, `if_tsresol` (power of 10 or of 2) and
//! `if_tsoffset`; Enhanced, Simple and obsolete Packet Blocks). Every other pcapng block (name
//! resolution, statistics, decryption secrets, custom, ...) is skipped without being buffered.
//!
//! Frames come out as Ethernet II, which is what the tap core dissects: Ethernet (link type 1) is
//! passed through; Linux cooked captures (SLL, 113; SLL2, 276) are rewritten into an Ethernet
//! header (source = the SLL address if it is 6 bytes long, destination = broadcast or the IP
//! multicast group MAC when the packet type says so, else `00:00:00:00:00:00`; EtherType from the
//! protocol field, 802.2/802.3 payloads get an 802.3 length field). Frames of any other link
//! type, and cooked frames whose payload is not Ethernet-typed (netlink, CAN, ...), are skipped
//! and counted per link type in [`CaptureReader::skipped`].
//!
//! The file is read through a `BufReader`, one record at a time, into a buffer reused for every
//! frame, so iteration allocates nothing per frame. Nothing read from the file is trusted: every
//! length is checked against the block it sits in, the file's end, the snap length and
//! [`MAX_CAPLEN`] before anything is allocated. A problem yields a [`CaptureError`] naming the
//! file and the byte offset of the record or block at fault; every frame before it has already
//! been returned, and the reader returns `Ok(None)` afterwards.
//!
//! Not handled, deliberately: the "modified" (Kuznetzov) pcap format, pcapng compression or
//! encryption, per-packet FCS/flags options, pcap `thiszone` (always 0 in practice).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Largest captured length accepted for one frame (the pcap default snap length, 256 KiB).
pub const MAX_CAPLEN: u32 = 256 * 1024;
/// Largest pcapng block that is buffered (packet, interface and section blocks): a maximal
/// frame plus generous room for the block's fixed fields and options.
const MAX_BUFFERED_BLOCK: u32 = MAX_CAPLEN + 64 * 1024;
/// More interfaces than this in one pcapng section is taken as a corrupt file.
const MAX_INTERFACES: usize = 65_536;

/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u16 = 1;
/// LINKTYPE_LINUX_SLL (Linux "cooked" capture, v1).
pub const LINKTYPE_LINUX_SLL: u16 = 113;
/// LINKTYPE_LINUX_SLL2 (Linux "cooked" capture, v2).
pub const LINKTYPE_LINUX_SLL2: u16 = 276;

/// Classic pcap magic numbers, as the bytes appear in the file.
mod magic {
    pub const PCAP_LE_US: [u8; 4] = [0xd4, 0xc3, 0xb2, 0xa1];
    pub const PCAP_LE_NS: [u8; 4] = [0x4d, 0x3c, 0xb2, 0xa1];
    pub const PCAP_BE_US: [u8; 4] = [0xa1, 0xb2, 0xc3, 0xd4];
    pub const PCAP_BE_NS: [u8; 4] = [0xa1, 0xb2, 0x3c, 0x4d];
    /// The Section Header Block type: a palindrome, so the same in both byte orders.
    pub const PCAPNG_SHB: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
    /// pcapng byte-order magic 0x1A2B3C4D written big-endian.
    pub const BOM_BE: [u8; 4] = [0x1a, 0x2b, 0x3c, 0x4d];
    pub const BOM_LE: [u8; 4] = [0x4d, 0x3c, 0x2b, 0x1a];
}

/// pcapng block types that are parsed (everything else is skipped).
mod block {
    pub const IDB: u32 = 0x0000_0001;
    pub const OPB: u32 = 0x0000_0002;
    pub const SPB: u32 = 0x0000_0003;
    pub const EPB: u32 = 0x0000_0006;
}

/// Linux cooked-capture constants.
mod sll {
    /// SLL (v1) header: packet type, ARPHRD type, address length, 8 address bytes, protocol.
    pub const V1_LEN: usize = 16;
    /// SLL2 header: protocol, reserved, ifindex, ARPHRD type, packet type, address length, address.
    pub const V2_LEN: usize = 20;
    pub const PACKET_BROADCAST: u8 = 1;
    pub const PACKET_MULTICAST: u8 = 2;
    pub const ARPHRD_NETLINK: u16 = 824;
    /// Protocol values below 0x0600 that still mean "an Ethernet-family frame".
    pub const ETH_P_802_3: u16 = 0x0001;
    pub const ETH_P_802_2: u16 = 0x0004;
}

const ETHERNET_HEADER_LEN: usize = 14;
/// Largest 802.3 payload a length field can describe (above it, the field reads as an EtherType).
const MAX_8023_PAYLOAD: usize = 1500;

/// Which container the file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Classic libpcap file.
    Pcap {
        /// Big-endian headers.
        big_endian: bool,
        /// Nanosecond timestamps (magic `a1b23c4d`).
        nanosecond: bool,
        /// The file's link type.
        link_type: u16,
    },
    /// pcapng file.
    PcapNg,
}

/// One frame, borrowed from the reader until the next call to [`CaptureReader::next_frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Capture time, microseconds since the Unix epoch (0 if the file says nothing).
    pub ts_us: u64,
    /// The frame as Ethernet II (cooked captures already rewritten), `caplen` bytes long.
    pub data: &'a [u8],
    /// Length of the frame on the wire (adjusted for the rewritten header of cooked captures).
    pub orig_len: u32,
    /// Link type the frame was captured with (1, 113 or 276).
    pub link_type: u16,
}

/// What went wrong, without the where (see [`CaptureError`]).
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// The operating system failed to open or read the file.
    #[error("I/O error: {0}")]
    Io(#[source] io::Error),
    /// Neither a pcap nor a pcapng file.
    #[error("not a pcap or pcapng file (magic bytes {0:#010x})")]
    BadMagic(u32),
    /// The file ends inside a header, record or block.
    #[error("truncated {what}: needs {needed} bytes from here, the file has {available}")]
    Truncated {
        /// The part that is cut short.
        what: &'static str,
        /// Bytes that part needs, counted from the error offset.
        needed: u64,
        /// Bytes the file has from the error offset.
        available: u64,
    },
    /// A pcapng block length that is too small, not a multiple of 4, or implausibly large.
    #[error("bad pcapng block length {length} (block type {block_type:#010x})")]
    BadBlockLength {
        /// The block type.
        block_type: u32,
        /// The length the block claims.
        length: u32,
    },
    /// A pcapng block whose trailing length differs from its leading length.
    #[error("pcapng block length {header} does not match its trailing copy {trailer}")]
    BlockLengthMismatch {
        /// Length at the start of the block.
        header: u32,
        /// Length at the end of the block.
        trailer: u32,
    },
    /// A frame's captured length is above the snap length or [`MAX_CAPLEN`].
    #[error("captured length {caplen} exceeds the limit {limit}")]
    CaplenTooLarge {
        /// The captured length in the record.
        caplen: u32,
        /// The snap length or [`MAX_CAPLEN`], whichever is smaller.
        limit: u32,
    },
    /// A pcapng packet block names an interface no Interface Description Block declared.
    #[error("packet block refers to undeclared interface {0}")]
    UnknownInterface(u32),
    /// Any other structural problem.
    #[error("{0}")]
    Malformed(&'static str),
}

/// A capture file problem: which file, where in it, and what.
#[derive(Debug, thiserror::Error)]
#[error("{}: at byte offset {offset}: {kind}", path.display())]
pub struct CaptureError {
    /// The capture file.
    pub path: PathBuf,
    /// Byte offset of the record or block at fault (of the failed read for I/O errors).
    pub offset: u64,
    /// What is wrong.
    pub kind: ErrorKind,
}

/// Timestamp resolution of a pcapng interface.
#[derive(Debug, Clone, Copy)]
enum TsRes {
    /// Units of 10^-n seconds.
    Dec(u8),
    /// Units of 2^-n seconds.
    Bin(u8),
}

impl TsRes {
    fn to_us(self, units: u64) -> u64 {
        let units = u128::from(units);
        let us = match self {
            TsRes::Dec(n) if n <= 6 => {
                10u128.checked_pow(u32::from(6 - n)).map_or(u128::MAX, |m| units.saturating_mul(m))
            }
            TsRes::Dec(n) => 10u128.checked_pow(u32::from(n - 6)).map_or(0, |d| units / d),
            // units < 2^64, so units * 10^6 < 2^84: no overflow; n <= 127 keeps the shift in range.
            TsRes::Bin(n) => (units * 1_000_000) >> n.min(127),
        };
        u64::try_from(us).unwrap_or(u64::MAX)
    }
}

/// A pcapng interface (from its Interface Description Block).
#[derive(Debug, Clone, Copy)]
struct Interface {
    link_type: u16,
    /// 0 = unlimited.
    snaplen: u32,
    tsres: TsRes,
    /// `if_tsoffset`: seconds added to every timestamp.
    tsoffset_s: i64,
}

#[derive(Debug)]
enum State {
    Pcap { big_endian: bool, nanosecond: bool, link_type: u16, snaplen: u32 },
    PcapNg { big_endian: bool, interfaces: Vec<Interface> },
}

/// A frame located in `CaptureReader::buf`, before link-layer handling.
struct Raw {
    ts_us: u64,
    link_type: u16,
    data: Range<usize>,
    orig_len: u32,
}

/// Streaming pcap/pcapng reader. See the module docs.
pub struct CaptureReader {
    path: PathBuf,
    rd: BufReader<File>,
    /// Bytes consumed so far = offset of the next unread byte.
    pos: u64,
    total: u64,
    format: Format,
    state: State,
    /// The current record/block, reused for every frame.
    buf: Vec<u8>,
    /// The current cooked frame rewritten as Ethernet, reused likewise.
    conv: Vec<u8>,
    skipped: BTreeMap<u16, u64>,
    frames: u64,
    last_ts_us: u64,
    done: bool,
}

impl std::fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("pos", &self.pos)
            .field("total", &self.total)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

fn u16_of(be: bool, b: &[u8], at: usize) -> Option<u16> {
    let a: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if be { u16::from_be_bytes(a) } else { u16::from_le_bytes(a) })
}

fn u32_of(be: bool, b: &[u8], at: usize) -> Option<u32> {
    let a: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if be { u32::from_be_bytes(a) } else { u32::from_le_bytes(a) })
}

fn i64_of(be: bool, b: &[u8], at: usize) -> Option<i64> {
    let a: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(if be { i64::from_be_bytes(a) } else { i64::from_le_bytes(a) })
}

/// Reads until `out` is full or the file ends; returns the count read.
fn read_full(rd: &mut impl Read, out: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while let Some(rest) = out.get_mut(got..) {
        if rest.is_empty() {
            break;
        }
        match rd.read(rest) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn usize_of(n: u32) -> usize {
    // u32 always fits a usize on the 32/64-bit hosts the tool runs on.
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl CaptureReader {
    /// Opens `path` and reads its file header (pcap) or first section header (pcapng).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        let path = path.as_ref().to_path_buf();
        let io_err = |e| CaptureError { path: path.clone(), offset: 0, kind: ErrorKind::Io(e) };
        let file = File::open(&path).map_err(io_err)?;
        let total = file.metadata().map_err(io_err)?.len();
        let mut r = CaptureReader {
            path,
            rd: BufReader::with_capacity(64 * 1024, file),
            pos: 0,
            total,
            format: Format::PcapNg,
            state: State::PcapNg { big_endian: false, interfaces: Vec::new() },
            buf: Vec::new(),
            conv: Vec::new(),
            skipped: BTreeMap::new(),
            frames: 0,
            last_ts_us: 0,
            done: false,
        };
        let m: [u8; 4] = r.take_array(0, "file header", 24)?;
        let (big_endian, nanosecond) = match m {
            magic::PCAPNG_SHB => {
                r.read_shb(0)?;
                return Ok(r);
            }
            magic::PCAP_LE_US => (false, false),
            magic::PCAP_LE_NS => (false, true),
            magic::PCAP_BE_US => (true, false),
            magic::PCAP_BE_NS => (true, true),
            _ => return Err(r.err(0, ErrorKind::BadMagic(u32::from_be_bytes(m)))),
        };
        // version (2+2), thiszone (4), sigfigs (4), snaplen (4), network (4).
        let h: [u8; 20] = r.take_array(0, "file header", 24)?;
        let snaplen = u32_of(big_endian, &h, 12).unwrap_or(0);
        // The top bits of `network` carry FCS information; the link type is the low 16 bits.
        let link_type = u32_of(big_endian, &h, 16).map_or(0, |n| (n & 0xffff) as u16);
        r.format = Format::Pcap { big_endian, nanosecond, link_type };
        r.state = State::Pcap { big_endian, nanosecond, link_type, snaplen };
        Ok(r)
    }

    /// The next Ethernet frame; `Ok(None)` at the end of the file, and after an error.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        // Locate the frame first, borrow it after the loop (keeps the borrow checker happy).
        let (raw, converted) = loop {
            if self.done {
                return Ok(None);
            }
            let raw = match self.next_raw() {
                Ok(Some(raw)) => raw,
                Ok(None) => {
                    self.done = true;
                    return Ok(None);
                }
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            };
            let ok = match raw.link_type {
                LINKTYPE_ETHERNET => Some(false),
                LINKTYPE_LINUX_SLL | LINKTYPE_LINUX_SLL2 => {
                    let pkt = self.buf.get(raw.data.clone()).unwrap_or(&[]);
                    cooked_to_ethernet(raw.link_type, pkt, &mut self.conv).map(|()| true)
                }
                _ => None,
            };
            match ok {
                Some(converted) => break (raw, converted),
                None => *self.skipped.entry(raw.link_type).or_insert(0) += 1,
            }
        };
        self.frames += 1;
        let (data, orig_len) = if converted {
            let hdr = if raw.link_type == LINKTYPE_LINUX_SLL { sll::V1_LEN } else { sll::V2_LEN };
            let grow = |n: u32| n.saturating_sub(hdr as u32).saturating_add(ETHERNET_HEADER_LEN as u32);
            (&self.conv[..], grow(raw.orig_len))
        } else {
            (self.buf.get(raw.data).unwrap_or(&[]), raw.orig_len)
        };
        Ok(Some(Frame { ts_us: raw.ts_us, data, orig_len, link_type: raw.link_type }))
    }

    /// Bytes of the file consumed so far (for a progress bar).
    pub fn bytes_read(&self) -> u64 {
        self.pos
    }

    /// Size of the file when it was opened.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    /// The container format (for pcapng, per-interface details are not exposed).
    pub fn format(&self) -> Format {
        self.format
    }

    /// Frames returned so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Frames not returned, by link type: unsupported link types, and cooked (SLL/SLL2) frames
    /// whose payload is not Ethernet-typed.
    pub fn skipped(&self) -> &BTreeMap<u16, u64> {
        &self.skipped
    }

    /// The file this reader reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, offset: u64, kind: ErrorKind) -> CaptureError {
        CaptureError { path: self.path.clone(), offset, kind }
    }

    /// Reads `out.len()` bytes of the part starting at `start` that is `needed` bytes long.
    /// `Ok(false)`: the file ended exactly at `start` (only meaningful for a part's first read).
    fn take(&mut self, out: &mut [u8], start: u64, what: &'static str, needed: u64) -> Result<bool, CaptureError> {
        let at = self.pos;
        let got = read_full(&mut self.rd, out).map_err(|e| self.err(at, ErrorKind::Io(e)))?;
        self.pos = self.pos.saturating_add(got as u64);
        if got == out.len() {
            return Ok(true);
        }
        if got == 0 && at == start {
            return Ok(false);
        }
        let available = self.pos.saturating_sub(start);
        Err(self.err(start, ErrorKind::Truncated { what, needed, available }))
    }

    fn take_array<const N: usize>(
        &mut self,
        start: u64,
        what: &'static str,
        needed: u64,
    ) -> Result<[u8; N], CaptureError> {
        let mut a = [0u8; N];
        if self.take(&mut a, start, what, needed)? {
            Ok(a)
        } else {
            Err(self.err(start, ErrorKind::Truncated { what, needed, available: 0 }))
        }
    }

    /// Reads `n` bytes into `self.buf` (reused; grows at most to the largest record seen).
    fn take_buf(&mut self, n: usize, start: u64, what: &'static str, needed: u64) -> Result<(), CaptureError> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.resize(n, 0);
        let r = self.take(&mut buf, start, what, needed);
        self.buf = buf;
        match r? {
            true => Ok(()),
            false => Err(self.err(start, ErrorKind::Truncated { what, needed, available: 0 })),
        }
    }

    fn next_raw(&mut self) -> Result<Option<Raw>, CaptureError> {
        match self.state {
            State::Pcap { big_endian, nanosecond, link_type, snaplen } => {
                self.next_pcap(big_endian, nanosecond, link_type, snaplen)
            }
            State::PcapNg { .. } => self.next_pcapng(),
        }
    }

    fn next_pcap(&mut self, be: bool, ns: bool, link_type: u16, snaplen: u32) -> Result<Option<Raw>, CaptureError> {
        let start = self.pos;
        let mut h = [0u8; 16];
        if !self.take(&mut h, start, "packet record header", 16)? {
            return Ok(None);
        }
        let field = |at| u32_of(be, &h, at).unwrap_or(0);
        let (sec, frac, caplen, orig_len) = (field(0), field(4), field(8), field(12));
        let limit = if snaplen == 0 { MAX_CAPLEN } else { snaplen.min(MAX_CAPLEN) };
        if caplen > limit {
            return Err(self.err(start, ErrorKind::CaplenTooLarge { caplen, limit }));
        }
        self.take_buf(usize_of(caplen), start, "packet record", 16 + u64::from(caplen))?;
        let frac_us = if ns { u64::from(frac) / 1000 } else { u64::from(frac) };
        let ts_us = u64::from(sec) * 1_000_000 + frac_us;
        self.last_ts_us = ts_us;
        Ok(Some(Raw { ts_us, link_type, data: 0..usize_of(caplen), orig_len }))
    }

    /// Reads a Section Header Block whose 4-byte type at `start` has been consumed.
    fn read_shb(&mut self, start: u64) -> Result<(), CaptureError> {
        let h: [u8; 8] = self.take_array(start, "section header block", 28)?;
        let (len_bytes, bom) = h.split_at(4);
        let be = match bom {
            b if b == magic::BOM_BE => true,
            b if b == magic::BOM_LE => false,
            _ => return Err(self.err(start, ErrorKind::Malformed("pcapng section header has a bad byte-order magic"))),
        };
        let length = u32_of(be, len_bytes, 0).unwrap_or(0);
        if length < 28 || !length.is_multiple_of(4) || length > MAX_BUFFERED_BLOCK {
            return Err(self.err(start, ErrorKind::BadBlockLength { block_type: 0x0a0d_0d0a, length }));
        }
        // Rest: version (2+2), section length (8), options, trailing length (4).
        self.take_buf(usize_of(length) - 12, start, "section header block", u64::from(length))?;
        self.check_trailer(start, be, length)?;
        let major = u16_of(be, &self.buf, 0).unwrap_or(0);
        if major != 1 {
            return Err(self.err(start, ErrorKind::Malformed("unsupported pcapng major version (expected 1)")));
        }
        self.state = State::PcapNg { big_endian: be, interfaces: Vec::new() };
        Ok(())
    }

    /// Checks the trailing copy of the block length, the last 4 bytes of `self.buf`.
    fn check_trailer(&self, start: u64, be: bool, header: u32) -> Result<(), CaptureError> {
        let trailer = self.buf.len().checked_sub(4).and_then(|at| u32_of(be, &self.buf, at)).unwrap_or(0);
        if trailer != header {
            return Err(self.err(start, ErrorKind::BlockLengthMismatch { header, trailer }));
        }
        Ok(())
    }

    fn next_pcapng(&mut self) -> Result<Option<Raw>, CaptureError> {
        // Bounded by the file: every pass consumes at least one 12-byte block.
        loop {
            let start = self.pos;
            let mut t = [0u8; 4];
            if !self.take(&mut t, start, "block header", 12)? {
                return Ok(None);
            }
            if t == magic::PCAPNG_SHB {
                self.read_shb(start)?;
                continue;
            }
            let be = match &self.state {
                State::PcapNg { big_endian, .. } => *big_endian,
                State::Pcap { .. } => return Ok(None),
            };
            let block_type = u32_of(be, &t, 0).unwrap_or(0);
            let l: [u8; 4] = self.take_array(start, "block header", 12)?;
            let length = u32_of(be, &l, 0).unwrap_or(0);
            if length < 12 || !length.is_multiple_of(4) {
                return Err(self.err(start, ErrorKind::BadBlockLength { block_type, length }));
            }
            let buffered = matches!(block_type, block::IDB | block::EPB | block::SPB | block::OPB);
            if !buffered {
                self.skip_block(start, be, length)?;
                continue;
            }
            if length > MAX_BUFFERED_BLOCK {
                return Err(self.err(start, ErrorKind::BadBlockLength { block_type, length }));
            }
            // Body and trailer: everything after type and length.
            self.take_buf(usize_of(length) - 8, start, "block", u64::from(length))?;
            self.check_trailer(start, be, length)?;
            let body_len = self.buf.len() - 4;
            let raw = match block_type {
                block::IDB => {
                    self.read_idb(start, be, body_len)?;
                    continue;
                }
                block::EPB => self.read_epb(start, be, body_len, false)?,
                block::OPB => self.read_epb(start, be, body_len, true)?,
                _ => self.read_spb(start, be, body_len)?,
            };
            return Ok(Some(raw));
        }
    }

    /// Skips an unparsed block without buffering it, checking that it is complete.
    fn skip_block(&mut self, start: u64, be: bool, length: u32) -> Result<(), CaptureError> {
        let body = u64::from(length) - 12;
        let at = self.pos;
        let got =
            io::copy(&mut (&mut self.rd).take(body), &mut io::sink()).map_err(|e| self.err(at, ErrorKind::Io(e)))?;
        self.pos = self.pos.saturating_add(got);
        if got < body {
            let available = self.pos.saturating_sub(start);
            return Err(self.err(start, ErrorKind::Truncated { what: "block", needed: u64::from(length), available }));
        }
        let tr: [u8; 4] = self.take_array(start, "block", u64::from(length))?;
        let trailer = u32_of(be, &tr, 0).unwrap_or(0);
        if trailer != length {
            return Err(self.err(start, ErrorKind::BlockLengthMismatch { header: length, trailer }));
        }
        Ok(())
    }

    fn interfaces(&mut self) -> Option<&mut Vec<Interface>> {
        match &mut self.state {
            State::PcapNg { interfaces, .. } => Some(interfaces),
            State::Pcap { .. } => None,
        }
    }

    fn read_idb(&mut self, start: u64, be: bool, body_len: usize) -> Result<(), CaptureError> {
        let body = self.buf.get(..body_len).unwrap_or(&[]);
        let (Some(link_type), Some(snaplen)) = (u16_of(be, body, 0), u32_of(be, body, 4)) else {
            return Err(self.err(start, ErrorKind::Malformed("interface description block too short")));
        };
        let mut iface = Interface { link_type, snaplen, tsres: TsRes::Dec(6), tsoffset_s: 0 };
        let opts = body.get(8..).unwrap_or(&[]);
        let mut at = 0usize;
        // Bounded: each option consumes at least 4 bytes of the block.
        while let (Some(code), Some(len)) = (u16_of(be, opts, at), u16_of(be, opts, at + 2)) {
            if code == 0 {
                break;
            }
            let len = usize::from(len);
            let Some(value) = opts.get(at + 4..at + 4 + len) else {
                return Err(self.err(start, ErrorKind::Malformed("interface option runs past the end of its block")));
            };
            match (code, value) {
                // if_tsresol: MSB clear = 10^-n, set = 2^-n.
                (9, [v, ..]) if v & 0x80 == 0 => iface.tsres = TsRes::Dec(*v),
                (9, [v, ..]) => iface.tsres = TsRes::Bin(v & 0x7f),
                (14, _) => iface.tsoffset_s = i64_of(be, value, 0).unwrap_or(0),
                _ => {}
            }
            at += 4 + len.next_multiple_of(4);
        }
        match self.interfaces() {
            Some(list) if list.len() < MAX_INTERFACES => {
                list.push(iface);
                Ok(())
            }
            _ => Err(self.err(start, ErrorKind::Malformed("too many interfaces in one pcapng section"))),
        }
    }

    fn interface(&mut self, start: u64, id: u32) -> Result<Interface, CaptureError> {
        let found = self.interfaces().and_then(|list| list.get(usize_of(id)).copied());
        found.ok_or_else(|| self.err(start, ErrorKind::UnknownInterface(id)))
    }

    fn check_caplen(&self, start: u64, caplen: u32, iface: &Interface) -> Result<(), CaptureError> {
        let limit = if iface.snaplen == 0 { MAX_CAPLEN } else { iface.snaplen.min(MAX_CAPLEN) };
        if caplen > limit {
            return Err(self.err(start, ErrorKind::CaplenTooLarge { caplen, limit }));
        }
        Ok(())
    }

    fn stamp(&mut self, iface: &Interface, units: u64) -> u64 {
        let us = iface.tsres.to_us(units);
        let off = iface.tsoffset_s.unsigned_abs().saturating_mul(1_000_000);
        let ts = if iface.tsoffset_s < 0 { us.saturating_sub(off) } else { us.saturating_add(off) };
        self.last_ts_us = ts;
        ts
    }

    /// Enhanced Packet Block, or (`obsolete`) the old Packet Block with a 16-bit interface id.
    fn read_epb(&mut self, start: u64, be: bool, body_len: usize, obsolete: bool) -> Result<Raw, CaptureError> {
        let body = self.buf.get(..body_len).unwrap_or(&[]);
        let id = if obsolete { u16_of(be, body, 0).map(u32::from) } else { u32_of(be, body, 0) };
        let fields = (id, u32_of(be, body, 4), u32_of(be, body, 8), u32_of(be, body, 12), u32_of(be, body, 16));
        let (Some(id), Some(hi), Some(lo), Some(caplen), Some(orig_len)) = fields else {
            return Err(self.err(start, ErrorKind::Malformed("packet block too short")));
        };
        if usize_of(caplen) > body_len - 20 {
            return Err(self.err(start, ErrorKind::Malformed("captured length runs past the end of its packet block")));
        }
        let iface = self.interface(start, id)?;
        self.check_caplen(start, caplen, &iface)?;
        let ts_us = self.stamp(&iface, (u64::from(hi) << 32) | u64::from(lo));
        Ok(Raw { ts_us, link_type: iface.link_type, data: 20..20 + usize_of(caplen), orig_len })
    }

    /// Simple Packet Block: interface 0, no timestamp (the previous frame's is reused).
    fn read_spb(&mut self, start: u64, be: bool, body_len: usize) -> Result<Raw, CaptureError> {
        let Some(orig_len) = u32_of(be, &self.buf, 0).filter(|_| body_len >= 4) else {
            return Err(self.err(start, ErrorKind::Malformed("simple packet block too short")));
        };
        let iface = self.interface(start, 0)?;
        let room = u32::try_from(body_len - 4).unwrap_or(u32::MAX);
        let caplen = orig_len.min(room);
        let caplen = if iface.snaplen == 0 { caplen } else { caplen.min(iface.snaplen) };
        self.check_caplen(start, caplen, &iface)?;
        Ok(Raw { ts_us: self.last_ts_us, link_type: iface.link_type, data: 4..4 + usize_of(caplen), orig_len })
    }
}

/// Rewrites a Linux cooked frame (`SLL` or `SLL2`) as Ethernet into `out`.
/// `None` when the frame is cut inside its header or its payload is not Ethernet-typed.
fn cooked_to_ethernet(link_type: u16, pkt: &[u8], out: &mut Vec<u8>) -> Option<()> {
    // (packet type, ARPHRD type, address length, address, protocol, header length)
    let (pkttype, hatype, halen, addr, proto, hdr) = if link_type == LINKTYPE_LINUX_SLL {
        let pkttype = u16_of(true, pkt, 0)?;
        let pkttype = u8::try_from(pkttype).unwrap_or(u8::MAX);
        (pkttype, u16_of(true, pkt, 2)?, u16_of(true, pkt, 4)?, pkt.get(6..14)?, u16_of(true, pkt, 14)?, sll::V1_LEN)
    } else {
        let halen = u16::from(*pkt.get(11)?);
        (*pkt.get(10)?, u16_of(true, pkt, 8)?, halen, pkt.get(12..20)?, u16_of(true, pkt, 0)?, sll::V2_LEN)
    };
    let payload = pkt.get(hdr..)?;
    if hatype == sll::ARPHRD_NETLINK {
        return None;
    }
    let type_or_len = match proto {
        0x0600.. => proto,
        sll::ETH_P_802_2 | sll::ETH_P_802_3 if payload.len() <= MAX_8023_PAYLOAD => payload.len() as u16,
        _ => return None,
    };
    let dst = match pkttype {
        sll::PACKET_BROADCAST => [0xff; 6],
        sll::PACKET_MULTICAST => multicast_mac(proto, payload).unwrap_or([0; 6]),
        _ => [0; 6],
    };
    let src: [u8; 6] = if halen == 6 { addr.get(..6)?.try_into().ok()? } else { [0; 6] };
    out.clear();
    out.extend_from_slice(&dst);
    out.extend_from_slice(&src);
    out.extend_from_slice(&type_or_len.to_be_bytes());
    out.extend_from_slice(payload);
    Some(())
}

/// The Ethernet group address an IPv4/IPv6 multicast packet was sent to (RFC 1112, RFC 2464).
fn multicast_mac(ethertype: u16, ip: &[u8]) -> Option<[u8; 6]> {
    match ethertype {
        0x0800 => match *ip.get(16..20)? {
            [a, b, c, d] if a & 0xf0 == 0xe0 => Some([0x01, 0x00, 0x5e, b & 0x7f, c, d]),
            _ => None,
        },
        0x86dd => match *ip.get(24..40)? {
            [0xff, .., a, b, c, d] => Some([0x33, 0x33, a, b, c, d]),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/captures/");

    fn capture(name: &str) -> String {
        format!("{CAPTURES}{name}")
    }

    /// (ts_us, data, orig_len, link_type) of each frame.
    type Frames = Vec<(u64, Vec<u8>, u32, u16)>;

    /// Reads a whole file: (frames, error if any).
    fn read_all(path: &Path) -> (Frames, Option<CaptureError>) {
        let mut r = match CaptureReader::open(path) {
            Ok(r) => r,
            Err(e) => return (Vec::new(), Some(e)),
        };
        let mut out = Vec::new();
        loop {
            match r.next_frame() {
                Ok(Some(f)) => out.push((f.ts_us, f.data.to_vec(), f.orig_len, f.link_type)),
                Ok(None) => return (out, None),
                Err(e) => {
                    assert!(r.next_frame().unwrap().is_none(), "fused after an error");
                    return (out, Some(e));
                }
            }
        }
    }

    /// A scratch directory removed on drop.
    struct Scratch(PathBuf);
    impl Scratch {
        fn new(tag: &str) -> Self {
            let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
            let d = std::env::temp_dir().join(format!("wardtap-capture-{tag}-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&d).unwrap();
            Scratch(d)
        }
        fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
            let p = self.0.join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        }
    }
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A classic pcap file: `records` = (seconds, fraction, data, orig_len).
    fn pcap(be: bool, ns: bool, link: u32, snaplen: u32, records: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
        let w32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
        let w16 = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
        let mut v = Vec::new();
        w32(&mut v, if ns { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
        w16(&mut v, 2);
        w16(&mut v, 4);
        w32(&mut v, 0);
        w32(&mut v, 0);
        w32(&mut v, snaplen);
        w32(&mut v, link);
        for (s, f, d, o) in records {
            for x in [*s, *f, d.len() as u32, *o] {
                w32(&mut v, x);
            }
            v.extend_from_slice(d);
        }
        v
    }

    /// pcapng builder.
    struct Ng {
        be: bool,
        v: Vec<u8>,
    }
    impl Ng {
        fn new(be: bool) -> Self {
            let mut n = Ng { be, v: Vec::new() };
            n.shb();
            n
        }
        fn u16(&self, x: u16) -> [u8; 2] {
            if self.be {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        }
        fn u32(&self, x: u32) -> [u8; 4] {
            if self.be {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        }
        fn block(&mut self, t: u32, body: &[u8]) -> &mut Self {
            let mut body = body.to_vec();
            body.resize(body.len().next_multiple_of(4), 0);
            let len = body.len() as u32 + 12;
            let (t, l) = (self.u32(t), self.u32(len));
            self.v.extend_from_slice(&t);
            self.v.extend_from_slice(&l);
            self.v.extend_from_slice(&body);
            self.v.extend_from_slice(&l);
            self
        }
        fn shb(&mut self) -> &mut Self {
            let mut b = self.u32(0x1a2b_3c4d).to_vec();
            b.extend_from_slice(&self.u16(1));
            b.extend_from_slice(&self.u16(0));
            b.extend_from_slice(&[0xff; 8]); // section length: unknown
            self.block(0x0a0d_0d0a, &b)
        }
        /// Interface with optional if_tsresol and if_tsoffset.
        fn idb(&mut self, link: u16, snaplen: u32, tsresol: Option<u8>, tsoffset: Option<i64>) -> &mut Self {
            let mut b = self.u16(link).to_vec();
            b.extend_from_slice(&[0, 0]);
            b.extend_from_slice(&self.u32(snaplen));
            // An unrelated option first (if_name, 5 bytes + padding) to exercise the walk.
            b.extend_from_slice(&self.u16(2));
            b.extend_from_slice(&self.u16(5));
            b.extend_from_slice(b"eth0\0\0\0\0");
            if let Some(r) = tsresol {
                b.extend_from_slice(&self.u16(9));
                b.extend_from_slice(&self.u16(1));
                b.extend_from_slice(&[r, 0, 0, 0]);
            }
            if let Some(o) = tsoffset {
                b.extend_from_slice(&self.u16(14));
                b.extend_from_slice(&self.u16(8));
                b.extend_from_slice(&if self.be { o.to_be_bytes() } else { o.to_le_bytes() });
            }
            b.extend_from_slice(&[0; 4]); // opt_endofopt
            self.block(1, &b)
        }
        fn epb(&mut self, iface: u32, ts: u64, data: &[u8], orig: u32) -> &mut Self {
            let mut b = Vec::new();
            for x in [iface, (ts >> 32) as u32, ts as u32, data.len() as u32, orig] {
                b.extend_from_slice(&self.u32(x));
            }
            b.extend_from_slice(data);
            self.block(6, &b)
        }
        fn spb(&mut self, data: &[u8], orig: u32) -> &mut Self {
            let mut b = self.u32(orig).to_vec();
            b.extend_from_slice(data);
            self.block(3, &b)
        }
    }

    /// A 60-byte Ethernet frame with a recognisable tag byte.
    fn eth(tag: u8) -> Vec<u8> {
        let mut f = vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x0b, 0x82, 0x01, 0x02, tag, 0x08, 0x06];
        f.resize(60, tag);
        f
    }

    #[test]
    fn every_manifest_capture_has_its_packet_count() {
        let manifest = std::fs::read_to_string(capture("MANIFEST.tsv")).unwrap();
        let mut lines = manifest.lines();
        let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (file_col, packets_col, bytes_col) = (col("file"), col("packets"), col("bytes"));
        let mut checked = 0;
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let cols: Vec<&str> = line.split('\t').collect();
            let name = cols[file_col];
            let packets: u64 = cols[packets_col].parse().unwrap();
            let path = capture(name);
            let mut r = CaptureReader::open(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.total_bytes(), cols[bytes_col].parse::<u64>().unwrap(), "{name}");
            let mut n = 0u64;
            let mut last_progress = 0;
            while let Some(f) = r.next_frame().unwrap_or_else(|e| panic!("{e}")) {
                n += 1;
                assert!(f.data.len() >= 14, "{name}");
                // Before 2035: no unit blow-up (some real captures from devices without a clock
                // start near 1970, so there is no lower bound here).
                assert!(f.ts_us < 2_051_222_400_000_000, "{name}: {}", f.ts_us);
                assert!(r.bytes_read() >= last_progress);
                last_progress = r.bytes_read();
            }
            let skipped: u64 = r.skipped().values().sum();
            assert_eq!(n + skipped, packets, "{name}");
            assert_eq!(skipped, 0, "{name}: all manifest captures are Ethernet");
            assert_eq!(r.frames(), n);
            assert_eq!(r.bytes_read(), r.total_bytes(), "{name}: consumed to the end");
            checked += 1;
        }
        assert!(checked >= 60, "manifest lists {checked} captures");
    }

    #[test]
    fn real_pcapng_files() {
        for name in [
            "snmp-v1-v2c-v3-vlan__ndpi.pcapng",
            "wsdiscovery__ndpi.pcapng",
            "netbios-nbns-smb-browser-vlan__ndpi.pcapng",
        ] {
            let r = CaptureReader::open(capture(name)).unwrap();
            assert_eq!(r.format(), Format::PcapNg, "{name}");
            let (frames, err) = read_all(Path::new(&capture(name)));
            assert!(err.is_none(), "{name}: {err:?}");
            assert!(!frames.is_empty(), "{name}");
            assert!(frames.iter().all(|f| f.3 == LINKTYPE_ETHERNET && f.1.len() as u32 <= f.2), "{name}");
            // 2000..2035: the interface's timestamp resolution was applied correctly.
            assert!(frames.iter().all(|f| (946_684_800_000_000..2_051_222_400_000_000).contains(&f.0)), "{name}");
            assert!(frames.windows(2).all(|w| w[0].0 <= w[1].0 + 3_600_000_000), "{name}: sane time order");
        }
        // The SNMP capture is VLAN-tagged: some frame carries 802.1Q at the EtherType offset.
        let (frames, _) = read_all(Path::new(&capture("snmp-v1-v2c-v3-vlan__ndpi.pcapng")));
        assert_eq!(frames[0].0, 1_597_326_815_572_660, "EPB timestamp, default µs resolution");
        assert!(frames.iter().any(|f| f.1.get(12..14) == Some(&[0x81, 0x00][..])));
    }

    #[test]
    fn pcap_frames_and_timestamps_match_the_records() {
        let path = capture("hl7-mllp-adt__ndpi.pcap");
        let bytes = std::fs::read(&path).unwrap();
        let (frames, err) = read_all(Path::new(&path));
        assert!(err.is_none());
        // Independent walk of the records.
        let mut at = 24;
        for f in &frames {
            let u = |o: usize| u32::from_le_bytes(bytes[at + o..at + o + 4].try_into().unwrap());
            assert_eq!(f.0, u64::from(u(0)) * 1_000_000 + u64::from(u(4)));
            let caplen = u(8) as usize;
            assert_eq!(f.2, u(12));
            assert_eq!(f.1, &bytes[at + 16..at + 16 + caplen]);
            at += 16 + caplen;
        }
        assert_eq!(at, bytes.len());
    }

    #[test]
    fn truncated_file_reports_the_cut_record_after_earlier_frames() {
        let path = capture("dicom-dhcp-smb-hospital-synthetic__tapirxl.pcap");
        let bytes = std::fs::read(&path).unwrap();
        // Offset of record 40.
        let mut at = 24usize;
        for _ in 0..40 {
            at += 16 + u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        }
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as u64;
        let dir = Scratch::new("trunc");
        let cut = dir.write("cut.pcap", &bytes[..at + 16 + 7]);
        let (frames, err) = read_all(&cut);
        assert_eq!(frames.len(), 40);
        let err = err.expect("truncation is an error");
        assert_eq!(err.offset, at as u64);
        assert_eq!(err.path, cut);
        assert!(
            matches!(err.kind, ErrorKind::Truncated { what: "packet record", needed, available: 23 } if needed == 16 + caplen),
            "{err}"
        );
        let msg = err.to_string();
        assert!(msg.contains("cut.pcap") && msg.contains(&format!("offset {at}")), "{msg}");

        // Cut inside a record header.
        let cut = dir.write("cut-hdr.pcap", &bytes[..at + 5]);
        let (frames, err) = read_all(&cut);
        assert_eq!(frames.len(), 40);
        let err = err.unwrap();
        assert_eq!(err.offset, at as u64);
        assert!(matches!(err.kind, ErrorKind::Truncated { what: "packet record header", available: 5, .. }));

        // Truncated pcapng: cut inside the last block.
        let ng = std::fs::read(capture("wsdiscovery__ndpi.pcapng")).unwrap();
        let (all, _) = read_all(Path::new(&capture("wsdiscovery__ndpi.pcapng")));
        let cut = dir.write("cut.pcapng", &ng[..ng.len() - 6]);
        let (frames, err) = read_all(&cut);
        assert_eq!(frames.len(), all.len() - 1);
        let err = err.unwrap();
        assert!(matches!(err.kind, ErrorKind::Truncated { what: "block", .. }), "{err}");
        let last_len = u32::from_le_bytes(ng[ng.len() - 4..].try_into().unwrap()) as u64;
        assert_eq!(err.offset, ng.len() as u64 - last_len, "offset of the last block");
    }

    #[test]
    fn bad_magic_and_empty_files() {
        let dir = Scratch::new("magic");
        let good = std::fs::read(capture("hl7-mllp-adt__ndpi.pcap")).unwrap();
        let mut bytes = good.clone();
        bytes[..4].copy_from_slice(b"GIF8");
        let p = dir.write("bad.pcap", &bytes);
        let err = CaptureReader::open(&p).unwrap_err();
        assert_eq!(err.offset, 0);
        assert!(matches!(err.kind, ErrorKind::BadMagic(0x4749_4638)), "{err}");
        assert!(err.to_string().contains("not a pcap or pcapng file"));

        let p = dir.write("empty.pcap", &[]);
        let err = CaptureReader::open(&p).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::Truncated { what: "file header", needed: 24, available: 0 }), "{err}");
        let p = dir.write("short.pcap", &good[..10]);
        let err = CaptureReader::open(&p).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::Truncated { what: "file header", available: 10, .. }), "{err}");

        let err = CaptureReader::open(dir.0.join("missing.pcap")).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::Io(_)));

        // A header-only pcap is a valid, empty capture.
        let p = dir.write("hdr.pcap", &pcap(false, false, 1, 65535, &[]));
        assert!(CaptureReader::open(&p).unwrap().next_frame().unwrap().is_none());
    }

    #[test]
    fn nanosecond_and_big_endian_pcap() {
        let dir = Scratch::new("ns-be");
        let (a, b) = (eth(1), eth(2));
        for (be, ns) in [(false, true), (true, false), (true, true), (false, false)] {
            let frac2 = if ns { 999_999_999 } else { 999_999 };
            let file = pcap(
                be,
                ns,
                1,
                65535,
                &[(1_700_000_000, if ns { 123_456_789 } else { 123_456 }, &a, 60), (1_700_000_001, frac2, &b, 1514)],
            );
            let p = dir.write("x.pcap", &file);
            let r = CaptureReader::open(&p).unwrap();
            assert_eq!(r.format(), Format::Pcap { big_endian: be, nanosecond: ns, link_type: 1 });
            let (frames, err) = read_all(&p);
            assert!(err.is_none());
            assert_eq!(frames.len(), 2);
            assert_eq!(frames[0].0, 1_700_000_000_123_456);
            assert_eq!(frames[1].0, 1_700_000_001_999_999);
            assert_eq!((&frames[0].1, frames[0].2), (&a, 60));
            assert_eq!((&frames[1].1, frames[1].2), (&b, 1514));
        }
    }

    #[test]
    fn caplen_limits() {
        let dir = Scratch::new("caplen");
        let big = vec![0u8; 200];
        let p = dir.write("snap.pcap", &pcap(false, false, 1, 128, &[(1, 0, &eth(1), 60), (2, 0, &big, 200)]));
        let (frames, err) = read_all(&p);
        assert_eq!(frames.len(), 1);
        let err = err.unwrap();
        assert_eq!(err.offset, 24 + 16 + 60);
        assert!(matches!(err.kind, ErrorKind::CaplenTooLarge { caplen: 200, limit: 128 }), "{err}");

        // A lying caplen of 4 GiB must not be allocated.
        let mut file = pcap(false, false, 1, 0, &[(1, 0, &eth(1), 60)]);
        file.extend_from_slice(&[0; 8]);
        file.extend_from_slice(&u32::MAX.to_le_bytes());
        file.extend_from_slice(&u32::MAX.to_le_bytes());
        let p = dir.write("huge.pcap", &file);
        let (frames, err) = read_all(&p);
        assert_eq!(frames.len(), 1);
        assert!(matches!(err.unwrap().kind, ErrorKind::CaplenTooLarge { caplen: u32::MAX, limit: MAX_CAPLEN }));
    }

    #[test]
    fn sll_and_sll2_become_ethernet() {
        let dir = Scratch::new("sll");
        let ip_payload = {
            // IPv4 UDP to 224.0.0.251 (mDNS), 28 bytes of header and nothing else.
            let mut p = vec![0x45, 0, 0, 28, 0, 0, 0, 0, 1, 17, 0, 0, 10, 0, 0, 5, 224, 0, 0, 251];
            p.extend_from_slice(&[0x14, 0xe9, 0x14, 0xe9, 0, 8, 0, 0]);
            p
        };
        let mut sll1 = vec![0, 2, 0, 1, 0, 6, 0xb8, 0x27, 0xeb, 0x11, 0x22, 0x33, 0, 0, 0x08, 0x00];
        sll1.extend_from_slice(&ip_payload);
        // SLL2: protocol ARP, ifindex 3, ARPHRD_ETHER, broadcast, 6-byte address.
        let mut sll2 = vec![0x08, 0x06, 0, 0, 0, 0, 0, 3, 0, 1, 1, 6, 0x00, 0x17, 0x88, 0xaa, 0xbb, 0xcc, 0, 0];
        sll2.extend_from_slice(&[0u8; 28]);
        // SLL, to us, 802.2 LLC payload (e.g. STP): becomes an 802.3 frame with a length field.
        let mut llc = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x00, 0x04];
        llc.extend_from_slice(&[0x42, 0x42, 0x03, 0, 0]);
        // Netlink (ARPHRD 824), family 4 (NETLINK_SOCK_DIAG): would look like 802.2 if not excluded.
        let mut nl = vec![0, 4, 0x03, 0x38, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x04];
        nl.extend_from_slice(&[0u8; 16]);

        let p = dir.write(
            "sll.pcap",
            &pcap(
                true,
                false,
                113,
                65535,
                &[(5, 1, &sll1, 100), (5, 2, &nl, 32), (5, 3, &llc, 21), (5, 4, &sll1[..10], 10)],
            ),
        );
        let (frames, err) = read_all(&p);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(frames.len(), 2);
        let f = &frames[0].1;
        assert_eq!(&f[..6], &[0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb], "multicast dst from the IPv4 group");
        assert_eq!(&f[6..12], &[0xb8, 0x27, 0xeb, 0x11, 0x22, 0x33]);
        assert_eq!(&f[12..14], &[0x08, 0x00]);
        assert_eq!(&f[14..], &ip_payload[..]);
        assert_eq!(frames[0].2, 100 - 16 + 14);
        assert_eq!(frames[0].3, LINKTYPE_LINUX_SLL);
        let f = &frames[1].1;
        assert_eq!(&f[..12], &[0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(&f[12..14], &[0, 5], "802.3 length field");
        let mut r = CaptureReader::open(&p).unwrap();
        while r.next_frame().unwrap().is_some() {}
        assert_eq!(r.skipped().get(&LINKTYPE_LINUX_SLL), Some(&2), "netlink + cut header");

        let p = dir.write("sll2.pcap", &pcap(false, false, 276, 65535, &[(6, 0, &sll2, 48)]));
        let (frames, err) = read_all(&p);
        assert!(err.is_none());
        let f = &frames[0].1;
        assert_eq!(&f[..14], &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x17, 0x88, 0xaa, 0xbb, 0xcc, 0x08, 0x06]);
        assert_eq!(f.len(), 14 + 28);
        assert_eq!(frames[0].2, 48 - 20 + 14);
    }

    #[test]
    fn other_link_types_are_skipped_and_counted() {
        let dir = Scratch::new("link");
        let p =
            dir.write("raw.pcap", &pcap(false, false, 101, 65535, &[(1, 0, &[0x45; 20], 20), (2, 0, &[0x45; 20], 20)]));
        let mut r = CaptureReader::open(&p).unwrap();
        assert!(r.next_frame().unwrap().is_none());
        assert_eq!(r.skipped().get(&101), Some(&2));
        assert_eq!(r.frames(), 0);
    }

    #[test]
    fn pcapng_interfaces_resolutions_and_blocks() {
        let dir = Scratch::new("ng");
        for be in [false, true] {
            let mut ng = Ng::new(be);
            ng.idb(1, 0, None, None) // 0: Ethernet, µs
                .idb(1, 65535, Some(9), Some(-10)) // 1: Ethernet, ns, offset -10 s
                .idb(1, 65535, Some(0x80 | 20), None) // 2: Ethernet, 2^-20 s
                .idb(127, 65535, None, None) // 3: radiotap: skipped
                .epb(0, 1_600_000_000_000_001, &eth(1), 60)
                .block(4, &[0; 16]) // name resolution block: ignored
                .epb(1, 1_600_000_010_000_002_999, &eth(2), 60)
                .epb(2, (1_600_000_000u64 << 20) | (1 << 19), &eth(3), 60)
                .epb(3, 1_600_000_000_700_000, &[0; 30], 30) // sets the time the SPB reuses
                .block(0x0000_0bad, &[1, 2, 3]) // custom/unknown block: ignored
                .spb(&eth(4)[..40], 60); // SPB: interface 0, 40 of 60 bytes kept
            ng.shb().idb(1, 0, Some(3), None).epb(0, 1_600_000_005_123, &eth(5), 60); // new section: ms
            let p = dir.write("t.pcapng", &ng.v);
            let mut r = CaptureReader::open(&p).unwrap();
            let mut got = Vec::new();
            while let Some(f) = r.next_frame().unwrap() {
                got.push((f.ts_us, f.data[11], f.data.len(), f.orig_len));
            }
            assert_eq!(
                got,
                vec![
                    (1_600_000_000_000_001, 1, 60, 60),
                    (1_600_000_000_000_002, 2, 60, 60),
                    (1_600_000_000_500_000, 3, 60, 60),
                    (1_600_000_000_700_000, 4, 40, 60),
                    (1_600_000_005_123_000, 5, 60, 60),
                ],
                "be={be}"
            );
            assert_eq!(r.skipped().get(&127), Some(&1));
            assert_eq!(r.bytes_read(), ng.v.len() as u64);
        }
    }

    #[test]
    fn pcapng_structural_errors() {
        let dir = Scratch::new("ngerr");
        let mut base = Ng::new(false);
        base.idb(1, 0, None, None).epb(0, 1, &eth(1), 60);
        let good_len = base.v.len();

        // Block length not a multiple of 4.
        let mut v = base.v.clone();
        v.extend_from_slice(&6u32.to_le_bytes());
        v.extend_from_slice(&13u32.to_le_bytes());
        v.extend_from_slice(&[0; 8]);
        let (frames, err) = read_all(&dir.write("a.pcapng", &v));
        assert_eq!(frames.len(), 1);
        let err = err.unwrap();
        assert_eq!(err.offset, good_len as u64);
        assert!(matches!(err.kind, ErrorKind::BadBlockLength { block_type: 6, length: 13 }), "{err}");

        // A huge length on a packet block: rejected before any allocation.
        let mut v = base.v.clone();
        v.extend_from_slice(&6u32.to_le_bytes());
        v.extend_from_slice(&0xffff_fff0u32.to_le_bytes());
        let err = read_all(&dir.write("b.pcapng", &v)).1.unwrap();
        assert!(matches!(err.kind, ErrorKind::BadBlockLength { length: 0xffff_fff0, .. }), "{err}");

        // Trailer differs from header.
        let mut v = base.v.clone();
        let n = v.len();
        v[n - 4] ^= 0x40;
        let (frames, err) = read_all(&dir.write("c.pcapng", &v));
        assert_eq!(frames.len(), 0);
        assert!(matches!(err.unwrap().kind, ErrorKind::BlockLengthMismatch { .. }));

        // Packet for an undeclared interface.
        let mut ng = Ng::new(true);
        ng.idb(1, 0, None, None).epb(0, 1, &eth(1), 60).epb(7, 1, &eth(2), 60);
        let (frames, err) = read_all(&dir.write("d.pcapng", &ng.v));
        assert_eq!(frames.len(), 1);
        assert!(matches!(err.unwrap().kind, ErrorKind::UnknownInterface(7)));

        // Captured length runs past its block.
        let mut v = base.v.clone();
        let epb_start = good_len - (12 + 20 + 60);
        v[epb_start + 20..epb_start + 24].copy_from_slice(&61u32.to_le_bytes());
        let err = read_all(&dir.write("e.pcapng", &v)).1.unwrap();
        assert_eq!(err.offset, epb_start as u64);
        assert!(matches!(err.kind, ErrorKind::Malformed(_)), "{err}");

        // Interface option running past its block.
        let mut ng = Ng::new(false);
        ng.block(1, &[1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 200, 0]);
        let err = read_all(&dir.write("f.pcapng", &ng.v)).1.unwrap();
        assert!(matches!(err.kind, ErrorKind::Malformed(_)), "{err}");

        // Bad byte-order magic.
        let mut v = base.v.clone();
        v[8..12].copy_from_slice(&[1, 2, 3, 4]);
        let err = CaptureReader::open(dir.write("g.pcapng", &v)).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::Malformed(_)) && err.offset == 0, "{err}");

        // Truncated inside a skipped block.
        let mut ng = Ng::new(false);
        ng.idb(1, 0, None, None).epb(0, 1, &eth(1), 60).block(5, &[0; 40]);
        let cut = &ng.v[..ng.v.len() - 20];
        let (frames, err) = read_all(&dir.write("h.pcapng", cut));
        assert_eq!(frames.len(), 1);
        let err = err.unwrap();
        assert_eq!(err.offset, (ng.v.len() - 52) as u64);
        assert!(matches!(err.kind, ErrorKind::Truncated { what: "block", needed: 52, available: 32 }), "{err}");
    }

    #[test]
    fn mutated_files_never_panic() {
        let dir = Scratch::new("mutate");
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for name in ["wsdiscovery__ndpi.pcapng", "cdp-cisco3560g__tcpdump.pcap"] {
            let good = std::fs::read(capture(name)).unwrap();
            for round in 0..300 {
                let mut v = good.clone();
                for _ in 0..1 + rnd() % 8 {
                    let at = (rnd() % v.len() as u64) as usize;
                    v[at] = rnd() as u8;
                }
                if round % 5 == 0 {
                    v.truncate((rnd() % v.len() as u64) as usize);
                }
                let p = dir.write("m", &v);
                let (frames, _) = read_all(&p);
                assert!(frames.len() <= 64, "{name}: no frames conjured out of nothing");
            }
        }
    }

    #[test]
    fn timestamp_resolutions() {
        assert_eq!(TsRes::Dec(6).to_us(42), 42);
        assert_eq!(TsRes::Dec(0).to_us(2), 2_000_000);
        assert_eq!(TsRes::Dec(9).to_us(1_999), 1);
        assert_eq!(TsRes::Dec(120).to_us(u64::MAX), 0);
        assert_eq!(TsRes::Dec(0).to_us(u64::MAX), u64::MAX);
        assert_eq!(TsRes::Bin(0).to_us(3), 3_000_000);
        assert_eq!(TsRes::Bin(10).to_us(1024), 1_000_000);
        assert_eq!(TsRes::Bin(127).to_us(u64::MAX), 0);
    }
}
