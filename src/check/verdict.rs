//! The verdict for one container: pure, from what the registry offers and what the
//! container runs (both already read).

use anyhow::{Result, bail};

use crate::check::Status;
use crate::check::local::Local;
use crate::check::resolve::{RESOLUTION_LIMIT, Remote};
use crate::image::select::{self, Direction};

/// The status of one container, and a note when the status alone would mislead.
pub fn verdict(remote: &Remote, local: &Local) -> Result<(Status, Option<String>)> {
    let mut note = None;
    let Some(newest) = remote.newest() else {
        // Digest tracking only: the base tag's digest against the container's.
        let status = if !local.running {
            Status::NotRunning
        } else if local.runs_base {
            Status::UpToDate
        } else {
            Status::UpdateAvailable
        };
        return Ok((status, note));
    };
    let status = match &local.version {
        Some(current) => match select::direction(current, newest) {
            Direction::Newer => Status::UpdateAvailable,
            Direction::Same => Status::UpToDate,
            Direction::Older => {
                note = Some(format!(
                    "runs {current}, newer than the registry's newest {newest}"
                ));
                Status::UpToDate
            }
        },
        None if local.digests.is_empty() => {
            bail!(
                "cannot tell which version it runs: its image has no digest from this registry (built locally?) and its tag {:?} does not match the regex",
                local.tag
            )
        }
        None => {
            note = Some(format!(
                "running version unknown: its digest is none of the newest {RESOLUTION_LIMIT} version tags"
            ));
            Status::UpdateAvailable
        }
    };
    let status = if local.running {
        status
    } else {
        Status::NotRunning
    };
    Ok((status, note))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn remote(versions: &[&str]) -> Remote {
        Remote {
            versions: versions.iter().map(|v| v.to_string()).collect(),
            base_digest: Some("sha256:base".into()),
            base_version: versions.first().map(|v| v.to_string()),
            digests: Default::default(),
        }
    }

    fn local(version: Option<&str>, digests: &[&str], running: bool, runs_base: bool) -> Local {
        Local {
            version: version.map(str::to_string),
            digests: digests.iter().map(|d| d.to_string()).collect(),
            running,
            tag: "latest".into(),
            runs_base,
        }
    }

    #[test]
    fn verdicts_from_what_runs_and_what_is_offered() {
        use Status::*;
        let cases: &[(&str, Remote, Local, Result<(Status, bool), &str>)] = &[
            (
                "digest only, runs the base",
                remote(&[]),
                local(None, &["d"], true, true),
                Ok((UpToDate, false)),
            ),
            (
                "digest only, another digest",
                remote(&[]),
                local(None, &["d"], true, false),
                Ok((UpdateAvailable, false)),
            ),
            (
                "digest only, stopped",
                remote(&[]),
                local(None, &["d"], false, false),
                Ok((NotRunning, false)),
            ),
            (
                "older version",
                remote(&["2.0", "1.0"]),
                local(Some("1.0"), &[], true, false),
                Ok((UpdateAvailable, false)),
            ),
            (
                "newest",
                remote(&["2.0", "1.0"]),
                local(Some("2.0"), &[], true, false),
                Ok((UpToDate, false)),
            ),
            (
                "newer than the registry",
                remote(&["2.0"]),
                local(Some("3.0"), &[], true, false),
                Ok((UpToDate, true)),
            ),
            (
                "older but stopped",
                remote(&["2.0"]),
                local(Some("1.0"), &[], false, false),
                Ok((NotRunning, false)),
            ),
            (
                "unknown version, known digest",
                remote(&["2.0"]),
                local(None, &["d"], true, false),
                Ok((UpdateAvailable, true)),
            ),
            (
                "no version, no digest",
                remote(&["2.0"]),
                local(None, &[], true, false),
                Err("cannot tell which version it runs"),
            ),
        ];
        for (case, remote, local, want) in cases {
            let got = verdict(remote, local);
            match (got, want) {
                (Ok((status, note)), Ok((want_status, want_note))) => {
                    assert_eq!(status, *want_status, "{case}");
                    assert_eq!(note.is_some(), *want_note, "{case}: {note:?}");
                }
                (Err(e), Err(want)) => assert!(e.to_string().starts_with(want), "{case}: {e}"),
                (got, _) => panic!("{case}: {got:?}"),
            }
        }
    }
}
