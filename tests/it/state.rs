//! The state file: what each check saw, when a pending update was first seen, failed
//! checks keeping what was known, corrupt files moved aside, mode 0600.

use crate::harness::registry::{self, Kind};
use crate::harness::{Container, Dum, Image, LABEL_ARG, Registry, docker};
use crate::report::{Report, config, entry};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;

const OLD_SEEN: &str = "2020-01-01T00:00:00Z";

fn is_rfc3339_utc(text: &Value) -> bool {
    let Some(s) = text.as_str() else {
        return false;
    };
    let b = s.as_bytes();
    b.len() == 20
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'Z'
        && s.starts_with("20")
        && s != OLD_SEEN
}

fn entry_of<'a>(state: &'a Value, key: &str) -> &'a Value {
    let e = &state["images"][key];
    assert!(e.is_object(), "no state entry {key}:\n{state:#}");
    e
}

#[test]
fn state_tracks_pending_updates_across_runs() {
    let reg = registry::anon();
    let app = Image::new(reg, "state");
    let v1 = app.clone().version("v1.0.0").build_and_push();
    let v2 = app.clone().version("v1.1.0").build_and_push();
    let c = Container::run("state", &v1.reference, &[]);
    let image_entry = entry(&app.name(), json!({"container_name": c.name()}));
    let dum = Dum::new().config_json(config(std::slice::from_ref(&image_entry)));
    let key = format!("{}#{}", app.name(), c.name());

    Report::run(&dum, &[], 100);
    let state = dum.state().expect("no state file after a check");
    assert_eq!(state["version"], 1, "{state:#}");
    assert_eq!(state["journal"], json!([]), "{state:#}");
    let e = entry_of(&state, &key);
    for (k, v) in [
        ("image", json!(app.name())),
        ("container", json!(c.name())),
        ("current_version", json!("v1.0.0")),
        ("current_digest", json!(v1.digest)),
        ("latest_version", json!("v1.1.0")),
        ("latest_digest", json!(v2.digest)),
        ("status", json!("update_available")),
    ] {
        assert_eq!(e[k], v, "state member {k}:\n{state:#}");
    }
    assert!(is_rfc3339_utc(&e["checked_at"]), "{state:#}");
    assert!(is_rfc3339_utc(&e["update_first_seen"]), "{state:#}");
    let mode = std::fs::metadata(dum.state_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "state file mode {mode:o}");

    // The same update still pending: its first sighting is kept.
    let mut aged = state.clone();
    aged["images"][&key]["update_first_seen"] = json!(OLD_SEEN);
    std::fs::write(dum.state_path(), aged.to_string()).unwrap();
    Report::run(&dum, &[], 100);
    let state = dum.state().unwrap();
    assert_eq!(
        entry_of(&state, &key)["update_first_seen"],
        OLD_SEEN,
        "{state:#}"
    );

    // A dry run reads but writes nothing.
    let before = std::fs::read(dum.state_path()).unwrap();
    Report::run(&dum, &["--dry-run"], 100);
    assert_eq!(std::fs::read(dum.state_path()).unwrap(), before);

    // A failed check keeps what was known; only the status changes.
    let dead = Registry::start(Kind::Anon);
    let dead_host = dead.host().to_string();
    drop(dead);
    let mut broken = image_entry.clone();
    broken["registry"] = json!(dead_host);
    dum.write_config(&config(&[broken]));
    Report::run(&dum, &[], 1);
    let state = dum.state().unwrap();
    let e = entry_of(&state, &key);
    assert_eq!(e["status"], "failed", "{state:#}");
    for (k, v) in [
        ("current_version", json!("v1.0.0")),
        ("current_digest", json!(v1.digest)),
        ("latest_version", json!("v1.1.0")),
        ("latest_digest", json!(v2.digest)),
        ("update_first_seen", json!(OLD_SEEN)),
    ] {
        assert_eq!(e[k], v, "a failed check changed {k}:\n{state:#}");
    }
    dum.write_config(&config(std::slice::from_ref(&image_entry)));

    // A newer version: a new pending update, seen now.
    let v3 = app.clone().version("v1.2.0").build_and_push();
    Report::run(&dum, &[], 100);
    let state = dum.state().unwrap();
    let e = entry_of(&state, &key);
    assert_eq!(e["latest_version"], "v1.2.0", "{state:#}");
    assert_eq!(e["latest_digest"], json!(v3.digest), "{state:#}");
    assert_eq!(e["status"], "update_available", "{state:#}");
    assert!(
        is_rfc3339_utc(&e["update_first_seen"]),
        "update_first_seen should be reset for the newer version:\n{state:#}"
    );

    // Up to date: nothing pending. Same container name, now running the newest.
    docker(&["rm", "-f", c.name()]);
    docker(&[
        "run",
        "-d",
        "--name",
        c.name(),
        "--label",
        LABEL_ARG,
        &v3.reference,
    ]);
    Report::run(&dum, &[], 0);
    let state = dum.state().unwrap();
    let e = entry_of(&state, &key);
    assert_eq!(e["status"], "up_to_date", "{state:#}");
    assert_eq!(e["current_version"], "v1.2.0", "{state:#}");
    assert_eq!(e["update_first_seen"], Value::Null, "{state:#}");
}

/// Unusable state files: (case, content).
const CORRUPT: &[(&str, &str)] = &[
    ("truncated JSON", "{\"version\": 1, \"images\": {tru"),
    (
        "unknown version",
        "{\"version\": 2, \"images\": {}, \"journal\": []}",
    ),
    ("no version", "{\"images\": {}}"),
];

#[test]
fn a_corrupt_state_file_is_moved_aside() {
    let reg = registry::anon();
    let app = Image::new(reg, "corrupt");
    let v1 = app.clone().version("v1.0.0").build_and_push();
    let c = Container::run("corrupt", &v1.reference, &[]);
    for (case, garbage) in CORRUPT {
        let dum = Dum::new().config_json(config(&[entry(
            &app.name(),
            json!({"container_name": c.name()}),
        )]));
        std::fs::write(dum.state_path(), garbage).unwrap();

        let report = Report::run(&dum, &[], 0);
        report.assert_fields(report.only(), json!({"status": "up_to_date"}));
        let dir = dum.state_path().parent().unwrap().to_path_buf();
        let aside: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("state.json.corrupt-"))
            .collect();
        assert_eq!(
            aside.len(),
            1,
            "{case}: expected one moved-aside file in {dir:?}: {aside:?}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join(&aside[0])).unwrap(),
            *garbage,
            "{case}"
        );
        let warning = report
            .out
            .stderr
            .lines()
            .find(|l| l.contains(&aside[0]))
            .unwrap_or_default();
        assert!(
            warning.starts_with("[WARN"),
            "{case}: no warning naming {}:\n{:?}",
            aside[0],
            report.out
        );
        let state = dum.state().expect("no fresh state written");
        assert_eq!(state["version"], 1, "{case}");
        let key = format!("{}#{}", app.name(), c.name());
        assert_eq!(entry_of(&state, &key)["status"], "up_to_date", "{case}");
    }
}

/// Issue 17: the state file is read once per run, whatever the run does (before: 3
/// reads per check, 10 per one-container update, one per module that needed it).
/// Counted from dum's debug log, which says each read.
#[test]
fn one_run_reads_the_state_file_once() {
    let reg = registry::anon();
    let app = Image::new(reg, "readonce");
    let v1 = app.clone().version("v1.0.0").build_and_push();
    app.clone().version("v1.1.0").build_and_push();
    let c = Container::run("readonce", &v1.reference, &[]);
    let dum = Dum::new().config_json(config(&[entry(
        &app.name(),
        json!({"container_name": c.name()}),
    )]));
    let reads = |out: &crate::harness::Output, what: &str| {
        out.stderr
            .lines()
            .filter(|l| l.contains(&format!("read the {what} file")))
            .count()
    };
    let check = dum.run(&["check"]);
    check.assert_code(100);
    assert_eq!(reads(&check, "state"), 1, "{check:?}");
    assert_eq!(reads(&check, "history"), 0, "{check:?}");
    let update = dum.run(&["update", c.name()]);
    update.assert_code(101);
    assert_eq!(reads(&update, "state"), 1, "{update:?}");
    assert_eq!(reads(&update, "history"), 1, "{update:?}");
    let history = dum.run(&["history"]);
    history.assert_code(0);
    assert_eq!(reads(&history, "state"), 0, "{history:?}");
    assert_eq!(reads(&history, "history"), 1, "{history:?}");
}
