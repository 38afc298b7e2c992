//! The host's side of the management link: a byte stream to a tap (serial line or TCP), the
//! tap's key, and a request counter that only goes up.
//!
//! Every request is sealed with the tap's key ([`wardtap_proto::mgmt`]); every response must
//! verify under the same key and echo the request's counter, or it is an error (a response
//! from something else on the line is never believed). The counter starts at the current
//! time in µs, so a fresh host process is above what any earlier one used; a tap that says
//! "replayed" tells its last counter and the client moves above it once.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wardtap_proto::cobs::{self, Accumulator, Feed};
use wardtap_proto::mgmt::{self, Key, Refusal, Request, Response, KEY_LEN, MAX_FRAME, MAX_WIRE_FRAME};

/// What can go wrong on the link.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The stream failed or closed.
    #[error("link: {0}")]
    Io(#[from] std::io::Error),
    /// No complete answer in time.
    #[error("link: no answer within {0:?}")]
    Timeout(Duration),
    /// An answer that does not verify under the tap's key.
    #[error("link: a response did not verify (wrong key file, or not a wardtap tap on this line)")]
    BadResponse,
    /// The tap refused the request.
    #[error("link: the tap refused the request: {0:?}")]
    Refused(Refusal),
    /// An answer of the wrong kind.
    #[error("link: unexpected response {0}")]
    Unexpected(String),
    /// The key file is unusable.
    #[error("key file {path}: {why}")]
    KeyFile {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
}

/// A tap's identity and key, as `wardtap provision` writes them.
#[derive(Clone, PartialEq, Eq)]
pub struct TapKey {
    /// The tap's id.
    pub tap_id: u32,
    /// Its key.
    pub key: Key,
}

impl std::fmt::Debug for TapKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TapKey {{ tap_id: {}, key: <secret> }}", self.tap_id)
    }
}

impl TapKey {
    /// The key file's text: two `name = value` lines.
    pub fn to_text(&self) -> String {
        let hex: String = self.key.iter().map(|b| format!("{b:02x}")).collect();
        format!("# wardtap tap key: keep secret (mode 0600)\ntap_id = {}\nkey = \"{hex}\"\n", self.tap_id)
    }

    /// Parses a key file's text.
    pub fn parse(text: &str) -> Result<TapKey, String> {
        let mut tap_id = None;
        let mut key = None;
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let (name, value) = line.split_once('=').ok_or_else(|| format!("not `name = value`: {line}"))?;
            let value = value.trim().trim_matches('"');
            match name.trim() {
                "tap_id" => tap_id = Some(value.parse::<u32>().map_err(|e| format!("tap_id: {e}"))?),
                "key" => {
                    if value.len() != 2 * KEY_LEN || !value.is_ascii() {
                        return Err(format!("key: expected {} hex digits", 2 * KEY_LEN));
                    }
                    let mut k = [0u8; KEY_LEN];
                    for (i, b) in k.iter_mut().enumerate() {
                        *b = u8::from_str_radix(&value[2 * i..2 * i + 2], 16).map_err(|e| format!("key: {e}"))?;
                    }
                    key = Some(k);
                }
                other => return Err(format!("unknown setting {other}")),
            }
        }
        Ok(TapKey { tap_id: tap_id.ok_or("no tap_id")?, key: key.ok_or("no key")? })
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<TapKey, LinkError> {
        let err = |why: String| LinkError::KeyFile { path: path.display().to_string(), why };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        TapKey::parse(&text).map_err(err)
    }
}

/// A byte stream to a tap with a read timeout.
pub trait Line: Read + Write {
    /// Sets how long one read may wait.
    fn set_timeout(&mut self, t: Duration) -> std::io::Result<()>;
}

impl Line for TcpStream {
    fn set_timeout(&mut self, t: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(t))
    }
}

/// A serial device opened read-write (raw mode set with `stty`).
pub struct Serial(std::fs::File);

impl Serial {
    /// Opens `path` and puts the line in raw mode (115200 8N1, no echo).
    pub fn open(path: &Path) -> std::io::Result<Serial> {
        let f = std::fs::OpenOptions::new().read(true).write(true).open(path)?;
        // A terminal needs raw mode; a plain file or FIFO (tests) does not take stty settings.
        let _ = std::process::Command::new("stty")
            .arg("-F")
            .arg(path)
            .args(["raw", "-echo", "115200", "min", "0", "time", "10"])
            .status();
        Ok(Serial(f))
    }
}

impl Read for Serial {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Serial {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl Line for Serial {
    fn set_timeout(&mut self, _: Duration) -> std::io::Result<()> {
        // `stty time 10`: a read returns after 1 s of silence; the client counts them.
        Ok(())
    }
}

/// Connects to a tap over TCP (a serial server, or QEMU's chardev socket).
pub fn connect_tcp(addr: &str) -> Result<TcpStream, LinkError> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// A client for one tap.
pub struct Client<L: Line> {
    line: L,
    key: TapKey,
    counter: u64,
    rx: Box<Accumulator<MAX_WIRE_FRAME>>,
    timeout: Duration,
}

impl<L: Line> Client<L> {
    /// A client over `line` for the tap `key` names.
    pub fn new(mut line: L, key: TapKey) -> Result<Self, LinkError> {
        let timeout = Duration::from_secs(10);
        line.set_timeout(Duration::from_millis(500))?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(1);
        Ok(Client { line, key, counter: now, rx: Box::new(Accumulator::new()), timeout })
    }

    /// Sets how long to wait for one answer.
    pub fn set_timeout(&mut self, t: Duration) {
        self.timeout = t;
    }

    /// The line (e.g. to send raw bytes in tests).
    pub fn line(&mut self) -> &mut L {
        &mut self.line
    }

    /// The counter the next request will carry.
    pub fn next_counter(&self) -> u64 {
        self.counter + 1
    }

    /// Seals a request with the next counter, without sending it (for tests of refusal).
    pub fn seal(&mut self, req: &Request) -> Vec<u8> {
        self.counter += 1;
        encode_frame(&self.key.key, self.key.tap_id, self.counter, req)
    }

    /// Sends raw bytes and waits for one response frame; returns its counter and body.
    pub fn exchange_raw(&mut self, wire: &[u8]) -> Result<(u64, Response), LinkError> {
        self.line.write_all(wire)?;
        self.line.flush()?;
        self.read_response()
    }

    /// Sends a request and returns the tap's answer; a refusal is an error. A stale counter
    /// is corrected once (the tap says which counter it last accepted).
    pub fn call(&mut self, req: &Request) -> Result<Response, LinkError> {
        for attempt in 0..2 {
            let wire = self.seal(req);
            let sent = self.counter;
            let (counter, body) = self.exchange_raw(&wire)?;
            match body {
                Response::Refused(Refusal::Replayed { last }) if attempt == 0 && counter == sent => {
                    self.counter = last;
                }
                Response::Refused(r) => return Err(LinkError::Refused(r)),
                _ if counter != sent => return Err(LinkError::BadResponse),
                body => return Ok(body),
            }
        }
        Err(LinkError::Refused(Refusal::Replayed { last: self.counter }))
    }

    fn read_response(&mut self) -> Result<(u64, Response), LinkError> {
        let deadline = std::time::Instant::now() + self.timeout;
        let mut buf = [0u8; 4096];
        loop {
            let n = match self.line.read(&mut buf) {
                Ok(0) if std::time::Instant::now() >= deadline => return Err(LinkError::Timeout(self.timeout)),
                Ok(0) => {
                    // A socket at EOF returns 0 at once: that is a closed line, not silence.
                    std::thread::sleep(Duration::from_millis(5));
                    0
                }
                Ok(n) => n,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => 0,
                Err(e) => return Err(e.into()),
            };
            for (i, &b) in buf[..n].iter().enumerate() {
                if let Feed::Frame(_) = self.rx.push(b) {
                    if i + 1 != n {
                        // Nothing should follow a response before the next request.
                        self.rx.reset();
                    }
                    let env = match mgmt::open_response(&self.key.key, self.rx.frame()) {
                        Ok(env) => env,
                        // An unprovisioned tap signs with the zero key.
                        Err(_) => match mgmt::open_response(&[0; KEY_LEN], self.rx.frame()) {
                            Ok(env) if env.body == Response::Refused(Refusal::Unprovisioned) => env,
                            _ => return Err(LinkError::BadResponse),
                        },
                    };
                    if env.tap_id != self.key.tap_id {
                        return Err(LinkError::BadResponse);
                    }
                    return Ok((env.counter, env.body));
                }
            }
            if std::time::Instant::now() >= deadline {
                return Err(LinkError::Timeout(self.timeout));
            }
        }
    }
}

/// COBS frame (with delimiter) of a sealed request.
pub fn encode_frame(key: &Key, tap_id: u32, counter: u64, req: &Request) -> Vec<u8> {
    let mut frame = vec![0u8; MAX_FRAME];
    let n = mgmt::seal_request(key, tap_id, counter, req, &mut frame).unwrap_or(0);
    let mut wire = vec![0u8; MAX_WIRE_FRAME];
    let m = cobs::encode(&frame[..n], &mut wire).unwrap_or(0);
    wire.truncate(m);
    wire.push(0);
    wire
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_roundtrips_and_rejects_junk() {
        let k = TapKey { tap_id: 12, key: [0xab; KEY_LEN] };
        assert_eq!(TapKey::parse(&k.to_text()).unwrap(), k);
        assert!(TapKey::parse("tap_id = 1\nkey = \"abcd\"\n").is_err());
        assert!(TapKey::parse("tap_id = x\n").is_err());
        assert!(TapKey::parse("key = \"00\"").is_err());
        assert!(!format!("{k:?}").contains("ab"), "Debug must not print the key");
    }
}
