//! `dum tags IMAGE`: what a repository's tags look like, to write a regex for it.

use anyhow::anyhow;

use crate::check;
use crate::command::context::Context;
use crate::command::outcome::{Failure, Outcome};
use crate::config::ImageConfig;
use crate::image::reference::Reference;
use crate::image::{propose, select};
use crate::output::{self, TagsDocument};
use crate::registry::Registry;

/// Runs `dum tags IMAGE [--regex R] [--base-tag T]`.
pub fn run(
    ctx: &Context,
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
    // Only for the insecure registries: a broken configuration does not stop `tags`,
    // which helps write one.
    let insecure = ctx
        .config()
        .ok()
        .flatten()
        .map(|c| c.insecure_registries)
        .unwrap_or_default();
    let registry = ctx.registry(&insecure);
    let all = registry.tags(&reference).map_err(Failure::runtime)?;
    let mut doc = TagsDocument {
        schema_version: output::JSON_SCHEMA_VERSION,
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
            // Every version, from the list already read (a check keeps only the newest).
            doc.versions = select::version_tags(&all, &regex)
                .into_iter()
                .map(str::to_string)
                .collect();
            let entry = ImageConfig {
                regex: Some(regex),
                base_tag: base_tag.to_string(),
                ..ImageConfig::new(image)
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
        }
        None => {
            doc.proposals = propose::proposals(&all, 5);
            doc.base_tag_digest = registry
                .digest(&reference, base_tag)
                .map_err(Failure::runtime)?;
        }
    }
    if ctx.json() {
        output::print_json(&doc).map_err(Failure::runtime)?;
    } else {
        output::print(&output::tags_text(&doc, 20));
    }
    Ok(Outcome::Clean)
}
