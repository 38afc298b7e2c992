//! The wardtap host tool as a library: capture input, vendor lookup, the inventory
//! document and its output formats, and the commands' logic. `anyhow` stays in `main.rs`;
//! everything here returns typed errors.

pub mod capture;
pub mod db;
pub mod ingest;
pub mod link;
pub mod live;
pub mod model;
pub mod oui;
pub mod output;
pub mod policy;
pub mod policy_cli;
pub mod provision;
pub mod pull;
pub mod replay;
pub mod report;
pub mod siem;
pub mod taps;
