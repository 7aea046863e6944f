//! The command layer: one file per subcommand, each `run(&Context, …) -> Result<Outcome,
//! Failure>`. It wires the configuration, the store, the engine and the registry to
//! the core (`check`, `update`) and prints the reports (`output`); it is the only layer
//! that knows about exit outcomes.

mod check;
mod context;
mod docs;
mod history;
mod init;
mod metrics;
mod notify;
pub mod outcome;
mod rollback;
mod tags;
mod targets;
mod update;
mod validate;

pub use self::context::REGISTRY_TIMEOUT_ENV;
pub use self::outcome::{Failure, FailureKind, Outcome};

use self::context::Context;
use crate::cli::settings::{Command, Settings};

/// Runs the command `settings` name.
pub fn run(settings: Settings) -> Result<Outcome, Failure> {
    let ctx = Context::new(settings);
    match &ctx.settings.command {
        Command::Schema => docs::schema(),
        Command::Completions { shell } => docs::completions(*shell),
        Command::Man { dir } => docs::man(dir.as_deref()),
        Command::Validate { path, effective } => validate::run(&ctx, path.as_deref(), *effective),
        Command::Tags {
            image,
            regex,
            base_tag,
        } => tags::run(&ctx, image, regex.as_deref(), base_tag),
        Command::Check {
            targets,
            metrics_file,
        } => check::run(&ctx, targets, metrics_file.as_deref()),
        Command::Init { targets, add } => init::run(&ctx, targets, *add),
        Command::Update {
            targets,
            allow_downgrade,
            force,
            metrics_file,
        } => update::run(
            &ctx,
            targets,
            *allow_downgrade,
            *force,
            metrics_file.as_deref(),
        ),
        Command::Rollback { target } => rollback::run(&ctx, target),
        Command::History { target } => history::run(&ctx, target.as_deref()),
        Command::Notify { test } => notify::run(&ctx, *test),
    }
}
