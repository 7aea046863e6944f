//! The `docker compose` CLI plugin, run as a child process: compose alone knows how to
//! create a service's container (it re-injects `configs:`/`secrets:` content and runs
//! `post_start` hooks, which a recreate through the Engine API cannot), so dum hands it
//! the recreate when the project's files are here.

use std::collections::BTreeMap;
use std::io::{Read, Write};
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
        hashes_of(&out, services)
    }

    /// `docker compose config --format json`: the project's model as `up` loads it, the
    /// services' environment resolved (see [`crate::compose::model`]).
    pub fn model(&self, project_args: &[String]) -> Result<serde_json::Value> {
        let out = self.run(
            project_args,
            &["config", "--format", "json"],
            Duration::from_secs(60),
        )?;
        serde_json::from_str(&out)
            .context("docker compose config --format json printed no JSON document")
    }

    /// `config --hash` of each of `services` in `model` (a project model such as
    /// [`Plugin::model`] returns, given on stdin): not normalized again (compose 2.26
    /// would add a resolved `volumes_from` container to `depends_on`, which it hashes)
    /// nor checked for consistency (resolved references name containers, not
    /// services). Interpolated again: `config` writes a value's `$` as `$$`. `stdin_args`:
    /// [`crate::compose::service::Service::stdin_project_args`].
    pub fn model_hashes(
        &self,
        stdin_args: &[String],
        model: &serde_json::Value,
        services: &[String],
    ) -> Result<BTreeMap<String, String>> {
        let list = services.join(",");
        let out = self.run_with_input(
            stdin_args,
            &[
                "config",
                "--no-normalize",
                "--no-consistency",
                "--hash",
                &list,
            ],
            Duration::from_secs(60),
            Some(model.to_string().into_bytes()),
        )?;
        hashes_of(&out, services)
    }

    /// `docker compose config -q`: whether the project's files are valid.
    pub fn validate(&self, project_args: &[String]) -> Result<()> {
        self.run(project_args, &["config", "-q"], Duration::from_secs(60))
            .map(drop)
    }

    /// `docker compose up -d --pull never SERVICE…`: compose recreates the services'
    /// containers whose image or configuration changed (the first's image its tag now
    /// names; the others share its namespaces or volumes). Not `--no-deps`: compose 2.26 (Debian 13's)
    /// then hashes the service without its `depends_on`, and the next plain `up`
    /// recreates it once more; the caller makes sure the dependencies are current, so
    /// compose leaves them alone.
    /// `project_args` are [`crate::compose::service::Service::project_args`] (journaled, so a later run repeats
    /// the same command).
    pub fn up(&self, project_args: &[String], services: &[String]) -> Result<()> {
        let mut args = vec!["up", "-d", "--pull", "never"];
        args.extend(services.iter().map(String::as_str));
        self.run(project_args, &args, TIMEOUT).map(drop)
    }

    /// Runs `docker compose GLOBAL… ARGS…`; stdout on success, the last line of stderr
    /// in the error otherwise.
    fn run(&self, global: &[String], args: &[&str], timeout: Duration) -> Result<String> {
        self.run_with_input(global, args, timeout, None)
    }

    /// [`Plugin::run`] with `input` on compose's stdin (none: `/dev/null`, never a
    /// prompt: dum runs from timers).
    fn run_with_input(
        &self,
        global: &[String],
        args: &[&str],
        timeout: Duration,
        input: Option<Vec<u8>>,
    ) -> Result<String> {
        let mut cmd = Command::new(&self.program);
        cmd.arg("compose").args(global).args(args);
        if let Some(host) = &self.docker_host {
            cmd.env("DOCKER_HOST", host);
        }
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let shown = format!("docker compose {} {}", global.join(" "), args.join(" "));
        log::debug!("running {shown}");
        let mut child = cmd.spawn().with_context(|| format!("cannot run {shown}"))?;
        // Written on a thread: compose may print before it has read all of its input.
        let writer = match (input, child.stdin.take()) {
            (Some(bytes), Some(mut stdin)) => Some(std::thread::spawn(move || {
                // A compose that exits early closes the pipe; its exit status says why.
                let _ = stdin.write_all(&bytes);
            })),
            _ => None,
        };
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
        if let Some(w) = writer {
            let _ = w.join();
        }
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

/// `SERVICE HASH` lines (`config --hash`) as a map; an error names a service of
/// `services` that has no line.
fn hashes_of(out: &str, services: &[String]) -> Result<BTreeMap<String, String>> {
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
