//! The entries a run works on: the file's (or, without one, discovery's), narrowed and
//! extended by the containers' `dum.*` labels.
//!
//! Precedence, most specific first: a container's labels, then the file's entry for it
//! (by `container_name`, else by image), then the defaults. A container with settings
//! in its labels gets an entry of its own (the file's entry for its image leaves it
//! alone); one labelled `dum.enable=false` is left alone by every entry and mode.

use std::collections::BTreeSet;

use anyhow::{Result, anyhow, bail};

use crate::check::{ImageReport, discover};
use crate::config::labels;
use crate::config::{DEFAULT_BASE_TAG, ImageConfig};
use crate::docker::types::ContainerSummary;
use crate::image::reference::Reference;

/// The entries of a run and the rows its labels already decided.
#[derive(Debug, Default)]
pub struct Effective {
    /// Entries of labelled containers first, then the file's (or discovered) ones.
    pub entries: Vec<ImageConfig>,
    /// One failed row per container whose labels are wrong, naming each label.
    pub failed: Vec<ImageReport>,
    /// Containers labelled `dum.enable=false`.
    pub disabled: Vec<String>,
}

impl Effective {
    /// The failed rows of the containers `targets` name (all without targets), and the
    /// targets left for the entries. Naming a container labelled `dum.enable=false` is
    /// an error: the label excludes it from every mode.
    pub fn failed_for(&self, targets: &[String]) -> Result<(Vec<ImageReport>, Vec<String>)> {
        if let Some(t) = targets.iter().find(|t| self.disabled.contains(t)) {
            bail!(
                "{t} is labelled dum.enable=false: dum leaves it alone (remove the label to check or update it)"
            );
        }
        if targets.is_empty() {
            return Ok((self.failed.clone(), Vec::new()));
        }
        let named = |r: &ImageReport| r.container.as_ref().is_some_and(|c| targets.contains(c));
        let rows: Vec<ImageReport> = self.failed.iter().filter(|r| named(r)).cloned().collect();
        let rest = targets
            .iter()
            .filter(|t| !rows.iter().any(|r| r.container.as_ref() == Some(t)))
            .cloned()
            .collect();
        Ok((rows, rest))
    }
}

/// Combines `file`'s entries (`None`: no configuration, discover every running
/// container) with the `dum.*` labels of `containers`, whose `image` must be the
/// reference each was created with ([`crate::check::inventory::with_references`]).
pub fn effective(file: Option<&[ImageConfig]>, containers: &[ContainerSummary]) -> Effective {
    let mut own = Vec::new();
    let mut failed = Vec::new();
    let mut claimed = BTreeSet::new();
    let mut disabled = Vec::new();
    for c in containers {
        let Some(found) = c.labels.as_ref() else {
            continue;
        };
        let Ok(reference) = Reference::parse(&c.image) else {
            continue;
        };
        let name = c.name().to_string();
        match labels::read(found, &reference.familiar_name()) {
            Ok(None) => {}
            Err(problems) => {
                let said: Vec<String> = problems
                    .iter()
                    .map(|p| format!("label {}: {}", p.label, p.message))
                    .collect();
                let error = anyhow!("container {name}: {}", said.join("; "));
                failed.push(ImageReport::failed(
                    &reference.familiar_name(),
                    DEFAULT_BASE_TAG,
                    Some(name.clone()),
                    &error,
                ));
                claimed.insert(name);
            }
            Ok(Some(l)) if l.enable == Some(false) => {
                disabled.push(name.clone());
                claimed.insert(name);
            }
            Ok(Some(l)) => {
                let from_file = file.and_then(|entries| entry_of(entries, c, &reference));
                if l.keys.is_empty() && from_file.is_some() {
                    // `dum.enable=true` on a container an entry already covers.
                    continue;
                }
                let base = match from_file {
                    Some(e) => e.clone(),
                    None => match discover::entry_for_container(c) {
                        Some(e) => e,
                        None => continue,
                    },
                };
                own.push(l.apply(ImageConfig {
                    container_name: Some(name.clone()),
                    service_name: None,
                    except: Vec::new(),
                    ..base
                }));
                claimed.insert(name);
            }
        }
    }
    own.sort_by(|a, b| a.container_name.cmp(&b.container_name));
    let rest: Vec<ImageConfig> = match file {
        Some(entries) => entries.to_vec(),
        None => discover::images(containers),
    };
    let mut entries = own;
    for mut entry in rest {
        match &entry.container_name {
            Some(name) if claimed.contains(name) => continue,
            Some(_) => {}
            None => entry.except = claimed.iter().cloned().collect(),
        }
        entries.push(entry);
    }
    Effective {
        entries,
        failed,
        disabled,
    }
}

/// The file's entry for container `c`: the one naming it, else the first for its image
/// that names no container.
fn entry_of<'a>(
    entries: &'a [ImageConfig],
    c: &ContainerSummary,
    reference: &Reference,
) -> Option<&'a ImageConfig> {
    entries
        .iter()
        .find(|e| e.container_name.as_deref() == Some(c.name()))
        .or_else(|| {
            entries.iter().find(|e| {
                e.container_name.is_none()
                    && e.references().is_ok_and(|(r, _)| {
                        r.registry == reference.registry && r.repository == reference.repository
                    })
            })
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::check::Status;
    use std::collections::BTreeMap;

    fn container(name: &str, image: &str, labels: &[(&str, &str)]) -> ContainerSummary {
        ContainerSummary {
            id: format!("id-{name}"),
            names: vec![format!("/{name}")],
            image: image.into(),
            image_id: "sha256:1".into(),
            state: "running".into(),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            ),
        }
    }

    fn entry(image: &str, container: Option<&str>) -> ImageConfig {
        ImageConfig {
            container_name: container.map(str::to_string),
            service_name: None,
            grace_seconds: 42,
            ..ImageConfig::new(image)
        }
    }

    /// (entry image, its container_name, except, regex, grace) per entry.
    fn shape(e: &Effective) -> Vec<(String, Option<String>, Vec<String>, Option<String>, u64)> {
        e.entries
            .iter()
            .map(|e| {
                (
                    e.image.clone(),
                    e.container_name.clone(),
                    e.except.clone(),
                    e.regex.as_ref().map(|r| r.as_str().to_string()),
                    e.grace_seconds,
                )
            })
            .collect()
    }

    #[test]
    fn labels_narrow_and_extend_the_file() {
        let file = [entry("r.io/app", None), entry("r.io/db", Some("db"))];
        let containers = [
            // Covered by the file's image entry, with its own regex.
            container("app1", "r.io/app:1.0.0", &[("dum.regex", "^[0-9.]+$")]),
            // Covered by the file, no labels: stays with the image entry.
            container("app2", "r.io/app:1.0.0", &[]),
            // Excluded everywhere.
            container("app3", "r.io/app:1.0.0", &[("dum.enable", "false")]),
            // Not in the file: labels alone make its entry.
            container("web", "r.io/web:2.1", &[("dum.regex", "^[0-9]+\\.[0-9]+$")]),
            // Named by the file, labelled: the labels win field by field.
            container("db", "r.io/db:15", &[("dum.grace_seconds", "5")]),
            // Not in the file, no labels: not watched.
            container("other", "r.io/other:1", &[]),
        ];
        let got = effective(Some(&file), &containers);
        assert!(got.failed.is_empty());
        assert_eq!(
            shape(&got),
            [
                (
                    "r.io/app".into(),
                    Some("app1".into()),
                    vec![],
                    Some("^[0-9.]+$".into()),
                    42
                ),
                ("r.io/db".into(), Some("db".into()), vec![], None, 5),
                (
                    "r.io/web".into(),
                    Some("web".into()),
                    vec![],
                    Some("^[0-9]+\\.[0-9]+$".into()),
                    10
                ),
                (
                    "r.io/app".into(),
                    None,
                    vec!["app1".into(), "app3".into(), "db".into(), "web".into()],
                    None,
                    42
                ),
            ]
        );
        assert_eq!(got.entries[0].origin.label_keys, ["regex"]);
        assert!(got.entries[2].origin.discovered);
    }

    #[test]
    fn a_container_with_bad_labels_fails_alone() {
        let file = [entry("r.io/app", None)];
        let containers = [
            container(
                "bad",
                "r.io/app:1",
                &[("dum.keep_versions", "x"), ("dum.regex", "(")],
            ),
            container("good", "r.io/app:1", &[]),
        ];
        let got = effective(Some(&file), &containers);
        assert_eq!(got.failed.len(), 1);
        let row = &got.failed[0];
        assert_eq!(row.status, Status::Failed);
        assert_eq!(row.container.as_deref(), Some("bad"));
        let error = row.error.as_deref().unwrap();
        assert!(
            error.starts_with("container bad: label dum.keep_versions: must be a whole number"),
            "{error}"
        );
        assert!(
            error.contains("label dum.regex: invalid regular expression"),
            "{error}"
        );
        // The image entry leaves it alone; the good one is still checked.
        assert_eq!(got.entries.len(), 1);
        assert_eq!(got.entries[0].except, ["bad"]);
        let (rows, rest) = got.failed_for(&["bad".into(), "good".into()]).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rest, ["good"]);
    }

    #[test]
    fn without_a_file_labels_refine_discovery() {
        let containers = [
            container("a", "r.io/a:1.2.3", &[("dum.auto_update", "true")]),
            container("b", "r.io/b:1.2.3", &[("dum.enable", "false")]),
            container("c", "r.io/c:1.2.3", &[]),
        ];
        let got = effective(None, &containers);
        let names: Vec<(Option<&str>, bool)> = got
            .entries
            .iter()
            .map(|e| (e.container_name.as_deref(), e.auto_update))
            .collect();
        assert_eq!(names, [(Some("a"), true), (Some("c"), false)]);
        assert_eq!(got.disabled, ["b"]);
        let error = got.failed_for(&["b".into()]).unwrap_err().to_string();
        assert!(error.contains("b is labelled dum.enable=false"), "{error}");
    }
}
