//! `docker compose` projects: a service as its container's labels describe it
//! (`service.rs`) and the compose CLI plugin that recreates it (`plugin.rs`).

pub mod plugin;
pub mod service;
