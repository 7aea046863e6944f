//! Converging what a killed run left in the journal: a verified transaction is
//! completed, any other is undone by putting the old container back as it was.

use anyhow::{Context, Result, anyhow, bail};

use crate::docker::types::ContainerInspect;
use crate::docker::{Engine, short_id as short};
use crate::store::Store;
use crate::store::history::{Entry, ResultKind};
use crate::store::journal::{Step, Transaction, now_ms};
use crate::store::state;
use crate::update::dependents::{DEPENDENT, settle};
use crate::update::verify::Verify;
use crate::update::{compose, service};

/// Puts the old container back: the new one (if any) removed, the backup renamed to
/// the original name and started (and paused) as it was; created again from the
/// journaled plan when the engine removed it (`AutoRemove`), or, for a dependent, whose
/// old container is tied to a network namespace that is gone, always. Idempotent: safe
/// to repeat from any point of a half-done transaction.
pub fn restore(engine: &dyn Engine, tx: &Transaction) -> Result<()> {
    outlast_stop(engine, tx)?;
    let mut old = outlast_removal(engine, tx)?;
    // Whatever carries the original name and is not the old container is the new one
    // (or an earlier, interrupted attempt at recreating the old one).
    let mut doomed: Vec<String> = tx.new_id.iter().cloned().collect();
    if let Some(holder) = engine.inspect_container(&tx.container)?
        && holder.id != tx.old_id
        && !doomed.contains(&holder.id)
    {
        doomed.push(holder.id);
    }
    // A dependent follows a container that was replaced: its old self can never start
    // again (the namespace it joined is gone), its journaled plan joins the new one.
    if tx.kind == DEPENDENT && tx.restore_plan.is_some() && old.is_some() {
        doomed.push(tx.old_id.clone());
        old = None;
    }
    for id in doomed {
        remove_leaving(engine, &id)
            .with_context(|| format!("cannot remove the new container {}", short(&id)))?;
    }
    let Some(old) = old else {
        return recreate_old(engine, tx);
    };
    if old.name != tx.container
        && let Err(e) = engine.rename(&tx.old_id, &tx.container)
    {
        // Removed by the engine between the inspect and the rename: create it again.
        if engine.inspect_container(&tx.old_id)?.is_none() {
            return recreate_old(engine, tx);
        }
        return Err(e.context(format!(
            "cannot rename {} back to {}",
            old.name, tx.container
        )));
    }
    let restart = tx.was_running && !old.state.running;
    if restart {
        engine
            .start(&tx.old_id)
            .with_context(|| format!("cannot start the old container {} again", tx.container))?;
        confirm_running(engine, tx, &tx.old_id)?;
    }
    if tx.was_paused && (restart || !old.state.paused) {
        engine
            .pause(&tx.old_id)
            .with_context(|| format!("cannot pause the old container {} again", tx.container))?;
    }
    Ok(())
}

/// Creates the old container again from the journaled plan, on its old image (kept
/// locally until an update is verified), under its own name.
fn recreate_old(engine: &dyn Engine, tx: &Transaction) -> Result<()> {
    let Some(plan) = &tx.restore_plan else {
        bail!(
            "the old container {} ({}) is gone and this journal entry has no plan to create it again",
            tx.container,
            short(&tx.old_id)
        );
    };
    if tx.kind != DEPENDENT {
        log::warn!(
            "{}: the engine removed the old container ({}, AutoRemove); creating it again from its journaled settings",
            tx.container,
            short(&tx.old_id)
        );
    }
    let id = engine
        .create(&tx.container, &plan.body)
        .with_context(|| format!("cannot create the old container {} again", tx.container))?;
    for (network, endpoint) in &plan.extra_networks {
        engine
            .connect(network, &id, endpoint)
            .with_context(|| format!("cannot connect {} to network {network}", tx.container))?;
    }
    if tx.was_running {
        engine
            .start(&id)
            .with_context(|| format!("cannot start the old container {} again", tx.container))?;
        confirm_running(engine, tx, &id)?;
        if tx.was_paused {
            engine.pause(&id).with_context(|| {
                format!("cannot pause the old container {} again", tx.container)
            })?;
        }
    }
    Ok(())
}

/// A restored container counts only once the engine says it runs: the journal keeps
/// the transaction otherwise, and the next run tries again.
fn confirm_running(engine: &dyn Engine, tx: &Transaction, id: &str) -> Result<()> {
    let running = engine
        .inspect_container(id)?
        .is_some_and(|c| c.state.running);
    if !running {
        bail!(
            "the old container {} stopped again right after its restart",
            tx.container
        );
    }
    Ok(())
}

/// How long a stopped `AutoRemove` container may take to disappear.
const REMOVAL_WAIT_MS: u64 = 15_000;

/// The old container, unless the engine is removing it: an `AutoRemove` container that
/// has stopped is removed by the engine moments later (on the containerd image store,
/// long enough for a rename in between to fail). Such a container is waited for until
/// it is gone, then counts as gone. `None` when it does not exist.
fn outlast_removal(engine: &dyn Engine, tx: &Transaction) -> Result<Option<ContainerInspect>> {
    let until = now_ms().saturating_add(REMOVAL_WAIT_MS);
    loop {
        let Some(old) = engine.inspect_container(&tx.old_id)? else {
            return Ok(None);
        };
        if !leaving(&old) || now_ms() >= until {
            return Ok(Some(old));
        }
        std::thread::sleep(STOP_POLL);
    }
}

/// Whether the engine is removing `c` or is about to: removing, dead, or an
/// `AutoRemove` container that has exited.
fn leaving(c: &ContainerInspect) -> bool {
    let auto_remove = c
        .raw
        .pointer("/HostConfig/AutoRemove")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    matches!(c.state.status.as_str(), "removing" | "dead")
        || (auto_remove && c.state.status == "exited")
}

/// Removes a container (forced). One the engine is already removing (an `AutoRemove`
/// container that exited: the engine answers 409, removal in progress) is waited out
/// until it is gone; gone already is done.
fn remove_leaving(engine: &dyn Engine, id: &str) -> Result<()> {
    let Err(error) = engine.remove_container(id) else {
        return Ok(());
    };
    let until = now_ms().saturating_add(REMOVAL_WAIT_MS);
    loop {
        match engine.inspect_container(id)? {
            None => return Ok(()),
            Some(c) if leaving(&c) && now_ms() < until => std::thread::sleep(STOP_POLL),
            Some(_) => return Err(error),
        }
    }
}

/// How often a stop still under way in the engine is looked at.
const STOP_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// A run killed while the engine was stopping the old container leaves that stop under
/// way: the engine sends SIGKILL when its timeout runs out, whatever happens meanwhile.
/// Restoring before then would "restore" a container about to die (and one stopped by
/// request is not restarted by its restart policy), so wait until it has stopped or the
/// stop can no longer be pending.
fn outlast_stop(engine: &dyn Engine, tx: &Transaction) -> Result<()> {
    let Some(deadline) = tx.stop_deadline_ms.filter(|_| tx.step == Step::Stopping) else {
        return Ok(());
    };
    let mut said = false;
    while now_ms() < deadline {
        match engine.inspect_container(&tx.old_id)? {
            Some(c) if c.state.running => {}
            _ => return Ok(()),
        }
        if !said {
            log::info!(
                "{}: waiting up to {} s for the engine to finish stopping the old container (an interrupted run asked it to)",
                tx.container,
                deadline.saturating_sub(now_ms()).div_ceil(1000)
            );
            said = true;
        }
        std::thread::sleep(STOP_POLL);
    }
    Ok(())
}

/// Finishes a verified transaction: the backup goes, the new container keeps the name.
pub fn complete(engine: &dyn Engine, tx: &Transaction) -> Result<()> {
    let new_id = tx
        .new_id
        .as_deref()
        .ok_or_else(|| anyhow!("verified transaction without a new container"))?;
    let new = engine.inspect_container(new_id)?.ok_or_else(|| {
        anyhow!(
            "the verified container {} ({}) is gone",
            tx.container,
            short(new_id)
        )
    })?;
    if new.name != tx.container {
        bail!(
            "the verified container is named {}, expected {}",
            new.name,
            tx.container
        );
    }
    remove_leaving(engine, &tx.old_id)
        .with_context(|| format!("cannot remove the backup container {}", tx.backup_name))?;
    Ok(())
}

/// Converges every transaction a killed run left: completes verified ones, restores
/// the rest, and journals them `Updated` or `Restored` for
/// [`crate::update::dependents::settle`]. Returns each transaction with the history
/// entry describing what was done (`Recovered`: completed, `RolledBack`: restored,
/// `Failed`: still pending). Dependents' transactions come first: a dependent restored
/// from its plan is no longer mistaken for one left in the old namespace.
pub fn recover(engine: &dyn Engine, store: &mut Store) -> Result<Vec<(Transaction, Entry)>> {
    let mut entries = Vec::new();
    let mut pending = store.pending();
    pending.sort_by_key(|tx| tx.kind != DEPENDENT);
    for mut tx in pending {
        let interrupted = tx.step;
        let outcome = match tx.step {
            // Killed while its pre_update hook ran: nothing was touched.
            Step::PreUpdate => Ok(Step::PreUpdate),
            Step::Updated | Step::Restored => Ok(tx.step),
            _ if tx.service.is_some() => {
                service::converge(engine, &tx, CONVERGE_VERIFY.health_timeout)
            }
            // Compose removed the old container when it recreated the service: what
            // is verified is done; anything else goes back to the old image.
            Step::Verified if tx.compose.is_some() => Ok(Step::Updated),
            _ if tx.compose.is_some() => {
                compose::restore(engine, &tx, None, Some(CONVERGE_VERIFY)).map(|()| Step::Restored)
            }
            Step::Verified => complete(engine, &tx).map(|()| Step::Updated),
            _ => restore(engine, &tx).map(|()| Step::Restored),
        };
        let outcome = outcome.and_then(|step| {
            tx.step = step;
            store.record(&tx).map(|()| step)
        });
        let (result, reason) = match &outcome {
            Ok(Step::PreUpdate) => (
                ResultKind::Failed,
                "an interrupted run was killed while its pre_update hook ran; the old container was never touched".to_string(),
            ),
            Ok(Step::Updated) => (
                ResultKind::Recovered,
                "an interrupted run had verified the new container; finished it".to_string(),
            ),
            Ok(_) => (
                ResultKind::RolledBack,
                format!(
                    "an interrupted run stopped at step {interrupted:?}; the old container was restored"
                ),
            ),
            Err(e) => (
                ResultKind::Failed,
                format!("recovering an interrupted run failed: {e:#}"),
            ),
        };
        match &outcome {
            Ok(_) => log::warn!("{}: {reason}", tx.container),
            Err(_) => log::error!("{}: {reason}", tx.container),
        }
        let entry = Entry {
            time: state::now_rfc3339(),
            kind: tx.kind.clone(),
            container: tx.container.clone(),
            image: tx.image.clone(),
            change: tx.change.clone(),
            result,
            reason: Some(reason),
            duration_ms: now_ms().saturating_sub(tx.started_ms),
            hooks: Vec::new(),
        };
        entries.push((tx, entry));
    }
    Ok(entries)
}

/// How a dependent recreated during convergence is verified: briefly, since the run
/// that converges has its own work to do and the dependent ran before.
const CONVERGE_VERIFY: Verify = Verify {
    grace: std::time::Duration::from_secs(2),
    health_timeout: std::time::Duration::from_secs(60),
};

/// Finishes or undoes everything an interrupted run left in the journal, before
/// anything else touches containers: containers that shared the network namespace of
/// a replaced one follow whichever container now runs under its name, and the history
/// says what was done. An error when a transaction could not be converged (the journal
/// keeps it for the next run).
pub fn converge(engine: &dyn Engine, store: &mut Store) -> Result<()> {
    let recovered = recover(engine, store)?;
    for (tx, entry) in &recovered {
        if tx.step == Step::PreUpdate {
            store.clear(&tx.container)?;
            continue;
        }
        if entry.result == ResultKind::Failed {
            continue;
        }
        if tx.compose.is_some() || tx.service.is_some() {
            store.clear(&tx.container)?;
            continue;
        }
        let (_, errors) = settle(engine, store, &tx.container, Some(CONVERGE_VERIFY));
        for e in errors {
            log::error!("{e}");
        }
    }
    let stuck = recovered
        .iter()
        .any(|(tx, e)| e.result == ResultKind::Failed && tx.step != Step::PreUpdate);
    let entries: Vec<Entry> = recovered.into_iter().map(|(_, e)| e).collect();
    store.append_history(&entries)?;
    if stuck {
        bail!(
            "an interrupted update could not be converged; see `dum history` and the journal in {}",
            store.state_file().display()
        );
    }
    Ok(())
}
