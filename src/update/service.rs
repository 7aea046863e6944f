//! Moves of Swarm services: the spec's image is set to the target pinned by digest
//! (nothing else in the spec changes), Swarm rolls it out across the nodes, and dum
//! waits the way `docker service update --detach=false` does, bounded by the image's
//! `health_timeout_seconds`. Swarm's own rollout is the health gate: a rollback Swarm
//! made is a rollback, a paused update or the timeout makes dum ask Swarm to roll back
//! (`rollback=previous`). Journaled like a container's transaction.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::docker::Engine;
use crate::fault;
use crate::store::Store;
use crate::store::journal::{self, Rollout, Step, Transaction};
use crate::swarm::rollout::{self, Progress, Task};
use crate::swarm::service::Service;
use crate::update::plan::Move;
use crate::update::transaction::Undo;

/// How often the service and its tasks are read while waiting.
const POLL: Duration = Duration::from_millis(500);

/// How many times an update is sent again after the service changed between dum's
/// read and its write (another client updated it).
const CONFLICT_RETRIES: usize = 3;

/// What happened, for the report, beside the result.
#[derive(Debug, Default)]
pub struct Outcome {
    /// A remark (`0 replicas: updated without waiting`).
    pub note: Option<String>,
}

/// Applies `mv` to the service it names. Ok: Swarm rolled the new image out.
pub fn apply(
    engine: &dyn Engine,
    store: &mut Store,
    mv: &Move,
    auth: Option<&str>,
) -> (Result<(), Undo>, Outcome) {
    let mut outcome = Outcome::default();
    let Some(id) = mv.service.as_deref() else {
        return (
            Err(Undo::Untouched(anyhow!(
                "{} is not a service",
                mv.container
            ))),
            outcome,
        );
    };
    let service = match read(engine, id) {
        Ok(s) => s,
        Err(e) => return (Err(Undo::Untouched(e)), outcome),
    };
    // `dum rollback SERVICE`: Swarm's own rollback to the spec it kept.
    let back = mv.kind == "rollback";
    let target = if back {
        match service.previous_image() {
            Some(previous) => previous.to_string(),
            None => {
                return (
                    Err(Undo::Untouched(anyhow!(
                        "service {} has no previous spec to roll back to (Swarm keeps one, the spec before its last update)",
                        service.name
                    ))),
                    outcome,
                );
            }
        }
    } else {
        mv.run_as.clone()
    };
    if back {
        outcome.note = Some(format!(
            "Swarm's rollback=previous to {target}: Swarm keeps one previous spec, so another rollback would return to {}",
            service.image
        ));
    }
    let mut tx = Transaction {
        kind: mv.kind.clone(),
        container: service.name.clone(),
        image: mv.image.clone(),
        old_id: service.id.clone(),
        backup_name: String::new(),
        new_id: None,
        was_running: true,
        step: Step::Applying,
        change: mv.change.clone(),
        started_ms: journal::now_ms(),
        was_paused: false,
        restore_plan: None,
        stop_deadline_ms: None,
        dependents: None,
        compose: None,
        service: Some(Rollout {
            id: service.id.clone(),
            old_image: service.image.clone(),
            new_image: target.clone(),
        }),
    };
    if let Err(e) = store.record(&tx) {
        return (Err(Undo::Untouched(e)), outcome);
    }
    fault::point("journaled");
    fault::hook("service-read");
    let sent = if back {
        engine
            .update_service(
                &service.id,
                service.version,
                service.raw.get("Spec").unwrap_or(&serde_json::Value::Null),
                auth,
                true,
            )
            .with_context(|| format!("cannot roll service {} back", service.name))
    } else {
        send(engine, &service, &target, auth)
    };
    if let Err(e) = sent {
        // Not sent: nothing changed.
        let _ = store.clear(&tx.container);
        return (Err(Undo::Untouched(e)), outcome);
    }
    fault::point("applied");
    tx.step = Step::Verifying;
    if let Err(e) = store.record(&tx) {
        return (Err(Undo::Stuck(e)), outcome);
    }
    let timeout = mv.verify.map_or(
        Duration::from_secs(crate::config::DEFAULT_HEALTH_TIMEOUT_SECONDS),
        |v| v.health_timeout.max(v.grace),
    );
    let waited = if service.desired() == Some(0) {
        let zero = "0 replicas: updated without waiting for a rollout";
        outcome.note = Some(match outcome.note.take() {
            Some(n) => format!("{n}; {zero}"),
            None => zero.into(),
        });
        Ok(Progress::Done)
    } else {
        wait(engine, id, &target, back, timeout)
    };
    let result = match waited {
        Ok(Progress::Done) => {
            tx.step = Step::Updated;
            store
                .record(&tx)
                .and_then(|()| store.clear(&tx.container))
                .map_err(|e| Undo::Stuck(e.context("the update worked but finishing it failed")))
        }
        Ok(Progress::RolledBack(message)) => {
            let _ = store.clear(&tx.container);
            Err(Undo::RolledBack(anyhow!(
                "Swarm rolled the update back by itself: {message}"
            )))
        }
        Ok(Progress::Failed(why)) | Ok(Progress::Waiting(why)) => Err(roll_back(
            engine,
            store,
            &mut tx,
            auth,
            timeout,
            anyhow!(why),
        )),
        Err(e) => Err(roll_back(engine, store, &mut tx, auth, timeout, e)),
    };
    (result, outcome)
}

/// The service `id` as the engine has it now.
fn read(engine: &dyn Engine, id: &str) -> Result<Service> {
    let raw = engine
        .inspect_service(id)?
        .ok_or_else(|| anyhow!("service {id} does not exist"))?;
    Service::from_json(&raw).ok_or_else(|| anyhow!("service {id}: unexpected document"))
}

/// Sends the spec with `image`; when the service changed between the read and the
/// write (its version moved), reads it again and resends, a few times.
fn send(engine: &dyn Engine, first: &Service, image: &str, auth: Option<&str>) -> Result<()> {
    let mut service = first.clone();
    let mut attempt = 0;
    loop {
        let sent = engine.update_service(
            &service.id,
            service.version,
            &service.spec_with_image(image),
            auth,
            false,
        );
        let Err(e) = sent else {
            return Ok(());
        };
        let now = read(engine, &service.id)?;
        // Kind, not text: the engine refused because the version moved meanwhile.
        if now.version == service.version || attempt >= CONFLICT_RETRIES {
            return Err(e).with_context(|| format!("cannot update service {}", service.name));
        }
        log::info!(
            "service {}: changed since it was read (version {} now {}); sending the update again",
            service.name,
            service.version,
            now.version
        );
        service = now;
        attempt += 1;
    }
}

/// Waits until the rollout of `target` is done, Swarm rolled it back or stopped it, or
/// `timeout` passed (then the last `Waiting`).
fn wait(
    engine: &dyn Engine,
    id: &str,
    target: &str,
    undoing: bool,
    timeout: Duration,
) -> Result<Progress> {
    let started = Instant::now();
    loop {
        let service = read(engine, id)?;
        let tasks: Vec<Task> = engine
            .tasks(id)?
            .iter()
            .filter_map(Task::from_json)
            .collect();
        let progress = rollout::progress(&service, &tasks, target, undoing);
        match &progress {
            Progress::Waiting(what) if started.elapsed() < timeout => {
                log::debug!("service {}: {what}", service.name);
            }
            Progress::Waiting(what) => {
                return Ok(Progress::Waiting(format!(
                    "the rollout did not finish within {} s: {what}",
                    timeout.as_secs()
                )));
            }
            _ => return Ok(progress),
        }
        std::thread::sleep(POLL);
    }
}

/// Asks Swarm to roll back to the previous spec and waits for it; the failure that
/// led here, with what became of the rollback.
fn roll_back(
    engine: &dyn Engine,
    store: &mut Store,
    tx: &mut Transaction,
    auth: Option<&str>,
    timeout: Duration,
    failure: anyhow::Error,
) -> Undo {
    tx.step = Step::RollingBack;
    let undo = (|| -> Result<()> {
        store.record(tx)?;
        fault::point("rolling-back");
        restore(engine, tx, auth, timeout)?;
        tx.step = Step::Restored;
        store.record(tx)?;
        store.clear(&tx.container)
    })();
    match undo {
        Ok(()) => Undo::RolledBack(failure),
        Err(e) => Undo::Stuck(anyhow!(
            "{failure:#}; rolling the service back failed too: {e:#} (the journal keeps the transaction; the next dum run retries)"
        )),
    }
}

/// Puts the service back on its old image: `rollback=previous` unless Swarm is already
/// there or rolling back, then waits for the old image to run. Idempotent.
pub fn restore(
    engine: &dyn Engine,
    tx: &Transaction,
    auth: Option<&str>,
    timeout: Duration,
) -> Result<()> {
    let r = rollout_of(tx)?;
    let service = read(engine, &r.id)?;
    let rolling_back = matches!(
        service.update_state.as_deref(),
        Some("rollback_started") | Some("rollback_completed")
    );
    if service.image != r.old_image && !rolling_back {
        if !service.has_previous {
            bail!(
                "service {} has no previous spec to roll back to",
                service.name
            );
        }
        let asked = engine.update_service(
            &service.id,
            service.version,
            service.raw.get("Spec").unwrap_or(&serde_json::Value::Null),
            auth,
            true,
        );
        // Refused, but another client (or Swarm) got there first: that is fine.
        let asked = match asked {
            Err(e) if read(engine, &service.id)?.image != r.old_image => Err(e),
            _ => Ok(()),
        };
        asked.with_context(|| format!("cannot roll service {} back", service.name))?;
    }
    if service.desired() == Some(0) {
        return Ok(());
    }
    match wait(engine, &r.id, &r.old_image, true, timeout)? {
        Progress::Done => Ok(()),
        Progress::RolledBack(m) | Progress::Failed(m) | Progress::Waiting(m) => {
            bail!(
                "the rollback of service {} did not finish: {m}",
                service.name
            )
        }
    }
}

/// Finishes what a killed run left of a service's update: waits for the rollout it
/// started (`Updated` once done), rolls back a rollout Swarm paused or that does not
/// finish, records a rollback Swarm made (`Restored`). An update that was never sent
/// changed nothing (`Restored`).
pub fn converge(engine: &dyn Engine, tx: &Transaction, timeout: Duration) -> Result<Step> {
    let r = rollout_of(tx)?;
    let service = read(engine, &r.id)?;
    let sent = service.image == r.new_image
        || matches!(
            service.update_state.as_deref(),
            Some("rollback_started") | Some("rollback_completed") | Some("rollback_paused")
        );
    if tx.step == Step::Applying && !sent {
        return Ok(Step::Restored);
    }
    if matches!(tx.step, Step::Applying | Step::Verifying) {
        let progress = if service.desired() == Some(0) {
            Progress::Done
        } else {
            wait(engine, &r.id, &r.new_image, false, timeout)?
        };
        match progress {
            Progress::Done => return Ok(Step::Updated),
            Progress::RolledBack(_) => return Ok(Step::Restored),
            Progress::Failed(_) | Progress::Waiting(_) => {}
        }
    }
    restore(engine, tx, None, timeout).map(|()| Step::Restored)
}

/// The service part of a journaled transaction.
fn rollout_of(tx: &Transaction) -> Result<&Rollout> {
    tx.service.as_ref().ok_or_else(|| {
        anyhow!(
            "internal error: {} is not a service transaction",
            tx.container
        )
    })
}
