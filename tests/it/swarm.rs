//! Swarm services on a manager: one row per service (never its task containers),
//! updated by pinning the new digest in the spec, with Swarm's rollout as the health
//! gate. Swarm mode changes the engine for every test on it, so these run only on a
//! daemon the test run owns, one at a time: `scripts/test` starts one and runs them there
//! (`--ignored --test-threads=1`), and each test leaves the daemon out of swarm mode again.

use crate::harness::{Dum, Image, Pushed, docker, docker_output, registry};
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

/// `name` at 1.0.0 (pulled here, as a service's first image would be) and 2.0.0 (only
/// in the registry, as a new release is).
fn two_versions<'r>(reg: &'r crate::harness::Registry, name: &str) -> (Image<'r>, Pushed, Pushed) {
    let image = Image::new(reg, name);
    let v1 = image.clone().version("1.0.0").build_and_push();
    let v2 = image
        .clone()
        .version("2.0.0")
        .keep_local(false)
        .build_and_push();
    (image, v1, v2)
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
    let (image, v1, v2) = two_versions(registry::anon(), "swarmmodes");
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
    let note = out.json()["updates"][0]["note"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(note.contains("keeps one previous spec"), "{note}");
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
    let (image, v1, v2) = two_versions(reg, "swarmpriv");
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

/// The webhook (and Slack) messages a `Receiver` got at `prefix`, as JSON, oldest first.
fn bodies(r: &crate::notify::Receiver, prefix: &str) -> Vec<serde_json::Value> {
    r.to(prefix)
        .iter()
        .map(|q| serde_json::from_str(q["body"].as_str().unwrap()).unwrap())
        .collect()
}

/// An update of a service is in the history under the service's name, and so is `dum
/// rollback SERVICE`; the notifications of the check and of the update name the service.
#[test]
#[ignore = "needs a daemon the test run owns: scripts/test runs it on one"]
fn history_and_notifications_name_the_service() {
    let _swarm = Swarm::init();
    let (image, v1, v2) = two_versions(registry::anon(), "swarmhist");
    let service = format!("dumt-hist-{}", std::process::id());
    create_service(&service, &["--replicas", "1"], &v1.reference);
    wait_for_tasks(&service, 1);
    let r = crate::notify::Receiver::start();
    let mut cfg = config(&image);
    cfg["notify"] = json!([
        {"type": "webhook", "url": r.url("/hook")},
        {"type": "slack", "url": r.url("/slack/x")},
    ]);
    let dum = Dum::new().config_json(cfg);

    dum.run(&["check"]).assert_code(100);
    let hooks = bodies(&r, "/hook");
    assert_eq!(hooks.len(), 1, "{hooks:#?}");
    let event = &hooks[0]["events"][0];
    assert_eq!(event["event"], "update_available", "{event}");
    assert_eq!(event["container"], service.as_str(), "{event}");
    assert_eq!(event["from"], "1.0.0", "{event}");
    assert_eq!(event["to"], "2.0.0", "{event}");
    assert!(
        hooks[0]["images"][0]["service"]["id"].is_string(),
        "{hooks:#?}"
    );

    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(101);
    let hooks = bodies(&r, "/hook");
    assert_eq!(hooks.len(), 2, "{hooks:#?}");
    let sent = &hooks[1];
    assert_eq!(sent["command"], "update", "{sent}");
    assert_eq!(
        sent["events"],
        json!([{"event": "updated", "image": image.name(), "container": service,
                "from": "1.0.0", "to": "2.0.0", "to_digest": v2.digest, "error": null}]),
        "{sent}"
    );
    assert_eq!(sent["updates"][0]["container"], service.as_str(), "{sent}");
    assert_eq!(sent["updates"][0]["via"], "swarm", "{sent}");
    let slack = bodies(&r, "/slack/");
    let text = slack.last().unwrap()["text"].as_str().unwrap().to_string();
    assert!(
        text.contains(&format!("{service} ({})", image.name()))
            && text.contains("updated 1.0.0 → 2.0.0"),
        "{text}"
    );

    let history = dum.run(&["history", &service, "--format", "json"]);
    history.assert_code(0);
    let entries = history.json()["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 1, "{entries:#?}");
    let e = &entries[0];
    assert_eq!(e["kind"], "update", "{e}");
    assert_eq!(e["container"], service.as_str(), "{e}");
    assert_eq!(e["image"], image.name().as_str(), "{e}");
    assert_eq!(e["result"], "updated", "{e}");
    assert_eq!(e["from_version"], "1.0.0", "{e}");
    assert_eq!(e["to_version"], "2.0.0", "{e}");
    assert_eq!(e["to_digest"], v2.digest.as_str(), "{e}");
    let table = dum.run(&["history"]);
    assert!(table.stdout.contains(&service), "{}", table.stdout);

    dum.run(&["rollback", &service]).assert_code(101);
    assert_eq!(spec_image(&service), v1.reference);
    wait_for_tasks(&service, 1);
    let history = dum.run(&["history", &service, "--format", "json"]);
    let entries = history.json()["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 2, "{entries:#?}");
    let e = &entries[1];
    assert_eq!(e["kind"], "rollback", "{e}");
    assert_eq!(e["container"], service.as_str(), "{e}");
    assert_eq!(e["result"], "updated", "{e}");
    assert_eq!(e["from_version"], "2.0.0", "{e}");
    assert_eq!(e["to_version"], "1.0.0", "{e}");
    docker(&["service", "rm", &service]);
}

/// A service configured only by `dum.*` labels on its spec (`docker service create
/// --label`) needs no entry: it is checked and updated with them. `dum.enable=false`
/// excludes one; a wrong label fails that service's row alone (exit 1) naming the
/// service and the label; `dum validate` says so and `--effective` lists services. The
/// labels of its task containers (`--container-label`) never count.
#[test]
#[ignore = "needs a daemon the test run owns: scripts/test runs it on one"]
fn a_service_configured_by_its_spec_labels_is_checked_and_updated() {
    let _swarm = Swarm::init();
    let (image, v1, v2) = two_versions(registry::anon(), "swarmlabels");
    let pid = std::process::id();
    let (good, bad, off) = (
        format!("dumt-lgood-{pid}"),
        format!("dumt-lbad-{pid}"),
        format!("dumt-loff-{pid}"),
    );
    let regex = r"dum.regex=^[0-9]+\.[0-9]+\.[0-9]+$";
    create_service(
        &good,
        &[
            "--replicas",
            "1",
            "--label",
            regex,
            "--label",
            "dum.auto_update=true",
            "--label",
            "dum.health_timeout_seconds=60",
            // A task's label, not the service's: ignored (it would be a wrong value).
            "--container-label",
            "dum.keep_versions=0",
        ],
        &v1.reference,
    );
    create_service(
        &bad,
        &["--replicas", "0", "--label", "dum.keep_versions=0"],
        &v1.reference,
    );
    create_service(
        &off,
        &[
            "--replicas",
            "0",
            "--label",
            "dum.enable=false",
            "--label",
            regex,
        ],
        &v1.reference,
    );
    wait_for_tasks(&good, 1);
    // No entry for the image at all.
    let dum = Dum::new().config_json(json!({"images": []}));

    let out = dum.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let doc = out.json();
    let rows = doc["images"].as_array().unwrap();
    let row = |name: &str| rows.iter().find(|r| r["container"] == name).cloned();
    let g = row(&good).unwrap_or_else(|| panic!("{good}: {doc:#}"));
    assert_eq!(g["status"], "update_available", "{g}");
    assert_eq!(g["current_version"], "1.0.0", "{g}");
    assert_eq!(g["latest_version"], "2.0.0", "{g}");
    assert_eq!(g["service"]["mode"], "replicated", "{g}");
    let b = row(&bad).unwrap_or_else(|| panic!("{bad}: {doc:#}"));
    assert_eq!(b["status"], "failed", "{b}");
    assert_eq!(
        b["error"],
        format!("service {bad}: label dum.keep_versions: must be at least 1, found 0"),
        "{b}"
    );
    assert!(b["service"]["id"].is_string(), "{b}");
    assert!(row(&off).is_none(), "dum.enable=false: {doc:#}");
    assert_eq!(rows.len(), 2, "{doc:#}");

    let out = dum.run(&["validate", "--format", "json"]);
    out.assert_code(2);
    let problems = out.json()["label_problems"].clone();
    assert_eq!(
        problems,
        json!([{"container": bad, "service": true, "label": "dum.keep_versions",
                "message": "must be at least 1, found 0"}])
    );
    let out = dum.run(&["validate"]);
    out.assert_code(2);
    out.assert_stderr_contains(&format!("service {bad}: label dum.keep_versions"));
    let out = dum.run(&["validate", "--effective", "--format", "json"]);
    let doc = out.json();
    let rows = doc["effective"].as_array().unwrap();
    let e = rows
        .iter()
        .find(|r| r["container"] == good.as_str())
        .unwrap_or_else(|| panic!("{doc:#}"));
    assert_eq!(e["service"], true, "{e}");
    let from = |name: &str| {
        e["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["from"]
            .clone()
    };
    assert_eq!(from("regex"), "label dum.regex", "{e}");
    assert_eq!(from("auto_update"), "label dum.auto_update", "{e}");
    assert_eq!(from("keep_versions"), "default", "{e}");

    // Named, the disabled one is a usage error; the wrong one fails alone.
    dum.run(&["update", &off]).assert_code(2);
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(1);
    let doc = out.json();
    let updates = doc["updates"].as_array().unwrap();
    assert_eq!(updates.len(), 1, "{doc:#}");
    assert_eq!(updates[0]["container"], good.as_str(), "{doc:#}");
    assert_eq!(updates[0]["result"], "updated", "{doc:#}");
    let want = format!("{}:2.0.0@{}", image.name(), v2.digest);
    assert_eq!(spec_image(&good), want);
    assert_eq!(
        spec_image(&off),
        v1.reference,
        "dum.enable=false: untouched"
    );
    assert_eq!(spec_image(&bad), v1.reference, "a wrong label: untouched");
    wait_for_tasks(&good, 1);

    docker(&["service", "rm", &bad]);
    let out = dum.run(&["check", &good]);
    out.assert_code(0);
    let out = dum.run(&["validate"]);
    out.assert_code(0);
    out.assert_stdout_contains("2 Swarm service(s) with dum.* labels: valid");
    // Its labels' entry is the one `dum rollback` uses too.
    let out = dum.run(&["rollback", &good, "--format", "json"]);
    out.assert_code(101);
    assert_eq!(out.json()["updates"][0]["via"], "swarm", "{out:?}");
    assert_eq!(spec_image(&good), v1.reference);
    wait_for_tasks(&good, 1);
    docker(&["service", "rm", &good, &off]);
}
