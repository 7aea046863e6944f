//! Lifecycle hooks (`hooks` in an image entry, `dum.hooks.*` labels): `pre_update` in
//! the old container writing a dump into a named volume, a veto, a skip (exit 75), a
//! timeout on the host and in the container, a failing `post_update` rolled back with
//! `post_rollback` told, a host hook's environment, bad definitions refused at
//! validation, and SIGKILLs while a hook runs. Real engine, real registry, real dum.
//! The `dum.hooks.*` labels are tested in `labels.rs`, which runs alone.

use crate::harness::{Container, Dum, Image, Pushed, Volume, docker, registry, temp_dir};
use serde_json::{Value, json};
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

/// Runs forever, exits at once on SIGTERM.
const SERVE: &[&str] = &[
    "sh",
    "-c",
    "echo up; trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done",
];

/// Two working versions of an image.
fn versions(name: &str) -> (Image<'static>, Pushed, Pushed) {
    let image = Image::new(registry::anon(), name);
    let v1 = image.clone().version("1.0.0").cmd(SERVE).build_and_push();
    let v2 = image
        .clone()
        .version("2.0.0")
        .cmd(SERVE)
        .keep_local(false)
        .build_and_push();
    (image, v1, v2)
}

/// A dum whose entry for `image` has `hooks`.
fn dum_with(image: &Image, hooks: Value) -> Dum {
    Dum::new().config_json(json!({"images": [{
        "image": image.name(), "regex": "^[0-9]+\\.[0-9]+\\.[0-9]+$",
        "grace_seconds": 1, "health_timeout_seconds": 20, "hooks": hooks,
    }]}))
}

fn exec(container: &str, cmd: &str) -> String {
    docker(&["exec", container, "sh", "-c", cmd])
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

/// The container still runs v1 as the very same container, alone under its name.
fn untouched(c: &Container, id: &str, v1: &Pushed) {
    let now = c.inspect();
    assert_eq!(now["Id"], id, "the same container");
    assert_eq!(now["State"]["Running"], true, "{}", now["State"]);
    assert_eq!(now["Config"]["Image"], v1.reference.as_str());
    assert_eq!(now["RestartCount"], 0);
    let backups = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={}-dum-backup", c.name()),
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(backups.trim(), "", "no backup left");
}

#[test]
fn an_in_container_pre_update_hook_dumps_into_a_named_volume() {
    let (image, v1, v2) = versions("hookdump");
    let volume = Volume::create("hookdump");
    let mount = format!("{}:/backup", volume.name());
    let c = Container::run("hookdump", &v1.reference, &["-v", &mount]);
    exec(c.name(), "echo precious > /backup/data");
    let dum = dum_with(
        &image,
        json!({"pre_update": {"container": ["sh", "-c",
            "echo dumping $DUM_PHASE; cat /backup/data > /backup/dump-$DUM_FROM_VERSION.sql; echo to=$DUM_TO_VERSION >> /backup/dump-$DUM_FROM_VERSION.sql"]}}),
    );
    let out = dum.run(&["update", c.name(), "--format", "json"]);
    out.assert_code(101);
    let doc = out.json();
    let update = &doc["updates"][0];
    assert_eq!(update["result"], "updated", "{update}");
    let hook = &update["hooks"][0];
    assert_eq!(hook["phase"], "pre_update", "{hook}");
    assert_eq!(hook["where"], "container", "{hook}");
    assert_eq!(hook["exit_code"], 0, "{hook}");
    assert_eq!(hook["output"], "dumping pre_update", "{hook}");
    // The dump, written by the old container, is in the volume the new one mounts.
    let now = c.inspect();
    assert_eq!(now["Config"]["Image"], image.reference("2.0.0"));
    assert_eq!(
        exec(c.name(), "cat /backup/dump-1.0.0.sql"),
        "precious\nto=2.0.0"
    );
    let last = last_history(&dum);
    assert_eq!(last["result"], "updated", "{last}");
    assert_eq!(last["to_digest"], v2.digest.as_str());
    assert_eq!(last["hooks"][0]["output"], "dumping pre_update", "{last}");
    assert_eq!(dum.state().unwrap()["journal"], json!([]));
}

#[test]
fn a_failing_pre_update_hook_vetoes_the_update() {
    let (image, v1, _) = versions("hookveto");
    let c = Container::run("hookveto", &v1.reference, &[]);
    let id = c.inspect()["Id"].as_str().unwrap().to_string();
    let dum = dum_with(
        &image,
        // One stream: the engine keeps no order between a command's stdout and stderr.
        json!({"pre_update": {"container": ["sh", "-c",
            "echo checking replicas >&2; echo replica lag too high >&2; exit 3"]}}),
    );
    let out = dum.run(&["update", c.name(), "--format", "json"]);
    out.assert_code(1);
    let update = &out.json()["updates"][0];
    assert_eq!(update["result"], "failed", "{update}");
    let error = update["error"].as_str().unwrap();
    assert!(
        error.contains("the pre_update hook exited with 3: replica lag too high"),
        "{error}"
    );
    untouched(&c, &id, &v1);
    let last = last_history(&dum);
    assert_eq!(last["result"], "failed", "{last}");
    assert_eq!(last["hooks"][0]["exit_code"], 3, "{last}");
    // The table says it too.
    let out = dum.run(&["update", c.name()]);
    out.assert_code(1);
    out.assert_stdout_contains("replica lag too high");
}

#[test]
fn exit_75_skips_the_update_quietly() {
    let (image, v1, _) = versions("hookskip");
    let c = Container::run("hookskip", &v1.reference, &[]);
    let id = c.inspect()["Id"].as_str().unwrap().to_string();
    let dum = dum_with(
        &image,
        json!({"pre_update": {"host": ["sh", "-c", "echo in a maintenance window; exit 75"]}}),
    );
    let out = dum.run(&["update", c.name(), "--format", "json"]);
    out.assert_code(0);
    let doc = out.json();
    assert_eq!(doc["updates"], json!([]), "{doc}");
    let skipped = &doc["skipped"][0];
    assert_eq!(skipped["container"], c.name(), "{skipped}");
    assert_eq!(skipped["reason"], "skipped by pre_update hook", "{skipped}");
    untouched(&c, &id, &v1);
    let last = last_history(&dum);
    assert_eq!(last["result"], "skipped", "{last}");
    assert_eq!(last["hooks"][0]["exit_code"], 75, "{last}");
    let out = dum.run(&["update", c.name()]);
    out.assert_code(0);
    out.assert_stdout_contains("skipped by pre_update hook");
    // Once the hook lets it, the update goes through.
    dum.write_config(&json!({"images": [{
        "image": image.name(), "regex": "^[0-9]+\\.[0-9]+\\.[0-9]+$", "grace_seconds": 1,
        "hooks": {"pre_update": {"host": ["true"]}},
    }]}));
    dum.run(&["update", c.name()]).assert_code(101);
}

/// A hook that outlives its `timeout_seconds` vetoes the update, on the host (killed
/// with its children) and in the container (left to run: the API cannot kill it).
#[test]
fn a_hook_that_times_out_vetoes_the_update() {
    let (image, v1, _) = versions("hooktime");
    let c = Container::run("hooktime", &v1.reference, &[]);
    let id = c.inspect()["Id"].as_str().unwrap().to_string();
    let dir = temp_dir("dum-test-hooktime-");
    let late = dir.path().join("late");
    let host = json!([
        "sh",
        "-c",
        format!(
            "echo started; (sleep 4; touch {}) & sleep 30",
            late.display()
        )
    ]);
    let container = json!(["sh", "-c", "echo started; sleep 30"]);
    for (place, argv) in [("host", host), ("container", container)] {
        let dum = dum_with(
            &image,
            json!({"pre_update": {place: argv, "timeout_seconds": 2}}),
        );
        let began = Instant::now();
        let out = dum.run(&["update", c.name(), "--format", "json"]);
        out.assert_code(1);
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "{place}: {:?}",
            began.elapsed()
        );
        let update = &out.json()["updates"][0];
        let error = update["error"].as_str().unwrap();
        assert!(
            error.contains("the pre_update hook timed out after 2 s: started"),
            "{place}: {error}"
        );
        assert_eq!(update["hooks"][0]["timed_out"], true, "{place}: {update}");
        untouched(&c, &id, &v1);
    }
    // The host hook's background child died with its process group.
    std::thread::sleep(Duration::from_secs(4));
    assert!(!late.exists(), "the host hook's child outlived the timeout");
}

/// A `post_update` hook that fails is a failed verification: the old container comes
/// back, and the `post_rollback` hook is told.
#[test]
fn a_failing_post_update_hook_rolls_back() {
    let (image, v1, _) = versions("hookpost");
    let c = Container::run("hookpost", &v1.reference, &[]);
    let id = c.inspect()["Id"].as_str().unwrap().to_string();
    let dir = temp_dir("dum-test-hookpost-");
    let told = dir.path().join("told");
    let dum = dum_with(
        &image,
        json!({
            "post_update": {"container": ["sh", "-c", "echo smoke test: HTTP 500; exit 1"]},
            "post_rollback": {"host": ["sh", "-c",
                format!("echo $DUM_PHASE $DUM_FROM_VERSION $DUM_TO_VERSION > {}", told.display())]},
        }),
    );
    let out = dum.run(&["update", c.name(), "--format", "json"]);
    out.assert_code(1);
    let update = &out.json()["updates"][0];
    assert_eq!(update["result"], "rolled_back", "{update}");
    let error = update["error"].as_str().unwrap();
    assert!(
        error.contains("the post_update hook exited with 1: smoke test: HTTP 500"),
        "{error}"
    );
    let phases: Vec<&str> = update["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["post_update", "post_rollback"]);
    untouched(&c, &id, &v1);
    assert_eq!(
        std::fs::read_to_string(&told).unwrap().trim(),
        "post_rollback 1.0.0 2.0.0"
    );
    let last = last_history(&dum);
    assert_eq!(last["result"], "rolled_back", "{last}");
    assert_eq!(dum.state().unwrap()["journal"], json!([]));
}

#[test]
fn a_host_hook_gets_the_move_in_its_environment() {
    let (image, v1, v2) = versions("hookenv");
    let c = Container::run("hookenv", &v1.reference, &[]);
    let dir = temp_dir("dum-test-hookenv-");
    let env = dir.path().join("env");
    let dum = dum_with(
        &image,
        json!({"post_update": {"host": ["sh", "-c",
            format!("env | grep -E '^DUM_(CONTAINER|IMAGE|FROM_|TO_|PHASE)' | sort > {}", env.display())]}}),
    );
    dum.run(&["update", c.name()]).assert_code(101);
    let got = std::fs::read_to_string(&env).unwrap();
    let want = format!(
        "DUM_CONTAINER={}\nDUM_FROM_DIGEST={}\nDUM_FROM_VERSION=1.0.0\nDUM_IMAGE={}\nDUM_PHASE=post_update\nDUM_TO_DIGEST={}\nDUM_TO_VERSION=2.0.0\n",
        c.name(),
        v1.digest,
        image.name(),
        v2.digest
    );
    assert_eq!(got, want);
    assert_eq!(c.inspect()["Config"]["Image"], image.reference("2.0.0"));
}

/// Bad definitions are configuration errors (exit 2) before anything is touched (the
/// `dum.hooks.*` labels are tested with the other labels, alone: `labels.rs`).
#[test]
fn a_bad_hook_definition_is_refused_at_validation() {
    let (image, v1, _) = versions("hookbad");
    let c = Container::run("hookbad", &v1.reference, &[]);
    let bad = [
        (
            json!({"pre_update": {"host": ["true"], "container": ["true"]}}),
            "/images/0/hooks/pre_update: give either host or container, not both",
        ),
        (
            json!({"post_update": {"host": "backup.sh"}}),
            "/images/0/hooks/post_update/host: must be an array",
        ),
        (
            json!({"pre_update": {"host": ["true"], "timeout_seconds": 0}}),
            "/images/0/hooks/pre_update/timeout_seconds: must be at least 1",
        ),
        (
            json!({"post_rollbak": {"host": ["true"]}}),
            "unknown key \"post_rollbak\" (did you mean \"post_rollback\"?)",
        ),
    ];
    for (hooks, want) in bad {
        let dum = dum_with(&image, hooks.clone());
        let out = dum.run(&["validate"]);
        out.assert_code(2);
        out.assert_stderr_contains(want);
        dum.run(&["update", c.name()]).assert_code(2);
    }
}

/// SIGKILL while a hook runs: during `pre_update` nothing was touched and the next run
/// only clears the journal; during `post_update` the update was never confirmed, so the
/// next run rolls it back.
#[test]
fn a_run_killed_during_a_hook_converges() {
    crate::harness::dum::require_fault_injection();
    for point in dum::fault::HOOK_POINTS {
        let phase = point.trim_end_matches("-hook");
        let short = phase.split('_').next().unwrap();
        let (image, v1, _) = versions(&format!("hookkill-{short}"));
        let c = Container::run("hookkill", &v1.reference, &[]);
        let id = c.inspect()["Id"].as_str().unwrap().to_string();
        let dum = dum_with(&image, json!({phase: {"host": ["sh", "-c", "sleep 3"]}}));
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
        let journal = dum.state().unwrap()["journal"].clone();
        let step = if phase == "pre_update" {
            "pre_update"
        } else {
            "post_update"
        };
        assert_eq!(journal[0]["step"], step, "{point}: {journal}");
        let next = dum.run(&["check", c.name()]);
        assert_eq!(next.code, 100, "{point}: {next:?}");
        assert_eq!(dum.state().unwrap()["journal"], json!([]), "{point}");
        let last = last_history(&dum);
        if phase == "pre_update" {
            untouched(&c, &id, &v1);
            assert_eq!(last["result"], "failed", "{point}: {last}");
            assert!(
                last["reason"].as_str().unwrap().contains("pre_update hook"),
                "{last}"
            );
        } else {
            // Rolled back to the old container itself.
            untouched(&c, &id, &v1);
            assert_eq!(last["result"], "rolled_back", "{point}: {last}");
            assert!(
                last["reason"].as_str().unwrap().contains("PostUpdate"),
                "{last}"
            );
        }
        // And the next update goes through.
        dum.run(&["update", c.name()]).assert_code(101);
    }
}
