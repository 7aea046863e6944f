//! dum keeps Docker containers on the newest version of their images, safely.
//!
//! The crate is a library with a thin binary on top (`src/main.rs`) so the pure core
//! (reference parsing, version order, tag selection, planning) can be unit tested,
//! fuzzed and benchmarked without sockets. ARCHITECTURE.md is the map of its folders.

pub mod check;
pub mod cli;
pub mod command;
pub mod config;
pub mod docker;
pub mod fault;
pub mod image;
pub mod logging;
pub mod notify;
pub mod output;
pub mod registry;
pub mod store;
pub mod update;
