//! `dum check`: for every configured image, what its containers run, what the newest
//! version is, what the base tag points to, and whether an update is available.
//!
//! The engine and the registry are reached only through the [`EngineRead`] and
//! [`Registry`] traits, so the decisions here are testable without sockets.

pub mod age;
pub mod candidate;
pub mod discover;
pub mod effective;
pub mod inventory;
pub mod local;
pub mod record;
pub mod resolve;
pub mod verdict;

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use rayon::prelude::*;

use anyhow::{Result, anyhow};
use serde::Serialize;

use crate::check::candidate::Candidates;
use crate::check::inventory::{Deployed, Inventory, SwarmTarget};
use crate::compose::edit::{self, Pin};
use crate::compose::service::Service;
use crate::config::ImageConfig;
use crate::docker::EngineRead;
use crate::docker::types::ContainerSummary;
use crate::image::reference::Reference;
use crate::policy::notes;
use crate::policy::signature::{self, Signature};
use crate::registry::Registry;
use crate::swarm::service::Role;

use self::age::Policy;
pub use self::local::{identify, local};
pub use self::resolve::{
    Known, Listed, Remote, Resolution, Resolved, base_digest, remote, versions,
};
use self::verdict::verdict;

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
    /// A newer version exists but a policy holds it (`min_age_days`), and no version
    /// between it and what runs may be taken instead; see `reason`.
    Held,
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
    /// The tag the container was created from (`latest`, `1.2.0`), when it was created
    /// from a tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The compose service the container belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compose: Option<Service>,
    /// For a compose service whose file pins a tag other than the base tag: where, and
    /// what an update would write there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<Pinned>,
    /// Set when the row is a Swarm service (`container` is then its name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<SwarmTarget>,
    /// For an update pending on an image with a `cosign_key`: whether the candidate
    /// digest's signature verified (an update applies only when it did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
    /// Where to read what the pending update changes (a releases page, a compare link,
    /// or the entry's `release_notes` template); only with an update pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_notes: Option<String>,
    /// What a policy holds back (`min_age_days`), flattened into the row.
    #[serde(flatten)]
    pub hold: Hold,
}

/// What the minimum-age policy holds back, and the version an update goes to meanwhile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Hold {
    /// The newest version a policy holds back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_version: Option<String>,
    /// When the held version is old enough (RFC 3339); absent when its age is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_until: Option<String>,
    /// Why it is held, one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The version an update goes to meanwhile: the newest that the policy lets
    /// through, newer than what runs (absent: `latest_version`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_version: Option<String>,
    /// Its manifest digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_digest: Option<String>,
    /// What this check read from the registry about candidate digests (build times,
    /// labels), for the state.
    #[serde(skip)]
    pub learned: Vec<candidate::Learned>,
}

/// A compose service pinned to a tag by its compose file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pinned {
    /// The compose file that pins it.
    pub file: PathBuf,
    /// The version `dum update` writes there (an update is pending and the file can be
    /// edited).
    pub writes: Option<String>,
    /// The file that edit changes: the compose file, or the env file that sets the
    /// tag's variable.
    pub edits: Option<PathBuf>,
    /// The edit as a unified diff.
    pub diff: Option<String>,
    /// Why it cannot be moved (a file not readable here, a tag dum cannot edit).
    pub problem: Option<String>,
}

impl Pinned {
    /// What [`edit::find`] found, for a row whose update to `writes` is pending (or
    /// `None`).
    fn of(pin: &Pin, writes: Option<&str>) -> Pinned {
        let edit = match pin {
            Pin::Editable { edit, .. } => Some(edit),
            _ => None,
        };
        Pinned {
            file: pin.file().to_path_buf(),
            writes: writes.filter(|_| edit.is_some()).map(str::to_string),
            edits: edit.map(|e| e.path.clone()),
            diff: edit.filter(|_| writes.is_some()).map(|e| e.diff()),
            problem: pin.problem(),
        }
    }
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
            tag: None,
            compose: None,
            pinned: None,
            release_notes: None,
            service: None,
            signature: None,
            hold: Hold::default(),
        }
    }

    /// The version and digest an update goes to: the policy's target, else the newest.
    pub fn target(&self) -> (Option<&str>, Option<&str>) {
        match (&self.hold.target_version, &self.hold.target_digest) {
            (Some(v), Some(d)) => (Some(v), Some(d)),
            _ => (
                self.latest_version.as_deref(),
                self.latest_digest.as_deref(),
            ),
        }
    }
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
    policy: &Policy<'_>,
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
        tag: None,
        compose: None,
        pinned: None,
        release_notes: None,
        service: None,
        signature: None,
        hold: Hold::default(),
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
    let mut candidates = Candidates::new(registry, &query, Some((&config.image, policy.known)));
    found
        .into_iter()
        .map(|(container, l)| {
            let mut report = ImageReport {
                container: Some(container.name.clone()),
                managed_by: container.managed_by.clone(),
                tag: Reference::parse(&container.created_as)
                    .ok()
                    .and_then(|r| match r.digest {
                        // `repo` alone is `repo:latest`; `repo@digest` has no tag.
                        None => Some(r.tag_or_latest().to_string()),
                        Some(_) => r.tag,
                    }),
                compose: container.compose.clone(),
                service: container.service.clone(),
                ..template.clone()
            };
            let outcome = l.and_then(|mut l| {
                identify(registry, &query, config, &mut remote, &mut l)
                    .and_then(|()| verdict(&remote, &l))
                    .map(|d| (l, d))
            });
            match outcome {
                Ok((l, (status, note))) => {
                    report.current_version = l.version;
                    report.current_digest = l.digests.first().cloned();
                    report.status = status;
                    report.note = note.or(report.note);
                    if config.min_age_days > 0 && report.status == Status::UpdateAvailable {
                        let running = OnceCell::new();
                        let mut facts = |digest: &str| {
                            let mut platform = || {
                                running
                                    .get_or_init(|| candidate::running(engine, &container))
                                    .platform
                                    .clone()
                            };
                            candidates
                                .facts(digest, &mut platform)
                                .map(|f| f.created.clone())
                        };
                        age::hold(
                            registry,
                            &query,
                            config,
                            &remote,
                            policy,
                            &mut facts,
                            &mut report,
                        );
                    }
                    if let Some(service) = &container.compose
                        && report.tag.as_deref() != Some(config.base_tag.as_str())
                    {
                        let pending = (report.status == Status::UpdateAvailable)
                            .then_some(report.target().0)
                            .flatten();
                        let tag = pending.or(report.tag.as_deref()).unwrap_or("latest");
                        let pinned = Pinned::of(&edit::find(service, tag), pending);
                        let note = match (&pinned.problem, &pinned.writes) {
                            (Some(p), _) => Some(p.clone()),
                            (None, Some(v)) => Some(format!(
                                "pinned by {}: `dum update` writes {v} there",
                                pinned.file.display()
                            )),
                            _ => None,
                        };
                        report.note = note.or(report.note);
                        report.pinned = Some(pinned);
                    }
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
            if report.status == Status::UpdateAvailable {
                report.release_notes =
                    release_notes(engine, &mut candidates, config, &container, &report);
            }
            report.hold.learned = candidates.learned();
            report
        })
        .collect()
}

/// The release-notes link of a row with an update pending: the entry's template, else
/// the one the candidate's labels give (the running image's too for a compare link).
/// Without a template the candidate's facts are fetched (once per digest, shared with
/// the other policies); the running image is inspected only when its labels or
/// platform are needed.
fn release_notes(
    engine: &dyn EngineRead,
    candidates: &mut Candidates,
    config: &ImageConfig,
    container: &Deployed,
    report: &ImageReport,
) -> Option<String> {
    // The version `dum update` installs: a minimum age's target, else the newest.
    let (version, digest) = report.target();
    let version = version.unwrap_or(&config.base_tag);
    if let Some(template) = &config.release_notes {
        return Some(notes::fill(template, version, &config.image));
    }
    let digest = digest?;
    let running = OnceCell::new();
    let running = || running.get_or_init(|| candidate::running(engine, container));
    let facts = candidates.facts(digest, &mut || running().platform.clone())?;
    let none = BTreeMap::new();
    let old = if notes::needs_running(&facts.labels) {
        &running().labels
    } else {
        &none
    };
    notes::link(old, &facts.labels)
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
            let remote =
                resolve::resolve(registry, &query, config, listed, base, known.get(config))?;
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
    let policy = Policy {
        known,
        now: jiff::Timestamp::now(),
    };
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
        if let Ok(inv) = &inventory
            && inv.role == Role::Worker
        {
            log::warn!(
                "this engine is a Swarm worker: services are checked (and updated) on a manager"
            );
        }
        images
            .par_iter()
            .zip(remotes)
            .map(|(c, r)| {
                let mut rows = report_image(engine, registry, inventory.as_ref(), c, r, &policy);
                signatures(registry, c, &mut rows);
                rows
            })
            .collect()
    });
    Ok(rows.into_iter().flatten().collect())
}

/// Checks the signature of each pending update's candidate digest of an image with a
/// `cosign_key`, once per digest. Images without one cost no request.
fn signatures(registry: &dyn Registry, config: &ImageConfig, rows: &mut [ImageReport]) {
    let Some(key) = &config.cosign_key else {
        return;
    };
    let Ok((_, query)) = config.references() else {
        return;
    };
    let mut checked: Vec<Signature> = Vec::new();
    for row in rows.iter_mut() {
        // What `dum update` would pull: a minimum age's target, else the newest.
        let Some(digest) = row.target().1 else {
            continue;
        };
        if row.status != Status::UpdateAvailable {
            continue;
        }
        let found = match checked.iter().find(|s| s.digest == digest) {
            Some(s) => s.clone(),
            None => {
                let s = signature::verify(registry, &query, digest, key);
                checked.push(s.clone());
                s
            }
        };
        row.signature = Some(found);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::docker::fake::FakeEngine;
    use crate::registry::manifest::IndexEntry;
    use anyhow::bail;
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
        let known = Known::default();
        let remote = remote_for(registry, config, Resolution::Probe, &known);
        let policy = Policy {
            known: &known,
            now: jiff::Timestamp::now(),
        };
        report_image(engine, registry, Ok(&inventory), config, remote, &policy)
    }

    fn config(regex: Option<&str>) -> ImageConfig {
        ImageConfig {
            image: "r.io/app".into(),
            regex: regex.map(|r| regex::Regex::new(r).unwrap()),
            base_tag: "latest".into(),
            auto_update: false,
            container_name: None,
            service_name: None,
            cleanup_old_images: false,
            keep_versions: 3,
            registry: None,
            grace_seconds: 1,
            health_timeout_seconds: 1,
            min_age_days: 0,
            except: Vec::new(),
            except_services: Vec::new(),
            release_notes: None,
            origin: Default::default(),
            cosign_key: None,
            hooks: Default::default(),
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
    fn release_notes_only_for_pending_rows_and_a_failed_fetch_leaves_the_row_alone() {
        let registry = FakeRegistry::with(&[("1.0.0", "sha256:1"), ("1.1.0", "sha256:2")]);
        // (running, template, status, link)
        let cases = [
            (
                "1.0.0",
                Some("https://x/{image}/{version}"),
                Status::UpdateAvailable,
                Some("https://x/r.io/app/1.1.0"),
            ),
            ("1.1.0", Some("https://x/{version}"), Status::UpToDate, None),
            // This registry cannot fetch manifests: no link, the row stands.
            ("1.0.0", None, Status::UpdateAvailable, None),
        ];
        for (running, template, status, link) in cases {
            let engine = engine(&format!("r.io/app:{running}"), true, &[], &[]);
            let config = ImageConfig {
                release_notes: template.map(str::to_string),
                ..config(Some(SEMVER))
            };
            let rows = check_one(&engine, &registry, &config);
            assert_eq!(rows[0].status, status, "{running} {template:?}");
            assert_eq!(rows[0].error, None, "{running} {template:?}");
            assert_eq!(
                rows[0].release_notes.as_deref(),
                link,
                "{running} {template:?}"
            );
        }
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
