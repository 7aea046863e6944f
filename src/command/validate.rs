//! `dum validate [FILE]`: every problem of a configuration file, exit 2 if any.

use std::path::Path;

use anyhow::anyhow;

use crate::command::context::Context;
use crate::command::outcome::{Failure, Outcome};
use crate::config;
use crate::output;

/// Runs `dum validate [FILE]` (the configured file when none is given).
pub fn run(ctx: &Context, path: Option<&Path>) -> Result<Outcome, Failure> {
    let path = path.unwrap_or(ctx.settings.config.path());
    let result = config::load(path);
    if ctx.json() {
        let problems = match &result {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.clone(),
        };
        output::print_json(&serde_json::json!({
            "schema_version": output::JSON_SCHEMA_VERSION,
            "path": path,
            "valid": result.is_ok(),
            "images": result.as_ref().map(|c| c.images.len()).unwrap_or(0),
            "problems": problems,
        }))
        .map_err(Failure::runtime)?;
        return match result {
            Ok(_) => Ok(Outcome::Clean),
            Err(e) => Err(Failure::usage(anyhow!(
                "{} has {} problem(s)",
                e.path.display(),
                e.problems.len()
            ))),
        };
    }
    match result {
        Ok(c) => {
            output::print(&format!(
                "{}: valid ({} images)",
                path.display(),
                c.images.len()
            ));
            Ok(Outcome::Clean)
        }
        Err(e) => Err(Failure::usage(e)),
    }
}
