//! Integration tests: the real `dum` binary against the real Docker engine and real
//! registries. Run them with `scripts/test` (it installs and starts what they need);
//! `cargo test --features fault-injection --test it` works too when dockerd and the
//! packages are present (the crash tests need the feature and say so without it).
//!
//! All tests live in this one crate so that they share the registries started by
//! [`harness::registry`] within one process.

// Test code: failing loudly on unexpected data is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod check;
mod check_targets;
mod compose;
mod concurrency;
mod config_errors;
mod discovery;
mod email;
mod engine_faults;
mod failures;
mod faults;
mod harness;
mod harness_selftest;
mod hooks;
mod init;
mod labels;
mod lock;
mod many_tags;
mod metrics;
mod min_age;
mod notify;
mod readme;
mod release_notes;
mod report;
mod security;
mod ship;
mod signature;
mod state;
mod swarm;
mod tags;
mod update;
mod update_safety;
