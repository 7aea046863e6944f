//! Who may own the files dum trusts. dum drives the Docker socket, so a run as root must not
//! read a configuration or state that another (non-root) user could have written: whoever
//! controls those files would choose which images root runs.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{Context, bail};

/// Errors when dum runs as root and `path` exists but is owned by another non-root user.
/// `what` names the file in the message ("config file", "state file"). A missing file is fine:
/// the caller decides what absence means.
pub fn check(path: &Path, what: &str) -> anyhow::Result<()> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot stat {what} {}", path.display())),
    };
    if let Some(reason) = refusal(effective_uid()?, meta.uid()) {
        bail!(
            "refusing the {what} {}: {reason}; chown it to root or run dum as that user",
            path.display()
        );
    }
    Ok(())
}

/// Why a file owned by `file_uid` must not be trusted by a process running as `euid`, if so.
/// Only root is protected: a non-root dum can only hurt what its own user may do anyway.
pub fn refusal(euid: u32, file_uid: u32) -> Option<String> {
    (euid == 0 && file_uid != 0).then(|| format!("it is owned by uid {file_uid}, not root"))
}

/// The effective uid, from `/proc/self/status` (`Uid: real effective saved fs`): std has no
/// geteuid and the crate forbids unsafe code.
pub fn effective_uid() -> anyhow::Result<u32> {
    let status = std::fs::read_to_string("/proc/self/status")
        .context("cannot read /proc/self/status to learn the effective uid")?;
    parse_effective_uid(&status).context("/proc/self/status has no readable Uid line")
}

/// The second number of the `Uid:` line.
fn parse_effective_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|euid| euid.parse().ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn only_root_refuses_foreign_files() {
        const CASES: &[(u32, u32, bool)] = &[
            (0, 0, false),
            (0, 65534, true),
            (0, 1000, true),
            (1000, 1000, false),
            (1000, 0, false),
            (1000, 65534, false),
        ];
        for &(euid, owner, refused) in CASES {
            assert_eq!(
                refusal(euid, owner).is_some(),
                refused,
                "euid {euid}, owner {owner}"
            );
        }
    }

    #[test]
    fn effective_uid_is_the_second_field() {
        const CASES: &[(&str, Option<u32>)] = &[
            ("Name:\tdum\nUid:\t1000\t0\t0\t0\nGid:\t0\n", Some(0)),
            ("Uid:\t0\t1000\t1000\t1000\n", Some(1000)),
            ("Uid:\t0\n", None),
            ("Gid:\t0\t0\n", None),
            ("", None),
        ];
        for (status, want) in CASES {
            assert_eq!(parse_effective_uid(status), *want, "{status:?}");
        }
        assert!(effective_uid().is_ok());
    }

    #[test]
    fn a_missing_file_is_not_refused() {
        let dir = tempfile::tempdir().unwrap();
        check(&dir.path().join("absent.json"), "state file").unwrap();
        let own = dir.path().join("own.json");
        std::fs::write(&own, "{}").unwrap();
        check(&own, "state file").unwrap();
    }
}
