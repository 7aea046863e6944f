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
use crate::lock::{LockError, RunLock};
use crate::outcome::{Failure, FailureKind, Outcome};
use crate::reference::Reference;
use crate::registry::Registry;
use crate::registry::client::{ClientOptions, RegistryClient};
use crate::registry::credentials::DockerConfig;
use crate::report::{self, CheckDocument, Summary, TagsDocument};
use crate::settings::{Command, ConfigPath, Format, Settings};
use crate::state::{self, State};

/// Runs the command.
pub fn run(settings: Settings) -> Result<Outcome, Failure> {
    match &settings.command {
        Command::Schema => {
            print_out(config::SCHEMA);
            Ok(Outcome::Clean)
        }
        Command::Validate { path } => validate(&settings, path.as_deref()),
        Command::Tags {
            image,
            regex,
            base_tag,
        } => tags(&settings, image, regex.as_deref(), base_tag),
        Command::Check { targets } => check(&settings, targets),
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
    RegistryClient::new(ClientOptions {
        insecure_registries: insecure.to_vec(),
        docker_config,
        ..ClientOptions::default()
    })
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
    let _lock = take_lock(settings)?;
    let engine = DockerClient::from_env().map_err(Failure::runtime)?;
    let containers = engine.containers().map_err(Failure::runtime)?;
    let (images, insecure, discovered) = match config {
        Some(c) => (
            select_targets(c.images, targets, &containers)?,
            c.insecure_registries,
            false,
        ),
        None => {
            log::warn!(
                "no configuration at {}: checking every running container against its own tag (see `dum tags IMAGE` and config.example.json to write one)",
                settings.config.path().display()
            );
            let found = discover::images(&containers);
            (
                discover::select(found, targets).map_err(Failure::usage)?,
                Vec::new(),
                true,
            )
        }
    };
    let registry = registry_client(&insecure);
    let rows =
        check::check_all(&engine, &registry, &containers, &images).map_err(Failure::runtime)?;
    if !settings.dry_run {
        save_state(&settings.state_file, &rows).map_err(Failure::runtime)?;
    }
    log::info!(
        "checked {} image(s) in {} ms with {} registry request(s)",
        images.len(),
        started.elapsed().as_millis(),
        registry.requests()
    );
    let summary = Summary::of(&rows);
    if settings.format == Format::Json {
        print_json(&CheckDocument {
            schema_version: report::JSON_SCHEMA_VERSION,
            dum_version: env!("CARGO_PKG_VERSION"),
            command: "check",
            dry_run: settings.dry_run,
            discovered,
            images: &rows,
            summary,
        })?;
    } else {
        print_out(&report::check_table(&rows));
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

fn state_key(row: &ImageReport) -> String {
    match &row.container {
        Some(c) => format!("{}#{c}", row.image),
        None => row.image.clone(),
    }
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
        entry.status = serde_json::to_value(&row.status)
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
            let remote = check::remote(&registry, &reference, &entry).map_err(Failure::runtime)?;
            doc.newest = remote.newest().map(str::to_string);
            doc.base_tag_digest = remote.base_digest.clone();
            doc.base_tag_version = remote.base_version.clone();
            doc.versions = remote.versions;
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
