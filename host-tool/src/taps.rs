//! `taps.toml` and `wardtap pull --all`: every tap of the hospital pulled into the database.
//!
//! ```toml
//! [[tap]]
//! id = "icu-1"                      # the tap's name in the database and reports
//! ward = "ICU"                      # ward or location
//! location = "ICU comms room, rack 2, switch 3 port 48"   # optional, for people
//! tcp = "10.20.0.5:4000"            # a serial server / the tap's management line over TCP
//! key = "keys/icu-1.key"            # from `wardtap provision`; relative to this file
//!
//! [[tap]]
//! id = "radiology-1"
//! ward = "Radiology"
//! serial = "/dev/ttyACM0"
//! key = "keys/radiology-1.key"
//! ```
//!
//! Each tap is pulled, merged in one transaction, and only then told to drop its alerts
//! ([`crate::db::commit_then_ack`]). A failing tap is reported and the others still pulled;
//! the exit code is 1 if any failed.

use crate::db::{self, cli::DbArg, Db, Summary, SummaryAlert, SummaryLedger};
use crate::link::{Client, Line, LinkError, TapKey};
use serde::Deserialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use wardtap_proto::mgmt::{Request, Response};

/// One tap in `taps.toml`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TapEntry {
    /// Its id.
    pub id: String,
    /// Ward or location.
    pub ward: String,
    /// Where it is, for people.
    #[serde(default)]
    pub location: Option<String>,
    /// Serial device of its management line.
    #[serde(default)]
    pub serial: Option<PathBuf>,
    /// TCP address of its management line.
    #[serde(default)]
    pub tcp: Option<String>,
    /// Key file (relative paths are taken from the directory of `taps.toml`).
    pub key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TapsFile {
    #[serde(default)]
    tap: Vec<TapEntry>,
}

/// A `taps.toml` problem, or a failed pull.
#[derive(Debug, thiserror::Error)]
pub enum TapsError {
    /// Could not read the file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid.
    #[error("{path}: {why}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The database.
    #[error(transparent)]
    Db(#[from] db::DbError),
    /// The link or the tap.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// Storing.
    #[error(transparent)]
    Store(#[from] db::StoreError),
}

/// Reads and checks `taps.toml`: unique ids, exactly one of `serial` / `tcp` each.
pub fn load(path: &Path) -> Result<Vec<TapEntry>, TapsError> {
    let text = std::fs::read_to_string(path).map_err(|source| TapsError::Io { path: path.to_owned(), source })?;
    parse(&text, path)
}

/// Parses `taps.toml` text (`path` for messages and relative key paths).
pub fn parse(text: &str, path: &Path) -> Result<Vec<TapEntry>, TapsError> {
    let invalid = |why: String| TapsError::Invalid { path: path.to_owned(), why };
    let file: TapsFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(file.tap.len());
    for mut t in file.tap {
        if t.id.trim().is_empty() {
            return Err(invalid("a tap has an empty id".into()));
        }
        if !seen.insert(t.id.clone()) {
            return Err(invalid(format!("tap {} is listed twice", t.id)));
        }
        if t.serial.is_some() == t.tcp.is_some() {
            return Err(invalid(format!("tap {}: give exactly one of serial or tcp", t.id)));
        }
        if t.key.is_relative() {
            t.key = base.join(&t.key);
        }
        out.push(t);
    }
    if out.is_empty() {
        return Err(invalid("no [[tap]] entries".into()));
    }
    Ok(out)
}

/// What one tap's pull stored.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// Assets in its summary.
    pub assets: usize,
    /// New to the database.
    pub new_assets: u64,
    /// Alerts stored (new).
    pub new_alerts: u64,
    /// Sequence acknowledged on the tap.
    pub acked: Option<u32>,
}

/// The pulled state as a summary taken at `time`, its alert numbers moved up by `base`
/// ([`Db::alert_base_for_pull`]).
fn summary(entry: &TapEntry, p: crate::pull::Pulled, time: i64, base: u32) -> Summary {
    Summary {
        tap: entry.id.clone(),
        ward: entry.ward.clone(),
        time: u64::try_from(time).unwrap_or(0),
        alerts: p
            .alerts
            .iter()
            .filter(|a| !a.acknowledged)
            .map(|a| {
                let mut x = SummaryAlert::from(a);
                x.seq = x.seq.saturating_add(base);
                x
            })
            .collect(),
        ledger: p.ledger.iter().map(SummaryLedger::from).collect(),
        counters: p.status.counters,
        assets: p.assets,
        edges: p.edges,
    }
}

fn pull_with<L: Line>(db: &mut Db, entry: &TapEntry, mut c: Client<L>) -> Result<Pulled, TapsError> {
    // Fetch without acknowledging; acknowledge only what the database has committed.
    let p = crate::pull::pull(&mut c, false)?;
    // Alerts the tap already had acknowledged (a run that died after telling the tap and
    // before noting it) are stored; note it now.
    let told = p.alerts.iter().filter(|a| a.acknowledged).map(|a| a.seq).max();
    // The tap's own numbers may have started again (a restart that lost its state): the
    // database stores them above a base that moves on then.
    let now = db::now_us();
    let base = db.alert_base_for_pull(&entry.id, &entry.ward, now, p.status.uptime_s)?;
    let s = summary(entry, p, now, base);
    let stored =
        db::commit_then_ack(db, &s, |seq| match c.call(&Request::Acknowledge { seq: seq.saturating_sub(base) }) {
            Ok(Response::Acknowledged { .. }) => Ok(()),
            Ok(r) => Err(format!("unexpected answer {r:?}")),
            Err(e) => Err(e.to_string()),
        })?;
    if let Some(seq) = told {
        db.mark_tap_acked(&entry.id, seq.saturating_add(base))?;
    }
    Ok(Pulled {
        assets: s.assets.len(),
        new_assets: stored.stats.new_assets,
        new_alerts: stored.stats.new_alerts,
        acked: stored.acked.map(|seq| seq.saturating_sub(base)),
    })
}

/// Pulls one tap into the database.
pub fn pull_one(db: &mut Db, entry: &TapEntry) -> Result<Pulled, TapsError> {
    let key = TapKey::load(&entry.key)?;
    match (&entry.serial, &entry.tcp) {
        (Some(path), _) => {
            let line = crate::link::Serial::open(path).map_err(LinkError::Io)?;
            pull_with(db, entry, Client::new(line, key)?)
        }
        (None, Some(addr)) => pull_with(db, entry, Client::new(crate::link::connect_tcp(addr)?, key)?),
        (None, None) => Err(TapsError::Invalid { path: entry.key.clone(), why: "no link".into() }),
    }
}

/// `wardtap pull --all`.
#[derive(Debug, Clone, clap::Args)]
pub struct PullAllArgs {
    #[command(flatten)]
    db: DbArg,
    /// Pull every tap in the taps file.
    #[arg(long, hide = true)]
    all: bool,
    /// The taps file.
    #[arg(long, default_value = "taps.toml")]
    config: PathBuf,
    /// Only these taps (by id, repeatable).
    #[arg(long = "only", value_name = "ID")]
    only: Vec<String>,
}

/// `wardtap pull --all …` is spelled `wardtap pull-all …` inside: `pull` with one tap's
/// link belongs to [`crate::pull`]. Rewrites the arguments accordingly.
pub fn alias_pull_all(args: impl IntoIterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut v: Vec<std::ffi::OsString> = args.into_iter().collect();
    if v.get(1).is_some_and(|a| a == "pull") && v.iter().skip(2).any(|a| a == "--all") {
        v[1] = "pull-all".into();
    }
    v
}

/// Runs `wardtap pull --all`; one line per tap on `out`; returns the exit code (1 if any
/// tap failed).
pub fn cli(a: &PullAllArgs, out: &mut dyn Write) -> Result<u8, TapsError> {
    let taps = load(&a.config)?;
    let mut db = a.db.open()?;
    let mut failed = 0;
    for t in taps.iter().filter(|t| a.only.is_empty() || a.only.contains(&t.id)) {
        let line = match pull_one(&mut db, t) {
            Ok(p) => format!(
                "{}\t{}\tok\t{} assets ({} new), {} alerts new{}",
                t.id,
                t.ward,
                p.assets,
                p.new_assets,
                p.new_alerts,
                p.acked.map(|s| format!(", acknowledged up to {s}")).unwrap_or_default()
            ),
            Err(e) => {
                failed += 1;
                format!("{}\t{}\tFAILED\t{e}", t.id, t.ward)
            }
        };
        writeln!(out, "{line}").map_err(|source| TapsError::Io { path: "<stdout>".into(), source })?;
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_file_is_checked() {
        let p = Path::new("/etc/wardtap/taps.toml");
        let ok = parse("[[tap]]\nid='a'\nward='ICU'\ntcp='127.0.0.1:1'\nkey='k/a.key'\n", p).unwrap();
        assert_eq!(ok[0].key, PathBuf::from("/etc/wardtap/k/a.key"));
        for bad in [
            "[[tap]]\nid='a'\nward='ICU'\nkey='k'\n",
            "[[tap]]\nid='a'\nward='ICU'\ntcp='x:1'\nserial='/dev/x'\nkey='k'\n",
            "[[tap]]\nid='a'\nward='w'\ntcp='x:1'\nkey='k'\n[[tap]]\nid='a'\nward='w'\ntcp='x:1'\nkey='k'\n",
            "[[tap]]\nid='a'\nward='w'\ntcp='x:1'\nkey='k'\nkye='typo'\n",
            "",
        ] {
            assert!(parse(bad, p).is_err(), "{bad}");
        }
        let v = alias_pull_all(["wardtap", "pull", "--all", "--db", "x"].map(Into::into));
        assert_eq!(v[1], "pull-all");
        let v = alias_pull_all(["wardtap", "pull", "--tcp", "x"].map(Into::into));
        assert_eq!(v[1], "pull");
    }
}
