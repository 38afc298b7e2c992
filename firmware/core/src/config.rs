//! Every capacity and limit of the core, in one place.
//!
//! The whole [`crate::Tap`] must fit [`STATE_BUDGET`] on the MCU (a compile-time check in
//! `lib.rs` for `target_os = "none"`). Measured at these defaults on thumbv7em: 879,888 bytes
//! (859 KiB) — edges 303 KB, assets 226 KB, strings 141 KB, baseline 55 KB, peers 49 KB, flows
//! 38 KB, detectors 38 KB, alerts 22 KB, memos and hints 7 KB. That suits a 1 MiB-RAM part with
//! that much contiguous; 1,024 assets and 8,192 edges do not fit a 512 KiB part even with the
//! most compact exact records (hardware/README.md, "Resources", has the arithmetic). Tables
//! hold fixed-size records; strings are cut and the cut is counted.
//!
//! Feature `profile-512k` halves the six large tables (512 assets, 4,096 edges...) so the
//! core fits a board whose largest contiguous RAM is 512 KiB (NUCLEO-H743ZI's AXI SRAM).
//! It is a board build profile: the host tool and the default build keep the full sizes,
//! and a tap built with it says so in its status (`config::PROFILE`).

/// Assets (one per source MAC).
pub const MAX_ASSETS: usize = if cfg!(feature = "profile-512k") { 512 } else { 1024 };
/// Communication edges (asset, peer, transport, port, direction).
pub const MAX_EDGES: usize = if cfg!(feature = "profile-512k") { 4096 } else { 8192 };
/// Distinct peer addresses that edges point at.
pub const MAX_PEERS: usize = if cfg!(feature = "profile-512k") { 1024 } else { 2048 };
/// Strings kept for assets (names, software, SNIs, DNS names, AE titles...).
pub const MAX_STRINGS: usize = if cfg!(feature = "profile-512k") { 1024 } else { 2048 };
// Bytes kept of one string: `wardtap_proto::STRING_LEN` (the record's), cut and counted.
/// TCP flows tracked for "first payload per direction".
pub const MAX_FLOWS: usize = if cfg!(feature = "profile-512k") { 512 } else { 1024 };
/// IPv4 addresses kept per asset.
pub const MAX_V4_PER_ASSET: usize = wardtap_proto::MAX_RECORD_V4;
/// IPv6 addresses kept per asset.
pub const MAX_V6_PER_ASSET: usize = 2;
/// Strings kept per asset (all kinds together).
pub const MAX_STRINGS_PER_ASSET: usize = 20;
/// Strings of one kind per asset (e.g. DNS names asked), so one chatty kind cannot crowd out
/// the names and software that identify the device.
pub const MAX_STRINGS_PER_KIND: usize = 8;
/// Services (ports answered on) kept per asset.
pub const MAX_SERVICES_PER_ASSET: usize = 8;
/// DHCP parameter request list bytes kept (the fingerprint).
pub const MAX_DHCP_PRL: usize = 24;
/// Local IPv4 subnets learned or configured.
pub const MAX_SUBNETS: usize = 8;
/// Local IPv6 prefixes learned.
pub const MAX_PREFIXES6: usize = 4;
/// Baseline entries (device × destination prefix/port, names, peers, services) learned.
pub const MAX_BASELINE: usize = if cfg!(feature = "profile-512k") { 1024 } else { 2048 };
/// Policy rules from the policy file.
pub const MAX_POLICY_RULES: usize = 64;
/// Alerts kept in the ring until read and acknowledged.
pub const MAX_ALERTS: usize = 128;
/// Address → DNS name / SNI mappings kept to say which name led to an endpoint.
pub const MAX_PEER_NAMES: usize = 256;
/// IPv4 → MAC bindings watched for spoofing.
pub const MAX_ARP_WATCH: usize = 256;
/// Sources watched for scans and failed logins at once.
pub const MAX_WATCHED_SOURCES: usize = 64;
/// New outbound TCP edges waiting for their first payload (SNI) before being judged.
pub const MAX_PENDING_JUDGEMENTS: usize = 32;
/// The whole core state must fit here (checked at compile time for the MCU target, where
/// `usize` is 4 bytes; the host build is larger).
pub const STATE_BUDGET: usize = if cfg!(feature = "profile-512k") { 480 * 1024 } else { 864 * 1024 };

/// Which capacity profile this build has.
pub const PROFILE: &str = if cfg!(feature = "profile-512k") { "512k" } else { "default" };

// Every per-asset list must fit the record that carries it.
const _: () = {
    assert!(MAX_V4_PER_ASSET <= wardtap_proto::MAX_RECORD_V4);
    assert!(MAX_V6_PER_ASSET <= wardtap_proto::MAX_RECORD_V6);
    assert!(MAX_STRINGS_PER_ASSET <= wardtap_proto::MAX_RECORD_STRINGS);
    assert!(MAX_SERVICES_PER_ASSET <= wardtap_proto::MAX_RECORD_SERVICES);
    assert!(MAX_DHCP_PRL <= wardtap_proto::MAX_RECORD_PRL);
};
