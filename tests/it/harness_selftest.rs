//! Proves the fixtures work, using raw HTTP and the docker CLI (not dum).

use crate::harness::http::{self, OCI_INDEX};
use crate::harness::image::{self, exists_local, inspect_local};
use crate::harness::registry::{self, Kind, PASSWORD, TOKEN_SERVICE, USER};
use crate::harness::{
    Container, Dum, Image, Network, Registry, Volume, docker, docker_output, temp_dir,
};
use std::time::Duration;

/// The engine answers, is one dum supports, and runs containers from the test image:
/// what every other test assumes.
#[test]
fn docker_engine_is_ready() {
    crate::harness::docker_ready();
    let versions = docker(&[
        "version",
        "--format",
        "{{.Server.Version}} {{.Server.APIVersion}}",
    ]);
    let (server, api) = versions.trim().split_once(' ').unwrap_or_default();
    let major: u32 = server
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("no engine version in {versions:?}"));
    assert!(major >= 20, "engine {server}: dum supports 20.10 and later");
    let minor: u32 = api
        .strip_prefix("1.")
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("no API version in {versions:?}"));
    assert!(minor >= 41, "API {api}: dum needs at least 1.41");
    let ran = docker(&[
        "run",
        "--rm",
        "--label",
        crate::harness::LABEL_ARG,
        image::base(),
        "sh",
        "-c",
        "echo ready; ls /data",
    ]);
    assert_eq!(ran.trim(), "ready", "the test image runs a shell");
}

#[test]
fn anon_registry_lists_pushed_tag() {
    let reg = registry::anon();
    let pushed = Image::new(reg, "selftest")
        .version("v1.0.0")
        .build_and_push();
    assert!(pushed.digest.starts_with("sha256:"), "{pushed:?}");
    let reply = http::get(
        &format!("{}/v2/{}/tags/list", reg.url(), pushed.repository),
        &[],
    );
    reply.assert_status(200);
    assert_eq!(reply.json()["tags"], serde_json::json!(["v1.0.0"]));
    // The access log records the harness' own requests, which the counters skip.
    assert!(
        reg.requests()
            .iter()
            .any(|r| r.uri.contains(&pushed.repository)
                && r.method == "GET"
                && r.uri.ends_with("/tags/list"))
    );
    assert_eq!(reg.count_requests("GET", &pushed.repository), 0);
}

#[test]
fn versions_have_distinct_digests_and_also_tag_shares_one() {
    let reg = registry::anon();
    let app = Image::new(reg, "distinct").env("APP_MODE", "one");
    let v1 = app.clone().version("v1").build_and_push();
    let v2 = app
        .clone()
        .version("v2")
        .also_tag("latest")
        .build_and_push();
    assert_ne!(v1.digest, v2.digest);
    assert_eq!(reg.manifest_digest(app.repository(), "latest"), v2.digest);
    let mut tags = reg.tags(app.repository());
    tags.sort();
    assert_eq!(tags, ["latest", "v1", "v2"]);
    let env = inspect_local(&v1.reference)["Config"]["Env"].clone();
    assert!(env.to_string().contains("APP_MODE=one"), "{env}");
}

#[test]
fn basic_registry_requires_credentials() {
    let reg = registry::basic();
    let url = format!("{}/v2/", reg.url());
    let anon = http::get(&url, &[]);
    anon.assert_status(401);
    assert!(
        anon.header("www-authenticate")
            .unwrap_or("")
            .starts_with("Basic "),
        "{anon:?}"
    );
    let auth = http::basic_auth(USER, PASSWORD);
    http::get(&url, &[("Authorization", &auth)]).assert_status(200);
    let wrong = http::basic_auth(USER, "wrong");
    http::get(&url, &[("Authorization", &wrong)]).assert_status(401);
}

#[test]
fn token_registry_challenges_and_accepts_issued_tokens() {
    let reg = registry::token();
    let pushed = Image::new(reg, "tok").version("1.0").build_and_push();
    let url = format!("{}/v2/{}/tags/list", reg.url(), pushed.repository);

    let anon = http::get(&url, &[]);
    anon.assert_status(401);
    let challenge = anon.header("www-authenticate").unwrap_or("");
    let params = http::bearer_challenge(challenge).unwrap_or_else(|| panic!("{anon:?}"));
    let param = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(param("realm"), reg.token_realm());
    assert_eq!(param("service"), Some(TOKEN_SERVICE));
    let scope = format!("repository:{}:pull", pushed.repository);
    assert_eq!(param("scope"), Some(scope.as_str()));

    let token = reg.fetch_token(&scope, true);
    let bearer = format!("Bearer {token}");
    let ok = http::get(&url, &[("Authorization", &bearer)]);
    ok.assert_status(200);
    assert_eq!(ok.json()["tags"], serde_json::json!(["1.0"]));

    // Anonymous tokens grant nothing here...
    let anon_token = format!("Bearer {}", reg.fetch_token(&scope, false));
    http::get(&url, &[("Authorization", &anon_token)]).assert_status(401);
    // ...and wrong passwords get no token at all.
    let realm = reg.token_realm().unwrap();
    let wrong = http::basic_auth(USER, "wrong");
    http::get(
        &format!("{realm}?service={TOKEN_SERVICE}&scope={scope}"),
        &[("Authorization", &wrong)],
    )
    .assert_status(401);

    // A client that is neither harness nor docker is counted per scope.
    let reply = http::request(
        "GET",
        &format!("{realm}?service={TOKEN_SERVICE}&scope={scope}"),
        &[("User-Agent", "dum/selftest")],
        None,
    );
    reply.assert_status(200);
    assert_eq!(reg.count_token_requests(&scope), 1);
}

#[test]
fn token_anon_pull_registry_grants_anonymous_pull() {
    let reg = registry::token_anon_pull();
    let pushed = Image::new(reg, "pub").version("2.0").build_and_push();
    let scope = format!("repository:{}:pull", pushed.repository);
    let url = format!("{}/v2/{}/tags/list", reg.url(), pushed.repository);
    let bearer = format!("Bearer {}", reg.fetch_token(&scope, false));
    http::get(&url, &[("Authorization", &bearer)]).assert_status(200);
    // Anonymous push stays forbidden.
    let push_scope = format!("repository:{}:pull,push", pushed.repository);
    let log = reg.token_log_path().unwrap();
    reg.fetch_token(&push_scope, false);
    let text = std::fs::read_to_string(log).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(
        last["granted"][0]["actions"],
        serde_json::json!(["pull"]),
        "{last}"
    );
}

#[test]
fn docker_pull_works_from_every_registry_kind() {
    for reg in registry::all_shared() {
        let pushed = Image::new(reg, "pull")
            .version("v3")
            .keep_local(false)
            .build_and_push();
        assert!(!exists_local(&pushed.reference));
        let config = temp_dir("dum-test-docker-config-");
        if reg.kind() == Kind::Token {
            let denied = docker_output(&[
                "--config",
                config.path().to_str().unwrap(),
                "pull",
                &pushed.reference,
            ]);
            assert!(
                !denied.status.success(),
                "anonymous pull from {reg:?} worked"
            );
        }
        reg.docker_login(config.path());
        docker(&[
            "--config",
            config.path().to_str().unwrap(),
            "pull",
            &pushed.reference,
        ]);
        let id = inspect_local(&pushed.reference)["RepoDigests"].to_string();
        assert!(
            id.contains(&pushed.digest),
            "{reg:?}: {id} lacks {}",
            pushed.digest
        );
        pushed.delete_local();
    }
}

#[test]
fn push_index_pulls_and_runs() {
    let reg = registry::basic();
    let app = Image::new(reg, "multi");
    let single = app.clone().version("v1").build_and_push();
    let digest = image::push_index(reg, app.repository(), "v1-multi", "v1");
    let (media_type, body) = reg.manifest(app.repository(), "v1-multi");
    assert_eq!(media_type, OCI_INDEX);
    assert_eq!(http::sha256_digest(&body), digest);
    let index: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(index["manifests"][0]["digest"], single.digest.as_str());
    assert_eq!(index["manifests"][1]["platform"]["architecture"], "arm64");

    let reference = app.reference("v1-multi");
    let config = temp_dir("dum-test-docker-config-");
    reg.docker_login(config.path());
    docker(&[
        "--config",
        config.path().to_str().unwrap(),
        "pull",
        &reference,
    ]);
    assert_eq!(inspect_local(&reference)["Architecture"], "amd64");
    let c = Container::run("multi", &reference, &[]);
    assert_eq!(c.status(), "running");
    image::delete_local(&reference);
}

#[test]
fn retag_and_seed_tags() {
    let reg = registry::token();
    let app = Image::new(reg, "many");
    let v1 = app.clone().version("v1").build_and_push();
    assert_eq!(
        image::retag(reg, app.repository(), "v1", "stable"),
        v1.digest
    );
    let names: Vec<String> = (0..300).map(|i| format!("1.{i}.0")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let started = std::time::Instant::now();
    let digests = image::seed_tags(reg, app.repository(), &refs, "v1");
    eprintln!("seeding 300 tags took {:?}", started.elapsed());
    assert_eq!(digests.len(), 300);
    assert_ne!(digests[0], digests[1]);
    assert_eq!(reg.manifest_digest(app.repository(), "1.7.0"), digests[7]);
    assert_eq!(reg.tags(app.repository()).len(), 302);
    reg.delete_manifest(app.repository(), &digests[0]);
    assert_eq!(reg.tags(app.repository()).len(), 301);
}

#[test]
fn container_network_volume_are_cleaned_up() {
    let base = image::base();
    let (cname, nname, vname);
    {
        let net = Network::create("net");
        let vol = Volume::create("vol");
        let mount = format!("{}:/data", vol.name());
        // The base image has no command of its own.
        let c = Container::run_cmd(
            "box",
            base,
            &["--network", net.name(), "-v", &mount],
            &["sleep", "600"],
        );
        assert_eq!(c.inspect()["State"]["Running"], true);
        assert_eq!(c.inspect()["Config"]["Labels"]["dum-test"], "1");
        cname = c.name().to_string();
        nname = net.name().to_string();
        vname = vol.name().to_string();
        drop(c);
    }
    assert!(
        !docker_output(&["container", "inspect", &cname])
            .status
            .success()
    );
    assert!(
        !docker_output(&["network", "inspect", &nname])
            .status
            .success()
    );
    assert!(
        !docker_output(&["volume", "inspect", &vname])
            .status
            .success()
    );
}

#[test]
fn image_options_reach_the_image() {
    let reg = registry::anon();
    let pushed = Image::new(reg, "opts")
        .version("v1.0.0-ls1")
        .label("k", "v")
        .healthcheck("true", Duration::from_millis(500))
        .volume("/data")
        .expose("8080/tcp")
        .stop_signal("SIGINT")
        .extra_dockerfile("RUN echo extra > /extra")
        .build_and_push();
    let config = inspect_local(&pushed.reference)["Config"].clone();
    assert_eq!(config["Labels"]["k"], "v");
    assert_eq!(config["Labels"]["dum-test"], "1");
    assert_eq!(config["StopSignal"], "SIGINT");
    assert!(config["Volumes"].get("/data").is_some(), "{config}");
    assert!(config["ExposedPorts"].get("8080/tcp").is_some(), "{config}");
    assert_eq!(config["Healthcheck"]["Test"][0], "CMD-SHELL");
    let c = Container::run("opts", &pushed.reference, &[]);
    c.wait_healthy(Duration::from_secs(30));
    let out = docker(&["exec", c.name(), "cat", "/dum-version", "/extra"]);
    assert!(out.contains("v1.0.0-ls1") && out.contains("extra"), "{out}");
    // The default command stops at once on SIGTERM. `kill` + `wait` rather than
    // `stop -s TERM`: Debian 12's docker CLI (20.10) has no `stop --signal`.
    let started = std::time::Instant::now();
    docker(&["kill", "-s", "TERM", c.name()]);
    docker(&["wait", c.name()]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn private_registry_dies_on_drop() {
    let reg = Registry::start(Kind::Token);
    let url = format!("{}/v2/", reg.url());
    http::get(&url, &[]).assert_status(401);
    let realm = reg.token_realm().unwrap().to_string();
    let dir = reg.dir().to_path_buf();
    drop(reg);
    assert!(
        std::net::TcpStream::connect(url.trim_start_matches("http://").trim_end_matches("/v2/"))
            .is_err()
    );
    assert!(
        std::net::TcpStream::connect(
            realm
                .trim_start_matches("http://")
                .trim_end_matches("/token")
        )
        .is_err()
    );
    assert!(!dir.exists());
}

#[test]
fn dum_runner_captures_output_and_env() {
    let dum = Dum::new().config_json(serde_json::json!({"images": []}));
    assert!(dum.config_path().exists());
    assert!(dum.docker_config_dir().is_dir());
    // Until dum exists the binary is a stub; only the runner is under test here.
    let out = dum.run(&["--version"]);
    assert!(out.code >= 0, "{out:?}");
    // The same environment reaches any program started through command().
    let cmd = dum.command(&[]);
    let env: Vec<_> = cmd
        .get_envs()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .collect();
    for key in [
        "CONFIG_FILE",
        "STATE_FILE",
        "DOCKER_CONFIG",
        "LOG_LEVEL",
        "NO_COLOR",
    ] {
        assert!(env.iter().any(|k| k == key), "{key} missing from {env:?}");
    }
}

/// Follows `Link` headers from `/v2/<repo>/tags/list?n=<n>`; returns the pages.
fn tag_pages(reg: &Registry, repo: &str, n: usize) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut next = Some(format!("/v2/{repo}/tags/list?n={n}"));
    while let Some(path) = next.take() {
        let auth = reg.authorization(repo);
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let reply = http::get(&format!("{}{path}", reg.url()), &headers);
        reply.assert_status(200);
        let page = reply.json()["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        pages.push(page);
        next = reply.header("link").map(|l| {
            l.trim_start_matches('<')
                .split_once('>')
                .unwrap()
                .0
                .to_string()
        });
    }
    pages
}

#[test]
fn paginated_registry_pages_tags() {
    let reg = registry::paginated();
    let app = Image::new(reg, "paged");
    app.clone().version("v1").build_and_push();
    let names: Vec<String> = (0..250).map(|i| format!("1.{i:03}.0")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    image::seed_tags(reg, app.repository(), &refs, "v1");
    let pages = tag_pages(reg, app.repository(), 1000);
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [registry::PAGE_SIZE, registry::PAGE_SIZE, 51]);
    let all: Vec<String> = pages.concat();
    let mut want = names.clone();
    want.push("v1".into());
    assert_eq!(all, want);
    assert_eq!(tag_pages(reg, app.repository(), 30).len(), 9);
    // Requests through the proxy reach the registry's log with their User-Agent.
    assert!(
        reg.requests()
            .iter()
            .any(|r| r.uri.contains("tags/list?n=30&last="))
    );
}

#[test]
fn private_paginated_token_registry_pushes_and_pulls() {
    let reg = Registry::start_paginated(Kind::Token, 2);
    assert_ne!(reg.host(), reg.upstream_host());
    let app = Image::new(&reg, "tp").keep_local(false);
    for v in ["a", "b", "c"] {
        app.clone().version(v).build_and_push();
    }
    let pages = tag_pages(&reg, app.repository(), 10);
    assert_eq!(pages, [vec!["a", "b"], vec!["c"]]);
    let config = temp_dir("dum-test-docker-config-");
    reg.docker_login(config.path());
    docker(&[
        "--config",
        config.path().to_str().unwrap(),
        "pull",
        &app.reference("b"),
    ]);
    image::delete_local(&app.reference("b"));
}
