//! The health ministry's checklist, answered from what the taps saw.
//!
//! Each item says what was checked, a status (`ok`, `attention`, `action`), the figures behind
//! it and the findings (devices, endpoints, alerts) a person should look at.

use super::ReportData;
use serde::Serialize;
use std::collections::BTreeMap;

/// Ports of management and remote-access services: reachable from outside the segment, they
/// are how ransomware came in.
pub const MANAGEMENT_PORTS: &[(u16, &str)] = &[
    (22, "SSH"),
    (23, "Telnet"),
    (80, "HTTP admin"),
    (161, "SNMP"),
    (443, "HTTPS admin"),
    (445, "SMB"),
    (3389, "RDP"),
    (5900, "VNC"),
    (5938, "TeamViewer"),
    (8080, "HTTP admin"),
    (8443, "HTTPS admin"),
];

/// One checklist item.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Item {
    /// Stable id (`inventory`, `connection_points`, `management_exposure`, `failed_logins`,
    /// `suspicious_domains`).
    pub id: &'static str,
    /// The question, as the checklist asks it.
    pub title: &'static str,
    /// `ok`, `attention` or `action`.
    pub status: &'static str,
    /// One line of figures.
    pub summary: String,
    /// What to look at, one line each.
    pub findings: Vec<String>,
}

fn status(action: bool, attention: bool) -> &'static str {
    if action {
        "action"
    } else if attention {
        "attention"
    } else {
        "ok"
    }
}

/// Judges every item.
pub fn judge(r: &ReportData) -> Vec<Item> {
    let mut items = Vec::new();

    // 1. Asset inventory, IoT included.
    let mut by_class: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &r.assets {
        *by_class.entry(a.class.as_str()).or_default() += 1;
    }
    let unknown = by_class.get("unknown").copied().unwrap_or(0);
    let iot = by_class.get("iot_other").copied().unwrap_or(0);
    let medical = r
        .assets
        .iter()
        .filter(|a| {
            matches!(a.class.as_str(), "imaging_modality" | "pacs" | "hl7_engine" | "patient_monitor" | "infusion_pump")
        })
        .count();
    items.push(Item {
        id: "inventory",
        title: "Asset inventory of every device on the network, IoT and medical devices included",
        status: status(r.assets.is_empty(), unknown > 0),
        summary: format!(
            "{} devices ({} medical, {} IoT, {} not yet classified) from {} taps",
            r.assets.len(),
            medical,
            iot,
            unknown,
            r.taps.len()
        ),
        findings: r
            .assets
            .iter()
            .filter(|a| a.class == "unknown")
            .map(|a| {
                format!(
                    "unclassified: {} {} {}",
                    a.mac,
                    a.vendor.as_deref().unwrap_or("unknown vendor"),
                    a.ips.join(" ")
                )
            })
            .collect(),
    });

    // 2. Connection points to vendors and the internet.
    let not_allowed: Vec<_> = r.ledger.iter().filter(|l| !l.allowed).collect();
    let endpoints: std::collections::BTreeSet<&str> = r.ledger.iter().map(|l| l.endpoint.as_str()).collect();
    items.push(Item {
        id: "connection_points",
        title: "All connection points to vendors and the internet are known",
        status: status(false, !not_allowed.is_empty()),
        summary: format!(
            "{} connection points to {} external endpoints; {} not covered by policy or baseline",
            r.ledger.len(),
            endpoints.len(),
            not_allowed.len()
        ),
        findings: not_allowed
            .iter()
            .map(|l| {
                format!(
                    "{} ({}) {} {} {}/{}{}",
                    l.device,
                    l.device_name.as_deref().unwrap_or("-"),
                    l.direction,
                    l.endpoint,
                    l.transport,
                    l.port,
                    if l.name.is_empty() { String::new() } else { format!(" [{}]", l.name) }
                )
            })
            .collect(),
    });

    // 3. Management interfaces reachable from outside.
    let mut exposed: Vec<String> = r
        .external_edges
        .iter()
        .filter(|e| e.direction == "inbound")
        .filter_map(|e| {
            let port = u16::try_from(e.port).ok()?;
            let (_, what) = MANAGEMENT_PORTS.iter().find(|(p, _)| *p == port)?;
            Some(format!("{} {what} ({}/{}) reached from {}", e.asset, e.transport, e.port, e.peer))
        })
        .collect();
    exposed.extend(
        r.open_alerts()
            .filter(|a| a.kind == "inbound_remote_access")
            .map(|a| format!("alert {}: {} {}", a.id, a.device, a.evidence)),
    );
    exposed.sort();
    exposed.dedup();
    items.push(Item {
        id: "management_exposure",
        title: "No management interface is reachable from outside the segment",
        status: status(!exposed.is_empty(), false),
        summary: format!("{} management or remote-access services reached from outside", exposed.len()),
        findings: exposed,
    });

    // 4. Mass failed logins.
    let failed: Vec<String> = r
        .alerts
        .iter()
        .filter(|a| a.kind == "failed_logins")
        .map(|a| {
            format!(
                "{} {} → {}/{} ×{} ({}){}",
                a.time,
                a.device,
                a.peer.as_deref().unwrap_or("-"),
                a.port,
                a.count,
                a.evidence,
                if a.state == "open" { "" } else { " [acknowledged]" }
            )
        })
        .collect();
    let open_failed = r.open_alerts().filter(|a| a.kind == "failed_logins").count();
    items.push(Item {
        id: "failed_logins",
        title: "No signs of mass failed logins",
        status: status(open_failed > 0, !failed.is_empty()),
        summary: format!("{} failed-login alerts ({} open)", failed.len(), open_failed),
        findings: failed,
    });

    // 5. Unknown or suspicious domains.
    let domains: Vec<String> = r
        .alerts
        .iter()
        .filter(|a| a.kind == "unknown_domain")
        .map(|a| format!("{} {} looked up {}", a.time, a.device, a.evidence))
        .collect();
    let open_domains = r.open_alerts().filter(|a| a.kind == "unknown_domain").count();
    items.push(Item {
        id: "suspicious_domains",
        title: "No lookups of unknown or suspicious domains",
        status: status(false, open_domains > 0),
        summary: format!("{} lookups outside baseline and policy ({} open)", domains.len(), open_domains),
        findings: domains,
    });
    items
}
