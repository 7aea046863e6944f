//! Running a lifecycle hook (`config::hooks`): a command on the host (a child process in
//! its own process group, killed with it at the timeout) or inside a container (the
//! Engine's exec API), with the move described in `DUM_*` variables. Its output goes to
//! the log line by line and, truncated, to the history.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::hooks::{Hook, Phase, Place, SKIP_EXIT_CODE};
use crate::docker::Engine;
use crate::fault;
use crate::store::history::HookRun;
use crate::update::plan::Move;

/// Bytes of a hook's output kept in memory (its tail): the log gets every line of it.
const KEEP: usize = 64 * 1024;

/// Lines and characters of a hook's output the history and the report keep (its tail).
const HISTORY_LINES: usize = 20;
const HISTORY_CHARS: usize = 2_000;

/// How a hook ended, for the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Exit 0.
    Passed,
    /// A `pre_update` hook's exit 75: not this run.
    Skip,
    /// Anything else, said as one line (exit code or timeout, and the last output line).
    Failed(String),
}

/// The `DUM_*` environment of a hook for `mv` in `phase`.
pub fn environment(mv: &Move, phase: Phase) -> Vec<(String, String)> {
    let or_empty = |v: &Option<String>| v.clone().unwrap_or_default();
    vec![
        ("DUM_CONTAINER".into(), mv.container.clone()),
        ("DUM_IMAGE".into(), mv.image.clone()),
        ("DUM_FROM_VERSION".into(), or_empty(&mv.change.from.version)),
        ("DUM_TO_VERSION".into(), or_empty(&mv.change.to.version)),
        ("DUM_FROM_DIGEST".into(), or_empty(&mv.change.from.digest)),
        ("DUM_TO_DIGEST".into(), or_empty(&mv.change.to.digest)),
        ("DUM_PHASE".into(), phase.as_str().into()),
    ]
}

/// Runs `hook` for `mv`; `container` is the container (ID or name) a container hook
/// runs in (`None` for a Swarm service, whose tasks may run on other nodes). Never
/// fails: a hook that cannot be run is a failed hook.
pub fn run(
    engine: &dyn Engine,
    hook: &Hook,
    phase: Phase,
    mv: &Move,
    container: Option<&str>,
) -> HookRun {
    let env = environment(mv, phase);
    let timeout = Duration::from_secs(hook.timeout_seconds);
    log::info!(
        "{}: running the {} hook ({}): {}",
        mv.container,
        phase.as_str(),
        place(hook.place),
        hook.argv.join(" ")
    );
    let ended = match hook.place {
        Place::Host => host(&hook.argv, &env, timeout, phase),
        Place::Container => match container {
            None => Err("a container hook needs a container, and a Swarm service's tasks may run on any node: use a host hook".to_string()),
            Some(container) => {
            let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            fault::point(&format!("{}-hook", phase.as_str()));
            engine
                .exec(container, &hook.argv, &env, timeout)
                .map(|e| (e.exit_code, e.exit_code.is_none(), e.output))
                .map_err(|e| format!("{e:#}"))
        }
        },
    };
    let (exit_code, timed_out, output, error) = match ended {
        Ok((code, timed_out, output)) => (code, timed_out, output, None),
        Err(e) => (None, false, String::new(), Some(e)),
    };
    for line in output.lines().filter(|l| !l.trim().is_empty()) {
        log::info!("{}: {} hook: {line}", mv.container, phase.as_str());
    }
    let record = HookRun {
        phase: phase.as_str().into(),
        place: place(hook.place).into(),
        exit_code,
        timed_out,
        timeout_seconds: hook.timeout_seconds,
        output: tail(&output),
        error,
    };
    match verdict(&record, phase) {
        Verdict::Passed => log::info!("{}: the {} hook passed", mv.container, phase.as_str()),
        Verdict::Skip => log::info!(
            "{}: the {} hook asked to skip this update (exit {SKIP_EXIT_CODE})",
            mv.container,
            phase.as_str()
        ),
        Verdict::Failed(why) => log::warn!("{}: {why}", mv.container),
    }
    record
}

fn place(place: Place) -> &'static str {
    match place {
        Place::Host => "host",
        Place::Container => "container",
    }
}

/// What `run` means for the transaction in `phase`.
pub fn verdict(run: &HookRun, phase: Phase) -> Verdict {
    let last = run
        .output
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| format!(": {l}"))
        .unwrap_or_default();
    let name = phase.as_str();
    match (run.exit_code, &run.error) {
        (Some(0), _) => Verdict::Passed,
        (Some(SKIP_EXIT_CODE), _) if phase == Phase::PreUpdate => Verdict::Skip,
        (Some(code), _) => Verdict::Failed(format!("the {name} hook exited with {code}{last}")),
        (None, Some(e)) => Verdict::Failed(format!("the {name} hook could not run: {e}")),
        (None, None) if run.timed_out => Verdict::Failed(format!(
            "the {name} hook timed out after {} s{last}",
            run.timeout_seconds
        )),
        (None, None) => Verdict::Failed(format!("the {name} hook was killed by a signal{last}")),
    }
}

/// The last [`HISTORY_LINES`] non-empty lines of `output`, at most [`HISTORY_CHARS`]
/// characters (cut at a character, never inside one).
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    let kept = lines[lines.len().saturating_sub(HISTORY_LINES)..].join("\n");
    let count = kept.chars().count();
    if count <= HISTORY_CHARS {
        return kept;
    }
    let cut: String = kept.chars().skip(count - HISTORY_CHARS).collect();
    format!("…{cut}")
}

/// Runs `argv` on the host in a process group of its own with `env` added, stdout and
/// stderr read from one pipe; kills the group at `timeout`. The exit code (`None` after
/// a signal), whether it timed out, and the output's last [`KEEP`] bytes.
fn host(
    argv: &[String],
    env: &[(String, String)],
    timeout: Duration,
    phase: Phase,
) -> Result<(Option<i64>, bool, String), String> {
    use std::os::unix::process::CommandExt;
    let (program, args) = argv.split_first().ok_or("the hook has no program")?;
    let (mut reader, writer) =
        std::io::pipe().map_err(|e| format!("cannot make a pipe for its output: {e}"))?;
    let stderr = writer
        .try_clone()
        .map_err(|e| format!("cannot make a pipe for its output: {e}"))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(stderr)
        // Its own group: `sh -c` children die with it at the timeout.
        .process_group(0);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    // The pipe ends only when every writer is closed: the command keeps its copies.
    drop(command);
    let (sender, output) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut chunk = [0u8; 8192];
        while let Ok(n) = reader.read(&mut chunk) {
            if n == 0 {
                break;
            }
            kept.extend_from_slice(&chunk[..n]);
            let excess = kept.len().saturating_sub(KEEP);
            kept.drain(..excess);
        }
        let _ = sender.send(kept);
    });
    fault::point(&format!("{}-hook", phase.as_str()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("cannot wait for {program}: {e}")),
        }
    };
    if status.is_none() {
        kill_group(child.id());
        let _ = child.kill();
        let _ = child.wait();
    }
    // A process that left the group (setsid) may hold the pipe open: its output is
    // not waited for beyond a moment.
    let bytes = output
        .recv_timeout(Duration::from_secs(2))
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok((
        status.and_then(|s| s.code()).map(i64::from),
        status.is_none(),
        text,
    ))
}

/// SIGKILL to the process group `pgid`: the hook and whatever it started.
fn kill_group(pgid: u32) {
    use rustix::process::{Pid, Signal, kill_process_group};
    let killed = i32::try_from(pgid)
        .ok()
        .and_then(Pid::from_raw)
        .map(|pid| kill_process_group(pid, Signal::KILL));
    if let Some(Err(e)) = killed {
        log::debug!("cannot kill the hook's process group {pgid}: {e}");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    #[test]
    fn a_host_command_gets_its_environment_and_output() {
        let env = vec![("DUM_PHASE".to_string(), "pre_update".to_string())];
        let (code, _, output) = host(
            &sh("echo out $DUM_PHASE; echo err >&2; exit 3"),
            &env,
            Duration::from_secs(10),
            Phase::PreUpdate,
        )
        .unwrap();
        assert_eq!(code, Some(3));
        assert_eq!(output, "out pre_update\nerr\n");
    }

    #[test]
    fn a_host_command_is_killed_with_its_children_at_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("late");
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let started = Instant::now();
        let (code, timed_out, _) = host(
            &sh(&script),
            &[],
            Duration::from_millis(300),
            Phase::PreUpdate,
        )
        .unwrap();
        assert_eq!(code, None);
        assert!(timed_out);
        assert!(started.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(2500));
        assert!(!marker.exists(), "the group was not killed");
    }

    #[test]
    fn a_missing_program_is_an_error() {
        let err = host(
            &["/nonexistent/hook".to_string()],
            &[],
            Duration::from_secs(1),
            Phase::PreUpdate,
        )
        .unwrap_err();
        assert!(err.contains("cannot start /nonexistent/hook"), "{err}");
    }

    #[test]
    fn verdicts_by_phase_and_exit() {
        let run = |exit_code, output: &str, error: Option<&str>| HookRun {
            phase: String::new(),
            place: "host".into(),
            exit_code,
            timed_out: exit_code.is_none() && error.is_none(),
            timeout_seconds: 7,
            output: output.into(),
            error: error.map(str::to_string),
        };
        let cases = [
            (run(Some(0), "", None), Phase::PreUpdate, Verdict::Passed),
            (run(Some(75), "busy", None), Phase::PreUpdate, Verdict::Skip),
            (
                run(Some(75), "", None),
                Phase::PostUpdate,
                Verdict::Failed("the post_update hook exited with 75".into()),
            ),
            (
                run(Some(2), "one\ntwo\n\n", None),
                Phase::PreUpdate,
                Verdict::Failed("the pre_update hook exited with 2: two".into()),
            ),
            (
                run(None, "half", None),
                Phase::PostUpdate,
                Verdict::Failed("the post_update hook timed out after 7 s: half".into()),
            ),
            (
                run(None, "", Some("cannot start x")),
                Phase::PreUpdate,
                Verdict::Failed("the pre_update hook could not run: cannot start x".into()),
            ),
        ];
        for (record, phase, want) in cases {
            assert_eq!(verdict(&record, phase), want, "{record:?}");
        }
    }

    #[test]
    fn the_history_keeps_the_tail() {
        let many: String = (0..50).map(|i| format!("line {i}\n")).collect();
        let kept = tail(&many);
        assert!(kept.starts_with("line 30\n"), "{kept}");
        assert!(kept.ends_with("line 49"), "{kept}");
        let wide = "é".repeat(5000);
        let kept = tail(&wide);
        assert_eq!(kept.chars().count(), HISTORY_CHARS + 1);
    }
}
