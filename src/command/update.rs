//! `dum update [TARGETS]`: applies the updates a check finds, one transaction per
//! container, with history after each.

use std::path::Path;
use std::time::Instant;

use anyhow::anyhow;

use crate::check::{self, ImageReport, Status, effective, inventory, record};
use crate::command::context::Context;
use crate::command::metrics;
use crate::command::outcome::{Failure, Outcome};
use crate::command::targets;
use crate::docker::EngineRead;
use crate::image::reference::Reference;
use crate::notify;
use crate::output::{self, Delivery, UpdateDocument};
use crate::store::history::ResultKind;
use crate::update::cleanup::{self, CleanupReport};
use crate::update::{self, Applied, Move, Skip, selfcontainer};

/// Runs `dum update [TARGETS] [--allow-downgrade]`.
pub fn run(
    ctx: &Context,
    targets: &[String],
    allow_downgrade: bool,
    force: bool,
    metrics_file: Option<&Path>,
) -> Result<Outcome, Failure> {
    let started = Instant::now();
    let settings = &ctx.settings;
    let config = ctx.config()?.ok_or_else(|| {
        Failure::usage(anyhow!(
            "dum update needs a configuration file ({} does not exist); `dum check` shows what to put in it",
            settings.config.path().display()
        ))
    })?;
    let metrics_file = metrics::file(metrics_file, Some(&config), settings.dry_run);
    if allow_downgrade && targets.is_empty() {
        return Err(Failure::usage(anyhow!(
            "--allow-downgrade needs explicit targets"
        )));
    }
    let engine = ctx.engine()?;
    let mut store = ctx.converged_store(&engine)?;
    let explicit = !targets.is_empty();
    // Rows showing an image ID (the tag has moved) get their reference back once, for
    // the labels, the selection and the check alike.
    let containers =
        inventory::with_references(&engine, &engine.containers().map_err(Failure::runtime)?);
    for target in targets {
        let owner = containers
            .iter()
            .find(|c| c.name() == target.as_str())
            .and_then(|c| c.labels.as_ref())
            .and_then(inventory::orchestrator);
        if let Some(owner) = owner {
            return Err(Failure::usage(anyhow!(
                "{target} belongs to {owner}: dum never recreates a container an orchestrator owns (the orchestrator would replace it and this one would run orphaned); update the service instead"
            )));
        }
    }
    // On a swarm manager the services' spec labels count as the containers' do.
    let services = inventory::swarm_services(&engine);
    let effective = effective::effective(Some(&config.images), &containers, &services);
    let (label_rows, rest) = effective.failed_for(targets).map_err(Failure::usage)?;
    let images = match (explicit, rest.is_empty()) {
        (false, _) => effective
            .entries
            .into_iter()
            .filter(|i| i.auto_update)
            .collect(),
        (true, true) => Vec::new(),
        (true, false) => targets::select(effective.entries, &rest, &containers, &services)?,
    };
    let registry = ctx.registry(&config.insecure_registries);
    let rows = check::check_all(
        &engine,
        &registry,
        Some(&containers),
        &images,
        check::Resolution::Probe,
        &record::known(store.state()),
        settings.jobs,
    )
    .map_err(Failure::runtime)?;
    let rows: Vec<ImageReport> = label_rows.into_iter().chain(rows).collect();
    let (moves, skips) = update::plan_moves(&rows, &images, explicit, allow_downgrade);
    let paused: Vec<&str> = containers
        .iter()
        .filter(|c| c.state == "paused")
        .map(|c| c.name())
        .collect();
    let (moves, mut skips) = update::hold_paused(moves, skips, &paused, explicit);
    let moves = update::plan::dependencies_first(moves);
    for skip in &skips {
        log::warn!("{}: {}", skip.container, skip.reason);
    }
    if settings.dry_run {
        let report = Report {
            dry_run: true,
            rows: &rows,
            moves: &moves,
            applied: &[],
            skips: &skips,
            cleanup: &[],
            notifications: &[],
        };
        print(ctx, &report)?;
        return Ok(if blocked(&skips) {
            Outcome::Failed
        } else if moves.is_empty() {
            without_moves(&rows)
        } else {
            Outcome::UpdatesAvailable
        });
    }
    let own_id = selfcontainer::own_container_id();
    let composer = update::Composer::new(force);
    let mut applied: Vec<Applied> = Vec::new();
    // Compose services whose update did not go through: their dependents wait.
    let mut stopped: Vec<&Move> = Vec::new();
    for mv in &moves {
        if let Some(failed) = update::plan::failed_dependency(mv, &stopped) {
            stopped.push(mv);
            let skip = Skip {
                container: mv.container.clone(),
                reason: format!("not updated: the update of {failed}, which it depends on, failed"),
            };
            log::warn!("{}: {}", skip.container, skip.reason);
            skips.push(skip);
            continue;
        }
        let auth = Reference::parse(&mv.pull)
            .ok()
            .and_then(|r| match registry.engine_auth(&r) {
                Ok(a) => a,
                Err(e) => {
                    log::warn!("{}: no credentials for the pull: {e:#}", mv.container);
                    None
                }
            });
        let (result, entries) = update::apply(
            &engine,
            &mut store,
            mv,
            auth.as_deref(),
            own_id.as_deref(),
            &composer,
        );
        // History after each container, so a later crash loses nothing already done.
        store.append_history(&entries).map_err(Failure::runtime)?;
        if result.result != ResultKind::Updated {
            stopped.push(mv);
        }
        match hook_skip(&result) {
            Some(skip) => skips.push(skip),
            None => applied.push(result),
        }
    }
    let cleanup = cleanup::after(&engine, &images, &applied);
    let rows = update::after_moves(rows, &applied);
    let failed = applied.iter().any(|a| a.result != ResultKind::Updated)
        || rows.iter().any(|r| r.status == Status::Failed)
        || blocked(&skips);
    record::remember(store.state_mut(), &rows);
    if metrics_file.is_some() {
        let results = applied
            .iter()
            .filter_map(|a| metrics::result(a.result))
            .chain(skips.iter().filter(|s| is_blocked(s)).map(|_| "blocked"))
            .collect();
        let run = metrics::Finished {
            command: "update",
            complete: false,
            started,
            success: !failed,
            rows: &rows,
            results,
        };
        metrics::record(&mut store, &run);
    }
    store.save().map_err(Failure::runtime)?;
    let mut report = Report {
        dry_run: false,
        rows: &rows,
        moves: &moves,
        applied: &applied,
        skips: &skips,
        cleanup: &cleanup,
        notifications: &[],
    };
    let notifications = notify::after_run(
        &config.notify,
        &mut store,
        false,
        &rows,
        &applied,
        &report.document(),
    );
    report.notifications = &notifications;
    print(ctx, &report)?;
    if let Some(path) = &metrics_file {
        metrics::write(path, &store);
    }
    Ok(if failed {
        Outcome::Failed
    } else if !applied.is_empty() {
        Outcome::Updated
    } else {
        Outcome::Clean
    })
}

/// A move its `pre_update` hook skipped (exit 75), as a row of the report's `skipped`:
/// not an update attempted, not a failure.
pub fn hook_skip(applied: &Applied) -> Option<Skip> {
    (applied.result == ResultKind::Skipped).then(|| Skip {
        container: applied.mv.container.clone(),
        reason: applied
            .error
            .clone()
            .unwrap_or_else(|| update::SKIPPED_BY_HOOK.into()),
    })
}

/// Whether a policy blocked an update (an unverified signature): the run failed at
/// what it was asked to do, though nothing was touched.
fn blocked(skips: &[Skip]) -> bool {
    skips.iter().any(is_blocked)
}

/// Whether a policy refused this update.
fn is_blocked(skip: &Skip) -> bool {
    skip.reason.starts_with(update::plan::BLOCKED)
}

/// Without moves: failures still count; pending updates that were not applied (not
/// auto_update, downgrades) are not this command's business.
fn without_moves(rows: &[ImageReport]) -> Outcome {
    if rows.iter().any(|r| r.status == Status::Failed) {
        Outcome::Failed
    } else {
        Outcome::Clean
    }
}

/// What an update (or rollback) run has to report.
pub struct Report<'a> {
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// The check rows.
    pub rows: &'a [ImageReport],
    /// The moves decided.
    pub moves: &'a [Move],
    /// What happened to each.
    pub applied: &'a [Applied],
    /// Rows not turned into moves.
    pub skips: &'a [Skip],
    /// Old images removed.
    pub cleanup: &'a [CleanupReport],
    /// Notifications sent.
    pub notifications: &'a [Delivery],
}

impl<'a> Report<'a> {
    /// The `--format json` document.
    pub fn document(&self) -> UpdateDocument<'a> {
        UpdateDocument {
            schema_version: output::JSON_SCHEMA_VERSION,
            dum_version: env!("CARGO_PKG_VERSION"),
            command: "update",
            dry_run: self.dry_run,
            updates: self.applied,
            planned: self.moves,
            skipped: self.skips,
            images: self.rows,
            cleanup: self.cleanup,
            notifications: self.notifications,
        }
    }
}

/// Prints the report as the run's format asks.
pub fn print(ctx: &Context, report: &Report) -> Result<(), Failure> {
    if ctx.json() {
        return output::print_json(&report.document()).map_err(Failure::runtime);
    }
    output::print(&output::update_text(&report.document()));
    Ok(())
}
