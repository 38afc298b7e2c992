//! Hostile strings from the wire — markup, spreadsheet formulas, terminal escapes, NUL,
//! invalid UTF-8 — in every output format: the HTML report, the CSV files, the JSON report, and
//! the `assets` / `alerts` / `ledger` commands in table, CSV and JSON.

mod db_support;
mod report_support;

use db_support::TempDir;
use report_support::*;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_wardtap");

fn run(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("output is UTF-8")
}

/// Every field of a CSV text (quoted fields, `""` escapes), per line.
fn csv_fields(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.trim_start_matches('\u{feff}').chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

fn assert_csv_safe(name: &str, text: &str) {
    let rows = csv_fields(text);
    assert!(rows.len() > 1, "{name} has rows");
    let width = rows[0].len();
    for r in &rows {
        assert_eq!(r.len(), width, "{name}: a hostile string broke the row: {r:?}");
        for f in r {
            assert!(!f.starts_with(['=', '+', '-', '@', '\t', '\r']), "{name}: formula cell {f:?}");
            assert!(!f.chars().any(|c| c.is_control() && c != '\t'), "{name}: control character in {f:?}");
        }
    }
}

fn assert_html_safe(html: &str) {
    // Only our own script element; the hostile ones are text.
    assert_eq!(html.matches("<script").count(), 1, "exactly one (our) script element");
    assert!(!html.contains("<img"), "no injected element");
    assert!(!html.contains("</td></tr></table><b>"), "no broken-out markup");
    assert!(!html.contains('\u{1b}') && !html.contains('\0'), "no control characters");
    assert!(html.contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("ICU &lt;b&gt;&amp;amp;&lt;/b&gt;"), "ward names escaped too");
    assert!(html.contains("\u{fffd}\u{fffd}&lt;ok&gt;"), "invalid UTF-8 shown replaced");
}

#[test]
fn report_in_every_format_neutralises_hostile_strings() {
    let dir = TempDir::new("hostile");
    let db = dir.file("assets.db");
    hostile_db(&db);
    let out = dir.file("report");
    run(&["report", "--db", &db, "--format", "html", "--format", "csv", "--format", "json", "--bom", "--out", &out]);
    let read = |n: &str| std::fs::read_to_string(dir.path().join("report").join(n)).unwrap();

    assert_html_safe(&read("wardtap-report.html"));

    for f in ["assets.csv", "alerts.csv", "ledger.csv", "checklist.csv"] {
        let text = read(f);
        assert!(text.starts_with('\u{feff}'), "{f}: --bom");
        assert_csv_safe(f, &text);
    }
    let assets = read("assets.csv");
    assert!(assets.contains("'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")"), "formula kept, neutralised");

    let json: serde_json::Value = serde_json::from_str(&read("wardtap-report.json")).unwrap();
    assert_eq!(json["schema"], "wardtap-report/1");
    let text = json.to_string();
    assert!(text.contains("<script>document.title='pwned'</script>"), "JSON keeps the value, escaped by JSON");
    let names = json["assets"].as_array().unwrap().iter().flat_map(|a| a["detail"]["names"].as_array().unwrap().iter());
    let lldp = names.clone().find(|n| n["source"] == "lldp").unwrap()["value"].as_str().unwrap().to_owned();
    assert_eq!(lldp, "bed\u{1b}[31m7\u{7}\u{0}end", "JSON carries control characters escaped, losslessly");
    assert!(read("wardtap-report.json").contains("\\u001b"));
    let schema: serde_json::Value = serde_json::from_str(&read("wardtap-report.schema.json")).unwrap();
    assert_eq!(schema["$id"], "wardtap-report/1");
    for key in schema["required"].as_array().unwrap() {
        assert!(json.get(key.as_str().unwrap()).is_some(), "report lacks {key}");
    }
    let checklist: Vec<&str> =
        json["checklist"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(
        checklist,
        ["inventory", "connection_points", "management_exposure", "failed_logins", "suspicious_domains"]
    );
    let domains = json["checklist"].as_array().unwrap().iter().find(|i| i["id"] == "suspicious_domains").unwrap();
    assert_eq!(domains["status"], "attention");
}

#[test]
fn list_commands_neutralise_hostile_strings() {
    let dir = TempDir::new("hostile-cli");
    let db = dir.file("assets.db");
    hostile_db(&db);
    for (cmd, raw) in [("assets", IMG), ("alerts", SCRIPT), ("ledger", IMG)] {
        let table = run(&[cmd, "--db", &db]);
        assert!(!table.chars().any(|c| c.is_control() && c != '\n'), "{cmd} table: control characters");
        assert_csv_safe(cmd, &run(&[cmd, "--db", &db, "--format", "csv"]));
        let json: serde_json::Value = serde_json::from_str(&run(&[cmd, "--db", &db, "--format", "json"])).unwrap();
        assert_eq!(json["schema_version"], 1);
        let mut found = false;
        let mut stack = vec![&json];
        while let Some(v) = stack.pop() {
            match v {
                serde_json::Value::String(s) => found |= s.contains(raw),
                serde_json::Value::Array(a) => stack.extend(a),
                serde_json::Value::Object(o) => stack.extend(o.values()),
                _ => {}
            }
        }
        assert!(found, "{cmd}: JSON keeps {raw}");
    }
}
