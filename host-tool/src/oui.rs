//! MAC address → vendor name, from the IEEE registration authority's public listings.
//!
//! The table is `host-tool/data/oui.tsv`, compiled in with `include_str!` (≈1.8 MB; no build
//! script, no network, nothing to install). It holds MA-L (24-bit OUI), MA-M (28-bit), MA-S
//! (36-bit) and legacy IAB (36-bit) assignments; the longest matching prefix wins, so a device in
//! an MA-M/MA-S block is named after its real vendor rather than the IEEE umbrella block.
//! Regenerate it with `host-tool/data/oui-gen.py` (see that script's header for the sources:
//! IEEE CSV downloads, Debian's `ieee-data`, or the `oui-data` crate's data folder).
//!
//! Deliberately not answered: locally administered addresses (randomised phone/laptop MACs,
//! VMs, IEEE CIDs) and group (multicast/broadcast) addresses, which name no station's vendor.

use std::sync::OnceLock;

/// The registry snapshot: `PREFIX<TAB>Organization` lines, PREFIX = 6, 7 or 9 upper-case hex digits.
const TABLE: &str = include_str!("../data/oui.tsv");

/// Assignments parsed once, per prefix length; each `Vec` sorted by prefix for binary search.
struct Table {
    /// 24-bit MA-L prefixes.
    l: Vec<(u64, &'static str)>,
    /// 28-bit MA-M prefixes.
    m: Vec<(u64, &'static str)>,
    /// 36-bit MA-S and IAB prefixes.
    s: Vec<(u64, &'static str)>,
}

fn table() -> &'static Table {
    static TABLE_CELL: OnceLock<Table> = OnceLock::new();
    TABLE_CELL.get_or_init(|| {
        let mut t = Table { l: Vec::with_capacity(40_000), m: Vec::new(), s: Vec::new() };
        for (prefix, name) in entries() {
            let Ok(value) = u64::from_str_radix(prefix, 16) else { continue };
            match prefix.len() {
                6 => t.l.push((value, name)),
                7 => t.m.push((value, name)),
                9 => t.s.push((value, name)),
                _ => {}
            }
        }
        // The file is generated sorted, but do not rely on it for correctness.
        t.l.sort_unstable_by_key(|e| e.0);
        t.m.sort_unstable_by_key(|e| e.0);
        t.s.sort_unstable_by_key(|e| e.0);
        t
    })
}

/// Well-formed `(prefix, organization)` lines of the table (comments and blank lines skipped).
fn entries() -> impl Iterator<Item = (&'static str, &'static str)> {
    TABLE.lines().filter(|l| !l.starts_with('#')).filter_map(|l| {
        let (prefix, name) = l.split_once('\t')?;
        let name = name.trim();
        (!name.is_empty() && prefix.bytes().all(|b| b.is_ascii_hexdigit())).then_some((prefix, name))
    })
}

fn find(v: &[(u64, &'static str)], key: u64) -> Option<&'static str> {
    v.binary_search_by_key(&key, |e| e.0).ok().and_then(|i| v.get(i)).map(|e| e.1)
}

/// The registered vendor of `mac`'s block, e.g. `[0xb8, 0x27, 0xeb, ..]` → `"Raspberry Pi Foundation"`.
///
/// `None` for locally administered (bit 0x02 of the first octet: randomised/private MACs) and group
/// (bit 0x01) addresses, and for unassigned or private blocks.
pub fn vendor(mac: [u8; 6]) -> Option<&'static str> {
    if mac[0] & 0x03 != 0 {
        return None;
    }
    let bits = mac.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let t = table();
    find(&t.s, bits >> 12).or_else(|| find(&t.m, bits >> 20)).or_else(|| find(&t.l, bits >> 24))
}

/// Number of assignments in the compiled-in table (for `--version`-style diagnostics).
pub fn table_len() -> usize {
    let t = table();
    t.l.len() + t.m.len() + t.s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(s: &str) -> [u8; 6] {
        let mut out = [0u8; 6];
        for (o, h) in out.iter_mut().zip(s.split(':')) {
            *o = u8::from_str_radix(h, 16).unwrap();
        }
        out
    }

    #[test]
    fn real_ma_l_entries() {
        assert_eq!(vendor(mac("00:0b:82:12:34:56")), Some("Grandstream Networks, Inc."));
        assert_eq!(vendor(mac("b8:27:eb:00:00:01")), Some("Raspberry Pi Foundation"));
        assert_eq!(vendor(mac("dc:a6:32:aa:bb:cc")), Some("Raspberry Pi Trading Ltd"));
        assert_eq!(vendor(mac("00:17:88:01:02:03")), Some("Philips Lighting BV"));
        assert_eq!(vendor(mac("00:1b:3f:00:00:00")), Some("ProCurve Networking by HP"));
        assert_eq!(vendor(mac("00:09:fb:10:20:30")), Some("Philips Patient Monitoring"));
        assert_eq!(vendor(mac("00:00:0c:07:ac:01")), Some("Cisco Systems, Inc"));
        assert_eq!(vendor(mac("00:00:00:00:00:00")), Some("XEROX CORPORATION"));
    }

    #[test]
    fn ma_m_ma_s_and_iab_beat_the_umbrella_block() {
        // B8:4C:87 and 8C:1F:64 / 40:D8:55 are IEEE RA umbrella blocks subdivided into MA-M / MA-S / IAB.
        assert_eq!(vendor(mac("b8:4c:87:40:00:00")), Some("Blum Novotest GmbH"));
        assert_eq!(vendor(mac("8c:1f:64:af:a0:01")), Some("DATA ELECTRONIC DEVICES, INC"));
        assert_eq!(vendor(mac("40:d8:55:0d:7f:ff")), Some("Avant Technologies"));
        // Same umbrella, another unassigned-or-other sub-block: never the umbrella's own name.
        assert_ne!(vendor(mac("b8:4c:87:40:00:00")), vendor(mac("b8:4c:87:50:00:00")));
        assert!(TABLE.lines().all(|l| !l.ends_with("\tIEEE Registration Authority")));
    }

    #[test]
    fn names_are_cleaned() {
        // The IEEE CSV has "Shenzhen Skyworth Digital  Technology  CO., Ltd" (double spaces).
        assert!(entries().all(|(_, n)| !n.contains("  ") && !n.contains('\n') && n.trim() == n));
        assert_eq!(vendor(mac("00:09:fb:00:00:00")).map(str::len), Some("Philips Patient Monitoring".len()));
    }

    #[test]
    fn local_and_group_addresses_have_no_vendor() {
        // Same OUI bytes as Grandstream but with the locally-administered bit: randomised.
        assert_eq!(vendor(mac("02:0b:82:12:34:56")), None);
        assert_eq!(vendor(mac("da:a1:19:00:00:01")), None);
        assert_eq!(vendor(mac("01:00:0c:cc:cc:cc")), None);
        assert_eq!(vendor(mac("ff:ff:ff:ff:ff:ff")), None);
        assert_eq!(vendor(mac("33:33:00:00:00:01")), None);
    }

    #[test]
    fn table_is_well_formed() {
        let data_lines = TABLE.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(entries().count(), data_lines, "every data line parses");
        assert!(entries().all(|(p, _)| matches!(p.len(), 6 | 7 | 9) && p.bytes().all(|b| !b.is_ascii_lowercase())));
        assert_eq!(table_len(), data_lines, "no duplicate or unparsable prefixes");
        assert!(table_len() > 50_000);
        let t = table();
        for v in [&t.l, &t.m, &t.s] {
            assert!(v.windows(2).all(|w| w[0].0 < w[1].0), "unique prefixes");
        }
    }

    #[test]
    fn vendors_of_real_capture_senders() {
        use crate::capture::CaptureReader;
        let path =
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/captures/iot-philips-hue-bridge__iot-sentinel.pcap");
        let mut r = CaptureReader::open(path).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        while let Some(f) = r.next_frame().unwrap() {
            if let Some(src) = f.data.get(6..12) {
                let src: [u8; 6] = src.try_into().unwrap();
                if let Some(v) = vendor(src) {
                    seen.insert(v);
                }
            }
        }
        assert!(seen.contains("Philips Lighting BV"), "{seen:?}");
    }
}
