//! The update history (`history.json` beside the state): every update, rollback and
//! failure, newest last, capped so the file stays small.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::image::pin::Change;
use crate::store::state::write_json_atomic;

/// Name of the history file, beside the state file.
pub const FILE_NAME: &str = "history.json";

/// Entries kept; the oldest are dropped first.
pub const MAX_ENTRIES: usize = 500;

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultKind {
    /// The new container runs and was verified.
    Updated,
    /// The new container failed verification; the old one runs again.
    RolledBack,
    /// Nothing changed (e.g. the pull failed) or the old container could not be restored.
    Failed,
    /// An interrupted transaction was completed by a later run.
    Recovered,
    /// A `pre_update` hook asked to skip the update for this run (exit 75); nothing
    /// was touched.
    Skipped,
}

/// What one lifecycle hook did, as the history and the JSON documents keep it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRun {
    /// `pre_update`, `post_update` or `post_rollback`.
    pub phase: String,
    /// `host` or `container`.
    #[serde(rename = "where")]
    pub place: String,
    /// Its exit code; `None` when it timed out or could not be started.
    pub exit_code: Option<i64>,
    /// Whether it ran out of its `timeout_seconds`.
    #[serde(default)]
    pub timed_out: bool,
    /// Its `timeout_seconds`.
    #[serde(default)]
    pub timeout_seconds: u64,
    /// The end of its output (stdout and stderr), truncated.
    pub output: String,
    /// Why it could not be run, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// When it ended (RFC 3339, UTC).
    pub time: String,
    /// `update` or `rollback`.
    pub kind: String,
    /// Container name.
    pub container: String,
    /// Configured image (repository).
    pub image: String,
    /// From what ran to the target.
    #[serde(flatten)]
    pub change: Change,
    /// How it ended.
    pub result: ResultKind,
    /// Why it failed or was rolled back; what recovery did.
    pub reason: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
    /// The lifecycle hooks that ran, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<HookRun>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    version: u32,
    entries: Vec<Entry>,
}

/// Where the history lives for a state file.
pub fn path_for(state_file: &Path) -> PathBuf {
    state_file.with_file_name(FILE_NAME)
}

/// Reads the history; a missing file is empty. A corrupt one is an error naming it:
/// history is not rebuilt silently.
pub fn load(path: &Path) -> anyhow::Result<Vec<Entry>> {
    crate::store::ownership::check(path, "history file")?;
    log::debug!("read the history file {}", path.display());
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read history file {}", path.display()));
        }
    };
    let file: File = serde_json::from_str(&text)
        .with_context(|| format!("history file {} is not valid history JSON", path.display()))?;
    Ok(file.entries)
}

/// Writes the whole history atomically (the [`crate::store::Store`] appends and caps).
pub fn write(path: &Path, entries: &[Entry]) -> anyhow::Result<()> {
    write_json_atomic(
        path,
        &File {
            version: 1,
            entries: entries.to_vec(),
        },
    )
}

/// The newest successful update of `container`, for `dum rollback`.
pub fn last_update<'a>(entries: &'a [Entry], container: &str) -> Option<&'a Entry> {
    entries.iter().rev().find(|e| {
        e.container == container && matches!(e.result, ResultKind::Updated | ResultKind::Recovered)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::image::pin::Pin;

    fn entry(n: usize, result: ResultKind) -> Entry {
        Entry {
            time: format!("t{n}"),
            kind: "update".into(),
            container: "c".into(),
            image: "i".into(),
            change: Change {
                from: Pin::new(Some(format!("v{n}")), Some(format!("sha256:{n}"))),
                to: Pin::new(Some(format!("v{}", n + 1)), None),
            },
            result,
            reason: None,
            duration_ms: 1,
            hooks: Vec::new(),
        }
    }

    #[test]
    fn capped_across_runs() {
        let dir = tempfile::tempdir().unwrap();
        let state_file = dir.path().join("state.json");
        for chunk in 0..6 {
            let batch: Vec<Entry> = (0..100)
                .map(|i| entry(chunk * 100 + i, ResultKind::Updated))
                .collect();
            let mut store = crate::store::Store::open(&state_file, None).unwrap();
            store.append_history(&batch).unwrap();
        }
        let all = load(&path_for(&state_file)).unwrap();
        assert_eq!(all.len(), MAX_ENTRIES);
        assert_eq!(all[0].time, "t100");
        assert_eq!(all[MAX_ENTRIES - 1].time, "t599");
    }

    #[test]
    fn last_update_skips_failures() {
        let entries = vec![
            entry(1, ResultKind::Updated),
            entry(2, ResultKind::RolledBack),
            entry(3, ResultKind::Failed),
        ];
        assert_eq!(last_update(&entries, "c").unwrap().time, "t1");
        assert!(last_update(&entries, "other").is_none());
    }
}
