//! The `docker compose` CLI plugin, run as a child process: compose alone knows how to
//! create a service's container (it re-injects `configs:`/`secrets:` content and runs
//! `post_start` hooks, which a recreate through the Engine API cannot), so dum hands it
//! the recreate when the project's files are here.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How long one compose command may take: `up -d` of one service stops the old
/// container (its stop timeout) and starts the new one.
const TIMEOUT: Duration = Duration::from_secs(600);

/// A `docker` CLI with the compose plugin, talking to dum's engine.
#[derive(Debug, Clone)]
pub struct Plugin {
    program: PathBuf,
    docker_host: Option<String>,
    /// `docker compose version --short`.
    pub version: String,
}

impl Plugin {
    /// The `docker` on `PATH` when its compose plugin answers; `docker_host` (dum's own
    /// engine endpoint) is given to every command so compose talks to the engine dum
    /// reads, whatever docker context the CLI would pick.
    pub fn find(docker_host: Option<String>) -> Option<Plugin> {
        let program = PathBuf::from("docker");
        let mut plugin = Plugin {
            program,
            docker_host,
            version: String::new(),
        };
        match plugin.run(&[], &["version", "--short"], Duration::from_secs(20)) {
            Ok(out) => {
                plugin.version = out.trim().trim_start_matches('v').to_string();
                log::debug!("docker compose {} found", plugin.version);
                Some(plugin)
            }
            Err(e) => {
                log::debug!("no docker compose plugin: {e:#}");
                None
            }
        }
    }

    /// `docker compose config --hash S1,S2,…`: the hash compose would label each
    /// service's container with if it were deployed from the files now.
    pub fn config_hashes(
        &self,
        project_args: &[String],
        services: &[String],
    ) -> Result<BTreeMap<String, String>> {
        let list = services.join(",");
        let out = self.run(
            project_args,
            &["config", "--hash", &list],
            Duration::from_secs(60),
        )?;
        let hashes: BTreeMap<String, String> = out
            .lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                Some((words.next()?.to_string(), words.next()?.to_string()))
            })
            .collect();
        match services.iter().find(|s| !hashes.contains_key(*s)) {
            Some(missing) => bail!("docker compose config --hash printed no hash for {missing}"),
            None => Ok(hashes),
        }
    }

    /// `docker compose config -q`: whether the project's files are valid.
    pub fn validate(&self, project_args: &[String]) -> Result<()> {
        self.run(project_args, &["config", "-q"], Duration::from_secs(60))
            .map(drop)
    }

    /// `docker compose up -d --pull never SERVICE`: compose recreates the service's
    /// container from the image its tag now names. Not `--no-deps`: compose 2.26 (Debian 13's)
    /// then hashes the service without its `depends_on`, and the next plain `up`
    /// recreates it once more; the caller makes sure the dependencies are current, so
    /// compose leaves them alone.
    /// `project_args` are [`crate::compose::service::Service::project_args`] (journaled, so a later run repeats
    /// the same command).
    pub fn up(&self, project_args: &[String], service: &str) -> Result<()> {
        self.run(
            project_args,
            &["up", "-d", "--pull", "never", service],
            TIMEOUT,
        )
        .map(drop)
    }

    /// Runs `docker compose GLOBAL… ARGS…`; stdout on success, the last line of stderr
    /// in the error otherwise.
    fn run(&self, global: &[String], args: &[&str], timeout: Duration) -> Result<String> {
        let mut cmd = Command::new(&self.program);
        cmd.arg("compose").args(global).args(args);
        if let Some(host) = &self.docker_host {
            cmd.env("DOCKER_HOST", host);
        }
        // Never ask: dum runs from timers.
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let shown = format!("docker compose {} {}", global.join(" "), args.join(" "));
        log::debug!("running {shown}");
        let mut child = cmd.spawn().with_context(|| format!("cannot run {shown}"))?;
        // Read both pipes on their own threads so a chatty compose cannot block on a
        // full pipe while dum waits for it.
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(p) = stdout.as_mut() {
                let _ = p.read_to_string(&mut s);
            }
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(p) = stderr.as_mut() {
                let _ = p.read_to_string(&mut s);
            }
            s
        });
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().with_context(|| shown.clone())? {
                break status;
            }
            if started.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                bail!("{shown} did not finish within {} s", timeout.as_secs());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
            log::debug!("compose: {line}");
        }
        if !status.success() {
            let last = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            bail!("{shown} failed ({status}): {last}");
        }
        Ok(stdout)
    }
}
