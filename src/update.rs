//! `dum update` and `dum rollback`: move a container to another version of its image
//! without ever leaving the user without a working container.
//!
//! The transaction: pull by digest and tag; compute the new create spec; journal; stop
//! the old container and rename it to a backup name; create the new one under the
//! original name, connect its networks, start it; verify it. Success removes the
//! backup; failure removes the new one and puts the old one back, running.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;

use crate::check::{ImageReport, Status};
use crate::config::ImageConfig;
use crate::docker::types::ContainerInspect;
use crate::docker::{Engine, ExitWatch};
use crate::fault;
use crate::history::{Entry, ResultKind};
use crate::journal::{self, Step, Transaction};
use crate::select::{self, Direction};
use crate::spec::{self, CreatePlan};
use crate::state;
use crate::verify::{self, Verify};

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
    /// Version before / after.
    pub from_version: Option<String>,
    /// Version after.
    pub to_version: Option<String>,
    /// Digest before.
    pub from_digest: Option<String>,
    /// Digest after.
    pub to_digest: String,
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
        let Some(config) = configs.iter().find(|c| {
            c.image == row.image
                && (c.container_name.is_none() || c.container_name == row.container)
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
            from_version: row.current_version.clone(),
            to_version: row.latest_version.clone(),
            from_digest: row.current_digest.clone(),
            to_digest: to_digest.clone(),
            verify: Some(Verify {
                grace: Duration::from_secs(config.grace_seconds),
                health_timeout: Duration::from_secs(config.health_timeout_seconds),
            }),
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

/// The container name the backup carries during the transaction.
pub fn backup_name(container: &str) -> String {
    format!("{container}-dum-backup")
}

/// Pull progress on stderr when it is a terminal; silence otherwise (cron mails).
fn progress_printer() -> impl FnMut(&str) {
    use std::io::IsTerminal;
    let tty = std::io::stderr().is_terminal();
    move |line: &str| {
        if tty {
            eprint!("\r\x1b[2K{line}");
        } else {
            log::debug!("pull: {line}");
        }
    }
}

/// Pulls and tags the move's image. A failure here leaves every container untouched.
pub fn pull(engine: &dyn Engine, mv: &Move, auth: Option<&str>) -> Result<()> {
    let (name, digest) = mv
        .pull
        .split_once('@')
        .ok_or_else(|| anyhow!("bad pull reference {}", mv.pull))?;
    // Already here by digest (a rollback to a kept version): no registry needed.
    if engine.inspect_image(&mv.pull)?.is_none() {
        let mut printer = progress_printer();
        engine.pull(name, digest, auth, &mut printer)?;
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            eprintln!();
        }
    }
    for tag in &mv.tags {
        let (repo, t) = split_tag(tag);
        engine
            .tag(&mv.pull, repo, t)
            .with_context(|| format!("cannot tag {} as {tag}", mv.pull))?;
    }
    Ok(())
}

fn split_tag(reference: &str) -> (&str, &str) {
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[slash..].rfind(':') {
        Some(i) => (&reference[..slash + i], &reference[slash + i + 1..]),
        None => (reference, "latest"),
    }
}

/// Margin on top of a container's stop timeout for the engine's SIGKILL to land.
const STOP_MARGIN_MS: u64 = 5_000;

/// The engine's default stop timeout, for containers that set none.
const DEFAULT_STOP_TIMEOUT_S: u64 = 10;

/// How long the engine may take to stop `old`: its own stop timeout plus a margin.
fn stop_budget_ms(old: &ContainerInspect) -> u64 {
    let timeout = old
        .raw
        .pointer("/Config/StopTimeout")
        .and_then(serde_json::Value::as_i64)
        .and_then(|t| u64::try_from(t).ok())
        .unwrap_or(DEFAULT_STOP_TIMEOUT_S);
    timeout.saturating_mul(1000).saturating_add(STOP_MARGIN_MS)
}

/// Whether the planned container is removed by the engine as soon as it exits.
fn auto_removes(plan: &CreatePlan) -> bool {
    plan.body
        .pointer("/HostConfig/AutoRemove")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

/// Stops the old container, creates and starts the new one; returns the new ID. The
/// new container is created (and connected) while the old one still runs under its
/// backup name, so it holds the old one's volumes when the engine removes an
/// `AutoRemove` old container on its stop, and so downtime is only stop + start.
fn swap(
    engine: &dyn Engine,
    state_file: &Path,
    tx: &mut Transaction,
    old: &ContainerInspect,
    plan: &CreatePlan,
) -> Result<(String, Option<ExitWatch>)> {
    tx.step = Step::Renaming;
    journal::record(state_file, tx)?;
    engine
        .rename(&old.id, &tx.backup_name)
        .with_context(|| format!("cannot rename {} to {}", old.name, tx.backup_name))?;
    fault::point("renamed");
    tx.step = Step::Creating;
    journal::record(state_file, tx)?;
    let id = engine
        .create(&plan.name, &plan.body)
        .with_context(|| format!("cannot create the new container {}", plan.name))?;
    tx.new_id = Some(id.clone());
    for (network, endpoint) in &plan.extra_networks {
        engine
            .connect(network, &id, endpoint)
            .with_context(|| format!("cannot connect {} to network {network}", plan.name))?;
    }
    fault::point("created");
    tx.step = Step::Stopping;
    tx.stop_deadline_ms = Some(journal::now_ms().saturating_add(stop_budget_ms(old)));
    journal::record(state_file, tx)?;
    engine
        .stop(&old.id, None)
        .with_context(|| format!("cannot stop {}", old.name))?;
    fault::point("stopped");
    tx.step = Step::Starting;
    journal::record(state_file, tx)?;
    let mut watch = None;
    if plan.start {
        // The engine removes an AutoRemove container that exits, output and all: watch
        // it from before its start so a failure still says why.
        if auto_removes(plan) {
            let tty = plan
                .body
                .get("Tty")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false);
            match engine.watch(&id, tty, WATCH_LIMIT) {
                Ok(w) => watch = Some(w),
                Err(e) => log::debug!("{}: cannot watch the new container: {e:#}", plan.name),
            }
        }
        engine
            .start(&id)
            .with_context(|| format!("cannot start the new container {}", plan.name))?;
    }
    fault::point("started");
    Ok((id, watch))
}

/// How long a new container's output is watched at most: longer than verification
/// takes; the background reads end with the container or with dum, whichever is first.
const WATCH_LIMIT: Duration = Duration::from_secs(3600);

/// How a transaction failed.
#[derive(Debug)]
pub enum Undo {
    /// The old container runs again, as before; true when it was started again (its
    /// dependents must rejoin its new network namespace).
    RolledBack(anyhow::Error, bool),
    /// Nothing was changed (the failure came before the old container was touched).
    Untouched(anyhow::Error),
    /// Restoring failed too; the journal keeps the transaction for the next run.
    Stuck(anyhow::Error),
}

impl Undo {
    fn result(&self) -> ResultKind {
        match self {
            Undo::RolledBack(..) => ResultKind::RolledBack,
            Undo::Untouched(_) | Undo::Stuck(_) => ResultKind::Failed,
        }
    }

    fn message(&self) -> String {
        match self {
            Undo::RolledBack(e, _) => format!("{e:#}; rolled back to the old container"),
            Undo::Untouched(e) => format!("{e:#}"),
            Undo::Stuck(e) => format!("{e:#}"),
        }
    }
}

/// Runs the whole transaction for one container whose new image is present locally.
/// `restore_plan` creates the old container again on its own image, should the engine
/// remove it (`AutoRemove`). Returns the new container's ID.
pub fn recreate(
    engine: &dyn Engine,
    state_file: &Path,
    old: &ContainerInspect,
    plan: &CreatePlan,
    restore_plan: Option<CreatePlan>,
    mv: &Move,
    verify_with: Option<Verify>,
) -> Result<String, Undo> {
    let mut tx = Transaction {
        kind: mv.kind.clone(),
        container: old.name.clone(),
        image: mv.image.clone(),
        old_id: old.id.clone(),
        backup_name: backup_name(&old.name),
        new_id: None,
        was_running: old.state.running,
        step: Step::Renaming,
        from_version: mv.from_version.clone(),
        to_version: mv.to_version.clone(),
        from_digest: mv.from_digest.clone(),
        to_digest: Some(mv.to_digest.clone()),
        started_ms: journal::now_ms(),
        was_paused: old.state.paused,
        restore_plan,
        stop_deadline_ms: None,
    };
    match engine.inspect_container(&tx.backup_name) {
        Ok(None) => {}
        Ok(Some(_)) => {
            return Err(Undo::Untouched(anyhow!(
                "a container named {} already exists: remove or rename it first",
                tx.backup_name
            )));
        }
        Err(e) => return Err(Undo::Untouched(e)),
    }
    journal::record(state_file, &tx).map_err(Undo::Untouched)?;
    fault::point("journaled");
    let attempt = (|| -> Result<String> {
        let (id, watch) = swap(engine, state_file, &mut tx, old, plan)?;
        tx.step = Step::Verifying;
        journal::record(state_file, &tx)?;
        if plan.start
            && let Some(v) = verify_with
        {
            verify::verify(engine, &id, v, watch.as_ref())?;
        }
        // Verified running; a container the user had paused is left paused.
        if plan.start && tx.was_paused {
            engine
                .pause(&id)
                .with_context(|| format!("cannot pause the new container {}", plan.name))?;
        }
        Ok(id)
    })();
    match attempt {
        Ok(id) => {
            tx.step = Step::Verified;
            let finish = || -> Result<()> {
                journal::record(state_file, &tx)?;
                fault::point("verified");
                journal::complete(engine, &tx)?;
                fault::point("backup-removed");
                journal::clear(state_file, &tx.container)
            };
            // The new container is verified and runs; a failure here leaves only the
            // backup behind, and the journal lets the next run remove it.
            finish()
                .map_err(|e| Undo::Stuck(e.context("the update worked but finishing it failed")))?;
            Ok(id)
        }
        Err(failure) => {
            tx.step = Step::RollingBack;
            let undo = || -> Result<bool> {
                journal::record(state_file, &tx)?;
                fault::point("rolling-back");
                let restarted = journal::restore(engine, &tx)?;
                journal::clear(state_file, &tx.container)?;
                Ok(restarted)
            };
            match undo() {
                Ok(restarted) => Err(Undo::RolledBack(failure, restarted)),
                Err(e) => Err(Undo::Stuck(anyhow!(
                    "{failure:#}; restoring the old container failed too: {e:#} (the journal keeps the transaction; the next dum run retries)"
                ))),
            }
        }
    }
}

/// The history entry of a finished attempt.
pub fn entry(mv: &Move, started: Instant, result: ResultKind, reason: Option<String>) -> Entry {
    Entry {
        time: state::now_rfc3339(),
        kind: mv.kind.clone(),
        container: mv.container.clone(),
        image: mv.image.clone(),
        from_version: mv.from_version.clone(),
        to_version: mv.to_version.clone(),
        from_digest: mv.from_digest.clone(),
        to_digest: Some(mv.to_digest.clone()),
        result,
        reason,
        duration_ms: started.elapsed().as_millis() as u64,
    }
}

/// What happened to one move.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// The move.
    #[serde(flatten)]
    pub mv: Move,
    /// `updated`, `rolled_back` or `failed`.
    pub result: ResultKind,
    /// Why, when not updated.
    pub error: Option<String>,
    /// Containers recreated because they share its network namespace.
    pub dependents: Vec<String>,
}

/// Applies one move: pull, plan, transaction, dependents. Never panics on engine data;
/// every failure is in the returned record.
pub fn apply(
    engine: &dyn Engine,
    state_file: &Path,
    mv: &Move,
    auth: Option<&str>,
    own_id: Option<&str>,
) -> (Applied, Vec<Entry>) {
    let started = Instant::now();
    let mut applied = Applied {
        mv: mv.clone(),
        result: ResultKind::Failed,
        error: None,
        dependents: Vec::new(),
    };
    let mut entries = Vec::new();
    let prepared = (|| -> Result<(ContainerInspect, CreatePlan, CreatePlan)> {
        let old = engine
            .inspect_container(&mv.container)?
            .ok_or_else(|| anyhow!("container {} does not exist", mv.container))?;
        if own_id.is_some_and(|id| id == old.id) {
            bail!(
                "dum runs inside {}: it will not recreate its own container (update it from the host or another container)",
                mv.container
            );
        }
        pull(engine, mv, auth)
            .with_context(|| format!("pull failed; {} is untouched", mv.container))?;
        fault::point("pulled");
        let old_image = engine.inspect_image(&old.image_id)?.ok_or_else(|| {
            anyhow!(
                "the image of {} ({}) is gone from the engine",
                mv.container,
                old.image_id
            )
        })?;
        let plan = spec::plan(&old.raw, &old_image.raw, &mv.run_as, engine.api())?;
        let restore_plan = restore_plan(engine, &old, &old_image.raw)?;
        Ok((old, plan, restore_plan))
    })();
    let outcome = prepared
        .map_err(Undo::Untouched)
        .and_then(|(old, plan, restore_plan)| {
            recreate(
                engine,
                state_file,
                &old,
                &plan,
                Some(restore_plan),
                mv,
                mv.verify,
            )
            .map(|id| (old, id))
        });
    match outcome {
        Ok((old, new_id)) => {
            applied.result = ResultKind::Updated;
            entries.push(entry(mv, started, ResultKind::Updated, None));
            let (done, errors) = follow_dependents(
                engine,
                state_file,
                &old.id,
                &old.name,
                Some(&new_id),
                mv.verify,
            );
            applied.dependents = done;
            if !errors.is_empty() {
                applied.error = Some(errors.join("; "));
                applied.result = ResultKind::Failed;
            }
        }
        Err(undo) => {
            if let (Undo::RolledBack(_, true), Ok(Some(old))) =
                (&undo, engine.inspect_container(&mv.container))
            {
                let (_, errors) =
                    follow_dependents(engine, state_file, &old.id, &old.name, None, mv.verify);
                for e in errors {
                    log::error!("{e}");
                }
            }
            applied.result = undo.result();
            applied.error = Some(undo.message());
            entries.push(entry(mv, started, applied.result, applied.error.clone()));
        }
    }
    (applied, entries)
}

/// Brings the containers that share `old_id`'s network namespace (`--network
/// container:<it>`) back onto a live one after a transaction stopped it: recreated to
/// join `new_id` when the update went through, restarted to rejoin the restored old
/// container otherwise. Returns the names handled and one line per failure.
pub fn follow_dependents(
    engine: &dyn Engine,
    state_file: &Path,
    old_id: &str,
    old_name: &str,
    new_id: Option<&str>,
    verify_with: Option<Verify>,
) -> (Vec<String>, Vec<String>) {
    let mut errors = Vec::new();
    let all: Vec<serde_json::Value> = match engine.containers() {
        Ok(list) => list
            .iter()
            .filter_map(|c| match engine.inspect_container(&c.id) {
                Ok(found) => found.map(|c| c.raw),
                // A container this cannot see might be a dependent left behind.
                Err(e) => {
                    errors.push(format!(
                        "cannot tell whether {} depends on {old_name}: {e:#}",
                        c.name()
                    ));
                    None
                }
            })
            .collect(),
        Err(e) => {
            return (
                Vec::new(),
                vec![format!("cannot list the dependents of {old_name}: {e:#}")],
            );
        }
    };
    let mut done = Vec::new();
    for name in spec::dependents(old_id, old_name, &all) {
        let result = match new_id {
            Some(target) => {
                follow(engine, state_file, &name, target, verify_with).map_err(|u| u.message())
            }
            None => engine
                .stop(&name, None)
                .and_then(|()| engine.start(&name))
                .map_err(|e| format!("{e:#}")),
        };
        match result {
            Ok(()) => done.push(name),
            Err(e) => errors.push(format!("dependent {name}: {e}")),
        }
    }
    (done, errors)
}

/// Recreates a container that shares `target`'s network namespace so it joins the
/// new container's namespace; same preservation rules, same transaction.
fn follow(
    engine: &dyn Engine,
    state_file: &Path,
    name: &str,
    target_id: &str,
    verify_with: Option<Verify>,
) -> Result<(), Undo> {
    let prepared = || -> Result<(ContainerInspect, String, CreatePlan)> {
        let old = engine
            .inspect_container(name)?
            .ok_or_else(|| anyhow!("container {name} disappeared"))?;
        let image = engine
            .inspect_image(&old.image_id)?
            .ok_or_else(|| anyhow!("the image of {name} is gone"))?;
        let run_as = if old.config.image.is_empty() {
            old.image_id.clone()
        } else {
            old.config.image.clone()
        };
        let plan = spec::plan(&old.raw, &image.raw, &run_as, engine.api())?;
        Ok((old, run_as, plan))
    };
    let (old, run_as, mut plan) = prepared().map_err(Undo::Untouched)?;
    let restore_plan = plan.clone();
    spec::retarget_network(&mut plan, target_id);
    let mv = Move {
        kind: "dependent".into(),
        container: name.to_string(),
        image: run_as.clone(),
        pull: String::new(),
        tags: Vec::new(),
        run_as,
        from_version: None,
        to_version: None,
        from_digest: None,
        to_digest: old.image_id.clone(),
        verify: verify_with,
    };
    recreate(
        engine,
        state_file,
        &old,
        &plan,
        Some(restore_plan),
        &mv,
        mv.verify,
    )
    .map(|_| ())
}

/// The create plan that brings `old` back on its own image. The image is named as the
/// container names it when that reference still points at it (a version tag), else by
/// ID: a base tag such as `latest` was just moved to the new version.
fn restore_plan(
    engine: &dyn Engine,
    old: &ContainerInspect,
    old_image: &serde_json::Value,
) -> Result<CreatePlan> {
    let by_name = !old.config.image.is_empty()
        && engine
            .inspect_image(&old.config.image)?
            .is_some_and(|i| i.id == old.image_id);
    let image = if by_name {
        old.config.image.as_str()
    } else {
        old.image_id.as_str()
    };
    spec::plan(&old.raw, old_image, image, engine.api())
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

    #[test]
    fn tags_split_at_the_last_colon_after_the_last_slash() {
        let cases = [
            ("calibre:v1", ("calibre", "v1")),
            ("127.0.0.1:5000/a/b:1.0", ("127.0.0.1:5000/a/b", "1.0")),
            ("127.0.0.1:5000/a/b", ("127.0.0.1:5000/a/b", "latest")),
        ];
        for (input, want) in cases {
            assert_eq!(split_tag(input), want, "{input}");
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
                if let (Some(from), Some(to)) = (&mv.from_version, &mv.to_version) {
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
