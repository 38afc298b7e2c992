//! The database commands' arguments and bodies (`main.rs` only dispatches):
//! `wardtap ingest | assets | alerts | ledger | history`.

use super::query::AssetFilter;
use super::{format, Db, DbError};
use crate::output::Format;
use std::io::Write;
use std::path::PathBuf;

/// `--db PATH|URL`, shared by every command that reads or writes the database.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArg {
    /// Asset database: a SQLite file, or a `postgres://user@host/db` URL. Default: a file in
    /// the user's data directory (or $WARDTAP_DB).
    #[arg(long = "db", value_name = "PATH|URL")]
    pub db: Option<String>,
}

impl DbArg {
    /// The location, with the default filled in.
    pub fn spec(&self) -> String {
        self.db
            .clone()
            .or_else(|| std::env::var("WARDTAP_DB").ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| super::default_location().display().to_string())
    }
    /// Opens it.
    pub fn open(&self) -> Result<Db, DbError> {
        Db::open(&self.spec())
    }
}

/// Why a database command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The database.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Storing.
    #[error(transparent)]
    Ingest(#[from] crate::ingest::IngestError),
    /// Writing the output.
    #[error("writing output: {0}")]
    Io(#[from] std::io::Error),
    /// A bad argument value.
    #[error("{0}")]
    Usage(String),
}

/// Parses `--since`: `2026-03-01`, `2026-03-01T08:00:00Z`, or a duration back from now
/// (`90m`, `24h`, `7d`). Returns µs since the epoch.
pub fn parse_since(s: &str) -> Result<i64, String> {
    let now = super::now_us();
    if let Some(num) = s.strip_suffix(['m', 'h', 'd', 'w']) {
        let n: i64 = num.parse().map_err(|_| format!("{s}: expected e.g. 24h, 7d or 2026-03-01"))?;
        let unit = match s.chars().last() {
            Some('m') => 60,
            Some('h') => 3600,
            Some('d') => 86_400,
            _ => 7 * 86_400,
        };
        return Ok(now - n.saturating_mul(unit).saturating_mul(1_000_000));
    }
    parse_time(s).ok_or_else(|| format!("{s}: expected e.g. 24h, 7d, 2026-03-01 or 2026-03-01T08:00:00Z"))
}

/// `YYYY-MM-DD[THH:MM[:SS]][Z]` (UTC) → µs since the epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim_end_matches('Z');
    let (date, time) = s.split_once(['T', ' ']).unwrap_or((s, "00:00:00"));
    let mut d = date.splitn(3, '-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|x| x.split('.').next().and_then(|x| x.parse::<i64>().ok()));
    let (hh, mm, ss) = (t.next().flatten()?, t.next().flatten().unwrap_or(0), t.next().flatten().unwrap_or(0));
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (H. Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400) + hh * 3600 + mm * 60 + ss) * 1_000_000)
}

/// `wardtap ingest`.
#[derive(Debug, Clone, clap::Args)]
pub struct IngestArgs {
    #[command(flatten)]
    db: DbArg,
    /// Tap id to store the capture under.
    #[arg(long)]
    tap: String,
    /// Ward (or location) of that tap.
    #[arg(long)]
    ward: String,
    /// Declare a local IPv4 subnet (CIDR, repeatable).
    #[arg(long = "subnet", value_parser = crate::db::cli::parse_cidr)]
    subnets: Vec<([u8; 4], u8)>,
    /// Learn the baseline for this long of capture time (e.g. 10m, 2h), then judge.
    #[arg(long, value_parser = crate::policy::parse_duration)]
    learn: Option<u32>,
    /// Outbound policy file (TOML).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Capture files (pcap/pcapng), one stream in order.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// `a.b.c.d/len`.
pub fn parse_cidr(s: &str) -> Result<([u8; 4], u8), String> {
    let (a, p) = s.split_once('/').ok_or("expected a.b.c.d/len")?;
    let ip: std::net::Ipv4Addr = a.parse().map_err(|e| format!("{a}: {e}"))?;
    let p: u8 = p.parse().map_err(|e| format!("{p}: {e}"))?;
    if p > 32 {
        return Err("prefix length above 32".into());
    }
    Ok((ip.octets(), p))
}

/// Runs `wardtap ingest`; returns the process exit code (1 if a capture was damaged).
pub fn ingest(a: &IngestArgs, err: &mut dyn Write) -> Result<u8, CliError> {
    let policy =
        a.policy.as_deref().map(crate::policy::load).transpose().map_err(|e| CliError::Usage(e.to_string()))?;
    let mut db = a.db.open()?;
    let o = crate::ingest::run(
        &mut db,
        &crate::ingest::Options {
            files: a.files.clone(),
            tap: a.tap.clone(),
            ward: a.ward.clone(),
            subnets: a.subnets.clone(),
            learn_secs: a.learn,
            policy,
        },
    )?;
    writeln!(
        err,
        "wardtap: stored {} assets from {} frames as tap {} ({}): {} new, {} changed, {} alerts new",
        o.assets,
        o.frames,
        a.tap,
        a.ward,
        o.stored.stats.new_assets,
        o.stored.stats.changed_assets,
        o.stored.stats.new_alerts
    )?;
    for e in &o.errors {
        writeln!(err, "wardtap: {e}")?;
    }
    Ok(if o.errors.is_empty() { 0 } else { 1 })
}

/// `wardtap assets`.
#[derive(Debug, Clone, clap::Args)]
pub struct AssetsArgs {
    #[command(flatten)]
    db: DbArg,
    /// Only assets seen in this ward.
    #[arg(long)]
    ward: Option<String>,
    /// Only this class (e.g. patient_monitor, imaging_modality, pacs, infusion_pump).
    #[arg(long)]
    class: Option<String>,
    /// Vendor contains this (case-insensitive).
    #[arg(long)]
    vendor: Option<String>,
    /// Seen since: 24h, 7d, 2026-03-01, 2026-03-01T08:00:00Z.
    #[arg(long, value_parser = parse_since)]
    since: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Runs `wardtap assets`.
pub fn assets(a: &AssetsArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let mut db = a.db.open()?;
    let list = db.assets(&AssetFilter {
        ward: a.ward.clone(),
        class: a.class.clone(),
        vendor: a.vendor.clone(),
        since: a.since,
    })?;
    format::write_assets(&list, a.format, out)?;
    Ok(())
}

/// `wardtap alerts`.
#[derive(Debug, Clone, clap::Args)]
pub struct AlertsArgs {
    #[command(flatten)]
    db: DbArg,
    /// Include acknowledged alerts.
    #[arg(long)]
    all: bool,
    /// Only this ward.
    #[arg(long)]
    ward: Option<String>,
    /// Acknowledge these alerts (ids from the listing) instead of listing.
    #[arg(long = "ack", value_name = "ID")]
    ack: Vec<i64>,
    /// Who acknowledges (with --ack).
    #[arg(long, default_value = "operator")]
    by: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Runs `wardtap alerts`.
pub fn alerts(a: &AlertsArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let mut db = a.db.open()?;
    if !a.ack.is_empty() {
        let n = db.acknowledge(&a.ack, &a.by)?;
        writeln!(out, "{n} alert(s) acknowledged")?;
        return Ok(());
    }
    let list = db.alerts(!a.all, a.ward.as_deref())?;
    format::write_alerts(&list, a.format, out)?;
    Ok(())
}

/// `wardtap ledger`.
#[derive(Debug, Clone, clap::Args)]
pub struct LedgerArgs {
    #[command(flatten)]
    db: DbArg,
    /// Only this ward.
    #[arg(long)]
    ward: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Runs `wardtap ledger`.
pub fn ledger(a: &LedgerArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let mut db = a.db.open()?;
    let list = db.ledger(a.ward.as_deref())?;
    format::write_ledger(&list, a.format, out)?;
    Ok(())
}

/// `wardtap history MAC`.
#[derive(Debug, Clone, clap::Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    db: DbArg,
    /// The asset's MAC address.
    mac: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Runs `wardtap history`.
pub fn history(a: &HistoryArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let mut db = a.db.open()?;
    let h = db.history(&a.mac)?;
    format::write_history(&h, a.format, out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse() {
        assert_eq!(parse_time("1970-01-01"), Some(0));
        assert_eq!(parse_time("2000-02-29T00:00:00Z"), Some(951_782_400_000_000));
        assert_eq!(parse_time("2013-01-16T21:59:05Z"), Some(1_358_373_545_000_000));
        assert_eq!(parse_time("2013-13-01"), None);
        assert!(parse_since("7d").is_ok() && parse_since("x7").is_err());
    }
}
