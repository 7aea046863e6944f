//! Is a freshly started container good? Running through a grace period and, when a
//! healthcheck is defined, healthy within a timeout.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};

use crate::docker::{EngineRead, ExitWatch};

/// Verification settings of one image (config: `grace_seconds`, `health_timeout_seconds`).
#[derive(Debug, Clone, Copy)]
pub struct Verify {
    /// How long the container must keep running.
    pub grace: Duration,
    /// How long a healthcheck may take to report healthy.
    pub health_timeout: Duration,
}

impl Verify {
    /// The settings `config` gives.
    pub fn of(config: &crate::config::ImageConfig) -> Verify {
        Verify {
            grace: Duration::from_secs(config.grace_seconds),
            health_timeout: Duration::from_secs(config.health_timeout_seconds),
        }
    }
}

/// The configuration's defaults, for a container no image entry names.
impl Default for Verify {
    fn default() -> Verify {
        Verify {
            grace: Duration::from_secs(crate::config::DEFAULT_GRACE_SECONDS),
            health_timeout: Duration::from_secs(crate::config::DEFAULT_HEALTH_TIMEOUT_SECONDS),
        }
    }
}

/// Polls `id` until it has run for the grace period (and is healthy, when it has a
/// healthcheck). The error says what went wrong, with the container's last output:
/// from `watch` when the engine removes the container as it exits (`AutoRemove`).
pub fn verify(
    engine: &dyn EngineRead,
    id: &str,
    settings: Verify,
    watch: Option<&ExitWatch>,
) -> Result<()> {
    let started = Instant::now();
    let poll = Duration::from_millis(250);
    loop {
        let Some(c) = engine.inspect_container(id)? else {
            return Err(vanished(id, watch));
        };
        if !c.state.running || c.state.restarting {
            // Already on its way out: the engine may refuse its logs; the watch has them.
            if let Some(w) =
                watch.filter(|_| matches!(c.state.status.as_str(), "removing" | "dead"))
            {
                return Err(vanished(id, Some(w)));
            }
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

/// The new container is gone: the engine removed it as it exited (`AutoRemove`).
fn vanished(id: &str, watch: Option<&ExitWatch>) -> anyhow::Error {
    let Some(watch) = watch else {
        return anyhow!("the new container {id} disappeared");
    };
    // The exit code and the output arrive on connections of their own, and either
    // may still be in flight when the container is gone: give both a moment.
    let until = Instant::now() + Duration::from_secs(2);
    while (watch.exit_code().is_none() || !watch.output_closed()) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    let code = watch
        .exit_code()
        .map_or_else(|| "unknown".to_string(), |c| c.to_string());
    let tail = watch.last_output(1);
    let output = if tail.trim().is_empty() {
        String::new()
    } else {
        format!("; last output: {}", tail.trim())
    };
    anyhow!(
        "the new container stopped (exit code {code}) and the engine removed it (AutoRemove){output}"
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// Output that arrives `delay` after the first read.
    struct Late {
        delay: Duration,
        bytes: std::io::Cursor<Vec<u8>>,
    }

    impl std::io::Read for Late {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            std::thread::sleep(std::mem::take(&mut self.delay));
            self.bytes.read(buf)
        }
    }

    #[test]
    fn a_removed_container_s_last_output_is_awaited_with_its_exit_code() {
        // The exit code is known at once; the output is still on its way (framed: a
        // stdout frame of 5 bytes).
        let mut framed = vec![1, 0, 0, 0, 0, 0, 0, 5];
        framed.extend_from_slice(b"boom\n");
        let late = Late {
            delay: Duration::from_millis(300),
            bytes: std::io::Cursor::new(framed),
        };
        let watch = ExitWatch::reading(late, false, Some(3));
        let error = vanished("c1", Some(&watch)).to_string();
        assert!(error.contains("exit code 3"), "{error}");
        assert!(error.ends_with("last output: boom"), "{error}");
    }
}
