//! The edit that moves a pinned service to another tag: found in the project's files
//! (the last compose file that sets the service's image, or the env file that sets
//! the variable its tag is), written byte for byte (only the tag changes), atomically,
//! with the file's owner and mode kept.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::compose::envfile;
use crate::compose::file::{self, ImageSite};
use crate::compose::service::Service;

/// One file's change: its whole text before and after (compose files are small, and
/// the journal then restores the exact bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    /// The file changed: a compose file, or the env file that sets the tag's variable.
    pub path: PathBuf,
    /// Its text before.
    pub old_text: String,
    /// Its text after.
    pub new_text: String,
}

impl Edit {
    /// The unified diff of the edit.
    pub fn diff(&self) -> String {
        file::diff(
            &self.path.display().to_string(),
            &self.old_text,
            &self.new_text,
        )
    }
}

/// How a service that its compose file pins to a tag can be moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// By this edit.
    Editable {
        /// The compose file that pins it.
        file: PathBuf,
        /// The change (of that file or of an env file).
        edit: Edit,
    },
    /// A file of the project cannot be read here.
    Unreadable {
        /// The file.
        file: PathBuf,
    },
    /// The files pin it in a way dum does not edit.
    Uneditable {
        /// The compose file that pins it.
        file: PathBuf,
        /// Why.
        reason: String,
    },
}

impl Pin {
    /// The compose file that pins the service.
    pub fn file(&self) -> &Path {
        match self {
            Pin::Editable { file, .. }
            | Pin::Unreadable { file }
            | Pin::Uneditable { file, .. } => file,
        }
    }

    /// Why the service cannot be moved, for the report; `None` when it can.
    pub fn problem(&self) -> Option<String> {
        match self {
            Pin::Editable { .. } => None,
            Pin::Unreadable { file } => Some(format!(
                "pinned by compose file {} (not readable): skipped",
                file.display()
            )),
            Pin::Uneditable { file, reason } => Some(format!(
                "cannot edit, pinned by {}: {reason}",
                file.display()
            )),
        }
    }
}

/// Where `service`'s files pin its image, and the edit that writes `new_tag` there.
pub fn find(service: &Service, new_tag: &str) -> Pin {
    let last = service.config_files.last().cloned().unwrap_or_default();
    for path in service.config_files.iter().rev() {
        let Ok(text) = fs::read_to_string(path) else {
            return Pin::Unreadable { file: path.clone() };
        };
        let site = match file::locate(&text, &service.service) {
            Ok(site) => site,
            Err(e) => {
                return Pin::Uneditable {
                    file: path.clone(),
                    reason: e,
                };
            }
        };
        return match site {
            ImageSite::Absent => continue,
            ImageSite::Literal { tag, .. } => Pin::Editable {
                file: path.clone(),
                edit: Edit {
                    path: path.clone(),
                    new_text: file::replace(&text, tag, new_tag),
                    old_text: text,
                },
            },
            ImageSite::Variable { name, .. } => match shared_variable(service, &name) {
                Some(reason) => Pin::Uneditable {
                    file: path.clone(),
                    reason,
                },
                None => in_env_file(service, path, &name, new_tag),
            },
            ImageSite::Uneditable { value, reason } => Pin::Uneditable {
                file: path.clone(),
                reason: if value.is_empty() {
                    reason
                } else {
                    format!("image {value}: {reason}")
                },
            },
        };
    }
    Pin::Uneditable {
        file: last,
        reason: format!(
            "no compose file of the project sets the image of {} (extends?)",
            service.service
        ),
    }
}

/// Why editing the variable `name` would change more than this service's tag: it is
/// used more than once in the project's compose files (another service's image, an
/// environment value, …), each of which the edit would move too. Cautious: a use in a
/// comment counts.
fn shared_variable(service: &Service, name: &str) -> Option<String> {
    let mut uses = Vec::new();
    for path in &service.config_files {
        let Ok(text) = fs::read_to_string(path) else {
            continue;
        };
        uses.extend(
            variable_lines(&text, name)
                .into_iter()
                .map(|line| format!("{}:{line}", path.display())),
        );
    }
    (uses.len() > 1).then(|| {
        format!(
            "its tag is ${{{name}}}, which the project's files use {} times ({}): editing it would move them all",
            uses.len(),
            uses.join(", ")
        )
    })
}

/// The 1-based lines of `text` that use the variable `name` (`$NAME` or `${NAME…}`;
/// `$$` is compose's escaped dollar, not a use).
fn variable_lines(text: &str, name: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let is_name_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut lines = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) == Some(&b'$') {
            i += 2;
            continue;
        }
        let braced = bytes.get(i + 1) == Some(&b'{');
        let start = i + 1 + usize::from(braced);
        let end = start + name.len();
        let named = bytes.get(start..end) == Some(name.as_bytes());
        let ends = match bytes.get(end) {
            None => !braced,
            Some(&b) if braced => matches!(b, b'}' | b':' | b'-' | b'?' | b'+'),
            Some(&b) => !is_name_byte(b),
        };
        if named && ends {
            lines.push(text[..i].matches('\n').count() + 1);
        }
        i += 1;
    }
    lines
}

/// The edit of the env file that sets `name`: the project's env files from the last,
/// else its `.env`.
fn in_env_file(service: &Service, compose_file: &Path, name: &str, new_tag: &str) -> Pin {
    let mut candidates: Vec<PathBuf> = service.env_files.iter().rev().cloned().collect();
    if candidates.is_empty()
        && let Some(dir) = &service.working_dir
    {
        candidates.push(dir.join(".env"));
    }
    for path in candidates {
        let Ok(text) = fs::read_to_string(&path) else {
            if path.exists() {
                return Pin::Unreadable { file: path };
            }
            continue;
        };
        match envfile::locate(&text, name) {
            Ok(None) => continue,
            Ok(Some(span)) => {
                return Pin::Editable {
                    file: compose_file.to_path_buf(),
                    edit: Edit {
                        path,
                        new_text: file::replace(&text, span, new_tag),
                        old_text: text,
                    },
                };
            }
            Err(reason) => {
                return Pin::Uneditable {
                    file: compose_file.to_path_buf(),
                    reason: format!("${{{name}}} in {}: {reason}", path.display()),
                };
            }
        }
    }
    Pin::Uneditable {
        file: compose_file.to_path_buf(),
        reason: format!("its tag is ${{{name}}}, which no env file of the project sets"),
    }
}

/// Writes `to` over the file of `edit` if it holds `from` (the edit's old or new
/// text); does nothing if it already holds `to`. Refuses when the file holds anything
/// else: someone changed it meanwhile, and their change is not dum's to overwrite.
pub fn swap(edit: &Edit, from: &str, to: &str) -> Result<()> {
    let now = fs::read_to_string(&edit.path)
        .with_context(|| format!("cannot read {}", edit.path.display()))?;
    if now == to {
        return Ok(());
    }
    if now != from {
        bail!(
            "{} changed since dum read it; not overwritten",
            edit.path.display()
        );
    }
    write_preserving(&edit.path, to)
}

/// Replaces `path`'s content atomically: a temp file in the same directory with the
/// file's mode and owner, synced, renamed over it.
pub fn write_preserving(path: &Path, text: &str) -> Result<()> {
    let meta = fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".dum-edit-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| {
            fs::set_permissions(
                tmp.path(),
                fs::Permissions::from_mode(meta.permissions().mode()),
            )
        })
        .with_context(|| format!("cannot write a new {}", path.display()))?;
    if let Err(e) = std::os::unix::fs::chown(tmp.path(), Some(meta.uid()), Some(meta.gid())) {
        // Not root: the file stays ours, which is only right when it was.
        let ours = fs::metadata(tmp.path()).map(|m| (m.uid(), m.gid()));
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
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("cannot write a new {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn service(dir: &Path, files: &[&str], env_files: &[&str]) -> Service {
        let mut labels = BTreeMap::new();
        labels.insert("com.docker.compose.project".to_string(), "p".to_string());
        labels.insert("com.docker.compose.service".to_string(), "app".to_string());
        let mut s = Service::from_labels(&labels).unwrap();
        s.working_dir = Some(dir.to_path_buf());
        s.config_files = files.iter().map(|f| dir.join(f)).collect();
        s.env_files = env_files.iter().map(|f| dir.join(f)).collect();
        s
    }

    #[test]
    fn uses_of_a_variable_are_found_by_line() {
        let cases: &[(&str, &[usize])] = &[
            ("image: r/app:${TAG}\n", &[1]),
            ("image: r/app:$TAG\n", &[1]),
            (
                "image: r/app:${TAG:-1.0}\nx: ${TAG-2}\ny: ${TAG?no}\n",
                &[1, 2, 3],
            ),
            ("a: ${TAG}\nb: ${TAGS}\nc: $TAGX\nd: ${XTAG}\n", &[1]),
            ("a: $$TAG\nb: $${TAG}\nc: $$$TAG\n", &[3]),
            ("a: ${TAG}-$TAG.x\n", &[1, 1]),
            ("a: $TAG", &[1]),
            ("a: ${TAG", &[]),
            ("# uses ${TAG}\na: b\n", &[1]),
        ];
        for (text, want) in cases {
            assert_eq!(variable_lines(text, "TAG"), *want, "{text:?}");
        }
    }

    #[test]
    fn a_variable_other_services_use_is_not_edited() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join(".env"), "TAG=1.0\n").unwrap();
        let shared =
            "services:\n  app:\n    image: r/app:${TAG}\n  worker:\n    image: r/worker:${TAG}\n";
        let alone =
            "services:\n  app:\n    image: r/app:${TAG}\n  worker:\n    image: r/worker:${OTHER}\n";
        let in_override = "services:\n  worker:\n    environment:\n      V: ${TAG:-x}\n";
        let cases: &[(&[(&str, &str)], Option<&str>)] = &[
            (&[("a.yaml", alone)], None),
            (&[("a.yaml", shared)], Some("a.yaml:3, ")),
            (
                &[("a.yaml", alone), ("b.yaml", in_override)],
                Some("b.yaml:4"),
            ),
        ];
        for (files, refused) in cases {
            for (name, text) in *files {
                fs::write(d.join(name), text).unwrap();
            }
            let names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
            let pin = find(&service(d, &names, &[]), "2.0");
            match refused {
                None => assert!(matches!(pin, Pin::Editable { .. }), "{pin:?}"),
                Some(place) => {
                    let problem = pin.problem().unwrap();
                    assert!(
                        problem.contains("editing it would move them all"),
                        "{problem}"
                    );
                    assert!(problem.contains(place), "{problem}");
                }
            }
        }
    }

    #[test]
    fn the_last_file_that_sets_the_image_is_edited() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(
            d.join("a.yaml"),
            "services:\n  app:\n    image: r/app:1.0\n",
        )
        .unwrap();
        fs::write(
            d.join("b.yaml"),
            "services:\n  app:\n    image: 'r/app:1.0' # b\n",
        )
        .unwrap();
        fs::write(d.join("c.yaml"), "services:\n  app:\n    restart: always\n").unwrap();
        let pin = find(&service(d, &["a.yaml", "b.yaml", "c.yaml"], &[]), "2.0");
        let Pin::Editable { file, edit } = pin else {
            panic!("{pin:?}")
        };
        assert_eq!(file, d.join("b.yaml"));
        assert_eq!(edit.path, d.join("b.yaml"));
        assert_eq!(
            edit.new_text,
            "services:\n  app:\n    image: 'r/app:2.0' # b\n"
        );
    }

    #[test]
    fn a_variable_tag_is_edited_in_the_env_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(
            d.join("compose.yaml"),
            "services:\n  app:\n    image: r/app:${APP_TAG:-1.0}\n",
        )
        .unwrap();
        fs::write(d.join(".env"), "# tags\nAPP_TAG=1.0 # pinned\nOTHER=1\n").unwrap();
        let pin = find(&service(d, &["compose.yaml"], &[]), "1.1");
        let Pin::Editable { file, edit } = pin else {
            panic!("{pin:?}")
        };
        assert_eq!(file, d.join("compose.yaml"));
        assert_eq!(edit.path, d.join(".env"));
        assert_eq!(edit.new_text, "# tags\nAPP_TAG=1.1 # pinned\nOTHER=1\n");
        // Not set anywhere: not editable, and said why.
        fs::write(d.join(".env"), "OTHER=1\n").unwrap();
        let pin = find(&service(d, &["compose.yaml"], &[]), "1.1");
        assert!(
            pin.problem()
                .unwrap()
                .contains("no env file of the project sets"),
            "{pin:?}"
        );
    }

    #[test]
    fn unreadable_and_uneditable_files_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let pin = find(&service(d, &["gone.yaml"], &[]), "2.0");
        assert_eq!(
            pin.problem().unwrap(),
            format!(
                "pinned by compose file {} (not readable): skipped",
                d.join("gone.yaml").display()
            )
        );
        fs::write(
            d.join("compose.yaml"),
            "services:\n  app:\n    image: r/app@sha256:ab\n",
        )
        .unwrap();
        let pin = find(&service(d, &["compose.yaml"], &[]), "2.0");
        assert!(
            pin.problem().unwrap().contains("pinned by digest"),
            "{pin:?}"
        );
    }

    #[test]
    fn writes_keep_mode_and_refuse_foreign_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("compose.yaml");
        fs::write(&path, "a: 1\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let edit = Edit {
            path: path.clone(),
            old_text: "a: 1\n".into(),
            new_text: "a: 2\n".into(),
        };
        swap(&edit, &edit.old_text, &edit.new_text).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "a: 2\n");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
        // Again: already done.
        swap(&edit, &edit.old_text, &edit.new_text).unwrap();
        // Back.
        swap(&edit, &edit.new_text, &edit.old_text).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "a: 1\n");
        // Someone else's change is kept.
        fs::write(&path, "a: 3\n").unwrap();
        assert!(swap(&edit, &edit.old_text, &edit.new_text).is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "a: 3\n");
        let leftovers = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temp files left");
    }
}
