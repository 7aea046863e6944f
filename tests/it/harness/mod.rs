//! Test harness: runs the real `dum` binary against the real Docker engine and real
//! registries (Debian's `docker-registry`, plus a stdlib-Python token issuer).
//!
//! Tests never skip: when a prerequisite is missing the harness panics with what is
//! missing and how it failed. Everything the harness creates in Docker carries the
//! label [`LABEL`], and every helper process is tied to the test process by a
//! watchdog, so nothing outlives a test run (`scripts/test` also sweeps both).
//!
//! Typical test:
//!
//! ```ignore
//! let reg = harness::registry::anon();
//! let app = Image::new(reg, "app");
//! let v1 = app.clone().version("v1.0.0").build_and_push();
//! let _v2 = app.clone().version("v1.1.0").also_tag("latest").build_and_push();
//! let c = Container::run("app", &v1.reference, &[]);
//! let out = Dum::new().config_json(json!({ ... })).run(&["check", "--format", "json"]);
//! out.assert_code(100);
//! ```

// The harness is a toolbox; not every test file uses every tool.
#![allow(dead_code, unused_imports)]

pub mod container;
pub mod dum;
pub mod http;
pub mod image;
pub mod registry;

pub use container::{Container, Network, Volume};
pub use dum::{Dum, Output};
pub use image::{Image, Pushed};
pub use registry::{Kind, Registry};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Label (key) carried by every container, image, network and volume the tests create.
pub const LABEL: &str = "dum-test";

/// `--label` argument value for docker commands.
pub const LABEL_ARG: &str = "dum-test=1";

/// Environment variable naming a directory for the harness' temp dirs (set by
/// `scripts/test` so one `rm -rf` removes whatever a crashed run left).
pub const TMPDIR_ENV: &str = "DUM_TEST_TMPDIR";

/// Environment variable naming a directory where the harness records the pid of every
/// helper process it starts (one file per pid), so `scripts/test` can kill leftovers
/// by pid.
pub const PIDDIR_ENV: &str = "DUM_TEST_PIDDIR";

/// Panics with `docker info`'s stderr unless the Docker engine answers.
///
/// Called by every fixture that needs the engine; checked once per process.
pub fn docker_ready() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let out = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run `docker info` (is the docker CLI installed?): {e}")
            });
        assert!(
            out.status.success(),
            "the Docker engine is unreachable; integration tests need it (run scripts/test, \
             which starts dockerd).\n`docker info` exited with {}:\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// Short lowercase id of this test process, used to make names unique across runs.
pub fn run_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        format!(
            "{:06x}",
            (nanos ^ std::process::id().rotate_left(12)) & 0xff_ffff
        )
    })
}

/// A name unique within this run and across runs: `<run id>-<counter>-<hint>`,
/// lowercased, with characters Docker does not accept replaced by `-`.
pub fn unique(hint: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let hint: String = hint
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{}-{n}-{}", run_id(), hint.trim_matches('-'))
}

/// Path of a file in `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A fresh temp dir (under `$DUM_TEST_TMPDIR` when set), removed on drop.
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    match std::env::var_os(TMPDIR_ENV) {
        Some(base) => {
            fs::create_dir_all(&base).unwrap();
            builder.tempdir_in(base).unwrap()
        }
        None => builder.tempdir().unwrap(),
    }
}

/// Runs `docker ARGS`, panics with stdout/stderr on failure, returns trimmed stdout.
pub fn docker(args: &[&str]) -> String {
    let mut cmd = Command::new("docker");
    cmd.args(args);
    run(&mut cmd)
}

/// Runs `docker ARGS` and returns the raw output, whatever the exit status.
pub fn docker_output(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker {args:?}: {e}"))
}

/// Runs a command, panics with its stdout/stderr unless it succeeds, returns trimmed
/// stdout.
pub fn run(cmd: &mut Command) -> String {
    cmd.stdin(Stdio::null());
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A helper process (registry, token server) plus the watchdog that kills it when the
/// test process goes away, however it goes away.
pub struct Watched {
    child: Child,
    watchdog: Child,
    pid_file: Option<PathBuf>,
}

impl Watched {
    /// Starts `cmd` with stdout and stderr appended to `log`, and a watchdog that kills
    /// it once this process is gone, then removes `cleanup_dir` (if given).
    pub fn spawn(mut cmd: Command, log: &Path, cleanup_dir: Option<&Path>) -> Watched {
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("cannot open log {}: {e}", log.display()));
        let err = out.try_clone().unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        // Polling beats PR_SET_PDEATHSIG here: it needs no unsafe code and also
        // covers SIGKILL of the test process.
        let script = "while kill -0 \"$1\" 2>/dev/null && kill -0 \"$2\" 2>/dev/null; do sleep 1; done; \
                      kill \"$2\" 2>/dev/null; \
                      if [ -n \"$3\" ] && ! kill -0 \"$1\" 2>/dev/null; then sleep 1; rm -rf \"$3\"; fi";
        let watchdog = Command::new("sh")
            .args(["-c", script, "dum-test-watchdog"])
            .arg(std::process::id().to_string())
            .arg(child.id().to_string())
            .arg(cleanup_dir.map(|d| d.as_os_str()).unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start watchdog sh: {e}"));
        let pid_file = std::env::var_os(PIDDIR_ENV).map(|dir| {
            let path = Path::new(&dir).join(child.id().to_string());
            let _ = fs::create_dir_all(&dir);
            let _ = fs::write(&path, format!("{cmd:?}\n"));
            path
        });
        Watched {
            child,
            watchdog,
            pid_file,
        }
    }

    /// Process id of the watched process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` once the watched process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
        if let Some(path) = &self.pid_file {
            let _ = fs::remove_file(path);
        }
    }
}
