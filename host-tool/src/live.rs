//! `wardtap live --iface IF`: the core as a software tap on a Linux box attached to a SPAN
//! port (pnet datalink, `AF_PACKET`, promiscuous). Receive only: the send half of the channel
//! is dropped the moment it is opened. Flushes to the database at an interval and on Ctrl-C /
//! SIGTERM, acknowledging the core's alerts only after each commit.
//!
//! Needs root or `CAP_NET_RAW` (and `CAP_NET_ADMIN` for promiscuous mode); says so when it
//! lacks them.

use crate::db::{self, cli::DbArg, Db, Summary, SummaryAlert};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wardtap_core::Tap;

/// `wardtap live`.
#[derive(Debug, Clone, clap::Args)]
pub struct LiveArgs {
    #[command(flatten)]
    db: DbArg,
    /// Network interface on the mirror (SPAN) port.
    #[arg(long)]
    iface: String,
    /// Tap id to store under (default: `<hostname>-<iface>`).
    #[arg(long)]
    tap: Option<String>,
    /// Ward or location.
    #[arg(long, default_value = "unassigned")]
    ward: String,
    /// Flush to the database this often (e.g. 30s, 5m).
    #[arg(long, default_value = "60s", value_parser = crate::policy::parse_duration)]
    flush: u32,
    /// Declare a local IPv4 subnet (CIDR, repeatable).
    #[arg(long = "subnet", value_parser = crate::db::cli::parse_cidr)]
    subnets: Vec<([u8; 4], u8)>,
    /// Learn the baseline for this long (e.g. 7d), then lock.
    #[arg(long, value_parser = crate::policy::parse_duration)]
    learn: Option<u32>,
    /// Outbound policy file (TOML).
    #[arg(long)]
    policy: Option<PathBuf>,
}

/// Why live capture stopped.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No such interface.
    #[error("no network interface {name:?} (have: {have})")]
    NoInterface {
        /// Asked for.
        name: String,
        /// What exists.
        have: String,
    },
    /// Not allowed to capture.
    #[error(
        "capturing on {0} needs root or the CAP_NET_RAW and CAP_NET_ADMIN capabilities \
         (e.g. `sudo setcap cap_net_raw,cap_net_admin+ep $(command -v wardtap)`)"
    )]
    Permission(String),
    /// Capture failed.
    #[error("capture on {iface}: {source}")]
    Capture {
        /// Interface.
        iface: String,
        /// Why.
        source: std::io::Error,
    },
    /// Database.
    #[error(transparent)]
    Db(#[from] db::DbError),
    /// Storing a flush.
    #[error(transparent)]
    Store(#[from] db::StoreError),
    /// Policy file.
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// The capture thread.
    #[error("capture thread: {0}")]
    Thread(String),
}

/// Stack for the thread that owns the core (its state is one large value).
const CORE_STACK: usize = 64 << 20;

fn now_us() -> u64 {
    u64::try_from(db::now_us()).unwrap_or(0)
}

/// What a flush stored.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlushReport {
    /// Frames seen so far.
    pub frames: u64,
    /// Assets in the summary.
    pub assets: usize,
    /// New in the database.
    pub new_assets: u64,
    /// Alerts stored this time.
    pub alerts: usize,
}

/// The live core and its link to the database: one per run.
pub struct LiveTap {
    tap: Box<Tap>,
    id: String,
    ward: String,
    /// The database's alert sequence for this tap when the run started: the core counts from
    /// 1 again in every run, so its numbers are stored above this base.
    base: u32,
    /// Core sequence acknowledged so far.
    acked: u32,
    frames: u64,
}

impl LiveTap {
    /// A fresh core for `id`, numbering its alerts after those already stored.
    pub fn new(db: &mut Db, id: &str, ward: &str) -> Result<LiveTap, db::DbError> {
        Ok(LiveTap {
            tap: Box::new(Tap::new(0)),
            id: id.to_owned(),
            ward: ward.to_owned(),
            base: db.alert_seq(id)?,
            acked: 0,
            frames: 0,
        })
    }

    /// The core (configuration).
    pub fn core(&mut self) -> &mut Tap {
        &mut self.tap
    }

    /// One frame.
    pub fn frame(&mut self, ts_us: u64, frame: &[u8]) {
        self.tap.process(ts_us, frame);
        self.frames += 1;
    }

    /// Merges the core's state, commits, then acknowledges the core's alerts.
    pub fn flush(&mut self, db: &mut Db) -> Result<FlushReport, db::StoreError> {
        let mut s: Summary = crate::ingest::summary_of(&self.tap, &self.id, &self.ward, now_us());
        s.alerts = self
            .tap
            .alerts_since(self.acked)
            .map(|a| {
                let mut x = SummaryAlert::from(a);
                x.seq = x.seq.saturating_add(self.base);
                x
            })
            .collect();
        let (base, tap) = (self.base, &mut self.tap);
        let mut acked = self.acked;
        let stored = db::commit_then_ack(db, &s, |seq| {
            let core_seq = seq.saturating_sub(base);
            tap.acknowledge(core_seq);
            acked = core_seq;
            Ok::<(), std::convert::Infallible>(())
        })?;
        self.acked = acked;
        Ok(FlushReport {
            frames: self.frames,
            assets: s.assets.len(),
            new_assets: stored.stats.new_assets,
            alerts: s.alerts.len(),
        })
    }
}

fn default_tap_id(iface: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!("{host}-{iface}")
}

/// Opens the interface for receiving only.
fn open(name: &str) -> Result<Box<dyn pnet_datalink::DataLinkReceiver>, LiveError> {
    let all = pnet_datalink::interfaces();
    let Some(iface) = all.iter().find(|i| i.name == name) else {
        return Err(LiveError::NoInterface {
            name: name.to_owned(),
            have: all.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", "),
        });
    };
    let cfg = pnet_datalink::Config {
        read_timeout: Some(Duration::from_millis(200)),
        read_buffer_size: 65_536,
        promiscuous: true,
        ..Default::default()
    };
    match pnet_datalink::channel(iface, cfg) {
        Ok(pnet_datalink::Channel::Ethernet(tx, rx)) => {
            // Passive: the send half is never used.
            drop(tx);
            Ok(rx)
        }
        Ok(_) => {
            Err(LiveError::Capture { iface: name.to_owned(), source: std::io::Error::other("not an Ethernet channel") })
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(1) => {
            Err(LiveError::Permission(name.to_owned()))
        }
        Err(source) => Err(LiveError::Capture { iface: name.to_owned(), source }),
    }
}

/// Runs until Ctrl-C or SIGTERM; progress lines go to `err`.
pub fn run(a: &LiveArgs, err: &mut (dyn Write + Send)) -> Result<(), LiveError> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // Fails only if a handler is already set (a second run in one process): then that one
        // keeps working for us too.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    let a = a.clone();
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("wardtap-live".into())
            .stack_size(CORE_STACK)
            .spawn_scoped(s, move || capture(&a, &stop, err))
            .map_err(|e| LiveError::Thread(e.to_string()))?
            .join()
            .map_err(|_| LiveError::Thread("panicked".into()))?
    })
}

fn capture(a: &LiveArgs, stop: &AtomicBool, err: &mut (dyn Write + Send)) -> Result<(), LiveError> {
    let policy = a.policy.as_deref().map(crate::policy::load).transpose()?;
    let mut rx = open(&a.iface)?;
    let mut db = a.db.open()?;
    let id = a.tap.clone().unwrap_or_else(|| default_tap_id(&a.iface));
    let mut live = LiveTap::new(&mut db, &id, &a.ward)?;
    for (net, prefix) in &a.subnets {
        live.core().add_subnet(*net, *prefix);
    }
    if let Some(p) = &policy {
        live.core().set_policy(&p.rules);
        live.core().set_thresholds(p.thresholds);
    }
    if let Some(secs) = a.learn {
        live.core().learn_for(secs);
    }
    let _ = writeln!(err, "wardtap: capturing on {} as tap {id} ({}); Ctrl-C to stop", a.iface, a.ward);
    let every = Duration::from_secs(u64::from(a.flush.max(1)));
    let mut last = Instant::now();
    let mut report = |live: &mut LiveTap, db: &mut Db, why: &str| -> Result<(), LiveError> {
        let r = live.flush(db)?;
        let _ = writeln!(
            err,
            "wardtap: {why}: {} frames, {} assets ({} new), {} alerts stored",
            r.frames, r.assets, r.new_assets, r.alerts
        );
        Ok(())
    };
    while !stop.load(Ordering::SeqCst) {
        match rx.next() {
            Ok(frame) => live.frame(now_us(), frame),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                // Keep what was seen, then report the failure.
                report(&mut live, &mut db, "flushed before stopping")?;
                return Err(LiveError::Capture { iface: a.iface.clone(), source });
            }
        }
        if last.elapsed() >= every {
            report(&mut live, &mut db, "flushed")?;
            last = Instant::now();
        }
    }
    report(&mut live, &mut db, "stopped, flushed")
}
