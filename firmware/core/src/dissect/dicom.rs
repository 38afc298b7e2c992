//! TODO(skeleton): dicom dissector.

use super::Result;
use crate::fact::{FrameCtx, Sink};

/// Dissects one dicom payload.
pub fn dissect<S: Sink + ?Sized>(_ctx: &FrameCtx, _payload: &[u8], _sink: &mut S) -> Result<()> {
    Err(super::Error::NotMine)
}
