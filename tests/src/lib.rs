//! Workspace end-to-end tests live in `tests/tests/`; this library only helps them.
//!
//! Captures are read from `../shared/captures/` (relative to the workspace root), as the
//! developers' guide asks: they are never copied into the repository.

use std::path::PathBuf;

/// Path of a shared capture.
pub fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/captures").join(name)
}
