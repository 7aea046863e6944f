//! `dum tags IMAGE`: version tags newest first and the base tag's version with a regex,
//! regex proposals without one.

use crate::harness::image::{retag, seed_tags};
use crate::harness::{Dum, Image, registry};
use crate::report::SEMVER;
use serde_json::json;

#[test]
fn with_a_regex_versions_are_listed_newest_first_and_the_base_tag_resolved() {
    let reg = registry::token_anon_pull();
    let app = Image::new(reg, "tags");
    app.clone().version("v1.0.0").build_and_push();
    let digests = seed_tags(
        reg,
        app.repository(),
        &["v1.2.0", "v1.10.0", "v1.9.3", "nightly", "v2.0.0-rc1"],
        "v1.0.0",
    );
    retag(reg, app.repository(), "v1.9.3", "latest");
    retag(reg, app.repository(), "v1.2.0", "stable");
    let dum = Dum::new();

    let out = dum.run(&["tags", &app.name(), "--regex", SEMVER, "--format", "json"]);
    out.assert_code(0);
    let doc = out.json();
    let want = json!({
        "schema_version": 1,
        "image": app.name(),
        "regex": SEMVER,
        "versions": ["v1.10.0", "v1.9.3", "v1.2.0", "v1.0.0"],
        "newest": "v1.10.0",
        "base_tag": "latest",
        "base_tag_digest": digests[2],
        "base_tag_version": "v1.9.3",
        "total_tags": 8,
    });
    for (k, v) in want.as_object().unwrap() {
        assert_eq!(&doc[k], v, "member {k}:\n{out:?}");
    }

    let out = dum.run(&[
        "tags",
        &app.name(),
        "--regex",
        SEMVER,
        "--base-tag",
        "stable",
        "--format",
        "json",
    ]);
    out.assert_code(0);
    let doc = out.json();
    assert_eq!(doc["base_tag"], "stable", "{out:?}");
    assert_eq!(doc["base_tag_version"], "v1.2.0", "{out:?}");
    assert_eq!(doc["base_tag_digest"], json!(digests[0]), "{out:?}");

    // A missing base tag is reported, not an error.
    let out = dum.run(&[
        "tags",
        &app.name(),
        "--regex",
        SEMVER,
        "--base-tag",
        "edge",
        "--format",
        "json",
    ]);
    out.assert_code(0);
    let doc = out.json();
    assert_eq!(doc["base_tag_digest"], serde_json::Value::Null, "{out:?}");
    assert_eq!(doc["base_tag_version"], serde_json::Value::Null, "{out:?}");

    // For people: the same facts as text.
    let out = dum.run(&["tags", &app.name(), "--regex", SEMVER]);
    out.assert_code(0);
    out.assert_stdout_contains("4 of 8 tags match");
    out.assert_stdout_contains("newest: v1.10.0");
    out.assert_stdout_contains("latest = v1.9.3");
    let listed: Vec<&str> = out
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('v') && !l.contains(' '))
        .collect();
    assert_eq!(listed, ["v1.10.0", "v1.9.3", "v1.2.0", "v1.0.0"], "{out:?}");
}

#[test]
fn without_a_regex_regexes_are_proposed() {
    let reg = registry::anon();
    let app = Image::new(reg, "propose");
    let v1 = app
        .clone()
        .version("1.0.0-ls1")
        .also_tag("latest")
        .build_and_push();
    seed_tags(
        reg,
        app.repository(),
        &[
            "1.0.0-ls2",
            "1.1.0-ls1",
            "1.1.0-ls3",
            "1.1",
            "2.0",
            "nightly",
            "3f2a9c1",
        ],
        "1.0.0-ls1",
    );
    let dum = Dum::new();
    let out = dum.run(&["tags", &app.name(), "--format", "json"]);
    out.assert_code(0);
    let doc = out.json();
    assert_eq!(doc["total_tags"], 9, "{out:?}");
    assert_eq!(doc["regex"], serde_json::Value::Null, "{out:?}");
    assert_eq!(doc["base_tag_digest"], json!(v1.digest), "{out:?}");
    assert_eq!(
        doc["proposals"],
        json!([
            {"regex": r"^[0-9]+\.[0-9]+\.[0-9]+-ls[0-9]+$", "matches": 4, "newest": "1.1.0-ls3"},
            {"regex": r"^[0-9]+\.[0-9]+$", "matches": 2, "newest": "2.0"},
        ]),
        "{out:?}"
    );

    let out = dum.run(&["tags", &app.name()]);
    out.assert_code(0);
    out.assert_stdout_contains(r"^[0-9]+\.[0-9]+\.[0-9]+-ls[0-9]+$");
    out.assert_stdout_contains("1.1.0-ls3");
}

#[test]
fn tags_errors() {
    let reg = registry::token();
    let app = Image::new(reg, "tagserr");
    app.clone().version("v1.0.0").build_and_push();
    let dum = Dum::new();

    let out = dum.run(&["tags", &app.name(), "--regex", "^v(["]);
    out.assert_code(2);
    out.assert_stderr_contains("^v([");

    let out = dum.run(&["tags", &app.name()]);
    out.assert_code(1);
    out.assert_stderr_contains("docker login");

    let missing = format!("{}/{}/none", reg.host(), crate::harness::unique("none"));
    let dum = dum.login(reg);
    let out = dum.run(&["tags", &missing]);
    out.assert_code(1);
    out.assert_stderr_contains("not found");
    let out = dum.run(&["tags", &app.name(), "--format", "json"]);
    out.assert_code(0);
    assert_eq!(out.json()["total_tags"], 1, "{out:?}");
}
