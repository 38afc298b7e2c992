//! Workspace end-to-end tests live in `tests/tests/`; this library only helps them.
//!
//! Captures are read from `../shared/captures/` (relative to the workspace root), as the
//! developers' guide asks: they are never copied into the repository.

use std::path::PathBuf;

/// Path of a shared capture.
pub fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/captures").join(name)
}

use serde_json::Value;

/// Runs `wardtap replay` (the library) over files and returns the JSON document.
pub fn replay_json(files: &[PathBuf]) -> Value {
    let out = wardtap::replay::run(&wardtap::replay::Options { files: files.to_vec(), ..Default::default() });
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    serde_json::to_value(&out.document).expect("document serialises")
}

/// The document's assets.
pub fn assets(doc: &Value) -> &Vec<Value> {
    doc["assets"].as_array().expect("assets array")
}

/// The strings of an array of strings or of `{value, source}` objects.
pub fn strs(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                Value::Object(o) => o["value"].as_str().unwrap_or_default().to_owned(),
                other => other.to_string(),
            })
            .collect(),
        _ => vec![],
    }
}

/// Whether `v[field]` holds `value`.
pub fn has(v: &Value, field: &str, value: &str) -> bool {
    strs(&v[field]).iter().any(|s| s == value)
}
