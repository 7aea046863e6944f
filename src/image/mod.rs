//! Image names and versions, as pure data: references, version order, which tags are
//! versions, and regex proposals for a repository's tags. Imports nothing else of dum.

pub mod pin;
pub mod propose;
pub mod reference;
pub mod select;
pub mod version;
