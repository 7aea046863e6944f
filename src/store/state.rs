//! What dum remembers between runs, kept in one versioned JSON file written atomically.
//!
//! The file is rewritten on every run from cron, so a crash mid-write must never leave it half
//! written, and a file dum cannot understand is moved aside rather than overwritten: it may be
//! the only record of which version a container ran before an update.

use std::collections::BTreeMap;
use std::fs::{DirBuilder, File, Permissions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde_json::Value;

/// The state file layout this build reads and writes.
pub const STATE_VERSION: u32 = 1;

/// On-disk state, versioned: {"version":1,"images":{ "<key>": ImageState }, "journal": [..]}.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct State {
    /// Layout version; only [`STATE_VERSION`] is accepted on load.
    pub version: u32,
    /// Per watched image, keyed by the caller's choice of stable key.
    pub images: BTreeMap<String, ImageState>,
    /// Records of updates in progress or done, owned by the update code.
    #[serde(default)]
    pub journal: Vec<Value>,
    /// What dum learnt of each watched repository's digests (by configured image, then
    /// digest): when it first saw each, and its build time once read.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digests: BTreeMap<String, BTreeMap<String, DigestRecord>>,
    /// What the Prometheus metrics file shows, kept across runs: a `check` rewrites
    /// the file without erasing what the last `update` reported, and the update
    /// counters keep counting.
    #[serde(default, skip_serializing_if = "Metrics::is_empty")]
    pub metrics: Metrics,
}

/// The metrics' memory between runs (see `output::metrics`, which fills and renders it).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Metrics {
    /// The last run of each command (`check`, `update`), by command.
    pub runs: BTreeMap<String, LastRun>,
    /// Update attempts by result (`updated`, `rolled_back`, …) since the state began.
    pub updates: BTreeMap<String, u64>,
    /// One row per image and container, as the latest runs that saw them left them.
    pub rows: Vec<MetricsRow>,
}

impl Metrics {
    /// Whether nothing was recorded yet (the state file then does not mention metrics).
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty() && self.updates.is_empty() && self.rows.is_empty()
    }
}

/// How a command's last run went.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LastRun {
    /// When it finished, in seconds since the Unix epoch.
    pub finished: i64,
    /// Whether it succeeded (its exit code was not 1).
    pub success: bool,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

/// One image (and container) as the metrics show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct MetricsRow {
    /// The configured image (repository).
    pub image: String,
    /// The container (or Swarm service); `None` for an image no container runs.
    pub container: Option<String>,
    /// The version (or short digest) that runs.
    pub current_version: Option<String>,
    /// The newest version (or short digest) the registry offers.
    pub latest_version: Option<String>,
    /// Whether an update is available; `None` while no check of it succeeded.
    pub update_available: Option<bool>,
}

/// What dum knows of one digest of a watched repository. A digest's content never
/// changes, so neither does its build time: it is read from the registry once.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DigestRecord {
    /// RFC 3339, when dum first saw it; `None` for digests present at the first check
    /// of their repository (dum cannot tell how long they had been there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    /// Its build time as read (RFC 3339), once read; `None` before, or when it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub built: Option<String>,
    /// Whether the build time was read (a `None` [`DigestRecord::built`] then means the
    /// image has none); the labels below were read with it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub built_read: bool,
    /// The labels of its image config that release notes read (source, revision).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A fresh state carries the current version, so saving it produces a loadable file.
impl Default for State {
    fn default() -> Self {
        State {
            version: STATE_VERSION,
            images: BTreeMap::new(),
            journal: Vec::new(),
            digests: BTreeMap::new(),
            metrics: Metrics::default(),
        }
    }
}

/// What the last check found for one image.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(default)]
pub struct ImageState {
    /// Image repository as configured.
    pub image: String,
    /// Container compared against, if configured.
    pub container: Option<String>,
    /// Version the container runs, when the config's regex could name it.
    pub current_version: Option<String>,
    /// Digest the container runs.
    pub current_digest: Option<String>,
    /// Newest version the registry offers.
    pub latest_version: Option<String>,
    /// Digest of the newest version (or of base_tag without a regex).
    pub latest_digest: Option<String>,
    /// Status of the last check: "up_to_date", "update_available", "not_running", "failed".
    pub status: String,
    /// When the last check ran, RFC3339 UTC.
    pub checked_at: Option<String>,
    /// RFC3339 UTC, when the current pending update (latest_digest) was first seen; kept while
    /// the same latest digest stays pending, reset when it changes, None when up to date.
    pub update_first_seen: Option<String>,
    /// The digest (or version) of the update a notification last announced, so an
    /// hourly cron announces each new version once; None once up to date again.
    pub announced_digest: Option<String>,
    /// The base tag the last check resolved (`latest`, …).
    pub base_tag: Option<String>,
    /// The version tag the base tag pointed to at the last check.
    pub base_tag_version: Option<String>,
    /// The base tag's manifest digest at the last check. While the base tag keeps it,
    /// the next check takes `base_tag_version` from here instead of asking the registry.
    pub base_tag_digest: Option<String>,
}

/// The key of an image's entry in [`State::images`]: the image, and the container
/// after `#` when there is one.
pub fn key(image: &str, container: Option<&str>) -> String {
    match container {
        Some(c) => format!("{image}#{c}"),
        None => image.to_string(),
    }
}

impl State {
    /// Load; missing file → default State{version:1}. Corrupt JSON or unknown version → move the
    /// file aside to "<name>.corrupt-<unix-ts>" and return default plus a warning string
    /// (returned, the caller logs it) — never silently overwrite. Unreadable → error naming the
    /// file.
    pub fn load(path: &Path) -> anyhow::Result<(State, Option<String>)> {
        crate::store::ownership::check(path, "state file")?;
        log::debug!("read the state file {}", path.display());
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok((State::default(), None)),
            Err(err) => {
                return Err(err)
                    .with_context(|| format!("cannot read state file {}", path.display()));
            }
        };
        let reason = match decode(&text) {
            Ok(state) => return Ok((state, None)),
            Err(reason) => reason,
        };
        let aside = move_aside(path)?;
        let warning = format!(
            "state file {} {reason}; moved it to {} and started with an empty state",
            path.display(),
            aside.display()
        );
        Ok((State::default(), Some(warning)))
    }

    /// Reads the state changing nothing on disk (a dry run, `dum history`): a file this
    /// build does not understand reads as the default state, with a warning saying a
    /// real run will move it aside. Missing → default; refused or unreadable → error.
    pub fn read(path: &Path) -> anyhow::Result<(State, Option<String>)> {
        crate::store::ownership::check(path, "state file")?;
        log::debug!("read the state file {} (read-only)", path.display());
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok((State::default(), None)),
            Err(err) => {
                return Err(err)
                    .with_context(|| format!("cannot read state file {}", path.display()));
            }
        };
        Ok(match decode(&text) {
            Ok(state) => (state, None),
            Err(reason) => (
                State::default(),
                Some(format!(
                    "state file {} {reason}; reading it as empty (a run that writes moves it aside)",
                    path.display()
                )),
            ),
        })
    }

    /// Atomic write: tempfile in the same dir, pretty JSON + newline, fsync file, rename, fsync
    /// the directory. File mode 0600; directory created 0700 if missing. A symlink planted at the
    /// target path is replaced, never followed.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        write_json_atomic(path, self)
    }
}

/// Why `text` is not a state this build understands, as the end of a sentence.
fn decode(text: &str) -> Result<State, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("is not valid JSON ({e})"))?;
    match value.get("version").and_then(Value::as_u64) {
        Some(v) if v == u64::from(STATE_VERSION) => {}
        Some(v) => {
            return Err(format!(
                "has version {v}, this dum understands version {STATE_VERSION}"
            ));
        }
        None => return Err("has no version number".into()),
    }
    serde_json::from_value(value).map_err(|e| format!("is malformed ({e})"))
}

/// Renames `path` to "<name>.corrupt-<unix-ts>", adding "-N" if that name is taken, so an earlier
/// corrupt copy is not lost either.
fn move_aside(path: &Path) -> anyhow::Result<PathBuf> {
    let name = path
        .file_name()
        .with_context(|| format!("state file {} has no file name", path.display()))?
        .to_string_lossy()
        .into_owned();
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let base = format!("{name}.corrupt-{stamp}");
    let mut aside = path.with_file_name(&base);
    let mut n = 1;
    while aside.symlink_metadata().is_ok() {
        aside = path.with_file_name(format!("{base}-{n}"));
        n += 1;
    }
    std::fs::rename(path, &aside).with_context(|| {
        format!(
            "state file {} is unusable and cannot be moved aside to {}",
            path.display(),
            aside.display()
        )
    })?;
    Ok(aside)
}

/// Generic atomic JSON write used by state and (later) history: same guarantees as
/// [`State::save`].
pub fn write_json_atomic(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let dir = directory_of(path);
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;

    let mut bytes = serde_json::to_vec_pretty(value)
        .with_context(|| format!("cannot serialize {}", path.display()))?;
    bytes.push(b'\n');
    write_atomic(path, &bytes, 0o600)
}

/// Replaces `path` with `bytes` atomically, in a directory that must exist: a temporary
/// file beside it (mode `mode`), synced, renamed over it, and the directory synced. A
/// reader sees the old file or the new one, never a part; a symlink planted at `path` is
/// replaced, never followed.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let dir = directory_of(path);
    let name = path
        .file_name()
        .with_context(|| format!("cannot write {}: no file name", path.display()))?;
    // A recognisable prefix lets an operator tell a leftover from a crash what it belonged to.
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let mut temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .permissions(Permissions::from_mode(mode))
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    // Set again past the umask: a file others must read (metrics) stays readable.
    temp.as_file()
        .set_permissions(Permissions::from_mode(mode))
        .and_then(|()| temp.write_all(bytes))
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", temp.path().display()))?;
    // rename(2) replaces a symlink at `path` rather than writing through it.
    temp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    // The rename is only durable once the directory entry is.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync directory {}", dir.display()))?;
    Ok(())
}

/// The directory `path` is in ("." for a bare file name).
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// RFC3339 UTC timestamp "2026-11-27T13:45:00Z" from SystemTime, whole seconds (truncated
/// towards the past).
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let secs: i64 = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let d = before.duration();
            let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            -whole - i64::from(d.subsec_nanos() > 0)
        }
    };
    // Out of jiff's range (years beyond ±9999) only for a broken clock.
    let clamped = secs.clamp(
        jiff::Timestamp::MIN.as_second(),
        jiff::Timestamp::MAX.as_second(),
    );
    jiff::Timestamp::from_second(clamped)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string()
}

/// The current time as [`rfc3339`].
pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

/// Parses an RFC 3339 timestamp (fractions and offsets allowed, as registries and
/// image configs write them); `None` when it is not one.
pub fn parse_rfc3339(text: &str) -> Option<jiff::Timestamp> {
    text.trim().parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use std::time::Duration;

    fn sample() -> State {
        let mut state = State::default();
        state.images.insert(
            "calibre".into(),
            ImageState {
                image: "lscr.io/linuxserver/calibre".into(),
                container: Some("calibre".into()),
                current_version: Some("v7.16.0-ls301".into()),
                current_digest: Some("sha256:aa".into()),
                latest_version: Some("v7.17.0-ls302".into()),
                latest_digest: Some("sha256:bb".into()),
                status: "update-available".into(),
                checked_at: Some("2026-11-27T13:45:00Z".into()),
                update_first_seen: Some("2026-11-26T03:00:00Z".into()),
                announced_digest: Some("sha256:bb".into()),
                base_tag: Some("latest".into()),
                base_tag_version: Some("v7.17.0-ls302".into()),
                base_tag_digest: Some("sha256:bb".into()),
            },
        );
        state.journal.push(serde_json::json!({"step": "pulled"}));
        state
    }

    #[test]
    fn rfc3339_cases() {
        const CASES: &[(&str, i64, &str)] = &[
            ("epoch", 0, "1970-01-01T00:00:00Z"),
            ("brief example", 1_795_787_100, "2026-11-27T13:45:00Z"),
            ("leap day 2000", 951_782_400, "2000-02-29T00:00:00Z"),
            ("day after leap day", 951_955_199, "2000-03-01T23:59:59Z"),
            ("end of 1999", 946_684_799, "1999-12-31T23:59:59Z"),
            ("2100 is not leap", 4_107_542_400, "2100-03-01T00:00:00Z"),
            ("one second before epoch", -1, "1969-12-31T23:59:59Z"),
            ("far future", 253_370_764_800, "9999-01-01T00:00:00Z"),
        ];
        for (case, secs, want) in CASES {
            let t = if *secs >= 0 {
                UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
            } else {
                UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
            };
            assert_eq!(rfc3339(t), *want, "{case}");
        }
        // Sub-second parts truncate towards the past on both sides of the epoch.
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(1999)),
            "1970-01-01T00:00:01Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_millis(500)),
            "1969-12-31T23:59:59Z"
        );
        assert_eq!(now_rfc3339().len(), "2026-11-27T13:45:00Z".len());
    }

    #[test]
    fn rfc3339_parse_cases() {
        let cases: &[(&str, Option<i64>)] = &[
            ("2026-11-27T13:45:00Z", Some(1_795_787_100)),
            ("2026-11-27T13:45:00.123456789Z", Some(1_795_787_100)),
            ("2026-11-27T14:45:00+01:00", Some(1_795_787_100)),
            ("2026-11-27T08:45:00-05:00", Some(1_795_787_100)),
            (" 1970-01-01T00:00:00Z ", Some(0)),
            ("2026-11-27", None),
            ("yesterday", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(
                parse_rfc3339(text).map(|t| t.as_second()),
                *want,
                "{text:?}"
            );
        }
    }

    #[test]
    fn missing_file_gives_default_version_1() {
        let dir = tempfile::tempdir().unwrap();
        let (state, warning) = State::load(&dir.path().join("state.json")).unwrap();
        assert_eq!(state, State::default());
        assert_eq!(state.version, 1);
        assert_eq!(warning, None);
    }

    #[test]
    fn save_then_load_round_trips_with_modes() {
        let dir = tempfile::tempdir().unwrap();
        let state_dir = dir.path().join("new").join("dum");
        let path = state_dir.join("state.json");
        sample().save(&path).unwrap();

        let (loaded, warning) = State::load(&path).unwrap();
        assert_eq!(loaded, sample());
        assert_eq!(warning, None);
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&state_dir).unwrap().mode() & 0o077, 0);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("}\n"), "pretty JSON with a final newline");
        // No temporary file left behind.
        let names: Vec<_> = std::fs::read_dir(&state_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
    }

    #[test]
    fn old_fields_missing_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(
            &path,
            r#"{"version":1,"images":{"a":{"image":"a","status":"up_to_date"}}}"#,
        )
        .unwrap();
        let (state, warning) = State::load(&path).unwrap();
        assert_eq!(warning, None);
        assert_eq!(state.images["a"].status, "up_to_date");
        assert_eq!(state.images["a"].announced_digest, None);
        assert_eq!(state.images["a"].base_tag_digest, None);
        assert!(state.journal.is_empty());
    }

    #[test]
    fn read_reads_a_good_state_and_changes_nothing_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(
            State::read(&path).unwrap(),
            (State::default(), None),
            "missing"
        );
        sample().save(&path).unwrap();
        assert_eq!(State::read(&path).unwrap(), (sample(), None));
        const BAD: &[(&str, &str)] = &[
            ("corrupt JSON", "{\"version\":1,"),
            ("newer version", r#"{"version":2,"images":{}}"#),
            ("wrong shape", r#"{"version":1,"images":[]}"#),
        ];
        for (case, content) in BAD {
            std::fs::write(&path, content).unwrap();
            let (state, warning) = State::read(&path).unwrap();
            assert_eq!(state, State::default(), "{case}");
            assert!(warning.unwrap().contains("moves it aside"), "{case}");
            // Unlike `load`, a read leaves the file where it is, for a real run to report.
            assert_eq!(std::fs::read_to_string(&path).unwrap(), *content, "{case}");
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "{case}");
        }
    }

    #[test]
    fn unusable_files_are_moved_aside() {
        const CASES: &[(&str, &str, &str)] = &[
            ("corrupt JSON", "{\"version\":1,", "is not valid JSON"),
            ("empty file", "", "is not valid JSON"),
            (
                "newer version",
                r#"{"version":2,"images":{}}"#,
                "has version 2",
            ),
            ("no version", r#"{"images":{}}"#, "has no version number"),
            (
                "wrong shape",
                r#"{"version":1,"images":[]}"#,
                "is malformed",
            ),
        ];
        for (case, content, reason) in CASES {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("state.json");
            std::fs::write(&path, content).unwrap();
            // A previous corrupt copy from the same second must survive too.
            let stamp = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let earlier = dir.path().join(format!("state.json.corrupt-{stamp}"));
            std::fs::write(&earlier, "earlier").unwrap();

            let (state, warning) = State::load(&path).unwrap();
            let warning = warning.unwrap_or_else(|| panic!("{case}: no warning"));
            assert_eq!(state, State::default(), "{case}");
            assert!(warning.contains(reason), "{case}: {warning}");
            assert!(!path.exists(), "{case}: original still in place");
            assert_eq!(
                std::fs::read_to_string(&earlier).unwrap(),
                "earlier",
                "{case}"
            );
            let moved: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p != &earlier)
                .collect();
            assert_eq!(moved.len(), 1, "{case}: {moved:?}");
            assert_eq!(
                std::fs::read_to_string(&moved[0]).unwrap(),
                *content,
                "{case}"
            );
            assert!(warning.contains(&moved[0].display().to_string()), "{case}");
        }
    }

    #[test]
    fn unreadable_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be cannot be read as text.
        let path = dir.path().join("state.json");
        std::fs::create_dir(&path).unwrap();
        let err = State::load(&path).unwrap_err();
        assert!(
            format!("{err:#}").contains(&path.display().to_string()),
            "{err:#}"
        );
    }

    #[test]
    fn save_replaces_a_planted_symlink_instead_of_following_it() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let path = dir.path().join("state.json");
        std::os::unix::fs::symlink(&victim, &path).unwrap();

        State::default().save(&path).unwrap();

        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(
            meta.file_type().is_file(),
            "link replaced by a regular file"
        );
        assert_eq!(State::load(&path).unwrap().0, State::default());
    }

    #[test]
    fn write_json_atomic_overwrites_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.json");
        write_json_atomic(&path, &serde_json::json!([1])).unwrap();
        write_json_atomic(&path, &serde_json::json!([1, 2])).unwrap();
        let back: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back, serde_json::json!([1, 2]));
    }
}
