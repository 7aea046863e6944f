//! The Prometheus metrics of dum's runs, in node_exporter's textfile-collector format:
//! what a run adds to the state's memory of them ([`record`]) and the file's text
//! ([`render`]). Pure: `command/` writes the file.
//!
//! The file is rewritten by every `check` and `update`, yet describes both: the last run
//! of each command, the update counters, and one row per image and container as the
//! latest run that saw it left it. An untargeted `dum check` sees every row there is,
//! so it drops the rows of containers that went away; any other run (targets, or an
//! update, which only checks `auto_update` images) replaces the rows it saw and keeps
//! the rest.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt::Write;

use crate::check::{ImageReport, Status};
use crate::output::short_digest;
use crate::store::state::{LastRun, Metrics, MetricsRow};

/// The results `dum_updates_total` always has a series for (0 until the first), so
/// `increase()` sees the first one. `dum update` reports each attempt as one of them:
/// the new container runs (`updated`), it failed verification and the old one runs
/// again (`rolled_back`), nothing changed or the old one could not be restored
/// (`failed`), or a policy refused the candidate (`blocked`: an unverified signature).
pub const RESULTS: &[&str] = &["updated", "rolled_back", "failed", "blocked"];

/// One finished run, as the metrics see it.
#[derive(Debug, Clone)]
pub struct Run<'a> {
    /// `check` or `update`.
    pub command: &'a str,
    /// Whether the run saw every row there is (an untargeted `dum check`): the rows
    /// it did not see are dropped.
    pub complete: bool,
    /// When it finished, in seconds since the Unix epoch.
    pub finished: i64,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// Whether it succeeded (its exit code is not 1).
    pub success: bool,
    /// Its rows.
    pub rows: &'a [ImageReport],
    /// One result (of [`RESULTS`]) per update attempt.
    pub results: &'a [&'a str],
}

type Key = (String, Option<String>);

fn key(row: &MetricsRow) -> Key {
    (row.image.clone(), row.container.clone())
}

/// Adds `run` to what the metrics remember.
pub fn record(metrics: &mut Metrics, run: &Run) {
    metrics.runs.insert(
        run.command.to_string(),
        LastRun {
            finished: run.finished,
            success: run.success,
            duration_ms: run.duration_ms,
        },
    );
    for result in RESULTS.iter().chain(run.results) {
        metrics.updates.entry((*result).to_string()).or_insert(0);
    }
    for result in run.results {
        if let Some(n) = metrics.updates.get_mut(*result) {
            *n = n.saturating_add(1);
        }
    }
    let old: BTreeMap<Key, MetricsRow> = std::mem::take(&mut metrics.rows)
        .into_iter()
        .map(|r| (key(&r), r))
        .collect();
    let mut seen: BTreeMap<Key, MetricsRow> = BTreeMap::new();
    for report in run.rows {
        let row = MetricsRow {
            image: report.image.clone(),
            container: report.container.clone(),
            current_version: shown(&report.current_version, &report.current_digest),
            latest_version: shown(&report.latest_version, &report.latest_digest),
            update_available: (report.status != Status::Failed)
                .then_some(report.status == Status::UpdateAvailable),
        };
        // A failed check (a registry hiccup) keeps what was known, as the state does.
        let row = match (report.status, old.get(&key(&row))) {
            (Status::Failed, Some(known)) => known.clone(),
            _ => row,
        };
        match seen.entry(key(&row)) {
            Entry::Vacant(e) => {
                e.insert(row);
            }
            // One series per image and container: a Swarm service named like a
            // container of the same image shares it, and a pending update wins.
            Entry::Occupied(mut e) => {
                if row.update_available == Some(true) {
                    e.insert(row);
                }
            }
        }
    }
    let mut rows = if run.complete { BTreeMap::new() } else { old };
    rows.extend(seen);
    metrics.rows = rows.into_values().collect();
}

/// A version, else the short digest as the table shows it.
fn shown(version: &Option<String>, digest: &Option<String>) -> Option<String> {
    version
        .clone()
        .or_else(|| digest.as_deref().map(short_digest))
}

/// One sample: its label pairs and its value.
type Sample<'a> = (Vec<(&'static str, &'a str)>, String);

/// The metrics file: every family with its HELP and TYPE lines, samples sorted by
/// their labels, so two renderings of the same metrics are byte-identical.
pub fn render(metrics: &Metrics) -> String {
    let mut out = String::new();
    let container = |r: &'_ MetricsRow| r.container.as_deref().unwrap_or("").to_owned();
    let containers: Vec<String> = metrics.rows.iter().map(container).collect();
    let rows: Vec<(&MetricsRow, &str)> = metrics
        .rows
        .iter()
        .zip(containers.iter().map(String::as_str))
        .collect();
    family(
        &mut out,
        "dum_update_available",
        "gauge",
        "Whether a newer version of the image than the one the container runs is available (1) or not (0), as the latest run that checked it saw it. container is empty for an image no container runs.",
        rows.iter()
            .filter_map(|(r, c)| {
                r.update_available.map(|a| {
                    (
                        vec![("image", r.image.as_str()), ("container", *c)],
                        u8::from(a).to_string(),
                    )
                })
            })
            .collect(),
    );
    family(
        &mut out,
        "dum_image_info",
        "gauge",
        "The version each container runs and the newest one its registry offers (a short digest for images tracked without a version regex); always 1.",
        rows.iter()
            .map(|(r, c)| {
                (
                    vec![
                        ("image", r.image.as_str()),
                        ("container", *c),
                        (
                            "current_version",
                            r.current_version.as_deref().unwrap_or(""),
                        ),
                        ("latest_version", r.latest_version.as_deref().unwrap_or("")),
                    ],
                    "1".to_string(),
                )
            })
            .collect(),
    );
    let runs = |value: fn(&LastRun) -> String| -> Vec<Sample<'_>> {
        metrics
            .runs
            .iter()
            .map(|(command, run)| (vec![("command", command.as_str())], value(run)))
            .collect()
    };
    family(
        &mut out,
        "dum_last_run_timestamp_seconds",
        "gauge",
        "When the last run of the command finished, in seconds since the Unix epoch.",
        runs(|r| r.finished.to_string()),
    );
    family(
        &mut out,
        "dum_last_run_success",
        "gauge",
        "Whether the last run of the command succeeded (1) or failed (0: exit code 1).",
        runs(|r| u8::from(r.success).to_string()),
    );
    family(
        &mut out,
        "dum_run_duration_seconds",
        "gauge",
        "How long the last run of the command took, in seconds.",
        runs(|r| format!("{}.{:03}", r.duration_ms / 1000, r.duration_ms % 1000)),
    );
    family(
        &mut out,
        "dum_updates_total",
        "counter",
        "Update attempts by result (updated, rolled_back, failed, blocked), counted across runs.",
        metrics
            .updates
            .iter()
            .map(|(result, n)| (vec![("result", result.as_str())], n.to_string()))
            .collect(),
    );
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str, mut samples: Vec<Sample>) {
    samples.sort();
    samples.dedup_by(|a, b| a.0 == b.0);
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
            .collect();
        let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
    }
}

/// A label value as the text format requires: backslash, double quote and line feed
/// escaped.
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A HELP text as the text format requires: backslash and line feed escaped.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn report(image: &str, container: Option<&str>, status: Status) -> ImageReport {
        ImageReport {
            image: image.into(),
            container: container.map(str::to_string),
            current_version: Some("1.0.0".into()),
            current_digest: None,
            latest_version: Some("1.1.0".into()),
            latest_digest: None,
            base_tag: "latest".into(),
            base_tag_version: None,
            base_tag_digest: None,
            status,
            note: None,
            error: None,
            managed_by: None,
            tag: None,
            compose: None,
            pinned: None,
            release_notes: None,
            service: None,
            hold: crate::check::Hold::default(),
            signature: None,
        }
    }

    fn mrow(image: &str, container: Option<&str>, available: Option<bool>) -> MetricsRow {
        MetricsRow {
            image: image.into(),
            container: container.map(str::to_string),
            current_version: Some("1.0.0".into()),
            latest_version: Some("1.1.0".into()),
            update_available: available,
        }
    }

    fn run<'a>(
        command: &'a str,
        complete: bool,
        rows: &'a [ImageReport],
        results: &'a [&'a str],
    ) -> Run<'a> {
        Run {
            command,
            complete,
            finished: 1_800_000_000,
            duration_ms: 1234,
            success: true,
            rows,
            results,
        }
    }

    #[test]
    fn escaping() {
        let cases: &[(&str, &str)] = &[
            ("plain", "plain"),
            ("back\\slash", "back\\\\slash"),
            ("a \"quote\"", "a \\\"quote\\\""),
            ("two\nlines", "two\\nlines"),
            ("\\\"\n", "\\\\\\\"\\n"),
            ("ünïcode", "ünïcode"),
            ("", ""),
        ];
        for (value, want) in cases {
            assert_eq!(escape_label(value), *want, "{value:?}");
        }
        assert_eq!(escape_help("a\\b\n\"c\""), "a\\\\b\\n\"c\"");
    }

    #[test]
    fn rendering_is_sorted_escaped_and_complete() {
        let metrics = Metrics {
            runs: [
                (
                    "update".to_string(),
                    LastRun {
                        finished: 1_800_000_100,
                        success: false,
                        duration_ms: 65_007,
                    },
                ),
                (
                    "check".to_string(),
                    LastRun {
                        finished: 1_800_000_000,
                        success: true,
                        duration_ms: 250,
                    },
                ),
            ]
            .into(),
            updates: [("updated".to_string(), 3), ("failed".to_string(), 0)].into(),
            rows: vec![
                mrow("z/img", Some("web"), Some(false)),
                MetricsRow {
                    current_version: Some("v\"1\\\n".into()),
                    latest_version: None,
                    ..mrow("a/img", None, None)
                },
                mrow("a/img", Some("b"), Some(true)),
            ],
        };
        let want = r#"# HELP dum_update_available Whether a newer version of the image than the one the container runs is available (1) or not (0), as the latest run that checked it saw it. container is empty for an image no container runs.
# TYPE dum_update_available gauge
dum_update_available{image="a/img",container="b"} 1
dum_update_available{image="z/img",container="web"} 0
# HELP dum_image_info The version each container runs and the newest one its registry offers (a short digest for images tracked without a version regex); always 1.
# TYPE dum_image_info gauge
dum_image_info{image="a/img",container="",current_version="v\"1\\\n",latest_version=""} 1
dum_image_info{image="a/img",container="b",current_version="1.0.0",latest_version="1.1.0"} 1
dum_image_info{image="z/img",container="web",current_version="1.0.0",latest_version="1.1.0"} 1
# HELP dum_last_run_timestamp_seconds When the last run of the command finished, in seconds since the Unix epoch.
# TYPE dum_last_run_timestamp_seconds gauge
dum_last_run_timestamp_seconds{command="check"} 1800000000
dum_last_run_timestamp_seconds{command="update"} 1800000100
# HELP dum_last_run_success Whether the last run of the command succeeded (1) or failed (0: exit code 1).
# TYPE dum_last_run_success gauge
dum_last_run_success{command="check"} 1
dum_last_run_success{command="update"} 0
# HELP dum_run_duration_seconds How long the last run of the command took, in seconds.
# TYPE dum_run_duration_seconds gauge
dum_run_duration_seconds{command="check"} 0.250
dum_run_duration_seconds{command="update"} 65.007
# HELP dum_updates_total Update attempts by result (updated, rolled_back, failed, blocked), counted across runs.
# TYPE dum_updates_total counter
dum_updates_total{result="failed"} 0
dum_updates_total{result="updated"} 3
"#;
        assert_eq!(render(&metrics), want);
        assert_eq!(render(&metrics), render(&metrics.clone()), "stable");
    }

    #[test]
    fn nothing_recorded_renders_headers_only() {
        let text = render(&Metrics::default());
        assert_eq!(text.lines().count(), 12, "{text}");
        assert!(text.lines().all(|l| l.starts_with("# ")), "{text}");
    }

    #[test]
    fn runs_and_counters() {
        let mut metrics = Metrics::default();
        record(&mut metrics, &run("check", true, &[], &[]));
        assert_eq!(
            metrics.updates,
            RESULTS.iter().map(|r| (r.to_string(), 0)).collect(),
            "every result starts at 0"
        );
        let mut failed = run("update", false, &[], &["updated", "rolled_back", "updated"]);
        failed.success = false;
        failed.finished += 60;
        record(&mut metrics, &failed);
        record(&mut metrics, &run("update", false, &[], &["blocked"]));
        let counts: Vec<(&str, u64)> = metrics
            .updates
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(
            counts,
            [
                ("blocked", 1),
                ("failed", 0),
                ("rolled_back", 1),
                ("updated", 2)
            ]
        );
        // Each command keeps its own last run.
        assert_eq!(metrics.runs.len(), 2);
        assert!(metrics.runs["check"].success);
        assert_eq!(
            metrics.runs["update"].finished, 1_800_000_000,
            "the last one"
        );
        assert!(metrics.runs["update"].success);
    }

    #[test]
    fn rows_per_run() {
        use crate::check::Status::*;
        struct Case {
            name: &'static str,
            before: Vec<MetricsRow>,
            complete: bool,
            rows: Vec<ImageReport>,
            want: Vec<MetricsRow>,
        }
        let cases = vec![
            Case {
                name: "a complete check drops rows it did not see",
                before: vec![mrow("gone", Some("old"), Some(true))],
                complete: true,
                rows: vec![report("i", Some("c"), UpdateAvailable)],
                want: vec![mrow("i", Some("c"), Some(true))],
            },
            Case {
                name: "a partial run replaces what it saw and keeps the rest",
                before: vec![
                    mrow("i", Some("c"), Some(true)),
                    mrow("j", Some("d"), Some(true)),
                ],
                complete: false,
                rows: vec![report("i", Some("c"), UpToDate)],
                want: vec![
                    mrow("i", Some("c"), Some(false)),
                    mrow("j", Some("d"), Some(true)),
                ],
            },
            Case {
                name: "a failed row keeps what was known",
                before: vec![mrow("i", Some("c"), Some(true))],
                complete: true,
                rows: vec![report("i", Some("c"), Failed)],
                want: vec![mrow("i", Some("c"), Some(true))],
            },
            Case {
                name: "a failed row without knowledge has no availability",
                before: vec![],
                complete: true,
                rows: vec![report("i", Some("c"), Failed)],
                want: vec![mrow("i", Some("c"), None)],
            },
            Case {
                name: "held, not running: nothing to apply",
                before: vec![],
                complete: true,
                rows: vec![report("i", Some("c"), Held), report("i", None, NotRunning)],
                want: vec![
                    mrow("i", None, Some(false)),
                    mrow("i", Some("c"), Some(false)),
                ],
            },
            Case {
                name: "one series per image and container, a pending update wins",
                before: vec![],
                complete: true,
                rows: vec![
                    report("i", Some("web"), UpToDate),
                    report("i", Some("web"), UpdateAvailable),
                    report("i", Some("web"), UpToDate),
                ],
                want: vec![mrow("i", Some("web"), Some(true))],
            },
        ];
        for case in cases {
            let mut metrics = Metrics {
                rows: case.before,
                ..Metrics::default()
            };
            record(&mut metrics, &run("check", case.complete, &case.rows, &[]));
            assert_eq!(metrics.rows, case.want, "{}", case.name);
        }
    }

    #[test]
    fn versions_fall_back_to_short_digests() {
        let mut row = report("i", Some("c"), Status::UpdateAvailable);
        row.current_version = None;
        row.current_digest = Some(format!("sha256:{}", "a".repeat(64)));
        row.latest_version = None;
        row.latest_digest = None;
        let mut metrics = Metrics::default();
        record(&mut metrics, &run("check", true, &[row], &[]));
        assert_eq!(
            metrics.rows[0].current_version.as_deref(),
            Some("@aaaaaaaaaaaa")
        );
        assert_eq!(metrics.rows[0].latest_version, None);
    }
}
