//! `dum update` and `dum rollback`: move a container to another version of its image
//! without ever leaving the user without a working container.
//!
//! [`plan`] decides the moves; [`apply`] pulls by digest and tags, computes the create
//! spec ([`spec`]) and runs the [`transaction`] (journal, rename the old container,
//! create the new one, stop the old, start and [`verify`] the new, then remove the
//! backup or put the old one back); [`dependents`] follow a replaced network
//! namespace; [`recovery`] converges what a killed run left in the journal.

pub mod cleanup;
pub mod compose;
pub mod dependents;
pub mod hook;
pub mod plan;
pub mod recovery;
pub mod selfcontainer;
pub mod service;
pub mod spec;
pub mod transaction;
#[cfg(test)]
mod transaction_tests;
pub mod verify;

use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;

use crate::check::{ImageReport, Status};
use crate::config::hooks::Phase;
use crate::docker::Engine;
use crate::docker::types::{ContainerInspect, CreatePlan};
use crate::fault;
use crate::store::Store;
use crate::store::history::{Entry, HookRun, ResultKind};
use crate::store::state;

pub use self::compose::Composer;
pub use self::dependents::settle;
pub use self::plan::{Move, Skip, hold_paused, plan_moves};
pub use self::transaction::{Halt, SKIPPED_BY_HOOK, Undo, recreate};

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

pub(crate) fn split_tag(reference: &str) -> (&str, &str) {
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[slash..].rfind(':') {
        Some(i) => (&reference[..slash + i], &reference[slash + i + 1..]),
        None => (reference, "latest"),
    }
}

/// The history entry of a finished attempt.
pub fn entry(mv: &Move, started: Instant, result: ResultKind, reason: Option<String>) -> Entry {
    Entry {
        time: state::now_rfc3339(),
        kind: mv.kind.clone(),
        container: mv.container.clone(),
        image: mv.image.clone(),
        change: mv.change.clone(),
        result,
        reason,
        duration_ms: started.elapsed().as_millis() as u64,
        hooks: Vec::new(),
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
    /// Containers recreated because they share its network namespace (or, for a
    /// compose service, any of its namespaces or its volumes).
    pub dependents: Vec<String>,
    /// How it was applied, when that is worth saying (a compose service recreated
    /// through the Engine API, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// `compose` when compose recreated the container, `swarm` when Swarm rolled a
    /// service out, `api` otherwise.
    pub via: &'static str,
    /// The lifecycle hooks that ran, in order (output truncated).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<HookRun>,
}

/// Applies one move: pull, plan, transaction, dependents. Never panics on engine data;
/// every failure is in the returned record. A compose service is recreated by compose
/// when it can be ([`compose`]).
pub fn apply(
    engine: &dyn Engine,
    store: &mut Store,
    mv: &Move,
    auth: Option<&str>,
    own_id: Option<&str>,
    composer: &Composer,
) -> (Applied, Vec<Entry>) {
    let started = Instant::now();
    let mut applied = Applied {
        mv: mv.clone(),
        result: ResultKind::Failed,
        error: None,
        dependents: Vec::new(),
        note: None,
        via: "api",
        hooks: Vec::new(),
    };
    let mut entries = Vec::new();
    if mv.service.is_some() {
        applied.via = "swarm";
        if let Err(halt) = transaction::pre_update(engine, store, mv, None, &mut applied.hooks) {
            return halted(applied, halt, started);
        }
        let (result, outcome) = service::apply(engine, store, mv, auth);
        applied.note = outcome.note;
        match result {
            Ok(()) => applied.result = ResultKind::Updated,
            Err(undo) => {
                applied.result = undo.result();
                applied.error = Some(undo.message_for("the service"));
            }
        }
        not_run_post_update(&mut applied, "Swarm rolled the service out");
        if applied.result == ResultKind::RolledBack {
            post_rollback(engine, mv, None, &mut applied.hooks);
        }
        let mut done = entry(mv, started, applied.result, applied.error.clone());
        done.hooks = applied.hooks.clone();
        entries.push(done);
        return (applied, entries);
    }
    let old = engine
        .inspect_container(&mv.container)
        .and_then(|o| o.ok_or_else(|| anyhow!("container {} does not exist", mv.container)))
        .and_then(|old| {
            if own_id.is_some_and(|id| id == old.id) {
                bail!(
                    "dum runs inside {}: it will not recreate its own container (update it from the host or another container)",
                    mv.container
                );
            }
            Ok(old)
        });
    if let Ok(old) = &old
        && let Err(halt) = transaction::pre_update(engine, store, mv, Some(old), &mut applied.hooks)
    {
        return halted(applied, halt, started);
    }
    let route = match &old {
        Ok(old) => compose::route(composer, old),
        Err(_) => compose::Route::Plain,
    };
    let outcome = match (old, route) {
        (Err(e), _) => Err(Undo::Untouched(e)),
        (Ok(old), compose::Route::Compose(service)) => {
            applied.via = "compose";
            compose::apply(
                engine,
                store,
                mv,
                auth,
                &old,
                &service,
                composer,
                &mut applied.hooks,
            )
            .map(|(id, followers)| {
                applied.dependents = followers;
                id
            })
        }
        (Ok(old), route) => {
            let compose_api = match route {
                compose::Route::Api(why) => {
                    applied.note = Some(compose::api_note(&why));
                    true
                }
                _ => false,
            };
            let mut label_warning = None;
            let prepared = (|| -> Result<(CreatePlan, CreatePlan)> {
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
                let mut plan = spec::plan(&old.raw, &old_image.raw, &mv.run_as, engine.api())?;
                if compose_api {
                    // With their manifests: newer compose labels with a platform
                    // manifest's digest.
                    let listed = |name: &str| {
                        engine.inspect_image_manifests(name).and_then(|i| {
                            i.ok_or_else(|| anyhow!("the image {name} is not in the engine"))
                        })
                    };
                    let old_image = listed(&old.image_id)?;
                    let new_image = listed(&mv.pull)?;
                    let old_label = old
                        .config
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(crate::compose::service::IMAGE));
                    let (value, warning) =
                        compose::image_label(old_label.map(String::as_str), &old_image, &new_image);
                    compose::relabel(&mut plan, &value);
                    label_warning = warning;
                }
                let restore_plan = restore_plan(engine, &old, &old_image.raw)?;
                Ok((plan, restore_plan))
            })();
            if let Some(w) = label_warning {
                applied.note = Some(match applied.note.take() {
                    Some(n) => format!("{n}; {w}"),
                    None => w,
                });
            }
            prepared
                .map_err(Undo::Untouched)
                .and_then(|(plan, restore_plan)| {
                    recreate(
                        engine,
                        store,
                        &old,
                        &plan,
                        Some(restore_plan),
                        mv,
                        &mut applied.hooks,
                    )
                })
        }
    };
    // Updated or rolled back, the transaction is journaled until its dependents
    // followed; a stuck one stays for the next run, which brings them along. Compose
    // transactions are cleared by compose::apply.
    let (done, errors) = match &outcome {
        Ok(_) | Err(Undo::RolledBack(_)) if applied.via == "api" => {
            settle(engine, store, &mv.container, mv.verify)
        }
        _ => (Vec::new(), Vec::new()),
    };
    if applied.via == "api" {
        applied.dependents = done;
    }
    if matches!(outcome, Err(Undo::RolledBack(_))) {
        post_rollback(engine, mv, Some(&mv.container), &mut applied.hooks);
    }
    match outcome {
        Ok(_) => {
            applied.result = ResultKind::Updated;
            entries.push(entry(mv, started, ResultKind::Updated, None));
            if !errors.is_empty() {
                applied.error = Some(errors.join("; "));
                applied.result = ResultKind::Failed;
            }
        }
        Err(undo) => {
            applied.result = undo.result();
            let mut message = undo.message();
            for e in &errors {
                message = format!("{message}; {e}");
            }
            applied.error = Some(message);
            entries.push(entry(mv, started, applied.result, applied.error.clone()));
        }
    }
    for e in &mut entries {
        e.hooks = applied.hooks.clone();
    }
    (applied, entries)
}

/// The record of a move its `pre_update` hook stopped: skipped (not a failure) or
/// vetoed.
fn halted(mut applied: Applied, halt: Halt, started: Instant) -> (Applied, Vec<Entry>) {
    let (result, reason) = match halt {
        Halt::Skip(reason) => (ResultKind::Skipped, reason),
        Halt::Veto(reason) => (ResultKind::Failed, reason),
    };
    applied.result = result;
    applied.error = Some(reason);
    let mut done = entry(&applied.mv, started, result, applied.error.clone());
    done.hooks = applied.hooks.clone();
    (applied, vec![done])
}

/// Says that a configured `post_update` hook did not run: Swarm verifies and finishes
/// its own rollout, with no point at which dum could veto it.
fn not_run_post_update(applied: &mut Applied, why: &str) {
    if applied.mv.hooks.post_update.is_none() || applied.result != ResultKind::Updated {
        return;
    }
    let note = format!("post_update hook not run: {why}");
    log::warn!("{}: {note}", applied.mv.container);
    applied.note = Some(match applied.note.take() {
        Some(n) => format!("{n}; {note}"),
        None => note,
    });
}

/// Runs the move's `post_rollback` hook, if any, in the restored container (`None`: a
/// Swarm service) or on the host; informational.
fn post_rollback(
    engine: &dyn Engine,
    mv: &Move,
    container: Option<&str>,
    hooks: &mut Vec<HookRun>,
) {
    if let Some(hook) = &mv.hooks.post_rollback {
        hooks.push(hook::run(engine, hook, Phase::PostRollback, mv, container));
    }
}

/// Rows after the updates: what now runs.
pub fn after_moves(mut rows: Vec<ImageReport>, applied: &[Applied]) -> Vec<ImageReport> {
    for row in &mut rows {
        let done = applied.iter().any(|a| {
            a.result == ResultKind::Updated && Some(&a.mv.container) == row.container.as_ref()
        });
        if done {
            let (version, digest) = row.target();
            let (version, digest) = (version.map(str::to_string), digest.map(str::to_string));
            // On a policy's target, the newest version is still held.
            let held = row.hold.target_version.is_some();
            row.current_version = version;
            row.current_digest = digest;
            row.hold.target_version = None;
            row.hold.target_digest = None;
            row.status = if held { Status::Held } else { Status::UpToDate };
        }
    }
    rows
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
