//! What the commands share: the settings of the run, and the parts a command needs
//! (configuration, engine, registry client, store), each made the same way for every
//! command. A command asks only for what it uses: `dum schema` needs no engine, and
//! `dum tags` no state.

use std::time::Duration;

use anyhow::anyhow;

use crate::cli::settings::{ConfigPath, Format, Settings};
use crate::command::outcome::{Failure, FailureKind};
use crate::config::{self, Config};
use crate::docker::{DockerClient, Engine};
use crate::registry::client::{ClientOptions, RegistryClient};
use crate::registry::credentials::DockerConfig;
use crate::store::Store;
use crate::store::lock::LockError;
use crate::update::recovery;

/// Environment knob (tests, operators behind slow links): whole-request registry timeout in
/// seconds, also capping the connect timeout. Unset: 10 s connect, 30 s per request.
pub const REGISTRY_TIMEOUT_ENV: &str = "DUM_REGISTRY_TIMEOUT_SECS";

/// One run's settings and the constructors of its parts.
pub struct Context {
    /// What the command line and environment asked for.
    pub settings: Settings,
}

impl Context {
    /// The context of a run with `settings`.
    pub fn new(settings: Settings) -> Context {
        Context { settings }
    }

    /// Whether reports are JSON documents.
    pub fn json(&self) -> bool {
        self.settings.format == Format::Json
    }

    /// The configuration; `None` when the default file does not exist.
    pub fn config(&self) -> Result<Option<Config>, Failure> {
        match &self.settings.config {
            ConfigPath::Default(p) if !p.exists() => Ok(None),
            other => config::load(other.path()).map(Some).map_err(Failure::usage),
        }
    }

    /// The engine named by the environment, its API version negotiated.
    pub fn engine(&self) -> Result<DockerClient, Failure> {
        DockerClient::from_env().map_err(|e| match forced_api_refused(&e) {
            true => Failure::usage(e),
            false => Failure::runtime(e),
        })
    }

    /// The registry client, with the credentials the docker CLI would use.
    pub fn registry(&self, insecure: &[String]) -> RegistryClient {
        let docker_config = DockerConfig::default_path(
            std::env::var_os("DOCKER_CONFIG").as_deref(),
            std::env::var_os("HOME").as_deref(),
        );
        let mut options = ClientOptions {
            insecure_registries: insecure.to_vec(),
            docker_config,
            ..ClientOptions::default()
        };
        let knob = std::env::var(REGISTRY_TIMEOUT_ENV).ok();
        match registry_timeout(knob.as_deref()) {
            Ok(Some(timeout)) => {
                options.request_timeout = timeout;
                options.connect_timeout = options.connect_timeout.min(timeout);
            }
            Ok(None) => {}
            Err(e) => log::warn!("{e}; keeping the default registry timeouts"),
        }
        RegistryClient::new(options)
    }

    /// The store, opened once for the run: locked, or read-only in a dry run (which
    /// writes nothing, not even the lock file, and never blocks a real run).
    pub fn store(&self) -> Result<Store, Failure> {
        if self.settings.dry_run {
            return Store::read_only(&self.settings.state_file).map_err(Failure::runtime);
        }
        Store::open(&self.settings.state_file, self.settings.wait).map_err(|e| match e {
            e @ LockError::Held { .. } => Failure {
                kind: FailureKind::LockHeld,
                error: anyhow!(e),
            },
            LockError::Other(e) => Failure::runtime(e),
        })
    }

    /// The store, with whatever an interrupted run left in the journal converged
    /// before anything else touches containers (a dry run only reports it). Targets
    /// are resolved after this: a container may carry its backup name until then.
    pub fn converged_store(&self, engine: &dyn Engine) -> Result<Store, Failure> {
        let mut store = self.store()?;
        if self.settings.dry_run {
            for tx in store.pending() {
                log::warn!(
                    "{}: an interrupted {} is pending in the journal (a real run will converge it)",
                    tx.container,
                    tx.kind
                );
            }
            return Ok(store);
        }
        recovery::converge(engine, &mut store).map_err(Failure::runtime)?;
        Ok(store)
    }
}

/// Whether the engine could not be reached because `DOCKER_API_VERSION` is not one dum
/// can speak: the user's setting to fix, like a bad configuration.
fn forced_api_refused(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|c| c.downcast_ref::<crate::docker::BadApiVersion>().is_some())
}

/// Parses [`REGISTRY_TIMEOUT_ENV`]: `None` when unset or empty, an error for anything but
/// whole seconds from 1 to 3600 (0 would mean "no timeout", which a cron job must never have).
fn registry_timeout(value: Option<&str>) -> anyhow::Result<Option<Duration>> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    match text.parse::<u64>() {
        Ok(secs @ 1..=3600) => Ok(Some(Duration::from_secs(secs))),
        _ => Err(anyhow!(
            "{REGISTRY_TIMEOUT_ENV}={text:?} is not a number of seconds from 1 to 3600"
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn registry_timeout_knob() {
        const CASES: &[(Option<&str>, Result<Option<u64>, ()>)] = &[
            (None, Ok(None)),
            (Some(""), Ok(None)),
            (Some(" 3 "), Ok(Some(3))),
            (Some("3600"), Ok(Some(3600))),
            (Some("0"), Err(())),
            (Some("3601"), Err(())),
            (Some("2.5"), Err(())),
            (Some("-1"), Err(())),
        ];
        for (value, want) in CASES {
            let got = registry_timeout(*value)
                .map(|d| d.map(|d| d.as_secs()))
                .map_err(|_| ());
            assert_eq!(&got, want, "{value:?}");
        }
    }
}
