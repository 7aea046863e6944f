//! Runs the real `dum` binary with a private config, state and DOCKER_CONFIG.

use super::registry::Registry;
use super::temp_dir;
use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Path of the dum binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_dum");

/// How long one dum invocation may run before it is killed and the test fails.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// One test's dum installation: a temp dir with `config.json`, `state/` and an empty
/// `docker-config/` (DOCKER_CONFIG), plus extra environment.
///
/// ```ignore
/// let dum = Dum::new().config_json(json!({...})).login(harness::registry::basic());
/// dum.run(&["check", "--format", "json"]).assert_code(0);
/// ```
pub struct Dum {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    timeout: Duration,
}

impl Default for Dum {
    fn default() -> Self {
        Dum::new()
    }
}

impl Dum {
    /// A fresh installation (no config file written yet).
    pub fn new() -> Dum {
        let dir = temp_dir("dum-test-dum-");
        fs::create_dir_all(dir.path().join("state")).unwrap();
        fs::create_dir_all(dir.path().join("docker-config")).unwrap();
        Dum {
            dir,
            env: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The installation's temp dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `CONFIG_FILE` given to dum: `<dir>/config.json`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.json")
    }

    /// `STATE_FILE` given to dum: `<dir>/state/state.json`.
    pub fn state_path(&self) -> PathBuf {
        self.dir.path().join("state/state.json")
    }

    /// `DOCKER_CONFIG` given to dum: `<dir>/docker-config`.
    pub fn docker_config_dir(&self) -> PathBuf {
        self.dir.path().join("docker-config")
    }

    /// Writes `config` (pretty JSON) to the config file.
    pub fn config_json(self, config: serde_json::Value) -> Self {
        self.write_config(&config);
        self
    }

    /// Writes `config` to the config file (for rewriting it mid-test).
    pub fn write_config(&self, config: &serde_json::Value) {
        fs::write(
            self.config_path(),
            serde_json::to_string_pretty(config).unwrap(),
        )
        .unwrap();
    }

    /// Writes raw text to the config file (for invalid-config tests).
    pub fn config_text(self, text: &str) -> Self {
        fs::write(self.config_path(), text).unwrap();
        self
    }

    /// The state file parsed, or `None` if dum has not written it.
    pub fn state(&self) -> Option<serde_json::Value> {
        let text = fs::read_to_string(self.state_path()).ok()?;
        Some(serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "state file {} is not JSON ({e}):\n{text}",
                self.state_path().display()
            )
        }))
    }

    /// Sets an environment variable for every run (overrides the defaults).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Logs this installation's DOCKER_CONFIG in to `registry`.
    pub fn login(self, registry: &Registry) -> Self {
        registry.docker_login(&self.docker_config_dir());
        self
    }

    /// Per-run timeout (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The command [`Dum::run`] executes, for tests that need to tweak it.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("CONFIG_FILE", self.config_path())
            .env("STATE_FILE", self.state_path())
            .env("DOCKER_CONFIG", self.docker_config_dir())
            .env("LOG_LEVEL", "debug")
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs dum to completion; panics (showing its output so far) after the timeout.
    pub fn run(&self, args: &[&str]) -> Output {
        self.spawn(args).wait()
    }

    /// Starts dum without waiting (for concurrency tests); see [`Running::wait`].
    pub fn spawn(&self, args: &[&str]) -> Running {
        let mut child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));
        let stdout = reader(child.stdout.take().unwrap());
        let stderr = reader(child.stderr.take().unwrap());
        Running {
            child,
            stdout,
            stderr,
            args: args.iter().map(|s| s.to_string()).collect(),
            deadline: Instant::now() + self.timeout,
        }
    }
}

fn reader(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// A dum process started by [`Dum::spawn`].
pub struct Running {
    child: Child,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
    args: Vec<String>,
    deadline: Instant,
}

impl Running {
    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for exit; kills dum and panics with its output once the timeout passes.
    pub fn wait(mut self) -> Output {
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > self.deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stdout = self.stdout.join().unwrap_or_default();
                let stderr = self.stderr.join().unwrap_or_default();
                panic!(
                    "dum {:?} timed out and was killed\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
                    self.args
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Output {
            code: status.code().unwrap_or(-1),
            stdout: self.stdout.join().unwrap_or_default(),
            stderr: self.stderr.join().unwrap_or_default(),
            args: self.args,
        }
    }
}

/// Result of one dum run. `{:?}` shows everything, readably.
pub struct Output {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error (the debug log).
    pub stderr: String,
    /// The arguments dum was run with.
    pub args: Vec<String>,
}

impl Output {
    /// Panics showing the whole output unless the exit code is `expected`.
    pub fn assert_code(&self, expected: i32) -> &Self {
        assert!(
            self.code == expected,
            "expected exit code {expected}, got:\n{self:?}"
        );
        self
    }

    /// stdout parsed as JSON; panics showing the whole output if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self:?}"))
    }

    /// Panics showing the whole output unless stdout contains `needle`.
    pub fn assert_stdout_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}:\n{self:?}"
        );
        self
    }

    /// Panics showing the whole output unless stderr contains `needle`.
    pub fn assert_stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{self:?}"
        );
        self
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dum {:?} exited with {}\n--- stdout\n{}\n--- stderr\n{}--- end",
            self.args, self.code, self.stdout, self.stderr
        )
    }
}

/// Panics unless the tested binary was built with the `fault-injection` feature: the
/// crash tests need `DUM_FAULT` (scripts/test passes `--features fault-injection`).
pub fn require_fault_injection() {
    if !cfg!(feature = "fault-injection") {
        panic!("crash tests need dum built with `--features fault-injection` (scripts/test does)");
    }
}
