//! Is a freshly started container good? Running through a grace period and, when a
//! healthcheck is defined, healthy within a timeout.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};

use crate::docker::Engine;

/// Verification settings of one image (config: `grace_seconds`, `health_timeout_seconds`).
#[derive(Debug, Clone, Copy)]
pub struct Verify {
    /// How long the container must keep running.
    pub grace: Duration,
    /// How long a healthcheck may take to report healthy.
    pub health_timeout: Duration,
}

/// Polls `id` until it has run for the grace period (and is healthy, when it has a
/// healthcheck). The error says what went wrong, with the container's last output.
pub fn verify(engine: &dyn Engine, id: &str, settings: Verify) -> Result<()> {
    let started = Instant::now();
    let poll = Duration::from_millis(250);
    loop {
        let c = engine
            .inspect_container(id)?
            .ok_or_else(|| anyhow!("the new container {id} disappeared"))?;
        if !c.state.running || c.state.restarting {
            let tail = engine.logs_tail(id, 5).unwrap_or_default();
            let tail = tail.trim().lines().last().unwrap_or("").trim().to_string();
            let output = if tail.is_empty() {
                String::new()
            } else {
                format!("; last output: {tail}")
            };
            bail!(
                "the new container stopped (status {}, exit code {}){output}",
                c.state.status,
                c.state.exit_code
            );
        }
        let elapsed = started.elapsed();
        let health = c.state.health.as_ref().map(|h| h.status.as_str());
        match health {
            Some("unhealthy") => bail!("the new container turned unhealthy"),
            Some("healthy") | None if elapsed >= settings.grace => return Ok(()),
            Some(h) if h != "healthy" && elapsed >= settings.grace.max(settings.health_timeout) => {
                bail!(
                    "the new container was not healthy after {} s (health: {h})",
                    settings.health_timeout.as_secs()
                )
            }
            _ => {}
        }
        std::thread::sleep(poll);
    }
}
