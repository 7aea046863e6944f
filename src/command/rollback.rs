//! `dum rollback NAME`: the container goes back to what it ran before its last update,
//! through the same transaction as an update.

use anyhow::anyhow;

use crate::check::{effective, inventory};
use crate::command::context::Context;
use crate::command::outcome::{Failure, Outcome};
use crate::command::update::{self, Report};
use crate::docker::EngineRead;
use crate::image::reference::Reference;
use crate::registry::Registry;
use crate::store::history::{self, ResultKind};
use crate::update::{self as transaction, plan, selfcontainer};

/// Runs `dum rollback NAME`.
pub fn run(ctx: &Context, target: &str) -> Result<Outcome, Failure> {
    let config = ctx.config()?;
    let engine = ctx.engine()?;
    let mut store = ctx.converged_store(&engine)?;
    let history_file = store.history_file();
    let last = history::last_update(store.history().map_err(Failure::runtime)?, target)
        .cloned()
        .ok_or_else(|| {
            Failure::usage(anyhow!(
                "no update of {target} in the history ({}) to roll back",
                history_file.display()
            ))
        })?;
    // The container's labels count as for an update (verification, registry mirror).
    let containers = match engine.containers() {
        Ok(list) => inventory::with_references(&engine, &list),
        // The transaction says what the engine refuses; the file's entry still counts.
        Err(e) => {
            log::debug!("cannot list the containers for their labels: {e:#}");
            Vec::new()
        }
    };
    // And a Swarm service's spec labels.
    let services = inventory::swarm_services(&engine);
    let effective = effective::effective(
        config.as_ref().map(|c| &c.images[..]),
        &containers,
        &services,
    );
    let image_config = effective
        .entries
        .iter()
        .find(|i| {
            i.image == last.image
                && (i.container_name.as_deref() == Some(target)
                    || i.service_name.as_deref() == Some(target))
        })
        .or_else(|| {
            effective.entries.iter().find(|i| {
                i.image == last.image && i.container_name.is_none() && i.service_name.is_none()
            })
        });
    let (reference, query) = match image_config {
        Some(c) => c.references().map_err(Failure::usage)?,
        None => {
            let r = Reference::parse(&last.image).map_err(Failure::usage)?;
            (r.clone(), r)
        }
    };
    let registry = ctx.registry(
        &config
            .as_ref()
            .map(|c| c.insecure_registries.clone())
            .unwrap_or_default(),
    );
    // An engine that could not tell the registry digest of what ran (it happens with
    // the containerd image store) leaves only the version: its tag gives the digest.
    let digest = match (&last.change.from.digest, &last.change.from.version) {
        (Some(d), _) => d.clone(),
        (None, Some(v)) => registry
            .digest(&query, v)
            .map_err(Failure::runtime)?
            .ok_or_else(|| {
                Failure::runtime(anyhow!(
                    "the history does not record the digest {target} ran before, and {} no longer has its version tag {v}",
                    query.name()
                ))
            })?,
        (None, None) => {
            return Err(Failure::runtime(anyhow!(
                "the history records neither the digest nor the version {target} ran before ({}): nothing to roll back to",
                history_file.display()
            )));
        }
    };
    let mut mv = plan::rollback(&last, &reference, &query, image_config, digest);
    // A compose service on the base tag stays on it: the tag goes back with it. One
    // its file pins to a version goes back by an edit of the file (update/compose.rs).
    let base_tag = image_config.map_or("latest", |c| c.base_tag.as_str());
    if let Some(c) = containers.iter().find(|c| c.name() == target)
        && let Some(service) = c
            .labels
            .as_ref()
            .and_then(crate::compose::service::Service::from_labels)
    {
        if Reference::parse(&c.image).is_ok_and(|r| r.tag_or_latest() == base_tag) {
            plan::keep_tag(&mut mv, &c.image, &reference);
        }
        mv.compose = Some(service);
    }
    // A Swarm service goes back with Swarm's own `rollback=previous`.
    if services.iter().any(|s| s.name == target) {
        mv.service = Some(target.to_string());
        mv.tags.clear();
    }
    let mut report = Report {
        dry_run: ctx.settings.dry_run,
        rows: &[],
        moves: std::slice::from_ref(&mv),
        applied: &[],
        skips: &[],
        cleanup: &[],
        notifications: &[],
    };
    if ctx.settings.dry_run {
        update::print(ctx, &report)?;
        return Ok(Outcome::UpdatesAvailable);
    }
    let auth = registry.engine_auth(&query).ok().flatten();
    let own_id = selfcontainer::own_container_id();
    let composer = transaction::Composer::new(false);
    let (applied, entries) = transaction::apply(
        &engine,
        &mut store,
        &mv,
        auth.as_deref(),
        own_id.as_deref(),
        &composer,
    );
    store.append_history(&entries).map_err(Failure::runtime)?;
    // Its pre_update hook said "not now": reported as skipped, not a failure.
    if let Some(skip) = update::hook_skip(&applied) {
        let skips = [skip];
        report.skips = &skips;
        update::print(ctx, &report)?;
        return Ok(Outcome::Clean);
    }
    report.applied = std::slice::from_ref(&applied);
    update::print(ctx, &report)?;
    Ok(if applied.result == ResultKind::Updated {
        Outcome::Updated
    } else {
        Outcome::Failed
    })
}
