//! Output formats for the inventory document: a terminal table, one JSON document, CSV.
//!
//! Every string in the document may have come from the wire. The table replaces control
//! characters; CSV quotes every field and neutralises cells that a spreadsheet would run as
//! a formula; JSON escapes by construction.

use crate::model::{Asset, Document};
use std::io::{self, Write};

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// One JSON document `{"schema_version", "assets", "edges", "counters"}`.
    Json,
    /// One row per asset.
    Csv,
}

/// Writes `doc` in `format`.
pub fn write(doc: &Document, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, doc)?;
            writeln!(out)
        }
        Format::Csv => write_csv(doc, out),
        Format::Table => write_table(doc, out),
    }
}

/// Replaces control characters (terminal escapes included) with `?` and cuts to `max` chars.
pub fn safe_cell(s: &str, max: usize) -> String {
    let mut out: String = s.chars().map(|c| if c.is_control() { '?' } else { c }).take(max).collect();
    if s.chars().count() > max {
        out.pop();
        out.push('…');
    }
    out
}

fn names(a: &Asset) -> String {
    let mut v: Vec<&str> = Vec::new();
    if let Some(n) = a.display_name() {
        v.push(n);
    }
    for n in &a.names {
        if !v.contains(&n.value.as_str()) {
            v.push(&n.value);
        }
    }
    v.join(", ")
}

fn medical_identity(a: &Asset) -> String {
    let mut parts = Vec::new();
    if !a.dicom.called_ae.is_empty() {
        parts.push(format!("DICOM→{}", a.dicom.called_ae.join("/")));
    }
    if !a.dicom.calling_ae.is_empty() {
        parts.push(format!("DICOM←{}", a.dicom.calling_ae.join("/")));
    }
    if !a.hl7.sending.is_empty() {
        parts.push(format!("HL7 {}", a.hl7.sending.join("/")));
    }
    if !a.hl7.receiving.is_empty() {
        parts.push(format!("→{}", a.hl7.receiving.join("/")));
    }
    parts.join(" ")
}

fn write_table(doc: &Document, out: &mut dyn Write) -> io::Result<()> {
    let rows: Vec<[String; 7]> = doc
        .assets
        .iter()
        .map(|a| {
            [
                a.mac.clone(),
                safe_cell(a.vendor.as_deref().unwrap_or("-"), 24),
                safe_cell(&a.ips.join(" "), 40),
                safe_cell(&names(a), 40),
                a.class.to_owned(),
                safe_cell(&medical_identity(a), 48),
                safe_cell(&a.evidence, 48),
            ]
        })
        .collect();
    columns(out, &["MAC", "VENDOR", "ADDRESSES", "NAMES", "CLASS", "MEDICAL IDENTITY", "EVIDENCE"], &rows)?;
    let external: std::collections::BTreeSet<&str> =
        doc.edges.iter().filter(|e| e.external).map(|e| e.peer.as_str()).collect();
    writeln!(
        out,
        "\n{} assets, {} edges ({} external endpoints); {} frames, {} bytes",
        doc.assets.len(),
        doc.edges.len(),
        external.len(),
        doc.counters.get("frames").copied().unwrap_or(0),
        doc.counters.get("bytes").copied().unwrap_or(0),
    )?;
    let pressure: Vec<String> = doc
        .counters
        .iter()
        .filter(|(k, v)| **v > 0 && (k.ends_with("_evicted") || k.contains("dropped") || k.starts_with("malformed_")))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !pressure.is_empty() {
        writeln!(out, "counted: {}", pressure.join(" "))?;
    }
    let name_of =
        |mac: &str| doc.assets.iter().find(|a| a.mac == mac).and_then(|a| a.display_name()).unwrap_or(mac).to_owned();
    if !doc.alerts.is_empty() {
        writeln!(out, "\nALERTS")?;
        let rows: Vec<[String; 7]> = doc
            .alerts
            .iter()
            .map(|a| {
                [
                    a.seq.to_string(),
                    a.time.get(..19).unwrap_or(&a.time).replace('T', " "),
                    a.severity.to_owned(),
                    a.kind.to_owned(),
                    safe_cell(&name_of(&a.device), 28),
                    a.peer
                        .as_deref()
                        .map(|p| if a.port > 0 { format!("{p}:{}", a.port) } else { p.to_owned() })
                        .unwrap_or_default(),
                    safe_cell(
                        &format!(
                            "{}{}",
                            a.evidence,
                            if a.count > 1 { format!(" (x{})", a.count) } else { String::new() }
                        ),
                        72,
                    ),
                ]
            })
            .collect();
        columns(out, &["SEQ", "TIME (UTC)", "SEVERITY", "KIND", "DEVICE", "PEER", "EVIDENCE"], &rows)?;
    }
    if !doc.ledger.is_empty() {
        writeln!(out, "\nCONNECTION POINTS OUTSIDE THE SEGMENT")?;
        let rows: Vec<[String; 7]> = doc
            .ledger
            .iter()
            .map(|l| {
                [
                    safe_cell(&name_of(&l.device), 28),
                    format!("{} {}/{}", l.endpoint, l.transport, l.port),
                    safe_cell(l.name.as_deref().unwrap_or("-"), 40),
                    l.direction.to_owned(),
                    l.bytes.to_string(),
                    l.last_seen.replace('T', " ").trim_end_matches('Z').to_owned(),
                    if l.allowed { "allowed" } else { "not allowed" }.to_owned(),
                ]
            })
            .collect();
        columns(out, &["DEVICE", "ENDPOINT", "NAME", "DIRECTION", "BYTES", "LAST SEEN (UTC)", "POLICY"], &rows)?;
    }
    Ok(())
}

/// Writes `head` and `rows` as left-aligned columns two spaces apart (cells as given: callers
/// pass them through [`safe_cell`]).
pub fn columns<R: AsRef<[String]>>(out: &mut dyn Write, head: &[&str], rows: &[R]) -> io::Result<()> {
    let mut width: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in width.iter_mut().zip(r.as_ref()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let mut s = String::new();
        for (i, c) in cells.enumerate() {
            s.push_str(c);
            let pad = width.get(i).copied().unwrap_or(0).saturating_sub(c.chars().count()) + 2;
            s.extend(std::iter::repeat_n(' ', pad));
        }
        s.trim_end().to_owned()
    };
    writeln!(out, "{}", line(&mut head.iter().copied()))?;
    for r in rows {
        writeln!(out, "{}", line(&mut r.as_ref().iter().map(String::as_str)))?;
    }
    Ok(())
}

/// Quotes one CSV field; a cell that starts like a formula gets a leading `'`.
pub fn csv_field(s: &str) -> String {
    let neutral = match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_owned(),
    };
    format!("\"{}\"", neutral.replace('"', "\"\""))
}

fn write_csv(doc: &Document, out: &mut dyn Write) -> io::Result<()> {
    let head = [
        "mac",
        "vendor",
        "ips",
        "names",
        "class",
        "evidence",
        "first_seen",
        "last_seen",
        "protocols",
        "software",
        "services",
        "dhcp_fingerprint",
        "dicom_called_ae",
        "dicom_calling_ae",
        "hl7_sending",
        "hl7_receiving",
        "tls_sni",
        "cleartext",
    ];
    writeln!(out, "{}", head.join(","))?;
    for a in &doc.assets {
        let sourced = |v: &[crate::model::Sourced]| {
            v.iter().map(|s| format!("{} ({})", s.value, s.source)).collect::<Vec<_>>().join("; ")
        };
        let cells = [
            a.mac.clone(),
            a.vendor.clone().unwrap_or_default(),
            a.ips.join(" "),
            sourced(&a.names),
            a.class.to_owned(),
            a.evidence.clone(),
            a.first_seen.clone(),
            a.last_seen.clone(),
            a.protocols.join(" "),
            sourced(&a.software),
            a.services.join(" "),
            a.dhcp_fingerprint.clone().unwrap_or_default(),
            a.dicom.called_ae.join("; "),
            a.dicom.calling_ae.join("; "),
            a.hl7.sending.join("; "),
            a.hl7.receiving.join("; "),
            a.tls_sni.join("; "),
            a.cleartext.join(" "),
        ];
        let row: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
        writeln!(out, "{}", row.join(","))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_neutralises_formulas_and_quotes() {
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(csv_field("plain"), "\"plain\"");
    }

    #[test]
    fn table_cells_lose_control_characters() {
        assert_eq!(safe_cell("a\x1b[31mb\n", 20), "a?[31mb?");
        assert_eq!(safe_cell("abcdef", 4), "abc…");
    }
}
