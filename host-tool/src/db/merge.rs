//! Merging one summary into the database (inside the caller's transaction).
//!
//! Rules, chosen so that merging is idempotent and independent of the order summaries arrive in:
//! - An asset's *current* view (class, name, addresses, software, the full document) follows
//!   the summary that saw it last; a summary that is not newer changes only first-seen times.
//!   A missing value (no name yet after a tap restart, class `unknown`) never replaces a known one.
//! - Every change of the current class, name, addresses or software is one `asset_changes` row.
//! - Every address, name, class and software string ever seen is one entry of the asset's
//!   `value_history` (a JSON array sorted by kind and value: kind, value, source, first and last
//!   time seen, the tap that first saw it; since schema version 6 the last three are left out
//!   when they equal the entry before's): the history of an asset. One column rather than a
//!   row per value: the merge writes a third of the rows it would otherwise.
//! - Sightings (asset, tap, ward), edges, the ledger and the tap row keep min(first)/max(last);
//!   counts follow the newest summary; a ledger entry's `allowed` follows the latest summary even
//!   without new traffic (a pushed policy changes it). Alerts are keyed by (tap, sequence number).
//! - Every upsert has a `WHERE` that is false when nothing would change, so a repeated summary
//!   writes no row (`MergeStats::rows_changed` is 0). A record merged before from the same tap
//!   and ward (same fingerprint of its encoding) is skipped outright: every rule is monotone,
//!   so applying it again would change nothing.
//!
//! Speed: rows are read and written in multi-row statements (chunks of at most [`CHUNK`] rows,
//! split into powers of two so few distinct statements are prepared); only assets whose current
//! view changes cost statements of their own.

use super::backend::{params, Conn, Value};
use super::{DbError, Summary};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap as StdMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;
use std::sync::Arc;
use wardtap_proto::{AssetRecord, DeviceClass, IpAddr, Mac, StrKind};

/// What one merge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeStats {
    /// Assets never seen before.
    pub new_assets: u64,
    /// Assets whose current view changed.
    pub changed_assets: u64,
    /// Change events recorded.
    pub changes: u64,
    /// Alerts stored for the first time.
    pub new_alerts: u64,
    /// Edges whose asset is unknown (not in this summary nor the database): skipped.
    pub orphan_edges: u64,
    /// Rows written in all (0 when the summary was already merged).
    pub rows_changed: u64,
}

/// Times in the database: µs since the epoch, clamped into i64.
pub(crate) fn us(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// FNV-1a, 64 bits: a stable fingerprint of a record's encoding.
fn fnv1a(bytes: &[u8]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}

/// The Fx hash (rustc's): keys here are MACs and short tuples made on this host, not chosen by
/// an attacker, so SipHash's protection against flooding buys nothing and costs time.
#[derive(Default, Clone, Copy)]
pub(crate) struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.add(u64::from(*b));
        }
    }
    fn write_u8(&mut self, v: u8) {
        self.add(v.into());
    }
    fn write_u16(&mut self, v: u16) {
        self.add(v.into());
    }
    fn write_u32(&mut self, v: u32) {
        self.add(v.into());
    }
    fn write_u64(&mut self, v: u64) {
        self.add(v);
    }
    fn write_usize(&mut self, v: usize) {
        self.add(v as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl Fx {
    fn add(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type HashMap<K, V> = StdMap<K, V, BuildHasherDefault<Fx>>;
type HashSet<K> = std::collections::HashSet<K, BuildHasherDefault<Fx>>;

fn map<K, V>(n: usize) -> HashMap<K, V> {
    HashMap::with_capacity_and_hasher(n, Default::default())
}

fn set<K>(n: usize) -> HashSet<K> {
    HashSet::with_capacity_and_hasher(n, Default::default())
}

thread_local! {
    /// SQL text of the multi-row statements, by statement and row count: built once, not per chunk.
    static SQL: RefCell<HashMap<(usize, usize), Rc<str>>> = RefCell::new(map(64));
}

/// The SQL text for `key` (a statement's tag and its row count), built by `make` the first time.
fn sql(key: (usize, usize), make: impl FnOnce() -> String) -> Rc<str> {
    SQL.with(|c| Rc::clone(c.borrow_mut().entry(key).or_insert_with(|| make().into())))
}

/// Most rows in one multi-row statement.
const CHUNK: usize = 128;

/// A multi-row upsert: `head VALUES (?, ..), (?, ..) tail`.
struct Upsert {
    head: &'static str,
    width: usize,
    tail: &'static str,
    /// Columns with one value for every row (the tap, its ward), bound once per statement.
    shared: &'static [usize],
}

impl Upsert {
    /// Values given per row.
    const fn row_width(&self) -> usize {
        self.width - self.shared.len()
    }

    /// `head VALUES (..), (..) tail` for `rows` rows: the shared columns are parameters 1, 2..,
    /// the others numbered on from there, row after row.
    fn sql(&self, rows: usize) -> String {
        let mut next = self.shared.len();
        let tuple = |_| {
            let cols: Vec<String> = (0..self.width)
                .map(|col| match self.shared.iter().position(|s| *s == col) {
                    Some(i) => format!("?{}", i + 1),
                    None => {
                        next += 1;
                        format!("?{next}")
                    }
                })
                .collect();
            format!("({})", cols.join(", "))
        };
        let tuples: Vec<String> = (0..rows).map(tuple).collect();
        format!("{} VALUES {} {}", self.head, tuples.join(", "), self.tail)
    }
}

/// Value history rows, for databases still at schema version 1 or 2 (tests of migrations).
const LEGACY_VALUES: Upsert = Upsert {
    head: "INSERT INTO asset_values (asset, kind, value, source, first_seen, last_seen, tap)",
    width: 7,
    tail: "ON CONFLICT (asset, kind, value) DO UPDATE SET \
     first_seen = CASE WHEN excluded.first_seen < asset_values.first_seen THEN excluded.first_seen ELSE asset_values.first_seen END, \
     last_seen = CASE WHEN excluded.last_seen > asset_values.last_seen THEN excluded.last_seen ELSE asset_values.last_seen END \
     WHERE excluded.first_seen < asset_values.first_seen OR excluded.last_seen > asset_values.last_seen",
    shared: &[],
};

const SIGHTINGS: Upsert = Upsert {
    head: "INSERT INTO sightings \
     (asset, tap, ward, first_seen, last_seen, frames_tx, frames_rx, bytes_tx, bytes_rx, fingerprint)",
    width: 10,
    tail: "ON CONFLICT (asset, tap, ward) DO UPDATE SET fingerprint = excluded.fingerprint, \
     first_seen = CASE WHEN excluded.first_seen < sightings.first_seen THEN excluded.first_seen ELSE sightings.first_seen END, \
     last_seen = CASE WHEN excluded.last_seen > sightings.last_seen THEN excluded.last_seen ELSE sightings.last_seen END, \
     frames_tx = CASE WHEN excluded.last_seen > sightings.last_seen THEN excluded.frames_tx ELSE sightings.frames_tx END, \
     frames_rx = CASE WHEN excluded.last_seen > sightings.last_seen THEN excluded.frames_rx ELSE sightings.frames_rx END, \
     bytes_tx = CASE WHEN excluded.last_seen > sightings.last_seen THEN excluded.bytes_tx ELSE sightings.bytes_tx END, \
     bytes_rx = CASE WHEN excluded.last_seen > sightings.last_seen THEN excluded.bytes_rx ELSE sightings.bytes_rx END \
     WHERE excluded.first_seen < sightings.first_seen OR excluded.last_seen > sightings.last_seen \
     OR excluded.fingerprint <> sightings.fingerprint",
    shared: &[1, 2],
};

const EDGES: Upsert = Upsert {
    head: "INSERT INTO edges \
     (asset, tap, peer, transport, port, direction, external, frames, bytes, first_seen, last_seen)",
    width: 11,
    tail: "ON CONFLICT (asset, tap, peer, transport, port, direction) DO UPDATE SET \
     first_seen = CASE WHEN excluded.first_seen < edges.first_seen THEN excluded.first_seen ELSE edges.first_seen END, \
     last_seen = CASE WHEN excluded.last_seen > edges.last_seen THEN excluded.last_seen ELSE edges.last_seen END, \
     external = CASE WHEN excluded.last_seen > edges.last_seen THEN excluded.external ELSE edges.external END, \
     frames = CASE WHEN excluded.last_seen > edges.last_seen THEN excluded.frames ELSE edges.frames END, \
     bytes = CASE WHEN excluded.last_seen > edges.last_seen THEN excluded.bytes ELSE edges.bytes END \
     WHERE excluded.first_seen < edges.first_seen OR excluded.last_seen > edges.last_seen",
    shared: &[1],
};

const ALERTS: Upsert = Upsert {
    head: "INSERT INTO alerts \
     (tap, ward, seq, time, last_time, severity, kind, device, device_ip, peer, transport, port, count, evidence)",
    width: 14,
    tail: "ON CONFLICT (tap, seq) DO UPDATE SET \
     last_time = CASE WHEN excluded.last_time > alerts.last_time THEN excluded.last_time ELSE alerts.last_time END, \
     count = CASE WHEN excluded.count > alerts.count THEN excluded.count ELSE alerts.count END \
     WHERE excluded.last_time > alerts.last_time OR excluded.count > alerts.count",
    shared: &[0, 1],
};

const LEDGER: Upsert = Upsert {
    head: "INSERT INTO ledger \
     (tap, ward, device, endpoint, transport, port, direction, name, first_seen, last_seen, bytes, frames, allowed)",
    width: 13,
    tail: "ON CONFLICT (tap, device, endpoint, transport, port, direction) DO UPDATE SET \
     first_seen = CASE WHEN excluded.first_seen < ledger.first_seen THEN excluded.first_seen ELSE ledger.first_seen END, \
     last_seen = CASE WHEN excluded.last_seen > ledger.last_seen THEN excluded.last_seen ELSE ledger.last_seen END, \
     name = CASE WHEN excluded.name <> '' AND excluded.last_seen >= ledger.last_seen THEN excluded.name ELSE ledger.name END, \
     bytes = CASE WHEN excluded.last_seen > ledger.last_seen THEN excluded.bytes ELSE ledger.bytes END, \
     frames = CASE WHEN excluded.last_seen > ledger.last_seen THEN excluded.frames ELSE ledger.frames END, \
     allowed = CASE WHEN excluded.last_seen >= ledger.last_seen THEN excluded.allowed ELSE ledger.allowed END \
     WHERE excluded.first_seen < ledger.first_seen OR excluded.last_seen > ledger.last_seen \
     OR (excluded.name <> '' AND excluded.name <> ledger.name AND excluded.last_seen >= ledger.last_seen) \
     OR (excluded.allowed <> ledger.allowed AND excluded.last_seen >= ledger.last_seen)",
    shared: &[0, 1],
};

const UPSERT_TAP: &str =
    "INSERT INTO taps (id, ward, first_pull, last_pull, alert_seq, counters) VALUES (?, ?, ?, ?, ?, ?) \
     ON CONFLICT (id) DO UPDATE SET \
     ward = CASE WHEN excluded.last_pull >= taps.last_pull THEN excluded.ward ELSE taps.ward END, \
     first_pull = CASE WHEN excluded.first_pull < taps.first_pull THEN excluded.first_pull ELSE taps.first_pull END, \
     last_pull = CASE WHEN excluded.last_pull > taps.last_pull THEN excluded.last_pull ELSE taps.last_pull END, \
     alert_seq = CASE WHEN excluded.alert_seq > taps.alert_seq THEN excluded.alert_seq ELSE taps.alert_seq END, \
     counters = CASE WHEN excluded.last_pull > taps.last_pull THEN excluded.counters ELSE taps.counters END \
     WHERE excluded.first_pull < taps.first_pull OR excluded.last_pull > taps.last_pull \
     OR excluded.alert_seq > taps.alert_seq OR (excluded.last_pull = taps.last_pull AND excluded.ward <> taps.ward)";

/// Splits `n` rows into chunks of [`CHUNK`], then powers of two: few distinct statements.
fn chunks(mut n: usize) -> Vec<usize> {
    let mut v = Vec::new();
    while n > 0 {
        let take = if n >= CHUNK { CHUNK } else { 1 << (usize::BITS - 1 - n.leading_zeros()) };
        v.push(take);
        n -= take;
    }
    v
}

/// `(?, ?), (?, ?)` for `rows` rows of `width`.
fn tuples(width: usize, rows: usize) -> String {
    let one = format!("({})", vec!["?"; width].join(", "));
    vec![one; rows].join(", ")
}

/// Runs a multi-row upsert: `shared` holds the values of `u.shared`, `flat` the others (rows of
/// `u.row_width()` values, one after the other); returns rows changed.
fn upsert(c: &mut Conn, u: &Upsert, shared: &[Value], flat: Vec<Value>) -> Result<u64, DbError> {
    let mut n = 0;
    let rows = flat.len() / u.row_width();
    let mut values = flat.into_iter();
    for len in chunks(rows) {
        let sql = sql((u.head.as_ptr() as usize, len), || u.sql(len));
        let mut p = Vec::with_capacity(shared.len() + len * u.row_width());
        p.extend(shared.iter().cloned());
        p.extend(values.by_ref().take(len * u.row_width()));
        n += c.exec(&sql, &p)?;
    }
    Ok(n)
}

/// What the database has for an asset.
struct Current {
    id: i64,
    class: String,
    name: Option<String>,
    ips: String,
    software: String,
    first_seen: i64,
    last_seen: i64,
    history: String,
}

/// One entry of an asset's value history: kind, value, source, first seen, last seen, tap.
pub(crate) type Seen = (String, String, String, i64, i64, String);

/// One entry of a `value_history` column as stored: `[kind, value, source, first, last, tap]`,
/// or since schema version 6 `[kind, value, source]` when first seen, last seen and tap are
/// those of the entry before it (a new asset's values all share them: a third of the bytes).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum Entry<S> {
    Full(S, S, S, i64, i64, S),
    Short(S, S, S),
}

/// Reads a `value_history` column (either form of entries), sorted by kind and value (bytewise).
pub(crate) fn parse_history(json: &str) -> Result<Vec<Seen>, DbError> {
    let damaged = |e: &dyn std::fmt::Display| DbError::Damaged(format!("value history: {e}"));
    let stored: Vec<Entry<String>> = serde_json::from_str(json).map_err(|e| damaged(&e))?;
    let mut h: Vec<Seen> = Vec::with_capacity(stored.len());
    for e in stored {
        let seen = match e {
            Entry::Full(kind, value, source, first, last, tap) => (kind, value, source, first, last, tap),
            Entry::Short(kind, value, source) => {
                let prev = h.last().ok_or_else(|| damaged(&"its first entry has no times"))?;
                let (first, last, tap) = (prev.3, prev.4, prev.5.clone());
                (kind, value, source, first, last, tap)
            }
        };
        h.push(seen);
    }
    h.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    Ok(h)
}

/// Writes a `value_history` column: the entries (kind, value, source, first, last, tap) in
/// order; `compact` (schema version 6) leaves out the times and tap equal to the entry before.
fn history_json<'a>(
    entries: impl Iterator<Item = (&'a str, &'a str, &'a str, i64, i64, &'a str)>,
    compact: bool,
) -> Result<String, DbError> {
    use serde::Serializer;
    let mut out = Vec::with_capacity(256);
    let mut prev = None;
    let entries = entries.map(|(kind, value, source, first, last, tap)| {
        let shared = compact && prev == Some((first, last, tap));
        prev = Some((first, last, tap));
        if shared {
            Entry::Short(kind, value, source)
        } else {
            Entry::Full(kind, value, source, first, last, tap)
        }
    });
    serde_json::Serializer::new(&mut out).collect_seq(entries).map_err(|e| DbError::Damaged(e.to_string()))?;
    String::from_utf8(out).map_err(|e| DbError::Damaged(e.to_string()))
}

/// A value seen by this summary: kind, value, source.
type Fresh<'a> = (&'static str, &'a str, &'a str);

/// Adds what this summary saw to a stored history (min first seen, max last seen; source and
/// tap stay those of the first sighting); returns whether anything changed.
fn merge_history(h: &mut Vec<Seen>, fresh: &[Fresh<'_>], first: i64, last: i64, tap: &str) -> bool {
    let mut changed = false;
    for (kind, value, source) in fresh {
        match h.binary_search_by(|e| (e.0.as_str(), e.1.as_str()).cmp(&(kind, value))) {
            Ok(i) => {
                if let Some(e) = h.get_mut(i) {
                    if first < e.3 || last > e.4 {
                        e.3 = e.3.min(first);
                        e.4 = e.4.max(last);
                        changed = true;
                    }
                }
            }
            Err(i) => {
                h.insert(
                    i,
                    ((*kind).to_owned(), (*value).to_owned(), (*source).to_owned(), first, last, tap.to_owned()),
                );
                changed = true;
            }
        }
    }
    changed
}

/// What the database's schema version means for the merge.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    /// Before version 3: the value history is one `asset_values` row per value.
    pub legacy_values: bool,
    /// Since version 4: an asset's id is its MAC ([`mac_id`]); before, a generated id found
    /// through the MAC's text.
    pub mac_ids: bool,
    /// Since version 6: value history entries leave out times and tap equal to the previous
    /// entry's ([`Entry`]).
    pub compact_history: bool,
}

impl Layout {
    /// The layout of schema `version`.
    pub(super) fn of(version: i64) -> Layout {
        Layout { legacy_values: version < 3, mac_ids: version >= 4, compact_history: version >= 6 }
    }

    /// The column of `assets a` looked up by MAC.
    fn column(&self) -> &'static str {
        if self.mac_ids {
            "a.id"
        } else {
            "a.mac"
        }
    }

    /// A MAC's value in that column.
    fn key(&self, m: &Mac) -> Value {
        if self.mac_ids {
            mac_id(m).into()
        } else {
            mac_text(m).into()
        }
    }

    /// The MAC of an asset row from its id and MAC text.
    fn mac_of(&self, id: &Value, text: &Value) -> Result<Mac, DbError> {
        if self.mac_ids {
            mac_of_id(id.int()).ok_or_else(|| DbError::Damaged(format!("asset id {}", id.int())))
        } else {
            parse_mac(&text.text()).ok_or_else(|| DbError::Damaged(format!("asset MAC {}", text.text())))
        }
    }

    /// A number per layout, for the SQL text cache.
    fn tag(&self) -> usize {
        usize::from(self.legacy_values) + 2 * usize::from(self.mac_ids)
    }
}

/// A MAC as the asset id (schema version 4): its six bytes as a big-endian integer.
pub(crate) fn mac_id(m: &Mac) -> i64 {
    m.0.iter().fold(0i64, |acc, b| (acc << 8) | i64::from(*b))
}

/// The MAC of an asset id, if it is one.
fn mac_of_id(id: i64) -> Option<Mac> {
    let b = u64::try_from(id).ok().filter(|v| *v < 1 << 48)?.to_be_bytes();
    Some(Mac([b[2], b[3], b[4], b[5], b[6], b[7]]))
}

/// Reads the current state of known assets, by MAC.
fn current(c: &mut Conn, macs: &[Mac], layout: Layout) -> Result<HashMap<Mac, Current>, DbError> {
    let history = if layout.legacy_values { "'[]'" } else { "a.value_history" };
    let mut out = map(macs.len());
    let mut at = 0;
    for len in chunks(macs.len()) {
        let column = layout.column();
        let sql = sql((layout.tag(), len), || {
            format!(
                "SELECT a.id, a.mac, a.class, a.name, a.ips, a.software, a.first_seen, a.last_seen, {history} \
                 FROM assets a WHERE {column} IN ({})",
                vec!["?"; len].join(", ")
            )
        });
        let p: Vec<Value> = macs[at..at + len].iter().map(|m| layout.key(m)).collect();
        for r in c.query(&sql, &p)? {
            out.insert(
                layout.mac_of(&r[0], &r[1])?,
                Current {
                    id: r[0].int(),
                    class: r[2].text(),
                    name: r[3].opt_text(),
                    ips: r[4].text(),
                    software: r[5].text(),
                    first_seen: r[6].int(),
                    last_seen: r[7].int(),
                    history: r[8].text(),
                },
            );
        }
        at += len;
    }
    Ok(out)
}

/// The id of each known asset among `macs`, and the fingerprint of its sighting by this tap
/// and ward (if any), by MAC.
fn fingerprints(
    c: &mut Conn,
    s: &Summary,
    macs: &[Mac],
    layout: Layout,
) -> Result<HashMap<Mac, (i64, Option<i64>)>, DbError> {
    let mut out = map(macs.len());
    let mut at = 0;
    let (column, text) = (layout.column(), if layout.mac_ids { "NULL" } else { "a.mac" });
    for len in chunks(macs.len()) {
        let sql = sql((4 + layout.tag(), len), || {
            format!(
                "SELECT a.id, {text}, s.fingerprint FROM assets a LEFT JOIN sightings s \
                 ON s.asset = a.id AND s.tap = ? AND s.ward = ? WHERE {column} IN ({})",
                vec!["?"; len].join(", ")
            )
        });
        let mut p: Vec<Value> = Vec::with_capacity(len + 2);
        p.extend([s.tap.as_str().into(), s.ward.as_str().into()]);
        p.extend(macs[at..at + len].iter().map(|m| layout.key(m)));
        for r in c.query(&sql, &p)? {
            out.insert(layout.mac_of(&r[0], &r[1])?, (r[0].int(), r[2].opt_int()));
        }
        at += len;
    }
    Ok(out)
}

/// What the merge needs of a record: the same vendor, class, addresses, names and software as
/// its document view (`model::Asset::from_record`), without building the rest of it.
struct View<'a> {
    vendor: Option<&'static str>,
    class: &'static str,
    /// The addresses, IPv4 then IPv6, joined by spaces (the `ips` column).
    ips: String,
    /// Names and software strings in the record's order: `name` or `software`, the value and
    /// its source.
    texts: Vec<(&'static str, Cow<'a, str>, &'static str)>,
}

impl<'a> View<'a> {
    fn of(r: &'a AssetRecord) -> View<'a> {
        let mut ips = String::with_capacity(16 * (r.ipv4.len() + r.ipv6.len()));
        for ip in r.ipv4.iter().map(|a| IpAddr::V4(*a)).chain(r.ipv6.iter().map(|a| IpAddr::V6(*a))) {
            if !ips.is_empty() {
                ips.push(' ');
            }
            push_ip(&mut ips, ip);
        }
        let texts = r
            .strings
            .iter()
            .filter_map(|s| match s.kind {
                StrKind::Name(src) => Some(("name", String::from_utf8_lossy(&s.text), src.name())),
                StrKind::Software(src) => Some(("software", String::from_utf8_lossy(&s.text), src.name())),
                _ => None,
            })
            .collect();
        View { vendor: crate::oui::vendor(r.mac.0), class: r.class.name(), ips, texts }
    }

    /// Names or software strings: value and source.
    fn texts(&self, kind: &'static str) -> impl Iterator<Item = (&str, &'static str)> + Clone + '_ {
        self.texts.iter().filter(move |t| t.0 == kind).map(|t| (&*t.1, t.2))
    }

    /// `Asset::display_name`.
    fn display_name(&self) -> Option<String> {
        let names = self.texts("name");
        crate::model::best_name(names.clone().map(|n| n.1)).and_then(|i| names.clone().nth(i)).map(|n| n.0.to_owned())
    }

    /// The `software` column: `value (source)` joined by `; `.
    fn software_text(&self) -> String {
        let mut out = String::with_capacity(self.texts("software").map(|s| s.0.len() + s.1.len() + 5).sum());
        for (i, (value, source)) in self.texts("software").enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
            out.push_str(value);
            out.push_str(" (");
            out.push_str(source);
            out.push(')');
        }
        out
    }

    /// The values the record shows, sorted by kind and value; of duplicates, the first one seen.
    fn fresh(&self, r: &AssetRecord) -> Vec<Fresh<'_>> {
        let mut fresh: Vec<Fresh<'_>> = Vec::with_capacity(2 + self.texts.len() + r.ipv4.len() + r.ipv6.len());
        if r.class != DeviceClass::Unknown {
            fresh.push(("class", self.class, "classifier"));
        }
        fresh.extend(self.ips.split(' ').filter(|ip| !ip.is_empty()).map(|ip| ("ip", ip, "")));
        fresh.extend(self.texts.iter().map(|t| (t.0, &*t.1, t.2)));
        fresh.sort_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)));
        fresh.dedup_by(|x, y| (x.0, x.1) == (y.0, y.1));
        fresh
    }
}

/// An address as text (what `Display` prints), without the formatting machinery for IPv4.
fn ip_text(ip: IpAddr) -> String {
    let mut out = String::with_capacity(15);
    push_ip(&mut out, ip);
    out
}

fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => {
            for (i, b) in a.iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_decimal(out, *b);
            }
        }
        v6 => {
            use std::fmt::Write;
            let _ = write!(out, "{v6}");
        }
    }
}

fn push_decimal(out: &mut String, b: u8) {
    if b >= 100 {
        out.push(char::from(b'0' + b / 100));
    }
    if b >= 10 {
        out.push(char::from(b'0' + b / 10 % 10));
    }
    out.push(char::from(b'0' + b % 10));
}

/// A MAC as text, `aa:bb:cc:dd:ee:ff` (what `Display` prints).
pub(crate) fn mac_text(m: &Mac) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(17);
    for (i, b) in m.0.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// One asset of the summary, prepared.
struct Prepared<'a> {
    rec: &'a AssetRecord,
    /// Where its encoding is in the summary's buffer of encodings.
    blob: std::ops::Range<usize>,
    fingerprint: i64,
}

/// Merges `s` into a database of schema `layout`.
pub(super) fn merge(c: &mut Conn, s: &Summary, layout: Layout) -> Result<MergeStats, DbError> {
    let legacy = layout.legacy_values;
    let mut st = MergeStats::default();
    let counters = serde_json::to_string(&crate::model::counters_map(&s.counters, None))
        .map_err(|e| DbError::Damaged(e.to_string()))?;
    st.rows_changed +=
        c.exec(UPSERT_TAP, params![&s.tap, &s.ward, us(s.time), us(s.time), s.max_alert_seq(), counters])?;

    // One entry per MAC (a tap never sends two; a hand-made summary might).
    // The tap and ward, shared by every row rather than copied into each.
    let (tap, ward): (Arc<str>, Arc<str>) = (s.tap.as_str().into(), s.ward.as_str().into());
    let mut seen = set(s.assets.len());
    let mut assets = Vec::with_capacity(s.assets.len());
    // Encoded one after the other into one buffer (a vector per record, grown from empty, cost
    // six reallocations each); copied out only for records that are written.
    let mut encoded: Vec<u8> = Vec::with_capacity(s.assets.len() * 256);
    let mut scratch = [0u8; 4096];
    for r in s.assets.iter().filter(|r| seen.insert(r.mac)) {
        let start = encoded.len();
        match postcard::to_slice(r, &mut scratch) {
            Ok(bytes) => encoded.extend_from_slice(bytes),
            Err(_) => encoded.extend(postcard::to_allocvec(r).map_err(|e| DbError::Damaged(e.to_string()))?),
        }
        let blob = start..encoded.len();
        assets.push(Prepared { rec: r, fingerprint: fnv1a(&encoded[blob.clone()]), blob });
    }
    // In MAC order: since version 4 that is the order of the ids, so new rows go in key order.
    assets.sort_unstable_by_key(|a| a.rec.mac.0);
    // First only ids and fingerprints (a repeated pull changes few assets), then the full
    // current view of the known assets whose record changed.
    let macs: Vec<Mac> = assets.iter().map(|a| a.rec.mac).collect();
    let known = fingerprints(c, s, &macs, layout)?;
    let stale: Vec<Mac> = assets
        .iter()
        .filter(|a| known.get(&a.rec.mac).is_some_and(|k| k.1 != Some(a.fingerprint)))
        .map(|a| a.rec.mac)
        .collect();
    let cur = current(c, &stale, layout)?;
    let mut legacy_values: Vec<(Mac, [Value; 7])> = Vec::new();

    let mut ids: HashMap<Mac, i64> = map(assets.len());
    let mut unchanged: HashSet<Mac> = set(0);
    let mut sightings: Vec<Value> = Vec::with_capacity(assets.len() * SIGHTINGS.row_width());
    let mut new_assets: Vec<Value> = Vec::new();
    for p in &mut assets {
        let r = p.rec;
        if let Some((id, fingerprint)) = known.get(&r.mac) {
            ids.insert(r.mac, *id);
            if *fingerprint == Some(p.fingerprint) {
                unchanged.insert(r.mac);
                continue;
            }
        }
        let old = cur.get(&r.mac);
        let (first, last) = (us(r.first_seen), us(r.last_seen));
        let mut a = View::of(r);
        let software_now = a.software_text();
        let name_now = a.display_name();
        // When values new in this summary were first seen: for a known asset, no earlier than
        // the last time the database saw it (they were not there then, or the tap had not kept
        // them); for an older summary, its own first-seen.
        let values_first = match old {
            None => first,
            Some(old) if last > old.last_seen => first.max(old.last_seen),
            Some(old) if last == old.last_seen => last,
            Some(_) => first,
        };
        let vf = values_first.min(last);
        let fresh = a.fresh(r);
        if legacy {
            legacy_values.extend(fresh.iter().map(|(kind, v, source)| {
                let row = [
                    Value::Int(None),
                    (*kind).into(),
                    (*v).into(),
                    (*source).into(),
                    vf.into(),
                    last.into(),
                    s.tap.as_str().into(),
                ];
                (r.mac, row)
            }));
        }
        match old {
            None => {
                let entries =
                    fresh.iter().map(|(kind, value, source)| (*kind, *value, *source, vf, last, s.tap.as_str()));
                let history = history_json(entries, layout.compact_history)?;
                let (vendor, class) = (a.vendor, a.class);
                if layout.mac_ids {
                    new_assets.push(mac_id(&r.mac).into());
                }
                new_assets.extend([
                    mac_text(&r.mac).into(),
                    vendor.map_or(Value::Text(None), Value::Static),
                    Value::Static(class),
                    name_now.into(),
                    std::mem::take(&mut a.ips).into(),
                    software_now.into(),
                    first.into(),
                    last.into(),
                    encoded[p.blob.clone()].to_vec().into(),
                    history.into(),
                ]);
            }
            Some(old) => {
                let mut h = parse_history(&old.history)?;
                let history_changed = !legacy && merge_history(&mut h, &fresh, vf, last, &s.tap);
                let entries = h.iter().map(|e| (e.0.as_str(), e.1.as_str(), e.2.as_str(), e.3, e.4, e.5.as_str()));
                let history = history_json(entries, layout.compact_history)?;
                if last > old.last_seen {
                    let history = (!legacy).then_some(history);
                    let (vendor, class) = (a.vendor, a.class);
                    update_current(
                        c,
                        s,
                        old,
                        r,
                        (vendor, class),
                        name_now,
                        std::mem::take(&mut a.ips),
                        software_now,
                        &encoded[p.blob.clone()],
                        history,
                        &mut st,
                    )?;
                } else if legacy && first < old.first_seen {
                    st.rows_changed +=
                        c.exec("UPDATE assets SET first_seen = ? WHERE id = ?", params![first, old.id])?;
                } else if !legacy && (first < old.first_seen || history_changed) {
                    st.rows_changed += c.exec(
                        "UPDATE assets SET first_seen = ?, value_history = ? WHERE id = ?",
                        params![first.min(old.first_seen), history, old.id],
                    )?;
                }
            }
        }
        sightings.extend([
            Value::Int(None), // the asset id, filled in below
            first.into(),
            last.into(),
            r.frames_tx.into(),
            r.frames_rx.into(),
            r.bytes_tx.into(),
            r.bytes_rx.into(),
            p.fingerprint.into(),
        ]);
    }

    // New assets: multi-row inserts. Since version 4 with their ids (the MACs); before, ids
    // back by MAC (RETURNING order is not guaranteed).
    let mut at = 0;
    let (width, history) = if legacy { (9, "") } else { (10, ", value_history") };
    if legacy {
        new_assets = new_assets.chunks(10).flat_map(|row| row.iter().take(9).cloned()).collect();
    }
    let (width, id, returning) =
        if layout.mac_ids { (width + 1, "id, ", "") } else { (width, "", " RETURNING id, mac") };
    for len in chunks(new_assets.len() / width) {
        let sql = sql((8 + layout.tag(), len), || {
            format!(
                "INSERT INTO assets ({id}mac, vendor, class, name, ips, software, first_seen, last_seen, doc{history}) \
                 VALUES {}{returning}",
                tuples(width, len)
            )
        });
        let rows = &new_assets[at * width..(at + len) * width];
        if layout.mac_ids {
            st.rows_changed += c.exec(&sql, rows)?;
            for row in rows.chunks(width) {
                if let Some(m) = mac_of_id(row[0].int()) {
                    ids.insert(m, row[0].int());
                }
            }
        } else {
            for row in c.query_write(&sql, rows)? {
                ids.insert(layout.mac_of(&row[0], &row[1])?, row[0].int());
            }
            st.rows_changed += len as u64;
        }
        st.new_assets += len as u64;
        at += len;
    }
    // Sightings were pushed in asset order, skipping unchanged ones: fill in their ids.
    let mut k = 0;
    for p in &assets {
        if unchanged.contains(&p.rec.mac) {
            continue;
        }
        if let Some(id) = sightings.get_mut(k * SIGHTINGS.row_width()) {
            *id = ids.get(&p.rec.mac).copied().into();
        }
        k += 1;
    }
    let (tap, ward) = (Value::Shared(tap), Value::Shared(ward));
    st.rows_changed += upsert(c, &SIGHTINGS, &[tap.clone(), ward.clone()], sightings)?;
    if legacy {
        let values: Vec<Value> = legacy_values
            .into_iter()
            .flat_map(|(mac, mut row)| {
                row[0] = ids.get(&mac).copied().into();
                row
            })
            .collect();
        st.rows_changed += upsert(c, &LEGACY_VALUES, &[], values)?;
    }

    // Edges of assets whose record did not change are unchanged too (no traffic, no time).
    let mut edges = Vec::with_capacity(s.edges.len() * EDGES.row_width());
    let mut edge_keys = set(s.edges.len());
    // Peer addresses as text, once each (a ward's devices talk to few servers).
    let mut peers: HashMap<IpAddr, Arc<str>> = map(64);
    for e in s.edges.iter().filter(|e| !unchanged.contains(&e.asset)) {
        let id = match ids.get(&e.asset) {
            Some(id) => *id,
            None => {
                let sql = format!("SELECT a.id FROM assets a WHERE {} = ?", layout.column());
                match c.query_opt(&sql, &[layout.key(&e.asset)])? {
                    Some(row) => {
                        ids.insert(e.asset, row[0].int());
                        row[0].int()
                    }
                    None => {
                        st.orphan_edges += 1;
                        continue;
                    }
                }
            }
        };
        if !edge_keys.insert((e.asset, e.peer, e.transport, e.port, e.direction)) {
            continue;
        }
        edges.extend([
            id.into(),
            Value::Shared(Arc::clone(peers.entry(e.peer).or_insert_with(|| ip_text(e.peer).into()))),
            Value::Static(e.transport.name()),
            e.port.into(),
            Value::Static(e.direction.name()),
            e.external.into(),
            e.frames.into(),
            e.bytes.into(),
            (i64::from(e.first_seen) * 1_000_000).into(),
            (i64::from(e.last_seen) * 1_000_000).into(),
        ]);
    }
    st.rows_changed += upsert(c, &EDGES, std::slice::from_ref(&tap), edges)?;

    // Alerts: count the new ones first (the upsert does not say which rows were inserted).
    let mut alerts = Vec::with_capacity(s.alerts.len());
    let mut seqs = set(s.alerts.len());
    for a in s.alerts.iter().filter(|a| seqs.insert(a.seq)) {
        if c.query_opt("SELECT id FROM alerts WHERE tap = ? AND seq = ?", params![&s.tap, a.seq])?.is_none() {
            st.new_alerts += 1;
        }
        alerts.extend([
            a.seq.into(),
            us(a.time).into(),
            us(a.last_time.max(a.time)).into(),
            a.severity.as_str().into(),
            a.kind.as_str().into(),
            a.device.to_string().into(),
            a.device_ip.map(|i| i.to_string()).into(),
            a.peer.map(|i| i.to_string()).into(),
            a.transport.as_str().into(),
            a.port.into(),
            a.count.into(),
            a.evidence.as_str().into(),
        ]);
    }
    st.rows_changed += upsert(c, &ALERTS, &[tap.clone(), ward.clone()], alerts)?;

    let mut ledger = Vec::with_capacity(s.ledger.len());
    let mut keys = set(s.ledger.len());
    for l in s.ledger.iter().filter(|l| keys.insert((l.device, l.endpoint, &l.transport, l.port, &l.direction))) {
        ledger.extend([
            l.device.to_string().into(),
            l.endpoint.to_string().into(),
            l.transport.as_str().into(),
            l.port.into(),
            l.direction.as_str().into(),
            l.name.as_str().into(),
            us(l.first_seen).into(),
            us(l.last_seen).into(),
            l.bytes.into(),
            l.frames.into(),
            l.allowed.into(),
        ]);
    }
    st.rows_changed += upsert(c, &LEDGER, &[tap, ward], ledger)?;
    Ok(st)
}

/// `aa:bb:cc:dd:ee:ff` → MAC.
pub(crate) fn parse_mac(s: &str) -> Option<Mac> {
    let mut m = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut m {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(Mac(m))
}

/// A newer record of a known asset: the current view follows it (unknowns never replace
/// knowns), one change row per field that moved.
#[allow(clippy::too_many_arguments)]
fn update_current(
    c: &mut Conn,
    s: &Summary,
    cur: &Current,
    r: &AssetRecord,
    (vendor, class_now): (Option<&'static str>, &'static str),
    name_now: Option<String>,
    ips_now: String,
    software_now: String,
    blob: &[u8],
    history: Option<String>,
    st: &mut MergeStats,
) -> Result<(), DbError> {
    let last = us(r.last_seen);
    let class = if r.class == DeviceClass::Unknown { cur.class.clone() } else { class_now.to_owned() };
    let name = name_now.or(cur.name.clone());
    let ips = if ips_now.is_empty() { cur.ips.clone() } else { ips_now };
    let software = if software_now.is_empty() { cur.software.clone() } else { software_now };
    let mut changed = false;
    for (field, old, new) in [
        ("class", Some(&cur.class), Some(&class)),
        ("name", cur.name.as_ref(), name.as_ref()),
        ("ips", Some(&cur.ips), Some(&ips)),
        ("software", Some(&cur.software), Some(&software)),
    ] {
        if old != new {
            changed = true;
            st.changes += 1;
            st.rows_changed += c.exec(
                "INSERT INTO asset_changes (asset, time, tap, ward, field, old, new) VALUES (?, ?, ?, ?, ?, ?, ?)",
                params![cur.id, last, &s.tap, &s.ward, field, old.cloned(), new.cloned()],
            )?;
        }
    }
    if changed {
        st.changed_assets += 1;
    }
    let mut p: Vec<Value> = vec![
        vendor.map_or(Value::Text(None), Value::Static),
        class.into(),
        name.into(),
        ips.into(),
        software.into(),
        us(r.first_seen).min(cur.first_seen).into(),
        last.into(),
        blob.to_vec().into(),
    ];
    let sql = match history {
        Some(h) => {
            p.push(h.into());
            "UPDATE assets SET vendor = ?, class = ?, name = ?, ips = ?, software = ?, first_seen = ?, \
             last_seen = ?, doc = ?, value_history = ? WHERE id = ?"
        }
        None => {
            "UPDATE assets SET vendor = ?, class = ?, name = ?, ips = ?, software = ?, first_seen = ?, \
             last_seen = ?, doc = ? WHERE id = ?"
        }
    };
    p.push(cur.id.into());
    st.rows_changed += c.exec(sql, &p)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_few_and_cover_everything() {
        assert_eq!(chunks(0), Vec::<usize>::new());
        assert_eq!(chunks(300), vec![128, 128, 32, 8, 4]);
        for n in 0..1000 {
            assert_eq!(chunks(n).iter().sum::<usize>(), n);
        }
        assert_eq!(parse_mac("00:1b:17:00:01:11"), Some(Mac([0, 0x1b, 0x17, 0, 1, 0x11])));
        assert_eq!(parse_mac("00:1b"), None);
        let u = Upsert { head: "INSERT INTO t (a, b, c)", width: 3, tail: "ON CONFLICT DO NOTHING", shared: &[1] };
        assert_eq!(u.sql(2), "INSERT INTO t (a, b, c) VALUES (?2, ?1, ?3), (?4, ?1, ?5) ON CONFLICT DO NOTHING");
        assert_eq!(SIGHTINGS.sql(1).matches('?').count(), SIGHTINGS.width);
        for m in [Mac([0; 6]), Mac([0xff; 6]), Mac([0x00, 0x1b, 0x17, 0, 1, 0x11]), Mac([0x80, 0, 0, 0, 0, 1])] {
            assert_eq!(mac_of_id(mac_id(&m)), Some(m));
        }
        assert_eq!(mac_id(&Mac([0x00, 0x1b, 0x17, 0, 1, 0x11])), 0x001b_1700_0111);
        assert_eq!(mac_of_id(-1), None);
        assert_eq!(mac_of_id(1 << 48), None);
    }

    /// Compact histories leave out only times and taps equal to the entry before, and read back
    /// the same as the full form; a first entry without them is damage, not a guess.
    #[test]
    fn compact_histories_read_back_the_same() {
        let h: Vec<Seen> = [
            ("class", "pump", "classifier", 1, 9, "a"),
            ("ip", "10.0.0.1", "", 1, 9, "a"),
            ("ip", "10.0.0.2", "", 5, 9, "a"),
            ("name", "x", "dhcp", 5, 9, "a"),
            ("name", "y", "dhcp", 5, 9, "b"),
            ("software", "z", "ssh", 5, 9, "b"),
        ]
        .iter()
        .map(|e| (e.0.to_owned(), e.1.to_owned(), e.2.to_owned(), e.3, e.4, e.5.to_owned()))
        .collect();
        let entries = || h.iter().map(|e| (e.0.as_str(), e.1.as_str(), e.2.as_str(), e.3, e.4, e.5.as_str()));
        let compact = history_json(entries(), true).unwrap();
        assert_eq!(
            compact,
            r#"[["class","pump","classifier",1,9,"a"],["ip","10.0.0.1",""],["ip","10.0.0.2","",5,9,"a"],["name","x","dhcp"],["name","y","dhcp",5,9,"b"],["software","z","ssh"]]"#
        );
        assert_eq!(parse_history(&compact).unwrap(), h);
        assert_eq!(parse_history(&history_json(entries(), false).unwrap()).unwrap(), h);
        assert!(parse_history(r#"[["ip","10.0.0.1",""]]"#).is_err());
        assert!(parse_history(r#"[["ip","10.0.0.1","",1]]"#).is_err());
    }

    /// The merge's view of a record gives the same values as the document's.
    #[test]
    fn view_matches_the_document() {
        use wardtap_proto::{text_from, NameSource, SoftwareSource, StrRecord};
        let mut records: Vec<AssetRecord> =
            (0..12).map(|n| super::super::synthetic::asset(3, n, n.into(), 0)).collect();
        let mut r = records[0].clone();
        r.mac = Mac([0x00, 0x1b, 0x17, 0xab, 0xcd, 0xef]);
        r.strings.clear();
        for (kind, text) in [
            (StrKind::DnsQuery, &b"x.example"[..]),
            (StrKind::Name(NameSource::Mdns), b"mon-7.local"),
            (StrKind::Software(SoftwareSource::HttpServer), b"nginx"),
            (StrKind::Name(NameSource::Netbios), b"MON\xff7"),
            (StrKind::Software(SoftwareSource::SshBanner), b"SSH-2.0-\"x\""),
        ] {
            let _ = r.strings.push(StrRecord { kind, text: text_from(text).0 });
        }
        let _ = r.ipv4.push([192, 168, 100, 9]);
        let _ = r.ipv6.push([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        records.push(r.clone());
        r.strings.clear();
        r.ipv4.clear();
        records.push(r);
        for r in &records {
            let (v, a) = (View::of(r), crate::model::Asset::from_record(r));
            assert_eq!(v.vendor, a.vendor.as_deref());
            assert_eq!(v.class, a.class);
            assert_eq!(v.ips, a.ips.join(" "));
            assert_eq!(v.display_name().as_deref(), a.display_name());
            let names: Vec<_> = v.texts("name").map(|n| (n.0.to_owned(), n.1)).collect();
            assert_eq!(names, a.names.iter().map(|n| (n.value.clone(), n.source)).collect::<Vec<_>>());
            let sw: Vec<_> = a.software.iter().map(|s| format!("{} ({})", s.value, s.source)).collect();
            assert_eq!(v.software_text(), sw.join("; "));
            assert_eq!(mac_text(&r.mac), r.mac.to_string());
            let fresh = v.fresh(r);
            let want: Vec<Seen> = fresh
                .iter()
                .map(|(k, val, src)| (k.to_string(), val.to_string(), src.to_string(), 7, 9, "tap \"1\"".to_owned()))
                .collect();
            for compact in [false, true] {
                let entries = fresh.iter().map(|(k, val, src)| (*k, *val, *src, 7, 9, "tap \"1\""));
                let json = history_json(entries, compact).unwrap();
                assert_eq!(parse_history(&json).unwrap(), want, "{json}");
                if !compact {
                    assert_eq!(json, serde_json::to_string(&want).unwrap(), "the form before version 6");
                }
            }
        }
        for b in 0..=255u8 {
            assert_eq!(ip_text(IpAddr::V4([b, 0, 255 - b, b / 3])), IpAddr::V4([b, 0, 255 - b, b / 3]).to_string());
        }
    }
}
