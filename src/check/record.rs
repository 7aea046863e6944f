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
    known
}

/// Records what the check saw. A failed row keeps the previous knowledge: a registry
/// hiccup must not erase when an update was first seen.
pub fn remember(state: &mut State, rows: &[ImageReport]) {
    let now = state::now_rfc3339();
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
