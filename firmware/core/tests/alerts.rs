//! Alerts, end to end through the tap: crafted frames for each kind, a scenario that covers
//! every kind asserted alert by alert, and the no-false-positive check on real captures.

mod support;

use wardtap_core::Tap;
use wardtap_proto::*;

const GW: [u8; 6] = [0x00, 0x09, 0x0f, 0, 0, 1];
const WS: [u8; 6] = [0x00, 0x26, 0xb9, 0, 0, 5];
const PUMP: [u8; 6] = [0x9c, 0xc8, 0xae, 0, 0, 7];
const MON: [u8; 6] = [0x00, 0x09, 0xfb, 0, 0, 9];
const SRV: [u8; 6] = [0x00, 0x08, 0x74, 0, 0, 20];
const ATTACKER: [u8; 6] = [0x02, 0xba, 0xd0, 0, 0, 66];
const NET: [u8; 4] = [10, 20, 0, 0];

fn ip(last: u8) -> [u8; 4] {
    [10, 20, 0, last]
}

/// Minimal frame builders (checksums are not verified by the tap).
mod build {
    pub fn eth(src: [u8; 6], dst: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(14 + payload.len());
        f.extend_from_slice(&dst);
        f.extend_from_slice(&src);
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        while f.len() < 60 {
            f.push(0);
        }
        f
    }

    pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, ttl: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0];
        p.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 1, 0x40, 0, ttl, proto, 0, 0]);
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(payload);
        p
    }

    pub fn tcp(sport: u16, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(&sport.to_be_bytes());
        t.extend_from_slice(&dport.to_be_bytes());
        t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        t.extend_from_slice(payload);
        t
    }

    pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut u = Vec::new();
        u.extend_from_slice(&sport.to_be_bytes());
        u.extend_from_slice(&dport.to_be_bytes());
        u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(payload);
        u
    }

    pub fn arp(op: u16, smac: [u8; 6], sip: [u8; 4], tip: [u8; 4]) -> Vec<u8> {
        let mut a = vec![0, 1, 8, 0, 6, 4];
        a.extend_from_slice(&op.to_be_bytes());
        a.extend_from_slice(&smac);
        a.extend_from_slice(&sip);
        a.extend_from_slice(&[0; 6]);
        a.extend_from_slice(&tip);
        a
    }

    fn qname(name: &str) -> Vec<u8> {
        let mut q = Vec::new();
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q
    }

    pub fn dns_query(id: u16, name: &str) -> Vec<u8> {
        let mut d = id.to_be_bytes().to_vec();
        d.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        d.extend_from_slice(&qname(name));
        d.extend_from_slice(&[0, 1, 0, 1]);
        d
    }

    pub fn dns_answer(id: u16, name: &str, addr: [u8; 4]) -> Vec<u8> {
        let mut d = id.to_be_bytes().to_vec();
        d.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
        d.extend_from_slice(&qname(name));
        d.extend_from_slice(&[0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        d.extend_from_slice(&addr);
        d
    }

    /// A DHCP REQUEST from `mac` with host name and vendor class.
    pub fn dhcp_request(mac: [u8; 6], host: &str, vendor: &str) -> Vec<u8> {
        let mut d = vec![1, 1, 6, 0, 0, 0, 0, 1];
        d.extend_from_slice(&[0; 20]);
        d.extend_from_slice(&mac);
        d.extend_from_slice(&[0; 10 + 64 + 128]);
        d.extend_from_slice(&[99, 130, 83, 99, 53, 1, 3, 55, 4, 1, 3, 6, 15]);
        d.push(12);
        d.push(host.len() as u8);
        d.extend_from_slice(host.as_bytes());
        d.push(60);
        d.push(vendor.len() as u8);
        d.extend_from_slice(vendor.as_bytes());
        d.push(255);
        d
    }

    /// A TLS ClientHello record with an SNI extension (enough for the dissector).
    pub fn client_hello(sni: &str) -> Vec<u8> {
        let name = sni.as_bytes();
        let mut sni_ext = Vec::new();
        sni_ext.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
        sni_ext.push(0);
        sni_ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
        sni_ext.extend_from_slice(name);
        let mut exts = vec![0, 0];
        exts.extend_from_slice(&(sni_ext.len() as u16).to_be_bytes());
        exts.extend_from_slice(&sni_ext);
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.push(0);
        body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut hs = vec![1, 0];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }
}

use build::*;

const SYN: u8 = 0x02;
const SYNACK: u8 = 0x12;
const PSHACK: u8 = 0x18;
const RSTACK: u8 = 0x14;

/// A tap on the 10.20.0.0/24 ward with a clock in seconds.
struct Ward {
    tap: Box<Tap>,
    t: u64,
}

impl Ward {
    fn new() -> Ward {
        let mut tap = Box::new(Tap::new(0));
        tap.add_subnet(NET, 24);
        Ward { tap, t: 1_800_000_000 }
    }
    fn at(&mut self, secs: u64) -> &mut Self {
        self.t = 1_800_000_000 + secs;
        self
    }
    fn send(&mut self, frame: Vec<u8>) -> &mut Self {
        self.t += 0; // frames within one second share it; order is what matters
        let ts = self.t * 1_000_000 + (self.tap.counters().frames % 1_000_000);
        self.tap.process(ts, &frame);
        self
    }
    fn arp_announce(&mut self, mac: [u8; 6], last: u8) -> &mut Self {
        self.send(eth(mac, [0xff; 6], 0x0806, &arp(2, mac, ip(last), ip(last))))
    }
    /// A TCP session from a local device through the gateway to an outside address.
    fn outbound(&mut self, mac: [u8; 6], src: u8, dst: [u8; 4], port: u16, payload: &[u8]) -> &mut Self {
        let sport = 40000 + (self.tap.counters().frames % 20000) as u16;
        self.send(eth(mac, GW, 0x0800, &ipv4(ip(src), dst, 6, 64, &tcp(sport, port, SYN, &[]))));
        self.send(eth(GW, mac, 0x0800, &ipv4(dst, ip(src), 6, 50, &tcp(port, sport, SYNACK, &[]))));
        self.send(eth(mac, GW, 0x0800, &ipv4(ip(src), dst, 6, 64, &tcp(sport, port, PSHACK, payload))));
        self
    }
    fn resolve(&mut self, mac: [u8; 6], src: u8, name: &str, addr: [u8; 4]) -> &mut Self {
        let id = (self.tap.counters().frames & 0xffff) as u16;
        self.send(eth(mac, GW, 0x0800, &ipv4(ip(src), ip(1), 17, 64, &udp(50000, 53, &dns_query(id, name)))));
        self.send(eth(GW, mac, 0x0800, &ipv4(ip(1), ip(src), 17, 64, &udp(53, 50000, &dns_answer(id, name, addr)))));
        self
    }
    fn dhcp(&mut self, mac: [u8; 6], host: &str, vendor: &str) -> &mut Self {
        self.send(eth(
            mac,
            [0xff; 6],
            0x0800,
            &ipv4([0; 4], [255; 4], 17, 64, &udp(68, 67, &dhcp_request(mac, host, vendor))),
        ))
    }
    fn alerts(&self) -> Vec<AlertRecord> {
        self.tap.alerts_since(0).cloned().collect()
    }
    fn kinds(&self) -> Vec<AlertKind> {
        self.alerts().iter().map(|a| a.kind).collect()
    }
}

/// The normal day on the ward: what every test learns first.
fn normal_day(w: &mut Ward) {
    w.arp_announce(GW, 1).arp_announce(WS, 5).arp_announce(SRV, 20);
    w.dhcp(WS, "NURSE-WS-03", "MSFT 5.0");
    w.dhcp(PUMP, "alaris-pc-0231", "BD Alaris PC 9.33").arp_announce(PUMP, 7);
    w.resolve(WS, 5, "ehr.hospital.example", [10, 10, 1, 20]);
    w.outbound(WS, 5, [10, 10, 1, 20], 443, &client_hello("ehr.hospital.example"));
    w.resolve(PUMP, 7, "pump-updates.vendor.example", [203, 0, 113, 10]);
    w.outbound(PUMP, 7, [203, 0, 113, 10], 443, &client_hello("pump-updates.vendor.example"));
    // The workstation opens a share on the file server.
    w.send(eth(WS, SRV, 0x0800, &ipv4(ip(5), ip(20), 6, 128, &tcp(50100, 445, SYN, &[]))));
    w.send(eth(SRV, WS, 0x0800, &ipv4(ip(20), ip(5), 6, 128, &tcp(445, 50100, SYNACK, &[]))));
}

fn pump_policy() -> Vec<PolicyRule> {
    vec![PolicyRule {
        scope: Scope::Class(DeviceClass::InfusionPump),
        allow: Allow::Domain(text_from(b"*.vendor.example").0),
    }]
}

fn learned_ward() -> Ward {
    let mut w = Ward::new();
    w.tap.set_policy(&pump_policy());
    w.tap.learn_for(60);
    normal_day(&mut w);
    w.at(120);
    // The same normal day again, after locking.
    normal_day(&mut w);
    w
}

#[test]
fn the_same_normal_day_after_locking_raises_nothing() {
    let w = learned_ward();
    assert_eq!(w.tap.mode(), wardtap_core::policy::Mode::Locked);
    assert!(w.alerts().is_empty(), "{:#?}", w.alerts());
    // The ledger lists the pump's vendor connection, allowed by the policy.
    let ledger: Vec<LedgerRecord> = w.tap.ledger().collect();
    let pump = ledger.iter().find(|l| l.device == Mac(PUMP)).expect("pump in ledger");
    assert_eq!(pump.name.as_slice(), b"pump-updates.vendor.example");
    assert!(pump.allowed && pump.port == 443 && pump.direction == Direction::Outbound);
}

#[test]
fn unexpected_outbound_names_the_endpoint() {
    let mut w = learned_ward();
    w.resolve(WS, 5, "exfil.example.net", [198, 51, 100, 66]);
    w.outbound(WS, 5, [198, 51, 100, 66], 8443, &client_hello("exfil.example.net"));
    let a = w.alerts();
    let out = a.iter().find(|a| a.kind == AlertKind::UnexpectedOutbound).expect("unexpected outbound");
    assert_eq!((out.device, out.peer, out.port), (Mac(WS), Some(IpAddr::V4([198, 51, 100, 66])), 8443));
    assert!(String::from_utf8_lossy(&out.evidence).contains("exfil.example.net"), "{out:?}");
    assert_eq!(out.severity, Severity::Low); // a workstation
    assert!(a.iter().any(|a| a.kind == AlertKind::UnknownDomain && a.device == Mac(WS)));
    let l = w.tap.ledger().find(|l| l.endpoint == IpAddr::V4([198, 51, 100, 66])).unwrap();
    assert!(!l.allowed);
}

#[test]
fn sni_alone_can_allow_a_new_address() {
    // The pump's vendor moves to a new address range; no DNS answer is seen, but the SNI
    // in the first payload matches the policy's domain, so nothing is raised.
    let mut w = learned_ward();
    w.outbound(PUMP, 7, [192, 0, 2, 99], 443, &client_hello("eu.vendor.example"));
    assert!(w.alerts().is_empty(), "{:#?}", w.alerts());
}

#[test]
fn unknown_domain_but_not_for_learned_or_allowed_names() {
    let mut w = learned_ward();
    w.resolve(PUMP, 7, "new.vendor.example", [203, 0, 113, 11]);
    w.resolve(WS, 5, "ehr.hospital.example", [10, 10, 1, 20]);
    assert!(w.alerts().is_empty(), "{:#?}", w.alerts());
    w.resolve(PUMP, 7, "c2.badsite.example", [198, 51, 100, 9]);
    let a = w.alerts();
    assert_eq!(a.len(), 1);
    assert_eq!((a[0].kind, a[0].device, a[0].severity), (AlertKind::UnknownDomain, Mac(PUMP), Severity::Medium));
    assert!(String::from_utf8_lossy(&a[0].evidence).contains("c2.badsite.example"));
}

#[test]
fn new_device_after_locking() {
    let mut w = learned_ward();
    w.arp_announce([0x50, 0xc7, 0xbf, 1, 2, 3], 99);
    let a = w.alerts();
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!((a[0].kind, a[0].device), (AlertKind::NewDevice, Mac([0x50, 0xc7, 0xbf, 1, 2, 3])));
}

#[test]
fn address_claimed_by_a_second_mac() {
    let mut w = learned_ward();
    // The attacker answers for the gateway's address (ARP spoofing).
    w.send(eth(ATTACKER, WS, 0x0806, &arp(2, ATTACKER, ip(1), ip(5))));
    let a = w.alerts();
    let c = a.iter().find(|a| a.kind == AlertKind::AddressConflict).expect("conflict");
    assert_eq!((c.device, c.device_ip, c.severity), (Mac(ATTACKER), Some(IpAddr::V4(ip(1))), Severity::High));
    let ev = String::from_utf8_lossy(&c.evidence).into_owned();
    assert!(ev.contains("10.20.0.1") && ev.contains("00:09:0f:00:00:01") && ev.contains("02:ba:d0:00:00:42"), "{ev}");
    // Observe mode catches it too: it needs no baseline.
    let mut o = Ward::new();
    o.arp_announce(GW, 1);
    o.send(eth(ATTACKER, WS, 0x0806, &arp(2, ATTACKER, ip(1), ip(5))));
    assert_eq!(o.kinds(), [AlertKind::AddressConflict]);
}

#[test]
fn host_sweep_and_port_scan() {
    let mut w = Ward::new();
    w.arp_announce(ATTACKER, 66);
    for h in 100..140u8 {
        w.send(eth(ATTACKER, [0xff; 6], 0x0800, &ipv4(ip(66), ip(h), 6, 64, &tcp(40000, 445, SYN, &[]))));
    }
    assert_eq!(w.kinds(), [AlertKind::Scan]);
    let s = &w.alerts()[0];
    assert!(String::from_utf8_lossy(&s.evidence).contains("32 local hosts"), "{s:?}");
    // A vertical scan of one host from another source.
    let mut w = Ward::new();
    w.arp_announce(ATTACKER, 66).arp_announce(SRV, 20);
    for p in 1..=40u16 {
        w.send(eth(ATTACKER, SRV, 0x0800, &ipv4(ip(66), ip(20), 6, 64, &tcp(40000, p, SYN, &[]))));
    }
    assert_eq!(w.kinds(), [AlertKind::Scan]);
    // Browsing many outside sites is not a scan.
    let mut w = Ward::new();
    for h in 0..60u8 {
        w.outbound(WS, 5, [198, 51, 100, h], 443, &client_hello("cdn.example"));
    }
    assert!(w.kinds().is_empty(), "{:?}", w.kinds());
}

#[test]
fn mass_failed_logins_to_ssh() {
    let mut w = Ward::new();
    w.arp_announce(ATTACKER, 66).arp_announce(SRV, 20);
    for i in 0..12u16 {
        let sport = 50000 + i;
        w.send(eth(ATTACKER, SRV, 0x0800, &ipv4(ip(66), ip(20), 6, 64, &tcp(sport, 22, SYN, &[]))));
        w.send(eth(SRV, ATTACKER, 0x0800, &ipv4(ip(20), ip(66), 6, 64, &tcp(22, sport, SYNACK, &[]))));
        w.send(eth(
            SRV,
            ATTACKER,
            0x0800,
            &ipv4(ip(20), ip(66), 6, 64, &tcp(22, sport, PSHACK, b"SSH-2.0-OpenSSH_9.2\r\n")),
        ));
        w.send(eth(ATTACKER, SRV, 0x0800, &ipv4(ip(66), ip(20), 6, 64, &tcp(sport, 22, PSHACK, b"SSH-2.0-hydra\r\n"))));
        w.send(eth(SRV, ATTACKER, 0x0800, &ipv4(ip(20), ip(66), 6, 64, &tcp(22, sport, RSTACK, &[]))));
    }
    let a = w.alerts();
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!((a[0].kind, a[0].device, a[0].port), (AlertKind::FailedLogins, Mac(ATTACKER), 22));
    assert_eq!(a[0].peer, Some(IpAddr::V4(ip(20))));
    // Refused connections count too, and one long successful session does not.
    let mut w = Ward::new();
    w.arp_announce(WS, 5).arp_announce(SRV, 20);
    for i in 0..9u16 {
        w.send(eth(WS, SRV, 0x0800, &ipv4(ip(5), ip(20), 6, 64, &tcp(51000 + i, 3389, SYN, &[]))));
        w.send(eth(SRV, WS, 0x0800, &ipv4(ip(20), ip(5), 6, 64, &tcp(3389, 51000 + i, RSTACK, &[]))));
    }
    assert!(w.alerts().is_empty(), "below the threshold of 10");
}

#[test]
fn cleartext_once_per_device_and_kind() {
    let mut w = Ward::new();
    w.arp_announce(WS, 5).arp_announce(SRV, 20);
    for sport in [52000, 52001, 52002] {
        w.send(eth(WS, SRV, 0x0800, &ipv4(ip(5), ip(20), 6, 64, &tcp(sport, 23, PSHACK, b"\xff\xfb\x18"))));
    }
    w.send(eth(WS, SRV, 0x0800, &ipv4(ip(5), ip(20), 6, 64, &tcp(52003, 21, PSHACK, b"USER admin\r\n"))));
    let a = w.alerts();
    assert_eq!(a.len(), 2, "{a:#?}");
    assert!(a.iter().all(|a| a.kind == AlertKind::Cleartext && a.device == Mac(WS)));
    let text: Vec<String> = a.iter().map(|a| String::from_utf8_lossy(&a.evidence).into_owned()).collect();
    assert!(text[0].ends_with("telnet") && text[1].ends_with("ftp_login"), "{text:?}");
    assert!(!text.iter().any(|t| t.contains("admin")), "never the secret");
}

#[test]
fn inbound_remote_access_from_outside() {
    let mut w = Ward::new();
    w.dhcp(MON, "MX450-bed07", "Philips IntelliVue MX450").arp_announce(MON, 9).arp_announce(GW, 1);
    w.send(eth(GW, MON, 0x0800, &ipv4([198, 51, 100, 50], ip(9), 6, 50, &tcp(61000, 5900, SYN, &[]))));
    let a = w.alerts();
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!((a[0].kind, a[0].device, a[0].port), (AlertKind::InboundRemoteAccess, Mac(MON), 5900));
    assert_eq!(a[0].severity, Severity::Critical, "a medical device");
    assert_eq!(a[0].peer, Some(IpAddr::V4([198, 51, 100, 50])));
}

#[test]
fn medical_device_on_the_internet_unless_the_policy_says_so() {
    let mut w = Ward::new();
    w.dhcp(MON, "MX450-bed07", "Philips IntelliVue MX450").arp_announce(MON, 9);
    w.outbound(MON, 9, [198, 51, 100, 9], 443, &client_hello("telemetry.example.com"));
    let a = w.alerts();
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!((a[0].kind, a[0].severity), (AlertKind::MedicalInternet, Severity::Critical));
    // Another hospital subnet is outside the segment but not the internet.
    w.outbound(MON, 9, [10, 10, 1, 30], 2575, b"\x0bMSH|^~\\&|IntelliVue|WARD3|HL7|H|||ORU^R01|1|P|2.6\r\x1c\r");
    assert_eq!(w.alerts().len(), 1);
    // With a policy rule for monitors, the same connection is quiet.
    let mut w = Ward::new();
    w.tap.set_policy(&[PolicyRule {
        scope: Scope::Class(DeviceClass::PatientMonitor),
        allow: Allow::Network { addr: IpAddr::V4([198, 51, 100, 0]).to_bytes16(), prefix: 120 },
    }]);
    w.dhcp(MON, "MX450-bed07", "Philips IntelliVue MX450").arp_announce(MON, 9);
    w.outbound(MON, 9, [198, 51, 100, 9], 443, &client_hello("telemetry.example.com"));
    assert!(w.alerts().is_empty(), "{:#?}", w.alerts());
}

#[test]
fn acknowledge_and_read_since() {
    let mut w = Ward::new();
    w.arp_announce(WS, 5).arp_announce(SRV, 20);
    w.send(eth(WS, SRV, 0x0800, &ipv4(ip(5), ip(20), 6, 64, &tcp(52000, 23, PSHACK, b"x"))));
    w.send(eth(WS, SRV, 0x0800, &ipv4(ip(5), ip(20), 6, 64, &tcp(52003, 21, PSHACK, b"USER a\r\n"))));
    assert_eq!(w.tap.alerts_since(1).count(), 1);
    assert_eq!(w.tap.acknowledge(1), 1);
    let a = w.alerts();
    assert!(a[0].acknowledged && !a[1].acknowledged);
    assert_eq!(w.tap.counters().alerts_raised, 2);
}

/// One ward, one timeline, every alert kind, asserted in order.
#[test]
fn scenario_every_kind_alert_by_alert() {
    let mut w = Ward::new();
    w.tap.set_policy(&pump_policy());
    w.tap.learn_for(60);
    normal_day(&mut w);
    w.dhcp(MON, "MX450-bed07", "Philips IntelliVue MX450").arp_announce(MON, 9);
    w.at(120);
    normal_day(&mut w);
    // 1. The pump (medical) phones a host outside its vendor's domain.
    w.resolve(PUMP, 7, "updates.cheap-mirror.example", [198, 51, 100, 77]);
    w.outbound(PUMP, 7, [198, 51, 100, 77], 443, &client_hello("updates.cheap-mirror.example"));
    // 2. A smart plug appears and calls its cloud.
    let plug = Mac([0x50, 0xc7, 0xbf, 1, 2, 3]);
    w.at(130).arp_announce(plug.0, 99);
    w.outbound(plug.0, 99, [198, 51, 100, 7], 443, &client_hello("devs.tplinkcloud.com"));
    // 3. Someone claims the gateway's address.
    w.at(140).send(eth(ATTACKER, WS, 0x0806, &arp(2, ATTACKER, ip(1), ip(5))));
    // 4. ...and sweeps the ward.
    w.at(150);
    for h in 100..140u8 {
        w.send(eth(ATTACKER, [0xff; 6], 0x0800, &ipv4(ip(66), ip(h), 6, 64, &tcp(40000, 445, SYN, &[]))));
    }
    // 5. ...then hammers the file server's SMB login.
    w.at(160);
    for i in 0..10u16 {
        w.send(eth(ATTACKER, SRV, 0x0800, &ipv4(ip(66), ip(20), 6, 64, &tcp(53000 + i, 445, SYN, &[]))));
        w.send(eth(SRV, ATTACKER, 0x0800, &ipv4(ip(20), ip(66), 6, 64, &tcp(445, 53000 + i, RSTACK, &[]))));
    }
    // 6. A technician telnets into the monitor.
    w.at(170).send(eth(WS, MON, 0x0800, &ipv4(ip(5), ip(9), 6, 128, &tcp(52000, 23, PSHACK, b"\xff\xfd\x01"))));
    // 7. A vendor connects to the monitor's VNC from the internet.
    w.at(180).send(eth(GW, MON, 0x0800, &ipv4([198, 51, 100, 50], ip(9), 6, 50, &tcp(61000, 5900, SYN, &[]))));
    // 8. The monitor talks to the internet.
    w.at(190).outbound(MON, 9, [198, 51, 100, 9], 443, &client_hello("telemetry.example.com"));

    let got: Vec<(AlertKind, Mac, Severity)> = w.alerts().iter().map(|a| (a.kind, a.device, a.severity)).collect();
    assert_eq!(
        got,
        [
            (AlertKind::UnknownDomain, Mac(PUMP), Severity::Medium),
            (AlertKind::MedicalInternet, Mac(PUMP), Severity::Critical),
            (AlertKind::NewDevice, plug, Severity::Medium),
            (AlertKind::UnexpectedOutbound, plug, Severity::Medium), // class unknown
            (AlertKind::AddressConflict, Mac(ATTACKER), Severity::High),
            (AlertKind::NewDevice, Mac(ATTACKER), Severity::Medium),
            (AlertKind::Scan, Mac(ATTACKER), Severity::High),
            (AlertKind::FailedLogins, Mac(ATTACKER), Severity::High),
            (AlertKind::Cleartext, Mac(WS), Severity::Medium),
            (AlertKind::InboundRemoteAccess, Mac(MON), Severity::Critical),
            (AlertKind::MedicalInternet, Mac(MON), Severity::Critical),
        ],
        "{:#?}",
        w.alerts()
    );
    let seqs: Vec<u32> = w.alerts().iter().map(|a| a.seq).collect();
    assert_eq!(seqs, (1..=11).collect::<Vec<_>>());
    // Every kind is covered.
    for k in AlertKind::ALL {
        assert!(got.iter().any(|g| g.0 == k), "{k:?} missing");
    }
}

/// Real traffic, learned, then replayed again later: the baseline-dependent detectors stay
/// quiet. (Context-free ones may speak in both passes and are not counted here.)
#[test]
fn no_false_positive_when_normal_traffic_repeats() {
    for name in [
        "lan-mixed-services__zeek-var-services.pcap",
        "dicom-dhcp-smb-hospital-synthetic__tapirxl.pcap",
        "lan-office-teams-switch__ndpi.pcap",
        "iot-philips-hue-bridge__iot-sentinel.pcap",
    ] {
        let frames = support::frames(name);
        let (first, last) = (frames[0].0, frames[frames.len() - 1].0);
        let span = last - first + 1_000_000;
        let mut tap = Box::new(Tap::new(0));
        tap.learn_for((span / 1_000_000 + 1) as u32);
        for (ts, f) in &frames {
            tap.process(*ts, f);
        }
        let after_learning = tap.alerts_since(0).map(|a| a.seq).max().unwrap_or(0);
        for (ts, f) in &frames {
            tap.process(ts + span + 2_000_000, f);
        }
        assert_eq!(tap.mode(), wardtap_core::policy::Mode::Locked, "{name}");
        let new: Vec<&AlertRecord> = tap
            .alerts_since(after_learning)
            .filter(|a| {
                matches!(a.kind, AlertKind::UnexpectedOutbound | AlertKind::UnknownDomain | AlertKind::NewDevice)
            })
            .collect();
        assert!(new.is_empty(), "{name}: {new:#?}");
        assert_eq!(tap.counters().baseline_full, 0, "{name}");
    }
}

/// A workstation's TCP SYN to an outside address (a new edge with no payload yet).
fn syn_out(w: &mut Ward, dst: [u8; 4], port: u16) {
    w.send(eth(WS, GW, 0x0800, &ipv4(ip(5), dst, 6, 64, &tcp(41000, port, SYN, &[]))));
}

fn outbound_alerts(w: &Ward) -> Vec<(IpAddr, u16, String)> {
    w.alerts()
        .iter()
        .filter(|a| a.kind == AlertKind::UnexpectedOutbound)
        .map(|a| (a.peer.unwrap(), a.port, String::from_utf8_lossy(&a.evidence).into_owned()))
        .collect()
}

/// A new outbound TCP edge is judged at its first payload (which may name it), else after
/// waiting 5 s; payloads to other endpoints, or frames before the wait is over, release
/// nothing; edges released together are judged oldest first.
#[test]
fn pending_outbound_waits_for_its_first_payload_or_five_seconds() {
    let mut w = learned_ward();
    let peer = |last| IpAddr::V4([198, 51, 100, last]);
    w.at(200);
    syn_out(&mut w, [198, 51, 100, 1], 443);
    syn_out(&mut w, [198, 51, 100, 2], 443);
    syn_out(&mut w, [198, 51, 100, 3], 8443);
    // Payload on a known internal edge, and from the gateway toward a pending peer's port.
    w.send(eth(WS, SRV, 0x0800, &ipv4(ip(5), ip(20), 6, 128, &tcp(50100, 445, PSHACK, b"smb"))));
    w.send(eth(GW, WS, 0x0800, &ipv4([198, 51, 100, 1], ip(5), 6, 50, &tcp(443, 41000, PSHACK, b"x"))));
    // An earlier timestamp (capture reordering) releases nothing either.
    w.tap.process(1_000_000, &eth(WS, SRV, 0x0800, &ipv4(ip(5), ip(20), 6, 128, &tcp(50100, 445, PSHACK, b"a"))));
    assert!(outbound_alerts(&w).is_empty(), "{:#?}", w.alerts());
    // The second edge's first payload names it and releases it alone.
    w.send(eth(
        WS,
        GW,
        0x0800,
        &ipv4(ip(5), [198, 51, 100, 2], 6, 64, &tcp(41000, 443, PSHACK, &client_hello("two.example.net"))),
    ));
    let got = outbound_alerts(&w);
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!((got[0].0, got[0].1), (peer(2), 443));
    assert!(got[0].2.contains("two.example.net"), "{got:?}");
    // 4 s later: still waiting. 6 s later, any frame releases the other two, oldest first.
    w.at(204).arp_announce(SRV, 20);
    assert_eq!(outbound_alerts(&w).len(), 1);
    w.at(206).arp_announce(SRV, 20);
    let got = outbound_alerts(&w);
    let ends: Vec<(IpAddr, u16)> = got.iter().map(|g| (g.0, g.1)).collect();
    assert_eq!(ends, [(peer(2), 443), (peer(1), 443), (peer(3), 8443)]);
    assert!(got[1].2.contains("(no name seen)"), "{got:?}");
    // Nothing stays pending: the same endpoints raise nothing more.
    w.at(300).arp_announce(SRV, 20);
    assert_eq!(outbound_alerts(&w).len(), 3);
}

/// When more edges wait than the queue holds, the oldest is judged at once (without a name).
#[test]
fn a_full_pending_queue_judges_its_oldest_at_once() {
    let mut w = learned_ward();
    w.at(200);
    let n = wardtap_core::config::MAX_PENDING_JUDGEMENTS as u8;
    for h in 1..=n {
        syn_out(&mut w, [198, 51, 100, h], 443);
    }
    assert!(outbound_alerts(&w).is_empty());
    syn_out(&mut w, [198, 51, 100, n + 1], 443);
    syn_out(&mut w, [198, 51, 100, n + 2], 443);
    let ends: Vec<IpAddr> = outbound_alerts(&w).iter().map(|g| g.0).collect();
    assert_eq!(ends, [IpAddr::V4([198, 51, 100, 1]), IpAddr::V4([198, 51, 100, 2])]);
    // The third's payload still releases it, ahead of the rest.
    w.send(eth(WS, GW, 0x0800, &ipv4(ip(5), [198, 51, 100, 3], 6, 64, &tcp(41000, 443, PSHACK, b"hello"))));
    assert_eq!(outbound_alerts(&w).len(), 3);
    w.at(210).arp_announce(SRV, 20);
    assert_eq!(outbound_alerts(&w).len(), n as usize + 2);
}
