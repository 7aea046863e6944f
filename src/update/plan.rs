//! Which containers move where: pure decisions from the checked rows and the
//! configuration, before anything is touched.

use serde::Serialize;

use crate::check::{ImageReport, Status};
use crate::compose::service::Service;
use crate::config::ImageConfig;
use crate::config::hooks::Hooks;
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
    /// The compose service of the container: compose applies the move when its files
    /// are here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compose: Option<Service>,
    /// The Swarm service's ID when `container` names a service: its spec's image
    /// becomes `run_as` (pinned by digest) and Swarm rolls it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The lifecycle hooks of its entry.
    #[serde(skip)]
    pub hooks: Hooks,
}

/// How the reason of a [`Skip`] starts when a policy (a signature) stopped the update:
/// such a skip fails the run.
pub const BLOCKED: &str = "blocked: ";

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
        // The entry of that very container or Swarm service (from its labels, say)
        // before the image's.
        let named = configs.iter().find(|c| {
            let name = match row.service {
                Some(_) => &c.service_name,
                None => &c.container_name,
            };
            c.image == row.image && name.is_some() && *name == row.container
        });
        let Some(config) = named.or_else(|| {
            configs.iter().find(|c| {
                c.image == row.image && c.container_name.is_none() && c.service_name.is_none()
            })
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
        // The policy's target when one holds the newest back (`min_age_days`).
        let (to_version, to_digest) = row.target();
        let to_version = to_version.map(str::to_string);
        let downgrade = match (&row.current_version, &to_version) {
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
                    to_version.as_deref().unwrap_or("?"),
                    row.current_version.as_deref().unwrap_or("?")
                )));
                continue;
            }
            Status::UpdateAvailable => {}
            Status::Held => {
                skips.push(skip(
                    row.hold
                        .reason
                        .clone()
                        .unwrap_or_else(|| "held by a policy".into()),
                ));
                continue;
            }
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
        let (Some(container), Some(to_digest)) = (&row.container, to_digest.map(str::to_string))
        else {
            continue;
        };
        // `cosign_key`: only the very digest whose signature verified is pulled.
        if config.cosign_key.is_some() {
            let blocked = match &row.signature {
                Some(s) if s.verified && s.digest == *to_digest => None,
                Some(s) => Some(s.reason.clone().unwrap_or_else(|| {
                    format!(
                        "the signature checked was over {}, not {to_digest}",
                        s.digest
                    )
                })),
                None => Some(format!("the signature of {to_digest} was not checked")),
            };
            if let Some(reason) = blocked {
                skips.push(skip(format!("{BLOCKED}{reason}")));
                continue;
            }
        }
        let Ok((reference, query)) = config.references() else {
            continue;
        };
        let familiar = reference.familiar_name();
        let base = config.base_tag.as_str();
        let runs_base = row.tag.as_deref() == Some(base);
        let base_is_target =
            to_version.is_none() || row.base_tag_version.as_deref() == to_version.as_deref();
        if row.hold.target_version.is_some() && runs_base && !base_is_target {
            // Its base tag points at the held version: moving the container off it
            // would change what it tracks.
            skips.push(skip(format!(
                "{}; runs :{base}, which points at the held {}",
                row.hold.reason.as_deref().unwrap_or("held by a policy"),
                row.hold.held_version.as_deref().unwrap_or("?")
            )));
            continue;
        }
        if let Some(service) = &row.compose {
            // Compose recreates a service whose container does not run what the file's
            // tag names locally: the container must stay on the file's tag.
            if !runs_base {
                let tag = row.tag.as_deref().unwrap_or("a digest");
                let file = service
                    .config_files
                    .last()
                    .map_or_else(|| "(unknown)".into(), |f| f.display().to_string());
                // The file pins a version tag: the move edits it (see compose/edit.rs).
                let reason = match &row.pinned {
                    Some(p) if p.problem.is_some() => p.problem.clone(),
                    Some(p) if p.writes.is_none() => {
                        Some(format!("pinned by {}: nothing to write", p.file.display()))
                    }
                    Some(_) if row.current_version.as_deref() != Some(tag) => Some(format!(
                        "pinned to {tag} by compose file {file}: not a version tag, dum does not move it"
                    )),
                    Some(_) => None,
                    None => Some(format!("pinned to {tag} by compose file {file}")),
                };
                if let Some(reason) = reason {
                    skips.push(skip(reason));
                    continue;
                }
                if let Some(version) = &to_version {
                    let run_as = format!("{familiar}:{version}");
                    moves.push(Move {
                        kind: "update".into(),
                        container: container.clone(),
                        image: config.image.clone(),
                        pull: format!("{}@{to_digest}", query.familiar_name()),
                        tags: vec![run_as.clone()],
                        run_as,
                        change: Change {
                            from: Pin::new(row.current_version.clone(), row.current_digest.clone()),
                            to: Pin::new(to_version.clone(), Some(to_digest.clone())),
                        },
                        verify: Some(Verify::of(config)),
                        compose: Some(service.clone()),
                        service: None,
                        hooks: config.hooks.clone(),
                    });
                }
                continue;
            }
            if !base_is_target {
                skips.push(skip(format!(
                    "the compose file tracks :{base} ({}), not yet the newest {}: dum keeps compose services on their file's tag",
                    row.base_tag_version.as_deref().unwrap_or("no version"),
                    to_version.as_deref().unwrap_or("?")
                )));
                continue;
            }
        }
        let mut tags = Vec::new();
        let run_as = match &to_version {
            Some(version) => {
                tags.push(format!("{familiar}:{version}"));
                // Users who run the base tag keep running it: it moves with the update
                // when it points at the version we install.
                if row.base_tag_version.as_deref() == Some(version.as_str()) {
                    tags.push(format!("{familiar}:{base}"));
                }
                // A container created from the base tag stays on it (what `docker run
                // app` or a compose file names); one created from a version tag moves
                // to the new version tag.
                if runs_base && base_is_target {
                    format!("{familiar}:{base}")
                } else {
                    format!("{familiar}:{version}")
                }
            }
            None => {
                tags.push(format!("{familiar}:{base}"));
                format!("{familiar}:{base}")
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
                to: Pin::new(to_version.clone(), Some(to_digest.clone())),
            },
            verify: Some(Verify::of(config)),
            compose: row.compose.clone(),
            service: None,
            hooks: config.hooks.clone(),
        });
        // A service is not pulled here: its spec names the image by digest, and Swarm
        // pulls it on every node.
        if let (Some(service), Some(mv)) = (&row.service, moves.last_mut()) {
            mv.run_as = format!("{}@{to_digest}", mv.run_as);
            mv.tags.clear();
            mv.service = Some(service.id.clone());
        }
    }
    (moves, skips)
}

/// Orders the moves so that, within one compose project, a service's move comes after
/// the moves of the services it depends on (`depends_on`: dependencies first, as compose
/// starts them); any other order is kept. A dependency cycle keeps its written order.
pub fn dependencies_first(moves: Vec<Move>) -> Vec<Move> {
    let mut rest = moves;
    let mut ordered = Vec::with_capacity(rest.len());
    while !rest.is_empty() {
        let ready = rest
            .iter()
            .position(|m| !rest.iter().any(|o| depends_on(m, o)))
            .unwrap_or(0);
        ordered.push(rest.remove(ready));
    }
    ordered
}

/// Whether `m`'s service depends on `o`'s, in the same compose project.
fn depends_on(m: &Move, o: &Move) -> bool {
    match (&m.compose, &o.compose) {
        (Some(a), Some(b)) => {
            m.container != o.container
                && a.project == b.project
                && a.depends_on.contains(&b.service)
        }
        _ => false,
    }
}

/// The first service `mv` depends on among `stopped` (moves of this run that failed or
/// were not applied because a dependency failed): its update must not go ahead.
pub fn failed_dependency<'a>(mv: &Move, stopped: &[&'a Move]) -> Option<&'a str> {
    stopped
        .iter()
        .find(|o| depends_on(mv, o))
        .and_then(|o| o.compose.as_ref())
        .map(|c| c.service.as_str())
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
        compose: None,
        service: None,
        hooks: config.map(|c| c.hooks.clone()).unwrap_or_default(),
    }
}

/// Makes `mv` run the container on the tag it was created from (`created_as`, a
/// reference to `reference`'s repository with a tag), moved to the target: what a compose
/// file names must keep naming what runs.
pub fn keep_tag(mv: &mut Move, created_as: &str, reference: &Reference) {
    let Ok(created) = Reference::parse(created_as) else {
        return;
    };
    if created.digest.is_some()
        || created.registry != reference.registry
        || created.repository != reference.repository
    {
        return;
    }
    let keep = format!("{}:{}", reference.familiar_name(), created.tag_or_latest());
    if !mv.tags.contains(&keep) {
        mv.tags.push(keep.clone());
    }
    mv.run_as = keep;
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
            tag: None,
            compose: None,
            pinned: None,
            release_notes: None,
            service: None,
            hold: crate::check::Hold::default(),
            signature: None,
        }
    }

    fn config(auto_update: bool) -> ImageConfig {
        ImageConfig {
            image: "r.io/app".into(),
            regex: None,
            base_tag: "latest".into(),
            auto_update,
            container_name: None,
            service_name: None,
            cleanup_old_images: false,
            keep_versions: 3,
            registry: Some("mirror.lan:5000".into()),
            grace_seconds: 1,
            health_timeout_seconds: 1,
            min_age_days: 0,
            except: Vec::new(),
            except_services: Vec::new(),
            release_notes: None,
            origin: Default::default(),
            cosign_key: None,
            hooks: Default::default(),
        }
    }

    /// A service row takes the entry of that very service (its spec's labels made it),
    /// a container row that of that container, before the image's entry; an entry for
    /// another service or container is never a row's.
    #[test]
    fn a_row_takes_its_own_entry_before_the_images() {
        use crate::check::inventory::SwarmTarget;
        use crate::swarm::service::Mode;
        let own = |container: Option<&str>, service: Option<&str>, timeout| ImageConfig {
            container_name: container.map(str::to_string),
            service_name: service.map(str::to_string),
            health_timeout_seconds: timeout,
            ..config(true)
        };
        let entries = [
            own(None, Some("other"), 5),
            own(Some("web"), None, 6),
            own(None, Some("web"), 7),
            own(None, None, 8),
        ];
        let swarm = SwarmTarget {
            id: "id-web".into(),
            mode: Mode::Replicated { replicas: 1 },
            digest: None,
        };
        // (the row is a service, entries offered) -> health timeout of the move
        let cases: &[(bool, &[usize], u64)] = &[
            (true, &[0, 1, 2, 3], 7),
            (false, &[0, 1, 2, 3], 6),
            (true, &[0, 1, 3], 8),
            (false, &[0, 2, 3], 8),
        ];
        for (is_service, offered, want) in cases {
            let mut r = row(Status::UpdateAvailable, "1.0", "2.0");
            r.service = is_service.then(|| swarm.clone());
            let configs: Vec<ImageConfig> = offered.iter().map(|i| entries[*i].clone()).collect();
            let (m, _) = plan_moves(&[r], &configs, false, false);
            assert_eq!(
                m[0].verify.map(|v| v.health_timeout.as_secs()),
                Some(*want),
                "service {is_service}, entries {offered:?}"
            );
            assert_eq!(m[0].service.is_some(), *is_service);
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

    fn compose_service(service: &str, depends_on: &[&str]) -> Service {
        Service {
            project: "shop".into(),
            service: service.into(),
            working_dir: Some("/srv/shop".into()),
            config_files: vec!["/srv/shop/compose.yaml".into()],
            env_files: Vec::new(),
            depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
            config_hash: None,
            image_label: None,
        }
    }

    /// The tag a container was created from decides what it runs after the move: the
    /// base tag stays (moved to the target) when it points at the target; a compose
    /// service never leaves its file's tag.
    #[test]
    fn containers_keep_the_base_tag_and_compose_services_their_files_tag() {
        // (tag, compose, base tag's version) -> run_as, or the skip's start
        let cases: &[(&str, bool, &str, Result<&str, &str>)] = &[
            ("latest", false, "2.0", Ok("r.io/app:latest")),
            ("latest", false, "1.5", Ok("r.io/app:2.0")),
            ("1.0", false, "2.0", Ok("r.io/app:2.0")),
            ("latest", true, "2.0", Ok("r.io/app:latest")),
            (
                "latest",
                true,
                "1.5",
                Err("the compose file tracks :latest (1.5)"),
            ),
            (
                "1.0",
                true,
                "2.0",
                Err("pinned to 1.0 by compose file /srv/shop/compose.yaml"),
            ),
        ];
        for (tag, compose, base_version, want) in cases {
            let mut r = row(Status::UpdateAvailable, "1.0", "2.0");
            r.tag = Some(tag.to_string());
            r.base_tag_version = Some(base_version.to_string());
            r.compose = compose.then(|| compose_service("app", &[]));
            let (m, s) = plan_moves(&[r], &[config(true)], false, false);
            match want {
                Ok(run_as) => {
                    assert_eq!(m.len(), 1, "{tag} {compose}: {s:?}");
                    assert_eq!(m[0].run_as, *run_as, "{tag} {compose}");
                    assert_eq!(m[0].compose.is_some(), *compose);
                }
                Err(reason) => {
                    assert!(m.is_empty(), "{tag} {compose}");
                    assert!(
                        s[0].reason.starts_with(reason),
                        "{tag} {compose}: {}",
                        s[0].reason
                    );
                }
            }
        }
    }

    /// A service its file pins to a version moves to the newest version tag when the
    /// file can be edited; otherwise the row is skipped with the reason the check found.
    #[test]
    fn pinned_compose_services_move_only_when_their_file_can_be_edited() {
        use crate::check::Pinned;
        let pinned = |writes: Option<&str>, problem: Option<&str>| Pinned {
            file: "/srv/shop/compose.yaml".into(),
            writes: writes.map(str::to_string),
            edits: writes.map(|_| "/srv/shop/compose.yaml".into()),
            diff: None,
            problem: problem.map(str::to_string),
        };
        let cases: &[(&str, Pinned, Result<&str, &str>)] = &[
            ("1.0", pinned(Some("2.0"), None), Ok("r.io/app:2.0")),
            (
                "1.0",
                pinned(
                    None,
                    Some("pinned by compose file /x (not readable): skipped"),
                ),
                Err("pinned by compose file /x (not readable): skipped"),
            ),
            (
                "stable",
                pinned(Some("2.0"), None),
                Err("pinned to stable by compose file /srv/shop/compose.yaml: not a version tag"),
            ),
        ];
        for (tag, pin, want) in cases {
            let mut r = row(Status::UpdateAvailable, "1.0", "2.0");
            r.tag = Some(tag.to_string());
            r.compose = Some(compose_service("app", &[]));
            r.pinned = Some(pin.clone());
            let (m, s) = plan_moves(&[r], &[config(true)], false, false);
            match want {
                Ok(run_as) => {
                    assert_eq!(m.len(), 1, "{tag}: {s:?}");
                    assert_eq!(m[0].run_as, *run_as);
                    assert_eq!(m[0].tags, vec![run_as.to_string()], "the base tag stays");
                }
                Err(reason) => {
                    assert!(m.is_empty(), "{tag}");
                    assert!(s[0].reason.starts_with(reason), "{tag}: {}", s[0].reason);
                }
            }
        }
    }

    /// Dependencies first within a project; a failed one stops its dependents, directly
    /// or through another dependent.
    #[test]
    fn compose_dependencies_go_first_and_stop_their_dependents() {
        let mv = |container: &str, compose: Option<Service>| {
            let mut r = row(Status::UpdateAvailable, "1.0", "2.0");
            r.container = Some(container.into());
            r.tag = Some("latest".into());
            r.compose = compose;
            plan_moves(&[r], &[config(true)], false, false).0.remove(0)
        };
        let web = mv("shop-web-1", Some(compose_service("web", &["api"])));
        let api = mv("shop-api-1", Some(compose_service("api", &["db"])));
        let db = mv("shop-db-1", Some(compose_service("db", &[])));
        let plain = mv("other", None);
        let ordered = dependencies_first(vec![web.clone(), plain.clone(), api.clone(), db.clone()]);
        let names: Vec<&str> = ordered.iter().map(|m| m.container.as_str()).collect();
        assert_eq!(names, ["other", "shop-db-1", "shop-api-1", "shop-web-1"]);
        // Another project's db is not this one's.
        let mut elsewhere = db.clone();
        elsewhere.compose.as_mut().unwrap().project = "blog".into();
        assert_eq!(failed_dependency(&api, &[&elsewhere]), None);
        assert_eq!(failed_dependency(&api, &[&db]), Some("db"));
        // api was stopped because db failed: web waits too.
        assert_eq!(failed_dependency(&web, &[&db, &api]), Some("api"));
        assert_eq!(failed_dependency(&plain, &[&db, &api]), None);
        // A cycle keeps its order rather than losing a move.
        let a = mv("a", Some(compose_service("a", &["b"])));
        let b = mv("b", Some(compose_service("b", &["a"])));
        assert_eq!(dependencies_first(vec![a, b]).len(), 2);
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
            tag: None,
            compose: None,
            pinned: None,
            release_notes: None,
            service: None,
            hold: crate::check::Hold::default(),
            signature: None,
        };
        let config = crate::config::ImageConfig {
            image: "reg.lan/app".into(),
            regex: None,
            base_tag: "latest".into(),
            auto_update: true,
            container_name: None,
            service_name: None,
            cleanup_old_images: false,
            keep_versions: 1,
            registry: None,
            grace_seconds: 1,
            health_timeout_seconds: 1,
            min_age_days: 0,
            except: Vec::new(),
            except_services: Vec::new(),
            release_notes: None,
            origin: Default::default(),
            cosign_key: None,
            hooks: Default::default(),
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
    fn with_a_cosign_key_only_a_verified_candidate_moves() {
        use crate::policy::signature::Signature;
        let verified = Signature {
            verified: true,
            layout: None,
            reason: None,
            ..Signature::blocked("sha256:new", "")
        };
        let cases: Vec<(Option<Signature>, Option<&str>)> = vec![
            (Some(verified.clone()), None),
            (
                Some(Signature::blocked(
                    "sha256:new",
                    "no cosign signature found",
                )),
                Some("blocked: no cosign signature found"),
            ),
            // Verified, but another digest than the one the move would pull.
            (
                Some(Signature {
                    digest: "sha256:other".into(),
                    ..verified
                }),
                Some("blocked: the signature checked was over sha256:other, not sha256:new"),
            ),
            (
                None,
                Some("blocked: the signature of sha256:new was not checked"),
            ),
        ];
        let config = ImageConfig {
            cosign_key: Some("/k.pub".into()),
            ..config(true)
        };
        for (signature, want) in cases {
            let row = ImageReport {
                signature: signature.clone(),
                ..row(Status::UpdateAvailable, "1.0", "2.0")
            };
            let (moves, skips) = plan_moves(&[row], std::slice::from_ref(&config), false, false);
            let reasons: Vec<&str> = skips.iter().map(|s| s.reason.as_str()).collect();
            match want {
                None => assert_eq!((moves.len(), reasons), (1, vec![]), "{signature:?}"),
                Some(w) => assert_eq!((moves.len(), reasons), (0, vec![w]), "{signature:?}"),
            }
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
                tag: None,
                compose: None,
                pinned: None,
                release_notes: None,
                service: None,
                hold: crate::check::Hold::default(),
                signature: None,
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
            service_name: None,
            cleanup_old_images: false,
            keep_versions: 1,
            registry: None,
            grace_seconds: 1,
            health_timeout_seconds: 1,
            min_age_days: 0,
            except: Vec::new(),
            except_services: Vec::new(),
            release_notes: None,
            origin: Default::default(),
            cosign_key: None,
            hooks: Default::default(),
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
