//! `wardtap siem`: alerts forwarded to a SIEM, as RFC 5424 syslog or ArcSight CEF, over UDP,
//! TCP (RFC 6587 octet counting) or to standard output. Each alert is sent once: it is marked
//! forwarded after it went out (a crash in between sends it again — at least once).
//!
//! Every string from the wire is escaped for the format: RFC 5424 structured-data values
//! (`"`, `\`, `]`), CEF header fields (`|`, `\`) and extension values (`\`, `=`, line breaks);
//! control characters never reach the collector.

use crate::db::backend::{params, Value};
use crate::db::query::AlertView;
use crate::db::{cli::DbArg, DbError};
use std::io::Write;

/// Output syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SiemFormat {
    /// RFC 5424 syslog with structured data.
    Syslog,
    /// ArcSight Common Event Format (inside nothing: one event per message).
    Cef,
}

/// `wardtap siem`.
#[derive(Debug, Clone, clap::Args)]
pub struct SiemArgs {
    #[command(flatten)]
    db: DbArg,
    /// Message syntax.
    #[arg(long, value_enum, default_value_t = SiemFormat::Syslog)]
    format: SiemFormat,
    /// Where to: `udp://host:port`, `tcp://host:port`, or `-` for standard output.
    #[arg(long, default_value = "-")]
    to: String,
    /// Syslog facility number (13 = log audit).
    #[arg(long, default_value_t = 13)]
    facility: u8,
    /// Send every alert again, forwarded before or not.
    #[arg(long)]
    all: bool,
}

/// Why forwarding failed.
#[derive(Debug, thiserror::Error)]
pub enum SiemError {
    /// The database.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The destination.
    #[error("{to}: {source}")]
    Send {
        /// Where.
        to: String,
        /// Why.
        source: std::io::Error,
    },
    /// A bad `--to`.
    #[error("--to {0}: expected udp://host:port, tcp://host:port or -")]
    Destination(String),
}

fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// RFC 5424 PARAM-VALUE escaping.
fn sd_value(s: &str) -> String {
    let mut o = String::new();
    for c in clean(s).chars() {
        if matches!(c, '"' | '\\' | ']') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

/// Syslog severity for an alert severity.
fn syslog_severity(s: &str) -> u8 {
    match s {
        "critical" => 2,
        "high" => 3,
        "medium" => 4,
        "low" => 5,
        _ => 6,
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().chars().filter(|c| c.is_ascii_graphic()).take(255).collect::<String>())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "-".into())
}

/// One RFC 5424 message.
pub fn syslog(a: &AlertView, facility: u8, host: &str) -> String {
    let pri = u16::from(facility.min(23)) * 8 + u16::from(syslog_severity(&a.severity));
    let mut sd = format!(
        "[wardtap@32473 id=\"{}\" tap=\"{}\" ward=\"{}\" seq=\"{}\" kind=\"{}\" severity=\"{}\" device=\"{}\" count=\"{}\"",
        a.id,
        sd_value(&a.tap),
        sd_value(&a.ward),
        a.seq,
        sd_value(&a.kind),
        sd_value(&a.severity),
        sd_value(&a.device),
        a.count
    );
    if let Some(ip) = &a.device_ip {
        sd.push_str(&format!(" deviceIp=\"{}\"", sd_value(ip)));
    }
    if let Some(p) = &a.peer {
        sd.push_str(&format!(" peer=\"{}\"", sd_value(p)));
    }
    if a.port != 0 {
        sd.push_str(&format!(" transport=\"{}\" port=\"{}\"", sd_value(&a.transport), a.port));
    }
    sd.push(']');
    // MSGID: the alert kind (printable ASCII, at most 32).
    let msgid: String = a.kind.chars().filter(|c| c.is_ascii_graphic()).take(32).collect();
    format!(
        "<{pri}>1 {} {host} wardtap - {} {sd} \u{feff}{} {}: {}",
        a.time,
        if msgid.is_empty() { "-" } else { &msgid },
        clean(&a.kind),
        clean(&a.device),
        clean(&a.evidence)
    )
}

fn cef_header(s: &str) -> String {
    clean(s).replace('\\', "\\\\").replace('|', "\\|")
}

fn cef_ext(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '=' => o.push_str("\\="),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            c if c.is_control() => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// One CEF event.
pub fn cef(a: &AlertView) -> String {
    let sev = match a.severity.as_str() {
        "critical" => 10,
        "high" => 8,
        "medium" => 5,
        "low" => 3,
        _ => 1,
    };
    let mut ext = vec![
        format!("rt={}", a.time_us / 1000),
        format!("externalId={}", a.id),
        format!("smac={}", cef_ext(&a.device)),
        format!("cnt={}", a.count),
        format!("cs1Label=tap cs1={}", cef_ext(&a.tap)),
        format!("cs2Label=ward cs2={}", cef_ext(&a.ward)),
        format!("cn1Label=seq cn1={}", a.seq),
    ];
    if let Some(ip) = &a.device_ip {
        ext.push(format!("src={}", cef_ext(ip)));
    }
    if let Some(p) = &a.peer {
        ext.push(format!("dst={}", cef_ext(p)));
    }
    if a.port != 0 {
        ext.push(format!("proto={} dpt={}", cef_ext(&a.transport), a.port));
    }
    ext.push(format!("msg={}", cef_ext(&a.evidence)));
    format!(
        "CEF:0|wardtap|wardtap|{}|{}|{}|{}|{}",
        cef_header(env!("CARGO_PKG_VERSION")),
        cef_header(&a.kind),
        cef_header(&format!("{} on {}", a.kind.replace('_', " "), a.device)),
        sev,
        ext.join(" ")
    )
}

enum Sink {
    Udp(std::net::UdpSocket),
    Tcp(std::net::TcpStream),
    Out,
}

fn open(to: &str) -> Result<Sink, SiemError> {
    let send = |source| SiemError::Send { to: to.into(), source };
    if to == "-" {
        return Ok(Sink::Out);
    }
    if let Some(addr) = to.strip_prefix("udp://") {
        let s = std::net::UdpSocket::bind(if addr.starts_with('[') { "[::]:0" } else { "0.0.0.0:0" }).map_err(send)?;
        s.connect(addr).map_err(send)?;
        return Ok(Sink::Udp(s));
    }
    if let Some(addr) = to.strip_prefix("tcp://") {
        return Ok(Sink::Tcp(std::net::TcpStream::connect(addr).map_err(send)?));
    }
    Err(SiemError::Destination(to.into()))
}

/// Forwards alerts; returns how many were sent.
pub fn run(a: &SiemArgs, out: &mut dyn Write) -> Result<usize, SiemError> {
    let mut db = a.db.open()?;
    let mut sink = open(&a.to)?;
    let host = hostname();
    let pending: Vec<AlertView> = {
        let ids: std::collections::HashSet<i64> = db
            .conn()
            .query("SELECT id FROM alerts WHERE forwarded = 0", &[])?
            .iter()
            .map(|r| r.first().map(Value::int).unwrap_or(0))
            .collect();
        let mut v: Vec<AlertView> =
            db.alerts(false, None)?.into_iter().filter(|x| a.all || ids.contains(&x.id)).collect();
        v.sort_by_key(|x| (x.time_us, x.id));
        v
    };
    let send_err = |source| SiemError::Send { to: a.to.clone(), source };
    for alert in &pending {
        let msg = match a.format {
            SiemFormat::Syslog => syslog(alert, a.facility, &host),
            SiemFormat::Cef => cef(alert),
        };
        match &mut sink {
            Sink::Udp(s) => s.send(msg.as_bytes()).map(|_| ()).map_err(send_err)?,
            Sink::Tcp(s) => s.write_all(format!("{} {msg}", msg.len()).as_bytes()).map_err(send_err)?,
            Sink::Out => writeln!(out, "{msg}").map_err(send_err)?,
        }
        db.conn().exec("UPDATE alerts SET forwarded = 1 WHERE id = ?", params![alert.id])?;
    }
    Ok(pending.len())
}

/// Runs `wardtap siem` and says how many went out (on stderr when the messages go to stdout).
pub fn cli(a: &SiemArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), SiemError> {
    let n = run(a, out)?;
    let _ = writeln!(err, "wardtap: {n} alert(s) forwarded to {}", a.to);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> AlertView {
        AlertView {
            id: 7,
            tap: "icu-1".into(),
            ward: "ICU \"A\"]".into(),
            seq: 3,
            time: "2026-01-01T00:00:00.000000Z".into(),
            time_us: 1_767_225_600_000_000,
            last_time: "2026-01-01T00:00:00.000000Z".into(),
            severity: "high".into(),
            kind: "unknown_domain".into(),
            device: "00:09:fb:77:00:07".into(),
            device_ip: Some("10.0.0.2".into()),
            peer: Some("198.51.100.7".into()),
            transport: "udp".into(),
            port: 53,
            count: 2,
            evidence: "a|b=c\\d\nnext\u{1b}[31m".into(),
            state: "open".into(),
            acked_by: None,
            tap_acked: true,
        }
    }

    #[test]
    fn syslog_is_rfc5424_and_escaped() {
        let m = syslog(&alert(), 13, "collector");
        assert!(
            m.starts_with(
                "<107>1 2026-01-01T00:00:00.000000Z collector wardtap - unknown_domain [wardtap@32473 id=\"7\""
            ),
            "{m}"
        );
        assert!(m.contains("ward=\"ICU \\\"A\\\"\\]\""), "{m}");
        assert!(!m.contains('\n') && !m.contains('\u{1b}'));
    }

    #[test]
    fn cef_escapes_header_and_extension() {
        let m = cef(&alert());
        assert!(m.starts_with("CEF:0|wardtap|wardtap|"), "{m}");
        assert!(m.contains("|unknown_domain|unknown domain on 00:09:fb:77:00:07|8|rt=1767225600000 "), "{m}");
        assert!(m.ends_with("msg=a|b\\=c\\\\d\\nnext [31m"), "{m}");
    }
}
