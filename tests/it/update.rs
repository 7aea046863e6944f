//! `dum update`, `dum rollback`, `dum history`: real pulls, real recreation, real
//! verification and rollback against the local engine and registry.

use crate::harness::{
    Container, Dum, Image, Network, Pushed, Volume, docker, docker_output, registry,
};
use serde_json::{Value, json};
use std::os::unix::process::ExitStatusExt;

/// Two versions of one app: v2 changes an env default, the CMD and a label.
struct App<'r> {
    image: Image<'r>,
    v1: Pushed,
    v2: Pushed,
}

fn app(name: &str) -> App<'static> {
    let base = Image::new(registry::anon(), name);
    let v1 = base
        .clone()
        .version("1.0.0")
        .env("MODE", "one")
        .env("DEFAULT_ONLY", "a")
        .label("img.version", "1")
        .volume("/data")
        .cmd(&[
            "sh",
            "-c",
            "echo v1; trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done",
        ])
        .build_and_push();
    let v2 = base
        .clone()
        .version("2.0.0")
        .env("MODE", "two")
        .env("DEFAULT_ONLY", "b")
        .label("img.version", "2")
        .volume("/data")
        .cmd(&[
            "sh",
            "-c",
            "echo v2; trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done",
        ])
        .keep_local(false)
        .build_and_push();
    App {
        image: base,
        v1,
        v2,
    }
}

fn config(app: &App, extra: Value) -> Value {
    let mut entry = json!({
        "image": app.image.name(),
        "regex": "^[0-9]+\\.[0-9]+\\.[0-9]+$",
        "grace_seconds": 1,
        "health_timeout_seconds": 20,
    });
    if let (Some(e), Some(x)) = (entry.as_object_mut(), extra.as_object()) {
        for (k, v) in x {
            e.insert(k.clone(), v.clone());
        }
    }
    json!({"images": [entry]})
}

fn exec(container: &str, cmd: &str) -> String {
    docker(&["exec", container, "sh", "-c", cmd])
        .trim()
        .to_string()
}

fn env_of(inspect: &Value) -> Vec<String> {
    let mut env: Vec<String> = inspect["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    env.sort();
    env
}

fn history(dum: &Dum) -> Vec<Value> {
    let out = dum.run(&["history", "--format", "json"]);
    out.assert_code(0);
    out.json()["entries"].as_array().unwrap().clone()
}

#[test]
fn update_keeps_every_user_setting_and_takes_the_new_image_defaults() {
    let app = app("keep");
    let front = Network::create("front");
    docker(&["network", "rm", front.name()]);
    // 172.16.x: outside Docker's default address pools (172.17-31.x, 192.168.x), so no
    // network another test (or run) has the engine allocate can overlap it.
    docker(&[
        "network",
        "create",
        "--label",
        "dum-test=1",
        "--subnet",
        "172.16.77.0/24",
        front.name(),
    ]);
    let back = Network::create("back");
    let named = Volume::create("named");
    let c = Container::run(
        "keep",
        &app.v1.reference,
        &[
            "-e",
            "USER_SET=x",
            "-e",
            "MODE=override",
            "-l",
            "user.label=y",
            "-p",
            "127.0.0.1:0:8080",
            "-v",
            &format!("{}:/named", named.name()),
            "--network",
            front.name(),
            "--ip",
            "172.16.77.20",
            "--mac-address",
            "02:42:ac:10:4d:14",
            "--network-alias",
            "web",
            "--restart",
            "unless-stopped",
            "--cap-add",
            "NET_ADMIN",
            "--cap-drop",
            "MKNOD",
            "--ulimit",
            "nofile=1024:2048",
            "--hostname",
            "keephost",
            "--add-host",
            "db.local:10.1.2.3",
            "--dns",
            "9.9.9.9",
            "--tmpfs",
            "/scratch",
            "--memory",
            "64m",
            "--stop-timeout",
            "7",
            "--health-cmd",
            "true",
            "--health-interval",
            "1s",
            "--init",
            "--workdir",
            "/tmp",
        ],
    );
    docker(&[
        "network",
        "connect",
        "--alias",
        "api",
        back.name(),
        c.name(),
    ]);
    exec(
        c.name(),
        "echo precious > /data/file && echo named > /named/file",
    );
    let dependent = Container::run_cmd(
        "dep",
        crate::harness::image::base(),
        &["--network", &format!("container:{}", c.name())],
        &[
            "sh",
            "-c",
            "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done",
        ],
    );
    let before = c.inspect();
    let anon_volume = before["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == "/data")
        .unwrap()["Name"]
        .as_str()
        .unwrap()
        .to_string();

    let dum = Dum::new().config_json(config(&app, json!({})));
    let out = dum.run(&["update", c.name()]);
    out.assert_code(101);

    let after = c.inspect();
    assert_ne!(after["Id"], before["Id"], "the container was recreated");
    assert_eq!(after["State"]["Running"], true);
    assert_eq!(after["Config"]["Image"], app.image.reference("2.0.0"));
    // The new image's defaults apply; the user's values stay.
    let env = env_of(&after);
    for want in ["USER_SET=x", "MODE=override", "DEFAULT_ONLY=b"] {
        assert!(
            env.contains(&want.to_string()),
            "{want} missing from {env:?}"
        );
    }
    assert!(
        !env.contains(&"DEFAULT_ONLY=a".to_string()),
        "old image default frozen: {env:?}"
    );
    assert_eq!(
        after["Config"]["Cmd"][2]
            .as_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap(),
        "echo v2"
    );
    assert_eq!(after["Config"]["Labels"]["img.version"], "2");
    assert_eq!(after["Config"]["Labels"]["user.label"], "y");
    assert_eq!(after["Config"]["Hostname"], "keephost");
    assert_eq!(after["Config"]["WorkingDir"], "/tmp");
    assert_eq!(
        after["Config"]["Healthcheck"],
        before["Config"]["Healthcheck"]
    );
    assert_eq!(after["Config"]["StopTimeout"], 7);
    for key in [
        "RestartPolicy",
        "CapAdd",
        "CapDrop",
        "Ulimits",
        "ExtraHosts",
        "Dns",
        "Tmpfs",
        "Memory",
        "Init",
        "PortBindings",
        "NetworkMode",
        "Binds",
        "LogConfig",
        "Privileged",
        "SecurityOpt",
        "ShmSize",
    ] {
        if key == "Binds" {
            continue; // compared below: the anonymous volume is added explicitly
        }
        assert_eq!(
            after["HostConfig"][key], before["HostConfig"][key],
            "HostConfig.{key}"
        );
    }
    let front_net = &after["NetworkSettings"]["Networks"][front.name()];
    assert_eq!(front_net["IPAMConfig"]["IPv4Address"], "172.16.77.20");
    assert_eq!(front_net["IPAddress"], "172.16.77.20");
    // Per endpoint on API ≥ 1.44, container-wide before: the same address either way.
    assert_eq!(front_net["MacAddress"], "02:42:ac:10:4d:14", "{front_net}");
    assert!(
        front_net["Aliases"]
            .as_array()
            .unwrap()
            .contains(&json!("web")),
        "{front_net}"
    );
    let back_net = &after["NetworkSettings"]["Networks"][back.name()];
    assert!(
        back_net["Aliases"]
            .as_array()
            .unwrap()
            .contains(&json!("api")),
        "{back_net}"
    );
    // Same volumes, data intact.
    let data_mount = after["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == "/data")
        .unwrap();
    assert_eq!(data_mount["Name"], anon_volume.as_str());
    assert_eq!(exec(c.name(), "cat /data/file"), "precious");
    assert_eq!(exec(c.name(), "cat /named/file"), "named");
    // The dependent follows the new network namespace and runs.
    let dep = dependent.inspect();
    assert_eq!(dep["State"]["Running"], true, "dependent: {}", dep["State"]);
    assert_eq!(
        netns(&dep),
        netns(&after),
        "the dependent shares the new network namespace"
    );
    let mode = dep["HostConfig"]["NetworkMode"].as_str().unwrap();
    let new_id = after["Id"].as_str().unwrap();
    assert!(
        mode == format!("container:{new_id}") || mode == format!("container:{}", c.name()),
        "{mode}"
    );
    // No backup left behind; history says updated.
    assert!(
        !docker_output(&["container", "inspect", &format!("{}-dum-backup", c.name())])
            .status
            .success()
    );
    let entries = history(&dum);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["result"], "updated");
    assert_eq!(entries[0]["from_version"], "1.0.0");
    assert_eq!(entries[0]["to_version"], "2.0.0");
    assert_eq!(entries[0]["to_digest"], app.v2.digest.as_str());
    let state = dum.state().unwrap();
    assert_eq!(state["journal"], json!([]));
}

fn broken_v2(name: &str, dockerfile_tail: &[&str], cmd: &[&str]) -> (Image<'static>, Pushed) {
    let base = Image::new(registry::anon(), name);
    base.clone().version("1.0.0").build_and_push();
    let mut v2 = base.clone().version("2.0.0").cmd(cmd).keep_local(false);
    for line in dockerfile_tail {
        v2 = v2.extra_dockerfile(line);
    }
    let pushed = v2.build_and_push();
    (base, pushed)
}

fn assert_rolled_back(dum: &Dum, c: &Container, before: &Value, why: &str) {
    let after = c.inspect();
    assert_eq!(after["Id"], before["Id"], "the old container is back");
    assert_eq!(after["Name"], before["Name"]);
    assert_eq!(after["State"]["Running"], true, "{}", after["State"]);
    assert_eq!(after["HostConfig"], before["HostConfig"]);
    assert_eq!(after["Config"], before["Config"]);
    let entries = history(dum);
    let last = entries.last().unwrap();
    assert_eq!(last["result"], "rolled_back", "{last}");
    assert!(last["reason"].as_str().unwrap().contains(why), "{last}");
    assert_eq!(dum.state().unwrap()["journal"], json!([]));
    let leftovers = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={}", c.name()),
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(
        leftovers.trim(),
        c.name(),
        "only the original container remains"
    );
}

#[test]
fn a_new_version_that_exits_is_rolled_back() {
    let (image, _) = broken_v2("exits", &[], &["sh", "-c", "echo boom; exit 3"]);
    let c = Container::run("exits", &image.reference("1.0.0"), &["-e", "KEEP=1"]);
    let before = c.inspect();
    let dum = Dum::new().config_json(json!({"images": [{
        "image": image.name(), "regex": "^[0-9.]+$", "grace_seconds": 2
    }]}));
    let out = dum.run(&["update", c.name()]);
    out.assert_code(1);
    assert!(out.stdout.contains("ROLLED BACK"), "{out:?}");
    assert_rolled_back(&dum, &c, &before, "exit code 3");
}

#[test]
fn a_new_version_that_turns_unhealthy_is_rolled_back() {
    let (image, _) = broken_v2(
        "unhealthy",
        &["HEALTHCHECK --interval=1s --retries=1 CMD false"],
        crate::harness::image::DEFAULT_CMD,
    );
    let c = Container::run("unhealthy", &image.reference("1.0.0"), &[]);
    let before = c.inspect();
    let dum = Dum::new().config_json(json!({"images": [{
        "image": image.name(), "regex": "^[0-9.]+$", "grace_seconds": 1, "health_timeout_seconds": 30
    }]}));
    dum.run(&["update", c.name()]).assert_code(1);
    assert_rolled_back(&dum, &c, &before, "unhealthy");
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let app = app("dry");
    let c = Container::run("dry", &app.v1.reference, &[]);
    let before = c.inspect();
    // Only this test's repository: other tests build images concurrently.
    let images_before = docker(&["images", "-q", "--no-trunc", &app.image.name()]);
    let dum = Dum::new().config_json(config(&app, json!({"auto_update": true})));
    let out = dum.run(&["update", "--dry-run"]);
    out.assert_code(100);
    assert!(
        out.stdout
            .contains(&format!("would update {}: 1.0.0 -> 2.0.0", c.name())),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains(&format!("pull {}@{}", app.image.name(), app.v2.digest)),
        "{out:?}"
    );
    assert_eq!(c.inspect(), before);
    assert_eq!(
        docker(&["images", "-q", "--no-trunc", &app.image.name()]),
        images_before
    );
    assert!(dum.state().is_none(), "a dry run writes no state");
}

#[test]
fn without_targets_only_auto_update_images_are_updated() {
    let app = app("auto");
    let c = Container::run("auto", &app.v1.reference, &[]);
    let before = c.inspect();
    let dum = Dum::new().config_json(config(&app, json!({"auto_update": false})));
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(0);
    assert_moves(&out, &[]);
    assert_eq!(out.json()["skipped"], json!([]), "{out:?}");
    assert_eq!(c.inspect()["Id"], before["Id"]);
    dum.write_config(&config(&app, json!({"auto_update": true})));
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(101);
    // What moved where: this container, from v1 to v2, pulled by digest.
    assert_moves(
        &out,
        &[json!({
            "kind": "update",
            "container": c.name(),
            "image": app.image.name(),
            "pull": format!("{}@{}", app.image.name(), app.v2.digest),
            "tags": [app.image.reference("2.0.0")],
            "run_as": app.image.reference("2.0.0"),
            "from_version": "1.0.0",
            "to_version": "2.0.0",
            "from_digest": app.v1.digest,
            "to_digest": app.v2.digest,
        })],
    );
    assert_eq!(c.inspect()["Config"]["Image"], app.image.reference("2.0.0"));
    assert_ne!(c.inspect()["Id"], before["Id"]);
    // Nothing left to do.
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(0);
    assert_moves(&out, &[]);
    dum.run(&["check"]).assert_code(0);
}

/// The update document's moves are exactly `want` (each planned, then applied and
/// `updated`), in order: what moved where, not how many.
fn assert_moves(out: &crate::harness::Output, want: &[Value]) {
    let doc = out.json();
    assert_eq!(doc["planned"], json!(want), "planned moves:\n{out:?}");
    let applied: Vec<Value> = want
        .iter()
        .map(|mv| {
            let mut mv = mv.clone();
            let fields = mv.as_object_mut().unwrap();
            fields.insert("result".into(), json!("updated"));
            fields.insert("error".into(), Value::Null);
            fields.insert("dependents".into(), json!([]));
            fields.insert("via".into(), json!("api"));
            mv
        })
        .collect();
    assert_eq!(doc["updates"], json!(applied), "applied moves:\n{out:?}");
}

#[test]
fn a_failed_pull_changes_nothing() {
    let app = app("pullfail");
    let c = Container::run("pullfail", &app.v1.reference, &[]);
    let before = c.inspect();
    // Break v2 in the registry: its manifest resolves, its config blob is gone.
    let (_, manifest) = app
        .image
        .registry()
        .manifest(app.image.repository(), "2.0.0");
    let manifest: Value = serde_json::from_slice(&manifest).unwrap();
    let blob = manifest["config"]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let data = app.image.registry().dir().join(format!(
        "storage/docker/registry/v2/blobs/sha256/{}/{blob}/data",
        &blob[..2]
    ));
    assert!(
        data.exists(),
        "blob file not where expected: {}",
        data.display()
    );
    std::fs::remove_file(&data).unwrap();
    let dum = Dum::new().config_json(config(&app, json!({})));
    let out = dum.run(&["update", c.name()]);
    out.assert_code(1);
    assert!(out.stdout.contains("pull failed"), "{out:?}");
    assert_eq!(c.inspect(), before, "the container is untouched");
    let entries = history(&dum);
    assert_eq!(entries.last().unwrap()["result"], "failed");
}

#[test]
fn rollback_returns_to_the_previous_version_and_cleanup_keeps_keep_versions() {
    let base = Image::new(registry::anon(), "rb");
    let versions: Vec<Pushed> = ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]
        .iter()
        .map(|v| base.clone().version(v).build_and_push())
        .collect();
    // All four are local (build keeps them); the container runs 1.2.0.
    let c = Container::run("rb", &versions[2].reference, &[]);
    let dum = Dum::new().config_json(json!({"images": [{
        "image": base.name(), "regex": "^[0-9.]+$", "grace_seconds": 1,
        "cleanup_old_images": true, "keep_versions": 2
    }]}));
    let out = dum.run(&["update", c.name()]);
    out.assert_code(101);
    assert!(out.stdout.contains("cleaned"), "{out:?}");
    let local = |v: &str| crate::harness::image::exists_local(&base.reference(v));
    assert!(local("1.3.0") && local("1.2.0"), "newest two kept");
    assert!(!local("1.1.0") && !local("1.0.0"), "older ones pruned");

    let out = dum.run(&["rollback", c.name()]);
    out.assert_code(101);
    let after = c.inspect();
    assert_eq!(after["Config"]["Image"], base.reference("1.2.0"));
    assert_eq!(after["State"]["Running"], true);
    let entries = history(&dum);
    let last = entries.last().unwrap();
    assert_eq!(last["kind"], "rollback");
    assert_eq!(last["to_version"], "1.2.0");
    assert_eq!(last["result"], "updated");
    // What moved where, in order: 1.2.0 -> 1.3.0, then back, each by its digest.
    let moved: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!([
                e["kind"],
                e["container"],
                e["image"],
                e["from_version"],
                e["from_digest"],
                e["to_version"],
                e["to_digest"],
                e["result"]
            ])
        })
        .collect();
    let (v12, v13) = (&versions[2].digest, &versions[3].digest);
    assert_eq!(
        moved,
        [
            json!([
                "update",
                c.name(),
                base.name(),
                "1.2.0",
                v12,
                "1.3.0",
                v13,
                "updated"
            ]),
            json!([
                "rollback",
                c.name(),
                base.name(),
                "1.3.0",
                v13,
                "1.2.0",
                v12,
                "updated"
            ]),
        ],
        "{entries:#?}"
    );
}

#[test]
fn never_a_downgrade_unless_asked_for_explicitly() {
    let base = Image::new(registry::anon(), "down");
    let v1 = base.clone().version("1.0.0").build_and_push();
    let v2 = base.clone().version("2.0.0").build_and_push();
    // The registry loses 2.0.0: the newest it offers is older than what runs.
    app_registry_delete(&base, &v2);
    let c = Container::run("down", &v2.reference, &[]);
    let dum = Dum::new().config_json(json!({"images": [{
        "image": base.name(), "regex": "^[0-9.]+$", "grace_seconds": 1, "auto_update": true
    }]}));
    dum.run(&["update"]).assert_code(0);
    let out = dum.run(&["update", c.name()]);
    out.assert_code(0);
    assert!(out.stdout.contains("never a downgrade"), "{out:?}");
    assert_eq!(c.inspect()["Config"]["Image"], v2.reference.as_str());
    let out = dum.run(&["update", c.name(), "--allow-downgrade", "--format", "json"]);
    out.assert_code(101);
    assert_moves(
        &out,
        &[json!({
            "kind": "update",
            "container": c.name(),
            "image": base.name(),
            "pull": format!("{}@{}", base.name(), v1.digest),
            "tags": [base.reference("1.0.0")],
            "run_as": base.reference("1.0.0"),
            "from_version": "2.0.0",
            "to_version": "1.0.0",
            "from_digest": v2.digest,
            "to_digest": v1.digest,
        })],
    );
    assert_eq!(c.inspect()["Config"]["Image"], v1.reference.as_str());
}

fn app_registry_delete(image: &Image, pushed: &Pushed) {
    image
        .registry()
        .delete_manifest(image.repository(), &pushed.digest);
}

/// Kill dum with SIGKILL at every journaled step (all of `dum::fault::POINTS`, including
/// `rolling-back`, reached with a new version that exits), in two scenarios:
/// "plain" (env, label, anonymous volume) and "wired" (plus a named volume, a network
/// alias and a `--network container:` dependent). The next run must converge to one
/// running container with the original name, settings and volume data.
///
/// Figures: 10 points × 2 scenarios = 20 real SIGKILLs, each followed by a converging run.
#[test]
fn killed_at_every_step_the_next_run_converges() {
    crate::harness::dum::require_fault_injection();
    let app = app("crash");
    let (broken, _) = broken_v2("crashrb", &[], &["sh", "-c", "echo boom; exit 3"]);
    let good = Dum::new().config_json(config(&app, json!({})));
    let failing = Dum::new().config_json(json!({"images": [{
        "image": broken.name(), "regex": "^[0-9.]+$", "grace_seconds": 2
    }]}));
    let net = Network::create("crash-net");
    let named = Volume::create("crash-named");
    let mut converged = 0;
    for scenario in ["plain", "wired"] {
        for &point in dum::fault::POINTS {
            let why = format!("{scenario}/{point}");
            let rolling_back = point == "rolling-back";
            let (dum, v1) = if rolling_back {
                (&failing, broken.reference("1.0.0"))
            } else {
                (&good, app.v1.reference.clone())
            };
            let mut args = vec!["-e", "USER_SET=1", "-l", "keep=me"];
            let volume_arg = format!("{}:/named", named.name());
            if scenario == "wired" {
                args.extend([
                    "-v",
                    &volume_arg,
                    "--network",
                    net.name(),
                    "--network-alias",
                    "web",
                ]);
            }
            let c = Container::run(&format!("crash-{scenario}-{point}"), &v1, &args);
            exec(c.name(), "echo survived > /data/file");
            let dependent = (scenario == "wired").then(|| {
                exec(c.name(), "echo named > /named/file");
                Container::run_cmd(
                    &format!("crash-dep-{point}"),
                    crate::harness::image::base(),
                    &["--network", &format!("container:{}", c.name())],
                    &[
                        "sh",
                        "-c",
                        "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done",
                    ],
                )
            });
            let killed = dum
                .command(&["update", c.name()])
                .env("DUM_FAULT", point)
                .output()
                .unwrap();
            assert_eq!(
                killed.status.signal(),
                Some(9),
                "{why}: dum should die by SIGKILL: {}",
                String::from_utf8_lossy(&killed.stderr)
            );
            // Any command converges; check is read-only otherwise.
            let next = dum.run(&["check", c.name()]);
            assert!(next.code == 0 || next.code == 100, "{why}: {next:?}");
            let names = docker(&[
                "ps",
                "-a",
                "--filter",
                &format!("name={}", c.name()),
                "--format",
                "{{.Names}} {{.State}}",
            ]);
            assert_eq!(
                names.trim(),
                format!("{} running", c.name()),
                "{why}: exactly one container, running"
            );
            let now = c.inspect();
            assert!(env_of(&now).contains(&"USER_SET=1".to_string()), "{why}");
            assert_eq!(now["Config"]["Labels"]["keep"], "me", "{why}");
            assert_eq!(
                exec(c.name(), "cat /data/file"),
                "survived",
                "{why}: volume data"
            );
            let image = now["Config"]["Image"].as_str().unwrap();
            let expect_new = matches!(point, "verified" | "backup-removed" | "following");
            // Converged onto 2.0.0 nothing is pending; back on 1.0.0, 2.0.0 still is.
            assert_eq!(
                next.code,
                if expect_new { 0 } else { 100 },
                "{why}: {next:?}"
            );
            let want = if expect_new {
                app.image.reference("2.0.0")
            } else {
                v1.clone()
            };
            assert_eq!(image, want, "{why}");
            assert_eq!(
                dum.state().unwrap()["journal"],
                json!([]),
                "{why}: journal converged"
            );
            if scenario == "wired" {
                assert_eq!(
                    exec(c.name(), "cat /named/file"),
                    "named",
                    "{why}: named volume"
                );
                let aliases = &now["NetworkSettings"]["Networks"][net.name()]["Aliases"];
                assert!(
                    aliases
                        .as_array()
                        .is_some_and(|a| a.contains(&json!("web"))),
                    "{why}: alias kept: {aliases}"
                );
                let dep = dependent.as_ref().unwrap().inspect();
                let mode = dep["HostConfig"]["NetworkMode"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                let follows = mode == format!("container:{}", now["Id"].as_str().unwrap())
                    || mode == format!("container:{}", c.name());
                assert!(
                    follows,
                    "{why}: the dependent follows the current container: {mode}"
                );
                assert_eq!(dep["State"]["Running"], true, "{why}: dependent runs");
                // Not only configured to: it really shares the live network namespace.
                assert_eq!(
                    netns(&dep),
                    netns(&now),
                    "{why}: dependent shares the network namespace"
                );
            }
            converged += 1;
            drop(dependent);
        }
    }
    eprintln!("crash consistency: {converged} of 18 converged");
    assert_eq!(converged, 2 * dum::fault::POINTS.len());
}

/// The network namespace of a running container, as the kernel names it.
fn netns(inspect: &Value) -> String {
    let pid = inspect["State"]["Pid"].as_u64().unwrap();
    std::fs::read_link(format!("/proc/{pid}/ns/net"))
        .unwrap()
        .display()
        .to_string()
}

/// An engine that cannot tell the registry digest of what ran (seen with the containerd
/// image store) leaves `from_digest` empty: `dum rollback` then finds the digest from the
/// version tag, and says what is missing when there is neither.
#[test]
fn rollback_works_from_the_version_when_the_digest_was_unknown() {
    let base = Image::new(registry::anon(), "rbver");
    let v1 = base.clone().version("1.0.0").build_and_push();
    base.clone().version("1.1.0").build_and_push();
    let c = Container::run("rbver", &v1.reference, &[]);
    let dum = Dum::new().config_json(json!({"images": [{
        "image": base.name(), "regex": "^[0-9.]+$", "grace_seconds": 1
    }]}));
    dum.run(&["update", c.name()]).assert_code(101);
    let path = dum.state_path().with_file_name("history.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let entry = doc["entries"].as_array_mut().unwrap().last_mut().unwrap();
    entry["from_digest"] = Value::Null;
    std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
    let out = dum.run(&["rollback", c.name()]);
    out.assert_code(101);
    assert_eq!(c.inspect()["Config"]["Image"], v1.reference.as_str());
    let last = history(&dum).last().cloned().unwrap();
    assert_eq!(last["kind"], "rollback");
    assert_eq!(last["to_digest"], v1.digest.as_str(), "found from the tag");

    // Neither digest nor version: an error that says so, not "no update in the history".
    dum.run(&["update", c.name()]).assert_code(101);
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let entry = doc["entries"].as_array_mut().unwrap().last_mut().unwrap();
    entry["from_digest"] = Value::Null;
    entry["from_version"] = Value::Null;
    std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
    let out = dum.run(&["rollback", c.name()]);
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("records neither the digest nor the version"),
        "{out:?}"
    );
}
