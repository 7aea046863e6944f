//! Notifications: at the end of `dum check` and `dum update`, one message per target
//! summarising the run (updates available, updated, rolled back, failed), sent to ntfy,
//! Gotify, Discord, Slack, a generic webhook, Telegram, Pushover, Matrix, an Apprise API
//! server or by email.
//!
//! Still no daemon: dum sends at the end of a run, bounded in time, and a failed
//! notification never changes the exit code; it is logged and listed in the JSON output.
//! An available update is announced once per version: the state remembers what was
//! announced so an hourly cron does not repeat it.

pub mod delivery;
pub mod event;
pub mod mail;
pub mod message;
pub mod payload;

pub use crate::config::notify::Target;
pub use delivery::Delivery;
pub use event::{Event, EventKind};

use crate::check::ImageReport;
use crate::store::Store;
use crate::update::Applied;

/// Notifies every target of what a check or update found and remembers the updates it
/// announced. `document` is the run's `--format json` document (webhooks receive it).
/// A dry run sends nothing and writes nothing; it logs what it would send.
pub fn after_run(
    targets: &[Target],
    store: &mut Store,
    dry_run: bool,
    rows: &[ImageReport],
    applied: &[Applied],
    document: &impl serde::Serialize,
) -> Vec<Delivery> {
    if targets.is_empty() {
        return Vec::new();
    }
    let events = event::collect(rows, applied, store.state());
    if dry_run {
        for target in targets {
            let wanted = wanted_by(target, &events);
            if !wanted.is_empty() {
                log::info!(
                    "dry run: would notify {} of {} event(s)",
                    target.service.name(),
                    wanted.len()
                );
            }
        }
        return Vec::new();
    }
    let document = serde_json::to_value(document).unwrap_or_else(|e| {
        log::warn!("notifications: cannot render the run's JSON document: {e}");
        serde_json::Value::Null
    });
    let host = hostname();
    let agent = delivery::agent();
    let sent: Vec<(Vec<&Event>, Delivery)> = std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .filter_map(|target| {
                let wanted = wanted_by(target, &events);
                if wanted.is_empty() {
                    return None;
                }
                let (agent, document, host) = (&agent, &document, &host);
                Some(scope.spawn(move || {
                    let message = message::summary(&wanted, host);
                    let result = delivery::deliver(agent, target, &message, &wanted, document);
                    (wanted, result)
                }))
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut announced: Vec<&Event> = Vec::new();
    for (events, result) in &sent {
        log_result(result);
        if result.ok {
            announced.extend(
                events
                    .iter()
                    .filter(|e| e.kind == EventKind::UpdateAvailable),
            );
        }
    }
    if event::record(store.state_mut(), rows, &announced)
        && let Err(e) = store.save()
    {
        log::warn!("notifications: cannot remember what was announced: {e:#}");
    }
    sent.into_iter().map(|(_, d)| d).collect()
}

/// Sends the test message to every target, whatever events they subscribe to.
pub fn test_all(targets: &[Target]) -> Vec<Delivery> {
    let host = hostname();
    let message = message::test(&host);
    let document = serde_json::json!({
        "schema_version": crate::output::JSON_SCHEMA_VERSION,
        "dum_version": env!("CARGO_PKG_VERSION"),
        "command": "notify",
        "test": true,
    });
    let agent = delivery::agent();
    std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .map(|target| {
                let (agent, message, document) = (&agent, &message, &document);
                scope.spawn(move || delivery::deliver(agent, target, message, &[], document))
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .inspect(log_result)
            .collect()
    })
}

fn wanted_by<'e>(target: &Target, events: &'e [Event]) -> Vec<&'e Event> {
    events.iter().filter(|e| target.wants(e.kind)).collect()
}

fn log_result(d: &Delivery) {
    match &d.error {
        None => log::info!("notified {}", d.target),
        Some(e) => log::warn!("notification to {} failed: {e}", d.target),
    }
}

/// The machine's name for message titles, so one channel can serve several hosts.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
