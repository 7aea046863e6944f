//! `dum check`: for every configured image, what its containers run, what the newest
//! version is, what the base tag points to, and whether an update is available.
//!
//! The engine and the registry are reached only through the [`EngineRead`] and
//! [`Registry`] traits, so the decisions here are testable without sockets.

pub mod discover;
pub mod inventory;
pub mod record;

use std::collections::HashMap;
use std::sync::OnceLock;

use rayon::prelude::*;

use anyhow::{Result, anyhow, bail};
use serde::Serialize;

use crate::check::inventory::{Deployed, ImageNames, Inventory};
use crate::config::ImageConfig;
use crate::docker::EngineRead;
use crate::docker::types::ContainerSummary;
use crate::image::reference::Reference;
use crate::image::select::{self, Direction};
use crate::registry::Registry;

/// Base-tag resolution probes at most this many version tags.
const RESOLUTION_LIMIT: usize = 64;
/// Version tags probed together after the first.
const RESOLUTION_BATCH: usize = 4;

/// What one image (and one of its containers) is doing. Serialised as-is in the
/// `--format json` output; field names are a stable contract (README).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The container runs the newest version.
    UpToDate,
    /// A newer version exists.
    UpdateAvailable,
    /// No running container uses the image.
    NotRunning,
    /// The image could not be checked; see `error`.
    Failed,
}

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct ImageReport {
    /// The configured image (repository).
    pub image: String,
    /// The container, when one was found.
    pub container: Option<String>,
    /// The version tag the container runs, when known.
    pub current_version: Option<String>,
    /// The manifest digest the container's image was pulled as.
    pub current_digest: Option<String>,
    /// The newest version tag matching the regex.
    pub latest_version: Option<String>,
    /// Its manifest digest.
    pub latest_digest: Option<String>,
    /// The base tag of the image (`latest`, …).
    pub base_tag: String,
    /// The version tag the base tag points to, when found.
    pub base_tag_version: Option<String>,
    /// The base tag's manifest digest; `None` when it does not exist.
    pub base_tag_digest: Option<String>,
    /// The verdict.
    pub status: Status,
    /// A remark for humans (base tag behind, version unknown, …).
    pub note: Option<String>,
    /// Why the image failed, one line.
    pub error: Option<String>,
    /// The orchestrator that owns the container (`Swarm service web`): dum reports it
    /// but never recreates it.
    pub managed_by: Option<String>,
}

impl ImageReport {
    fn failed(
        image: &str,
        base_tag: &str,
        container: Option<String>,
        error: &anyhow::Error,
    ) -> ImageReport {
        ImageReport {
            image: image.to_string(),
            container,
            current_version: None,
            current_digest: None,
            latest_version: None,
            latest_digest: None,
            base_tag: base_tag.to_string(),
            base_tag_version: None,
            base_tag_digest: None,
            status: Status::Failed,
            note: None,
            error: Some(format!("{error:#}")),
            managed_by: None,
        }
    }
}

/// What the registry says about an image, computed once for all its containers.
#[derive(Debug, Clone, Default)]
pub struct Remote {
    /// The newest version tags, newest first: at most [`RESOLUTION_LIMIT`] unless the
    /// naive baseline listed them all.
    pub versions: Vec<String>,
    /// The base tag's digest (`None`: the tag does not exist).
    pub base_digest: Option<String>,
    /// The version the base tag points to.
    pub base_version: Option<String>,
    /// Digests learnt while resolving, by tag.
    pub digests: HashMap<String, String>,
}

impl Remote {
    /// The newest version tag.
    pub fn newest(&self) -> Option<&str> {
        self.versions.first().map(String::as_str)
    }
}

/// HEADs `tags` in parallel and records their digests; 404s are skipped.
fn head_all(
    registry: &dyn Registry,
    image: &Reference,
    tags: &[&str],
) -> Result<Vec<(String, Option<String>)>> {
    use rayon::prelude::*;
    tags.par_iter()
        .map(|t| registry.digest(image, t).map(|d| (t.to_string(), d)))
        .collect()
}

/// What an earlier check learnt about a base tag: its digest, and the version tag it
/// pointed to then.
///
/// While the base tag keeps that digest, a check takes the version from here and skips
/// the HEAD of the newest version: an unchanged image costs its tag list and one HEAD.
/// Version tags count as immutable here, as they do when dum names what a container
/// runs. The one case this misses, a version tag re-pushed while the base tag stays,
/// leaves the base tag on an earlier build of that same version, so the version
/// reported stays true; a base tag that moves is always resolved afresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The version tag the base tag pointed to.
    pub version: String,
    /// The base tag's digest then.
    pub digest: String,
}

/// Earlier resolutions by image and base tag, from the state file.
#[derive(Debug, Clone, Default)]
pub struct Known(HashMap<(String, String), Resolved>);

impl Known {
    /// Remembers that `base_tag` of `image` had `resolved.digest`, pointing at
    /// `resolved.version`.
    pub fn insert(&mut self, image: &str, base_tag: &str, resolved: Resolved) {
        self.0
            .insert((image.to_string(), base_tag.to_string()), resolved);
    }

    /// The earlier resolution of `config`'s base tag, if any.
    pub fn get(&self, config: &ImageConfig) -> Option<&Resolved> {
        self.0.get(&(config.image.clone(), config.base_tag.clone()))
    }
}

/// How the base tag is resolved to a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resolution {
    /// Newest first in small batches, stopping at the first match (dum's way).
    #[default]
    Probe,
    /// Every matching tag's digest: the baseline the benchmark compares against.
    Naive,
}

/// Lists tags, orders versions, and resolves the base tag by digest: the base tag and
/// the newest version are asked together; older versions only when they differ, in
/// small batches, never beyond [`RESOLUTION_LIMIT`]. `known` is what an earlier check
/// learnt about the base tag (see [`Resolved`]).
pub fn remote(
    registry: &dyn Registry,
    image: &Reference,
    config: &ImageConfig,
    resolution: Resolution,
    known: Option<&Resolved>,
) -> Result<Remote> {
    if config.regex.is_none() || resolution == Resolution::Naive {
        return remote_naive(registry, image, config);
    }
    // The base tag's digest does not depend on the tag list: ask both at once, so
    // the common case costs two round trips (this, then the newest version's HEAD).
    let (listed, base) = rayon::join(
        || versions(registry, image, config, known),
        || base_digest(registry, image, config),
    );
    resolve(registry, image, config, listed?, base?, known)
}

/// The newest version tags (at most [`RESOLUTION_LIMIT`], newest first), and the
/// newest one's digest: the tag-list half of [`remote`]. The newest version's HEAD
/// follows its tag list on the same worker, so it never waits behind other images'
/// requests; it is left to [`resolve`] when the newest version is the one the base
/// tag pointed to at the last check (`known`), as the base tag's digest may settle it.
pub fn versions(
    registry: &dyn Registry,
    image: &Reference,
    config: &ImageConfig,
    known: Option<&Resolved>,
) -> Result<Listed> {
    let Some(regex) = &config.regex else {
        return Ok(Listed::default());
    };
    let mut newest = select::Newest::new(RESOLUTION_LIMIT);
    let mut base_is_version = false;
    let mut matching = 0;
    let total = registry.tags_each(image, &mut |tag| {
        if regex.is_match(tag) {
            matching += 1;
            base_is_version |= tag == config.base_tag;
            newest.offer(tag);
        }
    })?;
    if matching == 0 {
        return Err(no_version_tags(total, image, config, regex));
    }
    let versions = newest.into_sorted();
    let newest_deferred = !base_is_version
        && versions
            .first()
            .is_some_and(|newest| known.is_some_and(|k| k.version == *newest));
    let newest_digest = match versions.first() {
        Some(_) if newest_deferred => None,
        // A base tag that is itself the newest version is HEADed by the other half.
        Some(newest) if *newest != config.base_tag => registry.digest(image, newest)?,
        _ => None,
    };
    Ok(Listed {
        versions,
        base_is_version,
        newest_digest,
        newest_deferred,
    })
}

/// The base tag's digest (`None`: no such tag): the other half of [`remote`].
pub fn base_digest(
    registry: &dyn Registry,
    image: &Reference,
    config: &ImageConfig,
) -> Result<Option<String>> {
    registry.digest(image, &config.base_tag)
}

/// The error of a repository where none of the `total` tags is a version tag.
fn no_version_tags(
    total: usize,
    image: &Reference,
    config: &ImageConfig,
    regex: &regex::Regex,
) -> anyhow::Error {
    anyhow!(
        "none of the {total} tags of {} matches {} (see `dum tags {}`)",
        image.name(),
        regex.as_str(),
        config.image
    )
}

/// What the tag-list half of a check learnt.
#[derive(Debug, Clone, Default)]
pub struct Listed {
    /// The newest version tags, newest first (empty when the image has no regex).
    pub versions: Vec<String>,
    /// Whether the base tag is itself a version tag.
    pub base_is_version: bool,
    /// The newest version's digest, when it was asked.
    pub newest_digest: Option<String>,
    /// Whether the newest version's HEAD was left to [`resolve`].
    pub newest_deferred: bool,
}

/// Puts both halves together. The base tag keeps the version of the last check
/// (`known`) while it keeps that digest; otherwise it is compared with the newest
/// version, and older versions are probed only when it is not that one.
pub fn resolve(
    registry: &dyn Registry,
    image: &Reference,
    config: &ImageConfig,
    listed: Listed,
    base_digest: Option<String>,
    known: Option<&Resolved>,
) -> Result<Remote> {
    if config.regex.is_none() {
        if base_digest.is_none() {
            bail!("tag {} of {} does not exist", config.base_tag, image.name());
        }
        return Ok(Remote {
            base_digest,
            ..Remote::default()
        });
    }
    let mut remote = Remote {
        versions: listed.versions,
        base_digest,
        ..Remote::default()
    };
    if let Some(d) = &remote.base_digest {
        remote.digests.insert(config.base_tag.clone(), d.clone());
    }
    if let (Some(newest), Some(d)) = (remote.versions.first(), listed.newest_digest) {
        remote.digests.insert(newest.clone(), d);
    }
    if listed.base_is_version {
        // The base tag is itself a version tag (e.g. "16" with ^16$|^16\.[0-9]+$).
        remote.base_version = remote.base_digest.as_ref().map(|_| config.base_tag.clone());
        return Ok(remote);
    }
    if let (Some(known), Some(base_digest)) = (known, &remote.base_digest)
        && known.digest == *base_digest
        && remote.versions.contains(&known.version)
    {
        log::debug!(
            "{}: {} still has digest {base_digest}, so it is still {}",
            image.name(),
            config.base_tag,
            known.version
        );
        remote
            .digests
            .insert(known.version.clone(), base_digest.clone());
        remote.base_version = Some(known.version.clone());
        return Ok(remote);
    }
    if listed.newest_deferred
        && let Some(newest) = remote.versions.first().cloned()
        && let Some(d) = registry.digest(image, &newest)?
    {
        remote.digests.insert(newest, d);
    }
    let Some(base_digest) = remote.base_digest.clone() else {
        return Ok(remote);
    };
    remote.base_version = find_version(registry, image, &mut remote, &base_digest)?;
    Ok(remote)
}

/// The baseline the benchmark compares against: every matching tag's digest, then the
/// base tag looked up among them.
fn remote_naive(
    registry: &dyn Registry,
    image: &Reference,
    config: &ImageConfig,
) -> Result<Remote> {
    let Some(regex) = &config.regex else {
        return resolve(
            registry,
            image,
            config,
            Listed::default(),
            base_digest(registry, image, config)?,
            None,
        );
    };
    let tags = registry.tags(image)?;
    let versions: Vec<String> = select::version_tags(&tags, regex)
        .into_iter()
        .map(str::to_string)
        .collect();
    if versions.is_empty() {
        return Err(no_version_tags(tags.len(), image, config, regex));
    }
    let mut remote = Remote {
        versions,
        ..Remote::default()
    };
    let mut all: Vec<&str> = remote.versions.iter().map(String::as_str).collect();
    all.push(config.base_tag.as_str());
    for (tag, digest) in head_all(registry, image, &all)? {
        if let Some(d) = digest {
            remote.digests.insert(tag, d);
        }
    }
    remote.base_digest = remote.digests.get(&config.base_tag).cloned();
    remote.base_version = remote
        .versions
        .iter()
        .find(|v| remote.digests.get(*v) == remote.base_digest.as_ref())
        .cloned();
    Ok(remote)
}

/// The newest version tag whose digest is `digest`, probing newest-first in batches
/// and stopping at the first match.
fn find_version(
    registry: &dyn Registry,
    image: &Reference,
    remote: &mut Remote,
    digest: &str,
) -> Result<Option<String>> {
    if let Some(found) = remote
        .versions
        .iter()
        .find(|v| remote.digests.get(*v).is_some_and(|d| d == digest))
    {
        return Ok(Some(found.clone()));
    }
    let ordered: Vec<&str> = remote.versions.iter().map(String::as_str).collect();
    for batch in select::resolution_batches(
        &ordered,
        RESOLUTION_BATCH,
        RESOLUTION_BATCH,
        RESOLUTION_LIMIT,
    ) {
        let unknown: Vec<&str> = batch
            .into_iter()
            .filter(|t| !remote.digests.contains_key(*t))
            .collect();
        if unknown.is_empty() {
            continue;
        }
        let mut hit = None;
        for (tag, d) in head_all(registry, image, &unknown)? {
            if let Some(d) = d {
                if d == digest
                    && hit
                        .as_ref()
                        .is_none_or(|h: &String| crate::image::version::compare(&tag, h).is_gt())
                {
                    hit = Some(tag.clone());
                }
                remote.digests.insert(tag, d);
            }
        }
        if hit.is_some() {
            return Ok(hit);
        }
    }
    Ok(None)
}

/// What a container runs, read from the engine.
#[derive(Debug, Clone, Default)]
pub struct Local {
    /// The version tag, when the container's tag or a local tag of its image says so.
    pub version: Option<String>,
    /// Manifest digests the image is known by in this repository.
    pub digests: Vec<String>,
    /// Whether the container is running.
    pub running: bool,
    /// Tag the container was created with.
    pub tag: String,
}

/// What `container` runs, from the reference it was created with and the names its
/// image is known by locally.
pub fn local(
    container: &Deployed,
    names: &ImageNames,
    image: &Reference,
    config: &ImageConfig,
) -> Local {
    let created_as = Reference::parse(&container.created_as).ok();
    let tag = created_as
        .as_ref()
        .map(|r| r.tag_or_latest().to_string())
        .unwrap_or_default();
    let mut local = Local {
        running: container.running,
        tag: tag.clone(),
        ..Local::default()
    };
    let same_repo =
        |r: &Reference| r.registry == image.registry && r.repository == image.repository;
    for entry in &names.repo_digests {
        if let Ok(r) = Reference::parse(entry)
            && same_repo(&r)
            && let Some(d) = r.digest
        {
            local.digests.push(d);
        }
    }
    if let Some(d) = &names.content_digest
        && !local.digests.contains(d)
    {
        local.digests.push(d.clone());
    }
    if let Some(regex) = &config.regex {
        if regex.is_match(&tag) && created_as.as_ref().is_some_and(same_repo) {
            local.version = Some(tag);
        } else {
            // dum tags what it pulls with the version, so the version is often a local tag.
            let tags: Vec<String> = names
                .repo_tags
                .iter()
                .filter_map(|t| Reference::parse(t).ok())
                .filter(|r| same_repo(r))
                .filter_map(|r| r.tag)
                .filter(|t| regex.is_match(t))
                .collect();
            local.version =
                crate::image::version::max(tags.iter().map(String::as_str)).map(str::to_string);
        }
    }
    local
}

/// The verdict for one container given what the registry says.
pub fn decide(
    registry: &dyn Registry,
    query: &Reference,
    config: &ImageConfig,
    remote: &mut Remote,
    local: &mut Local,
) -> Result<(Status, Option<String>)> {
    let mut note = None;
    let Some(newest) = remote.newest().map(str::to_string) else {
        // Digest tracking only: the base tag's digest against the container's.
        let base = remote.base_digest.clone().unwrap_or_default();
        let same = local_matches(registry, query, &config.base_tag, &base, &local.digests)?;
        let status = if !local.running {
            Status::NotRunning
        } else if same {
            Status::UpToDate
        } else {
            Status::UpdateAvailable
        };
        return Ok((status, note));
    };
    if local.version.is_none() && !local.digests.is_empty() {
        // Which version is it? Known digests first, then probe newest-first.
        for d in local.digests.clone() {
            if let Some(v) = find_version(registry, query, remote, &d)? {
                local.version = Some(v);
                break;
            }
        }
        if local.version.is_none()
            && let Some(newest_digest) = remote.digests.get(&newest).cloned()
        {
            // A platform manifest of the newest index is the newest version too.
            if local_matches(registry, query, &newest, &newest_digest, &local.digests)? {
                local.version = Some(newest.clone());
            }
        }
    }
    let status = match &local.version {
        Some(current) => match select::direction(current, &newest) {
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

/// Whether one of the local digests is `tag`'s digest or, for an index, one of its
/// platform manifests (images pulled by platform digest record that one).
fn local_matches(
    registry: &dyn Registry,
    image: &Reference,
    tag: &str,
    digest: &str,
    local: &[String],
) -> Result<bool> {
    if local.iter().any(|d| d == digest) {
        return Ok(true);
    }
    if local.is_empty() || digest.is_empty() {
        return Ok(false);
    }
    let children = registry.index_children(image, tag)?.unwrap_or_default();
    Ok(children.iter().any(|c| local.contains(&c.digest)))
}

/// The registry half of one image's check: the reference the registry was asked
/// about, and its answers. An unusable reference fails here too.
type Asked = Result<(Reference, Remote)>;

/// [`remote`] for one configured image.
fn remote_for(
    registry: &dyn Registry,
    config: &ImageConfig,
    resolution: Resolution,
    known: &Known,
) -> Asked {
    let (_, query) = config.references().map_err(|e| anyhow!(e))?;
    let remote = remote(registry, &query, config, resolution, known.get(config))?;
    Ok((query, remote))
}

/// The rows of one image from its registry half and the engine's inventory.
fn report_image(
    engine: &dyn EngineRead,
    registry: &dyn Registry,
    inventory: Result<&Inventory, &anyhow::Error>,
    config: &ImageConfig,
    remote: Asked,
) -> Vec<ImageReport> {
    let failed = |container: Option<String>, e: &anyhow::Error| {
        ImageReport::failed(&config.image, &config.base_tag, container, e)
    };
    let reference = match config.references() {
        Ok((reference, _)) => reference,
        Err(e) => return vec![failed(config.container_name.clone(), &anyhow!(e))],
    };
    let found = match inventory.map_err(|e| anyhow!("{e:#}")).and_then(|inv| {
        inv.containers_for(engine, &reference, config)
            .map(|containers| {
                containers
                    .into_iter()
                    .map(|c| {
                        let l = inv
                            .image(engine, &c)
                            .map(|names| local(&c, &names, &reference, config));
                        (c, l)
                    })
                    .collect::<Vec<_>>()
            })
    }) {
        Ok(f) => f,
        Err(e) => return vec![failed(config.container_name.clone(), &e)],
    };
    let (query, mut remote) = match remote {
        Ok(asked) => asked,
        Err(e) => {
            let names: Vec<Option<String>> = if found.is_empty() {
                vec![config.container_name.clone()]
            } else {
                found.iter().map(|(c, _)| Some(c.name.clone())).collect()
            };
            return names.into_iter().map(|n| failed(n, &e)).collect();
        }
    };
    let base_note = match (&remote.base_digest, &remote.base_version, remote.newest()) {
        (None, _, _) if config.regex.is_some() => {
            Some(format!("base tag {} does not exist", config.base_tag))
        }
        (Some(_), None, Some(_)) => Some(format!("{} matches no version tag", config.base_tag)),
        (Some(_), Some(v), Some(n)) if v != n => {
            Some(format!("{} = {v}, behind the newest {n}", config.base_tag))
        }
        _ => None,
    };
    let template = ImageReport {
        image: config.image.clone(),
        container: config.container_name.clone(),
        current_version: None,
        current_digest: None,
        latest_version: remote.newest().map(str::to_string),
        latest_digest: match remote.newest() {
            Some(n) => remote.digests.get(n).cloned(),
            // Digest tracking: the base tag is what "latest" means.
            None => remote.base_digest.clone(),
        },
        base_tag: config.base_tag.clone(),
        base_tag_version: remote.base_version.clone(),
        base_tag_digest: remote.base_digest.clone(),
        status: Status::NotRunning,
        note: base_note,
        error: None,
        managed_by: None,
    };
    if found.is_empty() {
        let note = match &config.container_name {
            Some(name) => format!("no container named {name}"),
            None => format!("no container uses {}", reference.name()),
        };
        return vec![ImageReport {
            note: Some(note),
            ..template
        }];
    }
    found
        .into_iter()
        .map(|(container, l)| {
            let mut report = ImageReport {
                container: Some(container.name.clone()),
                managed_by: container.managed_by.clone(),
                ..template.clone()
            };
            let outcome = l.and_then(|mut l| {
                decide(registry, &query, config, &mut remote, &mut l).map(|d| (l, d))
            });
            match outcome {
                Ok((l, (status, note))) => {
                    report.current_version = l.version;
                    report.current_digest = l.digests.first().cloned();
                    report.status = status;
                    report.note = note.or(report.note);
                    if let Some(owner) = &container.managed_by {
                        let managed = format!("managed by {owner}: dum never recreates it");
                        report.note = Some(match report.note.take() {
                            Some(n) => format!("{managed}; {n}"),
                            None => managed,
                        });
                    }
                }
                Err(e) => {
                    report.status = Status::Failed;
                    report.error = Some(format!("container {}: {e:#}", container.name));
                }
            }
            report
        })
        .collect()
}

/// Both registry halves of every image, and the engine's inventory, on `pool`: every
/// tag list is queued before any base-tag HEAD, first in, first out. The tag lists gate
/// the second round trip (the newest version's HEAD, which follows on the same worker),
/// so when the registry is the bottleneck it answers those first and the base-tag HEADs
/// fill its idle time.
fn halves(
    engine: &dyn EngineRead,
    registry: &dyn Registry,
    all: Option<&[ContainerSummary]>,
    images: &[ImageConfig],
    known: &Known,
    pool: &rayon::ThreadPool,
) -> (Result<Inventory>, Vec<Asked>) {
    let queries: Vec<Result<(Reference, Reference)>> = images
        .iter()
        .map(|c| c.references().map_err(|e| anyhow!(e)))
        .collect();
    let listed: Vec<OnceLock<Result<Listed>>> = images.iter().map(|_| OnceLock::new()).collect();
    let bases: Vec<OnceLock<Result<Option<String>>>> =
        images.iter().map(|_| OnceLock::new()).collect();
    let inventory = OnceLock::new();
    pool.scope_fifo(|s| {
        s.spawn_fifo(|_| {
            let _ = inventory.set(Inventory::read(engine, all));
        });
        for ((config, query), slot) in images.iter().zip(&queries).zip(&listed) {
            if let Ok((_, query)) = query {
                s.spawn_fifo(move |_| {
                    let _ = slot.set(versions(registry, query, config, known.get(config)));
                });
            }
        }
        for ((config, query), slot) in images.iter().zip(&queries).zip(&bases) {
            if let Ok((_, query)) = query {
                s.spawn_fifo(move |_| {
                    let _ = slot.set(base_digest(registry, query, config));
                });
            }
        }
    });
    let remotes = images
        .par_iter()
        .zip(queries)
        .zip(listed.into_par_iter().zip(bases))
        .map(|((config, query), (listed, base))| {
            let (_, query) = query?;
            let missing = || anyhow!("internal error: {} was not checked", config.image);
            let listed = listed.into_inner().ok_or_else(missing)??;
            let base = base.into_inner().ok_or_else(missing)??;
            let remote = resolve(registry, &query, config, listed, base, known.get(config))?;
            Ok((query, remote))
        })
        .collect();
    let inventory = inventory
        .into_inner()
        .unwrap_or_else(|| Err(anyhow!("internal error: the engine was not read")));
    (inventory, remotes)
}

/// Checks every image in parallel on a pool sized for network waits, not CPU count:
/// at most `jobs` worker threads. Every image's registry requests start at once; the
/// engine is read meanwhile, through its two list endpoints (see [`Inventory`]).
/// `all` is the engine's container list when the caller already read it; otherwise it
/// is read here, while the registry requests are under way. `known` holds what the
/// last check learnt about base tags (see [`Resolved`]).
pub fn check_all(
    engine: &dyn EngineRead,
    registry: &dyn Registry,
    all: Option<&[ContainerSummary]>,
    images: &[ImageConfig],
    resolution: Resolution,
    known: &Known,
    jobs: usize,
) -> Result<Vec<ImageReport>> {
    // Two requests per image are in flight at once (tag list and base tag), plus the
    // engine reader.
    let threads = (images.len() * 2 + 1).clamp(1, jobs.max(1));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("dum-check-{i}"))
        .build()
        .map_err(|e| anyhow!("cannot start worker threads: {e}"))?;
    let rows: Vec<Vec<ImageReport>> = pool.install(|| {
        let (inventory, remotes) = if resolution == Resolution::Naive {
            rayon::join(
                || Inventory::read(engine, all),
                || {
                    images
                        .par_iter()
                        .map(|c| remote_for(registry, c, resolution, known))
                        .collect::<Vec<_>>()
                },
            )
        } else {
            halves(engine, registry, all, images, known, &pool)
        };
        images
            .par_iter()
            .zip(remotes)
            .map(|(c, r)| report_image(engine, registry, inventory.as_ref(), c, r))
            .collect()
    });
    Ok(rows.into_iter().flatten().collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::docker::fake::FakeEngine;
    use crate::registry::manifest::IndexEntry;
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A registry in memory: tags → digests; `fail` makes every call an error.
    #[derive(Default)]
    struct FakeRegistry {
        tags: BTreeMap<String, String>,
        children: BTreeMap<String, Vec<String>>,
        fail: Option<String>,
        heads: AtomicUsize,
    }

    impl FakeRegistry {
        fn with(tags: &[(&str, &str)]) -> FakeRegistry {
            FakeRegistry {
                tags: tags
                    .iter()
                    .map(|(t, d)| (t.to_string(), d.to_string()))
                    .collect(),
                ..FakeRegistry::default()
            }
        }
    }

    impl Registry for FakeRegistry {
        fn tags(&self, _: &Reference) -> Result<Vec<String>> {
            match &self.fail {
                Some(e) => bail!("{e}"),
                None => Ok(self.tags.keys().cloned().collect()),
            }
        }
        fn digest(&self, _: &Reference, tag: &str) -> Result<Option<String>> {
            self.heads.fetch_add(1, Ordering::Relaxed);
            match &self.fail {
                Some(e) => bail!("{e}"),
                None => Ok(self.tags.get(tag).cloned()),
            }
        }
        fn index_children(&self, _: &Reference, tag: &str) -> Result<Option<Vec<IndexEntry>>> {
            let digest = self.tags.get(tag);
            Ok(digest.map(|d| {
                self.children
                    .get(d)
                    .into_iter()
                    .flatten()
                    .map(|c| IndexEntry {
                        digest: c.clone(),
                        platform: None,
                    })
                    .collect()
            }))
        }
        fn requests(&self) -> usize {
            self.heads.load(Ordering::Relaxed)
        }
    }

    /// One container `web` created as `created_as`, its image known by `repo_tags`
    /// and `repo_digests`.
    fn engine(
        created_as: &str,
        running: bool,
        repo_tags: &[&str],
        repo_digests: &[&str],
    ) -> FakeEngine {
        FakeEngine::default()
            .container("web", created_as, "sha256:img", running)
            .image("sha256:img", repo_tags, repo_digests)
    }

    /// Checks `config` the way `check_all` does, with the engine's lists.
    fn check_one(
        engine: &FakeEngine,
        registry: &FakeRegistry,
        config: &ImageConfig,
    ) -> Vec<ImageReport> {
        let inventory = Inventory::read(engine, None).unwrap();
        let remote = remote_for(registry, config, Resolution::Probe, &Known::default());
        report_image(engine, registry, Ok(&inventory), config, remote)
    }

    fn config(regex: Option<&str>) -> ImageConfig {
        ImageConfig {
            image: "r.io/app".into(),
            regex: regex.map(|r| regex::Regex::new(r).unwrap()),
            base_tag: "latest".into(),
            auto_update: false,
            container_name: None,
            cleanup_old_images: false,
            keep_versions: 3,
            registry: None,
            grace_seconds: 1,
            health_timeout_seconds: 1,
        }
    }

    const SEMVER: &str = r"^[0-9]+\.[0-9]+\.[0-9]+$";

    fn d(n: u32) -> String {
        format!("sha256:{n:064}")
    }

    struct Case {
        name: &'static str,
        registry: Vec<(&'static str, String)>,
        created_as: &'static str,
        repo_tags: Vec<&'static str>,
        repo_digests: Vec<String>,
        regex: Option<&'static str>,
        // status, current, latest, base version, max manifest requests
        want: (
            Status,
            Option<&'static str>,
            Option<&'static str>,
            Option<&'static str>,
            usize,
        ),
    }

    #[test]
    fn decisions() {
        let many: Vec<(&'static str, String)> = vec![
            ("1.9.0", d(9)),
            ("1.10.0", d(10)),
            ("1.2.0", d(2)),
            ("latest", d(10)),
            ("nightly", d(99)),
        ];
        let cases = vec![
            Case {
                name: "runs the newest version tag",
                registry: many.clone(),
                created_as: "r.io/app:1.10.0",
                repo_tags: vec!["r.io/app:1.10.0"],
                repo_digests: vec![format!("r.io/app@{}", d(10))],
                regex: Some(SEMVER),
                want: (
                    Status::UpToDate,
                    Some("1.10.0"),
                    Some("1.10.0"),
                    Some("1.10.0"),
                    2,
                ),
            },
            Case {
                name: "numeric order, not lexical: 1.10.0 is newer than 1.9.0",
                registry: many.clone(),
                created_as: "r.io/app:1.9.0",
                repo_tags: vec!["r.io/app:1.9.0"],
                repo_digests: vec![format!("r.io/app@{}", d(9))],
                regex: Some(SEMVER),
                want: (
                    Status::UpdateAvailable,
                    Some("1.9.0"),
                    Some("1.10.0"),
                    Some("1.10.0"),
                    2,
                ),
            },
            Case {
                name: "runs latest: version found by digest, no extra request",
                registry: many.clone(),
                created_as: "r.io/app:latest",
                repo_tags: vec!["r.io/app:latest"],
                repo_digests: vec![format!("r.io/app@{}", d(10))],
                regex: Some(SEMVER),
                want: (
                    Status::UpToDate,
                    Some("1.10.0"),
                    Some("1.10.0"),
                    Some("1.10.0"),
                    2,
                ),
            },
            Case {
                name: "runs an old latest: found by probing older versions",
                registry: many.clone(),
                created_as: "r.io/app:latest",
                repo_tags: vec!["r.io/app:latest"],
                repo_digests: vec![format!("r.io/app@{}", d(2))],
                regex: Some(SEMVER),
                want: (
                    Status::UpdateAvailable,
                    Some("1.2.0"),
                    Some("1.10.0"),
                    Some("1.10.0"),
                    4,
                ),
            },
            Case {
                name: "a local version tag names the version",
                registry: many.clone(),
                created_as: "r.io/app:latest",
                repo_tags: vec!["r.io/app:latest", "r.io/app:1.9.0"],
                repo_digests: vec![],
                regex: Some(SEMVER),
                want: (
                    Status::UpdateAvailable,
                    Some("1.9.0"),
                    Some("1.10.0"),
                    Some("1.10.0"),
                    2,
                ),
            },
            Case {
                name: "ahead of the registry is not a downgrade",
                registry: many.clone(),
                created_as: "r.io/app:2.0.0",
                repo_tags: vec!["r.io/app:2.0.0"],
                repo_digests: vec![],
                regex: Some(SEMVER),
                want: (
                    Status::UpToDate,
                    Some("2.0.0"),
                    Some("1.10.0"),
                    Some("1.10.0"),
                    2,
                ),
            },
            Case {
                name: "no regex: digest tracking, unchanged",
                registry: many.clone(),
                created_as: "r.io/app:latest",
                repo_tags: vec![],
                repo_digests: vec![format!("r.io/app@{}", d(10))],
                regex: None,
                want: (Status::UpToDate, None, None, None, 1),
            },
            Case {
                name: "no regex: digest tracking, new push",
                registry: many.clone(),
                created_as: "r.io/app:latest",
                repo_tags: vec![],
                repo_digests: vec![format!("r.io/app@{}", d(3))],
                regex: None,
                want: (Status::UpdateAvailable, None, None, None, 1),
            },
            Case {
                name: "stopped container",
                registry: many.clone(),
                created_as: "r.io/app:1.9.0",
                repo_tags: vec![],
                repo_digests: vec![],
                regex: Some(SEMVER),
                want: (
                    Status::NotRunning,
                    Some("1.9.0"),
                    Some("1.10.0"),
                    Some("1.10.0"),
                    2,
                ),
            },
            Case {
                name: "base tag missing: a note, not a failure",
                registry: vec![("1.0.0", d(1)), ("1.1.0", d(11))],
                created_as: "r.io/app:1.0.0",
                repo_tags: vec![],
                repo_digests: vec![],
                regex: Some(SEMVER),
                want: (
                    Status::UpdateAvailable,
                    Some("1.0.0"),
                    Some("1.1.0"),
                    None,
                    2,
                ),
            },
        ];
        for case in cases {
            let registry = FakeRegistry::with(
                &case
                    .registry
                    .iter()
                    .map(|(t, d)| (*t, d.as_str()))
                    .collect::<Vec<_>>(),
            );
            let running = case.name != "stopped container";
            let digests: Vec<&str> = case.repo_digests.iter().map(String::as_str).collect();
            let engine = engine(case.created_as, running, &case.repo_tags, &digests);
            let rows = check_one(&engine, &registry, &config(case.regex));
            assert_eq!(engine.inspects(), 0, "{}: the lists suffice", case.name);
            assert_eq!(rows.len(), 1, "{}", case.name);
            let r = &rows[0];
            let (status, current, latest, base, max_heads) = case.want;
            assert_eq!(r.status, status, "{}: {r:?}", case.name);
            assert_eq!(r.current_version.as_deref(), current, "{}", case.name);
            assert_eq!(r.latest_version.as_deref(), latest, "{}", case.name);
            assert_eq!(r.base_tag_version.as_deref(), base, "{}", case.name);
            assert!(
                registry.requests() <= max_heads,
                "{}: {} manifest requests",
                case.name,
                registry.requests()
            );
        }
    }

    #[test]
    fn a_platform_manifest_of_the_newest_index_is_the_newest() {
        let mut registry =
            FakeRegistry::with(&[("1.0.0", &d(1)), ("2.0.0", &d(2)), ("latest", &d(2))]);
        registry.children.insert(d(2), vec![d(21), d(22)]);
        let platform = format!("r.io/app@{}", d(22));
        let engine = engine(&platform, true, &[], &[&platform]);
        let rows = check_one(&engine, &registry, &config(Some(SEMVER)));
        assert_eq!(rows[0].status, Status::UpToDate, "{:?}", rows[0]);
        assert_eq!(rows[0].current_version.as_deref(), Some("2.0.0"));
    }

    #[test]
    fn registry_errors_fail_the_image_and_never_feed_a_decision() {
        let registry = FakeRegistry {
            fail: Some("GET https://r.io/v2/: HTTP 503".into()),
            ..FakeRegistry::default()
        };
        let engine = engine("r.io/app:1.0.0", true, &[], &[]);
        let rows = check_one(&engine, &registry, &config(Some(SEMVER)));
        assert_eq!(rows[0].status, Status::Failed);
        assert_eq!(rows[0].container.as_deref(), Some("web"));
        assert!(
            rows[0].error.as_deref().unwrap().contains("503"),
            "{:?}",
            rows[0]
        );
        assert!(rows[0].latest_version.is_none());
    }

    #[test]
    fn an_unchanged_base_tag_keeps_its_earlier_version() {
        struct Case {
            name: &'static str,
            // extra or changed tags on top of 1.0.0, 1.1.0, 1.2.0 (digests 1, 2, 3)
            tags: Vec<(&'static str, u32)>,
            known: Option<(&'static str, u32)>,
            // base version, newest, newest digest, manifest requests
            want: (Option<&'static str>, &'static str, u32, usize),
        }
        let cases = vec![
            Case {
                name: "no earlier check",
                tags: vec![("latest", 3)],
                known: None,
                want: (Some("1.2.0"), "1.2.0", 3, 2),
            },
            Case {
                name: "unchanged: only the base tag is asked",
                tags: vec![("latest", 3)],
                known: Some(("1.2.0", 3)),
                want: (Some("1.2.0"), "1.2.0", 3, 1),
            },
            Case {
                name: "a rebuild of the same version moves the base tag",
                tags: vec![("1.2.0", 4), ("latest", 4)],
                known: Some(("1.2.0", 3)),
                want: (Some("1.2.0"), "1.2.0", 4, 2),
            },
            Case {
                name: "the base tag moves to a new version",
                tags: vec![("1.3.0", 5), ("latest", 5)],
                known: Some(("1.2.0", 3)),
                want: (Some("1.3.0"), "1.3.0", 5, 2),
            },
            Case {
                name: "the base tag stays behind a new version",
                tags: vec![("1.3.0", 5), ("latest", 3)],
                known: Some(("1.2.0", 3)),
                want: (Some("1.2.0"), "1.3.0", 5, 2),
            },
            Case {
                name: "the base tag moves back to an older version",
                tags: vec![("latest", 2)],
                known: Some(("1.2.0", 3)),
                want: (Some("1.1.0"), "1.2.0", 3, 4),
            },
            Case {
                name: "the earlier version is no longer listed",
                tags: vec![("latest", 3)],
                known: Some(("1.9.0", 3)),
                want: (Some("1.2.0"), "1.2.0", 3, 2),
            },
            Case {
                name: "an earlier digest the base tag no longer has",
                tags: vec![("latest", 3)],
                known: Some(("1.1.0", 9)),
                want: (Some("1.2.0"), "1.2.0", 3, 2),
            },
            Case {
                name: "the base tag points at no version any more",
                tags: vec![("latest", 7)],
                known: Some(("1.2.0", 3)),
                want: (None, "1.2.0", 3, 4),
            },
        ];
        for case in cases {
            let tags: BTreeMap<String, String> = [("1.0.0", 1), ("1.1.0", 2), ("1.2.0", 3)]
                .into_iter()
                .chain(case.tags)
                .map(|(t, n)| (t.to_string(), d(n)))
                .collect();
            let registry = FakeRegistry {
                tags,
                ..FakeRegistry::default()
            };
            let known = case.known.map(|(version, n)| Resolved {
                version: version.to_string(),
                digest: d(n),
            });
            let remote = super::remote(
                &registry,
                &Reference::parse("r.io/app").unwrap(),
                &config(Some(SEMVER)),
                Resolution::Probe,
                known.as_ref(),
            )
            .unwrap();
            let (base, newest, newest_digest, requests) = case.want;
            assert_eq!(remote.base_version.as_deref(), base, "{}", case.name);
            assert_eq!(remote.newest(), Some(newest), "{}", case.name);
            assert_eq!(
                remote.digests.get(newest),
                Some(&d(newest_digest)),
                "{}",
                case.name
            );
            assert_eq!(
                registry.requests(),
                requests,
                "{}: manifest requests",
                case.name
            );
        }
    }

    #[test]
    fn a_regex_matching_no_tag_says_so_and_how_to_find_one() {
        let registry = FakeRegistry::with(&[("latest", &d(1)), ("nightly", &d(2))]);
        for resolution in [Resolution::Probe, Resolution::Naive] {
            let err = super::remote(
                &registry,
                &Reference::parse("r.io/app").unwrap(),
                &config(Some(SEMVER)),
                resolution,
                None,
            )
            .unwrap_err();
            assert_eq!(
                format!("{err:#}"),
                format!(
                    "none of the 2 tags of r.io/app matches {SEMVER} (see `dum tags r.io/app`)"
                ),
                "{resolution:?}"
            );
        }
    }

    #[test]
    fn resolution_cost_does_not_grow_with_the_tag_count() {
        let tags: Vec<(String, String)> = (0..3000)
            .map(|i| (format!("1.{}.{}", i / 100, i % 100), d(i)))
            .collect();
        let mut all: Vec<(&str, &str)> =
            tags.iter().map(|(t, d)| (t.as_str(), d.as_str())).collect();
        let newest_digest = d(2999);
        all.push(("latest", &newest_digest));
        let registry = FakeRegistry::with(&all);
        let probed = super::remote(
            &registry,
            &Reference::parse("r.io/app").unwrap(),
            &config(Some(SEMVER)),
            Resolution::Probe,
            None,
        )
        .unwrap();
        assert_eq!(probed.base_version.as_deref(), Some("1.29.99"));
        assert_eq!(
            registry.requests(),
            2,
            "base tag + newest, whatever the tag count"
        );
        let naive = FakeRegistry::with(&all);
        super::remote(
            &naive,
            &Reference::parse("r.io/app").unwrap(),
            &config(Some(SEMVER)),
            Resolution::Naive,
            None,
        )
        .unwrap();
        assert_eq!(naive.requests(), 3001);
    }
}
