//! The outbound policy file: written by people, loaded by the host, handed to the core as
//! `wardtap-proto` [`PolicyRule`]s.
//!
//! ```toml
//! # Vendor cloud for the infusion pumps (contract 2024-117)
//! [[allow]]
//! scope = "class:infusion_pump"        # "any", "class:<name>", or "mac:aa:bb:cc:dd:ee:ff"
//! domains = ["*.vendor.example"]        # exact names, or "*." for every name below
//! networks = ["203.0.113.0/24"]         # IPv4 or IPv6 CIDR
//! ports = ["udp/123"]                   # transport/port on any address
//! note = "why this is allowed"          # kept for reviewers, ignored by the tap
//!
//! [thresholds]                          # optional; defaults shown
//! window_secs = 60
//! scan_hosts = 32
//! scan_ports = 24
//! failed_logins = 10
//! repeat_secs = 300
//! ```

use serde::Deserialize;
use std::path::{Path, PathBuf};
use wardtap_proto::{text_from, Allow, DeviceClass, IpAddr, Mac, PolicyRule, Scope, Thresholds, Transport, STRING_LEN};

/// A policy file problem.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Could not read the file.
    #[error("{}: {source}", path.display())]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Not valid TOML, or fields of the wrong type.
    #[error("{}: {message}", path.display())]
    Syntax {
        /// File.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A value that is not a scope, network, domain or port.
    #[error("{}: rule {rule}: {message}", path.display())]
    Value {
        /// File.
        path: PathBuf,
        /// 1-based index of the `[[allow]]` table.
        rule: usize,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    allow: Vec<AllowTable>,
    thresholds: Option<ThresholdTable>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowTable {
    #[serde(default = "any")]
    scope: String,
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    networks: Vec<String>,
    #[serde(default)]
    ports: Vec<String>,
    #[allow(dead_code)]
    note: Option<String>,
}

fn any() -> String {
    "any".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdTable {
    window_secs: Option<u32>,
    scan_hosts: Option<u16>,
    scan_ports: Option<u16>,
    failed_logins: Option<u16>,
    repeat_secs: Option<u32>,
}

/// A loaded policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Rules, in file order.
    pub rules: Vec<PolicyRule>,
    /// Detection thresholds.
    pub thresholds: Thresholds,
}

/// Parses a device class name as written in reports (`infusion_pump`).
pub fn parse_class(s: &str) -> Option<DeviceClass> {
    use DeviceClass::*;
    [
        Unknown,
        ImagingModality,
        Pacs,
        Hl7Engine,
        PatientMonitor,
        InfusionPump,
        Printer,
        Workstation,
        NetworkInfrastructure,
        IotOther,
    ]
    .into_iter()
    .find(|c| c.name() == s)
}

/// Parses `aa:bb:cc:dd:ee:ff` (or with `-`).
pub fn parse_mac(s: &str) -> Option<Mac> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return None;
    }
    let mut m = [0u8; 6];
    for (b, p) in m.iter_mut().zip(parts) {
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    Some(Mac(m))
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    if s == "any" {
        return Ok(Scope::Any);
    }
    if let Some(c) = s.strip_prefix("class:") {
        return parse_class(c).map(Scope::Class).ok_or_else(|| format!("unknown device class {c:?}"));
    }
    if let Some(m) = s.strip_prefix("mac:") {
        return parse_mac(m).map(Scope::Mac).ok_or_else(|| format!("bad MAC {m:?}"));
    }
    Err(format!("scope {s:?} is not \"any\", \"class:<name>\" or \"mac:<address>\""))
}

fn parse_network(s: &str) -> Result<Allow, String> {
    let (a, p) = s.split_once('/').unwrap_or((s, ""));
    let ip: std::net::IpAddr = a.parse().map_err(|e| format!("network {s:?}: {e}"))?;
    let (bytes, max, offset) = match ip {
        std::net::IpAddr::V4(v) => (IpAddr::V4(v.octets()).to_bytes16(), 32u8, 96u8),
        std::net::IpAddr::V6(v) => (v.octets(), 128u8, 0u8),
    };
    let len: u8 = if p.is_empty() { max } else { p.parse().map_err(|_| format!("network {s:?}: bad prefix"))? };
    if len > max {
        return Err(format!("network {s:?}: prefix longer than {max}"));
    }
    Ok(Allow::Network { addr: bytes, prefix: len + offset })
}

fn parse_port(s: &str) -> Result<Allow, String> {
    let (t, p) = s.split_once('/').ok_or_else(|| format!("port {s:?}: expected tcp/N or udp/N"))?;
    let transport = match t {
        "tcp" => Transport::Tcp,
        "udp" => Transport::Udp,
        _ => return Err(format!("port {s:?}: transport must be tcp or udp")),
    };
    let port: u16 = p.parse().map_err(|_| format!("port {s:?}: bad number"))?;
    Ok(Allow::Port { transport, port })
}

fn parse_domain(s: &str) -> Result<Allow, String> {
    let body = s.strip_prefix("*.").unwrap_or(s);
    if body.is_empty() || body.contains('*') || !body.contains('.') && !s.starts_with("*.") {
        return Err(format!("domain {s:?}: expected a name like host.example.org or *.example.org"));
    }
    if s.len() > STRING_LEN {
        return Err(format!("domain {s:?}: longer than {STRING_LEN} bytes"));
    }
    Ok(Allow::Domain(text_from(s.to_ascii_lowercase().as_bytes()).0))
}

/// Parses policy text; `path` is only used in messages.
pub fn parse(text: &str, path: &Path) -> Result<Policy, PolicyError> {
    let file: File =
        toml::from_str(text).map_err(|e| PolicyError::Syntax { path: path.to_owned(), message: e.to_string() })?;
    let mut rules = Vec::new();
    for (i, t) in file.allow.iter().enumerate() {
        let err = |message: String| PolicyError::Value { path: path.to_owned(), rule: i + 1, message };
        let scope = parse_scope(&t.scope).map_err(err)?;
        if t.domains.is_empty() && t.networks.is_empty() && t.ports.is_empty() {
            return Err(err("allows nothing: give domains, networks or ports".into()));
        }
        for d in &t.domains {
            rules.push(PolicyRule { scope, allow: parse_domain(d).map_err(err)? });
        }
        for n in &t.networks {
            rules.push(PolicyRule { scope, allow: parse_network(n).map_err(err)? });
        }
        for p in &t.ports {
            rules.push(PolicyRule { scope, allow: parse_port(p).map_err(err)? });
        }
    }
    let mut thresholds = Thresholds::DEFAULT;
    if let Some(t) = file.thresholds {
        thresholds.window_secs = t.window_secs.unwrap_or(thresholds.window_secs).max(1);
        thresholds.scan_hosts = t.scan_hosts.unwrap_or(thresholds.scan_hosts).max(1);
        thresholds.scan_ports = t.scan_ports.unwrap_or(thresholds.scan_ports).max(1);
        thresholds.failed_logins = t.failed_logins.unwrap_or(thresholds.failed_logins).max(1);
        thresholds.repeat_secs = t.repeat_secs.unwrap_or(thresholds.repeat_secs);
    }
    Ok(Policy { rules, thresholds })
}

/// Loads a policy file.
pub fn load(path: &Path) -> Result<Policy, PolicyError> {
    let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io { path: path.to_owned(), source })?;
    parse(&text, path)
}

/// Parses a duration: `90`, `90s`, `15m`, `8h`, `7d`.
pub fn parse_duration(s: &str) -> Result<u32, String> {
    let s = s.trim();
    let (num, mul) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        Some((i, 'd')) => (&s[..i], 86_400),
        _ => (s, 1),
    };
    let n: u32 = num.parse().map_err(|_| format!("{s:?}: expected a number with s, m, h or d"))?;
    n.checked_mul(mul).ok_or_else(|| format!("{s:?}: too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_of_rule() {
        let p = parse(
            r#"
            [[allow]]
            scope = "class:infusion_pump"
            domains = ["*.vendor.example", "NTP.example.org"]
            networks = ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7"]
            ports = ["udp/123"]
            note = "vendor"

            [[allow]]
            scope = "mac:00:09:fb:01:02:03"
            ports = ["tcp/443"]

            [thresholds]
            scan_hosts = 5
            "#,
            Path::new("p.toml"),
        )
        .unwrap();
        assert_eq!(p.rules.len(), 7);
        assert_eq!(p.rules[0].scope, Scope::Class(DeviceClass::InfusionPump));
        assert_eq!(p.rules[1].allow, Allow::Domain(text_from(b"ntp.example.org").0));
        assert_eq!(p.rules[2].allow, Allow::Network { addr: IpAddr::V4([203, 0, 113, 0]).to_bytes16(), prefix: 120 });
        assert!(matches!(p.rules[3].allow, Allow::Network { prefix: 32, .. }));
        assert!(matches!(p.rules[4].allow, Allow::Network { prefix: 128, .. }));
        assert_eq!(p.rules[6].scope, Scope::Mac(Mac([0, 9, 0xfb, 1, 2, 3])));
        assert_eq!(p.thresholds.scan_hosts, 5);
        assert_eq!(p.thresholds.failed_logins, Thresholds::DEFAULT.failed_logins);
    }

    #[test]
    fn errors_name_the_file_and_rule() {
        let e = parse("[[allow]]\nscope = \"class:toaster\"\nports=[\"tcp/1\"]", Path::new("x.toml")).unwrap_err();
        assert_eq!(e.to_string(), "x.toml: rule 1: unknown device class \"toaster\"");
        let e = parse("[[allow]]\nports = [\"sctp/1\"]", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("transport must be tcp or udp"));
        let e = parse("[[allow]]\nnetworks = [\"10.0.0.0/33\"]", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("prefix longer than 32"));
        let e = parse("[[allow]]\nscope = \"any\"", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("allows nothing"));
        let e = parse("[[allow]]\ndomain = [\"typo\"]", Path::new("x.toml")).unwrap_err();
        assert!(matches!(e, PolicyError::Syntax { .. }), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert!(parse_duration("7w").is_err());
        assert!(parse_duration("99999999d").is_err());
    }
}
