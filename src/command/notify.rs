//! `dum notify [--test]`: lists the notification targets, or sends each a test message.

use anyhow::anyhow;

use crate::command::context::Context;
use crate::command::outcome::{Failure, Outcome};
use crate::notify;
use crate::output;

/// Runs `dum notify`: exit 1 with `--test` unless every target accepted the message.
pub fn run(ctx: &Context, test: bool) -> Result<Outcome, Failure> {
    let targets = ctx.config()?.map(|c| c.notify).unwrap_or_default();
    if targets.is_empty() {
        return Err(Failure::usage(anyhow!(
            "no notification targets: {} has no \"notify\" list (see README, Notifications)",
            ctx.settings.config.path().display()
        )));
    }
    let deliveries = if test {
        notify::test_all(&targets)
    } else {
        Vec::new()
    };
    if ctx.json() {
        output::print_json(&serde_json::json!({
            "schema_version": output::JSON_SCHEMA_VERSION,
            "command": "notify",
            "test": test,
            "targets": targets.iter().map(|t| serde_json::json!({
                "type": t.service.name(),
                "events": t.events,
            })).collect::<Vec<_>>(),
            "notifications": deliveries,
        }))
        .map_err(Failure::runtime)?;
    } else if test {
        let lines: Vec<String> = deliveries
            .iter()
            .map(|d| match &d.error {
                None => format!("ok      {}", d.target),
                Some(e) => format!("FAILED  {}: {e}", d.target),
            })
            .collect();
        output::print(&lines.join("\n"));
    } else {
        let lines: Vec<String> = targets
            .iter()
            .map(|t| {
                let events: Vec<&str> = t.events.iter().map(|e| e.name()).collect();
                format!("{:<8} {}", t.service.name(), events.join(", "))
            })
            .collect();
        output::print(&format!(
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
