//! `wardtap report --format html|csv|json --out DIR`: the hospital's asset report from the
//! database, for people (one self-contained HTML file), spreadsheets (CSV that opens safely in
//! Excel) and CMDB import (JSON with a versioned, documented schema: [`json::SCHEMA`]).
//!
//! Every report carries the health ministry's checklist section ([`checklist`]): asset
//! inventory including IoT, connection points to vendors and the internet, management
//! interfaces reachable from outside, signs of mass failed logins, lookups of unknown or
//! suspicious domains.

pub mod checklist;
pub mod csv;
pub mod html;
pub mod json;

use crate::db::query::{AlertView, AssetFilter, AssetView, EdgeView, LedgerView, TapView};
use crate::db::{self, Db, DbError};
use std::path::{Path, PathBuf};

/// Everything a report shows, read from the database once.
#[derive(Debug, Clone)]
pub struct ReportData {
    /// When it was made, RFC 3339.
    pub generated_at: String,
    /// The ward it is limited to, if any.
    pub ward: Option<String>,
    /// Assets.
    pub assets: Vec<AssetView>,
    /// Every alert (open and acknowledged), newest first.
    pub alerts: Vec<AlertView>,
    /// Connection points to outside the segment.
    pub ledger: Vec<LedgerView>,
    /// External edges (for inbound management access).
    pub external_edges: Vec<EdgeView>,
    /// Taps.
    pub taps: Vec<TapView>,
    /// The checklist.
    pub checklist: Vec<checklist::Item>,
}

impl ReportData {
    /// Reads the database (optionally one ward) and judges the checklist.
    pub fn load(db: &mut Db, ward: Option<&str>) -> Result<ReportData, DbError> {
        let assets = db.assets(&AssetFilter { ward: ward.map(str::to_owned), ..Default::default() })?;
        let alerts = db.alerts(false, ward)?;
        let ledger = db.ledger(ward)?;
        let macs: std::collections::HashSet<&str> = assets.iter().map(|a| a.mac.as_str()).collect();
        let external_edges =
            db.edges(true)?.into_iter().filter(|e| ward.is_none() || macs.contains(e.asset.as_str())).collect();
        let taps = db.taps()?.into_iter().filter(|t| ward.is_none_or(|w| t.ward == w)).collect();
        let mut r = ReportData {
            generated_at: crate::model::rfc3339_s(u32::try_from(db::now_us() / 1_000_000).unwrap_or(u32::MAX)),
            ward: ward.map(str::to_owned),
            assets,
            alerts,
            ledger,
            external_edges,
            taps,
            checklist: Vec::new(),
        };
        r.checklist = checklist::judge(&r);
        Ok(r)
    }

    /// Open alerts only.
    pub fn open_alerts(&self) -> impl Iterator<Item = &AlertView> {
        self.alerts.iter().filter(|a| a.state == "open")
    }
}

/// Report format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// One self-contained HTML file.
    Html,
    /// CSV files (assets, alerts, ledger, checklist).
    Csv,
    /// One JSON document and its JSON Schema.
    Json,
}

/// `wardtap report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    db: db::cli::DbArg,
    /// Format (repeatable: `--format html --format csv`).
    #[arg(long, value_enum, required = true)]
    format: Vec<ReportFormat>,
    /// Directory to write into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Only this ward.
    #[arg(long)]
    ward: Option<String>,
    /// Start CSV files with a UTF-8 byte-order mark (Excel on Windows then reads UTF-8).
    #[arg(long)]
    bom: bool,
}

/// Why a report failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The database.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    // Write beside, then rename: a reader never sees half a report.
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|source| ReportError::Io { path: path.to_owned(), source })
}

/// Writes the report in every format asked for; returns the files written.
pub fn write(data: &ReportData, formats: &[ReportFormat], out: &Path, bom: bool) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(out).map_err(|source| ReportError::Io { path: out.to_owned(), source })?;
    let mut written = Vec::new();
    for f in formats {
        match f {
            ReportFormat::Html => {
                let p = out.join("wardtap-report.html");
                write_file(&p, html::render(data).as_bytes())?;
                written.push(p);
            }
            ReportFormat::Json => {
                let p = out.join("wardtap-report.json");
                write_file(&p, json::render(data).as_bytes())?;
                written.push(p);
                let s = out.join("wardtap-report.schema.json");
                write_file(&s, json::SCHEMA.as_bytes())?;
                written.push(s);
            }
            ReportFormat::Csv => {
                for (name, text) in csv::render(data, bom) {
                    let p = out.join(name);
                    write_file(&p, &text)?;
                    written.push(p);
                }
            }
        }
    }
    Ok(written)
}

/// Runs `wardtap report`; prints the files written.
pub fn run(a: &ReportArgs, out: &mut dyn std::io::Write) -> Result<(), ReportError> {
    let mut db = a.db.open()?;
    let data = ReportData::load(&mut db, a.ward.as_deref())?;
    for p in write(&data, &a.format, &a.out, a.bom)? {
        writeln!(out, "{}", p.display()).map_err(|source| ReportError::Io { path: p.clone(), source })?;
    }
    Ok(())
}
