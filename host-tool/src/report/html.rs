//! The HTML report: one self-contained file (inline CSS, inline SVG plots, a few lines of inline
//! script for the filter; a Content-Security-Policy that forbids every network load), readable
//! offline on any ward PC.
//!
//! Every string that came from the wire passes through [`esc`] — in text, attributes, SVG
//! `<title>`s alike — so a device that calls itself `<script>` is shown, never run.

use super::checklist::Item;
use super::ReportData;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Escapes for HTML text and double- or single-quoted attributes; control characters (terminal
/// escapes, NUL) become U+FFFD.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            '\t' | '\n' => o.push(' '),
            c if c.is_control() => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

const CLASS_COLOURS: &[(&str, &str)] = &[
    ("imaging_modality", "#1f77b4"),
    ("pacs", "#17becf"),
    ("hl7_engine", "#9467bd"),
    ("patient_monitor", "#d62728"),
    ("infusion_pump", "#ff7f0e"),
    ("printer", "#8c564b"),
    ("workstation", "#2ca02c"),
    ("network_infrastructure", "#7f7f7f"),
    ("iot_other", "#bcbd22"),
    ("unknown", "#c7c7c7"),
];

fn colour(class: &str) -> &'static str {
    CLASS_COLOURS.iter().find(|(c, _)| *c == class).map(|(_, k)| *k).unwrap_or("#999999")
}

const SEVERITIES: &[(&str, &str)] =
    &[("critical", "#7b0000"), ("high", "#d62728"), ("medium", "#ff7f0e"), ("low", "#1f77b4"), ("info", "#7f7f7f")];

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1b1b1b;background:#f4f5f7}
header{background:#0b3d5c;color:#fff;padding:16px 24px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;opacity:.85}
main{padding:16px 24px}
section{background:#fff;border-radius:8px;padding:12px 16px;margin:0 0 16px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:17px;margin:4px 0 10px}
.tiles{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:16px}
.tile{background:#fff;border-radius:8px;padding:12px 16px;min-width:150px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.tile b{display:block;font-size:28px} .tile span{font-size:13px;color:#555}
.tile.warn b{color:#c0392b}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #e3e3e3;vertical-align:top;word-break:break-word}
th{background:#eef1f4;position:sticky;top:0}
.status{font-weight:600;padding:2px 8px;border-radius:10px;font-size:12px;white-space:nowrap}
.status.ok{background:#d5f5e3;color:#1e8449} .status.attention{background:#fdebd0;color:#9c640c}
.status.action{background:#fadbd8;color:#922b21}
.mono{font-family:ui-monospace,Menlo,Consolas,monospace}
#filter{width:100%;max-width:420px;padding:6px 8px;font-size:14px;margin-bottom:8px}
.legend span{display:inline-block;margin-right:12px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
details summary{cursor:pointer}
";

const SCRIPT: &str = "
(function(){
  var input=document.getElementById('filter');
  function apply(){
    var q=input.value.toLowerCase();
    var tables=document.querySelectorAll('table.filterable');
    for(var t=0;t<tables.length;t++){
      var rows=tables[t].tBodies[0].rows, shown=0;
      for(var i=0;i<rows.length;i++){
        var hit=q===''||rows[i].textContent.toLowerCase().indexOf(q)>=0;
        rows[i].style.display=hit?'':'none'; if(hit)shown++;
      }
      var c=document.getElementById(tables[t].id+'-count'); if(c)c.textContent=String(shown);
    }
  }
  input.addEventListener('input',apply);
  if(location.hash.indexOf('#q=')===0)input.value=decodeURIComponent(location.hash.slice(3));
  apply();
  document.body.setAttribute('data-ready','1');
})();
";

fn tile(out: &mut String, value: usize, label: &str, warn: bool) {
    let _ = write!(
        out,
        "<div class=\"tile{}\"><b>{value}</b><span>{}</span></div>",
        if warn { " warn" } else { "" },
        esc(label)
    );
}

fn checklist(out: &mut String, items: &[Item]) {
    out.push_str("<section id=\"checklist\"><h2>Health ministry checklist</h2><table><thead><tr><th>Check</th><th>Status</th><th>Figures and findings</th></tr></thead><tbody>");
    for i in items {
        let _ = write!(
            out,
            "<tr data-item=\"{}\"><td>{}</td><td><span class=\"status {}\">{}</span></td><td>{}",
            esc(i.id),
            esc(i.title),
            esc(i.status),
            esc(i.status),
            esc(&i.summary)
        );
        if !i.findings.is_empty() {
            let _ = write!(out, "<details><summary>{} finding(s)</summary><ul>", i.findings.len());
            for f in i.findings.iter().take(500) {
                let _ = write!(out, "<li class=\"mono\">{}</li>", esc(f));
            }
            out.push_str("</ul></details>");
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table></section>");
}

/// Stacked horizontal bars: assets per class in each ward.
fn class_ward_plot(out: &mut String, r: &ReportData) {
    let mut per: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    let mut classes: BTreeSet<&str> = BTreeSet::new();
    for a in &r.assets {
        classes.insert(a.class.as_str());
        if a.wards.is_empty() {
            *per.entry("(no ward)").or_default().entry(a.class.as_str()).or_default() += 1;
        }
        for w in &a.wards {
            *per.entry(w.as_str()).or_default().entry(a.class.as_str()).or_default() += 1;
        }
    }
    let max = per.values().map(|m| m.values().sum::<usize>()).max().unwrap_or(0).max(1);
    let (label_w, bar_w, row_h) = (160.0, 560.0, 26.0);
    let h = row_h * per.len().max(1) as f64 + 10.0;
    out.push_str("<section id=\"per-class\"><h2>Assets per class per ward</h2>");
    let _ = write!(
        out,
        "<svg id=\"class-plot\" role=\"img\" aria-label=\"assets per class per ward\" width=\"{}\" height=\"{h}\" viewBox=\"0 0 {} {h}\">",
        label_w + bar_w + 60.0,
        label_w + bar_w + 60.0
    );
    for (i, (ward, counts)) in per.iter().enumerate() {
        let y = i as f64 * row_h + 4.0;
        let _ = write!(out, "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text>", y + 15.0, esc(ward));
        let mut x = label_w;
        for (class, n) in counts {
            let w = bar_w * *n as f64 / max as f64;
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"20\" fill=\"{}\"><title>{}: {} {}</title></rect>",
                colour(class),
                esc(ward),
                n,
                esc(class)
            );
            x += w;
        }
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{}</text>",
            x + 6.0,
            y + 15.0,
            counts.values().sum::<usize>()
        );
    }
    out.push_str("</svg><div class=\"legend\">");
    for c in &classes {
        let _ = write!(out, "<span><i style=\"background:{}\"></i>{}</span>", colour(c), esc(c));
    }
    out.push_str("</div><table><thead><tr><th>Ward</th>");
    for c in &classes {
        let _ = write!(out, "<th>{}</th>", esc(c));
    }
    out.push_str("<th>Total</th></tr></thead><tbody>");
    for (ward, counts) in &per {
        let _ = write!(out, "<tr><td>{}</td>", esc(ward));
        for c in &classes {
            let _ = write!(out, "<td>{}</td>", counts.get(c).copied().unwrap_or(0));
        }
        let _ = write!(out, "<td>{}</td></tr>", counts.values().sum::<usize>());
    }
    out.push_str("</tbody></table></section>");
}

/// Open alerts on a time axis, one lane per severity.
fn alert_timeline(out: &mut String, r: &ReportData) {
    let open: Vec<_> = r.open_alerts().collect();
    out.push_str("<section id=\"timeline\"><h2>Open alerts over time</h2>");
    if open.is_empty() {
        out.push_str("<p>No open alerts.</p></section>");
        return;
    }
    let t0 = open.iter().map(|a| a.time_us).min().unwrap_or(0);
    let t1 = open.iter().map(|a| a.time_us).max().unwrap_or(0).max(t0 + 1);
    let (left, width, lane) = (90.0, 640.0, 24.0);
    let h = lane * SEVERITIES.len() as f64 + 30.0;
    let _ = write!(
        out,
        "<svg id=\"alert-plot\" role=\"img\" aria-label=\"open alerts over time\" width=\"{}\" height=\"{h}\" viewBox=\"0 0 {} {h}\">",
        left + width + 20.0,
        left + width + 20.0
    );
    for (i, (sev, col)) in SEVERITIES.iter().enumerate() {
        let y = i as f64 * lane + 14.0;
        let _ = write!(
            out,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{sev}</text><line x1=\"{left}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#e3e3e3\"/>",
            y + 4.0,
            left + width
        );
        for a in open.iter().filter(|a| a.severity == *sev) {
            let x = left + width * (a.time_us - t0) as f64 / (t1 - t0) as f64;
            let _ = write!(
                out,
                "<circle cx=\"{x:.1}\" cy=\"{y}\" r=\"5\" fill=\"{col}\"><title>{} {} {} {}</title></circle>",
                esc(&a.time),
                esc(&a.kind),
                esc(&a.device),
                esc(&a.evidence)
            );
        }
    }
    let base = lane * SEVERITIES.len() as f64 + 20.0;
    let first = open.iter().min_by_key(|a| a.time_us).map(|a| a.time.as_str()).unwrap_or("");
    let last = open.iter().max_by_key(|a| a.time_us).map(|a| a.time.as_str()).unwrap_or("");
    let _ = write!(
        out,
        "<text x=\"{left}\" y=\"{base}\" font-size=\"11\">{}</text><text x=\"{}\" y=\"{base}\" font-size=\"11\" text-anchor=\"end\">{}</text></svg></section>",
        esc(first),
        left + width,
        esc(last)
    );
}

fn table(out: &mut String, id: &str, title: &str, head: &[&str], rows: &[Vec<String>], mono: &[usize]) {
    let _ = write!(
        out,
        "<section id=\"{id}-section\"><h2>{} (<span id=\"{id}-count\">{}</span>)</h2><table id=\"{id}\" class=\"filterable\"><thead><tr>",
        esc(title),
        rows.len()
    );
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            if mono.contains(&i) {
                let _ = write!(out, "<td class=\"mono\">{}</td>", esc(c));
            } else {
                let _ = write!(out, "<td>{}</td>", esc(c));
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></section>");
}

/// Renders the whole report.
pub fn render(r: &ReportData) -> String {
    let mut o = String::with_capacity(64 * 1024 + r.assets.len() * 512);
    let scope = r.ward.as_deref().map(|w| format!("ward {w}")).unwrap_or_else(|| "all wards".into());
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>wardtap report — {}</title><style>{STYLE}</style></head><body>\
         <header><h1>Network asset report — {}</h1><p>Generated {} by wardtap from {} tap(s). Passive observation only; no patient data.</p></header><main>",
        esc(&scope),
        esc(&scope),
        esc(&r.generated_at),
        r.taps.len()
    );
    let wards: BTreeSet<&str> = r.assets.iter().flat_map(|a| a.wards.iter().map(String::as_str)).collect();
    let medical = r
        .assets
        .iter()
        .filter(|a| {
            matches!(a.class.as_str(), "imaging_modality" | "pacs" | "hl7_engine" | "patient_monitor" | "infusion_pump")
        })
        .count();
    let not_allowed = r.ledger.iter().filter(|l| !l.allowed).count();
    let urgent = r.open_alerts().filter(|a| a.severity == "high" || a.severity == "critical").count();
    o.push_str("<div class=\"tiles\" id=\"tiles\">");
    tile(&mut o, r.assets.len(), "devices", false);
    tile(&mut o, medical, "medical devices", false);
    tile(&mut o, wards.len(), "wards", false);
    tile(&mut o, r.taps.len(), "taps", false);
    tile(&mut o, r.ledger.len(), "connection points outside", false);
    tile(&mut o, not_allowed, "not allowed by policy", not_allowed > 0);
    tile(&mut o, r.open_alerts().count(), "open alerts", false);
    tile(&mut o, urgent, "high or critical", urgent > 0);
    o.push_str("</div>");
    checklist(&mut o, &r.checklist);
    class_ward_plot(&mut o, r);
    alert_timeline(&mut o, r);
    o.push_str("<section><input id=\"filter\" type=\"search\" placeholder=\"Filter every table: name, MAC, address, vendor, class, ward…\" aria-label=\"filter\"></section>");
    let (head, rows) = crate::db::format::asset_rows(&r.assets);
    table(&mut o, "assets", "Assets", &head, &rows, &[0, 4]);
    let (head, rows) = crate::db::format::ledger_rows(&r.ledger);
    table(&mut o, "ledger", "Connection points to outside the segment", &head, &rows, &[1, 4]);
    let open: Vec<_> = r.open_alerts().cloned().collect();
    let (head, rows) = crate::db::format::alert_rows(&open);
    table(&mut o, "alerts", "Open alerts", &head, &rows, &[6]);
    let _ = writeln!(o, "</main><script>{SCRIPT}</script></body></html>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_controls() {
        assert_eq!(
            esc("<img src=x onerror='a()'>&\"\u{1b}[31m"),
            "&lt;img src=x onerror=&#39;a()&#39;&gt;&amp;&quot;\u{fffd}[31m"
        );
    }
}
