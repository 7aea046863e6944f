//! Runs one command with its settings: the layer that wires config, lock, engine,
//! registry, the core and the reports together.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, anyhow};

use crate::check::{self, ImageReport, Status};
use crate::config::{self, Config, ImageConfig};
use crate::discover;
use crate::docker::types::ContainerSummary;
use crate::docker::{DockerClient, Engine};
use crate::history::{self, ResultKind};
use crate::inventory;
use crate::journal;
use crate::lock::{LockError, RunLock};
use crate::notify;
use crate::outcome::{Failure, FailureKind, Outcome};
use crate::reference::Reference;
use crate::registry::Registry;
use crate::registry::client::{ClientOptions, RegistryClient};
use crate::registry::credentials::DockerConfig;
use crate::report::{self, CheckDocument, Summary, TagsDocument};
use crate::settings::{Command, ConfigPath, Format, Settings};
use crate::state::{self, State};
use crate::update::{self, Applied, Move};

/// Runs the command.
pub fn run(settings: Settings) -> Result<Outcome, Failure> {
    match &settings.command {
        Command::Schema => {
            print_out(config::SCHEMA);
            Ok(Outcome::Clean)
        }
        Command::Completions { shell } => {
            print_out(&crate::cli::completions(*shell));
            Ok(Outcome::Clean)
        }
        Command::Man { dir } => man(dir.as_deref()),
        Command::Validate { path } => validate(&settings, path.as_deref()),
        Command::Tags {
            image,
            regex,
            base_tag,
        } => tags(&settings, image, regex.as_deref(), base_tag),
        Command::Check { targets } => check(&settings, targets),
        Command::Update {
            targets,
            allow_downgrade,
        } => update(&settings, targets, *allow_downgrade),
        Command::Rollback { target } => rollback(&settings, target),
        Command::History { target } => show_history(&settings, target.as_deref()),
        Command::Notify { test } => notify_command(&settings, *test),
    }
}

/// Writes to stdout; a closed pipe (`dum check | head`) is not an error worth a panic.
fn print_out(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}

/// Prints dum(1), or writes every page into `dir` (for packaging).
fn man(dir: Option<&Path>) -> Result<Outcome, Failure> {
    let pages = crate::cli::man_pages().map_err(Failure::runtime)?;
    let Some(dir) = dir else {
        if let Some((_, page)) = pages.first() {
            print_out(page);
        }
        return Ok(Outcome::Clean);
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the man page directory {}", dir.display()))
        .map_err(Failure::runtime)?;
    for (name, page) in &pages {
        let path = dir.join(name);
        std::fs::write(&path, page)
            .with_context(|| format!("cannot write the man page {}", path.display()))
            .map_err(Failure::runtime)?;
    }
    Ok(Outcome::Clean)
}

fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::runtime(anyhow!("cannot render JSON: {e}")))?;
    print_out(&text);
    Ok(())
}

fn validate(settings: &Settings, path: Option<&Path>) -> Result<Outcome, Failure> {
    let path = path.unwrap_or(settings.config.path());
    let result = config::load(path);
    if settings.format == Format::Json {
        let problems = match &result {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.clone(),
        };
        print_json(&serde_json::json!({
            "schema_version": report::JSON_SCHEMA_VERSION,
            "path": path,
            "valid": result.is_ok(),
            "images": result.as_ref().map(|c| c.images.len()).unwrap_or(0),
            "problems": problems,
        }))?;
        return match result {
            Ok(_) => Ok(Outcome::Clean),
            Err(e) => Err(Failure::usage(anyhow!(
                "{} has {} problem(s)",
                e.path.display(),
                e.problems.len()
            ))),
        };
    }
    match result {
        Ok(c) => {
            print_out(&format!(
                "{}: valid ({} images)",
                path.display(),
                c.images.len()
            ));
            Ok(Outcome::Clean)
        }
        Err(e) => Err(Failure::usage(e)),
    }
}

/// Loads the configuration; `None` when the default file does not exist.
fn load_config(settings: &Settings) -> Result<Option<Config>, Failure> {
    match &settings.config {
        ConfigPath::Default(p) if !p.exists() => Ok(None),
        other => config::load(other.path()).map(Some).map_err(Failure::usage),
    }
}

fn registry_client(insecure: &[String]) -> RegistryClient {
    let docker_config = DockerConfig::default_path(
        std::env::var_os("DOCKER_CONFIG").as_deref(),
        std::env::var_os("HOME").as_deref(),
    );
    let mut options = ClientOptions {
        insecure_registries: insecure.to_vec(),
        docker_config,
        ..ClientOptions::default()
    };
    let knob = std::env::var(REGISTRY_TIMEOUT_ENV).ok();
    match registry_timeout(knob.as_deref()) {
        Ok(Some(timeout)) => {
            options.request_timeout = timeout;
            options.connect_timeout = options.connect_timeout.min(timeout);
        }
        Ok(None) => {}
        Err(e) => log::warn!("{e}; keeping the default registry timeouts"),
    }
    RegistryClient::new(options)
}

/// Environment knob (tests, operators behind slow links): whole-request registry timeout in
/// seconds, also capping the connect timeout. Unset: 10 s connect, 30 s per request.
pub const REGISTRY_TIMEOUT_ENV: &str = "DUM_REGISTRY_TIMEOUT_SECS";

/// Parses [`REGISTRY_TIMEOUT_ENV`]: `None` when unset or empty, an error for anything but
/// whole seconds from 1 to 3600 (0 would mean "no timeout", which a cron job must never have).
fn registry_timeout(value: Option<&str>) -> anyhow::Result<Option<std::time::Duration>> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    match text.parse::<u64>() {
        Ok(secs @ 1..=3600) => Ok(Some(std::time::Duration::from_secs(secs))),
        _ => Err(anyhow!(
            "{REGISTRY_TIMEOUT_ENV}={text:?} is not a number of seconds from 1 to 3600"
        )),
    }
}

fn take_lock(settings: &Settings) -> Result<Option<RunLock>, Failure> {
    if settings.dry_run {
        // A dry run writes nothing, not even the lock file, and never blocks a real run.
        return Ok(None);
    }
    let dir = state_dir(&settings.state_file);
    match RunLock::acquire(dir, settings.wait) {
        Ok(lock) => Ok(Some(lock)),
        Err(e @ LockError::Held { .. }) => Err(Failure {
            kind: FailureKind::LockHeld,
            error: anyhow!(e),
        }),
        Err(LockError::Other(e)) => Err(Failure::runtime(e)),
    }
}

fn state_dir(state_file: &Path) -> &Path {
    match state_file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Selects the configured images the targets name: a configured image or
/// `container_name`, or the name of a container running a configured image (that entry
/// is then narrowed to the container). All when there are no targets; an unknown
/// target is a usage error.
fn select_targets(
    images: Vec<ImageConfig>,
    targets: &[String],
    containers: &[ContainerSummary],
) -> Result<Vec<ImageConfig>, Failure> {
    if targets.is_empty() {
        return Ok(images);
    }
    let name_of = |image: &str| Reference::parse(image).ok().map(|r| r.name());
    let mut chosen: Vec<ImageConfig> = Vec::new();
    let mut add = |entry: ImageConfig| {
        if !chosen
            .iter()
            .any(|c| c.image == entry.image && c.container_name == entry.container_name)
        {
            chosen.push(entry);
        }
    };
    for target in targets {
        let target_name = name_of(target);
        let by_config: Vec<&ImageConfig> = images
            .iter()
            .filter(|i| {
                i.container_name.as_deref() == Some(target.as_str())
                    || i.image == *target
                    || (target_name.is_some() && name_of(&i.image) == target_name)
            })
            .collect();
        if !by_config.is_empty() {
            by_config.into_iter().cloned().for_each(&mut add);
            continue;
        }
        let container = containers.iter().find(|c| c.name() == target.as_str());
        let entry = container.and_then(|c| {
            let image = name_of(&c.image)?;
            images
                .iter()
                .find(|i| i.container_name.is_none() && name_of(&i.image).as_ref() == Some(&image))
        });
        match entry {
            Some(e) => add(ImageConfig {
                container_name: Some(target.clone()),
                ..e.clone()
            }),
            None => {
                return Err(Failure::usage(anyhow!(
                    "{target} is neither a configured image, a configured container_name, nor a container running a configured image"
                )));
            }
        }
    }
    Ok(chosen)
}

fn check(settings: &Settings, targets: &[String]) -> Result<Outcome, Failure> {
    let started = Instant::now();
    let config = load_config(settings)?;
    let engine = DockerClient::from_env().map_err(Failure::runtime)?;
    let _lock = lock_and_converge(settings, &engine)?;
    // The container list is needed up front only to resolve targets or to discover
    // images; otherwise the check reads it while its registry requests are under way.
    // Read up front, rows showing an image ID get their reference back once, for the
    // selection and the check alike.
    let containers = match &config {
        Some(_) if targets.is_empty() => None,
        _ => Some(inventory::with_references(
            &engine,
            &engine.containers().map_err(Failure::runtime)?,
        )),
    };
    let listed = containers.as_deref().unwrap_or(&[]);
    let selected = match &config {
        Some(c) if targets.is_empty() => Some(c.images.clone()),
        Some(c) => Some(select_targets(c.images.clone(), targets, listed)?),
        None => None,
    };
    let notify_targets = config
        .as_ref()
        .map(|c| c.notify.clone())
        .unwrap_or_default();
    let (images, insecure, discovered) = match (config, selected) {
        (Some(c), Some(images)) => (images, c.insecure_registries, false),
        _ => {
            log::warn!(
                "no configuration at {}: checking every running container against its own tag (see `dum tags IMAGE` and config.example.json to write one)",
                settings.config.path().display()
            );
            let found = discover::images(listed);
            (
                discover::select(found, targets).map_err(Failure::usage)?,
                Vec::new(),
                true,
            )
        }
    };
    let registry = registry_client(&insecure);
    let rows = check::check_all(
        &engine,
        &registry,
        containers.as_deref(),
        &images,
        settings.resolution,
        &known_resolutions(&settings.state_file),
        settings.jobs,
    )
    .map_err(Failure::runtime)?;
    if !settings.dry_run {
        save_state(&settings.state_file, &rows).map_err(Failure::runtime)?;
    }
    log::info!(
        "checked {} image(s) in {} ms with {} registry request(s)",
        images.len(),
        started.elapsed().as_millis(),
        registry.requests()
    );
    let mut document = CheckDocument {
        schema_version: report::JSON_SCHEMA_VERSION,
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
        &settings.state_file,
        settings.dry_run,
        &rows,
        &[],
        &document,
    );
    if settings.format == Format::Json {
        print_json(&document)?;
    } else {
        let checked = if discovered {
            report::Checked::Discovered
        } else {
            report::Checked::Configured(settings.config.path())
        };
        print_out(&report::check_table(&rows, checked));
        if discovered && !images.is_empty() {
            print_out(&format!(
                "No configuration at {}. To track these containers, start from:\n{}",
                settings.config.path().display(),
                discover::suggested_config(&images)
            ));
        }
    }
    Ok(verdict(&rows))
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

/// Takes the run lock and converges an interrupted transaction. Targets are resolved
/// after this (a container may carry its backup name until the journal is converged),
/// so a usage error may leave the lock file behind: it holds nothing, and no state is
/// written.
fn lock_and_converge(settings: &Settings, engine: &dyn Engine) -> Result<Option<RunLock>, Failure> {
    let lock = take_lock(settings)?;
    converge(settings, engine)?;
    Ok(lock)
}

/// Finishes or undoes what an interrupted run left in the journal, before anything
/// else touches containers. A dry run only reports it.
fn converge(settings: &Settings, engine: &dyn Engine) -> Result<(), Failure> {
    if settings.dry_run {
        for tx in journal::pending(&settings.state_file).map_err(Failure::runtime)? {
            log::warn!(
                "{}: an interrupted {} is pending in the journal (a real run will converge it)",
                tx.container,
                tx.kind
            );
        }
        return Ok(());
    }
    let recovered = journal::recover(engine, &settings.state_file).map_err(Failure::runtime)?;
    for (tx, entry, restarted) in &recovered {
        // Containers sharing the network namespace of the stopped container follow
        // whichever container now runs under its name.
        let new_id = match entry.result {
            ResultKind::Recovered => tx.new_id.as_deref(),
            ResultKind::RolledBack if *restarted => None,
            _ => continue,
        };
        let verify_with = Some(crate::verify::Verify {
            grace: std::time::Duration::from_secs(2),
            health_timeout: std::time::Duration::from_secs(60),
        });
        let (_, errors) = update::follow_dependents(
            engine,
            &settings.state_file,
            &tx.old_id,
            &tx.container,
            new_id,
            verify_with,
        );
        for e in errors {
            log::error!("{e}");
        }
    }
    let entries: Vec<history::Entry> = recovered.into_iter().map(|(_, e, _)| e).collect();
    history::append(&history::path_for(&settings.state_file), &entries)
        .map_err(Failure::runtime)?;
    if entries.iter().any(|e| e.result == ResultKind::Failed) {
        return Err(Failure::runtime(anyhow!(
            "an interrupted update could not be converged; see `dum history` and the journal in {}",
            settings.state_file.display()
        )));
    }
    Ok(())
}

/// What the last check learnt about each base tag, from the state file; nothing when
/// the file cannot serve (the save at the end of the run reports why).
fn known_resolutions(state_file: &Path) -> check::Known {
    let mut known = check::Known::default();
    for entry in State::peek(state_file)
        .into_iter()
        .flat_map(|s| s.images.into_values())
    {
        if let (Some(base_tag), Some(version), Some(digest)) = (
            entry.base_tag,
            entry.base_tag_version,
            entry.base_tag_digest,
        ) {
            known.insert(&entry.image, &base_tag, check::Resolved { version, digest });
        }
    }
    known
}

fn state_key(row: &ImageReport) -> String {
    state::key(&row.image, row.container.as_deref())
}

/// Records what the check saw. A failed row keeps the previous knowledge: a registry
/// hiccup must not erase when an update was first seen.
fn save_state(path: &Path, rows: &[ImageReport]) -> anyhow::Result<()> {
    let (mut state, warning) = State::load(path)?;
    if let Some(w) = warning {
        log::warn!("{w}");
    }
    let now = state::now_rfc3339();
    for row in rows {
        let entry = state.images.entry(state_key(row)).or_default();
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
    state
        .save(path)
        .with_context(|| format!("cannot write the state file {}", path.display()))
}

fn tags(
    settings: &Settings,
    image: &str,
    regex: Option<&str>,
    base_tag: &str,
) -> Result<Outcome, Failure> {
    let reference = Reference::parse(image).map_err(Failure::usage)?;
    let compiled = match regex {
        Some(r) => Some(
            regex::Regex::new(r)
                .map_err(|e| Failure::usage(anyhow!("invalid --regex {r:?}: {e}")))?,
        ),
        None => None,
    };
    let insecure = load_config(settings)
        .ok()
        .flatten()
        .map(|c| c.insecure_registries)
        .unwrap_or_default();
    let registry = registry_client(&insecure);
    let all = registry.tags(&reference).map_err(Failure::runtime)?;
    let mut doc = TagsDocument {
        schema_version: report::JSON_SCHEMA_VERSION,
        image: image.to_string(),
        regex: regex.map(str::to_string),
        versions: Vec::new(),
        newest: None,
        base_tag: base_tag.to_string(),
        base_tag_digest: None,
        base_tag_version: None,
        proposals: Vec::new(),
        total_tags: all.len(),
    };
    match compiled {
        Some(regex) => {
            let entry = ImageConfig {
                image: image.to_string(),
                regex: Some(regex),
                base_tag: base_tag.to_string(),
                auto_update: false,
                container_name: None,
                cleanup_old_images: false,
                keep_versions: 3,
                registry: None,
                grace_seconds: 0,
                health_timeout_seconds: 1,
            };
            let remote = check::remote(
                &registry,
                &reference,
                &entry,
                check::Resolution::Probe,
                None,
            )
            .map_err(Failure::runtime)?;
            doc.newest = remote.newest().map(str::to_string);
            doc.base_tag_digest = remote.base_digest.clone();
            doc.base_tag_version = remote.base_version.clone();
            // Every version, from the list already read (a check keeps only the newest).
            if let Some(regex) = &entry.regex {
                doc.versions = crate::select::version_tags(&all, regex)
                    .into_iter()
                    .map(str::to_string)
                    .collect();
            }
        }
        None => {
            doc.proposals = crate::propose::proposals(&all, 5);
            doc.base_tag_digest = registry
                .digest(&reference, base_tag)
                .map_err(Failure::runtime)?;
        }
    }
    if settings.format == Format::Json {
        print_json(&doc)?;
    } else {
        print_out(&report::tags_text(&doc, 20));
    }
    Ok(Outcome::Clean)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn registry_timeout_knob() {
        const CASES: &[(Option<&str>, Result<Option<u64>, ()>)] = &[
            (None, Ok(None)),
            (Some(""), Ok(None)),
            (Some(" 3 "), Ok(Some(3))),
            (Some("3600"), Ok(Some(3600))),
            (Some("0"), Err(())),
            (Some("3601"), Err(())),
            (Some("2.5"), Err(())),
            (Some("-1"), Err(())),
        ];
        for (value, want) in CASES {
            let got = registry_timeout(*value)
                .map(|d| d.map(|d| d.as_secs()))
                .map_err(|_| ());
            assert_eq!(&got, want, "{value:?}");
        }
    }

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

/// The `dum update --format json` document.
#[derive(serde::Serialize)]
struct UpdateDocument<'a> {
    schema_version: u32,
    dum_version: &'static str,
    command: &'static str,
    dry_run: bool,
    /// Moves decided (the plan); with results unless dry run.
    updates: &'a [Applied],
    planned: &'a [Move],
    skipped: &'a [update::Skip],
    images: &'a [ImageReport],
    cleanup: &'a [CleanupReport],
    notifications: &'a [notify::Delivery],
}

/// Images removed for one repository.
#[derive(Debug, serde::Serialize)]
struct CleanupReport {
    image: String,
    removed: Vec<String>,
    freed_bytes: i64,
    errors: Vec<String>,
}

fn update(
    settings: &Settings,
    targets: &[String],
    allow_downgrade: bool,
) -> Result<Outcome, Failure> {
    let config = load_config(settings)?.ok_or_else(|| {
        Failure::usage(anyhow!(
            "dum update needs a configuration file ({} does not exist); `dum check` shows what to put in it",
            settings.config.path().display()
        ))
    })?;
    if allow_downgrade && targets.is_empty() {
        return Err(Failure::usage(anyhow!(
            "--allow-downgrade needs explicit targets"
        )));
    }
    let engine = DockerClient::from_env().map_err(Failure::runtime)?;
    let _lock = lock_and_converge(settings, &engine)?;
    let explicit = !targets.is_empty();
    let mut containers = engine.containers().map_err(Failure::runtime)?;
    if explicit {
        // Targets may name a container whose tag has moved: give such rows their
        // reference back once, for the selection and the check alike.
        containers = inventory::with_references(&engine, &containers);
    }
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
    let images = if explicit {
        select_targets(config.images.clone(), targets, &containers)?
    } else {
        config
            .images
            .iter()
            .filter(|i| i.auto_update)
            .cloned()
            .collect()
    };
    let registry = registry_client(&config.insecure_registries);
    let rows = check::check_all(
        &engine,
        &registry,
        Some(&containers),
        &images,
        check::Resolution::Probe,
        &known_resolutions(&settings.state_file),
        settings.jobs,
    )
    .map_err(Failure::runtime)?;
    let (moves, skips) = update::plan_moves(&rows, &images, explicit, allow_downgrade);
    let paused: Vec<&str> = containers
        .iter()
        .filter(|c| c.state == "paused")
        .map(|c| c.name())
        .collect();
    let (moves, skips) = update::hold_paused(moves, skips, &paused, explicit);
    for skip in &skips {
        log::warn!("{}: {}", skip.container, skip.reason);
    }
    if settings.dry_run {
        report_update(settings, &rows, &moves, &[], &skips, &[], &[])?;
        return Ok(if moves.is_empty() {
            verdict_without_moves(&rows)
        } else {
            Outcome::UpdatesAvailable
        });
    }
    let own_id = crate::selfcontainer::own_container_id();
    let mut applied = Vec::new();
    let mut entries = Vec::new();
    for mv in &moves {
        let auth = Reference::parse(&mv.pull)
            .ok()
            .and_then(|r| match registry.engine_auth(&r) {
                Ok(a) => a,
                Err(e) => {
                    log::warn!("{}: no credentials for the pull: {e:#}", mv.container);
                    None
                }
            });
        let (result, new_entries) = update::apply(
            &engine,
            &settings.state_file,
            mv,
            auth.as_deref(),
            own_id.as_deref(),
        );
        // History after each container, so a later crash loses nothing already done.
        history::append(&history::path_for(&settings.state_file), &new_entries)
            .map_err(Failure::runtime)?;
        entries.extend(new_entries);
        applied.push(result);
    }
    let cleanup = cleanup_after(&engine, &images, &applied);
    let rows = mark_updated(rows, &applied);
    save_state(&settings.state_file, &rows).map_err(Failure::runtime)?;
    let notifications = notify::after_run(
        &config.notify,
        &settings.state_file,
        false,
        &rows,
        &applied,
        &update_document(settings, &rows, &moves, &applied, &skips, &cleanup, &[]),
    );
    report_update(
        settings,
        &rows,
        &moves,
        &applied,
        &skips,
        &cleanup,
        &notifications,
    )?;
    let failed = applied.iter().any(|a| a.result != ResultKind::Updated)
        || rows.iter().any(|r| r.status == Status::Failed);
    Ok(if failed {
        Outcome::Failed
    } else if !applied.is_empty() {
        Outcome::Updated
    } else {
        Outcome::Clean
    })
}

/// Without moves: failures still count; pending updates that were not applied (not
/// auto_update, downgrades) are not this command's business.
fn verdict_without_moves(rows: &[ImageReport]) -> Outcome {
    if rows.iter().any(|r| r.status == Status::Failed) {
        Outcome::Failed
    } else {
        Outcome::Clean
    }
}

/// Rows after the updates: what now runs.
fn mark_updated(mut rows: Vec<ImageReport>, applied: &[Applied]) -> Vec<ImageReport> {
    for row in &mut rows {
        let done = applied.iter().any(|a| {
            a.result == ResultKind::Updated && Some(&a.mv.container) == row.container.as_ref()
        });
        if done {
            row.current_version = row.latest_version.clone();
            row.current_digest = row.latest_digest.clone();
            row.status = Status::UpToDate;
        }
    }
    rows
}

fn cleanup_after(
    engine: &dyn Engine,
    images: &[ImageConfig],
    applied: &[Applied],
) -> Vec<CleanupReport> {
    let mut reports = Vec::new();
    for config in images.iter().filter(|c| c.cleanup_old_images) {
        if !applied
            .iter()
            .any(|a| a.result == ResultKind::Updated && a.mv.image == config.image)
        {
            continue;
        }
        let mut report = CleanupReport {
            image: config.image.clone(),
            removed: Vec::new(),
            freed_bytes: 0,
            errors: Vec::new(),
        };
        let result = (|| -> anyhow::Result<()> {
            let reference = Reference::parse(&config.image)?;
            let all_images = engine.images()?;
            let in_use: std::collections::HashSet<String> = engine
                .containers()?
                .iter()
                .map(|c| c.image_id.clone())
                .collect();
            let keep = config.keep_versions as usize;
            for removal in crate::cleanup::plan(
                &all_images,
                &reference,
                config.regex.as_ref(),
                &in_use,
                keep,
            ) {
                let mut ok = true;
                for r in &removal.references {
                    if let Err(e) = engine.remove_image(r) {
                        // Removing the last tag may already have removed the digest names.
                        if !format!("{e:#}").contains("No such image") {
                            report.errors.push(format!("{r}: {e:#}"));
                            ok = false;
                        }
                    }
                }
                if ok {
                    report.removed.push(
                        removal
                            .version
                            .clone()
                            .unwrap_or_else(|| removal.id.clone()),
                    );
                    if !removal.shared {
                        report.freed_bytes += removal.size;
                    }
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            report.errors.push(format!("{e:#}"));
        }
        for e in &report.errors {
            log::warn!("cleanup of {}: {e}", config.image);
        }
        reports.push(report);
    }
    reports
}

fn update_document<'a>(
    settings: &Settings,
    rows: &'a [ImageReport],
    moves: &'a [Move],
    applied: &'a [Applied],
    skips: &'a [update::Skip],
    cleanup: &'a [CleanupReport],
    notifications: &'a [notify::Delivery],
) -> UpdateDocument<'a> {
    UpdateDocument {
        schema_version: report::JSON_SCHEMA_VERSION,
        dum_version: env!("CARGO_PKG_VERSION"),
        command: "update",
        dry_run: settings.dry_run,
        updates: applied,
        planned: moves,
        skipped: skips,
        images: rows,
        cleanup,
        notifications,
    }
}

fn report_update(
    settings: &Settings,
    rows: &[ImageReport],
    moves: &[Move],
    applied: &[Applied],
    skips: &[update::Skip],
    cleanup: &[CleanupReport],
    notifications: &[notify::Delivery],
) -> Result<(), Failure> {
    if settings.format == Format::Json {
        return print_json(&update_document(
            settings,
            rows,
            moves,
            applied,
            skips,
            cleanup,
            notifications,
        ));
    }
    let mut out = String::new();
    if moves.is_empty() {
        out.push_str("Nothing to update.\n");
    }
    if settings.dry_run {
        for mv in moves {
            out.push_str(&format!(
                "would update {}: {} -> {}\n  pull {}\n  tag {}\n  recreate {} from {} with its settings\n",
                mv.container,
                mv.from_version.as_deref().unwrap_or("?"),
                mv.to_version.as_deref().unwrap_or(&mv.to_digest),
                mv.pull,
                mv.tags.join(", "),
                mv.container,
                mv.run_as
            ));
        }
    }
    for a in applied {
        let what = match a.result {
            ResultKind::Updated => "updated",
            ResultKind::RolledBack => "ROLLED BACK",
            _ => "FAILED",
        };
        out.push_str(&format!(
            "{what} {}: {} -> {}",
            a.mv.container,
            a.mv.from_version.as_deref().unwrap_or("?"),
            a.mv.to_version.as_deref().unwrap_or(&a.mv.to_digest)
        ));
        if !a.dependents.is_empty() {
            out.push_str(&format!(
                " (recreated dependents: {})",
                a.dependents.join(", ")
            ));
        }
        if let Some(e) = &a.error {
            out.push_str(&format!("\n  {e}"));
        }
        out.push('\n');
    }
    for s in skips {
        out.push_str(&format!("skipped {}: {}\n", s.container, s.reason));
    }
    for c in cleanup {
        if !c.removed.is_empty() {
            out.push_str(&format!(
                "cleaned {}: removed {} ({:.1} MB freed)\n",
                c.image,
                c.removed.join(", "),
                c.freed_bytes as f64 / 1e6
            ));
        }
    }
    for r in rows.iter().filter(|r| r.status == Status::Failed) {
        out.push_str(&format!(
            "failed {} {}: {}\n",
            r.image,
            r.container.as_deref().unwrap_or(""),
            r.error.as_deref().unwrap_or("")
        ));
    }
    print_out(out.trim_end());
    Ok(())
}

fn rollback(settings: &Settings, target: &str) -> Result<Outcome, Failure> {
    let config = load_config(settings)?;
    let _lock = take_lock(settings)?;
    let engine = DockerClient::from_env().map_err(Failure::runtime)?;
    converge(settings, &engine)?;
    let history_path = history::path_for(&settings.state_file);
    let entries = history::load(&history_path).map_err(Failure::runtime)?;
    let last = history::last_update(&entries, target).ok_or_else(|| {
        Failure::usage(anyhow!(
            "no update of {target} in the history ({}) to roll back",
            history_path.display()
        ))
    })?;
    let image_config = config
        .as_ref()
        .and_then(|c| c.images.iter().find(|i| i.image == last.image))
        .cloned();
    let (reference, query) = match &image_config {
        Some(c) => c.references().map_err(Failure::usage)?,
        None => {
            let r = Reference::parse(&last.image).map_err(Failure::usage)?;
            (r.clone(), r)
        }
    };
    let registry = registry_client(
        &config
            .as_ref()
            .map(|c| c.insecure_registries.clone())
            .unwrap_or_default(),
    );
    // An engine that could not tell the registry digest of what ran (it happens with
    // the containerd image store) leaves only the version: its tag gives the digest.
    let digest = match (&last.from_digest, &last.from_version) {
        (Some(d), _) => d.clone(),
        (None, Some(v)) => registry
            .digest(&query, v)
            .map_err(Failure::runtime)?
            .ok_or_else(|| {
                Failure::runtime(anyhow!(
                    "the history does not record the digest {target} ran before, and {} no longer has its version tag {v}",
                    query.name()
                ))
            })?,
        (None, None) => {
            return Err(Failure::runtime(anyhow!(
                "the history records neither the digest nor the version {target} ran before ({}): nothing to roll back to",
                history_path.display()
            )));
        }
    };
    let familiar = reference.familiar_name();
    let version_tag = last.from_version.clone();
    let run_as = match &version_tag {
        Some(v) => format!("{familiar}:{v}"),
        None => format!("{familiar}@{digest}"),
    };
    let verify_with = image_config.as_ref().map(|c| crate::verify::Verify {
        grace: std::time::Duration::from_secs(c.grace_seconds),
        health_timeout: std::time::Duration::from_secs(c.health_timeout_seconds),
    });
    let mv = Move {
        kind: "rollback".into(),
        container: target.to_string(),
        image: last.image.clone(),
        pull: format!("{}@{digest}", query.familiar_name()),
        tags: version_tag
            .iter()
            .map(|v| format!("{familiar}:{v}"))
            .collect(),
        run_as,
        from_version: last.to_version.clone(),
        to_version: last.from_version.clone(),
        from_digest: last.to_digest.clone(),
        to_digest: digest,
        verify: verify_with.or(Some(crate::verify::Verify {
            grace: std::time::Duration::from_secs(10),
            health_timeout: std::time::Duration::from_secs(120),
        })),
    };
    if settings.dry_run {
        report_update(settings, &[], std::slice::from_ref(&mv), &[], &[], &[], &[])?;
        return Ok(Outcome::UpdatesAvailable);
    }
    let auth = registry.engine_auth(&query).ok().flatten();
    let own_id = crate::selfcontainer::own_container_id();
    let (applied, entries) = update::apply(
        &engine,
        &settings.state_file,
        &mv,
        auth.as_deref(),
        own_id.as_deref(),
    );
    history::append(&history_path, &entries).map_err(Failure::runtime)?;
    report_update(
        settings,
        &[],
        std::slice::from_ref(&mv),
        std::slice::from_ref(&applied),
        &[],
        &[],
        &[],
    )?;
    Ok(if applied.result == ResultKind::Updated {
        Outcome::Updated
    } else {
        Outcome::Failed
    })
}

fn show_history(settings: &Settings, target: Option<&str>) -> Result<Outcome, Failure> {
    let path = history::path_for(&settings.state_file);
    let entries = history::load(&path).map_err(Failure::runtime)?;
    let selected: Vec<&history::Entry> = entries
        .iter()
        .filter(|e| target.is_none_or(|t| e.container == t || e.image == t))
        .collect();
    if settings.format == Format::Json {
        return print_json(&serde_json::json!({
            "schema_version": report::JSON_SCHEMA_VERSION,
            "entries": selected,
        }))
        .map(|_| Outcome::Clean);
    }
    print_out(&report::history_table(&selected));
    Ok(Outcome::Clean)
}

/// `dum notify`: lists the targets; with `--test` sends each a test message (exit 1
/// unless all of them accepted it).
fn notify_command(settings: &Settings, test: bool) -> Result<Outcome, Failure> {
    let config = load_config(settings)?.unwrap_or(Config {
        images: Vec::new(),
        insecure_registries: Vec::new(),
        notify: Vec::new(),
    });
    if config.notify.is_empty() {
        return Err(Failure::usage(anyhow!(
            "no notification targets: {} has no \"notify\" list (see README, Notifications)",
            settings.config.path().display()
        )));
    }
    let deliveries = if test {
        notify::test_all(&config.notify)
    } else {
        Vec::new()
    };
    if settings.format == Format::Json {
        print_json(&serde_json::json!({
            "schema_version": report::JSON_SCHEMA_VERSION,
            "command": "notify",
            "test": test,
            "targets": config.notify.iter().map(|t| serde_json::json!({
                "type": t.service.name(),
                "events": t.events,
            })).collect::<Vec<_>>(),
            "notifications": deliveries,
        }))?;
    } else if test {
        let lines: Vec<String> = deliveries
            .iter()
            .map(|d| match &d.error {
                None => format!("ok      {}", d.target),
                Some(e) => format!("FAILED  {}: {e}", d.target),
            })
            .collect();
        print_out(&lines.join("\n"));
    } else {
        let lines: Vec<String> = config
            .notify
            .iter()
            .map(|t| {
                let events: Vec<&str> = t.events.iter().map(|e| e.name()).collect();
                format!("{:<8} {}", t.service.name(), events.join(", "))
            })
            .collect();
        print_out(&format!(
            "{}\n(`dum notify --test` sends each a test message)",
            lines.join("\n")
        ));
    }
    Ok(if deliveries.iter().all(|d| d.ok) {
        Outcome::Clean
    } else {
        Outcome::Failed
    })
}
