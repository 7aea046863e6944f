//! Swarm services on a manager: one row per service (never its task containers),
//! updated by pinning the new digest in the spec, with Swarm's rollout as the health
//! gate. Swarm mode changes the engine for every test on it, so these run only on a
//! daemon the test run owns, one at a time: `scripts/test` starts one and runs them there
//! (`--ignored --test-threads=1`), and each test leaves the daemon out of swarm mode again.

use crate::harness::{Dum, Image, docker, docker_output, registry};
use serde_json::json;
use std::time::{Duration, Instant};

/// Set by `scripts/test` when `DOCKER_HOST` names a daemon started for the test run.
const OWNED: &str = "DUM_TEST_OWNED_ENGINE";

/// Leaves swarm mode (and so removes its services) even when the test fails.
struct Swarm;

impl Swarm {
    fn init() -> Swarm {
        assert!(
            std::env::var(OWNED).is_ok_and(|v| v == "1"),
            "this test turns the engine into a swarm manager: run it on a daemon the test \
             run owns ({OWNED}=1 and DOCKER_HOST; scripts/test does this)"
        );
        let _ = docker_output(&["swarm", "leave", "--force"]);
        docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
        Swarm
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        let _ = docker_output(&["swarm", "leave", "--force"]);
    }
}

/// Names of the running task containers of `service`.
fn tasks(service: &str) -> Vec<String> {
    let out = docker(&[
        "ps",
        "--filter",
        &format!("label=com.docker.swarm.service.name={service}"),
        "--format",
        "{{.Names}}",
    ]);
    let mut names: Vec<String> = out.lines().map(str::to_string).collect();
    names.sort();
    names
}

fn wait_for_tasks(service: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let found = tasks(service);
        if found.len() == n {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{service} never ran {n} tasks: {found:?}\n{}",
            docker(&["service", "ps", "--no-trunc", service])
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Creates a service labelled for cleanup; `args` before the image.
fn create_service(name: &str, args: &[&str], image: &str) {
    let mut all = vec![
        "service",
        "create",
        "--detach",
        "--name",
        name,
        "--label",
        crate::harness::LABEL_ARG,
        "--container-label",
        crate::harness::LABEL_ARG,
        "--no-resolve-image",
    ];
    all.extend_from_slice(args);
    all.push(image);
    docker(&all);
}

/// The service's spec as the engine has it.
fn spec_image(name: &str) -> String {
    docker(&[
        "service",
        "inspect",
        "--format",
        "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
        name,
    ])
    .trim()
    .to_string()
}

/// `UpdateStatus.State` of the service, empty when none.
fn update_state(name: &str) -> String {
    docker(&[
        "service",
        "inspect",
        "--format",
        "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}",
        name,
    ])
    .trim()
    .to_string()
}

fn config(image: &Image) -> serde_json::Value {
    json!({"images": [{
        "image": image.name(), "regex": "^[0-9]+\\.[0-9]+\\.[0-9]+$", "auto_update": true,
        "grace_seconds": 1, "health_timeout_seconds": 60,
    }]})
}

/// On a manager, a service is one row (its task containers none), and `dum update`
/// pins the new version's digest in its spec and waits for Swarm's rollout.
#[test]
#[ignore = "needs a daemon the test run owns: scripts/test runs it on one"]
fn services_are_checked_and_updated_through_swarm() {
    let _swarm = Swarm::init();
    let image = Image::new(registry::anon(), "swarmweb");
    let v1 = image.clone().version("1.0.0").build_and_push();
    let v2 = image
        .clone()
        .version("2.0.0")
        .also_tag("latest")
        .keep_local(false)
        .build_and_push();
    let service = format!("dumt-web-{}", std::process::id());
    create_service(&service, &["--replicas", "2"], &v1.reference);
    let before = wait_for_tasks(&service, 2);
    let dum = Dum::new().config_json(config(&image));

    let out = dum.run(&["check", "--format", "json"]);
    out.assert_code(100);
    let rows = out.json()["images"].as_array().unwrap().clone();
    assert_eq!(
        rows.len(),
        1,
        "one row for the service, none for its tasks: {rows:?}"
    );
    let row = &rows[0];
    assert_eq!(row["container"], service.as_str(), "{row}");
    assert_eq!(row["service"]["mode"], "replicated", "{row}");
    assert_eq!(row["service"]["replicas"], 2, "{row}");
    assert_eq!(row["current_version"], "1.0.0", "{row}");
    assert_eq!(row["latest_version"], "2.0.0", "{row}");

    // A task container is no target of its own; the service is.
    dum.run(&["update", &before[0]]).assert_code(2);
    let out = dum.run(&["update", &service, "--format", "json"]);
    out.assert_code(101);
    let u = &out.json()["updates"][0];
    assert_eq!(u["result"], "updated", "{u}");
    assert_eq!(u["via"], "swarm", "{u}");
    let want = format!("{}:2.0.0@{}", image.name(), v2.digest);
    assert_eq!(spec_image(&service), want);
    let after = wait_for_tasks(&service, 2);
    assert_ne!(after, before, "Swarm replaced the tasks");
    let images = docker(&[
        "service",
        "ps",
        "--filter",
        "desired-state=running",
        "--format",
        "{{.Image}}",
        &service,
    ]);
    assert_eq!(images.lines().count(), 2, "{images}");
    dum.run(&["check"]).assert_code(0);
    docker(&["service", "rm", &service]);
}

/// A new version that fails its healthcheck: with `--update-failure-action rollback`
/// Swarm rolls back by itself and dum reports a rollback; with the default `pause` dum
/// asks Swarm to roll back. Either way exit 1 and the old image in the spec.
#[test]
#[ignore = "needs a daemon the test run owns: scripts/test runs it on one"]
fn a_failing_rollout_is_rolled_back() {
    let _swarm = Swarm::init();
    let image = Image::new(registry::anon(), "swarmbad");
    let v1 = image.clone().version("1.0.0").build_and_push();
    image
        .clone()
        .version("2.0.0")
        .healthcheck("test -e /nonexistent", Duration::from_millis(200))
        .keep_local(false)
        .build_and_push();
    for (case, args, says) in [
        (
            "swarm rolls back",
            vec![
                "--update-failure-action",
                "rollback",
                "--update-monitor",
                "3s",
            ],
            "Swarm rolled the update back",
        ),
        ("dum rolls back", vec!["--update-monitor", "3s"], "paused"),
    ] {
        let service = format!("dumt-bad{}-{}", args.len(), std::process::id());
        let mut all = vec!["--replicas", "1"];
        all.extend(args.iter().copied());
        create_service(&service, &all, &v1.reference);
        wait_for_tasks(&service, 1);
        let dum = Dum::new().config_json(config(&image));
        let out = dum.run(&["update", "--format", "json"]);
        out.assert_code(1);
        let u = &out.json()["updates"][0];
        assert_eq!(u["result"], "rolled_back", "{case}: {u}");
        assert!(u["error"].as_str().unwrap().contains(says), "{case}: {u}");
        assert_eq!(spec_image(&service), v1.reference, "{case}");
        assert_eq!(update_state(&service), "rollback_completed", "{case}");
        wait_for_tasks(&service, 1);
        docker(&["service", "rm", &service]);
    }
}

/// A service at 0 replicas is updated without waiting; a global one runs the new
/// version on every node (the one node here).
#[test]
#[ignore = "needs a daemon the test run owns: scripts/test runs it on one"]
fn zero_replica_and_global_services_are_updated() {
    let _swarm = Swarm::init();
    let image = Image::new(registry::anon(), "swarmmodes");
    let v1 = image.clone().version("1.0.0").build_and_push();
    let v2 = image
        .clone()
        .version("2.0.0")
        .keep_local(false)
        .build_and_push();
    let zero = format!("dumt-zero-{}", std::process::id());
    let global = format!("dumt-global-{}", std::process::id());
    create_service(&zero, &["--replicas", "0"], &v1.reference);
    create_service(&global, &["--mode", "global"], &v1.reference);
    wait_for_tasks(&global, 1);
    let dum = Dum::new().config_json(config(&image));
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(101);
    let doc = out.json();
    let updates = doc["updates"].as_array().unwrap();
    assert_eq!(updates.len(), 2, "{doc}");
    let by = |name: &str| {
        updates
            .iter()
            .find(|u| u["container"] == name)
            .unwrap_or_else(|| panic!("{name}: {doc}"))
            .clone()
    };
    assert_eq!(by(&zero)["result"], "updated");
    assert!(by(&zero)["note"].as_str().unwrap().contains("0 replicas"));
    assert_eq!(by(&global)["result"], "updated");
    let want = format!("{}:2.0.0@{}", image.name(), v2.digest);
    assert_eq!(spec_image(&zero), want);
    assert_eq!(spec_image(&global), want);
    assert_eq!(
        docker(&[
            "service",
            "inspect",
            "--format",
            "{{.Spec.Mode.Replicated.Replicas}}",
            &zero
        ])
        .trim(),
        "0",
        "dum never changes replicas"
    );
    wait_for_tasks(&global, 1);
    docker(&["service", "rm", &zero, &global]);
}

/// Another client updates the service between dum's read and its write: the engine
/// refuses the stale version, dum reads the service again and sends the update on
/// top of the other change, which stays.
#[test]
#[ignore = "needs a daemon the test run owns: scripts/test runs it on one"]
fn an_update_racing_another_client_is_sent_again() {
    crate::harness::dum::require_fault_injection();
    let _swarm = Swarm::init();
    let image = Image::new(registry::anon(), "swarmrace");
    let v1 = image.clone().version("1.0.0").build_and_push();
    let v2 = image.clone().version("2.0.0").build_and_push();
    let service = format!("dumt-race-{}", std::process::id());
    create_service(&service, &["--replicas", "1"], &v1.reference);
    wait_for_tasks(&service, 1);
    let hook = format!("service-read:docker service update --detach --label-add raced=1 {service}");
    let dum = Dum::new()
        .config_json(config(&image))
        .env("DUM_FAULT_HOOK", &hook);
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(101);
    assert!(out.stderr.contains("sending the update again"), "{out:?}");
    assert_eq!(
        spec_image(&service),
        format!("{}:2.0.0@{}", image.name(), v2.digest)
    );
    let labels = docker(&[
        "service",
        "inspect",
        "--format",
        "{{json .Spec.Labels}}",
        &service,
    ]);
    assert!(
        labels.contains("\"raced\":\"1\""),
        "the other client's change stays: {labels}"
    );
    docker(&["service", "rm", &service]);
}

/// SIGKILL while Swarm rolls out: the next run waits for the rollout and records it;
/// SIGKILL while dum rolls a paused update back: the next run finishes the rollback.
/// `dum rollback SERVICE` uses Swarm's previous spec.
#[test]
#[ignore = "needs a daemon the test run owns: scripts/test runs it on one"]
fn a_killed_rollout_converges_and_rollback_uses_the_previous_spec() {
    use std::os::unix::process::ExitStatusExt;
    crate::harness::dum::require_fault_injection();
    let _swarm = Swarm::init();
    let image = Image::new(registry::anon(), "swarmkill");
    let v1 = image.clone().version("1.0.0").build_and_push();
    let v2 = image.clone().version("2.0.0").build_and_push();
    let service = format!("dumt-kill-{}", std::process::id());
    create_service(
        &service,
        &["--replicas", "1", "--update-monitor", "2s"],
        &v1.reference,
    );
    wait_for_tasks(&service, 1);
    let dum = Dum::new().config_json(config(&image));
    let killed = dum
        .command(&["update", &service])
        .env("DUM_FAULT", "applied")
        .output()
        .unwrap();
    assert_eq!(
        killed.status.signal(),
        Some(9),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    let state = dum.state().unwrap();
    assert_eq!(state["journal"].as_array().map(Vec::len), Some(1));
    // Converged: the rollout finished, nothing pending, the history says so.
    dum.run(&["check"]).assert_code(0);
    assert_eq!(dum.state().unwrap()["journal"], json!([]));
    let new = format!("{}:2.0.0@{}", image.name(), v2.digest);
    assert_eq!(spec_image(&service), new);
    let history = dum.run(&["history", "--format", "json"]);
    assert!(history.stdout.contains("recovered"), "{}", history.stdout);

    // Back with Swarm's previous spec.
    let out = dum.run(&["rollback", &service, "--format", "json"]);
    out.assert_code(101);
    assert_eq!(spec_image(&service), v1.reference);
    wait_for_tasks(&service, 1);

    // A version that fails, killed while dum rolls the paused update back.
    let v3 = image
        .clone()
        .version("3.0.0")
        .healthcheck("test -e /nonexistent", Duration::from_millis(200))
        .keep_local(false)
        .build_and_push();
    let _ = v3;
    let killed = dum
        .command(&["update", &service])
        .env("DUM_FAULT", "rolling-back")
        .output()
        .unwrap();
    assert_eq!(
        killed.status.signal(),
        Some(9),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    let next = dum.run(&["check", "--format", "json"]);
    next.assert_code(100);
    assert_eq!(dum.state().unwrap()["journal"], json!([]));
    assert_eq!(spec_image(&service), v1.reference, "rolled back");
    wait_for_tasks(&service, 1);
    docker(&["service", "rm", &service]);
}

/// A service on a registry that needs credentials: dum sends its own
/// (`X-Registry-Auth`), so Swarm pulls the new version even though the service was
/// created without any.
#[test]
#[ignore = "needs a daemon the test run owns: scripts/test runs it on one"]
fn a_private_registry_service_is_pulled_with_dums_credentials() {
    let _swarm = Swarm::init();
    let reg = registry::basic();
    let image = Image::new(reg, "swarmpriv");
    let v1 = image.clone().version("1.0.0").build_and_push();
    let v2 = image
        .clone()
        .version("2.0.0")
        .keep_local(false)
        .build_and_push();
    let service = format!("dumt-priv-{}", std::process::id());
    create_service(&service, &["--replicas", "1"], &v1.reference);
    wait_for_tasks(&service, 1);
    let dum = Dum::new().config_json(config(&image)).login(reg);
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(101);
    assert_eq!(
        spec_image(&service),
        format!("{}:2.0.0@{}", image.name(), v2.digest)
    );
    wait_for_tasks(&service, 1);
    let images = docker(&[
        "service",
        "ps",
        "--filter",
        "desired-state=running",
        "--format",
        "{{.Image}}",
        &service,
    ]);
    assert!(images.contains("2.0.0"), "{images}");
    docker(&["service", "rm", &service]);
}
