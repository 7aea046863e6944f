//! Repositories with hundreds of tags: every page of `tags/list` is read, and the base
//! tag is resolved with a handful of manifest requests, not one per tag.

use crate::harness::image::{self, delete_local, seed_tags};
use crate::harness::{Container, Dum, Image, docker, registry};
use crate::report::{Report, config, entry};
use serde_json::json;

#[test]
fn paginated_tag_lists_are_read_to_the_last_page() {
    let reg = registry::paginated();
    let app = Image::new(reg, "paged");
    let v1 = app.clone().version("v1.0.0").build_and_push();
    let names: Vec<String> = (0..250).map(|i| format!("v2.{i:03}.0")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let digests = seed_tags(reg, app.repository(), &refs, "v1.0.0");
    // The proxy sorts tags, so the newest (v2.249.0) is on the third page.
    let newest = digests[249].clone();
    image::retag(reg, app.repository(), "v2.249.0", "latest");
    let c = Container::run("paged", &v1.reference, &[]);
    let dum = Dum::new().config_json(config(&[entry(
        &app.name(),
        json!({"container_name": c.name()}),
    )]));

    let report = Report::run(&dum, &[], 100);
    report.assert_fields(
        report.only(),
        json!({
            "current_version": "v1.0.0",
            "current_digest": v1.digest,
            "latest_version": "v2.249.0",
            "latest_digest": newest,
            "base_tag_version": "v2.249.0",
            "base_tag_digest": newest,
            "status": "update_available",
        }),
    );
    let pages = reg.count_requests("GET", &format!("/v2/{}/tags/list", app.repository()));
    assert!(
        pages >= 3,
        "dum read {pages} tags/list pages, expected at least 3"
    );
    // 252 tags (v1.0.0, 250 seeded, latest) at PAGE_SIZE a page: each page once.
    let want = 252usize.div_ceil(registry::PAGE_SIZE);
    assert_eq!(want, 3);
    assert_eq!(
        pages, want,
        "dum read {pages} tags/list pages of 252 tags, expected exactly {want}"
    );

    let out = dum.run(&[
        "tags",
        &app.name(),
        "--regex",
        crate::report::SEMVER,
        "--format",
        "json",
    ]);
    out.assert_code(0);
    let doc = out.json();
    assert_eq!(doc["total_tags"], 252, "{out:?}");
    assert_eq!(
        doc["versions"].as_array().map(Vec::len),
        Some(251),
        "{out:?}"
    );
    assert_eq!(doc["versions"][0], "v2.249.0", "{out:?}");
    assert_eq!(doc["versions"][250], "v1.0.0", "{out:?}");
    assert_eq!(doc["newest"], "v2.249.0", "{out:?}");
}

#[test]
fn latest_equal_to_newest_costs_two_manifest_requests() {
    let reg = registry::anon();
    let app = Image::new(reg, "many").keep_local(false);
    app.clone().version("seed").build_and_push();
    let names: Vec<String> = (0..300).map(|i| format!("1.{i}.0")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let digests = seed_tags(reg, app.repository(), &refs, "seed");
    image::retag(reg, app.repository(), "1.299.0", "latest");
    let running = app.reference("1.299.0");
    docker(&["pull", "-q", &running]);
    let c = Container::run("many", &running, &[]);
    let dum = Dum::new().config_json(config(&[entry(
        &app.name(),
        json!({"container_name": c.name(), "regex": r"^1\.[0-9]+\.0$"}),
    )]));

    let report = Report::run(&dum, &[], 0);
    report.assert_fields(
        report.only(),
        json!({
            "current_version": "1.299.0",
            "current_digest": digests[299],
            "latest_version": "1.299.0",
            "latest_digest": digests[299],
            "base_tag_version": "1.299.0",
            "base_tag_digest": digests[299],
            "status": "up_to_date",
        }),
    );
    // The base tag's HEAD and the newest version's: equal digests, resolved. The
    // container's own tag names its version, so nothing else is asked.
    let manifests = reg.manifest_requests(app.repository());
    assert_eq!(
        manifests, 2,
        "dum sent {manifests} manifest requests for 300 version tags:\n{:?}",
        report.out
    );
    drop(c);
    delete_local(&running);
}

#[test]
fn an_unchanged_base_tag_is_all_the_next_check_asks() {
    let reg = registry::anon();
    let app = Image::new(reg, "steady").keep_local(false);
    app.clone().version("seed").build_and_push();
    let repo = app.repository();
    let seeded = seed_tags(reg, repo, &["1.0.0", "1.1.0", "1.1.0-rebuilt"], "seed");
    let (v1_0, v1_1, rebuilt) = (&seeded[0], &seeded[1], &seeded[2]);
    image::retag(reg, repo, "1.1.0", "latest");
    let running = app.reference("1.0.0");
    docker(&["pull", "-q", &running]);
    let c = Container::run("steady", &running, &[]);
    // A release-notes template: the link then costs no request, and the manifest
    // requests counted are the resolution's alone.
    let dum = Dum::new().config_json(config(&[entry(
        &app.name(),
        json!({"container_name": c.name(), "regex": r"^1\.[0-9]+\.0$",
               "release_notes": "https://example.com/{version}"}),
    )]));
    let mut asked = 0;
    // One check: its exit code, the fields it must report, the manifest requests it may send.
    let mut check = |want: serde_json::Value, requests: usize| {
        let report = Report::run(&dum, &[], 100);
        report.assert_fields(report.only(), want);
        let total = reg.manifest_requests(repo);
        assert_eq!(
            total - asked,
            requests,
            "manifest requests of this check:\n{:?}",
            report.out
        );
        asked = total;
    };

    let first = json!({"latest_version": "1.1.0", "latest_digest": v1_1,
        "base_tag_version": "1.1.0", "base_tag_digest": v1_1, "current_version": "1.0.0"});
    check(first.clone(), 2);
    // Nothing moved: the state says what `latest` is, the base tag's HEAD confirms it.
    check(first.clone(), 1);
    check(first, 1);

    // 1.1.0 rebuilt and `latest` with it: same version, new digest, asked afresh.
    image::retag(reg, repo, "1.1.0-rebuilt", "1.1.0");
    image::retag(reg, repo, "1.1.0-rebuilt", "latest");
    let rebuilt_fields = json!({"latest_version": "1.1.0", "latest_digest": rebuilt,
        "base_tag_version": "1.1.0", "base_tag_digest": rebuilt});
    check(rebuilt_fields.clone(), 2);
    check(rebuilt_fields, 1);

    // `latest` moved back to an older version.
    image::retag(reg, repo, "1.0.0", "latest");
    let behind = json!({"latest_version": "1.1.0", "latest_digest": rebuilt,
        "base_tag_version": "1.0.0", "base_tag_digest": v1_0,
        "note": "latest = 1.0.0, behind the newest 1.1.0"});
    check(behind.clone(), 3);
    // Still behind: the newest version's HEAD, not a search for `latest`.
    check(behind, 2);

    // A new release.
    let v1_2 = &seed_tags(reg, repo, &["1.2.0"], "seed")[0];
    image::retag(reg, repo, "1.2.0", "latest");
    let released = json!({"latest_version": "1.2.0", "latest_digest": v1_2,
        "base_tag_version": "1.2.0", "base_tag_digest": v1_2});
    check(released.clone(), 2);
    check(released, 1);
    drop(c);
    delete_local(&running);
}
