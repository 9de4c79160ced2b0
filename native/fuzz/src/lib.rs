//! The native engine's produce validation, compiled from the engine's own source files (see
//! Cargo.toml): the same module tree as in spool-native, so `crate::batch`, `crate::records`,
//! `crate::codec` and `crate::error` resolve as they do there.

#[path = "../../src/batch.rs"]
pub mod batch;
#[path = "../../src/codec/mod.rs"]
pub mod codec;
#[path = "../../src/error.rs"]
pub mod error;
#[path = "../../src/records.rs"]
pub mod records;
