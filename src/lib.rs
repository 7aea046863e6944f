//! dum keeps Docker containers on the newest version of their images, safely.
//!
//! The crate is a library with a thin binary on top (`src/main.rs`) so the pure core
//! (reference parsing, version order, tag selection, planning) can be unit tested,
//! fuzzed and benchmarked without sockets.

pub mod app;
pub mod check;
pub mod cleanup;
pub mod cli;
pub mod config;
pub mod discover;
pub mod docker;
pub mod fault;
pub mod history;
pub mod inventory;
pub mod journal;
pub mod lock;
pub mod logging;
pub mod notify;
pub mod outcome;
pub mod ownership;
pub mod propose;
pub mod reference;
pub mod registry;
pub mod report;
pub mod select;
pub mod selfcontainer;
pub mod settings;
pub mod spec;
pub mod state;
pub mod update;
pub mod verify;
pub mod version;
