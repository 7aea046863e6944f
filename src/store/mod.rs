//! What dum keeps on disk beside its state file: the state, the update journal, the
//! history, the run lock, and the ownership rules every file read as root must pass.
//!
//! One [`Store`] is opened per run, after the lock is taken, and passed down: the state
//! file is read once, and every change (a journal step, what a check saw, what was
//! announced) is written from the one copy in memory, atomically. Nothing else in dum
//! reads or writes these files.

pub mod history;
pub mod journal;
pub mod lock;
pub mod ownership;
pub mod state;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};

use self::history::Entry;
use self::journal::Transaction;
use self::lock::{LockError, RunLock};
use self::state::State;

/// The run's handle on its files: the lock (when it may write), the state as read at
/// open, and the history once something needs it.
#[derive(Debug)]
pub struct Store {
    state_file: PathBuf,
    state: State,
    history: Option<Vec<Entry>>,
    /// `None` for a read-only store, which never writes (a dry run, `dum history`).
    lock: Option<RunLock>,
}

impl Store {
    /// Takes the run lock in the state file's directory (waiting up to `wait`), then
    /// reads the state. A state file dum cannot understand is moved aside, with a
    /// warning: it may be the only record of what ran before an update.
    pub fn open(state_file: &Path, wait: Option<Duration>) -> Result<Store, LockError> {
        let lock = RunLock::acquire(directory_of(state_file), wait)?;
        let (state, warning) = State::load(state_file).map_err(LockError::Other)?;
        if let Some(w) = warning {
            log::warn!("{w}");
        }
        Ok(Store {
            state_file: state_file.to_path_buf(),
            state,
            history: None,
            lock: Some(lock),
        })
    }

    /// Reads the state without the lock and without changing anything on disk: a
    /// state file dum cannot understand reads as empty, with a warning (a real run
    /// moves it aside). Writes through this store fail.
    pub fn read_only(state_file: &Path) -> Result<Store> {
        let (state, warning) = State::read(state_file)?;
        if let Some(w) = warning {
            log::warn!("{w}");
        }
        Ok(Store {
            state_file: state_file.to_path_buf(),
            state,
            history: None,
            lock: None,
        })
    }

    /// The state file, for messages.
    pub fn state_file(&self) -> &Path {
        &self.state_file
    }

    /// The state as read at open, with this run's changes.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Changes the state in memory; [`Store::save`] writes it.
    pub fn state_mut(&mut self) -> &mut State {
        &mut self.state
    }

    /// Writes the state atomically.
    pub fn save(&mut self) -> Result<()> {
        self.writable()?;
        self.state
            .save(&self.state_file)
            .with_context(|| format!("cannot write the state file {}", self.state_file.display()))
    }

    /// Transactions a previous run left in the journal. An entry this dum cannot read
    /// (a newer dum's, a hand edit) is a warning naming the state file, and stays.
    pub fn pending(&self) -> Vec<Transaction> {
        let (found, unreadable) = journal::transactions(&self.state);
        for line in unreadable {
            log::warn!("{}: {line}", self.state_file.display());
        }
        found
    }

    /// Journals `tx` (replacing the entry of the same container) before its step is
    /// taken.
    pub fn record(&mut self, tx: &Transaction) -> Result<()> {
        self.writable()?;
        journal::replace(&mut self.state, Some(tx), &tx.container)?;
        self.save()
            .with_context(|| format!("cannot journal the update of {}", tx.container))
    }

    /// Removes the journal entry of `container`: its transaction is over.
    pub fn clear(&mut self, container: &str) -> Result<()> {
        self.writable()?;
        journal::replace(&mut self.state, None, container)?;
        self.save()
            .with_context(|| format!("cannot clear the journal entry of {container}"))
    }

    /// The history file beside the state file.
    pub fn history_file(&self) -> PathBuf {
        history::path_for(&self.state_file)
    }

    /// Every history entry, oldest first; read once per run. A corrupt history is an
    /// error naming it: history is not rebuilt silently.
    pub fn history(&mut self) -> Result<&[Entry]> {
        if self.history.is_none() {
            self.history = Some(history::load(&self.history_file())?);
        }
        Ok(self.history.as_deref().unwrap_or_default())
    }

    /// Appends to the history and writes it, dropping the oldest entries beyond
    /// [`history::MAX_ENTRIES`].
    pub fn append_history(&mut self, new: &[Entry]) -> Result<()> {
        if new.is_empty() {
            return Ok(());
        }
        self.writable()?;
        self.history()?;
        let path = self.history_file();
        let entries = self.history.get_or_insert_with(Vec::new);
        entries.extend_from_slice(new);
        let excess = entries.len().saturating_sub(history::MAX_ENTRIES);
        entries.drain(..excess);
        history::write(&path, entries)
    }

    fn writable(&self) -> Result<()> {
        match &self.lock {
            Some(_) => Ok(()),
            None => Err(anyhow!(
                "{} was opened read-only (a dry run writes nothing)",
                self.state_file.display()
            )),
        }
    }
}

/// The directory of the state file, where the lock and the history live.
fn directory_of(state_file: &Path) -> &Path {
    match state_file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::store::history::ResultKind;

    fn entry(n: usize) -> Entry {
        Entry {
            time: format!("t{n}"),
            kind: "update".into(),
            container: "c".into(),
            image: "i".into(),
            change: Default::default(),
            result: ResultKind::Updated,
            reason: None,
            duration_ms: 1,
            hooks: Vec::new(),
        }
    }

    #[test]
    fn a_read_only_store_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "not json").unwrap();
        let mut store = Store::read_only(&path).unwrap();
        assert_eq!(store.state(), &State::default());
        assert!(store.save().is_err());
        assert!(store.append_history(&[entry(1)]).is_err());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.json"], "nothing moved aside or created");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not json");
    }

    #[test]
    fn history_is_read_once_and_capped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut store = Store::open(&path, None).unwrap();
        let batch: Vec<Entry> = (0..history::MAX_ENTRIES + 3).map(entry).collect();
        store.append_history(&batch).unwrap();
        // Changed behind the store's back: the store keeps its own copy.
        std::fs::remove_file(store.history_file()).unwrap();
        assert_eq!(store.history().unwrap().len(), history::MAX_ENTRIES);
        assert_eq!(store.history().unwrap()[0].time, "t3");
        store.append_history(&[entry(9999)]).unwrap();
        let on_disk = history::load(&store.history_file()).unwrap();
        assert_eq!(on_disk.len(), history::MAX_ENTRIES);
        assert_eq!(on_disk[history::MAX_ENTRIES - 1].time, "t9999");
    }
}
