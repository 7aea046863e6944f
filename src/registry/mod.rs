//! Talking to OCI distribution registries.

pub mod auth;
pub mod credentials;
