//! The JSON report for CMDB import. Its shape is versioned ([`VERSION`]) and documented by a
//! JSON Schema ([`SCHEMA`], written beside the report as `wardtap-report.schema.json`).
//! Fields are only ever added within a version; a removal or change of meaning bumps it.

use super::ReportData;
use serde_json::json;

/// The report's schema identifier.
pub const VERSION: &str = "wardtap-report/1";

/// JSON Schema (draft 2020-12) of the report.
pub const SCHEMA: &str = include_str!("schema.json");

/// The report as one JSON document.
pub fn render(r: &ReportData) -> String {
    let medical = r
        .assets
        .iter()
        .filter(|a| {
            matches!(a.class.as_str(), "imaging_modality" | "pacs" | "hl7_engine" | "patient_monitor" | "infusion_pump")
        })
        .count();
    let doc = json!({
        "schema": VERSION,
        "generated_at": r.generated_at,
        "ward": r.ward,
        "summary": {
            "assets": r.assets.len(),
            "medical_assets": medical,
            "wards": r.assets.iter().flat_map(|a| a.wards.iter()).collect::<std::collections::BTreeSet<_>>().len(),
            "taps": r.taps.len(),
            "connection_points": r.ledger.len(),
            "open_alerts": r.open_alerts().count(),
        },
        "taps": r.taps,
        "assets": r.assets,
        "ledger": r.ledger,
        "alerts": r.alerts,
        "checklist": r.checklist,
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}
