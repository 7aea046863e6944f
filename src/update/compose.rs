//! Moves that compose applies. A compose service's container is recreated by compose
//! itself when its project's files are here and the compose plugin is installed: the
//! tag the file names is moved to the new image, `docker compose up -d --no-deps
//! --pull never SERVICE` recreates the container (re-injecting `configs:`/`secrets:`
//! and running `post_start` hooks, which an Engine API recreate cannot), and dum
//! verifies it. To undo, the tag goes back to the old image and compose recreates the
//! container again. Every step is journaled ([`Handover`]).

use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, bail};

use crate::compose::plugin::Plugin;
use crate::compose::service::{self, Service};
use crate::docker::types::{ContainerInspect, CreatePlan};
use crate::docker::{Engine, transport::Endpoint};
use crate::fault;
use crate::store::Store;
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

/// Sets `com.docker.compose.image` in a create plan the way compose reads it, so the
/// next `docker compose up` sees the container as current: compose writes the image
/// ID; where it wrote something else (a manifest digest, newer compose on an engine that
/// lists manifests), `digest` (the new image's) takes its place.
pub fn relabel(plan: &mut CreatePlan, old: &ContainerInspect, new_image_id: &str, digest: &str) {
    let old_label = old
        .config
        .labels
        .as_ref()
        .and_then(|l| l.get(service::IMAGE))
        .cloned();
    let value = match old_label {
        Some(v) if v != old.image_id && v.starts_with("sha256:") => digest.to_string(),
        _ => new_image_id.to_string(),
    };
    if let Some(labels) = plan
        .body
        .pointer_mut("/Labels")
        .and_then(serde_json::Value::as_object_mut)
    {
        labels.insert(service::IMAGE.into(), value.into());
    }
}

/// Applies `mv` to `old` through compose; returns the new container's ID. The journal
/// holds the transaction until it is updated or restored; the caller clears it.
pub fn apply(
    engine: &dyn Engine,
    store: &mut Store,
    mv: &Move,
    auth: Option<&str>,
    old: &ContainerInspect,
    s: &Service,
    composer: &Composer,
) -> Result<String, Undo> {
    let plugin = composer
        .plugin()
        .ok_or_else(|| Undo::Untouched(anyhow!("the docker compose plugin is not installed")))?;
    let force = composer.force;
    let hash = plugin
        .config_hash(s)
        .with_context(|| format!("cannot read the compose project of {}", s.service))
        .map_err(Undo::Untouched)?;
    if s.config_hash.as_deref() != Some(hash.as_str()) && !force {
        return Err(Undo::Untouched(anyhow!(
            "the compose file of service {} changed since its last deploy (config hash {} now {}): dum does not apply those edits unasked; deploy them with `docker compose up -d {}`, or run `dum update --force {}` to apply them with the update",
            s.service,
            short(s.config_hash.as_deref().unwrap_or("none")),
            short(&hash),
            s.service,
            old.name
        )));
    }
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
            tag: mv.run_as.clone(),
            old_image: old.image_id.clone(),
        }),
    };
    store.record(&tx).map_err(Undo::Untouched)?;
    fault::point("journaled");
    let attempt = (|| -> Result<String> {
        crate::update::pull(engine, mv, auth)
            .with_context(|| format!("pull failed; {} is untouched", old.name))?;
        fault::point("pulled");
        plugin.up(&s.project_args(), &s.service)?;
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
            Ok(id)
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
    let (repo, tag) = crate::update::split_tag(&h.tag);
    engine.tag(&h.old_image, repo, tag).with_context(|| {
        format!(
            "cannot tag the old image {} as {}",
            short(&h.old_image),
            h.tag
        )
    })?;
    plugin.up(&h.project_args, &h.service)?;
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

fn short(id: &str) -> &str {
    crate::docker::short_id(id)
}
