//! Test-only fault points: `DUM_FAULT=<point>` makes dum SIGKILL itself when it reaches
//! that point, so crash recovery is tested with real kills at every journaled step.
//! Compiled in only with the `fault-injection` feature (scripts/test builds the tested
//! binary with it); shipped binaries have no such hook. Naming a point that does not
//! exist does nothing.

/// Every point, in transaction order (tests iterate over it).
pub const POINTS: &[&str] = &[
    "pulled",
    "journaled",
    "renamed",
    "created",
    "stopped",
    "started",
    "verified",
    "backup-removed",
    "following",
    "rolling-back",
];

/// The points inside a lifecycle hook (reached once it runs): `<phase>-hook`.
pub const HOOK_POINTS: &[&str] = &["pre_update-hook", "post_update-hook"];

/// The points of a transaction compose applies (`update/compose.rs`), in order.
pub const COMPOSE_POINTS: &[&str] = &["journaled", "pulled", "edited", "applied", "rolling-back"];

/// Kills the process with SIGKILL when `DUM_FAULT` names `point`.
#[cfg(feature = "fault-injection")]
pub fn point(point: &str) {
    if std::env::var("DUM_FAULT").is_ok_and(|v| v == point) {
        eprintln!("dum: DUM_FAULT={point}: killing myself with SIGKILL");
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &std::process::id().to_string()])
            .status();
        // Only reached when `kill` is missing: still die without cleanup.
        std::process::abort();
    }
}

/// Does nothing: built without the `fault-injection` feature, as everything that ships.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn point(_point: &str) {}

/// Test-only: `DUM_FAULT_HOOK=<point>:<command>` runs `sh -c <command>` when dum reaches
/// `point`, then goes on: a test changes the world between two of dum's steps (another
/// client updating a service between dum's read and its write).
#[cfg(feature = "fault-injection")]
pub fn hook(point: &str) {
    let Ok(spec) = std::env::var("DUM_FAULT_HOOK") else {
        return;
    };
    if let Some((at, command)) = spec.split_once(':')
        && at == point
    {
        eprintln!("dum: DUM_FAULT_HOOK at {point}: {command}");
        let _ = std::process::Command::new("sh")
            .args(["-c", command])
            .status();
    }
}

/// Does nothing: built without the `fault-injection` feature, as everything that ships.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn hook(_point: &str) {}
