//! Swarm services: a service as the engine describes it and the one change dum makes to
//! its spec (`service.rs`), and how far a rollout is (`rollout.rs`). Pure: the engine
//! calls are in `docker/`, the transaction in `update/service.rs`.

pub mod rollout;
pub mod service;
