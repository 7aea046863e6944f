//! Per-container settings in `dum.*` labels: labels alone configure a container,
//! labels win over the file's entry, `dum.enable=false` excludes, bad labels fail their
//! own row, hook labels name commands inside the container. Real engine, real registry.
//!
//! These tests are `#[ignore]`d and run alone (`scripts/test` runs them in its serial
//! phase): a container's labels concern every dum run on the engine, so a container with
//! bad labels would fail any concurrent test's `dum check`.

use crate::harness::{Container, Dum, Image, Pushed, Volume, docker, registry};
use serde_json::{Value, json};

const SEMVER: &str = "^[0-9]+\\.[0-9]+\\.[0-9]+$";

const SERVE: &[&str] = &[
    "sh",
    "-c",
    "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done",
];

fn versions(name: &str) -> (Image<'static>, Pushed, Pushed) {
    let image = Image::new(registry::anon(), name);
    let v1 = image.clone().version("1.0.0").cmd(SERVE).build_and_push();
    let v2 = image
        .clone()
        .version("1.1.0")
        .also_tag("latest")
        .cmd(SERVE)
        .keep_local(false)
        .build_and_push();
    (image, v1, v2)
}

fn labels(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs
        .iter()
        .flat_map(|(k, v)| ["--label".to_string(), format!("{k}={v}")])
        .collect()
}

fn run_labelled(hint: &str, image: &str, pairs: &[(&str, &str)]) -> Container {
    let args = labels(pairs);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Container::run(hint, image, &args)
}

fn row<'a>(doc: &'a Value, container: &str) -> &'a Value {
    doc["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["container"] == container)
        .unwrap_or_else(|| panic!("no row for {container}: {doc:#}"))
}

fn rows_of(doc: &Value, container: &str) -> usize {
    doc["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["container"] == container)
        .count()
}

/// A file that watches something else entirely: the labelled container needs no entry.
fn unrelated() -> Value {
    json!({"images": [{"image": "127.0.0.1:1/unrelated"}]})
}

#[test]
#[ignore = "runs alone (scripts/test, serial phase): labels concern every run on the engine"]
fn labels_alone_configure_a_container() {
    let (image, v1, v2) = versions("lblonly");
    let c = run_labelled(
        "lblonly",
        &v1.reference,
        &[
            ("dum.regex", SEMVER),
            ("dum.auto_update", "true"),
            ("dum.grace_seconds", "1"),
        ],
    );
    let dum = Dum::new().config_json(unrelated());
    let out = dum.run(&["check", "--format", "json", c.name()]);
    out.assert_code(100);
    let doc = out.json();
    let r = row(&doc, c.name());
    assert_eq!(r["image"], image.name(), "{r}");
    assert_eq!(r["current_version"], "1.0.0", "{r}");
    assert_eq!(r["latest_version"], "1.1.0", "{r}");
    assert_eq!(r["latest_digest"], v2.digest.as_str(), "{r}");
    assert_eq!(r["status"], "update_available", "{r}");
    // No target: auto_update from the label.
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(101);
    let doc = out.json();
    let moved: Vec<&Value> = doc["updates"].as_array().unwrap().iter().collect();
    assert_eq!(moved.len(), 1, "{doc:#}");
    assert_eq!(moved[0]["container"], c.name());
    assert_eq!(moved[0]["to_version"], "1.1.0");
    assert_eq!(moved[0]["result"], "updated");
    let now = c.inspect();
    assert_eq!(now["Config"]["Image"], image.reference("1.1.0"));
    // The recreated container keeps its labels, so it stays configured.
    assert_eq!(now["Config"]["Labels"]["dum.regex"], SEMVER);
    dum.run(&["check", c.name()]).assert_code(0);
}

#[test]
#[ignore = "runs alone (scripts/test, serial phase): labels concern every run on the engine"]
fn labels_win_over_the_file_and_say_so() {
    let (image, v1, _) = versions("lblwin");
    let labelled = run_labelled(
        "lblwin-a",
        &v1.reference,
        &[("dum.auto_update", "true"), ("dum.keep_versions", "5")],
    );
    let plain = Container::run("lblwin-b", &v1.reference, &[]);
    let dum = Dum::new().config_json(json!({"images": [{
        "image": image.name(), "regex": SEMVER, "auto_update": false,
        "grace_seconds": 1, "keep_versions": 2,
    }]}));
    // Both checked, once each.
    let out = dum.run(&["check", "--format", "json"]);
    out.assert_code(100);
    let doc = out.json();
    assert_eq!(rows_of(&doc, labelled.name()), 1, "{doc:#}");
    assert_eq!(rows_of(&doc, plain.name()), 1, "{doc:#}");
    // Where each setting comes from.
    let out = dum.run(&["validate", "--effective", "--format", "json"]);
    out.assert_code(0);
    let doc = out.json();
    let effective = doc["effective"].as_array().unwrap();
    let settings = |container: &str| -> Vec<(String, Value, String)> {
        effective
            .iter()
            .find(|r| r["container"] == container)
            .unwrap_or_else(|| panic!("{container}: {doc:#}"))["settings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_string(),
                    s["value"].clone(),
                    s["from"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let a = settings(labelled.name());
    let find = |all: &[(String, Value, String)], name: &str| {
        all.iter()
            .find(|s| s.0 == name)
            .map(|s| (s.1.clone(), s.2.clone()))
            .unwrap()
    };
    assert_eq!(
        find(&a, "auto_update"),
        (json!(true), "label dum.auto_update".into())
    );
    assert_eq!(
        find(&a, "keep_versions"),
        (json!(5), "label dum.keep_versions".into())
    );
    assert_eq!(find(&a, "regex"), (json!(SEMVER), "file /images/0".into()));
    assert_eq!(find(&a, "base_tag"), (json!("latest"), "default".into()));
    let b = settings(plain.name());
    assert_eq!(
        find(&b, "auto_update"),
        (json!(false), "file /images/0".into())
    );
    assert_eq!(
        find(&b, "keep_versions"),
        (json!(2), "file /images/0".into())
    );
    // The table says the same.
    let out = dum.run(&["validate", "--effective"]);
    out.assert_code(0);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.contains("auto_update") && l.contains("label dum.auto_update")),
        "{out:?}"
    );
    // Without targets only the labelled one is auto-updated.
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(101);
    let doc = out.json();
    let moved: Vec<&str> = doc["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["container"].as_str().unwrap())
        .collect();
    assert_eq!(moved, [labelled.name()]);
    assert_eq!(plain.inspect()["Config"]["Image"], v1.reference.as_str());
}

#[test]
#[ignore = "runs alone (scripts/test, serial phase): labels concern every run on the engine"]
fn dum_enable_false_excludes_a_container_from_every_mode() {
    let (image, v1, _) = versions("lbloff");
    let off = run_labelled("lbloff-a", &v1.reference, &[("dum.enable", "false")]);
    let on = Container::run("lbloff-b", &v1.reference, &[]);
    let dum = Dum::new().config_json(json!({"images": [{
        "image": image.name(), "regex": SEMVER, "auto_update": true, "grace_seconds": 1,
    }]}));
    let out = dum.run(&["check", "--format", "json"]);
    out.assert_code(100);
    let doc = out.json();
    assert_eq!(rows_of(&doc, off.name()), 0, "{doc:#}");
    assert_eq!(rows_of(&doc, on.name()), 1, "{doc:#}");
    // Named: a usage error that says why.
    let out = dum.run(&["check", off.name()]);
    out.assert_code(2);
    out.assert_stderr_contains("labelled dum.enable=false");
    dum.run(&["update", off.name()]).assert_code(2);
    let out = dum.run(&["update"]);
    out.assert_code(101);
    assert_eq!(off.inspect()["Config"]["Image"], v1.reference.as_str());
    assert_eq!(on.inspect()["Config"]["Image"], image.reference("1.1.0"));
}

#[test]
#[ignore = "runs alone (scripts/test, serial phase): labels concern every run on the engine"]
fn bad_labels_fail_their_own_row_and_validate_lists_them() {
    let (image, v1, _) = versions("lblbad");
    let bad_labels: &[(&str, &str, &str)] = &[
        ("dum.enable", "yes", "must be true or false, found \"yes\""),
        ("dum.regex", "^[0-9", "invalid regular expression"),
        ("dum.base_tag", "not a tag", ""),
        ("dum.auto_update", "1", "must be true or false, found \"1\""),
        (
            "dum.cleanup_old_images",
            "no",
            "must be true or false, found \"no\"",
        ),
        ("dum.keep_versions", "0", "must be at least 1"),
        (
            "dum.grace_seconds",
            "ten",
            "must be a whole number, found \"ten\"",
        ),
        ("dum.health_timeout_seconds", "0", "must be at least 1"),
        ("dum.registry", "http://mirror", ""),
        (
            "dum.regx",
            "x",
            "unknown label \"dum.regx\" (did you mean \"dum.regex\"?)",
        ),
    ];
    let pairs: Vec<(&str, &str)> = bad_labels.iter().map(|(l, v, _)| (*l, *v)).collect();
    let bad = run_labelled("lblbad-a", &v1.reference, &pairs);
    let good = Container::run("lblbad-b", &v1.reference, &[]);
    let dum = Dum::new().config_json(json!({"images": [{
        "image": image.name(), "regex": SEMVER, "grace_seconds": 1,
    }]}));
    let out = dum.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let doc = out.json();
    let r = row(&doc, bad.name());
    assert_eq!(r["status"], "failed", "{r}");
    let error = r["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!("container {}: ", bad.name())),
        "{error}"
    );
    for (label, _, want) in bad_labels {
        let said = format!("label {label}: {want}");
        assert!(error.contains(&said), "{said} in {error}");
    }
    // The other container of the same image is checked as usual.
    assert_eq!(row(&doc, good.name())["status"], "update_available");
    assert_eq!(rows_of(&doc, bad.name()), 1);
    // Named alone: its row, exit 1.
    let out = dum.run(&["check", bad.name()]);
    out.assert_code(1);
    out.assert_stdout_contains("dum.keep_versions");
    // validate lists each problem, one line each, exit 2.
    let out = dum.run(&["validate"]);
    out.assert_code(2);
    for (label, _, want) in bad_labels {
        let line = format!("container {}: label {label}: {want}", bad.name());
        assert!(out.stderr.contains(&line), "{line} in {}", out.stderr);
    }
    let out = dum.run(&["validate", "--format", "json"]);
    out.assert_code(2);
    let doc = out.json();
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["labels_checked"], true);
    let problems = doc["label_problems"].as_array().unwrap();
    assert_eq!(problems.len(), bad_labels.len(), "{doc:#}");
    assert!(problems.iter().all(|p| p["container"] == bad.name()));
    // An update never touches it, and the run says it failed.
    dum.run(&["update", good.name()]).assert_code(101);
    let out = dum.run(&["update", bad.name()]);
    out.assert_code(1);
    assert_eq!(bad.inspect()["Config"]["Image"], v1.reference.as_str());
}

/// `dum.hooks.pre_update` names a command inside the container (a JSON argv); a label
/// cannot name a host command, nor a `post_rollback` hook.
#[test]
#[ignore = "runs alone (scripts/test, serial phase): labels concern every run on the engine"]
fn hook_labels_name_commands_inside_the_container() {
    let (image, v1, _) = versions("lblhook");
    let volume = Volume::create("lblhook");
    let mount = format!("{}:/backup", volume.name());
    let c = Container::run(
        "lblhook",
        &v1.reference,
        &[
            "-v",
            &mount,
            "--label",
            r#"dum.hooks.pre_update=["sh","-c","echo $DUM_CONTAINER $DUM_PHASE > /backup/by-label"]"#,
        ],
    );
    let dum = Dum::new().config_json(json!({"images": [{
        "image": image.name(), "regex": SEMVER, "grace_seconds": 1,
    }]}));
    let out = dum.run(&["validate", "--effective", "--format", "json"]);
    out.assert_code(0);
    assert!(out.stdout.contains("label dum.hooks.pre_update"), "{out:?}");
    dum.run(&["update", c.name()]).assert_code(101);
    assert_eq!(c.inspect()["Config"]["Image"], image.reference("1.1.0"));
    let written = docker(&["exec", c.name(), "cat", "/backup/by-label"]);
    assert_eq!(written.trim(), format!("{} pre_update", c.name()));
    drop(c);

    let bad = run_labelled(
        "lblhookbad",
        &v1.reference,
        &[
            ("dum.hooks.pre_update", r#"{"host":["touch","/tmp/owned"]}"#),
            ("dum.hooks.post_rollback", r#"["true"]"#),
        ],
    );
    let out = dum.run(&["validate"]);
    out.assert_code(2);
    out.assert_stderr_contains("label dum.hooks.pre_update: must be a JSON array of strings");
    out.assert_stderr_contains("unknown label \"dum.hooks.post_rollback\"");
    let out = dum.run(&["update", bad.name()]);
    out.assert_code(1);
    assert_eq!(bad.inspect()["Config"]["Image"], v1.reference.as_str());
}
