//! Registry authentication with the credentials `docker login` stores: Basic, bearer
//! tokens, anonymous tokens; one token per registry and scope; no secret in the output.

use crate::harness::registry::{self, PASSWORD, USER};
use crate::harness::{Container, Dum, Image, Registry, http};
use crate::report::{Report, config, entry};
use serde_json::json;

/// Pushes v1.0.0 and v1.1.0 (= latest) to `reg`, runs v1.0.0, and returns the dum
/// installation watching it plus the fixtures to keep alive.
fn scenario<'r>(reg: &'r Registry, hint: &str) -> (Dum, Image<'r>, Container, [String; 2]) {
    let app = Image::new(reg, hint);
    let v1 = app.clone().version("v1.0.0").build_and_push();
    let v2 = app
        .clone()
        .version("v1.1.0")
        .also_tag("latest")
        .build_and_push();
    let c = Container::run(hint, &v1.reference, &[]);
    let dum = Dum::new().config_json(config(&[entry(
        &app.name(),
        json!({"container_name": c.name()}),
    )]));
    (dum, app, c, [v1.digest, v2.digest])
}

fn assert_update_found(report: &Report, digests: &[String; 2]) {
    report.assert_fields(
        report.only(),
        json!({
            "status": "update_available",
            "current_version": "v1.0.0",
            "current_digest": digests[0],
            "latest_version": "v1.1.0",
            "latest_digest": digests[1],
            "base_tag_version": "v1.1.0",
            "error": null,
        }),
    );
}

fn assert_login_needed(report: &Report, reg: &Registry) {
    let row = report.only();
    report.assert_fields(row, json!({"status": "failed"}));
    let error = row["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("docker login") && error.contains(reg.host()),
        "{:?} registry: error should tell to run `docker login {}`: {row:#}",
        reg.kind(),
        reg.host()
    );
    assert!(!error.contains('\n'), "error is not one line: {error:?}");
}

#[test]
fn basic_auth_registry_needs_docker_login() {
    let reg = registry::basic();
    let (dum, _app, _c, digests) = scenario(reg, "basicauth");
    let report = Report::run(&dum, &[], 1);
    assert_login_needed(&report, reg);

    let dum = dum.login(reg);
    let report = Report::run(&dum, &[], 100);
    assert_update_found(&report, &digests);
}

#[test]
fn token_registry_needs_docker_login_and_one_token_per_scope() {
    let reg = registry::token();
    let (dum, app, c1, digests) = scenario(reg, "tokenauth");
    let report = Report::run(&dum, &[], 1);
    assert_login_needed(&report, reg);

    let dum = dum.login(reg);
    let scope = format!("repository:{}:pull", app.repository());
    let before = reg.count_token_requests(&scope);
    let report = Report::run(&dum, &[], 100);
    assert_update_found(&report, &digests);
    assert_eq!(
        reg.count_token_requests(&scope) - before,
        1,
        "one token per scope and run:\n{:?}\ntoken requests: {:#?}",
        report.out,
        reg.token_requests()
    );
    let mine: Vec<serde_json::Value> = reg
        .token_requests()
        .into_iter()
        .filter(|r| r["scopes"].to_string().contains(&scope))
        .collect();
    let last = mine.last().cloned().unwrap_or_default();
    assert_eq!(
        last["user"], USER,
        "the token was not fetched with the login: {last}"
    );

    // Two entries for the repository (checked in parallel) and a second repository:
    // still one token per scope.
    let other = Image::new(reg, "tokenother");
    let o1 = other.clone().version("v1.0.0").build_and_push();
    let c2 = Container::run("tokenauth2", &app.reference("v1.1.0"), &[]);
    let c3 = Container::run("tokenother", &o1.reference, &[]);
    dum.write_config(&config(&[
        entry(&app.name(), json!({"container_name": c1.name()})),
        entry(&app.name(), json!({"container_name": c2.name()})),
        entry(&other.name(), json!({"container_name": c3.name()})),
    ]));
    let other_scope = format!("repository:{}:pull", other.repository());
    let before = reg.count_token_requests(&scope);
    let report = Report::run(&dum, &[], 100);
    report.assert_summary(3, 2, 1, 0, 0);
    assert_eq!(
        (
            reg.count_token_requests(&scope) - before,
            reg.count_token_requests(&other_scope)
        ),
        (1, 1),
        "one token per scope and run:\n{:?}\ntoken requests: {:#?}",
        report.out,
        reg.token_requests()
    );
}

#[test]
fn anonymous_pull_tokens_need_no_login() {
    let reg = registry::token_anon_pull();
    let (dum, app, _c, digests) = scenario(reg, "anonpull");
    let scope = format!("repository:{}:pull", app.repository());
    let report = Report::run(&dum, &[], 100);
    assert_update_found(&report, &digests);
    assert_eq!(
        reg.count_token_requests(&scope),
        1,
        "{:#?}",
        reg.token_requests()
    );
}

#[test]
fn credentials_never_reach_the_output() {
    for reg in [registry::basic(), registry::token()] {
        let (dum, app, _c, digests) = scenario(reg, "secret");
        let dum = dum.login(reg);
        let secrets = [
            PASSWORD.to_string(),
            http::basic_auth(USER, PASSWORD)
                .trim_start_matches("Basic ")
                .to_string(),
        ];
        let json_run = dum.run(&["check", "--log-level", "trace", "--format", "json"]);
        json_run.assert_code(100);
        let table_run = dum.run(&["check", "--log-level", "trace"]);
        table_run.assert_code(100);
        let tags_run = dum.run(&["tags", &app.name(), "--log-level", "trace"]);
        tags_run.assert_code(0);
        for out in [&json_run, &table_run, &tags_run] {
            assert_no_secret(out, &secrets, reg);
        }
        assert_update_found(
            &Report {
                doc: json_run.json(),
                out: json_run,
            },
            &digests,
        );

        // A wrong stored password: refused, and still not echoed.
        let wrong = "wrong-pw-4711";
        let auth = http::basic_auth(USER, wrong);
        let stored = json!({"auths": {reg.host(): {"auth": auth.trim_start_matches("Basic ")}}});
        std::fs::write(
            dum.docker_config_dir().join("config.json"),
            stored.to_string(),
        )
        .unwrap();
        let out = dum.run(&["check", "--log-level", "trace", "--format", "json"]);
        out.assert_code(1);
        let report = Report {
            doc: out.json(),
            out,
        };
        report.assert_fields(report.only(), json!({"status": "failed"}));
        assert_no_secret(
            &report.out,
            &[
                wrong.to_string(),
                auth.trim_start_matches("Basic ").to_string(),
            ],
            reg,
        );
    }
}

fn assert_no_secret(out: &crate::harness::Output, secrets: &[String], reg: &Registry) {
    for secret in secrets {
        assert!(
            !out.stdout.contains(secret.as_str()) && !out.stderr.contains(secret.as_str()),
            "{:?}: a credential ({secret}) is in the output:\n{out:?}",
            reg.kind()
        );
    }
}

/// A password as long as an ECR one (6000 characters; Basic-encoded, 8 KB): dum's own
/// token requests carry it, and so does the pull's `X-Registry-Auth` to the engine,
/// which authenticates with it in turn (anonymous callers get nothing here).
#[test]
fn a_long_password_works_for_checks_and_pulls() {
    let reg = registry::token();
    let (dum, app, c, digests) = scenario(reg, "longpw");
    let (user, password) = ("dumlonguser", "L".repeat(6000));
    let auth = http::basic_auth(user, &password);
    let stored = json!({"auths": {reg.host(): {"auth": auth.trim_start_matches("Basic ")}}});
    std::fs::create_dir_all(dum.docker_config_dir()).unwrap();
    std::fs::write(
        dum.docker_config_dir().join("config.json"),
        stored.to_string(),
    )
    .unwrap();
    let report = Report::run(&dum, &[], 100);
    assert_update_found(&report, &digests);
    let scope = format!("repository:{}:pull", app.repository());
    assert!(
        reg.token_requests()
            .iter()
            .any(|r| r["user"] == user && r["scopes"].to_string().contains(&scope)),
        "no token was fetched with the long password: {:#?}",
        reg.token_requests()
    );
    // The update must pull: the engine asks the token server with the long password.
    crate::harness::image::delete_local(&app.reference("v1.1.0"));
    dum.run(&["update", c.name()]).assert_code(101);
    let image = c.inspect()["Image"].as_str().unwrap().to_string();
    let pulled = crate::harness::docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Id}}",
        &app.reference("v1.1.0"),
    ]);
    assert_eq!(image, pulled.trim(), "{} does not run v1.1.0", c.name());
}
