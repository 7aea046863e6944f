//! Policies an update must pass before dum pulls its candidate: checks of the candidate
//! digest itself, beside the version order `check/` decides.

pub mod signature;
