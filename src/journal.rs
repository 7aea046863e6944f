//! The update journal: written to the state file (atomically, under the run lock)
//! before every step that touches a container, so a run killed at any point can be
//! converged by the next one: completed when the new container was verified,
//! restored to the untouched old container otherwise.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::docker::Engine;
use crate::history::{Entry, ResultKind};
use crate::state::{self, State};

/// The step a transaction is about to take (or has just taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// About to stop the old container.
    Stopping,
    /// About to rename the old container to its backup name.
    Renaming,
    /// About to create the new container under the original name.
    Creating,
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
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn transactions(state: &State) -> Vec<Transaction> {
    state
        .journal
        .iter()
        .filter_map(|v| serde_json::from_value(v.clone()).ok())
        .collect()
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
    Ok(transactions(&load(state_file)?))
}

/// Puts the old container back: the new one (if any) removed, the backup renamed to
/// the original name and started when it was running. Idempotent: safe to repeat
/// from any point of a half-done transaction. True when it had to start the old
/// container again (it then has a new network namespace: its dependents must rejoin).
pub fn restore(engine: &dyn Engine, tx: &Transaction) -> Result<bool> {
    let old = engine.inspect_container(&tx.old_id)?.ok_or_else(|| {
        anyhow!(
            "the old container {} ({}) is gone: cannot restore it",
            tx.container,
            short(&tx.old_id)
        )
    })?;
    // Whatever carries the original name and is not the old container is the new one.
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
    if old.name != tx.container {
        engine
            .rename(&tx.old_id, &tx.container)
            .with_context(|| format!("cannot rename {} back to {}", old.name, tx.container))?;
    }
    let restart = tx.was_running && !old.state.running;
    if restart {
        engine
            .start(&tx.old_id)
            .with_context(|| format!("cannot start the old container {} again", tx.container))?;
    }
    Ok(restart)
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
