//! The one message a run sends: a title that counts the events, a line per event, and a
//! severity the services turn into priority or colour.

use super::event::{Event, EventKind};
use crate::output::short_digest;

/// How bad the news is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Updates available, a test message.
    Info,
    /// Containers updated, nothing failed.
    Success,
    /// Something failed or was rolled back.
    Failure,
}

/// A message for people, before a service's format is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// One line, ASCII (it travels in HTTP headers for ntfy).
    pub title: String,
    /// One line per event.
    pub body: String,
    /// Decides priority and colour.
    pub severity: Severity,
}

/// The summary of `events` from a run on `host`.
pub fn summary(events: &[&Event], host: &str) -> Message {
    let counts: Vec<String> = EventKind::ALL
        .iter()
        .filter_map(|kind| {
            let n = events.iter().filter(|e| e.kind == *kind).count();
            (n > 0).then(|| count(*kind, n))
        })
        .collect();
    let severity = events
        .iter()
        .map(|e| match e.kind {
            EventKind::UpdateAvailable => Severity::Info,
            EventKind::Updated => Severity::Success,
            EventKind::RolledBack | EventKind::Failed => Severity::Failure,
        })
        .max()
        .unwrap_or(Severity::Info);
    let body: Vec<String> = events.iter().map(|e| line(e)).collect();
    Message {
        title: ascii(&format!("dum on {host}: {}", counts.join(", "))),
        body: body.join("\n"),
        severity,
    }
}

/// The message `dum notify --test` sends.
pub fn test(host: &str) -> Message {
    Message {
        title: ascii(&format!("dum on {host}: test notification")),
        body: "dum can reach this target. Real messages summarise each run: updates \
               available, updated, rolled back, failed."
            .into(),
        severity: Severity::Info,
    }
}

fn count(kind: EventKind, n: usize) -> String {
    match kind {
        EventKind::UpdateAvailable if n == 1 => "1 update available".into(),
        EventKind::UpdateAvailable => format!("{n} updates available"),
        EventKind::Updated => format!("{n} updated"),
        EventKind::RolledBack => format!("{n} rolled back"),
        EventKind::Failed => format!("{n} failed"),
    }
}

fn line(e: &Event) -> String {
    let name = match &e.container {
        Some(c) => format!("{c} ({})", e.image),
        None => e.image.clone(),
    };
    let from = e
        .from
        .as_deref()
        .map(short_digest)
        .unwrap_or_else(|| "?".into());
    let to =
        e.to.as_deref()
            .map(short_digest)
            .unwrap_or_else(|| "?".into());
    let why = e.error.as_deref().unwrap_or("no reason given");
    let text = match e.kind {
        EventKind::UpdateAvailable => format!("{name}: {from} → {to} available"),
        EventKind::Updated => format!("{name}: updated {from} → {to}"),
        EventKind::RolledBack => format!("{name}: {to} rolled back to {from}: {why}"),
        EventKind::Failed if e.to.is_some() => format!("{name}: update to {to} failed: {why}"),
        EventKind::Failed => format!("{name}: check failed: {why}"),
    };
    match &e.release_notes {
        // On the same line: one line per event.
        Some(link) => format!("{text} (release notes: {link})"),
        None => text,
    }
}

/// Printable ASCII only: ntfy takes the title in a header.
fn ascii(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn event(kind: EventKind, from: Option<&str>, to: Option<&str>, error: Option<&str>) -> Event {
        Event {
            kind,
            image: "lscr.io/linuxserver/calibre".into(),
            container: Some("calibre".into()),
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            to_digest: None,
            error: error.map(str::to_string),
            release_notes: None,
        }
    }

    #[test]
    fn lines_per_kind() {
        use EventKind::*;
        let name = "calibre (lscr.io/linuxserver/calibre)";
        let cases = [
            (
                event(UpdateAvailable, Some("v1"), Some("v2"), None),
                format!("{name}: v1 → v2 available"),
            ),
            (
                event(
                    UpdateAvailable,
                    Some("sha256:0123456789abcdef"),
                    Some("sha256:fedcba9876543210"),
                    None,
                ),
                format!("{name}: @0123456789ab → @fedcba987654 available"),
            ),
            (
                event(Updated, Some("v1"), Some("v2"), None),
                format!("{name}: updated v1 → v2"),
            ),
            (
                event(RolledBack, Some("v1"), Some("v2"), Some("exited")),
                format!("{name}: v2 rolled back to v1: exited"),
            ),
            (
                event(Failed, Some("v1"), Some("v2"), Some("pull failed")),
                format!("{name}: update to v2 failed: pull failed"),
            ),
            (
                event(Failed, None, None, Some("HTTP 500")),
                format!("{name}: check failed: HTTP 500"),
            ),
        ];
        for (e, want) in cases {
            assert_eq!(line(&e), want, "{:?}", e.kind);
        }
    }

    #[test]
    fn a_release_notes_link_ends_its_events_line() {
        let link = "https://github.com/o/r/releases";
        for kind in [EventKind::UpdateAvailable, EventKind::Updated] {
            let e = Event {
                release_notes: Some(link.into()),
                ..event(kind, Some("v1"), Some("v2"), None)
            };
            let text = line(&e);
            assert!(
                text.ends_with(&format!(" (release notes: {link})")),
                "{text}"
            );
            assert!(!text.contains('\n'), "{text}");
        }
    }

    #[test]
    fn titles_and_severities() {
        use EventKind::*;
        let available = event(UpdateAvailable, Some("v1"), Some("v2"), None);
        let updated = event(Updated, Some("v1"), Some("v2"), None);
        let failed = event(Failed, None, None, Some("x"));
        let cases: &[(&[&Event], &str, Severity)] = &[
            (
                &[&available],
                "dum on box: 1 update available",
                Severity::Info,
            ),
            (
                &[&available, &available],
                "dum on box: 2 updates available",
                Severity::Info,
            ),
            (&[&updated], "dum on box: 1 updated", Severity::Success),
            (
                &[&failed, &updated, &available],
                "dum on box: 1 update available, 1 updated, 1 failed",
                Severity::Failure,
            ),
        ];
        for (events, title, severity) in cases {
            let m = summary(events, "box");
            assert_eq!(m.title, *title);
            assert_eq!(m.severity, *severity, "{title}");
            assert_eq!(m.body.lines().count(), events.len(), "{title}");
        }
    }

    #[test]
    fn title_is_ascii() {
        assert_eq!(test("bøx").title, "dum on b?x: test notification");
    }
}
