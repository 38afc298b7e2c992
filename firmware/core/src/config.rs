//! Every capacity and limit of the core, in one place.
//!
//! Defaults are sized for a microcontroller with 512 KiB of RAM (the `size_of` test in
//! `tap.rs` keeps the whole [`crate::Tap`] under [`STATE_BUDGET`]). Tables hold fixed-size
//! records; strings are cut to the lengths below and the cut is counted.

/// Assets (one per source MAC).
pub const MAX_ASSETS: usize = 1024;
/// Communication edges (asset, peer, transport, port, direction).
pub const MAX_EDGES: usize = 8192;
/// Distinct peer addresses that edges point at.
pub const MAX_PEERS: usize = 2048;
/// Strings kept for assets (names, software, SNIs, DNS names, AE titles...).
pub const MAX_STRINGS: usize = 2048;
/// Bytes kept of one string; longer ones are cut and counted.
pub const STRING_LEN: usize = 48;
/// TCP flows tracked for "first payload per direction".
pub const MAX_FLOWS: usize = 1024;
/// Addresses kept per asset and family.
pub const MAX_V4_PER_ASSET: usize = 4;
/// IPv6 addresses kept per asset.
pub const MAX_V6_PER_ASSET: usize = 4;
/// Strings kept per asset (all kinds together).
pub const MAX_STRINGS_PER_ASSET: usize = 24;
/// Strings of one kind per asset (e.g. DNS names asked), so one chatty kind cannot crowd out
/// the names and software that identify the device.
pub const MAX_STRINGS_PER_KIND: usize = 8;
/// Services (ports answered on) kept per asset.
pub const MAX_SERVICES_PER_ASSET: usize = 12;
/// DHCP parameter request list bytes kept (the fingerprint).
pub const MAX_DHCP_PRL: usize = 32;
/// Local IPv4 subnets learned or configured.
pub const MAX_SUBNETS: usize = 8;
/// Local IPv6 prefixes learned.
pub const MAX_PREFIXES6: usize = 4;
/// The whole core state must fit here (checked by a test).
pub const STATE_BUDGET: usize = 480 * 1024;
