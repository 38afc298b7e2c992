//! TODO(skeleton): http dissector.

use super::Result;
use crate::fact::{FrameCtx, Sink};

/// Dissects one http payload.
pub fn dissect<S: Sink + ?Sized>(_ctx: &FrameCtx, _payload: &[u8], _sink: &mut S) -> Result<()> {
    Err(super::Error::NotMine)
}
/// Cheap content test: a request method or a status line.
pub fn looks_like_http(p: &[u8]) -> bool {
    p.starts_with(b"GET ") || p.starts_with(b"HTTP/")
}
