//! Which containers move where: pure decisions from the checked rows and the
//! configuration, before anything is touched.

use serde::Serialize;

use crate::check::{ImageReport, Status};
use crate::config::ImageConfig;
use crate::image::pin::{Change, Pin};
use crate::image::reference::Reference;
use crate::image::select::{self, Direction};
use crate::store::history::Entry;
use crate::update::verify::Verify;

/// One container to move, decided before anything is touched.
#[derive(Debug, Clone, Serialize)]
pub struct Move {
    /// `update` or `rollback`.
    pub kind: String,
    /// Container name.
    pub container: String,
    /// Configured image (repository).
    pub image: String,
    /// Where to pull from: `repo@digest` (the registry the digest was found on).
    pub pull: String,
    /// Local `repo:tag` names to give the pulled image.
    pub tags: Vec<String>,
    /// The reference the new container is created from.
    pub run_as: String,
    /// From what runs to the target (the target's digest is always known).
    #[serde(flatten)]
    pub change: Change,
    /// Verification settings.
    #[serde(skip)]
    pub verify: Option<Verify>,
}

/// Why a row is not turned into a move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skip {
    /// Container (or image when none).
    pub container: String,
    /// Why.
    pub reason: String,
}

/// Decides the moves for checked rows. `explicit`: the user named the targets (then
/// `auto_update` does not matter); `allow_downgrade`: a target older than what runs
/// may be applied (explicit targets only).
pub fn plan_moves(
    rows: &[ImageReport],
    configs: &[ImageConfig],
    explicit: bool,
    allow_downgrade: bool,
) -> (Vec<Move>, Vec<Skip>) {
    let mut moves = Vec::new();
    let mut skips = Vec::new();
    for row in rows {
        // The entry of that very container (from its labels, say) before the image's.
        let named = configs.iter().find(|c| {
            c.image == row.image && c.container_name.is_some() && c.container_name == row.container
        });
        let Some(config) = named.or_else(|| {
            configs
                .iter()
                .find(|c| c.image == row.image && c.container_name.is_none())
        }) else {
            continue;
        };
        let who = row.container.clone().unwrap_or_else(|| row.image.clone());
        let skip = |reason: String| Skip {
            container: who.clone(),
            reason,
        };
        if !explicit && !config.auto_update {
            continue;
        }
        if let Some(owner) = &row.managed_by {
            // Recreating it would leave an orphan running beside the replacement the
            // orchestrator starts on the old version.
            skips.push(skip(format!(
                "belongs to {owner}: dum never recreates a container an orchestrator owns; update the service"
            )));
            continue;
        }
        let downgrade = match (&row.current_version, &row.latest_version) {
            (Some(c), Some(l)) => select::direction(c, l) == Direction::Older,
            _ => false,
        };
        // The downgrade rule is checked for every status, not only "up to date": a verdict
        // is data, and a wrong one (a bug, a hand-edited state) must not downgrade anything.
        match row.status {
            Status::UpdateAvailable | Status::UpToDate
                if downgrade && explicit && allow_downgrade => {}
            Status::UpdateAvailable | Status::UpToDate if downgrade => {
                skips.push(skip(format!(
                    "{} is older than the running {}: never a downgrade (use an explicit target with --allow-downgrade)",
                    row.latest_version.as_deref().unwrap_or("?"),
                    row.current_version.as_deref().unwrap_or("?")
                )));
                continue;
            }
            Status::UpdateAvailable => {}
            Status::Failed => {
                // A run in which the registry answered with errors changes nothing.
                skips.push(skip(format!(
                    "not updated: {}",
                    row.error.as_deref().unwrap_or("check failed")
                )));
                continue;
            }
            _ => continue,
        }
        let (Some(container), Some(to_digest)) = (&row.container, &row.latest_digest) else {
            continue;
        };
        let Ok((reference, query)) = config.references() else {
            continue;
        };
        let familiar = reference.familiar_name();
        let mut tags = Vec::new();
        let run_as = match &row.latest_version {
            Some(version) => {
                tags.push(format!("{familiar}:{version}"));
                // Users who run the base tag keep running it: it moves with the update
                // when it points at the version we install.
                if row.base_tag_version.as_deref() == Some(version.as_str()) {
                    tags.push(format!("{familiar}:{}", config.base_tag));
                }
                format!("{familiar}:{version}")
            }
            None => {
                tags.push(format!("{familiar}:{}", config.base_tag));
                format!("{familiar}:{}", config.base_tag)
            }
        };
        moves.push(Move {
            kind: "update".into(),
            container: container.clone(),
            image: config.image.clone(),
            pull: format!("{}@{to_digest}", query.familiar_name()),
            tags,
            run_as,
            change: Change {
                from: Pin::new(row.current_version.clone(), row.current_digest.clone()),
                to: Pin::new(row.latest_version.clone(), Some(to_digest.clone())),
            },
            verify: Some(Verify::of(config)),
        });
    }
    (moves, skips)
}

/// Keeps paused containers out of an unattended run: the user paused them for a reason,
/// and an update would run the new version. Named on the command line (`explicit`) they
/// are updated, and the new container is paused again once verified.
pub fn hold_paused(
    moves: Vec<Move>,
    mut skips: Vec<Skip>,
    paused: &[&str],
    explicit: bool,
) -> (Vec<Move>, Vec<Skip>) {
    if explicit {
        return (moves, skips);
    }
    let (held, moves): (Vec<Move>, Vec<Move>) = moves
        .into_iter()
        .partition(|m| paused.contains(&m.container.as_str()));
    skips.extend(held.into_iter().map(|m| Skip {
        reason: format!(
            "paused: not updated unless named (`dum update {}`), then it is paused again after the update",
            m.container
        ),
        container: m.container,
    }));
    (moves, skips)
}

/// The move that takes the container of `last` (its newest update) back to what it
/// ran before: `digest` is that image's registry digest, `reference` the configured
/// image and `query` where it is pulled from (see [`ImageConfig::references`]).
pub fn rollback(
    last: &Entry,
    reference: &Reference,
    query: &Reference,
    config: Option<&ImageConfig>,
    digest: String,
) -> Move {
    let familiar = reference.familiar_name();
    let run_as = match &last.change.from.version {
        Some(v) => format!("{familiar}:{v}"),
        None => format!("{familiar}@{digest}"),
    };
    Move {
        kind: "rollback".into(),
        container: last.container.clone(),
        image: last.image.clone(),
        pull: format!("{}@{digest}", query.familiar_name()),
        tags: last
            .change
            .from
            .version
            .iter()
            .map(|v| format!("{familiar}:{v}"))
            .collect(),
        run_as,
        change: Change {
            from: last.change.to.clone(),
            to: Pin::new(last.change.from.version.clone(), Some(digest)),
        },
        verify: Some(config.map(Verify::of).unwrap_or_default()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn row(status: Status, current: &str, latest: &str) -> ImageReport {
        ImageReport {
            image: "r.io/app".into(),
            container: Some("web".into()),
            current_version: Some(current.into()),
            current_digest: Some("sha256:old".into()),
            latest_version: Some(latest.into()),
            latest_digest: Some("sha256:new".into()),
            base_tag: "latest".into(),
            base_tag_version: Some(latest.into()),
            base_tag_digest: Some("sha256:new".into()),
            status,
            note: None,
            error: (status == Status::Failed).then(|| "HTTP 503".to_string()),
            managed_by: None,
        }
    }

    fn config(auto_update: bool) -> ImageConfig {
        ImageConfig {
            image: "r.io/app".into(),
            regex: None,
            base_tag: "latest".into(),
            auto_update,
            container_name: None,
            cleanup_old_images: false,
            keep_versions: 3,
            registry: Some("mirror.lan:5000".into()),
            grace_seconds: 1,
            health_timeout_seconds: 1,
            except: Vec::new(),
            origin: Default::default(),
        }
    }

    #[test]
    fn moves_follow_auto_update_targets_and_never_downgrade() {
        use Status::*;
        // (status, current, latest, auto_update, explicit, allow_downgrade) -> moves, skips
        let cases: &[(Status, &str, &str, bool, bool, bool, usize, usize)] = &[
            (UpdateAvailable, "1.0", "2.0", true, false, false, 1, 0),
            (UpdateAvailable, "1.0", "2.0", false, false, false, 0, 0),
            (UpdateAvailable, "1.0", "2.0", false, true, false, 1, 0),
            (UpToDate, "2.0", "2.0", true, true, true, 0, 0),
            (UpToDate, "3.0", "2.0", true, false, false, 0, 1),
            (UpToDate, "3.0", "2.0", true, true, false, 0, 1),
            (UpToDate, "3.0", "2.0", true, true, true, 1, 0),
            (Failed, "1.0", "2.0", true, false, false, 0, 1),
            (NotRunning, "1.0", "2.0", true, false, false, 0, 0),
        ];
        for (i, (status, current, latest, auto, explicit, allow, moves, skips)) in
            cases.iter().enumerate()
        {
            let (m, s) = plan_moves(
                &[row(*status, current, latest)],
                &[config(*auto)],
                *explicit,
                *allow,
            );
            assert_eq!((m.len(), s.len()), (*moves, *skips), "case {i}: {s:?}");
        }
        let (m, _) = plan_moves(
            &[row(Status::UpdateAvailable, "1.0", "2.0")],
            &[config(true)],
            false,
            false,
        );
        // Pulled from where the digest was found; tagged and run under the image's name.
        assert_eq!(m[0].pull, "mirror.lan:5000/app@sha256:new");
        assert_eq!(m[0].tags, vec!["r.io/app:2.0", "r.io/app:latest"]);
        assert_eq!(m[0].run_as, "r.io/app:2.0");
    }

    /// Found by `an_update_is_never_a_downgrade`: a row saying "update available" for an
    /// older version was planned as a move.
    #[test]
    fn an_inconsistent_update_available_row_is_not_a_downgrade() {
        let row = crate::check::ImageReport {
            image: "reg.lan/app".into(),
            container: Some("app".into()),
            current_version: Some("1".into()),
            current_digest: None,
            latest_version: Some("v0".into()),
            latest_digest: Some(format!("sha256:{}", "b".repeat(64))),
            base_tag: "latest".into(),
            base_tag_version: None,
            base_tag_digest: None,
            status: crate::check::Status::UpdateAvailable,
            note: None,
            error: None,
            managed_by: None,
        };
        let config = crate::config::ImageConfig {
            image: "reg.lan/app".into(),
            regex: None,
            base_tag: "latest".into(),
            auto_update: true,
            container_name: None,
            cleanup_old_images: false,
            keep_versions: 1,
            registry: None,
            grace_seconds: 1,
            health_timeout_seconds: 1,
            except: Vec::new(),
            origin: Default::default(),
        };
        const CASES: &[(bool, bool, usize)] = &[
            (false, false, 0),
            (true, false, 0),
            (false, true, 0),
            (true, true, 1),
        ];
        for &(explicit, allow, want) in CASES {
            let (moves, skips) = plan_moves(
                std::slice::from_ref(&row),
                std::slice::from_ref(&config),
                explicit,
                allow,
            );
            assert_eq!(moves.len(), want, "explicit {explicit}, allow {allow}");
            assert_eq!(skips.len(), 1 - want, "explicit {explicit}, allow {allow}");
        }
    }

    #[test]
    fn containers_an_orchestrator_owns_are_never_moved() {
        let mut managed = row(Status::UpdateAvailable, "1.0", "2.0");
        managed.managed_by = Some("Swarm service web".into());
        for explicit in [false, true] {
            let (m, s) = plan_moves(
                std::slice::from_ref(&managed),
                &[config(true)],
                explicit,
                false,
            );
            assert!(m.is_empty(), "explicit {explicit}");
            assert!(s[0].reason.contains("Swarm service web"), "{s:?}");
        }
    }

    #[test]
    fn paused_containers_wait_for_an_explicit_target() {
        let (moves, _) = plan_moves(
            &[row(Status::UpdateAvailable, "1.0", "2.0")],
            &[config(true)],
            false,
            false,
        );
        // (paused containers, explicit) -> moves kept, skips added
        let cases: &[(&[&str], bool, usize, usize)] = &[
            (&[], false, 1, 0),
            (&["web"], false, 0, 1),
            (&["web"], true, 1, 0),
            (&["other"], false, 1, 0),
        ];
        for (i, &(paused, explicit, kept, skipped)) in cases.iter().enumerate() {
            let (m, s) = hold_paused(moves.clone(), Vec::new(), paused, explicit);
            assert_eq!((m.len(), s.len()), (kept, skipped), "case {i}");
            if let Some(skip) = s.first() {
                assert_eq!(skip.container, "web");
                assert!(skip.reason.starts_with("paused"), "{}", skip.reason);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod properties {
    use super::*;
    use crate::check::{ImageReport, Status};
    use crate::config::ImageConfig;
    use proptest::prelude::*;

    fn version() -> impl Strategy<Value = Option<String>> {
        proptest::option::of("v?[0-9]{1,2}(\\.[0-9]{1,2}){0,2}(-rc[0-9])?")
    }

    fn status() -> impl Strategy<Value = Status> {
        prop_oneof![
            Just(Status::UpToDate),
            Just(Status::UpdateAvailable),
            Just(Status::NotRunning),
            Just(Status::Failed),
        ]
    }

    /// Rows as check could produce them, and also inconsistent ones (status saying
    /// "update available" for an older version): planning must not trust the verdict alone.
    fn row() -> impl Strategy<Value = ImageReport> {
        (version(), version(), status(), any::<bool>()).prop_map(
            |(current, latest, status, base)| ImageReport {
                image: "reg.lan/app".into(),
                container: Some("app".into()),
                current_version: current,
                current_digest: Some(format!("sha256:{}", "a".repeat(64))),
                latest_version: latest.clone(),
                latest_digest: Some(format!("sha256:{}", "b".repeat(64))),
                base_tag: "latest".into(),
                base_tag_version: if base { latest } else { None },
                base_tag_digest: None,
                status,
                note: None,
                error: None,
                managed_by: None,
            },
        )
    }

    fn config(auto_update: bool) -> ImageConfig {
        ImageConfig {
            image: "reg.lan/app".into(),
            regex: None,
            base_tag: "latest".into(),
            auto_update,
            container_name: None,
            cleanup_old_images: false,
            keep_versions: 1,
            registry: None,
            grace_seconds: 1,
            health_timeout_seconds: 1,
            except: Vec::new(),
            origin: Default::default(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn an_update_is_never_a_downgrade(
            rows in proptest::collection::vec(row(), 0..4),
            auto in any::<bool>(),
            explicit in any::<bool>(),
            allow_downgrade in any::<bool>(),
        ) {
            let (moves, _) = plan_moves(&rows, &[config(auto)], explicit, allow_downgrade);
            for mv in &moves {
                if let (Some(from), Some(to)) = (&mv.change.from.version, &mv.change.to.version) {
                    let older = select::direction(from, to) == Direction::Older;
                    prop_assert!(
                        !older || (explicit && allow_downgrade),
                        "downgrade {from} -> {to} planned (explicit {explicit}, allow {allow_downgrade})"
                    );
                }
            }
        }
    }
}
