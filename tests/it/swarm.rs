//! Containers an orchestrator owns (Swarm tasks) are reported with their owner and never
//! recreated. Swarm mode changes the engine for every test on it, so this runs only on a
//! daemon the test run owns: `scripts/test` starts one and runs it there (`--ignored`),
//! and the test leaves the daemon out of swarm mode again.

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

#[test]
#[ignore = "needs a daemon the test run owns: scripts/test runs it on one"]
fn swarm_task_containers_are_reported_and_never_recreated() {
    let _swarm = Swarm::init();
    let image = Image::new(registry::anon(), "swarmweb");
    let v1 = image.clone().version("1.0.0").build_and_push();
    image
        .clone()
        .version("2.0.0")
        .also_tag("latest")
        .keep_local(false)
        .build_and_push();
    let service = format!("dumt-web-{}", std::process::id());
    docker(&[
        "service",
        "create",
        "--detach",
        "--name",
        &service,
        "--replicas",
        "2",
        "--label",
        crate::harness::LABEL_ARG,
        "--container-label",
        crate::harness::LABEL_ARG,
        "--no-resolve-image",
        &v1.reference,
    ]);
    let before = wait_for_tasks(&service, 2);
    let ids_before = docker(&[
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        &format!("name={service}"),
    ]);
    let dum = Dum::new().config_json(json!({"images": [{
        "image": image.name(), "regex": "^[0-9]+\\.[0-9]+\\.[0-9]+$", "auto_update": true,
        "grace_seconds": 1,
    }]}));

    let out = dum.run(&["check", "--format", "json"]);
    out.assert_code(100);
    let rows = out.json()["images"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 2, "one row per task container: {rows:?}");
    for row in &rows {
        assert_eq!(
            row["managed_by"],
            format!("Swarm service {service}"),
            "{row}"
        );
        assert!(
            row["note"].as_str().unwrap().contains("never recreates"),
            "{row}"
        );
        assert_eq!(row["current_version"], "1.0.0", "{row}");
        assert_eq!(row["latest_version"], "2.0.0", "{row}");
    }

    // Unattended: both are skipped with the reason, nothing is touched.
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(0);
    let skipped = out.json()["skipped"].as_array().unwrap().clone();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    for s in &skipped {
        assert!(
            s["reason"].as_str().unwrap().contains("Swarm service"),
            "{s}"
        );
    }
    assert!(out.json()["updates"].as_array().unwrap().is_empty());

    // Named: a usage error that says who owns it.
    let out = dum.run(&["update", &before[0]]);
    out.assert_code(2);
    assert!(
        out.stderr
            .contains(&format!("belongs to Swarm service {service}")),
        "{out:?}"
    );

    // Nothing was recreated, and no orphan runs beside the service's tasks.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(tasks(&service), before);
    let ids_after = docker(&[
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        &format!("name={service}"),
    ]);
    assert_eq!(ids_after, ids_before);
    let all = docker(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(
        all.lines().filter(|n| n.starts_with(&service)).count(),
        2,
        "{all}"
    );
    docker(&["service", "rm", &service]);
}
