//! Concurrent runs on one state: the run lock lets exactly one work at a time; the others
//! exit 75 at once, or wait with `--wait` and then all succeed; state and history stay
//! valid JSON and no history entry is lost.
//!
//! To make "at once" deterministic each run holds the lock for at least a second: its
//! image is queried through `tests/fixtures/fault_proxy.py`'s `slow` mode (the real
//! registry, answered after 1 s).

use crate::faults::FaultProxy;
use crate::harness::{Container, Dum, Image, Output, registry};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn slow_setup(hint: &str) -> (FaultProxy, Image<'static>, Container, Value) {
    let proxy = FaultProxy::start(registry::anon().upstream_host(), 60);
    let image = Image::new(registry::anon(), &format!("fault-slow-{hint}"));
    let v1 = image.clone().version("1.0.0").build_and_push();
    image
        .clone()
        .version("2.0.0")
        .keep_local(false)
        .build_and_push();
    let c = Container::run(hint, &v1.reference, &[]);
    let config = json!({"images": [{
        "image": image.name(), "regex": "^[0-9.]+$", "registry": proxy.host,
        "grace_seconds": 1
    }]});
    (proxy, image, c, config)
}

fn run_all(dum: &Dum, n: usize, args: &[&str]) -> Vec<Output> {
    let running: Vec<_> = (0..n).map(|_| dum.spawn(args)).collect();
    running.into_iter().map(|r| r.wait()).collect()
}

fn assert_files_valid(dum: &Dum) {
    for name in ["state.json", "history.json"] {
        let path = dum.dir().join("state").join(name);
        if let Ok(text) = std::fs::read_to_string(&path) {
            serde_json::from_str::<Value>(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON ({e}):\n{text}", path.display()));
        }
    }
}

#[test]
fn concurrent_checks_one_works_the_rest_exit_75_or_wait() {
    let (_proxy, _image, _c, config) = slow_setup("conc-check");
    let dum = Dum::new().config_json(config);
    let mut figures = Vec::new();
    for n in [2, 10] {
        let outs = run_all(&dum, n, &["check"]);
        let codes: Vec<i32> = outs.iter().map(|o| o.code).collect();
        let worked = codes.iter().filter(|&&c| c == 0 || c == 100).count();
        let held = codes.iter().filter(|&&c| c == 75).count();
        assert_eq!(
            (worked, held),
            (1, n - 1),
            "{n} at once: codes {codes:?}\n{outs:?}"
        );
        for o in outs.iter().filter(|o| o.code == 75) {
            assert!(o.stderr.contains("holds the lock"), "{o:?}");
        }
        assert_files_valid(&dum);
        figures.push(format!("{n} at once: codes {codes:?}"));
    }
    let started = Instant::now();
    let outs = run_all(&dum, 10, &["check", "--wait", "30"]);
    let codes: Vec<i32> = outs.iter().map(|o| o.code).collect();
    assert!(
        codes.iter().all(|&c| c == 100),
        "--wait 30: {codes:?}\n{outs:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "10 runs of >= 1 s each ran serially: {:?}",
        started.elapsed()
    );
    assert_files_valid(&dum);
    figures.push(format!(
        "10 with --wait 30: codes {codes:?} in {:?}",
        started.elapsed()
    ));
    eprintln!("concurrency: {}", figures.join("; "));
}

#[test]
fn concurrent_updates_lose_no_history_entry() {
    let (_p1, i1, c1, config1) = slow_setup("conc-upd-a");
    let (_p2, i2, c2, config2) = slow_setup("conc-upd-b");
    let mut images = config1["images"].as_array().unwrap().clone();
    images.extend(config2["images"].as_array().unwrap().iter().cloned());
    let dum = Dum::new().config_json(json!({ "images": images }));
    let a = dum.spawn(&["update", "--wait", "60", c1.name()]);
    let b = dum.spawn(&["update", "--wait", "60", c2.name()]);
    let (a, b) = (a.wait(), b.wait());
    a.assert_code(101);
    b.assert_code(101);
    assert_eq!(c1.inspect()["Config"]["Image"], i1.reference("2.0.0"));
    assert_eq!(c2.inspect()["Config"]["Image"], i2.reference("2.0.0"));
    assert_files_valid(&dum);
    let history = dum.run(&["history", "--format", "json"]);
    history.assert_code(0);
    let entries = history.json()["entries"].as_array().unwrap().clone();
    let mut containers: Vec<&str> = entries
        .iter()
        .filter(|e| e["result"] == "updated")
        .map(|e| e["container"].as_str().unwrap())
        .collect();
    containers.sort_unstable();
    let mut want = vec![c1.name(), c2.name()];
    want.sort_unstable();
    assert_eq!(containers, want, "{entries:?}");
}
