//! The out-of-the-box job: with no configuration, every running container is checked
//! against its own tag, with a version regex proposed from that tag's shape.

use anyhow::{Result, anyhow};

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
}
