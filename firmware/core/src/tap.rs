//! The tap: the dissection pipeline feeding the inventory, behind one call per frame.

use crate::alerts::AlertRing;
use crate::detect::{self, Detector};
use crate::dissect::{Layer, Pipeline};
use crate::fact::{Fact, FrameCtx, Sink, Timestamp};
use crate::inventory::Inventory;
use crate::policy::{BaselineEntry, Mode, Policy, Question, Subject};
use wardtap_proto::{
    text_from, AlertRecord, AssetRecord, Counters, EdgeRecord, LedgerRecord, PolicyRule, TableFill, Thresholds,
};

/// Everything the core holds. Large (see [`crate::config::STATE_BUDGET`]): on the MCU
/// place it in a `static`; on a host, `Box::new(Tap::new(..))`.
pub struct Tap {
    pipeline: Pipeline,
    state: State,
}

/// Everything but the pipeline: what the facts flow into.
struct State {
    inventory: Inventory,
    policy: Policy,
    detector: Detector,
    alerts: AlertRing,
}

impl Sink for State {
    fn frame(&mut self, ctx: &FrameCtx) {
        self.policy.tick(ctx.ts);
        self.inventory.frame(ctx);
    }
    // Inline: at a call site that emits one kind of fact, the kind dispatch of the inventory
    // and of the detectors folds away.
    #[inline]
    fn fact(&mut self, ctx: &FrameCtx, fact: &Fact<'_>) {
        self.inventory.fact(ctx, fact);
        let c = detect::Ctx { inv: &self.inventory, policy: &mut self.policy, alerts: &mut self.alerts };
        self.detector.fact(c, ctx, fact);
    }
    #[inline]
    fn frame_done(&mut self, ctx: &FrameCtx) {
        self.inventory.settle();
        let c = detect::Ctx { inv: &self.inventory, policy: &mut self.policy, alerts: &mut self.alerts };
        self.detector.frame_done(c, ctx);
    }
}

impl Tap {
    /// A fresh tap. `seed` perturbs hash placement only; results never depend on it.
    pub const fn new(seed: u32) -> Self {
        Tap {
            pipeline: Pipeline::new(seed),
            state: State {
                inventory: Inventory::new(seed),
                policy: Policy::new(seed),
                detector: Detector::new(seed),
                alerts: AlertRing::new(),
            },
        }
    }

    /// Declares a local IPv4 subnet (configuration). Returns false when the list is full.
    pub fn add_subnet(&mut self, net: [u8; 4], prefix: u8) -> bool {
        self.state.inventory.add_subnet(net, prefix)
    }

    /// Processes one frame captured at `ts` (µs since the epoch).
    pub fn process(&mut self, ts: Timestamp, frame: &[u8]) {
        self.pipeline.frame(ts, frame, &mut self.state);
    }

    /// The inventory (read-only).
    pub fn inventory(&self) -> &Inventory {
        &self.state.inventory
    }

    /// Every asset.
    pub fn assets(&self) -> impl Iterator<Item = AssetRecord> + '_ {
        self.state.inventory.records()
    }

    /// Every live edge.
    pub fn edges(&self) -> impl Iterator<Item = EdgeRecord> + '_ {
        self.state.inventory.edge_records()
    }

    /// Starts learning for `secs` of capture time, counted from the next frame.
    pub fn learn_for(&mut self, secs: u32) {
        self.state.policy.learn_for(secs);
    }

    /// Locks the baseline now.
    pub fn lock(&mut self) {
        self.state.policy.lock();
    }

    /// Learning mode.
    pub fn mode(&self) -> Mode {
        self.state.policy.mode()
    }

    /// The policy rules in force (to save them across power cuts).
    pub fn policy_rules(&self) -> &[PolicyRule] {
        self.state.policy.rules()
    }

    /// Every learned baseline entry (to save across power cuts).
    pub fn baseline_export(&self) -> impl Iterator<Item = BaselineEntry> + '_ {
        self.state.policy.baseline_export()
    }

    /// Restores a saved baseline entry; false when it does not fit or is not valid.
    pub fn baseline_import(&mut self, e: &BaselineEntry) -> bool {
        self.state.policy.baseline_import(e)
    }

    /// Restores a saved learning mode.
    pub fn set_mode(&mut self, mode: Mode) {
        self.state.policy.set_mode(mode);
    }

    /// Replaces the policy rules; returns how many were taken (the rest are counted).
    pub fn set_policy(&mut self, rules: &[PolicyRule]) -> usize {
        self.state.policy.set_rules(rules)
    }

    /// Sets the detection thresholds.
    pub fn set_thresholds(&mut self, t: Thresholds) {
        self.state.detector.set_thresholds(t);
        self.state.alerts.set_repeat_secs(t.repeat_secs);
    }

    /// Alerts with a sequence number above `seq`, oldest first.
    pub fn alerts_since(&self, seq: u32) -> impl Iterator<Item = &AlertRecord> {
        self.state.alerts.since(seq)
    }

    /// Acknowledges every alert up to `seq`; returns how many changed.
    pub fn acknowledge(&mut self, seq: u32) -> usize {
        self.state.alerts.acknowledge(seq)
    }

    /// The last alert sequence number given (0: none yet), or resumed after.
    pub fn last_alert_seq(&self) -> u32 {
        self.state.alerts.last_seq()
    }

    /// Continues alert numbering after `seq` (the floor saved before a power cut): the next
    /// new alert gets `seq + 1`. Never goes back (see [`AlertRing::resume_after`]).
    pub fn resume_alerts_after(&mut self, seq: u32) {
        self.state.alerts.resume_after(seq);
    }

    /// The connection points to outside the segment, with the name that led there and
    /// whether baseline or policy allows them.
    pub fn ledger(&self) -> impl Iterator<Item = LedgerRecord> + '_ {
        let st = &self.state;
        st.inventory.edge_records().filter(|e| e.external).map(move |e| {
            let name = st.detector.name_of(&e.peer);
            let class = st.inventory.find(&e.asset).and_then(|s| st.inventory.asset(s)).map(|a| a.class);
            let q = Question {
                mac: e.asset,
                class: class.unwrap_or_default(),
                what: Subject::External { peer: e.peer, transport: e.transport, port: e.port, name },
            };
            LedgerRecord {
                device: e.asset,
                endpoint: e.peer,
                name: text_from(name.unwrap_or(b"")).0,
                transport: e.transport,
                port: e.port,
                direction: e.direction,
                first_seen: e.first_seen,
                last_seen: e.last_seen,
                bytes: e.bytes,
                frames: e.frames,
                allowed: st.policy.decide(&q).allowed(),
            }
        })
    }

    /// All counters.
    pub fn counters(&self) -> Counters {
        let d = &self.pipeline.counters;
        let i = &self.state.inventory.counters;
        let mut malformed = [0u32; 20];
        for l in Layer::all() {
            if let Some(m) = malformed.get_mut(l as usize) {
                *m = d.malformed[l as usize];
            }
        }
        let p = &self.state.policy.counters;
        let a = &self.state.alerts.counters;
        Counters {
            frames: d.frames,
            bytes: d.bytes,
            malformed,
            vlan_too_deep: d.vlan_too_deep,
            fragments: d.fragments,
            unhandled: d.unhandled,
            tcp_payload_skipped: d.tcp_payload_skipped,
            flows_evicted: d.flows_evicted,
            assets_evicted: i.assets_evicted,
            edges_evicted: i.edges_evicted,
            peers_evicted: i.peers_evicted,
            strings_dropped_full: i.strings_dropped_full,
            strings_dropped_cap: i.strings_dropped_cap,
            strings_truncated: i.strings_truncated,
            addresses_dropped: i.addresses_dropped,
            services_dropped: i.services_dropped,
            observations_ignored: i.observations_ignored,
            alerts_raised: a.raised,
            alerts_folded: a.folded,
            alerts_overflow: a.overflow,
            baseline_entries: p.baseline_entries,
            baseline_full: p.baseline_full,
            policy_rules_refused: p.rules_refused,
        }
    }

    /// Table fill.
    pub fn fill(&self) -> TableFill {
        let mut f = self.state.inventory.fill();
        f.flows = (self.pipeline.flows_len() as u16, crate::config::MAX_FLOWS as u16);
        f
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::dissect::testutil::frames;
    use std::boxed::Box;
    use std::string::String;
    use std::vec::Vec;
    use wardtap_proto::{DeviceClass, Mac, StrKind};

    #[test]
    fn layer_count_matches_the_wire_counters() {
        assert_eq!(crate::dissect::LAYERS, 20);
    }

    /// Runs a capture through a fresh tap.
    pub(crate) fn replay(name: &str) -> Box<Tap> {
        let mut tap = Box::new(Tap::new(0));
        for (ts, f) in frames(name) {
            tap.process(ts, &f);
        }
        tap
    }

    fn strings(r: &AssetRecord) -> Vec<String> {
        r.strings.iter().map(|s| std::format!("{}:{}", s.kind.family(), String::from_utf8_lossy(&s.text))).collect()
    }

    fn by_mac(tap: &Tap, mac: [u8; 6]) -> AssetRecord {
        tap.assets().find(|a| a.mac == Mac(mac)).unwrap_or_else(|| panic!("no asset {}", Mac(mac)))
    }

    #[test]
    fn same_frames_same_inventory_whatever_the_seed() {
        let f = frames("lan-mixed-services__zeek-var-services.pcap");
        let run = |seed| {
            let mut tap = Box::new(Tap::new(seed));
            for (ts, fr) in &f {
                tap.process(*ts, fr);
            }
            let mut a: Vec<AssetRecord> = tap.assets().collect();
            a.sort_by_key(|r| r.mac);
            let mut e: Vec<EdgeRecord> = tap.edges().collect();
            e.sort_by_key(|r| (r.asset, r.peer, r.port, r.transport, r.direction));
            (a, e, tap.counters())
        };
        assert_eq!(run(0), run(0xdead_beef));
    }

    #[test]
    fn every_frame_counted_and_assets_have_first_and_last_seen() {
        let tap = replay("dhcp-dora__arkime-wireshark.pcap");
        assert_eq!(tap.counters().frames, 4);
        for a in tap.assets() {
            assert!(a.first_seen > 0 && a.first_seen <= a.last_seen);
            assert!(a.frames_tx > 0);
        }
    }

    #[test]
    fn hospital_segment_inventory() {
        let tap = replay("dicom-dhcp-smb-hospital-synthetic__tapirxl.pcap");
        let all: Vec<(AssetRecord, Vec<String>)> = tap
            .assets()
            .map(|a| {
                let s = strings(&a);
                (a, s)
            })
            .collect();
        let find = |needle: &str| {
            all.iter()
                .find(|(_, s)| s.iter().any(|x| x.contains(needle)))
                .unwrap_or_else(|| panic!("no asset with {needle}: {all:#?}"))
        };
        let (monitor, _) = find("MX700-bed12");
        assert_eq!(monitor.class, DeviceClass::PatientMonitor, "{monitor:?}");
        let (ct, _) = find("BRILL-CT01");
        assert_eq!(ct.class, DeviceClass::ImagingModality);
        let (scu, s) = find("CT9999999");
        assert!(s.iter().any(|x| x == "dicom_ae_called:CCPLATFORM"), "{s:?}");
        assert_eq!(scu.class, DeviceClass::ImagingModality);
        assert!(all.iter().any(|(a, _)| a.class == DeviceClass::Pacs));
        let (_, s) = find("ACMEWS02");
        assert!(s.iter().any(|x| x == "software:MSFT 5.0"), "{s:?}");
        assert!(monitor
            .strings
            .iter()
            .any(|s| s.kind == StrKind::Software(wardtap_proto::SoftwareSource::DhcpVendorClass)));
    }

    #[test]
    fn hl7_sender_and_receiver() {
        let tap = replay("hl7-mllp-adt__ndpi.pcap");
        let recs: Vec<AssetRecord> = tap.assets().collect();
        let sender = recs
            .iter()
            .find(|a| strings(a).iter().any(|s| s == "hl7_sending:SENDING_APPLICATION|SENDING_FACILITY"))
            .expect("sender");
        assert_eq!(sender.class, DeviceClass::Hl7Engine);
        assert!(strings(sender).iter().any(|s| s == "hl7_receiving:RECEIVING_APPLICATION|RECEIVING_FACILITY"));
        assert!(strings(sender).iter().any(|s| s == "hl7_message_type:ADT^A01"));
        assert!(recs.iter().any(|a| a.protocols.contains(wardtap_proto::Protocol::Hl7Receiver)));
    }

    #[test]
    fn dhcp_fingerprint_kept_in_order() {
        let tap = replay("dhcp-mud-raspberrypi__tcpdump.pcap");
        let pi = by_mac(&tap, [0xb8, 0x27, 0xeb, 0xb8, 0x53, 0xc8]);
        assert_eq!(pi.dhcp_prl.as_slice(), &[1, 121, 33, 3, 6, 12, 15, 28, 42, 51, 54, 58, 59, 100, 101, 119]);
        assert!(strings(&pi).iter().any(|s| s == "name:raspberrypi"));
        assert_eq!(pi.class, DeviceClass::IotOther, "{:?}", pi.evidence);
    }

    #[test]
    fn switches_are_infrastructure() {
        let tap = replay("lldp-cdp-cisco3560__tcpdump.pcap");
        let recs: Vec<AssetRecord> = tap.assets().collect();
        assert!(!recs.is_empty());
        for a in &recs {
            assert_eq!(a.class, DeviceClass::NetworkInfrastructure, "{a:?}");
        }
        assert!(recs.iter().any(|a| strings(a).iter().any(|s| s == "name:S1.cisco.com")));
    }

    #[test]
    fn external_edges_belong_to_the_local_device() {
        let tap = replay("http-get-wget__zeek.pcap");
        let edges: Vec<EdgeRecord> = tap.edges().collect();
        let web = edges
            .iter()
            .find(|e| e.port == 80 && e.external && e.direction == wardtap_proto::Direction::Outbound)
            .unwrap_or_else(|| panic!("{edges:#?}"));
        assert!(web.frames >= 2 && web.bytes > 0 && web.first_seen <= web.last_seen);
    }

    #[test]
    fn a_resumed_tap_raises_the_same_alerts_numbered_after_the_floor() {
        let f = frames("tls-sni-many-sites__pcapplusplus.pcap");
        let run = |floor: Option<u32>| {
            let mut tap = Box::new(Tap::new(0));
            tap.lock();
            if let Some(floor) = floor {
                tap.resume_alerts_after(floor);
            }
            for (ts, fr) in &f {
                tap.process(*ts, fr);
            }
            tap
        };
        let (plain, resumed) = (run(None), run(Some(70_000)));
        let a: Vec<AlertRecord> = plain.alerts_since(0).cloned().collect();
        let b: Vec<AlertRecord> = resumed.alerts_since(0).cloned().collect();
        // The ring wrapped (its oldest records went): compare what both hold.
        assert!(a.len() > 2 && plain.counters().alerts_overflow > 0, "{}", a.len());
        assert_eq!(b.first().map(|r| r.seq), a.first().map(|r| r.seq + 70_000));
        assert_eq!(resumed.last_alert_seq(), plain.last_alert_seq() + 70_000);
        let shifted: Vec<AlertRecord> = a.iter().map(|r| AlertRecord { seq: r.seq + 70_000, ..r.clone() }).collect();
        assert_eq!(b, shifted, "the same alerts, only renumbered");
        assert_eq!(plain.counters(), resumed.counters());
    }

    #[test]
    fn full_asset_table_evicts_and_counts() {
        // 1,100 distinct senders on a table of 1,024: 76 evictions, all counted.
        let mut tap = Box::new(Tap::new(0));
        let n = crate::config::MAX_ASSETS as u32 + 76;
        for i in 0..n {
            let mut f = [0u8; 60];
            f[0..6].copy_from_slice(&[0xff; 6]);
            f[6..12].copy_from_slice(&[0x02, 0, 0, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
            f[12..14].copy_from_slice(&[0x88, 0xb5]);
            tap.process(i as u64, &f);
        }
        assert_eq!(tap.inventory().asset_count(), crate::config::MAX_ASSETS);
        assert_eq!(tap.counters().assets_evicted, 76);
    }
}
