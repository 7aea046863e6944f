//! The transaction that swaps one container for its recreation, journaled before
//! every step that touches a container: success removes the backup; failure removes
//! the new one and puts the old one back as it was.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};

use crate::config::hooks::Phase;
use crate::docker::types::{ContainerInspect, CreatePlan};
use crate::docker::{Engine, ExitWatch};
use crate::fault;
use crate::store::Store;
use crate::store::history::{HookRun, ResultKind};
use crate::store::journal::{self, Step, Transaction};
use crate::update::hook::{self, Verdict};
use crate::update::plan::Move;
use crate::update::recovery;
use crate::update::verify;

/// The container name the backup carries during the transaction.
pub fn backup_name(container: &str) -> String {
    format!("{container}-dum-backup")
}

/// Margin on top of a container's stop timeout for the engine's SIGKILL to land.
const STOP_MARGIN_MS: u64 = 5_000;

/// The engine's default stop timeout, for containers that set none.
const DEFAULT_STOP_TIMEOUT_S: u64 = 10;

/// How long the engine may take to stop `old`: its own stop timeout plus a margin.
fn stop_budget_ms(old: &ContainerInspect) -> u64 {
    let timeout = old
        .raw
        .pointer("/Config/StopTimeout")
        .and_then(serde_json::Value::as_i64)
        .and_then(|t| u64::try_from(t).ok())
        .unwrap_or(DEFAULT_STOP_TIMEOUT_S);
    timeout.saturating_mul(1000).saturating_add(STOP_MARGIN_MS)
}

/// Whether the planned container is removed by the engine as soon as it exits.
fn auto_removes(plan: &CreatePlan) -> bool {
    plan.body
        .pointer("/HostConfig/AutoRemove")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

/// Stops the old container, creates and starts the new one; returns the new ID. The
/// new container is created (and connected) while the old one still runs under its
/// backup name, so it holds the old one's volumes when the engine removes an
/// `AutoRemove` old container on its stop, and so downtime is only stop + start.
fn swap(
    engine: &dyn Engine,
    store: &mut Store,
    tx: &mut Transaction,
    old: &ContainerInspect,
    plan: &CreatePlan,
) -> Result<(String, Option<ExitWatch>)> {
    tx.step = Step::Renaming;
    store.record(tx)?;
    engine
        .rename(&old.id, &tx.backup_name)
        .with_context(|| format!("cannot rename {} to {}", old.name, tx.backup_name))?;
    fault::point("renamed");
    tx.step = Step::Creating;
    store.record(tx)?;
    let id = engine
        .create(&plan.name, &plan.body)
        .with_context(|| format!("cannot create the new container {}", plan.name))?;
    tx.new_id = Some(id.clone());
    for (network, endpoint) in &plan.extra_networks {
        engine
            .connect(network, &id, endpoint)
            .with_context(|| format!("cannot connect {} to network {network}", plan.name))?;
    }
    fault::point("created");
    tx.step = Step::Stopping;
    tx.stop_deadline_ms = Some(journal::now_ms().saturating_add(stop_budget_ms(old)));
    store.record(tx)?;
    engine
        .stop(&old.id, None)
        .with_context(|| format!("cannot stop {}", old.name))?;
    fault::point("stopped");
    tx.step = Step::Starting;
    store.record(tx)?;
    let mut watch = None;
    if plan.start {
        // The engine removes an AutoRemove container that exits, output and all: watch
        // it from before its start so a failure still says why.
        if auto_removes(plan) {
            let tty = plan
                .body
                .get("Tty")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false);
            match engine.watch(&id, tty, WATCH_LIMIT) {
                Ok(w) => watch = Some(w),
                Err(e) => log::debug!("{}: cannot watch the new container: {e:#}", plan.name),
            }
        }
        engine
            .start(&id)
            .with_context(|| format!("cannot start the new container {}", plan.name))?;
    }
    fault::point("started");
    Ok((id, watch))
}

/// How long a new container's output is watched at most: longer than verification
/// takes; the background reads end with the container or with dum, whichever is first.
const WATCH_LIMIT: Duration = Duration::from_secs(3600);

/// How a transaction failed.
#[derive(Debug)]
pub enum Undo {
    /// The old container runs again, as before.
    RolledBack(anyhow::Error),
    /// Nothing was changed (the failure came before the old container was touched).
    Untouched(anyhow::Error),
    /// Restoring failed too; the journal keeps the transaction for the next run.
    Stuck(anyhow::Error),
}

impl Undo {
    /// How the history records it.
    pub fn result(&self) -> ResultKind {
        match self {
            Undo::RolledBack(..) => ResultKind::RolledBack,
            Undo::Untouched(_) | Undo::Stuck(_) => ResultKind::Failed,
        }
    }

    /// What went wrong and what was done about it, one line; `what` is what came
    /// back on a rollback (`the old container`, `the service`).
    pub fn message_for(&self, what: &str) -> String {
        match self {
            Undo::RolledBack(e) => format!("{e:#}; rolled back {what}"),
            Undo::Untouched(e) | Undo::Stuck(e) => format!("{e:#}"),
        }
    }

    /// What went wrong and what was done about it, one line.
    pub fn message(&self) -> String {
        match self {
            Undo::RolledBack(e) => format!("{e:#}; rolled back to the old container"),
            Undo::Untouched(e) => format!("{e:#}"),
            Undo::Stuck(e) => format!("{e:#}"),
        }
    }
}

/// Why the `pre_update` hook stopped a move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Halt {
    /// Exit 75: not this run; not a failure.
    Skip(String),
    /// Any other failure: the update is vetoed, the run fails.
    Veto(String),
}

/// The report's reason of a move a `pre_update` hook skipped.
pub const SKIPPED_BY_HOOK: &str = "skipped by pre_update hook";

/// Runs the move's `pre_update` hook, if any, before anything is touched: in the old
/// container (`old`) or on the host. Journaled while it runs, so the next run knows a
/// killed one was there (and that nothing was touched: recovery only clears the entry);
/// cleared as soon as it returned. What it did is pushed to `hooks`.
pub fn pre_update(
    engine: &dyn Engine,
    store: &mut Store,
    mv: &Move,
    old: Option<&ContainerInspect>,
    hooks: &mut Vec<HookRun>,
) -> Result<(), Halt> {
    let Some(pre) = &mv.hooks.pre_update else {
        return Ok(());
    };
    let ran = match old {
        Some(old) => {
            let tx = Transaction {
                kind: mv.kind.clone(),
                container: mv.container.clone(),
                image: mv.image.clone(),
                old_id: old.id.clone(),
                backup_name: backup_name(&mv.container),
                new_id: None,
                was_running: old.state.running,
                step: Step::PreUpdate,
                change: mv.change.clone(),
                started_ms: journal::now_ms(),
                was_paused: old.state.paused,
                restore_plan: None,
                stop_deadline_ms: None,
                dependents: None,
                compose: None,
                service: None,
            };
            store
                .record(&tx)
                .map_err(|e| Halt::Veto(format!("{e:#}; {} is untouched", mv.container)))?;
            let ran = hook::run(engine, pre, Phase::PreUpdate, mv, Some(&old.id));
            store
                .clear(&mv.container)
                .map_err(|e| Halt::Veto(format!("{e:#}; {} is untouched", mv.container)))?;
            ran
        }
        None => hook::run(engine, pre, Phase::PreUpdate, mv, None),
    };
    let verdict = hook::verdict(&ran, Phase::PreUpdate);
    hooks.push(ran);
    match verdict {
        Verdict::Passed => Ok(()),
        Verdict::Skip => Err(Halt::Skip(SKIPPED_BY_HOOK.into())),
        Verdict::Failed(why) => Err(Halt::Veto(format!(
            "vetoed: {why}; {} is untouched",
            mv.container
        ))),
    }
}

/// Runs the move's `post_update` hook, if any, once the new container `id` passed
/// verification: its failure is a failed verification (the error). Until the hook says
/// so the update is not verified: journaled `PostUpdate`, a run killed meanwhile is
/// rolled back. What it did is pushed to `hooks`.
pub fn post_update(
    engine: &dyn Engine,
    store: &mut Store,
    tx: &mut Transaction,
    mv: &Move,
    id: &str,
    hooks: &mut Vec<HookRun>,
) -> Result<()> {
    let Some(post) = &mv.hooks.post_update else {
        return Ok(());
    };
    tx.step = Step::PostUpdate;
    store.record(tx)?;
    let ran = hook::run(engine, post, Phase::PostUpdate, mv, Some(id));
    let verdict = hook::verdict(&ran, Phase::PostUpdate);
    hooks.push(ran);
    match verdict {
        Verdict::Failed(why) => Err(anyhow!(why)),
        Verdict::Passed | Verdict::Skip => Ok(()),
    }
}

/// Runs the whole transaction for one container whose new image is present locally.
/// `restore_plan` creates the old container again on its own image, should the engine
/// remove it (`AutoRemove`); the move's `verify` settings verify the new one. Returns
/// the new container's ID. Unless it is stuck, the transaction stays journaled
/// (`Updated` or `Restored`) until [`crate::update::dependents::settle`] has brought its
/// dependents along. The move's `post_update` hook, run once the new container passed
/// verification, is part of it: its failure is a failed verification; what it did is
/// pushed to `hooks`.
pub fn recreate(
    engine: &dyn Engine,
    store: &mut Store,
    old: &ContainerInspect,
    plan: &CreatePlan,
    restore_plan: Option<CreatePlan>,
    mv: &Move,
    hooks: &mut Vec<HookRun>,
) -> Result<String, Undo> {
    let mut tx = Transaction {
        kind: mv.kind.clone(),
        container: old.name.clone(),
        image: mv.image.clone(),
        old_id: old.id.clone(),
        backup_name: backup_name(&old.name),
        new_id: None,
        was_running: old.state.running,
        step: Step::Renaming,
        change: mv.change.clone(),
        started_ms: journal::now_ms(),
        was_paused: old.state.paused,
        restore_plan,
        stop_deadline_ms: None,
        dependents: None,
        compose: None,
        service: None,
    };
    match engine.inspect_container(&tx.backup_name) {
        Ok(None) => {}
        Ok(Some(_)) => {
            return Err(Undo::Untouched(anyhow!(
                "a container named {} already exists: remove or rename it first",
                tx.backup_name
            )));
        }
        Err(e) => return Err(Undo::Untouched(e)),
    }
    store.record(&tx).map_err(Undo::Untouched)?;
    fault::point("journaled");
    let attempt = (|| -> Result<String> {
        let (id, watch) = swap(engine, store, &mut tx, old, plan)?;
        tx.step = Step::Verifying;
        store.record(&tx)?;
        if plan.start
            && let Some(v) = mv.verify
        {
            verify::verify(engine, &id, v, watch.as_ref())?;
        }
        // Only a container that runs can be smoke-tested.
        if plan.start {
            post_update(engine, store, &mut tx, mv, &id, hooks)?;
        }
        // Verified running; a container the user had paused is left paused.
        if plan.start && tx.was_paused {
            engine
                .pause(&id)
                .with_context(|| format!("cannot pause the new container {}", plan.name))?;
        }
        Ok(id)
    })();
    match attempt {
        Ok(id) => {
            tx.step = Step::Verified;
            let mut finish = || -> Result<()> {
                store.record(&tx)?;
                fault::point("verified");
                recovery::complete(engine, &tx)?;
                fault::point("backup-removed");
                tx.step = Step::Updated;
                store.record(&tx)
            };
            // The new container is verified and runs; a failure here leaves only the
            // backup behind, and the journal lets the next run remove it.
            finish()
                .map_err(|e| Undo::Stuck(e.context("the update worked but finishing it failed")))?;
            Ok(id)
        }
        Err(failure) => {
            tx.step = Step::RollingBack;
            let mut undo = || -> Result<()> {
                store.record(&tx)?;
                fault::point("rolling-back");
                recovery::restore(engine, &tx)?;
                tx.step = Step::Restored;
                store.record(&tx)
            };
            match undo() {
                Ok(()) => Err(Undo::RolledBack(failure)),
                Err(e) => Err(Undo::Stuck(anyhow!(
                    "{failure:#}; restoring the old container failed too: {e:#} (the journal keeps the transaction; the next dum run retries)"
                ))),
            }
        }
    }
}
