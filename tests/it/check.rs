//! `dum check`: what runs, what is newest, where the base tag points, the verdict, and
//! the exit code; JSON and table output.

use crate::harness::image::{self, delete_local};
use crate::harness::{Container, Dum, Image, docker, registry};
use crate::report::{Report, config, entry};
use serde_json::{Value, json};

#[test]
fn each_container_of_an_unnamed_entry_gets_its_row_and_verdict() {
    let reg = registry::anon();
    let app = Image::new(reg, "app");
    let v1 = app.clone().version("v1.0.0").build_and_push();
    let v2 = app
        .clone()
        .version("v1.1.0")
        .also_tag("latest")
        .build_and_push();
    let old = Container::run("old", &v1.reference, &[]);
    let new = Container::run("new", &v2.reference, &[]);
    let dum = Dum::new().config_json(config(&[entry(&app.name(), json!({}))]));

    let report = Report::run(&dum, &[], 100);
    assert_eq!(report.doc["dry_run"], false);
    assert_eq!(report.doc["discovered"], false);
    assert!(
        report.doc["dum_version"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
    let common = json!({
        "image": app.name(),
        "latest_version": "v1.1.0",
        "latest_digest": v2.digest,
        "base_tag": "latest",
        "base_tag_version": "v1.1.0",
        "base_tag_digest": v2.digest,
        "error": null,
    });
    let row = report.container(old.name());
    report.assert_fields(row, common.clone());
    report.assert_fields(
        row,
        json!({
            "current_version": "v1.0.0",
            "current_digest": v1.digest,
            "status": "update_available",
            "note": null,
        }),
    );
    let row = report.container(new.name());
    report.assert_fields(row, common);
    report.assert_fields(
        row,
        json!({
            "current_version": "v1.1.0",
            "current_digest": v2.digest,
            "status": "up_to_date",
            "note": null,
        }),
    );
    report.assert_summary(2, 1, 1, 0, 0);
    let containers: Vec<&Value> = report.rows().iter().map(|r| &r["container"]).collect();
    assert_eq!(report.rows().len(), 2, "{:?}", report.out);
    assert!(containers.contains(&&json!(old.name())));

    // Once the old container is gone, nothing is pending: exit 0.
    drop(old);
    let report = Report::run(&dum, &[], 0);
    report.assert_fields(
        report.only(),
        json!({"container": new.name(), "status": "up_to_date"}),
    );
    report.assert_summary(1, 1, 0, 0, 0);
}

#[test]
fn current_version_comes_from_a_local_version_tag() {
    let reg = registry::anon();
    let app = Image::new(reg, "localtag");
    let v1 = app.clone().version("v1.0.0").build_and_push();
    let v2 = app
        .clone()
        .version("v1.1.0")
        .also_tag("latest")
        .build_and_push();
    // The container was created as `:stable`, a tag the regex rejects; the image's
    // other local tag `v1.0.0` names the version.
    let stable = app.reference("stable");
    docker(&["tag", &v1.reference, &stable]);
    let c = Container::run("localtag", &stable, &[]);
    let dum = Dum::new().config_json(config(&[entry(
        &app.name(),
        json!({"container_name": c.name()}),
    )]));

    let report = Report::run(&dum, &[], 100);
    report.assert_fields(
        report.only(),
        json!({
            "container": c.name(),
            "current_version": "v1.0.0",
            "current_digest": v1.digest,
            "latest_version": "v1.1.0",
            "latest_digest": v2.digest,
            "status": "update_available",
        }),
    );
    delete_local(&stable);
}

#[test]
fn current_version_comes_from_the_digest_when_no_tag_names_it() {
    let reg = registry::anon();
    let app = Image::new(reg, "bydigest").keep_local(false);
    let _v1 = app.clone().version("v1.0.0").build_and_push();
    let v11 = app
        .clone()
        .version("v1.1.0")
        .also_tag("latest")
        .build_and_push();
    let v12 = app.clone().version("v1.2.0").build_and_push();
    // Pulled by `latest` only: the version is known from RepoDigests alone.
    let latest = app.reference("latest");
    docker(&["pull", "-q", &latest]);
    let c = Container::run("bydigest", &latest, &[]);
    let dum = Dum::new().config_json(config(&[entry(
        &app.name(),
        json!({"container_name": c.name()}),
    )]));

    let report = Report::run(&dum, &[], 100);
    let row = report.only();
    report.assert_fields(
        row,
        json!({
            "current_version": "v1.1.0",
            "current_digest": v11.digest,
            "latest_version": "v1.2.0",
            "latest_digest": v12.digest,
            "base_tag_version": "v1.1.0",
            "base_tag_digest": v11.digest,
            "status": "update_available",
            "error": null,
        }),
    );
    let note = row["note"].as_str().unwrap_or_default();
    assert!(
        note.contains("v1.1.0") && note.contains("v1.2.0"),
        "note should say latest is behind the newest: {row:#}"
    );
    drop(c);
    delete_local(&latest);
}

#[test]
fn base_tag_resolves_to_a_version_and_a_missing_one_is_only_a_note() {
    let reg = registry::anon();
    let app = Image::new(reg, "basetag");
    let v1 = app
        .clone()
        .version("v1.0.0")
        .also_tag("stable")
        .build_and_push();
    let v2 = app.clone().version("v1.1.0").build_and_push();
    let c = Container::run("basetag", &v2.reference, &[]);
    let dum = Dum::new().config_json(config(&[entry(
        &app.name(),
        json!({"container_name": c.name(), "base_tag": "stable"}),
    )]));
    let report = Report::run(&dum, &[], 0);
    report.assert_fields(
        report.only(),
        json!({
            "status": "up_to_date",
            "current_version": "v1.1.0",
            "latest_version": "v1.1.0",
            "latest_digest": v2.digest,
            "base_tag": "stable",
            "base_tag_version": "v1.0.0",
            "base_tag_digest": v1.digest,
        }),
    );

    // No `latest` in this repository: not a failure, just a note.
    dum.write_config(&config(&[entry(
        &app.name(),
        json!({"container_name": c.name()}),
    )]));
    let report = Report::run(&dum, &[], 0);
    let row = report.only();
    report.assert_fields(
        row,
        json!({
            "status": "up_to_date",
            "current_version": "v1.1.0",
            "latest_version": "v1.1.0",
            "base_tag": "latest",
            "base_tag_version": null,
            "base_tag_digest": null,
            "error": null,
        }),
    );
    let note = row["note"].as_str().unwrap_or_default();
    assert!(
        note.contains("latest") && note.contains("does not exist"),
        "note should say the base tag is missing: {row:#}"
    );
}

#[test]
fn without_a_regex_the_base_tag_digest_is_tracked() {
    let reg = registry::anon();
    let app = Image::new(reg, "digestonly");
    let first = app.clone().env("BUILD", "1").build_and_push();
    let c = Container::run("digestonly", &first.reference, &[]);
    let dum = Dum::new().config_json(config(&[entry(
        &app.name(),
        json!({"container_name": c.name(), "regex": null}),
    )]));

    let report = Report::run(&dum, &[], 0);
    report.assert_fields(
        report.only(),
        json!({
            "status": "up_to_date",
            "current_version": null,
            "current_digest": first.digest,
            "latest_version": null,
            "latest_digest": first.digest,
            "base_tag": "latest",
            "base_tag_digest": first.digest,
            "error": null,
        }),
    );

    let second = app.clone().env("BUILD", "2").build_and_push();
    assert_ne!(first.digest, second.digest);
    let report = Report::run(&dum, &[], 100);
    report.assert_fields(
        report.only(),
        json!({
            "status": "update_available",
            "current_digest": first.digest,
            "latest_digest": second.digest,
            "base_tag_digest": second.digest,
        }),
    );
}

#[test]
fn absent_or_stopped_containers_are_not_running() {
    let reg = registry::anon();
    let app = Image::new(reg, "absent");
    let v1 = app.clone().version("v1.0.0").build_and_push();
    let v2 = app.clone().version("v1.1.0").build_and_push();
    let stopped = Container::run("stopped", &v1.reference, &[]);
    docker(&["stop", "-t", "1", stopped.name()]);
    let missing = format!("{}-missing", stopped.name());
    let other = Image::new(reg, "unused");
    other.clone().version("v2.0.0").build_and_push();
    let dum = Dum::new().config_json(config(&[
        entry(&app.name(), json!({"container_name": stopped.name()})),
        entry(&app.name(), json!({"container_name": missing})),
        entry(&other.name(), json!({})),
    ]));

    let report = Report::run(&dum, &[], 0);
    report.assert_summary(3, 0, 0, 3, 0);
    report.assert_fields(
        report.container(stopped.name()),
        json!({
            "status": "not_running",
            "current_version": "v1.0.0",
            "current_digest": v1.digest,
            "latest_version": "v1.1.0",
            "latest_digest": v2.digest,
        }),
    );
    let row = report.container(&missing);
    report.assert_fields(
        row,
        json!({"status": "not_running", "current_version": null, "latest_version": "v1.1.0"}),
    );
    assert!(
        row["note"].as_str().is_some_and(|n| n.contains(&missing)),
        "{row:#}"
    );
    report.assert_fields(
        report.image(&other.name()),
        json!({"status": "not_running", "container": null, "latest_version": "v2.0.0"}),
    );
}

#[test]
fn a_config_without_images_says_so_instead_of_a_bare_header() {
    let dum = Dum::new().config_json(json!({"images": []}));
    let out = dum.run(&["check"]);
    out.assert_code(0);
    let lines: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one sentence:\n{out:?}");
    assert!(!lines[0].contains("STATUS"), "bare table header:\n{out:?}");
    out.assert_stdout_contains("no images to check")
        .assert_stdout_contains(&dum.config_path().display().to_string());

    // JSON: the same document as ever, with an empty list.
    let report = Report::run(&dum, &[], 0);
    assert_eq!(report.doc["images"], json!([]), "{:?}", report.out);
    assert_eq!(report.doc["discovered"], false, "{:?}", report.out);
    report.assert_summary(0, 0, 0, 0, 0);
}

#[test]
fn table_goes_to_stdout_and_logs_to_stderr() {
    let reg = registry::anon();
    let app = Image::new(reg, "table");
    let v1 = app.clone().version("v1.0.0").build_and_push();
    app.clone()
        .version("v1.1.0")
        .also_tag("latest")
        .build_and_push();
    let c = Container::run("table", &v1.reference, &[]);
    let dum = Dum::new().config_json(config(&[entry(
        &app.name(),
        json!({"container_name": c.name()}),
    )]));

    let out = dum.run(&["check"]);
    out.assert_code(100);
    let mut lines = out.stdout.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["IMAGE", "CONTAINER", "CURRENT", "LATEST", "STATUS", "NOTE"],
        "{out:?}"
    );
    let row = lines.next().unwrap_or_default();
    for cell in [
        app.name().as_str(),
        c.name(),
        "v1.0.0",
        "v1.1.0",
        "update available",
    ] {
        assert!(row.contains(cell), "row lacks {cell:?}:\n{out:?}");
    }
    assert_eq!(lines.next(), None, "one row only:\n{out:?}");
    // LOG_LEVEL=debug (set by the harness) logs on stderr, never on stdout.
    assert!(!out.stderr.is_empty(), "{out:?}");
    for line in out.stderr.lines() {
        assert!(!out.stdout.contains(line), "log line {line:?} on stdout");
    }
}

#[test]
fn flags_work_before_or_after_the_subcommand_and_from_the_environment() {
    let reg = registry::anon();
    let app = Image::new(reg, "flags");
    let v1 = app.clone().version("v1.0.0").build_and_push();
    let c = Container::run("flags", &v1.reference, &[]);
    let dum = Dum::new();
    // The config and state named on the command line win over CONFIG_FILE/STATE_FILE.
    let config_path = dum.dir().join("other-config.json");
    let state_path = dum.dir().join("other-state/state.json");
    std::fs::write(
        &config_path,
        config(&[entry(&app.name(), json!({"container_name": c.name()}))]).to_string(),
    )
    .unwrap();
    let config_arg = config_path.to_str().unwrap();
    let state_arg = state_path.to_str().unwrap();

    let runs: &[&[&str]] = &[
        &[
            "--format",
            "json",
            "--log-level",
            "error",
            "--config",
            config_arg,
            "--state",
            state_arg,
            "check",
        ],
        &[
            "check",
            "--format",
            "json",
            "--log-level",
            "error",
            "--config",
            config_arg,
            "--state",
            state_arg,
        ],
    ];
    for args in runs {
        let out = dum.run(args);
        out.assert_code(0);
        let doc = out.json();
        assert_eq!(doc["images"][0]["status"], "up_to_date", "{out:?}");
        assert_eq!(doc["images"][0]["current_version"], "v1.0.0", "{out:?}");
        assert_eq!(doc["dry_run"], false, "{out:?}");
        // --log-level error beats LOG_LEVEL=debug.
        assert!(
            !out.stderr.contains("DEBUG"),
            "debug lines despite --log-level error:\n{out:?}"
        );
    }
    assert!(state_path.exists(), "--state was not used");
    assert!(
        dum.state().is_none(),
        "STATE_FILE was written despite --state"
    );

    // --dry-run as a flag after the subcommand, and DRY_RUN=1 from the environment.
    // A fresh state dir shows that nothing at all, not even the lock file, is created.
    let state_path = dum.dir().join("dry-state/state.json");
    let state_arg = state_path.to_str().unwrap();
    let out = dum.run(&[
        "check",
        "--config",
        config_arg,
        "--state",
        state_arg,
        "--format",
        "json",
        "--dry-run",
    ]);
    out.assert_code(0);
    assert_eq!(out.json()["dry_run"], true, "{out:?}");
    let mut cmd = dum.command(&[
        "--config", config_arg, "--state", state_arg, "check", "--format", "json",
    ]);
    cmd.env("DRY_RUN", "1");
    let raw = cmd.output().unwrap();
    assert_eq!(raw.status.code(), Some(0), "{raw:?}");
    let doc: Value = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(doc["dry_run"], true);
    assert!(
        !dum.dir().join("dry-state").exists(),
        "a dry run created the state dir, state or lock file"
    );
}

#[test]
fn image_index_is_no_false_update() {
    let reg = registry::basic();
    let app = Image::new(reg, "multiarch").keep_local(false);
    let v1 = app.clone().version("v1.0.0").build_and_push();
    // Like a Docker Hub release: the version tag is an index whose platform
    // manifests carry no tag of their own.
    app.clone().version("build-1.1.0").build_and_push();
    let index = image::push_index(reg, app.repository(), "v1.1.0", "build-1.1.0");
    image::retag(reg, app.repository(), "v1.1.0", "latest");
    let latest = app.reference("latest");
    docker(&[
        "--config",
        reg.harness_docker_config().to_str().unwrap(),
        "pull",
        "-q",
        &latest,
    ]);
    let c = Container::run("multiarch", &latest, &[]);
    let dum = Dum::new()
        .config_json(config(&[entry(
            &app.name(),
            json!({"container_name": c.name()}),
        )]))
        .login(reg);

    let report = Report::run(&dum, &[], 0);
    report.assert_fields(
        report.only(),
        json!({
            "status": "up_to_date",
            "current_version": "v1.1.0",
            "latest_version": "v1.1.0",
            "latest_digest": index,
            "base_tag_version": "v1.1.0",
            "base_tag_digest": index,
            "error": null,
        }),
    );
    assert_ne!(index, v1.digest);

    // Another platform of the same index pulled beside it (the graph store moves the
    // local tag to it; the containerd store adds it to the same image): still no update.
    docker(&[
        "--config",
        reg.harness_docker_config().to_str().unwrap(),
        "pull",
        "-q",
        "--platform",
        "linux/arm64",
        &latest,
    ]);
    let report = Report::run(&dum, &[], 0);
    report.assert_fields(
        report.only(),
        json!({"status": "up_to_date", "current_version": "v1.1.0", "error": null}),
    );

    let v2 = app.clone().version("v1.2.0").build_and_push();
    let report = Report::run(&dum, &[], 100);
    report.assert_fields(
        report.only(),
        json!({
            "status": "update_available",
            "current_version": "v1.1.0",
            "latest_version": "v1.2.0",
            "latest_digest": v2.digest,
            "base_tag_version": "v1.1.0",
        }),
    );
    drop(c);
    delete_local(&latest);
}

#[test]
fn a_container_pinned_to_a_platform_manifest_of_the_newest_index_is_up_to_date() {
    let reg = registry::anon();
    let app = Image::new(reg, "platformpin").keep_local(false);
    app.clone().version("v1.0.0").build_and_push();
    let build = app.clone().version("build-1.1.0").build_and_push();
    let index = image::push_index(reg, app.repository(), "v1.1.0", "build-1.1.0");
    image::retag(reg, app.repository(), "v1.1.0", "latest");
    // What `docker run repo@<platform digest>` (or a pinned compose file) records.
    let pinned = build.by_digest();
    docker(&["pull", "-q", &pinned]);
    let c = Container::run("platformpin", &pinned, &[]);
    let dum = Dum::new().config_json(config(&[entry(&app.name(), json!({}))]));

    let report = Report::run(&dum, &[], 0);
    report.assert_fields(
        report.container(c.name()),
        json!({
            "status": "up_to_date",
            "current_version": "v1.1.0",
            "current_digest": build.digest,
            "latest_version": "v1.1.0",
            "latest_digest": index,
        }),
    );
    drop(c);
    delete_local(&pinned);
}
