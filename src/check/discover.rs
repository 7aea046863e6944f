//! The out-of-the-box job: with no configuration, every running container is checked
//! against its own tag, with a version regex proposed from that tag's shape; and the
//! entries `dum init` proposes for running containers from their repositories' tags.

use anyhow::{Result, anyhow};
use serde::Serialize;

use crate::config::ImageConfig;
use crate::docker::types::ContainerSummary;
use crate::image::propose;
use crate::image::reference::Reference;

/// An image entry for one running container, or `None` when it was not started from a
/// registry reference (an image ID).
pub fn entry_for(container: &ContainerSummary) -> Option<ImageConfig> {
    // A Swarm task belongs to its service, which a manager checks as one row.
    if container.state != "running" || crate::check::inventory::is_task(container) {
        return None;
    }
    entry_for_container(container)
}

/// [`entry_for`] whatever the container's state: a container its labels ask to watch
/// is watched stopped too.
pub fn entry_for_container(container: &ContainerSummary) -> Option<ImageConfig> {
    if container.image.starts_with("sha256:") {
        return None;
    }
    Some(ImageConfig {
        container_name: Some(container.name().to_string()),
        ..entry_for_image(&container.image)?
    })
}

/// An entry following `image` (`repo:tag`, as a container was created from or a Swarm
/// service's spec names it) against its own tag, naming no container; `None` when it
/// has no tag to follow.
pub fn entry_for_image(image: &str) -> Option<ImageConfig> {
    let reference = Reference::parse(image).ok()?;
    if reference.tag.is_none() && reference.digest.is_some() {
        // Pinned by digest: there is no tag to follow.
        return None;
    }
    let tag = reference.tag_or_latest().to_string();
    let regex = propose::shape_of(&tag).and_then(|r| regex::Regex::new(&r).ok());
    let base_tag = if regex.is_some() {
        crate::config::DEFAULT_BASE_TAG.to_string()
    } else {
        tag
    };
    Some(ImageConfig {
        regex,
        base_tag,
        origin: crate::config::Origin {
            discovered: true,
            ..Default::default()
        },
        ..ImageConfig::new(reference.familiar_name())
    })
}

/// Entries for every running container, by container name.
pub fn images(containers: &[ContainerSummary]) -> Vec<ImageConfig> {
    let mut found: Vec<ImageConfig> = containers.iter().filter_map(entry_for).collect();
    found.sort_by(|a, b| a.container_name.cmp(&b.container_name));
    found
}

/// Keeps the entries whose container, Swarm service or image the targets name.
pub fn select(found: Vec<ImageConfig>, targets: &[String]) -> Result<Vec<ImageConfig>> {
    if targets.is_empty() {
        return Ok(found);
    }
    for t in targets {
        if !found.iter().any(|f| names(f, t)) {
            return Err(anyhow!(
                "{t} is not a running container (and there is no configuration file)"
            ));
        }
    }
    Ok(found
        .into_iter()
        .filter(|f| targets.iter().any(|t| names(f, t)))
        .collect())
}

/// Whether target `t` names entry `f`: its container, its Swarm service (an entry from
/// a service's labels) or its image.
fn names(f: &ImageConfig, t: &str) -> bool {
    f.container_name.as_deref() == Some(t) || f.service_name.as_deref() == Some(t) || f.image == t
}

/// A configuration file matching the discovered entries, ready to edit.
pub fn suggested_config(images: &[ImageConfig]) -> String {
    let entries: Vec<serde_json::Value> = images
        .iter()
        .map(|i| {
            let mut e = match &i.service_name {
                Some(service) => serde_json::json!({"image": i.image, "service_name": service}),
                None => serde_json::json!({"image": i.image, "container_name": i.container_name}),
            };
            if let Some(r) = &i.regex {
                e["regex"] = serde_json::Value::String(r.as_str().to_string());
            } else {
                e["base_tag"] = serde_json::Value::String(i.base_tag.clone());
            }
            e
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({"images": entries})).unwrap_or_default()
}

/// An entry `dum init` proposes for one running container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proposed {
    /// The container's name (`container_name`).
    pub container: String,
    /// The repository (`image`), as the engine names it.
    pub image: String,
    /// The tag the container runs.
    pub tag: String,
    /// The version regex proposed.
    pub regex: String,
    /// The base tag: the tag it runs when that is no version, else the default.
    pub base_tag: String,
    /// How many of the repository's tags the regex matches.
    pub matches: usize,
    /// The newest of them.
    pub newest: String,
}

/// Why `dum init` proposes no entry for a running container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unproposed {
    /// It was created from a digest: there is no tag to follow.
    DigestOnly,
    /// Its repository has no version-like tag to write a regex for.
    NoVersionTags,
    /// Its repository's tags could not be listed.
    TagsUnavailable,
}

/// A running container `dum init` proposes no entry for, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unproposable {
    /// The container's name.
    pub container: String,
    /// The image it runs, as it was created from.
    pub image: String,
    /// Why, for scripts.
    pub reason: Unproposed,
    /// Why, one line for people, with what to do.
    pub message: String,
}

/// The repository whose tags decide `c`'s entry, or why it gets none (created from a
/// digest, or from an image ID).
pub fn repository_for_init(c: &ContainerSummary) -> Result<Reference, Unproposable> {
    let unproposable = |message: String| Unproposable {
        container: c.name().to_string(),
        image: c.image.clone(),
        reason: Unproposed::DigestOnly,
        message,
    };
    let image_id = || {
        unproposable("created from an image ID, not a repository: there is no tag to follow".into())
    };
    if c.image.starts_with("sha256:") {
        return Err(image_id());
    }
    let reference = Reference::parse(&c.image).map_err(|_| image_id())?;
    if reference.tag.is_none() && reference.digest.is_some() {
        return Err(unproposable(format!(
            "created from a digest: there is no tag to follow (recreate it from a tag of {}, or write its entry by hand)",
            reference.familiar_name()
        )));
    }
    Ok(reference)
}

/// The entry for container `c`, running `reference`, whose repository has `tags`: the
/// regex of its own tag's shape, or the repository's best one (see
/// [`propose::for_tag`]); the base tag is its tag when that is no version.
pub fn proposal(
    c: &ContainerSummary,
    reference: &Reference,
    tags: &[String],
) -> Result<Proposed, Unproposable> {
    let tag = reference.tag_or_latest();
    let Some(p) = propose::for_tag(tag, tags) else {
        return Err(Unproposable {
            container: c.name().to_string(),
            image: c.image.clone(),
            reason: Unproposed::NoVersionTags,
            message: format!(
                "{} has no version-like tag to write a regex for; an entry without one follows {tag} by digest: {}",
                reference.familiar_name(),
                serde_json::json!({"image": reference.familiar_name(), "container_name": c.name(), "base_tag": tag})
            ),
        });
    };
    let own = propose::shape_of(tag).as_deref() == Some(p.regex.as_str());
    Ok(Proposed {
        container: c.name().to_string(),
        image: reference.familiar_name(),
        tag: tag.to_string(),
        base_tag: if own {
            crate::config::DEFAULT_BASE_TAG.to_string()
        } else {
            tag.to_string()
        },
        regex: p.regex,
        matches: p.matches,
        newest: p.newest,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn summary(image: &str, state: &str) -> ContainerSummary {
        ContainerSummary {
            id: "id".into(),
            names: vec!["/web".into()],
            image: image.into(),
            image_id: "sha256:x".into(),
            state: state.into(),
            labels: None,
        }
    }

    #[test]
    fn entries_follow_the_containers_tag() {
        let cases: &[(&str, &str, Option<(&str, Option<&str>, &str)>)] = &[
            ("nginx", "running", Some(("nginx", None, "latest"))),
            (
                "nginx:1.25.3",
                "running",
                Some(("nginx", Some(r"^[0-9]+\.[0-9]+\.[0-9]+$"), "latest")),
            ),
            (
                "lscr.io/linuxserver/calibre:v7.1.0-ls12",
                "running",
                Some((
                    "lscr.io/linuxserver/calibre",
                    Some(r"^v[0-9]+\.[0-9]+\.[0-9]+-ls[0-9]+$"),
                    "latest",
                )),
            ),
            ("nginx:stable", "running", Some(("nginx", None, "stable"))),
            ("nginx", "exited", None),
            ("sha256:0123", "running", None),
        ];
        for (image, state, want) in cases {
            let got = entry_for(&summary(image, state));
            let got = got.as_ref().map(|e| {
                (
                    e.image.as_str(),
                    e.regex.as_ref().map(|r| r.as_str()),
                    e.base_tag.as_str(),
                )
            });
            assert_eq!(got, *want, "{image} {state}");
        }
    }

    #[test]
    fn init_proposals() {
        let tags: Vec<String> = ["latest", "v1.0.0", "v1.1.0", "1", "2"]
            .iter()
            .map(|t| (*t).to_owned())
            .collect();
        let digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
        let by_digest = format!("r.io/app@{digest}");
        let cases: &[(&str, &[String], Result<(&str, &str), Unproposed>)] = &[
            (
                "r.io/app:v1.0.0",
                &tags,
                Ok((r"^v[0-9]+\.[0-9]+\.[0-9]+$", "latest")),
            ),
            (
                "r.io/app",
                &tags,
                Ok((r"^v[0-9]+\.[0-9]+\.[0-9]+$", "latest")),
            ),
            (
                "r.io/app:edge",
                &tags,
                Ok((r"^v[0-9]+\.[0-9]+\.[0-9]+$", "edge")),
            ),
            ("r.io/app:1", &tags, Ok((r"^[0-9]+$", "latest"))),
            (
                "r.io/app:latest",
                &tags[..1],
                Err(Unproposed::NoVersionTags),
            ),
            (&by_digest, &tags, Err(Unproposed::DigestOnly)),
            ("sha256:1234", &tags, Err(Unproposed::DigestOnly)),
        ];
        for (image, tags, want) in cases {
            let c = summary(image, "running");
            let got = repository_for_init(&c)
                .and_then(|r| proposal(&c, &r, tags))
                .map(|p| (p.regex, p.base_tag))
                .map_err(|u| u.reason);
            let want = want.map(|(r, b)| (r.to_string(), b.to_string()));
            assert_eq!(got, want, "{image}");
        }
    }
}
