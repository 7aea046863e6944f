//! `min_age_days`: an update waits until the new image has been out long enough. Real
//! registry, images "built" when the test says (hand-built config blobs with chosen
//! `created` dates), real engine.

use crate::harness::image::push_dated;
use crate::harness::{Container, Dum, Image, Pushed, docker, registry};
use serde_json::{Value, json};

const REGEX: &str = "^[0-9]+\\.[0-9]+\\.[0-9]+$";

/// RFC 3339 of `days` days ago (negative: in the future), whole seconds.
fn days_ago(days: i64) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - days * 86_400;
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `name` at 1.0.0, built 100 days ago, pulled and running; returns the image, its
/// push and the container.
fn running_old(name: &str) -> (Image<'static>, Pushed, Container) {
    let reg = registry::anon();
    let image = Image::new(reg, name);
    let build = image.clone().version("build").build_and_push();
    let digest = push_dated(
        reg,
        image.repository(),
        "1.0.0",
        "build",
        &days_ago(100),
        None,
    );
    let v1 = Pushed {
        reference: image.reference("1.0.0"),
        digest,
        tag: "1.0.0".into(),
        ..build
    };
    docker(&["pull", &v1.reference]);
    let c = Container::run(name, &v1.reference, &[]);
    (image, v1, c)
}

/// A release `tag` of `image` built `days` days ago (from the same content as the
/// first), also as `latest` when `latest`.
fn release(image: &Image, tag: &str, days: i64, latest: bool) -> String {
    let reg = image.registry();
    // One timestamp for both tags: the same bytes, so `latest` names the same digest.
    let created = days_ago(days);
    let digest = push_dated(reg, image.repository(), tag, "build", &created, None);
    if latest {
        push_dated(reg, image.repository(), "latest", "build", &created, None);
    }
    digest
}

fn dum_for(image: &Image, extra: Value) -> Dum {
    let mut entry = json!({"image": image.name(), "regex": REGEX, "min_age_days": 7,
                           "auto_update": true, "grace_seconds": 1});
    if let (Some(e), Some(x)) = (entry.as_object_mut(), extra.as_object()) {
        e.extend(x.clone());
    }
    Dum::new().config_json(json!({ "images": [entry] }))
}

fn row(out: &crate::harness::Output) -> Value {
    out.json()["images"][0].clone()
}

/// Requests dum sent to `image`'s repository so far.
fn requests(image: &Image) -> usize {
    let path = format!("/v2/{}/", image.repository());
    let reg = image.registry();
    ["GET", "HEAD"]
        .iter()
        .map(|m| reg.count_requests(m, &path))
        .sum()
}

/// The newest version, 2 days old, is held; the newest that is old enough and newer
/// than what runs is the target; `dum update` goes there; the next check costs no more
/// than a check without the policy (build times come from the state), and the held
/// version is reported until it is old enough.
#[test]
fn a_young_release_is_held_and_an_older_one_is_the_target() {
    let (image, _v1, c) = running_old("agehold");
    let v11 = release(&image, "1.1.0", 30, false);
    release(&image, "1.2.0", 2, true);
    let dum = dum_for(&image, json!({}));

    let before = requests(&image);
    let out = dum.run(&["check", "--format", "json"]);
    out.assert_code(100);
    let r = row(&out);
    assert_eq!(r["status"], "update_available", "{r}");
    assert_eq!(r["latest_version"], "1.2.0", "{r}");
    assert_eq!(r["held_version"], "1.2.0", "{r}");
    assert_eq!(r["target_version"], "1.1.0", "{r}");
    assert_eq!(r["target_digest"], v11.as_str(), "{r}");
    assert_eq!(r["reason"], "1.2.0 is 2 d old (< 7 d): held", "{r}");
    let until = r["held_until"].as_str().unwrap();
    assert!(until.starts_with(&days_ago(-5)[..10]), "{until}");
    assert!(
        r["note"].as_str().unwrap().contains("held; target 1.1.0"),
        "{r}"
    );
    // Tag list, base tag, newest version; then each candidate: its HEAD (1.1.0),
    // manifest and config blob.
    let first = requests(&image) - before;

    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(101);
    let u = &out.json()["updates"][0];
    assert_eq!(u["result"], "updated", "{u}");
    assert_eq!(u["to_version"], "1.1.0", "{u}");
    assert_eq!(
        c.inspect()["Config"]["Image"],
        image.reference("1.1.0"),
        "moved to the target"
    );

    // Now on 1.1.0, the newest is still held: nothing to do (exit 0), and the build
    // times come from the state.
    let before = requests(&image);
    let out = dum.run(&["check", "--format", "json"]);
    out.assert_code(0);
    let r = row(&out);
    assert_eq!(r["status"], "held", "{r}");
    assert_eq!(r["current_version"], "1.1.0", "{r}");
    assert_eq!(r["held_version"], "1.2.0", "{r}");
    assert!(r.get("target_version").is_none(), "{r}");
    assert_eq!(out.json()["summary"]["held"], 1);
    let warm = requests(&image) - before;
    // The same check without the policy, first cold (no state), then warm.
    let plain =
        Dum::new().config_json(json!({"images": [{"image": image.name(), "regex": REGEX}]}));
    let count = |dum: &Dum| {
        let before = requests(&image);
        dum.run(&["check"]).assert_code(100);
        requests(&image) - before
    };
    let cold = count(&plain);
    let baseline = count(&plain);
    // Held, nothing is pending: not even the release notes the plain check reads.
    assert!(
        warm <= baseline,
        "a warm held check asks no more than a check without the policy: {warm} > {baseline}"
    );
    // The first check: the cold baseline (which reads the newest's manifest and config
    // blob for its release notes), plus 1.1.0's HEAD, manifest and config blob, whose
    // facts the release notes of the target then reuse.
    assert_eq!(first, cold + 3, "first check (cold baseline {cold})");
    let state = dum.state().unwrap();
    let digests = state["digests"][image.name()].as_object().unwrap();
    assert!(
        digests.values().all(|d| d.get("first_seen").is_none()),
        "digests of a repository's first check have no first-seen date: {state}"
    );
}

/// Nothing pending: the policy costs no request.
#[test]
fn an_image_with_nothing_pending_costs_nothing_more() {
    let (image, _v1, _c) = running_old("agenone");
    let dum = dum_for(&image, json!({}));
    let plain =
        Dum::new().config_json(json!({"images": [{"image": image.name(), "regex": REGEX}]}));
    let before = requests(&image);
    plain.run(&["check"]).assert_code(0);
    let baseline = requests(&image) - before;
    let before = requests(&image);
    dum.run(&["check"]).assert_code(0);
    assert_eq!(requests(&image) - before, baseline);
}

/// A build time before 1980 (reproducible builds write 1970) is unknown: held, fail
/// closed; `dum update` says why and changes nothing.
#[test]
fn an_unknown_build_time_holds_the_update() {
    let (image, v1, c) = running_old("ageunknown");
    let reg = image.registry();
    push_dated(
        reg,
        image.repository(),
        "1.1.0",
        "build",
        "1970-01-01T00:00:00Z",
        None,
    );
    let dum = dum_for(&image, json!({}));
    let out = dum.run(&["check", "--format", "json"]);
    out.assert_code(0);
    let r = row(&out);
    assert_eq!(r["status"], "held", "{r}");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .starts_with("1.1.0 has an unknown age (no build time"),
        "{r}"
    );
    assert!(r.get("held_until").is_none(), "{r}");
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(0);
    let skipped = &out.json()["skipped"][0];
    assert!(
        skipped["reason"].as_str().unwrap().contains("unknown age"),
        "{}",
        out.json()
    );
    assert_eq!(
        c.image_id(),
        crate::harness::image::inspect_local(&v1.reference)["Id"]
            .as_str()
            .unwrap()
    );
}

/// A release whose build time says long ago but that dum saw only now (a backdated
/// image) waits from when dum first saw it.
#[test]
fn a_backdated_release_waits_from_its_first_sighting() {
    let (image, _v1, _c) = running_old("agebackdated");
    let dum = dum_for(&image, json!({}));
    // The repository's first check: 1.0.0 only.
    dum.run(&["check"]).assert_code(0);
    release(&image, "1.1.0", 400, true);
    let out = dum.run(&["check", "--format", "json"]);
    out.assert_code(0);
    let r = row(&out);
    assert_eq!(r["status"], "held", "{r}");
    assert_eq!(r["reason"], "1.1.0 is 0 min old (< 7 d): held", "{r}");
    let until = r["held_until"].as_str().unwrap();
    assert!(until.starts_with(&days_ago(-7)[..10]), "{until}");
    let state = dum.state().unwrap();
    let first_seen = state["digests"][image.name()]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|d| d.get("first_seen"))
        .count();
    assert_eq!(
        first_seen, 1,
        "the new digest has its first sighting: {state}"
    );
}

/// Without a regex, the base tag's digest is held until it is old enough; a build
/// time in the future counts as age 0.
#[test]
fn a_base_tag_only_image_is_held_until_its_digest_is_old_enough() {
    let reg = registry::anon();
    let image = Image::new(reg, "agebase");
    image.clone().version("build").build_and_push();
    push_dated(
        reg,
        image.repository(),
        "latest",
        "build",
        &days_ago(100),
        None,
    );
    docker(&["pull", &image.reference("latest")]);
    let _c = Container::run("agebase", &image.reference("latest"), &[]);
    push_dated(
        reg,
        image.repository(),
        "latest",
        "build",
        &days_ago(-3),
        None,
    );
    let dum =
        Dum::new().config_json(json!({"images": [{"image": image.name(), "min_age_days": 1}]}));
    let out = dum.run(&["check", "--format", "json"]);
    out.assert_code(0);
    let r = row(&out);
    assert_eq!(r["status"], "held", "{r}");
    assert_eq!(r["held_version"], "latest", "{r}");
    assert_eq!(r["reason"], "latest is 0 min old (< 1 d): held", "{r}");
}

/// The index's `org.opencontainers.image.created` annotation comes first: a release
/// whose config says 100 days but whose index says 1 day is held (its platform manifest
/// is the one of the running image's platform).
#[test]
fn the_index_annotation_counts_first() {
    let (image, _v1, _c) = running_old("ageindex");
    let reg = image.registry();
    push_dated(
        reg,
        image.repository(),
        "old-build",
        "build",
        &days_ago(100),
        None,
    );
    crate::harness::image::push_index_annotated(
        reg,
        image.repository(),
        "1.1.0",
        "old-build",
        Some(json!({"org.opencontainers.image.created": days_ago(1)})),
    );
    let dum = dum_for(&image, json!({}));
    let out = dum.run(&["check", "--format", "json"]);
    out.assert_code(0);
    let r = row(&out);
    assert_eq!(r["status"], "held", "{r}");
    assert_eq!(r["reason"], "1.1.0 is 1 d old (< 7 d): held", "{r}");
}
