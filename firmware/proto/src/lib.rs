//! `wardtap-proto`: the types that cross between a tap and the host tool.
//!
//! Guarantees:
//! - `no_std`, no allocator: every message has a fixed maximum encoded size, checked in the
//!   tests against the buffers that carry it ([`MAX_MESSAGE_LEN`]).
//! - Encoding is postcard; on a byte stream each message travels in one COBS frame.
//! - [`PROTOCOL_VERSION`] changes whenever a message's shape changes, so a host and a tap
//!   that disagree fail loudly at `Hello` instead of misreading each other.
//! - Strings from the wire are kept as raw bytes ([`Text`]); the host decides how to show
//!   them (lossy UTF-8, escaped). Only identities travel here, never message bodies.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

pub mod alerts;
pub mod cobs;
pub mod mgmt;
pub mod records;
pub mod types;

pub use alerts::*;
pub use records::*;
pub use types::*;

/// Bumped on every change of a message's shape.
pub const PROTOCOL_VERSION: u16 = 1;

/// Largest encoded message (before COBS) that either side must accept.
pub const MAX_MESSAGE_LEN: usize = 2048;
