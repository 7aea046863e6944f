//! The Prometheus metrics file (`metrics_file`, `--metrics-file`): written after every
//! check and update, valid for `promtool check metrics`, and right after a check, an
//! update and a rolled-back update. Real engine, real registry, real promtool.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::harness::{Container, Dum, Image, Pushed, registry};
use serde_json::json;

/// Runs forever, exits at once on SIGTERM.
const SERVE: &[&str] = &[
    "sh",
    "-c",
    "echo up; trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done",
];

/// v1 serves; v2 either serves too or exits at once (its update is rolled back).
fn versions(name: &str, v2_works: bool) -> (Image<'static>, Pushed) {
    let image = Image::new(registry::anon(), name);
    let v1 = image.clone().version("1.0.0").cmd(SERVE).build_and_push();
    let v2_cmd: &[&str] = if v2_works {
        SERVE
    } else {
        &["sh", "-c", "echo boom; exit 3"]
    };
    image
        .clone()
        .version("2.0.0")
        .cmd(v2_cmd)
        .keep_local(false)
        .build_and_push();
    (image, v1)
}

/// An installation watching `image`, writing its metrics to `metrics/dum.prom` beside
/// the configuration (a relative `metrics_file`).
fn dum_for(image: &Image) -> Dum {
    let dum = Dum::new().config_json(json!({
        "metrics_file": "metrics/dum.prom",
        "images": [{
            "image": image.name(), "regex": "^[0-9]+\\.[0-9]+\\.[0-9]+$",
            "auto_update": true, "grace_seconds": 2, "health_timeout_seconds": 20,
        }],
    }));
    std::fs::create_dir(dum.dir().join("metrics")).unwrap();
    dum
}

/// `promtool check metrics < path` must pass without a word; the samples by series.
fn metrics(path: &Path) -> BTreeMap<String, f64> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no metrics file {}: {e}", path.display()));
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(path).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("promtool (package prometheus) is needed; scripts/test installs it");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}\n{}{}\n{text}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_string(), value.parse().unwrap())
        })
        .collect()
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as f64
}

/// The value of `series`, which must be there.
fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
}

/// `command`'s last run: finished within `[since, now]`, with this success.
fn assert_last_run(samples: &BTreeMap<String, f64>, command: &str, since: f64, success: bool) {
    let at = value(
        samples,
        &format!("dum_last_run_timestamp_seconds{{command=\"{command}\"}}"),
    );
    assert!(
        since <= at && at <= now(),
        "{command} at {at}, since {since}"
    );
    let ok = value(
        samples,
        &format!("dum_last_run_success{{command=\"{command}\"}}"),
    );
    assert_eq!(ok, f64::from(u8::from(success)), "{command} success");
    let took = value(
        samples,
        &format!("dum_run_duration_seconds{{command=\"{command}\"}}"),
    );
    assert!((0.0..120.0).contains(&took), "{command} took {took}");
}

fn updates(samples: &BTreeMap<String, f64>) -> Vec<(String, f64)> {
    ["blocked", "failed", "rolled_back", "updated"]
        .iter()
        .map(|r| {
            let n = value(samples, &format!("dum_updates_total{{result=\"{r}\"}}"));
            (r.to_string(), n)
        })
        .collect()
}

fn counts(updated: f64, rolled_back: f64) -> Vec<(String, f64)> {
    vec![
        ("blocked".into(), 0.0),
        ("failed".into(), 0.0),
        ("rolled_back".into(), rolled_back),
        ("updated".into(), updated),
    ]
}

#[test]
fn a_check_then_an_update_are_in_the_metrics_and_both_runs_stay() {
    let (image, v1) = versions("metrics-ok", true);
    let c = Container::run("metrics-ok", &v1.reference, &[]);
    let dum = dum_for(&image);
    let path = dum.dir().join("metrics/dum.prom");
    let name = image.name();
    let available = format!(
        "dum_update_available{{image=\"{name}\",container=\"{}\"}}",
        c.name()
    );
    let info = |current: &str| {
        format!(
            "dum_image_info{{image=\"{name}\",container=\"{}\",current_version=\"{current}\",latest_version=\"2.0.0\"}}",
            c.name()
        )
    };

    let before_check = now();
    dum.run(&["check"]).assert_code(100);
    let samples = metrics(&path);
    assert_eq!(value(&samples, &available), 1.0, "{samples:#?}");
    assert_eq!(value(&samples, &info("1.0.0")), 1.0);
    assert_last_run(&samples, "check", before_check, true);
    assert!(!samples.keys().any(|k| k.contains("command=\"update\"")));
    assert_eq!(updates(&samples), counts(0.0, 0.0), "every result at 0");

    let before_update = now();
    dum.run(&["update"]).assert_code(101);
    let samples = metrics(&path);
    assert_eq!(value(&samples, &available), 0.0, "{samples:#?}");
    assert_eq!(value(&samples, &info("2.0.0")), 1.0);
    assert!(
        !samples.contains_key(&info("1.0.0")),
        "one info per container"
    );
    assert_last_run(&samples, "update", before_update, true);
    // The update rewrote the file without erasing the check's run.
    assert_last_run(&samples, "check", before_check, true);
    assert!(
        value(
            &samples,
            "dum_last_run_timestamp_seconds{command=\"check\"}"
        ) <= before_update
    );
    assert_eq!(updates(&samples), counts(1.0, 0.0));

    // And a check keeps the update's run and its counters.
    let before_recheck = now();
    dum.run(&["check"]).assert_code(0);
    let samples = metrics(&path);
    assert_last_run(&samples, "check", before_recheck, true);
    assert_last_run(&samples, "update", before_update, true);
    assert_eq!(updates(&samples), counts(1.0, 0.0));
    assert_eq!(value(&samples, &available), 0.0);
}

#[test]
fn a_rolled_back_update_is_counted_and_fails_the_run() {
    let (image, v1) = versions("metrics-rb", false);
    let c = Container::run("metrics-rb", &v1.reference, &[]);
    let dum = dum_for(&image);
    let path = dum.dir().join("metrics/dum.prom");
    let before = now();
    let out = dum.run(&["update"]);
    out.assert_code(1);
    assert!(out.stdout.contains("ROLLED BACK"), "{out:?}");
    let samples = metrics(&path);
    assert_eq!(updates(&samples), counts(0.0, 1.0), "{samples:#?}");
    assert_last_run(&samples, "update", before, false);
    let available = format!(
        "dum_update_available{{image=\"{}\",container=\"{}\"}}",
        image.name(),
        c.name()
    );
    assert_eq!(value(&samples, &available), 1.0, "still pending");
    // The counter counts across runs.
    dum.run(&["update"]).assert_code(1);
    assert_eq!(updates(&metrics(&path)), counts(0.0, 2.0));
}

#[test]
fn a_metrics_file_that_cannot_be_written_is_only_a_warning() {
    let dum = Dum::new().config_json(json!({"images": []}));
    let missing = dum.dir().join("no-such-dir/dum.prom");
    let directory = dum.dir().join("a-directory");
    std::fs::create_dir(&directory).unwrap();
    for target in [&missing, &directory] {
        let flag = target.to_str().unwrap();
        for command in ["check", "update"] {
            let out = dum.run(&[command, "--metrics-file", flag]);
            out.assert_code(0)
                .assert_stderr_contains("cannot write the metrics file");
        }
    }
    assert!(!missing.parent().unwrap().exists());
    assert_eq!(std::fs::read_dir(&directory).unwrap().count(), 0);
    // The flag overrides the configuration's file; a dry run writes neither.
    let configured = dum.dir().join("configured.prom");
    let flagged = dum.dir().join("flagged.prom");
    dum.write_config(&json!({"images": [], "metrics_file": configured}));
    let flag = flagged.to_str().unwrap();
    dum.run(&["check", "--dry-run", "--metrics-file", flag])
        .assert_code(0);
    dum.run(&["update", "--dry-run"]).assert_code(0);
    assert!(!configured.exists() && !flagged.exists());
    dum.run(&["check", "--metrics-file", flag]).assert_code(0);
    assert!(!configured.exists());
    assert_last_run(&metrics(&flagged), "check", 0.0, true);
    dum.run(&["update"]).assert_code(0);
    assert_last_run(&metrics(&configured), "update", 0.0, true);
}

/// A P-256 public key nothing in the test registry is signed with.
const UNUSED_KEY: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEjChyZ3k/V7bPcqScayXcXJImftPb\nVCuwvHPXQ+rKidLC8oYPlrD1C78wOf4mnQKC+L13++3r2bylP7wyxn3CKQ==\n-----END PUBLIC KEY-----\n";

#[test]
fn an_update_a_policy_blocks_is_counted_as_blocked() {
    let (image, v1) = versions("metrics-blk", true);
    let c = Container::run("metrics-blk", &v1.reference, &[]);
    let dum = dum_for(&image);
    std::fs::write(dum.dir().join("cosign.pub"), UNUSED_KEY).unwrap();
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dum.config_path()).unwrap()).unwrap();
    config["images"][0]["cosign_key"] = json!("cosign.pub");
    dum.write_config(&config);
    let path = dum.dir().join("metrics/dum.prom");
    let before = now();
    let out = dum.run(&["update"]);
    out.assert_code(1).assert_stdout_contains("blocked: ");
    let samples = metrics(&path);
    assert_eq!(
        updates(&samples),
        vec![
            ("blocked".into(), 1.0),
            ("failed".into(), 0.0),
            ("rolled_back".into(), 0.0),
            ("updated".into(), 0.0),
        ]
    );
    assert_last_run(&samples, "update", before, false);
    let available = format!(
        "dum_update_available{{image=\"{}\",container=\"{}\"}}",
        image.name(),
        c.name()
    );
    assert_eq!(value(&samples, &available), 1.0, "still pending");
}
