//! The ways dum is shipped and run, tested for real: the systemd units (verified by
//! `systemd-analyze`), the shell completions (loaded by bash), colour and table width
//! on a real terminal (a pty from util-linux `script`), and the container image (built
//! with the local engine, `check` run in it with the socket mounted). The Debian
//! package is tested by `packaging/test-deb` (it installs into the system), which
//! `scripts/test` runs after this.

use crate::harness::dum::BIN;
use crate::harness::{Container, Dum, Image, LABEL_ARG, docker, docker_output, registry, run};
use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const UNITS: &[&str] = &[
    "dum-check.service",
    "dum-check.timer",
    "dum-update.service",
    "dum-update.timer",
];

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The value of every `key=` line of a unit file, in order.
fn unit_values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
        .collect()
}

/// Copies of the units whose ExecStart runs the binary under test (verify insists that
/// the executable exists).
fn units_for_this_build() -> tempfile::TempDir {
    let dir = crate::harness::temp_dir("dum-test-units-");
    for unit in UNITS {
        let text = fs::read_to_string(repo_path(&format!("systemd/{unit}"))).unwrap();
        let text = text.replace("ExecStart=/usr/bin/dum ", &format!("ExecStart={BIN} "));
        fs::write(dir.path().join(unit), text).unwrap();
    }
    dir
}

#[test]
fn systemd_units_pass_systemd_analyze_verify_and_security() {
    let dir = units_for_this_build();
    let paths: Vec<PathBuf> = UNITS.iter().map(|u| dir.path().join(u)).collect();
    // --man=no: the man pages are not installed here; packaging/test-deb verifies the
    // installed units with them.
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg("--man=no")
        .args(&paths)
        .output()
        .expect("systemd-analyze (package systemd) is needed; scripts/test installs it");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {}\n{stderr}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    // Hardening must not regress: exposure 2.5 at most ("OK"; 10 = unprotected).
    for service in ["dum-check.service", "dum-update.service"] {
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--threshold=25"])
            .arg(dir.path().join(service))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{service} is exposed beyond 2.5:\n{}",
            text.lines()
                .filter(|l| l.contains('✗') || l.contains("Overall"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn systemd_units_count_results_as_success_and_failures_as_failures() {
    // (unit, ExecStart arguments, exit statuses that must count as success)
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("dum-check.service", &["check"], &["100", "75"]),
        ("dum-update.service", &["update"], &["100", "101"]),
    ];
    for (unit, command, success) in cases {
        let text = fs::read_to_string(repo_path(&format!("systemd/{unit}"))).unwrap();
        assert_eq!(unit_values(&text, "Type"), ["oneshot"], "{unit}");
        let statuses: Vec<String> = unit_values(&text, "SuccessExitStatus")
            .iter()
            .flat_map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect();
        for code in *success {
            assert!(
                statuses.iter().any(|s| s == code),
                "{unit}: {code} not a success"
            );
        }
        for code in ["1", "2"] {
            assert!(!statuses.iter().any(|s| s == code), "{unit}: {code} hidden");
        }
        // The command line the unit runs must parse: run it with --help appended.
        let exec = unit_values(&text, "ExecStart");
        assert_eq!(exec.len(), 1, "{unit}: {exec:?}");
        let args: Vec<&str> = exec[0].split_whitespace().collect();
        assert_eq!(args[0], "/usr/bin/dum", "{unit}");
        assert_eq!(&args[1..=command.len()], *command, "{unit}");
        assert!(args.contains(&"--wait"), "{unit}: no --wait for the lock");
        let mut with_help = args[1..].to_vec();
        with_help.push("--help");
        run(Command::new(BIN).args(&with_help));
        for key in [
            "ProtectSystem",
            "StateDirectory",
            "NoNewPrivileges",
            "PrivateTmp",
        ] {
            assert!(!unit_values(&text, key).is_empty(), "{unit}: no {key}=");
        }
    }
    for timer in ["dum-check.timer", "dum-update.timer"] {
        let text = fs::read_to_string(repo_path(&format!("systemd/{timer}"))).unwrap();
        assert_eq!(unit_values(&text, "Persistent"), ["true"], "{timer}");
        assert_eq!(unit_values(&text, "WantedBy"), ["timers.target"], "{timer}");
    }
}

#[test]
fn bash_completion_completes_commands_and_options() {
    let script = run(Command::new(BIN).args(["completions", "bash"]));
    let dir = crate::harness::temp_dir("dum-test-compl-");
    let file = dir.path().join("dum.bash");
    fs::write(&file, script).unwrap();
    // (words typed, word being completed, a completion that must be offered)
    let cases: &[(&str, usize, &str)] = &[
        ("dum val", 1, "validate"),
        ("dum check --for", 2, "--format"),
        ("dum completions f", 2, "fish"),
    ];
    for (words, cword, want) in cases {
        let program = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; \
             _dum dum \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            file.display()
        );
        let offered = run(Command::new("bash").args(["-c", &program]));
        assert!(
            offered.lines().any(|l| l.trim() == *want),
            "completing {words:?}: {want} not among {offered:?}"
        );
    }
}

/// Runs `sh -c COMMAND` on a pseudo-terminal (util-linux `script`), with `env`.
fn on_terminal(command: &str, env: &[(&str, &str)], remove: &[&str]) -> String {
    let mut cmd = Command::new("script");
    cmd.args(["-qefc", command, "/dev/null"]);
    for key in remove {
        cmd.env_remove(key);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd).replace('\r', "")
}

#[test]
fn help_is_coloured_only_on_a_terminal_and_never_with_no_color() {
    let help = format!("{BIN} check --help");
    let tty = on_terminal(&help, &[], &["NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE"]);
    assert!(tty.contains("\x1b["), "no colour on a terminal:\n{tty}");
    let no_color = on_terminal(&help, &[("NO_COLOR", "1")], &["CLICOLOR_FORCE"]);
    assert!(
        !no_color.contains('\x1b'),
        "colour despite NO_COLOR:\n{no_color}"
    );
    let piped = run(Command::new(BIN)
        .args(["check", "--help"])
        .env_remove("NO_COLOR"));
    assert!(!piped.contains('\x1b'), "colour into a pipe:\n{piped}");
    assert!(piped.contains("Examples:"), "{piped}");
}

#[test]
fn version_names_the_package_version() {
    let out = run(Command::new(BIN).arg("--version"));
    assert!(
        out.starts_with(&format!("dum {}", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn check_table_fits_80_columns_and_keeps_versions_whole() {
    // Long repository names and notes, as with real registries.
    let base = Image::new(
        registry::anon(),
        "an-application-with-a-rather-long-repository-name",
    );
    let v1 = base.clone().version("v10.20.30-ls123").build_and_push();
    let _v2 = base
        .clone()
        .version("v10.20.31-ls124")
        .also_tag("latest")
        .build_and_push();
    let c = Container::run("table-width-container-name", &v1.reference, &[]);
    let dum = Dum::new().config_json(json!({ "images": [
        { "image": base.name(), "regex": "^v[0-9]+\\.[0-9]+\\.[0-9]+-ls[0-9]+$" },
        { "image": format!("{}/missing-repository-with-a-long-name", registry::anon().host()) },
    ]}));
    let envs: Vec<(String, String)> = dum
        .command(&[])
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v?.to_str()?.to_string())))
        .collect();
    let mut env: Vec<(&str, &str)> = envs
        .iter()
        .filter(|(k, _)| k != "LOG_LEVEL")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.push(("LOG_LEVEL", "off"));
    env.push(("COLUMNS", "80"));
    let screen = on_terminal(&format!("{} check; echo exit=$?", quote(BIN)), &env, &[]);
    assert!(
        screen.contains("exit=1"),
        "want exit 1 (one failed row):\n{screen}"
    );
    for line in screen.lines() {
        assert!(
            line.chars().count() <= 80,
            "line wider than 80 columns ({}):\n{line}\n--- screen\n{screen}",
            line.chars().count()
        );
    }
    let row = screen
        .lines()
        .find(|l| l.contains("v10.20.30-ls123"))
        .unwrap_or_else(|| panic!("CURRENT not whole on one line:\n{screen}"));
    assert!(
        row.contains("v10.20.31-ls124"),
        "LATEST not whole on CURRENT's line:\n{screen}"
    );
    drop(c);
}

/// The image `packaging/build-image` builds; removed on drop.
struct BuiltImage(String);

impl Drop for BuiltImage {
    fn drop(&mut self) {
        let _ = docker_output(&["rmi", "-f", &self.0]);
    }
}

/// The static binary `PROFILE=ship packaging/build-static` builds (scripts/test runs it
/// before the tests: building it from inside `cargo test` would wait on cargo's lock).
fn static_binary() -> PathBuf {
    let target_dir = Path::new(BIN)
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <target>/debug");
    let bin = target_dir.join("x86_64-unknown-linux-musl/ship/dum");
    assert!(
        bin.exists(),
        "{} is missing: run `PROFILE=ship packaging/build-static` first (scripts/test does)",
        bin.display()
    );
    bin
}

#[test]
fn container_image_is_small_and_checks_through_the_mounted_socket() {
    let tag = format!("dum-test-image:{}", crate::harness::unique("ship"));
    let built = BuiltImage(tag.clone());
    run(Command::new(repo_path("packaging/build-image"))
        .arg(&built.0)
        .args(["--label", LABEL_ARG])
        .env("BIN", static_binary()));
    let size: u64 = docker(&["image", "inspect", "--format", "{{.Size}}", &tag])
        .parse()
        .unwrap();
    eprintln!("container image {tag}: {size} bytes");
    assert!(size < 15_000_000, "image is {size} bytes, over 15 MB");
    let env = docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Env}} {{json .Config.Entrypoint}}",
        &tag,
    ]);
    for want in [
        "CONFIG_FILE=/config/config.json",
        "STATE_FILE=/state/state.json",
        "[\"/dum\"]",
    ] {
        assert!(env.contains(want), "image config lacks {want}: {env}");
    }

    let app = Image::new(registry::anon(), "imaged");
    let v1 = app.clone().version("1.0.0").build_and_push();
    let _v2 = app
        .clone()
        .version("1.1.0")
        .also_tag("latest")
        .build_and_push();
    let c = Container::run("imaged", &v1.reference, &[]);
    let dir = crate::harness::temp_dir("dum-test-image-");
    let (config, state) = (dir.path().join("config"), dir.path().join("state"));
    fs::create_dir_all(&config).unwrap();
    fs::create_dir_all(&state).unwrap();
    fs::write(
        config.join("config.json"),
        json!({ "images": [{
            "image": app.name(),
            "regex": "^[0-9]+\\.[0-9]+\\.[0-9]+$",
            "container_name": c.name(),
        }]})
        .to_string(),
    )
    .unwrap();
    // As the README documents it, plus --network host: the test registry listens on
    // the host's loopback.
    let out = docker_output(&[
        "run",
        "--rm",
        "--label",
        LABEL_ARG,
        "--network",
        "host",
        "-v",
        "/var/run/docker.sock:/var/run/docker.sock",
        "-v",
        &format!("{}:/config", config.display()),
        "-v",
        &format!("{}:/state", state.display()),
        &tag,
        "check",
        "--format",
        "json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(100),
        "dum check in the image:\n{stdout}\n{stderr}"
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let row = &doc["images"][0];
    assert_eq!(row["status"], "update_available", "{doc:#}");
    assert_eq!(row["current_version"], "1.0.0", "{doc:#}");
    assert_eq!(row["latest_version"], "1.1.0", "{doc:#}");
    assert_eq!(row["container"], c.name(), "{doc:#}");
    assert!(
        state.join("state.json").exists(),
        "no state written to the /state mount"
    );
    let version = docker(&["run", "--rm", "--label", LABEL_ARG, &tag, "--version"]);
    assert!(version.starts_with("dum "), "{version}");
}

/// The shipped binary has no fault hook: `DUM_FAULT` exists only in test builds.
#[test]
fn the_shipped_binary_has_no_fault_hook() {
    let bytes = std::fs::read(static_binary()).unwrap();
    assert!(
        !bytes.windows(b"DUM_FAULT".len()).any(|w| w == b"DUM_FAULT"),
        "the static binary contains DUM_FAULT"
    );
    // The binary under test has it, or the crash tests would prove nothing.
    let tested = std::fs::read(crate::harness::dum::BIN).unwrap();
    assert!(
        tested
            .windows(b"DUM_FAULT".len())
            .any(|w| w == b"DUM_FAULT"),
        "the tested binary lacks the fault hook: build with --features fault-injection"
    );
}
