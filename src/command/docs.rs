//! `dum schema`, `dum completions SHELL`, `dum man [DIR]`: what dum prints about
//! itself, for editors, shells and packagers.

use std::path::Path;

use anyhow::Context as _;

use crate::cli::{self, settings::Shell};
use crate::command::outcome::{Failure, Outcome};
use crate::config;
use crate::output;

/// Prints the configuration's JSON schema.
pub fn schema() -> Result<Outcome, Failure> {
    output::print(config::SCHEMA);
    Ok(Outcome::Clean)
}

/// Prints the completion script for `shell`.
pub fn completions(shell: Shell) -> Result<Outcome, Failure> {
    output::print(&cli::completions(shell));
    Ok(Outcome::Clean)
}

/// Prints dum(1), or writes every page into `dir` (for packaging).
pub fn man(dir: Option<&Path>) -> Result<Outcome, Failure> {
    let pages = cli::man_pages().map_err(Failure::runtime)?;
    let Some(dir) = dir else {
        if let Some((_, page)) = pages.first() {
            output::print(page);
        }
        return Ok(Outcome::Clean);
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the man page directory {}", dir.display()))
        .map_err(Failure::runtime)?;
    for (name, page) in &pages {
        let path = dir.join(name);
        std::fs::write(&path, page)
            .with_context(|| format!("cannot write the man page {}", path.display()))
            .map_err(Failure::runtime)?;
    }
    Ok(Outcome::Clean)
}
