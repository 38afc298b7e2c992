//! Reading the database: assets (with filters), alerts, the connection-point ledger, history.
//!
//! Everything read here is plain data with `Serialize`; the output formats live in
//! [`super::format`] and [`crate::report`].

use super::backend::{params, Value};
use super::{Db, DbError};
use crate::model::rfc3339_us;
use serde::Serialize;

/// Filters for `wardtap assets`.
#[derive(Debug, Clone, Default)]
pub struct AssetFilter {
    /// Only assets seen in this ward.
    pub ward: Option<String>,
    /// Only this class (`patient_monitor`, ...).
    pub class: Option<String>,
    /// Vendor contains this (case-insensitive).
    pub vendor: Option<String>,
    /// Seen at or after this time (µs since the epoch).
    pub since: Option<i64>,
}

/// One asset as the database knows it.
#[derive(Debug, Clone, Serialize)]
pub struct AssetView {
    /// MAC address.
    pub mac: String,
    /// IEEE vendor.
    pub vendor: Option<String>,
    /// Current class.
    pub class: String,
    /// Current best name.
    pub name: Option<String>,
    /// Current addresses.
    pub ips: Vec<String>,
    /// Wards it was seen in.
    pub wards: Vec<String>,
    /// Taps that saw it.
    pub taps: Vec<String>,
    /// RFC 3339.
    pub first_seen: String,
    /// RFC 3339.
    pub last_seen: String,
    /// µs since the epoch (for sorting and plots).
    #[serde(skip)]
    pub last_seen_us: i64,
    /// The latest full inventory entry (same shape as `wardtap replay`'s assets).
    pub detail: serde_json::Value,
}

impl AssetView {
    /// A string field of the detail document's list (e.g. `"protocols"`).
    pub fn detail_strings(&self, key: &str) -> Vec<String> {
        self.detail
            .get(key)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }
    /// `value (source)` strings of a sourced list (`"names"`, `"software"`).
    pub fn detail_sourced(&self, key: &str) -> Vec<(String, String)> {
        self.detail
            .get(key)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .map(|x| {
                        (
                            x.get("value").and_then(|v| v.as_str()).unwrap_or_default().to_owned(),
                            x.get("source").and_then(|v| v.as_str()).unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    /// Medical identity in one line (DICOM AE titles, HL7 applications).
    pub fn medical_identity(&self) -> String {
        let list = |a: &str, b: &str| -> Vec<String> {
            self.detail
                .get(a)
                .and_then(|v| v.get(b))
                .and_then(|v| v.as_array())
                .map(|x| x.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
                .unwrap_or_default()
        };
        let mut parts = Vec::new();
        let called = list("dicom", "called_ae");
        if !called.is_empty() {
            parts.push(format!("DICOM→{}", called.join("/")));
        }
        let calling = list("dicom", "calling_ae");
        if !calling.is_empty() {
            parts.push(format!("DICOM←{}", calling.join("/")));
        }
        let sending = list("hl7", "sending");
        if !sending.is_empty() {
            parts.push(format!("HL7 {}", sending.join("/")));
        }
        let receiving = list("hl7", "receiving");
        if !receiving.is_empty() {
            parts.push(format!("→{}", receiving.join("/")));
        }
        parts.join(" ")
    }
}

/// One stored alert.
#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    /// Database id (for `wardtap alerts --ack ID`).
    pub id: i64,
    /// Tap that raised it.
    pub tap: String,
    /// Ward of that tap.
    pub ward: String,
    /// The tap's sequence number.
    pub seq: i64,
    /// RFC 3339.
    pub time: String,
    /// µs since the epoch.
    #[serde(skip)]
    pub time_us: i64,
    /// RFC 3339.
    pub last_time: String,
    /// Severity.
    pub severity: String,
    /// Kind.
    pub kind: String,
    /// Local device MAC.
    pub device: String,
    /// Its address.
    pub device_ip: Option<String>,
    /// Other end.
    pub peer: Option<String>,
    /// Transport.
    pub transport: String,
    /// Port.
    pub port: i64,
    /// Repeats.
    pub count: i64,
    /// Evidence.
    pub evidence: String,
    /// `open` or `acknowledged`.
    pub state: String,
    /// Who acknowledged it.
    pub acked_by: Option<String>,
    /// The tap was told it is stored.
    pub tap_acked: bool,
}

/// One connection point to outside the segment.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerView {
    /// Tap.
    pub tap: String,
    /// Ward.
    pub ward: String,
    /// Local device MAC.
    pub device: String,
    /// Its best name, when the database has one.
    pub device_name: Option<String>,
    /// Its class.
    pub device_class: Option<String>,
    /// External endpoint.
    pub endpoint: String,
    /// DNS name or SNI.
    pub name: String,
    /// Transport.
    pub transport: String,
    /// Port.
    pub port: i64,
    /// `outbound` / `inbound`.
    pub direction: String,
    /// RFC 3339.
    pub first_seen: String,
    /// RFC 3339.
    pub last_seen: String,
    /// Bytes.
    pub bytes: i64,
    /// Frames.
    pub frames: i64,
    /// Allowed by policy or baseline.
    pub allowed: bool,
}

/// One stored edge.
#[derive(Debug, Clone, Serialize)]
pub struct EdgeView {
    /// Local device MAC.
    pub asset: String,
    /// Tap.
    pub tap: String,
    /// Peer address.
    pub peer: String,
    /// Transport.
    pub transport: String,
    /// Port.
    pub port: i64,
    /// Direction.
    pub direction: String,
    /// Peer outside the segment.
    pub external: bool,
    /// Frames.
    pub frames: i64,
    /// Bytes.
    pub bytes: i64,
    /// RFC 3339.
    pub last_seen: String,
}

/// A value an asset had, with when.
#[derive(Debug, Clone, Serialize)]
pub struct ValueView {
    /// `ip`, `name`, `class`, `software`.
    pub kind: String,
    /// The value.
    pub value: String,
    /// Where it came from.
    pub source: String,
    /// RFC 3339.
    pub first_seen: String,
    /// RFC 3339.
    pub last_seen: String,
    /// Tap that first reported it.
    pub tap: String,
}

/// A change of an asset's current value.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeView {
    /// RFC 3339.
    pub time: String,
    /// Tap.
    pub tap: String,
    /// Ward.
    pub ward: String,
    /// `class`, `name`, `ips`, `software`.
    pub field: String,
    /// Before.
    pub old: Option<String>,
    /// After.
    pub new: Option<String>,
}

/// An asset's history.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    /// MAC.
    pub mac: String,
    /// Every value with when.
    pub values: Vec<ValueView>,
    /// Changes of the current view.
    pub changes: Vec<ChangeView>,
    /// (tap, ward, first, last).
    pub sightings: Vec<(String, String, String, String)>,
}

/// A tap as the database knows it.
#[derive(Debug, Clone, Serialize)]
pub struct TapView {
    /// Id.
    pub id: String,
    /// Ward.
    pub ward: String,
    /// RFC 3339.
    pub first_pull: String,
    /// RFC 3339.
    pub last_pull: String,
    /// Highest alert sequence stored.
    pub alert_seq: i64,
    /// Latest counters.
    pub counters: serde_json::Value,
}

fn t(us: i64) -> String {
    rfc3339_us(us.max(0) as u64)
}

/// Escapes `%`, `_` and `\` for a `LIKE .. ESCAPE '\'` pattern.
fn like_escape(s: &str) -> String {
    let mut o = String::new();
    for c in s.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

impl Db {
    /// Assets matching `f`, sorted by MAC.
    pub fn assets(&mut self, f: &AssetFilter) -> Result<Vec<AssetView>, DbError> {
        let mut sql = String::from(
            "SELECT a.id, a.mac, a.vendor, a.class, a.name, a.ips, a.first_seen, a.last_seen, a.doc FROM assets a WHERE 1 = 1",
        );
        let mut p: Vec<Value> = Vec::new();
        if let Some(w) = &f.ward {
            sql.push_str(" AND EXISTS (SELECT 1 FROM sightings s WHERE s.asset = a.id AND s.ward = ?)");
            p.push(w.into());
        }
        if let Some(c) = &f.class {
            sql.push_str(" AND a.class = ?");
            p.push(c.into());
        }
        if let Some(v) = &f.vendor {
            sql.push_str(" AND LOWER(COALESCE(a.vendor, '')) LIKE ? ESCAPE '\\'");
            p.push(format!("%{}%", like_escape(v)).into());
        }
        if let Some(s) = f.since {
            sql.push_str(" AND a.last_seen >= ?");
            p.push(s.into());
        }
        sql.push_str(" ORDER BY a.mac");
        let rows = self.conn().query(&sql, &p)?;
        let mut places: std::collections::HashMap<i64, (Vec<String>, Vec<String>)> = Default::default();
        for r in self.conn().query("SELECT asset, tap, ward FROM sightings ORDER BY tap, ward", &[])? {
            let e = places.entry(r[0].int()).or_default();
            let (tap, ward) = (r[1].text(), r[2].text());
            if !e.0.contains(&ward) {
                e.0.push(ward);
            }
            if !e.1.contains(&tap) {
                e.1.push(tap);
            }
        }
        rows.into_iter()
            .map(|r| {
                let (mut wards, mut taps) = places.remove(&r[0].int()).unwrap_or_default();
                wards.sort();
                taps.sort();
                let record: wardtap_proto::AssetRecord = postcard::from_bytes(r[8].bytes())
                    .map_err(|e| DbError::Damaged(format!("asset record of {}: {e}", r[1].text())))?;
                let detail = serde_json::to_value(crate::model::Asset::from_record(&record))
                    .map_err(|e| DbError::Damaged(e.to_string()))?;
                Ok(AssetView {
                    mac: r[1].text(),
                    vendor: r[2].opt_text(),
                    class: r[3].text(),
                    name: r[4].opt_text(),
                    ips: r[5].text().split_whitespace().map(str::to_owned).collect(),
                    wards,
                    taps,
                    first_seen: t(r[6].int()),
                    last_seen: t(r[7].int()),
                    last_seen_us: r[7].int(),
                    detail,
                })
            })
            .collect()
    }

    /// Alerts, newest first; `open_only` hides acknowledged ones.
    pub fn alerts(&mut self, open_only: bool, ward: Option<&str>) -> Result<Vec<AlertView>, DbError> {
        let mut sql = String::from(
            "SELECT id, tap, ward, seq, time, last_time, severity, kind, device, device_ip, peer, transport, port, \
             count, evidence, state, acked_by, tap_acked FROM alerts WHERE 1 = 1",
        );
        let mut p: Vec<Value> = Vec::new();
        if open_only {
            sql.push_str(" AND state = 'open'");
        }
        if let Some(w) = ward {
            sql.push_str(" AND ward = ?");
            p.push(w.into());
        }
        sql.push_str(" ORDER BY time DESC, tap, seq");
        Ok(self
            .conn()
            .query(&sql, &p)?
            .into_iter()
            .map(|r| AlertView {
                id: r[0].int(),
                tap: r[1].text(),
                ward: r[2].text(),
                seq: r[3].int(),
                time: t(r[4].int()),
                time_us: r[4].int(),
                last_time: t(r[5].int()),
                severity: r[6].text(),
                kind: r[7].text(),
                device: r[8].text(),
                device_ip: r[9].opt_text(),
                peer: r[10].opt_text(),
                transport: r[11].text(),
                port: r[12].int(),
                count: r[13].int(),
                evidence: r[14].text(),
                state: r[15].text(),
                acked_by: r[16].opt_text(),
                tap_acked: r[17].int() != 0,
            })
            .collect())
    }

    /// The connection-point ledger, by device then endpoint.
    pub fn ledger(&mut self, ward: Option<&str>) -> Result<Vec<LedgerView>, DbError> {
        // Since schema version 4 the asset's id is its MAC as an integer (the MAC text is not indexed).
        let join = if self.version >= 4 {
            format!("a.id = {}", self.conn().mac_id_sql("l.device"))
        } else {
            "a.mac = l.device".into()
        };
        let mut sql = format!(
            "SELECT l.tap, l.ward, l.device, a.name, a.class, l.endpoint, l.name, l.transport, l.port, l.direction, \
             l.first_seen, l.last_seen, l.bytes, l.frames, l.allowed FROM ledger l LEFT JOIN assets a ON {join} \
             WHERE 1 = 1",
        );
        let mut p: Vec<Value> = Vec::new();
        if let Some(w) = ward {
            sql.push_str(" AND l.ward = ?");
            p.push(w.into());
        }
        sql.push_str(" ORDER BY l.ward, l.device, l.endpoint, l.port");
        Ok(self
            .conn()
            .query(&sql, &p)?
            .into_iter()
            .map(|r| LedgerView {
                tap: r[0].text(),
                ward: r[1].text(),
                device: r[2].text(),
                device_name: r[3].opt_text(),
                device_class: r[4].opt_text(),
                endpoint: r[5].text(),
                name: r[6].text(),
                transport: r[7].text(),
                port: r[8].int(),
                direction: r[9].text(),
                first_seen: t(r[10].int()),
                last_seen: t(r[11].int()),
                bytes: r[12].int(),
                frames: r[13].int(),
                allowed: r[14].int() != 0,
            })
            .collect())
    }

    /// Edges (optionally only external ones).
    pub fn edges(&mut self, external_only: bool) -> Result<Vec<EdgeView>, DbError> {
        let sql = if external_only {
            "SELECT a.mac, e.tap, e.peer, e.transport, e.port, e.direction, e.external, e.frames, e.bytes, e.last_seen \
             FROM edges e JOIN assets a ON a.id = e.asset WHERE e.external = 1 ORDER BY a.mac, e.peer, e.port"
        } else {
            "SELECT a.mac, e.tap, e.peer, e.transport, e.port, e.direction, e.external, e.frames, e.bytes, e.last_seen \
             FROM edges e JOIN assets a ON a.id = e.asset ORDER BY a.mac, e.peer, e.port"
        };
        Ok(self
            .conn()
            .query(sql, &[])?
            .into_iter()
            .map(|r| EdgeView {
                asset: r[0].text(),
                tap: r[1].text(),
                peer: r[2].text(),
                transport: r[3].text(),
                port: r[4].int(),
                direction: r[5].text(),
                external: r[6].int() != 0,
                frames: r[7].int(),
                bytes: r[8].int(),
                last_seen: t(r[9].int()),
            })
            .collect())
    }

    /// Taps known to the database.
    pub fn taps(&mut self) -> Result<Vec<TapView>, DbError> {
        Ok(self
            .conn()
            .query("SELECT id, ward, first_pull, last_pull, alert_seq, counters FROM taps ORDER BY id", &[])?
            .into_iter()
            .map(|r| TapView {
                id: r[0].text(),
                ward: r[1].text(),
                first_pull: t(r[2].int()),
                last_pull: t(r[3].int()),
                alert_seq: r[4].int(),
                counters: serde_json::from_str(&r[5].text()).unwrap_or(serde_json::Value::Null),
            })
            .collect())
    }

    /// The history of one asset.
    pub fn history(&mut self, mac: &str) -> Result<History, DbError> {
        let mac = mac.to_lowercase();
        let missing = || DbError::NotFound(format!("no asset {mac} in the database"));
        let row = if self.version >= 4 {
            // The id is the MAC (schema version 4).
            let m = super::merge::parse_mac(&mac).ok_or_else(missing)?;
            self.conn().query_opt("SELECT id FROM assets WHERE id = ?", params![super::merge::mac_id(&m)])?
        } else {
            self.conn().query_opt("SELECT id FROM assets WHERE mac = ?", params![mac.as_str()])?
        };
        let id = row.map(|r| r[0].int()).ok_or_else(missing)?;
        let mut values = if self.version < 3 {
            // Before schema version 3 (tests of migrations): one row per value.
            self.conn()
                .query(
                    "SELECT kind, value, source, first_seen, last_seen, tap FROM asset_values WHERE asset = ?",
                    params![id],
                )?
                .into_iter()
                .map(|r| (r[0].text(), r[1].text(), r[2].text(), r[3].int(), r[4].int(), r[5].text()))
                .collect()
        } else {
            let json = self
                .conn()
                .query_opt("SELECT value_history FROM assets WHERE id = ?", params![id])?
                .map(|r| r[0].text())
                .unwrap_or_default();
            super::merge::parse_history(&json)?
        };
        values.sort_by(|a, b| (&a.0, a.3, &a.1).cmp(&(&b.0, b.3, &b.1)));
        let values = values
            .into_iter()
            .map(|(kind, value, source, first, last, tap)| ValueView {
                kind,
                value,
                source,
                first_seen: t(first),
                last_seen: t(last),
                tap,
            })
            .collect();
        let changes = self
            .conn()
            .query(
                "SELECT time, tap, ward, field, old, new FROM asset_changes WHERE asset = ? ORDER BY time, id",
                params![id],
            )?
            .into_iter()
            .map(|r| ChangeView {
                time: t(r[0].int()),
                tap: r[1].text(),
                ward: r[2].text(),
                field: r[3].text(),
                old: r[4].opt_text(),
                new: r[5].opt_text(),
            })
            .collect();
        let sightings = self
            .conn()
            .query("SELECT tap, ward, first_seen, last_seen FROM sightings WHERE asset = ? ORDER BY tap", params![id])?
            .into_iter()
            .map(|r| (r[0].text(), r[1].text(), t(r[2].int()), t(r[3].int())))
            .collect();
        Ok(History { mac, values, changes, sightings })
    }

    /// Every row of every table as text, in a stable order: for tests that compare states.
    pub fn dump(&mut self) -> Result<Vec<String>, DbError> {
        let mut out = Vec::new();
        for (table, order) in [
            ("taps", "id"),
            ("assets", "mac"),
            ("sightings", "asset, tap, ward"),
            ("asset_changes", "asset, time, field, id"),
            ("edges", "asset, tap, peer, transport, port, direction"),
            ("alerts", "tap, seq"),
            ("ledger", "tap, device, endpoint, transport, port, direction"),
            ("asset_values", "asset, kind, value"), // before schema version 3 only
        ] {
            if table == "asset_values" && self.version >= 3 {
                continue;
            }
            for r in self.conn().query(&format!("SELECT * FROM {table} ORDER BY {order}"), &[])? {
                let cells: Vec<String> = r.iter().map(|v| format!("{v:?}")).collect();
                out.push(format!("{table}: {}", cells.join(" | ")));
            }
        }
        Ok(out)
    }

    /// Distinct wards, sorted.
    pub fn wards(&mut self) -> Result<Vec<String>, DbError> {
        Ok(self
            .conn()
            .query("SELECT DISTINCT ward FROM sightings ORDER BY ward", &[])?
            .iter()
            .map(|r| r[0].text())
            .collect())
    }
}
