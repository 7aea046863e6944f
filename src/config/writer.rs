//! Writes a configuration file `dum init` drafted, atomically: a temp file beside it,
//! synced, renamed into place, the directory synced. A new file is mode 0644 in
//! directories created 0755 (whatever the umask: dum reads it as root, and anyone may
//! read which images are watched); a replaced one keeps its mode and owner.

use std::fs::{self, DirBuilder, File, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The mode of a configuration file `dum init` creates.
pub const FILE_MODE: u32 = 0o644;
/// The mode of the directories it creates for one.
pub const DIR_MODE: u32 = 0o755;

/// Writes `text` as a new file at `path`, creating the missing directories; fails
/// if a file appeared there meanwhile rather than replace it.
pub fn create(path: &Path, text: &str) -> Result<()> {
    let dir = folder(path);
    create_dirs(dir)?;
    let temp = temp_file(dir, path, text, FILE_MODE)?;
    temp.persist_noclobber(path)
        .map_err(|e| e.error)
        .with_context(|| {
            format!(
                "cannot create {} (did another program write it meanwhile?)",
                path.display()
            )
        })?;
    sync_dir(dir)
}

/// Replaces the file at `path`, which held `was` when it was read, by `text`, keeping
/// its mode and owner; through a symlink, the file it points to is replaced. Fails
/// without writing if the file no longer holds `was`.
pub fn replace(path: &Path, was: &str, text: &str) -> Result<()> {
    let target =
        fs::canonicalize(path).with_context(|| format!("cannot resolve {}", path.display()))?;
    let meta = fs::metadata(&target).with_context(|| format!("cannot read {}", path.display()))?;
    let dir = folder(&target);
    let temp = temp_file(dir, &target, text, meta.mode() & 0o7777)?;
    if let Err(e) = std::os::unix::fs::chown(temp.path(), Some(meta.uid()), Some(meta.gid())) {
        // Not root: the file stays ours, which is only right when it was.
        let ours = fs::metadata(temp.path()).map(|m| (m.uid(), m.gid()));
        if ours.ok() != Some((meta.uid(), meta.gid())) {
            return Err(e).with_context(|| {
                format!(
                    "cannot give the new {} its owner {}:{}",
                    path.display(),
                    meta.uid(),
                    meta.gid()
                )
            });
        }
    }
    let now =
        fs::read_to_string(&target).with_context(|| format!("cannot read {}", path.display()))?;
    if now != was {
        bail!(
            "{} changed while dum init ran; not overwritten (run it again)",
            path.display()
        );
    }
    temp.persist(&target)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    sync_dir(dir)
}

/// The directory holding `path` (`.` for a bare file name).
fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Creates `dir` and its missing parents, each [`DIR_MODE`] exactly; existing ones
/// are left as they are.
fn create_dirs(dir: &Path) -> Result<()> {
    let mut missing: Vec<PathBuf> = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at {
        if d.as_os_str().is_empty() || d.symlink_metadata().is_ok() {
            break;
        }
        missing.push(d.to_path_buf());
        at = d.parent();
    }
    for d in missing.iter().rev() {
        DirBuilder::new()
            .mode(DIR_MODE)
            .create(d)
            .and_then(|()| fs::set_permissions(d, Permissions::from_mode(DIR_MODE)))
            .with_context(|| format!("cannot create directory {}", d.display()))?;
    }
    Ok(())
}

/// A synced temp file in `dir` holding `text` with `mode`, named after `path` so a
/// leftover from a crash says what it was for.
fn temp_file(dir: &Path, path: &Path, text: &str, mode: u32) -> Result<tempfile::NamedTempFile> {
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(path.file_name().unwrap_or(path.as_os_str()));
    prefix.push(".");
    let mut temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    // Set after creation: the mode given at creation is narrowed by the umask.
    temp.write_all(text.as_bytes())
        .and_then(|()| temp.as_file().set_permissions(Permissions::from_mode(mode)))
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", temp.path().display()))?;
    Ok(temp)
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync directory {}", dir.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn a_new_file_and_its_directories_get_their_modes_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/config.json");
        create(&path, "{}\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{}\n");
        assert_eq!(mode(&path), FILE_MODE);
        assert_eq!(mode(&dir.path().join("a")), DIR_MODE);
        assert_eq!(mode(&dir.path().join("a/b")), DIR_MODE);
        // Never over an existing file.
        assert!(create(&path, "x").is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "{}\n");
        let left: Vec<_> = fs::read_dir(dir.path().join("a/b")).unwrap().collect();
        assert_eq!(left.len(), 1, "a temp file was left behind");
    }

    #[test]
    fn a_replaced_file_keeps_its_mode_and_refuses_a_changed_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        replace(&link, "old", "new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(mode(&path), 0o600);
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
        assert!(replace(&path, "old", "newer").is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
    }
}
