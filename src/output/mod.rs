//! Rendering results on stdout: a table for people, a stable JSON document for scripts.

use std::io::{IsTerminal, Write};
use std::path::Path;

use comfy_table::presets::NOTHING;
use comfy_table::{ColumnConstraint, ContentArrangement, Table, Width};
use serde::Serialize;

use crate::check::{ImageReport, Status};
use crate::store::history::ResultKind;

mod document;
pub mod effective;
pub mod metrics;

pub use self::document::{
    CheckDocument, Delivery, InitDocument, Summary, TagsDocument, UpdateDocument,
};

/// Version of the JSON documents dum prints; bumped only on incompatible changes.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// Writes to stdout; a closed pipe (`dum check | head`) is not an error worth a panic.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}

/// Prints a JSON document, pretty.
pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| anyhow::anyhow!("cannot render JSON: {e}"))?;
    print(&text);
    Ok(())
}

/// `@` and the first 12 characters of a sha256 digest, else the digest as is. Counted in
/// characters: the digest comes from a registry, the engine or the state file, and a
/// malformed one must not panic the report.
pub fn short_digest(digest: &str) -> String {
    digest
        .strip_prefix("sha256:")
        .map(|h| format!("@{}", h.chars().take(12).collect::<String>()))
        .unwrap_or_else(|| digest.to_string())
}

fn status_text(s: &Status) -> &'static str {
    match s {
        Status::UpToDate => "up to date",
        Status::UpdateAvailable => "update available",
        Status::NotRunning => "not running",
        Status::Failed => "failed",
        Status::Held => "held",
    }
}

/// A table for stdout, as wide as the terminal on a terminal (rendered by [`render`]),
/// unwrapped into a pipe so greps see whole rows.
pub(crate) fn new_table(header: Vec<&str>) -> Table {
    let width = std::io::stdout().is_terminal().then(|| {
        // Without a terminal-size dependency: $COLUMNS when the shell exports it, else 80.
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|w| *w > 0)
            .unwrap_or(80)
    });
    sized_table(header, width)
}

fn sized_table(header: Vec<&str>, width: Option<u16>) -> Table {
    let mut table = Table::new();
    // Borderless like `docker ps`: greps and narrow terminals both cope.
    table.load_style(NOTHING).set_header(header);
    if let Some(width) = width {
        table
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(width);
    }
    table
}

/// Renders `table` within its width. Columns in `whole` are never wrapped (a version
/// split over two lines reads as two versions); the others share what is left, each
/// keeping at least its heading's width.
pub(crate) fn render(mut table: Table, header: &[&str], whole: &[usize]) -> String {
    let Some(width) = table.width() else {
        return table.to_string();
    };
    let contents = table.column_max_content_widths();
    // Each column is padded by one space on either side.
    let padding = 2 * u16::try_from(contents.len()).unwrap_or(u16::MAX);
    let fixed: u16 = contents
        .iter()
        .enumerate()
        .filter(|(i, _)| whole.contains(i))
        .map(|(i, w)| {
            let heading = header.get(i).map_or(0, |h| h.chars().count());
            (*w).max(u16::try_from(heading).unwrap_or(u16::MAX))
        })
        .sum();
    let wants: Vec<(u16, u16)> = contents
        .iter()
        .enumerate()
        .filter(|(i, _)| !whole.contains(i))
        .map(|(i, w)| {
            let heading = header.get(i).map_or(1, |h| h.chars().count());
            // Content widths leave the heading out.
            let heading = u16::try_from(heading).unwrap_or(u16::MAX);
            (heading, heading.max(*w))
        })
        .collect();
    let mut shares = share(width.saturating_sub(padding).saturating_sub(fixed), &wants).into_iter();
    for index in 0..contents.len() {
        let constraint = if whole.contains(&index) {
            ColumnConstraint::ContentWidth
        } else {
            // Absolute widths include the padding.
            ColumnConstraint::Absolute(Width::Fixed(shares.next().unwrap_or(1) + 2))
        };
        if let Some(column) = table.column_mut(index) {
            column.set_constraint(constraint);
        }
    }
    table.to_string()
}

/// Splits `available` columns among columns wanting `(minimum, content)` widths: each
/// gets its minimum, then the rest is shared out evenly, none beyond its content.
fn share(available: u16, wants: &[(u16, u16)]) -> Vec<u16> {
    let mut widths: Vec<u16> = wants.iter().map(|(min, _)| *min).collect();
    let mut rest = available.saturating_sub(widths.iter().sum());
    loop {
        let hungry: Vec<usize> = (0..wants.len())
            .filter(|i| widths[*i] < wants[*i].1)
            .collect();
        if rest == 0 || hungry.is_empty() {
            return widths;
        }
        let each = (rest / u16::try_from(hungry.len()).unwrap_or(u16::MAX)).max(1);
        for i in hungry {
            let add = each.min(wants[i].1 - widths[i]).min(rest);
            widths[i] += add;
            rest -= add;
        }
    }
}

/// What a check looked at, to say so when it found nothing to show.
#[derive(Debug, Clone, Copy)]
pub enum Checked<'a> {
    /// The images listed in this configuration file.
    Configured(&'a Path),
    /// Running containers, discovered without a configuration.
    Discovered,
}

/// The check table, or one sentence when there are no rows: a bare header reads as if
/// something went missing. (A configured image without a container has a row saying so.)
pub fn check_table(rows: &[ImageReport], checked: Checked) -> String {
    check_table_with(rows, checked, new_table)
}

/// [`check_table`] on tables `new` makes (sized for this terminal, or for a test).
fn check_table_with(
    rows: &[ImageReport],
    checked: Checked,
    new: impl Fn(Vec<&str>) -> Table,
) -> String {
    if rows.is_empty() {
        return match checked {
            Checked::Discovered => "no running containers to check".to_string(),
            Checked::Configured(path) => format!(
                "no images to check: {} lists none (`dum init --add` adds the running containers; `dum tags IMAGE` helps write an entry)",
                path.display()
            ),
        };
    }
    let header = ["IMAGE", "CONTAINER", "CURRENT", "LATEST", "STATUS", "NOTE"];
    let mut cells = Vec::new();
    for r in rows {
        let current = r
            .current_version
            .clone()
            .or_else(|| r.current_digest.as_deref().map(short_digest))
            .unwrap_or_else(|| "-".to_string());
        let latest = r
            .latest_version
            .clone()
            .or_else(|| r.latest_digest.as_deref().map(short_digest))
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
        if let Some(s) = &r.signature {
            notes.push(match (&s.layout, &s.reason) {
                (Some(layout), _) if s.verified => format!("signed ({} layout)", layout.name()),
                (_, reason) => format!(
                    "{}{}",
                    crate::update::plan::BLOCKED,
                    reason.as_deref().unwrap_or("not signed")
                ),
            });
        }
        cells.push(vec![
            r.image.clone(),
            r.container.clone().unwrap_or_else(|| "-".to_string()),
            current,
            latest,
            status_text(&r.status).to_string(),
            notes.join("; "),
        ]);
    }
    let table = new(header.to_vec());
    let links: Vec<Option<&str>> = rows.iter().map(|r| r.release_notes.as_deref()).collect();
    if links.iter().any(Option::is_some) && links_fit(table.width(), &header, &cells, &links) {
        let mut header = header.to_vec();
        header.push(RELEASE_NOTES);
        let mut table = new(header.clone());
        for (mut row, link) in cells.into_iter().zip(links) {
            row.push(link.unwrap_or("-").to_string());
            table.add_row(row);
        }
        // A link split over two lines cannot be followed: kept whole, like versions.
        return render(table, &header, &[2, 3, 4, 6]);
    }
    let mut table = table;
    for row in cells {
        table.add_row(row);
    }
    render(table, &header, &[2, 3, 4])
}

/// The heading of the check table's release-notes column.
const RELEASE_NOTES: &str = "RELEASE NOTES";

/// Whether a release-notes column, kept whole, fits `width` (always without one: no
/// terminal, no limit) beside the versions and status kept whole and the other
/// columns at their headings' width.
fn links_fit(
    width: Option<u16>,
    header: &[&str],
    cells: &[Vec<String>],
    links: &[Option<&str>],
) -> bool {
    let Some(width) = width else {
        return true;
    };
    let chars = |s: &str| s.chars().count();
    let column = |i: usize| {
        cells
            .iter()
            .map(|row| row.get(i).map_or(0, |c| chars(c)))
            .chain([header.get(i).map_or(0, |h| chars(h))])
            .max()
            .unwrap_or(0)
    };
    let whole: usize = [2, 3, 4].into_iter().map(column).sum();
    let shrinkable: usize = [0, 1, 5]
        .into_iter()
        .map(|i| header.get(i).map_or(0, |h| chars(h)))
        .sum();
    let link = links
        .iter()
        .flatten()
        .map(|l| chars(l))
        .chain([chars(RELEASE_NOTES)])
        .max()
        .unwrap_or(0);
    // Each of the seven columns is padded by one space on either side.
    whole + shrinkable + link + 2 * 7 <= usize::from(width)
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
                short_digest(d)
            )),
        }
    } else {
        out.push_str(&format!(
            "{}: {} tags; proposed version regexes:\n",
            doc.image, doc.total_tags
        ));
        let header = ["REGEX", "MATCHES", "NEWEST"];
        let mut table = new_table(header.to_vec());
        for p in &doc.proposals {
            table.add_row(vec![
                p.regex.clone(),
                p.matches.to_string(),
                p.newest.clone(),
            ]);
        }
        out.push_str(&render(table, &header, &[1, 2]));
        out.push('\n');
        if let Some(p) = doc.proposals.first() {
            let json = serde_json::json!({"image": doc.image, "regex": p.regex});
            out.push_str(&format!("config entry: {json}\n"));
        }
    }
    out
}

/// The `dum init` report for people: what was written, what could not be proposed.
pub fn init_text(doc: &InitDocument) -> String {
    let mut out = String::new();
    let path = doc.path.display();
    let n = doc.proposed.len();
    let entries = if n == 1 { "entry" } else { "entries" };
    match (doc.written, doc.added) {
        (true, true) => out.push_str(&format!("Added {n} {entries} to {path}:\n")),
        (true, false) => out.push_str(&format!("Wrote {path} with {n} {entries}:\n")),
        (false, true) => out.push_str(&format!(
            "Nothing to add to {path}: no running container it does not cover could be proposed.\n"
        )),
        (false, false) => out.push_str(&format!(
            "Nothing written to {path}: no running container could be proposed.\n"
        )),
    }
    if n > 0 {
        let header = ["CONTAINER", "IMAGE", "TAG", "REGEX", "BASE TAG"];
        let mut table = new_table(header.to_vec());
        for p in &doc.proposed {
            table.add_row(vec![
                p.container.clone(),
                p.image.clone(),
                p.tag.clone(),
                p.regex.clone(),
                p.base_tag.clone(),
            ]);
        }
        out.push_str(&render(table, &header, &[2, 3, 4]));
        out.push('\n');
    }
    if !doc.unproposed.is_empty() {
        out.push_str("No entry proposed for:\n");
        let header = ["CONTAINER", "IMAGE", "REASON"];
        let mut table = new_table(header.to_vec());
        for u in &doc.unproposed {
            table.add_row(vec![
                u.container.clone(),
                u.image.clone(),
                u.message.clone(),
            ]);
        }
        out.push_str(&render(table, &header, &[0]));
        out.push('\n');
    }
    if !doc.covered.is_empty() {
        out.push_str(&format!(
            "{} running container(s) already covered by the file or their dum.* labels.\n",
            doc.covered.len()
        ));
    }
    if doc.written {
        out.push_str(
            "Next: `dum check`; add \"auto_update\": true to the entries `dum update` may apply unasked.\n",
        );
    }
    out
}

/// The history table.
pub fn history_table(entries: &[&crate::store::history::Entry]) -> String {
    let header = [
        "TIME",
        "KIND",
        "CONTAINER",
        "FROM",
        "TO",
        "RESULT",
        "REASON",
    ];
    let mut table = new_table(header.to_vec());
    for e in entries {
        let result = serde_json::to_value(e.result)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        table.add_row(vec![
            e.time.clone(),
            e.kind.clone(),
            e.container.clone(),
            e.change
                .from
                .version
                .clone()
                .or_else(|| e.change.from.digest.as_deref().map(short_digest))
                .unwrap_or_else(|| "-".into()),
            e.change
                .to
                .version
                .clone()
                .or_else(|| e.change.to.digest.as_deref().map(short_digest))
                .unwrap_or_else(|| "-".into()),
            result,
            e.reason.clone().unwrap_or_default(),
        ]);
    }
    render(table, &header, &[0, 3, 4])
}

/// The update (or rollback) report for people.
pub fn update_text(doc: &UpdateDocument) -> String {
    let mut out = String::new();
    if doc.planned.is_empty() {
        out.push_str("Nothing to update.\n");
    }
    if doc.dry_run {
        for mv in doc.planned {
            out.push_str(&format!(
                "would update {}: {} -> {}\n  pull {}\n  tag {}\n  recreate {} from {} with its settings\n",
                mv.container,
                mv.change.from.version.as_deref().unwrap_or("?"),
                mv.change.to.name().unwrap_or("?"),
                mv.pull,
                mv.tags.join(", "),
                mv.container,
                mv.run_as
            ));
            // A service its compose file pins: the edit dum would make, as a diff.
            let diff = doc
                .images
                .iter()
                .find(|r| r.container.as_deref() == Some(mv.container.as_str()))
                .and_then(|r| r.pinned.as_ref())
                .and_then(|p| p.diff.as_deref());
            if let Some(diff) = diff {
                out.push_str(
                    "  edit (then `docker compose up -d` of the service):
",
                );
                for line in diff.lines() {
                    out.push_str(&format!("    {line}\n"));
                }
            }
        }
    }
    for a in doc.updates {
        let what = match a.result {
            ResultKind::Updated => "updated",
            ResultKind::RolledBack => "ROLLED BACK",
            _ => "FAILED",
        };
        out.push_str(&format!(
            "{what} {}: {} -> {}",
            a.mv.container,
            a.mv.change.from.version.as_deref().unwrap_or("?"),
            a.mv.change.to.name().unwrap_or("?")
        ));
        if a.via == "compose" {
            out.push_str(" (by docker compose)");
        }
        if !a.dependents.is_empty() {
            out.push_str(&format!(
                " (recreated dependents: {})",
                a.dependents.join(", ")
            ));
        }
        if let Some(e) = &a.error {
            out.push_str(&format!("\n  {e}"));
        }
        if let Some(n) = &a.note {
            out.push_str(&format!("\n  note: {n}"));
        }
        out.push('\n');
    }
    for s in doc.skipped {
        out.push_str(&format!("skipped {}: {}\n", s.container, s.reason));
    }
    for c in doc.cleanup {
        if !c.removed.is_empty() {
            out.push_str(&format!(
                "cleaned {}: removed {} ({:.1} MB freed)\n",
                c.image,
                c.removed.join(", "),
                c.freed_bytes as f64 / 1e6
            ));
        }
    }
    for r in doc.images.iter().filter(|r| r.status == Status::Failed) {
        out.push_str(&format!(
            "failed {} {}: {}\n",
            r.image,
            r.container.as_deref().unwrap_or(""),
            r.error.as_deref().unwrap_or("")
        ));
    }
    out.trim_end().to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_check_is_one_sentence_and_an_empty_list() {
        const CASES: &[(bool, &str)] = &[
            (true, "no running containers to check"),
            (
                false,
                "no images to check: /etc/dum/config.json lists none (`dum init --add` adds the running containers; `dum tags IMAGE` helps write an entry)",
            ),
        ];
        for (discovered, want) in CASES {
            let checked = if *discovered {
                Checked::Discovered
            } else {
                Checked::Configured(Path::new("/etc/dum/config.json"))
            };
            assert_eq!(check_table(&[], checked), *want);
            let document = CheckDocument {
                schema_version: JSON_SCHEMA_VERSION,
                dum_version: "0.0.0",
                command: "check",
                dry_run: false,
                discovered: *discovered,
                images: &[],
                summary: Summary::of(&[]),
                notifications: Vec::new(),
            };
            let json = serde_json::to_value(&document).unwrap();
            assert_eq!(json["images"], serde_json::json!([]));
            assert_eq!(json["discovered"], *discovered);
            assert_eq!(json["summary"]["checked"], 0);
        }
    }

    #[test]
    fn the_init_report_says_what_was_written_and_what_was_not() {
        use crate::check::discover::{Proposed, Unproposable, Unproposed};
        let proposed = Proposed {
            container: "web".into(),
            image: "r.io/web".into(),
            tag: "1.2".into(),
            regex: r"^[0-9]+\.[0-9]+$".into(),
            base_tag: "latest".into(),
            matches: 2,
            newest: "1.3".into(),
        };
        let unproposed = Unproposable {
            container: "pinned".into(),
            image: "r.io/x@sha256:00".into(),
            reason: Unproposed::DigestOnly,
            message: "created from a digest".into(),
        };
        let cases: &[(bool, bool, usize, &[&str])] = &[
            (
                true,
                false,
                1,
                &[
                    "Wrote /c.json with 1 entry:",
                    "web",
                    r"^[0-9]+\.[0-9]+$",
                    "No entry proposed for:",
                    "pinned",
                    "created from a digest",
                    "Next: `dum check`",
                ],
            ),
            (true, true, 1, &["Added 1 entry to /c.json:"]),
            (false, true, 0, &["Nothing to add to /c.json"]),
            (false, false, 0, &["Nothing written to /c.json"]),
        ];
        for (written, added, n, want) in cases {
            let doc = InitDocument {
                schema_version: JSON_SCHEMA_VERSION,
                command: "init",
                path: "/c.json".into(),
                dry_run: false,
                added: *added,
                written: *written,
                proposed: vec![proposed.clone(); *n],
                unproposed: vec![unproposed.clone()],
                covered: vec!["old".into()],
                content: None,
            };
            let text = init_text(&doc);
            for w in *want {
                assert!(text.contains(w), "{w:?} not in:\n{text}");
            }
            assert!(
                text.contains("1 running container(s) already covered"),
                "{text}"
            );
            let json = serde_json::to_value(&doc).unwrap();
            assert_eq!(json["unproposed"][0]["reason"], "digest_only");
            assert!(json.get("content").is_none());
        }
    }

    #[test]
    fn short_digests_cut_at_a_character() {
        const CASES: &[(&str, &str)] = &[
            ("sha256:0123456789abcdef", "@0123456789ab"),
            ("sha256:abc", "@abc"),
            ("md5:0123456789abcdef", "md5:0123456789abcdef"),
            ("v1.2.3", "v1.2.3"),
            ("sha256:0123456789a€cdef", "@0123456789a€"),
            ("sha256:€€€€€€€€€€€€€€", "@€€€€€€€€€€€€"),
        ];
        for (digest, want) in CASES {
            assert_eq!(short_digest(digest), *want, "{digest:?}");
        }
    }

    #[test]
    fn release_notes_get_a_column_only_where_they_fit_whole() {
        let link = "https://github.com/owner/repository/compare/0123456789ab...ba9876543210";
        let row = |notes: Option<&str>| ImageReport {
            image: "r.io/app".into(),
            container: Some("web".into()),
            current_version: Some("1.0.0".into()),
            current_digest: None,
            latest_version: Some("2.0.0".into()),
            latest_digest: None,
            base_tag: "latest".into(),
            base_tag_version: None,
            base_tag_digest: None,
            status: Status::UpdateAvailable,
            note: None,
            error: None,
            managed_by: None,
            tag: None,
            compose: None,
            pinned: None,
            service: None,
            release_notes: notes.map(str::to_string),
            hold: crate::check::Hold::default(),
            signature: None,
        };
        let rows = [row(Some(link)), row(None)];
        // (width, column shown)
        for (width, shown) in [(None, true), (Some(200), true), (Some(80), false)] {
            let text = check_table_with(&rows, Checked::Discovered, |h| sized_table(h, width));
            assert_eq!(text.contains(RELEASE_NOTES), shown, "{width:?}:\n{text}");
            assert_eq!(text.contains(link), shown, "{width:?}:\n{text}");
            if let Some(w) = width {
                assert!(text.lines().all(|l| l.chars().count() <= usize::from(w)));
            }
        }
        let text = check_table_with(&[row(None)], Checked::Discovered, |h| sized_table(h, None));
        assert!(!text.contains(RELEASE_NOTES), "{text}");
    }

    #[test]
    fn fitted_tables_stay_within_the_width_and_keep_versions_whole() {
        let long_image = "127.0.0.1:43811/b42ac8-0-an-application-with-a-long-name/app";
        // (width, image, container, current, latest, note)
        let cases: &[(u16, &str, &str, &str, &str, &str)] = &[
            (
                80,
                "lscr.io/linuxserver/calibre",
                "calibre",
                "v7.1.0-ls12",
                "v7.2.0-ls14",
                "latest = v7.2.0-ls14",
            ),
            (
                80,
                long_image,
                "dumt-b42ac8-1-table-width-container-name",
                "v10.20.30-ls123",
                "v10.20.31-ls124",
                "latest = v10.20.31-ls124",
            ),
            (100, long_image, "db", "16.3", "16.4", "16 = 16.4"),
        ];
        for (width, image, container, current, latest, note) in cases {
            let header = ["IMAGE", "CONTAINER", "CURRENT", "LATEST", "STATUS", "NOTE"];
            let mut table = sized_table(header.to_vec(), Some(*width));
            table.add_row(vec![
                *image,
                container,
                current,
                latest,
                "update available",
                note,
            ]);
            let text = render(table, &header, &[2, 3, 4]);
            for line in text.lines() {
                assert!(
                    line.chars().count() <= *width as usize,
                    "{width}: {line}\n{text}"
                );
            }
            let first = text.lines().next().unwrap();
            for heading in ["IMAGE", "CONTAINER", "CURRENT", "LATEST", "STATUS", "NOTE"] {
                assert!(
                    first.contains(heading),
                    "{width}: heading {heading} split:\n{text}"
                );
            }
            let row = text.lines().nth(1).unwrap();
            assert!(
                row.contains(current) && row.contains(latest),
                "{width}:\n{text}"
            );
        }
    }

    #[test]
    fn share_gives_minimums_then_evenly_up_to_content() {
        let cases: &[(u16, &[(u16, u16)], &[u16])] = &[
            (30, &[(5, 10), (9, 12)], &[10, 12]),
            (20, &[(5, 60), (9, 40), (4, 24)], &[6, 10, 4]),
            (24, &[(5, 60), (9, 40), (4, 24)], &[7, 11, 6]),
            (10, &[(5, 60), (9, 40)], &[5, 9]),
            (0, &[], &[]),
        ];
        for (available, wants, expected) in cases {
            assert_eq!(share(*available, wants), *expected, "{available} {wants:?}");
        }
    }
}
