//! `wardtap assets | alerts | ledger` output: table, JSON, CSV — the same escaping rules as
//! [`crate::output`] (control characters replaced in tables, formulas neutralised in CSV, JSON
//! escaped by construction).

use super::query::{AlertView, AssetView, History, LedgerView};
use crate::output::{columns, csv_field, safe_cell, Format};
use serde::Serialize;
use std::io::{self, Write};

/// Version of the JSON these commands print (`{"schema_version", "<what>": [...]}`).
pub const JSON_VERSION: u32 = 1;

fn json<T: Serialize>(key: &str, items: &[T], out: &mut dyn Write) -> io::Result<()> {
    let mut m = serde_json::Map::new();
    m.insert("schema_version".into(), JSON_VERSION.into());
    m.insert(key.into(), serde_json::to_value(items).map_err(io::Error::other)?);
    serde_json::to_writer_pretty(&mut *out, &m)?;
    writeln!(out)
}

/// Aligned columns; every cell passed through [`safe_cell`].
pub fn table(head: &[&str], rows: &[Vec<String>], out: &mut dyn Write) -> io::Result<()> {
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| safe_cell(c, 48)).collect()).collect();
    columns(out, head, &rows)
}

/// CSV with every field quoted and neutralised (formulas prefixed with `'`, control characters
/// other than tab replaced with U+FFFD); `bom` prefixes a UTF-8 byte-order mark (Excel).
pub fn csv(head: &[&str], rows: &[Vec<String>], bom: bool, out: &mut dyn Write) -> io::Result<()> {
    if bom {
        out.write_all("\u{feff}".as_bytes())?;
    }
    writeln!(out, "{}", head.join(","))?;
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .map(|c| {
                let clean: String =
                    c.chars().map(|ch| if ch.is_control() && ch != '\t' { '\u{fffd}' } else { ch }).collect();
                csv_field(&clean)
            })
            .collect();
        writeln!(out, "{}", cells.join(","))?;
    }
    Ok(())
}

/// Column names and rows of the asset list.
pub fn asset_rows(assets: &[AssetView]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let head = vec![
        "mac",
        "vendor",
        "class",
        "name",
        "ips",
        "wards",
        "taps",
        "first_seen",
        "last_seen",
        "medical_identity",
        "software",
    ];
    let rows = assets
        .iter()
        .map(|a| {
            vec![
                a.mac.clone(),
                a.vendor.clone().unwrap_or_default(),
                a.class.clone(),
                a.name.clone().unwrap_or_default(),
                a.ips.join(" "),
                a.wards.join(" "),
                a.taps.join(" "),
                a.first_seen.clone(),
                a.last_seen.clone(),
                a.medical_identity(),
                a.detail_sourced("software").iter().map(|(v, s)| format!("{v} ({s})")).collect::<Vec<_>>().join("; "),
            ]
        })
        .collect();
    (head, rows)
}

/// Column names and rows of the alert list.
pub fn alert_rows(alerts: &[AlertView]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let head = vec![
        "id",
        "time",
        "severity",
        "kind",
        "ward",
        "tap",
        "device",
        "device_ip",
        "peer",
        "port",
        "count",
        "state",
        "evidence",
    ];
    let rows = alerts
        .iter()
        .map(|a| {
            vec![
                a.id.to_string(),
                a.time.clone(),
                a.severity.clone(),
                a.kind.clone(),
                a.ward.clone(),
                a.tap.clone(),
                a.device.clone(),
                a.device_ip.clone().unwrap_or_default(),
                a.peer.clone().unwrap_or_default(),
                if a.port == 0 { String::new() } else { format!("{}/{}", a.transport, a.port) },
                a.count.to_string(),
                a.state.clone(),
                a.evidence.clone(),
            ]
        })
        .collect();
    (head, rows)
}

/// Column names and rows of the ledger.
pub fn ledger_rows(ledger: &[LedgerView]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let head = vec![
        "ward",
        "device",
        "device_name",
        "class",
        "endpoint",
        "name",
        "service",
        "direction",
        "first_seen",
        "last_seen",
        "bytes",
        "allowed",
    ];
    let rows = ledger
        .iter()
        .map(|l| {
            vec![
                l.ward.clone(),
                l.device.clone(),
                l.device_name.clone().unwrap_or_default(),
                l.device_class.clone().unwrap_or_default(),
                l.endpoint.clone(),
                l.name.clone(),
                format!("{}/{}", l.transport, l.port),
                l.direction.clone(),
                l.first_seen.clone(),
                l.last_seen.clone(),
                l.bytes.to_string(),
                if l.allowed { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    (head, rows)
}

fn write_rows<T: Serialize>(
    key: &str,
    items: &[T],
    (head, rows): (Vec<&'static str>, Vec<Vec<String>>),
    format: Format,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => json(key, items, out),
        Format::Csv => csv(&head, &rows, false, out),
        Format::Table => {
            let upper: Vec<String> = head.iter().map(|h| h.to_uppercase()).collect();
            let upper: Vec<&str> = upper.iter().map(String::as_str).collect();
            table(&upper, &rows, out)?;
            writeln!(out, "\n{} {key}", items.len())
        }
    }
}

/// Writes the asset list.
pub fn write_assets(assets: &[AssetView], format: Format, out: &mut dyn Write) -> io::Result<()> {
    write_rows("assets", assets, asset_rows(assets), format, out)
}

/// Writes the alert list.
pub fn write_alerts(alerts: &[AlertView], format: Format, out: &mut dyn Write) -> io::Result<()> {
    write_rows("alerts", alerts, alert_rows(alerts), format, out)
}

/// Writes the ledger.
pub fn write_ledger(ledger: &[LedgerView], format: Format, out: &mut dyn Write) -> io::Result<()> {
    write_rows("ledger", ledger, ledger_rows(ledger), format, out)
}

/// Writes one asset's history.
pub fn write_history(h: &History, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, h)?;
            writeln!(out)
        }
        Format::Csv => {
            let rows: Vec<Vec<String>> = h
                .changes
                .iter()
                .map(|c| {
                    vec![
                        c.time.clone(),
                        c.tap.clone(),
                        c.ward.clone(),
                        c.field.clone(),
                        c.old.clone().unwrap_or_default(),
                        c.new.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            csv(&["time", "tap", "ward", "field", "old", "new"], &rows, false, out)
        }
        Format::Table => {
            writeln!(out, "{}", safe_cell(&h.mac, 17))?;
            writeln!(out, "\nSEEN BY")?;
            let rows: Vec<Vec<String>> =
                h.sightings.iter().map(|(t, w, f, l)| vec![t.clone(), w.clone(), f.clone(), l.clone()]).collect();
            table(&["TAP", "WARD", "FIRST SEEN", "LAST SEEN"], &rows, out)?;
            writeln!(out, "\nVALUES")?;
            let rows: Vec<Vec<String>> = h
                .values
                .iter()
                .map(|v| {
                    vec![v.kind.clone(), v.value.clone(), v.source.clone(), v.first_seen.clone(), v.last_seen.clone()]
                })
                .collect();
            table(&["KIND", "VALUE", "SOURCE", "FIRST SEEN", "LAST SEEN"], &rows, out)?;
            writeln!(out, "\nCHANGES")?;
            let rows: Vec<Vec<String>> = h
                .changes
                .iter()
                .map(|c| {
                    vec![
                        c.time.clone(),
                        c.ward.clone(),
                        c.field.clone(),
                        c.old.clone().unwrap_or_default(),
                        c.new.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            table(&["TIME", "WARD", "FIELD", "OLD", "NEW"], &rows, out)
        }
    }
}
