//! The hospital's asset database: every tap's summaries merged into one history.
//!
//! SQLite by default (a file in the user's data directory), or a group's central PostgreSQL
//! server when `--db` is a `postgres://` URL. One schema for both ([`schema`]), migrated on
//! open.
//!
//! Merging ([`Db::merge`]) is one transaction per summary and idempotent: the same summary
//! twice changes no row. It keeps history — first/last seen per tap and ward, every address,
//! name, class and software string an asset ever had with when it was seen, an event per change
//! of the current value, alerts with their acknowledgement state. A crash at any point leaves
//! the previous state ([`commit_then_ack`] tells the tap to drop its alerts only after the
//! commit, so the next pull completes what a crashed one started).

pub mod backend;
pub mod cli;
pub mod format;
mod merge;
pub mod query;
pub mod schema;
pub mod synthetic;

pub use backend::Value;
use backend::{params, Conn};
pub use merge::MergeStats;
use std::path::PathBuf;
use wardtap_proto::{AlertRecord, AssetRecord, Counters, EdgeRecord, IpAddr, LedgerRecord, Mac};

/// Everything that can go wrong with the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite said no.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL said no.
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),
    /// The database file's directory could not be made.
    #[error("{path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database was written by a newer wardtap.
    #[error("database schema version {found} is newer than this wardtap understands ({known}); upgrade wardtap")]
    TooNew {
        /// Version in the database.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// A stored value could not be read back.
    #[error("stored data is damaged: {0}")]
    Damaged(String),
    /// Something the caller asked for does not exist.
    #[error("{0}")]
    NotFound(String),
}

/// An alert as the database stores it (from a tap's `AlertRecord`, converted once on the host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryAlert {
    /// The tap's sequence number (unique per tap).
    pub seq: u32,
    /// First raised, µs since the epoch.
    pub time: u64,
    /// Last repeated, µs since the epoch.
    pub last_time: u64,
    /// `info`, `low`, `medium`, `high`, `critical`.
    pub severity: String,
    /// Alert kind name (`unexpected_outbound`, ...).
    pub kind: String,
    /// The local device.
    pub device: Mac,
    /// Its address in the event.
    pub device_ip: Option<IpAddr>,
    /// The other end.
    pub peer: Option<IpAddr>,
    /// `tcp`, `udp`, ...
    pub transport: String,
    /// Service port, 0 if none.
    pub port: u16,
    /// Times it happened.
    pub count: u32,
    /// What was seen (raw bytes from the tap decoded lossily).
    pub evidence: String,
}

/// A connection point to outside the segment, as the database stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryLedger {
    /// The local device.
    pub device: Mac,
    /// The external endpoint.
    pub endpoint: IpAddr,
    /// DNS name or TLS SNI that led there (may be empty).
    pub name: String,
    /// `tcp`, `udp`, ...
    pub transport: String,
    /// Service port.
    pub port: u16,
    /// `outbound` or `inbound`.
    pub direction: String,
    /// First seen, µs since the epoch.
    pub first_seen: u64,
    /// Last seen, µs since the epoch.
    pub last_seen: u64,
    /// Bytes both ways.
    pub bytes: u64,
    /// Frames both ways.
    pub frames: u32,
    /// Allowed by policy or baseline.
    pub allowed: bool,
}

impl From<&AlertRecord> for SummaryAlert {
    fn from(a: &AlertRecord) -> Self {
        SummaryAlert {
            seq: a.seq,
            time: a.time,
            last_time: a.last_time,
            severity: a.severity.name().to_owned(),
            kind: a.kind.name().to_owned(),
            device: a.device,
            device_ip: a.device_ip,
            peer: a.peer,
            transport: a.transport.name().to_owned(),
            port: a.port,
            count: a.count,
            evidence: String::from_utf8_lossy(&a.evidence).into_owned(),
        }
    }
}

impl From<&LedgerRecord> for SummaryLedger {
    fn from(l: &LedgerRecord) -> Self {
        SummaryLedger {
            device: l.device,
            endpoint: l.endpoint,
            name: String::from_utf8_lossy(&l.name).into_owned(),
            transport: l.transport.name().to_owned(),
            port: l.port,
            direction: l.direction.name().to_owned(),
            first_seen: u64::from(l.first_seen) * 1_000_000,
            last_seen: u64::from(l.last_seen) * 1_000_000,
            bytes: l.bytes,
            frames: l.frames,
            allowed: l.allowed,
        }
    }
}

/// One tap's summary, however it was obtained (pulled, ingested from a capture, live).
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// The tap's id (from taps.toml, or given on the command line).
    pub tap: String,
    /// Its ward or location.
    pub ward: String,
    /// When it was taken, µs since the epoch (pull time; the last frame's time for a capture).
    pub time: u64,
    /// The tap's assets.
    pub assets: Vec<AssetRecord>,
    /// The tap's edges.
    pub edges: Vec<EdgeRecord>,
    /// Alerts not yet acknowledged on the tap.
    pub alerts: Vec<SummaryAlert>,
    /// The connection-point ledger.
    pub ledger: Vec<SummaryLedger>,
    /// The tap's counters.
    pub counters: Counters,
}

impl Summary {
    /// The highest alert sequence number in it (0 if none).
    pub fn max_alert_seq(&self) -> u32 {
        self.alerts.iter().map(|a| a.seq).max().unwrap_or(0)
    }
}

/// An open asset database.
pub struct Db {
    conn: Conn,
    /// The schema version it was migrated to (older only in tests of migrations).
    version: i64,
}

/// Where the database lives when `--db` is not given: `<data dir>/wardtap/assets.db`.
pub fn default_location() -> PathBuf {
    dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("wardtap").join("assets.db")
}

/// Whether `spec` names a PostgreSQL server rather than a file.
pub fn is_postgres(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

impl Db {
    /// Opens (creating if needed) the database named by `spec` — a file path, `:memory:`, or
    /// a `postgres://` URL — and migrates it to the newest schema.
    pub fn open(spec: &str) -> Result<Db, DbError> {
        Self::open_at_version(spec, schema::latest())
    }

    /// Opens and migrates only up to `version` (tests of migrations from older schemas).
    pub fn open_at_version(spec: &str, version: i64) -> Result<Db, DbError> {
        let conn = if is_postgres(spec) {
            let client = postgres::Client::connect(spec, postgres::NoTls)?;
            Conn::Postgres { client: Box::new(client), cache: Default::default() }
        } else {
            if spec != ":memory:" {
                if let Some(dir) = std::path::Path::new(spec).parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| DbError::Io { path: dir.to_owned(), source })?;
                }
            }
            let c = rusqlite::Connection::open(spec)?;
            backend::enlarge_lookaside(&c);
            c.busy_timeout(std::time::Duration::from_secs(10))?;
            c.set_prepared_statement_cache_capacity(128);
            // WAL: readers never block the merge; NORMAL sync is crash-safe for the process
            // (a committed transaction survives kill -9; only an OS crash or power loss may lose
            // the last ones, never consistency). A merge whose alerts are then acknowledged on
            // the tap is made durable first ([`commit_then_ack`]). Checkpoints every 32 MiB of
            // WAL rather than 4 MiB: hot pages are copied back less often (merging 1.7 → 1.4 s).
            // A new database gets 16 KiB pages (an existing one keeps its own): an asset row is
            // about 600 bytes, and 4 KiB pages left 14% of the file unused and split four times
            // as often (merging 100 summaries: 10% fewer bytes written, 20% less CPU).
            c.execute_batch("PRAGMA page_size=16384;")?;
            c.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")?;
            let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let checkpoint = (32 << 20) / page.max(512);
            c.execute_batch(&format!(
                "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint={checkpoint};"
            ))?;
            Conn::Sqlite(c)
        };
        let mut db = Db { conn, version };
        db.migrate(version)?;
        db.version = db.schema_version()?;
        Ok(db)
    }

    /// `sqlite` or `postgres`.
    pub fn dialect(&self) -> &'static str {
        self.conn.dialect()
    }

    /// The schema version the database is at.
    pub fn schema_version(&mut self) -> Result<i64, DbError> {
        let row = self.conn.query_opt("SELECT MAX(version) FROM schema_migrations", &[])?;
        Ok(row.and_then(|r| r.first().and_then(Value::opt_int)).unwrap_or(0))
    }

    fn migrate(&mut self, target: i64) -> Result<(), DbError> {
        self.conn.batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
             applied_at BIGINT NOT NULL)",
        )?;
        let current = self.schema_version()?;
        if current > schema::latest() {
            return Err(DbError::TooNew { found: current, known: schema::latest() });
        }
        for m in schema::MIGRATIONS.iter().filter(|m| m.version > current && m.version <= target) {
            let ddl = self.conn.ddl(m.sql);
            self.conn.batch("BEGIN")?;
            let step = (|| {
                self.conn.batch(&ddl)?;
                self.conn.exec(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    params![m.version, m.name, now_us()],
                )
            })();
            match step {
                Ok(_) => self.conn.batch("COMMIT")?,
                Err(e) => {
                    let _ = self.conn.batch("ROLLBACK");
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Runs `f` in one transaction: committed if it returns `Ok`, rolled back otherwise.
    pub(crate) fn transaction<T>(&mut self, f: impl FnOnce(&mut Conn) -> Result<T, DbError>) -> Result<T, DbError> {
        let begin = if matches!(self.conn, Conn::Sqlite(_)) { "BEGIN IMMEDIATE" } else { "BEGIN" };
        self.conn.batch(begin)?;
        match f(&mut self.conn) {
            Ok(v) => {
                self.conn.batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Merges one summary in one transaction. Idempotent.
    pub fn merge(&mut self, s: &Summary) -> Result<MergeStats, DbError> {
        let layout = merge::Layout::of(self.version);
        self.transaction(|c| merge::merge(c, s, layout))
    }

    /// Merges one summary and syncs the commit to disk before returning, even where plain
    /// merges only survive a crash of the process (SQLite with `synchronous=NORMAL`): the tap
    /// may drop its alerts once this returns.
    pub fn merge_durable(&mut self, s: &Summary) -> Result<MergeStats, DbError> {
        if !matches!(self.conn, Conn::Sqlite(_)) {
            return self.merge(s); // PostgreSQL commits are durable (synchronous_commit)
        }
        self.conn.batch("PRAGMA synchronous=FULL")?;
        let r = self.merge(s);
        self.conn.batch("PRAGMA synchronous=NORMAL")?;
        r
    }

    /// The highest alert sequence number stored for `tap` (ask the tap for alerts after it).
    pub fn alert_seq(&mut self, tap: &str) -> Result<u32, DbError> {
        let row = self.conn.query_opt("SELECT alert_seq FROM taps WHERE id = ?", params![tap])?;
        Ok(row.and_then(|r| r.first().and_then(Value::opt_int)).unwrap_or(0).clamp(0, u32::MAX.into()) as u32)
    }

    /// The base to add to the sequence numbers of alerts pulled from `tap` now, whose status
    /// says it has been up `uptime_s` seconds.
    ///
    /// A tap numbers its alerts itself, and a tap restarted without its saved state (flash
    /// wiped, replaced under the same id, older firmware) starts again at 1: stored as they
    /// are, its new alerts would be taken for old ones (the database keys alerts by tap and
    /// number). So when the uptime is less than the previous pull's plus the time since (with
    /// 2 minutes and 2 % of slack for clock drift), the base moves past every number stored
    /// for the tap. The base and uptime are written before the alerts are merged: a crash in
    /// between leaves a base that the next pull keeps, never one that moves twice.
    pub fn alert_base_for_pull(&mut self, tap: &str, ward: &str, now_us: i64, uptime_s: u32) -> Result<u32, DbError> {
        self.transaction(|c| {
            let row = c.query_opt("SELECT alert_base, tap_uptime, tap_uptime_at, alert_seq FROM taps WHERE id = ?", params![tap])?;
            let int = |r: &Option<backend::Row>, i: usize| r.as_ref().and_then(|r| r.get(i)).and_then(Value::opt_int);
            let (base, seen_up, seen_at, max_seq) = (int(&row, 0).unwrap_or(0), int(&row, 1), int(&row, 2), int(&row, 3));
            let restarted = match (seen_up, seen_at) {
                (Some(up), Some(at)) => {
                    let since = now_us.saturating_sub(at).max(0) / 1_000_000;
                    i64::from(uptime_s) + 120 + since / 50 < up.saturating_add(since)
                }
                _ => false,
            };
            let base = if restarted { base.max(max_seq.unwrap_or(0)) } else { base }.clamp(0, u32::MAX.into());
            // A tap not stored yet gets its row now, last pulled one µs before this pull so
            // that merging this pull still updates it.
            c.exec(
                "INSERT INTO taps (id, ward, first_pull, last_pull, alert_base, tap_uptime, tap_uptime_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET \
                 alert_base = excluded.alert_base, tap_uptime = excluded.tap_uptime, tap_uptime_at = excluded.tap_uptime_at",
                params![tap, ward, now_us, now_us.saturating_sub(1), base, i64::from(uptime_s), now_us],
            )?;
            Ok(base as u32)
        })
    }

    /// Numbers the alerts of a summary built from captures (`wardtap ingest`) for storing.
    /// Each run of the core numbers its alerts from 1, so a second capture ingested for the
    /// same tap would have its alerts taken for the first one's. An alert already stored (the
    /// same first time, kind, device, peer and port: the same capture again) keeps its stored
    /// number, so ingesting twice changes nothing; a new one keeps its own number if no other
    /// alert has it, else goes above the tap's highest.
    pub fn number_capture_alerts(&mut self, s: &mut Summary) -> Result<(), DbError> {
        let max = self.conn.query_opt("SELECT MAX(seq) FROM alerts WHERE tap = ?", params![&s.tap])?;
        let mut next = max.as_ref().and_then(|r| r.first()).and_then(Value::opt_int).unwrap_or(0);
        let mut taken = std::collections::HashSet::new();
        for a in &mut s.alerts {
            let same = self.conn.query_opt(
                "SELECT seq FROM alerts WHERE tap = ? AND time = ? AND kind = ? AND device = ? \
                 AND COALESCE(peer, '') = ? AND port = ? ORDER BY seq LIMIT 1",
                params![
                    &s.tap,
                    i64::try_from(a.time).unwrap_or(i64::MAX),
                    a.kind.as_str(),
                    a.device.to_string(),
                    a.peer.map(|p| p.to_string()).unwrap_or_default(),
                    a.port,
                ],
            )?;
            let seq = match same.as_ref().and_then(|r| r.first()).and_then(Value::opt_int) {
                Some(seq) => seq,
                None if !taken.contains(&i64::from(a.seq))
                    && self
                        .conn
                        .query_opt("SELECT id FROM alerts WHERE tap = ? AND seq = ?", params![&s.tap, a.seq])?
                        .is_none() =>
                {
                    i64::from(a.seq)
                }
                None => {
                    next = next.max(taken.iter().copied().max().unwrap_or(0)) + 1;
                    next
                }
            };
            taken.insert(seq);
            a.seq = seq.clamp(0, u32::MAX.into()) as u32;
        }
        Ok(())
    }

    /// Records that `tap` was told to drop its alerts up to `seq`.
    pub fn mark_tap_acked(&mut self, tap: &str, seq: u32) -> Result<u64, DbError> {
        self.transaction(|c| {
            c.exec("UPDATE alerts SET tap_acked = 1 WHERE tap = ? AND seq <= ? AND tap_acked = 0", params![tap, seq])
        })
    }

    /// A person acknowledges alerts (by database id); returns how many changed state.
    pub fn acknowledge(&mut self, ids: &[i64], by: &str) -> Result<u64, DbError> {
        let now = now_us();
        self.transaction(|c| {
            let mut n = 0;
            for id in ids {
                n += c.exec(
                    "UPDATE alerts SET state = 'acknowledged', acked_by = ?, acked_at = ? WHERE id = ? AND state = 'open'",
                    params![by, now, *id],
                )?;
            }
            Ok(n)
        })
    }

    /// Direct access for queries in this crate.
    pub(crate) fn conn(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

/// What a store did: the merge's figures and whether the tap was acknowledged.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    /// The merge.
    pub stats: MergeStats,
    /// The sequence number acknowledged on the tap, if any.
    pub acked: Option<u32>,
}

/// Merges `s`, commits, and only then tells the tap (through `ack`) that its alerts up to the
/// summary's highest sequence number are safe. If the process dies before the commit, nothing
/// changed and the tap still has every alert; if it dies between commit and acknowledgement,
/// the next pull brings the same alerts again and the merge (keyed by tap and sequence) takes
/// them once.
pub fn commit_then_ack<E: std::fmt::Display>(
    db: &mut Db,
    s: &Summary,
    ack: impl FnOnce(u32) -> Result<(), E>,
) -> Result<Stored, StoreError> {
    let seq = s.max_alert_seq();
    let stats = if seq == 0 { db.merge(s)? } else { db.merge_durable(s)? };
    if seq == 0 {
        return Ok(Stored { stats, acked: None });
    }
    backend::abort_hook();
    ack(seq).map_err(|e| StoreError::Ack(e.to_string()))?;
    db.mark_tap_acked(&s.tap, seq)?;
    Ok(Stored { stats, acked: Some(seq) })
}

/// Why a store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Stored, but the tap was not acknowledged (it will send the alerts again; harmless).
    #[error("stored, but acknowledging the tap failed: {0}")]
    Ack(String),
}

/// Now, µs since the epoch.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
