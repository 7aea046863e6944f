//! Registry faults: `tests/fixtures/fault_proxy.py` in front of the real anonymous registry
//! injects one fault per repository (chosen by the repository name) while the other
//! repositories behind the same proxy answer normally.
//!
//! Figures: 12 fault kinds × 3 images per run (1 faulty + 2 healthy) = 36 image checks in
//! the per-kind loop, plus one `dum update` with all 12 faulty images and the 2 healthy
//! containers at once (14 images): 50 image checks in total. Every run is bounded by
//! [`RUN_BOUND`] with `DUM_REGISTRY_TIMEOUT_SECS=3`.

use crate::harness::{Container, Dum, Image, Pushed, Watched, fixture, registry, temp_dir};
use serde_json::{Value, json};
use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

/// Registry timeout given to dum for these tests (the default is 30 s per request).
const TIMEOUT_SECS: &str = "3";

/// Wall-clock bound of one dum run with one faulty image: the stall costs one request
/// timeout (3 s) and the retries of 5xx/429 at most 250+500+1000 ms + Retry-After 1 s;
/// everything else fails at once. 20 s leaves room for a loaded machine.
const RUN_BOUND: Duration = Duration::from_secs(20);

/// Fault kinds (see the proxy's docstring), whether dum recovers from them by itself
/// (retries), and what the one-line error must say otherwise.
const KINDS: &[(&str, Option<&str>)] = &[
    ("burst503", None),
    ("always500", Some("HTTP 500")),
    ("retry429", None),
    ("long429", Some("Retry-After 3600s")),
    ("stall", Some("timed out")),
    ("reset", Some("reading the answer")),
    ("truncated", Some("reading the answer")),
    ("badjson", Some("not the JSON")),
    ("html", Some("HTML page")),
    ("huge", Some("larger than")),
    ("redirect", Some("tags")),
    ("linkloop", Some("in a loop")),
];

/// The fault proxy process; killed on drop.
pub struct FaultProxy {
    /// `127.0.0.1:port` to give dum as the image's `registry`.
    pub host: String,
    _process: Watched,
    _dir: tempfile::TempDir,
}

impl FaultProxy {
    /// Starts the proxy in front of `upstream` (host:port); stalls last `stall_secs`.
    pub fn start(upstream: &str, stall_secs: u64) -> FaultProxy {
        let dir = temp_dir("dum-test-faultproxy-");
        let port_file = dir.path().join("port");
        let log = dir.path().join("proxy.log");
        let mut cmd = Command::new("python3");
        cmd.arg(fixture("fault_proxy.py"))
            .arg("--upstream")
            .arg(upstream)
            .arg("--stall")
            .arg(stall_secs.to_string())
            .arg("--port-file")
            .arg(&port_file);
        let mut process = Watched::spawn(cmd, &log, None);
        let port = crate::harness::registry::wait_for_port_file(&port_file, &mut process, &log);
        FaultProxy {
            host: format!("127.0.0.1:{port}"),
            _process: process,
            _dir: dir,
        }
    }
}

fn entry(image: &Image, proxy: &FaultProxy) -> Value {
    json!({
        "image": image.name(),
        "regex": "^[0-9]+\\.[0-9]+\\.[0-9]+$",
        "registry": proxy.host,
        "grace_seconds": 1,
        "auto_update": true,
    })
}

fn two_versions(hint: &str) -> (Image<'static>, Pushed) {
    let image = Image::new(registry::anon(), hint);
    let v1 = image.clone().version("1.0.0").build_and_push();
    image
        .clone()
        .version("2.0.0")
        .keep_local(false)
        .build_and_push();
    (image, v1)
}

fn row<'a>(rows: &'a [Value], image: &Image) -> &'a Value {
    rows.iter()
        .find(|r| r["image"] == image.name().as_str())
        .unwrap_or_else(|| panic!("no row for {} in {rows:?}", image.name()))
}

fn assert_state_intact(dum: &Dum, healthy: &[&Image]) {
    let text = fs::read_to_string(dum.state_path()).unwrap();
    let state: Value = serde_json::from_str(&text).expect("state is valid JSON");
    for image in healthy {
        let found = state["images"]
            .as_object()
            .unwrap()
            .values()
            .any(|e| e["image"] == image.name().as_str() && e["status"] != "failed");
        assert!(found, "{} missing or failed in state {state}", image.name());
    }
}

#[test]
fn every_registry_fault_fails_only_its_image_within_the_bound() {
    let upstream = registry::anon().upstream_host().to_string();
    let proxy = FaultProxy::start(&upstream, 60);
    let healthy: Vec<(Image, Pushed)> = ["fh-one", "fh-two"]
        .iter()
        .map(|h| two_versions(h))
        .collect();
    let containers: Vec<Container> = healthy
        .iter()
        .map(|(image, v1)| Container::run(&format!("{}-c", image.repository()), &v1.reference, &[]))
        .collect();
    let faulty: Vec<(&str, Option<&str>, Image)> = KINDS
        .iter()
        .map(|(kind, want)| (*kind, *want, two_versions(&format!("fault-{kind}")).0))
        .collect();

    let mut figures = Vec::new();
    for (kind, want, image) in &faulty {
        let mut images: Vec<Value> = healthy.iter().map(|(i, _)| entry(i, &proxy)).collect();
        images.push(entry(image, &proxy));
        let dum = Dum::new()
            .config_json(json!({ "images": images }))
            .env("DUM_REGISTRY_TIMEOUT_SECS", TIMEOUT_SECS);
        let started = Instant::now();
        let out = dum.run(&["check", "--format", "json"]);
        let took = started.elapsed();
        assert!(took < RUN_BOUND, "{kind}: took {took:?}\n{out:?}");
        let rows = out.json()["images"].as_array().unwrap().clone();
        for (h, _) in &healthy {
            assert_eq!(
                row(&rows, h)["status"],
                "update_available",
                "{kind}: healthy image\n{out:?}"
            );
        }
        let faulty_row = row(&rows, image);
        figures.push(format!(
            "{kind}: {took:.1?} {} {}",
            faulty_row["status"],
            faulty_row["error"].as_str().unwrap_or("")
        ));
        match want {
            None => {
                out.assert_code(100);
                assert_ne!(faulty_row["status"], "failed", "{kind} recovers\n{out:?}");
                assert_eq!(faulty_row["latest_version"], "2.0.0", "{kind}");
            }
            Some(needle) => {
                out.assert_code(1);
                assert_eq!(faulty_row["status"], "failed", "{kind}\n{out:?}");
                let error = faulty_row["error"].as_str().unwrap();
                assert!(
                    !error.contains('\n') && error.contains(needle),
                    "{kind}: error {error:?} lacks {needle:?}"
                );
            }
        }
        assert_state_intact(&dum, &healthy.iter().map(|(i, _)| i).collect::<Vec<_>>());
    }
    eprintln!("registry faults:\n{}", figures.join("\n"));

    // All faults at once in one update: the healthy containers are updated, nothing else
    // moves, the run stays bounded, state and history stay valid.
    let mut images: Vec<Value> = healthy.iter().map(|(i, _)| entry(i, &proxy)).collect();
    images.extend(faulty.iter().map(|(_, _, i)| entry(i, &proxy)));
    let dum = Dum::new()
        .config_json(json!({ "images": images }))
        .env("DUM_REGISTRY_TIMEOUT_SECS", TIMEOUT_SECS);
    let started = Instant::now();
    let out = dum.run(&["update"]);
    let took = started.elapsed();
    out.assert_code(1);
    assert!(
        took < Duration::from_secs(60),
        "update took {took:?}\n{out:?}"
    );
    for ((image, _), c) in healthy.iter().zip(&containers) {
        assert_eq!(
            c.inspect()["Config"]["Image"],
            image.reference("2.0.0"),
            "{out:?}"
        );
        assert_eq!(c.status(), "running");
    }
    assert_state_intact(&dum, &[]);
    let history = dum.run(&["history", "--format", "json"]);
    history.assert_code(0);
    let updated = history.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["result"] == "updated")
        .count();
    assert_eq!(updated, healthy.len(), "{history:?}");
    eprintln!("all faults at once, update: {took:?}");
}
