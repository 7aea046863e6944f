//! The update journal: its entries live in the state file, written (atomically, under
//! the run lock, through [`crate::store::Store::record`]) before every step that
//! touches a container, so a run killed at any point can be converged by the next one
//! (`crate::update::recovery`).

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::compose::edit::Edit;
use crate::docker::types::CreatePlan;
use crate::image::pin::Change;
use crate::store::state::State;

/// The step a transaction is about to take (or has just taken), in the order taken:
/// the new container exists before the old one is stopped, so a container the engine
/// removes when it stops (`AutoRemove`) has its volumes held by the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The `pre_update` hook runs: nothing is touched yet, and a run killed here leaves
    /// the old container as it was (recovery only clears the entry).
    PreUpdate,
    /// About to rename the old (still running) container to its backup name.
    Renaming,
    /// A compose service: its tag is moved to the new image and `docker compose up`
    /// recreates it (see [`Handover`]).
    Applying,
    /// About to create the new container under the original name.
    Creating,
    /// Stopping the old container; the engine may still be at it after a kill.
    Stopping,
    /// About to start the new container.
    Starting,
    /// Verifying the new container.
    Verifying,
    /// The new container passed verification; its `post_update` hook runs. Not
    /// verified until the hook says so: a run killed here is rolled back.
    PostUpdate,
    /// The new container is verified: only the backup's removal is left.
    Verified,
    /// Verification failed: restoring the old container.
    RollingBack,
    /// The update went through (the backup is removed); the containers that shared
    /// the old container's network namespace are being brought along.
    Updated,
    /// The old container is back; its dependents are being brought along (restarted
    /// into its new namespace, or recreated to join it when it was created again).
    Restored,
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
    /// From what ran to the target.
    #[serde(flatten)]
    pub change: Change,
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
    /// The containers that shared the old container's network namespace, found (and
    /// journaled before any is touched) once the transaction is `Updated` or
    /// `Restored`, so a killed run still brings them along.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependents: Option<Vec<String>>,
    /// Compose recreates the container: how to make it do so again (forward or back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose: Option<Handover>,
    /// A Swarm service's update: Swarm rolls it out, dum waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Rollout>,
}

/// A Swarm service's update in flight: the spec's image before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// The service's ID.
    pub id: String,
    /// The image its spec named before (`repo:tag@digest`).
    pub old_image: String,
    /// The image the update sets.
    pub new_image: String,
}

/// A transaction compose applies: the tag the service's file names is moved to the new
/// image, then `docker compose up -d --pull never SERVICE` recreates it; to
/// undo, the tag goes back to the old image and compose recreates it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handover {
    /// `-p P --project-directory D -f F… --env-file E…`, as the container's labels said.
    pub project_args: Vec<String>,
    /// The service.
    pub service: String,
    /// The `repo:tag` the compose file names.
    pub tag: String,
    /// The image ID the tag named before the update.
    pub old_image: String,
    /// For a service its file pins to a version: the edit of the file that moves it
    /// (undone with the rest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit: Option<Edit>,
    /// Services whose containers share the service's namespaces or volumes: `up`
    /// names them too, so compose recreates them into the new container's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub followers: Vec<String>,
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
pub fn transactions(state: &State) -> (Vec<Transaction>, Vec<String>) {
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

/// Puts `tx` in place of the readable entry of `container` (removes it when `tx` is
/// `None`). Entries this dum cannot read are kept whatever container they name: only
/// the run that wrote them may clear them.
pub fn replace(state: &mut State, tx: Option<&Transaction>, container: &str) -> Result<()> {
    state.journal.retain(|v| {
        serde_json::from_value::<Transaction>(v.clone()).map_or(true, |t| t.container != container)
    });
    if let Some(tx) = tx {
        let value = serde_json::to_value(tx)
            .with_context(|| format!("cannot encode the journal entry of {container}"))?;
        state.journal.push(value);
    }
    Ok(())
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
            change: Default::default(),
            started_ms: 1,
            was_paused: false,
            restore_plan: None,
            stop_deadline_ms: None,
            dependents: None,
            compose: None,
            service: None,
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
        let mut store = crate::store::Store::open(&path, None).unwrap();
        store.record(&tx("db")).unwrap();
        store.clear("db").unwrap();
        store.record(&tx("api")).unwrap();
        // Same container as an unreadable entry: that entry stays.
        store.record(&tx("web")).unwrap();
        store.clear("web").unwrap();
        drop(store);
        let (state, _) = State::load(&path).unwrap();
        let (found, unreadable) = transactions(&state);
        assert_eq!(found, vec![tx("api")]);
        assert_eq!(unreadable.len(), 2, "{unreadable:?}");
        assert!(unreadable[0].contains("container web"), "{}", unreadable[0]);
        assert!(unreadable[1].contains("container ?"), "{}", unreadable[1]);
        let store = crate::store::Store::open(&path, None).unwrap();
        assert_eq!(store.pending(), vec![tx("api")]);
    }
}
