//! Configuration errors: exit 2, every problem at once with its JSON pointer, nothing
//! touched; `dum validate` and `dum schema`.

use crate::harness::Dum;
use crate::report::SEMVER;
use serde_json::{Value, json};

/// (case, config text, expected (pointer, message fragment) problems in order).
const CASES: &[(&str, &str, &[(&str, &str)])] = &[
    (
        "malformed JSON",
        r#"{"images": [ {"image": "a/b"} "#,
        &[("/", "invalid JSON")],
    ),
    (
        "wrong type",
        r#"{"images": [{"image": "a/b", "keep_versions": "3"}]}"#,
        &[("/images/0/keep_versions", "must be an integer")],
    ),
    (
        "unknown key",
        r#"{"images": [{"image": "a/b", "regx": "^v$"}]}"#,
        &[(
            "/images/0",
            "unknown key \"regx\" (did you mean \"regex\"?)",
        )],
    ),
    (
        "invalid regex",
        r#"{"images": [{"image": "a/b", "regex": "^v([0-9]+$"}]}"#,
        &[("/images/0/regex", "invalid regular expression")],
    ),
    (
        "keep_versions 0",
        r#"{"images": [{"image": "a/b", "keep_versions": 0}]}"#,
        &[("/images/0/keep_versions", "must be at least 1")],
    ),
    (
        "duplicate container_name",
        r#"{"images": [{"image": "a/b", "container_name": "x"}, {"image": "a/c", "container_name": "x"}]}"#,
        &[(
            "/images/1/container_name",
            "duplicate container_name \"x\", already used by /images/0",
        )],
    ),
    (
        "tag in image",
        r#"{"images": [{"image": "a/b:1.0"}]}"#,
        &[("/images/0/image", "must not carry a tag")],
    ),
    (
        "multi-byte character where the URL scheme would end",
        r#"{"images": [{"image": "a/b"}], "notify": [{"type": "ntfy", "url": "abcdef€x"}]}"#,
        &[("/notify/0/url", "must be an http:// or https:// URL")],
    ),
    (
        "multi-byte characters in every kind of value",
        r#"{"images": [{"image": "caf€/app:€", "registry": "r€g.lan:5€"}],
            "notify": [{"type": "webhook", "url": "https:/€x", "token": "€"},
                       {"type": "ntfy", "url": "https://ntfy.sh", "topic": "€/€"}],
            "🦀": 1}"#,
        &[
            ("/", "unknown key \"🦀\""),
            ("/images/0/image", "must not carry a tag"),
            ("/images/0/registry", "has an invalid port \"5€\""),
            ("/notify/0/url", "must be an http:// or https:// URL"),
            ("/notify/1/topic", "must be a bare topic name"),
        ],
    ),
    (
        "notification targets: wrong types",
        r#"{"images": [], "notify": [
            {"type": "telegram", "token": "t", "chat_id": true},
            {"type": "email", "host": "h", "port": "587", "tls": "ssl", "from": "a@b.c", "to": "ops@b.c"},
            {"type": "pushover", "token": "t", "user": "u", "priority": 1.5},
            {"type": "matrix", "url": "https://m", "token": "t", "room": 5},
            {"type": "email", "host": "h", "port": 70000, "from": "a@b.c", "to": [], "pasword": "x"}
        ]}"#,
        &[
            (
                "/notify/0/chat_id",
                "is not of types \"integer\", \"string\"",
            ),
            ("/notify/1/port", "must be an integer, found string \"587\""),
            (
                "/notify/1/tls",
                "\"ssl\" is not one of \"starttls\", \"tls\" or \"none\"",
            ),
            ("/notify/1/to", "must be an array"),
            ("/notify/2/priority", "must be an integer"),
            ("/notify/3/room", "must be a string"),
            (
                "/notify/4",
                "unknown key \"pasword\" (did you mean \"password\"?)",
            ),
            ("/notify/4/port", "must be at most 65535"),
            ("/notify/4/to", "less than 1 item"),
        ],
    ),
    (
        "notification targets: what each service needs",
        r##"{"images": [], "notify": [
            {"type": "telegram", "token": "t"},
            {"type": "email", "host": "smtp.example.com", "tls": "none", "username": "u", "password": "p", "from": "a@b.c", "to": ["x"]},
            {"type": "apprise", "url": "http://a", "key": "k", "urls_env": "U"},
            {"type": "slack", "url": "https://s", "room": "!r:x"},
            {"type": "email", "url": "https://x", "host": "smtp.example.com", "from": "a@b.c", "to": ["d@e.f"]},
            {"type": "pushover", "user": "u"},
            {"type": "matrix", "url": "https://m", "token": "t", "room": "#alias:m"}
        ]}"##,
        &[
            ("/notify/0", "telegram needs chat_id"),
            (
                "/notify/1/tls",
                "\"none\" would send the password in clear text",
            ),
            ("/notify/1/to/0", "\"x\" is not an email address"),
            ("/notify/2", "give either key"),
            ("/notify/3/room", "slack takes no room; only matrix does"),
            ("/notify/4", "email takes host and port, not a URL"),
            ("/notify/5", "pushover needs an application token"),
            ("/notify/6/room", "must be a room ID"),
        ],
    ),
    (
        "everything at once",
        r#"{"images": [
            {"image": "a/b:1.0", "regex": "(", "keep_versions": 0, "container_name": "x"},
            {"image": "a/c", "container_name": "x", "auto_update": "yes", "colour": 1}
        ], "insecure_registries": "no"}"#,
        &[
            ("/images/0/image", "must not carry a tag"),
            ("/images/0/keep_versions", "must be at least 1"),
            ("/images/0/regex", "invalid regular expression"),
            ("/images/1", "unknown key \"colour\""),
            ("/images/1/auto_update", "must be a boolean"),
            ("/images/1/container_name", "duplicate container_name"),
            ("/insecure_registries", "must be an array"),
        ],
    ),
];

/// `dum: <file>: <pointer>: <message>` lines of stderr.
fn problem_lines<'a>(stderr: &'a str, file: &str) -> Vec<&'a str> {
    let prefix = format!("{file}: ");
    stderr
        .lines()
        .map(|l| l.strip_prefix("dum: ").unwrap_or(l))
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .collect()
}

#[test]
fn bad_configs_exit_2_listing_every_problem_and_touch_nothing() {
    for (case, text, want) in CASES {
        let dum = Dum::new().config_text(text);
        let file = dum.config_path().display().to_string();
        for args in [&["check"][..], &["validate"], &["validate", file.as_str()]] {
            let out = dum.run(args);
            out.assert_code(2);
            let lines = problem_lines(&out.stderr, &file);
            assert_eq!(
                lines.len(),
                want.len(),
                "{case}: expected {} problem lines:\n{out:?}",
                want.len()
            );
            for (line, (pointer, message)) in lines.iter().zip(want.iter()) {
                let (got_pointer, got_message) = line.split_once(": ").unwrap_or_default();
                assert_eq!(got_pointer, *pointer, "{case}: {line}\n{out:?}");
                assert!(
                    got_message.contains(message),
                    "{case}: {line:?} lacks {message:?}\n{out:?}"
                );
            }
        }
        let out = dum.run(&["validate", "--format", "json"]);
        out.assert_code(2);
        let doc = out.json();
        assert_eq!(doc["valid"], false, "{case}: {out:?}");
        let problems = doc["problems"].as_array().cloned().unwrap_or_default();
        let pointers: Vec<&str> = problems
            .iter()
            .map(|p| p["pointer"].as_str().unwrap_or("?"))
            .collect();
        let want_pointers: Vec<&str> = want
            .iter()
            .map(|(p, _)| if *p == "/" { "" } else { *p })
            .collect();
        assert_eq!(pointers, want_pointers, "{case}: {out:?}");
        let entries: Vec<_> = std::fs::read_dir(dum.state_path().parent().unwrap())
            .unwrap()
            .collect();
        assert!(
            entries.is_empty(),
            "{case}: the state dir is not empty after exit 2: {entries:?}"
        );
    }
}

#[test]
fn an_explicit_missing_config_is_a_usage_error() {
    let dum = Dum::new();
    let missing = dum.dir().join("nowhere/config.json");
    for args in [
        vec!["check", "--config", missing.to_str().unwrap()],
        vec!["validate", missing.to_str().unwrap()],
    ] {
        let out = dum.run(&args);
        out.assert_code(2);
        out.assert_stderr_contains(missing.to_str().unwrap());
    }
    // CONFIG_FILE set by the harness names a file that does not exist yet.
    let out = dum.run(&["check"]);
    out.assert_code(2);
    out.assert_stderr_contains(dum.config_path().to_str().unwrap());
    assert!(dum.state().is_none());
}

#[test]
fn a_valid_config_validates() {
    let config = json!({
        "images": [
            {"image": "registry.example:5000/team/app", "regex": SEMVER, "base_tag": "stable",
             "auto_update": true, "container_name": "app", "cleanup_old_images": true,
             "keep_versions": 2, "registry": "mirror.example:5000"},
            {"image": "busybox"}
        ],
        "insecure_registries": ["registry.example:5000"],
        "notify": [
            {"type": "telegram", "token_env": "TG_TOKEN", "chat_id": -1001234567890_i64},
            {"type": "pushover", "token_file": "/run/secrets/pushover-app", "user_env": "PO_USER", "priority": -1},
            {"type": "matrix", "url": "https://matrix.example.org", "token_env": "MX", "room": "!abc:example.org"},
            {"type": "apprise", "url": "http://apprise:8000", "key": "dum", "tag": "ops"},
            {"type": "apprise", "url": "http://apprise:8000", "urls_file": "/run/secrets/apprise-urls"},
            {"type": "email", "host": "smtp.example.com", "username": "dum", "password_env": "SMTP_PASSWORD",
             "from": "dum <dum@example.com>", "to": ["ops@example.com"]},
            {"type": "email", "host": "mail.lan", "port": 2525, "tls": "none", "from": "dum@mail.lan",
             "to": ["root@mail.lan"]}
        ]
    });
    let dum = Dum::new().config_json(config);
    let out = dum.run(&["validate"]);
    out.assert_code(0);
    out.assert_stdout_contains("valid");
    let out = dum.run(&["validate", "--format", "json"]);
    out.assert_code(0);
    let doc = out.json();
    assert_eq!(doc["valid"], true, "{out:?}");
    assert_eq!(doc["problems"], json!([]), "{out:?}");
    assert_eq!(doc["images"], 2, "{out:?}");
}

#[test]
fn schema_is_json_and_describes_the_config() {
    let out = Dum::new().run(&["schema"]);
    out.assert_code(0);
    let schema: Value = out.json();
    assert_eq!(schema["type"], "object", "{out:?}");
    assert_eq!(schema["required"], json!(["images"]), "{out:?}");
    let image = &schema["$defs"]["image"]["properties"];
    for key in [
        "image",
        "regex",
        "base_tag",
        "auto_update",
        "container_name",
        "cleanup_old_images",
        "keep_versions",
        "registry",
    ] {
        assert!(
            image.get(key).is_some(),
            "schema lacks images[].{key}:\n{out:?}"
        );
    }
    let target = &schema["$defs"]["notify_target"]["properties"];
    let types = target["type"]["enum"].as_array().unwrap();
    for service in ["telegram", "pushover", "matrix", "apprise", "email"] {
        assert!(types.contains(&json!(service)), "schema lacks {service}");
    }
    for key in [
        "chat_id",
        "user",
        "user_env",
        "user_file",
        "room",
        "key",
        "urls",
        "urls_env",
        "urls_file",
        "tag",
        "host",
        "port",
        "tls",
        "username",
        "password",
        "password_env",
        "password_file",
        "from",
        "to",
        "ca_file",
    ] {
        let description = target[key]["description"].as_str().unwrap_or_default();
        assert!(
            !description.is_empty(),
            "schema lacks a described notify[].{key}:\n{out:?}"
        );
    }
}

#[test]
fn every_problem_line_carries_the_dum_prefix() {
    let dum = Dum::new().config_text(r#"{"images": [{"image": "a/b:1", "keep_versions": 0}]}"#);
    let out = dum.run(&["validate"]);
    out.assert_code(2);
    let file = dum.config_path().display().to_string();
    let lines: Vec<&str> = out.stderr.lines().filter(|l| l.contains(&file)).collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    for line in lines {
        assert!(
            line.starts_with(&format!("dum: {file}: /images/0/")),
            "problem line without the `dum: ` prefix: {line:?}\n{out:?}"
        );
    }
}
