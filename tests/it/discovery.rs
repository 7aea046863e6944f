//! No configuration file at the default location: `dum check` checks running
//! containers against their own tags and proposes a configuration.

use crate::harness::{Container, Dum, Image, Output, registry};
use crate::report::Report;
use serde_json::json;
use std::path::Path;

/// The default config path when running as root, as these tests do.
const ROOT_DEFAULT_CONFIG: &str = "/etc/dum/config.json";

/// Runs dum with CONFIG_FILE removed, so it looks at the default location.
fn run_without_config_env(dum: &Dum, args: &[&str]) -> Output {
    assert!(
        !Path::new(ROOT_DEFAULT_CONFIG).exists(),
        "{ROOT_DEFAULT_CONFIG} exists on this machine; discovery tests need it absent"
    );
    let mut cmd = dum.command(args);
    cmd.env_remove("CONFIG_FILE");
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

#[test]
fn without_a_config_running_containers_are_checked_against_their_tags() {
    let uid = crate::harness::run(std::process::Command::new("id").arg("-u"));
    assert_eq!(
        uid, "0",
        "discovery tests assume root's default config path"
    );
    let reg = registry::anon();
    let app = Image::new(reg, "discover");
    let v1 = app.clone().version("v1.0.0").build_and_push();
    let v2 = app
        .clone()
        .version("v1.1.0")
        .also_tag("latest")
        .build_and_push();
    let old = Container::run("discover-old", &v1.reference, &[]);
    let new = Container::run("discover-new", &v2.reference, &[]);
    let dum = Dum::new();

    let out = run_without_config_env(&dum, &["check", "--format", "json", old.name(), new.name()]);
    out.assert_code(100);
    let report = Report {
        doc: out.json(),
        out,
    };
    assert_eq!(report.doc["discovered"], true, "{:?}", report.out);
    report.assert_summary(2, 1, 1, 0, 0);
    report.assert_fields(
        report.container(old.name()),
        json!({
            "image": app.name(),
            "current_version": "v1.0.0",
            "current_digest": v1.digest,
            "latest_version": "v1.1.0",
            "latest_digest": v2.digest,
            "base_tag": "latest",
            "base_tag_version": "v1.1.0",
            "status": "update_available",
        }),
    );
    report.assert_fields(
        report.container(new.name()),
        json!({"current_version": "v1.1.0", "status": "up_to_date"}),
    );
    report.out.assert_stderr_contains(ROOT_DEFAULT_CONFIG);

    // The table ends with a configuration to start from, regex proposed from the tag.
    let out = run_without_config_env(&dum, &["check", new.name()]);
    out.assert_code(0);
    out.assert_stdout_contains(ROOT_DEFAULT_CONFIG);
    out.assert_stdout_contains(new.name());
    out.assert_stdout_contains(r#"^v[0-9]+\\.[0-9]+\\.[0-9]+$"#);

    // A name that is no running container is a usage error.
    let out = run_without_config_env(&dum, &["check", "no-such-running-container"]);
    out.assert_code(2);
}
