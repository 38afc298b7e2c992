//! Device classes: one ordered table of rules; the first rule that matches decides.
//!
//! Each rule names the class, a short description that becomes the asset's evidence, and a
//! test over what the inventory knows of the asset: protocols, services, flags and the
//! strings it volunteered (names, software, vendor class, models, DNS-SD services).
//! Medical rules come first: a patient monitor that also speaks HL7 is a monitor, not an
//! HL7 engine; a modality that also browses the web is a modality. Keyword tests are
//! ASCII case-insensitive substring matches.

use crate::inventory::{flags, Asset, StringIter};
use wardtap_proto::{text_from, DeviceClass, InfoField, Protocol, SoftwareSource, StrKind, Text};

/// Which strings a keyword test looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// Names of any source.
    Name,
    /// Software / description strings of any source (vendor class included).
    Software,
    /// DHCP vendor class only.
    VendorClass,
    /// Model / manufacturer / platform fields.
    Model,
    /// DNS-SD services announced.
    DnsSd,
    /// HTTP User-Agent only.
    UserAgent,
    /// DICOM SOP class UIDs proposed.
    SopClass,
    /// Any identity string (names, software, models).
    Any,
}

impl Field {
    fn covers(self, k: StrKind) -> bool {
        matches!(
            (self, k),
            (Field::Name, StrKind::Name(_))
                | (Field::Software, StrKind::Software(_))
                | (Field::VendorClass, StrKind::Software(SoftwareSource::DhcpVendorClass))
                | (Field::UserAgent, StrKind::Software(SoftwareSource::HttpUserAgent))
                | (Field::Model, StrKind::Info(InfoField::Model | InfoField::Manufacturer | InfoField::SysObjectId))
                | (Field::DnsSd, StrKind::DnsSdService)
                | (Field::SopClass, StrKind::Info(InfoField::DicomSopClass))
                | (
                    Field::Any,
                    StrKind::Name(_)
                        | StrKind::Software(_)
                        | StrKind::DnsSdService
                        | StrKind::Info(
                            InfoField::Manufacturer
                                | InfoField::Model
                                | InfoField::HardwareRev
                                | InfoField::FirmwareRev
                                | InfoField::SoftwareRev
                                | InfoField::MudUrl
                        )
                )
        )
    }
}

/// A list of keywords (ASCII case-insensitive): substrings, or prefixes when `prefix`.
#[derive(Debug)]
pub struct Words {
    /// Bit position in a string's match mask; equals its index in [`WORD_LISTS`].
    pub id: u8,
    /// Match at the start only.
    pub prefix: bool,
    /// The words.
    pub words: &'static [&'static str],
}

/// A rule's test.
#[derive(Clone, Copy, Debug)]
pub enum Test {
    /// Speaks this protocol.
    Speaks(Protocol),
    /// Some string of `Field` contains (or, for prefix lists, starts with) one of the words.
    Keyword(Field, &'static Words),
    /// Answers on one of these TCP/UDP ports.
    Serves(&'static [u16]),
    /// Has all of these [`flags`].
    Flag(u8),
    /// Both tests hold.
    Both(&'static Test, &'static Test),
}

/// One classification rule.
#[derive(Debug)]
pub struct Rule {
    /// Class assigned.
    pub class: DeviceClass,
    /// Evidence text (what a reader is told).
    pub evidence: &'static str,
    /// The test.
    pub test: Test,
}

const MONITOR_WORDS: Words = Words {
    id: 0,
    prefix: false,
    words: &[
        "intellivue",
        "patient monitor",
        "carescape",
        "dash 4000",
        "b650",
        "b450",
        "mindray",
        "beneview",
        "nihon kohden",
        "life scope",
        "infinity delta",
        "spacelabs",
        "xprezzon",
        "bedside",
    ],
};
const PUMP_WORDS: Words = Words {
    id: 1,
    prefix: false,
    words: &[
        "infusion",
        "alaris",
        "sigma spectrum",
        "plum 360",
        "plum a+",
        "medfusion",
        "infusomat",
        "perfusor",
        "space pump",
    ],
};
const MODALITY_WORDS: Words = Words {
    id: 2,
    prefix: false,
    words: &[
        "brilliance",
        "ingenuity",
        "somatom",
        "magnetom",
        "aquilion",
        "optima ct",
        "revolution ct",
        "signa",
        "discovery mr",
        "vereos",
        "ultrasound",
        "epiq",
        "affiniti",
        "logiq",
        "voluson",
        "acuson",
        "digital diagnost",
        "mammomat",
        "ysio",
        "modality",
    ],
};
const PACS_WORDS: Words = Words {
    id: 3,
    prefix: false,
    words: &["pacs", "vna", "dcm4chee", "orthanc", "enterprise imaging", "synapse", "intellispace"],
};
/// Storage SOP classes (CT, MR, US, CR, DX, MG, XA, NM, PET...) start with this.
const IMAGE_STORAGE: Words = Words { id: 4, prefix: true, words: &["1.2.840.10008.5.1.4.1.1."] };
const PRINTER_WORDS: Words = Words {
    id: 5,
    prefix: false,
    words: &[
        "printer",
        "jetdirect",
        "laserjet",
        "officejet",
        "brother",
        "kyocera",
        "ricoh",
        "lexmark",
        "xerox",
        "canon ir",
        "zebra",
    ],
};
const PRINTER_SERVICES: Words =
    Words { id: 6, prefix: false, words: &["_ipp._tcp", "_ipps._tcp", "_printer._tcp", "_pdl-datastream._tcp"] };
const INFRA_WORDS: Words = Words {
    id: 7,
    prefix: false,
    words: &[
        "cisco ios",
        "ws-c",
        "procurve",
        "summit",
        "junos",
        "routeros",
        "aruba",
        "tl-sg",
        "catalyst",
        "nexus",
        "fortigate",
        "netscreen",
        "neufbox",
        "switch",
        "router",
    ],
};
const WORKSTATION_WORDS: Words = Words {
    id: 8,
    prefix: false,
    words: &[
        "msft 5.0",
        "windows nt",
        "macintosh",
        "mac os x",
        "x11; linux",
        "x11; ubuntu",
        "desktop-",
        "laptop",
        "-pc",
        "macbook",
        "imac",
        "iphone",
        "android",
        "thinkpad",
        "lifebook",
        "workstation",
        "microsoft-windows",
    ],
};
const IOT_WORDS: Words = Words {
    id: 9,
    prefix: false,
    words: &[
        "udhcp",
        "hue",
        "camera",
        "dcs-",
        "wemo",
        "hs110",
        "tplink",
        "withings",
        "fitbit",
        "gainspan",
        "googlecast",
        "chromecast",
        "raspberrypi",
        "esp32",
        "esp8266",
        "mudctl",
        "ipbridge",
        "_hap._tcp",
    ],
};

const BROTHER_HOSTNAME: Words = Words { id: 10, prefix: true, words: &["brw", "brn"] };

/// Every word list, indexed by its `id`: a string's matches against all of them are worked
/// out once, when the string is stored ([`string_mask`]), so classifying is cheap.
pub static WORD_LISTS: [&Words; 11] = [
    &MONITOR_WORDS,
    &PUMP_WORDS,
    &MODALITY_WORDS,
    &PACS_WORDS,
    &IMAGE_STORAGE,
    &PRINTER_WORDS,
    &PRINTER_SERVICES,
    &INFRA_WORDS,
    &WORKSTATION_WORDS,
    &IOT_WORDS,
    &BROTHER_HOSTNAME,
];

/// Bits of [`tri_hash`]: 2048 buckets, so the filter below is 256 bytes. In the strings of
/// the mixed LAN captures one text position in ten passes it, most of them where a keyword's
/// first three bytes are (one in twenty-three without); a first-pair filter passed one in five.
const TRI_BITS: u32 = 11;
/// Buckets of [`tri_hash`].
const TRI_BUCKETS: usize = 1 << TRI_BITS;

/// Hash of the three bytes in the low 24 bits of `w` (the first one highest) into
/// `0..TRI_BUCKETS`: a multiply and a shift, so the scan can roll `w` a byte at a time.
#[inline(always)]
const fn tri_hash(w: u32) -> usize {
    ((w << 8).wrapping_mul(0x9e37_79b1) >> (32 - TRI_BITS)) as usize
}

/// The first three bytes of `k` as [`tri_hash`] takes them.
const fn trigram(k: &[u8]) -> u32 {
    (k[0] as u32) << 16 | (k[1] as u32) << 8 | k[2] as u32
}

/// Substring keywords (those of lists that are not prefix lists).
const SUBSTRING_KEYWORDS: usize = count_keywords(false);

/// Keywords of prefix lists.
const PREFIX_KEYWORDS: usize = count_keywords(true);

/// How many keywords the lists that are (or are not) prefix lists hold.
const fn count_keywords(prefix: bool) -> usize {
    let mut n = 0;
    let mut l = 0;
    while l < WORD_LISTS.len() {
        if WORD_LISTS[l].prefix == prefix {
            n += WORD_LISTS[l].words.len();
        }
        l += 1;
    }
    n
}

/// The `n`th keyword of the lists that are (or are not) prefix lists, in list order, with
/// its list id (`(0, b"")` past the last).
const fn keyword(prefix: bool, mut n: usize) -> (u8, &'static [u8]) {
    let mut l = 0;
    while l < WORD_LISTS.len() {
        let list = WORD_LISTS[l];
        if list.prefix == prefix {
            if n < list.words.len() {
                return (list.id, list.words[n].as_bytes());
            }
            n -= list.words.len();
        }
        l += 1;
    }
    (0, b"")
}

/// Every prefix keyword with its list id.
static PREFIXES: [(u8, &[u8]); PREFIX_KEYWORDS] = {
    let mut out: [(u8, &[u8]); PREFIX_KEYWORDS] = [(0, b""); PREFIX_KEYWORDS];
    let mut n = 0;
    while n < PREFIX_KEYWORDS {
        out[n] = keyword(true, n);
        assert!(!out[n].1.is_empty(), "prefixes are not empty");
        n += 1;
    }
    out
};

/// Substring keywords filed by the [`tri_hash`] of their first three bytes.
struct KeywordIndex {
    /// Bit `h % 32` of word `h / 32` is set when some keyword is filed under `h`: most text
    /// positions cost one test of this (256 bytes).
    filter: [u32; TRI_BUCKETS / 32],
    /// Keywords filed under the hashes of filter word `g`: `words[start[g]..start[g + 1]]`.
    start: [u8; TRI_BUCKETS / 32 + 1],
    /// Every substring keyword by filter word: its first three bytes in the low 24 bits and
    /// its list id in the top 8, and the rest of it.
    words: [(u32, &'static [u8]); SUBSTRING_KEYWORDS],
}

/// See [`KeywordIndex`]; built at compile time.
static BY_TRIGRAM: KeywordIndex = {
    assert!(SUBSTRING_KEYWORDS < 256, "offsets are bytes");
    let mut filter = [0u32; TRI_BUCKETS / 32];
    let mut start = [0u8; TRI_BUCKETS / 32 + 1];
    let mut n = 0;
    while n < SUBSTRING_KEYWORDS {
        let (_, k) = keyword(false, n);
        // A keyword shorter than three bytes would have no trigram (and need a different
        // scan): refused at compile time.
        assert!(k.len() >= 3, "substring keywords are at least three bytes");
        let h = tri_hash(trigram(k));
        filter[h / 32] |= 1 << (h % 32);
        start[h / 32 + 1] += 1;
        n += 1;
    }
    // Counts per filter word into start offsets, then place.
    let mut g = 0;
    while g < TRI_BUCKETS / 32 {
        start[g + 1] += start[g];
        g += 1;
    }
    let mut fill = start;
    let mut words: [(u32, &[u8]); SUBSTRING_KEYWORDS] = [(0, b""); SUBSTRING_KEYWORDS];
    let mut n = 0;
    while n < SUBSTRING_KEYWORDS {
        let (id, k) = keyword(false, n);
        let g = tri_hash(trigram(k)) / 32;
        words[fill[g] as usize] = ((id as u32) << 24 | trigram(k), k.split_at(3).1);
        fill[g] += 1;
        n += 1;
    }
    KeywordIndex { filter, start, words }
};

/// Which word lists a string of `kind` matches, one bit per list id (0 for kinds no rule
/// looks at, such as DNS queries and SNIs, which are many and change nothing).
pub fn mask_for(kind: StrKind, text: &[u8]) -> u16 {
    let looked_at = [Field::Any, Field::SopClass].iter().any(|f| f.covers(kind));
    if looked_at {
        string_mask(text)
    } else {
        0
    }
}

/// Which word lists `text` matches, one bit per list id.
pub fn string_mask(text: &[u8]) -> u16 {
    // Lower-case once (keywords are lower-case, checked by a test); strings are at most
    // STRING_LEN bytes, so this buffer holds any of them.
    let mut buf = [0u8; wardtap_proto::STRING_LEN];
    let n = text.len().min(buf.len());
    for (d, c) in buf.iter_mut().zip(text) {
        *d = c.to_ascii_lowercase();
    }
    let t = &buf[..n];
    let mut m = 0u16;
    for &(id, p) in &PREFIXES {
        // The first byte alone rules out nearly every string.
        if t.first() == p.first() && t.starts_with(p) {
            m |= 1 << id;
        }
    }
    // One pass over the text, rolling its last three bytes through `w`: at each position a
    // multiply, a shift and one filter bit; only where that is set, the keywords filed there.
    let (Some(&a), Some(&b), Some(tail)) = (t.first(), t.get(1), t.get(2..)) else { return m };
    let mut w = u32::from(a) << 8 | u32::from(b);
    let mut bytes = tail.iter();
    while let Some(&c) = bytes.next() {
        // `w` now holds the three bytes that end with `c`.
        w = w << 8 | u32::from(c);
        let h = tri_hash(w);
        let Some(&word) = BY_TRIGRAM.filter.get(h / 32) else { continue };
        if word >> (h % 32) & 1 != 0 {
            // The text after the three bytes (the iterator's rest).
            m = found_at(h, w & 0xff_ffff, bytes.as_slice(), m);
        }
    }
    m
}

/// `m` plus the lists of the keywords filed under `h` that start with the three bytes `tri`
/// and go on with `rest`. Out of line: the scan passes the filter about twice a string, and
/// its loop stays small without this.
#[inline(never)]
fn found_at(h: usize, tri: u32, rest: &[u8], mut m: u16) -> u16 {
    let g = h / 32;
    let (Some(&from), Some(&to)) = (BY_TRIGRAM.start.get(g), BY_TRIGRAM.start.get(g + 1)) else { return m };
    for &(key, k) in BY_TRIGRAM.words.get(usize::from(from)..usize::from(to)).unwrap_or_default() {
        let id = key >> 24;
        if key & 0xff_ffff == tri
            && m & (1 << id) == 0
            && k.len() <= rest.len()
            && rest.iter().zip(k).all(|(a, b)| a == b)
        {
            m |= 1 << id;
        }
    }
    m
}

/// The rules, first match wins. Keep medical rules on top.
pub static RULES: &[Rule] = RULE_LIST;

/// [`RULES`], as a constant so that [`BY_TRIGGER`] can be worked out from it.
const RULE_LIST: &[Rule] = &[
    Rule {
        class: DeviceClass::PatientMonitor,
        evidence: "patient monitor named",
        test: Test::Keyword(Field::Any, &MONITOR_WORDS),
    },
    Rule {
        class: DeviceClass::InfusionPump,
        evidence: "infusion pump named",
        test: Test::Keyword(Field::Any, &PUMP_WORDS),
    },
    Rule {
        class: DeviceClass::ImagingModality,
        evidence: "DICOM SCU storing images",
        test: Test::Both(&Test::Speaks(Protocol::DicomScu), &Test::Keyword(Field::SopClass, &IMAGE_STORAGE)),
    },
    Rule {
        class: DeviceClass::ImagingModality,
        evidence: "imaging modality named",
        test: Test::Keyword(Field::Any, &MODALITY_WORDS),
    },
    Rule {
        class: DeviceClass::Pacs,
        evidence: "DICOM SCP (accepts associations)",
        test: Test::Speaks(Protocol::DicomScp),
    },
    Rule { class: DeviceClass::Pacs, evidence: "PACS named", test: Test::Keyword(Field::Any, &PACS_WORDS) },
    Rule { class: DeviceClass::Pacs, evidence: "serves DICOM port", test: Test::Serves(&[104, 11112, 4242]) },
    Rule { class: DeviceClass::Hl7Engine, evidence: "HL7 v2 sender", test: Test::Speaks(Protocol::Hl7Sender) },
    Rule { class: DeviceClass::Hl7Engine, evidence: "HL7 v2 receiver", test: Test::Speaks(Protocol::Hl7Receiver) },
    Rule {
        class: DeviceClass::ImagingModality,
        evidence: "DICOM SCU (query/retrieve or other)",
        test: Test::Speaks(Protocol::DicomScu),
    },
    Rule {
        class: DeviceClass::Printer,
        evidence: "announces a print service",
        test: Test::Keyword(Field::DnsSd, &PRINTER_SERVICES),
    },
    Rule { class: DeviceClass::Printer, evidence: "serves printing ports", test: Test::Serves(&[9100, 515, 631]) },
    Rule { class: DeviceClass::Printer, evidence: "printer named", test: Test::Keyword(Field::Any, &PRINTER_WORDS) },
    Rule {
        class: DeviceClass::Printer,
        evidence: "Brother printer hostname",
        test: Test::Keyword(Field::Name, &BROTHER_HOSTNAME),
    },
    Rule {
        class: DeviceClass::NetworkInfrastructure,
        evidence: "announces bridge/router capability",
        test: Test::Flag(flags::ROUTER),
    },
    Rule { class: DeviceClass::NetworkInfrastructure, evidence: "sends STP/LLDP/CDP", test: Test::Flag(flags::INFRA) },
    Rule { class: DeviceClass::NetworkInfrastructure, evidence: "answers DHCP", test: Test::Flag(flags::DHCP_SERVER) },
    Rule {
        class: DeviceClass::NetworkInfrastructure,
        evidence: "forwards traffic of outside addresses (gateway)",
        test: Test::Flag(flags::FORWARDS),
    },
    Rule {
        class: DeviceClass::NetworkInfrastructure,
        evidence: "network equipment named",
        test: Test::Keyword(Field::Software, &INFRA_WORDS),
    },
    Rule {
        class: DeviceClass::Workstation,
        evidence: "workstation software",
        test: Test::Keyword(Field::Software, &WORKSTATION_WORDS),
    },
    Rule {
        class: DeviceClass::Workstation,
        evidence: "workstation name",
        test: Test::Keyword(Field::Name, &WORKSTATION_WORDS),
    },
    Rule { class: DeviceClass::Workstation, evidence: "RDP/SMB", test: Test::Speaks(Protocol::Rdp) },
    Rule { class: DeviceClass::Workstation, evidence: "NetBIOS name", test: Test::Speaks(Protocol::Netbios) },
    Rule {
        class: DeviceClass::IotOther,
        evidence: "embedded/IoT software",
        test: Test::Keyword(Field::Any, &IOT_WORDS),
    },
    Rule { class: DeviceClass::IotOther, evidence: "announces UPnP (SSDP)", test: Test::Speaks(Protocol::Ssdp) },
];

/// Which rules a fact about an asset can make hold, one bit per rule index: every rule has a
/// trigger (a list bit in `masks`, a protocol, a flag bit, or a port) without which
/// its test cannot hold, so [`classify`] tests only the rules triggered, in order.
struct RuleIndex {
    /// By word-list id (a bit of the asset's `masks`).
    by_list: [u32; 16],
    /// By protocol (a bit of its [`wardtap_proto::ProtocolSet`]).
    by_protocol: [u32; 32],
    /// Protocols some rule is triggered by.
    protocols: u32,
    /// By flag bit.
    by_flag: [u32; 8],
    /// Flag bits some rule is triggered by.
    flags: u8,
    /// Rules triggered by answering on a port of one of them.
    serves: u32,
    /// Bit `port % 64` of every port of those rules: an asset none of whose ports has its bit
    /// set serves none of them.
    ports: u64,
    /// Rules whose test has no trigger (a `Flag(0)`): always tested.
    always: u32,
}

impl RuleIndex {
    /// Files rule `bit` under a trigger of `t`.
    const fn file(mut self, t: &Test, bit: u32) -> Self {
        match *t {
            Test::Speaks(p) => {
                self.by_protocol[p as usize] |= bit;
                self.protocols |= 1 << (p as u32);
            }
            Test::Keyword(_, words) => self.by_list[words.id as usize] |= bit,
            Test::Serves(ports) => {
                self.serves |= bit;
                let mut i = 0;
                while i < ports.len() {
                    self.ports |= 1 << (ports[i] % 64);
                    i += 1;
                }
            }
            Test::Flag(0) => self.always |= bit,
            Test::Flag(f) => {
                let low = f.trailing_zeros();
                self.by_flag[low as usize] |= bit;
                self.flags |= 1 << low;
            }
            // Both must hold, so the first one's trigger will do.
            Test::Both(x, _) => return self.file(x, bit),
        }
        self
    }

    /// The rules `a` triggers (a superset of those that hold).
    fn triggered(&self, a: &Asset) -> u32 {
        let mut rules = self.always;
        if a.services.iter().any(|s| self.ports >> (s.port % 64) & 1 != 0) {
            rules |= self.serves;
        }
        // Each loop clears a bit a turn: at most 16, 32 and 8 turns.
        let mut lists = a.masks;
        while lists != 0 {
            rules |= self.by_list.get(lists.trailing_zeros() as usize).copied().unwrap_or(0);
            lists &= lists - 1;
        }
        let mut protocols = a.protocols.0 & self.protocols;
        while protocols != 0 {
            rules |= self.by_protocol.get(protocols.trailing_zeros() as usize).copied().unwrap_or(0);
            protocols &= protocols - 1;
        }
        let mut fl = a.flags & self.flags;
        while fl != 0 {
            rules |= self.by_flag.get(fl.trailing_zeros() as usize).copied().unwrap_or(0);
            fl &= fl - 1;
        }
        rules
    }
}

/// See [`RuleIndex`]; built at compile time.
static BY_TRIGGER: RuleIndex = {
    assert!(RULE_LIST.len() <= 32, "rule sets are u32");
    let mut ix = RuleIndex {
        by_list: [0; 16],
        by_protocol: [0; 32],
        protocols: 0,
        by_flag: [0; 8],
        flags: 0,
        serves: 0,
        ports: 0,
        always: 0,
    };
    let mut r = 0;
    while r < RULE_LIST.len() {
        ix = ix.file(&RULE_LIST[r].test, 1 << r);
        r += 1;
    }
    ix
};

/// What classification sees of an asset.
pub struct AssetView<'a> {
    /// The asset.
    pub asset: &'a Asset,
    /// Its strings.
    pub strings: StringIter<'a>,
}

/// The outcome: class, the rule that decided, and the value that matched.
pub struct Verdict<'a> {
    /// Class.
    pub class: DeviceClass,
    /// The deciding rule, if any.
    pub rule: Option<&'static Rule>,
    /// The string that matched, for keyword rules.
    pub matched: Option<&'a [u8]>,
}

impl Verdict<'_> {
    /// `evidence: matched`, cut to the record's evidence length.
    pub fn evidence_text(&self) -> Text<{ wardtap_proto::EVIDENCE_LEN }> {
        let Some(rule) = self.rule else { return Text::new() };
        let mut buf = [0u8; wardtap_proto::EVIDENCE_LEN];
        let mut n = 0;
        let sep: &[u8] = if self.matched.is_some() { b": " } else { b"" };
        for &c in rule.evidence.as_bytes().iter().chain(sep).chain(self.matched.unwrap_or(b"")) {
            let Some(slot) = buf.get_mut(n) else { break };
            *slot = c;
            n += 1;
        }
        text_from(&buf[..n]).0
    }
}

/// `any`: the union of the asset's string masks, so a keyword list none of its strings
/// matches is ruled out without walking them.
#[inline(always)]
fn eval<'a>(t: &Test, v: &AssetView<'a>, any: u16) -> Option<Option<&'a [u8]>> {
    let a = v.asset;
    match *t {
        Test::Speaks(p) => a.protocols.contains(p).then_some(None),
        Test::Flag(f) => (a.flags & f == f).then_some(None),
        Test::Serves(ports) => a.services.iter().any(|s| ports.contains(&s.port)).then_some(None),
        Test::Keyword(_, words) if any & (1 << words.id) == 0 => None,
        Test::Keyword(field, words) => v
            .strings
            .clone()
            .find(|(k, _, mask)| mask & (1 << words.id) != 0 && field.covers(*k))
            .map(|(_, s, _)| Some(s)),
        Test::Both(x, y) => both(x, y, v, any),
    }
}

/// [`Test::Both`], out of line: it is the only recursion, and keeping it apart lets the
/// common tests inline into [`classify`]'s loop.
#[inline(never)]
fn both<'a>(x: &Test, y: &Test, v: &AssetView<'a>, any: u16) -> Option<Option<&'a [u8]>> {
    let a = eval(x, v, any)?;
    let b = eval(y, v, any)?;
    Some(b.or(a))
}

/// Applies [`RULES`].
pub fn classify<'a>(v: &AssetView<'a>) -> Verdict<'a> {
    let any = v.asset.masks;
    // Only the rules the asset triggers, in order (at most 32 turns: a bit cleared each).
    let mut rules = BY_TRIGGER.triggered(v.asset);
    while rules != 0 {
        let Some(rule) = RULES.get(rules.trailing_zeros() as usize) else { break };
        rules &= rules - 1;
        if let Some(matched) = eval(&rule.test, v, any) {
            return Verdict { class: rule.class, rule: Some(rule), matched };
        }
    }
    Verdict { class: DeviceClass::Unknown, rule: None, matched: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain definition of [`string_mask`]: every keyword searched for everywhere in the
    /// lower-cased text (its first `STRING_LEN` bytes, as stored).
    fn unfiltered(t: &[u8]) -> u16 {
        let t = t.get(..wardtap_proto::STRING_LEN).unwrap_or(t).to_ascii_lowercase();
        let find = |k: &[u8]| t.windows(k.len()).any(|w| w == k);
        WORD_LISTS.iter().fold(0u16, |m, w| {
            let hit = if w.prefix {
                w.words.iter().any(|p| t.starts_with(p.as_bytes()))
            } else {
                w.words.iter().any(|k| find(k.as_bytes()))
            };
            if hit {
                m | 1 << w.id
            } else {
                m
            }
        })
    }

    proptest::proptest! {
        /// Texts made of keyword pieces, other bytes and case changes: the one-pass scan
        /// finds exactly what searching every keyword everywhere finds.
        #[test]
        fn scan_equals_plain_search(
            parts in proptest::collection::vec((0usize..200, 0usize..3, proptest::bool::ANY, proptest::num::u8::ANY), 0..12)
        ) {
            extern crate std;
            let all: std::vec::Vec<&str> = WORD_LISTS.iter().flat_map(|w| w.words.iter().copied()).collect();
            let mut t = std::vec::Vec::new();
            for (w, cut, upper, byte) in parts {
                match all.get(w) {
                    Some(k) => {
                        let k = k.as_bytes();
                        let k = &k[..k.len().saturating_sub(cut)];
                        t.extend(k.iter().map(|c| if upper { c.to_ascii_uppercase() } else { *c }));
                    }
                    None => t.push(byte),
                }
            }
            proptest::prop_assert_eq!(string_mask(&t), unfiltered(&t));
        }
    }

    #[test]
    fn trigram_filter_never_hides_a_keyword() {
        extern crate std;
        use std::string::String;
        // Every keyword alone, inside other text, upper-cased, and cut by one byte.
        for w in WORD_LISTS {
            for k in w.words {
                let cut = &k[..k.len() - 1];
                for t in [String::from(*k), std::format!("xx {k} yy"), k.to_uppercase(), String::from(cut)] {
                    assert_eq!(string_mask(t.as_bytes()), unfiltered(t.as_bytes()), "{t}");
                }
                if !w.prefix {
                    assert_ne!(string_mask(std::format!("a-{k}").as_bytes()) & (1 << w.id), 0, "{k}");
                }
            }
        }
    }

    #[test]
    fn keyword_pairs_side_by_side() {
        extern crate std;
        // Two keywords back to back, at either parity, in either case: several filter hits in
        // one string, keywords sharing a filter word, one keyword's tail the next one's start.
        let all: std::vec::Vec<&str> = WORD_LISTS.iter().flat_map(|w| w.words.iter().copied()).collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all {
                let t = if i % 2 == 0 { std::format!("{a}{b}") } else { std::format!("x{}{b}", a.to_uppercase()) };
                assert_eq!(string_mask(t.as_bytes()), unfiltered(t.as_bytes()), "{t}");
            }
        }
    }

    #[test]
    fn trigram_index_files_every_keyword_once() {
        extern crate std;
        use std::vec::Vec;
        let (filter, start, words) = (&BY_TRIGRAM.filter, &BY_TRIGRAM.start, &BY_TRIGRAM.words);
        let mut seen = Vec::new();
        for (g, pair) in start.windows(2).enumerate() {
            for &(key, rest) in &words[usize::from(pair[0])..usize::from(pair[1])] {
                let k: Vec<u8> = [(key >> 16) as u8, (key >> 8) as u8, key as u8].iter().chain(rest).copied().collect();
                let h = tri_hash(key & 0xff_ffff);
                assert_eq!(h / 32, g, "{k:?} filed in its filter word");
                assert_ne!(filter[g] & 1 << (h % 32), 0, "{k:?} passes the filter");
                seen.push(((key >> 24) as u8, k));
            }
        }
        let mut want: Vec<(u8, Vec<u8>)> =
            (0..SUBSTRING_KEYWORDS).map(|n| keyword(false, n)).map(|(i, k)| (i, k.to_vec())).collect();
        seen.sort();
        want.sort();
        assert_eq!(seen, want);
        assert_eq!(usize::from(start[start.len() - 1]), SUBSTRING_KEYWORDS);
        assert_eq!(PREFIXES.len() + SUBSTRING_KEYWORDS, WORD_LISTS.iter().map(|w| w.words.len()).sum::<usize>());
    }

    proptest::proptest! {
        /// Arbitrary bytes (mostly false filter hits, non-ASCII, NULs): same as the plain search.
        #[test]
        fn scan_equals_plain_search_on_any_bytes(t in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            proptest::prop_assert_eq!(string_mask(&t), unfiltered(&t));
        }
    }

    /// Whether `t` can hold for `a` as far as the asset alone tells (a keyword test needs its
    /// list bit in the union of the string masks): the plain walk [`RuleIndex`] short-cuts.
    fn may_hold(t: &Test, a: &Asset) -> bool {
        match *t {
            Test::Speaks(p) => a.protocols.contains(p),
            Test::Flag(f) => a.flags & f == f,
            Test::Serves(ports) => a.services.iter().any(|s| ports.contains(&s.port)),
            Test::Keyword(_, w) => a.masks & (1 << w.id) != 0,
            Test::Both(x, y) => may_hold(x, a) && may_hold(y, a),
        }
    }

    proptest::proptest! {
        /// Every rule that can hold for an asset is among those it triggers.
        #[test]
        fn triggers_cover_every_rule_that_can_hold(
            masks in proptest::num::u16::ANY,
            protocols in proptest::num::u32::ANY,
            fl in proptest::num::u8::ANY,
            ports in proptest::collection::vec(proptest::sample::select(std::vec![
                104u16, 11112, 4242, 9100, 515, 631, 80, 443, 53, 168, 40, 64 + 40, 0, 65535,
            ]), 0..6),
        ) {
            extern crate std;
            use crate::table::TableValue;
            let mut a = Asset::EMPTY;
            a.masks = masks & ((1 << WORD_LISTS.len()) - 1);
            a.protocols = wardtap_proto::ProtocolSet(protocols);
            a.flags = fl;
            for port in ports {
                let _ = a.services.push(wardtap_proto::Service { transport: wardtap_proto::Transport::Tcp, port });
            }
            let triggered = BY_TRIGGER.triggered(&a);
            for (i, r) in RULES.iter().enumerate() {
                if may_hold(&r.test, &a) {
                    proptest::prop_assert!(triggered & 1 << i != 0, "{} not triggered", r.evidence);
                }
            }
        }
    }

    #[test]
    fn word_list_ids_are_their_positions() {
        for (i, w) in WORD_LISTS.iter().enumerate() {
            assert_eq!(w.id as usize, i);
        }
        assert!(WORD_LISTS.len() <= 16, "masks are u16");
    }

    #[test]
    fn every_keyword_rule_uses_a_listed_word_list() {
        fn lists(t: &Test, out: &mut Vec<*const Words>) {
            match t {
                Test::Keyword(_, w) => out.push(*w as *const Words),
                Test::Both(a, b) => {
                    lists(a, out);
                    lists(b, out);
                }
                _ => {}
            }
        }
        extern crate std;
        use std::vec::Vec;
        for r in RULES {
            let mut v = Vec::new();
            lists(&r.test, &mut v);
            for p in v {
                assert!(WORD_LISTS.iter().any(|w| core::ptr::eq(*w, p)), "{}", r.evidence);
            }
        }
    }

    #[test]
    fn keywords_are_lower_case() {
        for w in WORD_LISTS {
            for k in w.words {
                assert_eq!(*k, k.to_ascii_lowercase(), "{k}");
                assert!(!k.is_empty() && k.len() <= wardtap_proto::STRING_LEN);
            }
        }
    }

    #[test]
    fn masks() {
        assert_eq!(string_mask(b"Philips IntelliVue MX450"), 1 << MONITOR_WORDS.id);
        assert_eq!(string_mask(b"BRWC0CB383D1F42"), 1 << BROTHER_HOSTNAME.id);
        assert_eq!(string_mask(b"1.2.840.10008.5.1.4.1.1.2"), 1 << IMAGE_STORAGE.id);
        assert_eq!(string_mask(b"xyz"), 0);
    }
}
