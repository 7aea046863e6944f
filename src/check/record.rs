//! What a check leaves in the state for the next run, and what it takes from it: the
//! rows of the last check, when an update was first seen, and each base tag's
//! resolution.

use crate::check::{ImageReport, Known, Resolved, Status};
use crate::store::state::{self, State};

/// What the last check learnt about each base tag.
pub fn known(state: &State) -> Known {
    let mut known = Known::default();
    for entry in state.images.values() {
        if let (Some(base_tag), Some(version), Some(digest)) = (
            &entry.base_tag,
            &entry.base_tag_version,
            &entry.base_tag_digest,
        ) {
            known.insert(
                &entry.image,
                base_tag,
                Resolved {
                    version: version.clone(),
                    digest: digest.clone(),
                },
            );
        }
    }
    for (image, digests) in &state.digests {
        known.insert_digests(image, digests.clone());
    }
    known
}

/// Digests kept per repository: enough for every version a minimum age could judge,
/// bounded so a repository re-pushed hourly does not grow the state forever.
const DIGESTS_KEPT: usize = 64;

/// Records when each digest a check saw was first seen (none for the digests of a
/// repository's first check: dum cannot tell how long they had been there) and the
/// build times it read.
fn remember_digests(state: &mut State, rows: &[ImageReport], now: &str) {
    let first_check: std::collections::HashSet<String> = rows
        .iter()
        .filter(|r| !state.digests.contains_key(&r.image))
        .map(|r| r.image.clone())
        .collect();
    for row in rows {
        let seen: Vec<&String> = [
            &row.latest_digest,
            &row.base_tag_digest,
            &row.current_digest,
            &row.hold.target_digest,
        ]
        .into_iter()
        .flatten()
        .chain(row.hold.learned.iter().map(|l| &l.digest))
        .collect();
        if seen.is_empty() {
            continue;
        }
        let digests = state.digests.entry(row.image.clone()).or_default();
        for d in &seen {
            digests
                .entry((*d).clone())
                .or_insert_with(|| state::DigestRecord {
                    first_seen: (!first_check.contains(&row.image)).then(|| now.to_string()),
                    ..state::DigestRecord::default()
                });
        }
        for l in &row.hold.learned {
            if let Some(r) = digests.get_mut(&l.digest) {
                r.built = l.built.clone();
                r.labels = l.labels.clone();
                r.built_read = true;
            }
        }
        if digests.len() > DIGESTS_KEPT {
            // The longest known go first (those of a first check, then by date);
            // what this check saw stays.
            let mut old: Vec<(Option<String>, String)> = digests
                .iter()
                .filter(|(d, _)| !seen.contains(d))
                .map(|(d, r)| (r.first_seen.clone(), d.clone()))
                .collect();
            old.sort();
            let excess = digests.len() - DIGESTS_KEPT;
            for (_, d) in old.into_iter().take(excess) {
                digests.remove(&d);
            }
        }
    }
}

/// Records what the check saw. A failed row keeps the previous knowledge: a registry
/// hiccup must not erase when an update was first seen.
pub fn remember(state: &mut State, rows: &[ImageReport]) {
    let now = state::now_rfc3339();
    remember_digests(state, rows, &now);
    for row in rows {
        let key = state::key(&row.image, row.container.as_deref());
        let entry = state.images.entry(key).or_default();
        entry.image = row.image.clone();
        entry.container = row.container.clone();
        entry.checked_at = Some(now.clone());
        entry.status = serde_json::to_value(row.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        if row.status == Status::Failed {
            continue;
        }
        let pending = row.status == Status::UpdateAvailable;
        if pending {
            if entry.update_first_seen.is_none() || entry.latest_digest != row.latest_digest {
                entry.update_first_seen = Some(now.clone());
            }
        } else {
            entry.update_first_seen = None;
        }
        entry.current_version = row.current_version.clone();
        entry.current_digest = row.current_digest.clone();
        entry.latest_version = row.latest_version.clone();
        entry.latest_digest = row.latest_digest.clone();
        entry.base_tag = Some(row.base_tag.clone());
        entry.base_tag_version = row.base_tag_version.clone();
        entry.base_tag_digest = row.base_tag_digest.clone();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::check::candidate::Learned;

    fn row(image: &str, latest: &str, learned: &[(&str, Option<&str>)]) -> ImageReport {
        let mut row = ImageReport::failed(image, "latest", None, &anyhow::anyhow!("x"));
        row.status = Status::UpdateAvailable;
        row.error = None;
        row.latest_digest = Some(latest.to_string());
        row.hold.learned = learned
            .iter()
            .map(|(d, built)| Learned {
                digest: d.to_string(),
                built: built.map(str::to_string),
                labels: [(
                    "org.opencontainers.image.source".to_string(),
                    "https://x/y".to_string(),
                )]
                .into(),
            })
            .collect();
        row
    }

    #[test]
    fn digests_are_first_seen_after_the_first_check_and_keep_what_was_read() {
        let mut state = State::default();
        // The repository's first check: no first sighting (how long it was there is
        // unknown); a build time read is kept with the labels.
        remember(
            &mut state,
            &[row(
                "a",
                "sha256:1",
                &[("sha256:1", Some("2024-01-01T00:00:00Z"))],
            )],
        );
        let d = &state.digests["a"]["sha256:1"];
        assert_eq!(d.first_seen, None);
        assert!(d.built_read);
        assert_eq!(d.built.as_deref(), Some("2024-01-01T00:00:00Z"));
        assert_eq!(d.labels.len(), 1);
        // A later check: a new digest is first seen now; the earlier one keeps its record.
        remember(&mut state, &[row("a", "sha256:2", &[("sha256:2", None)])]);
        assert!(state.digests["a"]["sha256:2"].first_seen.is_some());
        assert!(state.digests["a"]["sha256:2"].built_read);
        assert_eq!(state.digests["a"]["sha256:1"].first_seen, None);
        // What is known reaches the next check.
        let known = known(&state);
        assert!(known.digest("a", "sha256:2").unwrap().is_some());
        assert!(known.digest("a", "sha256:3").unwrap().is_none());
        assert!(known.digest("b", "sha256:1").is_none());
    }

    #[test]
    fn a_repository_keeps_a_bounded_number_of_digests() {
        let mut state = State::default();
        for i in 0..(DIGESTS_KEPT + 10) {
            remember(&mut state, &[row("a", &format!("sha256:{i:04}"), &[])]);
        }
        let digests = &state.digests["a"];
        assert_eq!(digests.len(), DIGESTS_KEPT);
        // The newest stays; the first check's (no date) went first.
        assert!(digests.contains_key(&format!("sha256:{:04}", DIGESTS_KEPT + 9)));
        assert!(!digests.contains_key("sha256:0000"));
    }
}
