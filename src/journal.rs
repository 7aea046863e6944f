//! The update journal: written to the state file (atomically, under the run lock)
//! before every step that touches a container, so a run killed at any point can be
//! converged by the next one: completed when the new container was verified,
//! restored to the untouched old container otherwise.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::docker::Engine;
use crate::docker::types::ContainerInspect;
use crate::history::{Entry, ResultKind};
use crate::spec::CreatePlan;
use crate::state::{self, State};

/// The step a transaction is about to take (or has just taken), in the order taken:
/// the new container exists before the old one is stopped, so a container the engine
/// removes when it stops (`AutoRemove`) has its volumes held by the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// About to rename the old (still running) container to its backup name.
    Renaming,
    /// About to create the new container under the original name.
    Creating,
    /// Stopping the old container; the engine may still be at it after a kill.
    Stopping,
    /// About to start the new container.
    Starting,
    /// Verifying the new container.
    Verifying,
    /// The new container is verified: only the backup's removal is left.
    Verified,
    /// Verification failed: restoring the old container.
    RollingBack,
}

/// One transaction in flight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    /// `update`, `rollback` or `dependent`.
    pub kind: String,
    /// The container's name (the one users know).
    pub container: String,
    /// The configured image.
    pub image: String,
    /// The old container's ID: never removed before the new one is verified.
    pub old_id: String,
    /// The name the old container carries while the new one is tried.
    pub backup_name: String,
    /// The new container's ID, once created.
    pub new_id: Option<String>,
    /// Whether the old container was running (restore it running).
    pub was_running: bool,
    /// Where the transaction is.
    pub step: Step,
    /// Version before.
    pub from_version: Option<String>,
    /// Version after.
    pub to_version: Option<String>,
    /// Digest before.
    pub from_digest: Option<String>,
    /// Digest after.
    pub to_digest: Option<String>,
    /// When it began (unix milliseconds).
    pub started_ms: u64,
    /// Whether the old container was paused (restore it paused).
    #[serde(default)]
    pub was_paused: bool,
    /// How to create the old container again, on its own image, should it be gone
    /// when it must be restored: the engine removes an `AutoRemove` container as soon
    /// as it stops. Absent in journals of older dum versions.
    #[serde(default)]
    pub restore_plan: Option<CreatePlan>,
    /// Until when (unix milliseconds) a stop of the old container that a killed run
    /// requested may still be under way in the engine, which goes on with it.
    #[serde(default)]
    pub stop_deadline_ms: Option<u64>,
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The transactions of the journal, and one line per entry that cannot be read (a
/// newer dum's, a hand edit): such an entry is kept in the file, never dropped, but it
/// cannot be converged, so it is said aloud.
fn transactions(state: &State) -> (Vec<Transaction>, Vec<String>) {
    let mut found = Vec::new();
    let mut unreadable = Vec::new();
    for (i, value) in state.journal.iter().enumerate() {
        match serde_json::from_value(value.clone()) {
            Ok(tx) => found.push(tx),
            Err(e) => {
                let container = value
                    .get("container")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("?");
                unreadable.push(format!(
                    "journal entry {i} (container {container}) cannot be read ({e}): it is kept, but dum cannot converge it; check that container by hand"
                ));
            }
        }
    }
    (found, unreadable)
}

/// Loads the state, logging the warning when a corrupt file was moved aside.
fn load(state_file: &Path) -> Result<State> {
    let (state, warning) = State::load(state_file)?;
    if let Some(w) = warning {
        log::warn!("{w}");
    }
    Ok(state)
}

/// Records `tx` (replacing the entry of the same container) before its step is taken.
pub fn record(state_file: &Path, tx: &Transaction) -> Result<()> {
    let mut state = load(state_file)?;
    let value = serde_json::to_value(tx).context("cannot encode the journal entry")?;
    state
        .journal
        .retain(|v| v.get("container").and_then(|c| c.as_str()) != Some(tx.container.as_str()));
    state.journal.push(value);
    state
        .save(state_file)
        .with_context(|| format!("cannot journal the update of {}", tx.container))
}

/// Removes the entry of `container`.
pub fn clear(state_file: &Path, container: &str) -> Result<()> {
    let (mut state, _) = State::load(state_file)?;
    state
        .journal
        .retain(|v| v.get("container").and_then(|c| c.as_str()) != Some(container));
    state
        .save(state_file)
        .with_context(|| format!("cannot clear the journal entry of {container}"))
}

/// Transactions a previous run left behind.
pub fn pending(state_file: &Path) -> Result<Vec<Transaction>> {
    let (found, unreadable) = transactions(&load(state_file)?);
    for line in unreadable {
        log::warn!("{}: {line}", state_file.display());
    }
    Ok(found)
}

/// Puts the old container back: the new one (if any) removed, the backup renamed to
/// the original name and started (and paused) as it was; created again from the
/// journaled plan when the engine removed it (`AutoRemove`). Idempotent: safe to repeat
/// from any point of a half-done transaction. True when it had to start the old
/// container again (it then has a new network namespace: its dependents must rejoin).
pub fn restore(engine: &dyn Engine, tx: &Transaction) -> Result<bool> {
    outlast_stop(engine, tx)?;
    let old = outlast_removal(engine, tx)?;
    // Whatever carries the original name and is not the old container is the new one
    // (or an earlier, interrupted attempt at recreating the old one).
    let mut doomed: Vec<String> = tx.new_id.iter().cloned().collect();
    if let Some(holder) = engine.inspect_container(&tx.container)?
        && holder.id != tx.old_id
        && !doomed.contains(&holder.id)
    {
        doomed.push(holder.id);
    }
    for id in doomed {
        if id != tx.old_id {
            engine
                .remove_container(&id)
                .with_context(|| format!("cannot remove the new container {}", short(&id)))?;
        }
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
    Ok(restart)
}

/// Creates the old container again from the journaled plan, on its old image (kept
/// locally until an update is verified), under its own name.
fn recreate_old(engine: &dyn Engine, tx: &Transaction) -> Result<bool> {
    let Some(plan) = &tx.restore_plan else {
        bail!(
            "the old container {} ({}) is gone and this journal entry has no plan to create it again",
            tx.container,
            short(&tx.old_id)
        );
    };
    log::warn!(
        "{}: the engine removed the old container ({}, AutoRemove); creating it again from its journaled settings",
        tx.container,
        short(&tx.old_id)
    );
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
    Ok(tx.was_running)
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
        let auto_remove = old
            .raw
            .pointer("/HostConfig/AutoRemove")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        let leaving = matches!(old.state.status.as_str(), "removing" | "dead")
            || (auto_remove && old.state.status == "exited");
        if !leaving || now_ms() >= until {
            return Ok(Some(old));
        }
        std::thread::sleep(STOP_POLL);
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
    engine
        .remove_container(&tx.old_id)
        .with_context(|| format!("cannot remove the backup container {}", tx.backup_name))?;
    Ok(())
}

/// The first 12 characters of a container ID, as `docker ps` shows it. The ID comes from
/// the state file or the engine: cut at a character, never inside one.
fn short(id: &str) -> &str {
    id.char_indices().nth(12).map_or(id, |(end, _)| &id[..end])
}

/// Converges every transaction a killed run left: completes verified ones, restores
/// the rest. Returns each transaction with the history entry describing what was done
/// (`Recovered`: completed, `RolledBack`: restored, `Failed`: still pending), and
/// whether the old container was started again.
pub fn recover(engine: &dyn Engine, state_file: &Path) -> Result<Vec<(Transaction, Entry, bool)>> {
    let mut entries = Vec::new();
    for tx in pending(state_file)? {
        let verified = tx.step == Step::Verified;
        let outcome = if verified {
            complete(engine, &tx).map(|()| false)
        } else {
            restore(engine, &tx)
        };
        let restarted = matches!(outcome, Ok(true));
        let (result, reason) = match &outcome {
            Ok(_) if verified => (
                ResultKind::Recovered,
                "an interrupted run had verified the new container; finished it".to_string(),
            ),
            Ok(_) => (
                ResultKind::RolledBack,
                format!(
                    "an interrupted run stopped at step {:?}; the old container was restored",
                    tx.step
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
            from_version: tx.from_version.clone(),
            to_version: tx.to_version.clone(),
            from_digest: tx.from_digest.clone(),
            to_digest: tx.to_digest.clone(),
            result,
            reason: Some(reason),
            duration_ms: now_ms().saturating_sub(tx.started_ms),
        };
        if outcome.is_ok() {
            clear(state_file, &tx.container)?;
        }
        entries.push((tx, entry, restarted));
    }
    Ok(entries)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn tx(container: &str) -> Transaction {
        Transaction {
            kind: "update".into(),
            container: container.into(),
            image: "r.io/app".into(),
            old_id: "old".into(),
            backup_name: format!("{container}-dum-backup"),
            new_id: None,
            was_running: true,
            step: Step::Renaming,
            from_version: None,
            to_version: None,
            from_digest: None,
            to_digest: None,
            started_ms: 1,
            was_paused: false,
            restore_plan: None,
            stop_deadline_ms: None,
        }
    }

    /// An entry this dum cannot read (a newer dum's, a hand edit) is reported and kept
    /// through later journal writes, never dropped.
    #[test]
    fn unreadable_entries_are_reported_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut state = State::default();
        state
            .journal
            .push(serde_json::json!({"container": "web", "step": "teleporting"}));
        state.journal.push(serde_json::json!(42));
        state.save(&path).unwrap();
        record(&path, &tx("db")).unwrap();
        clear(&path, "db").unwrap();
        record(&path, &tx("api")).unwrap();
        let (state, _) = State::load(&path).unwrap();
        let (found, unreadable) = transactions(&state);
        assert_eq!(found, vec![tx("api")]);
        assert_eq!(unreadable.len(), 2, "{unreadable:?}");
        assert!(unreadable[0].contains("container web"), "{}", unreadable[0]);
        assert!(unreadable[1].contains("container ?"), "{}", unreadable[1]);
        assert_eq!(pending(&path).unwrap(), vec![tx("api")]);
    }

    #[test]
    fn short_ids_cut_at_a_character() {
        const CASES: &[(&str, &str)] = &[
            ("0123456789abcdef0123", "0123456789ab"),
            ("0123456789ab", "0123456789ab"),
            ("abc", "abc"),
            ("", ""),
            ("0123456789a€cdef", "0123456789a€"),
            ("€€€€€€€€€€€€€€", "€€€€€€€€€€€€"),
        ];
        for (id, want) in CASES {
            assert_eq!(short(id), *want, "{id:?}");
        }
    }
}
