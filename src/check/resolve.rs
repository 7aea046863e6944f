//! What the registry says about one image: its version tags in order, the newest
//! versions' digests, and which version the base tag points to, found by comparing
//! manifest digests (newest first, a few at a time, with what the last check learnt).

use std::collections::HashMap;

use anyhow::{Result, anyhow, bail};

use crate::config::ImageConfig;
use crate::image::reference::Reference;
use crate::image::select;
use crate::registry::Registry;
use crate::store::state::DigestRecord;

/// Base-tag resolution probes at most this many version tags.
pub(super) const RESOLUTION_LIMIT: usize = 64;
/// Version tags probed together after the first.
const RESOLUTION_BATCH: usize = 4;

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
pub(super) fn head_all(
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

/// What earlier checks learnt, from the state file: base tags' resolutions by image
/// and base tag, and what is known of each watched repository's digests.
#[derive(Debug, Clone, Default)]
pub struct Known {
    resolved: HashMap<(String, String), Resolved>,
    digests: HashMap<String, std::collections::BTreeMap<String, DigestRecord>>,
}

impl Known {
    /// Remembers that `base_tag` of `image` had `resolved.digest`, pointing at
    /// `resolved.version`.
    pub fn insert(&mut self, image: &str, base_tag: &str, resolved: Resolved) {
        self.resolved
            .insert((image.to_string(), base_tag.to_string()), resolved);
    }

    /// The earlier resolution of `config`'s base tag, if any.
    pub fn get(&self, config: &ImageConfig) -> Option<&Resolved> {
        self.resolved
            .get(&(config.image.clone(), config.base_tag.clone()))
    }

    /// Remembers what is known of `image`'s digests.
    pub fn insert_digests(
        &mut self,
        image: &str,
        digests: std::collections::BTreeMap<String, DigestRecord>,
    ) {
        self.digests.insert(image.to_string(), digests);
    }

    /// What is known of `digest` of `image`; the outer `None` when no check has seen
    /// the repository yet (its first).
    pub fn digest(&self, image: &str, digest: &str) -> Option<Option<&DigestRecord>> {
        self.digests.get(image).map(|d| d.get(digest))
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
pub(super) fn no_version_tags(
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
pub(super) fn remote_naive(
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
pub(super) fn find_version(
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
