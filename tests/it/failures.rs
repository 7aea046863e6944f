//! Failures: one image failing does not hide the others (exit 1, partial report), each
//! error is one line naming the image; a missing engine socket fails the run.

use crate::harness::registry::{self, Kind};
use crate::harness::{Container, Dum, Image, Registry};
use crate::report::{Report, config, entry};
use serde_json::{Value, json};

fn assert_one_line_naming(row: &Value, image: &str, needle: &str) {
    let error = row["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(needle) && error.contains(image.split_once('/').map_or(image, |(_, r)| r)),
        "error should mention {needle:?} and name {image}: {row:#}"
    );
    assert!(!error.contains('\n'), "error is not one line: {error:?}");
}

#[test]
fn unknown_repository_and_dead_registry_fail_only_their_rows() {
    let reg = registry::anon();
    let good = Image::new(reg, "good");
    let v1 = good.clone().version("v1.0.0").build_and_push();
    let v2 = good
        .clone()
        .version("v1.1.0")
        .also_tag("latest")
        .build_and_push();
    let c = Container::run("good", &v1.reference, &[]);
    let missing = format!(
        "{}/{}-nothing/here",
        reg.host(),
        crate::harness::unique("nope")
    );
    let dead = Registry::start(Kind::Anon);
    let dead_image = format!("{}/gone/app", dead.host());
    drop(dead);
    let dum = Dum::new().config_json(config(&[
        entry(&missing, json!({})),
        entry(&good.name(), json!({"container_name": c.name()})),
        entry(&dead_image, json!({})),
    ]));

    let report = Report::run(&dum, &[], 1);
    report.assert_summary(3, 0, 1, 0, 2);
    report.assert_fields(
        report.image(&good.name()),
        json!({
            "status": "update_available",
            "current_version": "v1.0.0",
            "current_digest": v1.digest,
            "latest_version": "v1.1.0",
            "latest_digest": v2.digest,
            "error": null,
        }),
    );
    let row = report.image(&missing);
    report.assert_fields(row, json!({"status": "failed", "latest_version": null}));
    assert_one_line_naming(row, &missing, "not found");
    let row = report.image(&dead_image);
    report.assert_fields(row, json!({"status": "failed", "latest_version": null}));
    let error = row["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(dead_image.split_once('/').unwrap().0),
        "error should name the unreachable registry: {row:#}"
    );
    assert!(!error.contains('\n'), "error is not one line: {error:?}");

    // The table shows the partial results too.
    let out = dum.run(&["check"]);
    out.assert_code(1);
    out.assert_stdout_contains("update available");
    out.assert_stdout_contains("failed");
    out.assert_stdout_contains("not found");
}

#[test]
fn a_regex_matching_no_tag_fails_the_image() {
    let reg = registry::anon();
    let app = Image::new(reg, "nomatch");
    let v1 = app.clone().version("v1.0.0").build_and_push();
    let c = Container::run("nomatch", &v1.reference, &[]);
    let dum = Dum::new().config_json(config(&[entry(
        &app.name(),
        json!({"container_name": c.name(), "regex": "^release-[0-9]+$"}),
    )]));
    let report = Report::run(&dum, &[], 1);
    let row = report.only();
    report.assert_fields(row, json!({"status": "failed", "container": c.name()}));
    assert_one_line_naming(row, &app.name(), "^release-[0-9]+$");
}

#[test]
fn a_missing_docker_socket_is_named() {
    let reg = registry::anon();
    let app = Image::new(reg, "nosocket");
    app.clone().version("v1.0.0").build_and_push();
    let dum = Dum::new()
        .config_json(config(&[entry(&app.name(), json!({}))]))
        .env("DOCKER_HOST", "unix:///nonexistent.sock");
    let out = dum.run(&["check"]);
    out.assert_code(1);
    out.assert_stderr_contains("/nonexistent.sock");
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("dum: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line expected:\n{out:?}");
}
