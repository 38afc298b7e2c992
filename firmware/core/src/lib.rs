//! `wardtap-core`: the tap's brain. Ethernet frames in, an asset inventory out.
//!
//! Guarantees, on the MCU, in `wardtap replay` and in live capture alike:
//! - `no_std`, no allocator, no `unsafe`. All state lives in fixed-capacity tables sized in
//!   [`config`]; the whole [`Tap`] fits the budget stated there.
//! - Hostile input is normal input: no byte sequence makes the core panic, loop without
//!   bound, or grow. Work per frame is bounded by the frame's length and the table sizes.
//! - Full tables evict by a stated rule and count what they drop; nothing is lost silently.
//! - Deterministic: the same frames with the same timestamps give the same inventory.
//! - Only identities leave: names, addresses, software strings, AE titles, HL7 header routing
//!   fields. Message bodies, credentials and community strings are never stored; only the
//!   fact that one was seen.
//!
//! Structure: [`dissect`] turns frames into [`fact::Fact`]s (one file per protocol);
//! [`inventory`] consumes facts into assets and edges; [`classify`] holds the device-class
//! rules; [`Tap`] ties them together.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod alerts;
pub mod classify;
pub mod config;
pub mod detect;
pub mod dissect;
pub mod fact;
pub mod flow;
pub mod inventory;
pub mod policy;
pub mod table;
pub mod tap;

#[cfg(test)]
extern crate std;

/// The capture reader shared with the integration tests, benches and examples.
#[cfg(test)]
#[path = "../tests/support/mod.rs"]
mod testpcap;

pub use fact::{Fact, FrameCtx, Sink, Timestamp};
pub use tap::Tap;
pub use wardtap_proto as proto;

// On the MCU the whole state must fit its budget: a table made larger fails the build.
#[cfg(target_os = "none")]
const _: () = assert!(core::mem::size_of::<Tap>() <= config::STATE_BUDGET, "Tap exceeds config::STATE_BUDGET");
