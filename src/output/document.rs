//! The `--format json` documents: stable, documented in the README, versioned by
//! [`JSON_SCHEMA_VERSION`]. Notifications send the same documents to webhooks.

use serde::Serialize;

use crate::check::discover::{Proposed, Unproposable};
use crate::check::{ImageReport, Status};
use crate::image::propose::Proposal;
#[allow(unused_imports, reason = "named in the docs")]
use crate::output::JSON_SCHEMA_VERSION;
use crate::update::cleanup::CleanupReport;
use crate::update::{Applied, Move, Skip};

/// Counts per status.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Rows reported.
    pub checked: usize,
    /// Rows up to date.
    pub up_to_date: usize,
    /// Rows with an update.
    pub update_available: usize,
    /// Rows without a running container.
    pub not_running: usize,
    /// Rows that failed.
    pub failed: usize,
    /// Rows whose update a policy holds (`min_age_days`).
    pub held: usize,
}

impl Summary {
    /// Counts `rows` by status.
    pub fn of(rows: &[ImageReport]) -> Summary {
        let mut s = Summary {
            checked: rows.len(),
            ..Summary::default()
        };
        for r in rows {
            match r.status {
                Status::UpToDate => s.up_to_date += 1,
                Status::UpdateAvailable => s.update_available += 1,
                Status::NotRunning => s.not_running += 1,
                Status::Failed => s.failed += 1,
                Status::Held => s.held += 1,
            }
        }
        s
    }
}

/// The `dum check --format json` document.
#[derive(Debug, Serialize)]
pub struct CheckDocument<'a> {
    /// [`JSON_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// dum's version.
    pub dum_version: &'static str,
    /// Always "check".
    pub command: &'static str,
    /// Whether the run wrote nothing.
    pub dry_run: bool,
    /// Set when no configuration file existed and running containers were checked.
    pub discovered: bool,
    /// One row per image and container.
    pub images: &'a [ImageReport],
    /// Counts.
    pub summary: Summary,
    /// How sending each notification went (empty without targets or events).
    pub notifications: Vec<Delivery>,
}

/// The `dum update --format json` document (also `dum rollback`'s).
#[derive(Debug, Serialize)]
pub struct UpdateDocument<'a> {
    /// [`JSON_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// dum's version.
    pub dum_version: &'static str,
    /// Always "update".
    pub command: &'static str,
    /// Whether the run changed nothing.
    pub dry_run: bool,
    /// What happened to each move (empty in a dry run).
    pub updates: &'a [Applied],
    /// The moves decided.
    pub planned: &'a [Move],
    /// Rows not turned into moves, and why.
    pub skipped: &'a [Skip],
    /// The check rows, after the updates.
    pub images: &'a [ImageReport],
    /// Old images removed after the updates.
    pub cleanup: &'a [CleanupReport],
    /// How sending each notification went.
    pub notifications: &'a [Delivery],
}

/// The `dum tags --format json` document.
#[derive(Debug, Serialize)]
pub struct TagsDocument {
    /// [`JSON_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The image asked about.
    pub image: String,
    /// The regex used, if any.
    pub regex: Option<String>,
    /// Matching tags, newest first.
    pub versions: Vec<String>,
    /// The newest.
    pub newest: Option<String>,
    /// The base tag.
    pub base_tag: String,
    /// The base tag's digest.
    pub base_tag_digest: Option<String>,
    /// The version the base tag points to.
    pub base_tag_version: Option<String>,
    /// Proposed regexes when none was given.
    pub proposals: Vec<Proposal>,
    /// How many tags the repository has.
    pub total_tags: usize,
}

/// The `dum init --format json` document.
#[derive(Debug, Serialize)]
pub struct InitDocument {
    /// [`JSON_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Always "init".
    pub command: &'static str,
    /// The configuration file.
    pub path: std::path::PathBuf,
    /// Whether the run wrote nothing (`--dry-run`).
    pub dry_run: bool,
    /// Whether entries were added to an existing file (`--add` on a file that exists).
    pub added: bool,
    /// Whether the file was written.
    pub written: bool,
    /// The entries written (or, in a dry run, that would be), in file order.
    pub proposed: Vec<Proposed>,
    /// The running containers no entry was proposed for, and why.
    pub unproposed: Vec<Unproposable>,
    /// The running containers the file or their `dum.*` labels already cover.
    pub covered: Vec<String>,
    /// In a dry run, the file that would be written; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// How sending to one target went; part of the `--format json` documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// Service and host, e.g. `ntfy ntfy.sh`; never the URL's path or a token.
    pub target: String,
    /// The events the message carried (empty for a test message).
    pub events: Vec<crate::config::notify::EventKind>,
    /// Whether the service accepted the message (2xx).
    pub ok: bool,
    /// Why not, one line, secrets removed.
    pub error: Option<String>,
}
