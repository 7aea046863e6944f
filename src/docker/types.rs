//! The parts of the engine's JSON that dum reads, typed. Unknown fields are ignored
//! so newer engines keep working; inspect documents are also kept raw where the whole
//! document matters (recreating a container).

use std::collections::BTreeMap;

use serde::Deserialize;

/// `GET /version`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionInfo {
    /// Engine version, e.g. "20.10.24".
    #[serde(default)]
    pub version: String,
    /// Highest API version the engine speaks.
    #[serde(default)]
    pub api_version: String,
    /// Lowest API version the engine accepts.
    #[serde(default, rename = "MinAPIVersion")]
    pub min_api_version: Option<String>,
}

/// One row of `GET /containers/json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    /// Full container ID.
    pub id: String,
    /// Names with a leading slash.
    #[serde(default)]
    pub names: Vec<String>,
    /// The image as the user named it at create time (or an ID).
    #[serde(default)]
    pub image: String,
    /// The image ID.
    #[serde(default, rename = "ImageID")]
    pub image_id: String,
    /// `running`, `exited`, …
    #[serde(default)]
    pub state: String,
    /// Container labels.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

impl ContainerSummary {
    /// The primary name without the leading slash.
    pub fn name(&self) -> &str {
        self.names
            .first()
            .map(|n| n.trim_start_matches('/'))
            .unwrap_or(&self.id)
    }
}

/// `State` of a container inspect.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerState {
    /// `running`, `exited`, `created`, …
    #[serde(default)]
    pub status: String,
    /// Whether the process is running.
    #[serde(default)]
    pub running: bool,
    /// Whether the container is in a restart loop.
    #[serde(default)]
    pub restarting: bool,
    /// Whether the container is paused (it is running too).
    #[serde(default)]
    pub paused: bool,
    /// Exit code of the last run.
    #[serde(default)]
    pub exit_code: i64,
    /// Health, when the container has a healthcheck.
    #[serde(default)]
    pub health: Option<Health>,
}

/// Healthcheck status.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// `starting`, `healthy`, `unhealthy`.
    #[serde(default)]
    pub status: String,
}

/// `Config` of a container inspect (only what dum reads by name).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// The image reference the container was created from, as the user wrote it.
    #[serde(default)]
    pub image: String,
    /// Labels.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

/// `GET /containers/{id}/json`: typed view plus the raw document.
#[derive(Debug, Clone)]
pub struct ContainerInspect {
    /// Full ID.
    pub id: String,
    /// Name without the leading slash.
    pub name: String,
    /// Image ID (`sha256:…`).
    pub image_id: String,
    /// Config section.
    pub config: ContainerConfig,
    /// State section.
    pub state: ContainerState,
    /// The whole document as the engine sent it.
    pub raw: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerInspectWire {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    image: String,
    #[serde(default)]
    config: ContainerConfig,
    #[serde(default)]
    state: ContainerState,
}

impl ContainerInspect {
    /// Builds the typed view from the raw document.
    pub fn from_value(raw: serde_json::Value) -> serde_json::Result<ContainerInspect> {
        let wire: ContainerInspectWire = serde_json::from_value(raw.clone())?;
        Ok(ContainerInspect {
            id: wire.id,
            name: wire.name.trim_start_matches('/').to_string(),
            image_id: wire.image,
            config: wire.config,
            state: wire.state,
            raw,
        })
    }
}

/// `GET /images/{name}/json`: typed view plus the raw document.
#[derive(Debug, Clone)]
pub struct ImageInspect {
    /// Image ID (`sha256:…` of the config).
    pub id: String,
    /// `name:tag` references pointing at this image.
    pub repo_tags: Vec<String>,
    /// `name@sha256:…` manifest digests this image was pulled or pushed as.
    pub repo_digests: Vec<String>,
    /// The content the engine stores the image as (containerd image store, API ≥ 1.48).
    pub descriptor: Option<Descriptor>,
    /// The manifests of the stored content (containerd image store), when asked for
    /// (`?manifests=1`, API ≥ 1.48): empty otherwise.
    pub manifests: Vec<ImageManifest>,
    /// The whole document as the engine sent it.
    pub raw: serde_json::Value,
}

/// One manifest of an image the containerd image store keeps (`Manifests[]` of
/// `GET /images/{name}/json?manifests=1`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageManifest {
    /// The manifest's digest.
    #[serde(rename = "ID")]
    pub id: String,
    /// `image`, `attestation` or `unknown`.
    #[serde(default)]
    pub kind: String,
    /// Whether its content is all here (a pulled platform), not only listed.
    #[serde(default)]
    pub available: bool,
    /// For an `image` manifest: what it runs on.
    #[serde(default)]
    pub image_data: Option<ManifestImageData>,
}

/// `ImageData` of an image manifest.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManifestImageData {
    /// OS, architecture and variant.
    #[serde(default)]
    pub platform: Platform,
}

/// An OCI platform (lower-case keys, as the engine writes them).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct Platform {
    /// `linux`, …
    #[serde(default)]
    pub os: String,
    /// `amd64`, `arm64`, …
    #[serde(default)]
    pub architecture: String,
    /// `v8`, …; empty when none.
    #[serde(default)]
    pub variant: String,
}

/// An OCI descriptor: what the containerd image store keeps an image as (the index or
/// manifest it was pulled or pushed as), so its digest is a registry's digest too.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Descriptor {
    /// `sha256:…` of the content.
    pub digest: String,
    /// Its media type (index or manifest).
    #[serde(default, rename = "mediaType")]
    pub media_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImageInspectWire {
    id: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    repo_digests: Option<Vec<String>>,
    #[serde(default)]
    descriptor: Option<Descriptor>,
    #[serde(default)]
    manifests: Option<Vec<ImageManifest>>,
}

impl ImageInspect {
    /// Builds the typed view from the raw document.
    pub fn from_value(raw: serde_json::Value) -> serde_json::Result<ImageInspect> {
        let wire: ImageInspectWire = serde_json::from_value(raw.clone())?;
        Ok(ImageInspect {
            id: wire.id,
            repo_tags: wire.repo_tags.unwrap_or_default(),
            repo_digests: wire.repo_digests.unwrap_or_default(),
            descriptor: wire.descriptor,
            manifests: wire.manifests.unwrap_or_default(),
            raw,
        })
    }
}

/// One row of `GET /images/json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageSummary {
    /// Image ID.
    pub id: String,
    /// Tags.
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    /// Digests.
    #[serde(default)]
    pub repo_digests: Option<Vec<String>>,
    /// What the containerd image store keeps it as (API ≥ 1.48); absent elsewhere.
    #[serde(default)]
    pub descriptor: Option<Descriptor>,
    /// Creation time (unix seconds).
    #[serde(default)]
    pub created: i64,
    /// Size in bytes.
    #[serde(default)]
    pub size: i64,
}

/// How to recreate one container.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CreatePlan {
    /// Container name (no leading slash).
    pub name: String,
    /// Body for POST /containers/create?name=… (Config fields + HostConfig + NetworkingConfig).
    pub body: serde_json::Value,
    /// Networks to connect after create and before start, as (network name,
    /// `EndpointConfig`): the caller sends POST /networks/{name}/connect with body
    /// {"Container": <new id>, "EndpointConfig": <value>}. Only filled for engines
    /// whose API (< 1.44) accepts a single network at create.
    pub extra_networks: Vec<(String, serde_json::Value)>,
    /// Whether the old container was running (start the new one).
    pub start: bool,
}
