//! Containers that share another's network namespace (`--network container:<it>`)
//! lose it when that container is replaced: they follow it onto the new one.

use anyhow::{Result, anyhow};

use crate::docker::Engine;
use crate::docker::types::{ContainerInspect, CreatePlan};
use crate::image::pin::{Change, Pin};
use crate::store::Store;
use crate::update::plan::Move;
use crate::update::spec;
use crate::update::transaction::{Undo, recreate};
use crate::update::verify::Verify;

/// Brings the containers that share `old_id`'s network namespace (`--network
/// container:<it>`) back onto a live one after a transaction stopped it: recreated to
/// join `new_id` when the update went through, restarted to rejoin the restored old
/// container otherwise. Returns the names handled and one line per failure.
pub fn follow_dependents(
    engine: &dyn Engine,
    store: &mut Store,
    old_id: &str,
    old_name: &str,
    new_id: Option<&str>,
    verify_with: Option<Verify>,
) -> (Vec<String>, Vec<String>) {
    let mut errors = Vec::new();
    let all: Vec<serde_json::Value> = match engine.containers() {
        Ok(list) => list
            .iter()
            .filter_map(|c| match engine.inspect_container(&c.id) {
                Ok(found) => found.map(|c| c.raw),
                // A container this cannot see might be a dependent left behind.
                Err(e) => {
                    errors.push(format!(
                        "cannot tell whether {} depends on {old_name}: {e:#}",
                        c.name()
                    ));
                    None
                }
            })
            .collect(),
        Err(e) => {
            return (
                Vec::new(),
                vec![format!("cannot list the dependents of {old_name}: {e:#}")],
            );
        }
    };
    let mut done = Vec::new();
    for name in spec::dependents(old_id, old_name, &all) {
        let result = match new_id {
            Some(target) => {
                follow(engine, store, &name, target, verify_with).map_err(|u| u.message())
            }
            None => engine
                .stop(&name, None)
                .and_then(|()| engine.start(&name))
                .map_err(|e| format!("{e:#}")),
        };
        match result {
            Ok(()) => done.push(name),
            Err(e) => errors.push(format!("dependent {name}: {e}")),
        }
    }
    (done, errors)
}

/// Recreates a container that shares `target`'s network namespace so it joins the
/// new container's namespace; same preservation rules, same transaction.
fn follow(
    engine: &dyn Engine,
    store: &mut Store,
    name: &str,
    target_id: &str,
    verify_with: Option<Verify>,
) -> Result<(), Undo> {
    let prepared = || -> Result<(ContainerInspect, String, CreatePlan)> {
        let old = engine
            .inspect_container(name)?
            .ok_or_else(|| anyhow!("container {name} disappeared"))?;
        let image = engine
            .inspect_image(&old.image_id)?
            .ok_or_else(|| anyhow!("the image of {name} is gone"))?;
        let run_as = if old.config.image.is_empty() {
            old.image_id.clone()
        } else {
            old.config.image.clone()
        };
        let plan = spec::plan(&old.raw, &image.raw, &run_as, engine.api())?;
        Ok((old, run_as, plan))
    };
    let (old, run_as, mut plan) = prepared().map_err(Undo::Untouched)?;
    let restore_plan = plan.clone();
    spec::retarget_network(&mut plan, target_id);
    let mv = Move {
        kind: "dependent".into(),
        container: name.to_string(),
        image: run_as.clone(),
        pull: String::new(),
        tags: Vec::new(),
        run_as,
        change: Change {
            from: Pin::default(),
            to: Pin::new(None, Some(old.image_id.clone())),
        },
        verify: verify_with,
    };
    recreate(
        engine,
        store,
        &old,
        &plan,
        Some(restore_plan),
        &mv,
        mv.verify,
    )
    .map(|_| ())
}
