//! Release-notes links: built from the labels of the new version's image config
//! (hand-built manifests and config blobs with chosen labels on the local registry)
//! and of the running image, or from an entry's template; shown in the JSON rows and
//! the notifications; fetched only for rows with an update pending.

use crate::harness::image::push_index;
use crate::harness::{Container, Dum, Image, Registry, registry};
use crate::notify::Receiver;
use crate::report::{Report, config};
use serde_json::{Value, json};

const SOURCE: &str = "org.opencontainers.image.source";
const VCS_URL: &str = "org.label-schema.vcs-url";
const URL: &str = "org.opencontainers.image.url";
const REVISION: &str = "org.opencontainers.image.revision";
const REGEX: &str = r"^[0-9]+\.[0-9]+\.[0-9]+$";

/// Tag `to` of `repo`: the manifest of tag `from` with a config blob of its own whose
/// labels are exactly `labels`. Returns the new manifest's digest.
fn relabel(reg: &Registry, repo: &str, from: &str, to: &str, labels: Value) -> String {
    let (media_type, body) = reg.manifest(repo, from);
    let mut manifest: Value = serde_json::from_slice(&body).unwrap();
    let config_digest = manifest["config"]["digest"].as_str().unwrap().to_string();
    let reply = reg.api("GET", repo, &format!("blobs/{config_digest}"), &[], None);
    reply.assert_status(200);
    let mut config = reply.json();
    config["config"]["Labels"] = labels;
    let bytes = serde_json::to_vec(&config).unwrap();
    let digest = reg.put_blob(repo, &bytes);
    manifest["config"]["digest"] = json!(digest);
    manifest["config"]["size"] = json!(bytes.len());
    let body = serde_json::to_vec(&manifest).unwrap();
    reg.put_manifest(repo, to, &media_type, &body)
}

/// A repository whose 1.0.0 (built with `running` labels) runs in a container; with
/// `candidate` labels, a hand-built 2.0.0 is pushed too.
fn case(
    name: &str,
    running: &[(&str, &str)],
    candidate: Option<Value>,
) -> (Image<'static>, Container) {
    let reg = registry::anon();
    let mut image = Image::new(reg, name).version("1.0.0");
    for (k, v) in running {
        image = image.label(k, v);
    }
    let v1 = image.build_and_push();
    if let Some(labels) = candidate {
        relabel(reg, image.repository(), "1.0.0", "2.0.0", labels);
    }
    let c = Container::run(name, &v1.reference, &[]);
    (image, c)
}

/// GETs of `repo`'s blobs, and of its manifests by digest, that dum sent.
fn fetches(image: &Image) -> (usize, usize) {
    let repo = image.repository();
    let reg = image.registry();
    (
        reg.count_requests("GET", &format!("/v2/{repo}/blobs/")),
        reg.count_requests("GET", &format!("/v2/{repo}/manifests/sha256:")),
    )
}

fn entry(image: &Image, extra: Value) -> Value {
    let mut e = json!({"image": image.name(), "regex": REGEX});
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

#[test]
fn each_rule_gives_its_link_and_only_pending_rows_cost_requests() {
    let gh = "https://github.com/o/r";
    // (image, container, extra entry settings, release_notes wanted, (blob GETs,
    // manifest-by-digest GETs))
    let mut cases: Vec<(Image, Container, Value, Option<String>, (usize, usize))> = Vec::new();
    let (i, c) = case(
        "rn-compare",
        &[(SOURCE, gh), (REVISION, "aaa111")],
        Some(json!({SOURCE: format!("{gh}.git#main"), REVISION: "bbb222"})),
    );
    cases.push((
        i,
        c,
        json!({}),
        Some(format!("{gh}/compare/aaa111...bbb222")),
        (1, 1),
    ));
    let (i, c) = case(
        "rn-releases",
        &[(SOURCE, gh)],
        Some(json!({SOURCE: "https://github.com/o/r/tree/main/sub", REVISION: "bbb222"})),
    );
    cases.push((i, c, json!({}), Some(format!("{gh}/releases")), (1, 1)));
    let (i, c) = case(
        "rn-gitlab",
        &[],
        Some(json!({VCS_URL: "git@gitlab.com:g/sub/r.git"})),
    );
    cases.push((
        i,
        c,
        json!({}),
        Some("https://gitlab.com/g/sub/r/-/releases".into()),
        (1, 1),
    ));
    let (i, c) = case(
        "rn-gitea",
        &[],
        Some(json!({URL: "https://codeberg.org/o/r/src/branch/main"})),
    );
    cases.push((
        i,
        c,
        json!({}),
        Some("https://codeberg.org/o/r/releases".into()),
        (1, 1),
    ));
    let (i, c) = case(
        "rn-source-first",
        &[],
        Some(json!({
            SOURCE: "https://example.com/not/a-forge",
            VCS_URL: "https://github.com/o/vcs",
            URL: "https://github.com/o/url"
        })),
    );
    cases.push((
        i,
        c,
        json!({}),
        Some("https://github.com/o/vcs/releases".into()),
        (1, 1),
    ));
    let (i, c) = case(
        "rn-unknown",
        &[],
        Some(json!({SOURCE: "https://example.com/o/r"})),
    );
    cases.push((i, c, json!({}), None, (1, 1)));
    // The template needs nothing from the registry.
    let (i, c) = case("rn-template", &[], Some(json!({SOURCE: gh})));
    let want = format!("https://notes.example/{}/v2.0.0", i.name());
    cases.push((
        i,
        c,
        json!({"release_notes": "https://notes.example/{image}/v{version}"}),
        Some(want),
        (0, 0),
    ));
    // Nothing pending: no link, no request.
    let (i, c) = case("rn-uptodate", &[(SOURCE, gh), (REVISION, "aaa111")], None);
    cases.push((i, c, json!({}), None, (0, 0)));
    // The candidate is an index: index, platform manifest, config blob.
    let reg = registry::anon();
    let (i, c) = case("rn-index", &[(SOURCE, gh), (REVISION, "aaa111")], None);
    let repo = i.repository().to_string();
    relabel(
        reg,
        &repo,
        "1.0.0",
        "2.0.0-amd64",
        json!({SOURCE: gh, REVISION: "ccc333"}),
    );
    push_index(reg, &repo, "2.0.0", "2.0.0-amd64");
    cases.push((
        i,
        c,
        json!({}),
        Some(format!("{gh}/compare/aaa111...ccc333")),
        (1, 2),
    ));

    let entries: Vec<Value> = cases
        .iter()
        .map(|(i, _, e, _, _)| entry(i, e.clone()))
        .collect();
    let dum = Dum::new().config_json(config(&entries));
    let report = Report::run(&dum, &[], 100);
    for (image, c, _, want, requests) in &cases {
        let row = report.container(c.name());
        let pending = !image.repository().ends_with("/rn-uptodate");
        let status = if pending {
            "update_available"
        } else {
            "up_to_date"
        };
        assert_eq!(row["status"], status, "{}: {row:#}", image.name());
        match want {
            Some(link) => assert_eq!(row["release_notes"], json!(link), "{row:#}"),
            // Absent, not null.
            None => assert!(row.get("release_notes").is_none(), "{row:#}"),
        }
        assert_eq!(fetches(image), *requests, "requests for {}", image.name());
    }

    // The table shows the links when it is not cut to a terminal's width.
    let out = dum.run(&["check"]);
    out.assert_code(100);
    out.assert_stdout_contains("RELEASE NOTES")
        .assert_stdout_contains(&format!("{gh}/compare/aaa111...bbb222"));
}

#[test]
fn notifications_carry_the_link() {
    let r = Receiver::start();
    let gh = "https://github.com/o/notified";
    let (image, c) = case(
        "rn-notify",
        &[(SOURCE, gh), (REVISION, "aaa111")],
        Some(json!({SOURCE: gh, REVISION: "bbb222"})),
    );
    let dum = Dum::new().config_json(json!({
        "images": [entry(&image, json!({}))],
        "notify": [
            {"type": "ntfy", "url": r.url("/ntfy"), "topic": "t"},
            {"type": "webhook", "url": r.url("/hook")},
        ],
    }));
    let link = format!("{gh}/compare/aaa111...bbb222");
    let out = dum.run(&["check", "--format", "json"]);
    out.assert_code(100);
    let ntfy = r.to("/ntfy");
    assert_eq!(ntfy.len(), 1, "{ntfy:#?}");
    let body = ntfy[0]["body"].as_str().unwrap();
    assert!(
        body.contains(&format!("{} (release notes: {link})", "available")),
        "{body}"
    );
    let hook = r.to("/hook");
    assert_eq!(hook.len(), 1, "{hook:#?}");
    let doc: Value = serde_json::from_str(hook[0]["body"].as_str().unwrap()).unwrap();
    let event = &doc["events"][0];
    assert_eq!(event["container"], c.name(), "{doc:#}");
    assert_eq!(event["release_notes"], json!(link), "{doc:#}");
    let row = &doc["images"][0];
    assert_eq!(row["release_notes"], json!(link), "{doc:#}");
}

#[test]
fn validate_rejects_a_release_notes_that_is_not_a_string() {
    for (value, message) in [
        (json!(5), "must be a string, found integer 5"),
        (json!(""), "must not be empty"),
        (json!({"url": "x"}), "must be a string"),
    ] {
        let dum = Dum::new().config_json(json!({
            "images": [{"image": "r.example/app", "release_notes": value}]
        }));
        let out = dum.run(&["validate"]);
        out.assert_code(2);
        out.assert_stderr_contains(&format!("/images/0/release_notes: {message}"));
    }
}

#[test]
fn an_update_notification_carries_the_link() {
    let r = Receiver::start();
    let gh = "https://gitlab.example.org/g/updated";
    let (image, c) = case(
        "rn-update",
        &[(SOURCE, gh)],
        Some(json!({SOURCE: gh, REVISION: "bbb222"})),
    );
    let dum = Dum::new().config_json(json!({
        "images": [entry(&image, json!({"auto_update": true, "grace_seconds": 1,
                                        "health_timeout_seconds": 20}))],
        "notify": [
            {"type": "webhook", "url": r.url("/hook")},
            {"type": "discord", "url": r.url("/discord/x")},
        ],
    }));
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(101);
    let link = format!("{gh}/-/releases");
    let hook = r.to("/hook");
    assert_eq!(hook.len(), 1, "{hook:#?}");
    let doc: Value = serde_json::from_str(hook[0]["body"].as_str().unwrap()).unwrap();
    let event = &doc["events"][0];
    assert_eq!(event["event"], "updated", "{doc:#}");
    assert_eq!(event["container"], c.name(), "{doc:#}");
    assert_eq!(event["release_notes"], json!(link), "{doc:#}");
    let discord = r.to("/discord/");
    assert_eq!(discord.len(), 1, "{discord:#?}");
    let body: Value = serde_json::from_str(discord[0]["body"].as_str().unwrap()).unwrap();
    let description = body["embeds"][0]["description"].as_str().unwrap();
    assert!(
        description.contains(&format!("updated 1.0.0 → 2.0.0 (release notes: {link})")),
        "{description}"
    );
}
