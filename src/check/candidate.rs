//! The candidate of a row with an update pending: what the registry says about the
//! digest it would move to ([`ImageFacts`]: build times, labels), fetched **once** per
//! digest and platform of an image and shared by every policy that judges it (release
//! notes here; minimum age and signatures read the same facts). Rows with nothing
//! pending never come here, so they cost no request.

use std::collections::{BTreeMap, HashMap};

use crate::check::Known;
use crate::check::inventory::Deployed;
use crate::docker::EngineRead;
use crate::image::reference::Reference;
use crate::policy::{age, notes};
use crate::registry::Registry;
use crate::registry::image_config::{self, CreatedSource, ImageFacts};
use crate::registry::manifest::Platform;

/// What the engine says about the image a row runs: no registry request.
#[derive(Debug, Clone, Default)]
pub struct Running {
    /// Its `Config.Labels`.
    pub labels: BTreeMap<String, String>,
    /// Its `Os`/`Architecture`/`Variant`: the engine's platform, the one a pull picks
    /// from an index.
    pub platform: Option<Platform>,
}

/// The running image of `container`, from one image inspect (by ID, or for a Swarm
/// service by the reference its spec names). An image the engine cannot show gives
/// no labels and no platform.
pub fn running(engine: &dyn EngineRead, container: &Deployed) -> Running {
    let name = if container.image_id.is_empty() {
        &container.created_as
    } else {
        &container.image_id
    };
    let inspect = match engine.inspect_image(name) {
        Ok(Some(i)) => i,
        Ok(None) => return Running::default(),
        Err(e) => {
            log::debug!("container {}: image {name}: {e:#}", container.name);
            return Running::default();
        }
    };
    let text = |key: &str| {
        inspect
            .raw
            .get(key)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let labels = inspect
        .raw
        .pointer("/Config/Labels")
        .and_then(|l| serde_json::from_value(l.clone()).ok())
        .unwrap_or_default();
    Running {
        labels,
        platform: image_config::platform(&text("Os"), &text("Architecture"), &text("Variant")).ok(),
    }
}

/// The platform of this machine, for a running image the engine could not show (a
/// Swarm service whose image is not here): Docker's names for Rust's.
fn host_platform() -> Platform {
    let architecture = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    Platform {
        os: "linux".to_string(),
        architecture: architecture.to_string(),
        variant: String::new(),
    }
}

/// The candidates of one image entry's rows, fetched on first use.
pub struct Candidates<'a> {
    registry: &'a dyn Registry,
    image: &'a Reference,
    /// The configured image, and what earlier checks read of its digests: a digest's
    /// facts never change, so a warm check asks nothing.
    known: Option<(&'a str, &'a Known)>,
    /// By candidate digest: every row of an entry runs on this one engine, so one
    /// platform.
    fetched: HashMap<String, Option<ImageFacts>>,
    /// The digests read from the registry in this check, for the state.
    read: Vec<String>,
}

impl<'a> Candidates<'a> {
    /// No candidate fetched yet for `image` (the reference the registry is asked about);
    /// `known`: the configured image and what earlier checks read.
    pub fn new(
        registry: &'a dyn Registry,
        image: &'a Reference,
        known: Option<(&'a str, &'a Known)>,
    ) -> Candidates<'a> {
        Candidates {
            registry,
            image,
            known,
            fetched: HashMap::new(),
            read: Vec::new(),
        }
    }

    /// What this check read from the registry, as the state keeps it: digest, build
    /// time (the first usable) and the labels release notes read.
    pub fn learned(&self) -> Vec<Learned> {
        self.read
            .iter()
            .filter_map(|d| {
                let facts = self.fetched.get(d)?.as_ref()?;
                Some(Learned {
                    digest: d.clone(),
                    built: age::build_time(&facts.created).map(|(t, _)| t.to_string()),
                    labels: facts
                        .labels
                        .iter()
                        .filter(|(k, _)| notes::reads(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                })
            })
            .collect()
    }

    /// The facts of `digest`, from the registry the first time (at most three
    /// requests), remembered after. `platform` is asked only when `digest` is an
    /// index (`None`: this machine's). A failure is logged and gives `None`: a policy
    /// that needs the facts then does without, the row stands.
    pub fn facts(
        &mut self,
        digest: &str,
        platform: &mut dyn FnMut() -> Option<Platform>,
    ) -> Option<&ImageFacts> {
        let (registry, image) = (self.registry, self.image);
        let cached = self
            .known
            .and_then(|(name, known)| match known.digest(name, digest) {
                Some(Some(r)) if r.built_read => Some(ImageFacts {
                    created: r
                        .built
                        .iter()
                        .map(|b| (CreatedSource::Config, b.clone()))
                        .collect(),
                    labels: r.labels.clone(),
                    platform_digest: String::new(),
                }),
                _ => None,
            });
        let read = &mut self.read;
        self.fetched
            .entry(digest.to_string())
            .or_insert_with(|| {
                if cached.is_some() {
                    return cached;
                }
                let mut platform = || Ok(platform().unwrap_or_else(host_platform));
                match image_config::fetch_with(registry, image, digest, &mut platform) {
                    Ok(facts) => {
                        read.push(digest.to_string());
                        Some(facts)
                    }
                    Err(e) => {
                        log::debug!("{}@{digest}: no image facts: {e:#}", image.name());
                        None
                    }
                }
            })
            .as_ref()
    }
}

/// A digest's facts as the state keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Learned {
    /// The digest.
    pub digest: String,
    /// Its build time (RFC 3339), when it has a usable one.
    pub built: Option<String>,
    /// The labels release notes read.
    pub labels: BTreeMap<String, String>,
}
