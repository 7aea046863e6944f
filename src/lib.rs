//! dum keeps Docker containers on the newest version of their images, safely.
//!
//! The crate is a library with a thin binary on top (`src/main.rs`) so the pure core
//! (reference parsing, version order, tag selection, planning) can be unit tested,
//! fuzzed and benchmarked without sockets.

pub mod config;
pub mod lock;
pub mod propose;
pub mod reference;
pub mod registry;
pub mod select;
pub mod state;
pub mod version;
