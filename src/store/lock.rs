//! The run lock: at most one dum run touches containers and state at a time.
//!
//! cron may start a run while the previous one is still waiting for a slow registry or a
//! container's healthcheck; two runs recreating the same container would fight. The lock is an
//! `flock(2)` on "<state dir>/dum.lock", which the kernel releases when the process dies, so a
//! crashed run never leaves a stale lock behind.

use std::fmt;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

/// Name of the lock file inside the state directory.
pub const LOCK_FILE: &str = "dum.lock";

/// How often a waiting run retries.
const POLL: Duration = Duration::from_millis(100);

/// Exclusive run lock on "<state dir>/dum.lock" (fd-lock write lock, file 0600, dir 0700). Held
/// for the whole run; released on drop.
///
/// An flock belongs to the open file description and the kernel drops it when the last
/// descriptor is closed, so holding the lock means holding the open `File`: fd-lock takes the
/// lock, its guard is forgotten (it would unlock on drop and borrows the `RwLock`, which a struct
/// cannot hold next to it without unsafe code), and dropping `RunLock` closes the file, which
/// releases the lock. std opens files close-on-exec, so spawned commands do not inherit it.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// Why the lock was not acquired. `Held` maps to exit code 75 (EX_TEMPFAIL): try again later.
#[derive(Debug)]
pub enum LockError {
    /// Another run holds the lock (past the wait, if one was given).
    Held {
        /// The lock file.
        path: PathBuf,
        /// Process id the holder wrote into the lock file, if readable.
        pid: Option<u32>,
    },
    /// The lock file or its directory could not be created or locked.
    Other(anyhow::Error),
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Held {
                path,
                pid: Some(pid),
            } => write!(
                f,
                "another dum run (pid {pid}) holds the lock {}; try again later",
                path.display()
            ),
            LockError::Held { path, pid: None } => write!(
                f,
                "another dum run holds the lock {}; try again later",
                path.display()
            ),
            LockError::Other(err) => write!(f, "{err:#}"),
        }
    }
}

impl std::error::Error for LockError {}

impl RunLock {
    /// Try once (wait == None) or poll until `wait` elapses (sleep 100ms steps). Held →
    /// [`LockError::Held`] so the caller exits 75.
    pub fn acquire(dir: &Path, wait: Option<Duration>) -> Result<RunLock, LockError> {
        let path = dir.join(LOCK_FILE);
        // Running as root, nothing in a directory others can write is trusted; checked
        // before the directory is created, so a refusal leaves nothing behind. The history
        // is checked here too: it is read and written after containers were touched, and
        // a refusal then would break exit 2's promise that nothing was.
        for (file, what) in [
            (path.clone(), "lock file"),
            (dir.join(crate::store::history::FILE_NAME), "history file"),
        ] {
            crate::store::ownership::check(&file, what).map_err(LockError::Other)?;
        }
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create state directory {}", dir.display()))
            .map_err(LockError::Other)?;
        // Opening follows symlinks and the pid is written into the file: a symlink planted
        // here would make root overwrite its target. std has no O_NOFOLLOW without libc, and
        // the directory is 0700, so checking first leaves no race for anyone but root.
        if path
            .symlink_metadata()
            .is_ok_and(|m| !m.file_type().is_file())
        {
            return Err(LockError::Other(anyhow::anyhow!(
                "refusing the lock file {}: it is a symlink or not a regular file; remove it",
                path.display()
            )));
        }
        // No truncate: the holder's pid in the file is what a waiting run reports.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot open lock file {}", path.display()))
            .map_err(LockError::Other)?;

        let deadline = wait.map(|w| Instant::now() + w);
        loop {
            let mut lock = fd_lock::RwLock::new(file);
            let attempt = lock.try_write().map(std::mem::forget);
            file = lock.into_inner();
            match attempt {
                Ok(()) => {
                    record_pid(&mut file, &path);
                    return Ok(RunLock { _file: file });
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => {
                    return Err(LockError::Other(
                        anyhow::Error::new(err).context(format!("cannot lock {}", path.display())),
                    ));
                }
            }
            let remaining = deadline
                .map(|d| d.saturating_duration_since(Instant::now()))
                .unwrap_or_default();
            if remaining.is_zero() {
                let pid = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|text| text.trim().parse().ok());
                return Err(LockError::Held { path, pid });
            }
            std::thread::sleep(remaining.min(POLL));
        }
    }
}

/// Writes our pid into the lock file so a blocked run can say who holds it. Only diagnostic:
/// failing to write it must not fail the run.
fn record_pid(file: &mut File, path: &Path) {
    let written = file
        .set_len(0)
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    if let Err(err) = written {
        log::debug!("cannot write pid into {}: {err}", path.display());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn assert_held(result: Result<RunLock, LockError>, case: &str) {
        match result {
            Err(LockError::Held { pid, .. }) => {
                assert_eq!(pid, Some(std::process::id()), "{case}: pid recorded");
            }
            Err(other) => panic!("{case}: expected Held, got {other}"),
            Ok(_) => panic!("{case}: expected Held, got the lock"),
        }
    }

    #[test]
    fn second_acquire_in_same_process_conflicts_until_drop() {
        let dir = tempfile::tempdir().unwrap();
        let state_dir = dir.path().join("state");
        let first = RunLock::acquire(&state_dir, None).unwrap();
        assert_eq!(
            std::fs::metadata(state_dir.join("dum.lock"))
                .unwrap()
                .mode()
                & 0o777,
            0o600
        );
        assert_eq!(std::fs::metadata(&state_dir).unwrap().mode() & 0o077, 0);

        // flock locks belong to open file descriptions, so a second open in this process
        // conflicts just like another process would.
        assert_held(RunLock::acquire(&state_dir, None), "try once");

        let started = Instant::now();
        assert_held(
            RunLock::acquire(&state_dir, Some(Duration::from_millis(350))),
            "with wait",
        );
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(350) && waited < Duration::from_secs(3),
            "waited {waited:?}"
        );

        drop(first);
        let again = RunLock::acquire(&state_dir, None).unwrap();
        drop(again);
    }

    #[test]
    fn waiting_acquire_gets_the_lock_when_released() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path(), None).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(250));
            drop(first);
        });
        let second = RunLock::acquire(dir.path(), Some(Duration::from_secs(10)));
        assert!(second.is_ok(), "{:?}", second.err());
        releaser.join().unwrap();
    }

    #[test]
    fn a_planted_symlink_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, "keep me\n").unwrap();
        let state_dir = dir.path().join("state");
        std::fs::create_dir(&state_dir).unwrap();
        std::os::unix::fs::symlink(&target, state_dir.join(LOCK_FILE)).unwrap();
        match RunLock::acquire(&state_dir, None) {
            Err(LockError::Other(err)) => {
                assert!(format!("{err:#}").contains("symlink"), "{err:#}");
            }
            other => panic!("expected Other, got {other:?}"),
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me\n");
    }

    #[test]
    fn held_message_names_file_and_pid() {
        let err = LockError::Held {
            path: PathBuf::from("/var/lib/dum/dum.lock"),
            pid: Some(42),
        };
        assert_eq!(
            err.to_string(),
            "another dum run (pid 42) holds the lock /var/lib/dum/dum.lock; try again later"
        );
    }

    #[test]
    fn uncreatable_directory_is_other() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "").unwrap();
        match RunLock::acquire(&file.join("sub"), None) {
            Err(LockError::Other(err)) => {
                assert!(format!("{err:#}").contains("not-a-dir"), "{err:#}");
            }
            other => panic!("expected Other, got {other:?}"),
        }
    }
}
