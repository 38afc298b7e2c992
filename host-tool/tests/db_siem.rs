//! `wardtap siem`: alerts from the database to a collector on loopback, as RFC 5424 syslog over
//! UDP and CEF over TCP (octet counting); each alert once; hostile evidence escaped.

mod db_support;
mod report_support;

use db_support::TempDir;
use std::io::Read;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_wardtap");

fn siem(db: &str, args: &[&str]) -> String {
    let o = Command::new(BIN).args(["siem", "--db", db]).args(args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn alerts_reach_the_collector_once_and_escaped() {
    let dir = TempDir::new("siem");
    let db = dir.file("assets.db");
    report_support::hostile_db(&db);

    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    let to = format!("udp://{}", udp.local_addr().unwrap());
    assert!(siem(&db, &["--format", "syslog", "--to", &to]).contains("2 alert(s) forwarded"));
    let mut msgs = Vec::new();
    for _ in 0..2 {
        let mut buf = [0u8; 4096];
        let n = udp.recv(&mut buf).unwrap();
        msgs.push(String::from_utf8(buf[..n].to_vec()).unwrap());
    }
    let hostile = msgs.iter().find(|m| m.contains("unknown_domain")).expect("the hostile alert");
    assert!(hostile.starts_with("<106>1 2026-01-01T00:00:00.000000Z "), "critical, facility 13: {hostile}");
    assert!(hostile.contains("[wardtap@32473 id="), "{hostile}");
    assert!(hostile.contains("ward=\"ICU <b>&amp;</b>\""), "{hostile}");
    assert!(!hostile.chars().any(|c| c.is_control()), "no control characters reach the collector: {hostile:?}");
    // Sent once: a second run has nothing to send.
    assert!(siem(&db, &["--to", &to]).contains("0 alert(s) forwarded"));

    // CEF over TCP, everything again.
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let to = format!("tcp://{}", tcp.local_addr().unwrap());
    let reader = std::thread::spawn(move || {
        let (mut c, _) = tcp.accept().unwrap();
        let mut s = String::new();
        c.read_to_string(&mut s).unwrap();
        s
    });
    assert!(siem(&db, &["--format", "cef", "--all", "--to", &to]).contains("2 alert(s) forwarded"));
    let stream = reader.join().unwrap();
    // Octet counting: "LEN MSG" back to back.
    let mut rest = stream.as_str();
    let mut events = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = rest.split_once(' ').unwrap();
        let len: usize = len.parse().unwrap();
        events.push(&tail[..len]);
        rest = &tail[len..];
    }
    assert_eq!(events.len(), 2);
    let e = events.iter().find(|e| e.contains("|unknown_domain|")).unwrap();
    assert!(e.starts_with("CEF:0|wardtap|wardtap|") && e.contains("|10|"), "{e}");
    assert!(e.contains("msg=<script>document.title\\='pwned'</script> \\=HYPERLINK"), "{e}");
    assert!(!e.chars().any(|c| c.is_control()), "{e:?}");
}
