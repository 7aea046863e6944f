//! `dum init [TARGETS] [--add]`: writes a configuration for what runs, an entry per
//! running container with a version regex proposed from its repository's tags.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, anyhow};
use rayon::prelude::*;

use crate::check::discover::{self, Proposed, Unproposable, Unproposed};
use crate::check::{effective, inventory};
use crate::command::context::Context;
use crate::command::outcome::{Failure, Outcome};
use crate::config::{self, Config, DEFAULT_BASE_TAG, draft, writer};
use crate::docker::EngineRead;
use crate::docker::types::ContainerSummary;
use crate::image::reference::Reference;
use crate::output::{self, InitDocument};
use crate::registry::Registry;

/// Runs `dum init [TARGETS] [--add]`: only the named running containers (by name or
/// repository) when there are targets.
pub fn run(ctx: &Context, targets: &[String], add: bool) -> Result<Outcome, Failure> {
    let path = ctx.settings.config.path();
    let existing = existing(path, add)?;
    let file: &[config::ImageConfig] = existing.as_ref().map_or(&[], |(_, c)| &c.images);
    let insecure = existing
        .as_ref()
        .map(|(_, c)| c.insecure_registries.clone())
        .unwrap_or_default();

    let engine = ctx.engine()?;
    let listed = engine.containers().map_err(Failure::runtime)?;
    let containers = inventory::with_references(&engine, &listed);
    let services = inventory::swarm_services(&engine);
    let effective = effective::effective(Some(file), &containers, &services);
    // What runs, as discovery sees it: a Swarm task belongs to its service.
    let mut running: Vec<&ContainerSummary> = containers
        .iter()
        .filter(|c| c.state == "running" && !inventory::is_task(c))
        .collect();
    running.sort_by(|a, b| a.name().cmp(b.name()));
    if let Some(t) = targets
        .iter()
        .find(|t| !running.iter().any(|c| names(c, t)))
    {
        return Err(Failure::usage(anyhow!("{t} is not a running container")));
    }
    let chosen = running
        .into_iter()
        .filter(|c| targets.is_empty() || targets.iter().any(|t| names(c, t)));
    let (covered, open): (Vec<&ContainerSummary>, Vec<&ContainerSummary>) =
        chosen.partition(|c| effective.covers(file, c));

    let mut unproposed = Vec::new();
    let mut wanted = Vec::new();
    for c in open {
        match discover::repository_for_init(c) {
            Ok(reference) => wanted.push((c, reference)),
            Err(u) => unproposed.push(u),
        }
    }
    let registry = ctx.registry(&insecure);
    let lists = tag_lists(&registry, &wanted, ctx.settings.jobs)?;
    let mut proposed = Vec::new();
    for (c, reference) in &wanted {
        let found = match lists.get(&reference.name()) {
            Some(Ok(tags)) => discover::proposal(c, reference, tags),
            Some(Err(e)) => Err(Unproposable {
                container: c.name().to_string(),
                image: c.image.clone(),
                reason: Unproposed::TagsUnavailable,
                message: format!("cannot list the tags of {}: {e}", reference.familiar_name()),
            }),
            None => Err(Unproposable {
                container: c.name().to_string(),
                image: c.image.clone(),
                reason: Unproposed::TagsUnavailable,
                message: format!("the tags of {} were not listed", reference.familiar_name()),
            }),
        };
        match found {
            Ok(p) => proposed.push(p),
            Err(u) => unproposed.push(u),
        }
    }
    unproposed.sort_by(|a, b| a.container.cmp(&b.container));

    let text = drafted(path, existing.as_ref(), &proposed)?;
    let write = !proposed.is_empty() && !ctx.settings.dry_run;
    if write {
        match &existing {
            Some((was, _)) => writer::replace(path, was, &text),
            None => writer::create(path, &text),
        }
        .map_err(Failure::runtime)?;
    }
    let failed = unproposed
        .iter()
        .any(|u| u.reason == Unproposed::TagsUnavailable);
    let doc = InitDocument {
        schema_version: output::JSON_SCHEMA_VERSION,
        command: "init",
        path: path.to_path_buf(),
        dry_run: ctx.settings.dry_run,
        added: existing.is_some(),
        written: write,
        proposed,
        unproposed,
        covered: covered.iter().map(|c| c.name().to_string()).collect(),
        content: ctx.settings.dry_run.then_some(text),
    };
    if ctx.json() {
        output::print_json(&doc).map_err(Failure::runtime)?;
    } else if let Some(content) = &doc.content {
        // Only the file on stdout, so `dum init --dry-run > FILE` writes it.
        for u in &doc.unproposed {
            log::warn!(
                "no entry proposed for {} ({}): {}",
                u.container,
                u.image,
                u.message
            );
        }
        output::print(content);
    } else {
        output::print(&output::init_text(&doc));
    }
    Ok(if failed {
        Outcome::Failed
    } else {
        Outcome::Clean
    })
}

/// The file's text and configuration when it exists (only with `--add`: `dum init`
/// never overwrites one), validated as every run validates it.
fn existing(path: &Path, add: bool) -> Result<Option<(String, Config)>, Failure> {
    if path.symlink_metadata().is_err() {
        // As root, a file that dum would refuse to read is not worth writing.
        crate::store::ownership::check(path, "config file").map_err(Failure::runtime)?;
        return Ok(None);
    }
    if !add {
        return Err(Failure::usage(anyhow!(
            "{} exists and dum init does not overwrite it; `dum init --add` adds entries for the running containers it does not cover",
            path.display()
        )));
    }
    let config = config::load(path).map_err(Failure::usage)?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", path.display()))
        .map_err(Failure::runtime)?;
    Ok(Some((text, config)))
}

/// Whether target `t` names container `c`: its name, or its image's repository.
fn names(c: &ContainerSummary, t: &str) -> bool {
    c.name() == t || Reference::parse(&c.image).is_ok_and(|r| r.familiar_name() == t)
}

/// Every wanted repository's tags (by [`Reference::name`]), listed once each, in
/// parallel; a list that fails is that repository's containers' reason.
fn tag_lists(
    registry: &dyn Registry,
    wanted: &[(&ContainerSummary, Reference)],
    jobs: usize,
) -> Result<BTreeMap<String, Result<Vec<String>, String>>, Failure> {
    let mut repositories: BTreeMap<String, Reference> = BTreeMap::new();
    for (_, reference) in wanted {
        repositories
            .entry(reference.name())
            .or_insert_with(|| reference.clone());
    }
    if repositories.is_empty() {
        return Ok(BTreeMap::new());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(repositories.len().clamp(1, jobs.max(1)))
        .thread_name(|i| format!("dum-init-{i}"))
        .build()
        .map_err(|e| Failure::runtime(anyhow!("cannot start worker threads: {e}")))?;
    Ok(pool.install(|| {
        repositories
            .into_par_iter()
            .map(|(name, reference)| {
                let tags = registry.tags(&reference).map_err(|e| format!("{e:#}"));
                (name, tags)
            })
            .collect()
    }))
}

/// The text to write: a new file, or the existing one with the entries appended
/// byte for byte; validated like any configuration before it is written.
fn drafted(
    path: &Path,
    existing: Option<&(String, Config)>,
    proposed: &[Proposed],
) -> Result<String, Failure> {
    let entries: Vec<draft::Entry> = proposed
        .iter()
        .map(|p| draft::Entry {
            image: p.image.clone(),
            container_name: Some(p.container.clone()),
            regex: Some(p.regex.clone()),
            base_tag: (p.base_tag != DEFAULT_BASE_TAG).then(|| p.base_tag.clone()),
        })
        .collect();
    let (text, before) = match existing {
        Some((was, config)) => (
            draft::append(was, &entries).map_err(|e| {
                Failure::usage(anyhow!(
                    "cannot add entries to {}: {e}; add them by hand",
                    path.display()
                ))
            })?,
            config.images.len(),
        ),
        None => (draft::new_file(&entries), 0),
    };
    let parsed = config::parse(&text, path).map_err(|e| {
        Failure::runtime(anyhow!(
            "the configuration drafted for {} is not valid, nothing written: {e}",
            path.display()
        ))
    })?;
    if parsed.images.len() != before + entries.len() {
        return Err(Failure::runtime(anyhow!(
            "the configuration drafted for {} has {} entries instead of {}, nothing written",
            path.display(),
            parsed.images.len(),
            before + entries.len()
        )));
    }
    Ok(text)
}
