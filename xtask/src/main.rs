//! Developer tasks. `cargo xtask qemu-replay CAPTURE... [--learn DURATION]` builds the
//! emulated board's firmware, boots it in QEMU (`mps2-an386`), feeds the captures' frames to
//! its monitor NIC in order, pulls the summary over its UART and prints it like
//! `wardtap replay`.
//!
//! - Feed: a QEMU `stream` netdev on a Unix socket; each frame carries its capture time in an
//!   8-byte prefix that the `capture-clock` firmware strips (so first/last-seen times equal
//!   `replay`'s). The emulated NIC drops silently when its FIFO is full, so frames go in
//!   bursts of at most a few KiB, and the next burst waits until the tap's own frame counter
//!   (pulled with `Status`) has caught up: lossless, and checked.
//! - Management: QEMU's UART0 on a TCP socket; requests sealed with a key made for this run
//!   and loaded into the board's provisioning area (`-device loader`).
//! - Passivity: a `filter-dump` records every frame the board transmits on the monitor
//!   netdev; the count goes to the report (it must be 0).
//! - `--abuse`: between bursts, forged, replayed and malformed requests; each must be refused,
//!   and the frames keep flowing.
//! - Logs: defmt over semihosting, written to `defmt.bin` in the work directory; decode with
//!   `defmt-print -e <elf> < defmt.bin`.
//! - `--policy FILE`: uploads the policy file's rules (`SetPolicy` chunks) before feeding.
//! - `--flash FILE`: the board's persistence slots (emulated flash, 128 KiB at `0x3d_f000`)
//!   come from FILE at boot (erased flash when it does not exist yet) and go back to it at
//!   the end, dumped over QMP (`pmemsave`) before QEMU is killed: the next run with the same
//!   FILE boots after a power cut with what the tap had saved.

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wardtap::capture::CaptureReader;
use wardtap::link::{encode_frame, Client, TapKey};
use wardtap::output::Format;
use wardtap_proto::mgmt::{provision, Refusal, Request, Response, KEY_LEN, POLICY_RULES_PER_CHUNK};

/// The emulated NIC's RX FIFO holds about 10 KiB; a burst stays well below it.
const BURST_BYTES: usize = 6000;
/// Frames per burst at most (the RX status FIFO is larger, this keeps rounds short).
const BURST_FRAMES: usize = 8;
/// QEMU's LAN9118 refuses frames of 2,048 bytes or more (with the prefix).
const MAX_FEED: usize = 2047;
const PREFIX: usize = 8;
/// The emulated board's persistence slots (firmware/boards/mps2-an386/memory.x).
const PERSIST_ADDR: u32 = 0x003d_f000;
const PERSIST_LEN: usize = 128 * 1024;

struct Opts {
    captures: Vec<PathBuf>,
    learn: Option<u32>,
    format: Format,
    report: Option<PathBuf>,
    workdir: Option<PathBuf>,
    abuse: bool,
    policy: Option<PathBuf>,
    flash: Option<PathBuf>,
}

fn usage() -> ! {
    eprintln!(
        "usage: cargo xtask qemu-replay CAPTURE... [--learn DURATION] [--format table|json|csv] \
         [--report FILE] [--workdir DIR] [--abuse] [--policy FILE] [--flash FILE]"
    );
    std::process::exit(2)
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("qemu-replay") => {}
        _ => usage(),
    }
    let mut o = Opts {
        captures: vec![],
        learn: None,
        format: Format::Json,
        report: None,
        workdir: None,
        abuse: false,
        policy: None,
        flash: None,
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--learn" => {
                let d = args.next().unwrap_or_else(|| usage());
                o.learn = Some(wardtap::policy::parse_duration(&d).map_err(anyhow::Error::msg)?);
            }
            "--format" => {
                o.format = match args.next().as_deref() {
                    Some("json") => Format::Json,
                    Some("table") => Format::Table,
                    Some("csv") => Format::Csv,
                    _ => usage(),
                }
            }
            "--report" => o.report = Some(args.next().unwrap_or_else(|| usage()).into()),
            "--workdir" => o.workdir = Some(args.next().unwrap_or_else(|| usage()).into()),
            "--abuse" => o.abuse = true,
            "--policy" => o.policy = Some(args.next().unwrap_or_else(|| usage()).into()),
            "--flash" => o.flash = Some(args.next().unwrap_or_else(|| usage()).into()),
            s if s.starts_with("--") => usage(),
            s => o.captures.push(s.into()),
        }
    }
    if o.captures.is_empty() {
        usage();
    }
    qemu_replay(&o)
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Builds the emulated board's firmware with the capture clock; returns the ELF.
fn build_firmware() -> Result<PathBuf> {
    let board = root().join("firmware/boards/mps2-an386");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(cargo)
        .current_dir(&board)
        .args(["build", "--release", "--features", "capture-clock"])
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .context("running cargo for the firmware")?;
    if !st.success() {
        bail!("firmware build failed");
    }
    Ok(root().join("target/boards/thumbv7em-none-eabihf/release/wardtap-mps2-an386"))
}

struct Qemu(Child);

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Frames in a classic pcap file (the filter-dump's format).
fn pcap_frames(path: &Path) -> Result<usize> {
    let d = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut at = 24;
    let mut n = 0;
    while let Some(h) = d.get(at..at + 16) {
        let caplen = u32::from_le_bytes([h[8], h[9], h[10], h[11]]) as usize;
        at += 16 + caplen;
        n += 1;
    }
    Ok(n)
}

fn call<L: wardtap::link::Line>(c: &mut Client<L>, r: &Request) -> Result<Response> {
    Ok(c.call(r)?)
}

fn processed<L: wardtap::link::Line>(c: &mut Client<L>) -> Result<(u64, u32)> {
    let s = wardtap::pull::status(c)?;
    Ok((s.counters.frames, s.nic.dropped))
}

#[derive(Default, serde::Serialize)]
struct Report {
    fed: u64,
    skipped_too_large: u64,
    processed: u64,
    nic_dropped: u32,
    monitor_tx_frames: usize,
    hostile_sent: u32,
    hostile_refused: u32,
    /// The request-counter floor the tap reported at boot (restored from `--flash`).
    boot_floor: u64,
    /// The last request counter the tap accepted in this run.
    last_counter: u64,
    link: serde_json::Value,
    seconds: f64,
}

fn qemu_replay(o: &Opts) -> Result<()> {
    let started = Instant::now();
    let elf = build_firmware()?;
    let dir = match &o.workdir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("wardtap-qemu-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    let key = TapKey { tap_id: 1, key: wardtap::provision::random_key()? };
    let record = dir.join("provision.bin");
    std::fs::write(&record, provision::encode(key.tap_id, &key.key))?;
    let net_sock = dir.join("net.sock");
    let _ = std::fs::remove_file(&net_sock);
    let net = UnixListener::bind(&net_sock).context("binding the feed socket")?;
    let tx_dump = dir.join("monitor-tx.pcap");
    let _ = std::fs::remove_file(&tx_dump);
    let port = free_port()?;
    let qmp_sock = dir.join("qmp.sock");
    let _ = std::fs::remove_file(&qmp_sock);
    let mut extra: Vec<String> = Vec::new();
    if let Some(flash) = &o.flash {
        if !flash.exists() {
            std::fs::write(flash, vec![0xffu8; PERSIST_LEN]).context("creating the flash file")?;
        }
        extra.push("-device".into());
        extra.push(format!("loader,file={},addr={PERSIST_ADDR:#x},force-raw=on", flash.display()));
        extra.push("-qmp".into());
        extra.push(format!("unix:{},server=on,wait=off", qmp_sock.display()));
    }
    let qemu = Command::new("qemu-system-arm")
        .args(["-M", "mps2-an386", "-display", "none", "-nodefaults"])
        .args(["-semihosting-config", "enable=on,target=native"])
        .arg("-kernel")
        .arg(&elf)
        .arg("-device")
        .arg(format!("loader,file={},addr=0x3ff000,force-raw=on", record.display()))
        .arg("-netdev")
        .arg(format!("stream,id=n0,server=off,addr.type=unix,addr.path={}", net_sock.display()))
        .args(["-net", "nic,model=lan9118,netdev=n0"])
        .arg("-object")
        .arg(format!("filter-dump,id=d0,netdev=n0,queue=rx,file={}", tx_dump.display()))
        .arg("-chardev")
        .arg(format!("socket,id=s0,host=127.0.0.1,port={port},server=on,wait=on"))
        .args(["-serial", "chardev:s0"])
        .args(&extra)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("defmt.bin"))?)
        .stderr(std::fs::File::create(dir.join("qemu.log"))?)
        .spawn()
        .context("starting qemu-system-arm (Debian: apt-get install qemu-system-arm)")?;
    let mut qemu = Qemu(qemu);
    let deadline = Instant::now() + Duration::from_secs(20);
    let serial = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline => {
                if let Some(st) = qemu.0.try_wait()? {
                    bail!("qemu exited ({st}): see {}", dir.join("qemu.log").display());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e).context("connecting to the emulated UART"),
        }
    };
    serial.set_nodelay(true)?;
    net.set_nonblocking(true)?;
    let mut feed = loop {
        match net.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => return Err(e).context("waiting for QEMU's netdev connection"),
        }
    };
    feed.set_nonblocking(false)?;
    let mut c = Client::new(serial, key.clone())?;
    c.set_timeout(Duration::from_secs(20));
    // The floor the tap booted with: a request with counter 1 is refused as a replay of the
    // floor's request, or accepted when the floor is 0 (the client's own counter starts far
    // above either).
    let boot_floor = match c.exchange_raw(&encode_frame(&key.key, key.tap_id, 1, &Request::Hello))?.1 {
        Response::Refused(Refusal::Replayed { last }) => last,
        Response::Hello(_) => 0,
        r => bail!("unexpected answer to the floor probe: {r:?}"),
    };
    let mut report = Report { boot_floor, ..Report::default() };
    match call(&mut c, &Request::Hello)? {
        Response::Hello(h) => eprintln!(
            "qemu-replay: tap {} ({}) answers; it booted with request-counter floor {}",
            h.tap_id,
            String::from_utf8_lossy(&h.board),
            report.boot_floor
        ),
        r => bail!("unexpected answer to hello: {r:?}"),
    }
    if let Some(path) = &o.policy {
        let policy = wardtap::policy::load(path)?;
        upload_policy(&mut c, &policy.rules)?;
    }
    if let Some(secs) = o.learn {
        call(&mut c, &Request::Learn { secs })?;
    }
    let mut hostile = Hostile::new(&key);
    let (mut burst_bytes, mut burst_frames, mut bursts) = (0usize, 0usize, 0u64);
    let mut wire = Vec::with_capacity(4 + MAX_FEED);
    for path in &o.captures {
        let mut reader = CaptureReader::open(path).map_err(|e| anyhow::anyhow!("{e}"))?;
        loop {
            let f = match reader.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => bail!("{e}"),
            };
            let len = PREFIX + f.data.len();
            if !(14..=MAX_FEED).contains(&len) {
                report.skipped_too_large += 1;
                continue;
            }
            wire.clear();
            wire.extend_from_slice(&(len as u32).to_be_bytes());
            wire.extend_from_slice(&f.ts_us.to_le_bytes());
            wire.extend_from_slice(f.data);
            feed.write_all(&wire).context("feeding a frame")?;
            report.fed += 1;
            burst_bytes += len + 4;
            burst_frames += 1;
            if burst_bytes + 1600 > BURST_BYTES || burst_frames >= BURST_FRAMES {
                wait_for(&mut c, report.fed)?;
                burst_bytes = 0;
                burst_frames = 0;
                bursts += 1;
                if o.abuse && bursts % 5 == 1 {
                    hostile.round(&mut c)?;
                }
            }
        }
    }
    wait_for(&mut c, report.fed)?;
    if o.abuse {
        hostile.round(&mut c)?;
    }
    let pulled = wardtap::pull::pull(&mut c, true)?;
    let status = wardtap::pull::status(&mut c)?;
    (report.processed, report.nic_dropped) = (status.counters.frames, status.nic.dropped);
    report.hostile_sent = hostile.sent;
    report.hostile_refused = hostile.refused;
    report.link = serde_json::to_value(format!("{:?}", status.link))?;
    report.last_counter = c.next_counter() - 1;
    drop(c);
    if let Some(flash) = &o.flash {
        // Every save completes before the response to the request or frame burst that
        // caused it, so the slots are settled; dump them, then cut the power.
        let tmp = flash.with_extension("dump");
        qmp_pmemsave(&qmp_sock, PERSIST_ADDR, PERSIST_LEN, &tmp)?;
        std::fs::rename(&tmp, flash).context("replacing the flash file")?;
    }
    drop(qemu);
    report.monitor_tx_frames = pcap_frames(&tx_dump).unwrap_or(usize::MAX);
    report.seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "qemu-replay: fed {} frames ({} too large for the emulated NIC), tap processed {}, NIC dropped {}, \
         monitor port transmitted {} frames, hostile requests {} sent / {} refused, {:.1} s",
        report.fed,
        report.skipped_too_large,
        report.processed,
        report.nic_dropped,
        report.monitor_tx_frames,
        report.hostile_sent,
        report.hostile_refused,
        report.seconds
    );
    if let Some(r) = &o.report {
        std::fs::write(r, serde_json::to_vec_pretty(&report)?)?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    wardtap::output::write(&pulled.document(), o.format, &mut out)?;
    out.flush()?;
    if report.monitor_tx_frames != 0 {
        bail!("the board transmitted {} frames on the monitor port", report.monitor_tx_frames);
    }
    if report.processed != report.fed {
        bail!("fed {} frames but the tap processed {}", report.fed, report.processed);
    }
    Ok(())
}

/// Uploads policy rules in `SetPolicy` chunks; the last chunk installs them.
fn upload_policy<L: wardtap::link::Line>(c: &mut Client<L>, rules: &[wardtap_proto::PolicyRule]) -> Result<()> {
    let chunks: Vec<&[wardtap_proto::PolicyRule]> =
        if rules.is_empty() { vec![&[]] } else { rules.chunks(POLICY_RULES_PER_CHUNK).collect() };
    for (i, chunk) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len();
        let rules = chunk.iter().cloned().collect();
        match call(c, &Request::SetPolicy { chunk: i as u16, last, rules })? {
            Response::Policy { installed, rules: n } if installed == last => {
                if last {
                    eprintln!("qemu-replay: policy installed ({n} rules)");
                }
            }
            r => bail!("unexpected answer to a policy chunk: {r:?}"),
        }
    }
    Ok(())
}

/// Saves `len` bytes of guest memory at `addr` to `file` through QEMU's QMP socket.
fn qmp_pmemsave(sock: &Path, addr: u32, len: usize, file: &Path) -> Result<()> {
    use std::io::{BufRead, BufReader};
    let s = std::os::unix::net::UnixStream::connect(sock).context("connecting to QEMU's QMP socket")?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut w = s.try_clone()?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    // Lines until a command's answer ("return" or "error"); events in between are skipped.
    let mut answer = |r: &mut BufReader<std::os::unix::net::UnixStream>| -> Result<serde_json::Value> {
        loop {
            line.clear();
            if r.read_line(&mut line)? == 0 {
                bail!("QMP closed");
            }
            let v: serde_json::Value = serde_json::from_str(&line)?;
            if v.get("return").is_some() || v.get("QMP").is_some() {
                return Ok(v);
            }
            if let Some(e) = v.get("error") {
                bail!("QMP: {e}");
            }
        }
    };
    answer(&mut r)?; // greeting
    w.write_all(b"{\"execute\":\"qmp_capabilities\"}\n")?;
    answer(&mut r)?;
    let cmd = serde_json::json!({
        "execute": "pmemsave",
        "arguments": { "val": addr, "size": len, "filename": file.display().to_string() }
    });
    w.write_all(format!("{cmd}\n").as_bytes())?;
    answer(&mut r)?;
    let n = std::fs::metadata(file)?.len();
    if n != len as u64 {
        bail!("pmemsave wrote {n} bytes, not {len}");
    }
    Ok(())
}

/// Waits until the tap has processed `fed` frames.
fn wait_for<L: wardtap::link::Line>(c: &mut Client<L>, fed: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (done, dropped) = processed(c)?;
        if done >= fed {
            return Ok(());
        }
        if dropped > 0 {
            bail!("the emulated NIC dropped {dropped} frames (feed too fast)");
        }
        if Instant::now() > deadline {
            bail!("the tap processed {done} of {fed} frames and stopped");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Hostile requests: each must be refused, none may change the tap.
struct Hostile {
    captured: Option<Vec<u8>>,
    tap_id: u32,
    sent: u32,
    refused: u32,
    n: u64,
}

impl Hostile {
    fn new(key: &TapKey) -> Hostile {
        Hostile { captured: None, tap_id: key.tap_id, sent: 0, refused: 0, n: 0 }
    }

    fn expect<L: wardtap::link::Line>(
        &mut self,
        c: &mut Client<L>,
        wire: &[u8],
        want: fn(&Refusal) -> bool,
    ) -> Result<()> {
        self.sent += 1;
        let (_, r) = c.exchange_raw(wire)?;
        match r {
            Response::Refused(ref why) if want(why) => {
                self.refused += 1;
                Ok(())
            }
            other => bail!("a hostile request was answered with {other:?}"),
        }
    }

    fn round<L: wardtap::link::Line>(&mut self, c: &mut Client<L>) -> Result<()> {
        self.n += 1;
        // Forged: signed with a key that is not the tap's.
        let forged = encode_frame(&[0x5a; KEY_LEN], self.tap_id, c.next_counter() + 1000, &Request::Lock);
        self.expect(c, &forged, |r| *r == Refusal::BadTag)?;
        // Replayed: a frame the tap already accepted.
        if let Some(old) = self.captured.clone() {
            self.expect(c, &old, |r| matches!(r, Refusal::Replayed { .. }))?;
        }
        // Malformed: not COBS, and too long.
        self.expect(c, &[0x07, 0x01, 0x00], |r| *r == Refusal::BadFrame)?;
        if self.n == 1 {
            let mut long = vec![0x33u8; 6000];
            long.push(0);
            self.expect(c, &long, |r| *r == Refusal::BadFrame)?;
        }
        // An honest request, kept to be replayed next round.
        let good = c.seal(&Request::Hello);
        let (_, r) = c.exchange_raw(&good)?;
        if !matches!(r, Response::Hello(_)) {
            bail!("an honest request after hostile ones got {r:?}");
        }
        self.captured = Some(good);
        Ok(())
    }
}
