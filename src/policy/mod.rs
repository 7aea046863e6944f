//! Policies that judge a pending update beyond its version number: how old the new
//! image must be (`age.rs`), where its release notes are (`notes.rs`), and whether the
//! candidate digest carries a cosign signature that verifies (`signature.rs`). What the
//! registry says about the candidate image (its [`ImageFacts`], fetched once per
//! candidate digest in `check/`), what the engine says about the running one and what
//! the state remembers in, a judgement out.
//!
//! [`ImageFacts`]: crate::registry::image_config::ImageFacts

pub mod age;
pub mod notes;
pub mod signature;
