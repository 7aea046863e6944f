//! The `dum` binary: parse, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use dum::command::{Failure, FailureKind, Outcome};

fn main() -> ExitCode {
    let cli = dum::cli::Cli::parse();
    dum::logging::init(&cli.log_level);
    let result = dum::command::run(cli.into_settings());
    if let Err(failure) = &result {
        // Some errors list several problems (a config file's), one per line.
        for line in format!("{:#}", failure.error).lines() {
            eprintln!("dum: {line}");
        }
    }
    ExitCode::from(exit_code(&result))
}

/// The exit-code contract; mirrors the README's table.
fn exit_code(result: &Result<Outcome, Failure>) -> u8 {
    match result {
        Ok(Outcome::Clean) => 0,
        Ok(Outcome::Failed) => 1,
        Err(Failure {
            kind: FailureKind::Runtime,
            ..
        }) => 1,
        Err(Failure {
            kind: FailureKind::Usage,
            ..
        }) => 2,
        Err(Failure {
            kind: FailureKind::LockHeld,
            ..
        }) => 75,
        Ok(Outcome::UpdatesAvailable) => 100,
        Ok(Outcome::Updated) => 101,
    }
}
