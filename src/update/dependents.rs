//! Containers that share another's network namespace (`--network container:<it>`)
//! lose it when that container is stopped or replaced: once a transaction is over
//! (`Updated` or `Restored` in the journal), they follow whichever container now runs
//! under its name, and only then is the transaction cleared, so a run killed meanwhile
//! leaves the next one the list of what is left to bring along.

use anyhow::{Result, anyhow};

use crate::docker::Engine;
use crate::docker::types::{ContainerInspect, CreatePlan};
use crate::fault;
use crate::image::pin::{Change, Pin};
use crate::store::Store;
use crate::store::journal::{Step, Transaction};
use crate::update::plan::Move;
use crate::update::spec;
use crate::update::transaction::{Undo, recreate};
use crate::update::verify::Verify;

/// The transaction kind of a container recreated to follow another's namespace.
pub const DEPENDENT: &str = "dependent";

/// How many levels of dependents of dependents are followed: namespaces can only be
/// joined in creation order, so a chain is short; the bound keeps odd data finite.
const MAX_DEPTH: usize = 4;

/// Brings along the dependents of `container`'s transaction, journaled `Updated` or
/// `Restored`: recreated to join the container that now carries the name when it is
/// not the old one, restarted to rejoin the old one's new namespace when it was
/// stopped and started again. Clears the transaction. Returns the names handled and
/// one line per failure; nothing when no such transaction is pending.
pub fn settle(
    engine: &dyn Engine,
    store: &mut Store,
    container: &str,
    verify_with: Option<Verify>,
) -> (Vec<String>, Vec<String>) {
    settle_at(engine, store, container, verify_with, 0)
}

fn settle_at(
    engine: &dyn Engine,
    store: &mut Store,
    container: &str,
    verify_with: Option<Verify>,
    depth: usize,
) -> (Vec<String>, Vec<String>) {
    let pending = store.pending();
    let Some(mut tx) = pending
        .iter()
        .find(|t| t.container == container && matches!(t.step, Step::Updated | Step::Restored))
        .cloned()
    else {
        return (Vec::new(), Vec::new());
    };
    let mut done = Vec::new();
    let mut errors = Vec::new();
    let holder = match engine.inspect_container(container) {
        Ok(holder) => holder,
        Err(e) => {
            // The journal keeps the transaction: the next run brings them along.
            errors.push(format!(
                "cannot tell where the dependents of {container} belong: {e:#}"
            ));
            return (done, errors);
        }
    };
    let replaced = holder.as_ref().filter(|h| h.id != tx.old_id);
    // Restored in place: only a stop (and start) of the old container cost its
    // dependents their namespace.
    let restarted = replaced.is_none() && tx.was_running && tx.stop_deadline_ms.is_some();
    let wanted = holder.is_some() && (replaced.is_some() || restarted);
    if wanted && depth < MAX_DEPTH {
        let names = match &tx.dependents {
            Some(names) => names.clone(),
            None => {
                let names = discover(engine, &tx, &pending, replaced.is_none(), &mut errors);
                tx.dependents = Some(names.clone());
                if let Err(e) = store.record(&tx) {
                    errors.push(format!("{e:#}"));
                    return (done, errors);
                }
                names
            }
        };
        fault::point("following");
        for name in names {
            let result = match replaced {
                Some(target) => follow(engine, store, &name, &tx, target, verify_with, depth),
                None => rejoin(engine, &name),
            };
            match result {
                Ok(true) => done.push(name),
                Ok(false) => {}
                Err(e) => errors.push(format!("dependent {name}: {e}")),
            }
        }
    }
    if let Err(e) = store.clear(container) {
        errors.push(format!("{e:#}"));
    }
    (done, errors)
}

/// The containers in `tx`'s old network namespace: running ones only when the old
/// container was restored in place (a stopped one joins the live namespace when it is
/// started). Backups and containers in a transaction of their own are left to it.
fn discover(
    engine: &dyn Engine,
    tx: &Transaction,
    pending: &[Transaction],
    running_only: bool,
    errors: &mut Vec<String>,
) -> Vec<String> {
    let list = match engine.containers() {
        Ok(list) => list,
        Err(e) => {
            errors.push(format!(
                "cannot list the dependents of {}: {e:#}",
                tx.container
            ));
            return Vec::new();
        }
    };
    let all: Vec<serde_json::Value> = list
        .iter()
        .filter_map(|c| match engine.inspect_container(&c.id) {
            Ok(found) => found
                .filter(|c| !running_only || c.state.running)
                .map(|c| c.raw),
            // A container this cannot see might be a dependent left behind.
            Err(e) => {
                errors.push(format!(
                    "cannot tell whether {} depends on {}: {e:#}",
                    c.name(),
                    tx.container
                ));
                None
            }
        })
        .collect();
    spec::dependents(&tx.old_id, &tx.container, &all)
        .into_iter()
        .filter(|name| {
            !pending
                .iter()
                .any(|t| *name == t.container || *name == t.backup_name)
        })
        .collect()
}

/// Restarts a dependent so it joins the live namespace of the container it names.
fn rejoin(engine: &dyn Engine, name: &str) -> Result<bool, String> {
    if engine
        .inspect_container(name)
        .map_err(|e| format!("{e:#}"))?
        .is_none()
    {
        return Ok(false);
    }
    engine
        .stop(name, None)
        .and_then(|()| engine.start(name))
        .map(|()| true)
        .map_err(|e| format!("{e:#}"))
}

/// Recreates a container that shares the old namespace so it joins `target`'s; same
/// preservation rules, same transaction; then its own dependents follow it. False when
/// it already joins `target` (an earlier, interrupted run recreated it) or is gone.
fn follow(
    engine: &dyn Engine,
    store: &mut Store,
    name: &str,
    tx: &Transaction,
    target: &ContainerInspect,
    verify_with: Option<Verify>,
    depth: usize,
) -> Result<bool, String> {
    let prepared = || -> Result<Option<(ContainerInspect, String, CreatePlan, CreatePlan)>> {
        let Some(old) = engine.inspect_container(name)? else {
            return Ok(None);
        };
        let joined = old
            .raw
            .pointer("/HostConfig/NetworkMode")
            .and_then(serde_json::Value::as_str)
            .and_then(|m| m.strip_prefix("container:"))
            .is_some_and(|other| other.len() >= 12 && target.id.starts_with(other));
        if joined || old.id == tx.old_id {
            return Ok(None);
        }
        let image = engine
            .inspect_image(&old.image_id)?
            .ok_or_else(|| anyhow!("the image of {name} is gone"))?;
        let run_as = if old.config.image.is_empty() {
            old.image_id.clone()
        } else {
            old.config.image.clone()
        };
        let mut plan = spec::plan(&old.raw, &image.raw, &run_as, engine.api())?;
        spec::retarget_network(&mut plan, &target.id);
        // The old dependent can never start again (its namespace is gone): should the
        // new one fail, it is created again from the same settings, on its own image.
        let mut restore_plan = super::restore_plan(engine, &old, &image.raw)?;
        spec::retarget_network(&mut restore_plan, &target.id);
        Ok(Some((old, run_as, plan, restore_plan)))
    };
    let Some((old, run_as, plan, restore_plan)) = prepared().map_err(|e| format!("{e:#}"))? else {
        return Ok(false);
    };
    let mv = Move {
        kind: DEPENDENT.into(),
        container: name.to_string(),
        image: run_as.clone(),
        pull: String::new(),
        tags: Vec::new(),
        run_as,
        change: Change {
            from: Pin::default(),
            to: Pin::new(None, Some(old.image_id.clone())),
        },
        verify: verify_with,
        compose: None,
        service: None,
        hooks: Default::default(),
    };
    let outcome = recreate(
        engine,
        store,
        &old,
        &plan,
        Some(restore_plan),
        &mv,
        &mut Vec::new(),
    );
    if !matches!(outcome, Err(Undo::Stuck(_) | Undo::Untouched(_))) {
        let (_, errors) = settle_at(engine, store, name, verify_with, depth + 1);
        if !errors.is_empty() {
            return Err(errors.join("; "));
        }
    }
    outcome.map(|_| true).map_err(|u| u.message())
}
