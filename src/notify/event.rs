//! What a run has to tell: the events, derived from the check rows, the applied updates
//! and what earlier runs already announced.

use serde::Serialize;

pub use crate::config::notify::EventKind;

use crate::check::{ImageReport, Status};
use crate::store::history::ResultKind;
use crate::store::state::{self, State};
use crate::update::Applied;

/// One thing that happened to one image (and container).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// What happened.
    #[serde(rename = "event")]
    pub kind: EventKind,
    /// The configured image.
    pub image: String,
    /// The container, when there is one.
    pub container: Option<String>,
    /// The version (or digest) before.
    pub from: Option<String>,
    /// The version (or digest) offered or moved to.
    pub to: Option<String>,
    /// The digest offered or moved to; for `update_available`, what the state remembers
    /// as announced.
    pub to_digest: Option<String>,
    /// Why, for `rolled_back` and `failed`.
    pub error: Option<String>,
    /// Where to read what the update changes (the row's `release_notes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_notes: Option<String>,
}

/// The events of a run, in row order: results of applied updates, then what the
/// check found. An update already announced for the same digest is left out, and so is
/// one that this run tried to apply (its result is the event).
pub fn collect(rows: &[ImageReport], applied: &[Applied], state: &State) -> Vec<Event> {
    let mut events = Vec::new();
    for a in applied {
        let kind = match a.result {
            ResultKind::Updated => EventKind::Updated,
            ResultKind::RolledBack => EventKind::RolledBack,
            ResultKind::Failed => EventKind::Failed,
            ResultKind::Recovered | ResultKind::Skipped => continue,
        };
        events.push(Event {
            kind,
            image: a.mv.image.clone(),
            container: Some(a.mv.container.clone()),
            from: a.mv.change.from.name().map(str::to_string),
            to: a.mv.change.to.name().map(str::to_string),
            to_digest: a.mv.change.to.digest.clone(),
            error: a.error.clone(),
            // The check row the move came from carries the link.
            release_notes: rows
                .iter()
                .find(|r| r.container.as_ref() == Some(&a.mv.container) && r.image == a.mv.image)
                .and_then(|r| r.release_notes.clone()),
        });
    }
    for row in rows {
        let tried = applied
            .iter()
            .any(|a| row.container.as_ref() == Some(&a.mv.container));
        match row.status {
            Status::Failed => events.push(Event {
                kind: EventKind::Failed,
                image: row.image.clone(),
                container: row.container.clone(),
                from: None,
                to: None,
                to_digest: None,
                error: row.error.clone(),
                release_notes: None,
            }),
            Status::UpdateAvailable if !tried => {
                let offered = announcement(row);
                if offered.is_some() && offered == announced(state, row) {
                    continue;
                }
                events.push(Event {
                    kind: EventKind::UpdateAvailable,
                    image: row.image.clone(),
                    container: row.container.clone(),
                    from: row
                        .current_version
                        .clone()
                        .or_else(|| row.current_digest.clone()),
                    to: row
                        .latest_version
                        .clone()
                        .or_else(|| row.latest_digest.clone()),
                    to_digest: offered.map(str::to_string),
                    error: None,
                    release_notes: row.release_notes.clone(),
                })
            }
            _ => {}
        }
    }
    events
}

/// What identifies an offered update: its digest, else its version.
fn announcement(row: &ImageReport) -> Option<&str> {
    row.latest_digest
        .as_deref()
        .or(row.latest_version.as_deref())
}

fn announced<'s>(state: &'s State, row: &ImageReport) -> Option<&'s str> {
    state
        .images
        .get(&state::key(&row.image, row.container.as_deref()))
        .and_then(|s| s.announced_digest.as_deref())
}

/// Remembers the updates `delivered` announced, and forgets announcements for images now
/// up to date so that a later return of the same version is news again. Returns whether
/// the state changed.
pub fn record(state: &mut State, rows: &[ImageReport], delivered: &[&Event]) -> bool {
    let mut changed = false;
    for row in rows {
        let Some(entry) = state
            .images
            .get_mut(&state::key(&row.image, row.container.as_deref()))
        else {
            continue;
        };
        let announced = delivered
            .iter()
            .find(|e| {
                e.kind == EventKind::UpdateAvailable
                    && e.image == row.image
                    && e.container == row.container
            })
            .and_then(|e| e.to_digest.clone());
        let wanted = match (&row.status, announced) {
            (_, Some(digest)) => Some(digest),
            (Status::UpToDate, None) => None,
            _ => entry.announced_digest.clone(),
        };
        if entry.announced_digest != wanted {
            entry.announced_digest = wanted;
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
pub(crate) mod tests {
    use super::*;
    use crate::image::pin::{Change, Pin};
    use crate::store::state::ImageState;
    use crate::update::Move;

    /// A row for container `c` of image `app`: `status`, running v1, offering `latest`.
    pub(crate) fn row(c: &str, status: Status, latest: &str) -> ImageReport {
        ImageReport {
            image: "app".into(),
            container: Some(c.into()),
            current_version: Some("1.0".into()),
            current_digest: Some("sha256:old".into()),
            latest_version: Some(latest.into()),
            latest_digest: Some(format!("sha256:{latest}")),
            base_tag: "latest".into(),
            base_tag_version: None,
            base_tag_digest: None,
            error: (status == Status::Failed).then(|| "registry said 500".into()),
            managed_by: None,
            tag: None,
            compose: None,
            pinned: None,
            release_notes: None,
            service: None,
            hold: crate::check::Hold::default(),
            status,
            note: None,
            signature: None,
        }
    }

    pub(crate) fn applied(c: &str, result: ResultKind) -> Applied {
        Applied {
            mv: Move {
                kind: "update".into(),
                container: c.into(),
                image: "app".into(),
                pull: String::new(),
                tags: Vec::new(),
                run_as: String::new(),
                change: Change {
                    from: Pin::new(Some("1.0".into()), Some("sha256:old".into())),
                    to: Pin::new(Some("2.0".into()), Some("sha256:2.0".into())),
                },
                verify: None,
                compose: None,
                service: None,
                hooks: Default::default(),
            },
            error: (result != ResultKind::Updated).then(|| "exited with 1".into()),
            result,
            dependents: Vec::new(),
            note: None,
            via: "api",
            hooks: Vec::new(),
        }
    }

    fn state_with(c: &str, announced: Option<&str>) -> State {
        let mut state = State::default();
        state.images.insert(
            state::key("app", Some(c)),
            ImageState {
                image: "app".into(),
                container: Some(c.into()),
                announced_digest: announced.map(str::to_string),
                ..ImageState::default()
            },
        );
        state
    }

    #[test]
    fn collect_cases() {
        use EventKind::*;
        let cases: &[(
            &str,
            Vec<ImageReport>,
            Vec<Applied>,
            Option<&str>,
            &[EventKind],
        )] = &[
            (
                "nothing",
                vec![row("a", Status::UpToDate, "1.0")],
                vec![],
                None,
                &[],
            ),
            (
                "new update",
                vec![row("a", Status::UpdateAvailable, "2.0")],
                vec![],
                None,
                &[UpdateAvailable],
            ),
            (
                "already announced",
                vec![row("a", Status::UpdateAvailable, "2.0")],
                vec![],
                Some("sha256:2.0"),
                &[],
            ),
            (
                "newer than announced",
                vec![row("a", Status::UpdateAvailable, "3.0")],
                vec![],
                Some("sha256:2.0"),
                &[UpdateAvailable],
            ),
            (
                "check failed",
                vec![row("a", Status::Failed, "2.0")],
                vec![],
                None,
                &[Failed],
            ),
            (
                "updated",
                vec![row("a", Status::UpToDate, "2.0")],
                vec![applied("a", ResultKind::Updated)],
                None,
                &[Updated],
            ),
            (
                "rolled back: the result, not another announcement",
                vec![row("a", Status::UpdateAvailable, "2.0")],
                vec![applied("a", ResultKind::RolledBack)],
                None,
                &[RolledBack],
            ),
            (
                "update failed",
                vec![row("a", Status::UpdateAvailable, "2.0")],
                vec![applied("a", ResultKind::Failed)],
                None,
                &[Failed],
            ),
            (
                "recovered is not news",
                vec![],
                vec![applied("a", ResultKind::Recovered)],
                None,
                &[],
            ),
        ];
        for (case, rows, applied, announced, want) in cases {
            let state = state_with("a", *announced);
            let got: Vec<EventKind> = collect(rows, applied, &state)
                .iter()
                .map(|e| e.kind)
                .collect();
            assert_eq!(got, *want, "{case}");
        }
    }

    #[test]
    fn update_available_event_names_versions_and_digest() {
        let events = collect(
            &[row("a", Status::UpdateAvailable, "2.0")],
            &[],
            &State::default(),
        );
        assert_eq!(
            events,
            [Event {
                kind: EventKind::UpdateAvailable,
                image: "app".into(),
                container: Some("a".into()),
                from: Some("1.0".into()),
                to: Some("2.0".into()),
                to_digest: Some("sha256:2.0".into()),
                error: None,
                release_notes: None,
            }]
        );
    }

    #[test]
    fn record_cases() {
        let pending = row("a", Status::UpdateAvailable, "2.0");
        let announce = collect(std::slice::from_ref(&pending), &[], &State::default());
        let cases: &[(&str, ImageReport, bool, Option<&str>, Option<&str>, bool)] = &[
            (
                "delivered: remembered",
                pending.clone(),
                true,
                None,
                Some("sha256:2.0"),
                true,
            ),
            (
                "not delivered: retried next run",
                pending.clone(),
                false,
                None,
                None,
                false,
            ),
            (
                "up to date: forgotten",
                row("a", Status::UpToDate, "2.0"),
                false,
                Some("sha256:2.0"),
                None,
                true,
            ),
            (
                "check failed: kept",
                row("a", Status::Failed, "2.0"),
                false,
                Some("sha256:2.0"),
                Some("sha256:2.0"),
                false,
            ),
        ];
        for (case, row, delivered, before, after, changed) in cases {
            let mut state = state_with("a", *before);
            let delivered: Vec<&Event> = if *delivered {
                announce.iter().collect()
            } else {
                Vec::new()
            };
            let got = record(&mut state, std::slice::from_ref(row), &delivered);
            assert_eq!(got, *changed, "{case}");
            assert_eq!(
                state.images[&state::key("app", Some("a"))]
                    .announced_digest
                    .as_deref(),
                *after,
                "{case}"
            );
        }
    }
}
