//! Notifications: what each service receives after `dum check` and `dum update`, the
//! once-per-version rule, secrets kept out of logs, and failing or dead targets that
//! neither slow the run beyond their budget nor change its exit code.

use crate::harness::{Container, Dum, Image, Pushed, Watched, fixture, registry, temp_dir};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Secrets the configurations below use; none may ever appear in dum's output.
const NTFY_TOKEN: &str = "ntfy-secret-token-1";
const GOTIFY_TOKEN: &str = "gotify-secret-token-2";
const DISCORD_SECRET: &str = "discord-secret-path-3";
const SLACK_SECRET: &str = "slack-secret-path-4";
const HOOK_TOKEN: &str = "hook-secret-token-5";
const TELEGRAM_TOKEN: &str = "123456:telegram-secret-token-6";
const PUSHOVER_TOKEN: &str = "pushover-secret-token-7";
const PUSHOVER_USER: &str = "pushover-secret-user-8";
const MATRIX_TOKEN: &str = "matrix-secret-token-9";
const APPRISE_URLS: &str = "tgram://apprise-secret-urls-10/42";

/// `tests/fixtures/notify_receiver.py` on a free loopback port, recording every
/// request; killed on drop (and by its watchdog if the test process dies). Shared with
/// the Swarm tests.
pub(crate) struct Receiver {
    dir: tempfile::TempDir,
    port: u16,
    _process: Watched,
}

impl Receiver {
    pub(crate) fn start() -> Receiver {
        let dir = temp_dir("dum-test-receiver-");
        let port_file = dir.path().join("port");
        let log = dir.path().join("server.log");
        fs::write(dir.path().join("requests.jsonl"), "").unwrap();
        let mut cmd = std::process::Command::new("python3");
        cmd.arg(fixture("notify_receiver.py"))
            .arg("--port-file")
            .arg(&port_file)
            .arg("--log")
            .arg(dir.path().join("requests.jsonl"));
        let mut process = Watched::spawn(cmd, &log, None);
        let port = wait_for_port(&port_file, &log, &mut process, "notify receiver");
        Receiver {
            dir,
            port,
            _process: process,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every request so far, oldest first.
    pub(crate) fn requests(&self) -> Vec<Value> {
        fs::read_to_string(self.dir.path().join("requests.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Requests whose path starts with `prefix`.
    pub(crate) fn to(&self, prefix: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r["path"].as_str().unwrap().starts_with(prefix))
            .collect()
    }

    /// The JSON body of the only request to `prefix`.
    fn only_json(&self, prefix: &str) -> Value {
        let got = self.to(prefix);
        assert_eq!(got.len(), 1, "requests to {prefix}: {got:#?}");
        serde_json::from_str(got[0]["body"].as_str().unwrap()).unwrap()
    }
}

/// The port a fixture server writes to `port_file` once it listens; panics with its
/// `log` if it exits or takes more than 30 s.
pub(crate) fn wait_for_port(
    port_file: &Path,
    log: &Path,
    process: &mut Watched,
    what: &str,
) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(port) = fs::read_to_string(port_file)
            .ok()
            .and_then(|p| p.trim().parse().ok())
        {
            return port;
        }
        let exited = process.exited();
        assert!(
            exited.is_none() && Instant::now() < deadline,
            "{what} did not start ({exited:?}):\n{}",
            fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A loopback port that accepts connections (the kernel completes the handshake) and
/// never answers.
pub(crate) fn dead_port() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/never", listener.local_addr().unwrap());
    (listener, url)
}

/// A repository with 1.0.0 and 1.1.0 and a container running 1.0.0.
pub(crate) fn pending(name: &str) -> (Image<'static>, Pushed, Container) {
    let image = Image::new(registry::anon(), name);
    image.clone().version("1.0.0").build_and_push();
    let v2 = image
        .clone()
        .version("1.1.0")
        .keep_local(false)
        .build_and_push();
    let c = Container::run(name, &image.reference("1.0.0"), &[]);
    (image, v2, c)
}

pub(crate) fn entry(image: &Image) -> Value {
    json!({"image": image.name(), "regex": "^[0-9]+\\.[0-9]+\\.[0-9]+$"})
}

/// One target of every type on `r`, with secrets inline, in a file and in the
/// environment (see [`with_secrets`]).
fn every_service(r: &Receiver, gotify_token_file: &PathBuf) -> Value {
    json!([
        {"type": "ntfy", "url": r.url("/ntfy"), "topic": "dum-alerts", "token": NTFY_TOKEN, "priority": 2},
        {"type": "gotify", "url": r.url("/gotify/"), "token_file": gotify_token_file},
        {"type": "discord", "url": r.url(&format!("/discord/api/webhooks/1/{DISCORD_SECRET}"))},
        {"type": "slack", "url_env": "DUM_TEST_SLACK_URL"},
        {"type": "webhook", "url": r.url("/hook"), "token_env": "DUM_TEST_HOOK_TOKEN",
         "events": ["update_available", "failed"]},
    ])
}

fn with_secrets(dum: Dum, r: &Receiver) -> Dum {
    fs::write(dum.dir().join("gotify-token"), format!("{GOTIFY_TOKEN}\n")).unwrap();
    dum.env(
        "DUM_TEST_SLACK_URL",
        &r.url(&format!("/slack/services/{SLACK_SECRET}")),
    )
    .env("DUM_TEST_HOOK_TOKEN", HOOK_TOKEN)
    .env("LOG_LEVEL", "trace")
}

fn assert_no_secrets(out: &crate::harness::Output) {
    for secret in [
        NTFY_TOKEN,
        GOTIFY_TOKEN,
        DISCORD_SECRET,
        SLACK_SECRET,
        HOOK_TOKEN,
        TELEGRAM_TOKEN,
        PUSHOVER_TOKEN,
        PUSHOVER_USER,
        MATRIX_TOKEN,
        APPRISE_URLS,
    ] {
        assert!(
            !out.stderr.contains(secret),
            "stderr shows {secret}:\n{out:?}"
        );
        assert!(
            !out.stdout.contains(secret),
            "stdout shows {secret}:\n{out:?}"
        );
    }
}

fn header<'v>(request: &'v Value, name: &str) -> &'v str {
    request["headers"][name].as_str().unwrap_or_default()
}

#[test]
fn check_announces_each_new_version_once_to_every_service() {
    let r = Receiver::start();
    let (image, v2, _c) = pending("notify-check");
    let dum = with_secrets(Dum::new(), &r);
    let token_file = dum.dir().join("gotify-token");
    let dum = dum.config_json(json!({
        "images": [entry(&image)],
        "notify": every_service(&r, &token_file),
    }));

    let out = dum.run(&["check", "--format", "json"]);
    out.assert_code(100);
    assert_no_secrets(&out);
    let report = out.json();
    let notifications = report["notifications"].as_array().unwrap();
    assert_eq!(notifications.len(), 5, "{report:#}");
    for n in notifications {
        assert_eq!(n["ok"], true, "{n}");
        assert_eq!(n["events"], json!(["update_available"]), "{n}");
        assert_eq!(n["error"], Value::Null, "{n}");
    }
    let targets: BTreeSet<&str> = notifications
        .iter()
        .map(|n| n["target"].as_str().unwrap())
        .collect();
    let host = r.host();
    let want: BTreeSet<String> = ["ntfy", "gotify", "discord", "slack", "webhook"]
        .iter()
        .map(|s| format!("{s} {host}"))
        .collect();
    assert_eq!(
        targets,
        want.iter().map(String::as_str).collect::<BTreeSet<_>>()
    );

    let line = "1.0.0 → 1.1.0 available";
    let ntfy = r.to("/ntfy/");
    assert_eq!(ntfy.len(), 1, "{ntfy:#?}");
    assert_eq!(ntfy[0]["method"], "POST");
    assert_eq!(ntfy[0]["path"], "/ntfy/dum-alerts");
    assert!(
        header(&ntfy[0], "title").contains(": 1 update available"),
        "{ntfy:#?}"
    );
    assert_eq!(header(&ntfy[0], "priority"), "2");
    assert_eq!(header(&ntfy[0], "tags"), "package");
    assert_eq!(
        header(&ntfy[0], "authorization"),
        format!("Bearer {NTFY_TOKEN}")
    );
    let body = ntfy[0]["body"].as_str().unwrap();
    assert!(
        body.contains(&image.name()) && body.contains(line),
        "{body}"
    );

    let gotify = r.to("/gotify/");
    assert_eq!(gotify[0]["path"], "/gotify/message");
    assert_eq!(header(&gotify[0], "x-gotify-key"), GOTIFY_TOKEN);
    let g = r.only_json("/gotify/");
    assert_eq!(g["priority"], 5);
    assert!(g["message"].as_str().unwrap().contains(line), "{g}");
    assert!(
        g["title"].as_str().unwrap().ends_with("1 update available"),
        "{g}"
    );

    let d = r.only_json("/discord/");
    assert_eq!(d["embeds"][0]["color"], 0x3498DB, "{d}");
    assert!(
        d["embeds"][0]["description"]
            .as_str()
            .unwrap()
            .contains(line),
        "{d}"
    );

    let s = r.only_json("/slack/");
    let text = s["text"].as_str().unwrap();
    assert!(
        text.starts_with("*dum on ") && text.contains(line),
        "{text}"
    );

    let hook = r.to("/hook");
    assert_eq!(
        header(&hook[0], "authorization"),
        format!("Bearer {HOOK_TOKEN}")
    );
    assert_eq!(header(&hook[0], "content-type"), "application/json");
    let w = r.only_json("/hook");
    assert_eq!(w["command"], "check");
    assert_eq!(w["schema_version"], 1);
    assert_eq!(w["images"][0]["status"], "update_available");
    assert!(w.get("notifications").is_none(), "{w:#}");
    assert_eq!(
        w["events"],
        json!([{"event": "update_available", "image": image.name(), "container": _c.name(),
                "from": "1.0.0", "to": "1.1.0", "to_digest": v2.digest, "error": null}])
    );
    let state = dum.state().unwrap();
    let entry_state = state["images"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert_eq!(
        entry_state["announced_digest"],
        v2.digest.as_str(),
        "{state:#}"
    );

    // An hourly cron: the same version is not announced again.
    let again = dum.run(&["check", "--format", "json"]);
    again.assert_code(100);
    assert_eq!(again.json()["notifications"], json!([]));
    assert_eq!(r.requests().len(), 5);

    // A newer version is news; a dry run only says it would send.
    image
        .clone()
        .version("1.2.0")
        .keep_local(false)
        .build_and_push();
    dum.run(&["check", "--dry-run"]).assert_code(100);
    assert_eq!(r.requests().len(), 5, "a dry run sends nothing");
    let newer = dum.run(&["check", "--format", "json"]);
    newer.assert_code(100);
    assert_no_secrets(&newer);
    assert_eq!(newer.json()["notifications"].as_array().unwrap().len(), 5);
    assert_eq!(r.requests().len(), 10);
    let ntfy = r.to("/ntfy/");
    assert!(
        ntfy[1]["body"]
            .as_str()
            .unwrap()
            .contains("1.0.0 → 1.2.0 available"),
        "{ntfy:#?}"
    );
}

/// The decoded fields of a form-encoded body.
fn form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn telegram_pushover_matrix_and_apprise_get_their_documented_requests_once_per_version() {
    let r = Receiver::start();
    let (image, _v2, _c) = pending("notify-newer");
    let dum = Dum::new()
        .env("DUM_TEST_PUSHOVER_TOKEN", PUSHOVER_TOKEN)
        .env("DUM_TEST_APPRISE_URLS", APPRISE_URLS)
        .env("LOG_LEVEL", "trace");
    let user_file = dum.dir().join("pushover-user");
    fs::write(&user_file, format!("{PUSHOVER_USER}\n")).unwrap();
    let dum = dum.config_json(json!({
        "images": [entry(&image)],
        "notify": [
            {"type": "telegram", "url": r.url("/telegram"), "token": TELEGRAM_TOKEN, "chat_id": -1001234},
            {"type": "pushover", "url": r.url("/pushover/"), "token_env": "DUM_TEST_PUSHOVER_TOKEN",
             "user_file": user_file, "priority": -1},
            {"type": "matrix", "url": r.url("/matrix"), "token": MATRIX_TOKEN, "room": "!room:example.org"},
            {"type": "apprise", "url": r.url("/apprise-key"), "key": "dum-config", "tag": "ops"},
            {"type": "apprise", "url": r.url("/apprise-urls"), "urls_env": "DUM_TEST_APPRISE_URLS"},
        ],
    }));

    let out = dum.run(&["check", "--format", "json"]);
    out.assert_code(100);
    assert_no_secrets(&out);
    let report = out.json();
    let notifications = report["notifications"].as_array().unwrap();
    assert_eq!(notifications.len(), 5, "{report:#}");
    assert!(notifications.iter().all(|n| n["ok"] == true), "{report:#}");
    let targets: BTreeSet<&str> = notifications
        .iter()
        .map(|n| n["target"].as_str().unwrap())
        .collect();
    let host = r.host();
    let want: BTreeSet<String> = ["telegram", "pushover", "matrix", "apprise"]
        .iter()
        .map(|s| format!("{s} {host}"))
        .collect();
    assert_eq!(
        targets,
        want.iter().map(String::as_str).collect::<BTreeSet<_>>()
    );
    let line = "1.0.0 → 1.1.0 available";

    // Telegram: sendMessage under /bot<token>/, JSON.
    let telegram = r.to("/telegram/");
    assert_eq!(telegram.len(), 1, "{telegram:#?}");
    assert_eq!(telegram[0]["method"], "POST");
    assert_eq!(
        telegram[0]["path"],
        format!("/telegram/bot{TELEGRAM_TOKEN}/sendMessage")
    );
    assert_eq!(header(&telegram[0], "content-type"), "application/json");
    let t = r.only_json("/telegram/");
    assert_eq!(t["chat_id"], "-1001234", "{t}");
    assert_eq!(t["disable_web_page_preview"], true, "{t}");
    let text = t["text"].as_str().unwrap();
    assert!(
        text.starts_with("dum on ")
            && text.contains(": 1 update available\n")
            && text.contains(line),
        "{text}"
    );

    // Pushover: a form to /1/messages.json.
    let pushover = r.to("/pushover/");
    assert_eq!(pushover.len(), 1, "{pushover:#?}");
    assert_eq!(pushover[0]["method"], "POST");
    assert_eq!(pushover[0]["path"], "/pushover/1/messages.json");
    assert_eq!(
        header(&pushover[0], "content-type"),
        "application/x-www-form-urlencoded"
    );
    let fields = form(pushover[0]["body"].as_str().unwrap());
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    assert_eq!(field("token"), PUSHOVER_TOKEN);
    assert_eq!(field("user"), PUSHOVER_USER);
    assert_eq!(field("priority"), "-1");
    assert!(
        field("title").ends_with(": 1 update available"),
        "{fields:?}"
    );
    assert!(field("message").contains(line), "{fields:?}");

    // Matrix: PUT of an m.room.message with a transaction ID, bearer token.
    let matrix = r.to("/matrix/");
    assert_eq!(matrix.len(), 1, "{matrix:#?}");
    assert_eq!(matrix[0]["method"], "PUT");
    let path = matrix[0]["path"].as_str().unwrap();
    let prefix = "/matrix/_matrix/client/v3/rooms/%21room%3Aexample.org/send/m.room.message/";
    assert!(path.starts_with(prefix), "{path}");
    assert!(path.len() > prefix.len(), "no transaction ID: {path}");
    assert_eq!(
        header(&matrix[0], "authorization"),
        format!("Bearer {MATRIX_TOKEN}")
    );
    let m = r.only_json("/matrix/");
    assert_eq!(m["msgtype"], "m.notice", "{m}");
    assert!(m["body"].as_str().unwrap().contains(line), "{m}");
    assert_eq!(m["format"], "org.matrix.custom.html", "{m}");
    assert!(
        m["formatted_body"]
            .as_str()
            .unwrap()
            .starts_with("<b>dum on "),
        "{m}"
    );

    // Apprise: a stored configuration's key in the path, or the URLs in the body.
    let keyed = r.to("/apprise-key/");
    assert_eq!(keyed[0]["path"], "/apprise-key/notify/dum-config");
    let a = r.only_json("/apprise-key/");
    assert_eq!(a["type"], "info", "{a}");
    assert_eq!(a["format"], "text", "{a}");
    assert_eq!(a["tag"], "ops", "{a}");
    assert!(
        a["title"]
            .as_str()
            .unwrap()
            .ends_with(": 1 update available"),
        "{a}"
    );
    assert!(a["body"].as_str().unwrap().contains(line), "{a}");
    assert!(a.get("urls").is_none(), "{a}");
    let stateless = r.to("/apprise-urls/");
    assert_eq!(stateless[0]["path"], "/apprise-urls/notify/");
    let a = r.only_json("/apprise-urls/");
    assert_eq!(a["urls"], APPRISE_URLS, "{a}");
    assert!(a.get("tag").is_none(), "{a}");

    // Once per version, whatever the service.
    let again = dum.run(&["check", "--format", "json"]);
    again.assert_code(100);
    assert_eq!(again.json()["notifications"], json!([]));
    assert_eq!(r.requests().len(), 5);

    // A test message goes to each, with a new Matrix transaction.
    let test = dum.run(&["notify", "--test"]);
    test.assert_code(0);
    assert_no_secrets(&test);
    let matrix = r.to("/matrix/");
    assert_eq!(matrix.len(), 2);
    assert_ne!(
        matrix[0]["path"], matrix[1]["path"],
        "transaction IDs repeat"
    );
}

#[test]
fn update_sends_updated_and_rolled_back_in_one_message() {
    let r = Receiver::start();
    let good = Image::new(registry::anon(), "notify-good");
    good.clone().version("1.0.0").build_and_push();
    good.clone()
        .version("2.0.0")
        .keep_local(false)
        .build_and_push();
    let bad = Image::new(registry::anon(), "notify-bad");
    bad.clone().version("1.0.0").build_and_push();
    bad.clone()
        .version("2.0.0")
        .cmd(&["sh", "-c", "echo boom; exit 3"])
        .keep_local(false)
        .build_and_push();
    let g = Container::run("notify-good", &good.reference("1.0.0"), &[]);
    let b = Container::run("notify-bad", &bad.reference("1.0.0"), &[]);
    let image = |i: &Image| {
        json!({"image": i.name(), "regex": "^[0-9.]+$", "auto_update": true,
               "grace_seconds": 2, "health_timeout_seconds": 20})
    };
    let dum = Dum::new().config_json(json!({
        "images": [image(&good), image(&bad)],
        "notify": [
            {"type": "discord", "url": r.url("/discord/x")},
            {"type": "webhook", "url": r.url("/hook")},
            {"type": "ntfy", "url": r.url("/ntfy/t"), "events": ["update_available"]},
        ],
    }));
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(1);
    let report = out.json();
    let notifications = report["notifications"].as_array().unwrap();
    assert_eq!(
        notifications.len(),
        2,
        "ntfy wants none of these: {report:#}"
    );
    assert!(notifications.iter().all(|n| n["ok"] == true), "{report:#}");
    assert!(r.to("/ntfy/").is_empty());

    let d = r.only_json("/discord/");
    let embed = &d["embeds"][0];
    assert_eq!(embed["color"], 0xE74C3C, "failures are red: {d}");
    assert!(
        embed["title"]
            .as_str()
            .unwrap()
            .ends_with(": 1 updated, 1 rolled back"),
        "{d}"
    );
    let description = embed["description"].as_str().unwrap();
    assert!(
        description.contains("updated 1.0.0 → 2.0.0"),
        "{description}"
    );
    assert!(
        description.contains("2.0.0 rolled back to 1.0.0"),
        "{description}"
    );

    let w = r.only_json("/hook");
    assert_eq!(w["command"], "update");
    let kinds: BTreeSet<&str> = w["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, BTreeSet::from(["updated", "rolled_back"]), "{w:#}");
    assert_eq!(w["updates"].as_array().unwrap().len(), 2);
    // What moved where, and how it ended: the webhook carries the run's document.
    let moved: BTreeSet<(String, String, String, String)> = w["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let s = |k: &str| u[k].as_str().unwrap_or("?").to_string();
            (
                s("container"),
                s("from_version"),
                s("to_version"),
                s("result"),
            )
        })
        .collect();
    let row = |c: &Container, result: &str| {
        (
            c.name().to_string(),
            "1.0.0".into(),
            "2.0.0".into(),
            result.to_string(),
        )
    };
    assert_eq!(
        moved,
        BTreeSet::from([row(&g, "updated"), row(&b, "rolled_back")]),
        "{w:#}"
    );
    assert_eq!(g.inspect()["Config"]["Image"], good.reference("2.0.0"));
    assert_eq!(b.inspect()["Config"]["Image"], bad.reference("1.0.0"));
}

#[test]
fn a_failed_check_is_notified() {
    let r = Receiver::start();
    let missing = Image::new(registry::anon(), "notify-missing");
    let dum = Dum::new().config_json(json!({
        "images": [entry(&missing)],
        "notify": [
            {"type": "ntfy", "url": r.url("/ntfy/t"), "events": ["failed"]},
            {"type": "gotify", "url": r.url("/gotify"), "token": "t", "events": ["update_available"]},
        ],
    }));
    let out = dum.run(&["check", "--format", "json"]);
    out.assert_code(1);
    assert_eq!(out.json()["notifications"][0]["events"], json!(["failed"]));
    let ntfy = r.to("/ntfy/");
    assert_eq!(ntfy.len(), 1);
    assert_eq!(header(&ntfy[0], "priority"), "4");
    assert_eq!(header(&ntfy[0], "tags"), "warning");
    assert!(
        header(&ntfy[0], "title").ends_with(": 1 failed"),
        "{ntfy:#?}"
    );
    let body = ntfy[0]["body"].as_str().unwrap();
    assert!(
        body.contains(&format!("{}: check failed: ", missing.name())),
        "{body}"
    );
    assert!(r.to("/gotify").is_empty());
}

#[test]
fn failing_and_dead_targets_neither_change_the_exit_code_nor_stall_the_run() {
    let r = Receiver::start();
    let (image, _v2, _c) = pending("notify-dead");
    let (_listener, dead_url) = dead_port();
    let dum = Dum::new().config_json(json!({
        "images": [entry(&image)],
        "notify": [
            {"type": "ntfy", "url": r.url("/ntfy/ok")},
            {"type": "webhook", "url": r.url("/status/500/hook")},
            {"type": "slack", "url": r.url("/status/403/slack")},
            {"type": "discord", "url_env": "DUM_TEST_SURELY_UNSET"},
            {"type": "webhook", "url": dead_url},
            {"type": "telegram", "url": dead_url, "token": TELEGRAM_TOKEN, "chat_id": 1},
            {"type": "matrix", "url": r.url("/status/500/matrix"), "token": MATRIX_TOKEN, "room": "!r:x"},
        ],
    }));
    let started = Instant::now();
    let out = dum.run(&["check", "--format", "json"]);
    let elapsed = started.elapsed();
    out.assert_code(100);
    // 10 s budget per target, all targets at once, plus the check itself.
    assert!(
        elapsed < Duration::from_secs(20),
        "took {elapsed:?}: {out:?}"
    );
    let n = out.json()["notifications"].clone();
    let by_target = |prefix: &str| -> Vec<Value> {
        n.as_array()
            .unwrap()
            .iter()
            .filter(|d| d["target"].as_str().unwrap().starts_with(prefix))
            .cloned()
            .collect()
    };
    assert_eq!(by_target("ntfy")[0]["ok"], true, "{n:#}");
    let hooks = by_target("webhook");
    let failed_hook = hooks
        .iter()
        .find(|d| d["target"] == format!("webhook {}", r.host()))
        .unwrap();
    assert_eq!(failed_hook["ok"], false);
    assert_eq!(
        failed_hook["error"],
        r#"HTTP 500: {"error":"simulated failure"}"#
    );
    assert_eq!(r.to("/status/500/hook").len(), 2, "a 500 is retried once");
    assert_eq!(r.to("/status/403/").len(), 1, "a 403 is not retried");
    let dead = hooks
        .iter()
        .find(|d| d["target"] != format!("webhook {}", r.host()))
        .unwrap();
    assert_eq!(dead["ok"], false);
    assert!(
        dead["error"].as_str().unwrap().contains("timeout"),
        "{dead}"
    );
    let discord = &by_target("discord")[0];
    assert_eq!(
        discord["target"],
        "discord (environment variable DUM_TEST_SURELY_UNSET)"
    );
    assert!(
        discord["error"]
            .as_str()
            .unwrap()
            .contains("DUM_TEST_SURELY_UNSET is not set"),
        "{discord}"
    );
    out.assert_stderr_contains(&format!(
        "notification to slack {} failed: HTTP 403",
        r.host()
    ));
    let telegram = &by_target("telegram")[0];
    assert_eq!(telegram["ok"], false, "{telegram}");
    assert!(
        telegram["error"].as_str().unwrap().contains("timeout"),
        "{telegram}"
    );
    let matrix = &by_target("matrix")[0];
    assert_eq!(matrix["ok"], false, "{matrix}");
    let puts = r.to("/status/500/matrix");
    assert_eq!(puts.len(), 2, "a 500 is retried once: {puts:#?}");
    assert_eq!(puts[0]["method"], "PUT");
    assert_eq!(
        puts[0]["path"], puts[1]["path"],
        "a retry keeps its transaction ID"
    );
    assert_no_secrets(&out);
    assert!(
        !out.stderr.contains("/status/403/slack"),
        "the URL path stays secret: {out:?}"
    );
}

#[test]
fn notify_test_sends_to_every_target_and_fails_if_one_fails() {
    let r = Receiver::start();
    let dum = Dum::new().config_json(json!({
        "images": [],
        "notify": [
            {"type": "ntfy", "url": r.url("/ntfy/t")},
            {"type": "webhook", "url": r.url("/hook"), "events": ["failed"]},
        ],
    }));
    let listed = dum.run(&["notify"]);
    listed.assert_code(0).assert_stdout_contains("ntfy");
    assert!(r.requests().is_empty(), "listing sends nothing");

    let out = dum.run(&["notify", "--test", "--format", "json"]);
    out.assert_code(0);
    assert_eq!(out.json()["notifications"].as_array().unwrap().len(), 2);
    let ntfy = r.to("/ntfy/");
    assert!(
        header(&ntfy[0], "title").ends_with(": test notification"),
        "{ntfy:#?}"
    );
    let w = r.only_json("/hook");
    assert_eq!(w["command"], "notify");
    assert_eq!(w["test"], true);
    assert_eq!(w["events"], json!([]));

    dum.write_config(&json!({
        "images": [],
        "notify": [
            {"type": "ntfy", "url": r.url("/ntfy/t")},
            {"type": "slack", "url": r.url("/status/404/x")},
        ],
    }));
    let out = dum.run(&["notify", "--test"]);
    out.assert_code(1);
    out.assert_stdout_contains(&format!("ok      ntfy {}", r.host()));
    out.assert_stdout_contains(&format!("FAILED  slack {}: HTTP 404", r.host()));

    let none = Dum::new().config_json(json!({"images": []}));
    none.run(&["notify", "--test"])
        .assert_code(2)
        .assert_stderr_contains("no notification targets");
}
