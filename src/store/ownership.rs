//! Who may own and write the files dum trusts. dum drives the Docker socket, so a run as
//! root must not read a configuration, state or secret that another user could have
//! written: whoever controls those files would choose which images root runs.
//!
//! Running as root, a trusted file must be owned by root and writable by no one else, and
//! so must every directory on its path, as sshd's StrictModes has it: whoever can write a
//! directory can replace what is in it. Higher up, a sticky directory (like `/tmp`) is
//! fine, because others cannot rename or remove what root owns there; the directory
//! holding the file must not be writable by others at all, because there they could
//! plant the file (or its lock and history) before dum creates it. [`judge`] decides;
//! [`check`] and [`check_secret`] gather what it needs from the file system.

use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;

/// Group- and other-write bits.
const WRITABLE: u32 = 0o022;
/// Group- and other-read bits.
const READABLE: u32 = 0o044;
/// The sticky bit: only an entry's owner may rename or remove it.
const STICKY: u32 = 0o1000;
/// How many symlinks a path may pass through, as the kernel's ELOOP limit.
const MAX_SYMLINKS: usize = 40;

/// What a path is to the file being trusted; it decides how strict the check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// A directory above the file's own: may be writable by others only when sticky.
    Ancestor,
    /// The directory holding the file: writable by root alone, sticky or not.
    Parent,
    /// The file itself (config, state, history, lock).
    File,
    /// A file holding a secret (a notification URL or token): also warned about when
    /// others can read it.
    Secret,
}

/// What to do with one path on the way to a trusted file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to say.
    Trust,
    /// Use it, but log this (the end of a sentence about the file, with the fix).
    Warn(String),
    /// Refuse it (the end of a sentence about the file, with the fix).
    Refuse(String),
}

/// A file dum refuses to trust, with the one-line message naming it and the fix. Like a
/// bad configuration file it is the host's to fix and nothing was touched, so
/// [`crate::command::outcome::Failure::runtime`] turns it into exit 2.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Decides about `path`, owned by `owner` with `mode` (from stat, so a symlink's target),
/// for a process running as `euid`. Only root is protected: a non-root dum can only hurt
/// what its own user may do anyway.
pub fn judge(euid: u32, role: Role, path: &Path, owner: u32, mode: u32) -> Verdict {
    if euid != 0 {
        return Verdict::Trust;
    }
    let shown = path.display();
    let writers = match mode & WRITABLE {
        0o022 => "group and others",
        0o020 => "its group",
        0o002 => "others",
        _ => "",
    };
    let sticky = mode & STICKY != 0;
    match role {
        Role::File | Role::Secret if owner != 0 => Verdict::Refuse(format!(
            "it is owned by uid {owner}, not root; chown it to root or run dum as that user"
        )),
        Role::Parent | Role::Ancestor if owner != 0 => Verdict::Refuse(format!(
            "directory {shown} on its path is owned by uid {owner}, not root; chown root {shown} or run dum as that user"
        )),
        Role::File | Role::Secret if !writers.is_empty() => Verdict::Refuse(format!(
            "it is writable by {writers}; run chmod go-w {shown}"
        )),
        Role::Parent if !writers.is_empty() && sticky => Verdict::Refuse(format!(
            "its directory {shown} is writable by {writers} (sticky, but they could plant files in it); move the file into a directory only root can write"
        )),
        Role::Parent if !writers.is_empty() => Verdict::Refuse(format!(
            "its directory {shown} is writable by {writers}; run chmod go-w {shown}"
        )),
        Role::Ancestor if !writers.is_empty() && !sticky => Verdict::Refuse(format!(
            "directory {shown} on its path is writable by {writers} and not sticky; run chmod go-w {shown}"
        )),
        Role::Secret if mode & READABLE != 0 => {
            let readers = match mode & READABLE {
                0o044 => "group and others",
                0o040 => "its group",
                _ => "others",
            };
            Verdict::Warn(format!(
                "it is readable by {readers}; run chmod go-r {shown}"
            ))
        }
        _ => Verdict::Trust,
    }
}

/// Errors when dum runs as root and `path`, or a directory on its path, is owned by
/// another user or writable by others (see the module documentation). `what` names the
/// file in the message ("config file", "state file"). A missing file is fine, the
/// caller decides what absence means, but the directories it would be created in are
/// still checked.
pub fn check(path: &Path, what: &str) -> anyhow::Result<()> {
    inspect(path, what, Role::File)
}

/// [`check`] for a file holding a secret, which also logs a warning (once per run and
/// file) when others can read it.
pub fn check_secret(path: &Path, what: &str) -> anyhow::Result<()> {
    inspect(path, what, Role::Secret)
}

fn inspect(path: &Path, what: &str, role: Role) -> anyhow::Result<()> {
    let euid = effective_uid()?;
    if euid != 0 {
        // judge trusts everything then; no need to stat the path.
        return Ok(());
    }
    let mut seen = Vec::new();
    match std::fs::metadata(path) {
        Ok(meta) => seen.push((path.to_path_buf(), role, meta.uid(), meta.mode())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot stat {what} {}", path.display())),
    }
    for (dir, role) in directories(path).with_context(|| {
        format!(
            "cannot tell which directories hold {what} {}",
            path.display()
        )
    })? {
        match std::fs::metadata(&dir) {
            Ok(meta) => seen.push((dir, role, meta.uid(), meta.mode())),
            // Not there yet: dum creates it, private.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot stat directory {} on the path of {what} {}",
                        dir.display(),
                        path.display()
                    )
                });
            }
        }
    }
    for (shown, role, owner, mode) in seen {
        match judge(euid, role, &shown, owner, mode) {
            Verdict::Trust => {}
            Verdict::Warn(reason) => {
                if first_warning(path) {
                    log::warn!("{what} {}: {reason}", path.display());
                }
            }
            Verdict::Refuse(reason) => {
                return Err(anyhow::Error::new(Refused(format!(
                    "refusing the {what} {}: {reason}",
                    path.display()
                ))));
            }
        }
    }
    Ok(())
}

/// Whether no warning was logged about `path` yet in this run: a secret is checked when
/// the configuration is read and again when it is sent.
fn first_warning(path: &Path) -> bool {
    static WARNED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    WARNED.lock().map_or(true, |mut warned| {
        let first = !warned.iter().any(|p| p == path);
        if first {
            warned.push(path.to_path_buf());
        }
        first
    })
}

/// The directories whose owners and modes decide whether `path` can be trusted: the one
/// holding it ([`Role::Parent`]) and every one above it up to `/` ([`Role::Ancestor`]),
/// for the path as given and for wherever a symlink on it points, since both the
/// directory holding a symlink and the one holding its target decide what is read.
/// Nearest first, each once with its strictest role.
fn directories(path: &Path) -> std::io::Result<Vec<(PathBuf, Role)>> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut found: Vec<(PathBuf, Role)> = Vec::new();
    let mut done: Vec<PathBuf> = Vec::new();
    let mut pending = vec![absolute];
    while let Some(next) = pending.pop() {
        if done.contains(&next) {
            continue;
        }
        if done.len() > MAX_SYMLINKS {
            return Err(std::io::Error::other(format!(
                "{} passes through more than {MAX_SYMLINKS} symlinks",
                path.display()
            )));
        }
        for (depth, dir) in next.ancestors().skip(1).enumerate() {
            let role = if depth == 0 {
                Role::Parent
            } else {
                Role::Ancestor
            };
            match found.iter_mut().find(|(d, _)| d == dir) {
                Some((_, known)) => *known = (*known).max(role),
                None => found.push((dir.to_path_buf(), role)),
            }
        }
        for link in next.ancestors() {
            if !std::fs::symlink_metadata(link).is_ok_and(|m| m.file_type().is_symlink()) {
                continue;
            }
            let target = std::fs::read_link(link)?;
            let target = match link.parent() {
                Some(dir) if target.is_relative() => dir.join(target),
                _ => target,
            };
            // The rest of the path continues from the target.
            pending.push(tidy(&match next.strip_prefix(link) {
                Ok(rest) if !rest.as_os_str().is_empty() => target.join(rest),
                _ => target,
            }));
        }
        done.push(next);
    }
    Ok(found)
}

/// `path` without `.` and with `..` taken back lexically where that is what the kernel
/// does (the component before it is no symlink), so messages name directories plainly.
fn tidy(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir
                if out.parent().is_some()
                    && !std::fs::symlink_metadata(&out)
                        .is_ok_and(|m| m.file_type().is_symlink()) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
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
    use std::os::unix::fs::PermissionsExt;

    /// (euid, role, owner, mode, expected: None = trust, Some((refused, fragment))).
    type Case = (u32, Role, u32, u32, Option<(bool, &'static str)>);

    const CASES: &[Case] = &[
        // Only root is protected.
        (1000, Role::File, 1000, 0o666, None),
        (1000, Role::File, 65534, 0o600, None),
        (1000, Role::Parent, 0, 0o777, None),
        (1000, Role::Secret, 1000, 0o644, None),
        // Owners.
        (0, Role::File, 0, 0o644, None),
        (
            0,
            Role::File,
            65534,
            0o600,
            Some((true, "owned by uid 65534, not root")),
        ),
        (
            0,
            Role::Secret,
            1000,
            0o600,
            Some((true, "owned by uid 1000")),
        ),
        (
            0,
            Role::Parent,
            1000,
            0o755,
            Some((true, "directory /d on its path is owned by uid 1000")),
        ),
        (
            0,
            Role::Ancestor,
            1000,
            0o1777,
            Some((true, "chown root /d")),
        ),
        // The file's own mode.
        (0, Role::File, 0, 0o600, None),
        (
            0,
            Role::File,
            0,
            0o666,
            Some((true, "writable by group and others; run chmod go-w /d")),
        ),
        (
            0,
            Role::File,
            0,
            0o620,
            Some((true, "writable by its group; run chmod go-w")),
        ),
        (
            0,
            Role::File,
            0,
            0o602,
            Some((true, "writable by others; run chmod go-w")),
        ),
        (
            0,
            Role::File,
            0,
            0o1646,
            Some((true, "writable by others;")),
        ),
        (0, Role::File, 0, 0o4755, None),
        // Secrets: writable is refused, readable warned about.
        (0, Role::Secret, 0, 0o400, None),
        (0, Role::Secret, 0, 0o600, None),
        (0, Role::Secret, 0, 0o622, Some((true, "run chmod go-w /d"))),
        (
            0,
            Role::Secret,
            0,
            0o644,
            Some((false, "readable by group and others; run chmod go-r /d")),
        ),
        (
            0,
            Role::Secret,
            0,
            0o640,
            Some((false, "readable by its group")),
        ),
        (
            0,
            Role::Secret,
            0,
            0o604,
            Some((false, "readable by others")),
        ),
        // The directory holding the file: sticky does not help.
        (0, Role::Parent, 0, 0o755, None),
        (0, Role::Parent, 0, 0o700, None),
        (
            0,
            Role::Parent,
            0,
            0o775,
            Some((
                true,
                "its directory /d is writable by its group; run chmod go-w /d",
            )),
        ),
        (
            0,
            Role::Parent,
            0,
            0o777,
            Some((true, "writable by group and others; run chmod go-w /d")),
        ),
        (
            0,
            Role::Parent,
            0,
            0o1777,
            Some((true, "sticky, but they could plant files in it")),
        ),
        // Directories above it: sticky is fine.
        (0, Role::Ancestor, 0, 0o755, None),
        (0, Role::Ancestor, 0, 0o1777, None),
        (0, Role::Ancestor, 0, 0o1770, None),
        (
            0,
            Role::Ancestor,
            0,
            0o777,
            Some((
                true,
                "directory /d on its path is writable by group and others and not sticky; run chmod go-w /d",
            )),
        ),
        (
            0,
            Role::Ancestor,
            0,
            0o757,
            Some((true, "writable by others and not sticky")),
        ),
    ];

    #[test]
    fn judge_refuses_what_others_can_write_and_warns_about_readable_secrets() {
        for &(euid, role, owner, mode, want) in CASES {
            let got = judge(euid, role, Path::new("/d"), owner, mode);
            let case = format!("euid {euid}, {role:?}, owner {owner}, mode {mode:o}: {got:?}");
            match (want, &got) {
                (None, Verdict::Trust) => {}
                (Some((true, fragment)), Verdict::Refuse(reason))
                | (Some((false, fragment)), Verdict::Warn(reason)) => {
                    assert!(reason.contains(fragment), "{case} lacks {fragment:?}");
                    assert!(!reason.contains('\n'), "{case}: one line");
                }
                _ => panic!("{case}: expected {want:?}"),
            }
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
        // The kernel's own answer: a file this process creates is owned by its
        // effective uid.
        use std::os::unix::fs::MetadataExt;
        let made = tempfile::NamedTempFile::new().unwrap();
        assert_eq!(
            effective_uid().unwrap(),
            made.as_file().metadata().unwrap().uid()
        );
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn directories_cover_the_path_and_where_its_symlinks_point() {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().canonicalize().unwrap();
        let real = root.join("real/etc");
        std::fs::create_dir_all(&real).unwrap();
        std::fs::create_dir_all(root.join("links")).unwrap();
        // links/etc -> ../real/etc, and links/config.json -> etc/config.json
        std::os::unix::fs::symlink("../real/etc", root.join("links/etc")).unwrap();
        std::os::unix::fs::symlink("etc/config.json", root.join("links/config.json")).unwrap();
        let dirs = directories(&root.join("links/config.json")).unwrap();
        let role_of = |dir: &Path| dirs.iter().find(|(d, _)| d == dir).map(|(_, r)| *r);
        assert_eq!(role_of(&root.join("links")), Some(Role::Parent), "{dirs:?}");
        assert_eq!(
            role_of(&root.join("real/etc")),
            Some(Role::Parent),
            "{dirs:?}"
        );
        assert_eq!(
            role_of(&root.join("real")),
            Some(Role::Ancestor),
            "{dirs:?}"
        );
        assert_eq!(role_of(&root), Some(Role::Ancestor), "{dirs:?}");
        assert_eq!(role_of(Path::new("/")), Some(Role::Ancestor), "{dirs:?}");

        // A symlink loop ends (stat then reports it).
        let looping = root.join("loop");
        std::os::unix::fs::symlink("loop", &looping).unwrap();
        directories(&looping.join("x")).unwrap();
    }

    /// The I/O side. `scripts/test` runs as root; run as anyone else, the same files are
    /// all trusted.
    #[test]
    fn check_reads_modes_of_the_file_and_its_directories() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("etc");
        std::fs::create_dir(&dir).unwrap();
        chmod(&dir, 0o755);
        let file = dir.join("config.json");
        check(&file, "config file").unwrap();
        std::fs::write(&file, "{}").unwrap();
        chmod(&file, 0o644);
        check(&file, "config file").unwrap();
        check_secret(&file, "secret file").unwrap();
        if effective_uid().unwrap() != 0 {
            chmod(&file, 0o666);
            chmod(&dir, 0o777);
            check(&file, "config file").unwrap();
            return;
        }

        chmod(&file, 0o666);
        let err = check(&file, "config file").unwrap_err();
        assert!(err.is::<Refused>());
        let shown = file.display();
        assert_eq!(
            err.to_string(),
            format!(
                "refusing the config file {shown}: it is writable by group and others; run chmod go-w {shown}"
            )
        );
        chmod(&file, 0o644);

        chmod(&dir, 0o777);
        let err = check(&file, "config file").unwrap_err().to_string();
        assert!(
            err.contains(&format!("run chmod go-w {}", dir.display())),
            "{err}"
        );
        // A file not there yet would be created in that directory: refused too.
        assert!(check(&dir.join("absent.json"), "state file").is_err());
        chmod(&dir, 0o755);

        chmod(base.path(), 0o1777);
        check(&file, "config file").unwrap();
        chmod(base.path(), 0o777);
        let err = check(&file, "config file").unwrap_err().to_string();
        assert!(err.contains("not sticky"), "{err}");
        chmod(base.path(), 0o700);
    }
}
