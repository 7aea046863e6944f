//! Moves that compose applies. A compose service's container is recreated by compose
//! itself when its project's files are here and the compose plugin is installed: the
//! tag the file names is moved to the new image, `docker compose up -d --pull never
//! SERVICE` recreates the container (re-injecting `configs:`/`secrets:`
//! and running `post_start` hooks, which an Engine API recreate cannot), and dum
//! verifies it. To undo, the tag goes back to the old image and compose recreates the
//! container again. Every step is journaled ([`Handover`]).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, bail};

use crate::compose::edit::{self, Pin};
use crate::compose::model;
use crate::compose::plugin::Plugin;
use crate::compose::service::{self, Service};
use crate::docker::types::{ContainerInspect, ContainerSummary, CreatePlan, ImageInspect};
use crate::docker::{Engine, transport::Endpoint};
use crate::fault;
use crate::image::reference::Reference;
use crate::store::Store;
use crate::store::history::HookRun;
use crate::store::journal::{self, Handover, Step, Transaction};
use crate::update::plan::Move;
use crate::update::transaction::Undo;
use crate::update::verify::{self, Verify};

/// The compose plugin, looked for once per run and only when a compose service moves.
#[derive(Debug, Default)]
pub struct Composer {
    plugin: OnceLock<Option<Plugin>>,
    /// `--force`: apply a move even when the service's compose file changed since its
    /// last deploy (compose then applies those edits too).
    pub force: bool,
}

impl Composer {
    /// A composer; `force` as [`Composer::force`].
    pub fn new(force: bool) -> Composer {
        Composer {
            plugin: OnceLock::new(),
            force,
        }
    }

    /// The plugin, when installed.
    pub fn plugin(&self) -> Option<&Plugin> {
        self.plugin
            .get_or_init(|| Plugin::find(docker_host()))
            .as_ref()
    }
}

/// dum's own engine endpoint for compose's `DOCKER_HOST`, so compose talks to the
/// engine dum reads whatever docker context its CLI would pick. TCP endpoints come from
/// `DOCKER_HOST` already, which the child inherits.
fn docker_host() -> Option<String> {
    match Endpoint::from_env() {
        Ok(e @ Endpoint::Unix(_)) => Some(e.to_string()),
        _ => None,
    }
}

/// How a compose service's move is applied.
pub enum Route {
    /// By compose: its files are readable and the plugin is installed.
    Compose(Service),
    /// Through the Engine API, keeping compose's labels; the reason says why compose
    /// could not, for the report.
    Api(String),
    /// Not a compose service.
    Plain,
}

/// Which way `old`'s move goes.
pub fn route(composer: &Composer, old: &ContainerInspect) -> Route {
    let Some(s) = old.config.labels.as_ref().and_then(Service::from_labels) else {
        return Route::Plain;
    };
    if let Some(why) = s.unreadable() {
        return Route::Api(format!("compose file not readable here: {why}"));
    }
    match composer.plugin() {
        Some(_) => Route::Compose(s),
        None => Route::Api("the docker compose plugin is not installed".into()),
    }
}

/// What a recreate through the Engine API leaves out of what compose would do.
pub fn api_note(why: &str) -> String {
    format!(
        "recreated through the Engine API ({why}); compose labels kept; compose would also have re-injected configs/secrets content and run post_start hooks"
    )
}

/// The value of `com.docker.compose.image` for a container of `new` whose old container
/// ran `old` labelled `old_label`, so the next `docker compose up` sees it as current.
/// Compose writes the image ID; compose 5.4 and newer, on an engine that lists an
/// image's manifests (API ≥ 1.48, containerd image store), the digest of the platform
/// manifest it runs ([`content_digest`]); some versions between wrote the digest the
/// engine stores the image as. The new value takes the old one's form (`old` and `new`
/// inspected with their manifests). A form dum does not recognise gets the image ID and
/// a warning for the report.
pub fn image_label(
    old_label: Option<&str>,
    old: &ImageInspect,
    new: &ImageInspect,
) -> (String, Option<String>) {
    let stored = |i: &ImageInspect| i.descriptor.as_ref().map(|d| d.digest.clone());
    let content = |i: &ImageInspect| content_digest(i).unwrap_or_else(|| i.id.clone());
    match old_label {
        None => (new.id.clone(), None),
        Some(l) if l == old.id => (new.id.clone(), None),
        Some(l) if Some(l) == stored(old).as_deref() => {
            (stored(new).unwrap_or_else(|| new.id.clone()), None)
        }
        Some(l) if l == content(old) => (content(new), None),
        Some(l) => (
            new.id.clone(),
            Some(format!(
                "{} held {l}, neither the old image's ID, its stored digest nor its platform manifest's: set to the new image's ID, so the next `docker compose up` may recreate it once",
                service::IMAGE
            )),
        ),
    }
}

/// The digest compose 5.4 and newer label a container of `image` with when the engine
/// lists its manifests: of the available image manifests, the one for the image's
/// platform, else the only one; `None` (compose then takes the image ID) when the
/// engine lists none or no single one fits.
pub fn content_digest(image: &ImageInspect) -> Option<String> {
    if image.manifests.is_empty() {
        return None;
    }
    let field = |k: &str| {
        image
            .raw
            .get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
    };
    let (os, arch, variant) = (field("Os"), field("Architecture"), field("Variant"));
    let available: Vec<_> = image
        .manifests
        .iter()
        .filter(|m| m.kind == "image" && m.available)
        .collect();
    let fits = available.iter().find(|m| {
        m.image_data.as_ref().is_some_and(|d| {
            d.platform.os == os
                && d.platform.architecture == arch
                && (variant.is_empty()
                    || d.platform.variant.is_empty()
                    || d.platform.variant == variant)
        })
    });
    match (fits, available.as_slice()) {
        (Some(m), _) => Some(m.id.clone()),
        (None, [only]) => Some(only.id.clone()),
        _ => None,
    }
}

/// Sets `com.docker.compose.image` in a create plan to `value`.
pub fn relabel(plan: &mut CreatePlan, value: &str) {
    if let Some(labels) = plan
        .body
        .pointer_mut("/Labels")
        .and_then(serde_json::Value::as_object_mut)
    {
        labels.insert(service::IMAGE.into(), value.into());
    }
}

/// Applies `mv` to `old` through compose; returns the new container's ID and the
/// containers compose recreated with it ([`followers`]). The journal holds the
/// transaction until it is updated or restored, and clears it then.
// Eight distinct inputs from one caller (`update::apply`); a struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    engine: &dyn Engine,
    store: &mut Store,
    mv: &Move,
    auth: Option<&str>,
    old: &ContainerInspect,
    s: &Service,
    composer: &Composer,
    hooks: &mut Vec<HookRun>,
) -> Result<(String, Vec<String>), Undo> {
    let plugin = composer
        .plugin()
        .ok_or_else(|| Undo::Untouched(anyhow!("the docker compose plugin is not installed")))?;
    let force = composer.force;
    let project = project_of(engine, s).map_err(Undo::Untouched)?;
    // Containers that share the old container's namespaces or volumes keep the old
    // ones when compose recreates it (`up SERVICE` never touches its dependents):
    // compose recreates them with it, so they join the new one.
    let followers = followers(engine, &project, old).map_err(Undo::Untouched)?;
    if let Err(e) = unchanged_since_deploy(engine, plugin, s, &project, &followers, &old.name) {
        if !force {
            return Err(Undo::Untouched(e));
        }
        log::warn!("{}: --force: {e:#}", old.name);
    }
    // A service its file pins to a version moves by an edit of that file; one that
    // runs the file's tag (the base tag) by moving the tag.
    let pinned = !same_reference(&old.config.image, &mv.run_as);
    let edit = if pinned {
        let (_, new_tag) = crate::update::split_tag(&mv.run_as);
        match edit::find(s, new_tag) {
            Pin::Editable { edit, .. } => Some(edit),
            other => {
                return Err(Undo::Untouched(anyhow!(
                    "{}",
                    other.problem().unwrap_or_default()
                )));
            }
        }
    } else {
        None
    };
    let mut tx = Transaction {
        kind: mv.kind.clone(),
        container: old.name.clone(),
        image: mv.image.clone(),
        old_id: old.id.clone(),
        backup_name: String::new(),
        new_id: None,
        was_running: old.state.running,
        step: Step::Applying,
        change: mv.change.clone(),
        started_ms: journal::now_ms(),
        was_paused: old.state.paused,
        restore_plan: None,
        stop_deadline_ms: None,
        dependents: None,
        compose: Some(Handover {
            project_args: s.project_args(),
            service: s.service.clone(),
            // What must name the old image on the way back: the moved base tag, or
            // the pinned tag the file names again once restored.
            tag: if pinned {
                old.config.image.clone()
            } else {
                mv.run_as.clone()
            },
            old_image: old.image_id.clone(),
            edit: edit.clone(),
            followers: followers.iter().map(|(svc, _)| svc.clone()).collect(),
        }),
        service: None,
    };
    store.record(&tx).map_err(Undo::Untouched)?;
    fault::point("journaled");
    let attempt = (|| -> Result<String> {
        crate::update::pull(engine, mv, auth)
            .with_context(|| format!("pull failed; {} is untouched", old.name))?;
        fault::point("pulled");
        if let Some(e) = &edit {
            edit::swap(e, &e.old_text, &e.new_text)?;
            fault::point("edited");
            plugin
                .validate(&s.project_args())
                .with_context(|| format!("{} is not valid after the edit", e.path.display()))?;
        }
        plugin.up(&s.project_args(), &up_services(&tx))?;
        fault::point("applied");
        let new = engine
            .inspect_container(&old.name)?
            .ok_or_else(|| anyhow!("compose left no container named {}", old.name))?;
        if new.id == old.id {
            bail!(
                "compose did not recreate {} (its image label still matches the tag {})",
                old.name,
                mv.run_as
            );
        }
        tx.new_id = Some(new.id.clone());
        tx.step = Step::Verifying;
        store.record(&tx)?;
        if let Some(v) = mv.verify {
            verify::verify(engine, &new.id, v, None)?;
        }
        verify_followers(engine, &followers, mv.verify)?;
        if tx.was_running {
            crate::update::transaction::post_update(engine, store, &mut tx, mv, &new.id, hooks)?;
        }
        if tx.was_paused {
            engine
                .pause(&new.id)
                .with_context(|| format!("cannot pause the new container {}", old.name))?;
        }
        Ok(new.id)
    })();
    match attempt {
        Ok(id) => {
            tx.step = Step::Updated;
            store
                .record(&tx)
                .and_then(|()| store.clear(&tx.container))
                .map_err(|e| Undo::Stuck(e.context("the update worked but finishing it failed")))?;
            Ok((id, followers.into_iter().map(|(_, name)| name).collect()))
        }
        Err(failure) => {
            tx.step = Step::RollingBack;
            let undo = (|| -> Result<()> {
                store.record(&tx)?;
                fault::point("rolling-back");
                restore(engine, &tx, Some(plugin), mv.verify)?;
                tx.step = Step::Restored;
                store.record(&tx)?;
                store.clear(&tx.container)
            })();
            match undo {
                Ok(()) => Err(Undo::RolledBack(failure)),
                Err(e) => Err(Undo::Stuck(anyhow!(
                    "{failure:#}; restoring the old version failed too: {e:#} (the journal keeps the transaction; the next dum run retries)"
                ))),
            }
        }
    }
}

/// Makes sure `docker compose up SERVICE` changes nothing but the service's image:
/// the service and the services it depends on (which compose brings up with it) run
/// what their files say now (config hash), their images are the ones their tags name
/// (compose's image label), and the dependencies run. An error says what compose would
/// also change; `--force` lets it.
fn unchanged_since_deploy(
    engine: &dyn Engine,
    plugin: &Plugin,
    s: &Service,
    project: &[(Service, ContainerSummary)],
    followers: &[(String, String)],
    container: &str,
) -> Result<()> {
    // The service, the services compose recreates with it, and every service those
    // depend on, directly or not.
    let mut services = vec![s.service.clone()];
    for (f, _) in followers {
        if !services.contains(f) {
            services.push(f.clone());
        }
    }
    let mut i = 0;
    while i < services.len() {
        let deps = if i == 0 {
            s.depends_on.clone()
        } else {
            project
                .iter()
                .find(|(svc, _)| svc.service == services[i])
                .map(|(svc, _)| svc.depends_on.clone())
                .unwrap_or_default()
        };
        for d in deps {
            if !services.contains(&d) {
                services.push(d);
            }
        }
        i += 1;
    }
    let label = |name: &String| -> Option<String> {
        if name == &s.service {
            return s.config_hash.clone();
        }
        project
            .iter()
            .find(|(svc, _)| &svc.service == name)
            .and_then(|(svc, _)| svc.config_hash.clone())
    };
    let mut hashes = plugin
        .config_hashes(&s.project_args(), &services)
        .with_context(|| format!("cannot read the compose project of {}", s.service))?;
    let differ: Vec<String> = services
        .iter()
        .filter(|n| label(n).as_ref() != hashes.get(*n))
        .cloned()
        .collect();
    if !differ.is_empty() {
        // `config --hash` resolves neither env files, bare environment keys nor
        // `service:` references, which `up` resolves before it hashes: ask again with the
        // model as `up` sees it (two more compose runs, only for such services).
        let resolved = up_hashes(plugin, s, project, &differ)
            .with_context(|| format!("cannot read the compose project of {}", s.service))?;
        hashes.extend(resolved);
    }
    for name in &services {
        let is_self = name == &s.service;
        let (label_hash, image_label, summary) = if is_self {
            (s.config_hash.clone(), None, None)
        } else {
            match project.iter().find(|(svc, _)| &svc.service == name) {
                Some((svc, c)) => (svc.config_hash.clone(), svc.image_label.clone(), Some(c)),
                None => bail!(
                    "service {name}, which {} depends on, has no container: `docker compose up {}` would create it",
                    s.service,
                    s.service
                ),
            }
        };
        let now = hashes.get(name).map(String::as_str).unwrap_or_default();
        if label_hash.as_deref() != Some(now) {
            bail!(
                "the compose file of service {name} changed since its last deploy (config hash {} now {}): dum does not apply those edits unasked; deploy them with `docker compose up -d {name}`, or run `dum update --force {container}` to apply them with the update",
                short(label_hash.as_deref().unwrap_or("none")),
                short(now),
            );
        }
        if let Some(c) = summary {
            if c.state != "running" {
                bail!(
                    "service {name}, which {} depends on, is {}: `docker compose up {}` would start it (`dum update --force {container}` lets it)",
                    s.service,
                    c.state,
                    s.service
                );
            }
            // Compose labels with the image ID it ran (older compose) and recreates when
            // the tag names another image now.
            let local = engine.inspect_image(&c.image)?.map(|i| i.id);
            if let (Some(label), Some(local)) = (&image_label, &local)
                && label == &c.image_id
                && local != &c.image_id
            {
                bail!(
                    "service {name}, which {} depends on, runs another image than its tag {} names now: `docker compose up {}` would recreate it (`dum update --force {container}` lets it)",
                    s.service,
                    c.image,
                    s.service
                );
            }
        }
    }
    Ok(())
}

/// The containers of `s`'s project, each with the service its labels name.
fn project_of(engine: &dyn Engine, s: &Service) -> Result<Vec<(Service, ContainerSummary)>> {
    Ok(engine
        .containers()?
        .into_iter()
        .filter_map(|c| {
            let svc = c.labels.as_ref().and_then(Service::from_labels)?;
            (svc.project == s.project).then_some((svc, c))
        })
        .collect())
}

/// The containers of `project` that share a namespace (`network_mode`, `ipc`, `pid`)
/// or the volumes (`volumes_from`) of the container `old`, directly or through another
/// such container, as `(service, container name)` in the order found.
fn followers(
    engine: &dyn Engine,
    project: &[(Service, ContainerSummary)],
    old: &ContainerInspect,
) -> Result<Vec<(String, String)>> {
    let mut inspected = Vec::new();
    for (svc, c) in project {
        if c.id == old.id {
            continue;
        }
        if let Some(i) = engine.inspect_container(&c.id)? {
            inspected.push((svc.service.clone(), i.name.clone(), i.raw));
        }
    }
    Ok(sharing(&old.id, &old.name, &inspected))
}

/// Pure part of [`followers`]: of `containers` (service, name, inspect JSON), those
/// whose host config names `id` (or a container that does, and so on) as
/// `container:ID` in `NetworkMode`, `IpcMode` or `PidMode`, or in `VolumesFrom`.
fn sharing(
    id: &str,
    name: &str,
    containers: &[(String, String, serde_json::Value)],
) -> Vec<(String, String)> {
    let names = |raw: &serde_json::Value| -> Vec<String> {
        let hc = raw.get("HostConfig");
        let mut refs: Vec<String> = ["NetworkMode", "IpcMode", "PidMode"]
            .iter()
            .filter_map(|k| hc?.get(*k)?.as_str()?.strip_prefix("container:"))
            .map(str::to_string)
            .collect();
        if let Some(list) = hc
            .and_then(|h| h.get("VolumesFrom"))
            .and_then(serde_json::Value::as_array)
        {
            refs.extend(
                list.iter()
                    .filter_map(serde_json::Value::as_str)
                    .filter_map(|v| v.split(':').next())
                    .map(str::to_string),
            );
        }
        refs
    };
    let id_of = |raw: &serde_json::Value| {
        raw.get("Id")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    // A reference is a full ID, a short one, or a name.
    let names_target = |r: &str, target: &str, target_name: &str| {
        r == target
            || r.trim_start_matches('/') == target_name
            || (r.len() >= 12 && target.starts_with(r))
    };
    let mut targets = vec![(id.to_string(), name.trim_start_matches('/').to_string())];
    let mut found: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < targets.len() {
        let (target, target_name) = targets[i].clone();
        for (svc, name, raw) in containers {
            if found.iter().any(|(_, n)| n == name) || id_of(raw) == id {
                continue;
            }
            if names(raw)
                .iter()
                .any(|r| names_target(r, &target, &target_name))
            {
                found.push((svc.clone(), name.clone()));
                targets.push((id_of(raw), name.clone()));
            }
        }
        i += 1;
    }
    found
}

/// The services `up` names for `tx`: its own, then those recreated with it.
fn up_services(tx: &Transaction) -> Vec<String> {
    tx.compose
        .iter()
        .flat_map(|h| std::iter::once(h.service.clone()).chain(h.followers.iter().cloned()))
        .collect()
}

/// Each follower runs again (compose recreated it into the new namespaces).
fn verify_followers(
    engine: &dyn Engine,
    followers: &[(String, String)],
    verify_with: Option<Verify>,
) -> Result<()> {
    for (_, name) in followers {
        let c = engine
            .inspect_container(name)?
            .ok_or_else(|| anyhow!("compose left no container named {name}"))?;
        verify::verify(engine, &c.id, verify_with.unwrap_or_default(), None).with_context(
            || {
                format!(
                    "{name}, which shares the namespaces or volumes of the service, does not run"
                )
            },
        )?;
    }
    Ok(())
}

/// The config hash `up` would label each of `services` with now: `config --hash` of the
/// project's model with the environment resolved (`config --format json`) and the
/// `service:` references resolved to the containers running now
/// ([`crate::compose::model::as_deployed`]).
fn up_hashes(
    plugin: &Plugin,
    s: &Service,
    project: &[(Service, ContainerSummary)],
    services: &[String],
) -> Result<BTreeMap<String, String>> {
    let mut first: BTreeMap<String, (&str, &str)> = BTreeMap::new();
    for (svc, c) in project {
        let e = first
            .entry(svc.service.clone())
            .or_insert((c.name(), c.id.as_str()));
        if c.name() < e.0 {
            *e = (c.name(), c.id.as_str());
        }
    }
    let ids = first
        .into_iter()
        .map(|(svc, (_, id))| (svc, id.to_string()))
        .collect();
    let mut model = plugin.model(&s.project_args())?;
    model::as_deployed(&mut model, &ids).map_err(|e| anyhow!(e))?;
    plugin.model_hashes(&s.stdin_project_args(), &model, services)
}

/// Puts the old version back: the tag on the old image, compose recreates the service
/// from it, and the container runs. Idempotent: compose recreates nothing when the
/// container already runs the old image. `plugin`: `None` looks for it.
pub fn restore(
    engine: &dyn Engine,
    tx: &Transaction,
    plugin: Option<&Plugin>,
    verify_with: Option<Verify>,
) -> Result<()> {
    let h = tx.compose.as_ref().ok_or_else(|| {
        anyhow!(
            "internal error: {} is not a compose transaction",
            tx.container
        )
    })?;
    let found;
    let plugin = match plugin {
        Some(p) => p,
        None => {
            found = Plugin::find(docker_host());
            found.as_ref().ok_or_else(|| {
                anyhow!(
                    "the docker compose plugin is needed to restore compose service {}",
                    h.service
                )
            })?
        }
    };
    if let Some(e) = &h.edit {
        edit::swap(e, &e.new_text, &e.old_text)
            .with_context(|| format!("cannot restore {}", e.path.display()))?;
    }
    let (repo, tag) = crate::update::split_tag(&h.tag);
    engine.tag(&h.old_image, repo, tag).with_context(|| {
        format!(
            "cannot tag the old image {} as {}",
            short(&h.old_image),
            h.tag
        )
    })?;
    plugin.up(&h.project_args, &up_services(tx))?;
    let back = engine
        .inspect_container(&tx.container)?
        .ok_or_else(|| anyhow!("compose left no container named {}", tx.container))?;
    if back.image_id != h.old_image {
        bail!(
            "{} runs {} after the restore, not the old image {}",
            tx.container,
            short(&back.image_id),
            short(&h.old_image)
        );
    }
    if tx.was_running {
        verify::verify(engine, &back.id, verify_with.unwrap_or_default(), None)
            .with_context(|| format!("the restored {} does not run", tx.container))?;
    }
    if tx.was_paused {
        engine.pause(&back.id)?;
    }
    Ok(())
}

/// Whether two references name the same repository and tag (`app` is `app:latest`;
/// `docker.io/library/app` is `app`).
fn same_reference(a: &str, b: &str) -> bool {
    match (Reference::parse(a), Reference::parse(b)) {
        (Ok(a), Ok(b)) => {
            a.registry == b.registry
                && a.repository == b.repository
                && a.tag_or_latest() == b.tag_or_latest()
                && a.digest == b.digest
        }
        _ => a == b,
    }
}

fn short(id: &str) -> &str {
    crate::docker::short_id(id)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::docker::types::{Descriptor, ImageManifest, ManifestImageData, Platform};

    fn image(id: &str, stored: Option<&str>) -> ImageInspect {
        ImageInspect {
            id: id.into(),
            repo_tags: Vec::new(),
            repo_digests: Vec::new(),
            descriptor: stored.map(|d| Descriptor {
                digest: d.into(),
                media_type: String::new(),
            }),
            manifests: Vec::new(),
            raw: serde_json::json!({"Os": "linux", "Architecture": "amd64"}),
        }
    }

    fn manifest(id: &str, kind: &str, available: bool, platform: &str) -> ImageManifest {
        let mut parts = platform.split('/');
        ImageManifest {
            id: id.into(),
            kind: kind.into(),
            available,
            image_data: (!platform.is_empty()).then(|| ManifestImageData {
                platform: Platform {
                    os: parts.next().unwrap_or_default().into(),
                    architecture: parts.next().unwrap_or_default().into(),
                    variant: parts.next().unwrap_or_default().into(),
                },
            }),
        }
    }

    #[test]
    fn the_platform_manifest_is_the_one_compose_labels_with() {
        let cases: Vec<(Vec<ImageManifest>, Option<&str>)> = vec![
            (vec![], None),
            (
                vec![
                    manifest("sha256:arm", "image", false, "linux/arm64/v8"),
                    manifest("sha256:amd", "image", true, "linux/amd64"),
                    manifest("sha256:att", "attestation", true, ""),
                ],
                Some("sha256:amd"),
            ),
            (
                vec![manifest("sha256:amd", "image", false, "linux/amd64")],
                None,
            ),
            (
                vec![manifest("sha256:only", "image", true, "linux/s390x")],
                Some("sha256:only"),
            ),
            (
                vec![manifest("sha256:only", "image", true, "")],
                Some("sha256:only"),
            ),
            (
                vec![
                    manifest("sha256:a", "image", true, "linux/arm64"),
                    manifest("sha256:b", "image", true, "linux/s390x"),
                ],
                None,
            ),
        ];
        for (manifests, want) in cases {
            let mut i = image("sha256:id", None);
            i.manifests = manifests.clone();
            assert_eq!(content_digest(&i).as_deref(), want, "{manifests:?}");
        }
    }

    #[test]
    fn followers_share_a_namespace_or_volumes_directly_or_not() {
        let c = |svc: &str, id: &str, hc: serde_json::Value| {
            (
                svc.to_string(),
                format!("p-{svc}-1"),
                serde_json::json!({"Id": id, "Name": format!("/p-{svc}-1"), "HostConfig": hc}),
            )
        };
        let target = "aaaaaaaaaaaaaaaaaaaa";
        let cases: Vec<(Vec<(String, String, serde_json::Value)>, Vec<&str>)> = vec![
            (
                vec![c("web", "w1", serde_json::json!({"NetworkMode": "bridge"}))],
                vec![],
            ),
            (
                vec![c(
                    "vpnc",
                    "v1",
                    serde_json::json!({"NetworkMode": format!("container:{target}")}),
                )],
                vec!["vpnc"],
            ),
            (
                vec![c(
                    "a",
                    "a1",
                    serde_json::json!({"IpcMode": "container:aaaaaaaaaaaa"}),
                )],
                vec!["a"],
            ),
            (
                vec![c(
                    "a",
                    "a1",
                    serde_json::json!({"PidMode": "container:aaaaaaaaaaa"}),
                )],
                vec![],
            ),
            (
                vec![c(
                    "a",
                    "a1",
                    serde_json::json!({"PidMode": "container:p-db-1"}),
                )],
                vec!["a"],
            ),
            (
                vec![c(
                    "a",
                    "a1",
                    serde_json::json!({"PidMode": "container:p-db-2"}),
                )],
                vec![],
            ),
            (
                vec![c(
                    "a",
                    "a1",
                    serde_json::json!({"VolumesFrom": [format!("{target}:ro")]}),
                )],
                vec!["a"],
            ),
            // Through another follower, whatever the order listed.
            (
                vec![
                    c(
                        "side",
                        "s1",
                        serde_json::json!({"PidMode": "container:b1b1b1b1b1b1b1"}),
                    ),
                    c(
                        "app",
                        "b1b1b1b1b1b1b1",
                        serde_json::json!({"NetworkMode": format!("container:{target}")}),
                    ),
                ],
                vec!["app", "side"],
            ),
            (
                vec![c(
                    "self",
                    target,
                    serde_json::json!({"NetworkMode": format!("container:{target}")}),
                )],
                vec![],
            ),
        ];
        for (containers, want) in cases {
            let got: Vec<String> = sharing(target, "/p-db-1", &containers)
                .into_iter()
                .map(|(s, _)| s)
                .collect();
            assert_eq!(got, want, "{containers:?}");
        }
    }

    #[test]
    fn compose_image_labels_keep_their_form() {
        let mut old = image("sha256:old-id", Some("sha256:old-index"));
        old.manifests = vec![manifest("sha256:old-amd", "image", true, "linux/amd64")];
        let mut new = image("sha256:new-id", Some("sha256:new-index"));
        new.manifests = vec![
            manifest("sha256:new-amd", "image", true, "linux/amd64"),
            manifest("sha256:new-arm", "image", false, "linux/arm64"),
        ];
        let cases: &[(Option<&str>, &str, bool)] = &[
            (None, "sha256:new-id", false),
            (Some("sha256:old-id"), "sha256:new-id", false),
            (Some("sha256:old-index"), "sha256:new-index", false),
            (Some("sha256:old-amd"), "sha256:new-amd", false),
            (Some("sha256:platform"), "sha256:new-id", true),
        ];
        for (label, want, warns) in cases {
            let (got, warning) = image_label(*label, &old, &new);
            assert_eq!(got, *want, "{label:?}");
            assert_eq!(warning.is_some(), *warns, "{label:?}");
        }
    }
}
