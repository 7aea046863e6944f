//! What a container runs: from the reference it was created with and the names its
//! image is known by locally, completed by the registry's answers when only a digest
//! tells.

use anyhow::Result;

use crate::check::inventory::{Deployed, ImageNames};
use crate::check::resolve::{Remote, find_version};
use crate::config::ImageConfig;
use crate::image::reference::Reference;
use crate::registry::Registry;

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
    /// Without a regex: whether it runs the base tag's digest (or one of its platform
    /// manifests), as [`identify`] found.
    pub runs_base: bool,
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

/// Completes `local` from the registry: the version of an image known only by its
/// digest (the known digests first, then probing newest-first; a platform manifest of
/// the newest index is the newest version too), or, without a regex, whether it runs
/// the base tag.
pub fn identify(
    registry: &dyn Registry,
    query: &Reference,
    config: &ImageConfig,
    remote: &mut Remote,
    local: &mut Local,
) -> Result<()> {
    let Some(newest) = remote.newest().map(str::to_string) else {
        let base = remote.base_digest.clone().unwrap_or_default();
        local.runs_base = local_matches(registry, query, &config.base_tag, &base, &local.digests)?;
        return Ok(());
    };
    if local.version.is_some() || local.digests.is_empty() {
        return Ok(());
    }
    for d in local.digests.clone() {
        if let Some(v) = find_version(registry, query, remote, &d)? {
            local.version = Some(v);
            return Ok(());
        }
    }
    if let Some(newest_digest) = remote.digests.get(&newest).cloned()
        && local_matches(registry, query, &newest, &newest_digest, &local.digests)?
    {
        local.version = Some(newest);
    }
    Ok(())
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
