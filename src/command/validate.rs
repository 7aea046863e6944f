//! `dum validate [FILE] [--effective]`: every problem of a configuration file and of the
//! containers' `dum.*` labels, exit 2 if any; with `--effective`, what each container's
//! settings end up being and where each comes from.

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

/// One label problem of one container.
#[derive(Debug, Clone, serde::Serialize)]
struct LabelProblem {
    container: String,
    label: String,
    message: String,
}

/// Runs `dum validate [FILE] [--effective]` (the configured file when none is given).
pub fn run(ctx: &Context, path: Option<&Path>, show_effective: bool) -> Result<Outcome, Failure> {
    let path = path.unwrap_or(ctx.settings.config.path());
    let result = config::load(path);
    // Labels live on the engine: checked when it answers; `--effective` needs it.
    let containers = match ctx.engine().and_then(|engine| {
        engine
            .containers()
            .map(|list| inventory::with_references(&engine, &list))
            .map_err(Failure::runtime)
    }) {
        Ok(list) => Some(list),
        Err(e) if show_effective => return Err(e),
        Err(e) => {
            log::warn!(
                "the containers' dum.* labels were not checked: {:#}",
                e.error
            );
            None
        }
    };
    let problems = containers
        .as_deref()
        .map(label_problems)
        .unwrap_or_default();
    let labelled = containers
        .as_deref()
        .map(|all| all.iter().filter(|c| has_labels(c)).count())
        .unwrap_or(0);
    let rows = match (&result, &containers) {
        (Ok(config), Some(all)) if show_effective => rows(config, all),
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
        output::print(&text);
    }
    Ok(Outcome::Clean)
}

fn said(p: &LabelProblem) -> String {
    format!(
        "container {}: label {}: {}",
        p.container, p.label, p.message
    )
}

fn has_labels(c: &ContainerSummary) -> bool {
    c.labels
        .as_ref()
        .is_some_and(|l| l.keys().any(|k| k.starts_with(labels::PREFIX)))
}

/// Every label problem of every container, by container name.
fn label_problems(containers: &[ContainerSummary]) -> Vec<LabelProblem> {
    let mut found = Vec::new();
    for c in containers {
        let (Some(l), Ok(reference)) = (&c.labels, Reference::parse(&c.image)) else {
            continue;
        };
        if let Err(problems) = labels::read(l, &reference.familiar_name()) {
            found.extend(problems.into_iter().map(|p| LabelProblem {
                container: c.name().to_string(),
                label: p.label,
                message: p.message,
            }));
        }
    }
    found.sort_by(|a, b| a.container.cmp(&b.container));
    found
}

/// The effective settings of every container an entry covers.
fn rows(config: &Config, containers: &[ContainerSummary]) -> Vec<Row> {
    let entries = effective::effective(Some(&config.images), containers).entries;
    let mut rows = Vec::new();
    for entry in &entries {
        let covered: Vec<String> = match &entry.container_name {
            Some(name) => vec![name.clone()],
            None => containers
                .iter()
                .filter(|c| !entry.except.iter().any(|n| n == c.name()))
                .filter(|c| {
                    let (Ok(r), Ok((want, _))) = (Reference::parse(&c.image), entry.references())
                    else {
                        return false;
                    };
                    r.registry == want.registry && r.repository == want.repository
                })
                .map(|c| c.name().to_string())
                .collect(),
        };
        if covered.is_empty() {
            rows.push(Row::of(None, entry));
        }
        for name in covered {
            rows.push(Row::of(Some(name), entry));
        }
    }
    rows.sort_by(|a, b| a.container.cmp(&b.container));
    rows
}
