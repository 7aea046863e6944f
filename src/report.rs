//! Rendering results on stdout: a table for people, a stable JSON document for scripts.

use std::io::IsTerminal;

use comfy_table::presets::NOTHING;
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;

use crate::check::{ImageReport, Status};
use crate::propose::Proposal;

/// Version of the JSON documents dum prints; bumped only on incompatible changes.
pub const JSON_SCHEMA_VERSION: u32 = 1;

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
    pub notifications: Vec<crate::notify::Delivery>,
}

fn short(digest: &str) -> String {
    digest
        .strip_prefix("sha256:")
        .map(|h| format!("@{}", &h[..h.len().min(12)]))
        .unwrap_or_else(|| digest.to_string())
}

fn status_text(s: &Status) -> &'static str {
    match s {
        Status::UpToDate => "up to date",
        Status::UpdateAvailable => "update available",
        Status::NotRunning => "not running",
        Status::Failed => "failed",
    }
}

fn new_table(header: Vec<&str>) -> Table {
    let mut table = Table::new();
    // Borderless like `docker ps`: greps and narrow terminals both cope.
    table.load_style(NOTHING).set_header(header);
    if std::io::stdout().is_terminal() {
        // Without a terminal-size dependency: $COLUMNS when the shell exports it, else 80.
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse::<u16>().ok())
            .unwrap_or(80);
        table
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(width);
    }
    table
}

/// The check table.
pub fn check_table(rows: &[ImageReport]) -> String {
    let mut table = new_table(vec![
        "IMAGE",
        "CONTAINER",
        "CURRENT",
        "LATEST",
        "STATUS",
        "NOTE",
    ]);
    for r in rows {
        let current = r
            .current_version
            .clone()
            .or_else(|| r.current_digest.as_deref().map(short))
            .unwrap_or_else(|| "-".to_string());
        let latest = r
            .latest_version
            .clone()
            .or_else(|| r.latest_digest.as_deref().map(short))
            .unwrap_or_else(|| "-".to_string());
        let mut notes = Vec::new();
        if let Some(v) = &r.base_tag_version
            && r.latest_version.as_deref() != Some(r.base_tag.as_str())
        {
            notes.push(format!("{} = {v}", r.base_tag));
        }
        if let Some(n) = &r.note
            && !notes.iter().any(|x| n.starts_with(x.as_str()))
        {
            notes.push(n.clone());
        }
        if let Some(e) = &r.error {
            notes.push(e.clone());
        }
        table.add_row(vec![
            r.image.clone(),
            r.container.clone().unwrap_or_else(|| "-".to_string()),
            current,
            latest,
            status_text(&r.status).to_string(),
            notes.join("; "),
        ]);
    }
    table.to_string()
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

/// The tags report for people.
pub fn tags_text(doc: &TagsDocument, limit: usize) -> String {
    let mut out = String::new();
    if let Some(regex) = &doc.regex {
        out.push_str(&format!(
            "{}: {} of {} tags match {regex}\n",
            doc.image,
            doc.versions.len(),
            doc.total_tags
        ));
        for v in doc.versions.iter().take(limit) {
            out.push_str(&format!("  {v}\n"));
        }
        if doc.versions.len() > limit {
            out.push_str(&format!("  … {} more\n", doc.versions.len() - limit));
        }
        if let Some(n) = &doc.newest {
            out.push_str(&format!("newest: {n}\n"));
        }
        match (&doc.base_tag_digest, &doc.base_tag_version) {
            (None, _) => out.push_str(&format!("{}: does not exist\n", doc.base_tag)),
            (Some(_), Some(v)) => out.push_str(&format!("{} = {v}\n", doc.base_tag)),
            (Some(d), None) => out.push_str(&format!(
                "{} = {} (matches no version tag)\n",
                doc.base_tag,
                short(d)
            )),
        }
    } else {
        out.push_str(&format!(
            "{}: {} tags; proposed version regexes:\n",
            doc.image, doc.total_tags
        ));
        let mut table = new_table(vec!["REGEX", "MATCHES", "NEWEST"]);
        for p in &doc.proposals {
            table.add_row(vec![
                p.regex.clone(),
                p.matches.to_string(),
                p.newest.clone(),
            ]);
        }
        out.push_str(&table.to_string());
        out.push('\n');
        if let Some(p) = doc.proposals.first() {
            let json = serde_json::json!({"image": doc.image, "regex": p.regex});
            out.push_str(&format!("config entry: {json}\n"));
        }
    }
    out
}

/// The history table.
pub fn history_table(entries: &[&crate::history::Entry]) -> String {
    let mut table = new_table(vec![
        "TIME",
        "KIND",
        "CONTAINER",
        "FROM",
        "TO",
        "RESULT",
        "REASON",
    ]);
    for e in entries {
        let result = serde_json::to_value(e.result)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        table.add_row(vec![
            e.time.clone(),
            e.kind.clone(),
            e.container.clone(),
            e.from_version
                .clone()
                .or_else(|| e.from_digest.as_deref().map(short))
                .unwrap_or_else(|| "-".into()),
            e.to_version
                .clone()
                .or_else(|| e.to_digest.as_deref().map(short))
                .unwrap_or_else(|| "-".into()),
            result,
            e.reason.clone().unwrap_or_default(),
        ]);
    }
    table.to_string()
}
