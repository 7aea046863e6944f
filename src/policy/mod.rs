//! Policies that judge a pending update beyond its version number, from what the
//! registry says about the candidate image (its [`ImageFacts`]) and what the engine
//! says about the running one. Pure: the facts are fetched once per candidate digest
//! in `check/` and handed to every policy.
//!
//! [`ImageFacts`]: crate::registry::image_config::ImageFacts

pub mod notes;
