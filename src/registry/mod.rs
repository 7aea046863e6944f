//! Talking to OCI distribution registries: the narrow trait the core uses, and its
//! HTTP implementation.

pub mod auth;
pub mod client;
pub mod credentials;
pub mod image_config;
pub mod manifest;
mod request;
pub mod resolver;

use anyhow::Result;

use crate::image::reference::Reference;
use manifest::{Descriptor, IndexEntry, Manifest};

/// What the core needs from a registry. `Sync` so rayon workers can share one client
/// (and its token cache and connection pools).
pub trait Registry: Sync {
    /// Every tag of the image's repository, all pages. A missing repository is an error.
    fn tags(&self, image: &Reference) -> Result<Vec<String>>;
    /// Hands every tag to `each` and returns how many there were. A client that can
    /// does so while the list streams in, so a long list never sits in memory whole.
    fn tags_each(&self, image: &Reference, each: &mut dyn FnMut(&str)) -> Result<usize> {
        let all = self.tags(image)?;
        all.iter().for_each(|t| each(t));
        Ok(all.len())
    }
    /// The manifest digest `reference` (a tag or digest) resolves to; `None` only when
    /// the registry answered 404. Every other failure is an error, never "missing".
    fn digest(&self, image: &Reference, reference: &str) -> Result<Option<String>>;
    /// The platform manifests of `reference` when it is an index (empty when it is a
    /// single-platform manifest); `None` on 404.
    fn index_children(&self, image: &Reference, reference: &str)
    -> Result<Option<Vec<IndexEntry>>>;
    /// The manifest `reference` (a tag or digest) whole; a digest reference is checked
    /// against the bytes. `None` only on 404.
    fn manifest(&self, image: &Reference, reference: &str) -> Result<Option<Manifest>> {
        let _ = reference;
        anyhow::bail!(
            "{}: this registry client cannot fetch manifests",
            image.name()
        )
    }
    /// The blob `digest` whole (bounded), checked against its digest; `None` on 404.
    fn blob(&self, image: &Reference, digest: &str) -> Result<Option<Vec<u8>>> {
        let _ = digest;
        anyhow::bail!("{}: this registry client cannot fetch blobs", image.name())
    }
    /// The manifests that refer to `digest` (OCI 1.1 referrers API), optionally only
    /// those of `artifact_type`; `None` when the registry has no referrers API (then
    /// clients look for the fallback tag `sha256-<hex>`).
    fn referrers(
        &self,
        image: &Reference,
        digest: &str,
        artifact_type: Option<&str>,
    ) -> Result<Option<Vec<Descriptor>>> {
        let _ = (digest, artifact_type);
        anyhow::bail!(
            "{}: this registry client cannot list referrers",
            image.name()
        )
    }
    /// Requests sent so far (for the run summary and benchmarks).
    fn requests(&self) -> usize;
}
