//! `cleartext::dissect` on arbitrary payloads (input framing: see the crate docs).
#![no_main]
wardtap_core_fuzz::dissector_target!(wardtap_core::dissect::cleartext::dissect);
