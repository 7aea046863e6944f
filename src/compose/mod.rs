//! `docker compose` projects: a service as its container's labels describe it
//! (`service.rs`), where its files write its image's tag (`file.rs`, `envfile.rs`, pure)
//! and the edit of that tag (`edit.rs`), the project's model as `up` hashes it
//! (`model.rs`, pure), and the compose CLI plugin that recreates it (`plugin.rs`).

pub mod edit;
pub mod envfile;
pub mod file;
pub mod model;
pub mod plugin;
pub mod service;
