//! TODO(skeleton): dhcp dissector.

use super::Result;
use crate::fact::{FrameCtx, Sink};

/// Dissects one dhcp payload.
pub fn dissect<S: Sink + ?Sized>(_ctx: &FrameCtx, _payload: &[u8], _sink: &mut S) -> Result<()> {
    Err(super::Error::NotMine)
}
