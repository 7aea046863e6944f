//! What the engine runs, as a check needs it: read from the engine's two list endpoints
//! once per run instead of one inspect per container and per image.
//!
//! An image inspect costs Docker Engine 20.10 about 5 ms of CPU (it sizes the layers);
//! sixty of them cost more than the whole registry side of a check. The lists carry
//! everything a check reads; inspects remain only as fallbacks for the rare rows the
//! lists cannot answer (a container whose tag has moved, an untagged parent image).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use anyhow::{Result, anyhow};

use crate::compose::service::Service;
use crate::config::ImageConfig;
use crate::docker::EngineRead;
use crate::docker::types::{ContainerInspect, ContainerSummary, ImageSummary};
use crate::image::reference::Reference;
use crate::swarm::service::{Mode, Role, Service as SwarmService};

/// A container as a check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    /// Container name, without the leading `/`.
    pub name: String,
    /// The image reference the container was created with (`repo:tag`).
    pub created_as: String,
    /// The ID of the image it runs.
    pub image_id: String,
    /// Whether it is running (paused and restarting count: the engine says so too).
    pub running: bool,
    /// The orchestrator that owns it (`Swarm service web`), which alone may recreate it.
    pub managed_by: Option<String>,
    /// The compose service it belongs to, when compose created it.
    pub compose: Option<Service>,
    /// Set when this is a Swarm service rather than a container.
    pub service: Option<SwarmTarget>,
}

/// A Swarm service checked like a container (see [`Inventory::containers_for`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SwarmTarget {
    /// The service's ID.
    pub id: String,
    /// How many tasks it runs.
    #[serde(flatten)]
    pub mode: Mode,
    /// The digest its spec pins (`repo:tag@digest`), when it does.
    #[serde(skip)]
    pub digest: Option<String>,
}

impl SwarmTarget {
    /// The row's view of service `s`.
    pub fn of(s: &SwarmService) -> SwarmTarget {
        SwarmTarget {
            id: s.id.clone(),
            mode: s.mode.clone(),
            digest: s.image_parts().1.map(str::to_string),
        }
    }
}

impl Deployed {
    fn from_inspect(c: &ContainerInspect) -> Deployed {
        Deployed {
            name: c.name.clone(),
            created_as: c.config.image.clone(),
            image_id: c.image_id.clone(),
            running: c.state.running,
            managed_by: c.config.labels.as_ref().and_then(orchestrator),
            compose: c.config.labels.as_ref().and_then(Service::from_labels),
            service: None,
        }
    }
}

/// The orchestrator that owns a container with these labels, named for humans: a Swarm
/// task belongs to its service (Swarm replaces a task container recreated behind its
/// back, and the recreated one runs orphaned), a Kubernetes container to its pod.
pub fn orchestrator(labels: &BTreeMap<String, String>) -> Option<String> {
    if labels.contains_key("com.docker.swarm.task.id") {
        let service = labels
            .get("com.docker.swarm.service.name")
            .map_or("?", String::as_str);
        return Some(format!("Swarm service {service}"));
    }
    if labels.keys().any(|k| k.starts_with("io.kubernetes.")) {
        let pod = labels
            .get("io.kubernetes.pod.name")
            .map_or("?", String::as_str);
        return Some(match labels.get("io.kubernetes.pod.namespace") {
            Some(ns) => format!("Kubernetes pod {ns}/{pod}"),
            None => format!("Kubernetes pod {pod}"),
        });
    }
    None
}

/// Whether a container is a Swarm task: it belongs to its service, whose spec (not the
/// task's own labels) carries the settings, and it is never a row of its own.
pub fn is_task(c: &ContainerSummary) -> bool {
    c.labels
        .as_ref()
        .is_some_and(|l| l.contains_key("com.docker.swarm.task.id"))
}

/// The engine's Swarm services when it is a swarm manager, else none: their spec labels
/// count as a container's do, and targets may name them. An engine that cannot say is
/// treated as outside any swarm (the check reads the list again and fails on its own).
pub fn swarm_services(engine: &dyn EngineRead) -> Vec<SwarmService> {
    let manager = engine
        .swarm_state()
        .is_ok_and(|s| Role::from_state(&s) == Role::Manager);
    if !manager {
        return Vec::new();
    }
    match engine.services() {
        Ok(list) => list.iter().filter_map(SwarmService::from_json).collect(),
        Err(e) => {
            log::warn!("cannot list the Swarm services: {e:#}");
            Vec::new()
        }
    }
}

/// What an image is known as locally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageNames {
    /// `name:tag` references pointing at the image.
    pub repo_tags: Vec<String>,
    /// `name@sha256:…` manifest digests it was pulled or pushed as.
    pub repo_digests: Vec<String>,
    /// The digest of the content the engine stores the image as, when it says (the
    /// containerd image store): the index or manifest it was pulled or pushed as. That
    /// store drops `repo_digests` once the image's tag moves to another image, so this
    /// is then the only registry digest of what a container runs.
    pub content_digest: Option<String>,
}

/// The engine's containers and images, read once.
#[derive(Debug, Default)]
pub struct Inventory {
    containers: Vec<Row>,
    images: HashMap<String, ImageNames>,
    /// The engine's Swarm services, when it is a swarm manager.
    services: Vec<SwarmService>,
    /// Its role in a swarm.
    pub role: Role,
}

/// One row of the container list, and the container it describes once known.
#[derive(Debug)]
struct Row {
    summary: ContainerSummary,
    /// Filled at most once per run: from the row itself, or by an inspect when the row
    /// shows an image ID.
    deployed: OnceLock<Result<Option<Deployed>, String>>,
}

impl Inventory {
    /// Builds the inventory from the engine's image list and the container list: the
    /// one the caller already holds, or read now.
    pub fn read(
        engine: &dyn EngineRead,
        containers: Option<&[ContainerSummary]>,
    ) -> Result<Inventory> {
        let containers = match containers {
            Some(held) => held.to_vec(),
            None => engine.containers()?,
        };
        let images = engine.images()?;
        let mut inventory = Inventory::new(containers, images);
        // An engine that cannot say is treated as outside any swarm: its containers are
        // still checked.
        inventory.role = match engine.swarm_state() {
            Ok(state) => Role::from_state(&state),
            Err(e) => {
                log::debug!("swarm state: {e:#}");
                Role::None
            }
        };
        if inventory.role == Role::Manager {
            inventory.services = engine
                .services()?
                .iter()
                .filter_map(SwarmService::from_json)
                .collect();
        }
        Ok(inventory)
    }

    /// Builds the inventory from both lists.
    pub fn new(containers: Vec<ContainerSummary>, images: Vec<ImageSummary>) -> Inventory {
        let images = images
            .into_iter()
            .map(|i| {
                (
                    i.id,
                    ImageNames {
                        repo_tags: i.repo_tags.unwrap_or_default(),
                        repo_digests: i.repo_digests.unwrap_or_default(),
                        content_digest: i.descriptor.map(|d| d.digest),
                    },
                )
            })
            .collect();
        // A Swarm task container belongs to its service: the service is the row (on a
        // manager), never its tasks.
        let containers = containers
            .into_iter()
            .filter(|c| !is_task(c))
            .map(|summary| Row {
                summary,
                deployed: OnceLock::new(),
            })
            .collect();
        Inventory {
            containers,
            images,
            services: Vec::new(),
            role: Role::None,
        }
    }

    /// The containers an image entry is about: the named one, else every container
    /// created from that repository, by name.
    pub fn containers_for(
        &self,
        engine: &dyn EngineRead,
        image: &Reference,
        config: &ImageConfig,
    ) -> Result<Vec<Deployed>> {
        let services = self.services_for(image, config);
        if config.service_name.is_some() {
            return Ok(services);
        }
        if let Some(name) = &config.container_name {
            return match self.containers.iter().find(|r| r.summary.name() == name) {
                Some(row) => self.deployed(engine, row).map(|d| d.into_iter().collect()),
                // Not in the list: an ID, or a container created since; ask directly.
                None => Ok(engine
                    .inspect_container(name)?
                    .map(|c| Deployed::from_inspect(&c))
                    .into_iter()
                    .collect()),
            };
        }
        let same_repo = |shown: &str| {
            Reference::parse(shown)
                .is_ok_and(|r| r.registry == image.registry && r.repository == image.repository)
        };
        let mut found = Vec::new();
        for row in &self.containers {
            if config.except.iter().any(|n| n == row.summary.name()) {
                continue;
            }
            let shows_id = is_image_id(&row.summary.image, &row.summary.image_id);
            if !shows_id && !same_repo(&row.summary.image) {
                continue;
            }
            // A container removed since the list was read is simply not there.
            if let Some(deployed) = self.deployed(engine, row)?
                && same_repo(&deployed.created_as)
            {
                found.push(deployed);
            }
        }
        found.extend(services);
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    /// The Swarm services an image entry is about: the one `service_name` names, else
    /// every service whose image is from that repository.
    fn services_for(&self, image: &Reference, config: &ImageConfig) -> Vec<Deployed> {
        self.services
            .iter()
            .filter(|s| match &config.service_name {
                Some(name) => &s.name == name,
                None => {
                    config.container_name.is_none()
                        && !config.except_services.contains(&s.name)
                        && Reference::parse(s.image_parts().0).is_ok_and(|r| {
                            r.registry == image.registry && r.repository == image.repository
                        })
                }
            })
            .map(|s| {
                let (name, _) = s.image_parts();
                Deployed {
                    name: s.name.clone(),
                    created_as: name.to_string(),
                    image_id: String::new(),
                    // A service at 0 replicas is still updated (without waiting).
                    running: true,
                    managed_by: None,
                    compose: None,
                    service: Some(SwarmTarget::of(s)),
                }
            })
            .collect()
    }

    /// One container from its list row. The list shows the image ID instead of the
    /// reference once that reference has moved to another image (a `docker pull`
    /// without a recreate): only then is the container inspected, once per run. `None`
    /// when it was removed since the list was read.
    fn deployed(&self, engine: &dyn EngineRead, row: &Row) -> Result<Option<Deployed>> {
        let summary = &row.summary;
        row.deployed
            .get_or_init(|| {
                if !is_image_id(&summary.image, &summary.image_id) {
                    return Ok(Some(Deployed {
                        name: summary.name().to_string(),
                        created_as: summary.image.clone(),
                        image_id: summary.image_id.clone(),
                        running: matches!(
                            summary.state.as_str(),
                            "running" | "paused" | "restarting"
                        ),
                        managed_by: summary.labels.as_ref().and_then(orchestrator),
                        compose: summary.labels.as_ref().and_then(Service::from_labels),
                        service: None,
                    }));
                }
                engine
                    .inspect_container(&summary.id)
                    .map(|found| found.map(|c| Deployed::from_inspect(&c)))
                    .map_err(|e| format!("{e:#}"))
            })
            .clone()
            .map_err(|e| anyhow!(e))
    }

    /// What `container`'s image is known as: from the image list, or inspected when
    /// the list does not show it (untagged parent images are hidden from it).
    pub fn image(
        &self,
        engine: &dyn EngineRead,
        container: &Deployed,
    ) -> Result<Cow<'_, ImageNames>> {
        // A service's image is what its spec pins: `repo:tag@digest`.
        if let Some(service) = &container.service {
            return Ok(Cow::Owned(ImageNames {
                repo_tags: vec![container.created_as.clone()],
                repo_digests: service
                    .digest
                    .iter()
                    .map(|d| {
                        let repo = Reference::parse(&container.created_as)
                            .map(|r| r.familiar_name())
                            .unwrap_or_default();
                        format!("{repo}@{d}")
                    })
                    .collect(),
                content_digest: None,
            }));
        }
        // Borrowed: one image can carry the tags of many repositories, and every
        // container of it is checked.
        if let Some(found) = self.images.get(&container.image_id) {
            return Ok(Cow::Borrowed(found));
        }
        let inspect = engine.inspect_image(&container.image_id)?.ok_or_else(|| {
            anyhow!(
                "the image of container {} ({}) is gone from the engine",
                container.name,
                container.image_id
            )
        })?;
        Ok(Cow::Owned(ImageNames {
            repo_tags: inspect.repo_tags,
            repo_digests: inspect.repo_digests,
            content_digest: inspect.descriptor.map(|d| d.digest),
        }))
    }
}

/// The container list with the `Image` of each row that shows an image ID put back to
/// the reference the container was created with (one inspect per such row): discovery
/// and targets given by container name follow what the user ran, even after a
/// `docker pull` moved its tag.
pub fn with_references(
    engine: &dyn EngineRead,
    containers: &[ContainerSummary],
) -> Vec<ContainerSummary> {
    containers
        .iter()
        .map(|c| {
            let mut c = c.clone();
            if is_image_id(&c.image, &c.image_id) {
                match engine.inspect_container(&c.id) {
                    Ok(Some(inspect)) => c.image = inspect.config.image,
                    Ok(None) => {}
                    Err(e) => log::debug!("container {}: {e:#}", c.name()),
                }
            }
            c
        })
        .collect()
}

/// Whether a container list's `Image` column holds an image ID rather than the
/// reference the container was created with.
fn is_image_id(shown: &str, image_id: &str) -> bool {
    let hex = shown.strip_prefix("sha256:").unwrap_or(shown);
    shown == image_id
        || shown.starts_with("sha256:")
        || (hex.len() >= 12
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
            && image_id.trim_start_matches("sha256:").starts_with(hex))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::docker::fake::FakeEngine;

    #[test]
    fn orchestrated_containers_name_their_owner() {
        let cases: &[(&[(&str, &str)], Option<&str>)] = &[
            (&[], None),
            (&[("com.docker.compose.project", "app")], None),
            (
                &[
                    ("com.docker.swarm.task.id", "t1"),
                    ("com.docker.swarm.service.name", "web"),
                ],
                Some("Swarm service web"),
            ),
            (
                &[("com.docker.swarm.task.id", "t1")],
                Some("Swarm service ?"),
            ),
            // A service's own labels on a plain container do not make it a task.
            (&[("com.docker.swarm.service.name", "web")], None),
            (
                &[
                    ("io.kubernetes.pod.name", "db-0"),
                    ("io.kubernetes.pod.namespace", "prod"),
                ],
                Some("Kubernetes pod prod/db-0"),
            ),
            (
                &[("io.kubernetes.container.name", "db")],
                Some("Kubernetes pod ?"),
            ),
        ];
        for (labels, want) in cases {
            let labels: BTreeMap<String, String> = labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(orchestrator(&labels).as_deref(), *want, "{labels:?}");
        }
    }

    #[test]
    fn image_ids_are_told_from_references() {
        let id = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let cases = [
            ("ghcr.io/linuxserver/calibre:latest", false),
            ("calibre", false),
            // A repository named like hex is still a reference unless it is the ID.
            ("deadbeef", false),
            ("deadbeefcafe", false),
            (id, true),
            ("sha256:feed", true),
            ("0123456789ab", true),
            (&id[7..], true),
        ];
        for (shown, want) in cases {
            assert_eq!(is_image_id(shown, id), want, "{shown}");
        }
    }

    fn config(image: &str, container_name: Option<&str>) -> ImageConfig {
        let mut raw = serde_json::json!({"image": image});
        if let Some(name) = container_name {
            raw["container_name"] = name.into();
        }
        let text = serde_json::json!({ "images": [raw] }).to_string();
        let mut parsed = crate::config::parse(&text, std::path::Path::new("test.json")).unwrap();
        parsed.images.remove(0)
    }

    #[test]
    fn list_rows_answer_without_inspects() {
        let engine = FakeEngine::default()
            .container("b", "r.io/app:1.0", "sha256:aa", true)
            .container("a", "r.io/app:2.0", "sha256:bb", false)
            .container("c", "r.io/other:1", "sha256:cc", true)
            .image("sha256:aa", &["r.io/app:1.0"], &["r.io/app@sha256:11"])
            .image("sha256:bb", &["r.io/app:2.0"], &[]);
        let inventory = Inventory::read(&engine, None).unwrap();
        let image = Reference::parse("r.io/app").unwrap();
        let found = inventory
            .containers_for(&engine, &image, &config("r.io/app", None))
            .unwrap();
        let rows: Vec<(&str, &str, bool)> = found
            .iter()
            .map(|d| (d.name.as_str(), d.created_as.as_str(), d.running))
            .collect();
        assert_eq!(
            rows,
            [("a", "r.io/app:2.0", false), ("b", "r.io/app:1.0", true)]
        );
        let names = inventory.image(&engine, &found[1]).unwrap();
        assert_eq!(names.repo_digests, ["r.io/app@sha256:11"]);
        let named = inventory
            .containers_for(&engine, &image, &config("r.io/app", Some("b")))
            .unwrap();
        assert_eq!(named, [found[1].clone()]);
        assert_eq!(engine.inspects(), 0);
    }

    #[test]
    fn what_the_lists_cannot_tell_is_inspected() {
        let engine = FakeEngine::default()
            .container("moved", "r.io/app:latest", "sha256:aa", true)
            .container("parent", "r.io/app:1.0", "sha256:bb", true)
            .image("sha256:aa", &[], &["r.io/app@sha256:11"])
            .image("sha256:bb", &[], &[])
            .tag_moved("moved")
            .hide_image("sha256:bb");
        let inventory = Inventory::read(&engine, None).unwrap();
        let image = Reference::parse("r.io/app").unwrap();
        // The moved container's row shows an ID: only an inspect gives its reference.
        let moved = inventory
            .containers_for(&engine, &image, &config("r.io/app", Some("moved")))
            .unwrap();
        assert_eq!(moved[0].created_as, "r.io/app:latest");
        assert_eq!(engine.inspects(), 1);
        // Found for an entry without a container name too, without a second inspect.
        let all = inventory
            .containers_for(&engine, &image, &config("r.io/app", None))
            .unwrap();
        let names: Vec<&str> = all.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["moved", "parent"]);
        assert_eq!(engine.inspects(), 1);
        // A hidden image is inspected.
        let parent = inventory
            .containers_for(&engine, &image, &config("r.io/app", Some("parent")))
            .unwrap();
        inventory.image(&engine, &parent[0]).unwrap();
        assert_eq!(engine.inspects(), 2);
        // A container named in the config but absent from the list is asked for directly.
        let none = inventory
            .containers_for(&engine, &image, &config("r.io/app", Some("gone")))
            .unwrap();
        assert!(none.is_empty());
        assert_eq!(engine.inspects(), 3);
    }

    #[test]
    fn a_container_removed_meanwhile_is_skipped_not_an_error() {
        let engine = FakeEngine::default()
            .container("ghost", "r.io/other:latest", "sha256:aa", true)
            .container("web", "r.io/app:1.0", "sha256:bb", true)
            .tag_moved("ghost")
            .vanish("ghost");
        let inventory = Inventory::read(&engine, None).unwrap();
        let image = Reference::parse("r.io/app").unwrap();
        let found = inventory
            .containers_for(&engine, &image, &config("r.io/app", None))
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "web");
        let named = inventory
            .containers_for(&engine, &image, &config("r.io/app", Some("ghost")))
            .unwrap();
        assert!(named.is_empty());
    }

    #[test]
    fn rows_showing_an_id_get_their_reference_back() {
        let engine = FakeEngine::default()
            .container("moved", "r.io/app:latest", "sha256:aa", true)
            .container("plain", "r.io/app:1.0", "sha256:bb", false)
            .tag_moved("moved");
        let rows = with_references(&engine, &engine.containers().unwrap());
        let images: Vec<&str> = rows.iter().map(|r| r.image.as_str()).collect();
        assert_eq!(images, ["r.io/app:latest", "r.io/app:1.0"]);
        assert_eq!(engine.inspects(), 1);
    }

    #[test]
    fn a_vanished_image_is_an_error_naming_the_container() {
        let engine = FakeEngine::default().container("web", "r.io/app:1", "sha256:zz", true);
        let inventory = Inventory::read(&engine, None).unwrap();
        let found = inventory
            .containers_for(
                &engine,
                &Reference::parse("r.io/app").unwrap(),
                &config("r.io/app", None),
            )
            .unwrap();
        let err = inventory.image(&engine, &found[0]).unwrap_err();
        assert!(
            format!("{err:#}").contains("container web (sha256:zz)"),
            "{err:#}"
        );
    }
}
