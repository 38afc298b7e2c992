//! The wardtap host tool as a library: capture replay input, vendor lookup, ...

pub mod capture;
pub mod oui;
