//! What a user left running is never lost: containers the engine removes by itself
//! (`--rm`), a run killed while the engine is still stopping the old container, paused
//! containers. Real engine, real registry, real SIGKILLs.

use crate::harness::{Container, Dum, Image, Pushed, docker, registry};
use serde_json::{Value, json};
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

/// Runs forever, exits at once on SIGTERM.
const SERVE: &[&str] = &[
    "sh",
    "-c",
    "echo up; trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done",
];

/// v1 serves; v2 either serves too or exits at once with "boom".
fn versions(name: &str, v2_works: bool) -> (Image<'static>, Pushed, Pushed) {
    let image = Image::new(registry::anon(), name).volume("/data");
    let v1 = image.clone().version("1.0.0").cmd(SERVE).build_and_push();
    let v2_cmd: &[&str] = if v2_works {
        SERVE
    } else {
        &["sh", "-c", "echo boom; exit 3"]
    };
    let v2 = image
        .clone()
        .version("2.0.0")
        .cmd(v2_cmd)
        .keep_local(false)
        .build_and_push();
    (image, v1, v2)
}

fn dum_for(image: &Image, extra: Value) -> Dum {
    let mut entry = json!({
        "image": image.name(), "regex": "^[0-9]+\\.[0-9]+\\.[0-9]+$",
        "grace_seconds": 2, "health_timeout_seconds": 20,
    });
    for (k, v) in extra.as_object().unwrap() {
        entry[k] = v.clone();
    }
    Dum::new().config_json(json!({"images": [entry]}))
}

fn exec(container: &str, cmd: &str) -> String {
    docker(&["exec", container, "sh", "-c", cmd])
        .trim()
        .to_string()
}

/// Every container whose name starts with `name` (the container, a backup, a leftover).
fn named_like(name: &str) -> String {
    docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Names}} {{.State}}",
    ])
    .trim()
    .to_string()
}

fn last_history(dum: &Dum) -> Value {
    let out = dum.run(&["history", "--format", "json"]);
    out.assert_code(0);
    out.json()["entries"]
        .as_array()
        .unwrap()
        .last()
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn an_autoremove_container_is_updated_and_keeps_its_data() {
    let (image, v1, v2) = versions("rmok", true);
    let c = Container::run("rmok", &v1.reference, &["--rm", "-e", "KEEP=1"]);
    exec(c.name(), "echo kept > /data/file");
    let dum = dum_for(&image, json!({}));
    let out = dum.run(&["update", c.name()]);
    out.assert_code(101);
    let now = c.inspect();
    assert_eq!(now["Config"]["Image"], image.reference("2.0.0"));
    assert_eq!(now["HostConfig"]["AutoRemove"], true, "still --rm");
    assert_eq!(now["State"]["Running"], true);
    assert_eq!(exec(c.name(), "cat /data/file"), "kept", "anonymous volume");
    assert_eq!(named_like(c.name()), format!("{} running", c.name()));
    let last = last_history(&dum);
    assert_eq!(last["result"], "updated", "{last}");
    assert_eq!(last["to_digest"], v2.digest.as_str());
    assert_eq!(dum.state().unwrap()["journal"], json!([]));
}

/// Issue 15.1: the engine removed the stopped old `--rm` container, restoring failed,
/// and every later run exited 1 forever.
#[test]
fn an_autoremove_container_survives_a_failed_update() {
    let (image, v1, _) = versions("rmfail", false);
    let c = Container::run("rmfail", &v1.reference, &["--rm", "-e", "KEEP=1"]);
    exec(c.name(), "echo kept > /data/file");
    let before = c.inspect();
    let dum = dum_for(&image, json!({}));
    let out = dum.run(&["update", c.name()]);
    out.assert_code(1);
    assert!(out.stdout.contains("ROLLED BACK"), "{out:?}");
    let last = last_history(&dum);
    assert_eq!(last["result"], "rolled_back", "{last}");
    let reason = last["reason"].as_str().unwrap();
    // The new container removed itself: its output still reaches the report.
    assert!(reason.contains("boom"), "{reason}");
    assert!(reason.contains("exit code 3"), "{reason}");
    let now = c.inspect();
    assert_eq!(now["State"]["Running"], true, "{}", now["State"]);
    assert_eq!(now["Config"]["Image"], v1.reference.as_str());
    assert_eq!(now["Image"], before["Image"]);
    assert_eq!(now["HostConfig"]["AutoRemove"], true);
    assert!(
        now["Config"]["Env"]
            .as_array()
            .unwrap()
            .contains(&json!("KEEP=1"))
    );
    assert_eq!(exec(c.name(), "cat /data/file"), "kept", "anonymous volume");
    assert_eq!(named_like(c.name()), format!("{} running", c.name()));
    assert_eq!(dum.state().unwrap()["journal"], json!([]));
    // Later runs are not stuck on an unconvergeable journal.
    let next = dum.run(&["check", c.name()]);
    assert_eq!(next.code, 100, "{next:?}");
}

/// A `--rm` container whose update fails is created again by the rollback (the engine
/// removed the old one): a container in its network namespace (`--network
/// container:`) must end up in the restored container's namespace, running.
#[test]
fn a_rolled_back_autoremove_container_takes_its_dependent_along() {
    let (image, v1, _) = versions("rmdep", false);
    let c = Container::run("rmdep", &v1.reference, &["--rm"]);
    let side = Container::run_cmd(
        "rmdep-side",
        crate::harness::image::base(),
        &["--network", &format!("container:{}", c.name())],
        SERVE,
    );
    let dum = dum_for(&image, json!({}));
    let out = dum.run(&["update", c.name()]);
    out.assert_code(1);
    assert!(out.stdout.contains("ROLLED BACK"), "{out:?}");
    let now = c.inspect();
    assert_eq!(now["State"]["Running"], true, "{}", now["State"]);
    assert_eq!(now["Config"]["Image"], v1.reference.as_str());
    let dep = side.inspect();
    assert_eq!(dep["State"]["Running"], true, "{}", dep["State"]);
    let mode = dep["HostConfig"]["NetworkMode"].as_str().unwrap_or("");
    assert!(
        mode == format!("container:{}", now["Id"].as_str().unwrap_or(""))
            || mode == format!("container:{}", c.name()),
        "{mode}"
    );
    assert_eq!(netns(&dep), netns(&now), "the same network namespace");
    assert_eq!(dum.state().unwrap()["journal"], json!([]));
}

fn netns(inspect: &Value) -> String {
    let pid = inspect["State"]["Pid"].as_u64().unwrap();
    std::fs::read_link(format!("/proc/{pid}/ns/net"))
        .unwrap()
        .display()
        .to_string()
}

/// SIGKILL at every step of an update of a `--rm` container, one that verifies and one
/// that fails: the next run leaves exactly one container, running, with its data.
#[test]
fn an_autoremove_container_killed_at_every_step_converges() {
    crate::harness::dum::require_fault_injection();
    let (good, good_v1, _) = versions("rmcrash", true);
    let (bad, bad_v1, _) = versions("rmcrashrb", false);
    let mut converged = 0;
    for &point in dum::fault::POINTS {
        let rolling_back = point == "rolling-back";
        let (image, v1) = if rolling_back {
            (&bad, &bad_v1)
        } else {
            (&good, &good_v1)
        };
        let dum = dum_for(image, json!({}));
        let c = Container::run(&format!("rmcrash-{point}"), &v1.reference, &["--rm"]);
        exec(c.name(), "echo kept > /data/file");
        let killed = dum
            .command(&["update", c.name()])
            .env("DUM_FAULT", point)
            .output()
            .unwrap();
        assert_eq!(
            killed.status.signal(),
            Some(9),
            "{point}: dum should die by SIGKILL: {}",
            String::from_utf8_lossy(&killed.stderr)
        );
        let next = dum.run(&["check", c.name()]);
        assert!(next.code == 0 || next.code == 100, "{point}: {next:?}");
        assert_eq!(
            named_like(c.name()),
            format!("{} running", c.name()),
            "{point}: exactly one container, running"
        );
        let now = c.inspect();
        assert_eq!(now["HostConfig"]["AutoRemove"], true, "{point}");
        let want = if matches!(point, "verified" | "backup-removed" | "following") {
            image.reference("2.0.0")
        } else {
            v1.reference.clone()
        };
        assert_eq!(now["Config"]["Image"], want.as_str(), "{point}");
        assert_eq!(exec(c.name(), "cat /data/file"), "kept", "{point}: data");
        assert_eq!(dum.state().unwrap()["journal"], json!([]), "{point}");
        converged += 1;
    }
    assert_eq!(converged, dum::fault::POINTS.len());
}

/// Issue 15.2: dum killed while dockerd is still stopping the old container (its PID 1
/// ignores SIGTERM, so the stop waits for its timeout). The next run must not report the
/// old container restored and then watch the engine's pending stop kill it.
#[test]
fn a_kill_during_an_in_flight_stop_leaves_the_container_running() {
    let image = Image::new(registry::anon(), "slowstop");
    let ignore_term: &[&str] = &[
        "sh",
        "-c",
        "echo up; trap '' TERM; while :; do sleep 1 & wait $!; done",
    ];
    let v1 = image
        .clone()
        .version("1.0.0")
        .cmd(ignore_term)
        .build_and_push();
    image
        .clone()
        .version("2.0.0")
        .cmd(ignore_term)
        .keep_local(false)
        .build_and_push();
    let c = Container::run(
        "slowstop",
        &v1.reference,
        &["--restart", "unless-stopped", "--stop-timeout", "6"],
    );
    let dum = dum_for(&image, json!({}));
    let running = dum.spawn(&["update", c.name()]);
    // Wait until the journal says the stop is under way, then kill dum in the middle of
    // the engine's 6 s stop.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let step = dum
            .state()
            .and_then(|s| s["journal"].get(0).map(|t| t["step"].clone()));
        if step == Some(json!("stopping")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the update never reached the stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(2));
    nix_kill(running.pid());
    let out = running.wait();
    assert_eq!(out.code, -1, "dum was killed: {out:?}");
    let next = dum.run(&["check", c.name()]);
    assert!(next.code == 0 || next.code == 100, "{next:?}");
    // Outlast the engine's pending stop (6 s from its start) by a margin.
    std::thread::sleep(Duration::from_secs(8));
    let now = c.inspect();
    assert_eq!(
        now["State"]["Running"], true,
        "the old container must stay up after convergence: {}",
        now["State"]
    );
    assert_eq!(now["Config"]["Image"], v1.reference.as_str());
    assert_eq!(named_like(c.name()), format!("{} running", c.name()));
    assert_eq!(dum.state().unwrap()["journal"], json!([]));
}

fn nix_kill(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Issue 15.5: a paused container came back running after a failed update.
#[test]
fn a_paused_container_stays_paused() {
    let (bad, bad_v1, _) = versions("pausefail", false);
    let c = Container::run("pausefail", &bad_v1.reference, &[]);
    docker(&["pause", c.name()]);
    let dum = dum_for(&bad, json!({"auto_update": true}));
    // Not named: a paused container is left alone, and the report says why.
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(0);
    let skipped = &out.json()["skipped"];
    assert_eq!(skipped[0]["container"], c.name(), "{skipped}");
    assert!(
        skipped[0]["reason"].as_str().unwrap().contains("paused"),
        "{skipped}"
    );
    assert_eq!(c.inspect()["State"]["Paused"], true);
    // Named: updated; the failed new version is rolled back to the paused old one.
    let out = dum.run(&["update", c.name()]);
    out.assert_code(1);
    let now = c.inspect();
    assert_eq!(now["Config"]["Image"], bad_v1.reference.as_str());
    assert_eq!(now["State"]["Paused"], true, "{}", now["State"]);
    assert_eq!(named_like(c.name()), format!("{} paused", c.name()));

    // A working new version: verified running, then paused as the user left it.
    let (good, good_v1, _) = versions("pauseok", true);
    let c = Container::run("pauseok", &good_v1.reference, &[]);
    docker(&["pause", c.name()]);
    let dum = dum_for(&good, json!({}));
    dum.run(&["update", c.name()]).assert_code(101);
    let now = c.inspect();
    assert_eq!(now["Config"]["Image"], good.reference("2.0.0"));
    assert_eq!(now["State"]["Paused"], true, "{}", now["State"]);
}
