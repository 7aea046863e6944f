//! Which configured images the command line's targets name.

use anyhow::anyhow;

use crate::command::outcome::Failure;
use crate::config::ImageConfig;
use crate::docker::types::ContainerSummary;
use crate::image::reference::Reference;
use crate::swarm::service::Service;

/// Selects the configured images the targets name: a configured image,
/// `container_name` or `service_name` (an entry from a service's labels has one), or
/// the name of a container or Swarm service running a configured image (that entry is
/// then narrowed to it). All when there are no targets; an unknown target is a usage
/// error. `services` are the manager's Swarm services (none elsewhere).
pub fn select(
    images: Vec<ImageConfig>,
    targets: &[String],
    containers: &[ContainerSummary],
    services: &[Service],
) -> Result<Vec<ImageConfig>, Failure> {
    if targets.is_empty() {
        return Ok(images);
    }
    let name_of = |image: &str| Reference::parse(image).ok().map(|r| r.name());
    let mut chosen: Vec<ImageConfig> = Vec::new();
    let mut add = |entry: ImageConfig| {
        if !chosen.iter().any(|c| {
            c.image == entry.image
                && c.container_name == entry.container_name
                && c.service_name == entry.service_name
        }) {
            chosen.push(entry);
        }
    };
    for target in targets {
        let target_name = name_of(target);
        let by_config: Vec<&ImageConfig> = images
            .iter()
            .filter(|i| {
                i.container_name.as_deref() == Some(target.as_str())
                    || i.service_name.as_deref() == Some(target.as_str())
                    || i.image == *target
                    || (target_name.is_some() && name_of(&i.image) == target_name)
            })
            .collect();
        if !by_config.is_empty() {
            by_config.into_iter().cloned().for_each(&mut add);
            continue;
        }
        let entry_for = |image: &str| {
            let image = name_of(image)?;
            images.iter().find(|i| {
                i.container_name.is_none()
                    && i.service_name.is_none()
                    && name_of(&i.image).as_ref() == Some(&image)
            })
        };
        let container = containers.iter().find(|c| c.name() == target.as_str());
        if let Some(e) = container.and_then(|c| entry_for(&c.image)) {
            add(ImageConfig {
                container_name: Some(target.clone()),
                service_name: None,
                ..e.clone()
            });
            continue;
        }
        // A Swarm service's image is `repo:tag@digest`.
        let service = services.iter().find(|s| s.name == *target);
        let by_service = service.and_then(|s| entry_for(s.image_parts().0));
        match by_service {
            Some(e) => add(ImageConfig {
                container_name: None,
                service_name: Some(target.clone()),
                ..e.clone()
            }),
            None => {
                return Err(Failure::usage(anyhow!(
                    "{target} is neither a configured image, a configured container_name, nor a container or Swarm service running a configured image"
                )));
            }
        }
    }
    Ok(chosen)
}
