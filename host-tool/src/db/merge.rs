//! Merging one summary into the database (inside the caller's transaction).
//!
//! Rules, chosen so that merging is idempotent and independent of the order summaries arrive in:
//! - An asset's *current* view (class, name, addresses, software, the full document) follows
//!   the summary that saw it last; a summary that is not newer changes only first-seen times.
//!   A missing value (no name yet after a tap restart, class `unknown`) never replaces a known one.
//! - Every change of the current class, name, addresses or software is one `asset_changes` row.
//! - Every address, name, class and software string ever seen is one `asset_values` row with the
//!   first and last time it was seen: the history of an asset.
//! - Sightings (asset, tap, ward), edges, the ledger and the tap row keep min(first)/max(last);
//!   counts follow the newest summary. Alerts are keyed by (tap, sequence number).
//! - Every upsert has a `WHERE` that is false when nothing would change, so a repeated summary
//!   writes no row (`MergeStats::rows_changed` is 0).

use super::backend::{params, Conn, Value};
use super::{DbError, Summary};
use crate::model::Asset;
use std::collections::HashMap;
use wardtap_proto::{AssetRecord, DeviceClass};

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

struct Current {
    id: i64,
    class: String,
    name: Option<String>,
    ips: String,
    software: String,
    first_seen: i64,
    last_seen: i64,
}

/// The per-asset values derived once from a record.
struct Derived {
    mac: String,
    doc: String,
    asset: Asset,
    ips: String,
    software: String,
}

fn derive(r: &AssetRecord) -> Result<Derived, DbError> {
    let asset = Asset::from_record(r);
    let doc = serde_json::to_string(&asset).map_err(|e| DbError::Damaged(e.to_string()))?;
    let ips = asset.ips.join(" ");
    let software = asset.software.iter().map(|s| format!("{} ({})", s.value, s.source)).collect::<Vec<_>>().join("; ");
    Ok(Derived { mac: asset.mac.clone(), doc, asset, ips, software })
}

const UPSERT_VALUE: &str = "INSERT INTO asset_values (asset, kind, value, source, first_seen, last_seen, tap) \
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (asset, kind, value) DO UPDATE SET \
     first_seen = CASE WHEN excluded.first_seen < asset_values.first_seen THEN excluded.first_seen ELSE asset_values.first_seen END, \
     last_seen = CASE WHEN excluded.last_seen > asset_values.last_seen THEN excluded.last_seen ELSE asset_values.last_seen END \
     WHERE excluded.first_seen < asset_values.first_seen OR excluded.last_seen > asset_values.last_seen";

const UPSERT_SIGHTING: &str = "INSERT INTO sightings \
     (asset, tap, ward, first_seen, last_seen, frames_tx, frames_rx, bytes_tx, bytes_rx) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
     ON CONFLICT (asset, tap, ward) DO UPDATE SET \
     first_seen = CASE WHEN excluded.first_seen < sightings.first_seen THEN excluded.first_seen ELSE sightings.first_seen END, \
     last_seen = CASE WHEN excluded.last_seen > sightings.last_seen THEN excluded.last_seen ELSE sightings.last_seen END, \
     frames_tx = CASE WHEN excluded.last_seen > sightings.last_seen THEN excluded.frames_tx ELSE sightings.frames_tx END, \
     frames_rx = CASE WHEN excluded.last_seen > sightings.last_seen THEN excluded.frames_rx ELSE sightings.frames_rx END, \
     bytes_tx = CASE WHEN excluded.last_seen > sightings.last_seen THEN excluded.bytes_tx ELSE sightings.bytes_tx END, \
     bytes_rx = CASE WHEN excluded.last_seen > sightings.last_seen THEN excluded.bytes_rx ELSE sightings.bytes_rx END \
     WHERE excluded.first_seen < sightings.first_seen OR excluded.last_seen > sightings.last_seen";

const UPSERT_EDGE: &str = "INSERT INTO edges \
     (asset, tap, peer, transport, port, direction, external, frames, bytes, first_seen, last_seen) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
     ON CONFLICT (asset, tap, peer, transport, port, direction) DO UPDATE SET \
     first_seen = CASE WHEN excluded.first_seen < edges.first_seen THEN excluded.first_seen ELSE edges.first_seen END, \
     last_seen = CASE WHEN excluded.last_seen > edges.last_seen THEN excluded.last_seen ELSE edges.last_seen END, \
     external = CASE WHEN excluded.last_seen > edges.last_seen THEN excluded.external ELSE edges.external END, \
     frames = CASE WHEN excluded.last_seen > edges.last_seen THEN excluded.frames ELSE edges.frames END, \
     bytes = CASE WHEN excluded.last_seen > edges.last_seen THEN excluded.bytes ELSE edges.bytes END \
     WHERE excluded.first_seen < edges.first_seen OR excluded.last_seen > edges.last_seen";

const UPSERT_ALERT: &str = "INSERT INTO alerts \
     (tap, ward, seq, time, last_time, severity, kind, device, device_ip, peer, transport, port, count, evidence) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
     ON CONFLICT (tap, seq) DO UPDATE SET \
     last_time = CASE WHEN excluded.last_time > alerts.last_time THEN excluded.last_time ELSE alerts.last_time END, \
     count = CASE WHEN excluded.count > alerts.count THEN excluded.count ELSE alerts.count END \
     WHERE excluded.last_time > alerts.last_time OR excluded.count > alerts.count";

const UPSERT_LEDGER: &str = "INSERT INTO ledger \
     (tap, ward, device, endpoint, transport, port, direction, name, first_seen, last_seen, bytes, frames, allowed) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
     ON CONFLICT (tap, device, endpoint, transport, port, direction) DO UPDATE SET \
     first_seen = CASE WHEN excluded.first_seen < ledger.first_seen THEN excluded.first_seen ELSE ledger.first_seen END, \
     last_seen = CASE WHEN excluded.last_seen > ledger.last_seen THEN excluded.last_seen ELSE ledger.last_seen END, \
     name = CASE WHEN excluded.name <> '' AND excluded.last_seen >= ledger.last_seen THEN excluded.name ELSE ledger.name END, \
     bytes = CASE WHEN excluded.last_seen > ledger.last_seen THEN excluded.bytes ELSE ledger.bytes END, \
     frames = CASE WHEN excluded.last_seen > ledger.last_seen THEN excluded.frames ELSE ledger.frames END, \
     allowed = CASE WHEN excluded.last_seen > ledger.last_seen THEN excluded.allowed ELSE ledger.allowed END \
     WHERE excluded.first_seen < ledger.first_seen OR excluded.last_seen > ledger.last_seen \
     OR (excluded.name <> '' AND excluded.name <> ledger.name AND excluded.last_seen >= ledger.last_seen)";

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

pub(super) fn merge(c: &mut Conn, s: &Summary) -> Result<MergeStats, DbError> {
    let mut st = MergeStats::default();
    let counters = serde_json::to_string(&crate::model::counters_map(&s.counters, None))
        .map_err(|e| DbError::Damaged(e.to_string()))?;
    st.rows_changed +=
        c.exec(UPSERT_TAP, params![&s.tap, &s.ward, us(s.time), us(s.time), s.max_alert_seq(), counters])?;
    let mut ids: HashMap<String, i64> = HashMap::with_capacity(s.assets.len());
    for r in &s.assets {
        let d = derive(r)?;
        let id = merge_asset(c, s, r, &d, &mut st)?;
        ids.insert(d.mac, id);
    }
    for e in &s.edges {
        let mac = e.asset.to_string();
        let id = match ids.get(&mac) {
            Some(id) => *id,
            None => match c.query_opt("SELECT id FROM assets WHERE mac = ?", params![mac.as_str()])? {
                Some(row) => {
                    let id = row.first().map(Value::int).unwrap_or(0);
                    ids.insert(mac, id);
                    id
                }
                None => {
                    st.orphan_edges += 1;
                    continue;
                }
            },
        };
        st.rows_changed += c.exec(
            UPSERT_EDGE,
            params![
                id,
                &s.tap,
                e.peer.to_string(),
                e.transport.name(),
                e.port,
                e.direction.name(),
                e.external,
                e.frames,
                e.bytes,
                i64::from(e.first_seen) * 1_000_000,
                i64::from(e.last_seen) * 1_000_000,
            ],
        )?;
    }
    for a in &s.alerts {
        let existed = c.query_opt("SELECT id FROM alerts WHERE tap = ? AND seq = ?", params![&s.tap, a.seq])?.is_some();
        let n = c.exec(
            UPSERT_ALERT,
            params![
                &s.tap,
                &s.ward,
                a.seq,
                us(a.time),
                us(a.last_time.max(a.time)),
                &a.severity,
                &a.kind,
                a.device.to_string(),
                a.device_ip.map(|i| i.to_string()),
                a.peer.map(|i| i.to_string()),
                &a.transport,
                a.port,
                a.count,
                &a.evidence,
            ],
        )?;
        if !existed && n > 0 {
            st.new_alerts += 1;
        }
        st.rows_changed += n;
    }
    for l in &s.ledger {
        st.rows_changed += c.exec(
            UPSERT_LEDGER,
            params![
                &s.tap,
                &s.ward,
                l.device.to_string(),
                l.endpoint.to_string(),
                &l.transport,
                l.port,
                &l.direction,
                &l.name,
                us(l.first_seen),
                us(l.last_seen),
                l.bytes,
                l.frames,
                l.allowed,
            ],
        )?;
    }
    Ok(st)
}

fn merge_asset(c: &mut Conn, s: &Summary, r: &AssetRecord, d: &Derived, st: &mut MergeStats) -> Result<i64, DbError> {
    let first = us(r.first_seen);
    let last = us(r.last_seen);
    let a = &d.asset;
    let name = a.display_name().map(str::to_owned);
    let row = c.query_opt(
        "SELECT id, class, name, ips, software, first_seen, last_seen FROM assets WHERE mac = ?",
        params![d.mac.as_str()],
    )?;
    let cur = row.map(|r| Current {
        id: r.first().map(Value::int).unwrap_or(0),
        class: r.get(1).map(Value::text).unwrap_or_default(),
        name: r.get(2).and_then(Value::opt_text),
        ips: r.get(3).map(Value::text).unwrap_or_default(),
        software: r.get(4).map(Value::text).unwrap_or_default(),
        first_seen: r.get(5).map(Value::int).unwrap_or(0),
        last_seen: r.get(6).map(Value::int).unwrap_or(0),
    });
    // When values new in this summary were first seen: for a known asset, no earlier than the
    // last time the database saw it (they were not there then, or the tap had not kept them).
    let (id, values_first) = match cur {
        None => {
            let rows = c.query_write(
                "INSERT INTO assets (mac, vendor, class, name, ips, software, first_seen, last_seen, doc) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                params![
                    d.mac.as_str(),
                    a.vendor.clone(),
                    a.class,
                    name.clone(),
                    &d.ips,
                    &d.software,
                    first,
                    last,
                    &d.doc
                ],
            )?;
            let id = rows.first().and_then(|r| r.first()).map(Value::int).unwrap_or(0);
            st.new_assets += 1;
            st.rows_changed += 1;
            (id, first)
        }
        Some(cur) if last > cur.last_seen => {
            // Newer: the current view follows this summary, unknowns never replace knowns.
            let class = if r.class == DeviceClass::Unknown { cur.class.clone() } else { a.class.to_owned() };
            let name = name.clone().or(cur.name.clone());
            let ips = if d.ips.is_empty() { cur.ips.clone() } else { d.ips.clone() };
            let software = if d.software.is_empty() { cur.software.clone() } else { d.software.clone() };
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
            st.rows_changed += c.exec(
                "UPDATE assets SET vendor = ?, class = ?, name = ?, ips = ?, software = ?, first_seen = ?, \
                 last_seen = ?, doc = ? WHERE id = ?",
                params![a.vendor.clone(), class, name, ips, software, first.min(cur.first_seen), last, &d.doc, cur.id],
            )?;
            (cur.id, first.max(cur.last_seen))
        }
        Some(cur) => {
            if first < cur.first_seen {
                st.rows_changed += c.exec("UPDATE assets SET first_seen = ? WHERE id = ?", params![first, cur.id])?;
            }
            (cur.id, if last == cur.last_seen { last } else { first })
        }
    };
    st.rows_changed += c.exec(
        UPSERT_SIGHTING,
        params![id, &s.tap, &s.ward, first, last, r.frames_tx, r.frames_rx, r.bytes_tx, r.bytes_rx],
    )?;
    let vf = values_first.min(last);
    let mut value = |c: &mut Conn, kind: &str, v: &str, source: &str| -> Result<(), DbError> {
        st.rows_changed += c.exec(UPSERT_VALUE, params![id, kind, v, source, vf, last, &s.tap])?;
        Ok(())
    };
    if r.class != DeviceClass::Unknown {
        value(c, "class", a.class, "classifier")?;
    }
    for ip in &a.ips {
        value(c, "ip", ip, "")?;
    }
    for n in &a.names {
        value(c, "name", &n.value, n.source)?;
    }
    for sw in &a.software {
        value(c, "software", &sw.value, sw.source)?;
    }
    Ok(id)
}
