//! The entries a run works on: the file's (or, without one, discovery's), narrowed and
//! extended by the `dum.*` labels of the containers and of the Swarm services.
//!
//! Precedence, most specific first: a container's labels (a service's: its spec's
//! `Labels`), then the file's entry for it (by `container_name` or `service_name`, else
//! by image), then the defaults. A container or service with settings in its labels
//! gets an entry of its own (the file's entry for its image leaves it alone); one
//! labelled `dum.enable=false` is left alone by every entry and mode. A Swarm task's
//! own labels never count: its service's spec is what dum reads and updates.

use std::collections::BTreeSet;

use anyhow::{Result, anyhow, bail};

use crate::check::inventory::{self, SwarmTarget};
use crate::check::{ImageReport, discover};
use crate::config::labels::{self, LabelProblem, Labels};
use crate::config::{DEFAULT_BASE_TAG, ImageConfig};
use crate::docker::types::ContainerSummary;
use crate::image::reference::Reference;
use crate::swarm::service::Service;

/// The entries of a run and the rows its labels already decided.
#[derive(Debug, Default)]
pub struct Effective {
    /// Entries of labelled containers first, then of labelled services, then the
    /// file's (or discovered) ones.
    pub entries: Vec<ImageConfig>,
    /// One failed row per container or service whose labels are wrong, naming each
    /// label.
    pub failed: Vec<ImageReport>,
    /// Containers and services labelled `dum.enable=false`, by name.
    pub disabled: Vec<String>,
}

impl Effective {
    /// The failed rows of the containers and services `targets` name (all without
    /// targets), and the targets left for the entries. Naming one labelled
    /// `dum.enable=false` is an error: the label excludes it from every mode.
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

impl Effective {
    /// Whether a run with `file`'s entries, of which this is the effective set, already
    /// watches (or, for `dum.enable=false`, deliberately leaves alone) container `c`:
    /// an entry names it, its `dum.*` labels decide about it, or an entry for its
    /// image names no container (as `dum check` pairs them).
    pub fn covers(&self, file: &[ImageConfig], c: &ContainerSummary) -> bool {
        let name = c.name();
        self.entries
            .iter()
            .any(|e| e.container_name.as_deref() == Some(name))
            || self.disabled.iter().any(|d| d == name)
            || self
                .failed
                .iter()
                .any(|r| r.service.is_none() && r.container.as_deref() == Some(name))
            || Reference::parse(&c.image).is_ok_and(|r| image_entry(file, &r).is_some())
    }
}

/// What the labels of one container or service decided.
enum Decision {
    /// No `dum.*` labels, or `dum.enable=true` on one an entry of the file covers.
    Unlabelled,
    /// The labels are wrong: one problem each.
    Wrong(Vec<LabelProblem>),
    /// `dum.enable=false`.
    Disabled,
    /// An entry of its own: the file's (or discovered) entry with the labels applied.
    Own(Box<ImageConfig>),
}

/// Reads `found` labels of something running `reference` whose file entry is
/// `from_file`; `discovered` makes the entry when the file has none.
fn decide(
    found: &std::collections::BTreeMap<String, String>,
    reference: &Reference,
    from_file: Option<&ImageConfig>,
    discovered: impl FnOnce() -> Option<ImageConfig>,
) -> Decision {
    let labels: Labels = match labels::read(found, &reference.familiar_name()) {
        Ok(None) => return Decision::Unlabelled,
        Ok(Some(l)) => l,
        Err(problems) => return Decision::Wrong(problems),
    };
    if labels.enable == Some(false) {
        return Decision::Disabled;
    }
    if labels.keys.is_empty() && from_file.is_some() {
        // `dum.enable=true` on one an entry already covers.
        return Decision::Unlabelled;
    }
    let base = match from_file {
        Some(e) => e.clone(),
        None => match discovered() {
            Some(e) => e,
            None => return Decision::Unlabelled,
        },
    };
    Decision::Own(Box::new(labels.apply(base)))
}

/// The failed row of `name`'s wrong labels: `what` is `container` or `service`.
fn wrong(what: &str, name: &str, reference: &Reference, problems: &[LabelProblem]) -> ImageReport {
    let said: Vec<String> = problems
        .iter()
        .map(|p| format!("label {}: {}", p.label, p.message))
        .collect();
    let error = anyhow!("{what} {name}: {}", said.join("; "));
    ImageReport::failed(
        &reference.familiar_name(),
        DEFAULT_BASE_TAG,
        Some(name.to_string()),
        &error,
    )
}

/// Combines `file`'s entries (`None`: no configuration, discover every running
/// container) with the `dum.*` labels of `containers`, whose `image` must be the
/// reference each was created with ([`crate::check::inventory::with_references`]), and
/// of the Swarm `services` (the manager's; none elsewhere), read from each spec's
/// `Labels`.
pub fn effective(
    file: Option<&[ImageConfig]>,
    containers: &[ContainerSummary],
    services: &[Service],
) -> Effective {
    let mut own = Vec::new();
    let mut failed = Vec::new();
    let mut claimed = BTreeSet::new();
    let mut disabled = Vec::new();
    for c in containers {
        // A task's labels are its service's `--container-label`s and its image's, not
        // the service's settings.
        if inventory::is_task(c) {
            continue;
        }
        let Some(found) = c.labels.as_ref() else {
            continue;
        };
        let Ok(reference) = Reference::parse(&c.image) else {
            continue;
        };
        let name = c.name().to_string();
        let from_file = file.and_then(|entries| entry_of(entries, c, &reference));
        match decide(found, &reference, from_file, || {
            discover::entry_for_container(c)
        }) {
            Decision::Unlabelled => continue,
            Decision::Wrong(problems) => {
                failed.push(wrong("container", &name, &reference, &problems));
            }
            Decision::Disabled => disabled.push(name.clone()),
            Decision::Own(entry) => own.push(ImageConfig {
                container_name: Some(name.clone()),
                service_name: None,
                except: Vec::new(),
                except_services: Vec::new(),
                ..*entry
            }),
        }
        claimed.insert(name);
    }
    own.sort_by(|a, b| a.container_name.cmp(&b.container_name));
    let mut own_services = Vec::new();
    let mut claimed_services = BTreeSet::new();
    for s in services {
        let (image, _) = s.image_parts();
        let Ok(reference) = Reference::parse(image) else {
            continue;
        };
        let from_file = file.and_then(|entries| service_entry_of(entries, s, &reference));
        match decide(&s.labels, &reference, from_file, || {
            discover::entry_for_image(image)
        }) {
            Decision::Unlabelled => continue,
            Decision::Wrong(problems) => failed.push(ImageReport {
                service: Some(SwarmTarget::of(s)),
                ..wrong("service", &s.name, &reference, &problems)
            }),
            Decision::Disabled => disabled.push(s.name.clone()),
            Decision::Own(entry) => own_services.push(ImageConfig {
                container_name: None,
                service_name: Some(s.name.clone()),
                except: Vec::new(),
                except_services: Vec::new(),
                ..*entry
            }),
        }
        claimed_services.insert(s.name.clone());
    }
    own_services.sort_by(|a, b| a.service_name.cmp(&b.service_name));
    let rest: Vec<ImageConfig> = match file {
        Some(entries) => entries.to_vec(),
        None => discover::images(containers),
    };
    let mut entries = own;
    entries.extend(own_services);
    for mut entry in rest {
        match (&entry.container_name, &entry.service_name) {
            (Some(name), _) if claimed.contains(name) => continue,
            (_, Some(name)) if claimed_services.contains(name) => continue,
            (None, None) => {
                entry.except = claimed.iter().cloned().collect();
                entry.except_services = claimed_services.iter().cloned().collect();
            }
            _ => {}
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
/// that names no container (nor service).
fn entry_of<'a>(
    entries: &'a [ImageConfig],
    c: &ContainerSummary,
    reference: &Reference,
) -> Option<&'a ImageConfig> {
    entries
        .iter()
        .find(|e| e.container_name.as_deref() == Some(c.name()))
        .or_else(|| image_entry(entries, reference))
}

/// The file's entry for service `s`: the one whose `service_name` names it, else the
/// first for its image that names no container nor service.
fn service_entry_of<'a>(
    entries: &'a [ImageConfig],
    s: &Service,
    reference: &Reference,
) -> Option<&'a ImageConfig> {
    entries
        .iter()
        .find(|e| e.service_name.as_deref() == Some(s.name.as_str()))
        .or_else(|| image_entry(entries, reference))
}

/// The first entry for `reference`'s repository that names no container nor service.
fn image_entry<'a>(entries: &'a [ImageConfig], reference: &Reference) -> Option<&'a ImageConfig> {
    entries.iter().find(|e| {
        e.container_name.is_none()
            && e.service_name.is_none()
            && e.references().is_ok_and(|(r, _)| {
                r.registry == reference.registry && r.repository == reference.repository
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
        let got = effective(Some(&file), &containers, &[]);
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
    fn what_a_file_covers() {
        let file = [
            entry("r.io/app", None),
            entry("r.io/db", Some("db")),
            entry("r.io/pinned", Some("p")),
        ];
        let containers = [
            container("app1", "r.io/app:1.0.0", &[]),
            container(
                "app2",
                "r.io/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                &[],
            ),
            container("db", "r.io/db:15", &[]),
            container("db2", "r.io/db:15", &[]),
            container("off", "r.io/x:1", &[("dum.enable", "false")]),
            container("bad", "r.io/x:1", &[("dum.regex", "(")]),
            container("own", "r.io/x:1", &[("dum.regex", "^[0-9]+$")]),
            container("free", "r.io/x:1", &[]),
            container("other.io", "other.io/app:1", &[]),
        ];
        let want = [
            ("app1", true),
            ("app2", true),
            ("db", true),
            // The entry names another container of its image.
            ("db2", false),
            ("off", true),
            ("bad", true),
            ("own", true),
            ("free", false),
            // Same repository path, another registry.
            ("other.io", false),
        ];
        for (files, label) in [(&file[..], "file"), (&[][..], "no file")] {
            let got = effective(Some(files), &containers, &[]);
            for (c, (name, covered)) in containers.iter().zip(want) {
                let covered =
                    covered && (!files.is_empty() || ["off", "bad", "own"].contains(&name));
                assert_eq!(got.covers(files, c), covered, "{label}: {name}");
            }
        }
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
        let got = effective(Some(&file), &containers, &[]);
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
        let got = effective(None, &containers, &[]);
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

    fn service(name: &str, image: &str, labels: &[(&str, &str)]) -> Service {
        let labels: serde_json::Map<String, serde_json::Value> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        Service::from_json(&serde_json::json!({
            "ID": format!("id-{name}"), "Version": {"Index": 1},
            "Spec": {
                "Name": name, "Labels": labels,
                "TaskTemplate": {"ContainerSpec": {
                    "Image": image,
                    // The tasks' labels: never the service's settings.
                    "Labels": {"dum.keep_versions": "0"}
                }},
                "Mode": {"Replicated": {"Replicas": 1}}
            }
        }))
        .unwrap()
    }

    /// (entry image, its service_name, except_services, regex, grace) per entry.
    fn service_shape(
        e: &Effective,
    ) -> Vec<(String, Option<String>, Vec<String>, Option<String>, u64)> {
        e.entries
            .iter()
            .map(|e| {
                (
                    e.image.clone(),
                    e.service_name.clone(),
                    e.except_services.clone(),
                    e.regex.as_ref().map(|r| r.as_str().to_string()),
                    e.grace_seconds,
                )
            })
            .collect()
    }

    /// A service's spec labels work as a container's: its own entry (over the file's,
    /// field by field), excluded by `dum.enable=false`, a failed row when wrong; the
    /// labels of its task containers never count.
    #[test]
    fn service_spec_labels_work_as_container_labels() {
        type Shape = (String, Option<String>, Vec<String>, Option<String>, u64);
        struct Case {
            name: &'static str,
            file: Option<Vec<ImageConfig>>,
            services: Vec<Service>,
            containers: Vec<ContainerSummary>,
            want: Vec<Shape>,
            failed: Vec<(&'static str, &'static str)>,
            disabled: Vec<&'static str>,
        }
        let e =
            |image: &str, service: Option<&str>, except: &[&str], regex: Option<&str>, grace| {
                (
                    image.to_string(),
                    service.map(str::to_string),
                    except.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                    regex.map(str::to_string),
                    grace,
                )
            };
        let task = container(
            "web.1.abc",
            "r.io/app:1.0.0",
            &[
                ("com.docker.swarm.task.id", "t1"),
                ("com.docker.swarm.service.name", "web"),
                ("dum.keep_versions", "0"),
            ],
        );
        let cases = vec![
            Case {
                name: "no file: labels alone make the entry",
                file: None,
                services: vec![service(
                    "web",
                    "r.io/app:1.0.0@sha256:aa",
                    &[("dum.regex", "^[0-9.]+$")],
                )],
                containers: vec![task.clone()],
                want: vec![e("r.io/app", Some("web"), &[], Some("^[0-9.]+$"), 10)],
                failed: vec![],
                disabled: vec![],
            },
            Case {
                name: "labels win over the file's image entry, field by field",
                file: Some(vec![entry("r.io/app", None)]),
                services: vec![
                    service("web", "r.io/app:1.0.0", &[("dum.regex", "^1$")]),
                    service("api", "r.io/app:1.0.0", &[]),
                ],
                containers: vec![],
                want: vec![
                    e("r.io/app", Some("web"), &[], Some("^1$"), 42),
                    e("r.io/app", None, &["web"], None, 42),
                ],
                failed: vec![],
                disabled: vec![],
            },
            Case {
                name: "the file's service_name entry is the base; it yields to the labels",
                file: Some(vec![
                    ImageConfig {
                        service_name: Some("web".into()),
                        grace_seconds: 7,
                        ..ImageConfig::new("r.io/app")
                    },
                    entry("r.io/app", None),
                ]),
                services: vec![service(
                    "web",
                    "r.io/app:1.0.0",
                    &[("dum.health_timeout_seconds", "9")],
                )],
                containers: vec![],
                want: vec![
                    e("r.io/app", Some("web"), &[], None, 7),
                    e("r.io/app", None, &["web"], None, 42),
                ],
                failed: vec![],
                disabled: vec![],
            },
            Case {
                name: "dum.enable=false excludes it from the image entry",
                file: Some(vec![entry("r.io/app", None)]),
                services: vec![service("web", "r.io/app:1", &[("dum.enable", "false")])],
                containers: vec![],
                want: vec![e("r.io/app", None, &["web"], None, 42)],
                failed: vec![],
                disabled: vec!["web"],
            },
            Case {
                name: "dum.enable=true on a covered service changes nothing",
                file: Some(vec![entry("r.io/app", None)]),
                services: vec![service("web", "r.io/app:1", &[("dum.enable", "true")])],
                containers: vec![],
                want: vec![e("r.io/app", None, &[], None, 42)],
                failed: vec![],
                disabled: vec![],
            },
            Case {
                name: "dum.enable=true on an uncovered service watches its own tag",
                file: Some(vec![]),
                services: vec![service("web", "r.io/app:1.2.3", &[("dum.enable", "true")])],
                containers: vec![],
                want: vec![e(
                    "r.io/app",
                    Some("web"),
                    &[],
                    Some(r"^[0-9]+\.[0-9]+\.[0-9]+$"),
                    10,
                )],
                failed: vec![],
                disabled: vec![],
            },
            Case {
                name: "a bad label fails that service's row alone",
                file: Some(vec![entry("r.io/app", None)]),
                services: vec![
                    service("bad", "r.io/app:1", &[("dum.keep_versions", "0")]),
                    service("good", "r.io/app:1", &[]),
                ],
                containers: vec![],
                want: vec![e("r.io/app", None, &["bad"], None, 42)],
                failed: vec![(
                    "bad",
                    "service bad: label dum.keep_versions: must be at least 1, found 0",
                )],
                disabled: vec![],
            },
            Case {
                name: "a container and a service of one name are told apart",
                file: Some(vec![entry("r.io/app", None)]),
                services: vec![service("web", "r.io/app:1", &[("dum.enable", "false")])],
                containers: vec![container("web", "r.io/app:1", &[("dum.regex", "^2$")])],
                want: vec![
                    e("r.io/app", None, &[], Some("^2$"), 42),
                    e("r.io/app", None, &["web"], None, 42),
                ],
                failed: vec![],
                disabled: vec!["web"],
            },
            Case {
                name: "without labels, services stay with the file",
                file: Some(vec![entry("r.io/app", None)]),
                services: vec![service("web", "r.io/app:1", &[("com.example", "x")])],
                containers: vec![task],
                want: vec![e("r.io/app", None, &[], None, 42)],
                failed: vec![],
                disabled: vec![],
            },
        ];
        for case in cases {
            let got = effective(case.file.as_deref(), &case.containers, &case.services);
            assert_eq!(service_shape(&got), case.want, "{}", case.name);
            let failed: Vec<(String, String)> = got
                .failed
                .iter()
                .map(|r| {
                    assert_eq!(r.status, Status::Failed, "{}", case.name);
                    assert!(r.service.is_some(), "{}: a service row", case.name);
                    (r.container.clone().unwrap(), r.error.clone().unwrap())
                })
                .collect();
            let want: Vec<(String, String)> = case
                .failed
                .iter()
                .map(|(n, e)| (n.to_string(), e.to_string()))
                .collect();
            assert_eq!(failed, want, "{}", case.name);
            assert_eq!(got.disabled, case.disabled, "{}", case.name);
        }
    }

    /// Labelled containers' entries come first, then labelled services', then the
    /// file's; the container's and service's `except` lists stay apart.
    #[test]
    fn containers_and_services_both_claim_from_the_image_entry() {
        let file = [entry("r.io/app", None)];
        let containers = [container("c1", "r.io/app:1", &[("dum.regex", "^c$")])];
        let services = [service("s1", "r.io/app:1", &[("dum.regex", "^s$")])];
        let got = effective(Some(&file), &containers, &services);
        let order: Vec<(Option<&str>, Option<&str>)> = got
            .entries
            .iter()
            .map(|e| (e.container_name.as_deref(), e.service_name.as_deref()))
            .collect();
        assert_eq!(
            order,
            [(Some("c1"), None), (None, Some("s1")), (None, None)]
        );
        assert_eq!(got.entries[1].origin.label_keys, ["regex"]);
        assert_eq!(got.entries[2].except, ["c1"]);
        assert_eq!(got.entries[2].except_services, ["s1"]);
    }
}
