//! `wardtap live` end to end, in network namespaces made for the test: a software switch
//! (Linux bridge) whose ports are mirrored with `tc mirred` to a SPAN interface, and real peers
//! from Debian packages on the other ports — dnsmasq (DHCP + DNS), busybox udhcpc as a patient
//! monitor, dcmtk storescp as a PACS with snmpd and `openssl s_server`, a CT modality running
//! storescu / echoscu, snmpget, nslookup and `openssl s_client`, lldpd on the DHCP server.
//! `wardtap live` runs in the switch namespace on the mirror interface, flushes to a SQLite
//! file, and is stopped with SIGINT. Every frame stays inside the namespaces.
//!
//! Needs root (CI runs as root); elsewhere it says so and passes unless `CI` is set.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wardtap::db::query::AssetFilter;
use wardtap::db::Db;

/// Topology and peers. `up`, `servers`, `traffic`, `down`; PREFIX names the namespaces.
const WARD_SH: &str = r#"#!/bin/bash
set -eu
P=$2; W=$3
ns() { ip netns exec "$P-$1" "${@:2}"; }
case $1 in
up)
  for n in sw srv pacs mon ct; do ip netns add $P-$n; ip -n $P-$n link set lo up; done
  ip netns exec $P-sw sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n $P-sw link add br0 type bridge
  ip -n $P-sw link set br0 up
  # The SPAN port: everything entering the switch is copied to mir0 and read on mon0.
  ip -n $P-sw link add mir0 type veth peer name mon0
  ip -n $P-sw link set mir0 up; ip -n $P-sw link set mon0 up
  i=0
  for n in srv pacs mon ct; do
    i=$((i+1))
    ip -n $P-sw link add p$i type veth peer name eth0 netns $P-$n
    ip -n $P-sw link set p$i master br0 up
    tc -n $P-sw qdisc add dev p$i clsact
    tc -n $P-sw filter add dev p$i ingress protocol all u32 match u32 0 0 action mirred egress mirror dev mir0
    ip netns exec $P-$n sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.eth0.disable_ipv6=1
  done
  ip -n $P-srv link set eth0 address 02:77:00:00:00:01
  ip -n $P-pacs link set eth0 address 00:50:56:77:00:20
  ip -n $P-mon link set eth0 address 00:09:fb:77:00:07
  ip -n $P-ct link set eth0 address 00:90:20:77:00:30
  for n in srv pacs mon ct; do ip -n $P-$n link set eth0 up; done
  ip -n $P-srv addr add 10.77.0.1/24 dev eth0
  ip -n $P-pacs addr add 10.77.0.20/24 dev eth0
  ip -n $P-ct addr add 10.77.0.30/24 dev eth0
  ;;
servers)
  ns srv dnsmasq --no-resolv --no-hosts --bind-interfaces --interface=eth0 --dhcp-range=10.77.0.100,10.77.0.150,12h \
     --dhcp-leasefile=$W/leases --pid-file=$W/dnsmasq.pid --address=/pacs.ward7.example/10.77.0.20 \
     --domain=ward7.example --log-facility=$W/dnsmasq.log
  printf 'rocommunity public 10.77.0.0/24\nsysName PACSARCH01\nsysDescr wardtap-test PACS archive\n' > $W/snmpd.conf
  ns pacs snmpd -C -c $W/snmpd.conf -p $W/snmpd.pid -Lf $W/snmpd.log udp:10.77.0.20:161
  mkdir -p $W/dicom-in
  ns pacs storescp -aet PACS01 -od $W/dicom-in 104 </dev/null >$W/storescp.log 2>&1 &
  openssl req -x509 -newkey rsa:2048 -nodes -keyout $W/key.pem -out $W/cert.pem -days 2 -subj /CN=pacs.ward7.example 2>/dev/null
  ns pacs openssl s_server -accept 10.77.0.20:443 -cert $W/cert.pem -key $W/key.pem -www -quiet </dev/null >$W/s_server.log 2>&1 &
  # lldpd resolves its own host name; answer from a hosts file, not from outside the namespace.
  mkdir -p /etc/netns/$P-srv
  printf '127.0.0.1 localhost\n10.77.0.1 ward7-switch\n' > /etc/netns/$P-srv/hosts
  printf 'nameserver 127.0.0.1\n' > /etc/netns/$P-srv/resolv.conf
  ns srv unshare --uts sh -c 'hostname ward7-switch; exec lldpd -u '$W'/lldpd.sock -p '$W'/lldpd.pid -I eth0 -S "MedSwitch OS 3.1"' </dev/null >$W/lldpd.log 2>&1
  for i in $(seq 100); do [ -S $W/lldpd.sock ] && break; sleep 0.1; done
  # lldpd starts paused until its lldpcli says "resume"; say it now rather than wait for it.
  ns srv lldpcli -u $W/lldpd.sock resume >/dev/null
  ns srv lldpcli -u $W/lldpd.sock update >/dev/null
  for i in $(seq 50); do ns pacs bash -c "echo > /dev/tcp/10.77.0.20/104" 2>/dev/null && break; sleep 0.1; done
  for i in $(seq 50); do ns pacs bash -c "echo > /dev/tcp/10.77.0.20/443" 2>/dev/null && break; sleep 0.1; done
  ;;
traffic)
  printf '(0008,0016) UI =CTImageStorage\n(0008,0018) UI [1.2.826.0.1.3680043.2.1125.1.1]\n(0008,0060) CS [CT]\n(0020,000d) UI [1.2.826.0.1.3680043.2.1125.1.2]\n(0020,000e) UI [1.2.826.0.1.3680043.2.1125.1.3]\n(0028,0002) US 1\n(0028,0004) CS [MONOCHROME2]\n(0028,0010) US 1\n(0028,0011) US 1\n(0028,0100) US 8\n(0028,0101) US 8\n(0028,0102) US 7\n(0028,0103) US 0\n(7fe0,0010) OB 00\\00\n' > $W/ct.txt
  dump2dcm +te $W/ct.txt $W/ct.dcm
  ns mon busybox udhcpc -i eth0 -n -q -t 5 -T 1 -x hostname:MX700-bed7 -V "Philips IntelliVue MX700" -s /bin/true
  ns ct busybox nslookup -type=a pacs.ward7.example 10.77.0.1
  ns ct echoscu -aet CT01 -aec PACS01 10.77.0.20 104
  ns ct storescu -aet CT01 -aec PACS01 10.77.0.20 104 $W/ct.dcm
  ns ct snmpget -v2c -c public 10.77.0.20 1.3.6.1.2.1.1.5.0 1.3.6.1.2.1.1.1.0
  echo | ns ct openssl s_client -connect 10.77.0.20:443 -servername pacs.ward7.example >/dev/null 2>&1
  # lldpd speaks on its own schedule: wait until it has sent its first LLDPDU.
  for i in $(seq 100); do
    ns srv lldpcli -u $W/lldpd.sock show statistics | grep -q "Transmitted: *[1-9]" && break
    [ $((i % 10)) = 0 ] && ns srv lldpcli -u $W/lldpd.sock update >/dev/null
    sleep 0.1
  done
  ;;
down)
  for f in dnsmasq snmpd lldpd; do [ -f $W/$f.pid ] && kill $(cat $W/$f.pid) 2>/dev/null || true; done
  for n in sw srv pacs mon ct; do ip netns pids $P-$n 2>/dev/null | xargs -r kill 2>/dev/null || true; done
  sleep 0.3
  for n in sw srv pacs mon ct; do ip netns pids $P-$n 2>/dev/null | xargs -r kill -9 2>/dev/null || true; ip netns del $P-$n 2>/dev/null || true; done
  rm -rf /etc/netns/$P-srv
  ;;
esac
"#;

struct Ward {
    dir: PathBuf,
    prefix: String,
    live: Option<Child>,
}

impl Ward {
    fn sh(&self, step: &str) {
        let out = Command::new("bash")
            .arg(self.dir.join("ward.sh"))
            .args([step, &self.prefix, self.dir.to_str().unwrap()])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ward.sh {step} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Ward {
    fn drop(&mut self) {
        if let Some(mut c) = self.live.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("bash")
            .arg(self.dir.join("ward.sh"))
            .args(["down", &self.prefix, self.dir.to_str().unwrap()])
            .stdin(Stdio::null())
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// The `wardtap` binary beside this test's (`target/<profile>/wardtap`), built if missing.
fn wardtap_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let bin = profile_dir.join("wardtap");
    if !bin.exists() {
        let st = Command::new(env!("CARGO")).args(["build", "-p", "wardtap", "--bin", "wardtap"]).status().unwrap();
        assert!(st.success());
    }
    assert!(bin.exists(), "{} not built", bin.display());
    bin
}

#[test]
fn live_on_a_mirror_port_lists_every_peer_with_names_and_medical_identities() {
    if !is_root() {
        assert!(std::env::var_os("CI").is_none(), "CI must run this test as root");
        eprintln!("live_netns: skipped, needs root (network namespaces, raw capture)");
        return;
    }
    let bin = wardtap_bin();
    let dir = std::env::temp_dir().join(format!("wardtap-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ward.sh"), WARD_SH).unwrap();
    let mut ward = Ward { dir: dir.clone(), prefix: format!("wt{}", std::process::id() % 100_000), live: None };
    ward.sh("up");

    let db = dir.join("live.db");
    let log = std::fs::File::create(dir.join("live.log")).unwrap();
    let child = Command::new("ip")
        .args(["netns", "exec", &format!("{}-sw", ward.prefix)])
        .arg(&bin)
        .args(["live", "--iface", "mon0", "--tap", "ward7-span", "--ward", "ward7", "--flush", "1s", "--db"])
        .arg(&db)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let pid = child.id();
    ward.live = Some(child);
    // Wait until it captures (its first line), then start the peers: lldpd speaks at start.
    let started = Instant::now();
    while !std::fs::read_to_string(dir.join("live.log")).unwrap_or_default().contains("capturing on mon0") {
        assert!(started.elapsed() < Duration::from_secs(20), "wardtap live did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    ward.sh("servers");
    ward.sh("traffic");
    std::thread::sleep(Duration::from_millis(1500));

    // Ctrl-C: a last flush, then exit 0.
    assert!(Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap().success());
    let mut child = ward.live.take().unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "wardtap live did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = std::fs::read_to_string(dir.join("live.log")).unwrap();
    assert!(status.success(), "{log}");
    assert!(log.contains("stopped, flushed"), "{log}");

    let mut db = Db::open(db.to_str().unwrap()).unwrap();
    let assets = db.assets(&AssetFilter::default()).unwrap();
    let macs: Vec<&str> = assets.iter().map(|a| a.mac.as_str()).collect();
    // Exactly the four peers: nothing from outside the namespaces, nothing sent by the tap.
    assert_eq!(macs, ["00:09:fb:77:00:07", "00:50:56:77:00:20", "00:90:20:77:00:30", "02:77:00:00:00:01"], "{log}");
    let get = |mac: &str| assets.iter().find(|a| a.mac == mac).unwrap();
    let names = |mac: &str| get(mac).detail_sourced("names");
    let software = |mac: &str| get(mac).detail_sourced("software");
    let has = |v: Vec<(String, String)>, value: &str, source: &str| v.iter().any(|(a, b)| a == value && b == source);

    let monitor = get("00:09:fb:77:00:07");
    assert_eq!(monitor.class, "patient_monitor", "{:?}", monitor.detail);
    assert!(has(names(&monitor.mac), "MX700-bed7", "dhcp"));
    assert!(has(software(&monitor.mac), "Philips IntelliVue MX700", "dhcp_vendor_class"));
    assert!(monitor.ips.iter().any(|i| i.starts_with("10.77.0.1")), "leased address {:?}", monitor.ips);

    let pacs = get("00:50:56:77:00:20");
    assert_eq!(pacs.class, "pacs");
    assert!(has(names(&pacs.mac), "PACSARCH01", "snmp"));
    assert!(has(software(&pacs.mac), "wardtap-test PACS archive", "snmp_sysdescr"));
    assert_eq!(pacs.detail["dicom"]["calling_ae"], serde_json::json!(["CT01"]));

    let ct = get("00:90:20:77:00:30");
    assert_eq!(ct.class, "imaging_modality", "{:?}", ct.detail);
    assert_eq!(ct.detail["dicom"]["called_ae"], serde_json::json!(["PACS01"]));
    assert!(ct.detail_strings("tls_sni").contains(&"pacs.ward7.example".to_owned()));
    assert!(ct.detail_strings("dns_queries").contains(&"pacs.ward7.example".to_owned()));
    // echoscu's association proposes Verification (the tap keeps the first proposals it sees).
    assert!(ct.detail["dicom"]["sop_classes"].to_string().contains("1.2.840.10008.1.1"), "{}", ct.detail["dicom"]);

    let srv = get("02:77:00:00:00:01");
    assert!(has(names(&srv.mac), "ward7-switch", "lldp"), "{:?}", srv.detail);
    assert!(has(software(&srv.mac), "MedSwitch OS 3.1", "lldp_sysdescr"));

    // The cleartext SNMP community was alerted once, acknowledged on the core after the commit.
    let alerts = db.alerts(false, None).unwrap();
    let snmp = alerts.iter().find(|a| a.kind == "cleartext" && a.device == ct.mac).expect("cleartext alert");
    assert!(snmp.evidence.contains("snmp_community") && snmp.tap_acked);
    assert!(!alerts.iter().any(|a| a.evidence.contains("public")), "never the community itself");
}

#[test]
fn live_without_privileges_or_interface_says_so() {
    let bin = wardtap_bin();
    let db = std::env::temp_dir().join(format!("wardtap-live-priv-{}.db", std::process::id()));
    let out = Command::new(&bin).args(["live", "--iface", "no-such-if0", "--db"]).arg(&db).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no network interface \"no-such-if0\""));
    if !is_root() {
        return;
    }
    // As an unprivileged user: a clear word about root / CAP_NET_RAW, not a bare EPERM.
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .arg(&bin)
        .args(["live", "--iface", "lo", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("needs root or the CAP_NET_RAW"), "{err}");
    let _ = std::fs::remove_file(db);
}
