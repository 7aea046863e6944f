//! `dum init`: a configuration for what runs, written atomically and never over an
//! existing file; `--add` appends for new containers keeping every byte; `--dry-run`
//! prints the file. Every run names its containers: other tests' containers run on
//! the same engine at the same time.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::harness::dum::BIN;
use crate::harness::{Container, Dum, Image, Output, registry};
use crate::report::{Report, SEMVER};
use serde_json::{Value, json};

/// Runs dum under umask 077, so modes that survive it were set on purpose.
fn run_umask_077(dum: &Dum, args: &[&str]) -> Output {
    let inner = dum.command(args);
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "umask 077; exec \"$@\"", "sh", BIN])
        .args(args);
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run dum: {e}"));
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        args: args.iter().map(|s| s.to_string()).collect(),
    }
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// The entries of a config file, by container name.
fn entries(text: &str) -> Vec<(String, Value)> {
    let doc: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    let mut all: Vec<(String, Value)> = doc["images"]
        .as_array()
        .unwrap_or_else(|| panic!("no images:\n{text}"))
        .iter()
        .map(|e| {
            (
                e["container_name"].as_str().unwrap_or("").to_string(),
                e.clone(),
            )
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

#[test]
fn init_proposes_what_runs_and_check_uses_it() {
    let reg = registry::anon();
    let app = Image::new(reg, "initapp");
    let v1 = app.clone().version("v1.0.0").build_and_push();
    let v2 = app
        .clone()
        .version("v1.1.0")
        .also_tag("latest")
        .build_and_push();
    let plain = Image::new(reg, "initplain").build_and_push();
    let on_version = Container::run("init-ver", &v1.reference, &[]);
    let on_latest = Container::run("init-lat", &app.reference("latest"), &[]);
    let on_digest = Container::run("init-dig", &v2.by_digest(), &[]);
    let on_plain = Container::run("init-plain", &plain.reference, &[]);
    let dum = Dum::new();
    let dir = dum.dir().join("etc");
    let path = dir.join("dum/config.json");
    let config = path.to_str().unwrap();
    let targets = [
        on_version.name(),
        on_latest.name(),
        on_digest.name(),
        on_plain.name(),
    ];
    let with = |first: &[&str]| -> Vec<String> {
        first
            .iter()
            .chain(targets.iter())
            .map(|s| s.to_string())
            .collect()
    };

    // A dry run prints the file, writes nothing, and tells stderr what it left out.
    let dry = with(&["init", "--dry-run", "--config", config]);
    let out = dum.run(&args(&dry));
    out.assert_code(0);
    assert!(!dir.exists(), "a dry run created {}", dir.display());
    let want_entries = vec![
        (
            on_latest.name().to_string(),
            json!({"image": app.name(), "container_name": on_latest.name(), "regex": SEMVER}),
        ),
        (
            on_version.name().to_string(),
            json!({"image": app.name(), "container_name": on_version.name(), "regex": SEMVER}),
        ),
    ];
    let mut want_sorted = want_entries.clone();
    want_sorted.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(entries(&out.stdout), want_sorted, "{out:?}");
    out.assert_stderr_contains(on_digest.name());
    out.assert_stderr_contains(on_plain.name());

    // The real run: 0644 under 0755 directories it creates, whatever the umask.
    let real = with(&["init", "--format", "json", "--config", config]);
    let out = run_umask_077(&dum, &args(&real));
    out.assert_code(0);
    let doc = out.json();
    assert_eq!(doc["command"], "init", "{out:?}");
    assert_eq!(doc["written"], true, "{out:?}");
    assert_eq!(doc["added"], false, "{out:?}");
    assert_eq!(doc["dry_run"], false, "{out:?}");
    assert!(doc.get("content").is_none(), "{out:?}");
    assert_eq!(doc["proposed"].as_array().unwrap().len(), 2, "{out:?}");
    let reasons: Vec<(String, String)> = doc["unproposed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["container"].as_str().unwrap().to_string(),
                u["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut want_reasons = vec![
        (on_digest.name().to_string(), "digest_only".to_string()),
        (on_plain.name().to_string(), "no_version_tags".to_string()),
    ];
    want_reasons.sort();
    assert_eq!(reasons, want_reasons, "{out:?}");
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(entries(&text), want_sorted, "{text}");
    assert_eq!(mode(&path), 0o644);
    assert_eq!(mode(&dir), 0o755);
    assert_eq!(mode(&dir.join("dum")), 0o755);

    // Never over an existing file: a usage error, the file untouched.
    let out = dum.run(&args(&with(&["init", "--config", config])));
    out.assert_code(2);
    out.assert_stderr_contains("--add");
    assert_eq!(fs::read_to_string(&path).unwrap(), text);

    // The written file is valid, and check reads it: one row per proposed entry.
    dum.run(&["validate", config]).assert_code(0);
    let report = Report::run(&dum, &["--config", config], 100);
    report.assert_summary(2, 1, 1, 0, 0);
    report.assert_fields(
        report.container(on_version.name()),
        json!({"current_version": "v1.0.0", "latest_version": "v1.1.0", "status": "update_available"}),
    );
    report.assert_fields(
        report.container(on_latest.name()),
        json!({"current_version": "v1.1.0", "status": "up_to_date"}),
    );

    // A target that is not a running container is a usage error.
    let out = dum.run(&[
        "init",
        "--dry-run",
        "--config",
        config,
        "dumt-no-such-container",
    ]);
    out.assert_code(2);
}

#[test]
fn add_appends_new_containers_and_keeps_every_byte() {
    let reg = registry::anon();
    let app = Image::new(reg, "initadd");
    let v1 = app.clone().version("1.0").build_and_push();
    let v2 = app
        .clone()
        .version("1.1")
        .also_tag("latest")
        .build_and_push();
    let first = Container::run("init-first", &v1.reference, &[]);
    let dum = Dum::new();
    let path = dum.config_path();

    // The user's own file, as they wrote it: odd spacing, another key after images.
    let mine = format!(
        "{{\n  \"images\": [\n    {{ \"image\": \"{}\",  \"container_name\": \"{}\",\n      \"regex\": \"^[0-9]+\\\\.[0-9]+$\", \"auto_update\": false }}\n  ],\n  \"insecure_registries\": []\n}}\n",
        app.name(),
        first.name()
    );
    fs::write(&path, &mine).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();

    // Nothing new: nothing written.
    let out = dum.run(&["init", "--add", first.name()]);
    out.assert_code(0);
    out.assert_stdout_contains("Nothing to add");
    assert_eq!(fs::read_to_string(&path).unwrap(), mine);

    // A new container appears: its entry is appended after the user's, byte for byte.
    let second = Container::run("init-second", &v2.reference, &[]);
    let out = dum.run(&["init", "--add", first.name(), second.name()]);
    out.assert_code(0);
    out.assert_stdout_contains(&format!("Added 1 entry to {}", path.display()));
    out.assert_stdout_contains(second.name());
    let text = fs::read_to_string(&path).unwrap();
    let cut = mine.find(" }\n  ],").unwrap() + 2;
    assert!(text.starts_with(&mine[..cut]), "{text}");
    assert!(text.ends_with(&mine[cut..]), "{text}");
    let added = &text[cut..text.len() - (mine.len() - cut)];
    assert_eq!(
        serde_json::from_str::<Value>(added.trim_start_matches(',')).unwrap(),
        json!({"image": app.name(), "container_name": second.name(), "regex": r"^[0-9]+\.[0-9]+$"}),
        "{text}"
    );
    assert_eq!(mode(&path), 0o600, "the file's mode was not kept");

    // check reads both: the user's entry and the added one.
    let report = Report::run(&dum, &[], 100);
    report.assert_summary(2, 1, 1, 0, 0);
    report.assert_fields(
        report.container(first.name()),
        json!({"current_version": "1.0", "latest_version": "1.1", "status": "update_available"}),
    );

    // A file that is not valid is not added to.
    let broken = text.replace("\"auto_update\": false", "\"auto_update\": \"no\"");
    fs::write(&path, &broken).unwrap();
    let third = Container::run("init-third", &v2.reference, &[]);
    let out = dum.run(&["init", "--add", third.name()]);
    out.assert_code(2);
    out.assert_stderr_contains("auto_update");
    assert_eq!(fs::read_to_string(&path).unwrap(), broken);
}
