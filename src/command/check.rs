//! `dum check`: what runs, what the registry offers, and whether to update.

use std::path::Path;
use std::time::Instant;

use crate::check::{self, ImageReport, Status, discover, effective, inventory, record};
use crate::command::context::Context;
use crate::command::metrics;
use crate::command::outcome::{Failure, Outcome};
use crate::command::targets;
use crate::docker::EngineRead;
use crate::notify;
use crate::output::{self, CheckDocument, Summary};
use crate::registry::Registry;

/// Runs `dum check [TARGETS]`.
pub fn run(
    ctx: &Context,
    targets: &[String],
    metrics_file: Option<&Path>,
) -> Result<Outcome, Failure> {
    let started = Instant::now();
    let settings = &ctx.settings;
    let config = ctx.config()?;
    let metrics_file = metrics::file(metrics_file, config.as_ref(), settings.dry_run);
    let engine = ctx.engine()?;
    let mut store = ctx.converged_store(&engine)?;
    // The container list comes first: containers' `dum.*` labels decide which entries
    // there are. Rows showing an image ID get their reference back once, for the
    // labels, the selection and the check alike.
    // An engine that refuses the list fails every row of a plain check (the check reads
    // the list again and says so per image); targets and discovery need it up front.
    let containers = match engine.containers() {
        Ok(list) => Some(inventory::with_references(&engine, &list)),
        Err(e) if config.is_some() && targets.is_empty() => {
            log::debug!("cannot list the containers: {e:#}");
            None
        }
        Err(e) => return Err(Failure::runtime(e)),
    };
    let listed = containers.as_deref().unwrap_or(&[]);
    let notify_targets = config
        .as_ref()
        .map(|c| c.notify.clone())
        .unwrap_or_default();
    // On a swarm manager the services' spec labels count as the containers' do.
    let services = inventory::swarm_services(&engine);
    let effective = effective::effective(config.as_ref().map(|c| &c.images[..]), listed, &services);
    let (label_rows, rest) = effective.failed_for(targets).map_err(Failure::usage)?;
    let only_failed = !targets.is_empty() && rest.is_empty();
    let (images, insecure, discovered) = match config {
        Some(c) => {
            let images = match (targets.is_empty(), only_failed) {
                (true, _) => effective.entries,
                (false, true) => Vec::new(),
                (false, false) => targets::select(effective.entries, &rest, listed, &services)?,
            };
            (images, c.insecure_registries, false)
        }
        None => {
            log::warn!(
                "no configuration at {}: checking every running container against its own tag (`dum init` writes one)",
                settings.config.path().display()
            );
            let images = if only_failed {
                Vec::new()
            } else {
                discover::select(effective.entries, &rest).map_err(Failure::usage)?
            };
            (images, Vec::new(), true)
        }
    };
    let registry = ctx.registry(&insecure);
    let mut rows = check::check_all(
        &engine,
        &registry,
        containers.as_deref(),
        &images,
        settings.resolution,
        &record::known(store.state()),
        settings.jobs,
    )
    .map_err(Failure::runtime)?;
    rows.splice(0..0, label_rows);
    let outcome = verdict(&rows);
    if !settings.dry_run {
        record::remember(store.state_mut(), &rows);
        if metrics_file.is_some() {
            let run = metrics::Finished {
                command: "check",
                complete: targets.is_empty(),
                started,
                success: outcome != Outcome::Failed,
                rows: &rows,
                results: Vec::new(),
            };
            metrics::record(&mut store, &run);
        }
        store.save().map_err(Failure::runtime)?;
    }
    log::info!(
        "checked {} image(s) in {} ms with {} registry request(s)",
        images.len(),
        started.elapsed().as_millis(),
        registry.requests()
    );
    let mut document = CheckDocument {
        schema_version: output::JSON_SCHEMA_VERSION,
        dum_version: env!("CARGO_PKG_VERSION"),
        command: "check",
        dry_run: settings.dry_run,
        discovered,
        images: &rows,
        summary: Summary::of(&rows),
        notifications: Vec::new(),
    };
    document.notifications = notify::after_run(
        &notify_targets,
        &mut store,
        settings.dry_run,
        &rows,
        &[],
        &document,
    );
    if ctx.json() {
        output::print_json(&document).map_err(Failure::runtime)?;
    } else {
        let checked = if discovered {
            output::Checked::Discovered
        } else {
            output::Checked::Configured(settings.config.path())
        };
        output::print(&output::check_table(&rows, checked));
        if discovered && !images.is_empty() {
            output::print(&format!(
                "No configuration at {}. To track these containers, run `dum init` (regexes proposed from their repositories' tags), or start from:\n{}",
                settings.config.path().display(),
                discover::suggested_config(&images)
            ));
        }
    }
    if let Some(path) = &metrics_file {
        metrics::write(path, &store);
    }
    Ok(outcome)
}

/// The outcome of a check: failures first (exit 1 even with updates pending).
fn verdict(rows: &[ImageReport]) -> Outcome {
    if rows.iter().any(|r| r.status == Status::Failed) {
        Outcome::Failed
    } else if rows.iter().any(|r| r.status == Status::UpdateAvailable) {
        Outcome::UpdatesAvailable
    } else {
        Outcome::Clean
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn row(status: Status) -> ImageReport {
        ImageReport {
            image: "a".into(),
            container: None,
            current_version: None,
            current_digest: None,
            latest_version: None,
            latest_digest: None,
            base_tag: "latest".into(),
            base_tag_version: None,
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
        }
    }

    #[test]
    fn verdicts() {
        use Status::*;
        let cases: &[(&[Status], Outcome)] = &[
            (&[], Outcome::Clean),
            (&[UpToDate, NotRunning], Outcome::Clean),
            (&[UpToDate, UpdateAvailable], Outcome::UpdatesAvailable),
            (&[UpdateAvailable, Failed], Outcome::Failed),
        ];
        for (statuses, want) in cases {
            let rows: Vec<ImageReport> = statuses.iter().cloned().map(row).collect();
            assert_eq!(verdict(&rows), *want, "{statuses:?}");
        }
    }
}
