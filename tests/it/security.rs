//! Security properties of real runs: no credential in logs (at trace level), state or
//! history; private file modes; planted symlinks never written through; files owned by
//! another user, or that others can write, refused when running as root.

use crate::harness::registry::{self, PASSWORD, USER};
use crate::harness::{Container, Dum, Image, Registry, temp_dir};
use base64::Engine as _;
use serde_json::json;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

fn versions(reg: &'static Registry, hint: &str) -> (Image<'static>, Container) {
    let image = Image::new(reg, hint);
    let v1 = image.clone().version("1.0.0").build_and_push();
    image
        .clone()
        .version("2.0.0")
        .keep_local(false)
        .build_and_push();
    let c = Container::run(hint, &v1.reference, &[]);
    (image, c)
}

fn config(image: &Image) -> serde_json::Value {
    json!({"images": [{"image": image.name(), "regex": "^[0-9.]+$", "grace_seconds": 1}]})
}

#[test]
fn credentials_never_reach_logs_state_or_history() {
    let basic_header =
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    for reg in [registry::basic(), registry::token()] {
        let (image, c) = versions(reg, &format!("secret-{:?}", reg.kind()).to_lowercase());
        let dum = Dum::new().config_json(config(&image)).login(reg);
        let update = dum.run(&["--log-level", "trace", "update", c.name()]);
        update.assert_code(101);
        let check = dum.run(&["--log-level", "trace", "check"]);
        check.assert_code(0);
        assert!(
            update.stderr.contains("TRACE") || update.stderr.contains("DEBUG"),
            "trace logging on: {update:?}"
        );
        let files: Vec<(String, String)> = ["state.json", "history.json", "dum.lock"]
            .iter()
            .map(|n| {
                let p = dum.dir().join("state").join(n);
                (
                    p.display().to_string(),
                    fs::read_to_string(&p).unwrap_or_default(),
                )
            })
            .collect();
        let mut haystacks = vec![
            ("update stdout".to_string(), update.stdout.clone()),
            ("update stderr".to_string(), update.stderr.clone()),
            ("check stdout".to_string(), check.stdout.clone()),
            ("check stderr".to_string(), check.stderr.clone()),
        ];
        haystacks.extend(files);
        // JWTs and X-Registry-Auth (base64 JSON) both start with "eyJ".
        for secret in [PASSWORD, basic_header.as_str(), "eyJ", "Bearer ", "Basic "] {
            for (name, text) in &haystacks {
                assert!(
                    !text.contains(secret),
                    "{:?}: {secret:?} found in {name}:\n{text}",
                    reg.kind()
                );
            }
        }
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn state_history_and_lock_are_private_and_symlinks_are_never_followed() {
    let (image, c) = versions(registry::anon(), "private");
    let dum = Dum::new().config_json(config(&image));
    // A state directory dum creates itself (the harness pre-creates `state/`).
    let fresh = dum.dir().join("fresh/sub");
    let state_file = fresh.join("state.json");
    let run = |args: &[&str]| {
        let out = dum
            .command(args)
            .env("STATE_FILE", &state_file)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["update", c.name()]);
    assert_eq!(code, Some(101), "{err}");
    assert_eq!(mode(&fresh), 0o700, "state dir");
    for name in ["state.json", "history.json", "dum.lock"] {
        assert_eq!(mode(&fresh.join(name)), 0o600, "{name}");
    }

    // Planted symlinks: state and history are replaced, their targets untouched.
    let elsewhere = temp_dir("dum-test-elsewhere-");
    let state_target = elsewhere.path().join("state-target.json");
    let history_target = elsewhere.path().join("history-target.json");
    // The targets hold what dum wrote (so the rollback below finds its history entry).
    let state_text = fs::read_to_string(fresh.join("state.json")).unwrap();
    let history_text = fs::read_to_string(fresh.join("history.json")).unwrap();
    fs::write(&state_target, &state_text).unwrap();
    fs::write(&history_target, &history_text).unwrap();
    for (name, target) in [
        ("state.json", &state_target),
        ("history.json", &history_target),
    ] {
        fs::remove_file(fresh.join(name)).unwrap();
        std::os::unix::fs::symlink(target, fresh.join(name)).unwrap();
    }
    // A rollback writes both the state (journal) and the history.
    let (code, err) = run(&["rollback", c.name()]);
    assert_eq!(code, Some(101), "{err}");
    assert_eq!(fs::read_to_string(&state_target).unwrap(), state_text);
    assert_eq!(fs::read_to_string(&history_target).unwrap(), history_text);
    for name in ["state.json", "history.json"] {
        let meta = fs::symlink_metadata(fresh.join(name)).unwrap();
        assert!(
            meta.file_type().is_file(),
            "{name} replaced by a regular file"
        );
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
    }

    // A planted lock symlink is refused; its target is untouched.
    let lock_target = elsewhere.path().join("lock-target");
    fs::write(&lock_target, "precious\n").unwrap();
    fs::remove_file(fresh.join("dum.lock")).unwrap();
    std::os::unix::fs::symlink(&lock_target, fresh.join("dum.lock")).unwrap();
    let (code, err) = run(&["check"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("refusing the lock file"), "{err}");
    assert_eq!(fs::read_to_string(&lock_target).unwrap(), "precious\n");
}

#[test]
fn files_owned_by_another_user_are_refused_as_root() {
    let euid = dum::internals::effective_uid().unwrap();
    assert_eq!(
        euid, 0,
        "the integration tests run as root (scripts/test needs it)"
    );
    let (image, _c) = versions(registry::anon(), "owner");
    let dum = Dum::new().config_json(config(&image));
    dum.run(&["check"]).assert_code(100);
    let nobody = 65534;
    let chown = |path: &Path, uid: u32| {
        std::os::unix::fs::chown(path, Some(uid), None).unwrap();
        assert_eq!(fs::metadata(path).unwrap().uid(), uid);
    };

    chown(&dum.config_path(), nobody);
    let out = dum.run(&["check"]);
    out.assert_code(2);
    out.assert_stderr_contains("refusing the config file");
    out.assert_stderr_contains("uid 65534");
    chown(&dum.config_path(), 0);

    let before = fs::read(dum.state_path()).unwrap();
    chown(&dum.state_path(), nobody);
    let out = dum.run(&["check"]);
    out.assert_code(2);
    out.assert_stderr_contains("refusing the state file");
    assert_eq!(
        fs::read(dum.state_path()).unwrap(),
        before,
        "state untouched"
    );
    chown(&dum.state_path(), 0);
    dum.run(&["check"]).assert_code(100);
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Runs `dum check` and asserts it refuses `what` with `fix` in the message, exit 2,
/// leaving the state as it was.
fn assert_refused(dum: &Dum, case: &str, what: &str, fix: &str) {
    let before = fs::read(dum.state_path()).unwrap();
    let out = dum.run(&["check"]);
    assert_eq!(out.code, 2, "{case}: {out:?}");
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains(&format!("refusing the {what}")))
        .unwrap_or_else(|| panic!("{case}: no refusal of the {what}:\n{out:?}"));
    assert!(
        line.contains(fix),
        "{case}: {line:?} lacks {fix:?}\n{out:?}"
    );
    assert_eq!(
        fs::read(dum.state_path()).unwrap(),
        before,
        "{case}: state untouched"
    );
}

#[test]
fn files_and_directories_others_can_write_are_refused_as_root() {
    assert_eq!(dum::internals::effective_uid().unwrap(), 0, "runs as root");
    let (image, _c) = versions(registry::anon(), "writable");
    // The config one level down, so the installation's dir is only an ancestor of it.
    let etc = temp_dir("dum-test-etc-");
    let dum = Dum::new().env(
        "CONFIG_FILE",
        &etc.path().join("config.json").display().to_string(),
    );
    let config_path = etc.path().join("config.json");
    fs::write(&config_path, config(&image).to_string()).unwrap();
    chmod(&config_path, 0o644);
    dum.run(&["check"]).assert_code(100);
    let state_dir = dum.state_path().parent().unwrap().to_path_buf();
    let history = state_dir.join("history.json");
    fs::write(&history, r#"{"version":1,"entries":[]}"#).unwrap();
    chmod(&history, 0o600);
    let lock = state_dir.join("dum.lock");
    let go_w = |p: &Path| format!("chmod go-w {}", p.display());

    // (case, path, bad mode, good mode, what is refused, fix in the message)
    let cases: [(&str, &Path, u32, u32, &str, String); 8] = [
        (
            "world-writable config",
            &config_path,
            0o666,
            0o644,
            "config file",
            go_w(&config_path),
        ),
        (
            "group-writable config",
            &config_path,
            0o664,
            0o644,
            "config file",
            go_w(&config_path),
        ),
        (
            "world-writable state",
            &dum.state_path(),
            0o606,
            0o600,
            "state file",
            go_w(&dum.state_path()),
        ),
        (
            "group-writable history",
            &history,
            0o660,
            0o600,
            "history file",
            go_w(&history),
        ),
        (
            "world-writable lock",
            &lock,
            0o666,
            0o600,
            "lock file",
            go_w(&lock),
        ),
        (
            "config directory",
            etc.path(),
            0o777,
            0o700,
            "config file",
            go_w(etc.path()),
        ),
        (
            "state directory",
            &state_dir,
            0o775,
            0o755,
            "lock file",
            go_w(&state_dir),
        ),
        (
            "sticky state directory",
            &state_dir,
            0o1777,
            0o755,
            "lock file",
            "move the file into a directory only root can write".into(),
        ),
    ];
    for (case, path, bad, good, what, fix) in &cases {
        chmod(path, *bad);
        assert_refused(&dum, case, what, fix);
        chmod(path, *good);
    }
    // `dum validate` refuses the config the same way.
    chmod(&config_path, 0o666);
    let out = dum.run(&["validate"]);
    out.assert_code(2);
    out.assert_stderr_contains(&go_w(&config_path));
    chmod(&config_path, 0o644);

    // An ancestor may be writable by others when sticky (like /tmp), not otherwise.
    chmod(dum.dir(), 0o1777);
    dum.run(&["check"]).assert_code(100);
    chmod(dum.dir(), 0o777);
    assert_refused(&dum, "non-sticky ancestor", "lock file", &go_w(dum.dir()));
    let out = dum.run(&["check"]);
    out.assert_stderr_contains("not sticky");
    chmod(dum.dir(), 0o700);
    dum.run(&["check"]).assert_code(100);
}

#[test]
fn secret_files_others_can_write_are_refused_and_readable_ones_warned_about() {
    let (image, _c) = versions(registry::anon(), "secret-file");
    let secrets = temp_dir("dum-test-secrets-");
    let url_file = secrets.path().join("url");
    let token_file = secrets.path().join("token");
    // Nothing listens on port 9: the notification fails, which never changes the exit code.
    fs::write(&url_file, "http://127.0.0.1:9/hook\n").unwrap();
    fs::write(&token_file, "t0ken\n").unwrap();
    let mut cfg = config(&image);
    cfg["notify"] = json!([{"type": "webhook", "url_file": url_file, "token_file": token_file}]);
    let dum = Dum::new().config_json(cfg);
    let config_path = dum.config_path().display().to_string();
    for file in [&url_file, &token_file] {
        chmod(file, 0o600);
    }
    let out = dum.run(&["validate"]);
    out.assert_code(0);
    assert!(!out.stderr.contains("chmod"), "{out:?}");

    // Readable by others: a warning, once, though the secret is checked again when sent.
    chmod(&url_file, 0o644);
    let warning = format!(
        "secret file {}: it is readable by group and others; run chmod go-r {}",
        url_file.display(),
        url_file.display()
    );
    let out = dum.run(&["check"]);
    out.assert_code(100);
    out.assert_stderr_contains("notification to webhook");
    assert_eq!(out.stderr.matches(&warning).count(), 1, "{out:?}");
    chmod(&url_file, 0o600);

    // Writable by others: a configuration problem at the key naming the file.
    for (file, key, mode, writers) in [
        (&url_file, "url_file", 0o620, "its group"),
        (&token_file, "token_file", 0o602, "others"),
    ] {
        chmod(file, mode);
        for args in [&["validate"][..], &["check"], &["notify"]] {
            let out = dum.run(args);
            out.assert_code(2);
            out.assert_stderr_contains(&format!(
                "{config_path}: /notify/0/{key}: refusing the secret file {}: it is writable by {writers}; run chmod go-w {}",
                file.display(),
                file.display()
            ));
        }
        chmod(file, 0o600);
    }

    // So is the directory holding it.
    chmod(secrets.path(), 0o777);
    let out = dum.run(&["validate"]);
    out.assert_code(2);
    out.assert_stderr_contains(&format!("chmod go-w {}", secrets.path().display()));
    chmod(secrets.path(), 0o700);
    dum.run(&["validate"]).assert_code(0);
}

#[test]
fn a_run_as_another_user_trusts_its_own_files_as_before() {
    let nobody = 65534;
    // Somewhere that user can reach: /tmp itself, not the test run's private dir.
    let dir = tempfile::Builder::new()
        .prefix("dum-test-nonroot-")
        .tempdir_in("/tmp")
        .unwrap();
    chmod(dir.path(), 0o777);
    let bin = dir.path().join("dum");
    if fs::hard_link(crate::harness::dum::BIN, &bin).is_err() {
        fs::copy(crate::harness::dum::BIN, &bin).unwrap();
    }
    let config_path = dir.path().join("config.json");
    fs::write(&config_path, r#"{"images": [{"image": "busybox"}]}"#).unwrap();
    std::os::unix::fs::chown(&config_path, Some(nobody), Some(nobody)).unwrap();
    chmod(&config_path, 0o666);
    let run = |prefix: &[&str]| {
        let out = std::process::Command::new(prefix.first().copied().unwrap_or(""))
            .args(&prefix[1..])
            .args([
                bin.to_str().unwrap(),
                "validate",
                config_path.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let as_nobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
    ];
    let (code, err) = run(&as_nobody);
    assert_eq!(code, Some(0), "as uid {nobody}: {err}");
    // The same file is refused as root.
    let (code, err) = run(&["env"]);
    assert_eq!(code, Some(2), "as root: {err}");
    assert!(err.contains("owned by uid 65534"), "{err}");
}
