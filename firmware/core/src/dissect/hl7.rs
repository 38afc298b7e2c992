//! TODO(skeleton): hl7 dissector.

use super::Result;
use crate::fact::{FrameCtx, Sink};

/// Dissects one hl7 payload.
pub fn dissect<S: Sink + ?Sized>(_ctx: &FrameCtx, _payload: &[u8], _sink: &mut S) -> Result<()> {
    Err(super::Error::NotMine)
}
/// MLLP start-of-block byte.
pub const MLLP_START: u8 = 0x0b;
