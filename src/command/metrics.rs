//! The Prometheus metrics file of `check` and `update`: where it goes, the run recorded
//! in the state (saved with the rest of the run's state), and the file written from the
//! state at the end. Writing it is best effort: a metrics file that cannot be written is
//! a warning, never a failed run.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::check::ImageReport;
use crate::config::Config;
use crate::output::metrics::{self, Run};
use crate::store::Store;
use crate::store::history::ResultKind;
use crate::store::state;

/// The metrics file of a run: `--metrics-file`, else the configuration's
/// `metrics_file`, else none. A dry run writes nothing, this file included.
pub fn file(flag: Option<&Path>, config: Option<&Config>, dry_run: bool) -> Option<PathBuf> {
    if dry_run {
        return None;
    }
    flag.map(Path::to_path_buf)
        .or_else(|| config.and_then(|c| c.metrics_file.clone()))
}

/// What a run tells the metrics beyond its rows.
pub struct Finished<'a> {
    /// `check` or `update`.
    pub command: &'a str,
    /// Whether it saw every row there is (an untargeted check).
    pub complete: bool,
    /// When it started.
    pub started: Instant,
    /// Whether it succeeded.
    pub success: bool,
    /// Its rows.
    pub rows: &'a [ImageReport],
    /// Each update attempt's result, and one `blocked` per update a policy refused.
    pub results: Vec<&'static str>,
}

/// Records the run in the state's metrics, for the caller to save.
pub fn record(store: &mut Store, run: &Finished) {
    let finished = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let duration_ms = u64::try_from(run.started.elapsed().as_millis()).unwrap_or(u64::MAX);
    metrics::record(
        &mut store.state_mut().metrics,
        &Run {
            command: run.command,
            complete: run.complete,
            finished,
            duration_ms,
            success: run.success,
            rows: run.rows,
            results: &run.results,
        },
    );
}

/// The name an update attempt's result is counted under; `None` for what is not an
/// attempt of this run.
pub fn result(kind: ResultKind) -> Option<&'static str> {
    match kind {
        ResultKind::Updated => Some("updated"),
        ResultKind::RolledBack => Some("rolled_back"),
        ResultKind::Failed => Some("failed"),
        // A recovery is counted by the run it completes; a `pre_update` hook's skip
        // (exit 75) attempted nothing.
        ResultKind::Recovered | ResultKind::Skipped => None,
    }
}

/// Writes the metrics file from the state, readable by node_exporter's user; a
/// failure is logged as a warning.
pub fn write(path: &Path, store: &Store) {
    let text = metrics::render(&store.state().metrics);
    match state::write_atomic(path, text.as_bytes(), 0o644) {
        Ok(()) => log::debug!("wrote the metrics file {}", path.display()),
        Err(e) => log::warn!("cannot write the metrics file: {e:#}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_overrides_the_configuration() {
        let mut config = crate::config::parse(r#"{"images":[]}"#, Path::new("x")).unwrap();
        let flag = Path::new("/flag.prom");
        assert_eq!(file(None, None, false), None);
        assert_eq!(file(None, Some(&config), false), None);
        config.metrics_file = Some(PathBuf::from("/config.prom"));
        let cases: &[(Option<&Path>, bool, Option<&str>)] = &[
            (None, false, Some("/config.prom")),
            (Some(flag), false, Some("/flag.prom")),
            (Some(flag), true, None),
            (None, true, None),
        ];
        for (flag, dry_run, want) in cases {
            assert_eq!(
                file(*flag, Some(&config), *dry_run),
                want.map(PathBuf::from),
                "{flag:?} dry_run={dry_run}"
            );
        }
    }

    #[test]
    fn a_write_failure_is_only_a_warning_and_a_success_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.json"), None).unwrap();
        // No such directory: warned about, nothing created.
        write(&dir.path().join("missing/dum.prom"), &store);
        assert!(!dir.path().join("missing").exists());
        let path = dir.path().join("dum.prom");
        std::fs::write(&path, "old").unwrap();
        write(&path, &store);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# HELP dum_update_available "), "{text}");
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o644);
    }
}
