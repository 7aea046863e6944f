//! dum keeps Docker containers on the newest version of their images, safely.
//!
//! The crate is a library with a thin binary on top (`src/main.rs`) so the pure core
//! (reference parsing, version order, tag selection, planning) can be unit tested,
//! fuzzed and benchmarked without sockets. ARCHITECTURE.md is the map of its folders.
//!
//! Public: what `main.rs` uses (`cli`, `command`, `logging`), the crash tests' fault
//! points, and [`internals`] for the fuzz targets and integration tests. Everything
//! else is the crate's own, so the compiler reports what nothing uses.

pub mod cli;
pub mod command;
pub mod fault;
pub mod logging;

mod check;
mod compose;
mod config;
mod docker;
mod http;
mod image;
mod notify;
mod output;
mod policy;
mod registry;
mod store;
mod swarm;
mod update;

/// What the fuzz targets (`fuzz/`) and the integration tests (`tests/`) call directly.
/// Not an API: it changes with the code.
#[doc(hidden)]
pub mod internals {
    pub use crate::config::notify::{Secret, host_of};
    pub use crate::config::parse as parse_config;
    pub use crate::docker::MAX_API_VERSION;
    pub use crate::image::reference::Reference;
    pub use crate::image::version::compare;
    pub use crate::registry::{auth, manifest};
    pub use crate::store::ownership::effective_uid;
}
