//! `dum history [NAME]`: every update, rollback and failure, oldest first.

use crate::command::context::Context;
use crate::command::outcome::{Failure, Outcome};
use crate::output;
use crate::store::history::{self, Entry};

/// Runs `dum history [NAME]`: reads the history file only, without the lock.
pub fn run(ctx: &Context, target: Option<&str>) -> Result<Outcome, Failure> {
    let entries =
        history::load(&history::path_for(&ctx.settings.state_file)).map_err(Failure::runtime)?;
    let selected: Vec<&Entry> = entries
        .iter()
        .filter(|e| target.is_none_or(|t| e.container == t || e.image == t))
        .collect();
    if ctx.json() {
        output::print_json(&serde_json::json!({
            "schema_version": output::JSON_SCHEMA_VERSION,
            "entries": selected,
        }))
        .map_err(Failure::runtime)?;
    } else {
        output::print(&output::history_table(&selected));
    }
    Ok(Outcome::Clean)
}
