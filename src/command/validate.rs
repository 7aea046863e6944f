//! `dum validate [FILE] [--effective]`: every problem of a configuration file and of the
//! `dum.*` labels of the containers and (on a swarm manager) the Swarm services' specs,
//! exit 2 if any; with `--effective`, what each one's settings end up being and where
//! each comes from.

use std::path::Path;

use anyhow::anyhow;
use serde_json::json;

use crate::check::{effective, inventory};
use crate::command::context::Context;
use crate::command::outcome::{Failure, Outcome};
use crate::config::{self, Config, labels};
use crate::docker::EngineRead;
use crate::docker::types::ContainerSummary;
use crate::image::reference::Reference;
use crate::output::{self, effective::Row};
use crate::swarm::service::Service;

/// One label problem of one container or service.
#[derive(Debug, Clone, serde::Serialize)]
struct LabelProblem {
    /// The container's name, or the service's.
    container: String,
    /// Set when `container` names a Swarm service (absent for containers, as before).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    service: bool,
    label: String,
    message: String,
}

/// Runs `dum validate [FILE] [--effective]` (the configured file when none is given).
pub fn run(ctx: &Context, path: Option<&Path>, show_effective: bool) -> Result<Outcome, Failure> {
    let path = path.unwrap_or(ctx.settings.config.path());
    let result = config::load(path);
    // Labels live on the engine: checked when it answers; `--effective` needs it.
    let listed = ctx.engine().and_then(|engine| {
        let containers = engine
            .containers()
            .map(|list| inventory::with_references(&engine, &list))
            .map_err(Failure::runtime)?;
        Ok((containers, inventory::swarm_services(&engine)))
    });
    let (containers, services) = match listed {
        Ok((containers, services)) => (Some(containers), services),
        Err(e) if show_effective => return Err(e),
        Err(e) => {
            log::warn!(
                "the containers' dum.* labels were not checked: {:#}",
                e.error
            );
            (None, Vec::new())
        }
    };
    let problems = containers
        .as_deref()
        .map(|all| label_problems(all, &services))
        .unwrap_or_default();
    let labelled = containers
        .as_deref()
        .map(|all| all.iter().filter(|c| has_labels(c)).count())
        .unwrap_or(0);
    let labelled_services = services.iter().filter(|s| ours(&s.labels)).count();
    let rows = match (&result, &containers) {
        (Ok(config), Some(all)) if show_effective => rows(config, all, &services),
        _ => Vec::new(),
    };
    if ctx.json() {
        let file_problems = match &result {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.clone(),
        };
        let mut doc = json!({
            "schema_version": output::JSON_SCHEMA_VERSION,
            "path": path,
            "valid": result.is_ok() && problems.is_empty(),
            "images": result.as_ref().map(|c| c.images.len()).unwrap_or(0),
            "problems": file_problems,
            "labels_checked": containers.is_some(),
            "label_problems": problems,
        });
        if show_effective {
            doc["effective"] = json!(rows);
        }
        output::print_json(&doc).map_err(Failure::runtime)?;
    } else if show_effective && result.is_ok() {
        output::print(&output::effective::table(&rows));
    }
    let config = match result {
        Ok(c) => c,
        Err(e) if ctx.json() => {
            return Err(Failure::usage(anyhow!(
                "{} has {} problem(s)",
                e.path.display(),
                e.problems.len() + problems.len()
            )));
        }
        Err(e) => {
            let mut text = e.to_string();
            for p in &problems {
                text.push_str(&format!("\n{}", said(p)));
            }
            return Err(Failure::usage(anyhow!(text)));
        }
    };
    if !problems.is_empty() {
        let text = if ctx.json() {
            format!("{} label problem(s)", problems.len())
        } else {
            problems.iter().map(said).collect::<Vec<_>>().join("\n")
        };
        return Err(Failure::usage(anyhow!(text)));
    }
    if !ctx.json() && !show_effective {
        let mut text = format!("{}: valid ({} images)", path.display(), config.images.len());
        if labelled > 0 {
            text.push_str(&format!(
                "\n{labelled} container(s) with dum.* labels: valid"
            ));
        }
        if labelled_services > 0 {
            text.push_str(&format!(
                "\n{labelled_services} Swarm service(s) with dum.* labels: valid"
            ));
        }
        output::print(&text);
    }
    Ok(Outcome::Clean)
}

fn said(p: &LabelProblem) -> String {
    let what = if p.service { "service" } else { "container" };
    format!("{what} {}: label {}: {}", p.container, p.label, p.message)
}

/// Whether a container carries `dum.*` labels of its own (a Swarm task's are its
/// service's business).
fn has_labels(c: &ContainerSummary) -> bool {
    !inventory::is_task(c) && c.labels.as_ref().is_some_and(ours)
}

fn ours(labels: &std::collections::BTreeMap<String, String>) -> bool {
    labels.keys().any(|k| k.starts_with(labels::PREFIX))
}

/// Every label problem of every container and service, by name.
fn label_problems(containers: &[ContainerSummary], services: &[Service]) -> Vec<LabelProblem> {
    let mut found = Vec::new();
    let mut add = |name: &str, service: bool, problems: Vec<labels::LabelProblem>| {
        found.extend(problems.into_iter().map(|p| LabelProblem {
            container: name.to_string(),
            service,
            label: p.label,
            message: p.message,
        }));
    };
    for c in containers {
        if inventory::is_task(c) {
            continue;
        }
        let (Some(l), Ok(reference)) = (&c.labels, Reference::parse(&c.image)) else {
            continue;
        };
        if let Err(problems) = labels::read(l, &reference.familiar_name()) {
            add(c.name(), false, problems);
        }
    }
    for s in services {
        let Ok(reference) = Reference::parse(s.image_parts().0) else {
            continue;
        };
        if let Err(problems) = labels::read(&s.labels, &reference.familiar_name()) {
            add(&s.name, true, problems);
        }
    }
    found.sort_by(|a, b| (&a.container, a.service).cmp(&(&b.container, b.service)));
    found
}

/// The effective settings of every container and service an entry covers.
fn rows(config: &Config, containers: &[ContainerSummary], services: &[Service]) -> Vec<Row> {
    let entries = effective::effective(Some(&config.images), containers, services).entries;
    let same_repo = |image: &str, entry: &crate::config::ImageConfig| {
        let (Ok(r), Ok((want, _))) = (Reference::parse(image), entry.references()) else {
            return false;
        };
        r.registry == want.registry && r.repository == want.repository
    };
    let mut rows = Vec::new();
    for entry in &entries {
        // (name, is a service)
        let covered: Vec<(String, bool)> = match (&entry.container_name, &entry.service_name) {
            (Some(name), _) => vec![(name.clone(), false)],
            (None, Some(name)) => vec![(name.clone(), true)],
            (None, None) => containers
                .iter()
                .filter(|c| !inventory::is_task(c))
                .filter(|c| !entry.except.iter().any(|n| n == c.name()))
                .filter(|c| same_repo(&c.image, entry))
                .map(|c| (c.name().to_string(), false))
                .chain(
                    services
                        .iter()
                        .filter(|s| !entry.except_services.contains(&s.name))
                        .filter(|s| same_repo(s.image_parts().0, entry))
                        .map(|s| (s.name.clone(), true)),
                )
                .collect(),
        };
        if covered.is_empty() {
            rows.push(Row::of(None, entry));
        }
        for (name, service) in covered {
            rows.push(Row {
                service,
                ..Row::of(Some(name), entry)
            });
        }
    }
    rows.sort_by(|a, b| (&a.container, a.service).cmp(&(&b.container, b.service)));
    rows
}
