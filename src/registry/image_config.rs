//! What a registry says about one image digest beyond its digest: when it was built
//! (the `org.opencontainers.image.created` annotations and the config's `created`) and
//! the labels of its image config (source repository, revision). Read for the digests a
//! policy must judge (minimum age, release notes), never for images with nothing
//! pending: at most three requests a digest (index, platform manifest, config blob).

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

use super::Registry;
use super::manifest::{Descriptor, Document, Platform};
use crate::image::reference::Reference;

/// The annotation OCI images carry their build time in.
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// Where a build time was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CreatedSource {
    /// The index's `org.opencontainers.image.created` annotation.
    IndexAnnotation,
    /// The chosen platform's descriptor in the index.
    DescriptorAnnotation,
    /// The platform manifest's annotation.
    ManifestAnnotation,
    /// The image config's `created`.
    Config,
}

/// What the registry says about one image digest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageFacts {
    /// Every build time found, in the order they count (first usable wins), raw.
    pub created: Vec<(CreatedSource, String)>,
    /// The labels of the image config.
    pub labels: BTreeMap<String, String>,
    /// The platform manifest's digest (the digest itself for a single-platform image).
    pub platform_digest: String,
}

#[derive(Deserialize, Default)]
struct ConfigBlob {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    config: Option<ConfigSection>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ConfigSection {
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// Reads `digest` of `image` (an index or a single-platform manifest), the manifest of
/// the platform `platform` gives when it is an index (asked only then: finding it may
/// cost a request of its own, an engine inspect, that a single-platform image never
/// needs), and that manifest's config blob.
pub fn fetch_with(
    registry: &dyn Registry,
    image: &Reference,
    digest: &str,
    platform: &mut dyn FnMut() -> Result<Platform>,
) -> Result<ImageFacts> {
    let what = || format!("{}@{digest}", image.name());
    let top = registry
        .manifest(image, digest)
        .with_context(what)?
        .ok_or_else(|| anyhow!("{}: the registry has no manifest {digest}", image.name()))?;
    let top_doc = top.document()?;
    let (index, descriptor, manifest) = if top.is_index() {
        let platform = &platform()?;
        let entry = choose(&top_doc.manifests, platform).ok_or_else(|| {
            anyhow!(
                "{}: index {digest} has no manifest for {}/{}",
                image.name(),
                platform.os,
                platform.architecture
            )
        })?;
        let child = registry
            .manifest(image, &entry.digest)
            .with_context(what)?
            .ok_or_else(|| {
                anyhow!(
                    "{}: the registry has no manifest {} (listed in {digest})",
                    image.name(),
                    entry.digest
                )
            })?;
        let child_doc = child.document()?;
        (
            Some(top_doc.clone()),
            Some(entry.clone()),
            (child.digest, child_doc),
        )
    } else {
        (None, None, (top.digest.clone(), top_doc))
    };
    let (platform_digest, manifest) = manifest;
    let config_digest = manifest
        .config
        .as_ref()
        .map(|c| c.digest.clone())
        .ok_or_else(|| anyhow!("{}: manifest {platform_digest} has no config", image.name()))?;
    let blob = registry
        .blob(image, &config_digest)
        .with_context(what)?
        .ok_or_else(|| {
            anyhow!(
                "{}: the registry has no config blob {config_digest}",
                image.name()
            )
        })?;
    let config: ConfigBlob = serde_json::from_slice(&blob).map_err(|e| {
        anyhow!(
            "{}: config blob {config_digest} is not JSON ({e})",
            image.name()
        )
    })?;
    Ok(facts(
        index.as_ref(),
        descriptor.as_ref(),
        &manifest,
        config,
        platform_digest,
    ))
}

/// The entry of `entries` for `platform` (os and architecture equal; the variant when
/// both give one); attestation entries (`unknown/unknown`) never match.
pub fn choose<'a>(entries: &'a [Descriptor], platform: &Platform) -> Option<&'a Descriptor> {
    entries.iter().find(|e| {
        e.platform.as_ref().is_some_and(|p| {
            p.os == platform.os
                && p.architecture == platform.architecture
                && (p.variant.is_empty()
                    || platform.variant.is_empty()
                    || p.variant == platform.variant)
        })
    })
}

fn facts(
    index: Option<&Document>,
    descriptor: Option<&Descriptor>,
    manifest: &Document,
    config: ConfigBlob,
    platform_digest: String,
) -> ImageFacts {
    let mut created = Vec::new();
    let mut add = |source, annotations: Option<&BTreeMap<String, String>>| {
        if let Some(v) = annotations.and_then(|a| a.get(CREATED_ANNOTATION)) {
            created.push((source, v.clone()));
        }
    };
    add(
        CreatedSource::IndexAnnotation,
        index.map(|i| &i.annotations),
    );
    add(
        CreatedSource::DescriptorAnnotation,
        descriptor.map(|d| &d.annotations),
    );
    add(
        CreatedSource::ManifestAnnotation,
        Some(&manifest.annotations),
    );
    if let Some(c) = config.created {
        created.push((CreatedSource::Config, c));
    }
    ImageFacts {
        created,
        labels: config.config.and_then(|c| c.labels).unwrap_or_default(),
        platform_digest,
    }
}

/// The platform an engine reports (`Os`, `Architecture` of `/version` or `/info`) as
/// an OCI platform: Docker already speaks OCI names (`amd64`, `arm64`).
pub fn platform(os: &str, architecture: &str, variant: &str) -> Result<Platform> {
    if os.is_empty() || architecture.is_empty() {
        bail!("the engine reports no OS or architecture");
    }
    Ok(Platform {
        os: os.to_string(),
        architecture: architecture.to_string(),
        variant: variant.to_string(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: serde_json::Value) -> Document {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn build_times_are_listed_in_the_order_they_count() {
        let ann = |t: &str| json!({ CREATED_ANNOTATION: t });
        let index = doc(json!({"manifests": [], "annotations": ann("2024-01-01T00:00:00Z")}));
        let entry: Descriptor = serde_json::from_value(json!({
            "digest": "sha256:a", "annotations": ann("2024-01-02T00:00:00Z"),
            "platform": {"os": "linux", "architecture": "amd64"}
        }))
        .unwrap();
        let manifest = doc(
            json!({"config": {"digest": "sha256:c"}, "annotations": ann("2024-01-03T00:00:00Z")}),
        );
        let config: ConfigBlob = serde_json::from_value(json!({
            "created": "2024-01-04T00:00:00Z",
            "config": {"Labels": {"org.opencontainers.image.source": "https://x/y"}}
        }))
        .unwrap();
        let f = facts(
            Some(&index),
            Some(&entry),
            &manifest,
            config,
            "sha256:a".into(),
        );
        let sources: Vec<_> = f.created.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            sources,
            [
                CreatedSource::IndexAnnotation,
                CreatedSource::DescriptorAnnotation,
                CreatedSource::ManifestAnnotation,
                CreatedSource::Config
            ]
        );
        assert_eq!(f.labels["org.opencontainers.image.source"], "https://x/y");
        let bare = facts(
            None,
            None,
            &doc(json!({})),
            ConfigBlob::default(),
            String::new(),
        );
        assert!(bare.created.is_empty() && bare.labels.is_empty());
    }

    #[test]
    fn the_platform_entry_is_chosen_by_os_architecture_and_variant() {
        let entries: Vec<Descriptor> = serde_json::from_value(json!([
            {"digest": "sha256:att", "platform": {"os": "unknown", "architecture": "unknown"}},
            {"digest": "sha256:v7", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
            {"digest": "sha256:v6", "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
            {"digest": "sha256:amd", "platform": {"os": "linux", "architecture": "amd64"}},
            {"digest": "sha256:none"}
        ]))
        .unwrap();
        let cases = [
            (("linux", "amd64", ""), Some("sha256:amd")),
            (("linux", "arm", "v6"), Some("sha256:v6")),
            (("linux", "arm", ""), Some("sha256:v7")),
            (("linux", "s390x", ""), None),
            (("windows", "amd64", ""), None),
        ];
        for ((os, arch, variant), want) in cases {
            let p = platform(os, arch, variant).unwrap();
            assert_eq!(
                choose(&entries, &p).map(|d| d.digest.as_str()),
                want,
                "{os}/{arch}/{variant}"
            );
        }
        assert!(platform("", "amd64", "").is_err());
    }
}
