//! `hl7::dissect` on arbitrary payloads (input framing: see the crate docs).
#![no_main]
wardtap_core_fuzz::dissector_target!(wardtap_core::dissect::hl7::dissect);
