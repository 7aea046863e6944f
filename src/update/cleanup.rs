//! Pruning old versions of a repository's images after a verified update: keep the
//! newest `keep_versions` (the running one counts, so `dum rollback` works offline),
//! never touch an image a container uses.

use std::cmp::Ordering;
use std::collections::HashSet;

use regex::Regex;
use serde::Serialize;

use anyhow::Result;

use crate::config::ImageConfig;
use crate::docker::types::ImageSummary;
use crate::docker::{Engine, EngineError};
use crate::image::reference::Reference;
use crate::image::version;
use crate::store::history::ResultKind;
use crate::update::Applied;

/// One image to remove: the references of this repository that point at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removal {
    /// Image ID.
    pub id: String,
    /// `repo:tag` / `repo@digest` references to delete, in this repository only.
    pub references: Vec<String>,
    /// Its version, when one of its tags is a version.
    pub version: Option<String>,
    /// Bytes freed when the image goes entirely.
    pub size: i64,
    /// Whether other repositories also reference it (then it stays, only untagged here).
    pub shared: bool,
}

struct Candidate<'a> {
    image: &'a ImageSummary,
    references: Vec<String>,
    version: Option<String>,
    foreign: bool,
}

/// Which images of `repo` to remove. `in_use`: image IDs any container uses.
pub fn plan(
    images: &[ImageSummary],
    repo: &Reference,
    regex: Option<&Regex>,
    in_use: &HashSet<String>,
    keep: usize,
) -> Vec<Removal> {
    let same = |r: &Reference| r.registry == repo.registry && r.repository == repo.repository;
    let mut candidates: Vec<Candidate> = Vec::new();
    for image in images {
        let mut references = Vec::new();
        let mut versions = Vec::new();
        let mut foreign = false;
        let all = image
            .repo_tags
            .iter()
            .flatten()
            .chain(image.repo_digests.iter().flatten());
        for text in all {
            match Reference::parse(text) {
                Ok(r) if same(&r) => {
                    if let Some(tag) = &r.tag
                        && regex.is_some_and(|re| re.is_match(tag))
                    {
                        versions.push(tag.clone());
                    }
                    references.push(text.clone());
                }
                Ok(_) => foreign |= !text.contains("<none>"),
                Err(_) => {}
            }
        }
        if references.is_empty() {
            continue;
        }
        let version = version::max(versions.iter().map(String::as_str)).map(str::to_string);
        candidates.push(Candidate {
            image,
            references,
            version,
            foreign,
        });
    }
    // Newest first: versioned images by version, then the rest by creation time.
    candidates.sort_by(|a, b| match (&a.version, &b.version) {
        (Some(x), Some(y)) => version::compare(y, x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => b.image.created.cmp(&a.image.created),
    });
    let mut kept = 0;
    let mut removals = Vec::new();
    for c in candidates {
        if in_use.contains(&c.image.id) || kept < keep {
            kept += 1;
            continue;
        }
        // Digest references go after tags: deleting the last tag may already remove them.
        let mut references = c.references;
        references.sort_by_key(|r| r.contains('@'));
        removals.push(Removal {
            id: c.image.id.clone(),
            references,
            version: c.version,
            size: c.image.size,
            shared: c.foreign,
        });
    }
    removals
}

/// Images removed for one repository after its update.
#[derive(Debug, Serialize)]
pub struct CleanupReport {
    /// The configured image.
    pub image: String,
    /// Versions (or image IDs) removed.
    pub removed: Vec<String>,
    /// Bytes freed.
    pub freed_bytes: i64,
    /// What could not be removed, and why.
    pub errors: Vec<String>,
}

/// Removes old versions of every repository that was updated and asks for cleanup
/// (`cleanup_old_images`). Failures are in the reports, never fatal: the update worked.
pub fn after(
    engine: &dyn Engine,
    images: &[ImageConfig],
    applied: &[Applied],
) -> Vec<CleanupReport> {
    let mut reports = Vec::new();
    for config in images.iter().filter(|c| c.cleanup_old_images) {
        if !applied
            .iter()
            .any(|a| a.result == ResultKind::Updated && a.mv.image == config.image)
        {
            continue;
        }
        let mut report = CleanupReport {
            image: config.image.clone(),
            removed: Vec::new(),
            freed_bytes: 0,
            errors: Vec::new(),
        };
        if let Err(e) = prune(engine, config, &mut report) {
            report.errors.push(format!("{e:#}"));
        }
        for e in &report.errors {
            log::warn!("cleanup of {}: {e}", config.image);
        }
        reports.push(report);
    }
    reports
}

fn prune(engine: &dyn Engine, config: &ImageConfig, report: &mut CleanupReport) -> Result<()> {
    let reference = Reference::parse(&config.image)?;
    let all_images = engine.images()?;
    let in_use: HashSet<String> = engine
        .containers()?
        .iter()
        .map(|c| c.image_id.clone())
        .collect();
    let keep = config.keep_versions as usize;
    for removal in plan(
        &all_images,
        &reference,
        config.regex.as_ref(),
        &in_use,
        keep,
    ) {
        let mut ok = true;
        for r in &removal.references {
            match engine.remove_image(r) {
                Ok(()) => {}
                // Removing the last tag may already have removed the digest names.
                Err(e) if EngineError::is_not_found(&e) => {}
                Err(e) => {
                    report.errors.push(format!("{r}: {e:#}"));
                    ok = false;
                }
            }
        }
        if ok {
            report.removed.push(
                removal
                    .version
                    .clone()
                    .unwrap_or_else(|| removal.id.clone()),
            );
            if !removal.shared {
                report.freed_bytes += removal.size;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn image(id: &str, tags: &[&str], created: i64) -> ImageSummary {
        // Pulled images also carry a digest name in the repository of their first tag.
        let repo = tags[0].rsplit_once(':').map_or(tags[0], |(r, _)| r);
        let hex: String = id.repeat(64).chars().take(64).collect();
        ImageSummary {
            id: id.into(),
            repo_tags: Some(tags.iter().map(|s| s.to_string()).collect()),
            repo_digests: Some(vec![format!("{repo}@sha256:{hex}")]),
            created,
            size: 100,
            descriptor: None,
        }
    }

    #[test]
    fn keeps_the_newest_and_what_runs() {
        let re = Regex::new(r"^[0-9]+\.[0-9]+$").unwrap();
        let repo = Reference::parse("r.io/app").unwrap();
        let images = vec![
            image("a", &["r.io/app:1.9"], 1),
            image("b", &["r.io/app:1.10", "r.io/app:latest"], 2),
            image("c", &["r.io/app:1.2"], 3),
            image("d", &["r.io/app:1.1"], 4),
            image("e", &["other.io/x:1"], 5),
            image("f", &["r.io/app:1.0", "mine/app:keep"], 0),
        ];
        let cases: &[(usize, &[&str], &[&str])] = &[
            (1, &[], &["a", "c", "d", "f"]),
            (2, &[], &["c", "d", "f"]),
            (2, &["d"], &["c", "f"]),
            (3, &["d"], &["f"]),
            (10, &[], &[]),
        ];
        for (keep, used, want) in cases {
            let in_use: HashSet<String> = used.iter().map(|s| s.to_string()).collect();
            let got: Vec<String> = plan(&images, &repo, Some(&re), &in_use, *keep)
                .into_iter()
                .map(|r| r.id)
                .collect();
            assert_eq!(got, *want, "keep {keep} in use {used:?}");
        }
        let f = plan(&images, &repo, Some(&re), &HashSet::new(), 4);
        assert_eq!(f.len(), 1);
        assert!(f[0].shared, "f is also tagged in another repository");
        assert_eq!(f[0].references[0], "r.io/app:1.0");
        assert!(
            f[0].references[1].contains('@'),
            "digest references come last"
        );
    }
}
