//! Security properties of real runs: no credential in logs (at trace level), state or
//! history; private file modes; planted symlinks never written through; files owned by
//! another user refused when running as root.

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
    let euid = dum::ownership::effective_uid().unwrap();
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
    out.assert_code(1);
    out.assert_stderr_contains("refusing the state file");
    assert_eq!(
        fs::read(dum.state_path()).unwrap(),
        before,
        "state untouched"
    );
    chown(&dum.state_path(), 0);
    dum.run(&["check"]).assert_code(100);
}
