//! Integration tests: the real `dum` binary against the real Docker engine and real
//! registries. Run them with `scripts/test` (it installs and starts what they need);
//! `cargo test --test it` works too when dockerd and the packages are present.
//!
//! All tests live in this one crate so that they share the registries started by
//! [`harness::registry`] within one process.

// Test code: failing loudly on unexpected data is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod concurrency;
mod engine_faults;
mod faults;
mod harness;
mod harness_selftest;
mod security;
mod update;
