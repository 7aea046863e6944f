//! `docker compose` projects: a service as its container's labels describe it
//! (`service.rs`), where its files write its image's tag (`file.rs`, `envfile.rs`, pure)
//! and the edit of that tag (`edit.rs`), and the compose CLI plugin that recreates it
//! (`plugin.rs`).

pub mod edit;
pub mod envfile;
pub mod file;
pub mod plugin;
pub mod service;
