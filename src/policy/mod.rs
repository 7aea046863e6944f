//! Update policies an image entry sets: how old a new image must be (`age.rs`). Pure:
//! what the registry and the state say in, a judgement out.

pub mod age;
