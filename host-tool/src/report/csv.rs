//! CSV files that open safely in Excel: every field quoted, cells that start like a formula
//! (`= + - @`, tab, CR) prefixed with `'`, control characters replaced; optionally a UTF-8
//! byte-order mark so Excel on Windows reads UTF-8.

use super::ReportData;
use crate::db::format::{alert_rows, asset_rows, csv, ledger_rows};

/// `(file name, bytes)` for each CSV file.
pub fn render(r: &ReportData, bom: bool) -> Vec<(&'static str, Vec<u8>)> {
    let mut files = Vec::new();
    let mut put = |name: &'static str, head: &[&str], rows: Vec<Vec<String>>| {
        let mut buf = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = csv(head, &rows, bom, &mut buf);
        files.push((name, buf));
    };
    let (h, rows) = asset_rows(&r.assets);
    put("assets.csv", &h, rows);
    let (h, rows) = alert_rows(&r.alerts);
    put("alerts.csv", &h, rows);
    let (h, rows) = ledger_rows(&r.ledger);
    put("ledger.csv", &h, rows);
    let rows = r
        .checklist
        .iter()
        .flat_map(|i| {
            let mut v =
                vec![vec![i.id.to_owned(), i.title.to_owned(), i.status.to_owned(), i.summary.clone(), String::new()]];
            v.extend(
                i.findings
                    .iter()
                    .map(|f| vec![i.id.to_owned(), String::new(), String::new(), String::new(), f.clone()]),
            );
            v
        })
        .collect();
    put("checklist.csv", &["item", "question", "status", "summary", "finding"], rows);
    files
}
