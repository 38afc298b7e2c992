//! `wardtap ingest CAPTURE --tap ID --ward NAME`: a capture taken elsewhere, stored as if
//! pulled from that tap (offline audits, tests).
//!
//! The core runs over the capture exactly as in `wardtap replay`; its records become one
//! [`Summary`] merged in one transaction.

use crate::capture::{CaptureError, CaptureReader};
use crate::db::{self, Db, Summary};
use std::path::PathBuf;
use wardtap_core::Tap;

/// What to ingest.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Capture files, one stream in order.
    pub files: Vec<PathBuf>,
    /// Tap id to store it under.
    pub tap: String,
    /// Ward.
    pub ward: String,
    /// Declared local subnets.
    pub subnets: Vec<([u8; 4], u8)>,
    /// Learn the baseline for this many seconds of capture time, then lock.
    pub learn_secs: Option<u32>,
    /// Outbound policy.
    pub policy: Option<crate::policy::Policy>,
}

/// Why an ingest failed.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Storing failed.
    #[error(transparent)]
    Store(#[from] db::StoreError),
    /// The core thread could not run.
    #[error("core thread: {0}")]
    Thread(std::io::Error),
}

/// The result: what was stored and the files that could not be read to their end.
#[derive(Debug)]
pub struct Outcome {
    /// The merge.
    pub stored: db::Stored,
    /// Frames processed.
    pub frames: u64,
    /// Assets in the summary.
    pub assets: usize,
    /// Files that failed part-way (what came before the error was still stored).
    pub errors: Vec<CaptureError>,
}

/// Builds a summary from a tap's current state.
pub fn summary_of(tap: &Tap, tap_id: &str, ward: &str, time: u64) -> Summary {
    Summary {
        tap: tap_id.to_owned(),
        ward: ward.to_owned(),
        time,
        assets: tap.assets().collect(),
        edges: tap.edges().collect(),
        alerts: tap.alerts_since(0).filter(|a| !a.acknowledged).map(db::SummaryAlert::from).collect(),
        ledger: tap.ledger().map(|l| db::SummaryLedger::from(&l)).collect(),
        counters: tap.counters(),
    }
}

/// Stack for the thread that owns the core (its state is one large value).
const CORE_STACK: usize = 64 << 20;

/// Runs the core over the captures and returns the summary and the read errors.
pub fn summarise(opts: &Options) -> Result<(Summary, u64, Vec<CaptureError>), std::io::Error> {
    let opts = opts.clone();
    std::thread::Builder::new()
        .name("wardtap-core".into())
        .stack_size(CORE_STACK)
        .spawn(move || {
            let mut tap = Box::new(Tap::new(0));
            for (net, prefix) in &opts.subnets {
                tap.add_subnet(*net, *prefix);
            }
            if let Some(p) = &opts.policy {
                tap.set_policy(&p.rules);
                tap.set_thresholds(p.thresholds);
            }
            if let Some(secs) = opts.learn_secs {
                tap.learn_for(secs);
            }
            let mut errors = Vec::new();
            let mut frames = 0u64;
            let mut last_ts = 0u64;
            for path in &opts.files {
                let mut reader = match CaptureReader::open(path) {
                    Ok(r) => r,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                };
                loop {
                    match reader.next_frame() {
                        Ok(Some(f)) => {
                            tap.process(f.ts_us, f.data);
                            last_ts = last_ts.max(f.ts_us);
                            frames += 1;
                        }
                        Ok(None) => break,
                        Err(e) => {
                            errors.push(e);
                            break;
                        }
                    }
                }
            }
            (summary_of(&tap, &opts.tap, &opts.ward, last_ts), frames, errors)
        })?
        .join()
        .map_err(|_| std::io::Error::other("core thread panicked"))
}

/// Ingests the captures into `db`.
pub fn run(db: &mut Db, opts: &Options) -> Result<Outcome, IngestError> {
    let (summary, frames, errors) = summarise(opts).map_err(IngestError::Thread)?;
    // A capture has no tap to acknowledge.
    let stored = db::commit_then_ack(db, &summary, |_| Ok::<(), std::convert::Infallible>(()))?;
    Ok(Outcome { stored, frames, assets: summary.assets.len(), errors })
}
