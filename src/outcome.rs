//! How a run ended, in the terms of the exit-code contract (README, "Exit codes").

/// A run that did its job; what it found decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing pending (exit 0).
    Clean,
    /// At least one update is available (exit 100).
    UpdatesAvailable,
    /// At least one container was updated and none failed (exit 101).
    Updated,
    /// At least one image could not be checked or updated; partial results were printed (exit 1).
    Failed,
}

/// Why a run could not do its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Bad command line or configuration; nothing was touched (exit 2).
    Usage,
    /// Another dum run holds the lock (exit 75).
    LockHeld,
    /// Anything else: engine unreachable, state unreadable, … (exit 1).
    Runtime,
}

/// A run that stopped early, with the one error to print.
#[derive(Debug)]
pub struct Failure {
    /// Which exit code it maps to.
    pub kind: FailureKind,
    /// What to tell the user (printed once, by `main`).
    pub error: anyhow::Error,
}

impl Failure {
    /// A usage or configuration error.
    pub fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            kind: FailureKind::Usage,
            error: error.into(),
        }
    }

    /// A runtime error.
    pub fn runtime(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            kind: FailureKind::Runtime,
            error: error.into(),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        Failure::runtime(error)
    }
}
