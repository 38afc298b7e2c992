//! `wardtap ingest CAPTURE --tap ID --ward NAME`: a capture taken elsewhere, stored as if
//! pulled from that tap (offline audits, tests).
//!
//! The core runs over the capture exactly as in `wardtap replay`; its records become one
//! [`Summary`] merged in one transaction.

use crate::capture::CaptureError;
use crate::db::{self, Db, Summary};
use crate::replay;
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

/// Runs the core over the captures and returns the summary and the read errors.
pub fn summarise(opts: &Options) -> Result<(Summary, u64, Vec<CaptureError>), std::io::Error> {
    let opts = opts.clone();
    replay::on_core_thread(move || {
        let mut tap = replay::configured_tap(&opts.subnets, opts.policy.as_ref(), opts.learn_secs);
        let fed = replay::feed(&mut tap, &opts.files, false);
        (summary_of(&tap, &opts.tap, &opts.ward, fed.last_ts), fed.frames, fed.errors)
    })
}

/// Ingests the captures into `db`.
pub fn run(db: &mut Db, opts: &Options) -> Result<Outcome, IngestError> {
    let (mut summary, frames, errors) = summarise(opts).map_err(IngestError::Thread)?;
    // Another capture of the same tap numbered its alerts from 1 too.
    db.number_capture_alerts(&mut summary).map_err(db::StoreError::from)?;
    // A capture has no tap to acknowledge.
    let stored = db::commit_then_ack(db, &summary, |_| Ok::<(), std::convert::Infallible>(()))?;
    Ok(Outcome { stored, frames, assets: summary.assets.len(), errors })
}
