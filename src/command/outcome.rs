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

    /// A runtime error; a file refused for its owner or mode (wherever it was read) is a
    /// usage error instead: the host's setup to fix, like a bad configuration, found
    /// before anything was touched.
    pub fn runtime(error: impl Into<anyhow::Error>) -> Failure {
        let error = error.into();
        let refused = error
            .chain()
            .any(|cause| cause.is::<crate::store::ownership::Refused>());
        Failure {
            kind: if refused {
                FailureKind::Usage
            } else {
                FailureKind::Runtime
            },
            error,
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        Failure::runtime(error)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::store::ownership::Refused;

    #[test]
    fn a_refused_file_anywhere_in_the_chain_is_a_usage_error() {
        let refused = || anyhow::Error::new(Refused("refusing the state file /s".into()));
        let cases: [(anyhow::Error, FailureKind); 4] = [
            (refused(), FailureKind::Usage),
            (
                refused().context("cannot load the journal"),
                FailureKind::Usage,
            ),
            (anyhow::anyhow!("engine unreachable"), FailureKind::Runtime),
            (
                anyhow::anyhow!("disk full").context("cannot write the state file"),
                FailureKind::Runtime,
            ),
        ];
        for (error, want) in cases {
            let shown = format!("{error:#}");
            assert_eq!(Failure::runtime(error).kind, want, "{shown}");
        }
    }
}
